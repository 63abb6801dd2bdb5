"""``gonghui report``: the year's figures as a self-contained HTML page in the spirit of section 一
of the annual work report — every indicator worded the way the report words it
(``orchestration/lib/phrasing.py``), a bar chart per domain by street (inline SVG, no scripts or
external files), the change on the previous year where it is published, and progress against
the 2022 targets of ``indicators.csv``.

Chinese text uses the system's CJK fonts (``fonts-wqy-zenhei`` or ``fonts-noto-cjk``; see
``docs/ci-system-packages.txt``); nothing is embedded. A PDF is printed with headless Chromium
when it is installed.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from html import escape
from pathlib import Path
from typing import Any

import duckdb
import jinja2
import markupsafe

from orchestration.lib.phrasing import UNIT_MEASURE, phrase_indicator
from orchestration.lib.streets import StreetsFileError, district_name

TEMPLATES = Path(__file__).with_name("templates")
DISTRICT = "district"

DOMAINS = {
    "membership": "基层工会组织建设",
    "disputes": "维权服务与劳资沟通协商",
    "training": "职工活动与素质提升",
    "assistance": "困难帮扶与关爱服务",
}

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


class ReportError(ValueError):
    pass


@dataclass
class Target:
    text: str
    value: Decimal
    progress_pct: Decimal  # value / target, capped at 100 for the bar
    met: bool


@dataclass
class IndicatorLine:
    code: str
    name_zh: str
    unit: str
    aggregation: str
    value: Decimal | None
    numerator: Decimal | None
    denominator: Decimal | None
    phrase: str
    exact: str
    previous: Decimal | None = None
    change: str | None = None
    change_class: str = ""
    target: Target | None = None
    by_street: list[tuple[str, Decimal | None]] = field(default_factory=list)


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _plain(d: Decimal | None) -> str:
    if d is None:
        return "—"
    text = f"{d:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    whole, _, frac = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    whole = whole.lstrip("-")
    grouped = f"{int(whole):,}" if whole else "0"
    return sign + grouped + (f".{frac}" if frac else "")


def exact_text(value: Decimal | None, unit: str, numerator=None, denominator=None) -> str:
    if value is None:
        return "—"
    if unit == "pct":
        return f"{_plain(value)}%（{_plain(_dec(numerator))}/{_plain(_dec(denominator))}）"
    if unit == "yuan":
        return f"{_plain(value.quantize(Decimal('0.01')))} 元"
    return _plain(value)


def change_text(current: Decimal | None, previous: Decimal | None, unit: str) -> tuple[str, str]:
    if current is None or previous is None:
        return "—", ""
    diff = current - previous
    cls = "up" if diff > 0 else "down" if diff < 0 else "flat"
    sign = "+" if diff > 0 else ""
    if unit == "pct":
        return f"{sign}{_plain(diff)} 个百分点", cls
    if previous == 0:
        return f"{sign}{_plain(diff)}", cls
    rate = (Decimal(100) * diff / previous).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{sign}{_plain(rate)}%", cls


_TARGET = re.compile(r"^\s*(>=|≥|<=|≤)?\s*(\d+(?:\.\d+)?)")


def parse_target(text: str | None, value: Decimal | None) -> Target | None:
    """``'100 (基本实现全覆盖)'`` or ``'>= 95'`` → the numeric target and the progress to it."""
    if not text or value is None:
        return None
    match = _TARGET.match(text)
    if not match:
        return None
    target = Decimal(match.group(2))
    at_most = match.group(1) in ("<=", "≤")
    met = value <= target if at_most else value >= target
    progress = Decimal(100) if not target else Decimal(100) * value / target
    progress = min(progress, Decimal(100)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return Target(text=text, value=target, progress_pct=progress, met=met)


# ------------------------------------------------------------------------------------ charts


def short_value(value: Decimal | float | None) -> str:
    """A bar's or a tick's value in at most ~5 characters: ``15008`` → ``1.5万``,
    ``893624.5`` → ``89.4万``, ``99.8`` → ``99.8``, ``1234.56`` → ``1235``."""
    if value is None:
        return "—"
    d = Decimal(str(value))
    if abs(d) >= 10_000:
        wan = d / 10_000
        places = Decimal(1) if abs(wan) >= 100 else Decimal("0.1")
        return _plain(wan.quantize(places, rounding=ROUND_HALF_UP)).replace(",", "") + "万"
    places = Decimal(1) if abs(d) >= 100 else Decimal("0.1")
    return _plain(d.quantize(places, rounding=ROUND_HALF_UP)).replace(",", "")


def nice_ticks(top: float, n: int = 4, integer: bool = False) -> list[float]:
    """0 and about ``n`` evenly spaced round values (1, 2, 2.5 or 5 × 10^k) up to ≥ ``top``;
    whole steps only when ``integer`` (counts of cases, people, events)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = max(top / n, 1.0) if integer else top / n
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(
        m * magnitude
        for m in (1, 2, 2.5, 5, 10)
        if m * magnitude >= raw and not (integer and (m * magnitude) % 1)
    )
    count = math.ceil(top / step - 1e-9)
    return [i * step for i in range(count + 1)]


