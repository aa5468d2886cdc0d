"""Long work shows progress: a line an interval and one at the end, not one per window.

End to end over HTTP (the local server, the tap as a subprocess), with the clock of the
progress lines injected by a launcher (`LAUNCHER`): each look at it is one second later, so
which lines come and what they say does not depend on how fast this machine is. Also: the
WARNING for a range of more than a year and for a `start_date` in the future, and the line
for rooms read unsettled but too old to be read again.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest

from local_happytalk.server import LocalHappyTalk, sample_events
from tap_happytalk.progress_log import ProgressLog, duration

from .conftest import FIRST_DAY, TapRun, parse_messages, tap_env, write_json
from .test_chats import CHATS, ROOMS, catalog_file, config_for, sent, serve

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.timeout(120)

# The tap's CLI with the progress lines' clock moved one second at each look, and their
# interval from argv[1].
LAUNCHER = """
import itertools, sys
import tap_happytalk.progress_log as progress_log
ticks = itertools.count()
progress_log.clock = lambda: float(next(ticks))
progress_log.EVERY_SECONDS = float(sys.argv.pop(1))
from tap_happytalk.tap import TapHappyTalk
sys.argv[0] = "tap-happytalk"
TapHappyTalk.cli()
"""
HISTORY_LINE = re.compile(
    r"service_history: (\d+) of 429 days read \((\d+)%\), (\d+) requests \(([\d,]+) a "
    r"minute\), about (.+) left$"
)
# The end line's level found: the allowance at the end, and its peak (adaptive, the default).
IN_FLIGHT = r", \d+ in flight \(peak \d+\)"


def run_ticking(
    tmp_path: Path, config: dict[str, Any], every: float, args: tuple[str, ...] = ()
) -> TapRun:
    """The tap, its progress clock one second a look and its lines every `every` looks."""
    command = [sys.executable, "-c", LAUNCHER, str(every)]
    command += ["--config", str(write_json(tmp_path / "config.json", config)), *args]
    done = subprocess.run(
        command, capture_output=True, text=True, env=tap_env(), timeout=100, check=False
    )
    return TapRun(done.returncode, done.stdout, done.stderr, parse_messages(done.stdout))


def said(run: TapRun, level: str = "INFO") -> list[str]:
    """What the run logged at `level`, without the time and the logger's name."""
    return [
        line.split(" | ", 3)[3]
        for line in run.stderr.splitlines()
        if f"| {level} " in line and "METRIC" not in line
    ]


def history_config(server: LocalHappyTalk, start: str, end: str) -> dict[str, Any]:
    return {"token": server.token, "api_url": server.url, "start_date": start, "end_date": end}


def test_a_backfill_of_more_than_a_year_warns_then_says_a_line_an_interval(tmp_path):
    with LocalHappyTalk(sample_events(FIRST_DAY, 3, 4)) as server:
        config = {
            **history_config(server, "2023-01-01", "2024-03-05"),
            "max_requests_per_minute": 6000,
        }
        run = run_ticking(tmp_path, config, every=100)
        asked = len(server.requests)

    assert run.returncode == 0, run.stderr
    assert len(run.records) == 12
    assert said(run, "WARNING") == [
        (
            "service_history: 2023-01-01 00:00 to 2024-03-05 00:00 (Asia/Seoul) is 429 days, "
            "more than a year: at least 429 requests, one a window, which take at least 4 s at "
            "max_requests_per_minute (6,000); the progress lines say the time left as it goes. "
            "A later start_date (or an end_date) narrows it"
        )
    ]
    info = said(run)
    # No line per window at INFO any more: the run says a dozen lines in all.
    assert not [line for line in info if line.startswith("Window ")]
    assert len(info) < 20, info
    lines = [match for line in info if (match := HISTORY_LINE.search(line))]
    # The clock is at k when the k-th window is done: a line every 100 windows.
    assert [int(match[1]) for match in lines] == [100, 200, 300, 400]
    assert [int(match[2]) for match in lines] == [23, 46, 69, 93]
    assert [match[5] for match in lines] == ["5 min 29 s", "3 min 49 s", "2 min 09 s", "29 s"]
    for match in lines:
        done, requests, per_minute = int(match[1]), int(match[3]), match[4]
        assert done <= requests <= asked
        assert per_minute == f"{round(requests * 60 / done):,}"
    last = (
        f"service_history: 429 of 429 days read, {asked} requests in 7 min 10 s "
        f"({round(asked * 60 / 430):,} a minute)"
    )
    assert [line for line in info if line.startswith(last)] != []
    assert [line for line in info if re.fullmatch(re.escape(last) + IN_FLIGHT, line)] != []


