"""Report series per period and their trend tests, for the trends stage (private).

What counts, the study periods, counts per period for the site, per category and per
building (the building × period cube), Mann-Kendall and Sen's slope of every series, and
the site's headline trend in French. Pure functions; :mod:`pipelines.trends.stage` re-exports
them.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from pipelines.fr import fr_number
from pipelines.stats import (
    TREND_DOWN,
    TREND_NONE,
    TREND_UP,
    mann_kendall_matrix,
    monthly_counts,
    naive_datetimes,
    period_freq,
    sens_slope_matrix,
)

log = logging.getLogger(__name__)

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
        The reports that count (see :func:`pipelines.reports.counted`), with ``reported_at`` and
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
    """A signed slope in French (``+1,5``), a bare ``0,0`` when nil."""
    return fr_number(value, decimals, sign=bool(value))


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


def json_number(value: Any) -> float | None:
    """A finite float, or None (JSON has no NaN)."""
    return float(value) if pd.notna(value) and np.isfinite(value) else None


def too_few_trend_fr(min_reports: int, n_reports: int | None = None) -> str:
    """The reason no trend is concluded, « trop peu de signalements pour conclure (…) »:
    with the count of reports, or without it (``None``: the words a publication profile
    that protects counts publishes)."""
    if n_reports is None:
        return (
            f"trop peu de signalements pour conclure (moins de {min_reports}, le minimum "
            "d'un test de tendance)"
        )
    counted = f"{n_reports} signalement{'s' if n_reports > 1 else ''}"
    return (
        f"trop peu de signalements pour conclure ({counted}, il en faut au moins "
        f"{min_reports} pour un test de tendance)"
    )


def headline(tests: pd.DataFrame, *, freq: str = "M", min_reports: int = 0) -> dict[str, Any]:
    """The site's trend for the index page: Mann-Kendall on the site series.

    Parameters
    ----------
    tests
        :func:`series_tests` output, with its ``site`` row.
    freq
        The periods' frequency, for the sentence.
    min_reports
        Fewer reports than this (but some) and no trend is concluded: ``trend`` and
        ``direction`` are ``None``, ``too_few_reports`` is true and ``trend_fr`` says
        « trop peu de signalements pour conclure » (the test's figures are kept).

    Returns
    -------
    dict
        ``trend`` ("hausse", "baisse", "aucune"), ``direction`` ("up", "down", "flat"),
        ``trend_fr`` (a French sentence), ``mk_s``, ``mk_z``, ``mk_p``,
        ``sens_slope_per_period`` (reports per period), ``period_fr`` ("mois"),
        ``n_periods``, ``n_reports``, ``min_reports`` and ``too_few_reports``.
    """
    site = tests[tests["level"] == "site"]
    row = site.iloc[0] if len(site) else None
    n_reports = 0 if row is None else int(row["n_reports"])
    too_few = 0 < n_reports < min_reports
    if row is None or n_reports == 0:
        trend, direction, trend_fr = TREND_NONE, "flat", "aucun signalement"
    elif too_few:
        trend, direction = None, None
        trend_fr = too_few_trend_fr(min_reports, n_reports)
    else:
        trend, direction = str(row["trend"]), _DIRECTIONS[str(row["trend"])]
        trend_fr = trend_sentence_fr(
            trend, float(row["sens_slope_per_period"]), float(row["mk_p"]), freq=freq
        )
    # The test's figures, when there are any (kept when too few reports to conclude).
    decimals = ("mk_z", "mk_p", "sens_slope_per_period")
    figures: dict[str, Any] = {"mk_s": 0, **dict.fromkeys(decimals)}
    if row is not None and n_reports > 0:
        figures = {"mk_s": int(row["mk_s"])} | {k: json_number(row[k]) for k in decimals}
    return {
        "trend": trend,
        "direction": direction,
        "trend_fr": trend_fr,
        **figures,
        "period_fr": FREQ_FR.get(period_freq(freq), "période"),
        "n_periods": 0 if row is None else int(row["n_periods"]),
        "n_reports": n_reports,
        "min_reports": min_reports,
        "too_few_reports": too_few,
    }
