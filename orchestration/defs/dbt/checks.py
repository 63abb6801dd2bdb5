"""One Dagster asset check per dbt model: its dbt tests, aggregated.

dagster-dbt makes every dbt test an asset check of its own (186 on the demo project): three
events each in the run's event log (planned, evaluation, step output). gonghui declares one
check, :data:`DBT_TESTS_CHECK`, per tested model instead (:func:`model_check_spec`, made by
the translator of ``assets.py``), blocking when any of the model's tests is error-severity;
:func:`check_result` folds the ``LogTestResult``
events of ``dbt build`` into one ``AssetCheckResult`` per model: passed, failed and warned
counts in its metadata, and every failing test with its description
(:func:`dbt_test_description`), its failure count and — read from the failing rows dbt stored
(``store_failures_as: view``, ``dbt_project.yml``) — the street(s) and report kind(s) of those
rows, as the check's ``findings`` (the shape the summary and the decision record read).

The result fails with ERROR severity when an error-severity test failed (or erred): a blocking
failure, so publication does not run; with WARN severity when only warn-severity tests failed
(the summary lists them for review, not blocking).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import duckdb

#: the name of every model's aggregated dbt-tests check
DBT_TESTS_CHECK = "dbt_tests"
#: check spec metadata: the dbt unique ids of the tests the check aggregates
TEST_IDS_METADATA_KEY = "gonghui/dbt_tests"
#: columns of a failing row that say where it comes from, in the order they are shown
STREET_COLUMN = "street_code"
KIND_COLUMNS = ("report_kind", "kind")
#: count columns of the tests that store one row per failing key (dbt's ``unique``; the
#: project's ``unique_combination_of_columns``, ``not_null_columns``)
WEIGHT_COLUMNS = ("n_records", "n_rows", "null_rows")
#: failing-row groups listed per failing test (the rest are counted)
MAX_GROUPS = 20

#: ``ref('x')`` / ``{{ ref('x') }}`` / ``source('a', 'b')`` in a dbt test's arguments
REF_PATTERN = re.compile(r"(?:\{\{\s*)?(?:ref|source)\(([^)]*)\)(?:\s*\}\})?")


def _kwarg_text(value: Any) -> str:
    """A dbt test argument as a reader wants it: ``ref('dim_street')`` → ``dim_street``,
    long lists cut."""
    if isinstance(value, list):
        shown = ", ".join(_kwarg_text(v) for v in value[:8])
        return f"[{shown}{', …' if len(value) > 8 else ''}]"
    text = " ".join(str(value).split())
    return REF_PATTERN.sub(lambda m: m[1].replace("'", "").replace('"', ""), text)


def dbt_test_severity(test: Mapping[str, Any]) -> str:
    """``error`` or ``warn``: the dbt test's configured severity."""
    return str((test.get("config") or {}).get("severity") or "error").lower()


def dbt_test_description(test: Mapping[str, Any]) -> str:
    """What a dbt test checks: the test's own ``description`` when it has one, else its kind,
    model, column and arguments, e.g. ``dbt test accepted_values on fct_members.gender:
    values=[男, 女] (severity error)``."""
    if test.get("description"):
        return " ".join(str(test["description"]).split())
    severity = dbt_test_severity(test)
    metadata = test.get("test_metadata") or {}
    if not metadata:  # a singular test: its SQL file says what it asserts
        path = test.get("original_file_path") or test.get("name")
        return f"dbt singular test {path} (severity {severity})"
    model = str(test.get("attached_node") or "").rsplit(".", 1)[-1]
    column = test.get("column_name")
    target = f"{model}.{column}" if model and column else model or column or ""
    kwargs = {
        k: v for k, v in (metadata.get("kwargs") or {}).items() if k not in ("model", "column_name")
    }
    args = "; ".join(f"{k}={_kwarg_text(v)}" for k, v in kwargs.items())
    return (
        f"dbt test {metadata.get('name')} on {target}"
        + (f": {args}" if args else "")
        + f" (severity {severity})"
    )


