"""How many requests may be in flight: a rule fed by each answer, with no threads and no I/O.

HappyTalk documents no rate limit, so the tap finds the level it can take. The rule is
latency-based, after TCP Vegas, with a multiplicative decrease on errors:

- Answers are judged in **rounds**: a round is `limit` successful answers to requests sent
  since the limit last changed (about one round trip's worth), so every judgement sees the
  limit it judges. A round's latency is its mean (with `limit` in flight, Little's law makes
  the mean grow with the queue); the **base** is the lowest round latency of the last
  `BASE_WINDOW_SECONDS`, what an answer costs when nothing waits at HappyTalk.
- While a round stays within `GROW_RATIO` of the base, and the limit was used (as many in
  flight as allowed), the limit rises: doubling until the first sign of a queue (slow start),
  then one per round.
- A round `BACKOFF_RATIO` or more above the base means requests queue at HappyTalk: with
  `limit` in flight and answers `ratio` times slower, it serves about `limit / ratio` at
  once, and the limit drops to that, rounded up (a multiplicative decrease that lands where
  the capacity is).
- HTTP 429, 5xx, `Retry-After` and timeouts halve the limit, once per overload: errors from
  requests sent before that halving were caused by the old limit and change nothing more.
- Between the two ratios the limit holds. It never goes below 1 nor above the ceiling.

Why this rule and not AIMD alone: AIMD learns the limit only by drawing errors, so it keeps
HappyTalk at the edge of refusing (a saw-tooth of 503s), and a server that queues instead of
refusing never tells it anything. Latency tells before the errors do: against a server that
serves C at once and queues the rest, `limit / ratio` is C itself.

Deterministic: the same answers at the same clock readings give the same limits.
"""

from __future__ import annotations

import enum
import math
import statistics
import time
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

START_LIMIT = 4  # where the run starts: the old fixed default
GROW_RATIO = 1.1  # a round this close to the base: no queue worth the name, rise
BACKOFF_RATIO = 1.5  # a round this far above the base: requests queue, drop to the capacity
ERROR_BACKOFF = 0.5  # a 429, 5xx, Retry-After or timeout: halve
BASE_WINDOW_SECONDS = 30.0  # how long a fast round is remembered as the base


class Outcome(enum.Enum):
    """What one answer says about the load."""

    OK = "ok"  # answered (whatever its body): its latency counts
    THROTTLED = "throttled"  # HTTP 429, or any answer with Retry-After
    SERVER_ERROR = "server_error"  # HTTP 5xx
    TIMEOUT = "timeout"  # no answer within the request timeout
    OTHER = "other"  # says nothing about load (a refused or dropped connection, a 4xx)


OVERLOADED = frozenset({Outcome.THROTTLED, Outcome.SERVER_ERROR, Outcome.TIMEOUT})


class ConcurrencyController:
    """The number of requests allowed in flight, from each answer's outcome and latency."""

    def __init__(
        self,
        ceiling: int,
        *,
        start: int = START_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Allow `min(start, ceiling)` at first and never more than `ceiling` (at least 1)."""
        self.ceiling = max(1, ceiling)
        self.limit = max(1, min(start, self.ceiling))
        self.peak = self.limit
        self._clock = clock
        now = clock()
        self._changed_at = now  # answers to requests sent before this judge an older limit
        self._decreased_at = now  # errors to requests sent before this are already acted on
        self._slow_start = True
        self._round: list[float] = []
        self._round_used = False
        self._bases: deque[tuple[float, float]] = deque()

    @property
    def base_latency(self) -> float | None:
        """The lowest round latency remembered, seconds; None before the first round."""
        return min(latency for _, latency in self._bases) if self._bases else None

    def observe(self, outcome: Outcome, latency: float, in_flight: int) -> None:
        """An answer came `latency` seconds after it was sent; `in_flight` counts it too."""
        now = self._clock()
        sent_at = now - latency
        if outcome in OVERLOADED:
            if sent_at >= self._decreased_at:
                self._slow_start = False
                self._set(math.floor(self.limit * ERROR_BACKOFF), now, decreased=True)
            return
        if outcome is not Outcome.OK or sent_at < self._changed_at:
            return
        self._round.append(latency)
        self._round_used = self._round_used or in_flight >= self.limit
        if len(self._round) >= self.limit:
            self._judge_round(now)

    def _judge_round(self, now: float) -> None:
        latency = statistics.fmean(self._round)
        used = self._round_used
        self._round = []
        self._round_used = False
        self._bases.append((now, latency))
        while self._bases[0][0] < now - BASE_WINDOW_SECONDS:
            self._bases.popleft()  # the round just added is never this old
        base = min(latency for _, latency in self._bases)
        ratio = latency / base if base > 0 else 1.0
        if ratio >= BACKOFF_RATIO:
            self._slow_start = False
            self._set(math.ceil(self.limit / ratio), now, decreased=True)
        elif ratio <= GROW_RATIO:
            if used:
                self._set(self.limit * 2 if self._slow_start else self.limit + 1, now)
        else:
            self._slow_start = False  # a queue is forming: near the capacity

    def _set(self, limit: int, now: float, *, decreased: bool = False) -> None:
        limit = max(1, min(self.ceiling, limit))
        if limit == self.limit and not decreased:
            return
        self.limit = limit
        self.peak = max(self.peak, limit)
        self._changed_at = now
        self._round = []
        self._round_used = False
        if decreased:
            self._decreased_at = now
