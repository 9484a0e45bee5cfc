"""Where building footprints come from: an OSM file offline, or Overpass online.

Three readers share one normalisation (:func:`_normalise_buildings`), so every source
yields the same frame: one row per building in EPSG:4326, a stable ``building_id`` in
OSM's notation (``way/123``, ``relation/456``) and the tags of :data:`KEPT_TAGS`.

- ``.osm`` / ``.osm.bz2`` / ``.osm.pbf``: the one OSM reader,
  :mod:`pipelines.osm.reader` (pyosmium), which also repairs and counts the incomplete
  ways and relations of a clipped extract.
- Overpass (online, off by default): ``osmnx.features_from_place/_bbox/_polygon`` with
  osmnx's response cache on disk, so a second run reads the cache and not the network.

A site's configuration chooses through one string, read by :func:`read_buildings`: a
file path, or ``overpass:bbox=W,S,E,N`` / ``overpass:place=Bondy, France`` /
``overpass:polygon=<WKT in EPSG:4326>``.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from pipelines.crs import WGS84, repaired_geometry
from pipelines.errors import ConfigError
from pipelines.osm.reader import Incomplete, OsmElements, read_osm_elements, tagged_features

log = logging.getLogger(__name__)

#: OSM tags kept, renamed to snake_case columns.
KEPT_TAGS: dict[str, str] = {
    "building": "building_type",
    "building:levels": "levels",
    "building:flats": "flats",
    "name": "name",
    "addr:housenumber": "addr_housenumber",
    "addr:street": "addr_street",
    "addr:postcode": "addr_postcode",
    "addr:city": "addr_city",
    "operator": "operator",
}

BUILDING_COLUMNS = ["building_id", *KEPT_TAGS.values(), "geometry"]

#: Prefix of a configuration value that asks for Overpass instead of a file.
OVERPASS_PREFIX = "overpass:"

_BUILDING_TAGS: dict[str, bool | str | list[str]] = {"building": True}


def _normalise_buildings(
    features: pd.DataFrame,
    *,
    element: str = "element",
    osm_id: str = "id",
    incomplete: Incomplete | None = None,
) -> gpd.GeoDataFrame:
    """Turn raw OSM features (tags as columns, EPSG:4326) into the buildings frame.

    Keeps polygons and multipolygons carrying a ``building`` tag other than ``no`` (OSM's
    way of saying that an outline is not a building), builds ``building_id`` from the
    ``element`` (``way``/``relation``) and ``id`` columns, keeps
    :data:`KEPT_TAGS` as string columns, drops duplicate ids (a relation's outer way
    returned twice), repairs invalid geometries and sorts by ``building_id``.

    A repaired footprint keeps its polygonal part only: a ring with no surface (nodes
    A-B-A, or all aligned) becomes a line once made valid, and a line is no building (it
    would be drawn, written to the GeoPackage's polygon layer and given the Gi* of its
    neighbours with no report of its own). Such a building is dropped and counted in
    ``incomplete`` as ``ways_degenerate_dropped``.
    """
    raw = features[features.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    if "building" not in raw:
        raw = raw.iloc[0:0]
    else:
        tag = raw["building"].astype("string").str.strip().str.lower()
        raw = raw[tag.notna() & (tag != "no")]
    frame = pd.DataFrame(
        {"building_id": raw[element].astype(str) + "/" + raw[osm_id].astype(str)},
        index=raw.index,
    )
    for tag, column in KEPT_TAGS.items():
        frame[column] = (
            raw[tag].astype("string")
            if tag in raw
            else pd.Series(pd.NA, index=raw.index, dtype="string")
        )
    frame["geometry"] = raw.geometry.to_numpy()
    out = gpd.GeoDataFrame(frame[BUILDING_COLUMNS], geometry="geometry", crs=WGS84)
    out = out.drop_duplicates("building_id").sort_values("building_id").reset_index(drop=True)
    out["geometry"] = repaired_geometry(out.geometry.to_numpy(), kind="polygon")
    empty = out.geometry.is_empty.to_numpy()
    if incomplete is not None:
        for building_id in out.loc[empty, "building_id"]:
            incomplete.add("ways_degenerate_dropped", building_id)
    return out[~empty].reset_index(drop=True)


def _from_osmnx(raw: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Normalise an osmnx features frame (index ``(element, id)``)."""
    if raw.crs is not None and not raw.crs.equals(WGS84):
        raw = raw.to_crs(WGS84)
    return _normalise_buildings(raw.reset_index())


