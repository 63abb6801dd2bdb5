"""The quality gate: a thin bridge from the working DuckDB database to Great Expectations 1.x.

``expectations/gate.yml`` is the whole definition of every suite: the asset it checks, the
query whose result it validates, its expectations, thresholds and severity.
:func:`load_gate_config` reads it (cheap, no GX import) when the Dagster definitions load;
:func:`run_suites` builds the GX 1.x objects from it (``gx.ExpectationSuite``,
``gx.ValidationDefinition``, ``gx.Checkpoint`` in an ephemeral data context whose validation
results and Data Docs are files under the warehouse) and runs them — it is the only place that
imports ``great_expectations``, which is slow to import.

What a suite validates is small: an aggregate DuckDB computes over the working database (the
submissions per street and kind, the control totals, the quarantine counts, the rows per year
of each table), handed to GX as a pandas DataFrame. The large tables never leave DuckDB; their
row- and column-level checks are dbt tests (see the mapping in ``gate.yml``).

Severity: a suite fails when one of its *critical* expectations fails; ``severity`` in
``gate.yml`` says whether that blocks publication (``block``) or is reported (``warn``).
Expectations with GX severity ``warning``/``info`` never fail a suite; what they find is listed.
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from orchestration.lib.constants import PROJECT_ROOT
from orchestration.lib.mapping import Mapping

DEFAULT_EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
GATE_FILE = "gate.yml"
SEVERITIES = ("block", "warn")
DATA_DOCS_SITE = "gonghui_data_docs"
SEEDS_DIR = PROJECT_ROOT / "dbt_project" / "seeds"
#: schema of the working database → schema of the published mart (see lib/publish.py)
_PUBLISHED_SCHEMA = {"marts": "main", "audit": "audit"}


class GateConfigError(ValueError):
    """``gate.yml`` is invalid; the message names the entry and the problem."""


@dataclass(frozen=True)
class SuiteConfig:
    name: str
    asset: tuple[str, ...]
    severity: str
    query: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    #: GX expectation configurations: ``type``, ``kwargs`` (``$name`` → ``{"$PARAMETER": name}``),
    #: ``description``, ``severity``
    expectations: tuple[dict[str, Any], ...] = ()
    #: columns identifying a failing row (GX ``unexpected_index_column_names``)
    index_columns: tuple[str, ...] = ()
    #: failing rows GX reports per expectation (``partial_unexpected_count``)
    findings_shown: int = 20
    #: instead of a query: table → report kind whose rows per year are compared year on year
    row_counts: dict[str, str | None] = field(default_factory=dict)
    #: severity of this suite's findings for an *open* year (lib/calendar.py), e.g. ``warn``
    #: for source completeness: a street that has not submitted yet is not an error until the
    #: year closes; ``None``: as for a closed year
    open_year_severity: str | None = None

    @property
    def blocking(self) -> bool:
        return self.severity == "block"


@dataclass(frozen=True)
class GateConfig:
    root: Path
    suites: dict[str, SuiteConfig]


def expectations_dir() -> Path:
    """``GONGHUI_EXPECTATIONS_DIR`` or the repository's ``expectations/``."""
    from orchestration.lib.settings import Settings

    return Settings.from_env().expectations_dir


