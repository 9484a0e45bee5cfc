"""Counts of the hotspot stage: reports per building (in total and per category, with
rates per 100 dwellings), the building table Gi* runs on, and the reports' points for
the hexagons and the kernel density."""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipelines.reports import counted as is_counted
from pipelines.reports import household_of
from pipelines.stats import gistar as hs
from pipelines.taxonomy import CODES, UNKNOWN

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------
# Counts and rates
# --------------------------------------------------------------------------------------


def reports_per_building(reports: pd.DataFrame, buildings: gpd.GeoDataFrame) -> pd.DataFrame:
    """Count reports per building, in total and per category.

    Parameters
    ----------
    reports
        Geocoded reports with ``building_id``, ``category`` and, optionally,
        ``source_kind`` and ``duplicate_of`` (see :func:`pipelines.reports.counted`).
    buildings
        Footprints with ``building_id``.

    Returns
    -------
    DataFrame
        Aligned on ``buildings.index``: ``n_reports``, ``n_households`` (distinct
        households among them: :func:`pipelines.reports.household_of`), ``n_<category>``
        for every code of the taxonomy, and ``n_observations`` (walkthrough
        observations, counted apart).
    """
    ids = pd.Index(buildings["building_id"].astype(str))
    if not ids.is_unique:
        raise ValueError("building_id en double dans les bâtiments : identifiants uniques requis.")
    counted = reports[is_counted(reports, on_building=True)]
    # Integer codes and one bincount, rather than a crosstab on strings: a million
    # reports take a tenth of a second.
    b_code = ids.get_indexer(pd.Index(counted["building_id"].astype(str)))
    c_code = pd.Index(CODES).get_indexer(pd.Index(counted["category"].astype("string")))
    if (c_code < 0).any():  # the taxonomy's rule: an unknown label is kept, as « autre »
        log.warning("%d report(s) outside the taxonomy counted as autre", int((c_code < 0).sum()))
        c_code[c_code < 0] = CODES.index(UNKNOWN)
    ok = b_code >= 0  # reports on a building absent from the footprints are not counted
    flat = np.bincount(
        b_code[ok] * len(CODES) + c_code[ok], minlength=len(ids) * len(CODES)
    ).reshape(len(ids), len(CODES))
    out = pd.DataFrame(flat, index=buildings.index, columns=[f"n_{c}" for c in CODES])
    out.insert(0, "n_reports", flat.sum(axis=1))
    who = pd.DataFrame({"b": b_code[ok], "h": household_of(counted).to_numpy()[ok]})
    out.insert(1, "n_households", np.bincount(who.drop_duplicates()["b"], minlength=len(ids)))
    if "source_kind" in reports:
        obs = reports[(reports["source_kind"] == "observations") & reports["building_id"].notna()]
        o_code = ids.get_indexer(pd.Index(obs["building_id"].astype(str)))
        out["n_observations"] = np.bincount(o_code[o_code >= 0], minlength=len(ids))
    else:
        out["n_observations"] = 0
    return out.astype("int64")


def building_table(reports: pd.DataFrame, buildings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Footprints with their counts and ``reports_per_100_dwellings``.

    The rate is NaN where the dwellings are unknown (``dwellings_source`` says where the
    known ones come from: ``rpls`` or ``osm_flats``). Same CRS and index as ``buildings``.
    """
    counts = reports_per_building(reports, buildings)
    out = buildings.join(counts, validate="1:1")
    if "dwellings" not in out:
        out["dwellings"] = np.nan
    if "dwellings_source" not in out:
        out["dwellings_source"] = pd.Series(pd.NA, index=out.index, dtype="string")
    out["reports_per_100_dwellings"] = hs.rates_per_100_dwellings(
        out["n_reports"], out["dwellings"]
    )
    return out


def report_points(reports: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The points of the reports that count, for the hexagons and the kernel density.

    Residents' reports that are not duplicates (:func:`pipelines.reports.counted`, without
    requiring a building), at their own point; a report without a usable point but placed
    on a building (geocoded by address) stands at the building's representative point.
    Reports with neither are left out.

    Returns
    -------
    GeoDataFrame
        ``category`` and point ``geometry``, in the CRS of ``buildings``, aligned on the
        kept rows of ``reports``.
    """
    kept = reports[is_counted(reports)]
    geom = kept.geometry.to_crs(buildings.crs) if kept.crs != buildings.crs else kept.geometry
    values = geom.to_numpy()
    x = np.full(len(kept), np.nan)
    y = np.full(len(kept), np.nan)
    point = (shapely.get_type_id(values) == 0) & ~shapely.is_empty(values)
    x[point], y[point] = shapely.get_x(values[point]), shapely.get_y(values[point])
    need = ~point & kept["building_id"].notna().to_numpy() if "building_id" in kept else ~point
    if need.any() and "building_id" in kept:
        ids = pd.Index(buildings["building_id"].astype(str))
        pos = ids.get_indexer(pd.Index(kept["building_id"].astype(str).to_numpy()[need]))
        anchor = buildings.geometry.representative_point().to_numpy()
        fill = np.flatnonzero(need)[pos >= 0]
        x[fill] = shapely.get_x(anchor[pos[pos >= 0]])
        y[fill] = shapely.get_y(anchor[pos[pos >= 0]])
    keep = np.isfinite(x) & np.isfinite(y)
    return gpd.GeoDataFrame(
        {"category": kept["category"].to_numpy()[keep]},
        geometry=gpd.points_from_xy(x[keep], y[keep]),
        index=kept.index[keep],
        crs=buildings.crs,
    )
