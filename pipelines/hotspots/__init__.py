"""The hotspot stage: reports per building, Getis-Ord Gi* with FDR bins, KDE, hexagons,
chronic buildings, checks and the method note (statistics from :mod:`pipelines.stats`).
"""

from __future__ import annotations

from pipelines.hotspots.stage import (
    choose_band,
    reports_per_building,
    run,
)

__all__ = [
    "choose_band",
    "reports_per_building",
    "run",
]
