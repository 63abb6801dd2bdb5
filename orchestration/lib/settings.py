"""Runtime settings, read from the environment (the same for the CLI, Dagster and tests).

``GONGHUI_RAW_DIR``        landing root, default ``raw/`` (read-only to the pipeline)
``GONGHUI_WAREHOUSE_DIR``  working database, Dagster instance, published mart (``warehouse/``)
``GONGHUI_PII_KEY``        HMAC key for identity numbers (a public development default warns)
``GONGHUI_MAPPING``        the source mapping, default ``mapping/sources.yml``
``GONGHUI_EXPECTATIONS_DIR`` the quality gate (GX context + ``gate.yml``), default ``expectations/``
``GONGHUI_STREETS``        the streets list (codes, names), default ``mapping/streets.csv``
``GONGHUI_AS_OF``           the date taken as today (which years are open): lib/calendar.py
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from orchestration.lib.constants import PROJECT_ROOT
from orchestration.lib.mapping import DEFAULT_MAPPING_PATH

#: the streets list shipped with the project (Longgang's eleven streets)
DEFAULT_STREETS_PATH = PROJECT_ROOT / "mapping" / "streets.csv"


def _path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


def duckdb_memory_limit() -> str:
    """DuckDB ``memory_limit`` of every connection the pipeline writes or copies through
    (``GONGHUI_DUCKDB_MEMORY_LIMIT``, default 2GB; the dbt profile reads the same variable):
    above it DuckDB spills to a temporary folder next to the database instead of growing."""
    return os.environ.get("GONGHUI_DUCKDB_MEMORY_LIMIT") or "2GB"


@dataclass(frozen=True)
class Settings:
    raw_dir: Path
    warehouse_dir: Path
    mapping_path: Path

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            raw_dir=_path("GONGHUI_RAW_DIR", PROJECT_ROOT / "raw"),
            warehouse_dir=_path("GONGHUI_WAREHOUSE_DIR", PROJECT_ROOT / "warehouse"),
            mapping_path=_path("GONGHUI_MAPPING", DEFAULT_MAPPING_PATH),
        )

    @property
    def duckdb_path(self) -> Path:
        """The working database: one writer (the pipeline), never opened by analysts."""
        return self.warehouse_dir / "gonghui.duckdb"

    @property
    def duckdb_config(self) -> dict[str, str]:
        """DuckDB settings of the pipeline's connections to the working database: the same
        ``memory_limit`` as the dbt build (``GONGHUI_DUCKDB_MEMORY_LIMIT``, default 2GB), so
        loading the raw tables spills to ``gonghui.duckdb.tmp/`` instead of growing with the
        data."""
        return {"memory_limit": duckdb_memory_limit()}

    @property
    def published_dir(self) -> Path:
        return self.warehouse_dir / "published"

    @property
    def published_mart(self) -> Path:
        """The analysts' database, replaced atomically by each successful publication."""
        return self.published_dir / "mart.duckdb"

    @property
    def expectations_dir(self) -> Path:
        """The quality gate: GX file data context, suites and ``gate.yml`` (read at load)."""
        return _path("GONGHUI_EXPECTATIONS_DIR", PROJECT_ROOT / "expectations")

    @property
    def streets_path(self) -> Path:
        """The district's streets (codes, Chinese names; :mod:`orchestration.lib.streets`)."""
        return _path("GONGHUI_STREETS", DEFAULT_STREETS_PATH)

    @property
    def logs_dir(self) -> Path:
        """One log file per ``gonghui run``: ``<run id>.log`` (Dagster and dbt output)."""
        return self.warehouse_dir / "logs"

    @property
    def dagster_home(self) -> Path:
        return self.warehouse_dir / "dagster"


# --------------------------------------------------------------------------------------------
# Ingestion isolation: worker pool, reading limits, settling time
# --------------------------------------------------------------------------------------------

MIB = 1 << 20


def _number(name: str, default: float, *, minimum: float = 0) -> float:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = float(value)
    except ValueError as exc:
        raise ValueError(f"{name}={value!r} is not a number") from exc
    if number < minimum:
        raise ValueError(f"{name}={value!r} must be at least {minimum:g}")
    return number


