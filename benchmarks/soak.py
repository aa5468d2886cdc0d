"""A month of hourly runs against the local server, with faults; then what the target would hold.

The soak: `--days` (30) simulated days of hourly runs of the tap, all three streams selected
(`service_history`, `chat_rooms`, `chat_messages`), against the local HappyTalk server on
127.0.0.1, the state carried from run to run as Meltano carries it (the last STATE message of
each run's stdout, also when the run exits non-zero or is killed). Time is simulated with a
test clock library, not with code paths only tests use: each run is a subprocess started
through a tiny launcher (`LAUNCHER`) that starts `time_machine.travel(<simulated now>,
tick=True)` and then runs the tap's CLI with the console script's arguments; the server's
`clock=` gives the same simulated time.

Each simulated hour, service-history events happen (`--events-per-hour` on average) and rooms
are opened (`--rooms-per-hour`); a room gets an agent and messages, closes within hours, and
half of them are rated within 45 minutes of closing (inside the tap's 60-minute grace: a
rating later than that is outside the bound the README states, and not simulated). Faults are
drawn from a seeded RNG (`--seed`): 5xx bursts of 2 or 3 requests (within `max_retries` 3), one
room answering 5xx on every attempt for a day then healing, one day of service history and one
day's room list answered successfully without data once, several rooms opened in the same
second (the server's `shuffle_ties`: their order differs on every page), and SIGKILL
of some runs after a random number of lines (the next hour resumes from the last STATE). After
the last hourly run nothing new happens (no room is opened in the last 15 hours, so each has
settled by then); two fault-free runs follow, an hour and a day later (past the grace, the day
for which a day answered without data is asked again, and the failing room's healing).

Then the records a target would hold (merged by primary key, the last version winning; a
record counts only if a STATE came after it in its run, as a target may drop what no STATE
covers) are compared with the server's ground truth, and it prints: records expected and
received per stream, lost (must be 0; each lost one is named), rooms whose final version
(status, closing time, rating) did not arrive, the longest any record waited (simulated time
from when its data first existed to the run that delivered it), the largest state (bytes and
units: `ask_again` entries, or `open_rooms` of an older state), runs by exit code, requests,
and wall time. Exit code 1 if anything was lost or a final version is missing.

Speed, measured on this 2-core machine (Python 3.11) while other jobs kept its load at 4 to 5:
the default 30 days (722 runs, 4 rooms an hour) took 701 s, a run 0.76 s at the median (about
0.45 s of it interpreter and SDK start-up), the slowest 6 s (the failing room's retries); at a
load of 5 to 6, 976 s. `--days 3` took 91 s. Fewer `--rooms-per-hour` make it a little faster.

Run: `make soak` (or `python benchmarks/soak.py --days 3 --seed 1`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import heapq
import json
import os
import random
import signal
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from local_happytalk.chats import CHAT_DATA_PATH, CHAT_PATHS, CHAT_ROOM_LISTS_PATH, ZERO_DATE
from local_happytalk.server import Fault, LocalHappyTalk, ReceivedRequest
from tap_happytalk.tap import TapHappyTalk

if TYPE_CHECKING:
    from collections.abc import Callable

    from local_happytalk.chats import ChatRooms

KOREA = dt.timezone(dt.timedelta(hours=9))
SIM_START = dt.datetime(2026, 11, 1, tzinfo=KOREA)
STREAMS = ("service_history", "chat_rooms", "chat_messages")
API_FORMAT = "%Y-%m-%d %H:%M:%S"
HOUR = dt.timedelta(hours=1)
MAX_RETRIES = 3
RUN_TIMEOUT_SECONDS = 180
# A room lives at most about 15 hours (a customer may come back hours later): none is opened
# in the last hours, so every room has settled by the last hourly run.
ROOM_LIFE_HOURS = 15
KILLED = -signal.SIGKILL
# The tap's CLI under a moved clock: argv is <simulated epoch> <real epoch when asked> <args>;
# the clock starts at the simulated instant plus the time the interpreter took to get here.
LAUNCHER = """
import sys, time
import time_machine
simulated, asked_at = float(sys.argv[1]), float(sys.argv[2])
time_machine.travel(simulated + (time.time() - asked_at), tick=True).start()
from tap_happytalk.tap import TapHappyTalk
sys.argv[0:3] = ["tap-happytalk"]
TapHappyTalk.cli()
"""
AGENTS = (("lc-kim", "김하늘"), ("lc-lee", "이바다"), ("lc-park", "박구름"), ("lc-choi", "최별"))
CUSTOMER_LINES = ("주문한 상품이 아직 안 왔어요.", "환불은 언제 되나요?", "네 알겠습니다.")
AGENT_LINES = ("확인해 보겠습니다.", "불편을 드려 죄송합니다.", "처리되었습니다.")


def wall(moment: dt.datetime) -> dt.datetime:
    """An aware instant as HappyTalk's naive Korea wall clock, to the second."""
    return moment.astimezone(KOREA).replace(tzinfo=None, microsecond=0)


