"""The ingestion engine: landing files in, typed rows + quarantine + audit trail out.

One engine, driven by the declarative mapping (:mod:`orchestration.lib.mapping`), handles every
file of the landing contract:

1. **discover** every file under ``<raw>/<year>/<street_code>/`` (anything else is reported);
2. **read** it into text sheets (:mod:`orchestration.lib.readers`), rejecting unusable files;
3. **recognise** the report kind and the header row of each sheet by matching header cells
   against the canonical headers and synonyms (file-name hints break ties);
4. **classify** rows: data, blank, 合计/小计 control totals, 填表人-style trailers;
5. **parse** every value spelling (:mod:`orchestration.lib.values`), scale units, validate
   identifiers and dates, hash identity numbers with a keyed HMAC and drop names and phones;
6. split rows into **loaded** and **quarantined** (with file, sheet, row and reason);
7. resolve **resubmissions** (修订/更正/_v2 supersede the same street, kind and period);
8. **write** the ``raw`` schema of the working DuckDB database for the streets in scope.

De-duplication on natural keys and cross-street member attribution are done downstream in dbt
(``int_*_deduplicated``), so every source row stays visible in ``raw`` for auditors.
"""

from __future__ import annotations

import calendar
import contextlib
import dataclasses
import datetime as dt
import hashlib
import hmac
import logging
import os
import re
import tempfile
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from orchestration.lib import pii
from orchestration.lib import values as V
from orchestration.lib.console import report_progress
from orchestration.lib.mapping import (
    DUCKDB_TYPES,
    FieldRules,
    FieldSpec,
    KindSpec,
    Mapping,
    Template,
    normalize_text,
    split_header,
)
from orchestration.lib.readers import FileRejected, Sheet, read_sheets
from orchestration.lib.settings import IngestLimits
from orchestration.lib.streets import load_street_codes, streets_file, write_streets_table
from orchestration.lib.workers import Failure, FilePool, Job

log = logging.getLogger(__name__)

DEV_PII_KEY = "gonghui-development-key-DO-NOT-USE-IN-PRODUCTION"
PROVENANCE = ["_source_file", "_source_sheet", "_source_row", "_file_sha256", "_run_id"]
COMMON_COLUMNS = {
    "year": "INTEGER",
    "street_code": "VARCHAR",
    "_period_label": "VARCHAR",
    "_period_end": "DATE",
    "_superseded_by": "VARCHAR",
    "_source_file": "VARCHAR",
    "_source_sheet": "VARCHAR",
    "_source_row": "INTEGER",
    "_file_sha256": "VARCHAR",
    "_run_id": "VARCHAR",
    "_ingested_at": "TIMESTAMP",
}
QUARANTINE_COLUMNS = {
    "year": "INTEGER",
    "street_code": "VARCHAR",
    "report_kind": "VARCHAR",
    "_source_file": "VARCHAR",
    "_source_sheet": "VARCHAR",
    "_source_row": "INTEGER",
    "_file_sha256": "VARCHAR",
    "_run_id": "VARCHAR",
    "_superseded_by": "VARCHAR",
    "reason_code": "VARCHAR",
    "reason": "VARCHAR",
    "record_json": "VARCHAR",
}
SOURCE_FILE_COLUMNS = {
    "_source_file": "VARCHAR",
    "year": "INTEGER",
    "street_code": "VARCHAR",
    "report_kind": "VARCHAR",
    "_file_sha256": "VARCHAR",
    "file_format": "VARCHAR",
    "encoding": "VARCHAR",
    "status": "VARCHAR",
    "reason_code": "VARCHAR",
    "reason": "VARCHAR",
    "_period_label": "VARCHAR",
    "_period_end": "DATE",
    "version": "INTEGER",
    "superseded_by": "VARCHAR",
    "sheets_read": "VARCHAR",
    "rows_data": "INTEGER",
    "rows_loaded": "INTEGER",
    "rows_quarantined": "INTEGER",
    "rows_skipped": "INTEGER",
    "notes": "VARCHAR",
    "_run_id": "VARCHAR",
    "_mapping_sha256": "VARCHAR",
    "_pii_key_id": "VARCHAR",
}
CONTROL_TOTAL_COLUMNS = {
    "year": "INTEGER",
    "street_code": "VARCHAR",
    "report_kind": "VARCHAR",
    "_source_file": "VARCHAR",
    "_source_sheet": "VARCHAR",
    "_source_row": "INTEGER",
    "label": "VARCHAR",
    "field": "VARCHAR",
    "stated_value": "DECIMAL(18,2)",
    "computed_value": "DECIMAL(18,2)",
    "covers_from_row": "INTEGER",
    "covers_to_row": "INTEGER",
    "_run_id": "VARCHAR",
}
AUDIT_TABLES = {
    "quarantine": QUARANTINE_COLUMNS,
    "source_files": SOURCE_FILE_COLUMNS,
    "control_totals": CONTROL_TOTAL_COLUMNS,
}

_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4}


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


DEV_PII_KEY_WARNING = (
    "GONGHUI_PII_KEY is not set: identity numbers are hashed with the PUBLIC "
    "development key. Set GONGHUI_PII_KEY to a secret before loading real data."
)
_dev_key_warned = False


def pii_key(*, warn: bool = True) -> bytes:
    """The HMAC key for identity numbers; a development default warns loudly (``warn``:
    when the key is used to pseudonymise, not only to tell whether it changed).

    The warning is one log record (logger ``orchestration.lib.ingest``), once per process:
    ``gonghui run`` repeats it in its summary; a run in ``dagster dev`` has it in its log."""
    global _dev_key_warned
    key = os.environ.get("GONGHUI_PII_KEY")
    if not key:
        if warn and not _dev_key_warned:
            _dev_key_warned = True
            log.warning(DEV_PII_KEY_WARNING)
        key = DEV_PII_KEY
    return key.encode("utf-8")


def pii_key_id(key: bytes) -> str:
    """A short identifier of the PII key that does not reveal it (an HMAC of a constant).

    Recorded with every ingested file (``raw.source_files._pii_key_id``): rows pseudonymised
    with another key cannot be matched with new ones (a member would count twice), so a key
    change makes every street "changed" and re-read, like a mapping change.
    """
    return hmac.new(key, b"gonghui pii key id", hashlib.sha256).hexdigest()[:16]


def keyed_hash(series: pl.Series, key: bytes) -> pl.Series:
    """HMAC-SHA256 (hex) of each non-null value; the same key gives the same pseudonym.

    One ``hmac.digest`` (OpenSSL's one-shot HMAC) per value over the UTF-8 bytes polars
    gives, or per distinct value when values repeat (then mapped back in polars);
    :func:`keyed_hash_reference` is the definition and gives the same output (a test
    compares). Measured against composing the HMAC from DuckDB's ``sha256``
    (``sha256(opad || unhex(sha256(ipad || value)))``): no faster, and this runs in the
    reading workers already, one per core."""
    present = series.drop_nulls()
    distinct = present.unique() if present.n_unique() * 2 <= present.len() else present
    digest = hmac.digest
    hashes = pl.Series(
        [digest(key, v, "sha256").hex() for v in distinct.cast(pl.Binary).to_list()],
        dtype=pl.String,
    )
    if distinct is not present:  # repeated values (a roster's members over many periods)
        hashes = series.replace_strict(distinct, hashes, default=None, return_dtype=pl.String)
    elif series.null_count():
        hashes = pl.Series([None] * series.len(), dtype=pl.String).scatter(
            series.is_not_null().arg_true(), hashes
        )
    return hashes.alias(series.name)


