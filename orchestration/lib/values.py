"""Vectorised parsing of every value spelling of the landing contract (section 3).

Each parser takes a text column (``pl.Expr``) and returns a :class:`Parsed`: the typed value
and an error expression that is null when the cell is acceptable and otherwise a reason code.
Parsing never raises: a bad cell becomes a quarantine reason for its row, named by the engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from orchestration.lib.identifiers import credit_code_is_valid_expr, id_number_is_valid_expr

EXCEL_EPOCH = pl.date(1899, 12, 30)

#: reason code → sentence used in quarantine messages (``{field}``/``{value}`` filled in).
REASONS = {
    "missing_required": "required value missing",
    "bad_date": "not a recognisable date",
    "date_outside_year": "date outside the reporting year",
    "date_after_year": "date after the end of the reporting year",
    "bad_number": "not a number",
    "not_whole_number": "not a whole number",
    "negative_number": "negative number",
    "bad_bool": "not a recognisable yes/no value",
    "unknown_category": "value not in the code list",
    "id_scientific_notation": "identity number mangled by Excel into scientific notation",
    "bad_id_number": "invalid identity number (length or GB 11643 check digit)",
    "bad_credit_code": "invalid unified social credit code (GB 32100 check digit)",
}


@dataclass
class Parsed:
    value: pl.Expr
    error: pl.Expr  # null = fine, else a key of REASONS


def _ok() -> pl.Expr:
    return pl.lit(None, dtype=pl.String)


def nfkc(col: pl.Expr) -> pl.Expr:
    """Full-width → half-width, trimmed, empty → null."""
    text = col.str.normalize("NFKC").str.strip_chars()
    return pl.when(text == "").then(None).otherwise(text)


def compact(col: pl.Expr) -> pl.Expr:
    """:func:`nfkc` with every inner whitespace removed (codes, numbers, categories)."""
    text = col.str.normalize("NFKC").str.replace_all(r"\s+", "")
    return pl.when(text == "").then(None).otherwise(text)


#: the normalisation each parser applies to a raw cell before reading it
PREPARE = {
    "text": lambda col: nfkc(col),
    "date": lambda col: nfkc(col),
    "int": lambda col: compact(col),
    "amount": lambda col: compact(col),
    "bool": lambda col: compact(col).str.to_lowercase(),
    "category": lambda col: compact(col),
    "id_number": lambda col: compact(col).str.to_uppercase(),
    "credit_code": lambda col: compact(col).str.to_uppercase(),
}


def prepare(field_type: str, col: pl.Expr) -> pl.Expr:
    """The normalised text a parser of ``field_type`` reads. Materialise it once as a column
    and pass ``prepared=True`` to the parser: the parsers refer to their input many times,
    and a materialised column is not recomputed for each reference."""
    return PREPARE[field_type](col)


def parse_text(col: pl.Expr, *, prepared: bool = False) -> Parsed:
    return Parsed(col if prepared else prepare("text", col), _ok())


#: the spellings of the landing contract (``defaults:`` of mapping/sources.yml restates them)
CONTRACT_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y年%m月%d", "%Y%m%d")
#: strftime directives a ``date_formats`` pattern may use (locale-independent in polars/chrono:
#: ``%b``/``%B`` are the English month names, any case, abbreviated or full)
DATE_DIRECTIVES = {"%Y", "%y", "%m", "%b", "%B", "%h", "%d", "%e", "%j", "%%"}


def date_format_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be a ``date_formats`` entry (``None``: it can)."""
    directives = re.findall(r"%.", pattern)
    unknown = sorted({d for d in directives if d not in DATE_DIRECTIVES})
    if unknown:
        return f"unknown directive(s) {unknown} (use {', '.join(sorted(DATE_DIRECTIVES))})"
    found = set(directives)
    if not found & {"%Y", "%y"}:
        return "no year (%Y or %y)"
    if "%j" not in found and not (found & {"%m", "%b", "%B", "%h"} and found & {"%d", "%e"}):
        return "needs a month (%m, %b, %B) and a day (%d) — or a day of the year (%j)"
    return None


def null_marked(col: pl.Expr, markers: tuple[str, ...]) -> pl.Expr:
    """Whether a cell is one of the ``null_markers`` (compared after NFKC, whitespace removed,
    lower-cased; ``markers`` already normalised that way)."""
    if not markers:
        return pl.lit(False)
    return compact(col).str.to_lowercase().is_in(list(markers)).fill_null(False)


