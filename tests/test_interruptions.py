"""Runs stopped at random points resume from their last STATE: nothing lost, little re-sent."""

from __future__ import annotations

import datetime as dt
import random
import signal
import subprocess
import time

import pytest

from local_happytalk.server import Fault, LocalHappyTalk, sample_events

from .conftest import (
    FIRST_DAY,
    TAP,
    killed_after,
    parse_messages,
    run_tap,
    run_until_stopped,
    tap_env,
    wait_for,
    write_json,
)

# Ten stopped runs and their reruns per case, each a few seconds; far below this.
pytestmark = pytest.mark.timeout(300)

PER_DAY = 12


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
@pytest.mark.parametrize("concurrency", [1, 4])
def test_resuming_from_the_last_state_loses_nothing_and_resends_at_most_one_window(
    tmp_path, concurrency, stop
):
    events = sample_events(FIRST_DAY, 20, PER_DAY, empty_days=[dt.date(2024, 3, 9)])
    all_ids = {e["id"] for e in events}
    # Answers slow enough that the tap cannot run far ahead of the reader of its output.
    with LocalHappyTalk(events, latency_seconds=0.05) as server:
        config = {
            "token": server.token,
            "start_date": "2024-03-01",
            "end_date": "2024-03-21",
            "api_url": server.url,
            "max_concurrent_requests": concurrency,
        }
        full = run_tap(tmp_path, config)
        assert full.returncode == 0, full.stderr
        total_lines = len(full.stdout.splitlines())
        # Not in the last windows' lines: the tap, writing ahead of the pipe's reader, could
        # finish before the signal lands, which would test nothing.
        points = range(2, total_lines - 5 * (PER_DAY + 1))
        for stop_after in random.Random(f"{concurrency}{stop}").sample(points, 5):
            before, returncode = run_until_stopped(tmp_path, config, stop_after, stop)
            assert len(before) < total_lines, "the tap finished before it was stopped"
            if stop == signal.SIGTERM:
                assert returncode == 1  # a graceful stop, with a final STATE: incomplete
                assert before[-1]["type"] == "STATE"
                final = before[-1]["value"]["bookmarks"]["service_history"]
                resume_at = final["replication_key_value"]
            states = [m["value"] for m in before if m["type"] == "STATE"]
            rerun = run_tap(tmp_path, config, state=states[-1] if states else None)
            assert rerun.returncode == 0, rerun.stderr

            first_ids = [m["record"]["id"] for m in before if m["type"] == "RECORD"]
            second_ids = [r["id"] for r in rerun.records]
            assert set(first_ids) | set(second_ids) == all_ids, f"lost after {stop_after} lines"
            resent = set(first_ids) & set(second_ids)
            assert len(resent) <= PER_DAY
            if stop == signal.SIGTERM:  # only the events of the last second written
                assert all(
                    r["request_date"] == resume_at for r in rerun.records if r["id"] in resent
                )
            assert len({r["request_date"][:10] for r in rerun.records if r["id"] in resent}) <= 1


def test_a_target_that_dies_ends_the_run_promptly_with_one_line(tmp_path):
    with LocalHappyTalk(sample_events(FIRST_DAY, 20, 50), latency_seconds=0.2) as server:
        config = {
            "token": server.token,
            "start_date": "2024-03-01",
            "end_date": "2024-03-21",
            "api_url": server.url,
        }
        command = [*TAP, "--config", str(write_json(tmp_path / "config.json", config))]
        with (
            subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=tap_env()
            ) as process,
            killed_after(process, 60, "a first line, then the tap's exit"),
        ):
            assert process.stdout is not None
            assert process.stderr is not None
            process.stdout.readline()
            process.stdout.close()  # the target is gone
            started = time.monotonic()
            stderr = process.stderr.read().decode()
            returncode = process.wait(timeout=30)

    assert returncode == 1
    assert time.monotonic() - started < 10
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if "| ERROR" in line]
    assert "the target stopped reading the tap's output (broken pipe)" in errors[-1]


def test_a_stop_during_a_pause_sends_nothing_more(tmp_path):
    """Requests held back by HappyTalk's Retry-After give up at a stop; they are not sent."""
    with LocalHappyTalk(sample_events(FIRST_DAY, 12, 5), latency_seconds=0.05) as server:
        server.inject(Fault("status", status=429, retry_after="30"), day="2024-03-03")
        config = {
            "token": server.token,
            "start_date": "2024-03-01",
            "end_date": "2024-03-13",
            "api_url": server.url,
            "max_concurrent_requests": 4,
        }
        command = [*TAP, "--config", str(write_json(tmp_path / "config.json", config))]
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=tap_env()
        ) as process:
            wait_for(
                lambda: any(r.start_date == "2024-03-03 00:00:00" for r in server.requests),
                30,
                "the tap to ask for 2024-03-03",
            )
            time.sleep(0.3)  # every worker is now held by the pause
            stopped_at = time.monotonic()
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=30)
            took = time.monotonic() - stopped_at

    assert process.returncode == 1  # stopped before the end: incomplete, and said so
    assert took < 5
    assert [r for r in server.requests if r.received_at > stopped_at] == []
    assert parse_messages(output.decode())[-1]["type"] == "STATE"
