"""Paging a day's room list while rooms join and leave it, against an in-memory list.

The list can also order rooms opened in the same second anew on every request (`ties`), as
a SQL database may: TRUST line 12.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tap_happytalk.answers import RoomListPage
from tap_happytalk.errors import HappyTalkResponseError, UnreadableDayError
from tap_happytalk.streams import room_list
from tap_happytalk.streams.room_list import PAGE_SIZE, Order, list_window
from tap_happytalk.windows import API_FORMAT, DayWindow

pytestmark = pytest.mark.timeout(120)

MIDNIGHT = dt.datetime(2024, 3, 1)
WHOLE_DAY = DayWindow(MIDNIGHT, MIDNIGHT + dt.timedelta(days=1))
LAST_SECOND = 86_399

Room = dict[str, Any]
Change = Callable[["SimulatedList"], None]


def wall_clock(seconds: int) -> str:
    """The wall-clock time `seconds` after the day's midnight, as HappyTalk writes it."""
    return (MIDNIGHT + dt.timedelta(seconds=seconds)).strftime(API_FORMAT)


def numbered(count: int) -> list[Room]:
    """`r000`, `r001`, ...: one a minute from 01:00, so `r050` opens page 2 and `r100` page 3."""
    return [{"id": f"r{i:03d}", "reg_date": wall_clock(3600 + 60 * i)} for i in range(count)]


@dataclass
class SimulatedList:
    """A day's room list, sorted by (reg_date, id), that changes between page fetches.

    `between(sim)` runs before every fetch but the first (`len(sim.fetches)` were done). With
    `ties`, rooms of the same second come in a new random order on every fetch.
    """

    rooms: list[Room]
    between: Change = field(default=lambda _: None)
    ties: random.Random | None = None
    fetches: list[tuple[int, list[str], int]] = field(default_factory=list)
    asked: list[tuple[int, int, Order]] = field(default_factory=list)  # (page, limit, order)
    left: set[str] = field(default_factory=set)
    joined: set[str] = field(default_factory=set)
    next_id: int = 0

    def __post_init__(self) -> None:
        self.rooms = sorted(self.rooms, key=lambda room: (room["reg_date"], room["id"]))
        self.first = [room["id"] for room in self.rooms]

    def fetch(self, page: int, limit: int = PAGE_SIZE, order: Order = "asc") -> RoomListPage:
        if self.fetches:
            self.between(self)
        ordered = list(self.rooms)
        if self.ties is not None:
            self.ties.shuffle(ordered)
            ordered.sort(key=lambda room: room["reg_date"])  # stable: ties stay shuffled
        if order == "desc":
            ordered.reverse()
        offset = (page - 1) * limit
        listed = [dict(room) for room in ordered[offset : offset + limit]]
        self.fetches.append((page, [room["id"] for room in listed], len(self.rooms)))
        self.asked.append((page, limit, order))
        return RoomListPage(listed, len(self.rooms))

    def leave(self, ident: str) -> None:
        assert any(room["id"] == ident for room in self.rooms), f"{ident} is not listed"
        self.rooms = [room for room in self.rooms if room["id"] != ident]
        self.left.add(ident)

    def join(self, reg_date: str) -> str:
        """A new room (`n...` ids sort before `r...` ones of the same second); its id."""
        self.next_id += 1
        ident = f"n{self.next_id:03d}"
        self.rooms.append({"id": ident, "reg_date": reg_date})
        self.rooms.sort(key=lambda room: (room["reg_date"], room["id"]))
        self.joined.add(ident)
        return ident

    def join_at(self, position: int) -> str:
        """A new room that lands at `position`, pushing the room there one place on."""
        if position < len(self.rooms):
            return self.join(self.rooms[position]["reg_date"])
        return self.join(wall_clock(LAST_SECOND))

    def throughout(self) -> set[str]:
        """The rooms listed from the first fetch to the last."""
        return set(self.first) - self.left

    def ever(self) -> set[str]:
        return set(self.first) | self.joined


