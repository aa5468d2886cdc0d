"""The local server's chat calls keep the HappyTalk promises that the tap relies on.

HappyTalk's chat API page (room list, one room, fail codes): the room list's paging, `total_count`,
its maximum of 50, its sort while rooms are opened, its status and day filters; chat_data's
answer and its -503 room; the token refusals; a room that changes between two reads. The
server's answers to undocumented cases are assumptions, listed in `local_happytalk.server`.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re

import pytest
import requests

from local_happytalk import LocalHappyTalk, sample_events, sample_rooms
from local_happytalk.chats import CHAT_DATA_PATH, CHAT_ROOM_LISTS_PATH
from tap_happytalk.endpoints import CUSTOMER

NO_PERMISSION = "known-token-without-permission"
DAY = "2024-03-01"
NEXT_DAY = "2024-03-02"
# The server's clock in these tests: the morning after DAY, after every sample room of DAY.
NOW = dt.datetime(2024, 3, 2, 9, 0, 0)
STAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
OPEN = "0000-00-00 00:00:00"

# HappyTalk's chat API page, section 1: a room of the list (tags, user_parameter: live pages).
ROOM_KEYS = {
    "id",
    "title",
    "counselor_name",
    "counselor_nickname",
    "customer_uuid",
    "users_id",
    "category_id",
    "division_id",
    "cate_name1",
    "cate_name2",
    "etc_assign",
    "reg_date",
    "complate_date",
    "out_api",
    "status",
    "order_number",
    "product_number",
    "parcel_number",
    "parcel_companycode",
    "app_ver",
    "phone_os",
    "phone_model",
    "phone_osver",
    "phone_telecomm",
    "app_hash",
    *(f"parameter{n}" for n in range(1, 11)),
    "last_message",
    "tags",
    "user_parameter",
}
# Its section 2: chat_data's room has those minus last_message, plus the rating.
CHAT_KEYS = (ROOM_KEYS - {"last_message"}) | {"vote_score", "vote_comment"}
MESSAGE_KEYS = {
    "id",
    "from_id",
    "to_id",
    "type",
    "user_type",
    "contents_type",
    "contents",
    "send_date",
    "read_date",
}


def now():
    return NOW


def rooms_of(day=DAY, rooms_per_day=23, days=1):
    return sample_rooms(dt.date.fromisoformat(day), days, rooms_per_day, 6)


@pytest.fixture(scope="module")
def server():
    """23 rooms on DAY; the tests that change rooms start servers of their own."""
    with LocalHappyTalk(rooms=rooms_of(), unauthorized_tokens=[NO_PERMISSION], clock=now) as one:
        yield one


def post(server, path, body):
    response = requests.post(server.url + path, json=body, timeout=5)
    assert response.status_code == 200
    return response.json()


def page_of(server, **body):
    answer = post(server, CHAT_ROOM_LISTS_PATH, {"token": server.token, **body})
    assert answer["result"] == "success", answer
    return answer["data"]


def every_room(server, **body):
    """Every room asked for, on one page of the most a page holds."""
    data = page_of(server, limit=50, **body)
    assert int(data["total_count"]) == len(data["chat_list"])
    return data["chat_list"]


def chat_data(server, room_id):
    return post(server, CHAT_DATA_PATH, {"token": server.token, "room_id": room_id})


@pytest.mark.parametrize("as_strings", [False, True], ids=["numbers", "strings"])
def test_pages_hold_limit_rooms_cover_every_room_once_and_total_count_counts_them(as_strings):
    rooms = rooms_of()
    with LocalHappyTalk(rooms=rooms, paging_as_strings=as_strings) as server:
        pages = [page_of(server, ndate=DAY, limit=10, page=n) for n in (1, 2, 3)]

    number = str if as_strings else int  # documented as strings, shown as numbers
    assert [len(page["chat_list"]) for page in pages] == [10, 10, 3]
    assert [page["total_count"] for page in pages] == [number(23)] * 3
    assert [(page["page"], page["limit"]) for page in pages] == [
        (number(n), number(10)) for n in (1, 2, 3)
    ]
    seen = [room["id"] for page in pages for room in page["chat_list"]]
    assert sorted(seen) == sorted(room["chat"]["id"] for room in rooms)


def test_a_page_holds_10_rooms_unless_told_and_never_more_than_50():
    with LocalHappyTalk(rooms=rooms_of(rooms_per_day=60)) as server:
        default = page_of(server, ndate=DAY)
        most = page_of(server, ndate=DAY, limit=50)
        over = page_of(server, ndate=DAY, limit=100)

    assert len(default["chat_list"]) == 10
    assert len(most["chat_list"]) == 50
    assert len(over["chat_list"]) <= 50
    assert default["total_count"] == most["total_count"] == over["total_count"] == 60


@pytest.mark.parametrize("sort_key", ["reg_date", "complate_date"])
@pytest.mark.parametrize("sort_value", ["asc", "desc"])
def test_rooms_come_sorted_as_asked_and_in_the_same_order_every_time(server, sort_key, sort_value):
    body = {"ndate": DAY, "sort_key": sort_key, "sort_value": sort_value}
    rooms = every_room(server, **body)
    again = [room for n in (1, 2, 3) for room in page_of(server, page=n, **body)["chat_list"]]

    keys = [room[sort_key] for room in rooms]
    assert keys == sorted(keys, reverse=sort_value == "desc")
    # The sample shares seconds of reg_date between rooms: their order holds across pages too.
    assert len(set(keys)) < len(keys)
    assert [room["id"] for room in again] == [room["id"] for room in rooms]


def test_the_default_sort_is_reg_date_newest_first(server):
    explicit = every_room(server, ndate=DAY, sort_key="reg_date", sort_value="desc")

    assert every_room(server, ndate=DAY) == explicit


@pytest.mark.parametrize("sort_value", ["asc", "desc"])
def test_a_room_opened_between_two_pages_shifts_newest_first_pages_only(sort_value):
    with LocalHappyTalk(rooms=rooms_of(rooms_per_day=12), clock=now) as server:
        ask = functools.partial(
            page_of, server, sdate=DAY, edate=NEXT_DAY, sort_value=sort_value, limit=5
        )
        before = [room["id"] for n in (1, 2, 3) for room in ask(page=n)["chat_list"]]
        first = ask(page=1)
        opened = server.chats.add_room()  # registered now: after every other room
        later = [ask(page=n) for n in (2, 3)]

    seen = [room["id"] for page in (first, *later) for room in page["chat_list"]]
    assert later[0]["total_count"] == 13
    if sort_value == "asc":
        # The new room sorts last: the pages already read do not move, nothing is lost.
        assert seen == [*before, opened]
    else:
        # The new room sorts first: every room moves one place down, page 2 repeats page 1's
        # last room, and the client never sees the new one.
        assert later[0]["chat_list"][0]["id"] == first["chat_list"][-1]["id"]
        assert opened not in seen
        assert sorted(set(seen)) == sorted(before)


def test_status_keeps_the_rooms_of_that_status_and_99_or_none_keeps_all(server):
    everything = every_room(server, ndate=DAY, status=99)

    assert every_room(server, ndate=DAY) == everything
    for status in (0, 1, 2):
        chosen = every_room(server, ndate=DAY, status=status)
        assert chosen  # the sample has rooms of each
        assert chosen == [room for room in everything if room["status"] == str(status)]


def test_sdate_and_edate_come_before_ndate_and_ndate_before_today():
    def clock():
        return dt.datetime(2024, 3, 3, 23, 59, 59)

    with LocalHappyTalk(rooms=rooms_of(rooms_per_day=4, days=3), clock=clock) as server:
        ranged = every_room(server, sdate="2024-03-01", edate="2024-03-02", ndate="2024-03-03")
        one_day = every_room(server, ndate="2024-03-02")
        today = every_room(server)

    # The day of a room is its reg_date's (an assumption: HappyTalk does not say, A9).
    assert sorted({room["reg_date"][:10] for room in ranged}) == ["2024-03-01", "2024-03-02"]
    assert len(ranged) == 8
    assert {room["reg_date"][:10] for room in one_day} == {"2024-03-02"}
    assert len(one_day) == 4
    assert {room["reg_date"][:10] for room in today} == {"2024-03-03"}
    assert len(today) == 4


def test_listed_rooms_carry_the_documented_fields_as_strings(server):
    rooms = every_room(server, ndate=DAY)

    assert all(set(room) == ROOM_KEYS for room in rooms)
    assert all(len(room["id"]) == 30 for room in rooms)
    assert all(STAMP.fullmatch(room["reg_date"]) for room in rooms)
    assert {room["status"] for room in rooms} >= {"0", "1", "2"}
    assert {room["out_api"] for room in rooms} >= {"0", "1", "2"}
    done = [room for room in rooms if room["status"] == "2"]
    assert all(
        STAMP.fullmatch(room["complate_date"]) and room["complate_date"] != OPEN for room in done
    )
    assert all(room["complate_date"] == OPEN for room in rooms if room["status"] in {"0", "1"})
    assert all(tag.startswith("#") for room in rooms for tag in room["tags"])


def test_chat_data_answers_the_room_with_its_rating_and_every_message(server):
    listed = {room["id"]: room for room in every_room(server, ndate=DAY)}
    answers = {room_id: chat_data(server, room_id) for room_id in listed}

    assert all(answer["result"] == "success" for answer in answers.values())
    assert all(len(answer["data"]) == 1 for answer in answers.values())
    for room_id, answer in answers.items():
        [item] = answer["data"]
        assert set(item) == {"chat", "message"}
        chat, messages = item["chat"], item["message"]
        assert set(chat) == CHAT_KEYS
        assert {k: v for k, v in chat.items() if not k.startswith("vote_")} == {
            k: v for k, v in listed[room_id].items() if k != "last_message"
        }
        assert messages
        assert all(set(message) == MESSAGE_KEYS for message in messages)
        assert all(message["id"].isdigit() for message in messages)
        assert all(STAMP.fullmatch(message["send_date"]) for message in messages)
        assert {message["type"] for message in messages} <= {"C", "M"}
        assert {message["user_type"] for message in messages} <= {"C", "H", "B"}
    chats = [answer["data"][0]["chat"] for answer in answers.values()]
    rated = [chat for chat in chats if chat["vote_score"] is not None]
    assert rated
    assert all(chat["vote_comment"] is not None for chat in rated)
    assert any(chat["vote_score"] is None and chat["vote_comment"] is None for chat in chats)
    messages = [m for answer in answers.values() for m in answer["data"][0]["message"]]
    ids = [m["id"] for m in messages]
    assert len(ids) == len(set(ids))
    templates = [m["contents"] for m in messages if m["contents_type"] == "template"]
    assert templates
    assert all(isinstance(json.loads(contents), dict) for contents in templates)


def test_chat_data_answers_503_room_for_an_unknown_room_and_one_that_went_away():
    with LocalHappyTalk(rooms=rooms_of(rooms_per_day=3)) as server:
        listed = [room["id"] for room in every_room(server, ndate=DAY)]
        server.chats.delete_room(listed[0])
        gone = chat_data(server, listed[0])
        unknown = chat_data(server, "x" * 30)
        kept = chat_data(server, listed[1])
        relisted = [room["id"] for room in every_room(server, ndate=DAY)]

    refusal = {"result": "fail", "code": -503, "message": "room"}
    assert gone == refusal
    assert unknown == refusal
    assert kept["result"] == "success"
    assert relisted == listed[1:]


@pytest.mark.parametrize("path", [CHAT_ROOM_LISTS_PATH, CHAT_DATA_PATH], ids=["list", "data"])
@pytest.mark.parametrize(
    ("token", "refusal"),
    [
        (None, {"result": "fail", "code": -501, "message": "token"}),
        ("not-the-token", {"result": "fail", "code": -501, "message": "token"}),
        (NO_PERMISSION, {"result": "fail", "code": -502, "message": "unAuthorized"}),
    ],
    ids=["missing", "invalid", "without-permission"],
)
def test_the_chat_calls_check_the_token_501_token_or_502_unauthorized(server, path, token, refusal):
    room_id = server.chats.room_ids()[0]
    body = {"ndate": DAY, "room_id": room_id}
    if token is not None:
        body["token"] = token

    assert post(server, path, body) == refusal


def test_a_token_may_read_service_history_and_not_chats():
    events = sample_events(dt.date(2024, 3, 1), 1, 5)
    with LocalHappyTalk(events, rooms=rooms_of(rooms_per_day=2), chat_permission=False) as server:
        history = post(
            server,
            CUSTOMER.path,
            {"token": server.token, "start_date": f"{DAY} 00:00:00", "end_date": f"{DAY} 23:59:59"},
        )
        listed = post(server, CHAT_ROOM_LISTS_PATH, {"token": server.token, "ndate": DAY})
        room = post(
            server, CHAT_DATA_PATH, {"token": server.token, "room_id": server.chats.room_ids()[0]}
        )

    assert history["result"] == "success"
    assert len(history["data"]) == 5
    assert listed == room == {"result": "fail", "code": -502, "message": "unAuthorized"}


def test_a_room_closed_and_rated_between_two_reads_shows_its_new_status_date_and_vote():
    rooms = rooms_of(rooms_per_day=5)
    with LocalHappyTalk(rooms=rooms, clock=now) as server:
        room_id = next(room["chat"]["id"] for room in rooms if room["chat"]["status"] == "1")
        before = chat_data(server, room_id)["data"][0]["chat"]
        server.chats.close_room(room_id)
        server.chats.rate_room(room_id, 5, "친절하게 답변해 주셔서 감사합니다.")
        after = chat_data(server, room_id)["data"][0]["chat"]
        [listed] = [room for room in every_room(server, ndate=DAY) if room["id"] == room_id]

    assert (before["status"], before["complate_date"]) == ("1", OPEN)
    assert (before["vote_score"], before["vote_comment"]) == (None, None)
    assert (after["status"], after["complate_date"]) == ("2", "2024-03-02 09:00:00")
    assert (after["vote_score"], after["vote_comment"]) == (
        "5",
        "친절하게 답변해 주셔서 감사합니다.",
    )
    assert (listed["status"], listed["complate_date"]) == ("2", "2024-03-02 09:00:00")
