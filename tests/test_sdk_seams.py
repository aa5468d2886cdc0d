"""Each private or undocumented singer-sdk behaviour the tap relies on, exercised.

docs/SDK_SEAMS.md lists the seams, where the tap relies on each, and the test here that guards
it. Every test runs the tap (in this process, against the local HappyTalk server) or calls the
SDK's API, and its assertion messages start with `seam:` and name the seam, so that a
singer-sdk release that changes one fails with a message saying which. The weekly
`sdk-canary` workflow runs these first (`pytest -m sdk_seam`), against the newest singer-sdk.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import signal
import sys
from collections import Counter
from typing import TYPE_CHECKING, Any

import click
import pytest
from singer_sdk import Stream, Tap
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.plugin_base import PluginBase
from singer_sdk.singerlib import RecordMessage
from singer_sdk.tap_base import CliTestOptionValue

from local_happytalk.chats import sample_rooms
from local_happytalk.server import LocalHappyTalk, sample_events
from tap_happytalk.errors import TapHappyTalkError
from tap_happytalk.streams.base import ExplainedErrorsStream, HappyTalkStream
from tap_happytalk.streams.chat_messages import ChatMessagesStream
from tap_happytalk.streams.chat_rooms import ChatRoomsStream
from tap_happytalk.streams.service_history import ServiceHistoryStream
from tap_happytalk.tap import TapHappyTalk
from tap_happytalk.writer import StateFlushingWriter

from .conftest import FIRST_DAY, STOP_SIGNALS, catalog_selecting, write_json

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = [pytest.mark.sdk_seam, pytest.mark.timeout(120)]

EVERY_STREAM = ("service_history", "chat_rooms", "chat_messages")
CHATS = ("chat_rooms", "chat_messages")
DAYS, PER_DAY = 2, 3  # service history: six events over two days
ROOM_DAYS, ROOMS_PER_DAY, MESSAGES_PER_ROOM = 2, 3, 3


@pytest.fixture
def server() -> Iterator[LocalHappyTalk]:
    events = sample_events(FIRST_DAY, DAYS, PER_DAY)
    rooms = sample_rooms(FIRST_DAY, ROOM_DAYS, ROOMS_PER_DAY, MESSAGES_PER_ROOM)
    with LocalHappyTalk(events, rooms=rooms) as local:
        yield local


def config_for(server: LocalHappyTalk, **extra: Any) -> dict[str, Any]:
    return {
        "token": server.token,
        "api_url": server.url,
        "start_date": FIRST_DAY.isoformat(),
        "end_date": (FIRST_DAY + dt.timedelta(days=DAYS)).isoformat(),
        **extra,
    }


def sync(
    monkeypatch: pytest.MonkeyPatch,
    config: dict[str, Any],
    streams: tuple[str, ...] = ("service_history",),
    tap_class: type[TapHappyTalk] = TapHappyTalk,
) -> list[dict[str, Any]]:
    """One `sync_all` in this process with `streams` selected; the messages it wrote."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    monkeypatch.setattr(sys, "stdout", out)
    tap_class(config=config, catalog=catalog_selecting(streams)).sync_all()
    out.buffer.seek(0)
    return [json.loads(line) for line in out.buffer.read().decode().splitlines()]


def of_type(messages: list[dict[str, Any]], kind: str, stream: str | None = None) -> list[Any]:
    return [m for m in messages if m["type"] == kind and stream in {None, m.get("stream")}]


# --- the record path: streams/base.py --------------------------------------------------------


