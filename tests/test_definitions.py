"""Every Dagster definition loads, and the asset graph runs from landing files to publication."""

from __future__ import annotations

import dagster as dg

from orchestration.definitions import defs
from orchestration.defs.ingest.assets import KIND_TABLES, RAW_TABLES, raw_asset_key
from orchestration.defs.jobs import GONGHUI_JOB_NAME
from orchestration.defs.publish.assets import PUBLISHED_MART_KEY


def test_definitions_validate():
    dg.Definitions.validate_loadable(defs)


def test_job_schedule_and_executor():
    job = defs.resolve_job_def(GONGHUI_JOB_NAME)
    assert job.executor_def.name == "in_process"
    schedule = defs.resolve_schedule_def("nightly_gonghui")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "Asia/Shanghai"
    assert schedule.job_name == GONGHUI_JOB_NAME


def test_graph_runs_from_landing_tables_to_published_mart():
    graph = defs.resolve_asset_graph()
    keys = set(graph.get_all_asset_keys())
    for table in RAW_TABLES:
        assert raw_asset_key(table) in keys
    annual = dg.AssetKey(["marts", "annual_indicators"])
    assert annual in keys
    assert annual in graph.get(PUBLISHED_MART_KEY).parent_keys
    # every raw table feeds a staging model (dbt sources resolve to the ingest assets)
    for table in RAW_TABLES:
        assert graph.get(raw_asset_key(table)).child_keys, f"no model reads raw.{table}"
    # every raw table reaches the published mart, every report kind through annual_indicators
    for table in RAW_TABLES:
        assert raw_asset_key(table) in _ancestors(graph, PUBLISHED_MART_KEY), table
    for table in KIND_TABLES:
        assert raw_asset_key(table) in _ancestors(graph, annual), table


def _ancestors(graph, key: dg.AssetKey) -> set[dg.AssetKey]:
    """Every asset upstream of ``key`` (walking ``parent_keys``)."""
    seen: set[dg.AssetKey] = set()
    todo = [key]
    while todo:
        for parent in graph.get(todo.pop()).parent_keys:
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


def test_dbt_tests_become_blocking_checks():
    """One blocking check per dbt model (its tests aggregated), not one per test."""
    graph = defs.resolve_asset_graph()
    checks = [graph.get_check_spec(k) for k in graph.asset_check_keys]
    dbt_checks = [c for c in checks if c.name == "dbt_tests"]
    assert dbt_checks, "dbt tests should be asset checks"
    assert any(c.blocking for c in dbt_checks)
    assert len({c.asset_key for c in dbt_checks}) == len(dbt_checks)
