"""The package on Snowflake's emulator: transform/integration_tests/ built with dbt-snowflake
against fakesnow's server, its marts equal to the DuckDB build of the same seeds.

fakesnow runs Snowflake's SQL on DuckDB: it proves the `snowflake__` macros parse, bind and
compute what DuckDB computes, not what Snowflake itself would do where the two differ (README,
"Snowflake"): fakesnow keeps no offset in a TIMESTAMP_TZ (it normalises to UTC, like DuckDB).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .test_dbt_incremental import assert_incremental_equals_full_refresh
from .test_dbt_package import (  # duckdb_package: the fixture, shared
    A,
    B,
    assert_built,
    assert_two_accounts,
    build_integration,
    duckdb_package,  # noqa: F401
    integration_project,
    marts,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from snowflake.connector.cursor import SnowflakeCursor

EPOCH = dt.datetime(1970, 1, 1)  # what fakesnow sends for a null TIMESTAMP_NTZ


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        assert process.poll() is None, "fakesnow exited"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"fakesnow did not listen on {port} within {seconds:g} s")
            time.sleep(0.1)


@pytest.fixture(scope="module")
def fakesnow_port(tmp_path_factory) -> Iterator[int]:
    """fakesnow's server on 127.0.0.1, a free port, its databases in a scratch directory."""
    port = free_port()
    log = tmp_path_factory.mktemp("fakesnow") / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "fakesnow"), "-s", "-p", str(port),
             "--host", "127.0.0.1"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_for_port(port, process, 60)
            yield port
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)


def test_snowflake_emulator_builds_the_package_with_duckdbs_marts(
    fakesnow_port,
    duckdb_package,  # noqa: F811 - the fixture imported above
    tmp_path,
):
    import snowflake.connector  # noqa: PLC0415 - only this test needs it

    project = integration_project(tmp_path)
    env = {
        "HAPPYTALK_DBT_TARGET": "snowflake",
        "FAKESNOW_PORT": str(fakesnow_port),
        "SNOWFLAKE_DATABASE": "HAPPYTALK",
    }
    statuses = build_integration(project, env)
    assert_built(statuses)
    connection = snowflake.connector.connect(
        account="fakesnow", user="fake", password="snow", host="127.0.0.1",  # noqa: S106
        port=fakesnow_port, protocol="http", database="HAPPYTALK",
    )  # fmt: skip
    try:
        cursor = connection.cursor()

        def query(sql: str) -> list[tuple[Any, ...]]:
            cursor.execute(sql)
            return [tuple(None if v == EPOCH else v for v in row) for row in cursor.fetchall()]

        # fakesnow's server sends a null TIMESTAMP_NTZ as 1970-01-01 (the stored value is
        # null, as `is null` shows); no mart holds that day, so the query reads it as null.
        cursor.execute(
            "select count(*) from analytics.agent_daily_activity where last_logout_at_kst is null"
        )
        assert cursor.fetchall() == [(2,)]

        # The package's own macros over every timestamp type target-snowflake writes, and tags
        # typed differently per account (text holding JSON, a VARIANT). The seeds declare
        # account A's service history TIMESTAMP_LTZ; fakesnow keeps it as TIMESTAMP_TZ (DuckDB
        # has one instant type), so the LTZ column reaches the macros as TZ (README).
        cursor.execute(
            "select lower(table_schema), lower(table_name), lower(column_name), data_type "
            "from information_schema.columns where lower(table_schema) like 'happytalk_brand_%' "
            "and lower(column_name) in ('reg_date', 'request_date', 'send_date', 'tags')"
        )
        types = {(s, t, c): d for s, t, c, d in cursor.fetchall()}
        assert types == {
            (A, "chat_rooms", "reg_date"): "TIMESTAMP_TZ",
            (A, "chat_messages", "send_date"): "TIMESTAMP_TZ",
            (A, "service_history", "request_date"): "TIMESTAMP_TZ",
            (A, "chat_rooms", "tags"): "TEXT",
            (B, "chat_rooms", "reg_date"): "TIMESTAMP_NTZ",
            (B, "chat_messages", "send_date"): "TIMESTAMP_NTZ",
            (B, "service_history", "request_date"): "TIMESTAMP_NTZ",
            (B, "chat_rooms", "tags"): "VARIANT",
        }
        assert_two_accounts(query, "analytics")
        _, duckdb_query = duckdb_package
        assert marts(query, "analytics") == marts(duckdb_query, "analytics")
    finally:
        connection.close()


@contextlib.contextmanager
def fakesnow_cursor(port: int, database: str) -> Iterator[SnowflakeCursor]:
    import snowflake.connector  # noqa: PLC0415 - only these tests need it

    connection = snowflake.connector.connect(
        account="fakesnow", user="fake", password="snow", host="127.0.0.1",  # noqa: S106
        port=port, protocol="http", database=database,
    )  # fmt: skip
    try:
        yield connection.cursor()
    finally:
        connection.close()


def test_snowflake_emulator_incremental_build_equals_a_full_refresh(fakesnow_port, tmp_path):
    """The incremental models on fakesnow (delete+insert through a transient table): a day more and
    a room sent again give the rows a --full-refresh build gives (tests/test_dbt_incremental.py)."""
    project = integration_project(tmp_path)
    env = {
        "HAPPYTALK_DBT_TARGET": "snowflake",
        "FAKESNOW_PORT": str(fakesnow_port),
        "SNOWFLAKE_DATABASE": "INCREMENTAL",
    }
    assert_incremental_equals_full_refresh(
        project, env, lambda: fakesnow_cursor(fakesnow_port, "INCREMENTAL")
    )
