"""The dbt project in transform/ built on DuckDB over the tap's JSON Lines, summed up.

`python scripts/analytics.py output/` runs `dbt build` (the sources' tests, every model, their
tests) with DuckDB reading `output/{service_history,chat_rooms,chat_messages}.jsonl`, as
target-jsonl writes them, into `output/happytalk.duckdb`, then prints consultations per day,
the median first response and the busiest agent. `summarize(path)` returns the same text.
dbt's own files (target/, logs/) go to a temporary directory, not into transform/.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import duckdb

PROJECT = Path(__file__).resolve().parent.parent
TRANSFORM = PROJECT / "transform"
DATABASE_NAME = "happytalk.duckdb"
SCHEMA = "analytics"
STREAMS = ("service_history", "chat_rooms", "chat_messages")
# Node statuses in dbt's run_results.json that mean something went wrong.
FAILED = frozenset({"error", "fail", "runtime error"})


class DbtBuildError(RuntimeError):
    """`dbt build` failed; the message holds the end of what it printed."""


@dataclass(frozen=True)
class Build:
    """A finished `dbt build`: where the models are, and how each node ended."""

    database: Path
    statuses: dict[str, str]  # node unique_id -> success, pass, warn, skipped, ...

    def count(self, status: str) -> int:
        """How many nodes ended with `status`."""
        return sum(1 for value in self.statuses.values() if value == status)


def database_path(jsonl_dir: Path) -> Path:
    """Where `build` puts the DuckDB database for the JSONL in `jsonl_dir`: beside them."""
    return jsonl_dir.resolve() / DATABASE_NAME


def build(jsonl_dir: Path, database: Path | None = None) -> Build:
    """Run `dbt build` on DuckDB over `jsonl_dir`'s JSONL into `database` (default: beside them).

    Raises:
        FileNotFoundError: a stream's JSONL file is missing.
        DbtBuildError: dbt failed (a model, or a test that is an error, not a warning).
    """
    jsonl_dir = jsonl_dir.resolve()
    missing = [name for name in STREAMS if not (jsonl_dir / f"{name}.jsonl").is_file()]
    if missing:
        names = ", ".join(f"{name}.jsonl" for name in missing)
        raise FileNotFoundError(f"{jsonl_dir} lacks {names}: run the tap with all three streams")
    database = (database or database_path(jsonl_dir)).resolve()
    database.parent.mkdir(parents=True, exist_ok=True)
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("HAPPYTALK_", "DBT_"))},
        "HAPPYTALK_JSONL_DIR": str(jsonl_dir),
        "HAPPYTALK_DUCKDB_PATH": str(database),
        "HAPPYTALK_DBT_SCHEMA": SCHEMA,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    with tempfile.TemporaryDirectory(prefix="happytalk-dbt-") as scratch:
        command = [
            sys.executable,
            "-m",
            "dbt.cli.main",
            "build",
            "--project-dir",
            str(TRANSFORM),
            "--profiles-dir",
            str(TRANSFORM),
            "--target",
            "duckdb",
            "--target-path",
            str(Path(scratch) / "target"),
            "--log-path",
            str(Path(scratch) / "logs"),
            "--no-use-colors",
        ]
        done = subprocess.run(
            command, env=environment, capture_output=True, text=True, check=False, timeout=900
        )
        results = Path(scratch) / "target" / "run_results.json"
        statuses = _statuses(results) if results.is_file() else {}
    if done.returncode != 0 or any(status in FAILED for status in statuses.values()):
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
        raise DbtBuildError(f"dbt build failed (exit code {done.returncode}):\n{tail}")
    return Build(database, statuses)


def _statuses(run_results: Path) -> dict[str, str]:
    results = json.loads(run_results.read_text(encoding="utf-8"))["results"]
    return {str(result["unique_id"]): str(result["status"]) for result in results}


def summarize(jsonl_dir: Path) -> str:
    """Build the models over `jsonl_dir`'s JSONL and say what a support lead reads first."""
    built = build(jsonl_dir)
    return report(built)


def report(built: Build) -> str:
    """The text table of a finished build: consultations per day, first response, busiest."""
    with duckdb.connect(str(built.database), read_only=True) as connection:
        days = connection.execute(
            f"""
            select
                cast(consultation_date_kst as varchar),
                sum(rooms),
                sum(answered_rooms),
                sum(done_rooms),
                sum(open_rooms)
            from {SCHEMA}.consultations_per_day
            group by consultation_date_kst
            order by consultation_date_kst
            """  # noqa: S608 - a constant schema name
        ).fetchall()
        median_row = connection.execute(
            f"""
            select median(first_response_seconds), count(first_response_seconds)
            from {SCHEMA}.room_response_times
            """  # noqa: S608
        ).fetchone()
        daily_medians = dict(
            connection.execute(
                f"""
                select cast(opened_date_kst as varchar), median(first_response_seconds)
                from {SCHEMA}.room_response_times
                group by opened_date_kst
                """  # noqa: S608
            ).fetchall()
        )
        agents = connection.execute(
            f"""
            select agent_name, max(agent_nickname), count(*)
            from {SCHEMA}.room_response_times
            where agent_name is not null
            group by agent_name
            order by count(*) desc, agent_name
            """  # noqa: S608
        ).fetchall()

    header = ("day (KST)", "rooms", "answered", "done", "open", "median first response")
    lines = [
        f"HappyTalk consultations ({built.database})",
        "",
        "{:<10}  {:>5}  {:>8}  {:>4}  {:>4}  {:>21}".format(*header),
    ]
    for day, rooms, answered, done, still_open in days:
        lines.append(
            f"{day:<10}  {rooms:>5}  {answered:>8}  {done:>4}  {still_open:>4}  "
            f"{duration(daily_medians.get(day)):>21}"
        )
    total = sum(int(row[1]) for row in days)
    lines.append(f"{'total':<10}  {total:>5}")
    lines.append("")
    median, answered = median_row or (None, 0)
    lines.append(f"Median first response: {duration(median)} over {answered} answered rooms")
    if agents:
        name, nickname, rooms = agents[0]
        who = f"{name} ({nickname})" if nickname else str(name)
        lines.append(f"Busiest agent: {who}, {rooms} rooms")
    else:
        lines.append("Busiest agent: none (no room was taken by an agent)")
    tally = Counter(built.statuses.values())
    checks = ", ".join(f"{tally[status]} {status}" for status in sorted(tally))
    lines.append(f"dbt build: {checks or 'nothing ran'}")
    return "\n".join(lines)


def duration(seconds: float | None) -> str:
    """`95` -> `1m 35s`; `-` for none."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def main() -> None:
    """`python scripts/analytics.py JSONL_DIR`: build and print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("jsonl_dir", type=Path, help="directory of target-jsonl's files")
    arguments = parser.parse_args()
    try:
        print(summarize(arguments.jsonl_dir))
    except (FileNotFoundError, DbtBuildError) as error:
        sys.exit(f"analytics: {error}")


if __name__ == "__main__":
    main()
