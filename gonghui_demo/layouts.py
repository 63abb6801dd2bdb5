"""Per-street file shapes of the demo landing data (see the package docstring for an overview).

A street's submission for one report kind is described by a :class:`Plan`: a file-name
template, a :class:`Style` (format, encoding, header wording, title rows, totals, value
spellings, ...), a period split (one annual file, monthly/quarterly files, cumulative quarterly
files, or one workbook with a sheet per month/quarter) and optional resubmissions.
:func:`plan_files` expands a plan into :class:`FileSpec` objects, one per file on disk, each
knowing the deviation families it exercises (:data:`FAMILIES`); :func:`render_sheet` turns
canonical records into the rows of one sheet.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from .population import (
    KEY_FIELD,
    STREET_CODES,
    STREET_NAME,
    year_end,
)

# ---------------------------------------------------------------------------------------------
# templates (docs/spec/landing-contract.md section 2): field, type; synonyms (canonical first)

FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "enterprise_register": (
        ("credit_code", "credit"),
        ("enterprise_name", "text"),
        ("community", "text"),
        ("industry", "text"),
        ("employee_count", "int"),
        ("has_union", "bool"),
        ("union_founded_on", "date"),
        ("has_worker_council", "bool"),
        ("is_key_enterprise", "bool"),
    ),
    "member_roster": (
        ("name", "text"),
        ("id_number", "id"),
        ("gender", "category"),
        ("phone", "text"),
        ("employer_credit_code", "credit"),
        ("joined_on", "date"),
        ("collected_on", "date"),
        ("verified", "bool"),
        ("verified_on", "date"),
    ),
    "dispute_cases": (
        ("case_no", "text"),
        ("accepted_on", "date"),
        ("enterprise_name", "text"),
        ("credit_code", "credit"),
        ("workers_involved", "int"),
        ("dispute_type", "category"),
        ("outcome", "category"),
        ("closed_on", "date"),
        ("recovered_amount", "amount"),
    ),
    "worker_requests": (
        ("request_no", "text"),
        ("credit_code", "credit"),
        ("raised_on", "date"),
        ("category", "text"),
        ("status", "category"),
        ("resolved_level", "category"),
    ),
    "worker_activities": (
        ("activity_no", "text"),
        ("title", "text"),
        ("category", "category"),
        ("project", "text"),
        ("held_on", "date"),
        ("participants", "int"),
    ),
    "dream_program": (
        ("name", "text"),
        ("id_number", "id"),
        ("employer_credit_code", "credit"),
        ("registered_on", "date"),
        ("major", "text"),
    ),
    "hardship_assistance": (
        ("payment_no", "text"),
        ("paid_on", "date"),
        ("aid_type", "category"),
        ("name", "text"),
        ("id_number", "id"),
        ("amount", "amount"),
    ),
    "care_services": (
        ("service_no", "text"),
        ("served_on", "date"),
        ("service_type", "category"),
        ("persons", "int"),
    ),
}

SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "enterprise_register": {
        "credit_code": ("统一社会信用代码", "社会信用代码", "信用代码"),
        "enterprise_name": ("企业名称", "单位名称", "企业（单位）名称"),
        "community": ("所属社区", "社区"),
        "industry": ("行业", "行业类别", "所属行业"),
        "employee_count": ("职工人数", "职工总数", "从业人数", "员工人数"),
        "has_union": ("是否建会", "建会情况", "是否建立工会"),
        "union_founded_on": ("建会日期", "工会成立日期"),
        "has_worker_council": ("是否推行职工议事会", "议事会制度"),
        "is_key_enterprise": ("是否重点企业", "重点企业"),
    },
    "member_roster": {
        "name": ("姓名", "会员姓名"),
        "id_number": ("公民身份号码", "身份证号", "身份证号码", "证件号码"),
        "gender": ("性别",),
        "phone": ("手机号码", "联系电话", "手机"),
        "employer_credit_code": ("单位统一社会信用代码", "所在单位信用代码"),
        "joined_on": ("入会日期",),
        "collected_on": ("采集日期", "信息采集日期", "录入日期"),
        "verified": ("是否实名认证", "实名认证", "认证状态"),
        "verified_on": ("实名认证日期", "认证日期"),
    },
    "dispute_cases": {
        "case_no": ("案件编号", "编号", "案号"),
        "accepted_on": ("受理日期", "受理时间", "登记日期"),
        "enterprise_name": ("企业名称", "单位名称"),
        "credit_code": ("统一社会信用代码", "信用代码"),
        "workers_involved": ("涉及人数", "涉及职工人数", "涉事人数"),
        "dispute_type": ("纠纷类型", "争议类型"),
        "outcome": ("处理结果", "调处结果", "办理结果"),
        "closed_on": ("结案日期",),
        "recovered_amount": ("挽回经济损失", "挽回金额", "为职工挽回经济损失"),
    },
    "worker_requests": {
        "request_no": ("诉求编号", "编号"),
        "credit_code": ("企业统一社会信用代码", "统一社会信用代码"),
        "raised_on": ("提出日期", "收集日期"),
        "category": ("诉求类别",),
        "status": ("办理状态", "状态"),
        "resolved_level": ("解决层级", "解决途径"),
    },
    "worker_activities": {
        "activity_no": ("活动编号", "编号"),
        "title": ("活动名称", "名称"),
        "category": ("活动类别", "类别"),
        "project": ("所属项目", "项目名称"),
        "held_on": ("活动日期", "举办日期", "日期"),
        "participants": ("参与人次", "参加人次", "惠及人次"),
    },
    "dream_program": {
        "name": ("姓名",),
        "id_number": ("公民身份号码", "身份证号"),
        "employer_credit_code": ("单位统一社会信用代码", "所在单位信用代码"),
        "registered_on": ("报名日期",),
        "major": ("报读专业", "专业"),
    },
    "hardship_assistance": {
        "payment_no": ("发放编号", "编号"),
        "paid_on": ("发放日期",),
        "aid_type": ("帮扶类型", "救助类型"),
        "name": ("受助职工姓名", "姓名"),
        "id_number": ("公民身份号码", "身份证号"),
        "amount": ("发放金额", "金额"),
    },
    "care_services": {
        "service_no": ("服务编号", "编号"),
        "served_on": ("服务日期", "日期"),
        "service_type": ("服务类型", "类型"),
        "persons": ("服务人数", "人数"),
    },
}

KIND_TITLE = {
    "enterprise_register": "企业建会情况台账",
    "member_roster": "工会会员信息采集表",
    "dispute_cases": "劳资纠纷调处台账",
    "worker_requests": "职工议事会诉求台账",
    "worker_activities": "职工活动及培训台账",
    "dream_program": "“圆梦计划”报名表",
    "hardship_assistance": "困难职工帮扶资金发放台账",
    "care_services": "工伤探视及法律服务台账",
}
NUMERIC_TYPES = ("int", "amount")

# every deviation family the demo exercises (keys of MANIFEST)
FAMILIES: tuple[str, ...] = (
    # formats
    "fmt_xlsx",
    "fmt_xls",
    "csv_utf8",
    "csv_utf8_bom",
    "csv_gbk",
    "csv_gb18030",
    "json_list",
    "json_data",
    "json_records",
    "json_rows",
    # layout
    "title_rows",
    "merged_title",
    "note_rows",
    "blank_rows",
    "total_rows",
    "subtotal_rows",
    "footer_rows",
    "monthly_sheets",
    "quarterly_sheets",
    "note_sheet",
    # headers
    "header_synonyms",
    "header_spaces",
    "header_line_breaks",
    "header_halfwidth_brackets",
    "unit_yuan",
    "unit_wanyuan",
    "shuffled_columns",
    "extra_columns",
    # values
    "date_iso",
    "date_slash",
    "date_dot",
    "date_cn",
    "date_compact",
    "date_serial",
    "date_datetime",
    "bool_shi_fou",
    "bool_y_n",
    "bool_check_cross",
    "bool_1_0",
    "bool_jianhui",
    "bool_renzheng",
    "num_thousands",
    "num_fullwidth",
    "num_yuan_suffix",
    "category_spaces",
    "id_lowercase_x",
    "id_spaces",
    "pii_columns",
    # periods and resubmissions
    "annual_file",
    "monthly_files",
    "quarterly_files",
    "cumulative_quarterly",
    "resubmission_xiuding",
    "resubmission_gengzheng",
    "resubmission_v2",
    "resubmission_v3",
    "superseded",
    "cross_street_duplicates",
    # bad input
    "bad_id_check",
    "bad_credit_check",
    "bad_id_scientific",
    "bad_date_out_of_year",
    "bad_negative_amount",
    "bad_nonnumeric_amount",
    "bad_unknown_category",
    "unrecognised_file",
)

# ---------------------------------------------------------------------------------------------
# styles and plans


@dataclass(frozen=True)
class Style:
    fmt: str = "xlsx"  # xlsx | xls | csv | json
    encoding: str = "utf-8"  # csv: utf-8 | utf-8-sig | gbk | gb18030
    crlf: bool = False
    json_wrap: str | None = None  # None = a bare list; else "data" | "records" | "rows"
    synonyms: bool = True  # use the street's header synonyms (else the canonical headers)
    noise: str = ""  # "" | "spaces" | "newlines" in headers
    halfwidth: bool = False  # (元) instead of （元）
    shuffle: bool = False
    extras: tuple[str, ...] = ()  # 序号 (first), 备注 / 数据来源 (last)
    title: bool = False
    merged: bool = False
    note: bool = False
    blank_every: int = 0
    subtotal: int | str = 0  # every n data rows, or a field to group by
    total: bool = False
    footer: bool = False
    date: str = "iso"  # iso slash dot cn compact serial datetime mixed
    bool: str = "shi"  # shi yn check 10
    number: str = "plain"  # plain thousands fullwidth
    yuan_suffix: bool = False
    wan: bool = False
    cat_spaces: bool = False
    id_style: str = ""  # "" | lower | spaces
    note_sheet: str | None = None  # 填表说明 / 说明 sheet in sheet-per-period workbooks


@dataclass(frozen=True)
class Plan:
    name: str  # template: {y} year, {p} period label, {street} street name
    style: Style
    split: str = "annual"  # annual monthly_files quarterly_files cumulative_quarterly
    #                        monthly_sheets quarterly_sheets
    pf: str = "Q"  # period label: Q cnq cnq2 m ym ymc
    resubmit: tuple[tuple[int | None, tuple[str, ...]], ...] = ()  # (period, later names)


@dataclass
class SheetSpec:
    name: str
    start: date
    end: date
    cumulative: bool = False


@dataclass
class FileSpec:
    street: str
    kind: str
    name: str
    plan: Plan
    sheets: list[SheetSpec]
    as_of: date
    version: int = 0  # 0 = counted; k >= 1 = superseded, k-th perturbation
    marker: str = ""  # resubmission marker of this file's name
    period_label: str = ""
    families: set[str] = field(default_factory=set)
    bad: list[str] = field(default_factory=list)


_CNQ = ("一", "二", "三", "四")


def period_label(pf: str, year: int, p: int) -> str:
    if pf == "Q":
        return f"Q{p}"
    if pf == "cnq":
        return f"{_CNQ[p - 1]}季度"
    if pf == "cnq2":
        return f"第{_CNQ[p - 1]}季度"
    if pf == "m":
        return f"{p}月"
    if pf == "ym":
        return f"{year}-{p:02d}"
    if pf == "ymc":
        return f"{year}{p:02d}"
    raise ValueError(pf)


def _month_range(year: int, m: int) -> tuple[date, date]:
    start = date(year, m, 1)
    end = date(year + (m == 12), m % 12 + 1, 1) - timedelta(days=1)
    return start, end


def _quarter_range(year: int, q: int) -> tuple[date, date]:
    return date(year, 3 * q - 2, 1), _month_range(year, 3 * q)[1]


def _s(**kw) -> Style:
    return Style(**kw)


# --- the 11 streets ---------------------------------------------------------------------------
# pinghu: tidy xlsx ledgers with merged title, note row, 合计 and signature rows, real dates
_PH = _s(
    title=True, merged=True, note=True, total=True, footer=True, date="datetime", synonyms=False
)
# bantian: system exports (csv utf-8 / json), ISO dates, 1/0 booleans
_BT = _s(fmt="csv", date="iso", bool="10")
# buji: English file names, GBK csv from Excel (CRLF), 2021/3/5 dates, Y/N, lowercase x
_BJ = _s(fmt="csv", encoding="gbk", crlf=True, date="slash", bool="yn", id_style="lower")
# nanwan: legacy .xls, merged titles, line breaks in headers, Excel serial dates, √/×
_NW = _s(
    fmt="xls", title=True, merged=True, noise="newlines", date="serial", bool="check", total=True
)
# jihua: one workbook per kind with a sheet per month + 填表说明, 2021.3.5 dates, (元) headers
_JH = _s(
    date="dot",
    halfwidth=True,
    title=True,
    subtotal=10,
    total=True,
    note_sheet="填表说明",
)
# henggang: sheet per quarter + 说明, amounts in 万元, 20210305 dates, 1,234 numbers as text
_HG = _s(
    date="compact",
    wan=True,
    number="thousands",
    title=True,
    note=True,
    total=True,
    note_sheet="说明",
)
# yuanshan: hand-made xlsx, monthly files, spaced headers, shuffled + extra columns, blank rows
_YS = _s(
    noise="spaces",
    shuffle=True,
    extras=("序号", "备注"),
    blank_every=7,
    title=True,
    date="cn",
    bool="10",
    id_style="spaces",
    footer=True,
)
# longcheng: GB18030 csv, full-width digits, trailing 元, stray spaces, mixed date spellings
_LC = _s(
    fmt="csv",
    encoding="gb18030",
    crlf=True,
    number="fullwidth",
    yuan_suffix=True,
    cat_spaces=True,
    date="mixed",
    title=True,
    total=True,
)
# longgang: quarterly xlsx with corrections (更正, _v2, _v3, 修订)
_LG = _s(date="slash", bool="yn", title=True, total=True, footer=True)
# baolong: xlsx with Excel serial dates, shuffled and extra columns, blank rows
_BL = _s(date="serial", shuffle=True, extras=("序号", "数据来源"), blank_every=12, bool="check")
# pingdi: csv with BOM, spaced headers, note rows, an unrecognised 报送说明.txt
_PD = _s(
    fmt="csv", encoding="utf-8-sig", crlf=True, noise="spaces", title=True, note=True, date="iso"
)


def _p(name: str, style: Style, **kw) -> Plan:
    return Plan(name=name, style=style, **kw)


PLANS: dict[str, dict[str, Plan]] = {
    "pinghu": {
        "enterprise_register": _p("平湖街道{y}年企业建会情况台账.xlsx", _PH),
        "member_roster": _p(
            "平湖街道工会会员信息采集表（系统导出）.csv",
            replace(
                _PH,
                fmt="csv",
                encoding="utf-8-sig",
                title=False,
                note=False,
                total=False,
                footer=False,
                date="iso",
            ),
        ),
        "dispute_cases": _p(
            "平湖街道{y}年劳资纠纷调处台账.xlsx",
            _PH,
            resubmit=((None, ("劳资纠纷台账（修订版）.xlsx",)),),
        ),
        "worker_requests": _p("平湖街道{y}年职工议事会诉求台账.xlsx", _PH),
        "worker_activities": _p(
            "平湖街道{y}年{p}职工活动及培训台账.xlsx", _PH, split="quarterly_files", pf="cnq2"
        ),
        "dream_program": _p("平湖街道{y}年圆梦计划报名表.xlsx", _PH),
        "hardship_assistance": _p(
            "平湖街道{y}年困难职工帮扶资金发放台账.xlsx", replace(_PH, subtotal=20)
        ),
        "care_services": _p("平湖街道{y}年工伤探视及法律服务台账.xlsx", _PH),
    },
    "bantian": {
        "enterprise_register": _p(
            "bantian_enterprise_register_{y}.csv", _BT, resubmit=((None, ("{stem}_v2{ext}",)),)
        ),
        "member_roster": _p(
            "bantian_member_roster_{y}.json", replace(_BT, fmt="json", json_wrap="data")
        ),
        "dispute_cases": _p("坂田街道{y}年劳资纠纷调处台账.json", replace(_BT, fmt="json")),
        "worker_requests": _p(
            "bantian_worker_requests_{p}.json",
            replace(_BT, fmt="json", json_wrap="records"),
            split="monthly_files",
            pf="ymc",
        ),
        "worker_activities": _p(
            "坂田街道职工活动及培训台账_{y}.json", replace(_BT, fmt="json", json_wrap="rows")
        ),
        "dream_program": _p("坂田街道{y}年圆梦计划报名表.csv", _BT),
        "hardship_assistance": _p("bantian_hardship_assistance_{y}.csv", _BT),
        "care_services": _p("bantian_care_services_{y}.csv", _BT),
    },
    "buji": {
        "enterprise_register": _p("buji_enterprises_{y}.csv", _BJ),
        "member_roster": _p("buji_members_{y}{p}.csv", _BJ, split="cumulative_quarterly"),
        "dispute_cases": _p(
            "buji_disputes_{y}{p}.csv",
            replace(_BJ, title=True),
            split="cumulative_quarterly",
            resubmit=((3, ("{stem}_v2{ext}",)),),
        ),
        "worker_requests": _p("buji_requests_{y}{p}.csv", _BJ, split="quarterly_files"),
        "worker_activities": _p("buji_activities_{y}.csv", replace(_BJ, total=True)),
        "dream_program": _p("buji_dream_{y}.csv", _BJ),
        "hardship_assistance": _p("buji_hardship_{y}.csv", _BJ),
        "care_services": _p("buji_care_{y}.csv", _BJ),
    },
    "nanwan": {
        "enterprise_register": _p("南湾街道{y}年企业建会情况台账.xls", _NW),
        "member_roster": _p(
            "南湾街道会员信息采集表{y}.csv",
            replace(
                _NW, fmt="csv", encoding="gb18030", crlf=True, date="cn", total=False, noise=""
            ),
        ),
        "dispute_cases": _p("南湾街道{y}年劳资纠纷调处台账.xls", replace(_NW, date="cn")),
        "worker_requests": _p(
            "南湾街道{y}年{p}职工议事会诉求台账.xls", _NW, split="quarterly_files", pf="cnq"
        ),
        "worker_activities": _p("南湾街道{y}年职工活动及培训台账.xls", _NW),
        "dream_program": _p("南湾街道{y}年“圆梦计划”报名表.xls", replace(_NW, date="datetime")),
        "hardship_assistance": _p("南湾街道{y}年困难职工帮扶资金发放台账.xls", _NW),
        "care_services": _p("南湾街道{y}年工伤探视及法律服务台账.xls", _NW),
    },
    "jihua": {
        "enterprise_register": _p(
            "吉华街道{y}年企业建会情况台账.xlsx", replace(_JH, subtotal="community")
        ),
        "member_roster": _p(
            "吉华街道{y}年工会会员采集信息.csv",
            replace(_JH, fmt="csv", title=False, total=False, subtotal=0),
        ),
        "dispute_cases": _p("吉华街道{y}年劳资纠纷调处台账.xlsx", _JH, split="monthly_sheets"),
        "worker_requests": _p("吉华街道{y}年职工议事会诉求台账.xlsx", _JH, split="monthly_sheets"),
        "worker_activities": _p(
            "吉华街道{y}年职工活动及培训台账.xlsx", _JH, split="monthly_sheets"
        ),
        "dream_program": _p("吉华街道{y}年圆梦计划报名表.xlsx", replace(_JH, bool="check")),
        "hardship_assistance": _p(
            "吉华街道{y}年困难职工帮扶台账.xlsx", _JH, split="monthly_sheets"
        ),
        "care_services": _p(
            "吉华街道{y}年工伤探视及法律服务台账.xlsx", _JH, split="monthly_sheets"
        ),
    },
    "henggang": {
        "enterprise_register": _p("横岗街道{y}年企业建会情况台账.xlsx", _HG),
        "member_roster": _p(
            "横岗街道会员信息_{y}.json", replace(_HG, fmt="json", json_wrap="records")
        ),
        "dispute_cases": _p("横岗街道{y}年劳资纠纷调处台账.xlsx", _HG, split="quarterly_sheets"),
        "worker_requests": _p(
            "横岗街道{y}年职工议事会诉求台账.xlsx", _HG, split="quarterly_sheets"
        ),
        "worker_activities": _p(
            "横岗街道{y}年职工活动及培训台账.xlsx", _HG, split="quarterly_sheets"
        ),
        "dream_program": _p("横岗街道{y}年圆梦计划报名表.xlsx", _HG, split="quarterly_sheets"),
        "hardship_assistance": _p(
            "横岗街道{y}年困难职工帮扶资金发放台账.xlsx", _HG, split="quarterly_sheets"
        ),
        "care_services": _p(
            "横岗街道{y}年工伤探视及法律服务台账.xlsx", replace(_HG, note_sheet=None)
        ),
    },
    "yuanshan": {
        "enterprise_register": _p("园山街道{y}年企业建会情况台账.xlsx", _YS),
        "member_roster": _p("园山街道{y}年工会会员信息采集表.xlsx", _YS),
        "dispute_cases": _p(
            "园山街道{y}年{p}劳资纠纷台账.xlsx",
            replace(_YS, total=True),
            split="monthly_files",
            pf="m",
        ),
        "worker_requests": _p("园山街道{y}年职工议事会诉求台账.xlsx", _YS),
        "worker_activities": _p(
            "园山街道{y}年{p}职工活动台账.xlsx", _YS, split="monthly_files", pf="m"
        ),
        "dream_program": _p("园山街道{y}年圆梦计划报名表.xlsx", _YS),
        "hardship_assistance": _p("园山街道{y}年困难职工帮扶资金发放台账.xlsx", _YS),
        "care_services": _p(
            "园山街道{y}年{p}工伤探视及法律服务台账.xlsx", _YS, split="monthly_files", pf="m"
        ),
    },
    "longcheng": {
        "enterprise_register": _p("龙城街道{y}年企业建会情况台账.csv", _LC),
        "member_roster": _p(
            "龙城街道{y}年会员信息采集表.csv", replace(_LC, title=False, total=False, date="cn")
        ),
        "dispute_cases": _p("龙城街道劳资纠纷调处台账{p}.csv", _LC, split="monthly_files", pf="ym"),
        "worker_requests": _p("龙城街道{y}年职工议事会诉求台账.csv", _LC),
        "worker_activities": _p("龙城街道{y}年职工活动及培训台账.csv", _LC),
        "dream_program": _p("龙城街道{y}年圆梦计划报名表.csv", replace(_LC, encoding="gbk")),
        "hardship_assistance": _p(
            "龙城街道困难职工帮扶台账{p}.csv", _LC, split="monthly_files", pf="ym"
        ),
        "care_services": _p("龙城街道{y}年工伤探视及法律服务台账.csv", _LC),
    },
    "longgang": {
        "enterprise_register": _p(
            "龙岗街道{y}年企业建会情况台账.xlsx", _LG, resubmit=((None, ("{stem}（修订）{ext}",)),)
        ),
        "member_roster": _p(
            "longgang_members_{y}.csv",
            replace(_LG, fmt="csv", title=False, total=False, footer=False, date="iso"),
            resubmit=((None, ("{stem}_v2{ext}",)),),
        ),
        "dispute_cases": _p(
            "龙岗街道{y}年{p}劳资纠纷台账.xlsx",
            _LG,
            split="quarterly_files",
            pf="cnq2",
            resubmit=((2, ("{stem}_更正{ext}",)),),
        ),
        "worker_requests": _p(
            "龙岗街道{y}年{p}职工诉求台账.xlsx", _LG, split="quarterly_files", pf="cnq2"
        ),
        "worker_activities": _p(
            "龙岗街道{y}年{p}职工活动及培训台账.xlsx",
            _LG,
            split="quarterly_files",
            pf="cnq2",
            resubmit=((3, ("{stem}_v2{ext}", "{stem}_v3{ext}")),),
        ),
        "dream_program": _p("龙岗街道{y}年圆梦计划报名表.xlsx", _LG),
        "hardship_assistance": _p("龙岗街道{y}年困难职工帮扶资金发放台账.xlsx", _LG),
        "care_services": _p("龙岗街道{y}年工伤探视及法律服务台账.xlsx", _LG),
    },
    "baolong": {
        "enterprise_register": _p("宝龙街道{y}年企业建会情况台账.xlsx", _BL),
        "member_roster": _p(
            "宝龙街道会员信息采集表{y}.json", replace(_BL, fmt="json", shuffle=False)
        ),
        "dispute_cases": _p("宝龙街道{y}年劳资纠纷调处台账.xlsx", _BL),
        "worker_requests": _p("宝龙街道{y}年职工议事会诉求台账.xlsx", _BL),
        "worker_activities": _p("宝龙街道{y}年职工活动及培训台账.xlsx", replace(_BL, total=True)),
        "dream_program": _p("宝龙街道{y}年圆梦计划报名表.xlsx", _BL),
        "hardship_assistance": _p(
            "宝龙街道{y}年困难职工帮扶资金发放台账.xls",
            replace(_BL, fmt="xls", date="datetime", total=True, shuffle=False),
        ),
        "care_services": _p("宝龙街道{y}年工伤探视及法律服务台账.xlsx", _BL),
    },
    "pingdi": {
        "enterprise_register": _p("坪地街道{y}年企业建会情况台账.csv", replace(_PD, total=True)),
        "member_roster": _p(
            "坪地街道{y}年工会会员信息采集表.xlsx", replace(_PD, fmt="xlsx", date="datetime")
        ),
        "dispute_cases": _p("坪地街道{y}年劳资纠纷调处台账.csv", _PD),
        "worker_requests": _p("坪地街道{y}年职工议事会诉求台账.csv", _PD),
        "worker_activities": _p("坪地街道{y}年职工活动及培训台账.csv", replace(_PD, total=True)),
        "dream_program": _p("坪地街道{y}年圆梦计划报名表.csv", _PD),
        "hardship_assistance": _p(
            "坪地街道{y}年困难职工帮扶资金发放台账.csv", replace(_PD, total=True)
        ),
        "care_services": _p("坪地街道{y}年工伤探视及法律服务台账.csv", _PD),
    },
}

# a file that is not a report at all (the unrecognised-file path)
JUNK_FILES: dict[str, tuple[str, str]] = {
    "pingdi": (
        "报送说明.txt",
        "各位同事：\n  本街道{y}年度各类台账已按区总工会模板整理报送，"
        "如有疑问请联系街道总工会办公室。\n                    坪地街道总工会\n",
    ),
}

# deliberate bad rows (landing contract section 5), only in years >= 2021
BAD_ROWS: dict[tuple[str, str], tuple[str, ...]] = {
    ("pinghu", "enterprise_register"): ("bad_credit_check",),
    ("longcheng", "enterprise_register"): ("bad_credit_check",),
    ("henggang", "enterprise_register"): ("bad_credit_check",),
    ("pingdi", "member_roster"): ("bad_id_check", "bad_id_check"),
    ("jihua", "member_roster"): ("bad_id_check",),
    ("bantian", "member_roster"): ("bad_id_check",),
    ("yuanshan", "member_roster"): ("bad_id_scientific",),
    ("longcheng", "member_roster"): ("bad_id_scientific",),
    ("pinghu", "member_roster"): ("bad_id_scientific", "bad_id_scientific"),
    ("bantian", "dream_program"): ("bad_id_check",),
    ("nanwan", "dream_program"): ("bad_credit_check",),
    ("pinghu", "dispute_cases"): (
        "bad_nonnumeric_amount",
        "bad_date_prev_year",
        "bad_negative_amount",
    ),
    ("jihua", "dispute_cases"): ("bad_negative_amount",),
    ("henggang", "dispute_cases"): ("bad_nonnumeric_amount",),
    ("bantian", "worker_requests"): ("bad_unknown_category",),
    ("nanwan", "worker_requests"): ("bad_date_prev_year",),
    ("yuanshan", "worker_activities"): ("bad_unknown_category",),
    ("longgang", "worker_activities"): ("bad_date_next_year",),
    ("longcheng", "hardship_assistance"): ("bad_negative_amount",),
    ("baolong", "hardship_assistance"): ("bad_nonnumeric_amount",),
    ("pingdi", "hardship_assistance"): ("bad_unknown_category",),
    ("henggang", "hardship_assistance"): ("bad_id_check",),
    ("buji", "hardship_assistance"): ("bad_date_prev_year",),
    ("baolong", "care_services"): ("bad_unknown_category",),
    ("jihua", "care_services"): ("bad_date_next_year",),
    ("bantian", "care_services"): ("bad_date_next_year",),
}

# ---------------------------------------------------------------------------------------------
# headers


def street_index(street: str) -> int:
    return STREET_CODES.index(street)


def header_map(kind: str, street: str, style: Style) -> tuple[dict[str, str], dict[str, str]]:
    """Header text per field, and the boolean spelling forced by a header (建会情况 → 已建/未建)."""
    i = street_index(street)
    heads: dict[str, str] = {}
    bool_by_header: dict[str, str] = {}
    for pos, (f, typ) in enumerate(FIELDS[kind]):
        syns = SYNONYMS[kind][f]
        variant = (i + pos) % len(syns) if style.synonyms else 0
        h = syns[variant]
        if typ == "amount":
            lb, rb = ("(", ")") if style.halfwidth else ("（", "）")
            if style.wan:
                h = f"{h}{lb}万元{rb}"
            elif variant != 1:
                h = f"{h}{lb}元{rb}"
        if h == "建会情况":
            bool_by_header[f] = "jianhui"
        elif h == "认证状态":
            bool_by_header[f] = "renzheng"
        heads[f] = h
    if style.noise:
        for k, (f, h) in enumerate(list(heads.items())):
            heads[f] = _noisy(h, style.noise, k)
    return heads, bool_by_header


def _noisy(h: str, noise: str, k: int) -> str:
    if noise == "spaces":
        if len(h) == 2:
            return f"{h[0]} {h[1]}"
        return f"{h[:2]} {h[2:]}" if k % 2 else f" {h} "
    if noise == "newlines":
        for b in ("（", "("):
            if b in h:
                return h.replace(b, "\n" + b, 1)
        if len(h) >= 5:
            return h[: len(h) // 2] + "\n" + h[len(h) // 2 :]
    return h


def columns(kind: str, street: str, style: Style) -> list[str]:
    """Field order of a street's file, extras included (序号 first, others last)."""
    cols = [f for f, _ in FIELDS[kind]]
    if style.shuffle:
        random.Random(f"columns|{street}|{kind}").shuffle(cols)
        types = dict(FIELDS[kind])
        if types[cols[0]] in NUMERIC_TYPES:  # the 合计 label goes in the first column
            j = next(j for j, c in enumerate(cols) if types[c] not in NUMERIC_TYPES)
            cols[0], cols[j] = cols[j], cols[0]
    head = [e for e in style.extras if e == "序号"]
    tail = [e for e in style.extras if e != "序号"]
    return head + cols + tail


