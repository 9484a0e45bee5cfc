"""The report points a publication profile draws (:mod:`pipelines.publish.protect`):
``interne`` all; ``comite`` drops the points of a person-related category whose
building × category cell is hidden (they stay counted, protected, in the building's
figures); ``public`` none (nor density contours, nor planners' notes: see
:func:`pipelines.publish.protect.apply_profile`).
"""

from __future__ import annotations

import pandas as pd

from pipelines.config.publication import ProfileRule
from pipelines.publish.cells import FLAG


def protect_points(
    points: pd.DataFrame, profile: pd.DataFrame, rule: ProfileRule, person_related: frozenset[str]
) -> tuple[pd.DataFrame, int]:
    """The report points a profile draws (see the module's docstring); the number
    left out."""
    if rule.points == "all":
        return points, 0
    if rule.points == "none":
        return points.iloc[0:0], len(points)
    ids = profile["building_id"].astype(str)
    hidden: set[tuple[str, str]] = set()
    for code in person_related:
        flag = profile.get(f"n_{code}_flag")
        if flag is not None:
            hidden |= {(b, code) for b in ids[flag == FLAG]}
    cat = points["category"].astype(str)
    bid = points["building_id"].astype("string")
    residents = points["source_kind"] != "observations"
    person = cat.isin(person_related) & residents
    gone = person & (
        bid.isna()
        | pd.Series([(b, c) in hidden for b, c in zip(bid, cat, strict=True)], index=points.index)
    )
    return points[~gone], int(gone.sum())
