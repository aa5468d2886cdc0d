"""The concurrency rule on its own, against a simulated HappyTalk with a capacity (no threads).

The simulated server serves at most `capacity` requests at once, each in `service` seconds,
and queues the rest first come first served; a request that waited `max_wait` seconds in the
queue is answered 503 then. The simulated tap keeps as many requests in flight as the
controller allows. Time is the simulation's own clock, injected into the controller.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tap_happytalk.concurrency import (
    ERROR_MIN,
    ERROR_SHARE,
    START_LIMIT,
    ConcurrencyController,
    Outcome,
)


@dataclass
class Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Simulation:
    """A closed loop: the tap sends while the controller allows, the server answers."""

    capacity: int
    ceiling: int = 32
    service: float = 0.1
    max_wait: float = 0.5
    spread: str | None = None  # None: every answer takes `service`; else its distribution
    seed: int = 0
    failing_at: tuple[float, ...] = ()  # when a unit starts that fails every attempt (503)
    max_retries: int = 5  # the tap's retries of a failing unit, with jittered backoff
    clock: Clock = field(default_factory=Clock)
    answered: list[tuple[float, Outcome]] = field(default_factory=list)  # (when, outcome)
    limits: list[tuple[float, int]] = field(default_factory=list)  # (when, limit after it)

    def __post_init__(self) -> None:
        self.controller = ConcurrencyController(self.ceiling, clock=self.clock)
        self._events: list[tuple[float, int, str, float]] = []  # (when, order, what, sent)
        self._order = itertools.count()
        self._serving = 0
        self._queue: list[float] = []  # send times, oldest first
        self.in_flight = 0
        self._random = random.Random(self.seed)
        self._failing_due: list[tuple[float, int]] = [(at, 0) for at in self.failing_at]
        self._failing_sent: dict[float, int] = {}  # a failing attempt's send time: its number

    def run_until(self, end: float) -> None:
        self._send()
        while self._events and self._events[0][0] <= end:
            when, _, what, sent = heapq.heappop(self._events)
            self.clock.now = when
            if what == "served":
                self._serving -= 1
                if sent in self._failing_sent:
                    self._answer(Outcome.SERVER_ERROR, sent)
                    self._retry(self._failing_sent.pop(sent))
                else:
                    self._answer(Outcome.OK, sent)
                self._serve_queue()
            elif what == "gave_up" and sent in self._queue:
                self._queue.remove(sent)
                self._answer(Outcome.SERVER_ERROR, sent)
                if sent in self._failing_sent:
                    self._retry(self._failing_sent.pop(sent))
            self._send()
        self.clock.now = end

    def ok_per_second(self, start: float, end: float) -> float:
        served = [t for t, outcome in self.answered if start <= t < end and outcome is Outcome.OK]
        return len(served) / (end - start)

    def errors(self) -> int:
        return sum(outcome is not Outcome.OK for _, outcome in self.answered)

    def limits_between(self, start: float, end: float) -> list[int]:
        return [limit for when, limit in self.limits if start <= when < end]

    def _answer(self, outcome: Outcome, sent: float) -> None:
        self.controller.observe(outcome, self.clock.now - sent, self.in_flight)
        self.in_flight -= 1
        self.answered.append((self.clock.now, outcome))
        self.limits.append((self.clock.now, self.controller.limit))

    def _retry(self, attempt: int) -> None:
        if attempt < self.max_retries:  # full jitter, as the tap's backoff
            delay = self._random.uniform(0, 0.5 * 2**attempt)
            self._failing_due.append((self.clock.now + delay, attempt + 1))
            self._at(self.clock.now + delay, "retry", 0.0)

    def _send(self) -> None:
        while self.in_flight < self.controller.limit:
            self.in_flight += 1
            due = [d for d in self._failing_due if d[0] <= self.clock.now]
            if due:
                self._failing_due.remove(due[0])
                # A send time of its own, to know its answer by; the next sends come after.
                self.clock.now += 1e-9
                self._failing_sent[self.clock.now] = due[0][1]
                self._queue.append(self.clock.now)
                self._at(self.clock.now + self.max_wait, "gave_up", self.clock.now)
                self._serve_queue()
                self.clock.now += 1e-9
                continue
            self._queue.append(self.clock.now)
            self._at(self.clock.now + self.max_wait, "gave_up", self.clock.now)
            self._serve_queue()

    def _serve_queue(self) -> None:
        while self._queue and self._serving < self.capacity:
            sent = self._queue.pop(0)
            self._serving += 1
            self._at(self.clock.now + self._service_time(), "served", sent)

    def _service_time(self) -> float:
        """How long one answer takes: `service`, or drawn around it with that mean."""
        if self.spread == "exponential":
            return self._random.expovariate(1 / self.service)
        if self.spread == "lognormal":  # sigma 1: a long tail, as big bodies give
            return self._random.lognormvariate(math.log(self.service) - 0.5, 1.0)
        return self.service

    def _at(self, when: float, what: str, sent: float) -> None:
        heapq.heappush(self._events, (when, next(self._order), what, sent))


def test_it_rises_to_the_capacity_and_holds_there_without_errors():
    for capacity in (2, 8, 20, 32):
        sim = Simulation(capacity)
        sim.run_until(30.0)
        best = capacity / sim.service  # the server's own throughput
        assert sim.ok_per_second(5.0, 30.0) >= 0.95 * best, capacity
        assert sim.errors() == 0, capacity
        steady = sim.limits_between(5.0, 30.0)
        assert min(steady) >= capacity, capacity  # never starves the server
        # A short queue; below its start (4), latency alone does not take the limit.
        assert max(steady) <= max(capacity + 2, capacity * 1.5, START_LIMIT + 2), capacity


def test_it_rises_above_its_start_quickly_by_doubling():
    sim = Simulation(32)
    sim.run_until(2.0)  # rounds of at least ROUND_MIN answers: 8 round trips at 4 in flight
    assert sim.controller.limit >= 4 * START_LIMIT


def test_the_ceiling_holds_where_the_server_could_take_more():
    sim = Simulation(64, ceiling=16)
    sim.run_until(10.0)
    assert max(limit for _, limit in sim.limits) == 16
    assert sim.ok_per_second(2.0, 10.0) >= 0.95 * 16 / sim.service


def test_a_capacity_that_falls_then_rises_is_followed_within_seconds():
    sim = Simulation(32)
    sim.run_until(10.0)
    sim.capacity = 8
    sim.run_until(20.0)
    # Fewer, not more: the queue is read from latency before HappyTalk refuses much.
    assert sim.ok_per_second(12.0, 20.0) >= 0.9 * 8 / sim.service
    assert max(sim.limits_between(12.0, 20.0)) <= 8 * 1.5
    errors_after_the_fall = sim.errors()
    sim.capacity = 32
    sim.run_until(40.0)
    # Back to 90% of the new capacity well within 30 seconds.
    assert sim.ok_per_second(30.0, 40.0) >= 0.9 * 32 / sim.service
    assert sim.errors() == errors_after_the_fall  # rising again drew no error
    assert errors_after_the_fall <= 0.01 * len(sim.answered)


def test_one_unit_failing_every_attempt_among_many_healthy_ones_keeps_the_limit():
    # A room that answers 503 to each of its 6 attempts, a new one every 5 seconds.
    sim = Simulation(16, failing_at=tuple(float(at) for at in range(5, 45, 5)))
    sim.run_until(60.0)
    assert sim.errors() == 8 * 6  # every attempt of every failing unit failed
    assert min(sim.limits_between(5.0, 60.0)) >= 16
    assert max(sim.limits_between(5.0, 60.0)) <= 16 * 1.5
    assert sim.ok_per_second(5.0, 60.0) >= 0.95 * 16 / sim.service


@pytest.mark.parametrize("spread", ["exponential", "lognormal"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_answer_times_that_vary_are_not_read_as_a_queue(spread, seed):
    # No capacity limit: every request is served at once, in a time drawn around 100 ms.
    sim = Simulation(10**6, spread=spread, seed=seed)
    sim.run_until(60.0)
    assert min(limit for _, limit in sim.limits) >= START_LIMIT  # never below the old fixed 4
    # The old fixed 4 would serve about 4 / 0.1 a second, and a fixed 32 (the ceiling) 320.
    assert sim.ok_per_second(0.0, 60.0) >= 0.5 * sim.ceiling / sim.service
    assert sim.errors() == 0


@pytest.mark.parametrize("spread", ["exponential", "lognormal"])
def test_it_finds_the_capacity_when_answer_times_vary_too(spread):
    sim = Simulation(8, spread=spread, max_wait=5.0)
    sim.run_until(60.0)
    assert sim.ok_per_second(10.0, 60.0) >= 0.8 * 8 / sim.service
    assert max(sim.limits_between(10.0, 60.0)) <= 3 * 8  # a queue, but not the ceiling's
    assert sim.errors() == 0


def test_a_429_halves_the_limit_once_per_overload():
    clock = Clock()
    controller = ConcurrencyController(32, start=16, clock=clock)
    clock.now = 1.0
    controller.observe(Outcome.THROTTLED, 0.1, 16)
    assert controller.limit == 8
    # Sent before the halving: the same overload, already acted on.
    controller.observe(Outcome.THROTTLED, 0.5, 16)
    controller.observe(Outcome.SERVER_ERROR, 0.5, 16)
    controller.observe(Outcome.TIMEOUT, 0.2, 16)
    assert controller.limit == 8
    clock.now = 2.0
    controller.observe(Outcome.THROTTLED, 0.5, 8)  # sent at 1.5, under the new limit
    assert controller.limit == 4


def test_5xx_and_timeouts_halve_the_limit_past_a_share_of_a_round():
    clock = Clock()
    controller = ConcurrencyController(32, start=16, clock=clock)
    errors_needed = max(ERROR_MIN, math.ceil(ERROR_SHARE * controller.round_size))
    for error in range(errors_needed - 1):
        clock.now += 0.01
        controller.observe(Outcome.SERVER_ERROR if error % 2 else Outcome.TIMEOUT, 0.001, 16)
    assert controller.limit == 16  # a few errors among a round: not yet overload
    clock.now += 0.01
    controller.observe(Outcome.SERVER_ERROR, 0.001, 16)
    assert controller.limit == 8


def test_errors_never_take_it_below_one():
    clock = Clock()
    controller = ConcurrencyController(32, clock=clock)
    for step in range(1, 20):
        clock.now = float(step)
        controller.observe(Outcome.THROTTLED, 0.1, 1)
    assert controller.limit == 1


def rounds(controller: ConcurrencyController, clock: Clock, latency: float, count: int = 1):
    """`count` rounds of answers all `latency` seconds long, with the limit in use."""
    for _ in range(count):
        clock.now += latency  # every answer below was sent under the limit it judges
        for _ in range(controller.round_size):
            clock.now += 0.01
            controller.observe(Outcome.OK, latency, controller.limit)


def test_latency_well_above_the_base_drops_the_limit_to_what_is_served():
    clock = Clock()
    controller = ConcurrencyController(32, clock=clock)
    rounds(controller, clock, 0.1, 2)  # two rounds at the base latency: 4, 8, 16
    assert controller.limit == 4 * START_LIMIT
    clock.now += 1.0
    rounds(controller, clock, 0.4)  # a round four times slower: about 4 served at once
    assert controller.limit == START_LIMIT


def test_latency_alone_never_takes_the_limit_below_its_start():
    clock = Clock()
    controller = ConcurrencyController(32, clock=clock)
    rounds(controller, clock, 0.1, 2)
    assert controller.limit == 4 * START_LIMIT
    clock.now += 1.0
    rounds(controller, clock, 1.6)  # sixteen times slower: 1 served at once, or a slow day
    assert controller.limit == START_LIMIT
    rounds(controller, clock, 5.0, 3)  # slower still
    assert controller.limit >= START_LIMIT
    clock.now += 10.0
    before = controller.limit
    controller.observe(Outcome.THROTTLED, 0.1, before)  # errors may go below it
    assert controller.limit == before // 2


def test_an_allowance_not_used_is_not_raised():
    clock = Clock()
    controller = ConcurrencyController(32, start=8, clock=clock)
    for _ in range(40):
        clock.now += 0.1
        controller.observe(Outcome.OK, 0.05, 2)  # the tap kept 2 out: no news about 9
    assert controller.limit == 8


def test_answers_that_say_nothing_about_load_change_nothing():
    clock = Clock()
    controller = ConcurrencyController(32, start=8, clock=clock)
    for _ in range(40):
        clock.now += 0.1
        controller.observe(Outcome.OTHER, 5.0, 8)
    assert controller.limit == 8


outcomes = st.lists(
    st.tuples(
        st.sampled_from(list(Outcome)),
        st.floats(0.0, 3.0, allow_nan=False),  # latency
        st.integers(0, 80),  # in flight
        st.floats(0.0, 2.0, allow_nan=False),  # time passing before the answer
    ),
    max_size=300,
)


@given(outcomes, st.integers(1, 64), st.integers(1, 64))
def test_the_limit_stays_between_one_and_the_ceiling_and_follows_its_inputs(
    answers, ceiling, start
):
    def limits() -> list[int]:
        clock = Clock()
        controller = ConcurrencyController(ceiling, start=start, clock=clock)
        seen = [controller.limit]
        for outcome, latency, in_flight, wait in answers:
            clock.now += wait
            controller.observe(outcome, latency, in_flight)
            seen.append(controller.limit)
        return seen

    first = limits()
    assert all(1 <= limit <= ceiling for limit in first)
    assert limits() == first  # deterministic: the same answers, the same limits
