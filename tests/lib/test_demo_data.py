"""The demo landing-data generator: calibration, determinism, coverage of the deviations.

Fast: the file-level tests run at scale 0.02; the calibration against the spec runs on the
canonical records at scale 1.0 without the member roster (the roster's calibration is checked
on canonical records at a small scale, and end to end by the e2e pipeline test).
"""

from __future__ import annotations

import csv
import datetime as dt
from datetime import date
from pathlib import Path

import pytest

import gonghui_demo as demo
from gonghui_demo import layouts as L
from gonghui_demo import population as P
from gonghui_demo import verify as V
from orchestration.lib.identifiers import is_valid_credit_code, is_valid_id_number

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "docs" / "spec"
SCALE = 0.02


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, dict]:
    raw = tmp_path_factory.mktemp("demo") / "raw"
    return raw, demo.generate(raw, scale=SCALE)


def _spec_values() -> dict[str, str]:
    with (SPEC / "indicators.csv").open(encoding="utf-8") as fh:
        return {r["indicator_code"]: r["demo_2021_value"] for r in csv.DictReader(fh)}


def test_streets_and_indicators_follow_the_spec():
    with (SPEC / "streets.csv").open(encoding="utf-8") as fh:
        streets = [(r["street_code"], r["name_zh"], r["short_zh"]) for r in csv.DictReader(fh)]
    assert [s[:3] for s in P.STREETS] == streets
    assert list(_spec_values()) == list(P.INDICATORS)


def test_2021_calibration_at_full_scale_without_roster():
    universe = P.build_universe(1.0, 2021, with_members=False)
    got = P.expected_indicators(P.build_year(universe, 2021, 1.0, 2021))["district"]
    for code, cell in _spec_values().items():
        if code in ("member_records", "members_verified"):
            continue
        value, _, ratio = cell.partition(" (")
        if ratio:
            num, den = (int(x) for x in ratio.rstrip(")").split("/"))
            assert (got[code]["numerator"], got[code]["denominator"]) == (num, den), code
            assert got[code]["value"] == float(value), code
        else:
            assert got[code] == pytest.approx(float(value), abs=1e-9), code


def test_roster_calibration_and_cross_street_duplicates():
    scale = 0.01
    universe = P.build_universe(scale, 2021)
    got = P.expected_indicators(P.build_year(universe, 2021, scale, 2021))["district"]
    assert got["member_records"] == round(750412 * scale)
    assert got["members_verified"] == round(170385 * scale)
    seen: dict[str, list[tuple[str, object]]] = {}
    for street, members in universe.members.items():
        for m in members:
            assert is_valid_id_number(m.id_number)
            assert m.collected_on.year <= 2021
            assert m.joined_on is None or m.joined_on <= m.collected_on
            assert m.verified_on is None or m.collected_on <= m.verified_on <= date(2021, 12, 31)
            seen.setdefault(m.id_number, []).append((street, m.collected_on))
    dups = {k: v for k, v in seen.items() if len(v) > 1}
    assert len(dups) == round(3000 * scale)
    for records in dups.values():
        assert len(records) == 2
        assert records[0][0] != records[1][0]  # two streets
        assert records[0][1] != records[1][1]  # never the same date


def test_files_reproduce_the_expected_figures(generated):
    raw, summary = generated
    for year in (2020, 2021):
        got = V.read_year(raw, year)
        expected = V.as_comparable(summary["expected"][year])
        assert got["district"] == expected, year
        assert got["total_mismatches"] == [], year
        assert got["unrecognised"] == ["报送说明.txt"], year
        # every street sends every kind
        assert set(got["kinds"]) == set(P.STREET_CODES)
        for street, kinds in got["kinds"].items():
            assert kinds == set(P.KINDS), (year, street)


def test_bad_rows_are_quarantined_and_only_in_2021(generated):
    raw, _ = generated
    q21 = V.read_year(raw, 2021)["quarantined"]
    assert set(q21) == {
        "identity number",
        "credit code",
        "date outside the year",
        "negative amount",
        "non-numeric amount",
        "unknown category",
    }
    assert 20 <= sum(q21.values()) <= 60
    assert V.read_year(raw, 2020)["quarantined"] == {}


