"""Hotspot zones under a publication profile (issue 16): a zone is made of hot buildings,
so no published zone lists, counts or draws a building whose hotspot class the published
building profile hides (``gi_bin_flag`` « s »), and no building says it is in a zone when
its class is hidden — checked on the real Bondy demo run, committee profile."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest

from pipelines.crs import LAMBERT93
from pipelines.io import list_cell, read_geoparquet
from pipelines.publish.cells import FLAG
from pipelines.published import FILES
from tests.conftest import DemoRun


@pytest.fixture(scope="module")
def bondy_comite(demo_run: DemoRun) -> dict[str, gpd.GeoDataFrame]:
    """Bondy's zones before publication (zones stage) and its published zones and
    building profile (committee profile, the demo's)."""
    site = demo_run.site("bondy")
    return {
        "analysis": read_geoparquet(site / "zones.parquet"),
        "zones": read_geoparquet(site / "published" / FILES["zones"]),
        "profile": read_geoparquet(site / "published" / FILES["profile"]),
    }


def _hidden_class(profile: pd.DataFrame) -> set[str]:
    flag = profile["gi_bin_flag"].fillna("").astype(str)
    return set(profile.loc[flag == FLAG, "building_id"].astype(str))


def test_the_demo_has_zone_buildings_whose_class_is_hidden(
    bondy_comite: dict[str, gpd.GeoDataFrame],
) -> None:
    """The case exists on the demo (else the tests below would prove nothing): some
    buildings of the zones stage's zones have their class hidden in the published
    profile."""
    hidden = _hidden_class(bondy_comite["profile"])
    members = {b for v in bondy_comite["analysis"]["building_ids"] for b in list_cell(v)}
    assert members & hidden


def test_no_published_zone_lists_or_counts_a_building_whose_class_is_hidden(
    bondy_comite: dict[str, gpd.GeoDataFrame],
) -> None:
    zones, profile = bondy_comite["zones"], bondy_comite["profile"]
    hidden = _hidden_class(profile)
    shown = set(profile["building_id"].astype(str)) - hidden
    assert len(zones), "the demo's committee pack has no zone left"
    for _, z in zones.iterrows():
        members = list_cell(z["building_ids"])
        assert members, z["zone_id"]
        assert not set(members) & hidden, z["zone_id"]
        assert set(members) <= shown, z["zone_id"]
        assert int(z["n_buildings"]) == len(members), z["zone_id"]


def test_no_zone_outline_covers_a_building_whose_class_is_hidden(
    bondy_comite: dict[str, gpd.GeoDataFrame],
) -> None:
    """The outline is drawn around the shown buildings: a hidden-class building that
    was in the zone is not inside it (its footprint overlaps the outline by less than
    half its area; neighbours closer than the outline's margin may touch it)."""
    zones, profile = bondy_comite["zones"], bondy_comite["profile"]
    analysis = bondy_comite["analysis"]
    hidden = _hidden_class(profile)
    was_in = {
        str(z): set(list_cell(v)) & hidden
        for z, v in zip(analysis["zone_id"], analysis["building_ids"], strict=True)
    }
    footprints = profile.set_index(profile["building_id"].astype(str)).to_crs(LAMBERT93)
    outlines = zones.to_crs(LAMBERT93).set_index(zones["zone_id"].astype(str)).geometry
    checked = 0
    for zid, outline in outlines.items():
        for bid in was_in.get(zid, set()):
            geom = footprints.geometry[bid]
            assert geom.intersection(outline).area < 0.5 * geom.area, (zid, bid)
            checked += 1
    assert checked


def test_a_hidden_class_building_is_in_no_zone_of_the_profile(
    bondy_comite: dict[str, gpd.GeoDataFrame],
) -> None:
    """Neither its ``zone_id`` (the map's building → zone link) nor its ``level`` says
    a hidden-class building is in a zone; a zone that lost buildings hides its count of
    reports (which counts theirs too)."""
    zones, profile = bondy_comite["zones"], bondy_comite["profile"]
    flag = profile["gi_bin_flag"].fillna("").astype(str) == FLAG
    assert profile.loc[flag, "zone_id"].isna().all()
    assert not (profile.loc[flag, "level"] == "zone").any()
    analysis = bondy_comite["analysis"].set_index("zone_id")
    for _, z in zones.iterrows():
        before = list_cell(analysis.at[z["zone_id"], "building_ids"])
        if len(list_cell(z["building_ids"])) < len(before):
            assert z["n_reports_flag"] == FLAG, z["zone_id"]
            assert pd.isna(z["n_reports"]), z["zone_id"]
