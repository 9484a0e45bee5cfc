"""Lift indicators per quarter: repeat breakdowns within :data:`REPEAT_DAYS` days
(:func:`lift_repeats`) and days out of service where closing dates exist
(:func:`lift_days_out_of_service`). :func:`pipelines.indicators.compute.site_quarters`
puts them in the site's row of each quarter.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.indicators.quarters import quarter_months

#: The lift category.
LIFT = "ascenseur"


#: A lift breakdown is a repeat when the same building had one less than this many days
#: before.
REPEAT_DAYS = 30


def lift_repeats(reports: pd.DataFrame, *, days: int = REPEAT_DAYS) -> pd.Series:
    """Boolean per lift report: the same building had another lift report in the
    ``days`` days before it."""
    lift = reports[reports["category"] == LIFT].sort_values(["building_id", "reported_at"])
    gap = lift.groupby("building_id")["reported_at"].diff()
    return (gap.notna() & (gap <= pd.Timedelta(days=days))).reindex(lift.index)


def lift_days_out_of_service(
    reports: pd.DataFrame, quarters: list[str]
) -> tuple[pd.Series, pd.Series]:
    """Days out of service of the lifts per quarter, where closing dates exist.

    Each lift report with a closing date is a breakdown from ``reported_at`` to
    ``closed_at``. Per building (the sources name no lift inventory: a building is one
    lift), the breakdowns are merged as a union of intervals, so that two reports of one
    breakdown (or overlapping ones) count its days once; the union is clipped to each
    quarter and summed over the buildings, in days. Reports still open are left out
    (their end is unknown), as are reports closed before they were made.

    Returns
    -------
    tuple of pandas.Series
        Indexed by ``quarters``: the days (float, one decimal; null when no lift report
        of the site has a closing date) and the quarters of the reports each figure
        draws on (``;``-joined, in order), which the publication step needs to hide it
        with any of their lift cells.
    """
    lift = reports[
        (reports["category"] == LIFT)
        & reports["closed_at"].notna()
        & (reports["closed_at"] >= reports["reported_at"])
    ]
    days = pd.Series(np.nan, index=quarters, dtype=float)
    drawn = pd.Series("", index=quarters, dtype=object)
    if lift.empty:
        return days, drawn
    # A sort-and-sweep union of intervals, a few lines: no interval library is worth a
    # dependency for it (pandas' IntervalIndex tests overlaps but merges none).
    merged: list[tuple[pd.Timestamp, pd.Timestamp]] = []
    for _, rows in lift.sort_values("reported_at").groupby("building_id"):
        spans = list(zip(rows["reported_at"], rows["closed_at"], strict=True))
        start, end = spans[0]
        for t0, t1 in spans[1:]:
            if t0 <= end:  # overlaps the current breakdown: one breakdown
                end = max(end, t1)
                continue
            merged.append((start, end))
            start, end = t0, t1
        merged.append((start, end))
    for q in quarters:
        months = quarter_months(q)
        lo, hi = months[0].start_time, months[-1].end_time
        total = sum(max((min(t1, hi) - max(t0, lo)).total_seconds(), 0.0) for t0, t1 in merged)
        # the union clipped to the quarter depends on the reports overlapping it only
        inside = (lift["reported_at"] <= hi) & (lift["closed_at"] > lo)
        used = set(lift.loc[inside, "quarter"].astype(str))
        days[q] = round(total / 86400.0, 1)
        drawn[q] = ";".join(sorted(used))
    return days, drawn