def test_the_sdk_turns_each_record_into_messages_through_generate_record_messages(
    monkeypatch, server
):
    calls: Counter[str] = Counter()
    for name in ("_generate_record_messages", "_increment_stream_state"):
        original = getattr(ServiceHistoryStream, name)

        def counting(self, *args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(ServiceHistoryStream, name, counting)
    messages = sync(monkeypatch, config_for(server))

    records = of_type(messages, "RECORD")
    assert len(records) == DAYS * PER_DAY
    assert calls["_generate_record_messages"] == len(records), (
        "seam: Stream._generate_record_messages makes the RECORD messages of each record"
    )
    assert calls["_increment_stream_state"] == len(records), (
        "seam: Stream._increment_stream_state is called once per record written"
    )


def test_the_bookmark_moves_only_where_the_tap_moves_it(monkeypatch, server):
    """The tap's no-op `_increment_stream_state` is the only per-record bookmark update."""
    messages = sync(monkeypatch, config_for(server))

    bookmarks = [
        m["value"]["bookmarks"]["service_history"]["replication_key_value"]
        for m in of_type(messages, "STATE")
    ]
    window_ends = ["2024-03-02T00:00:00+09:00", "2024-03-03T00:00:00+09:00"]
    assert list(dict.fromkeys(bookmarks)) == window_ends, (
        "seam: nothing but Stream._increment_stream_state moves a bookmark per record"
    )


def test_the_fast_record_path_emits_what_the_sdks_own_path_emits(monkeypatch, server):
    """`_stream_version`, and the record the SDK would make, are what the fast path uses."""
    fast = sync(monkeypatch, config_for(server))
    monkeypatch.setattr(HappyTalkStream, "_records_pass_through", property(lambda _: False))
    stock = sync(monkeypatch, config_for(server))

    def comparable(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        records = of_type(messages, "RECORD")
        return [{k: v for k, v in m.items() if k != "time_extracted"} for m in records]

    assert len(of_type(fast, "RECORD")) == DAYS * PER_DAY
    assert comparable(fast) == comparable(stock), (
        "seam: Stream._generate_record_messages makes RecordMessage(stream, record, "
        "version=_stream_version, time_extracted) of an unmapped record"
    )
    assert all("version" not in m for m in of_type(fast, "RECORD")), (
        "seam: Stream._stream_version is None for an incremental stream"
    )


def test_stream_version_is_the_attribute_the_sdk_stamps_records_with(monkeypatch):
    tap = TapHappyTalk(config={"token": "x", "start_date": "2024-03-01"})
    stream = tap.streams["service_history"]
    monkeypatch.setattr(stream, "_stream_version", 7)
    (message,) = Stream._generate_record_messages(stream, {"id": "1"})  # noqa: SLF001
    assert isinstance(message, RecordMessage)
    assert message.version == 7, "seam: Stream._stream_version is the RECORD's version"


def test_write_state_message_writes_only_when_not_flushed(monkeypatch):
    written: list[dict[str, Any]] = []
    tap = TapHappyTalk(config={"token": "x", "start_date": "2024-03-01"})
    stream = tap.streams["service_history"]
    monkeypatch.setattr(tap.state_writer, "write_state", written.append)

    stream.state_manager.is_flushed = True
    stream._write_state_message()  # noqa: SLF001 - the hook this test guards
    assert written == [], "seam: Stream._write_state_message skips a flushed state"

    stream.state_manager.is_flushed = False
    stream._write_state_message()  # noqa: SLF001
    assert len(written) == 1, "seam: clearing state_manager.is_flushed makes STATE go out"
    assert stream.state_manager.is_flushed is True, (
        "seam: Stream._write_state_message sets state_manager.is_flushed"
    )


# --- the error line: streams/base.py ExplainedErrorsStream.log -------------------------------


def test_the_sdks_generic_error_line_goes_through_stream_log_while_the_error_is_raised(
    monkeypatch, caplog, server
):
    seen: list[tuple[int, str, BaseException | None]] = []
    original = ExplainedErrorsStream.log

    def spying(self, message, *args, level=logging.INFO, **kwargs):
        seen.append((level, message, sys.exc_info()[1]))
        original(self, message, *args, level=level, **kwargs)

    monkeypatch.setattr(ExplainedErrorsStream, "log", spying)
    with pytest.raises(TapHappyTalkError):
        sync(monkeypatch, {**config_for(server), "token": "wrong"})

    errors = [(message, exc) for level, message, exc in seen if level >= logging.ERROR]
    assert errors, "seam: Stream.sync logs its generic error line through Stream.log"
    assert all(isinstance(exc, TapHappyTalkError) for _, exc in errors), (
        "seam: Stream.sync calls Stream.log inside its except, with the error in sys.exc_info"
    )
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], (
        "seam: Stream.log is how the SDK writes its generic error line"
    )


# --- the chat streams: parent and child --------------------------------------------------------


def test_child_streams_are_the_discovered_streams_naming_the_parent_type():
    tap = TapHappyTalk(config={"token": "x", "start_date": "2024-03-01"})
    rooms, messages = tap.streams["chat_rooms"], tap.streams["chat_messages"]
    assert rooms.child_streams == [messages], (
        "seam: Tap.load_streams puts a stream whose parent_stream_type is the parent's type "
        "in the parent's child_streams"
    )
    assert all(stream._tap is tap for stream in tap.streams.values()), (  # noqa: SLF001
        "seam: Stream._tap is the tap that built the stream"
    )


def test_a_rooms_children_sync_before_the_next_room_is_asked_for(monkeypatch, server):
    events: list[tuple[str, str]] = []
    own_records = ChatRoomsStream.get_records

    def rooms(self, context):
        for record in own_records(self, context):
            events.append(("room", str(record["id"])))
            yield record

    own_messages = ChatMessagesStream.get_records

    def messages(self, context):
        events.append(("child", str(context["room_id"])))
        return own_messages(self, context)

    monkeypatch.setattr(ChatRoomsStream, "get_records", rooms)
    monkeypatch.setattr(ChatMessagesStream, "get_records", messages)
    written = sync(monkeypatch, config_for(server, end_date="2024-03-03"), CHATS)

    room_count = ROOM_DAYS * ROOMS_PER_DAY
    assert len(of_type(written, "RECORD", "chat_rooms")) == room_count
    expected = [step for _, room in events[::2] for step in (("room", room), ("child", room))]
    assert len(events) == 2 * room_count
    assert events == expected, (
        "seam: Stream._sync_records syncs a record's children (generate_child_contexts) "
        "before it asks get_records for the next record"
    )
    assert len(of_type(written, "RECORD", "chat_messages")) == room_count * MESSAGES_PER_ROOM, (
        "seam: a child reaches its parent's records through Stream._tap.streams"
    )


def test_the_childs_schema_is_written_once_though_the_sdk_asks_per_room(monkeypatch, server):
    calls: list[str] = []
    original = ChatMessagesStream._write_schema_message  # noqa: SLF001

    def counting(self):
        calls.append(self.name)
        original(self)

    monkeypatch.setattr(ChatMessagesStream, "_write_schema_message", counting)
    written = sync(monkeypatch, config_for(server, end_date="2024-03-03"), CHATS)

    assert len(calls) == ROOM_DAYS * ROOMS_PER_DAY, (
        "seam: Stream.sync calls Stream._write_schema_message once per child sync (per room)"
    )
    assert len(of_type(written, "SCHEMA", "chat_messages")) == 1, (
        "seam: Stream._write_schema_message is where the SDK writes SCHEMA"
    )


def test_empty_state_partitioning_keys_keep_one_state_for_the_child(monkeypatch, server):
    written = sync(monkeypatch, config_for(server, end_date="2024-03-03"), CHATS)

    final = of_type(written, "STATE")[-1]["value"]["bookmarks"]
    assert "partitions" not in final["chat_messages"], (
        "seam: state_partitioning_keys = [] gives a child one state, not one per context"
    )
    assert final["chat_messages"].get("replication_key_value"), (
        "seam: the child's state is the one chat_rooms writes through get_context_state(None)"
    )


# --- the tap: tap.py ---------------------------------------------------------------------------


def test_sync_all_follows_the_order_of_tap_streams(monkeypatch, server):
    written = sync(monkeypatch, config_for(server, end_date="2024-03-03"), EVERY_STREAM)

    first_seen = list(dict.fromkeys(m["stream"] for m in written if "stream" in m))
    assert first_seen[0] == "service_history", "seam: Tap.sync_all follows Tap.streams' order"
    assert set(first_seen) == set(EVERY_STREAM)


def test_tap_setup_mapper_is_plugin_base_setup_mapper_and_the_catalog_registered():
    """The tap calls PluginBase's, then registers its own catalog: nothing of Tap's is lost."""
    maps = {"service_history": {"request_content": "__NULL__"}, "chat_rooms": {"x": "id"}}
    tap = TapHappyTalk(
        config={"token": "x", "start_date": "2024-03-01", "stream_maps": maps},
        catalog=catalog_selecting(EVERY_STREAM),
    )

    def registered(mapper_owner: Tap) -> dict[str, list[tuple[str, str]]]:
        return {
            name: [(type(m).__name__, m.stream_alias) for m in stream_maps]
            for name, stream_maps in mapper_owner.mapper.stream_maps.items()
        }

    ours = registered(tap)
    Tap.setup_mapper(tap)  # the SDK's own, on a catalog where everything is selected
    assert registered(tap) == ours, (
        "seam: Tap.setup_mapper is PluginBase.setup_mapper then "
        "mapper.register_raw_streams_from_catalog(catalog)"
    )
    PluginBase.setup_mapper(tap)
    assert tap.mapper.stream_maps == {}, (
        "seam: PluginBase.setup_mapper builds the mapper and registers no stream"
    )


@pytest.mark.usefixtures("tap_signal_handlers")
def test_the_taps_signal_handlers_replace_the_sdks(monkeypatch, server):
    """The SDK's handler exits at once; the tap's stops after the record being written."""
    original = ServiceHistoryStream._generate_record_messages  # noqa: SLF001
    written_ids: list[str] = []

    def signalling(self, record):
        written_ids.append(record["id"])
        if len(written_ids) == 2:
            signal.raise_signal(signal.SIGTERM)
        return original(self, record)

    monkeypatch.setattr(ServiceHistoryStream, "_generate_record_messages", signalling)
    try:
        written = sync(monkeypatch, config_for(server))
    except SystemExit:
        pytest.fail(
            "seam: PluginBase.__init__ installs the SDK's signal handlers before the tap's "
            "own (TapHappyTalk.__init__), not later"
        )
    records = of_type(written, "RECORD")
    assert len(records) == 2
    assert written[-1]["type"] == "STATE", (
        "seam: Stream._sync_records writes a final STATE when get_records returns"
    )
    bookmark = written[-1]["value"]["bookmarks"]["service_history"]["replication_key_value"]
    assert bookmark == records[-1]["record"]["request_date"]


def test_the_sdk_installs_its_signal_handlers_when_a_tap_is_built_and_not_later(
    monkeypatch, server
):
    """conftest.py gives pytest its handlers back once a tap is built: that must be enough."""
    pytests = {number: signal.getsignal(number) for number in STOP_SIGNALS}
    installed: list[signal.Signals] = []
    real_signal = signal.signal

    def installing(number, handler):
        installed.append(signal.Signals(number))
        return real_signal(number, handler)

    monkeypatch.setattr(signal, "signal", installing)
    tap = TapHappyTalk(config=config_for(server), catalog=catalog_selecting(EVERY_STREAM))
    assert set(installed) == set(STOP_SIGNALS), (
        "seam: PluginBase.__init__ installs the SDK's SIGINT and SIGTERM handlers"
    )
    built = len(installed)
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    monkeypatch.setattr(sys, "stdout", out)
    tap.sync_all()
    assert installed[built:] == [], (
        "seam: the SDK installs signal handlers only while a tap is built, not at sync_all"
    )
    assert {number: signal.getsignal(number) for number in STOP_SIGNALS} == pytests


# --- the output: writer.py ---------------------------------------------------------------------


def test_every_message_goes_through_the_writer_class_as_one_encoded_line(monkeypatch, server):
    lines: list[bytes | bytearray] = []
    original = MsgSpecWriter.format_message

    def recording(self, message):
        line = original(self, message)
        lines.append(line)
        return line

    monkeypatch.setattr(MsgSpecWriter, "format_message", recording)
    written = sync(monkeypatch, config_for(server))

    assert TapHappyTalk.message_writer_class is StateFlushingWriter
    assert len(lines) == len(written), (
        "seam: Tap writes every message (STATE too) through message_writer_class.write_message"
    )
    assert all(isinstance(line, (bytes, bytearray)) and line.endswith(b"\n") for line in lines), (
        "seam: MsgSpecWriter.format_message returns one encoded line, as bytes"
    )


# --- the command line: cli.py ------------------------------------------------------------------


def test_the_cli_calls_the_callbacks_the_tap_wraps():
    command = TapHappyTalk.get_singer_command()
    by_name = {param.name: param for param in command.params}
    assert command.callback == TapHappyTalk.invoke, "seam: the tap's command calls Tap.invoke"
    for option, callback in (
        ("config", TapHappyTalk.cb_config),
        ("discover", TapHappyTalk.cb_discover),
        ("test", TapHappyTalk.cb_test),
    ):
        assert by_name[option].callback == callback, f"seam: --{option} runs Tap.cb_{option}"
    assert "about" in by_name, "seam: Tap.invoke gets `about` among its keyword arguments"


def test_tap_invoke_returns_once_sync_all_is_done(monkeypatch):
    synced: list[Tap] = []

    class Recording(TapHappyTalk):
        def __init__(self, **_: Any) -> None:  # no settings needed: sync_all is recorded
            pass

        def sync_all(self) -> None:  # type: ignore[misc]  # final in the SDK; a stand-in
            synced.append(self)

    monkeypatch.setattr(Recording, "print_version", classmethod(lambda _cls, **_: None))
    returned = Tap.invoke.__func__(Recording)  # type: ignore[attr-defined]
    assert returned is None, "seam: Tap.invoke returns (no exit) after tap.sync_all()"
    assert len(synced) == 1, (
        "seam: Tap.invoke builds the tap and calls sync_all once, then returns: the CLI then "
        "reads which streams ended with units set aside (OneLineErrorTap.invoke, exit code 3)"
    )


def test_test_is_disabled_unless_given_as_cli_test_option_value_says():
    command = TapHappyTalk.get_singer_command()
    test = {param.name: param for param in command.params}["test"]
    with click.Context(command) as ctx:
        assert test.get_default(ctx) == CliTestOptionValue.Disabled.value, (
            "seam: without --test, cb_test gets CliTestOptionValue.Disabled.value"
        )
    assert CliTestOptionValue.All.value in {"all", getattr(test, "flag_value", None)}


def test_cb_config_gives_the_files_merged_and_parse_env(tmp_path: Path):
    first = write_json(tmp_path / "a.json", {"token": "a", "start_date": "2024-03-01"})
    second = write_json(tmp_path / "b.json", {"token": "b"})

    given = Tap.cb_config(None, None, (str(first), str(second), "ENV"))  # type: ignore[arg-type]
    assert given.config == {"token": "b", "start_date": "2024-03-01"}, (
        "seam: Tap.cb_config's answer has .config, the files merged in order"
    )
    assert given.parse_env is True, "seam: Tap.cb_config's answer has .parse_env for ENV"
    files_only = Tap.cb_config(None, None, (str(first),))  # type: ignore[arg-type]
    assert files_only.parse_env is False, "seam: .parse_env is False without ENV"


def test_settings_from_the_environment_are_read_as_cli_check_environment_reads_them(
    monkeypatch,
):
    monkeypatch.setenv("TAP_HAPPYTALK_TOKEN", "from-env")
    monkeypatch.setenv("TAP_HAPPYTALK_MAX_RETRIES", " 3")
    monkeypatch.setenv("TAP_HAPPYTALK_STREAM_MAPS", '{"service_history": {"x": "id"}}')
    tap = TapHappyTalk(config={"start_date": "2024-03-01"}, parse_env_config=True)
    assert tap.config["token"] == "from-env", "seam: TAP_HAPPYTALK_<SETTING> sets <setting>"
    assert tap.config["max_retries"] == 3, "seam: an integer setting is read with int()"
    assert tap.config["stream_maps"] == {"service_history": {"x": "id"}}, (
        "seam: an object setting is read as JSON"
    )
    monkeypatch.setenv("TAP_HAPPYTALK_MAX_RETRIES", "three")
    with pytest.raises(ValueError):  # noqa: PT011 - the SDK's int() says no more
        TapHappyTalk(config={"start_date": "2024-03-01"}, parse_env_config=True)


# --- the request metrics: metrics.py -----------------------------------------------------------


def test_request_metrics_are_logged_as_the_sdks_points_with_the_taps_tags(
    monkeypatch, caplog, server
):
    caplog.set_level(logging.INFO, logger="singer_sdk.metrics")
    sync(monkeypatch, config_for(server))

    points = [
        json.loads(r.getMessage().split("METRIC: ", 1)[1])
        for r in caplog.records
        if r.getMessage().startswith("METRIC: ")
    ]
    durations = [p for p in points if p["metric"] == "http_request_duration"]
    counts = [p for p in points if p["metric"] == "http_request_count"]
    assert len(durations) == DAYS, "seam: metrics.log writes a Point as `METRIC: <json>`"
    assert {p["tags"]["request_kind"] for p in durations} == {"window"}, (
        "seam: a Point's tags may carry the tap's own keys"
    )
    assert sum(p["value"] for p in counts if p["tags"].get("request_kind") == "window") == DAYS, (
        "seam: metrics.http_request_counter takes extra tags, and Counter.exit logs the count"
    )


# --- the child's per-room lines: chat_messages.py ----------------------------------------------


def test_each_child_sync_logs_through_stream_log_and_the_meter_hooks_once_per_room(
    monkeypatch, caplog, server
):
    monkeypatch.setenv("LOGLEVEL", "DEBUG")  # the SDK sets its metrics logger's level from it
    caplog.set_level(logging.DEBUG)
    counters: list[str] = []
    timers: list[str] = []
    own_counter, own_timer = (
        ChatMessagesStream.get_record_counter,
        ChatMessagesStream.get_sync_timer,
    )

    def counting(self, **kwargs):
        counters.append(self.name)
        return own_counter(self, **kwargs)

    def timing(self):
        timers.append(self.name)
        return own_timer(self)

    monkeypatch.setattr(ChatMessagesStream, "get_record_counter", counting)
    monkeypatch.setattr(ChatMessagesStream, "get_sync_timer", timing)
    sync(monkeypatch, config_for(server, end_date="2024-03-03"), CHATS)

    rooms = ROOM_DAYS * ROOMS_PER_DAY
    beginning = [r for r in caplog.records if "Beginning sync of 'chat_messages'" in r.getMessage()]
    assert len(beginning) == rooms, "seam: Stream.sync logs 'Beginning sync' at each child sync"
    assert {r.levelno for r in beginning} == {logging.DEBUG}, (
        "seam: Stream.sync logs its 'Beginning sync' line through Stream.log"
    )
    assert (len(counters), len(timers)) == (rooms, rooms), (
        "seam: Stream._sync_records takes a record counter and a sync timer per child sync "
        "from get_record_counter and get_sync_timer"
    )
    points = [
        (r.levelno, json.loads(r.getMessage().split("METRIC: ", 1)[1]))
        for r in caplog.records
        if r.getMessage().startswith("METRIC: ")
    ]
    child = [(level, p) for level, p in points if p["tags"].get("stream") == "chat_messages"]
    per_room = [(level, p) for level, p in child if "context" in p["tags"]]
    assert len(per_room) == 2 * rooms, (
        "seam: the SDK exits each room's counter (Counter.exit) and timer (Timer.__exit__)"
    )
    assert {level for level, _ in per_room} == {logging.DEBUG}
    sdks = {"record_count", "sync_duration"}  # the tap's own (units_set_aside) aside
    totals = [
        (level, p["metric"], p["value"])
        for level, p in child
        if "context" not in p["tags"] and p["metric"] in sdks
    ]
    assert min(totals) == (logging.INFO, "record_count", rooms * MESSAGES_PER_ROOM), (
        "seam: Tap.sync_all calls Stream.log_sync_costs once per stream at the run's end"
    )
    assert len(totals) == 2


# --- the settings: cli.py ----------------------------------------------------------------------


def test_validate_config_runs_in_init_on_the_config_merged_with_the_environment(monkeypatch):
    monkeypatch.setenv("TAP_HAPPYTALK_TIMEZONE", "KST")
    with pytest.raises(TapHappyTalkError, match="write Asia/Seoul"):
        TapHappyTalk(config={"token": "x", "start_date": "2024-03-01"}, parse_env_config=True)
    # Without validation (discovery), nothing is judged.
    tap = TapHappyTalk(
        config={"token": "x", "start_date": "2024-03-01"},
        parse_env_config=True,
        validate_config=False,
    )
    assert tap.config["timezone"] == "KST", (
        "seam: PluginBase.__init__ merges the environment into the config before it calls "
        "_validate_config(raise_errors=validate_config)"
    )


def test_discovery_builds_the_tap_without_validating_its_config(tmp_path: Path):
    config = write_json(tmp_path / "c.json", {"token": "x", "timezone": "KST"})
    calls: list[bool] = []
    original = TapHappyTalk._validate_config  # noqa: SLF001

    def spying(self, *, raise_errors=True):
        calls.append(raise_errors)
        return original(self, raise_errors=raise_errors)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TapHappyTalk, "_validate_config", spying)
        out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
        patch.setattr(sys, "stdout", out)
        code = TapHappyTalk.get_singer_command().main(
            ["--config", str(config), "--discover"], standalone_mode=False
        )
    assert code == 0
    assert json.loads(out.buffer.getvalue())["streams"]
    assert calls == [False], (
        "seam: Tap.cb_discover builds the tap with validate_config=dynamic_catalog (False)"
    )


