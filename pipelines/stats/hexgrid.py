"""Hexagon grids: flat-topped regular hexagons anchored at the CRS origin, so their ids
are stable across runs and sites, and the reports counted in them (each point once).

Pure functions over GeoDataFrames, no file I/O; the ``hotspots`` stage reads, calls
these and writes. Lengths are in metres in a projected CRS (Lambert-93, EPSG:2154, in
metropolitan France): the functions refuse a geographic CRS. Kernel density and its
contours live in :mod:`pipelines.stats.density`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from pipelines.crs import require_metric
from pipelines.errors import CRSError
from pipelines.stats.density import FloatArray

_SQRT3 = math.sqrt(3.0)


def hex_grid(
    bounds: tuple[float, float, float, float], size_m: float, crs: object
) -> gpd.GeoDataFrame:
    """Flat-topped regular hexagons covering ``bounds``, with stable ids.

    ``size_m`` is the **edge length** (= circumradius, centre to corner). The
    flat-to-flat width is ``√3·size_m`` and the area ``(3√3/2)·size_m²``.

    The lattice is anchored at the CRS origin (0, 0), not at ``bounds``: hexagon
    (col, row) has its centre at ``x = 1.5·size·col``, ``y = √3·size·(row + ½·(col mod 2))``.
    Its id ``hex_<size>m_<col>_<row>`` is therefore the same across runs and for any
    bounds — two maps of the same site share their hexagons.

    Parameters
    ----------
    bounds
        ``(xmin, ymin, xmax, ymax)`` in metres in ``crs``.
    size_m
        Hexagon edge length in metres.
    crs
        A projected CRS in metres.

    Returns
    -------
    GeoDataFrame
        Every hexagon intersecting ``bounds``, sorted by (col, row): ``hex_id``,
        ``hex_col``, ``hex_row``, ``hex_edge_m``, ``hex_area_m2``, ``geometry``.
    """
    require_metric(crs)
    if not size_m > 0:
        raise ValueError(f"size_m doit être positif (reçu {size_m}).")
    xmin, ymin, xmax, ymax = (float(v) for v in bounds)
    a = float(size_m)
    dx, dy = 1.5 * a, _SQRT3 * a
    cols = np.arange(math.floor((xmin - a) / dx), math.ceil((xmax + a) / dx) + 1)
    rows = np.arange(math.floor((ymin - dy) / dy), math.ceil((ymax + dy) / dy) + 1)
    col, row = (g.ravel() for g in np.meshgrid(cols, rows, indexing="ij"))
    cx = dx * col
    cy = dy * (row + 0.5 * (col % 2))
    angles = np.deg2rad(np.arange(0, 360, 60))
    ring = np.stack(
        [cx[:, None] + a * np.cos(angles)[None, :], cy[:, None] + a * np.sin(angles)[None, :]],
        axis=-1,
    )
    polys = shapely.polygons(np.concatenate([ring, ring[:, :1]], axis=1))
    keep = shapely.intersects(polys, shapely.box(xmin, ymin, xmax, ymax))
    col, row, polys = col[keep], row[keep], polys[keep]
    ids = [f"hex_{a:g}m_{c}_{r}" for c, r in zip(col, row, strict=True)]
    return gpd.GeoDataFrame(
        {
            "hex_id": pd.array(ids, dtype="string"),
            "hex_col": col.astype(np.int64),
            "hex_row": row.astype(np.int64),
            "hex_edge_m": a,
            "hex_area_m2": 1.5 * _SQRT3 * a * a,
        },
        geometry=polys,
        crs=crs,
    )


def hex_cells(
    x: npt.ArrayLike, y: npt.ArrayLike, size_m: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``(hex_col, hex_row)`` of the :func:`hex_grid` hexagon holding each point.

    Arithmetic, not a spatial join: the point's axial coordinates on the lattice are
    rounded to the nearest hexagon centre (cube rounding), so a million points take a
    fraction of a second. A point exactly on an edge goes to one of its two hexagons.

    Parameters
    ----------
    x, y
        Coordinates in metres in the grid's projected CRS.
    size_m
        Hexagon edge length in metres, as given to :func:`hex_grid`.
    """
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    q = (2.0 / 3.0) * xs / size_m
    r = (-xs / 3.0 + _SQRT3 / 3.0 * ys) / size_m
    s = -q - r
    rq, rr, rs = np.round(q), np.round(r), np.round(s)
    dq, dr, ds = np.abs(rq - q), np.abs(rr - r), np.abs(rs - s)
    fix_q = (dq > dr) & (dq > ds)
    fix_r = ~fix_q & (dr > ds)
    rq = np.where(fix_q, -rr - rs, rq)
    rr = np.where(fix_r, -rq - rs, rr)
    col = rq.astype(np.int64)
    # hex_grid puts centre (col, row) at y = √3·size·(row + ½·(col mod 2)); axially
    # y = √3·size·(r + q/2), hence row = r + ⌊q/2⌋.
    row = rr.astype(np.int64) + np.floor_divide(col, 2)
    return col, row


