"""The fault matrix: every fault the local HappyTalk server can inject, and what reached the target.

Each scenario runs the tap as a subprocess against the local server on 127.0.0.1 with the fault
injected on one day of six (20 events a day). A run that fails, is stopped, ends incomplete
(exit code 3) or was answered without data for a day (which it takes as empty for now, and
asks again in later runs) is followed, as the next scheduled run would be, by one resumed from
the last STATE it emitted, with the fault gone.
The table counts records across those runs: expected (what HappyTalk held: a day once answered
without data counts whole, its events there to be asked again; a day whose answer a fault
replaced with other records counts those), delivered, lost, duplicated; checks that the token
appeared in no output; and gives the outcome the tap decided on, with what the scenario checks
besides (the one error line, a redirect target that must receive nothing, request attempts,
types, the seconds a stop took, the day asked again).

One row loses a record on purpose: "late commit, margin 0" shows what `end_margin_seconds`
prevents. The matrix fails (exit 1, naming each problem) if any other row loses a record, if
that one does not, if the token leaks, or if a check of an outcome fails (the table shows that
part of the outcome in capitals).

Run: `make faults` (or `python benchmarks/faults.py`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import json
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator

from local_happytalk.server import Fault, LocalHappyTalk, sample_events

if TYPE_CHECKING:
    from collections.abc import Callable

FIRST_DAY = dt.date(2024, 3, 1)
DAYS, PER_DAY = 6, 20
FAULT_DAY = "2024-03-03"
TOKEN = "fault-matrix-token-3b9f0c"  # noqa: S105 - a fixture's token, checked for leaks
KOREA = dt.timezone(dt.timedelta(hours=9))
LATE_ID = "777777"
LATE_BY = dt.timedelta(seconds=60)
# A stop waits this long once the hanging request has arrived, so it is surely in flight.
IN_FLIGHT_SECONDS = 0.3
PROMPT_STOP_SECONDS = 5.0
ERROR_MARK = "| ERROR"
WARNING_MARK = "| WARNING"
RETRIED = re.compile(r"\bretry \d+ of \d+")
INCOMPLETE = 3  # the tap's exit code for a run that set units aside (README, Errors)


@dataclass
class Scenario:
    """One fault, how often it strikes, and the settings the tap runs with."""

    name: str
    faults: list[Fault] = field(default_factory=list)
    day: str | None = FAULT_DAY
    settings: dict[str, Any] = field(default_factory=dict)
    # A signal for the first run: at a random line of its output or, with `in_flight`, once
    # the request for `day` is being answered.
    stop: signal.Signals | None = None
    in_flight: bool = False
    # Records HappyTalk's answers held, when a fault replaces a day's answer with other records.
    replaces_day: bool = False
    # The fault answers a day successfully without data: its events are still expected, from
    # the next run, which asks the day again.
    follow_up: bool = False
    # Rows a fault adds that HappyTalk's answers legitimately held: expected, like the events.
    extra_rows: list[dict[str, Any]] = field(default_factory=list)
    # What the one error line of a failed first run must name.
    error_names: tuple[str, ...] = ()
    # Answer `day` with this 3xx status, pointing at a second server that must receive nothing.
    redirect: int | None = None
    # The first run meets HTTPS with a certificate nobody trusts; the resumed run, the same
    # events over plain http (as if the certificate had been fixed). Attempts are counted.
    untrusted_tls: bool = False
    # Events up to now, no end_date: an event dated LATE_BY before the first run is recorded
    # after it; the next run (end_margin_seconds 0, from the first run's state) looks for it.
    late_commit: bool = False
    # Say whether the records of `extra_rows` arrived with string ids, and types conform.
    check_types: bool = False
    # Records this row loses on purpose, to show why a setting exists.
    expect_lost: int = 0


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
    numeric = row(id=5, request_date=f"{FAULT_DAY} 12:00:00", apply_id=37197)
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
            "result fail with code and message (-502)",
            [Fault("refuse", body={"code": -502, "message": "unAuthorized"})],
            error_names=("-502 unAuthorized", "may not use this API"),
        ),
        Scenario("result fail without code or message", [body(result="fail")]),
        Scenario(
            "redirect (HTTP 307 to a second server)",
            redirect=307,
            error_names=("HTTP 307", "127.0.0.1", FAULT_DAY),
        ),
        Scenario(
            "TLS certificate nobody trusts",
            day=None,
            # One window at a time: with several in flight, each of those makes its one attempt.
            settings={"max_concurrent_requests": 1},
            untrusted_tls=True,
            error_names=("TLS certificate of 127.0.0.1 failed verification",),
        ),
        Scenario("data missing", [body(result="success")], follow_up=True),
        Scenario("data null", [body(result="success", data=None)], follow_up=True),
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
            "a row outside its window",
            [Fault("extra_rows", rows=[row(id="900001", request_date="2024-03-05 12:00:00")])],
        ),
        Scenario(
            "a numeric id",
            [Fault("extra_rows", rows=[numeric])],
            extra_rows=[numeric],
            check_types=True,
        ),
        Scenario(
            "the same id in two windows",
            [body(result="success", data=[row(id="100000")])],
            replaces_day=True,
            extra_rows=[row(id="100000")],
        ),
        Scenario("late commit", day=None, late_commit=True),
        Scenario(
            "late commit, margin 0",
            day=None,
            settings={"end_margin_seconds": 0},
            late_commit=True,
            expect_lost=1,
        ),
        Scenario(
            "a hanging request, then SIGTERM",
            [Fault("delay", seconds=60)],
            settings={"request_timeout_seconds": 120},
            stop=signal.SIGTERM,
            in_flight=True,
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
class Stop:
    """When to signal a run: once `ready` (given the lines read so far), plus `settle`."""

    signal: signal.Signals
    ready: Callable[[int], bool]
    settle_seconds: float = 0.0


@dataclass
class TapRun:
    """What one tap process printed."""

    returncode: int
    messages: list[dict[str, Any]]
    stdout: str
    log: str
    # Seconds from the stop signal to the process's exit, when it was signalled.
    stopped_in: float | None = None

    @property
    def records(self) -> list[dict[str, Any]]:
        """The records it emitted."""
        return [m["record"] for m in self.messages if m["type"] == "RECORD"]

    @property
    def schemas(self) -> list[dict[str, Any]]:
        """The schemas it emitted."""
        return [m["schema"] for m in self.messages if m["type"] == "SCHEMA"]

    @property
    def last_state(self) -> dict[str, Any] | None:
        """The value of its last STATE message, if it emitted one."""
        states = [m["value"] for m in self.messages if m["type"] == "STATE"]
        return states[-1] if states else None

    @property
    def error_lines(self) -> list[str]:
        """Its log lines at level ERROR."""
        return [line for line in self.log.splitlines() if ERROR_MARK in line]

    @property
    def attempts(self) -> Counter[str]:
        """Its HTTP request attempts by kind (window, retry, split), from its METRIC lines."""
        kinds: Counter[str] = Counter()
        for line in self.log.splitlines():
            _, mark, point = line.partition("METRIC: ")
            if mark and '"metric":"http_request_duration"' in point:
                kinds[json.loads(point)["tags"]["request_kind"]] += 1
        return kinds

    def says(self, *fragments: str) -> bool:
        """Whether its log holds any of `fragments`."""
        return any(fragment in self.log for fragment in fragments)

    def warns(self, *fragments: str) -> bool:
        """Whether a WARNING line of its log holds any of `fragments`."""
        warnings = [line for line in self.log.splitlines() if WARNING_MARK in line]
        return any(fragment in line for line in warnings for fragment in fragments)


def run_tap(
    config: dict[str, Any], scratch: Path, state: dict[str, Any] | None, stop: Stop | None = None
) -> TapRun:
    """Run the tap once (from `state`, if given); with `stop`, signal it when it is ready."""
    config_path = scratch / "config.json"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    command = [sys.executable, "-m", "tap_happytalk", "--config", str(config_path)]
    if state is not None:
        state_path = scratch / "state.json"
        state_path.write_text(json.dumps(state), encoding="utf-8")
        command += ["--state", str(state_path)]
    lines: list[str] = []
    stopped_in = None
    with (
        tempfile.TemporaryFile(mode="w+") as errors,
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True) as process,
    ):
        stdout = process.stdout
        if stdout is None:  # pragma: no cover - PIPE always gives one
            raise RuntimeError(command)
        ready = threading.Event()

        def read() -> None:
            # Read as a target would, all along, so the tap never blocks on a full pipe.
            for line in stdout:
                lines.append(line)
                if stop is not None and stop.ready(len(lines)):
                    ready.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        if stop is not None:
            while not ready.wait(0.01) and process.poll() is None:
                if stop.ready(len(lines)):
                    break
            time.sleep(stop.settle_seconds)
            signalled = time.monotonic()
            process.send_signal(stop.signal)
            process.wait(timeout=300)
            stopped_in = time.monotonic() - signalled
        process.wait(timeout=300)
        reader.join(timeout=60)
        errors.seek(0)
        log = errors.read()
    # A killed run may leave half a line behind: a target would discard it too.
    complete = [line for line in lines if line.endswith("\n") and line.strip()]
    messages = [json.loads(line) for line in complete]
    return TapRun(process.returncode, messages, "".join(lines), log, stopped_in)


def up_to(now: dt.datetime, events: list[dict[str, str]]) -> list[dict[str, str]]:
    """The sample `events`, moved into the six days that end a second before `now`."""
    shift = now - dt.timedelta(days=DAYS) - dt.datetime.combine(FIRST_DAY, dt.time())

    def moved(stamp: str) -> str:
        return str(dt.datetime.fromisoformat(stamp) + shift)

    dates = ("request_date", "apply_date")
    return [event | {name: moved(event[name]) for name in dates} for event in events]


def base_config(scenario: Scenario, url: str, now: dt.datetime) -> dict[str, Any]:
    """The first run's config."""
    config: dict[str, Any] = {
        "token": TOKEN,
        "api_url": url,
        "start_date": FIRST_DAY.isoformat(),
        "end_date": (FIRST_DAY + dt.timedelta(days=DAYS)).isoformat(),
        "max_retries": 3,
    }
    if scenario.late_commit:
        del config["end_date"]  # up to now, less end_margin_seconds
        config["start_date"] = (now - dt.timedelta(days=DAYS)).isoformat()
    return config | scenario.settings