def keyed_hash_reference(series: pl.Series, key: bytes) -> pl.Series:
    """:func:`keyed_hash` value by value (the definition; tests compare the two)."""
    return pl.Series(
        series.name,
        [
            None if v is None else hmac.digest(key, v.encode("utf-8"), hashlib.sha256).hex()
            for v in series.to_list()
        ],
        dtype=pl.String,
    )


# --------------------------------------------------------------------------------------------
# Periods and resubmissions (from file and sheet names)
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass
class ColumnMatch:
    """How one source column was read (shown by ``gonghui check-mapping``)."""

    column: str
    header: str
    field: str | None
    unit: str | None = None


@dataclass
class SheetLayout:
    sheet: str | None
    kind: str
    header_row: int
    columns: list[ColumnMatch]
    period: Period | None
    #: required fields without a column (the sheet was not loaded)
    missing_required: list[str] = field(default_factory=list)


@dataclass
class FileResult:
    """Everything ingestion learnt from one landing file."""

    source_file: str
    path: Path
    year: int | None
    street_code: str | None
    sha256: str | None
    file_format: str
    status: str = "loaded"
    reason_code: str | None = None
    reason: str | None = None
    encoding: str | None = None
    kind: str | None = None
    period: Period | None = None
    version: int = 1
    superseded_by: str | None = None
    layouts: list[SheetLayout] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    loaded: dict[str, list[pl.DataFrame]] = field(default_factory=dict)
    #: kind → Parquet files of loaded rows written by the worker (:class:`RawStage`)
    spilled: dict[str, list[str]] = field(default_factory=dict)
    quarantined: list[pl.DataFrame] = field(default_factory=list)
    control_totals: list[dict] = field(default_factory=list)
    rows_data: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_skipped: int = 0

    def reject(self, status: str, code: str, reason: str) -> FileResult:
        self.status, self.reason_code, self.reason = status, code, reason
        self.loaded, self.quarantined, self.control_totals = {}, [], []
        self.spilled = {}
        self.rows_loaded = self.rows_quarantined = self.rows_data = 0
        return self

    @property
    def message(self) -> str:
        return f"{self.source_file}: {self.status} — {self.reason}"


# --------------------------------------------------------------------------------------------
# Header recognition
# --------------------------------------------------------------------------------------------


@dataclass
class _HeaderMatch:
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
) -> _HeaderMatch | None:
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
        rows = [i for i, f in enumerate(filled) if f][:scan]
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
                best = (score, _HeaderMatch(kind, i, found, texts))
    return best[1] if best else None


# --------------------------------------------------------------------------------------------
# Sheet processing
# --------------------------------------------------------------------------------------------


def _marker_expr(first: pl.Expr, markers: Iterable[str]) -> pl.Expr:
    markers = [m for m in markers if normalize_text(m)]
    if not markers:
        return pl.lit(False)
    pattern = "^(" + "|".join(re.escape(normalize_text(m)) for m in markers) + ")"
    return first.str.contains(pattern).fill_null(False)


def _parse(
    spec: FieldSpec, col: pl.Expr, unit: str | None, mapping: Mapping, tpl: Template | None
) -> V.Parsed:
    """Parse a field by its value rules (:meth:`Mapping.field_rules`: the field's own in the
    template, the template's, the defaults'). A null marker (``-``, ``N/A`` …) is an empty
    cell: no value, and ``missing_required`` when the field is required."""
    rules = mapping.field_rules(spec.name, tpl)
    parsed = _parse_value(spec, col, unit, mapping, tpl, rules)
    if not rules.null_markers:
        return parsed
    marked = V.null_marked(col, rules.null_markers)
    return V.Parsed(
        pl.when(marked).then(None).otherwise(parsed.value),
        pl.when(marked)
        .then(pl.lit("missing_required") if spec.required else pl.lit(None, dtype=pl.String))
        .otherwise(parsed.error),
    )


def _parse_value(
    spec: FieldSpec,
    col: pl.Expr,
    unit: str | None,
    mapping: Mapping,
    tpl: Template | None,
    rules: FieldRules,
) -> V.Parsed:
    if spec.type in ("int", "amount"):
        base = mapping.units.get(spec.unit or "", 1.0)
        src = (tpl.units.get(spec.name) if tpl else None) or unit
        factor = mapping.units.get(src, base) / base if src else 1.0
        return V.parse_number(
            col,
            factor,
            whole=spec.type == "int",
            prepared=True,
            decimal_separator=rules.decimal_separator,
            thousands_separator=rules.thousands_separator,
        )
    if spec.type == "date":
        return V.parse_date(
            col, rules.date_formats, excel_serials=rules.excel_date_serials, prepared=True
        )
    if spec.type == "bool":
        return V.parse_bool(col, rules.booleans, prepared=True)
    if spec.type == "category":
        return V.parse_category(
            col, spec.values or (), tpl.values.get(spec.name, {}) if tpl else {}, prepared=True
        )
    if spec.type == "id_number":
        return V.parse_id_number(col, prepared=True)
    if spec.type == "credit_code":
        return V.parse_credit_code(col, prepared=True)
    return V.parse_text(col, prepared=True)


#: words that make any header a personal-data column (紧急联系人身份证, 家属电话, 负责人姓名 …)
_PII_HEADER_WORDS = ("身份证", "证件号", "手机", "电话", "姓名")


def _pii_columns(headers: dict[str, str], mapping: Mapping, tpl: Template | None) -> set[str]:
    """Columns whose header names a personal-data field of any kind: also a second phone column
    or a name column that the sheet's kind does not map, or a header holding one of those
    spellings or :data:`_PII_HEADER_WORDS` (紧急联系人身份证), so quarantine never shows them."""
    pii_fields = {f.name for k in mapping.kinds.values() for f in k.fields.values() if f.pii}
    spellings = {
        cand
        for k in mapping.kinds.values()
        for f in k.fields.values()
        if f.pii
        for s in (f.header, *f.synonyms)
        for cand in split_header(s, {})[0]
    }
    if tpl:
        spellings |= {h for h, fname in tpl.columns.items() if fname in pii_fields}
    words = {normalize_text(w) for w in _PII_HEADER_WORDS} | spellings
    return {
        col
        for col, text in headers.items()
        if spellings.intersection(split_header(text, mapping.units)[0])
        or any(w in normalize_text(text) for w in words)
    }


def _window_error(spec: FieldSpec, value: pl.Expr, year: int) -> pl.Expr | None:
    if spec.window == "in_year":
        return pl.when(value.dt.year() != year).then(pl.lit("date_outside_year"))
    if spec.window == "not_after_year":
        return pl.when(value > pl.date(year, 12, 31)).then(pl.lit("date_after_year"))
    return None


