"""The quality gate: a thin bridge from the working DuckDB database to Great Expectations 1.x.

``expectations/`` is a GX file data context (suites, validation definitions, checkpoints) plus
``gate.yml`` (per suite: the asset it checks, the query whose result it validates, thresholds
and severity). :func:`load_gate_config` reads ``gate.yml`` (cheap, no GX import) when the
Dagster definitions load; :func:`run_suites` runs the checkpoints — it is the only place that
imports ``great_expectations``, which is slow to import.

GX on DuckDB through SQLAlchemy does not resolve its metrics, so every suite validates a pandas
DataFrame: the result of its ``query`` over the working database. Cross-table invariants (the
street sums of the mart, completeness of the submissions) are such queries too.

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

from orchestration.lib.mapping import PROJECT_ROOT, Mapping

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
    row_count_ratio: str | None = None
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
        if not entry.get("query"):
            raise GateConfigError(f"{path}: checks.{name}.query is missing")
        if not (root / "expectations" / f"{name}.json").is_file():
            raise GateConfigError(f"{path}: checks.{name} has no suite expectations/{name}.json")
        suites[name] = SuiteConfig(
            name=name,
            asset=tuple(str(a) for a in asset),
            severity=severity,
            query=entry["query"],
            description=" ".join(str(entry.get("description", "")).split()),
            parameters={**(defaults.get("parameters") or {}), **(entry.get("parameters") or {})},
            row_count_ratio=entry.get("row_count_ratio"),
            open_year_severity=_open_year_severity(path, name, entry),
        )
    return GateConfig(root=root, suites=suites)


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
    """The code lists every suite may refer to as ``{"$PARAMETER": name}``."""
    streets = _seed_column("streets", "street_code")
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


def _row_count_ratios(con, table: str, published: bool) -> dict[int, float | None]:
    """Rows per year of ``table`` / rows of the previous year as published (else as built)."""
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
    return ratios


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


def _row_count_years(
    failed: list[dict[str, Any]], ratios: dict[int, float | None], params: dict[str, Any]
) -> None:
    """The years a failed row-count expectation concerns, known from the ratios themselves
    (its failing rows are every row of those years, far more than GX lists)."""
    low, high = params.get("min_row_count_ratio"), params.get("max_row_count_ratio")
    if low is None or high is None:
        return
    out = sorted(y for y, r in ratios.items() if r is not None and not low <= r <= high)
    for entry in failed:
        if entry.get("column") == "row_count_ratio" and entry["critical"]:
            entry["years"] = out
            entry.pop("years_incomplete", None)


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
    os.environ["GONGHUI_GX_VALIDATIONS_DIR"] = str(warehouse_dir / "gx" / "validations")
    os.environ["GONGHUI_DATA_DOCS_DIR"] = str(data_docs_dir(warehouse_dir))
    import great_expectations as gx  # slow import: only here, never at module import time
    import pandas as pd

    context = gx.get_context(mode="file", context_root_dir=str(config.root))
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
            frame = query_frame(con, suite.query, _query_parameters(suite.query, params))
            if suite.row_count_ratio:
                ratios = _row_count_ratios(con, suite.row_count_ratio, has_published)
                ratios = {y: (None if y in open_years else r) for y, r in ratios.items()}
                frame["row_count_ratio"] = frame["year"].map(ratios).astype("float64")
            checkpoint = context.checkpoints.get(name)
            result = checkpoint.run(
                batch_parameters={"dataframe": frame}, expectation_parameters=params
            )
            (identifier, validation) = next(iter(result.run_results.items()))
            identifiers[name] = identifier
            failed, findings = _findings(validation, suite, frozenset(open_years))
            if suite.row_count_ratio:
                _row_count_years(failed, ratios, params)
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
