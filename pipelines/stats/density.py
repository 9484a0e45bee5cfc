"""Kernel density and density contours: the smooth layers of the hotspot stage.

Pure functions over numpy arrays and GeoDataFrames, no file I/O; the ``hotspots`` stage
reads, calls these and writes. Every length is in metres in a projected CRS (Lambert-93,
EPSG:2154, in metropolitan France): the frame functions refuse a geographic CRS.

Methods (DOMAIN.md, the maintainers' guidance; cited in each run's method note):

- **Kernel density**: quartic (biweight) kernel, bandwidth in metres, reports per
  hectare, by linear binning and one FFT convolution (Wand 1994).
- **Contours**: filled bands from contourpy, one (Multi)Polygon per band, holes kept.
The hexagon grids live in :mod:`pipelines.stats.hexgrid`; the Getis-Ord Gi* statistics,
FDR bins and distance band in :mod:`pipelines.stats.gistar`.
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
