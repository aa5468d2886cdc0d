"""The main job end to end: sample HappyTalk data through `meltano run` into output/, then dbt.

Starts the local HappyTalk-compatible server on 127.0.0.1 with a month of sample events and
consultation rooms (with their messages), runs `meltano run tap-happytalk target-jsonl` against
it (meltano.yml selects all three streams), and says how many records of each stream landed
where. Then builds the dbt models in transform/ on DuckDB over them and prints what a support
lead reads first (scripts/analytics.py), and writes the report to output/report.html.

The rooms are a Korean support centre's January 2024 (`support_centre_rooms`): questions mostly
in office hours, agents answering 09:00-18:00 on working days, lighter weekends, and 1 January,
a public holiday (from the dbt package's holiday seed), closed. `--target-minutes` is the first
response the report counts as on time; `--language` (en or ko) the report's language.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

from analytics import LANGUAGES, TARGET_MINUTES, summarize  # scripts/analytics.py, beside this

from local_happytalk.chats import CHAT_DATA_PATH, CHAT_ROOM_LISTS_PATH, support_centre_rooms
from local_happytalk.server import LocalHappyTalk, sample_events

PROJECT = Path(__file__).resolve().parent.parent
OUTPUT = PROJECT / "output"
STREAMS = ("service_history", "chat_rooms", "chat_messages")
FIRST_DAY = dt.date(2024, 1, 1)
DAYS = 31
PER_DAY = 40
MESSAGES_PER_ROOM = 8
HOLIDAY_SEED = PROJECT / "transform" / "seeds" / "korean_public_holidays.csv"


def public_holidays(first_day: dt.date, days: int) -> list[dt.date]:
    """The Korean public holidays in the demo's days, as the dbt package's seed lists them."""
    last_day = first_day + dt.timedelta(days=days - 1)
    with HOLIDAY_SEED.open(encoding="utf-8", newline="") as seed:
        listed = {dt.date.fromisoformat(row["holiday_date"]) for row in csv.DictReader(seed)}
    return sorted(day for day in listed if first_day <= day <= last_day)


def meltano(*args: str, env: dict[str, str]) -> None:
    """Run a meltano command in the project, stopping the demo if it fails."""
    executable = shutil.which("meltano", path=str(Path(sys.executable).parent)) or "meltano"
    done = subprocess.run([executable, *args], cwd=PROJECT, env=env, check=False)
    if done.returncode != 0:
        sys.exit(f"demo: `meltano {' '.join(args)}` failed with exit code {done.returncode}")


def landed(stream: str) -> int:
    """How many records of `stream` target-jsonl wrote (it appends: old files are removed)."""
    path = OUTPUT / f"{stream}.jsonl"
    return len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0


def arguments() -> argparse.Namespace:
    """The demo's options: the report's target first response and its language."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--target-minutes",
        type=float,
        default=TARGET_MINUTES,
        help=f"first response counted as on time, in minutes (default {TARGET_MINUTES:g})",
    )
    parser.add_argument(
        "--language",
        choices=LANGUAGES,
        default="en",
        help="the report's language: en (English, the default) or ko (Korean)",
    )
    options = parser.parse_args()
    if options.target_minutes <= 0:
        parser.error("--target-minutes must be more than 0")
    return options


def main() -> None:
    """Serve sample data, run the pipeline, report the result."""
    options = arguments()
    events = sample_events(FIRST_DAY, DAYS, PER_DAY)
    rooms = support_centre_rooms(
        FIRST_DAY, DAYS, MESSAGES_PER_ROOM, closed_days=public_holidays(FIRST_DAY, DAYS)
    )
    served = {
        "service_history": len(events),
        "chat_rooms": len(rooms),
        "chat_messages": sum(len(room["message"]) for room in rooms),
    }
    for stream in STREAMS:
        (OUTPUT / f"{stream}.jsonl").unlink(missing_ok=True)
    with LocalHappyTalk(events, rooms=rooms) as server:
        env = {
            **os.environ,
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "TAP_HAPPYTALK_TOKEN": server.token,
            "TAP_HAPPYTALK_API_URL": server.url,
            "TAP_HAPPYTALK_START_DATE": FIRST_DAY.isoformat(),
            "TAP_HAPPYTALK_END_DATE": (FIRST_DAY + dt.timedelta(days=DAYS)).isoformat(),
        }
        print(
            f"demo: HappyTalk-compatible server on {server.url} with {served['service_history']} "
            f"events and {served['chat_rooms']} consultation rooms "
            f"({served['chat_messages']} messages)"
        )
        meltano("install", env=env)
        meltano("run", "--full-refresh", "tap-happytalk", "target-jsonl", env=env)
        paths = [request.path for request in server.requests]

    room_lists, room_reads = paths.count(CHAT_ROOM_LISTS_PATH), paths.count(CHAT_DATA_PATH)
    print(
        f"demo: {len(paths)} requests: {len(paths) - room_lists - room_reads} for service "
        f"history (one per day), {room_lists} room lists (a page per day), {room_reads} rooms"
    )
    print(f"demo: records landed in {OUTPUT.relative_to(PROJECT)}/ per stream:")
    complete = True
    for stream in STREAMS:
        count = landed(stream)
        complete = complete and count == served[stream]
        print(f"demo:   {stream:<16} {count:>5} of {served[stream]:>5}  ({stream}.jsonl)")
    if not complete:
        sys.exit("demo: the output does not hold every record")
    print("demo: the dbt models in transform/, built on DuckDB over output/:")
    print(summarize(OUTPUT, target_minutes=options.target_minutes, language=options.language))


if __name__ == "__main__":
    main()
