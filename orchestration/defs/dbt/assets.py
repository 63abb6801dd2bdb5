"""One ``@dbt_assets`` for the whole warehouse lineage (staging → intermediate → marts).

Keeping every model in one definition means ``dbt build`` runs models and tests in DAG order in
one step: a failing error-severity test stops the models downstream of it *and* fails the step,
so nothing downstream in Dagster (publication) runs. The tests of a model are one asset check
of it (``dbt_tests``, :mod:`orchestration.defs.dbt.checks`), blocking when the model has an
error-severity test — 42 checks instead of dagster-dbt's one per test (186), a third of the
run's events.
"""

import json
import os
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliInvocation,
    DbtCliResource,
    dbt_assets,
)
from dagster_dbt.asset_utils import DAGSTER_DBT_UNIQUE_ID_METADATA_KEY

from orchestration.defs.dbt.checks import (
    DbtTestOutcome,
    check_result,
    dbt_test_description,  # noqa: F401  (re-exported: what a dbt test checks)
    dbt_test_outcome,
    model_check_spec,
    read_failing_rows,
    tests_by_check,
)
from orchestration.defs.dbt.resources import dbt_project, prepare_dbt_project
from orchestration.defs.ingest.assets import raw_asset_key
from orchestration.defs.ingest.resources import WarehouseResource
from orchestration.lib.fingerprint import dbt_full_refresh_reason

prepare_dbt_project()


class GonghuiDbtTranslator(DagsterDbtTranslator):
    """Groups dbt models by layer (``warehouse_staging``, ``…_intermediate``, ``…_marts``);
    makes the dbt tests of a model one asset check (:data:`DBT_TESTS_CHECK`, see
    :mod:`orchestration.defs.dbt.checks`) instead of one check per test.

    dagster-dbt asks :meth:`get_asset_check_spec` once per test and keeps one spec per check
    key, so every test of a model answers with the same aggregated spec."""

    def __init__(self, settings: DagsterDbtTranslatorSettings | None = None):
        super().__init__(settings)
        self._model_checks: dict[tuple[int, dg.AssetKey], dg.AssetCheckSpec | None] = {}

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
        if super().get_asset_check_spec(asset_spec, manifest, unique_id, project) is None:
            return None  # not a test of this asset (dagster-dbt's attachment rules)
        cache_key = (id(manifest), asset_spec.key)
        if cache_key not in self._model_checks:
            model_id = (asset_spec.metadata or {}).get(DAGSTER_DBT_UNIQUE_ID_METADATA_KEY)
            children = manifest.get("child_map", {}).get(model_id, []) if model_id else [unique_id]
            tests = []
            for child in sorted(children):
                if not child.startswith("test."):
                    continue
                spec = super().get_asset_check_spec(asset_spec, manifest, child, project)
                if spec is not None:
                    tests.append((manifest["nodes"][child], spec))
            self._model_checks[cache_key] = model_check_spec(asset_spec.key, tests)
        return self._model_checks[cache_key]


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


#: the translator of :func:`warehouse_models` (and of its explicitly selected invocations)
TRANSLATOR = GonghuiDbtTranslator()


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=TRANSLATOR,
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
    args = dbt_build_args(streets, reason)
    invocation = _dbt_invocation(context, dbt, args, target_path)
    yield from dbt_events(context, invocation, warehouse)


def _selected_tests(context: dg.AssetExecutionContext) -> list[str] | None:
    """The dbt tests to select explicitly (``--select``), or ``None`` when dagster-dbt's own
    subsetting selects the right ones: every check of the selected models and no other.

    dagster-dbt selects a check that is not its model's complement by the one test its spec
    names; a model check stands for all of the model's tests, so such a selection (a check
    without its model, e.g. "Execute check" in the UI, or a model without its check) is
    spelled out here: the selected models and every test of the selected checks."""
    assets_def = context.assets_def
    selected = set(context.selected_asset_check_keys)
    of_selected = {k for k in assets_def.check_keys if k.asset_key in context.selected_asset_keys}
    if selected == of_selected:
        return None
    tests = tests_by_check(assets_def.check_specs)
    return sorted(test for test, key in tests.items() if key in selected)


