"""`make demo`'s script, run for real in a copy of the project: Meltano, the tap, target-jsonl."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from typing import TYPE_CHECKING, Any

from .conftest import copy_project

if TYPE_CHECKING:
    from pathlib import Path


def landed(project: Path, stream: str) -> list[dict[str, Any]]:
    lines = (project / "output" / f"{stream}.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in lines.splitlines()]


def test_demo_lands_every_sample_record_of_every_stream_in_output(tmp_path):
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
    summary = [line for line in done.stdout.splitlines() if line.startswith("demo: ")]
    assert "with 1240 events and 186 consultation rooms (1488 messages)" in summary[0]
    assert summary[1:] == [
        (
            "demo: 248 requests: 31 for service history (one per day), 31 room lists "
            "(a page per day), 186 rooms"
        ),
        "demo: records landed in output/ per stream:",
        "demo:   service_history   1240 of  1240  (service_history.jsonl)",
        "demo:   chat_rooms         186 of   186  (chat_rooms.jsonl)",
        "demo:   chat_messages     1488 of  1488  (chat_messages.jsonl)",
        "demo: the dbt models in transform/, built on DuckDB over output/:",
    ]
    assert "Median first response:" in done.stdout
    assert "Busiest agent:" in done.stdout
    assert "total         186" in done.stdout

    events = landed(project, "service_history")
    assert len({r["id"] for r in events}) == 1240
    assert events[0]["request_date"].endswith("+09:00")
    assert any("상담" in r["request_content"] for r in events)  # Korean text survives

    rooms = landed(project, "chat_rooms")
    messages = landed(project, "chat_messages")
    assert len({r["id"] for r in rooms}) == 186
    assert len({m["id"] for m in messages}) == 1488
    assert all(r["reg_date"].startswith("2024-01-") for r in rooms)
    assert all(r["reg_date"].endswith("+09:00") for r in rooms)
    per_room = Counter(m["room_id"] for m in messages)
    assert set(per_room) == {r["id"] for r in rooms}
    assert set(per_room.values()) == {8}
    assert any("상담" in m["contents"] for m in messages)
