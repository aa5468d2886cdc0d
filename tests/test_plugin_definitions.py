"""Three descriptions of the tap agree: `--about`, meltano.yml and the Meltano Hub definition."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib.metadata import metadata
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource

from .conftest import tap_about

PROJECT = Path(__file__).resolve().parent.parent
HUB_FILE = PROJECT / "hub" / "tap-happytalk.yml"
HUB_SCHEMAS = Path(
    os.environ.get("MELTANO_HUB_SCHEMAS", PROJECT.parent / "shared" / "meltano-hub-schemas")
)

# Meltano setting kinds that can carry each JSON Schema type.
KINDS_FOR_TYPE = {
    "string": {"string", "password", "date_iso8601", "options", "email", "file", "hidden"},
    "integer": {"integer"},
    "number": {"decimal", "integer"},
    "boolean": {"boolean"},
    "object": {"object"},
    "array": {"array"},
}


def words(text: str | None) -> str:
    return " ".join((text or "").split())


@pytest.fixture(scope="module")
def about():
    return json.loads(tap_about("json"))


@pytest.fixture(scope="module")
def meltano_extractor():
    project = yaml.safe_load((PROJECT / "meltano.yml").read_text(encoding="utf-8"))
    (extractor,) = project["plugins"]["extractors"]
    return extractor


@pytest.fixture(scope="module")
def hub():
    return yaml.safe_load(HUB_FILE.read_text(encoding="utf-8"))


def extractor_schema() -> dict[str, object]:
    path = HUB_SCHEMAS / "plugin_definitions" / "extractors.schema.json"
    if not path.is_file():
        pytest.fail(f"Meltano Hub's schemas are not at {HUB_SCHEMAS}; set MELTANO_HUB_SCHEMAS")
    schema: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def hub_registry() -> Registry:
    """Hub's schemas refer to each other by relative paths; resolve them by file name."""
    by_name = {
        path.name: Resource.from_contents(json.loads(path.read_text(encoding="utf-8")))
        for path in HUB_SCHEMAS.rglob("*.schema.json")
    }

    def retrieve(uri: str) -> Resource:
        return by_name[uri.rsplit("/", 1)[-1]]

    return Registry(retrieve=retrieve)  # type: ignore[call-arg]


def test_hub_definition_validates_against_meltano_hubs_schemas(hub):
    validator = Draft7Validator(extractor_schema(), registry=hub_registry())
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(hub)
    ]
    assert errors == []
    assert hub["name"] == "tap-happytalk"
    assert hub["namespace"] == "tap_happytalk"
    assert "meltano_sdk" in hub["keywords"]
    assert (PROJECT / "hub" / "logos" / Path(hub["logo_url"]).name).is_file()


def test_hub_schema_check_is_not_vacuous(hub):
    validator = Draft7Validator(extractor_schema(), registry=hub_registry())
    broken = {**hub, "quality": "platinum", "settings": [{"name": "token", "kind": "secret"}]}
    assert len(list(validator.iter_errors(broken))) >= 2


def test_meltano_yml_and_hub_list_the_same_settings(meltano_extractor, hub):
    assert hub["settings"] == meltano_extractor["settings"]
    assert hub["capabilities"] == meltano_extractor["capabilities"]
    assert hub["settings_group_validation"] == meltano_extractor["settings_group_validation"]
    assert hub["namespace"] == meltano_extractor["namespace"]
    assert hub["executable"] == meltano_extractor["executable"]


def test_every_setting_of_about_is_in_meltano_yml_with_a_matching_kind(about, meltano_extractor):
    properties = about["settings"]["properties"]
    declared = {setting["name"]: setting for setting in meltano_extractor["settings"]}
    assert set(declared) == set(properties)
    for name, prop in properties.items():
        setting = declared[name]
        json_type = next(t for t in prop["type"] if t != "null")
        assert setting["kind"] in KINDS_FOR_TYPE[json_type], name
        assert bool(setting.get("sensitive")) == bool(prop.get("secret")), name
        if prop.get("secret"):
            assert setting["kind"] == "password"
        assert words(setting.get("description")) == words(prop.get("description")), name
        if "default" in prop:
            assert setting.get("value") == prop["default"], name
        if "enum" in prop:
            assert setting["kind"] == "options", name
            assert [option["value"] for option in setting["options"]] == prop["enum"], name
    assert set(about["settings"]["required"]) == set(
        meltano_extractor["settings_group_validation"][0]
    )


def test_capabilities_declared_to_meltano_are_ones_the_tap_has(about, meltano_extractor):
    assert set(meltano_extractor["capabilities"]) <= set(about["capabilities"])
    assert {"state", "catalog", "discover"} <= set(meltano_extractor["capabilities"])


def test_python_versions_and_repository_agree(about, hub):
    urls = dict(
        url.split(", ", 1) for url in metadata("tap-happytalk").get_all("Project-URL") or []
    )
    assert hub["supported_python_versions"] == about["supported_python_versions"]
    assert hub["repo"] == urls["Repository"]
    assert hub["repo"] in hub["pip_url"]


def test_every_plugin_in_meltano_yml_is_defined_inline():
    project = yaml.safe_load((PROJECT / "meltano.yml").read_text(encoding="utf-8"))
    plugins = [p for kind in project["plugins"].values() for p in kind]
    assert {p["name"] for p in plugins} == {"tap-happytalk", "target-jsonl", "target-postgres"}
    for plugin in plugins:
        assert {"namespace", "pip_url", "executable", "settings"} <= set(plugin), plugin["name"]
        assert "inherit_from" not in plugin
    assert project["send_anonymous_usage_stats"] is False


def test_github_workflows_validate_and_pass_zizmor():
    workflows = sorted(str(p) for p in (PROJECT / ".github" / "workflows").glob("*.yml"))
    assert len(workflows) >= 2
    bin_dir = Path(sys.executable).parent
    schema = subprocess.run(
        [bin_dir / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", *workflows],
        capture_output=True,
        text=True,
        check=False,
    )
    assert schema.returncode == 0, schema.stdout + schema.stderr
    audit = subprocess.run(
        [bin_dir / "zizmor", "--offline", "--no-progress", *workflows],
        capture_output=True,
        text=True,
        check=False,
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_workflow_actions_are_pinned_by_commit():
    for workflow in (PROJECT / ".github" / "workflows").glob("*.yml"):
        for action in re.findall(r"uses:\s*(\S+)", workflow.read_text(encoding="utf-8")):
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), action
