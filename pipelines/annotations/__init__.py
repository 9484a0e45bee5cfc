"""Planners' notes: read, validated, scrubbed, versioned and linked to buildings and zones."""

from __future__ import annotations

from pipelines.annotations.stage import run

__all__ = [
    "run",
]