def model_check_spec(
    asset_key: dg.AssetKey, tests: list[tuple[Mapping[str, Any], dg.AssetCheckSpec]]
) -> dg.AssetCheckSpec:
    """The one check of a model from its tests (their manifest nodes and dagster-dbt's
    per-test specs): blocking when any test is error-severity; its description lists them."""
    errors = [t for t, _ in tests if dbt_test_severity(t) == "error"]
    model = asset_key.path[-1]
    head = (
        f"dbt tests of {model}: {len(tests)} ({len(errors)} error-severity, "
        f"{len(tests) - len(errors)} warn)"
        + (" — blocking: a failing error-severity test stops publication" if errors else "")
    )
    deps = {d.asset_key for _, s in tests for d in s.additional_deps} - {asset_key}
    return dg.AssetCheckSpec(
        name=DBT_TESTS_CHECK,
        asset=asset_key,
        description=head + "\n" + "\n".join(f"- {dbt_test_description(t)}" for t, _ in tests),
        additional_deps=sorted(deps, key=lambda k: k.to_user_string()),
        blocking=bool(errors),
        metadata={TEST_IDS_METADATA_KEY: dg.MetadataValue.json([t["unique_id"] for t, _ in tests])},
    )


def tests_by_check(check_specs: Iterable[dg.AssetCheckSpec]) -> dict[str, dg.AssetCheckKey]:
    """dbt test unique id → the model check that aggregates it."""
    index = {}
    for spec in check_specs:
        ids = (spec.metadata or {}).get(TEST_IDS_METADATA_KEY)
        for test_id in getattr(ids, "value", ids) or []:
            index[str(test_id)] = spec.key
    return index


@dataclass
class DbtTestOutcome:
    """One dbt test's result in this run."""

    unique_id: str
    name: str
    status: str  # pass | fail | warn | error
    severity: str
    description: str
    failures: int | None
    message: str = ""
    #: the stored failing rows (``schema.table``), when dbt stored them
    relation: str | None = None
    #: the tested model's relation (failing keys are looked up there for their street)
    model_relation: str | None = None
    #: failing rows per (street, kind), read from ``relation``
    groups: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status in ("fail", "warn", "error")

    @property
    def blocks(self) -> bool:
        return self.status == "error" or (self.status == "fail" and self.severity == "error")


def dbt_test_outcome(event_data: Mapping[str, Any], manifest: Mapping[str, Any]) -> DbtTestOutcome:
    """A ``LogTestResult`` event's data → :class:`DbtTestOutcome`."""
    info = event_data.get("node_info") or {}
    unique_id = info["unique_id"]
    node = manifest["nodes"].get(unique_id) or {}
    status = str(info.get("node_status") or event_data.get("status") or "").lower()
    relation = node.get("relation_name") or (info.get("node_relation") or {}).get("relation_name")
    failures = event_data.get("num_failures")
    parents = [p for p in (node.get("depends_on") or {}).get("nodes", []) if p.startswith("model.")]
    model_id = node.get("attached_node") or (parents[0] if len(parents) == 1 else None)
    model = manifest["nodes"].get(model_id) or {} if model_id else {}
    return DbtTestOutcome(
        unique_id=unique_id,
        name=node.get("name") or unique_id.split(".")[-2],
        status=status,
        severity=dbt_test_severity(node),
        description=dbt_test_description(node),
        failures=None if failures is None else int(failures),
        message=" ".join(str(event_data.get("msg") or "").split())[:300],
        relation=relation if status != "pass" else None,
        model_relation=model.get("relation_name"),
    )


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    try:
        return [c[0] for c in con.execute(f"select * from {relation} limit 0").description]
    except duckdb.Error:
        return []


def read_failing_rows(con: duckdb.DuckDBPyConnection, outcome: DbtTestOutcome) -> None:
    """Fill ``outcome.groups``: the failing rows of the test counted per street and report
    kind (the columns :data:`STREET_COLUMN` / :data:`KIND_COLUMNS` they have).

    A test that stores whole rows (``not_null``, ``expression_is_true``) is grouped as it
    stored them; one that stores keys (``unique_combination_of_columns``: the duplicated key
    and its count) is looked up in the tested model, whose rows with those keys are counted.
    Nothing when dbt stored no rows or neither has a street or kind column."""
    if not outcome.relation:
        return
    columns = _columns(con, outcome.relation)
    source, join = outcome.relation, ""
    if not {STREET_COLUMN, *KIND_COLUMNS} & set(columns) and outcome.model_relation:
        keys = [c for c in columns if c not in WEIGHT_COLUMNS]
        model_columns = _columns(con, outcome.model_relation)
        if not keys or not set(keys) <= set(model_columns):
            return
        source = outcome.model_relation
        using = ", ".join(f'"{k}"' for k in keys)
        join = f" semi join {outcome.relation} as f using ({using})"
        columns = model_columns
    by = [c for c in (STREET_COLUMN, *KIND_COLUMNS) if c in columns][:2]
    if not by:
        return
    weight = next((c for c in WEIGHT_COLUMNS if c in columns), None) if not join else None
    count = f'sum("{weight}")' if weight else "count(*)"
    keys = ", ".join(f'"{c}"' for c in by)
    try:
        rows = con.execute(
            f"select {keys}, {count} as n from {source}{join} group by all order by n desc, {keys}"
        ).fetchall()
    except duckdb.Error:
        return
    for row in rows:
        group = dict(zip(by, row[:-1], strict=True))
        outcome.groups.append(
            {
                "street": group.get(STREET_COLUMN),
                "kind": next((group[k] for k in KIND_COLUMNS if k in group), None),
                "rows": int(row[-1]),
            }
        )


