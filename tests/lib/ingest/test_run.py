"""Invariants of a whole ingestion pass (:func:`orchestration.lib.ingest.ingest`) over a mixed
landing folder: nothing lost, provenance on every row, no personal data, street scopes.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from conftest import PII_KEY, RUN_ID, fetch, source_file, varchar_values
from ingest_cases import (
    CC1,
    CC2,
    DISPUTE_HEADER,
    HARDSHIP_HEADER,
    ID1,
    ID2,
    ID_BAD,
    ID_X,
    NAMES,
    PHONES,
    PII_VALUES,
    ROSTER_HEADER,
    dispute,
    fetch_columns,
    hashed,
    roster,
)

from orchestration.lib.ingest import IngestReport

# ------------------------------------------------------------------------------ invariants


@pytest.fixture
def mixed(landing, run_ingest):
    """A landing with every kind of trouble at once: (landing, report, con)."""
    landing.xlsx(
        "buji",
        "会员信息采集表.xlsx",
        {
            "说明": [["填表说明：姓名、身份证号必填"]],
            "会员": [
                [], [], ["工会会员信息采集表"], ROSTER_HEADER,  # header on row 4
                roster(NAMES[0], ID1, PHONES[0]),
                roster(NAMES[1], ID_BAD, PHONES[1]),
                [],
                roster(NAMES[2], ID_X.lower(), PHONES[2]),
                roster(NAMES[3], "4.40307E+17", PHONES[0], collected="2022-01-01"),
                ["合计：4人"],
                [f"填表人：{NAMES[3]}", None, None, f"联系电话：{PHONES[1]}"],
            ],
        },
    )  # fmt: skip
    landing.xls(
        "buji",
        "困难职工帮扶资金发放台账.xls",
        [[], [], HARDSHIP_HEADER,
         ["P1", "2021-05-01", "生活救助", NAMES[0], ID2, "1,000"],
         ["P2", "2021-05-02", "旅游", NAMES[1], ID1, "200"],
         ["P3", "2020-05-02", "子女助学", NAMES[2], ID_X, "300"]],
    )  # fmt: skip
    dream = [
        {
            "姓名": NAMES[2],
            "公民身份号码": ID_X,
            "单位统一社会信用代码": CC1,
            "报名日期": "2021-04-01",
        },
        {
            "姓名": NAMES[3],
            "公民身份号码": ID_BAD,
            "单位统一社会信用代码": CC2,
            "报名日期": "2021-04-02",
        },
    ]
    landing.json("pinghu", "dream.json", {"records": dream})
    landing.csv(
        "pinghu", "纠纷2021Q1.csv", [DISPUTE_HEADER, dispute("A1"), dispute("A2", dtype="?")]
    )
    landing.csv("pinghu", "纠纷2021Q1_v2.csv", [DISPUTE_HEADER, dispute("A1"), dispute("A2")])
    landing.raw_bytes("pinghu", "坏文件.xlsx", b"not a workbook")
    before = landing.snapshot()
    report, con = run_ingest(landing)
    return landing, report, con, before


def test_mixed_landing_statuses(mixed):
    _landing, report, _con, _before = mixed
    assert isinstance(report, IngestReport)
    assert report.count_by_status() == {"loaded": 4, "superseded": 1, "rejected": 1}
    assert report.rows_loaded == 2 + 1 + 1 + 2
    assert report.rows_quarantined == 2 + 2 + 1 + 0


def test_nothing_is_lost(mixed, mapping):
    _landing, _report, con, _before = mixed
    files = fetch(con, "select * from raw.source_files")
    for meta in files:
        name = meta["_source_file"]
        in_tables = sum(
            con.execute(f"select count(*) from raw.{k} where _source_file = ?", [name]).fetchone()[
                0
            ]
            for k in mapping.kinds
        )
        in_quarantine = con.execute(
            "select count(*) from raw.quarantine where _source_file = ?", [name]
        ).fetchone()[0]
        assert meta["rows_loaded"] == in_tables, name
        assert meta["rows_quarantined"] == in_quarantine, name
        assert meta["rows_data"] == meta["rows_loaded"] + meta["rows_quarantined"], name
        if meta["status"] in ("loaded", "superseded"):
            assert meta["rows_data"] > 0, name
    roster = source_file(con, "会员信息采集表.xlsx")
    assert (roster["rows_data"], roster["rows_loaded"], roster["rows_quarantined"]) == (4, 2, 2)


def test_provenance_on_every_row(mixed, mapping):
    landing, _report, con, _before = mixed
    sha = {
        p.relative_to(landing.root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in landing.root.rglob("*")
        if p.is_file()
    }
    for table in [*mapping.kinds, "quarantine"]:
        for row in fetch(con, f"select * from raw.{table}"):
            assert row["_source_file"] in sha, table
            assert row["_file_sha256"] == sha[row["_source_file"]], table
            assert row["_run_id"] == RUN_ID
            assert row["_source_row"] >= 1
            is_excel = row["_source_file"].endswith(("xlsx", "xls"))
            assert (row["_source_sheet"] is not None) == is_excel, row["_source_file"]
    rows = {
        (r["_source_file"].split("/")[-1], r["_source_sheet"], r["_source_row"])
        for t in ["member_roster", "hardship_assistance", "dream_program", "quarantine"]
        for r in fetch(con, f"select * from raw.{t}")
    }
    assert rows == {
        ("会员信息采集表.xlsx", "会员", 5),  # the sheet starts with two blank rows
        ("会员信息采集表.xlsx", "会员", 6),
        ("会员信息采集表.xlsx", "会员", 8),
        ("会员信息采集表.xlsx", "会员", 9),
        ("困难职工帮扶资金发放台账.xls", "Sheet1", 4),  # .xls with leading blank rows
        ("困难职工帮扶资金发放台账.xls", "Sheet1", 5),
        ("困难职工帮扶资金发放台账.xls", "Sheet1", 6),
        ("dream.json", None, 1),
        ("dream.json", None, 2),
        ("纠纷2021Q1.csv", None, 3),
    }
    for row in fetch(con, "select * from raw.member_roster"):
        assert row["_ingested_at"] is not None


def test_no_personal_data_in_any_table(mixed):
    _landing, _report, con, _before = mixed
    cells = varchar_values(con)
    assert cells, "the scan must see the tables"
    leaks = [(t, c, v) for t, c, v in cells for pii in PII_VALUES if pii in v]
    assert leaks == []
    for table in ("member_roster", "dream_program", "hardship_assistance"):
        cols = {c[0] for c in fetch_columns(con, table)}
        assert "name" not in cols and "phone" not in cols and "id_number" not in cols


def test_quarantine_masks_personal_data(mixed):
    _landing, _report, con, _before = mixed
    rows = fetch(con, "select * from raw.quarantine where report_kind = 'member_roster'")
    assert len(rows) == 2
    for q in rows:
        record = json.loads(q["record_json"])
        assert record["姓名"] == "***" and record["公民身份号码"] == "***"
        assert record["手机号码"] == "***"
        assert record["性别"] == "男"  # other columns stay readable for the data officer
        assert "***" in q["reason"]


def test_keyed_hash_is_stable_and_depends_on_the_key(mixed, run_ingest):
    landing, _report, con, _before = mixed
    keys = lambda c: sorted(  # noqa: E731
        r[0] for r in c.execute("select person_key from raw.member_roster").fetchall()
    )
    first = keys(con)
    assert first == sorted([hashed(ID1), hashed(ID_X)])
    _r, again = run_ingest(landing)
    assert keys(again) == first
    _r, other = run_ingest(landing, key=b"another-key")
    assert set(keys(other)).isdisjoint(first)
    assert keys(other) == sorted([hashed(ID1, b"another-key"), hashed(ID_X, b"another-key")])


def test_landing_is_unchanged(mixed):
    landing, _report, _con, before = mixed
    assert landing.snapshot() == before


def test_reingestion_replaces_rows_and_a_street_scope_keeps_the_others(mixed, mapping):
    from orchestration.lib.ingest import ingest

    landing, _report, con, _before = mixed
    count = lambda: con.execute("select count(*) from raw.member_roster").fetchone()[0]  # noqa: E731
    assert count() == 2
    ingest(landing.root, con, mapping, "run-2", key=PII_KEY)
    assert count() == 2
    ingest(landing.root, con, mapping, "run-3", streets=["pinghu"], key=PII_KEY)
    runs = dict(
        con.execute("select street_code, max(_run_id) from raw.source_files group by 1").fetchall()
    )
    assert runs == {"buji": "run-2", "pinghu": "run-3"}
    assert count() == 2


def test_an_empty_street_scope_changes_nothing(mixed, mapping):
    from orchestration.lib.ingest import ingest

    landing, _report, con, _before = mixed
    before = con.execute("select count(*) from raw.source_files").fetchone()[0]
    ingest(landing.root, con, mapping, "run-empty", streets=[], key=PII_KEY)
    assert con.execute("select count(*) from raw.source_files").fetchone()[0] == before
    assert con.execute("select count(*) from raw.member_roster").fetchone()[0] == 2
