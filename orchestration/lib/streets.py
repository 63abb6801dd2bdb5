"""The streets of the district: the one reader of the streets list, and the rule that turns
what a user typed — a code (``buji``), the Chinese name (``布吉街道``), its short form
(``布吉``) or the English name (``Buji``) — into the street code.

The streets are configuration, like the mapping: the list is the CSV file of the setting
``GONGHUI_STREETS`` (default ``mapping/streets.csv``, Longgang's eleven streets), so another
district adopts gonghui by pointing the setting at its own list. Its columns:

``street_code``  the code of the landing folders ``raw/<year>/<street_code>/``, the Dagster
                 partition key and the mart's ``street_code``: lower-case letters, digits and
                 ``_``, starting with a letter, unique
``name_zh``      the Chinese name (``布吉街道``), required
``short_zh``     the short Chinese name (``布吉``) the report's charts use (default: name_zh)
``name_en``      the English name (optional)

The order of the rows is the streets' order everywhere (partitions, the report's charts,
``dim_street.sort_order``). One optional row with the code ``district`` names the district
itself (the report's title ``<name_zh>总工会``, ``--street 龙岗区``); it is not a street.
:func:`load_streets` validates the file and raises :class:`StreetsFileError` naming the file,
the row and the reason.

Every command that accepts a street resolves it with :func:`resolve_street`. Ingestion writes
the list into the working database (:func:`write_streets_table`, ``raw.streets``): dbt's
``streets`` model and ``dim_street`` are built from that table, so the published mart holds
the streets the run used. Callers that hold the published mart may pass its ``dim_street``
rows instead of reading the file (:func:`streets_from_rows`).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

DISTRICT = "district"
#: how the district total is always accepted, whatever the streets file says
DISTRICT_ALIASES = (DISTRICT, "全区")
#: the columns of the streets file (the first two required)
COLUMNS = ("street_code", "name_zh", "short_zh", "name_en")
REQUIRED_COLUMNS = COLUMNS[:2]
#: a street code: a landing folder name, a partition key and a SQL string literal, all safe
CODE_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,39}")


class UnknownStreetError(ValueError):
    pass


class StreetsFileError(ValueError):
    """The streets file is unusable; the message names the file, the row and the reason."""


@dataclass(frozen=True)
class Street:
    code: str
    name_zh: str
    short_zh: str
    name_en: str

    @property
    def names(self) -> tuple[str, ...]:
        return (self.code, self.name_zh, self.short_zh, self.name_en)


@dataclass(frozen=True)
class StreetsList:
    """The streets of a streets file, in its order, and the district row if it has one."""

    path: Path
    streets: tuple[Street, ...]
    district: Street | None = None

    @property
    def codes(self) -> list[str]:
        return [s.code for s in self.streets]


def streets_file() -> Path:
    """The configured streets list (``GONGHUI_STREETS``, default ``mapping/streets.csv``)."""
    from orchestration.lib.settings import Settings

    return Settings.from_env().streets_path


def read_streets_file(path: Path | None = None) -> StreetsList:
    """The validated streets list of ``path`` (default: the configured file).

    Raises :class:`StreetsFileError` when the file is missing or unreadable, lacks a
    required column or has one it does not know, or a row has an empty or unsafe code, a
    duplicate code, an empty Chinese name or a name another street already has — naming the
    file and the row (the header is row 1)."""
    path = Path(path) if path is not None else streets_file()
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle))
    except OSError as exc:
        raise StreetsFileError(
            f"streets file {path} (GONGHUI_STREETS) cannot be read: {exc.strerror or exc}"
        ) from exc
    except UnicodeDecodeError as exc:
        raise StreetsFileError(f"streets file {path}: not UTF-8 text ({exc.reason})") from exc
    if not rows:
        raise StreetsFileError(f"streets file {path}: empty, expected a header {COLUMNS}")
    header = [c.strip() for c in rows[0]]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    if missing or unknown:
        what = "; ".join(
            x
            for x in (
                f"missing column(s) {missing}" if missing else "",
                f"unknown column(s) {unknown}" if unknown else "",
            )
            if x
        )
        raise StreetsFileError(
            f"streets file {path}, row 1 (header): {what}; the columns are {list(COLUMNS)} "
            f"({', '.join(REQUIRED_COLUMNS)} required)"
        )
    streets: list[Street] = []
    district: Street | None = None
    seen_codes: dict[str, int] = {}
    seen_names: dict[str, tuple[int, str]] = {}
    for number, cells in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in cells):
            continue  # a blank line
        where = f"streets file {path}, row {number}"
        if len(cells) > len(header):
            raise StreetsFileError(f"{where}: {len(cells)} cells, the header has {len(header)}")
        row = dict(zip(header, (c.strip() for c in cells), strict=False))
        code = row.get("street_code", "")
        if not CODE_PATTERN.fullmatch(code):
            raise StreetsFileError(
                f"{where}: street code {code!r} is not a safe identifier (lower-case letters, "
                "digits and _, starting with a letter, at most 40 characters)"
            )
        if code in seen_codes:
            raise StreetsFileError(
                f"{where}: street code {code!r} is already the code of row {seen_codes[code]}"
            )
        seen_codes[code] = number
        name_zh = row.get("name_zh", "")
        if not name_zh:
            raise StreetsFileError(f"{where}: street {code!r} has no Chinese name (name_zh)")
        street = Street(code, name_zh, row.get("short_zh") or name_zh, row.get("name_en", ""))
        for name in {n.casefold() for n in street.names if n}:
            other = seen_names.get(name)
            if other is not None:
                raise StreetsFileError(
                    f"{where}: the name {name!r} of {code!r} is already a name of "
                    f"{other[1]!r} (row {other[0]}): a name must name one street"
                )
            seen_names[name] = (number, code)
        if code == DISTRICT:
            district = street
        else:
            streets.append(street)
    if not streets:
        raise StreetsFileError(f"streets file {path}: no street (a row per street)")
    return StreetsList(path, tuple(streets), district)


def load_streets(path: Path | None = None) -> list[Street]:
    """The streets of the streets list (default: the configured one), in its order."""
    return list(read_streets_file(path).streets)


def load_street_codes(path: Path | None = None) -> list[str]:
    """The street codes of the streets list (default: the configured one), in its order."""
    return read_streets_file(path).codes


def district_name(path: Path | None = None) -> str:
    """The district's Chinese name (the ``district`` row of the streets list), or ``""``."""
    district = read_streets_file(path).district
    return district.name_zh if district else ""


