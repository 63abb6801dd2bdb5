"""The declarative mapping: it holds the landing contract's kinds, headers and synonyms, and
validates the templates a data engineer adds."""

from __future__ import annotations

from pathlib import Path

import pytest
from mappings import CONTRACT_MAPPING, mapping_with_templates

from orchestration.lib.mapping import (
    MappingError,
    load_mapping,
    normalize_text,
    split_header,
)

# Landing contract section 2: kind → {header or synonym: field}; required fields per kind.
CONTRACT_HEADERS = {
    "enterprise_register": {
        "统一社会信用代码": "credit_code",
        "社会信用代码": "credit_code",
        "信用代码": "credit_code",
        "企业名称": "enterprise_name",
        "单位名称": "enterprise_name",
        "企业（单位）名称": "enterprise_name",
        "所属社区": "community",
        "社区": "community",
        "行业": "industry",
        "行业类别": "industry",
        "所属行业": "industry",
        "职工人数": "employee_count",
        "职工总数": "employee_count",
        "从业人数": "employee_count",
        "员工人数": "employee_count",
        "是否建会": "has_union",
        "建会情况 (已建/未建)": "has_union",
        "是否建立工会": "has_union",
        "建会日期": "union_founded_on",
        "工会成立日期": "union_founded_on",
        "是否推行职工议事会": "has_worker_council",
        "议事会制度": "has_worker_council",
        "是否重点企业": "is_key_enterprise",
        "重点企业": "is_key_enterprise",
    },
    "member_roster": {
        "姓名": "name",
        "会员姓名": "name",
        "公民身份号码": "person_key",
        "身份证号": "person_key",
        "身份证号码": "person_key",
        "证件号码": "person_key",
        "性别": "gender",
        "手机号码": "phone",
        "联系电话": "phone",
        "手机": "phone",
        "单位统一社会信用代码": "employer_credit_code",
        "所在单位信用代码": "employer_credit_code",
        "入会日期": "joined_on",
        "采集日期": "collected_on",
        "信息采集日期": "collected_on",
        "录入日期": "collected_on",
        "是否实名认证": "verified",
        "实名认证": "verified",
        "认证状态 (已认证/未认证)": "verified",
        "实名认证日期": "verified_on",
        "认证日期": "verified_on",
    },
    "dispute_cases": {
        "案件编号": "case_no",
        "编号": "case_no",
        "案号": "case_no",
        "受理日期": "accepted_on",
        "受理时间": "accepted_on",
        "登记日期": "accepted_on",
        "企业名称": "enterprise_name",
        "单位名称": "enterprise_name",
        "统一社会信用代码": "credit_code",
        "信用代码": "credit_code",
        "涉及人数": "workers_involved",
        "涉及职工人数": "workers_involved",
        "涉事人数": "workers_involved",
        "纠纷类型": "dispute_type",
        "争议类型": "dispute_type",
        "处理结果": "outcome",
        "调处结果": "outcome",
        "办理结果": "outcome",
        "结案日期": "closed_on",
        "挽回经济损失（元）": "recovered_amount",
        "挽回金额": "recovered_amount",
        "为职工挽回经济损失": "recovered_amount",
    },
    "worker_requests": {
        "诉求编号": "request_no",
        "编号": "request_no",
        "企业统一社会信用代码": "credit_code",
        "统一社会信用代码": "credit_code",
        "提出日期": "raised_on",
        "收集日期": "raised_on",
        "诉求类别": "category",
        "办理状态": "status",
        "状态": "status",
        "解决层级": "resolved_level",
        "解决途径": "resolved_level",
    },
    "worker_activities": {
        "活动编号": "activity_no",
        "编号": "activity_no",
        "活动名称": "title",
        "名称": "title",
        "活动类别": "category",
        "类别": "category",
        "所属项目": "project",
        "项目名称": "project",
        "活动日期": "held_on",
        "举办日期": "held_on",
        "日期": "held_on",
        "参与人次": "participants",
        "参加人次": "participants",
        "惠及人次": "participants",
    },
    "dream_program": {
        "姓名": "name",
        "公民身份号码": "person_key",
        "身份证号": "person_key",
        "单位统一社会信用代码": "employer_credit_code",
        "所在单位信用代码": "employer_credit_code",
        "报名日期": "registered_on",
        "报读专业": "major",
        "专业": "major",
    },
    "hardship_assistance": {
        "发放编号": "payment_no",
        "编号": "payment_no",
        "发放日期": "paid_on",
        "帮扶类型": "aid_type",
        "救助类型": "aid_type",
        "受助职工姓名": "name",
        "姓名": "name",
        "公民身份号码": "person_key",
        "身份证号": "person_key",
        "发放金额（元）": "amount",
        "金额": "amount",
    },
    "care_services": {
        "服务编号": "service_no",
        "编号": "service_no",
        "服务日期": "served_on",
        "日期": "served_on",
        "服务类型": "service_type",
        "类型": "service_type",
        "服务人数": "persons",
        "人数": "persons",
    },
}
CONTRACT_REQUIRED = {
    "enterprise_register": {"credit_code", "enterprise_name", "employee_count", "has_union"},
    "member_roster": {"name", "person_key", "collected_on", "verified"},
    "dispute_cases": {
        "case_no",
        "accepted_on",
        "enterprise_name",
        "workers_involved",
        "recovered_amount",
    },
    "worker_requests": {"request_no", "credit_code", "raised_on", "status"},
    "worker_activities": {"activity_no", "title", "category", "held_on", "participants"},
    "dream_program": {"name", "person_key", "employer_credit_code", "registered_on"},
    "hardship_assistance": {"payment_no", "paid_on", "aid_type", "name", "person_key", "amount"},
    "care_services": {"service_no", "served_on", "service_type", "persons"},
}
PII = {("member_roster", "name"): "drop", ("member_roster", "phone"): "drop"}
PII |= {("member_roster", "person_key"): "hash", ("dream_program", "name"): "drop"}
PII |= {("dream_program", "person_key"): "hash", ("hardship_assistance", "name"): "drop"}
PII |= {("hardship_assistance", "person_key"): "hash"}


