"""Private: the OSM address reader of :mod:`pipelines.geocode.address_index`.

House numbers of an ``.osm`` extract with their street, from ``addr:*`` tags and from
``type=associatedStreet`` relations; also the columns and source ranking of the address
table shared with the BAN reader (:mod:`pipelines.geocode.ban`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from pipelines.crs import WGS84, metric_crs_of
from pipelines.geocode.addresses import (
    normalise_key,
    normalise_street,
    parse_housenumber,
    suffix_key,
)
from pipelines.osm import Incomplete, OsmElements, read_osm_elements

log = logging.getLogger(__name__)

#: Columns of the address index, before linking (:func:`read_osm_addresses`,
#: :func:`read_ban`).
ADDRESS_COLUMNS = [
    "address_id",
    "source",
    "housenumber_raw",
    "number",
    "suffix",
    "suffix_key",
    "street_raw",
    "street",
    "street_key",
    "street_alt_keys",
    "postcode",
    "city",
    "is_entrance",
    "entrance_ref",
    "geometry",
]

#: Preferred source when several index points share one address (first is best):
#: an entrance is where people go in; a building's own tag names that building; an
#: address node (only ``addr:*`` tags, street on the node or from its relation) is the
#: address itself. The BAN point comes next: the national register places it on the
#: entrance, the building or the parcel. Last come the addresses of other objects: a
#: shop, bank or office node (``osm_poi``) is placed where a contributor put the
#: business, often in the neighbouring footprint of a shared ground floor, and a
#: non-building area (``osm_area``: the grounds of a school, a crèche) is reduced to
#: the middle of a site, tens of metres from its door. In Bondy the crèche area tagged
#: "22 Rue Lucie Aubrac" sent that address 35 m from the BAN point, onto the crèche
#: instead of the housing block the BAN puts it on; in Paris a bank node tagged
#: "100 Rue La Fayette" overrode the address node in the next footprint.
SOURCE_RANK = {
    "osm_entrance": 0,
    "osm_building": 1,
    "osm_node": 2,
    "osm_associated_street": 3,
    "ban": 4,
    "osm_poi": 5,
    "osm_area": 6,
}

# Keys that make a node a feature of its own (a point of interest) rather than an
# address point; an address point carries only addr:*, source, note, entrance, ref...
_POI_KEYS = frozenset(
    {
        "amenity",
        "shop",
        "craft",
        "office",
        "tourism",
        "leisure",
        "healthcare",
        "club",
        "emergency",
        "historic",
        "public_transport",
        "railway",
        "man_made",
        "sport",
        "name",
        "brand",
        "operator",
    }
)

# Tags of an associatedStreet relation that name the street too (old names are common
# in French OSM after a renaming, and reports keep using them).
_ALIAS_TAGS = ("old_name", "alt_name", "official_name", "short_name", "loc_name", "name:fr")


# --------------------------------------------------------------------------------------
# Reading OSM
# --------------------------------------------------------------------------------------


def read_osm_addresses(osm_path: str | Path) -> gpd.GeoDataFrame:
    """Read every house number of an OSM extract, with its street.

    The extract is read by :func:`pipelines.osm.reader.read_osm_elements` (one pass,
    ``.osm``, ``.osm.bz2`` or ``.osm.pbf``), which keeps relation membership: French OSM
    often gives a house number its street only through a ``type=associatedStreet``
    relation (role ``house`` members, street in the relation's ``name``).

    Parameters
    ----------
    osm_path
        ``.osm``, ``.osm.bz2`` or ``.osm.pbf`` file.

    Returns
    -------
    GeoDataFrame
        EPSG:4326 points, columns :data:`ADDRESS_COLUMNS`. ``source`` is ``osm_poi``
        for a node that is a feature of its own (shop, amenity, office, named…: keys
        ``_POI_KEYS``), else ``osm_associated_street`` when the street comes from a
        relation, else ``osm_entrance`` (a node tagged ``entrance``), ``osm_node``,
        ``osm_building`` (centroid of a building way/relation) or ``osm_area`` (another
        tagged area).
        ``address_id`` is the OSM id (``node/123``), with ``#2``… when one element
        carries several numbers (``"1-3"``). House numbers with no street at all are
        dropped and counted in the log. A way or relation left incomplete by a clipped
        extract has no geometry: its numbers are dropped too, counted by kind in
        ``attrs["osm_incomplete"]`` and named in the log.
    """
    elements = read_osm_elements(osm_path)
    path = elements.path
    incomplete = Incomplete()
    streets_of: dict[tuple[str, int], list[tuple[str, list[str]]]] = defaultdict(list)
    tagged: list[tuple[str, int, dict[str, str]]] = [
        ("node", nid, tags) for nid, tags in elements.node_tags.items()
    ]
    tagged += [("way", wid, tags) for wid, (_refs, tags) in elements.ways.items()]
    for rid, (members, tags) in elements.relations.items():
        tagged.append(("relation", rid, tags))
        if tags.get("type") == "associatedStreet" and tags.get("name"):
            aliases = [tags[k] for k in _ALIAS_TAGS if tags.get(k)]
            if any(not _present(elements, mtype, ref) for mtype, ref, _role in members):
                incomplete.add("relations_missing_members", f"relation/{rid}")
            for mtype, ref, role in members:
                if role == "house":
                    streets_of[(mtype, ref)].append((tags["name"], aliases))
    # file order of the XML reader: nodes, ways, relations, each by id
    tagged = [t for t in tagged if "addr:housenumber" in t[2]]
    order = {"node": 0, "way": 1, "relation": 2}
    tagged.sort(key=lambda t: (order[t[0]], t[1]))

    rows: list[dict[str, Any]] = []
    geoms: list[shapely.Geometry | None] = []
    dropped = 0
    for kind, osm_id, tags in tagged:
        own_street = tags.get("addr:street") or tags.get("addr:place")
        relations = streets_of.get((kind, osm_id), [])
        candidates: list[tuple[str, list[str], bool]] = []
        if own_street:
            alt = [name for rel_name, al in relations for name in (rel_name, *al)]
            candidates.append((own_street, alt, False))
        else:
            candidates.extend((name, aliases, True) for name, aliases in relations)
        if not candidates:
            dropped += 1
            continue
        geom = _element_geometry(kind, osm_id, elements, incomplete)
        if geom is None:
            dropped += 1
            continue
        is_entrance = kind == "node" and "entrance" in tags
        if kind == "node":
            if is_entrance:
                base = "osm_entrance"
            elif _POI_KEYS.intersection(tags):
                base = "osm_poi"
            else:
                base = "osm_node"
        else:
            # « building=no »: an outline that is no building (not one of the buildings).
            building = tags.get("building", "no").strip().lower() != "no"
            base = "osm_building" if building else "osm_area"
        numbers, suffix = parse_housenumber(tags["addr:housenumber"])
        if not numbers:
            dropped += 1
            continue
        for street_raw, alt_names, from_relation in candidates:
            street, key = normalise_street(street_raw)
            alt_keys = sorted({k for n in alt_names if (k := normalise_street(n)[1]) and k != key})
            for i, number in enumerate(numbers):
                rows.append(
                    {
                        "address_id": f"{kind}/{osm_id}" + (f"#{i + 1}" if i else ""),
                        # A point of interest stays one when its street comes from
                        # a relation: it is still placed where the business is.
                        "source": "osm_associated_street"
                        if from_relation and base != "osm_poi"
                        else base,
                        "housenumber_raw": tags["addr:housenumber"],
                        "number": number,
                        "suffix": suffix if i == 0 else None,
                        "street_raw": street_raw,
                        "street": street,
                        "street_key": key,
                        "street_alt_keys": "|".join(alt_keys) or None,
                        "postcode": tags.get("addr:postcode"),
                        "city": normalise_key(tags.get("addr:city")),
                        "is_entrance": is_entrance,
                        "entrance_ref": tags.get("ref") or tags.get("addr:unit"),
                    }
                )
                geoms.append(geom)
    if dropped:
        log.info("%s: %d house numbers without a street or a geometry dropped", path, dropped)
    incomplete.log_to(log, path, "adresses")
    frame = pd.DataFrame(rows, columns=[c for c in ADDRESS_COLUMNS if c != "geometry"])
    out = _finish_address_frame(frame, geoms)
    # Building centroids: computed in a metric CRS, then back to WGS84.
    areas = ~out.geometry.geom_type.eq("Point")
    if areas.any():
        metric = metric_crs_of(out)
        out.loc[areas, "geometry"] = (
            out.geometry[areas].to_crs(metric).representative_point().to_crs(WGS84)
        )
    out.attrs["osm_incomplete"] = incomplete.summary()
    log.info("%s: %d address points", path, len(out))
    return out


def _present(elements: OsmElements, mtype: str, ref: int) -> bool:
    """Whether a relation member is in the extract."""
    if mtype == "node":
        return ref in elements.nodes
    if mtype == "way":
        return ref in elements.ways
    return ref in elements.relations


def _element_geometry(
    kind: str, osm_id: int, elements: OsmElements, incomplete: Incomplete
) -> shapely.Geometry | None:
    """Point of a node, polygon (or line) of a way, union of a relation's outer ways.

    A way with a node missing, or a relation with an outer way missing or incomplete,
    has no geometry: counted in ``incomplete`` (a clipped extract).
    """
    if kind == "node":
        xy = elements.nodes.get(osm_id)
        return shapely.Point(xy) if xy else None
    if kind == "way":
        geom = _way_geometry(elements.ways[osm_id][0], elements.nodes)
        if geom is None:
            incomplete.add("ways_missing_nodes_dropped", f"way/{osm_id}")
        return geom
    parts = []
    for mtype, ref, role in elements.relations[osm_id][0]:
        if mtype != "way" or role not in ("outer", ""):
            continue
        part = _way_geometry(elements.ways.get(ref, ([], {}))[0], elements.nodes)
        if part is None:
            incomplete.add("relations_missing_outer_dropped", f"relation/{osm_id}")
            return None
        parts.append(part)
    if not parts:
        return None
    return shapely.union_all(parts)


def _way_geometry(
    refs: list[int], coords: dict[int, tuple[float, float]]
) -> shapely.Geometry | None:
    """A way's polygon (closed), line or point; ``None`` when a node is missing."""
    if not refs or any(r not in coords for r in refs):
        return None
    pts = [coords[r] for r in refs]
    if len(pts) >= 4 and refs[0] == refs[-1]:
        poly = shapely.Polygon(pts)
        return poly if poly.is_valid else poly.buffer(0)
    if len(pts) == 1:
        return shapely.Point(pts[0])
    return shapely.LineString(pts)


def _finish_address_frame(
    frame: pd.DataFrame, geoms: list[shapely.Geometry | None] | gpd.array.GeometryArray
) -> gpd.GeoDataFrame:
    """Types and ``suffix_key`` of an address table (columns :data:`ADDRESS_COLUMNS`)."""
    frame = frame.copy()
    frame["number"] = frame["number"].astype("Int64")
    frame["suffix_key"] = [suffix_key(s) for s in frame["suffix"]]
    for column in ADDRESS_COLUMNS:
        if column in ("number", "is_entrance", "geometry"):
            continue
        frame[column] = frame[column].astype("string")
    frame["is_entrance"] = frame["is_entrance"].astype(bool)
    out = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(list(geoms), crs=WGS84).values, crs=WGS84)
    return out[ADDRESS_COLUMNS]
