"""What HappyTalk's answers mean: their JSON, its fail codes, and the data of each call.

Every answer is `{"result": "success", "data": ...}` or `{"result": "fail", "code": ...,
"message": ...}`. What a success must hold differs by call; each call's reader below says
what it accepts, and anything else is an error that names the call.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from tap_happytalk.errors import (
    HappyTalkRefusedError,
    HappyTalkResponseError,
    UndocumentedAnswerError,
    redact,
)
from tap_happytalk.records import WALL_CLOCK

if TYPE_CHECKING:
    from tap_happytalk.windows import DayWindow

# HappyTalk's documented fail codes of its customer-token calls.
TOKEN_INVALID = -501
UNAUTHORIZED = -502
NOT_FOUND = -503  # no such room (or customer)
RANGE_TOO_LONG = -504

# What to do about each documented fail code, as advice a person can act on.
FAIL_CODE_ADVICE = {
    TOKEN_INVALID: (
        "the token is missing or invalid; check the `token` setting against the HappyTalk "
        "console (Settings > Company information > System information > TOKEN)"
    ),
    UNAUTHORIZED: (
        "this token may not use this API; ask your HappyTalk administrator or HappyTalk to "
        "allow it, or use a token that may"
    ),
    NOT_FOUND: "HappyTalk knows no such room or customer (it may have been deleted)",
    RANGE_TOO_LONG: (
        "HappyTalk says the range is longer than it allows, which is a fault in the tap's own "
        "windows: please report it to tap-happytalk, naming {what}"
    ),
}
FAIL_DETAIL_KEYS = ("code", "error_code", "fail_code", "message", "msg", "error", "reason")
SNIPPET_LENGTH = 120

logger = logging.getLogger(__name__)


def whole_number(code: object) -> int | None:
    """A whole number HappyTalk documents as an int and may send as its text (a fail code)."""
    try:
        return int(str(code).strip())
    except ValueError:
        return None


def fail_code_advice(code: object, what: str) -> str | None:
    """What to do about a documented fail `code` for the request `what`; None if unknown."""
    number = whole_number(code)
    advice = FAIL_CODE_ADVICE.get(number) if number is not None else None
    return advice.format(what=what) if advice else None


def decode(content: bytes, what: str, token: str) -> dict[str, Any]:
    """HappyTalk's successful answer to the request `what`, as a JSON object.

    Raises:
        HappyTalkRefusedError: HappyTalk answered `result: fail`; the error carries its
            code, read as a number when it is one.
        UndocumentedAnswerError: The answer is not JSON, not an object, or has no
            `result: success`.
    """
    try:
        body = msgspec.json.decode(content)
    except msgspec.DecodeError:
        # Redact before cutting, so no part of the token survives at the cut.
        text = redact(content[:4096].decode("utf-8", errors="replace"), token)
        snippet = text[:SNIPPET_LENGTH].replace("\n", " ")
        msg = f"HappyTalk's answer for {what} is not JSON: {snippet!r}"
        raise UndocumentedAnswerError(msg) from None
    if not isinstance(body, dict):
        msg = f"HappyTalk's answer for {what} is not a JSON object"
        raise UndocumentedAnswerError(msg)
    result = body.get("result")
    if result == "fail":
        detail = _fail_detail(body, token)
        advice = fail_code_advice(body.get("code"), what)
        msg = f"HappyTalk refused the request for {what}: {detail}"
        raise HappyTalkRefusedError(
            f"{msg}: {advice}" if advice else msg, whole_number(body.get("code"))
        )
    if result != "success":
        msg = f"HappyTalk's answer for {what} has result {result!r}, not 'success'"
        raise UndocumentedAnswerError(msg)
    return body


def _fail_detail(body: dict[str, Any], token: str) -> str:
    """HappyTalk's code and message, whatever names it gives them."""
    known = [body[key] for key in FAIL_DETAIL_KEYS if body.get(key) is not None]
    known = [v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for v in known]
    if any(known):
        detail = " ".join(value for value in known if value)
    else:
        rest = {k: v for k, v in body.items() if k not in {"result", "data"}}
        detail = json.dumps(rest, ensure_ascii=False) if rest else "no code or message given"
    return redact(detail, token)


def service_history_rows(body: dict[str, Any], window: DayWindow) -> list[dict[str, Any]] | None:
    """The rows of a successful service-history answer, in the order HappyTalk sent them.

    None for a success without data (no `data`, `null`, `{}`): maybe an honest empty day,
    maybe a glitch; the stream takes it as empty for now and asks again later (`unconfirmed`).

    Raises:
        HappyTalkResponseError: `data` is not a list of records.
    """
    data = body.get("data")
    if data is None or data == {}:
        return None
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        msg = f"HappyTalk's answer for {window} has 'data' that is not a list of records"
        raise HappyTalkResponseError(msg)
    return data


