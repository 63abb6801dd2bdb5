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
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from orchestration.defs.dbt.resources import dbt_project, ensure_manifest
from orchestration.defs.ingest.resources import WarehouseResource
from orchestration.lib.fingerprint import dbt_project_sha256

ensure_manifest()


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


#: what the last successful build was built from, next to its artifacts in the target folder
BUILD_STATE_FILE = "gonghui_build_state.json"


def needs_full_refresh(target_path: Path, project_sha256: str, duckdb_path: Path) -> str | None:
    """Why the incremental models must be rebuilt from scratch, or ``None``: no successful
    build recorded for this database, or the dbt project changed since (an incremental
    model's SQL or a macro it uses may have changed)."""
    try:
        state = json.loads((target_path / BUILD_STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "no successful build recorded in this warehouse"
    if state.get("duckdb_path") != str(duckdb_path) or not duckdb_path.exists():
        return "the working database is not the one last built"
    if state.get("dbt_project_sha256") != project_sha256:
        return "the dbt project changed since the last build"
    return None


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

    The dbt artifacts go to ``<warehouse>/dbt-target/`` — one folder per working database,
    reused by every run, so dbt's partial parsing carries over between runs and the project's
    own ``target/`` does not grow a folder per run. Incremental models are rebuilt from
    scratch when asked, on the first build into a database and after any change of the dbt
    project.
    """
    settings = warehouse.settings()
    os.environ["GONGHUI_DUCKDB_PATH"] = str(settings.duckdb_path)
    target_path = settings.warehouse_dir / "dbt-target"
    project_sha256 = dbt_project_sha256(Path(dbt_project.project_dir))
    reason = (
        "asked (--full-refresh)"
        if config.full_refresh
        else needs_full_refresh(target_path, project_sha256, settings.duckdb_path)
    )
    args = ["build"]
    if reason:
        context.log.info(f"dbt build --full-refresh: {reason}")
        args.append("--full-refresh")
    (target_path / BUILD_STATE_FILE).unlink(missing_ok=True)
    invocation = dbt.cli(args, context=context, target_path=target_path)
    yield from invocation.stream()
    if invocation.is_successful():
        state = {
            "dbt_project_sha256": project_sha256,
            "duckdb_path": str(settings.duckdb_path),
            "run_id": context.run.run_id,
            "full_refresh": bool(reason),
        }
        (target_path / BUILD_STATE_FILE).write_text(json.dumps(state, indent=1), encoding="utf-8")


def mart_model_names() -> list[str]:
    """Names of the models under ``models/marts/`` (what publication copies)."""
    manifest = json.loads(dbt_project.manifest_path.read_text())
    return sorted(
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and (node.get("fqn") or [None, None])[1] == "marts"
    )
