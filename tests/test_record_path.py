"""The lean record path gives what the SDK's own path gives, and yields to it when needed."""

from __future__ import annotations

import json
import subprocess

from tap_happytalk.streams import ServiceHistoryStream
from tap_happytalk.tap import TapHappyTalk

from .conftest import TAP, run_tap, tap_env, write_json


def passes_through(config):
    stream = TapHappyTalk(config=config).streams["service_history"]
    assert isinstance(stream, ServiceHistoryStream)
    return stream._records_pass_through  # noqa: SLF001 - which path a run takes


def without_extraction_time(run):
    return [{k: v for k, v in m.items() if k != "time_extracted"} for m in run.messages]


def test_the_fast_path_emits_what_the_sdk_path_emits(tmp_path, happytalk, config):
    # A stream map that changes nothing still sends every record through the SDK's path.
    mapped = {**config, "stream_maps": {"service_history": {"id": "id"}}}
    assert passes_through(config)
    assert not passes_through(mapped)
    fast = run_tap(tmp_path, config)
    sdk = run_tap(tmp_path, mapped)

    assert fast.returncode == sdk.returncode == 0, sdk.stderr
    assert [m for m in without_extraction_time(fast) if m["type"] == "RECORD"] == [
        m for m in without_extraction_time(sdk) if m["type"] == "RECORD"
    ]
    assert fast.bookmarks == sdk.bookmarks
    assert all("time_extracted" in m for m in fast.messages if m["type"] == "RECORD")


def test_stream_maps_still_apply(tmp_path, happytalk, events, config):
    maps = {"service_history": {"request_content": "__NULL__", "kind_code": "kind.lower()"}}
    run = run_tap(tmp_path, {**config, "stream_maps": maps})

    assert run.returncode == 0, run.stderr
    assert len(run.records) == len(events)
    assert all("request_content" not in r for r in run.records)
    assert {r["kind_code"] for r in run.records} <= {"a", "k", "s"}


def test_deselected_fields_are_left_out(tmp_path, happytalk, config):
    config_path = write_json(tmp_path / "config.json", config)
    catalog = json.loads(
        subprocess.run(
            [*TAP, "--config", str(config_path), "--discover"],
            capture_output=True,
            text=True,
            env=tap_env(),
            check=True,
        ).stdout
    )
    for entry in catalog["streams"][0]["metadata"]:
        if entry["breadcrumb"] == ["properties", "request_user"]:
            entry["metadata"]["selected"] = False
        if entry["breadcrumb"] == []:
            entry["metadata"]["selected"] = True
    run = run_tap(
        tmp_path, config, args=("--catalog", str(write_json(tmp_path / "catalog.json", catalog)))
    )

    assert run.returncode == 0, run.stderr
    assert run.records
    assert all("request_user" not in r for r in run.records)
    assert all("request_content" in r for r in run.records)