def parse_date(
    col: pl.Expr,
    formats: tuple[str, ...] = CONTRACT_DATE_FORMATS,
    *,
    excel_serials: bool = True,
    prepared: bool = False,
) -> Parsed:
    """A date by the first of ``formats`` (strftime patterns) that reads the cell, after a
    trailing time of day is cut (``2021-03-05 00:00:00``, ``2021-03-05T08:00``); Excel serials
    (``44260``) when ``excel_serials``. Vectorised: one ``str.to_date`` per pattern."""
    text = (col if prepared else prepare("date", col)).str.replace(
        r"[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$", ""
    )
    candidates = [text.str.to_date(fmt, strict=False) for fmt in formats]
    if excel_serials:
        serial = text.str.extract(r"^(\d{5})(?:\.0+)?$").cast(pl.Int64, strict=False)
        from_serial = pl.when(serial.is_between(10000, 80000)).then(
            EXCEL_EPOCH + pl.duration(days=serial)
        )
        candidates.append(from_serial.cast(pl.Date))
    value = pl.coalesce(candidates) if candidates else pl.lit(None, dtype=pl.Date)
    error = pl.when(text.is_not_null() & value.is_null()).then(pl.lit("bad_date"))
    return Parsed(value, error)


def _number_text(
    col: pl.Expr, prepared: bool, decimal_separator: str = ".", thousands_separator: str = ","
) -> tuple[pl.Expr, pl.Expr]:
    """Strip thousands separators and a trailing unit word, read the decimal separator as
    ``.``; return (text, in_wan) where ``in_wan`` marks a value written with its own 万元/万
    suffix. Full-width separators are half-width after NFKC."""
    text = col if prepared else prepare("amount", col)
    if thousands_separator:
        text = text.str.replace_all(thousands_separator, "", literal=True)
    if decimal_separator != ".":
        text = text.str.replace_all(decimal_separator, ".", literal=True)
    in_wan = text.str.contains(r"万(元|人次|人)?$").fill_null(False)
    text = text.str.replace(r"(万元|万人次|万人|万|元|人次|人|宗|次|件|场|户)$", "")
    return text, in_wan


def parse_number(
    col: pl.Expr,
    factor: float,
    *,
    whole: bool,
    prepared: bool = False,
    decimal_separator: str = ".",
    thousands_separator: str = ",",
) -> Parsed:
    """Numbers with thousands separators, full-width digits, a trailing unit, scaled by the
    header unit ``factor``; amounts are rounded to the cent, counts must be whole."""
    text, in_wan = _number_text(col, prepared, decimal_separator, thousands_separator)
    number = text.cast(pl.Float64, strict=False)
    # a value written with its own 万 counts in 万 unless the header already said so
    own_wan = pl.when(in_wan & pl.lit(factor < 10000)).then(10000.0).otherwise(1.0)
    scaled = number * factor * own_wan
    if whole:
        value = scaled.round(0).cast(pl.Int64, strict=False)
        not_whole = (scaled - scaled.round(0)).abs() > 1e-9
    else:
        value = scaled.round(2)
        not_whole = pl.lit(False)
    error = (
        pl.when(text.is_not_null() & number.is_null())
        .then(pl.lit("bad_number"))
        .when(not_whole)
        .then(pl.lit("not_whole_number"))
        .when(number < 0)
        .then(pl.lit("negative_number"))
    )
    return Parsed(value, error)


def parse_bool(
    col: pl.Expr, spellings: dict[bool, tuple[str, ...]], *, prepared: bool = False
) -> Parsed:
    text = col if prepared else prepare("bool", col)
    lookup: dict[str, bool] = {}
    for flag in (True, False):
        for word in spellings.get(flag, ()):
            lookup.setdefault(word, flag)
    value = text.replace_strict(
        list(lookup), list(lookup.values()), default=None, return_dtype=pl.Boolean
    )
    error = pl.when(text.is_not_null() & value.is_null()).then(pl.lit("bad_bool"))
    return Parsed(value, error)


def parse_category(
    col: pl.Expr,
    vocabulary: tuple[str, ...],
    aliases: dict[str, str],
    *,
    prepared: bool = False,
) -> Parsed:
    """Stray spaces removed; template aliases (e.g. a system's own codes) mapped first."""
    text = col if prepared else prepare("category", col)
    if aliases:
        keys = list(aliases)
        text = text.str.to_lowercase().replace_strict(
            keys, [aliases[k] for k in keys], default=text, return_dtype=pl.String
        )
    value = pl.when(text.is_in(list(vocabulary))).then(text)
    error = pl.when(text.is_not_null() & value.is_null()).then(pl.lit("unknown_category"))
    return Parsed(value, error)


def parse_id_number(col: pl.Expr, *, prepared: bool = False) -> Parsed:
    """Identity numbers: spaces removed, lowercase ``x`` accepted, check digit verified."""
    text = col if prepared else prepare("id_number", col)
    scientific = text.str.contains(r"^\d+(\.\d+)?E\+?\d+$").fill_null(False)
    valid = id_number_is_valid_expr(text)
    error = (
        pl.when(text.is_null())
        .then(None)
        .when(scientific)
        .then(pl.lit("id_scientific_notation"))
        .when(~valid)
        .then(pl.lit("bad_id_number"))
    )
    return Parsed(pl.when(valid).then(text), error)


def parse_credit_code(col: pl.Expr, *, prepared: bool = False) -> Parsed:
    text = col if prepared else prepare("credit_code", col)
    valid = credit_code_is_valid_expr(text)
    error = pl.when(text.is_not_null() & ~valid).then(pl.lit("bad_credit_code"))
    return Parsed(pl.when(valid).then(text), error)
