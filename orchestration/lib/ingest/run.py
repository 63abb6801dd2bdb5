"""One ingestion pass, :func:`ingest`: scan the landing root, read the files in scope through
the worker pool, resolve resubmissions and write ``raw``; :class:`IngestReport` says what
it did.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from orchestration.lib.console import report_progress
from orchestration.lib.ingest.files import (
    locate,
    os_error_text,
    process_file,
    resolve_resubmissions,
    scan_landing_root,
    sha256_of,
    unread_result,
)
from orchestration.lib.ingest.fingerprints import problem_place
from orchestration.lib.ingest.keys import pii_key, pii_key_id
from orchestration.lib.ingest.results import FileResult
from orchestration.lib.ingest.warehouse import RawStage, ensure_raw_schema, write_raw
from orchestration.lib.mapping import (
    Mapping,
)
from orchestration.lib.settings import IngestLimits
from orchestration.lib.streets import load_street_codes
from orchestration.lib.workers import Failure, FilePool, Job

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """What one ingestion pass did, for logs, Dagster metadata and the run summary."""

    run_id: str
    files: list[FileResult]
    #: streets whose rows were replaced (``None`` = every street, a full refresh)
    streets_ingested: list[str] | None = None
    #: streets in scope skipped because their files are unchanged since the last ingestion
    streets_unchanged: list[str] = field(default_factory=list)
    #: streets in scope NOT replaced (rows kept as last ingested) → why: an unreadable folder
    #: or file, or a file still arriving (``deferred``); they are read again by a later run
    streets_held: dict[str, list[str]] = field(default_factory=dict)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files if f.status == "loaded")

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files if f.status == "loaded")

    def count_by_status(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.files:
            out[f.status] = out.get(f.status, 0) + 1
        return out

    def quarantine_by_reason(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for f in self.files:
            if f.status != "loaded":
                continue
            for q in f.quarantined:
                for code, n in q.group_by("reason_code").len().iter_rows():
                    counts[code] = counts.get(code, 0) + n
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))

    def problems(self) -> list[str]:
        return [
            f.message for f in self.files if f.status in ("rejected", "unrecognised", "deferred")
        ]


def ingest(
    raw_dir: Path,
    con,
    mapping: Mapping,
    run_id: str,
    *,
    years: Iterable[int] | None = None,
    streets: Iterable[str] | None = None,
    key: bytes | None = None,
    skip_unchanged: bool = False,
    unplaced: bool = False,
    pool: FilePool | None = None,
    limits: IngestLimits | None = None,
) -> IngestReport:
    """Ingest the files of ``years``/``streets`` (default: all) into ``con``'s raw schema.

    ``skip_unchanged`` re-reads only the streets in scope that changed since the previous
    ingestion (:func:`orchestration.lib.changes.detect_changes`: a file added, changed or
    removed, or read with another mapping or key); the others keep their rows.
    ``unplaced`` also (re)reports files outside any street folder when ``streets`` is given.

    Every file is read in a worker process of ``pool`` (default: a pool of
    ``limits.workers`` started for this call; :mod:`orchestration.lib.workers`), so a file that
    crashes the reader, times out or takes too much memory is rejected and the others load.
    Symlinks are rejected, never followed; a file with the same content as another one is
    ``duplicate_content`` (the first by path counts). A street whose landing state cannot be
    read completely (an unreadable folder or file) or that has a file still arriving
    (modified less than ``limits.settle_seconds`` ago, or changed while it was read:
    ``deferred``) is *held*: its rows stay as last ingested, the problem is recorded, and it
    stays "changed" so a later run picks it up.
    """
    raw_dir = Path(raw_dir)
    key = key or pii_key()
    limits = limits or IngestLimits.from_env()
    street_codes = load_street_codes()
    scope_streets: list[str] | None = list(streets) if streets is not None else None
    include_unplaced = unplaced or scope_streets is None
    unchanged: list[str] = []
    if skip_unchanged:
        from orchestration.lib.changes import detect_changes

        changes = detect_changes(
            raw_dir,
            con,
            mapping,
            streets=scope_streets if scope_streets is not None else street_codes,
            unplaced=include_unplaced,
            years=years,
            key=key,
            street_codes=street_codes,
        )
        for line in changes.describe():
            log.info("re-read %s", line)
        unchanged = changes.unchanged
        include_unplaced = changes.unplaced
        scope_streets = changes.streets
    wanted_streets = set(scope_streets) if scope_streets is not None else set(street_codes)

    def in_scope(street: str | None) -> bool:
        return street in wanted_streets if street is not None else include_unplaced

    ingested_at = dt.datetime.now()
    scan = scan_landing_root(raw_dir, years)
    results: list[FileResult] = []
    #: street → why it cannot be replaced in this run; held_rows: what is recorded for it
    held: dict[str, list[str]] = {}
    held_rows: list[FileResult] = []

    def hold(result: FileResult, whole_scope: bool = False) -> None:
        affected = sorted(wanted_streets) if whole_scope else [result.street_code]
        for street in affected:
            if street is not None and street in wanted_streets:
                held.setdefault(street, []).append(result.message)
        if result.street_code is not None:
            held_rows.append(result)
        elif in_scope(None):
            results.append(result)

    for problem in scan.problems:
        year, street = problem_place(problem.path, raw_dir, street_codes)
        result = FileResult(
            source_file=problem.path.relative_to(raw_dir).as_posix(),
            path=problem.path,
            year=year,
            street_code=street,
            sha256=None,
            file_format=problem.path.suffix.lower().lstrip(".") or "none",
        ).reject("rejected", problem.code, problem.reason)
        log.warning("%s", result.message)
        if problem.incomplete:
            # a folder above the street folders: no street of the scope is known completely
            hold(result, whole_scope=len(problem.path.relative_to(raw_dir).parts) < 2)
        elif in_scope(street):
            results.append(result)

    jobs: list[Job] = []
    stats: dict[Path, tuple[int, int]] = {}
    now = time.time()
    for path in scan.files:
        _year, street = locate(path, raw_dir, street_codes)
        if not in_scope(street):
            continue
        try:
            st = path.stat()
        except OSError as exc:
            hold(
                unread_result(path, raw_dir, street_codes).reject(
                    "rejected", "unreadable", os_error_text(exc)
                )
            )
            continue
        age = now - st.st_mtime
        # (a future mtime beyond the window is a wrong clock, not a file arriving)
        if -limits.settle_seconds < age < limits.settle_seconds:
            hold(
                unread_result(path, raw_dir, street_codes).reject(
                    "deferred",
                    "in_flux",
                    f"modified {max(age, 0):.0f} s ago, less than {limits.settle_seconds:g} s "
                    "(GONGHUI_SETTLE_SECONDS): it may still be arriving; read in a later run",
                )
            )
            continue
        stats[path] = (st.st_size, st.st_mtime_ns)
        jobs.append(
            Job(
                path,
                (path, raw_dir, mapping),
                {
                    "street_codes": street_codes,
                    "key": key,
                    "run_id": run_id,
                    "ingested_at": ingested_at,
                    "limits": limits,
                },
                weight=limits.read_memory_estimate(path.suffix.lower().lstrip("."), st.st_size),
            )
        )

    own_pool = pool is None
    pool = pool or FilePool(
        limits.workers,
        timeout_s=limits.file_timeout_s,
        memory_bytes=limits.worker_memory_bytes,
        memory_budget=limits.memory_budget_bytes,
        recycle_bytes=limits.recycle_bytes,
    )
    stage = RawStage()
    for job in jobs:
        job.kwargs["spill_dir"] = stage.dir
    # largest first, so that the last file to finish is a small one and no core idles at the end
    jobs.sort(key=lambda job: -stats[job.key][0])
    try:
        try:
            for done, (job, outcome) in enumerate(pool.run(jobs, pool.target or process_file), 1):
                report_progress("files", done, len(jobs))
                path = job.key
                result = _pool_result(path, raw_dir, street_codes, outcome)
                try:
                    st = path.stat()
                    moved = (st.st_size, st.st_mtime_ns) != stats[path]
                except OSError:
                    moved = True
                if moved:
                    hold(
                        result.reject(
                            "deferred",
                            "in_flux",
                            "the file changed while it was read: it may still be arriving; "
                            "read in a later run",
                        )
                    )
                elif result.reason_code == "unreadable" and result.sha256 is None:
                    hold(result)  # the OS refused to read it: the street's state is unknown
                else:
                    if result.status not in ("loaded",):
                        log.warning("%s", result.message)
                    results.append(result)
        finally:
            if own_pool:
                pool.close()

        results = [r for r in results if r.street_code not in held]
        results.sort(key=lambda r: r.source_file)
        resolve_resubmissions(results)  # a resubmission identical to its original supersedes it
        _reject_duplicates(con, results, None if scope_streets is None else wanted_streets)
        if held:
            for street, why in held.items():
                log.warning("street %s kept as last ingested: %s", street, "; ".join(why))
            scope_streets = [s for s in (scope_streets or street_codes) if s not in held]
        report_files = sorted(results + held_rows, key=lambda r: r.source_file)
        if scope_streets == [] and not include_unplaced and not held_rows:
            ensure_raw_schema(con, mapping)  # nothing changed: no row is rewritten
            return IngestReport(run_id, report_files, [], unchanged, held)
        write_raw(
            con,
            results,
            mapping,
            run_id,
            scope=(
                list(years) if years is not None else None,
                scope_streets,  # [] = nothing, not everything
            ),
            unplaced=include_unplaced and scope_streets is not None,
            key_id=pii_key_id(key),
            held=(sorted(held), held_rows),
            stage=stage,
        )
        return IngestReport(run_id, report_files, scope_streets, unchanged, held)
    finally:
        stage.close()


def _pool_result(
    path: Path, raw_dir: Path, street_codes: list[str], outcome: FileResult | Failure
) -> FileResult:
    """The worker's result, or a rejection naming why the worker gave none."""
    if isinstance(outcome, FileResult):
        outcome.path = path
        return outcome
    result = unread_result(path, raw_dir, street_codes)
    with contextlib.suppress(OSError):
        result.sha256 = sha256_of(path)
    return result.reject("rejected", outcome.code, outcome.reason)


