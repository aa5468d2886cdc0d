"""Failures: retried when HTTP says so, otherwise one clear line, exit 1, no token anywhere."""

from __future__ import annotations

import datetime as dt
import email.utils
import time

import pytest

from local_happytalk.server import Fault, LocalHappyTalk
from tap_happytalk.endpoints import ENDPOINTS

from .conftest import run_tap

SECRET = "s3cr3t-happytalk-token-0123456789"


def assert_one_line_error(run, *fragments):
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    assert len(run.error_lines) >= 1
    final = run.error_lines[-1]
    for fragment in fragments:
        assert fragment in final, final


def assert_set_aside_with_one_line(run, *fragments):
    """A window that kept failing: one WARNING names it and why, the run goes on, exits 3."""
    assert run.returncode == 3, run.stderr
    assert "Traceback" not in run.stderr
    assert run.error_lines == []
    lines = [
        line for line in run.stderr.splitlines() if "; set aside, asked again next run" in line
    ]
    assert lines, run.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def assert_no_token(run, token):
    assert token not in run.stdout
    assert token not in run.stderr


def test_refused_token_names_happytalks_code_and_the_window(tmp_path, happytalk, config):
    run = run_tap(tmp_path, {**config, "token": SECRET})

    assert_one_line_error(
        run,
        "HappyTalk refused the request for 2024-03-01 00:00:00..23:59:59",
        "-501 token",
        "check the `token` setting",
    )
    assert_no_token(run, SECRET)
    assert run.records == []


def test_a_refusal_without_code_or_message_still_says_so(tmp_path, happytalk, config):
    happytalk.inject(Fault("refuse"), day="2024-03-01")
    run = run_tap(tmp_path, config)

    assert_one_line_error(run, "refused the request for 2024-03-01", "no code or message given")


def test_a_refusal_mid_run_keeps_what_came_before_and_a_rerun_completes(
    tmp_path, happytalk, events, config
):
    happytalk.inject(
        Fault("refuse", body={"code": "E500", "message": "일시적 오류"}), day="2024-03-03"
    )
    failed = run_tap(tmp_path, {**config, "max_concurrent_requests": 1})

    assert_one_line_error(failed, "2024-03-03 00:00:00..23:59:59", "E500 일시적 오류")
    assert {r["request_date"][:10] for r in failed.records} == {"2024-03-01", "2024-03-02"}
    assert failed.bookmark == "2024-03-03T00:00:00+09:00"

    rerun = run_tap(tmp_path, config, state=failed.states[-1])
    ids = [r["id"] for r in failed.records + rerun.records]
    assert sorted(ids) == sorted(e["id"] for e in events)


def test_a_day_that_keeps_failing_is_split_then_reported_with_url_and_status(
    tmp_path, happytalk, config
):
    happytalk.inject(Fault("status", status=502), times=1000, day="2024-03-01")
    run = run_tap(tmp_path, {**config, "max_retries": 2, "max_concurrent_requests": 1})

    assert_set_aside_with_one_line(
        run,
        f"POST {happytalk.url}{ENDPOINTS[config['endpoint']].path}",
        "HTTP 502",
        "(split as small as the tap goes)",
    )
    asked = [r for r in happytalk.requests if r.start_date and r.start_date < "2024-03-02"]
    assert len(asked) == 2 + 13  # max_retries + 13: the whole day thrice, then halves twice each
    assert all(r.start_date[:10] == r.end_date[:10] for r in asked)
    assert min(
        dt.datetime.fromisoformat(r.end_date) - dt.datetime.fromisoformat(r.start_date)
        for r in asked
    ) >= dt.timedelta(minutes=15) - dt.timedelta(seconds=1)


def test_a_window_too_short_to_split_does_not_claim_it_was(tmp_path, happytalk, config):
    happytalk.inject(Fault("status", status=502), times=100, day="2024-03-01")
    short = {**config, "end_date": "2024-03-01T00:20:00", "max_retries": 1}
    run = run_tap(tmp_path, short)

    assert_set_aside_with_one_line(
        run, "2024-03-01 00:00:00..00:19:59", "after 2 attempts: HTTP 502"
    )
    assert "split" not in run.stderr


def test_a_day_answered_only_in_halves_gives_the_same_records_and_state(
    tmp_path, happytalk, events, config
):
    whole = run_tap(tmp_path, config)
    happytalk.requests.clear()
    # Every whole-day request for 2024-03-02 times out; its halves are answered.
    for _ in range(3):
        happytalk.inject(Fault("delay", seconds=3), day="2024-03-02 00:00:00")
    split = run_tap(tmp_path, {**config, "max_retries": 2, "request_timeout_seconds": 1})

    assert split.returncode == 0, split.stderr
    assert "asking for it in halves" in split.stderr
    assert split.records == whole.records
    assert split.states[-1] == whole.states[-1]
    assert split.bookmarks == whole.bookmarks
    halves = [r.start_date for r in happytalk.requests if (r.start_date or "")[:10] == "2024-03-02"]
    assert "2024-03-02 12:00:00" in halves


