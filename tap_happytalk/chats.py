"""The consultation streams: `chat_rooms` and its child `chat_messages`, a day at a time.

HappyTalk lists rooms by the day they were opened (`chat_room_lists`, 50 a page) and gives one
room with all its messages at a time (`chat_data`). A run walks calendar days in `timezone`:
for each day it pages through the day's rooms, oldest first, then asks for every room's data
through the run's bounded pool, and emits each room, after its messages, in order.

A room changes after it is first read: it closes, it is rated, it gets more messages. The
bookmark therefore never passes a room that was still open when read (within
`open_room_recheck_days` of its opening), so later runs read it again until it closes.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from singer_sdk import typing as th
from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from tap_happytalk.client import Api, HappyTalkClient
from tap_happytalk.errors import (
    HappyTalkRefusedError,
    HappyTalkResponseError,
    HappyTalkUnavailableError,
)
from tap_happytalk.ordered_pool import map_in_order
from tap_happytalk.records import WALL_CLOCK, RowConverter
from tap_happytalk.streams import ExplainedErrorsStream, HappyTalkStream
from tap_happytalk.windows import API_FORMAT, to_wall_clock

if TYPE_CHECKING:
    from collections.abc import Generator, Iterable, Iterator

    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_happytalk.windows import DayWindow

logger = logging.getLogger(__name__)

ROOM_LIST = Api("/user/api/chat_room_lists/format/json")
ROOM_DATA = Api("/user/api/chat_data/format/json")
PAGE_SIZE = 50  # HappyTalk's largest page
LIST_PASSES = 3  # times a day's list is paged while rooms keep leaving it
# Days whose room lists are fetched ahead of the rooms being read; their requests share the
# run's pacer with the room requests, so this adds no load, only keeps the pool busy.
LISTS_AHEAD = 2
CLOSED_STATUSES = frozenset({"2", "3", "4"})
UNAUTHORIZED = -502
NO_SUCH_ROOM = -503


def _text(name: str, description: str) -> th.Property[Any]:
    return th.Property(name, th.StringType, description=description)


ROOM_SCHEMA = th.PropertiesList(
    th.Property(
        "id", th.StringType, required=True, description="Room id (30 characters); primary key."
    ),
    _text("title", "Room title."),
    _text("counselor_name", "The agent's name."),
    _text("counselor_nickname", "The agent's nickname."),
    _text("customer_uuid", "The customer: `{site id}_{customer id}`."),
    _text("users_id", "The customer's id; may be null."),
    _text("category_id", "Top category id."),
    _text("division_id", "Middle category id."),
    _text("cate_name1", "Top category name."),
    _text("cate_name2", "Middle category name."),
    _text("etc_assign", "Sub category name."),
    th.Property(
        "reg_date",
        th.DateTimeType,
        required=True,
        description="When the room was opened, with the offset of `timezone`. Replication key.",
    ),
    th.Property(
        "complate_date",
        th.DateTimeType,
        description="(sic) When the room was closed, with the offset of `timezone`; null while "
        "open (HappyTalk's 0000-00-00 00:00:00).",
    ),
    _text(
        "out_api",
        "Channel: 0 HappyTalk, 1 Naver TalkTalk (네이버 톡톡), 2 KakaoTalk (카카오톡), "
        "7 Instagram.",
    ),
    _text(
        "status",
        "Room status: -2 waiting for an agent (상담원 대기), -1 chatbot in progress "
        "(챗봇 상담 중), 0 waiting for intake (접수 대기), 1 in progress (상담 중), 2 done "
        "(상담 완료), 3 deleted (삭제), 4 chatbot ended (챗봇 종료).",
    ),
    _text("order_number", "Commerce: order number."),
    _text("product_number", "Commerce: product number."),
    _text("parcel_number", "Commerce: parcel (tracking) number."),
    _text("parcel_companycode", "Commerce: courier code, as HappyTalk sends it."),
    _text("app_ver", "Device: app version."),
    _text("phone_os", "Device: A Android, I iPhone, W web."),
    _text("phone_model", "Device: phone model."),
    _text("phone_osver", "Device: OS version."),
    _text("phone_telecomm", "Device: carrier."),
    _text("app_hash", "Device: app hash."),
    *(
        _text(f"parameter{n}", f"Customer parameter {n} (up to 20 characters).")
        for n in range(1, 11)
    ),
    _text("last_message", "Text of the room's last message, from the room list."),
    th.Property(
        "tags",
        th.ArrayType(th.StringType),
        description="Tags such as `#tag`, when HappyTalk sends them.",
    ),
    _text("user_parameter", "Customer parameter string, when HappyTalk sends it."),
    _text("vote_score", "The customer's rating; null when unrated."),
    _text("vote_comment", "The customer's comment with the rating; null when unrated."),
).to_dict()

MESSAGE_SCHEMA = th.PropertiesList(
    th.Property(
        "id", th.StringType, required=True, description="Message id (numeric text); primary key."
    ),
    th.Property("room_id", th.StringType, required=True, description="The room (`chat_rooms.id`)."),
    _text("from_id", "Sender: an agent login or a customer uuid."),
    _text("to_id", "Recipient: an agent login or a customer uuid."),
    _text("type", "C message (메시지), M agent memo (메모)."),
    _text("user_type", "Who wrote it: C customer (고객), H agent (상담원), B bot (봇)."),
    _text(
        "contents_type",
        "text, image, nomal (sic: an image button), or template (`contents` is a JSON string "
        "of buttons and links).",
    ),
    _text("contents", "The message, byte for byte as HappyTalk sent it."),
    th.Property(
        "send_date",
        th.DateTimeType,
        required=True,
        description="When it was sent, with the offset of `timezone`.",
    ),
    th.Property(
        "read_date",
        th.DateTimeType,
        description="When it was read, with the offset of `timezone`; null while unread.",
    ),
).to_dict()


@dataclass
class _Progress:
    """What a run of `chat_rooms` carries from room to room."""

    recheck_since: str  # rooms opened since then (wall clock) pin the bookmark while open
    rooms: RowConverter
    messages: RowConverter
    pinned: str | None = None  # opening time (wall clock) of the first room read while open
    vanished: int = 0  # rooms of the current window gone when read


@dataclass(frozen=True)
class DayRooms:
    """The rooms HappyTalk listed for one window, oldest first, and what it listed amiss."""

    rooms: list[dict[str, Any]]
    strays: int  # rooms dated on another day than the one asked for


class ChatRoomsStream(HappyTalkStream):
    """Every consultation room, by the day it was opened; its messages go to `chat_messages`."""

    name = "chat_rooms"
    primary_keys = ("id",)
    replication_key = "reg_date"
    is_sorted = True
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
    def _messages_wanted(self) -> bool:
        return any(child.selected for child in self.child_streams)

    @override
    def generate_child_contexts(
        self, record: dict[str, Any], context: Context | None
    ) -> Iterable[Context | None]:
        """Each room hands its id to `chat_messages`."""
        return [{"room_id": record["id"]}] if self._messages_wanted else []

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Each day's rooms, oldest first, each with its data; then the day is done."""
        settings = self.settings
        _, _, windows = self._windows(context, 24)
        if not windows:
            return
        client = self._new_client(settings.chat_api_url)
        lists, answers = self._requests(client, windows)
        now = to_wall_clock(dt.datetime.now(dt.timezone.utc), settings.zone)
        progress = _Progress(
            recheck_since=(now - settings.open_room_recheck).strftime(API_FORMAT),
            rooms=RowConverter(settings.zone, frozenset(ROOM_SCHEMA["properties"])),
            messages=RowConverter(settings.zone, frozenset(MESSAGE_SCHEMA["properties"])),
        )
        try:
            for (window, listed, room), content in answers:
                if self._stop_requested.is_set():
                    return  # a window cut short is not done: the bookmark stays before it
                if room is None:
                    self._end_of_day(window, listed, progress, context)
                else:
                    yield self._read_room(client, progress, room, content)
        except HappyTalkRefusedError as refused:
            if refused.code != UNAUTHORIZED:
                raise
            self.logger.warning(
                "%s; chat_rooms and chat_messages are skipped, and their bookmark kept, until "
                "the token may read consultations (other streams are not affected)",
                refused,
            )
        except HappyTalkUnavailableError:
            if not self._stop_requested.is_set():
                raise
        finally:
            self._messages.clear()
            self._end_sync(client, answers, lists)

    def _requests(
        self, client: HappyTalkClient, windows: list[DayWindow]
    ) -> tuple[Generator[Any, None, None], Generator[Any, None, None]]:
        """Every window's room list, then each of its rooms' data and an end-of-day mark.

        Two ordered pools in a row, both held to the run's pacer: the lists a few days ahead,
        the rooms `max_concurrent_requests` at a time.
        """
        stop = self._stop_requested
        lists = map_in_order(lambda w: self._list(client, w), windows, LISTS_AHEAD, stop)

        def rooms_then_day_end() -> Iterator[tuple[DayWindow, DayRooms, dict[str, Any] | None]]:
            for window, listed in lists:
                for room in listed.rooms:
                    yield window, listed, room
                yield window, listed, None

        def ask(item: tuple[DayWindow, DayRooms, dict[str, Any] | None]) -> bytes | None:
            room = item[2]
            if room is None:
                return None
            what = f"room {room['id']}"
            return client.post(ROOM_DATA, {"room_id": room["id"]}, what, kind="room")

        limit = self.settings.max_concurrent_requests
        return lists, map_in_order(ask, rooms_then_day_end(), limit, stop)

    def _read_room(
        self,
        client: HappyTalkClient,
        progress: _Progress,
        room: dict[str, Any],
        content: bytes | None,
    ) -> dict[str, Any]:
        """The room's record; its messages wait for `chat_messages`; an open room pins."""
        opened = room["reg_date"]  # wall clock, as listed
        record, messages = self._room(client, progress, room, content)
        if record is None:
            progress.vanished += 1
            record = _room_record(progress.rooms, room, f"room {room['id']}")
        if progress.pinned is None and _still_open(record) and opened >= progress.recheck_since:
            progress.pinned = opened
        # The SDK syncs a room's children while it processes the room's record, before the
        # next one: by now the previous room's messages were taken, or never will be (a
        # stream map filtered that room out).
        self._messages = {record["id"]: messages} if self._messages_wanted else {}
        self._extracted_at = dt.datetime.now(dt.timezone.utc)
        return record

    def _end_of_day(
        self, window: DayWindow, listed: DayRooms, progress: _Progress, context: Context | None
    ) -> None:
        """The window's rooms are all out: say what was odd, and move the bookmark.

        The bookmark goes to the window's end, or stays at the first room read while open.
        """
        if listed.strays:
            self.logger.warning(
                "Rooms of %s: HappyTalk listed %d rooms opened on another day; left out, since "
                "the list of their own day carries them",
                window,
                listed.strays,
            )
        if progress.vanished:
            self.logger.warning(
                "Rooms of %s: %d rooms were gone when read (-503 room); sent as listed, "
                "without messages",
                window,
                progress.vanished,
            )
            progress.vanished = 0
        resume_at = window.end
        if progress.pinned is not None:
            pinned = dt.datetime.strptime(progress.pinned, API_FORMAT)  # noqa: DTZ007 - wall clock
            resume_at = min(resume_at, pinned)
        self._complete_window(resume_at, context)
        self.logger.info("Rooms of %s: %d", window, len(listed.rooms))

    def _list(self, client: HappyTalkClient, window: DayWindow) -> DayRooms:
        """The rooms opened in `window`, oldest first, through every page of its day.

        Sorted by opening time, ascending: a room opened while the tap pages joins the end of
        the list and shifts no page, so no room is skipped or read twice. A room that leaves
        the list while the tap pages (HappyTalk's count drops) would shift the pages after it
        back by one, hiding a room behind a page already read: then the day is paged again,
        keeping what was seen, until a pass sees the count hold.

        Raises:
            HappyTalkResponseError: The pages are not a room list, a room has no id or no
                `Y-m-d H:i:s` opening time, the pages held fewer rooms than HappyTalk's
                `total_count`, or the list kept shrinking for `LIST_PASSES` passes.
        """
        day = window.start.strftime("%Y-%m-%d")
        rooms: dict[str, dict[str, Any]] = {}
        for _ in range(LIST_PASSES):
            counts = self._list_pass(client, day, rooms)
            if all(later >= earlier for earlier, later in itertools.pairwise(counts)):
                break
        else:
            msg = f"HappyTalk's list of the rooms of {day} kept changing while it was read"
            raise HappyTalkResponseError(msg)
        total = counts[-1]
        if len(rooms) < total:
            msg = (
                f"HappyTalk counted {total} rooms for {day} (total_count), but its pages held "
                f"{len(rooms)}"
            )
            raise HappyTalkResponseError(msg)
        return _in_window(list(rooms.values()), window, day)

    @staticmethod
    def _list_pass(
        client: HappyTalkClient, day: str, rooms: dict[str, dict[str, Any]]
    ) -> list[int]:
        """Page through `day` once, adding rooms not seen yet; HappyTalk's count at each page.

        Raises:
            HappyTalkResponseError: A page is not a room list, or a room has no id.
        """
        counts: list[int] = []
        for page in range(1, 10_000):
            what = f"the rooms of {day}, page {page}"
            fields = {
                "sdate": day,
                "edate": day,
                "status": 99,
                "sort_key": "reg_date",
                "sort_value": "asc",
                "limit": PAGE_SIZE,
                "page": page,
            }
            body = client.answer(client.post(ROOM_LIST, fields, what, kind="page"), what)
            page_rooms, total = _page(body, what)
            counts.append(total)
            if len(page_rooms) > PAGE_SIZE:
                logger.warning(
                    "HappyTalk sent %d rooms for %s, more than %d", len(page_rooms), what, PAGE_SIZE
                )
            new = 0
            for room in page_rooms:
                ident = room.get("id")
                if not ident or not isinstance(ident, str):
                    msg = f"HappyTalk sent a room without an id for {what}"
                    raise HappyTalkResponseError(msg)
                if ident not in rooms:
                    rooms[ident] = room
                    new += 1
            if len(page_rooms) < PAGE_SIZE or new == 0:
                break
        return counts

    def _room(
        self,
        client: HappyTalkClient,
        progress: _Progress,
        listed: dict[str, Any],
        content: bytes | None,
    ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """A room's record, as listed and as read (fresher), and its messages, oldest first.

        None for a room HappyTalk no longer knows (-503): it was deleted after it was listed.
        """
        ident = listed["id"]
        what = f"room {ident}"
        try:
            body = client.answer(cast("bytes", content), what)
        except HappyTalkRefusedError as refused:
            if refused.code == NO_SUCH_ROOM:
                return None, []
            raise
        chat, rows = _room_data(body, what)
        if chat.get("id", ident) != ident:
            msg = f"HappyTalk answered {what} with room {chat.get('id')!r}"
            raise HappyTalkResponseError(msg)
        # The room as read is fresher than as listed; only the list has `last_message`.
        merged = {**listed, **{k: v for k, v in chat.items() if k != "last_message"}}
        record = _room_record(progress.rooms, merged, what)
        if not self._messages_wanted:
            return record, []
        converted = [
            progress.messages.record(
                {**row, "room_id": ident},
                what,
                required_time="send_date",
                optional_times=("read_date",),
            )
            for row in rows
        ]
        converted.sort(key=lambda m: (m["send_date"], len(m["id"]), m["id"]))
        return record, converted


class ChatMessagesStream(ExplainedErrorsStream):
    """Every message of every room `chat_rooms` emits, sent just before its room."""

    name = "chat_messages"
    primary_keys = ("id",)
    schema = MESSAGE_SCHEMA
    parent_stream_type = ChatRoomsStream
    # No state per room: the room's day, in `chat_rooms`' bookmark, says what was read.
    state_partitioning_keys: list[str] = []  # noqa: RUF012 - the SDK's own attribute
    selected_by_default = False
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, tap: Tap) -> None:
        """Build the stream."""
        super().__init__(tap=tap)
        self._schema_written = False

    @override
    def _write_schema_message(self) -> None:
        """Once a run: the SDK would repeat the SCHEMA before every room's messages."""
        if not self._schema_written:
            super()._write_schema_message()
            self._schema_written = True

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """The room's messages, which `chat_rooms` read with the room."""
        rooms = cast("ChatRoomsStream", self._tap.streams[ChatRoomsStream.name])
        return rooms.take_messages(str((context or {})["room_id"]))


