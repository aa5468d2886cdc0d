"""`make demo`'s script, run for real in a copy of the project: Meltano, the tap, target-jsonl."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def copy_project(destination: Path) -> Path:
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=PROJECT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in tracked)):
        source = PROJECT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


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
