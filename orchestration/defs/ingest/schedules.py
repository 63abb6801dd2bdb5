"""The nightly run: the same job as ``gonghui run``, at 02:00 Shanghai time."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.jobs import gonghui_job

nightly_schedule = dg.ScheduleDefinition(
    name="nightly_gonghui",
    job=gonghui_job,
    cron_schedule="0 2 * * *",
    execution_timezone="Asia/Shanghai",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Ingest last day's submissions, rebuild and check the mart, publish if green.",
)
