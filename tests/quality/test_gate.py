"""The quality gate decides publication, records every decision, and survives SIGKILL.

One real ``gonghui run`` (dbt included) publishes a tiny complete landing folder; each case then
copies that warehouse, breaks one thing and runs the gate and publication through Dagster
without dbt. Every block must leave the previous ``published/mart.duckdb`` byte-for-byte
unchanged and name the street, the report kind and the rule.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from gate_fixtures import (
    GONGHUI,
    YEAR,
    gonghui_env,
    kind_rows,
    run_gate,
    sha256,
    write_csv,
)

from orchestration.defs.quality.checks import LANDING_CHECKS, MART_CHECKS
from orchestration.lib.gate import DEFAULT_EXPECTATIONS_DIR

pytestmark = pytest.mark.xdist_group("quality")


def _assert_blocked(run, mart: Path, before: str, street: str, kind: str, rule: str) -> None:
    assert not run.published, run.summary
    assert sha256(mart) == before, "a blocked run must leave the published mart untouched"
    assert run.decision["decision"] == "blocked"
    hits = [
        r
        for r in run.decision["reasons"]
        if r["street"] == street and r["kind"] == kind and rule in (r["rule"] or "")
    ]
    assert hits, json.dumps(run.decision["reasons"], ensure_ascii=False, indent=1)
    assert f"{street} · {kind} · " in run.summary and rule in run.summary, run.summary
    assert "BLOCKED" in run.summary


def test_great_expectations_is_not_imported_by_the_code_location_or_cli():
    code = (
        "import sys, orchestration.definitions, orchestration.cli; "
        "assert 'great_expectations' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_clean_run_publishes_manifest_history_and_data_docs(baseline):
    assert "PUBLISHED" in baseline.stdout
    assert "Data Docs: " in baseline.stdout
    published = baseline.warehouse / "published"
    manifest = json.loads((published / "manifest.json").read_text(encoding="utf-8"))
    gate = {c["name"]: c for c in manifest["checks"] if c["name"].startswith("gate_")}
    assert set(gate) == {*LANDING_CHECKS, *MART_CHECKS}
    assert all(c["passed"] for c in manifest["checks"]), [
        c for c in manifest["checks"] if not c["passed"]
    ]
    assert {c["severity"] for c in gate.values()} <= {"block", "warn"}
    assert manifest["code_version"]["commit"]
    assert manifest["mart"]["sha256"] == sha256(published / "mart.duckdb")
    assert manifest["mart"]["tables"]["main.annual_indicators"] == 30 * 12
    used = [f for f in manifest["inputs"] if f["used"]]
    assert len(used) == 11 * 8
    for entry in used[:5]:
        assert entry["sha256"] == sha256(baseline.raw / entry["file"])
    history = published / manifest["history"]
    assert sha256(history / "mart.duckdb") == manifest["mart"]["sha256"]
    assert json.loads((history / "manifest.json").read_text(encoding="utf-8")) == manifest
    assert (baseline.warehouse / "data_docs" / "index.html").is_file()
    decision = json.loads(
        (published / "decisions" / f"{manifest['run_id']}.json").read_text(encoding="utf-8")
    )
    assert decision["decision"] == "published"


def test_a_street_missing_a_report_kind_blocks(baseline, tmp_path, monkeypatch):
    raw, warehouse = baseline.copy(tmp_path)
    (raw / str(YEAR) / "pinghu" / "dispute_cases.csv").unlink()
    before = sha256(baseline.mart)
    run = run_gate(monkeypatch, raw, warehouse, ingest=True)
    _assert_blocked(
        run, warehouse / "published/mart.duckdb", before, "pinghu", "dispute_cases", "every street"
    )


def test_a_control_total_that_does_not_match_blocks(baseline, tmp_path, monkeypatch):
    raw, warehouse = baseline.copy(tmp_path)
    rows = kind_rows("hardship_assistance", "buji", count=3)
    amount = rows[0].index(next(h for h in rows[0] if h.startswith("发放金额")))
    total = ["合计"] + [None] * (len(rows[0]) - 1)
    total[amount] = "99999"  # the three rows sum to 3001.50
    write_csv(raw / str(YEAR) / "buji" / "hardship_assistance.csv", [*rows, total])
    run = run_gate(monkeypatch, raw, warehouse, ingest=True)
    _assert_blocked(
        run,
        warehouse / "published/mart.duckdb",
        sha256(baseline.mart),
        "buji",
        "hardship_assistance",
        "合计",
    )


def test_quarantine_rate_over_threshold_blocks_and_the_threshold_lives_in_expectations(
    baseline, tmp_path, monkeypatch
):
    raw, warehouse = baseline.copy(tmp_path)
    rows = kind_rows("worker_activities", "buji", count=20)
    held_on = rows[0].index("活动日期")
    for row in rows[1:6]:  # 5 of 20 rows dated outside the reporting year → quarantined (25 %)
        row[held_on] = f"{YEAR - 2}-05-01"
    write_csv(raw / str(YEAR) / "buji" / "worker_activities.csv", rows)
    before = sha256(baseline.mart)
    run = run_gate(monkeypatch, raw, warehouse, ingest=True)
    _assert_blocked(
        run,
        warehouse / "published/mart.duckdb",
        before,
        "buji",
        "worker_activities",
        "quarantine rate",
    )

    # the same data, the threshold raised in a copy of expectations/ (no code change): published
    expectations = tmp_path / "expectations"
    shutil.copytree(
        DEFAULT_EXPECTATIONS_DIR, expectations, ignore=shutil.ignore_patterns("uncommitted")
    )
    gate_yml = expectations / "gate.yml"
    text = gate_yml.read_text(encoding="utf-8")
    assert "max_quarantine_rate_pct: 10.0" in text
    gate_yml.write_text(
        text.replace("max_quarantine_rate_pct: 10.0", "max_quarantine_rate_pct: 30.0"),
        encoding="utf-8",
    )
    run = run_gate(monkeypatch, raw, warehouse, ingest=True, expectations=expectations)
    assert run.published, run.summary
    assert run.decision["decision"] == "published"
    assert sha256(warehouse / "published/mart.duckdb") != before
    # the finding is still listed for review, not hidden: one line per rule in the summary,
    # per street and kind in the decision record
    assert "rows quarantined (listed for review; not blocking): " in run.summary
    review = [f for c in run.decision["checks"] for f in c["findings"] if f["severity"] == "warn"]
    assert ("buji", "worker_activities") in {(f["street"], f["kind"]) for f in review}


def _assert_blocked_by_dbt_test(run, mart: Path, before: str, asset: str, test: str) -> list:
    """A mart check that lives in dbt (see expectations/gate.yml) blocked the publication: the
    model's check (its dbt tests aggregated) names the failing test; the reasons it gave."""
    assert not run.published, run.summary
    assert sha256(mart) == before, "a blocked run must leave the published mart untouched"
    assert run.decision["decision"] == "blocked"
    hits = [r for r in run.decision["reasons"] if (r["rule"] or "").startswith(test)]
    assert hits and all(r["asset"] == asset and r["check"] == "dbt_tests" for r in hits), (
        run.decision["reasons"]
    )
    assert f"FAILED [block] {asset} · dbt_tests" in run.summary, run.summary
    assert f" · {test}" in run.summary, run.summary
    assert "BLOCKED" in run.summary
    return hits