def _still_open(record: dict[str, Any]) -> bool:
    """Open, or in a status HappyTalk does not document: read it again to be sure."""
    return str(record.get("status")) not in CLOSED_STATUSES


def _room_record(converter: RowConverter, room: dict[str, Any], what: str) -> dict[str, Any]:
    return converter.record(
        room,
        what,
        required_time="reg_date",
        optional_times=("complate_date",),
        string_lists=frozenset({"tags"}),
    )


def _page(body: dict[str, Any], what: str) -> tuple[list[dict[str, Any]], int]:
    """A room-list page's rooms and HappyTalk's `total_count` (a number, or its text).

    Raises:
        HappyTalkResponseError: The page is not a room list.
    """
    data = body.get("data")
    if data is None:
        logger.warning("HappyTalk answered %s without 'data': taken as no rooms", what)
        return [], 0
    rooms = data.get("chat_list") if isinstance(data, dict) else None
    if not isinstance(rooms, list) or not all(isinstance(room, dict) for room in rooms):
        msg = f"HappyTalk's answer for {what} has no 'chat_list' of rooms"
        raise HappyTalkResponseError(msg)
    try:
        total = int(str(data.get("total_count", len(rooms))).strip())
    except ValueError:
        msg = f"HappyTalk's answer for {what} has total_count {data.get('total_count')!r}"
        raise HappyTalkResponseError(msg) from None
    return rooms, total


