"""A HappyTalk-compatible server on 127.0.0.1, for tests, benchmarks and the demo (not shipped).

What it serves: HappyTalk's service-history call on both of its documented paths (see
`tap_happytalk.endpoints`, and the README's list of what HappyTalk does not document), from
the events it was given (`sample_events` makes some), and HappyTalk's two consultation (chat)
calls (`local_happytalk.chats`: from the rooms it was given, `sample_rooms` makes some).

A service-history request is a `POST` with the JSON body `{token, start_date, end_date}` (plus
`format` on the bnd path); the answer is HTTP 200 with `{"result": "success", "data": [...]}`:
the events whose `request_date` lies in the range, both ends inclusive to the second, newest
first (a shared second: the higher id first). The bnd path answers SIEM strings without login
rows unless `format` is `raw`.

The chat calls (HappyTalk's chat API page, sections 1 and 2), on both hosts' server alike: `POST
/user/api/chat_room_lists/format/json` `{token, ndate | sdate+edate, status, sort_key,
sort_value, limit, page}` answers `{"result": "success", "data": {"page", "limit",
"total_count", "chat_list": [rooms]}}`; `POST /user/api/chat_data/format/json` `{token,
room_id}` answers `{"result": "success", "data": [{"chat": {room and rating}, "message":
[...]}]}`, or -503 room. `server.chats` (a `ChatRooms`) holds the rooms: tests open, close,
rate, change and delete rooms and add messages there, while a client pages.

Refusals are answered as HappyTalk documents them (its fail-code page):
HTTP 200 and `{"result": "fail", "code": <int>, "message": <one word>}`:

    -501 token          the token is missing or is not the server's `token`
    -502 unAuthorized   the token is one of `unauthorized_tokens`: known, without permission
    -504 overDate       the range is 24 hours or longer, or crosses two dates
    -503 room           chat_data: no room with that `room_id`

ASSUMED — HappyTalk documents no answer for these; this server's choice is an assumption:

    A1  The token is checked before anything else in the body.
    A2  A body that is not a JSON object carries no token: -501 token.
    A3  A range within 24 hours that crosses midnight: -504 overDate. (HappyTalk's old page
        says "one day" and asks for one calendar day; the bnd page says "under 24 hours".)
    A4  End before start: -504 overDate, as a range the call cannot serve.
    A5  A missing or malformed date (not `Y-m-d H:i:s`): code -599, message `date`, a code
        outside HappyTalk's documented set (UNDOCUMENTED_CODE).
    A6  On the bnd path, a `format` other than `raw` or `siem`: code -599, message `format`.
    A7  Every refusal is HTTP 200 (HappyTalk documents no status; so 200 is assumed).
    A8  An unknown path is HTTP 404 with an HTML page; a GET is HTTP 405.

  The chat calls:

    A9  The room list's day filter (`ndate`, `sdate`..`edate`, today) applies to `reg_date`,
        whatever the `sort_key`; both days inclusive.
    A10 `sdate` and `edate` count only together: one without the other is ignored (then
        `ndate`, then today). An empty string is no value. "Today" is the date of the server's
        `clock` (Korea wall-clock time unless a test sets it).
    A11 `sdate`..`edate` may span any number of days (HappyTalk documents no maximum for this
        call); `edate` before `sdate`: -504 overDate (as A4).
    A12 Rooms are sorted by the `sort_key` value as a string (an open room's complate_date
        `0000-00-00 00:00:00` sorts first ascending, last descending), ties broken by the order
        the rooms were added, like an auto-increment key; `desc` is the exact reverse of `asc`.
        Every request sorts the rooms as they are then: a room opened (or closed, for
        `complate_date`) between two page requests moves the rooms sorted after it. With
        `shuffle_ties`, rooms with equal sort keys come in a random order, different on every
        request, as a SQL database is free to give them (HappyTalk documents no tie-break).
    A13 A malformed `ndate`, `sdate` or `edate` (not `Y-m-d`, or no such day): -599 `date`.
    A14 `status`, `limit` and `page` may be ints or strings of ints; anything else, and a `limit`
        or `page` below 1: -599 with the field's name (`status`, `limit`, `page`). A status
        other than 99 keeps the rooms whose `status` equals it (4 finds chatbot-ended rooms,
        an unknown value none); 99 keeps every room, deleted (3) ones too.
    A15 A `limit` over 50 serves 50 rooms and answers `limit` 50 (`limit_over_max` can make it
        refuse with -599 `limit`, or serve as many as asked).
    A16 A `sort_key` or `sort_value` other than the documented ones (compared ignoring case):
        -599 with the field's name.
    A17 A page past the last: success, an empty `chat_list` and the true `total_count`.
    A18 `page`, `limit`, `total_count` are numbers, as HappyTalk's example shows
        (`paging_as_strings` answers strings, as its table says).
    A19 chat_data without a string `room_id`: -503 room. A room whose status is 3 (deleted)
        is still answered; a room removed (`ChatRooms.delete_room`) is not.
    A20 Messages come oldest first (by `send_date`, then numeric `id`). A room's `last_message`
        is the contents of its last message that is no memo (`type` C), "" without one.
    A21 An unread message's `read_date` is `0000-00-00 00:00:00`, as an open room's
        `complate_date`; a memo's is its `send_date`.
    A22 The bot's `from_id` is `happytalk_bot`; a memo's `to_id` is empty, as is a customer's
        message's while no agent has the room.
    A23 A token may read service history and not chats (`chat_permission=False`): -502
        unAuthorized on the chat paths only.

It can be told to misbehave (`inject` a `Fault`: HTTP errors, dropped or cut connections,
slow answers, redirects, extra rows, edited rooms, messages or paging, any body; on one path,
page, room or day), to change rooms right after answering a request (`after_answer`), serve
HTTPS with a certificate no client trusts (`tls=True`), read ranges as if times did not count
(`ignore_time_of_day=True`), serve at most C requests at once and queue the rest
(`capacity=C`, which can change while a client runs), and it logs what it was asked
(`requests`: path, dates, page, room id).

Adding another HappyTalk call (say the per-customer chat calls): write a method that turns a
body into an answer, starting with `self.refuse_token(body)` (the fail codes are shared by
every customer-token call; `permitted=` for a token that may not use it), and add its path to
`routes`. Faults, latency and the request log apply to every path.

Run it alone: `python -m local_happytalk` (port 8765, token `local-test-token`, 30 sample days
from 2024-01-01; `--help` for the rest, with their defaults).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime as dt
import functools
import itertools
import json
import random
import socket
import ssl
import sys
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Literal

from typing_extensions import Self

from local_happytalk.chats import (
    CHAT_DATA_PATH,
    CHAT_ROOM_LISTS_PATH,
    ChatRooms,
    LimitOverMax,
    korea_now,
    sample_rooms,
)
from tap_happytalk.endpoints import BND, CUSTOMER, ENDPOINTS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

API_FORMAT = "%Y-%m-%d %H:%M:%S"
DEFAULT_TOKEN = "local-test-token"  # noqa: S105 - a fixture's token, not a secret

# HappyTalk's documented fail codes (its chat API page, section 4), and this server's code
# for the cases HappyTalk does not document (assumptions A5, A6 above).
TOKEN_FAIL = (-501, "token")
UNAUTHORIZED_FAIL = (-502, "unAuthorized")
OVER_DATE_FAIL = (-504, "overDate")
UNDOCUMENTED_CODE = -599

FaultKind = Literal[
    "status",
    "drop",
    "truncate",
    "delay",
    "refuse",
    "body",
    "redirect",
    "extra_rows",
    "edit_data",
    "edit_rooms",
    "edit_messages",
]

SAMPLE_EVENTS = (
    ("A", "S", "[WEB] {user}({agent})상담원 로그인. IP - (IP정보)", "로그인"),
    ("A", "S", "[WEB] {user}({agent})상담원 로그아웃", "로그아웃"),
    (
        "A",
        "S",
        (
            "상담분류 변경 [{room}번방] - "
            "상품문의(샘플)>일반상담(샘플) → 상품문의(샘플)>불만접수(샘플)"
        ),
        "성공",
    ),
    ("M", "K", "API 키 발급 요청 ({user})", "성공"),
    ("M", "A", "상담 아카이브 다운로드 요청 [{room}번방]", "성공"),
    ("A", "A", "상담 내역 자동 아카이브 ({day})", "성공"),
)


@dataclass(frozen=True)
class Fault:
    """One way to misbehave for one request (give it to `LocalHappyTalk.inject`).

    kind:
    - `status`: answers HTTP `status` with an HTML page (and a `Retry-After: retry_after`
      header, if given).
    - `drop`: closes the connection without an answer.
    - `truncate`: sends the headers and half the genuine body, then closes the connection.
    - `delay`: waits `seconds`, then answers normally. A server that is stopped meanwhile
      drops the connection instead, so a long delay never holds up `stop()`.
    - `refuse`: answers HTTP 200 `{"result": "fail", **body}`.
    - `body`: answers `text`, whatever it is, with HTTP `status` (JSON content type).
    - `redirect`: answers HTTP `status` (a 3xx; give it) with `Location: location` and a small
      HTML page; nothing else is sent, and nothing is forwarded to `location`.
    - `extra_rows`: the genuine answer, with `rows` appended as given (an int id, a date
      outside the window, a room without `id`: whatever the test needs): to its `data`
      (service history), to its `chat_list` (room list: 51 rows make a page over the maximum),
      to its room's `message` (chat_data). A refusal stays a refusal.
    - `edit_data`: the room list's answer, with `body` merged into its `data` and the `remove`
      keys deleted: a `total_count` the pages disagree with, a `page` it was not asked.
    - `edit_rooms`: the genuine chat answer, with `body` merged into its rooms and their
      `remove` fields deleted (every room of the page, or the one at `index`; chat_data: its
      `chat`): a room without `id`, a malformed `reg_date`, a status as a number.
    - `edit_messages`: chat_data's answer, the same for its messages (all, or the one at
      `index`): a message without `id`, a malformed `send_date`.
    The `edit_*` kinds leave other answers, and refusals, as they are.
    """

    kind: FaultKind
    status: int = 500
    retry_after: str | None = None
    seconds: float = 0.0
    body: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    location: str | None = None
    rows: Sequence[Mapping[str, Any]] = ()
    remove: Sequence[str] = ()
    index: int | None = None

    def __post_init__(self) -> None:
        """Refuse a redirect that could not be one."""
        is_redirect = HTTPStatus.MULTIPLE_CHOICES <= self.status < HTTPStatus.BAD_REQUEST
        if self.kind == "redirect" and not (self.location and is_redirect):
            raise ValueError("a redirect needs a `location` and a 3xx `status`")

    def amend(self, answer: dict[str, Any], path: str | None = None) -> dict[str, Any]:
        """The answer to send instead of the genuine `answer` to `path`, if the fault changes it."""
        if self.kind == "refuse":
            return {"result": "fail", **self.body}
        if answer.get("result") != "success":
            return answer
        data = answer.get("data")
        if self.kind == "extra_rows" and isinstance(data, dict):  # the room list
            rooms = [*(data.get("chat_list") or []), *map(dict, self.rows)]
            return {**answer, "data": {**data, "chat_list": rooms}}
        if self.kind == "extra_rows" and path == CHAT_DATA_PATH and data:
            answer = copy.deepcopy(answer)
            answer["data"][0]["message"].extend(map(dict, self.rows))
            return answer
        if self.kind == "extra_rows":
            return {**answer, "data": [*(data or []), *map(dict, self.rows)]}
        if self.kind == "edit_data" and isinstance(data, dict):
            answer = copy.deepcopy(answer)
            self._edit([answer["data"]])
        elif self.kind == "edit_rooms" and isinstance(data, dict):
            answer = copy.deepcopy(answer)
            self._edit(answer["data"].get("chat_list") or [])
        elif self.kind == "edit_rooms" and path == CHAT_DATA_PATH:
            answer = copy.deepcopy(answer)
            self._edit([item["chat"] for item in answer["data"]])
        elif self.kind == "edit_messages" and path == CHAT_DATA_PATH:
            answer = copy.deepcopy(answer)
            self._edit([m for item in answer["data"] for m in item["message"]])
        return answer

    def _edit(self, targets: list[dict[str, Any]]) -> None:
        """Merge `body` into the targets (all, or the one at `index`), then delete `remove`."""
        chosen = targets if self.index is None else targets[self.index : self.index + 1 or None]
        for target in chosen:
            target.update(copy.deepcopy(self.body))
            for name in self.remove:
                target.pop(name, None)


@dataclass(frozen=True)
class ReceivedRequest:
    """What the server was asked, for tests to check."""

    path: str
    start_date: str | None
    end_date: str | None
    token_matched: bool
    format: str | None
    content_type: str | None
    received_at: float
    query: str
    concurrent: int
    client_port: int
    # The chat calls' fields, as sent (None when absent).
    sdate: str | None = None
    edate: str | None = None
    ndate: str | None = None
    page: Any = None
    limit: Any = None
    status: Any = None
    sort_key: str | None = None
    sort_value: str | None = None
    room_id: str | None = None

    @property
    def day(self) -> str:
        """The day (and time) asked: `start_date`, else `sdate`, else `ndate`; "" for none."""
        return str(self.start_date or self.sdate or self.ndate or "")

    @property
    def page_number(self) -> int | None:
        """The room list's page as a number (1 when not given); None on other paths."""
        if self.path != CHAT_ROOM_LISTS_PATH:
            return None
        if self.page is None:
            return 1
        page = str(self.page).strip()
        return int(page) if page.isdigit() else None