def test_the_sdks_config_errors_name_the_setting_as_config_brackets():
    from singer_sdk.exceptions import ConfigValidationError  # noqa: PLC0415

    config = {"token": "x", "start_date": "2024-03-01", "flattening_max_depth": "deep"}
    with pytest.raises(ConfigValidationError) as failed:
        TapHappyTalk(config=config)
    assert failed.value.errors == [
        "'deep' is not of type 'integer', 'null' in config['flattening_max_depth']"
    ], "seam: ConfigValidationError.errors read `<JSON Schema message> in config['<name>']`"


# --- the chat streams' state: chat_rooms.py, chat_state.py, tap.py ---------------------------


@pytest.mark.sdk_seam
def test_load_state_drops_an_empty_stream_state_so_the_tap_upgrades_before_it():
    state = {"bookmarks": {"chat_rooms": {"replication_key": "reg_date"}, "chat_messages": {}}}
    plain = Tap.__new__(TapHappyTalk)
    plain._state = {}  # noqa: SLF001 - what PluginBase.__init__ sets before load_state
    Tap.load_state(plain, state)
    assert "chat_messages" not in plain.state.get("bookmarks", {}), (
        "seam: Tap.load_state writes key by key, so an empty stream state is dropped; "
        "TapHappyTalk.load_state reads the previous release's state before it does"
    )


