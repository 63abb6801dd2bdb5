"""Runtime settings, read from the environment (the same for the CLI, Dagster and tests).

``GONGHUI_RAW_DIR``        landing root, default ``raw/`` (read-only to the pipeline)
``GONGHUI_WAREHOUSE_DIR``  working database, Dagster instance, published mart (``warehouse/``)
``GONGHUI_PII_KEY``        HMAC key for identity numbers (a public development default warns)
``GONGHUI_MAPPING``        the source mapping, default ``mapping/sources.yml``
``GONGHUI_EXPECTATIONS_DIR`` the quality gate (GX context + ``gate.yml``), default ``expectations/``
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from orchestration.lib.mapping import DEFAULT_MAPPING_PATH, PROJECT_ROOT


def _path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


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
    def logs_dir(self) -> Path:
        """One log file per ``gonghui run``: ``<run id>.log`` (Dagster and dbt output)."""
        return self.warehouse_dir / "logs"

    @property
    def dagster_home(self) -> Path:
        return self.warehouse_dir / "dagster"
