"""The Dagster instance configuration ``gonghui run`` and ``make dev`` use (``dagster.yaml``).

Besides telemetry off, it turns on Dagster's own guards for a warehouse with one writer:

* ``run_monitoring`` — the daemon fails runs stuck STARTING (their worker never came up) or
  CANCELING; ``max_resume_run_attempts: 0`` because the default run launcher cannot resume a
  crashed run worker (a run whose process died is failed by the schedule/sensor instead, see
  ``orchestration/defs/runs.py``);
* ``run_coordinator`` QueuedRunCoordinator with ``concurrency.runs``: at most one run in
  progress, and one per ``gonghui/writer`` tag (the tag of ``gonghui_job``): a sensor run
  requested while another runs waits in the queue instead of failing on the writer lock.

The file is created when missing. An existing ``dagster.yaml`` (perhaps edited by an operator)
is upgraded safely: only top-level sections it lacks are *appended* as text (comments and
everything else stay as they were, a backup is kept beside it), and the run-queue sections are
added only when it configures neither ``concurrency``, ``run_queue`` nor ``run_coordinator``
(Dagster refuses two places that set the same limits).

``python -m orchestration.lib.instance_config DAGSTER_HOME`` does it from ``make dev``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
from pathlib import Path

import yaml

WRITER_TAG = "gonghui/writer"

SECTIONS: dict[str, str] = {
    "telemetry": "telemetry:\n  enabled: false\n",
    "run_monitoring": (
        "run_monitoring:\n"
        "  enabled: true\n"
        "  start_timeout_seconds: 180\n"
        "  cancel_timeout_seconds: 180\n"
        "  max_resume_run_attempts: 0\n"
        "  poll_interval_seconds: 60\n"
    ),
    "run_coordinator": (
        "run_coordinator:\n  module: dagster.core.run_coordinator\n  class: QueuedRunCoordinator\n"
    ),
    "concurrency": (
        "concurrency:\n"
        "  runs:\n"
        "    max_concurrent_runs: 1\n"
        "    tag_concurrency_limits:\n"
        f"      - key: {WRITER_TAG}\n"
        "        limit: 1\n"
    ),
}
#: sections that set run-queue limits; one of them present → none of ours is added
QUEUE_SECTIONS = ("concurrency", "run_queue", "run_coordinator")


def missing_sections(existing: dict) -> list[str]:
    """The sections of :data:`SECTIONS` to add to a config that has ``existing``'s keys."""
    missing = [k for k in ("telemetry", "run_monitoring") if k not in existing]
    if not any(k in existing for k in QUEUE_SECTIONS):
        missing += ["run_coordinator", "concurrency"]
    return missing


def ensure_instance_config(home: Path) -> list[str]:
    """Write or upgrade ``home/dagster.yaml``; the sections added (empty: nothing to do)."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    text = config.read_text(encoding="utf-8") if config.exists() else ""
    try:
        existing = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        return []  # not ours to repair: Dagster reports it when it loads the instance
    if not isinstance(existing, dict):
        return []
    missing = missing_sections(existing)
    if not missing:
        return []
    added = "".join(SECTIONS[k] for k in missing)
    if text:
        stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
        shutil.copy2(config, config.with_name(f"dagster.yaml.bak-{stamp}"))
        added = (
            ("" if text.endswith("\n") else "\n")
            + "\n# added by gonghui (one writer: run monitoring and a run queue of one)\n"
            + added
        )
    tmp = config.with_name(".dagster.yaml.tmp")
    tmp.write_text(text + added, encoding="utf-8")
    os.replace(tmp, config)
    return missing


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ["DAGSTER_HOME"])
    done = ensure_instance_config(target)
    if done:
        print(f"{target / 'dagster.yaml'}: added {', '.join(done)}")