# ---------------------------------------------------------------------------------------------
# planning: which files exist and what each exercises

_DATE_FAMILY = {
    "iso": "date_iso",
    "slash": "date_slash",
    "dot": "date_dot",
    "cn": "date_cn",
    "compact": "date_compact",
    "serial": "date_serial",
    "datetime": "date_datetime",
}
_BOOL_FAMILY = {
    "shi": "bool_shi_fou",
    "yn": "bool_y_n",
    "check": "bool_check_cross",
    "10": "bool_1_0",
}
_BAD_FAMILY = {
    "bad_date_prev_year": "bad_date_out_of_year",
    "bad_date_next_year": "bad_date_out_of_year",
}


def _is_workbook(style: Style) -> bool:
    return style.fmt in ("xlsx", "xls")


def effective_date_style(style: Style) -> str:
    if style.date in ("serial", "datetime") and not _is_workbook(style):
        return "iso"
    return style.date


def _style_families(kind: str, street: str, style: Style) -> set[str]:
    fam: set[str] = set()
    if style.fmt == "xlsx":
        fam.add("fmt_xlsx")
    elif style.fmt == "xls":
        fam.add("fmt_xls")
    elif style.fmt == "csv":
        fam.add(
            {
                "utf-8": "csv_utf8",
                "utf-8-sig": "csv_utf8_bom",
                "gbk": "csv_gbk",
                "gb18030": "csv_gb18030",
            }[style.encoding]
        )
    else:
        fam.add(f"json_{style.json_wrap or 'list'}")
    types = dict(FIELDS[kind])
    numeric = any(t in NUMERIC_TYPES for t in types.values())
    text_layout = style.fmt != "json"
    if text_layout:
        if style.title:
            fam.add("title_rows")
            if style.merged and _is_workbook(style):
                fam.add("merged_title")
        if style.note:
            fam.add("note_rows")
        if style.blank_every:
            fam.add("blank_rows")
        if style.footer:
            fam.add("footer_rows")
        if numeric and style.total:
            fam.add("total_rows")
        if numeric and style.subtotal:
            fam.add("subtotal_rows")
    heads, bool_by_header = header_map(kind, street, style)
    for f, h in heads.items():
        plain = h.replace(" ", "").replace("\n", "")
        if types[f] != "amount" and plain != SYNONYMS[kind][f][0]:
            fam.add("header_synonyms")
        if " " in h:
            fam.add("header_spaces")
        if "\n" in h:
            fam.add("header_line_breaks")
        if "(" in h:
            fam.add("header_halfwidth_brackets")
        if "万元" in h:
            fam.add("unit_wanyuan")
        elif "元" in h:
            fam.add("unit_yuan")
    if style.shuffle:
        fam.add("shuffled_columns")
    if style.extras:
        fam.add("extra_columns")
    if any(t == "date" for t in types.values()):
        ds = effective_date_style(style)
        if ds == "mixed":
            fam.update(("date_iso", "date_slash", "date_cn"))
        else:
            fam.add(_DATE_FAMILY[ds])
    bool_fields = [f for f, t in types.items() if t == "bool"]
    for f in bool_fields:
        b = bool_by_header.get(f)
        fam.add(f"bool_{b}" if b else _BOOL_FAMILY[style.bool])
    if numeric:
        if style.number == "thousands":
            fam.add("num_thousands")
        elif style.number == "fullwidth":
            fam.add("num_fullwidth")
        if style.yuan_suffix and "amount" in types.values() and not style.wan:
            fam.add("num_yuan_suffix")
    if style.cat_spaces and "category" in types.values():
        fam.add("category_spaces")
    if "id" in types.values():
        if style.id_style == "lower":
            fam.add("id_lowercase_x")
        elif style.id_style == "spaces":
            fam.add("id_spaces")
    if kind in ("member_roster", "dream_program", "hardship_assistance"):
        fam.add("pii_columns")
    return fam


