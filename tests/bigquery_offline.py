"""`dbt ARGS` with dbt-bigquery and no Google account: `python -m tests.bigquery_offline LAYOUT
ARGS...`.

With env HAPPYTALK_OFFLINE_BUILT=1, every relation dbt looks up exists, as a table: the models
were built before, so an incremental model compiles its is_incremental() branch (the SQL of a
later run). Without it, none exists (a first build).

dbt-bigquery compiles without a connection except where a macro asks the warehouse something.
The package asks one thing, each raw table's columns (`adapter.get_columns_in_relation`, in
macro happytalk_columns); here they are answered from LAYOUT, a JSON file
`{"schema.table": [[column, type, mode], ...]}` written from what a loader creates. Asking for a
table LAYOUT does not hold is an error, as a missing table is. Nothing else is replaced: the SQL
compiled is the package's own, macro for macro.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from dbt.adapters.bigquery.column import BigQueryColumn
from dbt.adapters.bigquery.connections import BigQueryConnectionManager
from dbt.adapters.bigquery.impl import BigQueryAdapter
from dbt.adapters.bigquery.relation import BigQueryRelation
from dbt.adapters.contracts.connection import ConnectionState
from dbt.adapters.contracts.relation import RelationType
from dbt.cli.main import dbtRunner


class NoClient:
    """The connection's handle: any query or API call through it fails the compilation."""

    def close(self) -> None:
        """Nothing to close."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"offline: the compilation asked BigQuery for {name}")


def open_offline(_cls: Any, connection: Any) -> Any:
    connection.handle = NoClient()
    connection.state = ConnectionState.OPEN
    return connection


def main(layout_path: str, *args: str) -> int:
    layout: dict[str, list[list[str]]] = json.loads(Path(layout_path).read_text(encoding="utf-8"))

    def get_columns_in_relation(_adapter: Any, relation: Any) -> list[BigQueryColumn]:
        key = f"{relation.schema}.{relation.identifier}".lower()
        if key not in layout:
            raise KeyError(f"no table layout for {key}: the compilation asked for it")
        return [BigQueryColumn(name, dtype, None, mode) for name, dtype, mode in layout[key]]

    # No relation exists yet (a first build, no is_incremental), unless HAPPYTALK_OFFLINE_BUILT.
    def no_relations(_adapter: Any, *_args: Any, **_kwargs: Any) -> list[Any]:
        return []

    def no_relation(_adapter: Any, *_args: Any, **_kwargs: Any) -> None:
        return None

    # A later run: every model was built before (a table), so is_incremental() is true.
    def built_table(_adapter: Any, database: str, schema: str, identifier: str) -> Any:
        return BigQueryRelation.create(
            database=database, schema=schema, identifier=identifier, type=RelationType.Table
        )

    BigQueryAdapter.get_columns_in_relation = get_columns_in_relation  # type: ignore[method-assign, assignment]
    BigQueryAdapter.list_relations_without_caching = no_relations  # type: ignore[method-assign]
    built = os.environ.get("HAPPYTALK_OFFLINE_BUILT") == "1"
    BigQueryAdapter.get_relation = built_table if built else no_relation  # type: ignore[method-assign, assignment]
    BigQueryConnectionManager.open = classmethod(open_offline)  # type: ignore[method-assign, assignment]
    result = dbtRunner().invoke(list(args))
    if result.exception is not None:
        print(result.exception, file=sys.stderr)  # noqa: T201 - the caller reads it
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
