"""The fault matrix: every fault the local HappyTalk server can inject, and what reached the target.

Each scenario runs the tap as a subprocess against the local server on 127.0.0.1 with the fault
injected. A run that fails is followed, as the next scheduled run would be, by one resumed from
the last STATE it emitted, with the fault gone. The table counts records across those runs:
expected (what HappyTalk's answers held), delivered, lost, duplicated; and checks that the
token appeared in no output.

Run: `make faults` (or `python benchmarks/faults.py`).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_happytalk.server import Fault, LocalHappyTalk, sample_events

FIRST_DAY = dt.date(2024, 3, 1)
DAYS, PER_DAY = 6, 20
FAULT_DAY = "2024-03-03"
TOKEN = "fault-matrix-token-3b9f0c"  # noqa: S105 - a fixture's token, checked for leaks


@dataclass
class Scenario:
    """One fault, how often it strikes, and the settings the tap runs with."""

    name: str
    faults: list[Fault] = field(default_factory=list)
    day: str | None = FAULT_DAY
    settings: dict[str, Any] = field(default_factory=dict)
    stop: signal.Signals | None = None
    # Records HappyTalk's answers held, when a fault replaces a day's answer.
    replaces_day: bool = False
    extra_rows: list[dict[str, Any]] = field(default_factory=list)


def body(**answer: Any) -> Fault:  # noqa: ANN401
    """A 200 answer with this JSON body instead of HappyTalk's own."""
    return Fault("body", status=200, text=json.dumps(answer, ensure_ascii=False))


def row(**fields: Any) -> dict[str, Any]:  # noqa: ANN401
    """A service-history row on the fault day."""
    return {
        "id": "900000",
        "type": "A",
        "kind": "S",
        "request_date": f"{FAULT_DAY} 10:00:00",
    } | fields


def scenarios() -> list[Scenario]:
    """The matrix."""
    retry_date = email.utils.formatdate(time.time() + 3, usegmt=True)
    twice = 2
    return [
        Scenario("429 with Retry-After (seconds)", [Fault("status", 429, retry_after="1")]),
        Scenario(
            "429 with Retry-After (HTTP date)", [Fault("status", 429, retry_after=retry_date)]
        ),
        Scenario("429 without Retry-After", [Fault("status", 429)] * twice),
        *(
            Scenario(f"{status} with an HTML page", [Fault("status", status)] * twice)
            for status in (500, 502, 503, 504)
        ),
        Scenario("connection dropped before the answer", [Fault("drop")] * twice),
        Scenario("connection dropped mid-answer", [Fault("truncate")] * twice),
        Scenario(
            "answer slower than request_timeout_seconds",
            [Fault("delay", seconds=3)],
            settings={"request_timeout_seconds": 1},
        ),
        Scenario(
            "a day that always times out whole",
            [Fault("delay", seconds=3)] * 3,
            day=f"{FAULT_DAY} 00:00:00",
            settings={"request_timeout_seconds": 1, "max_retries": 2},
        ),
        Scenario("200 with a non-JSON body", [Fault("body", status=200, text="<html>점검</html>")]),
        Scenario("200 with truncated JSON", [Fault("body", status=200, text='{"result": "succ')]),
        Scenario(
            "result fail with code and message", [body(result="fail", code="E1", message="x")]
        ),
        Scenario("result fail without code or message", [body(result="fail")]),
        Scenario("data missing", [body(result="success")], replaces_day=True),
        Scenario("data null", [body(result="success", data=None)], replaces_day=True),
        Scenario("data not a list", [body(result="success", data={"rows": 1})]),
        Scenario(
            "a record without request_date", [body(result="success", data=[row(request_date=None)])]
        ),
        Scenario(
            "a record with a malformed date",
            [body(result="success", data=[row(request_date="3/3")])],
        ),
        Scenario(
            "a record with unknown extra fields",
            [body(result="success", data=[row(channel="kakao")])],
            replaces_day=True,
            extra_rows=[row()],
        ),
        Scenario(
            "the same id in two windows",
            [body(result="success", data=[row(id="100000")])],
            replaces_day=True,
            extra_rows=[row(id="100000")],
        ),
        *(
            Scenario(f"SIGTERM at a random point ({n})", day=None, stop=signal.SIGTERM)
            for n in (1, 2, 3)
        ),
        *(
            Scenario(f"SIGKILL at a random point ({n})", day=None, stop=signal.SIGKILL)
            for n in (1, 2, 3)
        ),
    ]


@dataclass
class TapRun:
    """What one tap process printed."""

    returncode: int
    messages: list[dict[str, Any]]
    output: str