def _reject_duplicates(con, results: list[FileResult], scope: set[str] | None) -> None:
    """Reject loaded files whose content (sha256) equals an earlier file's of the same year.

    Within a year a copy would count its rows twice (a buji file copied into longgang's
    folder); across years it is a submission of its own (a register resent unchanged for the
    next year holds that year's rows). The first by path counts; files of streets outside
    ``scope`` (kept from an earlier ingestion) count before every file read now."""
    first: dict[tuple[str, str], str] = {}
    if scope is not None:
        exists = con.execute(
            "select count(*) from duckdb_tables() where schema_name = 'raw' "
            "and table_name = 'source_files'"
        ).fetchone()[0]
        if exists:
            rows = con.execute(
                "select _file_sha256, _source_file from raw.source_files "
                "where status = 'loaded' and _file_sha256 is not null "
                "order by _source_file"
            ).fetchall()
            for sha, rel in rows:
                street = _street_of(rel)
                if street is not None and street not in scope:
                    first.setdefault((rel.split("/")[0], sha), rel)
    for r in results:
        if r.status != "loaded" or not r.sha256:
            continue
        other = first.setdefault((r.source_file.split("/")[0], r.sha256), r.source_file)
        if other != r.source_file:
            log.warning("%s: same content as %s, not loaded", r.source_file, other)
            r.reject(
                "rejected",
                "duplicate_content",
                f"same content (sha256) as {other}, which is counted: this copy is not loaded",
            )


def _street_of(rel: str) -> str | None:
    parts = rel.split("/")
    return parts[1] if len(parts) >= 3 else None
