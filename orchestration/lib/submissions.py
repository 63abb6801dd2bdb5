"""The submission desk: who sent what (``submission_status`` of the published mart) as a
street × report kind grid for ``gonghui status``, and per street the feedback workbook
(反馈单) of ``gonghui feedback``.

Cells of the grid: ``✓`` received, ``·`` missing (the year is open), ``✗`` rejected only (every
file of the kind was rejected), ``!`` late (missing after the year closed).
"""

from __future__ import annotations

from typing import Any

from orchestration.lib.query import _pad, _width

SYMBOLS = {"received": "✓", "missing": "·", "rejected_only": "✗", "late": "!"}
LEGEND = "✓ received · · missing · ✗ rejected only · ! late (missing after the deadline)"


def _rows(con, sql: str, params=None) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def published_years(con) -> list[int]:
    return [r[0] for r in con.execute("select year from year_status order by 1").fetchall()]


def status_grid(con, year: int, *, kinds: dict[str, str], streets: dict[str, str]) -> str:
    """The grid of ``year`` from the published mart ``con``: one line per street (in the order
    of ``streets``: code → name), one column per report kind (``kinds``: name → short label),
    the year's state on top and the counts of each status below."""
    cells = {
        (r["street_code"], r["report_kind"]): r
        for r in _rows(con, "select * from submission_status where year = ?", [year])
    }
    if not cells:
        return f"no submission status for {year} in the published mart"
    state = _rows(con, "select * from year_status where year = ?", [year])
    lines = []
    if state:
        s = state[0]
        lines.append(
            f"{year}: {s['state']} (deadline {s['deadline']}, as of {s['as_of']}), published "
            f"{s['status'] or 'nothing'} ({s['decision']}); streets complete "
            f"{s['streets_complete']}/{s['streets_expected']}, street × kind received "
            f"{s['kinds_received']}/{s['kinds_expected']}"
        )
    labels = list(kinds.values())
    street_width = max(_width(n) for n in streets.values()) + 2
    widths = [max(_width(label), 2) + 2 for label in labels]
    lines.append(
        _pad("", street_width, False)
        + "".join(_pad(label, w, False) for label, w in zip(labels, widths, strict=True))
    )
    for code, name in streets.items():
        marks = [SYMBOLS.get((cells.get((code, kind)) or {}).get("status"), "?") for kind in kinds]
        lines.append(
            _pad(name, street_width, False)
            + "".join(_pad(m, w, False) for m, w in zip(marks, widths, strict=True))
        )
    counts: dict[str, int] = {}
    for c in cells.values():
        counts[c["status"]] = counts.get(c["status"], 0) + 1
    lines.append(LEGEND)
    lines.append(", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return "\n".join(line.rstrip() for line in lines)