def buildings_of(elements: OsmElements, incomplete: Incomplete | None = None) -> gpd.GeoDataFrame:
    """The buildings frame of an extract read by :func:`pipelines.osm.reader.read_osm_elements`.

    Ways and multipolygon relations tagged ``building``; incomplete ones are repaired or
    dropped and counted in ``incomplete`` (see :mod:`pipelines.osm.reader`).
    """
    incomplete = incomplete if incomplete is not None else Incomplete()
    rows = tagged_features(elements, _BUILDING_TAGS, incomplete, cut_lines=False)
    columns = ["element", "id", *KEPT_TAGS, "geometry"]
    for row in rows:  # a building way that is not a closed ring has no footprint
        if row["geometry"].geom_type not in ("Polygon", "MultiPolygon"):
            incomplete.add("ways_degenerate_dropped", f"{row['element']}/{row['id']}")
    frame = pd.DataFrame([{c: row.get(c) for c in columns} for row in rows], columns=columns)
    raw = gpd.GeoDataFrame(frame, geometry="geometry", crs=WGS84)
    return _normalise_buildings(raw, incomplete=incomplete)


def read_osm_file_report(
    path: str | Path,
) -> tuple[gpd.GeoDataFrame, Incomplete, tuple[float, float, float, float]]:
    """Buildings of an OSM file, with the repairs made and the extract's bounds (one pass).

    Returns
    -------
    tuple
        The frame of :func:`read_osm_file`, the :class:`~pipelines.osm.reader.Incomplete`
        counts (also logged) and the bounds (west, south, east, north) of the extract.
    """
    elements = read_osm_elements(path)
    incomplete = Incomplete()
    out = buildings_of(elements, incomplete)
    incomplete.log_to(log, elements.path, "bâtiments")
    log.info("%s: %d buildings", elements.path, len(out))
    return out, incomplete, elements.bounds()


def read_osm_file(path: str | Path) -> gpd.GeoDataFrame:
    """Read building footprints from an OSM file, offline (pyosmium, one pass).

    Parameters
    ----------
    path
        ``.osm``, ``.osm.bz2`` or ``.osm.pbf`` (:mod:`pipelines.osm.reader`).

    Returns
    -------
    GeoDataFrame
        One row per building (EPSG:4326), columns :data:`BUILDING_COLUMNS`, sorted by
        ``building_id``; polygons and multipolygons only.
    """
    return read_osm_file_report(path)[0]


