"""``gonghui report``: the report's wording rule, the HTML page, and the page as Chromium
renders it."""

from __future__ import annotations

import csv
import html
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from published_demo import PUBLISHED_GROUP

from orchestration.lib import report as rp
from orchestration.lib.phrasing import Style, phrase, phrase_indicator

SPEC = Path(__file__).resolve().parents[2] / "docs" / "spec" / "indicators.csv"
SPEC_ROWS = list(csv.DictReader(SPEC.open(encoding="utf-8")))

pytestmark = pytest.mark.xdist_group(PUBLISHED_GROUP)


needs_chromium = pytest.mark.skipif(
    rp.find_chromium() is None,
    reason="Chromium is not installed (apt-get install chromium fonts-wqy-zenhei; "
    "see docs/ci-system-packages.txt)",
)


@pytest.mark.parametrize("row", SPEC_ROWS, ids=[r["indicator_code"] for r in SPEC_ROWS])
def test_phrase_reproduces_the_2021_report(row):
    value = row["demo_2021_value"].split(" ")[0]  # '99.8 (2042/2046)' → '99.8'
    assert phrase_indicator(row["indicator_code"], row["unit"], value) == row["report_2021_phrase"]


@pytest.mark.parametrize(
    ("value", "style", "expected"),
    [
        (0, Style("approx", "场"), "0 场"),
        (30, Style("approx", "场"), "30 场"),
        (29, Style("approx", "场"), "近 30 场"),
        (27, Style("approx", "场"), "20 余场"),
        (301, Style("approx", "人次"), "300 人次"),
        (7, Style("approx", "次"), "7 次"),
        (1850, Style("approx", "名"), "1800 多名"),
        (1990, Style("approx", "人"), "近 2000 人"),
        (20046, Style("approx", "人次"), "2 万人次"),
        (64000, Style("approx", "人"), "逾 6 万人"),
        (990000, Style("approx", "元"), "近 100 万元"),
        (995000, Style("approx", "元"), "近 100 万元"),
        (999000, Style("approx", "元"), "100 万元"),
        (1_250_000, Style("approx", "元"), "100 余万元"),
        (12_500_000, Style("approx", "元"), "1200 余万元"),
        (15008, Style("rounded", "条"), "逾 1 万条"),
        (2_495_000, Style("rounded", "条"), "250 万条"),
        (893624, Style("amount", "元"), "89.36 万元"),
        (9876.5, Style("amount", "元"), "9876.5 元"),
        (Decimal("66.70"), Style("pct", "%"), "66.7%"),
        (100, Style("pct", "%"), "100%"),
        (None, Style("exact", "宗"), "—"),
    ],
)
def test_phrase_rule(value, style, expected):
    assert phrase(value, style) == expected


def test_target_and_change():
    target = rp.parse_target(">= 95", Decimal("96.0"))
    assert target.value == 95 and target.met and target.progress_pct == 100
    target = rp.parse_target("100 (基本实现全覆盖)", Decimal("99.8"))
    assert target.value == 100 and not target.met and target.progress_pct == Decimal("99.8")
    assert rp.parse_target(None, Decimal(1)) is None
    assert rp.change_text(Decimal(96), Decimal("90.5"), "pct")[0] == "+5.5 个百分点"
    assert rp.change_text(Decimal(22), Decimal(24), "cases") == ("-8.3%", "down")


