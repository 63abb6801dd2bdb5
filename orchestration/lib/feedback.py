"""The feedback workbook (反馈单) of one street for one year: what the street must fix.

``gonghui feedback --year Y [--street S]`` writes one ``.xlsx`` per street (xlsxwriter), in
Chinese, from the published mart:

* 说明 — the street, the year and its state (open/closed, deadline), and the counts below;
* 未报送 — report kinds not received (``submission_status``: missing, late, rejected only);
* 退回文件 — files that were not loaded, with the reason (``audit.source_files``);
* 隔离行 — every quarantined row of the street's current files (``audit.quarantined_rows``,
  rows of superseded files left out): file, sheet, row number, report kind, the field and the
  problem. **No personal data**: a row is named by file, sheet and row number; the row's values
  (``record_json``) are never read, and the value quoted at the end of a reason is cut off —
  only the field and the problem are written;
* 合计不符 — 合计/小计 rows whose stated value differs from the sum of the rows they cover.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATUS_ZH = {
    "missing": "未报送",
    "late": "逾期未报送",
    "rejected_only": "已报送但文件均被退回",
    "received": "已报送",
}
STATE_ZH = {"open": "报送期内（数据为临时数）", "closed": "已截止（数据为正式数）"}
#: "<header> (<field>): <problem> '<value>'" → header, field, problem (the value dropped)
_REASON = re.compile(
    r"^(?P<header>[^:(]*?)\s*(?:\((?P<field>[A-Za-z_0-9]+)\))?\s*:\s*(?P<problem>.*)$"
)
_QUOTED_TAIL = re.compile(r"\s*'[^']*'\s*$")


def split_reason(reason: str | None) -> tuple[str, str]:
    """(field, problem) of a quarantine reason, without the offending value."""
    text = str(reason or "")
    match = _REASON.match(text)
    if not match:
        return "", _QUOTED_TAIL.sub("", text)
    header, name = (match["header"] or "").strip(), match["field"] or ""
    field_text = f"{header}（{name}）" if header and name else header or name
    return field_text, _QUOTED_TAIL.sub("", match["problem"]).strip()


@dataclass
class Feedback:
    street_code: str
    street_name: str
    year: int
    path: Path
    missing: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    control_totals: list[dict[str, Any]] = field(default_factory=list)


def _rows(con, sql: str, params=None) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def collect(con, year: int, street: str, *, kind_titles: dict[str, str], max_difference: float):
    """The street's feedback items of ``year`` from the published mart ``con``."""
    missing = _rows(
        con,
        "select report_kind, status from submission_status where year = ? and street_code = ? "
        "and status != 'received' order by report_kind",
        [year, street],
    )
    rejected = _rows(
        con,
        "select _source_file, report_kind, status, reason from audit.source_files "
        "where year = ? and street_code = ? and status in ('rejected', 'unrecognised') "
        "order by _source_file",
        [year, street],
    )
    quarantined = _rows(
        con,
        # record_json (the row's values) is deliberately not selected
        "select _source_file, _source_sheet, _source_row, report_kind, reason_code, reason "
        "from audit.quarantined_rows where year = ? and street_code = ? "
        "and _superseded_by is null order by _source_file, _source_sheet, _source_row",
        [year, street],
    )
    totals = _rows(
        con,
        "select t._source_file, t._source_sheet, t._source_row, t.report_kind, t.label, "
        "t.field, cast(t.stated_value as double) as stated_value, "
        "cast(t.computed_value as double) as computed_value "
        "from audit.control_totals as t join audit.source_files as f using (_source_file) "
        "where t.year = ? and t.street_code = ? and f.status = 'loaded' "
        "and abs(cast(t.stated_value - t.computed_value as double)) > ? "
        "order by 1, 2, 3",
        [year, street, max_difference],
    )
    for r in [*missing, *rejected, *quarantined, *totals]:
        r["kind_title"] = kind_titles.get(r.get("report_kind") or "", r.get("report_kind") or "")
    return missing, rejected, quarantined, totals


