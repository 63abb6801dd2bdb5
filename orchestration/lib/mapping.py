"""The declarative source mapping (``mapping/sources.yml``) as typed objects.

One YAML file describes every report kind the streets send — canonical headers, synonyms,
types, value vocabularies, units — plus the per-street/per-system templates that the defaults
cannot recognise. This module loads and validates it and answers the questions the ingestion
engine asks: "which field does this header cell mean?", "which template applies to this file?".
It holds no knowledge of any particular street or file.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from orchestration.lib.constants import PROJECT_ROOT
from orchestration.lib.mapping_schema import validate_document
from orchestration.lib.values import CONTRACT_DATE_FORMATS, date_format_problem

DEFAULT_MAPPING_PATH = PROJECT_ROOT / "mapping" / "sources.yml"

FIELD_TYPES = {"text", "int", "amount", "date", "bool", "category", "id_number", "credit_code"}
#: DuckDB column type of each field type (``id_number`` is stored as its keyed hash).
DUCKDB_TYPES = {
    "text": "VARCHAR",
    "category": "VARCHAR",
    "credit_code": "VARCHAR",
    "id_number": "VARCHAR",
    "int": "INTEGER",
    "amount": "DECIMAL(18,2)",
    "date": "DATE",
    "bool": "BOOLEAN",
}
WINDOWS = {None, "in_year", "not_after_year"}

_BRACKETS = str.maketrans({"【": "(", "】": ")", "[": "(", "]": ")", "〔": "(", "〕": ")"})
_TRAILING_PAREN = re.compile(r"^(.*?)\(([^()]*)\)$")


class _MappingLoader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false. PyYAML's YAML 1.1 default would turn the boolean
    spellings ``yes``/``no``/``on``/``off`` (or a template's ``[Yes]``) into ``True``/``False``."""


_MappingLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_MappingLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class MappingError(ValueError):
    """The mapping file is invalid; the message names the entry and the problem."""


def normalize_text(value: str) -> str:
    """NFKC (full-width → half-width), brackets unified, all whitespace removed, lower-cased."""
    text = unicodedata.normalize("NFKC", value).translate(_BRACKETS)
    return re.sub(r"\s+", "", text).lower()


def split_header(value: str, units: dict[str, float]) -> tuple[list[str], str | None]:
    """Normalise a header cell into the spellings to look up, and the unit it states.

    ``"挽回经济损失\\n（万元）"`` gives ``(["挽回经济损失(万元)", "挽回经济损失"], "万元")``;
    ``"建会情况 (已建/未建)"`` gives ``(["建会情况(已建/未建)", "建会情况"], None)``.
    """
    full = normalize_text(value)
    if not full:
        return [], None
    candidates = [full]
    unit = None
    match = _TRAILING_PAREN.match(full)
    if match and match.group(1):
        candidates.append(match.group(1))
        if match.group(2) in units:
            unit = match.group(2)
    return candidates, unit


@dataclass(frozen=True)
class FieldSpec:
    """One field of a report kind (a column of the canonical template)."""

    name: str
    header: str
    type: str
    synonyms: tuple[str, ...] = ()
    required: bool = False
    unit: str | None = None
    values: tuple[str, ...] | None = None
    pii: str | None = None  # "drop" | "hash"
    window: str | None = None

    @property
    def stored(self) -> bool:
        """Whether the field becomes a warehouse column (dropped PII does not)."""
        return self.pii != "drop"


@dataclass(frozen=True)
class KindSpec:
    """A report kind: its fields, natural key and the hints that recognise its files."""

    name: str
    title: str
    domain: str
    key: tuple[str, ...]
    fields: dict[str, FieldSpec]
    file_name_hints: tuple[str, ...] = ()

    @property
    def required(self) -> list[str]:
        return [f.name for f in self.fields.values() if f.required]

    @property
    def stored_fields(self) -> list[FieldSpec]:
        return [f for f in self.fields.values() if f.stored]

    def header_lookup(self) -> dict[str, tuple[str, int]]:
        """Normalised header spelling → (field name, priority); 0 = canonical, 1 = synonym."""
        lookup: dict[str, tuple[str, int]] = {}
        for f in self.fields.values():
            for priority, spelling in [(0, f.header)] + [(1, s) for s in f.synonyms]:
                for candidate in split_header(spelling, {})[0]:
                    lookup.setdefault(candidate, (f.name, priority))
        return lookup

    def hinted_by(self, file_name: str) -> bool:
        name = file_name.lower()
        return any(h.lower() in name for h in self.file_name_hints)


