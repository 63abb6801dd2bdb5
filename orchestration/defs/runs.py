"""Run bookkeeping shared by the schedule and the sensors."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.jobs import GONGHUI_JOB_NAME

IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def in_progress_runs(instance: dg.DagsterInstance | None) -> list[str]:
    """Ids of the ``gonghui_job`` runs queued or running (the warehouse has one writer)."""
    if instance is None:
        return []
    runs = instance.get_run_records(
        filters=dg.RunsFilter(job_name=GONGHUI_JOB_NAME, statuses=IN_PROGRESS), limit=5
    )
    return [r.dagster_run.run_id for r in runs]
