"""One writer for the working warehouse, and recovery of a working database that is damaged.

**The writer lock.** Every process that writes ``<warehouse>/gonghui.duckdb`` — ``gonghui run``,
and every run of ``gonghui_job`` however it was launched (the daemon's schedule and sensor
runs, UI runs; taken in ``WarehouseResource.setup_for_execution``) — first takes an exclusive
``fcntl.flock`` on ``<warehouse>/.writer.lock`` and writes into it who holds it (pid, host,
run id, start time, trigger). The kernel releases the lock when the process dies, however it
dies (SIGKILL, abort, power loss of the process), so a lock can never be orphaned, and "the lock
is free" means "no writer is alive": :func:`current_holder` is how the schedule and the sensor
tell a run that is still going from a run record left behind by a killed process.

``flock`` locks belong to an open file description, so two ``open()`` calls of the same process
conflict; the lock is therefore **re-entrant within a process**: ``gonghui run`` takes it, the
in-process Dagster run takes it again (a depth count; the run id is filled in then), and the
file is unlocked when the outermost holder releases it.

**A damaged working database** (truncated, overwritten, not a DuckDB file) cannot be opened or
its catalog cannot be read. :func:`recover_damaged_database` (called while holding the lock)
moves it and its WAL to ``<warehouse>/damaged/gonghui-<timestamp>.duckdb``, so the run
starts from an empty database: it re-ingests every landing file (the landing zone is the
source of truth) and dbt builds every model whole (an incremental model whose relation does
not exist is built in full). "Locked by another process" is never taken for damage.

Definition-free (no Dagster import): used by the CLI, the resource, ``defs/runs.py`` and tests.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

LOCK_NAME = ".writer.lock"
#: exit code of a ``gonghui run`` refused because another run is writing (EX_TEMPFAIL, sysexits.h)
EXIT_BUSY = 75
#: run tag of a run whose working database was found damaged and moved aside: the new path
RECOVERED_TAG = "gonghui/recovered_damaged_database"
#: how long a non-waiting acquisition retries: a probe of :func:`current_holder` holds the lock
#: for microseconds, and must not make a run starting at that moment fail
ACQUIRE_GRACE_SECONDS = 2.0


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) the writer lock, as written into the lock file."""

    pid: int
    host: str
    started_at: str
    trigger: str
    run_id: str | None = None

    def describe(self) -> str:
        run = f"run {self.run_id}" if self.run_id else "a run (starting, no run id yet)"
        return (
            f"{run} — pid {self.pid} on {self.host}, trigger {self.trigger}, "
            f"started at {self.started_at}"
        )


class WriterBusy(RuntimeError):
    """The writer lock is held by another live process."""

    def __init__(self, warehouse_dir: Path, holder: Holder | None):
        self.warehouse_dir = Path(warehouse_dir)
        self.holder = holder
        who = holder.describe() if holder else "another process (no holder recorded)"
        super().__init__(
            f"another gonghui run is writing the warehouse {self.warehouse_dir}: {who}. "
            "The working database has one writer: this run was not started. Try again when it "
            "has finished, or use `gonghui run --wait` to wait for it."
        )


class DatabaseInUse(RuntimeError):
    """The working database is open in another process (DuckDB's own file lock): not damage."""

    def __init__(self, duckdb_path: Path, error: Exception):
        first = str(error).strip().splitlines()[0]
        super().__init__(
            f"the working database {duckdb_path} is open in another process ({first}); "
            "close it (a `duckdb` shell or a notebook on gonghui.duckdb?) and run again — "
            "analysts query published/mart.duckdb"
        )


@dataclass
class _Held:
    fd: int
    depth: int
    holder: Holder


_held: dict[str, _Held] = {}
_mutex = threading.RLock()


def lock_path(warehouse_dir: Path) -> Path:
    return Path(warehouse_dir).resolve() / LOCK_NAME


def _now() -> str:
    return dt.datetime.now(dt.UTC).astimezone().isoformat(timespec="seconds")


