"""How fast the tap is, against the local HappyTalk server on 127.0.0.1: prints a table.

1. A latency-bound backfill: 60 days x 40 records, 150 ms per response, at 1 and 8 windows in
   flight, and the speedup.
2. The record path: 20 days x 10,000 records, no latency: records per second of the tap, and of
   a plain loop (requests + json.loads + json.dumps of a Singer RECORD line per record) as the
   floor; the ratio of their times.
3. Peak RSS of that 200,000-record run.
4. Where a record's time goes: the tap's own work per record (decode, timestamps, order;
   writing), measured in-process, against the floor's json.loads + json.dumps; the rest of the
   tap's time per record is the SDK's per-record pipeline and HTTP.
5. The chat streams alone (`chat_rooms`, `chat_messages`; service history deselected): a
   latency-bound backfill of 10 days x 100 rooms x 10 messages, 100 ms per response, at 1 and
   8 requests in flight (the 1-in-flight run on fewer days, its 10-day time extrapolated and
   labelled so), with the requests the server received and the records out per stream; and
   peak RSS over 3 and 10 days (and 30 days without latency), which should not grow with the
   days.
6. The chat streams run hourly: 2,000 rooms a day, 2% stuck open; a backfill of yesterday and
   today, then the run an hour later, resumed from the first run's STATE: its list pages
   (read on from the first run's point, and, from the same state less `point_in_list`, today
   listed whole in two passes, as before) and room reads against the rooms opened in the hour
   plus the open-room set it resumed with, the reads the grace for late ratings costs, its wall
   time at 8 in flight with 100 ms answers, and its peak RSS. Then the same list pages late in
   a day, whatever the hour the bench runs at: yesterday read to 22:00, then the run to 23:00.
7. Adaptive concurrency against a server with a capacity C (2, 8, 32): it serves C requests at
   once at its latency, queues the rest and answers 503 to one queued too long. For each C,
   the wall time of the adaptive tap (at its default ceiling, `max_concurrent_requests` unset),
   of the best fixed setting found by sweeping powers of two around C, and of the old default
   (4 fixed), and the 503s each drew; then a capacity that rises from 8 to 32 mid-run, and how
   soon the tap has 90% of it in flight.

Every run is a subprocess whose stdout is read and counted here, as a target would read it.
`sync` is the tap's own `sync_duration` metric (the sync without interpreter start-up); `wall`
is the whole process.

Run: `make bench` (or `python benchmarks/bench.py`); `--only chats` (or `latency`,
`records`, `hourly`, `capacity`) runs one part. Sections 1, 5 and 6 run at a fixed number in
flight (`adaptive_concurrency: false`), as their figures say.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

import msgspec
from singer_sdk.singerlib import RecordMessage

from local_happytalk.chats import (
    API_FORMAT,
    CHAT_DATA_PATH,
    CHAT_ROOM_LISTS_PATH,
    ZERO_DATE,
    korea_now,
    sample_rooms,
)
from local_happytalk.server import LocalHappyTalk, sample_events
from tap_happytalk.config_schema import DEFAULT_CEILING
from tap_happytalk.records import RowConverter
from tap_happytalk.streams.service_history import SCHEMA
from tap_happytalk.tap import TapHappyTalk
from tap_happytalk.windows import DayWindow
from tap_happytalk.writer import StateFlushingWriter

if TYPE_CHECKING:
    import io
    from collections.abc import Callable

FIRST_DAY = dt.date(2024, 1, 1)
LATENCY_DAYS, LATENCY_PER_DAY = 60, 40
RECORD_PREFIXES = (b'{"type":"RECORD"', b'{"type": "RECORD"')
STATE_PREFIXES = (b'{"type":"STATE"', b'{"type": "STATE"')
RECORD_STREAM = re.compile(rb'\{"type": ?"RECORD", ?"stream": ?"([^"]*)"')
CHAT_STREAMS = ("chat_rooms", "chat_messages")
CHAT_DAYS, CHAT_ROOMS_PER_DAY, CHAT_MESSAGES_PER_ROOM = 10, 100, 10
CHAT_LATENCY = 0.1
# The 1-in-flight run is serial (~0.1 s a request, ~1,030 requests over 10 days, ~110 s): it
# is run over this many days, and its 10-day time extrapolated by the number of requests.
CHAT_SERIAL_DAYS = 2
CHAT_RSS_DAYS = 3  # peak RSS over this many days and over CHAT_DAYS, both at 100 ms
CHAT_LONG_DAYS = 30  # and over this many, without latency, to keep the time down
SYNC_DURATION = re.compile(r'"metric":"sync_duration","value":([0-9.]+)')
# The chat runs' sync: the parent stream's, which holds its children's; in full, since the
# child's per-room values are small enough to come in e-notation.
CHATS_SYNC_DURATION = re.compile(
    r'"metric":"sync_duration","value":([0-9.e+-]+),"tags":\{"stream":"chat_rooms"'
)

FLOOR = """
import json, sys, requests
url, token, days = sys.argv[1], sys.argv[2], int(sys.argv[3])
import datetime as dt
out = sys.stdout
session = requests.Session()
for n in range(days):
    day = dt.date(2024, 1, 1) + dt.timedelta(days=n)
    body = {"token": token, "start_date": f"{day} 00:00:00", "end_date": f"{day} 23:59:59"}
    data = json.loads(session.post(url, json=body, timeout=60).text)["data"]
    for record in data:
        out.write(json.dumps({"type": "RECORD", "stream": "service_history", "record": record}))
        out.write("\\n")
