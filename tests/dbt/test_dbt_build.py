"""Build the dbt project on a tiny hand-written ``raw`` schema and check the indicators.

The fixture covers: three streets, a duplicate key across two period files where the
later period wins, a superseded file's rows, a member reported by two streets, ratio
indicators whose district value differs from the average of street rates, distinct
counts that are not additive (quality_projects, dream_enterprises), exact yuan sums and
a year present only in raw.source_files (all zeros).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from raw_fixture import RAW_TABLES, create_raw_schema, insert_rows

REPO = Path(__file__).resolve().parents[2]
PROJECT_DIR = REPO / "dbt_project"
D = dt.date

# --------------------------------------------------------------------------- fixture rows


def _q(year: int, q: int) -> dict:
    ends = {1: D(year, 3, 31), 2: D(year, 6, 30), 3: D(year, 9, 30), 4: D(year, 12, 31)}
    return {"_period_label": f"{year}-Q{q}", "_period_end": ends[q]}


def _file(street: str, name: str, **period) -> dict:
    return {"_source_file": f"2021/{street}/{name}", **period}


SUPERSEDED_REGISTER = "2021/bantian/企业建会情况台账.xlsx"
CORRECTED_REGISTER = "2021/bantian/企业建会情况台账（修订）.xlsx"
SUPERSEDED_AID = "2021/buji/困难职工帮扶台账.xlsx"
CORRECTED_AID = "2021/buji/困难职工帮扶台账_v2.xlsx"


def _ent(street, code, employees, union, council=None, key=None, **prov):
    return {
        "year": 2021,
        "street_code": street,
        "credit_code": code,
        "enterprise_name": f"企业{code}",
        "industry": "制造业",
        "employee_count": employees,
        "has_union": union,
        "has_worker_council": council,
        "is_key_enterprise": key,
        **prov,
    }


def build_raw(con) -> None:
    create_raw_schema(con)
    y = 2021
    pinghu_q2 = _file("pinghu", "企业建会_Q2.xlsx", **_q(y, 2))
    buji_q2 = _file("buji", "buji_register_2021Q2.csv", **_q(y, 2))
    buji_q4 = _file("buji", "buji_register_2021Q4.csv", **_q(y, 4))
    insert_rows(
        con,
        "enterprise_register",
        [
            # pinghu: 100+ -> 1/2, 25-99 -> 1/1
            _ent("pinghu", "E1", 150, True, council=True, key=True, **pinghu_q2),
            _ent("pinghu", "E2", 120, False, council=False, **pinghu_q2),
            _ent("pinghu", "E3", 30, True, **pinghu_q2),
            _ent("pinghu", "E4", 10, True, **pinghu_q2),
            # buji: E5 appears in Q2 (no union) and Q4 (union): Q4 wins -> 100+ 2/2, 25-99 0/1
            _ent("buji", "E5", 200, False, _source_row=2, _source_sheet="Sheet1", **buji_q2),
            _ent("buji", "E5", 200, True, _source_row=2, _source_sheet=None, **buji_q4),
            _ent("buji", "E6", 50, False, _source_row=3, _source_sheet=None, **buji_q4),
            _ent("buji", "E7", 300, True, council=True, _source_row=4, **buji_q4),
            # bantian: the first file is superseded by a correction -> 100+ 1/1, 25-99 0/0
            _ent("bantian", "E8", 100, False, _source_file=SUPERSEDED_REGISTER,
                 _superseded_by=CORRECTED_REGISTER),
            _ent("bantian", "E9", 40, True, _source_file=SUPERSEDED_REGISTER,
                 _superseded_by=CORRECTED_REGISTER),
            _ent("bantian", "E8", 100, True, _source_file=CORRECTED_REGISTER),
        ],
    )  # fmt: skip

    def member(street, key, collected, verified, verified_on=None, **prov):
        return {
            "year": y,
            "street_code": street,
            "person_key": key,
            "gender": "女",
            "employer_credit_code": "E1",
            "collected_on": collected,
            "verified": verified,
            "verified_on": verified_on,
            **prov,
        }

    insert_rows(
        con,
        "member_roster",
        [
            # P1 in pinghu's Q1 (unverified) and Q4 (verified) files: Q4 wins
            member("pinghu", "P1", D(y, 3, 1), False, **_file("pinghu", "m_q1.csv", **_q(y, 1))),
            member("pinghu", "P1", D(y, 3, 1), True, D(y, 3, 5),
                   **_file("pinghu", "m_q4.csv", **_q(y, 4))),
            member("pinghu", "P2", D(y, 5, 1), False, **_file("pinghu", "m_q4.csv", **_q(y, 4))),
            # P3: verified in pinghu, but buji collected later -> buji, unverified
            member("pinghu", "P3", D(y, 2, 1), True, D(y, 2, 2),
                   **_file("pinghu", "m_q4.csv", **_q(y, 4))),
            member("buji", "P3", D(y, 9, 1), False),
            # P4: verified without a verification date -> not counted as verified
            member("buji", "P4", D(y, 4, 1), True, None),
        ],
    )  # fmt: skip

    def case(street, no, accepted, workers, amount, **prov):
        return {
            "year": y,
            "street_code": street,
            "case_no": no,
            "accepted_on": accepted,
            "enterprise_name": "企业E2",
            "credit_code": "E2",
            "workers_involved": workers,
            "dispute_type": "欠薪",
            "outcome": "调解成功",
            "recovered_amount": Decimal(amount),
            **prov,
        }

    cases_q1 = _file("pinghu", "纠纷Q1.xlsx", **_q(y, 1))
    cases_q2 = _file("pinghu", "纠纷Q2.xlsx", **_q(y, 2))
    insert_rows(
        con,
        "dispute_cases",
        [
            # cumulative quarterly files: C1 in Q1 and Q2, Q2 wins
            case("pinghu", "C1", D(y, 3, 1), 40, "1000.00", **cases_q1),
            case("pinghu", "C1", D(y, 3, 1), 40, "1234.56", **cases_q2),
            case("pinghu", "C2", D(y, 5, 1), 5, "100.01", **cases_q2),
            # same case number in another street is another case
            case("buji", "C1", D(y, 7, 1), 10, "0.10"),
            # accepted before the reporting year: not counted
            case("bantian", "C9", D(2020, 12, 31), 99, "5000.00"),
        ],
    )  # fmt: skip

    def request(street, no, status, level):
        return {
            "year": y,
            "street_code": street,
            "request_no": no,
            "credit_code": "E1",
            "raised_on": D(y, 6, 1),
            "category": "工资",
            "status": status,
            "resolved_level": level,
        }

    insert_rows(
        con,
        "worker_requests",
        [
            request("pinghu", "R1", "已办结", "企业内部"),
            request("pinghu", "R2", "已办结", "企业内部"),
            request("pinghu", "R3", "办理中", None),
            request("buji", "R1", "已办结", "企业内部"),
            request("buji", "R2", "已办结", "社区"),
        ],
    )

    def activity(street, no, category, participants, project=None, **prov):
        return {
            "year": y,
            "street_code": street,
            "activity_no": no,
            "title": f"活动{no}",
            "category": category,
            "project": project,
            "held_on": D(y, 3, 15),
            "participants": participants,
            **prov,
        }

    march = {"_period_label": "2021-03", "_period_end": D(y, 3, 31)}
    april = {"_period_label": "2021-04", "_period_end": D(y, 4, 30)}
    insert_rows(
        con,
        "worker_activities",
        [
            activity("pinghu", "A1", "技能培训", 30, "焊工"),
            activity("pinghu", "A2", "综合素质培训", 20, "礼仪"),
            activity("pinghu", "A3", "关爱慰问", 100),
            activity("pinghu", "A4", "党史学习教育", 50),
            activity("buji", "B1", "技能培训", 10, "焊工", _source_sheet="3月", **march),
            activity("buji", "B2", "心理健康", 20, _source_sheet="3月", **march),
            activity("buji", "B2", "心理健康", 25, _source_sheet="4月", **april),
            activity("buji", "B3", "技能培训", 5, "电工", _source_sheet="4月", **april),
        ],
    )
    insert_rows(
        con,
        "dream_program",
        [
            {"year": y, "street_code": s, "person_key": k, "employer_credit_code": e,
             "registered_on": D(y, 4, 1), "major": "行政管理"}
            for s, k, e in [("pinghu", "K1", "E1"), ("pinghu", "K2", "E2"), ("buji", "K3", "E1")]
        ],
    )  # fmt: skip

    def payment(street, no, amount, **prov):
        return {
            "year": y,
            "street_code": street,
            "payment_no": no,
            "paid_on": D(y, 8, 8),
            "aid_type": "生活救助",
            "person_key": f"H-{street}-{no}",
            "amount": Decimal(amount),
            **prov,
        }

    insert_rows(
        con,
        "hardship_assistance",
        [
            payment("pinghu", "H1", "1000.50"),
            payment("pinghu", "H2", "0.01"),
            payment("buji", "H9", "999.99",
                    _source_file=SUPERSEDED_AID, _superseded_by=CORRECTED_AID),
            payment("buji", "H1", "2000.00", _source_file=CORRECTED_AID),
        ],
    )  # fmt: skip
    insert_rows(
        con,
        "care_services",
        [
            {"year": y, "street_code": s, "service_no": no, "served_on": D(y, 10, 1),
             "service_type": t, "persons": n}
            for s, no, t, n in [
                ("pinghu", "S1", "工伤探视", 3),
                ("pinghu", "S2", "心理咨询疏导", 1),
                ("pinghu", "S3", "工伤法律咨询", 1),
                ("buji", "S1", "转介驻点律师", 2),
                ("buji", "S2", "工伤探视", 4),
            ]
        ],
    )  # fmt: skip

    files = [
        ("2021/pinghu/企业建会_Q2.xlsx", 2021, "pinghu", "enterprise_register", "loaded", None),
        (SUPERSEDED_REGISTER, 2021, "bantian", "enterprise_register", "superseded",
         CORRECTED_REGISTER),
        (CORRECTED_REGISTER, 2021, "bantian", "enterprise_register", "loaded", None),
        (SUPERSEDED_AID, 2021, "buji", "hardship_assistance", "superseded", CORRECTED_AID),
        (CORRECTED_AID, 2021, "buji", "hardship_assistance", "loaded", None),
        # a 2022 folder with only an unrecognised file: the year still gets all rows (zeros)
        ("2022/pinghu/说明.docx", 2022, "pinghu", None, "unrecognised", None),
    ]  # fmt: skip
    insert_rows(
        con,
        "source_files",
        [
            {"_source_file": f, "year": yr, "street_code": s, "report_kind": k, "status": st,
             "superseded_by": sup, "file_format": Path(f).suffix.lstrip(".")}
            for f, yr, s, k, st, sup in files
        ],
    )  # fmt: skip
    insert_rows(
        con,
        "quarantine",
        [
            {"year": y, "street_code": "pinghu", "report_kind": "member_roster",
             "_source_file": "2021/pinghu/m_q4.csv", "_source_row": 9,
             "reason_code": "id_check_digit", "reason": "identity number check digit invalid",
             "record_json": '{"公民身份号码": "4403**********123X"}'}
        ],
    )  # fmt: skip
    insert_rows(
        con,
        "control_totals",
        [
            {"year": y, "street_code": "pinghu", "report_kind": "dispute_cases",
             "_source_file": "2021/pinghu/纠纷Q2.xlsx", "_source_row": 10,
             "field": "recovered_amount", "stated_value": Decimal("1334.57"),
             "computed_value": Decimal("1334.57"), "covers_from_row": 3, "covers_to_row": 9}
        ],
    )  # fmt: skip


# --------------------------------------------------------------------------- dbt run


def run_dbt(tmp_path: Path, db_path: Path, *args: str) -> subprocess.CompletedProcess:
    dbt = Path(sys.executable).with_name("dbt")
    env = {
        **os.environ,
        "GONGHUI_DUCKDB_PATH": str(db_path),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    cmd = [
        str(dbt), *args,
        "--project-dir", str(PROJECT_DIR),
        "--profiles-dir", str(PROJECT_DIR),
        "--target-path", str(tmp_path / "target"),
        "--log-path", str(tmp_path / "logs"),
    ]  # fmt: skip
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("dbt")
    db_path = tmp_path / "gonghui.duckdb"
    with duckdb.connect(str(db_path)) as con:
        build_raw(con)
    result = run_dbt(tmp_path, db_path, "build")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    con = duckdb.connect(str(db_path), read_only=True)
    yield con, result
    con.close()


def indicators(con) -> dict[tuple[int, str, str], tuple]:
    rows = con.execute(
        "select year, street_code, indicator_code, value, numerator, denominator "
        "from marts.annual_indicators"
    ).fetchall()
    return {(y, s, c): (v, n, d) for y, s, c, v, n, d in rows}


def dec(x) -> Decimal | None:
    return None if x is None else Decimal(str(x)).quantize(Decimal("0.01"))


# (street, indicator) -> value, numerator, denominator; 2021
EXPECTED_2021 = {
    # district 4/5 = 80.0 although the street rates average to 83.3
    ("pinghu", "union_rate_100plus"): (50.0, 1, 2),
    ("buji", "union_rate_100plus"): (100.0, 2, 2),
    ("bantian", "union_rate_100plus"): (100.0, 1, 1),
    ("district", "union_rate_100plus"): (80.0, 4, 5),
    ("pinghu", "union_rate_25_99"): (100.0, 1, 1),
    ("buji", "union_rate_25_99"): (0.0, 0, 1),
    ("bantian", "union_rate_25_99"): (None, 0, 0),
    ("district", "union_rate_25_99"): (50.0, 1, 2),
    ("nanwan", "union_rate_25_99"): (None, 0, 0),
    ("pinghu", "worker_council_enterprises"): (1, 1, None),
    ("district", "worker_council_enterprises"): (2, 2, None),
    ("district", "key_enterprises"): (1, 1, None),
    ("pinghu", "member_records"): (2, 2, None),
    ("buji", "member_records"): (2, 2, None),
    ("district", "member_records"): (4, 4, None),
    ("pinghu", "members_verified"): (1, 1, None),
    ("buji", "members_verified"): (0, 0, None),
    ("district", "members_verified"): (1, 1, None),
    ("pinghu", "disputes_mediated"): (2, 2, None),
    ("buji", "disputes_mediated"): (1, 1, None),
    ("bantian", "disputes_mediated"): (0, 0, None),
    ("district", "disputes_mediated"): (3, 3, None),
    ("pinghu", "disputes_recovered_yuan"): ("1334.57", "1334.57", None),
    ("district", "disputes_recovered_yuan"): ("1334.67", "1334.67", None),
    ("district", "mass_disputes_30plus"): (1, 1, None),
    ("district", "requests_collected"): (5, 5, None),
    ("district", "requests_handled"): (4, 4, None),
    ("pinghu", "requests_internal_rate"): (66.7, 2, 3),
    ("buji", "requests_internal_rate"): (50.0, 1, 2),
    ("district", "requests_internal_rate"): (60.0, 3, 5),
    ("pinghu", "worker_events"): (4, 4, None),
    ("buji", "worker_events"): (3, 3, None),
    ("district", "worker_events"): (7, 7, None),
    ("district", "worker_event_person_times"): (240, 240, None),
    ("buji", "psych_person_times"): (25, 25, None),
    ("district", "psych_events"): (1, 1, None),
    ("district", "care_events"): (1, 1, None),
    ("district", "care_person_times"): (100, 100, None),
    ("district", "party_history_sessions"): (1, 1, None),
    ("pinghu", "quality_projects"): (2, 2, None),
    ("buji", "quality_projects"): (2, 2, None),
    ("district", "quality_projects"): (3, 3, None),
    ("district", "skills_training_person_times"): (45, 45, None),
    ("district", "general_training_person_times"): (20, 20, None),
    ("district", "dream_registrants"): (3, 3, None),
    ("pinghu", "dream_enterprises"): (2, 2, None),
    ("buji", "dream_enterprises"): (1, 1, None),
    ("district", "dream_enterprises"): (2, 2, None),
    ("pinghu", "hardship_aid_yuan"): ("1000.51", "1000.51", None),
    ("buji", "hardship_aid_yuan"): ("2000.00", "2000.00", None),
    ("district", "hardship_aid_yuan"): ("3000.51", "3000.51", None),
    ("district", "hardship_aid_person_times"): (3, 3, None),
    ("district", "injury_visit_persons"): (7, 7, None),
    ("district", "counseling_sessions"): (1, 1, None),
    ("district", "legal_consultations"): (1, 1, None),
    ("district", "lawyer_referrals"): (1, 1, None),
}


def test_raw_fixture_matches_contract():
    con = duckdb.connect()
    create_raw_schema(con)
    tables = {t for (t,) in con.execute(
        "select table_name from information_schema.tables where table_schema = 'raw'"
    ).fetchall()}  # fmt: skip
    assert tables == set(RAW_TABLES)
    assert len(RAW_TABLES["dispute_cases"]) == 11 + 9


def test_build_passes_all_tests(built):
    _, result = built
    assert "ERROR=0" in result.stdout
    assert "WARN=0" in result.stdout


def test_every_indicator_street_year_present(built):
    con, _ = built
    rows = indicators(con)
    n_indicators = con.execute("select count(*) from marts.dim_indicator").fetchone()[0]
    assert len(rows) == n_indicators * 12 * 2  # 11 streets + district, 2021 and 2022
    # 2022 has only an unrecognised file: everything zero, ratios NULL
    v2022 = [v for (y, _, _), v in rows.items() if y == 2022]
    assert all(n == 0 for _, n, _ in v2022)
    assert {v for v, _, d in v2022 if d is not None} == {None}


@pytest.mark.parametrize(("street", "code"), sorted(EXPECTED_2021))
def test_indicator_values_2021(built, street, code):
    con, _ = built
    value, numerator, denominator = indicators(con)[(2021, street, code)]
    exp_v, exp_n, exp_d = EXPECTED_2021[(street, code)]
    assert (value, numerator, denominator) == (dec(exp_v), dec(exp_n), dec(exp_d))
    assert all(isinstance(x, Decimal) for x in (value, numerator) if x is not None)


def test_units_come_from_seed(built):
    con, _ = built
    units = dict(con.execute(
        "select distinct indicator_code, unit from marts.annual_indicators"
    ).fetchall())  # fmt: skip
    assert units["union_rate_100plus"] == "pct"
    assert units["hardship_aid_yuan"] == "yuan"


def test_excluded_rows_audit_trail(built):
    con, _ = built
    rows = con.execute(
        "select report_kind, street_code, natural_key, exclusion_reason, _source_file,"
        " winning_source_file, winning_street_code from intermediate.int_excluded_rows_unioned"
    ).fetchall()
    got = {(k, s, key, reason): (src, win, ws) for k, s, key, reason, src, win, ws in rows}
    assert got[("enterprise_register", "buji", "E5", "duplicate_key")] == (
        "2021/buji/buji_register_2021Q2.csv",
        "2021/buji/buji_register_2021Q4.csv",
        "buji",
    )
    assert got[("enterprise_register", "bantian", "E8", "superseded_file")] == (
        SUPERSEDED_REGISTER,
        CORRECTED_REGISTER,
        "bantian",
    )
    # a superseded row whose key is absent from the correction has no winner
    assert got[("enterprise_register", "bantian", "E9", "superseded_file")][1] is None
    assert got[("hardship_assistance", "buji", "H9", "superseded_file")][1] is None
    assert got[("member_roster", "pinghu", "P3", "attributed_to_other_street")][2] == "buji"
    assert got[("dispute_cases", "pinghu", "C1", "duplicate_key")][1] == "2021/pinghu/纠纷Q2.xlsx"
    src, win, _ = got[("worker_activities", "buji", "B2", "duplicate_key")]
    assert (src, win) == (
        "2021/buji/worker_activities_2021-03.xlsx",
        "2021/buji/worker_activities_2021-04.xlsx",
    )
    assert win == rows_file(con, "B2")
    assert len(rows) == 8


def rows_file(con, activity_no):
    return con.execute(
        "select _source_file from marts.fct_worker_activities where activity_no = ?",
        [activity_no],
    ).fetchone()[0]


def test_members_attributed_to_latest_collection(built):
    con, _ = built
    rows = con.execute(
        "select person_key, street_code, verified, n_streets_reported from marts.fct_members"
        " where year = 2021 order by person_key"
    ).fetchall()
    assert rows == [
        ("P1", "pinghu", True, 1),
        ("P2", "pinghu", False, 1),
        ("P3", "buji", False, 2),
        ("P4", "buji", True, 1),
    ]


def test_facts_keep_provenance(built):
    con, _ = built
    src, sheet, row = con.execute(
        "select _source_file, _source_sheet, _source_row from marts.fct_dispute_cases"
        " where street_code = 'pinghu' and case_no = 'C1'"
    ).fetchone()
    # insert_rows numbers rows by their position in the list: C1 of the Q2 file is row 3
    assert (src, sheet, row) == ("2021/pinghu/纠纷Q2.xlsx", "Sheet1", 3)
    names = dict(
        con.execute("select credit_code, enterprise_name from marts.dim_enterprise").fetchall()
    )
    assert names["E5"] == "企业E5"
    assert set(names) == {f"E{i}" for i in range(1, 9)}


def test_schemas_are_not_prefixed(built):
    con, _ = built
    schemas = {s for (s,) in con.execute(
        "select distinct table_schema from information_schema.tables"
    ).fetchall()}  # fmt: skip
    assert {"raw", "staging", "intermediate", "marts", "reference"} <= schemas
    assert not any(s.startswith("main_") for s in schemas)
