"""A HappyTalk-compatible server on 127.0.0.1, for tests, benchmarks and the demo (not shipped).

What it serves: HappyTalk's service-history call on both of its documented paths (see
`tap_happytalk.endpoints` and `../shared/happytalk-api/`), from the events it was given
(`sample_events` makes some). A request is a `POST` with the JSON body `{token, start_date,
end_date}` (plus `format` on the bnd path); the answer is HTTP 200 with `{"result": "success",
"data": [...]}`: the events whose `request_date` lies in the range, both ends inclusive to the
second, newest first (a shared second: the higher id first). The bnd path answers SIEM strings
without login rows unless `format` is `raw`.

Refusals are answered as HappyTalk documents them (its fail-code page, `chats.md` section 4):
HTTP 200 and `{"result": "fail", "code": <int>, "message": <one word>}`:

    -501 token          the token is missing or is not the server's `token`
    -502 unAuthorized   the token is one of `unauthorized_tokens`: known, without permission
    -504 overDate       the range is 24 hours or longer, or crosses two dates

ASSUMED — HappyTalk documents no answer for these; this server's choice is an assumption:

    A1  The token is checked before anything else in the body.
    A2  A body that is not a JSON object carries no token: -501 token.
    A3  A range within 24 hours that crosses midnight: -504 overDate. (HappyTalk's old page
        says "one day" and asks for one calendar day; the bnd page says "under 24 hours".)
    A4  End before start: -504 overDate, as a range the call cannot serve.
    A5  A missing or malformed date (not `Y-m-d H:i:s`): code -599, message `date`, a code
        outside HappyTalk's documented set (UNDOCUMENTED_CODE).
    A6  On the bnd path, a `format` other than `raw` or `siem`: code -599, message `format`.
    A7  Every refusal is HTTP 200 (HappyTalk documents no status; `chats.md` says assume 200).
    A8  An unknown path is HTTP 404 with an HTML page; a GET is HTTP 405.

It can be told to misbehave (`inject` a `Fault`: HTTP errors, dropped or cut connections,
slow answers, redirects, extra rows, any body), serve HTTPS with a certificate no client trusts
(`tls=True`), read ranges as if times did not count (`ignore_time_of_day=True`), and it logs
what it was asked (`requests`).

Adding another HappyTalk call (the chat APIs of `chats.md`): write a method that turns a body
into an answer, starting with `self.refuse_token(body)` (the fail codes are shared by every
customer-token call), and add its path to `routes`. Faults, latency and the request log apply
to every path.

Run it alone: `python -m local_happytalk --days 30 --per-day 40` (`--help` for the rest).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import json
import random
import socket
import ssl
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Literal

from typing_extensions import Self

from tap_happytalk.endpoints import BND, CUSTOMER, ENDPOINTS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

API_FORMAT = "%Y-%m-%d %H:%M:%S"
DEFAULT_TOKEN = "local-test-token"  # noqa: S105 - a fixture's token, not a secret

# HappyTalk's documented fail codes (chats.md section 4), and this server's code for the cases
# HappyTalk does not document (assumptions A5, A6 above).
TOKEN_FAIL = (-501, "token")
UNAUTHORIZED_FAIL = (-502, "unAuthorized")
OVER_DATE_FAIL = (-504, "overDate")
UNDOCUMENTED_CODE = -599

FaultKind = Literal[
    "status", "drop", "truncate", "delay", "refuse", "body", "redirect", "extra_rows"
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
    - `extra_rows`: the genuine answer, with `rows` appended to its `data` as given (an int
      id, a date outside the window: whatever the test needs). A refusal stays a refusal.
    """

    kind: FaultKind
    status: int = 500
    retry_after: str | None = None
    seconds: float = 0.0
    body: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    location: str | None = None
    rows: Sequence[Mapping[str, Any]] = ()

    def __post_init__(self) -> None:
        """Refuse a redirect that could not be one."""
        is_redirect = HTTPStatus.MULTIPLE_CHOICES <= self.status < HTTPStatus.BAD_REQUEST
        if self.kind == "redirect" and not (self.location and is_redirect):
            raise ValueError("a redirect needs a `location` and a 3xx `status`")

    def amend(self, answer: dict[str, Any]) -> dict[str, Any]:
        """The answer to send instead of the genuine `answer`, for faults that change it."""
        if self.kind == "refuse":
            return {"result": "fail", **self.body}
        if self.kind == "extra_rows" and answer.get("result") == "success":
            return {**answer, "data": [*(answer.get("data") or []), *map(dict, self.rows)]}
        return answer


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
        self.latency_seconds = latency_seconds
        self.ignore_time_of_day = ignore_time_of_day
        self.requests: list[ReceivedRequest] = []
        self._by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._faults: list[tuple[str | None, Fault]] = []
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

    def inject(self, fault: Fault, *, times: int = 1, day: str | None = None) -> None:
        """Misbehave `times` times: on requests whose start_date begins with `day`, or any.

        `day` is a date (`2024-03-01`) or a date and time (`2024-03-01 12:00:00`).
        """
        with self._lock:
            self._faults.extend([(day, fault)] * times)

    def clear_faults(self) -> None:
        """Behave again: forget every fault not yet acted out."""
        with self._lock:
            self._faults.clear()

    def _next_fault(self, start_date: str | None) -> Fault | None:
        with self._lock:
            for index, (day, fault) in enumerate(self._faults):
                if day is None or (start_date or "").startswith(day):
                    del self._faults[index]
                    return fault
        return None

    def _pause(self, seconds: float) -> bool:
        """Wait `seconds`; False if the server was stopped meanwhile."""
        return not self._stopping.wait(seconds) if seconds > 0 else not self._stopping.is_set()

    def refuse_token(self, body: Any) -> dict[str, Any] | None:  # noqa: ANN401 - any JSON
        """HappyTalk's refusal of the token in `body` (any customer-token call), or None."""
        token = body.get("token") if isinstance(body, dict) else None  # A2: no object, no token
        if isinstance(token, str) and token == self.token:
            return None
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
        happytalk.requests.append(
            ReceivedRequest(
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
            )
        )
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
        if not happytalk._pause(delay):  # noqa: SLF001 - stopped meanwhile
            self._drop()
            return
        fault = happytalk._next_fault(fields.get("start_date"))  # noqa: SLF001 - our own class
        if fault is not None and self._misbehave(fault, happytalk):
            return
        answer = route(body)
        if fault is not None:
            answer = fault.amend(answer)
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


def main() -> None:
    """Serve sample data until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--first-day", type=dt.date.fromisoformat, default=dt.date(2024, 1, 1))
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-day", type=int, default=40)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    args = parser.parse_args()
    events = sample_events(args.first_day, args.days, args.per_day)
    server = LocalHappyTalk(
        events, token=args.token, latency_seconds=args.latency_ms / 1000, port=args.port
    )
    print(f"HappyTalk-compatible server on {server.url} with {len(events)} events")  # noqa: T201
    try:
        server.start()._thread.join()  # noqa: SLF001
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
