"""The one job that runs everything (used by ``gonghui run``, the schedule and the sensor)."""

from __future__ import annotations

import dagster as dg

from orchestration.lib.instance_config import WRITER_TAG

GONGHUI_JOB_NAME = "gonghui_job"

gonghui_job = dg.define_asset_job(
    name=GONGHUI_JOB_NAME,
    selection=dg.AssetSelection.all(),
    description="Ingest the landing root, build and test the warehouse, check, publish.",
    executor_def=dg.in_process_executor,
    # one run at a time: the run queue's tag limit (lib/instance_config.py)
    tags={WRITER_TAG: "warehouse"},
)