@pytest.mark.sdk_seam
def test_the_state_writer_skips_a_state_equal_to_the_last(monkeypatch):
    tap = TapHappyTalk(
        config={"token": "x", "start_date": "2024-03-01", "api_url": "http://127.0.0.1:9"}
    )
    written: list[Any] = []
    monkeypatch.setattr(tap.state_writer._message_writer, "write_message", written.append)  # noqa: SLF001
    tap.state_writer.write_state({"bookmarks": {"a": {"b": 1}}})
    tap.state_writer.write_state({"bookmarks": {"a": {"b": 1}}})
    assert len(written) == 1, (
        "seam: the SDK's state writer writes no STATE equal to the last one (a stopped chat "
        "sync then ends without repeating its last checkpoint)"
    )


@pytest.mark.sdk_seam
def test_a_parent_not_selected_is_synced_for_its_selected_child(monkeypatch, server):
    written = sync(monkeypatch, config_for(server, end_date="2024-03-03"), ("chat_messages",))

    assert of_type(written, "RECORD", "chat_messages"), (
        "seam: Tap.sync_all syncs a parent that is not selected when a child is, and "
        "_sync_records calls its get_records without writing its records"
    )
    assert not of_type(written, "RECORD", "chat_rooms"), "seam: as above"
    final = of_type(written, "STATE")[-1]["value"]["bookmarks"]
    assert "ask_again" not in final.get("chat_rooms", {}), (
        "seam: the unselected parent's state is left as it was"
    )


