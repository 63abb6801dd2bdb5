"""The nightly run: the same job as ``gonghui run``, at 02:00 Shanghai time.

Before requesting a run it compares the landing files (SHA-256) with what was ingested — the
change detector :func:`orchestration.lib.changes.detect_changes`, through
:func:`orchestration.lib.fingerprint.pending_work` — and the inputs fingerprint with the last
publication's: when nothing changed the tick is skipped with
the reason; otherwise one run covers the range of changed streets (ingestion re-reads only
those), then dbt (incremental models), the gate and publication.
"""

from __future__ import annotations

import dagster as dg

from orchestration.defs.ingest.partitions import CHANGED_STREETS_TAG, partition_range_tags
from orchestration.defs.ingest.resources import WarehouseResource
from orchestration.defs.jobs import gonghui_job
from orchestration.defs.runs import in_progress_runs
from orchestration.lib.fingerprint import pending_work

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
def nightly_schedule(context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource):
    running = in_progress_runs(context.instance, warehouse.settings().warehouse_dir)
    if running:
        return dg.SkipReason(
            f"run {running[0]} of {gonghui_job.name} is still in progress; "
            "the working database has one writer"
        )
    work = pending_work(warehouse.settings())
    if work.nothing_to_do:
        manifest = work.up_to_date_with or {}
        return dg.SkipReason(
            f"nothing changed since the publication of run {manifest.get('run_id')} "
            f"({manifest.get('published_at')}): same landing files, mapping, dbt project, "
            "quality gate and code; the published mart stays in place"
        )
    for street, why in work.reasons.items():
        context.log.info(f"{street or 'outside street folders'}: {why}")
    streets = work.changed_streets if work.changed_streets and not work.unplaced_changed else None
    scheduled = context.scheduled_execution_time
    return dg.RunRequest(
        run_key=scheduled.isoformat() if scheduled else None,
        tags={
            **partition_range_tags(streets),
            "gonghui/trigger": "nightly",
            CHANGED_STREETS_TAG: ",".join(work.changed_streets),
        },
    )
