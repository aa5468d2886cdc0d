"""The open-room rule: which rooms a stream's state keeps reading again, and when they leave it."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tap_happytalk.streams import open_rooms
from tap_happytalk.streams.open_rooms import OpenRoom, OpenRoomSet, is_closed

KST = dt.timezone(dt.timedelta(hours=9))

pytestmark = pytest.mark.timeout(60)

GRACE = dt.timedelta(days=1)
OPENED = "2024-03-01T10:00:00+09:00"
CLOSED = "2024-03-01T10:30:00+09:00"


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def record(ident="100", *, opened=OPENED, closed=None, status="1", vote=None):
    """A room as the tap sends it: RFC 3339 times in Korea time, HappyTalk's text statuses."""
    return {
        "id": ident,
        "reg_date": opened,
        "complate_date": closed,
        "status": status,
        "vote_score": vote,
    }


def room(ident, opened, closed=None):
    return OpenRoom(at(opened), ident, None if closed is None else at(closed))


def ids(rooms):
    return [one.id for one in rooms]


# Joining the set


def test_an_open_room_joins_when_added():
    rooms = OpenRoomSet()
    rooms.observe(record(), at(CLOSED), GRACE, add=True)
    assert rooms.rooms() == [room("100", OPENED)]


def test_an_open_room_of_a_day_done_before_does_not_join():
    rooms = OpenRoomSet()
    rooms.observe(record(), at(CLOSED), GRACE, add=False)
    assert len(rooms) == 0
    assert "100" not in rooms


def test_a_room_already_held_is_updated_even_when_not_added():
    rooms = OpenRoomSet([room("100", OPENED)])
    rooms.observe(record(status="2", closed=CLOSED), at(CLOSED), GRACE, add=False)
    assert rooms.rooms() == [room("100", OPENED, CLOSED)]


def test_a_room_seen_closed_that_opens_again_is_held_as_open():
    rooms = OpenRoomSet([room("100", OPENED, CLOSED)])
    rooms.observe(record(status="1"), at(CLOSED), GRACE, add=False)
    assert rooms.rooms() == [room("100", OPENED)]


@pytest.mark.parametrize("add", [True, False])
def test_a_settled_room_not_held_stays_out(add):
    rooms = OpenRoomSet()
    rooms.observe(record(status="2", closed=CLOSED, vote="5"), at(CLOSED), GRACE, add=add)
    assert len(rooms) == 0


# Settling


@pytest.mark.parametrize(
    ("status", "closed"),
    [("2", True), ("3", True), ("4", True), ("1", False), ("5", False), (None, False), (2, True)],
)
def test_closed_means_done_deleted_or_ended_by_the_chatbot(status, closed):
    assert is_closed(record(status=status)) is closed


@pytest.mark.parametrize("status", ["2", "3", "4"])
def test_a_closed_rated_room_settles_at_once(status):
    rooms = OpenRoomSet([room("100", OPENED)])
    rooms.observe(record(status=status, closed=CLOSED, vote="5"), at(CLOSED), GRACE, add=True)
    assert "100" not in rooms


def test_an_open_rated_room_does_not_settle():
    rooms = OpenRoomSet()
    rooms.observe(record(status="1", vote="5"), at(CLOSED), GRACE, add=True)
    assert rooms.rooms() == [room("100", OPENED)]


@pytest.mark.parametrize(
    ("read_after_closing", "settled"),
    [
        (dt.timedelta(0), False),
        (GRACE - dt.timedelta(seconds=1), False),
        (GRACE, True),
        (GRACE + dt.timedelta(days=3), True),
    ],
)
def test_a_closed_unrated_room_settles_once_read_a_grace_after_it_closed(
    read_after_closing, settled
):
    rooms = OpenRoomSet([room("100", OPENED)])
    read_at = at(CLOSED) + read_after_closing
    rooms.observe(record(status="2", closed=CLOSED), read_at, GRACE, add=True)
    assert ("100" not in rooms) is settled
    if not settled:
        assert rooms.rooms() == [room("100", OPENED, CLOSED)]


def test_an_empty_vote_score_is_no_rating():
    rooms = OpenRoomSet()
    rooms.observe(record(status="2", closed=CLOSED, vote=""), at(CLOSED), GRACE, add=True)
    assert rooms.rooms() == [room("100", OPENED, CLOSED)]


