"""Hotspot stage: counts and rates per building and hexagon, Getis-Ord Gi*, kernel density,
chronic buildings, and the method note of the run.

The pure functions here compose the statistics of :mod:`pipelines.stats.gistar` (Gi*,
FDR bins, distance band) and :mod:`pipelines.stats.density` (kernel density, hexagons) on the
stage's inputs; :func:`analyse` is the whole stage without I/O (the benchmark calls it),
:func:`run` reads, calls it and writes.

Choices (each is explained to the committee in ``method_note.html``):

- **Counts, not rates, by default.** Gi* runs on the number of reports per building —
  what the committee sees and acts on. Big buildings get more reports, so Gi* is also run
  on ``reports_per_100_dwellings`` over the buildings whose dwellings are known (RPLS,
  ``building:flats``), when there are at least 30 of them; buildings with unknown
  dwellings get no rate and are never given a guessed one.
- **One distance band per layer.** The band is chosen once on the total counts
  (automatically, or ``distance_band_m``) and reused for every category, so that all
  category maps share one neighbourhood. Rates and hexagons get their own band (other
  features, other spacing).
- **Categories with fewer than** ``category_min_reports`` **reports are not analysed**
  (30, the usual minimum number of incidents for an aggregated hotspot analysis): a
  handful of reports makes z-scores that mostly reflect single buildings.
- **Nor is a site** with fewer reports on its buildings than that minimum (15 reports
  over 1,200 buildings): no Gi* at all (counts, rates, hexagons), and the summary's
  ``sample`` says so (:func:`sample_size`), so that the map draws no hotspot, zone or
  hotspot trend and its legend says why ("trop peu de signalements pour conclure"). The
  counts and the kernel density, which describe and do not test, are still computed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipelines.config.core import Config
from pipelines.config.hotspots import HotspotParams
from pipelines.crs import WGS84, metric_crs_of
from pipelines.errors import NotEnoughFeaturesError
from pipelines.hotspots import checks as hotspot_checks
from pipelines.hotspots import chronic as chronic_mod
from pipelines.hotspots import method_note
from pipelines.io import read_geoparquet, write_csv, write_geoparquet, write_json, write_text
from pipelines.reports import counted, household_of
from pipelines.stats import density
from pipelines.stats import gistar as hs
from pipelines.stats.band import BandChoice, auto_distance_band, configured_band
from pipelines.stats.fdr import FDR_ALPHAS, fdr_bins
from pipelines.taxonomy import CODES, UNKNOWN

log = logging.getLogger(__name__)

#: Files written by :func:`run` in ``out_dir`` (the Makefile lists the same).
OUTPUT_FILES = (
    "buildings.parquet",
    "hex.parquet",
    "kde.parquet",
    "kde_grid.parquet",
    "chronic.csv",
    "method_note.html",
    "method_note.md",
    "hotspot_summary.json",
)

_BIN_LABELS = {
    3: "Point chaud (confiance 99 %)",
    2: "Point chaud (confiance 95 %)",
    1: "Point chaud (confiance 90 %)",
    0: "Non significatif",
    -1: "Point froid (confiance 90 %)",
    -2: "Point froid (confiance 95 %)",
    -3: "Point froid (confiance 99 %)",
}
NOT_COMPUTED = "Non calculé"


# --------------------------------------------------------------------------------------
# Counts and rates
# --------------------------------------------------------------------------------------


def countable(reports: pd.DataFrame, *, on_building: bool = True) -> pd.Series:
    """The reports this stage counts: :func:`pipelines.reports.counted`, on a building
    unless ``on_building`` is false."""
    return counted(reports, on_building=on_building)


def reports_per_building(reports: pd.DataFrame, buildings: gpd.GeoDataFrame) -> pd.DataFrame:
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
        Aligned on ``buildings.index``: ``n_reports``, ``n_households`` (distinct
        households among them: :func:`pipelines.reports.household_of`), ``n_<category>``
        for every code of the taxonomy, and ``n_observations`` (walkthrough
        observations, counted apart).
    """
    ids = pd.Index(buildings["building_id"].astype(str))
    if not ids.is_unique:
        raise ValueError("building_id en double dans les bâtiments : identifiants uniques requis.")
    counted = reports[countable(reports)]
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

    Residents' reports that are not duplicates (:func:`countable` without requiring a
    building), at their own point; a report without a usable point but placed on a
    building (geocoded by address) stands at the building's representative point.
    Reports with neither are left out.

    Returns
    -------
    GeoDataFrame
        ``category`` and point ``geometry``, in the CRS of ``buildings``, aligned on the
        kept rows of ``reports``.
    """
    kept = reports[countable(reports, on_building=False)]
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


# --------------------------------------------------------------------------------------
# Gi*
# --------------------------------------------------------------------------------------


def choose_band(coords_m: np.ndarray, values: np.ndarray, params: HotspotParams) -> BandChoice:
    """The configured band, else the automatic one (DOMAIN.md); may raise
    :class:`NotEnoughFeaturesError`."""
    if params.distance_band_m is not None:
        if len(coords_m) < hs.MIN_FEATURES:
            raise NotEnoughFeaturesError(len(coords_m), hs.MIN_FEATURES)
        return configured_band(params.distance_band_m, n_features=len(coords_m))
    return auto_distance_band(
        coords_m,
        values,
        n_steps=params.band_search_steps,
        increment_m=params.band_increment_m,
    )


def gi_labels(gi_bin: pd.Series, gi_z: pd.Series) -> pd.Series:
    """French label of each Gi* result: « Point chaud (confiance 95 %) », …, « Non
    calculé » where z is missing (island, too few features, constant values)."""
    labels = gi_bin.map(_BIN_LABELS).astype("string")
    return labels.where(gi_z.notna(), NOT_COMPUTED)


def not_computed(index: pd.Index, note: str) -> pd.DataFrame:
    """The Gi* columns when no Gi* is computed: NaN z and p, bin 0, the reason."""
    n = len(index)
    return pd.DataFrame(
        {
            "gi_z": np.full(n, np.nan),
            "gi_p": np.full(n, np.nan),
            "gi_bin": np.zeros(n, dtype=np.int64),
            "n_neighbours": pd.array([pd.NA] * n, dtype="Int64"),
            "is_island": np.zeros(n, dtype=bool),
            "gi_note": pd.array([note] * n, dtype="string"),
        },
        index=index,
    )


#: Status of a Gi* layer left out because the site has too few reports (:func:`sample_size`).
TOO_FEW_REPORTS = "too_few_reports"


def sample_size(n_reports: int, *, min_reports: int) -> dict[str, Any]:
    """Whether a site has enough reports for a hotspot analysis, as the summary says it.

    The minimum is the one a category needs (``category_min_reports``, 30 by default):
    below it, the z-scores of a whole neighbourhood hinge on one or two buildings, and a
    "hotspot" is a single report or two.

    Returns
    -------
    dict
        ``reports_counted``, ``min_reports``, ``too_few_reports`` (bool) and ``note_fr``
        (``None`` when there are enough reports; else a French reason starting with
        « trop peu de signalements pour conclure », which the map shows as it is).
    """
    too_few = n_reports < min_reports
    counted = f"{n_reports} signalement{'s' if n_reports > 1 else ''}"
    return {
        "reports_counted": int(n_reports),
        "min_reports": int(min_reports),
        "too_few_reports": too_few,
        "note_fr": (
            f"trop peu de signalements pour conclure ({counted} sur les bâtiments, il en "
            f"faut au moins {min_reports} pour une analyse des points chauds)"
            if too_few
            else None
        ),
    }


def gi_info(gi: pd.DataFrame) -> dict[str, Any]:
    """Counts for the summary: features tested, islands, features per bin."""
    bins = gi["gi_bin"].value_counts()
    return {
        "n_features": len(gi),
        "n_tested": int(gi["gi_z"].notna().sum()),
        "n_islands": int(gi["is_island"].sum()),
        "bins": {str(b): int(bins.get(b, 0)) for b in range(-3, 4)},
        "n_hot_95": int((gi["gi_bin"] >= 2).sum()),
        "n_cold_95": int((gi["gi_bin"] <= -2).sum()),
    }


def hotspot_layer(
    features_m: gpd.GeoDataFrame,
    value_column: str,
    params: HotspotParams,
    *,
    band: BandChoice | None = None,
    what: str = "bâtiments",
    too_few_reports: str | None = None,
) -> tuple[pd.DataFrame, BandChoice | None, dict[str, Any]]:
    """Gi* on one value column of one layer, with its band, or the reason why not.

    Parameters
    ----------
    features_m
        Features in a metric CRS (polygons stand by their centroid).
    value_column
        Finite values (counts or rates).
    band
        A band already chosen (e.g. on the total counts); default: :func:`choose_band`.
    what
        What the features are, in French, for the message when there are too few.
    too_few_reports
        The site's ``sample`` note (:func:`sample_size`) when it has too few reports:
        nothing is computed, and the layer says why (unless it has too few features as
        well, the reason it gave before).

    Returns
    -------
    (DataFrame, BandChoice or None, dict)
        The columns of :func:`~pipelines.stats.gistar.gi_star` plus ``gi_label``,
        aligned on ``features_m.index``; the band used; a summary (``status``
        ``computed``, ``not_enough_features`` or ``too_few_reports`` with its French
        ``message``).
    """
    values = features_m[value_column].to_numpy(dtype=float)
    if too_few_reports is not None and len(features_m) >= hs.MIN_FEATURES:
        message = f"Gi* non calculé : {too_few_reports}."
        gi = not_computed(features_m.index, message)
        gi["gi_label"] = gi_labels(gi["gi_bin"], gi["gi_z"])
        return gi, None, {"status": TOO_FEW_REPORTS, "message": message, **gi_info(gi)}
    try:
        coords = hs.feature_points(features_m) if len(features_m) else np.empty((0, 2))
        if band is None:
            band = choose_band(coords, values, params)
        gi = hs.gi_star(
            values,
            coords,
            band.band_m,
            permutations=params.permutations,
            seed=params.seed,
            index=features_m.index,
        )
        info: dict[str, Any] = {"status": "computed", "band_m": band.band_m, **gi_info(gi)}
    except NotEnoughFeaturesError as err:
        message = str(NotEnoughFeaturesError(err.n_features, err.minimum, what))
        gi = not_computed(features_m.index, message)
        info = {"status": "not_enough_features", "message": message, **gi_info(gi)}
        band = None
    gi["n_neighbours"] = gi["n_neighbours"].astype("Int64")
    if "gi_p_sim" in gi:
        # Bins from the permutation p-values as well, for runs where the normal
        # approximation is doubtful (see the blank check); gi_bin stays DOMAIN.md's.
        gi["gi_bin_sim"] = fdr_bins(gi["gi_z"], gi["gi_p_sim"])
        info["n_hot_95_sim"] = int((gi["gi_bin_sim"] >= 2).sum())
    gi["gi_label"] = gi_labels(gi["gi_bin"], gi["gi_z"])
    return gi, band, info


def band_info(band: BandChoice | None) -> dict[str, Any] | None:
    """A band choice as JSON for the summary."""
    if band is None:
        return None
    return {
        "band_m": band.band_m,
        "method": band.method,
        "reason": band.reason,
        "distances_m": list(band.distances_m),
        "moran_z": [None if not np.isfinite(z) else z for z in band.moran_z],
        "n_features": band.n_features,
        "n_locational_outliers": band.n_locational_outliers,
        "k_neighbours": band.k_neighbours,
    }


def category_hotspots(
    table_m: gpd.GeoDataFrame,
    band: BandChoice | None,
    params: HotspotParams,
    *,
    categories: Sequence[str] = CODES,
) -> tuple[pd.DataFrame, dict[str, dict[str, Any]]]:
    """Gi* per category on the buildings' ``n_<code>`` counts, at the total's band.

    A category is analysed when it has at least ``params.category_min_reports``
    reports and the total's Gi* could be computed (``band`` not None).

    Returns
    -------
    (DataFrame, dict)
        ``gi_z_<code>`` (NaN when not analysed) and ``gi_bin_<code>`` (0) for every
        code, aligned on ``table_m.index``; per code, ``n_reports``, ``status``
        (``analysed`` / ``skipped``), the French ``reason`` when skipped, the bins.
    """
    n = len(table_m)
    columns: dict[str, Any] = {}
    info: dict[str, dict[str, Any]] = {}
    analysed = []
    for code in categories:
        total = int(table_m[f"n_{code}"].sum())
        columns[f"gi_z_{code}"] = np.full(n, np.nan)
        columns[f"gi_bin_{code}"] = np.zeros(n, dtype=np.int64)
        if total < params.category_min_reports:
            reason = (
                f"{total} signalement(s), moins que le minimum de {params.category_min_reports}"
            )
        elif band is None:
            reason = "pas d'analyse Gi* du total (trop peu de bâtiments)"
        else:
            analysed.append(code)
            continue
        info[code] = {"n_reports": total, "status": "skipped", "reason": reason}
    if analysed and band is not None:
        values = table_m[[f"n_{c}" for c in analysed]]
        results = hs.gi_star_many(values, hs.feature_points(table_m), band.band_m)
        for code in analysed:
            gi = results[f"n_{code}"]
            columns[f"gi_z_{code}"] = gi["gi_z"].to_numpy()
            columns[f"gi_bin_{code}"] = gi["gi_bin"].to_numpy()
            total = int(table_m[f"n_{code}"].sum())
            info[code] = {"n_reports": total, "status": "analysed", **gi_info(gi)}
    info = {c: info[c] for c in categories}
    return pd.DataFrame(columns, index=table_m.index), info


def rate_hotspots(
    table_m: gpd.GeoDataFrame, params: HotspotParams, *, too_few_reports: str | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Gi* on ``reports_per_100_dwellings`` over the buildings whose dwellings are known.

    Those buildings only are the features (a building without a known size has no rate,
    not a rate of 0). Band: ``distance_band_m`` or chosen automatically on these
    features. Fewer than 30 of them, or a site with too few reports
    (``too_few_reports``, see :func:`hotspot_layer`): nothing computed, and the summary
    says so.

    Returns
    -------
    (DataFrame, dict)
        ``gi_z_rate``, ``gi_p_rate``, ``gi_bin_rate`` aligned on ``table_m.index`` (NaN,
        NaN, 0 where not computed); the summary with the band.
    """
    rate = table_m["reports_per_100_dwellings"]
    with_rate = table_m[rate.notna()]
    gi, band, info = hotspot_layer(
        with_rate,
        "reports_per_100_dwellings",
        params,
        what="bâtiments au nombre de logements connu",
        too_few_reports=too_few_reports,
    )
    out = pd.DataFrame(
        {
            "gi_z_rate": gi["gi_z"].reindex(table_m.index),
            "gi_p_rate": gi["gi_p"].reindex(table_m.index),
            "gi_bin_rate": gi["gi_bin"].reindex(table_m.index).fillna(0).astype(np.int64),
        },
        index=table_m.index,
    )
    sources = table_m.loc[rate.notna(), "dwellings_source"].value_counts()
    info.update(
        {
            "buildings_with_dwellings": len(with_rate),
            "share_with_dwellings": float(len(with_rate) / len(table_m)) if len(table_m) else 0.0,
            "dwellings_sources": {str(k): int(v) for k, v in sources.items()},
            "band": band_info(band),
        }
    )
    return out, info


