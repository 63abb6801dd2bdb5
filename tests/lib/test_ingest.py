"""The ingestion engine on tiny landing folders: landing contract sections 3, 5 and 6."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from decimal import Decimal

import pytest
from conftest import (
    PII_KEY,
    RUN_ID,
    YEAR,
    fetch,
    make_credit_code,
    make_id,
    source_file,
    varchar_values,
)
from mappings import mapping_with_templates

from orchestration.lib.ingest import IngestReport
from orchestration.lib.ingest.files import process_file
from orchestration.lib.mapping import load_mapping

CC1 = make_credit_code("91440300MA5F00001")
CC2 = make_credit_code("91440300MA5F00002")
CC3 = make_credit_code("91440300MA5F00003")
CC_BAD = CC1[:-1] + ("0" if CC1[-1] != "0" else "1")

# People of the fixtures: none of these may reach any table.
ID1 = make_id("44030719900101123")
ID2 = make_id("44030719851231002")
ID_X = make_id("44030719900101103")  # check character X
ID_BAD = ID1[:-1] + ("0" if ID1[-1] != "0" else "1")
NAMES = ["欧阳明远", "司马青云", "诸葛春华", "上官秋实"]
PHONES = ["13800138001", "13900139002", "13700137003"]
PII_VALUES = [*NAMES, *PHONES, ID1, ID2, ID_X, ID_BAD, ID_X.lower()]

DISPUTE_HEADER = [
    "案件编号",
    "受理日期",
    "企业名称",
    "统一社会信用代码",
    "涉及人数",
    "纠纷类型",
    "处理结果",
    "结案日期",
    "挽回经济损失（元）",
]
ROSTER_HEADER = [
    "姓名",
    "公民身份号码",
    "性别",
    "手机号码",
    "单位统一社会信用代码",
    "入会日期",
    "采集日期",
    "是否实名认证",
    "实名认证日期",
]
HARDSHIP_HEADER = [
    "发放编号",
    "发放日期",
    "帮扶类型",
    "受助职工姓名",
    "公民身份号码",
    "发放金额（元）",
]
ACTIVITY_HEADER = ["活动编号", "活动名称", "活动类别", "所属项目", "活动日期", "参与人次"]
ENTERPRISE_HEADER = ["统一社会信用代码", "企业名称", "所属社区", "行业", "职工人数", "是否建会"]


def dispute(no, accepted="2021-03-05", workers=3, amount="1000", dtype="欠薪", cc=CC1):
    return [no, accepted, "甲公司", cc, workers, dtype, "调解成功", None, amount]


def roster(name, id_number, phone=None, collected="2021-06-30", verified="是"):
    return [name, id_number, "男", phone, CC1, "2020-01-02", collected, verified, None]


def activity(no, held_on="2021-05-01", participants=20, category="职工活动"):
    return [no, "篮球赛", category, None, held_on, participants]


def loaded(con, kind: str, order: str = "_source_row") -> list[dict]:
    return fetch(con, f"select * from raw.{kind} order by _source_file, _source_sheet, {order}")


def quarantine(con) -> list[dict]:
    return fetch(con, "select * from raw.quarantine order by _source_file, _source_row")


def hashed(id_number: str, key: bytes = PII_KEY) -> str:
    return hmac.digest(key, id_number.encode(), hashlib.sha256).hex()


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


def test_kind_is_recognised_from_headers_when_the_name_says_nothing(landing, run_ingest):
    landing.csv("buji", "export_0001.csv", [ACTIVITY_HEADER, activity("H1")])
    landing.csv(
        "buji",
        "export_0002.csv",
        [["编号", "日期", "类型", "人数"], ["S1", "2021-04-01", "工伤探视", "2"]],
    )
    _report, con = run_ingest(landing)
    kinds = {
        r["_source_file"][-8:]: r["report_kind"]
        for r in fetch(con, "select * from raw.source_files")
    }
    assert kinds == {"0001.csv": "worker_activities", "0002.csv": "care_services"}
    assert loaded(con, "care_services")[0]["persons"] == 2


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


# ------------------------------------------------------------------------------ headers


def test_synonyms_spacing_brackets_units_shuffled_and_extra_columns(landing, run_ingest):
    header = ["备注", "挽回经济损失\n（万元）", " 单位 名称 ", "编号", "争议类型", "受理\n时间",
              "涉事人数", "调处结果", "经办人"]  # fmt: skip
    rows = [
        header,
        ["无", "1.23456", "甲公司", "B1", "欠薪", "2021-03-05", "3", "调解成功", "x"],
        ["", "0.000015", "乙公司", "B2", "其他", "2021-03-06", "1", "撤回", ""],
        ["", "12.345678", "丙公司", "B3", "工伤", "2021-03-07", "2", "处理中", ""],
    ]
    landing.csv("buji", "纠纷.csv", rows)
    _report, con = run_ingest(landing)
    got = [
        (r["case_no"], r["enterprise_name"], r["accepted_on"], r["workers_involved"],
         r["dispute_type"], r["outcome"], r["recovered_amount"])
        for r in loaded(con, "dispute_cases")
    ]  # fmt: skip
    assert got == [
        ("B1", "甲公司", dt.date(2021, 3, 5), 3, "欠薪", "调解成功", Decimal("12345.60")),
        ("B2", "乙公司", dt.date(2021, 3, 6), 1, "其他", "撤回", Decimal("0.15")),
        ("B3", "丙公司", dt.date(2021, 3, 7), 2, "工伤", "处理中", Decimal("123456.78")),
    ]
    cols = {r[0] for r in fetch_columns(con, "dispute_cases")}
    assert "备注" not in cols and "经办人" not in cols


def fetch_columns(con, table):
    return con.execute(f"describe raw.{table}").fetchall()


def test_enterprise_synonyms_full_width_brackets_and_unit_in_count(landing, run_ingest):
    header = ["企业（单位）名称", "社会信用代码", "行业类别", "从业人数（人）"]
    header += ["建会情况 (已建/未建)", "议事会制度", "重点企业", "工会成立日期"]
    rows = [
        header,
        ["甲公司", CC1, "制造业", "1,200", "已建", "√", "是", "2015.6.1"],
        ["乙公司", CC2.lower(), "服务业", "８０", "未建", "×", "否", None],
    ]
    landing.xlsx("buji", "企业建会情况台账.xlsx", rows)
    _report, con = run_ingest(landing)
    got = [
        (r["enterprise_name"], r["credit_code"], r["industry"], r["employee_count"], r["has_union"],
         r["has_worker_council"], r["is_key_enterprise"], r["union_founded_on"])
        for r in loaded(con, "enterprise_register")
    ]  # fmt: skip
    assert got == [
        ("甲公司", CC1, "制造业", 1200, True, True, True, dt.date(2015, 6, 1)),
        ("乙公司", CC2, "服务业", 80, False, False, False, None),
    ]


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


def test_a_row_with_several_problems_names_them_all(landing, run_ingest):
    landing.csv(
        "buji", "纠纷.csv", [DISPUTE_HEADER, dispute("Q1", accepted="昨天", amount="-5", dtype="?")]
    )
    _report, con = run_ingest(landing)
    [q] = quarantine(con)
    for column in ("accepted_on", "recovered_amount", "dispute_type"):
        assert f"({column})" in q["reason"]


# ------------------------------------------------------------------------------ invariants


@pytest.fixture
def mixed(landing, run_ingest):
    """A landing with every kind of trouble at once: (landing, report, con)."""
    landing.xlsx(
        "buji",
        "会员信息采集表.xlsx",
        {
            "说明": [["填表说明：姓名、身份证号必填"]],
            "会员": [
                [], [], ["工会会员信息采集表"], ROSTER_HEADER,  # header on row 4
                roster(NAMES[0], ID1, PHONES[0]),
                roster(NAMES[1], ID_BAD, PHONES[1]),
                [],
                roster(NAMES[2], ID_X.lower(), PHONES[2]),
                roster(NAMES[3], "4.40307E+17", PHONES[0], collected="2022-01-01"),
                ["合计：4人"],
                [f"填表人：{NAMES[3]}", None, None, f"联系电话：{PHONES[1]}"],
            ],
        },
    )  # fmt: skip
    landing.xls(
        "buji",
        "困难职工帮扶资金发放台账.xls",
        [[], [], HARDSHIP_HEADER,
         ["P1", "2021-05-01", "生活救助", NAMES[0], ID2, "1,000"],
         ["P2", "2021-05-02", "旅游", NAMES[1], ID1, "200"],
         ["P3", "2020-05-02", "子女助学", NAMES[2], ID_X, "300"]],
    )  # fmt: skip
    dream = [
        {
            "姓名": NAMES[2],
            "公民身份号码": ID_X,
            "单位统一社会信用代码": CC1,
            "报名日期": "2021-04-01",
        },
        {
            "姓名": NAMES[3],
            "公民身份号码": ID_BAD,
            "单位统一社会信用代码": CC2,
            "报名日期": "2021-04-02",
        },
    ]
    landing.json("pinghu", "dream.json", {"records": dream})
    landing.csv(
        "pinghu", "纠纷2021Q1.csv", [DISPUTE_HEADER, dispute("A1"), dispute("A2", dtype="?")]
    )
    landing.csv("pinghu", "纠纷2021Q1_v2.csv", [DISPUTE_HEADER, dispute("A1"), dispute("A2")])
    landing.raw_bytes("pinghu", "坏文件.xlsx", b"not a workbook")
    before = landing.snapshot()
    report, con = run_ingest(landing)
    return landing, report, con, before


def test_mixed_landing_statuses(mixed):
    _landing, report, _con, _before = mixed
    assert isinstance(report, IngestReport)
    assert report.count_by_status() == {"loaded": 4, "superseded": 1, "rejected": 1}
    assert report.rows_loaded == 2 + 1 + 1 + 2
    assert report.rows_quarantined == 2 + 2 + 1 + 0


def test_nothing_is_lost(mixed, mapping):
    _landing, _report, con, _before = mixed
    files = fetch(con, "select * from raw.source_files")
    for meta in files:
        name = meta["_source_file"]
        in_tables = sum(
            con.execute(f"select count(*) from raw.{k} where _source_file = ?", [name]).fetchone()[
                0
            ]
            for k in mapping.kinds
        )
        in_quarantine = con.execute(
            "select count(*) from raw.quarantine where _source_file = ?", [name]
        ).fetchone()[0]
        assert meta["rows_loaded"] == in_tables, name
        assert meta["rows_quarantined"] == in_quarantine, name
        assert meta["rows_data"] == meta["rows_loaded"] + meta["rows_quarantined"], name
        if meta["status"] in ("loaded", "superseded"):
            assert meta["rows_data"] > 0, name
    roster = source_file(con, "会员信息采集表.xlsx")
    assert (roster["rows_data"], roster["rows_loaded"], roster["rows_quarantined"]) == (4, 2, 2)


def test_provenance_on_every_row(mixed, mapping):
    landing, _report, con, _before = mixed
    sha = {
        p.relative_to(landing.root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in landing.root.rglob("*")
        if p.is_file()
    }
    for table in [*mapping.kinds, "quarantine"]:
        for row in fetch(con, f"select * from raw.{table}"):
            assert row["_source_file"] in sha, table
            assert row["_file_sha256"] == sha[row["_source_file"]], table
            assert row["_run_id"] == RUN_ID
            assert row["_source_row"] >= 1
            is_excel = row["_source_file"].endswith(("xlsx", "xls"))
            assert (row["_source_sheet"] is not None) == is_excel, row["_source_file"]
    rows = {
        (r["_source_file"].split("/")[-1], r["_source_sheet"], r["_source_row"])
        for t in ["member_roster", "hardship_assistance", "dream_program", "quarantine"]
        for r in fetch(con, f"select * from raw.{t}")
    }
    assert rows == {
        ("会员信息采集表.xlsx", "会员", 5),  # the sheet starts with two blank rows
        ("会员信息采集表.xlsx", "会员", 6),
        ("会员信息采集表.xlsx", "会员", 8),
        ("会员信息采集表.xlsx", "会员", 9),
        ("困难职工帮扶资金发放台账.xls", "Sheet1", 4),  # .xls with leading blank rows
        ("困难职工帮扶资金发放台账.xls", "Sheet1", 5),
        ("困难职工帮扶资金发放台账.xls", "Sheet1", 6),
        ("dream.json", None, 1),
        ("dream.json", None, 2),
        ("纠纷2021Q1.csv", None, 3),
    }
    for row in fetch(con, "select * from raw.member_roster"):
        assert row["_ingested_at"] is not None


def test_no_personal_data_in_any_table(mixed):
    _landing, _report, con, _before = mixed
    cells = varchar_values(con)
    assert cells, "the scan must see the tables"
    leaks = [(t, c, v) for t, c, v in cells for pii in PII_VALUES if pii in v]
    assert leaks == []
    for table in ("member_roster", "dream_program", "hardship_assistance"):
        cols = {c[0] for c in fetch_columns(con, table)}
        assert "name" not in cols and "phone" not in cols and "id_number" not in cols


def test_quarantine_masks_personal_data(mixed):
    _landing, _report, con, _before = mixed
    rows = fetch(con, "select * from raw.quarantine where report_kind = 'member_roster'")
    assert len(rows) == 2
    for q in rows:
        record = json.loads(q["record_json"])
        assert record["姓名"] == "***" and record["公民身份号码"] == "***"
        assert record["手机号码"] == "***"
        assert record["性别"] == "男"  # other columns stay readable for the data officer
        assert "***" in q["reason"]


def test_keyed_hash_is_stable_and_depends_on_the_key(mixed, run_ingest):
    landing, _report, con, _before = mixed
    keys = lambda c: sorted(  # noqa: E731
        r[0] for r in c.execute("select person_key from raw.member_roster").fetchall()
    )
    first = keys(con)
    assert first == sorted([hashed(ID1), hashed(ID_X)])
    _r, again = run_ingest(landing)
    assert keys(again) == first
    _r, other = run_ingest(landing, key=b"another-key")
    assert set(keys(other)).isdisjoint(first)
    assert keys(other) == sorted([hashed(ID1, b"another-key"), hashed(ID_X, b"another-key")])


def test_landing_is_unchanged(mixed):
    landing, _report, _con, before = mixed
    assert landing.snapshot() == before


def test_reingestion_replaces_rows_and_a_street_scope_keeps_the_others(mixed, mapping):
    from orchestration.lib.ingest import ingest

    landing, _report, con, _before = mixed
    count = lambda: con.execute("select count(*) from raw.member_roster").fetchone()[0]  # noqa: E731
    assert count() == 2
    ingest(landing.root, con, mapping, "run-2", key=PII_KEY)
    assert count() == 2
    ingest(landing.root, con, mapping, "run-3", streets=["pinghu"], key=PII_KEY)
    runs = dict(
        con.execute("select street_code, max(_run_id) from raw.source_files group by 1").fetchall()
    )
    assert runs == {"buji": "run-2", "pinghu": "run-3"}
    assert count() == 2


# ------------------------------------------------------------------------------ onboarding


ONBOARDING = """
  - name: hr_system_export
    streets: [pingdi]
    file_glob: "*HR_export*"
    kind: dispute_cases
    sheet: Cases
    header_row: 5
    columns:
      Case No: case_no
      Accepted: accepted_on
      Company: enterprise_name
      Workers: workers_involved
      Type: dispute_type
      Recovered (10k CNY): recovered_amount
    units: {recovered_amount: 万元}
    values: {dispute_type: {Wages: 欠薪, Other: 其他}}
  - name: hr_system_companies
    streets: [pingdi]
    file_glob: "*HR_companies*"
    kind: enterprise_register
    header_row: 5
    columns: {USCC: credit_code, Company: enterprise_name, Staff: employee_count, Union: has_union}
    booleans: {"true": [Established], "false": [Pending]}
