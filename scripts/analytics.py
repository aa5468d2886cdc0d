"""The dbt project in transform/ built on DuckDB over the tap's JSON Lines, summed up and drawn.

`python scripts/analytics.py output/` runs `dbt build` (the holiday seed, the sources' tests,
every model, their tests) with DuckDB reading `output/{service_history,chat_rooms,
chat_messages}.jsonl`, as target-jsonl writes them, into `output/happytalk.duckdb`; then prints
what a support lead reads first (rooms by week and what became of them, the answer rate, first
response and handling in business hours, ratings, the busiest agent) and writes
`output/report.html`, four charts as static SVG. `summarize(path)` returns the same text.
dbt's own files (target/, logs/) go to a temporary directory, not into transform/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import vl_convert
import yaml

PROJECT = Path(__file__).resolve().parent.parent
TRANSFORM = PROJECT / "transform"
DATABASE_NAME = "happytalk.duckdb"
REPORT_NAME = "report.html"
SCHEMA = "analytics"
STREAMS = ("service_history", "chat_rooms", "chat_messages")
# Node statuses in dbt's run_results.json that mean something went wrong.
FAILED = frozenset({"error", "fail", "runtime error"})
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SCHEDULE_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Every room is in exactly one of these (room_response_times.outcome), in the summary's order.
OUTCOMES = ("answered", "closed unanswered", "open unanswered", "chatbot only", "deleted")


class DbtBuildError(RuntimeError):
    """`dbt build` failed; the message holds the end of what it printed."""


@dataclass(frozen=True)
class Build:
    """A finished `dbt build`: where the models are, how each node ended, the vars in force."""

    database: Path
    statuses: dict[str, str]  # node unique_id -> success, pass, warn, skipped, ...
    variables: dict[str, Any] = field(default_factory=dict)

    def count(self, status: str) -> int:
        """How many nodes ended with `status`."""
        return sum(1 for value in self.statuses.values() if value == status)


def database_path(jsonl_dir: Path) -> Path:
    """Where `build` puts the DuckDB database for the JSONL in `jsonl_dir`: beside them."""
    return jsonl_dir.resolve() / DATABASE_NAME


def project_variables(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The dbt vars a build runs with: dbt_project.yml's, then `overrides` (`--vars`)."""
    project = yaml.safe_load((TRANSFORM / "dbt_project.yml").read_text(encoding="utf-8"))
    return {**project.get("vars", {}), **(overrides or {})}


def build(
    jsonl_dir: Path, database: Path | None = None, dbt_vars: dict[str, Any] | None = None
) -> Build:
    """Run `dbt build` on DuckDB over `jsonl_dir`'s JSONL into `database` (default: beside them).

    `dbt_vars` override dbt_project.yml's vars (business hours, time zones, days off...).

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
        if dbt_vars:
            command += ["--vars", json.dumps(dbt_vars)]
        done = subprocess.run(
            command, env=environment, capture_output=True, text=True, check=False, timeout=900
        )
        results = Path(scratch) / "target" / "run_results.json"
        statuses = _statuses(results) if results.is_file() else {}
    if done.returncode != 0 or any(status in FAILED for status in statuses.values()):
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
        raise DbtBuildError(f"dbt build failed (exit code {done.returncode}):\n{tail}")
    return Build(database, statuses, project_variables(dbt_vars))


def _statuses(run_results: Path) -> dict[str, str]:
    results = json.loads(run_results.read_text(encoding="utf-8"))["results"]
    return {str(result["unique_id"]): str(result["status"]) for result in results}


def summarize(jsonl_dir: Path) -> str:
    """Build the models over `jsonl_dir`'s JSONL, write report.html beside them, say the gist."""
    built = build(jsonl_dir)
    report_path = write_report(built, jsonl_dir.resolve() / REPORT_NAME)
    return report(built, report_path)


# --- what the summary and the report read ----------------------------------------------------


@dataclass(frozen=True)
class Week:
    """A week's rooms by outcome, adding up to `rooms` (consultations_per_week_all_channels)."""

    week: str
    rooms: int
    outcomes: tuple[int, ...]  # in OUTCOMES' order
    answer_rate: float | None


