"""The dbt CLI resource that runs the project (``orchestration/lib/dbt_project.py``)."""

from __future__ import annotations

from dagster_dbt import DbtCliResource

from orchestration.lib.dbt_project import (  # noqa: F401  (the definitions' import point)
    DBT_EXECUTABLE,
    DBT_PROJECT_DIR,
    dbt_project,
    prepare_dbt_project,
)


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE)
