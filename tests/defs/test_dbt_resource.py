"""The dbt CLI resource skips dagster-dbt's version probe and in-process adapter."""

import re
import subprocess

from dagster_dbt import DbtCliResource

from orchestration.defs.dbt.resources import DBT_EXECUTABLE, GonghuiDbtCliResource, dbt_resource


def test_overrides_still_name_dagster_dbt_internals():
    # if dagster-dbt renames these, the overrides stop applying silently: fail here instead
    for name in ("_cli_version", "_initialize_dbt_core_adapter"):
        assert name in vars(DbtCliResource), f"dagster-dbt no longer has {name}"
        assert name in vars(GonghuiDbtCliResource)


def test_version_is_the_one_the_executable_reports():
    out = subprocess.run([DBT_EXECUTABLE, "--version"], capture_output=True, text=True).stdout
    reported = re.search(r"(\d+\.\d+\.\d+)", out.split("installed:")[-1]).group(1)
    assert str(dbt_resource()._cli_version) == reported


def test_cli_runs_dbt_without_an_adapter_in_process(tmp_path):
    invocation = dbt_resource().cli(["ls", "--resource-type", "seed"], target_path=tmp_path)
    listed = [event.raw_event["data"].get("msg") for event in invocation.stream_raw_events()]
    assert invocation.is_successful()
    assert invocation.adapter is None
    assert "gonghui.indicators" in listed