@dataclass(frozen=True)
class Overall:
    """The whole period's figures, computed from its rooms (room_response_times)."""

    first_day: str | None
    last_day: str | None
    consultations: int
    answered: int
    open_answered: int
    open_unanswered: int
    first_response: tuple[float | None, float | None]  # business seconds: median, p90
    first_response_clock: tuple[float | None, float | None]
    answered_outside_hours: int  # answered consultations whose wait had no business second
    handling: tuple[float | None, float | None]  # business seconds: median, p90
    handled: int  # answered consultations with a known handling
    interval_problems: int
    rated: int
    average_rating: float | None
    low_rated: int
    out_of_scale: int
    busiest: tuple[str, str | None, int] | None  # agent, nickname, consultations


def read_weeks(connection: duckdb.DuckDBPyConnection) -> list[Week]:
    """Every week's outcome counts, oldest first."""
    rows = connection.execute(
        f"""
        select
            cast(opened_week as varchar), rooms, answered_consultations,
            closed_unanswered_consultations, open_unanswered_consultations,
            chatbot_only_rooms, deleted_rooms, answer_rate
        from {SCHEMA}.consultations_per_week_all_channels
        order by opened_week
        """  # noqa: S608 - a constant schema name
    ).fetchall()
    return [
        Week(
            str(week),
            int(rooms),
            tuple(int(n) for n in counts),
            None if rate is None else float(rate),
        )
        for week, rooms, *counts, rate in rows
    ]


def read_overall(connection: duckdb.DuckDBPyConnection, low_at_most: int) -> Overall:
    """The period's figures from the rooms themselves (never from daily or weekly figures)."""
    row = connection.execute(
        f"""
        select
            cast(min(opened_date) as varchar),
            cast(max(opened_date) as varchar),
            count(case when is_consultation then 1 end),
            count(case when is_answered then 1 end),
            count(case when is_answered and is_open then 1 end),
            count(case when outcome = 'open unanswered' then 1 end),
            quantile_cont(case when is_answered then first_response_business_seconds end, 0.5),
            quantile_cont(case when is_answered then first_response_business_seconds end, 0.9),
            quantile_cont(case when is_answered then first_response_seconds end, 0.5),
            quantile_cont(case when is_answered then first_response_seconds end, 0.9),
            quantile_cont(case when is_answered then handling_business_seconds end, 0.5),
            quantile_cont(case when is_answered then handling_business_seconds end, 0.9),
            count(case when is_answered then handling_business_seconds end),
            count(case when is_answered and interval_problem is not null then 1 end),
            count(case when is_consultation then rating end),
            avg(case when is_consultation then rating end),
            count(case when is_consultation and rating <= {int(low_at_most)} then 1 end),
            count(case when is_consultation and is_rating_out_of_scale then 1 end),
            count(case when is_answered and first_response_business_seconds = 0 then 1 end)
        from {SCHEMA}.room_response_times
        """  # noqa: S608 - a constant schema name and an integer
    ).fetchone()
    if row is None:  # an aggregate without GROUP BY always has one row
        raise DbtBuildError(f"{SCHEMA}.room_response_times answered nothing")
    busiest = connection.execute(
        f"""
        select agent_name, max(agent_nickname), count(*)
        from {SCHEMA}.room_response_times
        where agent_name is not null and is_consultation
        group by agent_name
        order by count(*) desc, agent_name
        limit 1
        """  # noqa: S608
    ).fetchone()
    return Overall(
        first_day=row[0],
        last_day=row[1],
        consultations=int(row[2]),
        answered=int(row[3]),
        open_answered=int(row[4]),
        open_unanswered=int(row[5]),
        first_response=(row[6], row[7]),
        first_response_clock=(row[8], row[9]),
        answered_outside_hours=int(row[18]),
        handling=(row[10], row[11]),
        handled=int(row[12]),
        interval_problems=int(row[13]),
        rated=int(row[14]),
        average_rating=None if row[15] is None else float(row[15]),
        low_rated=int(row[16]),
        out_of_scale=int(row[17]),
        busiest=None if busiest is None else (str(busiest[0]), busiest[1], int(busiest[2])),
    )


# --- the terminal summary --------------------------------------------------------------------