@dataclass(frozen=True)
class ValueRules:
    """How values are written: the defaults' (every field set), a template's or one field's
    (``None``: not said at that level, the level above applies)."""

    date_formats: tuple[str, ...] | None = None
    decimal_separator: str | None = None
    thousands_separator: str | None = None
    null_markers: tuple[str, ...] = ()  # normalised (normalize_text)
    booleans: dict[bool, tuple[str, ...]] = field(default_factory=dict)
    excel_date_serials: bool = True


@dataclass(frozen=True)
class FieldRules:
    """The value rules one field is parsed with, resolved field → template → defaults."""

    date_formats: tuple[str, ...]
    excel_date_serials: bool
    decimal_separator: str
    thousands_separator: str
    null_markers: tuple[str, ...]
    booleans: dict[bool, tuple[str, ...]]


@dataclass(frozen=True)
class Template:
    """A street's or a system's own layout, matched by street and file-name glob."""

    name: str
    streets: tuple[str, ...] = ()
    file_glob: str | None = None
    kind: str | None = None
    sheet: str | None = None
    header_row: int | None = None  # 1-based
    columns: dict[str, str] = field(default_factory=dict)  # normalised header → field
    units: dict[str, str] = field(default_factory=dict)  # field → unit
    booleans: dict[bool, tuple[str, ...]] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # field → {spelling: code}
    #: normalised headers of unmapped columns shown in quarantine records (None: the default)
    quarantine_keep_columns: tuple[str, ...] | None = None
    header_scan_rows: int | None = None
    skip_rows_above: int = 0
    skip_rows_below: int = 0
    rules: ValueRules = field(default_factory=ValueRules)
    field_rules: dict[str, ValueRules] = field(default_factory=dict)

    def matches(self, street_code: str, file_name: str) -> bool:
        if self.streets and street_code not in self.streets:
            return False
        return not self.file_glob or fnmatch.fnmatch(file_name.lower(), self.file_glob.lower())

    def reads_sheet(self, sheet_name: str | None) -> bool:
        """Whether the template reads this sheet: ``sheet`` is a name or a glob (``Cases*``),
        compared after :func:`normalize_text`; a file without sheets (CSV, JSON) is read."""
        if not self.sheet or not sheet_name:
            return True
        return fnmatch.fnmatchcase(normalize_text(sheet_name), normalize_text(self.sheet))


@dataclass(frozen=True)
class Mapping:
    """The whole mapping file."""

    path: Path
    header_scan_rows: int
    total_row_markers: tuple[str, ...]
    trailer_row_markers: tuple[str, ...]
    non_data_sheets: tuple[str, ...]
    resubmission_markers: tuple[re.Pattern[str], ...]
    units: dict[str, float]
    booleans: dict[bool, tuple[str, ...]]
    csv_encodings: tuple[str, ...]
    kinds: dict[str, KindSpec]
    templates: tuple[Template, ...]
    #: SHA-256 of the mapping file: ingestion re-reads a street's unchanged files when it changes
    sha256: str = ""
    #: normalised headers of unmapped columns that quarantine records keep (``defaults``)
    quarantine_keep_columns: tuple[str, ...] = ()

    #: the defaults' value rules (every member set): the landing contract's spellings
    rules: ValueRules = field(default_factory=ValueRules)

    def field_rules(self, field_name: str, template: Template | None) -> FieldRules:
        """The rules ``field_name`` is parsed with: the field's own in the template, else the
        template's, else the defaults'. Date formats are tried field/template first, then the
        defaults' (those all start with the year, so a day- or month-first pattern is never
        shadowed); null markers and boolean words add up, the most specific level winning a
        spelling claimed by two."""
        levels = [self.rules]
        if template:
            levels = [template.field_rules.get(field_name, ValueRules()), template.rules, *levels]

        def first(attr: str):
            return next(getattr(r, attr) for r in levels if getattr(r, attr) is not None)

        own = next((r.date_formats for r in levels[:-1] if r.date_formats is not None), ())
        formats = tuple(dict.fromkeys(own + (self.rules.date_formats or ())))
        lookup: dict[str, bool] = {}
        for level in levels:
            for flag in (True, False):
                for word in level.booleans.get(flag, ()):
                    lookup.setdefault(word, flag)
        return FieldRules(
            date_formats=formats,
            excel_date_serials=self.rules.excel_date_serials,
            decimal_separator=first("decimal_separator"),
            thousands_separator=first("thousands_separator"),
            null_markers=tuple(dict.fromkeys(m for r in levels for m in r.null_markers)),
            booleans={
                flag: tuple(w for w, f in lookup.items() if f is flag) for flag in (True, False)
            },
        )

    def template_for(self, street_code: str, file_name: str) -> Template | None:
        """The first template whose street and glob match the file, if any."""
        return next((t for t in self.templates if t.matches(street_code, file_name)), None)

    def keeps_in_quarantine(self, header: str, template: Template | None) -> bool:
        """Whether a column that maps to no field stays in quarantined rows' ``record_json``:
        only when its header is listed under ``quarantine_keep_columns`` (the template's
        list when it has one, else the default); any other unmapped column is dropped."""
        keep = self.quarantine_keep_columns
        if template is not None and template.quarantine_keep_columns is not None:
            keep = template.quarantine_keep_columns
        return bool(set(keep).intersection(split_header(header, self.units)[0]))

    def is_non_data_sheet(self, sheet_name: str) -> bool:
        name = normalize_text(sheet_name)
        return any(name == normalize_text(s) for s in self.non_data_sheets)