def sheet_layout(
    sheet: Sheet, match: _HeaderMatch, tpl: Template | None, period: Period | None
) -> SheetLayout:
    """How the columns of a sheet were read: header → field and unit, or unmapped."""
    layout = SheetLayout(
        sheet=sheet.name,
        kind=match.kind.name,
        header_row=sheet.row_numbers[match.row_index],
        columns=[],
        period=period,
        missing_required=match.missing_required,
    )
    column_field = {col: f for f, (col, _p, _u, _h) in match.fields.items()}
    for col, header in match.headers.items():
        fname = column_field.get(col)
        unit = match.fields[fname][2] if fname else None
        if fname and tpl and fname in tpl.units:
            unit = tpl.units[fname]
        layout.columns.append(ColumnMatch(col, header, fname, unit))
    return layout


def process_sheet(
    result: FileResult,
    sheet: Sheet,
    match: _HeaderMatch,
    mapping: Mapping,
    tpl: Template | None,
    key: bytes,
    run_id: str,
    ingested_at: dt.datetime,
) -> None:
    """Classify, parse and validate the rows of one recognised sheet into ``result``."""
    kind = match.kind
    year = result.year or 0
    frame = sheet.frame.with_columns(
        pl.Series("_source_row", sheet.row_numbers, dtype=pl.Int32)
    ).slice(match.row_index + 1)
    period = (
        parse_period(sheet.name, year, mapping.resubmission_markers) if sheet.name else None
    ) or result.period
    result.layouts.append(sheet_layout(sheet, match, tpl, period))

    cells = list(sheet.frame.columns)
    mapped_cols = [col for col, *_ in match.fields.values()]
    header_values = {col: match.headers.get(col) for col in mapped_cols}

    def empty(c: str) -> pl.Expr:
        return pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "")

    # One lazy plan per sheet, collected once: row classes, then every mapped field parsed.
    # Row classes: cheap tests on every cell, normalisation only on each row's first cell.
    source = frame
    plan = frame.lazy().with_columns(
        pl.coalesce([pl.when(~empty(c)).then(pl.col(c)) for c in cells]).alias("_first")
    )
    first = V.compact(pl.col("_first")).str.to_lowercase()
    plan = plan.with_columns(
        pl.all_horizontal([empty(c) for c in cells]).alias("_blank"),
        _marker_expr(first, mapping.total_row_markers).alias("_total"),
        _marker_expr(first, ["小计"]).alias("_subtotal"),
        _marker_expr(first, mapping.trailer_row_markers).alias("_trailer"),
        pl.all_horizontal(
            [pl.col(c).eq_missing(pl.lit(h, dtype=pl.String)) for c, h in header_values.items()]
        ).alias("_repeat_header"),
        pl.all_horizontal([empty(c) for c in mapped_cols]).alias("_no_values"),
    )
    plan = plan.with_columns(
        pl.when(pl.col("_blank"))
        .then(pl.lit("blank"))
        .when(pl.col("_total"))
        .then(pl.lit("total"))
        .when(pl.col("_trailer"))
        .then(pl.lit("trailer"))
        .when(pl.col("_repeat_header"))
        .then(pl.lit("header"))
        .when(pl.col("_no_values"))
        .then(pl.lit("blank"))
        .otherwise(pl.lit("data"))
        .alias("_row_class")
    )

    # Parse a mapped field once per distinct spelling where spellings repeat (dates, booleans,
    # codes repeat thousands of times: parse the distinct values, join the parsed value and
    # error back), directly where they are mostly distinct (person keys, names); then the
    # row-level rules. Both give the same value for the same spelling.
    errors, raw_value, finals = [], {}, []
    for spec in kind.fields.values():
        if spec.required and spec.name not in match.fields:  # defensive: caught at file level
            raise FileRejected(f"required column {spec.header} missing", "missing_column")
        if spec.name not in match.fields:
            continue
        col, _prio, unit, header = match.fields[spec.name]
        vname, ename, tname = f"_v_{spec.name}", f"_e_{spec.name}", f"_t_{spec.name}"
        parsed = _parse(spec, pl.col(tname), unit, mapping, tpl)
        scrubbed = spec.type == "text" and spec.stored  # free text: no identity or mobile number
        if source[col].n_unique() * 2 > source.height:  # mostly distinct: no lookup
            plan = (
                plan.with_columns(V.prepare(spec.type, pl.col(col)).alias(tname))
                .with_columns(parsed.value.alias(vname), parsed.error.alias(ename))
                .drop(tname)
            )
            if scrubbed:
                plan = plan.with_columns(
                    pl.col(vname).map_batches(pii.scrub, return_dtype=pl.String)
                )
        else:
            lookup = (
                source.lazy()
                .select(pl.col(col).unique())
                .with_columns(V.prepare(spec.type, pl.col(col)).alias(tname))
                .select(col, parsed.value.alias(vname), parsed.error.alias(ename))
            )
            if scrubbed:
                lookup = lookup.with_columns(
                    pl.col(vname).map_batches(pii.scrub, return_dtype=pl.String)
                )
            plan = plan.join(lookup, on=col, how="left", nulls_equal=True, maintain_order="left")
        err = pl.col(ename)
        window = _window_error(spec, pl.col(vname), year) if spec.type == "date" else None
        if window is not None:
            err = pl.coalesce(err, window)
        if spec.required:
            err = pl.coalesce(err, pl.when(empty(col)).then(pl.lit("missing_required")))
        finals.append(err.alias(ename))
        errors.append((spec, header, err))
        raw_value[spec.name] = col
    # the in-memory engine: "auto" picks the streaming engine, whose start-up per query costs
    # more than the work on the small sheets most files are (3× on a street's monthly files)
    frame = plan.with_columns(finals).collect(engine="in-memory")

    totals = frame.filter(pl.col("_row_class") == "total")
    data = frame.filter(pl.col("_row_class") == "data")
    result.rows_skipped += frame.height - data.height - totals.height
    result.rows_data += data.height

    # Control totals: each 合计 covers the data rows since the header (小计: since the last 小计).
    numeric = [
        s for s in kind.fields.values() if s.type in ("int", "amount") and s.name in match.fields
    ]
    boundary = sheet.row_numbers[match.row_index]
    for total in totals.iter_rows(named=True):
        row = total["_source_row"]
        start = boundary if total["_subtotal"] else sheet.row_numbers[match.row_index]
        covered = data.filter((pl.col("_source_row") > start) & (pl.col("_source_row") < row))
        for spec in numeric:
            stated = total[f"_v_{spec.name}"]
            if stated is None:
                continue
            result.control_totals.append(
                {
                    "year": result.year,
                    "street_code": result.street_code,
                    "report_kind": kind.name,
                    "_source_file": result.source_file,
                    "_source_sheet": sheet.name,
                    "_source_row": row,
                    "label": pii.scrub_text(
                        next((v for v in total.values() if isinstance(v, str)), None)
                    ),
                    "field": spec.name,
                    "stated_value": float(stated),
                    "computed_value": float(covered[f"_v_{spec.name}"].fill_null(0).sum()),
                    "covers_from_row": int(covered["_source_row"].min() or start + 1),
                    "covers_to_row": int(covered["_source_row"].max() or row - 1),
                    "_run_id": run_id,
                }
            )
        if total["_subtotal"]:
            boundary = row

    if data.height == 0:
        return
    reason_text = pl.Series(list(V.REASONS)), pl.Series(list(V.REASONS.values()))
    messages = []
    for spec, header, _err in errors:
        # the value as the user typed it (an Excel date serial with the date it stands for)
        typed = pl.col(raw_value[spec.name])
        if spec.type == "date":
            typed = (
                pl.when(
                    typed.str.contains(r"^\s*\d{5}(\.0+)?\s*$")
                    & pl.col(f"_v_{spec.name}").is_not_null()
                )
                .then(
                    pl.format("{} (={})", typed, pl.col(f"_v_{spec.name}").dt.to_string("%Y-%m-%d"))
                )
                .otherwise(typed)
            )
        shown = pl.lit("***") if spec.pii else typed.fill_null("")
        messages.append(
            pl.when(pl.col(f"_e_{spec.name}").is_not_null()).then(
                pl.format(
                    "{} ({}): {} '{}'",
                    pl.lit(" ".join(header.split())),
                    pl.lit(spec.name),
                    pl.col(f"_e_{spec.name}").replace_strict(
                        reason_text[0], reason_text[1], default=pl.col(f"_e_{spec.name}")
                    ),
                    shown,
                )
            )
        )
    codes = [pl.col(f"_e_{s.name}") for s, _h, _e in errors]
    data = data.with_columns(
        pl.coalesce(codes).alias("_reason_code"),
        pl.concat_str(messages, separator="; ", ignore_nulls=True).alias("_reason"),
    )
    common = {
        "year": pl.lit(result.year, dtype=pl.Int32),
        "street_code": pl.lit(result.street_code, dtype=pl.String),
        "_period_label": pl.lit(period.label if period else str(year), dtype=pl.String),
        "_period_end": pl.lit(
            period.end_date(year) if period else dt.date(year, 12, 31), dtype=pl.Date
        ),
        "_superseded_by": pl.lit(None, dtype=pl.String),
        "_source_file": pl.lit(result.source_file, dtype=pl.String),
        "_source_sheet": pl.lit(sheet.name, dtype=pl.String),
        "_source_row": pl.col("_source_row"),
        "_file_sha256": pl.lit(result.sha256, dtype=pl.String),
        "_run_id": pl.lit(run_id, dtype=pl.String),
        "_ingested_at": pl.lit(ingested_at, dtype=pl.Datetime("us")),
    }

    bad = data.filter(pl.col("_reason_code").is_not_null())
    if bad.height:
        # The record shows the mapped columns (personal-data fields masked) and the unmapped
        # ones the mapping lists as safe; every value and the reason are scrubbed of identity
        # and mobile numbers, so a quarantined row can be shown to the street as it is.
        pii_cols = {col for f, (col, *_r) in match.fields.items() if kind.fields[f].pii}
        pii_cols |= _pii_columns(match.headers, mapping, tpl)
        shown_cols = [
            col
            for col, header in match.headers.items()
            if col in mapped_cols or mapping.keeps_in_quarantine(header, tpl)
        ]
        names: dict[str, str] = {}
        for col in shown_cols:
            label = " ".join(match.headers[col].split())
            names[col] = label if label not in names.values() else f"{label} ({col})"
        values = pii.scrub_frame(
            bad.select(
                [
                    (pl.repeat("***", pl.len()) if col in pii_cols else pl.col(col)).alias(
                        names[col]
                    )
                    for col in shown_cols
                ]
            )
        )
        bad = bad.with_columns(
            pii.scrub(bad["_reason"]),
            values.select(pl.struct(pl.all()).struct.json_encode().alias("_record")).to_series(),
        )
        record = pl.col("_record")
        result.quarantined.append(
            bad.select(
                pl.lit(result.year, dtype=pl.Int32).alias("year"),
                pl.lit(result.street_code, dtype=pl.String).alias("street_code"),
                pl.lit(kind.name).alias("report_kind"),
                common["_source_file"].alias("_source_file"),
                common["_source_sheet"].alias("_source_sheet"),
                pl.col("_source_row"),
                common["_file_sha256"].alias("_file_sha256"),
                common["_run_id"].alias("_run_id"),
                common["_superseded_by"].alias("_superseded_by"),
                pl.col("_reason_code").alias("reason_code"),
                pl.col("_reason").alias("reason"),
                record.alias("record_json"),
            )
        )
        result.rows_quarantined += bad.height

    good = data.filter(pl.col("_reason_code").is_null())
    if good.height:
        selected = [expr.alias(name) for name, expr in common.items()]
        for spec in kind.stored_fields:
            if spec.name in match.fields:
                selected.append(pl.col(f"_v_{spec.name}").alias(spec.name))
        loaded = good.select(selected)
        for spec in kind.stored_fields:
            if spec.pii == "hash" and spec.name in loaded.columns:
                loaded = loaded.with_columns(keyed_hash(loaded[spec.name], key))
        result.loaded.setdefault(kind.name, []).append(loaded)
        result.rows_loaded += good.height


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def locate(path: Path, raw_dir: Path, street_codes: Iterable[str]) -> tuple[int | None, str | None]:
    """Year and street code from ``<raw>/<year>/<street_code>/…``; None when misplaced."""
    parts = path.relative_to(raw_dir).parts
    if len(parts) < 3 or not re.fullmatch(r"(19|20)\d{2}", parts[0]):
        return None, None
    if parts[1] not in set(street_codes):
        return int(parts[0]), None
    return int(parts[0]), parts[1]


