"""``gonghui trace``: from a published figure back to the rows of the files it was counted from.

For one indicator, year and street (or the district) the trace gives

* the published value of ``annual_indicators`` (value, numerator, denominator);
* the formula: the indicator's definition (``dim_indicator``) and the counting rule below, with
  the numbers filled in;
* the lineage: the Dagster assets and dbt models the figure went through (from the dbt
  manifest's ``depends_on``), and column-level lineage of the mart columns — the expression of
  the indicator's numerator/denominator in ``int_indicators_computed`` (the catalog row's
  measure and predicates) and the columns they read, down to the landing table (parsed with
  sqlglot);
* the contributing rows: every row of the ``fct_*`` mart that counts in the numerator or the
  denominator, with its source file, sheet, row and file SHA-256 — and the *recount* of the
  figure from exactly those rows by the indicator's rule, which must equal the published value;
* the rows that did not count, with the reason: quarantined at ingestion
  (``audit.quarantined_rows``), superseded by a resubmission, de-duplicated or attributed to
  another street (``audit.excluded_rows``), and rows of the mart dated outside the year.

Everything is read from the published mart (read-only) and the dbt manifest.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any

import duckdb

from orchestration.lib.constants import PROJECT_ROOT
from orchestration.lib.streets import Street, UnknownStreetError, resolve_street, streets_from_rows

MANIFEST_PATH = PROJECT_ROOT / "dbt_project" / "target" / "manifest.json"
#: the dbt model that computes every indicator of the catalog
COMPUTED_MODEL = "int_indicators_computed"
DISTRICT = "district"


@dataclass(frozen=True)
class Rule:
    """How an indicator is counted from the rows of one ``fct_*`` mart — built from its row of
    the indicator catalog (``dim_indicator``, from ``dbt_project/seeds/indicators.csv``), the
    same predicates ``int_indicators_computed`` aggregates (see :func:`rule_for`).

    ``numerator``/``denominator`` are SQL predicates over the mart's columns; ``measure`` is
    ``count`` (rows), ``sum:<column>`` or ``count_distinct:<column>`` (non-null distinct
    values); ``outside`` selects the rows that match the indicator but fall outside the
    reporting period; ``key`` is the report kind's natural key (``mapping/sources.yml``).
    """

    table: str
    key: str
    numerator: str
    measure: str = "count"
    denominator: str | None = None
    outside: str | None = None
    detail: tuple[str, ...] = ()
    period: str | None = None

    @property
    def measure_column(self) -> str | None:
        return self.measure.partition(":")[2] or None

    @property
    def date_column(self) -> str | None:
        """The date the period flag is computed from: ``is_held_in_year`` → ``held_on``,
        ``is_verified_by_year_end`` → ``verified_on`` (else the first detail column)."""
        match = re.fullmatch(r"is_(\w+?)_(?:in_year|by_year_end)", self.period or "")
        if match and f"{match.group(1)}_on" in self.detail:
            return f"{match.group(1)}_on"
        return self.detail[0] if self.detail else None


_ENT = ("employee_count", "employee_band", "has_union", "has_worker_council", "is_key_enterprise")
_ACT = ("held_on", "category", "project", "participants")

#: the columns shown next to each contributing row of a fct model, dates first — presentation
#: only: what counts comes from the catalog
DETAIL: dict[str, tuple[str, ...]] = {
    "fct_enterprise_unions": _ENT,
    "fct_members": ("collected_on", "verified", "verified_on", "n_streets_reported"),
    "fct_dispute_cases": ("accepted_on", "workers_involved", "recovered_amount", "outcome"),
    "fct_worker_requests": ("raised_on", "status", "resolved_level"),
    "fct_worker_activities": _ACT,
    "fct_dream_registrations": ("registered_on", "employer_credit_code", "major"),
    "fct_hardship_payments": ("paid_on", "aid_type", "amount"),
    "fct_care_services": ("served_on", "service_type", "persons"),
}


def indicator_predicate(parts: list[str | None]) -> str | None:
    """The non-empty parts joined by ``and``, a part with ``or`` parenthesised — as dbt's macro
    ``indicator_predicate`` does; None when no part is given."""
    conditions = [f"({p})" if " or " in p.lower() else p for p in parts if p]
    return " and ".join(conditions) or None


@cache
def _kind_keys() -> dict[str, tuple[str, ...]]:
    from orchestration.lib.mapping import load_mapping

    return {name: kind.key for name, kind in load_mapping().kinds.items()}


def natural_key_sql(report_kind: str) -> str:
    """The SQL of a report kind's natural key (mapping ``key:``), one value per row."""
    key = _kind_keys().get(report_kind)
    if not key:
        raise TraceError(f"report kind {report_kind!r} has no key in the mapping")
    return key[0] if len(key) == 1 else f"concat_ws('|', {', '.join(key)})"


def rule_for(indicator: dict[str, Any]) -> Rule:
    """The counting rule of one catalog row (``dim_indicator``): numerator = ``period and
    filter``, denominator (ratios) = ``period and denominator_filter``, outside = the rows of
    the denominator (ratios) or numerator with the period flag false."""
    period = indicator.get("period") or None
    ratio = indicator["aggregation"] == "ratio"
    selecting = indicator.get("denominator_filter") if ratio else indicator.get("filter")
    not_period = None
    if period:
        not_period = f"not {period}" if period.isidentifier() else f"not ({period})"
    return Rule(
        table=indicator["source_model"],
        key=natural_key_sql(indicator["report_kind"]),
        numerator=indicator_predicate([period, indicator.get("filter")]) or "true",
        measure=indicator["measure"],
        denominator=(indicator_predicate([period, selecting]) or "true") if ratio else None,
        outside=indicator_predicate([not_period, selecting]) if period else None,
        detail=DETAIL.get(indicator["source_model"], ()),
        period=period,
    )


