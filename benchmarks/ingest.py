"""Benchmark of ingestion alone: ``ingest()`` of a landing folder into a fresh DuckDB file.

    python benchmarks/ingest.py --raw RAW [--repeat 3] [--workers N] [--checksum]

Each repetition runs in a fresh interpreter (as ``gonghui run`` does) and prints the wall
time, the CPU seconds of the process and of its reading workers, the peak resident memory of
the main process (``ru_maxrss``) and the largest peak of a worker (``ru_maxrss`` of the waited
children), then the medians and the load average. ``--checksum`` also prints, per ``raw``
table, the row count and an MD5 over every row (sorted; ``_run_id``/``_ingested_at`` left
out): two versions of the code that give the same checksums wrote the same rows.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def checksums(con) -> dict[str, tuple[int, str]]:
    """Table → (rows, md5 of the sorted rows without run-specific columns)."""
    out = {}
    tables = con.execute(
        "select table_name from duckdb_tables() where schema_name = 'raw' order by 1"
    ).fetchall()
    for (table,) in tables:
        cols = [r[0] for r in con.execute(f"describe raw.{table}").fetchall()]
        keep = ", ".join(f'"{c}"' for c in cols if c not in ("_run_id", "_ingested_at"))
        n, digest = con.execute(
            f"select count(*), md5(coalesce(string_agg(r, chr(10) order by r), '')) "
            f"from (select cast(row({keep}) as varchar) as r from raw.{table})"
        ).fetchone()
        out[table] = (n, digest)
    return out


def once(raw: Path, workers: int | None, want_checksum: bool) -> dict:
    import duckdb

    from orchestration.lib.ingest import ingest
    from orchestration.lib.mapping import load_mapping
    from orchestration.lib.settings import IngestLimits
    from orchestration.lib.workers import FilePool

    mapping = load_mapping()
    limits = IngestLimits.from_env()
    with tempfile.TemporaryDirectory(prefix="gonghui-bench-") as tmp:
        con = duckdb.connect(str(Path(tmp) / "gonghui.duckdb"))
        pool = FilePool(
            workers or limits.workers,
            timeout_s=limits.file_timeout_s,
            memory_bytes=limits.worker_memory_bytes,
        )
        r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        try:
            report = ingest(raw, con, mapping, "bench", key=b"bench-key", pool=pool)
        finally:
            pool.close()  # workers are waited for: their CPU counts in RUSAGE_CHILDREN
        wall = time.perf_counter() - t0
        r1, rc = (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
        out = {
            "wall_s": wall,
            "cpu_main_s": (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime),
            "cpu_workers_s": rc.ru_utime + rc.ru_stime,
            "rss_main_mib": r1.ru_maxrss / 1024,
            "rss_worker_mib": rc.ru_maxrss / 1024,
            "files": len(report.files),
            "rows_loaded": report.rows_loaded,
            "rows_quarantined": report.rows_quarantined,
        }
        if want_checksum:
            out["checksums"] = checksums(con)
        con.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--checksum", action="store_true")
    parser.add_argument("--once", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.once:
        print(json.dumps(once(args.raw, args.workers, args.checksum)))
        return
    env = dict(os.environ, GONGHUI_SETTLE_SECONDS="0")
    runs = []
    for i in range(args.repeat):
        cmd = [sys.executable, __file__, "--once", "--raw", str(args.raw)]
        if args.workers:
            cmd += ["--workers", str(args.workers)]
        if args.checksum and i == 0:
            cmd.append("--checksum")
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT, check=True)
        run = json.loads(proc.stdout.strip().splitlines()[-1])
        runs.append(run)
        print(
            f"run {i + 1}: wall {run['wall_s']:.1f} s, cpu main {run['cpu_main_s']:.1f} s + "
            f"workers {run['cpu_workers_s']:.1f} s, peak rss main {run['rss_main_mib']:.0f} MiB, "
            f"worker {run['rss_worker_mib']:.0f} MiB; {run['files']} files, "
            f"{run['rows_loaded']:,} rows loaded, {run['rows_quarantined']:,} quarantined",
            flush=True,
        )
        for table, (n, digest) in sorted(run.get("checksums", {}).items()):
            print(f"  raw.{table:<22} {n:>10,}  {digest}")
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0] if k.endswith(("_s", "b"))}
    print(
        f"median of {len(runs)}: wall {med['wall_s']:.1f} s, cpu main {med['cpu_main_s']:.1f} s"
        f" + workers {med['cpu_workers_s']:.1f} s, peak rss main {med['rss_main_mib']:.0f} MiB, "
        f"worker {med['rss_worker_mib']:.0f} MiB; load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
