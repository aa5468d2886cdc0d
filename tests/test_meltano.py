"""Meltano end to end, as users run it: `meltano install`, `meltano run`, `meltano state get`.

Runs in a copy of the project against the local HappyTalk server, which serves service history
and consultation rooms; meltano.yml selects all three streams. The PostgreSQL tests need a
server: `.ci/run` starts one; locally, set TAP_HAPPYTALK_TEST_POSTGRES to a database URL
(e.g. postgresql://postgres@127.0.0.1:5432/warehouse) or run `bash .ci/run` as root on Debian.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import uuid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from local_happytalk.chats import CHAT_ROOM_LISTS_PATH, ZERO_DATE, korea_now, sample_rooms
from local_happytalk.server import API_FORMAT, Fault, LocalHappyTalk, sample_events

from .conftest import FIRST_DAY, copy_project, run_meltano, target_postgres_env

MELTANO = str(Path(sys.executable).parent / "meltano")
SEOUL = ZoneInfo("Asia/Seoul")
KOREAN = '상담분류 변경 [테스트방] - 상품문의 → 불만접수 ✅ "따옴표" 그리고 \\역슬래시'
STREAMS = ("service_history", "chat_rooms", "chat_messages")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the project with every plugin installed by `meltano install`."""
    root = copy_project(tmp_path_factory.mktemp("meltano") / "project")
    meltano(root, "install", env={})
    return root


def meltano(root: Path, *args: str, env: dict[str, str]) -> str:
    """Run `meltano ARGS` in `root`; it must succeed. Returns what it printed on stdout."""
    return run_meltano(root, *args, env=env).stdout


def tap_env(
    server: LocalHappyTalk, end: str | None, start: str = FIRST_DAY.isoformat(), **extra: str
) -> dict[str, str]:
    """The tap's settings for `server`; no `end_date` when `end` is None (up to now)."""
    return {
        "TAP_HAPPYTALK_TOKEN": server.token,
        "TAP_HAPPYTALK_API_URL": server.url,
        "TAP_HAPPYTALK_START_DATE": start,
        **({"TAP_HAPPYTALK_END_DATE": end} if end is not None else {}),
        **extra,
    }


def bookmark(root: Path, state_id: str, stream: str = "service_history") -> str:
    state = json.loads(meltano(root, "state", "get", state_id, env={}))
    return str(state["singer_state"]["bookmarks"][stream]["replication_key_value"])


def open_rooms(root: Path, state_id: str) -> set[str]:
    """The ids in `chat_rooms`' open-room set, as Meltano keeps its state."""
    state = json.loads(meltano(root, "state", "get", state_id, env={}))
    entries = state["singer_state"]["bookmarks"]["chat_rooms"]["ask_again"]
    return {entry["id"] for entry in entries if entry["unit"] == "room"}


def jsonl(root: Path, stream: str) -> list[dict[str, Any]]:
    """What target-jsonl wrote for `stream` (it appends to a file that is there already)."""
    path = root / "output" / f"{stream}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def messages_of(rooms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every message of `rooms` (as the local server holds them), with its room's id."""
    return [
        {**message, "room_id": room["chat"]["id"]} for room in rooms for message in room["message"]
    ]


def late_and_unusual_events() -> list[dict[str, str]]:
    return [
        {
            "id": "800001",
            "type": "M",
            "kind": "K",
            "request_user": "관리자",
            "request_content": KOREAN,
            "request_date": "2024-03-03 23:30:00",  # arrives after the first run passed it
            "apply_id": "1",
            "apply_content": "성공",
            "apply_date": "",
        },
    ]