# --------------------------------------------------------------------------------------
# The whole stage
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HotspotResult:
    """Everything the stage writes (frames in EPSG:4326), and its summary."""

    buildings: gpd.GeoDataFrame
    hexes: gpd.GeoDataFrame
    kde: gpd.GeoDataFrame
    kde_grid: gpd.GeoDataFrame
    chronic: pd.DataFrame
    summary: dict[str, Any]


def analyse(
    reports: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    params: HotspotParams,
    *,
    truth: Mapping[str, Any] | None = None,
    timings: dict[str, float] | None = None,
) -> HotspotResult:
    """Run the whole hotspot stage on frames (no I/O).

    Parameters
    ----------
    reports
        Geocoded reports (``reports.parquet``): ``building_id``, ``category``,
        ``reported_at``, ``source_kind``, ``duplicate_of``, points, any CRS.
    buildings
        ``buildings_osm.parquet``: ``building_id``, ``dwellings``, ``dwellings_source``,
        ``area_m2``, footprints, any CRS. Metric work is done in the CRS chosen by
        :func:`~pipelines.crs.metric_crs_of` (Lambert-93 in France).
    params
        The stage's parameters.
    truth
        The simulator's truth, when the data are simulated: adds the recall check.
    timings
        If given, filled with the seconds spent in each part (for the benchmark).

    Returns
    -------
    HotspotResult
        ``buildings``: the input columns, the counts (``n_reports``, ``n_<code>``,
        ``n_observations``), ``reports_per_100_dwellings``; Gi* on the counts
        (``gi_z``, ``gi_p``, ``gi_bin``, ``n_neighbours``, ``is_island``, ``gi_note``,
        ``gi_label``, and ``gi_p_sim``, ``gi_bin_sim`` with permutations); per category
        ``gi_z_<code>``, ``gi_bin_<code>``; on the rates ``gi_z_rate``, ``gi_p_rate``,
        ``gi_bin_rate``; ``is_chronic``, ``chronic_categories``. With too few reports
        (``summary["sample"]``, :func:`sample_size`) no Gi* column holds a result.
        ``hexes``: the columns of :func:`~pipelines.stats.density.hex_aggregate` and Gi* on
        ``n_reports``. ``kde``: :func:`~pipelines.stats.density.kde_contours`. ``kde_grid``:
        :func:`~pipelines.stats.density.kde_cells`. ``chronic``:
        :func:`~pipelines.hotspots.chronic.chronic_pairs`. ``summary``: ``hotspot_summary.json``.
    """
    import time

    clock = time.perf_counter()
    timings = {} if timings is None else timings

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now

    metric = metric_crs_of(buildings)
    table = building_table(reports, buildings)
    table_m = table.to_crs(metric)
    lap("counts_s")

    sample = sample_size(int(table["n_reports"].sum()), min_reports=params.category_min_reports)
    too_few = sample["note_fr"]
    gi, band, gi_total = hotspot_layer(table_m, "n_reports", params, too_few_reports=too_few)
    lap("gi_total_s")
    cat_cols, cat_info = category_hotspots(table_m, band, params)
    lap("gi_categories_s")
    rate_cols, rate_info = rate_hotspots(table_m, params, too_few_reports=too_few)
    lap("gi_rates_s")
    chronic = chronic_mod.chronic_pairs(reports[countable(reports)], params.chronic)
    flags = chronic_mod.chronic_flags(chronic, table)
    lap("chronic_s")
    out = pd.concat([table, gi, cat_cols, rate_cols, flags], axis=1)
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=table.crs)

    checks: dict[str, Any] = {"size": hotspot_checks.size_check(out)}
    if band is not None:
        checks["permutation"] = hotspot_checks.permutation_check(
            table_m["n_reports"].to_numpy(float),
            hs.feature_points(table_m),
            band.band_m,
            seed=params.seed,
            shuffles=params.blank_check_shuffles,
        )
    if truth is not None and truth.get("pattern", True):
        checks["planted_hotspots"] = hotspot_checks.planted_recall(out, truth)
    lap("checks_s")

    points = report_points(reports, table_m)
    hexes = density.hex_aggregate(points, table_m, size_m=params.hex_size_m, categories=list(CODES))
    lap("hex_counts_s")
    hex_gi, hex_band, hex_info = hotspot_layer(
        hexes, "n_reports", params, what="hexagones", too_few_reports=too_few
    )
    hexes = gpd.GeoDataFrame(pd.concat([hexes, hex_gi], axis=1), geometry="geometry", crs=metric)
    lap("gi_hex_s")

    xmin, ymin, xmax, ymax = table_m.total_bounds
    h = params.kde_bandwidth_m
    xy = np.column_stack([points.geometry.x.to_numpy(), points.geometry.y.to_numpy()])
    grid = density.quartic_kde(
        xy, bandwidth_m=h, cell_m=params.kde_cell_m, bounds=(xmin - h, ymin - h, xmax + h, ymax + h)
    )
    lap("kde_s")
    contours = density.kde_contours(grid, levels=params.kde_levels, crs=metric)
    cells = density.kde_cells(grid, crs=metric)
    lap("kde_contours_s")

    summary: dict[str, Any] = {
        "buildings": len(out),
        "buildings_with_reports": int((out["n_reports"] > 0).sum()),
        "reports_counted": int(out["n_reports"].sum()),
        "observations_counted": int(out["n_observations"].sum()),
        "dwellings_known": int(out["dwellings"].notna().sum()),
        "sample": sample,
        "parameters": params.as_dict(),
        "metric_crs": metric,
        "fdr_alphas": list(FDR_ALPHAS),
        "min_features": hs.MIN_FEATURES,
        "band": band_info(band),
        "gi": gi_total,
        "categories": cat_info,
        "categories_skipped": {
            c: i["reason"] for c, i in cat_info.items() if i["status"] == "skipped"
        },
        "rates": rate_info,
        "hex": {
            "hex_size_m": params.hex_size_m,
            "n_hex": len(hexes),
            "reports_counted": int(hexes["n_reports"].sum()),
            "reports_outside_grid": len(points) - int(hexes["n_reports"].sum()),
            "band": band_info(hex_band),
            "gi": hex_info,
        },
        "kde": {
            "bandwidth_m": h,
            "cell_m": params.kde_cell_m,
            "n_points": grid.n_points,
            "max_density_per_ha": float(grid.density_per_ha.max())
            if grid.density_per_ha.size
            else 0.0,
            "n_cells_positive": len(cells),
            "levels_per_ha": contours["density_min_per_ha"].tolist(),
        },
        "chronic": {
            "rules": params.as_dict()["chronic"],
            "n_pairs": len(chronic),
            "n_buildings": int(chronic["building_id"].nunique()),
            "by_category": {str(k): int(v) for k, v in chronic["category"].value_counts().items()},
        },
        "checks": checks,
        "outputs": list(OUTPUT_FILES),
    }
    result = HotspotResult(
        buildings=out,
        hexes=hexes.to_crs(WGS84),
        kde=contours.to_crs(WGS84),
        kde_grid=cells.to_crs(WGS84),
        chronic=chronic,
        summary=summary,
    )
    lap("to_wgs84_s")
    return result