@dataclass(frozen=True)
class _Scope:
    """Which requests a fault or an action is for: each given criterion must match."""

    day: str | None = None
    path: str | None = None
    page: int | None = None
    room_id: str | None = None

    def matches(self, request: ReceivedRequest) -> bool:
        # Without a path, `day` is service history's start_date, as it always was: a fault
        # meant for a day of service history does not hit the room list of that day.
        asked = str(request.start_date or "") if self.path is None else request.day
        return (
            (self.day is None or asked.startswith(self.day))
            and (self.path is None or request.path == self.path)
            and (self.page is None or request.page_number == self.page)
            and (self.room_id is None or request.room_id == self.room_id)
        )


@dataclass
class _Action:
    """What `after_answer` was told: call `action` after `times` more matching requests."""

    scope: _Scope
    action: Callable[[LocalHappyTalk], object]
    times: int


def sample_events(  # noqa: PLR0913 - keyword-only knobs of the sample
    first_day: dt.date,
    days: int,
    per_day: int,
    *,
    empty_days: Iterable[dt.date] = (),
    seed: int = 7,
    first_id: int = 100_000,
) -> list[dict[str, str]]:
    """Deterministic service-history rows, oldest first, with shared seconds and Korean text.

    Every fifth event shares its second with the one before, so ordering by `id` matters;
    ids cross a power of ten when `first_id` is just below one, to catch string ordering.
    """
    rng = random.Random(seed)  # noqa: S311 - sample data, not secrets
    skip = set(empty_days)
    rows: list[dict[str, str]] = []
    next_id = first_id
    for offset in range(days):
        day = first_day + dt.timedelta(days=offset)
        if day in skip or per_day == 0:
            continue
        seconds = sorted(rng.randrange(86_400) for _ in range(per_day))
        for index in range(per_day):
            if index and index % 5 == 0:
                seconds[index] = seconds[index - 1]
            moment = dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=seconds[index])
            kind_type, kind, content, result = rng.choice(SAMPLE_EVENTS)
            user = f"agent-{rng.randrange(1, 30):02d}"
            agent = str(37000 + rng.randrange(300))
            stamp = moment.strftime(API_FORMAT)
            rows.append(
                {
                    "id": str(next_id),
                    "type": kind_type,
                    "kind": kind,
                    "request_user": user,
                    "request_content": content.format(
                        user=user, agent=agent, room=f"{rng.getrandbits(48):012x}", day=day
                    ),
                    "request_date": stamp,
                    "apply_id": agent,
                    "apply_content": result,
                    "apply_date": stamp,
                }
            )
            next_id += 1
    return rows