def script(changes: dict[int, list[Change]]) -> Change:
    """Run `changes[n]` after the n-th fetch."""

    def between(sim: SimulatedList) -> None:
        for change in changes.get(len(sim.fetches), []):
            change(sim)

    return between


def leave(ident: str) -> Change:
    return lambda sim: sim.leave(ident)


def join_at(position: int) -> Change:
    def change(sim: SimulatedList) -> None:
        sim.join_at(position)

    return change


def result_ids(sim: SimulatedList, window: DayWindow = WHOLE_DAY) -> list[str]:
    return [room["id"] for room in list_window(sim.fetch, window).rooms]


def fetches_of_first_pass(sim: SimulatedList) -> list[tuple[int, list[str], int]]:
    restart = next(n for n, (page, _, _) in enumerate(sim.fetches) if n and page == 1)
    return sim.fetches[:restart]


# One change while the first pass pages a 150-room list (pages 1..3).


@pytest.mark.parametrize(
    ("after_fetch", "change", "missing_in_first_pass"),
    [
        pytest.param(1, leave("r010"), "r050", id="leave right after the first page"),
        pytest.param(2, leave("r099"), "r100", id="leave at a page boundary"),
        pytest.param(2, leave("r120"), None, id="leave on the last page before it is read"),
        pytest.param(1, join_at(10), None, id="join right after the first page"),
        pytest.param(2, join_at(99), None, id="join at a page boundary"),
        pytest.param(2, join_at(120), None, id="join on the last page before it is read"),
    ],
)
def test_a_room_that_joins_or_leaves_mid_pass_costs_no_other_room(
    after_fetch, change, missing_in_first_pass
):
    sim = SimulatedList(numbered(150), script({after_fetch: [change]}))
    listed = result_ids(sim)

    assert sim.throughout() <= set(listed)
    assert set(listed) <= sim.ever()
    assert len(listed) == len(set(listed))
    first_pass = {ident for _, page, _ in fetches_of_first_pass(sim) for ident in page}
    if missing_in_first_pass is not None:
        assert missing_in_first_pass not in first_pass
        assert missing_in_first_pass in listed
    assert sim.joined <= set(listed), "a room that joined is read by a later pass"


def test_a_room_that_leaves_after_it_was_read_is_kept():
    sim = SimulatedList(numbered(150), script({1: [leave("r010")]}))
    assert "r010" in result_ids(sim)


def test_a_room_that_leaves_before_it_is_ever_read_is_not_invented():
    sim = SimulatedList(numbered(150), script({2: [leave("r120")]}))
    listed = result_ids(sim)
    assert "r120" not in listed
    assert len(listed) == 149


def test_a_room_pushed_onto_the_next_page_is_listed_once():
    sim = SimulatedList(numbered(150), script({1: [join_at(10)]}))
    listed = result_ids(sim)
    first_pass = [ident for _, page, _ in fetches_of_first_pass(sim) for ident in page]
    assert first_pass.count("r049") == 2, "pushed from page 1 to page 2, read on both"
    assert listed.count("r049") == 1
    assert len(listed) == 151


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param([leave("r010"), join_at(140)], id="leave before, join after"),
        pytest.param([join_at(10), leave("r140")], id="join before, leave after"),
    ],
)
def test_a_join_and_a_leave_between_the_same_two_pages_are_found(changes):
    sim = SimulatedList(numbered(150), script({1: changes}))
    listed = result_ids(sim)

    assert [total for _, _, total in sim.fetches] == [150] * len(sim.fetches)
    assert sim.throughout() <= set(listed)
    assert sim.joined <= set(listed)
    assert len(listed) == len(set(listed))


