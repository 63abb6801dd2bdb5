"""What reading one landing file produces: :class:`FileResult` (loaded frames, quarantined
rows, control totals, status) and the column and sheet layouts found on the way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from orchestration.lib.ingest.periods import Period


@dataclass
class ColumnMatch:
    """How one source column was read (shown by ``gonghui check-mapping``)."""

    column: str
    header: str
    field: str | None
    unit: str | None = None


@dataclass
class SheetLayout:
    sheet: str | None
    kind: str
    header_row: int
    columns: list[ColumnMatch]
    period: Period | None
    #: required fields without a column (the sheet was not loaded)
    missing_required: list[str] = field(default_factory=list)


@dataclass
class FileResult:
    """Everything ingestion learnt from one landing file."""

    source_file: str
    path: Path
    year: int | None
    street_code: str | None
    sha256: str | None
    file_format: str
    status: str = "loaded"
    reason_code: str | None = None
    reason: str | None = None
    encoding: str | None = None
    kind: str | None = None
    period: Period | None = None
    version: int = 1
    superseded_by: str | None = None
    layouts: list[SheetLayout] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    loaded: dict[str, list[pl.DataFrame]] = field(default_factory=dict)
    #: kind → Parquet files of loaded rows written by the worker
    #: (:class:`~orchestration.lib.ingest.warehouse.RawStage`)
    spilled: dict[str, list[str]] = field(default_factory=dict)
    quarantined: list[pl.DataFrame] = field(default_factory=list)
    control_totals: list[dict] = field(default_factory=list)
    rows_data: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_skipped: int = 0

    def reject(self, status: str, code: str, reason: str) -> FileResult:
        self.status, self.reason_code, self.reason = status, code, reason
        self.loaded, self.quarantined, self.control_totals = {}, [], []
        self.spilled = {}
        self.rows_loaded = self.rows_quarantined = self.rows_data = 0
        return self

    @property
    def message(self) -> str:
        return f"{self.source_file}: {self.status} — {self.reason}"
