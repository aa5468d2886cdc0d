"""The SDK's HTTP metrics, as SDK REST taps log them: every request, retries and splits too."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from typing import Any

from local_happytalk.chats import sample_rooms
from local_happytalk.server import Fault, LocalHappyTalk, sample_events

from .conftest import FIRST_DAY, catalog_selecting, run_tap, write_json

ENDPOINT = "/user/api/service_history/format/json"


def metric_points(stderr: str, name: str) -> list[dict[str, Any]]:
    points = [
        json.loads(line.split("METRIC: ", 1)[1])
        for line in stderr.splitlines()
        if "METRIC: " in line
    ]
    return [point for point in points if point["metric"] == name]


def test_every_request_is_timed_and_counted_by_kind_with_endpoint_and_status(tmp_path):
    with LocalHappyTalk(sample_events(FIRST_DAY, 3, 4)) as server:
        # The second day fails twice whole (a request and its retry), then is asked in halves.
        server.inject(Fault("status", status=503), times=2, day="2024-03-02")
        run = run_tap(
            tmp_path,
            {
                "token": server.token,
                "api_url": server.url,
                "start_date": "2024-03-01",
                "end_date": "2024-03-04",
                "max_retries": 1,
                "max_concurrent_requests": 1,
            },
        )
        served = len(server.requests)

    assert run.returncode == 0, run.stderr
    durations = metric_points(run.stderr, "http_request_duration")
    assert len(durations) == served == 6
    assert all(point["type"] == "timer" and point["value"] >= 0 for point in durations)
    assert {point["tags"]["endpoint"] for point in durations} == {ENDPOINT}
    assert {point["tags"]["stream"] for point in durations} == {"service_history"}
    assert [
        (point["tags"]["request_kind"], point["tags"]["http_status_code"], point["tags"]["status"])
        for point in durations
    ] == [
        ("window", 200, "succeeded"),
        ("window", 503, "failed"),
        ("retry", 503, "failed"),
        ("split", 200, "succeeded"),
        ("split", 200, "succeeded"),
        ("window", 200, "succeeded"),
    ]

    counts = metric_points(run.stderr, "http_request_count")
    assert all(point["type"] == "counter" for point in counts)
    by_kind: Counter[str] = Counter()
    for point in counts:
        assert point["tags"]["endpoint"] == ENDPOINT
        by_kind[point["tags"]["request_kind"]] += point["value"]
    assert by_kind == {"window": 3, "retry": 1, "split": 2}


def test_a_transport_failure_is_timed_without_a_status(tmp_path):
    with LocalHappyTalk(sample_events(FIRST_DAY, 1, 4)) as server:
        server.inject(Fault("drop"), day="2024-03-01")
        run = run_tap(
            tmp_path,
            {
                "token": server.token,
                "api_url": server.url,
                "start_date": "2024-03-01",
                "end_date": "2024-03-02",
            },
        )

    assert run.returncode == 0, run.stderr
    statuses = [
        p["tags"]["http_status_code"] for p in metric_points(run.stderr, "http_request_duration")
    ]
    assert statuses == [None, 200]


def test_room_and_page_timings_are_debug_lines_and_still_counted(tmp_path):
    with LocalHappyTalk(rooms=sample_rooms(FIRST_DAY, 1, 3, 3)) as server:
        config = {
            "token": server.token,
            "api_url": server.url,
            "start_date": FIRST_DAY.isoformat(),
            "end_date": (FIRST_DAY + dt.timedelta(days=1)).isoformat(),
        }
        catalog = write_json(tmp_path / "catalog.json", catalog_selecting(["chat_rooms"]))
        run = run_tap(tmp_path, config, args=("--catalog", str(catalog)))

    assert run.returncode == 0, run.stderr
    timed = [p["tags"]["request_kind"] for p in metric_points(run.stderr, "http_request_duration")]
    assert "room" not in timed
    assert "page" not in timed
    counts = metric_points(run.stderr, "http_request_count")
    counted = {p["tags"]["request_kind"]: p["value"] for p in counts}
    assert counted == {"page": 1, "room": 3}
