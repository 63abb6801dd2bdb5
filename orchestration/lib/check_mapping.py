"""``gonghui check-mapping FILE``: how ingestion would read one landing file, dry.

For one file it reports the template used, the report kind each sheet was recognised as, how
every column was mapped (header → field, unit) and which were not, required fields missing,
row counts, and the first rows that would be quarantined and why. It runs the real engine
(:func:`orchestration.lib.ingest.files.process_file`) with an in-memory result and never opens the
warehouse, so a data engineer can iterate on ``mapping/sources.yml`` against a new export.

The street and year come from the path when the file sits under ``<raw>/<year>/<street>/``;
otherwise (or to override) from ``street``/``year``: the file is then linked into a temporary
``<year>/<street>/`` folder, never moved or modified.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from orchestration.lib.ingest.files import process_file
from orchestration.lib.ingest.keys import DEV_PII_KEY
from orchestration.lib.ingest.results import FileResult
from orchestration.lib.mapping import Mapping, Template, load_mapping
from orchestration.lib.streets import load_street_codes

_YEAR = re.compile(r"(19|20)\d{2}")


class CheckMappingError(ValueError):
    """The file cannot be checked (missing, or no street/year); the message says why."""


def column_letter(column: str) -> str:
    """``c0`` → ``A``, ``c27`` → ``AB`` (the reader names columns ``c<index>``)."""
    if not (column.startswith("c") and column[1:].isdigit()):
        return column
    n, letters = int(column[1:]) + 1, ""
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def locate_in_landing(path: Path, street_codes: list[str]) -> tuple[Path, int, str] | None:
    """``(raw_dir, year, street)`` when ``path`` sits under ``<raw>/<year>/<street>/``."""
    for folder in path.parents:
        parent = folder.parent
        if folder.name in street_codes and _YEAR.fullmatch(parent.name):
            return parent.parent, int(parent.name), folder.name
    return None


@dataclass(frozen=True)
class QuarantineGate:
    """The quarantine threshold of the quality gate (``gate_quarantine_rate`` in gate.yml)."""

    max_rate_pct: float = 10.0
    min_rows: int = 20
    source: str = "expectations/gate.yml"


def quarantine_gate() -> QuarantineGate:
    """The gate's threshold, read through :func:`orchestration.lib.gate.load_gate_config`
    (``GONGHUI_EXPECTATIONS_DIR``); the shipped defaults when gate.yml cannot be read."""
    from orchestration.lib.gate import GateConfigError, load_gate_config

    try:
        config = load_gate_config()
    except (GateConfigError, OSError) as exc:
        return QuarantineGate(source=f"built-in default; the gate configuration failed: {exc}")
    suite = config.suites.get("gate_quarantine_rate")
    if suite is None:
        return QuarantineGate(max_rate_pct=float("inf"), source=str(config.root / "gate.yml"))
    params = suite.parameters
    return QuarantineGate(
        max_rate_pct=float(params.get("max_quarantine_rate_pct", 10.0)),
        min_rows=int(params.get("min_rows_for_rate", 0)),
        source=str(config.root / "gate.yml"),
    )


@dataclass
class MappingCheck:
    """The dry-run reading of one file."""

    path: Path
    street: str
    year: int
    template: Template | None
    mapping: Mapping
    result: FileResult
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    loaded: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    rows_shown: int = 5
    gate: QuarantineGate = field(default_factory=lambda: QuarantineGate())
    #: (reason code, rows, first message) of the quarantined rows, most frequent first
    top_reasons: list[tuple[str, int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True only when rows would load: the file is read, has data rows, and no more of
        them would be quarantined than the gate allows (all of them never)."""
        return self.verdict[0] == "loads"

    @property
    def verdict(self) -> tuple[str, str]:
        """``("loads" | "fails" | <file status>, why)`` — what ingestion would make of it."""
        r = self.result
        if r.status != "loaded":
            return r.status, r.reason or ""
        if r.rows_data == 0:
            return "fails", "no data rows under the header: nothing would load"
        if r.rows_loaded == 0:
            return "fails", f"all {r.rows_data} data rows would be quarantined"
        rate = 100.0 * r.rows_quarantined / r.rows_data
        if rate > self.gate.max_rate_pct and r.rows_data >= self.gate.min_rows:
            return "fails", (
                f"{r.rows_quarantined} of {r.rows_data} data rows ({rate:.1f} %) would be "
                f"quarantined; the gate blocks above {self.gate.max_rate_pct:g} % "
                f"(gate_quarantine_rate in {self.gate.source})"
            )
        return "loads", f"{r.rows_loaded} of {r.rows_data} data rows would load"

    def to_dict(self) -> dict[str, Any]:
        r = self.result
        return {
            "file": str(self.path),
            "street": self.street,
            "year": self.year,
            "mapping": str(self.mapping.path),
            "template": self.template.name if self.template else None,
            "status": self.verdict[0],
            "reason": self.verdict[1],
            "file_status": r.status,
            "top_reasons": [
                {"reason_code": code, "rows": n, "example": example}
                for code, n, example in self.top_reasons
            ],
            "kind": r.kind,
            "format": r.file_format,
            "encoding": r.encoding,
            "period": r.period.label if r.period else None,
            "version": r.version,
            "sheets": [
                {
                    "sheet": layout.sheet,
                    "kind": layout.kind,
                    "header_row": layout.header_row,
                    "columns": [
                        {
                            "column": column_letter(c.column),
                            "header": c.header,
                            "field": c.field,
                            "unit": c.unit,
                        }
                        for c in layout.columns
                    ],
                    "missing_required": layout.missing_required,
                    "fields_without_column": self._absent(layout),
                }
                for layout in r.layouts
            ],
            "rows": {
                "data": r.rows_data,
                "loaded": r.rows_loaded,
                "quarantined": r.rows_quarantined,
                "skipped": r.rows_skipped,
            },
            "quarantine": self.quarantine,
            "loaded_preview": self.loaded,
            "control_totals": r.control_totals,
            "notes": r.notes,
        }

    def _absent(self, layout) -> list[str]:
        kind = self.mapping.kinds[layout.kind]
        mapped = {c.field for c in layout.columns if c.field}
        return [f for f in kind.fields if f not in mapped and f not in layout.missing_required]

    def render(self) -> str:
        r = self.result
        tpl = self.template
        lines = [
            f"{self.path}",
            f"  street {self.street}, year {self.year}, format {r.file_format}"
            + (f" ({r.encoding})" if r.encoding else "")
            + (f", period {r.period.label}" if r.period else "")
            + (f", resubmission v{r.version}" if r.version > 1 else ""),
            f"  mapping {self.mapping.path}",
            "  template: "
            + (
                f"{tpl.name} (kind {tpl.kind or 'by headers'}, sheet {tpl.sheet or 'any'}, "
                f"header row {tpl.header_row or 'searched'})"
                if tpl
                else "none — the default headers and synonyms of the kinds"
            ),
        ]
        if r.kind:
            titles = ", ".join(f"{k} ({self.mapping.kinds[k].title})" for k in r.kind.split(","))
            lines.append(f"  recognised as: {titles}")
        else:
            lines.append("  recognised as: —")
        status, why = self.verdict
        lines.append(f"  status: {status.upper()}" + (f" — {why}" if why else ""))
        if status == "fails" and self.top_reasons:
            lines.append("  top reasons:")
            for code, n, example in self.top_reasons:
                lines.append(f"    {n:>6} × {code}  e.g. {example}")
        for layout in r.layouts:
            where = f"sheet '{layout.sheet}'" if layout.sheet else "file"
            lines.append("")
            lines.append(f"  {where}: {layout.kind}, header on row {layout.header_row}")
            width = max((len(c.header.replace("\n", " ")) for c in layout.columns), default=6)
            width = min(max(width, 6), 40)
            for c in layout.columns:
                header = c.header.replace("\n", " ")
                target = c.field or "— unmapped (ignored)"
                unit = f"  unit {c.unit}" if c.unit else ""
                lines.append(
                    f"    {column_letter(c.column):>3}  {header:<{width}}  → {target}{unit}"
                )
            missing = layout.missing_required
            lines.append("    required fields missing: " + (", ".join(missing) or "none"))
            absent = self._absent(layout)
            if absent:
                lines.append("    optional fields without a column: " + ", ".join(absent))
        lines.append("")
        lines.append(
            f"  rows: {r.rows_data} data, {r.rows_loaded} would load, "
            f"{r.rows_quarantined} would be quarantined, {r.rows_skipped} skipped "
            "(blank, 合计/小计, 填表人 …)"
        )
        if r.control_totals:
            off = [t for t in r.control_totals if t["stated_value"] != t["computed_value"]]
            lines.append(
                f"  control totals: {len(r.control_totals)} checked, {len(off)} do not match"
            )
        if self.quarantine:
            lines.append(f"  first rows that would be quarantined (of {r.rows_quarantined}):")
            for q in self.quarantine:
                where = f"sheet '{q['sheet']}' " if q["sheet"] else ""
                lines.append(f"    {where}row {q['row']}: {q['reason']}")
        for kind, rows in self.loaded.items():
            lines.append(f"  first rows as they would load into raw.{kind}:")
            for row in rows:
                shown = ", ".join(f"{k}={v}" for k, v in row.items() if v is not None)
                lines.append(f"    {shown}")
        for note in r.notes:
            lines.append(f"  note: {note}")
        if r.status == "unrecognised":
            lines.append(
                "  hint: `gonghui check-mapping FILE --suggest` shows its rows, the likely header "
                "row and fields, and drafts a templates: entry"
            )
        return "\n".join(lines)


