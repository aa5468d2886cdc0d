"""The dbt project in transform/ built on DuckDB over the tap's JSON Lines, summed up and drawn.

`python scripts/analytics.py output/` runs `dbt build` (the holiday seed, the sources' tests,
every model, their tests) with DuckDB reading `output/{service_history,chat_rooms,
chat_messages}.jsonl`, as target-jsonl writes them, into `output/happytalk.duckdb`; then prints
what a support lead reads first (first response in business and clock time, the share answered
within a target, the answer rate, ratings, the busiest agent, rooms by week and what became of
them) and writes `output/report.html`: headline figures, days and weeks with closed days shown
as closed, agents, ratings, and when customers write, in English or Korean (`--language`), its
charts static SVG (Vega-Lite through vl-convert: no script, nothing fetched).
`--target-minutes` sets the target (default 10). `summarize(path)` returns the printed text.
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
WEEKDAYS_KO = ("월", "화", "수", "목", "금", "토", "일")
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
            # The folder's files may have been replaced by other data since the last build:
            # incremental models would keep rooms outside their lookback from the old files.
            "--full-refresh",
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


def summarize(jsonl_dir: Path, *, target_minutes: float | None = None, language: str = "en") -> str:
    """Build the models over `jsonl_dir`'s JSONL, write report.html beside them, say the gist.

    `target_minutes` is the first response counted as on time (default `TARGET_MINUTES`);
    `language` the report's (en or ko; the terminal summary is in English).
    """
    target = TARGET_MINUTES if target_minutes is None else target_minutes
    words(language)  # an unknown language stops before dbt runs
    built = build(jsonl_dir)
    report_path = write_report(
        built, jsonl_dir.resolve() / REPORT_NAME, target_minutes=target, language=language
    )
    return report(built, report_path, target_minutes=target)


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


def report(
    built: Build, report_path: Path | None = None, *, target_minutes: float | None = None
) -> str:
    """The text a support lead reads: the headline figures first, then weeks and outcomes."""
    target = TARGET_MINUTES if target_minutes is None else target_minutes
    variables = built.variables or project_variables()
    scale = variables.get("happytalk_rating_scale", [1, 5])
    low_at_most = int(variables.get("happytalk_low_rating_at_most", 2))
    with duckdb.connect(str(built.database), read_only=True) as connection:
        weeks = read_weeks(connection)
        overall = read_overall(connection, low_at_most)
        headline = read_headline(connection, target * 60)

    zone = variables.get("happytalk_reporting_timezone", "Asia/Seoul")
    period = f"{overall.first_day} to {overall.last_day}" if overall.first_day else "no rooms"
    consultations = overall.consultations
    median, p90 = overall.first_response
    clock_median, clock_p90 = overall.first_response_clock
    lines = [
        f"HappyTalk support, rooms opened {period} (days in {zone})",
        f"Business hours: {business_hours(variables)}",
        "",
        (
            f"Median first response: {duration(median)} in business hours (p90 "
            f"{duration(p90)}); {duration(clock_median)} on the clock (p90 {duration(clock_p90)}); "
            f"over {overall.answered} answered consultations, {overall.answered_outside_hours} "
            "of them asked and answered outside business hours (0 business seconds)"
        ),
        (
            f"Answered within {target_words(target, 'en')} of business time: "
            f"{headline.within_target} of {consultations} consultations "
            f"({_share(headline.within_target, consultations)}; "
            f"{_share(headline.within_target_clock, consultations)} within it on the clock)"
        ),
        (
            f"Answered: {overall.answered} of {consultations} consultations "
            f"({_share(overall.answered, consultations)})"
            "; chatbot-only and deleted rooms are no consultation."
        ),
    ]
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
    lines += [
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
    total_rate = totals[0] / sum(totals[:3]) if sum(totals[:3]) else None
    lines.append(_week_line("total", sum(week.rooms for week in weeks), totals, total_rate))
    lines.append("")
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


def business_hours(variables: dict[str, Any], language: str = "en") -> str:
    """The schedule in words: `Mon-Fri 09:00-18:00 (Asia/Seoul), closed on ...` (or Korean)."""
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
    if language == "ko":
        return _business_hours_ko(variables, groups)
    text = ", ".join(f"{a}-{b} {s}" if a != b else f"{a} {s}" for a, b, s in groups)
    zone = variables.get("happytalk_business_timezone", "Asia/Seoul")
    days_off = variables.get("happytalk_company_days_off") or {}
    closed = []
    if variables.get("happytalk_public_holidays_closed", True):
        closed.append("Korean public holidays")
    if days_off:
        closed.append(f"{len(days_off)} company day{'s' if len(days_off) > 1 else ''} off")
    return f"{text} ({zone})" + (f", closed on {' and '.join(closed)}" if closed else "")


def _business_hours_ko(variables: dict[str, Any], groups: list[list[str]]) -> str:
    """`business_hours` in Korean, from its groups of weekdays with the same hours."""
    days = [
        [WEEKDAYS_KO[WEEKDAYS.index(first)], WEEKDAYS_KO[WEEKDAYS.index(last)], span]
        for first, last, span in groups
    ]
    text = ", ".join(f"{a}-{b} {s}" if a != b else f"{a} {s}" for a, b, s in days)
    zone = variables.get("happytalk_business_timezone", "Asia/Seoul")
    shut = []
    if variables.get("happytalk_public_holidays_closed", True):
        shut.append("공휴일")
    days_off = variables.get("happytalk_company_days_off") or {}
    if days_off:
        shut.append(f"회사 휴무일 {len(days_off)}일")
    return f"{text} ({zone})" + (f", {'·'.join(shut)} 휴무" if shut else "")


def data_checks(statuses: dict[str, str], language: str = "en") -> str:
    """What dbt's tests said, in words: how many checks passed, warned or failed."""
    tests = [status for key, status in statuses.items() if key.startswith("test.")]
    passed = tests.count("pass")
    warned = tests.count("warn")
    failed = len(tests) - passed - warned
    if language == "ko":
        return (
            f"데이터 검사: {len(tests)}개 중 {passed}개 통과, 경고 {warned}개(모델이 모르는 "
            f"값), 실패 {failed}개"
        )
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


