"""`make demo`'s script, run for real in a copy of the project: Meltano, the tap, target-jsonl."""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import copy_project


def test_demo_lands_every_sample_record_in_output(tmp_path):
    project = copy_project(tmp_path / "project")
    done = subprocess.run(
        [sys.executable, "scripts/demo.py"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "demo: 1240 of 1240 records from 31 requests (one per day) are in "
        "output/service_history.jsonl" in done.stdout
    )
    lines = (project / "output" / "service_history.jsonl").read_text(encoding="utf-8")
    records = [json.loads(line) for line in lines.splitlines()]
    assert len({r["id"] for r in records}) == 1240
    assert records[0]["request_date"].endswith("+09:00")
    assert any("상담" in r["request_content"] for r in records)  # Korean text survives
