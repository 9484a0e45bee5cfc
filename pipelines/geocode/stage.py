"""Geocoding: attach every accepted report to an OSM building footprint.

Coordinates go through one spatial-index pass (:func:`geocode_points`): a point inside a
footprint is ``point_in_building`` (distance 0), else the nearest footprint within the
tolerance is ``nearest_building`` with its distance in metres, computed in a metric CRS.
Addresses (and landlords' building codes) are matched by
:mod:`pipelines.geocode.address_index`; when a report has both, both are used and a
disagreement above ``disagreement_m`` is flagged.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import STRtree

from pipelines.config import Config, GeocodeSettings, IngestSettings, SiteConfig
from pipelines.crs import metric_crs_of, require_metric
from pipelines.geocode import address_index
from pipelines.geocode.addresses import normalise_key
from pipelines.geocode.duplicates import link_likely_duplicates
from pipelines.geocode.summary import (
    UNPLACED_METHODS,
    address_quality,
    buildings_not_in_extract,
    geocode_summary,
)
from pipelines.geocode.unplaced import unplaced_reports
from pipelines.io import read_geoparquet, write_csv, write_geoparquet, write_json
from pipelines.progress import Progress
from pipelines.reports import has_text

log = logging.getLogger(__name__)


GEOCODE_COLUMNS = ["building_id", "geocode_method", "geocode_score", "geocode_distance_m"]


def geocode_points(
    points: gpd.GeoSeries,
    buildings: gpd.GeoDataFrame,
    *,
    tolerance_m: float = 25.0,
) -> pd.DataFrame:
    """Attach points to the building that contains them, else the nearest one.

    Two bulk queries, each on the side where it is cheapest: the points go into a shapely
    ``STRtree`` and the *prepared* footprints query it with ``contains`` (about three
    times faster than asking each point ``within`` a tree of footprints, measured with
    ``make bench``); then ``query_nearest`` with ``max_distance`` on a tree of footprints
    runs for the remaining points only. Both run in two threads (shapely releases the GIL). Where
    footprints overlap, the first footprint in ``buildings`` order wins, so the result is
    deterministic.

    Parameters
    ----------
    points
        Report locations in a METRIC CRS (metres); missing or empty geometries are
        ``unmatched``.
    buildings
        Footprints with a ``building_id`` column, in the same metric CRS.
    tolerance_m
        Largest distance, in metres, to a footprint for ``nearest_building``.

    Returns
    -------
    DataFrame
        Aligned on ``points.index``: ``building_id`` (NA when unmatched),
        ``geocode_method`` (``point_in_building``, ``nearest_building`` or
        ``unmatched``), ``geocode_score`` (1 inside; from 0.9 down to 0.5 at the
        tolerance; 0 unmatched) and ``geocode_distance_m``.
    """
    require_metric(points.crs)
    require_metric(buildings.crs)
    if points.crs != buildings.crs:
        raise ValueError("points et bâtiments doivent partager le même CRS métrique.")
    n = len(points)
    if n == 0 or len(buildings) == 0:
        return pd.DataFrame(
            {
                "building_id": pd.array([None] * n, dtype="string"),
                "geocode_method": ["unmatched"] * n,
                "geocode_score": np.zeros(n),
                "geocode_distance_m": np.full(n, np.nan),
            },
            index=points.index,
        )
    valid_rows = np.flatnonzero((points.notna() & ~points.is_empty).to_numpy())
    geoms = points.to_numpy()[valid_rows]
    polys = buildings.geometry.to_numpy()
    was_prepared = shapely.is_prepared(polys)
    shapely.prepare(polys)
    point_tree = STRtree(geoms)

    def containing(chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        poly_i, point_i = point_tree.query(polys[chunk], predicate="contains")
        return chunk[poly_i], point_i

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            found = list(pool.map(containing, np.array_split(np.arange(len(polys)), 2)))
    finally:
        shapely.destroy_prepared(polys[~was_prepared])
    tgt = np.concatenate([f[0] for f in found])
    src = np.concatenate([f[1] for f in found])
    order = np.lexsort((tgt, src))  # per point, the first footprint in buildings order
    src, tgt = src[order], tgt[order]
    first = np.ones(len(src), dtype=bool)
    first[1:] = src[1:] != src[:-1]
    src, tgt = src[first], tgt[first]
    dist = np.zeros(len(src))
    rest = np.setdiff1d(np.arange(len(geoms)), src, assume_unique=True)
    if len(rest):
        tree = STRtree(polys)

        def nearest(chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            (i, j), d = tree.query_nearest(
                geoms[chunk], max_distance=tolerance_m, return_distance=True, all_matches=False
            )
            return chunk[i], j, d

        with ThreadPoolExecutor(max_workers=2) as pool:
            parts = list(pool.map(nearest, np.array_split(rest, 2)))
        src = np.concatenate([src, *(p[0] for p in parts)])
        tgt = np.concatenate([tgt, *(p[1] for p in parts)])
        dist = np.concatenate([dist, *(p[2] for p in parts)])
    rows = valid_rows[src]
    inside = dist <= 0.0
    building_id = np.full(n, None, dtype=object)
    building_id[rows] = buildings["building_id"].to_numpy()[tgt]
    method = np.full(n, "unmatched", dtype=object)
    method[rows] = np.where(inside, "point_in_building", "nearest_building")
    score = np.zeros(n)
    score[rows] = np.round(np.where(inside, 1.0, 0.9 - 0.4 * np.clip(dist / tolerance_m, 0, 1)), 3)
    distance = np.full(n, np.nan)
    distance[rows] = np.round(dist, 2)
    return pd.DataFrame(
        {
            "building_id": pd.array(building_id, dtype="string"),
            "geocode_method": method,
            "geocode_score": score,
            "geocode_distance_m": distance,
        },
        index=points.index,
    )


def combine_matches(
    by_point: pd.DataFrame,
    by_address: pd.DataFrame,
    *,
    point_location: gpd.GeoSeries,
    buildings: gpd.GeoDataFrame,
    disagreement_m: float = 50.0,
) -> pd.DataFrame:
    """Merge the coordinate and address results of the same reports.

    The rule: a point inside a footprint wins (GPS from an app or a phone form is precise
    at building scale); otherwise an address match wins over a merely nearby building,
    and a nearby building over nothing. When both exist, ``location_disagreement_m`` is
    the distance from the report's point to the building the address designates, and
    ``has_location_conflict`` is set above ``disagreement_m``.

    Parameters
    ----------
    by_point, by_address
        Outputs of :func:`geocode_points` and of the address matcher (same index, same
        :data:`GEOCODE_COLUMNS`); rows absent from ``by_address`` had no address.
    point_location
        The report points in the metric CRS of ``buildings`` (None where absent).
    buildings
        Footprints in a metric CRS with ``building_id``.

    Returns
    -------
    DataFrame
        Aligned on ``by_point.index``: :data:`GEOCODE_COLUMNS` plus
        ``location_disagreement_m`` and ``has_location_conflict``.
    """
    require_metric(buildings.crs)
    out = by_point[GEOCODE_COLUMNS].copy()
    addr = by_address.reindex(out.index)
    addr_ok = addr["geocode_method"].notna() & ~addr["geocode_method"].isin(UNPLACED_METHODS)
    # A street without its building, or a building absent from the footprints, is said
    # only when the point says nothing better.
    street_only = addr["geocode_method"].isin(["address_street", "building_not_in_extract"]) & (
        out["geocode_method"] == "unmatched"
    )
    take_address = (addr_ok & (out["geocode_method"] != "point_in_building")) | street_only
    for column in GEOCODE_COLUMNS:
        out[column] = out[column].where(~take_address, addr[column])
    both = addr_ok & (by_point["geocode_method"] != "unmatched")
    out["location_disagreement_m"] = np.nan
    if both.any():
        geom_by_id = buildings.set_index("building_id").geometry
        target = gpd.GeoSeries(
            geom_by_id.reindex(addr.loc[both, "building_id"].astype(str)).to_numpy(),
            index=addr.index[both],
            crs=buildings.crs,
        )
        out.loc[both, "location_disagreement_m"] = np.round(
            point_location[both].distance(target, align=True).to_numpy(), 1
        )
    out["has_location_conflict"] = out["location_disagreement_m"] > disagreement_m
    return out


def geocode_reports(
    reports: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    address_matches: pd.DataFrame | None = None,
    tolerance_m: float = 25.0,
    disagreement_m: float = 50.0,
) -> gpd.GeoDataFrame:
    """Geocode ingested reports onto buildings.

    Parameters
    ----------
    reports
        Ingested reports (EPSG:4326), geometry None where only an address is known.
    buildings
        Footprints (any CRS) with ``building_id``.
    address_matches
        Optional result of the address matcher, aligned on ``reports.index`` for the
        rows that carry an address or a building code.

    Returns
    -------
    GeoDataFrame
        ``reports`` with :data:`GEOCODE_COLUMNS`, ``location_disagreement_m``,
        ``has_location_conflict`` and ``match_label`` (:func:`match_labels`);
        address-only rows get the address point as geometry.
    """
    metric = metric_crs_of(buildings)
    b_m = buildings[["building_id", "geometry"]].to_crs(metric)
    pts_m = reports.geometry.to_crs(metric)
    by_point = geocode_points(pts_m, b_m, tolerance_m=tolerance_m)
    empty = pd.DataFrame(index=reports.index, columns=GEOCODE_COLUMNS)
    combined = combine_matches(
        by_point,
        address_matches if address_matches is not None else empty,
        point_location=pts_m,
        buildings=b_m,
        disagreement_m=disagreement_m,
    )
    out = reports.drop(columns=[c for c in combined.columns if c in reports], errors="ignore")
    out = out.join(combined, validate="1:1")
    if address_matches is not None and {"match_lon", "match_lat"} <= set(address_matches):
        no_point = out.geometry.isna() | out.geometry.is_empty
        lon = address_matches["match_lon"].reindex(out.index)
        lat = address_matches["match_lat"].reindex(out.index)
        fill = no_point & lon.notna() & lat.notna()
        if fill.any():
            out.loc[fill, "geometry"] = gpd.points_from_xy(lon[fill], lat[fill], crs=out.crs)
    out["building_id"] = out["building_id"].astype("string")
    # Whatever placed it, a report is never left on a building the layer does not have:
    # the maps and the statistics would drop it without a word.
    absent = out["building_id"].notna() & ~out["building_id"].isin(b_m["building_id"].astype(str))
    if absent.any():
        out.loc[absent, "building_id"] = pd.NA
        out.loc[absent, "geocode_method"] = "building_not_in_extract"
        out.loc[absent, "geocode_score"] = 0.0
        out.loc[absent, "geocode_distance_m"] = np.nan
    out["geocode_score"] = out["geocode_score"].astype(float)
    out["geocode_distance_m"] = out["geocode_distance_m"].astype(float)
    out["match_label"] = match_labels(out["building_id"], address_matches)
    if address_matches is not None and "ban_status" in address_matches:
        # Per row: whether the online BAN answered (``answered``), could not be asked
        # (``failed``: the row kept its offline result), or was not asked (NA).
        out["ban_status"] = address_matches["ban_status"].reindex(out.index).astype("string")
    return out


def match_labels(building_id: pd.Series, address_matches: pd.DataFrame | None) -> pd.Series:
    """The known address or building code each report's address or code matched
    (``match_label`` of the matcher: OSM, BAN or gazetteer, as that source spells it),
    kept only where it names the building the report ends up on; null elsewhere.

    This, not the report's own text, is what may name a building for a reader
    (:func:`pipelines.publish.build.building_labels`): a resident's address field can
    hold anything (« Mme Jeanne DUPONTEL 3e étage »).
    """
    out = pd.Series(pd.NA, index=building_id.index, dtype="string", name="match_label")
    if address_matches is None or "match_label" not in address_matches:
        return out
    m = address_matches.reindex(building_id.index)
    same = building_id.notna() & (m["building_id"].astype("string") == building_id)
    return out.mask(same.fillna(False).astype(bool), m["match_label"].astype("string"))


def placeholder_points(
    reports: gpd.GeoDataFrame,
    *,
    min_reports: int = 5,
    min_addresses: int = 3,
) -> pd.Series:
    """Flag the reports whose point is a placeholder, not a location.

    Ticketing tools and city apps put every report they cannot locate on one point (the
    town hall, the city's centroid, the landlord's agency). Such a point is shared
    exactly by many reports whose addresses differ: a real place reported many times
    shares its address too. Its coordinates say nothing about where the problem is, so
    the geocoder treats them as missing (the address is geocoded instead) and the
    likely-duplicate link never uses them.

    Parameters
    ----------
    reports
        Reports with a point geometry (any CRS; None allowed) and, optionally, an
        ``address`` column.
    min_reports
        Reports that must share the exact same point (to 10⁻⁷ of the CRS unit).
    min_addresses
        Distinct addresses (normalised: case, accents, punctuation) among them.

    Returns
    -------
    Series
        ``is_placeholder_point`` (bool), aligned on ``reports.index``.
    """
    flags = pd.Series(False, index=reports.index, name="is_placeholder_point")
    if "address" not in reports or len(reports) < min_reports:
        return flags
    geom = reports.geometry
    has_point = (geom.notna() & ~geom.is_empty & (geom.geom_type == "Point")).to_numpy()
    if has_point.sum() < min_reports:
        return flags
    points = geom[has_point]
    key = pd.DataFrame(
        {
            "x": np.round(points.x.to_numpy(), 7),
            "y": np.round(points.y.to_numpy(), 7),
            "address": reports["address"][has_point].map(normalise_key).to_numpy(),
        },
        index=points.index,
    )
    shared = key.groupby(["x", "y"], sort=False)
    n_reports = shared["address"].transform("size")
    n_addresses = shared["address"].transform("nunique")  # blank addresses not counted
    flags.loc[key.index] = ((n_reports >= min_reports) & (n_addresses >= min_addresses)).to_numpy()
    return flags


def geocode_site(
    reports: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    settings: GeocodeSettings,
    duplicates: IngestSettings,
    address_matches: pd.DataFrame | None = None,
    has_ban: bool = False,
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Geocode ingested reports onto footprints and link likely duplicates.

    Parameters
    ----------
    reports
        ``ingested.parquet`` (EPSG:4326).
    buildings
        ``buildings_osm.parquet`` (EPSG:4326).
    settings
        The site's ``[params.geocode]``.
    duplicates
        The site's ``[params.ingest]``: its ``duplicate_distance_m`` and
        ``duplicate_window_h`` define likely duplicates (the keys keep their historical
        section so that existing configurations still read).
    address_matches
        :func:`match_site_addresses` of the same reports, or ``None``.
    has_ban
        Whether the site has a BAN file (the quality report recommends one otherwise).

    Returns
    -------
    tuple
        The geocoded reports (``reports.parquet``) and the stage summary.
    """
    placeholder = placeholder_points(
        reports,
        min_reports=settings.placeholder_min_reports,
        min_addresses=settings.placeholder_min_addresses,
    )
    if placeholder.any():
        log.warning(
            "%d signalements posés sur %d point(s) partagé(s) par des adresses différentes : "
            "coordonnées ignorées, adresse géocodée à la place",
            int(placeholder.sum()),
            len(reports.geometry[placeholder].drop_duplicates()),
        )
        reports = reports.copy()
        reports.loc[placeholder, "geometry"] = None
    out = geocode_reports(
        reports,
        buildings,
        address_matches=address_matches,
        tolerance_m=settings.tolerance_m,
        disagreement_m=settings.disagreement_m,
    )
    # Likely duplicates are looked for within each kind: a walkthrough observation and a
    # resident's report of the same problem are two facts, not one counted twice.
    duplicate_of = pd.Series(pd.NA, index=out.index, dtype="string", name="duplicate_of")
    kinds = out["source_kind"] if "source_kind" in out else pd.Series("reports", index=out.index)
    for _kind, part in out.groupby(kinds, sort=True):
        duplicate_of.loc[part.index] = link_likely_duplicates(
            part,
            distance_m=duplicates.duplicate_distance_m,
            window_h=duplicates.duplicate_window_h,
        )
    out["duplicate_of"] = duplicate_of
    out["is_placeholder_point"] = placeholder.to_numpy()
    summary = geocode_summary(out)
    summary["likely_duplicates"] = int(out["duplicate_of"].notna().sum())
    summary["placeholder_points"] = int(placeholder.sum())
    summary["address_quality"] = address_quality(out, has_ban=has_ban)
    summary["buildings_not_in_extract"] = buildings_not_in_extract(out)
    if summary["buildings_not_in_extract"]["warning"]:
        log.warning("%s", summary["buildings_not_in_extract"]["warning"])
    if address_matches is not None and "osm_incomplete" in address_matches.attrs:
        summary["osm_addresses_incomplete"] = address_matches.attrs["osm_incomplete"]
    if summary["address_quality"]["warning"]:
        log.warning("%s", summary["address_quality"]["warning"])
    if address_matches is not None and "ban_online" in address_matches.attrs:
        summary["ban_online"] = ban_online_summary(address_matches.attrs["ban_online"])
        if summary["ban_online"]["warning"]:
            log.warning("%s", summary["ban_online"]["warning"])
    summary["parameters"] = {
        **asdict(settings),
        "duplicate_distance_m": duplicates.duplicate_distance_m,
        "duplicate_window_h": duplicates.duplicate_window_h,
    }
    return out, summary