def _dbt_invocation(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, args: list[str], target_path
) -> DbtCliInvocation:
    """``dbt.cli(args)`` of the selected models and checks; never raises on a dbt failure (the
    model checks are reported first, :func:`dbt_events`)."""
    tests = _selected_tests(context)
    if tests is None:
        return dbt.cli(args, context=context, target_path=target_path, raise_on_error=False)
    manifest = json.loads(dbt_project.manifest_path.read_text())
    names = {".".join(manifest["nodes"][t]["fqn"]) for t in tests if t in manifest["nodes"]} | {
        ".".join(manifest["nodes"][uid]["fqn"])
        for key in context.selected_asset_keys
        if (
            uid := context.assets_def.get_asset_spec(key).metadata.get(
                DAGSTER_DBT_UNIQUE_ID_METADATA_KEY
            )
        )
        in manifest["nodes"]
    }
    selection = ["--select", " ".join(sorted(names)), "--indirect-selection", "empty"]
    return dbt.cli(
        [*args, *selection],
        manifest=manifest,
        dagster_dbt_translator=TRANSLATOR,
        target_path=target_path,
        raise_on_error=False,
    )


def dbt_events(
    context: dg.AssetExecutionContext, invocation: DbtCliInvocation, warehouse: WarehouseResource
):
    """The Dagster events of a ``dbt build``: dagster-dbt's for models and seeds
    (``to_default_asset_events``); one :data:`DBT_TESTS_CHECK` result per model for its tests
    (:func:`orchestration.defs.dbt.checks.check_result`).

    A model's check is reported as soon as its last test passed; a check with a failing test
    after dbt exits, when the failing rows dbt stored can be read per street and report kind
    (dbt holds the database until then). Then a dbt failure other than failing tests (a model
    that does not build, a compilation error) fails the step with dbt's error; failing
    error-severity tests fail it as blocking checks (Dagster's ``DagsterAssetCheckFailedError``).
    """
    manifest = invocation.manifest
    translator = invocation.dagster_dbt_translator
    specs = {s.key: s for s in context.assets_def.check_specs}
    index = tests_by_check(specs.values())
    selected = set(context.selected_asset_check_keys)
    expected: dict[dg.AssetCheckKey, set[str]] = {}
    for test, key in index.items():
        expected.setdefault(key, set()).add(test)
    outcomes: dict[dg.AssetCheckKey, list[DbtTestOutcome]] = {}
    reported: set[dg.AssetCheckKey] = set()
    failed_nodes: list[str] = []
    for event in invocation.stream_raw_events():
        data = event.raw_event.get("data") or {}
        unique_id = (data.get("node_info") or {}).get("unique_id")
        if not (unique_id and event.is_result_event):
            continue
        key = index.get(unique_id)
        if key is None:
            status = str(data.get("status") or "").lower()
            if status == "error" and not unique_id.startswith("test."):
                failed_nodes.append(unique_id)
            yield from event.to_default_asset_events(
                manifest=manifest,
                dagster_dbt_translator=translator,
                context=context,
                target_path=invocation.target_path,
                project=invocation.project,
            )
            continue
        if key not in selected:  # run by dbt's indirect selection, not asked for here
            continue
        outcome = dbt_test_outcome(data, manifest)
        done = outcomes.setdefault(key, [])
        done.append(outcome)
        if {o.unique_id for o in done} >= expected[key] and not any(o.failed for o in done):
            reported.add(key)
            yield check_result(key, done, blocking=specs[key].blocking)
    pending = {k: v for k, v in outcomes.items() if k not in reported}
    if any(o.relation for v in pending.values() for o in v):
        with warehouse.connect(read_only=True) as con:
            for o in (o for v in pending.values() for o in v):
                read_failing_rows(con, o)
    names = street_names()
    for key, done in pending.items():
        yield check_result(key, done, names, blocking=specs[key].blocking)
    blocking_failed = any(o.blocks for v in pending.values() for o in v)
    if not invocation.is_successful() and (failed_nodes or not blocking_failed):
        error = invocation.get_error()
        if error is not None:
            raise error


def street_names() -> dict[str, str]:
    """Street code → Chinese name, from the streets list (for the failing rows' findings)."""
    from orchestration.lib.streets import load_streets

    return {s.code: s.name_zh for s in load_streets()}


def mart_model_names() -> list[str]:
    """Names of the models under ``models/marts/`` (what publication copies)."""
    manifest = json.loads(dbt_project.manifest_path.read_text())
    return sorted(
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and (node.get("fqn") or [None, None])[1] == "marts"
    )
