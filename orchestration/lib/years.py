"""Each reporting year is gated and published on its own.

The gate's blocking findings name their year (``SuiteOutcome.blocked_years``). Publication
(:func:`decide_years`) publishes the working warehouse's rows of every year no blocking finding
names, and keeps the rows of the other years as the previous publication has them
(``publish_mart(hold_years=…)``: every table with a ``year`` column, the audit tables included,
so a kept year stays traceable); the swap stays atomic and whole-file. A check whose failure
names no year (a broken dbt model, a dimension) still blocks everything.

:func:`finish_publication` then completes the new mart in the same transaction:

* ``annual_indicators.status`` — ``final`` for a closed year that passed, ``provisional`` for
  an open one; kept rows keep the status they were published with;
* ``year_status`` — one row per year: its state, deadline, how complete its submissions are,
  the run whose rows are published and what this run decided;
* ``submission_status`` — year × street × report kind: files loaded, superseded and
  rejected, rows, the latest period and when the last file arrived, and ``received`` /
  ``missing`` / ``rejected_only`` / ``late`` (missing after the year closed).

Definition-free: called by the ``published_mart`` asset and by tests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from orchestration.lib.calendar import YearState

PUBLISHED, BLOCKED = "published", "blocked"


@dataclass
class YearDecision:
    year: int
    state: str  # open | closed
    deadline: str
    #: published: this run's rows; blocked: the previous publication's rows are kept
    decision: str
    #: status of the year's rows in the new mart (None: blocked and never published before)
    status: str | None
    source: str = "calendar"
    #: the blocking findings that hold the year back: check, street, kind, rule, observed
    blocked_by: list[dict[str, Any]] = field(default_factory=list)
    #: warn-level findings of the year (e.g. the submissions still missing of an open year)
    findings: list[dict[str, Any]] = field(default_factory=list)
    published_run_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def decide_years(
    states: dict[int, YearState], checks: Iterable[dict[str, Any]]
) -> dict[int, YearDecision]:
    """Each year's decision from the run's checks (dicts of ``CheckOutcome.as_dict``)."""
    checks = list(checks)
    decisions = {}
    for year, state in states.items():
        blocked_by, findings = [], []
        for check in checks:
            for f in check.get("findings") or []:
                if f.get("year") != year:
                    continue
                entry = {
                    "check": check.get("name"),
                    "street": f.get("street"),
                    "kind": f.get("kind"),
                    "rule": f.get("rule"),
                    "observed": f.get("observed"),
                }
                if year in (check.get("blocked_years") or []) and f.get("severity") == "block":
                    blocked_by.append(entry)
                elif f.get("severity") == "warn":
                    findings.append(entry)
            if year in (check.get("blocked_years") or []) and not any(
                b["check"] == check.get("name") for b in blocked_by
            ):
                blocked_by.append({"check": check.get("name"), "rule": check.get("description")})
        decisions[year] = YearDecision(
            year=year,
            state=state.state,
            deadline=state.deadline.isoformat(),
            decision=BLOCKED if blocked_by else PUBLISHED,
            status=None if blocked_by else state.status,
            source=state.source if state.source == "calendar" else f"command by {state.by}",
            blocked_by=blocked_by,
            findings=findings,
        )
    return decisions


def _has_table(con, database: str, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from duckdb_tables() where database_name = ? and schema_name = ? "
            "and table_name = ?",
            [database, schema, table],
        ).fetchone()[0]
    )


def _has_column(con, database: str, schema: str, table: str, column: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from duckdb_columns() where database_name = ? and schema_name = ? "
            "and table_name = ? and column_name = ?",
            [database, schema, table, column],
        ).fetchone()[0]
    )


SUBMISSION_STATUS_SQL = """
with kinds as (select unnest($kinds::varchar[]) as report_kind),
streets as (select unnest($streets::varchar[]) as street_code),
years as (select unnest($years::integer[]) as year),
closed as (select unnest($closed::integer[]) as year),
files as (
    select
        year, street_code, report_kind, status, _period_label, _period_end,
        rows_loaded, rows_quarantined, _source_file
    from work.raw.source_files
    where year is not null and street_code is not null and report_kind is not null
),
received as (select * from files_received),
counted as (
    select
        year, street_code, report_kind,
        count(*) filter (where status = 'loaded') as files_loaded,
        count(*) filter (where status = 'superseded') as files_superseded,
        count(*) filter (where status in ('rejected', 'unrecognised')) as files_rejected,
        coalesce(sum(rows_loaded) filter (where status = 'loaded'), 0) as rows_loaded,
        coalesce(sum(rows_quarantined) filter (where status = 'loaded'), 0) as rows_quarantined,
        arg_max(_period_label, _period_end) filter (where status = 'loaded') as latest_period,
        max(received.received_at) as last_received_at
    from files
    left join received using (_source_file)
    group by all
)
select
    cast(years.year as integer) as year,
    streets.street_code,
    kinds.report_kind,
    cast(coalesce(c.files_loaded, 0) as integer) as files_loaded,
    cast(coalesce(c.files_superseded, 0) as integer) as files_superseded,
    cast(coalesce(c.files_rejected, 0) as integer) as files_rejected,
    cast(coalesce(c.rows_loaded, 0) as bigint) as rows_loaded,
    cast(coalesce(c.rows_quarantined, 0) as bigint) as rows_quarantined,
    c.latest_period,
    c.last_received_at,
    case
        when coalesce(c.files_loaded, 0) + coalesce(c.files_superseded, 0) > 0 then 'received'
        when coalesce(c.files_rejected, 0) > 0 then 'rejected_only'
        when years.year in (select year from closed) then 'late'
        else 'missing'
    end as status
