"""Reading whole landing files (:mod:`orchestration.lib.ingest.files`): every format, resubmissions
superseding earlier files, and bad files rejected by name and reason.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from conftest import PII_KEY, YEAR, fetch, source_file
from ingest_cases import (
    ACTIVITY_HEADER,
    CC1,
    DISPUTE_HEADER,
    ID1,
    NAMES,
    PHONES,
    ROSTER_HEADER,
    activity,
    dispute,
    loaded,
    quarantine,
    roster,
)

from orchestration.lib.ingest.files import process_file

# ------------------------------------------------------------------------------ formats


FORMATS = [
    ("xlsx", None),
    ("xls", None),
    ("csv", "utf-8"),
    ("csv", "utf-8-sig"),
    ("csv", "gbk"),
    ("csv", "gb18030"),
    ("json", None),
    ("json", "data"),
    ("json", "records"),
    ("json", "rows"),
]


def _write_disputes(landing, fmt: str, option: str | None, name: str, rows: list[list]):
    if fmt == "xlsx":
        return landing.xlsx("buji", f"{name}.xlsx", [DISPUTE_HEADER, *rows])
    if fmt == "xls":
        return landing.xls("buji", f"{name}.xls", [DISPUTE_HEADER, *rows])
    if fmt == "csv":
        return landing.csv("buji", f"{name}.csv", [DISPUTE_HEADER, *rows], encoding=option)
    records = [dict(zip(DISPUTE_HEADER, r, strict=True)) for r in rows]
    return landing.json("buji", f"{name}.json", {option: records} if option else records)


@pytest.mark.parametrize(("fmt", "option"), FORMATS, ids=[f"{f}-{o}" for f, o in FORMATS])
def test_every_format_loads_the_same_values(landing, run_ingest, fmt, option):
    rows = [
        ["A-001", dt.date(2021, 3, 5) if fmt.startswith("xls") else "2021-03-05", "甲公司",
         CC1, 3, "欠薪", "调解成功", None, 1234.5],
        ["A-002", "2021/11/20", "乙公司（深圳）", None, 12, "社保", "转仲裁", "2021-12-01", 0],
    ]  # fmt: skip
    _write_disputes(landing, fmt, option, "布吉街道2021年劳资纠纷调处台账", rows)
    report, con = run_ingest(landing)
    assert report.problems() == []
    got = [
        (r["case_no"], r["accepted_on"], r["enterprise_name"], r["credit_code"],
         r["workers_involved"], r["dispute_type"], r["outcome"], r["closed_on"],
         r["recovered_amount"], r["year"], r["street_code"])
        for r in loaded(con, "dispute_cases")
    ]  # fmt: skip
    assert got == [
        ("A-001", dt.date(2021, 3, 5), "甲公司", CC1, 3, "欠薪", "调解成功", None,
         Decimal("1234.50"), YEAR, "buji"),
        ("A-002", dt.date(2021, 11, 20), "乙公司(深圳)", None, 12, "社保", "转仲裁",
         dt.date(2021, 12, 1), Decimal("0.00"), YEAR, "buji"),
    ]  # fmt: skip
    meta = fetch(con, "select * from raw.source_files")[0]
    assert (meta["status"], meta["report_kind"], meta["file_format"]) == (
        "loaded",
        "dispute_cases",
        fmt,
    )
    if fmt == "csv":
        assert meta["encoding"] == ("utf-8-sig" if option.startswith("utf") else "gb18030")
    assert (meta["rows_data"], meta["rows_loaded"], meta["rows_quarantined"]) == (2, 2, 0)


# ------------------------------------------------------------------------------ resubmissions


@pytest.mark.parametrize(
    ("original", "corrections"),
    [
        ("劳资纠纷台账.xlsx", ["劳资纠纷台账（修订版）.xlsx"]),
        ("劳资纠纷台账.xlsx", ["劳资纠纷台账更正.xlsx"]),
        ("buji_disputes_2021Q3.xlsx", ["buji_disputes_2021Q3_v2.xlsx"]),
        (
            "buji_disputes_2021Q3.xlsx",
            ["buji_disputes_2021Q3_v2.xlsx", "buji_disputes_2021Q3_v3.xlsx"],
        ),
        ("劳资纠纷台账3月.xlsx", ["劳资纠纷台账3月修订2.xlsx", "劳资纠纷台账3月-v3.xlsx"]),
    ],
)
def test_resubmission_supersedes_the_earlier_file(landing, run_ingest, original, corrections):
    landing.xlsx("buji", original, [DISPUTE_HEADER, dispute("A1"), dispute("A2", amount="-1")])
    for i, name in enumerate(corrections):
        landing.xlsx("buji", name, [DISPUTE_HEADER, dispute("A1", amount=str(2000 + i))])
    _report, con = run_ingest(landing)
    winner = f"{YEAR}/buji/{corrections[-1]}"
    for name in [original, *corrections[:-1]]:
        meta = source_file(con, name)
        assert meta["status"] == "superseded", name
        assert meta["superseded_by"] == winner
        assert meta["version"] < source_file(con, corrections[-1])["version"]
    assert source_file(con, corrections[-1])["status"] == "loaded"
    by_file = {}
    for r in loaded(con, "dispute_cases"):
        by_file.setdefault(r["_source_file"].split("/")[-1], []).append(
            (r["case_no"], r["_superseded_by"])
        )
    assert by_file[original] == [("A1", winner)]
    assert by_file[corrections[-1]] == [("A1", None)]
    # the superseded file's quarantined row is marked too
    [q] = quarantine(con)
    assert q["_source_file"].endswith(original) and q["_superseded_by"] == winner


def test_files_of_other_periods_streets_or_kinds_are_not_superseded(landing, run_ingest):
    landing.csv("buji", "buji_disputes_2021Q2.csv", [DISPUTE_HEADER, dispute("A1")])
    landing.csv("buji", "buji_disputes_2021Q3.csv", [DISPUTE_HEADER, dispute("A2")])
    landing.csv("buji", "buji_disputes_2021Q3_v2.csv", [DISPUTE_HEADER, dispute("A2")])
    landing.csv(
        "buji", "buji_activities_2021Q3.csv", [ACTIVITY_HEADER, activity("H1", "2021-08-01")]
    )
    landing.csv("pinghu", "buji_disputes_2021Q3.csv", [DISPUTE_HEADER, dispute("A3")])
    _report, con = run_ingest(landing)
    status = {
        r["_source_file"]: r["status"]
        for r in fetch(con, "select _source_file, status from raw.source_files")
    }
    assert status == {
        "2021/buji/buji_disputes_2021Q2.csv": "loaded",
        "2021/buji/buji_disputes_2021Q3.csv": "superseded",
        "2021/buji/buji_disputes_2021Q3_v2.csv": "loaded",
        "2021/buji/buji_activities_2021Q3.csv": "loaded",
        "2021/pinghu/buji_disputes_2021Q3.csv": "loaded",
    }
    live = fetch(con, "select count(*) n from raw.dispute_cases where _superseded_by is null")
    assert live[0]["n"] == 3


# ------------------------------------------------------------------------------ bad files


def test_bad_files_are_rejected_by_name_and_reason_and_the_rest_loads(landing, run_ingest):
    good = landing.xlsx("buji", "劳资纠纷台账.xlsx", [DISPUTE_HEADER, dispute("A1")])
    truncated = good.read_bytes()[:700]
    landing.raw_bytes("buji", "截断的台账.xlsx", truncated)
    landing.raw_bytes("buji", "加密台账.xlsx", bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 2048)
    landing.raw_bytes("buji", "乱码会员.csv", b"\xff\xfe\x80\x81,\xff\xff\r\n\x80,\x80\r\n")
    landing.csv("buji", "unknown.csv", [["序号", "内容"], ["1", "无关表格"]])
    missing = [h for h in DISPUTE_HEADER if h != "受理日期"]
    landing.csv(
        "buji", "劳资纠纷缺列.csv", [missing, [v for i, v in enumerate(dispute("A9")) if i != 1]]
    )
    landing.raw_bytes("buji", "说明.pdf", b"%PDF-1.4")
    landing.file_at("stray.xlsx", good.read_bytes())
    landing.file_at("2021/loose.csv", b"a,b\r\n")
    landing.file_at("2021/nowhere/劳资纠纷台账.xlsx", good.read_bytes())
    landing.csv("buji", "会员信息.csv", [ROSTER_HEADER, roster(NAMES[0], ID1, PHONES[0])])

    report, con = run_ingest(landing)
    files = {r["_source_file"]: r for r in fetch(con, "select * from raw.source_files")}
    expected = {
        "2021/buji/截断的台账.xlsx": ("rejected", "unreadable", "cannot be opened"),
        "2021/buji/加密台账.xlsx": ("rejected", "password_protected", "password"),
        "2021/buji/乱码会员.csv": ("rejected", "undecodable", "cannot be decoded"),
        "2021/buji/unknown.csv": ("unrecognised", "unknown_kind", "no sheet has a header row"),
        "2021/buji/劳资纠纷缺列.csv": ("rejected", "missing_column", "受理日期"),
        "2021/buji/说明.pdf": ("rejected", "unsupported_format", "unsupported file type"),
        "stray.xlsx": ("rejected", "misplaced", "<year>/<street_code>"),
        "2021/loose.csv": ("rejected", "misplaced", "<year>/<street_code>"),
        "2021/nowhere/劳资纠纷台账.xlsx": ("rejected", "unknown_street", "nowhere"),
        "2021/buji/劳资纠纷台账.xlsx": ("loaded", None, None),
        "2021/buji/会员信息.csv": ("loaded", None, None),
    }
    assert set(files) == set(expected)
    for name, (status, code, words) in expected.items():
        meta = files[name]
        assert (meta["status"], meta["reason_code"]) == (status, code), name
        if words:
            assert words in meta["reason"], (name, meta["reason"])
            assert meta["rows_loaded"] == 0
    problems = report.problems()
    assert len(problems) == 9
    for name, (status, _code, _words) in expected.items():
        if status != "loaded":
            assert any(p.startswith(f"{name}: {status}") for p in problems), name
    assert [r["case_no"] for r in loaded(con, "dispute_cases")] == ["A1"]
    assert len(loaded(con, "member_roster")) == 1


def test_missing_required_column_message_names_the_kind_and_column(landing, run_ingest):
    header = [h for h in ROSTER_HEADER if h != "是否实名认证"]
    landing.xlsx("buji", "会员.xlsx", [header, [*roster(NAMES[0], ID1)[:7], None]])
    _report, con = run_ingest(landing)
    meta = source_file(con, "会员.xlsx")
    assert meta["status"] == "rejected" and meta["reason_code"] == "missing_column"
    assert "member_roster" in meta["reason"] and "是否实名认证 (verified)" in meta["reason"]
    assert "Sheet1" in meta["reason"]


def test_process_file_never_raises(landing, mapping):
    path = landing.raw_bytes("buji", "劳资纠纷.xlsx", b"PK\x03\x04garbage")
    result = process_file(
        path, landing.root, mapping, street_codes=["buji"], key=PII_KEY, run_id="r"
    )
    assert result.status == "rejected" and "劳资纠纷.xlsx" in result.message
