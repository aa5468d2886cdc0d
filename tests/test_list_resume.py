"""Reading a day's room list on from where the last run stopped: the overlap and the chain.

Against the in-memory list of `test_room_list` (rooms join and leave between fetches; ties
come in a new order on every fetch), and the state that remembers where the point stood.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tap_happytalk.answers import room_list_page
from tap_happytalk.errors import UndocumentedAnswerError, UnreadableDayError
from tap_happytalk.progress import Progress
from tap_happytalk.streams.chat_state import ChatMark, read_mark
from tap_happytalk.streams.room_list import (
    PAGE_SIZE,
    PointInList,
    Snapshot,
    list_window,
    unproven_from,
)
from tap_happytalk.windows import DayWindow

from .test_room_list import (
    MIDNIGHT,
    Join,
    JoinTie,
    Leave,
    SimulatedList,
    apply_with_ties,
    assert_complete,
    wall_clock,
)

pytestmark = pytest.mark.timeout(120)

KST = dt.timezone(dt.timedelta(hours=9))


def at(hour: int) -> dt.datetime:
    return MIDNIGHT + dt.timedelta(hours=hour)


def spread(count: int, first: int, last: int, seed: int = 1, tie_every: int = 5) -> list[Any]:
    """`count` rooms at random seconds in [first, last) (every `tie_every`-th shares the one
    before's second), ids `r0000`...; oldest first."""
    rng = random.Random(seed)
    seconds = sorted(rng.randrange(first, last) for _ in range(count))
    for i in range(1, count):
        if i % tie_every == 0:
            seconds[i] = seconds[i - 1]
    return [{"id": f"r{i:04d}", "reg_date": wall_clock(s)} for i, s in enumerate(seconds)]


def first_then_rest(
    rooms: list[Any], split: int, end: int, *, ties: random.Random | None = None
) -> tuple[SimulatedList, PointInList, dt.datetime, dt.datetime]:
    """The day read to `split` o'clock (two passes), then the rooms up to `end` o'clock open."""
    sim = SimulatedList([r for r in rooms if r["reg_date"] < wall_clock(split * 3600)], ties=ties)
    first = list_window(sim.fetch, DayWindow(MIDNIGHT, at(split)))
    assert first.point_after is not None
    sim.rooms = sorted(
        [*sim.rooms, *(r for r in rooms if wall_clock(split * 3600) <= r["reg_date"])],
        key=lambda room: (room["reg_date"], room["id"]),
    )
    sim.first = [room["id"] for room in sim.rooms]
    return sim, first.point_after, at(split), at(end)


# --- the chain: what answers prove ------------------------------------------------------------


def snap(offset: int, *seconds: int, ends: bool = False) -> Snapshot:
    return Snapshot(offset, tuple(wall_clock(s) for s in seconds), ends)


def test_an_answer_to_the_end_that_starts_before_the_point_proves_everything_after_it():
    assert unproven_from([snap(40, 10, 20, 30, ends=True)], wall_clock(15)) is None


def test_an_answer_that_starts_at_the_point_proves_nothing_of_that_second():
    """A room of the point's second may lie before the answer, whatever its order."""
    assert unproven_from([snap(40, 15, 20, 30, ends=True)], wall_clock(15)) == wall_clock(15)


def test_a_first_page_proves_from_the_lists_start():
    assert unproven_from([snap(0, 15, 20, 30, ends=True)], wall_clock(15)) is None


def test_answers_that_meet_end_to_end_leave_the_second_between_them_unproven():
    """Page 2 starts at 30, page 1 ended at 30: rooms of 30 may hide between them."""
    answers = [snap(40, 10, 20, 30), snap(43, 30, 40, ends=True)]
    assert unproven_from(answers, wall_clock(15)) == wall_clock(30)


def test_answers_that_overlap_by_an_earlier_second_prove_the_boundary_second():
    answers = [snap(40, 10, 20, 30), snap(41, 20, 30, 40, ends=True)]
    assert unproven_from(answers, wall_clock(15)) is None


def test_a_gap_between_answers_is_where_the_proof_stops():
    answers = [snap(40, 10, 20, 30), snap(45, 50, 60, ends=True)]
    assert unproven_from(answers, wall_clock(15)) == wall_clock(30)


def test_an_answer_out_of_order_proves_nothing():
    assert unproven_from([snap(40, 10, 30, 20, ends=True)], wall_clock(15)) == wall_clock(15)


def test_an_empty_first_page_to_the_end_is_an_empty_list():
    assert unproven_from([snap(0, ends=True)], wall_clock(15)) is None
    assert unproven_from([snap(50, ends=True)], wall_clock(15)) == wall_clock(15)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 120), min_size=10, max_size=120),
    st.lists(
        st.tuples(st.integers(1, 12), st.integers(0, 8), st.lists(st.integers(0, 130))),
        min_size=1,
        max_size=8,
    ),
    st.integers(0, 120),
    st.randoms(use_true_random=False),
)
@example(  # a tie of three across two answers that meet at its second: one of them hidden
    [10, 20, 30, 30, 30, 40], [(3, 0, []), (3, 1, [])], 15, random.Random(2)
)
def test_what_the_chain_proves_was_shown(seconds, asks, point, order):
    """Any answers, the list changing and ties reordered between them: every room present
    throughout, opened from the point up to what `unproven_from` returns, was in one of them."""
    rooms = [{"id": f"r{i:03d}", "reg_date": wall_clock(s)} for i, s in enumerate(seconds)]
    present = {room["id"]: room["reg_date"] for room in rooms}
    left: set[str] = set()
    shown: set[str] = set()
    snapshots = []
    for joins, (limit, page, leaves) in enumerate(asks):
        ordered = list(rooms)
        order.shuffle(ordered)
        ordered.sort(key=lambda room: room["reg_date"])
        offset = page * limit
        answer = ordered[offset : offset + limit]
        shown |= {room["id"] for room in answer}
        ends = offset + len(answer) >= len(ordered)
        snapshots.append(Snapshot(offset, tuple(r["reg_date"] for r in answer), ends))
        for leave in leaves:  # then the list changes
            if rooms:
                left.add(rooms.pop(leave % len(rooms))["id"])
        rooms.append({"id": f"n{joins:03d}", "reg_date": wall_clock(order.randrange(121))})
    start = wall_clock(point)
    unproven = unproven_from(snapshots, start)
    throughout = {ident for ident in present if ident not in left}
    proven = {
        ident
        for ident in throughout
        if present[ident] >= start and (unproven is None or present[ident] < unproven)
    }
    assert proven <= shown