def aware(stamp: str) -> dt.datetime:
    """HappyTalk's naive Korea wall-clock text as an aware instant."""
    return dt.datetime.strptime(stamp, API_FORMAT).replace(tzinfo=KOREA)


def span(delta: dt.timedelta) -> str:
    """A duration in hours and minutes."""
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


@dataclass
class SimClock:
    """Simulated time: set to an instant, then moving with the real clock, as the tap's does."""

    at: dt.datetime = SIM_START
    real: float = field(default_factory=time.time)

    def set(self, instant: dt.datetime) -> None:
        """Move to `instant` now."""
        self.at, self.real = instant, time.time()

    def now(self) -> dt.datetime:
        """The simulated instant."""
        return self.at + dt.timedelta(seconds=time.time() - self.real)

    def korea(self) -> dt.datetime:
        """The server's "now": naive Korea wall clock."""
        return wall(self.now())


@dataclass(order=True)
class Happening:
    """Something that happens to a room at a simulated wall-clock time."""

    at: dt.datetime
    seq: int
    act: Callable[[ChatRooms], object] = field(compare=False)


@dataclass
class World:
    """What happens on HappyTalk, hour by hour, drawn from a seeded RNG; applied when due."""

    rng: random.Random
    events_per_hour: int
    rooms_per_hour: int
    events: list[dict[str, str]] = field(default_factory=list)
    happenings: list[Happening] = field(default_factory=list)
    room_ids: dict[dt.datetime, list[str]] = field(default_factory=dict)  # by hour opened
    settled: dict[str, dt.datetime] = field(default_factory=dict)  # a room's last change
    ties: int = 0  # groups of rooms opened in the same second
    _applied_events: int = 0
    _seq: int = 0

    def plan_hour(self, start: dt.datetime, *, rooms: bool = True) -> None:
        """The events (and `rooms`) of the hour from `start` (naive wall clock), and their lives."""
        rng = self.rng
        seconds = sorted(
            rng.randrange(3600) for _ in range(rng.randint(0, 2 * self.events_per_hour))
        )
        for index, second in enumerate(seconds):
            shared = index % 5 == 4  # noqa: PLR2004 - every fifth event shares a second
            moment = start + dt.timedelta(seconds=seconds[index - 1] if shared else second)
            user = f"agent-{rng.randrange(1, 30):02d}"
            self.events.append(
                {
                    "id": str(500_000 + len(self.events)),
                    "type": "A",
                    "kind": "S",
                    "request_user": user,
                    "request_content": f"[WEB] {user}상담원 로그인. IP - (IP정보)",
                    "request_date": moment.strftime(API_FORMAT),
                    "apply_id": str(37000 + rng.randrange(300)),
                    "apply_content": "로그인",
                    "apply_date": moment.strftime(API_FORMAT),
                }
            )
        opened = [rng.randrange(3600) for _ in range(self.rooms_per_hour if rooms else 0)]
        if opened and rng.random() < 0.25:  # noqa: PLR2004 - one hour in four
            opened += [rng.randrange(3600)] * rng.randint(3, 5)
            self.ties += 1
        self.room_ids[start] = [self._room(start + dt.timedelta(seconds=s)) for s in opened]

    def _room(self, opened: dt.datetime) -> str:
        """Plan one room's life from `opened`: an agent, messages, closing, maybe a rating."""
        rng = self.rng
        room_id = "".join(rng.choices(string.ascii_letters + string.digits, k=30))
        customer = f"1000225570_user{rng.randrange(10_000):04d}"
        self._at(
            opened,
            lambda chats: chats.add_room(
                id=room_id, reg_date=opened, customer_uuid=customer, title="배송 언제 오나요?"
            ),
        )
        agent, nickname = rng.choice(AGENTS)
        moment = opened + dt.timedelta(seconds=rng.randint(10, 900))
        self._at(
            moment,
            lambda chats: chats.update_room(
                room_id, status="1", counselor_name=agent, counselor_nickname=nickname
            ),
        )
        for turn in range(rng.randint(2, 6)):
            user_type = "H" if turn % 2 == 0 else "C"
            line = rng.choice(AGENT_LINES if user_type == "H" else CUSTOMER_LINES)
            self._message(room_id, moment, user_type, line)
            moment += dt.timedelta(seconds=rng.randint(30, 1800))
        if rng.random() < 0.1:  # noqa: PLR2004 - a customer who comes back hours later
            moment += dt.timedelta(hours=rng.randint(2, 10))
            self._message(room_id, moment, "C", rng.choice(CUSTOMER_LINES))
        closed = moment + dt.timedelta(seconds=rng.randint(60, 1800))
        self._at(closed, lambda chats: chats.close_room(room_id, at=closed))
        last = closed
        if rng.random() < 0.5:  # noqa: PLR2004 - half the rooms are rated
            score = rng.randint(1, 5)
            last = closed + dt.timedelta(seconds=rng.randint(30, 2700))
            self._at(last, lambda chats: chats.rate_room(room_id, score, "감사합니다"))
        self.settled[room_id] = last.replace(tzinfo=KOREA)
        return room_id

    def _message(self, room_id: str, sent: dt.datetime, user_type: str, line: str) -> None:
        def send(chats: ChatRooms) -> object:
            return chats.add_message(
                room_id, line, user_type=user_type, send_date=sent, read_date=sent
            )

        self._at(sent, send)

    def _at(self, moment: dt.datetime, act: Callable[[ChatRooms], object]) -> None:
        self._seq += 1
        heapq.heappush(self.happenings, Happening(moment, self._seq, act))

    def apply_until(self, server: LocalHappyTalk, moment: dt.datetime) -> None:
        """Make everything that happened up to `moment` (naive wall clock) known to HappyTalk."""
        due = []
        stamp = moment.strftime(API_FORMAT)
        while self._applied_events < len(self.events):
            event = self.events[self._applied_events]
            if event["request_date"] > stamp:
                break
            due.append(event)
            self._applied_events += 1
        server.add_events(due)
        while self.happenings and self.happenings[0].at <= moment:
            heapq.heappop(self.happenings).act(server.chats)


