"""Hotspot stage: counts and rates per building and hexagon, Getis-Ord Gi*, kernel density,
chronic buildings, and the method note of the run.

The pure functions of :mod:`pipelines.hotspots.counts` (reports per building, report
points) and :mod:`pipelines.hotspots.gi` (distance band, Gi* layers) compose the
statistics of :mod:`pipelines.stats.gistar` (Gi*, FDR bins, distance band),
:mod:`pipelines.stats.density` (kernel density) and :mod:`pipelines.stats.hexgrid`
(hexagons) on the stage's inputs; :func:`analyse`, here, is the whole stage without I/O
(the benchmark calls it), :func:`run` reads, calls it and writes.

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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from pipelines.config import Config, HotspotParams
from pipelines.crs import WGS84, metric_crs_of
from pipelines.hotspots import checks as hotspot_checks
from pipelines.hotspots import chronic as chronic_mod
from pipelines.hotspots import method_note
from pipelines.hotspots.counts import building_table, report_points
from pipelines.hotspots.gi import (
    band_info,
    category_hotspots,
    hotspot_layer,
    rate_hotspots,
    sample_size,
)
from pipelines.io import read_geoparquet, write_csv, write_geoparquet, write_json, write_text
from pipelines.progress import Progress
from pipelines.reports import COUNT_COLUMNS, COUNT_OPTIONAL
from pipelines.reports import counted as is_counted
from pipelines.stats import density, hexgrid
from pipelines.stats import gistar as hs
from pipelines.stats.fdr import FDR_ALPHAS
from pipelines.taxonomy import CODES

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


#: The parts of :func:`analyse` (its ``timings`` keys), in French: the steps of the
#: stage's progress.
PARTS_FR = {
    "counts_s": "comptages",
    "gi_total_s": "Gi* des signalements",
    "gi_categories_s": "Gi* par catégorie",
    "gi_rates_s": "Gi* des taux",
    "chronic_s": "problèmes chroniques",
    "checks_s": "contrôles (permutations)",
    "hex_counts_s": "hexagones",
    "gi_hex_s": "Gi* des hexagones",
    "kde_s": "densité",
    "kde_contours_s": "contours de densité",
    "to_wgs84_s": "reprojection",
}


def analyse(
    reports: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    params: HotspotParams,
    *,
    truth: Mapping[str, Any] | None = None,
    timings: dict[str, float] | None = None,
    progress: Progress | None = None,
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
    progress
        If given, advanced by one step at the end of each part (:data:`PARTS_FR`).

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
        ``hexes``: the columns of :func:`~pipelines.stats.hexgrid.hex_aggregate` and Gi* on
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
        if progress is not None:
            progress.update(step=PARTS_FR.get(name, name))

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
    chronic = chronic_mod.chronic_pairs(
        reports[is_counted(reports, on_building=True)], params.chronic
    )
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
    hexes = hexgrid.hex_aggregate(points, table_m, size_m=params.hex_size_m, categories=list(CODES))
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
    steps = len(PARTS_FR) + 2  # reading, the parts, writing
    with Progress(f"Points chauds ({site_id})", steps, unit="étape") as progress:
        t0 = time.perf_counter()
        site = config.site(site_id)
        params = site.settings.hotspots
        # What analyse reads (the counts per building and their households, the chronic
        # pairs, the hexagons' and the density's points): 8 of the 32 columns, the points.
        reports = read_geoparquet(reports_path, COUNT_COLUMNS, optional=COUNT_OPTIONAL)
        buildings = read_geoparquet(buildings_path)  # every column goes on to the output
        truth = hotspot_checks.find_truth(config, site_id)
        timings["read_s"] = round(time.perf_counter() - t0, 3)
        progress.update(step="lecture")
        result = analyse(
            reports, buildings, params, truth=truth, timings=timings, progress=progress
        )
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
        progress.update(step="écriture")
    return result.buildings