@pytest.fixture(scope="module")
def report_2021(demo, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report-2021.html"
    proc = demo.gonghui("report", "--year", "2021", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    with duckdb.connect(str(demo.mart), read_only=True) as con:
        expected = {
            code: phrase_indicator(code, unit, value)
            for code, unit, value in con.execute(
                "select indicator_code, unit, value from annual_indicators "
                "where year = 2021 and street_code = 'district'"
            ).fetchall()
        }
    return out, expected


def _figures(page: str) -> dict[str, str]:
    spans = re.findall(r'<span class="figure" data-indicator="([a-z0-9_]+)">([^<]*)</span>', page)
    return {code: html.unescape(text) for code, text in spans}


def test_html_is_self_contained_with_every_indicator(report_2021):
    out, expected = report_2021
    page = out.read_text(encoding="utf-8")
    assert _figures(page) == expected
    assert len(expected) == 30
    assert page.count("<svg") == 30  # a bar chart by street per indicator, grouped by domain
    assert "2020 年" in page and "同比" in page  # year-on-year against the previous year
    assert "2022 年目标完成进度" in page and "百人以上企业建会率" in page
    # self-contained: no script, stylesheet, image or font fetched from anywhere
    assert not re.search(r"<script|<link|<img|@import|url\(", page)
    assert "WenQuanYi Zen Hei" in page and "Noto Sans CJK SC" in page


def test_previous_year_missing_is_fine(demo, tmp_path):
    out = tmp_path / "r2020.html"
    proc = demo.gonghui("report", "--year", "2020", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "同比" not in out.read_text(encoding="utf-8")
    missing = demo.gonghui("report", "--year", "1999", "--out", str(out))
    assert missing.returncode == 2 and "no published figures" in missing.stderr


@needs_chromium
def test_chromium_renders_the_figures(report_2021):
    out, expected = report_2021
    dom = rp.dump_dom(out)
    assert _figures(dom) == expected
    assert "龙岗区总工会2021年工作数据报告" in dom


@needs_chromium
def test_screenshot_and_pdf(report_2021, tmp_path):
    out, _ = report_2021
    png = rp.screenshot(out, tmp_path / "page.png", height=1600)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 50_000
    pdf = rp.print_pdf(out, tmp_path / "page.pdf")
    data = pdf.read_bytes()
    assert data[:5] == b"%PDF-"
    # a CJK font was found and embedded (subset) by the PDF printer
    assert re.search(rb"/FontName\s*/[A-Z]{6}\+(WenQuanYi|Noto|Source|Droid)", data), (
        "no CJK font in the PDF: install fonts-wqy-zenhei (docs/ci-system-packages.txt)"
    )


# ------------------------------------------------------------------ charts and the printed page

_SVG = re.compile(r"<svg .*?</svg>", re.S)
_NUM = r"(-?[0-9.]+)"


def _charts(page: str) -> list[str]:
    return _SVG.findall(page)


def test_every_bar_is_labelled_and_every_chart_has_a_value_axis(report_2021):
    out, _ = report_2021
    charts = _charts(out.read_text(encoding="utf-8"))
    assert len(charts) == 30
    for svg in charts:
        title = html.unescape(re.search(r'aria-label="([^"]*)"', svg).group(1))
        bars = re.findall(
            rf'<rect x="{_NUM}" y="{_NUM}" width="{_NUM}" height="{_NUM}" '
            r'class="bar"',
            svg,
        )
        labels = re.findall(rf'<text x="{_NUM}" y="{_NUM}" [^>]*class="bar-value">([^<]+)<', svg)
        assert len(bars) == 11 and len(labels) == 11, title
        for (x, y, w, _h), (lx, ly, text) in zip(bars, labels, strict=True):
            assert text.strip(), title
            assert abs(float(lx) - (float(x) + float(w) / 2)) < 0.5  # over its own bar
            # above the bar and below the title: 8px text whose baseline is at ly
            assert float(ly) <= float(y) and float(ly) - 8 >= 20, (title, text)
            assert len(html.unescape(text)) <= 6, (title, text)  # fits its slot
        ticks = re.findall(r'class="tick">([^<]+)<', svg)
        assert len(ticks) >= 2 and ticks[0] == "0", title
        assert re.search(
            r'<line x1="(\d+)" y1="[0-9.]+" x2="\1" y2="[0-9.]+" class="axis"/>', svg
        ), title  # the vertical value axis


def test_the_amount_chart_labels_every_street_in_wan():
    bars = [
        ("坂田", Decimal("195747.59")),
        ("宝龙", Decimal("12985.17")),
        ("园山", Decimal(0)),
        ("平湖", None),
    ]
    svg = rp.bar_chart_svg("帮助职工争取经济利益（元）", bars, "yuan")
    labels = re.findall(r'class="bar-value">([^<]+)<', svg)
    assert labels == ["19.6万", "1.3万", "0", "—"]
    assert re.findall(r'class="tick">([^<]+)<', svg) == ["0", "5万", "10万", "15万", "20万"]


def test_short_values_and_round_ticks():
    assert [rp.short_value(v) for v in (15008, 893624.5, Decimal("99.8"), 1234.56, 7, None)] == [
        "1.5万",
        "89.4万",
        "99.8",
        "1235",
        "7",
        "—",
    ]
    assert rp.nice_ticks(1, integer=True) == [0, 1]
    assert rp.nice_ticks(7, integer=True) == [0, 2, 4, 6, 8]
    assert rp.nice_ticks(100) == [0, 25, 50, 75, 100]
    assert rp.nice_ticks(0) == [0, 1]


def test_first_column_and_headings_never_wrap_and_the_page_is_a4(report_2021):
    out, _ = report_2021
    page = out.read_text(encoding="utf-8")
    assert re.search(r"th, td:first-child \{ white-space: nowrap; \}", page)
    assert re.search(r"@page \{ size: A4 portrait; margin: [0-9]+mm", page)


@needs_chromium
def test_pdf_is_a4_and_no_page_but_the_last_is_under_half_full(report_2021, tmp_path):
    from pdf_pages import pdf_pages

    out, _ = report_2021
    pages = pdf_pages(rp.print_pdf(out, tmp_path / "report.pdf").read_bytes())
    assert 3 <= len(pages) <= 6, len(pages)
    for n, page in enumerate(pages, 1):
        assert (round(page.width), round(page.height)) == (595, 842), n  # A4 portrait
        assert page.texts > 0 and page.text_top < 0.1 * page.height, n  # starts at the top
        if n < len(pages):
            assert page.filled >= 0.5, f"page {n} of {len(pages)} is {page.filled:.0%} full"


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils not installed")
@needs_chromium
def test_the_page_reader_agrees_with_pdftotext(report_2021, tmp_path):
    """``pdf_pages`` against poppler's text boxes (where poppler is installed)."""
    from pdf_pages import pdf_pages

    out, _ = report_2021
    pdf = rp.print_pdf(out, tmp_path / "report.pdf")
    for n, page in enumerate(pdf_pages(pdf.read_bytes()), 1):
        boxes = subprocess.run(
            ["pdftotext", "-f", str(n), "-l", str(n), "-bbox", str(pdf), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        y_max = max(float(y) for y in re.findall(r'yMax="([0-9.]+)"', boxes))
        assert abs(page.text_bottom - y_max) < 6, n  # baseline vs. bottom of the glyphs


def test_the_submission_page_is_the_street_by_kind_grid_of_the_year():
    import duckdb

    from orchestration.lib.report import submissions

    con = duckdb.connect()
    con.execute(
        "create table submission_status as select * from (values "
        "(2022, 'buji', 'dispute_cases', 'received'), (2022, 'buji', 'member_roster', 'late'), "
        "(2022, 'pinghu', 'dispute_cases', 'rejected_only'), "
        "(2022, 'pinghu', 'member_roster', 'missing'), (2021, 'buji', 'dispute_cases', 'late')"
        ") as t(year, street_code, report_kind, status)"
    )
    streets = [
        {"street_code": "pinghu", "short_zh": "平湖", "name_zh": "平湖街道"},
        {"street_code": "buji", "short_zh": "布吉", "name_zh": "布吉街道"},
    ]
    page = submissions(con, 2022, streets)
    assert page["kinds"] == ["工会会员信息采集表", "劳资纠纷调处台账"]  # the mapping's order
    assert page["rows"] == [  # the streets list's order
        {"street": "平湖", "marks": ["·", "✗"]},
        {"street": "布吉", "marks": ["!", "✓"]},
    ]
    assert [n for _mark, _label, n in page["legend"]] == [1, 1, 1, 1]
    assert submissions(con, 2020, streets) is None