def load_gate_config(root: Path | None = None) -> GateConfig:
    """Read ``<root>/gate.yml`` (thresholds, severities, queries), validating every entry."""
    root = Path(root) if root else expectations_dir()
    path = root / GATE_FILE
    if not path.is_file():
        raise GateConfigError(f"{path}: not found (GONGHUI_EXPECTATIONS_DIR = {root})")
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    defaults = doc.get("defaults") or {}
    suites: dict[str, SuiteConfig] = {}
    for name, entry in (doc.get("checks") or {}).items():
        entry = entry or {}
        severity = entry.get("severity", defaults.get("severity", "block"))
        if severity not in SEVERITIES:
            raise GateConfigError(f"{path}: checks.{name}.severity must be block or warn")
        asset = entry.get("asset")
        if not asset or not isinstance(asset, list):
            raise GateConfigError(f"{path}: checks.{name}.asset must be a list, e.g. [marts, x]")
        row_counts = entry.get("row_counts") or {}
        if not entry.get("query") and not row_counts:
            raise GateConfigError(f"{path}: checks.{name} needs a query or row_counts")
        if not isinstance(row_counts, dict) or not all("." in str(t) for t in row_counts):
            raise GateConfigError(
                f"{path}: checks.{name}.row_counts must map schema.table to a report kind"
            )
        suites[name] = SuiteConfig(
            name=name,
            asset=tuple(str(a) for a in asset),
            severity=severity,
            query=entry.get("query") or "",
            description=" ".join(str(entry.get("description", "")).split()),
            parameters={**(defaults.get("parameters") or {}), **(entry.get("parameters") or {})},
            expectations=_expectations(path, name, entry.get("expectations")),
            index_columns=tuple(str(c) for c in entry.get("index_columns") or ()),
            findings_shown=int(entry.get("findings_shown", 20)),
            row_counts={str(t): k for t, k in row_counts.items()},
            open_year_severity=_open_year_severity(path, name, entry),
        )
    return GateConfig(root=root, suites=suites)


_EXPECTATION_KEYS = ("type", "description", "severity")


def _parameter(value: Any) -> Any:
    """``"$name"`` in gate.yml → GX's ``{"$PARAMETER": "name"}``."""
    if isinstance(value, str) and re.fullmatch(r"\$[A-Za-z_][A-Za-z0-9_]*", value):
        return {"$PARAMETER": value[1:]}
    return value


def _expectations(path: Path, name: str, entries: Any) -> tuple[dict[str, Any], ...]:
    """The ``expectations`` of a gate.yml entry as GX expectation configurations."""
    if not entries or not isinstance(entries, list):
        raise GateConfigError(f"{path}: checks.{name}.expectations must be a non-empty list")
    out = []
    for i, entry in enumerate(entries):
        where = f"{path}: checks.{name}.expectations[{i}]"
        if not isinstance(entry, dict) or not str(entry.get("type", "")).startswith("expect_"):
            raise GateConfigError(f"{where}: needs a type, e.g. expect_column_values_to_be_between")
        severity = entry.get("severity", "critical")
        if severity not in ("critical", "warning", "info"):
            raise GateConfigError(f"{where}: severity must be critical, warning or info")
        out.append(
            {
                "type": entry["type"],
                "description": " ".join(str(entry.get("description", "")).split()) or None,
                "severity": severity,
                "kwargs": {
                    k: _parameter(v) for k, v in entry.items() if k not in _EXPECTATION_KEYS
                },
            }
        )
    return tuple(out)


def _open_year_severity(path: Path, name: str, entry: dict[str, Any]) -> str | None:
    value = entry.get("open_year_severity")
    if value is not None and value not in SEVERITIES:
        raise GateConfigError(f"{path}: checks.{name}.open_year_severity must be block or warn")
    return value


# --------------------------------------------------------------------------------- outcomes


@dataclass
class Finding:
    """One failing row (or table-level observation) of one expectation."""

    street: str | None
    kind: str | None
    rule: str
    observed: str
    severity: str  # block | warn
    row: dict[str, Any] = field(default_factory=dict)
    #: the expectation's column and its value in this row (e.g. rows_quarantined = 3), so a
    #: summary can total the findings of one rule
    column: str | None = None
    value: Any = None
    #: the reporting year of the failing row (``None``: the finding concerns no one year)
    year: int | None = None

    def message(self) -> str:
        where = " · ".join(x for x in (self.street, self.kind) if x) or "table"
        return f"{where} · {self.rule} · observed {self.observed}"


