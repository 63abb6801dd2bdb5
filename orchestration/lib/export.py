"""Parquet export of the published mart for BI tools.

Every table of ``published/mart.duckdb`` becomes ``published/parquet/<table>.parquet`` (schema
``main``) or ``published/parquet/audit/<table>.parquet`` (schema ``audit``). The export reads
the *published* file (read-only), so the Parquet files always match a publication; each file is
written to a temporary name and ``os.replace``-d into place, and files of tables that are no
longer published are removed.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")


def parquet_path(folder: Path, schema: str, table: str) -> Path:
    return folder / f"{table}.parquet" if schema == "main" else folder / schema / f"{table}.parquet"


def export_parquet(mart: Path, folder: Path) -> dict[str, Path]:
    """Write one Parquet file per published table; returns ``"schema.table"`` → path."""
    written: dict[str, Path] = {}
    with duckdb.connect(str(mart), read_only=True) as con:
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where database_name = current_database() order by 1, 2"
        ).fetchall()
        for schema, table in tables:
            target = parquet_path(folder, schema, table)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.unlink(missing_ok=True)
            try:
                con.execute(
                    f'copy (select * from "{schema}"."{table}") to \'{_quote(tmp)}\' '
                    "(format parquet, compression zstd)"
                )
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)
            written[f"{schema}.{table}"] = target
    keep = set(written.values())
    for stale in folder.rglob("*.parquet"):
        if stale not in keep:
            stale.unlink()
    return written
