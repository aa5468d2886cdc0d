"""How fast the tap may ask: one pacer shared by every request of a run.

When HappyTalk says "slow down" (HTTP 429, or any answer with `Retry-After`), every worker
pauses, not only the one that was told. How many may be in flight is, by default, the
`ConcurrencyController`'s (`tap_happytalk.concurrency`), fed every answer; without one, the
fixed number given, halved after a 429 and growing back by one for each run of successes as
long as itself. An optional cap on requests per minute spaces requests evenly across the pool.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tap_happytalk.concurrency import ConcurrencyController, Outcome


class PacerClosedError(Exception):
    """The run is ending; this request was not sent."""


class RequestPacer:
    """Admits requests: at most `limit` at once, none while paused, none faster than the cap."""

    def __init__(
        self,
        max_in_flight: int,
        requests_per_minute: int | None = None,
        controller: ConcurrencyController | None = None,
    ) -> None:
        """Allow `max_in_flight` requests at once, and `requests_per_minute` if given.

        With a `controller`, it decides how many of `max_in_flight` at once (its ceiling).
        """
        self.max_in_flight = max_in_flight
        self.controller = controller
        self._fixed_limit = max_in_flight
        self._interval = 60.0 / requests_per_minute if requests_per_minute else 0.0
        self._in_flight = 0
        self._paused_until = 0.0
        self._next_start = 0.0
        self._successes = 0
        self._closed = False
        self._changed = threading.Condition()

    @property
    def limit(self) -> int:
        """Requests allowed in flight now."""
        return self.controller.limit if self.controller is not None else self._fixed_limit

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one admission for the length of a request."""
        self._acquire()
        try:
            yield
        finally:
            with self._changed:
                self._in_flight -= 1
                self._changed.notify_all()

    def close(self) -> None:
        """The run is ending: requests waiting for admission, and any later, give up."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def _acquire(self) -> None:
        with self._changed:
            while True:
                if self._closed:
                    raise PacerClosedError
                now = time.monotonic()
                ready_at = max(self._paused_until, self._next_start)
                if self._in_flight < self.limit and now >= ready_at:
                    self._in_flight += 1
                    if self._interval:
                        self._next_start = max(now, self._next_start) + self._interval
                    return
                # Sleep until the pause or the spacing ends, or until a request finishes.
                self._changed.wait(timeout=ready_at - now if ready_at > now else None)

    def answered(self, outcome: Outcome, latency: float) -> None:
        """An admitted request's answer came (or failed): tell the controller, if any."""
        if self.controller is None:
            return
        with self._changed:
            before = self.controller.limit
            self.controller.observe(outcome, latency, self._in_flight)
            if self.controller.limit > before:
                self._changed.notify_all()

    def throttled(self, seconds: float) -> None:
        """HappyTalk asked to slow down: pause everyone for `seconds`.

        Without a controller, halve the allowance too (the controller halves its own).
        """
        with self._changed:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)
            if self.controller is None:
                self._fixed_limit = max(1, self._fixed_limit // 2)
                self._successes = 0
            self._changed.notify_all()

    def succeeded(self) -> None:
        """A request went through: without a controller, after `limit` in a row, one more."""
        with self._changed:
            if self.controller is not None or self._fixed_limit >= self.max_in_flight:
                return
            self._successes += 1
            if self._successes >= self._fixed_limit:
                self._fixed_limit += 1
                self._successes = 0
                self._changed.notify_all()
