"""The hotspot stage: reports per building, Getis-Ord Gi* with FDR bins, KDE, hexagons,
chronic buildings, checks and the method note (statistics from :mod:`pipelines.stats`).
"""

from __future__ import annotations

from pipelines.hotspots.counts import reports_per_building
from pipelines.hotspots.gi import choose_band
from pipelines.hotspots.stage import run

__all__ = [
    "choose_band",
    "reports_per_building",
    "run",
]
