"""trends: series, emerging hotspots, follow-up delays, before/after.

Public names other stages may use.
"""

from pipelines.trends.charts import building_labels
from pipelines.trends.emerging_hotspots import Window, comparison_windows, window_counts

__all__ = ["Window", "building_labels", "comparison_windows", "window_counts"]
