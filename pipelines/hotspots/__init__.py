"""The hotspot stage: reports per building, Getis-Ord Gi* with FDR bins, KDE, hexagons,
chronic buildings, checks and the method note (statistics from :mod:`pipelines.stats`).
"""

from __future__ import annotations

from pipelines.hotspots.method_note import NoteContext, Section
from pipelines.hotspots.method_note import to_html as method_note_html
from pipelines.hotspots.method_note import to_markdown as method_note_markdown
from pipelines.hotspots.stage import (
    countable,
    reports_per_building,
    run,
)

__all__ = [
    "NoteContext",
    "Section",
    "countable",
    "method_note_html",
    "method_note_markdown",
    "reports_per_building",
    "run",
]