out.flush()
"""


@dataclass(frozen=True)
class Run:
    """One measured subprocess."""

    wall: float
    sync: float
    records: int
    peak_rss_mb: float
    by_stream: Counter[str] = field(default_factory=Counter)  # only when asked for
    last_state: bytes = b""  # the last STATE line; only when `by_stream` is


def measure(
    command: list[str],
    env: dict[str, str] | None = None,
    *,
    sync_duration: re.Pattern[str] | None = None,
) -> Run:
    """Run `command`, count the RECORD lines it prints, and take its time and peak RSS.

    With `sync_duration`, the pattern of the sync time to take (not the first one logged), the
    RECORD lines of each stream are counted too, the last STATE line kept, and stdout is read as
    it comes rather than a megabyte at a time, so peak RSS is sampled more often. Sections 1 to
    4 go without, so their reading loop stays as it was.
    """
    started = time.perf_counter()
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, env=env)
        if process.stdout is None:  # pragma: no cover - PIPE always gives one
            raise RuntimeError(command)
        by_stream = sync_duration is not None
        stdout = cast("io.BufferedReader", process.stdout)
        read = stdout.read1 if by_stream else stdout.read
        records, partial, peak_kb, streams, last_state = 0, b"", 0, Counter[str](), b""
        while chunk := read(1 << 20):
            lines = (partial + chunk).split(b"\n")
            partial = lines.pop()
            records += sum(line.startswith(RECORD_PREFIXES) for line in lines)
            if by_stream:
                streams.update(
                    match.group(1).decode()
                    for line in lines
                    if (match := RECORD_STREAM.match(line))
                )
                states = [line for line in lines if line.startswith(STATE_PREFIXES)]
                last_state = states[-1] if states else last_state
            peak_kb = max(peak_kb, high_water_mark_kb(process.pid))
        process.stdout.close()
        _, status, _ = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        stderr.seek(0)
        log = stderr.read().decode(errors="replace")
    if process.returncode != 0:
        sys.exit(f"bench: {' '.join(command[:3])} failed:\n{log[-2000:]}")
    found = (sync_duration or SYNC_DURATION).search(log)
    if found is None and sync_duration is not None:
        sys.exit(f"bench: {' '.join(command[:3])} logged no {sync_duration.pattern}")
    # The floor loop reports no sync_duration: its whole run is its sync.
    sync = float(found.group(1)) if found else wall
    return Run(wall, sync, records, peak_kb / 1024, streams, last_state)


def high_water_mark_kb(pid: int) -> int:
    """Peak RSS of a running process since its exec.

    Not `ru_maxrss`: a forked child's counts the parent's pages from before the exec, and
    here the parent holds the server's sample data.
    """
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(found.group(1)) if found else 0


def tap(
    server: LocalHappyTalk,
    days: int,
    config_dir: Path,
    catalog: Path | None = None,
    **settings: object,
) -> Run:
    """One run of the tap over `days` days from the server; with `catalog`, its streams."""
    config = {
        "token": server.token,
        "api_url": server.url,
        "start_date": FIRST_DAY.isoformat(),
        "end_date": (FIRST_DAY + dt.timedelta(days=days)).isoformat(),
        "adaptive_concurrency": False,  # N in flight means N, unless a section says otherwise
        **settings,
    }
    path = config_dir / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    command = [sys.executable, "-m", "tap_happytalk", "--config", str(path)]
    if catalog is None:
        return measure(command)
    return measure([*command, "--catalog", str(catalog)], sync_duration=CHATS_SYNC_DURATION)


def check(condition: bool, problem: str) -> None:  # noqa: FBT001
    """Stop the benchmark if a run did not deliver what it should have."""
    if not condition:
        sys.exit(f"bench: {problem}")


def best(runs: list[Run]) -> Run:
    """The fastest of repeated runs: the least disturbed by the rest of the machine."""
    return min(runs, key=lambda run: run.sync)


def latency_bound(config_dir: Path, repeat: int) -> list[str]:
    """Section 1: 60 days x 40 records, 150 ms per answer, 1 and 8 windows in flight."""
    events = sample_events(FIRST_DAY, LATENCY_DAYS, LATENCY_PER_DAY)
    with LocalHappyTalk(events, latency_seconds=0.15) as server:
        runs = {
            in_flight: best(
                [
                    tap(server, LATENCY_DAYS, config_dir, max_concurrent_requests=in_flight)
                    for _ in range(repeat)
                ]
            )
            for in_flight in (1, 8)
        }
    one, eight = runs[1], runs[8]
    check(one.records == eight.records == LATENCY_DAYS * LATENCY_PER_DAY, "records lost")
    return [
        "1. Latency-bound backfill: 60 days x 40 records, 150 ms per response",
        f"   max_concurrent_requests=1   sync {one.sync:6.2f} s   wall {one.wall:6.2f} s",
        f"   max_concurrent_requests=8   sync {eight.sync:6.2f} s   wall {eight.wall:6.2f} s",
        (
            f"   speedup                     sync {one.sync / eight.sync:5.1f}x    "
            f"wall {one.wall / eight.wall:5.1f}x   (target: >= 6x)"
        ),
    ]


def record_path(config_dir: Path, repeat: int) -> tuple[list[str], list[str]]:
    """Sections 2, 3 and 4: 20 days x 10,000 records without latency; floor; RSS; costs."""
    days, per_day = 20, 10_000
    with LocalHappyTalk(sample_events(FIRST_DAY, days, per_day)) as server:
        taps = [tap(server, days, config_dir) for _ in range(repeat)]
        url = server.url + "/user/api/service_history/format/json"
        floor_command = [sys.executable, "-c", FLOOR, url, server.token, str(days)]
        floors = [measure(floor_command) for _ in range(repeat)]
    total = days * per_day
    fast_tap, floor = best(taps), best(floors)
    check(fast_tap.records == floor.records == total, "records lost")
    tap_time = fast_tap.sync
    return per_record_costs(tap_time / total), [
        f"2. Record path: {days} days x {per_day:,} records, no latency",
        (
            f"   tap                         {total / tap_time:9,.0f} records/s   "
            f"(sync {tap_time:5.2f} s, wall {fast_tap.wall:5.2f} s)"
        ),
        (
            f"   floor (requests+json loop)  {total / floor.wall:9,.0f} records/s   "
            f"(wall {floor.wall:5.2f} s)"
        ),
        (
            f"   tap time / floor time       sync {tap_time / floor.wall:4.2f}, "
            f"wall {fast_tap.wall / floor.wall:4.2f}   (target: <= 1.2)"
        ),
        (
            f"3. Peak RSS of the {total:,}-record run: {max(t.peak_rss_mb for t in taps):.0f} MB"
            "   (target: < 250 MB)"
        ),
    ]


def per_record_costs(tap_seconds_per_record: float) -> list[str]:
    """Section 4: microseconds per record of each part, on one 10,000-record window."""
    rows = sample_events(FIRST_DAY, 1, 10_000)[::-1]
    content = msgspec.json.encode({"result": "success", "data": rows})
    window = DayWindow(dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2))  # noqa: DTZ001
    converter = RowConverter(ZoneInfo("Asia/Seoul"), frozenset(SCHEMA["properties"]))
    records = converter.records([(window, msgspec.json.decode(content)["data"])], window)
    writer = StateFlushingWriter()
    extracted = dt.datetime.now(dt.timezone.utc)

    def each(work: Callable[[], object], repeat: int = 10) -> float:
        started = time.perf_counter()
        for _ in range(repeat):
            work()
        return (time.perf_counter() - started) / repeat / len(rows) * 1e6

    own_read = each(
        lambda: converter.records([(window, msgspec.json.decode(content)["data"])], window)
    )
    own_write = each(
        lambda: [
            writer.format_message(RecordMessage("service_history", r, time_extracted=extracted))
            for r in records
        ]
    )
    floor_json = each(
        lambda: [
            json.dumps({"type": "RECORD", "stream": "service_history", "record": r})
            for r in json.loads(content)["data"]
        ]
    )
    total = tap_seconds_per_record * 1e6
    rest = total - own_read - own_write
    return [
        "4. Per record, in microseconds",
        f"   tap, all of it (section 2)                          {total:5.1f}",
        f"   tap's own: decode, timestamps, order                {own_read:5.1f}",
        f"   tap's own: encode the RECORD line                   {own_write:5.1f}",
        f"   the rest: the SDK's per-record pipeline, and HTTP   {rest:5.1f}",
        f"   floor: json.loads + json.dumps                      {floor_json:5.1f}",
    ]


def chats_catalog(config_dir: Path) -> Path:
    """A catalog selecting the chat streams alone (as `tests/test_standard.py` builds one)."""
    config = {"token": "-", "start_date": FIRST_DAY.isoformat()}
    catalog = TapHappyTalk(config=config, validate_config=False).catalog_dict
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] in CHAT_STREAMS
    path = config_dir / "chats-catalog.json"
    path.write_text(json.dumps(catalog), encoding="utf-8")
    return path


@dataclass(frozen=True)
class ChatRun:
    """One measured run of the chat streams, and the requests the server received for it."""

    run: Run
    lists: int  # room-list pages
    rooms: int  # chat_data requests

    @property
    def requests(self) -> int:
        """Every request of the run."""
        return self.lists + self.rooms


def chat_run(server: LocalHappyTalk, days: int, catalog: Path, in_flight: int) -> ChatRun:
    """One run of the chat streams over `days` days, checked for every room and message."""
    before = len(server.requests)
    run = tap(server, days, catalog.parent, catalog, max_concurrent_requests=in_flight)
    paths = Counter(request.path for request in server.requests[before:])
    rooms = days * CHAT_ROOMS_PER_DAY
    messages = rooms * CHAT_MESSAGES_PER_ROOM
    check(
        run.by_stream == {"chat_rooms": rooms, "chat_messages": messages},
        f"chats over {days} days: {dict(run.by_stream)} records, not {rooms} rooms and "
        f"{messages} messages",
    )
    return ChatRun(run, paths[CHAT_ROOM_LISTS_PATH], paths[CHAT_DATA_PATH])


def best_chats(runs: list[ChatRun]) -> ChatRun:
    """The fastest of repeated chat runs."""
    return min(runs, key=lambda chat: chat.run.sync)


def chats(config_dir: Path, repeat: int) -> list[str]:
    """Section 5: the chat streams alone, latency-bound at 1 and 8 in flight; peak RSS."""
    catalog = chats_catalog(config_dir)
    days, few = CHAT_DAYS, CHAT_SERIAL_DAYS
    rooms = sample_rooms(FIRST_DAY, CHAT_LONG_DAYS, CHAT_ROOMS_PER_DAY, CHAT_MESSAGES_PER_ROOM)
    with LocalHappyTalk(rooms=rooms, latency_seconds=CHAT_LATENCY) as server:
        eight = best_chats([chat_run(server, days, catalog, 8) for _ in range(repeat)])
        eight_few = best_chats([chat_run(server, few, catalog, 8) for _ in range(repeat)])
        one_few = chat_run(server, few, catalog, 1)
        short = chat_run(server, CHAT_RSS_DAYS, catalog, 8)
        server.latency_seconds = 0.0  # read by every request as it comes
        long = chat_run(server, CHAT_LONG_DAYS, catalog, 8)
    fast, slow, fast_few = eight.run, one_few.run, eight_few.run
    # A serial run's sync is its requests one after another: scale it by the requests. Its
    # wall adds the start-up (wall - sync) once.
    scale = eight.requests / one_few.requests
    one_sync = slow.sync * scale
    one_wall = slow.wall - slow.sync + one_sync
    return [
        (
            f"5. Chats backfill: {days} days x {CHAT_ROOMS_PER_DAY} rooms x "
            f"{CHAT_MESSAGES_PER_ROOM} messages, {CHAT_LATENCY * 1000:.0f} ms per response "
            "(chat streams alone)"
        ),
        (
            f"   max_concurrent_requests=1   sync {one_sync:6.2f} s   wall {one_wall:6.2f} s"
            "   (extrapolated, see the note)"
        ),
        f"   max_concurrent_requests=8   sync {fast.sync:6.2f} s   wall {fast.wall:6.2f} s",
        (
            f"   speedup                     sync {one_sync / fast.sync:5.1f}x    "
            f"wall {one_wall / fast.wall:5.1f}x   (target: >= 6x)"
        ),
        (
            f"   over {few} days, as run        1 in flight sync {slow.sync:.2f} s, wall "
            f"{slow.wall:.2f} s (1 run); 8: sync {fast_few.sync:.2f} s, wall {fast_few.wall:.2f} s"
        ),
        (
            f"                               speedup sync {slow.sync / fast_few.sync:.1f}x, "
            f"wall {slow.wall / fast_few.wall:.1f}x   (target: >= 6x)"
        ),
        (
            f"   requests made (8 in flight) {eight.requests:,}: {eight.lists} room-list pages + "
            f"{eight.rooms:,} chat_data (the server's log)"
        ),
        (
            f"   records out                 chat_rooms {fast.by_stream['chat_rooms']:,}, "
            f"chat_messages {fast.by_stream['chat_messages']:,}"
        ),
        (
            f"   peak RSS, 8 in flight       {CHAT_RSS_DAYS} days {short.run.peak_rss_mb:.0f} MB "
            f"(1 run), {days} days {fast.peak_rss_mb:.0f} MB, {CHAT_LONG_DAYS} days "
            f"{long.run.peak_rss_mb:.0f} MB (1 run, no latency)   (target: < 250 MB)"
        ),
        (
            f"   peak RSS {days} days / {CHAT_RSS_DAYS} days    "
            f"{fast.peak_rss_mb / short.run.peak_rss_mb:4.2f}   (target: <= 1.25)"
        ),
        (
            f"   note: the 1-in-flight {days}-day time was not run: it is the {few}-day run's sync "
            f"x {scale:.2f}"
        ),
        (
            f"         ({eight.requests:,} / {one_few.requests:,} requests, made one after "
            "another); wall adds that run's start-up (wall - sync)"
        ),
    ]


HOURLY_ROOMS_PER_DAY, HOURLY_MESSAGES_PER_ROOM = 2_000, 3
HOURLY_DAYS = 2  # yesterday and today: ~25 s of room reads a day at 8 in flight, 100 ms
HOURLY_STUCK_EVERY = 50  # every 50th room (2%) stays open for good
HOURLY_RATED_EVERY = 3  # a third of the rooms closed as done are rated, as in the sample
HOURLY_LATENCY, HOURLY_IN_FLIGHT = 0.1, 8
HOURLY_GRACE = dt.timedelta(minutes=60)  # closed_room_grace_minutes, given to the tap
HOURLY_MARGIN = dt.timedelta(seconds=300)  # end_margin_seconds' default, given to the tap
HOUR = dt.timedelta(hours=1)
CLOSED_STATUSES = ("2", "3", "4")


def wall_clock(moment: dt.datetime) -> str:
    """A naive Korea time as HappyTalk writes it (which orders as text)."""
    return moment.strftime(API_FORMAT)


def parse_wall_clock(text: str) -> dt.datetime:
    """A HappyTalk date: naive Korea time."""
    return dt.datetime.strptime(text, API_FORMAT)  # noqa: DTZ007 - naive Korea time


@dataclass(frozen=True)
class RoomLife:
    """A sample room through time: as it ends up, and when it closed and was rated."""

    final: dict[str, Any]  # {"chat", "message"}, as `sample_rooms` shapes a room
    closed_at: str | None  # wall clock; None: it never closes
    rated_at: str | None  # wall clock; None: never rated
    open_status: str  # its status until it closes

    @property
    def room_id(self) -> str:
        """The room's id."""
        return str(self.final["chat"]["id"])

    @property
    def opened_at(self) -> str:
        """When the room was opened (wall clock)."""
        return str(self.final["chat"]["reg_date"])

    def at(self, moment: str) -> dict[str, Any] | None:
        """The room as HappyTalk holds it at `moment` (wall clock); None before it opened."""
        if self.opened_at > moment:
            return None
        chat = dict(self.final["chat"])
        if not self.closed_by(moment):
            chat.update(status=self.open_status, complate_date=ZERO_DATE)
        if not self.rated_by(moment):
            chat.update(vote_score=None, vote_comment=None)
        messages = [m for m in self.final["message"] if m["send_date"] <= moment]
        return {"chat": chat, "message": messages}

    def closed_by(self, moment: str) -> bool:
        """Whether the room was closed at `moment`."""
        return self.closed_at is not None and self.closed_at <= moment

    def rated_by(self, moment: str) -> bool:
        """Whether the room's rating had come at `moment`."""
        return self.rated_at is not None and self.rated_at <= moment

    def in_grace(self, moment: str) -> bool:
        """Closed, unrated, and less than the grace before `moment`: to be read again."""
        grace_began = wall_clock(parse_wall_clock(moment) - HOURLY_GRACE)
        return (
            self.closed_at is not None
            and grace_began < self.closed_at <= moment
            and not self.rated_by(moment)
        )


