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
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import TypeVar

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer

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
