"""transform/profiles.yml's Snowflake and BigQuery targets: `dbt parse` with each, the
connection taken from environment variables, no default holding a secret."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest

from .conftest import PROJECT
from .test_dbt_package import dbt_env

if TYPE_CHECKING:
    from pathlib import Path

TRANSFORM = PROJECT / "transform"


def parse(target: str, env: dict[str, str], work: Path) -> dict[str, Any]:
    """`dbt parse --target TARGET` of transform/ with its own profiles.yml (no connection
    made), the shell's SNOWFLAKE_* and BIGQUERY_* variables left out; the manifest it writes."""
    done = subprocess.run(
        [sys.executable, "-m", "dbt.cli.main", "parse", "--no-use-colors",
         "--project-dir", str(TRANSFORM), "--profiles-dir", str(TRANSFORM), "--target", target,
         "--target-path", str(work / "target"), "--log-path", str(work / "logs")],
        cwd=work,
        env={
            k: v
            for k, v in dbt_env(env).items()
            if k in env or not k.startswith(("SNOWFLAKE_", "BIGQUERY_"))
        },
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"dbt parse --target {target}:\n{done.stdout}\n{done.stderr}"
    manifest: dict[str, Any] = json.loads((work / "target" / "manifest.json").read_text("utf-8"))
    return manifest


def placed(manifest: dict[str, Any]) -> tuple[str, str, str, str]:
    """The adapter, the raw rooms' database and schema, room_response_times' schema."""
    source = manifest["sources"]["source.happytalk.happytalk.chat_rooms"]
    model = manifest["nodes"]["model.happytalk.room_response_times"]
    return (
        manifest["metadata"]["adapter_type"],
        source["database"],
        source["schema"],
        model["schema"],
    )


@pytest.mark.parametrize(
    ("target", "env", "expected"),
    [
        (
            "snowflake",
            {"SNOWFLAKE_ACCOUNT": "xy12345.eu-central-1", "SNOWFLAKE_USER": "dbt",
             "SNOWFLAKE_PRIVATE_KEY_PATH": "/nonexistent/rsa_key.p8",
             "SNOWFLAKE_DATABASE": "RAW_HT", "SNOWFLAKE_WAREHOUSE": "TRANSFORMING",
             "HAPPYTALK_DBT_SCHEMA": "ht_analytics"},
            ("snowflake", "RAW_HT", "happytalk", "ht_analytics"),
        ),
        (
            "bigquery",
            {"BIGQUERY_METHOD": "service-account", "BIGQUERY_KEYFILE": "/nonexistent/key.json",
             "BIGQUERY_PROJECT": "acme-warehouse", "HAPPYTALK_DBT_SCHEMA": "ht_analytics",
             "HAPPYTALK_SOURCE_SCHEMA": "happytalk_raw"},
            ("bigquery", "acme-warehouse", "happytalk_raw", "ht_analytics"),
        ),
        # Nothing set: the file's defaults parse (a real run then needs the account's values).
        ("snowflake", {}, ("snowflake", "RAW", "happytalk", "analytics")),
        ("bigquery", {}, ("bigquery", "", "happytalk", "analytics")),
    ],
)  # fmt: skip
def test_profiles_snowflake_and_bigquery_targets_parse_from_the_environment(
    target, env, expected, tmp_path
):
    assert placed(parse(target, env, tmp_path)) == expected


def test_profiles_defaults_hold_no_secret():
    """Every password, key and key file defaults to empty: a secret only comes from the
    environment."""
    text = (TRANSFORM / "profiles.yml").read_text(encoding="utf-8")
    secret = re.compile(r"env_var\('([A-Z_]*(?:PASSWORD|PRIVATE_KEY[A-Z_]*|KEYFILE))', '([^']*)'\)")
    found = dict(secret.findall(text))
    assert set(found) == {
        "TARGET_POSTGRES_PASSWORD", "SNOWFLAKE_PASSWORD", "SNOWFLAKE_PRIVATE_KEY_PATH",
        "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE", "BIGQUERY_KEYFILE",
    }  # fmt: skip
    assert set(found.values()) == {""}
