"""Periods and resubmissions, from file and sheet names: the reporting period a file or sheet
covers (``2021Q3``, ``2021年3月``, …) and the version of a resubmission (修订/更正/``_v2``).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from orchestration.lib.mapping import (
    Mapping,
    normalize_text,
)

_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4}


@dataclass(frozen=True)
class Period:
    label: str
    start_month: int
    end_month: int

    def end_date(self, year: int) -> dt.date:
        return dt.date(year, self.end_month, calendar.monthrange(year, self.end_month)[1])


def parse_period(name: str, year: int, markers: Iterable[re.Pattern[str]] = ()) -> Period | None:
    """The reporting period a file or sheet name states, or None for "no period marker".

    Recognises ``Q3``, ``三季度``/``第三季度``, ``3月``, ``2021-03``/``202103``, ``上半年``/``H1``.
    Resubmission ``markers`` (from the mapping) are removed first so ``_v2`` is no period.
    """
    text = normalize_text(Path(name).stem if "." in name else name)
    for pattern in markers:
        text = pattern.sub("", text)
    m = re.search(r"(?<![a-z])q([1-4])(?!\d)", text) or re.search(r"第?([一二三四1-4])季度", text)
    if m:
        q = _CN_DIGITS.get(m.group(1)) or int(m.group(1))
        return Period(f"{year}-Q{q}", 3 * q - 2, 3 * q)
    if re.search(r"上半年|(?<![a-z])h1(?!\d)", text):
        return Period(f"{year}-H1", 1, 6)
    if re.search(r"下半年|(?<![a-z])h2(?!\d)", text):
        return Period(f"{year}-H2", 7, 12)
    m = re.search(r"(?<!\d)(\d{1,2})月", text) or re.search(
        r"(?<!\d)(?:19|20)\d{2}[-_.]?(0[1-9]|1[0-2])(?!\d)", text
    )
    if m and 1 <= int(m.group(1)) <= 12:
        month = int(m.group(1))
        return Period(f"{year}-{month:02d}", month, month)
    return None


def resubmission_version(file_name: str, mapping: Mapping) -> int:
    """1 for an original; 2+ for a correction (``修订``, ``更正``, ``_v2``, ``_v3``, ...)."""
    version = 1
    stem = unicodedata.normalize("NFKC", Path(file_name).stem)  # （v2） → (v2), ＿ｖ２ → _v2
    for pattern in mapping.resubmission_markers:
        for m in pattern.finditer(stem):
            number = next((g for g in m.groups() if g), None)
            version = max(version, int(number) if number else 2)
    return version