def test_the_count_and_a_single_pass_would_miss_a_room_the_passes_find():
    """A leave on page 1 and a join past page 2 between pages 1 and 2: the count stays 150."""
    sim = SimulatedList(numbered(150), script({1: [leave("r010"), join_at(140)]}))
    day = list_window(sim.fetch, WHOLE_DAY)
    listed = [room["id"] for room in day.rooms]

    first_pass = fetches_of_first_pass(sim)
    assert [page for page, _, _ in first_pass] == [1, 2, 3]
    assert [total for _, _, total in first_pass] == [150, 150, 150], "no count check sees it"
    assert "r050" not in {ident for _, page, _ in first_pass for ident in page}
    assert "r050" in listed
    assert day.passes == 3, "pass 1 differs from pass 2; pass 3 agrees with pass 2"


# Passes


def test_a_list_that_fits_one_page_is_a_snapshot_read_once():
    sim = SimulatedList(numbered(PAGE_SIZE - 1))
    day = list_window(sim.fetch, WHOLE_DAY)
    assert [page for page, _, _ in sim.fetches] == [1]
    assert day.passes == 1
    assert len(day.rooms) == PAGE_SIZE - 1


def test_an_empty_day_is_read_once():
    sim = SimulatedList([])
    day = list_window(sim.fetch, WHOLE_DAY)
    assert (day.rooms, day.strays, day.passes) == ([], 0, 1)
    assert len(sim.fetches) == 1


def test_an_unchanging_list_of_several_pages_is_read_twice():
    sim = SimulatedList(numbered(120))
    day = list_window(sim.fetch, WHOLE_DAY)
    assert [page for page, _, _ in sim.fetches] == [1, 2, 3, 1, 2, 3]
    assert day.passes == 2
    assert [room["id"] for room in day.rooms] == sim.first


def test_a_list_that_never_settles_is_an_error_not_a_short_list():
    sim = SimulatedList(numbered(300), lambda sim: sim.leave(sim.rooms[0]["id"]))
    with pytest.raises(HappyTalkResponseError, match=r"2024-03-01 kept changing .*5 passes"):
        list_window(sim.fetch, WHOLE_DAY)
    assert [page for page, _, _ in sim.fetches].count(1) == room_list.MAX_PASSES


def test_the_number_of_passes_is_bounded(monkeypatch):
    monkeypatch.setattr(room_list, "MAX_PASSES", 2)
    sim = SimulatedList(numbered(150), script({1: [leave("r010")]}))
    with pytest.raises(HappyTalkResponseError, match="2 passes"):
        list_window(sim.fetch, WHOLE_DAY)


# The window


def test_rooms_dated_on_another_day_are_counted_as_strays_and_left_out():
    strays = [
        {"id": "yesterday", "reg_date": "2024-02-29 23:59:59"},
        {"id": "tomorrow", "reg_date": "2024-03-02 00:00:00"},
    ]
    sim = SimulatedList([*numbered(60), *strays])
    day = list_window(sim.fetch, WHOLE_DAY)
    assert day.strays == 2
    assert [room["id"] for room in day.rooms] == [f"r{i:03d}" for i in range(60)]


def test_rooms_of_the_day_outside_the_window_are_left_out():
    window = DayWindow(MIDNIGHT.replace(hour=1, minute=10), MIDNIGHT.replace(hour=2))
    sim = SimulatedList(numbered(150))  # 01:00 to 03:29
    day = list_window(sim.fetch, window)
    assert [room["id"] for room in day.rooms] == [f"r{i:03d}" for i in range(10, 60)]
    assert day.strays == 0


def test_a_room_opened_after_the_window_while_it_is_paged_forces_no_new_pass():
    window = DayWindow(MIDNIGHT, MIDNIGHT.replace(hour=12))

    def one_more_in_the_afternoon(sim: SimulatedList) -> None:
        sim.join(wall_clock(13 * 3600 + len(sim.fetches)))

    sim = SimulatedList(numbered(150), one_more_in_the_afternoon)
    day = list_window(sim.fetch, window)
    assert day.passes == 2
    assert [room["id"] for room in day.rooms] == sim.first