def ban_online_summary(online: dict[str, Any]) -> dict[str, Any]:
    """The online BAN geocoder's part of the summary: ``online`` (service, asked,
    from_cache, failed, error) and a French ``warning`` (None when it answered all)."""
    warning = None
    if online.get("error"):
        warning = (
            f"géocodeur BAN en ligne ({online['service']}) en échec : {online['error']} ; "
            f"{online['failed']} adresse(s) non demandée(s) restent sur les adresses hors "
            "ligne (OSM, fichier BAN), colonne ban_status « failed » ; les réponses déjà "
            "en cache sont gardées, relancez le géocodage quand le service répond"
        )
    return {**online, "warning": warning}


def run_site(
    config: Config,
    site: SiteConfig,
    *,
    reports_path: str | Path,
    buildings_path: str | Path,
    dst: str | Path,
    summary_dst: str | Path,
    unplaced_dst: str | Path,
) -> gpd.GeoDataFrame:
    """Geocode one site: coordinates, then addresses and building codes when the site
    has an address index (OSM ``addr:*``, associatedStreet relations, BAN, gazetteer).
    Reads each input once, writes ``reports.parquet``, ``geocode_summary.json`` and
    the reports placed on no building with their reason (``unplaced.csv``,
    :func:`pipelines.geocode.unplaced.unplaced_reports`)."""

    with Progress(f"Géocodage ({site.id})", 4, unit="étape") as progress:
        reports = read_geoparquet(reports_path)
        buildings = read_geoparquet(buildings_path)
        progress.update(step="lecture")
        matches = match_site_addresses(reports, buildings, site=site)
        progress.update(step="adresses")
        settings = site.settings
        out, summary = geocode_site(
            reports,
            buildings,
            settings=settings.geocode,
            duplicates=settings.ingest,
            address_matches=matches,
            has_ban=bool(site.ban),
        )
        progress.update(step="bâtiments et doublons")
        write_geoparquet(out, dst)
        unplaced = unplaced_reports(out)
        write_csv(unplaced, unplaced_dst)
        write_json({**summary, "unplaced_file": Path(unplaced_dst).name}, summary_dst)
        progress.update(step="écriture")
    if len(unplaced):
        log.warning(
            "%s signalement(s) placé(s) sur aucun bâtiment (comptés, absents de la carte) : "
            "la liste et leur raison sont dans %s",
            len(unplaced),
            unplaced_dst,
        )
    return out


def match_site_addresses(
    reports: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, *, site: SiteConfig
) -> pd.DataFrame | None:
    """Match the rows that carry an address or a building code; None if none do."""
    has_address = has_text(reports, "address", "building_ref")
    if not has_address.any():
        return None
    return address_index.match_site(reports[has_address], buildings, site=site)
