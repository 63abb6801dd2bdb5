"""Publication: the checked mart becomes the analysts' ``published/mart.duckdb``.

Downstream of every mart model, so it runs only after ``dbt build`` (with its blocking tests)
and the quality checks succeeded in the same run; otherwise it is skipped and the previous
publication stays in place untouched.
"""

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from orchestration.defs.dbt.assets import mart_model_names, warehouse_models
from orchestration.defs.ingest.resources import WarehouseResource
from orchestration.lib.constants import PUBLISHED_MART_KEY, REPUBLISHED_TAG
from orchestration.lib.fingerprint import current_fingerprint
from orchestration.lib.publish import Publication, input_files, mart_mismatch, publish_mart

PUBLISH_GROUP = "publish"
#: run tag of a publication that replaced a mart which did not match its manifest: why
#: the landing audit tables the source-level gate checks validate (and the manifest reads)
GATED_LANDING_KEYS = [
    dg.AssetKey(["landing", t]) for t in ("source_files", "control_totals", "quarantine")
]


def _run_checks(context: dg.AssetExecutionContext) -> list[dict]:
    """Every asset check evaluated so far in this run (dbt tests and the gate), as dicts."""
    from orchestration.lib.summary import check_outcomes

    records = context.instance.get_records_for_run(
        context.run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    evaluations = [r.event_log_entry.dagster_event.event_specific_data for r in records]
    return [c.as_dict() for c in check_outcomes(evaluations)]


@dg.asset(
    key=PUBLISHED_MART_KEY,
    group_name=PUBLISH_GROUP,
    deps=[get_asset_key_for_model([warehouse_models], name) for name in mart_model_names()]
    + GATED_LANDING_KEYS,
    kinds={"duckdb"},
    description="The analysts' read-only copy of the mart, replaced atomically on success, "
    "with its manifest (published/manifest.json) and history (published/history/). Each year "
    "is published on its own: a year held back by the gate keeps its previous rows.",
    output_required=False,
)
def published_mart(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    from orchestration.lib.calendar import current_year_states, load_register, working_years
    from orchestration.lib.gate import reference_parameters
    from orchestration.lib.mapping import load_mapping
    from orchestration.lib.years import BLOCKED, decide_years, finish_publication

    settings = warehouse.settings()
    checks = _run_checks(context)

    with warehouse.connect(read_only=True) as con:
        fingerprint = current_fingerprint(con, settings)
        years = working_years(con)
    # a year a blocking finding names is decided too, even with no landing file of its own
    # (rows of a year the sources do not have): it is held back, never published unchecked
    years = sorted({*years, *(y for c in checks for y in c.get("blocked_years") or [])})
    states = current_year_states(settings, years)
    decisions = decide_years(states, checks)
    hold = [y for y, d in decisions.items() if d.decision == BLOCKED]
    if years and len(hold) == len(years):
        context.log.error(
            f"every year ({', '.join(map(str, years))}) is held back by the gate: nothing "
            "published, the previous mart stays in place"
        )
        return
    reference = reference_parameters(load_mapping(settings.mapping_path))
    damaged = _previous_mart_problem(settings)
    if damaged:
        context.log.warning(f"{damaged}: publishing it again")
        context.instance.add_run_tags(context.run.run_id, {REPUBLISHED_TAG: damaged[:1000]})

    def record(_publication: Publication) -> dict:
        return {
            "inputs": input_files(settings.duckdb_path),
            "checks": checks,
            # what the mart is a function of: a later run with the same fingerprint stops
            # after ingestion (see landing_tables)
            "fingerprint": fingerprint,
            # each year's state and decision; who closed or reopened which year, when
            "years": [d.as_dict() for d in decisions.values()],
            "year_register": load_register(settings.published_dir).get("events", []),
        }

    def finish(con, has_previous: bool) -> None:
        finish_publication(
            con,
            decisions,
            states,
            run_id=context.run.run_id,
            streets=reference["street_codes"],
            kinds=reference["report_kinds"],
            raw_dir=settings.raw_dir,
            has_previous=has_previous,
        )

    publication = publish_mart(
        settings.duckdb_path,
        settings.published_mart,
        context.run.run_id,
        record=record,
        hold_years=hold,
        finish=finish,
    )
    for d in decisions.values():
        line = f"year {d.year} ({d.state}): {d.decision}, rows {d.status or 'none'}"
        (context.log.warning if d.decision == BLOCKED else context.log.info)(line)
    context.log.info(f"published {publication.path} (history: {publication.history_dir})")
    yield dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(publication.path)),
            "tables": dg.MetadataValue.json(publication.tables),
            "dagster/row_count": publication.tables.get("main.annual_indicators", 0),
            "sha256": publication.sha256,
            "manifest": dg.MetadataValue.path(str(publication.path.parent / "manifest.json")),
            "history": dg.MetadataValue.path(str(publication.history_dir)),
            "checks": len(checks),
            "checks_failed": sum(not c["passed"] for c in checks),
            "replaced_damaged_mart": damaged or "",
            "years": dg.MetadataValue.json([d.as_dict() for d in decisions.values()]),
        }
    )


def _previous_mart_problem(settings) -> str | None:
    """Why the mart in place is not the one its manifest records (changed in place by hand,
    replaced, missing), or ``None`` — reported by this run, which replaces it."""
    import json

    try:
        manifest = json.loads((settings.published_dir / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None  # nothing published yet
    return mart_mismatch(settings.published_mart, manifest)


PUBLISHED_PARQUET_KEY = dg.AssetKey("published_parquet")


@dg.asset(
    key=PUBLISHED_PARQUET_KEY,
    group_name=PUBLISH_GROUP,
    deps=[PUBLISHED_MART_KEY],
    kinds={"parquet"},
    description="published/parquet/<table>.parquet: every published table, for BI tools; only "
    "the tables that changed since the last export are written (published/parquet/manifest.json).",
)
def published_parquet(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    from orchestration.lib.export import export_parquet

    settings = warehouse.settings()
    folder = settings.published_dir / "parquet"
    export = export_parquet(settings.published_mart, folder)
    context.log.info(
        f"parquet export to {folder}: {len(export.written)} of {len(export.files)} tables "
        f"written, {len(export.kept)} unchanged and kept"
        + (f", {len(export.removed)} stale files removed" if export.removed else "")
    )
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(folder)),
            "tables": dg.MetadataValue.json({k: str(v) for k, v in export.files.items()}),
            # tables exported by this run / whose Parquet file was up to date and kept
            "written": len(export.written),
            "kept": len(export.kept),
            "written_tables": dg.MetadataValue.json(export.written),
            "removed": len(export.removed),
            "manifest": dg.MetadataValue.path(str(folder / "manifest.json")),
        }
    )