class LocalHappyTalk:
    """The server: start it, point the tap at `url`, stop it (or use it as a context manager)."""

    def __init__(  # noqa: PLR0913 - keyword-only knobs of a test server
        self,
        events: Iterable[dict[str, Any]] = (),
        *,
        token: str = DEFAULT_TOKEN,
        unauthorized_tokens: Iterable[str] = (),
        latency_seconds: float = 0.0,
        jitter_seconds: float = 0.0,
        port: int = 0,
        endpoints: Iterable[str] = tuple(ENDPOINTS),
        tls: bool = False,
        ignore_time_of_day: bool = False,
        rooms: Iterable[Mapping[str, Any]] = (),
        chats: bool = True,
        chat_permission: bool = True,
        paging_as_strings: bool = False,
        limit_over_max: LimitOverMax = "clamp",
        clock: Callable[[], dt.datetime] = korea_now,
        shuffle_ties: bool = False,
        capacity: int | None = None,
        queue_timeout_seconds: float = 1.0,
        over_capacity_status: int = HTTPStatus.SERVICE_UNAVAILABLE,
    ) -> None:
        """Serve `events` on the paths of `endpoints` (both, unless told otherwise).

        `token` is answered; `unauthorized_tokens` are known but refused with -502
        unAuthorized; any other token gets -501 token. Every answer waits `latency_seconds`,
        as a distant API would, plus a random part of `jitter_seconds` (seeded), so that
        parallel requests finish out of order. With `tls`, the server speaks HTTPS only, with a
        certificate for 127.0.0.1 and localhost from a throwaway CA that nothing trusts (it is
        kept in memory and installed nowhere): any client that verifies certificates fails.
        With `ignore_time_of_day`, the server misreads ranges as HappyTalk might: it checks
        them as usual, then answers every row of the start's date, whatever the times.

        The chat calls serve `rooms` (as `sample_rooms` makes them), held in `self.chats`, on
        their paths (404 with `chats=False`, as a host without them). With
        `chat_permission=False`, `token` reads service history but gets -502 unAuthorized on
        the chat paths (A23); it is an attribute, to change while running. `clock` is "now"
        for the chat calls (today's rooms; rooms and messages added without a date);
        `paging_as_strings`, `limit_over_max` and `shuffle_ties` are `ChatRooms`'s options.

        With `capacity` C (capacity mode), at most C requests are served at once, each in
        `latency_seconds` (and jitter); the rest queue, first come first served, and one that
        waited `queue_timeout_seconds` is answered `over_capacity_status` (503, or 429) with an
        HTML page and no `Retry-After`. `capacity` is an attribute: set it while the tap runs
        to change what the server can take; `refused_over_capacity` counts the refusals.
        """
        self.token = token
        self.unauthorized_tokens = set(unauthorized_tokens)
        self.jitter_seconds = jitter_seconds
        self._random = random.Random(7)  # noqa: S311 - jitter, not secrets
        self.paths = {ENDPOINTS[name].path: name for name in endpoints}
        # What answers each path: a body (any JSON, or None when it was not JSON) in, the
        # answer out. Further HappyTalk calls add their paths here.
        self.routes: dict[str, Callable[[Any], dict[str, Any]]] = {
            path: functools.partial(self.answer, endpoint=name) for path, name in self.paths.items()
        }
        self.chat_permission = chat_permission
        self.chats = ChatRooms(
            rooms,
            clock=clock,
            paging_as_strings=paging_as_strings,
            limit_over_max=limit_over_max,
            shuffle_ties=shuffle_ties,
        )
        if chats:
            self.routes[CHAT_ROOM_LISTS_PATH] = self.chat_room_lists
            self.routes[CHAT_DATA_PATH] = self.chat_data
        self.latency_seconds = latency_seconds
        self._capacity = _Capacity(capacity) if capacity is not None else None
        self.queue_timeout_seconds = queue_timeout_seconds
        self.over_capacity_status = over_capacity_status
        self.ignore_time_of_day = ignore_time_of_day
        self.requests: list[ReceivedRequest] = []
        self._by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._faults: list[tuple[_Scope, Fault]] = []
        self._actions: list[_Action] = []
        self._lock = threading.Lock()
        self._in_progress = 0
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self.add_events(events)
        self._http = _Server(("127.0.0.1", port), _Handler)
        self._http.happytalk = self
        self._scheme = "http"
        if tls:
            self._scheme = "https"
            self._http.socket = _untrusted_tls().wrap_socket(
                self._http.socket, server_side=True, do_handshake_on_connect=False
            )
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def capacity(self) -> int | None:
        """Requests served at once in capacity mode; None: no limit."""
        return self._capacity.limit if self._capacity is not None else None

    @capacity.setter
    def capacity(self, limit: int) -> None:
        if self._capacity is None:
            msg = "capacity can change only on a server started with one"
            raise ValueError(msg)
        self._capacity.change(limit)

    @property
    def refused_over_capacity(self) -> int:
        """Requests answered `over_capacity_status` because they queued too long."""
        return self._capacity.refused if self._capacity is not None else 0

    @property
    def most_served_at_once(self) -> int:
        """In capacity mode, the most requests served at once (queued ones not counted)."""
        return self._capacity.most_served if self._capacity is not None else 0

    @property
    def url(self) -> str:
        """Base URL to give the tap as `api_url` (`https://` with `tls`)."""
        host, port = self._http.server_address[:2]
        return f"{self._scheme}://{host!s}:{port}"

    def start(self) -> Self:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: close the socket and every open connection, and return at once.

        It does not wait for requests still being answered (a `delay` fault, latency): their
        threads are daemons, and they drop their connection instead of answering.
        """
        self._stopping.set()
        if self._thread.is_alive():
            self._http.shutdown()
        self._http.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            _shut(connection)

    def __enter__(self) -> Self:
        """Start on entry."""
        return self.start()

    def __exit__(self, *_: object) -> None:
        """Stop on exit."""
        self.stop()

    def add_events(self, events: Iterable[dict[str, Any]]) -> None:
        """Make more events available, as HappyTalk does when things happen."""
        with self._lock:
            for event in events:
                self._by_day[str(event["request_date"])[:10]].append(dict(event))
            for rows in self._by_day.values():
                rows.sort(key=_newest_first, reverse=True)

    def inject(  # noqa: PLR0913 - keyword-only criteria
        self,
        fault: Fault,
        *,
        times: int = 1,
        day: str | None = None,
        path: str | None = None,
        page: int | None = None,
        room_id: str | None = None,
    ) -> None:
        """Misbehave `times` times, on the requests that match every criterion given (or any).

        `day` is a date (`2024-03-01`) or a date and time (`2024-03-01 12:00:00`) that the
        request's `start_date` begins with (given `path`, the room list's `sdate`, else its
        `ndate`, count too; without `path`, only service-history requests match a `day`);
        `path` a path; `page` a room-list page (a request without `page` asks for page 1);
        `room_id` chat_data's room. Faults act in the order they were injected.
        """
        scope = _Scope(day=day, path=path, page=page, room_id=room_id)
        with self._lock:
            self._faults.extend([(scope, fault)] * times)

    def after_answer(  # noqa: PLR0913 - keyword-only criteria
        self,
        action: Callable[[LocalHappyTalk], object],
        *,
        times: int = 1,
        day: str | None = None,
        path: str | None = CHAT_ROOM_LISTS_PATH,
        page: int | None = None,
        room_id: str | None = None,
    ) -> None:
        """Call `action(self)` after answering a matching request, `times` times.

        It runs once the answer is made and before it is sent, so the client's next request
        sees what it changed: `server.after_answer(lambda s: s.chats.add_room(), page=1)`
        opens a room while a client pages. The criteria are `inject`'s; `path` defaults to
        the room list.
        """
        scope = _Scope(day=day, path=path, page=page, room_id=room_id)
        with self._lock:
            self._actions.append(_Action(scope, action, times))

    def _act_after(self, request: ReceivedRequest) -> None:
        with self._lock:
            due = [entry for entry in self._actions if entry.scope.matches(request)]
            for entry in due:
                entry.times -= 1
            self._actions = [entry for entry in self._actions if entry.times > 0]
        for entry in due:
            entry.action(self)

    def clear_faults(self) -> None:
        """Behave again: forget every fault not yet acted out."""
        with self._lock:
            self._faults.clear()

    def _next_fault(self, request: ReceivedRequest) -> Fault | None:
        with self._lock:
            for index, (scope, fault) in enumerate(self._faults):
                if scope.matches(request):
                    del self._faults[index]
                    return fault
        return None

    def _pause(self, seconds: float) -> bool:
        """Wait `seconds`; False if the server was stopped meanwhile."""
        return not self._stopping.wait(seconds) if seconds > 0 else not self._stopping.is_set()

    def refuse_token(self, body: Any, *, permitted: bool = True) -> dict[str, Any] | None:  # noqa: ANN401 - any JSON
        """HappyTalk's refusal of the token in `body` (any customer-token call), or None.

        `permitted`: whether the server's own token may use this call (A23).
        """
        token = body.get("token") if isinstance(body, dict) else None  # A2: no object, no token
        if isinstance(token, str) and token == self.token:
            return None if permitted else _fail(*UNAUTHORIZED_FAIL)
        if isinstance(token, str) and token in self.unauthorized_tokens:
            return _fail(*UNAUTHORIZED_FAIL)
        return _fail(*TOKEN_FAIL)

    def answer(self, body: Any, endpoint: str = CUSTOMER.name) -> dict[str, Any]:  # noqa: ANN401
        """HappyTalk's answer to a service-history body on `endpoint` (no faults, no latency)."""
        answer = self._records(body)
        if endpoint != BND.name or answer["result"] != "success":
            return answer
        answer_format = body.get("format") or "siem"
        if answer_format == "raw":
            return answer
        if answer_format == "siem":
            rows = [row for row in answer["data"] if "로그인" not in row.get("apply_content", "")]
            return {"result": "success", "data": [_siem(row) for row in rows]}
        return _fail(UNDOCUMENTED_CODE, "format")  # A6

    def chat_room_lists(self, body: Any) -> dict[str, Any]:  # noqa: ANN401 - any JSON
        """HappyTalk's answer to a room-list body (no faults, no latency)."""
        refusal = self.refuse_token(body, permitted=self.chat_permission)  # A1: the token first
        return refusal if refusal is not None else self.chats.room_list(body)

    def chat_data(self, body: Any) -> dict[str, Any]:  # noqa: ANN401 - any JSON
        """HappyTalk's answer to a chat_data body: one room with its messages."""
        refusal = self.refuse_token(body, permitted=self.chat_permission)
        return refusal if refusal is not None else self.chats.chat_data(body)

    def _records(self, body: Any) -> dict[str, Any]:  # noqa: ANN401 - any JSON a client sends
        refusal = self.refuse_token(body)  # A1: the token first
        if refusal is not None:
            return refusal
        try:
            # HappyTalk's wall-clock times are naive, and so is this server.
            start = dt.datetime.strptime(str(body.get("start_date")), API_FORMAT)  # noqa: DTZ007
            end = dt.datetime.strptime(str(body.get("end_date")), API_FORMAT)  # noqa: DTZ007
        except ValueError:
            return _fail(UNDOCUMENTED_CODE, "date")  # A5
        if end < start or end - start >= dt.timedelta(days=1) or end.date() != start.date():
            return _fail(*OVER_DATE_FAIL)  # documented; A3 and A4 for the last two
        low, high = start.strftime(API_FORMAT), end.strftime(API_FORMAT)
        if self.ignore_time_of_day:
            low, high = f"{low[:10]} 00:00:00", f"{low[:10]} 23:59:59"
        with self._lock:
            rows = [
                dict(row)
                for row in self._by_day.get(low[:10], [])
                if low <= row["request_date"] <= high
            ]
        return {"result": "success", "data": rows}