# --- the overlap: where the point stood ---------------------------------------------------------


def test_an_hourly_read_late_in_a_day_asks_a_few_pages_not_the_day_twice():
    rooms = spread(2000, 0, 86_400)
    sim, where, split, end = first_then_rest(rooms, 20, 21)
    asked = len(sim.fetches)
    day = list_window(sim.fetch, DayWindow(split, end), where)

    want = [
        r["id"] for r in rooms if wall_clock(20 * 3600) <= r["reg_date"] < wall_clock(21 * 3600)
    ]
    assert [room["id"] for room in day.rooms] == want
    assert day.resumed
    assert day.passes == 1
    assert len(sim.fetches) - asked == day.requests <= 4
    assert asked >= 2 * (where.rooms_before // PAGE_SIZE)
    # The next hour knows where 21:00 stands.
    assert day.point_after is not None
    assert day.point_after.point == wall_clock(21 * 3600)
    assert day.point_after.rooms_before == sum(r["reg_date"] < wall_clock(21 * 3600) for r in rooms)


def test_a_point_remembered_for_another_start_is_not_used():
    sim, where, split, end = first_then_rest(spread(300, 0, 86_400), 12, 13)
    day = list_window(sim.fetch, DayWindow(split.replace(minute=30), end), where)
    assert not day.resumed
    assert day.passes == 2


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda sim: sim.leave(sim.rooms[10]["id"]), id="a room leaves early"),
        pytest.param(lambda sim: sim.join(sim.rooms[10]["reg_date"]), id="a room joins early"),
        pytest.param(
            lambda sim: sim.leave(
                sim.rooms[
                    next(
                        i for i, r in enumerate(sim.rooms) if r["reg_date"] >= wall_clock(12 * 3600)
                    )
                    - 2
                ]["id"]
            ),
            id="one of the remembered rooms leaves",
        ),
    ],
)
def test_a_room_that_left_or_joined_before_the_point_sends_the_day_to_two_passes(change):
    rooms = spread(300, 0, 86_400)
    sim, where, split, end = first_then_rest(rooms, 12, 13)
    change(sim)
    day = list_window(sim.fetch, DayWindow(split, end), where)

    assert not day.resumed
    assert day.passes >= 2
    in_window = {
        r["id"] for r in sim.rooms if wall_clock(12 * 3600) <= r["reg_date"] < wall_clock(13 * 3600)
    }
    assert in_window <= {room["id"] for room in day.rooms}


