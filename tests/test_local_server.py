"""The local HappyTalk-compatible server behaves as the documented API, over HTTP."""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from local_happytalk.server import LocalHappyTalk, sample_events
from tap_happytalk.endpoints import BND, CUSTOMER


@pytest.fixture(scope="module")
def server():
    with LocalHappyTalk(sample_events(dt.date(2024, 3, 1), 3, 20)) as running:
        yield running


def post(server, body, path=CUSTOMER.path):
    response = requests.post(server.url + path, json=body, timeout=5)
    return response.status_code, response.json() if response.status_code == 200 else None


def day(server, start="2024-03-01 00:00:00", end="2024-03-01 23:59:59", **extra):
    return {"token": server.token, "start_date": start, "end_date": end, **extra}


def test_a_day_comes_newest_first_within_the_inclusive_range(server):
    status, body = post(server, day(server, end="2024-03-01 12:00:00"))

    assert status == 200
    assert body["result"] == "success"
    dates = [(row["request_date"], int(row["id"])) for row in body["data"]]
    assert dates == sorted(dates, reverse=True)
    assert all("2024-03-01 00:00:00" <= d <= "2024-03-01 12:00:00" for d, _ in dates)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"start_date": "2024-03-01 00:00:00", "end_date": "2024-03-02 00:00:00"}, "E404"),
        ({"start_date": "2024-03-01 12:00:00", "end_date": "2024-03-02 11:00:00"}, "E404"),
        ({"start_date": "2024-03-01", "end_date": "2024-03-01 23:59:59"}, "E402"),
        ({"start_date": "2024-03-01 10:00:00", "end_date": "2024-03-01 09:00:00"}, "E403"),
        ({"token": "wrong"}, "E401"),
    ],
    ids=["a-whole-day-and-a-second", "two-dates", "bad-format", "inverted", "bad-token"],
)
def test_refusals(server, body, code):
    status, answer = post(server, {**day(server), **body})

    assert status == 200
    assert answer["result"] == "fail"
    assert answer["code"] == code


def test_bnd_answers_siem_strings_without_logins_unless_asked_for_raw(server):
    _, raw = post(server, day(server, format="raw"), BND.path)
    _, siem = post(server, day(server), BND.path)
    _, customer = post(server, day(server), CUSTOMER.path)

    assert raw["data"] == customer["data"]
    logins = [row for row in raw["data"] if row["apply_content"] == "로그인"]
    assert logins
    assert len(siem["data"]) == len(raw["data"]) - len(logins)
    assert all(isinstance(line, str) and " event=" in line for line in siem["data"])
    _, bad = post(server, day(server, format="xml"), BND.path)
    assert bad["code"] == "E405"


def test_unknown_paths_are_404_and_the_log_has_no_token_in_urls(server):
    status, _ = post(server, day(server), "/user/api/other")

    assert status == 404
    assert all(request.query == "" for request in server.requests)
