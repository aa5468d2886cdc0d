"""The pacer on its own, with real threads and short intervals: each test takes under a second."""

from __future__ import annotations

import threading
import time
from itertools import pairwise

import pytest

from tap_happytalk.concurrency import ConcurrencyController, Outcome
from tap_happytalk.pacing import PacerClosedError, RequestPacer

PROMPTLY = 0.2  # seconds: how soon a woken waiter must act, on a busy test machine


class Probe:
    """Requests run through one pacer on threads, recording when each was admitted."""

    def __init__(self, pacer: RequestPacer) -> None:
        self.pacer = pacer
        self.admitted: list[float] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.closed: list[float] = []
        self.release = threading.Event()  # held requests finish when this is set
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self, count: int, *, hold: float | None = None) -> None:
        """`count` requests, each lasting `hold` seconds, or until `release` if None."""
        for _ in range(count):
            thread = threading.Thread(target=self._request, args=(hold,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _request(self, hold: float | None) -> None:
        try:
            with self.pacer.slot():
                with self._lock:
                    self.admitted.append(time.monotonic())
                    self.in_flight += 1
                    self.most_in_flight = max(self.most_in_flight, self.in_flight)
                if hold is None:
                    self.release.wait(5)
                else:
                    time.sleep(hold)
                with self._lock:
                    self.in_flight -= 1
        except PacerClosedError:
            with self._lock:
                self.closed.append(time.monotonic())

    def wait_until(self, admitted: int, timeout: float = 2) -> None:
        deadline = time.monotonic() + timeout
        while len(self.admitted) < admitted:
            assert time.monotonic() < deadline, f"{len(self.admitted)} of {admitted} admitted"
            time.sleep(0.002)

    def join(self, timeout: float = 2) -> None:
        self.release.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        assert not any(thread.is_alive() for thread in self._threads), "a request is stuck"


@pytest.mark.parametrize("limit", [1, 3, 5])
def test_no_more_than_max_in_flight_at_once_under_threads(limit):
    probe = Probe(RequestPacer(limit))
    probe.start(4 * limit, hold=0.02)
    probe.join()

    assert len(probe.admitted) == 4 * limit
    assert probe.most_in_flight == limit  # reached, never passed


def test_a_finished_request_admits_a_waiter_at_once():
    probe = Probe(RequestPacer(2))
    probe.start(2)
    probe.wait_until(2)
    probe.start(1)
    time.sleep(0.05)
    assert len(probe.admitted) == 2  # the third waits for a slot

    finished_at = time.monotonic()
    probe.release.set()  # the two held requests finish
    probe.wait_until(3)
    probe.join()

    assert probe.admitted[2] - finished_at < PROMPTLY


def test_throttled_pauses_every_waiter_and_halves_the_limit():
    pacer = RequestPacer(4)
    probe = Probe(pacer)
    probe.start(4)
    probe.wait_until(4)
    probe.start(6)  # waiting for a slot when HappyTalk says slow down
    time.sleep(0.02)

    told = time.monotonic()
    pacer.throttled(0.3)
    probe.release.set()  # the four in flight finish during the pause
    time.sleep(0.1)
    probe.release.clear()
    admitted_in_pause = len(probe.admitted) - 4
    probe.wait_until(6)
    time.sleep(0.05)
    at_once_after = probe.in_flight
    probe.join()

    assert pacer.limit == 2
    assert admitted_in_pause == 0
    assert min(probe.admitted[4:]) >= told + 0.3
    assert at_once_after == 2  # slots were free, but the limit is now half
    assert len(probe.admitted) == 10


def test_a_new_request_during_a_pause_waits_for_its_end():
    pacer = RequestPacer(4)
    pacer.throttled(0.25)
    asked = time.monotonic()
    with pacer.slot():
        admitted = time.monotonic()

    assert 0.25 <= admitted - asked < 0.25 + PROMPTLY


def test_throttled_halves_down_to_one_and_a_longer_pause_wins():
    pacer = RequestPacer(16)
    limits = []
    for _ in range(6):
        pacer.throttled(0)
        limits.append(pacer.limit)
    assert limits == [8, 4, 2, 1, 1, 1]

    pacer.throttled(0.3)
    pacer.throttled(0.01)  # a shorter pause does not cut the longer one short
    asked = time.monotonic()
    with pacer.slot():
        assert time.monotonic() - asked >= 0.25


def test_succeeded_grows_the_limit_by_one_per_run_of_successes_as_long_as_itself():
    pacer = RequestPacer(8)
    pacer.throttled(0)
    pacer.throttled(0)
    assert pacer.limit == 2

    limits = []
    for _ in range(2 + 3 + 4 + 5 + 6 + 7 + 9):
        pacer.succeeded()
        limits.append(pacer.limit)

    # 2 successes at limit 2 give 3, 3 at 3 give 4, ... up to max_in_flight, never past it.
    expected = [2, 3] + [3, 3, 4] + [4] * 3 + [5] + [5] * 4 + [6] + [6] * 5 + [7] + [7] * 6
    expected += [8] + [8] * 9  # a run as long as the limit, at the limit: no growth
    assert limits == expected


def test_a_throttle_restarts_the_run_of_successes():
    pacer = RequestPacer(8)
    pacer.throttled(0)  # 4
    for _ in range(3):
        pacer.succeeded()  # three of the four needed
    pacer.throttled(0)  # 2, and the run starts again
    pacer.succeeded()
    assert pacer.limit == 2
    pacer.succeeded()
    assert pacer.limit == 3


def test_a_grown_limit_admits_a_waiter_at_once():
    pacer = RequestPacer(2)
    pacer.throttled(0)
    probe = Probe(pacer)
    probe.start(2)
    probe.wait_until(1)
    time.sleep(0.05)
    assert len(probe.admitted) == 1  # limit 1: the second waits

    grown = time.monotonic()
    pacer.succeeded()  # a run of one success at limit 1
    probe.wait_until(2)
    probe.join()

    assert pacer.limit == 2
    assert probe.admitted[1] - grown < PROMPTLY


def test_requests_per_minute_spaces_starts_evenly_across_the_pool():
    probe = Probe(RequestPacer(4, requests_per_minute=1200))  # one every 0.05 s
    started = time.monotonic()
    probe.start(6, hold=0.001)
    probe.join()

    starts = sorted(probe.admitted)
    assert starts[0] - started < PROMPTLY  # the first goes at once
    assert all(later - earlier >= 0.045 for earlier, later in pairwise(starts))
    assert starts[-1] - starts[0] >= 5 * 0.05 - 0.005
    assert probe.most_in_flight == 1  # the pool had room: the spacing held them back


def test_without_a_per_minute_cap_requests_start_together():
    probe = Probe(RequestPacer(4))
    probe.start(4)
    probe.wait_until(4)
    probe.join()

    assert max(probe.admitted) - min(probe.admitted) < PROMPTLY


@pytest.mark.parametrize(
    "waiting_for",
    ["a slot", "the end of a pause", "its turn under the per-minute cap"],
)
def test_close_ends_waiters_and_later_callers_at_once(waiting_for):
    if waiting_for == "a slot":
        pacer = RequestPacer(1)
    elif waiting_for == "the end of a pause":
        pacer = RequestPacer(4)
        pacer.throttled(30)
    else:
        pacer = RequestPacer(4, requests_per_minute=1)  # one a minute
    probe = Probe(pacer)
    if waiting_for != "the end of a pause":
        probe.start(1)
        probe.wait_until(1)
    probe.start(3)
    time.sleep(0.05)
    admitted_before = len(probe.admitted)

    closed = time.monotonic()
    pacer.close()
    deadline = closed + 2
    while len(probe.closed) < 3 and time.monotonic() < deadline:
        time.sleep(0.002)
    probe.join()  # a request holding a slot when the pacer closed still finishes

    assert len(probe.admitted) == admitted_before
    assert len(probe.closed) == 3
    assert max(probe.closed) - closed < PROMPTLY
    later = time.monotonic()
    with pytest.raises(PacerClosedError), pacer.slot():
        pytest.fail("a closed pacer admitted a request")
    assert time.monotonic() - later < PROMPTLY


def test_with_a_controller_the_allowance_is_the_controllers_and_grows_with_its_answers():
    clock = [0.0]
    controller = ConcurrencyController(8, start=2, clock=lambda: clock[0])
    pacer = RequestPacer(8, controller=controller)
    probe = Probe(pacer)
    probe.start(6)  # held until released
    probe.wait_until(2)
    time.sleep(PROMPTLY)
    assert probe.most_in_flight == 2  # the controller's start, not the ceiling
    for _ in range(controller.round_size):  # a round of fast answers, the allowance used
        clock[0] += 0.05
        pacer.answered(Outcome.OK, 0.05)
    assert pacer.limit == 4  # doubled
    probe.wait_until(4)  # the waiting requests were let in at once
    time.sleep(PROMPTLY)
    assert probe.most_in_flight == 4
    pacer.throttled(0.0)  # the pause only: the controller halves on the 429 it is told of
    assert pacer.limit == 4
    clock[0] += 0.05
    pacer.answered(Outcome.THROTTLED, 0.05)
    assert pacer.limit == 2
    probe.join()
