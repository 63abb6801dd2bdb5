"""``gonghui`` — the command line of the federation's data pipeline.

    gonghui demo-data [--scale S] [--if-missing]   write the demo landing files under raw/
    gonghui run [--full-refresh] [--wait] [--verbose]  ingest, build, check and publish (Dagster)
    gonghui check-mapping FILE                      how one file would be read (cli_ops.py)
    gonghui sql / trace / report / docs             analysts and auditors (cli_analysts.py)
    gonghui year / status / feedback                the working year (cli_year.py)

Heavy libraries (dagster, dbt, Great Expectations) are imported inside the commands that need
them, so ``gonghui --help`` answers at once.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

from orchestration.cli_analysts import add_analyst_commands
from orchestration.cli_ops import add_ops_commands, after_run, reread_reason, run_options
from orchestration.cli_year import add_year_commands
from orchestration.lib.settings import Settings


def _has_files(folder: Path) -> bool:
    return folder.is_dir() and any(p.is_file() for p in folder.rglob("*"))


def cmd_demo_data(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    raw_dir = Path(args.raw_dir).resolve() if args.raw_dir else settings.raw_dir
    if args.if_missing and _has_files(raw_dir):
        print(f"demo data: {raw_dir} already has files, nothing generated")
        return 0
    from gonghui_demo import generate

    started = time.perf_counter()
    summary = generate(raw_dir, scale=args.scale, seed=args.seed)
    print(f"demo data written to {raw_dir} in {time.perf_counter() - started:.1f} s")
    for year, files in sorted(summary.get("files", {}).items()):
        rows = summary.get("rows", {}).get(year, {})
        print(f"  {year}: {files} files; rows " + ", ".join(f"{k} {v:,}" for k, v in rows.items()))
    return 0


def _prepare_dagster_home(settings: Settings) -> Path:
    home = Path(os.environ.get("DAGSTER_HOME") or settings.dagster_home)
    from orchestration.lib.instance_config import ensure_instance_config

    ensure_instance_config(home)  # run monitoring and a run queue of one (upgrades old files)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def _up_to_date_message(manifest: dict, settings: Settings, started: float) -> str:
    return "\n".join(
        [
            f"gonghui run — {time.perf_counter() - started:.1f} s: UP TO DATE, no run needed",
            f"  nothing changed since the publication of run {manifest.get('run_id')} "
            f"({manifest.get('published_at')}): same landing files "
            f"({len(manifest.get('inputs') or [])}), mapping, dbt project, quality gate and code",
            f"  the published mart stays in place: {settings.published_mart}",
            "  (`gonghui run --full-refresh` re-reads and rebuilds everything anyway)",
        ]
    )


def cmd_run(args: argparse.Namespace) -> int:
    """One writer: the run holds the warehouse's writer lock, or is refused / waits
    (``--wait``); a damaged working database is moved aside first (lib/writer.py)."""
    from orchestration.lib.writer import run_as_writer

    return run_as_writer(Settings.from_env(), args, _run_locked)


def _run_locked(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if not _has_files(settings.raw_dir):
        print(
            f"error: no landing files under {settings.raw_dir} (set GONGHUI_RAW_DIR, or run "
            "`gonghui demo-data` for the demo submissions)",
            file=sys.stderr,
        )
        return 2
    started = time.perf_counter()
    streets = None
    if not args.full_refresh:
        from orchestration.lib.fingerprint import pending_work

        work = pending_work(settings)
        if work.nothing_to_do:
            print(_up_to_date_message(work.up_to_date_with, settings, started))
            return 0
        if work.changed_streets and not work.unplaced_changed:
            streets = work.changed_streets
    home = _prepare_dagster_home(settings)
    from dagster import DagsterInstance

    from orchestration.definitions import defs
    from orchestration.defs.jobs import GONGHUI_JOB_NAME
    from orchestration.lib.console import RunConsole
    from orchestration.lib.summary import RunSummary

    instance = DagsterInstance.get()
    job = defs.resolve_job_def(GONGHUI_JOB_NAME)
    reread = reread_reason(settings, args)
    run_id = str(uuid.uuid4())  # known before the run: the console follows its event log
    with RunConsole(settings.logs_dir / f"{run_id}.log", verbose=args.verbose) as console:
        with console.running(instance, run_id):
            result = job.execute_in_process(
                instance=instance, raise_on_error=False, run_id=run_id, **run_options(args, streets)
            )
        summary = RunSummary.collect(
            result, settings, elapsed=time.perf_counter() - started, instance=instance
        )
        summary.warnings = [w for w in console.warnings if w not in summary.problems]
        summary.log_path = None if args.verbose else console.log_path
        summary.record_decision()  # published/decisions/<run id>.json, published or blocked
        print(summary.render(dagster_home=home))
        after_run(instance, result.run_id, reread=reread)
    return 0 if summary.published or summary.up_to_date_with else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gonghui",
        description="Longgang trade-union data pipeline: ingest street submissions, "
        "build the warehouse, check and publish the annual indicator mart.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo-data", help="write the seeded demo submissions (2020, 2021)")
    demo.add_argument("--scale", type=float, default=1.0, help="volume factor (1.0 = calibrated)")
    demo.add_argument("--seed", type=int, default=2021)
    demo.add_argument("--raw-dir", help="target folder (default: GONGHUI_RAW_DIR or raw/)")
    demo.add_argument(
        "--if-missing", action="store_true", help="do nothing when the folder already has files"
    )
    demo.set_defaults(func=cmd_demo_data)

    run = sub.add_parser("run", help="run the whole pipeline once through Dagster")
    run.add_argument(
        "--full-refresh",
        action="store_true",
        help="re-read every street and rebuild every model (default: only streets whose files "
        "changed by content hash; nothing downstream when nothing changed since the last "
        "publication)",
    )
    run.add_argument(
        "--verbose",
        action="store_true",
        help="stream Dagster's and dbt's log lines to the terminal (default: one line per "
        "stage; the detail goes to <warehouse>/logs/<run id>.log)",
    )
    run.add_argument(
        "--wait",
        action="store_true",
        help="when another run is writing the warehouse, wait for it to end (default: refuse "
        "at once, exit code 75)",
    )
    run.set_defaults(func=cmd_run)

    add_analyst_commands(sub)  # sql, trace, report, docs
    add_ops_commands(sub)  # check-mapping
    add_year_commands(sub)  # year, status, feedback
    return parser


def main(argv: list[str] | None = None) -> int:
    from orchestration.lib.streets import StreetsFileError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except StreetsFileError as exc:  # GONGHUI_STREETS is unusable: say where, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
