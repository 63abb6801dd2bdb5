"""The analysts' and auditors' commands of ``gonghui`` (registered by ``orchestration/cli.py``).

    gonghui sql ["SELECT …"] [--format table|csv|json]    read-only SQL on the published mart
    gonghui trace INDICATOR --year Y [--street S] [--by street|file] [--wide]
                                                         from a figure back to source rows
    gonghui report --year Y [--out F] [--pdf]               the year's report as HTML (+ PDF)
    gonghui docs [--empty-catalog]                          dbt docs (lineage) under the warehouse

All of them read ``published/mart.duckdb`` read-only (never the working database), so they run
while ``gonghui run`` is writing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from orchestration.lib.settings import Settings


def _mart(args: argparse.Namespace) -> Path:
    return Path(args.mart).resolve() if args.mart else Settings.from_env().published_mart


def cmd_sql(args: argparse.Namespace) -> int:
    import duckdb

    from orchestration.lib.query import (
        MartMissingError,
        connect_published,
        execute,
        explain_error,
        interactive,
    )

    mart = _mart(args)
    try:
        if args.query is None or args.query == "-":
            connect_published(mart).close()  # fail early when there is no published mart
            return interactive(mart, args.format)
        print(execute(mart, args.query, args.format))
    except MartMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except duckdb.Error as exc:
        print(f"error: {explain_error(exc, mart)}", file=sys.stderr)
        return 1
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    from orchestration.lib import trace as tr
    from orchestration.lib.query import MartMissingError, connect_published

    try:
        with connect_published(_mart(args)) as con:
            result = tr.trace(
                con, args.indicator, args.year, args.street or tr.DISTRICT, by=args.by
            )
    except (MartMissingError, tr.TraceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(tr.render_json(result))
    elif args.format == "csv":
        sys.stdout.write(tr.render_csv(result))
    else:
        print(tr.render_text(result, limit=args.limit or None, wide=args.wide))
    return 0 if result.matches else 1


def cmd_report(args: argparse.Namespace) -> int:
    from orchestration.lib import report as rp
    from orchestration.lib.query import MartMissingError

    settings = Settings.from_env()
    out = (
        Path(args.out).resolve()
        if args.out
        else settings.warehouse_dir / "reports" / f"report-{args.year}.html"
    )
    try:
        rp.write_report(_mart(args), args.year, out)
    except (MartMissingError, rp.ReportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"report written to {out}")
    if args.pdf:
        if rp.find_chromium() is None:
            print(
                "no PDF: Chromium is not installed (docs/ci-system-packages.txt)", file=sys.stderr
            )
            return 1
        pdf = rp.print_pdf(out, out.with_suffix(".pdf"))
        print(f"PDF written to {pdf}")
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    from orchestration.defs.dbt.resources import DBT_EXECUTABLE, DBT_PROJECT_DIR

    settings = Settings.from_env()
    target = Path(args.out).resolve() if args.out else settings.warehouse_dir / "dbt-docs"
    command = [
        DBT_EXECUTABLE,
        "docs",
        "generate",
        "--static",
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target),
    ]
    if args.empty_catalog or not settings.duckdb_path.is_file():
        command.append("--empty-catalog")
    env = dict(os.environ, GONGHUI_DUCKDB_PATH=str(settings.duckdb_path))
    proc = subprocess.run(command, env=env, cwd=DBT_PROJECT_DIR, check=False)
    if proc.returncode != 0:
        print(
            "error: dbt docs generate failed (a run in progress holds the working database: "
            "retry after it, or use --empty-catalog)",
            file=sys.stderr,
        )
        return proc.returncode
    print(f"dbt docs written to {target}: open {target / 'static_index.html'} in a browser")
    return 0


def add_analyst_commands(sub: argparse._SubParsersAction) -> None:
    mart_help = "published mart (default: GONGHUI_WAREHOUSE_DIR/published/mart.duckdb)"

    sql = sub.add_parser(
        "sql",
        help="read-only SQL on the published mart (interactive without a query)",
        description="Run SQL read-only against published/mart.duckdb (schemas main and audit), "
        "in a sandbox: no other file can be read, written or attached, no extension loaded, no "
        "setting changed (for files use the Parquet export, published/parquet/). Without a "
        "query: an interactive prompt (or the statements on standard input; exit code 1 if "
        "any failed).",
    )
    sql.add_argument("query", nargs="?", help='e.g. "select * from annual_indicators limit 5"')
    sql.add_argument("--format", choices=("table", "csv", "json"), default="table")
    sql.add_argument("--mart", help=mart_help)
    sql.set_defaults(func=cmd_sql)

    trace = sub.add_parser(
        "trace",
        help="trace a published figure back to its source rows",
        description="Published value, formula, lineage, contributing and excluded source rows "
        "of one indicator; exit code 1 if the recount differs from the published value.",
    )
    trace.add_argument("indicator", help="indicator code, e.g. disputes_recovered_yuan")
    trace.add_argument("--year", type=int, required=True)
    trace.add_argument(
        "--street", help="street code or name, e.g. buji or 布吉 (default: the district total)"
    )
    trace.add_argument(
        "--by",
        choices=("street", "file"),
        help="subtotals per street or per source file that add up to the figure "
        "(with --format csv: the subtotals instead of the rows)",
    )
    trace.add_argument(
        "--wide", action="store_true", help="text: full paths, SHA-256 and every column"
    )
    trace.add_argument("--format", choices=("text", "json", "csv"), default="text")
    trace.add_argument(
        "--limit", type=int, default=20, help="rows listed per section in text (0 = all)"
    )
    trace.add_argument("--mart", help=mart_help)
    trace.set_defaults(func=cmd_trace)

    report = sub.add_parser("report", help="the year's annual report as a self-contained HTML page")
    report.add_argument("--year", type=int, required=True)
    report.add_argument("--out", help="HTML file (default: warehouse/reports/report-<year>.html)")
    report.add_argument("--pdf", action="store_true", help="also print a PDF (headless Chromium)")
    report.add_argument("--mart", help=mart_help)
    report.set_defaults(func=cmd_report)

    docs = sub.add_parser("docs", help="dbt docs (models, columns, lineage) under the warehouse")
    docs.add_argument("--out", help="target folder (default: warehouse/dbt-docs)")
    docs.add_argument(
        "--empty-catalog",
        action="store_true",
        help="skip reading column types from the working database (e.g. during a run)",
    )
    docs.set_defaults(func=cmd_docs)