def test_a_leave_and_a_join_of_the_same_remembered_second_are_seen_by_their_ids():
    """The count and the opening times stay; the rooms of that second do not."""
    rooms = spread(300, 0, 86_400, tie_every=2)
    sim, where, split, end = first_then_rest(rooms, 12, 13)
    (opened, ident) = where.last[-1]
    sim.leave(ident)
    sim.join(opened)
    day = list_window(sim.fetch, DayWindow(split, end), where)
    assert not day.resumed


def test_a_tie_across_the_boundary_of_the_resumed_pages_is_read_whole():
    """Ten rooms in one second where the first page read on from the point ends; shuffled."""
    rooms = spread(600, 0, 86_400, tie_every=1000)
    sim, where, split, end = first_then_rest(rooms, 12, 16, ties=random.Random(5))
    after = [r for r in sim.rooms if r["reg_date"] >= wall_clock(12 * 3600)]
    boundary = sim.rooms.index(after[0]) + 40  # past the first page read on, if it holds 50
    for room in sim.rooms[boundary - 5 : boundary + 5]:
        room["reg_date"] = sim.rooms[boundary - 5]["reg_date"]
    day = list_window(sim.fetch, DayWindow(split, end), where)

    want = {
        r["id"] for r in sim.rooms if wall_clock(12 * 3600) <= r["reg_date"] < wall_clock(16 * 3600)
    }
    assert {room["id"] for room in day.rooms} == want
    assert day.resumed


def test_a_second_that_fills_a_whole_answer_is_read_in_two_passes():
    rooms = spread(200, 0, 12 * 3600)
    crowd = [{"id": f"c{i:03d}", "reg_date": wall_clock(13 * 3600)} for i in range(60)]
    sim, where, split, end = first_then_rest(
        [*rooms, *crowd, *spread(50, 14 * 3600, 86_400, 2)], 12, 15
    )
    day = list_window(sim.fetch, DayWindow(split, end), where)
    assert not day.resumed
    assert {f"c{i:03d}" for i in range(60)} <= {room["id"] for room in day.rooms}


def test_a_point_with_no_room_before_it_reads_on_from_the_first_page():
    sim, where, split, end = first_then_rest(spread(120, 6 * 3600, 86_400), 3, 12)
    assert (where.rooms_before, where.last) == (0, ())
    day = list_window(sim.fetch, DayWindow(split, end), where)
    assert day.resumed
    assert sim.asked[-day.requests][0] == 1


# --- the property -------------------------------------------------------------------------------

day_rooms = st.lists(st.tuples(st.integers(0, 86_399), st.integers(1, 12)), max_size=60).map(
    lambda groups: [
        {"id": f"r{i:03d}", "reg_date": wall_clock(second)}
        for i, second in enumerate(s for s, size in groups for _ in range(size))
    ][:300]
)
changes = st.one_of(
    st.builds(Leave, st.integers(0, 299)),
    st.builds(Join, st.integers(0, 86_399)),
    st.builds(JoinTie, st.integers(0, 299)),
)