def _require(entry: dict, key: str, where: str):
    if key not in entry:
        raise MappingError(f"{where}: missing '{key}'")
    return entry[key]


def _parse_field(name: str, raw: dict, units: dict[str, float], where: str) -> FieldSpec:
    ftype = _require(raw, "type", where)
    if ftype not in FIELD_TYPES:
        raise MappingError(f"{where}: unknown type '{ftype}' (one of {sorted(FIELD_TYPES)})")
    unit = raw.get("unit")
    if unit is not None and unit not in units:
        raise MappingError(f"{where}: unit '{unit}' is not listed under defaults.units")
    window = raw.get("window")
    if window not in WINDOWS:
        raise MappingError(f"{where}: window must be in_year or not_after_year")
    if raw.get("pii") not in (None, "drop", "hash"):
        raise MappingError(f"{where}: pii must be drop or hash")
    values = raw.get("values")
    if ftype == "category" and not values:
        raise MappingError(f"{where}: a category needs its 'values'")
    return FieldSpec(
        name=name,
        header=str(_require(raw, "header", where)),
        type=ftype,
        synonyms=tuple(str(s) for s in raw.get("synonyms", []) or []),
        required=bool(raw.get("required", False)),
        unit=unit,
        values=tuple(str(v) for v in values) if values else None,
        pii=raw.get("pii"),
        window=window,
    )


def _parse_booleans(raw: dict | None) -> dict[bool, tuple[str, ...]]:
    raw = raw or {}
    out: dict[bool, tuple[str, ...]] = {}
    for key, spellings in raw.items():
        flag = str(key).lower() in ("true", "yes", "1")
        out[flag] = tuple(normalize_text(str(s)) for s in spellings or [])
    return out


def _parse_keep_columns(raw, where: str) -> tuple[str, ...] | None:
    """``quarantine_keep_columns``: a list of header spellings (normalised like headers)."""
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(h, str | int) for h in raw):
        raise MappingError(f"{where}: quarantine_keep_columns must be a list of header texts")
    headers = tuple(normalize_text(str(h)) for h in raw)
    if not all(headers):
        raise MappingError(f"{where}: quarantine_keep_columns holds an empty header")
    return headers


def _parse_rules(raw: dict, where: str) -> ValueRules:
    """The value rules of a template or of one of its fields (schema-checked already)."""
    formats = raw.get("date_formats")
    for pattern in formats or ():
        problem = date_format_problem(pattern)
        if problem:
            raise MappingError(f"{where}: date_formats: '{pattern}': {problem}")
    markers = raw.get("null_markers")
    return ValueRules(
        date_formats=tuple(formats) if formats is not None else None,
        decimal_separator=raw.get("decimal_separator"),
        thousands_separator=raw.get("thousands_separator"),
        null_markers=tuple(normalize_text(str(m)) for m in markers or ()),
        booleans=_parse_booleans(raw.get("booleans")),
    )