def test_meltano_run_into_jsonl_is_incremental(project):
    events = sample_events(FIRST_DAY, 6, 10)
    rooms = sample_rooms(FIRST_DAY, 6, 4, 5)
    for stream in STREAMS:
        (project / "output" / f"{stream}.jsonl").unlink(missing_ok=True)
    with LocalHappyTalk(events, rooms=rooms) as server:
        meltano(project, "run", "tap-happytalk", "target-jsonl", env=tap_env(server, "2024-03-04"))
        first = {stream: jsonl(project, stream) for stream in STREAMS}
        meltano(project, "run", "tap-happytalk", "target-jsonl", env=tap_env(server, "2024-03-07"))
        both = {stream: jsonl(project, stream) for stream in STREAMS}
        days_asked = sorted({r.start_date[:10] for r in server.requests if r.start_date})
        room_days_asked = [str(r.sdate) for r in server.requests if r.path == CHAT_ROOM_LISTS_PATH]

    assert {stream: len(records) for stream, records in first.items()} == {
        "service_history": 30,
        "chat_rooms": 12,
        "chat_messages": 60,
    }
    # Every record once, none twice, over both runs.
    assert sorted(r["id"] for r in both["service_history"]) == sorted(e["id"] for e in events)
    assert sorted(r["id"] for r in both["chat_rooms"]) == sorted(r["chat"]["id"] for r in rooms)
    assert sorted((m["id"], m["room_id"]) for m in both["chat_messages"]) == sorted(
        (m["id"], m["room_id"]) for m in messages_of(rooms)
    )
    assert (len(both["chat_rooms"]), len(both["chat_messages"])) == (24, 120)
    assert both["chat_rooms"][0]["reg_date"] == "2024-03-01T05:29:32+09:00"
    days = [f"2024-03-0{day}" for day in range(1, 7)]
    assert days_asked == days
    assert sorted(room_days_asked) == days  # one page a day, each day once (lists run ahead)
    state_id = "dev:tap-happytalk-to-target-jsonl"
    assert bookmark(project, state_id) == "2024-03-07T00:00:00+09:00"
    assert bookmark(project, state_id, "chat_rooms") == "2024-03-07T00:00:00+09:00"


def test_meltano_run_with_a_token_that_may_not_read_chats_still_succeeds(project):
    """meltano.yml selects the chat streams; a service-history-only token (-502) skips them."""
    events = sample_events(FIRST_DAY, 2, 5)
    for stream in STREAMS:
        (project / "output" / f"{stream}.jsonl").unlink(missing_ok=True)
    with LocalHappyTalk(
        events, rooms=sample_rooms(FIRST_DAY, 2, 3, 4), chat_permission=False
    ) as server:
        done = run_meltano(
            project,
            "run",
            "--no-state-update",  # leaves the incremental test's state alone
            "tap-happytalk",
            "target-jsonl",
            env=tap_env(server, "2024-03-03"),
        )

    assert len(jsonl(project, "service_history")) == 10
    for stream in ("chat_rooms", "chat_messages"):
        path = project / "output" / f"{stream}.jsonl"
        assert not path.exists() or not path.read_text(encoding="utf-8"), stream
    (warning,) = [
        line
        for line in done.stderr.splitlines()
        if "chat_rooms and chat_messages are skipped" in line
    ]
    assert "-502" in warning
    assert "warning" in warning.lower()


