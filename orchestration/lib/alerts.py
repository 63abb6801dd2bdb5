"""Failure alerts a data office can act on: a failed or blocked run → a clear summary.

A run of ``gonghui_job`` *fails* (a step raised: unreadable landing root, dbt error, …) or is
*blocked* (a blocking check failed — Dagster then fails the checked step — or the run succeeded
but ``published_mart`` was planned and not materialized): either way the previous publication
stays in place. Either way
:func:`notify` writes a summary into the run's own log (an engine event, visible in the
Dagster UI and ``gonghui`` output) and, when ``GONGHUI_ALERT_WEBHOOK`` names a URL, POSTs it
as JSON there (short timeout; a webhook error is logged, never raised). Without that variable
the alert stays local. A run is alerted once (tag ``gonghui/alert``), whether by
``gonghui run`` itself or by the run-status sensors of ``dagster dev``.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from dataclasses import asdict, dataclass, field

import dagster as dg

from orchestration.lib.constants import PUBLISHED_MART_KEY
from orchestration.lib.fingerprint import UP_TO_DATE_TAG

log = logging.getLogger(__name__)

WEBHOOK_ENV = "GONGHUI_ALERT_WEBHOOK"
ALERT_TAG = "gonghui/alert"
TIMEOUT_SECONDS = 5.0
#: step errors that mean "a blocking check failed", not "something broke"
BLOCKING_CHECK_ERRORS = {"DagsterAssetCheckFailedError"}


@dataclass
class Alert:
    """What went wrong in one run, in the words a data office needs."""

    status: str  # "failed" | "blocked"
    run_id: str
    job_name: str
    trigger: str
    streets: str
    step_failures: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)
    not_materialized: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        if self.status == "blocked":
            return (
                f"gonghui: run {self.run_id[:8]} BLOCKED — the mart was not published; "
                "the previous publication stays in place"
            )
        return f"gonghui: run {self.run_id[:8]} FAILED — nothing was published"

    def text(self) -> str:
        lines = [
            self.title,
            f"  job {self.job_name}, run {self.run_id}, trigger {self.trigger}, "
            f"streets {self.streets}",
        ]
        if self.step_failures:
            lines.append("  step failures:")
            lines += [f"    {f}" for f in self.step_failures]
        if self.failed_checks:
            lines.append("  failed checks:")
            lines += [f"    {c}" for c in self.failed_checks]
        if self.not_materialized:
            shown = self.not_materialized[:10]
            more = len(self.not_materialized) - len(shown)
            lines.append(
                "  not materialized: " + ", ".join(shown) + (f" (+{more} more)" if more else "")
            )
        lines.append("  details: the run's log in the Dagster UI (`make dev`)")
        return "\n".join(lines)

    def payload(self) -> dict:
        """The webhook body: ``text`` for chat bots, the rest for machines."""
        return {"text": self.text(), "title": self.title, **asdict(self)}


def _first_line(text: str | None, limit: int = 300) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    line = lines[0].strip() if lines else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def alert_for_run(instance: dg.DagsterInstance, run_id: str) -> Alert | None:
    """The alert a finished run deserves: ``None`` when it succeeded and published (or was
    not meant to publish, e.g. an ingestion-only run, or found nothing changed since the
    last publication)."""
    run = instance.get_run_by_id(run_id)
    if run is None or UP_TO_DATE_TAG in run.tags:
        return None
    types = {
        dg.DagsterEventType.STEP_FAILURE,
        dg.DagsterEventType.RUN_FAILURE,
        dg.DagsterEventType.ASSET_CHECK_EVALUATION,
        dg.DagsterEventType.ASSET_MATERIALIZATION,
        dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
    }
    events = [e.dagster_event for e in instance.all_logs(run_id, of_type=types) if e.dagster_event]
    planned = {
        e.asset_key
        for e in events
        if e.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED
    }
    materialized = {
        e.asset_key for e in events if e.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
    }
    failed = run.status == dg.DagsterRunStatus.FAILURE
    unpublished = PUBLISHED_MART_KEY in planned and PUBLISHED_MART_KEY not in materialized
    if not (failed or (run.status == dg.DagsterRunStatus.SUCCESS and unpublished)):
        return None
    step_errors = [
        e.event_specific_data.error
        for e in events
        if e.event_type == dg.DagsterEventType.STEP_FAILURE
    ]
    # a run whose only failures are blocking checks was stopped by the quality gate on purpose
    gate_only = bool(step_errors) and all(
        err is not None and err.cls_name in BLOCKING_CHECK_ERRORS for err in step_errors
    )
    alert = Alert(
        status="failed" if failed and not gate_only else "blocked",
        run_id=run_id,
        job_name=run.job_name,
        trigger=run.tags.get("gonghui/trigger", "manual"),
        streets=_streets(run.tags),
    )
    for event in events:
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            error = event.event_specific_data.error
            message = _first_line(error.message if error else None) or "step failed"
            alert.step_failures.append(f"{event.step_key}: {message}")
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if not evaluation.passed:
                alert.failed_checks.append(
                    f"[{evaluation.severity.value}] {evaluation.asset_key.to_user_string()} · "
                    f"{evaluation.check_name}"
                    + (f": {_first_line(evaluation.description)}" if evaluation.description else "")
                )
    if failed and not alert.step_failures:
        run_failures = [e for e in events if e.event_type == dg.DagsterEventType.RUN_FAILURE]
        if run_failures:
            alert.step_failures.append(_first_line(run_failures[-1].message))
    alert.not_materialized = sorted(k.to_user_string() for k in planned - materialized)
    return alert


def _streets(tags: dict[str, str]) -> str:
    start = tags.get("dagster/asset_partition_range_start")
    end = tags.get("dagster/asset_partition_range_end")
    if start and end:
        return start if start == end else f"{start}…{end}"
    return tags.get("dagster/partition", "all")


def post_webhook(url: str, payload: dict, timeout: float = TIMEOUT_SECONDS) -> bool:
    """POST ``payload`` as JSON; ``False`` (logged, not raised) when it did not arrive."""
    try:
        request = urllib.request.Request(
            url,
            data=json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8"),
            headers={"Content-Type": "application/json; charset=utf-8"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            ok = 200 <= response.status < 300
            if not ok:
                log.warning("alert webhook answered HTTP %s", response.status)
            return ok
    except Exception as exc:  # an alert must never break the run or the sensor
        log.warning("alert webhook %s failed: %s", url, exc)
        return False


def notify(
    instance: dg.DagsterInstance, run_id: str, *, webhook: str | None = None
) -> Alert | None:
    """Alert on a failed or blocked run once: run log, then the webhook if configured."""
    run = instance.get_run_by_id(run_id)
    if run is None or run.tags.get(ALERT_TAG):
        return None
    alert = alert_for_run(instance, run_id)
    if alert is None:
        return None
    instance.report_engine_event(alert.text(), run)
    log.error("%s", alert.text())
    url = webhook if webhook is not None else os.environ.get(WEBHOOK_ENV, "").strip()
    delivered = post_webhook(url, alert.payload()) if url else False
    instance.add_run_tags(
        run_id, {ALERT_TAG: f"{alert.status}; webhook {'sent' if delivered else 'not sent'}"}
    )
    return alert