CHAT_REQUEST_FIELDS = (
    "sdate",
    "edate",
    "ndate",
    "page",
    "limit",
    "status",
    "sort_key",
    "sort_value",
    "room_id",
)


def _newest_first(row: dict[str, Any]) -> tuple[str, int]:
    return (str(row["request_date"]), int(row["id"]))


SIEM_EVENTS = {
    "로그아웃": "agent_logout",
    "상담분류 변경": "consultation_category_changed",
    "API 키 발급": "api_key_issued",
    "아카이브 다운로드": "archive_download_requested",
    "자동 아카이브": "archive_created",
}


def _siem(row: dict[str, Any]) -> str:
    """A row as the bnd endpoint's SIEM string, with an English event name."""
    content = str(row.get("request_content", ""))
    event = next((name for key, name in SIEM_EVENTS.items() if key in content), "service_event")
    return (
        f"{row['request_date']} happytalk service_history id={row['id']} event={event} "
        f"user={row.get('request_user', '')} result={row.get('apply_content', '')}"
    )


def _fail(code: int, message: str) -> dict[str, Any]:
    return {"result": "fail", "code": code, "message": message}


def _shut(connection: socket.socket) -> None:
    """Shut a connection down both ways, unless the other end did already."""
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)


def _untrusted_tls() -> ssl.SSLContext:
    """A server context whose certificate comes from a CA made here, trusted by nothing."""
    import trustme  # noqa: PLC0415 - a dev dependency, needed only for HTTPS

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


