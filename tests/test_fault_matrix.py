"""`make faults` runs the whole fault matrix: each row's decided outcome, nothing lost (but the
one row that shows why `end_margin_seconds` exists), no token leaked, in any row."""

from __future__ import annotations

import re
import subprocess
import sys

from .conftest import PROJECT

RETRIED = "retried, completed"
FAILED = "failed with one line, resumed"
WARNED = "completed with a warning"
SET_ASIDE = "incomplete \\(exit 3\\), units set aside, resumed"
UNCONFIRMED = (
    "completed, the day taken as empty for now \\(unconfirmed\\), the day came with the next run"
)
STOPPED = "stopped \\(exit 1\\), resumed from its last STATE"
KILLED = "stopped \\(killed\\), resumed from its last STATE"
PROMPT_STOP_SECONDS = 5.0
# The row that loses a record on purpose: a run that reads up to the current second passes by
# an event HappyTalk records a moment late.
CONTRAST = "late commit, margin 0"

# Each row of the matrix: what HappyTalk's answers held, and the outcome the tap decided on
# (a regular expression, matched whole).
DECIDED = {
    "429 with Retry-After (seconds)": (120, RETRIED),
    "429 with Retry-After (HTTP date)": (120, RETRIED),
    "429 without Retry-After": (120, RETRIED),
    "500 with an HTML page": (120, RETRIED),
    "502 with an HTML page": (120, RETRIED),
    "503 with an HTML page": (120, RETRIED),
    "504 with an HTML page": (120, RETRIED),
    "connection dropped before the answer": (120, RETRIED),
    "connection dropped mid-answer": (120, RETRIED),
    "answer slower than request_timeout_seconds": (120, RETRIED),
    "a day that always times out whole": (120, "split into halves, completed"),
    "200 with a non-JSON body": (120, SET_ASIDE),
    "200 with truncated JSON": (120, SET_ASIDE),
    "result fail with code and message (-502)": (120, FAILED),
    "result fail without code or message": (120, FAILED),
    "redirect (HTTP 307 to a second server)": (
        120,
        "failed with one line, nothing sent to the redirect target, resumed",
    ),
    "TLS certificate nobody trusts": (
        120,
        re.escape(
            "failed with one line after 1 attempt (no retry, no split), nothing delivered, resumed"
        ),
    ),
    "data missing": (120, UNCONFIRMED),
    "data null": (120, UNCONFIRMED),
    "data not a list": (120, SET_ASIDE),
    "a record without request_date": (120, SET_ASIDE),
    "a record with a malformed date": (120, SET_ASIDE),
    "a record with unknown extra fields": (101, WARNED),
    "a row outside its window": (120, WARNED),
    "a numeric id": (121, 'completed, id 5 arrived as "5", types conform'),
    "the same id in two windows": (100, "completed"),
    "late commit": (121, "completed, the late event came with the next run"),
    CONTRAST: (121, "completed, the next run passed the late event by"),
    "a hanging request, then SIGTERM": (
        120,
        "stopped in (?P<seconds>[0-9.]+) s \\(exit 1\\), resumed from its last STATE",
    ),
    **{f"SIGTERM at a random point ({n})": (120, STOPPED) for n in (1, 2, 3)},
    **{f"SIGKILL at a random point ({n})": (120, KILLED) for n in (1, 2, 3)},
}


def test_the_fault_matrix_has_each_decided_outcome_and_loses_and_leaks_nothing():
    done = subprocess.run(
        [sys.executable, "benchmarks/faults.py"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in done.stdout.splitlines()[2:]]
    assert [cells[0] for cells in rows] == list(DECIDED)
    for fault, _, expected, delivered, lost, _, token, outcome in rows:
        held, decided = DECIDED[fault]
        lost_on_purpose = 1 if fault == CONTRAST else 0
        assert int(expected) == held, fault
        assert int(lost) == lost_on_purpose, fault
        assert int(delivered) == held - lost_on_purpose, fault
        assert token == "no", fault
        match = re.fullmatch(decided, outcome)
        assert match, (fault, outcome)
        if "seconds" in match.groupdict():
            assert float(match["seconds"]) < PROMPT_STOP_SECONDS, (fault, outcome)
