"""The package on Snowflake's emulator: transform/integration_tests/ built with dbt-snowflake
against fakesnow's server, its marts equal to the DuckDB build of the same seeds.

fakesnow runs Snowflake's SQL on DuckDB: it proves the `snowflake__` macros parse, bind and
compute what DuckDB computes, not what Snowflake itself would do where the two differ (README,
"Snowflake"): fakesnow keeps no offset in a TIMESTAMP_TZ (it normalises to UTC, like DuckDB).
"""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .test_dbt_package import (  # duckdb_package: the fixture, shared
    assert_built,
    assert_two_accounts,
    build_integration,
    duckdb_package,  # noqa: F401
    integration_project,
    marts,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

# ARRAY_TO_STRING over a JSON array (what snowflake__happytalk_json_tags_text sends) fails to
# bind in fakesnow; the emulator build replaces that one macro with LISTAGG over FLATTEN, which
# fakesnow runs. The package's own ARRAY_TO_STRING is therefore not run here (README).
EMULATOR_TAGS = """
{% macro snowflake__happytalk_json_tags_text(column) -%}
  (select nullif(listagg(tag.value::string, ', ') within group (order by tag.index), '')
   from table(flatten(input => parse_json(nullif(trim(to_varchar({{ column }})), '')))) as tag)
{%- endmacro %}
"""


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
    (project / "macros" / "emulator_tags.sql").write_text(EMULATOR_TAGS, encoding="utf-8")
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

        assert_two_accounts(query, "analytics")
        _, duckdb_query = duckdb_package
        assert marts(query, "analytics") == marts(duckdb_query, "analytics")
    finally:
        connection.close()
