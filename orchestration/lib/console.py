"""What ``gonghui run`` shows while it runs: one progress line per stage, nothing else.

A quiet run (the default) sends everything the run writes — Dagster's console log, dbt's
per-node lines, Python warnings and log records — to the run's log file
``<warehouse>/logs/<run id>.log`` (the process's stdout and stderr are pointed at it for the
duration of the run, so nothing printed by a library escapes), while the terminal gets one line
per stage and the summary. The Dagster instance records the run as before (event log and
captured stdout/stderr in the UI). ``--verbose`` streams everything to the terminal as Dagster
and dbt print it.

Progress comes from two sources, both public:

- the run's Dagster event log (``DagsterInstance.get_records_for_run``), read by a thread
  while the run executes: step start/end, planned and done materializations and check
  evaluations (dbt models and tests, gate checks, publication);
- :func:`report_progress` records (logger ``gonghui.progress``) from code that knows finer
  steps than Dagster does, e.g. ingestion's files read n/N.

On a terminal the stages are ``rich`` progress bars; otherwise (CI, pipes) one plain line is
printed when a stage ends, without animation. Warnings (WARNING records of the ``orchestration``
loggers) are collected so the summary can show each of them once.

This module imports neither Dagster nor rich at import time (ingestion imports
:func:`report_progress`); :class:`RunConsole` imports them when used.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

PROGRESS_LOGGER = "gonghui.progress"
PROGRESS_ATTR = "gonghui_progress"
#: loggers whose warnings the summary repeats (once each); the alert is printed on its own
WARNING_LOGGERS = ("orchestration",)
QUIET_LOGGERS = ("orchestration.lib.alerts",)
POLL_SECONDS = 0.3

#: Dagster step → (label, what it counts); unknown steps are shown by their step key
STAGES: dict[str, tuple[str, str]] = {
    "landing_tables": ("ingest", "files read"),
    "landing_quality_gate": ("source checks", "checks"),
    "warehouse_models": ("dbt build", "models"),
    "warehouse_quality_gate": ("warehouse checks", "checks"),
    "published_mart": ("publish", "mart"),
    "published_parquet": ("parquet export", "tables"),
}


def report_progress(stage: str, done: int, total: int, detail: str = "") -> None:
    """Tell the console (if one listens) that ``done`` of ``total`` items of ``stage`` are
    done; a DEBUG record of logger ``gonghui.progress`` otherwise (cheap when disabled)."""
    logger = logging.getLogger(PROGRESS_LOGGER)
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "%s %d/%d %s",
            stage,
            done,
            total,
            detail,
            extra={PROGRESS_ATTR: (stage, done, total)},
        )


@dataclass
class Stage:
    """One Dagster step as the console shows it."""

    step: str
    label: str
    started: float = field(default_factory=time.perf_counter)
    ended: float | None = None
    status: str = "running"  # running | done | failed | skipped
    planned_assets: int = 0
    assets: int = 0
    planned_checks: int = 0
    checks: int = 0
    checks_failed: int = 0
    #: dbt tests the step's checks aggregate (their ``tests`` metadata: one check per model)
    tests: int = 0
    #: (done, total) reported by the step's own code (files read)
    items: tuple[int, int] | None = None

    @property
    def completed(self) -> int:
        if self.items:
            return self.items[0]
        return self.assets + self.checks

    @property
    def total(self) -> int | None:
        if self.items:
            return self.items[1]
        return (self.planned_assets + self.planned_checks) or None

    def detail(self) -> str:
        if self.status == "skipped":
            return "skipped"
        unit = STAGES.get(self.step, (self.step, "items"))[1]
        if self.items:
            text = f"{self.items[0]}/{self.items[1]} {unit}"
        elif self.step == "warehouse_models":
            text = (
                f"models {self.assets}/{self.planned_assets}, "
                f"model checks {self.checks}/{self.planned_checks} ({self.tests} tests)"
            )
        elif self.planned_checks:
            text = f"{self.checks}/{self.planned_checks} {unit}"
        else:
            text = f"{self.assets}/{self.planned_assets} {unit}" if self.planned_assets else ""
        if self.checks_failed:
            text += f", {self.checks_failed} failed"
        if self.status == "failed":
            text += " — FAILED"
        return text

    def line(self) -> str:
        seconds = (self.ended or time.perf_counter()) - self.started
        timing = "" if self.status == "skipped" else f"  {seconds:.1f} s"
        return f"  {self.label:<17} {self.detail()}{timing}"


class _ProgressHandler(logging.Handler):
    def __init__(self, console: RunConsole):
        super().__init__(logging.DEBUG)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        progress = getattr(record, PROGRESS_ATTR, None)
        if progress:
            self.console.items_done("landing_tables" if progress[0] == "files" else progress[0],
                                    progress[1], progress[2])  # fmt: skip


class _WarningCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(WARNING_LOGGERS) or record.name.startswith(QUIET_LOGGERS):
            return
        message = record.getMessage().strip()
        if message and message not in self.messages:
            self.messages.append(message)


class RunConsole:
    """The terminal of one ``gonghui run`` (see the module docstring).

    Use as a context manager around the whole command (Python logging goes to the log file and
    warnings are collected), and :meth:`running` around ``execute_in_process``.
    """

    def __init__(self, log_path: Path, *, verbose: bool = False, stream: TextIO | None = None):
        self.log_path = log_path
        self.verbose = verbose
        self._stream = stream
        self._stages: dict[str, Stage] = {}
        self._lock = threading.RLock()
        self._warnings = _WarningCollector()
        self._handlers: list[tuple[logging.Logger, logging.Handler]] = []
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}
        self._console: Any = None
        self._terminal: TextIO | None = None

    @property
    def warnings(self) -> list[str]:
        return list(self._warnings.messages)

    # ------------------------------------------------------------------ logging

    def __enter__(self) -> RunConsole:
        root = logging.getLogger()
        self._add_handler(root, self._warnings)
        if not self.verbose:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            file_handler = logging.FileHandler(self.log_path, encoding="utf-8")
            file_handler.setLevel(logging.INFO)
            file_handler.setFormatter(
                logging.Formatter("%(asctime)s - %(name)s - %(levelname)s - %(message)s")
            )
            self._add_handler(root, file_handler)
            logging.getLogger("orchestration").setLevel(logging.INFO)
            logging.captureWarnings(True)  # warnings.warn → the log file, not the terminal
            progress = logging.getLogger(PROGRESS_LOGGER)
            progress.setLevel(logging.DEBUG)
            progress.propagate = False  # n/N records: the console's, not the log file's
            self._add_handler(progress, _ProgressHandler(self))
        return self

    def __exit__(self, *exc: object) -> None:
        for logger, handler in reversed(self._handlers):
            logger.removeHandler(handler)
            handler.close()
        self._handlers.clear()
        if not self.verbose:
            logging.captureWarnings(False)
            logging.getLogger(PROGRESS_LOGGER).propagate = True

    def _add_handler(self, logger: logging.Logger, handler: logging.Handler) -> None:
        logger.addHandler(handler)
        self._handlers.append((logger, handler))

    # ------------------------------------------------------------------ the run

    @contextmanager
    def running(self, instance: Any, run_id: str):
        """Around ``execute_in_process(run_id=run_id)``: stdout/stderr → the log file, the
        stages on the terminal. Does nothing with ``verbose``."""
        if self.verbose:
            yield self
            return
        from rich.console import Console

        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        saved = os.dup(1), os.dup(2)
        self._terminal = self._stream or open(  # noqa: SIM115 — closed in finally
            os.dup(saved[0]), "w", encoding="utf-8", buffering=1
        )
        self._console = Console(file=self._terminal, highlight=False)
        self._start_progress()
        stop = threading.Event()
        poller = threading.Thread(
            target=self._poll, args=(instance, run_id, stop), name="gonghui-progress", daemon=True
        )
        log_file = open(self.log_path, "ab")  # noqa: SIM115 — closed in finally
        try:
            os.dup2(log_file.fileno(), 1)
            os.dup2(log_file.fileno(), 2)
            poller.start()
            yield self
        finally:
            stop.set()
            poller.join(timeout=10)
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            log_file.close()
            self._stop_progress()
            if self._stream is None:
                self._terminal.close()
            self._terminal = None

    def _poll(self, instance: Any, run_id: str, stop: threading.Event) -> None:
        import dagster as dg

        types = {
            dg.DagsterEventType.STEP_START,
            dg.DagsterEventType.STEP_SUCCESS,
            dg.DagsterEventType.STEP_FAILURE,
            dg.DagsterEventType.STEP_SKIPPED,
            dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
            dg.DagsterEventType.ASSET_MATERIALIZATION,
            dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED,
            dg.DagsterEventType.ASSET_CHECK_EVALUATION,
        }
        cursor = None
        while True:
            finished = stop.wait(POLL_SECONDS)
            try:
                while True:
                    page = instance.get_records_for_run(
                        run_id, cursor=cursor, of_type=types, limit=1000
                    )
                    for record in page.records:
                        self.on_event(record.event_log_entry)
                    cursor = page.cursor or cursor
                    if not page.has_more:
                        break
            except Exception as exc:  # progress must never break the run
                logging.getLogger(__name__).debug("progress: cannot read the event log: %s", exc)
            if finished:
                return

    # ------------------------------------------------------------------ stage updates

    def on_event(self, entry: Any) -> None:
        """Update the stages from one Dagster event-log entry."""
        event = entry.dagster_event
        if event is None or not entry.step_key:
            return
        kind = event.event_type_value
        with self._lock:
            stage = self._stages.get(entry.step_key)
            if stage is None:
                label = STAGES.get(entry.step_key, (entry.step_key, ""))[0]
                stage = self._stages[entry.step_key] = Stage(entry.step_key, label)
                stage.status = "planned"
            if kind == "STEP_START":
                stage.status, stage.started = "running", time.perf_counter()
            elif kind == "ASSET_MATERIALIZATION_PLANNED":
                stage.planned_assets += 1
            elif kind == "ASSET_CHECK_EVALUATION_PLANNED":
                stage.planned_checks += 1
            elif kind == "ASSET_MATERIALIZATION":
                stage.assets += 1
            elif kind == "ASSET_CHECK_EVALUATION":
                stage.checks += 1
                tests = (event.event_specific_data.metadata or {}).get("tests")
                stage.tests += int(getattr(tests, "value", tests) or 0)
                if not event.event_specific_data.passed:
                    stage.checks_failed += 1
            elif kind in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"):
                stage.status = {"STEP_SUCCESS": "done", "STEP_FAILURE": "failed"}.get(
                    kind, "skipped"
                )
                stage.ended = time.perf_counter()
            self._show(stage, ended=stage.ended is not None)

    def items_done(self, step: str, done: int, total: int) -> None:
        with self._lock:
            stage = self._stages.get(step)
            if stage is None:
                stage = self._stages[step] = Stage(step, STAGES.get(step, (step, ""))[0])
            stage.items = (done, total)
            self._show(stage, ended=False)

    def stage_lines(self) -> list[str]:
        """The stages that ran or were skipped, as the plain output shows them."""
        with self._lock:
            return [s.line() for s in self._stages.values() if s.status != "planned"]

    # ------------------------------------------------------------------ rendering

    def _start_progress(self) -> None:
        if not self._console.is_terminal:
            return
        from rich.progress import BarColumn, Progress, TextColumn

        self._progress = Progress(
            TextColumn("  {task.fields[label]:<17}"),
            BarColumn(bar_width=30),
            TextColumn("{task.fields[detail]}"),
            TextColumn("{task.fields[timing]}"),
            console=self._console,
            transient=False,
        )
        self._progress.start()

    def _stop_progress(self) -> None:
        if self._progress is not None:
            with self._lock:
                for stage in self._stages.values():
                    self._show(stage, ended=False)
            self._progress.stop()
            self._progress = None

    def _show(self, stage: Stage, *, ended: bool) -> None:
        if stage.status == "planned" or self._console is None:
            return
        if self._progress is None:  # not a terminal: one line when the stage ends
            if ended:
                self._console.print(stage.line(), markup=False, highlight=False)
            return
        seconds = (stage.ended or time.perf_counter()) - stage.started
        fields = {
            "label": stage.label,
            "detail": stage.detail(),
            "timing": "" if stage.status == "skipped" else f"{seconds:.1f} s",
        }
        total = stage.total or 1
        completed = stage.completed if stage.total else (1 if stage.ended else 0)
        task = self._tasks.get(stage.step)
        if task is None:
            self._tasks[stage.step] = self._progress.add_task(
                "", total=total, completed=completed, **fields
            )
        else:
            self._progress.update(task, total=total, completed=completed, **fields)
