"""The Dagster example (accounts/dagster/) loads, runs an account for real, and queues as it says.

Dagster and dagster-meltano go in a virtualenv of their own, as users install them beside the
project: pinned, because dagster-meltano's last release resolves to Dagster 1.9 and the test
must not follow a newer Dagster it was never run with. Meltano is the project's (.venv/bin on
PATH, as the op calls `meltano` from PATH), with its system database in PostgreSQL.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import yaml

from local_happytalk.chats import sample_rooms
from local_happytalk.server import LocalHappyTalk, sample_events

from .conftest import FIRST_DAY, copy_project, run_meltano, target_postgres_env

pytestmark = pytest.mark.postgres

DAGSTER_PINS = ("dagster==1.9.13", "dagster-meltano==1.5.5")
# Both run on Python 3.9 to 3.12 only (dagster-meltano says <3.13): this Python when it can,
# else a 3.12 that uv finds or downloads (CI runs 3.13 and 3.14 too).
DAGSTER_PYTHON = sys.executable if sys.version_info < (3, 13) else "3.12"
BIN = Path(sys.executable).parent  # meltano is here
DEFINITIONS = "accounts/dagster/definitions.py"
ACCOUNT_EXTRACTOR = "tap-happytalk--"
STREAMS = ("service_history", "chat_rooms", "chat_messages")


def uv() -> str:
    """uv from PATH, else the one the Makefile installs into .venv (CI)."""
    return shutil.which("uv") or str(BIN / "uv")


@pytest.fixture(scope="module")
def dagster_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with the pinned Dagster and dagster-meltano; its bin/ folder."""
    venv = tmp_path_factory.mktemp("dagster") / "venv"
    for command in (
        [uv(), "venv", "--quiet", "--python", DAGSTER_PYTHON, str(venv)],
        [
            uv(),
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            *DAGSTER_PINS,
        ],
    ):
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["(nothing on stderr)"])[-1]
            pytest.fail(f"could not install {' '.join(DAGSTER_PINS)} with uv: {last}")
    return venv / "bin"


def database_url(url: str, name: str, scheme: str | None = None) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme=scheme or parts.scheme, path=f"/{name}"))


@pytest.fixture(scope="module")
def databases(postgres):
    """Two fresh databases: Meltano's system database and the warehouse; (meltano, warehouse)."""
    import psycopg  # noqa: PLC0415 - only the PostgreSQL tests need it

    prefix = f"orchestrator_{uuid.uuid4().hex[:8]}"
    names = (f"{prefix}_meltano", f"{prefix}_warehouse")
    with psycopg.connect(postgres, autocommit=True) as admin:
        for name in names:
            admin.execute(f"create database {name}")
    yield tuple(database_url(postgres, name) for name in names)
    with psycopg.connect(postgres, autocommit=True) as admin:
        for name in names:
            admin.execute(f"drop database if exists {name} with (force)")


@pytest.fixture(scope="module")
def project(tmp_path_factory, databases) -> Path:
    """A project copy with accounts.meltano.yml included, installed, on the PostgreSQL system db."""
    root = copy_project(tmp_path_factory.mktemp("orchestrator") / "project")
    meltano_yml = root / "meltano.yml"
    text = meltano_yml.read_text(encoding="utf-8")
    included = text.replace(
        "project_id: tap-happytalk\n",
        "project_id: tap-happytalk\ninclude_paths:\n  - ./accounts/accounts.meltano.yml\n",
        1,
    )
    assert included != text
    meltano_yml.write_text(included, encoding="utf-8")
    run_meltano(root, "install", env=system_database(databases))
    return root


def system_database(databases: tuple[str, str]) -> dict[str, str]:
    return {
        "MELTANO_DATABASE_URI": database_url(
            databases[0], urlsplit(databases[0]).path[1:], "postgresql+psycopg"
        )
    }


