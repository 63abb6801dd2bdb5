"""Publication: the checked mart becomes the analysts' ``published/mart.duckdb``.

Downstream of every mart model, so it runs only after ``dbt build`` (with its blocking tests)
and the quality checks succeeded in the same run; otherwise it is skipped and the previous
publication stays in place untouched.
"""

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from orchestration.defs.dbt.assets import mart_model_names, warehouse_models
from orchestration.defs.ingest.resources import WarehouseResource
from orchestration.lib.publish import publish_mart

PUBLISH_GROUP = "publish"
PUBLISHED_MART_KEY = dg.AssetKey("published_mart")


@dg.asset(
    key=PUBLISHED_MART_KEY,
    group_name=PUBLISH_GROUP,
    deps=[get_asset_key_for_model([warehouse_models], name) for name in mart_model_names()],
    kinds={"duckdb"},
    description="The analysts' read-only copy of the mart, replaced atomically on success.",
)
def published_mart(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    settings = warehouse.settings()
    publication = publish_mart(settings.duckdb_path, settings.published_mart, context.run_id)
    context.log.info(f"published {publication.path}")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(publication.path)),
            "tables": dg.MetadataValue.json(publication.tables),
            "dagster/row_count": publication.tables.get("main.annual_indicators", 0),
        }
    )
