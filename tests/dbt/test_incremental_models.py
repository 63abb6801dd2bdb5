"""The models incremental by street (macros/street_batch.sql) equal a full refresh.

Build once on ``raw_fixture.build_raw`` plus two streets (longgang: every member row in a
superseded file, so no row in int_members_deduplicated; pingdi: 2021 and 2022, no excluded
row) and a member of bantian. Then change the raw schema the way ingestion does, in one run
``run-2``:

* buji re-ingested: every row rewritten with the new run id, one member's values changed,
  a member and an enterprise removed, a duplicated member, a superseded member file, a 2022
  member (a year added), a changed dispute amount;
* bantian removed (all its files gone: its member and enterprise rows); nanwan added (a
  superseded file, and a member also reported by pinghu, collected later: pinghu's record
  now counts for nanwan);
* pingdi's 2022 re-ingested with no file left (its 2021 rows keep the old run id).

The incremental builds get the re-ingested streets as Dagster passes them, ``--vars
'{"streets": [...]}'`` (bantian's rows in int_members_ranked and bantian's and pingdi's
excluded rows have an EMPTY new batch, which delete+insert alone would miss). A failed
incremental run must change nothing; the next
``dbt build`` (incremental) must give exactly what a ``--full-refresh`` build gives on the same
raw data, in every table of the intermediate, marts and audit schemas, while the streets that
did not change are not recomputed: their member rows carry a probe value written into raw
without a new run id (which ingestion never does), and the incremental build must not pick it
up. A build with an empty street list recomputes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from raw_fixture import RAW_TABLES, build_raw, create_raw_schema, insert_rows, run_dbt

pytestmark = pytest.mark.xdist_group("dbt")

D = dt.date
Y = 2021
RUN_2 = "run-2"
PROBE_SHA = "probe"  # _file_sha256 of the unchanged streets' member rows during the build
DEFAULT_SHA = "0" * 64  # insert_rows' default
UNCHANGED = ("pinghu", "longgang")
#: the streets ingestion re-read in run-2 (what Dagster passes as var streets)
CHANGED = ("buji", "bantian", "nanwan", "pingdi")
#: the tables incremental by street; int_members_deduplicated is a view of int_members_ranked
INCREMENTAL = ("int_members_ranked", "int_excluded_rows_deduplicated")
COMPARED_SCHEMAS = ("intermediate", "marts", "audit")
NO_TESTS = ("--exclude-resource-type", "test")
DBS = ("inc", "full_refresh")  # the two builds, as attached for the comparison


def member(street, key, collected, verified=False, verified_on=None, year=Y, **prov) -> dict:
    return {
        "year": year,
        "street_code": street,
        "person_key": key,
        "gender": "男",
        "employer_credit_code": "E1",
        "collected_on": collected,
        "verified": verified,
        "verified_on": verified_on,
        **prov,
    }


def enterprise(street, code, employees, union=True, **prov) -> dict:
    return {
        "year": Y,
        "street_code": street,
        "credit_code": code,
        "enterprise_name": f"企业{code}",
        "employee_count": employees,
        "has_union": union,
        **prov,
    }


def period(year: int, q: int) -> dict:
    return {"_period_label": f"{year}-Q{q}", "_period_end": D(year, 3 * q, 28)}


def add_streets(con) -> None:
    """Phase 1 on top of build_raw: longgang (all superseded), pingdi (two years, clean) and
    a member of bantian (whose files are all removed in phase 2)."""
    old, new = "2021/longgang/会员_v1.csv", "2021/longgang/会员_v2.csv"
    insert_rows(
        con,
        "member_roster",
        [
            member("longgang", "L1", D(Y, 5, 1), _source_file=old, _superseded_by=new),
            member("longgang", "L1", D(Y, 6, 1), _source_file=old, _superseded_by=new),
            member("longgang", "L2", D(Y, 5, 1), _source_file=old, _superseded_by=new),
            member("pingdi", "G1", D(Y, 5, 1)),
            member("pingdi", "G2", D(Y, 6, 1), True, D(Y, 6, 2)),
            member("pingdi", "G1", D(2022, 5, 1), year=2022),
            member("bantian", "B1", D(Y, 5, 1)),
        ],
    )
    insert_rows(con, "enterprise_register", [enterprise("pingdi", "E30", 120)])


def reingest(con, street: str, run_id: str) -> None:
    """What ingestion's write_raw does to a re-read street: delete every raw row of the
    street and insert them again, stamped with the new run id."""
    for table, columns in RAW_TABLES.items():
        names = {c for c, _ in columns}
        restamp = ", ".join(
            f"{expr} as {col}"
            for col, expr in (("_run_id", "$run_id"), ("_ingested_at", "now()"))
            if col in names
        )
        con.execute(f"create temp table kept as from raw.{table} where street_code = ?", [street])
        con.execute(f"delete from raw.{table} where street_code = ?", [street])
        con.execute(
            f"insert into raw.{table} select * replace ({restamp}) from kept", {"run_id": run_id}
        )
        con.execute("drop table kept")


def remove(con, street: str, year: int | None = None) -> None:
    """A street (or one year of it) whose files were all removed."""
    where = "street_code = ?" + (f" and year = {int(year)}" if year else "")
    for table in RAW_TABLES:
        con.execute(f"delete from raw.{table} where {where}", [street])


def change_raw(con) -> None:
    """Phase 2: one ingestion run ``run-2`` (see the module docstring)."""
    run = {"_run_id": RUN_2}
    # buji re-read: every row gets the new run id, then its new content
    reingest(con, "buji", RUN_2)
    con.execute(
        "update raw.member_roster set collected_on = ?, verified = true, verified_on = ?"
        " where street_code = 'buji' and person_key = 'P3'",
        [D(Y, 12, 1), D(Y, 12, 2)],
    )
    con.execute("delete from raw.member_roster where street_code = 'buji' and person_key = 'P4'")
    con.execute(
        "delete from raw.enterprise_register where street_code = 'buji' and credit_code = 'E6'"
    )
    con.execute("update raw.dispute_cases set recovered_amount = 99.99 where street_code = 'buji'")
    old = {"_source_file": "2021/buji/会员_旧.csv", "_superseded_by": "2021/buji/会员_Q4.csv"}
    q2 = {"_source_file": "2021/buji/会员_Q2.csv", **period(Y, 2), **run}
    q4 = {"_source_file": "2021/buji/会员_Q4.csv", **period(Y, 4), **run}
    insert_rows(
        con,
        "member_roster",
        [
            member("buji", "P5", D(Y, 4, 1), **q2),
            member("buji", "P5", D(Y, 4, 1), True, D(Y, 11, 1), **q4),  # wins over Q2
            member("buji", "P6", D(Y, 4, 1), **old, **run),
            member("buji", "P3", D(2022, 2, 1), year=2022, **run),
        ],
    )
    # bantian: every file removed
    remove(con, "bantian")
    # nanwan: a new street; its P1 was collected after pinghu's
    v1, v2 = "2021/nanwan/会员_v1.csv", "2021/nanwan/会员_v2.csv"
    insert_rows(
        con,
        "member_roster",
        [
            member("nanwan", "P1", D(Y, 10, 1), _source_file=v1, _superseded_by=v2, **run),
            member("nanwan", "N1", D(Y, 10, 1), _source_file=v1, _superseded_by=v2, **run),
            member("nanwan", "P1", D(Y, 11, 1), True, D(Y, 11, 2), _source_file=v2, **run),
        ],
    )
    insert_rows(con, "enterprise_register", [enterprise("nanwan", "E40", 100, **run)])
    # pingdi: its 2022 files removed, 2021 untouched (same run id as before)
    remove(con, "pingdi", year=2022)


def set_probe(con, sha: str) -> None:
    con.execute(
        "update raw.member_roster set _file_sha256 = ? where list_contains(?, street_code)",
        [sha, list(UNCHANGED)],
    )


def rows(con, table: str, exclude: str = "") -> list[tuple]:
    columns = f"* exclude ({exclude})" if exclude else "*"
    return sorted(con.execute(f"select {columns} from {table}").fetchall(), key=repr)


def streets_vars(streets) -> tuple[str, str]:
    return ("--vars", json.dumps({"streets": list(streets)}))


def snapshot(con, exclude: str = "") -> dict[str, list[tuple]]:
    """The rows of the incremental models (less column ``exclude``)."""
    return {f"intermediate.{m}": rows(con, f"intermediate.{m}", exclude) for m in INCREMENTAL}


def assert_ok(result) -> None:
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]


def assert_equal_to_full_refresh(con) -> None:
    """Every table of the compared schemas: same rows in both builds (EXCEPT ALL both ways)."""

    def tables(db):
        return con.execute(
            "select schema_name || '.' || table_name from duckdb_tables()"
            " where database_name = ? and list_contains(?, schema_name) order by 1",
            [db, list(COMPARED_SCHEMAS)],
        ).fetchall()

    def count(sql: str) -> int:
        return con.execute(sql).fetchone()[0]

    names = [t for (t,) in tables("inc")]
    assert names == [t for (t,) in tables("full_refresh")]
    assert {f"intermediate.{m}" for m in INCREMENTAL} <= set(names)
    differing = {}
    for name in names:
        n_inc, n_full = (count(f"select count(*) from {db}.{name}") for db in DBS)
        only_inc, only_full = (
            count(f"select count(*) from (from {a}.{name} except all from {b}.{name})")
            for a, b in (DBS, DBS[::-1])
        )
        if n_inc != n_full or only_inc or only_full:
            differing[name] = {"rows": (n_inc, n_full), "only": (only_inc, only_full)}
    assert differing == {}


def assert_unchanged_streets_kept(con) -> None:
    """The unchanged streets' rows were kept from the first build: a recomputation would
    have read the probe."""
    for model in INCREMENTAL:
        shas = dict(
            con.execute(
                f"select street_code, list(distinct _file_sha256) from inc.intermediate.{model}"
                " group by street_code"
            ).fetchall()
        )
        assert shas["pinghu"] == [DEFAULT_SHA], model
        assert PROBE_SHA not in {sha for values in shas.values() for sha in values}, model
    excluded_streets = {s for (s,) in con.execute(
        "select distinct street_code from inc.intermediate.int_excluded_rows_deduplicated"
    ).fetchall()}  # fmt: skip
    assert "longgang" in excluded_streets


def assert_scenario(con) -> None:
    """The raw changes did what the module docstring says."""
    members = dict(
        con.execute(
            "select street_code || '/' || year, count(*)"
            " from inc.intermediate.int_members_deduplicated group by all"
        ).fetchall()
    )
    assert "longgang/2021" not in members  # all its member rows superseded
    assert "bantian/2021" not in members
    assert members["buji/2022"] == 1 and members["nanwan/2021"] == 1
    assert "pingdi/2022" not in members and members["pingdi/2021"] == 2
    attributed = con.execute(
        "select street_code, n_streets_reported from inc.marts.fct_members"
        " where person_key = 'P1' and year = 2021"
    ).fetchone()
    assert attributed == ("nanwan", 2)
    excluded = set(
        con.execute(
            "select street_code, natural_key, exclusion_reason"
            " from inc.intermediate.int_excluded_rows_unioned where report_kind = 'member_roster'"
        ).fetchall()
    )
    assert {
        ("buji", "P5", "duplicate_key"),
        ("buji", "P6", "superseded_file"),
        ("nanwan", "N1", "superseded_file"),
        ("pinghu", "P1", "attributed_to_other_street"),
    } <= excluded


def test_an_incremental_build_equals_a_full_refresh(tmp_path):
    # one test, so that the builds run once whatever the worker distribution
    inc_db, full_db = tmp_path / "incremental.duckdb", tmp_path / "full_refresh.duckdb"
    with duckdb.connect(str(inc_db)) as con:
        build_raw(con)
        add_streets(con)
    assert_ok(run_dbt(tmp_path, inc_db, "build", *NO_TESTS))

    with duckdb.connect(str(inc_db)) as con:
        change_raw(con)
        set_probe(con, PROBE_SHA)
        before = snapshot(con)
        built_by = con.execute("select distinct _run_id from intermediate.int_members_ranked")
        assert built_by.fetchall() == [("test-run",)]  # the first build's rows
        # a failed run: a column the models do not have stops them (on_schema_change='fail')
        # after their pre_hooks deleted the changed streets' rows; nothing may change
        for model in INCREMENTAL:
            con.execute(f"alter table intermediate.{model} add column extra integer")
    failed = run_dbt(tmp_path, inc_db, "run", "--select", *INCREMENTAL, *streets_vars(CHANGED))
    assert failed.returncode != 0
    assert "schemas on this incremental model are out of sync" in failed.stdout
    with duckdb.connect(str(inc_db)) as con:
        assert snapshot(con, exclude="extra") == before
        for model in INCREMENTAL:
            con.execute(f"alter table intermediate.{model} drop column extra")
    # no street re-ingested (e.g. only the quality gate changed): nothing recomputed
    assert_ok(run_dbt(tmp_path, inc_db, "run", "--select", *INCREMENTAL, *streets_vars([])))
    with duckdb.connect(str(inc_db)) as con:
        assert snapshot(con) == before

    incremental = run_dbt(tmp_path, inc_db, "build", *streets_vars(CHANGED))
    assert_ok(incremental)
    assert "WARN=0" in incremental.stdout

    # the reference: the same raw data (probe undone), built with --full-refresh
    with duckdb.connect(str(inc_db)) as con:
        set_probe(con, DEFAULT_SHA)
    with duckdb.connect(str(full_db)) as con:
        create_raw_schema(con)
        con.execute(f"attach '{inc_db}' as inc (read_only)")
        for table in RAW_TABLES:
            con.execute(f"insert into raw.{table} select * from inc.raw.{table}")
    assert_ok(run_dbt(tmp_path, full_db, "build", "--full-refresh", *NO_TESTS))

    with duckdb.connect() as con:
        con.execute(f"attach '{inc_db}' as inc (read_only)")
        con.execute(f"attach '{full_db}' as full_refresh (read_only)")
        assert_equal_to_full_refresh(con)
        assert_unchanged_streets_kept(con)
        assert_scenario(con)