def _units_of(seconds: float) -> tuple[int, int, int, int]:
    """Whole days, hours, minutes and seconds of `seconds`, rounded to the second."""
    days, rest = divmod(round(seconds), 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return days, hours, minutes, secs


def duration(seconds: float | None) -> str:
    """`95` -> `1m 35s`; `-` for none."""
    if seconds is None:
        return "-"
    days, hours, minutes, secs = _units_of(seconds)
    if days:
        return f"{days}d {hours:02d}h {minutes:02d}m"
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


# --- the report's words, in English and Korean ------------------------------------------------

LANGUAGES = ("en", "ko")
TARGET_MINUTES = 10.0
FONTS = '"Noto Sans CJK KR", "Noto Sans KR", "Apple SD Gothic Neo", "Malgun Gothic", sans-serif'
CHART_FONT = "Noto Sans CJK KR, Noto Sans KR, Apple SD Gothic Neo, Malgun Gothic, sans-serif"
TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "HappyTalk support report",
        "period": "Consultations opened {first} to {last}; days and hours in {zone}.",
        "hours": "Business hours: {hours}.",
        "source": "Built from the dbt models in transform/ ({database}) on {generated}. "
        "Every definition is in transform/DECISIONLOG.md.",
        "consultations": "Consultations",
        "consultations_note": "of {rooms} rooms (chatbot-only and deleted rooms are none)",
        "answer_rate": "Answer rate",
        "answer_rate_note": "{answered} of {consultations} consultations answered by an agent",
        "business_first": "First response, business hours",
        "clock_first": "First response, clock time",
        "first_note": "median; 90% answered within {p90}",
        "within": "Answered within {target}",
        "within_note": "{count} of {consultations} consultations, counting business hours "
        "only ({clock} on the clock)",
        "rating": "Average rating",
        "rating_note": "{rated} rated; {low} at {low_at_most} or less",
        "no_rating": "no ratings",
        "minutes": "{n} min",
        "by_day": "By day",
        "per_day": "Consultations per day, by channel",
        "per_day_note": "Rooms with an agent's side, by the day they were opened. Shaded days "
        "are closed (weekends, public holidays, company days off).",
        "holidays": "Closed in the period besides weekends: {days}.",
        "waits_per_day": "First response per day, in business minutes",
        "waits_per_day_note": "Median and 90th percentile of the consultations answered that "
        "day, in business minutes; the dashed line is the target. Closed days are shaded and "
        "have no figure: their questions wait for the next opening and count in the weeks' "
        "and the headline's figures.",
        "day": "day opened",
        "closed": "closed (weekend, holiday)",
        "channel": "channel",
        "business_minutes": "business minutes",
        "median": "median",
        "p90": "90th percentile",
        "target": "target",
        "by_week": "By week",
        "by_week_note": "Weeks from Monday; each figure from that week's consultations.",
        "week": "week of",
        "rooms": "rooms",
        "answered": "answered",
        "median_business": "median first response (business)",
        "p90_business": "p90 (business)",
        "median_clock": "median (clock)",
        "within_short": "within {target}",
        "average_rating": "average rating",
        "outcomes": "What became of the rooms",
        "outcomes_note": "Each room in exactly one column.",
        "closed_unanswered": "closed, not answered",
        "open_unanswered": "open, not answered",
        "chatbot_only": "chatbot only",
        "deleted": "deleted",
        "total": "total",
        "agents": "By agent",
        "agents_note": "The consultations each agent had last (HappyTalk's counselor_name).",
        "agent": "agent",
        "rated": "rated",
        "low_rated": "rated {low_at_most} or less",
        "ratings": "Ratings",
        "ratings_note": "Consultations per score; ratings outside the scale ({out_of_scale}) are "
        "not drawn.",
        "score": "score",
        "heat_map": "When customers write ({zone})",
        "heat_map_note": "Customer messages by weekday and hour of day, in {zone}, every room "
        "included.",
        "weekday": "weekday",
        "hour": "hour of day",
        "messages": "customer messages",
        "details": "Details",
        "handling": "Median handling (first answer to closing): {median} in business hours "
        "(p90 {p90}), over {count} closed consultations.",
        "still_open": "Still open when the tap last read them: {unanswered} not answered yet, "
        "{answered} answered.",
    },
    "ko": {
        "title": "해피톡 상담 리포트",
        "period": "{first} ~ {last} 접수된 상담, 날짜와 시간은 {zone} 기준.",
        "hours": "업무시간: {hours}.",
        "source": "transform/의 dbt 모델({database})로 {generated}에 작성. "
        "모든 정의는 transform/DECISIONLOG.md에 있습니다.",
        "consultations": "상담 건수",
        "consultations_note": "전체 채팅방 {rooms}개 중 (챗봇 종료·삭제 제외)",
        "answer_rate": "응답률",
        "answer_rate_note": "상담 {consultations}건 중 {answered}건 상담원 응답",
        "business_first": "첫 응답 시간 (업무시간)",
        "clock_first": "첫 응답 시간 (경과 시간)",
        "first_note": "중앙값, 90%는 {p90} 이내 응답",
        "within": "{target} 이내 응답",
        "within_note": "상담 {consultations}건 중 {count}건, 업무시간만 계산 "
        "(경과 시간 기준 {clock})",
        "rating": "평균 만족도",
        "rating_note": "{rated}건 평가, {low_at_most}점 이하 {low}건",
        "no_rating": "평가 없음",
        "minutes": "{n}분",
        "by_day": "일별 추이",
        "per_day": "일별 상담 건수 (채널별)",
        "per_day_note": "채팅방이 열린 날 기준, 상담원이 응대하는 상담만. 음영은 휴무일 "
        "(주말, 공휴일, 회사 휴무일).",
        "holidays": "주말 외 휴무일: {days}.",
        "waits_per_day": "일별 첫 응답 시간 (업무시간, 분)",
        "waits_per_day_note": "그날 응답된 상담의 중앙값과 90번째 백분위, 업무시간 분 단위. "
        "점선은 목표. 휴무일은 음영으로 표시하고 값은 없습니다: 휴무일 문의는 다음 업무 "
        "시작을 기다리며 주별·요약 수치에 포함됩니다.",
        "day": "접수일",
        "closed": "휴무일 (주말·공휴일)",
        "channel": "채널",
        "business_minutes": "업무시간 (분)",
        "median": "중앙값",
        "p90": "90번째 백분위",
        "target": "목표",
        "by_week": "주별 추이",
        "by_week_note": "월요일 시작 주, 각 수치는 그 주 상담 기준.",
        "week": "주 (월요일)",
        "rooms": "채팅방",
        "answered": "응답",
        "median_business": "첫 응답 중앙값 (업무시간)",
        "p90_business": "90% (업무시간)",
        "median_clock": "중앙값 (경과 시간)",
        "within_short": "{target} 이내",
        "average_rating": "평균 만족도",
        "outcomes": "채팅방 처리 결과",
        "outcomes_note": "채팅방마다 한 열에만 들어갑니다.",
        "closed_unanswered": "미응답 종료",
        "open_unanswered": "미응답 진행 중",
        "chatbot_only": "챗봇 종료",
        "deleted": "삭제",
        "total": "합계",
        "agents": "상담원별",
        "agents_note": "상담원별 마지막 담당 상담 (해피톡 counselor_name).",
        "agent": "상담원",
        "rated": "평가",
        "low_rated": "{low_at_most}점 이하",
        "ratings": "만족도",
        "ratings_note": "점수별 상담 건수, 척도를 벗어난 평가({out_of_scale}건)는 제외.",
        "score": "점수",
        "heat_map": "고객 문의 시간대 ({zone} 기준)",
        "heat_map_note": "요일과 시간대별 고객 메시지 수, {zone} 기준, 모든 채팅방 포함.",
        "weekday": "요일",
        "hour": "시",
        "messages": "고객 메시지",
        "details": "상세",
        "handling": "처리 시간 중앙값 (첫 응답부터 종료까지): 업무시간 {median} (90% {p90}), "
        "종료된 상담 {count}건 기준.",
        "still_open": "마지막 수집 시 진행 중: 미응답 {unanswered}건, 응답 {answered}건.",
    },
}


