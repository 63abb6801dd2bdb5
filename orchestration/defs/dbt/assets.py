"""One ``@dbt_assets`` for the whole warehouse lineage (staging → intermediate → marts).

Keeping every model in one definition means ``dbt build`` runs models and tests in DAG order in
one step: a failing error-severity test stops the models downstream of it *and* fails the step,
so nothing downstream in Dagster (publication) runs. dagster-dbt turns each dbt test into an
asset check; error-severity tests become blocking checks.
"""

import json
import os
import re
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from orchestration.defs.dbt.resources import dbt_project, prepare_dbt_project
from orchestration.defs.ingest.assets import raw_asset_key
from orchestration.defs.ingest.resources import WarehouseResource
from orchestration.lib.fingerprint import dbt_full_refresh_reason

prepare_dbt_project()


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


def dbt_test_description(test: Mapping[str, Any]) -> str:
    """What a dbt test checks, for its Dagster asset check: the test's own ``description``
    when it has one, else its kind, model, column and arguments, e.g. ``dbt test
    accepted_values on fct_members.gender: values=[男, 女] (severity error)``."""
    if test.get("description"):
        return " ".join(str(test["description"]).split())
    severity = str((test.get("config") or {}).get("severity") or "error").lower()
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


class GonghuiDbtTranslator(DagsterDbtTranslator):
    """Groups dbt models by layer (``warehouse_staging``, ``…_intermediate``, ``…_marts``);
    gives every asset check made from a dbt test a description (:func:`dbt_test_description`)."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn") or []
        if dbt_resource_props.get("resource_type") == "seed":
            return "warehouse_reference"
        return f"warehouse_{fqn[1]}" if len(fqn) > 2 else "warehouse"

    def get_asset_check_spec(
        self,
        asset_spec: dg.AssetSpec,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: Any,
    ) -> dg.AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.description:
            return spec
        test = manifest.get("nodes", {}).get(unique_id) or {}
        return dg.AssetCheckSpec(
            name=spec.name,
            asset=spec.asset_key,
            description=dbt_test_description(test),
            additional_deps=spec.additional_deps,
            blocking=spec.blocking,
            metadata=spec.metadata,
            automation_condition=spec.automation_condition,
        )


class DbtBuildConfig(dg.Config):
    """``full_refresh``: rebuild the incremental models from scratch (``--full-refresh``)."""

    full_refresh: bool = False


def reingested_streets(context: dg.AssetExecutionContext) -> list[str] | None:
    """The streets the ingest step of this run re-read (``streets_ingested`` of its
    ``landing/source_files`` materialization), or ``None`` (every street) when this run did
    not ingest (a dbt-only run from the UI)."""
    event = context.instance.get_latest_materialization_event(raw_asset_key("source_files"))
    if event is None or event.run_id != context.run.run_id or event.asset_materialization is None:
        return None
    streets = event.asset_materialization.metadata.get("streets_ingested")
    return None if streets is None else [str(s) for s in streets.value]


def dbt_build_args(streets: list[str] | None, full_refresh_reason: str | None = None) -> list[str]:
    """``dbt build`` with var ``streets`` (the streets the incremental models recompute,
    ``macros/street_batch.sql``; none: every street), or ``--full-refresh``."""
    if full_refresh_reason:
        return ["build", "--full-refresh"]
    if streets is None:
        return ["build"]
    return ["build", "--vars", json.dumps({"streets": streets}, ensure_ascii=False)]


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=GonghuiDbtTranslator(),
)
def warehouse_models(
    context: dg.AssetExecutionContext,
    config: DbtBuildConfig,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
):
    """``dbt build``: seeds, models and tests of the selected lineage, in DAG order.

    The incremental models (delete+insert by street) recompute the streets this run's
    ingest step re-read, passed as ``--vars '{"streets": [...]}'``; a first build into a
    database builds them whole (their relation does not exist). ``--full-refresh`` when
    asked, or when the dbt project differs from the one of the last publication
    (:func:`orchestration.lib.fingerprint.dbt_full_refresh_reason`).

    The dbt artifacts go to ``<warehouse>/dbt-target/`` — one folder per working database,
    reused by every run, so dbt's partial parsing carries over between runs and the project's
    own ``target/`` does not grow a folder per run.
    """
    settings = warehouse.settings()
    os.environ["GONGHUI_DUCKDB_PATH"] = str(settings.duckdb_path)
    target_path = settings.warehouse_dir / "dbt-target"
    reason = "asked (--full-refresh)" if config.full_refresh else dbt_full_refresh_reason(settings)
    streets = reingested_streets(context)
    if reason:
        context.log.info(f"dbt build --full-refresh: {reason}")
    else:
        shown = "every street" if streets is None else ", ".join(streets) or "none"
        context.log.info(f"dbt build: incremental models recompute streets: {shown}")
    yield from dbt.cli(
        dbt_build_args(streets, reason), context=context, target_path=target_path
    ).stream()


def mart_model_names() -> list[str]:
    """Names of the models under ``models/marts/`` (what publication copies)."""
    manifest = json.loads(dbt_project.manifest_path.read_text())
    return sorted(
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and (node.get("fqn") or [None, None])[1] == "marts"
    )
