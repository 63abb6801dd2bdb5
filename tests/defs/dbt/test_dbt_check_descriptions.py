"""One asset check per dbt model, aggregating its tests; each test described in it."""

from __future__ import annotations

import json

from orchestration.defs.dbt.assets import dbt_project, dbt_test_description, warehouse_models
from orchestration.defs.dbt.checks import DBT_TESTS_CHECK, TEST_IDS_METADATA_KEY


def _manifest_tests() -> dict[str, dict]:
    manifest = json.loads(dbt_project.manifest_path.read_text())
    return {k: v for k, v in manifest["nodes"].items() if v["resource_type"] == "test"}


def test_one_check_per_tested_model_covers_every_dbt_test_once():
    specs = list(warehouse_models.check_specs)
    assert {s.name for s in specs} == {DBT_TESTS_CHECK}
    assert len({s.asset_key for s in specs}) == len(specs)
    covered = [t for s in specs for t in s.metadata[TEST_IDS_METADATA_KEY].value]
    assert sorted(covered) == sorted(_manifest_tests())  # each test in exactly one check


def test_a_model_check_blocks_exactly_when_it_has_an_error_severity_test():
    tests = _manifest_tests()
    for spec in warehouse_models.check_specs:
        severities = {
            (tests[t]["config"].get("severity") or "error").lower()
            for t in spec.metadata[TEST_IDS_METADATA_KEY].value
        }
        assert spec.blocking == ("error" in severities), spec.key


def test_every_dbt_check_describes_each_of_its_tests():
    specs = {s.asset_key.to_user_string(): s for s in warehouse_models.check_specs}
    streets = specs["staging/streets"]
    assert "dbt test unique on streets.street_code (severity error)" in streets.description
    for spec in specs.values():
        lines = spec.description.splitlines()
        assert len(lines) == 1 + len(spec.metadata[TEST_IDS_METADATA_KEY].value), spec.key
    accepted = next(s for s in specs.values() if "dbt test accepted_values on " in s.description)
    assert "values=[" in accepted.description


def test_references_read_as_model_names():
    test = {
        "attached_node": "model.gonghui.fct_members",
        "column_name": "street_code",
        "test_metadata": {
            "name": "relationships",
            "kwargs": {
                "column_name": "street_code",
                "model": "{{ get_where_subquery(ref('fct_members')) }}",
                "to": "ref('dim_street')",
                "field": "street_code",
            },
        },
        "config": {"severity": "warn"},
    }
    assert dbt_test_description(test) == (
        "dbt test relationships on fct_members.street_code: to=dim_street; field=street_code "
        "(severity warn)"
    )


def test_a_dbt_test_description_of_its_own_wins():
    assert dbt_test_description({"description": "  every street\n reported  "}) == (
        "every street reported"
    )