def _in_window(rooms: list[dict[str, Any]], window: DayWindow, day: str) -> DayRooms:
    """The rooms opened in `window`, oldest first; rooms of other days are counted, not kept.

    Raises:
        HappyTalkResponseError: A room's `reg_date` is not a `Y-m-d H:i:s` time.
    """
    first, last = window.api_start, window.api_end
    kept: list[dict[str, Any]] = []
    strays = 0
    for room in rooms:
        opened = room.get("reg_date")
        if not isinstance(opened, str) or WALL_CLOCK.fullmatch(opened) is None:
            msg = f"HappyTalk sent room {room['id']} for {day} with reg_date {opened!r}, "
            raise HappyTalkResponseError(msg + "not Y-m-d H:i:s")
        if opened[:10] != day:
            strays += 1
        elif first <= opened <= last:
            kept.append(room)
    kept.sort(key=lambda room: (room["reg_date"], room["id"]))
    return DayRooms(kept, strays)


def _room_data(body: dict[str, Any], what: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The room and its messages from a `chat_data` answer.

    Raises:
        HappyTalkResponseError: The answer holds no room, or messages that are not a list.
    """
    data = body.get("data")
    entry = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else None
    chat = entry.get("chat") if entry else None
    rows = entry.get("message", []) if entry else None
    if not isinstance(chat, dict):
        msg = f"HappyTalk's answer for {what} holds no room"
        raise HappyTalkResponseError(msg)
    if rows is None:
        rows = []
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        msg = f"HappyTalk's answer for {what} has messages that are not a list"
        raise HappyTalkResponseError(msg)
    return chat, rows
