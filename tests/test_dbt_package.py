"""transform/ as a dbt package: transform/integration_tests/ installs it (`local: ../`), loads
seeds of two HappyTalk accounts and builds, on DuckDB and on PostgreSQL.

Account A (schema happytalk_brand_a) is test_analytics_oracle.py's hand-worked fixture, its times
RFC 3339 text with +09:00 (as the tap sends them); account B (happytalk_brand_b) is three rooms
worked out below, its times naive UTC timestamps with `_sdc_extracted_at` (as target-postgres
loads them), one room delivered twice, and message and event ids that account A uses too.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from .conftest import PROJECT, target_postgres_env
from .test_analytics_oracle import EXPECTED, WEDNESDAY_ALL, records

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

TRANSFORM = PROJECT / "transform"
A, B = "happytalk_brand_a", "happytalk_brand_b"
MARTS = (
    "room_response_times",
    "consultations_per_day",
    "consultations_per_week",
    "consultations_per_day_all_channels",
    "consultations_per_week_all_channels",
    "customer_messages_per_hour",
    "ratings_per_agent_category",
    "agent_daily_activity",
)

# Account B, default schedule (Mon-Fri 09:00-18:00 Korea time): outcome, first response (clock,
# business), handling (clock, business), duration, opened_date, opened_week.
BRAND_B = {
    # Wed 11 Sep 10:00 asked, 10:05 answered, closed 10:20: all within business hours.
    "brand-b-answered": ("answered", 300, 300, 900, 900, 1_200, "2024-09-11", "2024-09-09"),
    # Wed 17:50 asked, Thu 09:10 answered: 15 h 20 min = 55,200 s on the clock; business
    # 17:50-18:00 and 09:00-09:10, 1,200 s. Closed 09:30: handling 1,200 s both ways; duration
    # 17:50 to 09:30, 15 h 40 min = 56,400 s.
    "brand-b-evening": (
        "answered",
        55_200,
        1_200,
        1_200,
        1_200,
        56_400,
        "2024-09-11",
        "2024-09-09",
    ),
    # Status 4: chatbot only, no first response; open a minute.
    "brand-b-chatbot": ("chatbot only", None, None, None, None, 60, "2024-09-12", "2024-09-09"),
}
ROOM_COLUMNS = (
    "outcome, first_response_seconds, first_response_business_seconds, handling_seconds, "
    "handling_business_seconds, duration_seconds, cast(opened_date as varchar), "
    "cast(opened_week as varchar)"
)


def integration_project(work: Path) -> Path:
    """A copy of transform/ (the package and its integration project) without build output."""
    shutil.copytree(
        TRANSFORM,
        work / "transform",
        ignore=shutil.ignore_patterns("target", "dbt_packages", "logs", "package-lock.yml"),
    )
    return work / "transform" / "integration_tests"


def dbt_env(env: dict[str, str]) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("HAPPYTALK_", "DBT_"))},
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        **env,
    }


def run_dbt(project: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`dbt ARGS` in `project` (its own profiles.yml); it must succeed."""
    done = subprocess.run(
        [sys.executable, "-m", "dbt.cli.main", *args, "--no-use-colors"],
        cwd=project,
        env=dbt_env({**env, "DBT_PROFILES_DIR": str(project)}),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, f"dbt {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def build_integration(
    project: Path, env: dict[str, str], variables: dict[str, Any] | None = None
) -> dict[str, str]:
    """`dbt deps` (the local package), `dbt seed` (the raw tables, which the package's source
    tests read), then `dbt build`. Each node's status, by unique_id."""
    extra = ["--vars", json.dumps(variables)] if variables else []
    run_dbt(project, "deps", env=env)
    run_dbt(project, "seed", *extra, env=env)
    run_dbt(project, "build", *extra, env=env)
    results = json.loads((project / "target" / "run_results.json").read_text(encoding="utf-8"))
    return {str(r["unique_id"]): str(r["status"]) for r in results["results"]}


def normal(value: Any) -> Any:
    """A value as every warehouse's driver can agree on it."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float, Decimal)):
        return round(float(value), 4)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return str(value)


def marts(query: Callable[[str], list[tuple[Any, ...]]], schema: str) -> dict[str, list[Any]]:
    """Every mart's rows, values normalised, sorted: to compare warehouses."""
    return {
        mart: sorted(
            (tuple(normal(v) for v in row) for row in query(f"select * from {schema}.{mart}")),
            key=repr,
        )
        for mart in MARTS
    }


