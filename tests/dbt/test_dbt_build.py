"""Build the dbt project on a tiny hand-written ``raw`` schema and check the indicators.

The fixture (``raw_fixture.build_raw``) covers: three streets, a duplicate key across two
period files where the later period wins, a superseded file's rows, a member reported by
two streets, ratio indicators whose district value differs from the average of street
rates, distinct counts that are not additive (quality_projects, dream_enterprises), exact
yuan sums and a year present only in raw.source_files (all zeros).
"""

from __future__ import annotations

import re
import shutil
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from raw_fixture import (
    CORRECTED_REGISTER,
    RAW_TABLES,
    SUPERSEDED_REGISTER,
    build_raw,
    create_raw_schema,
    run_dbt,
)

# --------------------------------------------------------------------------- dbt build


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
    # + raw.streets, written from the configured streets list (not a street's data)
    assert tables == set(RAW_TABLES) | {"streets"}
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


def test_a_null_in_a_checked_column_fails_its_model_test_naming_the_column(built, tmp_path):
    """``not_null_columns`` (one test per model, see macros/test_not_null_columns.sql)."""
    con, _ = built
    db_path = tmp_path / "nulls.duckdb"
    shutil.copy(con.execute("pragma database_list").fetchall()[0][2], db_path)
    with duckdb.connect(str(db_path)) as copy:
        copy.execute(
            "update marts.fct_dispute_cases set accepted_on = null "
            "where street_code = 'pinghu' and case_no = 'C1'"
        )
    result = run_dbt(
        tmp_path, db_path, "test", "--select", "fct_dispute_cases,test_name:not_null_columns"
    )
    assert result.returncode == 1, result.stdout[-3000:]
    assert "Failure in test not_null_columns_fct_dispute_cases_" in result.stdout, result.stdout
    failing = duckdb.connect(str(db_path), read_only=True)
    # the compiled test lists the failing column and its count of NULLs
    compiled = next((tmp_path / "target" / "compiled").rglob("not_null_columns_fct_dispute*.sql"))
    rows = failing.execute(compiled.read_text(encoding="utf-8")).fetchall()
    failing.close()
    assert rows == [("accepted_on", 1)]


# ------------------------------------------------ checks moved from Great Expectations to dbt


def test_a_mart_broken_in_the_ways_the_gate_suites_used_to_catch_fails_its_dbt_tests(
    built, tmp_path
):
    """The row- and column-level checks that lived in the GE suites ``gate_fct_*``,
    ``gate_dim_*`` and ``gate_annual_indicators`` (see the mapping in expectations/gate.yml)
    are dbt tests now: each corruption below fails the dbt test that replaced its suite."""
    con, _ = built
    db_path = tmp_path / "broken.duckdb"
    shutil.copy(con.execute("pragma database_list").fetchall()[0][2], db_path)
    with duckdb.connect(str(db_path)) as copy:
        # a district row that is not the sum of its streets (gate_annual_indicators)
        copy.execute(
            "update marts.annual_indicators set value = value + 1, numerator = numerator + 1 "
            "where street_code = 'pinghu' and indicator_code = 'disputes_mediated'"
        )
        # a case accepted outside its reporting year (gate_fct_dispute_cases)
        copy.execute(
            "update marts.fct_dispute_cases set accepted_on = date '2019-06-30' "
            "where street_code = 'buji' and case_no = 'C1'"
        )
        # a union founded after the reporting year (gate_fct_enterprise_unions)
        copy.execute(
            "update marts.fct_enterprise_unions set union_founded_on = date '2030-01-01' "
            "where has_union"
        )
        # a negative employee count (gate_dim_enterprise)
        copy.execute("update marts.dim_enterprise set latest_employee_count = -1")
        # a member who joined after the reporting year (gate_fct_members)
        copy.execute("update marts.fct_members set joined_on = date '2030-01-01'")
    result = run_dbt(
        tmp_path,
        db_path,
        "test",
        "--select",
        "annual_indicators fct_dispute_cases fct_enterprise_unions dim_enterprise fct_members",
    )
    assert result.returncode == 1, result.stdout[-3000:]
    failed = set(re.findall(r"Failure in test (\S+)", result.stdout))
    # the test that must fail for each corruption (dbt names a generic test by its arguments)
    expected = {
        "assert_street_values_sum_to_district",
        "expression_is_true_fct_dispute_cases_recovered_amount_0_and_workers_involved_0_and_year",
        "expression_is_true_fct_enterprise_unions_employee_count_0_and_union_founded_on",
        "expression_is_true_dim_enterprise_latest_employee_count",
        "expression_is_true_fct_members_coalesce_year_collected_on",
    }
    missing = {e for e in expected if not any(name.startswith(e) for name in failed)}
    assert not missing, (sorted(missing), sorted(failed))
    # and nothing else: every other test of those models still passes
    assert len(failed) == len(expected), sorted(failed)