#: which field types each value rule applies to (a rule on another type is a mistake)
_RULE_TYPES = {
    "date_formats": ("date",),
    "decimal_separator": ("int", "amount"),
    "thousands_separator": ("int", "amount"),
    "booleans": ("bool",),
}


def _check_separators(rules: ValueRules, defaults: ValueRules, where: str) -> None:
    decimal = rules.decimal_separator or defaults.decimal_separator
    thousands = (
        rules.thousands_separator
        if rules.thousands_separator is not None
        else defaults.thousands_separator
    )
    if decimal == thousands:
        raise MappingError(
            f"{where}: decimal_separator and thousands_separator are both '{decimal}'; "
            "set both (e.g. decimal_separator: ',' with thousands_separator: '.')"
        )


def _parse_field_rules(
    raw: dict, specs: dict[str, FieldSpec], defaults: ValueRules, where: str
) -> dict[str, ValueRules]:
    out: dict[str, ValueRules] = {}
    for fname, entry in raw.items():
        spec = specs.get(fname)
        if spec is None:
            raise MappingError(f"{where}: fields.{fname}: unknown field '{fname}'")
        for key, types in _RULE_TYPES.items():
            if entry.get(key) and spec.type not in types:
                raise MappingError(
                    f"{where}: fields.{fname}.{key}: applies to {'/'.join(types)} fields; "
                    f"'{fname}' is {spec.type}"
                )
        out[fname] = _parse_rules(entry, f"{where}: fields.{fname}")
        _check_separators(out[fname], defaults, f"{where}: fields.{fname}")
    return out


def _parse_template(
    raw: dict,
    kinds: dict[str, KindSpec],
    units: dict,
    index: int,
    defaults: ValueRules | None = None,
) -> Template:
    name = str(raw.get("name") or f"templates[{index}]")
    where = f"template '{name}'"
    kind = raw.get("kind")
    if kind is not None and kind not in kinds:
        raise MappingError(f"{where}: unknown kind '{kind}'")
    known_fields = (
        set(kinds[kind].fields) if kind else {f for k in kinds.values() for f in k.fields}
    )
    columns: dict[str, str] = {}
    for header, target in (raw.get("columns") or {}).items():
        if target not in known_fields:
            raise MappingError(f"{where}: column '{header}' maps to unknown field '{target}'")
        columns[normalize_text(str(header))] = target
    specs = {f: s for k in ([kinds[kind]] if kind else kinds.values()) for f, s in k.fields.items()}
    tunits = {str(k): str(v) for k, v in (raw.get("units") or {}).items()}
    for fname, unit in tunits.items():
        if unit not in units:
            raise MappingError(f"{where}: unit '{unit}' of '{fname}' is not in defaults.units")
        if fname not in specs:
            raise MappingError(f"{where}: units.{fname}: unknown field '{fname}'")
        if specs[fname].type not in ("int", "amount"):
            raise MappingError(
                f"{where}: units.{fname}: a unit scales numbers, '{fname}' is {specs[fname].type}"
            )
    values = {
        str(f): {normalize_text(str(k)): str(v) for k, v in (m or {}).items()}
        for f, m in (raw.get("values") or {}).items()
    }
    for fname, spellings in values.items():
        spec = specs.get(fname)
        if spec is None:
            raise MappingError(f"{where}: values.{fname}: unknown field '{fname}'")
        if spec.type != "category":
            raise MappingError(
                f"{where}: values.{fname}: 'values' maps the codes of a category field; "
                f"'{fname}' is {spec.type}"
                + (" (booleans: use 'booleans:')" if spec.type == "bool" else "")
            )
        unknown = sorted({code for code in spellings.values() if code not in (spec.values or ())})
        if unknown:
            raise MappingError(
                f"{where}: values.{fname}: code(s) {unknown} not in the vocabulary of "
                f"'{fname}' ({', '.join(spec.values or ())})"
            )
    header_row = raw.get("header_row")
    if header_row is not None and (not isinstance(header_row, int) or header_row < 1):
        raise MappingError(f"{where}: header_row must be a row number starting at 1")
    streets = raw.get("streets") or ([raw["street"]] if raw.get("street") else [])
    defaults = defaults or ValueRules()
    rules = _parse_rules(raw, where)
    _check_separators(rules, defaults, where)
    return Template(
        name=name,
        streets=tuple(streets),
        file_glob=raw.get("file_glob"),
        kind=kind,
        sheet=raw.get("sheet"),
        header_row=header_row,
        columns=columns,
        units=tunits,
        booleans=rules.booleans,
        values=values,
        quarantine_keep_columns=_parse_keep_columns(raw.get("quarantine_keep_columns"), where),
        header_scan_rows=raw.get("header_scan_rows"),
        skip_rows_above=int(raw.get("skip_rows_above") or 0),
        skip_rows_below=int(raw.get("skip_rows_below") or 0),
        rules=rules,
        field_rules=_parse_field_rules(raw.get("fields") or {}, specs, defaults, where),
    )


