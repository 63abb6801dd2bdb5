"""Warehouse: the ``raw`` schema of the working DuckDB database (data tables per kind and the
audit tables), the staging of rows as Parquet (:class:`RawStage`) and writing a pass's
results for the streets in scope.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from orchestration.lib.ingest.results import FileResult
from orchestration.lib.mapping import (
    DUCKDB_TYPES,
    KindSpec,
    Mapping,
)
from orchestration.lib.streets import write_streets_table

PROVENANCE = ["_source_file", "_source_sheet", "_source_row", "_file_sha256", "_run_id"]
COMMON_COLUMNS = {
    "year": "INTEGER",
    "street_code": "VARCHAR",
    "_period_label": "VARCHAR",
    "_period_end": "DATE",
    "_superseded_by": "VARCHAR",
    "_source_file": "VARCHAR",
    "_source_sheet": "VARCHAR",
    "_source_row": "INTEGER",
    "_file_sha256": "VARCHAR",
    "_run_id": "VARCHAR",
    "_ingested_at": "TIMESTAMP",
}
QUARANTINE_COLUMNS = {
    "year": "INTEGER",
    "street_code": "VARCHAR",
    "report_kind": "VARCHAR",
    "_source_file": "VARCHAR",
    "_source_sheet": "VARCHAR",
    "_source_row": "INTEGER",
    "_file_sha256": "VARCHAR",
    "_run_id": "VARCHAR",
    "_superseded_by": "VARCHAR",
    "reason_code": "VARCHAR",
    "reason": "VARCHAR",
    "record_json": "VARCHAR",
}
SOURCE_FILE_COLUMNS = {
    "_source_file": "VARCHAR",
    "year": "INTEGER",
    "street_code": "VARCHAR",
    "report_kind": "VARCHAR",
    "_file_sha256": "VARCHAR",
    "file_format": "VARCHAR",
    "encoding": "VARCHAR",
    "status": "VARCHAR",
    "reason_code": "VARCHAR",
    "reason": "VARCHAR",
    "_period_label": "VARCHAR",
    "_period_end": "DATE",
    "version": "INTEGER",
    "superseded_by": "VARCHAR",
    "sheets_read": "VARCHAR",
    "rows_data": "INTEGER",
    "rows_loaded": "INTEGER",
    "rows_quarantined": "INTEGER",
    "rows_skipped": "INTEGER",
    "notes": "VARCHAR",
    "_run_id": "VARCHAR",
    "_mapping_sha256": "VARCHAR",
    "_pii_key_id": "VARCHAR",
}
CONTROL_TOTAL_COLUMNS = {
    "year": "INTEGER",
    "street_code": "VARCHAR",
    "report_kind": "VARCHAR",
    "_source_file": "VARCHAR",
    "_source_sheet": "VARCHAR",
    "_source_row": "INTEGER",
    "label": "VARCHAR",
    "field": "VARCHAR",
    "stated_value": "DECIMAL(18,2)",
    "computed_value": "DECIMAL(18,2)",
    "covers_from_row": "INTEGER",
    "covers_to_row": "INTEGER",
    "_run_id": "VARCHAR",
}
AUDIT_TABLES = {
    "quarantine": QUARANTINE_COLUMNS,
    "source_files": SOURCE_FILE_COLUMNS,
    "control_totals": CONTROL_TOTAL_COLUMNS,
}


def kind_columns(kind: KindSpec) -> dict[str, str]:
    cols = dict(COMMON_COLUMNS)
    for spec in kind.stored_fields:
        cols[spec.name] = DUCKDB_TYPES[spec.type]
    return cols


def ensure_raw_schema(con, mapping: Mapping) -> None:
    """Create the ``raw`` tables (idempotent); columns come from the mapping. ``raw.streets``
    is replaced by the configured streets list (``GONGHUI_STREETS``)."""
    con.execute("create schema if not exists raw")
    write_streets_table(con)
    tables = {k.name: kind_columns(k) for k in mapping.kinds.values()} | AUDIT_TABLES
    for table, cols in tables.items():
        ddl = ", ".join(f'"{c}" {t}' for c, t in cols.items())
        con.execute(f"create table if not exists raw.{table} ({ddl})")
        existing = {r[0] for r in con.execute(f"describe raw.{table}").fetchall()}
        for c, t in cols.items():  # a field added to the mapping becomes a new column
            if c not in existing:
                con.execute(f'alter table raw.{table} add column "{c}" {t}')


def _insert(con, table: str, frame: pl.DataFrame, columns: dict[str, str]) -> None:
    if frame.height == 0:
        return
    arrow = frame.to_arrow()  # noqa: F841 - referenced by name in SQL
    select = ", ".join(
        f'cast("{c}" as {t}) as "{c}"' if c in frame.columns else f'null::{t} as "{c}"'
        for c, t in columns.items()
    )
    con.execute(f"insert into raw.{table} by name select {select} from arrow")


class RawStage:
    """Where each file's loaded rows wait, on disk, until :func:`write_raw` moves them to ``raw``.

    Ingestion used to hold every frame of the run in the main process (pickled back from the
    workers) and concatenate them in :func:`write_raw` (the whole run in memory, twice). Now
    the worker that read a file writes its loaded frames as Parquet files into :attr:`dir`
    (a private temporary folder of the run; :func:`~orchestration.lib.ingest.files.spill`) and
    returns only their paths.
    :func:`write_raw` inserts the files that are finally loaded or superseded (resubmissions,
    duplicates and held streets are decided after every file is read) into ``raw`` in its one
    transaction, file by file in path order (the order of the in-memory path), DuckDB
    streaming each Parquet file; then the folder is removed. Nothing in ``raw`` changes
    before that transaction: a failed run leaves ``raw`` as it was. The rows on disk are the
    rows ``raw`` gets: identity numbers already hashed, names and phones already dropped."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="gonghui-ingest-"))  # mode 0700

    def move(self, con, kind: KindSpec, results: list[FileResult]) -> None:
        """Insert the staged rows of ``kind`` of every loaded or superseded result, each with
        its file's ``_superseded_by``."""
        columns = kind_columns(kind)
        for r in results:
            paths = r.spilled.get(kind.name, [])
            if r.status not in ("loaded", "superseded") or not paths:
                continue
            for path in paths:
                present = set(pl.read_parquet_schema(path))
                select = ", ".join(
                    "?::VARCHAR as _superseded_by"
                    if c == "_superseded_by"
                    else f'cast("{c}" as {t}) as "{c}"'
                    if c in present
                    else f'null::{t} as "{c}"'
                    for c, t in columns.items()
                )
                con.execute(
                    f"insert into raw.{kind.name} by name select {select} from read_parquet(?)",
                    [r.superseded_by if r.status == "superseded" else None, path],
                )

    def close(self) -> None:
        """Remove the folder and its Parquet files (flat: nothing else is ever in it)."""
        with contextlib.suppress(OSError):
            for name in os.listdir(self.dir):
                with contextlib.suppress(OSError):
                    os.unlink(self.dir / name)
            os.rmdir(self.dir)


