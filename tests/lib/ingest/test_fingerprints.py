"""Incremental ingestion: only the streets whose files changed by content hash are re-read."""

from __future__ import annotations

import os

import duckdb
import pytest
from conftest import PII_KEY, fetch, make_credit_code
from mappings import CONTRACT_MAPPING

from orchestration.lib.ingest import ingest
from orchestration.lib.ingest.keys import pii_key_id
from orchestration.lib.mapping import load_mapping

CC = make_credit_code("91440300MA5F00001")
HEADER = ["案件编号", "受理日期", "企业名称", "统一社会信用代码", "涉及人数", "挽回经济损失（元）"]


def case(no, workers=3, amount="1000", accepted="2021-03-05"):
    return [no, accepted, "甲公司", CC, workers, amount]


@pytest.fixture
def streets(landing):
    landing.csv("buji", "纠纷.csv", [HEADER, case("B1"), case("B2")])
    landing.csv("pinghu", "纠纷.csv", [HEADER, case("P1")])
    landing.csv("pinghu", "纠纷_2020.csv", [HEADER, case("P0", accepted="2020-03-05")], year=2020)
    return landing


def run(landing, con, mapping, run_id, **kwargs):
    return ingest(landing.root, con, mapping, run_id, key=PII_KEY, skip_unchanged=True, **kwargs)


def runs_by_street(con):
    return dict(
        con.execute(
            "select coalesce(street_code, '-'), string_agg(distinct _run_id, ',') "
            "from raw.source_files group by 1"
        ).fetchall()
    )


def cases(con):
    return sorted(
        (r["street_code"], r["case_no"], r["workers_involved"])
        for r in fetch(con, "select * from raw.dispute_cases")
    )


def test_only_changed_added_or_removed_streets_are_reingested(streets, mapping):
    con = duckdb.connect()
    first = run(streets, con, mapping, "run-1")
    assert first.streets_ingested == ["pinghu", "buji"]  # streets.csv order
    assert cases(con) == [("buji", "B1", 3), ("buji", "B2", 3), ("pinghu", "P0", 3),
                          ("pinghu", "P1", 3)]  # fmt: skip

    again = run(streets, con, mapping, "run-2")  # unchanged: nothing is read or written
    assert again.streets_ingested == [] and again.files == []
    assert "buji" in again.streets_unchanged and "pinghu" in again.streets_unchanged
    assert runs_by_street(con) == {"buji": "run-1", "pinghu": "run-1"}

    # a changed file (same name, new content) → that street only
    streets.csv("buji", "纠纷.csv", [HEADER, case("B1", workers=30), case("B2")])
    changed = run(streets, con, mapping, "run-3")
    assert changed.streets_ingested == ["buji"]
    assert runs_by_street(con) == {"buji": "run-3", "pinghu": "run-1"}
    assert ("buji", "B1", 30) in cases(con)

    # a modification time alone is no change
    path = streets.root / "2021" / "pinghu" / "纠纷.csv"
    os.utime(path, (path.stat().st_atime + 100, path.stat().st_mtime + 100))
    assert run(streets, con, mapping, "run-4").streets_ingested == []

    # a removed file of another year → the street is re-read, the file's rows leave
    (streets.root / "2020" / "pinghu" / "纠纷_2020.csv").unlink()
    removed = run(streets, con, mapping, "run-5")
    assert removed.streets_ingested == ["pinghu"]
    assert [c for c in cases(con) if c[0] == "pinghu"] == [("pinghu", "P1", 3)]

    # an added file in a new street → only that street
    streets.csv("pingdi", "纠纷.csv", [HEADER, case("D1")])
    added = run(streets, con, mapping, "run-6")
    assert added.streets_ingested == ["pingdi"]
    assert runs_by_street(con) == {"buji": "run-3", "pinghu": "run-5", "pingdi": "run-6"}

    # every file of a street removed → its rows leave
    (streets.root / "2021" / "pingdi" / "纠纷.csv").unlink()
    assert run(streets, con, mapping, "run-7").streets_ingested == ["pingdi"]
    assert not [c for c in cases(con) if c[0] == "pingdi"]


