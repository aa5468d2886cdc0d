"""The local server keeps the promises of HappyTalk's API that the tap's tests rely on.

Only documented behaviour is checked here (and the two faults whose point is what they do not
do); the server's answers to undocumented cases are assumptions, listed in its docstring.
"""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from local_happytalk import Fault, LocalHappyTalk, sample_events
from tap_happytalk.endpoints import BND, CUSTOMER

NO_PERMISSION = "known-token-without-permission"


def row(id_, request_date):
    return {"id": id_, "type": "A", "kind": "S", "request_date": request_date}


@pytest.fixture(scope="module")
def server():
    edges = [
        row("12", "2024-02-29 23:59:59"),
        row("1", "2024-03-01 00:00:00"),
        row("2", "2024-03-01 06:30:00"),
        row("9", "2024-03-01 12:00:00"),
        row("10", "2024-03-01 12:00:00"),
        row("11", "2024-03-01 12:00:01"),
    ]
    events = [*edges, *sample_events(dt.date(2024, 3, 2), 1, 40)]
    with LocalHappyTalk(events, unauthorized_tokens=[NO_PERMISSION]) as running:
        yield running


def post(server, body, path=CUSTOMER.path, **options):
    return requests.post(server.url + path, json=body, timeout=5, **options)


def ask(server, start, end, path=CUSTOMER.path, **extra):
    body = {"token": server.token, "start_date": start, "end_date": end, **extra}
    response = post(server, body, path)
    assert response.status_code == 200
    return response.json()


def test_rows_come_newest_first_and_both_ends_are_inclusive_to_the_second(server):
    answer = ask(server, "2024-03-01 00:00:00", "2024-03-01 12:00:00")

    assert answer["result"] == "success"
    # A shared second puts the higher id first, compared as numbers ("10" after "9").
    assert [r["id"] for r in answer["data"]] == ["10", "9", "2", "1"]


@pytest.mark.parametrize(
    ("start", "end", "refused"),
    [
        ("2024-03-01 00:00:00", "2024-03-01 23:59:59", False),
        ("2024-03-01 00:00:00", "2024-03-02 00:00:00", True),
        ("2024-03-01 12:00:00", "2024-03-02 11:00:00", True),
    ],
    ids=["one-calendar-day", "a-day-and-a-second", "two-dates-within-24h"],
)
def test_at_most_one_day_and_never_across_dates_else_504_over_date(server, start, end, refused):
    answer = ask(server, start, end)

    if refused:
        assert answer == {"result": "fail", "code": -504, "message": "overDate"}
    else:
        assert answer["result"] == "success"


@pytest.mark.parametrize(
    ("token", "refusal"),
    [
        (None, {"result": "fail", "code": -501, "message": "token"}),
        ("not-the-token", {"result": "fail", "code": -501, "message": "token"}),
        (NO_PERMISSION, {"result": "fail", "code": -502, "message": "unAuthorized"}),
    ],
    ids=["missing", "invalid", "without-permission"],
)
def test_the_token_is_checked_501_token_or_502_unauthorized(server, token, refusal):
    body = {"start_date": "2024-03-01 00:00:00", "end_date": "2024-03-01 23:59:59"}
    if token is not None:
        body["token"] = token
    response = post(server, body)

    assert response.status_code == 200
    assert response.json() == refusal


def test_bnd_answers_siem_strings_without_logins_unless_asked_for_raw(server):
    day = ("2024-03-02 00:00:00", "2024-03-02 23:59:59")
    raw = ask(server, *day, path=BND.path, format="raw")
    siem = ask(server, *day, path=BND.path)
    customer = ask(server, *day)

    assert raw["data"] == customer["data"]
    logins = [r for r in raw["data"] if r["apply_content"] == "로그인"]
    assert logins
    assert len(siem["data"]) == len(raw["data"]) - len(logins)
    assert all(isinstance(line, str) and " event=" in line for line in siem["data"])
    assert ask(server, *day, path=BND.path, format="siem") == siem


def test_a_redirect_sends_only_its_status_and_location(server):
    body = {
        "token": server.token,
        "start_date": "2024-03-01 00:00:00",
        "end_date": "2024-03-01 01:00:00",
    }
    with LocalHappyTalk() as elsewhere:
        target = elsewhere.url + CUSTOMER.path
        server.inject(Fault("redirect", status=307, location=target))
        answer = post(server, body, allow_redirects=False)
        assert elsewhere.requests == []

        # A client that follows it does reach the other server: a tap's test can tell.
        server.inject(Fault("redirect", status=307, location=target))
        followed = post(server, body)

    assert answer.status_code == 307
    assert answer.headers["Location"] == target
    assert "result" not in answer.text
    assert followed.status_code == 200
    assert [r.path for r in elsewhere.requests] == [CUSTOMER.path]


def test_the_tls_server_fails_verification_with_requests_defaults():
    with LocalHappyTalk(sample_events(dt.date(2024, 3, 1), 1, 3), tls=True) as secure:
        assert secure.url.startswith("https://127.0.0.1:")
        body = {"token": secure.token, "start_date": "2024-03-01 00:00:00"}
        with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
            post(secure, body)

    assert secure.requests == []