def test_meltano_parses_the_taps_structured_logs(project):
    """meltano.yml declares `structured-logging`: the tap logs JSON and Meltano parses each line.

    Meltano then logs the tap's lines as events of its own, with the tap's level and logger, and
    its METRIC lines as data. Without the capability, Meltano tells the SDK to log bare messages
    and passes each line on as an INFO string: `METRIC: {...}`, the warning below at INFO.
    """
    with LocalHappyTalk(sample_events(FIRST_DAY, 2, 5)) as server:
        server.inject(Fault("status", status=503), day="2024-03-02")  # one retry: a WARNING
        done = run_meltano(
            project,
            "--log-format=json",
            "run",
            "--no-state-update",  # leaves the incremental test's state alone
            "tap-happytalk",
            "target-jsonl",
            env=tap_env(server, "2024-03-03", TAP_HAPPYTALK_MAX_RETRIES="2"),
        )
    events = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    tap = [e for e in events if e.get("name") == "tap-happytalk" and e.get("stdio") == "stderr"]
    assert tap, done.stderr

    def fields(event: dict[str, Any]) -> dict[str, Any]:
        return {key: event.get(key) for key in ("level", "plugin_logger", "app_name")}

    # One line per stream that asks HappyTalk; chat_messages is read with chat_rooms.
    extracting = [e for e in tap if e["event"].startswith("Extracting ")]
    assert sorted(e["plugin_logger"] for e in extracting) == [
        "tap-happytalk.chat_rooms",
        "tap-happytalk.service_history",
    ]
    for line in extracting:
        assert (line["level"], line["app_name"]) == ("info", "singer-sdk")
        assert line["event"].endswith("in 2 windows")
    (retry,) = [e for e in tap if "retry 1 of 2" in e["event"]]
    assert fields(retry) == {
        "level": "warning",
        "plugin_logger": "tap_happytalk.transport",
        "app_name": "singer-sdk",
    }
    metrics = [e["metric_info"] for e in tap if e["event"] == "METRIC"]
    counted = [m for m in metrics if m["metric"] == "record_count"]
    (records,) = [m for m in counted if m["tags"]["stream"] == "service_history"]
    assert records["value"] == 10
    assert {m["tags"]["stream"] for m in counted} <= set(STREAMS)
    assert sum(m["value"] for m in counted if m["tags"]["stream"] != "service_history") == 0
    statuses = {m["tags"].get("http_status_code") for m in metrics}
    assert {200, 503} <= statuses
    assert not [e for e in tap if e["event"].startswith(("METRIC:", "{"))]  # nothing left raw


def test_the_daily_job_is_defined(project):
    jobs = json.loads(meltano(project, "job", "list", "--format=json", env={}))["jobs"]
    assert jobs == [
        {"job_name": "happytalk-to-postgres", "tasks": ["tap-happytalk target-postgres"]},
    ]
    schedules = json.loads(meltano(project, "schedule", "list", "--format=json", env={}))
    (daily,) = schedules["schedules"]["job"]
    assert daily["name"] == "daily-happytalk-to-postgres"
    assert daily["job"]["name"] == "happytalk-to-postgres"
    assert daily["cron_interval"] == "0 0 * * *"
    assert schedules["schedules"]["elt"] == []


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    import psycopg  # noqa: PLC0415 - only the PostgreSQL tests need it

    with psycopg.connect(url) as connection:
        return connection.execute(sql).fetchall()


def utc(wall_clock: str) -> dt.datetime:
    """What target-postgres stores for a Korea-time wall clock: naive UTC."""
    moment = dt.datetime.strptime(wall_clock, API_FORMAT).replace(tzinfo=SEOUL)
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)


def room_at_a_known_instant() -> dict[str, Any]:
    """A room opened 2024-03-01 10:26:31 Korea time (01:26:31 UTC), closed after midnight."""
    return {
        "chat": {
            "id": "KnownInstantRoom00000000000001",
            "title": "배송 언제 오나요?",
            "counselor_name": "lc-kim",
            "customer_uuid": "1000225570_user0001",
            "reg_date": "2024-03-01 10:26:31",
            "complate_date": "2024-03-02 00:05:00",  # 2024-03-01 15:05:00 UTC
            "status": "2",
            "vote_score": "4",
            "vote_comment": KOREAN,
        },
        "message": [
            {
                "id": "9000001",
                "user_type": "C",
                "contents": KOREAN,
                "send_date": "2024-03-01 10:26:40",
            },
            {
                "id": "9000002",
                "user_type": "H",
                "contents": "확인해 보겠습니다.",
                "send_date": "2024-03-01 10:27:10",
                "read_date": "2024-03-01 10:27:12",
            },
        ],
    }


def table_keys(url: str, schema: str) -> dict[str, str]:
    """Each table of `schema` and its primary key's columns."""
    rows = query(
        url,
        "select c.table_name, string_agg(k.column_name, ',') "
        "from information_schema.table_constraints c "
        "join information_schema.key_column_usage k using (constraint_schema, constraint_name) "
        f"where c.table_schema = '{schema}' and c.constraint_type = 'PRIMARY KEY' "
        "group by c.table_name",
    )
    return {str(table): str(columns) for table, columns in rows}


