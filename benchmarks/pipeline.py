"""Benchmark: a full ``gonghui run`` against the read floor on the same landing folder.

    python benchmarks/pipeline.py [--raw RAW] [--scale 1] [--repeat 3]

Generates the demo submissions at ``--scale`` into RAW when it is empty (default: ``raw/`` at
scale 1, ``warehouse/bench/raw-x<scale>`` otherwise), then alternates, ``--repeat`` times,

- the read floor (``benchmarks/floor.py``: every file read by the fastest reader, nothing else);
- ``gonghui run --full-refresh`` on an empty warehouse (a fresh interpreter, as a user runs it),

so both see the same machine state (page cache, other load), and prints the medians: wall
time, CPU seconds (user + system of the process and every descendant it waited for — dbt and
the ingestion workers included), the ratio run / floor, the peak resident memory of the whole
process tree (sampled from ``/proc`` every 0.1 s: the sum over every live descendant, not the
largest single process), Dagster's events per run and the time of each Dagster step.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = os.sysconf("SC_PAGE_SIZE")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def tree_rss(pid: int) -> int:
    """Bytes resident in ``pid`` and all its live descendants."""
    tree, total, todo = _children(), 0, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * PAGE
        except OSError:
            pass
        todo.extend(tree.get(current, []))
    return total


class Measured:
    """Run a command; wall time, CPU seconds of its process tree, peak RSS of the tree."""

    def __init__(self, cmd: list[str], env: dict[str, str]):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.peak = 0
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.1):
                self.peak = max(self.peak, tree_rss(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        out, err = proc.communicate()
        done.set()
        sampler.join()
        self.wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        self.returncode = proc.returncode
        self.stdout, self.stderr = out.decode(errors="replace"), err.decode(errors="replace")


def dagster_steps(dagster_home: Path) -> tuple[dict[str, float], int]:
    """Step durations (s) and the number of events of the latest run in ``dagster_home``."""
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        records = instance.get_run_records(limit=1)
        if not records:
            return {}, 0
        logs = instance.all_logs(records[0].dagster_run.run_id)
    started: dict[str, float] = {}
    steps: dict[str, float] = {}
    for entry in logs:
        event = entry.dagster_event
        if event is None or not event.step_key:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            started[event.step_key] = entry.timestamp
        elif event.event_type in (
            dg.DagsterEventType.STEP_SUCCESS,
            dg.DagsterEventType.STEP_FAILURE,
        ):
            steps[event.step_key] = entry.timestamp - started.get(event.step_key, entry.timestamp)
    return steps, len(logs)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, default=None)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the last run's warehouse")
    args = parser.parse_args()
    scale_name = f"{args.scale:g}"
    raw = args.raw or (
        ROOT / "raw" if args.scale == 1 else ROOT / "warehouse" / "bench" / f"raw-x{scale_name}"
    )
    bin_dir = Path(sys.executable).parent
    gonghui = bin_dir / "gonghui"
    env = dict(os.environ, GONGHUI_RAW_DIR=str(raw.resolve()))
    if not (raw.is_dir() and any(raw.rglob("*.*"))):
        t0 = time.perf_counter()
        subprocess.run([gonghui, "demo-data", "--scale", scale_name], env=env, check=True)
        print(f"demo data (scale {scale_name}) generated in {time.perf_counter() - t0:.1f} s")

    floors: list[Measured] = []
    runs: list[Measured] = []
    steps: list[dict[str, float]] = []
    events: list[int] = []
    floor_doc: dict = {}
    for i in range(args.repeat):
        floor_cmd = [sys.executable, str(ROOT / "benchmarks" / "floor.py"), "--json", str(raw)]
        floor = Measured(floor_cmd, env)
        floor_doc = json.loads(floor.stdout)
        floors.append(floor)
        warehouse = Path(tempfile.mkdtemp(prefix="gonghui-bench-"))
        run_env = dict(
            env, GONGHUI_WAREHOUSE_DIR=str(warehouse), DAGSTER_HOME=str(warehouse / "dagster")
        )
        run = Measured([str(gonghui), "run", "--full-refresh"], run_env)
        runs.append(run)
        if run.returncode:
            print(run.stdout[-3000:], run.stderr[-3000:], sep="\n", file=sys.stderr)
            print(f"gonghui run exited {run.returncode} (warehouse kept: {warehouse})")
            return run.returncode
        step_times, n_events = dagster_steps(warehouse / "dagster")
        steps.append(step_times)
        events.append(n_events)
        print(
            f"  round {i + 1}/{args.repeat}: floor {floor.wall:.1f} s, run {run.wall:.1f} s "
            f"({run.wall / floor.wall:.1f}x), run peak {run.peak / 2**30:.2f} GiB",
            flush=True,
        )
        if args.keep and i == args.repeat - 1:
            print(f"  warehouse kept: {warehouse}")
        else:
            shutil.rmtree(warehouse, ignore_errors=True)

    floor_wall = _median([f.wall for f in floors])
    run_wall = _median([r.wall for r in runs])
    print()
    print(
        f"landing: {raw} — {floor_doc.get('files')} files, {floor_doc.get('rows', 0):,} rows "
        f"(scale {scale_name}); {args.repeat} rounds, medians; {os.cpu_count()} cores"
    )
    print(f"{'':<24}{'wall s':>9}{'CPU s':>9}{'peak RSS GiB':>14}")
    print(
        f"{'read floor':<24}{floor_wall:>9.1f}{_median([f.cpu for f in floors]):>9.1f}"
        f"{max(f.peak for f in floors) / 2**30:>14.2f}"
    )
    print(
        f"{'gonghui run (full)':<24}{run_wall:>9.1f}{_median([r.cpu for r in runs]):>9.1f}"
        f"{max(r.peak for r in runs) / 2**30:>14.2f}"
    )
    print(f"ratio run / floor: {run_wall / floor_wall:.1f}x; Dagster events per run: "
          f"{int(_median([float(e) for e in events]))}")  # fmt: skip
    print("Dagster steps (median s):")
    for name in steps[-1]:
        print(f"  {name:<40}{_median([s.get(name, 0.0) for s in steps]):>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
