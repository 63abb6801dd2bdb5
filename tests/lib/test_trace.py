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
from published_demo import PUBLISHED_GROUP

from orchestration.lib import trace as tr

pytestmark = pytest.mark.xdist_group(PUBLISHED_GROUP)


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


# ------------------------------------------------------------------ subtotals, width, names


def _display_width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _table_rows(out: str, first_cells: set[str]) -> list[list[str]]:
    """The rows of the text tables whose first cell is one of ``first_cells``."""
    rows = []
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.strip().startswith("|") and cells[0] in first_cells:
            rows.append(cells)
    return rows


def test_by_street_prints_eleven_subtotals_that_sum_to_the_published_value(demo, con):
    """Issue 15, done when: ``trace disputes_recovered_yuan --year 2021 --by street``."""
    proc = demo.gonghui("trace", "disputes_recovered_yuan", "--year", "2021", "--by", "street")
    assert proc.returncode == 0, proc.stderr
    streets = {r[0] for r in con.execute("select street_code from dim_street").fetchall()}
    section = proc.stdout.split("Subtotals by street")[1].split("\n\n")[0]
    rows = _table_rows(section, streets)
    assert len(rows) == 11 and {r[0] for r in rows} == streets
    header = [c.strip() for c in section.splitlines()[2].strip().strip("|").split("|")]
    rows_col, sum_col = header.index("rows"), header.index("recovered_amount")
    value, _, _ = _published(con, "disputes_recovered_yuan", 2021, "district")
    assert sum(Decimal(r[sum_col]) for r in rows) == value
    n_rows = len(tr.trace(con, "disputes_recovered_yuan", 2021).contributing_rows)
    assert sum(int(r[rows_col]) for r in rows) == n_rows
    assert "total" in section and "= published value" in section


@pytest.mark.parametrize("code", CODES)
def test_subtotals_by_street_and_file_add_up_for_every_indicator(con, code):
    t = tr.trace(con, code, 2021, by="street")
    for by in ("street", "file"):
        sub = tr.subtotals(con, t, by)
        groups = sub["groups"]
        assert sum(g["rows"] for g in groups) == len(t.contributing_rows)
        for part in ("numerator", "denominator"):
            if t.published[part] is None:
                continue
            total = sum(Decimal(str(g[part])) for g in groups)
            if t.rule["measure"].startswith("count_distinct:"):
                # a distinct value may appear in several groups: it counts once in the total
                assert total >= Decimal(str(t.published[part])), (by, part)
                assert not sub["adds_up"]
            else:
                assert total == Decimal(str(t.published[part])), (by, part)
                assert sub["adds_up"]
        if by == "street":
            assert len(groups) == 11
        excluded = sum(g["not_counted"] for g in groups)
        assert excluded == len(t.excluded_rows)
    assert t.subtotals["by"] == "street"


def test_by_file_in_csv_and_json(demo, con):
    proc = demo.gonghui(
        "trace", "hardship_aid_yuan", "--year", "2021", "--by", "file", "--format", "csv"
    )
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    value, _, _ = _published(con, "hardship_aid_yuan", 2021, "district")
    assert rows and all(r["file"] for r in rows)
    assert sum(Decimal(r["numerator"]) for r in rows) == value
    proc = demo.gonghui(
        "trace", "hardship_aid_yuan", "--year", "2021", "--by", "file", "--format", "json"
    )
    doc = json.loads(proc.stdout)
    assert doc["subtotals"]["by"] == "file"
    assert sum(Decimal(str(g["numerator"])) for g in doc["subtotals"]["groups"]) == value


@pytest.mark.parametrize(
    "code", ["disputes_recovered_yuan", "requests_internal_rate", "member_records"]
)
def test_default_text_fits_120_columns_and_wide_shows_everything(demo, code):
    proc = demo.gonghui("trace", code, "--year", "2021", "--by", "file")
    assert proc.returncode == 0, proc.stderr
    widest = max(proc.stdout.splitlines(), key=_display_width)
    assert _display_width(widest) <= 120, widest
    assert not re.search(r"\b[0-9a-f]{64}\b", proc.stdout)  # no full sha256 by default
    wide = demo.gonghui("trace", code, "--year", "2021", "--wide")
    assert wide.returncode == 0, wide.stderr
    assert re.search(r"\| [0-9a-f]{64} \|", wide.stdout)
    assert re.search(r"\| 2021/[a-z]+/[^|]+\.(xlsx|xls|csv|json) +\|", wide.stdout)


def test_rows_of_a_superseded_file_are_superseded_not_quarantined(con):
    superseded_quarantined = con.execute(
        "select count(*) from audit.quarantined_rows where _superseded_by is not null"
    ).fetchone()[0]
    assert superseded_quarantined > 0  # the demo has quarantined rows in a corrected file
    seen = 0
    for code in ("disputes_mediated", "member_records", "hardship_aid_yuan", "care_events"):
        for year in (2020, 2021):
            for row in tr.trace(con, code, year).excluded_rows:
                if row["_superseded_by"]:
                    assert row["category"] == "superseded_file", row
                    assert "resubmission" in row["reason"]
                    seen += 1
                if row["category"] == "quarantined":
                    assert not row["_superseded_by"], row
    assert seen


@pytest.mark.parametrize("street", ["布吉", "布吉街道", "Buji"])
def test_street_by_chinese_or_english_name(demo, street):
    proc = demo.gonghui("trace", "care_events", "--year", "2021", "--street", street)
    assert proc.returncode == 0, proc.stderr
    assert "street buji" in proc.stdout


def test_unknown_street_names_the_choices(demo):
    proc = demo.gonghui("trace", "care_events", "--year", "2021", "--street", "布吉镇")
    assert proc.returncode == 2
    assert "unknown street '布吉镇'" in proc.stderr and "buji (布吉)" in proc.stderr
