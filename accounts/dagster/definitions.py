# ruff: noqa: INP001 - a file Dagster loads by path (`dagster dev -f`), not a package to import
"""Dagster code location for accounts/accounts.meltano.yml: one job and schedule per account.

Each Meltano job of the layout (one per account, and the models') becomes a Dagster job that
runs `meltano run JOB` in the Meltano project, on the cron of its Meltano schedule. Adding an
account stays one place: its extractor, job and schedule in accounts.meltano.yml.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from dagster import Definitions, JobDefinition, ScheduleDefinition, job
from dagster_meltano import (  # type: ignore[import-untyped]  # no py.typed
    meltano_command_op,
    meltano_resource,
)

# The Meltano project: MELTANO_PROJECT_ROOT, else the folder two levels up (accounts/dagster/).
PROJECT_ROOT = Path(
    os.environ.get("MELTANO_PROJECT_ROOT", Path(__file__).resolve().parent.parent.parent)
)
# An account's extractor inherits from tap-happytalk: `tap-happytalk--NAME`.
ACCOUNT_EXTRACTOR = "tap-happytalk--"
MODELS_JOB = "happytalk-models"
# Runs with the same value of this tag never run side by side: dagster.yaml limits it to 1.
MELTANO_JOB_TAG = "happytalk/meltano-job"


def meltano_schedules() -> list[dict[str, Any]]:
    """Meltano's job schedules, as `meltano schedule list` resolves meltano.yml and its includes."""
    listed = subprocess.run(
        ["meltano", "schedule", "list", "--format=json"],  # noqa: S607 - meltano from PATH, as the op runs it
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if listed.returncode != 0:
        # Dagster would show only the exit status: say what Meltano said.
        problem = listed.stderr.strip().splitlines()[-1:] or ["no output"]
        msg = f"`meltano schedule list` failed in {PROJECT_ROOT}: {problem[0]}"
        raise RuntimeError(msg)
    schedules: list[dict[str, Any]] = json.loads(listed.stdout)["schedules"]["job"]
    return schedules


def is_orchestrated(schedule: dict[str, Any]) -> bool:
    """An account's job (its task extracts with an account's extractor), or the models' job."""
    meltano_job = schedule["job"]
    return meltano_job["name"] == MODELS_JOB or any(
        task.startswith(ACCOUNT_EXTRACTOR) for task in meltano_job["tasks"]
    )


def dagster_name(meltano_name: str) -> str:
    """Dagster's names are [A-Za-z0-9_]+."""
    return meltano_name.replace("-", "_")


def meltano_job(name: str) -> JobDefinition:
    """A Dagster job that runs `meltano run NAME`."""

    # Not dagster-meltano's `meltano_run_op` (nor `load_jobs_from_meltano_project`): they run
    # `meltano run NAME --force`, and --force makes Meltano start a run even while another run
    # of the same state id is still going, so an hourly run that overruns would be run twice
    # from the same state. Without it Meltano refuses the second run; dagster.yaml's tag limit
    # makes Dagster queue it instead of starting it at all.
    @job(
        name=dagster_name(name),
        description=f"meltano run {name}",
        tags={MELTANO_JOB_TAG: name},
        resource_defs={"meltano": meltano_resource.configured({"project_dir": str(PROJECT_ROOT)})},
    )
    def run_meltano_job() -> None:
        meltano_command_op(f"run {name}")()

    return run_meltano_job


# Read once, when Dagster loads this file.
SCHEDULES = [schedule for schedule in meltano_schedules() if is_orchestrated(schedule)]
if not any(schedule["job"]["name"] != MODELS_JOB for schedule in SCHEDULES):
    # An empty code location would load without a word and never run anything.
    msg = (
        f"no account's scheduled job in the Meltano project {PROJECT_ROOT}: does its meltano.yml "
        "include accounts/accounts.meltano.yml (include_paths)?"
    )
    raise RuntimeError(msg)
JOBS = {schedule["job"]["name"]: meltano_job(schedule["job"]["name"]) for schedule in SCHEDULES}

defs = Definitions(
    jobs=list(JOBS.values()),
    schedules=[
        ScheduleDefinition(
            name=dagster_name(schedule["name"]),
            job=JOBS[schedule["job"]["name"]],
            cron_schedule=schedule["cron_interval"],
        )
        for schedule in SCHEDULES
    ],
)
