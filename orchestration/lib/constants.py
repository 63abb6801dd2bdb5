"""Names that the definition-free helpers (``lib/``) and the Dagster definitions (``defs/``)
share. They live here so that ``lib`` never imports ``defs``: ``defs`` builds on ``lib``."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

#: the repository root (``dbt_project/``, ``mapping/``, ``expectations/`` …)
PROJECT_ROOT = Path(__file__).resolve().parents[2]

#: the asset whose materialization is the publication of the mart
PUBLISHED_MART_KEY = dg.AssetKey("published_mart")

#: run tag: why the mart this run replaced did not match its manifest (it was republished)
REPUBLISHED_TAG = "gonghui/republished_because"