def test_a_short_run_says_only_its_last_line(tmp_path, happytalk, config):
    run = run_ticking(tmp_path, config, every=30)  # the default interval, not reached here
    assert run.returncode == 0, run.stderr
    progress = [line for line in said(run) if line.startswith("service_history: ")]
    # 10 answers are not a round: the level is the start, 4, as it was.
    last = "service_history: 10 of 10 days read, 10 requests in 11 s (55 a minute)"
    assert progress == [f"{last}, 4 in flight (peak 4)"]
    assert not said(run, "WARNING")


def test_the_default_interval_is_30_seconds_of_wall_time(tmp_path, happytalk, config):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tap_happytalk",
            "--config",
            str(write_json(tmp_path / "c", config)),
        ],
        capture_output=True,
        text=True,
        env=tap_env(),
        timeout=100,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    progress = [line for line in done.stderr.splitlines() if "days read" in line]
    assert len(progress) == 1
    assert re.search(r"service_history: 10 of 10 days read, 10 requests in \d+ s \(", progress[0])
    assert "records (" not in done.stderr  # the per-window line is DEBUG now


def test_a_start_date_in_the_future_is_a_warning_and_nothing_is_asked(tmp_path):
    with serve() as server:
        config = config_for(server, start=dt.date(2099, 1, 1), days=31)
        catalog = catalog_file(tmp_path, {"service_history", *CHATS})
        run = run_ticking(tmp_path, config, every=30, args=("--catalog", str(catalog)))
        asked = list(server.requests)

    assert run.returncode == 0, run.stderr
    assert asked == []
    assert said(run, "WARNING") == [
        f"{stream}: start_date 2099-01-01 00:00 (Asia/Seoul) is in the future: nothing is "
        "extracted until then; check the start_date setting"
        for stream in ("service_history", ROOMS)
    ]
    assert not [line for line in said(run) if "Nothing to extract" in line]


def test_a_chat_backfill_of_more_than_a_year_warns_in_room_lists_and_rooms(tmp_path):
    with serve() as server:
        closed_rated(server, "2024-03-01 10:00:00")
        config = config_for(server, start=dt.date(2023, 1, 1), days=429)
        catalog = catalog_file(tmp_path, CHATS)
        run = run_ticking(tmp_path, config, every=1_000, args=("--catalog", str(catalog)))

    assert run.returncode == 0, run.stderr
    assert len(sent(run, ROOMS)) == 1
    assert said(run, "WARNING") == [
        (
            "chat_rooms: 2023-01-01 00:00 to 2024-03-05 00:00 (Asia/Seoul) is 429 days, more "
            "than a year: at least 429 requests for the days' room lists, and one more for "
            "every room; the progress lines say the time left as it goes. A later start_date "
            "(or an end_date) narrows it"
        )
    ]
    info = said(run)
    assert len(info) < 20, info  # no line per day
    # The clock looked at once per day and once for the room: 430, then 431 at the end.
    last = "chat_rooms: 429 of 429 days read, 430 requests in 7 min 11 s (60 a minute)"
    progress = [line for line in info if " days read" in line]
    assert len(progress) == 1
    assert re.fullmatch(re.escape(last) + IN_FLIGHT, progress[0]), progress


def closed_rated(server: LocalHappyTalk, opened: str) -> str:
    room = server.chats.add_room(reg_date=opened, status="2", complate_date=opened)
    server.chats.rate_room(room, 5)
    return room