def test_superseded_files_would_change_the_figures(generated):
    raw, _ = generated
    honest = V.read_year(raw, 2021)["district"]
    naive = V.read_year(raw, 2021, honour_corrections=False)["district"]
    changed = {k for k in honest if honest[k] != naive[k]}
    # corrected kinds: enterprise register, roster, disputes, activities
    assert {"disputes_mediated", "member_records", "worker_events"} <= changed
    assert "union_rate_100plus" in changed or "union_rate_25_99" in changed


def test_deterministic(generated, tmp_path):
    raw, _ = generated
    again = tmp_path / "raw"
    demo.generate(again, scale=SCALE)
    first = sorted(p.relative_to(raw) for p in raw.rglob("*") if p.is_file())
    second = sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert first == second
    for rel in first:
        assert (raw / rel).read_bytes() == (again / rel).read_bytes(), rel


def test_files_are_dated_as_received_after_their_year(generated):
    """The demo stands for submissions received long ago: none is "still arriving", so a run
    right after `gonghui demo-data` (make run) reads every file instead of deferring it."""
    raw, _summary = generated
    for path in (p for p in raw.rglob("*") if p.is_file()):
        year = int(path.relative_to(raw).parts[0])
        received = dt.datetime.fromtimestamp(path.stat().st_mtime)
        assert received == dt.datetime(year + 1, 1, 31, 12, 0), path


def test_manifest_covers_every_family_with_existing_files(generated):
    raw, _ = generated
    assert demo.manifest() == demo.MANIFEST
    for family in L.FAMILIES:
        files_2021 = [f for f in demo.MANIFEST[family] if f.startswith("2021/")]
        assert files_2021, family
        if not family.startswith("bad_"):
            assert any(f.startswith("2020/") for f in demo.MANIFEST[family]), family
    listed = {f for files in demo.MANIFEST.values() for f in files}
    on_disk = {str(p.relative_to(raw)) for p in raw.rglob("*") if p.is_file()}
    assert listed == on_disk


def test_period_and_correction_markers_in_file_names():
    names = [s.name for s in L.all_file_specs(2021)]
    assert "buji_members_2021Q3.csv" in names
    assert "劳资纠纷台账（修订版）.xlsx" in names
    assert "平湖街道2021年劳资纠纷调处台账.xlsx" in names
    assert V.period_of("园山街道2021年11月劳资纠纷台账.xlsx", 2021)[0].month == 11
    assert V.period_of("bantian_worker_requests_202103.json", 2021)[0].month == 3
    assert V.period_of("龙岗街道2021年第二季度劳资纠纷台账_更正.xlsx", 2021)[0].month == 4
    superseded = [s for s in L.all_file_specs(2021) if s.version]
    assert {s.marker for s in L.all_file_specs(2021) if s.marker} == {
        "resubmission_xiuding",
        "resubmission_gengzheng",
        "resubmission_v2",
        "resubmission_v3",
    }
    assert len(superseded) >= 6


def test_only_the_written_year_folders_are_replaced(tmp_path):
    raw = tmp_path / "raw"
    (raw / "2019" / "buji").mkdir(parents=True)
    (raw / "2019" / "buji" / "old.csv").write_text("x")
    (raw / "2021" / "buji").mkdir(parents=True)
    (raw / "2021" / "buji" / "stale.csv").write_text("x")
    (raw / "README.txt").write_text("keep")
    summary = demo.generate(raw, scale=0.005, years=(2021,))
    assert (raw / "2019" / "buji" / "old.csv").exists()
    assert (raw / "README.txt").read_text() == "keep"
    assert not (raw / "2021" / "buji" / "stale.csv").exists()
    assert not (raw / "2020").exists()
    assert summary["files"] == {2021: len(L.all_file_specs(2021)) + len(L.JUNK_FILES)}


def test_identifiers_valid_in_canonical_records():
    universe = P.build_universe(0.01, 7, with_members=False)
    data = P.build_year(universe, 2021, 0.01, 7)
    for rows in data.records["enterprise_register"].values():
        assert all(is_valid_credit_code(r["credit_code"]) for r in rows)
    for kind in ("dream_program", "hardship_assistance"):
        for rows in data.records[kind].values():
            assert all(is_valid_id_number(r["id_number"]) for r in rows)