def _street_text(code: str | None, names: Mapping[str, str]) -> str | None:
    if code is None:
        return None
    name = names.get(str(code))
    return f"{code} {name}" if name and name != code else str(code)


def findings(
    outcomes: Iterable[DbtTestOutcome], street_names: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The check's findings, one per failing test × (street, kind) of its failing rows (one per
    failing test when its rows name neither): street, kind, rule (the test and what it checks),
    observed (failing rows), severity (``block`` / ``warn``), test."""
    out = []
    for o in outcomes:
        if not o.failed:
            continue
        severity = "block" if o.blocks else "warn"
        rule = f"{o.name}: {o.description}"
        base = {"rule": rule, "severity": severity, "test": o.name}
        groups = o.groups[:MAX_GROUPS]
        if not groups:
            observed = (
                f"{o.failures} failing row(s)"
                if o.status != "error" and o.failures is not None
                else f"error: {o.message}"
            )
            out.append({**base, "street": None, "kind": None, "observed": observed})
            continue
        for g in groups:
            out.append(
                {
                    **base,
                    "street": _street_text(g["street"], street_names),
                    "kind": g["kind"],
                    "observed": f"{g['rows']} failing row(s)",
                }
            )
        if len(o.groups) > MAX_GROUPS:
            rest = sum(g["rows"] for g in o.groups[MAX_GROUPS:])
            out.append(
                {
                    **base,
                    "street": None,
                    "kind": None,
                    "observed": f"{rest} more failing row(s) in {len(o.groups) - MAX_GROUPS} "
                    "more street × kind group(s)",
                }
            )
    return out


def _streets_of(outcome: DbtTestOutcome) -> list[str]:
    return list(dict.fromkeys(str(g["street"]) for g in outcome.groups if g["street"]))[:5]


def check_result(
    key: dg.AssetCheckKey,
    outcomes: list[DbtTestOutcome],
    street_names: Mapping[str, str] | None = None,
    *,
    blocking: bool = True,
) -> dg.AssetCheckResult:
    """One model's dbt tests of this run → its :data:`DBT_TESTS_CHECK` result (``blocking``:
    the check's spec is, i.e. the model has an error-severity test)."""
    failed = [o for o in outcomes if o.failed]
    failed_blocking = [o for o in failed if o.blocks]
    listed = findings(failed, street_names or {})
    metadata: dict[str, Any] = {
        "tests": len(outcomes),
        "passed": sum(o.status == "pass" for o in outcomes),
        "failed": sum(o.status in ("fail", "error") for o in outcomes),
        "warned": sum(o.status == "warn" for o in outcomes),
        # block / warn: what the summary and the decision record judge the failure by
        "severity": "block" if (failed_blocking or (blocking and not failed)) else "warn",
    }
    if failed:
        metadata["failing_tests"] = dg.MetadataValue.json(
            [
                {
                    "test": o.name,
                    "description": o.description,
                    "status": o.status,
                    "severity": o.severity,
                    "failures": o.failures,
                    "stored_failures": o.relation,
                    "by_street_kind": o.groups,
                    **({"message": o.message} if o.status == "error" else {}),
                }
                for o in failed
            ]
        )
        metadata["findings"] = dg.MetadataValue.json(listed)
    description = (
        f"{len(outcomes)} dbt test(s) passed"
        if not failed
        else f"{len(failed)} of {len(outcomes)} dbt test(s) failed: "
        + "; ".join(
            f"{o.name} ({o.failures if o.failures is not None else o.status} failing"
            f"{'' if o.blocks else ', warn'}"
            + (f"; streets {', '.join(streets)}" if (streets := _streets_of(o)) else "")
            + ")"
            for o in failed
        )
    )
    return dg.AssetCheckResult(
        asset_key=key.asset_key,
        check_name=key.name,
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR if failed_blocking else dg.AssetCheckSeverity.WARN,
        metadata=metadata,
        description=description,
    )