def test_a_closed_room_without_complate_date_counts_from_when_first_seen_closed():
    first_seen = at("2024-03-02T09:00:00+09:00")
    rooms = OpenRoomSet([room("100", OPENED)])

    rooms.observe(record(status="2"), first_seen, GRACE, add=False)
    assert rooms.rooms() == [OpenRoom(at(OPENED), "100", first_seen)]

    almost = first_seen + GRACE - dt.timedelta(seconds=1)
    rooms.observe(record(status="2"), almost, GRACE, add=False)
    assert rooms.rooms() == [OpenRoom(at(OPENED), "100", first_seen)], "still the first sight"

    rooms.observe(record(status="2"), first_seen + GRACE, GRACE, add=False)
    assert "100" not in rooms


def test_when_a_room_was_first_seen_closed_survives_the_state():
    first_seen = at("2024-03-02T09:00:00+09:00")
    before = OpenRoomSet()
    before.observe(record(status="3"), first_seen, GRACE, add=True)

    after = OpenRoomSet.from_state(before.to_state())
    assert after.rooms() == [OpenRoom(at(OPENED), "100", first_seen)]
    after.observe(
        record(status="3"), first_seen + GRACE - dt.timedelta(seconds=1), GRACE, add=False
    )
    assert "100" in after
    after.observe(record(status="3"), first_seen + GRACE, GRACE, add=False)
    assert "100" not in after


def test_a_complate_date_sent_later_replaces_the_first_sight():
    first_seen = at("2024-03-05T09:00:00+09:00")
    rooms = OpenRoomSet([OpenRoom(at(OPENED), "100", first_seen)])
    rooms.observe(record(status="2", closed=CLOSED), first_seen, GRACE, add=False)
    assert "100" not in rooms, "closed 10:30 on 1 March, read more than a grace later"


# Reading again


def test_open_rooms_are_always_due_and_closed_ones_once_their_grace_is_over():
    now = at("2024-03-03T12:00:00+09:00")
    open_now = room("open", "2024-03-03T11:59:59+09:00")
    grace_over = room("over", OPENED, "2024-03-02T12:00:00+09:00")
    grace_running = room("running", OPENED, "2024-03-02T12:00:01+09:00")
    rooms = OpenRoomSet([open_now, grace_over, grace_running])

    assert rooms.due(now, GRACE) == [grace_over, open_now]
    assert rooms.due(now + dt.timedelta(seconds=1), GRACE) == [grace_over, grace_running, open_now]
    assert len(rooms) == 3, "due only tells, it takes nothing out"


# Giving up


def test_rooms_opened_recheck_ago_or_more_are_given_up_oldest_first():
    now = at("2024-03-31T10:00:00+09:00")
    recheck = dt.timedelta(days=30)
    exactly = room("exactly", OPENED)
    older = room("older", "2024-02-15T08:00:00+09:00")
    younger = room("younger", "2024-03-01T10:00:01+09:00")
    rooms = OpenRoomSet([younger, exactly, older])

    assert rooms.give_up(now, recheck) == [older, exactly]
    assert rooms.rooms() == [younger]


def test_a_recheck_of_zero_gives_up_every_room():
    rooms = OpenRoomSet([room("a", OPENED), room("b", "2024-03-02T10:00:00+09:00")])
    given_up = rooms.give_up(at("2024-03-02T10:00:00+09:00"), dt.timedelta(0))
    assert ids(given_up) == ["a", "b"]
    assert len(rooms) == 0


def test_past_the_bound_the_rooms_opened_longest_ago_are_given_up(monkeypatch):
    monkeypatch.setattr(open_rooms, "MAX_OPEN_ROOMS", 3)
    now = at("2024-03-31T10:00:00+09:00")
    stale = room("stale", "2024-01-01T10:00:00+09:00")
    young = [room(f"young{day}", f"2024-03-{day:02d}T10:00:00+09:00") for day in range(20, 25)]
    rooms = OpenRoomSet([*reversed(young), stale])

    given_up = rooms.give_up(now, dt.timedelta(days=30))

    assert ids(given_up) == ["stale", "young20", "young21"]
    assert ids(rooms.rooms()) == ["young22", "young23", "young24"]
    assert rooms.give_up(now, dt.timedelta(days=30)) == [], "at the bound nothing more goes"