def bar_chart_svg(
    title: str, bars: list[tuple[str, Decimal | None]], unit: str, width=340, height=180
) -> str:
    """A small vertical bar chart (one bar per street) as an SVG fragment: a value axis with
    round ticks and grid lines, and every bar labelled with its value above it (the axis
    reaches above the tallest bar, and the plot leaves room for its label, so none is cut)."""
    left, right, top, bottom = 34, 4, 34, 20
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [float(v) for _, v in bars if v is not None]
    ticks = nice_ticks(max(values, default=0.0), integer=unit not in ("pct", "yuan"))
    axis_top = ticks[-1]
    n = max(len(bars), 1)
    slot = plot_w / n
    bar_w = slot * 0.72
    base = top + plot_h
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}">',
        f'<text x="{width / 2:.1f}" y="15" text-anchor="middle" class="chart-title">'
        f"{escape(title)}</text>",
    ]
    for tick in ticks:
        y = base - plot_h * tick / axis_top
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
            f'class="{"axis" if tick == 0 else "grid"}"/>'
            f'<text x="{left - 3}" y="{y + 3:.1f}" text-anchor="end" class="tick">'
            f"{escape(short_value(tick))}</text>"
        )
    parts.append(f'<line x1="{left}" y1="{top - 4}" x2="{left}" y2="{base}" class="axis"/>')
    for i, (label, value) in enumerate(bars):
        x = left + i * slot + (slot - bar_w) / 2
        v = max(float(value), 0.0) if value is not None else 0.0
        h = plot_h * v / axis_top
        y = base - h
        exact = _plain(value) if value is not None else "—"
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" class="bar">'
            f"<title>{escape(label)}: {escape(exact)}</title></rect>"
            f'<text x="{x + bar_w / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" '
            f'class="bar-value">{escape(short_value(value))}</text>'
            f'<text x="{x + bar_w / 2:.1f}" y="{base + 13:.1f}" class="bar-label" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


