"""The site's trends under a publication profile, drawn from the site's series as the
pack publishes it, or withheld: the headline (``site.json``'s ``trends.headline``, the
index's arrow, the committee pack's « Tendance du site », :func:`published_headline`)
and the indicators' trend of each quarter (:func:`published_quarter_trends`).

The trends stage tests the exact monthly series of every counted report. Beside a
series the pack publishes coarsened, rounded or with periods hidden, its figures give
counts back: Kendall's S counts the pairs of months in each order, its variance (from
z) the ties, and Sen's slope is the difference of one pair of months. On Paris's
committee pack (13 months, the totals of 2023-08 and 2024-04 hidden « s »), S = 1 and
a slope of 0,0 leave 8 pairs of values for the two hidden months out of 41 × 41; their
shown categories (6 and 8 reports, and one hidden « autre » cell each, at least 1)
leave 4, and each « autre » cell being a primary one (fewer than 3 households: 1 or 2
reports) one: both hidden cells are 1, exactly, where the engine left each 1 or 2.

So the headline is the test of the series the pack publishes (``category_series``'s
period totals, at the period of the monthly level: month, quarter or year, rounded
under ``public``): S, z, p and Sen's slope are then functions of published figures and
add nothing to them. Where a period of that series is hidden, the headline is withheld
with a French sentence: a test of the whole series would give the hidden periods back,
and one of the periods shown alone would be biased, a period being hidden mostly for
being small.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipelines.indicators import TREND_MIN_MONTHS, TREND_MONTHS, window_trend
from pipelines.publish.cells import FLAG
from pipelines.trends import FREQ_FR, TREND_WORDS_FR, headline, series_tests

#: The test's figures, none published when the headline is withheld.
FIGURES = ("mk_s", "mk_z", "mk_p", "sens_slope_per_period")


def withheld_trend_fr(n_hidden: int, n_periods: int) -> str:
    """Why the headline is not published: « tendance non publiée : 2 des 13 périodes… »."""
    which = (
        "toutes les périodes" if n_hidden == n_periods else f"{n_hidden} des {n_periods} périodes"
    )
    return (
        f"tendance non publiée : {which} de la série du site sont masquées (« s ») ; un "
        "test sur la série entière les redonnerait, et un test sur les seules périodes "
        "montrées serait faussé"
    )


def _period_totals(category_series: pd.DataFrame) -> pd.DataFrame:
    """One row per period of the published ``category_series``: ``period_start``, the
    total ``n_period_reports`` and its flag."""
    periods = category_series.drop_duplicates("period_start").sort_values("period_start")
    return periods[["period_start", "n_period_reports", "n_period_reports_flag"]]


def published_headline(
    head: dict[str, Any], category_series: pd.DataFrame, *, freq: str
) -> dict[str, Any]:
    """The trends stage's ``head`` redone on the site's series as published.

    Parameters
    ----------
    head
        The trends stage's headline (:func:`pipelines.trends.headline`): its
        ``min_reports`` and, where the series has a hidden period, its
        ``too_few_reports`` are kept.
    category_series
        The published ``category_series`` (``period_start``, ``n_period_reports`` and
        its flag, the period's total on each of its rows).
    freq
        The series' period (``M``, ``Q``, ``Y``), for the sentence.

    Returns
    -------
    dict
        The headline as :func:`pipelines.trends.headline` gives it, of the published
        series; with a period hidden, no trend, no direction, no figures, ``withheld``
        true and ``trend_fr`` saying why (or, where the trends stage found too few
        reports to conclude, that sentence's case: :func:`~pipelines.publish.site_json.
        with_published_site_total` words it).
    """
    min_reports = int(head.get("min_reports") or 0)
    periods = _period_totals(category_series)
    hidden = int((periods["n_period_reports_flag"] == FLAG).sum())
    if hidden:
        out = {**head, **dict.fromkeys(FIGURES), "trend": None, "direction": None}
        out.update(n_periods=len(periods), period_fr=FREQ_FR.get(freq, "période"))
        if not head.get("too_few_reports"):
            out.update(withheld=True, trend_fr=withheld_trend_fr(hidden, len(periods)))
        return out
    # a period absent from the table had no report (zero cells are not published)
    shown = pd.PeriodIndex(pd.to_datetime(periods["period_start"]), freq=freq)
    span = pd.period_range(shown.min(), shown.max()) if len(shown) else shown
    values = pd.Series(pd.to_numeric(periods["n_period_reports"]).fillna(0).to_numpy(float))
    series = pd.DataFrame(
        {
            "level": "site",
            "key": "site",
            "period_start": span.start_time,
            "n_reports": values.set_axis(shown).reindex(span, fill_value=0).to_numpy(),
        }
    )
    return {**headline(series_tests(series), freq=freq, min_reports=min_reports), "withheld": False}


#: The indicators' trend columns (:mod:`pipelines.indicators.compute`).
QUARTER_TREND_COLUMNS = ("mk_trend", "mk_p", "sens_slope_per_month", "mk_trend_fr")


def published_quarter_trends(
    site: pd.DataFrame, category_series: pd.DataFrame | None, *, freq: str
) -> pd.DataFrame:
    """The indicators' site table whose trend of each quarter (Mann-Kendall and Sen's
    slope over the :data:`~pipelines.indicators.TREND_MONTHS` months ending with the
    quarter, none under :data:`~pipelines.indicators.TREND_MIN_MONTHS`) is that of the
    site's monthly series as published (``category_series``' month totals), or
    withheld (null, ``trend_flag`` « s ») where one of its months is hidden or the
    series is not published by month (``freq``: ``Q`` or ``Y`` under ``public``).

    The indicators stage tests the exact series: its p-values (of S and the ties) and
    slopes, one per quarter over overlapping windows, beside months the pack hides or
    rounds, give them back as the headline did (:func:`published_headline`)."""
    out = site.copy()
    for col in QUARTER_TREND_COLUMNS:
        if col in out:
            out[col] = out[col].astype(object)
    out["trend_flag"] = ""
    if not {"quarter", *QUARTER_TREND_COLUMNS} <= set(out.columns):
        return out
    periods = _period_totals(category_series) if category_series is not None else None
    if periods is None or periods.empty or freq != "M":
        has_test = out["mk_trend"].notna()
        for col in QUARTER_TREND_COLUMNS:
            out[col] = out[col].where(~has_test, None)
        out["trend_flag"] = np.where(has_test, FLAG, "")
        return out
    months = pd.PeriodIndex(pd.to_datetime(periods["period_start"]), freq="M")
    span = pd.period_range(months.min(), months.max())
    values = pd.Series(pd.to_numeric(periods["n_period_reports"]).to_numpy(float), index=months)
    hidden = pd.Series((periods["n_period_reports_flag"] == FLAG).to_numpy(), index=months)
    values = values.reindex(span, fill_value=0.0)
    hidden = hidden.reindex(span, fill_value=False)
    for i, quarter in out["quarter"].astype(str).items():
        year, q = quarter.split("-T")
        end = min(pd.Period(f"{year}Q{q}", freq="Q").asfreq("M", "end"), span[-1])
        window = span[span <= end][-TREND_MONTHS:]
        row: dict[str, Any] = dict.fromkeys(QUARTER_TREND_COLUMNS)
        flag = ""
        if len(window) < TREND_MIN_MONTHS:
            pass
        elif hidden[window].any():
            flag = FLAG
        elif trend := window_trend(values[window].to_numpy(float)):
            row = {**trend, "mk_trend_fr": TREND_WORDS_FR.get(str(trend["mk_trend"]))}
        for col, value in row.items():
            out.at[i, col] = value
        out.at[i, "trend_flag"] = flag
    return out
