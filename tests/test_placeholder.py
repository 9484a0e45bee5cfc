"""Placeholder coordinates: a point shared by many reports whose addresses differ is
no location. Its reports are geocoded by address and never linked as likely duplicates
through it. Built on the real DansMaRue reports of Paris 10e."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

from pipelines.cli import run_site_stages
from pipelines.config import load_config
from pipelines.geocode.stage import placeholder_points
from pipelines.io import read_geoparquet
from pipelines.osm.buildings import read_osm_bounds

RAW = Path(__file__).resolve().parents[1] / "data" / "raw" / "paris10"
CSV = RAW / "dansmarue_paris_2023-08_2024-09.csv"
OSM = RAW / "paris10.osm"
PLANTED = 12


def _inside(frame: pd.DataFrame) -> pd.DataFrame:
    """The reports whose point lies in the extract's bounds (about 109 of 10,000)."""
    west, south, east, north = read_osm_bounds(OSM)
    lonlat = frame["geo_point_2d"].str.extract(r"'lon': ([-0-9.]+), 'lat': ([-0-9.]+)")
    lon, lat = lonlat[0].astype(float), lonlat[1].astype(float)
    return frame[lon.between(west, east) & lat.between(south, north)]


def _variant(tmp_path: Path, *, same_address: bool) -> tuple[Path, list[str]]:
    """A copy of the export where PLANTED reports inside the area (distinct addresses)
    are moved onto one point, given one category and one day; and a one-site config."""
    raw = pd.read_csv(CSV, dtype=str, keep_default_na=False)
    inside = _inside(raw).drop_duplicates("adresse")
    assert len(inside) >= PLANTED
    chosen = inside.index[:PLANTED]
    west, south, east, north = read_osm_bounds(OSM)
    lon, lat = (west + east) / 2, (south + north) / 2
    raw.loc[chosen, "geo_point_2d"] = f"{{'lon': {lon}, 'lat': {lat}}}"
    raw.loc[chosen, "type"] = "Objets abandonnés"
    raw.loc[chosen, "datedecl"] = "2024-03-05"
    if same_address:
        raw.loc[chosen, "adresse"] = raw.loc[chosen[0], "adresse"]
    src = tmp_path / "dansmarue.csv"
    raw.to_csv(src, index=False)
    demo = (Path(__file__).resolve().parents[1] / "config" / "demo.toml").read_text("utf-8")
    paris = demo[demo.index('[[sites]]\nid = "paris10"') :]
    paris = paris.replace("data/raw/paris10/dansmarue_paris_2023-08_2024-09.csv", str(src))
    paris = paris.replace("data/raw/paris10/paris10.osm", str(OSM))
    cfg = tmp_path / "site.toml"
    cfg.write_text(
        "[project]\n"
        f'processed_dir = "{tmp_path / "processed"}"\n'
        f'maps_dir = "{tmp_path / "maps"}"\n'
        f'annotations_dir = "{tmp_path / "annotations"}"\n\n' + paris,
        encoding="utf-8",
    )
    return cfg, raw.loc[chosen, "id_dmr"].tolist()


@pytest.fixture(scope="module")
def geocoded(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, tuple[pd.DataFrame, dict]]:
    """Per variant (distinct addresses or one address): the planted reports after the
    geocoding stage, and the stage's summary."""
    out = {}
    for same in (False, True):
        tmp = tmp_path_factory.mktemp(f"placeholder_{same}")
        cfg, ids = _variant(tmp, same_address=same)
        config = load_config(cfg)
        paths = run_site_stages(config, config.sites[0], through="geocode")
        reports = read_geoparquet(paths.reports)
        planted = reports[reports["report_id"].isin([f"dansmarue:{i}" for i in ids])]
        out[same] = (planted, json.loads(paths.geocode_summary.read_text("utf-8")))
    return out


def test_pure_function_on_real_points() -> None:
    """On the export as published, no point is a placeholder; one point given to
    PLANTED reports with distinct addresses is, and only those."""
    raw = pd.read_csv(CSV, dtype=str, keep_default_na=False)
    lonlat = raw["geo_point_2d"].str.extract(r"'lon': ([-0-9.]+), 'lat': ([-0-9.]+)")
    frame = gpd.GeoDataFrame(
        {"address": raw["adresse"]},
        geometry=gpd.points_from_xy(lonlat[0].astype(float), lonlat[1].astype(float)),
        crs="EPSG:4326",
    )
    assert not placeholder_points(frame).any()
    moved = frame.copy()
    chosen = moved.drop_duplicates("address").index[:PLANTED]
    moved.loc[chosen, "geometry"] = Point(2.35, 48.87)
    flags = placeholder_points(moved)
    assert flags.sum() == PLANTED
    assert flags[chosen].all()
    # The same point with one address is a real place reported often, not a placeholder.
    moved.loc[chosen, "address"] = moved.loc[chosen[0], "address"]
    assert not placeholder_points(moved).any()


def test_placeholder_reports_are_geocoded_by_address(geocoded: dict) -> None:
    planted, summary = geocoded[False]
    assert len(planted) == PLANTED
    assert summary["placeholder_points"] == PLANTED
    assert planted["is_placeholder_point"].all()
    # The shared point was not used: no report is placed by it.
    assert not planted["geocode_method"].isin(["point_in_building", "nearest_building"]).any()
    # No report keeps the shared point as its location.
    west, south, east, north = read_osm_bounds(OSM)
    shared = Point((west + east) / 2, (south + north) / 2)
    assert not planted.geometry.dropna().geom_equals_exact(shared, tolerance=1e-9).any()
    # Same category, same day, same point: without the rule all would be linked to the
    # first. With it, a link stands on what the addresses gave: the same building, or
    # address points within the duplicate distance (30 m, measured in Lambert-93).
    linked = planted[planted["duplicate_of"].notna()]
    assert len(linked) < PLANTED - 1
    metric = planted.set_index("report_id").to_crs("EPSG:2154")
    for _, row in linked.iterrows():
        first = metric.loc[row["duplicate_of"]]
        here = metric.loc[row["report_id"]]
        same_building = (
            pd.notna(here["building_id"]) and here["building_id"] == first["building_id"]
        )
        assert same_building or here.geometry.distance(first.geometry) <= 30.0


def test_a_shared_point_with_one_address_is_kept(geocoded: dict) -> None:
    planted, summary = geocoded[True]
    assert len(planted) == PLANTED
    assert summary["placeholder_points"] == 0
    assert not planted["is_placeholder_point"].any()
