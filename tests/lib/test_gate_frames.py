"""The gate's query results reach Great Expectations with the dtypes DuckDB's ``.df()`` gives."""

import duckdb
import pandas as pd
import pytest

from orchestration.lib.gate import query_frame

QUERY = """
    select * from (values
        (2021, 1, true, 'a', date '2021-03-01', 1.5),
        (2021, null, null, null, null, null)
    ) as t(year, employees, has_union, street_code, paid_on, amount)
    where year = $year
"""


@pytest.fixture
def con():
    with duckdb.connect() as con:
        yield con


def test_frame_matches_duckdb_df(con):
    frame = query_frame(con, QUERY, {"year": 2021})
    expected = con.execute(QUERY, {"year": 2021}).df()
    assert list(frame.columns) == list(expected.columns)
    assert frame["year"].dtype == expected["year"].dtype == "int32"  # no NULL: numpy
    assert frame["employees"].dtype == pd.Int32Dtype()  # NULLs: nullable, not float
    assert frame["has_union"].dtype == pd.BooleanDtype()
    assert pd.api.types.is_string_dtype(frame["street_code"])
    assert pd.api.types.is_datetime64_dtype(frame["paid_on"])
    pd.testing.assert_frame_equal(
        frame.astype("object").where(frame.notna(), None),
        expected.astype("object").where(expected.notna(), None),
        check_dtype=False,
    )


def test_empty_result_keeps_columns(con):
    frame = query_frame(con, QUERY, {"year": 1999})
    assert frame.empty and list(frame.columns)[:2] == ["year", "employees"]