def report(built: Build, report_path: Path | None = None) -> str:
    """The text a support lead reads: rooms by week and outcome, answer rate, waits, ratings."""
    variables = built.variables or project_variables()
    scale = variables.get("happytalk_rating_scale", [1, 5])
    low_at_most = int(variables.get("happytalk_low_rating_at_most", 2))
    with duckdb.connect(str(built.database), read_only=True) as connection:
        weeks = read_weeks(connection)
        overall = read_overall(connection, low_at_most)

    zone = variables.get("happytalk_reporting_timezone", "Asia/Seoul")
    period = f"{overall.first_day} to {overall.last_day}" if overall.first_day else "no rooms"
    lines = [
        f"HappyTalk support, rooms opened {period} (days in {zone})",
        f"Business hours: {business_hours(variables)}",
        "",
        "Rooms by week (Monday) and what became of them; each room is in one column:",
        "{:<10}  {:>5}  {:>8}  {:>14}  {:>12}  {:>12}  {:>7}  {:>11}".format(
            "week of",
            "rooms",
            "answered",
            "closed, no ans",
            "open, no ans",
            "chatbot only",
            "deleted",
            "answer rate",
        ),
    ]
    lines.extend(_week_line(w.week, w.rooms, w.outcomes, w.answer_rate) for w in weeks)
    totals = tuple(sum(week.outcomes[i] for week in weeks) for i in range(len(OUTCOMES)))
    consultations = sum(totals[:3])
    total_rate = totals[0] / consultations if consultations else None
    lines.append(_week_line("total", sum(week.rooms for week in weeks), totals, total_rate))
    lines.append("")
    lines.append(
        f"Answered: {overall.answered} of {overall.consultations} consultations "
        f"({percent(overall.answered / overall.consultations if overall.consultations else None)})"
        "; chatbot-only and deleted rooms are no consultation."
    )
    median, p90 = overall.first_response
    clock_median, clock_p90 = overall.first_response_clock
    lines.append(
        f"Median first response: {duration(median)} in business hours (p90 {duration(p90)}); "
        f"{duration(clock_median)} on the clock (p90 {duration(clock_p90)}); "
        f"over {overall.answered} answered consultations, {overall.answered_outside_hours} of "
        "them asked and answered outside business hours (0 business seconds)"
    )
    handling_median, handling_p90 = overall.handling
    lines.append(
        f"Median handling (first answer to closing): {duration(handling_median)} in business "
        f"hours (p90 {duration(handling_p90)}), over {overall.handled} closed ones"
        + (
            f"; {overall.interval_problems} closed before their first answer, left out"
            if overall.interval_problems
            else ""
        )
    )
    lines.append(
        f"Still open when the tap last read them: {overall.open_unanswered} not answered yet, "
        f"{overall.open_answered} answered (the tap reads open rooms again until they close)"
    )
    rated = f"{overall.rated} consultations rated {scale[0]} to {scale[1]}"
    average = "" if overall.average_rating is None else f", average {overall.average_rating:.2f}"
    lines.append(
        f"Ratings: {rated}{average}; {overall.low_rated} rated {low_at_most} or less; "
        f"{overall.out_of_scale} outside the scale (not averaged)"
    )
    if overall.busiest:
        name, nickname, count = overall.busiest
        who = f"{name} ({nickname})" if nickname else name
        lines.append(f"Busiest agent: {who}, {count} consultations")
    else:
        lines.append("Busiest agent: none (no consultation was taken by an agent)")
    lines.append(data_checks(built.statuses))
    if report_path is not None:
        lines.append(f"Charts: {shown(report_path)}")
    return "\n".join(lines)


def _week_line(label: str, rooms: int, outcomes: tuple[int, ...], answer_rate: float | None) -> str:
    return "{:<10}  {:>5}  {:>8}  {:>14}  {:>12}  {:>12}  {:>7}  {:>11}".format(
        label, rooms, *outcomes, percent(answer_rate)
    )