def source_file_rows(
    results: list[FileResult],
    run_id: str,
    mapping_sha256: str | None = None,
    pii_key_id: str | None = None,
) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "_source_file": r.source_file,
                "year": r.year,
                "street_code": r.street_code,
                "report_kind": r.kind,
                "_file_sha256": r.sha256,
                "file_format": r.file_format,
                "encoding": r.encoding,
                "status": r.status,
                "reason_code": r.reason_code,
                "reason": r.reason,
                "_period_label": (r.period.label if r.period else str(r.year)) if r.year else None,
                "_period_end": (r.period.end_date(r.year) if r.period else dt.date(r.year, 12, 31))
                if r.year
                else None,
                "version": r.version,
                "superseded_by": r.superseded_by,
                "sheets_read": ", ".join(str(s.sheet) for s in r.layouts if s.sheet) or None,
                "rows_data": r.rows_data,
                "rows_loaded": r.rows_loaded,
                "rows_quarantined": r.rows_quarantined,
                "rows_skipped": r.rows_skipped,
                "notes": "; ".join(r.notes) or None,
                "_run_id": run_id,
                "_mapping_sha256": mapping_sha256,
                "_pii_key_id": pii_key_id,
            }
            for r in results
        ],
        schema_overrides={
            "_period_end": pl.Date,
            "year": pl.Int32,
            "_mapping_sha256": pl.String,
            "_pii_key_id": pl.String,
        },
        infer_schema_length=None,
    )


