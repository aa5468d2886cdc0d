"""The lean record path gives what the SDK's own path gives, and yields to it when needed."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
from collections import Counter

import pytest
from singer_sdk import Stream

from tap_happytalk.streams.service_history import ServiceHistoryStream
from tap_happytalk.tap import TapHappyTalk

from .conftest import TAP, parse_messages, run_tap, tap_env, write_json

RECORD_PATH = ("_generate_record_messages", "_increment_stream_state")


def passes_through(config):
    stream = TapHappyTalk(config=config).streams["service_history"]
    assert isinstance(stream, ServiceHistoryStream)
    return stream._records_pass_through  # noqa: SLF001 - which path a run takes


class StockPathStream(ServiceHistoryStream):
    """The stream without the tap's two record-path overrides: `singer_sdk.Stream`'s run.

    They are looked up on `Stream` at each call, so that a test can count those calls.
    """

    def _generate_record_messages(self, record):
        return Stream._generate_record_messages(self, record)  # noqa: SLF001 - the SDK's own

    def _increment_stream_state(self, latest_record, *, context=None):
        Stream._increment_stream_state(self, latest_record, context=context)  # noqa: SLF001


class StockPathTap(TapHappyTalk):
    def discover_streams(self):
        return [StockPathStream(tap=self)]


def sync_in_process(tap_class, config):
    """Sync once in this process; the Singer messages the tap's writer wrote to stdout."""
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with contextlib.redirect_stdout(stdout):
        tap_class(config=config).sync_all()
        stdout.flush()
    return parse_messages(stdout.buffer.getvalue().decode())


def comparable(messages):
    """Messages without the times of the run: `time_extracted`, and the SDK's signpost (now)."""
    kept = []
    for message in messages:
        same = {k: v for k, v in message.items() if k != "time_extracted"}
        if same["type"] == "STATE":
            bookmark = dict(same["value"]["bookmarks"]["service_history"])
            bookmark.pop("replication_key_signpost", None)
            same = {**same, "value": {"bookmarks": {"service_history": bookmark}}}
        kept.append(same)
    return kept


@pytest.fixture
def sdk_calls(monkeypatch):
    """How often `singer_sdk.Stream`'s own record-path methods run, by name."""
    calls: Counter[str] = Counter()
    for name in RECORD_PATH:
        original = getattr(Stream, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(Stream, name, counted)
    return calls


def test_the_fast_path_emits_what_the_sdks_stock_path_emits(happytalk, events, config, sdk_calls):
    # Rows that give the SDK something to do: no apply_date, PHP's zero date, a field the
    # schema lacks, a number where the schema says string.
    odd = [
        {"id": "500001", "request_date": "2024-03-02 08:00:00", "apply_date": ""},
        {
            "id": "500002",
            "request_date": "2024-03-02 08:00:00",
            "apply_date": "0000-00-00 00:00:00",
        },
        {"id": "500003", "request_date": "2024-03-04 12:00:00", "channel": "kakao"},
        {"id": "500004", "request_date": "2024-03-04 12:00:01", "apply_id": 37001, "kind": "S"},
    ]
    happytalk.add_events(odd)
    assert passes_through(config)

    fast = sync_in_process(TapHappyTalk, config)
    fast_calls = dict(sdk_calls)
    sdk_calls.clear()
    stock = sync_in_process(StockPathTap, config)

    records = [m for m in comparable(fast) if m["type"] == "RECORD"]
    assert len(records) == len(events) + len(odd)
    # Which path each run took: the SDK's per-record methods never ran in the fast one.
    assert fast_calls == {}
    assert sdk_calls == dict.fromkeys(RECORD_PATH, len(records))
    assert records == [m for m in comparable(stock) if m["type"] == "RECORD"]
    # SCHEMA and STATE too, each in its place between the records.
    assert comparable(fast) == comparable(stock)
    assert all("time_extracted" in m for m in fast if m["type"] == "RECORD")
    by_id = {m["record"]["id"]: m["record"] for m in records}
    assert by_id["500001"]["apply_date"] is by_id["500002"]["apply_date"] is None
    assert "channel" not in by_id["500003"]
    assert by_id["500004"]["apply_id"] == "37001"


def test_only_an_unchanged_record_takes_the_fast_path(config):
    assert passes_through(config)
    assert not passes_through({**config, "stream_maps": {"service_history": {"id": "id"}}})
    assert not passes_through({**config, "stream_maps": {"service_history": {"__alias__": "x"}}})
    assert not passes_through({**config, "flattening_enabled": True, "flattening_max_depth": 1})


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
    (stream,) = [s for s in catalog["streams"] if s["tap_stream_id"] == "service_history"]
    for entry in stream["metadata"]:
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
