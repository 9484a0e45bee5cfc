"""An offline address index (OSM + BAN) linked to building footprints, and a matcher.

The index holds one row per known house number: OSM ``addr:*`` tags on buildings, nodes
and entrances, OSM house numbers whose street comes from a ``type=associatedStreet``
relation, and Base Adresse Nationale (BAN) points. :func:`build_address_index` links
each point to the footprint that contains it, else the nearest within a tolerance.

:func:`match_addresses` then places parsed addresses (:func:`pipelines.addresses
.parse_addresses`) on buildings, in this order:

1. ``gazetteer``: an analyst-maintained table of landlord building codes ("NC-B") and
   residence names ("Rés. du Breuil bât C") → ``building_id``;
2. ``address_exact``: same street key, number and suffix;
3. ``address_interpolated``: same street, same side (parity), between the two nearest
   known numbers (or at the nearest one), scored lower the further the numbers are;
4. ``address_fuzzy``: the street name matched approximately (rapidfuzz), then 2./3.;
5. ``ban``: the online BAN geocoder, only when a :class:`BanClient` is passed;
6. ``unmatched``: kept, never dropped.

Street names in the index are matched on :func:`pipelines.addresses.street_key`; the
OSM ``old_name``/``alt_name`` of an associatedStreet relation and the BAN ``alias`` are
aliases ("Rue de Bellefond" is the old name of "Rue Marie-Éléonore de Bellefond"). The
postcode is not part of the key: one index covers one site, where street names are
unique.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import requests
import shapely
from rapidfuzz import fuzz, process

from pipelines.addresses import (
    normalise_key,
    normalise_street,
    parse_addresses,
    parse_housenumber,
    repair_mojibake,
    suffix_key,
)
from pipelines.crs import WGS84, metric_crs_of, to_metric
from pipelines.errors import InputError, VigieError

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

MATCH_COLUMNS = [
    "building_id",
    "geocode_method",
    "geocode_score",
    "geocode_distance_m",
    "match_lon",
    "match_lat",
    "match_address_id",
    "match_street",
    "address_normalised",
    "building",
    "entrance",
    "staircase",
]

# Tags of an associatedStreet relation that name the street too (old names are common
# in French OSM after a renaming, and reports keep using them).
_ALIAS_TAGS = ("old_name", "alt_name", "official_name", "short_name", "loc_name", "name:fr")


# --------------------------------------------------------------------------------------
# Reading OSM
# --------------------------------------------------------------------------------------


def read_osm_addresses(osm_path: str | Path) -> gpd.GeoDataFrame:
    """Read every house number of an OSM XML extract, with its street.

    The XML is parsed here with :func:`xml.etree.ElementTree.iterparse` rather than with
    osmnx: ``osmnx.features_from_xml`` drops relation membership, and French OSM often
    gives a house number its street only through a ``type=associatedStreet`` relation
    (role ``house`` members, street in the relation's ``name``).

    Parameters
    ----------
    osm_path
        ``.osm`` XML file.

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
        dropped and counted in the log.
    """
    path = Path(osm_path)
    if not path.exists():
        raise InputError(path, "fichier OSM introuvable.")
    coords: dict[int, tuple[float, float]] = {}
    way_refs: dict[int, list[int]] = {}
    tagged: list[tuple[str, int, dict[str, str]]] = []
    relation_members: dict[int, list[tuple[str, int, str]]] = {}
    streets_of: dict[tuple[str, int], list[tuple[str, list[str]]]] = defaultdict(list)
    try:
        for _event, elem in ET.iterparse(path, events=("end",)):
            tag = elem.tag
            if tag not in ("node", "way", "relation"):
                continue
            osm_id = int(elem.attrib["id"])
            tags = {t.attrib["k"]: t.attrib["v"] for t in elem.iter("tag")}
            if tag == "node":
                coords[osm_id] = (float(elem.attrib["lon"]), float(elem.attrib["lat"]))
            elif tag == "way":
                way_refs[osm_id] = [int(nd.attrib["ref"]) for nd in elem.iter("nd")]
            else:
                members = [
                    (m.attrib["type"], int(m.attrib["ref"]), m.attrib.get("role", ""))
                    for m in elem.iter("member")
                ]
                relation_members[osm_id] = members
                if tags.get("type") == "associatedStreet" and tags.get("name"):
                    aliases = [tags[k] for k in _ALIAS_TAGS if tags.get(k)]
                    for mtype, ref, role in members:
                        if role == "house":
                            streets_of[(mtype, ref)].append((tags["name"], aliases))
            if "addr:housenumber" in tags:
                tagged.append((tag, osm_id, tags))
            elem.clear()
    except ET.ParseError as err:
        raise InputError(path, f"XML OSM invalide ({err})") from err

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
        geom = _element_geometry(kind, osm_id, coords, way_refs, relation_members)
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
            base = "osm_building" if "building" in tags else "osm_area"
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
    frame = pd.DataFrame(rows, columns=[c for c in ADDRESS_COLUMNS if c != "geometry"])
    out = _finish_address_frame(frame, geoms)
    # Building centroids: computed in a metric CRS, then back to WGS84.
    areas = ~out.geometry.geom_type.eq("Point")
    if areas.any():
        metric = metric_crs_of(out)
        out.loc[areas, "geometry"] = (
            out.geometry[areas].to_crs(metric).representative_point().to_crs(WGS84)
        )
    log.info("%s: %d address points", path, len(out))
    return out


def _element_geometry(
    kind: str,
    osm_id: int,
    coords: dict[int, tuple[float, float]],
    way_refs: dict[int, list[int]],
    relation_members: dict[int, list[tuple[str, int, str]]],
) -> shapely.Geometry | None:
    """Point of a node, polygon (or line) of a way, union of a relation's outer ways."""
    if kind == "node":
        xy = coords.get(osm_id)
        return shapely.Point(xy) if xy else None
    if kind == "way":
        return _way_geometry(way_refs.get(osm_id, []), coords)
    parts = [
        _way_geometry(way_refs.get(ref, []), coords)
        for mtype, ref, role in relation_members.get(osm_id, [])
        if mtype == "way" and role in ("outer", "")
    ]
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    return shapely.union_all(parts)


def _way_geometry(
    refs: list[int], coords: dict[int, tuple[float, float]]
) -> shapely.Geometry | None:
    pts = [coords[r] for r in refs if r in coords]
    if not pts:
        return None
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


# --------------------------------------------------------------------------------------
# Reading the BAN
# --------------------------------------------------------------------------------------

_BAN_REQUIRED = ("numero", "rep", "nom_voie", "code_postal", "lon", "lat")


def read_ban(path: str | Path) -> gpd.GeoDataFrame:
    """Read a Base Adresse Nationale CSV extract (comma-separated, quoted, ``NA``).

    Parameters
    ----------
    path
        CSV with at least ``numero``, ``rep``, ``nom_voie``, ``code_postal``, ``lon``,
        ``lat`` (WGS84 degrees); ``id``, ``nom_commune``, ``alias`` and ``nom_afnor`` are
        used when present.

    Returns
    -------
    GeoDataFrame
        EPSG:4326 points, columns :data:`ADDRESS_COLUMNS`, ``source`` = ``ban``. Rows
        without a position or a number are dropped and counted in the log.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "fichier BAN introuvable.")
    try:
        raw = pd.read_csv(
            path, dtype=str, na_values=["NA", ""], keep_default_na=False, encoding="utf-8"
        )
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise InputError(path, f"CSV BAN illisible ({err})") from err
    for column in _BAN_REQUIRED:
        if column not in raw.columns:
            raise InputError(
                path, "colonne manquante : attendu un extrait BAN (format « csv »).", column=column
            )
    lon = pd.to_numeric(raw["lon"], errors="coerce")
    lat = pd.to_numeric(raw["lat"], errors="coerce")
    number = pd.to_numeric(raw["numero"], errors="coerce")
    keep = lon.notna() & lat.notna() & number.notna() & raw["nom_voie"].notna()
    if (~keep).any():
        log.info("%s: %d BAN rows without position, number or street dropped", path, (~keep).sum())
    raw, lon, lat, number = raw[keep], lon[keep], lat[keep], number[keep]

    # The published Bondy extract has UTF-8 read as Windows-1252 in its names.
    for column in ("nom_voie", "nom_commune", "alias"):
        if column in raw:
            raw[column] = raw[column].map(repair_mojibake, na_action="ignore")
    names = raw["nom_voie"].astype(str)
    unique_names = {n: normalise_street(n) for n in names.unique()}
    alt_columns = [c for c in ("alias", "nom_afnor") if c in raw.columns]

    def alt_keys(row_index: Any) -> str | None:
        own = unique_names[names.at[row_index]][1]
        keys = {
            k
            for c in alt_columns
            if isinstance(v := raw.at[row_index, c], str)
            and (k := normalise_street(v)[1])
            and k != own
        }
        return "|".join(sorted(keys)) or None

    frame = pd.DataFrame(
        {
            "address_id": raw["id"] if "id" in raw else raw.index.astype(str),
            "source": "ban",
            "housenumber_raw": raw["numero"] + raw["rep"].fillna(""),
            "number": number.astype(int),
            "suffix": [
                (s.strip().lower() or None) if isinstance(s, str) else None for s in raw["rep"]
            ],
            "street_raw": names,
            "street": [unique_names[n][0] for n in names],
            "street_key": [unique_names[n][1] for n in names],
            "street_alt_keys": [alt_keys(i) for i in raw.index] if alt_columns else None,
            "postcode": raw["code_postal"].str.zfill(5),
            "city": [normalise_key(c) for c in raw["nom_commune"]]
            if "nom_commune" in raw
            else None,
            "is_entrance": False,
            "entrance_ref": None,
        }
    ).reset_index(drop=True)
    geoms = gpd.points_from_xy(lon.to_numpy(), lat.to_numpy(), crs=WGS84)
    out = _finish_address_frame(frame, geoms)
    log.info("%s: %d BAN addresses", path, len(out))
    return out


# --------------------------------------------------------------------------------------
# Linking points to buildings
# --------------------------------------------------------------------------------------


def link_points_to_buildings(
    points: gpd.GeoSeries,
    buildings: gpd.GeoDataFrame,
    *,
    tolerance_m: float = 25.0,
) -> pd.DataFrame:
    """Link points to the footprint that contains them, else the nearest within a tolerance.

    Computed in the metric CRS of the buildings (Lambert-93 in France) with one
    ``sjoin_nearest``: a point inside a footprint is at distance 0. Where footprints
    overlap (building parts), the smallest containing one wins; exact ties otherwise go
    to the smallest ``building_id``.

    Parameters
    ----------
    points
        Points in any CRS; missing or empty geometries stay unlinked.
    buildings
        Footprints with a ``building_id`` column, any CRS.
    tolerance_m
        Largest distance to a footprint, in metres.

    Returns
    -------
    DataFrame
        Aligned on ``points.index``: ``building_id`` (string, NA when unlinked) and
        ``link_distance_m`` (metres, NaN when unlinked).
    """
    building_id = np.full(len(points), None, dtype=object)
    distance = np.full(len(points), np.nan)
    valid = points.notna() & ~points.is_empty
    if not valid.any() or len(buildings) == 0:
        return _link_frame(points.index, building_id, distance)
    metric = metric_crs_of(buildings)
    blds = to_metric(buildings[["building_id", "geometry"]], metric).reset_index(drop=True)
    blds["_area"] = blds.geometry.area
    pts = gpd.GeoDataFrame(
        {"_row": np.flatnonzero(valid.to_numpy())},
        geometry=to_metric(points[valid], metric).to_numpy(),
        crs=metric,
    )
    joined = gpd.sjoin_nearest(
        pts, blds, how="inner", max_distance=tolerance_m, distance_col="link_distance_m"
    )
    joined = joined.sort_values(["_row", "link_distance_m", "_area", "building_id"])
    joined = joined.drop_duplicates("_row", keep="first")
    rows = joined["_row"].to_numpy(dtype="int64")
    building_id[rows] = joined["building_id"].astype(str).to_numpy(dtype=object)
    distance[rows] = joined["link_distance_m"].to_numpy(dtype=float)
    return _link_frame(points.index, building_id, distance)


def _link_frame(index: pd.Index, building_id: np.ndarray, distance: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "building_id": pd.Series(building_id, index=index, dtype=object).astype("string"),
            "link_distance_m": pd.Series(distance, index=index, dtype=float),
        }
    )


def build_address_index(
    addresses: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    tolerance_m: float = 25.0,
) -> gpd.GeoDataFrame:
    """Link each address point to a building footprint.

    Parameters
    ----------
    addresses
        Output of :func:`read_osm_addresses` and/or :func:`read_ban` (concatenated),
        points in any CRS.
    buildings
        Footprints with ``building_id`` (:func:`pipelines.buildings.read_osm_buildings`).
    tolerance_m
        Largest distance from a point to a footprint, in metres (computed in
        Lambert-93 via :mod:`pipelines.crs`).

    Returns
    -------
    GeoDataFrame
        ``addresses`` (same index, same CRS) plus ``building_id`` (NA when no footprint
        is within the tolerance: such addresses are kept, they still help interpolation)
        and ``link_distance_m`` (0 inside a footprint).
    """
    link = link_points_to_buildings(addresses.geometry, buildings, tolerance_m=tolerance_m)
    out = addresses.drop(columns=["building_id", "link_distance_m"], errors="ignore").copy()
    out["building_id"] = link["building_id"]
    out["link_distance_m"] = link["link_distance_m"]
    linked = out["building_id"].notna().sum()
    log.info("address index: %d of %d points linked to a building", linked, len(out))
    return out


# --------------------------------------------------------------------------------------
# Matching
# --------------------------------------------------------------------------------------


class _Streets:
    """The index prepared for matching: lookup tables keyed on street keys.

    ``exact`` has one row per (street_key, number, suffix_key): where several index
    points share an address, a linked one wins, then :data:`SOURCE_RANK`, then the
    shortest link. ``by_number`` has one row per (street_key, number), a point without
    suffix preferred, with metric ``x``/``y`` for interpolation.
    """

    def __init__(self, index: gpd.GeoDataFrame, metric: str) -> None:
        idx = index[index["street_key"].notna() & index["number"].notna()].copy()
        pts = idx.geometry.to_crs(metric)
        idx["x"] = pts.x.to_numpy()
        idx["y"] = pts.y.to_numpy()
        lonlat = idx.geometry.to_crs(WGS84)
        idx["lon"] = lonlat.x.to_numpy()
        idx["lat"] = lonlat.y.to_numpy()
        idx["street_key"] = idx["street_key"].astype(object)
        idx["number"] = idx["number"].astype("int64")
        idx["suffix_key"] = idx["suffix_key"].fillna("").astype(object)
        idx["_unlinked"] = idx["building_id"].isna() if "building_id" in idx else True
        idx["_rank"] = idx["source"].map(SOURCE_RANK).fillna(len(SOURCE_RANK))
        if "is_entrance" in idx:
            # An entrance whose street comes from a relation is still an entrance.
            entrance = idx["is_entrance"].fillna(False).astype(bool)
            idx.loc[entrance, "_rank"] = SOURCE_RANK["osm_entrance"]
        dist = idx.get("link_distance_m", np.nan)
        idx["_dist"] = pd.Series(dist, index=idx.index, dtype=float).fillna(np.inf)
        if "building_id" not in idx:
            idx["building_id"] = pd.Series(pd.NA, index=idx.index, dtype="string")
        idx = idx.sort_values(["_unlinked", "_rank", "_dist", "address_id"])
        keep = [
            "street_key",
            "number",
            "suffix_key",
            "building_id",
            "link_distance_m" if "link_distance_m" in idx else "_dist",
            "x",
            "y",
            "lon",
            "lat",
            "address_id",
            "street",
        ]
        table = pd.DataFrame(idx[keep]).rename(columns={"_dist": "link_distance_m"})
        self.exact = table.drop_duplicates(["street_key", "number", "suffix_key"])
        by_number = table.assign(_has_suffix=table["suffix_key"] != "")
        by_number = by_number.sort_values("_has_suffix", kind="stable")
        by_number = by_number.drop_duplicates(["street_key", "number"]).drop(columns="_has_suffix")
        by_number["parity"] = by_number["number"] % 2
        self.by_number = by_number.sort_values("number", kind="stable").reset_index(drop=True)
        self.keys = frozenset(table["street_key"])
        aliases: dict[str, set[str]] = defaultdict(set)
        alt = index.loc[index["street_alt_keys"].notna(), ["street_key", "street_alt_keys"]]
        for key, alts in zip(alt["street_key"], alt["street_alt_keys"], strict=True):
            for a in str(alts).split("|"):
                if a and a not in self.keys:
                    aliases[a].add(str(key))
        # An alias shared by two streets is ambiguous: dropped.
        self.alias = {a: next(iter(ks)) for a, ks in aliases.items() if len(ks) == 1}
        self.choices = sorted(self.keys) + sorted(self.alias)

    def resolve(self, key: object) -> str | None:
        if not isinstance(key, str):
            return None
        if key in self.keys:
            return key
        return self.alias.get(key)


def _match_on_streets(
    queries: pd.DataFrame,
    streets: _Streets,
    buildings: gpd.GeoDataFrame,
    metric: str,
    *,
    tolerance_m: float,
    max_number_gap: int,
) -> pd.DataFrame:
    """Exact, then interpolated, matches of queries whose street key is in the index.

    ``queries`` has ``_row`` (position), ``street_key`` (resolved), ``numbers`` (tuple)
    and ``suffix_key``. Returns one row per matched query: ``_row``, ``kind``
    (``exact``/``interpolated``), ``score``, ``building_id``, ``distance_m``, ``lon``,
    ``lat``, ``address_id``, ``street``.
    """
    columns = [
        "_row",
        "kind",
        "score",
        "building_id",
        "distance_m",
        "lon",
        "lat",
        "address_id",
        "street",
    ]
    q = queries[queries["street_key"].notna() & (queries["numbers"].str.len() > 0)]
    if q.empty:
        return pd.DataFrame(columns=columns)
    # (b) exact: every number of "1-3-5", the suffix on the first one; first found wins.
    ex = q[["_row", "street_key", "numbers", "suffix_key"]].explode("numbers")
    ex["_pos"] = ex.groupby("_row").cumcount()
    ex["number"] = ex["numbers"].astype("int64")
    ex["suffix_key"] = ex["suffix_key"].where(ex["_pos"] == 0, "")
    ex["street_key"] = ex["street_key"].astype(object)
    ex["suffix_key"] = ex["suffix_key"].astype(object)
    hits = ex.merge(
        streets.exact,
        on=["street_key", "number", "suffix_key"],
        how="inner",
        validate="m:1",  # one index row per address after de-duplication
    )
    hits = hits.sort_values(["_row", "_pos"]).drop_duplicates("_row")
    exact = pd.DataFrame(
        {
            "_row": hits["_row"].to_numpy(),
            "kind": "exact",
            "score": 1.0,
            "building_id": hits["building_id"].astype("string").to_numpy(),
            "distance_m": hits["link_distance_m"].to_numpy(dtype=float),
            "lon": hits["lon"].to_numpy(),
            "lat": hits["lat"].to_numpy(),
            "address_id": hits["address_id"].to_numpy(),
            "street": hits["street"].to_numpy(),
        }
    )

    # (c) interpolation on the first number, same street, same side (parity).
    rest = q[~q["_row"].isin(exact["_row"])]
    interp = _interpolate(rest, streets, max_number_gap=max_number_gap)
    if not interp.empty:
        points = gpd.GeoSeries(gpd.points_from_xy(interp["x"], interp["y"]), crs=metric)
        link = link_points_to_buildings(points, buildings, tolerance_m=tolerance_m)
        lonlat = points.to_crs(WGS84)
        interp = pd.DataFrame(
            {
                "_row": interp["_row"].to_numpy(),
                "kind": "interpolated",
                "score": interp["score"].to_numpy(),
                "building_id": link["building_id"].to_numpy(),
                "distance_m": link["link_distance_m"].to_numpy(),
                "lon": lonlat.x.to_numpy(),
                "lat": lonlat.y.to_numpy(),
                "address_id": interp["address_id"].to_numpy(),
                "street": interp["street"].to_numpy(),
            }
        )
    parts = [p for p in (exact, interp) if not p.empty]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def _asof(
    left: pd.DataFrame,
    right: pd.DataFrame,
    on: str,
    prefix: str,
    *,
    direction: str,
    allow_exact_matches: bool = True,
) -> pd.DataFrame:
    """Nearest known number on the same street and side: ``merge_asof`` by key and parity.

    Many-to-one by construction (each left row gets at most one right row), which is the
    cardinality a ``validate="m:1"`` merge would check.
    """
    # merge_asof needs identical key dtypes; pandas 3 infers "str" from object arrays.
    left = left.assign(street_key=left["street_key"].astype("string"))
    right = right.assign(street_key=right["street_key"].astype("string"))
    return pd.merge_asof(
        left.sort_values(on, kind="stable"),
        right.add_prefix(prefix),
        left_on=on,
        right_on=f"{prefix}number",
        left_by=["street_key", "parity"],
        right_by=[f"{prefix}street_key", f"{prefix}parity"],
        direction=direction,  # type: ignore[arg-type]
        allow_exact_matches=allow_exact_matches,
    )


def _interpolate(
    q: pd.DataFrame,
    streets: _Streets,
    *,
    max_number_gap: int,
    max_extrapolation_m: float = 30.0,
) -> pd.DataFrame:
    """Place house numbers from the nearest known ones on the same side of the street.

    Between two known numbers (below and above, same parity) the point is interpolated
    linearly. Beyond the last known number it is extrapolated from the two last ones
    (the step between them, at most ``max_extrapolation_m`` metres), or put on the one
    known number when it is alone on its side. Vectorised with ``merge_asof`` by street
    key and parity (:func:`_asof`). The score is a heuristic: 0.9 for the same number
    with another suffix, 0.85 between two known numbers, 0.75 beyond them, minus 0.05 per
    house (two numbers) to the nearest known number, never below 0.3.

    Returns one row per placed query: ``_row``, metric ``x``/``y``, ``score``,
    ``address_id`` (nearest known address) and ``street``.
    """
    if q.empty:
        return pd.DataFrame()
    left = pd.DataFrame(
        {
            "_row": q["_row"].to_numpy(),
            "street_key": q["street_key"].astype("string").to_numpy(),
            "number": np.array([n[0] for n in q["numbers"]], dtype="int64"),
        }
    )
    left["parity"] = left["number"] % 2
    right = streets.by_number[["street_key", "parity", "number", "x", "y", "address_id", "street"]]

    lo = _asof(left, right, "number", "lo_", direction="backward")
    hi = _asof(left, right, "number", "hi_", direction="forward")
    both = lo.merge(
        hi[["_row"] + [str(c) for c in hi.columns if str(c).startswith("hi_")]],
        on="_row",
        validate="1:1",
    )
    # Second-nearest known numbers on the far side of the nearest one, for extrapolation.
    for side, direction in (("lo", "backward"), ("hi", "forward")):
        anchor = both.loc[both[f"{side}_number"].notna(), ["_row", "street_key", "parity"]]
        anchor = anchor.assign(anchor=both.loc[anchor.index, f"{side}_number"].astype("int64"))
        second = _asof(
            anchor, right, "anchor", f"{side}2_", direction=direction, allow_exact_matches=False
        )
        both = both.merge(
            second[["_row", f"{side}2_number", f"{side}2_x", f"{side}2_y"]],
            on="_row",
            how="left",
            validate="1:1",
        )

    def arr(column: str) -> np.ndarray:
        return both[column].to_numpy(dtype=float, na_value=np.nan)

    n = arr("number")
    lo_n, hi_n, lo2_n, hi2_n = (
        arr("lo_number"),
        arr("hi_number"),
        arr("lo2_number"),
        arr("hi2_number"),
    )
    has_lo, has_hi = ~np.isnan(lo_n), ~np.isnan(hi_n)
    same_lo = has_lo & (lo_n == n)
    same_hi = ~same_lo & has_hi & (hi_n == n)
    same = same_lo | same_hi
    bracket = ~same & has_lo & has_hi
    only_lo = ~same & has_lo & ~has_hi
    only_hi = ~same & ~has_lo & has_hi
    # The nearest known number (n1) and, beyond the known ones, the second nearest (n2).
    use_lo = same_lo | only_lo
    n1 = np.where(use_lo, lo_n, hi_n)
    n2 = np.where(use_lo, lo2_n, hi2_n)
    x1 = np.where(use_lo, arr("lo_x"), arr("hi_x"))
    y1 = np.where(use_lo, arr("lo_y"), arr("hi_y"))
    x2 = np.where(use_lo, arr("lo2_x"), arr("hi2_x"))
    y2 = np.where(use_lo, arr("lo2_y"), arr("hi2_y"))
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = (n - lo_n) / (hi_n - lo_n)
        bx = arr("lo_x") + frac * (arr("hi_x") - arr("lo_x"))
        by = arr("lo_y") + frac * (arr("hi_y") - arr("lo_y"))
        # Extrapolation: the step per number between the two last known ones, capped.
        t = (n - n1) / (n1 - n2)
        dx, dy = (x1 - x2) * t, (y1 - y2) * t
        length = np.hypot(dx, dy)
        shrink = np.where(length > max_extrapolation_m, max_extrapolation_m / length, 1.0)
        dx, dy = np.nan_to_num(dx * shrink), np.nan_to_num(dy * shrink)
        gap = np.select(
            [same, bracket, only_lo, only_hi],
            [np.zeros_like(n), np.minimum(n - lo_n, hi_n - n), n - lo_n, hi_n - n],
            default=np.nan,
        )
    x = np.where(bracket, bx, x1 + np.where(same, 0.0, dx))
    y = np.where(bracket, by, y1 + np.where(same, 0.0, dy))
    base = np.select([same, bracket], [0.9, 0.85], default=0.75)
    score = np.clip(base - 0.05 * (gap / 2.0) * ~same, 0.3, 1.0)
    near_lo = use_lo | (bracket & (n - lo_n <= hi_n - n))
    address_id = np.where(near_lo, both["lo_address_id"], both["hi_address_id"])
    street = np.where(has_lo, both["lo_street"], both["hi_street"])
    ok = ~np.isnan(gap) & (gap <= max_number_gap)
    return pd.DataFrame(
        {
            "_row": both["_row"].to_numpy()[ok],
            "x": x[ok],
            "y": y[ok],
            "score": score[ok],
            "address_id": address_id[ok],
            "street": street[ok],
        }
    )


def _objects(values: pd.Series) -> np.ndarray:
    """Values as an object array with ``None`` for missing ones."""
    obj = values.astype(object)
    return obj.where(obj.notna(), None).to_numpy()


def _map_unique(values: pd.Series, func: Any) -> pd.Series:
    """Apply ``func`` once per distinct value (NA stays NA)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = np.array([func(u) for u in uniques] + [None], dtype=object)
    return pd.Series(mapped[codes], index=values.index, dtype=object)


def _gazetteer_lookup(parsed: pd.DataFrame, gazetteer: pd.DataFrame) -> pd.Series:
    """``building_id`` of each parsed row from the gazetteer, NA when no key matches.

    Keys tried, first hit wins: the ``building_ref`` column (landlord code), residence +
    building, street address + building, residence, street address.
    """
    for column in ("key", "building_id"):
        if column not in gazetteer.columns:
            raise InputError(
                "gazetteer", "colonne manquante (attendu : key, building_id).", column=column
            )
    g = pd.DataFrame(
        {
            "_k": _map_unique(gazetteer["key"], normalise_key),
            "building_id": gazetteer["building_id"].astype("string"),
        }
    ).dropna()
    conflicts = g.groupby("_k")["building_id"].nunique()
    conflicts = conflicts[conflicts > 1]
    if len(conflicts):
        raise InputError(
            "gazetteer",
            f"clé(s) associée(s) à plusieurs bâtiments : {', '.join(conflicts.index[:5])}. "
            "Gardez un seul building_id par clé.",
            column="key",
        )
    lookup = g.drop_duplicates("_k").set_index("_k")["building_id"]

    def text(column: str) -> pd.Series:
        if column not in parsed:
            return pd.Series(pd.NA, index=parsed.index, dtype="string")
        return parsed[column].astype("string")

    numbers = (
        parsed["numbers"]
        if "numbers" in parsed
        else pd.Series([()] * len(parsed), index=parsed.index)
    )
    number_text = pd.Series(
        ["-".join(map(str, n)) if isinstance(n, tuple) else "" for n in numbers],
        index=parsed.index,
        dtype="string",
    )
    head = number_text + " " + text("suffix").fillna("") + " " + text("street")
    bat = " batiment " + text("building")
    candidates: list[pd.Series] = [
        text("building_ref"),
        text("residence") + bat,
        head + bat,
        text("residence"),
        head,
    ]
    result = pd.Series(pd.NA, index=parsed.index, dtype="string")
    for cand in candidates:
        todo = result.isna() & cand.notna()
        if not todo.any():
            continue
        keys = _map_unique(cand[todo], normalise_key)
        result[todo] = keys.map(lookup).astype("string")
    return result


class _Result:
    """Columns of :func:`match_addresses` filled step by step, by row position."""

    def __init__(self, n: int) -> None:
        self.done = np.zeros(n, dtype=bool)
        self.building_id = np.full(n, None, dtype=object)
        self.method = np.full(n, "unmatched", dtype=object)
        self.score = np.zeros(n)
        self.distance_m = np.full(n, np.nan)
        self.lon = np.full(n, np.nan)
        self.lat = np.full(n, np.nan)
        self.address_id = np.full(n, None, dtype=object)
        self.street = np.full(n, None, dtype=object)

    def set(self, res: pd.DataFrame, method: str, score_factor: Any = 1.0) -> None:
        """Record matches (``_row``, ``score``, ``building_id``, ``distance_m``…).

        ``method`` ``"address"`` takes ``address_exact``/``address_interpolated`` from
        the ``kind`` column.
        """
        if res.empty:
            return
        rows = res["_row"].to_numpy(dtype="int64")
        self.building_id[rows] = res["building_id"].pipe(_objects)
        score = res["score"].to_numpy(dtype=float) * score_factor
        self.score[rows] = np.clip(score, 0.0, 1.0)
        self.distance_m[rows] = res["distance_m"].to_numpy(dtype=float)
        self.lon[rows] = res["lon"].to_numpy(dtype=float)
        self.lat[rows] = res["lat"].to_numpy(dtype=float)
        self.address_id[rows] = res["address_id"].pipe(_objects)
        self.street[rows] = res["street"].pipe(_objects)
        if method == "address":
            self.method[rows] = ("address_" + res["kind"].astype(str)).to_numpy(dtype=object)
        else:
            self.method[rows] = method
        self.done[rows] = True

    def frame(self, parsed: pd.DataFrame) -> pd.DataFrame:
        index = parsed.index

        def text(values: Any) -> pd.Series:
            return pd.Series(values, index=index, dtype=object).astype("string")

        out = pd.DataFrame(
            {
                "building_id": text(self.building_id),
                "geocode_method": text(self.method),
                "geocode_score": self.score,
                "geocode_distance_m": self.distance_m,
                "match_lon": self.lon,
                "match_lat": self.lat,
                "match_address_id": text(self.address_id),
                "match_street": text(self.street),
            },
            index=index,
        )
        for column in ("address_normalised", "building", "entrance", "staircase"):
            out[column] = (
                parsed[column].astype("string")
                if column in parsed
                else pd.Series(pd.NA, index=index, dtype="string")
            )
        return out[MATCH_COLUMNS]


def match_addresses(
    parsed: pd.DataFrame,
    index: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    gazetteer: pd.DataFrame | None = None,
    fuzzy_threshold: float = 88.0,
    ban_client: BanClient | None = None,
    tolerance_m: float = 25.0,
    max_number_gap: int = 20,
    ban_min_score: float = 0.5,
) -> pd.DataFrame:
    """Place parsed addresses on building footprints.

    Parameters
    ----------
    parsed
        Output of :func:`pipelines.addresses.parse_addresses`, optionally with a
        ``building_ref`` column (a landlord building code looked up in the gazetteer).
    index
        Output of :func:`build_address_index` (points in any CRS).
    buildings
        Footprints with ``building_id``, any CRS: interpolated and BAN points are linked
        to them (contained, else nearest within ``tolerance_m`` metres, in Lambert-93).
    gazetteer
        Analyst table with ``key`` (landlord code or residence name, matched after
        :func:`pipelines.addresses.normalise_key`) and ``building_id``.
    fuzzy_threshold
        Lowest rapidfuzz ``token_sort_ratio`` (0–100) to accept an unknown street name
        as a known one. ``token_sort_ratio`` compares the sorted words as a whole, so a
        typo or a swapped word costs a few points while a missing word costs its length;
        ``WRatio`` was rejected because its partial matching scores a short name inside
        a longer one near 100 ("rue denis" in "rue faubourg saint denis").
    ban_client
        A :class:`BanClient`; without one the online BAN geocoder is never called.
    tolerance_m
        Largest point-to-footprint distance, in metres.
    max_number_gap
        Largest difference of house numbers for interpolation (20 = ten houses).
    ban_min_score
        Lowest BAN ``result_score`` accepted (house-number results only).

    Returns
    -------
    DataFrame
        Aligned on ``parsed.index``, columns :data:`MATCH_COLUMNS`: ``building_id``
        (NA when none), ``geocode_method`` (``gazetteer``, ``address_exact``,
        ``address_interpolated``, ``address_fuzzy``, ``ban`` or ``unmatched``),
        ``geocode_score`` in [0, 1], ``geocode_distance_m`` (address point to footprint,
        metres; NaN for the gazetteer and when unlinked), ``match_lon``/``match_lat``
        (the address point, WGS84 degrees), ``match_address_id``, ``match_street`` and
        the parsed ``address_normalised``, ``building``, ``entrance``, ``staircase``.
        An address found in the index whose point is farther than ``tolerance_m`` from
        every footprint keeps its method and point with ``building_id`` NA.
    """
    n = len(parsed)
    result = _Result(n)
    # (a) gazetteer
    if gazetteer is not None and len(gazetteer) and n:
        gz = _gazetteer_lookup(parsed, gazetteer).pipe(_objects)
        rows = np.flatnonzero(pd.notna(gz))
        result.set(
            pd.DataFrame(
                {
                    "_row": rows,
                    "score": 1.0,
                    "building_id": gz[rows],
                    "distance_m": np.nan,
                    "lon": np.nan,
                    "lat": np.nan,
                    "address_id": None,
                    "street": None,
                }
            ),
            "gazetteer",
        )
    done = result.done
    if n == 0:
        return result.frame(parsed)

    metric = metric_crs_of(buildings if len(buildings) else index)
    streets = _Streets(index, metric)
    numbers = parsed["numbers"] if "numbers" in parsed else pd.Series([()] * n, index=parsed.index)
    queries = pd.DataFrame(
        {
            "_row": np.arange(n),
            "raw_key": parsed["street_key"]
            .astype(object)
            .where(parsed["street_key"].notna(), None)
            .to_numpy(),
            "numbers": [t if isinstance(t, tuple) else () for t in numbers],
            "suffix_key": [suffix_key(s) for s in parsed["suffix"].astype(object)]
            if "suffix" in parsed
            else "",
        }
    )
    queries = queries[~done]
    queries["street_key"] = _map_unique(queries["raw_key"], streets.resolve).to_numpy()

    # (b) exact and (c) interpolated
    res = _match_on_streets(
        queries, streets, buildings, metric, tolerance_m=tolerance_m, max_number_gap=max_number_gap
    )
    result.set(res, "address")

    # (d) fuzzy street name, then (b)/(c) on the street found
    fuzzy_q = queries[
        ~done[queries["_row"].to_numpy()]
        & queries["street_key"].isna()
        & queries["raw_key"].notna()
    ]
    if not fuzzy_q.empty and streets.choices:
        unknown = pd.unique(fuzzy_q["raw_key"])
        scores = process.cdist(
            list(unknown),
            streets.choices,
            scorer=fuzz.token_sort_ratio,
            score_cutoff=fuzzy_threshold,
            dtype=np.float32,
        )
        best = scores.argmax(axis=1)
        best_score = scores[np.arange(len(unknown)), best]
        resolved = {
            u: (streets.resolve(streets.choices[b]), float(s))
            for u, b, s in zip(unknown, best, best_score, strict=True)
            if s >= fuzzy_threshold
        }
        fq = fuzzy_q[fuzzy_q["raw_key"].isin(list(resolved))].copy()
        fq["street_key"] = [resolved[k][0] for k in fq["raw_key"]]
        fres = _match_on_streets(
            fq, streets, buildings, metric, tolerance_m=tolerance_m, max_number_gap=max_number_gap
        )
        if not fres.empty:
            raw_of_row = dict(zip(fq["_row"], fq["raw_key"], strict=True))
            factor = np.array([resolved[raw_of_row[r]][1] / 100.0 for r in fres["_row"]])
            result.set(fres, "address_fuzzy", factor)
        log.info("fuzzy street names: %d of %d unknown names resolved", len(resolved), len(unknown))

    # (e) the online BAN geocoder, only when asked for
    if ban_client is not None:
        has_text = (
            parsed["address_normalised"].notna().to_numpy()
            if "address_normalised" in parsed
            else np.zeros(n, dtype=bool)
        )
        rest = np.flatnonzero(~done & has_text)
        if len(rest):
            q = parsed["address_normalised"].iloc[rest].astype("string").reset_index(drop=True)
            found = ban_client.geocode(q)
            ok = (
                found["ban_type"].eq("housenumber")
                & (found["ban_score"] >= ban_min_score)
                & found["ban_lon"].notna()
            ).to_numpy()
            if ok.any():
                f = found[ok]
                points = gpd.GeoSeries(gpd.points_from_xy(f["ban_lon"], f["ban_lat"]), crs=WGS84)
                link = link_points_to_buildings(points, buildings, tolerance_m=tolerance_m)
                result.set(
                    pd.DataFrame(
                        {
                            "_row": rest[ok],
                            "score": f["ban_score"].to_numpy(dtype=float),
                            "building_id": link["building_id"].to_numpy(),
                            "distance_m": link["link_distance_m"].to_numpy(),
                            "lon": f["ban_lon"].to_numpy(dtype=float),
                            "lat": f["ban_lat"].to_numpy(dtype=float),
                            "address_id": f["ban_id"].to_numpy(),
                            "street": f["ban_label"].to_numpy(),
                        }
                    ),
                    "ban",
                )

    out = result.frame(parsed)
    log.info("address matching: %s", out["geocode_method"].value_counts().to_dict())
    return out


# --------------------------------------------------------------------------------------
# BAN online geocoder
# --------------------------------------------------------------------------------------


class BanServiceError(VigieError, RuntimeError):
    """The BAN geocoding service failed or answered something unreadable."""


class BanClient:
    """Client of the BAN CSV geocoder (``POST /search/csv/``), with an on-disk cache.

    Each request (URL, form fields and CSV body) is hashed (SHA-256); its answer is kept
    in ``cache_dir/<hash>.csv`` and reused, so a re-run never calls the service again.
    Nothing here runs unless a client is created and passed to :func:`match_addresses`.

    Parameters
    ----------
    base_url
        Service root.
    cache_dir
        Folder for cached answers; ``None`` disables the cache.
    timeout
        Seconds per request.
    chunk_size
        Addresses per request.
    """

    def __init__(
        self,
        base_url: str = "https://api-adresse.data.gouv.fr",
        *,
        cache_dir: str | Path | None = None,
        timeout: float = 60.0,
        chunk_size: int = 5000,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.timeout = timeout
        self.chunk_size = chunk_size

    @property
    def url(self) -> str:
        return f"{self.base_url}/search/csv/"

    def geocode(self, queries: pd.Series) -> pd.DataFrame:
        """Geocode free-text addresses.

        Parameters
        ----------
        queries
            Address strings (``"12 allee marguerite duras, 93140 bondy"``).

        Returns
        -------
        DataFrame
            Aligned on ``queries.index``: ``ban_lon``, ``ban_lat`` (WGS84 degrees),
            ``ban_score`` (0–1), ``ban_type`` (``housenumber``, ``street``…),
            ``ban_label``, ``ban_id``; NaN/NA where the service found nothing.
        """
        values = queries.astype("string").fillna("").to_numpy()
        answers = []
        for start in range(0, len(values), self.chunk_size):
            chunk = values[start : start + self.chunk_size]
            body = pd.DataFrame({"row_id": np.arange(start, start + len(chunk)), "q": chunk})
            answers.append(self._post(body.to_csv(index=False).encode("utf-8")))
        found = (
            pd.concat(answers, ignore_index=True)
            if answers
            else pd.DataFrame({"row_id": pd.Series(dtype=str)})
        )
        found.index = pd.Index(pd.to_numeric(found["row_id"], errors="coerce"))
        found = found[found.index.notna() & ~found.index.duplicated()]
        found = found.reindex(pd.RangeIndex(len(values)))
        out = pd.DataFrame(index=queries.index)
        for src, dst in (
            ("longitude", "ban_lon"),
            ("latitude", "ban_lat"),
            ("result_score", "ban_score"),
        ):
            column = found[src] if src in found else pd.Series(np.nan, index=found.index)
            out[dst] = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
        for src, dst in (
            ("result_type", "ban_type"),
            ("result_label", "ban_label"),
            ("result_id", "ban_id"),
        ):
            column = found[src] if src in found else pd.Series(pd.NA, index=found.index)
            out[dst] = column.astype("string").to_numpy()
        return out

    def _post(self, body: bytes) -> pd.DataFrame:
        form = {"columns": ["q"]}
        key = hashlib.sha256(
            (self.url + "\n" + json.dumps(form, sort_keys=True) + "\n").encode() + body
        ).hexdigest()
        cached = self.cache_dir / f"{key}.csv" if self.cache_dir is not None else None
        if cached is not None and cached.exists():
            text = cached.read_text(encoding="utf-8")
        else:
            log.info("BAN geocoder: POST %s (%d bytes)", self.url, len(body))
            try:
                response = requests.post(
                    self.url,
                    files={"data": ("adresses.csv", body, "text/csv")},
                    data=form,
                    timeout=self.timeout,
                )
                response.raise_for_status()
            except requests.RequestException as err:
                raise BanServiceError(f"géocodeur BAN injoignable ou en erreur ({err})") from err
            text = response.content.decode("utf-8")
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                tmp = cached.with_suffix(".tmp")
                tmp.write_text(text, encoding="utf-8")
                tmp.replace(cached)
        try:
            answer = pd.read_csv(
                io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""]
            )
        except pd.errors.ParserError as err:
            raise BanServiceError(f"réponse du géocodeur BAN illisible ({err})") from err
        if "row_id" not in answer:
            raise BanServiceError("réponse du géocodeur BAN sans la colonne row_id envoyée.")
        return answer


# --------------------------------------------------------------------------------------
# I/O
# --------------------------------------------------------------------------------------


def run(
    osm_path: str | Path,
    dst: str | Path,
    *,
    ban_path: str | Path | None = None,
    tolerance_m: float = 25.0,
) -> gpd.GeoDataFrame:
    """Build the address index of a site (OSM, plus the BAN when given) and write it.

    Writes GeoParquet (EPSG:4326) with :func:`pipelines.io.write_geoparquet`.
    """
    from pipelines.buildings import read_osm_buildings
    from pipelines.io import write_geoparquet

    parts = [read_osm_addresses(osm_path)]
    if ban_path is not None:
        parts.append(read_ban(ban_path))
    addresses = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=WGS84)
    index = build_address_index(addresses, read_osm_buildings(osm_path), tolerance_m=tolerance_m)
    write_geoparquet(index, dst)
    return index


