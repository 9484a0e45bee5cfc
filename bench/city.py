"""A synthetic city of at least 100,000 real building footprints, and reports over it.

The real Bondy Nord and Paris 10e extracts are tiled: each copy is offset in Lambert-93
by a whole number of tile sizes, so every building keeps its real shape and its
neighbourhood; ids get a tile prefix (``t12:way/123``). Reports are drawn inside
buildings (90 %), a few metres outside (7 %) or far from any (3 %), with a seeded RNG.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely import affinity

from pipelines.crs import LAMBERT93
from pipelines.osm.buildings import read_osm_buildings

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class City:
    """Footprints (EPSG:2154) and the tile count."""

    buildings: gpd.GeoDataFrame
    tiles: int


def _base() -> gpd.GeoDataFrame:
    parts = []
    offset_x = 0.0
    for site, osm in (("b", "bondy/bondy_nord.osm"), ("p", "paris10/paris10.osm")):
        b = read_osm_buildings(ROOT / "data" / "raw" / osm).to_crs(LAMBERT93)
        minx, miny, _, _ = b.total_bounds
        b["geometry"] = b.geometry.translate(-minx + offset_x, -miny)
        b["building_id"] = site + ":" + b["building_id"]
        offset_x = b.total_bounds[2] + 100.0
        parts.append(b[["building_id", "geometry"]])
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=LAMBERT93)


def synthetic_city(
    min_buildings: int = 100_000, *, origin: tuple[float, float] = (640_000, 6_850_000)
) -> City:
    """Tile the real extracts until there are at least ``min_buildings`` footprints."""
    base = _base()
    minx, miny, maxx, maxy = base.total_bounds
    w, h = maxx - minx + 100.0, maxy - miny + 100.0
    tiles = int(np.ceil(min_buildings / len(base)))
    cols = int(np.ceil(np.sqrt(tiles)))
    geoms = base.geometry.to_numpy()
    parts = []
    for t in range(tiles):
        dx = origin[0] + (t % cols) * w
        dy = origin[1] + (t // cols) * h
        moved = [affinity.translate(g, dx, dy) for g in geoms]
        parts.append(
            gpd.GeoDataFrame(
                {"building_id": f"t{t}:" + base["building_id"]}, geometry=moved, crs=LAMBERT93
            )
        )
    city = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=LAMBERT93)
    log.info("synthetic city: %d buildings in %d tiles", len(city), tiles)
    return City(city, tiles)


def synthetic_points(city: City, n: int, *, seed: int = 1) -> gpd.GeoSeries:
    """``n`` report points: 90 % in buildings, 7 % within 20 m, 3 % far from any."""
    rng = np.random.default_rng(seed)
    b = city.buildings
    idx = rng.integers(0, len(b), n)
    rp = b.geometry.representative_point().to_numpy()
    x = np.array([p.x for p in rp])[idx]
    y = np.array([p.y for p in rp])[idx]
    kind = rng.random(n)
    near = (kind >= 0.90) & (kind < 0.97)
    far = kind >= 0.97
    bx0, by0, _bx1, by1 = b.total_bounds
    ang = rng.uniform(0, 2 * np.pi, n)
    x = np.where(near, x + 20 * np.cos(ang), x)
    y = np.where(near, y + 20 * np.sin(ang), y)
    x = np.where(far, rng.uniform(bx0 - 2000, bx0 - 100, n), x)
    y = np.where(far, rng.uniform(by0, by1, n), y)
    return gpd.GeoSeries(gpd.points_from_xy(x, y), crs=LAMBERT93)
