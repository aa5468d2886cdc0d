"""Meltano-native analytics: one `meltano run` loads with target-postgres and builds the dbt
project with meltano.yml's `dbt-postgres` utility; and a loader whose session is in Korea time
is read right when the project is told so (var happytalk_loader_timezone, env
HAPPYTALK_LOADER_TIMEZONE, the utility's `loader_timezone` setting).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

from .conftest import FIRST_DAY, copy_project, run_meltano, target_postgres_env
from .test_dbt import KNOWN_ROOM, Built, assert_built_cleanly, assert_known_room_times, serve

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.postgres

MONTH = {"TAP_HAPPYTALK_START_DATE": FIRST_DAY.isoformat(), "TAP_HAPPYTALK_END_DATE": "2024-03-04"}
LOAD = ("run", "--full-refresh", "tap-happytalk", "target-postgres")
UTC_SESSION, KOREA_SESSION = "        PGTZ: UTC\n", "        PGTZ: Asia/Seoul\n"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the project with every plugin, the dbt utility too, installed by Meltano."""
    root = copy_project(tmp_path_factory.mktemp("meltano-dbt") / "project")
    run_meltano(root, "install", env={})
    return root


@contextmanager
def schemas(postgres: str) -> Iterator[tuple[str, dict[str, str]]]:
    """A fresh raw schema and the loader's and dbt's variables for it; dropped afterwards."""
    import psycopg  # noqa: PLC0415 - only the PostgreSQL tests need it

    schema = f"happytalk_{uuid.uuid4().hex[:8]}"
    env = {
        **target_postgres_env(postgres, schema),
        "HAPPYTALK_SOURCE_SCHEMA": schema,
        "HAPPYTALK_DBT_SCHEMA": f"{schema}_analytics",
    }
    try:
        yield schema, env
    finally:
        with psycopg.connect(postgres, autocommit=True) as connection:
            for name in (schema, f"{schema}_analytics", f"{schema}_naive"):
                connection.execute(f'drop schema if exists "{name}" cascade')


def built(postgres: str, schema: str, sample: Any) -> Iterator[Built]:
    import psycopg  # noqa: PLC0415 - only the PostgreSQL tests need it

    with psycopg.connect(postgres) as connection:

        def query(sql: str) -> list[tuple[Any, ...]]:
            return connection.execute(sql).fetchall()

        yield Built(query, schema, sample, sample.rooms(), copies_of_reopened=1)


def statuses(root: Path) -> dict[str, str]:
    results = json.loads(
        (root / "transform" / "target" / "run_results.json").read_text(encoding="utf-8")
    )
    return {str(r["unique_id"]): str(r["status"]) for r in results["results"]}


def test_one_meltano_run_loads_and_builds(project, postgres):
    """`meltano run tap-happytalk target-postgres dbt-postgres:build`: loaded, then every model
    built and tested, a known room's times right to the second."""
    with schemas(postgres) as (schema, env), serve() as sample:
        tap = {
            "TAP_HAPPYTALK_TOKEN": sample.server.token,
            "TAP_HAPPYTALK_API_URL": sample.server.url,
        }
        done = run_meltano(
            project,
            "run",
            "--full-refresh",  # each test loads from start_date, whatever ran before
            "tap-happytalk",
            "target-postgres",
            "dbt-postgres:build",
            env={**tap, **MONTH, **env},
        )
        assert "dbt-postgres" in done.stdout + done.stderr
        assert_built_cleanly(statuses(project))
        for result in built(postgres, f"{schema}_analytics", sample):
            assert_known_room_times(result)


def test_a_loader_session_in_korea_time_is_read_right_with_the_loader_timezone(project, postgres):
    """target-postgres in a session in Asia/Seoul stores Korea wall clocks in its `timestamp
    without time zone` columns; read as UTC (the default) every time is 9 hours late, read with
    loader_timezone Asia/Seoul every time is right."""
    meltano_yml = project / "meltano.yml"
    original = meltano_yml.read_text(encoding="utf-8")
    assert original.count(UTC_SESSION) == 1
    meltano_yml.write_text(original.replace(UTC_SESSION, KOREA_SESSION), encoding="utf-8")
    try:
        with schemas(postgres) as (schema, env), serve() as sample:
            tap = {
                "TAP_HAPPYTALK_TOKEN": sample.server.token,
                "TAP_HAPPYTALK_API_URL": sample.server.url,
            }
            run_meltano(project, *LOAD, env={**tap, **MONTH, **env})
            for raw in built(postgres, schema, sample):
                # The loader's wall clock: Korea's (KNOWN_ROOM opened 01:45:28 KST, 16:45:28 UTC).
                assert raw.rows("chat_rooms", "reg_date", f"where id = '{KNOWN_ROOM}'") == [
                    (dt.datetime(2024, 3, 1, 1, 45, 28),)
                ]
            naive = {**env, "HAPPYTALK_DBT_SCHEMA": f"{schema}_naive"}
            run_meltano(project, "run", "dbt-postgres:build", env=naive)
            for wrong in built(postgres, f"{schema}_naive", sample):
                (room,) = wrong.rows(
                    "stg_happytalk__chat_rooms", "opened_at_utc", f"where room_id = '{KNOWN_ROOM}'"
                )
                assert room == (dt.datetime(2024, 3, 1, 1, 45, 28),)  # 9 hours late
            korea = {**env, "HAPPYTALK_LOADER_TIMEZONE": "Asia/Seoul"}
            run_meltano(project, "run", "dbt-postgres:build", env=korea)
            assert_built_cleanly(statuses(project))
            for right in built(postgres, f"{schema}_analytics", sample):
                assert_known_room_times(right)
    finally:
        meltano_yml.write_text(original, encoding="utf-8")
