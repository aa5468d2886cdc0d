"""A new user's first half hour: the local server says how to use it, every message points the
right way, unknown settings are named, and the logs read as one line per window.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import requests

from local_happytalk.chats import sample_rooms
from local_happytalk.server import DEFAULT_TOKEN, LocalHappyTalk, sample_events
from tap_happytalk.cli import _in_our_words
from tap_happytalk.endpoints import CUSTOMER
from tap_happytalk.errors import HappyTalkUnavailableError
from tap_happytalk.pacing import RequestPacer
from tap_happytalk.settings import Secret
from tap_happytalk.transport import HappyTalkClient, RetriesExhaustedError

from .conftest import (
    FIRST_DAY,
    TAP,
    catalog_selecting,
    killed_after,
    parse_messages,
    run_tap,
    tap_env,
    write_json,
)

pytestmark = pytest.mark.timeout(180)

SECRET = "first-half-hour-token-7d41c9"
EVERY_STREAM = ("service_history", "chat_rooms", "chat_messages")


@pytest.fixture
def server():
    events = sample_events(FIRST_DAY, 2, 3)
    with LocalHappyTalk(events, rooms=sample_rooms(FIRST_DAY, 2, 3, 3), token=SECRET) as local:
        yield local


@pytest.fixture
def config(server):
    return {
        "token": SECRET,
        "api_url": server.url,
        "start_date": "2024-03-01",
        "end_date": "2024-03-03",
        "max_retries": 1,
        "request_timeout_seconds": 5,
    }


def one_error(run) -> str:
    assert run.returncode == 1, run.stderr
    (line,) = run.error_lines
    assert SECRET not in run.stderr + run.stdout
    assert "Traceback" not in run.stderr
    return str(line)


def warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "| WARNING" in line]


# The local server tells how to use it.


def test_the_local_servers_help_shows_its_token_port_and_sample_range_with_defaults():
    done = subprocess.run(
        [sys.executable, "-m", "local_happytalk", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    text = " ".join(done.stdout.split())
    assert "python -m local_happytalk" in text
    for option, default in [
        ("--port", "8765"),
        ("--token", DEFAULT_TOKEN),
        ("--first-day", "2024-01-01"),
        ("--days", "30"),
    ]:
        assert re.search(rf"{option} \S+ .*?\(default: {re.escape(default)}\)", text), option


def test_the_local_servers_start_up_line_says_where_with_which_token_and_days():
    with subprocess.Popen(
        [sys.executable, "-m", "local_happytalk", "--port", "0", "--days", "3", "--per-day", "2"],
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            with killed_after(process, 60, "the start-up line"):
                line = process.stdout.readline()
            url = re.search(r"on (http://127\.0\.0\.1:\d+),", line)
            assert url, line
            assert f"token {DEFAULT_TOKEN}" in line
            assert "sample days 2024-01-01 to 2024-01-03" in line
            assert "start_date 2024-01-01, end_date 2024-01-04" in line
            # It serves what it says, with the token it says.
            answer = requests.post(
                f"{url[1]}/user/api/service_history/format/json",
                json={
                    "token": DEFAULT_TOKEN,
                    "start_date": "2024-01-02 00:00:00",
                    "end_date": "2024-01-02 23:59:59",
                },
                timeout=10,
            ).json()
            assert answer["result"] == "success"
            assert len(answer["data"]) == 2
        finally:
            process.terminate()
            process.wait(timeout=30)


def test_help_says_what_the_tap_extracts_and_that_consultations_are_opt_in():
    done = subprocess.run(
        [*TAP, "--help"], capture_output=True, text=True, env=tap_env(), timeout=60, check=True
    )
    text = " ".join(done.stdout.split())
    assert "service history" in text
    assert "chat_rooms and chat_messages" in text
    assert "opt-in" in text
    assert "Execute the Singer tap." not in text


# Unknown settings.


def test_unknown_settings_get_one_warning_naming_the_closest_known_ones(tmp_path, config):
    run = run_tap(tmp_path, {**config, "tokken": "x", "window_size": 3, "_select": ["x"]})

    assert run.returncode == 0, run.stderr
    (line,) = [w for w in warnings(run.stderr) if "Unknown settings" in w]
    assert "'tokken' (did you mean 'token'?)" in line
    assert "'window_size' (did you mean 'window_size_hours'?)" in line
    assert "_select" not in line  # an orchestrator's key, not a setting
    assert len(run.records) == 6


def test_the_sdks_own_settings_are_known(tmp_path, config):
    known = {
        "stream_maps": {},
        "stream_map_config": {"salt": "x"},
        "flattening_enabled": False,
        "flattening_max_depth": 1,
        "faker_config": {"seed": 1},
    }
    run = run_tap(tmp_path, {**config, **known})
    assert run.returncode == 0, run.stderr
    assert not [w for w in warnings(run.stderr) if "Unknown" in w]


def test_an_unknown_variable_from_the_environment_is_named(server):
    env = {
        **tap_env(),
        "TAP_HAPPYTALK_TOKEN": SECRET,
        "TAP_HAPPYTALK_API_URL": server.url,
        "TAP_HAPPYTALK_START_DATE": "2024-03-01",
        "TAP_HAPPYTALK_END_DATE": "2024-03-02",
        "TAP_HAPPYTALK_MAX_RETRY": "2",
    }
    done = subprocess.run(
        [*TAP, "--config=ENV"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    (line,) = [w for w in warnings(done.stderr) if "Unknown" in w]
    assert "'TAP_HAPPYTALK_MAX_RETRY' (did you mean 'TAP_HAPPYTALK_MAX_RETRIES'?)" in line


# Messages that name the real problem and what to do.


def test_a_misspelt_localhost_says_so_instead_of_unencrypted(tmp_path, server, config):
    run = run_tap(tmp_path, {**config, "api_url": "http://localhst:8765"})
    line = one_error(run)
    assert "invalid setting 'api_url'" in line
    assert "'localhst' looks like a misspelling of localhost" in line
    assert "unencrypted" not in line
    assert server.requests == []


def test_a_refused_connection_from_the_start_says_so_at_once(tmp_path, server, config):
    url = server.url
    server.stop()  # nothing listens there any more
    run = run_tap(
        tmp_path, {**config, "api_url": url, "max_retries": 5, "max_concurrent_requests": 1}
    )

    line = one_error(run)
    port = url.rsplit(":", 1)[1]
    assert f"the connection to 127.0.0.1:{port} was refused" in line
    assert f"is HappyTalk (or the local server) running at {url}?" in line
    assert "retry 1 of" not in run.stderr  # refused at the first request: nothing to wait for
    assert run.stderr.count('"metric":"http_request_duration"') == 1


def test_a_refused_connection_after_an_answer_is_retried_and_says_refused(server):
    client = HappyTalkClient(
        api_url=server.url,
        token=Secret(SECRET),
        timeout_seconds=5,
        max_retries=1,
        user_agent="test",
        pacer=RequestPacer(1),
        stream_name="service_history",
    )
    fields = {"start_date": "2024-03-01 00:00:00", "end_date": "2024-03-01 23:59:59"}
    assert client.post(CUSTOMER, fields, "2024-03-01", kind="window")
    server.stop()  # a restart while the run goes on
    with pytest.raises(RetriesExhaustedError) as failed:
        client.post(CUSTOMER, fields, "2024-03-01", kind="window")
    message = str(failed.value)
    assert "after 2 attempts: connection refused" in message
    assert "is HappyTalk (or the local server) running at" in message
    assert isinstance(failed.value, HappyTalkUnavailableError)


@pytest.mark.parametrize(
    ("written", "suggested"),
    [
        ("KST", "write Asia/Seoul"),
        ("kst", "write Asia/Seoul"),
        ("JST", "write Asia/Tokyo"),
        ("PST", "write America/Los_Angeles"),
        ("Seoul", "write Asia/Seoul"),
        ("Asia/Seol", "write Asia/Seoul"),
        ("UTC+9", "Asia/Seoul for +09:00"),
    ],
)
def test_a_time_zone_abbreviation_or_near_miss_suggests_the_iana_name(
    tmp_path, server, config, written, suggested
):
    run = run_tap(tmp_path, {**config, "timezone": written})
    line = one_error(run)
    assert f"invalid setting 'timezone': '{written}' is not an IANA time zone name" in line
    assert suggested in line
    assert server.requests == []


@pytest.mark.parametrize("padded", [f"{SECRET} ", f" {SECRET}", f"{SECRET}\n"])
def test_a_token_with_surrounding_whitespace_is_named_before_any_request(
    tmp_path, server, config, padded
):
    run = run_tap(tmp_path, {**config, "token": padded})
    line = one_error(run)
    assert "invalid setting 'token': starts or ends with a space or line break" in line
    assert "remove it" in line
    assert server.requests == []


def test_an_empty_end_date_variable_says_to_unset_it(server):
    env = {
        **tap_env(),
        "TAP_HAPPYTALK_TOKEN": SECRET,
        "TAP_HAPPYTALK_API_URL": server.url,
        "TAP_HAPPYTALK_START_DATE": "2024-03-01",
        "TAP_HAPPYTALK_END_DATE": "",
    }
    done = subprocess.run(
        [*TAP, "--config=ENV"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert done.returncode == 1, done.stderr
    (line,) = [line for line in done.stderr.splitlines() if "| ERROR" in line]
    assert "invalid setting 'end_date': TAP_HAPPYTALK_END_DATE is set but empty" in line
    assert "unset TAP_HAPPYTALK_END_DATE" in line
    assert server.requests == []
    assert SECRET not in done.stderr


def test_an_empty_setting_in_a_file_says_to_leave_it_out(tmp_path, server, config):
    run = run_tap(tmp_path, {**config, "end_date": ""})
    line = one_error(run)
    assert "invalid setting 'end_date': is empty; leave it out to use its default" in line


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (
            {"max_concurrent_requests": 0},
            "'max_concurrent_requests': must be a whole number from 1 to 64, got 0",
        ),
        (
            {"window_size_hours": "12"},
            "'window_size_hours': must be a whole number from 1 to 24, got '12'",
        ),
        (
            {"allow_unencrypted_http": "yes"},
            "'allow_unencrypted_http': must be true or false, got 'yes'",
        ),
        ({"endpoint": "legacy"}, "'endpoint': must be one of customer, bnd, got 'legacy'"),
        (
            {"flattening_max_depth": "deep"},
            "'flattening_max_depth': must be of type 'integer', 'null', got 'deep'",
        ),
    ],
)
def test_setting_errors_are_in_the_taps_words_not_json_schemas(tmp_path, config, change, words):
    run = run_tap(tmp_path, {**config, **change})
    line = one_error(run)
    assert f"invalid setting {words}" in line
    assert "in config[" not in line
    assert "is less than the minimum" not in line


def test_json_schemas_words_for_the_sdks_settings_are_reworded():
    assert _in_our_words("0 is less than the minimum of 1 in config['flattening_max_depth']") == (
        "invalid setting 'flattening_max_depth': must be at least 1, got 0"
    )
    assert _in_our_words("'seed' is a required property in config['faker_config']") == (
        "invalid setting 'faker_config.seed': is required"
    )
    assert _in_our_words("something else") == "invalid config: something else"


# Logs: one readable line per window or day, in one zone; nothing per room at INFO.


def run_every_stream(tmp_path, config, **env):
    catalog = write_json(tmp_path / "catalog.json", catalog_selecting(EVERY_STREAM))
    command = [*TAP, "--config", str(write_json(tmp_path / "c.json", config))]
    return subprocess.run(
        [*command, "--catalog", str(catalog)],
        capture_output=True,
        text=True,
        env={**tap_env(), **env},
        timeout=120,
        check=False,
    )


def test_info_logs_one_readable_range_per_stream_and_no_line_per_room(tmp_path, config):
    done = run_every_stream(tmp_path, {**config, "end_date": "2024-03-02T18:30:00"})
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    extracting = [line for line in lines if "| Extracting " in line]
    assert [line.split("| ", 3)[3] for line in extracting] == [
        "Extracting 2024-03-01 00:00 to 2024-03-02 18:30 (Asia/Seoul) in 2 windows",
    ] * 2  # service_history, chat_rooms
    assert not [line for line in lines if "Beginning sync of 'chat_messages'" in line]
    per_stream = [line for line in lines if '"stream":"chat_messages"' in line]
    # The run's record_count and sync_duration, once each, and its units set aside (0 failed).
    assert len(per_stream) == 3, per_stream
    assert sum('"metric":"units_set_aside"' in line for line in per_stream) == 1
    sent = [m for m in parse_messages(done.stdout) if m.get("stream") == "chat_messages"]
    messages = [m for m in sent if m["type"] == "RECORD"]
    rooms = {m["record"]["room_id"] for m in messages}
    assert len(messages) == 3 * len(rooms) > 0  # each sample room here has 3 messages
    assert any(f'"metric":"record_count","value":{len(messages)},' in line for line in per_stream)
    assert f"{len(messages)} messages of {len(rooms)} rooms" in done.stderr
    said = [line.split("| ", 1)[1] for line in lines if "METRIC" not in line]
    assert len(said) == len(set(said))  # nothing said twice (the METRIC lines' values differ)


def test_debug_logs_keep_each_rooms_lines(tmp_path, config):
    done = run_every_stream(tmp_path, config, LOGLEVEL="DEBUG")
    assert done.returncode == 0, done.stderr
    beginning = [
        line for line in done.stderr.splitlines() if "Beginning sync of 'chat_messages'" in line
    ]
    assert len(beginning) == 6
    assert all("| DEBUG" in line for line in beginning)
    per_room = [
        line
        for line in done.stderr.splitlines()
        if '"stream":"chat_messages"' in line and '"room_id"' in line
    ]
    assert len(per_room) == 12  # a record_count and a sync_duration per room
    assert all("| DEBUG" in line for line in per_room)
    assert SECRET not in done.stderr


def test_discovery_does_not_judge_settings_and_the_sync_says_it_once(tmp_path, config):
    bad = {**config, "timezone": "KST"}
    discovered = subprocess.run(
        [*TAP, "--config", str(write_json(tmp_path / "bad.json", bad)), "--discover"],
        capture_output=True,
        text=True,
        env=tap_env(),
        timeout=60,
        check=False,
    )
    assert discovered.returncode == 0, discovered.stderr
    assert json.loads(discovered.stdout)["streams"]
    assert "KST" not in discovered.stderr
    run = run_tap(tmp_path, bad)
    assert "write Asia/Seoul" in one_error(run)


def test_the_range_is_read_in_the_timezone_setting(tmp_path, config):
    done = run_every_stream(
        tmp_path, {**config, "timezone": "UTC", "start_date": "2024-03-01T09:15:30+09:00"}
    )
    assert done.returncode == 0, done.stderr
    (line, _) = [line for line in done.stderr.splitlines() if "| Extracting " in line]
    assert line.endswith("Extracting 2024-03-01 00:15:30 to 2024-03-03 00:00 (UTC) in 2 windows")


def test_an_empty_range_says_so_in_the_same_words(tmp_path, server, config):
    state = {
        "bookmarks": {
            "service_history": {
                "replication_key": "request_date",
                "replication_key_value": "2024-03-03T00:00:00+09:00",
            }
        }
    }
    run = run_tap(tmp_path, config, state=state)
    assert run.returncode == 0, run.stderr
    assert (
        "Nothing to extract: 2024-03-03 00:00 is not before 2024-03-03 00:00 (Asia/Seoul)"
        in run.stderr
    )
    assert server.requests == []
