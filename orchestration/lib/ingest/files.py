"""Files: locating a landing file (year, street), reading it into sheets and processing each
(:func:`process_file`, what a worker process runs), spilling its rows to Parquet, scanning
the landing root and resolving resubmissions between files.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import os
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from orchestration.lib.ingest.headers import find_header
from orchestration.lib.ingest.periods import parse_period, resubmission_version
from orchestration.lib.ingest.results import FileResult
from orchestration.lib.ingest.sheets import process_sheet, sheet_layout
from orchestration.lib.mapping import (
    Mapping,
    Template,
)
from orchestration.lib.readers import FileRejected, Sheet, read_sheets
from orchestration.lib.settings import IngestLimits
from orchestration.lib.streets import streets_file

log = logging.getLogger(__name__)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def locate(path: Path, raw_dir: Path, street_codes: Iterable[str]) -> tuple[int | None, str | None]:
    """Year and street code from ``<raw>/<year>/<street_code>/…``; None when misplaced."""
    parts = path.relative_to(raw_dir).parts
    if len(parts) < 3 or not re.fullmatch(r"(19|20)\d{2}", parts[0]):
        return None, None
    if parts[1] not in set(street_codes):
        return int(parts[0]), None
    return int(parts[0]), parts[1]


def unread_result(path: Path, raw_dir: Path, street_codes: Iterable[str]) -> FileResult:
    """The :class:`FileResult` of a file before anything of it is read (no sha256 yet)."""
    year, street = locate(path, raw_dir, street_codes)
    return FileResult(
        source_file=path.relative_to(raw_dir).as_posix(),
        path=path,
        year=year,
        street_code=street,
        sha256=None,
        file_format=path.suffix.lower().lstrip(".") or "none",
    )


def skip_template_rows(sheet: Sheet, tpl: Template | None) -> Sheet:
    """``sheet`` without the rows its template ignores: the first ``skip_rows_above`` and the
    last ``skip_rows_below`` source rows (row numbers are kept, so provenance is unchanged)."""
    if tpl is None or not (tpl.skip_rows_above or tpl.skip_rows_below) or not sheet.row_numbers:
        return sheet
    last = max(sheet.row_numbers) - tpl.skip_rows_below
    keep = [i for i, n in enumerate(sheet.row_numbers) if tpl.skip_rows_above < n <= last]
    return dataclasses.replace(
        sheet,
        frame=sheet.frame[keep] if keep else sheet.frame.clear(),
        row_numbers=[sheet.row_numbers[i] for i in keep],
    )


def process_file(
    path: Path,
    raw_dir: Path,
    mapping: Mapping,
    *,
    street_codes: Iterable[str],
    key: bytes,
    run_id: str,
    ingested_at: dt.datetime | None = None,
    limits: IngestLimits | None = None,
    spill_dir: Path | None = None,
) -> FileResult:
    """Read, recognise, parse and validate one landing file. Never raises for bad input.

    ``limits`` (default: from the environment) are checked before the file is parsed.
    Ingestion runs this in a worker process (:mod:`orchestration.lib.workers`) with
    ``spill_dir``: the loaded rows are then written there (:func:`spill`), not returned.
    """
    result = _process_file(
        path,
        raw_dir,
        mapping,
        street_codes=street_codes,
        key=key,
        run_id=run_id,
        ingested_at=ingested_at,
        limits=limits,
    )
    return spill(result, spill_dir) if spill_dir is not None else result


def _process_file(
    path: Path,
    raw_dir: Path,
    mapping: Mapping,
    *,
    street_codes: Iterable[str],
    key: bytes,
    run_id: str,
    ingested_at: dt.datetime | None,
    limits: IngestLimits | None,
) -> FileResult:
    ingested_at = ingested_at or dt.datetime.now()
    result = unread_result(path, raw_dir, street_codes)
    try:
        result.sha256 = sha256_of(path)
    except OSError as exc:
        return result.reject("rejected", "unreadable", os_error_text(exc))
    year, street = result.year, result.street_code
    if year is None:
        return result.reject(
            "rejected",
            "misplaced",
            "not under <year>/<street_code>/ of the landing root",
        )
    if street is None:
        folder = path.relative_to(raw_dir).parts[1]
        return result.reject(
            "rejected",
            "unknown_street",
            f"'{folder}' is not a street code of the streets list {streets_file()}",
        )
    result.period = parse_period(path.name, year, mapping.resubmission_markers)
    result.version = resubmission_version(path.name, mapping)
    tpl = mapping.template_for(street, path.name)
    try:
        sheets = read_sheets(path, mapping.csv_encodings, limits)
    except FileRejected as exc:
        return result.reject("rejected", exc.code, exc.reason)
    except Exception as exc:  # a reader bug must not stop the other files
        return result.reject("rejected", "unreadable", f"cannot be read: {exc}")
    result.encoding = sheets[0].encoding if sheets else None
    incomplete: list[str] = []
    kinds: list[str] = []
    for sheet in sheets:
        if tpl and not tpl.reads_sheet(sheet.name):
            result.notes.append(f"sheet '{sheet.name}' skipped (template reads '{tpl.sheet}')")
            continue
        sheet = skip_template_rows(sheet, tpl)
        if sheet.name and mapping.is_non_data_sheet(sheet.name):
            result.notes.append(f"sheet '{sheet.name}' skipped: instructions, no data")
            continue
        if sheet.frame.height == 0:
            result.notes.append(f"sheet '{sheet.name}' is empty")
            continue
        match = find_header(sheet, mapping, tpl, path.name)
        if match is None:
            result.notes.append(f"sheet '{sheet.name}' skipped: no header row of any report kind")
            continue
        if match.missing_required:
            result.layouts.append(sheet_layout(sheet, match, tpl, result.period))
            missing = ", ".join(
                f"{match.kind.fields[f].header} ({f})" for f in match.missing_required
            )
            where = f"sheet '{sheet.name}' " if sheet.name else ""
            incomplete.append(
                f"{where}looks like {match.kind.name} ({match.kind.title}) but required "
                f"column(s) missing: {missing}"
            )
            continue
        try:
            process_sheet(result, sheet, match, mapping, tpl, key, run_id, ingested_at)
        except Exception as exc:
            log.exception("failed to process %s", result.source_file)
            return result.reject("rejected", "unreadable", f"sheet '{sheet.name}': {exc}")
        kinds.append(match.kind.name)
    if incomplete:
        return result.reject("rejected", "missing_column", "; ".join(incomplete))
    if not kinds:
        hint = [k.name for k in mapping.kinds.values() if k.hinted_by(path.name)]
        if all(sheet.frame.height == 0 for sheet in sheets):
            # A well-formed file with no records (e.g. a JSON export of an empty month).
            if len(hint) == 1 or (tpl and tpl.kind):
                result.kind = tpl.kind if tpl and tpl.kind else hint[0]
                result.notes.append(f"no records; kind {result.kind} taken from the file name")
                return result
            return result.reject("rejected", "empty", "the file holds no records")
        extra = f" (the file name suggests {hint[0]})" if hint else ""
        return result.reject(
            "unrecognised",
            "unknown_kind",
            f"no sheet has a header row of any report kind in its first "
            f"{mapping.header_scan_rows} rows{extra}",
        )
    distinct = list(dict.fromkeys(kinds))
    if len(distinct) > 1:
        # One file is one (street, kind, period) submission: resubmissions, periods and the
        # audit trail are per file, so a workbook mixing kinds cannot be placed.
        sheets = ", ".join(f"'{lay.sheet}' → {lay.kind}" for lay in result.layouts)
        result.kind = None
        return result.reject(
            "rejected",
            "several_kinds",
            f"the file mixes report kinds ({sheets}): send one file per kind, or restrict "
            "the template with 'kind:'/'sheet:'",
        )
    result.kind = distinct[0]
    return result


@dataclass
class LandingProblem:
    """A landing entry that is not read: a symlink, an unreadable folder or file, something
    that is not a regular file. ``path`` is the entry itself (never resolved)."""

    path: Path
    code: str
    reason: str
    #: the street cannot be replaced from what was seen (its landing state is incomplete)
    incomplete: bool = False


@dataclass
class LandingScan:
    files: list[Path]
    problems: list[LandingProblem]


def os_error_text(exc: OSError) -> str:
    """``unreadable: [Errno 13] Permission denied`` (no path: the caller names it)."""
    if exc.errno is not None and exc.strerror:
        return f"unreadable: [Errno {exc.errno}] {exc.strerror}"
    return f"unreadable: {exc}"


def scan_landing_root(raw_dir: Path, years: Iterable[int] | None = None) -> LandingScan:
    """Every regular file under the landing root, and every entry that is not one.

    Symlinks (to files or folders) are never followed: a link would count another street's
    file twice or read files outside the landing root; each one is a problem naming its
    target. A folder that cannot be listed is a problem that makes its street *incomplete*
    (see :func:`~orchestration.lib.ingest.run.ingest`), and so is an entry whose type cannot
    be read. Sorted; hidden folders included; ``years`` limits the walk to those ``<year>/``
    folders.
    """
    raw_dir = Path(raw_dir)
    wanted = {str(y) for y in years} if years else None
    files: list[Path] = []
    problems: list[LandingProblem] = []
    stack = [raw_dir]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as exc:
            problems.append(
                LandingProblem(folder, "unreadable", f"folder {os_error_text(exc)}", True)
            )
            continue
        for entry in entries:
            path = Path(entry.path)
            if wanted and path.relative_to(raw_dir).parts[0] not in wanted:
                continue
            try:
                if entry.is_symlink():
                    try:
                        target = os.readlink(path)
                    except OSError as exc:
                        target = f"? ({exc.strerror})"
                    problems.append(
                        LandingProblem(
                            path,
                            "symlink",
                            f"a symbolic link (to {target}): links are not followed — put the "
                            "file itself in the street's folder",
                        )
                    )
                elif entry.is_dir(follow_symlinks=False):
                    stack.append(path)
                elif entry.is_file(follow_symlinks=False):
                    files.append(path)
                else:
                    problems.append(
                        LandingProblem(
                            path,
                            "not_a_file",
                            "not a regular file (a pipe, socket or device): not read",
                        )
                    )
            except OSError as exc:
                problems.append(LandingProblem(path, "unreadable", os_error_text(exc), True))
    files.sort()
    problems.sort(key=lambda p: p.path)
    return LandingScan(files, problems)


def discover(raw_dir: Path, years: Iterable[int] | None = None) -> list[Path]:
    """Every regular file under the landing root (sorted; hidden folders included; symlinks
    not followed — :func:`scan_landing_root` also lists what is not read)."""
    return scan_landing_root(raw_dir, years).files


def resolve_resubmissions(results: list[FileResult]) -> None:
    """Mark files superseded by a later version of the same street, kind and period."""
    groups: dict[tuple, list[FileResult]] = {}
    for r in results:
        if r.status == "loaded":
            label = r.period.label if r.period else str(r.year)
            groups.setdefault((r.year, r.street_code, r.kind, label), []).append(r)
    for members in groups.values():
        top = max(m.version for m in members)
        winners = [m for m in members if m.version == top]
        if top == 1:
            continue
        winner = sorted(winners, key=lambda m: m.source_file)[-1]
        for m in members:
            if m.version < top:
                m.status = "superseded"
                m.superseded_by = winner.source_file
                m.reason = f"superseded by resubmission {winner.source_file}"
                m.reason_code = "superseded"
                m.loaded = {
                    k: [
                        f.with_columns(pl.lit(winner.source_file).alias("_superseded_by"))
                        for f in v
                    ]
                    for k, v in m.loaded.items()
                }
                m.quarantined = [
                    q.with_columns(pl.lit(winner.source_file).alias("_superseded_by"))
                    for q in m.quarantined
                ]


def spill(result: FileResult, folder: Path) -> FileResult:
    """Write ``result``'s loaded frames as Parquet files into ``folder`` (see
    :class:`~orchestration.lib.ingest.warehouse.RawStage`) and keep only their paths
    (``result.spilled``). Uncompressed: the pages are dictionary-encoded already, and lz4
    saved 2 % of the size of a roster's file for 30 % more CPU of writing it."""
    for kind, frames in result.loaded.items():
        for frame in frames:
            path = Path(folder) / f"{uuid.uuid4().hex}.parquet"
            frame.write_parquet(path, compression="uncompressed", statistics=False)
            result.spilled.setdefault(kind, []).append(str(path))
    result.loaded = {}
    return result
