"""The landing sensor: a run for the streets whose files were added, changed or removed.

Every tick asks the change detector (:func:`orchestration.lib.changes.detect_changes`, the
one ingestion, ``gonghui run`` and the nightly schedule use) which streets' landing files
differ from what the warehouse last ingested (``raw.source_files``: content hashes, mapping,
PII key), and why. The cursor, kept in the Dagster instance, only saves work: per landing
file its size, mtime_ns and SHA-256 (a file whose size and mtime are unchanged is not read
again, so a tick hashes only the files that were touched), and the signature of the changes
of the last requested run.

A change requests ONE run of ``gonghui_job`` whose street range covers the changed streets
(ingestion skips the unchanged ones in between by hash). The same changes are requested once:
while the requested run is in progress the sensor waits (the working database has one
writer); if it failed, the changes stay and the nightly run (every street) catches them up,
or the next change of the landing root requests them again. Files outside any street folder
are not watched (the nightly run reports them).
"""

from __future__ import annotations

import contextlib
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
from orchestration.lib.changes import Changes, detect_changes
from orchestration.lib.ingest.files import sha256_of
from orchestration.lib.mapping import MappingError, load_mapping

LANDING_SENSOR_NAME = "landing_files_sensor"
CURSOR_VERSION = 3


def _load_cursor(cursor: str | None) -> dict[str, Any]:
    """The cursor's document; an empty one when missing or of an older layout."""
    try:
        doc = json.loads(cursor) if cursor else None
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or doc.get("v") != CURSOR_VERSION:
        return {"v": CURSOR_VERSION, "files": {}, "requested": None, "requests": 0}
    return doc


class HashCache:
    """SHA-256 of landing files, reused while a file's (size, mtime_ns) is unchanged.

    ``known``: relative path → [size, mtime_ns, sha256] of the previous tick; :attr:`seen`
    holds the same for the files of this tick (the next cursor).
    """

    def __init__(self, raw_dir: Path, known: dict[str, list]):
        self.raw_dir, self.known = raw_dir, known
        self.seen: dict[str, list] = {}

    def __call__(self, path: Path) -> str:
        stat = path.stat()  # OSError: the detector records the file as unreadable
        rel = path.relative_to(self.raw_dir).as_posix()
        before = self.known.get(rel)
        if before and before[:2] == [stat.st_size, stat.st_mtime_ns]:
            sha = before[2]
        else:
            sha = sha256_of(path)
        self.seen[rel] = [stat.st_size, stat.st_mtime_ns, sha]
        return sha


def signature(changes: Changes) -> str:
    """A digest of the changes (per changed street: its landing and warehouse fingerprints)."""
    parts = [
        (
            street,
            sorted(changes.current.get(street, {}).items()),
            sorted(changes.previous.get(street, {}).items()),
        )
        for street in changes.changed
    ]
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


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
    "removed (by content hash) since they were ingested.",
)
def landing_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    settings = warehouse.settings()
    if not settings.raw_dir.is_dir():
        return dg.SkipReason(f"landing root {settings.raw_dir} does not exist")
    running = in_progress_runs(_instance(context))
    if running:
        return dg.SkipReason(f"run {running[0]} is in progress; checking again after it")

    state = _load_cursor(context.cursor)
    try:
        mapping = load_mapping(settings.mapping_path)
    except MappingError as exc:
        return dg.SkipReason(f"the mapping is invalid, no run requested: {exc}")
    hashes = HashCache(settings.raw_dir, state["files"])
    try:
        with contextlib.ExitStack() as stack:
            con = (
                stack.enter_context(warehouse.connect(read_only=True))
                if settings.duckdb_path.exists()
                else None  # nothing ingested yet: every street with files changed
            )
            changes = detect_changes(
                settings.raw_dir, con, mapping, streets=STREET_CODES, unplaced=False,
                street_codes=STREET_CODES, hash_file=hashes,
            )  # fmt: skip
    except Exception as exc:  # e.g. the database is locked by a writer outside Dagster
        return dg.SkipReason(f"cannot read the last ingestion state: {exc}")
    requests = int(state.get("requests", 0))
    changed = changes.streets

    def cursor(requested: str | None, requests: int) -> str:
        doc = {
            "v": CURSOR_VERSION,
            "files": hashes.seen,
            "requested": requested,
            "requests": requests,
        }
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))

    if not changed:
        return dg.SensorResult(skip_reason="no landing file changed", cursor=cursor(None, requests))
    digest = signature(changes)
    if digest == state.get("requested"):
        return dg.SensorResult(
            skip_reason=(
                f"a run was already requested for these changes ({', '.join(changed)}); "
                "if it failed, the nightly run or the next change of the landing files "
                "requests them again"
            ),
            cursor=cursor(digest, requests),
        )
    # the same tick evaluated again (a retried tick) gives the same key, so one run; a street
    # that changes back to an earlier state later gets a new key (the request count moved on)
    run_key = hashlib.sha256(json.dumps([requests, digest]).encode()).hexdigest()[:32]
    for line in changes.describe():
        context.log.info(line)
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
        cursor=cursor(digest, requests + 1),
    )
