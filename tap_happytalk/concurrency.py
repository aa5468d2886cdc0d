"""How many requests may be in flight: a rule fed by each answer, with no threads and no I/O.

HappyTalk documents no rate limit, so the tap finds the level it can take. The rule is
latency-based, after TCP Vegas, with a multiplicative decrease on errors:

- Answers are judged in **rounds**: a round is `limit` successful answers, and never fewer
  than `ROUND_MIN`, to requests sent since the limit last changed, so every judgement sees
  the limit it judges and a few answers' noise is not a verdict. A round's latency is its
  mean without the fastest and slowest tenth (with `limit` in flight, Little's law makes the
  mean grow with the queue; a few big bodies do not). The **base**, what an answer costs when
  nothing waits at HappyTalk, is the median of the rounds of the last `BASE_WINDOW_SECONDS`
  taken at the lowest limit among them: a median, not the fastest round, since answer times
  that merely vary would make the fastest one a base no later round comes near.
- While a round stays within `GROW_RATIO` of the base, and the limit was used (as many in
  flight as allowed), the limit rises: doubling until the first sign of a queue (slow start),
  then by about one per round trip (a round of `ROUND_MIN` answers at a low limit spans
  several round trips, and adds as many).
- A round `BACKOFF_RATIO` or more above the base means requests queue at HappyTalk: with
  `limit` in flight and answers `ratio` times slower, it serves about `limit / ratio` at
  once, and the limit drops to that, rounded up (a multiplicative decrease that lands where
  the capacity is), but never below where it started (4, the old fixed default): latency
  alone cannot make the tap slower than it was before it adapted.
- HTTP 429 and `Retry-After` halve the limit, once per overload: errors from requests sent
  before that halving were caused by the old limit and change nothing more. 5xx and timeouts
  halve it only when they pass `ERROR_SHARE` of a round's answers: one unit that fails on
  every attempt, among many that answer, is not HappyTalk's load.
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

START_LIMIT = 4  # where the run starts, the old fixed default, and latency's floor
ROUND_MIN = 20  # answers a round needs at least: a median of fewer is mostly noise
GROW_RATIO = 1.1  # a round this close to the base: no queue worth the name, rise
BACKOFF_RATIO = 1.5  # a round this far above the base: requests queue, drop to the capacity
ERROR_BACKOFF = 0.5  # overload (a 429, Retry-After, or errors past ERROR_SHARE): halve
TRIM_SHARE = 0.1  # a round's latency: the mean of its answers without this share each end
ERROR_SHARE = 0.1  # 5xx and timeouts past this share of a round's answers mean overload
ERROR_MIN = 3  # and never fewer errors than this: two retries of one unit are not overload
BASE_WINDOW_SECONDS = 30.0  # how long a round is remembered for the base


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
        self.floor = self.limit  # latency alone never takes the limit below where it started
        self._clock = clock
        now = clock()
        self._changed_at = now  # answers to requests sent before this judge an older limit
        self._decreased_at = now  # errors to requests sent before this are already acted on
        self._slow_start = True
        self._round: list[float] = []
        self._round_used = False
        self._rounds: deque[tuple[float, int, float]] = deque()  # (when, limit, latency)
        self._recent_errors: deque[bool] = deque()  # the last round's worth: was it an error

    @property
    def round_size(self) -> int:
        """Answers a round takes: the limit, and never fewer than `ROUND_MIN`."""
        return max(ROUND_MIN, self.limit)

    @property
    def base_latency(self) -> float | None:
        """The latency when nothing waits, seconds; None before the first round.

        The median of the remembered rounds taken at the lowest limit among them: a median
        of many rounds, not the fastest one, so noise in the answer times is not read as a
        queue; at the lowest limit, so a queue built by raising the limit is not read as
        the base.
        """
        if not self._rounds:
            return None
        lowest = min(limit for _, limit, _ in self._rounds)
        return statistics.median(latency for _, limit, latency in self._rounds if limit == lowest)

    def observe(self, outcome: Outcome, latency: float, in_flight: int) -> None:
        """An answer came `latency` seconds after it was sent; `in_flight` counts it too."""
        now = self._clock()
        sent_at = now - latency
        if sent_at >= self._decreased_at and self._overloaded(outcome):
            self._slow_start = False
            self._set(math.floor(self.limit * ERROR_BACKOFF), now, decreased=True)
            return
        if outcome is not Outcome.OK or sent_at < self._changed_at:
            return
        self._round.append(latency)
        self._round_used = self._round_used or in_flight >= self.limit
        if len(self._round) >= self.round_size:
            self._judge_round(now)

    def _overloaded(self, outcome: Outcome) -> bool:
        """A 429 or `Retry-After`; or 5xx and timeouts past `ERROR_SHARE` of the last round.

        Past that share, and never fewer than `ERROR_MIN`.

        A share, not each error: one unit that fails on every attempt, among many that
        answer, is that unit's trouble, not HappyTalk's load.
        """
        if outcome is Outcome.THROTTLED:
            return True
        if outcome not in OVERLOADED and outcome is not Outcome.OK:
            return False
        error = outcome is not Outcome.OK
        self._recent_errors.append(error)
        while len(self._recent_errors) > self.round_size:
            self._recent_errors.popleft()
        return error and sum(self._recent_errors) >= max(ERROR_MIN, ERROR_SHARE * self.round_size)

    def _judge_round(self, now: float) -> None:
        latency = _trimmed_mean(self._round)
        used = self._round_used
        self._round = []
        self._round_used = False
        self._rounds.append((now, self.limit, latency))
        while self._rounds[0][0] < now - BASE_WINDOW_SECONDS:
            self._rounds.popleft()  # the round just added is never this old
        base = self.base_latency
        ratio = latency / base if base else 1.0
        if ratio >= BACKOFF_RATIO:
            self._slow_start = False
            lower = max(math.ceil(self.limit / ratio), min(self.floor, self.limit))
            self._set(lower, now, decreased=True)
        elif ratio <= GROW_RATIO:
            if used:
                # Past slow start, one more per round trip: a round of ROUND_MIN answers at a
                # low limit spans several.
                step = max(1, ROUND_MIN // self.limit)
                self._set(self.limit * 2 if self._slow_start else self.limit + step, now)
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
            self._recent_errors.clear()


def _trimmed_mean(latencies: list[float]) -> float:
    """The mean without the fastest and slowest `TRIM_SHARE`: a few big bodies are not a queue."""
    cut = int(len(latencies) * TRIM_SHARE)
    ordered = sorted(latencies)
    return statistics.fmean(ordered[cut : len(ordered) - cut])
