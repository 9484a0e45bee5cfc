"""Trends stage: report series per period, trend tests, emerging hotspots, follow-up.

For one site, from the geocoded reports and the building footprints:

- **Series** of report counts per period (month by default; week or quarter), for the
  whole site, per category and per building, empty periods as zeros, each with its
  Mann-Kendall trend test (tie-corrected) and Sen's slope (:mod:`pipelines.stats.trend`).
- **Emerging hotspots**: a building × period cube, Getis-Ord Gi\\* at every step on the
  distance band of the hotspot stage, Benjamini–Hochberg FDR per step, Mann-Kendall on
  each building's z series and DOMAIN.md's categories (:mod:`pipelines.stats.emerging`).
- **Before/after** between two periods (by default the last 3 months and the 3 before):
  per building, the change in counts and in hotspot bin.
- **Follow-up**, when the sources carry closure dates: closing delays per category and
  per building against target delays, and the backlog of open reports per period.

What counts: residents' reports (``source_kind == "reports"``; walkthrough observations
are not a rate of complaints) that are not a likely duplicate of another report. Site and
category series count them all; building series, the cube and the before/after count
those placed on a building of the footprint layer. Geometries are EPSG:4326 on disk;
distances are computed in the site's metric CRS (Lambert-93, EPSG:2154, in France).

The pure functions live beside it: :mod:`~pipelines.trends.series` (periods, series, trend
tests, headline), :mod:`~pipelines.trends.emerging_hotspots` (emerging analysis,
before/after) and :mod:`~pipelines.trends.followup` (delays, backlog). This module holds
:func:`analyse_trends` (the whole stage without I/O) and :func:`run`. The stage writes
tables only: the charts are drawn from the published tables by
:mod:`pipelines.maps.charts`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from pipelines.config import Config, HotspotParams, TrendSettings
from pipelines.crs import to_metric
from pipelines.errors import NotEnoughFeaturesError
from pipelines.io import (
    read_geoparquet,
    read_geoparquet_attributes,
    write_csv,
    write_geoparquet,
    write_json,
    write_parquet,
)
from pipelines.reports import COUNT_COLUMNS, COUNTED_COLUMNS
from pipelines.reports import counted as is_counted
from pipelines.stats import EMERGING_LABELS_FR, feature_points, naive_datetimes
from pipelines.trends.emerging_hotspots import (
    MIN_EMERGING_STEPS,
    MIN_REPORTS_PER_STEP,
    EmergingResult,
    Window,
    before_after_table,
    choose_band,
    comparison_windows,
    emerging_analysis,
    emerging_counts,
    window_counts,
)
from pipelines.trends.followup import (
    backlog_table,
    dated_followup,
    extraction_date,
    followup_table,
    has_closure_dates,
)
from pipelines.trends.series import (
    FREQ_FR,
    TREND_WORDS_FR,
    building_cube,
    building_series,
    headline,
    json_number,
    series_tests,
    site_and_category_series,
    study_periods,
    trend_sentence_fr,
)

log = logging.getLogger(__name__)

__all__ = [
    "FREQ_FR",
    "MIN_EMERGING_STEPS",
    "MIN_REPORTS_PER_STEP",
    "OUTPUT_FILES",
    "TREND_WORDS_FR",
    "EmergingResult",
    "TrendResult",
    "Window",
    "analyse_trends",
    "backlog_table",
    "before_after_table",
    "building_cube",
    "building_series",
    "choose_band",
    "comparison_windows",
    "coverage",
    "emerging_analysis",
    "emerging_counts",
    "extraction_date",
    "followup_table",
    "has_closure_dates",
    "headline",
    "run",
    "series_tests",
    "site_and_category_series",
    "study_periods",
    "trend_sentence_fr",
    "window_counts",
]


# --------------------------------------------------------------------------------------
# The whole analysis
# --------------------------------------------------------------------------------------
@dataclass
class TrendResult:
    """Everything the stage computes for one site (see :func:`analyse_trends`)."""

    series: pd.DataFrame
    tests: pd.DataFrame
    cube: pd.DataFrame
    emerging: EmergingResult
    before_after: pd.DataFrame | None
    followup: pd.DataFrame | None
    backlog: pd.DataFrame | None
    summary: dict[str, Any] = field(default_factory=dict)


METHOD_FR = (
    "Séries de signalements d'habitants par période (périodes vides comptées 0 ; doublons "
    "probables et observations de terrain exclus). Tendance : test de Mann-Kendall "
    "(correction des ex æquo, bilatéral) et pente de Sen. Points chauds émergents : cube "
    "bâtiment × période, Getis-Ord Gi* à chaque période (bande de distance de l'étape points "
    "chauds, poids binaires, bâtiment inclus, périodes précédentes selon la fenêtre), "
    "correction FDR de Benjamini-Hochberg par période, Mann-Kendall sur la série des z de "
    "chaque bâtiment, catégories nouveau / consécutif / en intensification / persistant / "
    "en diminution / sporadique / oscillant / ancien."
)


def coverage(
    reported_at: pd.Series, periods: pd.PeriodIndex, *, slack_days: int = 3
) -> dict[str, Any]:
    """First and last report, and a French note when the first or last period is only
    partly covered by the data (more than ``slack_days`` without any report at its edge):
    an incomplete last month would read as a drop."""
    dates = naive_datetimes(reported_at, "reported_at").dropna()
    if dates.empty or len(periods) == 0:
        return {"first_report_at": None, "last_report_at": None, "note_fr": None}
    first, last = dates.min(), dates.max()
    slack = pd.Timedelta(days=slack_days)
    notes = []
    if first - periods[0].start_time > slack:
        notes.append(
            f"première période peut-être incomplète (premier signalement le {first:%d/%m/%Y})"
        )
    if periods[-1].end_time - last > slack:
        notes.append(
            f"dernière période peut-être incomplète (dernier signalement le {last:%d/%m/%Y})"
        )
    return {
        "first_report_at": first.isoformat(),
        "last_report_at": last.isoformat(),
        "note_fr": ("Attention : " + " ; ".join(notes) + ".") if notes else None,
    }


def _before_after_summary(table: pd.DataFrame | None) -> dict[str, Any]:
    if table is None:
        return {"computed": False}
    gi_before = bool(table["gi_z_before"].notna().any())
    gi_after = bool(table["gi_z_after"].notna().any())
    note = None
    if not (gi_before and gi_after):
        note = (
            f"Moins de {MIN_REPORTS_PER_STEP} signalements sur des bâtiments dans une des deux "
            "périodes (ou trop peu de bâtiments) : points chauds non comparés, seuls les "
            "nombres de signalements le sont."
        )
    return {
        "computed": True,
        "n_reports_before": int(table["n_reports_before"].sum()),
        "n_reports_after": int(table["n_reports_after"].sum()),
        "gi_computed_before": gi_before,
        "gi_computed_after": gi_after,
        "hotspot_changes": {
            str(k): int(v) for k, v in table["hotspot_change"].value_counts().items()
        },
        "note_fr": note,
    }


def analyse_trends(
    reports: pd.DataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    params: TrendSettings | None = None,
    hotspot_params: HotspotParams | None = None,
    site_key: str = "site",
) -> TrendResult:
    """Series, trend tests, emerging hotspots, before/after and follow-up of one site.

    Parameters
    ----------
    reports
        Geocoded reports (``reported_at``, ``category``, ``building_id``, optional
        ``source_kind``, ``duplicate_of``, ``closed_at``), any index.
    buildings
        Footprints with ``building_id`` (unique), in any CRS: distances are computed
        in the site's metric CRS (Lambert-93, EPSG:2154, in France).
    params
        The ``trends`` settings (``SiteConfig.settings.trends``); default: the defaults.
    hotspot_params
        The ``hotspots`` settings, for the distance band (:func:`choose_band`) and the
        minimum number of reports of a trend; default: the defaults.
    site_key
        The site id, ``key`` of the site-level series.
    """
    p = params or TrendSettings.from_dict({})
    freq, alpha = p.freq, p.alpha
    hp = hotspot_params or HotspotParams()
    mask = is_counted(reports)
    counted = reports.loc[mask]
    periods = study_periods(
        counted["reported_at"],
        freq=freq,
        start=None if p.start is None else pd.Timestamp(p.start),
        end=None if p.end is None else pd.Timestamp(p.end),
    )
    series_sc = site_and_category_series(counted, periods, site_key=site_key)

    ids = pd.Index(buildings["building_id"].astype(str), name="building_id")
    coords = feature_points(to_metric(buildings)) if len(buildings) else np.empty((0, 2))
    cube = building_cube(counted, ids, periods)
    series = pd.concat([series_sc, building_series(cube)], ignore_index=True)
    tests = series_tests(series, alpha=alpha)

    emerging = emerging_analysis(
        cube,
        coords,
        hotspot_params=hp,
        time_window=p.time_window,
        alpha=alpha,
        min_level=p.min_level,
    )
    band = emerging.band
    if band is None and len(periods):
        try:
            band = choose_band(coords, cube.sum(axis=1).to_numpy(dtype=float), hp)
        except NotEnoughFeaturesError as err:
            log.warning("Avant/après sans Gi* : %s", err)

    windows = table_ba = None
    if len(periods):
        windows = comparison_windows(
            periods,
            months=p.compare_months,
            before=p.compare_before,
            after=p.compare_after,
        )
        table_ba = before_after_table(
            counted, ids, coords, windows, band_m=band.band_m if band else None
        )

    followup, as_of = dated_followup(counted, targets_h=p.targets_h, as_of=p.as_of)
    backlog = None if followup is None else backlog_table(counted, periods, site_key=site_key)

    kinds = reports["source_kind"] if "source_kind" in reports else pd.Series(dtype=object)
    summary: dict[str, Any] = {
        "method_fr": METHOD_FR,
        "coverage": coverage(counted["reported_at"], periods),
        "parameters": {
            "freq": freq,
            "start": periods[0].start_time.date().isoformat() if len(periods) else None,
            "end": periods[-1].end_time.date().isoformat() if len(periods) else None,
            "n_periods": len(periods),
            "alpha": alpha,
            "time_window": p.time_window,
            "min_level": p.min_level,
            "distance_band": None
            if band is None
            else {
                "band_m": band.band_m,
                "method": band.method,
                "reason": band.reason,
                "distances_m": list(band.distances_m),
                "moran_z": [json_number(z) for z in band.moran_z],
            },
            "compare_before": windows[0].as_dict() if windows else None,
            "compare_after": windows[1].as_dict() if windows else None,
            "compare_months": p.compare_months,
            "targets_h": dict(p.targets_h),
            "as_of": as_of.isoformat() if as_of is not None else None,
            "top_buildings": p.top_buildings,
        },
        "counts": {
            "reports_in": len(reports),
            "reports_counted": int(mask.sum()),
            "observations_excluded": int((kinds == "observations").sum()),
            "duplicates_excluded": int(reports["duplicate_of"].notna().sum())
            if "duplicate_of" in reports
            else 0,
            "undated": int(counted["reported_at"].isna().sum()),
            "on_buildings": int(cube.to_numpy().sum()),
            "buildings": len(ids),
            "buildings_with_reports": int((cube.sum(axis=1) > 0).sum()),
        },
        # The hotspot stage's minimum: below it the site's trend is not concluded either.
        "headline": headline(
            tests,
            freq=freq,
            min_reports=hp.category_min_reports,
        ),
        "emerging": {
            "computed": emerging.table is not None,
            "note_fr": emerging.note_fr,
            "counts": emerging_counts(emerging.table),
            "labels_fr": dict(EMERGING_LABELS_FR),
            "islands": int(emerging.table["is_island"].sum()) if emerging.table is not None else 0,
        },
        "before_after": _before_after_summary(table_ba),
        "followup": {
            "computed": followup is not None,
            "note_fr": None
            if followup is not None
            else "Aucune date de clôture dans les sources : délais et stock non calculés.",
        },
    }
    return TrendResult(series, tests, cube, emerging, table_ba, followup, backlog, summary)


# --------------------------------------------------------------------------------------
# The stage
# --------------------------------------------------------------------------------------
#: The columns of ``reports.parquet`` that :func:`analyse_trends` uses, and those it
#: uses when present (``report_id`` names the reports of a delay the follow-up cannot
#: read): :func:`run` reads no other, and of ``buildings.parquet`` only the ids and the
#: footprints.
REPORT_COLUMNS = COUNT_COLUMNS
REPORT_OPTIONAL = (*COUNTED_COLUMNS, "closed_at", "report_id")

#: Files written by :func:`run` in ``out_dir`` (always all of them, so make can track them).
OUTPUT_FILES = (
    "trends.parquet",
    "trend_tests.parquet",
    "emerging.parquet",
    "before_after.parquet",
    "followup.csv",
    "backlog.csv",
    "trend_summary.json",
)

EMERGING_COLUMNS = [
    "emerging_category", "emerging_label_fr", "n_steps", "n_steps_hot", "n_steps_cold",
    "hot_share", "cold_share", "mk_s", "mk_z", "mk_p", "mk_trend", "n_neighbours",
    "is_island", "gi_z_last", "gi_bin_last",
]  # fmt: skip
BEFORE_AFTER_COLUMNS = [
    "n_reports_before", "n_reports_after", "n_reports_change", "n_reports_change_pct",
    "gi_bin_before", "gi_bin_after", "gi_bin_change", "hotspot_change", "hotspot_change_fr",
    "gi_z_before", "gi_z_after",
]  # fmt: skip
FOLLOWUP_COLUMNS = [
    "level", "key", "label_fr", "n_reports", "n_closed", "n_open", "n_invalid_delay",
    "median_delay_h", "p90_delay_h", "target_h", "n_due", "share_closed_within_target",
]  # fmt: skip
BACKLOG_COLUMNS = ["level", "key", "period_start", "period_end", "n_open"]


def _with_geometry(
    buildings: gpd.GeoDataFrame, table: pd.DataFrame | None, columns: list[str]
) -> gpd.GeoDataFrame:
    """``table`` (indexed by building id) joined onto the footprints; no row (but the
    columns) when the table was not computed."""
    base = buildings[["building_id", "geometry"]].copy()
    base["building_id"] = base["building_id"].astype(str)
    if table is None:
        empty = gpd.GeoDataFrame(
            {c: pd.Series(dtype=object) for c in ["building_id", *columns]},
            geometry=gpd.GeoSeries([], crs=buildings.crs),
        )
        return empty
    joined = base.merge(table, left_on="building_id", right_index=True, how="left", validate="1:1")
    return gpd.GeoDataFrame(joined, geometry="geometry", crs=buildings.crs)


def run(
    config: Config,
    site_id: str,
    *,
    reports_path: str | Path,
    buildings_path: str | Path,
    out_dir: Path,
) -> dict[str, Any]:
    """Read the geocoded reports and footprints of a site; write :data:`OUTPUT_FILES`.

    Returns the stage summary (also written as ``trend_summary.json``).
    """

    site = config.site(site_id)
    reports = read_geoparquet_attributes(reports_path, REPORT_COLUMNS, optional=REPORT_OPTIONAL)
    buildings = read_geoparquet(buildings_path, ["building_id"])
    result = analyse_trends(
        reports,
        buildings,
        params=site.settings.trends,
        hotspot_params=site.settings.hotspots,
        site_key=site_id,
    )
    out_dir = Path(out_dir)
    write_parquet(result.series, out_dir / "trends.parquet")
    write_parquet(result.tests, out_dir / "trend_tests.parquet")
    emerging = _with_geometry(buildings, result.emerging.table, EMERGING_COLUMNS)
    write_geoparquet(emerging, out_dir / "emerging.parquet")
    ba = _with_geometry(buildings, result.before_after, BEFORE_AFTER_COLUMNS)
    write_geoparquet(ba, out_dir / "before_after.parquet")
    followup = result.followup if result.followup is not None else pd.DataFrame()
    write_csv(followup.reindex(columns=FOLLOWUP_COLUMNS), out_dir / "followup.csv")
    backlog = result.backlog if result.backlog is not None else pd.DataFrame()
    write_csv(backlog.reindex(columns=BACKLOG_COLUMNS), out_dir / "backlog.csv")
    summary = {
        "site": site_id,
        "site_name": site.name,
        "simulated": site.simulated,
        **result.summary,
        "outputs": list(OUTPUT_FILES),
    }
    write_json(summary, out_dir / "trend_summary.json")
    return summary
