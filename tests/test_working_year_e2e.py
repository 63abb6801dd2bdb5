"""The working year, end to end (issue 13): the 2020 + 2021 demo data plus the 2022 files of
one street, run with ``GONGHUI_AS_OF`` at several points of the calendar.

One real ``gonghui run`` at 2022-08-01 builds the shared warehouse (module fixture); each
scenario copies it and runs again: a closed year that loses a file keeps its published rows
while the others publish; 2022 past its deadline (by date or by ``gonghui year close``) is
blocked and keeps its provisional rows; reopened, it publishes provisional again.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from conftest import pipeline_env

GONGHUI = Path(sys.executable).with_name("gonghui")
SCALE = 0.1
ONE_STREET = "buji"
pytestmark = pytest.mark.xdist_group("working_year")


def _env(raw: Path, warehouse: Path, as_of: str) -> dict[str, str]:
    return pipeline_env(raw, warehouse, pii_key="working-year-test-key", GONGHUI_AS_OF=as_of)


@dataclass
class Site:
    raw: Path
    warehouse: Path

    @property
    def mart(self) -> Path:
        return self.warehouse / "published" / "mart.duckdb"

    def gonghui(self, *args: str, as_of: str = "2022-08-01") -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(GONGHUI), *args],
            env=_env(self.raw, self.warehouse, as_of),
            capture_output=True,
            text=True,
        )

    def query(self, sql: str, params=None) -> list[tuple]:
        with duckdb.connect(str(self.mart), read_only=True) as con:
            return con.execute(sql, params).fetchall()

    def manifest(self) -> dict:
        return json.loads((self.mart.parent / "manifest.json").read_text(encoding="utf-8"))

    def decision(self, run_id: str) -> dict:
        path = self.mart.parent / "decisions" / f"{run_id}.json"
        return json.loads(path.read_text(encoding="utf-8"))

    def copy(self, target: Path) -> Site:
        shutil.copytree(self.raw, target / "raw")
        (target / "warehouse").mkdir(parents=True)
        shutil.copy2(self.warehouse / "gonghui.duckdb", target / "warehouse" / "gonghui.duckdb")
        shutil.copytree(self.warehouse / "published", target / "warehouse" / "published")
        return Site(target / "raw", target / "warehouse")


@dataclass
class Base:
    site: Site
    proc: subprocess.CompletedProcess
    expected_2021: dict
    run_id: str


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Base:
    from gonghui_demo import generate

    root = tmp_path_factory.mktemp("working_year")
    summary = generate(root / "raw", scale=SCALE, seed=2021, years=(2020, 2021, 2022))
    for street in (root / "raw" / "2022").iterdir():
        if street.name != ONE_STREET:
            shutil.rmtree(street)
    site = Site(root / "raw", root / "warehouse")
    proc = site.gonghui("run")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return Base(site, proc, summary["expected"][2021], site.manifest()["run_id"])


def _expected(cell) -> tuple[Decimal, Decimal | None, Decimal | None]:
    value, _, rest = str(cell).partition(" (")
    if rest:
        num, den = rest.rstrip(")").split("/")
        return Decimal(value), Decimal(num), Decimal(den)
    return Decimal(value), None, None


def _year_rows(site: Site, year: int) -> list[tuple]:
    return site.query(
        "select street_code, indicator_code, value, numerator, denominator, status "
        "from annual_indicators where year = ? order by 1, 2",
        [year],
    )


def _year_status(site: Site) -> dict[int, dict]:
    with duckdb.connect(str(site.mart), read_only=True) as con:
        cur = con.execute("select * from year_status order by year")
        names = [d[0] for d in cur.description]
        return {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def test_an_open_year_publishes_provisional_and_closed_years_final(base):
    site = base.site
    assert "PUBLISHED" in base.proc.stdout
    assert "2022 (open): published, provisional" in base.proc.stdout
    got = {
        code: (value, num, den)
        for code, value, num, den in site.query(
            "select indicator_code, value, numerator, denominator from annual_indicators "
            "where year = 2021 and street_code = 'district'"
        )
    }
    assert len(base.expected_2021) == 30 and set(got) == set(base.expected_2021)
    for code, cell in base.expected_2021.items():
        value, num, den = _expected(cell)
        assert Decimal(str(got[code][0])) == value, code
        if num is not None:
            assert (Decimal(str(got[code][1])), Decimal(str(got[code][2]))) == (num, den), code
    statuses = dict(
        site.query("select year, string_agg(distinct status) from annual_indicators group by 1")
    )
    assert statuses == {2020: "final", 2021: "final", 2022: "provisional"}
    years = _year_status(site)
    assert years[2022]["state"] == "open" and years[2022]["status"] == "provisional"
    assert years[2021]["state"] == "closed" and years[2021]["streets_complete"] == 11
    assert years[2022]["streets_complete"] < 11
    assert years[2022]["kinds_received"] < years[2022]["kinds_expected"] == 88
    assert all(y["published_run_id"] == base.run_id for y in years.values())
    missing = site.query(
        "select street_code, report_kind from submission_status "
        "where year = 2022 and status = 'missing' order by 1, 2"
    )
    assert len(missing) == 10 * 8 and ONE_STREET not in {s for s, _ in missing}
    assert site.query(
        "select count(*) from submission_status where year = 2021 and status != 'received'"
    ) == [(0,)]
    decision = site.decision(base.run_id)
    assert decision["decision"] == "published"
    y2022 = next(y for y in decision["years"] if y["year"] == 2022)
    assert y2022["decision"] == "published" and y2022["status"] == "provisional"
    listed = {
        (f["street"], f["kind"]) for f in y2022["findings"] if f["check"] == "gate_completeness"
    }
    assert set(missing) <= listed
    grid = site.gonghui("status", "--year", "2022")
    assert grid.returncode == 0, grid.stderr
    lines = grid.stdout.splitlines()
    assert lines[0].startswith("2022: open (deadline 2023-02-15, as of 2022-08-01)")
    buji = next(line for line in lines if line.startswith("布吉"))
    pinghu = next(line for line in lines if line.startswith("平湖"))
    # all 8 kinds of 布吉: its 2022 register and roster are byte-identical to 2021's, and an
    # identical file of another year is a submission of its own, not a duplicate
    assert buji.count("✓") == 8 and pinghu.split()[1:] == ["·"] * 8
    assert "missing 80" in grid.stdout


def test_the_report_of_an_open_year_says_its_figures_are_provisional(base, tmp_path):
    site = base.site
    for year, out in ((2022, tmp_path / "r2022.html"), (2021, tmp_path / "r2021.html")):
        proc = site.gonghui("report", "--year", str(year), "--out", str(out))
        assert proc.returncode == 0, proc.stderr
    html = (tmp_path / "r2022.html").read_text(encoding="utf-8")
    assert "2022年工作数据报告（临时数）" in html
    assert "截至 2022年7月31日，数据尚未报齐：" in html and "平湖（8 类报表）" in html
    # the submission desk's page: who sent what, street × report kind
    assert "三、2022 年报送情况" in html
    grid = dict(re.findall(r"<tr><td>(\S+?)</td>((?:<td class=\"mark\">.*?</td>)+)</tr>", html))
    assert grid["布吉"].count(">✓<") == 8 and grid["平湖"].count(">·<") == 8, grid
    final = (tmp_path / "r2021.html").read_text(encoding="utf-8")
    assert "临时数" not in final and 'provisional-banner"' not in final


def test_feedback_has_a_quarantine_row_for_every_quarantined_row_of_the_street(base, tmp_path):
    import fastexcel

    site = base.site
    proc = site.gonghui("feedback", "--year", "2021", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    expected = dict(
        site.query(
            "select street_code, count(*) from audit.quarantined_rows where year = 2021 "
            "and _superseded_by is null group by 1"
        )
    )
    assert sum(expected.values()) > 0
    books = sorted(tmp_path.glob("2021_*_反馈单.xlsx"))
    assert len(books) == 11
    for book in books:
        street = book.name.split("_")[1]
        sheet = fastexcel.read_excel(str(book)).load_sheet_by_name("隔离行")
        rows = [r for r in sheet.to_polars().to_dicts() if r["文件"] != "无"]
        assert len(rows) == expected.get(street, 0), street
        assert all(r["文件"].startswith(f"2021/{street}/") for r in rows)


def test_a_closed_year_missing_a_dispute_file_keeps_its_rows_while_the_others_publish(
    base, tmp_path
):
    site = base.site.copy(tmp_path)
    before = _year_rows(site, 2021)
    with duckdb.connect(str(site.warehouse / "gonghui.duckdb"), read_only=True) as con:
        files = con.execute(
            "select _source_file from raw.source_files where year = 2021 "
            "and street_code = 'pinghu' and report_kind = 'dispute_cases'"
        ).fetchall()
    assert files
    for (name,) in files:
        (site.raw / name).unlink()
    proc = site.gonghui("run")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-3000:]
    run_id = site.manifest()["run_id"]
    assert run_id != base.run_id
    assert _year_rows(site, 2021) == before, "a blocked year keeps its published rows"
    years = _year_status(site)
    assert years[2021]["decision"] == "blocked" and years[2021]["status"] == "final"
    assert years[2021]["published_run_id"] == base.run_id
    assert "pinghu · dispute_cases" in years[2021]["blocked_by"]
    assert years[2020]["decision"] == years[2022]["decision"] == "published"
    assert years[2020]["published_run_id"] == years[2022]["published_run_id"] == run_id
    assert "2021 (closed): BLOCKED" in proc.stdout
    assert "pinghu · dispute_cases · every street submitted" in proc.stdout
    y2021 = next(y for y in site.decision(run_id)["years"] if y["year"] == 2021)
    assert y2021["decision"] == "blocked"
    assert {(b["street"], b["kind"], b["check"]) for b in y2021["blocked_by"]} == {
        ("pinghu", "dispute_cases", "gate_completeness")
    }


def _assert_2022_blocked_and_kept(site: Site, proc, before: list[tuple]) -> dict:
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-3000:]
    assert "2022 (closed): BLOCKED" in proc.stdout
    assert _year_rows(site, 2022) == before
    assert {r[-1] for r in before} == {"provisional"}
    years = _year_status(site)
    assert years[2022]["state"] == "closed" and years[2022]["decision"] == "blocked"
    assert years[2022]["status"] == "provisional"
    assert years[2021]["decision"] == "published" and years[2021]["status"] == "final"
    late = site.query(
        "select count(*) from submission_status where year = 2022 and status = 'late'"
    )
    assert late == [(80,)]
    return years


def test_after_the_deadline_an_incomplete_year_is_blocked_and_stays_provisional(base, tmp_path):
    site = base.site.copy(tmp_path)
    before = _year_rows(site, 2022)
    proc = site.gonghui("run", as_of="2023-02-15")
    years = _assert_2022_blocked_and_kept(site, proc, before)
    assert years[2022]["state_source"] == "calendar"


def test_closing_by_command_gates_the_year_and_reopening_publishes_it_again(base, tmp_path):
    site = base.site.copy(tmp_path)
    before = _year_rows(site, 2022)
    closed = site.gonghui("year", "close", "2022", "--by", "办公室", "--reason", "test")
    assert closed.returncode == 0 and "year 2022 closed by 办公室" in closed.stdout
    proc = site.gonghui("run")
    years = _assert_2022_blocked_and_kept(site, proc, before)
    assert years[2022]["state_source"] == "command by 办公室"
    register = site.manifest()["year_register"]
    assert [(e["year"], e["action"], e["by"]) for e in register] == [(2022, "close", "办公室")]
    reopened = site.gonghui("year", "reopen", "2022")
    assert reopened.returncode == 0
    proc = site.gonghui("run")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "2022 (open): published, provisional" in proc.stdout
    years = _year_status(site)
    assert years[2022]["decision"] == "published" and years[2022]["state"] == "open"
    assert years[2022]["published_run_id"] == site.manifest()["run_id"]