@dataclass(frozen=True)
class RoomListPage:
    """One page of a day's room list: its rooms, and HappyTalk's count of the whole list."""

    rooms: list[dict[str, Any]]
    total: int | None  # None when HappyTalk sent no `total_count`
    # A first page answered successfully without data (`data` or `chat_list` missing, null or
    # empty in another shape): maybe an honest empty day, maybe a glitch; asked again later.
    unconfirmed: bool = False


def room_list_page(body: dict[str, Any], what: str, page: int, page_size: int) -> RoomListPage:
    """A room-list page's rooms and HappyTalk's `total_count` (a number, or its text).

    Raises:
        UndocumentedAnswerError: No `data` object or `chat_list` of rooms past the first page
            (a first page without them is `unconfirmed`), a room without an id
            or a `Y-m-d H:i:s` opening time, a `total_count` that is not a number, rooms on a
            page that starts past `total_count`, or a last page that ends before it.
    """
    data = body.get("data")
    if page == 1 and _without_data(data):
        return RoomListPage([], None, unconfirmed=True)
    if not isinstance(data, dict):
        msg = f"HappyTalk's answer for {what} has no 'data' object"
        raise UndocumentedAnswerError(msg)
    rooms = data.get("chat_list")
    if not isinstance(rooms, list) or not all(isinstance(room, dict) for room in rooms):
        msg = f"HappyTalk's answer for {what} has no 'chat_list' of rooms"
        raise UndocumentedAnswerError(msg)
    for room in rooms:
        _check_opened(room, what)
    counted = data.get("total_count")
    total = None if counted is None else whole_number(counted)
    if counted is not None and (total is None or isinstance(counted, bool) or total < 0):
        msg = f"HappyTalk's answer for {what} has total_count {counted!r}"
        raise UndocumentedAnswerError(msg)
    if rooms and total is not None and (page - 1) * page_size >= total:
        msg = f"HappyTalk sent {len(rooms)} rooms for {what}, past its own total_count {total}"
        raise UndocumentedAnswerError(msg)
    if total is not None and len(rooms) < page_size and (page - 1) * page_size + len(rooms) < total:
        msg = (
            f"HappyTalk's last page for {what} ends at room {(page - 1) * page_size + len(rooms)} "
            f"of its own total_count {total}"
        )
        raise UndocumentedAnswerError(msg)
    return RoomListPage(rooms, total)


def _without_data(data: object) -> bool:
    """A success that holds no list at all: no `data`, `null`, `[]`, `{}`, no `chat_list`."""
    if data is None or data in ([], {}):
        return True
    return isinstance(data, dict) and data.get("chat_list") is None


def room_data(
    body: dict[str, Any], what: str, room_id: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The room and its messages from a `chat_data` answer: one entry, `chat` and `message`.

    Raises:
        UndocumentedAnswerError: The answer holds no room, another room, more than one, a
            room without its `reg_date`, or no list of messages.
    """
    data = body.get("data")
    if not isinstance(data, list) or len(data) != 1 or not isinstance(data[0], dict):
        msg = f"HappyTalk's answer for {what} holds no room, or more than one"
        raise UndocumentedAnswerError(msg)
    chat, rows = data[0].get("chat"), data[0].get("message")
    if not isinstance(chat, dict) or chat.get("id") != room_id:
        ident = chat.get("id") if isinstance(chat, dict) else None
        msg = f"HappyTalk answered {what} with room {ident!r}"
        raise UndocumentedAnswerError(msg)
    _check_opened(chat, what)
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        msg = f"HappyTalk's answer for {what} has no list of messages"
        raise UndocumentedAnswerError(msg)
    return chat, rows


def _check_opened(room: dict[str, Any], what: str) -> None:
    """A room must have an id and a `Y-m-d H:i:s` opening time: pages and days follow it.

    Raises:
        UndocumentedAnswerError: It has not.
    """
    ident, opened = room.get("id"), room.get("reg_date")
    if not ident or not isinstance(ident, str):
        msg = f"HappyTalk sent a room without an id for {what}"
        raise UndocumentedAnswerError(msg)
    if not isinstance(opened, str) or WALL_CLOCK.fullmatch(opened) is None:
        msg = f"HappyTalk sent room {ident} for {what} with reg_date {opened!r}, not Y-m-d H:i:s"
        raise UndocumentedAnswerError(msg)