def first_stop(scenario: Scenario, server: LocalHappyTalk) -> Stop | None:
    """When the first run is stopped: once the fault day is in flight, or at a random line."""
    if scenario.stop is None:
        return None
    if scenario.in_flight:
        day = scenario.day or ""
        return Stop(
            scenario.stop,
            lambda _: any((r.start_date or "").startswith(day) for r in server.requests),
            IN_FLIGHT_SECONDS,
        )
    # A reproducible stop point for each row, whatever rows come before it.
    stop_after = Random(scenario.name).randrange(3, DAYS * PER_DAY)  # noqa: S311
    return Stop(scenario.stop, lambda lines: lines >= stop_after)


@dataclass
class Played:
    """A scenario's table row, and what in it is not the decided outcome."""

    cells: list[str]
    problems: list[str]


def play(scenario: Scenario, scratch: Path) -> Played:
    """Run one scenario (and its resumption) and return its table row."""
    now = dt.datetime.now(KOREA).replace(tzinfo=None, microsecond=0)
    events = sample_events(FIRST_DAY, DAYS, PER_DAY)
    if scenario.late_commit:
        events = up_to(now, events)
    expected = {e["id"] for e in events}
    if scenario.replaces_day:
        expected -= {e["id"] for e in events if e["request_date"].startswith(FAULT_DAY)}
    expected |= {str(r["id"]) for r in scenario.extra_rows}
    if scenario.late_commit:
        expected.add(LATE_ID)
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(
            LocalHappyTalk(events, token=TOKEN, latency_seconds=0.01, tls=scenario.untrusted_tls)
        )
        faults = list(scenario.faults)
        target = None
        if scenario.redirect is not None:
            target = stack.enter_context(LocalHappyTalk(token=TOKEN))
            faults.append(Fault("redirect", status=scenario.redirect, location=f"{target.url}/x"))
        for fault in faults:
            server.inject(fault, day=scenario.day)
        config = base_config(scenario, server.url, now)
        runs = [run_tap(config, scratch, None, first_stop(scenario, server))]
        if scenario.late_commit:
            # Happened before the first run; HappyTalk recorded it after.
            late = now - LATE_BY
            server.add_events(
                [{"id": LATE_ID, "type": "A", "kind": "S", "request_date": f"{late}"}]
            )
            config |= {"end_margin_seconds": 0}
        again = scenario.stop or scenario.late_commit or scenario.follow_up
        if runs[0].returncode != 0 or again:
            server.clear_faults()  # the next scheduled run finds HappyTalk healthy
            if scenario.untrusted_tls:  # ... and its certificate fixed
                server = stack.enter_context(
                    LocalHappyTalk(events, token=TOKEN, latency_seconds=0.01)
                )
                config |= {"api_url": server.url}
            runs.append(run_tap(config, scratch, runs[0].last_state))
        redirected = len(target.requests) if target is not None else None
    return tally(scenario, runs, expected, redirected)


