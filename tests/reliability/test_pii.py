"""Personal data cannot pass through free text or quarantine (issue 10, item 5).

An extra column of emergency contacts' identity numbers, a remark holding a phone number, an
identity number typed into an activity name: none of them may reach a table, a log or an
export. Unit tests of the scrubber (:mod:`orchestration.lib.pii`), ingestion tests on tiny
landing folders, and one real run (scale-0.1 demo data plus hostile files) whose warehouse
folder is searched file by file for the landing zone's identity and phone numbers.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml
from conftest import fetch, make_credit_code, make_id, pipeline_env, varchar_values
from pii_scan import find_leaks, landing_secrets

from orchestration.lib.identifiers import CREDIT_ALPHABET
from orchestration.lib.mapping import DEFAULT_MAPPING_PATH, MappingError, load_mapping
from orchestration.lib.pii import ID_MARK, PHONE_MARK, scrub, scrub_text

ID1 = make_id("44030719900101123")
ID2 = make_id("44030719851231002")
ID3 = make_id("11010519491231002")
ID_X = make_id("44030719900101103")  # check character X
PHONE1, PHONE2, PHONE3 = "13812345678", "15987654321", "19912340000"
CC1 = make_credit_code("91440300MA5F00001")

ACTIVITY_HEADER = ["活动编号", "活动名称", "活动类别", "所属项目", "活动日期", "参与人次"]
HARDSHIP_HEADER = [
    "发放编号",
    "发放日期",
    " 帮扶类型 ",
    "受助职工姓名",
    "公民身份号码",
    "发放金额（元）",
]


# ------------------------------------------------------------------------------ the scrubber


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (ID1, ID_MARK),
        (ID_X, ID_MARK),
        (ID_X.lower(), ID_MARK),
        (f"{ID1[:6]} {ID1[6:14]} {ID1[14:]}", ID_MARK),  # 6-8-4 with spaces
        (f"{ID1[:6]}-{ID1[6:10]}-{ID1[10:14]}-{ID1[14:]}", ID_MARK),  # 6-4-4-4 with hyphens
        (f"篮球赛（联系人{ID1}）", f"篮球赛(联系人{ID_MARK})"),
        ("".join(chr(ord(c) + 0xFEE0) for c in ID1), ID_MARK),  # full-width digits
        (str(int(float(ID2[:17] + "0"))), ID_MARK),  # an Excel number's exact float digits
        (ID2[:15] + "000", ID_MARK),  # what Excel shows of it: 15 significant digits
        ("4.40307199001011E+17", ID_MARK),  # scientific notation of an 18-digit number
        ("4.40307e+17", ID_MARK),
        (f"身份证号：{ID1[:-1]}{'0' if ID1[-1] != '0' else '1'}", f"身份证号:{ID_MARK}"),  # typo
        ("证件号码 440307900101123", f"证件号码 {ID_MARK}"),  # 15-digit old style
        (PHONE1, PHONE_MARK),
        (f"联系电话{PHONE1}", f"联系电话{PHONE_MARK}"),
        ("138-1234-5678", PHONE_MARK),
        ("138 1234 5678", PHONE_MARK),
        ("+86 138 1234 5678", PHONE_MARK),
        ("+8613812345678", PHONE_MARK),
        ("86-13812345678", PHONE_MARK),
        ("008613812345678", PHONE_MARK),
        ("Tel.13812345678", f"Tel.{PHONE_MARK}"),
        ("1.3812345678E+10", PHONE_MARK),
        (f"{PHONE1}、{PHONE2},{PHONE3}", f"{PHONE_MARK}、{PHONE_MARK},{PHONE_MARK}"),
        (f"张三{PHONE1}李四{ID1}", f"张三{PHONE_MARK}李四{ID_MARK}"),
    ],
)
def test_identity_and_mobile_numbers_are_masked_however_written(text, expected):
    assert scrub_text(text) == expected


NOT_PERSONAL = [
    CC1,
    make_credit_code("91440300192203821"),  # all-digit credit code of a company
    make_credit_code("12440300455012345"),  # all-digit code of a public institution
    make_credit_code("52440300MJL123456"),
    "LG-2021-0001",
    "（2021）深龙劳调字第1234号",
    "DS2021030500012",
    "2021030500012345",  # 16-digit case number
    "4468.12",
    "44681200.00",
    "13812345678.00",  # an amount, not a phone
    "12,345,678,901",
    "1234567890",
    "2021-03-05",
    "20210305",
    "2021年3月5日",
    "2021-03-05 08:30:00",
    "44193",
    "10012345678",  # 11 digits, not a mobile prefix
    "12345678901",
    "02012345678",
    "0755-12345678",
    "075512345678",  # a landline with its area code
    "138123456789",  # 12 digits: not a phone
    "913812345678",
    "1381234567890123456",
    "440307199001011",  # 15 digits without a word naming an identity document
    "4.4e+16",
    "篮球赛",
    "",
]


@pytest.mark.parametrize("text", NOT_PERSONAL)
def test_codes_amounts_dates_and_other_numbers_are_kept(text):
    assert scrub_text(text) == text


def test_random_credit_codes_and_amounts_are_never_masked():
    rng = random.Random(11643)
    codes = [
        make_credit_code("".join(rng.choice(CREDIT_ALPHABET) for _ in range(17)))
        for _ in range(3000)
    ]
    digits = [make_credit_code(f"91{rng.randrange(10**15):015d}") for _ in range(3000)]
    amounts = [f"{rng.randrange(10**12) / 100:.2f}" for _ in range(3000)]
    values = codes + digits + amounts
    assert [v for v in values if scrub_text(v) != v] == []


def test_scrub_rewrites_only_the_values_with_a_hit():
    series = pl.Series("title", ["篮球赛", None, f"报名电话{PHONE1}", ID1, "篮球赛", "44193"])
    out = scrub(series)
    assert out.name == "title"
    assert out.to_list() == ["篮球赛", None, f"报名电话{PHONE_MARK}", ID_MARK, "篮球赛", "44193"]
    numbers = pl.Series("n", [13812345678, 1])
    assert scrub(numbers).to_list() == [13812345678, 1]  # not text: untouched


# ------------------------------------------------------------------------------ ingestion


def _activities(landing, extra_header: list[str], rows: list[list]) -> None:
    landing.xlsx("buji", "职工活动台账.xlsx", [[*ACTIVITY_HEADER, *extra_header], *rows])


def _no_personal_data(con, values: list[str]) -> list[tuple[str, str, str]]:
    return [(t, c, v) for t, c, v in varchar_values(con) for pii in values if pii in v]


def test_extra_columns_and_remarks_never_reach_quarantine(landing, run_ingest):
    """Reproduction 5: an extra 紧急联系人身份证 column and a 备注 with a phone number of a
    quarantined row ended up verbatim in ``raw.quarantine.record_json``."""
    _activities(
        landing,
        ["紧急联系人身份证", "备注", "序号"],
        [
            ["A1", "篮球赛", "职工活动", None, "2021-05-01", 20, ID1, f"联系电话{PHONE1}", 1],
            ["A2", "足球赛", "职工活动", None, "2020-12-01", 30, ID2, f"联系电话{PHONE2}", 2],
        ],
    )
    _report, con = run_ingest(landing)
    [q] = fetch(con, "select * from raw.quarantine")
    assert q["reason_code"] == "date_outside_year"
    record = json.loads(q["record_json"])
    # mapped columns stay so that the street sees what was wrong; 序号 is listed as safe
    assert record["活动编号"] == "A2" and record["活动日期"] == "2020-12-01"
    assert record["序号"] == "2"
    assert "紧急联系人身份证" not in record and "备注" not in record
    assert _no_personal_data(con, [ID1, ID2, PHONE1, PHONE2]) == []
    assert [r["activity_no"] for r in fetch(con, "select * from raw.worker_activities")] == ["A1"]


def test_identity_and_phone_numbers_in_a_text_field_are_masked_when_loaded(landing, run_ingest):
    """Reproduction 5: an identity or phone number typed into 活动名称 was loaded."""
    _activities(
        landing,
        [],
        [
            ["A1", f"篮球赛（联系人身份证{ID1}）", "职工活动", None, "2021-05-01", 20],
            ["A2", "报名请拨 138-1234-5678", "职工活动", f"项目{ID_X.lower()}", "2021-05-02", 30],
            ["A3", "篮球赛", "职工活动", None, "2021-05-03", 40],
        ],
    )
    _report, con = run_ingest(landing)
    rows = fetch(con, "select * from raw.worker_activities order by activity_no")
    assert [(r["title"], r["project"]) for r in rows] == [
        (f"篮球赛(联系人身份证{ID_MARK})", None),
        (f"报名请拨 {PHONE_MARK}", f"项目{ID_MARK}"),
        ("篮球赛", None),
    ]
    assert [r["participants"] for r in rows] == [20, 30, 40]  # the rows still count
    assert _no_personal_data(con, [ID1, ID_X, ID_X.lower(), "138-1234-5678"]) == []


def test_personal_data_in_mapped_fields_of_a_quarantined_row_is_masked(landing, run_ingest):
    """A credit code column holding an identity number is a bad credit code: the reason and
    the record show the marker, not the number."""
    landing.csv(
        "buji",
        "企业建会情况台账.csv",
        [
            ["统一社会信用代码", "企业名称", "所属社区", "职工人数", "是否建会"],
            [ID1, f"甲公司（{PHONE1}）", "布吉社区", 10, "是"],
        ],
    )
    _report, con = run_ingest(landing)
    [q] = fetch(con, "select * from raw.quarantine")
    assert q["reason_code"] == "bad_credit_code"
    assert ID_MARK in q["reason"]
    record = json.loads(q["record_json"])
    assert record["统一社会信用代码"] == ID_MARK
    assert record["企业名称"] == f"甲公司({PHONE_MARK})"
    assert _no_personal_data(con, [ID1, PHONE1]) == []


def test_a_template_lists_the_unmapped_columns_quarantine_keeps(landing, run_ingest, tmp_path):
    doc = yaml.safe_load(DEFAULT_MAPPING_PATH.read_text(encoding="utf-8"))
    doc["templates"] = [
        {
            "name": "buji_activities",
            "streets": ["buji"],
            "quarantine_keep_columns": ["备注", "紧急联系人电话"],
        }
    ]
    path = tmp_path / "sources.yml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    _activities(
        landing,
        ["备注", "序号", "紧急联系人电话"],
        [
            [
                "A2",
                "足球赛",
                "职工活动",
                None,
                "2020-12-01",
                30,
                f"联系电话{PHONE2}，请回电",
                2,
                PHONE3,
            ]
        ],
    )
    _report, con = run_ingest(landing, mapping=load_mapping(path))
    [q] = fetch(con, "select * from raw.quarantine")
    record = json.loads(q["record_json"])
    assert record["备注"] == f"联系电话{PHONE_MARK},请回电"  # kept, and scrubbed
    assert "序号" not in record  # the template's list replaces the default
    assert record["紧急联系人电话"] == "***"  # listed, but its header names personal data


@pytest.mark.parametrize("value", ["备注", ["备注", ["x"]], [""]])
def test_quarantine_keep_columns_is_validated(tmp_path, value):
    doc = yaml.safe_load(DEFAULT_MAPPING_PATH.read_text(encoding="utf-8"))
    doc["defaults"]["quarantine_keep_columns"] = value
    path = tmp_path / "sources.yml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(MappingError, match="quarantine_keep_columns"):
        load_mapping(path)


def test_reasons_show_the_trimmed_header_the_typed_value_and_a_serial_as_its_date(
    landing, run_ingest
):
    """Issue 15: reasons kept the header's whitespace (' 帮扶类型 ') and showed '44193'."""
    landing.xlsx(
        "buji",
        "困难职工帮扶资金发放台账.xlsx",
        [
            HARDSHIP_HEADER,
            ["P1", 44193, "生活救助", "欧阳明远", ID1, 500],  # serial of 2020-12-28
            ["P2", "2021-03-05", "生活 补贴", "司马青云", ID2, 500],
            ["P3", "2021-03-05", "生活救助", "诸葛春华", ID3, "５百元"],
        ],
    )
    _report, con = run_ingest(landing)
    reasons = {
        q["_source_row"]: q["reason"]
        for q in fetch(con, "select * from raw.quarantine order by _source_row")
    }
    assert reasons[2] == "发放日期 (paid_on): date outside the reporting year '44193 (=2020-12-28)'"
    assert reasons[3] == "帮扶类型 (aid_type): value not in the code list '生活 补贴'"
    assert reasons[4] == "发放金额（元） (amount): not a number '５百元'"  # as typed
    for q in fetch(con, "select record_json from raw.quarantine"):
        assert "帮扶类型" in json.loads(q["record_json"])  # record keys trimmed as well


