"""Shared fixtures: a local HappyTalk server, and the tap run as a real subprocess."""

from __future__ import annotations

import datetime as dt
import functools
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from local_happytalk.server import LocalHappyTalk, sample_events
from tap_happytalk.tap import TapHappyTalk

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from types import ModuleType

PROJECT = Path(__file__).resolve().parent.parent
TAP = [sys.executable, "-m", "tap_happytalk"]
# What users read: the README, then the pages under docs/ it links to.
DOCUMENTATION = (PROJECT / "README.md", *sorted((PROJECT / "docs").glob("*.md")))
FIRST_DAY = dt.date(2024, 3, 1)


# Ctrl-C and SIGTERM (`timeout`) must stop pytest as they stop any program. But building a
# tap installs signal handlers in the process that builds it: the SDK's, then the tap's own,
# which only ask a sync to stop at the next record, and so would leave pytest running (and a
# sleeping test, or the rest of the suite, with it). Every tap built in this process gives
# pytest's handlers back as soon as it is built; a test that needs the tap's own asks for
# `tap_signal_handlers`. Installed when pytest loads this file, so taps built while tests are
# collected are covered too.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_tap_keeps_its_handlers = False


def _built_leaving_signals_alone(init: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(init)
    def build(self: TapHappyTalk, **kwargs: Any) -> None:
        if _tap_keeps_its_handlers or threading.current_thread() is not threading.main_thread():
            init(self, **kwargs)
            return
        ours = {number: signal.getsignal(number) for number in STOP_SIGNALS}
        try:
            init(self, **kwargs)
        finally:
            for number, handler in ours.items():
                signal.signal(number, handler)

    return build


TapHappyTalk.__init__ = _built_leaving_signals_alone(TapHappyTalk.__init__)  # type: ignore[method-assign]


@pytest.fixture
def tap_signal_handlers() -> Iterator[None]:
    """Taps built in this test keep their SIGINT and SIGTERM handlers, until the test ends."""
    global _tap_keeps_its_handlers  # noqa: PLW0603 - the switch the wrapper above reads
    ours = {number: signal.getsignal(number) for number in STOP_SIGNALS}
    _tap_keeps_its_handlers = True
    try:
        yield
    finally:
        _tap_keeps_its_handlers = False
        for number, handler in ours.items():
            signal.signal(number, handler)


@dataclass
class TapRun:
    """What one run of `tap-happytalk` printed, split into Singer messages."""

    returncode: int
    stdout: str
    stderr: str
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def records(self) -> list[dict[str, Any]]:
        return [m["record"] for m in self.messages if m["type"] == "RECORD"]

    @property
    def states(self) -> list[dict[str, Any]]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if "| ERROR" in line]

    @property
    def bookmarks(self) -> list[str]:
        return [s["bookmarks"]["service_history"]["replication_key_value"] for s in self.states]

    @property
    def bookmark(self) -> str:
        return str(self.states[-1]["bookmarks"]["service_history"]["replication_key_value"])


def parse_messages(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def tap_env() -> dict[str, str]:
    """The environment without any TAP_HAPPYTALK_* settings of the developer's own."""
    return {k: v for k, v in os.environ.items() if not k.startswith("TAP_HAPPYTALK_")}


def documentation() -> str:
    """The README and every page under docs/, one after the other (blocks are found by marker)."""
    return "\n\n".join(path.read_text(encoding="utf-8") for path in DOCUMENTATION)


def write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


def run_tap(
    tmp_path: Path,
    config: dict[str, Any],
    *,
    state: dict[str, Any] | None = None,
    args: tuple[str, ...] = (),
    timeout: float = 120,
) -> TapRun:
    """Run the tap once as a subprocess with `config` (and `state`), and collect its output."""
    command = [*TAP, "--config", str(write_json(tmp_path / "config.json", config))]
    if state is not None:
        command += ["--state", str(write_json(tmp_path / "state.json", state))]
    done = subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=tap_env(),
        check=False,
    )
    return TapRun(done.returncode, done.stdout, done.stderr, parse_messages(done.stdout))


def tap_about(about_format: str) -> str:
    """What `tap-happytalk --about --format=...` prints."""
    return subprocess.run(
        [*TAP, "--about", f"--format={about_format}"],
        capture_output=True,
        text=True,
        env=tap_env(),
        timeout=120,
        check=True,
    ).stdout


