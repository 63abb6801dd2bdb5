"""Sheet processing (:mod:`orchestration.lib.ingest.sheets`): titles, totals and trailers, every
value spelling, and bad rows quarantined with file, sheet, row and reason (landing contract
sections 3, 5 and 6).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from conftest import RUN_ID, YEAR, fetch, make_credit_code, source_file, varchar_values
from ingest_cases import (
    ACTIVITY_HEADER,
    CC1,
    DISPUTE_HEADER,
    HARDSHIP_HEADER,
    ID1,
    ID2,
    ID_BAD,
    ID_X,
    NAMES,
    PHONES,
    PII_VALUES,
    ROSTER_HEADER,
    activity,
    dispute,
    hashed,
    loaded,
    quarantine,
    roster,
)
from mappings import CONTRACT_MAPPING

from orchestration.lib.mapping import load_mapping

CC_BAD = CC1[:-1] + ("0" if CC1[-1] != "0" else "1")
ENTERPRISE_HEADER = ["统一社会信用代码", "企业名称", "所属社区", "行业", "职工人数", "是否建会"]


# ------------------------------------------------------------------------------ layout


def test_titles_merged_cells_blank_rows_totals_and_trailers(landing, run_ingest):
    width = len(DISPUTE_HEADER)
    rows = [
        ["布吉街道2021年劳资纠纷调处台账", *[None] * (width - 1)],  # row 1, merged A1:I1
        ["填报单位：布吉街道总工会"],  # row 2
        [],  # row 3
        DISPUTE_HEADER,  # row 4
        dispute("A1", amount=100),  # row 5
        [],  # row 6
        dispute("A2", amount=200.5, workers=2),  # row 7
        ["小计", None, None, None, 5, None, None, None, 300.5],  # row 8
        dispute("A3", amount=1000, workers=10),  # row 9
        ["小计", None, None, None, 10, None, None, None, 1000],  # row 10
        ["合计", None, None, None, 15, None, None, None, 1300.5],  # row 11
        [],  # row 12
        ["填表人：欧阳明远", None, None, "审核人：司马青云", None, None, "联系电话：13800138001"],
    ]
    landing.xlsx("buji", "劳资纠纷台账.xlsx", rows, merges={"Sheet1": [(0, 0, 0, width - 1)]})
    _report, con = run_ingest(landing)
    got = [(r["case_no"], r["_source_row"]) for r in loaded(con, "dispute_cases")]
    assert got == [("A1", 5), ("A2", 7), ("A3", 9)]
    assert quarantine(con) == []
    meta = source_file(con, "劳资纠纷台账.xlsx")
    assert (meta["rows_data"], meta["rows_loaded"], meta["rows_quarantined"]) == (3, 3, 0)
    assert meta["rows_skipped"] == 3  # the blank rows between header and trailer + trailer
    totals = fetch(
        con,
        "select _source_row, label, field, stated_value, computed_value, covers_from_row, "
        "covers_to_row, _source_sheet from raw.control_totals order by _source_row, field",
    )
    assert [tuple(t.values()) for t in totals] == [
        (8, "小计", "recovered_amount", Decimal("300.50"), Decimal("300.50"), 5, 7, "Sheet1"),
        (8, "小计", "workers_involved", Decimal("5.00"), Decimal("5.00"), 5, 7, "Sheet1"),
        (10, "小计", "recovered_amount", Decimal("1000.00"), Decimal("1000.00"), 9, 9, "Sheet1"),
        (10, "小计", "workers_involved", Decimal("10.00"), Decimal("10.00"), 9, 9, "Sheet1"),
        (11, "合计", "recovered_amount", Decimal("1300.50"), Decimal("1300.50"), 5, 9, "Sheet1"),
        (11, "合计", "workers_involved", Decimal("15.00"), Decimal("15.00"), 5, 9, "Sheet1"),
    ]


def test_control_total_mismatch_is_visible(landing, run_ingest):
    rows = [DISPUTE_HEADER, dispute("A1", amount="1,000"), dispute("A2", amount="500")]
    rows.append(["合计：", None, None, None, None, None, None, None, "1,600.00"])
    landing.csv("buji", "劳资纠纷台账.csv", rows)
    _report, con = run_ingest(landing)
    [total] = fetch(con, "select * from raw.control_totals")
    assert total["field"] == "recovered_amount" and total["_source_row"] == 4
    assert (total["stated_value"], total["computed_value"]) == (Decimal("1600"), Decimal("1500"))
    assert (total["covers_from_row"], total["covers_to_row"]) == (2, 3)
    assert [r["case_no"] for r in loaded(con, "dispute_cases")] == ["A1", "A2"]


def test_monthly_workbook_with_an_instructions_sheet(landing, run_ingest):
    sheets = {
        "说明": [["填表说明"], ["活动编号", "活动名称"], ["1. 每月一表"]],
        "1月": [["1月职工活动台账"], ACTIVITY_HEADER, activity("H-01", "2021-01-10")],
        "2月": [
            ACTIVITY_HEADER,
            activity("H-02", "2021-02-03"),
            activity("H-03", "2021-02-20", category=" 技能 培训"),
            ["合计", None, None, None, None, 40],
        ],
        "第一季度汇总": [ACTIVITY_HEADER, activity("H-04", "2021-03-03")],
    }
    landing.xlsx("buji", "布吉街道职工活动及培训台账.xlsx", sheets)
    _report, con = run_ingest(landing)
    got = [
        (r["_source_sheet"], r["activity_no"], r["category"], r["_source_row"], r["_period_label"],
         r["_period_end"])
        for r in loaded(con, "worker_activities", order="activity_no")
    ]  # fmt: skip
    assert sorted(got) == sorted([
        ("1月", "H-01", "职工活动", 3, "2021-01", dt.date(2021, 1, 31)),
        ("2月", "H-02", "职工活动", 2, "2021-02", dt.date(2021, 2, 28)),
        ("2月", "H-03", "技能培训", 3, "2021-02", dt.date(2021, 2, 28)),
        ("第一季度汇总", "H-04", "职工活动", 2, "2021-Q1", dt.date(2021, 3, 31)),
    ])  # fmt: skip
    meta = source_file(con, "布吉街道职工活动及培训台账.xlsx")
    assert meta["status"] == "loaded" and meta["rows_loaded"] == 4
    assert meta["sheets_read"] == "1月, 2月, 第一季度汇总"
    assert "说明" in meta["notes"]
    [total] = fetch(con, "select * from raw.control_totals")
    assert (total["_source_sheet"], total["stated_value"], total["computed_value"]) == (
        "2月",
        Decimal("40"),
        Decimal("40"),
    )


# ------------------------------------------------------------------------------ values

DATE_SPELLINGS = [
    "2021-03-05",
    "2021/3/5",
    "2021.3.5",
    "2021年3月5日",
    "20210305",
    44260,  # an Excel serial number stored as a number
    "44260",
    dt.date(2021, 3, 5),  # a real Excel date
    dt.datetime(2021, 3, 5, 14, 30),  # a real Excel datetime
    "2021-03-05 14:30:00",
]


@pytest.mark.parametrize("fmt", ["xlsx", "xls"])
def test_every_date_spelling(landing, run_ingest, fmt):
    rows = [ACTIVITY_HEADER] + [activity(f"H{i}", d) for i, d in enumerate(DATE_SPELLINGS)]
    getattr(landing, fmt)("buji", f"活动台账.{fmt}", rows)
    _report, con = run_ingest(landing)
    assert quarantine(con) == []
    got = [r["held_on"] for r in loaded(con, "worker_activities")]
    assert got == [dt.date(2021, 3, 5)] * len(DATE_SPELLINGS)


BOOLEAN_SPELLINGS = [("是", True), ("否", False), ("Y", True), ("n", False), ("√", True),
                     ("×", False), (1, True), (0, False), ("1", True), ("0", False), ("已建", True),
                     ("未建", False), (True, True), (False, False), (" 是 ", True), ("yes", True),
                     ("NO", False)]  # fmt: skip


def test_every_boolean_spelling(landing, run_ingest):
    rows = [ENTERPRISE_HEADER] + [
        [make_credit_code(f"91440300MA5F0{i:04d}"), f"企业{i}", None, None, 10, spelling]
        for i, (spelling, _expected) in enumerate(BOOLEAN_SPELLINGS)
    ]
    landing.xlsx("buji", "企业台账.xlsx", rows)
    _report, con = run_ingest(landing)
    assert quarantine(con) == []
    assert [r["has_union"] for r in loaded(con, "enterprise_register")] == [
        e for _s, e in BOOLEAN_SPELLINGS
    ]


def test_verified_as_certified_words_and_identity_spellings(landing, run_ingest):
    spaced = f"{ID1[:6]} {ID1[6:14]} {ID1[14:]}"
    rows = [
        ["会员姓名", "身份证号", "联系电话", "信息采集日期", "认证状态 (已认证/未认证)"],
        [NAMES[0], ID_X.lower(), PHONES[0], "2021-06-30", "已认证"],
        [NAMES[1], spaced, PHONES[1], "2021-06-30", "未认证"],
        [NAMES[2], ID_X, None, "2021-07-01", "已认证"],
    ]
    landing.csv("buji", "会员信息采集表.csv", rows, encoding="gbk")
    _report, con = run_ingest(landing)
    got = [(r["person_key"], r["verified"]) for r in loaded(con, "member_roster")]
    assert got == [(hashed(ID_X), True), (hashed(ID1), False), (hashed(ID_X), True)]


def test_numbers_with_separators_full_width_digits_and_yuan(landing, run_ingest):
    rows = [HARDSHIP_HEADER]
    for i, amount in enumerate(["1,234.56", "１２３４", "800元", "2,000 元", "  99.9 ", 1500]):
        rows.append([f"P{i}", "2021-05-01", "生活救助", NAMES[i % 4], ID1, amount])
    landing.xlsx("buji", "困难职工帮扶资金发放台账.xlsx", rows)
    _report, con = run_ingest(landing)
    assert quarantine(con) == []
    assert [r["amount"] for r in loaded(con, "hardship_assistance")] == [
        Decimal("1234.56"),
        Decimal("1234.00"),
        Decimal("800.00"),
        Decimal("2000.00"),
        Decimal("99.90"),
        Decimal("1500.00"),
    ]


def test_amounts_in_wan_yuan_are_exact_to_the_cent(landing, run_ingest):
    rows = [["发放编号", "发放日期", "帮扶类型", "姓名", "身份证号", "金额（万元）"]]
    for i, amount in enumerate(["0.12345", "1.00001", "0.0001", "123.456789"]):
        rows.append([f"P{i}", "2021-05-01", " 医疗 救助 ", NAMES[0], ID1, amount])
    landing.csv("buji", "帮扶.csv", rows)
    _report, con = run_ingest(landing)
    got = [(r["amount"], r["aid_type"]) for r in loaded(con, "hardship_assistance")]
    assert got == [
        (Decimal("1234.50"), "医疗救助"),
        (Decimal("10000.10"), "医疗救助"),
        (Decimal("1.00"), "医疗救助"),
        (Decimal("1234567.89"), "医疗救助"),
    ]


# ------------------------------------------------------------------------------ bad rows


def test_bad_rows_are_quarantined_with_file_sheet_row_and_reason(landing, run_ingest):
    disputes = [
        ["劳资纠纷调处台账"],  # row 1
        DISPUTE_HEADER,  # row 2
        dispute("OK1"),  # row 3
        dispute("Q1", cc=CC_BAD),  # row 4
        dispute("Q2", accepted="2020-12-31"),  # row 5
        dispute("Q3", amount="-100"),  # row 6
        dispute("Q4", amount="一千元"),  # row 7
        dispute("Q5", dtype="讨薪"),  # row 8
        dispute(None),  # row 9: missing case number
        dispute("Q7", workers=""),  # row 10: missing required int
        dispute("Q8", accepted="2021-02-30"),  # row 11
        dispute("OK2"),  # row 12
    ]
    landing.xlsx("buji", "劳资纠纷台账.xlsx", {"台账": disputes})
    members = [
        ROSTER_HEADER,  # line 1
        roster(NAMES[0], ID1, PHONES[0]),  # line 2
        roster(NAMES[1], ID_BAD, PHONES[1]),  # line 3
        roster(NAMES[2], "4.40307E+17", PHONES[2]),  # line 4
        roster(NAMES[3], ID2, collected="2022-01-05"),  # line 5
        roster(None, ID2),  # line 6
        roster(NAMES[1], ID2, verified="也许"),  # line 7
    ]
    landing.csv("buji", "会员信息采集表.csv", members)
    _report, con = run_ingest(landing)

    got = {
        (q["_source_file"].split("/")[-1], q["_source_sheet"], q["_source_row"]): q
        for q in quarantine(con)
    }
    expected = {
        ("劳资纠纷台账.xlsx", "台账", 4): ("bad_credit_code", "统一社会信用代码 (credit_code)"),
        ("劳资纠纷台账.xlsx", "台账", 5): ("date_outside_year", "受理日期 (accepted_on)"),
        ("劳资纠纷台账.xlsx", "台账", 6): (
            "negative_number",
            "挽回经济损失（元） (recovered_amount)",
        ),
        ("劳资纠纷台账.xlsx", "台账", 7): ("bad_number", "挽回经济损失（元） (recovered_amount)"),
        ("劳资纠纷台账.xlsx", "台账", 8): ("unknown_category", "纠纷类型 (dispute_type)"),
        ("劳资纠纷台账.xlsx", "台账", 9): ("missing_required", "案件编号 (case_no)"),
        ("劳资纠纷台账.xlsx", "台账", 10): ("missing_required", "涉及人数 (workers_involved)"),
        ("劳资纠纷台账.xlsx", "台账", 11): ("bad_date", "受理日期 (accepted_on)"),
        ("会员信息采集表.csv", None, 3): ("bad_id_number", "公民身份号码 (person_key)"),
        ("会员信息采集表.csv", None, 4): ("id_scientific_notation", "公民身份号码 (person_key)"),
        ("会员信息采集表.csv", None, 5): ("date_after_year", "采集日期 (collected_on)"),
        ("会员信息采集表.csv", None, 6): ("missing_required", "姓名 (name)"),
        ("会员信息采集表.csv", None, 7): ("bad_bool", "是否实名认证 (verified)"),
    }
    assert set(got) == set(expected)
    for where, (code, column) in expected.items():
        q = got[where]
        assert q["reason_code"] == code, where
        assert column in q["reason"], (where, q["reason"])
        assert q["report_kind"] == ("dispute_cases" if where[1] else "member_roster")
        assert (q["year"], q["street_code"], q["_run_id"]) == (YEAR, "buji", RUN_ID)
    assert "'讨薪'" in got[("劳资纠纷台账.xlsx", "台账", 8)]["reason"]
    assert [r["case_no"] for r in loaded(con, "dispute_cases")] == ["OK1", "OK2"]
    assert [r["_source_row"] for r in loaded(con, "member_roster")] == [2]
    record = json.loads(got[("劳资纠纷台账.xlsx", "台账", 8)]["record_json"])
    assert record["案件编号"] == "Q5" and record["纠纷类型"] == "讨薪"


def test_null_markers_in_dropped_free_text(landing, run_ingest, tmp_path):
    """A name or phone column is dropped (never stored), yet a null marker still makes a
    required name missing, spelled as typed or normalised; a marked phone is just empty."""
    text = CONTRACT_MAPPING.read_text(encoding="utf-8")
    assert "  null_markers: []\n" in text
    path = tmp_path / "sources.yml"
    path.write_text(text.replace("  null_markers: []\n", '  null_markers: ["-", N/A]\n'), "utf-8")
    members = [
        ROSTER_HEADER,  # line 1
        roster(NAMES[0], ID1, PHONES[0]),  # line 2
        roster("-", ID2, PHONES[1]),  # line 3: the marker
        roster(NAMES[1], ID_X, "N/A"),  # line 4: a marked phone, not required
        roster(" Ｎ / ａ ", ID2),  # line 5: the marker full-width and spaced
    ]
    landing.csv("buji", "会员信息采集表.csv", members)
    _report, con = run_ingest(landing, mapping=load_mapping(path))
    assert [(q["_source_row"], q["reason_code"]) for q in quarantine(con)] == [
        (3, "missing_required"),
        (5, "missing_required"),
    ]
    assert all("姓名 (name)" in q["reason"] for q in quarantine(con))
    assert [r["_source_row"] for r in loaded(con, "member_roster")] == [2, 4]


def test_a_row_with_several_problems_names_them_all(landing, run_ingest):
    landing.csv(
        "buji", "纠纷.csv", [DISPUTE_HEADER, dispute("Q1", accepted="昨天", amount="-5", dtype="?")]
    )
    _report, con = run_ingest(landing)
    [q] = quarantine(con)
    for column in ("accepted_on", "recovered_amount", "dispute_type"):
        assert f"({column})" in q["reason"]


def test_every_personal_data_column_is_masked_in_quarantine(landing, run_ingest):
    """A second phone/name column, or a personal-data column that is an extra column of another
    kind, is masked in ``record_json`` like the column that was mapped."""
    header = ["姓名", "公民身份号码", "手机号码", "联系电话", "采集日期", "是否实名认证"]
    landing.csv("buji", "会员.csv", [header, [NAMES[0], ID1, PHONES[0], PHONES[1], "x", "是"]])
    landing.csv(
        "buji",
        "纠纷.csv",
        [[*DISPUTE_HEADER, "姓名", "联系电话"], [*dispute("Q1", dtype="?"), NAMES[2], PHONES[2]]],
    )
    _report, con = run_ingest(landing)
    assert len(quarantine(con)) == 2
    leaks = [(t, c, v) for t, c, v in varchar_values(con) for pii in PII_VALUES if pii in v]
    assert leaks == []
