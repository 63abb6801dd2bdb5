"""The landing sensor: a run for the streets whose files were added, changed or removed.

Every tick lists the landing root and fingerprints each street's files by content (SHA-256;
a file whose size and modification time are unchanged keeps the hash the cursor remembers, so
a tick hashes only new or touched files). The cursor, kept in the Dagster instance, holds the
per-file ``(size, mtime_ns, sha256)`` and the mapping's hash as of the last requested run. On
its first tick the sensor starts from what the warehouse last ingested (``raw.source_files``).

A change requests ONE run of ``gonghui_job`` whose street range covers the changed streets
(ingestion skips the unchanged ones in between by hash). An edited mapping counts as a change
of every street that has files. While a run is in progress the sensor waits (cursor kept), as
the working database has one writer. If a requested run fails, the nightly run (every street,
hash-skipped) catches the changes up.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import dagster as dg

from orchestration.defs.ingest.partitions import (
    CHANGED_STREETS_TAG,
    STREET_CODES,
    partition_range_tags,
)
from orchestration.defs.ingest.resources import WarehouseResource
from orchestration.defs.jobs import gonghui_job
from orchestration.defs.runs import in_progress_runs
from orchestration.lib.ingest import (
    discover,
    locate,
    sha256_of,
    warehouse_fingerprints,
)
from orchestration.lib.mapping import MappingError, load_mapping

LANDING_SENSOR_NAME = "landing_files_sensor"
CURSOR_VERSION = 1

FileState = list  # [size, mtime_ns, sha256]


def _load_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        doc = json.loads(cursor)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) and doc.get("v") == CURSOR_VERSION else None


def scan_landing(raw_dir: Path, known: dict[str, FileState]) -> dict[str, FileState]:
    """Relative path → [size, mtime_ns, sha256] of every file under the landing root.

    The hash of a file whose size and mtime match ``known`` is reused, not recomputed.
    """
    out: dict[str, FileState] = {}
    for path in discover(raw_dir):
        rel = path.relative_to(raw_dir).as_posix()
        stat = path.stat()
        before = known.get(rel)
        if before and before[2] and before[0] == stat.st_size and before[1] == stat.st_mtime_ns:
            out[rel] = before
        else:
            try:
                sha = sha256_of(path)
            except OSError:  # unreadable: ingestion reports it; a later tick retries
                sha = None
            out[rel] = [stat.st_size, stat.st_mtime_ns, sha]
    return out


def street_fingerprints(raw_dir: Path, files: dict[str, FileState]) -> dict[str, str]:
    """Street → one digest of its files' (path, sha256); streets without files are absent."""
    by_street: dict[str, list[str]] = {}
    for rel, (_size, _mtime, sha) in sorted(files.items()):
        _year, street = locate(raw_dir / rel, raw_dir, STREET_CODES)
        if street is not None:
            by_street.setdefault(street, []).append(f"{rel}\t{sha}")
    return {
        street: hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()
        for street, lines in by_street.items()
    }


def _warehouse_baseline(warehouse: WarehouseResource) -> tuple[dict[str, str], str | None]:
    """Street fingerprints and mapping hash as last ingested (empty when never ingested)."""
    path = warehouse.settings().duckdb_path
    if not path.exists():
        return {}, None
    with warehouse.connect(read_only=True) as con:
        previous = warehouse_fingerprints(con)
    streets: dict[str, str] = {}
    mapping_shas = set()
    for street, files in previous.items():
        if street is None:
            continue
        lines = [f"{rel}\t{sha}" for rel, (sha, *_read_with) in sorted(files.items())]
        streets[street] = hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()
        mapping_shas |= {mapping_sha for _sha, mapping_sha, _key_id in files.values()}
    return streets, (mapping_shas.pop() if len(mapping_shas) == 1 else None)


def _instance(context: dg.SensorEvaluationContext) -> dg.DagsterInstance | None:
    try:
        return context.instance
    except Exception:  # a test context built without an instance
        return None


@dg.sensor(
    name=LANDING_SENSOR_NAME,
    job=gonghui_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a run for the streets whose landing files were added, changed or "
    "removed (by content hash) since the last requested run.",
)
def landing_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    settings = warehouse.settings()
    if not settings.raw_dir.is_dir():
        return dg.SkipReason(f"landing root {settings.raw_dir} does not exist")
    running = in_progress_runs(_instance(context))
    if running:
        return dg.SkipReason(f"run {running[0]} is in progress; checking again after it")

    state = _load_cursor(context.cursor)
    if state is None:
        try:
            previous, previous_mapping = _warehouse_baseline(warehouse)
        except Exception as exc:  # e.g. the database is locked by a writer outside Dagster
            return dg.SkipReason(f"cannot read the last ingestion state: {exc}")
        known: dict[str, FileState] = {}
    else:
        previous, previous_mapping = state["streets"], state.get("mapping")
        known = state["files"]
    requests = int(state.get("requests", 0)) if state else 0

    files = scan_landing(settings.raw_dir, known)
    current = street_fingerprints(settings.raw_dir, files)
    try:
        mapping_sha = load_mapping(settings.mapping_path).sha256
    except MappingError as exc:
        return dg.SkipReason(f"the mapping is invalid, no run requested: {exc}")
    changed = [s for s in STREET_CODES if current.get(s) != previous.get(s)]
    reason = "files added, changed or removed"
    if mapping_sha != previous_mapping and (state is not None or previous):
        changed = [s for s in STREET_CODES if s in current or s in previous]
        reason = "the mapping changed"

    def cursor(requests: int) -> str:
        doc = {
            "v": CURSOR_VERSION,
            "files": files,
            "streets": current,
            "mapping": mapping_sha,
            "requests": requests,
        }
        return json.dumps(doc, separators=(",", ":"))

    if not changed:
        return dg.SensorResult(skip_reason="no landing file changed", cursor=cursor(requests))
    # the same tick evaluated again (a retried tick) gives the same key, so one run; a street
    # that changes back to an earlier state later gets a new key (the request count moved on)
    run_key = hashlib.sha256(
        json.dumps(
            [requests, mapping_sha, [(s, previous.get(s), current.get(s)) for s in changed]]
        ).encode()
    ).hexdigest()[:32]
    context.log.info(f"{reason}: {', '.join(changed)}")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=run_key,
                tags={
                    **partition_range_tags(changed),
                    CHANGED_STREETS_TAG: ",".join(changed),
                    "gonghui/trigger": "landing_sensor",
                },
            )
        ],
        cursor=cursor(requests + 1),
    )
