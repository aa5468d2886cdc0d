"""The chat streams end to end: `chat_rooms` and its child `chat_messages`, over real HTTP.

Every test runs the tap as a subprocess against the local HappyTalk server and checks what it
sent against the rooms the server holds: selection, completeness through pages, order, open
rooms that hold the bookmark, stops, parallel requests, a token without chat permission,
HappyTalk's bad answers, and a privacy stream map.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from local_happytalk.chats import (
    CHAT_DATA_PATH,
    CHAT_ROOM_LISTS_PATH,
    CUSTOMER_NAMES,
    ZERO_DATE,
    korea_now,
    sample_rooms,
)
from local_happytalk.server import Fault, LocalHappyTalk, sample_events

from .conftest import (
    TAP,
    TapRun,
    catalog_selecting,
    documentation,
    parse_messages,
    run_tap,
    run_until_stopped,
    tap_env,
    write_json,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path

SECRET = "chat-secret-token-5b1e9f0c7d"
DAY1 = dt.date(2024, 3, 1)
ROOMS, MESSAGES, STREAMS = "chat_rooms", "chat_messages", "service_history"
CHATS = frozenset({ROOMS, MESSAGES})
EVERY_STREAM = frozenset({ROOMS, MESSAGES, STREAMS})
PHONE = re.compile(r"010-\d{4}-\d{4}")

# The privacy stream map of the chat streams: docs/STREAMS.md shows the same block, in YAML, under
# `<!-- privacy-map-chats -->` (keep the two alike; a test below compares them). Customer
# identifiers become salted SHA-256 hashes (still good for counting and joining); the free text
# that can hold what a customer wrote (a message's `contents`, a room's `last_message`, a copy
# of its last message, its `title` and `user_parameter`) is dropped before any record leaves
# the tap.
PRIVACY_MAPS: dict[str, Any] = {
    "stream_map_config": {"hash_salt": "$HAPPYTALK_HASH_SALT"},
    "stream_maps": {
        "chat_rooms": {
            "customer_uuid": (
                "sha256(config['hash_salt'] + customer_uuid) if customer_uuid else None"
            ),
            "users_id": "sha256(config['hash_salt'] + users_id) if users_id else None",
            "title": "__NULL__",
            "last_message": "__NULL__",
            "user_parameter": "__NULL__",
            "vote_comment": "__NULL__",
            "extra_fields": "__NULL__",
        },
        "chat_messages": {
            "from_id": "sha256(config['hash_salt'] + from_id) if from_id else None",
            "to_id": "sha256(config['hash_salt'] + to_id) if to_id else None",
            "contents": "__NULL__",
            "extra_fields": "__NULL__",
        },
    },
}


# --- helpers ---------------------------------------------------------------------------------


def catalog_file(tmp_path: Path, streams: Iterable[str]) -> Path:
    """A catalog file selecting exactly `streams`."""
    return write_json(tmp_path / "catalog.json", catalog_selecting(streams))


def config_for(
    server: LocalHappyTalk, start: dt.date = DAY1, days: int = 3, **extra: Any
) -> dict[str, Any]:
    return {
        "token": server.token,
        "api_url": server.url,
        "start_date": start.isoformat(),
        "end_date": (start + dt.timedelta(days=days)).isoformat(),
        "max_retries": 2,
        "request_timeout_seconds": 5,
        **extra,
    }


def run_streams(
    tmp_path: Path,
    config: dict[str, Any],
    streams: Iterable[str] = EVERY_STREAM,
    *,
    state: dict[str, Any] | None = None,
    args: tuple[str, ...] = (),
) -> TapRun:
    catalog = catalog_file(tmp_path, streams)
    return run_tap(tmp_path, config, state=state, args=("--catalog", str(catalog), *args))


def serve(rooms: Iterable[dict[str, Any]] = (), **options: Any) -> LocalHappyTalk:
    return LocalHappyTalk(rooms=list(rooms), token=SECRET, **options)


def aware(wall_clock: str | None) -> str | None:
    """HappyTalk's Korea wall-clock time as the tap sends it; PHP's zero date is null."""
    if wall_clock is None or wall_clock == ZERO_DATE:
        return None
    return f"{wall_clock[:10]}T{wall_clock[11:]}+09:00"


def room_record(room: dict[str, Any]) -> dict[str, Any]:
    """The `chat_rooms` record of a room the server holds (`ChatRooms.room`'s shape)."""
    said = [m for m in room["message"] if m["type"] == "C"]
    chat = room["chat"]
    return {
        **chat,
        "last_message": str(said[-1]["contents"]) if said else "",
        "reg_date": aware(chat["reg_date"]),
        "complate_date": aware(chat["complate_date"]),
    }


def message_record(message: dict[str, Any], room_id: str) -> dict[str, Any]:
    return {
        **message,
        "room_id": room_id,
        "send_date": aware(message["send_date"]),
        "read_date": aware(message["read_date"]),
    }


@dataclass(frozen=True)
class Expected:
    """What the tap should send for the server's rooms: rooms in order, each its messages."""

    rooms: list[dict[str, Any]]
    messages: dict[str, list[dict[str, Any]]]

    @property
    def all_messages(self) -> list[dict[str, Any]]:
        return [m for room in self.rooms for m in self.messages[room["id"]]]

    def rooms_before(self, bookmark: str) -> set[str]:
        return {room["id"] for room in self.rooms if room["reg_date"] < bookmark}

    def day_of(self, room_id: str) -> str:
        return next(str(r["reg_date"])[:10] for r in self.rooms if r["id"] == room_id)


def expected(server: LocalHappyTalk) -> Expected:
    """The records of the server's rooms, as they are now."""
    chosen = server.chats.rooms()
    rooms = sorted((room_record(room) for room in chosen), key=lambda r: (r["reg_date"], r["id"]))
    messages = {
        room["chat"]["id"]: sorted(
            (message_record(m, room["chat"]["id"]) for m in room["message"]),
            key=lambda m: (m["send_date"], int(m["id"])),
        )
        for room in chosen
    }
    return Expected(rooms, messages)


def sent(run: TapRun | list[dict[str, Any]], stream: str) -> list[dict[str, Any]]:
    messages = run.messages if isinstance(run, TapRun) else run
    return [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == stream]


def room_bookmarks(messages: list[dict[str, Any]]) -> list[str]:
    """The chat_rooms bookmark of every STATE that has one, in order."""
    values = [m["value"]["bookmarks"].get(ROOMS, {}) for m in messages if m["type"] == "STATE"]
    return [str(v["replication_key_value"]) for v in values if "replication_key_value" in v]


def bookmark_steps(messages: list[dict[str, Any]]) -> list[str]:
    """The chat_rooms bookmarks in order, each once (the SDK repeats the last at the end)."""
    steps: list[str] = []
    for value in room_bookmarks(messages):
        if not steps or steps[-1] != value:
            steps.append(value)
    return steps


def day_ends(first: dt.date, days: int) -> list[str]:
    return [f"{first + dt.timedelta(days=n)}T00:00:00+09:00" for n in range(1, days + 1)]


def assert_sent_in_order_with_states_behind(messages: list[dict[str, Any]], want: Expected):
    """Rooms by reg_date then id, each after its own messages (in order); every STATE behind.

    A STATE's chat_rooms bookmark never passes a room, or a message of a room, not yet sent,
    and no room sent after it lies before it.
    """
    rooms_sent: list[str] = []
    waiting: list[dict[str, Any]] = []  # messages sent since the last room
    for message in messages:
        if message["type"] == "RECORD" and message["stream"] == MESSAGES:
            waiting.append(message["record"])
        elif message["type"] == "RECORD" and message["stream"] == ROOMS:
            room = message["record"]
            assert waiting == want.messages[room["id"]], f"messages of room {room['id']}"
            rooms_sent.append(room["id"])
            waiting = []
        elif message["type"] == "STATE" and (bookmark := room_bookmarks([message])):
            assert waiting == [], "a STATE between a room's messages and the room"
            assert want.rooms_before(bookmark[0]) <= set(rooms_sent), bookmark
    assert waiting == []
    assert rooms_sent == [room["id"] for room in want.rooms]


def chat_data_requests(asked: LocalHappyTalk | list[Any]) -> list[str]:
    """The room of every chat_data request the server received, in order."""
    received = asked.requests if isinstance(asked, LocalHappyTalk) else asked
    return [str(r.room_id) for r in received if r.path == CHAT_DATA_PATH]


def pages_asked(server: LocalHappyTalk, day: str) -> list[Any]:
    return [r for r in server.requests if r.path == CHAT_ROOM_LISTS_PATH and r.sdate == day]


def warnings(run: TapRun) -> list[str]:
    return [line for line in run.stderr.splitlines() if "| WARNING" in line]


def assert_no_secret(run: TapRun) -> None:
    assert SECRET not in run.stdout
    assert SECRET not in run.stderr


# --- 1. Selection ----------------------------------------------------------------------------


def small_sample() -> list[dict[str, Any]]:
    """Three days from 2024-03-01, four rooms a day with four messages each."""
    return sample_rooms(DAY1, 3, 4, 4)


def test_without_a_catalog_a_run_extracts_service_history_only(tmp_path):
    events = sample_events(DAY1, 3, 5)
    with serve(small_sample(), events=events) as server:
        run = run_tap(tmp_path, config_for(server))

    assert run.returncode == 0, run.stderr
    assert {m["stream"] for m in run.messages if m["type"] in {"SCHEMA", "RECORD"}} == {STREAMS}
    assert sorted(r["id"] for r in run.records) == sorted(e["id"] for e in events)
    assert {r.path for r in server.requests} == {"/user/api/service_history/format/json"}
    assert all(set(state["bookmarks"]) == {STREAMS} for state in run.states)


def test_a_catalog_selecting_every_stream_runs_all_three(tmp_path):
    events = sample_events(DAY1, 3, 5)
    with serve(small_sample(), events=events) as server:
        run = run_streams(tmp_path, config_for(server))
        want = expected(server)

    assert run.returncode == 0, run.stderr
    assert sent(run, ROOMS) == want.rooms
    assert sent(run, MESSAGES) == want.all_messages
    assert sorted(r["id"] for r in sent(run, STREAMS)) == sorted(e["id"] for e in events)
    final = run.states[-1]["bookmarks"]
    assert final[ROOMS]["replication_key_value"] == "2024-03-04T00:00:00+09:00"
    assert final[STREAMS]["replication_key_value"] == "2024-03-04T00:00:00+09:00"


def test_without_chat_messages_the_rooms_still_come_read_with_their_data(tmp_path):
    rooms = small_sample()
    with serve(rooms) as server:
        ident = rooms[0]["chat"]["id"]
        server.chats.close_room(ident, at="2024-03-01 23:00:00")
        server.chats.rate_room(ident, 5, "좋아요")  # only chat_data carries the rating
        run = run_streams(tmp_path, config_for(server), [ROOMS])
        want = expected(server)

    assert run.returncode == 0, run.stderr
    assert sent(run, MESSAGES) == []
    assert not any(m["type"] == "SCHEMA" and m["stream"] == MESSAGES for m in run.messages)
    assert sent(run, ROOMS) == want.rooms
    rated = next(r for r in sent(run, ROOMS) if r["id"] == ident)
    assert (rated["vote_score"], rated["vote_comment"]) == ("5", "좋아요")
    assert sorted(chat_data_requests(server)) == sorted(r["id"] for r in want.rooms)


def test_chat_messages_alone_sends_every_message_and_no_room(tmp_path):
    with serve(small_sample()) as server:
        run = run_streams(tmp_path, config_for(server), [MESSAGES])
        want = expected(server)

    assert run.returncode == 0, run.stderr
    assert sent(run, ROOMS) == []
    assert not any(m["type"] == "SCHEMA" and m["stream"] == ROOMS for m in run.messages)
    assert sent(run, MESSAGES) == want.all_messages


# --- 2. Complete and 3. Order ----------------------------------------------------------------

SAME_SECOND = "2024-03-02 12:00:00"
TEMPLATE = (
    '{"type":"buttons","text":"\\uc548\\ub155 \\/ 안녕","buttons":'
    '[{"name":"주문 조회","type":"text"}],"ratio":1.0,"x":  null}'
)


@pytest.fixture(scope="module")
def backfill(tmp_path_factory):
    """Four days (the third empty) and one made-up room; the chat streams, from one run."""
    rooms = sample_rooms(DAY1, 4, 6, 5, empty_days=[DAY1 + dt.timedelta(days=2)])
    with serve(rooms) as server:
        # Messages of one second, whose ids cross a power of ten: numeric order, not text.
        server.chats.add_room(
            id="T" * 30,
            reg_date=SAME_SECOND,
            tags=["#VIP", "#재문의"],
            messages=[
                {"id": "10000", "user_type": "C", "send_date": SAME_SECOND, "contents": "셋"},
                {"id": "9999", "user_type": "B", "send_date": SAME_SECOND, "contents": "둘"},
                {
                    "id": "9998",
                    "user_type": "B",
                    "send_date": SAME_SECOND,
                    "contents_type": "template",
                    "contents": TEMPLATE,
                },
            ],
        )
        tmp_path = tmp_path_factory.mktemp("backfill")
        run = run_streams(tmp_path, config_for(server, days=4), CHATS)
        return run, expected(server), list(server.requests)


def test_a_backfill_sends_every_room_once_with_every_message(backfill):
    run, want, asked = backfill

    assert run.returncode == 0, run.stderr
    assert len(want.rooms) == 19
    assert sent(run, ROOMS) == want.rooms
    assert sent(run, MESSAGES) == want.all_messages
    assert len({m["id"] for m in sent(run, MESSAGES)}) == 19 * 5 - 2
    assert room_bookmarks(run.messages)[-1] == "2024-03-05T00:00:00+09:00"
    assert run.error_lines == []
    # One page a day (each under 50 rooms), and each room's data read once.
    pages = [(r.sdate, r.page_number) for r in asked if r.path == CHAT_ROOM_LISTS_PATH]
    assert sorted(pages) == [(f"2024-03-0{n}", 1) for n in range(1, 5)]
    assert sorted(chat_data_requests(asked)) == sorted(r["id"] for r in want.rooms)


def test_rooms_leave_by_reg_date_then_id_each_after_its_messages(backfill):
    run, want, _ = backfill

    rooms = sent(run, ROOMS)
    assert [(r["reg_date"], r["id"]) for r in rooms] == sorted(
        (r["reg_date"], r["id"]) for r in rooms
    )
    # The sample shares a second between rooms: the order is total.
    assert len({r["reg_date"] for r in rooms}) < len(rooms)
    assert_sent_in_order_with_states_behind(run.messages, want)
    made_up = [m["id"] for m in sent(run, MESSAGES) if m["room_id"] == "T" * 30]
    assert made_up == ["9998", "9999", "10000"]


def test_a_state_follows_each_day_after_all_its_rooms_and_messages(backfill):
    run, want, _ = backfill

    assert bookmark_steps(run.messages) == day_ends(DAY1, 4)
    assert_sent_in_order_with_states_behind(run.messages, want)
    # Each day's STATE comes after the day's last room (which comes after its messages).
    for end in day_ends(DAY1, 4):
        last_room = [r["id"] for r in want.rooms if r["reg_date"] < end][-1]
        room_at = next(
            n
            for n, m in enumerate(run.messages)
            if m.get("stream") == ROOMS and m.get("record", {}).get("id") == last_room
        )
        state_at = next(n for n, m in enumerate(run.messages) if room_bookmarks([m]) == [end])
        assert room_at < state_at, end


def test_times_tags_votes_and_template_contents_come_as_decided(backfill):
    run, want, _ = backfill

    rooms, messages = sent(run, ROOMS), sent(run, MESSAGES)
    offset = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+09:00")
    assert all(offset.fullmatch(r["reg_date"]) for r in rooms)
    assert all(offset.fullmatch(m["send_date"]) for m in messages)
    open_rooms = [r for r in rooms if r["status"] in {"0", "1"}]
    assert open_rooms, "the sample has open rooms"
    assert all(r["complate_date"] is None for r in open_rooms)
    assert all(offset.fullmatch(r["complate_date"]) for r in rooms if r["status"] == "2")
    assert any(m["read_date"] is None for m in messages)  # unread: 0000-00-00 00:00:00
    assert all(
        isinstance(r["tags"], list) and all(isinstance(t, str) for t in r["tags"]) for r in rooms
    )
    assert next(r for r in rooms if r["id"] == "T" * 30)["tags"] == ["#VIP", "#재문의"]
    rated = [r for r in rooms if r["vote_score"] is not None]
    assert rated, "the sample rates every third done room"
    assert all(isinstance(r["vote_score"], str) for r in rated)
    assert [(r["vote_score"], r["vote_comment"]) for r in rooms] == [
        (r["vote_score"], r["vote_comment"]) for r in want.rooms
    ]
    templates = [m for m in messages if m["contents_type"] == "template"]
    assert len(templates) > 1
    held = {m["id"]: m["contents"] for m in want.all_messages}
    assert all(m["contents"] == held[m["id"]] for m in templates)
    assert next(m for m in templates if m["id"] == "9998")["contents"] == TEMPLATE


def test_days_over_50_rooms_page_through_to_total_count(tmp_path):
    # HappyTalk's table says page, limit and total_count are strings: this server sends them so.
    with serve(sample_rooms(DAY1, 2, 120, 3), paging_as_strings=True) as server:
        run = run_streams(tmp_path, config_for(server, days=2), CHATS)
        want = expected(server)

    assert run.returncode == 0, run.stderr
    assert sent(run, ROOMS) == want.rooms
    assert sent(run, MESSAGES) == want.all_messages
    assert len(want.rooms) == 240
    for day in ("2024-03-01", "2024-03-02"):
        asked = pages_asked(server, day)
        # Paged twice: two passes that agree are the proof that no room was hidden.
        assert [r.page_number for r in asked] == [1, 2, 3, 1, 2, 3]
        assert {(r.sort_key, r.sort_value, r.limit, r.edate) for r in asked} == {
            ("reg_date", "asc", 50, day)
        }


def test_a_room_opened_while_the_tap_pages_is_neither_lost_nor_repeated(tmp_path):
    late = "2024-03-01 23:59:59"
    with serve(sample_rooms(DAY1, 2, 120, 3)) as server:
        server.after_answer(lambda s: s.chats.add_room(reg_date=late), page=1, day="2024-03-01")
        run = run_streams(tmp_path, config_for(server, days=2), CHATS)
        want = expected(server)

    assert run.returncode == 0, run.stderr
    assert len(want.rooms) == 241
    rooms = sent(run, ROOMS)
    assert len({r["id"] for r in rooms}) == len(rooms)
    assert rooms == want.rooms
    assert sent(run, MESSAGES) == want.all_messages
    assert aware(late) in [r["reg_date"] for r in rooms]
    assert [r.page_number for r in pages_asked(server, "2024-03-01")] == [1, 2, 3, 1, 2, 3]


def test_a_room_that_leaves_the_list_while_the_tap_pages_hides_no_other(tmp_path):
    """Deleted after page 1, a room shifts the later pages back: the day is paged again."""
    with serve(sample_rooms(DAY1, 1, 120, 3)) as server:
        first = min(server.chats.rooms(), key=lambda room: room["chat"]["reg_date"])
        gone = first["chat"]["id"]
        server.after_answer(lambda s: s.chats.delete_room(gone), page=1, day="2024-03-01")
        run = run_streams(tmp_path, config_for(server, days=1), CHATS)
        still_there = {room["chat"]["id"] for room in server.chats.rooms()}
        pages = [r.page_number for r in pages_asked(server, "2024-03-01")]

    assert run.returncode == 0, run.stderr
    sent_ids = {r["id"] for r in sent(run, ROOMS)}
    assert still_there <= sent_ids  # nothing hidden behind a page already read
    assert gone in sent_ids  # listed, then gone: sent as listed, with a warning
    assert "were gone when read (-503 room)" in run.stderr
    assert pages == [1, 2, 3, 1, 2, 3, 1, 2, 3]  # the first two passes differ: a third


# --- 4. Current: open rooms are read again until they settle ---------------------------------


def hours_ago(now: dt.datetime, hours: float) -> str:
    return (now - dt.timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M:%S")


def recent_config(server: LocalHappyTalk, now: dt.datetime, **extra: Any) -> dict[str, Any]:
    """From five days ago in Korea to now (no end_date: the default margin of 300 s)."""
    config = config_for(server, start=(now - dt.timedelta(days=5)).date(), **extra)
    del config["end_date"]
    return config


def assert_near_now(bookmark: str, margin_seconds: int = 300) -> None:
    """A bookmark at the end of a run without end_date: now less the margin, to the second."""
    moment = dt.datetime.fromisoformat(bookmark)
    assert moment.utcoffset() == dt.timedelta(hours=9)
    expected_end = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=margin_seconds)
    assert abs((moment - expected_end).total_seconds()) < 60, bookmark


def open_room_ids(state: dict[str, Any], stream: str = ROOMS) -> list[str]:
    return [
        entry["id"]
        for entry in state["bookmarks"][stream]["ask_again"]
        if entry["unit"] == "room" and entry["why"] in {"open", "missing"}
    ]


@pytest.mark.parametrize("status", ["0", "1", "-1", "-2"])
def test_a_recent_open_room_joins_the_open_room_set_and_the_bookmark_moves_on(tmp_path, status):
    now = korea_now()
    with serve() as server:
        chats = server.chats
        chats.add_room(reg_date=hours_ago(now, 80), status="3")  # closed: deleted
        first_open = chats.add_room(reg_date=hours_ago(now, 50), status=status)
        chats.add_room(reg_date=hours_ago(now, 40), status="4")  # closed: chatbot ended
        second_open = chats.add_room(reg_date=hours_ago(now, 30), status="0")
        rated = chats.add_room(reg_date=hours_ago(now, 20), status="2")
        chats.rate_room(rated, 5)
        run = run_streams(tmp_path, recent_config(server, now, closed_room_grace_minutes=0), CHATS)
        want = expected(server)

    assert run.returncode == 0, run.stderr
    assert sent(run, ROOMS) == want.rooms
    assert sent(run, MESSAGES) == want.all_messages
    final = run.states[-1]
    assert open_room_ids(final) == [first_open, second_open]
    assert open_room_ids(final, MESSAGES) == [first_open, second_open]
    assert final["bookmarks"][ROOMS]["ask_again"][0]["reg_date"] == aware(hours_ago(now, 50))
    assert_near_now(room_bookmarks(run.messages)[-1])


def test_an_open_room_is_read_again_until_it_closes_then_passed(tmp_path):
    now = korea_now()
    with serve() as server:
        chats = server.chats
        chats.add_room(reg_date=hours_ago(now, 70), status="2")
        waiting = chats.add_room(reg_date=hours_ago(now, 50), status="1")
        chats.add_room(reg_date=hours_ago(now, 30), status="2")
        # No grace: the closed rooms settle when first read (the grace has its own tests).
        config = recent_config(server, now, closed_room_grace_minutes=0)

        first = run_streams(tmp_path, config, CHATS)
        first_want = expected(server)
        asked = len(server.requests)
        second = run_streams(tmp_path, config, CHATS, state=first.states[-1])
        second_requests = server.requests[asked:]

        closed_at = chats.close_room(waiting, at=hours_ago(now, 2))
        chats.rate_room(waiting, 4, "빠른 처리 감사해요")
        new_message = chats.add_message(waiting, "해결됐어요, 감사합니다.", send_date=closed_at)
        third = run_streams(tmp_path, config, CHATS, state=second.states[-1])
        third_want = expected(server)
        asked = len(server.requests)
        fourth = run_streams(tmp_path, config, CHATS, state=third.states[-1])
        fourth_requests = server.requests[asked:]

    for run in (first, second, third, fourth):
        assert run.returncode == 0, run.stderr
    # The first run sends everything; the room still open joins the set.
    assert sent(first, ROOMS) == first_want.rooms
    assert open_room_ids(first.states[-1]) == [waiting]
    assert_near_now(room_bookmarks(first.messages)[-1])
    # The next run reads that one room again by id, and no other.
    assert chat_data_requests(second_requests) == [waiting]
    assert [r["id"] for r in sent(second, ROOMS)] == [waiting]
    assert sent(second, MESSAGES) == first_want.messages[waiting]
    # Closed, rated and with a new message: sent again as it is now; the set is empty.
    (resent,) = sent(third, ROOMS)
    assert resent == next(r for r in third_want.rooms if r["id"] == waiting)
    assert resent["status"] == "2"
    assert resent["complate_date"] == aware(closed_at)
    assert (resent["vote_score"], resent["vote_comment"]) == ("4", "빠른 처리 감사해요")
    assert resent["last_message"] == "해결됐어요, 감사합니다."
    assert new_message in [m["id"] for m in sent(third, MESSAGES)]
    assert sent(third, MESSAGES) == third_want.messages[waiting]
    assert open_room_ids(third.states[-1]) == []
    # Nothing is read again without bound: the fourth run reads no room.
    assert sent(fourth, ROOMS) == []
    assert chat_data_requests(fourth_requests) == []


@pytest.mark.parametrize(
    ("recheck_days", "opened_hours_ago"),
    [(2, 72), (0, 1)],
    ids=["open-longer-than-the-cap", "recheck-0"],
)
def test_an_open_room_outside_the_recheck_period_does_not_join_the_set(
    tmp_path, recheck_days, opened_hours_ago
):
    now = korea_now()
    with serve() as server:
        server.chats.add_room(reg_date=hours_ago(now, 90), status="2")
        server.chats.add_room(reg_date=hours_ago(now, opened_hours_ago), status="1")
        config = recent_config(server, now, open_room_recheck_days=recheck_days)
        run = run_streams(tmp_path, config, CHATS)
        want = expected(server)

    assert run.returncode == 0, run.stderr
    assert sent(run, ROOMS) == want.rooms
    assert len(want.rooms) == 2
    assert_near_now(room_bookmarks(run.messages)[-1])
    assert open_room_ids(run.states[-1]) == []


# --- 5. Resumable ----------------------------------------------------------------------------


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_run_stopped_anywhere_resumes_from_its_last_state_losing_nothing(tmp_path, stop):
    rooms = sample_rooms(DAY1, 6, 4, 3, empty_days=[DAY1 + dt.timedelta(days=3)])
    with serve(rooms, latency_seconds=0.02) as server:
        # Two requests at a time: the last day's rooms are still being read when any line
        # before them is out, so the signal lands before the run ends.
        config = config_for(server, days=6, max_concurrent_requests=2)
        full = run_streams(tmp_path, config, CHATS)
        want = expected(server)
        assert full.returncode == 0, full.stderr
        total = len(full.stdout.splitlines())
        last_day = next(
            n
            for n, m in enumerate(full.messages)
            if m["type"] == "RECORD" and m["record"].get("send_date", "").startswith("2024-03-06")
        )
        for lines in random.Random(f"chats-{stop}").sample(range(2, last_day), 4):
            catalog = ("--catalog", str(catalog_file(tmp_path, CHATS)))
            before, returncode = run_until_stopped(tmp_path, config, lines, stop, args=catalog)
            assert len(before) < total, "the tap finished before it was stopped"
            bookmarks = room_bookmarks(before)
            if stop == signal.SIGTERM:
                assert returncode == 1  # a graceful stop: incomplete, and said so
            resume_at = bookmarks[-1] if bookmarks else None
            states = [m["value"] for m in before if m["type"] == "STATE"]
            rerun = run_streams(tmp_path, config, CHATS, state=states[-1] if states else None)
            assert rerun.returncode == 0, rerun.stderr

            # The bookmark is the end of the last day whose rooms all went out: a day cut
            # short is read again, whole.
            if resume_at is not None:
                assert resume_at in day_ends(DAY1, 6)
                assert want.rooms_before(resume_at) <= {r["id"] for r in sent(before, ROOMS)}
            again = [r for r in want.rooms if resume_at is None or r["reg_date"] >= resume_at]
            assert sent(rerun, ROOMS) == again, f"stopped after {lines} lines"
            assert sent(rerun, MESSAGES) == [m for r in again for m in want.messages[r["id"]]]
            first_rooms = {r["id"] for r in sent(before, ROOMS)}
            assert first_rooms | {r["id"] for r in again} == {r["id"] for r in want.rooms}
            first_messages = {m["id"] for m in sent(before, MESSAGES)}
            every_message = {m["id"] for m in want.all_messages}
            assert first_messages | {m["id"] for m in sent(rerun, MESSAGES)} == every_message
            resent = first_rooms & {r["id"] for r in again}
            assert len({want.day_of(ident) for ident in resent}) <= 1, "more than a day re-sent"


def test_sigterm_while_a_room_hangs_ends_the_run_within_seconds(tmp_path):
    rooms = sample_rooms(DAY1, 3, 3, 3)
    hanging = rooms[4]["chat"]["id"]  # the second room of 2024-03-02
    with serve(rooms) as server:
        server.inject(Fault("delay", seconds=60), room_id=hanging)
        config = config_for(server, request_timeout_seconds=120)
        catalog = catalog_file(tmp_path, CHATS)
        command = [*TAP, "--config", str(write_json(tmp_path / "config.json", config))]
        with subprocess.Popen(
            [*command, "--catalog", str(catalog)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=tap_env(),
        ) as process:
            deadline = time.monotonic() + 30
            while hanging not in chat_data_requests(server) and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(0.3)  # the rooms before it are out; the tap waits for this one
            stopped_at = time.monotonic()
            process.send_signal(signal.SIGTERM)
            output, errors = process.communicate(timeout=30)
            took = time.monotonic() - stopped_at
        before = parse_messages(output.decode())
        last_state = [m["value"] for m in before if m["type"] == "STATE"][-1]
        rerun = run_streams(tmp_path, config, CHATS, state=last_state)
        want = expected(server)

    assert process.returncode == 1, errors.decode()  # stopped: incomplete, and said so
    assert took < 5
    assert room_bookmarks(before)[-1] == "2024-03-02T00:00:00+09:00"
    assert hanging not in {r["id"] for r in sent(before, ROOMS)}
    assert rerun.returncode == 0, rerun.stderr
    assert sent(rerun, ROOMS) == want.rooms[3:]
    assert sent(rerun, MESSAGES) == [m for r in want.rooms[3:] for m in want.messages[r["id"]]]


# --- 6. Parallel -----------------------------------------------------------------------------


def test_room_data_is_read_in_parallel_and_sent_in_order(tmp_path):
    with serve(sample_rooms(DAY1, 3, 8, 3), latency_seconds=0.01, jitter_seconds=0.05) as server:
        sequential = run_streams(tmp_path, config_for(server, max_concurrent_requests=1), CHATS)
        one_at_a_time = max(r.concurrent for r in server.requests)
        asked = len(server.requests)
        parallel = run_streams(tmp_path, config_for(server, max_concurrent_requests=4), CHATS)
        in_parallel = server.requests[asked:]
        want = expected(server)

    assert sequential.returncode == parallel.returncode == 0, parallel.stderr
    assert one_at_a_time == 1
    assert max(r.concurrent for r in in_parallel) == 4
    assert max(r.concurrent for r in in_parallel if r.path == CHAT_DATA_PATH) == 4
    # Answers came back out of order (jitter); records did not.
    assert sent(parallel, ROOMS) == want.rooms
    assert sent(parallel, MESSAGES) == want.all_messages
    assert parallel.records == sequential.records
    assert bookmark_steps(parallel.messages) == bookmark_steps(sequential.messages)
    assert_sent_in_order_with_states_behind(parallel.messages, want)


def test_a_429_on_a_room_pauses_every_request_then_completes(tmp_path):
    rooms = sample_rooms(DAY1, 5, 8, 3)
    refused_room = rooms[2]["chat"]["id"]
    with serve(rooms, latency_seconds=0.05) as server:
        server.inject(Fault("status", status=429, retry_after="1"), room_id=refused_room)
        run = run_streams(tmp_path, config_for(server, days=5, max_concurrent_requests=4), CHATS)
        requests = list(server.requests)
        want = expected(server)

    assert run.returncode == 0, run.stderr
    assert sent(run, ROOMS) == want.rooms
    assert sent(run, MESSAGES) == want.all_messages
    refused = next(r for r in requests if r.room_id == refused_room)
    told = refused.received_at + 0.05  # the tap reads the 429 after the server's latency
    # Requests already on the wire may still land; none is sent during the second's pause.
    assert [r for r in requests if told + 0.1 < r.received_at < told + 0.9] == []
    after = [r for r in requests if r.received_at >= told + 0.9]
    assert len(after) >= 20
    assert {r.path for r in after} == {CHAT_DATA_PATH, CHAT_ROOM_LISTS_PATH}
    assert len([r for r in requests if r.room_id == refused_room]) == 2
    assert "all requests pause 1.0s" in run.stderr


# --- 7. A token that may not read chats ------------------------------------------------------

HELD = {"replication_key": "reg_date", "replication_key_value": "2024-03-02T00:00:00+09:00"}


@pytest.mark.parametrize("state", [None, {"bookmarks": {ROOMS: HELD}}], ids=["new", "resumed"])
def test_a_token_without_chat_permission_keeps_service_history_running(tmp_path, state):
    events = sample_events(DAY1, 3, 5)
    with serve(small_sample(), events=events, chat_permission=False) as server:
        run = run_streams(tmp_path, config_for(server), state=state)

    assert run.returncode == 0, run.stderr
    assert sorted(r["id"] for r in sent(run, STREAMS)) == sorted(e["id"] for e in events)
    assert run.states[-1]["bookmarks"][STREAMS]["replication_key_value"] == (
        "2024-03-04T00:00:00+09:00"
    )
    assert sent(run, ROOMS) == sent(run, MESSAGES) == []
    (warning,) = [line for line in warnings(run) if "-502" in line]
    assert "unAuthorized" in warning
    assert "chat_rooms and chat_messages are skipped" in warning
    assert run.error_lines == []
    if state is None:
        assert room_bookmarks(run.messages) == []
    else:
        assert set(room_bookmarks(run.messages)) == {HELD["replication_key_value"]}
    assert_no_secret(run)


# --- 8. Bad answers --------------------------------------------------------------------------

DAY2 = "2024-03-02"
DAY2_START = "2024-03-02T00:00:00+09:00"


@dataclass(frozen=True)
class Sample:
    """Three days of three rooms; `room` is the second room of 2024-03-02."""

    server: LocalHappyTalk
    room: str
    message: str  # the second message of `room`


def listed(server: LocalHappyTalk, day: str, page: int = 1) -> list[dict[str, Any]]:
    """The day's rooms as a page of the room list shows them, oldest first."""
    body = {"sdate": day, "edate": day, "sort_value": "asc", "limit": 50, "page": page}
    return list(server.chats.room_list(body)["data"]["chat_list"])


# Every fault lasts longer than the retries (max_retries 2): an answer HappyTalk does not
# document is retried, and ends the run only when it persists.
LASTING = 5


def on_list(fault: Fault) -> Callable[[Sample], None]:
    return lambda s: s.server.inject(fault, path=CHAT_ROOM_LISTS_PATH, day=DAY2, times=LASTING)


def on_room(fault: Fault) -> Callable[[Sample], None]:
    return lambda s: s.server.inject(fault, room_id=s.room, times=LASTING)


NOT_JSON = "<html><body>점검 중</body></html>"
# Each keeps failing through a run's retries: the unit (the day's list, or the room) is set
# aside and named in a WARNING, the run goes on and exits 3, and the next run sends it whole.
FAILING = {
    "chat_list-not-a-list": (
        on_list(Fault("edit_data", body={"chat_list": {"rooms": []}})),
        ("no 'chat_list' of rooms", DAY2),
    ),
    "total_count-too-large": (
        on_list(Fault("edit_data", body={"total_count": 7})),
        ("ends at room 3 of its own total_count 7", DAY2, "after 3 attempts"),
    ),
    "room-without-id": (
        on_list(Fault("edit_rooms", remove=["id"], index=1)),
        ("a room without an id", DAY2),
    ),
    "malformed-reg_date": (
        on_list(Fault("edit_rooms", body={"reg_date": "2024-03-02T10:00:00"}, index=0)),
        ("reg_date '2024-03-02T10:00:00'", "not Y-m-d H:i:s", DAY2),
    ),
    "list-not-json": (on_list(Fault("body", status=200, text=NOT_JSON)), ("not JSON", DAY2)),
    "page-past-total_count": (
        on_list(Fault("edit_data", body={"total_count": 0})),
        ("past its own total_count 0", DAY2, "after 3 attempts"),
    ),
    "chat_data-without-a-room": (
        on_room(Fault("body", status=200, text='{"result": "success", "data": []}')),
        ("holds no room", "{room}"),
    ),
    "message-without-id": (
        on_room(Fault("edit_messages", remove=["id"], index=0)),
        ("a record without an id", "room {room}"),
    ),
    "malformed-send_date": (
        on_room(Fault("edit_messages", body={"send_date": "2024-03-02 25:00:00"}, index=1)),
        ("record {message}", "room {room}", "send_date '2024-03-02 25:00:00'", "not Y-m-d H:i:s"),
    ),
    "chat_data-without-messages": (
        lambda s: s.server.inject(
            Fault(
                "body",
                status=200,
                text=json.dumps(
                    {
                        "result": "success",
                        "data": [{"chat": {"id": s.room, "reg_date": "2024-03-02 10:00:00"}}],
                    }
                ),
            ),
            room_id=s.room,
            times=LASTING,
        ),
        ("no list of messages", "{room}", "after 3 attempts"),
    ),
    "chat_data-not-json": (
        on_room(Fault("body", status=200, text=NOT_JSON)),
        ("not JSON", "{room}"),
    ),
}


@pytest.fixture
def three_days():
    rooms = sample_rooms(DAY1, 3, 3, 3)
    with serve(rooms) as server:
        room = rooms[4]
        yield Sample(server, room["chat"]["id"], room["message"][1]["id"])


@pytest.mark.parametrize("case", list(FAILING))
def test_a_unit_that_keeps_failing_is_set_aside_and_sent_whole_next_run(tmp_path, three_days, case):
    """TRUST 11: the failing unit never holds back the others, and comes when it answers."""
    inject, fragments = FAILING[case]
    inject(three_days)
    server = three_days.server
    want = expected(server)
    first = run_streams(tmp_path, config_for(server), CHATS)
    server.clear_faults()
    second = run_streams(tmp_path, config_for(server), CHATS, state=first.states[-1])

    assert first.returncode == 3, first.stderr
    assert "Traceback" not in first.stderr
    set_aside = [line for line in warnings(first) if "set aside, asked again next run" in line]
    for fragment in fragments:
        assert any(
            fragment.format(room=three_days.room, message=three_days.message) in line
            for line in set_aside
        ), set_aside
    incomplete = [line for line in warnings(first) if "the data is incomplete" in line]
    assert len(incomplete) == 3, incomplete  # each chat stream's, then the run's
    final = first.states[-1]["bookmarks"]
    for stream in CHATS:  # every day was walked: the point is past the last one
        assert final[stream]["replication_key_value"] == "2024-03-04T00:00:00+09:00"
        (entry,) = final[stream]["ask_again"]
        assert entry["why"] == "failed"
    got = {r["id"] for r in sent(first, ROOMS)}
    lost = {r["id"] for r in want.rooms} - got
    assert lost <= {r["id"] for r in want.rooms if r["reg_date"].startswith(DAY2)}
    assert any(r["reg_date"].startswith("2024-03-03") for r in sent(first, ROOMS))
    assert second.returncode == 0, second.stderr
    assert {r["id"] for r in sent(second, ROOMS)} >= lost
    by_id = {r["id"]: r for r in sent(first, ROOMS) + sent(second, ROOMS)}
    assert [by_id[r["id"]] for r in want.rooms] == want.rooms
    messages = {m["id"]: m for m in sent(first, MESSAGES) + sent(second, MESSAGES)}
    assert sorted(messages) == sorted(m["id"] for m in want.all_messages)
    for stream in CHATS:
        assert second.states[-1]["bookmarks"][stream]["ask_again"] == []
    assert_no_secret(first)
    assert_no_secret(second)


def test_a_refused_token_still_ends_the_run_with_one_line(tmp_path, three_days):
    on_list(Fault("refuse", body={"code": -501, "message": "token"}))(three_days)
    run = run_streams(tmp_path, config_for(three_days.server), CHATS)

    assert run.returncode == 1, run.stderr
    (line,) = run.error_lines
    for fragment in ("-501 token", "check the `token` setting", DAY2):
        assert fragment in line, line
    assert room_bookmarks(run.messages)[-1:] == [DAY2_START], "2024-03-01's STATE"
    assert_no_secret(run)


def test_a_day_listed_without_data_is_empty_for_now_and_asked_again(tmp_path, three_days):
    """TRUST 5: an answer that may be an honest empty one is confirmed by asking again."""
    server = three_days.server
    server.inject(
        Fault("body", status=200, text='{"result": "success"}'), path=CHAT_ROOM_LISTS_PATH, day=DAY2
    )
    want = expected(server)
    first = run_streams(tmp_path, config_for(server), CHATS)
    second = run_streams(tmp_path, config_for(server), CHATS, state=first.states[-1])

    assert first.returncode == second.returncode == 0, first.stderr
    assert not [r for r in sent(first, ROOMS) if r["reg_date"].startswith(DAY2)]
    (entry,) = first.states[-1]["bookmarks"][ROOMS]["ask_again"]
    assert (entry["unit"], entry["why"], entry["start"]) == ("window", "unconfirmed", DAY2_START)
    assert [r["id"] for r in sent(second, ROOMS)] == [
        r["id"] for r in want.rooms if r["reg_date"].startswith(DAY2)
    ]
    assert second.states[-1]["bookmarks"][ROOMS]["ask_again"] == []


ONCE = {
    "chat_list-not-a-list": Fault("edit_data", body={"chat_list": {"rooms": []}}),
    "list-not-json": Fault("body", status=200, text=NOT_JSON),
}


@pytest.mark.parametrize("case", list(ONCE))
def test_an_undocumented_answer_once_is_asked_again_and_loses_nothing(tmp_path, three_days, case):
    """A success without data once marked its day done, and its rooms never came."""
    server = three_days.server
    server.inject(ONCE[case], path=CHAT_ROOM_LISTS_PATH, day=DAY2)
    want = expected(server)
    run = run_streams(tmp_path, config_for(server), CHATS)

    assert run.returncode == 0, run.stderr
    (warning,) = [line for line in warnings(run) if "retry 1 of 2" in line]
    assert f"the rooms of {DAY2}, page 1" in warning
    assert sent(run, ROOMS) == want.rooms
    assert sent(run, MESSAGES) == want.all_messages
    assert bookmark_steps(run.messages) == day_ends(DAY1, 3)
    assert_no_secret(run)


def test_a_room_listed_under_another_day_is_counted_and_left_to_its_own(tmp_path, three_days):
    server = three_days.server
    stray = listed(server, "2024-03-03")[0]
    server.inject(Fault("extra_rows", rows=[stray]), path=CHAT_ROOM_LISTS_PATH, day=DAY2)
    want = expected(server)
    run = run_streams(tmp_path, config_for(server), CHATS)

    assert run.returncode == 0, run.stderr
    (warning,) = [line for line in warnings(run) if "another day" in line]
    assert f"Rooms of {DAY2}" in warning
    assert "listed 1 rooms opened on another day" in warning
    assert sent(run, ROOMS) == want.rooms  # once, on its own day
    assert sent(run, MESSAGES) == want.all_messages
    assert_no_secret(run)


def test_a_room_deleted_before_it_is_read_is_sent_as_listed_with_a_warning(tmp_path, three_days):
    server, gone = three_days.server, three_days.room
    want = expected(server)
    as_listed = next(r for r in want.rooms if r["id"] == gone)
    server.after_answer(lambda s: s.chats.delete_room(gone), day=DAY2, page=1)
    run = run_streams(tmp_path, config_for(server), CHATS)

    assert run.returncode == 0, run.stderr
    (warning,) = [line for line in warnings(run) if "gone when read" in line]
    assert f"Rooms of {DAY2}" in warning
    assert "1 rooms were gone when read (-503 room)" in warning
    # As the list showed it: the rating is only in chat_data.
    without_vote = {k: v for k, v in as_listed.items() if k not in {"vote_score", "vote_comment"}}
    assert sent(run, ROOMS) == [without_vote if r["id"] == gone else r for r in want.rooms]
    assert sent(run, MESSAGES) == [
        m for r in want.rooms if r["id"] != gone for m in want.messages[r["id"]]
    ]
    assert gone in chat_data_requests(server)
    assert bookmark_steps(run.messages) == day_ends(DAY1, 3)
    assert_no_secret(run)


def test_a_page_over_50_rooms_is_a_warning_and_loses_or_repeats_nothing(tmp_path):
    with serve(sample_rooms(DAY1, 1, 55, 3)) as server:
        overflow = listed(server, "2024-03-01", page=2)
        assert len(overflow) == 5
        server.inject(
            Fault("extra_rows", rows=overflow), path=CHAT_ROOM_LISTS_PATH, day="2024-03-01", page=1
        )
        run = run_streams(tmp_path, config_for(server, days=1), CHATS)
        want = expected(server)

    assert run.returncode == 0, run.stderr
    (warning,) = [line for line in warnings(run) if "more than 50" in line]
    assert "55 rooms for the rooms of 2024-03-01, page 1" in warning
    assert sent(run, ROOMS) == want.rooms
    assert sent(run, MESSAGES) == want.all_messages
    # The first pass saw 55 on page 1, the next 50: a third pass agrees with the second.
    assert [r.page_number for r in pages_asked(server, "2024-03-01")] == [1, 2, 1, 2, 1, 2]


# --- 9. Privacy ------------------------------------------------------------------------------


def salted(value: str | None) -> str | None:
    return hashlib.sha256(f"pepper{value}".encode()).hexdigest() if value else None


def test_the_privacy_map_is_the_one_the_readme_shows():
    readme = documentation()
    block = readme.split("<!-- privacy-map-chats -->", 1)[1].split("```yaml", 1)[1]
    (plugin,) = yaml.safe_load(block.split("```", 1)[0])
    assert plugin["config"] == PRIVACY_MAPS


def test_the_privacy_map_hashes_customers_and_drops_what_they_wrote(tmp_path):
    events = sample_events(DAY1, 3, 5)
    maps = json.loads(json.dumps(PRIVACY_MAPS))
    maps["stream_map_config"]["hash_salt"] = "pepper"
    with serve(small_sample(), events=events) as server:
        run = run_streams(tmp_path, {**config_for(server), **maps})
        want = expected(server)

    assert run.returncode == 0, run.stderr
    said = " ".join(m["contents"] for m in want.all_messages)
    assert PHONE.search(said), "the sample's customers give phone numbers"
    assert any(name in said for name in CUSTOMER_NAMES)
    assert any(PHONE.search(r["last_message"]) for r in want.rooms), "and last_message shows it"
    assert not PHONE.search(run.stdout)
    assert not any(name in run.stdout for name in CUSTOMER_NAMES)
    for room in want.rooms:
        assert room["customer_uuid"] not in run.stdout
        assert not room["users_id"] or room["users_id"] not in run.stdout

    dropped = {"title", "last_message", "user_parameter", "vote_comment", "extra_fields"}
    rooms = sent(run, ROOMS)
    assert [r["id"] for r in rooms] == [r["id"] for r in want.rooms]
    for record, room in zip(rooms, want.rooms, strict=True):
        assert not dropped & set(record)
        assert record["customer_uuid"] == salted(room["customer_uuid"])
        assert record["users_id"] == salted(room["users_id"])
        assert record == {
            **{k: v for k, v in room.items() if k not in dropped},
            "customer_uuid": record["customer_uuid"],
            "users_id": record["users_id"],
        }
    messages = sent(run, MESSAGES)
    assert [m["id"] for m in messages] == [m["id"] for m in want.all_messages]
    for record, message in zip(messages, want.all_messages, strict=True):
        assert "contents" not in record
        assert record["from_id"] == salted(message["from_id"])
        assert record["to_id"] == salted(message["to_id"])
        assert record == {
            **{k: v for k, v in message.items() if k != "contents"},
            "from_id": record["from_id"],
            "to_id": record["to_id"],
        }
    assert sorted(r["id"] for r in sent(run, STREAMS)) == sorted(e["id"] for e in events)
    schemas = {m["stream"]: m["schema"] for m in run.messages if m["type"] == "SCHEMA"}
    assert not dropped & set(schemas[ROOMS]["properties"])
    assert "contents" not in schemas[MESSAGES]["properties"]
    assert_no_secret(run)


# --- 10. --test ------------------------------------------------------------------------------


def test_test_mode_with_the_chat_streams_selected_sends_one_record_each(tmp_path):
    events = sample_events(DAY1, 3, 5)
    with serve(small_sample(), events=events) as server:
        run = run_streams(tmp_path, config_for(server), args=("--test",))
        want = expected(server)

    assert run.returncode == 0, run.stderr
    assert sent(run, ROOMS) == want.rooms[:1]
    assert sent(run, MESSAGES) == want.messages[want.rooms[0]["id"]][:1]
    assert len(sent(run, STREAMS)) == 1
    # As for service history alone (test_trust): a --test that succeeds logs no error.
    assert run.error_lines == []