def tally(
    scenario: Scenario, runs: list[TapRun], expected: set[str], redirected: int | None
) -> Played:
    """The table row of a scenario's runs."""
    delivered = Counter(record["id"] for run in runs for record in run.records)
    lost = len(expected - set(delivered))
    duplicated = sum(count - 1 for count in delivered.values())
    leaked = any(TOKEN in run.stdout + run.log for run in runs)
    outcome = describe(scenario, runs, redirected)
    problems = list(outcome.problems)
    if lost != scenario.expect_lost:
        problems.append(f"lost {lost}, not {scenario.expect_lost}")
    if set(delivered) - expected:
        problems.append(f"delivered what HappyTalk did not hold: {set(delivered) - expected}")
    if leaked:
        problems.append("the token leaked")
    cells = [
        scenario.name,
        str(len(runs)),
        str(len(expected)),
        str(len(set(delivered))),
        str(lost),
        str(duplicated),
        "LEAKED" if leaked else "no",
        str(outcome),
    ]
    return Played(cells, problems)


@dataclass
class Outcome:
    """The outcome column, part by part; a part that is not the decided one is a problem too."""

    parts: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, part: str, *, problem: bool = False) -> None:
        """Add a part (in capitals, and counted, if it is a problem)."""
        self.parts.append(part.upper() if problem else part)
        if problem:
            self.problems.append(part)

    def __str__(self) -> str:
        """The column as the table shows it."""
        return ", ".join(self.parts)