def _expand_name(template: str, year: int, label: str, street: str, base: str = "") -> str:
    stem, dot, ext = base.rpartition(".")
    return template.format(
        y=year, p=label, street=STREET_NAME[street], stem=stem, ext=f"{dot}{ext}" if dot else ""
    )


def _marker(name: str) -> str:
    for m, fam in (
        ("修订", "resubmission_xiuding"),
        ("更正", "resubmission_gengzheng"),
        ("_v2", "resubmission_v2"),
        ("_v3", "resubmission_v3"),
    ):
        if m in name:
            return fam
    return ""


def plan_files(street: str, kind: str, year: int) -> list[FileSpec]:
    plan = PLANS[street][kind]
    style = plan.style
    end = year_end(year)
    fam = _style_families(kind, street, style)
    periods: list[tuple[int | None, list[SheetSpec], date]] = []
    if plan.split == "annual":
        periods.append((None, [SheetSpec("Sheet1", date(year, 1, 1), end)], end))
    elif plan.split in ("monthly_files", "quarterly_files", "cumulative_quarterly"):
        monthly = plan.split == "monthly_files"
        for p in range(1, 13 if monthly else 5):
            start, stop = _month_range(year, p) if monthly else _quarter_range(year, p)
            cum = plan.split == "cumulative_quarterly"
            periods.append((p, [SheetSpec("Sheet1", start, stop, cum)], stop if cum else end))
        fam.add(
            {
                "monthly_files": "monthly_files",
                "quarterly_files": "quarterly_files",
                "cumulative_quarterly": "cumulative_quarterly",
            }[plan.split]
        )
    else:
        monthly = plan.split == "monthly_sheets"
        sheets = []
        for p in range(1, 13 if monthly else 5):
            start, stop = _month_range(year, p) if monthly else _quarter_range(year, p)
            sheets.append(SheetSpec(f"{p}月" if monthly else f"{_CNQ[p - 1]}季度", start, stop))
        periods.append((None, sheets, end))
        fam.add(plan.split)
        if style.note_sheet:
            fam.add("note_sheet")
    if plan.split == "annual" or plan.split.endswith("_sheets"):
        fam.add("annual_file")
    if kind == "member_roster":
        fam.add("cross_street_duplicates")
    bad = list(BAD_ROWS.get((street, kind), ())) if year >= 2021 else []
    specs: list[FileSpec] = []
    n_periods = len(periods)
    for idx, (p, sheets, as_of) in enumerate(periods):
        label = period_label(plan.pf, year, p) if p is not None else ""
        base = _expand_name(plan.name, year, label, street)
        later = next((names for rp, names in plan.resubmit if rp == p), ())
        names = [base] + [_expand_name(t, year, label, street, base) for t in later]
        # bad rows: before the year -> first period, otherwise -> last period
        here = [
            b
            for b in bad
            if (b == "bad_date_prev_year" and idx == 0)
            or (b != "bad_date_prev_year" and idx == n_periods - 1)
        ]
        for v, name in enumerate(names):
            version = len(names) - 1 - v  # the last name counts (0), earlier ones are superseded
            spec = FileSpec(
                street=street,
                kind=kind,
                name=name,
                plan=plan,
                sheets=sheets,
                as_of=as_of,
                version=version,
                marker=_marker(name),
                period_label=label,
                families=set(fam),
                bad=list(here),
            )
            if spec.marker:
                spec.families.add(spec.marker)
            if version:
                spec.families.add("superseded")
            else:
                spec.families.update(_BAD_FAMILY.get(b, b) for b in here)
            specs.append(spec)
    return specs


