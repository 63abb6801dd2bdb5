"""The single Dagster entry point: every asset, check, job, schedule and resource of gonghui.

``dagster dev`` (``make dev``) and ``gonghui run`` both load this module.
"""

from __future__ import annotations

import dagster as dg

from orchestration.defs.dbt.assets import warehouse_models
from orchestration.defs.dbt.resources import dbt_resource
from orchestration.defs.ingest.assets import landing_tables
from orchestration.defs.ingest.resources import WarehouseResource
from orchestration.defs.ingest.schedules import nightly_schedule
from orchestration.defs.jobs import gonghui_job
from orchestration.defs.publish.assets import published_mart

defs = dg.Definitions(
    assets=[landing_tables, warehouse_models, published_mart],
    jobs=[gonghui_job],
    schedules=[nightly_schedule],
    resources={"warehouse": WarehouseResource(), "dbt": dbt_resource()},
    executor=dg.in_process_executor,
)
