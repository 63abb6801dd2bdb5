"""Another district adopts gonghui by configuration only: its own streets list.

A fictional district (东湖区) with three streets of its own codes and names (``alpha``,
``beta``, ``gamma``): its landing folder is the demo generator's output, at a tiny scale, for
three Longgang streets whose folders (and file names) are renamed to the new codes.
``GONGHUI_STREETS`` points at its streets file and ``gonghui run`` runs the whole pipeline in a
subprocess; the published mart must have exactly those streets, indicators for each and a
district total that is the sum of the streets, and no Longgang street code anywhere.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from conftest import pipeline_env

from orchestration.lib.settings import DEFAULT_STREETS_PATH
from orchestration.lib.streets import load_street_codes

GONGHUI = Path(sys.executable).with_name("gonghui")
LONGGANG = load_street_codes(DEFAULT_STREETS_PATH)
#: Longgang street (demo data) → the other district's street: code, Chinese name, short name
RENAMED = {
    "pinghu": ("alpha", "甲山街道", "甲山"),
    "buji": ("beta", "乙水街道", "乙水"),
    "pingdi": ("gamma", "丙岭街道", "丙岭"),
}
DEMO_SHORT_NAMES = {"pinghu": "平湖", "buji": "布吉", "pingdi": "坪地"}
STREETS_FILE = "street_code,name_zh,short_zh,name_en\n" + "".join(
    f"{code},{zh},{short},{code.title()}\n" for code, zh, short in RENAMED.values()
)
DISTRICT_ROW = "district,东湖区,东湖区,Donghu District\n"

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def _other_district_landing(demo: Path, raw: Path) -> None:
    """Copy the demo folders of the renamed streets under their new codes (file names too:
    the demo names some files after the street code, e.g. ``buji_disputes_2021Q1.csv``)."""
    for year in sorted(p for p in demo.iterdir() if p.is_dir()):
        for old, (new, _zh, short) in RENAMED.items():
            for src in (year / old).iterdir():
                name = src.name.replace(old, new).replace(DEMO_SHORT_NAMES[old], short)
                dst = raw / year.name / new / name
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)


@pytest.fixture(scope="module")
def other_district(tmp_path_factory):
    base = tmp_path_factory.mktemp("other_district")
    streets = base / "streets.csv"
    # the district row among the streets: it names the district and is not a street
    streets.write_text(STREETS_FILE.replace("\n", "\n" + DISTRICT_ROW, 1), encoding="utf-8")
    env = pipeline_env(
        base / "raw",
        base / "warehouse",
        pii_key="other-district-test-key",
        GONGHUI_STREETS=str(streets),
    )
    demo = base / "demo"
    subprocess.run(
        [GONGHUI, "demo-data", "--scale", "0.02", "--raw-dir", str(demo)],
        env=env,
        check=True,
        capture_output=True,
    )
    _other_district_landing(demo, base / "raw")
    proc = subprocess.run([GONGHUI, "run"], env=env, capture_output=True, text=True)
    return base, env, proc


@pytest.fixture(scope="module")
def mart(other_district):
    base, _env, proc = other_district
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    with duckdb.connect(str(base / "warehouse/published/mart.duckdb"), read_only=True) as con:
        yield con


def test_the_run_publishes_for_the_three_streets(other_district, mart):
    _base, _env, proc = other_district
    assert "PUBLISHED" in proc.stdout
    assert "streets re-read: all 3" in proc.stdout


def test_dim_street_is_exactly_the_configured_streets_in_their_order(mart):
    rows = mart.execute(
        "select street_code, name_zh, short_zh, sort_order from dim_street order by sort_order"
    ).fetchall()
    assert rows == [(c, zh, short, i) for i, (c, zh, short) in enumerate(RENAMED.values(), 1)]


def test_annual_indicators_has_every_street_and_the_district_total(mart):
    indicators = mart.execute("select count(*) from dim_indicator").fetchone()[0]
    units = dict(
        mart.execute(
            "select street_code, count(*) from annual_indicators where year = 2021 group by 1"
        ).fetchall()
    )
    expected_units = {"district", *(c for c, _, _ in RENAMED.values())}
    assert units == dict.fromkeys(expected_units, indicators)
    additive = mart.execute(
        "select a.indicator_code, a.street_code, a.value from annual_indicators a "
        "join dim_indicator i using (indicator_code) where i.additive and a.year = 2021"
    ).fetchall()
    by_code: dict[str, dict[str, Decimal]] = {}
    for code, street, value in additive:
        by_code.setdefault(code, {})[street] = Decimal(value or 0)
    assert by_code, "no additive indicator"
    for code, values in by_code.items():
        district = values.pop("district")
        assert district == sum(values.values()), code
    # the demo's three streets do report: the district total is not a sum of zeros
    assert sum(v for vals in by_code.values() for v in vals.values()) > 0


def test_no_longgang_street_code_anywhere_in_the_mart(mart):
    columns = mart.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where data_type = 'VARCHAR'"
    ).fetchall()
    assert columns
    found = []
    for schema, table, column in columns:
        for code in LONGGANG:
            n = mart.execute(
                f'select count(*) from "{schema}"."{table}" where lower("{column}") like ?',
                [f"%{code}%"],
            ).fetchone()[0]
            if n:
                found.append((schema, table, column, code, n))
    assert found == []


def test_the_report_names_the_district_and_its_streets(other_district, tmp_path):
    _base, env, _proc = other_district
    out = tmp_path / "report.html"
    proc = subprocess.run(
        [GONGHUI, "report", "--year", "2021", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    html = out.read_text(encoding="utf-8")
    assert "东湖区总工会2021年工作数据报告" in html
    assert "全区（3 个街道）" in html
    assert "龙岗" not in html
    positions = [html.index(short) for _c, _zh, short in RENAMED.values()]
    assert positions == sorted(positions)  # the charts follow the list's order