def all_file_specs(year: int) -> list[FileSpec]:
    return [
        s
        for street in STREET_CODES
        for kind in PLANS[street]
        for s in plan_files(street, kind, year)
    ]


def build_manifest(years: tuple[int, ...] = (2020, 2021)) -> dict[str, list[str]]:
    """Deviation family -> paths (``<year>/<street>/<file>``) of the files exercising it."""
    out: dict[str, list[str]] = {f: [] for f in FAMILIES}
    for year in years:
        for spec in all_file_specs(year):
            path = f"{year}/{spec.street}/{spec.name}"
            for f in sorted(spec.families):
                out[f].append(path)
        for street, (name, _) in JUNK_FILES.items():
            out["unrecognised_file"].append(f"{year}/{street}/{name}")
    return out


# ---------------------------------------------------------------------------------------------
# rendering records into rows

_FW = str.maketrans("0123456789", "０１２３４５６７８９")
_BOOLS = {
    "shi": ("是", "否"),
    "yn": ("Y", "N"),
    "check": ("√", "×"),
    "10": ("1", "0"),
    "jianhui": ("已建", "未建"),
    "renzheng": ("已认证", "未认证"),
}
_EPOCH = date(1899, 12, 30)


def _amount_text(cents: int, wan: bool) -> str:
    sign = "-" if cents < 0 else ""
    a = abs(cents)
    if wan:
        return f"{sign}{a // 1_000_000}.{a % 1_000_000:06d}"
    return f"{sign}{a // 100}.{a % 100:02d}"


