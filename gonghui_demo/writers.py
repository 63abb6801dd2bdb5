"""File writers of the demo landing data: xlsx (xlsxwriter), xls (xlwt), csv and json.

A writer receives *sheets*: ``Sheet(name, rows, merge_title, header_row)`` where ``rows`` is an
iterable of lists of cell values (``None``, ``str``, ``int``, ``float``, ``date``/``datetime``).
Output is byte-for-byte reproducible: workbook metadata carries a fixed timestamp and
xlsxwriter writes zip entries with a fixed date.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import xlsxwriter
import xlwt

FIXED_TIME = datetime(2022, 1, 10, 9, 30, 0)
AUTHOR = "龙岗区总工会（演示数据）"


@dataclass
class Sheet:
    name: str
    rows: Iterable[list]
    merge_title: bool = False  # first row is a title merged over all columns
    ncols: int = 1
    header_row: int | None = None  # index of the header row (bold / wrapped)


def write_xlsx(path: Path, sheets: list[Sheet], *, big: bool = False) -> None:
    wb = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": big,
            "default_date_format": "yyyy-mm-dd",
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    wb.set_properties({"created": FIXED_TIME, "author": AUTHOR, "title": path.stem})
    title_fmt = wb.add_format({"bold": True, "font_size": 14, "align": "center"})
    head_fmt = wb.add_format({"bold": True, "text_wrap": True, "align": "center"})
    for sheet in sheets:
        ws = wb.add_worksheet(sheet.name)
        for r, row in enumerate(sheet.rows):
            if r == 0 and sheet.merge_title and sheet.ncols > 1:
                ws.merge_range(0, 0, 0, sheet.ncols - 1, row[0], title_fmt)
                continue
            if r == sheet.header_row:
                ws.write_row(r, 0, row, head_fmt)
                continue
            for c, v in enumerate(row):
                if v is None:
                    continue
                if isinstance(v, str):
                    ws.write_string(r, c, v)
                elif isinstance(v, date):
                    ws.write_datetime(r, c, v)
                else:
                    ws.write_number(r, c, v)
        if sheet.ncols:
            ws.set_column(0, sheet.ncols - 1, 14)
    wb.close()


def write_xls(path: Path, sheets: list[Sheet]) -> None:
    wb = xlwt.Workbook(encoding="utf-8")
    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    title_style = xlwt.easyxf("font: bold on, height 280; align: horiz center")
    head_style = xlwt.easyxf("font: bold on; align: wrap on, horiz center")
    for sheet in sheets:
        ws = wb.add_sheet(sheet.name)
        for r, row in enumerate(sheet.rows):
            if r == 0 and sheet.merge_title and sheet.ncols > 1:
                ws.write_merge(0, 0, 0, sheet.ncols - 1, row[0], title_style)
                continue
            for c, v in enumerate(row):
                if v is None:
                    continue
                if r == sheet.header_row:
                    ws.write(r, c, v, head_style)
                elif isinstance(v, date):
                    ws.write(r, c, v, date_style)
                else:
                    ws.write(r, c, v)
    wb.save(str(path))


def _text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


def write_csv(path: Path, rows: Iterable[list], *, encoding: str, crlf: bool) -> None:
    with open(path, "w", encoding=encoding, newline="") as f:
        w = csv.writer(f, lineterminator="\r\n" if crlf else "\n")
        w.writerows(
            ["" if v is None else v if isinstance(v, str) else _text(v) for v in row]
            for row in rows
        )


def write_json(path: Path, header: list[str], rows: Iterable[list], *, wrapper: str | None) -> None:
    records = [dict(zip(header, row, strict=True)) for row in rows]
    if wrapper is None:
        doc: object = records
    elif wrapper == "data":
        doc = {"code": 0, "message": "success", "data": records}
    else:
        doc = {"total": len(records), wrapper: records}
    text = json.dumps(doc, ensure_ascii=False, indent=1 if len(records) < 5000 else None)
    path.write_text(text + "\n", encoding="utf-8")
