"""End to end: the calibrated demo submissions → `gonghui run` → the published mart.

Runs the real pipeline (Dagster, polars, dbt, checks, publication) once per session on the
full-scale generated demo data, then checks the published figures against the product spec.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from conftest import pipeline_env
from pii_scan import find_leaks, landing_secrets

from orchestration.lib.identifiers import is_valid_credit_code, is_valid_id_number

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "docs" / "spec" / "indicators.csv"
GONGHUI = Path(sys.executable).with_name("gonghui")

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("e2e")
    env = pipeline_env(base / "raw", base / "warehouse", pii_key="e2e-test-key")
    subprocess.run([GONGHUI, "demo-data"], env=env, check=True, capture_output=True)
    proc = subprocess.run([GONGHUI, "run"], env=env, capture_output=True, text=True)
    return base, proc


def _spec_rows():
    with SPEC.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _expected(cell: str) -> tuple[Decimal, Decimal | None, Decimal | None]:
    """'99.8 (2042/2046)' → (99.8, 2042, 2046); '1046' → (1046, None, None)."""
    value, _, rest = cell.partition(" (")
    if rest:
        num, den = rest.rstrip(")").split("/")
        return Decimal(value), Decimal(num), Decimal(den)
    return Decimal(value), None, None


def test_run_publishes(demo_run):
    base, proc = demo_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PUBLISHED" in proc.stdout
    assert (base / "warehouse" / "published" / "mart.duckdb").is_file()
    # the run is recorded in the Dagster instance under the warehouse folder
    assert (base / "warehouse" / "dagster").is_dir()


def test_2021_district_reproduces_every_indicator(demo_run):
    base, _ = demo_run
    with duckdb.connect(
        str(base / "warehouse" / "published" / "mart.duckdb"), read_only=True
    ) as con:
        got = {
            code: (value, num, den)
            for code, value, num, den in con.execute(
                "select indicator_code, value, numerator, denominator from annual_indicators "
                "where year = 2021 and street_code = 'district'"
            ).fetchall()
        }
    rows = _spec_rows()
    assert len(rows) == 30
    mismatches = []
    for row in rows:
        value, num, den = _expected(row["demo_2021_value"])
        code = row["indicator_code"]
        if code not in got:
            mismatches.append(f"{code}: missing")
            continue
        g_value, g_num, g_den = got[code]
        if Decimal(str(g_value)) != value:
            mismatches.append(f"{code}: value {g_value} != {value}")
        if num is not None and (Decimal(str(g_num)) != num or Decimal(str(g_den)) != den):
            mismatches.append(f"{code}: {g_num}/{g_den} != {num}/{den}")
    assert not mismatches, "\n".join(mismatches)


def test_every_indicator_street_and_year_present(demo_run):
    base, _ = demo_run
    with duckdb.connect(
        str(base / "warehouse" / "published" / "mart.duckdb"), read_only=True
    ) as con:
        counts = con.execute(
            "select year, count(distinct street_code), count(distinct indicator_code), count(*) "
            "from annual_indicators group by year order by year"
        ).fetchall()
    assert counts == [(2020, 12, 30, 360), (2021, 12, 30, 360)]


#: candidate patterns; a hit counts only if the value is really such a number (below)
PII_PATTERNS = {
    # 6-digit region, birth date 19xx/20xx, sequence, check character (GB 11643)
    "identity number": (
        r"(^|[^0-9A-Za-z])[1-9][0-9]{5}(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])"
        r"[0-9]{3}[0-9Xx]([^0-9A-Za-z]|$)"
    ),
    "phone number": r"(^|[^0-9A-Za-z])1[3-9][0-9]{9}([^0-9A-Za-z]|$)",
}


def _is_pii(label: str, text: str) -> bool:
    """Confirm a regex hit: an identity number must carry a valid check digit and must not be
    a valid credit code (some credit codes are all digits)."""
    if label == "phone number":
        return True
    for match in re.finditer(r"[0-9]{17}[0-9Xx]", text):
        token = match.group(0).upper()
        if is_valid_id_number(token) and not is_valid_credit_code(token):
            return True
    return False


@pytest.mark.parametrize("database", ["gonghui.duckdb", "published/mart.duckdb"])
def test_no_identity_or_phone_number_in_any_table(demo_run, database):
    base, _ = demo_run
    findings = []
    with duckdb.connect(str(base / "warehouse" / database), read_only=True) as con:
        columns = con.execute(
            "select schema_name, table_name, column_name from duckdb_columns() "
            "where data_type = 'VARCHAR' and database_name = current_database()"
        ).fetchall()
        for schema, table, column in columns:
            for label, pattern in PII_PATTERNS.items():
                hits = con.execute(
                    f'select distinct "{column}" from "{schema}"."{table}" '
                    f'where regexp_matches("{column}", ?) limit 1000',
                    [pattern],
                ).fetchall()
                confirmed = [h[0] for h in hits if _is_pii(label, h[0])]
                if confirmed:
                    findings.append(f"{schema}.{table}.{column}: {label} like {confirmed[0]!r}")
    assert not findings, "\n".join(findings)


def test_no_landing_identity_or_phone_number_in_any_warehouse_file(demo_run):
    """The identity and phone numbers actually written in the demo landing files appear in no
    file under the warehouse folder: databases (every VARCHAR column), Parquet exports,
    Dagster's storage, dbt's target and logs, Data Docs, manifests and decision records."""
    base, _ = demo_run
    secrets = landing_secrets(base / "raw")
    assert len(secrets) > 10_000, "the scan must see the members' identity and phone numbers"
    leaks, scanned = find_leaks(base / "warehouse", secrets)
    assert leaks == [], "\n".join(leaks[:20])
    assert scanned["duckdb"] >= 3 and scanned["parquet"] >= 10 and scanned["bytes"] >= 10