def shown(path: Path) -> Path:
    """`path` relative to the working directory when it is inside it (`output/report.html`)."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def business_hours(variables: dict[str, Any]) -> str:
    """The schedule in words: `Mon-Fri 09:00-18:00 (Asia/Seoul), closed on ...`."""
    hours = variables.get("happytalk_business_hours") or {}
    spans: list[tuple[str, str]] = []  # (weekday, "09:00-18:00"), in week order
    for index, name in enumerate(SCHEDULE_DAYS):
        span = next((v for k, v in hours.items() if str(k).lower() == name), None)
        if span:
            spans.append((WEEKDAYS[index], f"{span[0]}-{span[1]}"))
    if not spans:
        return "none (every interval counts 0 business seconds)"
    groups: list[list[str]] = []  # consecutive weekdays with the same hours
    for index, (day, span) in enumerate(spans):
        previous = spans[index - 1] if index else None
        adjacent = previous and WEEKDAYS.index(day) == WEEKDAYS.index(previous[0]) + 1
        if previous and adjacent and previous[1] == span:
            groups[-1][1] = day
        else:
            groups.append([day, day, span])
    text = ", ".join(f"{a}-{b} {s}" if a != b else f"{a} {s}" for a, b, s in groups)
    zone = variables.get("happytalk_business_timezone", "Asia/Seoul")
    closed = []
    if variables.get("happytalk_public_holidays_closed", True):
        closed.append("Korean public holidays")
    days_off = variables.get("happytalk_company_days_off") or {}
    if days_off:
        closed.append(f"{len(days_off)} company day{'s' if len(days_off) > 1 else ''} off")
    return f"{text} ({zone})" + (f", closed on {' and '.join(closed)}" if closed else "")


def data_checks(statuses: dict[str, str]) -> str:
    """What dbt's tests said, in words: how many checks passed, warned or failed."""
    tests = [status for key, status in statuses.items() if key.startswith("test.")]
    passed = tests.count("pass")
    warned = tests.count("warn")
    failed = len(tests) - passed - warned
    if not tests:
        return "Data checks: none ran"
    if passed == len(tests):
        return f"Data checks: all {passed} passed"
    text = f"Data checks: {passed} of {len(tests)} passed"
    if warned:
        text += f"; {warned} found values HappyTalk sent that the models do not know (warnings)"
    if failed:
        text += f"; {failed} failed"
    return text


def percent(fraction: float | None) -> str:
    """`0.857` -> `86%`; `-` for none."""
    return "-" if fraction is None else f"{round(100 * fraction)}%"


def duration(seconds: float | None) -> str:
    """`95` -> `1m 35s`; `-` for none."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h {minutes:02d}m"
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


# --- the picture -----------------------------------------------------------------------------

CHART_WIDTH = 640
CHART_HEIGHT = 220


def chart_specs(connection: duckdb.DuckDBPyConnection, scale: list[int]) -> dict[str, Any]:
    """The report's four Vega-Lite charts, by figure id, with their data inline."""
    per_channel = [
        {"day": str(day), "channel": str(channel), "consultations": int(count)}
        for day, channel, count in connection.execute(
            f"""
            select cast(opened_date as varchar), coalesce(channel_label, 'unknown'),
                consultations
            from {SCHEMA}.consultations_per_day
            where consultations > 0
            order by 1, 2
            """  # noqa: S608
        ).fetchall()
    ]
    waits = []
    for day, median, p90 in connection.execute(
        f"""
        select cast(opened_date as varchar), median_first_response_business_seconds,
            p90_first_response_business_seconds
        from {SCHEMA}.consultations_per_day_all_channels
        where answered_consultations > 0
        order by 1
        """  # noqa: S608
    ).fetchall():
        waits.append({"day": str(day), "figure": "median", "minutes": float(median) / 60})
        waits.append({"day": str(day), "figure": "p90", "minutes": float(p90) / 60})
    rated = dict(
        connection.execute(
            f"""
            select rating, count(*) from {SCHEMA}.room_response_times
            where is_consultation and rating is not null group by rating
            """  # noqa: S608
        ).fetchall()
    )
    ratings = [
        {"rating": str(score), "consultations": int(rated.get(score, 0))}
        for score in range(scale[0], scale[1] + 1)
    ]
    written = {
        (int(weekday), int(hour)): int(count)
        for weekday, hour, count in connection.execute(
            f"""
            select sent_iso_weekday, sent_hour, sum(customer_messages)
            from {SCHEMA}.customer_messages_per_hour group by 1, 2
            """  # noqa: S608
        ).fetchall()
    }
    heat = [
        {"weekday": WEEKDAYS[day - 1], "hour": hour, "messages": written.get((day, hour), 0)}
        for day in range(1, 8)
        for hour in range(24)
    ]
    size = {"width": CHART_WIDTH, "height": CHART_HEIGHT}
    schema = "https://vega.github.io/schema/vega-lite/v5.json"
    day_axis = {
        "field": "day",
        "type": "ordinal",
        "title": "day opened",
        "axis": {"labelAngle": -60},
    }
    return {
        "consultations-per-day": {
            "$schema": schema,
            **size,
            "data": {"values": per_channel},
            "mark": "bar",
            "encoding": {
                "x": day_axis,
                "y": {"field": "consultations", "type": "quantitative", "stack": "zero"},
                "color": {"field": "channel", "type": "nominal"},
            },
        },
        "first-response-per-day": {
            "$schema": schema,
            **size,
            "data": {"values": waits},
            "mark": {"type": "line", "point": True},
            "encoding": {
                "x": day_axis,
                "y": {
                    "field": "minutes",
                    "type": "quantitative",
                    "title": "first response, business minutes",
                },
                "color": {"field": "figure", "type": "nominal", "title": ""},
            },
        },
        "ratings": {
            "$schema": schema,
            "width": 320,
            "height": CHART_HEIGHT,
            "data": {"values": ratings},
            "mark": "bar",
            "encoding": {
                "x": {"field": "rating", "type": "ordinal", "sort": None},
                "y": {"field": "consultations", "type": "quantitative"},
            },
        },
        "customer-messages-heat-map": {
            "$schema": schema,
            "width": CHART_WIDTH,
            "height": 180,
            "data": {"values": heat},
            "mark": "rect",
            "encoding": {
                "x": {"field": "hour", "type": "ordinal", "title": "hour of day"},
                "y": {"field": "weekday", "type": "ordinal", "sort": list(WEEKDAYS)},
                "color": {
                    "field": "messages",
                    "type": "quantitative",
                    "title": "customer messages",
                },
            },
        },
    }