def test_a_duplicated_natural_key_in_a_conformed_table_blocks(baseline, tmp_path, monkeypatch):
    """Checked by dbt's unique_combination_of_columns (no longer by a GE suite); the failing
    rows dbt stored name the street of the duplicated key, in the summary and the decision."""
    raw, warehouse = baseline.copy(tmp_path)
    with duckdb.connect(str(warehouse / "gonghui.duckdb")) as con:
        con.execute(
            "insert into marts.fct_dispute_cases select * from marts.fct_dispute_cases "
            "where street_code = 'nanwan' limit 1"
        )
    test = "unique_combination_of_columns_fct_dispute_cases_"
    run = run_gate(monkeypatch, raw, warehouse, ingest=False, dbt_tests=(test,))
    hits = _assert_blocked_by_dbt_test(
        run,
        warehouse / "published/mart.duckdb",
        sha256(baseline.mart),
        "marts/fct_dispute_cases",
        test,
    )
    # the duplicated key's two rows, both of 南湾街道 (and only this test of the model failed)
    assert [(r["street"], r["observed"]) for r in hits] == [("nanwan 南湾街道", "2 failing row(s)")]
    assert {(r["rule"] or "").split(":")[0] for r in run.decision["reasons"]} == {
        hits[0]["rule"].split(":")[0]
    }
    assert "nanwan 南湾街道 · " in run.summary and "observed 2 failing row(s)" in run.summary


