"""Hotspot zones: contiguous significant buildings grouped into zones with stable ids."""

from __future__ import annotations

from pipelines.zones.stage import (
    component_labels,
    run,
    too_few_reports_block,
    zone_descendants,
    zone_of_buildings,
    zone_outline,
    zone_sort_key,
)

__all__ = [
    "component_labels",
    "run",
    "too_few_reports_block",
    "zone_descendants",
    "zone_of_buildings",
    "zone_outline",
    "zone_sort_key",
]
