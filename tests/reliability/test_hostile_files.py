"""Hostile landing files (issue 10, items 2, 4, 6 and 10): each costs its own file at most.

Every test runs the ingestion twice where it matters: the run completes, the bad file is named
with its reason, every other file is loaded, and the next run needs no manual step.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from conftest import PII_KEY, fetch, make_credit_code, source_file, write_csv
from hostile_rows import ACTIVITY_HEADER, activity
from reader_hooks import misbehaving_process_file
from workbooks import bomb_workbook, sparse_workbook

from orchestration.lib.ingest import ingest
from orchestration.lib.ingest.files import discover, scan_landing_root
from orchestration.lib.ingest.fingerprints import landing_fingerprints
from orchestration.lib.mapping import load_mapping
from orchestration.lib.settings import IngestLimits
from orchestration.lib.workers import FilePool


def activity_ids(con) -> list[tuple[str, str]]:
    return con.execute(
        "select street_code, activity_no from raw.worker_activities order by all"
    ).fetchall()


# ------------------------------------------------------------------------- 2: workbook bombs


def test_a_sparse_workbook_that_aborts_the_reader_is_too_large_before_reading(landing, run_ingest):
    bomb = sparse_workbook(landing.path("buji", "活动台账.xlsx"))
    assert bomb.stat().st_size < 2000
    landing.csv("buji", "活动.csv", [ACTIVITY_HEADER, activity("H1")])

    _report, con = run_ingest(landing)

    row = source_file(con, "活动台账.xlsx")
    assert (row["status"], row["reason_code"]) == ("rejected", "too_large")
    assert "A1:XFD1048576" in row["reason"] and "GONGHUI_MAX_SHEET_CELLS" in row["reason"]
    assert activity_ids(con) == [("buji", "H1")]


def test_a_sheet_that_lies_about_its_size_crashes_only_its_worker(landing, run_ingest):
    # declares A1:A1, so the limits pass: calamine then allocates 512 GiB and aborts (SIGABRT)
    sparse_workbook(landing.path("buji", "活动台账.xlsx"), dimension="A1:A1")
    landing.csv("buji", "活动.csv", [ACTIVITY_HEADER, activity("H1")])

    _report, con = run_ingest(landing)

    row = source_file(con, "活动台账.xlsx")
    assert (row["status"], row["reason_code"]) == ("rejected", "reader_crashed")
    assert "SIGABRT" in row["reason"]
    assert activity_ids(con) == [("buji", "H1")]


def test_a_compressed_bomb_is_too_large_by_its_zip_directory(landing, run_ingest, monkeypatch):
    monkeypatch.setenv("GONGHUI_MAX_UNCOMPRESSED_MB", "1")
    bomb = bomb_workbook(landing.path("buji", "活动台账.xlsx"), rows=20_000)
    assert bomb.stat().st_size < 200_000  # unpacks to about 2 MB
    landing.csv("buji", "活动.csv", [ACTIVITY_HEADER, activity("H1")])

    _report, con = run_ingest(landing)

    row = source_file(con, "活动台账.xlsx")
    assert (row["status"], row["reason_code"]) == ("rejected", "too_large")
    assert "GONGHUI_MAX_UNCOMPRESSED_MB" in row["reason"]
    assert activity_ids(con) == [("buji", "H1")]


def test_a_file_over_its_format_size_limit_is_too_large(landing, run_ingest, monkeypatch):
    monkeypatch.setenv("GONGHUI_MAX_CSV_MB", "0.001")
    landing.csv("buji", "活动.csv", [ACTIVITY_HEADER] + [activity(f"H{i}") for i in range(100)])
    landing.json("buji", "活动.json", [dict(zip(ACTIVITY_HEADER, activity("J1"), strict=True))])

    _report, con = run_ingest(landing)

    assert source_file(con, "活动.csv")["reason_code"] == "too_large"
    assert "GONGHUI_MAX_CSV_MB" in source_file(con, "活动.csv")["reason"]
    assert activity_ids(con) == [("buji", "J1")]


# ------------------------------------------------------------------------- 4: symlinks


def test_symlinks_are_reported_and_never_followed(landing, run_ingest, tmp_path):
    buji = landing.csv("buji", "活动.csv", [ACTIVITY_HEADER, activity("B1")])
    outside = tmp_path / "elsewhere" / "活动.csv"
    outside.parent.mkdir()
    write_csv(outside, [ACTIVITY_HEADER, activity("X1")])  # would load if the link were followed
    longgang = landing.path("longgang", "活动.csv").parent
    (longgang / "布吉的活动.csv").symlink_to(buji)
    (longgang / "外面的活动.csv").symlink_to(outside)
    (longgang / "passwd.csv").symlink_to("/etc/passwd")
    (landing.root / "2021" / "henggang").symlink_to(outside.parent, target_is_directory=True)

    _report, con = run_ingest(landing)

    assert activity_ids(con) == [("buji", "B1")]  # buji's rows once; nothing from outside
    for rel, target in [
        ("2021/longgang/布吉的活动.csv", str(buji)),
        ("2021/longgang/外面的活动.csv", str(outside)),
        ("2021/longgang/passwd.csv", "/etc/passwd"),
        ("2021/henggang", str(outside.parent)),
    ]:
        row = source_file(con, rel)
        assert (row["status"], row["reason_code"]) == ("rejected", "symlink"), rel
        assert target in row["reason"]
    assert not any(p.is_symlink() for p in discover(landing.root))

    # the next run over the same database: the links are no change, nothing is re-read
    again = ingest(landing.root, con, load_mapping(), "run-2", key=PII_KEY, skip_unchanged=True)
    assert again.streets_ingested == []


def test_a_symlink_does_not_make_the_street_changed_on_every_run(landing, tmp_path, mapping):
    buji = landing.csv("buji", "活动.csv", [ACTIVITY_HEADER, activity("B1")])
    (landing.path("longgang", "link.csv")).symlink_to(buji)
    first = landing_fingerprints(landing.root, mapping, key=b"k")
    second = landing_fingerprints(landing.root, mapping, key=b"k")
    assert first == second
    assert first["longgang"]["2021/longgang/link.csv"][0] is None


def test_two_files_with_the_same_content_are_counted_once(landing, run_ingest):
    rows = [ACTIVITY_HEADER, activity("B1"), activity("B2")]
    landing.csv("buji", "活动.csv", rows)
    landing.csv("longgang", "活动-副本.csv", rows)

    _report, con = run_ingest(landing)

    assert activity_ids(con) == [("buji", "B1"), ("buji", "B2")]
    row = source_file(con, "活动-副本.csv")
    assert (row["status"], row["reason_code"]) == ("rejected", "duplicate_content")
    assert "2021/buji/活动.csv" in row["reason"]


def test_the_same_content_in_another_year_is_a_submission_of_its_own(landing, run_ingest):
    """A register resent unchanged for the next year holds that year's rows: not a copy."""
    rows = [
        ["统一社会信用代码", "企业名称", "职工人数", "是否建会"],
        [make_credit_code("91440300MA5F0DU01"), "甲公司", 120, "是"],
    ]
    landing.csv("buji", "企业建会台账.csv", rows, year=2020)
    landing.csv("buji", "企业建会台账.csv", rows, year=2021)

    report, con = run_ingest(landing)

    assert {f.source_file: f.status for f in report.files} == {
        "2020/buji/企业建会台账.csv": "loaded",
        "2021/buji/企业建会台账.csv": "loaded",
    }
    years = con.execute("select year from raw.enterprise_register order by 1").fetchall()
    assert years == [(2020,), (2021,)]


