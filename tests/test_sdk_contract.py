"""The SDK internals the tap leans on still exist and still mean what the tap assumes.

The record path overrides private `Stream` methods and flips `state_manager.is_flushed`; the
command-line edge wraps the SDK's click callbacks. A singer-sdk release that renames or
changes one of these must fail here, loudly, rather than make the tap silently slower, send
state at the wrong time, or print tracebacks. The scheduled `sdk-canary` workflow runs this
file against the newest singer-sdk.
"""

from __future__ import annotations

import inspect
import io
import json
import sys
from typing import Any

import pytest
from singer_sdk import Stream, Tap

from local_happytalk.server import LocalHappyTalk, sample_events
from tap_happytalk.chats import ChatMessagesStream
from tap_happytalk.streams import ServiceHistoryStream
from tap_happytalk.tap import TapHappyTalk

from .conftest import FIRST_DAY

PRIVATE_STREAM_METHODS = ("_generate_record_messages", "_increment_stream_state")
# chat_messages writes its SCHEMA once, not before every room's messages.
PRIVATE_CHILD_METHODS = ("_write_schema_message",)


@pytest.mark.parametrize("name", PRIVATE_STREAM_METHODS)
def test_the_private_stream_methods_the_tap_overrides_still_exist_with_the_same_signature(name):
    ours = inspect.signature(getattr(ServiceHistoryStream, name))
    theirs = inspect.signature(getattr(Stream, name))
    assert list(ours.parameters) == list(theirs.parameters), name
    assert [p.kind for p in ours.parameters.values()] == [
        p.kind for p in theirs.parameters.values()
    ]


@pytest.mark.parametrize("name", PRIVATE_CHILD_METHODS)
def test_the_private_method_the_child_stream_overrides_still_exists(name):
    ours = inspect.signature(getattr(ChatMessagesStream, name))
    theirs = inspect.signature(getattr(Stream, name))
    assert list(ours.parameters) == list(theirs.parameters)
    assert "self._write_schema_message()" in inspect.getsource(Stream.sync)


@pytest.mark.parametrize("name", ["cb_config", "cb_discover", "cb_test", "invoke"])
def test_the_cli_callbacks_the_tap_wraps_still_exist(name):
    theirs = getattr(Tap, name)
    assert inspect.ismethod(theirs), name  # a classmethod, bound to the class
    ours = inspect.signature(getattr(TapHappyTalk, name))
    if name != "invoke":
        assert list(ours.parameters) == list(inspect.signature(theirs).parameters), name


def test_the_sdk_still_logs_its_generic_sync_error_through_stream_log():
    """The tap's `log` override silences that one line; it must still go through `log`."""
    source = inspect.getsource(Stream.sync)
    assert "self.log(" in source
    assert "An unhandled error occurred while syncing" in source


@pytest.fixture
def synced(monkeypatch) -> dict[str, Any]:
    """One in-process sync, counting how often the SDK called each private hook."""
    calls = dict.fromkeys(PRIVATE_STREAM_METHODS, 0)
    for name in PRIVATE_STREAM_METHODS:
        original = getattr(ServiceHistoryStream, name)

        def counting(self, *args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(ServiceHistoryStream, name, counting)
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    monkeypatch.setattr(sys, "stdout", out)
    with LocalHappyTalk(sample_events(FIRST_DAY, 2, 3)) as server:
        tap = TapHappyTalk(
            config={
                "token": server.token,
                "api_url": server.url,
                "start_date": "2024-03-01",
                "end_date": "2024-03-03",
            }
        )
        tap.sync_all()
    out.buffer.seek(0)
    messages = [json.loads(line) for line in out.buffer.read().decode().splitlines()]
    return {"calls": calls, "messages": messages}


def test_the_sdk_still_calls_the_overridden_record_hooks_once_per_record(synced):
    records = [m for m in synced["messages"] if m["type"] == "RECORD"]
    assert len(records) == 6
    assert synced["calls"]["_generate_record_messages"] == 6
    assert synced["calls"]["_increment_stream_state"] == 6


def test_the_overridden_increment_keeps_the_bookmark_at_window_ends(synced):
    """Were the SDK to stop calling our no-op, it would move the bookmark to each record."""
    bookmarks = [
        m["value"]["bookmarks"]["service_history"]["replication_key_value"]
        for m in synced["messages"]
        if m["type"] == "STATE"
    ]
    assert bookmarks[:2] == ["2024-03-02T00:00:00+09:00", "2024-03-03T00:00:00+09:00"]


def test_clearing_is_flushed_still_makes_the_sdk_write_state(monkeypatch):
    written: list[dict[str, Any]] = []
    tap = TapHappyTalk(
        config={"token": "x", "start_date": "2024-03-01", "api_url": "http://127.0.0.1:9"}
    )
    stream = tap.streams["service_history"]
    monkeypatch.setattr(tap.state_writer, "write_state", written.append)

    stream.state_manager.is_flushed = True
    stream._write_state_message()  # noqa: SLF001 - the hook this test guards
    assert written == []

    stream.state_manager.is_flushed = False
    stream._write_state_message()  # noqa: SLF001
    assert len(written) == 1
    assert stream.state_manager.is_flushed is True


def test_the_taps_own_setup_mapper_only_registers_the_catalog():
    """TapHappyTalk.setup_mapper skips Tap's, and registers the streams itself."""
    body = inspect.getsource(Tap.setup_mapper).split('"""')[-1]
    statements = [line.strip() for line in body.strip().splitlines()]
    assert statements == [
        "super().setup_mapper()",
        "self.mapper.register_raw_streams_from_catalog(self.catalog)",
    ]


def test_a_stream_still_knows_its_tap_as_tap():
    """The streams reach the run's pacer and their siblings through `_tap`."""
    tap = TapHappyTalk(
        config={"token": "x", "start_date": "2024-03-01", "api_url": "http://127.0.0.1:9"}
    )
    assert all(stream._tap is tap for stream in tap.streams.values())  # noqa: SLF001
