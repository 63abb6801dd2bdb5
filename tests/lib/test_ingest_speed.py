"""The fast paths of ingestion give exactly what the reference (per-value Python) code gives.

- :func:`readers.read_json` reads with polars and falls back to the per-value path
  (:func:`readers.read_json_reference`) whenever it cannot prove the result is the same;
- :func:`ingest.keyed_hash` hashes each distinct value once (:func:`keyed_hash_reference`
  hashes every value).
"""

from __future__ import annotations

import json
import random

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from orchestration.lib import readers
from orchestration.lib.ingest.keys import keyed_hash, keyed_hash_reference

ENCODINGS = ("utf-8-sig", "gb18030")

DOCS = {
    "strings": [{"姓名": "甲", "身份证": "440307199001011234"}, {"姓名": "", "身份证": None}],
    "numbers": [{"a": 1, "b": 1.5, "c": 2.0}, {"a": -3, "b": 39539.41, "c": 1e-5}],
    "big_numbers": [{"a": 440307199001011234, "b": 1e16, "c": 1234567890123456.0}],
    "mixed_str_num": [{"a": "x"}, {"a": 5}, {"a": 5.0}],
    "mixed_bool_int": [{"a": True}, {"a": 1}, {"a": False}],
    "bools": [{"a": True, "b": None}, {"a": False, "b": False}],
    "key_order": [{"b": 1, "a": "x"}, {"c": True, "a": "y"}, {"d": None}],
    "nested": [{"a": {"x": 1}, "b": [1, 2]}, {"a": None, "b": "t"}],
    "colon_in_text": [{"备注": "时间: 2021", "n": 3}],
    "escaped_keys": [{"\u4f1a\u5458": 1.25, 'x"y': 'q"uote'}],
    "wrapped": {"code": 0, "message": "ok", "data": [{"a": 1, "b": "x"}, {"a": 2.5}]},
    "wrapped_meta": {"meta": {"page": 1}, "records": [{"a": 1}]},
    "empty_list": {"rows": []},
    "one_empty_record": [{}],
}


def _random_records(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        out.append(
            {
                "编号": f"BT{i:05d}",
                "人数": rng.randint(0, 500),
                "金额": round(rng.uniform(0, 1e6), rng.randint(0, 4)),
                "比例": rng.random() / rng.choice([1, 10, 1e4, 1e6]),
                "是否": rng.choice([True, False, None]),
                "日期": rng.choice(["2021-01-02", "2021/3/4", None, ""]),
            }
        )
    return out


DOCS["random"] = _random_records(2000, 7)


@pytest.mark.parametrize("ascii_only", [False, True])
@pytest.mark.parametrize("name", sorted(DOCS))
def test_read_json_equals_the_reference(tmp_path, name, ascii_only):
    path = tmp_path / "a.json"
    path.write_text(json.dumps(DOCS[name], ensure_ascii=ascii_only, indent=1), "utf-8")
    expected = readers.read_json_reference(path, ENCODINGS)
    got = readers.read_json(path, ENCODINGS)
    assert len(got) == len(expected) == 1
    assert got[0].row_numbers == expected[0].row_numbers
    assert got[0].encoding == expected[0].encoding
    assert_frame_equal(got[0].frame, expected[0].frame)


def test_read_json_fast_path_is_taken_for_plain_exports(tmp_path, monkeypatch):
    """The fast path is really used for typical exports (the fallback would hide a slowdown)."""
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"code": 0, "data": DOCS["random"]}, ensure_ascii=False), "utf-8")

    def fail(*_args):
        raise AssertionError("fell back to the per-value path")

    monkeypatch.setattr(readers, "_json_sheet_reference", fail)
    assert readers.read_json(path, ENCODINGS)[0].frame.height == 2001


def test_bad_json_gives_the_reference_message(tmp_path):
    path = tmp_path / "a.json"
    path.write_text('[{"a": 1}, {"a": ', "utf-8")
    with pytest.raises(readers.FileRejected, match=r"invalid JSON .* line 1"):
        readers.read_json(path, ENCODINGS)


