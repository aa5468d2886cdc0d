"""The dbt package in a Meltano project made from the README's quick start: the quick start,
then transform/README.md's `<!-- quickstart-dbt -->` block (transform/, target-postgres, the
`dbt-postgres` utility), run verbatim in a fresh directory against the test PostgreSQL.
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from .conftest import PROJECT, target_postgres_env
from .test_quickstart import beside_a_clone, quickstart_block, run_block, start_local_server, stop

pytestmark = pytest.mark.postgres

CHECKOUT = "CHECKOUT=../tap-happytalk"


def dbt_block(marker: str = "quickstart-dbt") -> str:
    readme = (PROJECT / "transform" / "README.md").read_text(encoding="utf-8")
    after = readme.split(f"<!-- {marker} -->\n", 1)[1]
    return after.split("```sh\n", 1)[1].split("```", 1)[0]


def test_the_dbt_block_continues_the_quickstart():
    block = dbt_block()
    assert block.startswith(CHECKOUT)
    assert "meltano run tap-happytalk target-postgres dbt-postgres:build" in block
    # The quick start's meltano.yml has no include_paths of its own to clash with.
    assert "include_paths" not in quickstart_block()


@pytest.mark.timeout(1800)
def test_a_quickstart_project_loads_and_builds_with_dbt_postgres(postgres, tmp_path):
    import psycopg  # noqa: PLC0415 - only the PostgreSQL tests need it

    database = f"happytalk_quickstart_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute(f'create database "{database}"')
    url = urlunsplit(urlsplit(postgres)._replace(path=f"/{database}"))
    here = beside_a_clone(tmp_path)
    process, server = start_local_server()
    try:
        connection = target_postgres_env(url, "unused")
        del connection["TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA"]  # the block's config says
        script = quickstart_block() + "\n" + dbt_block()
        done = run_block(script, here, server, timeout=1700, env=connection)
        assert done.returncode == 0, f"{done.stdout[-5000:]}\n{done.stderr[-5000:]}"
        project = here / "happytalk-project"
        results = json.loads(
            (project / "transform" / "target" / "run_results.json").read_text(encoding="utf-8")
        )["results"]
        assert sum(1 for r in results if r["unique_id"].startswith("model.")) == 12
        assert {r["status"] for r in results} <= {"success", "pass"}
        with psycopg.connect(url) as connection_:
            # The local server's 30 days of 5 rooms, each built once.
            assert connection_.execute(
                "select count(*), count(distinct room_id) from analytics.room_response_times"
            ).fetchall() == [(150, 150)]
        # Snowflake's and BigQuery's utilities, added to the same project: each adapter reads
        # the package through transform/profiles.yml's target for it.
        warehouses = run_block(dbt_block("quickstart-dbt-warehouses"), project, server, 900)
        assert warehouses.returncode == 0, (
            f"{warehouses.stdout[-5000:]}\n{warehouses.stderr[-5000:]}"
        )
        for adapter in ("snowflake", "bigquery"):
            venv = project / ".meltano" / "utilities" / f"dbt-{adapter}" / "venv"
            assert list(venv.glob(f"lib/python3*/site-packages/dbt/adapters/{adapter}"))
        manifest = json.loads((project / "transform" / "target" / "manifest.json").read_text())
        assert manifest["metadata"]["adapter_type"] == "bigquery"  # the last parse's
        assert "model.happytalk.room_response_times" in manifest["nodes"]
    finally:
        stop(process)
        with psycopg.connect(postgres, autocommit=True) as admin:
            admin.execute(f'drop database if exists "{database}" with (force)')
