"""Stream maps and flattening end to end: the tap as a subprocess, checked against the events.

What the SDK does with them, as these tests pin down: `__alias__` renames the stream in
SCHEMA and RECORD messages, while STATE stays keyed by the tap's stream name
(`service_history`), so a state resumes whatever the alias; `__filter__` drops records after
the tap has read them, so every window still ends with its STATE.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest

from local_happytalk.server import sample_events
from tap_happytalk.streams.service_history import SCHEMA

from .conftest import FIRST_DAY, run_tap
from .test_record_path import comparable, passes_through

NO_MANAGER_ACTION_DAY = "2024-03-03"  # every event that day is K or A: a filter leaves none
EMPTY_DAY = FIRST_DAY + dt.timedelta(days=3)  # 2024-03-04: HappyTalk has nothing
DAYS = 10  # the `config` fixture's range


@pytest.fixture
def events() -> list[dict[str, str]]:
    """Five days of events from 2024-03-01; 2024-03-03 has no manager action, 2024-03-04 none."""
    rows = sample_events(FIRST_DAY, 5, 12, empty_days=[EMPTY_DAY], first_id=99_990)
    for row in rows:
        if row["request_date"].startswith(NO_MANAGER_ACTION_DAY):
            row["kind"] = "K" if int(row["id"]) % 2 else "A"
    return rows


def as_record(event: dict[str, str]) -> dict[str, str]:
    """What the tap makes of a HappyTalk row: the two timestamps in Korea time."""

    def aware(text):
        return text.replace(" ", "T") + "+09:00"

    return {
        **event,
        "request_date": aware(event["request_date"]),
        "apply_date": aware(event["apply_date"]),
    }


def oldest_first(events):
    return sorted(events, key=lambda e: (e["request_date"], int(e["id"])))


def window_ends():
    """The bookmark after each day window of the range."""
    return [f"{FIRST_DAY + dt.timedelta(days=n)}T00:00:00+09:00" for n in range(1, DAYS + 1)]


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - what the SDK's md5() gives


MAPS = {
    "service_history": {
        "__alias__": "audit_log",
        "__filter__": "kind == 'S'",
        "request_user": "md5(request_user)",
        "request_content": "__NULL__",
    }
}


def test_alias_filter_hash_and_null_give_exactly_the_mapped_manager_actions(
    tmp_path, happytalk, events, config
):
    run = run_tap(tmp_path, {**config, "stream_maps": MAPS})

    assert run.returncode == 0, run.stderr
    # SCHEMA: under the alias, without the nulled property, the hashed one a string.
    (schema,) = [m for m in run.messages if m["type"] == "SCHEMA"]
    assert schema["stream"] == "audit_log"
    assert set(schema["schema"]["properties"]) == set(SCHEMA["properties"]) - {"request_content"}
    assert "string" in schema["schema"]["properties"]["request_user"]["type"]
    assert schema["key_properties"] == ["id"]
    assert schema["bookmark_properties"] == ["request_date"]
    # RECORD: under the alias, exactly the manager actions HappyTalk has, mapped, oldest first.
    expected = [
        {
            **{k: v for k, v in as_record(e).items() if k != "request_content"},
            "request_user": md5(e["request_user"]),
        }
        for e in oldest_first(events)
        if e["kind"] == "S"
    ]
    assert 0 < len(expected) < len(events)
    assert {m["stream"] for m in run.messages if m["type"] == "RECORD"} == {"audit_log"}
    assert run.records == expected
    assert not any(r["request_date"].startswith(NO_MANAGER_ACTION_DAY) for r in run.records)
    # STATE: keyed by the stream's own name, one per window, filtered-out and empty ones too.
    assert all(set(state["bookmarks"]) == {"service_history"} for state in run.states)
    ends = window_ends()
    assert run.bookmarks == [*ends, ends[-1]]
    # No record comes after the STATE that covers it: the filtered day's window closes at once.
    bookmark = f"{FIRST_DAY}T00:00:00+09:00"
    for message in run.messages:
        if message["type"] == "STATE":
            bookmark = message["value"]["bookmarks"]["service_history"]["replication_key_value"]
        elif message["type"] == "RECORD":
            assert message["record"]["request_date"][:10] == bookmark[:10]


def test_a_state_written_under_an_alias_resumes_after_the_filtered_window(
    tmp_path, happytalk, events, config
):
    first = run_tap(tmp_path, {**config, "stream_maps": MAPS})
    resume_at = f"{EMPTY_DAY}T00:00:00+09:00"  # the STATE that closed the filtered day
    (state,) = [
        s
        for s in first.states
        if s["bookmarks"]["service_history"]["replication_key_value"] == resume_at
    ]
    happytalk.requests.clear()
    second = run_tap(tmp_path, {**config, "stream_maps": MAPS}, state=state)

    assert second.returncode == 0, second.stderr
    assert min(r.start_date or "" for r in happytalk.requests) == f"{EMPTY_DAY} 00:00:00"
    assert [r["id"] for r in second.records] == [
        r["id"] for r in first.records if r["request_date"] >= resume_at
    ]
    assert second.bookmark == window_ends()[-1]


@pytest.mark.parametrize(
    ("maps", "streams"),
    [
        ({"service_history": {"__alias__": "audit_log"}}, ["audit_log"]),
        # A second stream from the same source: every record goes out under both names.
        ({"audit_log": {"__source__": "service_history"}}, ["service_history", "audit_log"]),
    ],
    ids=["alias", "copy"],
)
def test_renamed_and_copied_streams_carry_every_record_unchanged(
    tmp_path, events, config, maps, streams
):
    assert not passes_through({**config, "stream_maps": maps})
    run = run_tap(tmp_path, {**config, "stream_maps": maps})

    assert run.returncode == 0, run.stderr
    assert [m["stream"] for m in run.messages if m["type"] == "SCHEMA"] == streams
    for stream in streams:
        sent = [m["record"] for m in run.messages if m.get("stream") == stream and "record" in m]
        assert sent == [as_record(e) for e in oldest_first(events)], stream
    assert all(set(state["bookmarks"]) == {"service_history"} for state in run.states)


def without_extra_fields(messages):
    """The messages, with `extra_fields` left out of every SCHEMA."""
    for message in messages:
        if message["type"] == "SCHEMA":
            del message["schema"]["properties"]["extra_fields"]
    return messages


def test_flattening_a_flat_stream_changes_nothing_but_takes_the_sdk_path(
    tmp_path, happytalk, events, config
):
    flattened = {**config, "flattening_enabled": True, "flattening_max_depth": 1}
    assert passes_through(config)
    assert not passes_through(flattened)
    plain = run_tap(tmp_path, config)
    flat = run_tap(tmp_path, flattened)

    assert flat.returncode == plain.returncode == 0, flat.stderr
    assert flat.records == [as_record(e) for e in oldest_first(events)]
    (schema,) = [m["schema"] for m in flat.messages if m["type"] == "SCHEMA"]
    assert schema["properties"]["extra_fields"] == {"type": ["string", "null"]}
    assert without_extra_fields(comparable(flat.messages)) == without_extra_fields(
        comparable(plain.messages)
    )


def test_flattening_keeps_undescribed_fields_as_json_text(tmp_path, happytalk, config):
    extra = {"channel": "kakao", "score": 3}
    happytalk.add_events([{**events_like(), **extra}])
    flattened = {**config, "flattening_enabled": True, "flattening_max_depth": 1}
    run = run_tap(tmp_path, flattened)

    assert run.returncode == 0, run.stderr
    (record,) = [r for r in run.records if r["id"] == "1"]
    assert json.loads(record["extra_fields"]) == extra


def events_like():
    """One service-history event of 2024-03-02, as HappyTalk sends them."""
    return {
        "id": "1",
        "type": "M",
        "kind": "S",
        "request_user": "agent-1",
        "request_content": "상담원 로그인",
        "request_date": "2024-03-02 10:00:00",
        "apply_id": "1",
        "apply_content": "로그인",
        "apply_date": "2024-03-02 10:00:00",
    }