@pytest.fixture(scope="module")
def default():
    return load_mapping()


def test_the_eight_contract_kinds(default):
    assert set(default.kinds) == set(CONTRACT_HEADERS)


@pytest.mark.parametrize("kind", sorted(CONTRACT_HEADERS))
def test_every_contract_header_and_synonym_maps_to_its_field(default, kind):
    lookup = default.kinds[kind].header_lookup()
    for header, expected in CONTRACT_HEADERS[kind].items():
        candidates, _unit = split_header(header, default.units)
        found = next((lookup[c][0] for c in candidates if c in lookup), None)
        assert found == expected, f"{kind}: {header!r} → {found}"


@pytest.mark.parametrize("kind", sorted(CONTRACT_REQUIRED))
def test_required_fields_match_the_contract(default, kind):
    assert set(default.kinds[kind].required) == CONTRACT_REQUIRED[kind]


def test_pii_fields_are_dropped_or_hashed_and_nothing_else_is(default):
    found = {
        (k.name, f.name): f.pii for k in default.kinds.values() for f in k.fields.values() if f.pii
    }
    assert found == PII
    roster = default.kinds["member_roster"]
    assert {f.name for f in roster.stored_fields} == set(roster.fields) - {"name", "phone"}


def test_category_vocabularies(default):
    kinds = default.kinds
    assert kinds["dispute_cases"].fields["dispute_type"].values == (
        "欠薪",
        "社保",
        "解除劳动合同",
        "工伤",
        "加班",
        "其他",
    )
    assert set(kinds["care_services"].fields["service_type"].values) == {
        "工伤探视",
        "心理咨询疏导",
        "工伤法律咨询",
        "转介驻点律师",
    }


def test_boolean_spellings_survive_yaml(default):
    """``yes``/``no`` must stay words, not become YAML 1.1 booleans."""
    assert {"是", "y", "yes", "true", "1", "√", "已建", "已认证"} <= set(default.booleans[True])
    assert {"否", "n", "no", "false", "0", "×", "未建", "未认证"} <= set(default.booleans[False])


