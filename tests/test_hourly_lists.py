"""Hourly runs read a day's room list on from where the last run stopped, end to end over HTTP.

The local server holds a day's rooms up to the first run's end; the rooms of the next hour
open before the next run. Each run is the tap as a subprocess (`end_date` sets where it
stops), STATE carried from one to the next. What is counted: the room-list requests the server
received, and every room sent, across runs.
"""

from __future__ import annotations

import json
import signal
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest

from local_happytalk.chats import CHAT_ROOM_LISTS_PATH, sample_rooms
from local_happytalk.server import Fault

from .conftest import run_until_stopped, write_json
from .test_chats import (
    CHATS,
    DAY1,
    MESSAGES,
    ROOMS,
    catalog_file,
    config_for,
    run_streams,
    sent,
    serve,
)
from .test_chats_hourly import UPGRADE_STATES
from .test_ties import tie

if TYPE_CHECKING:
    from local_happytalk.server import LocalHappyTalk

    from .conftest import TapRun

pytestmark = pytest.mark.timeout(300)

PAGE = 50


def until(hour: int) -> str:
    """DAY1 at `hour` o'clock, as HappyTalk writes a time (and as rooms sort)."""
    return f"{DAY1} {hour:02d}:00:00"


def hourly_config(server: LocalHappyTalk, hour: int) -> dict[str, Any]:
    """A run of DAY1 up to `hour` o'clock, as an hourly run then would stop."""
    return config_for(server, days=1, end_date=f"{DAY1}T{hour:02d}:00:00")


def day_of_rooms(count: int = 600, ties: tuple[tuple[int, int], ...] = ()) -> list[dict[str, Any]]:
    rooms = sample_rooms(DAY1, 1, count, 3)
    tie(rooms, ties)
    return rooms


def opened_before(rooms: list[dict[str, Any]], moment: str) -> list[dict[str, Any]]:
    return [room for room in rooms if room["chat"]["reg_date"] < moment]


def opened_between(rooms: list[dict[str, Any]], first: str, last: str) -> list[dict[str, Any]]:
    return [room for room in rooms if first <= room["chat"]["reg_date"] < last]


def list_requests(server: LocalHappyTalk, since: int = 0) -> list[Any]:
    return [r for r in server.requests[since:] if r.path == CHAT_ROOM_LISTS_PATH]


def room_ids(*runs: TapRun) -> Counter[str]:
    return Counter(record["id"] for run in runs for record in sent(run, ROOMS))


def ids(rooms: list[dict[str, Any]]) -> Counter[str]:
    return Counter(room["chat"]["id"] for room in rooms)


def point_in_list(run: TapRun) -> dict[str, Any] | None:
    entry = run.states[-1]["bookmarks"][ROOMS].get("point_in_list")
    return entry if isinstance(entry, dict) else None


