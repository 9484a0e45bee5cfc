"""The report points a publication profile draws (:mod:`pipelines.publish.protect`):
``interne`` all; ``comite`` the walkthrough observations only: a resident's report is
counted, protected, in its building's figures, never drawn as a point (counting points
would give back every hidden building × month cell: the hostile run did so on Bondy);
``public`` none (nor density contours, nor planners' notes: see
:func:`pipelines.publish.protect.apply_profile`).

A walkthrough observation is a dated point with its category, day, position and text:
one of a person-related category (the taxonomy's class « personne »: occupation of
common parts, pests, other) or whose text names a dwelling or a floor (ingestion's
``person_related``) says as much about a household as a resident's report. In ``comite``
it is drawn only where its building × category cell meets the profile's threshold (shown,
from at least ``min_households`` households, :func:`cells_meeting_threshold`); elsewhere
it is only counted in its building (``n_observations``: no point, no text, no day).
Technical observations stay drawn.
"""

from __future__ import annotations

from collections.abc import Collection

import pandas as pd

from pipelines.config.publication import ProfileRule
from pipelines.publish.cells import FLAG


def cells_meeting_threshold(
    micro: pd.DataFrame, profile: pd.DataFrame, rule: ProfileRule
) -> frozenset[tuple[str, str]]:
    """The (``building_id``, ``category``) cells drawn from at least
    ``rule.min_households`` households (``micro``: :func:`pipelines.publish.cells.microdata`)
    whose count the protected ``profile`` shows (``n_<category>_flag`` not « s »)."""
    if micro.empty:
        return frozenset()
    h = micro.groupby(["building_id", "category"])["household"].nunique()
    h = h[h >= rule.min_households]
    p = profile.assign(building_id=profile["building_id"].astype(str)).set_index("building_id")
    out = set()
    for b, c in h.index:
        column = f"n_{c}_flag"
        if b in p.index and (column not in p or p.at[b, column] != FLAG):
            out.add((str(b), str(c)))
    return frozenset(out)


def protect_points(
    points: pd.DataFrame,
    rule: ProfileRule,
    *,
    person_related: Collection[str] = frozenset(),
    shown_cells: Collection[tuple[str, str]] = frozenset(),
) -> tuple[pd.DataFrame, int]:
    """The report points a profile draws (see the module's docstring); the number
    left out.

    Parameters
    ----------
    points
        ``points.parquet``'s rows (``source_kind``, ``category``, ``building_id`` and,
        when ingestion wrote it, ``person_related``).
    rule
        The profile's rule: its ``points`` says what is drawn.
    person_related
        The site's person-related category codes.
    shown_cells
        :func:`cells_meeting_threshold`: where a person-related observation may stay a
        point (none by default: every person-related observation is left out).
    """
    if rule.points == "all":
        return points, 0
    if rule.points == "none":
        return points.iloc[0:0], len(points)
    observations = points["source_kind"] == "observations"
    person = points["category"].astype(str).isin(set(person_related))
    if "person_related" in points:
        person |= points["person_related"].astype("boolean").fillna(False).astype(bool)
    cells = set(shown_cells)
    met = pd.Series(False, index=points.index)
    # the pairs compared as an index, not point by point in Python (39,168 points of a
    # bench site: 0.03 s -> 0.01 s)
    if cells and len(points):
        pairs = pd.MultiIndex.from_arrays(
            [points["building_id"].astype(str), points["category"].astype(str)]
        )
        met = points["building_id"].notna() & pairs.isin(list(cells))
    keep = observations & (~person | met)
    return points[keep], int((~keep).sum())
