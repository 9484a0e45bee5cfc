"""Tests of the kernel density, its contours and the hexagon grid against the kernel's
definition, hand-worked geometry (areas, rings) and known counts."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from pipelines.errors import CRSError
from pipelines.stats import density, hexgrid

# --------------------------------------------------------------------------------------
# Kernel density
# --------------------------------------------------------------------------------------

BOUNDS = (0.0, 0.0, 1000.0, 1000.0)


def test_kde_single_point_centre_value_and_mass():
    h, cell = 100.0, 10.0
    grid = density.quartic_kde([[505.0, 505.0]], bandwidth_m=h, cell_m=cell, bounds=BOUNDS)
    assert grid.density_per_ha.shape == (100, 100)
    assert grid.x[50] == 505.0
    assert grid.y[49] == 505.0
    # The point sits on a cell centre: exact kernel peak, 3/(π h²) per m² → × 10,000 / ha.
    assert grid.density_per_ha[49, 50] == pytest.approx(3 / (math.pi * h**2) * 1e4, rel=1e-9)
    assert grid.density_per_ha.max() == grid.density_per_ha[49, 50]
    # One report in, one report out (Σ density × cell area, in hectares).
    assert grid.total_reports == pytest.approx(1.0, rel=0.01)
    # Nothing beyond one bandwidth.
    assert grid.density_per_ha[49, 50 + 11] == 0.0


def test_kde_off_centre_point_and_weights_keep_mass():
    grid = density.quartic_kde(
        [[431.7, 612.2], [431.7, 612.2]],
        bandwidth_m=80.0,
        cell_m=10.0,
        bounds=BOUNDS,
        weights=[2.0, 1.5],
    )
    assert grid.total_reports == pytest.approx(3.5, rel=0.01)


def test_kde_matches_exact_sum_and_counts_points_outside_bounds():
    rng = np.random.default_rng(5)
    pts = np.vstack([rng.uniform(100, 900, (300, 2)), [[-40.0, 500.0]]])  # one west of the grid
    h = 100.0
    grid = density.quartic_kde(pts, bandwidth_m=h, cell_m=10.0, bounds=BOUNDS)
    cx, cy = np.meshgrid(grid.x, grid.y)
    exact = np.zeros_like(cx)
    for px, py in pts:  # the definition, point by point
        exact += density.quartic_kernel_per_m2(np.hypot(cx - px, cy - py), h) * 1e4
    assert np.abs(grid.density_per_ha - exact).max() < 0.02 * exact.max()
    # The point 40 m outside the western edge still shows on the first column.
    assert grid.density_per_ha[50, 0] > 0
    assert exact[50, 0] > 0


def test_kde_contours_rings_labels_and_areas():
    h, cell = 100.0, 5.0
    k0 = 3 / (math.pi * h**2) * 1e4  # kernel peak, per ha
    grid = density.quartic_kde(
        [[502.5, 502.5]], bandwidth_m=h, cell_m=cell, bounds=BOUNDS, weights=[8.0 / k0]
    )  # peak exactly 8 reports / ha
    out = density.kde_contours(grid, levels=[2.0, 4.0], crs="EPSG:2154")
    assert out.crs == "EPSG:2154"
    assert out["label"].tolist() == ["2 à 4 signalements / ha", "4 signalements / ha et plus"]
    assert out["density_min_per_ha"].tolist() == [2.0, 4.0]
    assert out["density_max_per_ha"].tolist() == [4.0, pytest.approx(8.0)]
    # 8·(1 − r²/h²)² = L  ⇔  r = h·√(1 − √(L/8)): r(2) = h/√2, r(4) = h·√(1 − 1/√2).
    r2, r4 = h / math.sqrt(2), h * math.sqrt(1 - 1 / math.sqrt(2))
    ring, disc = out.geometry.iloc[0], out.geometry.iloc[1]
    assert ring.area == pytest.approx(math.pi * (r2**2 - r4**2), rel=0.02)
    assert disc.area == pytest.approx(math.pi * r4**2, rel=0.02)
    polygons = list(getattr(ring, "geoms", [ring]))
    assert len(polygons) == 1
    assert len(polygons[0].interiors) == 1
    assert ring.is_valid
    assert disc.is_valid
    with pytest.raises(CRSError):
        density.kde_contours(grid, levels=[2.0], crs="EPSG:4326")


def test_kde_contours_default_levels_and_empty_grid():
    grid = density.quartic_kde(
        np.random.default_rng(2).uniform(300, 700, (500, 2)),
        bandwidth_m=80.0,
        cell_m=10.0,
        bounds=BOUNDS,
    )
    out = density.kde_contours(grid, crs="EPSG:2154")
    assert len(out) >= 2
    assert out["density_min_per_ha"].is_monotonic_increasing
    assert (out["density_min_per_ha"] > 0).all()
    assert out["label"].str.endswith("/ ha et plus").iloc[-1]
    empty = density.quartic_kde(np.empty((0, 2)), bandwidth_m=80.0, cell_m=10.0, bounds=BOUNDS)
    assert empty.total_reports == 0.0
    assert density.kde_contours(empty, crs="EPSG:2154").empty


# --------------------------------------------------------------------------------------
# Hexagons and counts
# --------------------------------------------------------------------------------------


def test_hex_grid_geometry_and_stable_ids():
    a = 100.0
    g1 = hexgrid.hex_grid((652_000.0, 6_862_000.0, 653_000.0, 6_863_000.0), a, "EPSG:2154")
    g2 = hexgrid.hex_grid((652_500.0, 6_862_500.0, 653_800.0, 6_863_400.0), a, "EPSG:2154")
    assert g1["hex_id"].is_unique
    common = sorted(set(g1["hex_id"]) & set(g2["hex_id"]))
    assert len(common) > 10
    a1 = g1.set_index("hex_id").loc[common, "geometry"]
    a2 = g2.set_index("hex_id").loc[common, "geometry"]
    assert all(shapely.equals_exact(a1.to_numpy(), a2.to_numpy(), tolerance=1e-6))
    assert (
        g1["hex_id"].tolist()
        == hexgrid.hex_grid((652_000.0, 6_862_000.0, 653_000.0, 6_863_000.0), a, "EPSG:2154")[
            "hex_id"
        ].tolist()
    )
    # Edge a: area (3√3/2)·a², corner-to-corner 2a across x, flat-to-flat √3·a across y.
    np.testing.assert_allclose(g1.area, 1.5 * math.sqrt(3) * a * a, rtol=1e-9)
    minx, miny, maxx, maxy = g1.geometry.iloc[0].bounds
    assert (maxx - minx, maxy - miny) == (pytest.approx(2 * a), pytest.approx(math.sqrt(3) * a))
    # They tile the box: cover it, without overlap.
    box = shapely.box(652_000.0, 6_862_000.0, 653_000.0, 6_863_000.0)
    union = shapely.union_all(g1.geometry.to_numpy())
    assert box.difference(union).area < 1e-6
    assert union.area == pytest.approx(g1.area.sum(), rel=1e-9)


def test_hex_cells_is_the_hexagon_that_contains_the_point():
    a = 37.5
    bounds = (652_000.0, 6_862_000.0, 653_000.0, 6_862_700.0)
    grid = hexgrid.hex_grid(bounds, a, "EPSG:2154")
    rng = np.random.default_rng(8)
    x = rng.uniform(bounds[0], bounds[2], 5000)
    y = rng.uniform(bounds[1], bounds[3], 5000)
    col, row = hexgrid.hex_cells(x, y, a)
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs="EPSG:2154")
    joined = gpd.sjoin(points, grid, predicate="within", how="left")
    assert joined.index.is_unique  # no point on an edge in this draw
    np.testing.assert_array_equal(col, joined["hex_col"].to_numpy())
    np.testing.assert_array_equal(row, joined["hex_row"].to_numpy())


def test_count_points_in_polygons_once_each_and_by_category():
    polygons = gpd.GeoDataFrame(
        geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)],
        index=pd.Index(["west", "east"]),
        crs="EPSG:2154",
    )
    points = gpd.GeoDataFrame(
        {"category": ["a", "b", "a", "a"]},
        geometry=shapely.points([[0.5, 0.5], [1.0, 0.5], [1.5, 0.5], [5.0, 5.0]]),
        crs="EPSG:2154",
    )  # the 2nd sits on the shared edge, the 4th outside
    counts = hexgrid.count_points_in_polygons(points, polygons)
    assert counts.to_dict() == {"west": 2, "east": 1}
    table = hexgrid.count_points_in_polygons(points, polygons, by="category")
    assert table.to_dict() == {"a": {"west": 1, "east": 1}, "b": {"west": 1, "east": 0}}
    with pytest.raises(CRSError):
        hexgrid.count_points_in_polygons(points.to_crs("EPSG:4326"), polygons)


def test_kde_cells_are_the_positive_cells_with_their_mass():
    grid = density.quartic_kde(
        [[505.0, 505.0], [300.0, 720.0]], bandwidth_m=60.0, cell_m=10.0, bounds=BOUNDS
    )
    cells = density.kde_cells(grid, crs="EPSG:2154")
    assert len(cells) == int((grid.density_per_ha > 0).sum())
    assert (cells["density_per_ha"] > 0).all()
    np.testing.assert_allclose(cells.area, 100.0)  # 10 m squares
    # Σ density × cell area (ha) = the two reports.
    assert (cells["density_per_ha"] * cells.area / 1e4).sum() == pytest.approx(2.0, rel=0.01)
    peak = cells.loc[cells["density_per_ha"].idxmax(), "geometry"]
    assert peak.contains(shapely.Point(505.0, 505.0))
    with pytest.raises(CRSError):
        density.kde_cells(grid, crs="EPSG:4326")


def test_hex_aggregate_counts_buildings_reports_and_complete_rates():
    a = 100.0
    hexes = hexgrid.hex_grid((0.0, 0.0, 600.0, 600.0), a, "EPSG:2154")
    h1, h2 = hexes.geometry.iloc[10], hexes.geometry.iloc[20]
    c1, c2 = h1.centroid, h2.centroid
    sq = lambda c, dx: shapely.box(c.x + dx - 5, c.y - 5, c.x + dx + 5, c.y + 5)  # noqa: E731
    buildings = gpd.GeoDataFrame(
        {"dwellings": [30.0, 20.0, 50.0, np.nan]},
        geometry=[sq(c1, -20), sq(c1, 20), sq(c2, -20), sq(c2, 20)],
        crs="EPSG:2154",
    )
    points = gpd.GeoDataFrame(
        {"category": ["ascenseur", "ascenseur", "proprete", "proprete", "autre"]},
        geometry=[c1, c1, c1, c2, shapely.Point(5000.0, 5000.0)],  # the last far away
        crs="EPSG:2154",
    )
    out = hexgrid.hex_aggregate(
        points, buildings, size_m=a, categories=["ascenseur", "proprete", "autre"]
    ).set_index("hex_id")
    first, second = hexes["hex_id"].iloc[10], hexes["hex_id"].iloc[20]
    assert out.loc[first, "n_buildings"] == 2
    assert out.loc[first, "n_reports"] == 3
    assert out.loc[first, "n_ascenseur"] == 2
    assert out.loc[first, "dwellings"] == 50.0
    # Every building's dwellings known: 3 reports / 50 dwellings.
    assert out.loc[first, "reports_per_100_dwellings"] == pytest.approx(6.0)
    # One building of two with unknown dwellings: no rate rather than an inflated one.
    assert out.loc[second, "n_buildings_dwellings_known"] == 1
    assert np.isnan(out.loc[second, "reports_per_100_dwellings"])
    # Hexagons with neither building nor report are left out; a stray report 5 km away
    # is not counted (the grid does not stretch to reach it).
    assert ((out["n_buildings"] > 0) | (out["n_reports"] > 0)).all()
    assert out["n_reports"].sum() == 4
    assert len(out) == 2
