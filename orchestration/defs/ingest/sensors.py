"""The landing sensor: a run for the streets whose files were added, changed or removed.

Every tick lists the landing root and fingerprints each street's files by content: one digest
of the street's (path, SHA-256) pairs. The cursor, kept in the Dagster instance, is compact —
per street that content digest and a digest of its files' (path, size, mtime_ns), plus the
mapping's hash as of the last requested run: a street whose listing digest is unchanged keeps
its content digest without reading a byte, so a tick hashes only the files of streets where a
file was added, removed or touched. On its first tick (or with a cursor of an older layout)
the sensor starts from what the warehouse last ingested (``raw.source_files``).

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
CURSOR_VERSION = 2

#: street → {"files": digest of (path, size, mtime_ns), "content": digest of (path, sha256)}
StreetState = dict


def _digest(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def _load_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        doc = json.loads(cursor)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) and doc.get("v") == CURSOR_VERSION else None


def _content_hash(path: Path) -> str:
    """The file's sha256, or a marker when it cannot be read (ingestion reports it; the
    street's digest changes again once it is readable, so a later tick retries)."""
    try:
        return sha256_of(path)
    except OSError:
        return "unreadable"


def scan_landing(raw_dir: Path, known: dict[str, StreetState]) -> dict[str, StreetState]:
    """Street → its state (listing and content digests) for every street with files.

    A street whose files' (path, size, mtime_ns) digest equals ``known``'s keeps its content
    digest; the others' files are hashed. Files outside any street folder are not watched.
    """
    listing: dict[str, list[tuple[str, Path, int, int]]] = {}
    for path in discover(raw_dir):
        _year, street = locate(path, raw_dir, STREET_CODES)
        if street is None:
            continue
        try:
            stat = path.stat()
            size, mtime = stat.st_size, stat.st_mtime_ns
        except OSError:  # gone or unreadable since the listing: ingestion reports it
            size, mtime = -1, -1
        rel = path.relative_to(raw_dir).as_posix()
        listing.setdefault(street, []).append((rel, path, size, mtime))
    out: dict[str, StreetState] = {}
    for street, files in listing.items():
        files.sort()
        stat_digest = _digest([f"{rel}\t{size}\t{mtime}" for rel, _p, size, mtime in files])
        before = known.get(street) or {}
        if before.get("files") == stat_digest and before.get("content"):
            out[street] = before
        else:
            content = _digest([f"{rel}\t{_content_hash(path)}" for rel, path, _s, _m in files])
            out[street] = {"files": stat_digest, "content": content}
    return out


def street_fingerprints(states: dict[str, StreetState]) -> dict[str, str]:
    """Street → the content digest of its files (comparable with the warehouse's)."""
    return {street: state["content"] for street, state in states.items()}


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
        streets[street] = _digest(
            [f"{rel}\t{sha}" for rel, (sha, *_read_with) in sorted(files.items())]
        )
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
        known: dict[str, StreetState] = {}
    else:
        known = state["streets"]
        previous, previous_mapping = street_fingerprints(known), state.get("mapping")
    requests = int(state.get("requests", 0)) if state else 0

    states = scan_landing(settings.raw_dir, known)
    current = street_fingerprints(states)
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
            "mapping": mapping_sha,
            "requests": requests,
            "streets": states,
        }
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))

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
