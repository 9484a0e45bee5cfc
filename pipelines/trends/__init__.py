"""The trend stage: monthly series, Mann-Kendall trends, emerging hotspots,
follow-up delays and backlog, before/after comparison and the site's charts.
"""

from __future__ import annotations

from pipelines.trends.stage import run

__all__ = [
    "run",
]
