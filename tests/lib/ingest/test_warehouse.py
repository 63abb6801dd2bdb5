"""The write path of ingestion (:mod:`orchestration.lib.ingest.warehouse`): rows reach ``raw``
through the Parquet stage (:class:`~orchestration.lib.ingest.warehouse.RawStage`), which is
removed afterwards, and a failed write leaves ``raw`` as it was.
"""

from __future__ import annotations

import pytest

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