def _thousands(text: str) -> str:
    sign = "-" if text.startswith("-") else ""
    body = text.lstrip("-")
    whole, dot, frac = body.partition(".")
    return f"{sign}{int(whole):,}{dot}{frac}"


def _date_formatter(style: Style) -> Callable[[date], object]:
    ds = effective_date_style(style)
    cache: dict[date, object] = {}
    spell = {
        "iso": lambda d: d.isoformat(),
        "slash": lambda d: f"{d.year}/{d.month}/{d.day}",
        "dot": lambda d: f"{d.year}.{d.month}.{d.day}",
        "cn": lambda d: f"{d.year}年{d.month}月{d.day}日",
        "compact": lambda d: f"{d:%Y%m%d}",
        "serial": lambda d: (d - _EPOCH).days,
        "datetime": lambda d: d,
    }
    if ds == "mixed":
        order = ("iso", "slash", "cn", "iso", "cn")
        state = [0]

        def mixed(d: date) -> object:
            state[0] += 1
            return spell[order[state[0] % len(order)]](d)

        return mixed
    fn = spell[ds]

    def cached(d: date) -> object:
        v = cache.get(d)
        if v is None:
            v = cache[d] = fn(d)
        return v

    return cached


def _formatter(typ: str, style: Style, bool_kind: str | None) -> Callable[[object], object]:
    numeric_cells = style.fmt != "csv"  # workbooks and json may hold real numbers
    if typ == "date":
        return _date_formatter(style)
    if typ == "bool":
        t, f = _BOOLS[bool_kind or style.bool]
        if t == "1" and numeric_cells:
            return lambda v: 1 if v else 0
        return lambda v: t if v else f
    if typ == "int":
        if style.number == "thousands":
            return lambda v: f"{v:,}"
        if style.number == "fullwidth":
            return lambda v: str(v).translate(_FW)
        return (lambda v: v) if numeric_cells else str
    if typ == "amount":
        wan = style.wan

        def amount(v: int) -> object:
            text = _amount_text(v, wan)
            if style.number == "thousands":
                text = _thousands(text)
            elif style.number == "fullwidth":
                text = text.translate(_FW)
            elif numeric_cells:
                return float(text)
            if style.yuan_suffix and not wan:
                text += "元"
            return text

        return amount
    if typ == "category" and style.cat_spaces:
        state = [0]

        def spaced(v: str) -> str:
            state[0] += 1
            k = state[0] % 4
            return f" {v}" if k == 1 else f"{v}  " if k == 3 else v

        return spaced
    if typ == "id":
        if style.id_style == "lower":
            return lambda v: v.replace("X", "x")
        if style.id_style == "spaces":
            state = [0]

            def spaced_id(v: str) -> str:
                state[0] += 1
                return f"{v[:6]} {v[6:14]} {v[14:]}" if state[0] % 3 == 0 else v

            return spaced_id
    return lambda v: v