def write_raw(
    con,
    results: list[FileResult],
    mapping: Mapping,
    run_id: str,
    scope: tuple[Iterable[int] | None, Iterable[str] | None] = (None, None),
    *,
    unplaced: bool = False,
    key_id: str | None = None,
    held: tuple[list[str], list[FileResult]] = ([], []),
    stage: RawStage | None = None,
) -> None:
    """Replace the ``raw`` rows of the years/streets in ``scope`` with ``results``, atomically.

    The loaded rows are the frames of each result, and the files ``stage`` holds for results
    that are loaded or superseded (:class:`RawStage`).

    ``scope=(None, None)`` replaces everything; ``(None, ["buji"])`` only Buji's rows.
    ``unplaced`` also replaces the ``source_files`` rows of files outside any street folder
    (always part of a full refresh). ``key_id``: :func:`~orchestration.lib.ingest.keys.pii_key_id`
    of the key the rows were pseudonymised with.

    ``held`` = (streets, problem files): streets that are not replaced (their landing state
    could not be read completely, or a file is still arriving) keep every row; only their
    problem records (``deferred``, unreadable) are refreshed, and a file that already has a
    record keeps it (its rows are still the ones loaded).
    """
    years, streets = scope
    conds = []
    if years is not None:
        conds.append(f"year in ({', '.join(str(int(y)) for y in years) or 'null'})")
    if streets is not None:
        quoted = ", ".join("'" + s.replace("'", "''") + "'" for s in streets)
        conds.append(f"street_code in ({quoted or 'null'})")
    where = " and ".join(conds) or "true"
    ensure_raw_schema(con, mapping)
    con.execute("begin transaction")
    try:
        for kind in mapping.kinds.values():
            con.execute(f"delete from raw.{kind.name} where {where}")
            frames = [f for r in results for f in r.loaded.get(kind.name, [])]
            if frames:
                _insert(
                    con, kind.name, pl.concat(frames, how="diagonal_relaxed"), kind_columns(kind)
                )
            if stage is not None:
                stage.move(con, kind, results)
        # misplaced files have no year/street: they always belong to a full refresh
        misplaced = (
            " or (year is null or street_code is null)" if where == "true" or unplaced else ""
        )
        con.execute(f"delete from raw.source_files where ({where}){misplaced}")
        con.execute(f"delete from raw.quarantine where {where}")
        con.execute(f"delete from raw.control_totals where {where}")
        _insert(
            con,
            "source_files",
            source_file_rows(results, run_id, mapping.sha256 or None, key_id),
            SOURCE_FILE_COLUMNS,
        )
        _write_held(con, held, years, run_id, mapping.sha256 or None, key_id)
        quarantine = [q for r in results for q in r.quarantined]
        if quarantine:
            _insert(
                con, "quarantine", pl.concat(quarantine, how="diagonal_relaxed"), QUARANTINE_COLUMNS
            )
        totals = [t for r in results for t in r.control_totals]
        if totals:
            _insert(
                con,
                "control_totals",
                pl.DataFrame(totals, infer_schema_length=None),
                CONTROL_TOTAL_COLUMNS,
            )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def _write_held(con, held, years, run_id, mapping_sha256, key_id) -> None:
    streets, rows = held
    if not streets:
        return
    quoted = ", ".join("'" + s.replace("'", "''") + "'" for s in streets)
    year_cond = f" and year in ({', '.join(str(int(y)) for y in years) or 'null'})" if years else ""
    keep = {r.source_file for r in rows}
    stale = [
        rel
        for (rel,) in con.execute(
            f"select _source_file from raw.source_files where street_code in ({quoted}){year_cond} "
            "and _file_sha256 is null and (status = 'deferred' or reason_code = 'unreadable')"
        ).fetchall()
        if rel not in keep
    ]
    if stale:
        con.execute("delete from raw.source_files where _source_file in ?", [stale])
    existing = {r[0] for r in con.execute("select _source_file from raw.source_files").fetchall()}
    new = [r for r in rows if r.source_file not in existing]
    if new:
        _insert(
            con,
            "source_files",
            source_file_rows(new, run_id, mapping_sha256, key_id),
            SOURCE_FILE_COLUMNS,
        )
