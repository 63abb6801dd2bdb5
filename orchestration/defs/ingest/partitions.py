"""Street partitions of the ingestion assets (all reporting years inside one partition).

The partitions are the streets of the configured streets list (``GONGHUI_STREETS``, read once
when the definitions load; a static partitions definition, so a changed list takes effect at
the next load). A run covers a *range* of streets
(``dagster/asset_partition_range_start``/``_end`` tags, in the order of the list); within it,
ingestion re-reads only the streets whose files changed by content hash, so a full-range run
(``gonghui run``, the nightly schedule) skips unchanged streets.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from orchestration.lib.streets import load_street_codes

#: Dagster's run tags of a partition range (``dagster._core.storage.tags``)
ASSET_PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
ASSET_PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"

STREET_CODES: list[str] = load_street_codes()

street_partitions = dg.StaticPartitionsDefinition(STREET_CODES)

#: tag naming the streets a sensor saw change (informational; the range tags drive the run)
CHANGED_STREETS_TAG = "gonghui/changed_streets"


def partition_range_tags(streets: Iterable[str] | None = None) -> dict[str, str]:
    """Range tags of one run covering ``streets`` (default: every street).

    A static partition range is contiguous in the streets list's order: the run covers the first
    to the last of ``streets``; the streets in between are skipped unless their files changed.
    """
    wanted = set(streets) if streets is not None else set(STREET_CODES)
    unknown = wanted - set(STREET_CODES)
    if unknown:
        raise ValueError(f"not street codes of the streets list: {sorted(unknown)}")
    ordered = [s for s in STREET_CODES if s in wanted]
    if not ordered:
        raise ValueError("a run needs at least one street")
    return {
        ASSET_PARTITION_RANGE_START_TAG: ordered[0],
        ASSET_PARTITION_RANGE_END_TAG: ordered[-1],
    }