def describe(scenario: Scenario, runs: list[TapRun], redirected: int | None) -> Outcome:
    """The outcome: how the first run ended, what was checked besides, how the next run did."""
    outcome = Outcome()
    first = runs[0]
    if scenario.stop is not None:
        stopped(scenario, first, outcome)
        outcome.add("resumed from its last STATE")
    elif first.returncode == 0:
        outcome.add(completed(first))
    elif first.returncode == INCOMPLETE:
        outcome.add("incomplete (exit 3), units set aside")
        outcome.add("resumed")
    else:
        failed(scenario, first, outcome)
        if redirected is not None:
            done = redirected == 0
            outcome.add(
                "nothing sent to the redirect target"
                if done
                else f"{redirected} requests sent to the redirect target",
                problem=not done,
            )
        outcome.add("resumed")
    if scenario.check_types:
        check_types(scenario, runs, outcome)
    if scenario.follow_up:
        came = [any(day_of(r) == FAULT_DAY for r in run.records) for run in runs]
        if came[0]:
            outcome.add("the day came in the same run")
        else:
            later = any(came[1:])
            outcome.add(
                "the day came with the next run"
                if later
                else "the next run did not ask the day again",
                problem=not later,
            )
    if scenario.late_commit:
        found = any(r["id"] == LATE_ID for run in runs for r in run.records)
        outcome.add(
            "the late event came with the next run"
            if found
            else "the next run passed the late event by",
            problem=found == bool(scenario.expect_lost),
        )
    if len(runs) > 1 and runs[-1].returncode != 0:
        outcome.add("the next run failed", problem=True)
    return outcome