@dataclass
class Planned:
    """One run: when (simulated), which faults, and whether it is killed after some lines."""

    at: dt.datetime
    faults: list[tuple[Fault, dict[str, Any]]] = field(default_factory=list)
    kill_after: int | None = None
    # Faults that must meet a request of this run: what they are, the path (None: service
    # history) and the day they answer.
    notes: list[tuple[str, str | None, str]] = field(default_factory=list)

    def unmet(self, requests: list[ReceivedRequest]) -> list[str]:
        """The `notes` no request of the run met (the run ended before it asked)."""
        return [
            what
            for what, path, day in self.notes
            if not any(
                (r.path == path and r.sdate == day)
                if path
                else (r.path not in CHAT_PATHS and (r.start_date or "").startswith(day))
                for r in requests
            )
        ]


def no_data() -> Fault:
    """A successful answer without data."""
    return Fault("body", status=200, text=json.dumps({"result": "success"}))


def plan_runs(rng: random.Random, world: World, days: int) -> tuple[list[Planned], list[str]]:
    """Every run of the soak, its faults drawn from `rng`; and a line per fault that matters."""
    hours = days * 24
    runs = [Planned(SIM_START + HOUR * n) for n in range(1, hours + 1)]
    described = []
    # One room answering 5xx on every attempt for a day: one opened in the hour before.
    first = rng.randint(6, max(6, hours - 30))
    candidates = world.room_ids.get(wall(runs[first - 1].at - HOUR), [])
    if candidates:
        room = candidates[0]
        healed = runs[first - 1].at + dt.timedelta(days=1)
        for run in runs:
            if runs[first - 1].at <= run.at < healed:
                fault = Fault("status", 503)
                run.faults.append((fault, {"room_id": room, "path": CHAT_DATA_PATH, "times": 999}))
        described.append(
            f"room {room} answers 503 on every attempt from {wall(runs[first - 1].at)} "
            f"to {wall(healed)}"
        )
    # A day answered successfully without data once: service history, then a room list.
    quiet = [n for n in range(2, hours - ROOM_LIFE_HOURS) if runs[n].at.hour not in (0, 1)]
    for path, what in ((None, "service history"), (CHAT_ROOM_LISTS_PATH, "the room list")):
        run = runs[rng.choice(quiet)]
        day = wall(run.at - dt.timedelta(minutes=5)).date().isoformat()
        run.faults.append((no_data(), {"day": day, "path": path}))
        run.notes.append((f"{what} of {day} answered without data", path, day))
        described.append(f"{what} of {day} answered without data by the run at {wall(run.at)}")
    bursts = kills = 0
    for run in runs:
        if rng.random() < 0.1:  # noqa: PLR2004 - a 5xx burst in one run in ten
            status = rng.choice((500, 502, 503, 504))
            run.faults.append((Fault("status", status), {"times": rng.randint(2, 3)}))
            bursts += 1
        if not run.notes and rng.random() < 0.05:  # noqa: PLR2004 - one run in twenty killed
            run.kill_after = rng.randint(1, 60)
            kills += 1
    described.append(f"{bursts} runs meet a burst of 2 or 3 answers HTTP 5xx")
    described.append(f"{kills} runs are SIGKILLed after 1 to 60 lines of output")
    return runs, described


