"""What a run's answers mean for each chat stream's progress: pure, no I/O, no logging.

`chat_rooms` reads each room once for both chat streams, and each keeps its own progress
(`ChatMark`). Here: which units are due, which streams a day is for, and what a day's list and
rooms, or a room asked again, change in each stream's progress.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tap_happytalk.progress import Kind, Unit, Why
from tap_happytalk.streams import open_rooms
from tap_happytalk.streams.room_list import ListedDay

if TYPE_CHECKING:
    import datetime as dt

    from tap_happytalk.progress import Bounds
    from tap_happytalk.streams.chat_state import ChatMark
    from tap_happytalk.streams.room_list import PointInList
    from tap_happytalk.streams.unit_failures import UnitFailed
    from tap_happytalk.windows import DayWindow


@dataclass
class Day:
    """One day's work: its window, whether it is one asked again, and what came of it."""

    window: DayWindow
    unit: Unit
    again: bool
    listed: ListedDay | UnitFailed | None = None
    # Where its start stands in its list, as a run that stopped there saw it: read on from it.
    resume: PointInList | None = None
    read: list[dict[str, Any]] = field(default_factory=list)  # rooms read, as records
    vanished: list[Unit] = field(default_factory=list)  # rooms HappyTalk did not know
    failed: list[Unit] = field(default_factory=list)  # rooms that kept failing

    def not_yet_done(self, listed: list[Unit]) -> list[Unit]:
        """Of the day's listed rooms, those neither read, nor missed, nor failed yet."""
        done = {unit.key for unit in (*self.failed, *self.vanished)}
        done |= {open_rooms.room_unit(record).key for record in self.read}
        return [unit for unit in listed if unit.key not in done]


@dataclass
class ChatProgress:
    """The progress of each selected chat stream, as one run moves it."""

    marks: list[ChatMark]
    bounds: Bounds
    # Rooms read for a day that were not settled but opened `open_for` or more ago: sent as
    # they were, never read again. Their ids, for the run's last line.
    too_old: set[str] = field(default_factory=set)

    def due(self, now: dt.datetime, before: dt.datetime) -> tuple[list[Unit], list[Unit]]:
        """The rooms and the days to ask again now, each once, oldest first.

        A unit due in both streams is asked once; those from `before` on are read with their
        day instead.
        """
        due = {
            pending.unit.key: pending.unit
            for mark in self.marks
            for pending in mark.progress.due(now, self.bounds)
            if pending.unit.start < before
        }
        units = sorted(due.values())
        return (
            [unit for unit in units if unit.kind is Kind.ROOM],
            [unit for unit in units if unit.kind is Kind.WINDOW],
        )

    def rooms_held(self) -> int:
        """How many rooms the streams hold to ask again, each counted once."""
        return len(
            {
                pending.unit.key
                for mark in self.marks
                for pending in mark.progress.pending()
                if pending.unit.kind is Kind.ROOM
            }
        )

    # --- a room asked again ---------------------------------------------------------------

    def room_read_again(self, record: dict[str, Any], now: dt.datetime) -> None:
        """A room asked again came: every stream holding it takes it in."""
        for mark in self.marks:
            open_rooms.observe(mark.progress, record, now, self.bounds, track=False)

    def room_missed_again(self, unit: Unit, now: dt.datetime) -> bool:
        """HappyTalk did not know a room asked again: was it given up (missing twice)?"""
        # Every stream's progress takes the miss in: no short cut once one gives it up.
        left = [
            open_rooms.missed(mark.progress, unit, now, self.bounds, track=False)
            for mark in self.marks
        ]
        return any(left)

    def room_failed_again(self, unit: Unit, now: dt.datetime) -> None:
        """A room asked again kept failing: one more try in every stream holding it."""
        for mark in self.marks:
            if mark.progress.get(unit) is not None:
                mark.progress.set_aside(unit, Why.FAILED, now, bounds=self.bounds)

    # --- a day ----------------------------------------------------------------------------

    def streams_of(self, day: Day) -> list[ChatMark]:
        """The streams a day is for: reading it for the first time, or asking it again."""
        if day.again:
            return [mark for mark in self.marks if mark.progress.get(day.unit) is not None]
        return [mark for mark in self.marks if mark.is_new(day.unit.start)]

    def day_failed(self, day: Day, now: dt.datetime) -> None:
        """A day's list kept failing: set aside in the streams it is for."""
        for mark in self.streams_of(day):
            mark.progress.set_aside(day.unit, Why.FAILED, now, bounds=self.bounds)

    def day_read(self, day: Day, listed: ListedDay, now: dt.datetime) -> None:
        """A day's list and rooms came: what they mean for every stream's progress.

        Rooms read join the progress of the streams the day is for while they may still change
        (within `open_for` of their opening); those HappyTalk did not know are asked again
        however old; those that kept failing are set aside; a list without data is asked
        again (`unconfirmed`), one more try.
        """
        ours = self.streams_of(day)
        tracking = self.bounds.open_for.total_seconds() > 0
        for record in day.read if ours else ():
            young = now - open_rooms.room_unit(record).start < self.bounds.open_for
            if not young and not open_rooms.settles(record, now, self.bounds):
                self.too_old.add(str(record["id"]))
        for mark in self.marks:
            mine = mark in ours
            if mine and listed.unconfirmed:
                mark.progress.set_aside(day.unit, Why.UNCONFIRMED, now, bounds=self.bounds)
            elif mine:
                mark.progress.settle(day.unit)
            for record in day.read:
                young = now - open_rooms.room_unit(record).start < self.bounds.open_for
                track = mine and tracking and young
                open_rooms.observe(mark.progress, record, now, self.bounds, track=track)
            for unit in day.vanished:
                open_rooms.missed(mark.progress, unit, now, self.bounds, track=mine)
            for unit in day.failed if mine else ():
                mark.progress.set_aside(unit, Why.FAILED, now, bounds=self.bounds)

    def find_resume_points(self, days: list[Day]) -> None:
        """Read each new day on from where its start stands in its list, if a stream knows it.

        That is the point of a stream that stopped inside the day (`Day.resume`).
        """
        for day in days:
            if not day.again:
                known = [m.point_in_list for m in self.marks if m.point == day.unit.start]
                day.resume = next((where for where in known if where is not None), None)

    def walked(self, day: Day) -> None:
        """A day of the walk is done: every stream's point moves past it.

        A stream whose point is now the day's end remembers where that stands in the day's
        list, when the list says (a point inside a day, read whole); otherwise it forgets.
        """
        if not day.again:
            end = day.unit.end or day.unit.start
            where = day.listed.point_after if isinstance(day.listed, ListedDay) else None
            for mark in self.marks:
                mark.progress.done(end)
                if mark.point == end:
                    mark.point_in_list = where