class _Capacity:
    """At most `limit` requests served at once; the rest wait their turn, or give up."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.refused = 0
        self.most_served = 0
        self._serving = 0
        self._tickets = itertools.count()
        self._waiting: deque[int] = deque()  # tickets, first come first served
        self._changed = threading.Condition()

    def enter(self, timeout: float) -> bool:
        """Wait for a place, at most `timeout` seconds; False (and counted) if none came."""
        deadline = time.monotonic() + timeout
        with self._changed:
            ticket = next(self._tickets)
            self._waiting.append(ticket)
            while not (self._waiting[0] == ticket and self._serving < self.limit):
                left = deadline - time.monotonic()
                if left <= 0:
                    self._waiting.remove(ticket)
                    self.refused += 1
                    self._changed.notify_all()
                    return False
                self._changed.wait(left)
            self._waiting.popleft()
            self._serving += 1
            self.most_served = max(self.most_served, self._serving)
            self._changed.notify_all()  # the next in line may fit too
            return True

    def leave(self) -> None:
        with self._changed:
            self._serving -= 1
            self._changed.notify_all()

    def change(self, limit: int) -> None:
        with self._changed:
            self.limit = limit
            self._changed.notify_all()


class _Server(ThreadingHTTPServer):
    """Threads that never hold up `stop()`, and no traceback for a client that went away."""

    daemon_threads = True
    block_on_close = False
    happytalk: LocalHappyTalk

    def handle_error(self, request: Any, client_address: Any) -> None:  # noqa: ANN401
        """Stay quiet about failed TLS handshakes and closed connections; report bugs."""
        if isinstance(sys.exc_info()[1], OSError):  # ssl.SSLError and ConnectionError too
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without this, Nagle's algorithm and the client's
    # delayed ACK add 40 ms to every answer.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002, ANN401
        """Stay quiet: tests read the tap's output, not the server's."""

    def setup(self) -> None:
        """Remember the connection, for `stop()` to close."""
        super().setup()
        happytalk = self.server.happytalk
        with happytalk._lock:  # noqa: SLF001 - our own server
            happytalk._connections.add(self.connection)  # noqa: SLF001

    def handle(self) -> None:
        """Finish the TLS handshake (here, not in the accepting thread), then serve."""
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()
        super().handle()

    def finish(self) -> None:
        """Forget the connection."""
        happytalk = self.server.happytalk
        with happytalk._lock:  # noqa: SLF001 - our own server
            happytalk._connections.discard(self.connection)  # noqa: SLF001
        super().finish()

    def do_POST(self) -> None:
        """Answer a HappyTalk request, or misbehave as told."""
        happytalk = self.server.happytalk
        with happytalk._lock:  # noqa: SLF001 - our own server
            happytalk._in_progress += 1  # noqa: SLF001
            concurrent = happytalk._in_progress  # noqa: SLF001
        try:
            self._answer(happytalk, concurrent)
        finally:
            with happytalk._lock:  # noqa: SLF001
                happytalk._in_progress -= 1  # noqa: SLF001

    def _answer(self, happytalk: LocalHappyTalk, concurrent: int) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        fields = body if isinstance(body, dict) else {}
        path, _, query = self.path.partition("?")
        received = ReceivedRequest(
            path=path,
            start_date=fields.get("start_date"),
            end_date=fields.get("end_date"),
            token_matched=fields.get("token") == happytalk.token,
            format=fields.get("format"),
            content_type=self.headers.get("Content-Type"),
            received_at=time.monotonic(),
            query=query,
            concurrent=concurrent,
            client_port=int(self.client_address[1]),
            **{name: fields.get(name) for name in CHAT_REQUEST_FIELDS},
        )
        happytalk.requests.append(received)
        route = happytalk.routes.get(path)
        if route is None:
            self._send(
                HTTPStatus.NOT_FOUND, b"<html><body>404 Not Found</body></html>", "text/html"
            )
            return
        delay = happytalk.latency_seconds
        if happytalk.jitter_seconds:
            with happytalk._lock:  # noqa: SLF001 - our own server
                delay += happytalk._random.uniform(0, happytalk.jitter_seconds)  # noqa: SLF001
        capacity = happytalk._capacity  # noqa: SLF001 - our own server
        if capacity is not None and not capacity.enter(happytalk.queue_timeout_seconds):
            status = happytalk.over_capacity_status
            page = f"<html><body><h1>{status} Over capacity</h1></body></html>".encode()
            self._send(status, page, "text/html")
            return
        try:
            paused = happytalk._pause(delay)  # noqa: SLF001 - False: stopped meanwhile
        finally:
            if capacity is not None:
                capacity.leave()
        if not paused:
            self._drop()
            return
        fault = happytalk._next_fault(received)  # noqa: SLF001 - our own class
        if fault is not None and self._misbehave(fault, happytalk):
            return
        answer = route(body)
        happytalk._act_after(received)  # noqa: SLF001
        if fault is not None:
            answer = fault.amend(answer, path)
        payload = json.dumps(answer, ensure_ascii=False).encode()
        if fault is not None and fault.kind == "truncate":
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2])
            self._drop()
            return
        self._send(HTTPStatus.OK, payload, "application/json")

    def do_GET(self) -> None:
        """HappyTalk's API is POST only."""
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"<html>405</html>", "text/html")

    def _misbehave(self, fault: Fault, happytalk: LocalHappyTalk) -> bool:
        """Act out `fault`; True when the request has been answered (or dropped)."""
        if fault.kind == "delay":
            if happytalk._pause(fault.seconds):  # noqa: SLF001 - our own server
                return False
            self._drop()
            return True
        if fault.kind == "drop":
            self._drop()
        elif fault.kind == "status":
            page = f"<html><body><h1>{fault.status} Error</h1></body></html>".encode()
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            self._send(fault.status, page, "text/html", headers)
        elif fault.kind == "redirect":
            page = f'<html><body><a href="{fault.location}">Moved</a></body></html>'.encode()
            self._send(fault.status, page, "text/html", {"Location": str(fault.location)})
        elif fault.kind == "body":
            self._send(fault.status, fault.text.encode(), "application/json")
        else:
            return False  # a fault that changes the genuine answer, or none
        return True

    def _drop(self) -> None:
        """Close the connection without (the rest of) an answer."""
        self.close_connection = True
        _shut(self.connection)

    def _send(
        self,
        status: int,
        payload: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


DEFAULT_PORT = 8765
DEFAULT_FIRST_DAY = dt.date(2024, 1, 1)


def main(argv: list[str] | None = None) -> None:
    """Serve sample data until interrupted; the first line printed says how to reach it."""
    parser = argparse.ArgumentParser(
        prog="python -m local_happytalk",
        description=(
            "A HappyTalk-compatible server on 127.0.0.1 with sample service history and "
            "consultations, for trying the tap without a HappyTalk account. Point the tap at "
            "it with api_url http://127.0.0.1:PORT, the token below, and a start_date/end_date "
            "within the sample days."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port on 127.0.0.1 (0: any free port)"
    )
    parser.add_argument(
        "--first-day",
        type=dt.date.fromisoformat,
        default=DEFAULT_FIRST_DAY,
        help="first sample day (YYYY-MM-DD, Korea time)",
    )
    parser.add_argument("--days", type=int, default=30, help="sample days from --first-day")
    parser.add_argument("--per-day", type=int, default=40, help="service-history events a day")
    parser.add_argument("--rooms-per-day", type=int, default=5, help="chat rooms a day")
    parser.add_argument(
        "--messages-per-room", type=int, default=8, help="messages a room, at least 3"
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay before each answer")
    parser.add_argument(
        "--token", default=DEFAULT_TOKEN, help="the token the server accepts (the tap's `token`)"
    )
    parser.add_argument(
        "--shuffle-ties",
        action="store_true",
        help=(
            "list rooms opened in the same second in a random order, different on every "
            "room-list request, as a SQL database may"
        ),
    )
    parser.add_argument(
        "--capacity",
        type=int,
        help="serve at most this many requests at once, queue the rest, 503 after a second",
    )
    args = parser.parse_args(argv)
    if args.rooms_per_day and args.messages_per_room < 3:  # noqa: PLR2004 - see sample_rooms
        parser.error("--messages-per-room: a sample room has at least 3 messages")
    events = sample_events(args.first_day, args.days, args.per_day)
    rooms = sample_rooms(args.first_day, args.days, args.rooms_per_day, args.messages_per_room)
    server = LocalHappyTalk(
        events,
        rooms=rooms,
        token=args.token,
        latency_seconds=args.latency_ms / 1000,
        port=args.port,
        shuffle_ties=args.shuffle_ties,
        capacity=args.capacity,
    )
    server.start()
    messages = sum(len(room["message"]) for room in rooms)
    last_day = args.first_day + dt.timedelta(days=args.days - 1)
    print(  # noqa: T201
        f"HappyTalk-compatible server on {server.url}, token {args.token}, sample days "
        f"{args.first_day} to {last_day} (Korea time): {len(events)} events, {len(rooms)} "
        f"chat rooms, {messages} messages. For the tap: api_url {server.url}, token "
        f"{args.token}, start_date {args.first_day}, end_date {last_day + dt.timedelta(days=1)}",
        flush=True,
    )
    try:
        server._thread.join()  # noqa: SLF001
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
