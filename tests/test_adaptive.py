"""Adaptive concurrency end to end: the tap over HTTP against a server with a capacity."""

from __future__ import annotations

import datetime as dt
import threading

from local_happytalk.chats import CHAT_DATA_PATH, sample_rooms
from local_happytalk.server import sample_events
from tap_happytalk.concurrency import START_LIMIT
from tap_happytalk.tap import TapHappyTalk

from .test_chats import (
    CHATS,
    MESSAGES,
    ROOMS,
    STREAMS,
    config_for,
    expected,
    run_streams,
    sent,
    serve,
)

DAY1 = dt.date(2024, 3, 1)
CEILING = 16


def test_the_run_finds_more_than_it_starts_with_and_never_passes_the_ceiling(tmp_path):
    events = sample_events(DAY1, 3, 5)
    rooms = sample_rooms(DAY1, 3, 80, 3)
    with serve(rooms, events=events, latency_seconds=0.05, capacity=12) as server:
        run = run_streams(tmp_path, config_for(server, max_concurrent_requests=CEILING))
        requests = list(server.requests)
        refused = server.refused_over_capacity
        want = expected(server)

    assert run.returncode == 0, run.stderr
    assert sent(run, ROOMS) == want.rooms
    assert sent(run, MESSAGES) == want.all_messages
    assert sorted(r["id"] for r in sent(run, STREAMS)) == sorted(e["id"] for e in events)
    in_flight = [r.concurrent for r in requests]
    assert max(in_flight) > START_LIMIT  # it rose above where it starts
    assert max(in_flight) <= CEILING  # every stream and phase together, under the ceiling
    assert refused <= 0.01 * len(requests)


def test_a_capacity_that_falls_mid_run_costs_few_errors_and_nothing_is_lost(tmp_path):
    rooms = sample_rooms(DAY1, 4, 80, 3)
    with serve(rooms, latency_seconds=0.05, capacity=16, queue_timeout_seconds=0.5) as server:
        fallen = threading.Event()

        def fall_after_a_while() -> None:
            while len(server.requests) < 120 and not fallen.wait(0.01):
                pass
            server.capacity = 3

        changer = threading.Thread(target=fall_after_a_while, daemon=True)
        changer.start()
        config = config_for(server, days=4, max_concurrent_requests=CEILING)
        run = run_streams(tmp_path, config, CHATS)
        fallen.set()
        requests = list(server.requests)
        refused = server.refused_over_capacity
        want = expected(server)

    assert run.returncode == 0, run.stderr
    assert sent(run, ROOMS) == want.rooms
    assert sent(run, MESSAGES) == want.all_messages
    assert server.capacity == 3  # the capacity really fell while it ran
    late = [r.concurrent for r in requests[-60:] if r.path == CHAT_DATA_PATH]
    assert max(late) < CEILING  # it came down from where it was
    assert refused <= 0.05 * len(requests)


def test_the_old_fixed_behaviour_is_one_setting_away(tmp_path):
    rooms = sample_rooms(DAY1, 2, 30, 3)
    with serve(rooms, latency_seconds=0.02) as server:
        config = config_for(server, max_concurrent_requests=6, adaptive_concurrency=False)
        run = run_streams(tmp_path, config, CHATS)
        in_flight = [r.concurrent for r in server.requests if r.path == CHAT_DATA_PATH]

    assert run.returncode == 0, run.stderr
    assert max(in_flight) == 6


def test_adaptive_concurrency_false_alone_is_the_old_fixed_4(tmp_path):
    """Without max_concurrent_requests, fixed means 4 in flight, not the adaptive ceiling."""
    events = sample_events(DAY1, 3, 5)
    rooms = sample_rooms(DAY1, 3, 40, 3)
    with serve(rooms, events=events, latency_seconds=0.02) as server:
        run = run_streams(tmp_path, config_for(server, adaptive_concurrency=False))
        in_flight = [r.concurrent for r in server.requests]
        want = expected(server)

    assert run.returncode == 0, run.stderr
    assert sent(run, MESSAGES) == want.all_messages
    assert max(in_flight) == 4  # used, and never passed, by every stream and phase together


def test_one_controller_a_run_shared_by_every_stream():
    config = {"token": "t", "start_date": "2024-03-01", "api_url": "http://127.0.0.1:1"}
    tap = TapHappyTalk(config=config)
    assert tap.pacer.controller is not None
    assert tap.pacer.controller.ceiling == 64  # the default ceiling, the highest allowed
    assert tap.pacer.limit == START_LIMIT
    assert tap.pacer is tap.pacer  # every stream's client is given this one
    fixed = TapHappyTalk(config={**config, "adaptive_concurrency": False})
    assert fixed.pacer.controller is None
    assert fixed.pacer.limit == 4  # the old fixed default, not the ceiling
    chosen = TapHappyTalk(config={**config, "max_concurrent_requests": 9})
    assert chosen.pacer.controller is not None
    assert chosen.pacer.controller.ceiling == 9