def test_a_copy_added_later_to_another_street_is_a_duplicate_too(landing, run_ingest):
    rows = [ACTIVITY_HEADER, activity("B1")]
    landing.csv("buji", "活动.csv", rows)
    _report, con = run_ingest(landing)
    landing.csv("longgang", "活动.csv", rows)
    report = ingest(landing.root, con, load_mapping(), "run-2", key=PII_KEY, skip_unchanged=True)

    assert report.streets_ingested == ["longgang"]
    assert activity_ids(con) == [("buji", "B1")]
    assert source_file(con, "2021/longgang/活动.csv")["reason_code"] == "duplicate_content"


# ------------------------------------------------------------------------- 6: unreadable


def test_an_unreadable_file_costs_only_its_street_which_keeps_its_rows(
    landing, run_ingest, monkeypatch
):
    landing.csv("buji", "活动.csv", [ACTIVITY_HEADER, activity("B1")])
    landing.csv("buji", "活动_DENIED.csv", [ACTIVITY_HEADER, activity("B2")])
    landing.csv("longgang", "活动.csv", [ACTIVITY_HEADER, activity("L1")])
    with FilePool(2) as pool:
        _first, con = run_ingest(landing, pool=pool)
    assert len(activity_ids(con)) == 3

    # now the file cannot be read (root ignores chmod 000: the worker's open() is refused)
    landing.csv("longgang", "新活动.csv", [ACTIVITY_HEADER, activity("L2")])
    denied = landing.root / "2021/buji/活动_DENIED.csv"
    real_open = Path.open

    def refuse(self, *a, **k):
        if self == denied:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *a, **k)

    monkeypatch.setattr(Path, "open", refuse)  # the parent hashes landing files too
    with FilePool(2, target=misbehaving_process_file) as pool:
        report = ingest(
            landing.root, con, load_mapping(), "run-2", key=PII_KEY, skip_unchanged=True, pool=pool
        )

    assert "buji" in report.streets_held
    assert "Permission denied" in report.streets_held["buji"][0]
    # buji keeps both rows of the last ingestion; longgang's new file is loaded
    assert activity_ids(con) == [
        ("buji", "B1"),
        ("buji", "B2"),
        ("longgang", "L1"),
        ("longgang", "L2"),
    ]
    assert any("unreadable: [Errno 13] Permission denied" in p for p in report.problems())


