"""A perimeter layer's coordinates read from its bytes, to say which vertex of which
feature is no number: GEOS refuses a ring a NaN leaves open (NaN differs from itself),
and GDAL drops a GeoJSON geometry with text in it, so neither can tell.
"""

from __future__ import annotations

import contextlib
import math
import struct
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def quiet_open_rings() -> Iterator[None]:
    """GDAL's warning of a ring a NaN leaves open (NaN differs from itself), silenced:
    the coordinate is named by :func:`nonnumeric_coordinate`."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Non closed ring", RuntimeWarning)
        yield


def wkb_vertices(data: bytes) -> list[tuple[float, ...]]:
    """Every vertex of a WKB geometry (ISO or extended: Z and M kept), in order, read
    from the bytes themselves: a geometry GEOS refuses (a ring left open by a NaN, as
    NaN differs from itself) still has its vertices.

    Raises
    ------
    ValueError
        Not a WKB of points, lines, polygons or their collections.
    """

    def geometry(at: int) -> int:
        order = "<" if data[at] == 1 else ">"
        (code,) = struct.unpack_from(order + "I", data, at + 1)
        at += 5
        dims = 2 + bool(code & 0x80000000) + bool(code & 0x40000000)
        if code & 0x20000000:  # an SRID (extended WKB)
            at += 4
        code &= 0x0FFFFFFF
        dims += {1: 1, 2: 1, 3: 2}.get(code // 1000, 0)
        kind = code % 1000

        def points(at: int, n: int) -> int:
            for _ in range(n):
                vertices.append(struct.unpack_from(order + "d" * dims, data, at))
                at += 8 * dims
            return at

        def count(at: int) -> tuple[int, int]:
            return struct.unpack_from(order + "I", data, at)[0], at + 4

        if kind == 1:
            return points(at, 1)
        if kind == 2:
            n, at = count(at)
            return points(at, n)
        if kind == 3:
            rings, at = count(at)
            for _ in range(rings):
                n, at = count(at)
                at = points(at, n)
            return at
        if kind in (4, 5, 6, 7):
            parts, at = count(at)
            for _ in range(parts):
                at = geometry(at)
            return at
        raise ValueError(f"type WKB {code} non lu")

    vertices: list[tuple[float, ...]] = []
    geometry(0)
    return vertices


def _nonnumeric_fr(shown: str, k: int) -> str:
    """A perimeter's coordinate ``shown`` that is no number, at its vertex ``k``."""
    return (
        f"géométrie à coordonnée non numérique ({shown}) au sommet n° {k} : donnez à ce "
        "sommet une longitude et une latitude (des nombres) dans la couche, ou retirez-le"
    )


def nonnumeric_coordinate(wkb: bytes) -> str | None:
    """What is wrong with a perimeter (its WKB, as pyogrio reads it) that has a
    coordinate that is no number (NaN, infinite), in French, naming its first such
    vertex; ``None`` when every coordinate is a number (or the geometry is of a type
    :func:`wkb_vertices` does not read)."""
    try:
        vertices = wkb_vertices(wkb)
    except (ValueError, IndexError, struct.error):  # a type not read, a WKB cut short
        return None
    for k, vertex in enumerate(vertices, start=1):
        wrong = [v for v in vertex[:2] if not math.isfinite(v)]
        if wrong:
            value = "NaN" if math.isnan(wrong[0]) else str(wrong[0])
            return _nonnumeric_fr(value, k)
    return None


def geojson_text_coordinate(path: str, n: int) -> str | None:
    """Why GDAL read feature ``n`` (1-based) of a GeoJSON without a geometry when the
    file gives it one: its first coordinate that is no number (« 48,9 » written as text,
    ``null``), or, every coordinate a number, a (Multi)Polygon's lists nested at another
    depth than its type wants, in French; ``None`` when the feature has no geometry (or is
    not found)."""
    import json

    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        geometry = doc["features"][n - 1]["geometry"]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None
    if not isinstance(geometry, dict) or "coordinates" not in geometry:
        return None
    vertices: list[Any] = []

    def walk(value: Any) -> None:
        if isinstance(value, list) and value and isinstance(value[0], list):
            for item in value:
                walk(item)
        else:
            vertices.append(value)

    walk(geometry["coordinates"])
    for k, vertex in enumerate(vertices, start=1):
        items = vertex if isinstance(vertex, list) else [vertex]
        for v in items[:2] or [None]:
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                shown = "null" if v is None else f"« {v} »" if isinstance(v, str) else str(v)
                return _nonnumeric_fr(shown, k)
    kind = geometry.get("type")
    if isinstance(kind, str) and kind in _NESTING and vertices:
        # Every coordinate a number, and still dropped: the lists nested at another depth
        # than the type wants (a Polygon's ring without the list of rings around it).
        return (
            f"géométrie « {kind} » illisible : ses coordonnées ne sont pas imbriquées comme "
            f"ce type le veut ({_NESTING[kind]}) ; corrigez-la dans la couche"
        )
    return None


#: How a GeoJSON geometry's coordinates nest (RFC 7946, 3.1), in French.
_NESTING = {
    "Polygon": "une liste d'anneaux, chacun une liste de sommets [longitude, latitude]",
    "MultiPolygon": "une liste de polygones, chacun une liste d'anneaux de sommets "
    "[longitude, latitude]",
}