def unread_result(path: Path, raw_dir: Path, street_codes: Iterable[str]) -> FileResult:
    """The :class:`FileResult` of a file before anything of it is read (no sha256 yet)."""
    year, street = locate(path, raw_dir, street_codes)
    return FileResult(
        source_file=path.relative_to(raw_dir).as_posix(),
        path=path,
        year=year,
        street_code=street,
        sha256=None,
        file_format=path.suffix.lower().lstrip(".") or "none",
    )


def skip_template_rows(sheet: Sheet, tpl: Template | None) -> Sheet:
    """``sheet`` without the rows its template ignores: the first ``skip_rows_above`` and the
    last ``skip_rows_below`` source rows (row numbers are kept, so provenance is unchanged)."""
    if tpl is None or not (tpl.skip_rows_above or tpl.skip_rows_below) or not sheet.row_numbers:
        return sheet
    last = max(sheet.row_numbers) - tpl.skip_rows_below
    keep = [i for i, n in enumerate(sheet.row_numbers) if tpl.skip_rows_above < n <= last]
    return dataclasses.replace(
        sheet,
        frame=sheet.frame[keep] if keep else sheet.frame.clear(),
        row_numbers=[sheet.row_numbers[i] for i in keep],
    )


def process_file(
    path: Path,
    raw_dir: Path,
    mapping: Mapping,
    *,
    street_codes: Iterable[str],
    key: bytes,
    run_id: str,
    ingested_at: dt.datetime | None = None,
    limits: IngestLimits | None = None,
    spill_dir: Path | None = None,
) -> FileResult:
    """Read, recognise, parse and validate one landing file. Never raises for bad input.

    ``limits`` (default: from the environment) are checked before the file is parsed.
    Ingestion runs this in a worker process (:mod:`orchestration.lib.workers`) with
    ``spill_dir``: the loaded rows are then written there (:func:`spill`), not returned.
    """
    result = _process_file(
        path,
        raw_dir,
        mapping,
        street_codes=street_codes,
        key=key,
        run_id=run_id,
        ingested_at=ingested_at,
        limits=limits,
    )
    return spill(result, spill_dir) if spill_dir is not None else result


