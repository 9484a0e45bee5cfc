"""The trend stage: monthly series, Mann-Kendall trends, emerging hotspots,
follow-up delays and backlog, before/after comparison and the site's charts.
"""

from __future__ import annotations

from pipelines.trends.charts import (
    building_labels,
)
from pipelines.trends.emerging_hotspots import (
    Window,
    comparison_windows,
    window_counts,
)
from pipelines.trends.stage import (
    run,
)

__all__ = [
    "Window",
    "building_labels",
    "comparison_windows",
    "run",
    "window_counts",
]