_EXTRA_NOTES = ("", "", "", "", "已回访", "电话联系", "", "资料齐全", "")


def _column_fns(
    kind: str, style: Style, cols: list[str], bool_by_header: dict, as_of: date
) -> list[Callable]:
    """One callable per column turning a canonical record into the cell value."""
    types = dict(FIELDS[kind])
    fns: list[Callable] = []
    numeric_cells = style.fmt != "csv"
    for c in cols:
        if c == "序号":
            counter = [0]

            def seq(r, counter=counter):
                counter[0] += 1
                return counter[0] if numeric_cells else str(counter[0])

            fns.append(seq)
            continue
        if c in ("备注", "数据来源"):
            counter = [0]

            def extra(r, counter=counter, c=c):
                counter[0] += 1
                if c == "数据来源":
                    return "系统导出"
                return _EXTRA_NOTES[counter[0] % len(_EXTRA_NOTES)] or None

            fns.append(extra)
            continue
        fmt = _formatter(types[c], style, bool_by_header.get(c))
        if kind == "member_roster":
            if c == "verified":

                def g(r, fmt=fmt):
                    vo = r.verified_on
                    return fmt(vo is not None and vo <= as_of)

            elif c == "verified_on":

                def g(r, fmt=fmt):
                    vo = r.verified_on
                    return fmt(vo) if vo is not None and vo <= as_of else None

            else:
                attr = "employer" if c == "employer_credit_code" else c

                def g(r, c=c, attr=attr, fmt=fmt):
                    raw = r.raw
                    if raw is not None and c in raw:
                        return raw[c]
                    v = getattr(r, attr)
                    return None if v is None else fmt(v)

        else:

            def g(r, c=c, fmt=fmt):
                raw = r.get("_raw")
                if raw and c in raw:
                    return raw[c]
                v = r.get(c)
                return None if v is None else fmt(v)

        fns.append(g)
    return fns


