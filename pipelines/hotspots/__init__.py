"""The hotspot stage: reports per building, Getis-Ord Gi* with FDR bins, KDE, hexagons,
chronic buildings, checks and the method note (statistics from :mod:`pipelines.stats`).
"""

from __future__ import annotations

from pipelines.hotspots.counts import reports_per_building
from pipelines.hotspots.gi import choose_band, too_few_note_fr
from pipelines.hotspots.method_note import NoteContext, Section
from pipelines.hotspots.method_note import to_html as method_note_html
from pipelines.hotspots.method_note import to_markdown as method_note_markdown
from pipelines.hotspots.stage import run

__all__ = [
    "NoteContext",
    "Section",
    "choose_band",
    "method_note_html",
    "method_note_markdown",
    "reports_per_building",
    "run",
    "too_few_note_fr",
]
