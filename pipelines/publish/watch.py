"""Publication of the watch levels (issue 18, :mod:`pipelines.indicators`): the entrances
whose proposed level a profile may show (:func:`protect_entrances`) and the site's
proposed level counted over them (:func:`with_shown_watch`).

The tool proposes « jaune » for an entrance whose degradation or occupation reports fall
in at least 3 of the last 6 months, and for the site when a building has such reports.
« jaune » is a lower bound on a small count, and who reported it is plain to the
neighbours when one household did: under a protecting profile a proposal is shown only
from enough households. The site's count of buildings so proposed is then counted over
the entrances the profile shows: counted over every building, less the buildings
listed it told how many buildings are « jaune » with no entrance shown, on too few
households or over several entrances (Bondy's committee pack, 2025-T4: 31 against 24
buildings with a listed entrance, the 7 others « jaune » over several entrances), as
``n_hotspot_buildings`` told the hot buildings of hidden class
(:func:`pipelines.publish.indicators.with_shown_hotspots`).
The analyst's levels (orange, rouge) are decisions, shown as such.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.config.publication import ProfileRule
from pipelines.indicators import watch_reason_fr
from pipelines.publish.cells import FLAG

#: The columns of the published entrance table: a level, never a count.
ENTRANCE_COLUMNS = ("quarter", "building_id", "entrance_label_fr", "watch_level", "watch_by")
#: The site table's proposed level, its count and its sentence, hidden together
#: (``watch_flag`` « s »).
WATCH_COLUMNS = ("watch_level", "n_buildings_watch", "watch_reason_fr")
WATCH_FLAG = "watch_flag"


def shown_proposals(entrances: pd.DataFrame, rule: ProfileRule) -> pd.Series:
    """Boolean per row of ``entrances``: the tool proposed « jaune » and ``rule`` lets it
    be shown (its reports from at least the profile's number of households, none making
    the dominance share of them, as a cell of the engine). Never under a profile that
    protects every cell. Whether the analyst raised the entrance is not looked at."""
    if entrances.empty or "watch_level" not in entrances or rule.protect == "all":
        return pd.Series(False, index=entrances.index)
    proposed = entrances["watch_level"] == "jaune"
    if rule.protect != "none":
        households = pd.to_numeric(entrances["n_households_watch"], errors="coerce")
        proposed &= (households >= rule.min_households).fillna(False).astype(bool)
        if rule.dominance_share is not None:
            top = pd.to_numeric(entrances["top_household_share"], errors="coerce")
            proposed &= (top < rule.dominance_share).fillna(False).astype(bool)
    return proposed.astype(bool)


def protect_entrances(entrances: pd.DataFrame, rule: ProfileRule) -> pd.DataFrame:
    """The entrances whose watch level may be shown under ``rule``.

    A proposed « jaune » is shown where :func:`shown_proposals` allows it; « vert » is
    never listed (every entrance not listed is « vert », or « jaune » on too few
    households: showing « s » for these would say « jaune »). The analyst's orange and
    rouge are decisions, shown as such. No count is published.

    Under a profile that protects every cell (``public``, the open-data pack) no
    entrance is listed, not even the analyst's: that profile publishes nothing finer
    than the building, and an address with its watch level is finer.
    """
    if entrances.empty or rule.protect == "all":
        return pd.DataFrame(columns=list(ENTRANCE_COLUMNS))
    analyst = entrances["analyst_level"].notna()
    out = entrances[analyst | shown_proposals(entrances, rule)].copy()
    by_analyst = out["analyst_level"].notna()
    out["watch_level"] = out["analyst_level"].where(by_analyst, out["watch_level"])
    out["watch_by"] = np.where(by_analyst, "analyste", "proposition de l'outil")
    return out[list(ENTRANCE_COLUMNS)].reset_index(drop=True)


def with_shown_watch(
    site: pd.DataFrame, entrances: pd.DataFrame | None, rule: ProfileRule
) -> pd.DataFrame:
    """The site table with its proposed watch level as ``rule`` may show it, and
    ``watch_flag`` (« s »: hidden, the three values null).

    Under ``interne`` the level, count and sentence are those computed (every building).
    Under a profile that protects the cells of persons (``comite``) ``n_buildings_watch``
    is the number of buildings with an entrance whose proposed « jaune » the profile
    shows (:func:`shown_proposals`, the same quarter, the analyst's raise or not), the
    level « jaune » when it is above 0, else « vert », and the sentence says that an
    entrance from too few households is not counted (in every row, so that it tells
    nothing). Under a profile that protects every cell (``public``), which lists no
    entrance, the three are hidden in every row: a count of buildings « jaune » drawn
    from occupation reports of few households, and « vert » hidden beside « jaune »
    shown would say « jaune ». The analyst's ``analyst_level`` is left as it is.
    """
    out = site.copy()
    if out.empty or not set(WATCH_COLUMNS) <= set(out.columns):
        return out.assign(**{WATCH_FLAG: pd.Series("", index=out.index, dtype="object")})
    if rule.protect == "none":
        out[WATCH_FLAG] = ""
        return out
    if rule.protect == "all":
        out["n_buildings_watch"] = pd.Series(pd.NA, index=out.index, dtype="Int64")
        for col in ("watch_level", "watch_reason_fr"):
            out[col] = pd.Series(None, index=out.index, dtype="object")
        out[WATCH_FLAG] = FLAG
        return out
    frame = entrances if entrances is not None else pd.DataFrame()
    shown = frame[shown_proposals(frame, rule)]
    per_quarter = (
        shown.groupby(shown["quarter"].astype(str))["building_id"].nunique()
        if len(shown)
        else pd.Series(dtype="int64")
    )
    n = out["quarter"].astype(str).map(per_quarter).fillna(0).astype(int)
    out["n_buildings_watch"] = n.astype("Int64")
    out["watch_level"] = np.where(n > 0, "jaune", "vert")
    dominance = rule.dominance_share is not None and rule.dominance_share < 1
    out["watch_reason_fr"] = [
        watch_reason_fr(int(k), min_households=rule.min_households, dominance=dominance) for k in n
    ]
    out[WATCH_FLAG] = ""
    return out