# ------------------------------------------------------------------------------------ data


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params=None) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def collect(con: duckdb.DuckDBPyConnection, year: int) -> dict[str, Any]:
    years = [
        r[0]
        for r in con.execute("select distinct year from annual_indicators order by 1").fetchall()
    ]
    if year not in years:
        raise ReportError(f"no published figures for {year} (published years: {years})")
    indicators = _rows(
        con,
        "select indicator_code, name_zh, unit, domain, aggregation, target_2022, "
        "phrase_style, measure_word "
        "from dim_indicator order by rowid",
    )
    # the streets in the order of the streets list (a mart published before dim_street had
    # sort_order: by code)
    streets = sorted(
        _rows(con, "select * from dim_street"),
        key=lambda s: (s.get("sort_order") is None, s.get("sort_order") or 0, s["street_code"]),
    )
    short = {s["street_code"]: s["short_zh"] or s["name_zh"] for s in streets}
    figures = {
        (r["year"], r["street_code"], r["indicator_code"]): r
        for r in _rows(
            con,
            "select * from annual_indicators where year in (?, ?)",
            [year, year - 1],
        )
    }
    has_previous = (year - 1) in years
    domains: dict[str, list[IndicatorLine]] = {d: [] for d in DOMAINS}
    for ind in indicators:
        code, unit = ind["indicator_code"], ind["unit"]
        fig = figures.get((year, DISTRICT, code), {})
        value = _dec(fig.get("value"))
        line = IndicatorLine(
            code=code,
            name_zh=ind["name_zh"],
            unit=unit,
            aggregation=ind["aggregation"],
            value=value,
            numerator=_dec(fig.get("numerator")),
            denominator=_dec(fig.get("denominator")),
            phrase=phrase_indicator(code, unit, value, ind["phrase_style"], ind["measure_word"]),
            exact=exact_text(value, unit, fig.get("numerator"), fig.get("denominator")),
            target=parse_target(ind["target_2022"], value),
            by_street=[
                (
                    short[s["street_code"]],
                    _dec(figures.get((year, s["street_code"], code), {}).get("value")),
                )
                for s in streets
            ],
        )
        if has_previous:
            prev = figures.get((year - 1, DISTRICT, code), {})
            line.previous = _dec(prev.get("value"))
            line.change, line.change_class = change_text(value, line.previous, unit)
        domains.setdefault(ind["domain"], []).append(line)
    charts = {
        domain: [
            bar_chart_svg(f"{line.name_zh}（{_unit_zh(line)}）", line.by_street, line.unit)
            for line in lines
        ]
        for domain, lines in domains.items()
    }
    sources = con.execute(
        "select count(*), count(*) filter (where status = 'loaded') from audit.source_files "
        "where year = ?",
        [year],
    ).fetchone()
    return {
        "year": year,
        "district_name": _district_name(),
        "street_count": len(streets),
        "open_year": open_year(con, year),
        "submissions": submissions(con, year, streets),
        "previous_year": year - 1 if has_previous else None,
        "domains": [(d, DOMAINS.get(d, d), domains[d]) for d in domains if domains[d]],
        "charts": charts,
        "targets": [
            line for lines in domains.values() for line in lines if line.target is not None
        ],
        "files_read": sources[0],
        "files_loaded": sources[1],
        "generated": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
    }


#: how the report names each submission status (``submission_status.status``)
SUBMISSION_MARKS = {
    "received": ("✓", "已报送"),
    "missing": ("·", "未报送"),
    "rejected_only": ("✗", "仅有被退回文件"),
    "late": ("!", "逾期未报"),
}


