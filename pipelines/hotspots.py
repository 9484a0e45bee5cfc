"""Hotspot stage: counts per building and category, rates, and hotspot statistics.

The pure functions here aggregate geocoded reports onto buildings; the statistics
themselves (Getis-Ord Gi*, FDR, distance band, kernel density) live in
:mod:`pipelines.hotspot_stats`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from pipelines.config import Config
from pipelines.taxonomy import CODES

log = logging.getLogger(__name__)


def countable(reports: pd.DataFrame) -> pd.Series:
    """Boolean mask of the reports that count: residents' reports (not walkthrough
    observations), placed on a building, and not a likely duplicate of another one."""
    mask = reports["building_id"].notna()
    if "source_kind" in reports:
        mask &= reports["source_kind"] == "reports"
    if "duplicate_of" in reports:
        mask &= reports["duplicate_of"].isna()
    return mask


def reports_per_building(
    reports: pd.DataFrame,
    buildings: gpd.GeoDataFrame,
) -> pd.DataFrame:
    """Count reports per building, in total and per category.

    Parameters
    ----------
    reports
        Geocoded reports with ``building_id``, ``category`` and, optionally,
        ``source_kind`` and ``duplicate_of`` (see :func:`countable`).
    buildings
        Footprints with ``building_id``.

    Returns
    -------
    DataFrame
        Aligned on ``buildings.index``: ``n_reports``, ``n_<category>`` for every code of
        the taxonomy, and ``n_observations`` (walkthrough observations, counted apart).
    """
    counted = reports[countable(reports)]
    table = pd.crosstab(counted["building_id"], counted["category"])
    table = table.reindex(columns=list(CODES), fill_value=0)
    table.columns = [f"n_{c}" for c in table.columns]
    ids = buildings["building_id"].astype(str)
    out = table.reindex(ids.to_numpy(), fill_value=0)
    out.index = buildings.index
    out.insert(0, "n_reports", out.sum(axis=1))
    if "source_kind" in reports:
        obs = reports[(reports["source_kind"] == "observations") & reports["building_id"].notna()]
        n_obs = obs.groupby("building_id").size()
        out["n_observations"] = n_obs.reindex(ids.to_numpy(), fill_value=0).to_numpy()
    else:
        out["n_observations"] = 0
    return out.astype("int64")


def rates_per_100_dwellings(counts: pd.Series, dwellings: pd.Series) -> pd.Series:
    """Reports per 100 dwellings; NaN where dwellings are unknown or zero (no rate is
    invented for a building whose size is not known)."""
    d = pd.to_numeric(dwellings, errors="coerce").astype(float)
    return (100.0 * counts.astype(float) / d.where(d > 0)).round(2)


def building_table(reports: pd.DataFrame, buildings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Footprints with their counts and rates: the base of ``buildings.parquet``."""
    counts = reports_per_building(reports, buildings)
    out = buildings.join(counts, validate="1:1")
    if "dwellings" in out:
        out["reports_per_100_dwellings"] = rates_per_100_dwellings(
            out["n_reports"], out["dwellings"]
        )
    else:
        out["reports_per_100_dwellings"] = np.nan
    return out


def run(
    config: Config,
    site_id: str,
    *,
    reports_path: str | Path,
    buildings_path: str | Path,
    out_dir: Path,
) -> gpd.GeoDataFrame:
    """Read geocoded reports and footprints; write ``buildings.parquet`` and the stage
    summary ``hotspot_summary.json``."""
    from pipelines.io import read_geoparquet, write_geoparquet, write_json

    site = config.site(site_id)
    reports = read_geoparquet(reports_path)
    buildings = read_geoparquet(buildings_path)
    table = building_table(reports, buildings)
    summary: dict[str, Any] = {
        "buildings": int(len(table)),
        "buildings_with_reports": int((table["n_reports"] > 0).sum()),
        "reports_counted": int(table["n_reports"].sum()),
        "observations_counted": int(table["n_observations"].sum()),
        "dwellings_known": int(table["dwellings"].notna().sum()) if "dwellings" in table else 0,
        "parameters": site.params["hotspots"],
    }
    write_geoparquet(table, out_dir / "buildings.parquet")
    write_json(summary, out_dir / "hotspot_summary.json")
    return table
