"""GB 11643 identity numbers and GB 32100 credit codes: plain functions and polars expressions."""

from __future__ import annotations

import random

import polars as pl
import pytest

from orchestration.lib.identifiers import (
    CREDIT_ALPHABET,
    credit_check_char,
    credit_code_is_valid_expr,
    id_check_char,
    id_number_is_valid_expr,
    is_valid_credit_code,
    is_valid_id_number,
)

# Published examples with a known check character.
KNOWN_ID = "11010519491231002X"
KNOWN_CREDIT = "91350100M000100Y43"


def test_known_identity_number_is_valid():
    assert id_check_char(KNOWN_ID[:17]) == "X"
    assert is_valid_id_number(KNOWN_ID)


def test_known_credit_code_is_valid():
    assert credit_check_char(KNOWN_CREDIT[:17]) == "3"
    assert is_valid_credit_code(KNOWN_CREDIT)


@pytest.mark.parametrize(
    "value",
    [
        "110105194912310021",  # wrong check character
        "11010519491231002",  # 17 characters
        "11010519491231002XX",  # 19 characters
        "11010519491231002x",  # lower-case x: callers normalise first
        "１１０１０５１９４９１２３１００２X",  # full-width digits
        "A1010519491231002X",
        "",
    ],
)
def test_invalid_identity_numbers(value):
    assert not is_valid_id_number(value)


@pytest.mark.parametrize(
    "value",
    [
        "91350100M000100Y44",  # wrong check character
        "91350100M000100Y4",  # 17 characters
        "91350100I000100Y43",  # I is not in the GB 32100 alphabet
        "91350100m000100y43",  # lower case: callers normalise first
        "",
    ],
)
def test_invalid_credit_codes(value):
    assert not is_valid_credit_code(value)


def test_every_single_character_change_breaks_the_id_check():
    for i in range(17):
        digit = KNOWN_ID[i]
        changed = KNOWN_ID[:i] + str((int(digit) + 1) % 10) + KNOWN_ID[i + 1 :]
        assert not is_valid_id_number(changed), changed


def _random_samples(n: int = 300) -> tuple[list[str], list[str]]:
    rng = random.Random(7)
    ids, codes = [], []
    for _ in range(n):
        first = "".join(rng.choice("0123456789") for _ in range(17))
        ids.append(first + (id_check_char(first) if rng.random() < 0.5 else rng.choice("0123X")))
        first = "".join(rng.choice(CREDIT_ALPHABET) for _ in range(17))
        last = credit_check_char(first) if rng.random() < 0.5 else rng.choice(CREDIT_ALPHABET)
        codes.append(first + last)
    return ids, codes


def test_vectorised_checks_agree_with_the_plain_functions():
    ids, codes = _random_samples()
    ids += [KNOWN_ID, "", "1234", "11010519491231002x", None]
    codes += [KNOWN_CREDIT, "", "91350100I000100Y43", None]
    frame = pl.DataFrame({"id": ids + [None] * (len(codes) - len(ids))}).with_columns(
        pl.Series("code", codes + [None] * (len(ids) - len(codes)))
    )
    out = frame.select(
        id_number_is_valid_expr(pl.col("id")).alias("id_ok"),
        credit_code_is_valid_expr(pl.col("code")).alias("code_ok"),
    )
    assert out["id_ok"].to_list() == [bool(v) and is_valid_id_number(v) for v in frame["id"]]
    assert out["code_ok"].to_list() == [bool(v) and is_valid_credit_code(v) for v in frame["code"]]
    # both valid and invalid values were exercised
    assert 0 < out["id_ok"].sum() < len(ids)
    assert 0 < out["code_ok"].sum() < len(codes)