def _read_holder(path: Path) -> Holder | None:
    for _attempt in range(5):  # the holder writes its record right after locking
        try:
            text = path.read_text(encoding="utf-8").strip()
            return Holder(**json.loads(text)) if text else None
        except FileNotFoundError:
            return None
        except (ValueError, TypeError):
            time.sleep(0.05)
    return None


def _write_holder(fd: int, holder: Holder) -> None:
    data = json.dumps(asdict(holder)).encode("utf-8") + b"\n"
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)


def _try_lock(fd: int, flags: int = fcntl.LOCK_EX) -> bool:
    try:
        fcntl.flock(fd, flags | fcntl.LOCK_NB)
        return True
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise


def acquire(
    warehouse_dir: Path,
    *,
    trigger: str,
    run_id: str | None = None,
    wait: bool = False,
    on_wait: Callable[[Holder | None], None] | None = None,
    poll_seconds: float = 0.5,
) -> Holder:
    """Take the writer lock of ``warehouse_dir`` (re-entrant within this process).

    Raises :class:`WriterBusy` when another live process holds it, unless ``wait``: then
    ``on_wait(holder)`` is called once and the call blocks until the lock is free.
    Re-entering fills in a ``run_id`` the outer holder did not know yet.
    """
    path = lock_path(warehouse_dir)
    key = str(path)
    with _mutex:
        held = _held.get(key)
        if held is not None:
            held.depth += 1
            if run_id and held.holder.run_id != run_id:
                held.holder = Holder(**{**asdict(held.holder), "run_id": run_id})
                _write_holder(held.fd, held.holder)
            return held.holder
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            deadline = time.monotonic() + ACQUIRE_GRACE_SECONDS
            told = False
            while not _try_lock(fd):
                if wait:
                    if not told and on_wait is not None:
                        on_wait(_read_holder(path))
                    told = True
                elif time.monotonic() >= deadline:
                    raise WriterBusy(Path(warehouse_dir), _read_holder(path))
                time.sleep(poll_seconds if wait else 0.05)
            holder = Holder(
                pid=os.getpid(),
                host=socket.gethostname(),
                started_at=_now(),
                trigger=trigger,
                run_id=run_id,
            )
            _write_holder(fd, holder)
        except BaseException:
            os.close(fd)  # closing the last descriptor also drops a lock taken
            raise
        _held[key] = _Held(fd=fd, depth=1, holder=holder)
        return holder


def release(warehouse_dir: Path) -> None:
    """Give back one level of the lock; the outermost release unlocks the file."""
    key = str(lock_path(warehouse_dir))
    with _mutex:
        held = _held.get(key)
        if held is None:
            return
        held.depth -= 1
        if held.depth > 0:
            return
        del _held[key]
        try:
            os.ftruncate(held.fd, 0)  # no stale holder record for the next reader
        finally:
            os.close(held.fd)  # releases the flock


@contextmanager
def writer_lock(warehouse_dir: Path, **kwargs) -> Iterator[Holder]:
    """``with writer_lock(dir, trigger="cli"): …`` — :func:`acquire` … :func:`release`."""
    holder = acquire(warehouse_dir, **kwargs)
    try:
        yield holder
    finally:
        release(warehouse_dir)


def held_here(warehouse_dir: Path) -> bool:
    """Whether this process holds the writer lock of ``warehouse_dir``."""
    with _mutex:
        return str(lock_path(warehouse_dir)) in _held


def current_holder(warehouse_dir: Path) -> Holder | None:
    """The live holder of the writer lock, or ``None`` when no writer is alive.

    Probes with a shared, non-blocking lock released at once (a writer starting at that
    instant retries for :data:`ACQUIRE_GRACE_SECONDS`). A holder that has not written its
    record yet is reported as an unknown process.
    """
    path = lock_path(warehouse_dir)
    with _mutex:
        held = _held.get(str(path))
        if held is not None:
            return held.holder
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _try_lock(fd, fcntl.LOCK_SH):
            return None
    finally:
        os.close(fd)
    return _read_holder(path) or Holder(
        pid=0, host="?", started_at="?", trigger="unknown", run_id=None
    )


