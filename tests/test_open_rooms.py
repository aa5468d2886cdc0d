"""The open-room rule: which rooms a stream's progress asks again, and when they leave it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tap_happytalk.progress import Bounds, Pending, Progress, Unit, Why
from tap_happytalk.streams import open_rooms
from tap_happytalk.streams.open_rooms import is_closed

from .test_progress import instants  # aware instants in any offset, shared

pytestmark = pytest.mark.timeout(60)

KST = dt.timezone(dt.timedelta(hours=9))
GRACE = dt.timedelta(days=1)
BOUNDS = Bounds(failed_for=dt.timedelta(days=7), open_for=dt.timedelta(days=30), grace=GRACE)
OPENED = "2024-03-01T10:00:00+09:00"
CLOSED = "2024-03-01T10:30:00+09:00"


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def record(ident="100", *, opened=OPENED, closed=None, status="1", vote=None) -> dict[str, Any]:
    """A room as the tap sends it: RFC 3339 times in Korea time, HappyTalk's text statuses."""
    return {
        "id": ident,
        "reg_date": opened,
        "complate_date": closed,
        "status": status,
        "vote_score": vote,
    }


def room(ident="100", opened=OPENED) -> Unit:
    return Unit.room(ident, at(opened))


def holding(*idents: str, opened=OPENED, closed=None) -> Progress:
    """A progress holding these rooms as open, first read when they opened."""
    progress = Progress()
    for ident in idents:
        read_at = at(opened)
        progress.set_aside(room(ident, opened), Why.OPEN, read_at, bounds=BOUNDS, closed=closed)
    return progress


def observe(progress: Progress, rec: dict[str, Any], read_at: dt.datetime, *, track=False):
    open_rooms.observe(progress, rec, read_at, BOUNDS, track=track)


def closing(progress: Progress, ident="100") -> dt.datetime | None:
    """When the progress holds the room closed (None: held as open)."""
    pending = progress.get(room(ident))
    assert pending is not None, f"room {ident} is held"
    return pending.closed


def ids(pendings: list[Pending]) -> list[str]:
    return [pending.unit.id for pending in pendings]


# Joining the progress


def test_an_open_room_joins_as_open_when_tracked():
    progress = Progress()
    observe(progress, record(), at(CLOSED), track=True)
    assert progress.pending() == [Pending(room(), Why.OPEN, at(CLOSED))]


def test_an_open_room_of_a_day_done_before_does_not_join():
    progress = Progress()
    observe(progress, record(), at(CLOSED), track=False)
    assert len(progress) == 0


def test_a_room_already_held_is_updated_even_when_not_tracked():
    progress = holding("100")
    observe(progress, record(status="2", closed=CLOSED), at(CLOSED))
    assert closing(progress) == at(CLOSED)


def test_a_room_read_again_and_still_open_counts_one_more_try_since_it_was_first_read():
    progress = holding("100")
    observe(progress, record(), at(CLOSED))
    observe(progress, record(), at(CLOSED) + GRACE)
    assert progress.pending() == [Pending(room(), Why.OPEN, at(OPENED), tries=2)]


def test_a_room_seen_closed_that_opens_again_is_held_as_open():
    progress = holding("100", closed=at(CLOSED))
    observe(progress, record(status="1"), at(CLOSED))
    assert closing(progress) is None


@pytest.mark.parametrize("track", [True, False])
def test_a_settled_room_not_held_stays_out(track):
    progress = Progress()
    observe(progress, record(status="2", closed=CLOSED, vote="5"), at(CLOSED), track=track)
    assert len(progress) == 0
    assert progress.given_up == {}


# Settling


@pytest.mark.parametrize(
    ("status", "closed"),
    [("2", True), ("3", True), ("4", True), ("1", False), ("5", False), (None, False), (2, True)],
)
def test_closed_means_done_deleted_or_ended_by_the_chatbot(status, closed):
    assert is_closed(record(status=status)) is closed


@pytest.mark.parametrize("status", ["2", "3", "4"])
def test_a_closed_rated_room_settles_at_once_and_is_not_given_up(status):
    progress = holding("100")
    observe(progress, record(status=status, closed=CLOSED, vote="5"), at(CLOSED), track=True)
    assert len(progress) == 0
    assert progress.given_up == {}
    assert progress.take_given_up() == []


def test_an_open_rated_room_does_not_settle():
    progress = Progress()
    observe(progress, record(status="1", vote="5"), at(CLOSED), track=True)
    assert closing(progress) is None


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
    progress = holding("100")
    observe(progress, record(status="2", closed=CLOSED), at(CLOSED) + read_after_closing)
    assert (progress.get(room()) is None) is settled
    if not settled:
        assert closing(progress) == at(CLOSED)