def test_units_and_markers(default):
    assert default.units["万元"] == 10000 and default.units["元"] == 1
    assert {"合计", "小计"} <= set(default.total_row_markers)
    assert {"填表人", "审核人"} <= set(default.trailer_row_markers)
    assert default.is_non_data_sheet("说明") and default.is_non_data_sheet(" 填表说明 ")
    assert not default.is_non_data_sheet("1月")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("挽回经济损失\n（万元）", (["挽回经济损失(万元)", "挽回经济损失"], "万元")),
        ("发放金额（元）", (["发放金额(元)", "发放金额"], "元")),
        ("建会情况 (已建/未建)", (["建会情况(已建/未建)", "建会情况"], None)),
        ("企 业 名 称", (["企业名称"], None)),
        ("【备注】", (["(备注)"], None)),
        ("  ", ([], None)),
    ],
)
def test_split_header(default, raw, expected):
    assert split_header(raw, default.units) == expected


def test_normalize_text():
    assert normalize_text(" 企业（单位）\n名称 ") == "企业(单位)名称"
    assert normalize_text("ＡＢＣ　１２") == "abc12"


# --------------------------------------------------------------------------------- templates


def _mapping_with(tmp_path: Path, templates_yaml: str) -> Path:
    return mapping_with_templates(tmp_path, templates_yaml)


GOOD_TEMPLATE = """
  - name: pingdi_hr_export
    streets: [pingdi]
    file_glob: "*HR_export*.xlsx"
    kind: dispute_cases
    sheet: Cases
    header_row: 5
    columns: {Case No: case_no, "Recovered (10k CNY)": recovered_amount}
    units: {recovered_amount: 万元}
    booleans: {"true": [Yes, On], "false": [No, Off]}
    values: {dispute_type: {Wages: 欠薪}}
"""


def test_template_is_parsed(tmp_path):
    m = load_mapping(_mapping_with(tmp_path, GOOD_TEMPLATE))
    [t] = m.templates
    assert t.kind == "dispute_cases" and t.sheet == "Cases" and t.header_row == 5
    assert t.columns == {"caseno": "case_no", "recovered(10kcny)": "recovered_amount"}
    assert t.units == {"recovered_amount": "万元"}
    assert t.booleans == {True: ("yes", "on"), False: ("no", "off")}
    assert t.values == {"dispute_type": {"wages": "欠薪"}}
    assert m.template_for("pingdi", "2021_HR_export.xlsx") is t
    assert m.template_for("pingdi", "2021_hr_EXPORT.XLSX") is t
    assert m.template_for("buji", "2021_HR_export.xlsx") is None
    assert m.template_for("pingdi", "劳资纠纷台账.xlsx") is None


def test_gonghui_mapping_environment_variable(tmp_path, monkeypatch):
    path = _mapping_with(tmp_path, GOOD_TEMPLATE)
    monkeypatch.setenv("GONGHUI_MAPPING", str(path))
    assert load_mapping().path == path


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("  - {name: t, kind: nonsense}", "unknown kind 'nonsense'"),
        ("  - {name: t, kind: dispute_cases, columns: {A: nonsense}}", "unknown field 'nonsense'"),
        ("  - {name: t, units: {recovered_amount: 千克}}", "unit '千克'"),
        ("  - {name: t, header_row: 0}", "header_row"),
    ],
)
def test_invalid_templates_are_refused_with_a_message(tmp_path, template, message):
    with pytest.raises(MappingError, match=message):
        load_mapping(_mapping_with(tmp_path, template + "\n"))


def test_invalid_field_definitions_are_refused(tmp_path):
    text = CONTRACT_MAPPING.read_text(encoding="utf-8")
    broken = text.replace("type: int, required: true, unit: 人}", "type: integer}", 1)
    path = tmp_path / "sources.yml"
    path.write_text(broken, "utf-8")
    with pytest.raises(MappingError, match="unknown type 'integer'"):
        load_mapping(path)


def test_unreadable_mapping_file(tmp_path):
    with pytest.raises(MappingError, match="cannot be read"):
        load_mapping(tmp_path / "missing.yml")


# --------------------------------------------------------------------------------- value rules