PROVENANCE = ("_source_file", "_source_sheet", "_source_row", "_file_sha256", "_period_label")


class TraceError(ValueError):
    pass


@dataclass
class Trace:
    indicator_code: str
    name_zh: str
    year: int
    street_code: str
    unit: str
    aggregation: str
    definition: str
    report_kind: str
    published: dict[str, Any]
    rule: dict[str, Any]
    recount: dict[str, Any]
    formula: str
    assets: list[str]
    models: list[str]
    column_lineage: list[dict[str, str]]
    contributing_rows: list[dict[str, Any]] = field(default_factory=list)
    excluded_rows: list[dict[str, Any]] = field(default_factory=list)
    subtotals: dict[str, Any] | None = None

    @property
    def matches(self) -> bool:
        return self.recount["matches"]


# ------------------------------------------------------------------------------------ counting


def percentage(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    """``round(100 * numerator / denominator, 1)``, half away from zero (macro ``percentage``)."""
    if not denominator:
        return None
    quotient = (Decimal(100) * numerator / denominator).quantize(
        Decimal("0.000000001"), rounding=ROUND_HALF_UP
    )
    return quotient.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _measure(rule: Rule, rows: list[dict[str, Any]]) -> Decimal:
    column = rule.measure_column
    if rule.measure == "count":
        return Decimal(len(rows))
    values = [r[column] for r in rows if r[column] is not None]
    if rule.measure.startswith("sum:"):
        return sum((Decimal(str(v)) for v in values), Decimal(0))
    return Decimal(len(set(values)))


def recount(rule: Rule, aggregation: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The indicator recomputed from the listed contributing rows (flags ``in_numerator`` and
    ``in_denominator``) — what an auditor does by hand."""
    numerator = _measure(rule, [r for r in rows if r["in_numerator"]])
    denominator = None
    if aggregation == "ratio":
        denominator = _measure(rule, [r for r in rows if r["in_denominator"]])
        value = percentage(numerator, denominator)
    else:
        value = numerator
    return {"value": value, "numerator": numerator, "denominator": denominator}


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return Decimal(str(a)) == Decimal(str(b))


# ------------------------------------------------------------------------------------ lineage


@cache
def load_manifest(path: Path = MANIFEST_PATH) -> dict[str, Any]:
    if not path.is_file():
        from orchestration.lib.dbt_project import prepare_dbt_project

        prepare_dbt_project()
    return json.loads(path.read_text(encoding="utf-8"))


def _graph(manifest: dict[str, Any]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    parents: dict[str, list[str]] = {}
    children: dict[str, list[str]] = {}
    for uid, node in manifest["nodes"].items():
        if node["resource_type"] not in ("model", "seed"):
            continue
        parents[uid] = list(node.get("depends_on", {}).get("nodes", []))
        for p in parents[uid]:
            children.setdefault(p, []).append(uid)
    return parents, children


def _closure(start: str, edges: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    stack = [start]
    while stack:
        for nxt in edges.get(stack.pop(), []):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def _model_id(manifest: dict[str, Any], name: str) -> str:
    for uid, node in manifest["nodes"].items():
        if node["resource_type"] == "model" and node["name"] == name:
            return uid
    raise TraceError(f"model {name} not in the dbt manifest")


def _label(manifest: dict[str, Any], uid: str) -> str:
    if uid.startswith("source."):
        src = manifest["sources"][uid]
        return f"source {src['source_name']}.{src['name']} (table {src['schema']}.{src['name']})"
    node = manifest["nodes"][uid]
    return f"{node['config'].get('schema') or node['schema']}.{node['name']}"


def model_chain(manifest: dict[str, Any], domain: str, fct_table: str) -> tuple[list[str], str]:
    """Models on the path from the indicator's landing table to ``annual_indicators`` (through
    the ``fct_*`` mart and ``int_indicators_computed``), in dependency order."""
    parents, children = _graph(manifest)
    fct = _model_id(manifest, fct_table)
    sources = [u for u in _closure(fct, parents) if u.startswith("source.")]
    aggregated = _model_id(manifest, COMPUTED_MODEL)
    annual = _model_id(manifest, "annual_indicators")
    downstream = set()
    for src in sources:
        downstream |= _closure(src, children)
    on_path = (downstream & (_closure(aggregated, parents) | _closure(fct, parents))) | {
        aggregated,
        annual,
        fct,
    }
    ordered: list[str] = []
    while len(ordered) < len(on_path):  # topological order, ties by name
        ready = sorted(
            u
            for u in on_path - set(ordered)
            if all(p in ordered or p not in on_path for p in parents.get(u, []))
        )
        ordered.extend(ready[:1] or sorted(on_path - set(ordered)))
    return [_label(manifest, s) for s in sorted(sources)] + [
        _label(manifest, u) for u in ordered
    ], sorted(sources)[0] if sources else ""


_JINJA_REF = re.compile(r"\{\{\s*ref\(\s*['\"]([^'\"]+)['\"]\s*\)\s*\}\}")
_JINJA_SOURCE = re.compile(
    r"\{\{\s*source\(\s*['\"]([^'\"]+)['\"]\s*,\s*['\"]([^'\"]+)['\"]\s*\)\s*\}\}"
)
_JINJA_EXPR = re.compile(r"\{\{.*?\}\}", re.S)
_JINJA_STMT = re.compile(r"\{%.*?%\}|\{#.*?#\}", re.S)


def _plain_sql(raw_code: str) -> str:
    """A model's SQL with Jinja replaced well enough for sqlglot to parse it."""
    sql = _JINJA_REF.sub(r"\1", raw_code)
    sql = _JINJA_SOURCE.sub(r"\1.\2", sql)
    sql = re.sub(r"\{\{\s*street_or_district\(\)\s*\}\}", "street_code", sql)
    sql = re.sub(r"\{\{\s*unpivot_indicators\(.*?\)\s*\}\}", "select null", sql, flags=re.S)
    sql = _JINJA_EXPR.sub("null", sql)
    sql = _JINJA_STMT.sub("", sql)
    return re.sub(r"--[^\n]*", "", sql)


def _ctes(sql: str) -> dict[str, Any]:
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, dialect="duckdb")
    return {cte.alias: cte.this for cte in tree.find_all(exp.CTE)}


