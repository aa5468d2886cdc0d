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

Every run is a subprocess whose stdout is read and counted here, as a target would read it.
`sync` is the tap's own `sync_duration` metric (the sync without interpreter start-up); `wall`
is the whole process.

Run: `make bench` (or `python benchmarks/bench.py`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import msgspec
from singer_sdk.singerlib import RecordMessage

from local_happytalk.server import LocalHappyTalk, sample_events
from tap_happytalk.records import RowConverter
from tap_happytalk.streams import SCHEMA
from tap_happytalk.windows import DayWindow
from tap_happytalk.writer import StateFlushingWriter

if TYPE_CHECKING:
    from collections.abc import Callable

FIRST_DAY = dt.date(2024, 1, 1)
LATENCY_DAYS, LATENCY_PER_DAY = 60, 40
RECORD_PREFIXES = (b'{"type":"RECORD"', b'{"type": "RECORD"')
SYNC_DURATION = re.compile(r'"metric":"sync_duration","value":([0-9.]+)')

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


def measure(command: list[str], env: dict[str, str] | None = None) -> Run:
    """Run `command`, count the RECORD lines it prints, and take its time and peak RSS."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, env=env)
        if process.stdout is None:  # pragma: no cover - PIPE always gives one
            raise RuntimeError(command)
        records, partial, peak_kb = 0, b"", 0
        while chunk := process.stdout.read(1 << 20):
            lines = (partial + chunk).split(b"\n")
            partial = lines.pop()
            records += sum(line.startswith(RECORD_PREFIXES) for line in lines)
            peak_kb = max(peak_kb, high_water_mark_kb(process.pid))
        process.stdout.close()
        _, status, _ = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        stderr.seek(0)
        log = stderr.read().decode(errors="replace")
    if process.returncode != 0:
        sys.exit(f"bench: {' '.join(command[:3])} failed:\n{log[-2000:]}")
    found = SYNC_DURATION.search(log)
    # The floor loop reports no sync_duration: its whole run is its sync.
    return Run(wall, float(found.group(1)) if found else wall, records, peak_kb / 1024)


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


def tap(server: LocalHappyTalk, days: int, config_dir: Path, **settings: object) -> Run:
    """One run of the tap over `days` days from the server."""
    config = {
        "token": server.token,
        "api_url": server.url,
        "start_date": FIRST_DAY.isoformat(),
        "end_date": (FIRST_DAY + dt.timedelta(days=days)).isoformat(),
        **settings,
    }
    path = config_dir / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return measure([sys.executable, "-m", "tap_happytalk", "--config", str(path)])


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
    """Run every section and print the table."""
    repeat = int(os.environ.get("BENCH_REPEAT", "3"))
    with tempfile.TemporaryDirectory() as scratch:
        lines = [f"Machine: {machine()}", f"Best of {repeat} runs each.", ""]
        lines += latency_bound(Path(scratch), repeat)
        costs, record_lines = record_path(Path(scratch), repeat)
        lines += record_lines + costs
    print("\n".join(lines))


if __name__ == "__main__":
    main()
