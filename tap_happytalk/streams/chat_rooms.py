"""`chat_rooms`: every consultation room, by the day it was opened, read again until it settles.

A run plans its work from the progress of each selected chat stream (this one and its child
`chat_messages`, each with its own, see `tap_happytalk.progress`), then does it in order:
1. the rooms to ask again that are due (`open`, `missing`, `failed`), read again by id;
2. the days to ask again (`failed` or `unconfirmed` room lists), then the days from the
   earliest point on: each day's list (`room_list`), then each room opened in it by id,
   `max_concurrent_requests` at a time, oldest first.
Every room read is sent with its messages (the child's records come just before it). A room
or a day's list that keeps failing is set aside in the progress and the run goes on. After
step 1 and after each day, each stream's progress moves on and STATE is written, so a run
stopped anywhere resumes from its last whole day.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from tap_happytalk.answers import NOT_FOUND, UNAUTHORIZED, room_data
from tap_happytalk.endpoints import ROOM_DATA
from tap_happytalk.errors import (
    HappyTalkRefusedError,
    HappyTalkResponseError,
    HappyTalkUnavailableError,
    redact,
)
from tap_happytalk.ordered_pool import map_in_order
from tap_happytalk.progress import Kind, Unit, Why
from tap_happytalk.records import RowConverter
from tap_happytalk.streams import open_rooms
from tap_happytalk.streams.base import HappyTalkStream
from tap_happytalk.streams.chat_schemas import ROOM_SCHEMA
from tap_happytalk.streams.chat_state import REPLICATION_KEY, read_mark
from tap_happytalk.streams.room_list import ListedDay, list_rooms
from tap_happytalk.streams.unit_failures import (
    FAILED_IN_A_ROW,
    FailureStreak,
    UnitFailed,
    unit_failure,
)
from tap_happytalk.windows import API_FORMAT, DayWindow, to_instant, to_wall_clock

if TYPE_CHECKING:
    from collections.abc import Generator, Iterable, Iterator

    from singer_sdk import Stream, Tap
    from singer_sdk.helpers.types import Context

    from tap_happytalk.errors import TapHappyTalkError
    from tap_happytalk.progress import Bounds
    from tap_happytalk.streams.chat_state import ChatMark
    from tap_happytalk.transport import HappyTalkClient

logger = logging.getLogger(__name__)

# Days whose room lists are fetched ahead of the rooms being read; their requests share the
# run's pacer with the room requests, so this adds no load, only keeps the pool busy.
LISTS_AHEAD = 2
# Rooms read again between two STATEs, so that a run stopped in a long list redoes little.
CHECKPOINT_ROOMS = 500
# A room and its messages; None: HappyTalk did not know it (-503); or the failure.
RoomAnswer = tuple[dict[str, Any], list[dict[str, Any]]] | None | UnitFailed
DayList = ListedDay | UnitFailed


@dataclass
class _Day:
    """One day's work: its window, whether it is one asked again, and what came of it."""

    window: DayWindow
    unit: Unit
    again: bool
    listed: DayList | None = None
    read: list[dict[str, Any]] = field(default_factory=list)
    vanished: list[Unit] = field(default_factory=list)
    failed: list[Unit] = field(default_factory=list)


@dataclass
class _Run:
    """What one sync of the chat streams carries from room to room."""

    marks: list[ChatMark]
    bounds: Bounds
    rooms: RowConverter
    messages: RowConverter
    streak: FailureStreak = field(default_factory=FailureStreak)


