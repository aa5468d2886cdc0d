"""The README's quick starts, run exactly as written in a fresh directory.

The commands are read from the README's blocks (`<!-- quickstart -->` for Meltano,
`<!-- quickstart-standalone -->`, `<!-- quickstart-package -->` for the dbt package), so the
tests and the README cannot drift. The fresh directory holds the clone as the README has it,
`tap-happytalk/` beside the new project (here a link to this checkout), so `pip_url:
../tap-happytalk` and `local: ../tap-happytalk/transform` are used as written. The local server
is started as `make server` starts it, `python -m local_happytalk`, on the README's port 8765;
only when that port is taken on this machine is the address the server got put in its place.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from local_happytalk.server import DEFAULT_PORT

from .conftest import PROJECT, killed_after

README = PROJECT / "README.md"
README_URL = f"http://127.0.0.1:{DEFAULT_PORT}"
STREAMS = ("service_history", "chat_rooms", "chat_messages")


def readme_block(marker: str) -> str:
    """The shell block right after `<!-- marker -->` in the README."""
    readme = README.read_text(encoding="utf-8")
    after = readme.split(f"<!-- {marker} -->\n", 1)[1]
    return after.split("```sh\n", 1)[1].split("```", 1)[0]


def quickstart_block() -> str:
    return readme_block("quickstart")


def test_the_quickstart_block_is_what_a_reader_copies():
    block = quickstart_block()
    assert block.startswith("meltano init ")
    assert "pip_url: ../tap-happytalk\n" in block  # the clone, beside the project
    assert "github.com" not in block  # nothing that is not released yet
    assert README_URL in block
    assert "  loaders:\n    - name: target-jsonl" in block  # the loader it runs is added
    assert block.count("meltano run tap-happytalk target-jsonl") == 2
    assert 'meltano select tap-happytalk chat_rooms "*"' in block
    assert 'meltano select tap-happytalk chat_messages "*"' in block


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start_local_server() -> tuple[subprocess.Popen[str], str]:
    """`python -m local_happytalk`, on the README's port if it is free; its start-up line says
    where it listens."""
    port = DEFAULT_PORT if port_is_free(DEFAULT_PORT) else 0
    process = subprocess.Popen(
        [sys.executable, "-m", "local_happytalk", "--port", str(port)],
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


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    process.wait(timeout=30)
    if process.stdout is not None:
        process.stdout.close()


def beside_a_clone(tmp_path: Path) -> Path:
    """A fresh directory holding the clone as `tap-happytalk/`, as the README lays it out."""
    (tmp_path / "tap-happytalk").symlink_to(PROJECT, target_is_directory=True)
    return tmp_path


def run_block(
    script: str, cwd: Path, url: str, timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a README block with bash, strict, as a reader's shell would, with this venv on PATH
    and none of the developer's own settings (`env` adds the reader's)."""
    mine = ("TAP_", "TARGET_", "DBT_", "PG")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(mine)},
        **(env or {}),
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script.replace(README_URL, url)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.timeout(1500)
def test_the_meltano_quickstart_and_then_the_dbt_package_run_verbatim(tmp_path):
    here = beside_a_clone(tmp_path)
    process, url = start_local_server()
    try:
        done = run_block(quickstart_block(), here, url, timeout=900)
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
        package = run_block(readme_block("quickstart-package"), here, url, timeout=500)
    finally:
        stop(process)

    project = here / "happytalk-project"
    output = {stream: jsonl(project / "output" / f"{stream}.jsonl") for stream in STREAMS}
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

    # The dbt package, installed from the clone into a project of the reader's own, built on
    # DuckDB over what the Meltano quick start wrote.
    assert package.returncode == 0, f"{package.stdout[-5000:]}\n{package.stderr[-5000:]}"
    results = json.loads((here / "my-analytics" / "target" / "run_results.json").read_text())
    built = {r["unique_id"] for r in results["results"] if r["unique_id"].startswith("model.")}
    assert "model.happytalk.room_response_times" in built
    assert {r["status"] for r in results["results"]} <= {"success", "pass"}
    import duckdb  # noqa: PLC0415 - only this test reads the reader's database

    with duckdb.connect(str(here / "my-analytics" / "analytics.duckdb"), read_only=True) as db:
        schemas = db.execute(
            "select table_schema from information_schema.tables "
            "where table_name = 'room_response_times'"
        ).fetchall()
        ((schema,),) = schemas
        rooms = db.execute(f'select count(*) from "{schema}".room_response_times').fetchone()
    assert rooms == (30 * 5,)


@pytest.mark.timeout(600)
def test_the_standalone_quickstart_runs_verbatim(tmp_path):
    process, url = start_local_server()
    try:
        done = run_block(readme_block("quickstart-standalone"), tmp_path, url, timeout=500)
    finally:
        stop(process)

    assert done.returncode == 0, done.stderr
    first = [json.loads(line) for line in (tmp_path / "first.singer").read_text().splitlines()]
    every = [json.loads(line) for line in (tmp_path / "all.singer").read_text().splitlines()]
    later = [json.loads(line) for line in (tmp_path / "next.singer").read_text().splitlines()]
    streams = {m["stream"] for m in first if m["type"] == "RECORD"}
    assert streams == {"service_history"}  # without --select or a catalog
    counts = {
        s: sum(1 for m in every if m["type"] == "RECORD" and m["stream"] == s) for s in STREAMS
    }
    assert counts == {"service_history": 15 * 40, "chat_rooms": 15 * 5, "chat_messages": 15 * 5 * 8}
    state = json.loads((tmp_path / "state.json").read_text())
    assert set(state["bookmarks"]) >= {"service_history", "chat_rooms"}
    # The later run starts from that state: no service history is read twice.
    assert not [m for m in later if m["type"] == "RECORD" and m["stream"] == "service_history"]
