"""The site's trend headline under a publication profile (``site.json``'s
``trends.headline``, the index's arrow, the committee pack's « Tendance du site »):
drawn from the site's series as the pack publishes it, or withheld.

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

import pandas as pd

from pipelines.publish.cells import FLAG
from pipelines.trends import FREQ_FR, headline, series_tests

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
        reports to conclude, that sentence's case: :func:`~pipelines.publish.protect.
        with_published_site_total` words it).
    """
    min_reports = int(head.get("min_reports") or 0)
    periods = category_series.drop_duplicates("period_start").sort_values("period_start")
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
