"""One ``@dbt_assets`` for the whole warehouse lineage (staging → intermediate → marts).

Keeping every model in one definition means ``dbt build`` runs models and tests in DAG order in
one step: a failing error-severity test stops the models downstream of it *and* fails the step,
so nothing downstream in Dagster (publication) runs. dagster-dbt turns each dbt test into an
asset check; error-severity tests become blocking checks.
"""

import json
import os
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from orchestration.defs.dbt.resources import dbt_project, ensure_manifest
from orchestration.defs.ingest.resources import WarehouseResource

ensure_manifest()


class GonghuiDbtTranslator(DagsterDbtTranslator):
    """Groups dbt models by layer (``warehouse_staging``, ``…_intermediate``, ``…_marts``)."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn") or []
        if dbt_resource_props.get("resource_type") == "seed":
            return "warehouse_reference"
        return f"warehouse_{fqn[1]}" if len(fqn) > 2 else "warehouse"


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=GonghuiDbtTranslator(),
)
def warehouse_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
):
    """``dbt build``: seeds, models and tests of the selected lineage, in DAG order."""
    os.environ["GONGHUI_DUCKDB_PATH"] = str(warehouse.settings().duckdb_path)
    yield from dbt.cli(["build"], context=context).stream()


def mart_model_names() -> list[str]:
    """Names of the models under ``models/marts/`` (what publication copies)."""
    manifest = json.loads(dbt_project.manifest_path.read_text())
    return sorted(
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and (node.get("fqn") or [None, None])[1] == "marts"
    )
