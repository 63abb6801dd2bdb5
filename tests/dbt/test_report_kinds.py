"""The report kinds' natural keys have one source, mapping/sources.yml (`key:`): dbt cannot
read the mapping, so dbt_project.yml carries them as var report_kinds — this test fails when
the two drift apart, or when the var names models that do not exist."""

from __future__ import annotations

from pathlib import Path

import yaml

from gonghui_demo.population import KEY_FIELD
from orchestration.lib import indicator_catalog
from orchestration.lib.constants import PROJECT_ROOT
from orchestration.lib.mapping import load_mapping

DBT = PROJECT_ROOT / "dbt_project"


def _report_kinds() -> dict[str, dict]:
    project = yaml.safe_load((DBT / "dbt_project.yml").read_text(encoding="utf-8"))
    return project["vars"]["report_kinds"]


def _model_exists(name: str) -> bool:
    return any(DBT.glob(f"models/**/{name}.sql"))


def test_dbt_report_kinds_are_the_mappings_kinds_and_keys():
    mapping = load_mapping(PROJECT_ROOT / "mapping" / "sources.yml")
    kinds = _report_kinds()
    assert list(kinds) == list(mapping.kinds)
    for name, spec in kinds.items():
        assert tuple(spec["key"]) == mapping.kinds[name].key, name


def test_report_kinds_name_existing_models():
    for name, spec in _report_kinds().items():
        assert _model_exists(f"stg_landing__{spec['stem']}"), name
        assert _model_exists(f"int_{spec['stem']}_deduplicated"), name
        if spec.get("ranked"):  # the model that ranks the kind's rows once
            assert _model_exists(spec["ranked"]), name
        assert _model_exists(spec["fct"]), name


def test_catalog_counts_only_fct_models_of_report_kinds():
    fct = {spec["fct"] for spec in _report_kinds().values()}
    for row in indicator_catalog.read_catalog():
        assert row["source_model"] in fct, row["indicator_code"]


def test_demo_keys_come_from_the_mapping():
    mapping = load_mapping(PROJECT_ROOT / "mapping" / "sources.yml")
    assert set(KEY_FIELD) == set(mapping.kinds)
    for name, field in KEY_FIELD.items():
        assert field in (*mapping.kinds[name].key, "id_number"), name


def test_deduplicated_models_are_one_liners_of_the_macro():
    for spec in _report_kinds().values():
        path = next(DBT.glob(f"models/**/int_{spec['stem']}_deduplicated.sql"))
        sql = Path(path).read_text(encoding="utf-8")
        assert "deduplicated_rows(" in sql, path