def _process_file(
    path: Path,
    raw_dir: Path,
    mapping: Mapping,
    *,
    street_codes: Iterable[str],
    key: bytes,
    run_id: str,
    ingested_at: dt.datetime | None,
    limits: IngestLimits | None,
) -> FileResult:
    ingested_at = ingested_at or dt.datetime.now()
    result = unread_result(path, raw_dir, street_codes)
    try:
        result.sha256 = sha256_of(path)
    except OSError as exc:
        return result.reject("rejected", "unreadable", os_error_text(exc))
    year, street = result.year, result.street_code
    if year is None:
        return result.reject(
            "rejected",
            "misplaced",
            "not under <year>/<street_code>/ of the landing root",
        )
    if street is None:
        folder = path.relative_to(raw_dir).parts[1]
        return result.reject(
            "rejected",
            "unknown_street",
            f"'{folder}' is not a street code of the streets list {streets_file()}",
        )
    result.period = parse_period(path.name, year, mapping.resubmission_markers)
    result.version = resubmission_version(path.name, mapping)
    tpl = mapping.template_for(street, path.name)
    try:
        sheets = read_sheets(path, mapping.csv_encodings, limits)
    except FileRejected as exc:
        return result.reject("rejected", exc.code, exc.reason)
    except Exception as exc:  # a reader bug must not stop the other files
        return result.reject("rejected", "unreadable", f"cannot be read: {exc}")
    result.encoding = sheets[0].encoding if sheets else None
    incomplete: list[str] = []
    kinds: list[str] = []
    for sheet in sheets:
        if tpl and not tpl.reads_sheet(sheet.name):
            result.notes.append(f"sheet '{sheet.name}' skipped (template reads '{tpl.sheet}')")
            continue
        sheet = skip_template_rows(sheet, tpl)
        if sheet.name and mapping.is_non_data_sheet(sheet.name):
            result.notes.append(f"sheet '{sheet.name}' skipped: instructions, no data")
            continue
        if sheet.frame.height == 0:
            result.notes.append(f"sheet '{sheet.name}' is empty")
            continue
        match = find_header(sheet, mapping, tpl, path.name)
        if match is None:
            result.notes.append(f"sheet '{sheet.name}' skipped: no header row of any report kind")
            continue
        if match.missing_required:
            result.layouts.append(sheet_layout(sheet, match, tpl, result.period))
            missing = ", ".join(
                f"{match.kind.fields[f].header} ({f})" for f in match.missing_required
            )
            where = f"sheet '{sheet.name}' " if sheet.name else ""
            incomplete.append(
                f"{where}looks like {match.kind.name} ({match.kind.title}) but required "
                f"column(s) missing: {missing}"
            )
            continue
        try:
            process_sheet(result, sheet, match, mapping, tpl, key, run_id, ingested_at)
        except Exception as exc:
            log.exception("failed to process %s", result.source_file)
            return result.reject("rejected", "unreadable", f"sheet '{sheet.name}': {exc}")
        kinds.append(match.kind.name)
    if incomplete:
        return result.reject("rejected", "missing_column", "; ".join(incomplete))
    if not kinds:
        hint = [k.name for k in mapping.kinds.values() if k.hinted_by(path.name)]
        if all(sheet.frame.height == 0 for sheet in sheets):
            # A well-formed file with no records (e.g. a JSON export of an empty month).
            if len(hint) == 1 or (tpl and tpl.kind):
                result.kind = tpl.kind if tpl and tpl.kind else hint[0]
                result.notes.append(f"no records; kind {result.kind} taken from the file name")
                return result
            return result.reject("rejected", "empty", "the file holds no records")
        extra = f" (the file name suggests {hint[0]})" if hint else ""
        return result.reject(
            "unrecognised",
            "unknown_kind",
            f"no sheet has a header row of any report kind in its first "
            f"{mapping.header_scan_rows} rows{extra}",
        )
    distinct = list(dict.fromkeys(kinds))
    if len(distinct) > 1:
        # One file is one (street, kind, period) submission: resubmissions, periods and the
        # audit trail are per file, so a workbook mixing kinds cannot be placed.
        sheets = ", ".join(f"'{lay.sheet}' → {lay.kind}" for lay in result.layouts)
        result.kind = None
        return result.reject(
            "rejected",
            "several_kinds",
            f"the file mixes report kinds ({sheets}): send one file per kind, or restrict "
            "the template with 'kind:'/'sheet:'",
        )
    result.kind = distinct[0]
    return result


@dataclass
class LandingProblem:
    """A landing entry that is not read: a symlink, an unreadable folder or file, something
    that is not a regular file. ``path`` is the entry itself (never resolved)."""

    path: Path
    code: str
    reason: str
    #: the street cannot be replaced from what was seen (its landing state is incomplete)
    incomplete: bool = False


@dataclass
class LandingScan:
    files: list[Path]
    problems: list[LandingProblem]


def os_error_text(exc: OSError) -> str:
    """``unreadable: [Errno 13] Permission denied`` (no path: the caller names it)."""
    if exc.errno is not None and exc.strerror:
        return f"unreadable: [Errno {exc.errno}] {exc.strerror}"
    return f"unreadable: {exc}"


def scan_landing_root(raw_dir: Path, years: Iterable[int] | None = None) -> LandingScan:
    """Every regular file under the landing root, and every entry that is not one.

    Symlinks (to files or folders) are never followed: a link would count another street's
    file twice or read files outside the landing root; each one is a problem naming its
    target. A folder that cannot be listed is a problem that makes its street *incomplete*
    (see :func:`ingest`), and so is an entry whose type cannot be read. Sorted; hidden folders
    included; ``years`` limits the walk to those ``<year>/`` folders.
    """
    raw_dir = Path(raw_dir)
    wanted = {str(y) for y in years} if years else None
    files: list[Path] = []
    problems: list[LandingProblem] = []
    stack = [raw_dir]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as exc:
            problems.append(
                LandingProblem(folder, "unreadable", f"folder {os_error_text(exc)}", True)
            )
            continue
        for entry in entries:
            path = Path(entry.path)
            if wanted and path.relative_to(raw_dir).parts[0] not in wanted:
                continue
            try:
                if entry.is_symlink():
                    try:
                        target = os.readlink(path)
                    except OSError as exc:
                        target = f"? ({exc.strerror})"
                    problems.append(
                        LandingProblem(
                            path,
                            "symlink",
                            f"a symbolic link (to {target}): links are not followed — put the "
                            "file itself in the street's folder",
                        )
                    )
                elif entry.is_dir(follow_symlinks=False):
                    stack.append(path)
                elif entry.is_file(follow_symlinks=False):
                    files.append(path)
                else:
                    problems.append(
                        LandingProblem(
                            path,
                            "not_a_file",
                            "not a regular file (a pipe, socket or device): not read",
                        )
                    )
            except OSError as exc:
                problems.append(LandingProblem(path, "unreadable", os_error_text(exc), True))
    files.sort()
    problems.sort(key=lambda p: p.path)
    return LandingScan(files, problems)


def discover(raw_dir: Path, years: Iterable[int] | None = None) -> list[Path]:
    """Every regular file under the landing root (sorted; hidden folders included; symlinks
    not followed — :func:`scan_landing_root` also lists what is not read)."""
    return scan_landing_root(raw_dir, years).files