def _column_description(node: dict[str, Any], column: str) -> str:
    return ((node.get("columns") or {}).get(column) or {}).get("description", "")


def measure_sql(measure: str, predicate: str | None) -> str:
    """The aggregate ``int_indicators_computed`` computes (dbt macro ``indicator_measure``)."""
    kind, _, column = measure.partition(":")
    sql = {"count": "count(*)", "sum": f"sum({column})"}.get(kind, f"count(distinct {column})")
    return sql + (f" filter (where {predicate})" if predicate else "")


def column_lineage(
    manifest: dict[str, Any], code: str, rule: Rule, aggregation: str, source_uid: str
) -> list[dict[str, str]]:
    """Column-level lineage of ``annual_indicators.value`` for one indicator."""
    import sqlglot
    from sqlglot import exp

    out: list[dict[str, str]] = []
    annual = manifest["nodes"][_model_id(manifest, "annual_indicators")]
    percentage_macro = (manifest.get("macros") or {}).get("macro.gonghui.percentage", {})
    pct_sql = "round(100.0 * numerator / denominator, 1), NULL when denominator = 0"
    out.append(
        {
            "model": "marts.annual_indicators",
            "column": "value",
            "expression": pct_sql + (" (macro percentage)" if percentage_macro else "")
            if aggregation == "ratio"
            else "numerator",
            "description": _column_description(annual, "value"),
        }
    )
    used: set[str] = set()
    predicates = {"numerator": rule.numerator}
    if aggregation == "ratio":
        predicates["denominator"] = rule.denominator
    for part, predicate in predicates.items():
        out.append(
            {
                "model": "marts.annual_indicators",
                "column": part,
                "expression": f"cast(coalesce({COMPUTED_MODEL}.{part}, 0) as decimal(20, 2)) "
                f"where indicator_code = '{code}'",
                "description": _column_description(annual, part),
            }
        )
        where = None if predicate == "true" else predicate
        out.append(
            {
                "model": f"intermediate.{COMPUTED_MODEL}",
                "column": f"{code}__{part} (CTE {rule.table}_measures)",
                "expression": f"{measure_sql(rule.measure, where)} from {rule.table} "
                "group by grouping sets ((year, street_code), (year))",
                "description": "seeds/indicators.csv: measure, period, filter"
                + (", denominator_filter" if part == "denominator" else ""),
            }
        )
        # the lineage is best effort; the counting does not depend on it
        with contextlib.suppress(sqlglot.errors.ParseError):
            used |= {c.name for c in sqlglot.parse_one(predicate).find_all(exp.Column)}
    if rule.measure_column:
        used.add(rule.measure_column)
    upstream_model = rule.table
    used -= {"year", "street_code"}
    if upstream_model:
        chain = _upstream_models(manifest, upstream_model)
        for column in sorted(used):
            for name in chain:
                node = manifest["nodes"][_model_id(manifest, name)]
                out.append(
                    {
                        "model": f"{node['config'].get('schema') or node['schema']}.{name}",
                        "column": column,
                        "expression": _projection(node["raw_code"], column),
                        "description": _column_description(node, column),
                    }
                )
            if source_uid:
                src = manifest["sources"][source_uid]
                out.append(
                    {
                        "model": f"{src['schema']}.{src['name']} (landing)",
                        "column": column,
                        "expression": "written by ingestion (mapping/sources.yml)",
                        "description": _column_description(src, column),
                    }
                )
    return out


def _upstream_models(manifest: dict[str, Any], name: str) -> list[str]:
    """``name`` and its single-parent model ancestors (dedup → staging), nearest first."""
    chain = [name]
    while True:
        node = manifest["nodes"][_model_id(manifest, chain[-1])]
        models = [p for p in node["depends_on"]["nodes"] if p.startswith("model.")]
        if not models:
            return chain
        chain.append(manifest["nodes"][sorted(models)[-1]]["name"])