@settings(max_examples=200, deadline=None)
@given(
    day_rooms,
    st.integers(1, 22),
    st.integers(1, 12),
    st.lists(changes, max_size=3),
    st.lists(st.lists(changes, max_size=2), max_size=4),
    st.booleans(),
    st.randoms(use_true_random=False),
)
@example([], 12, 1, [], [], False, random.Random(0))  # noqa: FBT003 - hypothesis's order
@example(  # 300 rooms, 150 after noon: three pages and more read on from the point
    [{"id": f"r{i:03d}", "reg_date": wall_clock(288 * i)} for i in range(300)],
    12,
    12,
    [],
    [[Leave(160)], [Join(60_000)]],
    True,  # noqa: FBT003 - hypothesis's order
    random.Random(1),
)
def test_reading_on_from_the_point_loses_no_room_the_two_passes_would_find(  # noqa: PLR0913, PLR0917 - hypothesis's draws
    rooms, split, hours, between_runs, while_read, shuffled, order
):
    """The day read to `split` o'clock, the list changed between runs and while read again:
    every room of the next window listed throughout the second read is returned, once."""
    sim, where, start, _ = first_then_rest(rooms, split, 24, ties=order if shuffled else None)
    for change in between_runs:
        apply_with_ties(sim, change)
    sim.first = [room["id"] for room in sim.rooms]
    sim.left, sim.joined = set(), set()
    reads = len(sim.fetches)

    def between(sim: SimulatedList) -> None:
        done = len(sim.fetches) - reads
        if 0 < done <= len(while_read):
            for change in while_read[done - 1]:
                apply_with_ties(sim, change)

    sim.between = between
    window = DayWindow(
        start, min(start + dt.timedelta(hours=hours), MIDNIGHT + dt.timedelta(days=1))
    )
    try:
        day = list_window(sim.fetch, window, where)
    except UnreadableDayError as unreadable:
        problem = str(unreadable)
    else:
        assert_complete(sim, window, day.rooms)
        if not between_runs and not while_read and not shuffled:
            assert day.resumed
        return
    assert "more than one answer" in problem or "kept changing" in problem


# --- the state ----------------------------------------------------------------------------------


def mark_at(point: dt.datetime, where: PointInList | None) -> ChatMark:
    return ChatMark("chat_rooms", Progress(point), KST, where)


def test_where_the_point_stands_is_kept_in_the_state_in_aware_times_and_read_back():
    point = dt.datetime(2024, 3, 1, 14, 55, tzinfo=KST)
    where = PointInList(
        "2024-03-01 14:55:00", 2, (("2024-03-01 14:50:00", "a"), ("2024-03-01 14:54:59", "b"))
    )
    state = mark_at(point, where).to_state()

    assert state["point_in_list"] == {
        "point": "2024-03-01T14:55:00+09:00",
        "rooms_before": 2,
        "last_rooms": [
            {"id": "a", "reg_date": "2024-03-01T14:50:00+09:00"},
            {"id": "b", "reg_date": "2024-03-01T14:54:59+09:00"},
        ],
    }
    again = read_mark("chat_rooms", state, KST, point)
    assert again.point_in_list == where
    assert again.to_state() == state


def test_a_place_in_the_list_of_another_point_is_not_written():
    point = dt.datetime(2024, 3, 1, 15, tzinfo=KST)
    where = PointInList("2024-03-01 14:55:00", 0, ())
    assert "point_in_list" not in mark_at(point, where).to_state()