from years
cross join streets
cross join kinds
left join counted as c
    on c.year = years.year
    and c.street_code = streets.street_code
    and c.report_kind = kinds.report_kind
order by 1, 2, 3
"""


def _received_at(con, raw_dir: Path | None) -> None:
    """``files_received(_source_file, received_at)``: the landing files' modification times
    (when the file arrived in the landing zone), for the files still there."""
    import pandas as pd

    names = [r[0] for r in con.execute("select _source_file from work.raw.source_files").fetchall()]
    stamps = []
    for name in names:
        try:
            mtime = (raw_dir / name).stat().st_mtime if raw_dir else None
        except OSError:
            mtime = None
        stamps.append(
            dt.datetime.fromtimestamp(mtime, dt.UTC).replace(tzinfo=None) if mtime else None
        )
    frame = pd.DataFrame(
        {"_source_file": pd.Series(names, dtype=object), "received_at": pd.Series(stamps)}
    )
    frame["received_at"] = pd.to_datetime(frame["received_at"])
    con.register("files_received_frame", frame)
    con.execute(
        "create or replace temp view files_received as select _source_file, "
        "cast(received_at as timestamp) as received_at from files_received_frame"
    )


def write_submission_status(
    con,
    states: dict[int, YearState],
    *,
    streets: list[str],
    kinds: list[str],
    raw_dir: Path | None,
    table: str = "main.submission_status",
) -> None:
    """Create ``table`` in ``con`` (the new mart, the working database attached as ``work``)."""
    _received_at(con, raw_dir)
    con.execute(
        f"create or replace table {table} as {SUBMISSION_STATUS_SQL}",
        {
            "kinds": kinds,
            "streets": streets,
            "years": sorted(states),
            "closed": sorted(y for y, s in states.items() if s.closed),
        },
    )


def finish_publication(
    con,
    decisions: dict[int, YearDecision],
    states: dict[int, YearState],
    *,
    run_id: str,
    streets: list[str],
    kinds: list[str],
    raw_dir: Path | None,
    has_previous: bool,
) -> None:
    """Add ``annual_indicators.status``, ``year_status`` and ``submission_status`` to the new
    mart ``con`` (working database attached as ``work``, the previous mart as ``prev`` when
    ``has_previous``)."""
    if not _has_column(con, con_name(con), "main", "annual_indicators", "status"):
        con.execute("alter table main.annual_indicators add column status varchar")
    for year, d in decisions.items():
        if d.decision == PUBLISHED:
            con.execute(
                "update main.annual_indicators set status = ? where year = ?", [d.status, year]
            )
    # kept rows of a publication from before years had a status: only complete, closed
    # years were published then
    con.execute("update main.annual_indicators set status = 'final' where status is null")
    previous: dict[int, tuple[str | None, str | None]] = {}
    if has_previous and _has_table(con, "prev", "main", "year_status"):
        previous = {
            y: (s, r)
            for y, s, r in con.execute(
                "select year, status, published_run_id from prev.main.year_status"
            ).fetchall()
        }
    kept_status = dict(
        con.execute(
            "select year, any_value(status) from main.annual_indicators group by 1"
        ).fetchall()
    )
    for year, d in decisions.items():
        if d.decision == PUBLISHED:
            d.published_run_id = run_id
        else:
            d.status = kept_status.get(year)
            d.published_run_id = previous.get(year, (None, None))[1] if d.status else None
    write_submission_status(con, states, streets=streets, kinds=kinds, raw_dir=raw_dir)
    rows = []
    for year, d in sorted(decisions.items()):
        received = con.execute(
            "select count(*) filter (where status = 'received'), "
            "count(distinct street_code) - count(distinct street_code) filter "
            "(where status != 'received') from main.submission_status where year = ?",
            [year],
        ).fetchone()
        rows.append(
            (
                year,
                d.state,
                d.status,
                states[year].as_of,
                dt.date.fromisoformat(d.deadline),
                int(received[1]),
                len(streets),
                len(streets) * len(kinds),
                int(received[0]),
                d.published_run_id,
                d.decision,
                "; ".join(
                    " · ".join(str(x) for x in (b.get("street"), b.get("kind"), b.get("rule")) if x)
                    for b in d.blocked_by[:20]
                )
                or None,
                d.source,
            )
        )
    con.execute(
        "create or replace table main.year_status (year integer, state varchar, status varchar, "
        "as_of date, deadline date, streets_complete integer, streets_expected integer, "
        "kinds_expected integer, kinds_received integer, published_run_id varchar, "
        "decision varchar, blocked_by varchar, state_source varchar)"
    )
    if rows:
        con.executemany(
            "insert into main.year_status values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
        )


def con_name(con) -> str:
    """The catalog name of ``con``'s own database."""
    return con.execute("select current_database()").fetchone()[0]
