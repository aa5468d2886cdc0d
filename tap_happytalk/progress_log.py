"""How far a stream's run has got, said once an interval: days read, requests, rate, time left.

A long run (a backfill of years) would otherwise say nothing between its first line and its
last, or a line for every window. One line every `EVERY_SECONDS` of wall time, and one at the
end, say how many of the days planned are read, how many requests it took, how fast they go
and how long the rest should take at that pace; the last one also says how many requests the
run found it could have in flight, at the end and at most (when it finds that, rather than
being given a fixed number).

Pure apart from the clock and the logger it is given: tests hand it their own.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import datetime as dt
    import logging
    from collections.abc import Callable, Iterable

# Every 30 seconds of wall time: a backfill of years takes from minutes to hours, and a line
# every half minute (120 an hour) shows it is alive and when it should end, without burying
# its WARNINGs; a scheduled run of a few seconds says only its last line. Read when a run
# starts, so a test (or a launcher) may set it.
EVERY_SECONDS = 30.0
# The clock the lines are timed by (monotonic seconds); read when a run starts, as above.
clock: Callable[[], float] = time.monotonic


class ProgressLog:
    """One stream's run: days planned, days read, requests made, said now and then."""

    def __init__(
        self,
        stream: str,
        days: Iterable[dt.date],
        requests: Callable[[], int],
        logger: logging.Logger,
        in_flight: Callable[[], tuple[int, int] | None] | None = None,
    ) -> None:
        """Plan the run: `days`, a date per unit of work (a date may have several windows).

        `in_flight`, if given, says the requests allowed in flight now and at most so far.
        """
        self._stream = stream
        self._in_flight = in_flight
        self._left = Counter(days)  # units not done yet, by date
        self._planned = len(self._left)
        self._done = 0
        self._requests = requests
        self._logger = logger
        self._every = EVERY_SECONDS
        self._clock = clock
        self._started = self._last = self._clock()

    def unit_done(self, day: dt.date) -> None:
        """A unit of `day` is done; the day is read once its last unit is. Maybe a line."""
        if self._left[day] > 0:
            self._left[day] -= 1
            if self._left[day] == 0:
                self._done += 1
        self.tick()

    def tick(self) -> None:
        """A line, if the interval has passed since the last one."""
        now = self._clock()
        if now - self._last < self._every:
            return
        self._last = now
        elapsed = now - self._started
        requests = self._requests()
        percent = 100 * self._done // self._planned if self._planned else 100
        self._logger.info(
            "%s: %s of %s days read (%d%%), %s requests (%s a minute), %s",
            self._stream,
            f"{self._done:,}",
            f"{self._planned:,}",
            percent,
            f"{requests:,}",
            _per_minute(requests, elapsed),
            self._time_left(elapsed),
        )

    def end(self) -> None:
        """The run's last line: what was read, with how many requests, in how long.

        With `in_flight`: `, 12 in flight (peak 16)`, the level the run found.
        """
        elapsed = self._clock() - self._started
        requests = self._requests()
        level = self._in_flight() if self._in_flight is not None else None
        self._logger.info(
            "%s: %s of %s days read, %s requests in %s (%s a minute)%s",
            self._stream,
            f"{self._done:,}",
            f"{self._planned:,}",
            f"{requests:,}",
            duration(elapsed),
            _per_minute(requests, elapsed),
            "" if level is None else f", {level[0]} in flight (peak {level[1]})",
        )

    def _time_left(self, elapsed: float) -> str:
        if not self._done:
            return "time left not known yet"
        left = (self._planned - self._done) * elapsed / self._done
        return f"about {duration(left)} left"


def _per_minute(requests: int, elapsed: float) -> str:
    return f"{round(requests * 60 / elapsed):,}" if elapsed > 0 else "-"


def duration(seconds: float) -> str:
    """`45 s`, `12 min 05 s`, `3 h 20 min`, `2 d 4 h`: two units at most, the larger first."""
    whole = round(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"
