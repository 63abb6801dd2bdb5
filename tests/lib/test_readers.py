"""Readers: every format becomes text sheets whose row numbers are the rows a person sees."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from conftest import write_csv, write_json, write_xls, write_xlsx

from orchestration.lib.readers import FileRejected, read_sheets

ENCODINGS = ("utf-8-sig", "gb18030")
HEADER = ["案件编号", "企业名称", "挽回经济损失（元）"]
ROW = ["A1", "甲公司", "1000"]


def cells(sheet) -> list[list[str | None]]:
    return [list(r) for r in sheet.frame.rows()]


def trim(rows):
    """Drop trailing empty cells, for comparisons independent of the sheet width."""
    out = []
    for r in rows:
        r = list(r)
        while r and r[-1] is None:
            r.pop()
        out.append(r)
    return out


# --------------------------------------------------------------------------------- CSV


@pytest.mark.parametrize(
    ("encoding", "detected"),
    [
        ("utf-8", "utf-8-sig"),
        ("utf-8-sig", "utf-8-sig"),
        ("gbk", "gb18030"),
        ("gb18030", "gb18030"),
    ],
)
def test_csv_encodings(tmp_path, encoding, detected):
    path = write_csv(tmp_path / "a.csv", [HEADER, ROW], encoding=encoding)
    [sheet] = read_sheets(path, ENCODINGS)
    assert sheet.encoding == detected
    assert cells(sheet) == [HEADER, ROW]  # the BOM never sticks to the first header
    assert sheet.name is None and sheet.row_numbers == [1, 2]


def test_gb18030_characters_outside_gbk(tmp_path):
    name = "𠮷野家"  # 𠮷 is not in GBK
    path = write_csv(tmp_path / "a.csv", [HEADER, ["A1", name, "1"]], encoding="gb18030")
    [sheet] = read_sheets(path, ENCODINGS)
    assert cells(sheet)[1][1] == name


def test_undecodable_text_is_rejected(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes("案件编号,企业名称\n".encode() + b"\xff\xfe\x80\x81\xff\n")
    with pytest.raises(FileRejected) as exc:
        read_sheets(path, ENCODINGS)
    assert exc.value.code == "undecodable"
    assert "utf-8-sig" in exc.value.reason and "gb18030" in exc.value.reason


def test_csv_line_numbers_with_title_blank_lines_and_multiline_cells(tmp_path):
    rows = [
        ["布吉街道劳资纠纷调处台账"],
        [],
        ["案件编号", "企业名称\n（全称）"],
        ["A1", "甲\n公司"],
        ROW,
    ]
    path = write_csv(tmp_path / "a.csv", rows)
    [sheet] = read_sheets(path, ENCODINGS)
    assert sheet.row_numbers == [1, 2, 3, 5, 7]
    assert trim(cells(sheet))[2:] == [["案件编号", "企业名称\n（全称）"], ["A1", "甲\n公司"], ROW]


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_csv_delimiters_are_sniffed(tmp_path, delimiter):
    path = write_csv(
        tmp_path / "a.csv", [HEADER, ROW, ["A2", "乙公司", "2,000"]], delimiter=delimiter
    )
    [sheet] = read_sheets(path, ENCODINGS)
    assert cells(sheet)[2] == ["A2", "乙公司", "2,000"]


def test_empty_csv_is_rejected(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"\r\n  \r\n")
    with pytest.raises(FileRejected) as exc:
        read_sheets(path, ENCODINGS)
    assert exc.value.code == "empty"


# --------------------------------------------------------------------------------- JSON


@pytest.mark.parametrize("wrapper", [None, "data", "records", "rows"])
def test_json_shapes(tmp_path, wrapper):
    records = [{"案件编号": "A1", "人数": 3, "金额": 1000.0, "已结": True}, {"案件编号": "A2"}]
    path = write_json(tmp_path / "a.json", {wrapper: records} if wrapper else records)
    [sheet] = read_sheets(path, ENCODINGS)
    assert cells(sheet) == [
        ["案件编号", "人数", "金额", "已结"],
        ["A1", "3", "1000", "是"],
        ["A2", None, None, None],
    ]
    assert sheet.row_numbers == [0, 1, 2]  # the synthetic header is row 0, records count from 1


def test_json_in_gbk(tmp_path):
    path = write_json(tmp_path / "a.json", [{"企业名称": "甲公司"}], encoding="gbk")
    [sheet] = read_sheets(path, ENCODINGS)
    assert cells(sheet) == [["企业名称"], ["甲公司"]]


@pytest.mark.parametrize(
    "text",
    [
        '[{"案件编号": "A1"}, {"案件编号": ',  # truncated
        '{"items": [{"案件编号": "A1"}]}',  # no data/records/rows
        '["A1", "A2"]',  # not records
    ],
)
def test_bad_json_is_rejected(tmp_path, text):
    path = tmp_path / "a.json"
    path.write_text(text, "utf-8")
    with pytest.raises(FileRejected) as exc:
        read_sheets(path, ENCODINGS)
    assert exc.value.code == "malformed"


# --------------------------------------------------------------------------------- Excel


@pytest.mark.parametrize("writer", [write_xlsx, write_xls], ids=["xlsx", "xls"])
def test_excel_sheets_rows_and_native_cells(tmp_path, writer):
    sheets = {
        "1月": [["标题"], [], HEADER, ["A1", "甲公司", 1000], ["A2", "乙公司", 2000.5]],
        "说明": [["填表说明"]],
    }
    path = writer(tmp_path / f"a.{'xlsx' if writer is write_xlsx else 'xls'}", sheets)
    first, notes = read_sheets(path, ENCODINGS)
    assert (first.name, notes.name) == ("1月", "说明")
    assert trim(cells(first)) == [
        ["标题"],
        [],
        HEADER,
        ["A1", "甲公司", "1000"],
        ["A2", "乙公司", "2000.5"],
    ]
    assert first.row_numbers == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("writer", [write_xlsx, write_xls], ids=["xlsx", "xls"])
def test_excel_row_numbers_when_the_sheet_starts_with_blank_rows(tmp_path, writer):
    rows = [[], [], [], [None, *HEADER], [None, *ROW]]  # header in B4, data in B5
    path = writer(tmp_path / f"a.{'xlsx' if writer is write_xlsx else 'xls'}", rows)
    [sheet] = read_sheets(path, ENCODINGS)
    numbered = {
        n: [c for c in row if c] for n, row in zip(sheet.row_numbers, cells(sheet), strict=True)
    }
    assert numbered[4] == HEADER
    assert numbered[5] == ROW


@pytest.mark.parametrize("writer", [write_xlsx, write_xls], ids=["xlsx", "xls"])
def test_excel_dates_and_datetimes_come_out_as_iso_text(tmp_path, writer):
    rows = [["日期", "时间"], [dt.date(2021, 3, 5), dt.datetime(2021, 3, 5, 8, 30)]]
    path = writer(tmp_path / f"a.{'xlsx' if writer is write_xlsx else 'xls'}", rows)
    [sheet] = read_sheets(path, ENCODINGS)
    date, stamp = cells(sheet)[1]
    assert date.startswith("2021-03-05")
    assert stamp.startswith("2021-03-05")


def test_merged_title_cell(tmp_path):
    rows = [["布吉街道劳资纠纷调处台账", None, None], HEADER, ROW]
    path = write_xlsx(tmp_path / "a.xlsx", rows, merges={"Sheet1": [(0, 0, 0, 2)]})
    [sheet] = read_sheets(path, ENCODINGS)
    assert cells(sheet)[0][0] == "布吉街道劳资纠纷调处台账"
    assert cells(sheet)[1:] == [HEADER, ROW]


def test_truncated_xlsx_is_rejected(tmp_path):
    good = write_xlsx(tmp_path / "good.xlsx", [HEADER, ROW])
    path = tmp_path / "a.xlsx"
    path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(FileRejected) as exc:
        read_sheets(path, ENCODINGS)
    assert exc.value.code == "unreadable"
    assert "cannot be opened" in exc.value.reason


def test_password_protected_xlsx_is_rejected(tmp_path):
    path = tmp_path / "a.xlsx"
    path.write_bytes(bytes.fromhex("D0CF11E0A1B11AE1") + b"\x00" * 1024)  # an OLE2 container
    with pytest.raises(FileRejected) as exc:
        read_sheets(path, ENCODINGS)
    assert exc.value.code == "password_protected"
    assert "password" in exc.value.reason


def test_text_renamed_to_xlsx_is_rejected(tmp_path):
    path = tmp_path / "a.xlsx"
    path.write_text("案件编号,企业名称\nA1,甲公司\n", "utf-8")
    with pytest.raises(FileRejected) as exc:
        read_sheets(path, ENCODINGS)
    assert exc.value.code == "unreadable"


@pytest.mark.parametrize("name", ["a.pdf", "a.docx", "a.txt", "README"])
def test_unsupported_extension(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"x")
    with pytest.raises(FileRejected) as exc:
        read_sheets(path, ENCODINGS)
    assert exc.value.code == "unsupported_format"


@pytest.mark.parametrize("name", ["a.xlsx", "a.csv", "a.json"])
def test_empty_file_is_rejected(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(FileRejected) as exc:
        read_sheets(path, ENCODINGS)
    assert exc.value.code == "empty"


def test_json_numbers_keep_their_text(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps([{"a": 1.5, "b": 440307199001011234, "c": None}]), "utf-8")
    [sheet] = read_sheets(path, ENCODINGS)
    assert cells(sheet)[1] == ["1.5", "440307199001011234", None]
