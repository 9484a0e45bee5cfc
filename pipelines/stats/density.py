"""Kernel density, density contours and hexagon grids: the spatial layers of the hotspot stage.

Pure functions over numpy arrays and GeoDataFrames, no file I/O; the ``hotspots`` stage
reads, calls these and writes. Every length is in metres in a projected CRS (Lambert-93,
EPSG:2154, in metropolitan France): the frame functions refuse a geographic CRS.

Methods (DOMAIN.md, the maintainers' guidance; cited in each run's method note):

- **Kernel density**: quartic (biweight) kernel, bandwidth in metres, reports per
  hectare, by linear binning and one FFT convolution (Wand 1994).
- **Contours**: filled bands from contourpy, one (Multi)Polygon per band, holes kept.
- **Hexagons**: flat-topped regular hexagons anchored at the CRS origin, so their ids are
  stable across runs and sites; points are counted once each.

The Getis-Ord Gi* statistics, FDR bins and distance band live in
:mod:`pipelines.stats.gistar`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from scipy import signal

from pipelines.crs import require_metric
from pipelines.errors import CRSError
from pipelines.fr import fr_number

FloatArray = npt.NDArray[np.floating]

# --------------------------------------------------------------------------------------
# Kernel density
# --------------------------------------------------------------------------------------

_M2_PER_HA = 10_000.0


@dataclass(frozen=True, eq=False)
class KdeGrid:
    """A kernel density surface on a regular grid (no CRS attached: metres, the caller's).

    Attributes
    ----------
    x
        Cell-centre x coordinates, ascending (``nx``).
    y
        Cell-centre y coordinates, **descending** (``ny``): row 0 is the northern edge,
        as in a north-up raster image.
    density_per_ha
        ``ny × nx`` density in reports per hectare (weighted reports if weights given).
    transform
        Affine coefficients ``(a, b, c, d, e, f)`` in rasterio/GDAL order mapping
        (col, row) of the cell corner to (x, y): ``x = a·col + c``, ``y = e·row + f``.
    cell_m, bandwidth_m
        Cell size and kernel bandwidth, in metres.
    n_points
        Points that fell within one bandwidth of the grid (the others cannot reach it).
    """

    x: FloatArray
    y: FloatArray
    density_per_ha: FloatArray
    transform: tuple[float, float, float, float, float, float]
    cell_m: float
    bandwidth_m: float
    n_points: int

    @property
    def cell_area_ha(self) -> float:
        return self.cell_m**2 / _M2_PER_HA

    @property
    def total_reports(self) -> float:
        """Integral of the density over the grid (reports): Σ density × cell area."""
        return float(self.density_per_ha.sum() * self.cell_area_ha)


def quartic_kernel_per_m2(distance_m: npt.ArrayLike, bandwidth_m: float) -> FloatArray:
    """Quartic (biweight) kernel ``K(d) = 3/(π h²)·(1 − d²/h²)²`` for d < h, else 0.

    It integrates to 1 over the plane, so it is a density per m² for one report.
    """
    d = np.asarray(distance_m, dtype=float)
    u2 = (d / bandwidth_m) ** 2
    return np.where(u2 < 1.0, 3.0 / (math.pi * bandwidth_m**2) * (1.0 - u2) ** 2, 0.0)


def quartic_kde(
    points_xy: npt.ArrayLike,
    *,
    bandwidth_m: float,
    cell_m: float,
    bounds: tuple[float, float, float, float],
    weights: npt.ArrayLike | None = None,
) -> KdeGrid:
    """Quartic kernel density of points, in reports per hectare, on a regular grid.

    ``density(c) = Σ_i w_i K(|c − p_i|) × 10,000`` at each cell centre c, with
    ``K`` from :func:`quartic_kernel_per_m2`.

    Computed by *linear binning* then an FFT convolution (Wand 1994), not point by
    point: each point's weight is shared between the 4 surrounding cell centres
    (bilinear weights, so mass and centre of mass are kept), and the binned grid is
    convolved once with the kernel sampled at the cell offsets. Cost is
    O(points + cells·log cells) whatever the bandwidth — 1 million points on a 40 km²
    grid at 10 m take a fraction of a second — where the exact sum costs
    O(points × cells within h) (≈10⁹ kernel evaluations for the same case). The error
    is second order in ``cell_m / bandwidth_m``; a point lying on a cell centre is
    exact. Keep ``bandwidth_m ≥ 5·cell_m``.

    Points outside ``bounds`` but within one bandwidth still contribute (the grid is
    padded internally), so the density does not fall off artificially at the edges.

    Parameters
    ----------
    points_xy
        ``n × 2`` point coordinates in metres in a projected CRS.
    bandwidth_m
        Kernel radius h, in metres.
    cell_m
        Cell size, in metres.
    bounds
        ``(xmin, ymin, xmax, ymax)`` of the area to map, same CRS; the grid starts at
        (xmin, ymax) and covers it with whole cells.
    weights
        Optional non-negative weight per point (default 1: one report).

    Returns
    -------
    KdeGrid
    """
    if not (bandwidth_m > 0 and cell_m > 0):
        raise ValueError("bandwidth_m et cell_m doivent être positifs.")
    xmin, ymin, xmax, ymax = (float(v) for v in bounds)
    if not (xmax > xmin and ymax > ymin):
        raise ValueError(f"Emprise vide ou inversée : {bounds}.")
    pts = np.asarray(points_xy, dtype=float).reshape(-1, 2)
    w = np.ones(len(pts)) if weights is None else np.asarray(weights, dtype=float).reshape(-1)
    if len(w) != len(pts):
        raise ValueError(f"{len(w)} poids pour {len(pts)} points.")
    keep = np.isfinite(pts).all(axis=1) & np.isfinite(w)
    if (w[keep] < 0).any():
        raise ValueError("Les poids doivent être positifs ou nuls.")
    pts, w = pts[keep], w[keep]

    nx = max(1, math.ceil((xmax - xmin) / cell_m - 1e-9))
    ny = max(1, math.ceil((ymax - ymin) / cell_m - 1e-9))
    r = math.ceil(bandwidth_m / cell_m)
    pad_nx, pad_ny = nx + 2 * r, ny + 2 * r
    # Continuous (col, row) of each point on the padded grid, where cell centres are
    # at integer positions; row 0 is the northern edge.
    u = (pts[:, 0] - (xmin - r * cell_m)) / cell_m - 0.5
    v = ((ymax + r * cell_m) - pts[:, 1]) / cell_m - 0.5
    inside = (u > -1) & (u < pad_nx) & (v > -1) & (v < pad_ny)
    u, v, w = u[inside], v[inside], w[inside]
    c0, r0 = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
    fu, fv = u - c0, v - r0
    binned = np.zeros(pad_ny * pad_nx)
    for dc, dr, share in (
        (0, 0, (1 - fu) * (1 - fv)),
        (1, 0, fu * (1 - fv)),
        (0, 1, (1 - fu) * fv),
        (1, 1, fu * fv),
    ):
        cc, rr = c0 + dc, r0 + dr
        ok = (cc >= 0) & (cc < pad_nx) & (rr >= 0) & (rr < pad_ny)
        binned += np.bincount(
            rr[ok] * pad_nx + cc[ok], weights=(w * share)[ok], minlength=pad_ny * pad_nx
        )
    offsets = np.arange(-r, r + 1) * cell_m
    stencil = quartic_kernel_per_m2(np.hypot(*np.meshgrid(offsets, offsets)), bandwidth_m)
    smooth = signal.fftconvolve(binned.reshape(pad_ny, pad_nx), stencil * _M2_PER_HA, mode="same")
    density = smooth[r : r + ny, r : r + nx]
    # FFT round-off leaves ±1e-16-sized values where there is no point: make them 0.
    density = np.where(density > 1e-9 * max(float(stencil.max()) * _M2_PER_HA, 1.0), density, 0.0)
    x_centres = xmin + (np.arange(nx) + 0.5) * cell_m
    y_centres = ymax - (np.arange(ny) + 0.5) * cell_m
    return KdeGrid(
        x=x_centres,
        y=y_centres,
        density_per_ha=np.ascontiguousarray(density),
        transform=(cell_m, 0.0, xmin, 0.0, -cell_m, ymax),
        cell_m=float(cell_m),
        bandwidth_m=float(bandwidth_m),
        n_points=int(inside.sum()),
    )


def _plural(value: float) -> str:
    return "signalements" if value >= 2 else "signalement"


def _fr_level(value: float) -> str:
    """A contour level in French: up to 3 significant digits, decimal comma."""
    if value == 0:
        return "0"
    decimals = max(0, 2 - math.floor(math.log10(abs(value))))
    text = fr_number(round(value, decimals), decimals)
    return text.rstrip("0").rstrip(",") if "," in text else text


def default_levels(max_density: float, n_bands: int = 5) -> list[float]:
    """Round contour levels above 0 and below ``max_density`` (matplotlib's nice ticks)."""
    from matplotlib.ticker import MaxNLocator

    if not max_density > 0:
        return []
    ticks = MaxNLocator(nbins=n_bands, steps=[1, 2, 2.5, 5, 10]).tick_values(0, max_density)
    return [float(t) for t in ticks if 0 < t < max_density]


def kde_contours(
    grid: KdeGrid, *, levels: Sequence[float] | None = None, crs: object
) -> gpd.GeoDataFrame:
    """Filled density contours as polygons (holes kept), one row per density band.

    Bands are ``[levels[i], levels[i+1])`` and, last, ``[levels[-1], max]``. Polygons
    come from contourpy — the engine behind matplotlib's ``contourf`` — called directly
    with ``fill_type="OuterOffset"``, which returns each polygon's outer ring with its
    own holes, so no ring-nesting has to be guessed from paths and no figure is made.

    Parameters
    ----------
    grid
        Output of :func:`quartic_kde`.
    levels
        Increasing density levels in reports per hectare; default: round values from
        :func:`default_levels` (0 excluded, so the empty background is not a band).
    crs
        The metric CRS of the grid's coordinates (e.g. ``"EPSG:2154"``).

    Returns
    -------
    GeoDataFrame
        In ``crs``: ``band`` (0 = lowest), ``density_min_per_ha``,
        ``density_max_per_ha`` (the grid maximum for the top band), ``label``
        (French, e.g. ``"2 à 5 signalements / ha"``, ``"10 signalements / ha et plus"``)
        and a (Multi)Polygon ``geometry``. Bands with no area are left out.
    """
    import contourpy

    require_metric(crs)
    z = grid.density_per_ha[::-1]  # contourpy wants y ascending
    y = grid.y[::-1]
    vmax = float(grid.density_per_ha.max()) if grid.density_per_ha.size else 0.0
    lv = default_levels(vmax) if levels is None else [float(v) for v in levels]
    if any(b <= a for a, b in itertools.pairwise(lv)):
        raise ValueError(f"Niveaux non croissants : {lv}.")
    lv = [v for v in lv if v < vmax]
    rows: list[dict[str, object]] = []
    if lv and grid.density_per_ha.shape[0] >= 2 and grid.density_per_ha.shape[1] >= 2:
        gen = contourpy.contour_generator(grid.x, y, z, fill_type="OuterOffset")
        top = np.nextafter(vmax, np.inf)
        for band, lower in enumerate(lv):
            is_top = band == len(lv) - 1
            upper = top if is_top else lv[band + 1]
            # OuterOffset: a list of point arrays and a list of ring-offset arrays.
            filled = cast(
                tuple[list[FloatArray], list[npt.NDArray[np.integer]]], gen.filled(lower, upper)
            )
            points, offsets = filled
            polys = [
                shapely.Polygon(
                    pts[off[0] : off[1]],
                    [pts[a:b] for a, b in itertools.pairwise(off[1:])],
                )
                for pts, off in zip(points, offsets, strict=True)
            ]
            polys = [p for p in polys if not p.is_empty and p.area > 0]
            if not polys:
                continue
            geom = shapely.make_valid(shapely.MultiPolygon(polys))
            if is_top:
                label = f"{_fr_level(lower)} {_plural(lower)} / ha et plus"
            else:
                label = f"{_fr_level(lower)} à {_fr_level(upper)} {_plural(upper)} / ha"
            rows.append(
                {
                    "band": band,
                    "density_min_per_ha": lower,
                    "density_max_per_ha": vmax if is_top else upper,
                    "label": label,
                    "geometry": geom,
                }
            )
    columns = ["band", "density_min_per_ha", "density_max_per_ha", "label", "geometry"]
    frame = pd.DataFrame(rows, columns=columns)
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=crs)


def kde_cells(grid: KdeGrid, *, crs: object) -> gpd.GeoDataFrame:
    """The grid's cells with a positive density, as square polygons.

    Parameters
    ----------
    grid
        Output of :func:`quartic_kde`.
    crs
        The metric CRS of the grid's coordinates (e.g. ``"EPSG:2154"``).

    Returns
    -------
    GeoDataFrame
        In ``crs``, one row per cell with ``density_per_ha > 0``, north to south then
        west to east: ``density_per_ha`` (reports per hectare at the cell centre),
        ``cell_m`` and a square ``geometry`` of side ``cell_m`` centred on the cell centre.
    """
    require_metric(crs)
    rows, cols = np.nonzero(grid.density_per_ha > 0)
    cx, cy = grid.x[cols], grid.y[rows]
    half = grid.cell_m / 2.0
    return gpd.GeoDataFrame(
        {"density_per_ha": grid.density_per_ha[rows, cols], "cell_m": grid.cell_m},
        geometry=shapely.box(cx - half, cy - half, cx + half, cy + half),
        crs=crs,
    )


# --------------------------------------------------------------------------------------
# Hexagons, counts, rates
# --------------------------------------------------------------------------------------

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