def load_mapping(path: Path | str | None = None) -> Mapping:
    """Load and validate the mapping; ``GONGHUI_MAPPING`` overrides the default path."""
    path = Path(path or os.environ.get("GONGHUI_MAPPING") or DEFAULT_MAPPING_PATH)
    try:
        data = path.read_bytes()
        doc = yaml.load(data.decode("utf-8"), Loader=_MappingLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise MappingError(f"{path}: cannot be read: {exc}") from exc
    problems = validate_document(doc, path.name)
    if problems:
        raise MappingError("\n".join(problems))
    defaults = doc.get("defaults") or {}
    for name in ("total_row_markers", "trailer_row_markers", "non_data_sheets"):
        bad = [m for m in defaults.get(name) or [] if not isinstance(m, str | int)]
        if bad:
            raise MappingError(
                f"{path.name}: defaults.{name} holds non-text entries {bad}; quote them"
            )
    units = {str(k): float(v) for k, v in (defaults.get("units") or {"元": 1}).items()}
    kinds: dict[str, KindSpec] = {}
    for kname, kraw in (_require(doc, "kinds", str(path)) or {}).items():
        where = f"{path.name}: kinds.{kname}"
        fields = {
            fname: _parse_field(fname, fraw, units, f"{where}.fields.{fname}")
            for fname, fraw in (_require(kraw, "fields", where) or {}).items()
        }
        key = tuple(kraw.get("key") or [])
        for k in key:
            if k not in fields:
                raise MappingError(f"{where}: key field '{k}' is not a field")
        kinds[kname] = KindSpec(
            name=kname,
            title=str(kraw.get("title", kname)),
            domain=str(kraw.get("domain", "")),
            key=key,
            fields=fields,
            file_name_hints=tuple(kraw.get("file_name_hints") or []),
        )
    default_formats = defaults.get("date_formats") or list(CONTRACT_DATE_FORMATS)
    for pattern in default_formats:
        problem = date_format_problem(pattern)
        if problem:
            raise MappingError(f"{path.name}: defaults.date_formats: '{pattern}': {problem}")
    rules = ValueRules(
        date_formats=tuple(default_formats),
        decimal_separator=defaults.get("decimal_separator", "."),
        thousands_separator=defaults.get("thousands_separator", ","),
        null_markers=tuple(normalize_text(str(m)) for m in defaults.get("null_markers") or ()),
        booleans=_parse_booleans(defaults.get("booleans")),
        excel_date_serials=bool(defaults.get("excel_date_serials", True)),
    )
    _check_separators(rules, rules, f"{path.name}: defaults")
    templates = tuple(
        _parse_template(t, kinds, units, i, rules) for i, t in enumerate(doc.get("templates") or [])
    )
    return Mapping(
        path=path,
        header_scan_rows=int(defaults.get("header_scan_rows", 40)),
        total_row_markers=tuple(defaults.get("total_row_markers") or ["合计", "小计"]),
        trailer_row_markers=tuple(defaults.get("trailer_row_markers") or []),
        non_data_sheets=tuple(defaults.get("non_data_sheets") or []),
        resubmission_markers=tuple(
            re.compile(p, re.IGNORECASE) for p in defaults.get("resubmission_markers") or []
        ),
        units=units,
        booleans=_parse_booleans(defaults.get("booleans")),
        csv_encodings=tuple(defaults.get("csv_encodings") or ["utf-8-sig", "gb18030"]),
        kinds=kinds,
        templates=templates,
        sha256=hashlib.sha256(data).hexdigest(),
        quarantine_keep_columns=_parse_keep_columns(
            defaults.get("quarantine_keep_columns"), f"{path.name}: defaults"
        )
        or (),
        rules=rules,
    )