@dataclass
class RunResult:
    """What one run printed, as a target would read it."""

    at: dt.datetime
    returncode: int
    records: list[tuple[str, dict[str, Any]]]  # those a STATE came after
    state: dict[str, Any] | None
    error: str | None
    seconds: float


class Tap:
    """Runs the tap through the launcher, with one config and catalog, from a given state."""

    def __init__(self, scratch: Path, server: LocalHappyTalk) -> None:
        """Write the config and a catalog selecting all three streams."""
        self.scratch = scratch
        config = {
            "token": server.token,
            "api_url": server.url,
            "start_date": SIM_START.date().isoformat(),
            "max_retries": MAX_RETRIES,
            "request_timeout_seconds": 10,
        }
        catalog = TapHappyTalk(config=config, validate_config=False).catalog_dict
        for stream in catalog["streams"]:
            for entry in stream["metadata"]:
                if entry["breadcrumb"] == []:
                    entry["metadata"]["selected"] = stream["tap_stream_id"] in STREAMS
        self.config = scratch / "config.json"
        self.config.write_text(json.dumps(config), encoding="utf-8")
        self.catalog = scratch / "catalog.json"
        self.catalog.write_text(json.dumps(catalog), encoding="utf-8")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_HAPPYTALK_")}

    def run(
        self, at: dt.datetime, state: dict[str, Any] | None, kill_after: int | None
    ) -> RunResult:
        """One run at simulated `at`; SIGKILLed after `kill_after` lines, if given."""
        command = [sys.executable, "-c", LAUNCHER, str(at.timestamp()), str(time.time())]
        command += ["--config", str(self.config), "--catalog", str(self.catalog)]
        if state is not None:
            state_path = self.scratch / "state.json"
            state_path.write_text(json.dumps(state), encoding="utf-8")
            command += ["--state", str(state_path)]
        started = time.monotonic()
        lines: list[str] = []
        with (
            tempfile.TemporaryFile(mode="w+") as errors,
            subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=errors, text=True, env=self.env
            ) as process,
        ):
            watchdog = threading.Timer(RUN_TIMEOUT_SECONDS, process.kill)
            watchdog.start()
            try:
                for line in process.stdout or ():
                    lines.append(line)
                    if kill_after is not None and len(lines) == kill_after:
                        process.send_signal(signal.SIGKILL)
                process.wait(timeout=60)
            finally:
                watchdog.cancel()
            errors.seek(0)
            error = next((line for line in reversed(list(errors)) if "| ERROR" in line), None)
        messages = [json.loads(line) for line in lines if line.endswith("\n") and line.strip()]
        states = [n for n, m in enumerate(messages) if m["type"] == "STATE"]
        covered = messages[: states[-1]] if states else []
        return RunResult(
            at=at,
            returncode=process.returncode,
            records=[(m["stream"], m["record"]) for m in covered if m["type"] == "RECORD"],
            state=messages[states[-1]]["value"] if states else None,
            error=error.strip() if error else None,
            seconds=time.monotonic() - started,
        )


def final_version(chat: dict[str, Any]) -> tuple[Any, ...]:
    """What must arrive of a room: its status, closing time (wall clock) and rating."""
    closed = chat.get("complate_date")
    return (
        str(chat.get("status")),
        None if closed in (None, "", ZERO_DATE) else str(closed),
        chat.get("vote_score"),
        chat.get("vote_comment"),
    )