def assert_built(statuses: dict[str, str]) -> None:
    """The package's models built, every test passed, no warning."""
    models = {key for key in statuses if key.startswith("model.")}
    assert len(models) == 12
    assert all(key.startswith("model.happytalk.") for key in models)
    assert sum(1 for key in statuses if key.startswith("test.happytalk.")) >= 30
    assert set(statuses.values()) <= {"success", "pass"}, {
        k: v for k, v in statuses.items() if v not in {"success", "pass"}
    }


def assert_two_accounts(query: Callable[[str], list[tuple[Any, ...]]], schema: str) -> None:
    """Both accounts in every model, each with its own rooms, ids and numbers."""

    def rows(sql: str) -> list[tuple[Any, ...]]:
        return query(sql.replace("{s}", schema))

    rooms = rows(f"select source_relation, room_id, {ROOM_COLUMNS} from {{s}}.room_response_times")
    got = {(r[0], r[1]): tuple(normal(v) for v in r[2:]) for r in rooms}
    want = {(A, f"oracle-{name}"): tuple(normal(v) for v in e.__dict__.values())
            for name, e in EXPECTED.items()}  # fmt: skip
    want.update({(B, name): tuple(normal(v) for v in e) for name, e in BRAND_B.items()})
    assert got == want
    # Message ids 1001 to 1006 are in both accounts: one row per account and id.
    messages = rows(
        "select source_relation, count(*), count(distinct message_id) "
        "from {s}.stg_happytalk__chat_messages group by source_relation"
    )
    assert sorted(messages) == sorted(
        [(A, len(records()["chat_messages"]), len(records()["chat_messages"])), (B, 6, 6)]
    )
    (shared,) = rows(
        "select count(*) from {s}.stg_happytalk__chat_messages as a "
        "join {s}.stg_happytalk__chat_messages as b on a.message_id = b.message_id "
        f"where a.source_relation = '{A}' and b.source_relation = '{B}'"
    )
    assert shared == (6,)
    # Account B's room sent twice: its closed, rated copy (the later _sdc_extracted_at) wins.
    (room,) = rows(
        "select status, vote_score, copies_loaded, tags_text, opened_at_utc, opened_at_kst, "
        f"closed_at_kst from {{s}}.stg_happytalk__chat_rooms where source_relation = '{B}' "
        "and room_id = 'brand-b-answered'"
    )
    assert room == (
        "2",
        5,
        2,
        "#환불, #VIP",
        dt.datetime(2024, 9, 11, 1, 0),
        dt.datetime(2024, 9, 11, 10, 0),
        dt.datetime(2024, 9, 11, 10, 20),
    )
    # A day over every channel, per account: account A's Wednesday is the oracle's.
    days = rows(
        "select source_relation, rooms, consultations, answered_consultations "
        "from {s}.consultations_per_day_all_channels "
        "where opened_date = cast('2024-09-11' as date)"
    )
    assert sorted(days) == [
        (A, *WEDNESDAY_ALL.values()),
        (B, 2, 2, 2),
    ]
    logins = rows(
        "select source_relation, agent_login, cast(activity_date_kst as varchar), logins "
        "from {s}.agent_daily_activity"
    )
    assert sorted(logins) == [(A, "lc-kim", "2024-09-11", 1), (B, "lc-park", "2024-09-11", 1)]


def raw_types(query: Callable[[str], list[tuple[Any, ...]]], column: str) -> dict[str, str]:
    """The raw `chat_rooms.<column>` type of each account, lower case, as the warehouse says."""
    rows = query(
        "select table_schema, data_type from information_schema.columns "
        f"where lower(table_name) = 'chat_rooms' and lower(column_name) = '{column}'"
    )
    return {str(schema).lower(): str(data_type).lower() for schema, data_type in rows}


def test_brand_a_seeds_are_the_oracles_fixture():
    """Account A's seeds are test_analytics_oracle.py's records, as text."""
    for stream, rows in records().items():
        path = TRANSFORM / "integration_tests" / "seeds" / f"brand_a_{stream}.csv"
        with path.open(encoding="utf-8", newline="") as file:
            seeded = list(csv.DictReader(file))
        assert len(seeded) == len(rows)
        for seed, record in zip(seeded, rows, strict=True):
            for column, value in record.items():
                if isinstance(value, dt.datetime):
                    assert dt.datetime.fromisoformat(seed[column]) == value, (stream, column)
                elif isinstance(value, list):
                    assert json.loads(seed[column]) == value
                else:
                    assert seed[column] == ("" if value is None else value), (stream, column)


