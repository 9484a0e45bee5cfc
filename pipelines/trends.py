"""Trends stage: report series per period, trend tests, emerging hotspots, follow-up.

For one site, from the geocoded reports and the building footprints:

- **Series** of report counts per period (month by default; week or quarter), for the
  whole site, per category and per building, empty periods as zeros, each with its
  Mann-Kendall trend test (tie-corrected) and Sen's slope (:mod:`pipelines.trend_stats`).
- **Emerging hotspots**: a building × period cube, Getis-Ord Gi\\* at every step on the
  distance band of the hotspot stage, Benjamini–Hochberg FDR per step, Mann-Kendall on
  each building's z series and DOMAIN.md's categories (:mod:`pipelines.emerging`).
- **Before/after** between two periods (by default the last 3 months and the 3 before):
  per building, the change in counts and in hotspot bin.
- **Follow-up**, when the sources carry closure dates: closing delays per category and
  per building against target delays, and the backlog of open reports per period.

What counts: residents' reports (``source_kind == "reports"``; walkthrough observations
are not a rate of complaints) that are not a likely duplicate of another report. Site and
category series count them all; building series, the cube and the before/after count
those placed on a building of the footprint layer. Geometries are EPSG:4326 on disk;
distances are computed in the site's metric CRS (Lambert-93, EPSG:2154, in France).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from pipelines.config import DEFAULT_PARAMS, Config
from pipelines.crs import to_metric
from pipelines.emerging import (
    EMERGING_CATEGORIES,
    EMERGING_LABELS_FR,
    before_after,
    emerging_hotspot_table,
)
from pipelines.errors import ConfigError, NotEnoughFeaturesError
from pipelines.hotspot_stats import (
    MIN_FEATURES,
    BandChoice,
    auto_distance_band,
    configured_band,
    feature_points,
    gi_star,
)
from pipelines.taxonomy import BY_CODE
from pipelines.trend_stats import (
    TREND_DOWN,
    TREND_NONE,
    TREND_UP,
    closing_delays,
    mann_kendall_matrix,
    monthly_counts,
    naive_datetimes,
    open_backlog,
    period_freq,
    sens_slope_matrix,
)

log = logging.getLogger(__name__)

#: Fewer steps than this and no emerging-hotspot analysis is made: the Mann-Kendall test
#: of a location's z series has next to no power, and "≥ 90 % of steps" means all of them
#: (the usual space-time tools ask for at least 10 steps as well).
MIN_EMERGING_STEPS = 10

#: A period (or a before/after window) with fewer reports than this is not tested with
#: Gi*: the usual minimum number of incidents of an aggregated hotspot analysis (the
#: hotspot stage applies the same rule to categories); with a handful of reports the
#: z-scores of a whole neighbourhood hinge on one or two buildings.
MIN_REPORTS_PER_STEP = 30

#: French names of the period lengths, for sentences ("par mois").
FREQ_FR: dict[str, str] = {"M": "mois", "W": "semaine", "Q": "trimestre", "D": "jour", "Y": "an"}

#: Trend codes of Mann-Kendall in words for committees.
TREND_WORDS_FR: dict[str, str] = {
    TREND_UP: "hausse significative",
    TREND_DOWN: "baisse significative",
    TREND_NONE: "pas de tendance significative",
}

_DIRECTIONS = {TREND_UP: "up", TREND_DOWN: "down", TREND_NONE: "flat"}


# --------------------------------------------------------------------------------------
# What counts, and when
# --------------------------------------------------------------------------------------
def counted_reports(reports: pd.DataFrame) -> pd.Series:
    """Boolean mask, aligned on ``reports.index``, of the reports that count.

    A report counts when it is a resident's report (``source_kind == "reports"`` when
    the column exists) and not a likely duplicate (``duplicate_of`` missing when the
    column exists). Whether it is placed on a building is not required here.
    """
    mask = pd.Series(True, index=reports.index)
    if "source_kind" in reports:
        mask &= (reports["source_kind"] == "reports").fillna(False).astype(bool)
    if "duplicate_of" in reports:
        mask &= reports["duplicate_of"].isna()
    return mask


def study_periods(
    reported_at: pd.Series,
    *,
    freq: str = "M",
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
) -> pd.PeriodIndex:
    """The consecutive periods covering the reports (or ``start`` … ``end``).

    Parameters
    ----------
    reported_at
        Report times (datetime64 or ISO strings; missing values ignored).
    freq
        ``"M"`` (months), ``"W"`` (ISO weeks, Monday to Sunday), ``"Q"`` (quarters)…
    start, end
        Any date inside the first and last period; default: those of the earliest and
        latest report.

    Returns
    -------
    pandas.PeriodIndex
        Every period from the first to the last, empty ones included; empty when there
        is no dated report and no bounds.
    """
    pfreq = period_freq(freq)
    dates = naive_datetimes(reported_at, "reported_at").dropna()
    if dates.empty and (start is None or end is None):
        return pd.PeriodIndex([], freq=pfreq)
    first = pd.Period(start if start is not None else dates.min(), freq=pfreq)
    last = pd.Period(end if end is not None else dates.max(), freq=pfreq)
    if last < first:
        raise ValueError(f"Période d'étude vide : fin {last} avant début {first}.")
    return pd.period_range(first, last, freq=pfreq)


def _period_codes(reported_at: pd.Series, periods: pd.PeriodIndex) -> np.ndarray:
    """Position of each report's period in ``periods``; −1 when undated or outside."""
    dates = naive_datetimes(reported_at, "reported_at")
    ordinals = pd.PeriodIndex(dates.dt.to_period(periods.freqstr)).asi8
    codes = ordinals - periods[0].ordinal
    bad = dates.isna().to_numpy() | (codes < 0) | (codes >= len(periods))
    return np.where(bad, -1, codes)


