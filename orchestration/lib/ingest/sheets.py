"""Sheet processing: one recognised sheet into typed rows, quarantined rows and control
totals (row classification, value parsing, unit scaling, identifier and date checks, PII
hashing and masking).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

import polars as pl

from orchestration.lib import pii
from orchestration.lib import values as V
from orchestration.lib.ingest.headers import HeaderMatch
from orchestration.lib.ingest.keys import keyed_hash
from orchestration.lib.ingest.periods import Period, parse_period
from orchestration.lib.ingest.results import ColumnMatch, FileResult, SheetLayout
from orchestration.lib.mapping import (
    FieldRules,
    FieldSpec,
    Mapping,
    Template,
    normalize_text,
    split_header,
)
from orchestration.lib.readers import FileRejected, Sheet


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
    sheet: Sheet, match: HeaderMatch, tpl: Template | None, period: Period | None
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
    match: HeaderMatch,
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

    # each cell's emptiness, the row's first filled cell and its normalised text are columns
    # of their own (made once, read by several tests below; dropped before the collect)
    flags = {c: f"_empty_{i}" for i, c in enumerate(cells)}
    helpers = [*flags.values(), "_first_text"]

    def empty(c: str) -> pl.Expr:
        return pl.col(flags[c])

    # One lazy plan per sheet, collected once: row classes, then every mapped field parsed.
    # Row classes: cheap tests on every cell, normalisation only on each row's first cell.
    source = frame
    plan = (
        frame.lazy()
        .with_columns(
            (pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "")).alias(flags[c])
            for c in cells
        )
        .with_columns(
            pl.coalesce([pl.when(~empty(c)).then(pl.col(c)) for c in cells]).alias("_first")
        )
        .with_columns(V.compact(pl.col("_first")).str.to_lowercase().alias("_first_text"))
    )
    first = pl.col("_first_text")
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
        if spec.type == "text" and not spec.stored:
            # dropped free text (a name, a phone number): no value is kept and text has no
            # parse error, so only the error is planned (a null marker in a required field)
            dropped = _parse(spec, V.prepare(spec.type, pl.col(col)), unit, mapping, tpl)
            plan = plan.with_columns(dropped.error.alias(ename))
        elif source[col].n_unique() * 2 > source.height:  # mostly distinct: no lookup
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
    frame = plan.with_columns(finals).drop(helpers).collect(engine="in-memory")

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
