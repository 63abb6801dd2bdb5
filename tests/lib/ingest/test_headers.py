"""Header recognition (:mod:`orchestration.lib.ingest.headers`): report kind and header row from
the header cells (synonyms, spacing, brackets, units, shuffled and extra columns), also for a
template onboarded by configuration only.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from conftest import fetch, source_file
from ingest_cases import ACTIVITY_HEADER, CC1, CC2, activity, fetch_columns, loaded
from mappings import mapping_with_templates

from orchestration.lib.mapping import load_mapping


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