def optional_utc(wall_clock: str | None) -> dt.datetime | None:
    """`utc`, for HappyTalk's dates of what may not have happened (`0000-00-00 00:00:00`)."""
    return None if wall_clock in {None, "", ZERO_DATE} else utc(str(wall_clock))


def assert_rooms_landed(url: str, schema: str, rooms: list[dict[str, Any]]) -> None:
    """Exactly `rooms` and their messages are in `schema`, as they are now, at their instants."""
    landed = {
        row[0]: row[1:]
        for row in query(
            url,
            "select id, status, reg_date, complate_date, vote_score, vote_comment "
            f"from {schema}.chat_rooms",
        )
    }
    assert sorted(landed) == sorted(room["chat"]["id"] for room in rooms)
    for room in rooms:
        chat = room["chat"]
        assert landed[chat["id"]] == (
            chat["status"],
            utc(chat["reg_date"]),
            optional_utc(chat["complate_date"]),
            chat.get("vote_score"),
            chat.get("vote_comment"),
        ), chat["id"]
    messages = {
        row[0]: row[1:]
        for row in query(
            url, f"select id, room_id, contents, send_date, read_date from {schema}.chat_messages"
        )
    }
    expected = messages_of(rooms)
    assert sorted(messages) == sorted(message["id"] for message in expected)
    for message in expected:
        assert messages[message["id"]] == (
            message["room_id"],
            message["contents"],
            utc(message["send_date"]),
            optional_utc(message.get("read_date")),
        ), message["id"]


@pytest.mark.postgres
def test_meltano_run_into_postgres_lands_every_record_once_at_the_right_instant(project, postgres):
    schema = f"happytalk_{uuid.uuid4().hex[:8]}"
    events = sample_events(FIRST_DAY, 5, 10, first_id=99_990)
    table = f"{schema}.service_history"
    with LocalHappyTalk(events, rooms=sample_rooms(FIRST_DAY, 5, 4, 5)) as server:
        server.chats.add_rooms([room_at_a_known_instant()])
        env = {**tap_env(server, "2024-03-04"), **target_postgres_env(postgres, schema)}
        meltano(project, "run", "happytalk-to-postgres", env=env)  # the job meltano.yml defines
        first = query(postgres, f"select id, _sdc_batched_at from {table}")
        first_rooms = query(postgres, f"select id from {schema}.chat_rooms")
        first_messages = query(postgres, f"select id from {schema}.chat_messages")

        server.add_events(late_and_unusual_events())
        env = {
            **tap_env(server, "2024-03-06", TAP_HAPPYTALK_LOOKBACK_MINUTES="60"),
            **target_postgres_env(postgres, schema),
        }
        meltano(project, "run", "tap-happytalk", "target-postgres", env=env)
        rooms = server.chats.rooms()

    expected = events + late_and_unusual_events()
    rows = query(
        postgres,
        f"select id, request_content, request_date, apply_date, _sdc_batched_at from {table}",
    )
    assert len(first) == 30
    assert sorted(row[0] for row in rows) == sorted(e["id"] for e in expected)
    by_id = {row[0]: row for row in rows}
    for event in expected:
        _, content, request_date, apply_date, _ = by_id[event["id"]]
        assert content == event["request_content"]
        assert request_date == utc(event["request_date"])
        assert apply_date == (utc(event["apply_date"]) if event["apply_date"] else None)
    assert by_id["800001"][1] == KOREAN

    # The lookback re-sent the last hour of 2024-03-03; those rows were updated in place.
    first_batch = dict(first)
    resent = [row[0] for row in rows if row[0] in first_batch and row[4] != first_batch[row[0]]]
    assert resent
    assert all(by_id[i][2] >= utc("2024-03-03 23:00:00") for i in resent)

    # Consultations: the first run's three days, then every room once, merged on `id`.
    assert (len(first_rooms), len(first_messages)) == (13, 62)
    assert (len(rooms), len(messages_of(rooms))) == (21, 102)
    assert_rooms_landed(postgres, schema, rooms)
    (known,) = query(
        postgres,
        "select reg_date, complate_date, vote_comment from "
        f"{schema}.chat_rooms where id = 'KnownInstantRoom00000000000001'",
    )
    assert known == (dt.datetime(2024, 3, 1, 1, 26, 31), dt.datetime(2024, 3, 1, 15, 5), KOREAN)
    assert query(
        postgres, f"select send_date from {schema}.chat_messages where id = '9000001'"
    ) == [(dt.datetime(2024, 3, 1, 1, 26, 40),)]

    assert table_keys(postgres, schema) == dict.fromkeys(STREAMS, "id")
    state_id = "dev:tap-happytalk-to-target-postgres"
    assert bookmark(project, state_id) == "2024-03-06T00:00:00+09:00"
    assert bookmark(project, state_id, "chat_rooms") == "2024-03-06T00:00:00+09:00"


