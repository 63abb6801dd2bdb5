"""Periods and resubmission versions from file names (:mod:`orchestration.lib.ingest.periods`)."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import source_file
from ingest_cases import DISPUTE_HEADER, dispute, loaded

# ------------------------------------------------------------------------------ periods


@pytest.mark.parametrize(
    ("name", "label", "end"),
    [
        ("buji_disputes_2021Q3.csv", "2021-Q3", dt.date(2021, 9, 30)),
        ("劳资纠纷台账三季度.csv", "2021-Q3", dt.date(2021, 9, 30)),
        ("劳资纠纷台账（第一季度）.csv", "2021-Q1", dt.date(2021, 3, 31)),
        ("劳资纠纷台账3月.csv", "2021-03", dt.date(2021, 3, 31)),
        ("劳资纠纷台账2021-03.csv", "2021-03", dt.date(2021, 3, 31)),
        ("劳资纠纷台账202111.csv", "2021-11", dt.date(2021, 11, 30)),
        ("劳资纠纷台账上半年.csv", "2021-H1", dt.date(2021, 6, 30)),
        ("平湖街道2021年劳资纠纷调处台账.csv", "2021", dt.date(2021, 12, 31)),
    ],
)
def test_periods_from_file_names(landing, run_ingest, name, label, end):
    landing.csv("buji", name, [DISPUTE_HEADER, dispute("A1")])
    _report, con = run_ingest(landing)
    meta = source_file(con, name)
    assert (meta["_period_label"], meta["_period_end"]) == (label, end)
    [row] = loaded(con, "dispute_cases")
    assert (row["_period_label"], row["_period_end"]) == (label, end)


def test_full_width_version_marker_is_a_resubmission(landing, run_ingest):
    landing.csv("buji", "劳资纠纷台账.csv", [DISPUTE_HEADER, dispute("A1")])
    landing.csv("buji", "劳资纠纷台账（v2）.csv", [DISPUTE_HEADER, dispute("A1")])
    _report, con = run_ingest(landing)
    assert source_file(con, "劳资纠纷台账.csv")["status"] == "superseded"
    assert source_file(con, "劳资纠纷台账（v2）.csv")["version"] == 2
