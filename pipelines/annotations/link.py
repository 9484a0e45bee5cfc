"""Linking the planners' notes to what they are about (:func:`link_annotations`): each
note to the buildings it touches and the zones they belong to, a note on a zone to the
zones it became after a refresh (its lineage), and a note drawn far from the site
flagged rather than linked. Pure: :mod:`pipelines.annotations.stage` reads and writes.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipelines.annotations.model import (
    NEAR_BUILDING_M,
)
from pipelines.crs import WGS84, metric_crs_of
from pipelines.io import (
    list_cell,
)
from pipelines.zones import zone_descendants, zone_sort_key


# --------------------------------------------------------------------------- links
def _zone_lineage(zones: pd.DataFrame) -> dict[str, list[str]]:

    if "ancestor_zone_ids" not in zones:
        empty: list[list[str]] = [[] for _ in range(len(zones))]
        zones = zones.assign(ancestor_zone_ids=pd.Series(empty, index=zones.index, dtype=object))
    return zone_descendants(zones)


def zone_note_text(zone_id: str, descendants: Sequence[str], statuses: dict[str, str]) -> str:
    """What became of the zone a note was written on, in French."""
    if not descendants:
        return f"zone {zone_id} disparue (ses bâtiments ne sont plus des points chauds)"
    if list(descendants) == [zone_id]:
        if statuses.get(zone_id) == "fusionnée":
            return f"zone {zone_id} (agrandie par fusion)"
        return f"zone {zone_id}"
    parts = " et ".join(descendants) if len(descendants) <= 3 else ", ".join(descendants)
    if zone_id in descendants:
        return f"zone {zone_id} scindée en {parts}"
    if len(descendants) == 1:
        return f"zone {zone_id} fusionnée dans {descendants[0]}"
    return f"zone {zone_id} devenue {parts}"


def link_annotations(
    notes: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame | None = None,
    *,
    near_m: float = NEAR_BUILDING_M,
) -> gpd.GeoDataFrame:
    """Link each note to the buildings and hotspot zones it touches.

    Parameters
    ----------
    notes
        Notes (EPSG:4326 or any CRS) with :data:`NOTE_FIELDS` and a geometry that may be
        missing (a CSV row keyed by building or zone).
    buildings
        Current OSM footprints with ``building_id`` (any CRS).
    zones
        Current zones of :mod:`pipelines.zones.stage` (``zone_id``, ``building_ids``,
        ``ancestor_zone_ids``, ``status``), or ``None``.
    near_m
        A point outside every building is linked to the nearest one within this many
        metres (computed in the site's metric CRS).

    Returns
    -------
    GeoDataFrame
        ``notes`` aligned on its index, EPSG:4326, with a geometry for every note that can
        be placed (a keyed note gets its building's or zone's representative point) and
        :data:`LINK_COLUMNS` (but ``in_folder``, kept when present): ``building_ids`` and
        ``zone_ids`` (lists), ``zone_note`` (French, what became of the zone the note was
        written on), ``is_orphaned`` and ``orphan_reason`` (its building left OSM, or it
        cannot be placed), ``geometry_source`` (``dessin``, ``bâtiment``, ``zone``).
    """
    out = notes.to_crs(WGS84) if notes.crs is not None else notes.set_crs(WGS84)
    out = out.copy()
    metric = metric_crs_of(buildings)
    b = buildings[["building_id", "geometry"]].to_crs(metric).reset_index(drop=True)
    b["building_id"] = b["building_id"].astype(str)
    b_ids = b["building_id"].to_numpy(dtype=object)
    b_geoms = b.geometry.to_numpy()
    b_index = {bid: i for i, bid in enumerate(b_ids)}
    z = None
    lineage: dict[str, list[str]] = {}
    zone_status: dict[str, str] = {}
    zones_of_building: dict[str, list[str]] = {}
    if zones is not None and len(zones):
        z = zones.to_crs(metric).reset_index(drop=True)
        z["zone_id"] = z["zone_id"].astype(str)
        lineage = _zone_lineage(z)
        zone_status = dict(
            zip(
                z["zone_id"], z.get("status", pd.Series("", index=z.index)).astype(str), strict=True
            )
        )
        if "building_ids" in z:
            for zid, ids in zip(z["zone_id"], z["building_ids"], strict=True):
                for bid in dict.fromkeys(list_cell(ids)):
                    zones_of_building.setdefault(bid, []).append(zid)
    z_index = {zid: i for i, zid in enumerate(z["zone_id"])} if z is not None else {}

    # Every note is handled by array operations or one dictionary look-up; the spatial
    # queries run once over all notes (a Python query per note took minutes at 200,000).
    n = len(out)
    note_bids = out["building_id"].to_numpy(dtype=object)
    note_zids = out["zone_id"].to_numpy(dtype=object)
    geoms = np.asarray(out.geometry.to_crs(metric).to_numpy(), dtype=object)
    drawn = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    geoms[~drawn] = None
    sources = np.array(["dessin" if d else None for d in drawn.tolist()], dtype=object)
    for k in np.flatnonzero(~drawn).tolist():
        bid, zid = note_bids[k], note_zids[k]
        if isinstance(bid, str) and bid in b_index:
            geoms[k] = b_geoms[b_index[bid]].representative_point()
            sources[k] = "bâtiment"
        elif isinstance(zid, str) and lineage.get(zid) and z is not None:
            geoms[k] = z.geometry.iloc[z_index[lineage[zid][0]]].representative_point()
            sources[k] = "zone"
    placed = gpd.GeoSeries(geoms, crs=metric)
    has_place = ~shapely.is_missing(geoms)

    tree = shapely.STRtree(b_geoms)
    hit_note, hit_building = tree.query(geoms, predicate="intersects")
    lonely = np.flatnonzero(
        has_place
        & ~np.isin(np.arange(n), hit_note)
        & np.isin(shapely.get_type_id(geoms), (0, 4))  # Point, MultiPoint
    )
    if len(lonely):
        near_note, near_building = tree.query_nearest(
            geoms[lonely], max_distance=near_m, all_matches=False
        )
        hit_note = np.concatenate([hit_note, lonely[near_note]])
        hit_building = np.concatenate([hit_building, near_building])
    hits: list[list[int]] = [[] for _ in range(n)]
    for k, j in sorted(zip(hit_note.tolist(), hit_building.tolist(), strict=True)):
        if not hits[k] or hits[k][-1] != j:
            hits[k].append(j)
    building_ids: list[list[str]] = []
    for bid, found_idx in zip(note_bids, hits, strict=True):
        found = [bid] if isinstance(bid, str) and bid in b_index else []
        found += [b_ids[i] for i in found_idx]
        building_ids.append(list(dict.fromkeys(found)))

    zone_hits: list[list[str]] = [[] for _ in range(n)]
    if z is not None:
        zk, zj = z.sindex.query(geoms, predicate="intersects")
        z_ids = z["zone_id"].to_numpy(dtype=object)
        for k, j in zip(zk.tolist(), zj.tolist(), strict=True):
            zone_hits[k].append(z_ids[j])
    zone_ids: list[list[str]] = []
    zone_notes: list[str | None] = []
    for k, (zid, bids) in enumerate(zip(note_zids, building_ids, strict=True)):
        found = []
        note_text = None
        if isinstance(zid, str):
            descendants = lineage.get(zid, [])
            found += descendants
            note_text = zone_note_text(zid, descendants, zone_status)
        found += zone_hits[k]
        for bid in bids:
            found += zones_of_building.get(bid, [])
        zone_ids.append(sorted(dict.fromkeys(found), key=_zone_key))
        zone_notes.append(note_text)

    away = _away_from_site(out.geometry.to_numpy(), drawn, buildings)
    orphaned, reasons = [], []
    for k, (placed_ok, bid, zid) in enumerate(
        zip(has_place.tolist(), note_bids, note_zids, strict=True)
    ):
        reason = None
        if away[k]:
            reason = away[k]
        elif isinstance(bid, str) and bid not in b_index:
            reason = f"bâtiment {bid} absent des bâtiments OSM actuels"
            if not placed_ok:
                reason += " ; note sans position"
            else:
                reason += " ; note affichée là où elle a été dessinée"
        elif not placed_ok:
            reason = "note sans position" + (
                f" : zone {zid} inconnue ou disparue" if isinstance(zid, str) else ""
            )
        orphaned.append(reason is not None)
        reasons.append(reason)

    # A drawn geometry is kept as read (not sent to the metric CRS and back), so that a
    # note's version compares equal from one run to the next.
    wgs = np.asarray(placed.to_crs(WGS84).to_numpy(), dtype=object)
    wgs[drawn] = np.asarray(out.geometry.to_numpy(), dtype=object)[drawn]
    out["geometry"] = wgs
    out["building_ids"] = pd.Series(building_ids, index=out.index, dtype=object)
    out["zone_ids"] = pd.Series(zone_ids, index=out.index, dtype=object)
    out["zone_note"] = pd.array(zone_notes, dtype="string")
    out["is_orphaned"] = np.array(orphaned, dtype=bool)
    out["orphan_reason"] = pd.array(reasons, dtype="string")
    out["geometry_source"] = pd.array(list(sources), dtype="string")
    return gpd.GeoDataFrame(out, geometry="geometry", crs=WGS84)


#: How far past its buildings' extent (degrees, about 10 km) a note is still on the site.
SITE_MARGIN_DEG = 0.1


def _away_from_site(
    geoms: np.ndarray, drawn: np.ndarray, buildings: gpd.GeoDataFrame
) -> list[str | None]:
    """Per note (WGS84 ``geoms``), why a drawn one lies away from the site (past its
    buildings' extent by :data:`SITE_MARGIN_DEG`), else None: a table's latitude and
    longitude swapped (48,91 ; 2,49 read as 2,49 ; 48,91) put a note off the map."""
    out: list[str | None] = [None] * len(geoms)
    bounds = buildings.to_crs(WGS84).total_bounds if len(buildings) else None
    if bounds is None or not np.isfinite(bounds).all() or not drawn.any():
        return out
    site = shapely.box(*bounds).buffer(SITE_MARGIN_DEG)
    idx = np.flatnonzero(drawn)
    on_site = shapely.intersects(geoms[idx], site)
    swapped = shapely.intersects(shapely.transform(geoms[idx], lambda c: c[:, ::-1]), site)
    for k, on, sw in zip(idx.tolist(), on_site.tolist(), swapped.tolist(), strict=True):
        if not on:
            out[k] = "note dessinée hors du site, loin de ses bâtiments" + (
                " : latitude et longitude inversées ? Corrigez ses coordonnées"
                if sw
                else " : vérifiez ses coordonnées (degrés WGS84, latitude puis longitude)"
            )
    return out


def _zone_key(zone_id: str) -> tuple[int, str]:

    return zone_sort_key(zone_id)