def test_the_run_scope_limits_the_streets_and_a_full_refresh_rereads(streets, mapping):
    con = duckdb.connect()
    run(streets, con, mapping, "run-1")
    streets.csv("buji", "纠纷.csv", [HEADER, case("B9")])
    streets.csv("pinghu", "纠纷.csv", [HEADER, case("P9")])
    scoped = run(streets, con, mapping, "run-2", streets=["pinghu"])  # a one-partition run
    assert scoped.streets_ingested == ["pinghu"]
    assert runs_by_street(con) == {"buji": "run-1", "pinghu": "run-2"}
    # without skip_unchanged every street in scope is re-read (``--full-refresh``)
    ingest(streets.root, con, mapping, "run-3", key=PII_KEY, streets=["buji", "pinghu"])
    assert runs_by_street(con) == {"buji": "run-3", "pinghu": "run-3"}


def test_an_edited_mapping_rereads_every_street(streets, mapping, tmp_path):
    con = duckdb.connect()
    run(streets, con, mapping, "run-1")
    edited = tmp_path / "sources.yml"
    edited.write_text(
        CONTRACT_MAPPING.read_text(encoding="utf-8") + "\n# a new template\n",
        encoding="utf-8",
    )
    report = run(streets, con, load_mapping(edited), "run-2")
    assert report.streets_ingested == ["pinghu", "buji"]


def test_another_pii_key_rereads_every_street(streets, mapping):
    con = duckdb.connect()
    run(streets, con, mapping, "run-1")
    [(recorded,)] = con.execute("select distinct _pii_key_id from raw.source_files").fetchall()
    assert recorded == pii_key_id(PII_KEY) and PII_KEY.decode() not in recorded
    # pseudonyms of the old key cannot be matched with the new key's: every street is re-read
    rekeyed = ingest(streets.root, con, mapping, "run-2", key=b"new-key", skip_unchanged=True)
    assert rekeyed.streets_ingested == ["pinghu", "buji"]
    assert runs_by_street(con) == {"buji": "run-2", "pinghu": "run-2"}
    again = ingest(streets.root, con, mapping, "run-3", key=b"new-key", skip_unchanged=True)
    assert again.streets_ingested == []


def test_misplaced_files_are_reported_without_rereading_streets(streets, mapping):
    con = duckdb.connect()
    run(streets, con, mapping, "run-1")
    streets.file_at("2021/unknown_street/纠纷.csv", b"x")
    streets.file_at("loose.csv", b"x")
    report = run(streets, con, mapping, "run-2", streets=["buji", "pinghu"], unplaced=True)
    assert report.streets_ingested == []
    rows = fetch(con, "select _source_file, reason_code from raw.source_files where street_code "
                 "is null order by 1")  # fmt: skip
    assert [(r["_source_file"], r["reason_code"]) for r in rows] == [
        ("2021/unknown_street/纠纷.csv", "unknown_street"),
        ("loose.csv", "misplaced"),
    ]
    assert runs_by_street(con) == {"buji": "run-1", "pinghu": "run-1", "-": "run-2"}
    (streets.root / "loose.csv").unlink()
    run(streets, con, mapping, "run-3", streets=["buji"], unplaced=True)
    assert fetch(con, "select count(*) n from raw.source_files where street_code is null") == [
        {"n": 1}
    ]


def test_a_database_of_an_older_version_is_reingested_once(streets, mapping):
    con = duckdb.connect()
    run(streets, con, mapping, "run-1")
    con.execute("alter table raw.source_files drop column _mapping_sha256")
    assert run(streets, con, mapping, "run-2").streets_ingested == ["pinghu", "buji"]
    assert run(streets, con, mapping, "run-3").streets_ingested == []