def _projection(raw_code: str, column: str) -> str:
    """How a model computes ``column``: its aliased expression, or pass-through of ``*``."""
    try:
        from sqlglot import exp

        ctes = _ctes(_plain_sql(raw_code))
    except Exception:
        return "?"
    for select in ctes.values():
        for projection in getattr(select, "expressions", []):
            if isinstance(projection, exp.Alias) and projection.alias == column:
                return projection.this.sql(dialect="duckdb")
    return "passed through (select *)"


# ------------------------------------------------------------------------------------ trace


def _rows(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def trace(
    con: duckdb.DuckDBPyConnection,
    code: str,
    year: int,
    street: str = DISTRICT,
    manifest: dict[str, Any] | None = None,
    by: str | None = None,
) -> Trace:
    """The trace of one figure; ``street`` is a code or a name (``布吉``), or the district;
    ``by`` (``street`` or ``file``) adds the :func:`subtotals`."""
    try:
        street = resolve_street(street or DISTRICT, published_streets(con))
    except UnknownStreetError as exc:
        raise TraceError(str(exc)) from None
    if by is not None and by not in BY:
        raise TraceError(f"--by {by!r}: one of {', '.join(BY)}")
    info = _rows(con.execute("select * from dim_indicator where indicator_code = ?", [code]))
    if not info:
        known = [
            r[0]
            for r in con.execute("select indicator_code from dim_indicator order by 1").fetchall()
        ]
        raise TraceError(f"unknown indicator {code!r}; one of: {', '.join(known)}")
    ind = info[0]
    if not ind.get("source_model") or not ind.get("measure"):
        raise TraceError(
            f"{code!r} has no source_model/measure in dim_indicator (seeds/indicators.csv); "
            "the published mart predates the indicator catalog"
        )
    rule = rule_for(ind)
    published = _rows(
        con.execute(
            "select value, numerator, denominator, unit from annual_indicators "
            "where indicator_code = ? and year = ? and street_code = ?",
            [code, year, street],
        )
    )
    if not published:
        streets = [
            r[0] for r in con.execute("select street_code from dim_street order by 1").fetchall()
        ]
        years = [
            r[0]
            for r in con.execute(
                "select distinct year from annual_indicators order by 1"
            ).fetchall()
        ]
        raise TraceError(
            f"no published figure for {code} {year} {street} (years: {years}; streets: "
            f"{DISTRICT}, {', '.join(streets)})"
        )
    pub = published[0]

    # contributing rows
    street_filter = "" if street == DISTRICT else " and street_code = $street"
    params = {"year": year} | ({} if street == DISTRICT else {"street": street})
    den = rule.denominator or "false"
    measure = f", {rule.measure_column}" if rule.measure_column else ""
    detail = "".join(f", {c}" for c in rule.detail if c != rule.measure_column)
    select = (
        f"select street_code, {rule.key} as natural_key, "
        f"coalesce({rule.numerator}, false) as in_numerator, "
        f"coalesce({den}, false) as in_denominator{measure}{detail}, "
        f"{', '.join(PROVENANCE)}, _key_row_count from {rule.table} "
        f"where year = $year{street_filter}"
    )
    rows = _rows(
        con.execute(
            f"select * from ({select}) where in_numerator or in_denominator "
            "order by street_code, _source_file, _source_sheet, _source_row",
            params,
        )
    )
    count = recount(rule, ind["aggregation"], rows)
    matches = all(_same(count[k], pub[k]) for k in ("value", "numerator", "denominator"))
    count = {k: _num(v) for k, v in count.items()} | {"matches": matches}

    excluded = _excluded(con, rule, ind["report_kind"], year, street, params, street_filter)
    manifest = manifest if manifest is not None else load_manifest()
    models, source_uid = model_chain(manifest, ind["domain"], rule.table)
    source_table = manifest["sources"][source_uid]["name"] if source_uid else ind["report_kind"]
    result = Trace(
        indicator_code=code,
        name_zh=ind["name_zh"],
        year=year,
        street_code=street,
        unit=ind["unit"],
        aggregation=ind["aggregation"],
        definition=ind["definition"],
        report_kind=ind["report_kind"],
        published={k: _num(pub[k]) for k in ("value", "numerator", "denominator")},
        rule={
            "table": f"main.{rule.table}",
            "numerator": rule.numerator,
            "denominator": rule.denominator,
            "measure": rule.measure,
            "street": "all streets" if street == DISTRICT else f"street_code = '{street}'",
        },
        recount=count,
        formula=_formula(ind["aggregation"], rule, count),
        assets=[
            f"landing/{source_table} (ingest)",
            "warehouse_models (dbt build: "
            + " → ".join(m for m in models if not m.startswith("source "))
            + ")",
            "published_mart (published/mart.duckdb)",
            "published_parquet (published/parquet/)",
        ],
        models=models,
        column_lineage=column_lineage(manifest, code, rule, ind["aggregation"], source_uid),
        contributing_rows=rows,
        excluded_rows=excluded,
    )
    if by is not None:
        result.subtotals = subtotals(con, result, by)
    return result


def published_streets(con: duckdb.DuckDBPyConnection) -> list[Street]:
    """The streets of the published ``dim_street`` (code order)."""
    return streets_from_rows(
        _rows(
            con.execute("select street_code, name_zh, short_zh, name_en from dim_street order by 1")
        )
    )


def _excluded(con, rule: Rule, kind: str, year: int, street: str, params, street_filter):
    out: list[dict[str, Any]] = []
    for r in _rows(
        con.execute(
            "select street_code, reason_code, reason, _source_file, _source_sheet, _source_row, "
            "_file_sha256, _superseded_by from audit.quarantined_rows "
            f"where report_kind = $kind and year = $year{street_filter} "
            "order by street_code, _source_file, _source_sheet, _source_row",
            params | {"kind": kind},
        )
    ):
        if r["_superseded_by"]:  # the whole file was replaced: that, not the row, is why
            r["reason"] = (
                f"file superseded by the resubmission {r['_superseded_by']}; "
                f"also quarantined: {r['reason']}"
            )
            out.append({"category": "superseded_file", "natural_key": None} | r)
            continue
        out.append({"category": "quarantined", "natural_key": None} | r)
    for r in _rows(
        con.execute(
            "select street_code, natural_key, exclusion_reason as reason_code, "
            "_source_file, _source_sheet, _source_row, _file_sha256, _superseded_by, "
            "winning_street_code, winning_source_file, winning_source_sheet, winning_source_row "
            f"from audit.excluded_rows where report_kind = $kind and year = $year{street_filter} "
            "order by street_code, _source_file, _source_sheet, _source_row",
            params | {"kind": kind},
        )
    ):
        where = r.pop("winning_source_file")
        reason = {
            "superseded_file": f"file superseded by the resubmission {r['_superseded_by']}",
            "duplicate_key": "the same key counts from a later row",
            "attributed_to_other_street": "member counts for street "
            f"{r['winning_street_code']} (latest collection)",
        }.get(r["reason_code"], r["reason_code"])
        if where:
            reason += f"; counted row: {where}"
            if r["winning_source_sheet"]:
                reason += f" [{r['winning_source_sheet']}]"
            reason += f" row {r['winning_source_row']}"
        for k in ("winning_street_code", "winning_source_sheet", "winning_source_row"):
            r.pop(k)
        out.append({"category": r["reason_code"], "reason": reason} | r)
    if rule.outside:
        date_col = rule.date_column
        for r in _rows(
            con.execute(
                f"select street_code, {rule.key} as natural_key, {date_col} as date, "
                f"{', '.join(PROVENANCE[:4])} from {rule.table} "
                f"where year = $year{street_filter} and coalesce({rule.outside}, false) "
                "order by street_code, _source_file, _source_sheet, _source_row",
                params,
            )
        ):
            date = r.pop("date")
            out.append(
                {
                    "category": "outside_year",
                    "reason_code": "outside_year",
                    "reason": f"{date_col} {date} is not in {year}",
                }
                | r
            )
    return out


BY = ("street", "file")


def _rule_of(t: Trace) -> Rule:
    """The counting part of ``t``'s rule (what :func:`_measure` needs), from its record."""
    return Rule(
        table=t.rule["table"],
        key="",
        numerator=t.rule["numerator"],
        measure=t.rule["measure"],
        denominator=t.rule["denominator"],
    )


def subtotals(con: duckdb.DuckDBPyConnection, t: Trace, by: str) -> dict[str, Any]:
    """The figure's contributing rows per street or per source file: rows, numerator (and
    denominator) by the indicator's rule, and the rows that did not count.

    Counts and sums add up to the published numerator and denominator; a distinct count does
    not (a value seen in two streets or files counts once in the figure), which ``adds_up``
    and ``note`` say. Grouped by street, every street of the trace is listed, with zeros where
    it has no rows; grouped by file, every file with a counted or an excluded row."""
    if by not in BY:
        raise TraceError(f"--by {by!r}: one of {', '.join(BY)}")
    rule = _rule_of(t)
    ratio = t.aggregation == "ratio"
    key = "street_code" if by == "street" else "_source_file"
    groups: dict[str, dict[str, Any]] = {}

    def group(name: str, row: dict[str, Any] | None = None) -> dict[str, Any]:
        if name not in groups:
            head = (
                {"street": name, "name": ""}
                if by == "street"
                else {
                    "file": name,
                    "street": (row or {}).get("street_code"),
                    "sha256": (row or {}).get("_file_sha256"),
                }
            )
            groups[name] = head | {"counted": [], "not_counted": 0}
        return groups[name]

    if by == "street":
        for s in published_streets(con):
            if t.street_code in (DISTRICT, s.code):
                group(s.code)["name"] = s.short_zh
    for r in t.contributing_rows:
        group(r[key], r)["counted"].append(r)
    for r in t.excluded_rows:
        group(r[key], r)["not_counted"] += 1
    out: list[dict[str, Any]] = []
    for name in sorted(groups, key=lambda g: (groups[g].get("street") or "", g)):
        g = groups[name]
        rows = g.pop("counted")
        numerator = _measure(rule, [r for r in rows if r["in_numerator"]])
        denominator = _measure(rule, [r for r in rows if r["in_denominator"]]) if ratio else None
        value = percentage(numerator, denominator) if ratio else numerator
        g = {k: v for k, v in g.items() if k != "not_counted"} | {
            "rows": len(rows),
            "numerator": _num(numerator),
            "denominator": _num(denominator),
            "value": _num(value),
            "not_counted": g["not_counted"],
        }
        out.append(g)
    summed = sum((Decimal(str(g["numerator"])) for g in out), Decimal(0))
    summed_den = sum((Decimal(str(g["denominator"])) for g in out), Decimal(0)) if ratio else None
    counted = t.contributing_rows  # the total is counted over all rows, like the figure
    numerator = _measure(rule, [r for r in counted if r["in_numerator"]])
    denominator = _measure(rule, [r for r in counted if r["in_denominator"]]) if ratio else None
    distinct = rule.measure.startswith("count_distinct:")
    adds_up = not distinct and all(
        _same(total, t.published[part])
        for part, total in (("numerator", summed), ("denominator", summed_den))
        if t.published[part] is not None
    )
    if distinct:
        note = (
            f"distinct {rule.measure_column}: a value seen in several {by}s counts once in the "
            f"figure, so the subtotals (together {_fmt(summed)}) need not add up to it"
        )
    elif adds_up:
        note = "the subtotals add up to the published " + (
            "numerator and denominator" if ratio else "value"
        )
    else:
        note = "the subtotals DO NOT add up to the published figure"
    return {
        "by": by,
        "measure": rule.measure,
        "groups": out,
        "total": {
            "rows": sum(g["rows"] for g in out),
            "numerator": _num(numerator),
            "denominator": _num(denominator),
            "value": _num(percentage(numerator, denominator) if ratio else numerator),
            "not_counted": sum(g["not_counted"] for g in out),
        },
        "adds_up": adds_up,
        "note": note,
    }


def _num(value: Any) -> Any:
    if value is None:
        return None
    d = Decimal(str(value))
    return int(d) if d == d.to_integral_value() else d


def _fmt(value: Any) -> str:
    if value is None:
        return "NULL"
    text = f"{Decimal(str(value)):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _formula(aggregation: str, rule: Rule, count: dict[str, Any]) -> str:
    what = {
        "count": "number of rows",
        "sum": f"sum of {rule.measure_column}",
        "count_distinct": f"number of distinct non-null {rule.measure_column}",
    }[rule.measure.partition(":")[0]]
    num = f"numerator = {what} where {rule.numerator} = {_fmt(count['numerator'])}"
    if aggregation != "ratio":
        return f"value = {num}"
    den = f"denominator = {what} where {rule.denominator} = {_fmt(count['denominator'])}"
    return (
        f"value = round(100 × numerator / denominator, 1) = round(100 × "
        f"{_fmt(count['numerator'])} / {_fmt(count['denominator'])}, 1) = {_fmt(count['value'])}"
        f"\n  {num}\n  {den}"
    )


# ------------------------------------------------------------------------------------ output


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return _fmt(value)
    return str(value)


WIDTH = 120  # the default text fits a terminal this wide; ``wide`` lifts the limit on tables

# text headings of the row tables, and the columns shown only with ``wide``
_HEADINGS = {
    "street_code": "street",
    "natural_key": "key",
    "in_numerator": "num",
    "in_denominator": "den",
    "_source_file": "file",
    "_source_sheet": "sheet",
    "_source_row": "row",
    "_file_sha256": "sha256",
    "_period_label": "period",
    "_key_row_count": "key rows",
    "not_counted": "not counted",
}
_WIDE_ONLY = {"_file_sha256", "_period_label", "_key_row_count", "sha256"}
_ELASTIC = ("_source_file", "file", "reason")  # truncated (…) first when a table is too wide
_PATH_PREFIX = re.compile(r"(?<![\w/])\d{4}/[a-z0-9_]+/")  # '2021/buji/' of a landing path


def render_text(t: Trace, limit: int | None = 20, wide: bool = False) -> str:
    """The trace for a terminal. By default every line fits :data:`WIDTH` columns: files are
    shown by name (street and year are columns), long cells are cut with '…' and the SHA-256,
    period and key-count columns are left out; ``wide`` shows every column in full."""
    where = "district (all streets)" if t.street_code == DISTRICT else f"street {t.street_code}"
    pub = t.published
    lines = [
        f"{t.indicator_code} {t.name_zh} — {t.year}, {where}",
        f"  published value: {_fmt(pub['value'])} {t.unit}"
        + (
            f"  (numerator {_fmt(pub['numerator'])}, denominator {_fmt(pub['denominator'])})"
            if t.aggregation == "ratio"
            else ""
        ),
        *_wrap(f"definition: {t.definition}"),
        f"  report kind: {t.report_kind}; aggregation: {t.aggregation}",
        "",
        "Formula (recount from the contributing rows below):",
        *[w for part in t.formula.split("\n") for w in _wrap(part.strip())],
        *_wrap(f"over {t.rule['table']} where year = {t.year} and {t.rule['street']}"),
        f"  recount = {_fmt(t.recount['value'])} — "
        + ("MATCHES the published value" if t.matches else "DOES NOT MATCH the published value"),
    ]
    if t.subtotals is not None:
        lines += ["", *_subtotals_text(t, wide)]
    lines += [
        "",
        "Assets (Dagster, `make dev` → Global asset lineage):",
        *[w for i, a in enumerate(t.assets) for w in _wrap(f"{i + 1}. {a}", sep=" → ")],
        "",
        "dbt models (dbt_project/target/manifest.json, `gonghui docs`):",
        *_wrap(" → ".join(t.models), sep=" → "),
        "",
        "Column lineage:",
    ]
    for step in t.column_lineage:
        lines += _wrap(f"{step['model']}.{step['column']} = {step['expression']}")
    shown = [
        {k: v for k, v in r.items() if wide or k not in _WIDE_ONLY} for r in t.contributing_rows
    ]
    if t.aggregation != "ratio":  # every listed row is in the numerator: the flags say nothing
        shown = [
            {k: v for k, v in r.items() if k not in ("in_numerator", "in_denominator")}
            for r in shown
        ]
    lines += ["", f"Contributing rows: {len(t.contributing_rows)}"]
    lines += _table(shown, limit, wide)
    lines += ["", f"Rows that did not count: {len(t.excluded_rows)}"]
    by_cat: dict[str, int] = {}
    for r in t.excluded_rows:
        by_cat[r["category"]] = by_cat.get(r["category"], 0) + 1
    lines += [f"  {k}: {v}" for k, v in sorted(by_cat.items())]
    columns = [
        "category",
        "street_code",
        "natural_key",
        "_source_file",
        "_source_sheet",
        "_source_row",
        *(["_file_sha256"] if wide else []),
        "reason",
    ]
    lines += _table([{k: r.get(k) for k in columns} for r in t.excluded_rows], limit, wide)
    if limit is not None and (len(t.contributing_rows) > limit or len(t.excluded_rows) > limit):
        lines += ["", "(lists cut; --limit 0 shows all rows, --format csv|json exports them)"]
    if not wide:
        lines += ["(files by name, long cells cut with …; --wide shows paths, SHA-256 and all)"]
    return "\n".join(lines)


def _subtotals_text(t: Trace, wide: bool) -> list[str]:
    sub = t.subtotals
    assert sub is not None
    kind, _, column = t.rule["measure"].partition(":")
    ratio = t.aggregation == "ratio"
    measure = {
        "count": "rows",
        "sum": f"sum of {column}",
        "count_distinct": f"distinct {column}",
    }
    head = f"Subtotals by {sub['by']} (" + (
        f"numerator and denominator ({measure[kind]}) per {sub['by']}):"
        if ratio
        else f"rows{'' if kind == 'count' else ' and ' + measure[kind]} per {sub['by']}):"
    )
    value_columns = (
        ["numerator", "denominator", "%"] if ratio else ([] if kind == "count" else [column])
    )

    def row(g: dict[str, Any], first: dict[str, Any]) -> dict[str, Any]:
        values = (
            [g["numerator"], g["denominator"], g["value"]]
            if ratio
            else ([] if kind == "count" else [g["numerator"]])
        )
        return (
            first
            | {"rows": g["rows"]}
            | dict(zip(value_columns, values, strict=True))
            | {"not_counted": g["not_counted"]}
        )

    if sub["by"] == "street":
        rows = [row(g, {"street": g["street"], "name": g["name"]}) for g in sub["groups"]]
        total = row(sub["total"], {"street": "total", "name": ""})
    else:
        rows = [
            row(
                g,
                {"file": g["file"], "street": g["street"]}
                | ({"sha256": g["sha256"]} if wide else {}),
            )
            for g in sub["groups"]
        ]
        total = row(
            sub["total"], {"file": "total", "street": ""} | ({"sha256": ""} if wide else {})
        )
    table = _table([*rows, total], None, wide, footer=1)
    published = _fmt(t.published["numerator"] if ratio else t.published["value"])
    if ratio:
        published = (
            f"numerator {published}, denominator {_fmt(t.published['denominator'])}, "
            f"value {_fmt(t.published['value'])}"
        )
    else:
        published = f"value {published}"
    return [head, *table, *_wrap(f"= published {published}: {sub['note']}")]


def _width(text: str) -> int:
    """Display width: CJK and full-width characters take two terminal columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _take(text: str, width: int) -> str:
    """The longest start of ``text`` that fits ``width`` display columns (at least 1 char)."""
    used = 0
    for n, ch in enumerate(text):
        used += _width(ch)
        if used > width:
            return text[: max(n, 1)]
    return text


def _cut(text: str, width: int, middle: bool = False) -> str:
    """``text`` cut to ``width`` display columns with '…' (in the middle: keep both ends)."""
    if _width(text) <= width:
        return text
    if middle:
        tail = _cut(text[::-1], (width - 1) // 2)[::-1].lstrip("…")
        return _cut(text, width - _width(tail) - 1).rstrip("…") + "…" + tail
    return _take(text, width - 1) + "…"


def _wrap_cell(text: str, width: int) -> list[str]:
    """A table cell over as many lines of ``width`` display columns as it needs."""
    out: list[str] = []
    line = ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if _width(candidate) <= width:
            line = candidate
            continue
        if line:
            out.append(line)
        line = word
        while _width(line) > width:  # a word wider than the cell: break it
            head = _take(line, width)
            out.append(head)
            line = line[len(head) :]
    return [*out, line] if line or not out else out


def _wrap(text: str, indent: str = "  ", more: str = "      ", sep: str = " ") -> list[str]:
    """``text`` in lines of at most :data:`WIDTH` display columns, broken at ``sep`` (a word
    wider than a line is broken where it must)."""
    lines: list[str] = []
    line = ""
    for word in text.split(sep):
        prefix = more if lines else indent
        if line and _width(prefix + line + sep + word) > WIDTH:
            lines.append(prefix + line)
            line = (sep.lstrip() + word) if sep.strip() else word  # '→ model' on the next line
        else:
            line = line + sep + word if line else word
        prefix = more if lines else indent
        while _width(prefix + line) > WIDTH:
            head = _take(prefix + line, WIDTH)
            lines.append(head)
            line = line[len(head) - len(prefix) :]
            prefix = more
    lines.append((more if lines else indent) + line)
    return [x.rstrip() for x in lines]


def _table(
    rows: list[dict[str, Any]], limit: int | None, wide: bool = False, footer: int = 0
) -> list[str]:
    """An ASCII table of the first ``limit`` ``rows`` (all with a ``footer``: the last
    ``footer`` rows go under a rule), indented by two.

    Unless ``wide``, landing paths are shown without their ``<year>/<street>/`` folders and
    the table is fitted into :data:`WIDTH` columns: headings wider than their values and then
    the file and reason columns are cut with '…'."""
    if not rows:
        return []
    shown = rows if not limit or footer else rows[:limit]
    columns = list(shown[0])
    numeric = [
        all(
            (isinstance(r.get(c), int | float | Decimal) and not isinstance(r.get(c), bool))
            or r.get(c) is None
            for r in shown
        )
        for c in columns
    ]
    cells = [[_text_cell(r.get(c), wide, c) for c in columns] for r in shown]
    heads = [_HEADINGS.get(c, c) for c in columns]
    widths = [max([_width(h)] + [_width(row[i]) for row in cells]) for i, h in enumerate(heads)]
    if not wide:
        budget = WIDTH - 2 - (3 * len(columns) + 1)
        values = [max([_width(row[i]) for row in cells] + [3]) for i in range(len(columns))]

        def shrink(which: tuple[str, ...], floor: int) -> None:
            narrow = [i for i, c in enumerate(columns) if c in which]
            while sum(widths) > budget and narrow:
                i = max(narrow, key=lambda j: widths[j])
                if widths[i] <= floor:
                    return
                widths[i] -= 1

        natural = list(widths)
        shrink(("natural_key",), 17)  # 0. long keys (a member's keyed hash): their start
        shrink(("_source_file", "file"), 22)  # 1. file names, cut in the middle
        shrink(("reason",), 30)  # 2. reasons, wrapped over several lines
        for i, head in enumerate(heads):  # 3. headings wider than their values
            if sum(widths) <= budget or _width(head) <= values[i]:
                continue
            short = head.split("_")[0] if "_" in head.strip("_") else head
            if len(short) >= 3 and _width(short) < _width(head):
                heads[i] = head = short
                widths[i] = max(values[i], _width(short))
            widths[i] = max(values[i], min(widths[i], _width(head) - (sum(widths) - budget)))
        shrink(("_source_file", "file"), 12)  # 4. file names and reasons again
        shrink(("reason",), 16)
        for i, c in enumerate(columns):  # 5. what the headings gave back, to the file names
            if c in ("_source_file", "file"):
                widths[i] = min(natural[i], widths[i] + max(budget - sum(widths), 0))
        heads = [_cut(h, w) for h, w in zip(heads, widths, strict=True)]
    lines_of = [
        [
            _wrap_cell(cell, w)
            if c == "reason" and not wide
            else [_cut(cell, w, middle=c in ("_source_file", "file"))]
            for c, cell, w in zip(columns, row, widths, strict=True)
        ]
        for row in cells
    ]

    def line(texts: list[str], right: list[bool]) -> str:
        padded = [
            " " * (w - _width(t)) + t if r else t + " " * (w - _width(t))
            for t, w, r in zip(texts, widths, right, strict=True)
        ]
        return "  | " + " | ".join(padded) + " |"

    rule = "  +" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [rule, line(heads, [False] * len(heads)), rule]
    for n, row in enumerate(lines_of):
        if footer and n == len(cells) - footer:
            out.append(rule)
        for k in range(max(len(parts) for parts in row)):
            out.append(line([parts[k] if k < len(parts) else "" for parts in row], numeric))
    out.append(rule)
    return out + ([f"  … {len(rows) - len(shown)} more"] if len(shown) < len(rows) else [])


# the wording of the excluded rows' reasons in the compact table (the category says the rest)
_SHORT_REASONS = (
    ("the same key counts from a later row; counted row: ", "counts: "),
    ("file superseded by the resubmission ", "by "),
    ("; counted row: ", "; counts: "),
)


def _text_cell(value: Any, wide: bool, column: str = "") -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = _cell(value).replace("\n", " ")
    if wide:
        return text
    if column == "reason":
        for long, short in _SHORT_REASONS:
            text = text.replace(long, short)
    return _PATH_PREFIX.sub("", text)


def rows_for_export(t: Trace) -> list[dict[str, Any]]:
    """Contributing and excluded rows in one list (``role`` tells which)."""
    out = [{"role": "contributing"} | r for r in t.contributing_rows]
    out += [{"role": "excluded"} | r for r in t.excluded_rows]
    return out


def render_csv(t: Trace) -> str:
    """The contributing and excluded rows; with subtotals, the subtotal of every group."""
    rows = rows_for_export(t) if t.subtotals is None else t.subtotals["groups"]
    columns: list[str] = []
    for r in rows:
        columns += [c for c in r if c not in columns]
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: _cell(v) for k, v in r.items()})
    return buffer.getvalue()


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    raise TypeError(type(value))


def render_json(t: Trace) -> str:
    doc = asdict(t)
    return json.dumps(doc, ensure_ascii=False, indent=1, default=_json_default)