def test_forget_leaves_a_room_out_and_ignores_one_not_held():
    rooms = OpenRoomSet([room("a", OPENED), room("b", OPENED)])
    rooms.forget("a")
    rooms.forget("never held")
    assert ids(rooms.rooms()) == ["b"]


# State


def test_the_state_lists_rooms_oldest_first_with_their_own_times():
    rooms = OpenRoomSet(
        [
            room("late", "2024-03-02T10:00:00+09:00"),
            room("b", OPENED, CLOSED),
            room("a", OPENED),
        ]
    )
    assert rooms.to_state() == [
        {"id": "a", "reg_date": OPENED},
        {"id": "b", "reg_date": OPENED, "closed_at": CLOSED},
        {"id": "late", "reg_date": "2024-03-02T10:00:00+09:00"},
    ]


@pytest.mark.parametrize("entries", [None, {}, "[]", {"id": "a", "reg_date": OPENED}])
def test_a_state_that_is_no_list_holds_no_rooms(entries):
    assert len(OpenRoomSet.from_state(entries)) == 0


def test_entries_that_describe_no_room_are_left_out():
    good = {"id": "good", "reg_date": OPENED}
    entries = [
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
        good,
    ]
    assert OpenRoomSet.from_state(entries).to_state() == [good]


@pytest.mark.parametrize("closed_at", ["2024-03-01T10:30:00", "soon", 5, None])
def test_a_room_with_an_unusable_closing_time_is_kept_as_open(closed_at):
    rooms = OpenRoomSet.from_state([{"id": "a", "reg_date": OPENED, "closed_at": closed_at}])
    assert rooms.rooms() == [room("a", OPENED)]


def test_a_later_entry_for_the_same_room_replaces_an_earlier():
    rooms = OpenRoomSet.from_state(
        [{"id": "a", "reg_date": OPENED}, {"id": "a", "reg_date": OPENED, "closed_at": CLOSED}]
    )
    assert rooms.rooms() == [room("a", OPENED, CLOSED)]


offsets = st.integers(-12 * 60, 14 * 60).map(
    lambda minutes: dt.timezone(dt.timedelta(minutes=minutes))
)
instants = st.builds(
    lambda moment, zone: moment.replace(tzinfo=zone),
    st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 1, 1)),
    offsets,
)
open_room_lists = st.lists(
    st.builds(OpenRoom, instants, st.text(min_size=1, max_size=8), st.none() | instants),
    max_size=20,
)


@settings(max_examples=200, deadline=None)
@given(open_room_lists)
def test_the_state_round_trips_and_is_ordered_oldest_first(rooms):
    held = OpenRoomSet(rooms)
    state = held.to_state()
    again = OpenRoomSet.from_state(state)

    assert again.rooms() == held.rooms()
    assert again.to_state() == state
    assert [at(entry["reg_date"]) for entry in state] == sorted(
        at(entry["reg_date"]) for entry in state
    )
    assert {entry["id"] for entry in state} == {one.id for one in rooms}


def test_a_room_missing_once_stays_marked_and_leaves_when_missing_twice():
    opened = dt.datetime(2024, 3, 1, 10, tzinfo=KST)
    rooms = OpenRoomSet([OpenRoom(opened, "a")])
    assert rooms.missed("a", opened, add=False) is False
    (kept,) = rooms.rooms()
    assert kept.missing
    assert OpenRoomSet.from_state(rooms.to_state()).rooms() == [kept]
    assert rooms.missed("a", opened, add=False) is True
    assert "a" not in rooms


def test_a_room_missing_when_first_listed_joins_only_when_asked_to():
    opened = dt.datetime(2024, 3, 1, 10, tzinfo=KST)
    rooms = OpenRoomSet()
    rooms.missed("b", opened, add=False)
    assert "b" not in rooms
    rooms.missed("b", opened, add=True)
    assert [room.id for room in rooms.rooms() if room.missing] == ["b"]


def test_a_missing_room_read_again_is_no_longer_missing():
    opened = dt.datetime(2024, 3, 1, 10, tzinfo=KST)
    rooms = OpenRoomSet([OpenRoom(opened, "c", missing=True)])
    record = {"id": "c", "reg_date": opened.isoformat(), "status": "1"}
    rooms.observe(record, opened + dt.timedelta(hours=1), dt.timedelta(minutes=60), add=False)
    assert [room.missing for room in rooms.rooms()] == [False]
