"""Shared fixtures: tiny landing folders written on the fly, and an ingestion runner.

``landing`` builds ``tmp_path/raw/<year>/<street>/<file>`` with one helper per format::

    landing.xlsx("buji", "劳资纠纷台账.xlsx", [[...header...], [...row...]])
    landing.xlsx("buji", "活动.xlsx", {"1月": rows, "说明": [["填表说明"]]}, merges={...})
    landing.xls("buji", "活动.xls", rows)
    landing.csv("buji", "会员.csv", rows, encoding="gbk")
    landing.json("buji", "纠纷.json", {"data": [{...}, ...]})
    landing.raw_bytes("buji", "broken.xlsx", b"...")

``run_ingest(raw_dir)`` ingests into a fresh in-memory DuckDB with the fixed PII key
``b"test-key"`` and returns ``(report, con)``; its files are read by one pool of worker
processes shared by the session (``reader_pool``). Tests write files and ingest at once, so
``GONGHUI_SETTLE_SECONDS`` defaults to 0 here (and in the pipelines tests start as
subprocesses, which inherit the environment); deferral tests set it themselves.
``make_id``/``make_credit_code`` give valid identifiers with the right check character.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pytest
import xlsxwriter
import xlwt
from mappings import CONTRACT_MAPPING

from orchestration.lib.identifiers import credit_check_char, id_check_char
from orchestration.lib.ingest import IngestReport, ingest
from orchestration.lib.mapping import Mapping, load_mapping
from orchestration.lib.workers import FilePool

os.environ.setdefault("GONGHUI_SETTLE_SECONDS", "0")

# Tests never depend on the templates of the shipped mapping (see tests/mappings.py); set before
# any test module imports the Dagster definitions, which load the mapping at import.
os.environ["GONGHUI_MAPPING"] = str(CONTRACT_MAPPING)

YEAR = 2021
PII_KEY = b"test-key"
RUN_ID = "test-run"

Rows = Sequence[Sequence[Any]]
Sheets = Rows | dict[str, Rows]


# --------------------------------------------------------------------------------- identifiers


def make_id(first17: str) -> str:
    """A valid GB 11643 identity number from its first 17 digits."""
    return first17 + id_check_char(first17)


def make_credit_code(first17: str) -> str:
    """A valid GB 32100 credit code from its first 17 characters."""
    return first17 + credit_check_char(first17)


# --------------------------------------------------------------------------------- file writers


def _as_sheets(sheets: Sheets) -> dict[str, Rows]:
    return sheets if isinstance(sheets, dict) else {"Sheet1": sheets}


def write_xlsx(
    path: Path, sheets: Sheets, *, merges: dict[str, list[tuple[int, int, int, int]]] | None = None
) -> Path:
    """Write rows (0-based, row ``i`` is Excel row ``i + 1``) with native cell types.

    ``None`` leaves a cell empty; ``datetime``/``date`` become real Excel dates; ``merges``
    maps a sheet to ``(first_row, first_col, last_row, last_col)`` ranges whose value is the
    cell at ``(first_row, first_col)``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(str(path))
    date_fmt = workbook.add_format({"num_format": "yyyy-mm-dd"})
    datetime_fmt = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    for name, rows in _as_sheets(sheets).items():
        ws = workbook.add_worksheet(name)
        merged = (merges or {}).get(name, [])
        starts = {(r, c) for r, c, _r2, _c2 in merged}
        for r1, c1, r2, c2 in merged:
            ws.merge_range(r1, c1, r2, c2, rows[r1][c1])
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is None or (r, c) in starts:
                    continue
                if isinstance(value, bool):
                    ws.write_boolean(r, c, value)
                elif isinstance(value, dt.datetime):
                    ws.write_datetime(r, c, value, datetime_fmt)
                elif isinstance(value, dt.date):
                    ws.write_datetime(r, c, value, date_fmt)
                elif isinstance(value, int | float):
                    ws.write_number(r, c, value)
                else:
                    ws.write_string(r, c, str(value))
    workbook.close()
    return path


def write_xls(path: Path, sheets: Sheets) -> Path:
    """Write a legacy .xls (BIFF8) workbook with xlwt; same cell conventions as xlsx."""
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlwt.Workbook(encoding="utf-8")
    date_style = xlwt.easyxf(num_format_str="yyyy-mm-dd")
    for name, rows in _as_sheets(sheets).items():
        ws = workbook.add_sheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, dt.date):
                    ws.write(r, c, value, date_style)
                else:
                    ws.write(r, c, value)
    workbook.save(str(path))
    return path