def stopped(scenario: Scenario, run: TapRun, outcome: Outcome) -> None:
    """How a signalled run ended: SIGTERM with exit 1 (promptly, when timed), SIGKILL killed."""
    decided = {signal.SIGTERM: 1, signal.SIGKILL: -signal.SIGKILL}
    how = {-signal.SIGKILL: "killed"}.get(run.returncode, f"exit {run.returncode}")
    wrong = scenario.stop is not None and run.returncode != decided.get(scenario.stop)
    if scenario.in_flight and run.stopped_in is not None:
        slow = run.stopped_in > PROMPT_STOP_SECONDS
        outcome.add(f"stopped in {run.stopped_in:.1f} s ({how})", problem=wrong or slow)
    else:
        outcome.add(f"stopped ({how})", problem=wrong)


def completed(run: TapRun) -> str:
    """How a run that completed got there."""
    result = "completed"
    if run.says("asking for it in halves"):
        result = "split into halves, completed"
    elif RETRIED.search(run.log):
        result = "retried, completed"
    if run.warns("without 'data'", "does not describe", "dated outside the range"):
        result += " with a warning"
    if run.says("(unconfirmed)"):
        result += ", the day taken as empty for now (unconfirmed)"
    return result


def day_of(record: dict[str, Any]) -> str:
    """The day of a record's `request_date` (as the tap sends it: with its offset)."""
    return str(record.get("request_date") or "")[:10]


def failed(scenario: Scenario, run: TapRun, outcome: Outcome) -> None:
    """How a run that failed ended: with one line (naming what it must), or not."""
    lines = run.error_lines
    if run.returncode != 1 or len(lines) != 1:
        outcome.add(f"failed with {len(lines)} error lines (exit {run.returncode})", problem=True)
        return
    missing = [name for name in scenario.error_names if name not in lines[0]]
    if missing:
        outcome.add(f"failed with one line not naming {', '.join(missing)}", problem=True)
        return
    if not scenario.untrusted_tls:
        outcome.add("failed with one line")
        return
    kinds = run.attempts
    total = sum(kinds.values())
    how = (
        "no retry, no split"
        if not kinds["retry"] and not kinds["split"]
        else f"{kinds['retry']} retries, {kinds['split']} split pieces"
    )
    outcome.add(
        f"failed with one line after {total} attempt{'' if total == 1 else 's'} ({how})",
        problem=total != 1 or kinds["retry"] + kinds["split"] > 0,
    )
    outcome.add(
        "nothing delivered" if not run.records else f"{len(run.records)} delivered",
        problem=bool(run.records),
    )


def check_types(scenario: Scenario, runs: list[TapRun], outcome: Outcome) -> None:
    """How the ids of `extra_rows` arrived, and whether every record fits its SCHEMA."""
    records = [record for run in runs for record in run.records]
    for extra in scenario.extra_rows:
        sent = [r["id"] for r in records if str(r["id"]) == str(extra["id"])]
        arrived = json.dumps(sent[0]) if sent else "nothing"
        outcome.add(f"id {extra['id']} arrived as {arrived}", problem=sent != [str(extra["id"])])
    schemas = [schema for run in runs for schema in run.schemas]
    validator = Draft202012Validator(schemas[0]) if schemas else None
    conform = validator is not None and all(validator.is_valid(r) for r in records)
    outcome.add("types conform" if conform else "types do not conform", problem=not conform)


def main() -> None:
    """Play every scenario and print the table."""
    header = ["fault", "runs", "expected", "delivered", "lost", "duplicated", "token", "outcome"]
    played = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        for scenario in scenarios():
            played.append(play(scenario, Path(scratch)))
            print(f"faults: {scenario.name}: done", file=sys.stderr)
    rows = [p.cells for p in played]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for cells in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |")
    print(f"faults: {len(rows)} rows in {time.monotonic() - started:.0f} s", file=sys.stderr)
    problems = [f"{p.cells[0]}: {problem}" for p in played for problem in p.problems]
    if problems:
        sys.exit("faults: not the decided outcome:\n" + "\n".join(problems))


if __name__ == "__main__":
    main()
