"""``gonghui check-mapping FILE --suggest``: a draft ``templates:`` entry for an unknown export.

For each sheet of a file no template reads it shows the first rows, picks the most likely
header row (the first row of several label cells followed by rows as wide), and for every
column guesses the shape of its values — dates (and which ``date_formats`` read them),
identity numbers (GB 11643), credit codes (GB 32100), amounts and counts (and their
separators), yes/no words, code lists, text — and the field of a report kind it best matches,
by the mapping's header synonyms and by that shape. The best kind over all sheets gives a draft
entry in the mapping's own syntax, valid against its schema, to paste and edit: code lists and
yes/no words it cannot translate are written as comments listing what the file holds.

It reads with the ingestion readers and the mapping's value rules, writes nothing, and holds no
knowledge of any particular system: every guess is a heuristic a data engineer checks.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from orchestration.lib import values as V
from orchestration.lib.identifiers import credit_code_is_valid_expr, id_number_is_valid_expr
from orchestration.lib.mapping import KindSpec, Mapping, normalize_text, split_header
from orchestration.lib.readers import Sheet, read_sheets

#: date patterns tried on a column besides the mapping's defaults (day-first before month-first)
DATE_CANDIDATES = (
    "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%d-%m-%Y", "%m-%d-%Y", "%d/%m/%y", "%m/%d/%y",
    "%B %d, %Y", "%B %d %Y", "%d %B %Y", "%d-%b-%Y", "%d-%b-%y", "%b-%d-%Y", "%Y-%b-%d",
)  # fmt: skip
#: spellings that often mean "empty" in exports (a column holding them gets ``null_markers``)
NULL_CANDIDATES = ("-", "--", "—", "/", "n/a", "na", "null", "none", "无", "空")
#: header words that say a number is in 10 000s
WAN_WORDS = re.compile(r"10k|万|ten\s*thousand|\bwan\b", re.IGNORECASE)
SHARE = 0.8  # share of a column's values that must fit a shape
SHOWN_ROWS = 8


@dataclass
class ColumnGuess:
    column: str
    header: str
    shape: str  # date | id_number | credit_code | amount | int | bool | code_list | text | empty
    distinct: list[str] = field(default_factory=list)
    date_formats: tuple[str, ...] = ()
    decimal_separator: str | None = None
    thousands_separator: str | None = None
    null_markers: tuple[str, ...] = ()
    field: str | None = None
    why: str = ""
    unit: str | None = None
    fill: float = 0.0  # share of the rows with a value (null markers not counted)


@dataclass
class SheetGuess:
    name: str | None
    first_rows: list[tuple[int, list[str]]]
    header_row: int | None = None
    kind: str | None = None
    score: float = 0.0
    columns: list[ColumnGuess] = field(default_factory=list)
    footer_rows: int = 0


@dataclass
class Suggestion:
    path: Path
    street: str
    mapping: Mapping
    sheets: list[SheetGuess]
    best: SheetGuess | None
    draft: str

    def render(self) -> str:
        lines = [f"{self.path}", f"  mapping {self.mapping.path}"]
        for sheet in self.sheets:
            where = f"sheet '{sheet.name}'" if sheet.name else "file"
            lines += ["", f"  {where}: first rows"]
            for number, cells in sheet.first_rows:
                shown = " | ".join(_cut(c) for c in cells)
                lines.append(f"    {number:>4}  {shown}")
            if sheet.header_row is None:
                lines.append("    no header row found (no row of several labels over data)")
                continue
            kind = self.mapping.kinds[sheet.kind] if sheet.kind else None
            lines.append(
                f"    most likely header row: {sheet.header_row}"
                + (f"; best matching kind: {kind.name} ({kind.title})" if kind else "")
            )
            for c in sheet.columns:
                target = f"→ {c.field}" if c.field else "→ (no field)"
                extra = []
                if c.date_formats:
                    extra.append("date_formats " + ", ".join(c.date_formats))
                if c.decimal_separator:
                    extra.append(f"decimal '{c.decimal_separator}'")
                if c.null_markers:
                    extra.append("empty as " + ", ".join(c.null_markers))
                if c.unit:
                    extra.append(f"unit {c.unit}")
                if c.shape in ("code_list", "bool") and c.distinct:
                    extra.append("values: " + ", ".join(c.distinct))
                why = f" ({c.why})" if c.why else ""
                lines.append(
                    f"    {_letter(c.column):>3}  {_cut(c.header, 24):<24} {c.shape:<11} "
                    f"{target}{why}" + (f"; {'; '.join(extra)}" if extra else "")
                )
            if sheet.footer_rows:
                lines.append(f"    footer: the last {sheet.footer_rows} row(s) are not data")
        lines += ["", "  draft entry for the mapping's templates: (check every line, then run"]
        lines += ["  gonghui check-mapping FILE --mapping <edited mapping>):", ""]
        lines += [self.draft or "    (nothing to suggest: no sheet has a header row)"]
        return "\n".join(lines)


def _letter(column: str) -> str:
    from orchestration.lib.check_mapping import column_letter

    return column_letter(column)


def _cut(text: str | None, width: int = 18) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def _q(text: str) -> str:
    """A YAML scalar that reads back as ``text`` (JSON strings are YAML)."""
    return json.dumps(text, ensure_ascii=False)


# ------------------------------------------------------------------------------ shapes


def _share(series: pl.Series, expr: pl.Expr) -> float:
    if series.len() == 0:
        return 0.0
    return float(pl.DataFrame({"c": series}).select(expr.fill_null(False).mean()).item())


def _date_formats(values: pl.Series, mapping: Mapping) -> tuple[tuple[str, ...], float]:
    """The fewest patterns that read the values (greedy), and the share they read."""
    defaults = mapping.rules.date_formats or V.CONTRACT_DATE_FORMATS
    frame = pl.DataFrame({"c": values})
    hits = {}
    for fmt in (*defaults, *DATE_CANDIDATES):
        parsed = V.parse_date(pl.col("c"), (fmt,), excel_serials=False)
        hits[fmt] = frame.select(parsed.value.is_not_null()).to_series()
    chosen: list[str] = []
    covered = pl.Series([False] * values.len())
    while True:
        best = max(hits, key=lambda f: ((covered | hits[f]).sum(), -len(chosen)), default=None)
        if best is None or (covered | hits[best]).sum() == covered.sum():
            break
        chosen.append(best)
        covered = covered | hits[best]
    share = covered.mean() if values.len() else 0.0
    return tuple(f for f in chosen if f not in defaults), float(share or 0.0)


def classify(values: pl.Series, header: str, mapping: Mapping) -> ColumnGuess:
    """The shape of a column's values (``values``: its cells under the header)."""
    guess = ColumnGuess(column=values.name, header=header, shape="empty")
    text = values.str.strip_chars().filter(values.str.strip_chars().str.len_chars() > 0)
    markers = {m for m in text.unique().to_list() if normalize_text(m) in NULL_CANDIDATES}
    guess.null_markers = tuple(sorted(markers))
    text = text.filter(~text.is_in(list(markers)))
    guess.fill = text.len() / max(values.len(), 1)
    if text.len() == 0:
        return guess
    col = pl.col("c")
    prepared = V.compact(col).str.to_uppercase()
    distinct = text.unique(maintain_order=True)
    if _share(text, id_number_is_valid_expr(prepared)) >= SHARE:
        guess.shape = "id_number"
        return guess
    if _share(text, credit_code_is_valid_expr(prepared)) >= SHARE:
        guess.shape = "credit_code"
        return guess
    formats, share = _date_formats(text, mapping)
    if share >= SHARE:
        guess.shape, guess.date_formats = "date", formats
        return guess
    european = text.str.contains(r"^\d{1,3}(\.\d{3})+,\d+$|^\d+,\d{1,2}$").any()
    for decimal, thousands in ((",", "."), (".", ",")) if european else ((".", ","),):
        number = V.parse_number(
            col, 1.0, whole=False, decimal_separator=decimal, thousands_separator=thousands
        )
        if _share(text, number.error.is_null()) >= SHARE:
            parsed = pl.DataFrame({"c": text}).select(number.value).to_series().drop_nulls()
            whole = (
                bool((parsed == parsed.round(0)).all()) and not text.str.contains(r"[.,]\d").any()
            )
            guess.shape = "int" if whole else "amount"
            if decimal != ".":
                guess.decimal_separator, guess.thousands_separator = decimal, thousands
            return guess
    words = {normalize_text(v) for v in distinct.to_list()}
    known = set(mapping.rules.booleans.get(True, ())) | set(mapping.rules.booleans.get(False, ()))
    if len(words) <= 2 and words <= known:
        guess.shape, guess.distinct = "bool", distinct.to_list()
        return guess
    code_like = distinct.str.contains(r"^[\w\-/\u4e00-\u9fff]{1,16}$").all()
    if code_like and distinct.len() == text.len() >= 2 and distinct.str.contains(r"\d").all():
        guess.shape = "identifier"  # every value different, each with digits: a key
        return guess
    capitals = distinct.str.contains(r"^[A-Z][A-Z_]{1,11}$").all()
    if distinct.len() <= 15 and code_like and (distinct.len() < text.len() or capitals):
        guess.shape, guess.distinct = "code_list", sorted(distinct.to_list())
        return guess
    guess.shape = "text"
    return guess