def write_csv(path: Path, rows: Rows, *, encoding: str = "utf-8", delimiter: str = ",") -> Path:
    """Write rows as CSV text (line ``i + 1`` holds ``rows[i]``); ``None`` is an empty field."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_json(path: Path, doc: Any, *, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(json.dumps(doc, ensure_ascii=False, indent=1).encode(encoding))
    return path


# --------------------------------------------------------------------------------- landing


class Landing:
    """A landing root ``<tmp>/raw`` with helpers that drop files into ``<year>/<street>/``."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, street: str, name: str, *, year: int | str = YEAR) -> Path:
        path = self.root / str(year) / street / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def xlsx(self, street: str, name: str, sheets: Sheets, *, year=YEAR, merges=None) -> Path:
        return write_xlsx(self.path(street, name, year=year), sheets, merges=merges)

    def xls(self, street: str, name: str, sheets: Sheets, *, year=YEAR) -> Path:
        return write_xls(self.path(street, name, year=year), sheets)

    def csv(self, street: str, name: str, rows: Rows, *, year=YEAR, **kwargs) -> Path:
        return write_csv(self.path(street, name, year=year), rows, **kwargs)

    def json(self, street: str, name: str, doc: Any, *, year=YEAR, **kwargs) -> Path:
        return write_json(self.path(street, name, year=year), doc, **kwargs)

    def raw_bytes(self, street: str, name: str, data: bytes, *, year=YEAR) -> Path:
        path = self.path(street, name, year=year)
        path.write_bytes(data)
        return path

    def file_at(self, relative: str, data: bytes) -> Path:
        """A file anywhere under the root (e.g. misplaced ones)."""
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def snapshot(self) -> dict[str, str]:
        """Relative path → sha256 of every file (to prove the landing zone is untouched)."""
        return {
            p.relative_to(self.root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(self.root.rglob("*"))
            if p.is_file()
        }


def pipeline_env(
    raw: Path, warehouse: Path, *, pii_key: str | None = None, **extra: str
) -> dict[str, str]:
    """The environment of a ``gonghui`` subprocess over a landing root and warehouse of its own:
    the session's (the contract-only mapping), without the caller's ``DAGSTER_HOME``, files
    read at once (``GONGHUI_SETTLE_SECONDS=0``) and ``pii_key`` (None: the public development
    key, which warns); ``extra`` adds or overrides variables."""
    env = {
        **os.environ,
        "GONGHUI_RAW_DIR": str(raw),
        "GONGHUI_WAREHOUSE_DIR": str(warehouse),
        "GONGHUI_SETTLE_SECONDS": "0",
        **extra,
    }
    env.pop("DAGSTER_HOME", None)
    if pii_key is None:
        env.pop("GONGHUI_PII_KEY", None)
    else:
        env["GONGHUI_PII_KEY"] = pii_key
    return env


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """A small demo mart published by the real pipeline, once per test worker
    (``tests/lib/published_demo.py``); tests that use it are in the xdist group
    ``published_demo``, so one worker builds it."""
    sys.path.insert(0, str(Path(__file__).parent / "lib"))
    from published_demo import build_published_demo

    return build_published_demo(tmp_path_factory)


@pytest.fixture
def landing(tmp_path: Path) -> Landing:
    return Landing(tmp_path / "raw")


@pytest.fixture(scope="session")
def mapping() -> Mapping:
    return load_mapping()


@pytest.fixture(scope="session")
def reader_pool():
    """Worker processes reading landing files, started once for the session."""
    with FilePool(2) as pool:
        yield pool


@pytest.fixture
def run_ingest(
    mapping: Mapping, reader_pool: FilePool
) -> Callable[..., tuple[IngestReport, duckdb.DuckDBPyConnection]]:
    """``run_ingest(raw_dir, mapping=None, key=PII_KEY)`` → ``(report, con)``."""
    connections: list[duckdb.DuckDBPyConnection] = []

    def run(
        raw_dir: Path | Landing,
        *,
        mapping: Mapping = mapping,
        key: bytes = PII_KEY,
        run_id: str = RUN_ID,
        **kwargs,
    ) -> tuple[IngestReport, duckdb.DuckDBPyConnection]:
        root = raw_dir.root if isinstance(raw_dir, Landing) else Path(raw_dir)
        con = duckdb.connect()
        connections.append(con)
        kwargs.setdefault("pool", reader_pool)
        report = ingest(root, con, mapping, run_id, key=key, **kwargs)
        return report, con

    yield run
    for con in connections:
        con.close()


# --------------------------------------------------------------------------------- queries


def fetch(con: duckdb.DuckDBPyConnection, sql: str, *params) -> list[dict[str, Any]]:
    """Rows of a query as dicts."""
    cursor = con.execute(sql, list(params))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def source_file(con: duckdb.DuckDBPyConnection, name: str) -> dict[str, Any]:
    """The ``raw.source_files`` row of the file whose path ends with ``name``."""
    rows = fetch(
        con,
        "select * from raw.source_files "
        "where _source_file = ? or ends_with(_source_file, '/' || ?)",
        name,
        name,
    )
    assert len(rows) == 1, f"{name}: {rows}"
    return rows[0]


def varchar_values(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    """(table, column, value) of every non-null VARCHAR cell of every table of the database."""
    out = []
    columns = con.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where data_type = 'VARCHAR'"
    ).fetchall()
    for schema, table, column in columns:
        values = con.execute(
            f'select "{column}" from "{schema}"."{table}" where "{column}" is not null'
        ).fetchall()
        out += [(f"{schema}.{table}", column, v[0]) for v in values]
    return out


def record_publication(settings) -> dict:
    """Record a publication of the working database of ``settings`` the way
    ``published_mart`` does (``published/manifest.json`` with the inputs fingerprint, run id
    ``run-1``), without running dbt; the mart file holds ``b"mart"`` (its sha256 recorded).
    Returns the fingerprint."""
    from orchestration.lib.fingerprint import current_fingerprint

    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        fingerprint = current_fingerprint(con, settings)
    settings.published_dir.mkdir(parents=True, exist_ok=True)
    settings.published_mart.write_bytes(b"mart")
    manifest = {
        "run_id": "run-1",
        "published_at": "2022-01-06T02:03:00Z",
        "mart": {"file": "mart.duckdb", "sha256": hashlib.sha256(b"mart").hexdigest()},
        "fingerprint": fingerprint,
    }
    (settings.published_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return fingerprint


@pytest.fixture(scope="session")
def baseline(tmp_path_factory):
    """The quality tests' tiny complete landing folder, built and published once by the real
    ``gonghui run`` (``tests/quality/gate_fixtures.py``); shared by the modules of the
    ``quality`` xdist group, which run on one worker."""
    from gate_fixtures import build_baseline

    return build_baseline(tmp_path_factory.mktemp("gate-baseline"))
