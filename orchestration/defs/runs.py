"""Run bookkeeping shared by the schedule and the sensors.

The warehouse has one writer, so the schedule and the sensor wait while a run of
``gonghui_job`` is in progress. "In progress" is judged by the writer lock
(:mod:`orchestration.lib.writer`), which the kernel releases when its process dies: a run
record still STARTED / STARTING / NOT_STARTED / CANCELING while no process holds the lock was
left behind by a killed or aborted run. Such an orphan is marked failed through Dagster's public
API (``report_run_failed``, which also lets the failure alert fire) and no longer blocks
anything. A run younger than :data:`ORPHAN_GRACE_SECONDS` (since its last status change) is left
alone: it may be starting up and not have taken the lock yet. QUEUED runs wait for Dagster's
run queue (``concurrency.runs`` in ``dagster.yaml``) and are never orphans.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import dagster as dg

from orchestration.defs.jobs import GONGHUI_JOB_NAME
from orchestration.lib.settings import Settings
from orchestration.lib.writer import current_holder

log = logging.getLogger(__name__)

IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
#: statuses that need a live writer; a record in one of them without one is an orphan
NEEDS_A_WRITER = [s for s in IN_PROGRESS if s != dg.DagsterRunStatus.QUEUED]
#: a run launched this recently may not have taken the writer lock yet
ORPHAN_GRACE_SECONDS = 120.0


def _last_change(record) -> dt.datetime:
    stamp = record.update_timestamp or record.create_timestamp
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def fail_orphaned_runs(
    instance: dg.DagsterInstance, warehouse_dir: Path, *, grace_seconds: float | None = None
) -> list[str]:
    """Mark failed the ``gonghui_job`` runs left in progress by a dead writer; their ids.

    Does nothing while a live process holds the writer lock.
    """
    if current_holder(warehouse_dir) is not None:
        return []
    grace = ORPHAN_GRACE_SECONDS if grace_seconds is None else grace_seconds
    now = dt.datetime.now(dt.UTC)
    records = instance.get_run_records(
        filters=dg.RunsFilter(job_name=GONGHUI_JOB_NAME, statuses=NEEDS_A_WRITER)
    )
    failed = []
    for record in records:
        run = record.dagster_run
        age = (now - _last_change(record)).total_seconds()
        if age < grace:
            continue
        message = (
            f"run {run.run_id} was left {run.status.value} with no live writer (the writer lock "
            f"of {warehouse_dir} is free; last change {age:.0f} s ago): its process was killed "
            "or aborted. Marked failed so that the schedule and the sensor can go on."
        )
        instance.report_run_failed(run, message)
        log.warning("%s", message)
        failed.append(run.run_id)
    return failed


def in_progress_runs(
    instance: dg.DagsterInstance | None, warehouse_dir: Path | None = None
) -> list[str]:
    """What keeps the warehouse busy: ids of the ``gonghui_job`` runs queued or running, or
    the writer lock's live holder when it belongs to no such run (e.g. a ``gonghui run``
    still starting). Orphaned run records are marked failed first (:func:`fail_orphaned_runs`).

    ``warehouse_dir`` defaults to ``GONGHUI_WAREHOUSE_DIR`` (the resource's default too).
    """
    warehouse_dir = warehouse_dir or Settings.from_env().warehouse_dir
    holder = current_holder(warehouse_dir)
    if instance is not None and holder is None:
        fail_orphaned_runs(instance, warehouse_dir)
    runs = (
        [
            r.dagster_run.run_id
            for r in instance.get_run_records(
                filters=dg.RunsFilter(job_name=GONGHUI_JOB_NAME, statuses=IN_PROGRESS), limit=5
            )
        ]
        if instance is not None
        else []
    )
    if holder is not None and holder.run_id not in runs:
        runs.insert(0, f"({holder.describe()})")
    return runs
