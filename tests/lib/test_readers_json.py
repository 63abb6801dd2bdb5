"""The fast path of :func:`readers.read_json` gives exactly what the reference (per-value
Python) code gives: it reads with polars and falls back to the per-value path
(:func:`readers.read_json_reference`) whenever it cannot prove the result is the same.
"""

from __future__ import annotations

import json
import random

import pytest
from polars.testing import assert_frame_equal

from orchestration.lib import readers

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
