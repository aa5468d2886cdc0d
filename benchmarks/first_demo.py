"""How long a new user waits for the first `make demo`: a fresh clone, nothing cached.

Clones this repository's HEAD into a temporary folder and runs `make demo` there the way a
newcomer would, timing the install (`.venv` with the demo's packages) apart from the demo itself
(Meltano installs the tap and target-jsonl, the run, the dbt build, the report), then a second
`make demo` in the same clone, which installs nothing. Caches are
empty unless `--warm` is given: pip's and uv's caches point into the temporary folder, so every
package is downloaded, as on a new machine. Prints the table the README quotes.

    .venv/bin/python benchmarks/first_demo.py [--warm] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def timed(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> float:
    """Seconds `command` took; exits with its log's tail if it fails."""
    started = time.monotonic()
    with log.open("a", encoding="utf-8") as out:
        done = subprocess.run(command, cwd=cwd, env=env, stdout=out, stderr=out, check=False)
    if done.returncode != 0:
        tail = "\n".join(log.read_text(encoding="utf-8").splitlines()[-30:])
        sys.exit(f"first_demo: `{' '.join(command)}` failed ({done.returncode}):\n{tail}")
    return time.monotonic() - started


def one_run(*, warm: bool) -> tuple[float, float, float]:
    """Install, first demo and second demo seconds of one fresh clone."""
    with tempfile.TemporaryDirectory(prefix="first-demo-") as tmp:
        root = Path(tmp)
        clone = root / "tap-happytalk"
        subprocess.run(["git", "clone", "--quiet", str(PROJECT), str(clone)], check=True)
        env = {**os.environ, "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false"}
        env.pop("VIRTUAL_ENV", None)
        if not warm:
            env |= {"PIP_NO_CACHE_DIR": "1", "UV_CACHE_DIR": str(root / "uv-cache")}
        log = root / "make.log"
        install = timed(["make", ".venv/.installed-demo"], clone, env, log)
        demo = timed(["make", "demo"], clone, env, log)
        report = clone / "output" / "report.html"
        if not report.exists():
            sys.exit("first_demo: the demo wrote no output/report.html")
        again = timed(["make", "demo"], clone, env, log)
        return install, demo, again


def main() -> None:
    """Time `--runs` fresh clones and print one row each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", action="store_true", help="keep pip's and uv's own caches")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    caches = "warm caches" if args.warm else "empty caches (every package downloaded)"
    print(f"First `make demo` on a fresh clone, {os.cpu_count()} cores, {caches}:")
    print(
        "| run | install (.venv, demo packages) | demo (Meltano, run, dbt, report) | first "
        "`make demo` | the next `make demo` |"
    )
    print("|---|---|---|---|---|")
    for run in range(1, args.runs + 1):
        install, demo, again = one_run(warm=args.warm)
        print(
            f"| {run} | {install:.0f} s | {demo:.0f} s | {install + demo:.0f} s | {again:.0f} s |"
        )


if __name__ == "__main__":
    main()
