"""How far a stream got: its point, the units it asks again, the units it gave up."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tap_happytalk.progress import GIVE_UP_ORDER, Bounds, Pending, Progress, Unit, Why

pytestmark = pytest.mark.timeout(120)

KST = dt.timezone(dt.timedelta(hours=9))
T0 = dt.datetime(2024, 3, 1, 10, tzinfo=KST)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
BOUNDS = Bounds(failed_for=7 * DAY)


def room(ident: str, opened: dt.datetime = T0) -> Unit:
    return Unit.room(ident, opened)


def day(start: dt.datetime = T0) -> Unit:
    return Unit.window(start, start + DAY)


def held(*entries: tuple[Unit, Why], bounds: Bounds = BOUNDS) -> Progress:
    """A progress holding these units, each set aside once at T0."""
    progress = Progress()
    for unit, why in entries:
        progress.set_aside(unit, why, T0, bounds=bounds)
    return progress


def keys(pendings: list[Pending]) -> list[str]:
    return [pending.unit.key for pending in pendings]


# Strategies

offsets = st.integers(-12 * 60, 14 * 60).map(
    lambda minutes: dt.timezone(dt.timedelta(minutes=minutes))
)
instants = st.builds(
    lambda moment, zone: moment.replace(tzinfo=zone),
    st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 1, 1)),
    offsets,
)
rooms = st.builds(Unit.room, st.text(min_size=1, max_size=6), instants)
windows = st.builds(
    lambda start, hours: Unit.window(start, start + dt.timedelta(hours=hours)),
    instants,
    st.integers(1, 48),
)
pendings = st.builds(
    Pending,
    st.one_of(rooms, windows),
    st.sampled_from(Why),
    instants,
    st.integers(0, 1_000),
    st.none() | instants,
)
counts = st.dictionaries(st.sampled_from(Why), st.integers(1, 10_000))


# The state


@settings(max_examples=200, deadline=None)
@given(st.lists(pendings, max_size=20), counts)
def test_the_state_round_trips_every_unit_with_its_why_since_tries_and_closing(
    entries: list[Pending], given_up: dict[Why, int]
) -> None:
    state = {
        "ask_again": [pending.to_state() for pending in entries],
        "given_up": {why.value: count for why, count in given_up.items()},
    }
    progress = Progress.from_state(state, None, T0)
    last_per_key = {pending.unit.key: pending for pending in entries}

    assert progress.pending() == sorted(last_per_key.values(), key=lambda p: p.unit)
    assert progress.given_up == given_up

    again = Progress.from_state(progress.to_state(), None, T0)
    assert again.pending() == progress.pending()
    assert again.given_up == progress.given_up
    assert again.to_state() == progress.to_state()


def test_the_state_lists_units_oldest_first_with_their_own_words():
    progress = Progress()
    progress.set_aside(room("late", T0 + DAY), Why.OPEN, T0, bounds=BOUNDS, closed=T0 + 2 * DAY)
    progress.set_aside(day(), Why.FAILED, T0, bounds=BOUNDS)
    progress.set_aside(day(), Why.FAILED, T0 + HOUR, bounds=BOUNDS)

    assert progress.to_state() == {
        "ask_again": [
            {
                "unit": "window",
                "start": "2024-03-01T10:00:00+09:00",
                "end": "2024-03-02T10:00:00+09:00",
                "why": "failed",
                "since": "2024-03-01T10:00:00+09:00",
                "tries": 1,
            },
            {
                "unit": "room",
                "id": "late",
                "reg_date": "2024-03-02T10:00:00+09:00",
                "why": "open",
                "since": "2024-03-01T10:00:00+09:00",
                "tries": 0,
                "closed_at": "2024-03-03T10:00:00+09:00",
            },
        ],
        "given_up": {},
    }


OPENED = "2024-03-01T10:00:00+09:00"
GOOD = {"unit": "room", "id": "good", "reg_date": OPENED, "why": "open"}


@pytest.mark.parametrize(
    "entry",
    [
        "good",
        None,
        7,
        ["good", OPENED],
        {},
        {"reg_date": OPENED},
        {"id": "", "reg_date": OPENED},
        {"id": 7, "reg_date": OPENED},
        {"id": "no date"},
        {"id": "naive", "reg_date": "2024-03-01T10:00:00"},
        {"id": "unparsable", "reg_date": "yesterday"},
        {"id": "not text", "reg_date": 1_709_254_800},
        {"unit": "window", "start": OPENED},
        {"unit": "window", "start": OPENED, "end": OPENED},
        {"unit": "window", "start": "2024-03-02T10:00:00+09:00", "end": OPENED},
        {"unit": "window", "start": "2024-03-01T10:00:00", "end": "2024-03-02T10:00:00"},
        {"unit": "hour", "start": OPENED, "end": "2024-03-02T10:00:00+09:00"},
        {"unit": "room", "id": "a", "reg_date": OPENED, "why": "bored"},
        {"unit": "room", "id": "a", "reg_date": OPENED, "why": ["open"]},
    ],
)
def test_an_entry_that_describes_no_unit_is_left_out(entry: object):
    progress = Progress.from_state({"ask_again": [entry, GOOD]}, None, T0)
    assert keys(progress.pending()) == ["room good"]


@pytest.mark.parametrize(
    ("field", "value", "read_as"),
    [
        ("since", "yesterday", ("since", T0)),
        ("since", "2024-03-01T09:00:00", ("since", T0)),
        ("tries", -1, ("tries", 0)),
        ("tries", "3", ("tries", 0)),
        ("closed_at", "soon", ("closed", None)),
        ("closed_at", "2024-03-01T10:30:00", ("closed", None)),
    ],
)
def test_an_unreadable_detail_of_a_unit_falls_back_and_keeps_the_unit(
    field: str, value: object, read_as: tuple[str, object]
):
    entry = GOOD | {field: value}
    (pending,) = Progress.from_state({"ask_again": [entry]}, None, T0).pending()
    attribute, expected = read_as
    assert getattr(pending, attribute) == expected


@pytest.mark.parametrize(
    "counts",
    [None, [], "3", {"failed": -1}, {"failed": 0}, {"failed": "3"}, {"failed": 1.5}, {"x": 3}],
)
def test_unreadable_given_up_counts_are_left_out(counts: object):
    progress = Progress.from_state({"ask_again": [], "given_up": counts}, None, T0)
    assert progress.given_up == {}


def test_release_1_3_open_rooms_are_read_as_open_or_missing_since_the_read():
    closed = "2024-03-01T10:30:00+09:00"
    state = {
        "open_rooms": [
            {"id": "a", "reg_date": OPENED},
            {"id": "b", "reg_date": OPENED, "closed_at": closed},
            {"id": "c", "reg_date": OPENED, "missing": True},
            {"id": "bad"},
        ]
    }
    read_at = T0 + 3 * DAY

    progress = Progress.from_state(state, None, read_at)

    assert progress.pending() == [
        Pending(room("a"), Why.OPEN, read_at),
        Pending(room("b"), Why.OPEN, read_at, closed=dt.datetime.fromisoformat(closed)),
        Pending(room("c"), Why.MISSING, read_at),
    ]
    assert progress.given_up == {}


def test_ask_again_is_read_rather_than_release_1_3_open_rooms():
    state = {"ask_again": [GOOD], "open_rooms": [{"id": "old", "reg_date": OPENED}]}
    assert keys(Progress.from_state(state, None, T0).pending()) == ["room good"]


@pytest.mark.parametrize("state", [{}, {"ask_again": None}, {"open_rooms": "[]"}])
def test_a_state_without_a_list_of_units_holds_none(state: dict[str, Any]):
    progress = Progress.from_state(state, T0, T0)
    assert len(progress) == 0
    assert progress.point == T0


# Setting aside


def test_set_aside_again_for_the_same_why_keeps_since_and_adds_a_try():
    progress = Progress()
    progress.set_aside(day(), Why.FAILED, T0, bounds=BOUNDS)
    progress.set_aside(day(), Why.FAILED, T0 + DAY, bounds=BOUNDS)
    progress.set_aside(day(), Why.FAILED, T0 + 2 * DAY, bounds=BOUNDS)
    assert progress.pending() == [Pending(day(), Why.FAILED, T0, tries=2)]


def test_set_aside_between_failed_unconfirmed_and_missing_keeps_the_first_since():
    """A unit flipping between what went wrong is still bounded from when it first did."""
    progress = Progress()
    progress.set_aside(day(), Why.FAILED, T0, bounds=BOUNDS)
    progress.set_aside(day(), Why.FAILED, T0 + DAY, bounds=BOUNDS)
    progress.set_aside(day(), Why.UNCONFIRMED, T0 + 2 * DAY, bounds=BOUNDS)
    assert progress.pending() == [Pending(day(), Why.UNCONFIRMED, T0, tries=2)]


def test_set_aside_to_or_from_open_starts_anew():
    progress = Progress()
    progress.set_aside(room("a"), Why.OPEN, T0, bounds=BOUNDS)
    progress.set_aside(room("a"), Why.FAILED, T0 + DAY, bounds=BOUNDS)
    assert progress.pending() == [Pending(room("a"), Why.FAILED, T0 + DAY)]
    progress.set_aside(room("a"), Why.OPEN, T0 + 2 * DAY, bounds=BOUNDS)
    assert progress.pending() == [Pending(room("a"), Why.OPEN, T0 + 2 * DAY)]


def test_set_aside_again_takes_the_closing_it_is_told():
    """The caller knows the room as it is now: open again (None), or closed then."""
    progress = Progress()
    progress.set_aside(room("a"), Why.OPEN, T0, bounds=BOUNDS, closed=T0 + HOUR)
    progress.set_aside(room("a"), Why.OPEN, T0 + DAY, bounds=BOUNDS)
    assert progress.pending()[0].closed is None
    progress.set_aside(room("a"), Why.OPEN, T0 + DAY, bounds=BOUNDS, closed=T0 + 2 * HOUR)
    assert progress.pending()[0].closed == T0 + 2 * HOUR


def test_settle_takes_a_unit_out_and_ignores_one_not_held():
    progress = held((room("a"), Why.OPEN), (day(), Why.FAILED))
    progress.settle(room("a"))
    progress.settle(room("never held"))
    assert keys(progress.pending()) == [day().key]
    assert progress.given_up == {}


def test_pending_for_a_why_lists_only_those():
    progress = held((room("a"), Why.OPEN), (day(), Why.FAILED))
    assert keys(progress.pending(Why.FAILED)) == [day().key]
    assert progress.pending(Why.MISSING) == []


# Reading again


def test_due_leaves_out_closed_rooms_within_their_grace_only():
    grace = HOUR
    bounds = Bounds(failed_for=7 * DAY, grace=grace)
    now = T0 + DAY
    progress = Progress()
    progress.set_aside(room("open"), Why.OPEN, T0, bounds=bounds)
    progress.set_aside(room("over"), Why.OPEN, T0, bounds=bounds, closed=now - grace)
    progress.set_aside(room("running"), Why.OPEN, T0, bounds=bounds, closed=now - grace / 2)
    progress.set_aside(day(), Why.FAILED, T0, bounds=bounds)

    assert keys(progress.due(now, bounds)) == ["room open", "room over", day().key]
    assert len(progress.due(now + grace / 2, bounds)) == 4
    assert len(progress) == 4, "due only tells, it takes nothing out"


# Expiring


@pytest.mark.parametrize(
    ("after", "given_up"),
    [(dt.timedelta(0), False), (7 * DAY - dt.timedelta(seconds=1), False), (7 * DAY, True)],
)
def test_a_failed_unit_is_given_up_once_failed_for_has_passed_since_it_first_failed(
    after: dt.timedelta, given_up
):
    bounds = Bounds(failed_for=7 * DAY)
    progress = Progress()
    progress.set_aside(day(), Why.FAILED, T0, bounds=bounds)
    progress.set_aside(day(), Why.FAILED, T0 + 3 * DAY, bounds=bounds)

    assert progress.expire(T0 + after, bounds) == []

    assert (len(progress) == 0) is given_up
    assert progress.given_up == ({Why.FAILED: 1} if given_up else {})
    assert len(progress.take_given_up()) == given_up


@pytest.mark.parametrize(
    ("after", "given_up"),
    [(dt.timedelta(0), False), (7 * DAY - dt.timedelta(seconds=1), False), (7 * DAY, True)],
)
def test_an_open_room_is_given_up_once_open_for_has_passed_since_it_opened(
    after: dt.timedelta, given_up
):
    bounds = Bounds(failed_for=DAY, open_for=7 * DAY)
    progress = Progress()
    progress.set_aside(room("a"), Why.OPEN, T0 + 5 * DAY, bounds=bounds)

    progress.expire(T0 + after, bounds)

    assert (len(progress) == 0) is given_up
    assert progress.given_up == ({Why.OPEN: 1} if given_up else {})


def test_a_missing_room_is_never_given_up_by_age():
    bounds = Bounds(failed_for=DAY, open_for=DAY, confirm_for=DAY)
    progress = Progress()
    progress.set_aside(room("a"), Why.MISSING, T0, bounds=bounds)
    progress.expire(T0 + 3650 * DAY, bounds)
    assert keys(progress.pending(Why.MISSING)) == ["room a"]
    assert progress.given_up == {}


@pytest.mark.parametrize(
    ("tries", "after", "leaves"),
    [
        (0, 30 * DAY, False),
        (1, DAY - dt.timedelta(seconds=1), False),
        (1, DAY, True),
        (5, 2 * DAY, True),
    ],
)
def test_an_unconfirmed_window_leaves_as_empty_after_a_try_and_confirm_for(
    tries: int, after: dt.timedelta, leaves
):
    bounds = Bounds(failed_for=DAY, confirm_for=DAY)
    progress = Progress()
    for _ in range(tries + 1):
        progress.set_aside(day(), Why.UNCONFIRMED, T0, bounds=bounds)

    confirmed = progress.expire(T0 + after, bounds)

    assert keys(confirmed) == ([day().key] if leaves else [])
    assert (len(progress) == 0) is leaves
    assert progress.given_up == {}, "an empty window confirmed is not given up"
    assert progress.take_given_up() == []


# Giving up


def test_give_up_counts_by_why_and_take_given_up_returns_each_once():
    progress = held((room("a"), Why.MISSING), (day(), Why.FAILED))
    for pending in progress.pending():
        progress.give_up(pending)

    assert progress.given_up == {Why.MISSING: 1, Why.FAILED: 1}
    assert sorted(keys(progress.take_given_up())) == sorted(["room a", day().key])
    assert progress.take_given_up() == []
    assert progress.to_state()["given_up"] == {"failed": 1, "missing": 1}


def test_past_the_cap_open_rooms_go_first_and_failed_units_last_oldest_first_within():
    old, young = T0, T0 + DAY
    units = [
        (day(young), Why.FAILED),
        (day(old), Why.FAILED),
        (room("missing", young), Why.MISSING),
        (room("missing-old", old), Why.MISSING),
        (day(young + DAY), Why.UNCONFIRMED),
        (day(old - DAY), Why.UNCONFIRMED),
        (room("open", young), Why.OPEN),
        (room("open-old", old), Why.OPEN),
    ]
    progress = held(*units)

    for most in range(len(units) - 1, -1, -1):
        progress.expire(T0, Bounds(failed_for=7 * DAY, most=most))
        assert len(progress) == most

    assert keys(progress.take_given_up()) == [
        "room open-old",
        "room open",
        day(old - DAY).key,
        day(young + DAY).key,
        "room missing-old",
        "room missing",
        day(old).key,
        day(young).key,
    ]


def test_a_unit_set_aside_at_the_cap_may_itself_be_the_one_given_up():
    bounds = Bounds(failed_for=7 * DAY, most=1)
    progress = held((day(), Why.FAILED), bounds=bounds)
    progress.set_aside(room("a"), Why.OPEN, T0, bounds=bounds)
    assert keys(progress.pending()) == [day().key]
    assert keys(progress.take_given_up()) == ["room a"]
    assert progress.given_up == {Why.OPEN: 1}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.one_of(rooms, windows), st.sampled_from(Why))), st.integers(0, 10))
def test_the_cap_keeps_every_unit_more_needed_than_any_it_gives_up(
    units: list[tuple[Unit, Why]], most: int
):
    rank = {why: order for order, why in enumerate(GIVE_UP_ORDER)}
    progress = held(*units, bounds=Bounds(failed_for=DAY, most=10_000))

    never = dt.timedelta(days=365_000)
    progress.expire(T0, Bounds(failed_for=never, open_for=never, most=most))

    kept, gone = progress.pending(), progress.take_given_up()
    assert len(kept) == min(most, len(kept) + len(gone))
    for lost in gone:
        for stays in kept:
            assert (rank[lost.why], lost.unit) < (rank[stays.why], stays.unit)


def test_give_up_order_puts_open_first_and_failed_last():
    assert GIVE_UP_ORDER[0] is Why.OPEN
    assert GIVE_UP_ORDER[-1] is Why.FAILED
    assert set(GIVE_UP_ORDER) == set(Why)


def test_giving_up_a_unit_no_longer_held_counts_nothing():
    progress = held((day(), Why.FAILED))
    (pending,) = progress.pending()
    progress.give_up(pending)
    progress.give_up(pending)
    assert progress.given_up == {Why.FAILED: 1}
    assert len(progress.take_given_up()) == 1


# Any sequence of operations

unit_pool = [room(f"r{i}", T0 + i * HOUR) for i in range(4)] + [day(T0 + i * DAY) for i in range(4)]
steps = st.integers(0, 3 * 24 * 60).map(lambda minutes: dt.timedelta(minutes=minutes))
operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("set_aside"),
            st.sampled_from(unit_pool),
            st.sampled_from(Why),
            steps,
            st.none() | steps,
        ),
        st.tuples(st.just("settle"), st.sampled_from(unit_pool)),
        st.tuples(st.just("expire"), steps),
        st.tuples(st.just("give_up"), st.integers(0, 20)),
        st.tuples(st.just("take")),
    ),
    max_size=60,
)
spans = st.integers(0, 10 * 24).map(lambda hours: dt.timedelta(hours=hours))
bounds_ = st.builds(
    Bounds, failed_for=spans, open_for=spans, grace=spans, confirm_for=spans, most=st.integers(0, 6)
)


@settings(max_examples=300, deadline=None)
@given(bounds_, operations)
def test_after_any_operations_the_cap_holds_and_every_unit_is_pending_settled_or_given_up(
    bounds: Bounds, ops: list[tuple[Any, ...]]
):
    """Conservation: a unit set aside is pending, settled by the caller, or given up."""
    progress = Progress()
    now = T0
    status: dict[str, str] = {}  # key -> "pending", "settled" or "given up"
    give_ups: Counter[str] = Counter()
    taken: Counter[str] = Counter()
    for op in ops:
        before = {pending.unit.key: pending.why for pending in progress.pending()}
        counts_before = Counter(progress.given_up)
        settled: set[str] = set()
        if op[0] == "set_aside":
            _, unit, why, step, closed_after = op
            now += step
            closed = None if closed_after is None else unit.start + closed_after
            progress.set_aside(unit, why, now, bounds=bounds, closed=closed)
            before[unit.key] = why  # the why it is given up for, if the cap takes it
            status[unit.key] = "pending"
        elif op[0] == "settle":
            progress.settle(op[1])
            if op[1].key in before:
                settled.add(op[1].key)
        elif op[0] == "expire":
            now += op[1]
            settled |= set(keys(progress.expire(now, bounds)))
            assert all(before[key] is Why.UNCONFIRMED for key in settled)
        elif op[0] == "give_up" and before:
            pending = progress.pending()
            progress.give_up(pending[op[1] % len(pending)])
        elif op[0] == "take":
            taken.update(keys(progress.take_given_up()))

        after = {pending.unit.key for pending in progress.pending()}
        assert len(progress) == len(after) <= bounds.most
        assert after <= set(before)
        gone = set(before) - after - settled
        for key in settled:
            status[key] = "settled"
        for key in gone:
            status[key] = "given up"
        give_ups.update(gone)
        assert Counter(progress.given_up) - counts_before == Counter(before[key] for key in gone)
        assert after == {key for key, state in status.items() if state == "pending"}

    taken.update(keys(progress.take_given_up()))
    assert taken == give_ups, "every unit given up is taken once"
    assert sum(progress.given_up.values()) == sum(give_ups.values())
    assert progress.take_given_up() == []


# The point


@settings(max_examples=100, deadline=None)
@given(st.lists(instants, min_size=1, max_size=20))
def test_done_never_moves_the_point_back(untils: list[dt.datetime]):
    progress = Progress()
    for until in untils:
        progress.done(until)
    assert progress.point == max(untils)


def test_done_moves_the_point_forward_from_the_state():
    progress = Progress.from_state({}, T0, T0)
    progress.done(T0 - DAY)
    assert progress.point == T0
    progress.done(T0 + DAY)
    assert progress.point == T0 + DAY
