"""What users copy from the README works: its settings table, first commands and stream maps.

These read the README's contracts (the table `--about` prints, code blocks to paste), never
its sentences: a reworded paragraph changes no test here.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from local_happytalk.chats import CHAT_DATA_PATH, CHAT_ROOM_LISTS_PATH, sample_rooms
from local_happytalk.server import Fault, LocalHappyTalk, sample_events
from tap_happytalk.settings import OWN_SETTINGS
from tap_happytalk.tap import TapHappyTalk

from .conftest import (
    DOCUMENTATION,
    FIRST_DAY,
    catalog_selecting,
    documentation,
    run_tap,
    tap_about,
    write_json,
)

pytestmark = pytest.mark.timeout(180)

CHATS = ("chat_rooms", "chat_messages")
README = Path(__file__).resolve().parent.parent / "README.md"
EVERY_STREAM = frozenset({"service_history", "chat_rooms", "chat_messages"})


def test_readme_settings_table_is_the_one_about_prints():
    about = tap_about("markdown")
    readme = README.read_text(encoding="utf-8")
    rows = [line for line in about.splitlines() if line.startswith("| ")]
    own = [row for row in rows if not row.startswith(("| stream_map", "| faker", "| flatten"))]
    # The header, then a row for each of the tap's own settings.
    assert len(own) == 1 + len(OWN_SETTINGS)
    for row in own:
        assert row in readme, f"README lacks: {row}"


def test_readme_first_screen_commands_are_make_targets_ci_runs():
    first_screen = "\n".join(README.read_text(encoding="utf-8").splitlines()[:20])
    block = re.search(r"```sh\n(.*?)```", first_screen, re.DOTALL)
    assert block, "the first screen has a shell block to copy"
    commands = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()]
    assert commands == ["make demo", "make test"]
    makefile = (README.parent / "Makefile").read_text(encoding="utf-8")
    for command in commands:
        target = command.removeprefix("make ")
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), f"no make target {target}"
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci


def test_the_privacy_stream_map_in_the_readme_hashes_logins_and_drops_the_text(
    tmp_path, happytalk, events
):
    readme = documentation()
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


def test_the_privacy_maps_in_the_readme_drop_a_personal_field_happytalk_adds(tmp_path):
    """A field no schema describes lands in extra_fields: the maps drop it until read."""
    readme = documentation()
    maps: dict[str, Any] = {"stream_map_config": {"hash_salt": "pepper"}, "stream_maps": {}}
    for marker in ("<!-- privacy-map -->", "<!-- privacy-map-chats -->"):
        block = readme.split(marker, 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
        (plugin,) = yaml.safe_load(block)
        maps["stream_maps"].update(plugin["config"]["stream_maps"])
    phone = "010-9876-5432"
    rooms = sample_rooms(FIRST_DAY, 2, 3, 3)
    with LocalHappyTalk(sample_events(FIRST_DAY, 2, 3), rooms=rooms) as server:
        added = {"customer_phone": phone}
        row = {
            "id": "900001",
            "type": "A",
            "kind": "S",
            "request_user": "lc-kim",
            "request_date": "2024-03-01 10:00:00",
            **added,
        }
        server.inject(Fault("extra_rows", rows=[row]), day="2024-03-01")
        for path in (CHAT_ROOM_LISTS_PATH, CHAT_DATA_PATH):
            server.inject(Fault("edit_rooms", body=added), path=path, times=100)
        server.inject(Fault("edit_messages", body=added), path=CHAT_DATA_PATH, times=100)
        config = {
            **maps,
            "token": server.token,
            "api_url": server.url,
            "start_date": "2024-03-01",
            "end_date": "2024-03-03",
        }
        catalog = write_json(tmp_path / "catalog.json", catalog_selecting(EVERY_STREAM))
        run = run_tap(tmp_path, config, args=("--catalog", str(catalog)))
        bare = run_tap(
            tmp_path,
            {k: v for k, v in config.items() if k != "stream_maps"},
            args=("--catalog", str(catalog)),
        )

    assert run.returncode == bare.returncode == 0, run.stderr
    assert phone in bare.stdout, "without the maps, the added field is kept in extra_fields"
    assert {m["stream"] for m in run.messages if m["type"] == "RECORD"} == EVERY_STREAM
    assert phone not in run.stdout


def test_the_chats_privacy_stream_map_in_the_readme_drops_what_customers_wrote(tmp_path):
    readme = documentation()
    block = readme.split("<!-- privacy-map-chats -->", 1)[1]
    (plugin,) = yaml.safe_load(block.split("```yaml", 1)[1].split("```", 1)[0])
    maps_config = plugin["config"]
    maps_config["stream_map_config"]["hash_salt"] = "pepper"
    rooms = sample_rooms(FIRST_DAY, 2, 6, 6)
    with LocalHappyTalk(rooms=rooms) as server:
        config = {
            **maps_config,
            "token": server.token,
            "api_url": server.url,
            "start_date": "2024-03-01",
            "end_date": "2024-03-03",
        }
        catalog = write_json(tmp_path / "catalog.json", catalog_selecting(CHATS))
        run = run_tap(tmp_path, config, args=("--catalog", str(catalog)))

    assert run.returncode == 0, run.stderr
    records: dict[str, list[dict[str, Any]]] = {"chat_rooms": [], "chat_messages": []}
    for message in run.messages:
        if message["type"] == "RECORD":
            records[message["stream"]].append(message["record"])
    rooms_by_id = {room["chat"]["id"]: room["chat"] for room in rooms}
    assert {r["id"] for r in records["chat_rooms"]} == set(rooms_by_id)
    for record in records["chat_rooms"]:
        assert record["customer_uuid"] == salted(rooms_by_id[record["id"]]["customer_uuid"])
        assert not {"title", "last_message", "user_parameter", "vote_comment"} & set(record)
    sent = {m["id"]: m for room in rooms for m in room["message"]}
    assert {m["id"] for m in records["chat_messages"]} == set(sent)
    assert all("contents" not in record for record in records["chat_messages"])
    assert all(
        record["from_id"] == salted(sent[record["id"]]["from_id"])
        for record in records["chat_messages"]
        if sent[record["id"]]["from_id"]
    )
    written = [m["contents"] for room in rooms for m in room["message"] if m["user_type"] == "C"]
    assert not [text for text in written if text in run.stdout]
    assert not [
        chat["customer_uuid"]
        for chat in rooms_by_id.values()
        if chat["customer_uuid"] in run.stdout
    ]
    assert "010-" not in run.stdout


def salted(value: str) -> str:
    return hashlib.sha256(f"pepper{value}".encode()).hexdigest()


def test_the_duckdb_file_make_demo_writes_is_the_one_the_readmes_say_to_query():
    """`make demo` builds into output/ (scripts/analytics.py); dbt by hand, profiles.yml's path."""
    project = README.parent
    database = re.search(
        r'^DATABASE_NAME = "([^"]+)"$',
        (project / "scripts" / "analytics.py").read_text(encoding="utf-8"),
        re.MULTILINE,
    )
    assert database, "scripts/analytics.py names the database it builds"
    demo = f"output/{database[1]}"
    profile = re.search(
        r"HAPPYTALK_DUCKDB_PATH', '([^']+)'",
        (project / "transform" / "profiles.yml").read_text(encoding="utf-8"),
    )
    assert profile, "transform/profiles.yml has a default DuckDB path"
    texts = [documentation(), (project / "transform" / "README.md").read_text()]
    queried = {path for text in texts for path in re.findall(r"duckdb\.connect\('([^']+)'", text)}
    assert queried <= {demo, profile[1]}
    said = " ".join(" ".join(texts).split())
    assert f"`{demo}`" in said  # where `make demo` leaves the models is said


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_readme_is_short_and_links_every_page_under_docs():
    readme = README.read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 300
    linked = set(re.findall(r"\]\(docs/([^)#]+\.md)", readme))
    pages = {path.name for path in (README.parent / "docs").glob("*.md")}
    assert pages <= linked, f"pages the README does not link: {sorted(pages - linked)}"