def test_a_mart_whose_streets_do_not_add_up_to_the_district_blocks(baseline, tmp_path, monkeypatch):
    """The dbt singular test, a blocking check on annual_indicators, stops publication."""
    raw, warehouse = baseline.copy(tmp_path)
    with duckdb.connect(str(warehouse / "gonghui.duckdb")) as con:
        con.execute(
            "update marts.annual_indicators set value = value + 1, numerator = numerator + 1 "
            "where street_code = 'longgang' and indicator_code = 'disputes_mediated'"
        )
    test = "assert_street_values_sum_to_district"
    run = run_gate(monkeypatch, raw, warehouse, ingest=False, dbt_tests=(test,))
    _assert_blocked_by_dbt_test(
        run,
        warehouse / "published/mart.duckdb",
        sha256(baseline.mart),
        "marts/annual_indicators",
        test,
    )


def test_a_table_whose_rows_halve_on_the_previous_year_blocks_that_year(
    baseline, tmp_path, monkeypatch
):
    """Year on year stays in Great Expectations, on rows per year counted in DuckDB; the
    finding names its year, so that year is held back while the others publish."""
    raw, warehouse = baseline.copy(tmp_path)
    with duckdb.connect(str(warehouse / "gonghui.duckdb")) as con:
        # next year's requests: 40 % of this year's as published
        (rows,) = con.execute("select count(*) from marts.fct_worker_requests").fetchone()
        con.execute(f"update marts.fct_worker_requests set year = {YEAR + 1}")
        con.execute(
            "delete from marts.fct_worker_requests where rowid not in "
            f"(select rowid from marts.fct_worker_requests order by rowid limit {rows * 4 // 10})"
        )
    run = run_gate(monkeypatch, raw, warehouse, ingest=False)
    years = {y["year"]: y for y in run.decision["years"]}
    held = years[YEAR + 1]
    assert held["decision"] == "blocked", years
    assert any(
        b["check"] == "gate_year_on_year"
        and b["kind"] == "worker_requests"
        and "table_name=marts.fct_worker_requests" in b["observed"]
        for b in held["blocked_by"]
    ), held["blocked_by"]
    # never published before: the held year has no rows in the new mart
    with duckdb.connect(str(warehouse / "published/mart.duckdb"), read_only=True) as con:
        kept = con.execute(
            f"select count(*) from fct_worker_requests where year = {YEAR + 1}"
        ).fetchone()
    assert kept == (0,)


# --------------------------------------------------------------------------------- SIGKILL


def _kill_at(env: dict, marker: str, *, after=None) -> str:
    """Start ``gonghui run``; SIGKILL its whole process group (dbt too) when ``marker`` shows."""
    proc = subprocess.Popen(
        [GONGHUI, "run", "--verbose"],  # the markers are Dagster's and dbt's own lines
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if marker in line:
            if after:
                after()
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL, "".join(seen[-30:])
    return "".join(seen)


def _publications(published: Path) -> set[str]:
    return {sha256(p) for p in published.glob("history/*/mart.duckdb")}


def _assert_whole(mart: Path, allowed: set[str]) -> None:
    with duckdb.connect(str(mart), read_only=True) as con:
        assert con.execute("select count(*) from annual_indicators").fetchone()[0] == 360
    assert sha256(mart) in allowed


def test_sigkill_during_ingestion_dbt_and_publication_never_leaves_a_mixed_mart(baseline, tmp_path):
    raw, warehouse = baseline.copy(tmp_path)
    published = warehouse / "published"
    mart = published / "mart.duckdb"
    previous = sha256(mart)
    # a change in one street, so each run has something to ingest and a new mart to publish
    rows = kind_rows("care_services", "jihua", count=4)
    write_csv(raw / str(YEAR) / "jihua" / "care_services.csv", rows)
    env = gonghui_env(raw, warehouse)

    _kill_at(env, 'Started execution of step "landing_tables"')
    _assert_whole(mart, {previous})

    _kill_at(env, "OK created")  # dbt is building models
    _assert_whole(mart, {previous})

    def until_copy_begins():
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not list(published.glob(".mart-*.tmp")):
            time.sleep(0.002)

    _kill_at(env, 'Started execution of step "published_mart"', after=until_copy_begins)
    _assert_whole(mart, {previous} | _publications(published))

    proc = subprocess.run([GONGHUI, "run"], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "PUBLISHED" in proc.stdout
    manifest = json.loads((published / "manifest.json").read_text(encoding="utf-8"))
    assert sha256(mart) == manifest["mart"]["sha256"] != previous
    _assert_whole(mart, _publications(published))
    assert not list(published.glob(".mart-*.tmp")), "a killed run's temporary mart is cleaned up"