@pytest.mark.sdk_seam
def test_an_unsorted_stream_with_a_no_op_increment_keeps_no_progress_markers(monkeypatch, server):
    written = sync(monkeypatch, config_for(server, end_date="2024-03-03"), CHATS)

    for state in of_type(written, "STATE"):
        rooms = state["value"]["bookmarks"].get("chat_rooms", {})
        assert "progress_markers" not in rooms, (
            "seam: with is_sorted = False the SDK keeps progress markers only through "
            "_increment_stream_state, which chat_rooms does not call on"
        )


def test_select_is_read_before_discover_and_chooses_through_selected_by_default(tmp_path: Path):
    config = write_json(tmp_path / "c.json", {"token": "x", "start_date": "2024-01-01"})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TapHappyTalk, "chosen_streams", frozenset())
        out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
        patch.setattr(sys, "stdout", out)
        # `--select` after `--discover`: click processes eager options first.
        code = TapHappyTalk.get_singer_command().main(
            ["--config", str(config), "--discover", "--select", "chat_rooms"],
            standalone_mode=False,
        )
        assert code == 0
        chosen = TapHappyTalk(config={}, validate_config=False)
    roots = {
        stream["tap_stream_id"]: entry["metadata"]
        for stream in json.loads(out.buffer.getvalue())["streams"]
        for entry in stream["metadata"]
        if entry["breadcrumb"] == []
    }
    assert {name: meta["selected-by-default"] for name, meta in roots.items()} == {
        "service_history": False,
        "chat_rooms": True,
        "chat_messages": False,
    }, "seam: eager --select is processed before --discover, wherever it stands"
    selected = {name: stream.selected for name, stream in chosen.streams.items()}
    assert selected == {"service_history": False, "chat_rooms": True, "chat_messages": False}, (
        "seam: without a catalog, a stream is selected by its selected_by_default"
    )
