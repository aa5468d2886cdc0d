"""The main job end to end: sample HappyTalk data through `meltano run` into output/.

Starts the local HappyTalk-compatible server on 127.0.0.1 with a month of sample events,
runs `meltano run tap-happytalk target-jsonl` against it, and says where the records are.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

from local_happytalk.server import LocalHappyTalk, sample_events

PROJECT = Path(__file__).resolve().parent.parent
OUTPUT = PROJECT / "output" / "service_history.jsonl"
FIRST_DAY = dt.date(2024, 1, 1)
DAYS = 31
PER_DAY = 40


def meltano(*args: str, env: dict[str, str]) -> None:
    """Run a meltano command in the project, stopping the demo if it fails."""
    executable = shutil.which("meltano", path=str(Path(sys.executable).parent)) or "meltano"
    done = subprocess.run([executable, *args], cwd=PROJECT, env=env, check=False)
    if done.returncode != 0:
        sys.exit(f"demo: `meltano {' '.join(args)}` failed with exit code {done.returncode}")


def main() -> None:
    """Serve sample data, run the pipeline, report the result."""
    events = sample_events(FIRST_DAY, DAYS, PER_DAY)
    OUTPUT.unlink(missing_ok=True)
    with LocalHappyTalk(events) as server:
        env = {
            **os.environ,
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "TAP_HAPPYTALK_TOKEN": server.token,
            "TAP_HAPPYTALK_API_URL": server.url,
            "TAP_HAPPYTALK_START_DATE": FIRST_DAY.isoformat(),
            "TAP_HAPPYTALK_END_DATE": (FIRST_DAY + dt.timedelta(days=DAYS)).isoformat(),
        }
        print(f"demo: HappyTalk-compatible server on {server.url} with {len(events)} events")
        meltano("install", env=env)
        meltano("run", "--full-refresh", "tap-happytalk", "target-jsonl", env=env)
        requests = len(server.requests)

    lines = OUTPUT.read_text(encoding="utf-8").splitlines() if OUTPUT.exists() else []
    print(
        f"demo: {len(lines)} of {len(events)} records from {requests} requests "
        f"(one per day) are in {OUTPUT.relative_to(PROJECT)}"
    )
    if len(lines) != len(events):
        sys.exit("demo: the output does not hold every record")


if __name__ == "__main__":
    main()