def streets_from_rows(rows: Iterable[dict]) -> list[Street]:
    """Streets from rows with the list's columns (``street_code``, ``name_zh``, ``short_zh``,
    ``name_en``), e.g. the published ``dim_street``."""
    return [
        Street(
            str(r["street_code"]),
            str(r.get("name_zh") or ""),
            str(r.get("short_zh") or ""),
            str(r.get("name_en") or ""),
        )
        for r in rows
    ]


#: columns of ``raw.streets`` (the file's columns and its row order)
STREETS_TABLE_COLUMNS = {
    "street_code": "VARCHAR",
    "name_zh": "VARCHAR",
    "short_zh": "VARCHAR",
    "name_en": "VARCHAR",
    "sort_order": "INTEGER",
}


def write_streets_table(con, streets: Sequence[Street] | None = None) -> None:
    """Replace ``raw.streets`` of the working database ``con`` with ``streets`` (default: the
    configured list): the source of dbt's ``streets`` model and ``dim_street``."""
    streets = load_streets() if streets is None else streets
    columns = ", ".join(f"{name} {kind}" for name, kind in STREETS_TABLE_COLUMNS.items())
    con.execute("create schema if not exists raw")
    con.execute(f"create or replace table raw.streets ({columns})")
    con.executemany(
        "insert into raw.streets values (?, ?, ?, ?, ?)",
        [(s.code, s.name_zh, s.short_zh, s.name_en, i) for i, s in enumerate(streets, start=1)],
    )


def _district_names(strict: bool) -> list[str]:
    """The spellings of the district total: 全区, ``district`` and the names of the streets
    list's ``district`` row (``strict``: a broken streets file raises, else only the
    aliases are known — a caller that passed the published streets does not need the file)."""
    try:
        district = read_streets_file().district
    except StreetsFileError:
        if strict:
            raise
        district = None
    return [*DISTRICT_ALIASES, *(n for n in (district.names if district else ()) if n)]


def resolve_street(
    text: str, streets: Sequence[Street] | None = None, *, allow_district: bool = True
) -> str:
    """The street code of ``text`` (code, Chinese name, short name or English name; case and
    surrounding blanks ignored); ``district`` (全区, or a name of the streets list's
    ``district`` row) when ``allow_district``.

    Raises :class:`UnknownStreetError` naming the accepted spellings."""
    wanted = text.strip().casefold()
    if allow_district and wanted in (n.casefold() for n in _district_names(streets is None)):
        return DISTRICT
    streets = load_streets() if streets is None else streets
    for street in streets:
        if wanted in (n.casefold() for n in street.names if n):
            return street.code
    choices = ", ".join(f"{s.code} ({s.short_zh or s.name_zh})" for s in streets)
    district = f"{DISTRICT} (全区), " if allow_district else ""
    raise UnknownStreetError(
        f"unknown street {text!r}: give a code or a name, one of {district}{choices}"
    )
