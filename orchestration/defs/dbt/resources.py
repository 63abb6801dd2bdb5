"""The dbt project (dbt-duckdb) and the CLI resource that runs it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from packaging import version

from orchestration.lib.mapping import PROJECT_ROOT

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

#: the venv's dbt, so the pipeline works without the venv being activated (not on PATH)
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def _newest_source_mtime(project_dir: Path) -> float:
    watched = [project_dir / "dbt_project.yml"]
    for folder in ("models", "macros", "seeds", "tests", "snapshots"):
        watched.extend(p for p in (project_dir / folder).rglob("*") if p.is_file())
    return max((p.stat().st_mtime for p in watched if p.exists()), default=0.0)


def ensure_manifest(project: DbtProject = dbt_project) -> Path:
    """Run ``dbt parse`` when the manifest is missing or older than the project files.

    ``dagster dev`` does this through ``prepare_if_dev``; the CLI and tests load the
    definitions outside of it, so they call this first.
    """
    manifest = project.manifest_path
    if manifest.exists() and manifest.stat().st_mtime >= _newest_source_mtime(project.project_dir):
        return manifest
    dbt = DBT_EXECUTABLE
    subprocess.run(
        [
            str(dbt),
            "parse",
            "--quiet",
            "--project-dir",
            str(project.project_dir),
            "--profiles-dir",
            str(project.profiles_dir),
        ],
        check=True,
        cwd=project.project_dir,
    )
    return manifest


class GonghuiDbtCliResource(DbtCliResource):
    """``DbtCliResource`` without two start-up costs of every ``dbt.cli`` call (~3 s a run).

    dagster-dbt asks the executable for its version (``dbt --version``: a second dbt process,
    ~1.8 s) and opens a dbt adapter in the Dagster process (~1.3 s), used only by
    ``fetch_row_counts``/``fetch_column_metadata``, which this project does not call. The
    executable is this environment's own dbt (:data:`DBT_EXECUTABLE`), so its version is the
    installed ``dbt-core``'s; without an adapter dagster-dbt takes the path it takes for dbt
    Fusion. Both are dagster-dbt internals: if a release renames them these overrides simply
    stop applying (``tests/defs/test_dbt_resource.py`` notices).
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(installed_version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None


def dbt_resource() -> DbtCliResource:
    return GonghuiDbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE)
