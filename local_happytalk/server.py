"""A HappyTalk-compatible service-history server on 127.0.0.1, for tests, benchmarks and the demo.

It behaves as `../shared/happytalk-api/` documents: POST JSON `{token, start_date, end_date}`,
at most one calendar day per request with an inclusive end, records newest first, and
`result: fail` for a bad token or range. It can be told to misbehave (`inject`), and it keeps
a log of what it was asked (`requests`).

Run it alone: `python -m local_happytalk --days 30 --per-day 40`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import socket
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
    from collections.abc import Iterable

API_FORMAT = "%Y-%m-%d %H:%M:%S"
DEFAULT_TOKEN = "local-test-token"  # noqa: S105 - a fixture's token, not a secret

FaultKind = Literal["status", "drop", "truncate", "delay", "refuse", "body"]

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
    """One way to misbehave for one request.

    kind: `status` answers HTTP `status` with an HTML page (and `retry_after`, if given);
    `drop` closes the connection without an answer; `truncate` sends the headers and half the
    body, then closes the connection; `delay` waits `seconds`, then answers
    normally; `refuse` answers `result: fail` with `body` as extra fields; `body` answers
    `text` with HTTP `status`.
    """

    kind: FaultKind
    status: int = 500
    retry_after: str | None = None
    seconds: float = 0.0
    body: dict[str, Any] = field(default_factory=dict)
    text: str = ""


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
        latency_seconds: float = 0.0,
        jitter_seconds: float = 0.0,
        port: int = 0,
        endpoints: Iterable[str] = tuple(ENDPOINTS),
    ) -> None:
        """Serve `events` on the paths of `endpoints` (both, unless told otherwise).

        Every answer waits `latency_seconds`, as a distant API would, plus a random part of
        `jitter_seconds` (seeded), so that parallel requests finish out of order.
        """
        self.token = token
        self.jitter_seconds = jitter_seconds
        self._random = random.Random(7)  # noqa: S311 - jitter, not secrets
        self.paths = {ENDPOINTS[name].path: name for name in endpoints}
        self.latency_seconds = latency_seconds
        self.requests: list[ReceivedRequest] = []
        self._by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._faults: list[tuple[str | None, Fault]] = []
        self._lock = threading.Lock()
        self._in_progress = 0
        self.add_events(events)
        self._http = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self._http.daemon_threads = True
        self._http.happytalk = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Base URL to give the tap as `api_url`."""
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._http.shutdown()
        self._http.server_close()

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

    def answer(self, body: Any, endpoint: str = CUSTOMER.name) -> dict[str, Any]:  # noqa: ANN401
        """HappyTalk's answer to a request body on `endpoint` (no faults, no latency)."""
        answer = self._records(body)
        if endpoint != BND.name or answer["result"] != "success":
            return answer
        answer_format = body.get("format") or "siem"
        if answer_format == "raw":
            return answer
        if answer_format == "siem":
            rows = [row for row in answer["data"] if "로그인" not in row.get("apply_content", "")]
            return {"result": "success", "data": [_siem(row) for row in rows]}
        return _fail("E405", "format은 raw 또는 siem이어야 합니다 (format must be raw or siem)")

    def _records(self, body: Any) -> dict[str, Any]:  # noqa: ANN401 - any JSON a client sends
        if not isinstance(body, dict):
            return _fail(
                "E400", "요청 형식이 올바르지 않습니다 (request body is not a JSON object)"
            )
        if body.get("token") != self.token:
            return _fail("E401", "유효하지 않은 토큰입니다 (invalid token)")
        try:
            # HappyTalk's wall-clock times are naive, and so is this server.
            start = dt.datetime.strptime(str(body.get("start_date")), API_FORMAT)  # noqa: DTZ007
            end = dt.datetime.strptime(str(body.get("end_date")), API_FORMAT)  # noqa: DTZ007
        except ValueError:
            return _fail("E402", "날짜 형식이 올바르지 않습니다 (dates must be Y-m-d H:i:s)")
        if end < start:
            return _fail("E403", "종료 일시가 시작 일시보다 빠릅니다 (end before start)")
        if end - start >= dt.timedelta(days=1) or end.date() != start.date():
            return _fail(
                "E404", "최대 조회기간은 하루입니다 (the maximum search period is one day)"
            )
        low, high = start.strftime(API_FORMAT), end.strftime(API_FORMAT)
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


def _fail(code: str, message: str) -> dict[str, Any]:
    return {"result": "fail", "code": code, "message": message}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without this, Nagle's algorithm and the client's
    # delayed ACK add 40 ms to every answer.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002, ANN401
        """Stay quiet: tests read the tap's output, not the server's."""

    def do_POST(self) -> None:
        """Answer a service-history request, or misbehave as told."""
        happytalk: LocalHappyTalk = self.server.happytalk  # type: ignore[attr-defined]
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
        endpoint = happytalk.paths.get(path)
        if endpoint is None:
            self._send(
                HTTPStatus.NOT_FOUND, b"<html><body>404 Not Found</body></html>", "text/html"
            )
            return
        delay = happytalk.latency_seconds
        if happytalk.jitter_seconds:
            with happytalk._lock:  # noqa: SLF001 - our own server
                delay += happytalk._random.uniform(0, happytalk.jitter_seconds)  # noqa: SLF001
        if delay:
            time.sleep(delay)
        fault = happytalk._next_fault(fields.get("start_date"))  # noqa: SLF001 - our own class
        if fault is not None and self._misbehave(fault):
            return
        answer = happytalk.answer(body, endpoint)
        if fault is not None and fault.kind == "refuse":
            answer = {"result": "fail", **fault.body}
        payload = json.dumps(answer, ensure_ascii=False).encode()
        if fault is not None and fault.kind == "truncate":
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2])
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(HTTPStatus.OK, payload, "application/json")

    def do_GET(self) -> None:
        """HappyTalk's API is POST only."""
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"<html>405</html>", "text/html")

    def _misbehave(self, fault: Fault) -> bool:
        """Act out `fault`; True when the request has been answered (or dropped)."""
        if fault.kind == "delay":
            time.sleep(fault.seconds)
            return False
        if fault.kind == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return True
        if fault.kind == "status":
            page = f"<html><body><h1>{fault.status} Error</h1></body></html>".encode()
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            self._send(HTTPStatus(fault.status), page, "text/html", headers)
            return True
        if fault.kind == "body":
            self._send(HTTPStatus(fault.status), fault.text.encode(), "application/json")
            return True
        return False

    def _send(
        self,
        status: HTTPStatus,
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
