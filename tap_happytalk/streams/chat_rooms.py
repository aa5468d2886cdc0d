"""`chat_rooms`: every consultation room, by the day it was opened, read again until it settles.

A run, for each selected chat stream (this one and its child `chat_messages`, each with its
own state: a point and an open-room set, see `ChatMark`):
1. reads again, by id, the rooms of the streams' open-room sets that are due (`open_rooms`);
2. walks the days from the earliest point on: each day's list (`room_list`), then each room
   opened in it by id, `max_concurrent_requests` at a time, oldest first.
Every room read is sent with its messages (the child's records come just before it). After
step 1 and after each day, each stream's point and set move on and STATE is written, so a run
stopped anywhere resumes from its last whole day.

Longer than the other modules: a run's whole plan for both chat streams (the open rooms, the
days, the checkpoints between them) is kept in one place, where a reader sees what is written
to STATE and when; paging, the open-room rule and the state's shape live in their own modules.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from tap_happytalk.answers import NOT_FOUND, UNAUTHORIZED, room_data
from tap_happytalk.endpoints import ROOM_DATA
from tap_happytalk.errors import HappyTalkRefusedError, HappyTalkUnavailableError
from tap_happytalk.metrics import log_rooms_given_up
from tap_happytalk.ordered_pool import map_in_order
from tap_happytalk.records import RowConverter
from tap_happytalk.streams.base import HappyTalkStream
from tap_happytalk.streams.chat_schemas import ROOM_SCHEMA
from tap_happytalk.streams.chat_state import REPLICATION_KEY, read_mark
from tap_happytalk.streams.open_rooms import MAX_OPEN_ROOMS
from tap_happytalk.streams.room_list import ListedDay, list_rooms
from tap_happytalk.windows import to_instant

if TYPE_CHECKING:
    from collections.abc import Generator, Iterable, Iterator

    from singer_sdk import Stream, Tap
    from singer_sdk.helpers.types import Context

    from tap_happytalk.streams.chat_state import ChatMark
    from tap_happytalk.transport import HappyTalkClient
    from tap_happytalk.windows import DayWindow

logger = logging.getLogger(__name__)

# Days whose room lists are fetched ahead of the rooms being read; their requests share the
# run's pacer with the room requests, so this adds no load, only keeps the pool busy.
LISTS_AHEAD = 2
# Rooms read again between two STATEs, so that a run stopped in a long list redoes little.
CHECKPOINT_ROOMS = 500
RoomAnswer = tuple[dict[str, Any], list[dict[str, Any]]] | None  # None: HappyTalk lost the room


@dataclass
class _Run:
    """What one sync of the chat streams carries from room to room."""

    marks: list[ChatMark]
    rooms: RowConverter
    messages: RowConverter
    # The current day's rooms: as read, and the ids of those HappyTalk no longer knew.
    read: list[dict[str, Any]] = field(default_factory=list)
    vanished: list[tuple[str, dt.datetime]] = field(default_factory=list)


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

    # --- the sync ------------------------------------------------------------------------

    def _marks(self) -> list[ChatMark]:
        """The state of each selected chat stream, as this run starts."""
        zone = self.settings.zone
        marks = []
        if self.selected:
            marks.append(read_mark(self.name, self.get_context_state(None), zone))
        child = self._messages_stream
        if child is not None and child.selected:
            marks.append(read_mark(child.name, child.get_context_state(None), zone))
        return marks

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
        """The due rooms of the open-room sets, then each day's new rooms; STATE after each."""
        settings = self.settings
        marks = self._marks()
        if not marks:
            return
        points = [mark.point for mark in marks]
        walk_from = None if None in points else min(p for p in points if p is not None)
        start, _, windows = self._windows(walk_from, 24)
        run = _Run(
            marks,
            rooms=RowConverter(settings.zone, frozenset(ROOM_SCHEMA["properties"])),
            messages=RowConverter(settings.zone, frozenset(self._messages_schema()["properties"])),
        )
        client = self._new_client(settings.chat_api_url)
        try:
            yield from self._read_open_rooms(client, run, start)
            if windows and not self._stop_requested.is_set():
                yield from self._walk_days(client, run, windows)
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

    def _messages_schema(self) -> dict[str, Any]:
        child = self._messages_stream
        return child.schema if child is not None else {"properties": {}}

    def _give_up(self, run: _Run, now: dt.datetime) -> bool:
        """Leave the rooms open too long out of every set, with one warning; any given up?"""
        settings = self.settings
        given_up = {
            room.id
            for mark in run.marks
            for room in mark.rooms.give_up(now, settings.open_room_recheck)
        }
        if given_up:
            self.logger.warning(
                "Open rooms: %d rooms opened more than open_room_recheck_days (%d) ago, or "
                "past the %d a state holds, are no longer read again; each stays as last sent",
                len(given_up),
                settings.open_room_recheck.days,
                MAX_OPEN_ROOMS,
            )
            log_rooms_given_up(self.name, len(given_up))
        return bool(given_up)

    def _read_open_rooms(
        self, client: HappyTalkClient, run: _Run, walk_start: dt.datetime
    ) -> Iterator[dict[str, Any]]:
        """Read the due rooms of the open-room sets again, then write STATE.

        Rooms opened from `walk_start` on are read with their day instead.
        """
        settings = self.settings
        now = dt.datetime.now(dt.timezone.utc)
        changed = self._give_up(run, now)
        due = {
            room.id: room.opened
            for mark in run.marks
            for room in mark.rooms.due(now, settings.closed_room_grace)
            if room.opened < walk_start
        }
        if due:
            in_sets = len({room.id for mark in run.marks for room in mark.rooms.rooms()})
            self.logger.info("Open rooms: reading %d again (%d in the set)", len(due), in_sets)
            yield from self._read_again(client, run, due)
            changed = True
        if changed and not self._stop_requested.is_set():
            self._checkpoint(run.marks)

    def _read_again(
        self, client: HappyTalkClient, run: _Run, opened: dict[str, dt.datetime]
    ) -> Iterator[dict[str, Any]]:
        """The rooms with these ids as HappyTalk has them now, each taken in by the sets."""
        answers = map_in_order(
            lambda ident: self._ask_room(client, ident),
            sorted(opened, key=lambda ident: (opened[ident], ident)),
            self.settings.max_concurrent_requests,
            self._stop_requested,
        )
        missing = gone = 0
        try:
            for done, (ident, answer) in enumerate(answers, start=1):
                if self._stop_requested.is_set():
                    return  # the sets stay as the last STATE has them
                if done % CHECKPOINT_ROOMS == 0:
                    self._checkpoint(run.marks)  # a long list of rooms is not all redone
                if answer is None:
                    left = [
                        mark.rooms.missed(ident, opened[ident], add=False) for mark in run.marks
                    ]
                    gone += any(left)
                    missing += not any(left)
                    continue
                record = self._record(run, answer, listed=None)
                self._observe(run, record)
                yield record
        finally:
            answers.close()
        if missing or gone:
            self.logger.warning(
                "Open rooms: HappyTalk did not know %d of them (-503 room): %d are asked again "
                "next run, %d were missing twice and leave the set (each stays as last sent)",
                missing + gone,
                missing,
                gone,
            )

    def _walk_days(
        self, client: HappyTalkClient, run: _Run, windows: list[DayWindow]
    ) -> Iterator[dict[str, Any]]:
        """Each day's rooms, oldest first, each with its data; then the day is done."""
        lists, answers = self._requests(client, windows)
        try:
            for (window, listed, room), answer in answers:
                if self._stop_requested.is_set():
                    return  # a day cut short is not done: the points stay before it
                if room is None:
                    self._end_of_day(window, listed, run)
                    continue
                if answer is None:
                    record = _room_record(run.rooms, room, f"room {room['id']}")
                    opened = dt.datetime.fromisoformat(record["reg_date"])
                    run.vanished.append((str(room["id"]), opened))
                    self._messages = {}
                else:
                    record = self._record(run, answer, listed=room)
                    run.read.append(record)
                yield record
        finally:
            answers.close()
            lists.close()

    def _requests(
        self, client: HappyTalkClient, windows: list[DayWindow]
    ) -> tuple[Generator[Any, None, None], Generator[Any, None, None]]:
        """Every window's room list, then each of its rooms' data and an end-of-day mark.

        Two ordered pools in a row, both held to the run's pacer: the lists a few days ahead,
        the rooms `max_concurrent_requests` at a time.
        """
        stop = self._stop_requested
        lists = map_in_order(lambda w: list_rooms(client, w), windows, LISTS_AHEAD, stop)

        def rooms_then_day_end() -> Iterator[tuple[DayWindow, ListedDay, dict[str, Any] | None]]:
            for window, listed in lists:
                for room in listed.rooms:
                    yield window, listed, room
                yield window, listed, None

        def ask(item: tuple[DayWindow, ListedDay, dict[str, Any] | None]) -> RoomAnswer:
            room = item[2]
            return None if room is None else self._ask_room(client, str(room["id"]))

        limit = self.settings.max_concurrent_requests
        return lists, map_in_order(ask, rooms_then_day_end(), limit, stop)

    @staticmethod
    def _ask_room(client: HappyTalkClient, room_id: str) -> RoomAnswer:
        """A room and its messages as HappyTalk has them now; None if it no longer knows it."""
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

    def _observe(self, run: _Run, record: dict[str, Any]) -> None:
        """Let every stream's open-room set take in a room just read."""
        settings = self.settings
        now = dt.datetime.now(dt.timezone.utc)
        opened = dt.datetime.fromisoformat(record["reg_date"])
        tracking = settings.open_room_recheck > dt.timedelta(0)
        for mark in run.marks:
            mark.rooms.observe(
                record,
                now,
                settings.closed_room_grace,
                add=tracking and mark.is_new(opened) and now - opened < settings.open_room_recheck,
            )

    def _end_of_day(self, window: DayWindow, listed: ListedDay, run: _Run) -> None:
        """The day's rooms are all out: say what was odd, move every point on, write STATE."""
        if listed.strays:
            self.logger.warning(
                "Rooms of %s: HappyTalk listed %d rooms opened on another day; left out, since "
                "the list of their own day carries them",
                window,
                listed.strays,
            )
        if run.vanished:
            self.logger.warning(
                "Rooms of %s: %d rooms were gone when read (-503 room); sent as listed, "
                "without messages, and asked again next run",
                window,
                len(run.vanished),
            )
        for record in run.read:
            self._observe(run, record)
        tracking = self.settings.open_room_recheck > dt.timedelta(0)
        for ident, opened in run.vanished:
            for mark in run.marks:
                mark.rooms.missed(ident, opened, add=tracking and mark.is_new(opened))
        done = to_instant(window.end, self.settings.zone)
        for mark in run.marks:
            if mark.point is None or done > mark.point:
                mark.point = done
        run.read.clear()
        run.vanished.clear()
        self._checkpoint(run.marks)
        self.logger.info(
            "Rooms of %s: %d (%d passes of its list)", window, len(listed.rooms), listed.passes
        )


def _room_record(converter: RowConverter, room: dict[str, Any], what: str) -> dict[str, Any]:
    return converter.record(
        room,
        what,
        required_time="reg_date",
        optional_times=("complate_date",),
        string_lists=frozenset({"tags"}),
    )


def _last_message(rows: list[dict[str, Any]]) -> str:
    """The text of a room's last message, agent memos aside, as the room list gives it."""
    said = [row for row in rows if row.get("type") != "M"]
    said.sort(
        key=lambda row: (str(row.get("send_date")), len(str(row.get("id"))), str(row.get("id")))
    )
    return str(said[-1].get("contents")) if said else ""