def test_every_relative_link_in_the_documentation_leads_to_a_file_and_heading():
    project = README.parent
    pages = [*DOCUMENTATION, project / "transform" / "README.md", project / "CHANGELOG.md"]
    broken = []
    for page in pages:
        prose = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
        for link in re.findall(r"\]\(([^)\s]+)\)", prose):
            if link.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = link.partition("#")
            target = (page.parent / path).resolve() if path else page
            if not target.exists():
                broken.append(f"{page.name}: {link} (no such file)")
            elif anchor and target.suffix == ".md":
                headings = re.findall(r"(?m)^#+ (.*)$", target.read_text(encoding="utf-8"))
                if anchor not in {_slug(heading) for heading in headings}:
                    broken.append(f"{page.name}: {link} (no such heading)")
    assert broken == []


def test_the_documented_number_of_passes_of_a_moving_day_is_the_codes():
    from tap_happytalk.streams.room_list import MAX_PASSES  # noqa: PLC0415

    words = {3: "three", 4: "four", 5: "five", 6: "six"}
    text = " ".join(documentation().split())
    assert f"at most {words[MAX_PASSES]} passes" in text
    assert f"keeps changing for {words[MAX_PASSES]} passes" in text


def test_the_readmes_stream_table_is_the_taps():
    tap = TapHappyTalk(config={}, validate_config=False)
    rows = {
        cells[0].strip("`"): cells
        for line in README.read_text(encoding="utf-8").splitlines()
        if line.startswith("| `")
        and len(cells := [cell.strip() for cell in line.strip("|").split("|")]) == 5
    }
    assert set(rows) == set(tap.streams)
    for name, stream in tap.streams.items():
        _, _, key, replication_key, selected = rows[name]
        assert key == ", ".join(f"`{k}`" for k in stream.primary_keys)
        if stream.replication_key:
            assert replication_key == f"`{stream.replication_key}`"
        else:
            assert replication_key.startswith("none")
        assert selected == ("by default" if stream.selected_by_default else "opt-in")


def test_the_readmes_demo_times_are_the_ones_first_demo_printed():
    """README's seconds are the table benchmarks/first_demo.py printed (docs/DEVELOPMENT.md)."""
    development = (README.parent / "docs" / "DEVELOPMENT.md").read_text(encoding="utf-8")
    table = development.split("<!-- first-demo -->\n", 1)[1]
    row = table.splitlines()[2]
    first, again = (int(cell.strip().removesuffix(" s")) for cell in row.split("|")[4:6])
    readme = " ".join(README.read_text(encoding="utf-8").split())
    assert f"The first `make demo` takes about {first} seconds" in readme
    assert f"(the next one about {again} s)" in readme
    assert first < 90  # the bound for a fresh clone on this machine