"""


def test_config_only_onboarding_of_a_new_template(landing, run_ingest, tmp_path):
    preamble = [["HR system export"], ["Generated 2021-12-31"], [], ["Confidential"]]
    landing.xlsx(
        "pingdi",
        "2021_HR_export.xlsx",
        {
            "Notes": [["Case No", "Accepted"], ["read me", "2021-01-01"]],
            "Cases": [
                *preamble,
                ["Case No", "Accepted", "Company", "Workers", "Type", "Recovered (10k CNY)"],
                ["C-1", "2021-02-01", "Acme Ltd", 4, "Wages", 1.2345],
                ["C-2", "2021-02-02", "Beta Ltd", 1, "Other", "0.5"],
            ],
        },
    )
    landing.xlsx(
        "pingdi",
        "2021_HR_companies.xlsx",
        [*preamble, ["USCC", "Company", "Staff", "Union"], [CC1, "Acme Ltd", 120, "Established"],
         [CC2, "Beta Ltd", 8, "Pending"]],
    )  # fmt: skip
    default_report, default_con = run_ingest(landing)
    assert {f.status for f in default_report.files} == {"unrecognised"}
    assert fetch(default_con, "select * from raw.dispute_cases") == []

    custom = mapping_with_templates(tmp_path, ONBOARDING)
    report, con = run_ingest(landing, mapping=load_mapping(custom))
    assert report.problems() == []
    got = [
        (r["case_no"], r["accepted_on"], r["enterprise_name"], r["workers_involved"],
         r["dispute_type"], r["recovered_amount"], r["_source_sheet"], r["_source_row"])
        for r in loaded(con, "dispute_cases")
    ]  # fmt: skip
    assert got == [
        ("C-1", dt.date(2021, 2, 1), "Acme Ltd", 4, "欠薪", Decimal("12345.00"), "Cases", 6),
        ("C-2", dt.date(2021, 2, 2), "Beta Ltd", 1, "其他", Decimal("5000.00"), "Cases", 7),
    ]
    companies = [
        (r["credit_code"], r["employee_count"], r["has_union"])
        for r in loaded(con, "enterprise_register")
    ]
    assert companies == [(CC1, 120, True), (CC2, 8, False)]
    assert "Notes" in source_file(con, "2021_HR_export.xlsx")["notes"]


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


def test_full_width_version_marker_is_a_resubmission(landing, run_ingest):
    landing.csv("buji", "劳资纠纷台账.csv", [DISPUTE_HEADER, dispute("A1")])
    landing.csv("buji", "劳资纠纷台账（v2）.csv", [DISPUTE_HEADER, dispute("A1")])
    _report, con = run_ingest(landing)
    assert source_file(con, "劳资纠纷台账.csv")["status"] == "superseded"
    assert source_file(con, "劳资纠纷台账（v2）.csv")["version"] == 2


def test_an_empty_street_scope_changes_nothing(mixed, mapping):
    from orchestration.lib.ingest import ingest

    landing, _report, con, _before = mixed
    before = con.execute("select count(*) from raw.source_files").fetchone()[0]
    ingest(landing.root, con, mapping, "run-empty", streets=[], key=PII_KEY)
    assert con.execute("select count(*) from raw.source_files").fetchone()[0] == before
    assert con.execute("select count(*) from raw.member_roster").fetchone()[0] == 2
