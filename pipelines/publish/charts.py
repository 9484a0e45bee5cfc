"""The charts' tables under a publication profile (:mod:`pipelines.publish.protect`):
the category series from the site's series (its own protected table,
:func:`~pipelines.publish.levels.series_of`), the top buildings' series as sums of the
published monthly table, and the closing delays left out where too few households
closed reports of a category (:func:`chart_tables`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipelines.config.publication import ProfileRule
from pipelines.publish.cells import FLAG, flagged, households
from pipelines.publish.levels import derived_sums
from pipelines.published import Published, period_of
from pipelines.reports import counted as is_counted
from pipelines.stats.disclosure import round_half_up
from pipelines.taxonomy import CODES
from pipelines.trends import series_tests


def _period_start(period: pd.Series) -> pd.Series:
    """``YYYY-MM``, ``YYYY-Tn`` or ``YYYY`` (:func:`~pipelines.published.period_of`) as
    the first day of the period."""
    first_day = {text: f"{period_of(text).start_time:%Y-%m-%d}" for text in set(period.astype(str))}
    return pd.to_datetime(period.astype(str).map(first_day))


def category_series_of(series: pd.DataFrame) -> pd.DataFrame:
    """The chart's category series (see :mod:`pipelines.published`) from the site's
    series (:func:`~pipelines.publish.levels.series_of`): every period × category of
    the taxonomy (absent ones are zeros), the period's total on each of its rows."""
    periods = sorted(set(series["month"].astype(str)))
    grid = pd.MultiIndex.from_product([periods, list(CODES)], names=["month", "category"])
    by_category = series[series["category"].notna()]
    t = by_category.assign(month=by_category["month"].astype(str))
    t = t.set_index(["month", "category"]).reindex(grid)
    frame = grid.to_frame(index=False)
    totals = series[series["category"].isna()].assign(month=lambda f: f["month"].astype(str))
    tot = totals.set_index("month").reindex(frame["month"])

    def shown(values: pd.Series, flags: pd.Series) -> Any:
        return values.fillna(0).astype("Int64").where(flags.fillna("") != FLAG).to_numpy()

    return pd.DataFrame(
        {
            "period_start": _period_start(frame["month"]).to_numpy(),
            "category": frame["category"].to_numpy(),
            "n_reports": shown(t["n_reports"], t["n_reports_flag"]),
            "n_reports_flag": t["n_reports_flag"].fillna("").to_numpy(),
            "n_period_reports": shown(tot["n_reports"], tot["n_reports_flag"]),
            "n_period_reports_flag": tot["n_reports_flag"].fillna("").to_numpy(),
        }
    )


def chart_tables(
    published: Published,
    series: pd.DataFrame,
    monthly: pd.DataFrame,
    level: tuple[str, str],
    reports: pd.DataFrame,
    rule: ProfileRule,
    person_related: frozenset[str],
) -> dict[str, pd.DataFrame]:
    """The charts' tables under the profile: the category series from the site's series
    (:func:`category_series_of`), the top buildings' series as sums of the monthly table
    (building × period; counted over the reports placed on a building like every other
    table), a top building's trend test that of its series as published, left out (null)
    when one of its periods is hidden; the closing delays of a category left out when its
    closed reports come from too few households."""
    out: dict[str, pd.DataFrame] = {"category_series": category_series_of(series)}
    space, time = level
    freq = str((published.site.get("series") or {}).get("freq", "M"))
    top = published.top_buildings
    if top is not None and len(top) and space == "building" and freq == "M" and time == "month":
        bt = derived_sums(monthly, ["building_id", "month"])
        bt = bt.assign(building_id=bt["building_id"].astype(str), m=bt["month"].astype(str))
        bt = bt.rename(columns={"n_reports_flag": "flag"}).set_index(["building_id", "m"])
        key = pd.MultiIndex.from_arrays(
            [
                top["building_id"].astype(str),
                pd.to_datetime(top["period_start"]).dt.strftime("%Y-%m"),
            ]
        )
        fl = pd.Series(bt["flag"].reindex(key).to_numpy(), index=top.index)
        val = pd.Series(bt["n_reports"].reindex(key).to_numpy(), index=top.index)
        val = val.astype("Float64").where(fl.notna(), 0.0)
        t2 = top.copy()
        t2["n_reports"], t2["n_reports_flag"] = flagged(val, fl == FLAG)
        any_hidden = (t2["n_reports_flag"] == FLAG).groupby(t2["building_id"]).transform("any")
        tests = _tests_of_shown(t2[~any_hidden.to_numpy()])
        for col in ("sens_slope_per_period", "trend", "trend_fr", "mk_p"):
            redone = t2["building_id"].astype(str).map(tests[col]).astype(object)
            t2[col] = redone.where(~any_hidden, None)
        t2["trend_flag"] = np.where(any_hidden, FLAG, "")
        out["top_buildings"] = t2
    elif top is not None:
        out["top_buildings"] = top.iloc[0:0].assign(n_reports_flag=pd.Series(dtype=object))
    delays = published.closing_delays
    if delays is not None and len(delays):
        out["closing_delays"] = closing_delays_of(delays, reports, rule, person_related)
    return out