# ------------------------------------------------------------------------ damaged database


@dataclass(frozen=True)
class Recovery:
    """A damaged working database moved aside."""

    reason: str
    moved_to: Path

    def warning(self) -> str:
        return (
            f"WARNING: the working database could not be opened ({self.reason}); it was moved "
            f"to {self.moved_to} and is rebuilt from the landing zone: every file re-read, "
            "every model rebuilt"
        )


def _is_lock_conflict(exc: Exception) -> bool:
    text = str(exc).lower()
    return "could not set lock" in text or "conflicting lock" in text


def database_damage(duckdb_path: Path) -> str | None:
    """Why the DuckDB file at ``duckdb_path`` is unusable, or ``None`` (fine, or absent).

    Opens it read-only and reads its catalog; a lock conflict raises :class:`DatabaseInUse`
    (it is not damage).
    """
    import duckdb

    if not duckdb_path.exists():
        return None
    try:
        con = duckdb.connect(str(duckdb_path), read_only=True)
    except duckdb.Error as exc:
        if _is_lock_conflict(exc):
            raise DatabaseInUse(duckdb_path, exc) from None
        return str(exc).strip().splitlines()[0]
    try:
        con.execute("select count(*) from duckdb_tables()").fetchone()
        con.execute("select count(*) from duckdb_columns()").fetchone()
    except duckdb.Error as exc:
        return str(exc).strip().splitlines()[0]
    finally:
        con.close()
    return None


def recover_damaged_database(warehouse_dir: Path, duckdb_path: Path) -> Recovery | None:
    """Move a damaged working database (and its WAL) to ``<warehouse>/damaged/``; ``None``
    when the database is fine or absent.

    Call it only while holding the writer lock of ``warehouse_dir``.
    """
    reason = database_damage(duckdb_path)
    if reason is None:
        return None
    damaged = Path(warehouse_dir) / "damaged"
    damaged.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    target = damaged / f"{duckdb_path.stem}-{stamp}{duckdb_path.suffix}"
    n = 1
    while target.exists():
        n += 1
        target = damaged / f"{duckdb_path.stem}-{stamp}-{n}{duckdb_path.suffix}"
    shutil.move(str(duckdb_path), target)
    wal = duckdb_path.with_name(duckdb_path.name + ".wal")
    if wal.exists():
        shutil.move(str(wal), target.with_name(target.name + ".wal"))
    return Recovery(reason=reason, moved_to=target)


# ------------------------------------------------------------------------ ``gonghui run``


def run_as_writer(settings, args, body: Callable[[object], int]) -> int:
    """``gonghui run``: hold the writer lock around ``body(args)`` (the run itself).

    Another live writer → the run is refused at once with a message naming it, exit code
    :data:`EXIT_BUSY`, or with ``args.wait`` waited for (one line printed). Holding the lock, a
    damaged working database is moved aside and the run made a full refresh
    (``args.full_refresh``), with ``args.recovered_from`` naming where the database went.
    """
    import sys

    def waiting(holder: Holder | None) -> None:
        who = holder.describe() if holder else "another process"
        print(f"gonghui run: waiting for the writer lock — {who} …", flush=True)

    try:
        with writer_lock(
            settings.warehouse_dir,
            trigger="cli",
            wait=bool(getattr(args, "wait", False)),
            on_wait=waiting,
        ):
            recovery = recover_damaged_database(settings.warehouse_dir, settings.duckdb_path)
            if recovery is not None:
                print(recovery.warning(), file=sys.stderr, flush=True)
                args.full_refresh = True
                args.recovered_from = str(recovery.moved_to)
            return body(args)
    except (WriterBusy, DatabaseInUse) as exc:
        print(f"gonghui run: {exc}", file=sys.stderr)
        return EXIT_BUSY
