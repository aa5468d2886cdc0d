"""The tap as a user runs it: a subprocess syncing from the local server over HTTP."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any
from zoneinfo import ZoneInfo

from local_happytalk.server import API_FORMAT, LocalHappyTalk, sample_events
from tap_happytalk.endpoints import CUSTOMER, ENDPOINTS

from .conftest import FIRST_DAY, run_tap
from .test_record_path import comparable

SEOUL = ZoneInfo("Asia/Seoul")


def instant(record_date: str) -> dt.datetime:
    return dt.datetime.fromisoformat(record_date)


def order_key(record):
    return (instant(record["request_date"]), int(record["id"]))


def test_full_sync_emits_every_event_once_oldest_first_with_korea_offsets(
    tmp_path, happytalk, events, config
):
    run = run_tap(tmp_path, {**config, "max_concurrent_requests": 1})

    assert run.returncode == 0, run.stderr
    assert len(run.records) == len(events) == 96
    assert sorted(r["id"] for r in run.records) == sorted(e["id"] for e in events)
    assert run.records == sorted(run.records, key=order_key)
    by_id = {e["id"]: e for e in events}
    for record in run.records:
        sent = by_id[record["id"]]
        expected = dt.datetime.strptime(sent["request_date"], API_FORMAT).replace(tzinfo=SEOUL)
        assert instant(record["request_date"]) == expected
        assert record["request_date"].endswith("+09:00")
        assert instant(record["apply_date"]) == expected
        untouched = {k: v for k, v in sent.items() if k not in {"request_date", "apply_date"}}
        assert {k: record[k] for k in untouched} == untouched


def test_ids_sharing_a_second_are_ordered_numerically(tmp_path, happytalk, events, config):
    run = run_tap(tmp_path, config)

    ids = [int(r["id"]) for r in run.records]
    assert 99_999 in ids  # the sample crosses a power of ten
    assert 100_000 in ids
    shared = [
        (a["id"], b["id"])
        for a, b in zip(run.records, run.records[1:], strict=False)
        if a["request_date"] == b["request_date"]
    ]
    assert shared, "the sample has events sharing a second"
    assert all(int(a) < int(b) for a, b in shared)


def test_every_window_is_requested_in_order_across_empty_days(tmp_path, happytalk, config):
    run = run_tap(tmp_path, {**config, "max_concurrent_requests": 1})
    endpoint = ENDPOINTS[config["endpoint"]]

    assert run.returncode == 0, run.stderr
    asked = [(r.start_date, r.end_date) for r in happytalk.requests]
    assert asked == [
        (f"{day} 00:00:00", f"{day} 23:59:59")
        for day in (FIRST_DAY + dt.timedelta(days=n) for n in range(10))
    ]
    assert all(r.token_matched and r.query == "" for r in happytalk.requests)
    assert all(r.content_type == "application/json" for r in happytalk.requests)
    assert {r.path for r in happytalk.requests} == {endpoint.path}
    assert {r.format for r in happytalk.requests} == {endpoint.body.get("format")}
    assert "service_history: 10 of 10 days read, 10 requests in " in run.stderr
    assert "records (" not in run.stderr  # the line per window is DEBUG


def test_a_state_follows_every_window_and_never_runs_ahead_of_its_records(
    tmp_path, happytalk, config
):
    run = run_tap(tmp_path, config)

    assert run.returncode == 0, run.stderr
    bookmarks = [
        m["value"]["bookmarks"]["service_history"]["replication_key_value"]
        for m in run.messages
        if m["type"] == "STATE"
    ]
    window_ends = {f"{FIRST_DAY + dt.timedelta(days=n)}T00:00:00+09:00" for n in range(1, 11)}
    assert window_ends <= set(bookmarks)
    assert run.bookmark == "2024-03-11T00:00:00+09:00"
    latest_state = None
    for message in run.messages:
        if message["type"] == "STATE":
            latest_state = instant(
                message["value"]["bookmarks"]["service_history"]["replication_key_value"]
            )
        elif message["type"] == "RECORD" and latest_state is not None:
            assert instant(message["record"]["request_date"]) >= latest_state


class AnsweringHappyTalk(LocalHappyTalk):
    """The local server, also noting when it answers each window: after its latency."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.answered: list[tuple[float, str]] = []

    def answer(self, body: Any, endpoint: str = CUSTOMER.name) -> dict[str, Any]:
        answer = super().answer(body, endpoint)
        self.answered.append((time.monotonic(), str(body.get("start_date"))))
        return answer


