"""Builder for the ``raw`` schema that ingestion writes and the dbt project reads.

``RAW_TABLES`` is the contract (table -> ordered list of (column, DuckDB type)).
``create_raw_schema(con)`` creates every raw table empty; ``insert_rows`` appends
hand-written rows, filling the provenance columns with defaults so tests stay short.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

# Columns every raw.<kind> table carries, in this order, before the kind's own columns.
COMMON_COLUMNS: list[tuple[str, str]] = [
    ("year", "INTEGER"),
    ("street_code", "VARCHAR"),
    ("_period_label", "VARCHAR"),
    ("_period_end", "DATE"),
    ("_superseded_by", "VARCHAR"),
    ("_source_file", "VARCHAR"),
    ("_source_sheet", "VARCHAR"),
    ("_source_row", "INTEGER"),
    ("_file_sha256", "VARCHAR"),
    ("_run_id", "VARCHAR"),
    ("_ingested_at", "TIMESTAMP"),
]

KIND_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "enterprise_register": [
        ("credit_code", "VARCHAR"),
        ("enterprise_name", "VARCHAR"),
        ("community", "VARCHAR"),
        ("industry", "VARCHAR"),
        ("employee_count", "INTEGER"),
        ("has_union", "BOOLEAN"),
        ("union_founded_on", "DATE"),
        ("has_worker_council", "BOOLEAN"),
        ("is_key_enterprise", "BOOLEAN"),
    ],
    "member_roster": [
        ("person_key", "VARCHAR"),
        ("gender", "VARCHAR"),
        ("employer_credit_code", "VARCHAR"),
        ("joined_on", "DATE"),
        ("collected_on", "DATE"),
        ("verified", "BOOLEAN"),
        ("verified_on", "DATE"),
    ],
    "dispute_cases": [
        ("case_no", "VARCHAR"),
        ("accepted_on", "DATE"),
        ("enterprise_name", "VARCHAR"),
        ("credit_code", "VARCHAR"),
        ("workers_involved", "INTEGER"),
        ("dispute_type", "VARCHAR"),
        ("outcome", "VARCHAR"),
        ("closed_on", "DATE"),
        ("recovered_amount", "DECIMAL(18,2)"),
    ],
    "worker_requests": [
        ("request_no", "VARCHAR"),
        ("credit_code", "VARCHAR"),
        ("raised_on", "DATE"),
        ("category", "VARCHAR"),
        ("status", "VARCHAR"),
        ("resolved_level", "VARCHAR"),
    ],
    "worker_activities": [
        ("activity_no", "VARCHAR"),
        ("title", "VARCHAR"),
        ("category", "VARCHAR"),
        ("project", "VARCHAR"),
        ("held_on", "DATE"),
        ("participants", "INTEGER"),
    ],
    "dream_program": [
        ("person_key", "VARCHAR"),
        ("employer_credit_code", "VARCHAR"),
        ("registered_on", "DATE"),
        ("major", "VARCHAR"),
    ],
    "hardship_assistance": [
        ("payment_no", "VARCHAR"),
        ("paid_on", "DATE"),
        ("aid_type", "VARCHAR"),
        ("person_key", "VARCHAR"),
        ("amount", "DECIMAL(18,2)"),
    ],
    "care_services": [
        ("service_no", "VARCHAR"),
        ("served_on", "DATE"),
        ("service_type", "VARCHAR"),
        ("persons", "INTEGER"),
    ],
}

AUDIT_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "quarantine": [
        ("year", "INTEGER"),
        ("street_code", "VARCHAR"),
        ("report_kind", "VARCHAR"),
        ("_source_file", "VARCHAR"),
        ("_source_sheet", "VARCHAR"),
        ("_source_row", "INTEGER"),
        ("_file_sha256", "VARCHAR"),
        ("_run_id", "VARCHAR"),
        ("_superseded_by", "VARCHAR"),
        ("reason_code", "VARCHAR"),
        ("reason", "VARCHAR"),
        ("record_json", "VARCHAR"),
    ],
    "source_files": [
        ("_source_file", "VARCHAR"),
        ("year", "INTEGER"),
        ("street_code", "VARCHAR"),
        ("report_kind", "VARCHAR"),
        ("_file_sha256", "VARCHAR"),
        ("file_format", "VARCHAR"),
        ("status", "VARCHAR"),
        ("reason", "VARCHAR"),
        ("_period_label", "VARCHAR"),
        ("_period_end", "DATE"),
        ("version", "INTEGER"),
        ("superseded_by", "VARCHAR"),
        ("rows_data", "INTEGER"),
        ("rows_loaded", "INTEGER"),
        ("rows_quarantined", "INTEGER"),
        ("rows_skipped", "INTEGER"),
        ("_run_id", "VARCHAR"),
    ],
    "control_totals": [
        ("year", "INTEGER"),
        ("street_code", "VARCHAR"),
        ("report_kind", "VARCHAR"),
        ("_source_file", "VARCHAR"),
        ("_source_sheet", "VARCHAR"),
        ("_source_row", "INTEGER"),
        ("field", "VARCHAR"),
        ("stated_value", "DECIMAL(18,2)"),
        ("computed_value", "DECIMAL(18,2)"),
        ("covers_from_row", "INTEGER"),
        ("covers_to_row", "INTEGER"),
        ("_run_id", "VARCHAR"),
    ],
}

RAW_TABLES: dict[str, list[tuple[str, str]]] = {
    **{kind: COMMON_COLUMNS + cols for kind, cols in KIND_COLUMNS.items()},
    **AUDIT_COLUMNS,
}


def create_raw_schema(con: Any) -> None:
    """Create schema ``raw`` and every raw table, empty, on a duckdb connection."""
    con.execute("create schema if not exists raw")
    for table, columns in RAW_TABLES.items():
        cols = ", ".join(f'"{name}" {dtype}' for name, dtype in columns)
        con.execute(f"create or replace table raw.{table} ({cols})")


def _default_period(year: int) -> tuple[str, dt.date]:
    return str(year), dt.date(year, 12, 31)


def insert_rows(con: Any, table: str, rows: Iterable[Mapping[str, Any]]) -> int:
    """Append rows (dicts keyed by column name) to ``raw.<table>``.

    Missing columns are NULL, except for the kind tables' provenance columns, which get
    defaults: an annual period, ``_source_file`` = ``<year>/<street>/<table>.xlsx``,
    ``_source_row`` = position in ``rows`` (1-based, +1 for the header), and so on.
    Returns the number of rows inserted.
    """
    columns = [name for name, _ in RAW_TABLES[table]]
    is_kind = table in KIND_COLUMNS
    values: list[list[Any]] = []
    for i, row in enumerate(rows, start=1):
        unknown = set(row) - set(columns)
        if unknown:
            raise KeyError(f"raw.{table} has no column(s) {sorted(unknown)}")
        full = dict(row)
        if is_kind:
            year = full["year"]
            label, end = _default_period(year)
            full.setdefault("_period_label", label)
            full.setdefault("_period_end", end)
            full.setdefault(
                "_source_file", f"{year}/{full['street_code']}/{table}_{full['_period_label']}.xlsx"
            )
            full.setdefault("_source_sheet", "Sheet1")
            full.setdefault("_source_row", i + 1)
            full.setdefault("_file_sha256", "0" * 64)
            full.setdefault("_run_id", "test-run")
            full.setdefault("_ingested_at", dt.datetime(2022, 1, 15, 9, 0, 0))
        values.append([full.get(c) for c in columns])
    if values:
        placeholders = ", ".join("?" for _ in columns)
        quoted = ", ".join(f'"{c}"' for c in columns)
        con.executemany(f"insert into raw.{table} ({quoted}) values ({placeholders})", values)
    return len(values)