def words(language: str) -> dict[str, str]:
    """The report's labels in `language` (en or ko)."""
    if language not in TEXT:
        raise ValueError(f"the report speaks {' or '.join(LANGUAGES)}, not {language!r}")
    return TEXT[language]


def target_words(target_minutes: float, language: str) -> str:
    """`10 min` / `10분`; whole minutes without a decimal point."""
    number = f"{target_minutes:g}"
    return words(language)["minutes"].format(n=number)


def duration_ko(seconds: float | None) -> str:
    """`95` -> `1분 35초`; `-` for none."""
    if seconds is None:
        return "-"
    days, hours, minutes, secs = _units_of(seconds)
    if days:
        return f"{days}일 {hours}시간 {minutes}분"
    if hours:
        return f"{hours}시간 {minutes}분"
    if minutes:
        return f"{minutes}분 {secs}초"
    return f"{secs}초"


def said(seconds: float | None, language: str) -> str:
    """A duration in `language`."""
    return duration_ko(seconds) if language == "ko" else duration(seconds)


# --- what the report reads beyond the summary -------------------------------------------------


@dataclass(frozen=True)
class Headline:
    """The figures at the top of the report, for the whole period."""

    rooms: int
    consultations: int
    answered: int
    within_target: int  # consultations answered within the target, business time
    within_target_clock: int  # the same on the clock


