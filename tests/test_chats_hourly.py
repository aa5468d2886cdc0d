"""The chat streams under an hourly schedule, end to end over HTTP.

Each test runs the tap as a subprocess against the local HappyTalk server, carrying STATE from
one run to the next, for what a schedule meets and a backfill does not: rooms that stay open,
ratings given after closing, a stream selected later, pages that move while the tap reads
them, fields HappyTalk adds, and a state written by the release before.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import signal
import time
from typing import TYPE_CHECKING, Any

import pytest

from local_happytalk.chats import CHAT_ROOM_LISTS_PATH, korea_now, sample_rooms
from local_happytalk.server import Fault, sample_events

from .conftest import PROJECT, run_until_stopped
from .test_chats import (
    CHATS,
    DAY1,
    MESSAGES,
    ROOMS,
    chat_data_requests,
    config_for,
    expected,
    hours_ago,
    open_room_ids,
    pages_asked,
    recent_config,
    run_streams,
    sent,
    serve,
    warnings,
)

if TYPE_CHECKING:
    from local_happytalk.server import LocalHappyTalk

UPGRADE_STATES = PROJECT / "tests" / "upgrade_states"


def stuck_open_sample(
    server: LocalHappyTalk, now: dt.datetime, days: int, per_day: int
) -> list[str]:
    """`per_day` rooms a day for `days` days before now, all closed and rated but one a day."""
    stuck = []
    for day in range(days):
        for n in range(per_day):
            opened = hours_ago(now, 24 * day + 1 + n * 20 / per_day)
            if n == per_day // 2:
                stuck.append(server.chats.add_room(reg_date=opened, status="1"))
            else:
                room = server.chats.add_room(reg_date=opened, status="2", complate_date=opened)
                server.chats.rate_room(room, 5)
    return stuck


# --- 1. Cost: the rooms in the set and the new rooms, nothing else ---------------------------


def test_a_run_right_after_a_full_run_reads_only_the_rooms_still_open(tmp_path):
    now = korea_now()
    with serve() as server:
        stuck = stuck_open_sample(server, now, days=5, per_day=10)
        config = recent_config(server, now)
        full = run_streams(tmp_path, config, CHATS)
        asked = len(server.requests)
        again = run_streams(tmp_path, config, CHATS, state=full.states[-1])
        requests = server.requests[asked:]

    assert full.returncode == again.returncode == 0, again.stderr
    assert sorted(open_room_ids(full.states[-1])) == sorted(stuck)
    # The five rooms still open, each once, and today's list: nothing of the days before.
    assert sorted(chat_data_requests(requests)) == sorted(stuck)
    listed_days = {r.sdate for r in requests if r.path == CHAT_ROOM_LISTS_PATH}
    assert listed_days <= {
        now.date().isoformat(),
        (now - dt.timedelta(minutes=10)).date().isoformat(),
    }
    assert sorted(r["id"] for r in sent(again, ROOMS)) == sorted(stuck)


# --- 2. Each chat stream resumes from its own point ------------------------------------------


def test_messages_selected_after_rooms_backfill_from_start_date(tmp_path):
    with serve(sample_rooms(DAY1, 3, 4, 4)) as server:
        config = config_for(server)
        rooms_only = run_streams(tmp_path, config, [ROOMS])
        both = run_streams(tmp_path, config, CHATS, state=rooms_only.states[-1])
        want = expected(server)

    assert rooms_only.returncode == both.returncode == 0, both.stderr
    assert sent(rooms_only, MESSAGES) == []
    assert sent(both, MESSAGES) == want.all_messages
    # Rooms are read again to reach their messages, and sent again (at least once).
    assert sent(both, ROOMS) == want.rooms
    final = both.states[-1]["bookmarks"]
    assert final[ROOMS]["replication_key_value"] == final[MESSAGES]["replication_key_value"]


def test_deselecting_one_chat_stream_never_moves_the_others_state(tmp_path):
    with serve(sample_rooms(DAY1, 4, 3, 3)) as server:
        both = run_streams(tmp_path, config_for(server, days=2), CHATS)
        rooms_on = run_streams(tmp_path, config_for(server, days=4), [ROOMS], state=both.states[-1])
        back = run_streams(tmp_path, config_for(server, days=4), CHATS, state=rooms_on.states[-1])
        want = expected(server)

    for run in (both, rooms_on, back):
        assert run.returncode == 0, run.stderr
    first = both.states[-1]["bookmarks"]
    later = rooms_on.states[-1]["bookmarks"]
    assert later[MESSAGES] == first[MESSAGES]  # untouched while deselected
    assert later[ROOMS]["replication_key_value"] == "2024-03-05T00:00:00+09:00"
    # Selected again, the messages continue from their own point: days 3 and 4.
    days_3_and_4 = [r for r in want.rooms if r["reg_date"] >= "2024-03-03"]
    assert sent(back, MESSAGES) == [m for r in days_3_and_4 for m in want.messages[r["id"]]]
    assert back.states[-1]["bookmarks"][ROOMS] == later[ROOMS]


# --- 3. Paging exact under drift, end to end -------------------------------------------------


@pytest.mark.parametrize(
    ("after_page", "position"),
    [(1, 0), (1, 49), (2, 99), (2, 100), (3, 149)],
    ids=["first-page", "end-of-page-1", "end-of-page-2", "start-of-page-3", "last-page"],
)
@pytest.mark.parametrize("change", ["leaves", "joins", "one-leaves-one-joins"])
def test_a_room_that_moves_the_list_while_it_is_paged_hides_no_other(
    tmp_path, after_page, position, change
):
    with serve(sample_rooms(DAY1, 1, 150, 3)) as server:
        ordered = sorted(
            server.chats.rooms(), key=lambda r: (r["chat"]["reg_date"], r["chat"]["id"])
        )
        mover = ordered[position]["chat"]

        def move(s: LocalHappyTalk) -> None:
            if change in {"leaves", "one-leaves-one-joins"}:
                s.chats.delete_room(mover["id"])
            if change in {"joins", "one-leaves-one-joins"}:
                s.chats.add_room(
                    reg_date=mover["reg_date"] if change == "joins" else "2024-03-01 23:59:59"
                )

        server.after_answer(move, day="2024-03-01", page=after_page)
        run = run_streams(tmp_path, config_for(server, days=1), CHATS)
        there = {room["chat"]["id"] for room in server.chats.rooms()}

    assert run.returncode == 0, run.stderr
    sent_ids = [r["id"] for r in sent(run, ROOMS)]
    assert there <= set(sent_ids), "a room was hidden"
    assert len(sent_ids) == len(set(sent_ids)), "a room was sent twice"


# --- 4. Current: a rating after closing, a room open too long --------------------------------


def test_a_rating_given_after_closing_arrives_within_the_grace(tmp_path):
    now = korea_now()
    with serve() as server:
        closed_at = now - dt.timedelta(seconds=45)
        room = server.chats.add_room(
            reg_date=hours_ago(now, 3),
            status="2",
            complate_date=closed_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
        config = recent_config(server, now, closed_room_grace_minutes=1)
        first = run_streams(tmp_path, config, CHATS)
        server.chats.rate_room(room, 4, "늦게 남긴 평가")
        # The next run only once the grace (1 minute after closing) is over.
        time.sleep(max(0.0, (closed_at + dt.timedelta(seconds=62) - korea_now()).total_seconds()))
        asked = len(server.requests)
        second = run_streams(tmp_path, config, CHATS, state=first.states[-1])
        requests = server.requests[asked:]

    assert first.returncode == second.returncode == 0, second.stderr
    assert open_room_ids(first.states[-1]) == [room]  # closed, unrated, within its grace
    assert chat_data_requests(requests) == [room]
    (resent,) = sent(second, ROOMS)
    assert (resent["vote_score"], resent["vote_comment"]) == ("4", "늦게 남긴 평가")
    assert open_room_ids(second.states[-1]) == []


def test_a_room_open_longer_than_the_recheck_period_is_given_up_with_a_warning(tmp_path):
    now = korea_now()
    with serve() as server:
        old = server.chats.add_room(reg_date=hours_ago(now, 30), status="1")
        young = server.chats.add_room(reg_date=hours_ago(now, 2), status="1")
        config = recent_config(server, now, open_room_recheck_days=2)
        first = run_streams(tmp_path, config, CHATS)
        # A day later, as the schedule sees it: the state says the old room opened 3 days ago.
        state = json.loads(json.dumps(first.states[-1]))
        for stream in CHATS:
            for entry in state["bookmarks"][stream]["ask_again"]:
                if entry["id"] == old:
                    entry["reg_date"] = (
                        dt.datetime.fromisoformat(entry["reg_date"]) - dt.timedelta(days=2)
                    ).isoformat()
        asked = len(server.requests)
        second = run_streams(tmp_path, config, CHATS, state=state)
        requests = server.requests[asked:]

    assert first.returncode == second.returncode == 0, second.stderr
    assert sorted(open_room_ids(first.states[-1])) == sorted([old, young])
    given_up = [line for line in warnings(second) if "given up" in line]
    assert len(given_up) == 2, given_up  # one per stream, each its own progress
    warning = given_up[0]
    assert "chat_rooms: 1 unit given up" in warning
    assert "1 open (rooms still open open_room_recheck_days (2) after opening" in warning
    assert '"metric":"units_given_up","value":1' in second.stderr
    assert '"why":"open"' in second.stderr
    assert second.states[-1]["bookmarks"][ROOMS]["given_up"] == {"open": 1}
    assert chat_data_requests(requests) == [young]
    assert open_room_ids(second.states[-1]) == [young]


# --- 5. Nothing HappyTalk sends is lost -------------------------------------------------------


def test_fields_the_schema_does_not_describe_are_kept_in_extra_fields(tmp_path):
    with serve(sample_rooms(DAY1, 1, 2, 3)) as server:
        server.inject(
            Fault("edit_rooms", body={"priority": "high", "labels": ["vip"]}),
            path="/user/api/chat_data/format/json",
            times=2,
        )
        server.inject(
            Fault("edit_messages", body={"template_version": 2}),
            times=2,
            path="/user/api/chat_data/format/json",
        )
        run = run_streams(tmp_path, config_for(server, days=1), CHATS)

    assert run.returncode == 0, run.stderr
    rooms = sent(run, ROOMS)
    assert len(rooms) == 2
    assert all(r["extra_fields"] == {"labels": ["vip"], "priority": "high"} for r in rooms[:1])
    assert any("kept in extra_fields: labels, priority" in line for line in warnings(run))
    schema = next(m for m in run.messages if m["type"] == "SCHEMA" and m["stream"] == ROOMS)
    assert "extra_fields" in schema["schema"]["properties"]


# --- 6. A state written by the release before ---------------------------------------------------


def upgrade_state(name: str) -> dict[str, Any]:
    state: dict[str, Any] = json.loads((UPGRADE_STATES / name).read_text(encoding="utf-8"))
    return state


def test_the_previous_releases_state_resumes_where_it_stopped(tmp_path):
    """The state of e8bc330 with both chat streams: messages resume at the point; the rooms,
    which that release's state cannot prove were sent (chat_messages alone moved the same
    point), are read from start_date once: sent again, never lost."""
    with serve(sample_rooms(DAY1, 5, 3, 3)) as server:
        config = config_for(server, days=5)
        run = run_streams(tmp_path, config, CHATS, state=upgrade_state("every-stream.json"))
        want = expected(server)
        days = {r.sdate for r in server.requests if r.path == CHAT_ROOM_LISTS_PATH}

    assert run.returncode == 0, run.stderr
    later = [r for r in want.rooms if r["reg_date"] >= "2024-03-04"]
    assert sent(run, ROOMS) == want.rooms
    messages = {m["id"] for m in sent(run, MESSAGES)}
    assert {m["id"] for r in later for m in want.messages[r["id"]]} <= messages
    assert messages <= {m["id"] for m in want.all_messages}
    assert days == {f"2024-03-0{day}" for day in range(1, 6)}
    (warning,) = [line for line in warnings(run) if "e8bc330" in line]
    assert "chat_rooms is read again from start_date this once" in warning
    final = run.states[-1]["bookmarks"]
    assert final[ROOMS]["replication_key_value"] == final[MESSAGES]["replication_key_value"]
    assert (
        final["service_history"]
        == upgrade_state("every-stream.json")["bookmarks"]["service_history"]
    )


def test_messages_the_previous_release_never_sent_are_backfilled(tmp_path):
    with serve(sample_rooms(DAY1, 5, 3, 3)) as server:
        config = config_for(server, days=5)
        run = run_streams(
            tmp_path, config, CHATS, state=upgrade_state("rooms-without-messages.json")
        )
        want = expected(server)

    assert run.returncode == 0, run.stderr
    assert sent(run, MESSAGES) == want.all_messages


def test_a_bookmark_the_previous_release_held_at_an_open_room_resumes_there(tmp_path):
    with serve(sample_rooms(DAY1, 5, 3, 3)) as server:
        want = expected(server)
        held = next(r for r in want.rooms if r["reg_date"] >= "2024-03-03")
        # chat_rooms alone: its e8bc330 point is a point its rooms were sent to.
        state = upgrade_state("rooms-without-messages.json")
        state["bookmarks"][ROOMS]["replication_key_value"] = held["reg_date"]
        run = run_streams(tmp_path, config_for(server, days=5), [ROOMS], state=state)

    assert run.returncode == 0, run.stderr
    assert sent(run, ROOMS) == [r for r in want.rooms if r["reg_date"] >= held["reg_date"]]
    assert len(pages_asked(server, "2024-03-02")) == 0


# --- 7. A kill while the open rooms are read again --------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_run_killed_while_reading_open_rooms_again_loses_no_change(tmp_path, seed):
    now = korea_now()
    with serve(latency_seconds=0.02) as server:
        chats = server.chats
        still_open = [
            chats.add_room(reg_date=hours_ago(now, 2 + 3 * n), status="1") for n in range(12)
        ]
        config = recent_config(server, now, closed_room_grace_minutes=0, max_concurrent_requests=2)
        first = run_streams(tmp_path, config, CHATS)
        for room in still_open:
            chats.close_room(room, at=hours_ago(now, 1))
            chats.rate_room(room, 3)
        catalog = ("--catalog", str(tmp_path / "catalog.json"))
        config_with_state = tmp_path / "killed-state.json"
        config_with_state.write_text(json.dumps(first.states[-1]), encoding="utf-8")
        lines = random.Random(seed).randrange(2, 30)
        before, _ = run_until_stopped(
            tmp_path,
            config,
            lines,
            signal.SIGKILL,
            args=(*catalog, "--state", str(config_with_state)),
        )
        states = [m["value"] for m in before if m["type"] == "STATE"]
        resumed = run_streams(
            tmp_path, config, CHATS, state=states[-1] if states else first.states[-1]
        )

    assert first.returncode == resumed.returncode == 0, resumed.stderr
    assert sorted(open_room_ids(first.states[-1])) == sorted(still_open)
    latest = {r["id"]: r for r in [*sent(before, ROOMS), *sent(resumed, ROOMS)]}
    assert all(
        latest[room]["status"] == "2" and latest[room]["vote_score"] == "3" for room in still_open
    )
    assert open_room_ids(resumed.states[-1]) == []


# --- 8. HappyTalk not knowing a room once ------------------------------------------------------


def test_a_room_happytalk_did_not_know_once_is_asked_again_next_run(tmp_path):
    now = korea_now()
    with serve() as server:
        room = server.chats.add_room(
            reg_date=hours_ago(now, 3), status="2", complate_date=hours_ago(now, 2)
        )
        server.chats.rate_room(room, 5)
        server.inject(Fault("refuse", body={"code": -503, "message": "room"}), room_id=room)
        config = recent_config(server, now)
        first = run_streams(tmp_path, config, CHATS)
        second = run_streams(tmp_path, config, CHATS, state=first.states[-1])
        want = expected(server)

    assert first.returncode == second.returncode == 0, second.stderr
    assert [r["id"] for r in sent(first, ROOMS)] == [room]  # as listed, without messages
    assert sent(first, MESSAGES) == []
    assert first.states[-1]["bookmarks"][ROOMS]["ask_again"][0]["why"] == "missing"
    assert sent(second, ROOMS) == want.rooms
    assert sent(second, MESSAGES) == want.messages[room]
    assert open_room_ids(second.states[-1]) == []


def test_a_first_run_that_fails_after_an_upgrade_keeps_the_messages_owed(tmp_path):
    """The SDK writes `chat_messages: {}` before the first day is done: not a state of old."""
    with serve(sample_rooms(DAY1, 3, 4, 3)) as server:
        config = config_for(server)
        third = sorted(server.chats.rooms(), key=lambda r: r["chat"]["reg_date"])[2]["chat"]["id"]
        # A refused token ends a run (a room that keeps failing would only be set aside).
        server.inject(Fault("refuse", body={"code": -501, "message": "token"}), room_id=third)
        failed = run_streams(
            tmp_path, config, CHATS, state=upgrade_state("rooms-without-messages.json")
        )
        state = failed.states[-1] if failed.states else upgrade_state("rooms-without-messages.json")
        resumed = run_streams(tmp_path, config, CHATS, state=state)
        want = expected(server)

    assert failed.returncode == 1
    assert resumed.returncode == 0, resumed.stderr
    every = {m["id"] for m in want.all_messages}
    assert {m["id"] for m in [*sent(failed, MESSAGES), *sent(resumed, MESSAGES)]} == every


def test_an_answer_echoing_the_token_never_shows_it(tmp_path):
    with serve(sample_rooms(DAY1, 1, 2, 3)) as server:
        room = server.chats.room_ids()[0]
        echo = {"result": "success", "data": [{"chat": {"id": server.token}, "message": []}]}
        server.inject(Fault("body", status=200, text=json.dumps(echo)), room_id=room)
        run = run_streams(tmp_path, config_for(server, days=1), CHATS)

    assert run.returncode == 0, run.stderr
    assert any("retry 1 of 2" in line for line in warnings(run))
    assert server.token not in run.stderr
    assert server.token not in run.stdout


def test_service_history_resumes_from_the_previous_releases_state(tmp_path):
    events = sample_events(DAY1, 5, 4)
    with serve(events=events) as server:
        run = run_streams(
            tmp_path,
            config_for(server, days=5),
            ["service_history"],
            state=upgrade_state("every-stream.json"),
        )
        asked = sorted({r.start_date[:10] for r in server.requests if r.start_date})

    assert run.returncode == 0, run.stderr
    assert asked == ["2024-03-04", "2024-03-05"]
    assert {r["request_date"][:10] for r in sent(run, "service_history")} == {
        "2024-03-04",
        "2024-03-05",
    }
    assert run.states[-1]["bookmarks"]["service_history"]["replication_key_value"] == (
        "2024-03-06T00:00:00+09:00"
    )
