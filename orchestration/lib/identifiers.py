"""Check digits of the two national identifiers the streets report.

* Citizen identity number (公民身份号码), GB 11643-1999: 17 digits and a check character
  (``0-9`` or ``X``) computed with ISO 7064 MOD 11-2.
* Unified social credit code (统一社会信用代码), GB 32100-2015: 17 characters of the
  31-character alphabet below and a check character computed with MOD 31.

Both checks exist twice: as plain functions (used by the demo-data generator and in tests)
and as polars expressions (used by ingestion on hundreds of thousands of rows at once).
"""

from __future__ import annotations

import polars as pl

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"

CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def id_check_char(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits of an identity number."""
    total = sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARS[total % 11]


def is_valid_id_number(value: str) -> bool:
    """True when ``value`` is 17 digits followed by the right check character."""
    return (
        len(value) == 18
        and value[:17].isascii()
        and value[:17].isdigit()
        and id_check_char(value[:17]) == value[17]
    )


def credit_check_char(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters of a credit code."""
    total = sum(CREDIT_ALPHABET.index(c) * w for c, w in zip(first17, CREDIT_WEIGHTS, strict=True))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def is_valid_credit_code(value: str) -> bool:
    """True when ``value`` has 18 characters of the GB 32100 alphabet and the right check."""
    return (
        len(value) == 18
        and all(c in CREDIT_ALPHABET for c in value)
        and credit_check_char(value[:17]) == value[17]
    )


#: the check characters and the credit code alphabet as lookup columns, made once (a list
#: would become a new Series at each of the 17 lookups of every expression built)
_ID_REMAINDERS = pl.Series(range(11), dtype=pl.Int32)
_ID_CHECKS = pl.Series(list(ID_CHECK_CHARS), dtype=pl.String)
_CREDIT_CHARS = pl.Series(list(CREDIT_ALPHABET), dtype=pl.String)
_CREDIT_VALUES = pl.Series(range(31), dtype=pl.Int32)
_CREDIT_REMAINDERS = pl.Series(range(31), dtype=pl.Int32)


def id_number_is_valid_expr(col: pl.Expr) -> pl.Expr:
    """Vectorised :func:`is_valid_id_number` over a normalised (upper-case, no spaces) column."""
    shape_ok = col.str.contains(r"^\d{17}[\dX]$")
    total = pl.sum_horizontal(
        [col.str.slice(i, 1).cast(pl.Int32, strict=False) * w for i, w in enumerate(ID_WEIGHTS)]
    )
    expected = (total % 11).replace_strict(
        _ID_REMAINDERS, _ID_CHECKS, return_dtype=pl.String, default=None
    )
    return (shape_ok & (col.str.slice(17, 1) == expected)).fill_null(False)


def credit_code_is_valid_expr(col: pl.Expr) -> pl.Expr:
    """Vectorised :func:`is_valid_credit_code` over a normalised column."""
    shape_ok = col.str.contains(f"^[{CREDIT_ALPHABET}]{{18}}$")
    values = [
        col.str.slice(i, 1).replace_strict(
            _CREDIT_CHARS, _CREDIT_VALUES, return_dtype=pl.Int32, default=None
        )
        * w
        for i, w in enumerate(CREDIT_WEIGHTS)
    ]
    total = pl.sum_horizontal(values)
    expected = ((31 - total % 31) % 31).replace_strict(
        _CREDIT_REMAINDERS, _CREDIT_CHARS, return_dtype=pl.String, default=None
    )
    return (shape_ok & (col.str.slice(17, 1) == expected)).fill_null(False)
