"""``gonghui trace``: for every indicator of indicators.csv the recount from the listed source
rows equals the published value, and the trace shows formula, lineage and excluded rows."""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest
from published_demo import PUBLISHED_GROUP, build_published_demo

from orchestration.lib import trace as tr

pytestmark = pytest.mark.xdist_group(PUBLISHED_GROUP)


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    return build_published_demo(tmp_path_factory)


SPEC = Path(__file__).resolve().parents[2] / "docs" / "spec" / "indicators.csv"
CATALOG = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds" / "indicators.csv"
CODES = [row["indicator_code"] for row in csv.DictReader(SPEC.open(encoding="utf-8"))]
SHA256 = re.compile(r"^[0-9a-f]{64}$")


@pytest.fixture(scope="module")
def con(demo):
    with duckdb.connect(str(demo.mart), read_only=True) as connection:
        yield connection


def _published(con, code, year, street):
    return con.execute(
        "select value, numerator, denominator from annual_indicators "
        "where indicator_code = ? and year = ? and street_code = ?",
        [code, year, street],
    ).fetchone()


def _independent_recount(doc: dict) -> tuple[Decimal, Decimal | None]:
    """What an auditor does with the JSON export: apply the rule to the listed rows."""
    rule = doc["rule"]
    kind, _, column = rule["measure"].partition(":")

    def measure(rows):
        if kind == "count":
            return Decimal(len(rows))
        values = [r[column] for r in rows if r[column] is not None]
        if kind == "sum":
            return sum((Decimal(str(v)) for v in values), Decimal(0))
        return Decimal(len(set(values)))

    rows = doc["contributing_rows"]
    numerator = measure([r for r in rows if r["in_numerator"]])
    if doc["aggregation"] != "ratio":
        return numerator, None
    denominator = measure([r for r in rows if r["in_denominator"]])
    value = (Decimal(100) * numerator / denominator).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP
    )
    return value, denominator


def test_spec_has_a_rule_for_every_indicator():
    """Every indicator's counting rule comes from its catalog row (dim_indicator)."""
    assert len(CODES) == 30
    catalog = {r["indicator_code"]: r for r in csv.DictReader(CATALOG.open(encoding="utf-8"))}
    assert set(CODES) == set(catalog)
    for code in CODES:
        rule = tr.rule_for(catalog[code])
        assert rule.table == catalog[code]["source_model"]
        assert rule.measure == catalog[code]["measure"]


@pytest.mark.parametrize("code", CODES)
def test_recount_equals_published_value_everywhere(con, code):
    streets = [r[0] for r in con.execute("select street_code from dim_street").fetchall()]
    years = [r[0] for r in con.execute("select distinct year from annual_indicators").fetchall()]
    for year in years:
        for street in [tr.DISTRICT, *streets]:
            t = tr.trace(con, code, year, street)
            value, numerator, denominator = _published(con, code, year, street)
            assert t.matches, f"{code} {year} {street}: {t.recount} != {t.published}"
            assert Decimal(str(t.recount["numerator"])) == numerator
            if value is None:
                assert t.recount["value"] is None
            else:
                assert Decimal(str(t.recount["value"])) == value
            if denominator is not None:
                assert Decimal(str(t.recount["denominator"])) == denominator
            for row in t.contributing_rows:
                assert row["_source_file"] and row["_source_row"] is not None
                assert SHA256.match(row["_file_sha256"])
                assert street == tr.DISTRICT or row["street_code"] == street


def test_recounts_are_not_all_zero(con):
    """At the demo's small scale a rare indicator may be zero everywhere, but most are not."""
    zero = [
        code
        for code in CODES
        if not con.execute(
            "select count(*) from annual_indicators where indicator_code = ? and value <> 0",
            [code],
        ).fetchone()[0]
    ]
    assert len(zero) <= 3, zero


@pytest.mark.parametrize("code", CODES)
def test_json_export_lets_an_auditor_recount(demo, con, code):
    proc = demo.gonghui("trace", code, "--year", "2021", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    value, _, denominator = _published(con, code, 2021, "district")
    recount, recount_den = _independent_recount(doc)
    assert recount == value
    assert recount_den == denominator
    assert doc["models"][0].startswith("source landing.")
    assert doc["models"][-1] == "marts.annual_indicators"
    assert any("__numerator" in step["column"] for step in doc["column_lineage"])


def test_text_output_shows_formula_lineage_and_excluded_rows(demo, con):
    proc = demo.gonghui("trace", "requests_internal_rate", "--year", "2021", "--limit", "0")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    _, numerator, denominator = _published(con, "requests_internal_rate", 2021, "district")
    assert f"round(100 × {int(numerator)} / {int(denominator)}, 1)" in out
    assert "MATCHES the published value" in out
    assert "int_indicators_computed" in out
    assert "requests_internal_rate__numerator" in out
    assert "resolved_level = '企业内部'" in out
    assert "stg_landing__worker_requests" in out
    assert "published_mart" in out


def test_excluded_rows_cover_quarantine_supersession_and_duplicates(con):
    categories = {}
    for code in ("disputes_mediated", "member_records", "worker_events"):
        for year in (2020, 2021):
            for row in tr.trace(con, code, year).excluded_rows:
                categories.setdefault(row["category"], row)
    assert {"quarantined", "superseded_file", "duplicate_key"} <= set(categories)
    for row in categories.values():
        assert row["_source_file"] and row["reason"]
    assert "resubmission" in categories["superseded_file"]["reason"]
    # every quarantined row of the published audit table shows up in some trace
    n_quarantined = con.execute("select count(*) from audit.quarantined_rows").fetchone()[0]
    assert n_quarantined > 0


def test_csv_export_has_contributing_and_excluded_rows(demo):
    proc = demo.gonghui("trace", "disputes_recovered_yuan", "--year", "2021", "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    roles = {r["role"] for r in rows}
    assert roles == {"contributing", "excluded"}
    for r in rows:
        assert r["_source_file"]
    assert all(SHA256.match(r["_file_sha256"]) for r in rows if r["role"] == "contributing")


def test_street_trace_and_errors(demo):
    ok = demo.gonghui("trace", "care_events", "--year", "2021", "--street", "buji")
    assert ok.returncode == 0 and "street buji" in ok.stdout
    unknown = demo.gonghui("trace", "no_such_indicator", "--year", "2021")
    assert unknown.returncode == 2 and "unknown indicator" in unknown.stderr
    no_year = demo.gonghui("trace", "care_events", "--year", "1999")
    assert no_year.returncode == 2 and "no published figure" in no_year.stderr


def test_recount_rounds_like_the_mart():
    assert tr.percentage(Decimal(2042), Decimal(2046)) == Decimal("99.8")
    assert tr.percentage(Decimal(1), Decimal(8)) == Decimal("12.5")
    assert tr.percentage(Decimal(1), Decimal(16)) == Decimal("6.3")  # 6.25 → half up
    assert tr.percentage(Decimal(0), Decimal(0)) is None


def test_docs_generates_the_lineage_site(demo):
    proc = demo.gonghui("docs", timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    site = demo.warehouse / "dbt-docs"
    manifest = json.loads((site / "manifest.json").read_text(encoding="utf-8"))
    annual = manifest["nodes"]["model.gonghui.annual_indicators"]
    assert "model.gonghui.int_indicators_computed" in annual["depends_on"]["nodes"]
    catalog = json.loads((site / "catalog.json").read_text(encoding="utf-8"))
    assert "model.gonghui.annual_indicators" in catalog["nodes"]
    assert (site / "static_index.html").stat().st_size > 100_000