def test_parallel_windows_answered_out_of_order_still_leave_in_window_order(
    tmp_path, events, config
):
    # Latency with jitter: eight windows in flight at once come back in a shuffled order.
    with AnsweringHappyTalk(events, latency_seconds=0.01, jitter_seconds=0.3) as server:
        config = {**config, "api_url": server.url}
        one = run_tap(tmp_path, {**config, "max_concurrent_requests": 1})
        server.requests.clear()
        server.answered.clear()
        many = run_tap(tmp_path, {**config, "max_concurrent_requests": 8})
        requests = list(server.requests)
        answered = [start for _, start in sorted(server.answered)]

    assert many.returncode == one.returncode == 0, many.stderr
    windows = [f"{FIRST_DAY + dt.timedelta(days=n)} 00:00:00" for n in range(10)]
    # On the server's side: the windows were in flight together and answered out of order.
    assert max(r.concurrent for r in requests) >= 4
    assert sorted(answered) == windows
    assert answered != windows, "the jitter did not reorder the answers"
    # On the tap's side: records and STATEs leave in window order, as a sequential run's do.
    assert comparable(many.messages) == comparable(one.messages)
    assert many.records == sorted(many.records, key=order_key)
    window_ends = [f"{FIRST_DAY + dt.timedelta(days=n)}T00:00:00+09:00" for n in range(1, 11)]
    assert many.bookmarks == [*window_ends, window_ends[-1]]  # one per window, then the final
    # Between two STATEs come exactly the records of the window the second one closes.
    since = f"{FIRST_DAY}T00:00:00+09:00"
    for message in many.messages:
        if message["type"] == "STATE":
            since = message["value"]["bookmarks"]["service_history"]["replication_key_value"]
        elif message["type"] == "RECORD":
            sent = instant(message["record"]["request_date"])
            assert instant(since) <= sent < instant(since) + dt.timedelta(days=1)


def test_short_windows_never_cross_midnight_nor_the_range(tmp_path, happytalk, events, config):
    config = {
        **config,
        "window_size_hours": 7,
        "start_date": "2024-03-01T05:00:00",
        "end_date": "2024-03-03T02:30:00+09:00",
        "max_concurrent_requests": 1,
    }
    run = run_tap(tmp_path, config)

    assert run.returncode == 0, run.stderr
    asked = [(r.start_date, r.end_date) for r in happytalk.requests]
    assert asked == [
        ("2024-03-01 05:00:00", "2024-03-01 06:59:59"),
        ("2024-03-01 07:00:00", "2024-03-01 13:59:59"),
        ("2024-03-01 14:00:00", "2024-03-01 20:59:59"),
        ("2024-03-01 21:00:00", "2024-03-01 23:59:59"),
        ("2024-03-02 00:00:00", "2024-03-02 06:59:59"),
        ("2024-03-02 07:00:00", "2024-03-02 13:59:59"),
        ("2024-03-02 14:00:00", "2024-03-02 20:59:59"),
        ("2024-03-02 21:00:00", "2024-03-02 23:59:59"),
        ("2024-03-03 00:00:00", "2024-03-03 02:29:59"),
    ]
    expected = {
        e["id"]
        for e in events
        if "2024-03-01 05:00:00" <= e["request_date"] < "2024-03-03 02:30:00"
    }
    assert {r["id"] for r in run.records} == expected


