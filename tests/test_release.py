"""Releasing: the workflows, the built distributions, and pre-commit kept equal to `make lint`."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import copy_project, tap_env

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
GITHUB = PROJECT / ".github"
WORKFLOWS = GITHUB / "workflows"
DEPENDABOT = GITHUB / "dependabot.yml"
TAG = "v1.2.3"
TAG_VERSION = "1.2.3"
# hatch-vcs's answer for a tree without git history (pyproject.toml, fallback_version).
FALLBACK_VERSION = "0.0.0"


def run(
    command: list[str | Path], *, cwd: Path = PROJECT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def workflow_files() -> list[Path]:
    return sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])


def load_yaml(path: Path) -> dict[Any, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), path
    return loaded


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the key `on` as the boolean true.
    found = workflow.get("on", workflow.get(True))
    assert isinstance(found, dict)
    return found


def run_commands(job: dict[str, Any]) -> list[str]:
    return [" ".join(str(step["run"]).split()) for step in job["steps"] if "run" in step]


def step_using(job: dict[str, Any], action: str) -> dict[str, Any]:
    (step,) = [s for s in job["steps"] if str(s.get("uses", "")).startswith(f"{action}@")]
    return dict(step)


# Workflows and Dependabot


def test_workflows_and_dependabot_config_validate_and_pass_zizmor():
    workflows = workflow_files()
    assert {path.name for path in workflows} == {"ci.yml", "release.yml", "sdk-canary.yml"}
    for schema, files in (
        ("vendor.github-workflows", workflows),
        ("vendor.dependabot", [DEPENDABOT]),
    ):
        checked = run([BIN / "check-jsonschema", "--builtin-schema", schema, *files])
        assert checked.returncode == 0, checked.stdout + checked.stderr
    # zizmor audits dependabot.yml too (a cooldown, among others).
    audit = run([BIN / "zizmor", "--offline", "--no-progress", *workflows, DEPENDABOT])
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_workflow_actions_are_pinned_by_commit_with_the_version_in_a_comment():
    pins: dict[str, set[str]] = {}
    for workflow in workflow_files():
        for line in workflow.read_text(encoding="utf-8").splitlines():
            uses = re.search(r"\buses:\s*(\S+)(.*)", line)
            if uses is None:
                continue
            action, comment = uses.groups()
            # A tag or branch can be moved to other code; a commit cannot.
            pinned = re.fullmatch(r"([\w.-]+/[\w.-]+)@([0-9a-f]{40})", action)
            assert pinned, f"{workflow.name}: {line.strip()}"
            # The comment is what Dependabot rewrites, and what a reviewer reads.
            assert re.fullmatch(r"\s*# v\d+\.\d+\.\d+", comment), f"{workflow.name}: {line.strip()}"
            pins.setdefault(pinned[1], set()).add(f"{pinned[2]} {comment.strip()}")
    assert {"actions/checkout", "pypa/gh-action-pypi-publish"} <= set(pins)
    # One version of each action everywhere, so a half-done update cannot hide in one file.
    assert {name: versions for name, versions in pins.items() if len(versions) > 1} == {}


def test_release_workflow_builds_every_push_and_publishes_only_tags_without_a_stored_secret():
    text = (WORKFLOWS / "release.yml").read_text(encoding="utf-8")
    workflow = load_yaml(WORKFLOWS / "release.yml")
    on = triggers(workflow)
    assert on["push"] == {"tags": ["v*"]}
    assert "workflow_dispatch" in on
    assert workflow["permissions"] in ({}, {"contents": "read"})

    build = workflow["jobs"]["build"]
    checkout = step_using(build, "actions/checkout")["with"]
    # Without the tags, hatch-vcs would build the fallback version.
    assert checkout["fetch-depth"] == 0
    assert checkout["persist-credentials"] is False
    commands = run_commands(build)
    assert "python -m build" in commands
    assert "python -m twine check --strict dist/*" in commands
    assert any("unzip -Z1 dist/*.whl" in command for command in commands)
    assert step_using(build, "actions/upload-artifact")["with"]["path"] == "dist/"

    publish = workflow["jobs"]["publish"]
    assert publish["needs"] == "build"
    assert "github.ref_type == 'tag'" in publish["if"]
    assert "github.event_name == 'push'" in publish["if"]
    assert publish["environment"]["name"] == "pypi"
    assert publish["permissions"] == {"id-token": "write"}
    assert step_using(publish, "actions/download-artifact")["with"]["name"] == "dist"
    # Trusted publishing: the action gets no password, and the workflow reads no secret.
    assert "with" not in step_using(publish, "pypa/gh-action-pypi-publish")
    assert "secrets." not in text


def test_sdk_canary_runs_the_suite_weekly_on_the_newest_singer_sdk_prereleases_included():
    canary = load_yaml(WORKFLOWS / "sdk-canary.yml")
    on = triggers(canary)
    assert [entry["cron"] for entry in on["schedule"]]
    assert "workflow_dispatch" in on
    (job,) = canary["jobs"].values()
    commands = run_commands(job)
    upgrade = ".venv/bin/python -m pip install --upgrade --pre 'singer-sdk[msgspec]'"
    # The upgrade must come after `make install` (which would put the pinned SDK back) and
    # before the tests.
    install = commands.index("make install")
    tests = next(i for i, command in enumerate(commands) if command.startswith(".venv/bin/pytest"))
    assert install < commands.index(upgrade) < tests


# The built distributions


@dataclass(frozen=True)
class Built:
    """The sdist and wheel built from a copy of the project tagged TAG."""

    wheel: Path
    sdist: Path
    untagged_version: str


def hermetic_env() -> dict[str, str]:
    """No version override and no personal git configuration can reach the build."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SETUPTOOLS_SCM_", "HATCH_", "GIT_"))
    }
    env |= {
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Release test",
        "GIT_AUTHOR_EMAIL": "release-test@example.invalid",
        "GIT_COMMITTER_NAME": "Release test",
        "GIT_COMMITTER_EMAIL": "release-test@example.invalid",
    }
    return env


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("release")
    project = copy_project(root / "project")
    env = hermetic_env()

    untagged = run([sys.executable, "-m", "hatchling", "version"], cwd=project, env=env)
    assert untagged.returncode == 0, untagged.stderr

    for git in (
        ["init", "--quiet"],
        ["add", "--all"],
        ["commit", "--quiet", "--no-verify", "--message", "Release"],
        ["tag", TAG],
    ):
        done = run(["git", *git], cwd=project, env=env)
        assert done.returncode == 0, done.stderr

    # One command builds the sdist and then the wheel from the unpacked sdist, as the
    # release workflow does; --no-isolation takes hatchling and hatch-vcs from this venv.
    dist = root / "dist"
    build = run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, "."],
        cwd=project,
        env=env,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    return Built(wheel, sdist, untagged.stdout.strip())