@dataclass(frozen=True)
class Day:
    """A day of the period: whether the team worked, what was asked and how fast answered."""

    day: str
    is_open: bool
    closed_because: str | None  # a holiday's or day off's name; None on weekends, open days


def read_headline(connection: duckdb.DuckDBPyConnection, target_seconds: float) -> Headline:
    """The period's room and consultation counts, and how many were answered within target."""
    row = connection.execute(
        f"""
        select
            count(*),
            count(case when is_consultation then 1 end),
            count(case when is_answered then 1 end),
            count(case when is_answered and first_response_business_seconds <= $target then 1 end),
            count(case when is_answered and first_response_seconds <= $target then 1 end)
        from {SCHEMA}.room_response_times
        """,  # noqa: S608 - a constant schema name
        {"target": target_seconds},
    ).fetchone()
    if row is None:
        raise DbtBuildError(f"{SCHEMA}.room_response_times answered nothing")
    return Headline(*(int(n) for n in row))


def read_days(connection: duckdb.DuckDBPyConnection, language: str) -> list[Day]:
    """Every day from the first room's to the last's, open or closed by the business calendar."""
    name = "holiday_name_ko" if language == "ko" else "holiday_name_en"
    rows = connection.execute(
        f"""
        with period as (
            select min(opened_date) as first_day, max(opened_date) as last_day
            from {SCHEMA}.room_response_times
        )
        select
            cast(calendar.calendar_date as varchar),
            calendar.is_business_day,
            coalesce(calendar.{name}, calendar.day_off_reason)
        from {SCHEMA}.int_happytalk__business_calendar as calendar, period
        where calendar.calendar_date between period.first_day and period.last_day
        order by 1
        """  # noqa: S608 - constant names
    ).fetchall()
    return [Day(str(day), bool(is_open), why) for day, is_open, why in rows]


def read_week_figures(
    connection: duckdb.DuckDBPyConnection, target_seconds: float
) -> list[dict[str, Any]]:
    """Per week (Monday), the consultations' figures the report's weekly table shows."""
    return _dicts(
        connection.execute(
            f"""
            select
                cast(opened_week as varchar) as week,
                count(case when is_consultation then 1 end) as consultations,
                count(case when is_answered then 1 end) as answered,
                quantile_cont(case when is_answered then first_response_business_seconds end, 0.5)
                    as median_business,
                quantile_cont(case when is_answered then first_response_business_seconds end, 0.9)
                    as p90_business,
                quantile_cont(case when is_answered then first_response_seconds end, 0.5)
                    as median_clock,
                count(
                    case when is_answered and first_response_business_seconds <= $target then 1 end
                ) as within_target,
                avg(case when is_consultation then rating end) as average_rating
            from {SCHEMA}.room_response_times
            group by opened_week
            order by opened_week
            """,  # noqa: S608 - a constant schema name
            {"target": target_seconds},
        )
    )


def read_agents(
    connection: duckdb.DuckDBPyConnection, target_seconds: float, low_at_most: int
) -> list[dict[str, Any]]:
    """Per agent, busiest first: consultations, answers, waits, target share, ratings."""
    return _dicts(
        connection.execute(
            f"""
            select
                agent_name as agent,
                max(agent_nickname) as nickname,
                count(*) as consultations,
                count(case when is_answered then 1 end) as answered,
                quantile_cont(case when is_answered then first_response_business_seconds end, 0.5)
                    as median_business,
                quantile_cont(case when is_answered then first_response_seconds end, 0.5)
                    as median_clock,
                count(
                    case when is_answered and first_response_business_seconds <= $target then 1 end
                ) as within_target,
                count(rating) as rated,
                avg(rating) as average_rating,
                count(case when rating <= $low then 1 end) as low_rated
            from {SCHEMA}.room_response_times
            where is_consultation and agent_name is not null
            group by agent_name
            order by count(*) desc, agent_name
            """,  # noqa: S608 - a constant schema name
            {"target": target_seconds, "low": low_at_most},
        )
    )


