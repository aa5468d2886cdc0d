"""HappyTalk's consultation (chat) calls for the local server: rooms, messages, sample data.

What HappyTalk documents is on its chat API page (the room list, one room, the fail codes);
what this module assumes where HappyTalk says nothing is in `local_happytalk.server`'s ASSUMED list
(A9 onwards). `ChatRooms` holds the rooms and answers the two calls; `LocalHappyTalk` routes
them (`server.chats` is its `ChatRooms`). `sample_rooms` makes deterministic rooms with known
first-response times, and `expected_times` says what they are, for any rooms.

A room is given and kept as one item of HappyTalk's `chat_data` answer: `{"chat": {...},
"message": [...]}`, where `chat` holds the documented room fields plus `vote_score` and
`vote_comment`, and `message` the room's messages. `last_message` is never stored: the server
derives it from the messages (A20).
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import json
import random
import re
import string
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    # Given when the customer first wrote (naive Korea time), the seconds to the first answer.
    AnswerRule = Callable[[dt.datetime, random.Random], int]

CHAT_ROOM_LISTS_PATH = "/user/api/chat_room_lists/format/json"
CHAT_DATA_PATH = "/user/api/chat_data/format/json"
CHAT_PATHS = (CHAT_ROOM_LISTS_PATH, CHAT_DATA_PATH)

# The same values as `local_happytalk.server`'s (which imports this module, so it cannot be
# imported from here).
API_FORMAT = "%Y-%m-%d %H:%M:%S"
UNDOCUMENTED_CODE = -599
OVER_DATE_FAIL = (-504, "overDate")
ROOM_FAIL = (-503, "room")

ZERO_DATE = "0000-00-00 00:00:00"  # HappyTalk's date of what has not happened (complate_date)
DEFAULT_LIMIT = 10
MAX_LIMIT = 50
ALL_STATUSES = 99
SORT_KEYS = ("reg_date", "complate_date")
SORT_VALUES = ("asc", "desc")
KOREA = dt.timezone(dt.timedelta(hours=9), "KST")

# A room in the room list, in HappyTalk's order; `chat_data`'s `chat` has these minus
# `last_message`, plus the rating.
ROOM_FIELDS = (
    "id",
    "title",
    "counselor_name",
    "counselor_nickname",
    "customer_uuid",
    "users_id",
    "category_id",
    "division_id",
    "cate_name1",
    "cate_name2",
    "etc_assign",
    "reg_date",
    "complate_date",
    "out_api",
    "status",
    "order_number",
    "product_number",
    "parcel_number",
    "parcel_companycode",
    "app_ver",
    "phone_os",
    "phone_model",
    "phone_osver",
    "phone_telecomm",
    "app_hash",
    *(f"parameter{n}" for n in range(1, 11)),
    "last_message",
    "tags",
    "user_parameter",
)
VOTE_FIELDS = ("vote_score", "vote_comment")
CHAT_FIELDS = (*(name for name in ROOM_FIELDS if name != "last_message"), *VOTE_FIELDS)
MESSAGE_FIELDS = (
    "id",
    "from_id",
    "to_id",
    "type",
    "user_type",
    "contents_type",
    "contents",
    "send_date",
    "read_date",
)

LimitOverMax = Literal["clamp", "refuse", "serve"]

SITE_ID = "1000225570"
BOT_ID = "happytalk_bot"  # A22


def korea_now() -> dt.datetime:
    """Now as HappyTalk writes it: naive Korea time, to the second."""
    return dt.datetime.now(tz=KOREA).replace(tzinfo=None, microsecond=0)


@dataclass(frozen=True)
class RoomTimes:
    """What a room's messages say about its timing (the definitions a dbt model should use).

    - `first_customer_at`: `send_date` of the room's first customer message (`type` C,
      `user_type` C), in message order (`send_date`, then numeric `id`).
    - `first_response_at`: `send_date` of the first agent message (`type` C, `user_type` H)
      after it in that order. Bot messages (`user_type` B) and agent memos (`type` M) are not
      responses.
    - `first_response_seconds`: the seconds between the two; None without both.
    - `complate_date`: None while the room is open (`0000-00-00 00:00:00`).
    - `handling_seconds`: from the first response to `complate_date`; None without both.
    - `duration_seconds`: from `reg_date` to `complate_date`; None while open.
    """

    room_id: str
    reg_date: str
    first_customer_at: str | None
    first_response_at: str | None
    complate_date: str | None
    first_response_seconds: int | None
    handling_seconds: int | None
    duration_seconds: int | None


def expected_times(rooms: Iterable[Mapping[str, Any]]) -> dict[str, RoomTimes]:
    """Per room id, its `RoomTimes`, for rooms shaped as `sample_rooms` makes them."""
    times: dict[str, RoomTimes] = {}
    for room in rooms:
        chat = room["chat"]
        messages = sorted(room.get("message") or (), key=_message_order)
        said = [m for m in messages if m.get("type") == "C"]  # memos (M) are no conversation
        asked = next((n for n, m in enumerate(said) if m.get("user_type") == "C"), None)
        first = None if asked is None else said[asked]
        later = said[asked + 1 :] if asked is not None else []
        reply = next((m for m in later if m.get("user_type") == "H"), None)
        first_at = None if first is None else str(first["send_date"])
        reply_at = None if reply is None else str(reply["send_date"])
        closed = None if chat["complate_date"] == ZERO_DATE else str(chat["complate_date"])
        times[str(chat["id"])] = RoomTimes(
            room_id=str(chat["id"]),
            reg_date=str(chat["reg_date"]),
            first_customer_at=first_at,
            first_response_at=reply_at,
            complate_date=closed,
            first_response_seconds=_seconds(first_at, reply_at),
            handling_seconds=_seconds(reply_at, closed),
            duration_seconds=_seconds(str(chat["reg_date"]), closed),
        )
    return times


class _RefusalError(Exception):
    """A request HappyTalk would refuse; `answer` is the refusal."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.answer = fail(code, message)


