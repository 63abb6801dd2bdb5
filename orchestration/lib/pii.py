"""Find and mask identity and mobile numbers in free text before anything is written.

Ingestion drops or hashes the personal-data *columns* it knows (names, phones, identity
numbers); this module catches personal data that arrives where it is not expected: an identity
number typed into an activity name, ``联系电话13812345678`` in a remark, an extra column of
emergency contacts' identity numbers in a quarantined row. Every text value that is kept
(loaded text columns, the quarantined row's ``record_json`` and ``reason``, 合计 labels) goes
through :func:`scrub`.

What is masked (the marker replaces the number, the rest of the text stays):

* **identity numbers** (GB 11643, 18 characters) with a valid check character, also written
  with spaces or hyphens between the groups (``440307 19900101 123X``, ``440307-1990-0101-123X``)
  → :data:`ID_MARK`. An all-digit credit code (GB 32100) that also passes the identity check is
  a credit code and kept. The shape is strict — a region code starting 1–8 (no credit code of a
  company, ``91…``/``92…``/``93…``, can match), a 19xx/20xx birth date with a valid month and
  day — so amounts, dates and case numbers do not match;
* identity numbers **typed as numbers in Excel**: an 18-digit value of that shape whose check
  character is wrong but that is exactly a float64 (the digits a reader prints for the number
  Excel kept: ``440307199001011328``) or 15 significant digits then zeros (what Excel shows
  and exports: ``440307199001011000``), and the scientific notation of a
  number ≥ 10¹⁷ (``4.40307199001011E+17``) — no amount of the landing contract comes near
  10¹⁷;
* after a word that names an identity document (身份证, 证件, 身份号), any 18-character
  identity-shaped number (even with a wrong check character) and a 15-digit old-style number;
  without the word, 15 digits are too common (old business registration numbers) to mask;
* **mainland mobile numbers** ``1[3-9]`` + 9 digits, also ``+86``/``0086``/``86``-prefixed and
  grouped ``138-1234-5678`` / ``138 1234 5678``, never inside a longer digit run
  (``075512345678``, a 19-digit number or the amount ``13812345678.00`` are not phones); and
  ``1.3812345678E+10`` → :data:`PHONE_MARK`.

Speed: the candidate test is one polars regex over the column (NFKC-normalised, so full-width
digits count); only the distinct values that match are rewritten in Python, where the check
character is verified. Free-text values rarely hold 11 digits in a row, so the Python part
sees a handful of values out of hundreds of thousands.
"""

from __future__ import annotations

import re
import unicodedata

import polars as pl

from orchestration.lib.identifiers import is_valid_credit_code, is_valid_id_number

ID_MARK = "［身份证号已隐去］"
PHONE_MARK = "［手机号已隐去］"

#: cheap superset of every pattern below (polars regex over NFKC text): 11 digits in a row with
#: at most two separators, or the scientific notation of a ≥ 10¹⁰ number
CANDIDATE = r"[0-9]{3}[ \-]?[0-9]{4}[ \-]?[0-9]{4}|[0-9]\.[0-9]+[eE]\+?1[0-9]"

_S = r"[ \-]?"  # one optional separator between groups
_DATE = r"(?:19|20)[0-9]{2}" + _S + r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_ID18 = re.compile(r"(?<![0-9])[1-8][0-9]{5}" + _S + _DATE + _S + r"[0-9]{3}[0-9Xx](?![0-9])")
_KEYWORD = r"(?:身份证|证件|身份号)[^0-9]{0,12}?"
_ID_AFTER_KEYWORD = re.compile(
    "(" + _KEYWORD + r")(?<![0-9])("
    r"[1-8][0-9]{5}" + _S + _DATE + _S + r"[0-9]{3}[0-9Xx]"  # 18, any check character
    r"|[1-8][0-9]{5}[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}"  # 15 (old)
    r")(?![0-9])"
)
_ID_SCIENTIFIC = re.compile(r"(?<![0-9A-Za-z.])[1-9]\.[0-9]+[eE]\+?17(?![0-9A-Za-z])")
_PHONE = re.compile(
    r"(?<![0-9])(?<![0-9]\.)(?:(?:\+|00)?86[ \-]?)?1[3-9][0-9](?:[ \-]?[0-9]{4}){2}"
    r"(?![0-9]|\.[0-9])"
)
_PHONE_SCIENTIFIC = re.compile(r"(?<![0-9A-Za-z.])1\.[3-9][0-9]{0,9}[eE]\+?10(?![0-9A-Za-z])")
_SEPARATORS = re.compile(r"[ \-]")


def _is_identity(token: str) -> bool:
    """An identity-shaped 18-character token that is an identity number (valid check, or the
    float-printed digits of one typed as a number), not a credit code."""
    code = _SEPARATORS.sub("", token).upper()
    if is_valid_credit_code(code):
        return False
    if is_valid_id_number(code):
        return True
    if not code.isdigit():
        return False
    number = int(code)  # Excel's float: its exact digits, or 15 significant digits then zeros
    return int(float(code)) == number or len(code.rstrip("0")) <= 15


def _mask_id(match: re.Match[str]) -> str:
    return ID_MARK if _is_identity(match.group(0)) else match.group(0)


def scrub_text(value: str | None) -> str | None:
    """``value`` with every identity and mobile number replaced by its marker.

    A value with a hit comes back NFKC-normalised (full-width digits half-width); a value
    without one comes back unchanged.
    """
    if not value:
        return value
    text = unicodedata.normalize("NFKC", value)
    out = _ID_AFTER_KEYWORD.sub(lambda m: m.group(1) + ID_MARK, text)
    out = _ID18.sub(_mask_id, out)
    out = _ID_SCIENTIFIC.sub(ID_MARK, out)
    out = _PHONE_SCIENTIFIC.sub(PHONE_MARK, out)
    out = _PHONE.sub(PHONE_MARK, out)
    return value if out == text else out


def candidates(series: pl.Series) -> pl.Series:
    """Boolean mask of the values that may hold an identity or mobile number."""
    return series.str.normalize("NFKC").str.contains(CANDIDATE).fill_null(False)


def scrub(series: pl.Series) -> pl.Series:
    """:func:`scrub_text` over a text column: one vectorised candidate test, then Python only
    for the distinct candidate values. Non-text columns are returned as they are."""
    if series.dtype != pl.String or series.is_empty():
        return series
    hits = series.filter(candidates(series)).unique()
    if hits.is_empty():
        return series
    old, new = [], []
    for value in hits.to_list():
        masked = scrub_text(value)
        if masked != value:
            old.append(value)
            new.append(masked)
    if not old:
        return series
    return series.replace(old, new)


def scrub_frame(frame: pl.DataFrame, columns: list[str] | None = None) -> pl.DataFrame:
    """:func:`scrub` on every text column of ``frame`` (or those of ``columns``)."""
    names = [c for c in (columns or frame.columns) if frame.schema[c] == pl.String]
    if not names:
        return frame
    return frame.with_columns([scrub(frame[c]) for c in names])
