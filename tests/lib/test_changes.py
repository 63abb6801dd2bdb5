"""The one change detector (``orchestration/lib/changes.py``): which streets changed since
they were ingested, and why — what ingestion, ``pending_work`` and the sensor decide from."""

from __future__ import annotations

import duckdb
from conftest import PII_KEY, make_credit_code
from mappings import CONTRACT_MAPPING

from orchestration.lib.changes import detect_changes, why_changed
from orchestration.lib.ingest import ingest
from orchestration.lib.mapping import load_mapping

CC = make_credit_code("91440300MA5F00001")
HEADER = ["案件编号", "受理日期", "企业名称", "统一社会信用代码", "涉及人数", "挽回经济损失（元）"]


def rows(*cases):
    return [HEADER, *[[c, "2021-03-05", "甲公司", CC, 3, "100"] for c in cases]]


def test_the_reason_names_what_differs():
    a, b = ("sha-a", "map-1", "key-1"), ("sha-b", "map-1", "key-1")
    assert why_changed({"2021/buji/x.csv": a}, {"2021/buji/x.csv": a}) is None
    assert why_changed({"2021/buji/x.csv": a}, {}) == "not ingested yet (1 file(s))"
    assert why_changed({}, {"2021/buji/x.csv": a}) == "all its files removed (x.csv)"
    assert why_changed({"p/x.csv": b, "p/y.csv": a}, {"p/x.csv": a, "p/z.csv": a}) == (
        "added y.csv; changed x.csv; removed z.csv"
    )
    assert why_changed({"p/x.csv": ("sha-a", "map-2", "key-1")}, {"p/x.csv": a}) == (
        "the mapping changed"
    )
    assert why_changed({"p/x.csv": ("sha-a", "map-1", "key-2")}, {"p/x.csv": a}) == (
        "the PII key changed"
    )
    many = {f"p/{n}.csv": a for n in range(5)}
    assert why_changed(many, {}) == "not ingested yet (5 file(s))"
    assert why_changed({}, many) == "all its files removed (0.csv, 1.csv, 2.csv (+2 more))"


def test_detect_changes_compares_the_landing_root_with_the_warehouse(landing, tmp_path):
    mapping = load_mapping(CONTRACT_MAPPING)
    landing.csv("buji", "纠纷.csv", rows("B1"))
    landing.csv("pinghu", "纠纷.csv", rows("P1"))
    landing.csv("bantian", "纠纷.csv", rows("T1"))
    before = detect_changes(landing.root, None, mapping, key=PII_KEY)
    assert before.streets == ["pinghu", "bantian", "buji"]  # streets.csv order
    assert before.changed["buji"] == "not ingested yet (1 file(s))"
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        ingest(landing.root, con, mapping, "run-1", key=PII_KEY)
        same = detect_changes(landing.root, con, mapping, key=PII_KEY)
        assert same.changed == {} and same.unchanged[:3] == ["pinghu", "bantian", "buji"]

        landing.csv("buji", "纠纷.csv", rows("B1", "B2"))
        (landing.root / "2021" / "pinghu" / "纠纷.csv").unlink()
        landing.file_at("stray.csv", b"x")
        after = detect_changes(landing.root, con, mapping, key=PII_KEY)
        assert after.changed == {
            "pinghu": "all its files removed (纠纷.csv)",
            "buji": "changed 纠纷.csv",
            None: "not ingested yet (1 file(s))",
        }
        assert (after.streets, after.unplaced) == (["pinghu", "buji"], True)
        assert after.describe()[-1] == "outside street folders: not ingested yet (1 file(s))"
        assert not detect_changes(landing.root, con, mapping, unplaced=False, key=PII_KEY).unplaced

        other_key = detect_changes(
            landing.root, con, mapping, streets=["bantian"], unplaced=False, key=b"other"
        )
        assert other_key.changed == {"bantian": "the PII key changed"}

        hashed = []
        cached = detect_changes(
            landing.root, con, mapping, streets=["bantian", "buji"], unplaced=False,
            key=PII_KEY, hash_file=lambda path: hashed.append(path.parent.name) or "cached",
        )  # fmt: skip
        assert sorted(hashed) == ["bantian", "buji"]  # only the candidates' files
        assert cached.changed == {"bantian": "changed 纠纷.csv", "buji": "changed 纠纷.csv"}
