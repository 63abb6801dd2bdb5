"""Benchmark: what a nightly run costs when nothing or one street changed, against a full run.

    python benchmarks/incremental.py [--raw RAW] [--street buji] [--scale 1.0]

Copies the landing root RAW (generating the demo submissions into it first if it is empty)
to a temporary folder, then times ``gonghui run`` in a fresh interpreter each time:

1. ``full``       — ``gonghui run --full-refresh`` on an empty warehouse;
2. ``unchanged``  — the same files again: nothing to do (no Dagster run is started);
3. ``rebuild only`` — the last publication's manifest removed: no landing file changed, so
   nothing is re-read, but dbt, the gate and publication run over all partitions — the fixed
   cost of producing a publication, whatever changed;
4. ``one street`` — one landing file of ``--street`` rewritten with new bytes (a blank line
   appended: a resubmission with the same rows), so that street is re-ingested and the mart
   rebuilt — incremental dbt models process only that street's rows;
5. ``full again`` — ``--full-refresh`` on the same warehouse, for comparison under the same
   conditions.

For each it prints the wall time, the share of the full run and the Dagster step times
(from the run's log), so the fixed costs (interpreter, Dagster's run bookkeeping, dbt start-up,
the gate) can be told apart from the work that scales with the rows read.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEP = re.compile(r'Finished execution of step "(\w+)" in ([\dhms.]+)\.')
UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def seconds(duration: str) -> float:
    """Dagster's step duration (``533ms``, ``2.1s``, ``4m52s``, ``1h4m``) in seconds."""
    return sum(
        float(value) * UNIT_SECONDS[unit]
        for value, unit in re.findall(r"([\d.]+)(ms|h|m|s)", duration)
    )


def run(gonghui: Path, env: dict[str, str], *args: str) -> tuple[float, dict[str, float], str]:
    t0 = time.perf_counter()
    proc = subprocess.run([gonghui, "run", *args], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode:
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n", file=sys.stderr)
        raise SystemExit(f"gonghui run {' '.join(args)} exited {proc.returncode}")
    steps = {name: seconds(duration) for name, duration in STEP.findall(proc.stderr)}
    verdict = next(
        (
            line.strip()
            for line in proc.stdout.splitlines()
            if "PUBLISHED" in line or "UP TO" in line
        ),
        "",
    )
    return wall, steps, verdict


def touch_one_file(raw: Path, street: str) -> Path:
    """Append a blank line to the street's newest CSV (or JSON) file: new bytes, same rows."""
    files = sorted(raw.glob(f"*/{street}/*.csv")) or sorted(raw.glob(f"*/{street}/*.json"))
    if not files:
        raise SystemExit(f"no CSV or JSON file for street {street!r} under {raw}")
    path = files[-1]
    with path.open("ab") as handle:
        handle.write(b"\n" if path.suffix == ".csv" else b" ")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, default=ROOT / "raw")
    parser.add_argument("--street", default="buji")
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    gonghui = Path(sys.executable).with_name("gonghui")
    if not (args.raw.is_dir() and any(args.raw.rglob("*.*"))):
        env = dict(os.environ, GONGHUI_RAW_DIR=str(args.raw.resolve()))
        subprocess.run([gonghui, "demo-data", "--scale", str(args.scale)], env=env, check=True)
    work = Path(tempfile.mkdtemp(prefix="gonghui-incremental-"))
    raw = work / "raw"
    shutil.copytree(args.raw, raw)
    env = dict(
        os.environ,
        GONGHUI_RAW_DIR=str(raw),
        GONGHUI_WAREHOUSE_DIR=str(work / "warehouse"),
        # the rewritten file stands for a resubmission that has arrived: read it at once
        GONGHUI_SETTLE_SECONDS="0",
    )
    results = [("full", *run(gonghui, env, "--full-refresh"))]
    results.append(("unchanged", *run(gonghui, env)))
    (work / "warehouse" / "published" / "manifest.json").unlink()
    results.append(("rebuild only", *run(gonghui, env)))
    changed = touch_one_file(raw, args.street)
    results.append((f"one street ({args.street})", *run(gonghui, env)))
    results.append(("full again", *run(gonghui, env, "--full-refresh")))

    full = results[0][1]
    print(f"landing: {args.raw} ({sum(1 for p in raw.rglob('*') if p.is_file())} files); "
          f"changed for the one-street run: {changed.relative_to(raw)}")  # fmt: skip
    print(f"{'scenario':<22}{'wall s':>8}{'% of full':>11}  verdict / Dagster steps (s)")
    for name, wall, steps, verdict in results:
        print(f"{name:<22}{wall:>8.1f}{100 * wall / full:>10.0f}%  {verdict[:70]}")
        if steps:
            print(" " * 43 + ", ".join(f"{k} {v:.1f}" for k, v in steps.items()))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
