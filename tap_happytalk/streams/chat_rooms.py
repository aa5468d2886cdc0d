"""`chat_rooms`: every consultation room, by the day it was opened, read again until it settles.

A run plans its work from the progress of each selected chat stream (this one and its child
`chat_messages`, each with its own, see `tap_happytalk.progress`), then does it in order:
1. the rooms to ask again that are due (`open`, `missing`, `failed`), read again by id;
2. the days to ask again (`failed` or `unconfirmed` room lists), then the days from the
   earliest point on: each day's list (`room_list`), then each room opened in it by id,
   `max_concurrent_requests` at a time, oldest first.
Every room read is sent with its messages (the child's records come just before it). A room
or a day's list that keeps failing is set aside and the run goes on. After step 1 and after
each day, each stream's progress moves on and STATE is written, so a run stopped anywhere
resumes from its last whole day.

Here: the plan, the order of the work, what is logged and when STATE is written. What is asked
of HappyTalk is `chat_requests`; what the answers mean for each stream's progress,
`chat_progress`; how they become records, `chat_records`.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from tap_happytalk.answers import UNAUTHORIZED
from tap_happytalk.errors import (
    HappyTalkRefusedError,
    HappyTalkResponseError,
    HappyTalkUnavailableError,
    redact,
)
from tap_happytalk.ordered_pool import map_in_order
from tap_happytalk.progress import Unit
from tap_happytalk.records import RowConverter
from tap_happytalk.streams import open_rooms
from tap_happytalk.streams.base import HappyTalkStream
from tap_happytalk.streams.chat_progress import ChatProgress, Day
from tap_happytalk.streams.chat_records import RoomRecords
from tap_happytalk.streams.chat_requests import RoomAnswer, ask_room, day_requests
from tap_happytalk.streams.chat_schemas import ROOM_SCHEMA
from tap_happytalk.streams.chat_state import REPLICATION_KEY, read_mark
from tap_happytalk.streams.room_list import ListedDay
from tap_happytalk.streams.unit_failures import FAILED_IN_A_ROW, FailureStreak, UnitFailed
from tap_happytalk.windows import DayWindow, to_instant, to_wall_clock

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from singer_sdk import Stream, Tap
    from singer_sdk.helpers.types import Context

    from tap_happytalk.progress_log import ProgressLog
    from tap_happytalk.streams.chat_state import ChatMark
    from tap_happytalk.transport import HappyTalkClient

logger = logging.getLogger(__name__)

# Rooms read again between two STATEs, so that a run stopped in a long list redoes little.
CHECKPOINT_ROOMS = 500


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
    _records: RoomRecords  # this run's: set when a sync begins
    _meter: ProgressLog  # this run's progress lines: set when a sync begins

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
        progress = ChatProgress(marks, self.bounds)
        for mark in marks:
            self._expire(mark.stream, mark.progress, now)
        rooms, again = progress.due(now, before=start)
        days = [Day(self._day_window(unit), unit, again=True) for unit in again]
        days += [Day(window, self._window_unit(window), again=False) for window in windows]
        progress.find_resume_points(days)
        self._records = RoomRecords(
            RowConverter(settings.zone, frozenset(ROOM_SCHEMA["properties"])),
            RowConverter(settings.zone, frozenset(self._messages_schema()["properties"])),
            settings.zone,
            with_messages=self._messages_wanted,
        )
        client = self._new_client(settings.chat_api_url)
        self._meter = self._progress_log([day.window.start.date() for day in days], client)
        try:
            yield from self._read_again(client, progress, rooms)
            if not self._stop_requested.is_set():
                self._checkpoint(marks)
            if days and not self._stop_requested.is_set():
                yield from self._read_days(client, progress, days)
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
            if days or rooms:
                self._meter.end()
            self._end_sync(client)
        self._say_too_old(progress)
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
        self, client: HappyTalkClient, progress: ChatProgress, rooms: list[Unit]
    ) -> Iterator[dict[str, Any]]:
        """The due rooms as HappyTalk has them now, each taken in by every stream's progress.

        Rooms asked again never count in a streak of failures: a few that keep failing must
        not stop the days after them.
        """
        if not rooms:
            return
        self.logger.info(
            "Rooms to ask again: reading %d (%d held)", len(rooms), progress.rooms_held()
        )
        answers = map_in_order(
            lambda unit: ask_room(client, unit.id),
            rooms,
            self.settings.max_concurrent_requests,
            self._stop_requested,
            client.allowed_in_flight,
        )
        missing = gone = 0
        try:
            for done, (unit, answer) in enumerate(answers, start=1):
                if self._stop_requested.is_set():
                    return  # the progress stays as the last STATE has it
                self._meter.tick()
                if done % CHECKPOINT_ROOMS == 0:
                    self._checkpoint(progress.marks)  # a long list of rooms is not all redone
                now = dt.datetime.now(dt.timezone.utc)
                record = self._converted(answer, None)
                if record is None:
                    left = progress.room_missed_again(unit, now)
                    gone += left
                    missing += not left
                elif isinstance(record, UnitFailed):
                    self._failed(record)
                    progress.room_failed_again(unit, now)
                else:
                    progress.room_read_again(record, now)
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

    # --- 2. the days -----------------------------------------------------------------------

    def _read_days(
        self, client: HappyTalkClient, progress: ChatProgress, days: list[Day]
    ) -> Iterator[dict[str, Any]]:
        """Each day's rooms, oldest first, each with its data; then the day is done."""
        streak = FailureStreak()
        limit = self.settings.max_concurrent_requests
        lists, answers = day_requests(client, days, limit, self._stop_requested)
        try:
            for (day, room), answered in answers:
                if self._stop_requested.is_set():
                    return  # a day cut short is not done: the points stay before it
                if room is None:
                    if self._end_of_day(progress, day, streak):
                        return  # a streak of failures: HappyTalk looks down
                    continue
                self._meter.tick()
                answer = self._converted(answered, room)
                if answer is None:  # HappyTalk lost it: sent as listed, asked again
                    answer = self._as_listed(room)
                    if not isinstance(answer, UnitFailed):
                        day.vanished.append(open_rooms.room_unit(answer))
                elif not isinstance(answer, UnitFailed):
                    day.read.append(answer)
                if isinstance(answer, UnitFailed):
                    self._failed(answer)
                    day.failed.append(self._records.listed_unit(room))
                    if not day.again and streak.failed():
                        self._stop_for_streak(progress, day, streak)
                        return
                    continue
                streak.answered()
                yield answer
        finally:
            answers.close()
            lists.close()

    def _end_of_day(self, progress: ChatProgress, day: Day, streak: FailureStreak) -> bool:
        """The day's rooms are all out: each stream's progress takes them in; STATE.

        Returns:
            Whether the stream stops here: a day's list failed, the last of a streak.
        """
        now = dt.datetime.now(dt.timezone.utc)
        listed, stop = day.listed, False
        if isinstance(listed, UnitFailed):
            self._failed(listed)
            progress.day_failed(day, now)
            stop = not day.again and streak.failed()
        elif listed is not None:
            self._say_what_was_odd(day, listed)
            progress.day_read(day, listed, now)
        progress.walked(day)
        self._checkpoint(progress.marks)
        if isinstance(listed, ListedDay):
            self.logger.debug(
                "Rooms of %s%s: %d (%s of its list, %d pages)",
                day.window,
                " (asked again)" if day.again else "",
                len(listed.rooms),
                "read on from the point"
                if listed.resumed
                else f"{listed.passes} {'pass' if listed.passes == 1 else 'passes'}",
                listed.requests,
            )
        self._meter.unit_done(day.window.start.date())
        if stop:
            self._say_streak(f"days and rooms, the last {day.window}")
        return stop

    def _stop_for_streak(self, progress: ChatProgress, day: Day, streak: FailureStreak) -> None:
        """Rooms asked for the first time failed in a row: HappyTalk looks down.

        The day's rooms not read yet are set aside with those that failed, the day is done,
        and the stream stops for this run: the next one asks them again, then goes on.
        """
        self._say_streak(f"rooms; the rest of {day.window} is set aside too")
        listed = day.listed.rooms if isinstance(day.listed, ListedDay) else []
        day.failed += day.not_yet_done([self._records.listed_unit(room) for room in listed])
        self._end_of_day(progress, day, streak)

    # --- what is said --------------------------------------------------------------------

    @override
    def _cost(self, windows: int) -> str:
        return (
            f"at least {windows:,} requests for the days' room lists, and one more for every "
            f"room{self._at_most_per_minute(windows)}"
        )

    def _say_too_old(self, progress: ChatProgress) -> None:
        """Rooms read unsettled but too old to be read again: how many, once a run."""
        if progress.too_old:
            self.logger.info(
                "%s: %s read %s still open (or closed and not yet rated) but opened "
                "open_room_recheck_days (%d) ago or more: sent as they are now, not read "
                "again; a larger open_room_recheck_days reads such rooms again",
                self.name,
                "1 room" if len(progress.too_old) == 1 else f"{len(progress.too_old):,} rooms",
                "was" if len(progress.too_old) == 1 else "were",
                self.bounds.open_for.days,
            )

    def _failed(self, failed: UnitFailed) -> None:
        """A unit kept failing: say so, once."""
        self.logger.warning("%s; set aside, asked again next run", failed.problem)

    def _say_streak(self, what: str) -> None:
        self.logger.warning(
            "%s: %d units failed in a row (%s): HappyTalk looks down; this stream stops here "
            "for this run, and the next run goes on from what was set aside",
            self.name,
            FAILED_IN_A_ROW,
            what,
        )

    def _say_what_was_odd(self, day: Day, listed: ListedDay) -> None:
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

    # --- records ---------------------------------------------------------------------------

    def _converted(
        self, answer: RoomAnswer, listed: dict[str, Any] | None
    ) -> dict[str, Any] | UnitFailed | None:
        """A room's answer as its record (its messages handed to the child), or its failure.

        A room whose records HappyTalk sent in a shape it does not document (a message without
        an id) is set aside as one that kept failing.
        """
        self._messages = {}  # none for the child, unless this room's come
        if answer is None or isinstance(answer, UnitFailed):
            return answer
        try:
            record, messages = self._records.read(answer, listed)
        except HappyTalkResponseError as error:
            return UnitFailed(self._redact(str(error)))
        # The SDK syncs a room's children while it processes the room's record, before the
        # next one: by now the previous room's messages were taken, or never will be (a
        # stream map filtered that room out).
        if self._messages_wanted:
            self._messages = {record["id"]: messages}
        self._extracted_at = dt.datetime.now(dt.timezone.utc)
        return record

    def _as_listed(self, room: dict[str, Any]) -> dict[str, Any] | UnitFailed:
        """The room's record as the list has it, or its failure if that will not convert."""
        try:
            return self._records.listed(room)
        except HappyTalkResponseError as error:
            return UnitFailed(self._redact(str(error)))

    def _redact(self, text: str) -> str:
        return redact(text, self.settings.token.reveal())