def record_version(record: dict[str, Any]) -> tuple[Any, ...]:
    """`final_version` of a room record (its times carry an offset)."""
    closed = record.get("complate_date")
    stamp = None if closed is None else wall(dt.datetime.fromisoformat(closed))
    return (
        str(record.get("status")),
        None if stamp is None else stamp.strftime(API_FORMAT),
        record.get("vote_score"),
        record.get("vote_comment"),
    )


@dataclass
class Target:
    """What a target would hold: records merged by `id`, and when each version first came."""

    rows: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: defaultdict(dict))
    sent: Counter[str] = field(default_factory=Counter)  # records, versions and repeats too
    first_at: dict[tuple[str, str], dt.datetime] = field(default_factory=dict)
    versions: dict[str, dict[tuple[Any, ...], dt.datetime]] = field(
        default_factory=lambda: defaultdict(dict)
    )

    def take(self, result: RunResult) -> None:
        """Load a run's records (those a STATE came after)."""
        for stream, record in result.records:
            key = str(record["id"])
            self.rows[stream][key] = record
            self.sent[stream] += 1
            self.first_at.setdefault((stream, key), result.at)
            if stream == "chat_rooms":
                self.versions[key].setdefault(record_version(record), result.at)


def state_size(state: dict[str, Any]) -> tuple[int, int]:
    """A state's size in bytes, and its units (`ask_again`, or an older `open_rooms`)."""
    units = 0
    for bookmark in state.get("bookmarks", {}).values():
        if isinstance(bookmark, dict):
            units += len(bookmark.get("ask_again") or bookmark.get("open_rooms") or ())
    return len(json.dumps(state).encode()), units


def compare(world: World, server: LocalHappyTalk, target: Target) -> tuple[list[str], bool]:
    """The report's lines on what arrived, and whether nothing was lost or left stale."""
    rooms = server.chats.rooms()
    truth: dict[str, dict[str, dt.datetime]] = {
        "service_history": {e["id"]: aware(e["request_date"]) for e in world.events},
        "chat_rooms": {},
        "chat_messages": {},
    }
    finals: dict[str, tuple[Any, ...]] = {}
    for room in rooms:
        chat, messages = room["chat"], room["message"]
        room_id = str(chat["id"])
        finals[room_id] = final_version(chat)
        truth["chat_rooms"][room_id] = world.settled[room_id]
        for message in messages:
            truth["chat_messages"][str(message["id"])] = aware(message["send_date"])
    lines, good = ["records            expected   received   lost   sent (versions, repeats)"], True
    lost_lines = []
    for stream in STREAMS:
        expected, received = truth[stream], target.rows[stream]
        lost = sorted(set(expected) - set(received))
        good &= not lost
        lines.append(
            f"  {stream:<16} {len(expected):>8,} {len(received):>10,} {len(lost):>6,} "
            f"{target.sent[stream]:>8,}"
        )
        lost_lines += [f"  lost: {stream} {key} (of {wall(expected[key])})" for key in lost[:20]]
    stale = sorted(
        room_id
        for room_id, final in finals.items()
        if room_id in target.rows["chat_rooms"]
        and record_version(target.rows["chat_rooms"][room_id]) != final
    )
    good &= not stale
    lines += lost_lines
    lines.append(
        f"rooms whose final version (status, closing, rating) did not arrive: {len(stale)}"
    )
    lines += [
        f"  {room_id}: holds {record_version(target.rows['chat_rooms'][room_id])}, "
        f"HappyTalk {finals[room_id]}"
        for room_id in stale[:20]
    ]
    lines.append("longest wait, from when the data first existed to the run that delivered it:")
    for stream in STREAMS:
        waits = []
        for key, existed in truth[stream].items():
            arrived = (
                target.versions[key].get(finals[key])
                if stream == "chat_rooms"
                else target.first_at.get((stream, key))
            )
            if arrived is not None:
                waits.append((arrived - existed, key, existed, arrived))
        if waits:
            waited, key, existed, arrived = max(waits)
            lines.append(
                f"  {stream:<16} {span(waited)}   ({key}, of {wall(existed)}, "
                f"by the run at {wall(arrived)})"
            )
    return lines, good


