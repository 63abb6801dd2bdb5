"""The dbt CLI resource is dagster-dbt's own; the manifest is prepared by dagster-dbt's stock
mechanism (``prepare_if_dev`` under ``dagster dev``, ``dbt parse`` when missing elsewhere)."""

import json
import shutil

from dagster_dbt import DbtCliResource, DbtProject

from orchestration.defs.dbt.assets import dbt_build_args
from orchestration.defs.dbt.resources import (
    DBT_EXECUTABLE,
    DBT_PROJECT_DIR,
    dbt_resource,
    prepare_dbt_project,
)


def test_the_resource_is_stock_dagster_dbt_with_this_environments_dbt(tmp_path):
    resource = dbt_resource()
    assert type(resource) is DbtCliResource
    assert resource.dbt_executable == DBT_EXECUTABLE
    invocation = resource.cli(["ls", "--resource-type", "seed"], target_path=tmp_path)
    listed = [event.raw_event["data"].get("msg") for event in invocation.stream_raw_events()]
    assert invocation.is_successful()
    assert "gonghui.indicators" in listed


def test_a_missing_manifest_is_parsed_and_an_existing_one_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_IS_DEV_CLI", raising=False)
    copy = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, copy, ignore=shutil.ignore_patterns("target", "logs"))
    project = DbtProject(project_dir=copy, profiles_dir=copy)
    assert not project.manifest_path.exists()
    manifest = prepare_dbt_project(project)
    assert manifest == project.manifest_path
    assert "model.gonghui.int_members_deduplicated" in json.loads(manifest.read_text())["nodes"]
    stamp = manifest.stat().st_mtime_ns
    assert prepare_dbt_project(project) == manifest
    assert manifest.stat().st_mtime_ns == stamp  # not re-parsed outside `dagster dev`


def test_the_build_passes_the_reingested_streets_as_vars():
    assert dbt_build_args(["buji", "龙城"]) == [
        "build",
        "--vars",
        '{"streets": ["buji", "龙城"]}',
    ]
    assert dbt_build_args([]) == ["build", "--vars", '{"streets": []}']  # nothing re-read
    assert dbt_build_args(None) == ["build"]  # every street
    assert dbt_build_args(["buji"], "asked") == ["build", "--full-refresh"]