@pytest.mark.postgres
def test_meltano_run_into_postgres_reads_a_room_again_until_it_closes(project, postgres):
    """A room open when read joins the open-room set: the next run lands it closed.

    The rooms are recent (within `open_room_recheck_days` of now, Korea time, as HappyTalk's
    "now" is), and the runs go up to now (`end_margin_seconds` 0, no `end_date`).
    """
    schema = f"happytalk_{uuid.uuid4().hex[:8]}"
    now = korea_now()
    start = (now - dt.timedelta(days=2)).date().isoformat()
    hours_ago = [now - dt.timedelta(hours=hours) for hours in (3, 2, 1)]
    suffix = f"reread{uuid.uuid4().hex[:6]}"  # a state of its own, apart from the other tests
    with LocalHappyTalk() as server:
        chats = server.chats
        in_progress = chats.add_room(reg_date=hours_ago[0], status="1", counselor_name="lc-lee")
        chats.add_message(in_progress, "확인해 보겠습니다.", user_type="H", send_date=hours_ago[0])
        done = chats.add_room(reg_date=hours_ago[1], status="2", counselor_name="lc-lee")
        chats.close_room(done, at=hours_ago[1] + dt.timedelta(minutes=5))
        waiting = chats.add_room(reg_date=hours_ago[2])  # waiting for intake (status 0) throughout
        env = {
            **tap_env(server, None, start, TAP_HAPPYTALK_END_MARGIN_SECONDS="0"),
            **target_postgres_env(postgres, schema),
        }
        run = ("run", f"--state-id-suffix={suffix}", "tap-happytalk", "target-postgres")

        meltano(project, *run, env=env)
        assert_rooms_landed(postgres, schema, chats.rooms())
        state_id = f"dev:tap-happytalk-to-target-postgres:{suffix}"
        assert {in_progress, waiting} <= open_rooms(project, state_id)

        # Between the runs: the agent answers, the room closes and is rated.
        answer = chats.add_message(in_progress, "처리되었습니다. 감사합니다.", user_type="H")
        closed_at = chats.close_room(in_progress)
        chats.rate_room(in_progress, 5, "빠른 처리 감사해요")
        meltano(project, *run, env=env)
        rooms = chats.rooms()

    assert_rooms_landed(postgres, schema, rooms)  # as they are now: closed, rated, answered
    (final,) = query(
        postgres,
        "select status, complate_date, vote_score, vote_comment from "
        f"{schema}.chat_rooms where id = '{in_progress}'",
    )
    assert final == ("2", utc(closed_at), "5", "빠른 처리 감사해요")
    assert query(
        postgres, f"select room_id, contents from {schema}.chat_messages where id = '{answer}'"
    ) == [(in_progress, "처리되었습니다. 감사합니다.")]
    assert query(postgres, f"select count(*) from {schema}.chat_rooms") == [(3,)]
    # Closed and rated, the room has settled; the waiting room is still open, still in the set.
    left = open_rooms(project, state_id)
    assert waiting in left
    assert in_progress not in left


