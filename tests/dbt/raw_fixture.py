"""Builder for the ``raw`` schema that ingestion writes and the dbt project reads.

``RAW_TABLES`` is the contract (table -> ordered list of (column, DuckDB type)).
``create_raw_schema(con)`` creates every raw table empty; ``insert_rows`` appends
hand-written rows, filling the provenance columns with defaults so tests stay short.
``build_raw(con)`` writes the tiny hand-written raw schema the dbt tests share, and
``run_dbt`` runs dbt on a DuckDB file (``GONGHUI_DUCKDB_PATH``).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from orchestration.lib.ingest import AUDIT_TABLES
from orchestration.lib.ingest.warehouse import ensure_raw_schema, kind_columns
from orchestration.lib.mapping import load_mapping

_MAPPING = load_mapping()

REPO = Path(__file__).resolve().parents[2]
PROJECT_DIR = REPO / "dbt_project"
D = dt.date

#: The contract, derived from ingestion itself (table -> ordered list of (column, DuckDB type)),
#: so the dbt tests always run against exactly what ingestion writes.
RAW_TABLES: dict[str, list[tuple[str, str]]] = {
    kind.name: list(kind_columns(kind).items()) for kind in _MAPPING.kinds.values()
} | {table: list(columns.items()) for table, columns in AUDIT_TABLES.items()}


def create_raw_schema(con: Any) -> None:
    """Create every raw table, empty, exactly as ingestion does."""
    ensure_raw_schema(con, _MAPPING)


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
    is_kind = table in _MAPPING.kinds
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


# --------------------------------------------------------------------------- fixture rows


def _q(year: int, q: int) -> dict:
    ends = {1: D(year, 3, 31), 2: D(year, 6, 30), 3: D(year, 9, 30), 4: D(year, 12, 31)}
    return {"_period_label": f"{year}-Q{q}", "_period_end": ends[q]}


def _file(street: str, name: str, **period) -> dict:
    return {"_source_file": f"2021/{street}/{name}", **period}


SUPERSEDED_REGISTER = "2021/bantian/企业建会情况台账.xlsx"
CORRECTED_REGISTER = "2021/bantian/企业建会情况台账（修订）.xlsx"
SUPERSEDED_AID = "2021/buji/困难职工帮扶台账.xlsx"
CORRECTED_AID = "2021/buji/困难职工帮扶台账_v2.xlsx"


def _ent(street, code, employees, union, council=None, key=None, **prov):
    return {
        "year": 2021,
        "street_code": street,
        "credit_code": code,
        "enterprise_name": f"企业{code}",
        "industry": "制造业",
        "employee_count": employees,
        "has_union": union,
        "has_worker_council": council,
        "is_key_enterprise": key,
        **prov,
    }


def build_raw(con) -> None:
    """The raw schema of tests/dbt/test_dbt_build.py, 2021 (plus a 2022 source file).

    Three streets (pinghu, buji, bantian), all eight kinds, a duplicate key across two
    period files where the later period wins, superseded files (bantian's enterprise
    register, buji's hardship aid), a member reported by two streets (P3: pinghu and buji),
    ratio indicators whose district value differs from the average of street rates, distinct
    counts that are not additive, exact yuan sums and a year present only in
    raw.source_files. Every kind row has _run_id 'test-run'.
    """
    create_raw_schema(con)
    y = 2021
    pinghu_q2 = _file("pinghu", "企业建会_Q2.xlsx", **_q(y, 2))
    buji_q2 = _file("buji", "buji_register_2021Q2.csv", **_q(y, 2))
    buji_q4 = _file("buji", "buji_register_2021Q4.csv", **_q(y, 4))
    insert_rows(
        con,
        "enterprise_register",
        [
            # pinghu: 100+ -> 1/2, 25-99 -> 1/1
            _ent("pinghu", "E1", 150, True, council=True, key=True, **pinghu_q2),
            _ent("pinghu", "E2", 120, False, council=False, **pinghu_q2),
            _ent("pinghu", "E3", 30, True, **pinghu_q2),
            _ent("pinghu", "E4", 10, True, **pinghu_q2),
            # buji: E5 appears in Q2 (no union) and Q4 (union): Q4 wins -> 100+ 2/2, 25-99 0/1
            _ent("buji", "E5", 200, False, _source_row=2, _source_sheet="Sheet1", **buji_q2),
            _ent("buji", "E5", 200, True, _source_row=2, _source_sheet=None, **buji_q4),
            _ent("buji", "E6", 50, False, _source_row=3, _source_sheet=None, **buji_q4),
            _ent("buji", "E7", 300, True, council=True, _source_row=4, **buji_q4),
            # bantian: the first file is superseded by a correction -> 100+ 1/1, 25-99 0/0
            _ent("bantian", "E8", 100, False, _source_file=SUPERSEDED_REGISTER,
                 _superseded_by=CORRECTED_REGISTER),
            _ent("bantian", "E9", 40, True, _source_file=SUPERSEDED_REGISTER,
                 _superseded_by=CORRECTED_REGISTER),
            _ent("bantian", "E8", 100, True, _source_file=CORRECTED_REGISTER),
        ],
    )  # fmt: skip

    def member(street, key, collected, verified, verified_on=None, **prov):
        return {
            "year": y,
            "street_code": street,
            "person_key": key,
            "gender": "女",
            "employer_credit_code": "E1",
            "collected_on": collected,
            "verified": verified,
            "verified_on": verified_on,
            **prov,
        }

    insert_rows(
        con,
        "member_roster",
        [
            # P1 in pinghu's Q1 (unverified) and Q4 (verified) files: Q4 wins
            member("pinghu", "P1", D(y, 3, 1), False, **_file("pinghu", "m_q1.csv", **_q(y, 1))),
            member("pinghu", "P1", D(y, 3, 1), True, D(y, 3, 5),
                   **_file("pinghu", "m_q4.csv", **_q(y, 4))),
            member("pinghu", "P2", D(y, 5, 1), False, **_file("pinghu", "m_q4.csv", **_q(y, 4))),
            # P3: verified in pinghu, but buji collected later -> buji, unverified
            member("pinghu", "P3", D(y, 2, 1), True, D(y, 2, 2),
                   **_file("pinghu", "m_q4.csv", **_q(y, 4))),
            member("buji", "P3", D(y, 9, 1), False),
            # P4: verified without a verification date -> not counted as verified
            member("buji", "P4", D(y, 4, 1), True, None),
        ],
    )  # fmt: skip

    def case(street, no, accepted, workers, amount, **prov):
        return {
            "year": y,
            "street_code": street,
            "case_no": no,
            "accepted_on": accepted,
            "enterprise_name": "企业E2",
            "credit_code": "E2",
            "workers_involved": workers,
            "dispute_type": "欠薪",
            "outcome": "调解成功",
            "recovered_amount": Decimal(amount),
            **prov,
        }

    cases_q1 = _file("pinghu", "纠纷Q1.xlsx", **_q(y, 1))
    cases_q2 = _file("pinghu", "纠纷Q2.xlsx", **_q(y, 2))
    insert_rows(
        con,
        "dispute_cases",
        [
            # cumulative quarterly files: C1 in Q1 and Q2, Q2 wins
            case("pinghu", "C1", D(y, 3, 1), 40, "1000.00", **cases_q1),
            case("pinghu", "C1", D(y, 3, 1), 40, "1234.56", **cases_q2),
            case("pinghu", "C2", D(y, 5, 1), 5, "100.01", **cases_q2),
            # same case number in another street is another case
            case("buji", "C1", D(y, 7, 1), 10, "0.10"),
            # (no case accepted outside the reporting year: ingestion quarantines such a row,
            # date_outside_year, and the dbt test on fct_dispute_cases blocks one that got
            # through; test_dbt_build.py shows it)
        ],
    )  # fmt: skip

    def request(street, no, status, level):
        return {
            "year": y,
            "street_code": street,
            "request_no": no,
            "credit_code": "E1",
            "raised_on": D(y, 6, 1),
            "category": "工资",
            "status": status,
            "resolved_level": level,
        }

    insert_rows(
        con,
        "worker_requests",
        [
            request("pinghu", "R1", "已办结", "企业内部"),
            request("pinghu", "R2", "已办结", "企业内部"),
            request("pinghu", "R3", "办理中", None),
            request("buji", "R1", "已办结", "企业内部"),
            request("buji", "R2", "已办结", "社区"),
        ],
    )

    def activity(street, no, category, participants, project=None, **prov):
        return {
            "year": y,
            "street_code": street,
            "activity_no": no,
            "title": f"活动{no}",
            "category": category,
            "project": project,
            "held_on": D(y, 3, 15),
            "participants": participants,
            **prov,
        }

    march = {"_period_label": "2021-03", "_period_end": D(y, 3, 31)}
    april = {"_period_label": "2021-04", "_period_end": D(y, 4, 30)}
    insert_rows(
        con,
        "worker_activities",
        [
            activity("pinghu", "A1", "技能培训", 30, "焊工"),
            activity("pinghu", "A2", "综合素质培训", 20, "礼仪"),
            activity("pinghu", "A3", "关爱慰问", 100),
            activity("pinghu", "A4", "党史学习教育", 50),
            activity("buji", "B1", "技能培训", 10, "焊工", _source_sheet="3月", **march),
            activity("buji", "B2", "心理健康", 20, _source_sheet="3月", **march),
            activity("buji", "B2", "心理健康", 25, _source_sheet="4月", **april),
            activity("buji", "B3", "技能培训", 5, "电工", _source_sheet="4月", **april),
        ],
    )
    insert_rows(
        con,
        "dream_program",
        [
            {"year": y, "street_code": s, "person_key": k, "employer_credit_code": e,
             "registered_on": D(y, 4, 1), "major": "行政管理"}
            for s, k, e in [("pinghu", "K1", "E1"), ("pinghu", "K2", "E2"), ("buji", "K3", "E1")]
        ],
    )  # fmt: skip

    def payment(street, no, amount, **prov):
        return {
            "year": y,
            "street_code": street,
            "payment_no": no,
            "paid_on": D(y, 8, 8),
            "aid_type": "生活救助",
            "person_key": f"H-{street}-{no}",
            "amount": Decimal(amount),
            **prov,
        }

    insert_rows(
        con,
        "hardship_assistance",
        [
            payment("pinghu", "H1", "1000.50"),
            payment("pinghu", "H2", "0.01"),
            payment("buji", "H9", "999.99",
                    _source_file=SUPERSEDED_AID, _superseded_by=CORRECTED_AID),
            payment("buji", "H1", "2000.00", _source_file=CORRECTED_AID),
        ],
    )  # fmt: skip
    insert_rows(
        con,
        "care_services",
        [
            {"year": y, "street_code": s, "service_no": no, "served_on": D(y, 10, 1),
             "service_type": t, "persons": n}
            for s, no, t, n in [
                ("pinghu", "S1", "工伤探视", 3),
                ("pinghu", "S2", "心理咨询疏导", 1),
                ("pinghu", "S3", "工伤法律咨询", 1),
                ("buji", "S1", "转介驻点律师", 2),
                ("buji", "S2", "工伤探视", 4),
            ]
        ],
    )  # fmt: skip

    files = [
        ("2021/pinghu/企业建会_Q2.xlsx", 2021, "pinghu", "enterprise_register", "loaded", None),
        (SUPERSEDED_REGISTER, 2021, "bantian", "enterprise_register", "superseded",
         CORRECTED_REGISTER),
        (CORRECTED_REGISTER, 2021, "bantian", "enterprise_register", "loaded", None),
        (SUPERSEDED_AID, 2021, "buji", "hardship_assistance", "superseded", CORRECTED_AID),
        (CORRECTED_AID, 2021, "buji", "hardship_assistance", "loaded", None),
        # a 2022 folder with only an unrecognised file: the year still gets all rows (zeros)
        ("2022/pinghu/说明.docx", 2022, "pinghu", None, "unrecognised", None),
    ]  # fmt: skip
    insert_rows(
        con,
        "source_files",
        [
            {"_source_file": f, "year": yr, "street_code": s, "report_kind": k, "status": st,
             "superseded_by": sup, "file_format": Path(f).suffix.lstrip(".")}
            for f, yr, s, k, st, sup in files
        ],
    )  # fmt: skip
    insert_rows(
        con,
        "quarantine",
        [
            {"year": y, "street_code": "pinghu", "report_kind": "member_roster",
             "_source_file": "2021/pinghu/m_q4.csv", "_source_row": 9,
             "reason_code": "id_check_digit", "reason": "identity number check digit invalid",
             "record_json": '{"公民身份号码": "4403**********123X"}'}
        ],
    )  # fmt: skip
    insert_rows(
        con,
        "control_totals",
        [
            {"year": y, "street_code": "pinghu", "report_kind": "dispute_cases",
             "_source_file": "2021/pinghu/纠纷Q2.xlsx", "_source_row": 10,
             "field": "recovered_amount", "stated_value": Decimal("1334.57"),
             "computed_value": Decimal("1334.57"), "covers_from_row": 3, "covers_to_row": 9}
        ],
    )  # fmt: skip


# --------------------------------------------------------------------------- dbt run


def run_dbt(
    tmp_path: Path, db_path: Path, *args: str, project_dir: Path = PROJECT_DIR
) -> subprocess.CompletedProcess:
    dbt = Path(sys.executable).with_name("dbt")
    env = {
        **os.environ,
        "GONGHUI_DUCKDB_PATH": str(db_path),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    cmd = [
        str(dbt), *args,
        "--project-dir", str(project_dir),
        "--profiles-dir", str(project_dir),
        "--target-path", str(tmp_path / "target"),
        "--log-path", str(tmp_path / "logs"),
    ]  # fmt: skip
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
