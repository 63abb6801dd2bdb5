"""Fingerprints that decide how much of a run is needed.

A nightly run usually finds most streets unchanged. Ingestion skips those by file hash; this
module lets the rest of the run decide too:

* :func:`dbt_project_sha256` — the dbt project's source (models, macros, seeds, tests,
  ``dbt_project.yml``). When it differs from the one of the last publication
  (:func:`dbt_full_refresh_reason`), the incremental models are rebuilt from scratch
  (``dbt build --full-refresh``).
* :func:`inputs_fingerprint` — everything the published mart is a function of: the ``raw``
  state (every landing file's hash, status and the run that loaded it), the dbt project, the
  quality gate's configuration, the mapping, the streets list and the code version. When it
  equals the fingerprint recorded in ``published/manifest.json`` — and the published mart is
  the file that manifest records (its sha256) — the published mart already reflects these
  inputs and the run ends after ingestion.

Definition-free: used by the Dagster assets and by tests.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: run tag set by a run that found nothing changed: the run id of the publication it matched
UP_TO_DATE_TAG = "gonghui/up_to_date_with"

#: folders of the dbt project whose files define what a build produces
DBT_SOURCE_FOLDERS = ("models", "macros", "seeds", "tests", "snapshots", "analyses")
#: files and folders that never change a build or a check (generated, local, caches)
_IGNORED_PARTS = {"target", "logs", "dbt_packages", "uncommitted", "__pycache__", ".user.yml"}


def _files(root: Path, folders: Iterable[str] | None = None) -> list[Path]:
    tops = [root / f for f in folders] if folders is not None else [root]
    found = [
        p
        for top in tops
        if top.exists()
        for p in (top.rglob("*") if top.is_dir() else [top])
        if p.is_file() and not _IGNORED_PARTS.intersection(p.relative_to(root).parts)
    ]
    return sorted(found)


def tree_sha256(root: Path, folders: Iterable[str] | None = None) -> str:
    """SHA-256 over the relative paths and contents of the files under ``root`` (or under
    its sub-``folders``), generated folders (target/, logs/, uncommitted/…) excluded."""
    digest = hashlib.sha256()
    for path in _files(root, folders):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def dbt_project_sha256(project_dir: Path) -> str:
    """Hash of what a ``dbt build`` of the project produces (sources, macros, seeds, config)."""
    digest = hashlib.sha256(tree_sha256(project_dir, DBT_SOURCE_FOLDERS).encode())
    for name in ("dbt_project.yml", "packages.yml", "dependencies.yml"):
        path = project_dir / name
        if path.exists():
            digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def raw_state_sha256(con: Any) -> str:
    """Hash of ``raw.source_files``: every file's path, content hash, status, mapping hash and
    the run that loaded it. A re-ingested street gets a new run id, so any change shows."""
    rows = con.execute(
        "select _source_file, _file_sha256, status, _run_id, _mapping_sha256 "
        "from raw.source_files order by all"
    ).fetchall()
    return hashlib.sha256(json.dumps(rows, default=str).encode()).hexdigest()


def inputs_fingerprint(
    con: Any,
    *,
    dbt_project_dir: Path,
    expectations_dir: Path,
    mapping_path: Path,
    code: str,
    streets_path: Path | None = None,
    year_states: dict[int, str] | None = None,
) -> dict[str, str]:
    """The parts the published mart is a function of, each as a SHA-256 (``code``: the code
    version, e.g. the git commit; ``streets_path``: the streets list, default the configured
    one), and ``fingerprint``: one hash over all of them.

    ``year_states``: year → open/closed (lib/calendar.py); a year that closes (its deadline
    passes, ``gonghui year close``) changes the fingerprint, so the next run gates it."""
    from orchestration.lib.streets import streets_file

    parts = {
        "raw_state": raw_state_sha256(con),
        "dbt_project": dbt_project_sha256(dbt_project_dir),
        "quality_gate": tree_sha256(expectations_dir),
        "mapping": hashlib.sha256(mapping_path.read_bytes()).hexdigest(),
        "streets": hashlib.sha256((streets_path or streets_file()).read_bytes()).hexdigest(),
        "code": code,
    }
    if year_states:
        parts["year_states"] = ",".join(f"{y}:{s}" for y, s in sorted(year_states.items()))
    overall = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
    return {**parts, "fingerprint": overall}


def current_fingerprint(con: Any, settings: Any) -> dict[str, str]:
    """:func:`inputs_fingerprint` of the working database ``con`` under ``settings``
    (:class:`orchestration.lib.settings.Settings`)."""
    from orchestration.lib.calendar import current_year_states, working_years
    from orchestration.lib.constants import PROJECT_ROOT
    from orchestration.lib.publish import code_version

    version = code_version()
    states = current_year_states(settings, working_years(con))
    return inputs_fingerprint(
        con,
        dbt_project_dir=PROJECT_ROOT / "dbt_project",
        expectations_dir=settings.expectations_dir,
        mapping_path=settings.mapping_path,
        streets_path=settings.streets_path,
        code=version["commit"] + (f"+{version['local_changes']}" if version["dirty"] else ""),
        year_states={y: s.state for y, s in states.items()},
    )


def dbt_full_refresh_reason(settings: Any) -> str | None:
    """Why ``dbt build`` must rebuild the incremental models from scratch, else ``None``:
    the dbt project (an incremental model's SQL, a macro it uses) differs from the one the
    last publication was built with — the fingerprint recorded in ``published/manifest.json``
    — or nothing was published yet. (dbt itself catches a change of the models' columns,
    ``on_schema_change='fail'``, but not of their logic; a first build into an empty database
    builds them whole anyway.)"""
    from orchestration.lib.constants import PROJECT_ROOT

    try:
        manifest = json.loads((settings.published_dir / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError):
        return "no publication recorded"
    recorded = (manifest.get("fingerprint") or {}).get("dbt_project")
    if recorded != dbt_project_sha256(PROJECT_ROOT / "dbt_project"):
        return f"the dbt project changed since the publication of run {manifest.get('run_id')}"
    return None


def up_to_date_publication(con: Any, settings: Any) -> dict[str, Any] | None:
    """The last publication's manifest when its recorded fingerprint equals the current one
    of ``con`` and the published mart is the file it records (the published mart already
    reflects this state), else ``None``."""
    return check_publication(con, settings)[0]


def check_publication(con: Any, settings: Any) -> tuple[dict[str, Any] | None, str | None]:
    """``(manifest, None)`` when the last publication is up to date with ``con``;
    ``(None, problem)`` when the inputs are unchanged but the published mart is not the file
    its manifest records (changed in place, replaced, missing: see
    :func:`orchestration.lib.publish.mart_mismatch`) — a run must publish again;
    ``(None, None)`` when the inputs changed or nothing was published."""
    from orchestration.lib.publish import mart_mismatch

    try:
        manifest = json.loads((settings.published_dir / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None, None
    recorded = (manifest.get("fingerprint") or {}).get("fingerprint")
    if recorded is None:
        return None, None
    if current_fingerprint(con, settings)["fingerprint"] != recorded:
        return None, None
    problem = mart_mismatch(settings.published_mart, manifest)
    if problem:
        return None, problem
    return manifest, None


@dataclass
class PendingWork:
    """What a run would have to do, judged before starting one (see :func:`pending_work`)."""

    #: streets whose landing files were added, changed or removed since they were ingested
    changed_streets: list[str]
    #: whether files outside any street folder changed (a full-range run reports them)
    unplaced_changed: bool
    #: the last publication's manifest when nothing at all changed since it, else ``None``
    up_to_date_with: dict[str, Any] | None
    #: nothing changed, but the published mart is not the one on record: why (republish)
    mart_problem: str | None = None
    #: changed street (``None``: outside street folders) → why, from the change detector
    reasons: dict[str | None, str] = field(default_factory=dict)

    @property
    def nothing_to_do(self) -> bool:
        return self.up_to_date_with is not None


def pending_work(settings: Any) -> PendingWork:
    """Compare the landing files with what was ingested
    (:func:`orchestration.lib.changes.detect_changes`, the change detector ingestion and the
    landing sensor use too), and the inputs fingerprint with the last publication's —
    without writing anything. The nightly schedule skips its tick and ``gonghui run`` stops
    early when there is nothing to do; otherwise the run is launched for the changed streets
    only."""
    import duckdb

    from orchestration.lib.changes import detect_changes
    from orchestration.lib.mapping import load_mapping
    from orchestration.lib.streets import load_street_codes

    street_codes = load_street_codes(settings.streets_path)
    never = {s: "no working database yet" for s in street_codes}
    if not settings.duckdb_path.exists():
        return PendingWork(street_codes, True, None, reasons=never)
    mapping = load_mapping(settings.mapping_path)
    try:
        con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    except duckdb.IOException:  # a run holds the working database: let the run decide
        return PendingWork(street_codes, True, None, reasons=never)
    with con:
        changes = detect_changes(settings.raw_dir, con, mapping, street_codes=street_codes)
        up_to_date, problem = (None, None) if changes.changed else check_publication(con, settings)
    return PendingWork(changes.streets, changes.unplaced, up_to_date, problem, changes.changed)
