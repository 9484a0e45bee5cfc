"""Emerging hotspots and before/after hotspot comparison, for the trends stage (private).

The distance band (the hotspot stage's :func:`~pipelines.hotspots.choose_band`), the
space-time analysis of the building × period cube (:mod:`pipelines.stats.emerging`), and
the before/after comparison of two windows. Pure functions; :mod:`pipelines.trends.stage`
re-exports them. Coordinates in metres (EPSG:2154).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config import HotspotParams
from pipelines.errors import NotEnoughFeaturesError
from pipelines.hotspots import choose_band
from pipelines.stats import (
    EMERGING_CATEGORIES,
    BandChoice,
    before_after,
    emerging_hotspot_table,
    gi_star,
    naive_datetimes,
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


# --------------------------------------------------------------------------------------
# Emerging hotspots
# --------------------------------------------------------------------------------------
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
    hotspot_params: HotspotParams | None = None,
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
        :func:`pipelines.stats.emerging.emerging_hotspot_table`), the band chosen, or a French
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
        band = choose_band(coords_m, totals, hotspot_params or HotspotParams())
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


def parse_window(bounds: Any, what: str) -> Window:
    """``[start, end]`` (ISO dates, end included) as a :class:`Window`; ValueError if bad."""
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
        w_after = parse_window(after, "compare_after")
    else:
        end = (periods[-1] + 1).start_time
        w_after = Window(end - pd.DateOffset(months=months), end)
    w_before = (
        parse_window(before, "compare_before")
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
        :func:`pipelines.stats.emerging.before_after`, plus ``gi_z_before``, ``gi_z_after``.
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
