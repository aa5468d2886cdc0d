"""The tap, `--about`, meltano.yml and the Meltano Hub definition describe the same plugin.

The Hub definition is checked as Meltano Hub checks every definition: against the Hub's JSON
Schemas and with the Hub's yamllint configuration, both vendored in tests/meltano_hub/ (see its
README). Set MELTANO_HUB_SCHEMAS to a directory laid out like it to check against a newer copy.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib.metadata import metadata
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator, Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from tap_happytalk.tap import TapHappyTalk

from .conftest import documentation, tap_about

PROJECT = Path(__file__).resolve().parent.parent
HUB_FILE = PROJECT / "hub" / "tap-happytalk.yml"
VENDORED = Path(__file__).resolve().parent / "meltano_hub"
HUB_SCHEMAS = Path(os.environ.get("MELTANO_HUB_SCHEMAS") or VENDORED)
SDK_KEYWORD = "meltano_sdk"

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


def by_name(settings: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    named = {setting["name"]: setting for setting in settings}
    assert len(named) == len(settings), "a setting is listed twice"
    return named


@pytest.fixture(scope="module")
def about() -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(tap_about("json"))
    return parsed


@pytest.fixture(scope="module")
def meltano_project() -> dict[str, Any]:
    project: dict[str, Any] = yaml.safe_load((PROJECT / "meltano.yml").read_text(encoding="utf-8"))
    return project


@pytest.fixture(scope="module")
def meltano_extractor(meltano_project) -> dict[str, Any]:
    (extractor,) = meltano_project["plugins"]["extractors"]
    assert extractor["name"] == "tap-happytalk"
    return dict(extractor)


@pytest.fixture(scope="module")
def hub() -> dict[str, Any]:
    definition: dict[str, Any] = yaml.safe_load(HUB_FILE.read_text(encoding="utf-8"))
    return definition


def hub_file(relative: str) -> Path:
    path = HUB_SCHEMAS / relative
    if not path.is_file():
        pytest.fail(f"{relative} is not in {HUB_SCHEMAS} (MELTANO_HUB_SCHEMAS): see {VENDORED}")
    return path


def extractor_validator() -> Draft7Validator:
    """The extractor schema, its references resolved by `$id` as the Hub's own validator does.

    (meltano/hub utility_scripts/plugin_definitions/plugin_schema_validate.py)
    """
    schema = json.loads(
        hub_file("plugin_definitions/extractors.schema.json").read_text(encoding="utf-8")
    )
    resources = []
    for folder in ("common", "plugin_definitions"):
        for path in sorted((HUB_SCHEMAS / folder).glob("*.json")):
            contents = json.loads(path.read_text(encoding="utf-8"))
            resource = Resource.from_contents(contents, default_specification=DRAFT7)
            resources.append((contents["$id"], resource))
    return Draft7Validator(schema, registry=Registry().with_resources(resources))


def schema_errors(definition: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in extractor_validator().iter_errors(definition)
    ]


def yamllint_config() -> Path:
    """`yamllint.yaml` of the vendored layout, or `.yamllint.yaml` of a meltano/hub checkout."""
    for candidate in (HUB_SCHEMAS / "yamllint.yaml", HUB_SCHEMAS.parent / ".yamllint.yaml"):
        if candidate.is_file():
            return candidate
    return hub_file("yamllint.yaml")  # fails, saying where it looked


def yamllint(path: Path) -> subprocess.CompletedProcess[str]:
    """Meltano Hub's lint, as its CI runs it, but strict: warnings count too."""
    return subprocess.run(
        [
            Path(sys.executable).parent / "yamllint",
            "--strict",
            "--format=parsable",
            f"--config-file={yamllint_config()}",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def setting_leaves(about: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`--about`'s settings as Meltano Hub lists them: an object with properties by its leaves.

    `faker_config` becomes `faker_config.seed` and `faker_config.locale`; `stream_maps` stays
    whole (meltano/hub hub-utils/hub_utils/meltano_util.py, `_traverse_schema_properties`).
    """
    leaves = {}
    for name, prop in about["settings"]["properties"].items():
        if "object" in prop.get("type", []) and prop.get("properties") and name != "stream_maps":
            leaves.update({f"{name}.{sub}": leaf for sub, leaf in prop["properties"].items()})
        else:
            leaves[name] = prop
    return leaves


def json_types(prop: dict[str, Any]) -> set[str]:
    """The non-null JSON types a property accepts, also through `oneOf`."""
    declared = prop.get("type", [])
    types = {declared} if isinstance(declared, str) else set(declared)
    for option in prop.get("oneOf", []):
        types |= json_types(option)
    return types - {"null"}


def test_vendored_hub_copy_is_complete_and_says_where_it_came_from():
    readme = (VENDORED / "README.md").read_text(encoding="utf-8")
    assert "meltano/hub" in readme
    vendored = sorted(
        str(path.relative_to(VENDORED))
        for path in VENDORED.rglob("*")
        if path.is_file() and path.name != "README.md"
    )
    assert vendored == [
        "LICENSE",
        "common/base_setting.schema.json",
        "common/common.schema.json",
        "common/extractors_specific.schema.json",
        "plugin_definitions/extractors.schema.json",
        "plugin_definitions/hub_metadata.schema.json",
        "yamllint.yaml",
    ]
    for name in vendored:
        assert f"`{name}`" in readme, name
    licence = (VENDORED / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in licence
    assert "Version 2.0, January 2004" in licence


def test_hub_definition_validates_against_meltano_hubs_schemas(hub):
    assert schema_errors(hub) == []
    assert hub["name"] == "tap-happytalk"
    assert hub["namespace"] == "tap_happytalk"
    assert {"api", SDK_KEYWORD} <= set(hub["keywords"])
    assert (PROJECT / "hub" / "logos" / Path(hub["logo_url"]).name).is_file()


def test_hub_schema_check_is_not_vacuous(hub):
    broken = {
        **hub,
        "quality": "platinum",
        "capabilities": [*hub["capabilities"], "teleport"],
        "settings": [{"name": "token", "kind": "secret"}],
    }
    errors = schema_errors(broken)
    assert len(errors) >= 3, errors
    assert schema_errors({key: value for key, value in hub.items() if key != "quality"})


def test_hub_definition_passes_meltano_hubs_yamllint():
    done = yamllint(HUB_FILE)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_hub_yamllint_check_is_not_vacuous(tmp_path):
    lines = HUB_FILE.read_text(encoding="utf-8").splitlines(keepends=True)
    (quality,) = [i for i, line in enumerate(lines) if line.startswith("quality:")]
    (repo,) = [i for i, line in enumerate(lines) if line.startswith("repo:")]
    assert repo == quality + 1  # two neighbouring one-line keys
    lines[quality], lines[repo] = lines[repo], lines[quality]
    swapped = tmp_path / HUB_FILE.name
    swapped.write_text("".join(lines), encoding="utf-8")
    assert yaml.safe_load(swapped.read_text(encoding="utf-8")) == yaml.safe_load(
        HUB_FILE.read_text(encoding="utf-8")
    )
    done = yamllint(swapped)
    assert done.returncode != 0
    assert "(key-ordering)" in done.stdout
    assert '"quality"' in done.stdout


def readme() -> str:
    return (PROJECT / "README.md").read_text(encoding="utf-8")


def test_capabilities_agree_in_the_tap_about_meltano_yml_the_hub_and_readme(
    about, meltano_extractor, hub
):
    """The tap states its capabilities once; `--about`, meltano.yml, the Hub, README repeat them.

    The README's quick start defines the extractor inline too: its capabilities are the same.
    """
    tap = [capability.value for capability in TapHappyTalk.capabilities]
    assert len(set(tap)) == len(tap)
    assert about["capabilities"] == tap
    assert sorted(meltano_extractor["capabilities"]) == sorted(tap)
    assert sorted(hub["capabilities"]) == sorted(tap)
    assert hub["capabilities"] == sorted(hub["capabilities"])  # the Hub lists them sorted
    stated = documentation().split("<!-- capabilities -->", 1)[1].split(".\n", 1)[0]
    assert sorted(re.findall(r"`([a-z-]+)`", stated)) == sorted(tap)
    quickstart = readme().split("<!-- quickstart -->", 1)[1].split("```", 2)[1]
    listed = re.search(r"capabilities: \[(.*)\]", quickstart)
    assert listed, "the quick start's extractor lists its capabilities"
    assert sorted(c.strip() for c in listed[1].split(",")) == sorted(tap)


def pyproject_description() -> str:
    found = re.search(
        r'^description = "(.*)"$',
        (PROJECT / "pyproject.toml").read_text(encoding="utf-8"),
        re.MULTILINE,
    )
    assert found, "pyproject.toml has a one-line description"
    return found[1]


def test_descriptions_say_what_the_tap_extracts_today(about, hub):
    """`--about`, the package, pyproject.toml, the Hub and the README name every stream kind.

    `--about`'s description is the package's: the Tap class's docstring, also the package's.
    """
    import tap_happytalk  # noqa: PLC0415 - its docstring is the subject

    assert about["description"] == pyproject_description() == tap_happytalk.__doc__
    described = {
        "--about": about["description"],
        "hub description": hub["description"],
        "hub definition": hub["definition"],
        "README": readme().split("\n\n", 2)[1],  # its first paragraph
    }
    for where, text in described.items():
        words = " ".join(text.lower().split())
        assert "service history" in words, where
        assert "consultations" in words, where
        assert "message" in words, where
    for where in ("--about", "hub description"):
        assert "opt-in" in described[where], where


def test_the_readme_says_what_a_hub_install_selects(hub, meltano_extractor):
    assert hub["select"] == ["service_history.*"]
    text = " ".join(documentation().split())
    assert "the Hub definition selects `service_history.*` only" in text
    assert meltano_extractor["select"] == [
        "service_history.*",
        "chat_rooms.*",
        "chat_messages.*",
    ]


def test_meltano_and_the_hub_parse_the_taps_structured_logs(about, meltano_extractor, hub):
    """Meltano turns on the SDK's JSON logs, and parses them, only for `structured-logging`.

    meltano/core/plugin_invoker.py `get_log_parser`: the parser is the `log_parser` extra (by
    default `singer-sdk`) only if the plugin's capabilities include `structured-logging`. The Hub
    adds `log_parser: singer-sdk` to SDK plugins that have it (hub_utils/utilities.py).
    """
    assert "structured-logging" in about["capabilities"]
    assert meltano_extractor["log_parser"] == "singer-sdk"
    assert hub["log_parser"] == "singer-sdk"
    assert SDK_KEYWORD in hub["keywords"]


def test_meltano_yml_and_hub_list_the_same_settings(meltano_extractor, hub):
    assert by_name(hub["settings"]) == by_name(meltano_extractor["settings"])
    assert [s["name"] for s in hub["settings"]] == sorted(s["name"] for s in hub["settings"])
    for key in ("settings_group_validation", "namespace", "executable"):
        assert hub[key] == meltano_extractor[key], key


def test_settings_are_abouts_with_the_sdks_settings_by_their_leaves(about, meltano_extractor):
    """meltano.yml (and so the Hub file) lists every setting of `--about`, as the Hub would."""
    leaves = setting_leaves(about)
    declared = by_name(meltano_extractor["settings"])
    assert sorted(declared) == sorted(leaves)
    assert {"faker_config.seed", "faker_config.locale", "stream_maps"} <= set(declared)
    assert not {"faker_config", "batch_config"} & set(declared)
    for name, prop in leaves.items():
        setting = declared[name]
        kinds = set().union(*(KINDS_FOR_TYPE[t] for t in json_types(prop)))
        assert setting["kind"] in kinds, name
        assert setting["label"] == prop["title"], name
        assert words(setting["description"]) == words(prop["description"]), name
        assert setting.get("value") == prop.get("default"), name
        assert bool(setting.get("sensitive")) == bool(prop.get("secret")), name
        if prop.get("secret"):
            assert setting["kind"] == "password", name
        if "enum" in prop:
            assert setting["kind"] == "options", name
            assert [option["value"] for option in setting["options"]] == prop["enum"], name
    assert meltano_extractor["settings_group_validation"] == [about["settings"]["required"]]


def test_python_versions_package_and_repository_agree(about, hub):
    package = metadata("tap-happytalk")
    urls = dict(url.split(", ", 1) for url in package.get_all("Project-URL") or [])
    assert hub["supported_python_versions"] == about["supported_python_versions"]
    assert hub["pip_url"] == package["Name"]
    assert hub["executable"] == about["name"]
    assert hub["repo"] == urls["Repository"]
    assert hub["docs"] == urls["Documentation"]
    assert hub["variant"] == hub["repo"].rstrip("/").split("/")[-2].lower()  # the Hub's rule


def test_every_plugin_in_meltano_yml_is_defined_inline(meltano_project):
    plugins = [p for kind in meltano_project["plugins"].values() for p in kind]
    assert {p["name"] for p in plugins} == {
        "tap-happytalk",
        "target-jsonl",
        "target-postgres",
        "dbt-postgres",
    }
    for plugin in plugins:
        assert {"namespace", "pip_url", "executable", "settings"} <= set(plugin), plugin["name"]
        assert "inherit_from" not in plugin
    assert meltano_project["send_anonymous_usage_stats"] is False


def test_meltano_yml_validates_against_meltanos_own_schema(meltano_project):
    """Meltano ships the JSON Schema of meltano.yml; `log_parser`, jobs and schedules are in it."""
    schema = json.loads(
        files("meltano.schemas").joinpath("meltano.schema.json").read_text(encoding="utf-8")
    )
    validator = Draft202012Validator(schema)
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(meltano_project)
    ]
    assert errors == []
    assert list(validator.iter_errors({**meltano_project, "schedules": [{"name": "x"}]}))
    assert {job["name"] for job in meltano_project["jobs"]} == {
        schedule["job"] for schedule in meltano_project["schedules"]
    }
