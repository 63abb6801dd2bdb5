"""``gonghui sql``: read-only SQL on the published mart, its formats, the Parquet export, and
queries while a run or a publication is writing."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import threading
import time

import duckdb
import pytest
from published_demo import GONGHUI, PUBLISHED_GROUP

from orchestration.lib.export import export_parquet, parquet_path
from orchestration.lib.publish import publish_mart
from orchestration.lib.query import Result, format_table

pytestmark = pytest.mark.xdist_group(PUBLISHED_GROUP)


DISTRICT_2021 = (
    "select indicator_code, value from annual_indicators "
    "where year = 2021 and street_code = 'district' order by indicator_code"
)


def _district(mart) -> dict[str, str]:
    with duckdb.connect(str(mart), read_only=True) as con:
        return {c: f"{v}" for c, v in con.execute(DISTRICT_2021).fetchall()}


def test_table_csv_and_json(demo):
    expected = _district(demo.mart)
    table = demo.gonghui("sql", DISTRICT_2021)
    assert table.returncode == 0, table.stderr
    assert "| indicator_code" in table.stdout and "30 rows" in table.stdout

    as_csv = demo.gonghui("sql", "--format", "csv", DISTRICT_2021)
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert {r["indicator_code"]: r["value"] for r in rows} == expected

    as_json = demo.gonghui("sql", "--format", "json", DISTRICT_2021)
    records = json.loads(as_json.stdout)
    assert len(records) == 30
    assert {r["indicator_code"] for r in records} == set(expected)


def test_audit_schema_and_interactive_input(demo):
    script = (
        ".tables\nselect count(*) as n\n  from audit.source_files;\n.format csv\nselect 42 as x;\n"
    )
    proc = demo.gonghui("sql", input=script)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "annual_indicators" in proc.stdout and "quarantined_rows" in proc.stdout
    assert "x\n42" in proc.stdout


def test_read_only(demo):
    before = demo.mart.stat().st_mtime_ns
    proc = demo.gonghui("sql", "create table scratch as select 1")
    assert proc.returncode == 1
    assert "read-only" in proc.stderr.lower()
    proc = demo.gonghui("sql", "delete from annual_indicators")
    assert proc.returncode == 1
    assert demo.mart.stat().st_mtime_ns == before


def test_missing_mart_is_a_clear_error(tmp_path):
    proc = subprocess.run(
        [str(GONGHUI), "sql", "--mart", str(tmp_path / "none.duckdb"), "select 1"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "no published mart" in proc.stderr


def test_table_format_aligns_cjk():
    out = format_table(Result(["name", "n"], [("平湖街道", 1), ("Buji", 22)])).splitlines()
    assert len({len(line.encode("gbk", errors="replace")) for line in out[:-1]}) == 1


def test_parquet_export_covers_every_published_table(demo):
    folder = demo.warehouse / "published" / "parquet"
    with duckdb.connect(str(demo.mart), read_only=True) as con:
        tables = con.execute("select schema_name, table_name from duckdb_tables()").fetchall()
        assert len(tables) >= 10
        for schema, table in tables:
            path = parquet_path(folder, schema, table)
            assert path.is_file(), f"{schema}.{table}: no {path}"
            n_parquet = con.execute(f"select count(*) from read_parquet('{path}')").fetchone()
            n_table = con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()
            assert n_parquet == n_table, f"{schema}.{table}"
        annual = parquet_path(folder, "main", "annual_indicators")
        values = con.execute(f"select sum(value) from read_parquet('{annual}')").fetchone()
        assert values == con.execute("select sum(value) from annual_indicators").fetchone()


def test_parquet_export_removes_stale_files(demo, tmp_path):
    (tmp_path / "dropped_table.parquet").write_bytes(b"old")
    export = export_parquet(demo.mart, tmp_path)
    assert "main.annual_indicators" in export.files and "audit.excluded_rows" in export.files
    assert not (tmp_path / "dropped_table.parquet").exists()


def _sql_loop(demo, stop: threading.Event, results: list, query: str) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        proc = demo.gonghui("sql", "--format", "csv", query, timeout=60)
        results.append((proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - started))


def test_sql_while_publications_swap_the_mart(demo):
    """Publications replace mart.duckdb over and over while `gonghui sql` keeps querying."""
    query = "select count(*) as n from annual_indicators"
    working = demo.warehouse / "gonghui.duckdb"
    stop, results = threading.Event(), []
    reader = threading.Thread(target=_sql_loop, args=(demo, stop, results, query))
    with duckdb.connect(str(demo.mart), read_only=True) as held:
        reader.start()
        try:
            for i in range(8):
                publish_mart(working, demo.mart, f"swap-{i}")
                # a connection opened before the swaps still reads its publication
                assert held.execute(query).fetchone() == (720,)
        finally:
            time.sleep(0.5)
            stop.set()
            reader.join()
    assert results
    for code, out, err, seconds in results:
        assert code == 0, err
        assert out.split() == ["n", "720"]
        assert seconds < 10


def test_sql_while_gonghui_run_is_running(demo, tmp_path):
    """A whole `gonghui run --full-refresh` (ingest, dbt build, checks, publication) runs while
    analysts query: no query fails or waits for the run. (Without --full-refresh a run on
    unchanged files would stop at once: nothing to rebuild.)"""
    query = "select count(*) as n from annual_indicators where year = 2021"
    log = tmp_path / "run.log"
    with log.open("w") as sink:
        run = subprocess.Popen(
            [str(GONGHUI), "run", "--full-refresh"],
            env=demo.env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        results = []
        try:
            while run.poll() is None:
                started = time.perf_counter()
                proc = demo.gonghui("sql", "--format", "csv", query, timeout=60)
                elapsed = time.perf_counter() - started
                results.append((proc.returncode, proc.stdout, proc.stderr, elapsed))
                time.sleep(0.2)
        finally:
            if run.poll() is None:
                run.kill()
            run.wait(timeout=60)
    output = log.read_text(encoding="utf-8", errors="replace")
    assert run.returncode == 0, output[-3000:]
    assert "PUBLISHED" in output
    assert len(results) >= 5
    for code, out, err, seconds in results:
        assert code == 0, err
        assert out.split() == ["n", "360"]
        assert seconds < 10, f"a query waited {seconds:.1f} s"
