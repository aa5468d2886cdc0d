"""Properties of the day-window arithmetic, in Korea time and in a daylight-saving zone."""

from __future__ import annotations

import datetime as dt
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import event, example, given, settings
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
UTC = dt.timezone.utc

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


@settings(max_examples=200)
@given(
    st.datetimes(
        min_value=dt.datetime(2019, 1, 1),
        max_value=dt.datetime(2027, 12, 31),
        timezones=st.just(UTC),
    ),
    st.integers(1, 4 * 86_400),
    st.floats(0, 1, exclude_max=True),
    hours,
)
def test_in_korea_time_every_instant_of_the_range_falls_in_exactly_one_window(
    start, length, fraction, size
):
    end = start + dt.timedelta(seconds=length)
    windows = day_windows(to_wall_clock(start, SEOUL), to_wall_clock(end, SEOUL), size)
    instant = floor_second(start) + dt.timedelta(seconds=int(length * fraction))
    wall = to_wall_clock(instant, SEOUL)
    assert len([w for w in windows if w.start <= wall < w.end]) == 1


# Daylight saving in New York. Its offset changes of 2024 and 2025 are written out here from the
# published rule (second Sunday of March at 02:00 EST, first Sunday of November at 02:00 EDT),
# so these tests have an oracle that depends neither on zoneinfo nor on windows.py.
SPRING_FORWARD = (dt.datetime(2024, 3, 10, 7, tzinfo=UTC), dt.datetime(2025, 3, 9, 7, tzinfo=UTC))
FALL_BACK = (dt.datetime(2024, 11, 3, 6, tzinfo=UTC), dt.datetime(2025, 11, 2, 6, tzinfo=UTC))
EST, EDT = dt.timedelta(hours=-5), dt.timedelta(hours=-4)
HOUR = dt.timedelta(hours=1)


def new_york_offset(instant: dt.datetime) -> dt.timedelta:
    """New York's UTC offset at `instant`, from 2023-11-05 to 2026-03-08."""
    changes = sorted([(at, EDT) for at in SPRING_FORWARD] + [(at, EST) for at in FALL_BACK])
    offset = EST
    for at, after in changes:
        if instant >= at:
            offset = after
    return offset


def expected_wall_clock(instant: dt.datetime) -> dt.datetime:
    local = instant.astimezone(UTC) + new_york_offset(instant)
    return floor_second(local).replace(tzinfo=None)


def repeated_pass(instant: dt.datetime) -> int | None:
    """0 in the first pass of a fall-back hour (EDT), 1 in the second (EST), else None."""
    for change in FALL_BACK:
        if change - HOUR <= instant < change:
            return 0
        if change <= instant < change + HOUR:
            return 1
    return None


def is_skipped(wall: dt.datetime) -> bool:
    """A spring-forward wall clock that no instant has: 02:00:00 to 02:59:59 that day."""
    return any(wall.date() == (at + EST).date() and wall.hour == 2 for at in SPRING_FORWARD)


def ny_wall(instant: dt.datetime) -> dt.datetime:
    return to_wall_clock(instant, NEW_YORK)


def ny_instant(wall: dt.datetime) -> dt.datetime:
    """`to_instant` in UTC: aware datetimes sharing a tzinfo compare by their wall clocks."""
    return to_instant(wall, NEW_YORK).astimezone(UTC)


# Seconds from an offset change: mostly the two hours around it (both passes of a repeated
# hour, either side of a skipped one), often its exact edges, sometimes up to two days away.
seconds_from_a_change = st.one_of(
    st.integers(-2 * 3600, 2 * 3600),
    st.sampled_from([-3600, -1, 0, 1, 1800, 3599, 3600]),
    st.integers(-2 * 86_400, 2 * 86_400),
)


@st.composite
def instants_around_a_change(draw: st.DrawFn, count: int) -> list[dt.datetime]:
    """`count` instants in ascending order, around one of the four offset changes."""
    change = draw(st.sampled_from(SPRING_FORWARD + FALL_BACK))
    seconds = draw(st.lists(seconds_from_a_change, min_size=count, max_size=count))
    micros = draw(st.integers(0, 999_999))
    return sorted(change + dt.timedelta(seconds=s, microseconds=micros) for s in seconds)