@dataclass
class _Room:
    seq: int  # insertion order: the fixed tie-break of equal sort keys (A12)
    chat: dict[str, Any]
    messages: list[dict[str, Any]]


class ChatRooms:
    """HappyTalk's consultation rooms and their messages, answering its two chat calls.

    Thread-safe: tests change rooms while the server answers. Methods that change a room raise
    `KeyError` for an unknown room id. Dates given as `datetime` are naive Korea time; a date
    left out is `clock()`, the server's "now" (Korea wall-clock time unless told otherwise).
    """

    def __init__(
        self,
        rooms: Iterable[Mapping[str, Any]] = (),
        *,
        clock: Callable[[], dt.datetime] = korea_now,
        paging_as_strings: bool = False,
        limit_over_max: LimitOverMax = "clamp",
        shuffle_ties: bool = False,
    ) -> None:
        """Hold `rooms` (as `sample_rooms` makes them).

        `clock` gives "now" (today's rooms when a request names no day; rooms opened, closed
        and messages sent without a date). With `paging_as_strings` the room list answers
        `page`, `limit` and `total_count` as strings, as HappyTalk documents them, instead of
        numbers, as its example shows. `limit_over_max` is what a `limit` over 50 does:
        `clamp` serves 50 (A15), `refuse` answers -599 `limit`, `serve` serves as many as asked
        (a HappyTalk that ignores its documented maximum). With `shuffle_ties` the room list
        orders rooms with equal sort keys randomly, differently on every request, as a SQL
        database may for `ORDER BY reg_date LIMIT .. OFFSET ..` (A12); seeded, so a test
        that fails fails again.
        """
        self.clock = clock
        self.paging_as_strings = paging_as_strings
        self.limit_over_max: LimitOverMax = limit_over_max
        self.shuffle_ties = shuffle_ties
        self._ties = random.Random(12)  # noqa: S311 - an order of ties, not a secret
        self._lock = threading.RLock()
        self._rooms: dict[str, _Room] = {}
        self._seq = itertools.count()
        self._message_ids: set[str] = set()
        self._next_message_id = 1
        self._random = random.Random(11)  # noqa: S311 - room ids, not secrets
        self.add_rooms(rooms)

    # --- what tests change -------------------------------------------------------------------

    def add_rooms(self, rooms: Iterable[Mapping[str, Any]]) -> list[str]:
        """Add rooms shaped `{"chat": {...}, "message": [...]}`; their ids, in order.

        Missing room fields get blank values (a missing `id` a new one); missing message
        fields get defaults (a missing `id` the next free one). Room and message ids must be new.
        """
        with self._lock:
            return [self._store(room["chat"], room.get("message") or ()) for room in rooms]

    def add_room(
        self,
        *,
        reg_date: str | dt.datetime | None = None,
        messages: Iterable[Mapping[str, Any]] | None = None,
        **fields: Any,  # noqa: ANN401 - any room field, any value
    ) -> str:
        """Open a room, registered `reg_date` (default: now), as a customer does; its id.

        Unless `fields` say otherwise it is waiting for intake (`status` 0), with a new
        customer, no agent, and (unless `messages` are given) one customer message sent at
        `reg_date`.
        """
        with self._lock:
            stamp = self._stamp(reg_date)
            number = len(self._rooms) + 1
            chat: dict[str, Any] = {
                "title": "1:1 채팅 상담 문의 드립니다.",
                "customer_uuid": f"{SITE_ID}_newuser{number}",
                "users_id": f"newuser{number}",
                "status": "0",
                **fields,
                "reg_date": stamp,
            }
            if messages is None:
                messages = [
                    {"user_type": "C", "contents": "상담 문의드립니다.", "send_date": stamp}
                ]
            return self._store(chat, messages)

    def add_message(  # noqa: PLR0913 - a message's fields
        self,
        room_id: str,
        contents: str,
        *,
        user_type: str = "C",
        message_type: str = "C",
        contents_type: str = "text",
        send_date: str | dt.datetime | None = None,
        read_date: str | dt.datetime = ZERO_DATE,
        from_id: str | None = None,
        to_id: str | None = None,
    ) -> str:
        """Add a message to a room (sent now unless told, unread unless told); its id.

        `message_type` is the message's `type` (`C` message, `M` agent memo); `from_id` and
        `to_id` default to the customer's uuid and the room's agent, as `user_type` implies.
        """
        with self._lock:
            room = self._rooms[room_id]
            message = {
                "from_id": from_id,
                "to_id": to_id,
                "type": message_type,
                "user_type": user_type,
                "contents_type": contents_type,
                "contents": contents,
                "send_date": self._stamp(send_date),
                "read_date": self._stamp(read_date),
            }
            stored = self._message(room.chat, {k: v for k, v in message.items() if v is not None})
            room.messages.append(stored)
            return str(stored["id"])

    def close_room(
        self, room_id: str, *, at: str | dt.datetime | None = None, status: str = "2"
    ) -> str:
        """Close a room: `status` 2 (done), `complate_date` `at` (now); that date."""
        stamp = self._stamp(at)
        self.update_room(room_id, status=status, complate_date=stamp)
        return stamp

    def rate_room(self, room_id: str, score: int | str, comment: str = "") -> None:
        """The customer's rating: `vote_score` (a string, as HappyTalk's are), `vote_comment`."""
        self.update_room(room_id, vote_score=str(score), vote_comment=comment)

    def update_room(self, room_id: str, **fields: Any) -> None:  # noqa: ANN401 - any field
        """Change any fields of a room (not its `id`, nor `last_message`, which messages make)."""
        if "id" in fields or "last_message" in fields:
            raise ValueError("a room's id does not change; its last_message follows its messages")
        with self._lock:
            self._rooms[room_id].chat.update(copy.deepcopy(fields))

    def delete_room(self, room_id: str) -> None:
        """Remove a room altogether: it leaves the list, and `chat_data` answers -503 room."""
        with self._lock:
            del self._rooms[room_id]

    def room_ids(self) -> list[str]:
        """Every room id, in the order the rooms were added."""
        with self._lock:
            return list(self._rooms)

    def room(self, room_id: str) -> dict[str, Any]:
        """One room as `{"chat": {...}, "message": [...]}` (a copy; messages in order)."""
        with self._lock:
            return self._chat_data(self._rooms[room_id])

    def rooms(self) -> list[dict[str, Any]]:
        """Every room as `room` gives it, in the order they were added."""
        with self._lock:
            return [self._chat_data(room) for room in self._rooms.values()]

    def expected_times(self) -> dict[str, RoomTimes]:
        """`expected_times` of the rooms as they are now (after any change)."""
        return expected_times(self.rooms())

    # --- what HappyTalk answers (the token already checked) ----------------------------------

    def room_list(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The answer of `chat_room_lists` to `body`."""
        try:
            first, last = self._days(body)
            status = _status(body.get("status"))
            sort_key = _choice(body.get("sort_key"), SORT_KEYS, "sort_key", "reg_date")
            descending = (
                _choice(body.get("sort_value"), SORT_VALUES, "sort_value", "desc") == "desc"
            )
            limit = self._limit(body.get("limit"))
            page = _positive(body.get("page"), 1, "page")
        except _RefusalError as refusal:
            return refusal.answer
        low, high = first.isoformat(), last.isoformat()
        with self._lock:
            chosen = [
                room
                for room in self._rooms.values()
                if low <= str(room.chat.get("reg_date"))[:10] <= high  # A9: by reg_date
                and (status == ALL_STATUSES or str(room.chat.get("status")) == str(status))
            ]
            if self.shuffle_ties:
                # A stable sort keeps the shuffled order among equal keys, descending too.
                self._ties.shuffle(chosen)
                chosen.sort(key=lambda room: str(room.chat.get(sort_key)), reverse=descending)
            else:
                chosen.sort(
                    key=lambda room: (str(room.chat.get(sort_key)), room.seq), reverse=descending
                )
            shown = chosen[(page - 1) * limit : page * limit]
            rooms = [self._list_item(room) for room in shown]
        paging: tuple[int | str, ...] = (page, limit, len(chosen))
        if self.paging_as_strings:
            paging = tuple(map(str, paging))
        keys = ("page", "limit", "total_count")
        return {
            "result": "success",
            "data": {**dict(zip(keys, paging, strict=True)), "chat_list": rooms},
        }

    def chat_data(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The answer of `chat_data` to `body`."""
        room_id = body.get("room_id")
        with self._lock:
            room = self._rooms.get(room_id) if isinstance(room_id, str) else None
            if room is None:
                return fail(*ROOM_FAIL)  # documented; A19 for a missing room_id
            return {"result": "success", "data": [self._chat_data(room)]}

    # --- inside ------------------------------------------------------------------------------

    def _days(self, body: Mapping[str, Any]) -> tuple[dt.date, dt.date]:
        """The days asked: sdate+edate over ndate over today (A10, A11)."""
        start, end, day = body.get("sdate"), body.get("edate"), body.get("ndate")
        if start and end:
            first, last = _day(start), _day(end)
            if last < first:
                raise _RefusalError(*OVER_DATE_FAIL)  # A11
            return first, last
        if day:
            return _day(day), _day(day)
        today = self.clock().date()
        return today, today

    def _limit(self, value: object) -> int:
        limit = _positive(value, DEFAULT_LIMIT, "limit")
        if limit <= MAX_LIMIT or self.limit_over_max == "serve":
            return limit
        if self.limit_over_max == "refuse":
            raise _RefusalError(UNDOCUMENTED_CODE, "limit")
        return MAX_LIMIT

    def _stamp(self, value: str | dt.datetime | None) -> str:
        if value is None:
            value = self.clock()
        return value.strftime(API_FORMAT) if isinstance(value, dt.datetime) else value

    def _store(self, fields: Mapping[str, Any], messages: Iterable[Mapping[str, Any]]) -> str:
        chat = _blank_chat(self._stamp(None))
        chat.update(copy.deepcopy({k: v for k, v in fields.items() if k != "last_message"}))
        if not chat.get("id"):
            alphabet = string.ascii_letters + string.digits
            chat["id"] = "".join(self._random.choices(alphabet, k=30))
        room_id = str(chat["id"])
        if room_id in self._rooms:
            raise ValueError(f"room {room_id} exists already")
        stored = [self._message(chat, message) for message in messages]
        self._rooms[room_id] = _Room(next(self._seq), chat, stored)
        return room_id

    def _message(self, chat: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
        message = {**_message_defaults(chat, given), **copy.deepcopy(dict(given))}
        if message.get("id") is None:
            message["id"] = str(self._next_message_id)
        message_id = str(message["id"])
        if message_id in self._message_ids:
            raise ValueError(f"message {message_id} exists already")
        self._message_ids.add(message_id)
        if message_id.isdigit():
            self._next_message_id = max(self._next_message_id, int(message_id) + 1)
        return {name: message[name] for name in (*MESSAGE_FIELDS, *message) if name in message}

    def _list_item(self, room: _Room) -> dict[str, Any]:
        said = [m for m in sorted(room.messages, key=_message_order) if m.get("type") == "C"]
        last_message = str(said[-1].get("contents", "")) if said else ""  # A20
        item = {
            name: last_message if name == "last_message" else room.chat.get(name)
            for name in ROOM_FIELDS
        }
        extra = {k: v for k, v in room.chat.items() if k not in item and k not in VOTE_FIELDS}
        return copy.deepcopy({**item, **extra})

    def _chat_data(self, room: _Room) -> dict[str, Any]:
        chat = {name: room.chat.get(name) for name in CHAT_FIELDS}
        chat.update((k, v) for k, v in room.chat.items() if k != "last_message")
        messages = sorted(room.messages, key=_message_order)
        return copy.deepcopy({"chat": chat, "message": messages})


def fail(code: int, message: str) -> dict[str, Any]:
    """HappyTalk's refusal."""
    return {"result": "fail", "code": code, "message": message}


def _blank_chat(reg_date: str) -> dict[str, Any]:
    chat: dict[str, Any] = dict.fromkeys(CHAT_FIELDS, "")
    chat.update(
        {
            "users_id": None,
            "reg_date": reg_date,
            "complate_date": ZERO_DATE,
            "out_api": "0",
            "status": "0",
            "tags": [],
            "vote_score": None,
            "vote_comment": None,
        }
    )
    return chat


def _message_defaults(chat: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """A message's fields that were not given: who sends to whom follows `user_type` (A22)."""
    customer, agent = chat.get("customer_uuid") or "", chat.get("counselor_name") or ""
    user_type = given.get("user_type", "C")
    memo = given.get("type", "C") == "M"
    sender, recipient = {"C": (customer, agent), "B": (BOT_ID, customer)}.get(
        user_type, (agent, "" if memo else customer)
    )
    send_date = given.get("send_date", chat.get("reg_date"))
    return {
        "from_id": sender,
        "to_id": recipient,
        "type": "C",
        "user_type": user_type,
        "contents_type": "text",
        "contents": "",
        "send_date": send_date,
        "read_date": send_date if memo else ZERO_DATE,
    }


def _message_order(message: Mapping[str, Any]) -> tuple[str, int, str]:
    """Messages in order: by `send_date`, then by numeric `id` (auto-increment)."""
    message_id = str(message.get("id"))
    number = int(message_id) if message_id.isdigit() else 0
    return (str(message.get("send_date")), number, message_id)


def _day(value: object) -> dt.date:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise _RefusalError(UNDOCUMENTED_CODE, "date")  # A13
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _RefusalError(UNDOCUMENTED_CODE, "date") from None


def _as_int(value: object) -> int | None:
    """An int, or a string of one (A14); None for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    return None


def _positive(value: object, default: int, name: str) -> int:
    if value is None:
        return default
    number = _as_int(value)
    if number is None or number < 1:
        raise _RefusalError(UNDOCUMENTED_CODE, name)  # A14
    return number


def _status(value: object) -> int:
    if value is None:
        return ALL_STATUSES
    number = _as_int(value)
    if number is None:
        raise _RefusalError(UNDOCUMENTED_CODE, "status")  # A14
    return number


def _choice(value: object, allowed: Sequence[str], name: str, default: str) -> str:
    if value is None or value == "":
        return default
    if isinstance(value, str) and value.lower() in allowed:
        return value.lower()
    raise _RefusalError(UNDOCUMENTED_CODE, name)  # A16


def _seconds(start: str | None, end: str | None) -> int | None:
    if start is None or end is None:
        return None
    later = dt.datetime.strptime(end, API_FORMAT)  # noqa: DTZ007 - naive Korea time
    earlier = dt.datetime.strptime(start, API_FORMAT)  # noqa: DTZ007
    return int((later - earlier).total_seconds())


# --- sample data -----------------------------------------------------------------------------

AGENTS = (
    ("lc-kim", "김하늘"),
    ("lc-lee", "이바다"),
    ("lc-park", "박구름"),
    ("lc-choi", "최별"),
    ("lc-jung", "정노을"),
)
CATEGORIES = (
    ("101", "201", "상품문의", "일반상담", "재입고"),
    ("102", "202", "배송문의", "배송지연", "택배사 확인"),
    ("103", "203", "주문/결제", "결제오류", "카드결제"),
    ("104", "204", "교환/반품", "환불요청", "부분환불"),
    ("105", "205", "회원정보", "정보수정", "연락처 변경"),
)
TITLES = (
    "1:1 채팅 상담 문의 드립니다.",
    "배송 언제 오나요?",
    "환불 문의",
    "주문 취소 요청합니다",
    "결제가 안 돼요",
    "상품 재입고 문의",
    "회원정보 변경 문의",
)
CUSTOMER_NAMES = ("김민수", "이서연", "박지훈", "최유진", "정하은", "강도윤", "윤지아", "장서준")
CUSTOMER_LINES = (
    "주문한 상품이 아직 안 왔어요.",
    "환불은 언제 되나요?",
    "사이즈 교환 가능할까요?",
    "결제 오류가 났습니다.",
    "송장번호 좀 알려주세요.",
    "네 알겠습니다.",
    "감사합니다!",
)
AGENT_LINES = (
    "확인해 보겠습니다. 잠시만 기다려 주세요.",
    "주문번호 확인 부탁드립니다.",
    "불편을 드려 죄송합니다.",
    "처리되었습니다. 더 궁금하신 점 있으신가요?",
    "내일 중으로 출고될 예정입니다.",
)
BOT_LINES = ("상담 유형을 선택해 주세요.", "주문번호를 입력해 주세요.", "챗봇 상담을 종료합니다.")
MEMOS = ("VIP 고객, 우선 처리", "재문의 고객 - 지난주 동일 건", "환불 승인 요청 올림")
VOTE_COMMENTS = (
    "친절하게 답변해 주셔서 감사합니다.",
    "답변이 너무 늦어요.",
    "",
    "빠른 처리 감사해요",
)
TAGS = ("#배송", "#환불", "#교환", "#VIP", "#재문의", "#결제")
DEVICES = (("A", "SM-S918N", "14"), ("I", "iPhone15,3", "17.5"), ("W", "", ""))
TELECOMS = ("SKT", "KT", "LGU+", "")
COURIERS = ("W", "1", "4", "5", "6", "8", "11")
# The first-response times the sample draws from, in seconds (kept apart from other gaps, so a
# wrong definition shows: an hour and more, minutes, and seconds).
FIRST_RESPONSE_SECONDS = (8, 15, 30, 45, 60, 95, 180, 300, 610, 1800, 3725)
MIN_MESSAGES = 3  # a bot greeting, a customer's question, an agent's answer


def sample_status(index: int) -> str:
    """The status of the sample's `index`th room (from 0): mostly 2 done, some open."""
    for every, remainder, status in ((40, 19, "3"), (25, 11, "4"), (10, 3, "1"), (10, 7, "0")):
        if index % every == remainder:
            return status
    return "2"


def sample_rooms(  # noqa: PLR0913 - keyword-only knobs of the sample
    first_day: dt.date,
    days: int,
    rooms_per_day: int,
    messages_per_room: int,
    *,
    seed: int = 7,
    first_message_id: int = 99_990,
    empty_days: Iterable[dt.date] = (),
) -> list[dict[str, Any]]:
    """Deterministic rooms with Korean text, oldest first, shaped `{"chat", "message"}`.

    Each day has `rooms_per_day` rooms at random seconds (every fifth shares its `reg_date`
    second with the one before) over all 24 hours, so conversations cross midnight. Statuses
    follow `sample_status` (mostly 2 done; 1 in progress, 0 waiting, 4 chatbot ended,
    3 deleted); channels `out_api` 0, 1 and 2; every third done room is rated. Every room has
    exactly `messages_per_room` messages (at least 3), ids numeric strings unique across the
    sample and increasing with `send_date` (from `first_message_id`, crossing a power of ten
    by default to catch string ordering).

    A conversation: a bot greeting (template, JSON contents) at `reg_date`; the customer's
    first message 2-40 s later (every other room's gives a name and a phone number); then, in
    rooms an agent took (status 1, 2, 3), up to two more customer messages, in every fourth room
    an agent memo, and the first agent answer exactly `FIRST_RESPONSE_SECONDS[k]` after the
    first customer message; more messages (text, images, templates, image buttons) follow.
    `expected_times(rooms)` gives each room's times; the generator checks that they are the
    ones it chose.
    """
    if messages_per_room < MIN_MESSAGES:
        raise ValueError(f"a sample room has at least {MIN_MESSAGES} messages")
    rng = random.Random(seed)  # noqa: S311 - sample data, not secrets
    skip = set(empty_days)
    rooms: list[dict[str, Any]] = []
    chosen: dict[str, int | None] = {}
    for offset in range(days):
        day = first_day + dt.timedelta(days=offset)
        if day in skip or rooms_per_day == 0:
            continue
        seconds = sorted(rng.randrange(86_400) for _ in range(rooms_per_day))
        for index in range(rooms_per_day):
            if index and index % 5 == 0:
                seconds[index] = seconds[index - 1]
            registered = dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=seconds[index])
            room, first_response = _sample_room(rng, len(rooms), registered, messages_per_room)
            rooms.append(room)
            chosen[room["chat"]["id"]] = first_response
    _number_messages(rooms, first_message_id)
    measured = expected_times(rooms)
    for room_id, seconds_chosen in chosen.items():
        if measured[room_id].first_response_seconds != seconds_chosen:
            raise RuntimeError(f"sample room {room_id}: the first response is not as chosen")
    return rooms


# A support centre's week (`support_centre_rooms`): how many rooms a day opens, and how the
# customers' first messages spread over the hours of an open day and of a closed one (weights).
OPEN_DAY_ROOMS = (6, 10)
CLOSED_DAY_ROOMS = (2, 4)
OPEN_DAY_HOURS = (
    2,
    1,
    1,
    0.5,
    0.5,
    0.5,
    1,
    2,
    4,
    10,
    14,
    13,
    8,
    11,
    13,
    12,
    11,
    9,
    6,
    5,
    5,
    5,
    4,
    3,
)
CLOSED_DAY_HOURS = (
    1,
    1,
    0.5,
    0.5,
    0.5,
    0.5,
    0.5,
    1,
    2,
    3,
    4,
    4,
    4,
    4,
    4,
    4,
    4,
    4,
    4,
    4,
    4,
    4,
    3,
    2,
)
OPENING, CLOSING = dt.time(9), dt.time(18)
# First answers while the team works, in seconds: most within minutes, a few on a busy hour.
IN_HOURS_SECONDS = (15, 25, 40, 55, 75, 100, 130, 170, 220, 290, 380, 500, 700, 1000, 1600, 2700)
MORNING_BACKLOG = (60, 2700)  # seconds after opening that an overnight question gets answered


def support_centre_rooms(  # noqa: PLR0913 - keyword-only knobs of the sample
    first_day: dt.date,
    days: int,
    messages_per_room: int,
    *,
    closed_days: Iterable[dt.date] = (),
    seed: int = 7,
    first_message_id: int = 99_990,
) -> list[dict[str, Any]]:
    """Rooms shaped like a Korean support centre's month (the demo's): `sample_rooms`'s rooms.

    The team works 09:00-18:00 Korea time, Monday to Friday, except `closed_days` (public
    holidays). An open day has 6 to 10 rooms, a closed day (weekend, holiday) 2 to 4. Customers
    write mostly in office hours, with a lunch dip and an evening tail; on closed days evenly
    over the waking hours. Agents answer while the team works (in 15 s to 45 min); a question
    asked after closing, at night, on a weekend or a holiday waits for the next opening and is
    answered in its first 45 minutes. Channels, ratings, messages and ids as in `sample_rooms`;
    statuses too, except that a room opened before the last two days is no longer waiting or in
    progress (it is done). `expected_times(rooms)` gives each room's times.
    """
    if messages_per_room < MIN_MESSAGES:
        raise ValueError(f"a sample room has at least {MIN_MESSAGES} messages")
    rng = random.Random(seed)  # noqa: S311 - sample data, not secrets
    schedule = _OfficeHours(frozenset(closed_days))
    settled = first_day + dt.timedelta(days=days - 2)  # rooms opened before it are done
    rooms: list[dict[str, Any]] = []
    chosen: dict[str, int | None] = {}
    for offset in range(days):
        day = first_day + dt.timedelta(days=offset)
        works = schedule.works(day)
        count = rng.randint(*(OPEN_DAY_ROOMS if works else CLOSED_DAY_ROOMS))
        hours = rng.choices(
            range(24), weights=OPEN_DAY_HOURS if works else CLOSED_DAY_HOURS, k=count
        )
        for second in sorted(hour * 3600 + rng.randrange(3600) for hour in hours):
            registered = dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=second)
            status = sample_status(len(rooms))
            if day < settled and status in {"0", "1"}:
                status = "2"
            room, first_response = _sample_room(
                rng,
                len(rooms),
                registered,
                messages_per_room,
                answer=schedule.answer,
                status=status,
            )
            rooms.append(room)
            chosen[room["chat"]["id"]] = first_response
    _number_messages(rooms, first_message_id)
    measured = expected_times(rooms)
    for room_id, seconds_chosen in chosen.items():
        if measured[room_id].first_response_seconds != seconds_chosen:
            raise RuntimeError(f"sample room {room_id}: the first response is not as chosen")
    return rooms


@dataclass(frozen=True)
class _OfficeHours:
    """The support centre's week: OPENING to CLOSING, Monday to Friday, except `closed`."""

    closed: frozenset[dt.date]

    def works(self, day: dt.date) -> bool:
        """Whether the team works on `day`."""
        return day.weekday() < 5 and day not in self.closed  # noqa: PLR2004 - Saturday is 5

    def answer(self, asked: dt.datetime, rng: random.Random) -> int:
        """Seconds from a question asked at `asked` to its first answer."""
        opens = dt.datetime.combine(asked.date(), OPENING)
        closes = dt.datetime.combine(asked.date(), CLOSING)
        if self.works(asked.date()) and opens <= asked < closes:
            return rng.choice(IN_HOURS_SECONDS)
        if not self.works(asked.date()) or asked >= opens:
            day = asked.date() + dt.timedelta(days=1)
            while not self.works(day):
                day += dt.timedelta(days=1)
            opens = dt.datetime.combine(day, OPENING)
        return int((opens - asked).total_seconds()) + rng.randint(*MORNING_BACKLOG)


def _sample_room(  # noqa: PLR0913 - the room's knobs
    rng: random.Random,
    index: int,
    registered: dt.datetime,
    count: int,
    *,
    answer: AnswerRule | None = None,
    status: str | None = None,
) -> tuple[dict[str, Any], int | None]:
    """One sample room, its messages dated but not numbered, and its first-response seconds.

    `answer` chooses the first-response seconds from when the customer first wrote (default:
    one of `FIRST_RESPONSE_SECONDS`, whatever the hour); `status` the room's (default
    `sample_status(index)`).
    """
    status = status or sample_status(index)
    taken = status in {"1", "2", "3"}
    agent, nickname = rng.choice(AGENTS) if taken else ("", "")
    customer = f"user{rng.randrange(1, 5000):04d}"
    guest = index % 6 == 5  # noqa: PLR2004 - every sixth customer is not logged in
    uuid = f"{SITE_ID}_{'guest' + format(rng.getrandbits(32), '08x') if guest else customer}"
    category = rng.choice(CATEGORIES)
    phone_os, model, os_version = rng.choice(DEVICES)
    app = phone_os != "W"
    ordered = rng.random() < 0.5  # noqa: PLR2004 - half the rooms are about an order
    chat: dict[str, Any] = {
        "id": "".join(rng.choices(string.ascii_letters + string.digits, k=30)),
        "title": rng.choice(TITLES),
        "counselor_name": agent,
        "counselor_nickname": nickname,
        "customer_uuid": uuid,
        "users_id": None if guest else customer,
        "category_id": category[0],
        "division_id": category[1],
        "cate_name1": category[2],
        "cate_name2": category[3],
        "etc_assign": category[4],
        "reg_date": registered.strftime(API_FORMAT),
        "complate_date": ZERO_DATE,
        "out_api": rng.choices(("0", "1", "2"), weights=(5, 2, 3))[0],
        "status": status,
        "order_number": f"{registered:%Y%m%d}-{rng.randrange(10**7):07d}" if ordered else "",
        "product_number": f"P{rng.randrange(10**5):05d}" if ordered else "",
        "parcel_number": f"{rng.randrange(10**12):012d}" if ordered else "",
        "parcel_companycode": rng.choice(COURIERS),
        "app_ver": f"3.{rng.randrange(10)}.{rng.randrange(10)}" if app else "",
        "phone_os": phone_os,
        "phone_model": model,
        "phone_osver": os_version,
        "phone_telecomm": rng.choice(TELECOMS) if app else "",
        "app_hash": format(rng.getrandbits(128), "032x") if app else "",
        "parameter1": "guest" if guest else "member",
        "parameter2": rng.choice(("일반", "VIP", "")),
        **{f"parameter{n}": "" for n in range(3, 11)},
        "tags": rng.sample(TAGS, k=rng.randrange(3)),
        "user_parameter": rng.choice(("", "grade=VIP", "coupon=SPRING24")),
        "vote_score": None,
        "vote_comment": None,
    }
    talk = _Talk(rng, chat, registered, index)
    if taken:
        first_response: int | None = talk.taken(count, answer)
    else:
        first_response = talk.untaken(count, bot=status == "4")
    if status in {"2", "3", "4"}:
        chat["complate_date"] = talk.at(talk.clock + rng.randint(20, 600))
    if status == "2" and index % 3 == 0:
        chat["vote_score"] = str(rng.randint(1, 5))
        chat["vote_comment"] = rng.choice(VOTE_COMMENTS)
    if status == "1":
        talk.messages[-1]["read_date"] = ZERO_DATE  # the last message is not read yet
    return {"chat": chat, "message": talk.messages}, first_response


class _Talk:
    """Builds one sample conversation; `clock` is seconds since `reg_date`."""

    def __init__(
        self, rng: random.Random, chat: dict[str, Any], registered: dt.datetime, index: int
    ) -> None:
        self.rng, self.chat, self.registered, self.index = rng, chat, registered, index
        self.messages: list[dict[str, Any]] = []
        self.clock = 0
        self.introduced = False  # whether the customer gave a name and phone number yet
        name = CUSTOMER_NAMES[rng.randrange(len(CUSTOMER_NAMES))]
        phone = f"010-{rng.randrange(2000, 10000)}-{rng.randrange(10000):04d}"
        self.introduction = f"안녕하세요, {name}입니다. 연락처는 {phone}이에요."

    def at(self, seconds: int) -> str:
        return (self.registered + dt.timedelta(seconds=seconds)).strftime(API_FORMAT)

    def say(  # noqa: PLR0913 - a message's fields
        self,
        seconds: int,
        user_type: str,
        contents: str,
        contents_type: str = "text",
        *,
        memo: bool = False,
        read: bool = True,
    ) -> None:
        customer, agent = self.chat["customer_uuid"], self.chat["counselor_name"]
        sender, recipient = {"C": (customer, agent), "B": (BOT_ID, customer)}.get(
            user_type, (agent, "" if memo else customer)
        )
        read_after = 0 if memo else self.rng.randint(0, 5)
        self.messages.append(
            {
                "from_id": sender,
                "to_id": recipient,
                "type": "M" if memo else "C",
                "user_type": user_type,
                "contents_type": contents_type,
                "contents": contents,
                "send_date": self.at(seconds),
                "read_date": self.at(seconds + read_after) if read else ZERO_DATE,
            }
        )
        self.clock = max(self.clock, seconds)

    def greet(self) -> int:
        """The bot's greeting and the customer's first message; the second it was sent."""
        self.say(
            0, "B", _template(BOT_LINES[0], ("주문 조회", "배송 문의", "상담원 연결")), "template"
        )
        first = self.rng.randint(2, 40)
        # Every other room's first customer message names the customer; the others' second.
        line = self._customer_line() if self.index % 2 == 0 else self.rng.choice(CUSTOMER_LINES)
        self.say(first, "C", line, read=self.chat["status"] != "0")
        return first

    def taken(self, count: int, answer: AnswerRule | None = None) -> int:
        """A conversation an agent took; the first-response seconds chosen (by `answer`)."""
        first = self.greet()
        budget = count - MIN_MESSAGES
        if answer is None:
            first_response = self.rng.choice(FIRST_RESPONSE_SECONDS)
        else:
            first_response = answer(self.registered + dt.timedelta(seconds=first), self.rng)
        extra = min(self.rng.randint(0, 2), budget)
        for step in range(1, extra + 1):
            self.say(first + first_response * step // (extra + 1), "C", self._customer_line())
        budget -= extra
        if self.index % 4 == 1 and budget:
            self.say(first + first_response - 3, "H", self.rng.choice(MEMOS), memo=True)
            budget -= 1
        greeting = (
            f"안녕하세요, 상담원 {self.chat['counselor_nickname']}입니다. 무엇을 도와드릴까요?"
        )
        self.say(first + first_response, "H", greeting)
        for turn in range(budget):
            self._more(agent=turn % 2 == 1)
        return first_response

    def untaken(self, count: int, *, bot: bool) -> int | None:
        """A conversation no agent took: with the chatbot (`bot`), or waiting for intake."""
        self.greet()
        for turn in range(count - 2):
            seconds = self.clock + self.rng.randint(5, 120)
            if bot and turn % 2 == 0:
                self.say(seconds, "B", self.rng.choice(BOT_LINES))
            else:
                self.say(seconds, "C", self._customer_line(), read=bot)
        return None  # no agent, no first response

    def _more(self, *, agent: bool) -> None:
        seconds = self.clock + self.rng.randint(5, 240)
        kind = self.rng.randrange(6)
        if not agent:
            if kind == 0:
                self.say(seconds, "C", _image(self.rng), "image")
            else:
                self.say(seconds, "C", self._customer_line())
        elif kind == 0:
            buttons = ("교환 신청", "반품 신청")
            self.say(seconds, "H", _template("원하시는 처리를 선택해 주세요.", buttons), "template")
        elif kind == 1:
            self.say(seconds, "H", _image(self.rng), "nomal")
        else:
            self.say(seconds, "H", self.rng.choice(AGENT_LINES))

    def _customer_line(self) -> str:
        if not self.introduced:
            self.introduced = True
            return self.introduction
        return self.rng.choice(CUSTOMER_LINES)


def _template(text: str, buttons: Sequence[str]) -> str:
    """A template message's contents: a JSON string (buttons, a link)."""
    choices = [{"name": name, "type": "text"} for name in buttons]
    link = {"name": "주문 내역 보기", "type": "url", "url": "https://shop.example.com/orders"}
    return json.dumps(
        {"type": "buttons", "text": text, "buttons": [*choices, link]}, ensure_ascii=False
    )


def _image(rng: random.Random) -> str:
    return f"https://image.happytalk.io/upload/{SITE_ID}/{rng.getrandbits(64):016x}.jpg"


def _number_messages(rooms: Sequence[Mapping[str, Any]], first_id: int) -> None:
    """Give every message an id: increasing with `send_date` across rooms, as auto-increment."""
    every = [
        (message["send_date"], order, position, message)
        for order, room in enumerate(rooms)
        for position, message in enumerate(room["message"])
    ]
    every.sort(key=lambda entry: entry[:3])
    for number, (*_, message) in enumerate(every, start=first_id):
        message["id"] = str(number)
    for room in rooms:
        room["message"].sort(key=_message_order)
        for message in room["message"]:
            message_fields = {name: message[name] for name in MESSAGE_FIELDS}
            message.clear()
            message.update(message_fields)