@dataclass(frozen=True)
class IngestLimits:
    """How ingestion reads files (``GONGHUI_WORKERS`` … ``GONGHUI_SETTLE_SECONDS``).

    Defaults are far above anything a street sends: they stop hostile or broken files, not
    big ones. Sizes are bytes here; the environment variables are in MB / GiB.
    """

    #: worker processes reading files in parallel (default: one per core)
    workers: int = max(1, os.cpu_count() or 1)
    #: seconds one file may take to be read and parsed before its worker is killed
    file_timeout_s: float = 300.0
    #: resident memory one worker may use before it is killed (the file is ``too_large``)
    worker_memory_bytes: int = 4 << 30
    #: total uncompressed size of an xlsx/xlsm's zip members
    max_uncompressed_bytes: int = 200 * MIB
    #: rows × columns a workbook sheet may declare (``<dimension ref=…>``)
    max_sheet_cells: int = 2_000_000 * 200
    #: file size per format (suffix without the dot)
    max_file_bytes: tuple[tuple[str, int], ...] = (
        ("xlsx", 100 * MIB),
        ("xlsm", 100 * MIB),
        ("xls", 100 * MIB),
        ("csv", 500 * MIB),
        ("json", 500 * MIB),
    )
    #: a file modified less than this many seconds ago is still arriving: deferred
    settle_seconds: float = 60.0
    #: estimated memory of the files being read at once (:class:`~orchestration.lib.workers.
    #: FilePool`): a file waits while the others' estimates fill it; a larger one runs alone
    memory_budget_bytes: int = 2 << 30
    #: a worker that reached this resident memory is replaced after its file (frees it)
    recycle_bytes: int = 1 << 30
    #: memory a reader needs per byte of file, by format — measured peaks of a worker on the
    #: demo at ten times its size, rounded up: a 342 MB JSON roster 2.35 GiB, a 92 MB CSV
    #: 1.2 GiB, a 25 MB xlsx 0.45 GiB (minus the 0.15 GiB an idle worker holds)
    memory_per_file_byte: tuple[tuple[str, float], ...] = (
        ("csv", 13.0),
        ("json", 7.0),
        ("xlsx", 14.0),
        ("xlsm", 14.0),
        ("xls", 14.0),
    )

    def max_bytes(self, file_format: str) -> int | None:
        return dict(self.max_file_bytes).get(file_format)

    def read_memory_estimate(self, file_format: str, size: int) -> int:
        """Bytes of memory reading a ``file_format`` file of ``size`` bytes is expected to
        take (the weight of its job in the reader pool's budget)."""
        return int(size * dict(self.memory_per_file_byte).get(file_format, 14.0))

    @classmethod
    def from_env(cls) -> IngestLimits:
        d = cls()
        sizes = tuple(
            (fmt, int(_number(f"GONGHUI_MAX_{fmt.upper()}_MB", size / MIB, minimum=0) * MIB))
            for fmt, size in d.max_file_bytes
        )
        return cls(
            workers=int(_number("GONGHUI_WORKERS", d.workers, minimum=1)),
            file_timeout_s=_number("GONGHUI_FILE_TIMEOUT_SECONDS", d.file_timeout_s, minimum=0.1),
            worker_memory_bytes=int(
                _number("GONGHUI_MAX_WORKER_MEMORY_GB", d.worker_memory_bytes / (1 << 30))
                * (1 << 30)
            ),
            max_uncompressed_bytes=int(
                _number("GONGHUI_MAX_UNCOMPRESSED_MB", d.max_uncompressed_bytes / MIB) * MIB
            ),
            max_sheet_cells=int(_number("GONGHUI_MAX_SHEET_CELLS", d.max_sheet_cells, minimum=1)),
            max_file_bytes=sizes,
            settle_seconds=_number("GONGHUI_SETTLE_SECONDS", d.settle_seconds),
            memory_budget_bytes=int(
                _number("GONGHUI_INGEST_MEMORY_GB", d.memory_budget_bytes / (1 << 30), minimum=0)
                * (1 << 30)
            ),
        )