@pytest.fixture(scope="module")
def duckdb_package(tmp_path_factory) -> Iterator[tuple[Path, Callable[..., Any]]]:
    """The integration project built on DuckDB over both accounts."""
    import duckdb  # noqa: PLC0415 - only these tests need it

    project = integration_project(tmp_path_factory.mktemp("package-duckdb"))
    database = project / "target" / "integration.duckdb"
    env = {"HAPPYTALK_DUCKDB_PATH": str(database), "TZ": "America/New_York"}
    statuses = build_integration(project, env)
    assert_built(statuses)
    with duckdb.connect(str(database), read_only=True) as connection:

        def query(sql: str) -> list[tuple[Any, ...]]:
            return connection.execute(sql).fetchall()

        yield project, query


def test_duckdb_package_unions_two_accounts(duckdb_package):
    _, query = duckdb_package
    # The accounts' tags differ in type (text holding JSON, a list): staging unions them.
    assert raw_types(query, "tags") == {A: "varchar", B: "varchar[]"}
    assert_two_accounts(query, "analytics")


def test_duckdb_package_links_the_working_tree(duckdb_package):
    """`local: ../` installs transform/ itself: no download, no copy that could drift."""
    project, _ = duckdb_package
    installed = project / "dbt_packages" / "happytalk"
    assert installed.resolve() == project.parent.resolve()


def test_duckdb_package_one_account_without_union_vars(tmp_path):
    """Without the union vars, happytalk_schema names the one account; source_relation is ''."""
    import duckdb  # noqa: PLC0415 - only these tests need it

    project = integration_project(tmp_path)
    database = project / "target" / "single.duckdb"
    env = {"HAPPYTALK_DUCKDB_PATH": str(database)}
    single = {"happytalk_union_schemas": [], "happytalk_schema": B}
    assert_built(build_integration(project, env, single))
    with duckdb.connect(str(database), read_only=True) as connection:
        rooms = connection.execute(
            f"select source_relation, room_id, {ROOM_COLUMNS} from analytics.room_response_times"
        ).fetchall()
    assert {(r[0], r[1]): tuple(normal(v) for v in r[2:]) for r in rooms} == {
        ("", name): tuple(normal(v) for v in e) for name, e in BRAND_B.items()
    }


def test_a_union_var_that_is_not_a_list_stops_the_build(tmp_path):
    project = integration_project(tmp_path)
    env = dbt_env(
        {"HAPPYTALK_DUCKDB_PATH": str(tmp_path / "x.duckdb"), "DBT_PROFILES_DIR": str(project)}
    )
    subprocess.run(
        [sys.executable, "-m", "dbt.cli.main", "deps"],
        cwd=project, env=env, capture_output=True, timeout=300, check=True,
    )  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "dbt.cli.main", "compile", "--select", "stg_happytalk__chat_rooms",
         "--vars", json.dumps({"happytalk_union_schemas": A})],
        cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "happytalk_union_schemas must be a list" in done.stdout + done.stderr


@pytest.mark.postgres
def test_postgres_package_unions_two_accounts_and_equals_duckdb(postgres, duckdb_package, tmp_path):
    """The same project on PostgreSQL, in a database of its own: the same answers, and marts
    equal to DuckDB's, row for row."""
    import psycopg  # noqa: PLC0415 - only the PostgreSQL tests need it

    database = f"happytalk_package_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute(f'create database "{database}"')
    url = urlunsplit(urlsplit(postgres)._replace(path=f"/{database}"))
    try:
        project = integration_project(tmp_path)
        env = {**target_postgres_env(url, "unused"), "HAPPYTALK_DBT_TARGET": "postgres"}
        env["PGTZ"] = "America/New_York"
        assert_built(build_integration(project, env))
        with psycopg.connect(url) as connection:

            def query(sql: str) -> list[tuple[Any, ...]]:
                return connection.execute(sql).fetchall()

            assert raw_types(query, "tags") == {A: "character varying", B: "jsonb"}
            assert_two_accounts(query, "analytics")
            _, duckdb_query = duckdb_package
            assert marts(query, "analytics") == marts(duckdb_query, "analytics")
    finally:
        with psycopg.connect(postgres, autocommit=True) as admin:
            admin.execute(f'drop database "{database}" with (force)')
