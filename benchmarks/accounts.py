"""Several HappyTalk accounts side by side: wall time, peak memory and throughput for 1, 4 and 8.

Each account reads one day (one request a day of service history, the day's room-list pages,
one chat_data request a room) from a local HappyTalk server of its own that waits 100 ms before
every answer, through its own `meltano run happytalk-brand-N` (an inherited extractor per
account, as accounts/accounts.meltano.yml lays them out), all started together. The loader is
target-jsonl, so the figures are the extraction's and Meltano's, not a warehouse's; Meltano's
system database is PostgreSQL (a fresh database per batch, migrated before the clock starts), as
the several-worker setup has it: the default SQLite file does not take eight writers at once.

Per batch: the wall time from the first start to the last exit, the slowest and the median run,
the peak of the summed RSS of every process of every run (meltano, tap, target; not the servers,
which stand in for HappyTalk), the records landed (every account's must be complete), the
records per second of the batch against one account's, and where the CPU went: the runs'
CPU seconds (exact, from wait4) against what the machine's cores could give over the batch, and
the servers' own.

Run: `make bench-accounts`, which starts a throwaway PostgreSQL (.ci/postgres.sh); with one
already running, `TAP_HAPPYTALK_TEST_POSTGRES=postgresql://USER@HOST:PORT/DB python
benchmarks/accounts.py [--accounts 1,4,8]` (the user must be allowed to create databases).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from benchmarks.bench import (
    CHAT_LATENCY,
    CHAT_MESSAGES_PER_ROOM,
    CHAT_ROOMS_PER_DAY,
    FIRST_DAY,
    LATENCY_PER_DAY,
    check,
    machine,
)

PROJECT = Path(__file__).resolve().parent.parent
MELTANO = str(Path(sys.executable).parent / "meltano")
STREAMS = ("service_history", "chat_rooms", "chat_messages")  # meltano.yml's select
SAMPLE_EVERY = 0.1  # seconds between two readings of the runs' processes
# The server's first line: "... on http://127.0.0.1:PORT, token T, ... : 40 events, 100 chat
# rooms, 1000 messages. ..."
SERVER_LINE = re.compile(
    r"on (?P<url>http://[^,]+), .*: (?P<service_history>\d+) events, "
    r"(?P<chat_rooms>\d+) chat rooms, (?P<chat_messages>\d+) messages"
)


def accounts_file(count: int) -> str:
    """accounts/accounts.meltano.yml's layout for brand-1..brand-COUNT, loading into JSON Lines.

    The shipped jobs load into target-postgres; here target-jsonl keeps the warehouse's time
    out of the figures.
    """
    extractors = "".join(
        f"    - name: tap-happytalk--brand-{n}\n"
        "      inherit_from: tap-happytalk\n"
        f"      load_schema: happytalk_brand_{n}\n"
        "      config:\n"
        f"        token: $HAPPYTALK_BRAND_{n}_TOKEN\n"
        for n in range(1, count + 1)
    )
    jobs = "".join(
        f"  - name: happytalk-brand-{n}\n"
        "    tasks:\n"
        f"      - tap-happytalk--brand-{n} target-jsonl\n"
        for n in range(1, count + 1)
    )
    return f"plugins:\n  extractors:\n{extractors}jobs:\n{jobs}"


def project_copy(root: Path, accounts: int) -> Path:
    """The files git tracks (as tests/conftest.py's copy_project), with `accounts` accounts.

    Installed once: every batch runs from this copy, each on a system database of its own.
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT,
        capture_output=True,
        timeout=60,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        if (PROJECT / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT / name, root / name)
    (root / "accounts" / "bench.meltano.yml").write_text(accounts_file(accounts))
    meltano_yml = root / "meltano.yml"
    text = meltano_yml.read_text()
    anchor = "project_id: tap-happytalk\n"
    check(anchor in text, f"meltano.yml has no line {anchor.strip()!r} to include accounts after")
    include = "include_paths:\n  - ./accounts/bench.meltano.yml\n"
    meltano_yml.write_text(text.replace(anchor, anchor + include, 1))
    meltano(root, "install", env={})
    return root


def meltano(root: Path, *args: str, env: dict[str, str]) -> None:
    """`meltano ARGS` in `root`, outside the measurement; it must succeed."""
    done = subprocess.run(
        [MELTANO, *args],
        cwd=root,
        env=base_env() | env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    check(done.returncode == 0, f"meltano {' '.join(args)} failed:\n{done.stderr[-3000:]}")


def base_env() -> dict[str, str]:
    """This environment without the caller's tap and target settings (as the tests run)."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TAP_", "TARGET_", "PG"))},
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


@dataclass
class Server:
    """A local HappyTalk server in a process of its own, so that eight of them share no GIL."""

    process: subprocess.Popen[str]
    url: str
    served: dict[str, int]

    def cpu_seconds(self) -> float:
        """User and system CPU time the server has used so far."""
        found = read_stat(self.process.pid)
        return found.cpu_seconds if found else 0.0


def start_server() -> Server:
    """One account's day, served with CHAT_LATENCY before every answer."""
    command = [
        sys.executable,
        "-m",
        "local_happytalk",
        "--port=0",
        f"--first-day={FIRST_DAY}",
        "--days=1",
        f"--per-day={LATENCY_PER_DAY}",
        f"--rooms-per-day={CHAT_ROOMS_PER_DAY}",
        f"--messages-per-room={CHAT_MESSAGES_PER_ROOM}",
        f"--latency-ms={CHAT_LATENCY * 1000:g}",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    first = process.stdout.readline() if process.stdout else ""
    found = SERVER_LINE.search(first)
    if found is None:
        sys.exit(f"bench: the local server did not say where it listens: {first!r}")
    served = {stream: int(found.group(stream)) for stream in STREAMS}
    return Server(process, found.group("url"), served)


@dataclass
class Run:
    """One account's `meltano run`, from its start to its exit."""

    account: int
    process: subprocess.Popen[bytes]
    started: float
    ended: float = 0.0
    cpu_seconds: float = 0.0  # the whole tree's, from wait4 (children Meltano waited for)
    tap_started: float = 0.0  # when the syncing tap's process was first seen
    tap_last_seen: float = 0.0  # and last

    def wait(self) -> None:
        """Reap the run and take its time and its tree's CPU time."""
        _, status, usage = os.wait4(self.process.pid, 0)
        self.ended = time.perf_counter()
        self.process.returncode = os.waitstatus_to_exitcode(status)
        self.cpu_seconds = usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Stat:
    """What /proc/PID/stat says of a process (psutil is not among our dependencies)."""

    parent: int
    cpu_seconds: float  # user and system
    rss: int  # bytes


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def read_stat(pid: int) -> Stat | None:
    """A process's parent, CPU time and RSS; None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # After the command name in parentheses (which may hold spaces): state, ppid, ... utime
    # and stime (fields 14 and 15 of proc(5)), ... rss in pages (field 24).
    fields = text[text.rindex(")") + 2 :].split()
    return Stat(
        parent=int(fields[1]),
        cpu_seconds=(int(fields[11]) + int(fields[12])) / CLOCK_TICKS,
        rss=int(fields[21]) * PAGE_SIZE,
    )


def processes() -> dict[int, Stat]:
    """Every live process of the machine."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := read_stat(int(entry.name))) is not None:
            found[int(entry.name)] = stat
    return found


def descendants(root: int, every: dict[int, Stat]) -> list[int]:
    """`root` and the processes below it."""
    children: dict[int, list[int]] = {}
    for pid, stat in every.items():
        children.setdefault(stat.parent, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in every:
            found.append(pid)
            todo += children.get(pid, [])
    return found


ROLES = ("meltano", "discover", "tap", "target")


def role_of(pid: int) -> str:
    """Which of ROLES a process of a run is: Meltano is itself and anything not named."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "meltano"
    if b"bin/tap-happytalk" in command:
        # Meltano asks the tap for its catalog before every run (the streams to select).
        return "discover" if b"--discover" in command else "tap"
    if b"bin/target-jsonl" in command:
        return "target"
    return "meltano"


@dataclass
class Sampler:
    """Every SAMPLE_EVERY s: the summed RSS of the runs' process trees, and CPU time by role."""

    runs: list[Run]
    peak_rss: int = 0
    cpu_by_pid: dict[int, tuple[str, float]] = field(default_factory=dict)
    roles: dict[int, str] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)

    def loop(self) -> None:
        """Sample until told to stop."""
        while not self.done.wait(SAMPLE_EVERY):
            self.sample()

    def sample(self) -> None:
        """One reading of every live process of every run."""
        every, total = processes(), 0
        for run in self.runs:
            for pid in descendants(run.process.pid, every):
                stat = every[pid]
                total += stat.rss
                # A role once known is kept: a finished process (a zombie) has no command line
                # left. Meltano's is read again, as a child seen before its exec looks like it.
                if self.roles.get(pid, "meltano") == "meltano":
                    self.roles[pid] = role_of(pid)
                role = self.roles[pid]
                self.cpu_by_pid[pid] = (role, stat.cpu_seconds)
                if role == "tap":
                    run.tap_last_seen = time.perf_counter()
                    run.tap_started = run.tap_started or run.tap_last_seen
        self.peak_rss = max(self.peak_rss, total)

    def cpu_by_role(self) -> dict[str, float]:
        """CPU seconds by role as last sampled (each process's last ~0.1 s is missed)."""
        roles = dict.fromkeys(ROLES, 0.0)
        for role, seconds in self.cpu_by_pid.values():
            roles[role] += seconds
        return roles


class MachineBusy:
    """The share of the whole machine's CPU time (every process, ours or not) spent working."""

    def __init__(self) -> None:
        """Start counting."""
        self.start = self.read()

    @staticmethod
    def read() -> tuple[int, int]:
        """Ticks of all the cores since boot: (working, all); idle and iowait are not working."""
        ticks = [int(tick) for tick in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        idle = ticks[3] + ticks[4]
        return sum(ticks) - idle, sum(ticks)

    def share(self) -> float:
        """Since the start."""
        working, total = self.read()
        return (working - self.start[0]) / max(total - self.start[1], 1)


@dataclass(frozen=True)
class Batch:
    """What one batch of side-by-side runs measured."""

    accounts: int
    wall: float
    runs: list[float]
    peak_rss_mb: float
    records: int
    cpu_seconds: float  # every run's tree, exact
    cpu_by_role: dict[str, float]  # sampled
    server_cpu_seconds: float
    machine_busy: float  # of all the machine's CPU time over the batch, the share spent working
    tap_start_median: float  # from a run's start to its syncing tap's
    tap_span_median: float  # the syncing tap's life, as sampled

    @property
    def throughput(self) -> float:
        """Records per second of the whole batch."""
        return self.records / self.wall


def system_database(postgres: str, name: str) -> str:
    """A fresh, empty database `name` on the server of `postgres`; its SQLAlchemy URL."""
    with psycopg.connect(postgres, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(postgres)
    return urlunsplit(parts._replace(scheme="postgresql+psycopg", path=f"/{name}"))


def batch(root: Path, servers: list[Server], postgres: str, scratch: Path) -> Batch:
    """Run one account per server, side by side, and measure the batch."""
    count = len(servers)
    database = system_database(postgres, f"meltano_bench_{count}_accounts")
    # Meltano migrates an empty system database on first use: done here, off the clock, as a
    # worker's database already is.
    meltano(root, "state", "list", env={"MELTANO_DATABASE_URI": database})
    end = (FIRST_DAY + dt.timedelta(days=1)).isoformat()
    envs = []
    for n, server in enumerate(servers, start=1):
        destination = scratch / f"{count}-accounts" / f"brand-{n}"
        destination.mkdir(parents=True)
        prefix = f"TAP_HAPPYTALK__BRAND_{n}_"
        envs.append(
            base_env()
            | {
                "MELTANO_DATABASE_URI": database,
                f"HAPPYTALK_BRAND_{n}_TOKEN": "local-test-token",
                f"{prefix}API_URL": server.url,
                f"{prefix}START_DATE": FIRST_DAY.isoformat(),
                f"{prefix}END_DATE": end,
                "TARGET_JSONL_DESTINATION_PATH": str(destination),
            }
        )
    server_cpu = sum(server.cpu_seconds() for server in servers)
    logs = [
        (scratch / f"{count}-accounts" / f"brand-{n}.log").open("wb") for n in range(1, count + 1)
    ]
    busy, runs = MachineBusy(), list[Run]()
    for n, (env, log) in enumerate(zip(envs, logs, strict=True), start=1):
        process = subprocess.Popen(
            [MELTANO, "run", f"happytalk-brand-{n}"],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        runs.append(Run(n, process, time.perf_counter()))
    sampler = Sampler(runs)
    sampling = threading.Thread(target=sampler.loop, daemon=True)
    sampling.start()
    waiting = [threading.Thread(target=run.wait) for run in runs]
    for waiter in waiting:
        waiter.start()
    for waiter in waiting:
        waiter.join()
    machine_busy = busy.share()
    sampler.done.set()
    sampling.join()
    server_cpu = sum(server.cpu_seconds() for server in servers) - server_cpu
    for log in logs:
        log.close()
    records = 0
    for run, server in zip(runs, servers, strict=True):
        log_path = Path(logs[run.account - 1].name)
        check(
            run.process.returncode == 0,
            f"meltano run happytalk-brand-{run.account} failed ({count} accounts):\n"
            + log_path.read_text(errors="replace")[-3000:],
        )
        destination = scratch / f"{count}-accounts" / f"brand-{run.account}"
        for stream in STREAMS:
            landed = lines_in(destination / f"{stream}.jsonl")
            check(
                landed == server.served[stream],
                f"brand-{run.account} of {count}: {landed:,} {stream} records landed, "
                f"{server.served[stream]:,} served",
            )
            records += landed
    check(all(run.tap_started for run in runs), "a run's tap was never seen running")
    first = min(run.started for run in runs)
    return Batch(
        accounts=count,
        wall=max(run.ended for run in runs) - first,
        runs=[run.ended - run.started for run in runs],
        peak_rss_mb=sampler.peak_rss / 2**20,
        records=records,
        cpu_seconds=sum(run.cpu_seconds for run in runs),
        cpu_by_role=sampler.cpu_by_role(),
        server_cpu_seconds=server_cpu,
        machine_busy=machine_busy,
        tap_start_median=statistics.median(run.tap_started - run.started for run in runs),
        tap_span_median=statistics.median(run.tap_last_seen - run.tap_started for run in runs),
    )


def lines_in(path: Path) -> int:
    """Lines of a JSON Lines file; 0 when the target wrote none."""
    if not path.exists():
        return 0
    with path.open("rb") as lines:
        return sum(1 for _ in lines)


def report(batches: list[Batch], served: dict[str, int]) -> list[str]:
    """The printed block."""
    one_day = (
        f"{served['service_history']} service-history events, {served['chat_rooms']} rooms x "
        f"{CHAT_MESSAGES_PER_ROOM} messages: {sum(served.values()):,} records"
    )
    cores = os.cpu_count() or 1
    lines = [
        f"Machine: {machine()}",
        (
            f"Accounts side by side: one `meltano run happytalk-brand-N` each (tap-happytalk--"
            f"brand-N target-jsonl), started together, each against a local server of its own "
            f"answering in {CHAT_LATENCY * 1000:.0f} ms; Meltano's system database in PostgreSQL."
        ),
        f"One day per account ({FIRST_DAY}): {one_day}. One run of each batch.",
        "",
        (
            "accounts   batch wall   slowest run   median run   peak RSS (sum)   records   "
            "records/s   vs one"
        ),
    ]
    base = batches[0]
    lines += [
        f"{measured.accounts:>8}   {measured.wall:8.1f} s   {max(measured.runs):9.1f} s   "
        f"{statistics.median(measured.runs):8.1f} s   {measured.peak_rss_mb:11.0f} MB   "
        f"{measured.records:>7,}   {measured.throughput:9.0f}   "
        f"{measured.throughput / base.throughput:5.1f}x"
        for measured in batches
    ]
    lines += [
        "",
        (
            f"Where it went: medians of the runs' time from start to the syncing tap and of the "
            f"tap's life; CPU seconds by part (sampled every {SAMPLE_EVERY:g} s; `runs` exact, "
            f"from wait4); the runs' and servers' CPU as a share of {cores} cores over the "
            "batch's wall, and how busy the whole machine was (other work included)."
        ),
        (
            "accounts   to tap   tap life   CPU: runs  meltano  discover    tap  target  "
            "servers   share   machine busy"
        ),
    ]
    for measured in batches:
        roles, runs = measured.cpu_by_role, measured.cpu_seconds
        share = (runs + measured.server_cpu_seconds) / (cores * measured.wall)
        lines.append(
            f"{measured.accounts:>8}   {measured.tap_start_median:4.1f} s   "
            f"{measured.tap_span_median:6.1f} s   {runs:9.1f}  {roles['meltano']:7.1f}  "
            f"{roles['discover']:8.1f}  {roles['tap']:5.1f}  {roles['target']:6.1f}  "
            f"{measured.server_cpu_seconds:7.1f}   {share:5.0%}   {measured.machine_busy:12.0%}"
        )
    lines += [
        f"{measured.accounts} accounts: {measured.throughput / base.throughput:.1f} times the "
        f"throughput of {'one' if base.accounts == 1 else base.accounts} "
        f"(ideal {measured.accounts / base.accounts:g})"
        for measured in batches[1:]
    ]
    return lines


def main() -> None:
    """Install a project copy with the largest number of accounts, run each batch, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--accounts",
        default="1,4,8",
        help="batch sizes, comma-separated; the first is the one the others are compared with",
    )
    sizes = [int(size) for size in parser.parse_args().accounts.split(",")]
    check(bool(sizes) and min(sizes) >= 1, "--accounts: whole numbers of 1 or more")
    postgres = os.environ.get("TAP_HAPPYTALK_TEST_POSTGRES")
    if postgres is None:
        sys.exit("bench: TAP_HAPPYTALK_TEST_POSTGRES is not set: `make bench-accounts` starts one")
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        root = project_copy(scratch / "project", max(sizes))
        servers = [start_server() for _ in range(max(sizes))]
        try:
            batches = [batch(root, servers[:size], postgres, scratch) for size in sizes]
        finally:
            for server in servers:
                server.process.terminate()
                server.process.wait()
    print("\n".join(report(batches, servers[0].served)))


if __name__ == "__main__":
    main()