# --------------------------------------------------------------------------------------
# Series and their trend tests
# --------------------------------------------------------------------------------------
def site_and_category_series(
    reports: pd.DataFrame, periods: pd.PeriodIndex, *, site_key: str = "site"
) -> pd.DataFrame:
    """Report counts per period for the whole site and per category, zeros included.

    Parameters
    ----------
    reports
        The reports that count (see :func:`counted_reports`), with ``reported_at`` and
        ``category``; reports outside ``periods`` or undated are left out (logged).
    periods
        The study periods (:func:`study_periods`).
    site_key
        ``key`` of the site series (the site id).

    Returns
    -------
    pandas.DataFrame
        Long form: ``level`` ("site" or "category"), ``key`` (site id or category code),
        ``period_start`` (datetime64, first day of the period), ``n_reports`` (int64).
        Categories are those with at least one report.
    """
    if len(periods) == 0:
        return pd.DataFrame(
            {"level": [], "key": [], "period_start": pd.to_datetime([]), "n_reports": []}
        ).astype({"n_reports": np.int64})
    freq, start, end = periods.freqstr, periods[0].start_time, periods[-1].start_time
    site = monthly_counts(reports, by=[], freq=freq, start=start, end=end)
    site.insert(0, "key", site_key)
    site.insert(0, "level", "site")
    parts = [site]
    if len(reports):
        cats = monthly_counts(reports, by=["category"], freq=freq, start=start, end=end)
        cats = cats.rename(columns={"category": "key"})
        cats.insert(0, "level", "category")
        parts.append(cats)
    out = pd.concat(parts, ignore_index=True)
    out["key"] = out["key"].astype(str)
    out["period_start"] = pd.to_datetime(out["period_start"], format="%Y-%m-%d")
    return out[["level", "key", "period_start", "n_reports"]]


def building_cube(
    reports: pd.DataFrame, building_ids: pd.Index, periods: pd.PeriodIndex
) -> pd.DataFrame:
    """Report counts per building and period: the space-time cube, zeros included.

    Parameters
    ----------
    reports
        The reports that count, with ``building_id`` (missing: not placed) and
        ``reported_at``.
    building_ids
        Every building of the footprint layer, in the order wanted (unique).
    periods
        The study periods.

    Returns
    -------
    pandas.DataFrame
        Index ``building_id`` (= ``building_ids``), one int64 column per period named by
        its first day (Timestamp). Reports on a building missing from ``building_ids``
        are left out and logged.
    """
    if not building_ids.is_unique:
        raise ValueError("building_ids : identifiants de bâtiment en double.")
    # Hand-rolled with one bincount rather than a groupby and a reindex on the
    # (building × period) grid: a million reports on 100,000 buildings in well under a
    # second, and the grid is never materialised as rows.
    n, n_steps = len(building_ids), len(periods)
    on_building = reports["building_id"].notna().to_numpy()
    rows = building_ids.get_indexer(pd.Index(reports["building_id"].astype(object)))
    unknown = on_building & (rows < 0)
    if unknown.any():
        log.warning(
            "Cube : %d signalement(s) sur un bâtiment absent de la couche des bâtiments, "
            "ignoré(s) (ex. %s)",
            int(unknown.sum()),
            list(pd.unique(reports.loc[unknown, "building_id"]))[:3],
        )
    steps = _period_codes(reports["reported_at"], periods) if n_steps else np.full(len(rows), -1)
    keep = (rows >= 0) & (steps >= 0)
    flat = rows[keep].astype(np.int64) * n_steps + steps[keep]
    counts = np.bincount(flat, minlength=n * n_steps).reshape(n, n_steps)
    columns = pd.DatetimeIndex(periods.start_time, name="period_start")
    return pd.DataFrame(
        counts.astype(np.int64), index=building_ids.rename("building_id"), columns=columns
    )


def building_series(cube: pd.DataFrame) -> pd.DataFrame:
    """Long-form series of the buildings with at least one report in the cube.

    Returns
    -------
    pandas.DataFrame
        ``level`` ("building"), ``key`` (building id), ``period_start``, ``n_reports``.
    """
    active = cube[cube.sum(axis=1) > 0]
    long = active.melt(ignore_index=False, var_name="period_start", value_name="n_reports")
    long = long.reset_index().rename(columns={"building_id": "key"})
    long.insert(0, "level", "building")
    long["key"] = long["key"].astype(str)
    long["n_reports"] = long["n_reports"].astype(np.int64)
    long["period_start"] = pd.to_datetime(long["period_start"])
    order = long.sort_values(["key", "period_start"], kind="stable").index
    return long.loc[order, ["level", "key", "period_start", "n_reports"]].reset_index(drop=True)


