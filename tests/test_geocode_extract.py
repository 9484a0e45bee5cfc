"""Reports whose landlord code names a building the footprint layer lacks (a clipped
extract, a building the buildings stage dropped, an out-of-date gazetteer) are placed on
no building, counted apart, and said so, instead of vanishing later from the maps."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

from pipelines.config import SiteConfig, site_settings
from pipelines.crs import WGS84
from pipelines.geocode.address_index import match_site, read_gazetteer
from pipelines.geocode.stage import geocode_site
from pipelines.osm.buildings import build_buildings_report
from tests.conftest import RAW
from tests.test_osm_reader import BONDY, clip

#: A box wider than tests/test_osm_reader.py's cut, still well inside the Bondy extract.
CUT = (2.4780, 48.9070, 2.4860, 48.9120)


@pytest.fixture(scope="module")
def clipped_site(
    tmp_path_factory: pytest.TempPathFactory, simulated_bondy: Path
) -> tuple[SiteConfig, gpd.GeoDataFrame, pd.DataFrame]:
    dst = tmp_path_factory.mktemp("clipped_geocode") / "bondy_clipped.osm"
    clip(BONDY, dst, CUT)
    buildings, _ = build_buildings_report(dst, RAW / "bondy" / "rpls_bondy.gpkg")
    site = SiteConfig(
        id="bondy",
        name="Bondy Nord",
        osm=str(dst),
        sources=(),
        ban=str(RAW / "bondy" / "ban_adresses_bondy.csv"),
        gazetteer=str(simulated_bondy / "gazetteer.csv"),
        params={"geocode": {"tolerance_m": 25.0, "fuzzy_threshold": 88.0, "ban_online": False}},
    )
    gazetteer = read_gazetteer(simulated_bondy / "gazetteer.csv")
    return site, buildings, gazetteer


def test_no_report_left_on_a_building_outside_the_extract(clipped_site) -> None:
    site, buildings, gazetteer = clipped_site
    known = set(buildings["building_id"].astype(str))
    inside = gazetteer["building_id"].astype(str).isin(known)
    # The cut must leave both kinds, or the test says nothing.
    assert inside.any()
    assert (~inside).any()
    reports = gpd.GeoDataFrame(
        {
            "building_ref": gazetteer["key"].astype("string"),
            "address": pd.Series(pd.NA, index=gazetteer.index, dtype="string"),
            "source_kind": "reports",
            "report_id": [f"T-{i}" for i in range(len(gazetteer))],
            "category": "fuite",
            # A month apart: no two are likely duplicates.
            "reported_at": pd.date_range("2024-01-01", periods=len(gazetteer), freq="30D"),
        },
        geometry=[None] * len(gazetteer),
        crs=WGS84,
    )
    # One stale code whose report also has a point inside a kept footprint: the point
    # still places it.
    stale_row = gazetteer.index[~inside][0]
    reports.loc[stale_row, "geometry"] = Point(
        buildings.geometry.iloc[0].representative_point().coords[0]
    )
    matches = match_site(reports, buildings, site=site)
    settings = site_settings(site.params)
    out, summary = geocode_site(
        reports,
        buildings,
        settings=settings.geocode,
        duplicates=settings.ingest,
        address_matches=matches,
    )
    placed = out["building_id"].dropna().astype(str)
    assert placed.isin(known).all()
    stale = int((~inside).sum())
    assert out.loc[stale_row, "geocode_method"] == "point_in_building"
    assert out.loc[stale_row, "building_id"] == buildings["building_id"].iloc[0]
    assert summary["by_method"]["building_not_in_extract"] == stale - 1
    assert summary["by_method"]["gazetteer"] == int(inside.sum())
    assert summary["buildings_not_in_extract"]["count"] == stale - 1
    assert "gazetteer" in summary["buildings_not_in_extract"]["warning"]
    assert summary["match_rate"] == round((int(inside.sum()) + 1) / len(reports), 4)
    assert out.loc[~inside & (out.index != stale_row), "building_id"].isna().all()