def _top_reasons(result: FileResult, n: int = 5) -> list[tuple[str, int, str]]:
    if not result.quarantined:
        return []
    frame = pl.concat(result.quarantined, how="diagonal_relaxed")
    top = (
        frame.group_by("reason_code")
        .agg(pl.len().alias("rows"), pl.col("reason").first().alias("example"))
        .sort(["rows", "reason_code"], descending=[True, False])
        .head(n)
    )
    return [(r["reason_code"], r["rows"], r["example"]) for r in top.iter_rows(named=True)]


def _previews(result: FileResult, rows: int) -> tuple[list[dict], dict[str, list[dict]]]:
    quarantine: list[dict[str, Any]] = []
    if result.quarantined:
        frame = pl.concat(result.quarantined, how="diagonal_relaxed").sort(
            ["_source_sheet", "_source_row"], nulls_last=True
        )
        quarantine = [
            {
                "sheet": q["_source_sheet"],
                "row": q["_source_row"],
                "reason_code": q["reason_code"],
                "reason": q["reason"],
                "record": q["record_json"],
            }
            for q in frame.head(rows).iter_rows(named=True)
        ]
    loaded: dict[str, list[dict[str, Any]]] = {}
    for kind, frames in result.loaded.items():
        frame = pl.concat(frames, how="diagonal_relaxed").head(rows)
        hidden = [c for c in frame.columns if c.startswith("_") or c in ("year", "street_code")]
        loaded[kind] = [
            {k: (str(v) if v is not None else None) for k, v in row.items()}
            for row in frame.drop(hidden).iter_rows(named=True)
        ]
    return quarantine, loaded