# 2024-11-03 in New York: 01:00-01:59 EDT is 05:00-05:59Z, 01:00-01:59 EST is 06:00-06:59Z.
STARTS_IN_FIRST_PASS = [
    dt.datetime(2024, 11, 3, 5, 30, tzinfo=UTC),  # start: 01:30 EDT
    dt.datetime(2024, 11, 3, 6, 10, tzinfo=UTC),  # instant: 01:10 EST, before 01:30 by the wall
    dt.datetime(2024, 11, 3, 9, tzinfo=UTC),
]
ENDS_IN_SECOND_PASS = [
    dt.datetime(2024, 11, 3, 4, tzinfo=UTC),
    dt.datetime(2024, 11, 3, 5, 40, tzinfo=UTC),  # instant: 01:40 EDT
    dt.datetime(2024, 11, 3, 6, 20, tzinfo=UTC),  # end: 01:20 EST, before 01:40 by the wall
]


@settings(max_examples=500)
@example(STARTS_IN_FIRST_PASS, 24)
@example(ENDS_IN_SECOND_PASS, 1)
@given(instants_around_a_change(3), hours)
def test_across_dst_every_instant_is_in_one_window_or_left_for_a_neighbouring_run(points, size):
    """No instant is in two windows; one outside all of them is the range's own repeated hour.

    A range whose start or end falls in a repeated hour does not contain the other pass of that
    hour by the wall clock, which is all HappyTalk speaks (it may even be empty: 01:59 EDT to
    01:00 EST). An instant of the second pass before the start's wall clock is before
    `start_date` as HappyTalk stamps it; one of the first pass at or after the end's wall clock
    is at or after the bookmark the run leaves, so the next run reads it.
    """
    start, instant, end = points
    end = max(end, floor_second(instant) + dt.timedelta(seconds=1))
    low, high = ny_wall(start), ny_wall(end)
    windows = day_windows(low, high, size)
    wall = ny_wall(instant)
    holding = [w for w in windows if w.start <= wall < w.end]

    event(f"instant in repeated-hour pass {repeated_pass(instant)}")
    assert len(holding) <= 1
    if low <= wall < high:
        assert len(holding) == 1
    elif wall < low:
        event("instant before the start's wall clock")
        assert holding == []
        assert (repeated_pass(instant), repeated_pass(start)) == (1, 0)
    else:
        event("instant at or after the end's wall clock")
        assert holding == []
        assert (repeated_pass(instant), repeated_pass(end)) == (0, 1)
        # The bookmark the run leaves (unmoved if it had no window): the next run reads it.
        assert (ny_instant(windows[-1].end) if windows else start) <= instant


@settings(max_examples=300)
@given(
    st.sampled_from(FALL_BACK),
    st.integers(0, 3599),
    st.integers(0, 2 * 86_400),
    st.integers(0, 2 * 86_400),
    hours,
)
def test_both_passes_of_a_repeated_hour_fall_in_the_same_one_window(
    change, second, before, after, size
):
    """A range across a fall-back hour: both instants with one wall clock share a window."""
    first = change - HOUR + dt.timedelta(seconds=second)
    again = first + HOUR
    start = change - HOUR - dt.timedelta(seconds=before)
    end = change + HOUR + dt.timedelta(seconds=after)
    windows = day_windows(ny_wall(start), ny_wall(end), size)

    wall = ny_wall(first)
    assert ny_wall(again) == wall == expected_wall_clock(first)
    assert wall.hour == 1
    (window,) = [w for w in windows if w.start <= wall < w.end]
    # The window's real span, from bookmark to bookmark, holds both passes.
    assert ny_instant(window.start) <= first < again < ny_instant(window.end)
    # The windows still cover the wall-clock range: no gap, no overlap.
    assert windows[0].start == ny_wall(start)
    assert windows[-1].end == ny_wall(end)
    assert all(before.end == after.start for before, after in pairwise(windows))


