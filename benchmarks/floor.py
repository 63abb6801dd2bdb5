"""The read floor: every landing file read with the fastest readers, and nothing else.

    python benchmarks/floor.py [RAW]          (default: raw/)

The floor is what no pipeline can beat on this machine: each file under the landing root read
once, on one core, by the fastest reader of its format — polars for CSV (text decoded first
when it is not UTF-8), calamine (``fastexcel``) for every sheet of a workbook, the standard
``json`` module for JSON — counting rows and doing nothing with them: no header recognition,
no parsing, no validation, no writing. ``make bench`` sets a full ``gonghui run`` against it.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import fastexcel
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
TEXT_ENCODINGS = ("utf-8-sig", "gb18030")


@dataclass
class Floor:
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    files: int = 0
    rows: int = 0
    #: format → (files, rows, seconds)
    by_format: dict[str, list[float]] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)


def _csv_rows(path: Path) -> int:
    data = path.read_bytes()
    for encoding in TEXT_ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding != "utf-8-sig":
            data = text.encode("utf-8")
        break
    frame = pl.read_csv(
        io.BytesIO(data),
        has_header=False,
        infer_schema=False,
        truncate_ragged_lines=True,
        quote_char='"',
    )
    return frame.height


def _excel_rows(path: Path) -> int:
    workbook = fastexcel.read_excel(str(path))
    return sum(
        workbook.load_sheet(i, header_row=None, dtypes="string").height
        for i in range(len(workbook.sheet_names))
    )


def _json_rows(path: Path) -> int:
    doc = json.loads(path.read_bytes())
    if isinstance(doc, dict):
        doc = next((v for v in doc.values() if isinstance(v, list)), [])
    return len(doc)


READERS = {
    ".csv": _csv_rows,
    ".xlsx": _excel_rows,
    ".xlsm": _excel_rows,
    ".xls": _excel_rows,
    ".json": _json_rows,
}


def read_floor(raw: Path) -> Floor:
    """Read every supported regular file under ``raw`` (symlinks not followed)."""
    floor = Floor()
    files = sorted(p for p in raw.rglob("*") if p.is_file() and not p.is_symlink())
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for path in files:
        reader = READERS.get(path.suffix.lower())
        if reader is None:
            continue
        t0 = time.perf_counter()
        try:
            rows = reader(path)
        except Exception:  # a hostile or broken file: the pipeline rejects it too
            floor.unreadable.append(path.relative_to(raw).as_posix())
            continue
        stats = floor.by_format.setdefault(path.suffix.lower(), [0, 0, 0.0])
        stats[0] += 1
        stats[1] += rows
        stats[2] += time.perf_counter() - t0
        floor.files += 1
        floor.rows += rows
    floor.seconds = time.perf_counter() - wall0
    floor.cpu_seconds = time.process_time() - cpu0
    return floor


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", nargs="?", type=Path, default=ROOT / "raw")
    parser.add_argument("--json", action="store_true", help="one JSON object (for make bench)")
    args = parser.parse_args()
    if not args.raw.is_dir():
        print(f"error: no landing folder {args.raw}", file=sys.stderr)
        return 2
    floor = read_floor(args.raw)
    if args.json:
        print(json.dumps(asdict(floor)))
        return 0
    print(
        f"read floor: {floor.seconds:.2f} s wall, {floor.cpu_seconds:.2f} s CPU, "
        f"{floor.files} files, {floor.rows:,} rows"
    )
    for suffix, (files, rows, seconds) in sorted(floor.by_format.items()):
        print(f"  {suffix:<6}{int(files):>5} files {int(rows):>12,} rows {seconds:>7.2f} s")
    if floor.unreadable:
        print(f"  unreadable (skipped): {len(floor.unreadable)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