def run_tap(
    config_path: Path,
    state: dict[str, Any] | None,
    stop_after: int | None = None,
    stop: signal.Signals | None = None,
) -> TapRun:
    """Run the tap once; with `stop`, signal it after `stop_after` lines of output."""
    command = [sys.executable, "-m", "tap_happytalk", "--config", str(config_path)]
    if state is not None:
        state_path = config_path.with_name("state.json")
        state_path.write_text(json.dumps(state), encoding="utf-8")
        command += ["--state", str(state_path)]
    with (
        tempfile.TemporaryFile(mode="w+") as errors,
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True) as process,
    ):
        if process.stdout is None:  # pragma: no cover - PIPE always gives one
            raise RuntimeError(command)
        lines = []
        if stop is not None and stop_after is not None:
            lines = [process.stdout.readline() for _ in range(stop_after)]
            process.send_signal(stop)
        # Not communicate(): it reads the pipe underneath what readline() has buffered.
        stdout = "".join(lines) + process.stdout.read()
        process.wait(timeout=300)
        errors.seek(0)
        log = errors.read()
    complete = [line for line in stdout.splitlines(keepends=True) if line.endswith("\n")]
    messages = [json.loads(line) for line in complete if line.strip()]
    return TapRun(process.returncode, messages, stdout + log)


def play(scenario: Scenario, scratch: Path, seed: int) -> list[str]:
    """Run one scenario (and its resumption) and return its table row."""
    events = sample_events(FIRST_DAY, DAYS, PER_DAY)
    expected = {e["id"] for e in events}
    if scenario.replaces_day:
        expected -= {e["id"] for e in events if e["request_date"].startswith(FAULT_DAY)}
        expected |= {r["id"] for r in scenario.extra_rows}
    with LocalHappyTalk(events, token=TOKEN, latency_seconds=0.01) as server:
        for fault in scenario.faults:
            server.inject(fault, day=scenario.day)
        config = {
            "token": TOKEN,
            "api_url": server.url,
            "start_date": FIRST_DAY.isoformat(),
            "end_date": (FIRST_DAY + dt.timedelta(days=DAYS)).isoformat(),
            "max_retries": 3,
        } | scenario.settings
        config_path = scratch / "config.json"
        config_path.write_text(json.dumps(config), encoding="utf-8")
        rng = random.Random(seed)  # noqa: S311 - a reproducible stop point, not a secret
        stop_after = rng.randrange(3, DAYS * PER_DAY) if scenario.stop else None
        runs = [run_tap(config_path, None, stop_after, scenario.stop)]
        if runs[0].returncode != 0 or scenario.stop:
            server.clear_faults()  # the next scheduled run finds HappyTalk healthy
            states = [m["value"] for m in runs[0].messages if m["type"] == "STATE"]
            runs.append(run_tap(config_path, states[-1] if states else None))
    delivered = Counter(
        m["record"]["id"] for run in runs for m in run.messages if m["type"] == "RECORD"
    )
    lost = len(expected - set(delivered))
    duplicated = sum(count - 1 for count in delivered.values())
    leaked = any(TOKEN in run.output for run in runs)
    first = runs[0]
    if scenario.stop is not None:
        how = "exit 0" if first.returncode == 0 else "killed"
        outcome = f"stopped ({how}), resumed from its last STATE"
    elif first.returncode == 0:
        outcome = "completed"
        if "asking for it in halves" in first.output:
            outcome = "split into halves, completed"
        elif "retry" in first.output:
            outcome = "retried, completed"
        elif "without 'data'" in first.output or "does not describe" in first.output:
            outcome = "completed with a warning"
    else:
        outcome = "failed with one line, resumed"
    if runs[-1].returncode != 0:
        outcome += ", resume FAILED"
    return [
        scenario.name,
        str(len(runs)),
        str(len(expected)),
        str(len(set(delivered))),
        str(lost),
        str(duplicated),
        "LEAKED" if leaked else "no",
        outcome,
    ]


def main() -> None:
    """Play every scenario and print the table."""
    header = ["fault", "runs", "expected", "delivered", "lost", "duplicated", "token", "outcome"]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for seed, scenario in enumerate(scenarios()):
            rows.append(play(scenario, Path(scratch), seed))
            print(f"faults: {scenario.name}: done", file=sys.stderr)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for cells in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |")
    if any(r[4] != "0" or r[6] != "no" for r in rows):
        sys.exit("faults: records were lost or the token leaked")


if __name__ == "__main__":
    main()