def submissions(
    con: duckdb.DuckDBPyConnection, year: int, streets: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The year's street × report kind grid of ``submission_status`` (the submission desk's
    page of the report); ``None`` for a mart published without it."""
    has = con.execute(
        "select count(*) from duckdb_tables() where table_name = 'submission_status'"
    ).fetchone()[0]
    if not has:
        return None
    cells = {
        (r["street_code"], r["report_kind"]): r["status"]
        for r in _rows(con, "select * from submission_status where year = ?", [year])
    }
    if not cells:
        return None
    from orchestration.lib.mapping import MappingError, load_mapping

    try:
        titles = {k.name: k.title for k in load_mapping().kinds.values()}
    except MappingError:
        titles = {}
    order = {k: i for i, k in enumerate(titles)}  # the mapping's order of the kinds
    kinds = sorted({kind for _street, kind in cells}, key=lambda k: (order.get(k, len(order)), k))
    rows = [
        {
            "street": s["short_zh"] or s["name_zh"],
            "marks": [
                SUBMISSION_MARKS.get(cells.get((s["street_code"], k)), ("", ""))[0] for k in kinds
            ],
        }
        for s in streets
        if any((s["street_code"], k) in cells for k in kinds)
    ]
    counts = {status: 0 for status in SUBMISSION_MARKS}
    for status in cells.values():
        counts[status] = counts.get(status, 0) + 1
    return {
        "kinds": [titles.get(k, k) for k in kinds],
        "rows": rows,
        "legend": [
            (mark, label, counts.get(status, 0))
            for status, (mark, label) in SUBMISSION_MARKS.items()
        ],
    }


def _district_name() -> str:
    """The district's name for the title (the ``district`` row of the streets list); none when
    the list has no such row or cannot be read — the report is of the published mart."""
    try:
        return district_name()
    except StreetsFileError:
        return ""


def open_year(con: duckdb.DuckDBPyConnection, year: int) -> dict[str, Any] | None:
    """For a year whose published figures are provisional (``year_status``): the banner text
    "截至 2022年7月31日，数据尚未报齐：…" (the day before as_of; the streets and how many report
    kinds each has still to send). ``None`` for a final year or a mart without year_status."""
    has = con.execute(
        "select count(*) from duckdb_tables() where table_name = 'year_status'"
    ).fetchone()[0]
    if not has:
        return None
    rows = _rows(con, "select * from year_status where year = ?", [year])
    if not rows or rows[0]["status"] != "provisional":
        return None
    state = rows[0]
    day = state["as_of"] - dt.timedelta(days=1)
    missing = _rows(
        con,
        "select d.short_zh, count(*) as kinds from submission_status as s "
        "join dim_street as d using (street_code) where s.year = ? and s.status != 'received' "
        "group by all order by min(s.street_code)",
        [year],
    )
    text = "、".join(f"{m['short_zh']}（{m['kinds']} 类报表）" for m in missing)
    return {
        "as_of": f"{day.year}年{day.month}月{day.day}日",
        "deadline": state["deadline"].isoformat(),
        "missing": text or "各街道均已报送",
        "complete": bool(not missing),
    }


def _unit_zh(line: IndicatorLine) -> str:
    return UNIT_MEASURE.get(line.unit, line.unit)


def render_html(con: duckdb.DuckDBPyConnection, year: int) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["plain"] = _plain
    template = env.get_template("report.html.j2")
    return template.render(**collect(con, year), markup=markupsafe.Markup)


def write_report(mart: Path, year: int, out: Path) -> Path:
    from orchestration.lib.query import connect_published

    with connect_published(mart) as con:
        html = render_html(con, year)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out


# ------------------------------------------------------------------------------------ chromium


def find_chromium() -> str | None:
    for name in CHROMIUM_CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    """Run headless Chromium with a throw-away profile; ``args`` are the extra flags + URL."""
    binary = find_chromium()
    if binary is None:
        raise ReportError("Chromium is not installed (see docs/ci-system-packages.txt)")
    with tempfile.TemporaryDirectory(prefix="gonghui-chromium-") as profile:
        return subprocess.run(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def print_pdf(html: Path, pdf: Path) -> Path:
    proc = chromium(["--no-pdf-header-footer", f"--print-to-pdf={pdf}", html.resolve().as_uri()])
    if not pdf.is_file():
        raise ReportError(f"Chromium did not write {pdf}: {proc.stderr[-2000:]}")
    return pdf


def screenshot(html: Path, png: Path, width: int = 1200, height: int = 3000) -> Path:
    proc = chromium(
        [
            f"--screenshot={png}",
            f"--window-size={width},{height}",
            "--hide-scrollbars",
            html.resolve().as_uri(),
        ]
    )
    if not png.is_file():
        raise ReportError(f"Chromium did not write {png}: {proc.stderr[-2000:]}")
    return png


def dump_dom(html: Path) -> str:
    proc = chromium(["--dump-dom", html.resolve().as_uri()])
    if proc.returncode != 0:
        raise ReportError(f"Chromium failed: {proc.stderr[-2000:]}")
    return proc.stdout
