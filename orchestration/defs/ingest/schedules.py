"""The nightly run: the same job as ``gonghui run``, at 02:00 Shanghai time.

It covers every street partition in one run; ingestion skips the streets whose files are
unchanged by content hash, so the night's cost is the changed streets plus the dbt build.
"""

from __future__ import annotations

import dagster as dg

from orchestration.defs.ingest.partitions import partition_range_tags
from orchestration.defs.jobs import gonghui_job
from orchestration.defs.runs import in_progress_runs

NIGHTLY_SCHEDULE_NAME = "nightly_gonghui"


@dg.schedule(
    name=NIGHTLY_SCHEDULE_NAME,
    job=gonghui_job,
    cron_schedule="0 2 * * *",
    execution_timezone="Asia/Shanghai",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Ingest the changed streets' submissions, rebuild and check the mart, "
    "publish if green (every street partition in one run).",
)
def nightly_schedule(context: dg.ScheduleEvaluationContext):
    running = in_progress_runs(context.instance)
    if running:
        return dg.SkipReason(
            f"run {running[0]} of {gonghui_job.name} is still in progress; "
            "the working database has one writer"
        )
    scheduled = context.scheduled_execution_time
    return dg.RunRequest(
        run_key=scheduled.isoformat() if scheduled else None,
        tags={**partition_range_tags(), "gonghui/trigger": "nightly"},
    )
