"""The warehouse resource: where the landing files are and where the working database lives."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from orchestration.lib.settings import Settings


class WarehouseResource(dg.ConfigurableResource):
    """Paths of the landing root, the working DuckDB database and the published mart.

    Empty values fall back to the ``GONGHUI_*`` environment variables (see
    :mod:`orchestration.lib.settings`), so the CLI, ``dagster dev`` and tests agree.
    """

    raw_dir: str = ""
    warehouse_dir: str = ""
    mapping_path: str = ""

    def settings(self) -> Settings:
        env = Settings.from_env()
        return Settings(
            raw_dir=Path(self.raw_dir).resolve() if self.raw_dir else env.raw_dir,
            warehouse_dir=(
                Path(self.warehouse_dir).resolve() if self.warehouse_dir else env.warehouse_dir
            ),
            mapping_path=Path(self.mapping_path).resolve()
            if self.mapping_path
            else env.mapping_path,
        )

    def connect(self, read_only: bool = False):
        """A DuckDB connection to the working database (the pipeline is its only writer)."""
        import duckdb

        settings = self.settings()
        settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
        return duckdb.connect(str(settings.duckdb_path), read_only=read_only)
