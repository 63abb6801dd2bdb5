"""The schema of ``mapping/sources.yml``: every key the engine reads, its type, nothing else.

:func:`validate_document` checks the parsed YAML against these pydantic models before
:mod:`orchestration.lib.mapping` turns it into the engine's objects, so that an unknown key (a
guessed ``date_format:``), a wrong type (``header_row: five``) or a misspelt option is an error
naming the file, the entry and the path of the key — never silently ignored. Rules that need
the whole document (a field that is not a field of the kind, a unit that is not listed, a code
that is not in the field's vocabulary) are checked by ``mapping.py`` with the same kind of
message. ``mapping/sources.schema.json`` is this schema as JSON Schema, for editors and other
tools (``python -m orchestration.lib.mapping_schema`` writes it; a test keeps it current).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

#: a spelling in the file: YAML may read ``1`` or ``2021`` as a number
Spelling = str | int
Name = Annotated[str, StringConstraints(min_length=1)]
#: a decimal or thousands separator: one character that is not a digit
Separator = Annotated[str, StringConstraints(min_length=1, max_length=1, pattern=r"^\D$")]
FieldType = Literal["text", "int", "amount", "date", "bool", "category", "id_number", "credit_code"]


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Defaults(_Entry):
    """Spellings and rules every file is read with, unless a template says otherwise."""

    header_scan_rows: int = Field(40, ge=1, description="rows searched for the header row")
    total_row_markers: list[Spelling] = Field(
        default_factory=list, description="first cell of a 合计/小计 control-total row"
    )
    trailer_row_markers: list[Spelling] = Field(
        default_factory=list, description="first cell of a 填表人/备注 trailer row (skipped)"
    )
    non_data_sheets: list[Spelling] = Field(
        default_factory=list, description="sheet names holding instructions, not data"
    )
    resubmission_markers: list[str] = Field(
        default_factory=list, description="regular expressions of a correction's file name"
    )
    units: dict[str, float] = Field(
        default_factory=dict, description="unit → factor to the field's base unit"
    )
    booleans: dict[Literal["true", "false"], list[Spelling]] = Field(default_factory=dict)
    csv_encodings: list[str] = Field(default_factory=list, description="tried in order")
    quarantine_keep_columns: list[Spelling] = Field(
        default_factory=list,
        description="headers of unmapped columns a quarantined row's record may keep",
    )
    date_formats: list[str] = Field(
        default_factory=list,
        description="strftime patterns of a date, tried in order after a template's own "
        "(a trailing time of day is cut first); empty: the landing contract's",
    )
    excel_date_serials: bool = Field(True, description="read 5-digit Excel serials as dates")
    decimal_separator: Separator = Field(".", description="decimal separator of numbers")
    thousands_separator: Separator | Literal[""] = Field(
        ",", description="digit-group separator of numbers, removed ('' for none)"
    )
    null_markers: list[Spelling] = Field(
        default_factory=list, description="cell spellings that mean empty (e.g. '-', '/', 'N/A')"
    )


class FieldEntry(_Entry):
    """One column of a report kind's canonical template."""

    header: Spelling
    synonyms: list[Spelling] = Field(default_factory=list)
    type: FieldType
    required: bool = False
    unit: str | None = Field(None, description="base unit, one of defaults.units")
    values: list[Spelling] | None = Field(None, description="a category's vocabulary")
    pii: Literal["drop", "hash"] | None = None
    window: Literal["in_year", "not_after_year"] | None = None


class KindEntry(_Entry):
    """A report kind of the landing contract."""

    title: str
    domain: str
    file_name_hints: list[Spelling] = Field(default_factory=list)
    key: list[Name] = Field(default_factory=list, description="natural key (field names)")
    fields: dict[Name, FieldEntry]


class ValueRulesEntry(_Entry):
    """How a system writes its values; in a template, for all its fields or for one field."""

    date_formats: list[str] | None = Field(
        None,
        description="strftime patterns tried in order before defaults.date_formats: day-first "
        "'%d/%m/%Y', month-first '%m/%d/%Y', English month names '%b %d, %Y', '%d-%b-%Y'",
    )
    decimal_separator: Separator | None = Field(None, description="e.g. ',' for 1.234,56")
    thousands_separator: Separator | Literal[""] | None = Field(
        None, description="e.g. '.' or \"'\"; '' for none"
    )
    null_markers: list[Spelling] | None = Field(
        None, description="spellings that mean empty, added to defaults.null_markers"
    )


