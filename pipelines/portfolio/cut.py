"""The portfolio's extract cut per site, a few sites per pass over it (pyosmium).

Each site's extract keeps the ways with a node in the perimeter's bounding box widened
by a margin, the tagged nodes in that box and the relations with a kept member, and is
completed with everything they reference (pyosmium's ``BackReferenceWriter``), so that
each way of a site's file has all its nodes: a building on the box's edge stays whole.

The sites are cut a few at a time (:data:`SITES_PER_PASS`), one pass over the extract
each: a site's writer tracks the nodes its ways reference in dense id sets (pyosmium's
``IdTracker``), whose size follows the spread of the extract's node ids, not the
site's size (about 700 MB per site on the Bondy extract), so that cutting hundreds of
sites at once would hold hundreds of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import osmium

from pipelines.config import Perimeter
from pipelines.errors import InputError

#: Sites cut in one pass over the extract (see the module).
SITES_PER_PASS = 4

#: Metres per degree of latitude.
_M_PER_DEG = 111_320.0


def widened(bbox: tuple[float, float, float, float], margin_m: float) -> tuple[float, ...]:
    """``bbox`` (west, south, east, north, degrees) widened by ``margin_m`` metres."""
    west, south, east, north = bbox
    dlat = margin_m / _M_PER_DEG
    dlon = margin_m / (_M_PER_DEG * max(math.cos(math.radians((south + north) / 2)), 0.01))
    return west - dlon, south - dlat, east + dlon, north + dlat


def cut_extract(
    src: str | Path,
    sites: Sequence[Perimeter],
    dsts: Sequence[Path],
    *,
    margin_m: float,
    sites_per_pass: int = SITES_PER_PASS,
) -> dict[str, int]:
    """Write each site's part of ``src`` to its path in ``dsts``, ``sites_per_pass``
    sites per pass over ``src``.

    Returns the number of ways kept per site.

    Raises
    ------
    InputError
        ``src`` cannot be read by osmium.
    """
    kept: dict[str, int] = {}
    for start in range(0, len(sites), sites_per_pass):
        end = start + sites_per_pass
        kept |= _cut_pass(src, sites[start:end], dsts[start:end], margin_m=margin_m)
    return kept


def _cut_pass(
    src: str | Path, sites: Sequence[Perimeter], dsts: Sequence[Path], *, margin_m: float
) -> dict[str, int]:
    """:func:`cut_extract` for ``sites``, in one pass over ``src``."""
    boxes = [widened(p.bbox, margin_m) for p in sites]
    for dst in dsts:
        dst.parent.mkdir(parents=True, exist_ok=True)
    writers = [
        osmium.BackReferenceWriter(str(dst), ref_src=str(src), overwrite=True) for dst in dsts
    ]
    kept_ways: list[set[int]] = [set() for _ in sites]

    def inside(lon: float, lat: float) -> list[int]:
        return [i for i, (w, s, e, n) in enumerate(boxes) if w <= lon <= e and s <= lat <= n]

    try:
        for obj in osmium.FileProcessor(str(src)).with_locations():
            if isinstance(obj, osmium.osm.Node):
                if len(obj.tags) and obj.location.valid():
                    for i in inside(obj.location.lon, obj.location.lat):
                        writers[i].add_node(obj)
            elif isinstance(obj, osmium.osm.Way):
                hit: set[int] = set()
                for node in obj.nodes:
                    if node.location.valid():
                        hit.update(inside(node.location.lon, node.location.lat))
                for i in hit:
                    writers[i].add_way(obj)
                    kept_ways[i].add(obj.id)
            elif isinstance(obj, osmium.osm.Relation):
                ways = {m.ref for m in obj.members if m.type == "w"}
                for i, kept in enumerate(kept_ways):
                    if ways & kept:
                        writers[i].add_relation(obj)
    except (RuntimeError, ValueError) as err:  # osmium's reader errors
        raise InputError(src, f"lecture OSM impossible ({err})") from err
    finally:
        for writer in writers:
            writer.close()
    return {p.id: len(k) for p, k in zip(sites, kept_ways, strict=True)}
