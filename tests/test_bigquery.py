"""The package on BigQuery, offline: transform/integration_tests/ compiled with dbt-bigquery
against the table layouts BigQuery loaders write, then every compiled model and test analyzed by
Google's ZetaSQL (PyPI `zetasql`, its analyzer as WebAssembly), in dependency order, each
model's output columns becoming a table the next ones read.

Two accounts, loaded differently: account A as z3z1ma target-bigquery writes it with
`denormalized: true` (TIMESTAMP times, tags ARRAY<STRING>, `_sdc_*` columns), account B as a
loader keeping wall clocks and text (DATETIME times, tags a JSON array as STRING). Both union.

What it proves: BigQuery's parser, name resolution and type checking accept the SQL the package
ships (every function, signature, implicit coercion, the union's types, GROUP BY validity). What
only a real project can: the planner's limits (correlated subqueries BigQuery refuses at run
time, memory per slot), costs, and the values computed (README, "BigQuery").
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest

from tap_happytalk.tap import TapHappyTalk

from .conftest import PROJECT
from .test_dbt_package import A, B, dbt_env, integration_project, run_dbt

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.timeout(900)

BIGQUERY_PROJECT = "happytalk-analysis"
SDC_TIMES = ("_sdc_extracted_at", "_sdc_received_at", "_sdc_batched_at", "_sdc_deleted_at")
SDC_NUMBERS = ("_sdc_sequence", "_sdc_table_version", "_sdc_sync_started_at")
Layout = list[list[str]]  # [[column, BigQuery type, mode]]


def tap_schemas() -> dict[str, dict[str, Any]]:
    """Each stream's JSON schema properties, as the tap sends them to a loader."""
    catalog = TapHappyTalk(config={}, validate_config=False).catalog_dict
    return {s["tap_stream_id"]: s["schema"]["properties"] for s in catalog["streams"]}


def z3z1ma_denormalized(properties: dict[str, Any]) -> Layout:
    """z3z1ma target-bigquery with `denormalized: true`: a column per property (its
    SchemaTranslator: date-time TIMESTAMP, an array REPEATED, an object JSON), plus the SDK's
    `_sdc_*` metadata columns."""
    layout = []
    for name, schema in properties.items():
        types = schema.get("type", [])
        if "array" in types:
            layout.append([name, "STRING", "REPEATED"])
        elif "object" in types:
            layout.append([name, "JSON", "NULLABLE"])
        elif schema.get("format") == "date-time":
            layout.append([name, "TIMESTAMP", "NULLABLE"])
        else:
            layout.append([name, "STRING", "NULLABLE"])
    layout += [[name, "TIMESTAMP", "NULLABLE"] for name in SDC_TIMES]
    layout += [[name, "INT64", "NULLABLE"] for name in SDC_NUMBERS]
    return layout


def wall_clocks_and_text(properties: dict[str, Any]) -> Layout:
    """A loader keeping naive wall clocks (DATETIME) and everything else as text, arrays as
    their JSON (README's loaders table: "if a table holds DATETIME")."""
    return [
        [name, "DATETIME" if schema.get("format") == "date-time" else "STRING", "NULLABLE"]
        for name, schema in properties.items()
        if "object" not in schema.get("type", [])
    ] + [["_sdc_extracted_at", "DATETIME", "NULLABLE"]]


def z3z1ma_fixed(_properties: dict[str, Any]) -> Layout:
    """z3z1ma target-bigquery's default (`denormalized: false`): the record in one JSON column."""
    return [["data", "JSON", "NULLABLE"], *[[n, "TIMESTAMP", "NULLABLE"] for n in SDC_TIMES]]


def layouts(accounts: dict[str, Any]) -> dict[str, Layout]:
    schemas = tap_schemas()
    return {
        f"{schema}.{stream}": loader(properties)
        for schema, loader in accounts.items()
        for stream, properties in schemas.items()
    }


