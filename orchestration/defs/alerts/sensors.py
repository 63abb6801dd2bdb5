"""Run-status sensors: alert on a failed run and on a blocked one (see :mod:`lib.alerts`).

``gonghui run`` alerts on its own run; under ``dagster dev`` these sensors alert on the runs of
the schedule, the landing sensor and the UI. A run is alerted once either way.
"""

from __future__ import annotations

import dagster as dg

from orchestration.defs.jobs import gonghui_job
from orchestration.lib.alerts import notify


@dg.run_failure_sensor(
    name="gonghui_failure_alert",
    monitored_jobs=[gonghui_job],
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="A failed gonghui_job run: summary to the run log and the alert webhook.",
)
def failure_alert(context: dg.RunFailureSensorContext):
    alert = notify(context.instance, context.dagster_run.run_id)
    if alert:
        context.log.info(alert.text())


@dg.run_status_sensor(
    name="gonghui_blocked_alert",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[gonghui_job],
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="A gonghui_job run that succeeded but did not publish (a blocking check "
    "failed): summary to the run log and the alert webhook.",
)
def blocked_alert(context: dg.RunStatusSensorContext):
    alert = notify(context.instance, context.dagster_run.run_id)
    if alert:
        context.log.info(alert.text())