@pytest.mark.parametrize(
    "command",
    [("run", "--no-state-update", "tap-happytalk", "target-jsonl"), ("invoke", "tap-happytalk")],
)
def test_a_config_error_under_meltano_is_said_once(project, command):
    with LocalHappyTalk(sample_events(FIRST_DAY, 1, 2)) as server:
        env = tap_env(server, "2024-03-02", TAP_HAPPYTALK_MAX_CONCURRENT_REQUESTS="0")
        done = run_meltano(project, *command, env=env, fails=True)
        assert server.requests == []
    said = "must be a whole number from 1 to 64, got 0"
    assert (done.stdout + done.stderr).count(said) == 1, done.stderr
    assert "less than the minimum" not in done.stdout + done.stderr
    assert "Catalog discovery failed" not in done.stderr


def test_adaptive_concurrency_false_alone_under_meltano_is_the_old_fixed_4(project):
    """meltano.yml gives max_concurrent_requests no value, so the tap's own default holds.

    A value there would reach the tap as if set, and fixed would mean the adaptive ceiling.
    """
    with LocalHappyTalk(sample_events(FIRST_DAY, 12, 5), latency_seconds=0.05) as server:
        env = tap_env(server, "2024-03-13", TAP_HAPPYTALK_ADAPTIVE_CONCURRENCY="false")
        meltano(project, "invoke", "tap-happytalk", env=env)
        in_flight = [r.concurrent for r in server.requests]
    assert max(in_flight) == 4


def test_an_unknown_setting_under_meltano_gets_one_warning_from_the_tap(project):
    meltano(project, "config", "set", "tap-happytalk", "window_size", "12", env={})
    try:
        with LocalHappyTalk(sample_events(FIRST_DAY, 1, 2)) as server:
            done = run_meltano(
                project,
                "run",
                "--no-state-update",
                "tap-happytalk",
                "target-jsonl",
                env=tap_env(server, "2024-03-02"),
            )
    finally:
        meltano(project, "config", "unset", "tap-happytalk", "window_size", env={})
    warnings = [line for line in done.stderr.splitlines() if "Unknown settings" in line]
    assert len(warnings) == 1, done.stderr
    assert "'window_size' (did you mean 'window_size_hours'?)" in warnings[0]
    assert "warning" in warnings[0].lower()


def test_an_incomplete_run_fails_the_job_and_the_next_resumes_from_its_state(project):
    """Exit 3 under Meltano: the job fails (an alert fires), its STATE is kept, and the next
    run asks only the unit set aside and what is new, not everything from scratch."""
    events = sample_events(FIRST_DAY, 3, 4)
    rooms = sample_rooms(FIRST_DAY, 3, 3, 3)
    bad = rooms[4]["chat"]["id"]
    state_id = "dev:tap-happytalk-to-target-jsonl:incomplete"
    for stream in STREAMS:
        (project / "output" / f"{stream}.jsonl").unlink(missing_ok=True)
    with LocalHappyTalk(events, rooms=rooms) as server:
        server.inject(Fault("status", status=500), room_id=bad, times=1_000)
        env = tap_env(server, "2024-03-04", TAP_HAPPYTALK_MAX_RETRIES="1")
        args = ("run", "--state-id-suffix", "incomplete", "tap-happytalk", "target-jsonl")
        failed = run_meltano(project, *args, env=env, fails=True)
        held = json.loads(meltano(project, "state", "get", state_id, env={}))
        first = {stream: jsonl(project, stream) for stream in STREAMS}
        server.clear_faults()
        asked = len(server.requests)
        meltano(project, *args, env=env)
        requests = server.requests[asked:]
        both = {stream: jsonl(project, stream) for stream in STREAMS}

    assert "the data is incomplete" in failed.stderr
    bookmarks = held["singer_state"]["bookmarks"]
    assert bookmarks["chat_rooms"]["replication_key_value"] == "2024-03-04T00:00:00+09:00"
    assert [e["id"] for e in bookmarks["chat_rooms"]["ask_again"]] == [bad]
    assert bad not in {r["id"] for r in first["chat_rooms"]}
    assert len(first["chat_rooms"]) == 8
    # The next run: the room set aside, and nothing from scratch.
    assert [r.room_id for r in requests if r.room_id] == [bad]
    assert not [r for r in requests if r.path == CHAT_ROOM_LISTS_PATH]
    assert sorted(r["id"] for r in both["chat_rooms"]) == sorted(r["chat"]["id"] for r in rooms)
