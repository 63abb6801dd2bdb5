"""Asset checks made from dbt tests carry a description (not "No description provided")."""

from __future__ import annotations

from orchestration.defs.dbt.assets import dbt_test_description, warehouse_models


def test_every_dbt_check_has_a_description():
    specs = list(warehouse_models.check_specs)
    assert len(specs) > 100
    assert not [s.name for s in specs if not (s.description or "").strip()]


def test_generic_test_names_kind_model_column_and_arguments():
    specs = {s.name: s for s in warehouse_models.check_specs}
    unique = specs["unique_streets_street_code"]
    assert unique.description == "dbt test unique on streets.street_code (severity error)"
    accepted = next(s for n, s in specs.items() if n.startswith("accepted_values_"))
    assert accepted.description.startswith("dbt test accepted_values on ")
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
