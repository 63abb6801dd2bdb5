"""Benchmark: what masking identity and mobile numbers in free text costs ingestion.

    python benchmarks/pii_scrub.py --raw RAW [--repeat 2]

Ingests RAW (demo submissions: ``gonghui demo-data``) into an in-memory DuckDB twice per
repetition — once as the pipeline does, once with :func:`orchestration.lib.pii.scrub` and
:func:`~orchestration.lib.pii.scrub_text` replaced by the identity — and reports the wall times,
the time spent inside the scrubber, the values it looked at and the values it masked.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import duckdb

from orchestration.lib import ingest as I
from orchestration.lib import pii
from orchestration.lib.mapping import load_mapping

STATS = {"seconds": 0.0, "values": 0, "masked": 0}
_scrub, _scrub_text = pii.scrub, pii.scrub_text


def timed_scrub(series):
    t0 = time.perf_counter()
    out = _scrub(series)
    STATS["seconds"] += time.perf_counter() - t0
    STATS["values"] += series.len()
    if out is not series:
        STATS["masked"] += int((out != series).sum())
    return out


def run(raw: Path, scrubbing: bool) -> tuple[float, int]:
    pii.scrub = timed_scrub if scrubbing else (lambda s: s)
    pii.scrub_text = _scrub_text if scrubbing else (lambda v: v)
    con = duckdb.connect()
    t0 = time.perf_counter()
    report = I.ingest(raw, con, load_mapping(), "bench", key=b"bench-key")
    wall = time.perf_counter() - t0
    con.close()
    return wall, report.rows_loaded


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    for _ in range(args.repeat):
        for scrubbing in (False, True):
            STATS.update(seconds=0.0, values=0, masked=0)
            wall, rows = run(args.raw, scrubbing)
            line = f"{'with' if scrubbing else 'without'} scrubbing: {wall:.1f} s, {rows} rows"
            if scrubbing:
                line += (
                    f"; scrubber {STATS['seconds']:.2f} s over {STATS['values']} distinct"
                    f" text values, {STATS['masked']} masked"
                )
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
