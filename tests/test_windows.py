"""Properties of the day-window arithmetic, in Korea time and in a daylight-saving zone."""

from __future__ import annotations

import datetime as dt
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tap_happytalk.windows import (
    DayWindow,
    day_windows,
    floor_second,
    to_instant,
    to_wall_clock,
)

SEOUL = ZoneInfo("Asia/Seoul")
NEW_YORK = ZoneInfo("America/New_York")

wall_clocks = st.datetimes(min_value=dt.datetime(2019, 1, 1), max_value=dt.datetime(2027, 12, 31))
ranges = st.tuples(wall_clocks, st.integers(0, 9 * 86_400 * 10**6)).map(
    lambda pair: (pair[0], pair[0] + dt.timedelta(microseconds=pair[1]))
)
hours = st.integers(1, 24)


@given(ranges, hours)
def test_windows_cover_the_range_exactly_without_overlap(span, size):
    start, end = span
    windows = day_windows(start, end, size)
    if floor_second(end) <= floor_second(start):
        assert windows == []
        return
    assert windows[0].start == floor_second(start)
    assert windows[-1].end == floor_second(end)
    for before, after in pairwise(windows):
        assert before.end == after.start


@given(ranges, hours)
def test_each_window_is_whole_seconds_within_one_date_and_at_most_the_size(span, size):
    start, end = span
    for window in day_windows(start, end, size):
        assert window.start < window.end
        assert window.start.microsecond == window.end.microsecond == 0
        assert window.start.date() == window.last_second.date()
        assert window.end - window.start <= dt.timedelta(hours=size)
        assert window.api_start[:10] == window.api_end[:10]


@given(ranges, hours)
def test_windows_sit_on_a_grid_from_midnight_so_runs_agree(span, size):
    start, end = span
    windows = day_windows(start, end, size)
    for window in windows[1:]:
        since_midnight = window.start - dt.datetime.combine(window.start.date(), dt.time())
        assert since_midnight % dt.timedelta(hours=size) == dt.timedelta(0)


@given(ranges, hours, st.integers(0, 10**6))
def test_resuming_mid_range_asks_the_same_windows_cut_once(span, size, cut_seconds):
    """A run resumed at a bookmark requests what an uninterrupted run would, from there on."""
    start, end = (floor_second(moment) for moment in span)
    cut = min(start + dt.timedelta(seconds=cut_seconds), end)

    def bounds(windows: list[DayWindow]) -> set[dt.datetime]:
        return {w.start for w in windows} | {w.end for w in windows}

    whole = day_windows(start, end, size)
    halves = day_windows(start, cut, size) + day_windows(cut, end, size)
    expected = bounds(whole) | ({cut} if start < cut < end else set())
    assert bounds(halves) == expected


@settings(max_examples=300)
@given(
    st.datetimes(
        min_value=dt.datetime(2024, 1, 1),
        max_value=dt.datetime(2025, 12, 31),
        timezones=st.just(dt.timezone.utc),
    ),
    st.integers(1, 4 * 86_400),
    st.floats(0, 1, exclude_max=True),
    hours,
    st.sampled_from([SEOUL, NEW_YORK]),
)
def test_every_instant_of_the_range_falls_in_exactly_one_window(
    start, length, fraction, size, zone
):
    """Across daylight-saving changes too: windows are wall-clock, and instants map into them."""
    end = start + dt.timedelta(seconds=length)
    low, high = to_wall_clock(start, zone), to_wall_clock(end, zone)
    windows = day_windows(low, high, size)
    instant = floor_second(start) + dt.timedelta(seconds=int(length * fraction))
    wall = to_wall_clock(instant, zone)
    if low <= wall < high:  # a range that starts or ends in a repeated hour can exclude it
        assert len([w for w in windows if w.start <= wall < w.end]) == 1


def test_fall_back_day_is_one_window_of_25_real_hours():
    day = dt.datetime(2024, 11, 3)  # New York leaves daylight saving at 02:00
    (window,) = day_windows(day, day + dt.timedelta(days=1))
    real_length = to_instant(window.end, NEW_YORK).astimezone(dt.timezone.utc) - to_instant(
        window.start, NEW_YORK
    ).astimezone(dt.timezone.utc)
    assert real_length == dt.timedelta(hours=25)
    assert (window.api_start, window.api_end) == ("2024-11-03 00:00:00", "2024-11-03 23:59:59")


def test_ambiguous_wall_clock_resolves_to_the_earlier_instant():
    instant = to_instant(dt.datetime(2024, 11, 3, 1, 30), NEW_YORK)
    assert instant.utcoffset() == dt.timedelta(hours=-4)


def test_korea_time_has_one_offset():
    assert to_instant(dt.datetime(2024, 7, 1), SEOUL).isoformat() == "2024-07-01T00:00:00+09:00"
    assert to_wall_clock(dt.datetime(2024, 6, 30, 15, tzinfo=dt.timezone.utc), SEOUL) == (
        dt.datetime(2024, 7, 1)
    )


def test_six_hour_windows_and_a_clipped_start():
    windows = day_windows(dt.datetime(2024, 3, 1, 10, 30), dt.datetime(2024, 3, 2, 7), 6)
    assert [str(w) for w in windows] == [
        "2024-03-01 10:30:00..11:59:59",
        "2024-03-01 12:00:00..17:59:59",
        "2024-03-01 18:00:00..23:59:59",
        "2024-03-02 00:00:00..05:59:59",
        "2024-03-02 06:00:00..06:59:59",
    ]


def test_window_size_out_of_range_is_refused():
    with pytest.raises(ValueError, match=r"1\.\.24"):
        day_windows(dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2), 25)


def test_window_reads_as_the_api_range():
    window = DayWindow(dt.datetime(2024, 3, 1), dt.datetime(2024, 3, 2))
    assert (window.api_start, window.api_end) == ("2024-03-01 00:00:00", "2024-03-01 23:59:59")


@given(ranges, hours, st.integers(1, 240))
def test_halves_cover_the_window_and_stay_in_its_day(span, size, minimum_minutes):
    minimum = dt.timedelta(minutes=minimum_minutes)
    start, end = span
    for window in day_windows(start, end, size):
        halves = window.halves(minimum)
        if window.end - window.start < 2 * minimum:
            assert halves is None
            continue
        assert halves is not None
        first, second = halves
        assert (first.start, first.end, second.end) == (window.start, second.start, window.end)
        assert first.end - first.start >= minimum
        assert second.end - second.start >= minimum
        assert first.start.date() == second.last_second.date() == window.start.date()
