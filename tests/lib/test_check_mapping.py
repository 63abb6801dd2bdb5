"""``gonghui check-mapping``: a dry reading of one file against the mapping."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import make_credit_code
from mappings import mapping_with_templates
from onboarding_example import (
    CASES_SHEET,
    COMPANIES_SHEET,
    HR_CC1,
    HR_COMPANIES_FILE,
    HR_FILE,
    hr_export,
    onboarded_mapping,
)

from orchestration.cli import main
from orchestration.lib.check_mapping import CheckMappingError, check_file, column_letter
from orchestration.lib.mapping import load_mapping

CC = make_credit_code("91440300MA5F00001")


def test_an_unknown_template_is_reported_unrecognised(landing, mapping):
    check = check_file(hr_export(landing), mapping=mapping)
    assert not check.ok
    assert check.result.status == "unrecognised"
    assert check.template is None
    text = check.render()
    assert "template: none" in text and "UNRECOGNISED" in text


def test_the_onboarded_template_reports_kinds_columns_and_quarantine(landing, tmp_path):
    mapping = load_mapping(onboarded_mapping(tmp_path))
    check = check_file(hr_export(landing), mapping=mapping, street=None)
    assert check.ok and (check.street, check.year) == ("pingdi", 2021)
    assert check.template.name == "pingdi_hr_platform"
    doc = check.to_dict()
    assert doc["kind"] == "dispute_cases"
    [cases] = doc["sheets"]
    assert (cases["sheet"], cases["kind"], cases["header_row"]) == ("Cases", "dispute_cases", 5)
    columns = {c["header"]: (c["column"], c["field"], c["unit"]) for c in cases["columns"]}
    assert columns["Recovered (10k CNY)"] == ("H", "recovered_amount", "万元")
    assert columns["Remarks"] == ("I", None, None)
    assert cases["missing_required"] == [] and cases["fields_without_column"] == ["closed_on"]
    assert doc["rows"] == {"data": 3, "loaded": 2, "quarantined": 1, "skipped": 0}
    [bad] = doc["quarantine"]
    assert (bad["sheet"], bad["row"], bad["reason_code"]) == ("Cases", 8, "unknown_category")
    assert "PARKING" in bad["reason"]
    first = doc["loaded_preview"]["dispute_cases"][0]
    assert (first["dispute_type"], first["outcome"], first["recovered_amount"]) == (
        "欠薪",
        "调解成功",
        "12345.0",
    )
    companies = check_file(landing.root / "2021" / "pingdi" / HR_COMPANIES_FILE, mapping=mapping)
    assert companies.result.kind == "enterprise_register"
    preview = companies.to_dict()["loaded_preview"]["enterprise_register"]
    assert [(r["has_union"], r["has_worker_council"]) for r in preview] == [
        ("True", "True"),
        ("False", "False"),
    ]
    text = check.render()
    for expected in (
        "template: pingdi_hr_platform",
        "recognised as: dispute_cases (劳资纠纷调处台账)",
        "H  Recovered (10k CNY)  → recovered_amount  unit 万元",
        "Remarks              → — unmapped (ignored)",
        "sheet 'Cases' row 8: Type (dispute_type): value not in the code list 'PARKING'",
        "sheet 'Read me' skipped",
    ):
        assert expected in text, text


def test_a_workbook_mixing_kinds_is_rejected_with_its_sheets_named(landing, tmp_path):
    mapping = load_mapping(onboarded_mapping(tmp_path))
    path = landing.xlsx(
        "pingdi", "Pingdi_HR_export_all.xlsx", {"Cases": CASES_SHEET, "Companies": COMPANIES_SHEET}
    )
    check = check_file(path, mapping=mapping)
    assert (check.result.status, check.result.reason_code) == ("rejected", "several_kinds")
    assert "'Cases' → dispute_cases, 'Companies' → enterprise_register" in check.result.reason
    assert [lay.kind for lay in check.result.layouts] == ["dispute_cases", "enterprise_register"]
    assert "sheet 'Companies': enterprise_register, header on row 5" in check.render()


def test_required_columns_missing_are_named(landing, mapping):
    path = landing.csv(
        "buji", "纠纷.csv", [["案件编号", "受理日期", "企业名称"], ["A1", "2021-01-02", "甲"]]
    )
    check = check_file(path, mapping=mapping)
    assert check.result.status == "rejected"
    [layout] = check.result.layouts
    assert layout.missing_required == ["workers_involved", "recovered_amount"]
    assert "required fields missing: workers_involved, recovered_amount" in check.render()


def test_a_file_outside_the_landing_root_needs_street_and_year(tmp_path, mapping, landing):
    loose = tmp_path / "export.csv"
    loose.write_text("统一社会信用代码,企业名称,职工人数,是否建会\n" + f"{CC},甲,120,是\n", "utf-8")
    with pytest.raises(CheckMappingError, match="--street and --year"):
        check_file(loose, mapping=mapping)
    check = check_file(loose, mapping=mapping, street="buji", year=2021)
    assert check.ok and check.result.kind == "enterprise_register"
    assert check.path == loose.resolve()
    # options override the folder the file sits in; the file itself is never touched
    inside = hr_export(landing)
    before = inside.read_bytes()
    assert check_file(inside, mapping=mapping, street="buji").street == "buji"
    assert inside.read_bytes() == before


def test_cli_prints_the_report_and_writes_nothing(landing, tmp_path, monkeypatch, capsys):
    warehouse = tmp_path / "warehouse"
    monkeypatch.setenv("GONGHUI_WAREHOUSE_DIR", str(warehouse))
    monkeypatch.setenv("GONGHUI_MAPPING", str(onboarded_mapping(tmp_path)))
    path = hr_export(landing)
    assert main(["check-mapping", str(path)]) == 0
    assert "template: pingdi_hr_platform" in capsys.readouterr().out
    assert main(["check-mapping", str(path), "--json", "--rows", "1"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["loaded_preview"]["dispute_cases"][0]["credit_code"] == HR_CC1
    assert len(doc["loaded_preview"]["dispute_cases"]) == 1
    assert main(["check-mapping", str(tmp_path / "missing.xlsx")]) == 2
    assert not warehouse.exists()
    monkeypatch.delenv("GONGHUI_MAPPING")
    assert main(["check-mapping", str(path)]) == 1  # the default mapping cannot read it
    assert HR_FILE in capsys.readouterr().out


def test_column_letters():
    assert [column_letter(c) for c in ("c0", "c25", "c26", "c27", "x")] == [
        "A",
        "Z",
        "AA",
        "AB",
        "x",
    ]


def test_cli_takes_the_street_by_name(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GONGHUI_WAREHOUSE_DIR", str(tmp_path / "warehouse"))
    loose = tmp_path / "export.csv"
    loose.write_text("统一社会信用代码,企业名称,职工人数,是否建会\n" + f"{CC},甲,120,是\n", "utf-8")
    assert main(["check-mapping", str(loose), "--street", "布吉", "--year", "2021", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["street"] == "buji"
    assert main(["check-mapping", str(loose), "--street", "布吉镇", "--year", "2021"]) == 2
    assert "unknown street '布吉镇'" in capsys.readouterr().err


DISPUTE_HEADER = ["案件编号", "受理日期", "企业名称", "涉及人数", "挽回经济损失"]


def _disputes(landing, name: str, rows: int, bad: int):
    """``rows`` dispute cases of which the first ``bad`` have an unreadable date."""
    body = [[f"A{i}", "someday" if i < bad else "2021-03-05", "甲", 2, 100] for i in range(rows)]
    return landing.csv("buji", name, [DISPUTE_HEADER, *body])


def test_a_file_whose_rows_would_all_be_quarantined_fails_with_the_top_reasons(
    landing, mapping, capsys
):
    path = _disputes(landing, "纠纷_all_bad.csv", rows=3, bad=3)
    check = check_file(path, mapping=mapping)
    assert check.result.status == "loaded"  # the file is read …
    assert not check.ok  # … but nothing of it would load
    assert check.verdict == ("fails", "all 3 data rows would be quarantined")
    assert check.top_reasons[0][:2] == ("bad_date", 3)
    doc = check.to_dict()
    assert (doc["status"], doc["file_status"]) == ("fails", "loaded")
    assert doc["top_reasons"][0]["reason_code"] == "bad_date"
    text = check.render()
    assert "status: FAILS — all 3 data rows would be quarantined" in text
    assert "3 × bad_date  e.g. 受理日期 (accepted_on): not a recognisable date 'someday'" in text
    assert main(["check-mapping", str(path)]) == 1


def test_more_quarantined_than_the_gate_allows_fails_naming_the_threshold(landing, mapping):
    # gate.yml: max_quarantine_rate_pct 10.0 from min_rows_for_rate 20 rows on
    over = check_file(_disputes(landing, "纠纷_over.csv", rows=25, bad=3), mapping=mapping)
    assert not over.ok
    assert over.verdict[1].startswith("3 of 25 data rows (12.0 %) would be quarantined")
    assert "the gate blocks above 10 %" in over.verdict[1]
    under = check_file(_disputes(landing, "纠纷_under.csv", rows=25, bad=2), mapping=mapping)
    assert under.ok and under.verdict == ("loads", "23 of 25 data rows would load")
    assert "status: LOADS — 23 of 25 data rows would load" in under.render()
    # under the gate's minimum row count the rate is not gated, as in the gate itself
    few = check_file(_disputes(landing, "纠纷_few.csv", rows=4, bad=1), mapping=mapping)
    assert few.ok


def test_the_threshold_is_read_from_the_gate_configuration(landing, mapping, tmp_path, monkeypatch):
    from orchestration.lib.gate import DEFAULT_EXPECTATIONS_DIR

    gate = (DEFAULT_EXPECTATIONS_DIR / "gate.yml").read_text(encoding="utf-8")
    assert "max_quarantine_rate_pct: 10.0" in gate
    strict = tmp_path / "expectations"
    shutil.copytree(DEFAULT_EXPECTATIONS_DIR, strict)
    (strict / "gate.yml").write_text(
        gate.replace("max_quarantine_rate_pct: 10.0", "max_quarantine_rate_pct: 5.0"), "utf-8"
    )
    monkeypatch.setenv("GONGHUI_EXPECTATIONS_DIR", str(strict))
    check = check_file(_disputes(landing, "纠纷_strict.csv", rows=25, bad=2), mapping=mapping)
    assert not check.ok and "the gate blocks above 5 %" in check.verdict[1]


def test_validate_checks_the_mapping_alone(tmp_path, capsys):
    good = onboarded_mapping(tmp_path / "good")
    assert main(["check-mapping", "--validate", "--mapping", str(good)]) == 0
    assert "valid — 8 report kinds, 1 template(s): pingdi_hr_platform" in capsys.readouterr().out
    bad = mapping_with_templates(
        tmp_path / "bad", "  - name: guess\n    kind: dispute_cases\n    date_format: '%d/%m'\n"
    )
    assert main(["check-mapping", "--validate", "--mapping", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "templates[0] (guess).date_format: unknown key" in err
    assert main(["check-mapping"]) == 2


# --------------------------------------------------------------------------------- --suggest


def test_suggest_proposes_header_row_fields_and_a_draft_that_loads(landing, mapping, tmp_path):
    from other_system_export import hris_exports

    from orchestration.lib.suggest import suggest_template

    cases, aid = hris_exports(landing)
    s = suggest_template(cases, mapping=mapping)
    assert (s.best.name, s.best.header_row, s.best.kind) == ("Disputes", 5, "dispute_cases")
    fields = {c.header: c.field for c in s.best.columns}
    assert fields["Employer USCC"] == "credit_code"
    assert fields["Opened"] == "accepted_on" and fields["Closed"] == "closed_on"
    assert fields["Recovered (10k CNY)"] == "recovered_amount"
    shapes = {c.header: c for c in s.best.columns}
    assert shapes["Opened"].date_formats == ("%d/%m/%Y",)
    assert shapes["Recovered (10k CNY)"].unit == "万元"
    assert shapes["Category"].distinct == ["INJ", "OT", "PAY"]
    text = s.render()
    for expected in (
        "most likely header row: 5; best matching kind: dispute_cases",
        "5  Ref | Opened | Employer",
        'date_formats: ["%d/%m/%Y"]',
        'null_markers: ["-"]',
        "units: {recovered_amount: 万元}",
        "skip_rows_below: 1",
        '#   dispute_type: {"INJ": ?, "OT": ?, "PAY": ?}',
    ):
        assert expected in text, text

    other = suggest_template(aid, mapping=mapping).best
    found = {c.header: (c.shape, c.field) for c in other.columns}
    assert found["ID number"] == ("id_number", "person_key")
    assert found["Paid"] == ("date", "paid_on")
    assert found["Amount (CNY)"] == ("amount", "amount")
    assert "%B %d, %Y" in dict((c.header, c) for c in other.columns)["Paid"].date_formats

    # the round trip: the draft is valid as it stands; with the codes filled in, rows load
    drafted = load_mapping(mapping_with_templates(tmp_path / "draft", s.draft))
    first = check_file(cases, mapping=drafted)
    assert first.result.status == "loaded" and not first.ok
    assert first.top_reasons[0][0] == "unknown_category"
    edited = s.draft + (
        "\n    values:\n      dispute_type: {PAY: 欠薪, INJ: 工伤, OT: 加班}\n"
        "      outcome: {SETTLED: 调解成功, ARB: 转仲裁, WD: 撤回, PENDING: 处理中}\n"
    )
    check = check_file(cases, mapping=load_mapping(mapping_with_templates(tmp_path / "e", edited)))
    assert check.ok and (check.result.rows_loaded, check.result.rows_quarantined) == (4, 0)


def test_cli_suggest(landing, capsys):
    from other_system_export import hris_exports

    cases, _aid = hris_exports(landing)
    assert main(["check-mapping", str(cases), "--suggest"]) == 0
    out = capsys.readouterr().out
    assert "draft entry for the mapping's templates:" in out and "kind: dispute_cases" in out