def room_lives(first_day: dt.date, days: int) -> list[RoomLife]:
    """The hourly account's rooms: the sample's, with 2% open for good and the rest closing.

    The sample leaves a fifth of its rooms open; here those close, done, a few minutes after
    their last message, a third of them rated. A rating comes 0 to 30 minutes after the
    closing, so some arrive in the hour between the two runs.
    """
    lives = []
    rooms = sample_rooms(first_day, days, HOURLY_ROOMS_PER_DAY, HOURLY_MESSAGES_PER_ROOM)
    for index, room in enumerate(rooms):
        chat = room["chat"]
        if index % HOURLY_STUCK_EVERY == 0:
            status = "1" if index // HOURLY_STUCK_EVERY % 2 else "0"
            chat.update(status=status, complate_date=ZERO_DATE, vote_score=None, vote_comment=None)
            lives.append(RoomLife(room, None, None, status))
            continue
        if chat["status"] not in CLOSED_STATUSES:
            last_said = max(str(message["send_date"]) for message in room["message"])
            closed = parse_wall_clock(last_said) + dt.timedelta(seconds=60 + index % 540)
            chat.update(status="2", complate_date=wall_clock(closed))
            if index % HOURLY_RATED_EVERY == 0:
                chat.update(vote_score=str(1 + index % 5), vote_comment="감사합니다.")
        closed_at = str(chat["complate_date"])
        rated_at = None
        if chat["vote_score"] is not None:
            late = dt.timedelta(minutes=10 * (index // HOURLY_RATED_EVERY % 4))
            rated_at = wall_clock(parse_wall_clock(closed_at) + late)
        open_status = "-1" if chat["status"] == "4" else "1"  # with the chatbot, or an agent
        lives.append(RoomLife(room, closed_at, rated_at, open_status))
    return lives


@dataclass(frozen=True)
class Hour:
    """What happened on the server between the two runs."""

    opened: int
    closed: int
    rated: int


def move_on(server: LocalHappyTalk, lives: list[RoomLife], then: str, now: str) -> Hour:
    """Bring the server's rooms from as they were at `then` to as they are at `now`."""
    opened: list[dict[str, Any]] = []
    later: list[tuple[str, list[dict[str, Any]]]] = []
    closed = rated = 0
    for life in lives:
        before, after = life.at(then), life.at(now)
        if after is None:
            continue
        if before is None:
            opened.append(after)
            continue
        changed = {k: v for k, v in after["chat"].items() if before["chat"].get(k) != v}
        if changed:
            server.chats.update_room(life.room_id, **changed)
        closed += life.closed_by(now) and not life.closed_by(then)
        rated += life.rated_by(now) and not life.rated_by(then)
        sent = {message["id"] for message in before["message"]}
        later.append((life.room_id, [m for m in after["message"] if m["id"] not in sent]))
    # The new rooms keep their sample message ids; the messages added to older rooms then get
    # new ones, above every sample id on the server.
    server.chats.add_rooms(opened)
    for room_id, messages in later:
        for message in messages:
            server.chats.add_message(
                room_id,
                message["contents"],
                user_type=message["user_type"],
                message_type=message["type"],
                contents_type=message["contents_type"],
                send_date=message["send_date"],
                read_date=message["read_date"],
                from_id=message["from_id"],
                to_id=message["to_id"],
            )
    return Hour(len(opened), closed, rated)


def hourly_run(
    server: LocalHappyTalk,
    catalog: Path,
    first_day: dt.date,
    end: dt.datetime,
    state: dict[str, Any],
) -> Run:
    """One run of the chat streams from `first_day` (or `state`) to `end` (naive Korea time)."""
    config = {
        "token": server.token,
        "api_url": server.url,
        "start_date": first_day.isoformat(),
        "end_date": end.isoformat(),  # read in `timezone`, Asia/Seoul
        "max_concurrent_requests": HOURLY_IN_FLIGHT,
        "adaptive_concurrency": False,
        "end_margin_seconds": int(HOURLY_MARGIN.total_seconds()),
        "closed_room_grace_minutes": int(HOURLY_GRACE.total_seconds() // 60),
    }
    config_path = catalog.parent / "hourly-config.json"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    state_path = catalog.parent / "hourly-state.json"
    state_path.write_text(json.dumps(state), encoding="utf-8")
    command = [sys.executable, "-m", "tap_happytalk", "--config", str(config_path)]
    command += ["--catalog", str(catalog), "--state", str(state_path)]
    return measure(command, sync_duration=CHATS_SYNC_DURATION)


def open_room_count(state: dict[str, Any]) -> int | None:
    """How many rooms the state holds to read again; None for a state without such a list.

    Its room units (`ask_again`), or the `open_rooms` of an older state.
    """
    bookmark = state.get("bookmarks", {}).get("chat_rooms", {})
    if not isinstance(bookmark, dict):
        return None
    units = bookmark.get("ask_again")
    if isinstance(units, list):
        return sum(1 for unit in units if isinstance(unit, dict) and unit.get("unit") == "room")
    rooms = bookmark.get("open_rooms")
    return len(rooms) if isinstance(rooms, (list, dict)) else None


def without_point_in_list(state: dict[str, Any]) -> dict[str, Any]:
    """The state less where the point stands in the day's list, as the tap wrote it before.

    A run from it lists today whole, in two passes.
    """
    bookmarks = {
        stream: {key: value for key, value in bookmark.items() if key != "point_in_list"}
        for stream, bookmark in state.get("bookmarks", {}).items()
    }
    return {**state, "bookmarks": bookmarks}


def hourly(config_dir: Path) -> list[str]:
    """Section 6: the chat streams' backfill, then the run an hour later, from its STATE."""
    catalog = chats_catalog(config_dir)
    # The tap takes "now" from the real clock, so the hour is simulated on the server's side:
    # the first run reads the rooms as they stood an hour ago, up to an hour ago less the end
    # margin (its end_date: where an hourly run then would have stopped); the server then
    # moves on to the rooms as they stand now, and the second run reads up to now less the
    # margin, as an hourly run now would, its clock and its data agreeing. Its end is given
    # as end_date, not left to the clock, so that the rooms new to it can be counted exactly;
    # it starts after `now`, so the clock does not cut it shorter. Not as in life: the first
    # run's clock is an hour ahead of its data, so a tap judging the grace by its clock finds
    # no room closed within it then. The grace line counts re-reads of the rooms that were,
    # in the data; the line after it, the rooms the second run leaves to be read once more.
    now = korea_now()
    then = now - HOUR
    first_end, second_end = then - HOURLY_MARGIN, now - HOURLY_MARGIN
    first_day = now.date() - dt.timedelta(days=HOURLY_DAYS - 1)
    lives = room_lives(first_day, HOURLY_DAYS)
    as_then = [room for life in lives if (room := life.at(wall_clock(then))) is not None]
    backfill = [room for room in as_then if room["chat"]["reg_date"] < wall_clock(first_end)]
    read_first = {life.room_id for life in lives if life.opened_at < wall_clock(first_end)}
    new = {
        life.room_id
        for life in lives
        if wall_clock(first_end) <= life.opened_at < wall_clock(second_end)
    }
    in_grace_then = {life.room_id for life in lives if life.in_grace(wall_clock(then))} & read_first
    in_grace_now = {life.room_id for life in lives if life.in_grace(wall_clock(now))}
    with LocalHappyTalk(rooms=as_then, latency_seconds=HOURLY_LATENCY) as server:
        first = hourly_run(server, catalog, first_day, first_end, {})
        check(bool(first.last_state), "hourly backfill: the tap printed no STATE")
        first_rooms = sum(r.path == CHAT_DATA_PATH for r in server.requests)
        hour = move_on(server, lives, wall_clock(then), wall_clock(now))
        asked = len(server.requests)
        state = json.loads(first.last_state)["value"] if first.last_state else {}
        second = hourly_run(server, catalog, first_day, second_end, state)
        requests = server.requests[asked:]
        asked = len(server.requests)
        # The same run as before the point's place in the list was kept (nothing has changed
        # on the server since): today's list read whole, in two passes.
        hourly_run(server, catalog, first_day, second_end, without_point_in_list(state))
        pages_before = sum(r.path == CHAT_ROOM_LISTS_PATH for r in server.requests[asked:])
    messages = sum(len(room["message"]) for room in backfill)
    check(
        first.by_stream == {"chat_rooms": len(backfill), "chat_messages": messages},
        f"hourly backfill: {dict(first.by_stream)} records, not {len(backfill)} rooms and "
        f"{messages} messages",
    )
    read = [r.room_id for r in requests if r.path == CHAT_DATA_PATH]
    today = wall_clock(dt.datetime.combine(second_end.date(), dt.time()))
    listed_today = sum(today <= life.opened_at < wall_clock(first_end) for life in lives)
    pages = sum(r.path == CHAT_ROOM_LISTS_PATH for r in requests)
    check(new <= set(read), f"hourly: {len(new - set(read))} new rooms were not read")
    in_set = open_room_count(state)
    grace_reads = sum(room_id in in_grace_then for room_id in read)
    left_in_grace = len(in_grace_now & set(read))
    within = in_set is not None and len(read) <= len(new) + in_set
    budget = f"{len(new):,} + {in_set:,}" if in_set is not None else f"{len(new):,} + n/a"
    grace = f"{HOURLY_GRACE.total_seconds() / 60:.0f} min"

    def row(label: str, value: str, note: str = "") -> str:
        return f"   {label:<56}{value:>7}{note}"

    return [
        (
            f"6. Chats, hourly: {HOURLY_ROOMS_PER_DAY:,} rooms a day, "
            f"{100 / HOURLY_STUCK_EVERY:.0f}% stuck open, {HOURLY_MESSAGES_PER_ROOM} messages "
            f"each, {HOURLY_LATENCY * 1000:.0f} ms per response, "
            f"max_concurrent_requests={HOURLY_IN_FLIGHT} (1 run each)"
        ),
        (
            f"   first run (backfill), {first_day} 00:00 to {first_end:%Y-%m-%d %H:%M} KST: "
            f"{len(backfill):,} rooms, {first_rooms:,} room reads, wall {first.wall:.1f} s"
        ),
        (
            f"   the server's hour, {then:%H:%M} to {now:%H:%M} KST: {hour.opened} rooms opened, "
            f"{hour.closed} closed, {hour.rated} rated"
        ),
        f"   second run, an hour later, from the first's final STATE (to {second_end:%H:%M} KST)",
        row("today's rooms opened before the first run's end", f"{listed_today:,}"),
        row(
            "room-list pages, today listed whole in two passes", f"{pages_before:,}", "   (before)"
        ),
        row("room-list pages, read on from the first run's point", f"{pages:,}", "   (after)"),
        row("room reads (chat_data)", f"{len(read):,}"),
        row("new rooms (opened since the first run's end)", f"{len(new):,}"),
        row(
            "rooms in the open-room set at its start",
            "n/a" if in_set is None else f"{in_set:,}",
            "   (the state has no open_rooms)" if in_set is None else "",
        ),
        row(
            f"reads for the grace (closed unrated < {grace} at run 1)",
            f"{grace_reads:,}",
            "   (see the note)",
        ),
        row(
            f"rooms read closed unrated < {grace} ago",
            f"{left_in_grace:,}",
            "   (read once more next hour)",
        ),
        row(
            "room reads <= new rooms + rooms in the set",
            "yes" if within else "no",
            f"   ({len(read):,} vs {budget}; target: yes)",
        ),
        row("wall", f"{second.wall:.1f} s", f"   (sync {second.sync:.1f} s)"),
        row("peak RSS", f"{second.peak_rss_mb:.0f} MB"),
        (
            "   note: the first run read the rooms as they were an hour before its clock, so a "
            "tap judging"
        ),
        (
            "         the grace by its clock re-reads none of those; the line after is the "
            "grace's hourly cost"
        ),
    ]


LATE_FIRST_END, LATE_SECOND_END = 22, 23  # o'clock: the hour read late in a day


def late_in_the_day(config_dir: Path) -> list[str]:
    """Section 6, late in a day: list pages of two passes over the day, and read on from the point.

    Whatever the hour in Korea as the bench runs, the day is yesterday's. Its rooms up to
    22:00 are read; then those of 22:00 to 23:00 open, and the run to 23:00 from the first's
    STATE is made twice: as the tap does now, reading the list on from where the first run
    stopped, and from the same state less `point_in_list`, as before.
    """
    catalog = chats_catalog(config_dir)
    day = korea_now().date() - dt.timedelta(days=1)
    midnight = dt.datetime.combine(day, dt.time())
    first_end = midnight + dt.timedelta(hours=LATE_FIRST_END)
    second_end = midnight + dt.timedelta(hours=LATE_SECOND_END)
    rooms = sample_rooms(day, 1, HOURLY_ROOMS_PER_DAY, HOURLY_MESSAGES_PER_ROOM)
    early = [r for r in rooms if r["chat"]["reg_date"] < wall_clock(first_end)]
    hour = [
        r for r in rooms if wall_clock(first_end) <= r["chat"]["reg_date"] < wall_clock(second_end)
    ]
    with LocalHappyTalk(rooms=early, latency_seconds=HOURLY_LATENCY) as server:
        first = hourly_run(server, catalog, day, first_end, {})
        check(bool(first.last_state), "hourly, late in a day: the tap printed no STATE")
        state = json.loads(first.last_state)["value"] if first.last_state else {}
        server.chats.add_rooms(hour)
        asked = len(server.requests)
        hourly_run(server, catalog, day, second_end, state)
        after = server.requests[asked:]
        asked = len(server.requests)
        hourly_run(server, catalog, day, second_end, without_point_in_list(state))
        before = server.requests[asked:]
    new = {room["chat"]["id"] for room in hour}
    for run in (after, before):
        read = {r.room_id for r in run if r.path == CHAT_DATA_PATH}
        check(new <= read, f"hourly, late in a day: {len(new - read)} new rooms were not read")

    def pages(requests: list[Any]) -> str:
        return f"{sum(r.path == CHAT_ROOM_LISTS_PATH for r in requests):,}"

    def row(label: str, value: str, note: str = "") -> str:
        return f"   {label:<56}{value:>7}{note}"

    return [
        (
            f"   late in a day: {day} read to {LATE_FIRST_END}:00 KST ({len(early):,} rooms), "
            f"then the run to {LATE_SECOND_END}:00 from its STATE ({len(hour)} new rooms)"
        ),
        row("room-list pages, the day listed whole in two passes", pages(before), "   (before)"),
        row("room-list pages, read on from the first run's point", pages(after), "   (after)"),
    ]


CAPACITIES = (2, 8, 32)
CAPACITY_LATENCY = 0.05  # seconds a request takes while the server is within its capacity
CAPACITY_QUEUE_SECONDS = 1.0  # a request queued this long is answered 503
# Of 24 one-hour windows: 240, 960 and 3,840 requests, 120 per request served at once, so that
# at every C the work takes the same 6 s at best (C requests in flight, 50 ms each).
CAPACITY_DAYS = {2: 10, 8: 40, 32: 160}
DEFAULT_FIXED = 4  # the old default of max_concurrent_requests
# The adaptive runs leave max_concurrent_requests unset: the tap as a user gets it.
ADAPTIVE = {"adaptive_concurrency": True}


def fixed_sweep(capacity: int) -> list[int]:
    """The fixed settings tried at `capacity`: powers of two from a quarter to four times it."""
    return [n for n in (1, 2, 4, 8, 16, 32, 64) if capacity / 4 <= n <= capacity * 4]


def capacity_run(
    server: LocalHappyTalk, days: int, config_dir: Path, **settings: object
) -> tuple[Run, int]:
    """One service-history run in one-hour windows; its run and the 503s it drew."""
    refused = server.refused_over_capacity
    run = tap(server, days, config_dir, None, window_size_hours=1, max_retries=10, **settings)
    check(run.records == days * 24, f"capacity run {settings}: {run.records} records")
    return run, server.refused_over_capacity - refused


def capacity(config_dir: Path) -> list[str]:
    """Section 7: adaptive against fixed settings, at servers that serve C at once."""
    lines = [
        (
            f"7. A server that serves C at once ({CAPACITY_LATENCY * 1000:.0f} ms each), "
            f"queues the rest and answers 503 after {CAPACITY_QUEUE_SECONDS:.0f} s in its "
            "queue; service history in one-hour windows (1 run each)"
        ),
        (
            f"   C    requests   {f'adaptive (default ceiling {DEFAULT_CEILING})':<32}"
            f"{'best fixed (swept)':<30}fixed 4"
        ),
    ]
    for limit in CAPACITIES:
        days = CAPACITY_DAYS[limit]
        with LocalHappyTalk(
            sample_events(FIRST_DAY, days, 24),
            latency_seconds=CAPACITY_LATENCY,
            capacity=limit,
            queue_timeout_seconds=CAPACITY_QUEUE_SECONDS,
        ) as server:
            adaptive, adaptive_errors = capacity_run(server, days, config_dir, **ADAPTIVE)
            swept = {
                n: capacity_run(server, days, config_dir, max_concurrent_requests=n)
                for n in fixed_sweep(limit)
            }
            if DEFAULT_FIXED not in swept:
                swept[DEFAULT_FIXED] = capacity_run(
                    server, days, config_dir, max_concurrent_requests=DEFAULT_FIXED
                )
        best_n = min(swept, key=lambda n: swept[n][0].wall)
        (best_run, best_errors), (four, four_errors) = swept[best_n], swept[DEFAULT_FIXED]
        adaptive_cell = f"wall {adaptive.wall:6.2f} s, {adaptive_errors:>3} 503s"
        best_cell = f"{best_n:>2}: wall {best_run.wall:6.2f} s, {best_errors:>3} 503s"
        lines.append(
            f"   {limit:<4} {days * 24:>8,}   {adaptive_cell:<32}{best_cell:<30}"
            f"wall {four.wall:6.2f} s, {four_errors:>3} 503s"
        )
        tried = (f"{n}: {run.wall:.2f} s ({errors} 503s)" for n, (run, errors) in swept.items())
        lines.append("        swept    " + ", ".join(tried))
        lines.append(
            f"        adaptive / best fixed: {adaptive.wall / best_run.wall:.2f}   "
            "(target: <= 1.10)"
        )
    return [*lines, capacity_change(config_dir), jittered(config_dir)]


CHANGE_FROM, CHANGE_TO, CHANGE_AFTER, CHANGE_DAYS = 8, 32, 400, 50  # 1,200 requests


def capacity_change(config_dir: Path) -> str:
    """The capacity rises mid-run: seconds until the tap has 90% of the new one in flight."""
    with LocalHappyTalk(
        sample_events(FIRST_DAY, CHANGE_DAYS, 24),
        latency_seconds=CAPACITY_LATENCY,
        capacity=CHANGE_FROM,
        queue_timeout_seconds=CAPACITY_QUEUE_SECONDS,
    ) as server:
        changed: list[float] = []

        def change_when_due() -> None:
            while len(server.requests) < CHANGE_AFTER:
                time.sleep(0.005)
            server.capacity = CHANGE_TO
            changed.append(time.monotonic())

        threading.Thread(target=change_when_due, daemon=True).start()
        run, errors = capacity_run(server, CHANGE_DAYS, config_dir, **ADAPTIVE)
        requests = list(server.requests)
    check(bool(changed), "the capacity did not change during the run")
    target = 0.9 * CHANGE_TO
    reached = next(
        (r.received_at for r in requests if r.received_at >= changed[0] and r.concurrent >= target),
        None,
    )
    after = f"{reached - changed[0]:.1f} s" if reached is not None else "never"
    return (
        f"   C {CHANGE_FROM} -> {CHANGE_TO} after {CHANGE_AFTER} of {CHANGE_DAYS * 24:,} requests "
        f"(adaptive): {target:.0f} in flight {after} after the change (target: <= 30 s), "
        f"wall {run.wall:.2f} s, {errors} 503s"
    )


JITTER_BASE, JITTER_SPREAD, JITTER_DAYS = 0.02, 0.16, 40  # 20-180 ms, 100 ms on average


def jittered(config_dir: Path) -> str:
    """No capacity limit, answer times that vary: adaptive beside fixed 4 and fixed 32."""
    walls: dict[str, float] = {}
    peaks = ""
    with LocalHappyTalk(
        sample_events(FIRST_DAY, JITTER_DAYS, 24),
        latency_seconds=JITTER_BASE,
        jitter_seconds=JITTER_SPREAD,
    ) as server:
        for name, settings in (
            ("adaptive", ADAPTIVE),
            ("fixed 4", {"max_concurrent_requests": 4}),
            ("fixed 32", {"max_concurrent_requests": 32}),
        ):
            start = len(server.requests)
            run, _ = capacity_run(server, JITTER_DAYS, config_dir, **settings)
            walls[name] = run.wall
            if name == "adaptive":
                most = max(r.concurrent for r in server.requests[start:])
                peaks = f" (at most {most} in flight)"
    figures = ", ".join(f"{name} {wall:.2f} s" for name, wall in walls.items())
    return (
        f"   no capacity limit, {JITTER_BASE * 1000:.0f}-"
        f"{(JITTER_BASE + JITTER_SPREAD) * 1000:.0f} ms each, {JITTER_DAYS * 24:,} requests: "
        f"wall {figures}{peaks}; adaptive / fixed 4: {walls['adaptive'] / walls['fixed 4']:.2f} "
        "(target: <= 1.00)"
    )


def machine() -> str:
    """The machine the figures come from."""
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        model = found.group(1).strip() if found else model
    return (
        f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}"
    )


def main() -> None:
    """Run every section (or the one asked for) and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        choices=("latency", "records", "chats", "hourly", "capacity"),
        help=(
            "run one part: latency (section 1), records (2 to 4), chats (5), hourly (6) or "
            "capacity (7)"
        ),
    )
    only = parser.parse_args().only
    repeat = int(os.environ.get("BENCH_REPEAT", "3"))
    with tempfile.TemporaryDirectory() as scratch:
        lines = [f"Machine: {machine()}", f"Best of {repeat} runs each.", ""]
        if only in (None, "latency"):
            lines += latency_bound(Path(scratch), repeat)
        if only in (None, "records"):
            costs, record_lines = record_path(Path(scratch), repeat)
            lines += record_lines + costs
        if only in (None, "chats"):
            lines += chats(Path(scratch), repeat)
        if only in (None, "hourly"):
            lines += hourly(Path(scratch))
            lines += late_in_the_day(Path(scratch))
        if only in (None, "capacity"):
            lines += capacity(Path(scratch))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
