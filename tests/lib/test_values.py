"""Every value spelling of landing contract section 3, parsed by the vectorised parsers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
import pytest
from conftest import make_id

from orchestration.lib import values as V
from orchestration.lib.mapping import load_mapping

BOOLEANS = load_mapping().booleans


def run(parsed: V.Parsed, cells: list[str | None]) -> list[tuple]:
    """(value, error) per cell."""
    frame = pl.DataFrame({"c": cells}, schema={"c": pl.String})
    out = frame.select(parsed.value.alias("v"), parsed.error.alias("e"))
    return list(zip(out["v"].to_list(), out["e"].to_list(), strict=True))


def parse(parser, cells, *args, **kwargs):
    return run(parser(pl.col("c"), *args, **kwargs), cells)


# --------------------------------------------------------------------------------- dates

MARCH_5 = dt.date(2021, 3, 5)


@pytest.mark.parametrize(
    "cell",
    [
        "2021-03-05",
        "2021/3/5",
        "2021.3.5",
        "2021年3月5日",
        "2021年3月5",
        "20210305",
        "44260",  # Excel serial number
        "44260.0",
        "2021-03-05 00:00:00",  # a datetime cell as calamine renders it
        "2021-03-05 08:30:00.000",
        "2021-03-05T08:30",
        " 2021-03-05 ",
        "２０２１－０３－０５",  # full-width
    ],
)
def test_every_date_spelling(cell):
    assert parse(V.parse_date, [cell]) == [(MARCH_5, None)]


@pytest.mark.parametrize("cell", ["2021-02-30", "2021-13-01", "三月五日", "2021", "5/3/2021", "x"])
def test_unrecognisable_dates_are_errors(cell):
    assert parse(V.parse_date, [cell]) == [(None, "bad_date")]


def test_empty_date_is_null_without_error():
    assert parse(V.parse_date, [None, "", "  "]) == [(None, None)] * 3


# --------------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("1234", 1234),
        ("1,234", 1234),
        ("1，234", 1234),  # full-width comma
        ("１２３４", 1234),  # full-width digits
        ("1234元", 1234),
        ("1,234.50 元", 1234.5),
        (" 12 ", 12),
        ("0", 0),
        ("3人", 3),
    ],
)
def test_number_spellings(cell, expected):
    assert parse(V.parse_number, [cell], 1.0, whole=False) == [(expected, None)]


@pytest.mark.parametrize(
    ("cell", "factor", "expected"),
    [
        ("1.2345", 10000.0, Decimal("12345.00")),
        ("0.01", 10000.0, Decimal("100.00")),
        ("12.345678", 10000.0, Decimal("123456.78")),
        ("0.000015", 10000.0, Decimal("0.15")),
        ("3.14159", 10000.0, Decimal("31415.90")),
        ("1.5万", 1.0, Decimal("15000.00")),  # the value states its own 万
        ("1234.567", 1.0, Decimal("1234.57")),
    ],
)
def test_amounts_scale_by_unit_exactly_to_the_cent(cell, factor, expected):
    [(value, error)] = parse(V.parse_number, [cell], factor, whole=False)
    assert error is None
    assert Decimal(str(value)).quantize(Decimal("0.01")) == expected


@pytest.mark.parametrize(
    ("cell", "whole", "error"),
    [
        ("abc", False, "bad_number"),
        ("12a", False, "bad_number"),
        ("-5", False, "negative_number"),
        ("-1,000.00", False, "negative_number"),
        ("2.5", True, "not_whole_number"),
        ("-3", True, "negative_number"),
    ],
)
def test_bad_numbers(cell, whole, error):
    assert parse(V.parse_number, [cell], 1.0, whole=whole)[0][1] == error


def test_counts_are_integers():
    assert parse(V.parse_number, ["12", "12.0", "1,200人"], 1.0, whole=True) == [
        (12, None),
        (12, None),
        (1200, None),
    ]


# --------------------------------------------------------------------------------- booleans

TRUE_SPELLINGS = ["是", "Y", "y", "YES", "true", "TRUE", "1", "√", "已建", "已认证", " 是 ", "Ｙ"]
FALSE_SPELLINGS = ["否", "N", "n", "no", "false", "0", "×", "未建", "未认证", "X"]


def test_every_boolean_spelling():
    result = parse(V.parse_bool, TRUE_SPELLINGS + FALSE_SPELLINGS, BOOLEANS)
    expected = [(True, None)] * len(TRUE_SPELLINGS) + [(False, None)] * len(FALSE_SPELLINGS)
    assert result == expected


def test_unknown_boolean_is_an_error_and_empty_is_null():
    assert parse(V.parse_bool, ["也许", None], BOOLEANS) == [(None, "bad_bool"), (None, None)]


# --------------------------------------------------------------------------------- categories

DISPUTE_TYPES = ("欠薪", "社保", "解除劳动合同", "工伤", "加班", "其他")


def test_categories_with_stray_spaces():
    cells = [" 欠薪", "社 保", "解除劳动合同 ", "\u3000工伤\u3000", "加班"]
    assert parse(V.parse_category, cells, DISPUTE_TYPES, {}) == [
        ("欠薪", None),
        ("社保", None),
        ("解除劳动合同", None),
        ("工伤", None),
        ("加班", None),
    ]


def test_unknown_category_is_an_error():
    assert parse(V.parse_category, ["拖欠", None], DISPUTE_TYPES, {}) == [
        (None, "unknown_category"),
        (None, None),
    ]


def test_category_aliases_from_a_template():
    aliases = {"wages": "欠薪", "other": "其他"}
    assert parse(V.parse_category, ["Wages", "OTHER", "社保", "Fire"], DISPUTE_TYPES, aliases) == [
        ("欠薪", None),
        ("其他", None),
        ("社保", None),
        (None, "unknown_category"),
    ]


# --------------------------------------------------------------------------------- identifiers

ID_X = make_id("44030719900101103")  # chosen so that its check character is X


def test_identity_numbers_with_lowercase_x_or_spaces():
    assert ID_X.endswith("X")
    spaced = f"{ID_X[:6]} {ID_X[6:14]} {ID_X[14:]}"
    assert parse(V.parse_id_number, [ID_X.lower(), spaced, f" {ID_X} "]) == [(ID_X, None)] * 3


@pytest.mark.parametrize(
    ("cell", "error"),
    [
        ("4.40307E+17", "id_scientific_notation"),
        ("4.40307e17", "id_scientific_notation"),
        (ID_X[:-1] + "1", "bad_id_number"),
        (ID_X[:17], "bad_id_number"),
    ],
)
def test_bad_identity_numbers(cell, error):
    assert parse(V.parse_id_number, [cell]) == [(None, error)]


def test_credit_codes_normalised_and_checked():
    code = "91350100M000100Y43"
    assert parse(V.parse_credit_code, [code.lower(), f" {code[:9]} {code[9:]}"]) == [
        (code, None),
        (code, None),
    ]
    assert parse(V.parse_credit_code, [code[:-1] + "4", None]) == [
        (None, "bad_credit_code"),
        (None, None),
    ]


def test_text_is_nfkc_trimmed_and_empty_is_null():
    assert parse(V.parse_text, [" 甲公司 ", "ＡＢＣ", "", None]) == [
        ("甲公司", None),
        ("ABC", None),
        (None, None),
        (None, None),
    ]


def test_every_reason_code_has_a_sentence():
    codes = {"bad_date", "bad_number", "negative_number", "not_whole_number", "bad_bool"}
    codes |= {"unknown_category", "id_scientific_notation", "bad_id_number", "bad_credit_code"}
    assert codes <= set(V.REASONS)


# --------------------------------------------------------------------------------- value rules

APRIL_3 = dt.date(2021, 4, 3)


@pytest.mark.parametrize(
    ("formats", "cell", "expected"),
    [
        (("%d/%m/%Y",), "03/04/2021", APRIL_3),  # day-first
        (("%m/%d/%Y",), "04/03/2021", APRIL_3),  # month-first
        (("%d/%m/%Y",), "3/4/2021", APRIL_3),  # without leading zeros
        (("%B %d, %Y",), "Apr 3, 2021", APRIL_3),  # %B reads abbreviated and full names
        (("%B %d, %Y",), "april 3, 2021", APRIL_3),  # any case, any locale of the machine
        (("%d-%b-%Y",), "3-Apr-2021", APRIL_3),
        (("%d.%m.%Y",), "03.04.2021 08:30", APRIL_3),  # a time of day is cut first
        (("%d/%m/%Y", "%B %d, %Y"), "April 3, 2021", APRIL_3),  # tried in order
        (("%d/%m/%Y",), "2021-04-03", None),  # only the given formats
    ],
)
def test_dates_by_the_given_formats(formats, cell, expected):
    [(value, error)] = parse(V.parse_date, [cell], formats)
    assert value == expected
    assert error == (None if expected else "bad_date")


def test_excel_serials_can_be_switched_off():
    assert parse(V.parse_date, ["44260"])[0][0] == MARCH_5
    assert parse(V.parse_date, ["44260"], excel_serials=False) == [(None, "bad_date")]


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("%d/%m/%Y", None),
        ("%B %d, %Y", None),
        ("%Y%j", None),
        ("%d/%m", "no year"),
        ("%Y-%m", "needs a month"),
        ("%Y-%m-%d %H:%M", "unknown directive"),
    ],
)
def test_date_format_problems(pattern, problem):
    found = V.date_format_problem(pattern)
    assert (found is None) if problem is None else (problem in found)


@pytest.mark.parametrize(
    ("cell", "decimal", "thousands", "expected"),
    [
        ("1.234,50", ",", ".", Decimal("1234.50")),
        ("1 234,5", ",", "", Decimal("1234.50")),  # whitespace is always removed
        ("1'234.5", ".", "'", Decimal("1234.50")),
        ("1,234.5", ".", ",", Decimal("1234.50")),
        ("0,5", ",", ".", Decimal("0.50")),
    ],
)
def test_decimal_and_thousands_separators(cell, decimal, thousands, expected):
    [(value, error)] = parse(
        V.parse_number,
        [cell],
        1.0,
        whole=False,
        decimal_separator=decimal,
        thousands_separator=thousands,
    )
    assert error is None and Decimal(str(value)).quantize(Decimal("0.01")) == expected


def test_null_markers_are_compared_normalised():
    frame = pl.DataFrame({"c": ["-", " N/A ", "n/a", "／", "无", "x-", None]})
    marked = frame.select(V.null_marked(pl.col("c"), ("-", "n/a", "/"))).to_series().to_list()
    assert marked == [True, True, True, True, False, False, False]
