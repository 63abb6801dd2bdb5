"""The feedback workbook (反馈单): one .xlsx per street, in Chinese, read back with fastexcel."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import fastexcel

from orchestration.lib.feedback import split_reason, write_feedback

PHONE, NAME = "13800138000", "张三"


def _sheet(path: Path, name: str) -> list[list]:
    frame = fastexcel.read_excel(str(path)).load_sheet_by_name(name, header_row=None)
    return [list(r.values()) for r in frame.to_polars().to_dicts()]


def _mart(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute("create schema audit")
    con.execute(
        "create table year_status as select 2022 as year, 'open' as state, "
        "'provisional' as status, date '2022-08-01' as as_of, date '2023-02-15' as deadline"
    )
    con.execute(
        "create table submission_status (year int, street_code varchar, report_kind varchar, "
        "status varchar)"
    )
    con.execute(
        "insert into submission_status values (2022, 'buji', 'dispute_cases', 'received'), "
        "(2022, 'buji', 'care_services', 'missing'), (2022, 'pinghu', 'care_services', 'late')"
    )
    con.execute(
        "create table audit.source_files (year int, street_code varchar, report_kind varchar, "
        "status varchar, reason varchar, _source_file varchar)"
    )
    con.execute(
        "insert into audit.source_files values "
        "(2022, 'buji', 'dispute_cases', 'loaded', null, '2022/buji/d.xlsx'), "
        "(2022, 'buji', 'care_services', 'rejected', 'the workbook is password-protected', "
        "'2022/buji/c.xlsx')"
    )
    con.execute(
        "create table audit.quarantined_rows (year int, street_code varchar, report_kind "
        "varchar, reason_code varchar, reason varchar, record_json varchar, _source_file "
        "varchar, _source_sheet varchar, _source_row int, _superseded_by varchar)"
    )
    record = json.dumps({"姓名": NAME, "联系电话": PHONE}, ensure_ascii=False)
    rows = [
        ("bad_number", f"涉及人数 (workers_involved): not a number '{PHONE}'", "Sheet1", 7, None),
        (
            "date_outside_year",
            "受理日期 (accepted_on): date outside the reporting year '2021-12-30'",
            "Sheet1",
            9,
            None,
        ),
        ("bad_number", "涉及人数 (workers_involved): not a number 'x'", "Sheet1", 4, "v2.xlsx"),
    ]
    for code, reason, sheet, row, superseded in rows:
        con.execute(
            "insert into audit.quarantined_rows values (2022, 'buji', 'dispute_cases', ?, ?, ?, "
            "'2022/buji/d.xlsx', ?, ?, ?)",
            [code, reason, record, sheet, row, superseded],
        )
    con.execute(
        "create table audit.control_totals (year int, street_code varchar, report_kind varchar, "
        "label varchar, field varchar, stated_value decimal(18,2), computed_value "
        "decimal(18,2), _source_file varchar, _source_sheet varchar, _source_row int)"
    )
    con.execute(
        "insert into audit.control_totals values (2022, 'buji', 'dispute_cases', '合计', "
        "'recovered_amount', 100, 90.5, '2022/buji/d.xlsx', 'Sheet1', 30), "
        "(2022, 'buji', 'dispute_cases', '合计', 'workers_involved', 12, 12, "
        "'2022/buji/d.xlsx', 'Sheet1', 31)"
    )
    return con


def test_reason_is_split_into_field_and_problem_without_the_value():
    assert split_reason("服务日期 (served_on): date outside the reporting year '2022-01-04'") == (
        "服务日期（served_on）",
        "date outside the reporting year",
    )


def test_one_workbook_per_street_with_every_quarantined_row_and_no_personal_data(tmp_path):
    con = _mart(tmp_path / "mart.duckdb")
    written = write_feedback(
        con,
        2022,
        tmp_path / "out",
        streets={"buji": "布吉街道", "pinghu": "平湖街道"},
        kind_titles={
            "dispute_cases": "劳资纠纷调处台账",
            "care_services": "工伤探视及法律服务台账",
        },
    )
    assert [fb.path.name for fb in written] == ["2022_buji_反馈单.xlsx", "2022_pinghu_反馈单.xlsx"]
    buji = written[0].path
    names = fastexcel.read_excel(str(buji)).sheet_names
    assert names == ["说明", "未报送", "退回文件", "隔离行", "合计不符"]
    quarantine = _sheet(buji, "隔离行")
    assert quarantine[0] == ["文件", "工作表", "行号", "报表类型", "字段", "问题", "问题代码"]
    # every quarantined row of the street's current files; the superseded file's row left out
    assert [(r[0], r[1], int(r[2])) for r in quarantine[1:]] == [
        ("2022/buji/d.xlsx", "Sheet1", 7),
        ("2022/buji/d.xlsx", "Sheet1", 9),
    ]
    assert quarantine[1][4:6] == ["涉及人数（workers_involved）", "not a number"]
    assert _sheet(buji, "未报送")[1][:3] == ["工伤探视及法律服务台账", "care_services", "未报送"]
    assert _sheet(buji, "退回文件")[1][0] == "2022/buji/c.xlsx"
    totals = _sheet(buji, "合计不符")
    assert len(totals) == 2 and totals[1][5] == "recovered_amount" and float(totals[1][8]) == 9.5
    assert _sheet(written[1].path, "未报送")[1][2] == "逾期未报送"
    everything = json.dumps([_sheet(buji, n) for n in names], ensure_ascii=False, default=str)
    assert PHONE not in everything and NAME not in everything
    assert "临时数" in everything  # an open year says its figures are provisional
