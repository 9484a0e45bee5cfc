"""The seeded VTS simulator: reports and observations over real OSM buildings."""

from __future__ import annotations

from pipelines.simulate.stage import run

__all__ = [
    "run",
]
