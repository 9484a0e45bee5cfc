"""hotspots: the hotspot stage (Gi*, density, chronic buildings).

Public names other stages may use.
"""

from pipelines.hotspots.stage import countable, reports_per_building

__all__ = ["countable", "reports_per_building"]