def main() -> None:  # noqa: PLR0915 - the soak's one loop and its report
    """Run the soak and print what arrived."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30, help="simulated days of hourly runs")
    parser.add_argument("--seed", type=int, default=1, help="seed of the data and the faults")
    parser.add_argument("--rooms-per-hour", type=int, default=4, help="rooms opened an hour")
    parser.add_argument("--events-per-hour", type=int, default=6, help="service-history events")
    args = parser.parse_args()
    if args.days < 1:
        parser.error("--days: at least 1")
    started = time.monotonic()
    rng = random.Random(args.seed)  # noqa: S311 - simulated data and faults, not secrets
    world = World(rng, args.events_per_hour, args.rooms_per_hour)
    for hour in range(args.days * 24):
        world.plan_hour(
            wall(SIM_START + HOUR * hour), rooms=hour < args.days * 24 - ROOM_LIFE_HOURS
        )
    runs, described = plan_runs(rng, world, args.days)
    end = runs[-1].at
    runs += [Planned(end + HOUR), Planned(end + dt.timedelta(hours=25))]
    clock = SimClock()
    target = Target()
    exits: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    requests: Counter[str] = Counter()
    largest = (0, 0, SIM_START)
    largest_units = (0, 0, SIM_START)
    state: dict[str, Any] | None = None
    seconds: list[float] = []
    unmet: list[str] = []
    with (
        tempfile.TemporaryDirectory() as scratch,
        LocalHappyTalk(clock=clock.korea, shuffle_ties=True) as server,
    ):
        tap = Tap(Path(scratch), server)
        for number, run in enumerate(runs, start=1):
            clock.set(run.at)
            world.apply_until(server, clock.korea())
            server.clear_faults()
            for fault, scope in run.faults:
                server.inject(fault, **scope)
            result = tap.run(run.at, state, run.kill_after)
            unmet += run.unmet(server.requests)
            requests.update(request.path for request in server.requests)
            server.requests.clear()
            target.take(result)
            seconds.append(result.seconds)
            if result.state is not None:
                state = result.state
                size = (*state_size(state), run.at)
                largest = max(largest, size)
                largest_units = max(largest_units, size, key=lambda s: s[1])
            how = f"exit {result.returncode}"
            if result.returncode == KILLED:
                how = "killed" if run.kill_after is not None else "killed at the time-out"
            exits[how] += 1
            if result.error and result.returncode not in (0, KILLED):
                errors[result.error.partition("| ERROR")[2].strip()[:160]] += 1
            if number % 24 == 0 or number == len(runs):
                print(
                    f"soak: {number} of {len(runs)} runs, simulated {wall(run.at)}, "
                    f"{time.monotonic() - started:.0f} s",
                    file=sys.stderr,
                )
        lines, good = compare(world, server, target)
    elapsed = time.monotonic() - started
    paths = {
        "service history": sum(n for p, n in requests.items() if "service" in p),
        "room lists": requests[CHAT_ROOM_LISTS_PATH],
        "chat_data": requests[CHAT_DATA_PATH],
    }
    report = [
        (
            f"Soak: {args.days} days of hourly runs from {wall(SIM_START)} KST, seed "
            f"{args.seed}, {args.rooms_per_hour} rooms and ~{args.events_per_hour} events an "
            f"hour, {len(runs)} runs (the last two fault-free, at {wall(runs[-2].at)} and "
            f"{wall(runs[-1].at)})"
        ),
        "faults:",
        *(f"  {line}" for line in described),
        *(f"  NOT MET (the run asked no such request): {what}" for what in unmet),
        f"  {world.ties} groups of 3 to 5 rooms opened in the same second (shuffled on every page)",
        *lines,
        (
            f"largest state: {largest[0]:,} bytes (run at {wall(largest[2])}); most units: "
            f"{largest_units[1]} (run at {wall(largest_units[2])})"
        ),
        "runs by exit code: " + ", ".join(f"{how}: {n}" for how, n in sorted(exits.items())),
        *(f"  {n} x {line}" for line, n in errors.most_common(5)),
        f"requests: {sum(requests.values()):,} ("
        + ", ".join(f"{what} {n:,}" for what, n in paths.items())
        + ")",
        (
            f"wall time: {elapsed:.0f} s ({elapsed / len(runs):.2f} s a run; the median run "
            f"{statistics.median(seconds):.2f} s, the slowest {max(seconds):.1f} s)"
        ),
    ]
    print("\n".join(report))
    if not good:
        sys.exit("soak: records were lost, or a room's final version did not arrive")


if __name__ == "__main__":
    main()
