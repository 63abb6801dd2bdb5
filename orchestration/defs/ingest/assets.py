"""Ingestion assets: every landing file → the ``raw`` schema of the working database.

One multi-asset reads each file exactly once and materializes one asset per ``raw`` table
(one per report kind of the mapping, plus the audit tables ``quarantine``, ``source_files`` and
``control_totals``, and ``streets``: the configured streets list). The dbt sources of the
``landing`` source point at these asset keys, so the asset graph runs from the landing files to
the published mart.

The assets are partitioned by street (every reporting year inside a street's partition) with a
single-run backfill policy: one run covers a range of streets and re-reads only those whose
files were added, changed or removed since the last ingestion (SHA-256 against
``raw.source_files``); an unchanged street keeps its rows. The unpartitioned dbt build and
publication downstream rebuild from all partitions (dbt's large models incrementally, by
street).

When nothing was re-ingested and the inputs fingerprint (landing files, mapping, dbt project,
gate configuration, code version; :mod:`orchestration.lib.fingerprint`) equals the one of the
last publication, no asset is materialized: the specs are skippable, so Dagster skips dbt, the
checks and publication, and the run is tagged ``gonghui/up_to_date_with`` = that publication's
run id. (``gonghui run`` and the nightly schedule check this before starting a run at all.)
"""

import dagster as dg

from orchestration.defs.ingest.partitions import STREET_CODES, street_partitions
from orchestration.defs.ingest.resources import WarehouseResource
from orchestration.lib.fingerprint import UP_TO_DATE_TAG, up_to_date_publication
from orchestration.lib.ingest import AUDIT_TABLES, ingest
from orchestration.lib.mapping import load_mapping

INGEST_GROUP = "ingest"
SOURCE_NAME = "landing"

MAPPING = load_mapping()
KIND_TABLES = list(MAPPING.kinds)
#: ``raw.streets``: the configured streets list, rewritten by every ingestion
STREETS_TABLE = "streets"
RAW_TABLES = KIND_TABLES + list(AUDIT_TABLES) + [STREETS_TABLE]


def raw_asset_key(table: str) -> dg.AssetKey:
    """Asset key of a ``raw`` table; dbt's ``source('landing', table)`` maps to the same key."""
    return dg.AssetKey([SOURCE_NAME, table])


def _description(table: str) -> str:
    if table in MAPPING.kinds:
        kind = MAPPING.kinds[table]
        return f"{kind.title}: loaded rows of every '{table}' file, typed, with provenance."
    return {
        "quarantine": "Rows that failed validation, with file, sheet, row and reason.",
        "source_files": "Every landing file: kind, period, version, status, row counts, reason.",
        "control_totals": "合计/小计 rows of the sources with the sum of the rows they cover.",
        STREETS_TABLE: "The district's streets, from the streets list (GONGHUI_STREETS).",
    }[table]


def _has_ingested(con) -> bool:
    return bool(
        con.execute(
            "select count(*) from duckdb_tables() "
            "where schema_name = 'raw' and table_name = 'source_files'"
        ).fetchone()[0]
    )


class IngestConfig(dg.Config):
    """``full_refresh``: re-read every street of the run, changed or not, and rebuild
    downstream even when nothing changed."""

    full_refresh: bool = False


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            raw_asset_key(t),
            group_name=INGEST_GROUP,
            description=_description(t),
            kinds={"polars", "duckdb"},
            # not materialized when nothing changed since the last publication: the run then
            # skips dbt, the gate and publication (see below)
            skippable=True,
        )
        for t in RAW_TABLES
    ],
    can_subset=False,
    partitions_def=street_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def landing_tables(
    context: dg.AssetExecutionContext, config: IngestConfig, warehouse: WarehouseResource
):
    """Read, recognise, validate and load the changed streets' files under the landing root."""
    settings = warehouse.settings()
    if not settings.raw_dir.is_dir():
        raise dg.Failure(f"landing root {settings.raw_dir} does not exist (GONGHUI_RAW_DIR)")
    mapping = load_mapping(settings.mapping_path)
    with warehouse.connect() as con:
        streets: list[str] | None = list(context.partition_keys)
        if not _has_ingested(con):  # a new or rebuilt database: every street, whatever the run
            streets = None
        report = ingest(
            settings.raw_dir,
            con,
            mapping,
            context.run.run_id,
            streets=streets,
            skip_unchanged=not config.full_refresh,
            unplaced=True,
        )
        counts = {t: con.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in RAW_TABLES}
        up_to_date = (
            None
            if config.full_refresh or report.streets_ingested
            else up_to_date_publication(con, settings)
        )
    for problem in report.problems():
        context.log.warning(problem)
    statuses = report.count_by_status()
    # None: every street was re-read (a full refresh of a new or rebuilt database)
    ingested = list(STREET_CODES) if report.streets_ingested is None else report.streets_ingested
    context.log.info(
        f"streets re-ingested: {', '.join(ingested) or 'none'}; unchanged (kept): "
        f"{', '.join(report.streets_unchanged) or 'none'}"
    )
    for street, why in report.streets_held.items():
        context.log.warning(f"street {street} kept as last ingested (read again later): {why}")
    context.log.info(
        f"files: {statuses}; rows loaded {report.rows_loaded}, "
        f"quarantined {report.rows_quarantined}: {report.quarantine_by_reason()}"
    )
    if up_to_date:
        context.log.info(
            f"nothing changed since the publication of run {up_to_date['run_id']} "
            f"({up_to_date['published_at']}): same landing files, mapping, dbt project, quality "
            "gate and code — dbt, the gate and publication are skipped, the published mart "
            "stays in place (`gonghui run --full-refresh` rebuilds anyway)"
        )
        context.instance.add_run_tags(
            context.run.run_id, {UP_TO_DATE_TAG: str(up_to_date["run_id"])}
        )
        return
    for table in RAW_TABLES:
        metadata = {
            "dagster/row_count": counts[table],
            "streets_ingested": dg.MetadataValue.json(ingested),
            "streets_unchanged": dg.MetadataValue.json(report.streets_unchanged),
        }
        if table == "source_files":
            metadata |= {
                "files_by_status": dg.MetadataValue.json(statuses),
                "problems": dg.MetadataValue.md(
                    "\n".join(f"- {p}" for p in report.problems()) or "none"
                ),
            }
        if table == "quarantine":
            metadata["rows_by_reason"] = dg.MetadataValue.json(report.quarantine_by_reason())
        yield dg.MaterializeResult(asset_key=raw_asset_key(table), metadata=metadata)