# ------------------------------------------------------------------------------ header row


def _row_cells(frame: pl.DataFrame, i: int) -> dict[str, str]:
    return {
        c: v.strip() for c, v in zip(frame.columns, frame.row(i), strict=True) if v and v.strip()
    }


def _is_label(text: str) -> bool:
    frame = pl.DataFrame({"c": [text]})
    number = frame.select(V.parse_number(pl.col("c"), 1.0, whole=False).error.is_null()).item()
    date = frame.select(V.parse_date(pl.col("c")).value.is_not_null()).item()
    return not (number or date)


def header_row_index(sheet: Sheet, scan: int) -> int | None:
    """Index of the likeliest header row: most label cells, with the next row as wide."""
    frame = sheet.frame
    filled = [i for i in range(frame.height) if _row_cells(frame, i)][:scan]
    best: tuple[float, int] | None = None
    for pos, i in enumerate(filled):
        cells = _row_cells(frame, i)
        labels = sum(_is_label(v) for v in cells.values())
        if labels < 2 or pos + 1 >= len(filled):
            continue
        below = _row_cells(frame, filled[pos + 1])
        if len(below) < max(2, len(cells) // 2):
            continue
        score = labels + 0.5 * len(set(cells) & set(below)) / len(cells)
        if best is None or score > best[0]:
            best = (score, i)
    return best[1] if best else None


# ------------------------------------------------------------------------------ fields

_SHAPE_TYPES = {
    "date": {"date": 3.0},
    "id_number": {"id_number": 5.0},
    "credit_code": {"credit_code": 5.0},
    "amount": {"amount": 3.0},
    "int": {"int": 3.0, "amount": 2.0},
    "bool": {"bool": 3.0},
    "code_list": {"category": 2.0, "bool": 1.0},
    "text": {"text": 1.0},
    "identifier": {"text": 1.0},
}


def _words(text: str) -> set[str]:
    return {w for w in re.split(r"[^a-z0-9]+", text.lower()) if len(w) >= 3}


def _field_score(
    c: ColumnGuess, spec, lookup: dict[str, tuple[str, int]], units, key: tuple[str, ...]
) -> tuple:
    candidates, _unit = split_header(c.header, units)
    if any(lookup.get(cand, ("",))[0] == spec.name for cand in candidates):
        return 10.0, "header synonym"
    base = _SHAPE_TYPES.get(c.shape, {}).get(spec.type, 0.0)
    if not base:
        return 0.0, ""
    why = f"{c.shape} values"
    if c.shape == "identifier":
        base = 4.0 if spec.name in key else 0.5
    if spec.type == "category" and c.distinct and set(c.distinct) <= set(spec.values or ()):
        base += 3.0
        why = "values of its code list"
    name = spec.name.replace("_", " ")
    similarity = difflib.SequenceMatcher(None, c.header.lower(), name).ratio()
    overlap = 1.5 if _words(c.header) & _words(name) else 0.0
    return base + 2 * similarity + overlap + (c.fill if spec.required else 0.0), why


def match_fields(columns: list[ColumnGuess], kind: KindSpec, mapping: Mapping) -> float:
    """Assign each column its best field of ``kind`` (greedy, one column per field); the
    score of the kind for these columns."""
    lookup = kind.header_lookup()
    scored = []
    for c in columns:
        for spec in kind.fields.values():
            score, why = _field_score(c, spec, lookup, mapping.units, kind.key)
            if score >= 2.0:
                scored.append((score, c.column, spec.name, why))
    scored.sort(key=lambda s: -s[0])
    used_cols: set[str] = set()
    used_fields: set[str] = set()
    assigned: dict[str, tuple[str, str]] = {}
    total = 0.0
    for score, column, fname, why in scored:
        if column in used_cols or fname in used_fields:
            continue
        used_cols.add(column)
        used_fields.add(fname)
        assigned[column] = (fname, why)
        total += score
    for c in columns:
        c.field, c.why = assigned.get(c.column, (None, ""))
        spec = kind.fields.get(c.field or "")
        c.unit = None
        if spec and spec.type in ("amount", "int") and WAN_WORDS.search(c.header):
            c.unit = next((u for u, f in mapping.units.items() if f == 10000), None)
    covered = sum(1 for f in kind.required if f in used_fields)
    return total + 4.0 * covered / max(len(kind.required), 1)


def guess_sheet(sheet: Sheet, mapping: Mapping, file_name: str) -> SheetGuess:
    frame = sheet.frame
    shown = [i for i in range(frame.height) if _row_cells(frame, i)][:SHOWN_ROWS]
    guess = SheetGuess(
        name=sheet.name,
        first_rows=[(sheet.row_numbers[i], list(_row_cells(frame, i).values())) for i in shown],
    )
    index = header_row_index(sheet, mapping.header_scan_rows)
    if index is None:
        return guess
    guess.header_row = sheet.row_numbers[index]
    headers = _row_cells(frame, index)
    body = frame.slice(index + 1)
    # footer: trailing rows of one cell at most under a header of several
    end = body.height
    while end > 0 and len(_row_cells(body, end - 1)) <= 1:
        end -= 1
    if 0 < end < body.height:
        guess.footer_rows = sheet.row_numbers[-1] - sheet.row_numbers[index + 1 + end] + 1
        body = body.slice(0, end)
    columns = [classify(body[c], h, mapping) for c, h in headers.items()]
    best = None
    for kind in mapping.kinds.values():
        score = match_fields(columns, kind, mapping) + (2.0 if kind.hinted_by(file_name) else 0)
        if best is None or score > best[0]:
            best = (score, kind)
    guess.score, kind = best
    match_fields(columns, kind, mapping)
    guess.kind, guess.columns = kind.name, columns
    return guess


# ------------------------------------------------------------------------------ draft


def _glob(file_name: str) -> str:
    stem, dot, suffix = file_name.rpartition(".")
    stem = re.sub(r"(19|20)\d{2}", "*", stem or file_name)
    return f"{stem}.{suffix}" if dot else stem


def draft_entry(guess: SheetGuess, mapping: Mapping, street: str, file_name: str, sheets: int):
    """The ``templates:`` list item (YAML text, two-space indented) for ``guess``."""
    kind = mapping.kinds[guess.kind]
    stem = _glob(file_name).rpartition(".")[0] or file_name
    slug = re.sub(r"[^a-z0-9]+", "_", normalize_text(stem)).strip("_")
    out = [
        f"  - name: {street}_{slug or 'export'}",
        f"    streets: [{street}]",
        f"    file_glob: {_q(_glob(file_name))}",
        f"    kind: {kind.name}  # {kind.title}",
    ]
    if guess.name and sheets > 1:
        out.append(f"    sheet: {_q(guess.name)}")
    out.append(f"    header_row: {guess.header_row}")
    if guess.footer_rows:
        out.append(f"    skip_rows_below: {guess.footer_rows}  # footer lines under the data")
    out.append("    columns:")
    for c in guess.columns:
        if c.field:
            out.append(f"      {_q(c.header)}: {c.field}  # {c.shape}")
        else:
            out.append(f"      # {_q(c.header)}: no field found — left out, ignored")
    missing = [f for f in kind.required if f not in {c.field for c in guess.columns}]
    if missing:
        out.append(f"    # required fields without a column: {', '.join(missing)}")
    mapped = [c for c in guess.columns if c.field]
    units = {c.field: c.unit for c in mapped if c.unit}
    if units:
        out.append("    units: {" + ", ".join(f"{f}: {u}" for f, u in units.items()) + "}")
    dated = [c for c in mapped if kind.fields[c.field].type == "date" and c.date_formats]
    shared = {c.date_formats for c in dated}
    field_rules: dict[str, list[str]] = {}
    if len(shared) == 1:
        [formats] = shared
        out.append("    date_formats: [" + ", ".join(_q(f) for f in formats) + "]")
    else:
        for c in dated:
            formats = ", ".join(_q(f) for f in c.date_formats)
            field_rules.setdefault(c.field, []).append(f"date_formats: [{formats}]")
    markers = sorted({m for c in mapped for m in c.null_markers})
    if markers:
        out.append("    null_markers: [" + ", ".join(_q(m) for m in markers) + "]")
    for c in mapped:
        if c.decimal_separator and kind.fields[c.field].type in ("int", "amount"):
            field_rules.setdefault(c.field, []).append(
                f"decimal_separator: {_q(c.decimal_separator)}, "
                f"thousands_separator: {_q(c.thousands_separator or '')}"
            )
    if field_rules:
        out.append("    fields:")
        for fname, rules in field_rules.items():
            out.append(f"      {fname}: {{{', '.join(rules)}}}")
    comments = []
    for c in mapped:
        spec = kind.fields[c.field]
        if spec.type == "category" and c.distinct:
            unknown = [v for v in c.distinct if v not in (spec.values or ())]
            if unknown:
                pairs = ", ".join(f"{_q(v)}: ?" for v in unknown)
                comments.append(
                    f"    #   {c.field}: {{{pairs}}}  # one of {', '.join(spec.values)}"
                )
        if spec.type == "bool" and c.distinct:
            known = set(mapping.rules.booleans.get(True, ())) | set(
                mapping.rules.booleans.get(False, ())
            )
            words = [v for v in c.distinct if normalize_text(v) not in known]
            if words:
                listed = ", ".join(_q(w) for w in words)
                comments.append(
                    f'    # booleans: {{"true": [?], "false": [?]}}  # {c.field} holds {listed}'
                )
    if comments:
        codes = [x for x in comments if "booleans" not in x]
        if codes:
            out.append("    # values:  (the file's codes → the contract's: fill in, uncomment)")
            out += codes
        out += [x for x in comments if "booleans" in x]
    return "\n".join(out)


def suggest_template(
    path: Path | str, *, mapping: Mapping, street: str | None = None
) -> Suggestion:
    """Read ``path`` and propose how to map it (see the module docstring)."""
    from orchestration.lib.check_mapping import CheckMappingError, locate_in_landing
    from orchestration.lib.streets import load_street_codes

    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise CheckMappingError(f"{path}: no such file")
    if street is None:
        found = locate_in_landing(path, load_street_codes())
        street = found[2] if found else "STREET"
    sheets = read_sheets(path, mapping.csv_encodings)
    guesses = [
        guess_sheet(s, mapping, path.name)
        for s in sheets
        if s.frame.height and not (s.name and mapping.is_non_data_sheet(s.name))
    ]
    candidates = [g for g in guesses if g.kind]
    best = max(candidates, key=lambda g: g.score, default=None)
    draft = draft_entry(best, mapping, street, path.name, len(sheets)) if best else ""
    return Suggestion(path, street, mapping, guesses, best, draft)
