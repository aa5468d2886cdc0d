"""Parallel windows: same result as sequential, polite when HappyTalk says slow down."""

from __future__ import annotations

import datetime as dt
import json
import re
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest

from local_happytalk.server import Fault, LocalHappyTalk, sample_events

from .conftest import FIRST_DAY, run_tap, tap_env

pytestmark = pytest.mark.timeout(300)

RECORD_PREFIXES = (b'{"type":"RECORD"', b'{"type": "RECORD"')


@dataclass(frozen=True)
class Measured:
    """How many RECORD lines a run printed, and its peak resident memory."""

    records: int
    peak_rss_mb: float


def high_water_mark_kb(pid: int) -> int:
    """Peak RSS of a running process since its exec (`VmHWM`, not the parent's `ru_maxrss`)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except OSError:
        return 0
    found = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(found.group(1)) if found else 0


def measure(command: list[str], *, timeout: float = 240) -> Measured:
    """Run `command`, count the RECORD lines it prints, and sample its peak RSS as it reads.

    Raises:
        subprocess.TimeoutExpired: The run outlasted `timeout` seconds; it is killed.
    """
    deadline = time.monotonic() + timeout
    # Unbuffered: each read is one read(2) of what the pipe holds, so select() tells the truth.
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=tap_env(), bufsize=0
    ) as process:
        assert process.stdout is not None
        records, partial, peak_kb = 0, b"", 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([process.stdout], [], [], remaining)[0]:
                process.kill()
                raise subprocess.TimeoutExpired(command, timeout)
            chunk = process.stdout.read(1 << 20)
            if not chunk:
                break
            lines = (partial + chunk).split(b"\n")
            partial = lines.pop()
            records += sum(line.startswith(RECORD_PREFIXES) for line in lines)
            peak_kb = max(peak_kb, high_water_mark_kb(process.pid))
        returncode = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    assert returncode == 0, f"{command} exited with {returncode}"
    return Measured(records, peak_kb / 1024)


def bookmarks(run):
    return [s["bookmarks"]["service_history"]["replication_key_value"] for s in run.states]


def config_for(server, days=20, **extra):
    return {
        "token": server.token,
        "api_url": server.url,
        "start_date": FIRST_DAY.isoformat(),
        "end_date": (FIRST_DAY + dt.timedelta(days=days)).isoformat(),
        **extra,
    }


def test_random_latency_gives_the_same_records_order_and_states_as_sequential(tmp_path):
    events = sample_events(FIRST_DAY, 20, 15, empty_days=[dt.date(2024, 3, 7)])
    with LocalHappyTalk(events, jitter_seconds=0.08) as server:
        sequential = run_tap(tmp_path, config_for(server, max_concurrent_requests=1))
        parallel = run_tap(tmp_path, config_for(server, max_concurrent_requests=8))
        overlapping = max(r.concurrent for r in server.requests)

    assert sequential.returncode == parallel.returncode == 0, parallel.stderr
    assert overlapping >= 4  # the windows really were in flight together
    assert parallel.records == sequential.records
    assert parallel.states[-1] == sequential.states[-1]
    assert bookmarks(parallel) == bookmarks(sequential)
    # A STATE never comes before a record it covers: every record after a STATE is newer.
    bookmark = None
    for message in parallel.messages:
        if message["type"] == "STATE":
            bookmark = message["value"]["bookmarks"]["service_history"]["replication_key_value"]
        elif message["type"] == "RECORD" and bookmark:
            assert dt.datetime.fromisoformat(message["record"]["request_date"]) >= (
                dt.datetime.fromisoformat(bookmark)
            )


def test_a_429_pauses_the_whole_pool_and_the_pace_recovers(tmp_path):
    events = sample_events(FIRST_DAY, 40, 5)
    with LocalHappyTalk(events, latency_seconds=0.05) as server:
        server.inject(Fault("status", status=429, retry_after="1"), day="2024-03-05")
        run = run_tap(tmp_path, config_for(server, days=40, max_concurrent_requests=8))
        requests = list(server.requests)

    assert run.returncode == 0, run.stderr
    assert len(run.records) == len(events)
    refused = next(r for r in requests if r.start_date == "2024-03-05 00:00:00")
    told = refused.received_at + 0.05  # the tap reads the 429 after the server's latency
    # Requests already on the wire may still land; none is sent during the second's pause.
    assert [r for r in requests if told + 0.1 < r.received_at < told + 0.9] == []
    after = [r for r in requests if r.received_at >= told + 0.9]
    assert len(after) >= 20
    assert max(r.concurrent for r in after) >= 3, "the pool recovered its pace"
    assert "all requests pause 1.0s" in run.stderr


def test_max_requests_per_minute_spaces_requests_across_the_pool(tmp_path):
    events = sample_events(FIRST_DAY, 6, 3)
    with LocalHappyTalk(events) as server:
        run = run_tap(
            tmp_path,
            config_for(server, days=6, max_concurrent_requests=4, max_requests_per_minute=240),
        )
        arrivals = sorted(r.received_at for r in server.requests)

    assert run.returncode == 0, run.stderr
    assert len(run.records) == len(events)
    gaps = [later - earlier for earlier, later in pairwise(arrivals)]
    assert min(gaps) >= 0.2  # 240 a minute: one every 0.25 s, whatever the pool size


def test_memory_follows_the_windows_in_flight_not_the_range(tmp_path):
    """Peak RSS of 60 days is about that of 6 days with as many records a day."""
    peaks = {}
    for days in (6, 60):
        with LocalHappyTalk(sample_events(FIRST_DAY, days, 2_000)) as server:
            config = tmp_path / f"config-{days}.json"
            config.write_text(json.dumps(config_for(server, days=days)), encoding="utf-8")
            run = measure([sys.executable, "-m", "tap_happytalk", "--config", str(config)])
        assert run.records == days * 2_000
        peaks[days] = run.peak_rss_mb

    assert peaks[6] > 0
    assert peaks[60] < peaks[6] * 1.25, peaks


def test_requests_reuse_a_connection_per_worker(tmp_path):
    events = sample_events(FIRST_DAY, 30, 3)
    with LocalHappyTalk(events, jitter_seconds=0.02) as server:
        run = run_tap(tmp_path, config_for(server, days=30, max_concurrent_requests=4))
        connections = {r.client_port for r in server.requests}

    assert run.returncode == 0, run.stderr
    assert len(server.requests) == 30
    assert len(connections) <= 4


def test_output_is_one_valid_singer_message_per_line_with_korean_text_as_utf8(tmp_path):
    events = sample_events(FIRST_DAY, 2, 5)
    with LocalHappyTalk(events) as server:
        run = run_tap(tmp_path, config_for(server, days=2))

    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == len(run.messages)  # parse_messages read every line as one message
    assert {m["type"] for m in run.messages} == {"SCHEMA", "RECORD", "STATE"}
    assert "상담원" in run.stdout  # UTF-8 as such, not \\u escapes
    sent = {e["id"]: e["request_content"] for e in events}
    assert all(r["request_content"] == sent[r["id"]] for r in run.records)
