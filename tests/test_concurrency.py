"""The concurrency rule on its own, against a simulated HappyTalk with a capacity (no threads).

The simulated server serves at most `capacity` requests at once, each in `service` seconds,
and queues the rest first come first served; a request that waited `max_wait` seconds in the
queue is answered 503 then. The simulated tap keeps as many requests in flight as the
controller allows. Time is the simulation's own clock, injected into the controller.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field

from hypothesis import given
from hypothesis import strategies as st

from tap_happytalk.concurrency import START_LIMIT, ConcurrencyController, Outcome


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

    def run_until(self, end: float) -> None:
        self._send()
        while self._events and self._events[0][0] <= end:
            when, _, what, sent = heapq.heappop(self._events)
            self.clock.now = when
            if what == "served":
                self._serving -= 1
                self._answer(Outcome.OK, sent)
                self._serve_queue()
            elif what == "gave_up" and sent in self._queue:
                self._queue.remove(sent)
                self._answer(Outcome.SERVER_ERROR, sent)
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

    def _send(self) -> None:
        while self.in_flight < self.controller.limit:
            self.in_flight += 1
            self._queue.append(self.clock.now)
            self._at(self.clock.now + self.max_wait, "gave_up", self.clock.now)
            self._serve_queue()

    def _serve_queue(self) -> None:
        while self._queue and self._serving < self.capacity:
            sent = self._queue.pop(0)
            self._serving += 1
            self._at(self.clock.now + self.service, "served", sent)

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
        assert max(steady) <= max(capacity + 2, capacity * 1.5), capacity  # a short queue


def test_it_rises_above_its_start_quickly_by_doubling():
    sim = Simulation(32)
    sim.run_until(1.0)  # ten round trips
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


def test_a_429_halves_the_limit_once_per_overload():
    clock = Clock()
    controller = ConcurrencyController(32, start=16, clock=clock)
    clock.now = 1.0
    controller.observe(Outcome.THROTTLED, 0.1, 16)
    assert controller.limit == 8
    # Sent before the halving: the same overload, already acted on.
    controller.observe(Outcome.SERVER_ERROR, 0.5, 16)
    controller.observe(Outcome.TIMEOUT, 0.2, 16)
    assert controller.limit == 8
    clock.now = 2.0
    controller.observe(Outcome.SERVER_ERROR, 0.5, 8)  # sent at 1.5, under the new limit
    assert controller.limit == 4


def test_errors_never_take_it_below_one():
    clock = Clock()
    controller = ConcurrencyController(32, clock=clock)
    for step in range(1, 20):
        clock.now = float(step)
        controller.observe(Outcome.THROTTLED, 0.1, 1)
    assert controller.limit == 1


def test_latency_well_above_the_base_drops_the_limit_to_what_is_served():
    clock = Clock()
    controller = ConcurrencyController(32, start=8, clock=clock)
    for _ in range(8):  # one round at the base latency, the limit used
        clock.now += 0.1
        controller.observe(Outcome.OK, 0.1, 8)
    assert controller.limit == 16
    clock.now += 1.0
    for _ in range(16):  # a round four times slower: about 4 served at once
        clock.now += 0.01
        controller.observe(Outcome.OK, 0.4, 16)
    assert controller.limit == 4


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
