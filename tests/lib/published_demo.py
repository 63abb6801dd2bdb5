"""A small published mart for the analysts' and auditors' tests, built once per test process.

``build_published_demo`` runs the real pipeline (``gonghui demo-data --scale 0.02`` then
``gonghui run``) into a temporary warehouse the first time a test process asks for it and
returns the same build afterwards; each test module wraps it in a session fixture ``demo``.
The modules share one build because they run in the same xdist group (``PUBLISHED_GROUP``).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import pipeline_env

GONGHUI = Path(sys.executable).with_name("gonghui")
PUBLISHED_GROUP = "published_demo"


@dataclass(frozen=True)
class PublishedDemo:
    base: Path
    env: dict[str, str]

    @property
    def warehouse(self) -> Path:
        return self.base / "warehouse"

    @property
    def mart(self) -> Path:
        return self.warehouse / "published" / "mart.duckdb"

    def gonghui(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(GONGHUI), *args], env=self.env, capture_output=True, text=True, **kwargs
        )


_BUILT: dict[str, PublishedDemo] = {}


def build_published_demo(tmp_path_factory: pytest.TempPathFactory) -> PublishedDemo:
    if "demo" not in _BUILT:
        base = tmp_path_factory.mktemp("published-demo")
        env = pipeline_env(base / "raw", base / "warehouse", pii_key="published-demo-test-key")
        demo = PublishedDemo(base, env)
        made = demo.gonghui("demo-data", "--scale", "0.02")
        assert made.returncode == 0, made.stdout + made.stderr
        run = demo.gonghui("run")
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        assert demo.mart.is_file()
        _BUILT["demo"] = demo
    return _BUILT["demo"]