def read_gazetteer(path: str | Path) -> pd.DataFrame:
    """Read the analyst gazetteer CSV (``key``, ``building_id``; ``;`` or ``,``)."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "gazetteer introuvable (colonnes attendues : key, building_id).")
    try:
        table = pd.read_csv(path, sep=None, engine="python", dtype=str, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise InputError(path, f"CSV illisible ({err})") from err
    for column in ("key", "building_id"):
        if column not in table.columns:
            raise InputError(path, "colonne manquante.", column=column)
    return table


def match_site(
    reports: pd.DataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    site: Any,
    ban_cache_dir: str | Path = "data/cache/ban",
) -> pd.DataFrame:
    """Match the ``address`` / ``building_ref`` columns of one site's reports.

    Reads the site's files (OSM extract, BAN extract and gazetteer when configured),
    builds the address index over ``buildings`` and calls :func:`match_addresses` with
    the site's ``[params.geocode]`` (``tolerance_m``, ``fuzzy_threshold``,
    ``ban_online``: the BAN online geocoder is used only when it is true, with answers
    cached in ``ban_cache_dir``).

    Parameters
    ----------
    reports
        Rows with ``address`` (free text) and/or ``building_ref`` (landlord code).
    buildings
        Footprints with ``building_id`` (any CRS).
    site
        A :class:`pipelines.config.SiteConfig`.

    Returns
    -------
    DataFrame
        Aligned on ``reports.index``, columns :data:`MATCH_COLUMNS`.
    """
    params = dict(getattr(site, "params", {}).get("geocode", {}))
    tolerance_m = float(params.get("tolerance_m", 25.0))
    parts = [read_osm_addresses(site.osm)]
    if getattr(site, "ban", None):
        parts.append(read_ban(site.ban))
    addresses = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=WGS84)
    index = build_address_index(addresses, buildings, tolerance_m=tolerance_m)
    gazetteer = None
    if getattr(site, "gazetteer", None):
        if Path(site.gazetteer).exists():
            gazetteer = read_gazetteer(site.gazetteer)
        else:
            log.warning("%s: gazetteer absent, codes de bâtiment non utilisés", site.gazetteer)
    text = (
        reports["address"]
        if "address" in reports
        else pd.Series(pd.NA, index=reports.index, dtype="string")
    )
    parsed = parse_addresses(text.astype("string"))
    if "building_ref" in reports:
        parsed["building_ref"] = reports["building_ref"].astype("string")
    client = BanClient(cache_dir=ban_cache_dir) if params.get("ban_online") else None
    return match_addresses(
        parsed,
        index,
        buildings,
        gazetteer=gazetteer,
        fuzzy_threshold=float(params.get("fuzzy_threshold", 88.0)),
        ban_client=client,
        tolerance_m=tolerance_m,
    )
