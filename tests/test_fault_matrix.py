"""`make faults` runs the whole fault matrix: no record lost, no token leaked, in any row."""

from __future__ import annotations

import subprocess
import sys

from .conftest import PROJECT


def test_the_fault_matrix_loses_nothing_and_leaks_nothing():
    done = subprocess.run(
        [sys.executable, "benchmarks/faults.py"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    rows = [line.split("|")[1:-1] for line in done.stdout.splitlines()[2:]]
    assert len(rows) >= 25
    for cells in rows:
        fault, _, expected, delivered, lost, _, token, outcome = (c.strip() for c in cells)
        assert lost == "0", fault
        assert delivered == expected, fault
        assert token == "no", fault
        assert "FAILED" not in outcome, fault