@settings(max_examples=500)
@given(instants_around_a_change(1))
def test_a_wall_clock_round_trips_to_its_earlier_instant(points):
    """Wall clocks are the zone's, skipped hours never appear, and repeated ones resolve early."""
    (instant,) = points
    wall = ny_wall(instant)
    assert wall == expected_wall_clock(instant)
    assert not is_skipped(wall)

    back = ny_instant(wall)
    earlier = floor_second(instant) - (HOUR if repeated_pass(instant) == 1 else dt.timedelta(0))
    assert back == earlier
    assert to_instant(wall, NEW_YORK).utcoffset() == new_york_offset(earlier)
    assert ny_wall(back) == wall


@settings(max_examples=300)
@given(instants_around_a_change(6), hours)
def test_runs_resumed_from_each_bookmark_read_every_wall_clock_second_once_or_again(points, size):
    """Runs ending anywhere around a change, each resuming where the last one's STATE points.

    As the stream does: a run reads [max(start_date, bookmark), its end) by the wall clock, and
    the bookmark becomes the earlier instant of its last window's end. The bookmark is never
    past the run's end (re-read rather than skip), never moves back, and no wall-clock second
    between two runs is left out.
    """
    start, *ends = points
    instants = [start + (end - start) * fraction for end in ends[-1:] for fraction in (0.1, 0.5)]
    instants += [start, *ends[:-1], *(end - dt.timedelta(seconds=1) for end in ends)]
    bookmark: dt.datetime | None = None
    read: list[DayWindow] = []
    for end in ends:
        run_start = start if bookmark is None else max(start, bookmark)
        windows = day_windows(ny_wall(run_start), ny_wall(end), size)
        if not windows:
            continue
        if read:
            assert windows[0].start <= read[-1].end  # no gap after the previous run
        moved = ny_instant(windows[-1].end)
        assert moved <= end
        assert bookmark is None or moved >= bookmark
        bookmark = moved
        read += windows

    next_start = ny_wall(start if bookmark is None else max(start, bookmark))
    for instant in instants:
        if not start <= instant < ends[-1]:
            continue
        wall = ny_wall(instant)
        if any(w.start <= wall < w.end for w in read) or wall >= next_start:
            continue  # read by these runs, or by the next one
        assert wall < ny_wall(start)  # before start_date by HappyTalk's clock
        assert (repeated_pass(instant), repeated_pass(start)) == (1, 0)


@given(instants_around_a_change(2), hours)
def test_window_ends_as_bookmarks_never_move_backwards_nor_past_the_end(points, size):
    start, end = points
    windows = day_windows(ny_wall(start), ny_wall(end), size)
    marks = [ny_instant(w.end) for w in windows]
    assert marks == sorted(marks)
    if windows:
        assert marks[-1] <= end
        assert ny_instant(windows[0].start) <= max(start, marks[0])


def test_spring_forward_day_is_one_window_of_23_real_hours():
    day = dt.datetime(2024, 3, 10)  # New York skips 02:00-02:59
    (window,) = day_windows(day, day + dt.timedelta(days=1))
    real_length = ny_instant(window.end) - ny_instant(window.start)
    assert real_length == dt.timedelta(hours=23)


def test_hourly_windows_keep_the_skipped_hour_empty_and_the_repeated_hour_double():
    spring = day_windows(dt.datetime(2024, 3, 10), dt.datetime(2024, 3, 11), 1)
    fall = day_windows(dt.datetime(2024, 11, 3), dt.datetime(2024, 11, 4), 1)
    assert len(spring) == len(fall) == 24  # wall-clock hours, whatever the day's real length

    def real_lengths(windows):
        return {str(w): ny_instant(w.end) - ny_instant(w.start) for w in windows}

    assert real_lengths(spring)["2024-03-10 02:00:00..02:59:59"] == dt.timedelta(0)
    assert real_lengths(fall)["2024-11-03 01:00:00..01:59:59"] == 2 * HOUR
    assert sum(real_lengths(spring).values(), dt.timedelta(0)) == 23 * HOUR
    assert sum(real_lengths(fall).values(), dt.timedelta(0)) == 25 * HOUR


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
