"""A model's dbt tests folded into its one Dagster check: counts, failing tests, streets."""

from __future__ import annotations

import dagster as dg
import duckdb

from orchestration.defs.dbt.checks import (
    DBT_TESTS_CHECK,
    DbtTestOutcome,
    check_result,
    dbt_test_outcome,
    read_failing_rows,
)
from orchestration.lib.summary import RunSummary, check_outcomes

KEY = dg.AssetCheckKey(dg.AssetKey(["marts", "fct_members"]), DBT_TESTS_CHECK)


def outcome(name: str, status: str, severity: str = "error", failures: int = 0) -> DbtTestOutcome:
    return DbtTestOutcome(
        unique_id=f"test.gonghui.{name}.abc",
        name=name,
        status=status,
        severity=severity,
        description=f"dbt test {name} (severity {severity})",
        failures=failures,
    )


def test_every_test_passing_passes_with_the_counts():
    result = check_result(KEY, [outcome("a", "pass"), outcome("b", "pass", "warn")])
    assert result.passed
    assert result.metadata["tests"].value == 2 and result.metadata["passed"].value == 2
    assert "findings" not in result.metadata


def test_a_failing_error_test_fails_the_check_with_error_severity_and_lists_it():
    tests = [
        outcome("a", "pass"),
        outcome("uniq", "fail", failures=3),
        outcome("w", "warn", "warn"),
    ]
    result = check_result(KEY, tests)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    meta = {k: getattr(v, "value", v) for k, v in result.metadata.items()}
    assert (meta["passed"], meta["failed"], meta["warned"]) == (1, 1, 1)
    assert meta["severity"] == "block"
    failing = {t["test"]: t for t in meta["failing_tests"]}
    assert failing["uniq"]["failures"] == 3
    assert failing["uniq"]["description"] == "dbt test uniq (severity error)"
    assert {(f["test"], f["severity"]) for f in meta["findings"]} == {
        ("uniq", "block"),
        ("w", "warn"),
    }


def test_only_warn_tests_failing_is_a_warning_not_a_block():
    result = check_result(KEY, [outcome("a", "pass"), outcome("w", "warn", "warn", 2)])
    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["severity"].value == "warn"
    [checked] = check_outcomes([_evaluation(result, blocking=True)])
    assert not checked.blocks  # the spec blocks, this failure does not


def test_a_failing_test_names_the_streets_of_its_failing_rows_in_the_summary():
    con = duckdb.connect()
    con.execute(
        "create table fct_members as select * from (values "
        "(2021, 'p1', 'buji'), (2021, 'p1', 'buji'), (2021, 'p2', 'pinghu'), "
        "(2021, 'p3', 'nanwan'), (2021, 'p3', 'nanwan'), (2021, 'p3', 'nanwan')) "
        "t(year, person_key, street_code)"
    )
    # what unique_combination_of_columns stores: the duplicated keys and their counts
    con.execute(
        "create view failures as select year, person_key, count(*) as n_rows from fct_members "
        "group by all having count(*) > 1"
    )
    uniq = outcome("unique_combination_of_columns_fct_members_year__person_key", "fail", failures=2)
    uniq.relation, uniq.model_relation = "failures", "fct_members"
    read_failing_rows(con, uniq)
    assert uniq.groups == [
        {"street": "nanwan", "kind": None, "rows": 3},
        {"street": "buji", "kind": None, "rows": 2},
    ]
    result = check_result(KEY, [uniq], {"nanwan": "南湾街道", "buji": "布吉街道"})
    assert result.description.endswith("(2 failing; streets nanwan, buji)")  # alerts show it
    summary = RunSummary("r", success=False, published=False, elapsed=1.0)
    summary.checks = check_outcomes([_evaluation(result, blocking=True)])
    text = summary.render()
    assert "checks: 1 run (1 dbt tests in 1 of them), 0 passed, 1 failed (1 blocking)" in text
    assert "FAILED [block] marts/fct_members · dbt_tests — 2 blocking finding(s):" in text
    assert (
        "nanwan 南湾街道 · unique_combination_of_columns_fct_members_year__person_key: "
        "dbt test unique_combination_of_columns_fct_members_year__person_key (severity error) · "
        "observed 3 failing row(s)"
    ) in text
    assert "buji 布吉街道 · " in text


def test_rows_stored_whole_are_grouped_by_their_street_and_kind():
    con = duckdb.connect()
    con.execute(
        "create view failures as select * from (values ('buji', 'member_roster', null), "
        "('buji', 'member_roster', null), ('pinghu', 'dispute_cases', null)) "
        "t(street_code, report_kind, amount)"
    )
    failing = outcome("not_null_amount", "fail", failures=3)
    failing.relation = "failures"
    read_failing_rows(con, failing)
    assert failing.groups == [
        {"street": "buji", "kind": "member_roster", "rows": 2},
        {"street": "pinghu", "kind": "dispute_cases", "rows": 1},
    ]


def test_a_dbt_test_result_event_reads_status_severity_and_relation():
    manifest = {
        "nodes": {
            "test.gonghui.t.1": {
                "name": "t",
                "config": {"severity": "warn"},
                "relation_name": '"db"."test_failures"."t"',
                "attached_node": "model.gonghui.m",
                "depends_on": {"nodes": ["model.gonghui.m"]},
            },
            "model.gonghui.m": {"relation_name": '"db"."marts"."m"'},
        }
    }
    data = {
        "node_info": {"unique_id": "test.gonghui.t.1", "node_status": "warn"},
        "num_failures": 4,
    }
    o = dbt_test_outcome(data, manifest)
    assert (o.status, o.severity, o.failures, o.failed, o.blocks) == (
        "warn",
        "warn",
        4,
        True,
        False,
    )
    assert o.relation == '"db"."test_failures"."t"' and o.model_relation == '"db"."marts"."m"'


def _evaluation(result: dg.AssetCheckResult, *, blocking: bool) -> dg.AssetCheckEvaluation:
    return dg.AssetCheckEvaluation(
        asset_key=result.asset_key,
        check_name=result.check_name,
        passed=result.passed,
        metadata=result.metadata,
        severity=result.severity,
        description=result.description,
        blocking=blocking,
    )
