"""Meltano end to end, as users run it: `meltano install`, `meltano run`, `meltano state get`.

Runs in a copy of the project against the local HappyTalk server. The PostgreSQL tests need a
server: `.ci/run` starts one; locally, set TAP_HAPPYTALK_TEST_POSTGRES to a database URL
(e.g. postgresql://postgres@127.0.0.1:5432/warehouse) or run `bash .ci/run` as root on Debian.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest

from local_happytalk.server import API_FORMAT, Fault, LocalHappyTalk, sample_events

from .conftest import FIRST_DAY, copy_project

MELTANO = str(Path(sys.executable).parent / "meltano")
SEOUL = ZoneInfo("Asia/Seoul")
POSTGRES_ENV = "TAP_HAPPYTALK_TEST_POSTGRES"
KOREAN = '상담분류 변경 [테스트방] - 상품문의 → 불만접수 ✅ "따옴표" 그리고 \\역슬래시'


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the project with every plugin installed by `meltano install`."""
    root = copy_project(tmp_path_factory.mktemp("meltano") / "project")
    meltano(root, "install", env={})
    return root


def meltano(root: Path, *args: str, env: dict[str, str]) -> str:
    """Run `meltano ARGS` in `root`; it must succeed. Returns what it printed on stdout."""
    return meltano_process(root, *args, env=env).stdout


def meltano_process(
    root: Path, *args: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [MELTANO, *args],
        cwd=root,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith(("TAP_", "TARGET_"))},
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, f"meltano {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def tap_env(server: LocalHappyTalk, end: str, **extra: str) -> dict[str, str]:
    return {
        "TAP_HAPPYTALK_TOKEN": server.token,
        "TAP_HAPPYTALK_API_URL": server.url,
        "TAP_HAPPYTALK_START_DATE": FIRST_DAY.isoformat(),
        "TAP_HAPPYTALK_END_DATE": end,
        **extra,
    }


def bookmark(root: Path, state_id: str) -> str:
    state = json.loads(meltano(root, "state", "get", state_id, env={}))
    return str(state["singer_state"]["bookmarks"]["service_history"]["replication_key_value"])


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
    output = project / "output" / "service_history.jsonl"
    output.unlink(missing_ok=True)
    with LocalHappyTalk(events) as server:
        meltano(project, "run", "tap-happytalk", "target-jsonl", env=tap_env(server, "2024-03-04"))
        first = output.read_text(encoding="utf-8").splitlines()
        meltano(project, "run", "tap-happytalk", "target-jsonl", env=tap_env(server, "2024-03-07"))
        both = output.read_text(encoding="utf-8").splitlines()
        days_asked = sorted({r.start_date[:10] for r in server.requests if r.start_date})

    assert len(first) == 30
    ids = [json.loads(line)["id"] for line in both]
    assert sorted(ids) == sorted(e["id"] for e in events)  # every event once, none twice
    assert days_asked == [f"2024-03-0{day}" for day in range(1, 7)]
    assert bookmark(project, "dev:tap-happytalk-to-target-jsonl") == "2024-03-07T00:00:00+09:00"


def test_meltano_parses_the_taps_structured_logs(project):
    """meltano.yml declares `structured-logging`: the tap logs JSON and Meltano parses each line.

    Meltano then logs the tap's lines as events of its own, with the tap's level and logger, and
    its METRIC lines as data. Without the capability, Meltano tells the SDK to log bare messages
    and passes each line on as an INFO string: `METRIC: {...}`, the warning below at INFO.
    """
    with LocalHappyTalk(sample_events(FIRST_DAY, 2, 5)) as server:
        server.inject(Fault("status", status=503), day="2024-03-02")  # one retry: a WARNING
        done = meltano_process(
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

    (extracting,) = [e for e in tap if e["event"].startswith("Extracting ")]
    assert extracting["event"].endswith("in 2 windows")
    assert fields(extracting) == {
        "level": "info",
        "plugin_logger": "tap-happytalk.service_history",
        "app_name": "singer-sdk",
    }
    (retry,) = [e for e in tap if "retry 1 of 2" in e["event"]]
    assert fields(retry) == {
        "level": "warning",
        "plugin_logger": "tap_happytalk.client",
        "app_name": "singer-sdk",
    }
    metrics = [e["metric_info"] for e in tap if e["event"] == "METRIC"]
    (records,) = [m for m in metrics if m["metric"] == "record_count"]
    assert records["value"] == 10
    assert records["tags"]["stream"] == "service_history"
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


@pytest.fixture
def postgres() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    message = (
        f"{POSTGRES_ENV} is not set: these tests load into a real PostgreSQL server. "
        "Run `bash .ci/run` (as root on Debian: it installs and starts one), or set "
        f"{POSTGRES_ENV}=postgresql://USER@HOST:PORT/DATABASE"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def postgres_env(url: str, schema: str) -> dict[str, str]:
    parts = urlsplit(url)
    return {
        "TARGET_POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "TARGET_POSTGRES_PORT": str(parts.port or 5432),
        "TARGET_POSTGRES_USER": parts.username or "postgres",
        "TARGET_POSTGRES_PASSWORD": parts.password or "",
        "TARGET_POSTGRES_DATABASE": parts.path.lstrip("/"),
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
    }


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    import psycopg  # noqa: PLC0415 - only the PostgreSQL tests need it

    with psycopg.connect(url) as connection:
        return connection.execute(sql).fetchall()


def utc(wall_clock: str) -> dt.datetime:
    """What target-postgres stores for a Korea-time wall clock: naive UTC."""
    moment = dt.datetime.strptime(wall_clock, API_FORMAT).replace(tzinfo=SEOUL)
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)


@pytest.mark.postgres
def test_meltano_run_into_postgres_lands_every_event_once_at_the_right_instant(project, postgres):
    schema = f"happytalk_{uuid.uuid4().hex[:8]}"
    events = sample_events(FIRST_DAY, 5, 10, first_id=99_990)
    table = f"{schema}.service_history"
    with LocalHappyTalk(events) as server:
        env = {**tap_env(server, "2024-03-04"), **postgres_env(postgres, schema)}
        meltano(project, "run", "happytalk-to-postgres", env=env)  # the job meltano.yml defines
        first = query(postgres, f"select id, _sdc_batched_at from {table}")

        server.add_events(late_and_unusual_events())
        env = {
            **tap_env(server, "2024-03-06", TAP_HAPPYTALK_LOOKBACK_MINUTES="60"),
            **postgres_env(postgres, schema),
        }
        meltano(project, "run", "tap-happytalk", "target-postgres", env=env)

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

    (key,) = query(
        postgres,
        "select string_agg(k.column_name, ',') from information_schema.table_constraints c "
        "join information_schema.key_column_usage k using (constraint_schema, constraint_name) "
        f"where c.table_schema = '{schema}' and c.constraint_type = 'PRIMARY KEY'",
    )
    assert key == ("id",)
    assert bookmark(project, "dev:tap-happytalk-to-target-postgres") == "2024-03-06T00:00:00+09:00"
