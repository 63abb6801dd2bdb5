"""The quality gate as Dagster asset checks: one check per Great Expectations suite.

Each suite of ``expectations/gate.yml`` validates one asset (the ``landing`` audit tables for
the source-level findings; the mart for the year-on-year row counts of its tables). The file
is read when the definitions load: its ``severity: block`` makes a check ``blocking=True``, so a
failure stops ``published_mart`` (and, for the source-level checks, the dbt build) in the same
run. Two multi-asset-check ops run them — one after ingestion, one after ``dbt build`` — so
Great Expectations loads once per op; it is imported inside :func:`run_suites` only.
"""

import dagster as dg

from orchestration.defs.ingest.resources import WarehouseResource
from orchestration.lib.gate import (
    GateConfig,
    GateConfigError,
    SuiteConfig,
    SuiteOutcome,
    load_gate_config,
)

# source-level findings (on the landing audit tables)
COMPLETENESS_CHECK = "gate_completeness"
CONTROL_TOTALS_CHECK = "gate_control_totals"
QUARANTINE_RATE_CHECK = "gate_quarantine_rate"
# the conformed tables' rows per year against the previous year (the mart's row- and
# column-level checks are dbt tests: see the mapping at the top of expectations/gate.yml)
YEAR_ON_YEAR_CHECK = "gate_year_on_year"

LANDING_CHECKS = (COMPLETENESS_CHECK, CONTROL_TOTALS_CHECK, QUARANTINE_RATE_CHECK)
MART_CHECKS = (YEAR_ON_YEAR_CHECK,)
QUALITY_GROUP = "quality"
SAMPLE_ROWS = 20  # failing rows shown as a table in the Dagster UI
MAX_FINDINGS = 500  # findings kept in the metadata (run summary, decision, manifest)