def check_file(
    path: Path | str,
    *,
    mapping: Mapping | None = None,
    street: str | None = None,
    year: int | None = None,
    rows: int = 5,
    key: bytes | None = None,
) -> MappingCheck:
    """Read ``path`` as ingestion would, without writing anywhere."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise CheckMappingError(f"{path}: no such file")
    mapping = mapping or load_mapping()
    codes = load_street_codes()
    if street is not None and street not in codes:
        raise CheckMappingError(f"'{street}' is not a street code of the streets list: {codes}")
    found = locate_in_landing(path, codes)
    if found and (street in (None, found[2])) and (year in (None, found[1])):
        raw_dir, year, street = found
        return _check(path, raw_dir, mapping, street, year, rows, key)
    year = year if year is not None else (found[1] if found else None)
    street = street if street is not None else (found[2] if found else None)
    if year is None or street is None:
        raise CheckMappingError(
            f"{path} is not under <raw>/<year>/<street_code>/: pass --street and --year"
        )
    with tempfile.TemporaryDirectory(prefix="gonghui-check-") as tmp:
        link = Path(tmp) / str(year) / street / path.name
        link.parent.mkdir(parents=True)
        try:
            link.symlink_to(path)
        except OSError:
            shutil.copyfile(path, link)
        check = _check(link, Path(tmp), mapping, street, year, rows, key)
        check.path = path
        check.result.path = path
        return check


def _check(
    path: Path,
    raw_dir: Path,
    mapping: Mapping,
    street: str,
    year: int,
    rows: int,
    key: bytes | None,
) -> MappingCheck:
    key = key or (os.environ.get("GONGHUI_PII_KEY") or DEV_PII_KEY).encode("utf-8")
    result = process_file(
        path, raw_dir, mapping, street_codes=load_street_codes(), key=key, run_id="check-mapping"
    )
    quarantine, loaded = _previews(result, rows)
    return MappingCheck(
        path=path,
        street=street,
        year=year,
        template=mapping.template_for(street, path.name),
        mapping=mapping,
        result=result,
        quarantine=quarantine,
        loaded=loaded,
        rows_shown=rows,
        gate=quarantine_gate(),
        top_reasons=_top_reasons(result),
    )
