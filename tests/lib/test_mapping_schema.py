"""The mapping schema: a key the engine would not read is an error naming where it is."""

from __future__ import annotations

import pytest
from mappings import CONTRACT_MAPPING, mapping_with_templates

from orchestration.lib.mapping import MappingError, load_mapping
from orchestration.lib.mapping_schema import SCHEMA_PATH, schema_text

TEMPLATE = """
  - name: hr_export
    streets: [pingdi]
    file_glob: "*HR_export*"
    kind: dispute_cases
    header_row: 5
    columns: {{Case No: case_no, Accepted: accepted_on, Company: enterprise_name}}
{extra}
"""


def _load(tmp_path, extra: str):
    return load_mapping(mapping_with_templates(tmp_path, TEMPLATE.format(extra=extra)))


def test_the_template_loads_without_extras(tmp_path):
    [template] = _load(tmp_path, "").templates
    assert template.header_row == 5


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        # a guessed key is not silently ignored: file, template and key path are named
        (
            "    date_format: '%d/%m/%Y'",
            r"sources\.yml: templates\[0\] \(hr_export\)\.date_format: unknown key",
        ),
        (
            "    dates: {order: dmy}",
            r"templates\[0\] \(hr_export\)\.dates: unknown key",
        ),
        ("    header_row: five", r"templates\[0\] \(hr_export\)\.header_row: .*integer"),
        ("    streets: pingdi", r"templates\[0\] \(hr_export\)\.streets: .*list"),
        # a values: entry on a date field has no effect: refused
        ("    values: {accepted_on: {Jan: '01'}}", r"values\.accepted_on: .*'accepted_on' is date"),
        # a code outside the field's vocabulary
        (
            "    values: {dispute_type: {Wages: 工资}}",
            r"code\(s\) \['工资'\] not in the vocabulary",
        ),
        ("    values: {nonsense: {a: b}}", r"values\.nonsense: unknown field 'nonsense'"),
        ("    units: {enterprise_name: 万元}", r"units\.enterprise_name: a unit scales numbers"),
        ("    units: {recovered_amount: 千克}", r"unit '千克'"),
    ],
)
def test_template_errors_name_the_file_template_and_key(tmp_path, extra, message):
    with pytest.raises(MappingError, match=message):
        _load(tmp_path, extra)


def test_unknown_keys_of_defaults_kinds_and_fields_are_errors(tmp_path):
    text = CONTRACT_MAPPING.read_text(encoding="utf-8")
    cases = {
        "  header_scan_rows: 40": (
            "  header_scan_rows: 40\n  date_order: dmy",
            "defaults.date_order",
        ),
        "    title: 企业建会情况台账": (
            "    title: 企业建会情况台账\n    primary_key: [credit_code]",
            "kinds.enterprise_register.primary_key",
        ),
        "type: credit_code, required: true}": (
            "type: credit_code, required: true, format: upper}",
            "kinds.enterprise_register.fields.credit_code.format",
        ),
    }
    for needle, (replacement, where) in cases.items():
        assert needle in text, needle
        path = tmp_path / f"{where}.yml"
        path.write_text(text.replace(needle, replacement, 1), encoding="utf-8")
        with pytest.raises(MappingError, match=rf"{where}: unknown key"):
            load_mapping(path)


def test_every_problem_is_listed_at_once(tmp_path):
    extra = "    date_format: x\n    header_rows: 5"
    with pytest.raises(MappingError) as error:
        _load(tmp_path, extra)
    assert "date_format" in str(error.value) and "header_rows" in str(error.value)


def test_the_shipped_json_schema_is_current():
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), (
        "mapping/sources.schema.json is stale: python -m orchestration.lib.mapping_schema"
    )
