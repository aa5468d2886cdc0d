"""The README's Meltano quick start, run exactly as written in a fresh directory.

The commands are read from the README's `<!-- quickstart -->` block, so the test and the README
cannot drift. Two things are substituted, as a reader would: the repository path for the git URL
(before the release, and without network other than PyPI), and the local server's address for
the port it got. The server is started as the README says, `python -m local_happytalk`, and its
start-up line tells the test where it listens, as it tells a reader.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from local_happytalk.server import DEFAULT_PORT

from .conftest import PROJECT, killed_after

README = PROJECT / "README.md"
GIT_URL = "git+https://github.com/tap-happytalk/tap-happytalk"
STREAMS = ("service_history", "chat_rooms", "chat_messages")


def quickstart_block() -> str:
    readme = README.read_text(encoding="utf-8")
    after = readme.split("<!-- quickstart -->", 1)[1]
    return after.split("```sh\n", 1)[1].split("```", 1)[0]


def test_the_quickstart_block_is_what_a_reader_copies():
    block = quickstart_block()
    assert block.startswith("meltano init ")
    assert GIT_URL in block
    assert f"http://127.0.0.1:{DEFAULT_PORT}" in block
    assert "  loaders:\n    - name: target-jsonl" in block  # the loader it runs is added
    assert block.count("meltano run tap-happytalk target-jsonl") == 2
    assert 'meltano select tap-happytalk chat_rooms "*"' in block
    assert 'meltano select tap-happytalk chat_messages "*"' in block


def start_local_server() -> tuple[subprocess.Popen[str], str]:
    """`python -m local_happytalk` on any free port; its start-up line says which."""
    process = subprocess.Popen(
        [sys.executable, "-m", "local_happytalk", "--port", "0"],
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    with killed_after(process, 60, "the local server's start-up line"):
        line = process.stdout.readline()
    url = line.split(" on ", 1)[1].split(",", 1)[0]
    assert url.startswith("http://127.0.0.1:"), line
    return process, url


@pytest.mark.timeout(1500)
def test_the_readme_quickstart_runs_verbatim_in_a_fresh_directory(tmp_path):
    script = quickstart_block().replace(GIT_URL, str(PROJECT))
    process, url = start_local_server()
    try:
        script = script.replace(f"http://127.0.0.1:{DEFAULT_PORT}", url)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TAP_", "TARGET_"))},
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        }
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=1400,
            check=False,
        )
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()

    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    project = tmp_path / "happytalk-project"
    output = {
        stream: [
            json.loads(line)
            for line in (project / "output" / f"{stream}.jsonl").read_text().splitlines()
        ]
        for stream in STREAMS
    }
    # The local server's defaults: 40 events and 5 rooms of 8 messages a day, 30 days.
    assert {stream: len(records) for stream, records in output.items()} == {
        "service_history": 30 * 40,
        "chat_rooms": 30 * 5,
        "chat_messages": 30 * 5 * 8,
    }
    for records in output.values():
        assert len({record["id"] for record in records}) == len(records)  # none twice
    state = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else {}
    bookmarks = state["singer_state"]["bookmarks"]
    assert bookmarks["service_history"]["replication_key_value"] == "2024-01-31T00:00:00+09:00"
    assert bookmarks["chat_rooms"]["replication_key_value"] == "2024-01-31T00:00:00+09:00"
    assert "Unknown setting" not in done.stderr
    assert "RuntimeWarning" not in done.stderr