def _numeric_value(rec, c: str, typ: str):
    raw = rec.get("_raw")
    if raw and c in raw:
        return None  # a non-numeric spelling does not add up
    v = rec.get(c)
    return v if isinstance(v, int) else None


@dataclass
class RenderedSheet:
    rows: Iterator[list]
    header: list[str]
    ncols: int
    header_row: int
    merge_title: bool


def render_sheet(
    kind: str,
    street: str,
    year: int,
    style: Style,
    records: list,
    as_of: date,
    title_suffix: str = "",
) -> RenderedSheet:
    heads, bool_by_header = header_map(kind, street, style)
    cols = columns(kind, street, style)
    header = [heads.get(c, c) for c in cols]
    fns = _column_fns(kind, style, cols, bool_by_header, as_of)
    n = len(cols)
    types = dict(FIELDS[kind])
    numeric_cols = [(j, c, types[c]) for j, c in enumerate(cols) if types.get(c) in NUMERIC_TYPES]
    layout = style.fmt != "json"
    title_rows: list[list] = []
    if layout and style.title:
        title_rows.append(
            [f"{STREET_NAME[street]}{year}年{KIND_TITLE[kind]}{title_suffix}"] + [None] * (n - 1)
        )
    if layout and style.note:
        unit = "万元" if style.wan else "元"
        title_rows.append(
            [f"填报单位：{STREET_NAME[street]}总工会（盖章）", None, f"金额单位：{unit}"]
            + [None] * (n - 3)
            if n >= 3
            else [f"填报单位：{STREET_NAME[street]}总工会"] + [None] * (n - 1)
        )
    header_row = len(title_rows)
    merge = bool(layout and style.title and style.merged and _is_workbook(style))
    if style.subtotal == "community":
        records = sorted(records, key=lambda r: r.get("community") or "")
    totals = layout and numeric_cols and (style.total or style.subtotal)
    sum_fmts = {c: _formatter(t, style, None) for _, c, t in numeric_cols}

    def sum_row(label: str, recs: list) -> list:
        row: list = [None] * n
        for j, c, t in numeric_cols:
            vals = [v for v in (_numeric_value(r, c, t) for r in recs) if v is not None]
            row[j] = sum_fmts[c](sum(vals))
        row[0] = label
        return row

    def data_rows() -> Iterator[list]:
        yield from title_rows
        yield header
        group: list = []
        covered: list = []
        prev_key = None
        for i, rec in enumerate(records):
            if totals and style.subtotal:
                key = (
                    rec.get("community")
                    if style.subtotal == "community"
                    else i // int(style.subtotal)
                )
                if group and key != prev_key:
                    yield sum_row("小计", group)
                    group = []
                prev_key = key
            row = [fn(rec) for fn in fns]
            yield row
            if totals:
                group.append(rec)
                covered.append(rec)
            if (
                layout
                and style.blank_every
                and (i + 1) % style.blank_every == 0
                and i + 1 < len(records)
            ):
                yield [None] * n
        if totals:
            if style.subtotal and group:
                yield sum_row("小计", group)
            if style.total:
                yield sum_row("合计", covered)
        if layout and style.footer:
            yield [None] * n
            yield ["填表人：王丽  联系电话：0755-28900000"] + [None] * (n - 1)
            yield ["审核人：陈建国", None, "填报日期：" + f"{year + 1}年1月10日"] + [None] * (n - 3)

    return RenderedSheet(data_rows(), header, n, header_row, merge)


def key_of(kind: str, rec) -> str:
    return rec.get(KEY_FIELD[kind])
