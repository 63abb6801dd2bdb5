"""The indicator catalog (dbt_project/seeds/indicators.csv) is the one definition of an
indicator: adding a row is all it takes to get the indicator into annual_indicators (with the
right value), into ``gonghui trace`` (the recount matches) and into the report (phrased).
And docs/spec/indicators.csv is generated from the catalog."""

from __future__ import annotations

import csv
import json
import shutil
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from raw_fixture import PROJECT_DIR, build_raw, run_dbt

from orchestration.lib import indicator_catalog, report, trace

NEW = {
    "indicator_code": "union_rate_50_99",
    "domain": "membership",
    "report_kind": "enterprise_register",
    "name_zh": "50-99人企业建会率",
    "unit": "pct",
    "aggregation": "ratio",
    "additive": "false",
    "source_model": "fct_enterprise_unions",
    "measure": "count",
    "period": "",
    "filter": "employee_count between 50 and 99 and has_union",
    "denominator_filter": "employee_count between 50 and 99",
    "phrase_style": "pct",
    "measure_word": "%",
    "definition": "enterprises with 50 <= employee_count <= 99 and has_union / those enterprises",
    "report_2021_phrase": "",
    "demo_2021_value": "",
    "target_2022": "",
}

# the dbt fixture (raw_fixture.build_raw): one 50-99 enterprise, buji's E6 (50, no union);
# pinghu's E3 has 30 employees, bantian's E9 (40) is superseded
EXPECTED = {
    "buji": (Decimal("0.0"), 0, 1),
    "pinghu": (None, 0, 0),
    "bantian": (None, 0, 0),
    "district": (Decimal("0.0"), 0, 1),
}


def _copy_project(tmp_path: Path) -> Path:
    project = tmp_path / "dbt_project"
    shutil.copytree(PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    return project


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The dbt project with one catalog row added, built on the dbt fixture."""
    tmp_path = tmp_path_factory.mktemp("catalog")
    project = _copy_project(tmp_path)
    seed = project / "seeds" / "indicators.csv"
    rows = indicator_catalog.read_catalog(seed)
    assert NEW["indicator_code"] not in {r["indicator_code"] for r in rows}
    with seed.open("a", encoding="utf-8", newline="") as fh:
        csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n").writerow(NEW)
    db_path = tmp_path / "gonghui.duckdb"
    with duckdb.connect(str(db_path)) as con:
        build_raw(con)
    result = run_dbt(tmp_path, db_path, "build", project_dir=project)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    con = duckdb.connect(str(db_path), read_only=True)
    con.execute("set search_path = 'marts,main'")
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text(encoding="utf-8"))
    yield con, manifest
    con.close()


def test_added_row_is_in_annual_indicators(built):
    con, _ = built
    rows = {
        street: (value, int(numerator), None if denominator is None else int(denominator))
        for street, value, numerator, denominator in con.execute(
            "select street_code, value, numerator, denominator from annual_indicators "
            "where indicator_code = 'union_rate_50_99' and year = 2021"
        ).fetchall()
    }
    assert len(rows) == 12  # 11 streets + district
    for street, expected in EXPECTED.items():
        assert rows[street] == expected, street
    # a year present only in raw.source_files gets its zero rows too
    assert con.execute(
        "select count(*) from annual_indicators where indicator_code = 'union_rate_50_99' "
        "and year = 2022"
    ).fetchone() == (12,)


def test_added_row_is_traced_and_recounts(built):
    con, manifest = built
    for street in EXPECTED:
        t = trace.trace(con, "union_rate_50_99", 2021, street, manifest=manifest)
        assert t.matches, (street, t.recount, t.published)
        assert t.rule["numerator"] == NEW["filter"]
        assert t.rule["denominator"] == NEW["denominator_filter"]
    t = trace.trace(con, "union_rate_50_99", 2021, "buji", manifest=manifest)
    assert [r["natural_key"] for r in t.contributing_rows] == ["E6"]
    assert "marts.fct_enterprise_unions" in t.models
    assert any("union_rate_50_99__denominator" in s["column"] for s in t.column_lineage)


def test_added_row_is_in_the_report(built):
    con, _ = built
    data = report.collect(con, 2021)
    lines = [line for _, _, domain_lines in data["domains"] for line in domain_lines]
    (line,) = [line for line in lines if line.code == "union_rate_50_99"]
    assert line.name_zh == "50-99人企业建会率"
    assert line.phrase == "0%"


def test_a_bad_catalog_row_fails_the_build_naming_the_indicator(tmp_path):
    project = _copy_project(tmp_path)
    seed = project / "seeds" / "indicators.csv"
    rows = indicator_catalog.read_catalog(seed)
    with seed.open("a", encoding="utf-8", newline="") as fh:
        csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n").writerow(
            NEW | {"source_model": "stg_landing__enterprises"}
        )
    db_path = tmp_path / "gonghui.duckdb"
    with duckdb.connect(str(db_path)) as con:
        build_raw(con)
    result = run_dbt(
        tmp_path, db_path, "build", "--select", "+int_indicators_computed", project_dir=project
    )
    assert result.returncode != 0
    assert "indicator union_rate_50_99" in result.stdout
    assert "stg_landing__enterprises is not the fct model of a report kind" in result.stdout


def test_docs_spec_is_generated_from_the_catalog():
    assert indicator_catalog.SPEC_PATH.read_text(encoding="utf-8") == indicator_catalog.spec_csv()


def test_every_catalog_row_has_a_counting_rule_and_a_style():
    for row in indicator_catalog.read_catalog():
        rule = trace.rule_for(row)
        assert rule.table == row["source_model"]
        assert row["phrase_style"] in ("pct", "exact", "amount", "rounded", "approx")
