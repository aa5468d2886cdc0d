"""Cutting a time range into the day windows HappyTalk accepts, with no I/O.

HappyTalk speaks naive wall-clock times (`Y-m-d H:i:s`) in its own zone, answers at most one
day per request and treats the end of a request as inclusive to the second. Windows are
therefore computed on naive wall-clock datetimes; converting to and from aware instants is
done only at the edges, by `to_wall_clock` and `to_instant`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

API_FORMAT = "%Y-%m-%d %H:%M:%S"
ONE_SECOND = dt.timedelta(seconds=1)
ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True, order=True)
class DayWindow:
    """A slice [start, end) of one calendar day, in HappyTalk's wall-clock time.

    `start` and `end` are naive and whole seconds; `end` is at most the next midnight.
    """

    start: dt.datetime
    end: dt.datetime

    @property
    def last_second(self) -> dt.datetime:
        """The inclusive end HappyTalk expects: one second before `end`."""
        return self.end - ONE_SECOND

    @property
    def api_start(self) -> str:
        """`start` as the request body's `start_date`."""
        return self.start.strftime(API_FORMAT)

    @property
    def api_end(self) -> str:
        """`last_second` as the request body's `end_date`."""
        return self.last_second.strftime(API_FORMAT)

    def halves(self, minimum: dt.timedelta) -> tuple[DayWindow, DayWindow] | None:
        """Split at the middle second, or None if a half would be shorter than `minimum`."""
        length = self.end - self.start
        if length < 2 * minimum:
            return None
        middle = self.start + dt.timedelta(seconds=length.total_seconds() // 2)
        return DayWindow(self.start, middle), DayWindow(middle, self.end)

    def __str__(self) -> str:
        """Readable form for logs and errors: `2024-03-01 00:00:00..23:59:59`."""
        return f"{self.api_start}..{self.last_second:%H:%M:%S}"


def floor_second(moment: dt.datetime) -> dt.datetime:
    """Drop sub-second precision: HappyTalk's timestamps are whole seconds."""
    return moment.replace(microsecond=0)


def to_wall_clock(instant: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """The naive wall-clock time in `zone` of an aware instant, floored to the second."""
    return floor_second(instant.astimezone(zone)).replace(tzinfo=None)


def to_instant(wall_clock: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """The aware instant of a naive wall-clock time in `zone`.

    An ambiguous time (a daylight-saving fall-back hour) resolves to its earlier instant,
    which for a bookmark means re-reading rather than skipping.
    """
    return wall_clock.replace(tzinfo=zone, fold=0)


def day_windows(start: dt.datetime, end: dt.datetime, hours: int = 24) -> list[DayWindow]:
    """Cut the wall-clock range [start, end) into windows HappyTalk accepts.

    Windows are aligned to a grid of `hours` from each midnight, so the same range always
    yields the same windows; the first and last are clipped to the range. Sub-second parts
    of `start` and `end` are dropped. An empty or inverted range yields no windows.

    Args:
        start: First wall-clock second to cover (naive).
        end: Wall-clock time to stop before (naive, exclusive).
        hours: Largest window, 1 to 24 hours.

    Returns:
        The windows in ascending order, contiguous, none spanning two dates.
    """
    if not 1 <= hours <= 24:  # noqa: PLR2004 - a day has 24 hours
        msg = f"window size must be 1..24 hours, not {hours}"
        raise ValueError(msg)
    start, end = floor_second(start), floor_second(end)
    step = dt.timedelta(hours=hours)
    windows: list[DayWindow] = []
    cursor = start
    while cursor < end:
        midnight = dt.datetime.combine(cursor.date(), dt.time())
        grid_index = (cursor - midnight) // step
        grid_end = min(midnight + step * (grid_index + 1), midnight + ONE_DAY)
        window_end = min(grid_end, end)
        windows.append(DayWindow(cursor, window_end))
        cursor = window_end
    return windows
