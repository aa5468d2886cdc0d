"""The main job end to end: sample HappyTalk data through `meltano run` into output/, then dbt.

Starts the local HappyTalk-compatible server on 127.0.0.1 with a month of sample events and
consultation rooms (with their messages), runs `meltano run tap-happytalk target-jsonl` against
it (meltano.yml selects all three streams), and says how many records of each stream landed
where. Then builds the dbt models in transform/ on DuckDB over them and prints what a support
lead reads first (scripts/analytics.py), and writes the charts to output/report.html.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

from analytics import summarize  # scripts/analytics.py, beside this file

from local_happytalk.chats import CHAT_DATA_PATH, CHAT_ROOM_LISTS_PATH, sample_rooms
from local_happytalk.server import LocalHappyTalk, sample_events

PROJECT = Path(__file__).resolve().parent.parent
OUTPUT = PROJECT / "output"
STREAMS = ("service_history", "chat_rooms", "chat_messages")
FIRST_DAY = dt.date(2024, 1, 1)
DAYS = 31
PER_DAY = 40
ROOMS_PER_DAY = 6
MESSAGES_PER_ROOM = 8


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


def main() -> None:
    """Serve sample data, run the pipeline, report the result."""
    events = sample_events(FIRST_DAY, DAYS, PER_DAY)
    rooms = sample_rooms(FIRST_DAY, DAYS, ROOMS_PER_DAY, MESSAGES_PER_ROOM)
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
    print(summarize(OUTPUT))


if __name__ == "__main__":
    main()