def test_an_empty_vote_score_is_no_rating():
    progress = Progress()
    observe(progress, record(status="2", closed=CLOSED, vote=""), at(CLOSED), track=True)
    assert closing(progress) == at(CLOSED)


def test_a_closed_room_without_complate_date_counts_from_when_first_seen_closed():
    first_seen = at("2024-03-02T09:00:00+09:00")
    progress = holding("100")

    observe(progress, record(status="2"), first_seen)
    assert closing(progress) == first_seen

    observe(progress, record(status="2"), first_seen + GRACE - dt.timedelta(seconds=1))
    assert closing(progress) == first_seen, "still the first sight"

    observe(progress, record(status="2"), first_seen + GRACE)
    assert progress.get(room()) is None


def test_when_a_room_was_first_seen_closed_survives_the_state():
    first_seen = at("2024-03-02T09:00:00+09:00")
    before = Progress()
    observe(before, record(status="3"), first_seen, track=True)

    after = Progress.from_state(before.to_state(), None, first_seen + GRACE)
    assert closing(after) == first_seen
    observe(after, record(status="3"), first_seen + GRACE - dt.timedelta(seconds=1))
    assert after.get(room()) is not None
    observe(after, record(status="3"), first_seen + GRACE)
    assert after.get(room()) is None


def test_a_complate_date_sent_later_replaces_the_first_sight():
    first_seen = at("2024-03-05T09:00:00+09:00")
    progress = holding("100", closed=first_seen)
    observe(progress, record(status="2", closed=CLOSED), first_seen)
    assert progress.get(room()) is None, "closed 10:30 on 1 March, read more than a grace later"


# Reading again


def test_open_rooms_are_always_due_and_closed_ones_once_their_grace_is_over():
    now = at("2024-03-03T12:00:00+09:00")
    progress = Progress()
    observe(progress, record("open", opened="2024-03-03T11:59:59+09:00"), now, track=True)
    over = record("over", status="2", closed="2024-03-02T12:00:01+09:00")
    running = record("running", status="2", closed="2024-03-02T12:00:02+09:00")
    observe(progress, over, now - dt.timedelta(seconds=1), track=True)
    observe(progress, running, now - dt.timedelta(seconds=1), track=True)

    assert ids(progress.due(now + dt.timedelta(seconds=1), BOUNDS)) == ["over", "open"]
    assert ids(progress.due(now + dt.timedelta(seconds=2), BOUNDS)) == ["over", "running", "open"]
    assert len(progress) == 3, "due only tells, it takes nothing out"


# Giving up


def test_rooms_opened_open_for_ago_or_more_are_given_up_oldest_first():
    now = at("2024-03-31T10:00:00+09:00")
    progress = Progress()
    for ident, opened in [
        ("younger", "2024-03-01T10:00:01+09:00"),
        ("exactly", OPENED),
        ("older", "2024-02-15T08:00:00+09:00"),
    ]:
        observe(progress, record(ident, opened=opened), at(opened), track=True)

    progress.expire(now, BOUNDS)

    assert ids(progress.take_given_up()) == ["older", "exactly"]
    assert ids(progress.pending()) == ["younger"]
    assert progress.given_up == {Why.OPEN: 2}


def test_an_open_for_of_zero_gives_up_every_open_room():
    now = at("2024-03-02T10:00:00+09:00")
    progress = Progress()
    observe(progress, record("a"), now, track=True)
    observe(progress, record("b", opened="2024-03-02T10:00:00+09:00"), now, track=True)
    progress.expire(now, Bounds(failed_for=GRACE, open_for=dt.timedelta(0)))
    assert ids(progress.take_given_up()) == ["a", "b"]
    assert len(progress) == 0


def test_past_the_cap_the_rooms_opened_longest_ago_are_given_up():
    bounds = Bounds(failed_for=GRACE, open_for=dt.timedelta(days=365), most=3)
    now = at("2024-03-31T10:00:00+09:00")
    progress = Progress()
    young = [record(f"young{day}", opened=f"2024-03-{day:02d}T10:00:00+09:00") for day in (20, 21)]
    stale = record("stale", opened="2024-01-01T10:00:00+09:00")
    later = [record(f"young{day}", opened=f"2024-03-{day:02d}T10:00:00+09:00") for day in (22, 23)]
    for rec in [*young, stale, *later]:
        open_rooms.observe(progress, rec, now, bounds, track=True)

    assert ids(progress.take_given_up()) == ["stale", "young20"]
    assert ids(progress.pending()) == ["young21", "young22", "young23"]


# Missing rooms