@pytest.mark.parametrize(
    "fault",
    [
        Fault("status", status=500),
        Fault("status", status=503),
        Fault("status", status=504),
        Fault("status", status=429),
        Fault("drop"),
        Fault("truncate"),
    ],
    ids=["500", "503", "504", "429", "dropped-connection", "cut-mid-answer"],
)
def test_transient_failures_are_retried_and_nothing_is_lost(
    tmp_path, happytalk, events, config, fault
):
    happytalk.inject(fault, day="2024-03-02", times=2)
    run = run_tap(tmp_path, config)

    assert run.returncode == 0, run.stderr
    assert sorted(r["id"] for r in run.records) == sorted(e["id"] for e in events)
    assert "retry 2 of 2" in run.stderr


@pytest.mark.parametrize(
    "retry_after",
    ["2", "http-date"],
)
def test_retry_after_is_honoured(tmp_path, happytalk, events, config, retry_after):
    if retry_after == "http-date":
        retry_after = email.utils.formatdate(time.time() + 4, usegmt=True)  # whole seconds
    happytalk.inject(Fault("status", status=429, retry_after=retry_after), day="2024-03-01")
    run = run_tap(tmp_path, {**config, "max_concurrent_requests": 1})

    assert run.returncode == 0, run.stderr
    first, second = [r for r in happytalk.requests if r.start_date == "2024-03-01 00:00:00"]
    assert second.received_at - first.received_at >= 1.0
    assert len(run.records) == len(events)


def test_a_slow_answer_times_out_and_is_retried(tmp_path, happytalk, events, config):
    happytalk.inject(Fault("delay", seconds=3), day="2024-03-02")
    run = run_tap(tmp_path, {**config, "request_timeout_seconds": 1})

    assert run.returncode == 0, run.stderr
    assert "no answer within 1s" in run.stderr
    assert len(run.records) == len(events)


def test_a_wrong_api_path_fails_at_once_with_a_hint(tmp_path, happytalk, config):
    run = run_tap(tmp_path, {**config, "api_url": happytalk.url + "/v2"})

    assert_one_line_error(run, "HTTP 404", "check the `endpoint` setting")
    asked = [r.start_date for r in happytalk.requests]
    assert len(asked) == len(set(asked)), "a 404 is not retried"


def test_the_wrong_endpoint_says_so(tmp_path, events, config):
    other = {"customer": "bnd", "bnd": "customer"}[config["endpoint"]]
    with LocalHappyTalk(events, endpoints=[other]) as server:
        run = run_tap(tmp_path, {**config, "api_url": server.url})

    assert_one_line_error(run, f"no '{config['endpoint']}' endpoint at this URL", "customer or bnd")


def test_siem_strings_instead_of_records_are_refused(tmp_path, happytalk, config):
    siem = '{"result": "success", "data": ["2024-03-01 10:00:00 happytalk event=x"]}'
    happytalk.inject(Fault("body", status=200, text=siem), day="2024-03-01")
    run = run_tap(tmp_path, config)

    assert_set_aside_with_one_line(run, "2024-03-01 00:00:00..23:59:59", "not a list of records")


def test_an_answer_that_is_not_json_is_reported(tmp_path, happytalk, config):
    happytalk.inject(Fault("body", status=200, text="<html>maintenance</html>"))
    run = run_tap(tmp_path, config)

    assert_set_aside_with_one_line(run, "is not JSON", "maintenance")


@pytest.mark.parametrize(
    ("change", "setting"),
    [
        ({"token": None}, "token"),
        ({"token": ""}, "token"),
        ({"start_date": None}, "start_date"),
        ({"start_date": "last tuesday"}, "start_date"),
        ({"end_date": "2024-02-01"}, "end_date"),
        ({"timezone": "Asia/Seol"}, "timezone"),
        ({"window_size_hours": 25}, "window_size_hours"),
        ({"window_size_hours": 0}, "window_size_hours"),
        ({"max_concurrent_requests": 65}, "max_concurrent_requests"),
        ({"adaptive_concurrency": "yes"}, "adaptive_concurrency"),
        ({"max_requests_per_minute": 0}, "max_requests_per_minute"),
        ({"max_retries": -1}, "max_retries"),
        ({"request_timeout_seconds": 0}, "request_timeout_seconds"),
        ({"lookback_minutes": "ten"}, "lookback_minutes"),
        ({"api_url": "ftp://example.com"}, "api_url"),
        ({"api_url": "http://example.com"}, "api_url"),
        ({"endpoint": "legacy"}, "endpoint"),
        ({"api_environment": "staging"}, "api_environment"),
    ],
)
def test_config_errors_name_the_setting_before_any_request(
    tmp_path, happytalk, config, change, setting
):
    config = {**config, "token": SECRET, **change}
    config = {key: value for key, value in config.items() if value is not None}
    run = run_tap(tmp_path, config)

    assert_one_line_error(run, setting)
    assert len(run.error_lines) == 1
    assert happytalk.requests == []
    assert_no_token(run, SECRET)


def test_a_token_of_the_wrong_type_is_not_echoed(tmp_path, happytalk, config):
    run = run_tap(tmp_path, {**config, "token": 48151623420815})

    assert_one_line_error(run, "token")
    assert "48151623420815" not in run.stderr + run.stdout


def test_the_token_appears_nowhere_even_at_debug_level(tmp_path, happytalk, config, monkeypatch):
    happytalk.token = SECRET
    happytalk.inject(Fault("status", status=500))
    monkeypatch.setenv("LOGLEVEL", "DEBUG")
    run = run_tap(tmp_path, {**config, "token": SECRET})

    assert run.returncode == 0, run.stderr
    assert "DEBUG" in run.stderr
    assert_no_token(run, SECRET)
