"""The ordered pool: results in item order, bounded work ahead, a stop that does not wait."""

from __future__ import annotations

import threading
import time
import weakref

import pytest

from tap_happytalk.ordered_pool import AHEAD_FLOOR, STOP_POLL_SECONDS, map_in_order


def test_results_come_in_item_order_even_when_later_items_finish_first():
    def slow_for_early_items(item: int) -> int:
        time.sleep(0.05 * (5 - item))
        return item * 10

    finished: list[int] = []

    def recording(item: int) -> int:
        result = slow_for_early_items(item)
        finished.append(item)
        return result

    results = list(map_in_order(recording, range(5), 5, threading.Event()))

    assert results == [(item, item * 10) for item in range(5)]
    assert finished != sorted(finished)  # they really did finish out of order


@pytest.mark.parametrize("limit", [1, 3])
def test_no_more_than_the_limit_run_at_once_and_items_are_pulled_lazily(limit):
    lock = threading.Lock()
    running = peak = 0
    pulled: list[int] = []

    def work(item: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return item

    def items():
        for item in range(12):
            pulled.append(item)
            yield item

    answers = map_in_order(work, items(), limit, threading.Event())
    first = next(answers)

    assert first == (0, 0)
    assert len(pulled) <= limit + 1  # the window in flight, refilled once: not the whole range
    assert [item for item, _ in answers] == list(range(1, 12))
    assert peak == limit


def test_the_first_error_in_item_order_is_raised_after_the_items_before_it():
    def work(item: int) -> int:
        if item == 2:
            time.sleep(0.05)
            raise ValueError("two")
        if item == 3:
            raise KeyError("three")  # fails first in time, but comes later in order
        return item

    answers = map_in_order(work, range(5), 4, threading.Event())
    assert [next(answers), next(answers)] == [(0, 0), (1, 1)]
    with pytest.raises(ValueError, match="two"):
        next(answers)


@pytest.mark.parametrize("limit", [1, 4])
def test_a_stop_ends_the_generator_at_once_while_a_call_hangs(limit):
    release = threading.Event()
    stop = threading.Event()

    def work(item: int) -> int:
        if item == 1:
            release.wait(30)  # a request HappyTalk is slow to answer
        return item

    answers = map_in_order(work, range(3), limit, stop)
    assert next(answers) == (0, 0)
    threading.Timer(0.1, stop.set).start()
    started = time.monotonic()
    rest = list(answers)
    waited = time.monotonic() - started
    release.set()

    assert rest == []
    assert waited < 0.1 + 5 * STOP_POLL_SECONDS


def test_work_not_yet_started_is_dropped_when_the_consumer_stops():
    started: list[int] = []
    gate = threading.Event()

    def work(item: int) -> int:
        started.append(item)
        gate.wait(5)
        return item

    answers = map_in_order(work, range(50), 2, threading.Event())
    threading.Timer(0.05, gate.set).start()
    assert next(answers) == (0, 0)
    answers.close()
    time.sleep(0.2)

    assert len(started) <= 4


def test_an_error_from_the_items_comes_after_the_results_of_the_items_before_it():
    def items():
        yield 1
        yield 2
        raise KeyError("the next day's list")

    answers = map_in_order(lambda item: item * 10, items(), 4, threading.Event())
    assert [next(answers), next(answers)] == [(1, 10), (2, 20)]
    with pytest.raises(KeyError, match="next day"):
        next(answers)


def test_ahead_bounds_the_items_handed_out_as_it_changes():
    allowance = 1
    pulled: list[int] = []

    def items():
        for item in range(20):
            pulled.append(item)
            yield item

    answers = map_in_order(lambda item: item, items(), 8, threading.Event(), lambda: allowance)
    assert next(answers) == (0, 0)
    # The one given, and as many ahead as the floor: a low allowance does not make every
    # item wait in line behind one that retries (the pacer decides what is sent).
    assert 2 < len(pulled) <= 1 + AHEAD_FLOOR
    allowance = 6
    assert next(answers) == (1, 1)
    assert len(pulled) <= 2 + 6
    assert len(pulled) > 2 + AHEAD_FLOOR  # the larger allowance was used
    assert [item for item, _ in answers] == list(range(2, 20))


def test_an_idle_worker_keeps_no_answer_alive():
    class Answer:
        pass

    def answer(_: int) -> Answer:
        time.sleep(0.05)  # long enough for each item to go to a worker of its own
        return Answer()

    answers = map_in_order(answer, range(3), 3, threading.Event())
    given = [weakref.ref(next(answers)[1]) for _ in range(3)]
    # The pool is still open (the generator holds the last answer it gave): the first two
    # answers are with nobody, and no idle worker may keep them.
    deadline = time.monotonic() + 5
    while any(ref() is not None for ref in given[:2]) and time.monotonic() < deadline:
        time.sleep(0.01)  # a worker may still be between its job and its next wait
    assert [ref() for ref in given[:2]] == [None, None]
    answers.close()
