"""Incremental runs: which streets changed since the last ingestion, by content hash. The
fingerprint of a file is its SHA-256 with the mapping and PII key it was read with, taken
from the landing folder and from ``raw.source_files``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

from orchestration.lib.ingest.files import locate, scan_landing_root, sha256_of
from orchestration.lib.ingest.keys import pii_key, pii_key_id
from orchestration.lib.mapping import (
    Mapping,
)
from orchestration.lib.streets import load_street_codes

#: the "street" of files outside any ``<year>/<street_code>/`` folder (rejected, never data)
UNPLACED = None

#: relative path → (file sha256, mapping sha256, PII key id): what was read, and how
Fingerprint = dict[str, tuple[str | None, str | None, str | None]]


def landing_fingerprints(
    raw_dir: Path,
    mapping: Mapping,
    *,
    street_codes: Iterable[str] | None = None,
    years: Iterable[int] | None = None,
    streets: Iterable[str | None] | None = None,
    key: bytes | None = None,
    hash_file: Callable[[Path], str] | None = None,
) -> dict[str | None, Fingerprint]:
    """Street → {file: (sha256, mapping sha256, PII key id)} of the landing files as they
    would be read now (``key``: default ``GONGHUI_PII_KEY``; ``hash_file``: default
    :func:`sha256_of`).

    Files outside any street folder are listed under :data:`UNPLACED` (``None``). Only the
    streets in ``streets`` are hashed when it is given. Compared with
    :func:`warehouse_fingerprints` by :func:`orchestration.lib.changes.detect_changes`.
    """
    hash_file = hash_file or sha256_of
    raw_dir = Path(raw_dir)
    key_id = pii_key_id(key or pii_key(warn=False))
    codes = list(street_codes) if street_codes is not None else load_street_codes()
    wanted = set(streets) if streets is not None else None
    out: dict[str | None, Fingerprint] = {}
    scan = scan_landing_root(raw_dir, years)
    # what cannot be read has no hash: it is part of the street's state all the same
    entries = [(p, None) for p in scan.files] + [(p.path, p) for p in scan.problems]
    for path, problem in entries:
        _year, street = (
            problem_place(path, raw_dir, codes) if problem else locate(path, raw_dir, codes)
        )
        if wanted is not None and street not in wanted:
            continue
        rel = path.relative_to(raw_dir).as_posix()
        sha = None
        if problem is None:
            try:
                sha = hash_file(path)
            except OSError:
                sha = None
        out.setdefault(street, {})[rel] = (sha, mapping.sha256 or None, key_id)
    return out


def problem_place(
    path: Path, raw_dir: Path, street_codes: Iterable[str]
) -> tuple[int | None, str | None]:
    """Year and street of a landing entry that may be a folder (``<raw>/<year>/<street>``)."""
    parts = path.relative_to(raw_dir).parts
    if len(parts) < 2 or not re.fullmatch(r"(19|20)\d{2}", parts[0]):
        return None, None
    return int(parts[0]), parts[1] if parts[1] in set(street_codes) else None


def warehouse_fingerprints(
    con, *, years: Iterable[int] | None = None
) -> dict[str | None, Fingerprint]:
    """The same fingerprints as last ingested, read from ``raw.source_files``."""
    exists = con.execute(
        "select count(*) from duckdb_tables() where schema_name = 'raw' "
        "and table_name = 'source_files'"
    ).fetchone()[0]
    if not exists:
        return {}
    columns = {r[0] for r in con.execute("describe raw.source_files").fetchall()}
    mapping_col, key_col = (
        c if c in columns else "null" for c in ("_mapping_sha256", "_pii_key_id")
    )
    where = ""
    if years is not None:
        where = f"where year in ({', '.join(str(int(y)) for y in years) or 'null'})"
    out: dict[str | None, Fingerprint] = {}
    rows = con.execute(
        f"select street_code, _source_file, _file_sha256, {mapping_col}, {key_col} "
        f"from raw.source_files {where}"
    ).fetchall()
    for street, rel, sha, mapping_sha, key_id in rows:
        out.setdefault(street, {})[rel] = (sha, mapping_sha, key_id)
    return out