class ChatRoomsStream(HappyTalkStream):
    """Every consultation room, by the day it was opened; its messages go to `chat_messages`."""

    name = "chat_rooms"
    primary_keys = ("id",)
    replication_key = REPLICATION_KEY
    # Rooms read again come before the day's new ones: the records are not in bookmark order.
    is_sorted = False
    schema = ROOM_SCHEMA
    # Opt in: a run without a catalog extracts what it always did, service history alone.
    selected_by_default = False

    def __init__(self, tap: Tap) -> None:
        """Build the stream."""
        super().__init__(tap=tap)
        self._messages: dict[str, list[dict[str, Any]]] = {}

    def take_messages(self, room_id: str) -> list[dict[str, Any]]:
        """The messages of a room just emitted, for `chat_messages`; once."""
        return self._messages.pop(room_id, [])

    @property
    def _messages_stream(self) -> Stream | None:
        return next(iter(self.child_streams), None)

    @property
    def _messages_wanted(self) -> bool:
        return any(child.selected for child in self.child_streams)

    @override
    def generate_child_contexts(
        self, record: dict[str, Any], context: Context | None
    ) -> Iterable[Context | None]:
        """Each room hands its id to `chat_messages`."""
        return [{"room_id": record["id"]}] if self._messages_wanted else []

    # --- the plan --------------------------------------------------------------------------

    def _marks(self, now: dt.datetime) -> list[ChatMark]:
        """The progress of each selected chat stream, as this run starts."""
        zone = self.settings.zone
        streams: list[Stream] = [self] if self.selected else []
        child = self._messages_stream
        if child is not None and child.selected:
            streams.append(child)
        return [
            read_mark(stream.name, stream.get_context_state(None), zone, now) for stream in streams
        ]

    def _checkpoint(self, marks: list[ChatMark]) -> None:
        """Each stream's state as it now stands, then STATE: only after whole units of work."""
        for mark in marks:
            stream = self if mark.stream == self.name else self._messages_stream
            if stream is None:  # pragma: no cover - a mark is made only for a stream there is
                continue
            state = stream.get_context_state(None)
            state.clear()
            state.update(mark.to_state())
        self.state_manager.is_flushed = False
        self._write_state_message()

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """The rooms and days to ask again, then each new day's rooms; STATE after each."""
        settings = self.settings
        now = dt.datetime.now(dt.timezone.utc)
        marks = self._marks(now)
        if not marks:
            return
        points = [mark.point for mark in marks]
        walk_from = None if None in points else min(p for p in points if p is not None)
        start, _, windows = self._windows(walk_from, 24)
        run = _Run(
            marks,
            self.bounds,
            rooms=RowConverter(settings.zone, frozenset(ROOM_SCHEMA["properties"])),
            messages=RowConverter(settings.zone, frozenset(self._messages_schema()["properties"])),
        )
        for mark in marks:
            self._expire(mark.stream, mark.progress, now)
        due = {
            pending.unit.key: pending.unit
            for mark in marks
            for pending in mark.progress.due(now, run.bounds)
            if pending.unit.start < start  # later ones are read with their day
        }
        rooms = [unit for unit in due.values() if unit.kind is Kind.ROOM]
        days = [
            _Day(self._day_window(unit), unit, again=True)
            for unit in sorted(due.values())
            if unit.kind is Kind.WINDOW
        ]
        days += [_Day(window, self._window_unit(window), again=False) for window in windows]
        client = self._new_client(settings.chat_api_url)
        try:
            yield from self._read_again(client, run, rooms)
            if not self._stop_requested.is_set():
                self._checkpoint(run.marks)
            if days and not self._stop_requested.is_set():
                yield from self._read_days(client, run, days)
        except HappyTalkRefusedError as refused:
            if refused.code != UNAUTHORIZED:
                raise
            self.logger.warning(
                "%s; chat_rooms and chat_messages are skipped, and their state kept, until "
                "the token may read consultations (other streams are not affected)",
                refused,
            )
        except HappyTalkUnavailableError:
            if not self._stop_requested.is_set():
                raise
        finally:
            self._messages.clear()
            # The SDK ends the sync with a STATE (the last checkpoint's) unless the one it
            # wrote last is the same: then it writes none, and that one still says it.
            self.state_manager.is_flushed = False
            self._end_sync(client)
        self._report({mark.stream: mark.progress for mark in marks})

    def _messages_schema(self) -> dict[str, Any]:
        child = self._messages_stream
        return child.schema if child is not None else {"properties": {}}

    def _day_window(self, unit: Unit) -> DayWindow:
        zone = self.settings.zone
        end = unit.end if unit.end is not None else unit.start
        return DayWindow(to_wall_clock(unit.start, zone), to_wall_clock(end, zone))

    def _window_unit(self, window: DayWindow) -> Unit:
        zone = self.settings.zone
        return Unit.window(to_instant(window.start, zone), to_instant(window.end, zone))

    # --- 1. the rooms to ask again ---------------------------------------------------------

    def _read_again(
        self, client: HappyTalkClient, run: _Run, rooms: list[Unit]
    ) -> Iterator[dict[str, Any]]:
        """The due rooms as HappyTalk has them now, each taken in by every stream's progress."""
        if not rooms:
            return
        in_progress = {
            pending.unit.key
            for mark in run.marks
            for pending in mark.progress.pending()
            if pending.unit.kind is Kind.ROOM
        }
        self.logger.info("Rooms to ask again: reading %d (%d held)", len(rooms), len(in_progress))
        answers = map_in_order(
            lambda unit: self._ask_room(client, unit.id),
            sorted(rooms),
            self.settings.max_concurrent_requests,
            self._stop_requested,
        )
        missing = gone = 0
        try:
            for done, (unit, answer) in enumerate(answers, start=1):
                if self._stop_requested.is_set():
                    return  # the progress stays as the last STATE has it
                if done % CHECKPOINT_ROOMS == 0:
                    self._checkpoint(run.marks)  # a long list of rooms is not all redone
                if answer is None:
                    left = self._missed_again(run, unit)
                    gone += left
                    missing += not left
                elif (record := self._took_back(run, unit, answer)) is not None:
                    yield record
        finally:
            answers.close()
        if missing or gone:
            self.logger.warning(
                "Rooms to ask again: HappyTalk did not know %d of them (-503 room): %d are "
                "asked again next run (missing), %d were missing twice and are given up "
                "(each stays as last sent)",
                missing + gone,
                missing,
                gone,
            )

    def _missed_again(self, run: _Run, unit: Unit) -> bool:
        """HappyTalk did not know a room asked again: was it given up (missing twice)?"""
        now = dt.datetime.now(dt.timezone.utc)
        # Every stream's progress takes the miss in: no short cut once one gives it up.
        left = [
            open_rooms.missed(mark.progress, unit, now, run.bounds, track=False)
            for mark in run.marks
        ]
        return any(left)

    def _took_back(self, run: _Run, unit: Unit, answer: RoomAnswer) -> dict[str, Any] | None:
        """A room asked again, taken in by each stream's progress: its record, if it came."""
        now = dt.datetime.now(dt.timezone.utc)
        record = self._converted(run, answer, None)
        if isinstance(record, UnitFailed):
            self._failed(record)
            for mark in run.marks:
                if mark.progress.get(unit) is not None:
                    mark.progress.set_aside(unit, Why.FAILED, now, bounds=run.bounds)
            return None
        if record is None:  # pragma: no cover - `_missed_again` takes these
            return None
        for mark in run.marks:
            open_rooms.observe(mark.progress, record, now, run.bounds, track=False)
        return record

    def _converted(
        self, run: _Run, answer: RoomAnswer, listed: dict[str, Any] | None
    ) -> dict[str, Any] | UnitFailed | None:
        """A room's answer as its record, or its failure.

        A room whose records HappyTalk sent in a shape it does not document (a message without
        an id) is set aside as one that kept failing.
        """
        if answer is None or isinstance(answer, UnitFailed):
            return answer
        try:
            return self._record(run, answer, listed=listed)
        except HappyTalkResponseError as error:
            self._messages = {}
            return UnitFailed(self._redact(str(error)))

    # --- 2. the days -----------------------------------------------------------------------

    def _read_days(
        self, client: HappyTalkClient, run: _Run, days: list[_Day]
    ) -> Iterator[dict[str, Any]]:
        """Each day's rooms, oldest first, each with its data; then the day is done."""
        lists, answers = self._requests(client, days)
        try:
            for (day, room), answered in answers:
                if self._stop_requested.is_set():
                    return  # a day cut short is not done: the points stay before it
                if room is None:
                    if self._end_of_day(run, day):
                        return  # a streak of failures: HappyTalk looks down
                    continue
                answer = self._converted(run, answered, room)
                if answer is None:  # HappyTalk lost it: sent as listed, asked again
                    self._messages = {}  # none for the child: the room has none to give
                    answer = self._listed_or_failure(run, room)
                    if not isinstance(answer, UnitFailed):
                        day.vanished.append(open_rooms.room_unit(answer))
                elif not isinstance(answer, UnitFailed):
                    day.read.append(answer)
                if isinstance(answer, UnitFailed):
                    self._failed(answer)
                    day.failed.append(self._listed_unit(room))
                    if not day.again and run.streak.failed():
                        self._stop_for_streak(run, day)
                        return
                    continue
                run.streak.answered()
                yield answer
        finally:
            answers.close()
            lists.close()

    def _requests(
        self, client: HappyTalkClient, days: list[_Day]
    ) -> tuple[Generator[Any, None, None], Generator[Any, None, None]]:
        """Every day's room list, then each of its rooms' data and an end-of-day mark.

        Two ordered pools in a row, both held to the run's pacer: the lists a few days ahead,
        the rooms `max_concurrent_requests` at a time.
        """
        stop = self._stop_requested

        def ask_list(day: _Day) -> _Day:
            try:
                day.listed = list_rooms(client, day.window)
            except (HappyTalkUnavailableError, HappyTalkResponseError) as error:
                day.listed = self._unit_failed(client, error)
            return day

        lists = map_in_order(ask_list, days, LISTS_AHEAD, stop)

        def rooms_then_day_end() -> Iterator[tuple[_Day, dict[str, Any] | None]]:
            for day, _ in lists:
                if isinstance(day.listed, ListedDay):
                    for room in day.listed.rooms:
                        yield day, room
                yield day, None

        def ask(item: tuple[_Day, dict[str, Any] | None]) -> RoomAnswer:
            room = item[1]
            return None if room is None else self._ask_room(client, str(room["id"]))

        limit = self.settings.max_concurrent_requests
        return lists, map_in_order(ask, rooms_then_day_end(), limit, stop)

    @staticmethod
    def _unit_failed(client: HappyTalkClient, error: TapHappyTalkError) -> UnitFailed:
        failed = unit_failure(error, client)
        if failed is None:
            raise error
        return failed

    def _ask_room(self, client: HappyTalkClient, room_id: str) -> RoomAnswer:
        """A room and its messages as HappyTalk has them now.

        None if HappyTalk no longer knows it; the failure if it kept failing.
        """
        what = f"room {room_id}"
        try:
            return client.ask(
                ROOM_DATA,
                {"room_id": room_id},
                what,
                kind="room",
                read=lambda body: room_data(body, what, room_id),
            )
        except HappyTalkRefusedError as refused:
            if refused.code == NOT_FOUND:
                return None
            raise
        except HappyTalkUnavailableError as error:
            return self._unit_failed(client, error)

    def _failed(self, failed: UnitFailed) -> None:
        """A unit kept failing: say so, once."""
        self.logger.warning("%s; set aside, asked again next run", failed.problem)

    def _redact(self, text: str) -> str:
        return redact(text, self.settings.token.reveal())

    def _listed_unit(self, room: dict[str, Any]) -> Unit:
        """A listed room's unit, from its id and opening time alone.

        `room_list_page` checked both: a room whose other fields will not convert is still set
        aside by them.
        """
        opened = dt.datetime.strptime(room["reg_date"], API_FORMAT)  # noqa: DTZ007 - wall clock
        return Unit.room(str(room["id"]), to_instant(opened, self.settings.zone))

    def _listed_or_failure(self, run: _Run, room: dict[str, Any]) -> dict[str, Any] | UnitFailed:
        """The room's record as the list has it, or its failure if that will not convert."""
        try:
            return self._listed(run, room)
        except HappyTalkResponseError as error:
            return UnitFailed(self._redact(str(error)))

    def _stop_for_streak(self, run: _Run, day: _Day) -> None:
        """Rooms asked for the first time failed in a row: HappyTalk looks down.

        The day's rooms not read yet are set aside with those that failed, the day is done,
        and the stream stops for this run: the next one asks them again, then goes on.
        """
        self.logger.warning(
            "%s: %d rooms failed in a row: HappyTalk looks down; this stream stops here for "
            "this run, the rest of %s set aside, and the next run goes on from them",
            self.name,
            FAILED_IN_A_ROW,
            day.window,
        )
        listed = day.listed if isinstance(day.listed, ListedDay) else None
        handled = {unit.key for unit in (*day.failed, *day.vanished)}
        handled |= {open_rooms.room_unit(record).key for record in day.read}
        for room in listed.rooms if listed is not None else ():
            unit = self._listed_unit(room)
            if unit.key not in handled:
                day.failed.append(unit)
        self._end_of_day(run, day)

    def _listed(self, run: _Run, room: dict[str, Any]) -> dict[str, Any]:
        """The room's record as the list has it."""
        return _room_record(run.rooms, room, f"room {room['id']}")

    def _record(
        self,
        run: _Run,
        answer: tuple[dict[str, Any], list[dict[str, Any]]],
        *,
        listed: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """The room's record (as read, fresher than as listed); its messages wait for the child.

        Only the list has `last_message`: a room read again by id gets it from its messages.
        """
        chat, rows = answer
        ident = str(chat.get("id") or (listed or {}).get("id"))
        what = f"room {ident}"
        merged = {**(listed or {}), **{k: v for k, v in chat.items() if k != "last_message"}}
        if listed is None:
            merged["last_message"] = _last_message(rows)
        record = _room_record(run.rooms, {**merged, "id": ident}, what)
        messages: list[dict[str, Any]] = []
        if self._messages_wanted:
            messages = [
                run.messages.record(
                    {**row, "room_id": ident},
                    what,
                    required_time="send_date",
                    optional_times=("read_date",),
                )
                for row in rows
            ]
            messages.sort(key=lambda m: (m["send_date"], len(m["id"]), m["id"]))
        # The SDK syncs a room's children while it processes the room's record, before the
        # next one: by now the previous room's messages were taken, or never will be (a
        # stream map filtered that room out).
        self._messages = {ident: messages} if self._messages_wanted else {}
        self._extracted_at = dt.datetime.now(dt.timezone.utc)
        return record

    def _end_of_day(self, run: _Run, day: _Day) -> bool:
        """The day's rooms are all out: each stream's progress takes them in; STATE.

        Returns:
            Whether the stream stops here: a day's list failed, the last of a streak.
        """
        now = dt.datetime.now(dt.timezone.utc)
        bounds, listed = run.bounds, day.listed
        # The streams this day is for: those reading it for the first time, or asking again.
        marks = [
            mark
            for mark in run.marks
            if (day.again and mark.progress.get(day.unit) is not None)
            or (not day.again and mark.is_new(day.unit.start))
        ]
        streak_over = False
        if isinstance(listed, UnitFailed):
            self._failed(listed)
            for mark in marks:
                mark.progress.set_aside(day.unit, Why.FAILED, now, bounds=bounds)
            streak_over = not day.again and run.streak.failed()
        elif listed is not None:
            self._took_in(run, day, marks, listed, now)
        if not day.again:
            for mark in run.marks:
                mark.progress.done(day.unit.end or day.unit.start)
        self._checkpoint(run.marks)
        if isinstance(listed, ListedDay):
            self.logger.info(
                "Rooms of %s%s: %d (%d passes of its list)",
                day.window,
                " (asked again)" if day.again else "",
                len(listed.rooms),
                listed.passes,
            )
        if streak_over:
            self.logger.warning(
                "%s: %d days and rooms failed in a row: HappyTalk looks down; this stream stops "
                "here for this run, and the next run goes on from what was set aside",
                self.name,
                FAILED_IN_A_ROW,
            )
        return streak_over

    def _took_in(
        self, run: _Run, day: _Day, marks: list[ChatMark], listed: ListedDay, now: dt.datetime
    ) -> None:
        """What a day's list and rooms mean for each stream's progress."""
        bounds = run.bounds
        if listed.strays:
            self.logger.warning(
                "Rooms of %s: HappyTalk listed %d rooms opened on another day; left out, since "
                "the list of their own day carries them",
                day.window,
                listed.strays,
            )
        if day.vanished:
            self.logger.warning(
                "Rooms of %s: %d rooms were gone when read (-503 room); sent as listed, "
                "without messages, and asked again next run (missing)",
                day.window,
                len(day.vanished),
            )
        tracking = self.settings.open_room_recheck > dt.timedelta(0)
        for mark in run.marks:
            ours = mark in marks
            if ours and listed.unconfirmed:  # asked again: one more try, since kept
                mark.progress.set_aside(day.unit, Why.UNCONFIRMED, now, bounds=bounds)
            elif ours:
                mark.progress.settle(day.unit)
            for record in day.read:
                opened = open_rooms.room_unit(record).start
                young = now - opened < self.settings.open_room_recheck
                track = ours and tracking and young
                open_rooms.observe(mark.progress, record, now, bounds, track=track)
            for unit in day.vanished:  # asked again however old, as promised in the warning
                open_rooms.missed(mark.progress, unit, now, bounds, track=ours)
            if ours:
                for unit in day.failed:
                    mark.progress.set_aside(unit, Why.FAILED, now, bounds=bounds)


def _room_record(converter: RowConverter, room: dict[str, Any], what: str) -> dict[str, Any]:
    return converter.record(
        room,
        what,
        required_time="reg_date",
        optional_times=("complate_date",),
        string_lists=frozenset({"tags"}),
    )


def _last_message(rows: list[dict[str, Any]]) -> str | None:
    """The text of a room's last message, agent memos aside, as the room list gives it.

    None when that message has no text (HappyTalk's `null`), not the text 'None'.
    """
    said = [row for row in rows if row.get("type") != "M"]
    said.sort(
        key=lambda row: (str(row.get("send_date")), len(str(row.get("id"))), str(row.get("id")))
    )
    if not said:
        return ""
    contents = said[-1].get("contents")
    return None if contents is None else str(contents)
