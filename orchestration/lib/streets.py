"""The streets of the district: one place that reads the reference list, and the rule that
turns what a user typed — a code (``buji``), the Chinese name (``布吉街道``), its short form
(``布吉``) or the English name (``Buji``) — into the street code.

Every command that accepts a street resolves it with :func:`resolve_street`, so a street is
accepted by code or by name everywhere. The list is read by :func:`load_streets` only (the seed
``dbt_project/seeds/streets.csv``, the source of ``dim_street``); callers that hold the
published mart may pass its ``dim_street`` rows instead (:func:`streets_from_rows`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestration.lib.mapping import PROJECT_ROOT

STREETS_CSV = PROJECT_ROOT / "dbt_project" / "seeds" / "streets.csv"
DISTRICT = "district"
DISTRICT_NAMES = (DISTRICT, "全区", "龙岗区")


class UnknownStreetError(ValueError):
    pass


@dataclass(frozen=True)
class Street:
    code: str
    name_zh: str
    short_zh: str
    name_en: str

    @property
    def names(self) -> tuple[str, ...]:
        return (self.code, self.name_zh, self.short_zh, self.name_en)


def streets_file() -> Path:
    """The reference list of streets (the dbt seed ``streets.csv``)."""
    return STREETS_CSV


def load_streets(path: Path | None = None) -> list[Street]:
    """The streets of the reference list, in its order."""
    with (path or streets_file()).open(encoding="utf-8-sig", newline="") as handle:
        return streets_from_rows(csv.DictReader(handle))


def streets_from_rows(rows: Iterable[dict]) -> list[Street]:
    """Streets from rows with the seed's columns (``street_code``, ``name_zh``, ``short_zh``,
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


def resolve_street(
    text: str, streets: Sequence[Street] | None = None, *, allow_district: bool = True
) -> str:
    """The street code of ``text`` (code, Chinese name, short name or English name; case and
    surrounding blanks ignored); ``district`` (or 全区) when ``allow_district``.

    Raises :class:`UnknownStreetError` naming the accepted spellings."""
    wanted = text.strip().casefold()
    if allow_district and wanted in (n.casefold() for n in DISTRICT_NAMES):
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
