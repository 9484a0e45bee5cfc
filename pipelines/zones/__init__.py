"""zones: hotspot zones with stable ids.

Public names other stages may use.
"""

from pipelines.zones.stage import zone_of_buildings, zone_sort_key

__all__ = ["zone_of_buildings", "zone_sort_key"]
