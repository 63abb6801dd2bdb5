"""What a user sees of ``gonghui run``: stage lines and the summary, the detail in the log.

Runs the real pipeline once on a small demo (scale 0.3 — at 0.2 one street's quarantine rate
blocks publication) in a subprocess with its own landing root and warehouse, without
``GONGHUI_PII_KEY`` (so the development-key warning is raised).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import pipeline_env

GONGHUI = Path(sys.executable).with_name("gonghui")
MAX_LINES = 60
STAGES = ("ingest", "source checks", "dbt build", "warehouse checks", "publish")

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


@pytest.fixture(scope="module")
def quiet_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("quiet")
    env = pipeline_env(base / "raw", base / "warehouse")  # the development key: it warns
    subprocess.run(
        [GONGHUI, "demo-data", "--scale", "0.3"], env=env, check=True, capture_output=True
    )
    proc = subprocess.run([GONGHUI, "run"], env=env, capture_output=True, text=True)
    return base, proc


def test_a_quiet_run_prints_the_stages_and_the_summary(quiet_run):
    _base, proc = quiet_run
    out = proc.stdout + proc.stderr
    lines = out.splitlines()
    assert proc.returncode == 0, out[-3000:]
    assert len(lines) <= MAX_LINES, out
    for stage in STAGES:
        assert [line for line in lines if line.strip().startswith(stage)], (stage, out)
    files = re.search(r"ingest\s+(\d+)/(\d+) files read", out)
    assert files and files[1] == files[2], out
    dbt = re.search(r"dbt build\s+models (\d+)/\1, model checks (\d+)/\2 \((\d+) tests\)", out)
    assert dbt and int(dbt[3]) > int(dbt[2]), out
    assert "DEBUG" not in out and " - dagster - " not in out
    assert "OK created" not in out  # dbt's per-node lines
    assert "PUBLISHED" in out


def test_a_run_records_one_check_per_dbt_model(quiet_run):
    """Fewer Dagster events: the dbt tests are one check per model (was one per dbt test:
    1,010 events per run). The landing tables stay one planned materialization and one
    materialization per table × street: Dagster records partitions one by one."""
    import sqlite3

    from orchestration.defs.dbt.assets import warehouse_models
    from orchestration.defs.ingest.assets import RAW_TABLES, landing_tables
    from orchestration.defs.ingest.partitions import STREET_CODES

    base, proc = quiet_run
    run_id = re.search(r"gonghui run (\S+) — ", proc.stdout)[1]
    db = base / "warehouse" / "dagster" / "history" / "runs" / f"{run_id}.db"
    with sqlite3.connect(db) as con:
        counts = dict(
            con.execute("select dagster_event_type, count(*) from event_logs group by 1").fetchall()
        )
        landing_planned = con.execute(
            "select count(*) from event_logs where dagster_event_type = "
            "'ASSET_MATERIALIZATION_PLANNED' and step_key = 'landing_tables'"
        ).fetchone()[0]
    dbt_checks = len(list(warehouse_models.check_specs))
    gate_checks = counts["ASSET_CHECK_EVALUATION"] - dbt_checks
    assert 0 < gate_checks < 10, counts
    assert counts["ASSET_CHECK_EVALUATION_PLANNED"] == counts["ASSET_CHECK_EVALUATION"]
    assert len(landing_tables.keys) == len(RAW_TABLES)
    assert landing_planned == len(RAW_TABLES) * len(STREET_CODES), counts
    assert counts["ASSET_MATERIALIZATION"] >= len(RAW_TABLES) * len(STREET_CODES)
    assert counts["ASSET_CHECK_EVALUATION"] < 60 and sum(counts.values()) < 700, counts


def test_every_warning_is_shown_once(quiet_run):
    _base, proc = quiet_run
    out = proc.stdout + proc.stderr
    assert out.count("GONGHUI_PII_KEY is not set") == 1
    assert "UserWarning" not in out and "key = key or pii_key()" not in out
    rejected = re.findall(r"^\s+(\S+): rejected —", out, flags=re.M)
    assert rejected  # the demo has an unsupported .txt file per year
    for name in rejected:
        assert out.count(f"{name}: rejected") == 1, name


def test_the_run_log_has_the_dagster_and_dbt_detail(quiet_run):
    base, proc = quiet_run
    run_id = re.search(r"^gonghui run (\S+) —", proc.stdout, flags=re.M)[1]
    log = base / "warehouse" / "logs" / f"{run_id}.log"
    assert f"log: {log}" in proc.stdout
    text = log.read_text(encoding="utf-8")
    assert 'STEP_START - Started execution of step "landing_tables"' in text
    assert "ASSET_MATERIALIZATION - Materialized value" in text
    assert "OK created sql" in text  # dbt's own lines
    assert "GONGHUI_PII_KEY is not set" in text