def two_passes(rooms: int) -> int:
    """The list requests of a day of `rooms` read whole: two passes of its pages."""
    return 2 * (rooms // PAGE + 1)


def test_hourly_runs_later_in_the_day_list_only_the_pages_from_where_they_stopped(tmp_path):
    rooms = day_of_rooms()
    with serve(opened_before(rooms, until(15))) as server:
        first = run_streams(tmp_path, hourly_config(server, 15), CHATS)
        first_lists = len(list_requests(server))
        runs = [first]
        later_lists: list[list[Any]] = []
        for hour in (16, 17, 18):
            server.chats.add_rooms(opened_between(rooms, until(hour - 1), until(hour)))
            asked = len(server.requests)
            run = run_streams(
                tmp_path, hourly_config(server, hour), CHATS, state=runs[-1].states[-1]
            )
            later_lists.append(list_requests(server, asked))
            runs.append(run)

    assert all(run.returncode == 0 for run in runs), runs[-1].stderr
    before_15 = len(opened_before(rooms, until(15)))
    assert first_lists == two_passes(before_15)
    where = point_in_list(first)
    assert where is not None
    assert where["rooms_before"] == before_15
    for lists in later_lists:
        assert len(lists) <= 3, [(r.page_number, r.limit) for r in lists]
        assert min(r.page_number * r.limit for r in lists) > before_15 - PAGE
    # Every room up to 18:00 sent once, across the four runs.
    assert room_ids(*runs) == ids(opened_before(rooms, until(18)))


@pytest.mark.parametrize("change", ["deleted", "added"])
def test_a_room_deleted_or_added_earlier_in_the_day_sends_the_run_to_a_full_read(tmp_path, change):
    rooms = day_of_rooms()
    with serve(opened_before(rooms, until(15))) as server:
        first = run_streams(tmp_path, hourly_config(server, 15), CHATS)
        new = opened_between(rooms, until(15), until(16))
        server.chats.add_rooms(new)
        if change == "deleted":
            server.chats.delete_room(opened_before(rooms, until(9))[-1]["chat"]["id"])
        else:
            said = {"id": "9000001", "user_type": "C", "contents": "늦게 보인 상담"}
            server.chats.add_room(
                reg_date=f"{DAY1} 09:00:00",
                id="added" * 6,
                messages=[{**said, "send_date": f"{DAY1} 09:00:05"}],
            )
        asked = len(server.requests)
        second = run_streams(tmp_path, hourly_config(server, 16), CHATS, state=first.states[-1])
        lists = list_requests(server, asked)
        server.chats.add_rooms(opened_between(rooms, until(16), until(17)))
        third = run_streams(tmp_path, hourly_config(server, 17), CHATS, state=second.states[-1])

    assert first.returncode == second.returncode == third.returncode == 0, second.stderr
    # A full read: both passes over every page of the day, as before the point was kept.
    day_then = len(opened_before(rooms, until(16))) + (1 if change == "added" else -1)
    assert len(lists) >= two_passes(day_then) - 1
    assert room_ids(second) == ids(new)
    # It remembers the point anew: the run after reads on from it.
    assert point_in_list(second) is not None
    assert room_ids(third) == ids(opened_between(rooms, until(16), until(17)))


# Rooms opened in the same second (TRUST 12): groups across the point of 15:00 (it cannot
# split one: it is a second's start), across the pages read on from it, shuffled on every page.
TIES = ((380, 384), (386, 389), (395, 405), (418, 425), (440, 452), (470, 475), (499, 503))


def test_ties_in_a_new_order_on_every_page_lose_nothing_when_read_on_from_the_point(tmp_path):
    rooms = day_of_rooms(ties=TIES)
    with serve(opened_before(rooms, until(15)), shuffle_ties=True) as server:
        first = run_streams(tmp_path, hourly_config(server, 15), CHATS)
        runs = [first]
        for hour in (17, 19, 21):
            server.chats.add_rooms(opened_between(rooms, until(hour - 2), until(hour)))
            run = run_streams(
                tmp_path, hourly_config(server, hour), CHATS, state=runs[-1].states[-1]
            )
            runs.append(run)
        lists = list_requests(server)

    assert all(run.returncode == 0 for run in runs), runs[-1].stderr
    assert room_ids(*runs) == ids(opened_before(rooms, until(21)))
    # Fewer list requests than the four runs' two passes each.
    whole = sum(two_passes(len(opened_before(rooms, until(h)))) for h in (15, 17, 19, 21))
    assert len(lists) < whole


def test_a_state_written_before_the_point_in_the_list_existed_reads_the_day_whole_once(tmp_path):
    """The state the tap at cd02624 wrote after DAY1 up to 15:00 (600 rooms of the sample): the
    next run lists the day in two passes, loses nothing, and remembers the point from then on."""
    state = json.loads((UPGRADE_STATES / "hourly-before-point-in-list.json").read_text("utf-8"))
    assert "point_in_list" not in state["bookmarks"][ROOMS]
    rooms = day_of_rooms()
    with serve(opened_before(rooms, until(16))) as server:
        second = run_streams(tmp_path, hourly_config(server, 16), CHATS, state=state)
        asked = len(server.requests)
        whole = len(list_requests(server))
        server.chats.add_rooms(opened_between(rooms, until(16), until(17)))
        third = run_streams(tmp_path, hourly_config(server, 17), CHATS, state=second.states[-1])
        read_on = len(list_requests(server, asked))

    assert second.returncode == third.returncode == 0, second.stderr
    assert whole == two_passes(len(opened_before(rooms, until(16))))
    assert room_ids(second) == ids(opened_between(rooms, until(15), until(16)))
    assert read_on <= 3
    assert room_ids(third) == ids(opened_between(rooms, until(16), until(17)))


def test_an_hourly_run_killed_while_reading_on_resumes_from_its_last_state(tmp_path):
    """TRUST 1: SIGKILL in the middle of a run that reads on from the point; the next run,
    from the last STATE it printed, sends every room of the hour (none lost)."""
    rooms = day_of_rooms()
    with serve(opened_before(rooms, until(15)), latency_seconds=0.02) as server:
        first = run_streams(tmp_path, hourly_config(server, 15), CHATS)
        new = opened_between(rooms, until(15), until(16))
        server.chats.add_rooms(new)
        catalog = catalog_file(tmp_path, CHATS)
        killed, _ = run_until_stopped(
            tmp_path,
            hourly_config(server, 16),
            8,
            signal.SIGKILL,
            (
                "--catalog",
                str(catalog),
                "--state",
                str(write_json(tmp_path / "s.json", first.states[-1])),
            ),
        )
        states = [m["value"] for m in killed if m["type"] == "STATE"]
        resumed = run_streams(
            tmp_path,
            hourly_config(server, 16),
            CHATS,
            state=states[-1] if states else first.states[-1],
        )

    assert first.returncode == resumed.returncode == 0, resumed.stderr
    sent_before_kill = Counter(record["id"] for record in sent(killed, ROOMS))
    assert set(sent_before_kill + room_ids(resumed)) == set(ids(new))
    assert point_in_list(resumed) is not None


def test_messages_deselected_for_an_hour_keep_their_own_point(tmp_path):
    """TRUST 4: chat_messages left out of one hourly run: rooms read on from their point; when
    messages come back, they catch up from their own state, and every room's messages come."""
    rooms = day_of_rooms(count=240)
    with serve(opened_before(rooms, until(15))) as server:
        first = run_streams(tmp_path, hourly_config(server, 15), CHATS)
        server.chats.add_rooms(opened_between(rooms, until(15), until(16)))
        rooms_only = run_streams(
            tmp_path, hourly_config(server, 16), {ROOMS}, state=first.states[-1]
        )
        server.chats.add_rooms(opened_between(rooms, until(16), until(17)))
        both = run_streams(tmp_path, hourly_config(server, 17), CHATS, state=rooms_only.states[-1])

    assert first.returncode == rooms_only.returncode == both.returncode == 0, both.stderr
    assert not sent(rooms_only, MESSAGES)
    # Rooms of 15:00-16:00 come again with their messages (the rooms are the messages'
    # parents; a target upserts them on `id`): every room at least once, none missing.
    assert set(room_ids(first, rooms_only, both)) == set(ids(opened_before(rooms, until(17))))
    messages = {(m["room_id"], m["id"]) for m in sent(first, MESSAGES) + sent(both, MESSAGES)}
    expected = {
        (room["chat"]["id"], message["id"])
        for room in opened_before(rooms, until(17))
        for message in room["message"]
    }
    assert messages == expected


def test_an_undocumented_answer_where_the_list_is_read_on_loses_nothing(tmp_path):
    """TRUST 5: the first room-list answer of the run that reads on is not HappyTalk's shape;
    the run goes on without proof from the point (it reads the day whole, or sets it aside for
    the next run), and across runs every room of the hour comes once."""
    rooms = day_of_rooms()
    with serve(opened_before(rooms, until(15))) as server:
        first = run_streams(tmp_path, hourly_config(server, 15), CHATS)
        new = opened_between(rooms, until(15), until(16))
        server.chats.add_rooms(new)
        server.inject(
            Fault("body", status=200, text='{"result": "success", "data": "?"}'),
            path=CHAT_ROOM_LISTS_PATH,
        )
        second = run_streams(tmp_path, hourly_config(server, 16), CHATS, state=first.states[-1])
        third = run_streams(tmp_path, hourly_config(server, 16), CHATS, state=second.states[-1])

    assert first.returncode == 0, first.stderr
    assert second.returncode in (0, 3), second.stderr
    assert room_ids(second, third) == ids(new)
    assert third.returncode == 0, third.stderr
