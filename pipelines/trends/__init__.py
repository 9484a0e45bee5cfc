"""The trend stage: monthly series, Mann-Kendall trends, emerging hotspots,
follow-up delays and backlog, before/after comparison (tables only: the charts are drawn
by :mod:`pipelines.maps.charts` from the published tables).
"""

from __future__ import annotations

from pipelines.trends.emerging_hotspots import (
    Window,
    comparison_windows,
    window_counts,
)
from pipelines.trends.followup import dated_followup, followup_table
from pipelines.trends.series import (
    FREQ_FR,
    TREND_WORDS_FR,
    headline,
    series_tests,
    too_few_trend_fr,
)
from pipelines.trends.stage import (
    run,
)

__all__ = [
    "FREQ_FR",
    "TREND_WORDS_FR",
    "Window",
    "comparison_windows",
    "dated_followup",
    "followup_table",
    "headline",
    "run",
    "series_tests",
    "too_few_trend_fr",
    "window_counts",
]
