"""`Retry-After` as HappyTalk may send it: seconds or an HTTP-date, read into a bounded wait."""

from __future__ import annotations

import datetime as dt
import email.utils
import time

import pytest

from tap_happytalk.transport import _retry_after


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("0", 0.0), ("1", 1.0), ("120", 120.0), (" 7 ", 7.0), ("007", 7.0), ("300", 300.0)],
)
def test_seconds_are_read_as_seconds(value, seconds):
    assert _retry_after(value) == seconds


@pytest.mark.parametrize("value", ["301", "3600", "86400", "99999999999999999999"])
def test_seconds_are_capped_at_five_minutes(value):
    assert _retry_after(value) == 300.0


def test_an_http_date_in_the_future_is_the_time_until_then():
    now = time.time()
    value = email.utils.formatdate(now + 42, usegmt=True)  # whole seconds: up to 1 s earlier

    wait = _retry_after(value)

    assert wait is not None
    assert 42 - 1 - (time.time() - now) <= wait <= 42


def test_an_http_date_with_an_offset_is_that_instant():
    eastern = dt.timezone(dt.timedelta(hours=-5))
    when = (dt.datetime.now(eastern) + dt.timedelta(seconds=100)).replace(microsecond=0)
    value = email.utils.format_datetime(when)
    assert value.endswith("-0500")

    wait = _retry_after(value)

    assert wait is not None
    assert 98 <= wait <= 100


@pytest.mark.parametrize("seconds_ago", [1, 3600, 10 * 365 * 86_400])
def test_an_http_date_in_the_past_means_no_wait(seconds_ago):
    assert _retry_after(email.utils.formatdate(time.time() - seconds_ago, usegmt=True)) == 0.0


def test_an_http_date_far_ahead_is_capped_at_five_minutes():
    assert _retry_after(email.utils.formatdate(time.time() + 86_400, usegmt=True)) == 300.0
    assert _retry_after("Wed, 21 Oct 2065 07:28:00 GMT") == 300.0


@pytest.mark.parametrize("value", [None, "", "   "])
def test_no_value_is_no_advice(value):
    assert _retry_after(value) is None


@pytest.mark.parametrize(
    "value",
    [
        "soon",
        "-5",  # delay-seconds is a non-negative integer
        "1.5",
        "1e3",
        "10 seconds",
        "Wed, 32 Oct 2065 07:28:00 GMT",
        "2065-10-21T07:28:00Z",  # ISO 8601 is not an HTTP-date
        # A Latin-1 byte that Python counts as a digit: headers are decoded as Latin-1, so
        # HappyTalk (or a proxy) can send it.
        "\u00b2",
    ],
)
def test_garbage_is_no_advice_rather_than_an_error(value):
    assert _retry_after(value) is None
