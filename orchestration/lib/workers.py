"""A pool of worker processes that read landing files, one file per worker at a time.

Reading a file runs third-party parsers (calamine through fastexcel, polars, the json and csv
modules) on input a street controls. A hostile or broken file can make them abort the process
(a Rust allocation failure is ``SIGABRT``, not an exception), run for ever or take all the
memory of the machine. So every file is read in a worker process, never in the run's own
process, and the parent watches each worker:

- a worker that dies (signal or exit) → that file is ``reader_crashed`` (with the signal);
- a file that takes longer than ``file_timeout_s`` → its worker is killed, ``timeout``;
- a worker whose resident memory (``VmRSS`` of ``/proc/<pid>/status``, polled) exceeds
  ``worker_memory_bytes`` → killed, ``too_large``.

A killed or dead worker is replaced and the other files go on.

Memory stays bounded by a budget, not by the number of workers: each job carries an estimate
of the memory reading it takes (``Job.weight``; ingestion estimates it from the file's size and
format), and a job starts only while the estimates of the running jobs plus its own fit in
``memory_budget`` — or when no other job runs, so a file larger than the budget is still read
(alone). A smaller job that fits goes ahead of a large one that has to wait. A worker that
needed more than ``recycle_bytes`` for its last file is stopped and replaced by a fresh one,
since the allocators of the readers keep freed memory resident in the process.

Workers are long-lived (the imports of polars and the readers are paid once per worker, not per
file) and are started with the ``spawn`` method: polars is not fork-safe. ``RLIMIT_AS`` is not
used: polars and jemalloc reserve far more virtual memory than they touch, so an address-space
limit breaks normal reads; resident memory is what the machine runs out of.

Results come back pickled through a pipe (polars frames pickle as Arrow IPC). The pool only
calls a function; :func:`orchestration.lib.ingest.files.process_file` stays usable in-process
(``check-mapping``, tests). ``target`` is a plain argument so that tests can inject a reader
that crashes.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

log = logging.getLogger(__name__)

#: how often the parent checks a busy worker's memory and elapsed time
POLL_SECONDS = 0.05


@dataclass
class Failure:
    """Why a job produced no result: ``code`` is ``reader_crashed``, ``timeout`` or
    ``too_large``; ``reason`` is for the data officer."""

    code: str
    reason: str


@dataclass
class Job:
    """One call ``target(*args, **kwargs)``; ``key`` identifies it to the caller."""

    key: Any
    args: tuple
    kwargs: dict
    #: estimated bytes of memory the job needs (0: unknown, always fits the budget)
    weight: int = 0


def _worker_main(conn: Connection) -> None:  # runs in the worker process
    # the parent decides when a worker stops; a Ctrl-C in the terminal reaches the whole
    # process group and must not turn into a "crash" of the file being read
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        target, args, kwargs = message
        try:
            reply = ("ok", target(*args, **kwargs))
        except BaseException as exc:
            reply = ("error", f"{type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except Exception as exc:  # the result cannot be pickled
            conn.send(("error", f"the result cannot be sent back: {exc}"))


def rss_bytes(pid: int) -> int | None:
    """Resident memory of process ``pid`` (Linux ``/proc``), None when unknown."""
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _gib(n: float) -> str:
    return f"{n / (1 << 30):.1f} GiB"


class _Worker:
    def __init__(self, context: mp.context.BaseContext):
        parent, child = context.Pipe(duplex=True)
        self.conn = parent
        self.process = context.Process(
            target=_worker_main, args=(child,), name="gonghui-reader", daemon=True
        )
        self.process.start()
        child.close()
        self.job: Job | None = None
        self.started = 0.0
        self.peak_rss = 0

    def submit(self, target: Callable, job: Job) -> None:
        self.job, self.started, self.peak_rss = job, time.monotonic(), 0
        self.conn.send((target, job.args, job.kwargs))

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.process.join(2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(2)
        self.conn.close()


def _exit_text(exitcode: int | None) -> str:
    if exitcode is None:
        return "it stopped answering"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " — the reader aborted" if name == "SIGABRT" else ""
        return f"killed by {name}{hint}"
    return f"exit code {exitcode}"


class FilePool:
    """``workers`` long-lived reader processes with a time and a memory limit per file.

    Use as a context manager (or call :meth:`close`); :meth:`run` may be called many times.
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        timeout_s: float = 300.0,
        memory_bytes: int = 4 << 30,
        target: Callable[..., Any] | None = None,
        start_method: str = "spawn",
        memory_budget: int | None = None,
        recycle_bytes: int | None = None,
    ):
        self.size = max(1, workers or os.cpu_count() or 1)
        self.timeout_s = timeout_s
        self.memory_bytes = memory_bytes
        #: sum of ``Job.weight`` the running jobs may reach (None: no budget)
        self.memory_budget = memory_budget
        #: a worker whose resident memory reached this is replaced after its job (None: never)
        self.recycle_bytes = recycle_bytes
        self.target = target
        self.context = mp.get_context(start_method)
        self._idle: list[_Worker] = []
        #: peak resident memory seen per job key (bytes), for measurements
        self.peak_rss: dict[Any, int] = {}
        self.workers_started = 0
        #: most jobs running at once, and the largest sum of their weights (for tests, benchmarks)
        self.max_running = 0
        self.max_running_weight = 0

    def __enter__(self) -> FilePool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for worker in self._idle:
            worker.stop()
        self._idle = []

    def _worker(self) -> _Worker:
        if self._idle:
            return self._idle.pop()
        self.workers_started += 1
        return _Worker(self.context)

    def run(
        self, jobs: Iterable[Job], target: Callable[..., Any] | None = None
    ) -> Iterator[tuple[Job, Any | Failure]]:
        """Yield ``(job, result)`` as jobs finish (not in order); ``result`` is what
        ``target`` returned, or a :class:`Failure` when the worker crashed, timed out, ran out
        of memory, or ``target`` raised."""
        target = target or self.target
        if target is None:
            raise ValueError("FilePool.run needs a target function")
        pending = deque(jobs)
        busy: list[_Worker] = []
        try:
            while pending or busy:
                while pending and len(busy) < self.size:
                    job = self._next_fitting(pending, busy)
                    if job is None:  # the budget is full: wait for a running job to end
                        break
                    worker = self._worker()
                    try:
                        worker.submit(target, job)
                    except (OSError, EOFError):  # died while idle: start another
                        worker.kill()
                        continue
                    pending.remove(job)
                    busy.append(worker)
                    self.max_running = max(self.max_running, len(busy))
                    self.max_running_weight = max(
                        self.max_running_weight, sum(w.job.weight for w in busy if w.job)
                    )
                ready = set(
                    wait([w.conn for w in busy] + [w.process.sentinel for w in busy], POLL_SECONDS)
                )
                for worker in list(busy):
                    outcome = self._check(worker, ready)
                    if outcome is None:
                        continue
                    busy.remove(worker)
                    job, worker.job = worker.job, None
                    alive, result = outcome
                    if alive and self._needs_recycling(worker):
                        worker.stop()
                    elif alive:
                        self._idle.append(worker)
                    else:
                        worker.kill()
                    yield job, result
        finally:
            for worker in busy:  # the caller stopped early, or an error: no half state
                worker.kill()

    def _next_fitting(self, pending: deque[Job], busy: list[_Worker]) -> Job | None:
        """The first pending job whose weight fits the budget beside the running jobs; the
        first pending job when nothing runs (a job larger than the budget runs alone)."""
        if not busy or self.memory_budget is None:
            return pending[0]
        room = self.memory_budget - sum(w.job.weight for w in busy if w.job)
        return next((job for job in pending if job.weight <= room), None)

    def _needs_recycling(self, worker: _Worker) -> bool:
        if self.recycle_bytes is None:
            return False
        rss = rss_bytes(worker.process.pid) or 0
        return max(rss, worker.peak_rss) >= self.recycle_bytes

    def _check(self, worker: _Worker, ready: set) -> tuple[bool, Any] | None:
        """None while the worker is still busy; else (worker reusable, result)."""
        job = worker.job
        if worker.conn in ready:
            try:
                status, payload = worker.conn.recv()
            except (EOFError, OSError):
                worker.process.join(1)
                return False, self._crashed(worker)
            if status == "ok":
                return True, payload
            return True, Failure("reader_crashed", f"the reader failed: {payload}")
        if worker.process.sentinel in ready or not worker.process.is_alive():
            worker.process.join(1)
            return False, self._crashed(worker)
        rss = rss_bytes(worker.process.pid) or 0
        self.peak_rss[job.key] = max(self.peak_rss.get(job.key, 0), rss)
        worker.peak_rss = max(worker.peak_rss, rss)
        if rss > self.memory_bytes:
            log.warning("%s: worker used %s, killed", job.key, _gib(rss))
            return False, Failure(
                "too_large",
                f"reading it needed more than {_gib(self.memory_bytes)} of memory "
                f"(GONGHUI_MAX_WORKER_MEMORY_GB); the reader was stopped",
            )
        elapsed = time.monotonic() - worker.started
        if elapsed > self.timeout_s:
            log.warning("%s: no result after %.0f s, worker killed", job.key, elapsed)
            return False, Failure(
                "timeout",
                f"reading it took longer than {self.timeout_s:g} s "
                f"(GONGHUI_FILE_TIMEOUT_SECONDS); the reader was stopped",
            )
        return None

    def _crashed(self, worker: _Worker) -> Failure:
        text = _exit_text(worker.process.exitcode)
        log.warning("%s: reader process died (%s)", worker.job.key if worker.job else "?", text)
        return Failure("reader_crashed", f"the reader process crashed on this file ({text})")