def test_a_room_present_throughout_is_lost_when_joins_and_leaves_mask_it_in_two_passes():
    """Two passes agree while both miss r100, which is listed from the first fetch to the last.

    102 rooms, pages 1..3. In each pass a room joins at the top after page 1 (pushing r049 onto
    page 2) and leaves again after page 2 (pulling r100 back onto page 2, already read). In the
    first pass r099 leaves with it, so r101 and not r100 opens page 3; in the second, r100 sits
    where r099 was. Both passes read [r000..r049], [r049..r098], [r101]: they agree, and the
    list is returned without r100. No room listed by either pass left between them.
    """
    changes: dict[int, list[Change]] = {
        1: [join_at(0)],
        2: [leave("n001"), leave("r099")],
        4: [join_at(0)],
        5: [leave("n002")],
    }
    sim = SimulatedList(numbered(102), script(changes))
    listed = result_ids(sim)

    assert "r100" in sim.throughout()
    assert "r100" in listed


# The property


@dataclass(frozen=True)
class Leave:
    """The room at `position` (modulo the list's length) leaves."""

    position: int


@dataclass(frozen=True)
class Join:
    """A new room opened `seconds` after midnight joins, wherever that places it."""

    seconds: int


def apply(sim: SimulatedList, change: Leave | Join) -> None:
    if isinstance(change, Join):
        sim.join(wall_clock(change.seconds))
    elif sim.rooms:
        sim.leave(sim.rooms[change.position % len(sim.rooms)]["id"])


seconds_of_the_day = st.integers(0, LAST_SECOND)
days = st.lists(seconds_of_the_day, max_size=300).map(
    lambda seconds: [{"id": f"r{i:03d}", "reg_date": wall_clock(s)} for i, s in enumerate(seconds)]
)
windows = (
    st.tuples(st.integers(0, 23), st.integers(1, 24))
    .map(lambda hours: (hours[0], min(24, hours[0] + hours[1])))
    .map(
        lambda hours: DayWindow(
            MIDNIGHT.replace(hour=hours[0]), MIDNIGHT + dt.timedelta(hours=hours[1])
        )
    )
)
changes = st.one_of(
    st.builds(Leave, st.integers(0, 299)),
    st.builds(Join, seconds_of_the_day),
)
# One entry for each fetch after which the list changes: changes stop after six fetches, so
# at most three passes see them and the list must be read through within MAX_PASSES.
change_scripts = st.lists(st.lists(changes, max_size=3), max_size=6)


def assert_complete(sim: SimulatedList, window: DayWindow, rooms: list[Room]) -> None:
    listed = [room["id"] for room in rooms]
    in_window = {
        room["id"] for room in sim.rooms if window.api_start <= room["reg_date"] <= window.api_end
    }
    assert len(listed) == len(set(listed)), "no room twice"
    assert [(room["reg_date"], room["id"]) for room in rooms] == sorted(
        (room["reg_date"], room["id"]) for room in rooms
    )
    assert all(window.api_start <= room["reg_date"] <= window.api_end for room in rooms)
    assert set(listed) <= sim.ever(), "no room made up"
    missed = (sim.throughout() & in_window) - set(listed)
    assert not missed, f"rooms listed throughout but not returned: {sorted(missed)}"


@settings(max_examples=150, deadline=None)
@given(days, windows, change_scripts)
@example(  # the masking of test_a_room_present_throughout_is_lost_when_...
    [{"id": f"r{i:03d}", "reg_date": wall_clock(3600 + 60 * i)} for i in range(102)],
    WHOLE_DAY,
    [[Join(0)], [Leave(0), Leave(99)], [], [Join(1)], [Leave(0)]],
)
def test_every_room_listed_throughout_is_returned_once_in_order(rooms, window, script_):
    def between(sim: SimulatedList) -> None:
        done = len(sim.fetches)
        if done <= len(script_):
            for change in script_[done - 1]:
                apply(sim, change)

    sim = SimulatedList(rooms, between)
    day = list_window(sim.fetch, window)
    assert_complete(sim, window, day.rooms)
    assert day.strays == 0


