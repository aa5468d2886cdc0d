"""The README says what the tap says about itself."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from .conftest import run_tap, tap_about

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_settings_table_is_the_one_about_prints():
    about = tap_about("markdown")
    readme = README.read_text(encoding="utf-8")
    rows = [line for line in about.splitlines() if line.startswith("| ")]
    own = [row for row in rows if not row.startswith(("| stream_map", "| faker", "| flatten"))]
    assert len(own) == 17  # the header and sixteen settings
    for row in own:
        assert row in readme, f"README lacks: {row}"


def test_readme_first_screen_has_the_two_commands():
    first_screen = "\n".join(README.read_text(encoding="utf-8").splitlines()[:20])
    assert "make demo" in first_screen
    assert "make test" in first_screen
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci


def test_the_privacy_stream_map_in_the_readme_hashes_logins_and_drops_the_text(
    tmp_path, happytalk, events
):
    readme = README.read_text(encoding="utf-8")
    block = readme.split("<!-- privacy-map -->", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    (plugin,) = yaml.safe_load(block)
    maps_config = plugin["config"]
    maps_config["stream_map_config"]["hash_salt"] = "pepper"
    run = run_tap(
        tmp_path,
        {
            **maps_config,
            "token": happytalk.token,
            "api_url": happytalk.url,
            "start_date": "2024-03-01",
            "end_date": "2024-03-11",
        },
    )

    assert run.returncode == 0, run.stderr
    by_id = {event["id"]: event for event in events}
    assert len(run.records) == len(events)
    for record in run.records:
        assert "request_content" not in record
        login = by_id[record["id"]]["request_user"]
        assert record["request_user"] == hashlib.sha256(f"pepper{login}".encode()).hexdigest()
    assert not any(event["request_user"] in run.stdout for event in events)
    assert "IP" not in run.stdout