def run(
    config: Config,
    site_id: str,
    *,
    reports_path: str | Path,
    buildings_path: str | Path,
    out_dir: Path,
    timings: dict[str, float] | None = None,
) -> gpd.GeoDataFrame:
    """Read geocoded reports and footprints; write the files of :data:`OUTPUT_FILES`.

    ``timings``, if given, receives the seconds spent reading, in each part of
    :func:`analyse`, and writing (for the benchmark).
    """
    import time

    timings = {} if timings is None else timings
    t0 = time.perf_counter()
    site = config.site(site_id)
    params = site.settings.hotspots
    reports = read_geoparquet(reports_path)
    buildings = read_geoparquet(buildings_path)
    truth = hotspot_checks.find_truth(config, site_id)
    timings["read_s"] = round(time.perf_counter() - t0, 3)
    result = analyse(reports, buildings, params, truth=truth, timings=timings)
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    write_geoparquet(result.buildings, out_dir / "buildings.parquet")
    write_geoparquet(result.hexes, out_dir / "hex.parquet")
    write_geoparquet(result.kde, out_dir / "kde.parquet")
    write_geoparquet(result.kde_grid, out_dir / "kde_grid.parquet")
    write_csv(result.chronic, out_dir / "chronic.csv")
    note = method_note.NoteContext(site_name=site.name, simulated=site.simulated)
    write_text(method_note.to_html(result.summary, note), out_dir / "method_note.html")
    write_text(method_note.to_markdown(result.summary, note), out_dir / "method_note.md")
    write_json(result.summary, out_dir / "hotspot_summary.json")
    timings["write_s"] = round(time.perf_counter() - t0, 3)
    return result.buildings
