"""The command line beyond syncing: environment config, --about, --discover."""

from __future__ import annotations

import json
import subprocess

from tap_happytalk.config_schema import CONFIG_SCHEMA

from .conftest import TAP, parse_messages, tap_env


def run(*args, env=None):
    return subprocess.run(
        [*TAP, *args], capture_output=True, text=True, env=env or tap_env(), check=False
    )


def test_config_from_the_environment(happytalk, events):
    env = {
        **tap_env(),
        "TAP_HAPPYTALK_TOKEN": happytalk.token,
        "TAP_HAPPYTALK_START_DATE": "2024-03-01",
        "TAP_HAPPYTALK_END_DATE": "2024-03-03",
        "TAP_HAPPYTALK_API_URL": happytalk.url,
        "TAP_HAPPYTALK_WINDOW_SIZE_HOURS": "12",
    }
    done = run("--config", "ENV", env=env)

    assert done.returncode == 0, done.stderr
    records = [m for m in parse_messages(done.stdout) if m["type"] == "RECORD"]
    assert len(records) == len([e for e in events if e["request_date"] < "2024-03-03"])
    assert len(happytalk.requests) == 4


def test_a_refused_token_from_the_environment_is_not_printed(happytalk):
    secret = "env-secret-token-5f0c2a"
    env = {
        **tap_env(),
        "TAP_HAPPYTALK_TOKEN": secret,
        "TAP_HAPPYTALK_START_DATE": "2024-03-01",
        "TAP_HAPPYTALK_END_DATE": "2024-03-02",
        "TAP_HAPPYTALK_API_URL": happytalk.url,
    }
    done = run("--config", "ENV", env=env)

    assert done.returncode == 1
    assert "-501 token" in done.stderr
    assert secret not in done.stderr + done.stdout


def test_about_describes_every_setting_and_marks_the_token_secret():
    done = run("--about", "--format=json")

    about = json.loads(done.stdout)
    properties = about["settings"]["properties"]
    assert set(CONFIG_SCHEMA["properties"]) <= set(properties)
    assert all(properties[name].get("description") for name in CONFIG_SCHEMA["properties"])
    assert properties["token"]["secret"] is True
    assert set(about["settings"]["required"]) == {"token", "start_date"}


def test_discover_needs_no_config_and_describes_every_stream():
    done = run("--discover")

    assert done.returncode == 0, done.stderr
    streams = {stream["tap_stream_id"]: stream for stream in json.loads(done.stdout)["streams"]}
    assert set(streams) == {"service_history", "chat_rooms", "chat_messages"}
    assert streams["service_history"]["key_properties"] == ["id"]
    assert streams["service_history"]["replication_key"] == "request_date"
    assert streams["chat_rooms"]["replication_key"] == "reg_date"
    for stream in streams.values():
        properties = stream["schema"]["properties"]
        assert all(spec.get("description") for spec in properties.values()), stream["stream"]
        (root,) = [m["metadata"] for m in stream["metadata"] if m["breadcrumb"] == []]
        # The chat streams are opt-in: a run without a catalog reads what it always read.
        assert root["selected-by-default"] is (stream["tap_stream_id"] == "service_history")