def count_points_in_polygons(
    points: gpd.GeoDataFrame, polygons: gpd.GeoDataFrame, *, by: str | None = None
) -> pd.Series | pd.DataFrame:
    """Count points per polygon, each point counted once.

    A point on the border of two polygons (a shared hexagon edge) goes to the first
    polygon in ``polygons`` order, so the counts sum to the number of points covered.

    Parameters
    ----------
    points, polygons
        Same CRS (any; no distances are measured).
    by
        Optional column of ``points`` (e.g. ``category``): one count column per value.

    Returns
    -------
    Series or DataFrame
        Aligned on ``polygons.index``: ``n_points`` (int), or one int column per value
        of ``by`` (sorted) when given. Points outside every polygon are not counted.
    """
    if points.crs != polygons.crs:
        raise CRSError(f"CRS différents : points {points.crs}, polygones {polygons.crs}.")
    left = points[[by, "geometry"]] if by else points[["geometry"]]
    left = left[left.geometry.notna() & ~left.geometry.is_empty]
    right = gpd.GeoDataFrame(
        {"_poly": np.arange(len(polygons))},
        geometry=polygons.geometry.to_numpy(),
        crs=polygons.crs,
    )
    joined = gpd.sjoin(left, right, how="inner", predicate="intersects")
    joined = joined.sort_values("_poly", kind="stable")
    joined = joined[~joined.index.duplicated(keep="first")]
    if by is None:
        counts = np.bincount(joined["_poly"].to_numpy(), minlength=len(polygons))
        return pd.Series(counts.astype(np.int64), index=polygons.index, name="n_points")
    table = pd.crosstab(joined["_poly"], joined[by]).reindex(range(len(polygons)), fill_value=0)
    table = table.reindex(sorted(table.columns, key=str), axis=1).astype(np.int64)
    table.index = polygons.index
    table.columns.name = None
    return table


def hex_aggregate(
    points: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    size_m: float,
    categories: Sequence[str],
) -> gpd.GeoDataFrame:
    """Reports and buildings per hexagon of a :func:`hex_grid` covering the buildings.

    The grid covers the buildings' bounds and one hexagon size around them. Each building
    belongs to the hexagon holding its centroid, each report point to the hexagon it falls
    in (:func:`hex_cells`, once each); points beyond the grid are not counted (compare
    ``n_reports`` with the number of points). Hexagons with
    neither a building nor a report are left out: they are outside the built-up study
    area, and keeping them would add structural zeros to the hotspot analysis.

    Rates follow the buildings' rule: a hexagon gets ``reports_per_100_dwellings`` only
    when the dwellings of **every** building in it are known — a sum over the known
    buildings only would understate the denominator and inflate the rate.

    Parameters
    ----------
    points
        Report points in a metric CRS, with a ``category`` column.
    buildings
        Footprints in the same CRS, with ``dwellings`` (float, NaN when unknown).
    size_m
        Hexagon edge length in metres.
    categories
        Category codes: one ``n_<code>`` column each, in this order.

    Returns
    -------
    GeoDataFrame
        In the buildings' CRS: the columns of :func:`hex_grid`, ``n_buildings``,
        ``n_buildings_dwellings_known``, ``dwellings`` (sum of the known ones),
        ``n_reports``, ``n_<code>`` per category and ``reports_per_100_dwellings``.
    """
    crs = buildings.crs
    require_metric(crs)
    if points.crs != crs:
        raise CRSError(f"CRS différents : points {points.crs}, bâtiments {crs}.")
    xmin, ymin, xmax, ymax = buildings.total_bounds
    # The grid covers the buildings and one hexagon around them; a report further out
    # (a stray coordinate) is not counted, rather than stretching the grid to reach it.
    bounds = (xmin - size_m, ymin - size_m, xmax + size_m, ymax + size_m)
    hexes = hex_grid(bounds, size_m, crs).reset_index(drop=True)
    # Position of each (col, row) in the grid, through one integer key.
    c0, r0 = int(hexes["hex_col"].min()), int(hexes["hex_row"].min())
    height = int(hexes["hex_row"].max()) - r0 + 1
    grid_keys = pd.Index((hexes["hex_col"] - c0) * height + (hexes["hex_row"] - r0))

    def position(px: FloatArray, py: FloatArray) -> npt.NDArray[np.intp]:
        col, row = hex_cells(px, py, size_m)
        inside = (row >= r0) & (row < r0 + height)
        keys = np.where(inside, (col - c0) * height + (row - r0), -1)
        return grid_keys.get_indexer(pd.Index(keys))

    n_hex = len(hexes)
    centroid = buildings.geometry.centroid
    b_pos = position(centroid.x.to_numpy(), centroid.y.to_numpy())
    dwell = pd.to_numeric(buildings["dwellings"], errors="coerce").to_numpy(dtype=float)
    on_grid = b_pos >= 0
    known = on_grid & (dwell > 0)
    p_pos = position(points.geometry.x.to_numpy(), points.geometry.y.to_numpy())
    cat_pos = pd.Index(list(categories)).get_indexer(pd.Index(points["category"].astype(str)))
    counted = (p_pos >= 0) & (cat_pos >= 0)
    by_cat = np.bincount(
        p_pos[counted] * len(categories) + cat_pos[counted], minlength=n_hex * len(categories)
    ).reshape(n_hex, len(categories))
    out = hexes.assign(
        n_buildings=np.bincount(b_pos[on_grid], minlength=n_hex),
        n_buildings_dwellings_known=np.bincount(b_pos[known], minlength=n_hex),
        dwellings=np.bincount(b_pos[known], weights=dwell[known], minlength=n_hex),
        n_reports=by_cat.sum(axis=1),
        **{f"n_{c}": by_cat[:, k] for k, c in enumerate(categories)},
    )
    complete = (out["n_buildings"] > 0) & (out["n_buildings_dwellings_known"] == out["n_buildings"])
    rate = 100.0 * out["n_reports"] / out["dwellings"].where(complete & (out["dwellings"] > 0))
    out["reports_per_100_dwellings"] = rate.astype(float)
    keep = (out["n_buildings"] > 0) | (out["n_reports"] > 0)
    return out[keep].reset_index(drop=True)
