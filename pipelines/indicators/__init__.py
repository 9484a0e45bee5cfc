"""Indicators per site and quarter (issue 18): counts and rates per 100 dwellings, lift
breakdowns, recurrence, closing delays, backlog, trend, hotspots, actions and a proposed
watch level. Pure functions in :mod:`~pipelines.indicators.compute`, I/O in
:mod:`~pipelines.indicators.stage`.
"""

from __future__ import annotations

from pipelines.indicators.compute import (
    DWELLING_COLUMNS,
    REPORT_COLUMNS,
    REPORT_OPTIONAL,
    TREND_MIN_MONTHS,
    TREND_MONTHS,
    WATCH_CATEGORIES,
    counted_reports,
    emerging_categories,
    entrance_quarters,
    hotspot_buildings,
    site_mark,
    site_quarters,
    watch_reason_fr,
    window_trend,
)
from pipelines.indicators.lifts import LIFT
from pipelines.indicators.note import METHOD_NOTE_FR
from pipelines.indicators.quarters import quarter_months, quarter_of
from pipelines.indicators.stage import OUTPUTS, run

__all__ = [
    "DWELLING_COLUMNS",
    "LIFT",
    "METHOD_NOTE_FR",
    "OUTPUTS",
    "REPORT_COLUMNS",
    "REPORT_OPTIONAL",
    "TREND_MIN_MONTHS",
    "TREND_MONTHS",
    "WATCH_CATEGORIES",
    "counted_reports",
    "emerging_categories",
    "entrance_quarters",
    "hotspot_buildings",
    "quarter_months",
    "quarter_of",
    "run",
    "site_mark",
    "site_quarters",
    "watch_reason_fr",
    "window_trend",
]