def test_a_chat_backfill_says_its_days_and_the_rooms_too_old_to_read_again(tmp_path):
    with serve() as server:
        for day in ("2024-03-01", "2024-03-02", "2024-03-03"):
            closed_rated(server, f"{day} 10:00:00")
            closed_rated(server, f"{day} 11:00:00")
        server.chats.add_room(reg_date="2024-03-01 12:00:00", status="1")  # still open
        server.chats.add_room(reg_date="2024-03-03 12:00:00", status="0")  # waiting for intake
        unrated = server.chats.add_room(reg_date="2024-03-02 12:00:00", status="2")
        server.chats.update_room(unrated, complate_date="2024-03-02 12:30:00")  # settled by now
        config = config_for(server, days=3)
        catalog = catalog_file(tmp_path, CHATS)
        # A line every 4 looks at the clock: one per room read and one per day.
        run = run_ticking(tmp_path, config, every=4, args=("--catalog", str(catalog)))
        asked = len(server.requests)

    assert run.returncode == 0, run.stderr
    assert len(sent(run, ROOMS)) == 9
    info = said(run)
    assert not [line for line in info if line.startswith("Rooms of ")]
    progress = [line for line in info if re.match(r"chat_rooms: \d of 3 days read", line)]
    # The clock is at 4, 8, 12 when each day is done (a look per room, three rooms a day).
    interval = r"chat_rooms: {} of 3 days read \({}%\), \d+ requests \([\d,]+ a minute\), {}$"
    assert len(progress) == 4, progress
    for line, words in zip(
        progress,
        [
            ("1", "33", "about 8 s left"),
            ("2", "66", "about 4 s left"),
            ("3", "100", "about 0 s left"),
        ],
        strict=False,
    ):
        assert re.match(interval.format(*words), line), line
    per_minute = round(asked * 60 / 13)
    last = f"chat_rooms: 3 of 3 days read, {asked} requests in 13 s ({per_minute:,} a minute)"
    assert re.fullmatch(re.escape(last) + IN_FLIGHT, progress[-1]), progress[-1]
    assert (
        "chat_rooms: 2 rooms read were still open (or closed and not yet rated) but opened "
        "open_room_recheck_days (7) ago or more: sent as they are now, not read again; a "
        "larger open_room_recheck_days reads such rooms again"
    ) in info
    assert run.states[-1]["bookmarks"][ROOMS]["ask_again"] == []


# --- the line itself, without a run ------------------------------------------------------------


class Ticking:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_lines_say_days_requests_rate_and_time_left(monkeypatch, caplog):
    clock = Ticking()
    monkeypatch.setattr("tap_happytalk.progress_log.clock", clock)
    monkeypatch.setattr("tap_happytalk.progress_log.EVERY_SECONDS", 30.0)
    requests = [0]
    day = dt.date(2024, 3, 1)
    days = [day + dt.timedelta(days=n) for n in range(4)]
    log = ProgressLog("service_history", [*days, days[0]], lambda: requests[0], _logger(caplog))
    clock.now, requests[0] = 29.0, 12
    log.unit_done(days[0])  # one of two windows of the first day: not a day yet, nor 30 s
    clock.now = 30.0
    log.unit_done(days[0])
    clock.now, requests[0] = 59.0, 30
    log.unit_done(days[1])
    clock.now = 65.0
    log.tick()
    clock.now, requests[0] = 7_500.0, 40
    log.end()
    assert [record.getMessage() for record in caplog.records] == [
        "service_history: 1 of 4 days read (25%), 12 requests (24 a minute), about 1 min 30 s left",
        "service_history: 2 of 4 days read (50%), 30 requests (28 a minute), about 1 min 05 s left",
        "service_history: 2 of 4 days read, 40 requests in 2 h 05 min (0 a minute)",
    ]


def test_the_last_line_says_the_level_in_flight_the_run_found(monkeypatch, caplog):
    clock = Ticking()
    monkeypatch.setattr("tap_happytalk.progress_log.clock", clock)
    day = dt.date(2024, 3, 1)
    log = ProgressLog(ROOMS, [day], lambda: 40, _logger(caplog), in_flight=lambda: (12, 16))
    clock.now = 20.0
    log.unit_done(day)
    log.end()
    assert [record.getMessage() for record in caplog.records] == [
        "chat_rooms: 1 of 1 days read, 40 requests in 20 s (120 a minute), 12 in flight (peak 16)"
    ]


def test_before_any_day_is_read_the_time_left_is_not_known(monkeypatch, caplog):
    clock = Ticking()
    monkeypatch.setattr("tap_happytalk.progress_log.clock", clock)
    log = ProgressLog(ROOMS, [dt.date(2024, 3, 1)], lambda: 3, _logger(caplog))
    clock.now = 31.0
    log.tick()
    assert caplog.records[0].getMessage() == (
        "chat_rooms: 0 of 1 days read (0%), 3 requests (6 a minute), time left not known yet"
    )


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0.4, "0 s"),
        (59.6, "1 min 00 s"),
        (605, "10 min 05 s"),
        (3_660, "1 h 01 min"),
        (90_000, "1 d 1 h"),
    ],
)
def test_durations_read_in_two_units_at_most(seconds, words):
    assert duration(seconds) == words


def _logger(caplog: pytest.LogCaptureFixture) -> logging.Logger:
    caplog.set_level(logging.INFO, logger="test_progress_lines")
    return logging.getLogger("test_progress_lines")
