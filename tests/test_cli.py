"""The command line beyond syncing: environment config, --about, --discover, --select."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections import Counter

from local_happytalk.chats import sample_rooms
from local_happytalk.server import LocalHappyTalk, sample_events
from tap_happytalk.config_schema import CONFIG_SCHEMA
from tap_happytalk.tap import TapHappyTalk

from .conftest import TAP, catalog_selecting, parse_messages, run_tap, tap_env, write_json


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


def test_select_chooses_the_streams_of_a_run_without_a_catalog(tmp_path):
    rooms = sample_rooms(dt.date(2024, 3, 1), 2, 2, 3)
    with LocalHappyTalk(sample_events(dt.date(2024, 3, 1), 2, 4), rooms=rooms) as server:
        config = {
            "token": server.token,
            "api_url": server.url,
            "start_date": "2024-03-01",
            "end_date": "2024-03-03",
        }
        chats = run_tap(
            tmp_path, config, args=("--select", "chat_rooms", "--select", "chat_messages")
        )
        everything = run_tap(
            tmp_path,
            config,
            args=tuple(arg for name in TapHappyTalk.stream_names for arg in ("--select", name)),
        )

    assert chats.returncode == 0, chats.stderr
    streams = {m["stream"] for m in chats.messages if m["type"] == "RECORD"}
    assert streams == {"chat_rooms", "chat_messages"}
    assert (
        len(
            [m for m in chats.messages if m.get("stream") == "chat_rooms" and m["type"] == "RECORD"]
        )
        == 4
    )
    assert everything.returncode == 0, everything.stderr
    counts = Counter(m["stream"] for m in everything.messages if m["type"] == "RECORD")
    assert counts == {"service_history": 8, "chat_rooms": 4, "chat_messages": 12}


def test_discover_with_select_writes_a_catalog_that_selects_those_streams(tmp_path):
    done = run("--discover", "--select", "chat_messages", "--select", "chat_rooms")
    assert done.returncode == 0, done.stderr
    catalog = json.loads(done.stdout)
    selected = {
        stream["tap_stream_id"]: entry["metadata"]["selected-by-default"]
        for stream in catalog["streams"]
        for entry in stream["metadata"]
        if entry["breadcrumb"] == []
    }
    assert selected == {"service_history": False, "chat_rooms": True, "chat_messages": True}
    # The catalog chooses in a later run, as any catalog does.
    rooms = sample_rooms(dt.date(2024, 3, 1), 1, 2, 3)
    with LocalHappyTalk(sample_events(dt.date(2024, 3, 1), 1, 4), rooms=rooms) as server:
        config = {
            "token": server.token,
            "api_url": server.url,
            "start_date": "2024-03-01",
            "end_date": "2024-03-02",
        }
        later = run_tap(
            tmp_path, config, args=("--catalog", str(write_json(tmp_path / "c.json", catalog)))
        )
    assert later.returncode == 0, later.stderr
    assert {m["stream"] for m in later.messages if m["type"] == "RECORD"} == {
        "chat_rooms",
        "chat_messages",
    }


def test_select_names_a_stream_that_does_not_exist_in_one_line(tmp_path):
    done = run(
        "--config",
        str(write_json(tmp_path / "c.json", {"token": "t", "start_date": "2024-01-01"})),
        "--select",
        "chat_room",
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .endswith(
            "invalid option --select: no stream 'chat_room'; the streams are service_history, "
            "chat_rooms, chat_messages"
        )
    )


def test_select_with_a_catalog_is_refused_in_one_line(tmp_path):
    config = write_json(tmp_path / "c.json", {"token": "t", "start_date": "2024-01-01"})
    catalog = write_json(tmp_path / "catalog.json", catalog_selecting(["service_history"]))
    done = run("--config", str(config), "--catalog", str(catalog), "--select", "chat_rooms")
    assert done.returncode == 1
    assert done.stdout == ""
    assert "--select and --catalog both choose the streams" in done.stderr.strip().splitlines()[-1]
