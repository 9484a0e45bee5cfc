"""The report points a publication profile draws (:mod:`pipelines.publish.protect`):
``interne`` all; ``comite`` the walkthrough observations only: a resident's report is
counted, protected, in its building's figures, never drawn as a point (counting points
would give back every hidden building × month cell: the hostile run did so on Bondy);
``public`` none (nor density contours, nor planners' notes: see
:func:`pipelines.publish.protect.apply_profile`).
"""

from __future__ import annotations

import pandas as pd

from pipelines.config.publication import ProfileRule


def protect_points(points: pd.DataFrame, rule: ProfileRule) -> tuple[pd.DataFrame, int]:
    """The report points a profile draws (see the module's docstring); the number
    left out."""
    if rule.points == "all":
        return points, 0
    if rule.points == "none":
        return points.iloc[0:0], len(points)
    residents = points["source_kind"] != "observations"
    return points[~residents], int(residents.sum())
