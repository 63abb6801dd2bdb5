"""Which streets changed since they were ingested, and why — the one change detector.

A street must be re-read when the files of its folders (every year) differ from what
``raw.source_files`` records for it: a file added, changed (another SHA-256) or removed, or
read with another mapping or PII key. :func:`detect_changes` compares the landing root with
the warehouse and says so, street by street, with the reason. It decides for

* ingestion (:func:`orchestration.lib.ingest.ingest` with ``skip_unchanged``): which streets
  of the run's partition range are re-read, the others keep their rows;
* ``gonghui run`` and the nightly schedule (:func:`orchestration.lib.fingerprint.pending_work`):
  whether a run is needed, and over which streets;
* the landing sensor (``defs/ingest/sensors.py``), which passes ``hash_file`` to reuse the
  hashes of files whose size and mtime did not change (its cursor), so a tick reads only the
  files that were touched.

dbt then recomputes the streets ingestion re-read (var ``streets``, ``macros/street_batch.sql``).

Definition-free (no Dagster import).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: relative path → (file sha256, mapping sha256, PII key id): what was read, and how
Fingerprint = dict[str, tuple[str | None, str | None, str | None]]

#: how many file names a reason lists before "… (+n more)"
SHOWN_FILES = 3


def _names(paths: Iterable[str]) -> str:
    names = sorted(paths)
    shown = ", ".join(Path(p).name for p in names[:SHOWN_FILES])
    return shown + (f" (+{len(names) - SHOWN_FILES} more)" if len(names) > SHOWN_FILES else "")


def why_changed(current: Fingerprint, previous: Fingerprint) -> str | None:
    """Why a street whose landing files are ``current`` must be re-read when ``previous`` is
    what was ingested of it, or ``None`` when they are the same."""
    if current == previous:
        return None
    if not previous:
        return f"not ingested yet ({len(current)} file(s))"
    if not current:
        return f"all its files removed ({_names(previous)})"
    added = current.keys() - previous.keys()
    removed = previous.keys() - current.keys()
    common = current.keys() & previous.keys()
    changed = {p for p in common if current[p][0] != previous[p][0]}
    reasons = []
    if added:
        reasons.append(f"added {_names(added)}")
    if changed:
        reasons.append(f"changed {_names(changed)}")
    if removed:
        reasons.append(f"removed {_names(removed)}")
    same_content = common - changed
    if any(current[p][1] != previous[p][1] for p in same_content):
        reasons.append("the mapping changed")
    if any(current[p][2] != previous[p][2] for p in same_content):
        reasons.append("the PII key changed")
    return "; ".join(reasons) or "read differently"


@dataclass
class Changes:
    """The outcome of :func:`detect_changes`."""

    #: street → why it must be re-read, in the order of the candidates; ``None`` (the key)
    #: stands for files outside any ``<year>/<street_code>/`` folder
    changed: dict[str | None, str]
    #: the candidate streets whose files are as ingested
    unchanged: list[str]
    #: the fingerprints compared: the landing root now, and the warehouse
    current: dict[str | None, Fingerprint] = field(default_factory=dict, repr=False)
    previous: dict[str | None, Fingerprint] = field(default_factory=dict, repr=False)

    @property
    def streets(self) -> list[str]:
        """The changed street codes (files outside street folders left out)."""
        return [s for s in self.changed if s is not None]

    @property
    def unplaced(self) -> bool:
        """Whether files outside any street folder changed."""
        return None in self.changed

    def describe(self) -> list[str]:
        """One line per changed street: ``buji: changed 纠纷.csv``."""
        return [f"{s or 'outside street folders'}: {why}" for s, why in self.changed.items()]


def street_changes(
    current: dict[str | None, Fingerprint],
    previous: dict[str | None, Fingerprint],
    streets: Iterable[str | None],
) -> Changes:
    """Compare fingerprints street by street (only ``streets``, in that order)."""
    changed: dict[str | None, str] = {}
    unchanged: list[str] = []
    for street in streets:
        why = why_changed(current.get(street, {}), previous.get(street, {}))
        if why is not None:
            changed[street] = why
        elif street is not None:
            unchanged.append(street)
    return Changes(changed, unchanged, current, previous)


def detect_changes(
    raw_dir: Path,
    con: Any,
    mapping: Any,
    *,
    streets: Iterable[str] | None = None,
    unplaced: bool = True,
    years: Iterable[int] | None = None,
    key: bytes | None = None,
    street_codes: Iterable[str] | None = None,
    hash_file: Callable[[Path], str] | None = None,
) -> Changes:
    """Which of ``streets`` (default: every street of ``streets.csv``; with ``unplaced``, also
    the files outside street folders) changed under ``raw_dir`` since they were ingested into
    the working database ``con`` (``None``: nothing ingested yet), and why.

    ``mapping``/``key``: what the files would be read with now (a file read with another
    mapping or PII key is changed). ``years``: compare only those years. ``hash_file``: the
    SHA-256 of a landing file (default: read it), e.g. from a cache keyed by size and mtime.
    """
    from orchestration.lib.ingest.fingerprints import (
        UNPLACED,
        landing_fingerprints,
        warehouse_fingerprints,
    )
    from orchestration.lib.streets import load_street_codes

    codes = list(street_codes) if street_codes is not None else load_street_codes()
    candidates: list[str | None] = list(streets) if streets is not None else list(codes)
    if unplaced:
        candidates.append(UNPLACED)
    current = landing_fingerprints(
        raw_dir,
        mapping,
        street_codes=codes,
        years=years,
        streets=candidates,
        key=key,
        hash_file=hash_file,
    )
    previous = warehouse_fingerprints(con, years=years) if con is not None else {}
    return street_changes(current, previous, candidates)