@dataclass
class SuiteOutcome:
    name: str
    severity: str
    passed: bool
    rows_validated: int
    failed_expectations: list[dict[str, Any]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    data_docs: str | None = None
    seconds: float = 0.0
    #: years named by blocking findings: publication holds these years back
    blocked_years: list[int] = field(default_factory=list)
    #: a blocking finding names no year (or not every failing row was listed): every year
    blocks_all_years: bool = False

    @property
    def blocks(self) -> bool:
        return not self.passed and self.severity == "block"

    def summary(self) -> str:
        if self.passed and not self.findings:
            return f"{self.rows_validated} rows, every expectation met"
        failed = [f for f in self.failed_expectations if f["critical"]]
        head = (
            f"{len(failed)} expectation(s) failed"
            if failed
            else f"passed; {len(self.findings)} finding(s) listed for review"
        )
        # a failed suite names its failing (critical) findings, not the ones listed for review
        named = [f for f in self.findings if f.severity != "warn"] if failed else self.findings
        shown = "; ".join(f.message() for f in named[:3])
        more = f" (+{len(named) - 3} more)" if len(named) > 3 else ""
        return f"{head}: {shown}{more}" if shown else head

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["findings"] = [asdict(f) for f in self.findings]
        return out


# --------------------------------------------------------------------------------- parameters


def _seed_column(name: str, column: str) -> list[str]:
    with (SEEDS_DIR / f"{name}.csv").open(encoding="utf-8") as fh:
        return [row[column] for row in csv.DictReader(fh)]


def reference_parameters(mapping: Mapping) -> dict[str, Any]:
    """The code lists every suite may refer to as ``{"$PARAMETER": name}`` (the streets: the
    configured streets list, ``GONGHUI_STREETS``)."""
    from orchestration.lib.streets import load_street_codes

    streets = load_street_codes()
    params: dict[str, Any] = {
        "street_codes": streets,
        "reporting_units": [*streets, "district"],
        "indicator_codes": _seed_column("indicators", "indicator_code"),
        "report_kinds": list(mapping.kinds),
    }
    for kind in mapping.kinds.values():
        for spec in kind.fields.values():
            if spec.values:
                params[f"codes_{kind.name}_{spec.name}"] = list(spec.values)
    return params


def _plain(value: Any) -> Any:
    """JSON-friendly scalars (numpy/pandas → Python, NaN → None, dates → ISO text)."""
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        with contextlib.suppress(ValueError, AttributeError):
            value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


# --------------------------------------------------------------------------------- running


def _query_parameters(query: str, params: dict[str, Any]) -> dict[str, Any]:
    names = set(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", query))
    missing = names - set(params)
    if missing:
        raise GateConfigError(f"query refers to undefined parameter(s) {sorted(missing)}")
    return {n: params[n] for n in names}


def _row_counts_frame(con, tables: dict[str, str | None], published: bool):
    """Rows per (table, year) counted in DuckDB, with the previous year's rows (as published,
    else as built) and their ratio: a few rows per table, whatever the table's size."""
    import pandas as pd

    rows = []
    for table, kind in tables.items():
        current, previous, ratios = _row_count_ratios(con, table, published)
        for year in sorted(ratios):
            reference = previous.get(year - 1, current.get(year - 1))
            rows.append(
                {
                    "table_name": table,
                    "report_kind": kind,
                    "year": year,
                    "rows": current[year],
                    "previous_year_rows": reference,
                    "row_count_ratio": ratios[year],
                }
            )
    frame = pd.DataFrame(
        rows,
        columns=[
            "table_name",
            "report_kind",
            "year",
            "rows",
            "previous_year_rows",
            "row_count_ratio",
        ],
    )
    frame["row_count_ratio"] = frame["row_count_ratio"].astype("float64")
    return frame


def _row_count_ratios(
    con, table: str, published: bool
) -> tuple[dict[int, int], dict[int, int], dict[int, float | None]]:
    """Rows per year of ``table``, of the published table, and the ratio of each year's rows
    to the previous year's as published (else as built)."""
    schema, name = table.split(".", 1)
    current = dict(con.execute(f"select year, count(*) from {table} group by 1").fetchall())
    previous: dict[int, int] = {}
    if published:
        exists = con.execute(
            "select count(*) from duckdb_tables() where database_name = 'published' "
            "and schema_name = ? and table_name = ?",
            [_PUBLISHED_SCHEMA.get(schema, schema), name],
        ).fetchone()[0]
        if exists:
            previous = dict(
                con.execute(
                    f"select year, count(*) from published.{_PUBLISHED_SCHEMA.get(schema, schema)}"
                    f'."{name}" group by 1'
                ).fetchall()
            )
    ratios: dict[int, float | None] = {}
    for year, rows in current.items():
        if year is None:
            continue
        reference = previous.get(year - 1, current.get(year - 1))
        ratios[year] = round(rows / reference, 4) if reference else None
    return current, previous, ratios


def _year_of(row: dict[str, Any]) -> int | None:
    try:
        return int(row["year"]) if row.get("year") is not None else None
    except (TypeError, ValueError):
        return None


def _findings(
    result: Any, suite: SuiteConfig, open_years: frozenset[int] = frozenset()
) -> tuple[list[dict[str, Any]], list[Finding]]:
    """The failed expectations and their findings. A critical finding of an open year takes
    the suite's ``open_year_severity``; an expectation whose critical rows all became ``warn``
    that way no longer fails the suite (``critical`` false, ``open_years_only`` true)."""
    failed, findings = [], []
    for er in result.results:
        if er.success:
            continue
        config = er.expectation_config
        critical = getattr(config.severity, "value", str(config.severity)) == "critical"
        level = suite.severity if critical else "warn"
        kwargs = config.kwargs
        rule = config.description or f"{config.type}({kwargs.get('column', '')})"
        res = er.result or {}
        entry_index = len(failed)
        failed.append(
            {
                "rule": rule,
                "expectation": config.type,
                "column": kwargs.get("column") or kwargs.get("column_list"),
                "level": level,
                "critical": critical,
                "unexpected_count": _plain(res.get("unexpected_count")),
                "observed_value": _plain(res.get("observed_value")),
                "exception": (er.exception_info or {}).get("exception_message")
                if isinstance(er.exception_info, dict)
                else None,
            }
        )
        rows = res.get("partial_unexpected_index_list") or []
        if not rows:
            observed = res.get("observed_value")
            if observed is None and er.exception_info:
                observed = "error: " + str(
                    (er.exception_info or {}).get("exception_message", "")
                    if isinstance(er.exception_info, dict)
                    else er.exception_info
                )
            findings.append(Finding(None, None, rule, str(_plain(observed)), level))
            continue
        listed = len(rows)
        unexpected = _plain(res.get("unexpected_count"))
        complete = not isinstance(unexpected, int) or unexpected <= listed
        downgraded = 0
        for row in rows:
            row = _plain(dict(row))
            year = _year_of(row)
            row_level = level
            if (
                critical
                and complete
                and suite.open_year_severity
                and year is not None
                and year in open_years
            ):
                row_level = suite.open_year_severity
                downgraded += row_level != level
            values = {k: v for k, v in row.items() if k not in ("street_code", "report_kind")}
            if config.type == "expect_compound_columns_to_be_unique":
                observed = "duplicated key " + ", ".join(
                    f"{c}={row.get(c)}" for c in kwargs.get("column_list", [])
                )
            else:
                observed = ", ".join(f"{k}={v}" for k, v in values.items()) or "unexpected"
            column = kwargs.get("column")
            findings.append(
                Finding(
                    row.get("street_code"),
                    row.get("report_kind"),
                    rule,
                    observed,
                    row_level,
                    row,
                    column=column,
                    value=row.get(column) if column else None,
                    year=year,
                )
            )
        if critical and downgraded == listed and listed:
            failed[entry_index]["critical"] = False
            failed[entry_index]["level"] = suite.open_year_severity
            failed[entry_index]["open_years_only"] = True
        elif critical and not complete:
            # not every failing row was listed: the years it concerns are not all known
            failed[entry_index]["years_incomplete"] = True
    return failed, findings


def blocked_years(
    failed: list[dict[str, Any]], findings: list[Finding], severity: str
) -> tuple[list[int], bool]:
    """(years named by the blocking findings, whether the failure blocks every year).

    A failure blocks every year when a blocking finding names no year, or when not every
    failing row of a critical expectation was listed (its years are not all known)."""
    if severity != "block" or not any(f["critical"] for f in failed):
        return [], False
    blocking = [f for f in findings if f.severity == "block"]
    every = any(f.year is None for f in blocking) or any(
        f.get("years_incomplete") for f in failed if f["critical"]
    )
    years = {f.year for f in blocking if f.year is not None}
    years.update(y for f in failed if f["critical"] for y in f.get("years") or [])
    return sorted(years), every


def query_frame(con, query: str, params: dict[str, Any]):
    """The result of ``query`` as a pandas DataFrame, through Arrow.

    Same dtypes as DuckDB's ``.df()`` (integer and boolean columns are numpy when they hold no
    NULL, pandas' nullable types when they do; strings are pandas strings), about four times
    faster on the million-row member table (0.44 s vs 1.5 s).
    """
    import pandas as pd
    import pyarrow as pa

    nullable = {
        pa.int8(): pd.Int8Dtype(),
        pa.int16(): pd.Int16Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(),
        pa.bool_(): pd.BooleanDtype(),
    }
    table = con.sql(query, params=params or None).to_arrow_table()
    return pd.DataFrame(
        {
            name: column.to_pandas(
                types_mapper=nullable.get if column.null_count else None, date_as_object=False
            )
            for name, column in zip(table.column_names, table.columns, strict=True)
        }
    )


def run_suites(
    names: list[str],
    config: GateConfig,
    *,
    working_db: Path,
    published_mart: Path | None,
    warehouse_dir: Path,
    mapping: Mapping,
    open_years: frozenset[int] | set[int] = frozenset(),
) -> dict[str, SuiteOutcome]:
    """Validate the suites ``names`` against the working database; build their Data Docs.

    ``open_years``: reporting years still open (lib/calendar.py). Their findings take a
    suite's ``open_year_severity``, and their rows are not compared with the previous year's
    row count (an open year has only the submissions received so far).

    Validation results go to ``<warehouse_dir>/gx/validations/``, Data Docs to
    ``<warehouse_dir>/data_docs/``.
    """
    import duckdb

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import pandas as pd

    context = gx_context(warehouse_dir)  # imports great_expectations: slow, only here
    datasource = context.data_sources.add_pandas(DATASOURCE)
    _add_suites(context, config)
    reference = reference_parameters(mapping)
    outcomes: dict[str, SuiteOutcome] = {}
    identifiers = {}
    with duckdb.connect(str(working_db), read_only=True) as con:
        con.register("gate_streets", pd.DataFrame({"street_code": reference["street_codes"]}))
        con.register("gate_report_kinds", pd.DataFrame({"report_kind": reference["report_kinds"]}))
        has_published = bool(published_mart and published_mart.is_file())
        if has_published:
            con.execute(f"attach '{published_mart}' as published (read_only)")
        for name in names:
            started = time.perf_counter()
            suite = config.suites[name]
            params = {**reference, **suite.parameters}
            if suite.row_counts:
                frame = _row_counts_frame(con, suite.row_counts, has_published)
                # an open year is still arriving: it is not compared with the year before
                frame.loc[frame["year"].isin(open_years), "row_count_ratio"] = None
            else:
                frame = query_frame(con, suite.query, _query_parameters(suite.query, params))
            checkpoint = _checkpoint(context, datasource, suite)
            result = checkpoint.run(
                batch_parameters={"dataframe": frame}, expectation_parameters=params
            )
            (identifier, validation) = next(iter(result.run_results.items()))
            identifiers[name] = identifier
            failed, findings = _findings(validation, suite, frozenset(open_years))
            passed = not any(f["critical"] for f in failed)
            years, every = blocked_years(failed, findings, suite.severity)
            _record_gate_verdict(context, identifier, validation, passed)
            outcomes[name] = SuiteOutcome(
                name=name,
                severity=suite.severity,
                passed=passed,
                rows_validated=len(frame),
                failed_expectations=failed,
                findings=findings,
                seconds=round(time.perf_counter() - started, 3),
                blocked_years=years,
                blocks_all_years=every,
            )
    if identifiers:
        build_data_docs(context, identifiers, warehouse_dir)
        for name, identifier in identifiers.items():
            urls = context.get_docs_sites_urls(
                resource_identifier=identifier, site_name=DATA_DOCS_SITE
            )
            outcomes[name].data_docs = urls[0]["site_url"] if urls else None
    return outcomes


#: the GX data source every suite's DataFrame is a batch of
DATASOURCE = "gonghui_warehouse"
#: fixed, so the Data Docs of every run belong to one site
DATA_CONTEXT_ID = "d63cba55-7fa4-475d-b6c7-4048eb20f923"


def gx_context(warehouse_dir: Path):
    """An ephemeral GX data context whose validation results (``gx/validations/``) and Data
    Docs (``data_docs/``) are files of the warehouse, kept across runs; the suites, validation
    definitions and checkpoints are built from ``gate.yml`` in memory by every run."""
    import uuid

    import great_expectations as gx
    from great_expectations.data_context.types.base import DataContextConfig, ProgressBarsConfig

    def files(folder: Path) -> dict[str, str]:
        return {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(folder)}

    memory = {"class_name": "InMemoryStoreBackend"}
    project_config = DataContextConfig(
        stores={
            "expectations_store": {"class_name": "ExpectationsStore", "store_backend": memory},
            "validation_results_store": {
                "class_name": "ValidationResultsStore",
                "store_backend": files(warehouse_dir / "gx" / "validations"),
            },
            "checkpoint_store": {"class_name": "CheckpointStore", "store_backend": memory},
            "validation_definition_store": {
                "class_name": "ValidationDefinitionStore",
                "store_backend": memory,
            },
        },
        expectations_store_name="expectations_store",
        validation_results_store_name="validation_results_store",
        checkpoint_store_name="checkpoint_store",
        data_docs_sites={
            DATA_DOCS_SITE: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": files(data_docs_dir(warehouse_dir)),
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
        analytics_enabled=False,
        data_context_id=uuid.UUID(DATA_CONTEXT_ID),
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(project_config=project_config, mode="ephemeral")


def _add_suites(context, config: GateConfig) -> None:
    """Every suite of gate.yml into the context's (in-memory) expectations store — those this
    run validates and the others: a Data Docs build keeps the pages of the suites its store
    knows, which the validation pages of earlier runs link to."""
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    for suite in config.suites.values():
        gx_suite = gx.ExpectationSuite(name=suite.name)
        for expectation in suite.expectations:
            gx_suite.add_expectation_configuration(ExpectationConfiguration(**expectation))
        context.suites.add(gx_suite)


def _checkpoint(context, datasource, suite: SuiteConfig):
    """The GX validation definition and checkpoint of one gate.yml entry."""
    import great_expectations as gx

    batch = datasource.add_dataframe_asset(suite.name).add_batch_definition_whole_dataframe(
        suite.name
    )
    gx_suite = context.suites.get(suite.name)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=suite.name, data=batch, suite=gx_suite)
    )
    return context.checkpoints.add(
        gx.Checkpoint(
            name=suite.name,
            validation_definitions=[definition],
            result_format={
                "result_format": "SUMMARY",
                "partial_unexpected_count": suite.findings_shown,
                "unexpected_index_column_names": list(suite.index_columns),
            },
        )
    )


def _record_gate_verdict(context, identifier, validation, passed: bool) -> None:
    """Store the gate's verdict as the suite result's ``success`` (what Data Docs show).

    GX marks a suite result failed when any expectation is unmet, ``warning`` ones included;
    the gate fails it only on a critical one. The stored result (and so the Data Docs page
    and index) carries the gate's verdict; each expectation keeps its own ``success``.
    """
    if validation.success == passed:
        return
    validation.success = passed
    validation.meta["gonghui_gate"] = (
        "passed: only warning-level expectations unmet (listed for review)" if passed else "failed"
    )
    context.validation_results_store.set(identifier, validation)


def build_data_docs(context, identifiers: dict[str, Any], warehouse_dir: Path) -> None:
    """Build the Data Docs of ``identifiers`` and make the site work offline.

    See ``orchestration/lib/data_docs.py``: warn-level rows get a warning icon, and the
    generated pages are rewritten to load the vendored assets instead of public CDNs.
    """
    from orchestration.lib.data_docs import make_offline, register_warning_status_icons

    register_warning_status_icons()
    # the suites' own pages too: every validation page and the index link to them
    suites = [i.expectation_suite_identifier for i in identifiers.values()]
    context.build_data_docs(
        site_names=[DATA_DOCS_SITE], resource_identifiers=[*identifiers.values(), *suites]
    )
    make_offline(data_docs_dir(warehouse_dir))


def data_docs_dir(warehouse_dir: Path) -> Path:
    return warehouse_dir / "data_docs"


def data_docs_index(warehouse_dir: Path) -> Path:
    return data_docs_dir(warehouse_dir) / "index.html"
