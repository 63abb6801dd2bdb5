"""The single Dagster entry point: every asset, check, job, schedule and resource of gonghui.

``dagster dev`` (``make dev``) and ``gonghui run`` both load this module.
"""

from __future__ import annotations

import dagster as dg

from orchestration.defs.alerts.sensors import blocked_alert, failure_alert
from orchestration.defs.dbt.assets import warehouse_models
from orchestration.defs.dbt.resources import dbt_resource
from orchestration.defs.ingest.assets import landing_tables
from orchestration.defs.ingest.resources import WarehouseResource
from orchestration.defs.ingest.schedules import nightly_schedule
from orchestration.defs.ingest.sensors import landing_sensor
from orchestration.defs.jobs import gonghui_job
from orchestration.defs.publish.assets import published_mart, published_parquet
from orchestration.defs.quality.checks import quality_checks

defs = dg.Definitions(
    assets=[landing_tables, warehouse_models, published_mart, published_parquet],
    asset_checks=quality_checks,
    jobs=[gonghui_job],
    schedules=[nightly_schedule],
    sensors=[landing_sensor, failure_alert, blocked_alert],
    resources={"warehouse": WarehouseResource(), "dbt": dbt_resource()},
    executor=dg.in_process_executor,
)
