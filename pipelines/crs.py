"""Coordinate reference systems used by the pipeline.

Data is stored in WGS84 (EPSG:4326). Anything metric (distances, buffers, areas, kernel
density, distance bands) is computed in a projected CRS: Lambert-93 (EPSG:2154) in
metropolitan France, the local UTM zone elsewhere.

"Metropolitan France" is its real outline, not a rectangle: a rectangle that holds Brest
and Strasbourg also holds Barcelona, Geneva, Brussels and Frankfurt. The outline ships
with the package (``data/metropolitan_france.geojson``): Natural Earth's 1:10m
admin-0 countries (version 5.1.1, public domain), France's mainland and Corsica, widened
by 3 km out to sea (a coastal site whose centre is on a quay or a beach stays in France)
and cut back along every neighbour's border, simplified to 150 m. Borders are exact to
a few hundred metres, which is enough to choose a projection: near a border both
Lambert-93 and the local UTM zone measure metres to well under 0.1 %.

Geometries, whatever their CRS, are made valid here too, by the one repair of every
shape drawn or downloaded (:func:`repaired_geometry`): the portfolio's perimeters, OSM's
buildings, the planners' notes and the register's drawn areas. ``shapely.make_valid``
turns an invalid shape into a valid one, but not always of its kind: a bow-tie becomes
two polygons and sometimes a stray line, a ring with a spike a polygon and a line, a
ring with no surface a line. A ``GeometryCollection`` mixing them goes into no layer of
a GeoPackage (each declares one kind), so only the parts of one kind are kept, merged.
Heights (a GPS or QGIS « PointZ » export) are dropped: the maps and layers are 2D.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any, Literal, TypeVar

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Geod, Transformer
from shapely.geometry.base import BaseGeometry

from pipelines.errors import CRSError

WGS84 = "EPSG:4326"
LAMBERT93 = "EPSG:2154"

G = TypeVar("G", gpd.GeoDataFrame, gpd.GeoSeries)


def metric_crs_for(lon: float, lat: float) -> str:
    """Return the metric CRS to use at a WGS84 location.

    Parameters
    ----------
    lon, lat
        A representative point (e.g. a site centroid), in degrees.

    Returns
    -------
    str
        ``"EPSG:2154"`` in metropolitan France (see the module's note on its outline),
        else the EPSG code of the local UTM zone (WGS 84 / UTM, north or south; the
        plain 6° zones, without the Norway and Svalbard exceptions).
    """
    if in_metropolitan_france(lon, lat):
        return LAMBERT93
    zone = min(int((lon + 180) // 6) + 1, 60)
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"


@cache
def _metropolitan_france() -> shapely.Geometry:
    """The outline of metropolitan France (EPSG:4326), prepared for point tests."""
    text = (
        resources.files("pipelines")
        .joinpath("data/metropolitan_france.geojson")
        .read_text(encoding="utf-8")
    )
    outline = shapely.from_geojson(json.dumps(json.loads(text)["features"][0]["geometry"]))
    shapely.prepare(outline)
    return outline


def in_metropolitan_france(lon: float, lat: float) -> bool:
    """Whether a WGS84 point lies in metropolitan France (mainland, Corsica, 3 km of sea)."""
    return bool(shapely.contains_xy(_metropolitan_france(), lon, lat))


def metric_crs_of(frame: gpd.GeoDataFrame | gpd.GeoSeries) -> str:
    """Choose the metric CRS for a frame from the centre of its bounds."""
    if frame.crs is None:
        raise CRSError("La couche n'a pas de système de coordonnées (CRS) : impossible de mesurer.")
    bounds = frame.total_bounds
    if not len(frame) or not np.isfinite(bounds).all():
        return metric_crs_for(2.35, 48.85)
    if not CRS.from_user_input(frame.crs).equals(WGS84):
        # Only the bounds are reprojected, not every geometry (a frame may hold a million
        # reports).
        bounds = Transformer.from_crs(frame.crs, WGS84, always_xy=True).transform_bounds(*bounds)
    return metric_crs_for((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2)


def geodesic_area_m2(geometries: Any) -> np.ndarray:
    """Each geometry's area on the WGS84 ellipsoid, square metres (geometries in
    degrees, EPSG:4326; 0 for none or an empty one).

    One projection measures right near its centre only: the projection of a portfolio
    from Paris to La Réunion and Cayenne (:func:`metric_crs_of` of the whole) made a
    Bondy perimeter 40 % too large and a Cayenne one nine times.
    """
    geod = Geod(ellps="WGS84")
    # Exteriors counter-clockwise, holes clockwise: pyproj's signs then subtract holes.
    shapes = shapely.orient_polygons(np.asarray(geometries, dtype=object), exterior_cw=False)
    return np.array(
        [0.0 if g is None else abs(geod.geometry_area_perimeter(g)[0]) for g in shapes],
        dtype=float,
    )


def to_metric(frame: G, crs: str | None = None) -> G:
    """Reproject to a metric CRS (the one given, or the one chosen for the frame)."""
    target = crs or metric_crs_of(frame)
    require_metric(target)
    return frame.to_crs(target)


def require_metric(crs: object) -> None:
    """Raise :class:`CRSError` unless ``crs`` is a projected CRS in metres.

    Stricter than geopandas, which only warns: in a pipeline a wrong area is worse than a
    crash.
    """
    if crs is None:
        raise CRSError("Aucun CRS : une mesure en mètres exige un CRS projeté (ex. EPSG:2154).")
    parsed = CRS.from_user_input(crs)
    if not parsed.is_projected:
        raise CRSError(
            f"CRS géographique {parsed.to_string()} : les distances et surfaces doivent être "
            "calculées dans un CRS métrique (ex. Lambert-93, EPSG:2154). Reprojetez d'abord."
        )
    unit = parsed.axis_info[0].unit_name if parsed.axis_info else "metre"
    if unit not in ("metre", "meter"):
        raise CRSError(f"CRS {parsed.to_string()} en {unit} : attendu un CRS en mètres.")


#: The kinds of geometry, by their dimension.
Kind = Literal["point", "line", "polygon"]
_DIMENSION: dict[str, int] = {"point": 0, "line": 1, "polygon": 2}
_EMPTY = (shapely.Point, shapely.LineString, shapely.Polygon)


def repaired_geometry(geometries: Any, *, kind: Kind | None = None) -> Any:
    """Geometries valid, without heights, each of one kind and never a collection.

    Parameters
    ----------
    geometries
        A shapely geometry, or an array-like of them (``None`` allowed); any CRS.
    kind
        The kind to keep: ``"polygon"`` (the polygons of each, an empty polygon where
        there are none: a ring with no surface, a line, a point), ``"line"`` or
        ``"point"``; ``None``: each geometry's own highest dimension (a polygon with a
        spike stays a polygon, a ring with no surface becomes the line it is).

    Returns
    -------
    shapely geometry or numpy.ndarray
        As given: one geometry, or an object array aligned on the input. An invalid
        geometry goes through ``shapely.make_valid``; a valid one of the kind comes back
        unchanged but for its heights; of a collection or a geometry of another kind,
        the parts of the kind are merged (``shapely.union_all``). ``None`` stays
        ``None``.

    Examples
    --------
    >>> bowtie = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1), (0, 0)])
    >>> repaired_geometry(bowtie, kind="polygon").area
    0.5
    """
    if isinstance(geometries, BaseGeometry):
        return repaired_geometry(np.array([geometries], dtype=object), kind=kind)[0]
    out = np.array(geometries, dtype=object, copy=True).reshape(-1)
    has_z = shapely.has_z(out)
    out[has_z] = shapely.force_2d(out[has_z])
    invalid = ~shapely.is_valid(out) & ~shapely.is_missing(out)
    out[invalid] = shapely.make_valid(out[invalid])
    mixed = shapely.get_type_id(out) == shapely.GeometryType.GEOMETRYCOLLECTION
    if kind is not None:
        other = shapely.get_dimensions(out) != _DIMENSION[kind]
        mixed |= other & ~shapely.is_missing(out)
    for i in np.flatnonzero(mixed):
        parts = shapely.get_parts(out[i])
        part_dims = shapely.get_dimensions(parts)
        wanted = _DIMENSION[kind] if kind else (part_dims.max() if len(parts) else 2)
        kept = parts[part_dims == wanted]
        out[i] = shapely.union_all(kept) if len(kept) else _EMPTY[wanted]()
    return out
