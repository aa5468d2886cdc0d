"""The local server's capacity mode, over HTTP: C at once, a queue, refusals past its wait."""

from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from local_happytalk import LocalHappyTalk, sample_events
from tap_happytalk.endpoints import CUSTOMER

DAY = dt.date(2024, 3, 1)


def ask_at_once(server: LocalHappyTalk, count: int) -> list[int]:
    """`count` requests sent together; their HTTP statuses."""
    body = {"token": server.token, "start_date": f"{DAY} 00:00:00", "end_date": f"{DAY} 23:59:59"}

    def ask(_: int) -> int:
        return requests.post(server.url + CUSTOMER.path, json=body, timeout=30).status_code

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(ask, range(count)))


def test_at_most_capacity_are_served_at_once_and_the_rest_wait_their_turn():
    with LocalHappyTalk(
        sample_events(DAY, 1, 3), latency_seconds=0.1, capacity=2, queue_timeout_seconds=20
    ) as server:
        statuses = ask_at_once(server, 6)

    assert statuses == [200] * 6
    assert server.most_served_at_once == 2
    assert max(r.concurrent for r in server.requests) > 2  # the others were queued, not refused
    assert server.refused_over_capacity == 0


@pytest.mark.parametrize("status", [503, 429])
def test_a_request_that_waited_too_long_is_refused_with_the_status_chosen(status):
    with LocalHappyTalk(
        sample_events(DAY, 1, 3),
        latency_seconds=1.0,
        capacity=1,
        queue_timeout_seconds=0.1,
        over_capacity_status=status,
    ) as server:
        statuses = ask_at_once(server, 3)

    assert sorted(statuses) == [200, status, status]
    assert server.refused_over_capacity == 2


def test_the_capacity_changes_while_requests_wait():
    with LocalHappyTalk(
        sample_events(DAY, 1, 3), latency_seconds=1.0, capacity=1, queue_timeout_seconds=20
    ) as server:
        statuses: list[int] = []
        asking = threading.Thread(target=lambda: statuses.extend(ask_at_once(server, 3)))
        asking.start()
        while len(server.requests) < 3:  # all three arrived: one served, two queued
            time.sleep(0.01)
        server.capacity = 3
        asking.join()

    assert statuses == [200] * 3
    assert server.capacity == 3
    assert server.most_served_at_once == 3  # the two queued were let in together


def test_capacity_can_change_only_on_a_server_started_with_one():
    server = LocalHappyTalk()
    assert server.capacity is None
    with pytest.raises(ValueError, match="capacity"):
        server.capacity = 4
    server.stop()