def resolve_resubmissions(results: list[FileResult]) -> None:
    """Mark files superseded by a later version of the same street, kind and period."""
    groups: dict[tuple, list[FileResult]] = {}
    for r in results:
        if r.status == "loaded":
            label = r.period.label if r.period else str(r.year)
            groups.setdefault((r.year, r.street_code, r.kind, label), []).append(r)
    for members in groups.values():
        top = max(m.version for m in members)
        winners = [m for m in members if m.version == top]
        if top == 1:
            continue
        winner = sorted(winners, key=lambda m: m.source_file)[-1]
        for m in members:
            if m.version < top:
                m.status = "superseded"
                m.superseded_by = winner.source_file
                m.reason = f"superseded by resubmission {winner.source_file}"
                m.reason_code = "superseded"
                m.loaded = {
                    k: [
                        f.with_columns(pl.lit(winner.source_file).alias("_superseded_by"))
                        for f in v
                    ]
                    for k, v in m.loaded.items()
                }
                m.quarantined = [
                    q.with_columns(pl.lit(winner.source_file).alias("_superseded_by"))
                    for q in m.quarantined
                ]


# --------------------------------------------------------------------------------------------
# Warehouse
# --------------------------------------------------------------------------------------------


def kind_columns(kind: KindSpec) -> dict[str, str]:
    cols = dict(COMMON_COLUMNS)
    for spec in kind.stored_fields:
        cols[spec.name] = DUCKDB_TYPES[spec.type]
    return cols


def ensure_raw_schema(con, mapping: Mapping) -> None:
    """Create the ``raw`` tables (idempotent); columns come from the mapping. ``raw.streets``
    is replaced by the configured streets list (``GONGHUI_STREETS``)."""
    con.execute("create schema if not exists raw")
    write_streets_table(con)
    tables = {k.name: kind_columns(k) for k in mapping.kinds.values()} | AUDIT_TABLES
    for table, cols in tables.items():
        ddl = ", ".join(f'"{c}" {t}' for c, t in cols.items())
        con.execute(f"create table if not exists raw.{table} ({ddl})")
        existing = {r[0] for r in con.execute(f"describe raw.{table}").fetchall()}
        for c, t in cols.items():  # a field added to the mapping becomes a new column
            if c not in existing:
                con.execute(f'alter table raw.{table} add column "{c}" {t}')


def _insert(con, table: str, frame: pl.DataFrame, columns: dict[str, str]) -> None:
    if frame.height == 0:
        return
    arrow = frame.to_arrow()  # noqa: F841 - referenced by name in SQL
    select = ", ".join(
        f'cast("{c}" as {t}) as "{c}"' if c in frame.columns else f'null::{t} as "{c}"'
        for c, t in columns.items()
    )
    con.execute(f"insert into raw.{table} by name select {select} from arrow")


class RawStage:
    """Where each file's loaded rows wait, on disk, until :func:`write_raw` moves them to ``raw``.

    Ingestion used to hold every frame of the run in the main process (pickled back from the
    workers) and concatenate them in :func:`write_raw` (the whole run in memory, twice). Now
    the worker that read a file writes its loaded frames as Parquet files into :attr:`dir`
    (a private temporary folder of the run; :func:`spill`) and returns only their paths.
    :func:`write_raw` inserts the files that are finally loaded or superseded (resubmissions,
    duplicates and held streets are decided after every file is read) into ``raw`` in its one
    transaction, file by file in path order (the order of the in-memory path), DuckDB
    streaming each Parquet file; then the folder is removed. Nothing in ``raw`` changes
    before that transaction: a failed run leaves ``raw`` as it was. The rows on disk are the
    rows ``raw`` gets: identity numbers already hashed, names and phones already dropped."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="gonghui-ingest-"))  # mode 0700

    def move(self, con, kind: KindSpec, results: list[FileResult]) -> None:
        """Insert the staged rows of ``kind`` of every loaded or superseded result, each with
        its file's ``_superseded_by``."""
        columns = kind_columns(kind)
        for r in results:
            paths = r.spilled.get(kind.name, [])
            if r.status not in ("loaded", "superseded") or not paths:
                continue
            for path in paths:
                present = set(pl.read_parquet_schema(path))
                select = ", ".join(
                    "?::VARCHAR as _superseded_by"
                    if c == "_superseded_by"
                    else f'cast("{c}" as {t}) as "{c}"'
                    if c in present
                    else f'null::{t} as "{c}"'
                    for c, t in columns.items()
                )
                con.execute(
                    f"insert into raw.{kind.name} by name select {select} from read_parquet(?)",
                    [r.superseded_by if r.status == "superseded" else None, path],
                )

    def close(self) -> None:
        """Remove the folder and its Parquet files (flat: nothing else is ever in it)."""
        with contextlib.suppress(OSError):
            for name in os.listdir(self.dir):
                with contextlib.suppress(OSError):
                    os.unlink(self.dir / name)
            os.rmdir(self.dir)


def spill(result: FileResult, folder: Path) -> FileResult:
    """Write ``result``'s loaded frames as Parquet files into ``folder`` (see
    :class:`RawStage`) and keep only their paths (``result.spilled``)."""
    for kind, frames in result.loaded.items():
        for frame in frames:
            path = Path(folder) / f"{uuid.uuid4().hex}.parquet"
            frame.write_parquet(path, compression="lz4", statistics=False)
            result.spilled.setdefault(kind, []).append(str(path))
    result.loaded = {}
    return result


def source_file_rows(
    results: list[FileResult],
    run_id: str,
    mapping_sha256: str | None = None,
    pii_key_id: str | None = None,
) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "_source_file": r.source_file,
                "year": r.year,
                "street_code": r.street_code,
                "report_kind": r.kind,
                "_file_sha256": r.sha256,
                "file_format": r.file_format,
                "encoding": r.encoding,
                "status": r.status,
                "reason_code": r.reason_code,
                "reason": r.reason,
                "_period_label": (r.period.label if r.period else str(r.year)) if r.year else None,
                "_period_end": (r.period.end_date(r.year) if r.period else dt.date(r.year, 12, 31))
                if r.year
                else None,
                "version": r.version,
                "superseded_by": r.superseded_by,
                "sheets_read": ", ".join(str(s.sheet) for s in r.layouts if s.sheet) or None,
                "rows_data": r.rows_data,
                "rows_loaded": r.rows_loaded,
                "rows_quarantined": r.rows_quarantined,
                "rows_skipped": r.rows_skipped,
                "notes": "; ".join(r.notes) or None,
                "_run_id": run_id,
                "_mapping_sha256": mapping_sha256,
                "_pii_key_id": pii_key_id,
            }
            for r in results
        ],
        schema_overrides={
            "_period_end": pl.Date,
            "year": pl.Int32,
            "_mapping_sha256": pl.String,
            "_pii_key_id": pl.String,
        },
        infer_schema_length=None,
    )


