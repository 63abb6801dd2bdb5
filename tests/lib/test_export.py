"""Parquet export of the published mart: only tables that changed are written (issue 14).

Each test builds a small mart (schema ``main`` and ``audit``, as publication does), exports it,
changes the mart or the Parquet folder and exports again; after every export the Parquet files
hold exactly the rows of the mart's tables.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from orchestration.lib.export import MANIFEST_NAME, export_parquet, parquet_path


@pytest.fixture
def mart(tmp_path) -> Path:
    path = tmp_path / "mart.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(
            "create table annual_indicators as select 2021 as year, s as street_code, "
            "'disputes_mediated' as indicator_code, 10 * i as value "
            "from (values ('buji', 1), ('pinghu', 2), ('district', 3)) t(s, i)"
        )
        con.execute(
            "create table fct_members as select range as id, range % 7 as street from range(5000)"
        )
        con.execute("create schema audit")
        con.execute("create table audit.source_files as select 'raw/a.csv' as _source_file")
    return path


@pytest.fixture
def folder(mart, tmp_path) -> Path:
    """The Parquet folder after a first export of ``mart``."""
    exported = tmp_path / "parquet"
    export_parquet(mart, exported)
    return exported


def _change(mart: Path, *statements: str) -> None:
    with duckdb.connect(str(mart)) as con:
        for statement in statements:
            con.execute(statement)


def _state(folder: Path) -> dict[str, tuple[int, int]]:
    """Every Parquet file → (inode, mtime): a rewrite (temporary file + rename) changes both."""
    return {
        str(p.relative_to(folder)): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*.parquet"))
    }


def assert_parquet_equals_mart(mart: Path, folder: Path) -> None:
    """Every published table has its Parquet file with the same columns and the same rows
    (as a multiset), and no other Parquet file is there."""
    with duckdb.connect(str(mart), read_only=True) as con:
        tables = con.execute("select schema_name, table_name from duckdb_tables()").fetchall()
        expected = {parquet_path(folder, s, t) for s, t in tables}
        assert set(folder.rglob("*.parquet")) == expected
        for schema, table in tables:
            path = str(parquet_path(folder, schema, table))
            in_mart = f'select * from "{schema}"."{table}"'
            in_file = f"select * from read_parquet('{path}')"
            assert (
                con.execute(f"describe {in_mart}").fetchall()
                == con.execute(f"describe {in_file}").fetchall()
            )
            for a, b in ((in_mart, in_file), (in_file, in_mart)):
                differ = con.execute(f"select count(*) from ({a} except all {b})").fetchone()
                assert differ == (0,), f"{schema}.{table}"


def test_first_export_writes_every_table(mart, tmp_path):
    folder = tmp_path / "parquet"
    export = export_parquet(mart, folder)
    assert export.written == ["audit.source_files", "main.annual_indicators", "main.fct_members"]
    assert export.kept == []
    assert_parquet_equals_mart(mart, folder)
    manifest = json.loads((folder / MANIFEST_NAME).read_text("utf-8"))
    assert manifest["tables"]["main.fct_members"]["rows"] == 5000


def test_unchanged_tables_keep_their_files(mart, folder):
    before = _state(folder)
    # a new publication of the same content: a separate file with the same tables
    _change(mart, "create or replace table fct_members as select * from fct_members")
    again = export_parquet(mart, folder)
    assert again.written == [] and len(again.kept) == 3
    assert _state(folder) == before


def test_a_changed_row_rewrites_only_its_table(mart, folder):
    before = _state(folder)
    _change(mart, "update annual_indicators set value = 31 where street_code = 'district'")
    export = export_parquet(mart, folder)
    assert export.written == ["main.annual_indicators"]
    after = _state(folder)
    assert after["annual_indicators.parquet"] != before["annual_indicators.parquet"]
    assert {k: v for k, v in after.items() if k != "annual_indicators.parquet"} == {
        k: v for k, v in before.items() if k != "annual_indicators.parquet"
    }
    assert_parquet_equals_mart(mart, folder)


@pytest.mark.parametrize(
    "change",
    [
        "delete from fct_members where id = 4999",  # one row fewer
        "update fct_members set street = 8 where id = 17",  # one value, same row count
        "insert into fct_members values (0, 0)",  # a duplicate row
        "alter table fct_members alter street type integer",  # same values, another type
        "alter table fct_members rename street to street_no",  # same values, another name
    ],
)
def test_any_change_of_a_table_is_exported(mart, folder, change):
    _change(mart, change)
    assert export_parquet(mart, folder).written == ["main.fct_members"]
    assert_parquet_equals_mart(mart, folder)


@pytest.mark.parametrize("damage", ["deleted", "replaced_same_size", "truncated", "other_table"])
def test_a_missing_or_hand_modified_file_is_rewritten(mart, folder, damage):
    target = parquet_path(folder, "main", "fct_members")
    if damage == "deleted":
        target.unlink()
    elif damage == "replaced_same_size":
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0xFF
        target.write_bytes(bytes(data))
    elif damage == "truncated":
        target.write_bytes(target.read_bytes()[:100])
    else:  # a valid Parquet file, of another table
        target.write_bytes(parquet_path(folder, "main", "annual_indicators").read_bytes())
    export = export_parquet(mart, folder)
    assert export.written == ["main.fct_members"]
    assert_parquet_equals_mart(mart, folder)


def test_missing_or_damaged_manifest_rewrites_everything(mart, folder):
    (folder / MANIFEST_NAME).write_text("{not json", encoding="utf-8")
    assert len(export_parquet(mart, folder).written) == 3
    (folder / MANIFEST_NAME).unlink()
    assert len(export_parquet(mart, folder).written) == 3
    assert export_parquet(mart, folder).written == []
    assert_parquet_equals_mart(mart, folder)


def test_another_duckdb_version_or_force_rewrites_everything(mart, folder):
    """``hash`` is DuckDB's own: a fingerprint from another version is not comparable."""
    manifest_path = folder / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text("utf-8"))
    manifest["duckdb"] = "0.0.1"
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    assert len(export_parquet(mart, folder).written) == 3
    assert len(export_parquet(mart, folder, force=True).written) == 3


def test_tables_no_longer_published_lose_their_files(mart, folder):
    (folder / "dropped_by_hand.parquet").write_bytes(b"old")
    _change(mart, "drop table audit.source_files")
    export = export_parquet(mart, folder)
    assert export.written == [] and len(export.kept) == 2
    assert not parquet_path(folder, "audit", "source_files").exists()
    assert {p.name for p in export.removed} == {"source_files.parquet", "dropped_by_hand.parquet"}
    manifest = json.loads((folder / MANIFEST_NAME).read_text("utf-8"))
    assert set(manifest["tables"]) == {"main.annual_indicators", "main.fct_members"}
    assert_parquet_equals_mart(mart, folder)
