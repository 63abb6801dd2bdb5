"""The operations commands of ``gonghui`` (registered by ``orchestration/cli.py``).

    gonghui check-mapping FILE [--street S --year Y] [--mapping M] [--rows N] [--json]
        how ingestion would read one landing file: template, kind, column mapping,
        missing fields, row counts, first quarantined rows — without touching the warehouse;
        exit 0 only when rows would load (1: unrecognised, rejected, or quarantined beyond
        the gate's threshold)
    gonghui check-mapping FILE --suggest
        for a file no template reads: each sheet's first rows, the likely header row, each
        column's likely field, code lists, and a draft ``templates:`` entry
    gonghui check-mapping --validate [--mapping M]
        the mapping alone: exit 0 when valid, 1 with every problem

and the helpers ``gonghui run`` uses for partitioned runs (every street in one run; unchanged
streets skipped by content hash unless ``--full-refresh``) and for alerts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any


def run_options(args: argparse.Namespace, streets: list[str] | None = None) -> dict[str, Any]:
    """``execute_in_process`` options of a ``gonghui run``: one run over the range of street
    partitions covering ``streets`` (default: every street)."""
    from orchestration.defs.ingest.partitions import partition_range_tags
    from orchestration.lib.writer import RECOVERED_TAG

    full_refresh = bool(getattr(args, "full_refresh", False))
    recovered = getattr(args, "recovered_from", None)  # a damaged database moved aside
    return {
        "tags": {
            **partition_range_tags(streets),
            "gonghui/trigger": "cli",
            **({RECOVERED_TAG: recovered} if recovered else {}),
        },
        "run_config": {
            "ops": {
                op: {"config": {"full_refresh": full_refresh}}
                for op in ("landing_tables", "warehouse_models")
            }
        },
    }


def ingestion_scope(instance, run_id: str) -> tuple[list[str], list[str]] | None:
    """(streets re-ingested, streets unchanged) of a run, from its materialization metadata."""
    import dagster as dg

    from orchestration.defs.ingest.assets import raw_asset_key

    key = raw_asset_key("source_files")
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        event = entry.dagster_event
        if event and event.asset_key == key:
            meta = event.event_specific_data.materialization.metadata
            ingested, unchanged = meta.get("streets_ingested"), meta.get("streets_unchanged")
            if ingested is not None and unchanged is not None:
                return list(ingested.value), list(unchanged.value)
    return None


def reread_reason(settings, args: argparse.Namespace) -> str | None:
    """Why a run will re-read every street whatever their files, judged before it starts:
    ``--full-refresh``, a first ingestion, or a mapping or PII key other than the one the
    streets were read with; ``None`` when only streets with changed files are re-read."""
    if getattr(args, "full_refresh", False):
        return "--full-refresh"
    if not settings.duckdb_path.exists():
        return "first ingestion into this warehouse"
    import duckdb

    from orchestration.lib.ingest.fingerprints import warehouse_fingerprints
    from orchestration.lib.ingest.keys import pii_key, pii_key_id
    from orchestration.lib.mapping import MappingError, load_mapping

    try:
        mapping_sha = load_mapping(settings.mapping_path).sha256
        with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
            previous = warehouse_fingerprints(con)
    except (duckdb.Error, MappingError, OSError):
        return None  # the run itself reports what is wrong
    read_with = [entry for files in previous.values() for entry in files.values()]
    if not read_with:
        return "first ingestion into this warehouse"
    if any(mapping != mapping_sha for _sha, mapping, _key in read_with):
        return f"the mapping {settings.mapping_path.name} changed since the last ingestion"
    key_id = pii_key_id(pii_key(warn=False))
    if any(key != key_id for _sha, _mapping, key in read_with):
        return "GONGHUI_PII_KEY changed since the last ingestion"
    return None


def scope_line(ingested: list[str], streets: int, reread: str | None = None) -> str:
    """The summary line saying which streets a run re-read, and why."""
    if not ingested:
        return "  streets re-read: none (every street's files are as they were ingested)"
    if len(ingested) >= streets:
        why = reread or "files added, changed or removed in every street"
        return f"  streets re-read: all {streets} ({why})"
    why = reread or "files added, changed or removed"
    return (
        f"  streets re-read: {', '.join(ingested)} ({why}); the other {streets - len(ingested)} "
        "kept their rows (`gonghui run --full-refresh` re-reads all)"
    )


def after_run(instance, run_id: str, reread: str | None = None) -> None:
    """Print which streets were re-read and why (``reread``: see :func:`reread_reason`);
    alert on a failed or blocked run (run log; webhook if ``GONGHUI_ALERT_WEBHOOK``)."""
    from orchestration.lib.alerts import ALERT_TAG, WEBHOOK_ENV, notify

    scope = ingestion_scope(instance, run_id)
    if scope:
        from orchestration.defs.ingest.partitions import STREET_CODES

        print(scope_line(scope[0], len(STREET_CODES), reread))
    alert = notify(instance, run_id)
    if alert is None:
        return
    run = instance.get_run_by_id(run_id)
    where = "webhook" if os.environ.get(WEBHOOK_ENV) else "run log only (no GONGHUI_ALERT_WEBHOOK)"
    print(f"  alert: {alert.status} — {where}: {run.tags.get(ALERT_TAG) if run else ''}")


def cmd_check_mapping(args: argparse.Namespace) -> int:
    from orchestration.lib.check_mapping import CheckMappingError, check_file
    from orchestration.lib.mapping import MappingError, load_mapping
    from orchestration.lib.streets import UnknownStreetError, resolve_street

    mapping_path = Path(args.mapping) if args.mapping else None
    if args.validate:
        try:
            mapping = load_mapping(mapping_path)
        except MappingError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        templates = ", ".join(t.name for t in mapping.templates) or "none"
        print(
            f"{mapping.path}: valid — {len(mapping.kinds)} report kinds, "
            f"{len(mapping.templates)} template(s): {templates}"
        )
        return 0
    if not args.path:
        print("error: a FILE to check, or --validate to check the mapping alone", file=sys.stderr)
        return 2
    try:
        street = resolve_street(args.street, allow_district=False) if args.street else None
        mapping = load_mapping(mapping_path)
        if args.suggest:
            from orchestration.lib.suggest import suggest_template

            suggestion = suggest_template(args.path, mapping=mapping, street=street)
            print(suggestion.render())
            return 0
        check = check_file(
            args.path, mapping=mapping, street=street, year=args.year, rows=args.rows
        )
    except (CheckMappingError, MappingError, UnknownStreetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(check.to_dict(), ensure_ascii=False, indent=1, default=str))
    else:
        print(check.render())
    return 0 if check.ok else 1


def add_ops_commands(sub) -> None:
    check = sub.add_parser(
        "check-mapping",
        help="show how one landing file would be read (kind, columns, quarantine), dry",
        description="Dry-run ingestion of one file against the mapping: the template used, "
        "the kind recognised, each column's field and unit, unmapped columns, required fields "
        "missing, row counts and the first rows that would be quarantined. Writes nothing.",
    )
    check.add_argument(
        "path", nargs="?", help="the file (street/year taken from <raw>/<year>/<street>/)"
    )
    check.add_argument(
        "--street", help="street code or name (布吉), when the file is not in a street folder"
    )
    check.add_argument("--year", type=int, help="reporting year, likewise")
    check.add_argument(
        "--mapping", help="the mapping file (default: GONGHUI_MAPPING or mapping/sources.yml)"
    )
    check.add_argument("--rows", type=int, default=5, help="rows shown per preview (5)")
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.add_argument(
        "--suggest",
        action="store_true",
        help="for a file no template reads: its first rows, likely header row and fields, "
        "code lists and a draft templates: entry to paste into the mapping",
    )
    check.add_argument(
        "--validate",
        action="store_true",
        help="check the mapping alone (no FILE): exit 0 when valid, 1 with the problems",
    )
    check.set_defaults(func=cmd_check_mapping)