def test_version_is_the_git_tag_and_falls_back_to_0_0_0_without_git_history(built: Built):
    assert built.untagged_version == FALLBACK_VERSION
    assert built.wheel.name == f"tap_happytalk-{TAG_VERSION}-py3-none-any.whl"
    assert built.sdist.name == f"tap_happytalk-{TAG_VERSION}.tar.gz"
    with zipfile.ZipFile(built.wheel) as wheel:
        metadata = wheel.read(f"tap_happytalk-{TAG_VERSION}.dist-info/METADATA").decode()
    assert HeaderParser().parsestr(metadata)["Version"] == TAG_VERSION


def test_wheel_holds_only_the_tap_package_and_its_metadata_with_the_licence(built: Built):
    with zipfile.ZipFile(built.wheel) as wheel:
        names = wheel.namelist()
        metadata = HeaderParser().parsestr(
            wheel.read(f"tap_happytalk-{TAG_VERSION}.dist-info/METADATA").decode()
        )
        licence = wheel.read(f"tap_happytalk-{TAG_VERSION}.dist-info/licenses/LICENSE")
    dist_info = f"tap_happytalk-{TAG_VERSION}.dist-info/"
    assert [n for n in names if not n.startswith(("tap_happytalk/", dist_info))] == []
    top_level = {name.split("/", 1)[0] for name in names}
    assert top_level == {"tap_happytalk", dist_info.rstrip("/")}
    assert "tap_happytalk/tap.py" in names
    assert licence == (PROJECT / "LICENSE").read_bytes()
    assert b"Apache License" in licence
    assert b"Version 2.0, January 2004" in licence
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata.get_all("License-File") == ["LICENSE"]


