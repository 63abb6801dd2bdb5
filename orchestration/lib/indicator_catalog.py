"""The indicator catalog, ``dbt_project/seeds/indicators.csv``: one row per indicator with what
computes it (``source_model``, ``measure``, ``period``, ``filter``, ``denominator_filter`` —
read by dbt's ``int_indicators_computed`` and by ``gonghui trace`` through ``dim_indicator``),
how the report words it (``phrase_style``, ``measure_word``) and its spec columns.

``docs/spec/indicators.csv`` (the users' view of the spec) is generated from it:
``python -m orchestration.lib.indicator_catalog`` rewrites it, and
``tests/dbt/test_indicator_catalog.py`` fails when it is out of date.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from orchestration.lib.constants import PROJECT_ROOT

CATALOG_PATH = PROJECT_ROOT / "dbt_project" / "seeds" / "indicators.csv"
SPEC_PATH = PROJECT_ROOT / "docs" / "spec" / "indicators.csv"
#: the columns of docs/spec/indicators.csv, in its order
SPEC_COLUMNS = (
    "indicator_code",
    "domain",
    "report_kind",
    "name_zh",
    "unit",
    "aggregation",
    "definition",
    "report_2021_phrase",
    "demo_2021_value",
    "target_2022",
)


def read_catalog(path: Path = CATALOG_PATH) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def spec_csv(catalog: list[dict[str, str]] | None = None) -> str:
    """The text of docs/spec/indicators.csv: the spec columns of every catalog row."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=SPEC_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in catalog if catalog is not None else read_catalog():
        writer.writerow({c: row.get(c, "") for c in SPEC_COLUMNS})
    return buffer.getvalue()


def main() -> None:
    SPEC_PATH.write_text(spec_csv(), encoding="utf-8")
    print(f"wrote {SPEC_PATH.relative_to(PROJECT_ROOT)}")


if __name__ == "__main__":
    main()
