"""A reader's attack on the published hotspot zones, for the tests of issue 16: which
buildings of hidden class a zone's list of buildings says are hot, through the rule that
makes the zones (hot buildings linked footprint to footprint within ``gap_m``). Written
apart from :mod:`pipelines.publish.detached` on purpose: it reads only the published
zones and building profile."""

from __future__ import annotations

import geopandas as gpd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pipelines.crs import LAMBERT93
from pipelines.io import list_cell
from pipelines.publish.cells import FLAG


def linked(members: list[str], nodes: list[str], near: dict[str, set[str]]) -> bool:
    """Whether ``members`` are linked to one another through ``nodes`` (footprints
    within the zones' gap: ``near``)."""
    if not set(members) <= set(nodes):
        return False
    at = {b: k for k, b in enumerate(nodes)}
    pairs = [(at[a], at[b]) for a in nodes for b in near.get(a, ()) if b in at]
    rows, cols = zip(*pairs, strict=True) if pairs else ((), ())
    graph = coo_matrix(([1] * len(pairs), (rows, cols)), shape=(len(nodes), len(nodes)))
    labels = connected_components(graph, directed=False)[1]
    return len({labels[at[b]] for b in members}) == 1


def surely_hot(
    zones: gpd.GeoDataFrame, profile: gpd.GeoDataFrame, *, gap_m: float
) -> dict[str, list[str]]:
    """A reader's attack on the published zones: the buildings of hidden class that must
    be in a zone, per zone.

    A zone is a group of hot buildings linked footprint to footprint within ``gap_m``
    (the method note says so). Where the buildings a zone lists are not linked among
    themselves, buildings it does not list link them, and those are hot; a building of
    hidden class that every such link must go through (the listed buildings no longer
    linked without it, through the other buildings of hidden class not touching another
    zone) is then surely hot.
    """
    p = profile.to_crs(LAMBERT93).assign(building_id=lambda t: t["building_id"].astype(str))
    ids = p["building_id"].to_numpy()
    hidden = set(p.loc[p["gi_bin_flag"].fillna("").astype(str) == FLAG, "building_id"])
    tree = shapely.STRtree(p.geometry.to_numpy())
    left, right = tree.query(p.geometry.to_numpy(), predicate="dwithin", distance=gap_m)
    near: dict[str, set[str]] = {}
    for i, j in zip(left, right, strict=True):
        if i != j:
            near.setdefault(ids[i], set()).add(ids[j])
    listed = {
        str(z): list_cell(b) for z, b in zip(zones["zone_id"], zones["building_ids"], strict=True)
    }
    zone_of = {b: z for z, members in listed.items() for b in members}
    out: dict[str, list[str]] = {}
    for zone, members in listed.items():
        if linked(members, members, near):
            continue
        nodes, frontier = set(members), list(members)
        while frontier:
            for n in near.get(frontier.pop(), ()):
                free = n in hidden and all(zone_of.get(m, zone) == zone for m in near.get(n, ()))
                if n not in nodes and free:
                    nodes.add(n)
                    frontier.append(n)
        order = sorted(nodes)
        surely = [
            b
            for b in order
            if b not in members and not linked(members, [c for c in order if c != b], near)
        ]
        if surely:
            out[zone] = surely
    return out