def read_osm_buildings_online(
    *,
    place: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    polygon: BaseGeometry | None = None,
    cache_dir: str | Path = "data/cache/osmnx",
) -> gpd.GeoDataFrame:
    """Download building footprints from Overpass through osmnx, with a disk cache.

    Give exactly one of ``place``, ``bbox`` or ``polygon``. osmnx's settings are set for
    the call (``use_cache=True``, ``cache_folder=cache_dir``) and restored afterwards; a
    request already in the cache is answered from it without touching the network.

    Parameters
    ----------
    place
        A geocodable place name (Nominatim), e.g. ``"Bondy, France"``.
    bbox
        ``(west, south, east, north)`` in degrees (EPSG:4326), osmnx 2's order.
    polygon
        A (multi)polygon in EPSG:4326.
    cache_dir
        Folder of osmnx's JSON response cache.

    Returns
    -------
    GeoDataFrame
        Same frame as :func:`read_osm_file` (EPSG:4326, :data:`BUILDING_COLUMNS`),
        limited to buildings that intersect the requested area.
    """
    import osmnx as ox
    from osmnx._errors import InsufficientResponseError

    given = [
        n for n, v in (("place", place), ("bbox", bbox), ("polygon", polygon)) if v is not None
    ]
    if len(given) != 1:
        raise ValueError(f"exactly one of place, bbox, polygon is required (got {given})")
    saved = (ox.settings.use_cache, ox.settings.cache_folder)
    ox.settings.use_cache, ox.settings.cache_folder = True, str(cache_dir)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if place is not None:
                raw = ox.features_from_place(place, tags=_BUILDING_TAGS)
            elif bbox is not None:
                raw = ox.features_from_bbox(bbox, tags=_BUILDING_TAGS)
            else:
                raw = ox.features_from_polygon(polygon, tags=_BUILDING_TAGS)
    except InsufficientResponseError:  # Overpass found nothing: an empty area
        raw = gpd.GeoDataFrame(
            {"element": [], "id": [], "building": []}, geometry=[], crs=WGS84
        ).set_index(["element", "id"])
    finally:
        ox.settings.use_cache, ox.settings.cache_folder = saved
    out = _from_osmnx(raw)
    log.info("Overpass %s: %d buildings (cache %s)", given[0], len(out), cache_dir)
    return out


def parse_overpass_spec(spec: str) -> dict[str, Any]:
    """Parse ``overpass:bbox=W,S,E,N`` / ``overpass:place=…`` / ``overpass:polygon=WKT``.

    Returns the keyword arguments of :func:`read_osm_buildings_online`.
    """
    body = spec[len(OVERPASS_PREFIX) :].strip()
    key, sep, value = body.partition("=")
    key, value = key.strip(), value.strip()
    if not sep or not value:
        raise ConfigError(
            spec,
            "attendu overpass:bbox=O,S,E,N, overpass:place=… ou overpass:polygon=WKT.",
            key="osm",
        )
    if key == "place":
        return {"place": value}
    if key == "bbox":
        try:
            west, south, east, north = (float(v) for v in value.split(","))
        except ValueError as err:
            raise ConfigError(spec, "bbox : quatre nombres O,S,E,N en degrés.", key="osm") from err
        if not (west < east and south < north):
            raise ConfigError(spec, "bbox : il faut O < E et S < N (degrés).", key="osm")
        return {"bbox": (west, south, east, north)}
    if key == "polygon":
        try:
            polygon = shapely.from_wkt(value)
        except shapely.errors.GEOSException as err:
            raise ConfigError(spec, f"polygon : WKT illisible ({err}).", key="osm") from err
        if polygon.geom_type not in ("Polygon", "MultiPolygon"):
            raise ConfigError(spec, "polygon : un Polygon ou MultiPolygon WKT.", key="osm")
        return {"polygon": polygon}
    raise ConfigError(
        spec, f"source Overpass inconnue « {key} » (bbox, place, polygon).", key="osm"
    )


def read_buildings(
    spec: str | Path, *, cache_dir: str | Path = "data/cache/osmnx"
) -> gpd.GeoDataFrame:
    """Buildings from a site's ``osm`` setting: a file path, or an ``overpass:`` request.

    Parameters
    ----------
    spec
        ``data/raw/bondy/bondy_nord.osm`` (offline, the default kind), or
        ``overpass:bbox=2.47,48.90,2.49,48.91`` / ``overpass:place=Bondy, France`` /
        ``overpass:polygon=POLYGON((…))`` (online, EPSG:4326).
    cache_dir
        osmnx's response cache for the online kind.
    """
    text = str(spec)
    if text.startswith(OVERPASS_PREFIX):
        return read_osm_buildings_online(**parse_overpass_spec(text), cache_dir=cache_dir)
    return read_osm_file(text)
