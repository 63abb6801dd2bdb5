"""The working-year commands of ``gonghui`` (registered by ``orchestration/cli.py``).

    gonghui year [list]                       each year's state (open/closed), deadline, source
    gonghui year close Y [--by N --reason R]  close year Y now (its final gate runs next)
    gonghui year reopen Y [--by N --reason R] reopen year Y (published as provisional again)
    gonghui status [--year Y]                 submission status: street × report kind grid
    gonghui feedback --year Y [--street S]    one feedback workbook (反馈单) per street

The state of a year is the calendar's (``expectations/calendar.yml``, ``GONGHUI_AS_OF``)
unless closed or reopened by command (``published/years.json``, see lib/calendar.py).
"""

from __future__ import annotations

import argparse
import sys

from orchestration.lib.settings import Settings


def _known_years(settings: Settings) -> list[int]:
    """Years of the working database (else of the landing folders)."""
    import duckdb

    from orchestration.lib.calendar import working_years

    if settings.duckdb_path.exists():
        try:
            with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
                return working_years(con)
        except duckdb.Error:
            pass
    root = settings.raw_dir
    return sorted(int(p.name) for p in root.glob("[12][0-9][0-9][0-9]") if p.is_dir())


def cmd_year(args: argparse.Namespace) -> int:
    from orchestration.lib.calendar import (
        CLOSED,
        OPEN,
        CalendarError,
        current_year_states,
        record_override,
    )

    settings = Settings.from_env()
    try:
        if args.action in ("close", "reopen"):
            if args.year is None:
                print(f"error: gonghui year {args.action} needs a year", file=sys.stderr)
                return 2
            state = CLOSED if args.action == "close" else OPEN
            event = record_override(
                settings.published_dir, args.year, state, by=args.by, reason=args.reason or ""
            )
            print(
                f"year {args.year} {'closed' if state == CLOSED else 'reopened'} by "
                f"{event['by']} at {event['at']}"
                + (f" ({event['reason']})" if event["reason"] else "")
            )
            print(
                "  the next `gonghui run` (or the nightly schedule) gates it as "
                + (
                    "a closed year: final, complete submissions required"
                    if state == CLOSED
                    else "an open year: provisional figures"
                )
            )
            return 0
        years = _known_years(settings)
        if args.year is not None:
            years = sorted({*years, args.year})
        states = current_year_states(settings, years)
    except CalendarError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not states:
        print("no reporting years yet (nothing ingested, no landing folders)")
        return 0
    print(f"{'year':<6}{'state':<8}{'status':<13}{'deadline':<12}source")
    for s in states.values():
        source = "calendar" if s.source == "calendar" else f"command by {s.by} at {s.at}"
        print(f"{s.year:<6}{s.state:<8}{s.status:<13}{s.deadline.isoformat():<12}{source}")
    print(f"as of {next(iter(states.values())).as_of.isoformat()} (GONGHUI_AS_OF)")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from orchestration.lib.mapping import load_mapping
    from orchestration.lib.query import MartMissingError, connect_published
    from orchestration.lib.streets import load_streets
    from orchestration.lib.submissions import published_years, status_grid

    settings = Settings.from_env()
    try:
        con = connect_published(settings.published_mart)
    except MartMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with con:
        tables = {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
        if "submission_status" not in tables:
            print(
                "error: the published mart has no submission_status yet (run `gonghui run`)",
                file=sys.stderr,
            )
            return 2
        years = [args.year] if args.year else published_years(con)
        mapping = load_mapping(settings.mapping_path)
        kinds = {k.name: str(i) for i, k in enumerate(mapping.kinds.values(), 1)}
        streets = {s.code: s.short_zh or s.code for s in load_streets()}
        print("\n\n".join(status_grid(con, y, kinds=kinds, streets=streets) for y in years))
        print(
            "report kinds: "
            + " · ".join(
                f"{i} {k.title} ({k.name})" for i, k in enumerate(mapping.kinds.values(), 1)
            )
        )
    return 0


def cmd_feedback(args: argparse.Namespace) -> int:
    from pathlib import Path

    from orchestration.lib.feedback import write_feedback
    from orchestration.lib.gate import GateConfigError, load_gate_config
    from orchestration.lib.mapping import load_mapping
    from orchestration.lib.query import MartMissingError, connect_published
    from orchestration.lib.streets import UnknownStreetError, load_streets, resolve_street

    settings = Settings.from_env()
    try:
        street = resolve_street(args.street, allow_district=False) if args.street else None
        con = connect_published(settings.published_mart)
    except (MartMissingError, UnknownStreetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        suite = load_gate_config(settings.expectations_dir).suites.get("gate_control_totals")
        max_difference = float(
            (suite.parameters if suite else {}).get("max_control_total_difference", 0.01)
        )
    except GateConfigError:
        max_difference = 0.01
    mapping = load_mapping(settings.mapping_path)
    streets = {s.code: s.name_zh or s.code for s in load_streets() if street in (None, s.code)}
    out = (
        Path(args.out).resolve()
        if args.out
        else settings.warehouse_dir / "feedback" / str(args.year)
    )
    with con:
        written = write_feedback(
            con,
            args.year,
            out,
            streets=streets,
            kind_titles={k.name: k.title for k in mapping.kinds.values()},
            max_difference=max_difference,
        )
    for fb in written:
        print(
            f"{fb.path}: {len(fb.missing)} report kind(s) not received, {len(fb.rejected)} "
            f"file(s) rejected, {len(fb.quarantined)} row(s) quarantined, "
            f"{len(fb.control_totals)} 合计 mismatch(es)"
        )
    return 0


def add_year_commands(sub) -> None:
    year = sub.add_parser(
        "year",
        help="the working year: list the years' states, close or reopen a year",
        description="A year is open (submissions expected, provisional figures) until its "
        "deadline (expectations/calendar.yml; today = GONGHUI_AS_OF) and closed after it "
        "(final figures, complete submissions required). close/reopen override the calendar "
        "for one year and are recorded in published/years.json.",
    )
    year.add_argument("action", nargs="?", default="list", choices=["list", "close", "reopen"])
    year.add_argument("year", nargs="?", type=int)
    year.add_argument("--by", help="who closes/reopens (default: the login name)")
    year.add_argument("--reason", help="why, kept in the record")
    year.set_defaults(func=cmd_year)

    status = sub.add_parser(
        "status",
        help="who sent what: the submission status as a street × report kind grid",
        description="Reads submission_status and year_status of the published mart: per year, "
        "street and report kind whether the submission was received, is missing, was "
        "rejected only, or is late (missing after the deadline).",
    )
    status.add_argument("--year", type=int, help="one year (default: every published year)")
    status.set_defaults(func=cmd_status)

    feedback = sub.add_parser(
        "feedback",
        help="write one feedback workbook (反馈单, .xlsx) per street: what it must fix",
        description="Per street, an .xlsx in Chinese from the published mart: report kinds not "
        "received, rejected files with the reason, quarantined rows (file, sheet, row number, "
        "field and problem; no personal data) and 合计 mismatches.",
    )
    feedback.add_argument("--year", type=int, required=True)
    feedback.add_argument("--street", help="one street, by code or name (default: every street)")
    feedback.add_argument("--out", help="folder (default: <warehouse>/feedback/<year>/)")
    feedback.set_defaults(func=cmd_feedback)