def test_keyed_hash_equals_the_reference():
    rng = random.Random(3)
    values = [f"4403071990{rng.randint(0, 10**8):08d}" for _ in range(5000)]
    values += values[:500]  # repeats
    values += [None, "", " ", "x", "身份证４４０３", "a" * 1000, "\u0000", "é", None]
    rng.shuffle(values)
    series = pl.Series("id_number", values, dtype=pl.String)
    for key in (b"k", b"", b"x" * 64, b"y" * 65, "密钥".encode()):
        assert keyed_hash(series, key).to_list() == keyed_hash_reference(series, key).to_list()
    assert keyed_hash(series, b"k").name == "id_number"
    empty = pl.Series("id_number", [], dtype=pl.String)
    assert keyed_hash(empty, b"k").to_list() == []
    nulls = pl.Series("id_number", [None, None], dtype=pl.String)
    assert keyed_hash(nulls, b"k").to_list() == [None, None]


# ---------------------------------------------------------------- the write path (RawStage)

DISPUTES = [
    "案件编号",
    "受理日期",
    "企业名称",
    "涉及人数",
    "纠纷类型",
    "处理结果",
    "挽回经济损失（元）",
]


def _disputes(landing, name: str, cases: list[str]) -> None:
    rows = [[no, "2021-03-05", "甲公司", 3, "欠薪", "调解成功", "1000"] for no in cases]
    landing.csv("buji", name, [DISPUTES, *rows])


def _raw(con) -> list[tuple]:
    return con.execute(
        "select _source_file, _source_row, case_no, _superseded_by from raw.dispute_cases "
        "order by all"
    ).fetchall()


def test_rows_reach_raw_through_the_stage_which_is_removed(landing, run_ingest, monkeypatch):
    from orchestration.lib.ingest import run as ingest_module

    stages = []
    real = ingest_module.RawStage

    class Spy(real):
        def __init__(self):
            super().__init__()
            stages.append(self)

    monkeypatch.setattr(ingest_module, "RawStage", Spy)
    _disputes(landing, "buji_disputes_2021Q3.csv", ["A1", "A2"])
    _disputes(landing, "buji_disputes_2021Q3_v2.csv", ["A1"])
    report, con = run_ingest(landing)
    # the workers returned no frames: the rows went through Parquet files of the stage
    assert all(not f.loaded for f in report.files)
    assert sorted(len(f.spilled.get("dispute_cases", [])) for f in report.files) == [1, 1]
    [stage] = stages
    assert not stage.dir.exists()
    v2 = "2021/buji/buji_disputes_2021Q3_v2.csv"
    assert _raw(con) == [
        ("2021/buji/buji_disputes_2021Q3.csv", 2, "A1", v2),
        ("2021/buji/buji_disputes_2021Q3.csv", 3, "A2", v2),
        (v2, 2, "A1", None),
    ]


def test_a_failed_write_leaves_raw_as_it_was(
    landing, run_ingest, mapping, reader_pool, monkeypatch
):
    """Rows are staged outside ``raw``: a write that fails (a full disk) changes nothing."""
    from orchestration.lib.ingest import run as ingest_module

    _disputes(landing, "buji_disputes_2021Q3.csv", ["A1", "A2"])
    _report, con = run_ingest(landing)
    before = _raw(con)
    files_before = con.execute("select * from raw.source_files order by all").fetchall()
    _disputes(landing, "buji_disputes_2021Q4.csv", ["B1"])

    def broken(self, con, kind, results):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ingest_module.RawStage, "move", broken)
    with pytest.raises(OSError, match="No space left"):
        ingest_module.ingest(landing.root, con, mapping, "run-2", key=b"k", pool=reader_pool)
    assert _raw(con) == before
    assert con.execute("select * from raw.source_files order by all").fetchall() == files_before