def test_the_contract_spellings_are_the_defaults_value_rules(default):
    rules = default.field_rules("accepted_on", None)
    assert rules.date_formats[0] == "%Y-%m-%d" and "%Y年%m月%d日" in rules.date_formats
    assert (rules.decimal_separator, rules.thousands_separator) == (".", ",")
    assert rules.excel_date_serials and rules.null_markers == ()
    assert "无" in rules.booleans[False]  # so 无 is not a null marker by default


RULES_TEMPLATE = """
  - name: rules
    kind: dispute_cases
    date_formats: ["%d/%m/%Y"]
    null_markers: ["-", N/A]
    decimal_separator: ","
    thousands_separator: "."
    fields:
      closed_on: {date_formats: ["%B %d, %Y"], null_markers: [open]}
      workers_involved: {decimal_separator: ".", thousands_separator: ""}
"""


def test_value_rules_resolve_field_then_template_then_defaults(tmp_path):
    m = load_mapping(_mapping_with(tmp_path, RULES_TEMPLATE))
    [t] = m.templates
    accepted = m.field_rules("accepted_on", t)
    assert accepted.date_formats == ("%d/%m/%Y", *m.rules.date_formats)
    assert accepted.null_markers == ("-", "n/a")
    closed = m.field_rules("closed_on", t)
    assert closed.date_formats[0] == "%B %d, %Y" and "%d/%m/%Y" not in closed.date_formats
    assert closed.null_markers == ("open", "-", "n/a")  # markers add up
    amount = m.field_rules("recovered_amount", t)
    assert (amount.decimal_separator, amount.thousands_separator) == (",", ".")
    workers = m.field_rules("workers_involved", t)
    assert (workers.decimal_separator, workers.thousands_separator) == (".", "")
    assert m.field_rules("accepted_on", None).date_formats == m.rules.date_formats


def test_a_fields_own_boolean_words_win_over_the_defaults(tmp_path):
    template = """
  - name: b
    kind: enterprise_register
    booleans: {"true": [Established]}
    fields:
      has_union: {booleans: {"true": [pending], "false": ["yes"]}}
"""
    m = load_mapping(_mapping_with(tmp_path, template))
    rules = m.field_rules("has_union", m.templates[0])
    assert "pending" in rules.booleans[True] and "established" in rules.booleans[True]
    assert "yes" in rules.booleans[False] and "yes" not in rules.booleans[True]
    assert "yes" in m.field_rules("is_key_enterprise", m.templates[0]).booleans[True]


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("  - {name: t, date_formats: ['%d/%m']}", r"date_formats: '%d/%m': no year"),
        ("  - {name: t, date_formats: ['%Y-%m-%d %H']}", r"unknown directive\(s\) \['%H'\]"),
        ("  - {name: t, decimal_separator: ','}", "decimal_separator and thousands_separator"),
        ("  - {name: t, decimal_separator: '12'}", r"decimal_separator: String should have"),
        ("  - {name: t, kind: dispute_cases, fields: {nonsense: {}}}", "unknown field 'nonsense'"),
        (
            "  - {name: t, kind: dispute_cases, fields: {case_no: {date_formats: ['%Y']}}}",
            "fields.case_no.date_formats: applies to date fields; 'case_no' is text",
        ),
        (
            "  - {name: t, kind: dispute_cases, fields: {accepted_on: {format: x}}}",
            r"fields.accepted_on.format: unknown key",
        ),
        ("  - {name: t, skip_rows_above: -1}", "skip_rows_above"),
    ],
)
def test_invalid_value_rules_are_refused_naming_the_key(tmp_path, template, message):
    with pytest.raises(MappingError, match=message):
        load_mapping(_mapping_with(tmp_path, template + "\n"))


def test_a_sheet_is_named_or_matched_by_a_glob(tmp_path):
    m = load_mapping(_mapping_with(tmp_path, "  - {name: t, sheet: 'Cases 20*'}\n"))
    [t] = m.templates
    assert t.reads_sheet("Cases 2021") and t.reads_sheet("ＣＡＳＥＳ 2022")
    assert not t.reads_sheet("Lookup") and t.reads_sheet(None)
