"""The reports a site's pack leaves out of its tables, and the indicators that would
count them (:mod:`pipelines.publish.indicators`).

The publication step leaves out of every table it publishes the late reports (dated in
a period its ledger froze, :func:`pipelines.publish.ledger.late_reports`); the
indicators stage counts every report. A quarter × category count shown beside the sum of
the months ``category_series`` shows for it gave their number exactly (under ``public``,
two roundings of nearby counts narrowed it): such a cell is not shown
(:func:`left_out_cells`). The figures drawn from more than their quarter's own reports
(the backlog at a later quarter's end, the recurrence over 6 months, the lifts, the
proposed watch level and its entrances) are computed over the reports the pack counts
(:func:`pack_figures`): hiding them would hide every quarter after a late report. So
are the follow-up's figures the publication step shows (a building's open reports and
median closing delay, the closing delays per category: :func:`pack_followup`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config.publication import ProfileRule
from pipelines.indicators import (
    counted_reports,
    entrance_quarters,
    quarter_months,
    quarter_of,
    site_quarters,
)
from pipelines.publish.build import with_trend_results
from pipelines.publish.cells import FLAG, micro_rows
from pipelines.publish.ledger import late_reports, ledger_level
from pipelines.publish.levels import level_of
from pipelines.publish.tables import closing_delays_table
from pipelines.published import Published
from pipelines.reports import counted as is_counted
from pipelines.stats import open_backlog
from pipelines.trends import dated_followup


def unequal_cells(
    categories: pd.DataFrame, series: pd.DataFrame | None, *, freq: str
) -> set[tuple[str, str]]:
    """(quarter, category) of the counts of ``categories`` shown (``cell_flag`` empty)
    that differ from the sum of the periods ``category_series`` shows for them, when the
    series is by month or quarter (``freq``, ``M`` or ``Q``) and exact (a series by
    year, or rounded: nothing compared). A cell one of whose months is hidden is hidden
    already (:func:`pipelines.publish.consistency.consistent_with_published`) and not
    compared.

    The pack leaves reports out of its tables (late ones, :func:`left_out_cells`): a
    shown count beside the sum of its months gave their number exactly."""
    if series is None or series.empty or freq not in ("M", "Q"):
        return set()
    # a month's or a quarter's first day lies in its quarter
    quarter = quarter_of(pd.to_datetime(series["period_start"]))
    key = quarter.astype(str) + "|" + series["category"].astype(str)
    hidden = set(key[(series["n_reports_flag"] == FLAG).to_numpy()])
    sums = pd.to_numeric(series["n_reports"], errors="coerce").groupby(key.to_numpy()).sum()
    shown = categories[(categories["cell_flag"] != FLAG).to_numpy()]
    cells = shown["quarter"].astype(str) + "|" + shown["category"].astype(str)
    counts = pd.to_numeric(shown["n_reports"], errors="coerce").to_numpy(dtype=float)
    return {
        (c.split("|")[0], c.split("|")[1])
        for c, n in zip(cells, counts, strict=True)
        if c not in hidden and not np.isnan(n) and float(sums.get(c, 0.0)) != n
    }


def late_of(micro: pd.DataFrame, ledger: pd.DataFrame | None) -> np.ndarray:
    """Per report of ``micro``, whether the publication step left it out of every table
    as late (:func:`pipelines.publish.ledger.late_reports`, read on the profile's
    ``ledger`` it kept, at the period of its monthly level)."""
    level = level_of(ledger_level(ledger))
    return late_reports(micro, ledger, level[1] if level else "month").to_numpy(dtype=bool)


def left_out_cells(micro: pd.DataFrame, late: np.ndarray) -> set[tuple[str, str]]:
    """(quarter, category) of the reports of ``micro`` that are ``late`` (:func:`late_of`).

    The indicators count every report; a shown count holding one of these, beside the
    pack's months (or, under ``public``, beside their rounded figures), gave back or
    narrowed how many reports the pack left out of that cell."""
    rows = micro[late]
    return set(zip(rows["quarter"].astype(str), rows["category"].astype(str), strict=True))


#: Figures of the site table drawn from more than the quarter's own reports, or from
#: the whole export (the lift-equipped buildings): computed over the pack's reports
#: (:func:`pack_figures`). The others are those of the quarter's cells, hidden with a
#: cell holding a late report.
SPANNING = (
    "n_lift_buildings", "lift_breakdowns", "lift_breakdowns_per_building_month",
    "lift_repeats_30d", "lift_days_out_of_service", "lift_days_quarters",
    "recurrence_median_months", "n_buildings_recurrent", "watch_level", "n_buildings_watch",
    "watch_reason_fr",
)  # fmt: skip
#: The entrance table's figures (:func:`pipelines.indicators.entrance_quarters`), and
#: those of an entrance whose reports in the window are all late.
ENTRANCE_FIGURES = {
    "watch_months": 0, "n_reports_watch": 0, "n_households_watch": 0,
    "top_household_share": np.nan, "watch_level": "vert",
}  # fmt: skip


def _late_open_at_ends(late: pd.DataFrame, quarters: list[str], by: list[str]) -> pd.Series:
    """How many of the ``late`` reports are open at the end of each quarter (its last
    month's last instant, where ``backlog_open_end`` is read), per ``by`` and quarter."""
    if late.empty or not quarters:
        return pd.Series(dtype=float)
    ends = [quarter_months(q)[-1] for q in quarters]
    table = open_backlog(late, ends, by=by)
    quarter = quarter_of(pd.to_datetime(table["period_start"]))
    return table.set_index([*(table[c] for c in by), quarter])["n_open"].astype(float)


def pack_figures(
    site: pd.DataFrame,
    categories: pd.DataFrame,
    entrances: pd.DataFrame,
    *,
    reports: pd.DataFrame,
    buildings: pd.DataFrame,
    late: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The indicator tables with the figures drawn beyond a quarter's own cells counted
    over the reports the pack counts: the ``late`` ones (:func:`late_of`, per counted
    report of ``reports`` in order) left out.

    Counted over every report, a late one was in the backlog of every quarter it stayed
    open in, in the recurrence of the quarters whose 6 months hold it, in a lift repeat
    of the next quarter, among the lift-equipped buildings of every quarter, and in the
    watch level of its entrance: beside the first pack, a second one told of a report
    that both leave out. The cells holding it are hidden (:func:`left_out_cells`);
    these figures, which no cell's hiding covers, are the pack's. Without a late report
    the tables are returned as they are.

    Parameters
    ----------
    site, categories, entrances
        ``indicators_site``, ``indicators_category`` and ``indicators_entrance`` as the
        indicators stage wrote them (every report counted).
    reports, buildings
        ``reports.parquet`` and ``buildings.parquet``.
    late
        Per report counted on a building (:func:`pipelines.indicators.counted_reports`,
        the rows of :func:`pipelines.publish.cells.microdata`), whether it is late.
    """
    if not late.any():
        return site, categories, entrances
    counted = counted_reports(reports)
    kept, left = counted[~late], counted[late]
    quarters = site["quarter"].astype(str).tolist()
    # the export's quarters, a quarter of late reports only among them
    span = pd.period_range(counted["month"].min(), counted["month"].max(), freq="M")
    pack = site_quarters(
        kept, buildings, backlog=None, n_hotspot_buildings=None, n_emerging_categories=None,
        actions_by_status=None, span=span,
    ).set_index("quarter")  # fmt: skip
    site = site.copy()
    for col in SPANNING:
        if col in site and col in pack:
            site[col] = _as(pack[col].reindex(quarters).to_numpy(dtype=object), site[col].dtype)
    # the backlog is a count of open reports: the late ones open at the quarter's end out
    if "backlog_open_end" in site:
        open_late = _late_open_at_ends(left, quarters, [])
        less = site["quarter"].astype(str).map(open_late).fillna(0.0)
        site["backlog_open_end"] = site["backlog_open_end"] - less.to_numpy()
    categories = categories.copy()
    if "backlog_open_end" in categories:
        open_late = _late_open_at_ends(left, quarters, ["category"])
        key = pd.MultiIndex.from_arrays(
            [categories["category"].astype(str), categories["quarter"].astype(str)]
        )
        by_cell = open_late.reindex(key).fillna(0.0).to_numpy()
        categories["backlog_open_end"] = categories["backlog_open_end"] - by_cell
    return site, categories, _pack_entrances(entrances, kept, quarters)


def pack_reports(reports: pd.DataFrame, late: np.ndarray) -> pd.DataFrame:
    """``reports`` without the ``late`` ones (:func:`late_of`, per row of
    :func:`pipelines.publish.cells.microdata`); ``reports`` itself without a late one."""
    if not late.any():
        return reports
    keep = np.ones(len(reports), dtype=bool)
    keep[np.flatnonzero(micro_rows(reports))[late]] = False
    return reports[keep]


def pack_followup(
    published: Published,
    reports: pd.DataFrame,
    *,
    targets_h: Mapping[str, float],
    as_of: date | None,
) -> Published:
    """``published`` with the follow-up's figures counted over the pack's ``reports``
    (:func:`pack_reports`, late ones out): the building profile's ``open_backlog`` and
    ``median_delay_h`` and the closing delays per category (``closing_delays``), as the
    trends stage counts them (:func:`pipelines.trends.dated_followup`, its settings, the
    date of the export by default the latest report or closure time of these reports).

    The trends stage counts every report: a late one was in its building's open reports
    or median delay and in its category's closed reports (and a late closure, the
    latest, moved the date of the export), and two packs of the same frozen periods told
    of it. Without these figures (no follow-up), ``published`` as it is.

    Parameters
    ----------
    published
        What :func:`pipelines.publish.build.publish_site` assembled from ``followup.csv``.
    reports
        The reports the pack counts.
    targets_h, as_of
        The site's ``trends`` settings: the target delays per category and the date of
        the export (``None``: the latest report or closure time).
    """
    profile, delays = published.profile, published.closing_delays
    columns = [c for c in ("open_backlog", "median_delay_h") if c in profile]
    if not columns and (delays is None or delays.empty):
        return published
    followup, _ = dated_followup(reports[is_counted(reports)], targets_h=targets_h, as_of=as_of)
    if followup is None:
        followup = pd.DataFrame()
    redone = with_trend_results(profile.drop(columns=columns), followup=followup)
    profile = profile.copy()
    for column in columns:
        profile[column] = redone[column].to_numpy() if column in redone else np.nan
    if delays is not None and len(delays):
        delays = closing_delays_table(followup)
    return replace(published, profile=profile, closing_delays=delays)


def _pack_entrances(
    entrances: pd.DataFrame, kept: pd.DataFrame, quarters: list[str]
) -> pd.DataFrame:
    """``entrances`` with the figures and the proposed level of each counted over the
    ``kept`` reports (an entrance whose reports in the window are all late: « vert »,
    none); the analyst's levels as they are."""
    if entrances.empty:
        return entrances
    keys = ["quarter", "building_id", "entrance_label_fr"]
    pack = entrance_quarters(kept, quarters).set_index(keys)
    out = entrances.copy()
    at = pd.MultiIndex.from_frame(out[keys].astype(object))
    figures = pack.reindex(at).fillna(ENTRANCE_FIGURES)
    counted = out["building_id"].notna().to_numpy()  # an analyst's row: no figure
    for col in ENTRANCE_FIGURES:
        if col in out and col in figures:
            values = np.where(counted, figures[col].to_numpy(dtype=object), out[col].to_numpy())
            out[col] = _as(values, entrances[col].dtype)
    return out


def _as(values: np.ndarray, dtype: Any) -> pd.Series | np.ndarray:
    """``values`` in a table's column ``dtype`` when they fit it (a quarter with no
    report of the pack leaves its figures null)."""
    try:
        return pd.Series(values).astype(dtype).to_numpy()
    except (TypeError, ValueError):
        return values


def left_out_audit(left_out: set[tuple[str, str]], rule: ProfileRule) -> dict[str, Any]:
    """The audit's word on the cells hidden because the pack leaves some of their
    reports out: the reason, in French, and how many cells (under an exact profile
    only: the open-data pack says what it withholds, not how much)."""
    return {
        "reason_fr": (
            "indicateur masqué : il compterait des signalements que les tableaux du site "
            "laissent de côté (signalements tardifs, datés d'une période déjà publiée), "
            "ou son nombre n'est pas la somme des mois publiés"
        ),
        "cells_hidden": len(left_out) if rule.round_base <= 1 else None,
    }
