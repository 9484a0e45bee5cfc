"""Hot buildings a zone would show apart from the rest of it (:func:`detached_members`)
and their classes hidden (:func:`with_classes_hidden`), under a profile that hides some
buildings' hotspot class.

Why
---
A zone is every hot building linked to another one footprint to footprint within
``gap_m`` metres (:mod:`pipelines.zones`, 15 m), and the method note says so. A
published zone lists only the buildings whose class the profile shows
(:func:`pipelines.publish.buildings.zones_of_shown_classes`). When those fall in several
groups that no chain of listed buildings links, a reader knows that buildings the zone
does not list link them, and so that they are hot; where a single building of hidden
class can be that link, its class is given away (Bondy's committee pack, before this
rule: 6 buildings in 4 zones; its open-data pack: 1).

So each zone keeps the largest linked group of its shown buildings (on equal size, the
one holding the smallest building id), and the buildings of its other groups have their
class hidden too, as a building drawn from too few households has: ``gi_bin``,
``gi_label``, ``gi_bin_rate`` and every ``gi_bin_<category>`` (which would tell it)
become null with their flag « s ». A published zone's list is then always linked, and
tells nothing of what links it. The zones keep their ids; the committee sees fewer
buildings shown hot, never a wrong class. (Publishing each group as a zone of its own
would keep those classes but needs ids that tie no group to another, which the planners'
notes and the action register, written against the zones' ids, cannot follow.)
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from pipelines.crs import metric_crs_of
from pipelines.io import list_cell
from pipelines.publish.cells import FLAG
from pipelines.published import hidden
from pipelines.zones import component_labels

#: The class columns hidden with a building's hotspot class, besides ``gi_bin_<code>``.
CLASS_COLUMNS = ("gi_bin", "gi_label", "gi_bin_rate")


def detached_members(
    zones: gpd.GeoDataFrame | None, profile: gpd.GeoDataFrame, *, gap_m: float
) -> dict[str, list[str]]:
    """Per zone, its buildings of shown class outside its largest linked group of them.

    Parameters
    ----------
    zones
        The zones stage's zones (``zone_id``, ``building_ids``); None: no zone.
    profile
        The protected building profile (``building_id``, footprints, ``gi_bin_flag``
        « s » where the class is hidden).
    gap_m
        The zones' link distance (``[params.zones] gap_m``), in metres.

    Returns
    -------
    dict
        Zone id → the building ids to hide, sorted; zones with nothing detached are
        absent (a zone that lost no building is linked as the zones stage made it).
    """
    if zones is None or zones.empty or "building_ids" not in zones or profile.empty:
        return {}
    if "gi_bin_flag" not in profile:  # a profile that hides no class (interne)
        return {}
    p = profile.assign(building_id=profile["building_id"].astype(str))
    shown = p[~hidden(p, "gi_bin").to_numpy()]
    if shown.empty:
        return {}
    metric = shown.to_crs(metric_crs_of(shown)).set_index("building_id").geometry
    out: dict[str, list[str]] = {}
    for zone_id, value in zip(zones["zone_id"].astype(str), zones["building_ids"], strict=True):
        listed = set(list_cell(value))
        members = sorted(b for b in listed if b in metric.index)
        if len(members) < 2 or len(members) == len(listed):
            continue  # one building, or none left out: the zones stage linked them
        labels = component_labels(metric.loc[members].reset_index(drop=True), gap_m=gap_m)
        if len(set(labels)) == 1:
            continue
        # the largest group; on equal size, the first met (members are sorted by id)
        sizes = np.bincount(labels)
        keep = min(
            (lab for lab in range(len(sizes)) if sizes[lab] == sizes.max()),
            key=lambda lab: int(np.flatnonzero(labels == lab)[0]),
        )
        out[zone_id] = [b for b, lab in zip(members, labels, strict=True) if lab != keep]
    return out


def with_classes_hidden(profile: gpd.GeoDataFrame, ids: set[str]) -> gpd.GeoDataFrame:
    """``profile`` with the hotspot classes of the buildings ``ids`` hidden: the
    :data:`CLASS_COLUMNS` and every ``gi_bin_<category>`` null where set, their
    ``_flag`` « s » (a class already null stays as it is: there is nothing to hide)."""
    if not ids:
        return profile
    out = profile.copy()
    target = out["building_id"].astype(str).isin(ids).to_numpy()
    columns = [c for c in out.columns if c in CLASS_COLUMNS or c.startswith("gi_bin_")]
    for col in columns:
        if col.endswith("_flag"):
            continue
        drop = target & out[col].notna().to_numpy()
        if not drop.any():
            continue
        out[col] = out[col].where(~drop)
        if col == "gi_label":  # the class in words, hidden with gi_bin (no flag of its own)
            continue
        flag = out[f"{col}_flag"] if f"{col}_flag" in out else pd.Series("", index=out.index)
        out[f"{col}_flag"] = np.where(drop, FLAG, flag.fillna("").astype(str))
    return out