CAPTIONS = {
    "consultations-per-day": (
        "Consultations per day, by channel",
        (
            "Rooms with an agent's side, by the day they were opened (deleted and "
            "chatbot-only rooms are left out)."
        ),
    ),
    "first-response-per-day": (
        "First response in business hours, per day",
        (
            "Median and 90th percentile of the answered consultations opened that day, in "
            "business minutes (time outside business hours does not count)."
        ),
    ),
    "ratings": (
        "Ratings",
        (
            "How many consultations got each score; ratings outside the scale are counted "
            "in the summary, not drawn."
        ),
    ),
    "customer-messages-heat-map": (
        "When customers write",
        "Customer messages by weekday and hour of day, every room included.",
    ),
}


def write_report(built: Build, path: Path) -> Path:
    """Write the HTML report (charts as inline SVG, no script, nothing fetched) to `path`."""
    variables = built.variables or project_variables()
    scale = [int(n) for n in variables.get("happytalk_rating_scale", [1, 5])]
    with duckdb.connect(str(built.database), read_only=True) as connection:
        specs = chart_specs(connection, scale)
    summary = report(built)
    figures = []
    for figure_id, spec in specs.items():
        title, caption = CAPTIONS[figure_id]
        svg = vl_convert.vegalite_to_svg(spec)
        figures.append(
            f'<figure id="{figure_id}">\n<h2>{html.escape(title)}</h2>\n{svg}\n'
            f"<figcaption>{html.escape(caption)}</figcaption>\n</figure>"
        )
    generated = dt.datetime.now(tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    document = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>HappyTalk support report</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 72em; }}
figure {{ margin: 2em 0; }}
figcaption {{ color: #555; }}
pre {{ background: #f6f6f6; padding: 1em; overflow-x: auto; }}
</style>
</head>
<body>
<h1>HappyTalk support report</h1>
<p>Built from the dbt models in transform/ ({html.escape(str(built.database.name))}) on
{generated}. Every definition is in transform/DECISIONLOG.md.</p>
<pre id="summary">{html.escape(summary)}</pre>
{chr(10).join(figures)}
</body>
</html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document, encoding="utf-8")
    return path


def main() -> None:
    """`python scripts/analytics.py JSONL_DIR`: build, print the summary, write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("jsonl_dir", type=Path, help="directory of target-jsonl's files")
    arguments = parser.parse_args()
    try:
        print(summarize(arguments.jsonl_dir))
    except (FileNotFoundError, DbtBuildError) as error:
        sys.exit(f"analytics: {error}")


if __name__ == "__main__":
    main()
