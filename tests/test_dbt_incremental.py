"""Incremental builds: transform/integration_tests/ built, then a day more of both accounts and a
room the tap sent again changed, built incrementally; the result must equal a `--full-refresh`
build row for row, on DuckDB and PostgreSQL (and on fakesnow in tests/test_snowflake.py).

The per-room and per-message models are incremental (staging's rooms and messages,
room_response_times): a run rebuilds the rooms opened within var happytalk_lookback_days of the
latest built. A room sent again after that window keeps its row until a full refresh
(DECISIONLOG.md, "Incremental builds"): the last test shows it.
"""

from __future__ import annotations

import csv
import json
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from .conftest import target_postgres_env
from .test_dbt_package import (
    MARTS,
    A,
    B,
    assert_built,
    build_integration,
    integration_project,
    normal,
    run_dbt,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    Query = Callable[[str], list[tuple[Any, ...]]]

INCREMENTAL = ("stg_happytalk__chat_rooms", "stg_happytalk__chat_messages", "room_response_times")
# Every model a later run can change, as rows: the incremental ones and every mart.
COMPARED = (*INCREMENTAL[:2], *MARTS)

B_EVENING = {  # account B's room of Wednesday evening, as the seed holds it
    "id": "brand-b-evening", "title": "brand-b-evening", "counselor_name": "lc-park",
    "counselor_nickname": "박하늘", "customer_uuid": "site_brand-b-evening", "category_id": "301",
    "division_id": "401", "cate_name1": "환불문의", "cate_name2": "환불지연",
    "reg_date": "2024-09-11 08:50:00", "complate_date": "2024-09-12 00:30:00", "out_api": "0",
    "status": "2", "phone_os": "A", "tags": "[]", "_sdc_extracted_at": "2024-09-11 18:00:00",
}  # fmt: skip


def append(project: Path, seed: str, rows: list[dict[str, str]]) -> None:
    """Rows added to a seed file, as a loader adds a later run's records to the raw table."""
    path = project / "seeds" / f"{seed}.csv"
    text = path.read_text(encoding="utf-8")
    header = next(csv.reader([text.splitlines()[0]]))
    with path.open("a", encoding="utf-8", newline="") as file:
        if not text.endswith("\n"):
            file.write("\n")
        writer = csv.DictWriter(file, fieldnames=header, restval="", lineterminator="\n")
        writer.writerows(rows)


def a_day_more(project: Path) -> None:
    """Friday 13 September in both accounts, and account B's Wednesday-evening room sent again,
    rated 3 and with another last message, its messages with it (a later run's copies)."""
    append(project, "brand_a_chat_rooms", [{
        "id": "friday", "title": "friday", "counselor_name": "lc-kim",
        "counselor_nickname": "김하늘", "customer_uuid": "site_friday", "category_id": "101",
        "division_id": "201",
        "cate_name1": "배송문의", "cate_name2": "배송지연", "reg_date": "2024-09-13T10:00:00+09:00",
        "complate_date": "2024-09-13T10:30:00+09:00", "out_api": "1", "status": "2",
        "phone_os": "W", "tags": '["#금요일"]', "vote_score": "5",
    }])  # fmt: skip
    append(project, "brand_a_chat_messages", [
        {"id": "2001", "room_id": "friday", "from_id": "C", "type": "C", "user_type": "C",
         "contents_type": "text", "contents": "금요일 질문",
         "send_date": "2024-09-13T10:00:00+09:00"},
        {"id": "2002", "room_id": "friday", "from_id": "H", "type": "C", "user_type": "H",
         "contents_type": "text", "contents": "금요일 답변",
         "send_date": "2024-09-13T10:04:00+09:00"},
    ])  # fmt: skip
    append(project, "brand_b_chat_rooms", [
        {**B_EVENING, "id": "brand-b-friday", "title": "brand-b-friday",
         "customer_uuid": "site_brand-b-friday", "reg_date": "2024-09-13 01:00:00",
         "complate_date": "2024-09-13 01:30:00", "_sdc_extracted_at": "2024-09-13 18:00:00"},
        {**B_EVENING, "vote_score": "3", "last_message": "다시 보냄",
         "_sdc_extracted_at": "2024-09-13 18:00:00"},
    ])  # fmt: skip
    later = "2024-09-13 18:00:00"
    append(project, "brand_b_chat_messages", [
        {"id": "1007", "room_id": "brand-b-friday", "from_id": "C", "type": "C", "user_type": "C",
         "contents_type": "text", "contents": "C 1007", "send_date": "2024-09-13 01:00:00",
         "_sdc_extracted_at": later},
        {"id": "1008", "room_id": "brand-b-friday", "from_id": "H", "type": "C", "user_type": "H",
         "contents_type": "text", "contents": "H 1008", "send_date": "2024-09-13 01:02:00",
         "_sdc_extracted_at": later},
        {"id": "1003", "room_id": "brand-b-evening", "from_id": "C", "type": "C", "user_type": "C",
         "contents_type": "text", "contents": "C 1003", "send_date": "2024-09-11 08:50:00",
         "read_date": "2024-09-11 08:50:00", "_sdc_extracted_at": later},
        {"id": "1004", "room_id": "brand-b-evening", "from_id": "H", "type": "C", "user_type": "H",
         "contents_type": "text", "contents": "H 1004", "send_date": "2024-09-12 00:10:00",
         "read_date": "2024-09-12 00:10:00", "_sdc_extracted_at": later},
    ])  # fmt: skip


def rows(query: Query) -> dict[str, list[tuple[Any, ...]]]:
    """Every compared model's rows, values normalised, sorted."""
    return {
        model: sorted(
            (tuple(normal(v) for v in row) for row in query(f"select * from analytics.{model}")),
            key=repr,
        )
        for model in COMPARED
    }


def statuses(project: Path) -> dict[str, str]:
    results = json.loads((project / "target" / "run_results.json").read_text(encoding="utf-8"))
    return {str(r["unique_id"]): str(r["status"]) for r in results["results"]}


def ran_incrementally(project: Path) -> bool:
    """Whether the last build's room_response_times took the is_incremental() branch."""
    run = next((project / "target" / "compiled").rglob("room_response_times.sql"))
    return "rebuild_from" in run.read_text(encoding="utf-8")


def room(query: Query, account: str, room_id: str) -> tuple[Any, ...]:
    (found,) = query(
        "select rooms.vote_score, rooms.last_message, rooms.copies_loaded, times.rating "
        "from analytics.stg_happytalk__chat_rooms as rooms "
        "join analytics.room_response_times as times "
        "on rooms.source_relation = times.source_relation and rooms.room_id = times.room_id "
        f"where rooms.source_relation = '{account}' and rooms.room_id = '{room_id}'"
    )
    return tuple(normal(v) for v in found)


def assert_incremental_equals_full_refresh(
    project: Path, env: dict[str, str], connect: Callable[[], Any]
) -> None:
    """Build; a day more and a room sent again; build incrementally; equal to --full-refresh.
    Then a room sent again after the lookback: kept as it was until a full refresh."""

    def query(sql: str) -> list[tuple[Any, ...]]:
        with connect() as connection:
            return list(connection.execute(sql).fetchall())

    def rooms_per_account() -> list[tuple[Any, ...]]:
        return sorted(query(
            "select source_relation, count(*), count(distinct room_id) "
            "from analytics.room_response_times group by source_relation"
        ))  # fmt: skip

    assert_built(build_integration(project, env))
    assert not ran_incrementally(project)
    assert room(query, B, "brand-b-evening") == (None, None, 1, None)
    (a_rooms, b_rooms) = (n for _, n, _ in rooms_per_account())

    a_day_more(project)
    run_dbt(project, "seed", env=env)
    run_dbt(project, "build", env=env)
    assert_built(statuses(project))
    assert ran_incrementally(project)
    incremental = rows(query)
    # The room sent again replaced its row: rated now, one row, two copies counted.
    assert room(query, B, "brand-b-evening") == (3, "다시 보냄", 2, 3)
    assert rooms_per_account() == [(A, a_rooms + 1, a_rooms + 1), (B, b_rooms + 1, b_rooms + 1)]
    (messages,) = query(
        "select count(*), count(distinct message_id) from analytics.stg_happytalk__chat_messages "
        f"where source_relation = '{B}'"
    )
    assert messages == (8, 8)

    run_dbt(project, "build", "--full-refresh", env=env)
    assert_built(statuses(project))
    assert not ran_incrementally(project)
    assert rows(query) == incremental

    # Account B's first room sent again, changed, and a lookback of 0 days: it was opened before
    # the latest room built (Friday), so the run does not rebuild it; a full refresh does.
    append(project, "brand_b_chat_rooms", [{
        **B_EVENING, "id": "brand-b-answered", "title": "brand-b-answered",
        "customer_uuid": "site_brand-b-answered", "reg_date": "2024-09-11 01:00:00",
        "complate_date": "2024-09-11 01:20:00", "out_api": "2", "vote_score": "1",
        "_sdc_extracted_at": "2024-09-14 18:00:00",
    }])  # fmt: skip
    no_lookback = json.dumps({"happytalk_lookback_days": 0})
    run_dbt(project, "seed", env=env)
    run_dbt(project, "build", "--vars", no_lookback, env=env)
    assert ran_incrementally(project)
    assert room(query, B, "brand-b-answered") == (5, None, 2, 5)
    run_dbt(project, "build", "--full-refresh", "--vars", no_lookback, env=env)
    assert room(query, B, "brand-b-answered") == (1, None, 3, 1)


def test_duckdb_incremental_build_equals_a_full_refresh(tmp_path):
    import duckdb  # noqa: PLC0415 - only these tests need it

    project = integration_project(tmp_path)
    database = project / "target" / "incremental.duckdb"
    env = {"HAPPYTALK_DUCKDB_PATH": str(database)}
    assert_incremental_equals_full_refresh(
        project, env, lambda: duckdb.connect(str(database), read_only=True)
    )


@pytest.mark.postgres
def test_postgres_incremental_build_equals_a_full_refresh(postgres, tmp_path):
    import psycopg  # noqa: PLC0415 - only the PostgreSQL tests need it

    database = f"happytalk_incremental_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute(f'create database "{database}"')
    url = urlunsplit(urlsplit(postgres)._replace(path=f"/{database}"))
    try:
        project = integration_project(tmp_path)
        env = {**target_postgres_env(url, "unused"), "HAPPYTALK_DBT_TARGET": "postgres"}
        assert_incremental_equals_full_refresh(project, env, lambda: psycopg.connect(url))
    finally:
        with psycopg.connect(postgres, autocommit=True) as admin:
            admin.execute(f'drop database "{database}" with (force)')
