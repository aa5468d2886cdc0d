"""Left alone for a month: one unit that keeps failing never stops the pipeline (TRUST 11).

End to end over HTTP: the local HappyTalk server, the tap as a subprocess, STATE carried from
run to run. A room, a day of service history or a room in the progress that fails on every
attempt, run after run, is set aside: every other unit arrives in the same run, the run exits
3 (incomplete), and the unit is asked again by every later run until it answers, then sent
whole; past `set_aside_days` it is given up, said once.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest

from local_happytalk.chats import korea_now, sample_rooms
from local_happytalk.server import Fault, LocalHappyTalk, sample_events

from .conftest import FIRST_DAY, TapRun, run_tap
from .test_chats import (
    CHATS,
    DAY1,
    MESSAGES,
    ROOMS,
    assert_no_secret,
    chat_data_requests,
    config_for,
    expected,
    hours_ago,
    recent_config,
    run_streams,
    sent,
    serve,
    warnings,
)

pytestmark = pytest.mark.timeout(300)

FOREVER = 1_000  # a fault on every attempt a test makes, in every run, until cleared


def ask_again(run: TapRun, stream: str) -> list[dict[str, Any]]:
    return list(run.states[-1]["bookmarks"][stream]["ask_again"])


def history_config(server: LocalHappyTalk, **extra: Any) -> dict[str, Any]:
    """Service history of 2024-03-01 to 2024-03-03 from `server`."""
    return {
        "token": server.token,
        "api_url": server.url,
        "start_date": "2024-03-01",
        "end_date": "2024-03-04",
        **extra,
    }


def closed_rated(server: LocalHappyTalk, opened: str) -> str:
    room = server.chats.add_room(reg_date=opened, status="2", complate_date=opened)
    server.chats.rate_room(room, 5)
    return room


def test_a_room_failing_in_every_run_holds_back_no_other_and_comes_whole_once_healed(tmp_path):
    now = korea_now()
    with serve() as server:
        first_room = closed_rated(server, hours_ago(now, 20))
        bad = closed_rated(server, hours_ago(now, 19))
        closed_rated(server, hours_ago(now, 18))
        server.inject(Fault("status", status=503), room_id=bad, times=FOREVER)
        config = recent_config(server, now, max_retries=1, end_margin_seconds=0)
        runs = [run_streams(tmp_path, config, CHATS)]
        for _ in range(2):  # two more runs, HappyTalk still failing on that room
            time.sleep(1.1)  # a room opened after the last run's last second
            closed_rated(server, korea_now().strftime("%Y-%m-%d %H:%M:%S"))
            time.sleep(1.1)
            runs.append(run_streams(tmp_path, config, CHATS, state=runs[-1].states[-1]))
        server.clear_faults()
        healed = run_streams(tmp_path, config, CHATS, state=runs[-1].states[-1])
        want = expected(server)

    for number, run in enumerate(runs):
        assert run.returncode == 3, run.stderr
        (entry,) = ask_again(run, ROOMS)
        assert (entry["id"], entry["why"], entry["tries"]) == (bad, "failed", number)
        assert bad not in {r["id"] for r in sent(run, ROOMS)}
        assert_no_secret(run)
    # Every other room arrived in the run after it opened: the failing one held nothing back.
    assert [r["id"] for r in sent(runs[0], ROOMS)][:1] == [first_room]
    assert len(sent(runs[0], ROOMS)) == 2
    assert len(sent(runs[1], ROOMS)) == len(sent(runs[2], ROOMS)) == 1
    (held,) = [line for line in warnings(runs[2]) if "chat_rooms: 1 unit set aside" in line]
    assert f"room {bad}" in held
    assert '"metric":"units_set_aside","value":1' in runs[2].stderr
    # Healed: sent whole, room and messages; nothing is held; the run is complete.
    assert healed.returncode == 0, healed.stderr
    assert [r["id"] for r in sent(healed, ROOMS)] == [bad]
    assert sent(healed, MESSAGES) == want.messages[bad]
    assert ask_again(healed, ROOMS) == ask_again(healed, MESSAGES) == []


def test_an_open_room_failing_every_attempt_does_not_stop_the_new_days(tmp_path):
    now = korea_now()
    with serve() as server:
        stuck = server.chats.add_room(reg_date=hours_ago(now, 30), status="1")
        config = recent_config(server, now, max_retries=1, end_margin_seconds=0)
        first = run_streams(tmp_path, config, CHATS)
        time.sleep(1.1)  # a room opened after the first run's last second
        server.inject(
            Fault("body", status=200, text='{"result": "success"}'), room_id=stuck, times=FOREVER
        )
        later = closed_rated(server, korea_now().strftime("%Y-%m-%d %H:%M:%S"))
        time.sleep(1.1)
        second = run_streams(tmp_path, config, CHATS, state=first.states[-1])
        server.clear_faults()
        server.chats.close_room(stuck)
        server.chats.rate_room(stuck, 4)
        third = run_streams(tmp_path, config, CHATS, state=second.states[-1])

    assert first.returncode == 0, first.stderr
    assert second.returncode == 3, second.stderr
    assert [r["id"] for r in sent(second, ROOMS)] == [later]
    (entry,) = ask_again(second, ROOMS)
    assert (entry["id"], entry["why"]) == (stuck, "failed")
    assert third.returncode == 0, third.stderr
    assert [(r["id"], r["vote_score"]) for r in sent(third, ROOMS)] == [(stuck, "4")]
    assert ask_again(third, ROOMS) == []


def test_a_service_history_day_failing_in_every_run_is_asked_until_it_answers(tmp_path):
    with LocalHappyTalk(sample_events(FIRST_DAY, 3, 4)) as server:
        server.inject(Fault("status", status=500), day="2024-03-02", times=FOREVER)
        config = history_config(server, max_retries=1)
        first = run_tap(tmp_path, config)
        second = run_tap(tmp_path, config, state=first.states[-1])
        server.clear_faults()
        third = run_tap(tmp_path, config, state=second.states[-1])

    assert first.returncode == second.returncode == 3, second.stderr
    assert {r["request_date"][:10] for r in first.records} == {"2024-03-01", "2024-03-03"}
    assert second.records == []  # only the failing day was asked again
    (entry,) = second.states[-1]["bookmarks"]["service_history"]["ask_again"]
    assert (entry["why"], entry["tries"]) == ("failed", 1)
    assert third.returncode == 0, third.stderr
    assert {r["request_date"][:10] for r in third.records} == {"2024-03-02"}
    assert len(third.records) == 4
    assert third.states[-1]["bookmarks"]["service_history"]["ask_again"] == []


def test_a_unit_failing_past_set_aside_days_is_given_up_once(tmp_path):
    with LocalHappyTalk(sample_events(FIRST_DAY, 3, 4)) as server:
        server.inject(Fault("status", status=500), day="2024-03-02", times=FOREVER)
        config = history_config(server, max_retries=0, set_aside_days=2)
        first = run_tap(tmp_path, config)
        state = json.loads(json.dumps(first.states[-1]))
        (entry,) = state["bookmarks"]["service_history"]["ask_again"]
        since = dt.datetime.fromisoformat(entry["since"]) - dt.timedelta(days=2)
        entry["since"] = since.isoformat()  # as the schedule sees it two days later
        second = run_tap(tmp_path, config, state=state)
        third = run_tap(tmp_path, config, state=second.states[-1])

    assert first.returncode == 3
    assert second.returncode == 3, second.stderr  # the run that gives data up says so
    (line,) = [line for line in warnings(second) if "given up, no longer asked again" in line]
    assert "service_history: 1 unit given up" in line
    assert "set_aside_days (2)" in line
    assert "window 2024-03-02 00:00:00..23:59:59" in line
    assert '"metric":"units_given_up","value":1' in second.stderr
    final = second.states[-1]["bookmarks"]["service_history"]
    assert (final["ask_again"], final["given_up"]) == ([], {"failed": 1})
    assert third.returncode == 0, third.stderr
    assert third.records == []


def test_an_old_room_unknown_once_is_asked_again_whatever_its_age(tmp_path):
    """A backfill of days older than open_room_recheck_days: -503 once, then it answers."""
    rooms = sample_rooms(DAY1, 3, 3, 3)
    with serve(rooms) as server:
        room = rooms[2]["chat"]["id"]
        server.inject(Fault("refuse", body={"code": -503, "message": "room"}), room_id=room)
        config = config_for(server, open_room_recheck_days=1)
        first = run_streams(tmp_path, config, CHATS)
        asked = len(server.requests)
        second = run_streams(tmp_path, config, CHATS, state=first.states[-1])
        requests = server.requests[asked:]
        want = expected(server)

    assert first.returncode == second.returncode == 0, second.stderr
    (entry,) = ask_again(first, ROOMS)
    assert (entry["id"], entry["why"]) == (room, "missing")
    assert chat_data_requests(requests) == [room]  # asked again though days old; nothing else
    assert [r["id"] for r in sent(second, ROOMS)] == [room]
    assert sent(second, MESSAGES) == want.messages[room]
    assert ask_again(second, ROOMS) == []


def test_messages_alone_of_the_previous_release_backfill_the_rooms(tmp_path):
    """499911a run with chat_messages alone left `chat_rooms: {}`: rooms from start_date."""
    rooms = sample_rooms(DAY1, 3, 3, 3)
    state = {
        "bookmarks": {
            "chat_rooms": {},
            "chat_messages": {
                "replication_key": "reg_date",
                "replication_key_value": "2024-03-04T00:00:00+09:00",
                "open_rooms": [],
            },
        }
    }
    with serve(rooms) as server:
        run = run_streams(tmp_path, config_for(server), CHATS, state=state)
        want = expected(server)

    assert run.returncode == 0, run.stderr
    assert sent(run, ROOMS) == want.rooms
    # Rooms read for chat_rooms come with their messages, which had come: sent again, the
    # same (at-least-once, docs/STATE.md), never lost.
    assert {m["id"] for m in sent(run, MESSAGES)} <= {m["id"] for m in want.all_messages}
    final = run.states[-1]["bookmarks"]
    assert final[ROOMS]["replication_key_value"] == "2024-03-04T00:00:00+09:00"
    assert final[MESSAGES]["replication_key_value"] == "2024-03-04T00:00:00+09:00"


def test_a_last_message_without_text_is_null_not_the_text_none(tmp_path):
    now = korea_now()
    with serve() as server:
        room = server.chats.add_room(reg_date=hours_ago(now, 5), status="1")
        config = recent_config(server, now)
        first = run_streams(tmp_path, config, CHATS)
        server.chats.add_message(room, "tmp", send_date=hours_ago(now, 1))
        server.inject(Fault("edit_messages", body={"contents": None}, index=1), room_id=room)
        second = run_streams(tmp_path, config, CHATS, state=first.states[-1])

    assert second.returncode == 0, second.stderr
    (record,) = sent(second, ROOMS)
    assert record["last_message"] is None


def test_a_room_whose_listed_times_will_not_convert_is_set_aside_not_a_wedge(tmp_path):
    """Review finding: setting such a room aside converted it again, and ended every run."""
    rooms = sample_rooms(DAY1, 2, 3, 3)
    with serve(rooms) as server:
        bad = rooms[1]["chat"]["id"]
        server.chats.update_room(bad, status="2", complate_date="2024-02-30 25:00:00")
        config = config_for(server, days=2)
        first = run_streams(tmp_path, config, CHATS)
        second = run_streams(tmp_path, config, CHATS, state=first.states[-1])

    for run in (first, second):
        assert run.returncode == 3, run.stderr
        assert run.error_lines == []
        (entry,) = ask_again(run, ROOMS)
        assert (entry["id"], entry["why"]) == (bad, "failed")
    assert {r["id"] for r in sent(first, ROOMS)} == {r["chat"]["id"] for r in rooms} - {bad}
    assert first.states[-1]["bookmarks"][ROOMS]["replication_key_value"] == (
        "2024-03-03T00:00:00+09:00"
    )


def test_rooms_failing_in_a_row_stop_the_stream_past_them_never_before(tmp_path):
    """Ten adjacent rooms failing for good: the stream stops for the run (HappyTalk looks
    down) but sets the rest of the day aside and moves on, so no run meets them first again."""
    rooms = sample_rooms(DAY1, 2, 15, 3)
    order = sorted((r["chat"] for r in rooms), key=lambda c: (c["reg_date"], c["id"]))
    bad = [chat["id"] for chat in order[2:12]]
    with serve(rooms) as server:
        for room in bad:
            server.inject(Fault("status", status=500), room_id=room, times=FOREVER)
        config = config_for(server, days=2, max_retries=0, max_concurrent_requests=1)
        first = run_streams(tmp_path, config, CHATS)
        second = run_streams(tmp_path, config, CHATS, state=first.states[-1])

    assert first.returncode == second.returncode == 3, second.stderr
    (stopped,) = [line for line in warnings(first) if "failed in a row" in line]
    assert "HappyTalk looks down" in stopped
    day1 = first.states[-1]["bookmarks"][ROOMS]
    assert day1["replication_key_value"] == "2024-03-02T00:00:00+09:00"  # past the day
    held = {entry["id"] for entry in day1["ask_again"] if entry["why"] == "failed"}
    assert set(bad) <= held  # the failed ones, and the day's rooms not read after them
    assert len(held) == 15 - 2
    # The next run asks them again (not counted in a streak) and goes on with the next day.
    got = {r["id"] for r in sent(first, ROOMS) + sent(second, ROOMS)}
    assert got == {chat["id"] for chat in order} - set(bad)
    final = second.states[-1]["bookmarks"][ROOMS]
    assert final["replication_key_value"] == "2024-03-03T00:00:00+09:00"
    assert {entry["id"] for entry in final["ask_again"] if entry["why"] == "failed"} == set(bad)


def test_a_token_echoed_in_a_failing_answer_never_reaches_a_warning(tmp_path):
    rooms = sample_rooms(DAY1, 1, 2, 3)
    with serve(rooms) as server:
        token = server.token
        server.inject(
            Fault("edit_messages", body={"send_date": token}, index=0),
            room_id=rooms[0]["chat"]["id"],
            times=FOREVER,
        )
        run = run_streams(tmp_path, config_for(server, days=1, max_retries=0), CHATS)

    assert run.returncode == 3, run.stderr
    assert [line for line in warnings(run) if "set aside" in line]
    assert token not in run.stderr
    assert token not in run.stdout


def test_a_room_unknown_once_is_asked_again_even_without_open_room_tracking(tmp_path):
    """open_room_recheck_days 0 reads no open room again; a missing one still is."""
    rooms = sample_rooms(DAY1, 1, 3, 3)
    with serve(rooms) as server:
        room = rooms[1]["chat"]["id"]
        server.inject(Fault("refuse", body={"code": -503, "message": "room"}), room_id=room)
        config = config_for(server, days=1, open_room_recheck_days=0)
        first = run_streams(tmp_path, config, CHATS)
        second = run_streams(tmp_path, config, CHATS, state=first.states[-1])
        want = expected(server)

    assert first.returncode == second.returncode == 0, second.stderr
    assert [r["id"] for r in sent(second, ROOMS)] == [room]
    assert sent(second, MESSAGES) == want.messages[room]


def test_a_day_truly_empty_answered_without_data_is_confirmed_after_a_day(tmp_path):
    """TRUST 5: a day HappyTalk always answers without data is asked again for 24 hours, then
    taken as truly empty: it leaves the state, gives nothing up, and every run exits 0."""
    empty = '{"result": "success"}'
    with LocalHappyTalk(sample_events(FIRST_DAY, 3, 4)) as server:
        server.inject(Fault("body", status=200, text=empty), day="2024-03-02", times=FOREVER)
        config = history_config(server)
        first = run_tap(tmp_path, config)
        second = run_tap(tmp_path, config, state=first.states[-1])
        state = json.loads(json.dumps(second.states[-1]))
        (entry,) = state["bookmarks"]["service_history"]["ask_again"]
        since = dt.datetime.fromisoformat(entry["since"]) - dt.timedelta(hours=24)
        entry["since"] = since.isoformat()  # as the schedule sees it a day later
        third = run_tap(tmp_path, config, state=state)
        asked_then = len(server.requests)
        fourth = run_tap(tmp_path, config, state=third.states[-1])

    assert [run.returncode for run in (first, second, third, fourth)] == [0, 0, 0, 0]
    (entry,) = second.states[-1]["bookmarks"]["service_history"]["ask_again"]
    assert (entry["why"], entry["tries"]) == ("unconfirmed", 1)
    assert "taken as truly empty" in third.stderr
    final = third.states[-1]["bookmarks"]["service_history"]
    assert (final["ask_again"], final["given_up"]) == ([], {})
    assert len(server.requests) == asked_then  # confirmed: never asked again
