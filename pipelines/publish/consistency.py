"""The indicators kept consistent with the tables the pack publishes
(:func:`consistent_with_published`): a quarter's count of a category is hidden where
the published category series or monthly table hides one of its periods (a hidden month
hides its quarter, a hidden year its four), so that the indicators and those tables,
read together, give back no hidden cell.
"""

from __future__ import annotations

import pandas as pd

from pipelines.indicators import (
    LIFT,
)
from pipelines.publish.cells import FLAG
from pipelines.publish.indicator_cells import (
    CELL_COLUMNS,
    LIFT_COLUMNS,
    RPLS_COLUMNS,
    SITE_CELL_COLUMNS,
    hide,
    hide_lift_days,
)
from pipelines.published import period_of


def quarters_of_period(label: str) -> list[str]:
    """The quarters (``YYYY-Tn``) a published period covers (:func:`period_of`): its own
    for a month (``YYYY-MM``, or its first day ``YYYY-MM-DD``), itself for a quarter (the
    public profile's periods), the four for a year."""
    period = period_of(label)
    quarters = pd.period_range(period.asfreq("Q", "start"), period.asfreq("Q", "end"), freq="Q")
    return [f"{q.year}-T{q.quarter}" for q in quarters]


def _quarter_cells(frame: pd.DataFrame, month: str, hidden: pd.Series) -> set[tuple[str, str]]:
    """(quarter, category) of the ``hidden`` rows of a published table by period (month,
    quarter or year: a hidden period hides each quarter it covers)."""
    rows = frame[hidden.to_numpy()]
    cells = set(zip(rows[month].astype(str), rows["category"].astype(str), strict=True))
    # each period's quarters once, not per hidden row (0.04 s less on a bench site)
    quarters = {period: quarters_of_period(period) for period, _ in cells}
    return {(quarter, category) for period, category in cells for quarter in quarters[period]}


def _period_labels(period_start: pd.Series, freq: str) -> pd.Series:
    """The label (:func:`~pipelines.published.period_of`) of each period a series'
    ``period_start`` opens: ``YYYY`` by year, ``YYYY-MM`` otherwise (a quarter's first
    month lies in it)."""
    when = pd.to_datetime(period_start)
    if freq == "Y":
        return when.dt.year.astype(str)
    return when.dt.strftime("%Y-%m")


def consistent_with_published(
    site: pd.DataFrame,
    categories: pd.DataFrame,
    *,
    series: pd.DataFrame | None,
    monthly: pd.DataFrame | None,
    rpls_ids: set[str],
    left_out: set[tuple[str, str]] = frozenset(),  # type: ignore[assignment]
    freq: str = "M",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hide every indicator the site's published monthly tables would let one subtract
    a hidden cell from (see the module's note): shown, it must be a sum of shown cells.

    Parameters
    ----------
    site, categories
        The tables of :func:`pipelines.publish.indicators.protect_indicators` (with their flags).
    series
        ``published/category_series``: site × month × category, ``n_reports_flag`` and
        the month total's ``n_period_reports_flag``. None: nothing is shown.
    monthly
        ``published/monthly``: building × month × category, ``n_reports_flag``. None:
        no RPLS part is shown.
    rpls_ids
        The buildings with RPLS dwellings.
    left_out
        (quarter, category) of the cells holding a report the site's pack leaves out
        (:mod:`pipelines.publish.left_out`): hidden with their quarter, whose counts
        are not those of the pack.
    freq
        The series' period (``site.json``'s ``series.freq``: ``M``, ``Q`` or ``Y``):
        its ``period_start`` is the first day of a month, a quarter or a year, and a
        hidden year hides its four quarters.
    """
    cats, out = categories.copy(), site.copy()
    key = pd.Series(
        list(zip(cats["quarter"].astype(str), cats["category"].astype(str), strict=True)),
        index=cats.index,
    )
    if series is None or series.empty:
        bad_cells: set[tuple[str, str]] = set(key)
        bad_quarters = set(out["quarter"].astype(str))
    else:
        # the first day of a year read as its January hid the first quarter alone:
        # Paris 10's open-data pack (by year) showed 2023-T4's total, 2023's hidden
        labelled = series.assign(period=_period_labels(series["period_start"], freq))
        bad_cells = _quarter_cells(labelled, "period", series["n_reports_flag"] == FLAG)
        totals = labelled.loc[(series["n_period_reports_flag"] == FLAG).to_numpy(), "period"]
        bad_quarters = {q for label in set(totals) for q in quarters_of_period(label)}
    # a count that is not the pack's sum, and its quarter's total, are not shown
    bad_cells |= set(left_out)
    bad_quarters |= {quarter for quarter, _ in left_out}
    if monthly is None or monthly.empty:
        bad_rpls: set[tuple[str, str]] = set(key)
    else:
        # A hidden row of an RPLS building, or one coarsened above the building (its
        # buildings unknown here): the RPLS sums it enters are not shown.
        building = monthly["building_id"].astype("string")
        mine = building.isin(rpls_ids).fillna(False) | building.isna()
        bad_rpls = _quarter_cells(monthly, "month", (monthly["n_reports_flag"] == FLAG) & mine)
    cell = key.isin(bad_cells) | (cats["cell_flag"] == FLAG)
    cats = hide(cats, CELL_COLUMNS, cell, "cell_flag")
    rpls = cell | key.isin(bad_rpls) | (cats["rpls_flag"] == FLAG)
    cats = hide(cats, RPLS_COLUMNS, rpls, "rpls_flag")
    quarter = out["quarter"].astype(str)
    out = hide(
        out, SITE_CELL_COLUMNS, quarter.isin(bad_quarters) | (out["cell_flag"] == FLAG), "cell_flag"
    )
    lift = quarter.map(lambda q: (q, LIFT)).isin(set(key[cell])) | (out["lift_flag"] == FLAG)
    out = hide(out, LIFT_COLUMNS, lift, "lift_flag")
    out = hide_lift_days(out, set(key[cell]))
    # An RPLS quarter total is the sum of its categories' RPLS parts: shown only when
    # every one of them is.
    rpls_quarters = set(cats.loc[rpls.to_numpy(), "quarter"].astype(str))
    out = hide(
        out, RPLS_COLUMNS, quarter.isin(rpls_quarters) | (out["rpls_flag"] == FLAG), "rpls_flag"
    )
    return out, cats