def _md_table(header: list[str], rows: list[list[object]]) -> str:
    def cell(v: object) -> str:
        return str("" if v is None else v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def holds_whole_run(outcome: SuiteOutcome, years: list[int]) -> bool:
    """Whether a failed blocking suite stops the whole run (Dagster ERROR, nothing published)
    rather than only the years its findings name (WARN in Dagster; publication holds those
    years back and publishes the others): it names no year, or every year of the run."""
    if not outcome.blocks:
        return False
    return outcome.blocks_all_years or not set(years) - set(outcome.blocked_years)


def check_result(
    suite_asset: dg.AssetKey, outcome: SuiteOutcome, years: list[int] | None = None
) -> dg.AssetCheckResult:
    """The Dagster view of one suite's outcome: failing expectations and a sample of rows.

    A blocking failure confined to some years (``blocked_years``) is reported with WARN
    severity, so it does not stop ``published_mart``: publication reads ``blocked_years`` and
    keeps those years' previous rows (see :func:`holds_whole_run`)."""
    findings = outcome.findings[:MAX_FINDINGS]
    metadata: dict[str, object] = {
        "severity": outcome.severity,
        "rows_validated": outcome.rows_validated,
        "failed_expectations": dg.MetadataValue.md(
            _md_table(
                ["rule", "level", "unexpected", "expectation", "column"],
                [
                    [f["rule"], f["level"], f["unexpected_count"], f["expectation"], f["column"]]
                    for f in outcome.failed_expectations
                ],
            )
            if outcome.failed_expectations
            else "none"
        ),
        "failing_rows": dg.MetadataValue.md(
            _md_table(
                ["street", "kind", "rule", "observed", "level"],
                [
                    [f.street, f.kind, f.rule, f.observed, f.severity]
                    for f in findings[:SAMPLE_ROWS]
                ],
            )
            if findings
            else "none"
        ),
        "findings": dg.MetadataValue.json(
            [
                {
                    "street": f.street,
                    "kind": f.kind,
                    "rule": f.rule,
                    "observed": f.observed,
                    "severity": f.severity,
                    "column": f.column,
                    "value": f.value,
                    "year": f.year,
                }
                for f in findings
            ]
        ),
        "seconds": outcome.seconds,
        "blocked_years": dg.MetadataValue.json(outcome.blocked_years),
        "blocks_all_years": outcome.blocks_all_years,
    }
    if outcome.data_docs:
        metadata["data_docs"] = dg.MetadataValue.url(outcome.data_docs)
    return dg.AssetCheckResult(
        asset_key=suite_asset,
        check_name=outcome.name,
        passed=outcome.passed,
        severity=(
            dg.AssetCheckSeverity.ERROR
            if outcome.severity == "block"
            and (outcome.passed or years is None or holds_whole_run(outcome, years))
            else dg.AssetCheckSeverity.WARN
        ),
        description=outcome.summary(),
        metadata=metadata,
    )


def _gate_op(name: str, suites: list[str], config: GateConfig) -> dg.AssetChecksDefinition:
    def spec(suite: SuiteConfig) -> dg.AssetCheckSpec:
        about = f": {suite.description}" if suite.description else ""
        return dg.AssetCheckSpec(
            name=suite.name,
            asset=dg.AssetKey(list(suite.asset)),
            blocking=suite.blocking,
            description=f"[{suite.severity}] Great Expectations suite {suite.name}{about}",
            metadata={"severity": suite.severity, "suite": suite.name},
        )

    specs = {name: spec(config.suites[name]) for name in suites}

    @dg.multi_asset_check(specs=list(specs.values()), name=name, can_subset=True)
    def _gate(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
        from orchestration.lib.gate import run_suites
        from orchestration.lib.mapping import load_mapping
        from orchestration.lib.publish import write_decision

        selected = [s for s in suites if specs[s].key in context.selected_asset_check_keys]
        settings = warehouse.settings()
        years, open_years = _years(warehouse, settings)
        outcomes = run_suites(
            selected,
            config,
            working_db=settings.duckdb_path,
            published_mart=settings.published_mart,
            warehouse_dir=settings.warehouse_dir,
            mapping=load_mapping(settings.mapping_path),
            open_years=open_years,
        )
        blocking = [o for o in outcomes.values() if holds_whole_run(o, years)]
        if blocking:
            # the run will not reach published_mart: record why now (gonghui run completes it)
            path = write_decision(
                settings.published_dir,
                context.run.run_id,
                published=False,
                checks=[
                    {
                        "asset": specs[o.name].asset_key.to_user_string(),
                        "name": o.name,
                        "passed": o.passed,
                        "severity": o.severity,
                        "description": o.summary(),
                        "findings": [f.__dict__ for f in o.findings if f.severity == "block"],
                    }
                    for o in outcomes.values()
                ],
            )
            context.log.error(f"quality gate blocks publication; decision recorded in {path}")
        for suite in selected:
            yield check_result(specs[suite].asset_key, outcomes[suite], years)

    return _gate


def _years(warehouse: WarehouseResource, settings) -> tuple[list[int], frozenset[int]]:
    """(the reporting years of the working database, those of them still open)."""
    from orchestration.lib.calendar import current_year_states, working_years

    with warehouse.connect(read_only=True) as con:
        years = working_years(con)
    states = current_year_states(settings, years)
    return years, frozenset(y for y, s in states.items() if not s.closed)


def build_quality_checks(config: GateConfig) -> list[dg.AssetChecksDefinition]:
    """The two gate ops for ``config``: source level (after ingestion) and warehouse level.

    Suites of ``gate.yml`` beyond the named ones join the op of their asset's layer.
    """
    missing = [s for s in (*LANDING_CHECKS, *MART_CHECKS) if s not in config.suites]
    if missing:
        raise GateConfigError(f"{config.root / 'gate.yml'}: no entry for check(s) {missing}")
    extra = [s for s in config.suites if s not in (*LANDING_CHECKS, *MART_CHECKS)]
    landing = [*LANDING_CHECKS] + [s for s in extra if config.suites[s].asset[0] == "landing"]
    marts = [*MART_CHECKS] + [s for s in extra if config.suites[s].asset[0] != "landing"]
    return [
        _gate_op("landing_quality_gate", landing, config),
        _gate_op("warehouse_quality_gate", marts, config),
    ]


GATE_CONFIG = load_gate_config()
quality_checks = build_quality_checks(GATE_CONFIG)