def write_raw(
    con,
    results: list[FileResult],
    mapping: Mapping,
    run_id: str,
    scope: tuple[Iterable[int] | None, Iterable[str] | None] = (None, None),
    *,
    unplaced: bool = False,
    key_id: str | None = None,
    held: tuple[list[str], list[FileResult]] = ([], []),
    stage: RawStage | None = None,
) -> None:
    """Replace the ``raw`` rows of the years/streets in ``scope`` with ``results``, atomically.

    The loaded rows are the frames of each result, and the files ``stage`` holds for results
    that are loaded or superseded (:class:`RawStage`).

    ``scope=(None, None)`` replaces everything; ``(None, ["buji"])`` only Buji's rows.
    ``unplaced`` also replaces the ``source_files`` rows of files outside any street folder
    (always part of a full refresh). ``key_id``: :func:`pii_key_id` of the key the rows were
    pseudonymised with.

    ``held`` = (streets, problem files): streets that are not replaced (their landing state
    could not be read completely, or a file is still arriving) keep every row; only their
    problem records (``deferred``, unreadable) are refreshed, and a file that already has a
    record keeps it (its rows are still the ones loaded).
    """
    years, streets = scope
    conds = []
    if years is not None:
        conds.append(f"year in ({', '.join(str(int(y)) for y in years) or 'null'})")
    if streets is not None:
        quoted = ", ".join("'" + s.replace("'", "''") + "'" for s in streets)
        conds.append(f"street_code in ({quoted or 'null'})")
    where = " and ".join(conds) or "true"
    ensure_raw_schema(con, mapping)
    con.execute("begin transaction")
    try:
        for kind in mapping.kinds.values():
            con.execute(f"delete from raw.{kind.name} where {where}")
            frames = [f for r in results for f in r.loaded.get(kind.name, [])]
            if frames:
                _insert(
                    con, kind.name, pl.concat(frames, how="diagonal_relaxed"), kind_columns(kind)
                )
            if stage is not None:
                stage.move(con, kind, results)
        # misplaced files have no year/street: they always belong to a full refresh
        misplaced = (
            " or (year is null or street_code is null)" if where == "true" or unplaced else ""
        )
        con.execute(f"delete from raw.source_files where ({where}){misplaced}")
        con.execute(f"delete from raw.quarantine where {where}")
        con.execute(f"delete from raw.control_totals where {where}")
        _insert(
            con,
            "source_files",
            source_file_rows(results, run_id, mapping.sha256 or None, key_id),
            SOURCE_FILE_COLUMNS,
        )
        _write_held(con, held, years, run_id, mapping.sha256 or None, key_id)
        quarantine = [q for r in results for q in r.quarantined]
        if quarantine:
            _insert(
                con, "quarantine", pl.concat(quarantine, how="diagonal_relaxed"), QUARANTINE_COLUMNS
            )
        totals = [t for r in results for t in r.control_totals]
        if totals:
            _insert(
                con,
                "control_totals",
                pl.DataFrame(totals, infer_schema_length=None),
                CONTROL_TOTAL_COLUMNS,
            )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def _write_held(con, held, years, run_id, mapping_sha256, key_id) -> None:
    streets, rows = held
    if not streets:
        return
    quoted = ", ".join("'" + s.replace("'", "''") + "'" for s in streets)
    year_cond = f" and year in ({', '.join(str(int(y)) for y in years) or 'null'})" if years else ""
    keep = {r.source_file for r in rows}
    stale = [
        rel
        for (rel,) in con.execute(
            f"select _source_file from raw.source_files where street_code in ({quoted}){year_cond} "
            "and _file_sha256 is null and (status = 'deferred' or reason_code = 'unreadable')"
        ).fetchall()
        if rel not in keep
    ]
    if stale:
        con.execute("delete from raw.source_files where _source_file in ?", [stale])
    existing = {r[0] for r in con.execute("select _source_file from raw.source_files").fetchall()}
    new = [r for r in rows if r.source_file not in existing]
    if new:
        _insert(
            con,
            "source_files",
            source_file_rows(new, run_id, mapping_sha256, key_id),
            SOURCE_FILE_COLUMNS,
        )


# --------------------------------------------------------------------------------------------
# Incremental runs: which streets changed since the last ingestion (by content hash)
# --------------------------------------------------------------------------------------------

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


@dataclass
class IngestReport:
    """What one ingestion pass did, for logs, Dagster metadata and the run summary."""

    run_id: str
    files: list[FileResult]
    #: streets whose rows were replaced (``None`` = every street, a full refresh)
    streets_ingested: list[str] | None = None
    #: streets in scope skipped because their files are unchanged since the last ingestion
    streets_unchanged: list[str] = field(default_factory=list)
    #: streets in scope NOT replaced (rows kept as last ingested) → why: an unreadable folder
    #: or file, or a file still arriving (``deferred``); they are read again by a later run
    streets_held: dict[str, list[str]] = field(default_factory=dict)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files if f.status == "loaded")

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files if f.status == "loaded")

    def count_by_status(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.files:
            out[f.status] = out.get(f.status, 0) + 1
        return out

    def quarantine_by_reason(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for f in self.files:
            if f.status != "loaded":
                continue
            for q in f.quarantined:
                for code, n in q.group_by("reason_code").len().iter_rows():
                    counts[code] = counts.get(code, 0) + n
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))

    def problems(self) -> list[str]:
        return [
            f.message for f in self.files if f.status in ("rejected", "unrecognised", "deferred")
        ]