def test_sdist_holds_the_licence_and_what_its_tests_import_but_no_ci_files(built: Built):
    prefix = f"tap_happytalk-{TAG_VERSION}/"
    with tarfile.open(built.sdist) as sdist:
        names = {name.removeprefix(prefix) for name in sdist.getnames()}
    assert {"LICENSE", "PKG-INFO", "pyproject.toml", "tap_happytalk/tap.py"} <= names
    assert "local_happytalk/server.py" in names  # tests/conftest.py imports it
    assert not [name for name in names if name.startswith((".github/", ".ci/"))]


def test_both_distributions_pass_twine_check_strict(built: Built):
    checked = run([BIN / "twine", "check", "--strict", built.wheel, built.sdist])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("PASSED") == 2, checked.stdout


def test_installed_wheel_runs_without_the_checkout_and_reports_the_tag_version(
    built: Built, tmp_path: Path
):
    # The wheel alone, on top of this venv's dependencies: the project's own tap_happytalk
    # (installed editable) is shadowed by PYTHONPATH, and the working directory is elsewhere.
    site = tmp_path / "site"
    installed = run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-compile",
            "--disable-pip-version-check",
            "--target",
            site,
            built.wheel,
        ],
        cwd=tmp_path,
    )
    assert installed.returncode == 0, installed.stderr
    env = tap_env() | {"PYTHONPATH": str(site)}
    about = run(
        [sys.executable, "-m", "tap_happytalk", "--about", "--format=json"], cwd=tmp_path, env=env
    )
    assert about.returncode == 0, about.stderr
    assert json.loads(about.stdout)["version"] == TAG_VERSION
    where = run(
        [sys.executable, "-c", "import tap_happytalk; print(tap_happytalk.__file__)"],
        cwd=tmp_path,
        env=env,
    )
    assert Path(where.stdout.strip()).is_relative_to(site)


def test_ci_tests_every_python_the_wheel_promises(built: Built):
    with zipfile.ZipFile(built.wheel) as wheel:
        metadata = HeaderParser().parsestr(
            wheel.read(f"tap_happytalk-{TAG_VERSION}.dist-info/METADATA").decode()
        )
    promised = [
        classifier.rsplit(" :: ", 1)[1]
        for classifier in metadata.get_all("Classifier", [])
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", classifier)
    ]
    assert promised
    ci = load_yaml(WORKFLOWS / "ci.yml")
    assert ci["jobs"]["test"]["strategy"]["matrix"]["python-version"] == promised


# pre-commit


def make(*args: str) -> list[str]:
    # A make running this suite (`make test`) passes its flags down; they must not change ours.
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    done = run(["make", "--no-print-directory", *args], env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def make_lint_commands() -> list[str]:
    """What `make lint` runs, as make itself expands it."""
    # lint depends on the venv stamp; naming it "old" keeps the venv's install recipe out of
    # the dry run, whatever state .venv is in.
    (stamp,) = make("--silent", "--eval", "print-stamp:\n\t@echo $(INSTALLED)", "print-stamp")
    dry_run = make("--dry-run", f"--old-file={stamp}", "lint")
    return [shlex.join(shlex.split(line)) for line in dry_run]


def test_pre_commit_hooks_run_exactly_the_commands_of_make_lint():
    config_file = PROJECT / ".pre-commit-config.yaml"
    validated = run([BIN / "pre-commit", "validate-config", config_file])
    assert validated.returncode == 0, validated.stdout + validated.stderr

    hooks = [hook for repo in load_yaml(config_file)["repos"] for hook in repo["hooks"]]
    for hook in hooks:
        # Offline-safe: nothing to fetch; and with no file names appended, each hook's
        # command is the entry and its args, exactly.
        assert hook["language"] == "system", hook["id"]
        assert hook["pass_filenames"] is False, hook["id"]
    hook_commands = [shlex.join([*shlex.split(h["entry"]), *h.get("args", [])]) for h in hooks]

    lint = make_lint_commands()
    assert len(lint) == 3  # ruff check, ruff format --check, mypy
    assert hook_commands == lint
