"""Rooms opened in the same second, listed in a different order on every page, end to end.

HappyTalk sorts a day's room list by `reg_date` alone, to the second; a SQL database is free to
order rooms with equal keys differently from one page request to the next. The local server
does so with `shuffle_ties=True`. TRUST line 12: nothing lost, no run failed, all of them read
in one run. And a HappyTalk that answers the same page whatever `page` asks (without a
`total_count`) costs a few requests, not ten thousand.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import pytest

from local_happytalk.chats import CHAT_ROOM_LISTS_PATH, sample_rooms
from local_happytalk.server import Fault
from tap_happytalk.errors import INCOMPLETE_EXIT_CODE

from .conftest import TapRun, catalog_selecting, run_tap, write_json
from .test_chats import (
    CHATS,
    DAY1,
    MESSAGES,
    ROOMS,
    config_for,
    expected,
    sent,
    serve,
    warnings,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from local_happytalk.server import LocalHappyTalk

pytestmark = pytest.mark.timeout(300)

DAY2 = DAY1 + dt.timedelta(days=1)
DAY3 = DAY1 + dt.timedelta(days=2)

# Positions (from 0, in the day's order) of rooms opened in the same second, first..last.
# Pages hold 50 rooms: most groups straddle a page boundary, two lie inside one page.
TIES_OF_DAY1 = ((0, 3), (45, 54), (60, 75), (97, 101), (140, 170), (199, 200), (246, 253))
TIES_OF_DAY2 = ((48, 51), (100, 140), (149, 150), (185, 215), (290, 299))


def tie(rooms: Sequence[dict[str, Any]], groups: Sequence[tuple[int, int]]) -> None:
    """Open each group of `rooms` (one day's, oldest first) in the second of its first room.

    Only earlier: every message still follows its room's opening.
    """
    for first, last in groups:
        second = rooms[first]["chat"]["reg_date"]
        for room in rooms[first : last + 1]:
            room["chat"]["reg_date"] = second


def tied_days() -> list[dict[str, Any]]:
    """Two days of 300 rooms, many opened in the same second across page boundaries."""
    rooms = sample_rooms(DAY1, 2, 300, 3)
    tie(rooms[:300], TIES_OF_DAY1)
    tie(rooms[300:], TIES_OF_DAY2)
    return rooms


def list_requests(server: LocalHappyTalk, day: dt.date) -> list[Any]:
    return [r for r in server.requests if r.path == CHAT_ROOM_LISTS_PATH and r.sdate == str(day)]


def serve_shuffled(rooms: Sequence[dict[str, Any]]) -> LocalHappyTalk:
    return serve(rooms, shuffle_ties=True)


def run_chats(tmp_path: Path, server: LocalHappyTalk, days: int, timeout: float = 120) -> TapRun:
    """The tap, both chat streams selected, over `days` days from DAY1."""
    catalog = write_json(tmp_path / "catalog.json", catalog_selecting(CHATS))
    config = config_for(server, days=days)
    return run_tap(tmp_path, config, args=("--catalog", str(catalog)), timeout=timeout)


def test_the_server_lists_rooms_of_one_second_in_a_new_order_on_every_request():
    """The premise: two requests for the same page disagree, and a page can miss a room."""
    with serve_shuffled(tied_days()) as server:
        body = {"sdate": str(DAY1), "edate": str(DAY1), "sort_value": "asc", "limit": 50}
        orders = {
            tuple(r["id"] for r in server.chats.room_list({**body, "page": 1})["data"]["chat_list"])
            for _ in range(5)
        }
        pages = [
            server.chats.room_list({**body, "page": page})["data"]["chat_list"]
            for page in range(1, 7)
        ]
        held = {room["chat"]["id"] for room in server.chats.rooms()[:300]}

    assert len(orders) > 1
    assert all(len(page) == 50 for page in pages)
    assert len({r["id"] for page in pages for r in page}) < len(held), "seen twice, or missed"


def test_a_day_of_rooms_sharing_seconds_across_pages_is_read_whole_in_one_run(tmp_path):
    with serve_shuffled(tied_days()) as server:
        run = run_chats(tmp_path, server, days=2)
        want = expected(server)
        asked = {day: list_requests(server, day) for day in (DAY1, DAY2)}

    assert run.returncode == 0, run.stderr
    assert len(want.rooms) == 600
    assert sent(run, ROOMS) == want.rooms  # each once, in (reg_date, id) order, as held
    assert sent(run, MESSAGES) == want.all_messages
    for day, requests in asked.items():
        # Two passes of 7 pages (the last one empty), and a few answers for the ties.
        assert 14 <= len(requests) < 40, (day, [(r.page_number, r.limit) for r in requests])
        assert {(r.sort_key, r.status) for r in requests} == {("reg_date", 99)}


def repeating(server: LocalHappyTalk, day: dt.date) -> None:
    """Make `day`'s room list answer its first page whatever page is asked, with no count."""
    body = {"sdate": str(day), "edate": str(day), "sort_value": "asc", "limit": 50, "page": 1}
    answer = server.chats.room_list(body)
    del answer["data"]["total_count"]
    assert len(answer["data"]["chat_list"]) == 50
    # Enough for the ten thousand pages a pass would otherwise ask.
    text = json.dumps(answer, ensure_ascii=False)
    server.inject(
        Fault("body", status=200, text=text), path=CHAT_ROOM_LISTS_PATH, day=str(day), times=20_000
    )


def test_a_list_that_repeats_its_page_costs_a_few_requests_and_keeps_the_days_before(tmp_path):
    with serve(sample_rooms(DAY1, 3, 60, 3)) as server:
        repeating(server, DAY3)
        run = run_chats(tmp_path, server, days=3, timeout=60)
        want = expected(server)
        asked = len(list_requests(server, DAY3))

    assert asked < 100
    assert str(DAY3) in run.stderr
    days_before = [r for r in want.rooms if r["reg_date"] < f"{DAY3}"]
    assert len(days_before) == 120
    assert [r for r in sent(run, ROOMS) if r["reg_date"] < f"{DAY3}"] == days_before
    assert all(r["reg_date"] < f"{DAY3}" for r in sent(run, ROOMS))


def test_a_day_whose_list_repeats_its_page_is_set_aside_and_the_run_ends_incomplete(tmp_path):
    """The exit code: the other days are read whole, the day is asked again next run."""
    with serve(sample_rooms(DAY1, 3, 60, 3)) as server:
        repeating(server, DAY2)
        run = run_chats(tmp_path, server, days=3, timeout=60)
        want = expected(server)
        asked = len(list_requests(server, DAY2))

    assert run.returncode == INCOMPLETE_EXIT_CODE, run.stderr
    assert asked < 100
    (set_aside,) = [line for line in warnings(run) if "set aside, asked again" in line]
    assert f"rooms of {DAY2} answered page 2 with the same 50 rooms as page 1" in set_aside
    others = [r for r in want.rooms if not r["reg_date"].startswith(str(DAY2))]
    assert len(others) == 120
    assert sent(run, ROOMS) == others
    assert sent(run, MESSAGES) == [m for r in others for m in want.messages[r["id"]]]