@pytest.fixture(scope="module")
def dagster_home(tmp_path_factory: pytest.TempPathFactory, project: Path) -> Path:
    """A DAGSTER_HOME holding the example's dagster.yaml, as the docs tell users to make one."""
    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy2(project / "accounts" / "dagster" / "dagster.yaml", home)
    return home


def accounts(project: Path) -> list[str]:
    """The account extractors' names in accounts.meltano.yml, without `tap-happytalk--`."""
    layout = yaml.safe_load((project / "accounts" / "accounts.meltano.yml").read_text("utf-8"))
    names = [extractor["name"] for extractor in layout["plugins"]["extractors"]]
    return [name.removeprefix(ACCOUNT_EXTRACTOR) for name in names]


def dagster(
    bin_: Path, project: Path, home: Path, *args: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run ARGS (a program of the Dagster virtualenv, then its arguments) in the project copy.

    None of the caller's TAP_*, TARGET_*, PG*, HAPPYTALK_*, DAGSTER_* or MELTANO_* variables
    reaches it: only `env`, DAGSTER_HOME=`home` and the project's files decide what runs.
    """
    dropped = ("TAP_", "TARGET_", "PG", "HAPPYTALK_", "DAGSTER_", "MELTANO_")
    return subprocess.run(
        [str(bin_ / args[0]), *args[1:]],
        cwd=project,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith(dropped)},
            "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
            "DAGSTER_HOME": str(home),
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


LIST_DEFINITIONS = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("definitions", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
repository = module.defs.get_repository_def()
print(json.dumps({
    "jobs": {
        j.name: dict(j.tags) for j in repository.get_all_jobs() if not j.name.startswith("__")
    },
    "schedules": {s.name: [s.job_name, s.cron_schedule] for s in repository.schedule_defs},
}))
"""


def test_the_definitions_load_one_job_and_schedule_per_account(
    dagster_venv, project, dagster_home, databases
):
    env = system_database(databases)
    validated = dagster(
        dagster_venv,
        project,
        dagster_home,
        "dagster",
        "definitions",
        "validate",
        "-f",
        DEFINITIONS,
        env=env,
    )
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "Validation successful" in validated.stdout

    listed = dagster(
        dagster_venv, project, dagster_home, "python", "-c", LIST_DEFINITIONS, DEFINITIONS, env=env
    )
    assert listed.returncode == 0, listed.stderr
    loaded = json.loads(listed.stdout)

    names = [f"happytalk_{account.replace('-', '_')}" for account in accounts(project)]
    assert loaded["jobs"] == {
        **{name: {"happytalk/meltano-job": name.replace("_", "-")} for name in names},
        "happytalk_models": {"happytalk/meltano-job": "happytalk-models"},
    }
    assert loaded["schedules"] == {
        **{f"{name}_hourly": [name, "0 * * * *"] for name in names},
        "happytalk_models_hourly": ["happytalk_models", "30 * * * *"],
    }


RUN_OF_THE_JOB = """
import json
from dagster import DagsterInstance
instance = DagsterInstance.get()
(run,) = instance.get_runs()
messages = [entry.user_message for entry in instance.all_logs(run.run_id)]
print(json.dumps({
    "job": run.job_name,
    "status": run.status.value,
    "tags": dict(run.tags),
    "commands": [
        m.split("\\n", 1)[1].strip() for m in messages if m.startswith("Running command:")
    ],
}))
"""


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    import psycopg  # noqa: PLC0415 - only the PostgreSQL tests need it

    with psycopg.connect(url) as connection:
        return connection.execute(sql).fetchall()


def test_an_accounts_job_runs_meltano_for_that_account_without_force(
    dagster_venv, project, dagster_home, databases
):
    meltano_db, warehouse = databases
    token = f"brand-a-{uuid.uuid4().hex}"
    events = sample_events(FIRST_DAY, 2, 5)
    rooms = sample_rooms(FIRST_DAY, 2, 3, 4)
    target = target_postgres_env(warehouse, "unused")
    del target["TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA"]  # each account's load_schema decides
    with LocalHappyTalk(events, rooms=rooms, token=token) as server:
        env = {
            **system_database(databases),
            **target,
            "HAPPYTALK_BRAND_A_TOKEN": token,
            "TAP_HAPPYTALK__BRAND_A_API_URL": server.url,
            "TAP_HAPPYTALK__BRAND_A_START_DATE": "2024-03-01",
            "TAP_HAPPYTALK__BRAND_A_END_DATE": "2024-03-03",
        }
        done = dagster(
            dagster_venv,
            project,
            dagster_home,
            "dagster",
            "job",
            "execute",
            "-f",
            DEFINITIONS,
            "-j",
            "happytalk_brand_a",
            env=env,
        )
    printed = done.stdout + done.stderr
    assert done.returncode == 0, printed[-4000:]
    assert token not in printed

    counts = {
        stream: query(warehouse, f"select count(*) from happytalk_brand_a.{stream}")[0][0]
        for stream in STREAMS
    }
    assert counts == {"service_history": 10, "chat_rooms": 6, "chat_messages": 24}
    state_id = "dev:tap-happytalk--brand-a-to-target-postgres"
    assert query(meltano_db, "select state_id from state") == [(state_id,)]
    assert query(meltano_db, "select job_name, state from runs") == [(state_id, "SUCCESS")]

    ran = dagster(dagster_venv, project, dagster_home, "python", "-c", RUN_OF_THE_JOB, env={})
    assert ran.returncode == 0, ran.stderr
    run = json.loads(ran.stdout)
    assert (run["job"], run["status"]) == ("happytalk_brand_a", "SUCCESS")
    assert run["tags"]["happytalk/meltano-job"] == "happytalk-brand-a"
    # What dagster-shell ran: no --force, so Meltano refuses an overlapping run of this state.
    assert run["commands"] == ["meltano run happytalk-brand-a"]
    assert token not in ran.stdout + ran.stderr


# How the daemon's queue (QueuedRunCoordinatorDaemon) decides, with Dagster's own counter: a
# private helper, so the pinned Dagster is what this was checked with.
INSTANCE_SETTINGS = """
import importlib.util, json, sys
from types import SimpleNamespace
from dagster import DagsterInstance
from dagster._utils.tags import TagConcurrencyLimitsCounter
spec = importlib.util.spec_from_file_location("definitions", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
jobs = module.defs.get_repository_def().get_all_jobs()
coordinator = DagsterInstance.get().run_coordinator
queue = coordinator.get_run_queue_config()
running = SimpleNamespace(tags=module.defs.get_job_def(sys.argv[2]).tags)
counter = TagConcurrencyLimitsCounter(queue.tag_concurrency_limits, [running])
print(json.dumps({
    "coordinator": type(coordinator).__name__,
    "max_concurrent_runs": queue.max_concurrent_runs,
    "tag_concurrency_limits": queue.tag_concurrency_limits,
    "queued_while_running": {job.name: counter.is_blocked(job) for job in jobs},
}))
"""


def test_dagster_yaml_queues_a_jobs_next_run_while_it_runs_and_not_the_others(
    dagster_venv, project, databases, tmp_path
):
    shutil.copy2(project / "accounts" / "dagster" / "dagster.yaml", tmp_path)
    done = dagster(
        dagster_venv,
        project,
        tmp_path,
        "python",
        "-c",
        INSTANCE_SETTINGS,
        DEFINITIONS,
        "happytalk_brand_a",
        env=system_database(databases),
    )
    assert done.returncode == 0, done.stderr
    instance = json.loads(done.stdout)
    assert instance.pop("queued_while_running") == {
        "happytalk_brand_a": True,
        "happytalk_brand_b": False,
        "happytalk_brand_c": False,
        "happytalk_models": False,
    }
    assert instance == {
        "coordinator": "QueuedRunCoordinator",
        "max_concurrent_runs": 4,
        "tag_concurrency_limits": [
            {
                "key": "happytalk/meltano-job",
                "value": {"applyLimitPerUniqueValue": True},
                "limit": 1,
            }
        ],
    }