@contextmanager
def killed_after(
    process: subprocess.Popen[Any], seconds: float, waiting_for: str
) -> Iterator[None]:
    """Kill `process` if the block has not ended within `seconds`, and fail the test then.

    For reads of a subprocess's pipes, which would otherwise wait for ever on a tap that
    neither writes nor exits: the kill closes the pipes, and so ends the read.
    """
    fired = threading.Event()

    def kill() -> None:
        fired.set()
        process.kill()

    watchdog = threading.Timer(seconds, kill)
    watchdog.start()
    try:
        yield
    finally:
        watchdog.cancel()
    if fired.is_set():
        pytest.fail(f"waited {seconds:g} s for {waiting_for}; the tap was killed")


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll `condition` until it holds; fail the test if it does not within `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {seconds:g} s for {what}")
        time.sleep(0.02)


def copy_project(destination: Path) -> Path:
    """Copy the files git tracks (or would), as a fresh clone has them."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT,
        capture_output=True,
        timeout=60,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        source = PROJECT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


@pytest.fixture
def events() -> list[dict[str, str]]:
    """Ten days from 2024-03-01 with 2024-03-04 and 2024-03-05 empty, 12 events a day."""
    empty = [FIRST_DAY + dt.timedelta(days=3), FIRST_DAY + dt.timedelta(days=4)]
    return sample_events(FIRST_DAY, 10, 12, empty_days=empty, first_id=99_990)


@pytest.fixture
def happytalk(events: list[dict[str, str]]):
    with LocalHappyTalk(events) as server:
        yield server


@pytest.fixture(params=["customer", "bnd"])
def endpoint(request: pytest.FixtureRequest) -> str:
    """Tests that take `config` run against both HappyTalk endpoints."""
    return str(request.param)


@pytest.fixture
def config(happytalk: LocalHappyTalk, endpoint: str) -> dict[str, Any]:
    return {
        "endpoint": endpoint,
        "token": happytalk.token,
        "start_date": FIRST_DAY.isoformat(),
        "end_date": (FIRST_DAY + dt.timedelta(days=10)).isoformat(),
        "api_url": happytalk.url,
        "max_retries": 2,
        "request_timeout_seconds": 5,
    }


POSTGRES_ENV = "TAP_HAPPYTALK_TEST_POSTGRES"


@pytest.fixture(scope="session")
def postgres() -> str:
    """The test PostgreSQL server's URL; CI always has one (`.ci/run` starts it)."""
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    message = (
        f"{POSTGRES_ENV} is not set: these tests load into a real PostgreSQL server. "
        "Run `bash .ci/run` (as root on Debian: it installs and starts one), or set "
        f"{POSTGRES_ENV}=postgresql://USER@HOST:PORT/DATABASE"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def target_postgres_env(url: str, schema: str) -> dict[str, str]:
    """The TARGET_POSTGRES_* variables of `url`: target-postgres and the dbt profile read them."""
    parts = urlsplit(url)
    return {
        "TARGET_POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "TARGET_POSTGRES_PORT": str(parts.port or 5432),
        "TARGET_POSTGRES_USER": parts.username or "postgres",
        "TARGET_POSTGRES_PASSWORD": parts.password or "",
        "TARGET_POSTGRES_DATABASE": parts.path.lstrip("/"),
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
    }


def run_meltano(
    root: Path, *args: str, env: dict[str, str], fails: bool = False
) -> subprocess.CompletedProcess[str]:
    """`meltano ARGS` in the project at `root`; it must succeed (or, with `fails`, fail).

    None of the caller's TAP_*, TARGET_* or PG* variables (PGTZ, PGOPTIONS...) reach it: only
    `env` and meltano.yml decide what the plugins see.
    """
    done = subprocess.run(
        [str(Path(sys.executable).parent / "meltano"), *args],
        cwd=root,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith(("TAP_", "TARGET_", "PG"))},
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if fails:
        assert done.returncode != 0, f"meltano {' '.join(args)} succeeded:\n{done.stderr}"
    else:
        assert done.returncode == 0, f"meltano {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


@functools.cache
def load_script(name: str) -> ModuleType:
    """`scripts/NAME.py` as a module (scripts/ is no package)."""
    spec = importlib.util.spec_from_file_location(
        f"happytalk_{name}", PROJECT / "scripts" / f"{name}.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def catalog_selecting(streams: Iterable[str]) -> dict[str, Any]:
    """The tap's catalog with exactly `streams` selected (the chat streams are opt-in)."""
    chosen = set(streams)
    catalog: dict[str, Any] = TapHappyTalk(config={}, validate_config=False).catalog_dict
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] in chosen
    return catalog


def run_until_stopped(  # noqa: PLR0913 - the run's knobs
    tmp_path: Path,
    config: dict[str, Any],
    lines: int,
    stop: int,
    args: tuple[str, ...] = (),
    *,
    timeout: float = 120,
) -> tuple[list[dict[str, Any]], int]:
    """Start the tap, signal it once it has printed `lines` lines; return what it printed.

    The whole run, to its exit, must take less than `timeout` seconds.
    """
    command = [*TAP, "--config", str(write_json(tmp_path / "stop-config.json", config)), *args]
    with (
        subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=tap_env()
        ) as process,
        killed_after(process, timeout, f"{lines} lines, then the tap's exit at signal {stop}"),
    ):
        assert process.stdout is not None
        # readline, then read: communicate() after readline() would skip what is buffered.
        printed = [process.stdout.readline() for _ in range(lines)]
        process.send_signal(stop)
        rest = process.stdout.read()
        returncode = process.wait(timeout=30)
    # Whatever reached the pipe before the end is what a target would have read.
    complete = [line for line in [*printed, *rest.splitlines(keepends=True)] if line.endswith("\n")]
    return parse_messages("".join(complete)), returncode
