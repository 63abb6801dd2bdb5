"""Header recognition: which row of a sheet is the header and which report kind it is, by
matching header cells against the mapping's canonical headers and synonyms.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from orchestration.lib.mapping import (
    KindSpec,
    Mapping,
    Template,
    split_header,
)
from orchestration.lib.readers import Sheet


@dataclass
class HeaderMatch:
    kind: KindSpec
    row_index: int
    fields: dict[str, tuple[str, int, str | None, str]]  # field → (column, prio, unit, header)
    headers: dict[str, str]  # column → header text

    @property
    def missing_required(self) -> list[str]:
        return [f for f in self.kind.required if f not in self.fields]


def _match_row(
    cells: dict[str, tuple[list[str], str | None, str]],
    kind: KindSpec,
    lookup: dict[str, tuple[str, int]],
    template: Template | None,
) -> dict[str, tuple[str, int, str | None, str]]:
    """Fields of ``kind`` found among a row's cells (column → (spellings, unit, text))."""
    found: dict[str, tuple[str, int, str | None, str]] = {}
    for column, (candidates, unit, text) in cells.items():
        target = None
        for cand in candidates:
            if template and cand in template.columns:
                target = (template.columns[cand], -1)
                break
            if cand in lookup:
                target = lookup[cand]
                break
        if target is None or target[0] not in kind.fields:
            continue
        fname, prio = target
        if fname not in found or prio < found[fname][1]:
            found[fname] = (column, prio, unit, text)
    return found


def find_header(
    sheet: Sheet, mapping: Mapping, template: Template | None, file_name: str
) -> HeaderMatch | None:
    """The best (row, kind) header match of a sheet, complete or not (None: nothing alike)."""
    kinds = [mapping.kinds[template.kind]] if template and template.kind else mapping.kinds.values()
    frame = sheet.frame
    if template and template.header_row is not None:
        rows = [i for i, n in enumerate(sheet.row_numbers) if n == template.header_row]
    else:
        # the first N non-empty rows: leading blank rows do not count against the limit
        filled = frame.select(
            pl.any_horizontal([pl.col(c).is_not_null() for c in frame.columns])
        ).to_series()
        scan = (template.header_scan_rows if template else None) or mapping.header_scan_rows
        rows = filled.arg_true().head(scan).to_list()  # not a Python loop over every row
    lookups = {kind.name: kind.header_lookup() for kind in kinds}
    best: tuple | None = None
    for i in rows:
        texts = {c: v for c, v in zip(frame.columns, frame.row(i), strict=True) if v}
        if len(texts) < 2:
            continue
        cells = {c: (*split_header(v, mapping.units), v) for c, v in texts.items()}
        for kind in kinds:
            found = _match_row(cells, kind, lookups[kind.name], template)
            if len(found) < 2:
                continue
            complete = all(f in found for f in kind.required)
            score = (complete, len(found), kind.hinted_by(file_name), -i)
            if best is None or score > best[0]:
                best = (score, HeaderMatch(kind, i, found, texts))
    return best[1] if best else None