@settings(max_examples=60, deadline=None)
@given(days, windows, st.randoms(use_true_random=False))
def test_a_list_that_keeps_losing_rooms_is_an_error_or_complete(rooms, window, chance):
    sim = SimulatedList(rooms, lambda sim: apply(sim, Leave(chance.randrange(300))))
    try:
        day = list_window(sim.fetch, window)
    except HappyTalkResponseError:
        assert len(sim.fetches) >= 2 * room_list.MAX_PASSES
        return
    assert_complete(sim, window, day.rooms)


# Ties: rooms opened in the same second, in a new order on every fetch (TRUST line 12)


def tied(sizes: list[int], start: int = 3600) -> list[Room]:
    """Groups of rooms opened in the same second, one group a minute from `start`: `t0000`..."""
    seconds = [start + 60 * group for group, size in enumerate(sizes) for _ in range(size)]
    return [{"id": f"t{i:04d}", "reg_date": wall_clock(s)} for i, s in enumerate(seconds)]


def straddling(sizes: list[int]) -> int:
    """How many of `tied(sizes)`'s groups cross a page boundary."""
    crossing, start = 0, 0
    for size in sizes:
        crossing += start // PAGE_SIZE != (start + size - 1) // PAGE_SIZE
        start += size
    return crossing


# 300 rooms: groups of 10, 5, 31 and 2 across boundaries 50, 100, 150 and 200 (and one of 4
# at the list's start, one of 20 inside page 2, one of 8 at the list's end).
ACROSS_PAGES = [4, *[1] * 41, 10, 20, *[1] * 22, 5, *[1] * 38, 31, *[1] * 28, 2, *[1] * 91, 8]


def test_the_tied_sample_straddles_the_boundaries_it_says():
    assert len(tied(ACROSS_PAGES)) == 300
    assert straddling(ACROSS_PAGES) == 4


def test_ties_in_the_same_order_on_every_page_cost_no_extra_request():
    sim = SimulatedList(tied(ACROSS_PAGES))
    day = list_window(sim.fetch, WHOLE_DAY)
    assert [room["id"] for room in day.rooms] == sim.first
    assert [page for page, _, _ in sim.fetches] == [1, 2, 3, 4, 5, 6] * 2  # total_count: 300
    assert (day.passes, day.requests, day.tie_reads) == (2, 12, 0)


def test_ties_in_a_new_order_on_every_page_are_each_read_whole_in_one_answer():
    sim = SimulatedList(tied(ACROSS_PAGES), ties=random.Random(1))
    day = list_window(sim.fetch, WHOLE_DAY)

    assert [room["id"] for room in day.rooms] == sim.first
    assert day.passes == 2
    assert day.requests == len(sim.fetches) == 12 + day.tie_reads
    assert 1 <= day.tie_reads <= 4
    # Each group across a boundary, with a neighbour on either side, in one page of its own.
    assert all(limit < PAGE_SIZE for _, limit, _ in sim.asked[12:])


def test_without_its_fix_a_pass_misses_rooms_of_a_tie_across_a_boundary():
    """The premise: one pass over shuffled ties lists some room twice and another not at all."""
    sim = SimulatedList(tied(ACROSS_PAGES), ties=random.Random(1))
    listed = [room["id"] for page in range(1, 7) for room in sim.fetch(page).rooms]
    assert len(listed) == 300
    assert len(set(listed)) < 300


