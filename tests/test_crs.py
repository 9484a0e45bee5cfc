"""The metric CRS follows metropolitan France's real outline, not a rectangle; the one
repair of drawn and downloaded shapes gives them valid, of one kind, 2D, never a
collection."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point

from pipelines.crs import (
    LAMBERT93,
    WGS84,
    in_metropolitan_france,
    metric_crs_for,
    metric_crs_of,
    repaired_geometry,
)
from pipelines.geocode.duplicates import link_likely_duplicates

# (lon, lat) of places, and the CRS each must get.
PLACES = {
    "Paris (Notre-Dame)": ((2.3499, 48.8530), LAMBERT93),
    "Bondy (Noue-Caillet)": ((2.4840, 48.9090), LAMBERT93),
    "Ajaccio (Corse)": ((8.7369, 41.9192), LAMBERT93),
    "Marseille (Vieux-Port, sur l'eau)": ((5.3660, 43.2950), LAMBERT93),
    "Brest (port)": ((-4.4944, 48.3806), LAMBERT93),
    "Menton (frontière italienne)": ((7.5003, 43.7764), LAMBERT93),
    "Strasbourg": ((7.7521, 48.5734), LAMBERT93),
    "Monaco (Monte-Carlo)": ((7.4246, 43.7384), "EPSG:32632"),
    "Genève": ((6.1432, 46.2044), "EPSG:32632"),
    "Bruxelles": ((4.3517, 50.8503), "EPSG:32631"),
    "Barcelone": ((2.1734, 41.3851), "EPSG:32631"),
    "Bâle": ((7.5886, 47.5596), "EPSG:32632"),
    "Kehl (face à Strasbourg)": ((7.8148, 48.5708), "EPSG:32632"),
    "Francfort": ((8.6821, 50.1109), "EPSG:32632"),
    "Douvres": ((1.3134, 51.1279), "EPSG:32631"),
    "Pointe-à-Pitre (Guadeloupe)": ((-61.5331, 16.2411), "EPSG:32620"),
    "New York": ((-73.9857, 40.7484), "EPSG:32618"),
    "Saint-Denis (La Réunion)": ((55.4481, -20.8789), "EPSG:32740"),
    "Sydney": ((151.2093, -33.8688), "EPSG:32756"),
}


@pytest.mark.parametrize("place", PLACES)
def test_metric_crs_of_a_place(place: str) -> None:
    (lon, lat), expected = PLACES[place]
    assert metric_crs_for(lon, lat) == expected
    assert in_metropolitan_france(lon, lat) == (expected == LAMBERT93)


def test_metric_crs_of_a_frame_in_any_crs() -> None:
    """A frame is placed by the centre of its bounds, whatever CRS it is stored in."""
    geneva = gpd.GeoSeries([Point(6.140, 46.200), Point(6.150, 46.210)], crs=WGS84)
    assert metric_crs_of(geneva) == "EPSG:32632"
    assert metric_crs_of(geneva.to_crs(LAMBERT93)) == "EPSG:32632"
    bondy = gpd.GeoSeries([Point(2.478, 48.907), Point(2.491, 48.913)], crs=WGS84)
    assert metric_crs_of(bondy.to_crs("EPSG:32631")) == LAMBERT93


def _pair(lon: float, lat: float, dx_m: float) -> gpd.GeoDataFrame:
    """Two reports of the same category an hour apart, ``dx_m`` metres apart east-west."""
    here = gpd.GeoSeries([Point(lon, lat)], crs=WGS84)
    metric = metric_crs_of(here)
    p = here.to_crs(metric).iloc[0]
    points = gpd.GeoSeries([p, Point(p.x + dx_m, p.y)], crs=metric).to_crs(WGS84)
    return gpd.GeoDataFrame(
        {
            "report_id": ["a", "b"],
            "category": ["encombrants", "encombrants"],
            "reported_at": pd.to_datetime(["2024-05-01 10:00", "2024-05-01 11:00"]),
        },
        geometry=points.to_numpy(),
        crs=WGS84,
    )


@pytest.mark.parametrize(
    "where", [(2.484, 48.909), (-61.5331, 16.2411), (55.4481, -20.8789), (-73.9857, 40.7484)]
)
def test_likely_duplicates_measure_metres_where_the_site_is(where: tuple[float, float]) -> None:
    """28 m apart is within 30 m and 32 m is not, in Bondy, Pointe-à-Pitre, Saint-Denis de
    La Réunion and New York alike (Lambert-93 stretches metres far from its standard
    parallels: in the tropics and the southern hemisphere 28 m no longer measure 28 m)."""
    assert link_likely_duplicates(_pair(*where, 28.0), distance_m=30.0).tolist()[1] == "a"
    assert link_likely_duplicates(_pair(*where, 32.0), distance_m=30.0).isna().all()


# --------------------------------------------------------------------------- repair
BOWTIE = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1), (0, 0)])
SQUARE = shapely.box(2, 0, 3, 1)
# A ring drawn out and back along one edge: make_valid gives a polygon and a line.
SPIKE = shapely.Polygon([(0, 0), (1, 0), (1, 1), (2, 3), (1, 1), (0, 1), (0, 0)])
FLAT = shapely.Polygon([(0, 0), (1, 0), (2, 0), (0, 0)])  # no surface: a line once valid


def test_a_bowtie_keeps_its_two_triangles() -> None:
    fixed = repaired_geometry(BOWTIE, kind="polygon")
    assert fixed.is_valid
    assert fixed.geom_type == "MultiPolygon"
    assert fixed.area == pytest.approx(0.5)


def test_a_spike_leaves_a_polygon_not_a_collection() -> None:
    assert shapely.make_valid(SPIKE).geom_type == "GeometryCollection"
    for kind in (None, "polygon"):
        fixed = repaired_geometry(SPIKE, kind=kind)  # type: ignore[arg-type]
        assert fixed.geom_type == "Polygon"
        assert fixed.area == pytest.approx(1.0)
    assert repaired_geometry(SPIKE, kind="line").geom_type in ("LineString", "MultiLineString")


def test_a_ring_with_no_surface_is_its_line_or_an_empty_polygon() -> None:
    assert repaired_geometry(FLAT).geom_type in ("LineString", "MultiLineString")
    empty = repaired_geometry(FLAT, kind="polygon")
    assert empty.geom_type == "Polygon"
    assert empty.is_empty


def test_heights_are_dropped_and_valid_shapes_kept() -> None:
    z = shapely.Point(2.48, 48.91, 57.0)
    assert not repaired_geometry(z).has_z
    assert repaired_geometry(z).equals(shapely.Point(2.48, 48.91))
    assert repaired_geometry(SQUARE, kind="polygon") is SQUARE  # nothing to do: the same


def test_a_collection_keeps_its_parts_of_the_kind_asked_or_its_highest() -> None:
    mixed = shapely.GeometryCollection(
        [shapely.Point(5, 5), SQUARE, shapely.LineString([(0, 0), (9, 9)])]
    )
    assert repaired_geometry(mixed).equals(SQUARE)
    assert repaired_geometry(mixed, kind="point").equals(shapely.Point(5, 5))
    assert repaired_geometry(shapely.GeometryCollection()).geom_type != "GeometryCollection"


def test_an_array_is_repaired_aligned_with_its_missing_values() -> None:
    series = gpd.GeoSeries([BOWTIE, None, SQUARE, shapely.Point(1, 1)], crs="EPSG:4326")
    fixed = repaired_geometry(series, kind="polygon")
    assert isinstance(fixed, np.ndarray)
    assert len(fixed) == 4
    assert fixed[1] is None
    assert fixed[0].area == pytest.approx(0.5)
    assert fixed[2].equals(SQUARE)
    assert fixed[3].geom_type == "Polygon"
    assert fixed[3].is_empty
    assert all(g.geom_type != "GeometryCollection" for g in fixed[[0, 2, 3]])