#: Lambert-93's (EPSG:2154) extent in its own metres, roughly (its area of use, France
#: and Corsica, projected): coordinates in it are taken to be Lambert-93's.
_L93_EXTENT = (-400_000.0, 6_000_000.0, 1_350_000.0, 7_250_000.0)
#: Degrees a projected layer may reach beyond its system's area of use (a UTM zone is
#: often used a little beyond its 6 degrees).
AREA_OF_USE_MARGIN_DEG = 2.0


def coordinates_look(box: tuple[float, ...]) -> str:
    """What a box of coordinates (xmin, ymin, xmax, ymax) looks like, in French:
    degrees, Lambert-93's metres, or metres of another system."""
    if _in_degrees(box):
        return "des degrés (longitude, latitude)"
    xmin, ymin, xmax, ymax = box
    w, s, e, n = _L93_EXTENT
    if w <= xmin <= xmax <= e and s <= ymin <= ymax <= n:
        return "des mètres en Lambert-93 (EPSG:2154)"
    return "des mètres d'un autre système (ni des degrés ni du Lambert-93)"


def _in_degrees(box: tuple[float, ...]) -> bool:
    xmin, ymin, xmax, ymax = box
    return -180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90


def crs_mismatch(crs: Any, declared: bool, bounds: Any) -> tuple[int, str] | None:
    """The first feature (0-based) whose coordinates cannot be in the layer's system,
    and why in French, or ``None``: coordinates beyond ±180/±90 in a geographic system
    (Lambert-93 read as degrees), or, in a projected one, coordinates that look like
    degrees (a perimeter within 180 m of the projection's origin is none: degrees
    declared as Web Mercator) or fall outside the system's area of use by more than
    :data:`AREA_OF_USE_MARGIN_DEG` once read in it (degrees declared as Lambert-93 fell
    off Gabon, with no word but « aucun chemin »).

    Parameters
    ----------
    crs
        The layer's ``pyproj.CRS`` (declared, or WGS 84 when the layer declares none).
    declared
        Whether the layer declares it.
    bounds
        (4, n) array of each feature's xmin, ymin, xmax, ymax in ``crs``, finite.
    """
    import numpy as np
    from pyproj import Transformer

    b = np.asarray(bounds, dtype=float)
    code = crs.to_epsg()
    named = f"{crs.name} (EPSG:{code})" if code else crs.name
    said = f"déclare {named}" if declared else f"ne déclare aucun système : lue en {named}"
    if crs.is_geographic:
        bad = (np.abs(b[[0, 2]]) > 180).any(axis=0) | (np.abs(b[[1, 3]]) > 90).any(axis=0)
        if not bad.any():
            return None
        i = int(np.flatnonzero(bad)[0])
        box = tuple(float(v) for v in b[:, i])
        return i, (
            f"coordonnées hors des degrés ({_shown(box)}) : elles ressemblent à "
            f"{coordinates_look(box)} alors que la couche {said}, en degrés ; déclarez son "
            "système (EPSG:2154 pour du Lambert-93 : fichier .prj d'un Shapefile, "
            "GeoPackage) ou reprojetez-la en WGS 84 (un GeoJSON sans « crs » est en degrés)."
        )
    area = crs.area_of_use
    m = AREA_OF_USE_MARGIN_DEG
    tr = Transformer.from_crs(crs, 4326, always_xy=True)
    for i in range(b.shape[1]):
        box = tuple(float(v) for v in b[:, i])
        with np.errstate(all="ignore"):
            west, south, east, north = tr.transform_bounds(box[0], box[1], box[2], box[3])
        if not all(map(math.isfinite, (west, south, east, north))):
            fall = "nulle part sur la Terre"
        else:
            fall = f"longitude {west:.4f} à {east:.4f}, latitude {south:.4f} à {north:.4f}"
        if area is not None and not (  # NaN compares False: outside too
            area.west - m <= west
            and east <= area.east + m
            and area.south - m <= south
            and north <= area.north + m
        ):
            why = f"à {fall}, hors de son domaine ({area.name.rstrip('.')})"
        elif _in_degrees(box):  # no perimeter lies within 180 m of a system's (0, 0)
            why = f"à moins de 200 m du point (0, 0) de ce système ({fall})"
        else:
            continue
        return i, (
            f"coordonnées ({_shown(box)}) qui ressemblent à {coordinates_look(box)} "
            f"alors que la couche {said} : lues dans ce système, elles tombent {why} ; "
            "déclarez le système des coordonnées de la couche (EPSG:4326 pour des degrés) "
            "ou reprojetez-la."
        )
    return None


#: Metres beyond which a coordinate is in no system on Earth (some 250 times the
#: equator's length): shown in scientific notation.
_BEYOND_ANY_SYSTEM = 1e10


def _shown(box: tuple[float, ...]) -> str:
    """A box of coordinates as the message shows it: degrees to 4 decimals, metres whole,
    beyond any system (:data:`_BEYOND_ANY_SYSTEM`) in scientific notation (« 2.485e+300 »,
    not its 301 digits)."""
    digits = 4 if max(abs(v) for v in box) <= 180 else 0
    x0, y0, x1, y1 = (
        f"{v:.3e}" if abs(v) >= _BEYOND_ANY_SYSTEM else f"{v:.{digits}f}" for v in box
    )
    return f"x de {x0} à {x1}, y de {y0} à {y1}"
