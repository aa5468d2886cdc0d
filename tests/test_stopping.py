"""Ctrl-C and SIGTERM stop the test run within seconds, though tests build taps in-process.

Building a tap installs its signal handlers in the process that builds it (the SDK's, then the
tap's own, which only ask a sync to stop): pytest ignored SIGTERM and Ctrl-C once a test had
built one. `conftest.py` gives pytest its handlers back after every tap built in-process. Here
`pytest` runs, as `make test` does, a module (written to tmp_path, loading this suite's
conftest) whose test builds a tap and then sleeps a minute; it is signalled, and must end in
seconds. The generous bounds are for a loaded 2-core machine: this is a behaviour check, not a
speed test (an unstoppable pytest would take the whole minute).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from .conftest import PROJECT, tap_env, wait_for

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.timeout(180)

SLEEP_SECONDS = 60
# Built during collection and in the test itself, as the suite's modules do.
MODULE = f"""
import os
import time
from pathlib import Path

from tap_happytalk.tap import TapHappyTalk

TapHappyTalk(config={{}}, validate_config=False)


def test_builds_a_tap_then_sleeps():
    TapHappyTalk(config={{}}, validate_config=False)
    Path(os.environ["BUILT"]).touch()
    time.sleep({SLEEP_SECONDS})
"""
# pytest as a terminal starts it: SIGINT not ignored (a shell's background job would be).
PYTEST = (
    "import signal, sys, pytest; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.exit(pytest.main(sys.argv[1:]))"
)


def pytest_command(tmp_path: Path) -> list[str]:
    """`pytest` on a module that builds a tap and sleeps, with this suite's conftest."""
    module = tmp_path / "test_sleeps.py"
    module.write_text(MODULE, encoding="utf-8")
    return [
        sys.executable,
        "-c",
        PYTEST,
        "-p",
        "tests.conftest",
        "-p",
        "no:cacheprovider",
        "-q",
        str(module),
    ]


def environment(tmp_path: Path) -> dict[str, str]:
    return {**tap_env(), "BUILT": str(tmp_path / "built"), "PYTHONPATH": str(PROJECT)}


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_the_group_stops_pytest_after_a_tap_was_built(tmp_path, stop):
    process = subprocess.Popen(
        pytest_command(tmp_path),
        cwd=PROJECT,
        env=environment(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's job is
    )
    try:
        wait_for((tmp_path / "built").exists, 60, "the test to build its tap")
        time.sleep(0.5)  # into the sleep
        signalled = time.monotonic()
        os.killpg(process.pid, stop)
        output, _ = process.communicate(timeout=SLEEP_SECONDS / 2)
        took = time.monotonic() - signalled
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert took < 15, f"{stop.name} took {took:.0f} s to stop pytest:\n{output}"
    if stop == signal.SIGTERM:
        assert process.returncode == -signal.SIGTERM, output
    else:
        assert process.returncode == pytest.ExitCode.INTERRUPTED, output
        assert "KeyboardInterrupt" in output


def test_timeout_stops_pytest_after_a_tap_was_built(tmp_path):
    started = time.monotonic()
    done = subprocess.run(
        ["timeout", "10", *pytest_command(tmp_path)],
        cwd=PROJECT,
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=SLEEP_SECONDS + 30,
        check=False,
        start_new_session=True,  # timeout signals its own group; keep ours out of it
    )
    took = time.monotonic() - started
    assert (tmp_path / "built").exists(), done.stdout + done.stderr
    assert done.returncode == 124, done.stdout + done.stderr  # timeout's "timed out"
    assert took < 40, f"timeout 10 took {took:.0f} s to stop pytest"
