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
    ``null``), in French; ``None`` when the feature has no geometry (or is not found)."""
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
    return None