def compile_for_bigquery(
    work: Path, accounts: dict[str, Any], *args: str, built: bool = False
) -> subprocess.CompletedProcess[str]:
    """`dbt compile` of the integration project with dbt-bigquery, the raw tables' columns
    answered from the loaders' layouts (tests/bigquery_offline.py). `built`: as a later run
    compiles it, every model built before (incremental models compile is_incremental())."""
    project = integration_project(work)
    layout = work / "layout.json"
    layout.write_text(json.dumps(layouts(accounts)), encoding="utf-8")
    env = {"HAPPYTALK_DBT_TARGET": "bigquery", "BIGQUERY_PROJECT": BIGQUERY_PROJECT}
    if built:
        env["HAPPYTALK_OFFLINE_BUILT"] = "1"
    run_dbt(project, "deps", env=env)
    return subprocess.run(
        [sys.executable, str(PROJECT / "tests" / "bigquery_offline.py"), str(layout),
         "compile", "--no-use-colors", *args],
        cwd=project,
        env=dbt_env({**env, "DBT_PROFILES_DIR": str(project)}),
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip


class BigQueryAnalysis:
    """ZetaSQL's analyzer with BigQuery's dialect: every released language feature, external
    product mode (BigQuery's types: INT64, FLOAT64, no INT32), a catalog of project, dataset and
    tables as the compiled SQL names them (`project`.`dataset`.`table`)."""

    def __init__(self) -> None:
        from zetasql.types import (  # type: ignore[import-untyped]  # noqa: PLC0415 - only here
            LanguageOptions,
            ProductMode,
        )

        self.language = LanguageOptions.maximum_features()
        self.language.product_mode = ProductMode.PRODUCT_EXTERNAL
        self.datasets: dict[str, list[Any]] = {}

    def bigquery_type(self, dtype: str, mode: str) -> Any:
        from zetasql.api import TypeFactory  # type: ignore[import-untyped]  # noqa: PLC0415
        from zetasql.types import TypeKind  # noqa: PLC0415

        kinds = {
            "STRING": TypeKind.TYPE_STRING,
            "TIMESTAMP": TypeKind.TYPE_TIMESTAMP,
            "DATETIME": TypeKind.TYPE_DATETIME,
            "DATE": TypeKind.TYPE_DATE,
            "INT64": TypeKind.TYPE_INT64,
            "JSON": TypeKind.TYPE_JSON,
        }
        simple = TypeFactory.create_simple_type(kinds[dtype])
        return TypeFactory.create_array_type(simple) if mode == "REPEATED" else simple

    def add_table(self, dataset: str, name: str, columns: list[tuple[str, Any]]) -> None:
        from zetasql.api import TableBuilder  # noqa: PLC0415

        table = TableBuilder(name)
        for column, column_type in columns:
            table.add_column(column, column_type)
        self.datasets.setdefault(dataset, []).append(table.build())

    def analyze(self, sql: str) -> list[tuple[str, Any]]:
        """The statement's output columns; ZetaSQL's error if BigQuery would refuse it."""
        from zetasql.api import Analyzer  # noqa: PLC0415
        from zetasql.types import (  # noqa: PLC0415
            AnalyzerOptions,
            SimpleCatalog,
            ZetaSQLBuiltinFunctionOptions,
        )

        project = SimpleCatalog(
            name=BIGQUERY_PROJECT,
            catalog=[SimpleCatalog(name=d, table=t) for d, t in self.datasets.items()],
        )
        catalog = SimpleCatalog(
            name="root",
            catalog=[project],
            builtin_function_options=ZetaSQLBuiltinFunctionOptions(language_options=self.language),
        )
        statement = Analyzer(AnalyzerOptions(language_options=self.language), catalog)
        resolved = statement.analyze_statement(sql)
        return [(c.name, c.column.type) for c in resolved.output_column_list]


def topological(nodes: dict[str, Any]) -> list[str]:
    """Model and test ids, each after the models it reads."""
    done: list[str] = []

    def visit(node_id: str) -> None:
        if node_id in done or node_id not in nodes:
            return
        for parent in nodes[node_id]["depends_on"]["nodes"]:
            visit(parent)
        done.append(node_id)

    for node_id in sorted(nodes):
        visit(node_id)
    return done


def package_nodes(project: Path) -> dict[str, Any]:
    """The package's compiled models and tests, by unique_id."""
    manifest = json.loads((project / "target" / "manifest.json").read_text(encoding="utf-8"))
    return {
        key: node
        for key, node in manifest["nodes"].items()
        if node["resource_type"] in {"model", "test"} and node["package_name"] == "happytalk"
    }


def analyze_manifest(
    project: Path, accounts: dict[str, Any], analysis: BigQueryAnalysis | None = None
) -> dict[str, str]:
    """Every compiled model and test of the manifest analyzed; the error of each refused one.
    Each model's output columns are added to `analysis`'s catalog as its table."""
    analysis = analysis or BigQueryAnalysis()
    for key, layout in layouts(accounts).items():
        dataset, table = key.split(".")
        analysis.add_table(
            dataset, table, [(c, analysis.bigquery_type(t, m)) for c, t, m in layout]
        )
    # The holiday seed as `dbt seed` loads it: holiday_date DATE (its column_types), names text.
    analysis.add_table(
        "analytics",
        "korean_public_holidays",
        [
            ("holiday_date", analysis.bigquery_type("DATE", "NULLABLE")),
            ("holiday_name_ko", analysis.bigquery_type("STRING", "NULLABLE")),
            ("holiday_name_en", analysis.bigquery_type("STRING", "NULLABLE")),
        ],
    )
    nodes = package_nodes(project)
    refused: dict[str, str] = {}
    for node_id in topological(nodes):
        node = nodes[node_id]
        try:
            columns = analysis.analyze(node["compiled_code"])
        except Exception as error:  # noqa: BLE001 - ZetaSQL's error is the finding
            refused[node_id] = str(error)
            continue
        if node["resource_type"] == "model":
            analysis.add_table(node["schema"], node["alias"], columns)
    return {"analyzed": str(len(nodes) - len(refused)), **refused}


TWO_LOADERS = {A: z3z1ma_denormalized, B: wall_clocks_and_text}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("bigquery")
    done = compile_for_bigquery(work, TWO_LOADERS)
    assert done.returncode == 0, f"dbt compile for BigQuery:\n{done.stdout}\n{done.stderr}"
    project: Path = work / "transform" / "integration_tests"
    return project


def test_bigquery_analyzer_accepts_every_compiled_model_and_test(compiled):
    """ZetaSQL, set to BigQuery's dialect, accepts every model and test the package compiles to,
    over two accounts whose raw tables differ in type."""
    result = analyze_manifest(compiled, TWO_LOADERS)
    analyzed = int(result.pop("analyzed"))
    assert result == {}
    assert analyzed >= 12 + 30  # the 12 models and the package's tests


def test_bigquery_analyzer_accepts_the_incremental_runs_sql(compiled, tmp_path):
    """A later run's SQL of each incremental model (its is_incremental() branch, reading the
    model's own table for the lookback), analyzed against the tables the first build made: it
    passes, with the same columns and types as the first build's, which the merge needs."""
    analysis = BigQueryAnalysis()
    first = analyze_manifest(compiled, TWO_LOADERS, analysis)
    assert first.pop("analyzed")
    assert first == {}
    done = compile_for_bigquery(tmp_path, TWO_LOADERS, built=True)
    assert done.returncode == 0, f"dbt compile for BigQuery:\n{done.stdout}\n{done.stderr}"
    later = package_nodes(tmp_path / "transform" / "integration_tests")
    incremental = {
        key: node for key, node in later.items() if node["config"]["materialized"] == "incremental"
    }
    assert sorted(node["name"] for node in incremental.values()) == [
        "room_response_times", "stg_happytalk__chat_messages", "stg_happytalk__chat_rooms"
    ]  # fmt: skip
    for key, node in incremental.items():
        assert "rebuild_from" in node["compiled_code"], key  # the is_incremental() branch
        columns = analysis.analyze(node["compiled_code"])
        before = analysis.analyze(package_nodes(compiled)[key]["compiled_code"])
        assert [(n, str(t)) for n, t in columns] == [(n, str(t)) for n, t in before], key


def test_bigquery_analyzer_refuses_what_bigquery_refuses():
    """The analyzer is no rubber stamp: the two constructs BigQuery rejected before."""
    analysis = BigQueryAnalysis()
    analysis.add_table("analytics", "t", [("x", analysis.bigquery_type("INT64", "NULLABLE"))])
    for sql, error in [
        ("select cast(null as date) as d where 1 = 0", "without FROM clause"),
        (
            (
                "select (select any_value(p) from (select percentile_cont(v, 0.5) over () as p "
                f"from unnest(array_agg(x)) as v)) from `{BIGQUERY_PROJECT}`.`analytics`.`t`"
            ),
            "ARRAY_AGG not allowed in UNNEST",
        ),
        (f"select nope from `{BIGQUERY_PROJECT}`.`analytics`.`t`", "Unrecognized name"),
    ]:
        with pytest.raises(Exception, match=error):
            analysis.analyze(sql)


def test_a_json_data_column_stops_the_compilation(tmp_path):
    """z3z1ma target-bigquery without `denormalized: true` writes each record into one JSON
    `data` column: the package says so, rather than compiling SQL over missing columns."""
    done = compile_for_bigquery(
        tmp_path, {A: z3z1ma_fixed, B: z3z1ma_fixed}, "--select", "stg_happytalk__chat_rooms"
    )
    assert done.returncode != 0
    assert "denormalized: true" in done.stdout + done.stderr