def _tests_of_shown(top: pd.DataFrame) -> pd.DataFrame:
    """The trend test of each top building's series as published (``n_reports``, every
    period shown), by building id: the trends stage's, of its exact series, beside counts
    the profile rounds (or from which it left late reports out), gave them back."""
    if top.empty:
        return pd.DataFrame(columns=["sens_slope_per_period", "trend", "trend_fr", "mk_p"])
    long = pd.DataFrame(
        {
            "level": "building",
            "key": top["building_id"].astype(str).to_numpy(),
            "period_start": pd.to_datetime(top["period_start"]).to_numpy(),
            "n_reports": pd.to_numeric(top["n_reports"]).astype(float).to_numpy(),
        }
    )
    return series_tests(long).set_index("key")


def closing_delays_of(
    delays: pd.DataFrame,
    reports: pd.DataFrame,
    rule: ProfileRule,
    person_related: frozenset[str],
) -> pd.DataFrame:
    """The closing delays per category under the profile (``closing_delays.parquet``).

    A category whose closed reports come from fewer households than the threshold (a
    person-related one under ``comite``, any under ``public``) keeps its row with
    ``n_closed`` hidden (« s ») and no delay, target or share. Under a rounding profile,
    ``n_closed`` is rounded like the engine's counts, and the share closed within the
    target is drawn from rounded counts: reports closed within it over reports due
    (``n_due``), each rounded. The exact share, beside a count rounded to 5, pinned the
    counts (Bondy's open-data chart: « 41,3 % » of a small category). The reports closed
    within the target are ``share × n_due`` (the share is kept to 3 decimals: exact up
    to 999 reports due, within one report beyond, which the rounding covers). ``n_due``
    is not published (dropped here)."""
    d = delays.copy()
    closed = reports[is_counted(reports, on_building=False)]
    if "closed_at" in closed:
        closed = closed[closed["closed_at"].notna()]
    hh = closed.assign(h=households(closed)).groupby("category")["h"].nunique()
    applies = (
        d["category"].isin(person_related)
        if rule.protect == "person_related"
        else pd.Series(rule.protect == "all", index=d.index)
    )
    hide = applies & (d["category"].map(hh).fillna(0) < rule.min_households)
    n_closed = pd.to_numeric(d["n_closed"], errors="coerce").astype("Float64")
    if rule.round_base > 1:
        n_closed = round_half_up(n_closed, rule.round_base).astype("Float64")
        # without n_due (a table from before it was kept), no share: never an exact one
        due = pd.to_numeric(d.get("n_due", pd.Series(np.nan, index=d.index)), errors="coerce")
        due = due.astype("Float64")
        share = pd.to_numeric(d["share_closed_within_target"], errors="coerce")
        within = round_half_up((share * due).round(), rule.round_base).astype("Float64")
        due = round_half_up(due, rule.round_base).astype("Float64")
        d["share_closed_within_target"] = (within / due.where(due > 0)).astype(float).round(3)
    d["n_closed"], d["n_closed_flag"] = flagged(n_closed, hide)
    for col in d.columns:
        if col.endswith("_h") or col.startswith("share_"):
            d[col] = pd.to_numeric(d[col], errors="coerce").where(~hide)
    return d.drop(columns="n_due", errors="ignore")