def test_a_tie_group_no_page_can_show_fails_the_day_naming_it():
    sizes = [*[1] * 30, 49, *[1] * 30]  # 49 rooms at 01:30:00, across pages 1 and 2
    sim = SimulatedList(tied(sizes), ties=random.Random(2))
    with pytest.raises(
        UnreadableDayError,
        match=r"of 2024-03-01 has 49 rooms opened at 2024-03-01 01:30:00 across pages 1 and 2.*"
        r"cannot be read exactly",
    ) as raised:
        list_window(sim.fetch, WHOLE_DAY)
    assert isinstance(raised.value, HappyTalkResponseError)
    assert raised.value.day == "2024-03-01"
    assert len(sim.fetches) == 3 + 3, "two passes, then the error: no answer asked in vain"


def test_a_tie_group_larger_than_a_page_fails_the_day():
    sim = SimulatedList(tied([10, 120, 10]), ties=random.Random(3))
    with pytest.raises(UnreadableDayError, match="has 120 rooms opened at 2024-03-01 01:01:00"):
        list_window(sim.fetch, WHOLE_DAY)


def test_a_large_tie_group_in_a_steady_order_is_read_without_an_answer_of_its_own():
    sim = SimulatedList(tied([10, 120, 10]))
    day = list_window(sim.fetch, WHOLE_DAY)
    assert [room["id"] for room in day.rooms] == sim.first
    assert day.tie_reads == 0


def test_a_group_no_page_holds_oldest_first_is_asked_newest_first():
    # 300 rooms; 44 at positions 7..50: no page of at most 50 holds positions 6..51, but
    # newest first they are 249..292, and page 6 of 49 (245..293) holds 248..293.
    sizes = [*[1] * 7, 44, *[1] * 249]
    sim = SimulatedList(tied(sizes), ties=random.Random(4))
    day = list_window(sim.fetch, WHOLE_DAY)
    assert [room["id"] for room in day.rooms] == sim.first
    assert sim.asked[12:] == [(6, 49, "desc")]


def test_a_tie_read_that_finds_the_list_changed_pages_the_day_again():
    sim = SimulatedList(tied(ACROSS_PAGES), ties=random.Random(5))

    def one_more_in_the_first_tie(sim: SimulatedList) -> None:
        if len(sim.fetches) == 12:  # after two passes, before the first tie read
            sim.join(sim.rooms[45]["reg_date"])

    sim.between = one_more_in_the_first_tie
    day = list_window(sim.fetch, WHOLE_DAY)
    assert day.passes >= 3
    assert sim.joined <= {room["id"] for room in day.rooms}
    assert set(sim.first) <= {room["id"] for room in day.rooms}


@pytest.mark.parametrize("shuffled", [False, True], ids=["steady", "shuffled"])
def test_a_join_that_pushes_a_tied_room_onto_the_next_page_cannot_mask_a_leave(shuffled):
    """The masking of test_a_room_present_throughout_is_lost_when_..., r045..r054 tied.

    The join pushes r049, of a tie across pages 1 and 2, onto page 2: listed twice, which the
    tie could explain. The group's count (11 listed, 10 there) shows the join.
    """
    rooms = numbered(102)
    for room in rooms[45:55]:
        room["reg_date"] = rooms[45]["reg_date"]
    changes: dict[int, list[Change]] = {
        1: [join_at(0)],
        2: [leave("n001"), leave("r099")],
        4: [join_at(0)],
        5: [leave("n002")],
    }
    sim = SimulatedList(rooms, script(changes), ties=random.Random(6) if shuffled else None)
    listed = result_ids(sim)

    assert "r100" in sim.throughout()
    assert "r100" in listed


def test_a_page_that_repeats_the_one_before_ends_the_day_at_once():
    """A HappyTalk that ignores `page`, without total_count, would be asked 10,000 times."""
    rooms = numbered(50)
    asked: list[int] = []

    def fetch(page: int, limit: int, order: Order) -> RoomListPage:
        asked.append(page)
        return RoomListPage([dict(room) for room in rooms], None)

    with pytest.raises(
        UnreadableDayError,
        match=r"2024-03-01 answered page 2 with the same 50 rooms as page 1, so it cannot",
    ):
        list_window(fetch, WHOLE_DAY)
    assert asked == [1, 2]