def series_tests(series: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Mann-Kendall test and Sen's slope of every series.

    Parameters
    ----------
    series
        Long form with ``level``, ``key``, ``period_start``, ``n_reports`` (every series
        over the same periods, zeros included).
    alpha
        Two-sided level of the Mann-Kendall test.

    Returns
    -------
    pandas.DataFrame
        One row per (``level``, ``key``), in the order first seen: ``n_periods``,
        ``n_reports`` (total), ``mk_s``, ``mk_z``, ``mk_p``, ``trend`` ("hausse",
        "baisse", "aucune"), ``trend_fr`` (in words) and ``sens_slope_per_period``
        (reports per period; NaN z and p with fewer than 3 periods).
    """
    columns = [
        "level", "key", "n_periods", "n_reports", "mk_s", "mk_z", "mk_p", "trend",
        "trend_fr", "sens_slope_per_period",
    ]  # fmt: skip
    if series.empty:
        return pd.DataFrame(columns=columns)
    wide = series.pivot(index=["level", "key"], columns="period_start", values="n_reports")
    order = series[["level", "key"]].drop_duplicates()
    wide = wide.reindex(pd.MultiIndex.from_frame(order)).sort_index(axis=1)
    values = wide.to_numpy(dtype=float)
    mk = mann_kendall_matrix(values, alpha=alpha, index=wide.index)
    out = pd.DataFrame(
        {
            "n_periods": np.full(len(wide), values.shape[1], dtype=np.int64),
            "n_reports": values.sum(axis=1).astype(np.int64),
            "mk_s": mk["s"].to_numpy(),
            "mk_z": mk["z"].to_numpy(),
            "mk_p": mk["p"].to_numpy(),
            "trend": mk["trend"].to_numpy(),
            "trend_fr": mk["trend"].map(TREND_WORDS_FR).to_numpy(),
            "sens_slope_per_period": sens_slope_matrix(values).to_numpy(),
        },
        index=wide.index,
    )
    return out.reset_index()[columns]


def _fr_number(value: float, decimals: int = 1) -> str:
    text = f"{value:+,.{decimals}f}" if value else f"{0:.{decimals}f}"
    return text.replace(",", "\u202f").replace(".", ",")


def trend_sentence_fr(trend: str, slope: float, p: float, *, freq: str = "M") -> str:
    """One French sentence for a series' trend, e.g. « hausse significative (+1,5
    signalement par mois, p = 0,003) »."""
    unit = FREQ_FR.get(period_freq(freq), "période")
    words = TREND_WORDS_FR.get(trend, TREND_WORDS_FR[TREND_NONE])
    if not np.isfinite(p):
        return f"{words} (série trop courte)"
    p_text = "p < 0,001" if p < 0.001 else f"p = {p:.3f}".replace(".", ",")
    per = "signalement" if abs(slope) <= 1 else "signalements"
    return f"{words} ({_fr_number(slope)} {per} par {unit}, {p_text})"


# --------------------------------------------------------------------------------------
# Emerging hotspots
# --------------------------------------------------------------------------------------
def choose_band(
    coords_m: np.ndarray, totals: np.ndarray, hotspot_params: Mapping[str, Any]
) -> BandChoice:
    """The Gi* distance band, chosen as the hotspot stage chooses it.

    ``distance_band_m`` of ``params.hotspots`` when set; else the automatic band of
    :func:`pipelines.hotspot_stats.auto_distance_band` on the buildings' total report
    counts, with the same search (``band_search_steps``, ``band_increment_m``). Raises
    :class:`~pipelines.errors.NotEnoughFeaturesError` below 30 buildings.
    """
    if len(coords_m) < MIN_FEATURES:
        raise NotEnoughFeaturesError(len(coords_m), MIN_FEATURES)
    band_m = hotspot_params.get("distance_band_m")
    if band_m is not None:
        return configured_band(float(band_m), n_features=len(coords_m))
    increment = hotspot_params.get("band_increment_m")
    return auto_distance_band(
        coords_m,
        totals,
        n_steps=int(hotspot_params.get("band_search_steps", 10)),
        increment_m=None if increment is None else float(increment),
    )


@dataclass(frozen=True)
class EmergingResult:
    """The emerging-hotspot analysis of one site (``table`` None when not computed)."""

    table: pd.DataFrame | None
    band: BandChoice | None
    note_fr: str | None = None


def emerging_analysis(
    cube: pd.DataFrame,
    coords_m: np.ndarray,
    *,
    hotspot_params: Mapping[str, Any] | None = None,
    time_window: int = 0,
    alpha: float = 0.05,
    min_level: int = 1,
    min_reports: int = MIN_REPORTS_PER_STEP,
) -> EmergingResult:
    """Distance band, space-time Gi*, FDR per step, Mann-Kendall and categories.

    Parameters
    ----------
    cube
        Building × period counts (:func:`building_cube`), zeros included.
    coords_m
        Building points (n × 2, metres, EPSG:2154), in the order of ``cube``'s rows.
    hotspot_params
        The ``hotspots`` parameters: the band is the hotspot stage's
        (:func:`choose_band`); default: automatic band.
    time_window
        Previous steps included in each Gi* neighbourhood.
    alpha
        Mann-Kendall level on each building's z series.
    min_level
        Smallest FDR bin counted as hot or cold (1 = 90 %).
    min_reports
        Periods with fewer reports (on buildings) are not tested (see
        :data:`MIN_REPORTS_PER_STEP`); fewer than :data:`MIN_EMERGING_STEPS` tested
        periods and nothing is computed.

    Returns
    -------
    EmergingResult
        ``table`` aligned on ``cube.index`` (columns of
        :func:`pipelines.emerging.emerging_hotspot_table`), the band chosen, or a French
        note saying why nothing was computed (too few buildings or steps).
    """
    n_steps = cube.shape[1]
    if n_steps < MIN_EMERGING_STEPS:
        return EmergingResult(
            None,
            None,
            f"Seulement {n_steps} période(s) : il en faut au moins {MIN_EMERGING_STEPS} "
            "pour classer les points chauds émergents ; analyse non faite.",
        )
    per_step = cube.sum(axis=0).to_numpy()
    tested = per_step >= min_reports
    if tested.sum() < MIN_EMERGING_STEPS:
        return EmergingResult(
            None,
            None,
            f"Trop peu de signalements par période (médiane {int(np.median(per_step))}) : "
            f"il faut au moins {min_reports} signalements dans au moins "
            f"{MIN_EMERGING_STEPS} périodes pour une analyse fiable des points chauds "
            "émergents ; analyse non faite.",
        )
    try:
        totals = cube.sum(axis=1).to_numpy(dtype=float)
        band = choose_band(coords_m, totals, hotspot_params or {})
    except NotEnoughFeaturesError as err:
        return EmergingResult(None, None, str(err))
    table = emerging_hotspot_table(
        cube,
        coords_m,
        band.band_m,
        time_window=time_window,
        mk_alpha=alpha,
        min_level=min_level,
        steps_tested=tested,
    )
    note = None
    if not tested.all():
        note = (
            f"{int((~tested).sum())} période(s) de moins de {min_reports} signalements "
            "non testée(s) (ni chaudes ni froides)."
        )
    return EmergingResult(table, band, note)


def emerging_counts(table: pd.DataFrame | None) -> dict[str, int]:
    """Number of buildings per emerging category, every category listed (0 if none)."""
    if table is None:
        return {}
    counts = table["emerging_category"].value_counts()
    return {code: int(counts.get(code, 0)) for code in EMERGING_CATEGORIES}


# --------------------------------------------------------------------------------------
# Before / after
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Window:
    """A time window ``[start, end)``."""

    start: pd.Timestamp
    end: pd.Timestamp

    def as_dict(self) -> dict[str, str]:
        """ISO dates, the end inclusive (the last day of the window)."""
        last = self.end - pd.Timedelta(days=1)
        return {"start": self.start.date().isoformat(), "end": last.date().isoformat()}


def _window(bounds: Any, what: str) -> Window:
    if not isinstance(bounds, list | tuple) or len(bounds) != 2:
        raise ValueError(f"{what} : attendu [début, fin] en dates ISO (fin incluse).")
    start = pd.Timestamp(bounds[0]).normalize()
    end = pd.Timestamp(bounds[1]).normalize() + pd.Timedelta(days=1)
    if end <= start:
        raise ValueError(f"{what} : la fin précède le début.")
    return Window(start, end)


def comparison_windows(
    periods: pd.PeriodIndex,
    *,
    months: int = 3,
    before: Any = None,
    after: Any = None,
) -> tuple[Window, Window]:
    """The two windows compared: by default the last ``months`` months of the study
    period and the ``months`` months before them ("the last two steering committees").

    ``before`` and ``after`` (``[start, end]`` ISO dates, end inclusive) override them.
    """
    if len(periods) == 0 and (before is None or after is None):
        raise ValueError("Aucune période : impossible de placer la comparaison avant/après.")
    if months < 1:
        raise ValueError(f"compare_months doit être ≥ 1, reçu {months}.")
    if after is not None:
        w_after = _window(after, "compare_after")
    else:
        end = (periods[-1] + 1).start_time
        w_after = Window(end - pd.DateOffset(months=months), end)
    w_before = (
        _window(before, "compare_before")
        if before is not None
        else Window(w_after.start - pd.DateOffset(months=months), w_after.start)
    )
    return w_before, w_after


def window_counts(reports: pd.DataFrame, building_ids: pd.Index, window: Window) -> pd.Series:
    """Reports per building inside ``window`` (zeros included), indexed by building id."""
    when = naive_datetimes(reports["reported_at"], "reported_at")
    inside = ((when >= window.start) & (when < window.end)).fillna(False).to_numpy()
    rows = building_ids.get_indexer(pd.Index(reports["building_id"].astype(object)[inside]))
    counts = np.bincount(rows[rows >= 0], minlength=len(building_ids)).astype(np.int64)
    return pd.Series(counts, index=building_ids.rename("building_id"), name="n_reports")


def before_after_table(
    reports: pd.DataFrame,
    building_ids: pd.Index,
    coords_m: np.ndarray,
    windows: tuple[Window, Window],
    *,
    band_m: float | None,
    min_reports: int = MIN_REPORTS_PER_STEP,
) -> pd.DataFrame:
    """Per building, counts and Gi* hotspot bins before and after.

    Parameters
    ----------
    reports
        Reports that count, with ``building_id`` and ``reported_at``.
    building_ids, coords_m
        Every building and its point (metres, EPSG:2154), same order.
    windows
        ``(before, after)`` from :func:`comparison_windows`.
    band_m
        Gi* distance band (the one of the emerging analysis); None: no Gi* (bins 0).
    min_reports
        A window with fewer reports gets no Gi* (bins 0, z NaN), as a period of the
        cube (:data:`MIN_REPORTS_PER_STEP`).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``building_ids``: the columns of
        :func:`pipelines.emerging.before_after`, plus ``gi_z_before``, ``gi_z_after``.
    """
    before_w, after_w = windows
    counts = [window_counts(reports, building_ids, w) for w in (before_w, after_w)]
    bins, zs = [], []
    for c in counts:
        if band_m is None or int(c.sum()) < min_reports:
            bins.append(pd.Series(0, index=c.index))
            zs.append(pd.Series(np.nan, index=c.index))
            continue
        gi = gi_star(c.to_numpy(dtype=float), coords_m, band_m, index=c.index)
        bins.append(gi["gi_bin"])
        zs.append(gi["gi_z"])
    out = before_after(counts[0], counts[1], bins[0], bins[1])
    out["gi_z_before"] = zs[0]
    out["gi_z_after"] = zs[1]
    out.index.name = "building_id"
    return out


# --------------------------------------------------------------------------------------
# Follow-up
# --------------------------------------------------------------------------------------
def has_closure_dates(reports: pd.DataFrame) -> bool:
    """True when the reports carry at least one closure date."""
    return "closed_at" in reports and bool(reports["closed_at"].notna().any())


def extraction_date(reports: pd.DataFrame) -> pd.Timestamp:
    """The latest report or closure time: a lower bound of the date of the export."""
    times = [naive_datetimes(reports["reported_at"], "reported_at").max()]
    if "closed_at" in reports:
        times.append(naive_datetimes(reports["closed_at"], "closed_at").max())
    return max(t for t in times if pd.notna(t))


def followup_table(
    reports: pd.DataFrame,
    *,
    targets_h: Mapping[str, float],
    as_of: pd.Timestamp,
) -> pd.DataFrame:
    """Closing delays per category and per building, against the target delays.

    Parameters
    ----------
    reports
        Reports that count, with ``category``, ``building_id``, ``reported_at`` and
        ``closed_at`` (NaT while open).
    targets_h
        Target delay in hours per category code.
    as_of
        Date of the export: a report still open and younger than its target is not due.

    Returns
    -------
    pandas.DataFrame
        Rows for ``level`` "category" then "building" (``key``, ``label_fr``): ``n_reports``,
        ``n_closed``, ``n_open``, ``n_invalid_delay``, ``median_delay_h``,
        ``p90_delay_h``, ``target_h``, ``n_due`` and ``share_closed_within_target``.
    """
    parts = []
    placed = reports[reports["building_id"].notna()]
    for level, frame, by in (
        ("category", reports, "category"),
        ("building", placed, "building_id"),
    ):
        if frame.empty:
            continue
        table = closing_delays(frame, targets_h=targets_h, by=by, as_of=as_of)
        table = table.rename(columns={"n": "n_reports"})
        table.insert(2, "n_open", table["n_reports"] - table["n_closed"])
        table.index = table.index.astype(str)
        table = table.rename_axis("key").reset_index()
        table.insert(0, "level", level)
        labels = table["key"].map(lambda c: BY_CODE[c].label if c in BY_CODE else "")
        table.insert(2, "label_fr", labels if level == "category" else "")
        parts.append(table)
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts, ignore_index=True)
    for col in ("median_delay_h", "p90_delay_h", "share_closed_within_target"):
        out[col] = out[col].astype(float).round(3)
    return out


def backlog_table(reports: pd.DataFrame, periods: pd.PeriodIndex, *, site_key: str) -> pd.DataFrame:
    """Reports still open at the end of each period, for the site and per category.

    Returns
    -------
    pandas.DataFrame
        ``level`` ("site"/"category"), ``key``, ``period_start`` (ISO date),
        ``period_end`` (last instant) and ``n_open``.
    """
    site = open_backlog(reports, periods)
    site.insert(0, "key", site_key)
    site.insert(0, "level", "site")
    cats = open_backlog(reports, periods, by=["category"]).rename(columns={"category": "key"})
    cats.insert(0, "level", "category")
    return pd.concat([site, cats], ignore_index=True)


# --------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------
FREQS = ("M", "W", "Q")


def trend_params(raw: Mapping[str, Any], path: str = "configuration") -> dict[str, Any]:
    """Check the ``trends`` parameters (defaults: ``DEFAULT_PARAMS["trends"]``).

    Raises
    ------
    ConfigError
        Naming the key, when a value is out of range or of the wrong type.
    """
    defaults = DEFAULT_PARAMS["trends"]
    params = {**defaults, **dict(raw)}

    def bad(key: str, what: str) -> ConfigError:
        return ConfigError(path, what, key=f"params.trends.{key}")

    freq = period_freq(str(params["freq"]))
    if freq not in FREQS:
        raise bad("freq", f"« {params['freq']} » : attendu M (mois), W (semaine) ou Q (trimestre).")
    params["freq"] = freq
    for key, low in (("time_window", 0), ("compare_months", 1), ("top_buildings", 1)):
        value = params[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise bad(key, f"attendu un entier ≥ {low}, reçu {value!r}.")
    if params["min_level"] not in (1, 2, 3):
        raise bad("min_level", "attendu 1 (90 %), 2 (95 %) ou 3 (99 %).")
    alpha = params["alpha"]
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise bad("alpha", f"attendu un niveau entre 0 et 1, reçu {alpha!r}.")
    targets = params["targets_h"] or {}
    if not isinstance(targets, Mapping):
        raise bad("targets_h", "attendu une table catégorie = heures.")
    for code, hours in targets.items():
        if code not in BY_CODE:
            raise bad(f"targets_h.{code}", f"catégorie inconnue ; codes : {', '.join(BY_CODE)}.")
        if isinstance(hours, bool) or not isinstance(hours, int | float) or not hours > 0:
            raise bad(f"targets_h.{code}", f"attendu un délai positif en heures, reçu {hours!r}.")
    params["targets_h"] = {str(k): float(v) for k, v in targets.items()}
    for key in ("start", "end", "as_of"):
        if params[key] is not None:
            try:
                pd.Timestamp(params[key])
            except (ValueError, TypeError) as err:
                raise bad(key, f"date illisible {params[key]!r} (attendu AAAA-MM-JJ).") from err
    for key in ("compare_before", "compare_after"):
        if params[key] is not None:
            try:
                _window(params[key], key)
            except (ValueError, TypeError) as err:
                raise bad(key, str(err)) from err
    return params


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


def _num(value: Any) -> float | None:
    return float(value) if pd.notna(value) and np.isfinite(value) else None


def headline(tests: pd.DataFrame, *, freq: str = "M") -> dict[str, Any]:
    """The site's trend for the index page: Mann-Kendall on the site series.

    Returns
    -------
    dict
        ``trend`` ("hausse", "baisse", "aucune"), ``direction`` ("up", "down", "flat"),
        ``trend_fr`` (a French sentence), ``mk_s``, ``mk_z``, ``mk_p``,
        ``sens_slope_per_period`` (reports per period), ``period_fr`` ("mois"),
        ``n_periods`` and ``n_reports``.
    """
    site = tests[tests["level"] == "site"]
    if site.empty or int(site.iloc[0]["n_reports"]) == 0:
        return {
            "trend": TREND_NONE,
            "direction": "flat",
            "trend_fr": "aucun signalement",
            "mk_s": 0,
            "mk_z": None,
            "mk_p": None,
            "sens_slope_per_period": None,
            "period_fr": FREQ_FR.get(period_freq(freq), "période"),
            "n_periods": int(site.iloc[0]["n_periods"]) if len(site) else 0,
            "n_reports": 0,
        }
    row = site.iloc[0]
    return {
        "trend": str(row["trend"]),
        "direction": _DIRECTIONS[str(row["trend"])],
        "trend_fr": trend_sentence_fr(
            str(row["trend"]), float(row["sens_slope_per_period"]), float(row["mk_p"]), freq=freq
        ),
        "mk_s": int(row["mk_s"]),
        "mk_z": _num(row["mk_z"]),
        "mk_p": _num(row["mk_p"]),
        "sens_slope_per_period": _num(row["sens_slope_per_period"]),
        "period_fr": FREQ_FR.get(period_freq(freq), "période"),
        "n_periods": int(row["n_periods"]),
        "n_reports": int(row["n_reports"]),
    }


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


def analyse_trends(
    reports: pd.DataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    params: Mapping[str, Any] | None = None,
    hotspot_params: Mapping[str, Any] | None = None,
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
        The ``trends`` parameters (checked with :func:`trend_params`).
    hotspot_params
        The ``hotspots`` parameters, for the distance band (:func:`choose_band`).
    site_key
        The site id, ``key`` of the site-level series.
    """
    p = trend_params(params or {})
    freq, alpha = p["freq"], float(p["alpha"])
    hp = hotspot_params or {}
    mask = counted_reports(reports)
    counted = reports.loc[mask]
    periods = study_periods(counted["reported_at"], freq=freq, start=p["start"], end=p["end"])
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
        time_window=p["time_window"],
        alpha=alpha,
        min_level=p["min_level"],
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
            months=p["compare_months"],
            before=p["compare_before"],
            after=p["compare_after"],
        )
        table_ba = before_after_table(
            counted, ids, coords, windows, band_m=band.band_m if band else None
        )

    followup = backlog = None
    as_of = None
    if has_closure_dates(counted):
        as_of = pd.Timestamp(p["as_of"]) if p["as_of"] else extraction_date(counted)
        followup = followup_table(counted, targets_h=p["targets_h"], as_of=as_of)
        backlog = backlog_table(counted, periods, site_key=site_key)

    kinds = reports["source_kind"] if "source_kind" in reports else pd.Series(dtype=object)
    summary: dict[str, Any] = {
        "method_fr": METHOD_FR,
        "parameters": {
            "freq": freq,
            "start": periods[0].start_time.date().isoformat() if len(periods) else None,
            "end": periods[-1].end_time.date().isoformat() if len(periods) else None,
            "n_periods": len(periods),
            "alpha": alpha,
            "time_window": p["time_window"],
            "min_level": p["min_level"],
            "distance_band": None
            if band is None
            else {
                "band_m": band.band_m,
                "method": band.method,
                "reason": band.reason,
                "distances_m": list(band.distances_m),
                "moran_z": [_num(z) for z in band.moran_z],
            },
            "compare_before": windows[0].as_dict() if windows else None,
            "compare_after": windows[1].as_dict() if windows else None,
            "compare_months": p["compare_months"],
            "targets_h": p["targets_h"],
            "as_of": as_of.isoformat() if as_of is not None else None,
            "top_buildings": p["top_buildings"],
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
        "headline": headline(tests, freq=freq),
        "emerging": {
            "computed": emerging.table is not None,
            "note_fr": emerging.note_fr,
            "counts": emerging_counts(emerging.table),
            "labels_fr": dict(EMERGING_LABELS_FR),
            "islands": int(emerging.table["is_island"].sum()) if emerging.table is not None else 0,
        },
        "before_after": {}
        if table_ba is None
        else {str(k): int(v) for k, v in table_ba["hotspot_change"].value_counts().items()},
        "followup": {
            "computed": followup is not None,
            "note_fr": None
            if followup is not None
            else "Aucune date de clôture dans les sources : délais et stock non calculés.",
        },
    }
    return TrendResult(series, tests, cube, emerging, table_ba, followup, backlog, summary)


# --------------------------------------------------------------------------------------
# Charts and the stage
# --------------------------------------------------------------------------------------
#: Files written by :func:`run` in ``out_dir`` (always all of them, so make can track them).
OUTPUT_FILES = (
    "trends.parquet",
    "trend_tests.parquet",
    "emerging.parquet",
    "before_after.parquet",
    "followup.csv",
    "backlog.csv",
    "trend_summary.json",
    "charts/reports_by_category.png",
    "charts/reports_by_category.csv",
    "charts/top_buildings.png",
    "charts/top_buildings.csv",
    "charts/closing_delays.png",
    "charts/closing_delays.csv",
)

FOLLOWUP_COLUMNS = [
    "level", "key", "label_fr", "n_reports", "n_closed", "n_open", "n_invalid_delay",
    "median_delay_h", "p90_delay_h", "target_h", "n_due", "share_closed_within_target",
]  # fmt: skip
BACKLOG_COLUMNS = ["level", "key", "period_start", "period_end", "n_open"]


def building_labels(buildings: pd.DataFrame, reports: pd.DataFrame | None = None) -> dict[str, str]:
    """A readable name per building, for charts: its OSM name, else its OSM address
    (« 12 rue X »), else the landlord's building code most often given in its reports
    (``building_ref``, « BL-23 »), else its id."""
    refs: dict[str, str] = {}
    if reports is not None and "building_ref" in reports:
        r = reports[reports["building_id"].notna() & reports["building_ref"].notna()]
        if len(r):
            pairs = r.groupby([r["building_id"].astype(str), r["building_ref"].astype(str)])
            top = pairs.size().sort_values(ascending=False, kind="stable").reset_index()
            first = top.drop_duplicates("building_id")
            refs = dict(zip(first["building_id"], first["building_ref"], strict=True))

    def text(value: Any) -> str:
        return value.strip() if isinstance(value, str) else ""

    out: dict[str, str] = {}
    for row in buildings.itertuples(index=False):
        bid = str(row.building_id)
        name = text(getattr(row, "name", None))
        street = text(getattr(row, "addr_street", None))
        number = text(getattr(row, "addr_housenumber", None))
        if name:
            out[bid] = name
        elif street:
            out[bid] = f"{number} {street}".strip()
        elif bid in refs:
            out[bid] = f"Bâtiment {refs[bid]}"
        else:
            out[bid] = bid
    return out


def top_building_ids(tests: pd.DataFrame, n: int) -> list[str]:
    """The ``n`` buildings with the most reports (ties: by id)."""
    b = tests[tests["level"] == "building"]
    b = b.sort_values(["n_reports", "key"], ascending=[False, True], kind="stable")
    return b["key"].head(n).tolist()


def site_charts(
    result: TrendResult,
    *,
    site_name: str,
    labels: Mapping[str, str],
    note: str | None = None,
) -> dict[str, Any]:
    """The three charts of a site (:mod:`pipelines.charts`), by file basename."""
    from pipelines import charts

    p = result.summary["parameters"]
    freq = p["freq"]
    unit = FREQ_FR.get(freq, "période")
    out: dict[str, Any] = {}
    cats = result.series[result.series["level"] == "category"]
    if len(cats):
        wide = cats.pivot(index="period_start", columns="key", values="n_reports")
        out["reports_by_category"] = charts.category_bars(
            wide,
            title=f"{site_name} — signalements par {unit} et par catégorie",
            freq=freq,
            note=note,
        )
    else:
        out["reports_by_category"] = charts.empty_chart(
            f"{site_name} — signalements par {unit}", "Aucun signalement à compter.", note=note
        )

    top = top_building_ids(result.tests, p["top_buildings"])
    if top:
        tests = result.tests[result.tests["level"] == "building"].set_index("key")
        table = result.emerging.table
        emerging = (
            None
            if table is None
            else {str(k): str(v) for k, v in table["emerging_label_fr"].reindex(top).items()}
        )
        out["top_buildings"] = charts.building_trends(
            result.cube.loc[top],
            tests.loc[top],
            labels=labels,
            emerging=emerging,
            title=f"{site_name} — les {len(top)} bâtiments les plus signalés : tendance",
            freq=freq,
            note=note,
        )
    else:
        out["top_buildings"] = charts.empty_chart(
            f"{site_name} — bâtiments les plus signalés",
            "Aucun signalement rattaché à un bâtiment.",
            note=note,
        )

    followup = result.followup
    if followup is not None and (followup["level"] == "category").any():
        by_cat = followup[followup["level"] == "category"].set_index("key")
        out["closing_delays"] = charts.closing_delay_bars(
            by_cat,
            title=f"{site_name} — délais de clôture par catégorie",
            note=note,
        )
    else:
        out["closing_delays"] = charts.empty_chart(
            f"{site_name} — délais de clôture",
            "Les sources de ce site ne donnent pas de date de clôture :\ndélais non calculés.",
            note=note,
        )
    return out


def _write_parquet(frame: pd.DataFrame, dst: Path) -> None:
    from pipelines.io import atomic_path

    with atomic_path(dst) as tmp:
        frame.to_parquet(tmp, index=False, compression="zstd")
    log.info("wrote %s (%d rows)", dst, len(frame))


def _with_geometry(
    buildings: gpd.GeoDataFrame, table: pd.DataFrame | None, columns: list[str]
) -> gpd.GeoDataFrame:
    """``table`` (indexed by building id) joined onto the footprints, EPSG:4326."""
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
    from pipelines import charts
    from pipelines.emerging import HOTSPOT_CHANGE_LABELS_FR
    from pipelines.io import read_geoparquet, write_csv, write_geoparquet, write_json

    site = config.site(site_id)
    params = trend_params(site.params.get("trends", {}), config.path)
    reports = read_geoparquet(reports_path)
    buildings = read_geoparquet(buildings_path)
    result = analyse_trends(
        reports, buildings, params=params, hotspot_params=site.params.get("hotspots", {}),
        site_key=site_id,
    )  # fmt: skip
    out_dir = Path(out_dir)
    _write_parquet(result.series, out_dir / "trends.parquet")
    _write_parquet(result.tests, out_dir / "trend_tests.parquet")
    em = result.emerging.table
    em_columns = [] if em is None else list(em.columns)
    write_geoparquet(_with_geometry(buildings, em, em_columns), out_dir / "emerging.parquet")
    ba = result.before_after
    ba_columns = [] if ba is None else list(ba.columns)
    if ba is None:
        ba_columns = [*HOTSPOT_CHANGE_LABELS_FR]
    write_geoparquet(_with_geometry(buildings, ba, ba_columns), out_dir / "before_after.parquet")
    followup = result.followup if result.followup is not None else pd.DataFrame()
    write_csv(followup.reindex(columns=FOLLOWUP_COLUMNS), out_dir / "followup.csv")
    backlog = result.backlog if result.backlog is not None else pd.DataFrame()
    write_csv(backlog.reindex(columns=BACKLOG_COLUMNS), out_dir / "backlog.csv")

    note = (
        "Données simulées (démonstration) — Vigie"
        if site.simulated
        else "Source : " + (", ".join(s.id for s in site.sources)) + " — Vigie"
    )
    made = site_charts(
        result, site_name=site.name, labels=building_labels(buildings, reports), note=note
    )
    for name, chart in made.items():
        charts.save_chart(chart, out_dir / "charts" / f"{name}.png")
    summary = {
        "site": site_id,
        "site_name": site.name,
        "simulated": site.simulated,
        **result.summary,
        "outputs": list(OUTPUT_FILES),
    }
    write_json(summary, out_dir / "trend_summary.json")
    return summary
