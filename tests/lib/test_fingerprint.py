"""What decides how much of a run is needed: tree hashes, the inputs fingerprint, the work
pending before a run (``orchestration/lib/fingerprint.py``), the full-refresh decision of the
dbt asset and ``gonghui run``'s early stop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest
from conftest import PII_KEY, make_credit_code, record_publication
from mappings import CONTRACT_MAPPING

from orchestration.lib.fingerprint import (
    current_fingerprint,
    dbt_full_refresh_reason,
    dbt_project_sha256,
    pending_work,
    tree_sha256,
)
from orchestration.lib.ingest import ingest
from orchestration.lib.mapping import load_mapping
from orchestration.lib.settings import Settings

CC = make_credit_code("91440300MA5F00001")
HEADER = ["案件编号", "受理日期", "企业名称", "统一社会信用代码", "涉及人数", "挽回经济损失（元）"]
GONGHUI = Path(sys.executable).with_name("gonghui")


def rows(*cases):
    return [HEADER, *[[c, "2021-03-05", "甲公司", CC, 3, "100"] for c in cases]]


def test_tree_hash_follows_contents_and_ignores_generated_folders(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "a.sql").write_text("select 1")
    before = tree_sha256(tmp_path)
    for generated in ("target", "logs", "uncommitted", "__pycache__"):
        (tmp_path / generated).mkdir()
        (tmp_path / generated / "x.json").write_text("{}")
    assert tree_sha256(tmp_path) == before
    (tmp_path / "models" / "a.sql").write_text("select 2")
    assert tree_sha256(tmp_path) != before
    (tmp_path / "models" / "a.sql").write_text("select 1")
    (tmp_path / "models" / "a.sql").rename(tmp_path / "models" / "b.sql")
    assert tree_sha256(tmp_path) != before, "a renamed model is another model"


def test_dbt_project_hash_covers_models_macros_and_project_file(tmp_path):
    for folder in ("models", "macros"):
        (tmp_path / folder).mkdir()
    (tmp_path / "models" / "m.sql").write_text("select 1")
    (tmp_path / "macros" / "x.sql").write_text("{% macro x() %}1{% endmacro %}")
    (tmp_path / "dbt_project.yml").write_text("name: p\n")
    base = dbt_project_sha256(tmp_path)
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "manifest.json").write_text("{}")
    (tmp_path / "profiles.yml").write_text("threads: 4\n")  # where, not what, dbt builds
    assert dbt_project_sha256(tmp_path) == base
    (tmp_path / "macros" / "x.sql").write_text("{% macro x() %}2{% endmacro %}")
    assert dbt_project_sha256(tmp_path) != base
    (tmp_path / "macros" / "x.sql").write_text("{% macro x() %}1{% endmacro %}")
    (tmp_path / "dbt_project.yml").write_text("name: p\nvars: {a: 1}\n")
    assert dbt_project_sha256(tmp_path) != base


@pytest.fixture
def ingested(landing, tmp_path, monkeypatch):
    """A landing root of two streets, ingested into a warehouse; settings from the env."""
    landing.csv("buji", "纠纷.csv", rows("B1"))
    landing.csv("pinghu", "纠纷.csv", rows("P1"))
    mapping = tmp_path / "sources.yml"
    mapping.write_bytes(CONTRACT_MAPPING.read_bytes())
    monkeypatch.setenv("GONGHUI_RAW_DIR", str(landing.root))
    monkeypatch.setenv("GONGHUI_WAREHOUSE_DIR", str(tmp_path / "warehouse"))
    monkeypatch.setenv("GONGHUI_MAPPING", str(mapping))
    monkeypatch.setenv("GONGHUI_PII_KEY", PII_KEY.decode())  # what `gonghui run` would use
    settings = Settings.from_env()
    settings.warehouse_dir.mkdir()
    with duckdb.connect(str(settings.duckdb_path)) as con:
        ingest(landing.root, con, load_mapping(mapping), "run-1", key=PII_KEY)
    return landing, settings


def test_fingerprint_changes_with_the_raw_state_mapping_and_gate(ingested, tmp_path, monkeypatch):
    landing, settings = ingested
    recorded = record_publication(settings)
    assert set(recorded) == {
        "raw_state",
        "dbt_project",
        "quality_gate",
        "mapping",
        "streets",
        "code",
        "year_states",  # the working year: a year that closes is a new input
        "fingerprint",
    }

    def now():
        with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
            return current_fingerprint(con, settings)

    assert now() == recorded
    with duckdb.connect(str(settings.duckdb_path)) as con:  # buji re-ingested by another run
        ingest(landing.root, con, load_mapping(settings.mapping_path), "run-2",
               streets=["buji"], key=PII_KEY)  # fmt: skip
    changed = now()
    assert changed["raw_state"] != recorded["raw_state"]
    assert changed["fingerprint"] != recorded["fingerprint"]
    assert {k for k in recorded if changed[k] != recorded[k]} == {"raw_state", "fingerprint"}


def test_pending_work_before_a_run(ingested):
    landing, settings = ingested
    # ingested but never published (e.g. the last run was blocked): work to do, no street
    work = pending_work(settings)
    assert (work.changed_streets, work.unplaced_changed, work.nothing_to_do) == ([], False, False)

    record_publication(settings)
    assert pending_work(settings).nothing_to_do

    landing.csv("pinghu", "纠纷.csv", rows("P1", "P2"))
    work = pending_work(settings)
    assert (work.changed_streets, work.nothing_to_do) == (["pinghu"], False)

    settings.published_mart.unlink()  # the publication is gone: rebuild it
    landing.csv("pinghu", "纠纷.csv", rows("P1"))
    assert not pending_work(settings).nothing_to_do


def test_a_changed_streets_list_is_work_even_when_no_landing_file_changed(
    ingested, tmp_path, monkeypatch
):
    _landing, settings = ingested
    streets = tmp_path / "streets.csv"
    streets.write_bytes(settings.streets_path.read_bytes())
    monkeypatch.setenv("GONGHUI_STREETS", str(streets))
    record_publication(settings)
    assert pending_work(settings).nothing_to_do
    # a street renamed: the mart's dim_street (and the report) must be rebuilt
    streets.write_text(
        streets.read_text("utf-8").replace("布吉街道,布吉,", "布吉新街道,布吉新,"), "utf-8"
    )
    work = pending_work(settings)
    assert (work.changed_streets, work.nothing_to_do) == ([], False)


def test_another_pii_key_is_work_for_every_street(ingested, monkeypatch):
    _landing, settings = ingested
    record_publication(settings)
    assert pending_work(settings).nothing_to_do
    monkeypatch.setenv("GONGHUI_PII_KEY", "a-new-secret")  # rows hashed with the old key
    work = pending_work(settings)
    assert (work.changed_streets, work.nothing_to_do) == (["pinghu", "buji"], False)


def test_pending_work_without_a_warehouse_is_every_street(landing, tmp_path, monkeypatch):
    landing.csv("buji", "纠纷.csv", rows("B1"))
    monkeypatch.setenv("GONGHUI_RAW_DIR", str(landing.root))
    monkeypatch.setenv("GONGHUI_WAREHOUSE_DIR", str(tmp_path / "nowhere"))
    work = pending_work(Settings.from_env())
    assert "buji" in work.changed_streets and not work.nothing_to_do


def test_gonghui_run_stops_before_starting_a_run_when_nothing_changed(ingested):
    _landing, settings = ingested
    record_publication(settings)
    proc = subprocess.run([GONGHUI, "run"], env=dict(os.environ), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "UP TO DATE, no run needed" in proc.stdout
    assert "nothing changed since the publication of run run-1" in proc.stdout
    assert settings.published_mart.read_bytes() == b"mart"
    assert not settings.dagster_home.exists(), "no Dagster run was started"
    assert not (settings.published_dir / "decisions").exists()


def test_the_dbt_build_rebuilds_from_scratch_when_the_project_changed(tmp_path):
    from orchestration.lib.constants import PROJECT_ROOT

    settings = SimpleNamespace(published_dir=tmp_path)
    assert dbt_full_refresh_reason(settings) == "no publication recorded"
    current = dbt_project_sha256(PROJECT_ROOT / "dbt_project")
    manifest = {"run_id": "run-1", "fingerprint": {"dbt_project": current}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert dbt_full_refresh_reason(settings) is None
    manifest["fingerprint"]["dbt_project"] = "sha-of-an-older-project"
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    reason = dbt_full_refresh_reason(settings)
    assert reason == "the dbt project changed since the publication of run run-1"


def test_each_local_edit_of_a_commit_is_its_own_code_version(tmp_path, monkeypatch):
    from orchestration.lib.publish import code_version

    monkeypatch.delenv("GONGHUI_CODE_VERSION", raising=False)

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "model.sql").write_text("select 1\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "c")
    clean = code_version(tmp_path)
    assert clean["dirty"] is False and "local_changes" not in clean
    (tmp_path / "model.sql").write_text("select 2\n")
    first = code_version(tmp_path)
    (tmp_path / "model.sql").write_text("select 3\n")
    second = code_version(tmp_path)
    assert first["commit"] == second["commit"] == clean["commit"]
    assert first["dirty"] and second["dirty"]
    assert first["local_changes"] != second["local_changes"]
    (tmp_path / "model.sql").write_text("select 2\n")
    assert code_version(tmp_path) == first  # the same edit, the same version


def test_reread_reason_names_the_mapping_or_key_change(ingested, monkeypatch):
    import argparse

    from orchestration.cli_ops import reread_reason

    _landing, settings = ingested
    plain, full = argparse.Namespace(full_refresh=False), argparse.Namespace(full_refresh=True)
    assert reread_reason(settings, plain) is None  # only changed files would be re-read
    assert reread_reason(settings, full) == "--full-refresh"
    monkeypatch.setenv("GONGHUI_PII_KEY", "a-new-secret")
    assert reread_reason(settings, plain) == "GONGHUI_PII_KEY changed since the last ingestion"
    monkeypatch.setenv("GONGHUI_PII_KEY", PII_KEY.decode())
    mapping = settings.mapping_path
    mapping.write_text(mapping.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert reread_reason(settings, plain) == (
        "the mapping sources.yml changed since the last ingestion"
    )
    settings.duckdb_path.unlink()
    assert reread_reason(settings, plain) == "first ingestion into this warehouse"