@pytest.mark.parametrize(
    "entry",
    [
        {
            "point": "2024-03-01T14:00:00+09:00",
            "rooms_before": 1,
            "last_rooms": [{"id": "a", "reg_date": "2024-03-01T13:00:00+09:00"}],
        },
        {
            "point": "2024-03-01T14:55:00+09:00",
            "rooms_before": 0,
            "last_rooms": [{"id": "a", "reg_date": "2024-03-01T13:00:00+09:00"}],
        },
        {"point": "2024-03-01T14:55:00+09:00", "rooms_before": 3, "last_rooms": []},
        {
            "point": "2024-03-01T14:55:00+09:00",
            "rooms_before": 1,
            "last_rooms": [{"id": "a", "reg_date": "2024-03-01T14:55:00+09:00"}],
        },
        {"point": "2024-03-01T14:55:00+09:00", "rooms_before": "1", "last_rooms": []},
        {
            "point": "2024-03-01T14:55:00+09:00",
            "rooms_before": 2,
            "last_rooms": [
                {"id": "a", "reg_date": "2024-03-01T14:00:00+09:00"},
                {"id": "b", "reg_date": "2024-03-01T13:00:00+09:00"},
            ],
        },
        "anything",
    ],
    ids=[
        "another point",
        "more rooms than counted",
        "none of the rooms",
        "a room at the point",
        "a count as text",
        "out of order",
        "not an object",
    ],
)
def test_a_place_in_the_list_that_does_not_fit_is_forgotten(entry):
    state = {
        "replication_key": "reg_date",
        "replication_key_value": "2024-03-01T14:55:00+09:00",
        "ask_again": [],
        "point_in_list": entry,
    }
    mark = read_mark("chat_rooms", state, KST, dt.datetime(2024, 3, 1, 6, tzinfo=dt.timezone.utc))
    assert mark.point_in_list is None
    assert mark.point == dt.datetime(2024, 3, 1, 14, 55, tzinfo=KST)


def test_a_state_written_before_the_place_in_the_list_is_read_with_none():
    state = {
        "replication_key": "reg_date",
        "replication_key_value": "2024-03-01T14:55:00+09:00",
        "ask_again": [],
        "given_up": {},
    }
    mark = read_mark("chat_rooms", state, KST, dt.datetime(2024, 3, 1, 6, tzinfo=dt.timezone.utc))
    assert mark.point_in_list is None
    assert mark.to_state() == state


@pytest.mark.parametrize("shift", range(0, 120, 7))
def test_a_second_of_19_rooms_anywhere_after_the_point_is_read_on_not_in_two_passes(shift):
    """Wherever page boundaries fall, the next answer reaches past a second of up to 19."""
    rooms = spread(600, 0, 86_400, tie_every=1000)
    sim, where, split, end = first_then_rest(rooms, 12, 16, ties=random.Random(shift))
    group = where.rooms_before + shift
    for room in sim.rooms[group : group + 19]:
        room["reg_date"] = sim.rooms[group]["reg_date"]
    day = list_window(sim.fetch, DayWindow(split, end), where)

    want = {
        r["id"]
        for r in sim.rooms
        if split.strftime("%F %T") <= r["reg_date"] < end.strftime("%F %T")
    }
    assert {room["id"] for room in day.rooms} == want
    assert day.resumed


def test_a_list_that_ignores_the_limit_asked_is_set_aside_or_read_whole_never_read_short():
    """docs/ASSUMPTIONS.md: were HappyTalk to serve a page size of its own whatever `limit`
    asks, each answer still goes through `room_list_page`'s checks: a page of 10 that ends
    before its own total_count is refused (the day set aside, not read short); pages of 50
    where fewer were asked fail the overlap, and the day is read whole, every room once."""
    rooms = spread(2000, 0, 86_400)
    want = sorted(
        r["id"] for r in rooms if wall_clock(20 * 3600) <= r["reg_date"] < wall_clock(21 * 3600)
    )
    for served in (10, 50):
        sim, where, split, end = first_then_rest(rooms, 20, 21)

        def ignoring_limit(
            page: int, limit: int, order: Any, sim: Any = sim, served: int = served
        ) -> Any:
            listed = sim.fetch(page, served, order)
            body = {
                "data": {
                    "page": page,
                    "limit": served,
                    "total_count": listed.total,
                    "chat_list": listed.rooms,
                }
            }
            return room_list_page(body, "the rooms of a day", page, limit)

        if served < PAGE_SIZE:
            with pytest.raises(UndocumentedAnswerError, match="of its own total_count 2000"):
                list_window(ignoring_limit, DayWindow(split, end), where)
            continue
        day = list_window(ignoring_limit, DayWindow(split, end), where)
        assert not day.resumed
        assert sorted(room["id"] for room in day.rooms) == want
