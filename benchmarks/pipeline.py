"""Benchmark: a full `gonghui run` on the demo data — wall time and peak memory.

    python benchmarks/pipeline.py [--raw RAW] [--warehouse DIR] [--scale 1.0]

Generates the demo submissions into RAW if it is empty, then runs `gonghui run` in a child
process (fresh interpreter, as a user would) and reports its wall time and peak RSS (the
largest resident set of any process of the run, from getrusage of the children).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, default=ROOT / "raw")
    parser.add_argument("--warehouse", type=Path, default=None)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    gonghui = Path(sys.executable).with_name("gonghui")
    env = dict(os.environ, GONGHUI_RAW_DIR=str(args.raw.resolve()))
    if not (args.raw.is_dir() and any(args.raw.rglob("*.*"))):
        t0 = time.perf_counter()
        subprocess.run([gonghui, "demo-data", "--scale", str(args.scale)], env=env, check=True)
        print(f"demo data generated in {time.perf_counter() - t0:.1f} s")
    warehouse = args.warehouse or Path(tempfile.mkdtemp(prefix="gonghui-bench-"))
    env["GONGHUI_WAREHOUSE_DIR"] = str(warehouse.resolve())
    t0 = time.perf_counter()
    proc = subprocess.run([gonghui, "run"], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(proc.stdout[-3000:])
    if proc.returncode:
        print(proc.stderr[-3000:], file=sys.stderr)
    print(f"gonghui run: exit {proc.returncode}, wall {wall:.1f} s, peak RSS {peak_mib:.0f} MiB")
    print(f"warehouse: {warehouse}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