def _dicts(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [column[0] for column in cursor.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# --- the charts ---------------------------------------------------------------------------------

CHART_WIDTH = 860
CHART_HEIGHT = 220
SCHEMA_URL = "https://vega.github.io/schema/vega-lite/v5.json"
CLOSED_COLOR = "#e4e4e4"


def day_axis(days: list[Day], language: str) -> dict[str, Any]:
    """An x encoding over every day of the period, labelled on Mondays and the first day only."""
    labelled = [day.day for index, day in enumerate(days) if index == 0 or _weekday(day) == 0]
    pattern = "%-m월 %-d일" if language == "ko" else "%b %-d"
    return {
        "field": "day",
        "type": "ordinal",
        "title": words(language)["day"],
        "scale": {"domain": [day.day for day in days]},
        # Every day has a label, empty but on the days named: an axis given `values` drops its
        # first one at some widths (vl-convert 1.x).
        "axis": {
            "labelAngle": 0,
            "labelOverlap": False,
            "labelExpr": (
                f"indexof({json.dumps(labelled)}, datum.value) >= 0 "
                f"? utcFormat(toDate(datum.value), '{pattern}') : ''"
            ),
            "ticks": False,
        },
    }


def _weekday(day: Day) -> int:
    return dt.date.fromisoformat(day.day).weekday()


def closed_layer(days: list[Day], language: str, x: dict[str, Any]) -> dict[str, Any]:
    """Grey bands over the closed days, with a legend entry saying what they are."""
    label = words(language)["closed"]
    return {
        "data": {"values": [{"day": day.day, "kind": label} for day in days if not day.is_open]},
        "mark": {"type": "rect", "opacity": 0.8},
        "encoding": {
            "x": x,
            "y": {"value": 0},
            "y2": {"value": CHART_HEIGHT},
            "fill": {
                "field": "kind",
                "type": "nominal",
                "scale": {"range": [CLOSED_COLOR]},
                "legend": {"title": None, "orient": "top"},
            },
        },
    }


def chart_specs(  # noqa: PLR0913 - what the charts draw
    connection: duckdb.DuckDBPyConnection,
    scale: list[int],
    days: list[Day],
    target_minutes: float,
    *,
    language: str,
    zone: str,
) -> dict[str, Any]:
    """The report's Vega-Lite charts, by figure id, with their data inline."""
    text = words(language)
    label = "channel_label_ko" if language == "ko" else "channel_label"
    per_channel = [
        {"day": str(day), "channel": str(channel), "consultations": int(count)}
        for day, channel, count in connection.execute(
            f"""
            select cast(opened_date as varchar), coalesce({label}, 'unknown'), consultations
            from {SCHEMA}.consultations_per_day
            where consultations > 0
            order by 1, out_api
            """  # noqa: S608 - constant names
        ).fetchall()
    ]
    channels = [  # in the channels' code order, so both languages colour them alike
        str(channel)
        for (channel,) in connection.execute(
            f"""
            select coalesce({label}, 'unknown') from {SCHEMA}.consultations_per_day
            where consultations > 0 group by 1 order by min(out_api)
            """  # noqa: S608 - constant names
        ).fetchall()
    ]
    open_days = {day.day for day in days if day.is_open}
    waits = []
    for day, median, p90 in connection.execute(
        f"""
        select cast(opened_date as varchar), median_first_response_business_seconds,
            p90_first_response_business_seconds
        from {SCHEMA}.consultations_per_day_all_channels
        where answered_consultations > 0
        order by 1
        """  # noqa: S608 - a constant schema name
    ).fetchall():
        if str(day) in open_days:
            waits.append({"day": str(day), "figure": text["median"], "minutes": float(median) / 60})
            waits.append({"day": str(day), "figure": text["p90"], "minutes": float(p90) / 60})
    rated = dict(
        connection.execute(
            f"""
            select rating, count(*) from {SCHEMA}.room_response_times
            where is_consultation and rating is not null group by rating
            """  # noqa: S608 - a constant schema name
        ).fetchall()
    )
    ratings = [
        {"score": f"{score}", "consultations": int(rated.get(score, 0))}
        for score in range(scale[1], scale[0] - 1, -1)
    ]
    written = {
        (int(weekday), int(hour)): int(count)
        for weekday, hour, count in connection.execute(
            f"""
            select sent_iso_weekday, sent_hour, sum(customer_messages)
            from {SCHEMA}.customer_messages_per_hour group by 1, 2
            """  # noqa: S608 - a constant schema name
        ).fetchall()
    }
    names = WEEKDAYS_KO if language == "ko" else WEEKDAYS
    heat = [
        {"weekday": names[day - 1], "hour": hour, "messages": written.get((day, hour), 0)}
        for day in range(1, 8)
        for hour in range(24)
    ]
    x = day_axis(days, language)
    common = {"$schema": SCHEMA_URL, "config": {"font": CHART_FONT}}
    return {
        "consultations-per-day": {
            **common,
            "width": CHART_WIDTH,
            "height": CHART_HEIGHT,
            "layer": [
                closed_layer(days, language, x),
                {
                    "data": {"values": per_channel},
                    "mark": "bar",
                    "encoding": {
                        "x": x,
                        "y": {
                            "field": "consultations",
                            "type": "quantitative",
                            "stack": "zero",
                            "title": None,
                            "axis": {"tickMinStep": 1, "format": "d"},
                        },
                        "color": {
                            "field": "channel",
                            "type": "nominal",
                            "title": text["channel"],
                            "sort": channels,
                            "scale": {"domain": channels},
                            "legend": {"orient": "top"},
                        },
                    },
                },
            ],
            "resolve": {"legend": {"fill": "independent", "color": "independent"}},
        },
        "first-response-per-day": {
            **common,
            "width": CHART_WIDTH,
            "height": CHART_HEIGHT,
            "layer": [
                closed_layer(days, language, x),
                {
                    "data": {"values": waits},
                    "mark": {"type": "line", "point": True},
                    "encoding": {
                        "x": x,
                        "y": {
                            "field": "minutes",
                            "type": "quantitative",
                            "title": None,
                        },
                        "color": {
                            "field": "figure",
                            "type": "nominal",
                            "title": None,
                            "sort": [text["median"], text["p90"]],
                            "legend": {"orient": "top"},
                        },
                    },
                },
                {
                    "data": {"values": [{"minutes": target_minutes, "what": text["target"]}]},
                    "mark": {"type": "rule", "strokeDash": [6, 4], "color": "#b03030"},
                    "encoding": {"y": {"field": "minutes", "type": "quantitative"}},
                },
            ],
            "resolve": {"legend": {"fill": "independent", "color": "independent"}},
        },
        "ratings": {
            **common,
            "width": 360,
            "height": 30 * (scale[1] - scale[0] + 1),
            "data": {"values": ratings},
            "mark": "bar",
            "encoding": {
                "y": {
                    "field": "score",
                    "type": "ordinal",
                    "sort": None,
                    "title": text["score"],
                    "axis": {"labelAngle": 0, "titleAngle": 0, "titleAlign": "right"},
                },
                "x": {
                    "field": "consultations",
                    "type": "quantitative",
                    "title": text["rated"],
                    "axis": {"tickMinStep": 1, "format": "d"},
                },
            },
        },
        "customer-messages-heat-map": {
            **common,
            "width": CHART_WIDTH,
            "height": 180,
            "data": {"values": heat},
            "mark": "rect",
            "encoding": {
                "x": {
                    "field": "hour",
                    "type": "ordinal",
                    "title": f"{text['hour']} ({zone})",
                    "axis": {"labelAngle": 0},
                },
                "y": {
                    "field": "weekday",
                    "type": "ordinal",
                    "sort": list(names),
                    "title": None,
                },
                "color": {
                    "field": "messages",
                    "type": "quantitative",
                    "title": text["messages"],
                    "scale": {"range": ["#f7fbff", "#08306b"]},
                },
            },
        },
    }


# --- the page -----------------------------------------------------------------------------------

STYLE = """
* { box-sizing: border-box; }
body { font-family: FONTS; margin: 0; padding: 1.5rem 2rem; max-width: 72rem; color: #222;
  line-height: 1.45; }
h1 { margin: 0 0 0.25rem; font-size: 1.6rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 0.5rem; border-bottom: 1px solid #ddd; }
h3 { font-size: 1rem; margin: 1.25rem 0 0.25rem; }
p { margin: 0.25rem 0; }
.muted, figcaption, .note { color: #555; font-size: 0.9rem; }
.cards { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 0.75rem;
  margin: 1rem 0; }
@media (max-width: 50rem) { .cards { grid-template-columns: minmax(0, 1fr); } }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 0.6rem 0.8rem; min-width: 0; }
.card .label { font-size: 0.85rem; color: #444; }
.card .value { font-size: 1.7rem; font-weight: 600; }
.card .note { font-size: 0.8rem; overflow-wrap: anywhere; }
figure { margin: 1rem 0 1.5rem; max-width: 100%; }
figure svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; font-size: 0.9rem; margin: 0.5rem 0; }
th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #eee; text-align: right; }
td { white-space: nowrap; }
th { font-weight: 600; vertical-align: bottom; }
th:first-child, td:first-child { text-align: left; }
ul { padding-left: 1.25rem; }
""".replace("FONTS", FONTS)


def write_report(
    built: Build,
    path: Path,
    *,
    target_minutes: float = TARGET_MINUTES,
    language: str = "en",
) -> Path:
    """Write the HTML report (charts as inline SVG, no script, nothing fetched) to `path`."""
    text = words(language)
    variables = built.variables or project_variables()
    scale = [int(n) for n in variables.get("happytalk_rating_scale", [1, 5])]
    low_at_most = int(variables.get("happytalk_low_rating_at_most", 2))
    zone = str(variables.get("happytalk_reporting_timezone", "Asia/Seoul"))
    target_seconds = target_minutes * 60
    with duckdb.connect(str(built.database), read_only=True) as connection:
        days = read_days(connection, language)
        specs = chart_specs(connection, scale, days, target_minutes, language=language, zone=zone)
        overall = read_overall(connection, low_at_most)
        headline = read_headline(connection, target_seconds)
        weeks = read_weeks(connection)
        week_figures = read_week_figures(connection, target_seconds)
        agents = read_agents(connection, target_seconds, low_at_most)
    charts = {key: vl_convert.vegalite_to_svg(spec) for key, spec in specs.items()}
    target = target_words(target_minutes, language)
    generated = dt.datetime.now(tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    e = html.escape
    body = [
        f"<h1>{e(text['title'])}</h1>",
        '<p class="muted">'
        + e(
            text["period"].format(
                first=overall.first_day or "-", last=overall.last_day or "-", zone=zone
            )
        )
        + " "
        + e(text["hours"].format(hours=business_hours(variables, language)))
        + "</p>",
        _cards(overall, headline, target, scale, low_at_most, language=language),
        f"<h2>{e(text['by_day'])}</h2>",
        _figure(
            "consultations-per-day",
            text["per_day"],
            text["per_day_note"] + _holidays(days, language),
            charts,
        ),
        _figure(
            "first-response-per-day", text["waits_per_day"], text["waits_per_day_note"], charts
        ),
        f'<section id="weeks"><h2>{e(text["by_week"])}</h2>',
        f'<p class="note">{e(text["by_week_note"])}</p>',
        _week_table(week_figures, target, language),
        "</section>",
        f'<section id="agents"><h2>{e(text["agents"])}</h2>',
        f'<p class="note">{e(text["agents_note"])}</p>',
        _agent_table(agents, target, low_at_most, language),
        "</section>",
        f"<h2>{e(text['ratings'])}</h2>",
        _figure(
            "ratings",
            text["ratings"],
            text["ratings_note"].format(out_of_scale=overall.out_of_scale),
            charts,
        ),
        f"<h2>{e(text['heat_map'].format(zone=zone))}</h2>",
        _figure(
            "customer-messages-heat-map",
            text["heat_map"].format(zone=zone),
            text["heat_map_note"].format(zone=zone),
            charts,
        ),
        f'<section id="details"><h2>{e(text["details"])}</h2>',
        f"<h3>{e(text['outcomes'])}</h3>",
        f'<p class="note">{e(text["outcomes_note"])}</p>',
        _outcome_table(weeks, language),
        "<ul>",
        "<li>"
        + e(
            text["handling"].format(
                median=said(overall.handling[0], language),
                p90=said(overall.handling[1], language),
                count=overall.handled,
            )
        )
        + "</li>",
        "<li>"
        + e(
            text["still_open"].format(
                unanswered=overall.open_unanswered, answered=overall.open_answered
            )
        )
        + "</li>",
        f"<li>{e(data_checks(built.statuses, language))}</li>",
        "</ul>",
        '<p class="muted">'
        + e(text["source"].format(database=built.database.name, generated=generated))
        + "</p>",
        "</section>",
    ]
    document = (
        "<!DOCTYPE html>\n"
        f'<html lang="{language}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{e(text['title'])}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document, encoding="utf-8")
    return path


def _holidays(days: list[Day], language: str) -> str:
    """` Closed in the period besides weekends: 2024-01-01 New Year's Day.`, or nothing."""
    named = [f"{day.day} {day.closed_because}" for day in days if day.closed_because]
    return " " + words(language)["holidays"].format(days=", ".join(named)) if named else ""


def _figure(figure_id: str, title: str, caption: str, charts: dict[str, str]) -> str:
    e = html.escape
    heading = (
        "" if figure_id in {"ratings", "customer-messages-heat-map"} else f"<h3>{e(title)}</h3>\n"
    )
    return (
        f'<figure id="{figure_id}">\n{heading}{charts[figure_id]}\n'
        f"<figcaption>{e(caption)}</figcaption>\n</figure>"
    )


def _card(card_id: str, label: str, value: str, note: str) -> str:
    e = html.escape
    return (
        f'<div class="card" id="{card_id}"><div class="label">{e(label)}</div>'
        f'<div class="value">{e(value)}</div><div class="note">{e(note)}</div></div>'
    )


def _cards(  # noqa: PLR0913 - the headline's figures
    overall: Overall,
    headline: Headline,
    target: str,
    scale: list[int],
    low_at_most: int,
    *,
    language: str,
) -> str:
    text = words(language)
    consultations = headline.consultations
    share = headline.within_target / consultations if consultations else None
    clock_share = headline.within_target_clock / consultations if consultations else None
    rate = headline.answered / consultations if consultations else None
    rating = (
        text["no_rating"]
        if overall.average_rating is None
        else f"{overall.average_rating:.1f} / {scale[1]}"
    )
    cards = [
        _card(
            "consultations",
            text["consultations"],
            f"{consultations:,}",
            text["consultations_note"].format(rooms=headline.rooms),
        ),
        _card(
            "answer-rate",
            text["answer_rate"],
            percent(rate),
            text["answer_rate_note"].format(
                answered=headline.answered, consultations=consultations
            ),
        ),
        _card(
            "first-response-business",
            text["business_first"],
            said(overall.first_response[0], language),
            text["first_note"].format(p90=said(overall.first_response[1], language)),
        ),
        _card(
            "first-response-clock",
            text["clock_first"],
            said(overall.first_response_clock[0], language),
            text["first_note"].format(p90=said(overall.first_response_clock[1], language)),
        ),
        _card(
            "within-target",
            text["within"].format(target=target),
            percent(share),
            text["within_note"].format(
                count=headline.within_target,
                consultations=consultations,
                clock=percent(clock_share),
            ),
        ),
        _card(
            "average-rating",
            text["rating"],
            rating,
            text["rating_note"].format(
                rated=overall.rated, low=overall.low_rated, low_at_most=low_at_most
            ),
        ),
    ]
    return '<div class="cards" id="headline">\n' + "\n".join(cards) + "\n</div>"


def _table(table_id: str, header: list[str], rows: list[list[str]]) -> str:
    e = html.escape
    head = "".join(f"<th>{e(cell)}</th>" for cell in header)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{e(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return (
        f'<table id="{table_id}">\n<thead><tr>{head}</tr></thead>\n'
        f"<tbody>\n{body}\n</tbody>\n</table>"
    )


def _share(count: int, total: int) -> str:
    return percent(count / total if total else None)


def _rating(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _week_table(weeks: list[dict[str, Any]], target: str, language: str) -> str:
    text = words(language)
    header = [
        text["week"],
        text["consultations"],
        text["answered"],
        text["answer_rate"],
        text["median_business"],
        text["p90_business"],
        text["median_clock"],
        text["within_short"].format(target=target),
        text["average_rating"],
    ]
    rows = [
        [
            week["week"],
            str(week["consultations"]),
            str(week["answered"]),
            _share(week["answered"], week["consultations"]),
            said(week["median_business"], language),
            said(week["p90_business"], language),
            said(week["median_clock"], language),
            _share(week["within_target"], week["consultations"]),
            _rating(week["average_rating"]),
        ]
        for week in weeks
    ]
    return _table("week-table", header, rows)


def _agent_table(agents: list[dict[str, Any]], target: str, low_at_most: int, language: str) -> str:
    text = words(language)
    header = [
        text["agent"],
        text["consultations"],
        text["answered"],
        text["median_business"],
        text["median_clock"],
        text["within_short"].format(target=target),
        text["rated"],
        text["average_rating"],
        text["low_rated"].format(low_at_most=low_at_most),
    ]
    rows = [
        [
            f"{agent['nickname']} ({agent['agent']})" if agent["nickname"] else agent["agent"],
            str(agent["consultations"]),
            str(agent["answered"]),
            said(agent["median_business"], language),
            said(agent["median_clock"], language),
            _share(agent["within_target"], agent["consultations"]),
            str(agent["rated"]),
            _rating(agent["average_rating"]),
            str(agent["low_rated"]),
        ]
        for agent in agents
    ]
    return _table("agent-table", header, rows)


def _outcome_table(weeks: list[Week], language: str) -> str:
    text = words(language)
    header = [
        text["week"],
        text["rooms"],
        text["answered"],
        text["closed_unanswered"],
        text["open_unanswered"],
        text["chatbot_only"],
        text["deleted"],
        text["answer_rate"],
    ]
    rows = [
        [week.week, str(week.rooms), *(str(n) for n in week.outcomes), percent(week.answer_rate)]
        for week in weeks
    ]
    totals = [sum(week.outcomes[i] for week in weeks) for i in range(len(OUTCOMES))]
    consultations = sum(totals[:3])
    rows.append(
        [
            text["total"],
            str(sum(week.rooms for week in weeks)),
            *(str(n) for n in totals),
            _share(totals[0], consultations),
        ]
    )
    return _table("outcome-table", header, rows)


def main() -> None:
    """`python scripts/analytics.py JSONL_DIR`: build, print the summary, write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("jsonl_dir", type=Path, help="directory of target-jsonl's files")
    parser.add_argument(
        "--target-minutes",
        type=float,
        default=TARGET_MINUTES,
        help=f"first response counted as on time, in minutes (default {TARGET_MINUTES:g})",
    )
    parser.add_argument(
        "--language", choices=LANGUAGES, default="en", help="the report's language (default en)"
    )
    arguments = parser.parse_args()
    if arguments.target_minutes <= 0:
        parser.error("--target-minutes must be more than 0")
    try:
        print(
            summarize(
                arguments.jsonl_dir,
                target_minutes=arguments.target_minutes,
                language=arguments.language,
            )
        )
    except (FileNotFoundError, DbtBuildError) as error:
        sys.exit(f"analytics: {error}")


if __name__ == "__main__":
    main()