class TemplateFieldEntry(ValueRulesEntry):
    """The value rules of one field of a template (``fields: {accepted_on: {…}}``)."""

    booleans: dict[Literal["true", "false"], list[Spelling]] = Field(
        default_factory=dict, description="this field's own yes/no words (bool fields)"
    )


class TemplateEntry(ValueRulesEntry):
    """A street's or a system's own layout (landing contract, section 4)."""

    name: Name
    streets: list[Name] = Field(default_factory=list)
    street: Name | None = None
    file_glob: str | None = None
    kind: Name | None = None
    sheet: str | None = Field(
        None, description="the sheet read: a name or a glob ('Cases*'); the others are skipped"
    )
    header_row: int | None = Field(None, ge=1, description="1-based row of the header")
    header_scan_rows: int | None = Field(
        None, ge=1, description="rows searched for the header (default: defaults')"
    )
    skip_rows_above: int = Field(
        0, ge=0, description="the first N rows of a sheet are ignored (titles, notes)"
    )
    skip_rows_below: int = Field(
        0, ge=0, description="the last N rows of a sheet are ignored (footers)"
    )
    columns: dict[Spelling, Name] = Field(default_factory=dict, description="header → field")
    units: dict[Name, str] = Field(default_factory=dict, description="field → unit")
    booleans: dict[Literal["true", "false"], list[Spelling]] = Field(default_factory=dict)
    values: dict[Name, dict[Spelling, Spelling]] = Field(
        default_factory=dict, description="field → {spelling in the file: code}"
    )
    quarantine_keep_columns: list[Spelling] | None = Field(
        None, description="replaces defaults.quarantine_keep_columns for this template's files"
    )
    fields: dict[Name, TemplateFieldEntry] = Field(
        default_factory=dict, description="field → its own value rules"
    )


class MappingDocument(_Entry):
    """The whole mapping file."""

    version: Literal[1] = 1
    defaults: Defaults = Field(default_factory=Defaults)
    kinds: dict[Name, KindEntry]
    templates: list[TemplateEntry] = Field(default_factory=list)


def _where(doc: Any, loc: tuple[Any, ...]) -> str:
    """``templates[0] (pingdi_hr).date_format`` from a pydantic error location."""
    parts: list[str] = []
    node = doc
    for step in loc:
        if isinstance(step, int):
            label = f"[{step}]"
            if isinstance(node, list) and step < len(node):
                node = node[step]
                name = node.get("name") if isinstance(node, dict) else None
                if name:
                    label += f" ({name})"
            parts.append(label)
            continue
        parts.append(("." if parts else "") + str(step))
        node = node.get(step) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)"


def _message(error: dict[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key (not part of the mapping schema; see docs/onboarding.md)"
    if error["type"] == "missing":
        return "required key missing"
    if error["type"] == "literal_error":
        key = next((str(s) for s in reversed(error["loc"]) if isinstance(s, str)), "value")
        expected = error.get("ctx", {}).get("expected", "")
        return f"unknown {key} '{error['input']}' (expected {expected})"
    return f"{error['msg']} (got {error['input']!r})"


def validate_document(doc: Any, file_name: str) -> list[str]:
    """Every schema violation of ``doc`` as ``"<file>: <key path>: <problem>"``; [] if valid."""
    if not isinstance(doc, dict):
        return [f"{file_name}: the mapping must be a YAML mapping with 'kinds:'"]
    try:
        MappingDocument.model_validate(doc)
    except ValidationError as exc:
        return [
            f"{file_name}: {_where(doc, tuple(e['loc']))}: {_message(e)}"
            for e in exc.errors(include_url=False)
        ]
    return []


def json_schema() -> dict[str, Any]:
    """The mapping schema as JSON Schema (draft 2020-12)."""
    schema = MappingDocument.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "gonghui source mapping (mapping/sources.yml)"
    return schema


SCHEMA_PATH = Path(__file__).resolve().parents[2] / "mapping" / "sources.schema.json"


def schema_text() -> str:
    return json.dumps(json_schema(), ensure_ascii=False, indent=1) + "\n"


if __name__ == "__main__":
    SCHEMA_PATH.write_text(schema_text(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
