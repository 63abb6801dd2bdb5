"""Failure alerts: a failed or blocked run → a summary in the run log and, where configured,
a JSON POST to the webhook (a local ``http.server`` on 127.0.0.1 stands in for it)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import dagster as dg
import pytest

from orchestration.defs.alerts.sensors import blocked_alert, failure_alert
from orchestration.defs.ingest.partitions import partition_range_tags
from orchestration.lib.alerts import ALERT_TAG, WEBHOOK_ENV, notify, post_webhook


class Webhook:
    """A local HTTP server that records the JSON bodies POSTed to it."""

    def __init__(self, status: int = 200):
        self.bodies: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                hook.bodies.append(json.loads(self.rfile.read(length).decode("utf-8")))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def engine_messages(instance, run_id) -> list[str]:
    return [
        e.dagster_event.message or ""
        for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
    ]


def test_post_webhook_sends_json_and_never_raises(webhook):
    assert post_webhook(webhook.url, {"text": "坪地 blocked"}) is True
    assert webhook.bodies == [{"text": "坪地 blocked"}]
    failing = Webhook(status=500)
    try:
        assert post_webhook(failing.url, {"text": "x"}) is False
    finally:
        failing.close()
    closed = Webhook()
    url = closed.url
    closed.close()
    assert post_webhook(url, {"text": "x"}, timeout=1) is False  # connection refused: logged
    assert post_webhook("not a url", {}) is False


def test_a_failed_run_alerts_the_run_log_and_the_webhook(instance, webhook, tmp_path, monkeypatch):
    from orchestration.definitions import defs

    monkeypatch.setenv("GONGHUI_RAW_DIR", str(tmp_path / "no-landing-root"))
    monkeypatch.setenv("GONGHUI_WAREHOUSE_DIR", str(tmp_path / "warehouse"))
    monkeypatch.setenv(WEBHOOK_ENV, webhook.url)
    job = defs.resolve_job_def("gonghui_job")
    result = job.execute_in_process(
        instance=instance,
        tags={**partition_range_tags(["buji"]), "gonghui/trigger": "test"},
        raise_on_error=False,
    )
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE]
    context = dg.build_run_status_sensor_context(
        sensor_name="gonghui_failure_alert",
        dagster_event=failure,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
    ).for_run_failure()
    failure_alert(context)

    [body] = webhook.bodies
    assert body["status"] == "failed" and body["run_id"] == result.run_id
    assert body["trigger"] == "test" and body["streets"] == "buji"
    assert any(
        f.startswith("landing_tables") and "does not exist" in f for f in body["step_failures"]
    )
    assert "FAILED" in body["title"] and "landing_tables" in body["text"]
    # the same summary is in the run's own log, and the run is alerted once
    assert any(
        "FAILED" in m and "does not exist" in m for m in engine_messages(instance, result.run_id)
    )
    assert instance.get_run_by_id(result.run_id).tags[ALERT_TAG] == "failed; webhook sent"
    failure_alert(context)
    assert len(webhook.bodies) == 1


def _blocking_job() -> dg.JobDefinition:
    """upstream ← blocking check that fails; published_mart downstream (as in gonghui_job)."""

    @dg.asset(check_specs=[dg.AssetCheckSpec("rows_reconcile", asset="upstream", blocking=True)])
    def upstream():
        yield dg.Output(1)
        yield dg.AssetCheckResult(
            passed=False, description="3 control totals do not match the loaded rows"
        )

    @dg.asset(key="published_mart", deps=[upstream])
    def published_mart():
        return None

    defs = dg.Definitions(
        assets=[upstream, published_mart],
        jobs=[dg.define_asset_job("gonghui_job", selection=dg.AssetSelection.all())],
    )
    return defs.resolve_job_def("gonghui_job")


def test_a_blocking_check_alerts_blocked_through_the_failure_sensor(instance, webhook, monkeypatch):
    """In Dagster 1.13 a failed blocking check fails its step (and the run): the failure
    sensor fires, and the alert says *blocked* (the gate stopped it), not *failed*."""
    monkeypatch.setenv(WEBHOOK_ENV, webhook.url)
    result = _blocking_job().execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert dg.AssetKey("published_mart") not in materialized
    [event] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE]
    context = dg.build_run_status_sensor_context(
        sensor_name="gonghui_failure_alert",
        dagster_event=event,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
    ).for_run_failure()
    failure_alert(context)
    [body] = webhook.bodies
    assert body["status"] == "blocked"
    assert "BLOCKED" in body["title"] and "previous publication stays" in body["title"]
    assert body["failed_checks"] == [
        "[ERROR] upstream · rows_reconcile: 3 control totals do not match the loaded rows"
    ]
    assert "published_mart" in body["not_materialized"]
    assert any("rows_reconcile" in m for m in engine_messages(instance, result.run_id))


def test_a_successful_run_that_did_not_publish_alerts_blocked(instance, webhook, monkeypatch):
    """A run that succeeds while ``published_mart`` is skipped (a gate that stops publication
    without failing a step) is caught by the run-status sensor on success."""

    @dg.asset(output_required=False)
    def gate():
        if False:
            yield dg.Output(1)  # the gate yields nothing: publication is skipped

    @dg.asset(key="published_mart")
    def published_mart(gate):
        return None

    job = dg.Definitions(
        assets=[gate, published_mart],
        jobs=[dg.define_asset_job("gonghui_job", selection=dg.AssetSelection.all())],
    ).resolve_job_def("gonghui_job")
    monkeypatch.setenv(WEBHOOK_ENV, webhook.url)
    result = job.execute_in_process(instance=instance)
    assert result.success
    [event] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_SUCCESS]
    context = dg.build_run_status_sensor_context(
        sensor_name="gonghui_blocked_alert",
        dagster_event=event,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
    )
    blocked_alert(context)
    [body] = webhook.bodies
    assert body["status"] == "blocked" and body["not_materialized"] == ["gate", "published_mart"]


def test_a_published_run_does_not_alert_and_no_webhook_stays_local(instance, webhook, monkeypatch):
    @dg.asset(key="published_mart")
    def published_mart():
        return None

    job = dg.Definitions(
        assets=[published_mart],
        jobs=[dg.define_asset_job("gonghui_job", selection=dg.AssetSelection.all())],
    ).resolve_job_def("gonghui_job")
    ok = job.execute_in_process(instance=instance)
    monkeypatch.setenv(WEBHOOK_ENV, webhook.url)
    assert notify(instance, ok.run_id) is None
    assert webhook.bodies == []

    monkeypatch.delenv(WEBHOOK_ENV)
    blocked = _blocking_job().execute_in_process(instance=instance, raise_on_error=False)
    alert = notify(instance, blocked.run_id)
    assert alert is not None and "rows_reconcile" in alert.text()
    assert webhook.bodies == []  # not configured: the alert stays in the run log
    assert instance.get_run_by_id(blocked.run_id).tags[ALERT_TAG].endswith("webhook not sent")