def test_start_date_with_an_offset_is_that_instant(tmp_path, happytalk, events, config):
    # 2024-03-01T15:00:00Z is 2024-03-02 00:00:00 in Seoul.
    config = {**config, "start_date": "2024-03-01T15:00:00Z", "end_date": "2024-03-03"}
    run = run_tap(tmp_path, config)

    assert {r["request_date"][:10] for r in run.records} == {"2024-03-02"}
    assert happytalk.requests[0].start_date == "2024-03-02 00:00:00"


def test_without_end_date_it_stops_at_now_and_asks_nothing_later(tmp_path):
    now = dt.datetime.now(SEOUL).replace(tzinfo=None, microsecond=0)
    past = now - dt.timedelta(hours=1)
    future = now + dt.timedelta(hours=2)
    events = [
        {"id": "1", "request_date": past.strftime(API_FORMAT), "apply_date": ""},
        {"id": "2", "request_date": future.strftime(API_FORMAT), "apply_date": ""},
    ]
    with LocalHappyTalk(events) as server:
        config = {
            "token": server.token,
            "start_date": (now - dt.timedelta(days=1)).isoformat(),
            "api_url": server.url,
        }
        run = run_tap(tmp_path, config)
        asked_until = max(r.end_date or "" for r in server.requests)

    assert run.returncode == 0, run.stderr
    assert [r["id"] for r in run.records] == ["1"]
    assert run.records[0]["apply_date"] is None
    assert asked_until < dt.datetime.now(SEOUL).strftime(API_FORMAT)
    assert instant(run.bookmark) <= dt.datetime.now(SEOUL)


def test_incremental_run_requests_only_new_windows_and_emits_only_new_events(
    tmp_path, happytalk, events, config
):
    first = run_tap(tmp_path, {**config, "end_date": "2024-03-06"})
    requested_before = len(happytalk.requests)
    second = run_tap(tmp_path, config, state=first.states[-1])

    assert first.returncode == second.returncode == 0
    assert first.bookmark == "2024-03-06T00:00:00+09:00"
    assert requested_before == 5
    assert sorted(r.start_date or "" for r in happytalk.requests[5:]) == [
        f"2024-03-{day:02d} 00:00:00" for day in range(6, 11)
    ]
    assert {r["id"] for r in first.records} | {r["id"] for r in second.records} == {
        e["id"] for e in events
    }
    assert not {r["id"] for r in first.records} & {r["id"] for r in second.records}


def test_a_quiet_account_costs_one_request_per_new_day(tmp_path, config):
    events = sample_events(FIRST_DAY, 1, 3)  # one busy day, then nothing for weeks
    with LocalHappyTalk(events) as server:
        config = {**config, "api_url": server.url, "end_date": "2024-03-30"}
        first = run_tap(tmp_path, config)
        second = run_tap(tmp_path, {**config, "end_date": "2024-03-31"}, state=first.states[-1])
        asked = [r.start_date for r in server.requests]

    assert len(first.records) == 3
    assert second.records == []
    assert len(asked) == 29 + 1
    assert asked[-1] == "2024-03-30 00:00:00"
    assert second.bookmark == "2024-03-31T00:00:00+09:00"


def test_lookback_rereads_late_events_before_the_bookmark(tmp_path, happytalk, config):
    first = run_tap(tmp_path, config)
    late = {"id": "900001", "request_date": "2024-03-10 23:50:00", "apply_date": ""}
    happytalk.add_events([late])

    without = run_tap(tmp_path, config, state=first.states[-1])
    with_lookback = run_tap(tmp_path, {**config, "lookback_minutes": 30}, state=first.states[-1])

    assert without.records == []
    ids = [r["id"] for r in with_lookback.records]
    assert "900001" in ids
    assert all(r["request_date"] >= "2024-03-10T23:30:00+09:00" for r in with_lookback.records)
    assert happytalk.requests[-1].start_date == "2024-03-10 23:30:00"
    assert with_lookback.bookmark == first.bookmark


def test_state_of_another_replication_key_is_ignored(tmp_path, happytalk, events, config):
    state = {
        "bookmarks": {"service_history": {"replication_key": "id", "replication_key_value": "5"}}
    }
    run = run_tap(tmp_path, config, state=state)

    assert len(run.records) == len(events)