# ------------------------------------------------------------------------------ a real run

GONGHUI = Path(sys.executable).with_name("gonghui")


def _hostile_files(raw: Path) -> list[str]:
    """Hostile files on top of the demo data; returns the personal data they hold."""
    from conftest import write_json, write_xlsx

    write_xlsx(
        raw / "2021" / "buji" / "职工活动补充台账.xlsx",
        [
            [*ACTIVITY_HEADER, "紧急联系人身份证", "备注"],
            [
                "PII-A1",
                f"篮球赛（联系人身份证{ID1}）",
                "职工活动",
                None,
                "2021-05-01",
                20,
                ID2,
                f"联系电话{PHONE1}",
            ],
            ["PII-A2", "报名请拨 159-8765-4321", "职工活动", None, "2021-05-02", 30, ID3, None],
            ["PII-A3", "足球赛", "职工活动", None, 44193, 20, ID_X, f"联系电话{PHONE3}"],
        ],
    )
    write_json(
        raw / "2021" / "pinghu" / "劳资纠纷补充.json",
        [
            {
                "案件编号": "PII-D1",
                "受理日期": "2021-03-05",
                "企业名称": "乙公司 +86 139 1234 5670",
                "涉及人数": 3,
                "挽回经济损失（元）": 100,
                "纠纷类型": "欠薪",
                "处理结果": "调解成功",
                "联系人手机": "13912345671",
            },
        ],
    )
    return [ID1, ID2, ID3, ID_X, PHONE1, "15987654321", PHONE3, "13912345670", "13912345671"]


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("pii-run")
    env = pipeline_env(base / "raw", base / "warehouse", pii_key="pii-test-key")
    made = subprocess.run(
        [GONGHUI, "demo-data", "--scale", "0.1"], env=env, capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr[-3000:]
    hostile = _hostile_files(base / "raw")
    proc = subprocess.run([GONGHUI, "run"], env=env, capture_output=True, text=True)
    return base, proc, hostile


@pytest.mark.e2e
def test_no_landing_identity_or_phone_number_in_any_warehouse_file(hostile_run):
    base, proc, hostile = hostile_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "PUBLISHED" in proc.stdout
    secrets = landing_secrets(base / "raw")
    assert set(hostile) <= secrets, "the landing scan must see the hostile files' numbers"
    assert len(secrets) > 1000  # the demo's members, their phones, the hardship recipients
    leaks, scanned = find_leaks(base / "warehouse", secrets)
    assert leaks == [], "\n".join(leaks[:20])
    assert scanned["duckdb"] >= 3  # working, published, a history copy
    assert scanned["parquet"] >= 10 and scanned["bytes"] >= 10
    # the hostile rows were read, not dropped: PII-A3 (a serial date of 2020) is quarantined
    with duckdb.connect(str(base / "warehouse" / "published" / "mart.duckdb"), True) as con:
        got = con.execute(
            "select count(*) from audit.quarantined_rows where _source_file like '%补充台账%'"
        ).fetchone()
    assert got == (1,)
