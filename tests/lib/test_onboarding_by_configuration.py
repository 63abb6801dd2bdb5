"""Issue 12: another system's export is onboarded by a mapping entry only — no Python, no SQL.

The export (tests/other_system_export.py) writes nothing the landing contract knows: English
headers on row 5 of a sheet among others, its own code lists, amounts in 10k CNY, ``-`` for
empty, day-first dates in one file, English month names and ``1.234,50`` amounts in the other,
and a footer line. Before ``date_formats``/``null_markers``/separators were mapping keys, every
row of it was quarantined.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest
from conftest import fetch, source_file
from mappings import mapping_with_templates
from other_system_export import (
    AID_FILE,
    CASES_FILE,
    EXPECTED_AID,
    EXPECTED_CASES,
    HRIS_TEMPLATES,
    hris_exports,
)

from orchestration.lib.check_mapping import check_file
from orchestration.lib.mapping import MappingError, load_mapping


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def test_the_contract_mapping_alone_cannot_read_the_export(landing, mapping):
    cases, _aid = hris_exports(landing)
    assert check_file(cases, mapping=mapping).result.status == "unrecognised"


def test_a_mapping_entry_alone_loads_both_exports_with_the_right_values(
    landing, tmp_path, run_ingest
):
    hris_exports(landing)
    mapping = load_mapping(mapping_with_templates(tmp_path / "m", HRIS_TEMPLATES))
    report, con = run_ingest(landing, mapping=mapping)

    cases = source_file(con, CASES_FILE)
    assert (cases["status"], cases["report_kind"]) == ("loaded", "dispute_cases")
    assert (cases["rows_loaded"], cases["rows_quarantined"]) == (4, 0)
    rows = fetch(
        con,
        "select case_no, accepted_on, credit_code, workers_involved, dispute_type, outcome, "
        "recovered_amount, closed_on, _source_sheet, _source_row "
        "from raw.dispute_cases order by case_no",
    )
    got = [
        (
            r["case_no"],
            r["accepted_on"],
            r["credit_code"],
            r["workers_involved"],
            r["dispute_type"],
            r["outcome"],
            None if r["recovered_amount"] is None else float(r["recovered_amount"]),
            r["closed_on"],
        )
        for r in rows
    ]
    assert got == [
        (no, _date(acc), cc, w, t, o, amt, _date(closed))
        for no, acc, cc, w, t, o, amt, closed in EXPECTED_CASES
    ]
    assert [(r["_source_sheet"], r["_source_row"]) for r in rows] == [
        ("Disputes", n) for n in (6, 7, 8, 9)
    ]

    aid = source_file(con, AID_FILE)
    assert (aid["status"], aid["rows_loaded"], aid["rows_quarantined"]) == ("loaded", 3, 0)
    payments = fetch(
        con,
        "select payment_no, paid_on, aid_type, amount, person_key "
        "from raw.hardship_assistance order by payment_no",
    )
    assert [
        (p["payment_no"], p["paid_on"], p["aid_type"], float(p["amount"])) for p in payments
    ] == [(no, _date(paid), t, amt) for no, paid, t, amt in EXPECTED_AID]
    assert all(len(p["person_key"]) == 64 for p in payments)  # keyed hash, never the number
    assert fetch(con, "select count(*) as n from raw.quarantine") == [{"n": 0}]
    assert report.rows_loaded == 7


def test_without_the_date_formats_every_case_would_be_quarantined(landing, tmp_path):
    """The reproduction of the issue: columns, units and codes right, dates unsaid."""
    cases, _aid = hris_exports(landing)
    without = HRIS_TEMPLATES.replace(
        '    date_formats: ["%d/%m/%Y"]     # 03/04/2021 is 3 April\n', ""
    )
    assert without != HRIS_TEMPLATES
    check = check_file(cases, mapping=load_mapping(mapping_with_templates(tmp_path, without)))
    assert (check.result.rows_loaded, check.result.rows_quarantined) == (0, 4)
    assert {q["reason_code"] for q in check.quarantine} == {"bad_date"}
    assert not check.ok


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("    date_format: '%d/%m/%Y'\n", "date_format"),
        ("    dates: {order: dmy}\n", "dates"),
        ("    fields: {accepted_on: {format: '%d/%m/%Y'}}\n", "format"),
    ],
)
def test_an_unknown_key_in_the_entry_fails_naming_it(tmp_path, line, key):
    bad = HRIS_TEMPLATES.replace("    header_row: 5\n", "    header_row: 5\n" + line, 1)
    with pytest.raises(MappingError) as err:
        load_mapping(mapping_with_templates(tmp_path, bad))
    message = str(err.value)
    assert f"(longcheng_hris_cases).{key}" in message or f".{key}: unknown key" in message
    assert "unknown key" in message and "templates[0]" in message


def test_the_onboarded_rows_reach_the_conformed_tables(landing, tmp_path):
    """The same entry, through dbt: the marts hold the export's cases and payments with the
    right values (万元 → yuan, day-first and English dates, 1.234,50)."""
    import duckdb

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dbt"))
    from raw_fixture import run_dbt

    from orchestration.lib.ingest import ingest

    hris_exports(landing)
    mapping = load_mapping(mapping_with_templates(tmp_path / "m", HRIS_TEMPLATES))
    db = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(db)) as con:
        ingest(landing.root, con, mapping, "onboarding", key=b"test-key")
    built = run_dbt(tmp_path, db, "run", "--select", "+fct_dispute_cases", "+fct_hardship_payments")
    assert built.returncode == 0, built.stdout[-3000:]
    with duckdb.connect(str(db), read_only=True) as con:
        cases = con.execute(
            "select case_no, accepted_on, dispute_type, outcome, recovered_amount "
            "from marts.fct_dispute_cases where street_code = 'longcheng' order by case_no"
        ).fetchall()
        paid = con.execute(
            "select payment_no, paid_on, aid_type, amount "
            "from marts.fct_hardship_payments where street_code = 'longcheng' order by 1"
        ).fetchall()
    assert [(c[0], c[1].isoformat(), c[2], c[3], float(c[4])) for c in cases] == [
        (c[0], c[1], c[4], c[5], c[6]) for c in EXPECTED_CASES
    ]
    assert [(p[0], p[1].isoformat(), p[2], float(p[3])) for p in paid] == EXPECTED_AID
