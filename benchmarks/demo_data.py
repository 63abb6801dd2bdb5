"""Benchmark: generating the demo landing data — wall time and peak memory.

    python benchmarks/demo_data.py [--scale 1.0] [--seed 2021] [--out DIR] [--verify]

Generates both years (2020, 2021) into DIR (default: a temporary folder, removed afterwards)
in this process and prints the wall time, the peak RSS (getrusage), the files and rows per
year. ``--verify`` then reads the files back with the reference reader
(``gonghui_demo.verify``) and compares the figures with the expected ones.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gonghui_demo import generate  # noqa: E402
from gonghui_demo import verify as V  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--verify", action="store_true")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="gonghui-demo-")) / "raw"
    t0 = time.perf_counter()
    summary = generate(out, scale=args.scale, seed=args.seed)
    wall = time.perf_counter() - t0
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size_mib = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
    for year, n in summary["files"].items():
        print(f"{year}: {n} files")
        for kind, rows in summary["rows"][year].items():
            print(
                f"  {kind:<22} {rows:>9} rows written  {summary['records'][year][kind]:>9} records"
            )
    print(
        f"demo data (scale {args.scale}): wall {wall:.1f} s, peak RSS {peak_mib:.0f} MiB, "
        f"{size_mib:.0f} MiB on disk"
    )
    status = 0
    if args.verify:
        for year in summary["files"]:
            got = V.read_year(out, year)["district"]
            expected = V.as_comparable(summary["expected"][year])
            diff = {k: (got.get(k), v) for k, v in expected.items() if got.get(k) != v}
            print(f"verify {year}: {diff or 'OK'}")
            status |= bool(diff)
    if args.out is None:
        shutil.rmtree(out.parent)
    return status


if __name__ == "__main__":
    sys.exit(main())
