"""The stage lines of ``gonghui run`` from Dagster events and ingestion's progress records."""

from __future__ import annotations

import logging
from types import SimpleNamespace

from orchestration.cli_ops import scope_line
from orchestration.lib.console import RunConsole, report_progress


def entry(kind: str, step: str, passed: bool = True, metadata: dict | None = None):
    event = SimpleNamespace(
        event_type_value=kind,
        event_specific_data=SimpleNamespace(passed=passed, metadata=metadata or {}),
    )
    return SimpleNamespace(dagster_event=event, step_key=step)


def test_dbt_stage_counts_models_model_checks_and_their_tests(tmp_path):
    """One check per dbt model: the line counts the checks and the dbt tests they ran."""
    console = RunConsole(tmp_path / "run.log")
    for kind in ["ASSET_MATERIALIZATION_PLANNED"] * 3 + ["ASSET_CHECK_EVALUATION_PLANNED"] * 2:
        console.on_event(entry(kind, "warehouse_models"))
    assert console.stage_lines() == []  # planned, not started
    console.on_event(entry("STEP_START", "warehouse_models"))
    for _ in range(3):
        console.on_event(entry("ASSET_MATERIALIZATION", "warehouse_models"))
    console.on_event(entry("ASSET_CHECK_EVALUATION", "warehouse_models", metadata={"tests": 5}))
    console.on_event(
        entry("ASSET_CHECK_EVALUATION", "warehouse_models", metadata={"tests": 2}, passed=False)
    )
    console.on_event(entry("STEP_FAILURE", "warehouse_models"))
    [line] = console.stage_lines()
    assert line.startswith("  dbt build")
    assert "models 3/3, model checks 2/2 (7 tests), 1 failed — FAILED" in line, line


def test_failed_checks_and_failed_steps_show(tmp_path):
    console = RunConsole(tmp_path / "run.log")
    console.on_event(entry("ASSET_CHECK_EVALUATION_PLANNED", "landing_quality_gate"))
    console.on_event(entry("STEP_START", "landing_quality_gate"))
    console.on_event(entry("ASSET_CHECK_EVALUATION", "landing_quality_gate", passed=False))
    console.on_event(entry("STEP_FAILURE", "landing_quality_gate"))
    [line] = console.stage_lines()
    assert "source checks" in line and "1/1 checks, 1 failed — FAILED" in line


def test_ingestion_reports_files_read_through_logging(tmp_path):
    with RunConsole(tmp_path / "run.log") as console:
        console.on_event(entry("STEP_START", "landing_tables"))
        for n in range(1, 6):
            report_progress("files", n, 5)
        [line] = console.stage_lines()
    assert "ingest" in line and "5/5 files read" in line
    assert "files 5/5" not in (tmp_path / "run.log").read_text(encoding="utf-8")


def test_warnings_are_collected_once_and_go_to_the_log_file(tmp_path):
    log = tmp_path / "run.log"
    with RunConsole(log) as console:
        for _ in range(2):
            logging.getLogger("orchestration.lib.ingest").warning("GONGHUI_PII_KEY is not set")
        logging.getLogger("orchestration.lib.alerts").error("the alert has its own line")
    assert console.warnings == ["GONGHUI_PII_KEY is not set"]
    assert "GONGHUI_PII_KEY is not set" in log.read_text(encoding="utf-8")


def test_scope_line_names_why_every_street_was_read():
    streets = [f"s{i}" for i in range(11)]
    assert scope_line(streets, 11, "--full-refresh") == "  streets re-read: all 11 (--full-refresh)"
    line = scope_line(streets, 11, "the mapping sources.yml changed since the last ingestion")
    assert "all 11 (the mapping sources.yml changed" in line
    assert "the other 0" not in line
    line = scope_line(["buji"], 11)
    assert "buji (files added, changed or removed); the other 10 kept their rows" in line