def test_a_room_missing_once_is_asked_again_and_given_up_when_missing_twice():
    opened = at(OPENED)
    progress = holding("a")

    assert open_rooms.missed(progress, room("a"), opened, BOUNDS, track=False) is False
    assert progress.pending(Why.MISSING) == [Pending(room("a"), Why.MISSING, opened)]
    progress = Progress.from_state(progress.to_state(), None, opened)
    assert ids(progress.pending(Why.MISSING)) == ["a"], "the state remembers the first miss"

    assert open_rooms.missed(progress, room("a"), opened, BOUNDS, track=False) is True
    assert len(progress) == 0
    assert progress.given_up == {Why.MISSING: 1}
    assert ids(progress.take_given_up()) == ["a"]


def test_a_room_missing_when_first_listed_joins_only_when_tracked():
    progress = Progress()
    assert open_rooms.missed(progress, room("b"), at(OPENED), BOUNDS, track=False) is False
    assert len(progress) == 0
    open_rooms.missed(progress, room("b"), at(OPENED), BOUNDS, track=True)
    assert ids(progress.pending(Why.MISSING)) == ["b"]


def test_a_missing_room_read_again_is_no_longer_missing():
    read_at = at(OPENED) + dt.timedelta(hours=1)
    progress = Progress()
    open_rooms.missed(progress, room("c"), at(OPENED), BOUNDS, track=True)
    observe(progress, record("c"), read_at)
    assert progress.pending() == [Pending(room("c"), Why.OPEN, read_at)]


def test_a_room_missing_twice_but_not_in_a_row_is_kept():
    progress = holding("a")
    open_rooms.missed(progress, room("a"), at(OPENED), BOUNDS, track=False)
    observe(progress, record("a"), at(CLOSED))
    assert open_rooms.missed(progress, room("a"), at(CLOSED), BOUNDS, track=False) is False
    assert ids(progress.pending(Why.MISSING)) == ["a"]
    assert progress.given_up == {}


def test_a_missing_room_is_kept_whatever_its_age():
    progress = holding("a")
    open_rooms.missed(progress, room("a"), at(OPENED), BOUNDS, track=False)
    progress.expire(at(OPENED) + 10 * BOUNDS.open_for, BOUNDS)
    assert ids(progress.pending(Why.MISSING)) == ["a"]
    assert progress.given_up == {}


def test_a_closed_room_that_goes_missing_keeps_its_closing_time():
    progress = holding("100", closed=at(CLOSED))
    open_rooms.missed(progress, room(), at(CLOSED), BOUNDS, track=False)
    assert progress.pending() == [Pending(room(), Why.MISSING, at(CLOSED), closed=at(CLOSED))]


def test_a_missing_room_of_release_1_3_is_given_up_when_missed_again():
    state = {"open_rooms": [{"id": "a", "reg_date": OPENED, "missing": True}]}
    progress = Progress.from_state(state, None, at(CLOSED))
    assert open_rooms.missed(progress, room("a"), at(CLOSED), BOUNDS, track=False) is True
    assert progress.given_up == {Why.MISSING: 1}


# Any rooms

room_records = st.builds(
    lambda ident, opened, status, closed_after, vote: record(
        ident,
        opened=opened.isoformat(),
        status=status,
        closed=None if closed_after is None else (opened + closed_after).isoformat(),
        vote=vote,
    ),
    st.text(alphabet="ab1", min_size=1, max_size=2),  # the same room read more than once
    instants,
    st.sampled_from(["0", "1", "2", "3", "4", "5", None]),
    st.none() | st.integers(0, 3 * 24 * 60).map(lambda minutes: dt.timedelta(minutes=minutes)),
    st.sampled_from([None, "", "1", "5"]),
)


def unsettled(rec: dict[str, Any], read_at: dt.datetime) -> bool:
    if not is_closed(rec):
        return True
    closed = at(rec["complate_date"]) if rec["complate_date"] else read_at
    return rec["vote_score"] in (None, "") and read_at < closed + GRACE


@settings(max_examples=200, deadline=None)
@given(st.lists(room_records, max_size=20), instants)
def test_tracked_rooms_held_are_the_unsettled_ones_and_round_trip_the_state(
    records: list[dict[str, Any]], read_at: dt.datetime
):
    bounds = Bounds(failed_for=GRACE, grace=GRACE, most=1_000)
    progress = Progress()
    for rec in records:
        open_rooms.observe(progress, rec, read_at, bounds, track=True)

    last = {rec["id"]: rec for rec in records}
    expected = {ident for ident, rec in last.items() if unsettled(rec, read_at)}
    assert set(ids(progress.pending())) == expected
    assert all(pending.why is Why.OPEN for pending in progress.pending())

    again = Progress.from_state(progress.to_state(), None, read_at)
    assert again.pending() == progress.pending()
    assert again.to_state() == progress.to_state()
    starts = [pending.unit.start for pending in again.pending()]
    assert starts == sorted(starts), "oldest first"
