"""The dbt project (dbt-duckdb): where it is, which dbt runs it, and its manifest.

Definition-free (``lib/``): the dbt assets (``defs/dbt``) and the auditors' trace, which
reads the manifest for lineage, both use it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject

from orchestration.lib.constants import PROJECT_ROOT

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

#: the venv's dbt, so the pipeline works without the venv being activated (not on PATH)
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def prepare_dbt_project(project: DbtProject = dbt_project) -> Path:
    """The manifest the asset definitions are built from.

    Under ``dagster dev`` dagster-dbt re-parses the project on every load
    (``prepare_if_dev``). Elsewhere (``gonghui``, tests) the manifest is the one ``make
    install``/``make unit`` parsed (``dbt parse``); only when it is missing (a checkout never
    installed) is it parsed here, with this environment's dbt.
    """
    project.prepare_if_dev()
    if not project.manifest_path.exists():
        DbtCliResource(project_dir=project, dbt_executable=DBT_EXECUTABLE).cli(
            ["parse", "--quiet"], target_path=project.target_path
        ).wait()
    return project.manifest_path