def test_an_unreadable_street_folder_keeps_the_streets_rows(landing, run_ingest, monkeypatch):
    landing.csv("buji", "活动.csv", [ACTIVITY_HEADER, activity("B1")])
    landing.csv("longgang", "活动.csv", [ACTIVITY_HEADER, activity("L1")])
    _first, con = run_ingest(landing)

    folder = landing.root / "2021" / "buji"
    real_scandir = os.scandir

    def refuse(path="."):
        if Path(path) == folder:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", refuse)
    scan = scan_landing_root(landing.root)
    assert [(p.code, p.incomplete) for p in scan.problems] == [("unreadable", True)]

    for run in ("run-2", "run-3"):  # the state is stable while the folder stays unreadable
        report = ingest(landing.root, con, load_mapping(), run, key=PII_KEY, skip_unchanged=True)
        assert list(report.streets_held) == ["buji"]
        assert activity_ids(con) == [("buji", "B1"), ("longgang", "L1")]
        row = source_file(con, "2021/buji")
        assert row["reason"] == "folder unreadable: [Errno 13] Permission denied"

    monkeypatch.setattr(os, "scandir", real_scandir)  # readable again: read as usual
    report = ingest(landing.root, con, load_mapping(), "run-4", key=PII_KEY, skip_unchanged=True)
    assert report.streets_ingested == ["buji"] and not report.streets_held
    assert [r["_source_file"] for r in fetch(con, "select * from raw.source_files order by 1")] == [
        "2021/buji/活动.csv",
        "2021/longgang/活动.csv",
    ]


# ------------------------------------------------------------------------- 10: files in flux


def test_a_file_still_being_written_is_deferred_and_read_once_settled(
    landing, run_ingest, monkeypatch
):
    monkeypatch.setenv("GONGHUI_SETTLE_SECONDS", "60")
    old = landing.csv("buji", "活动.csv", [ACTIVITY_HEADER, activity("B1")])
    landing.csv("longgang", "活动.csv", [ACTIVITY_HEADER, activity("L1")])
    settled = time.time() - 3600
    os.utime(old, (settled, settled))
    os.utime(landing.root / "2021/longgang/活动.csv", (settled, settled))
    _first, con = run_ingest(landing)
    assert len(activity_ids(con)) == 2

    # 320 of 400 rows copied in so far
    partial = [ACTIVITY_HEADER] + [activity(f"N{i}") for i in range(320)]
    landing.csv("buji", "活动_第二批.csv", partial)
    report = ingest(landing.root, con, load_mapping(), "run-2", key=PII_KEY, skip_unchanged=True)

    assert list(report.streets_held) == ["buji"]
    row = source_file(con, "活动_第二批.csv")
    assert (row["status"], row["reason_code"], row["rows_loaded"]) == ("deferred", "in_flux", 0)
    assert "GONGHUI_SETTLE_SECONDS" in row["reason"]
    assert activity_ids(con) == [("buji", "B1"), ("longgang", "L1")]

    # the copy completes and settles: the next run loads all 400 rows, no manual step
    done = landing.csv(
        "buji", "活动_第二批.csv", [ACTIVITY_HEADER] + [activity(f"N{i}") for i in range(400)]
    )
    os.utime(done, (settled, settled))
    report = ingest(landing.root, con, load_mapping(), "run-3", key=PII_KEY, skip_unchanged=True)
    assert report.streets_ingested == ["buji"] and not report.streets_held
    assert source_file(con, "活动_第二批.csv")["rows_loaded"] == 400
    assert len(activity_ids(con)) == 402


def test_the_settling_time_is_a_setting(monkeypatch):
    monkeypatch.setenv("GONGHUI_SETTLE_SECONDS", "5")
    assert IngestLimits.from_env().settle_seconds == 5
    monkeypatch.setenv("GONGHUI_SETTLE_SECONDS", "soon")
    with pytest.raises(ValueError, match="GONGHUI_SETTLE_SECONDS"):
        IngestLimits.from_env()
