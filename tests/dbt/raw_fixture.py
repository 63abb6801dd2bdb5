"""Builder for the ``raw`` schema that ingestion writes and the dbt project reads.

``RAW_TABLES`` is the contract (table -> ordered list of (column, DuckDB type)).
``create_raw_schema(con)`` creates every raw table empty; ``insert_rows`` appends
hand-written rows, filling the provenance columns with defaults so tests stay short.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from orchestration.lib.ingest import AUDIT_TABLES, ensure_raw_schema, kind_columns
from orchestration.lib.mapping import load_mapping

_MAPPING = load_mapping()

#: The contract, derived from ingestion itself (table -> ordered list of (column, DuckDB type)),
#: so the dbt tests always run against exactly what ingestion writes.
RAW_TABLES: dict[str, list[tuple[str, str]]] = {
    kind.name: list(kind_columns(kind).items()) for kind in _MAPPING.kinds.values()
} | {table: list(columns.items()) for table, columns in AUDIT_TABLES.items()}


def create_raw_schema(con: Any) -> None:
    """Create every raw table, empty, exactly as ingestion does."""
    ensure_raw_schema(con, _MAPPING)


def _default_period(year: int) -> tuple[str, dt.date]:
    return str(year), dt.date(year, 12, 31)


def insert_rows(con: Any, table: str, rows: Iterable[Mapping[str, Any]]) -> int:
    """Append rows (dicts keyed by column name) to ``raw.<table>``.

    Missing columns are NULL, except for the kind tables' provenance columns, which get
    defaults: an annual period, ``_source_file`` = ``<year>/<street>/<table>.xlsx``,
    ``_source_row`` = position in ``rows`` (1-based, +1 for the header), and so on.
    Returns the number of rows inserted.
    """
    columns = [name for name, _ in RAW_TABLES[table]]
    is_kind = table in _MAPPING.kinds
    values: list[list[Any]] = []
    for i, row in enumerate(rows, start=1):
        unknown = set(row) - set(columns)
        if unknown:
            raise KeyError(f"raw.{table} has no column(s) {sorted(unknown)}")
        full = dict(row)
        if is_kind:
            year = full["year"]
            label, end = _default_period(year)
            full.setdefault("_period_label", label)
            full.setdefault("_period_end", end)
            full.setdefault(
                "_source_file", f"{year}/{full['street_code']}/{table}_{full['_period_label']}.xlsx"
            )
            full.setdefault("_source_sheet", "Sheet1")
            full.setdefault("_source_row", i + 1)
            full.setdefault("_file_sha256", "0" * 64)
            full.setdefault("_run_id", "test-run")
            full.setdefault("_ingested_at", dt.datetime(2022, 1, 15, 9, 0, 0))
        values.append([full.get(c) for c in columns])
    if values:
        placeholders = ", ".join("?" for _ in columns)
        quoted = ", ".join(f'"{c}"' for c in columns)
        con.executemany(f"insert into raw.{table} ({quoted}) values ({placeholders})", values)
    return len(values)
