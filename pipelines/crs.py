"""Coordinate reference systems used by the pipeline.

Data is stored in WGS84 (EPSG:4326). Anything metric (distances, buffers, areas, kernel
density, distance bands) is computed in a projected CRS: Lambert-93 (EPSG:2154) in
metropolitan France, the local UTM zone elsewhere.
"""

from __future__ import annotations

from typing import TypeVar

import geopandas as gpd
from pyproj import CRS

from pipelines.errors import CRSError

WGS84 = "EPSG:4326"
LAMBERT93 = "EPSG:2154"

# Metropolitan France (with Corsica), in degrees: where Lambert-93 is valid.
_METRO_FRANCE_BOUNDS = (-5.5, 41.0, 10.0, 51.5)

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
        ``"EPSG:2154"`` in metropolitan France, else the EPSG code of the local UTM zone.
    """
    west, south, east, north = _METRO_FRANCE_BOUNDS
    if west <= lon <= east and south <= lat <= north:
        return LAMBERT93
    zone = int((lon + 180) // 6) + 1
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"


def metric_crs_of(frame: gpd.GeoDataFrame | gpd.GeoSeries) -> str:
    """Choose the metric CRS for a frame from the centre of its bounds."""
    if frame.crs is None:
        raise CRSError("La couche n'a pas de système de coordonnées (CRS) : impossible de mesurer.")
    bounds = frame.to_crs(WGS84).total_bounds if len(frame) else (2.35, 48.85, 2.35, 48.85)
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
