"""Write–audit–publish: copy the checked mart into a new DuckDB file and swap it into place.

Analysts only ever open ``published/mart.duckdb`` (read-only). It is never written in place:
a publication builds ``published/.mart-<run>.duckdb.tmp`` next to it, flushes it to disk and
``os.replace``-s it over the old file, which is atomic on POSIX file systems — a reader sees
either the previous publication or the new one, never a half-written file. A failed or blocked
run never reaches this step, so the last good publication stays in place.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

#: schema of the working database → schema of the published file
PUBLISHED_SCHEMAS = {"marts": "main", "audit": "audit"}


@dataclass
class Publication:
    path: Path
    tables: dict[str, int]  # "schema.table" → rows


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish_mart(working_db: Path, target: Path, run_id: str) -> Publication:
    """Copy the ``marts`` and ``audit`` schemas of ``working_db`` into ``target`` atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}-{run_id}{target.suffix}.tmp")
    tmp.unlink(missing_ok=True)
    tables: dict[str, int] = {}
    try:
        with duckdb.connect(str(tmp)) as con:
            con.execute(f"attach '{working_db}' as work (read_only)")
            for source_schema, published_schema in PUBLISHED_SCHEMAS.items():
                names = [
                    r[0]
                    for r in con.execute(
                        "select table_name from duckdb_tables() "
                        "where database_name = 'work' and schema_name = ? order by 1",
                        [source_schema],
                    ).fetchall()
                ]
                if names and published_schema != "main":
                    con.execute(f"create schema if not exists {published_schema}")
                for name in names:
                    con.execute(
                        f'create table {published_schema}."{name}" as '
                        f'select * from work.{source_schema}."{name}"'
                    )
                    count = con.execute(f'select count(*) from {published_schema}."{name}"')
                    tables[f"{published_schema}.{name}"] = count.fetchone()[0]
            if "main.annual_indicators" not in tables:
                raise RuntimeError(f"{working_db} has no marts.annual_indicators to publish")
            con.execute("detach work")
            con.execute("checkpoint")
        _fsync(tmp)
        os.replace(tmp, target)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        tmp.unlink(missing_ok=True)
    return Publication(target, tables)
