"""The warehouse resource: where the landing files are and where the working database lives.

Every run that uses it is the warehouse's writer: :meth:`WarehouseResource.setup_for_execution`
takes the writer lock (:mod:`orchestration.lib.writer`; re-entrant, so inside ``gonghui run``,
which holds it already, this is free). When another process holds it, the run fails at its
first step with a clean ``dg.Failure`` naming the running run: every asset and check of the job
asks the resource for its :meth:`~WarehouseResource.settings` first, and in a run that is not
the writer that raises. Holding the lock, setup moves a damaged working database aside (the
run then rebuilds it from the landing zone).
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from orchestration.lib.settings import Settings
from orchestration.lib.writer import (
    RECOVERED_TAG,
    DatabaseInUse,
    WriterBusy,
    acquire,
    held_here,
    recover_damaged_database,
    release,
)


class WarehouseResource(dg.ConfigurableResource):
    """Paths of the landing root, the working DuckDB database and the published mart.

    Empty values fall back to the ``GONGHUI_*`` environment variables (see
    :mod:`orchestration.lib.settings`), so the CLI, ``dagster dev`` and tests agree.
    """

    raw_dir: str = ""
    warehouse_dir: str = ""
    mapping_path: str = ""
    #: set in a run that found the writer lock held by another process (see setup_for_execution)
    _not_the_writer: str | None = PrivateAttr(default=None)

    def settings(self) -> Settings:
        """The paths; in a run that could not take the writer lock, a ``dg.Failure``."""
        if self._not_the_writer:
            raise dg.Failure(self._not_the_writer, allow_retries=False)
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
        return duckdb.connect(
            str(settings.duckdb_path), read_only=read_only, config=settings.duckdb_config
        )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """In a run: take the writer lock (or fail fast), then recover a damaged database."""
        run = context.run
        if run is None:  # a sensor or schedule evaluation reads, it does not write
            return
        settings = self.settings()
        try:
            acquire(
                settings.warehouse_dir,
                trigger=run.tags.get("gonghui/trigger", "dagster (UI or launched run)"),
                run_id=run.run_id,
            )
        except WriterBusy as exc:
            context.log.error(str(exc))
            self._not_the_writer = str(exc)  # the first step's settings() fails the run
            return
        try:
            recovery = recover_damaged_database(settings.warehouse_dir, settings.duckdb_path)
        except DatabaseInUse as exc:
            context.log.error(str(exc))
            release(settings.warehouse_dir)
            self._not_the_writer = str(exc)
            return
        if recovery is not None:
            context.log.warning(recovery.warning())
            if context.instance is not None:
                context.instance.add_run_tags(run.run_id, {RECOVERED_TAG: str(recovery.moved_to)})

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if context.run is None or self._not_the_writer:
            return
        warehouse_dir = self.settings().warehouse_dir
        if held_here(warehouse_dir):
            release(warehouse_dir)