def write_workbook(fb: Feedback, state: dict[str, Any] | None) -> Path:
    import xlsxwriter

    fb.path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(str(fb.path))
    head = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    title = workbook.add_format({"bold": True, "font_size": 14})

    def sheet(name: str, header: list[str], rows: list[list[Any]], widths: list[int]):
        ws = workbook.add_worksheet(name)
        for col, (text, width) in enumerate(zip(header, widths, strict=True)):
            ws.write(0, col, text, head)
            ws.set_column(col, col, width)
        for r, row in enumerate(rows, 1):
            for c, value in enumerate(row):
                ws.write(r, c, value)
        if not rows:
            ws.write(1, 0, "无")
        ws.freeze_panes(1, 0)
        return ws

    ws = workbook.add_worksheet("说明")
    ws.set_column(0, 0, 16)
    ws.set_column(1, 1, 60)
    ws.write(0, 0, f"{fb.street_name} {fb.year}年度数据报送反馈单", title)
    info = [
        ("街道", f"{fb.street_name}（{fb.street_code}）"),
        ("年度", str(fb.year)),
    ]
    if state:
        info += [
            ("年度状态", STATE_ZH.get(state["state"], state["state"])),
            ("报送截止日", f"{state['deadline']}（截止当日起不再接收）"),
            ("统计截至", str(state["as_of"])),
        ]
    info += [
        ("未报送的报表", f"{len(fb.missing)} 类"),
        ("被退回的文件", f"{len(fb.rejected)} 个"),
        ("被隔离的数据行", f"{len(fb.quarantined)} 行"),
        ("合计行不符", f"{len(fb.control_totals)} 处"),
        (
            "说明",
            "请按各工作表逐项更正后重新报送（文件名加“修订”或“_v2”）。数据行以文件、工作表和"
            "行号标明，本表不含任何个人信息。",
        ),
    ]
    for r, (k, v) in enumerate(info, 2):
        ws.write(r, 0, k, head)
        ws.write(r, 1, v)
    sheet(
        "未报送",
        ["报表类型", "报表代码", "状态"],
        [
            [m["kind_title"], m["report_kind"], STATUS_ZH.get(m["status"], m["status"])]
            for m in fb.missing
        ],
        [28, 22, 24],
    )
    sheet(
        "退回文件",
        ["文件", "报表类型", "退回原因"],
        [[r["_source_file"], r["kind_title"], r["reason"] or r["status"]] for r in fb.rejected],
        [48, 24, 80],
    )
    rows = []
    for q in fb.quarantined:
        field_text, problem = split_reason(q["reason"])
        rows.append(
            [
                q["_source_file"],
                q["_source_sheet"] or "",
                q["_source_row"],
                q["kind_title"],
                field_text,
                problem,
                q["reason_code"],
            ]
        )
    sheet(
        "隔离行",
        ["文件", "工作表", "行号", "报表类型", "字段", "问题", "问题代码"],
        rows,
        [48, 14, 8, 24, 28, 50, 22],
    )
    sheet(
        "合计不符",
        ["文件", "工作表", "行号", "报表类型", "合计行", "字段", "填报合计", "明细合计", "差额"],
        [
            [
                t["_source_file"],
                t["_source_sheet"] or "",
                t["_source_row"],
                t["kind_title"],
                t["label"],
                t["field"],
                t["stated_value"],
                t["computed_value"],
                round(t["stated_value"] - t["computed_value"], 2),
            ]
            for t in fb.control_totals
        ],
        [48, 14, 8, 24, 12, 20, 12, 12, 12],
    )
    workbook.close()
    return fb.path


def write_feedback(
    con,
    year: int,
    out_dir: Path,
    *,
    streets: dict[str, str],
    kind_titles: dict[str, str],
    max_difference: float = 0.01,
) -> list[Feedback]:
    """One workbook per street of ``streets`` (code → name) under ``out_dir``."""
    states = _rows(con, "select * from year_status where year = ?", [year])
    written = []
    for code, name in streets.items():
        missing, rejected, quarantined, totals = collect(
            con, year, code, kind_titles=kind_titles, max_difference=max_difference
        )
        fb = Feedback(
            code,
            name,
            year,
            Path(out_dir) / f"{year}_{code}_反馈单.xlsx",
            missing,
            rejected,
            quarantined,
            totals,
        )
        write_workbook(fb, states[0] if states else None)
        written.append(fb)
    return written
