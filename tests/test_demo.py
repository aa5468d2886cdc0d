"""`make demo`'s script, run for real in a copy of the project: Meltano, the tap, target-jsonl.

The sample is `support_centre_rooms`' January 2024 (office hours, lighter weekends, 1 January
closed): 200 rooms of 8 messages, from 2 to 10 a day.
"""

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
        [sys.executable, "scripts/demo.py", "--target-minutes", "15", "--language", "ko"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    summary = [line for line in done.stdout.splitlines() if line.startswith("demo: ")]
    assert "with 1240 events and 200 consultation rooms (1600 messages)" in summary[0]
    assert summary[1:] == [
        (
            "demo: 262 requests: 31 for service history (one per day), 31 room lists "
            "(a page per day), 200 rooms"
        ),
        "demo: records landed in output/ per stream:",
        "demo:   service_history   1240 of  1240  (service_history.jsonl)",
        "demo:   chat_rooms         200 of   200  (chat_rooms.jsonl)",
        "demo:   chat_messages     1600 of  1600  (chat_messages.jsonl)",
        "demo: the dbt models in transform/, built on DuckDB over output/:",
    ]
    # The summary leads with the figures that mean something: waits in business hours (the
    # sample's agents answer in office hours, so not 0) and the share within the target.
    figures = done.stdout.split("demo: the dbt models in transform/")[1].splitlines()[4:6]
    assert figures[0].startswith("Median first response: "), figures
    assert not figures[0].startswith("Median first response: 0s"), figures
    assert figures[1].startswith("Answered within 15 min of business time: "), figures
    assert "Busiest agent:" in done.stdout
    assert "total         200" in done.stdout
    report = (project / "output" / "report.html").read_text(encoding="utf-8")
    assert '<html lang="ko">' in report
    assert "15분 이내 응답" in report

    events = landed(project, "service_history")
    assert len({r["id"] for r in events}) == 1240
    assert events[0]["request_date"].endswith("+09:00")
    assert any("상담" in r["request_content"] for r in events)  # Korean text survives

    rooms = landed(project, "chat_rooms")
    messages = landed(project, "chat_messages")
    assert len({r["id"] for r in rooms}) == 200
    assert len({m["id"] for m in messages}) == 1600
    assert all(r["reg_date"].startswith("2024-01-") for r in rooms)
    assert all(r["reg_date"].endswith("+09:00") for r in rooms)
    per_room = Counter(m["room_id"] for m in messages)
    assert set(per_room) == {r["id"] for r in rooms}
    assert set(per_room.values()) == {8}
    assert any("상담" in m["contents"] for m in messages)
    per_day = Counter(r["reg_date"][:10] for r in rooms)
    assert per_day["2024-01-01"] <= 4  # a public holiday
    assert per_day["2024-01-06"] <= 4 < per_day["2024-01-05"]  # Saturday, Friday