def test_a_page_in_a_new_order_of_the_same_rooms_as_the_one_before_ends_the_day_too():
    rooms = tied([50])
    shuffle = random.Random(7)

    def fetch(page: int, limit: int, order: Order) -> RoomListPage:
        shown = [dict(room) for room in rooms]
        shuffle.shuffle(shown)
        return RoomListPage(shown, 500)

    with pytest.raises(UnreadableDayError, match="same 50 rooms as page 1"):
        list_window(fetch, WHOLE_DAY)


@dataclass(frozen=True)
class JoinTie:
    """A new room opened in the same second as the room at `position` joins."""

    position: int


def apply_with_ties(sim: SimulatedList, change: Leave | Join | JoinTie) -> None:
    if isinstance(change, JoinTie) and sim.rooms:
        sim.join(sim.rooms[change.position % len(sim.rooms)]["reg_date"])
    elif not isinstance(change, JoinTie):
        apply(sim, change)


MOST_TIED = 15  # rooms a generated group holds: with joins, most fit one answer (23 always)
tied_days = st.lists(st.tuples(seconds_of_the_day, st.integers(1, MOST_TIED)), max_size=60).map(
    lambda groups: [
        {"id": f"r{i:03d}", "reg_date": wall_clock(second)}
        for i, second in enumerate(s for s, size in groups for _ in range(size))
    ][:300]
)
tie_changes = st.one_of(changes, st.builds(JoinTie, st.integers(0, 299)))
tie_scripts = st.lists(st.lists(tie_changes, max_size=3), max_size=6)


def fits_one_answer(sim: SimulatedList) -> bool:
    """Whether every group of one second in the list is small enough for any alignment."""
    seconds = [room["reg_date"] for room in sim.rooms]
    return all(seconds.count(second) <= 23 for second in set(seconds))


@settings(max_examples=200, deadline=None)
@given(tied_days, windows, tie_scripts, st.randoms(use_true_random=False))
@example(  # ACROSS_PAGES, unchanged
    tied(ACROSS_PAGES), WHOLE_DAY, [], random.Random(0)
)
def test_ties_in_any_order_lose_no_room_while_rooms_join_and_leave(rooms, window, script_, order):
    def between(sim: SimulatedList) -> None:
        done = len(sim.fetches)
        if done <= len(script_):
            for change in script_[done - 1]:
                apply_with_ties(sim, change)

    sim = SimulatedList(rooms, between, ties=order)
    try:
        day = list_window(sim.fetch, window)
    except UnreadableDayError as unreadable:
        problem = str(unreadable)
    else:
        assert_complete(sim, window, day.rooms)
        assert day.strays == 0
        assert day.requests == len(sim.fetches)
        # Each pass at most 7 pages (300 rooms and 18 joins), and at most a tie read a page.
        assert len(sim.fetches) <= room_list.MAX_PASSES * 2 * 8
        return
    assert "more than one answer" in problem, "changes stop: the passes come to agree"
    assert not fits_one_answer(sim)


@settings(max_examples=60, deadline=None)
@given(tied_days, windows, st.randoms(use_true_random=False), st.randoms(use_true_random=False))
def test_ties_in_any_order_in_a_list_that_keeps_changing_are_an_error_or_complete(
    rooms, window, order, chance
):
    def between(sim: SimulatedList) -> None:
        change = chance.choice([Leave, Join, JoinTie])
        apply_with_ties(sim, change(chance.randrange(300 if change is not Join else 86_400)))

    sim = SimulatedList(rooms, between, ties=order)
    try:
        day = list_window(sim.fetch, window)
    except UnreadableDayError:
        return
    assert_complete(sim, window, day.rooms)
