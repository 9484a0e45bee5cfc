"""Planners' notes: read, validated, scrubbed, versioned and linked to buildings and zones."""

from __future__ import annotations

from pipelines.annotations.exports import (
    GONE_BUILDING_FLAG,
    notes_geojson,
    orphan_flag,
)
from pipelines.annotations.model import (
    DELETED_STATUS,
    STATUSES,
)
from pipelines.annotations.stage import (
    run,
)

__all__ = [
    "DELETED_STATUS",
    "GONE_BUILDING_FLAG",
    "STATUSES",
    "notes_geojson",
    "orphan_flag",
    "run",
]
