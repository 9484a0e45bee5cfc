"""Hotspot zones under a publication profile (issue 16): a zone is made of hot buildings,
so no published zone lists, counts or draws a building whose hotspot class the published
building profile hides (``gi_bin_flag`` « s »), and no building says it is in a zone when
its class is hidden — checked on the real Bondy demo run, committee profile."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from pipelines.crs import LAMBERT93
from pipelines.io import list_cell, read_geoparquet
from pipelines.publish.cells import FLAG
from pipelines.published import FILES
from tests.conftest import DemoRun
from tests.zone_links_attacker import surely_hot


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


def test_the_outline_of_a_zone_that_lost_buildings_is_drawn_from_its_shown_ones(
    bondy_comite: dict[str, gpd.GeoDataFrame],
) -> None:
    """A zone that lost buildings (their class hidden) is outlined around the buildings
    it lists alone: no part of it lies further than the outline's margin (3 m, and half
    a metre for the polygons' approximation of round corners) from one of them, so it
    neither covers a building left out away from them nor bridges to it."""
    zones, analysis = bondy_comite["zones"], bondy_comite["analysis"].set_index("zone_id")
    footprints = bondy_comite["profile"].to_crs(LAMBERT93)
    footprints = footprints.set_index(footprints["building_id"].astype(str)).geometry
    checked = 0
    for _, z in zones.to_crs(LAMBERT93).iterrows():
        members = list_cell(z["building_ids"])
        if len(members) == len(list_cell(analysis.at[z["zone_id"], "building_ids"])):
            continue
        near = shapely.union_all(shapely.buffer(footprints[members].to_numpy(), 3.5))
        assert z.geometry.difference(near).area < 1.0, z["zone_id"]
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


def test_an_action_aimed_at_a_zone_lists_and_draws_only_its_shown_buildings(
    demo_run: DemoRun, bondy_comite: dict[str, gpd.GeoDataFrame]
) -> None:
    """An action aimed at a hotspot zone (« Z1 » in the register) was published with
    every building of the zone (the actions stage's resolution) and the zone's whole
    outline: a building whose class is hidden was told hot by the action. On the demo's
    real actions, one is aimed at the zone that lost the most buildings: it keeps the
    shown ones, its outline is the published zone's, and its counts and effect are
    hidden (they count the buildings left out). The other actions, aimed at buildings by
    name, are untouched, hidden class or not."""
    from pipelines.publish.actions import ZONE_EFFECT_FR, actions_of_shown_classes

    site = demo_run.site("bondy")
    actions = read_geoparquet(site / "actions.parquet")
    table = read_geoparquet(site / "published" / FILES["actions"])
    analysis, zones, profile = (bondy_comite[k] for k in ("analysis", "zones", "profile"))
    hidden = _hidden_class(profile)
    lost = {
        str(z): [b for b in list_cell(ids) if b in hidden]
        for z, ids in zip(analysis["zone_id"], analysis["building_ids"], strict=True)
    }
    zone = max(lost, key=lambda z: len(lost[z]))
    assert lost[zone], "no zone of the demo lost a building"
    members = list_cell(analysis.set_index("zone_id").at[zone, "building_ids"])
    measured = int(table["n_reports_before"].first_valid_index())
    # Row `measured` aimed at the zone, as the actions stage resolves it.
    actions.at[measured, "zone_ids"] = [zone]
    actions.at[measured, "zone_id"] = zone
    actions.at[measured, "target_buildings"] = []
    actions.at[measured, "building_ids"] = members
    table.at[measured, "zone_id"] = zone
    table.at[measured, "building_ids"] = ";".join(members)
    table.loc[measured, "geometry"] = analysis.set_index("zone_id").at[zone, "geometry"]

    out, counts = actions_of_shown_classes(table, actions, analysis, zones, profile)

    row = out.iloc[measured]
    listed = row["building_ids"].split(";")
    assert not set(listed) & hidden
    assert set(listed) == set(members) - hidden
    assert counts["action_buildings_left_out"] == len(lost[zone])
    published_outline = zones.set_index("zone_id").at[zone, "geometry"]
    assert row.geometry.symmetric_difference(published_outline).area < 1e-12
    assert pd.isna(row["n_reports_before"])
    assert row["n_reports_before_flag"] == FLAG
    assert pd.isna(row["verdict"])
    assert row["effect_fr"] == ZONE_EFFECT_FR
    # The other actions are as they were published.
    others = [k for k in range(len(table)) if k != measured]
    assert out.iloc[others]["building_ids"].tolist() == table.iloc[others]["building_ids"].tolist()


def _squares_l93(xs: list[float]) -> list[shapely.Polygon]:
    """10 m × 10 m footprints in EPSG:2154, ``x`` metres east of a point of Bondy."""
    return [shapely.box(660_000.0 + x, 6_870_000.0, 660_010.0 + x, 6_870_010.0) for x in xs]


def _three_buildings(
    xs: list[float], bins: list[float | None]
) -> tuple[list[str], gpd.GeoSeries, gpd.GeoDataFrame]:
    """Three footprints ``way/1``…``way/3`` (:func:`_squares_l93`, EPSG:4326) and their
    published profile: Gi* classes ``bins``, the second one's hidden (« s »)."""
    ids = ["way/1", "way/2", "way/3"]
    feet = gpd.GeoSeries(_squares_l93(xs), crs=LAMBERT93).to_crs("EPSG:4326")
    profile = gpd.GeoDataFrame(
        {"building_id": ids, "gi_bin": bins, "gi_bin_flag": ["", FLAG, ""]},
        geometry=feet.to_numpy(),
        crs="EPSG:4326",
    )
    return ids, feet, profile


def test_an_action_at_a_zone_and_along_a_drawn_line_keeps_a_polygonal_outline() -> None:
    """An action aimed at a zone that lost a building (class hidden) and along a drawn
    line: its outline is redrawn, and the line stands for the footprints it crosses, as
    the actions stage draws it (:func:`pipelines.actions.targets.resolve_targets`). The
    line itself was added to the polygons, so the action's geometry became a
    GeometryCollection, which the actions stage never writes (GeoPackage « actions »
    layer of polygons, the map's outlines)."""
    from pipelines.publish.actions import actions_of_shown_classes

    ids, feet, profile = _three_buildings([0.0, 14.0, 40.0], [2.0, None, 0.0])
    analysis = gpd.GeoDataFrame(
        {"zone_id": ["Z1"], "building_ids": [ids[:2]]},
        geometry=[shapely.union_all(feet.to_numpy()[:2]).buffer(0.00003)],
        crs="EPSG:4326",
    )
    published_zones = gpd.GeoDataFrame(
        {"zone_id": ["Z1"], "building_ids": [ids[:1]]},
        geometry=[feet.iloc[0].buffer(0.00003)],
        crs="EPSG:4326",
    )
    west, south, east, north = feet.iloc[2].bounds
    mid = (south + north) / 2
    line = shapely.LineString([(west - 1e-5, mid), (east + 1e-5, mid)])
    actions = pd.DataFrame(
        {
            "zone_ids": [["Z1"]],
            "target_buildings": [[]],
            "target_geometry": [line],
            "building_ids": [[*ids[:2], ids[2]]],
        }
    )
    table = gpd.GeoDataFrame(
        {
            "building_ids": [";".join(ids)],
            "n_reports_before": pd.array([None], dtype="Float64"),
            "n_reports_before_flag": [""],
            "n_reports_after": pd.array([None], dtype="Float64"),
            "n_reports_after_flag": [""],
            "verdict": [None],
            "effect_fr": [None],
            "effect_flag": [""],
        },
        geometry=[shapely.union_all([analysis.geometry.iloc[0], feet.iloc[2]])],
        crs="EPSG:4326",
    )

    out, counts = actions_of_shown_classes(table, actions, analysis, published_zones, profile)

    assert counts["action_buildings_left_out"] == 1
    assert out["building_ids"].iloc[0] == "way/1;way/3"
    geometry = out.geometry.iloc[0]
    assert geometry.geom_type in ("Polygon", "MultiPolygon"), geometry.geom_type
    assert geometry.covers(feet.iloc[2])
    assert not geometry.intersects(feet.iloc[1])


def test_site_json_names_no_zone_it_leaves_out() -> None:
    """A zone built from too few reports is named in ``site.json``'s
    ``too_few_reports.zones`` (ids and the legend's sentence). When none of its buildings
    has a shown class, the zone is left out of the published zones, and was still named
    there: Bondy's open-data pack said « 2 zone(s) de moins de 10 signalements (Z8, Z9) »,
    two zones published nowhere else. The zone kept in the table stays named."""
    from pipelines.publish.protect import Protection
    from pipelines.publish.stage import with_zones_of_shown_classes
    from pipelines.published import Published

    ids, feet, profile = _three_buildings([0.0, 40.0, 80.0], [3.0, None, 3.0])
    zones = gpd.GeoDataFrame(
        {
            "zone_id": ["Z1", "Z2", "Z3"],
            "building_ids": [[i] for i in ids],
            "n_reports": [40, 5, 5],
            "n_reports_flag": ["", "", ""],
            "has_enough_reports": [True, False, False],
        },
        geometry=[f.buffer(0.00003) for f in feet],
        crs="EPSG:4326",
    )
    named = {
        "min_reports": 10,
        "zone_ids": ["Z2", "Z3"],
        "note_fr": "2 zone(s) de moins de 10 signalements (Z2, Z3) non dessinée(s) : trop "
        "peu de signalements pour conclure.",
    }
    site = {"too_few_reports": {"site": None, "zones": named}}
    published = Published(
        profile=profile, monthly=pd.DataFrame(), points=profile.iloc[:0], site=site,
        zones=zones,
    )  # fmt: skip

    out = with_zones_of_shown_classes(Protection(published, {}, {}), counts_exact=True)

    assert out.published.zones is not None
    assert out.published.zones["zone_id"].tolist() == ["Z1", "Z3"]
    block = out.published.site["too_few_reports"]["zones"]
    assert block["zone_ids"] == ["Z3"]
    assert block["note_fr"] == (
        "1 zone(s) de moins de 10 signalements (Z3) non dessinée(s) : trop peu de "
        "signalements pour conclure."
    )
    assert block["min_reports"] == 10


def test_no_building_of_hidden_class_is_surely_in_a_zone_by_its_links(
    bondy_comite: dict[str, gpd.GeoDataFrame],
) -> None:
    """No reader of the published zones can tell that a building whose class is hidden
    is hot: the zones a building of hidden class must belong to
    (:func:`tests.zone_links_attacker.surely_hot`).
    Before the zones listed only linked buildings (pipelines.publish.detached), the
    committee pack's Z1, Z4, Z5 and Z6 listed buildings in parts that only one building
    of hidden class linked (way/84185602 and way/84180131 in Z1, …), each truly in its
    zone; the open-data pack's Z1 gave way/84185602 likewise."""
    surely = surely_hot(bondy_comite["zones"], bondy_comite["profile"], gap_m=15.0)
    assert not surely, surely


def _row_of_squares(flags: list[str]) -> gpd.GeoDataFrame:
    """Squares of 10 m in a row, 5 m apart (each linked to the next within 15 m), with
    their hotspot class (hot) and its flag; ids way/1, way/2, …, in Bondy (Lambert-93)."""
    x, y = 660_000.0, 6_866_000.0
    squares = [shapely.box(x + 15 * i, y, x + 15 * i + 10, y + 10) for i in range(len(flags))]
    return gpd.GeoDataFrame(
        {
            "building_id": [f"way/{i + 1}" for i in range(len(flags))],
            "gi_bin": [pd.NA if f == FLAG else 3 for f in flags],
            "gi_bin_flag": flags,
            "gi_label": [None if f == FLAG else "point chaud (99 %)" for f in flags],
            "gi_bin_ascenseur": [pd.NA if f == FLAG else 2 for f in flags],
        },
        geometry=squares,
        crs=LAMBERT93,
    ).to_crs("EPSG:4326")


def test_a_zone_lists_only_its_largest_linked_group_of_shown_buildings() -> None:
    """way/1…way/6 in a row make one zone; way/3 and way/5 have their class hidden, so
    the shown ones fall in three groups: {1, 2}, {4}, {6}. The largest, {1, 2}, stays;
    way/4 and way/6 have their class hidden (their category's class too), and the zone
    lists way/1 and way/2 only, linked. A zone that lost no building is left whole, even
    where its shown buildings would not be linked by the footprints given; on equal
    sizes the group holding the smallest id stays."""
    from pipelines.publish.detached import detached_members, with_classes_hidden

    profile = _row_of_squares(["", "", FLAG, "", FLAG, ""])
    ids = [f"way/{i}" for i in range(1, 7)]
    zones = pd.DataFrame({"zone_id": ["Z1"], "building_ids": [ids]})
    detached = detached_members(zones, profile, gap_m=15.0)
    assert detached == {"Z1": ["way/4", "way/6"]}
    assert detached_members(zones, profile, gap_m=25.0) == {}  # 20 m apart: linked
    hidden = with_classes_hidden(profile, set(detached["Z1"])).set_index("building_id")
    for b in ("way/4", "way/6"):
        assert pd.isna(hidden.at[b, "gi_bin"])
        assert hidden.at[b, "gi_bin_flag"] == FLAG
        assert pd.isna(hidden.at[b, "gi_bin_ascenseur"])
        assert hidden.at[b, "gi_bin_ascenseur_flag"] == FLAG
        assert pd.isna(hidden.at[b, "gi_label"])
    assert hidden.at["way/1", "gi_bin"] == 3
    assert hidden.at["way/2", "gi_bin_flag"] == ""
    whole = pd.DataFrame({"zone_id": ["Z2"], "building_ids": [["way/1", "way/4"]]})
    assert detached_members(whole, profile, gap_m=15.0) == {}
    tie = _row_of_squares(["", FLAG, ""])
    three = pd.DataFrame({"zone_id": ["Z3"], "building_ids": [["way/1", "way/2", "way/3"]]})
    assert detached_members(three, tie, gap_m=15.0) == {"Z3": ["way/3"]}
