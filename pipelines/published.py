"""The published tables of a site: what every reader (map, PNG, index) may read.

The publication step (:mod:`pipelines.publish`) writes them under
``processed/<site>/published/``; :func:`read_published` reads them back. A shared module,
the contract between that step and the renderers: it imports no stage, so ``maps/``
reads the published tables without loading any analysis code.

Files (see :data:`FILES`):

``building_profile.parquet``
    One row per building of ``buildings.parquet`` (same order), EPSG:4326: every column
    of the hotspot stage (``n_reports``, ``n_<category>``, ``n_observations``,
    ``dwellings``, ``reports_per_100_dwellings``, ``gi_bin``…), the trends stage's
    ``emerging_category`` and ``emerging_label_fr``, ``open_backlog`` and
    ``median_delay_h``, ``n_reports_before``, ``n_reports_after``,
    ``n_reports_change`` (the before/after of ``before_after.parquet``), ``zone_id``,
    ``building_label`` (the name of the trend charts, scrubbed; null when the building is
    known by its id only) and ``is_chronic`` when known.
``monthly.parquet``
    Counted reports per ``building_id``, ``month`` (``YYYY-MM``) and ``category``:
    ``n_reports``.
``points.parquet``
    The markers a reader sees, EPSG:4326: residents' reports (likely duplicates left
    out) and walkthrough observations with a position: ``source_kind``, ``source``,
    ``category``, ``building_id``, ``reported_at`` (local time, naive),
    ``description`` (scrubbed).
``zones.parquet``
    Hotspot zones: ``zone_id``, ``n_buildings``, ``n_reports``, ``status``,
    ``parent_zone_ids`` (in natural order), ``has_enough_reports`` (false: built from too
    few reports, not drawn), geometry.
``notes.parquet``
    The planners' notes a reader sees (deleted ones left out), linked to buildings and
    zones, with ``orphan_flag``.
``chronic.parquet``
    One row per chronic problem (``chronic.csv`` of the hotspot stage).
``density.parquet``
    The density contours (``kde.parquet``).
``site.json``
    The site's figures and the vocabulary readers show: period, months, before/after
    windows, totals, parameters shown in legends, labels, and ``too_few_reports``: what
    the analysis stages found too few reports to conclude on, in their words (see
    :func:`pipelines.publish.build.site_facts`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from pipelines.io import read_geoparquet, read_json

#: The published files, by their name in :class:`Published`.
FILES: dict[str, str] = {
    "profile": "building_profile.parquet",
    "monthly": "monthly.parquet",
    "points": "points.parquet",
    "zones": "zones.parquet",
    "notes": "notes.parquet",
    "chronic": "chronic.parquet",
    "density": "density.parquet",
    "site": "site.json",
    "audit": "publication_audit.json",
    "method_note": "method_note.html",
    "method_note_md": "method_note.md",
}
#: Optional tables: written empty when the stage that makes them has not run, and read
#: back as ``None`` then (``site.json`` says which exist under ``has``).
OPTIONAL = ("zones", "notes", "chronic", "density")


@dataclass(frozen=True)
class Published:
    """The published tables of one site (see the module's docstring)."""

    profile: gpd.GeoDataFrame
    monthly: pd.DataFrame
    points: gpd.GeoDataFrame
    site: dict[str, Any]
    zones: gpd.GeoDataFrame | None = None
    notes: gpd.GeoDataFrame | None = None
    chronic: pd.DataFrame | None = None
    density: gpd.GeoDataFrame | None = None


def read_published(directory: str | Path) -> Published:
    """Read the published tables of a site from ``directory`` (``processed/<site>/published``)."""
    d = Path(directory)
    site = read_json(d / FILES["site"])
    has = site.get("has", {})

    def geo(name: str) -> gpd.GeoDataFrame | None:
        return read_geoparquet(d / FILES[name]) if has.get(name, True) else None

    chronic = pd.read_parquet(d / FILES["chronic"]) if has.get("chronic") else None
    profile = read_geoparquet(d / FILES["profile"])
    points = read_geoparquet(d / FILES["points"])
    return Published(
        profile=profile,
        monthly=pd.read_parquet(d / FILES["monthly"]),
        points=points,
        site=site,
        zones=geo("zones"),
        notes=geo("notes"),
        chronic=chronic,
        density=geo("density"),
    )