def ingest(
    raw_dir: Path,
    con,
    mapping: Mapping,
    run_id: str,
    *,
    years: Iterable[int] | None = None,
    streets: Iterable[str] | None = None,
    key: bytes | None = None,
    skip_unchanged: bool = False,
    unplaced: bool = False,
    pool: FilePool | None = None,
    limits: IngestLimits | None = None,
) -> IngestReport:
    """Ingest the files of ``years``/``streets`` (default: all) into ``con``'s raw schema.

    ``skip_unchanged`` re-reads only the streets in scope that changed since the previous
    ingestion (:func:`orchestration.lib.changes.detect_changes`: a file added, changed or
    removed, or read with another mapping or key); the others keep their rows.
    ``unplaced`` also (re)reports files outside any street folder when ``streets`` is given.

    Every file is read in a worker process of ``pool`` (default: a pool of
    ``limits.workers`` started for this call; :mod:`orchestration.lib.workers`), so a file that
    crashes the reader, times out or takes too much memory is rejected and the others load.
    Symlinks are rejected, never followed; a file with the same content as another one is
    ``duplicate_content`` (the first by path counts). A street whose landing state cannot be
    read completely (an unreadable folder or file) or that has a file still arriving
    (modified less than ``limits.settle_seconds`` ago, or changed while it was read:
    ``deferred``) is *held*: its rows stay as last ingested, the problem is recorded, and it
    stays "changed" so a later run picks it up.
    """
    raw_dir = Path(raw_dir)
    key = key or pii_key()
    limits = limits or IngestLimits.from_env()
    street_codes = load_street_codes()
    scope_streets: list[str] | None = list(streets) if streets is not None else None
    include_unplaced = unplaced or scope_streets is None
    unchanged: list[str] = []
    if skip_unchanged:
        from orchestration.lib.changes import detect_changes

        changes = detect_changes(
            raw_dir,
            con,
            mapping,
            streets=scope_streets if scope_streets is not None else street_codes,
            unplaced=include_unplaced,
            years=years,
            key=key,
            street_codes=street_codes,
        )
        for line in changes.describe():
            log.info("re-read %s", line)
        unchanged = changes.unchanged
        include_unplaced = changes.unplaced
        scope_streets = changes.streets
    wanted_streets = set(scope_streets) if scope_streets is not None else set(street_codes)

    def in_scope(street: str | None) -> bool:
        return street in wanted_streets if street is not None else include_unplaced

    ingested_at = dt.datetime.now()
    scan = scan_landing_root(raw_dir, years)
    results: list[FileResult] = []
    #: street → why it cannot be replaced in this run; held_rows: what is recorded for it
    held: dict[str, list[str]] = {}
    held_rows: list[FileResult] = []

    def hold(result: FileResult, whole_scope: bool = False) -> None:
        affected = sorted(wanted_streets) if whole_scope else [result.street_code]
        for street in affected:
            if street is not None and street in wanted_streets:
                held.setdefault(street, []).append(result.message)
        if result.street_code is not None:
            held_rows.append(result)
        elif in_scope(None):
            results.append(result)

    for problem in scan.problems:
        year, street = problem_place(problem.path, raw_dir, street_codes)
        result = FileResult(
            source_file=problem.path.relative_to(raw_dir).as_posix(),
            path=problem.path,
            year=year,
            street_code=street,
            sha256=None,
            file_format=problem.path.suffix.lower().lstrip(".") or "none",
        ).reject("rejected", problem.code, problem.reason)
        log.warning("%s", result.message)
        if problem.incomplete:
            # a folder above the street folders: no street of the scope is known completely
            hold(result, whole_scope=len(problem.path.relative_to(raw_dir).parts) < 2)
        elif in_scope(street):
            results.append(result)

    jobs: list[Job] = []
    stats: dict[Path, tuple[int, int]] = {}
    now = time.time()
    for path in scan.files:
        _year, street = locate(path, raw_dir, street_codes)
        if not in_scope(street):
            continue
        try:
            st = path.stat()
        except OSError as exc:
            hold(
                unread_result(path, raw_dir, street_codes).reject(
                    "rejected", "unreadable", os_error_text(exc)
                )
            )
            continue
        age = now - st.st_mtime
        # (a future mtime beyond the window is a wrong clock, not a file arriving)
        if -limits.settle_seconds < age < limits.settle_seconds:
            hold(
                unread_result(path, raw_dir, street_codes).reject(
                    "deferred",
                    "in_flux",
                    f"modified {max(age, 0):.0f} s ago, less than {limits.settle_seconds:g} s "
                    "(GONGHUI_SETTLE_SECONDS): it may still be arriving; read in a later run",
                )
            )
            continue
        stats[path] = (st.st_size, st.st_mtime_ns)
        jobs.append(
            Job(
                path,
                (path, raw_dir, mapping),
                {
                    "street_codes": street_codes,
                    "key": key,
                    "run_id": run_id,
                    "ingested_at": ingested_at,
                    "limits": limits,
                },
            )
        )

    own_pool = pool is None
    pool = pool or FilePool(
        limits.workers, timeout_s=limits.file_timeout_s, memory_bytes=limits.worker_memory_bytes
    )
    stage = RawStage()
    for job in jobs:
        job.kwargs["spill_dir"] = stage.dir
    # largest first, so that the last file to finish is a small one and no core idles at the end
    jobs.sort(key=lambda job: -stats[job.key][0])
    try:
        try:
            for done, (job, outcome) in enumerate(pool.run(jobs, pool.target or process_file), 1):
                report_progress("files", done, len(jobs))
                path = job.key
                result = _pool_result(path, raw_dir, street_codes, outcome)
                try:
                    st = path.stat()
                    moved = (st.st_size, st.st_mtime_ns) != stats[path]
                except OSError:
                    moved = True
                if moved:
                    hold(
                        result.reject(
                            "deferred",
                            "in_flux",
                            "the file changed while it was read: it may still be arriving; "
                            "read in a later run",
                        )
                    )
                elif result.reason_code == "unreadable" and result.sha256 is None:
                    hold(result)  # the OS refused to read it: the street's state is unknown
                else:
                    if result.status not in ("loaded",):
                        log.warning("%s", result.message)
                    results.append(result)
        finally:
            if own_pool:
                pool.close()

        results = [r for r in results if r.street_code not in held]
        results.sort(key=lambda r: r.source_file)
        resolve_resubmissions(results)  # a resubmission identical to its original supersedes it
        _reject_duplicates(con, results, None if scope_streets is None else wanted_streets)
        if held:
            for street, why in held.items():
                log.warning("street %s kept as last ingested: %s", street, "; ".join(why))
            scope_streets = [s for s in (scope_streets or street_codes) if s not in held]
        report_files = sorted(results + held_rows, key=lambda r: r.source_file)
        if scope_streets == [] and not include_unplaced and not held_rows:
            ensure_raw_schema(con, mapping)  # nothing changed: no row is rewritten
            return IngestReport(run_id, report_files, [], unchanged, held)
        write_raw(
            con,
            results,
            mapping,
            run_id,
            scope=(
                list(years) if years is not None else None,
                scope_streets,  # [] = nothing, not everything
            ),
            unplaced=include_unplaced and scope_streets is not None,
            key_id=pii_key_id(key),
            held=(sorted(held), held_rows),
            stage=stage,
        )
        return IngestReport(run_id, report_files, scope_streets, unchanged, held)
    finally:
        stage.close()


def _pool_result(
    path: Path, raw_dir: Path, street_codes: list[str], outcome: FileResult | Failure
) -> FileResult:
    """The worker's result, or a rejection naming why the worker gave none."""
    if isinstance(outcome, FileResult):
        outcome.path = path
        return outcome
    result = unread_result(path, raw_dir, street_codes)
    with contextlib.suppress(OSError):
        result.sha256 = sha256_of(path)
    return result.reject("rejected", outcome.code, outcome.reason)


def _reject_duplicates(con, results: list[FileResult], scope: set[str] | None) -> None:
    """Reject loaded files whose content (sha256) equals an earlier file's of the same year.

    Within a year a copy would count its rows twice (a buji file copied into longgang's
    folder); across years it is a submission of its own (a register resent unchanged for the
    next year holds that year's rows). The first by path counts; files of streets outside
    ``scope`` (kept from an earlier ingestion) count before every file read now."""
    first: dict[tuple[str, str], str] = {}
    if scope is not None:
        exists = con.execute(
            "select count(*) from duckdb_tables() where schema_name = 'raw' "
            "and table_name = 'source_files'"
        ).fetchone()[0]
        if exists:
            rows = con.execute(
                "select _file_sha256, _source_file from raw.source_files "
                "where status = 'loaded' and _file_sha256 is not null "
                "order by _source_file"
            ).fetchall()
            for sha, rel in rows:
                street = _street_of(rel)
                if street is not None and street not in scope:
                    first.setdefault((rel.split("/")[0], sha), rel)
    for r in results:
        if r.status != "loaded" or not r.sha256:
            continue
        other = first.setdefault((r.source_file.split("/")[0], r.sha256), r.source_file)
        if other != r.source_file:
            log.warning("%s: same content as %s, not loaded", r.source_file, other)
            r.reject(
                "rejected",
                "duplicate_content",
                f"same content (sha256) as {other}, which is counted: this copy is not loaded",
            )


def _street_of(rel: str) -> str | None:
    parts = rel.split("/")
    return parts[1] if len(parts) >= 3 else None
