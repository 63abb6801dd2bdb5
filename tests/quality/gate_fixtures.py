"""Helpers of the quality-gate tests: a tiny but complete landing folder and a published baseline.

``complete_landing(root)`` writes one small CSV per street x report kind (every field of the
mapping, valid values), so the source-level suites pass. ``build_baseline`` runs the
real ``gonghui run`` on it (dbt included) and gives the warehouse with its first publication;
each case copies it, breaks one thing and runs the gate through Dagster without dbt
(``run_gate``), which keeps the suite fast.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from conftest import make_credit_code, make_id, write_csv

from orchestration.lib.mapping import load_mapping
from orchestration.lib.streets import load_street_codes

YEAR = 2021
GONGHUI = Path(sys.executable).with_name("gonghui")
MAPPING = load_mapping()
STREETS = load_street_codes()
_serial = itertools.count(1)


def _value(kind: str, field, street: str, i: int, n: int):
    if field.type == "id_number":
        return make_id(f"440307199001{n:05d}")
    if field.type == "credit_code":
        return make_credit_code(f"91440300{n:09d}")
    if field.type == "int":
        return 30 + i
    if field.type == "amount":
        return "1000.50"
    if field.type == "date":
        return f"{YEAR}-0{1 + i % 9}-1{i % 10}"
    if field.type == "bool":
        return "是"
    if field.type == "category":
        return field.values[0]
    return f"{field.name}-{street}-{n}"


def kind_rows(kind: str, street: str, count: int = 2) -> list[list]:
    """Header + ``count`` valid rows of ``kind`` with every field of the mapping."""
    fields = list(MAPPING.kinds[kind].fields.values())
    rows: list[list] = [[f.header for f in fields]]
    for i in range(count):
        n = next(_serial)
        rows.append([_value(kind, f, street, i, n) for f in fields])
    return rows


def complete_landing(root: Path, year: int = YEAR) -> Path:
    """Every street submitted every report kind: ``<root>/<year>/<street>/<kind>.csv``."""
    for street in STREETS:
        for kind in MAPPING.kinds:
            write_csv(root / str(year) / street / f"{kind}.csv", kind_rows(kind, street))
    return root


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def gonghui_env(raw: Path, warehouse: Path, **extra: str) -> dict[str, str]:
    env = dict(
        os.environ,
        GONGHUI_RAW_DIR=str(raw),
        GONGHUI_WAREHOUSE_DIR=str(warehouse),
        GONGHUI_PII_KEY="quality-test-key",
        **extra,
    )
    env.pop("DAGSTER_HOME", None)
    return env


@dataclass
class Baseline:
    raw: Path
    warehouse: Path
    stdout: str

    @property
    def mart(self) -> Path:
        return self.warehouse / "published" / "mart.duckdb"

    def copy(self, target: Path) -> tuple[Path, Path]:
        """(raw, warehouse) copies: the landing folder, working database and publication."""
        raw, warehouse = target / "raw", target / "warehouse"
        shutil.copytree(self.raw, raw)
        warehouse.mkdir(parents=True)
        shutil.copy2(self.warehouse / "gonghui.duckdb", warehouse / "gonghui.duckdb")
        shutil.copytree(self.warehouse / "published", warehouse / "published", symlinks=True)
        return raw, warehouse


def build_baseline(base: Path) -> Baseline:
    """The complete tiny landing folder, built and published by the real ``gonghui run``."""
    raw = complete_landing(base / "raw")
    proc = subprocess.run(
        [GONGHUI, "run"], env=gonghui_env(raw, base / "warehouse"), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return Baseline(raw, base / "warehouse", proc.stdout)


@dataclass
class GateRun:
    result: dg.ExecuteInProcessResult
    published: bool
    decision: dict
    summary: str


def run_gate(
    monkeypatch,
    raw: Path,
    warehouse: Path,
    *,
    ingest: bool,
    expectations: Path | None = None,
    dbt_tests: tuple[str, ...] = (),
) -> GateRun:
    """Run the gate and publication through Dagster, without dbt.

    ``ingest``: re-ingest ``raw`` and run the source-level checks; otherwise run the warehouse
    checks on the working database as it is. ``expectations``: another ``expectations/`` dir
    (``GONGHUI_EXPECTATIONS_DIR``), read when the checks are defined — as at definition load.
    ``dbt_tests``: also run the model checks of ``warehouse_models`` that aggregate a dbt test
    whose name starts with one of these (every test of those models), as ``dbt build --select
    <tests>`` — without rebuilding a model.
    """
    import json

    from orchestration.defs.dbt.assets import warehouse_models
    from orchestration.defs.dbt.resources import dbt_resource
    from orchestration.defs.ingest.assets import landing_tables
    from orchestration.defs.ingest.partitions import partition_range_tags
    from orchestration.defs.ingest.resources import WarehouseResource
    from orchestration.defs.publish.assets import PUBLISHED_MART_KEY, published_mart
    from orchestration.defs.quality.checks import build_quality_checks
    from orchestration.lib.gate import load_gate_config
    from orchestration.lib.settings import Settings
    from orchestration.lib.summary import RunSummary

    for name, value in gonghui_env(raw, warehouse).items():
        if name.startswith("GONGHUI_"):
            monkeypatch.setenv(name, value)
    if expectations:
        monkeypatch.setenv("GONGHUI_EXPECTATIONS_DIR", str(expectations))
    landing_gate, warehouse_gate = build_quality_checks(load_gate_config())
    if ingest:
        selection = dg.AssetSelection.assets(
            *landing_tables.keys, PUBLISHED_MART_KEY
        ).without_checks() | dg.AssetSelection.checks(*landing_gate.check_keys)
    else:
        selection = dg.AssetSelection.assets(
            PUBLISHED_MART_KEY
        ).without_checks() | dg.AssetSelection.checks(*warehouse_gate.check_keys)
        from orchestration.defs.dbt.checks import TEST_IDS_METADATA_KEY

        # the model checks (one per model) that aggregate a test of one of these names
        dbt_checks = [
            s.key
            for s in warehouse_models.check_specs
            if any(
                t.split(".")[2].startswith(dbt_tests)
                for t in s.metadata[TEST_IDS_METADATA_KEY].value
            )
        ]
        assert len(dbt_checks) >= 1 if dbt_tests else not dbt_checks, (dbt_tests, dbt_checks)
        if dbt_checks:
            selection |= dg.AssetSelection.checks(*dbt_checks)
    defs = dg.Definitions(
        assets=[landing_tables, warehouse_models, published_mart],
        asset_checks=[landing_gate, warehouse_gate],
        jobs=[dg.define_asset_job("gate_case", selection=selection)],
        resources={"warehouse": WarehouseResource(), "dbt": dbt_resource()},
        executor=dg.in_process_executor,
    )
    result = defs.resolve_job_def("gate_case").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
        tags=partition_range_tags() if ingest else None,
    )
    summary = RunSummary.collect(result, Settings.from_env(), elapsed=0.0)
    path = summary.record_decision()
    return GateRun(
        result=result,
        published=summary.published,
        decision=json.loads(path.read_text(encoding="utf-8")),
        summary=summary.render(),
    )
