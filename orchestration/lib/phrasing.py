"""How the annual work report words a figure: "调处劳资纠纷 1046 宗", "发放帮扶资金 70 余万元",
"惠及困难职工近 300 人次", "服务职工逾 5 万人", "累计采集会员信息 75 万条".

Each indicator has a *style* (how precisely the report gives it) and a *measure word*
(宗, 条, 场, 人次 …), the columns phrase_style and measure_word of the indicator catalog
(dbt_project/seeds/indicators.csv, published as dim_indicator) — presentation metadata, like a
label. The figure itself, the rounding, the unit 万 and the qualifier (余/逾/近/多) are
computed from the value by the rules below, so the same indicator of another year is worded
correctly for its own value.

Styles
    ``pct``      percentage to one decimal, ``.0`` dropped: 99.8%, 85%.
    ``exact``    the count as is: 1046 宗, 10000 人次.
    ``amount``   yuan in 万 with two decimals: 4468.12 万元 (below 1 万: the yuan).
    ``rounded``  a large cumulative count rounded to a whole number of 万: 75 万条; below
                 10 万 it is worded as ``approx``.
    ``approx``   a round figure with a qualifier (below).

The ``approx`` rule. Values of 1 万 or more are counted in 万. The round figure has one
significant digit below 1000 (30, 200, 70 万) and two from 1000 (1300, 1700). Let ``lower`` be the
value rounded down to that precision and ``upper`` the next round figure:

* a value within 2 % of the step of a round figure is given plainly as that figure
  (301 → 300, 20046 → 2 万);
* a value short of ``upper`` by at most a tenth of the step is "近 upper" (296 → 近 300,
  79412 → 近 8 万, 29 → 近 30);
* otherwise it is "lower 余" (34 → 30 余, 712460.50 元 → 70 余万元); the report writes "逾 5 万"
  rather than "5 余万" when the round figure is a single digit, and "多" instead of "余" before
  the measure word 名 (1736 → 1700 多名).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path

from orchestration.lib.constants import PROJECT_ROOT

WAN = Decimal(10000)
NEAR = Decimal("0.1")  # "近": short of the next round figure by at most a tenth of the step
PLAIN = Decimal("0.02")  # within 2 % of the step of a round figure: given plainly


@dataclass(frozen=True)
class Style:
    style: str  # pct | exact | amount | rounded | approx
    measure: str  # measure word after the number (万 goes before it)


#: measure word by unit (seeds/indicators.csv) — the default when an indicator gives none
UNIT_MEASURE = {
    "pct": "%",
    "yuan": "元",
    "cases": "宗",
    "enterprises": "家",
    "records": "条",
    "requests": "条",
    "events": "场",
    "person_times": "人次",
    "persons": "人",
    "sessions": "次",
    "projects": "项",
}

#: the indicator catalog: its columns phrase_style and measure_word say how the annual report
#: words each indicator (presentation metadata, never a figure)
CATALOG_PATH = PROJECT_ROOT / "dbt_project" / "seeds" / "indicators.csv"


@cache
def catalog_styles(path: Path = CATALOG_PATH) -> dict[str, Style]:
    """Style of every indicator of the catalog that gives one (``phrase_style``)."""
    with path.open(encoding="utf-8", newline="") as fh:
        return {
            row["indicator_code"]: Style(row["phrase_style"], row.get("measure_word") or "")
            for row in csv.DictReader(fh)
            if row.get("phrase_style")
        }


def style_for(
    code: str, unit: str, phrase_style: str | None = None, measure_word: str | None = None
) -> Style:
    """The style given (a ``dim_indicator`` row's phrase_style/measure_word), else the
    catalog's, else the unit's default."""
    if phrase_style:
        return Style(phrase_style, measure_word or UNIT_MEASURE.get(unit, ""))
    styles = catalog_styles()
    if code in styles:
        return styles[code]
    if unit == "pct":
        return Style("pct", "%")
    if unit == "yuan":
        return Style("amount", "元")
    return Style("exact", UNIT_MEASURE.get(unit, ""))


def _plain(d: Decimal) -> str:
    """A Decimal without exponent or trailing zeros: 75, 4468.12, 5.5."""
    text = f"{d:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _step(x: Decimal) -> Decimal:
    """The round-figure precision for ``x``: one significant digit below 1000, two from 1000."""
    digits = len(str(int(x))) if x >= 1 else 1
    significant = 1 if x < 1000 else 2
    return Decimal(10) ** max(digits - significant, 0)


def approx(value: Decimal, measure: str) -> str:
    wan = value >= WAN
    x = value / WAN if wan else value
    unit = ("万" if wan else "") + measure
    if x <= 0:
        return f"0 {measure}"
    step = _step(x)
    lower = (x / step).to_integral_value(rounding=ROUND_FLOOR) * step
    upper = lower + step
    if (upper - x) / step <= PLAIN:
        return f"{_plain(upper)} {unit}"
    if (x - lower) / step <= PLAIN:
        return f"{_plain(lower)} {unit}"
    if (upper - x) / step <= NEAR:
        return f"近 {_plain(upper)} {unit}"
    if lower < 10:
        return f"逾 {_plain(lower)} {unit}"
    more = "多" if measure == "名" else "余"
    return f"{_plain(lower)} {more}{unit}"


def phrase(value: Decimal | float | int | str | None, style: Style) -> str:
    """The report's wording of ``value`` (without the indicator's name)."""
    if value is None:
        return "—"
    d = Decimal(str(value))
    if style.style == "pct":
        return _plain(d.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)) + "%"
    if style.style == "exact":
        return f"{_plain(d)} {style.measure}"
    if style.style == "amount":
        if d >= WAN:
            wan = (d / WAN).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            return f"{_plain(wan)} 万{style.measure}"
        return f"{_plain(d.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP))} {style.measure}"
    if style.style == "rounded" and d >= 10 * WAN:
        wan = (d / WAN).to_integral_value(rounding=ROUND_HALF_UP)
        return f"{_plain(wan)} 万{style.measure}"
    return approx(d, style.measure)


def phrase_indicator(
    code: str,
    unit: str,
    value,
    phrase_style: str | None = None,
    measure_word: str | None = None,
) -> str:
    return phrase(value, style_for(code, unit, phrase_style, measure_word))
