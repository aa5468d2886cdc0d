"""Trust off the main path: redirects, BATCH, a prompt stop, reprs, transport failures,
HappyTalk's fail codes, rows outside their window, field types, --test, late commits.

Each test here failed on the tap before these were decided.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import socket
import subprocess
import threading
import time
from typing import Any

import pytest
import requests

from local_happytalk.server import Fault, LocalHappyTalk, sample_events
from tap_happytalk.errors import HappyTalkRefusedError, HappyTalkUnavailableError
from tap_happytalk.pacing import RequestPacer
from tap_happytalk.settings import Secret, Settings
from tap_happytalk.tap import TapHappyTalk
from tap_happytalk.transport import HappyTalkClient
from tap_happytalk.windows import DayWindow

from .conftest import FIRST_DAY, TAP, parse_messages, run_tap, tap_env, write_json

SECRET = "s3cr3t-trust-token-0123456789"
DAY2 = "2024-03-02"


@pytest.fixture
def server():
    with LocalHappyTalk(sample_events(FIRST_DAY, 3, 4), token=SECRET) as running:
        yield running


@pytest.fixture
def config(server) -> dict[str, Any]:
    return {
        "token": SECRET,
        "api_url": server.url,
        "start_date": "2024-03-01",
        "end_date": "2024-03-04",
        "max_retries": 2,
        "request_timeout_seconds": 5,
        "max_concurrent_requests": 1,
    }


def assert_one_error_line(run, *fragments: str) -> str:
    assert run.returncode == 1, run.stderr
    (line,) = run.error_lines
    for fragment in fragments:
        assert fragment in line, line
    assert SECRET not in run.stderr + run.stdout
    return str(line)


def assert_set_aside(run, *fragments: str) -> None:
    """The run went on past a window that kept failing, named it in a WARNING, and exits 3."""
    assert run.returncode == 3, run.stderr
    assert run.error_lines == []
    aside = [line for line in run.stderr.splitlines() if "set aside, asked again next run" in line]
    assert aside
    for fragment in fragments:
        assert all(fragment in line for line in aside), aside
    assert "the data is incomplete" in run.stderr
    assert SECRET not in run.stderr + run.stdout


def new_client(api_url: str, token: Secret) -> HappyTalkClient:
    return HappyTalkClient(
        api_url=api_url,
        token=token,
        timeout_seconds=1,
        max_retries=0,
        user_agent="test",
        pacer=RequestPacer(1),
        stream_name="service_history",
    )


# 1. Redirects


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_never_followed_and_ends_the_run_naming_status_and_host(
    tmp_path, server, config, status
):
    with LocalHappyTalk(token=SECRET) as elsewhere:
        server.inject(Fault("redirect", status=status, location=f"{elsewhere.url}/x"), day=DAY2)
        run = run_tap(tmp_path, config)

        assert elsewhere.requests == []
    assert_one_error_line(run, f"HTTP {status}", "127.0.0.1", DAY2, "check api_url")
    assert run.bookmark == "2024-03-02T00:00:00+09:00"  # the day before it is kept
    assert len([r for r in server.requests if r.start_date and r.start_date[:10] == DAY2]) == 1


# 2. BATCH


def test_batch_is_not_offered_and_a_batch_config_is_refused_before_any_request(
    tmp_path, server, config
):
    assert "batch" not in [str(capability.value) for capability in TapHappyTalk.capabilities]
    batch = {"encoding": {"format": "jsonl"}, "storage": {"root": f"file://{tmp_path}"}}
    run = run_tap(tmp_path, {**config, "batch_config": batch})

    assert_one_error_line(run, "invalid setting 'batch_config'", "no BATCH messages")
    assert run.messages == []
    assert server.requests == []


# 3. A prompt stop


@pytest.mark.parametrize(
    ("concurrency", "stop"),
    [(1, signal.SIGTERM), (4, signal.SIGTERM), (4, signal.SIGINT)],
    ids=["1-SIGTERM", "4-SIGTERM", "4-SIGINT"],
)
def test_sigterm_or_ctrl_c_ends_the_run_promptly_while_a_request_hangs(
    tmp_path, server, config, concurrency, stop
):
    """Meltano stops a run with SIGTERM, a user with Ctrl-C: the tap ends, writing STATE."""
    server.inject(Fault("delay", seconds=60), day=DAY2)
    command = [
        *TAP,
        "--config",
        str(
            write_json(
                tmp_path / "config.json",
                {**config, "request_timeout_seconds": 120, "max_concurrent_requests": concurrency},
            )
        ),
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=tap_env(), text=True
    )
    deadline = time.monotonic() + 30
    while not any(r.start_date and r.start_date.startswith(DAY2) for r in server.requests):
        assert time.monotonic() < deadline, "the tap never asked for the hanging day"
        time.sleep(0.05)
    time.sleep(0.3)  # the request is now in flight, and will be for a minute
    process.send_signal(stop)
    try:
        stdout, stderr = process.communicate(timeout=10)  # far less than the minute
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"{stop.name} did not end the run while a request was in flight")

    # Stopped before the end of its range: the data is not complete, and the exit code and one
    # line say so.
    assert process.returncode == 1, stderr
    errors = [line for line in stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, stderr
    assert f"{stop.name} stopped the run before the end of its range" in errors[0]
    messages = parse_messages(stdout)
    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    assert {r["request_date"][:10] for r in records} == {"2024-03-01"}
    final = states[-1]["bookmarks"]["service_history"]["replication_key_value"]
    assert final == "2024-03-02T00:00:00+09:00"  # the cut-short window is simply not done


# 4. The token in reprs


def test_no_object_that_holds_the_token_shows_it(config):
    tap = TapHappyTalk(config=config)
    stream = tap.streams["service_history"]
    settings = Settings.from_config(config)
    client = new_client(config["api_url"], settings.token)
    holders = [settings, settings.token, client, stream, tap, Secret(SECRET)]
    for holder in holders:
        assert SECRET not in repr(holder), type(holder).__name__
        assert SECRET not in str(holder), type(holder).__name__
        assert SECRET not in f"{holder}", type(holder).__name__
    assert settings.token.reveal() == SECRET
    assert Secret(SECRET) == settings.token


# 5. Transport failures that no retry can mend


def test_a_certificate_that_fails_verification_ends_the_run_at_once(tmp_path):
    with LocalHappyTalk(sample_events(FIRST_DAY, 3, 4), token=SECRET, tls=True) as untrusted:
        assert untrusted.url.startswith("https://")
        run = run_tap(
            tmp_path,
            {
                "token": SECRET,
                "api_url": untrusted.url,
                "start_date": "2024-03-01",
                "end_date": "2024-03-04",
                "max_retries": 5,
                "max_concurrent_requests": 1,
            },
        )
    assert_one_error_line(run, "TLS certificate of 127.0.0.1 failed verification")
    assert "retry 1 of" not in run.stderr
    assert "halves" not in run.stderr
    assert run.stderr.count('"metric":"http_request_duration"') == 1  # one attempt, no more


def test_an_unknown_host_ends_the_run_at_once(tmp_path):
    run = run_tap(
        tmp_path,
        {
            "token": SECRET,
            "api_url": "https://happytalk.invalid",
            "start_date": "2024-03-01",
            "end_date": "2024-03-04",
            "max_retries": 5,
            "max_concurrent_requests": 1,
        },
    )
    assert_one_error_line(run, "happytalk.invalid could not be resolved", "check api_url")
    assert "retry 1 of" not in run.stderr
    assert run.stderr.count('"metric":"http_request_duration"') == 1


def test_a_refused_connection_before_any_answer_ends_the_run_at_once(tmp_path, server, config):
    """Nothing listens there: retries would only delay saying so (transport.py decides)."""
    url = server.url
    server.stop()  # nothing listens there any more
    run = run_tap(tmp_path, {**config, "api_url": url, "max_retries": 1})

    assert_one_error_line(run, "was refused", "is HappyTalk (or the local server) running at")
    assert "retry 1 of" not in run.stderr
    assert "halves" not in run.stderr  # a refused connection says nothing about size


def test_plain_http_behind_an_https_url_ends_the_run_at_once(tmp_path, server, config):
    run = run_tap(tmp_path, {**config, "api_url": server.url.replace("http://", "https://")})
    assert_one_error_line(run, "does not speak TLS", "should be https")
    assert run.stderr.count('"metric":"http_request_duration"') == 1


def test_a_connection_dropped_during_the_tls_handshake_is_retried(tmp_path, server, config):
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def drop_connections() -> None:
            for _ in range(3):
                connection, _ = listener.accept()
                connection.close()

        threading.Thread(target=drop_connections, daemon=True).start()
        run = run_tap(
            tmp_path,
            {
                **config,
                "api_url": f"https://127.0.0.1:{port}",
                "max_retries": 1,
                "end_date": "2024-03-02",  # one window: two attempts, both dropped
            },
        )

    # Each window failed alike: each is set aside, to be asked again by the next run.
    assert_set_aside(run, "after 2 attempts", "connection failed")
    assert run.records == []
    (entry,) = run.states[-1]["bookmarks"]["service_history"]["ask_again"]
    assert (entry["why"], entry["start"]) == ("failed", "2024-03-01T00:00:00+09:00")
    assert "certificate" not in run.stderr


@pytest.mark.parametrize(
    ("errno", "permanent"), [(socket.EAI_NONAME, True), (socket.EAI_AGAIN, False)]
)
def test_only_a_name_that_does_not_exist_is_a_permanent_dns_failure(errno, permanent):
    client = new_client("https://happytalk.example", Secret(SECRET))
    failure = requests.ConnectionError(socket.gaierror(errno, "lookup failed"))
    if permanent:
        with pytest.raises(HappyTalkUnavailableError, match="could not be resolved"):
            client._raise_if_permanent(failure, client.api_url, "a window")  # noqa: SLF001
    else:
        client._raise_if_permanent(failure, client.api_url, "a window")  # noqa: SLF001


def test_a_proxy_from_the_environment_never_sees_a_plain_http_request(
    tmp_path, server, config, monkeypatch
):
    with LocalHappyTalk(token=SECRET) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "")
        run = run_tap(tmp_path, config)
        assert proxy.requests == []
    assert run.returncode == 0, run.stderr
    assert len(run.records) == 12


def test_a_proxy_that_refuses_ends_the_run_at_once(tmp_path, server, config, monkeypatch):
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("NO_PROXY", "")
    run = run_tap(tmp_path, {**config, "api_url": "https://customer.happytalk.example"})
    assert_one_error_line(run, "proxy refused", "HTTPS_PROXY")
    assert "retry 1 of" not in run.stderr


# 6. HappyTalk's fail codes


def test_an_invalid_token_is_minus_501_with_where_to_find_the_token(tmp_path, server, config):
    run = run_tap(tmp_path, {**config, "token": "not-the-token"})
    assert_one_error_line(run, "-501 token", "check the `token` setting", "TOKEN")


def test_a_token_without_permission_is_minus_502(tmp_path, config):
    with LocalHappyTalk(token=SECRET, unauthorized_tokens=["read-only"]) as server:
        run = run_tap(tmp_path, {**config, "token": "read-only", "api_url": server.url})
    line = assert_one_error_line(run, "-502 unAuthorized", "may not use this API")
    assert "read-only" not in line


def test_over_date_is_reported_as_the_taps_own_fault_with_the_window(tmp_path, server, config):
    server.inject(Fault("refuse", body={"code": -504, "message": "overDate"}), day=DAY2)
    run = run_tap(tmp_path, config)
    assert_one_error_line(
        run,
        "-504 overDate",
        "fault in the tap's own windows",
        "report",
        f"{DAY2} 00:00:00..23:59:59",
    )


def test_an_unknown_code_is_shown_as_happytalk_sent_it(tmp_path, server, config):
    server.inject(Fault("refuse", body={"code": -599, "message": "점검중"}), day=DAY2)
    run = run_tap(tmp_path, config)
    line = assert_one_error_line(run, "-599 점검중")
    assert line.rstrip().endswith("-599 점검중")


def test_fail_codes_come_as_numbers_or_text():
    window = DayWindow(dt.datetime(2024, 3, 2), dt.datetime(2024, 3, 3))
    client = new_client("http://127.0.0.1:9", Secret(SECRET))
    for code in (-502, "-502", " -502"):
        body = json.dumps({"result": "fail", "code": code, "message": "unAuthorized"}).encode()
        with pytest.raises(HappyTalkRefusedError, match="may not use this API") as refused:
            client.answer(body, str(window))
        assert refused.value.code == -502


# 7. Rows outside the requested window


def test_a_row_outside_its_window_is_left_out_with_one_counted_warning(tmp_path, server, config):
    strays = [
        {"id": "900001", "type": "A", "kind": "S", "request_date": "2024-03-01 12:00:00"},
        {"id": "900002", "type": "A", "kind": "S", "request_date": "2024-03-05 12:00:00"},
    ]
    server.inject(Fault("extra_rows", rows=strays), day=DAY2)
    run = run_tap(tmp_path, config)

    assert run.returncode == 0, run.stderr
    assert not {"900001", "900002"} & {r["id"] for r in run.records}
    assert len(run.records) == 12
    warnings = [line for line in run.stderr.splitlines() if "outside the range" in line]
    assert len(warnings) == 1
    assert "sent 2 records" in warnings[0]
    assert DAY2 in warnings[0]
    dates = [r["request_date"] for r in run.records]
    assert dates == sorted(dates)


def test_a_split_day_keeps_each_half_to_its_own_rows(tmp_path, config):
    """If HappyTalk ignored the time of day, each half would carry the whole day twice."""
    events = sample_events(FIRST_DAY, 3, 4)
    with LocalHappyTalk(events, token=SECRET, ignore_time_of_day=True) as server:
        server.inject(Fault("status", status=503), times=3, day=f"{DAY2} 00:00:00")
        run = run_tap(tmp_path, {**config, "api_url": server.url, "max_retries": 2})

    assert run.returncode == 0, run.stderr
    assert sorted(r["id"] for r in run.records) == sorted(e["id"] for e in events)


# 8. Field types


def test_numbers_where_the_schema_says_string_leave_as_strings(tmp_path, server, config):
    numeric = [
        {"id": 5, "type": "A", "kind": "S", "request_date": f"{DAY2} 12:00:00", "apply_id": 37197}
    ]
    server.inject(Fault("extra_rows", rows=numeric), day=DAY2)
    run = run_tap(tmp_path, config)

    assert run.returncode == 0, run.stderr
    (record,) = [r for r in run.records if r["id"] == "5"]
    assert record["apply_id"] == "37197"
    for record in run.records:
        for name in ("id", "type", "kind", "request_user", "apply_id", "apply_content"):
            assert record.get(name) is None or isinstance(record[name], str), (name, record)


@pytest.mark.parametrize(
    ("value", "text"), [(True, "true"), (["a"], '["a"]'), ({"a": "가"}, '{"a":"가"}')]
)
def test_a_value_that_is_not_a_string_is_kept_as_its_json_text_with_a_warning(
    tmp_path, server, config, value, text
):
    row = {"id": "7", "type": "A", "kind": value, "request_date": f"{DAY2} 12:00:00"}
    server.inject(Fault("extra_rows", rows=[row]), day=DAY2)
    run = run_tap(tmp_path, config)

    assert run.returncode == 0, run.stderr
    (record,) = [r for r in run.records if r["id"] == "7"]
    assert record["kind"] == text
    (warning,) = [line for line in run.stderr.splitlines() if "not a string" in line]
    assert "kind as" in warning
    assert "kept as its JSON text" in warning


# 9. One line from every entry point


@pytest.mark.parametrize("entry", [("--about",), ("--discover",), ("--test",), ()])
@pytest.mark.parametrize(
    ("file_text", "fragment"),
    [
        ("[1, 2", "is not a readable JSON object"),
        ('{"token": "x", "start_date": "2024-01-01", "timezone": "Mars/Base"}', "timezone"),
        ('{"token": 12345, "start_date": "2024-01-01"}', "token"),
    ],
    ids=["not-json", "bad-setting", "token-of-the-wrong-type"],
)
def test_every_entry_point_answers_a_bad_config_with_one_line(tmp_path, entry, file_text, fragment):
    path = tmp_path / "bad.json"
    path.write_text(file_text, encoding="utf-8")
    done = subprocess.run(
        [*TAP, "--config", str(path), *entry],
        capture_output=True,
        text=True,
        env=tap_env(),
        timeout=60,
        check=False,
    )
    assert "Traceback" not in done.stderr
    assert "12345" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "| ERROR" in line]
    if entry == ("--discover",) and fragment != "is not a readable JSON object":
        # Discovery judges no setting: the catalog does not depend on them, and Meltano,
        # which discovers before every run, would repeat a failed discovery's output.
        assert (done.returncode, errors) == (0, []), done.stderr
        return
    assert done.returncode == 1, done.stdout + done.stderr
    assert len(errors) == 1, done.stderr
    assert fragment in errors[0]


def test_an_error_of_the_sync_is_one_line_without_the_sdks_generic_line(tmp_path, server, config):
    run = run_tap(tmp_path, {**config, "token": "wrong"})
    assert_one_error_line(run, "-501")
    assert "unhandled error" not in run.stderr


def test_test_mode_reports_a_refusal_in_one_line(tmp_path, server, config):
    run = run_tap(tmp_path, {**config, "token": "wrong"}, args=("--test",))
    assert_one_error_line(run, "-501")
    assert "Traceback" not in run.stderr


def test_test_mode_passes_a_good_token_on_a_range_without_events(tmp_path, config):
    """What docs/MELTANO.md offers instead of `meltano config test`, which needs a RECORD."""
    with LocalHappyTalk(token=SECRET) as empty:
        run = run_tap(tmp_path, {**config, "api_url": empty.url}, args=("--test",))
    assert run.returncode == 0, run.stderr
    assert run.error_lines == []
    assert run.records == []


def test_test_mode_that_succeeds_logs_no_error(tmp_path, server, config):
    run = run_tap(tmp_path, config, args=("--test",))
    assert run.returncode == 0, run.stderr
    assert run.error_lines == []
    assert len(run.records) == 1


@pytest.mark.parametrize("entry", [("--about",), ("--test",), ()])  # discovery maps nothing
def test_a_stream_map_that_does_not_compile_is_one_line_from_every_entry_point(
    tmp_path, server, config, entry
):
    maps = {"service_history": {"x": "bad syntax ("}}
    run = run_tap(tmp_path, {**config, "stream_maps": maps}, args=entry)
    assert_one_error_line(run, "invalid setting 'stream_maps'")
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("removal", [None, "__NULL__"])
def test_removing_the_rooms_by_stream_map_is_refused_since_it_removes_messages(
    tmp_path, server, config, removal
):
    run = run_tap(tmp_path, {**config, "stream_maps": {"chat_rooms": removal}})
    assert_one_error_line(run, "invalid setting 'stream_maps'", "deselect chat_rooms")


def test_a_stream_map_for_a_stream_not_selected_is_no_error(tmp_path, server, config):
    """The chat streams are opt-in: their maps must not break a service-history run."""
    maps = {"chat_messages": {"contents": "__NULL__"}, "chat_rooms": {"title": "__NULL__"}}
    run = run_tap(tmp_path, {**config, "stream_maps": maps})
    assert run.returncode == 0, run.stderr
    assert len(run.records) == 12


def test_a_stream_map_that_fails_on_a_record_is_one_line(tmp_path, server, config):
    maps = {"service_history": {"x": "md5(nonexistent)"}}
    run = run_tap(tmp_path, {**config, "stream_maps": maps})
    assert_one_error_line(run, "invalid setting 'stream_maps'")
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(
    ("variable", "value", "setting"),
    [
        ("TAP_HAPPYTALK_MAX_RETRIES", "abc", "max_retries"),
        ("TAP_HAPPYTALK_STREAM_MAPS", "{bad", "stream_maps"),
    ],
)
@pytest.mark.parametrize("entry", [("--discover",), ("--test",), ()])
def test_a_bad_value_in_the_environment_is_one_line_naming_it(
    server, entry, variable, value, setting
):
    env = {
        **tap_env(),
        "TAP_HAPPYTALK_TOKEN": SECRET,
        "TAP_HAPPYTALK_START_DATE": "2024-03-01",
        "TAP_HAPPYTALK_API_URL": server.url,
        variable: value,
    }
    done = subprocess.run(
        [*TAP, "--config=ENV", *entry], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1, done.stderr
    assert f"invalid setting '{setting}'" in errors[0]
    assert "Traceback" not in done.stderr
    assert SECRET not in done.stderr


def test_discovery_needs_no_token_and_leaves_a_bad_value_to_the_sync(tmp_path):
    def run(config, *args):
        return subprocess.run(
            [*TAP, "--config", str(write_json(tmp_path / "c.json", config)), *args],
            capture_output=True,
            text=True,
            env=tap_env(),
            check=False,
        )

    fine = run({"start_date": "2024-03-01"}, "--discover")
    assert fine.returncode == 0, fine.stderr
    assert json.loads(fine.stdout)["streams"]
    bad = {"token": SECRET, "start_date": "2024-03-01", "timezone": "Mars/Base"}
    discovered = run(bad, "--discover")
    assert discovered.returncode == 0, discovered.stderr
    assert json.loads(discovered.stdout)["streams"]
    synced = run(bad)
    assert synced.returncode == 1
    (line,) = [line for line in synced.stderr.splitlines() if "| ERROR" in line]
    assert "timezone" in line


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("request_date", "2024-03-02 12:00+09"),
        ("request_date", "2024-W09-6 12:00:00"),
        ("apply_date", "garbage"),
        ("apply_date", "2024-03-02T10:00:00"),
        ("apply_date", "2024-03-02 10:00:00.5"),
    ],
)
def test_a_timestamp_not_in_happytalks_shape_names_the_field(
    tmp_path, server, config, field, value
):
    row = {"id": "7", "type": "A", "kind": "S", "request_date": f"{DAY2} 12:00:00", field: value}
    server.inject(Fault("extra_rows", rows=[row]), day=DAY2)
    run = run_tap(tmp_path, config)
    assert_set_aside(run, "record 7", field, "not Y-m-d H:i:s")
    assert all(not r["request_date"].startswith(DAY2) for r in run.records)


@pytest.mark.parametrize("value", [None, "", "0000-00-00 00:00:00"])
def test_an_apply_date_that_is_not_there_is_null(tmp_path, server, config, value):
    row = {
        "id": "7",
        "type": "A",
        "kind": "S",
        "request_date": f"{DAY2} 12:00:00",
        "apply_date": value,
    }
    server.inject(Fault("extra_rows", rows=[row]), day=DAY2)
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    (record,) = [r for r in run.records if r["id"] == "7"]
    assert record["apply_date"] is None


# 10. Late commits


def test_an_event_recorded_late_is_not_lost_by_default(tmp_path, server, config):
    """HappyTalk records an event a moment after its time; the next run still finds it."""
    del config["end_date"]
    now = dt.datetime.now(dt.timezone(dt.timedelta(hours=9))).replace(tzinfo=None, microsecond=0)
    first = run_tap(
        tmp_path, {**config, "start_date": (now - dt.timedelta(minutes=30)).isoformat()}
    )
    assert first.returncode == 0, first.stderr

    late = now - dt.timedelta(seconds=60)  # happened before the first run, recorded after it
    server.add_events([{"id": "777777", "type": "A", "kind": "S", "request_date": f"{late}"}])
    assert dt.datetime.fromisoformat(first.bookmark) <= late.replace(
        tzinfo=dt.timezone(dt.timedelta(hours=9))
    )
    second = run_tap(
        tmp_path,
        {
            **config,
            "start_date": (now - dt.timedelta(minutes=30)).isoformat(),
            "end_margin_seconds": 0,
        },
        state=first.states[-1],
    )
    assert second.returncode == 0, second.stderr
    assert [r["id"] for r in second.records] == ["777777"]


def test_without_the_margin_a_late_event_is_passed_by(tmp_path, server, config):
    """What the default margin prevents: a run that reads up to now passes the late second."""
    del config["end_date"]
    now = dt.datetime.now(dt.timezone(dt.timedelta(hours=9))).replace(tzinfo=None, microsecond=0)
    settings = {
        **config,
        "start_date": (now - dt.timedelta(minutes=30)).isoformat(),
        "end_margin_seconds": 0,
    }
    first = run_tap(tmp_path, settings)
    late = now - dt.timedelta(seconds=60)
    server.add_events([{"id": "777777", "type": "A", "kind": "S", "request_date": f"{late}"}])
    second = run_tap(tmp_path, settings, state=first.states[-1])

    assert second.returncode == 0, second.stderr
    assert "777777" not in {r["id"] for r in second.records}


def test_the_margin_does_not_move_an_explicit_end_date_in_the_past(tmp_path, server, config):
    run = run_tap(tmp_path, {**config, "end_margin_seconds": 86_400})
    assert run.returncode == 0, run.stderr
    assert run.bookmark == "2024-03-04T00:00:00+09:00"
