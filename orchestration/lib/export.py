"""Parquet export of the published mart for BI tools, rewriting only the tables that changed.

Every table of ``published/mart.duckdb`` becomes ``published/parquet/<table>.parquet`` (schema
``main``) or ``published/parquet/audit/<table>.parquet`` (schema ``audit``). The export reads
the *published* file (read-only), so the Parquet files always match a publication; each file is
written to a temporary name and ``os.replace``-d into place, and files of tables that are no
longer published are removed.

``published/parquet/manifest.json`` records, per exported table, a content fingerprint of the
table as published and the sha256 and size of the Parquet file written from it. A table is
exported again only when its fingerprint differs from the recorded one, or its Parquet file is
missing or is not the file the manifest records (changed by hand, replaced, truncated); an
unchanged table keeps its file as it is (same bytes, same mtime), so BI tools that watch the
folder re-read only what changed.

The fingerprint is ``count(*)`` and ``sum(hash(*columns(*))::hugeint)`` (the sum of the rows'
hashes, without overflow) of the table, together with its columns and their types:
order-insensitive (a table is a set of rows; the export does not keep their order, so that it
streams them within the memory limit) and
computed by DuckDB in one scan — on the demo mart 0.2 s of CPU for all 19 tables, against
2.2 s to export them. ``hash`` is DuckDB's and may change between versions, so the manifest
also records the DuckDB version and the export options; a change of either rewrites every
file.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from orchestration.lib.ingest.files import sha256_of
from orchestration.lib.publish import write_json
from orchestration.lib.settings import duckdb_memory_limit

#: options of every ``COPY … TO`` of the export (part of what a Parquet file is a function of)
PARQUET_OPTIONS = "format parquet, compression zstd"
#: the export's record, beside the Parquet files (not a ``*.parquet`` file: globs skip it)
MANIFEST_NAME = "manifest.json"


@dataclass
class Export:
    """What one export did: ``files`` every published table → its Parquet file; ``written``
    the tables exported by this run, ``kept`` the ones whose file was already up to date."""

    files: dict[str, Path] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")


def parquet_path(folder: Path, schema: str, table: str) -> Path:
    return folder / f"{table}.parquet" if schema == "main" else folder / schema / f"{table}.parquet"


def table_fingerprint(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, Any]:
    """Rows and content fingerprint of ``schema.table`` in ``con``'s own database: a change
    of any value, of a column's name or type, or of the number of rows changes it."""
    columns = con.execute(
        "select column_name, data_type from duckdb_columns() "
        "where database_name = current_database() and schema_name = ? and table_name = ? "
        "order by column_index",
        [schema, table],
    ).fetchall()
    rows, content = con.execute(
        f'select count(*), coalesce(sum(hash(*columns(*))::hugeint), 0) from "{schema}"."{table}"'
    ).fetchone()
    digest = hashlib.sha256(json.dumps([columns, int(rows), str(content)]).encode()).hexdigest()
    return {"rows": int(rows), "fingerprint": digest}


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _up_to_date(target: Path, recorded: dict[str, Any] | None, fingerprint: dict) -> bool:
    """Whether ``target`` is the file the manifest records for this very table content."""
    if not recorded or recorded.get("fingerprint") != fingerprint["fingerprint"]:
        return False
    if not target.is_file() or target.stat().st_size != recorded.get("bytes"):
        return False
    # the size is free; the hash catches a same-size change (50 ms for the demo's 57 MB)
    return sha256_of(target) == recorded.get("sha256")


def export_parquet(mart: Path, folder: Path, *, force: bool = False) -> Export:
    """Bring ``folder`` in line with ``mart``: one Parquet file per published table, written
    only where the table changed or its file is missing or not the recorded one (``force``:
    every table); files of tables no longer published are removed."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest_path = folder / MANIFEST_NAME
    previous = _read_manifest(manifest_path)
    same_writer = (
        previous.get("duckdb") == duckdb.__version__ and previous.get("options") == PARQUET_OPTIONS
    )
    recorded_tables = (previous.get("tables") or {}) if same_writer and not force else {}
    result = Export()
    tables: dict[str, dict[str, Any]] = {}
    # bounded memory: rows are written as they are read (no insertion order kept across
    # threads — the fingerprint and the readers of Parquet do not depend on row order)
    config = {"memory_limit": duckdb_memory_limit(), "preserve_insertion_order": False}
    with duckdb.connect(str(mart), read_only=True, config=config) as con:
        names = con.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where database_name = current_database() order by 1, 2"
        ).fetchall()
        for schema, table in names:
            key = f"{schema}.{table}"
            target = parquet_path(folder, schema, table)
            fingerprint = table_fingerprint(con, schema, table)
            recorded = recorded_tables.get(key)
            if _up_to_date(target, recorded, fingerprint):
                tables[key] = recorded
                result.kept.append(key)
            else:
                _write_parquet(con, schema, table, target)
                tables[key] = {
                    "file": str(target.relative_to(folder)),
                    **fingerprint,
                    "bytes": target.stat().st_size,
                    "sha256": sha256_of(target),
                }
                result.written.append(key)
            result.files[key] = target
    write_json(
        manifest_path,
        {"mart": mart.name, "duckdb": duckdb.__version__, "options": PARQUET_OPTIONS,
         "tables": tables},
    )  # fmt: skip
    keep = set(result.files.values())
    for stale in sorted(folder.rglob("*.parquet")):
        if stale not in keep:
            stale.unlink()
            result.removed.append(stale)
    return result


def _write_parquet(con, schema: str, table: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        con.execute(
            f'copy (select * from "{schema}"."{table}") to \'{_quote(tmp)}\' ({PARQUET_OPTIONS})'
        )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
