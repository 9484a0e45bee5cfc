"""Hotspot zones: grouping of hot buildings, and ids that survive refreshes."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.sparse import coo_matrix

from pipelines.annotations.link import link_annotations
from pipelines.crs import LAMBERT93, WGS84
from pipelines.io import read_csv
from pipelines.osm.buildings import read_osm_buildings
from pipelines.zones.stage import (
    assign_zone_ids,
    disappeared_zone_ids,
    hot_zones,
    zone_descendants,
    zone_of_buildings,
)
from pipelines.zones.stage import run as run_zones
from tests.conftest import bondy_config

ROOT = Path(__file__).resolve().parents[1]
BONDY_OSM = ROOT / "data" / "raw" / "bondy" / "bondy_nord.osm"


# --------------------------------------------------------------------------- helpers
def squares(spec: dict[str, tuple[float, float]], size: float = 10.0) -> gpd.GeoDataFrame:
    """Square buildings of ``size`` metres with their lower-left corners in Lambert-93."""
    x0, y0 = 660_000.0, 6_865_000.0  # near Bondy
    ids = list(spec)
    geoms = [shapely.box(x0 + x, y0 + y, x0 + x + size, y0 + y + size) for x, y in spec.values()]
    return gpd.GeoDataFrame({"building_id": ids}, geometry=geoms, crs=LAMBERT93).to_crs(WGS84)


def with_bins(buildings: gpd.GeoDataFrame, hot: set[str]) -> gpd.GeoDataFrame:
    out = buildings.copy()
    out["gi_bin"] = [3 if b in hot else 0 for b in out["building_id"]]
    return out


def gi_star_bins(buildings_m: gpd.GeoDataFrame, counts: np.ndarray, band_m: float) -> np.ndarray:
    """Gi* (DOMAIN.md formula, binary weights including i) and a confidence bin from the
    two-sided normal thresholds, without the FDR step: a stand-in for the hotspot stage,
    enough to produce realistic contiguous hot areas over the real buildings."""
    points = buildings_m.geometry.centroid.to_numpy()
    left, right = shapely.STRtree(points).query(points, predicate="dwithin", distance=band_m)
    n = len(points)
    w = coo_matrix((np.ones(len(left)), (left, right)), shape=(n, n)).tocsr()
    x = counts.astype(float)
    xbar = x.mean()
    s = np.sqrt((x**2).mean() - xbar**2)
    wsum = np.asarray(w.sum(axis=1)).ravel()
    z = (w @ x - xbar * wsum) / (s * np.sqrt((n * wsum - wsum**2) / (n - 1)))
    return np.select(
        [z > 2.576, z > 1.96, z > 1.645, z < -2.576, z < -1.96, z < -1.645],
        [3, 2, 1, -3, -2, -1],
        0,
    )


@pytest.fixture(scope="module")
def bondy() -> gpd.GeoDataFrame:
    return read_osm_buildings(BONDY_OSM)


@pytest.fixture(scope="module")
def two_refreshes(bondy: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, list[int]]:
    """Gi* bins of the real Bondy buildings after 12 months of seeded reports, and after a
    13th month that adds reports around a fourth place and on the edge of the first."""
    rng = np.random.default_rng(20240601)
    metric = bondy.to_crs(LAMBERT93)
    centroids = metric.geometry.centroid
    area = metric.area.to_numpy()
    big = np.flatnonzero(area > 300)
    centres = [int(big[k]) for k in rng.choice(len(big), size=4, replace=False)]
    dist = np.column_stack([centroids.distance(centroids.iloc[c]).to_numpy() for c in centres])
    base = 0.03 + 0.6 * np.exp(-((dist[:, :3] / 70.0) ** 2)).sum(axis=1)
    months = rng.poisson(np.tile(base, (12, 1)))
    extra = (
        0.03
        + 0.6 * np.exp(-((dist[:, 3] / 70.0) ** 2)) * 8
        + 3.0 * np.exp(-(((dist[:, 0] - 110.0) / 25.0) ** 2))
    )
    month_13 = rng.poisson(np.maximum(base, extra))
    first = bondy.copy()
    first["n_reports"] = months.sum(axis=0)
    first["gi_bin"] = gi_star_bins(metric, first["n_reports"].to_numpy(), 150.0)
    second = bondy.copy()
    second["n_reports"] = first["n_reports"] + month_13
    second["gi_bin"] = gi_star_bins(metric, second["n_reports"].to_numpy(), 150.0)
    return first, second, centres


# --------------------------------------------------------------------------- grouping
def test_buildings_within_the_gap_share_a_zone_and_farther_ones_do_not() -> None:
    # 10 m squares: b is 14 m from a (same zone at 15 m), c is 16 m from b (another zone).
    b = with_bins(
        squares({"way/1": (0, 0), "way/2": (24, 0), "way/3": (50, 0)}), {"way/1", "way/2", "way/3"}
    )
    zones = hot_zones(b, gap_m=15.0)
    assert sorted(map(list, zones["building_ids"])) == [["way/1", "way/2"], ["way/3"]]
    assert list(zones["n_buildings"]) == [2, 1]  # largest first
    # footprints: 100 m² each
    assert zones["area_m2"].tolist() == pytest.approx([200.0, 100.0], abs=0.5)
    # The outline is one polygon bridging the gap and covering both footprints.
    outline = gpd.GeoSeries([zones.geometry.iloc[0]], crs=WGS84).to_crs(LAMBERT93).iloc[0]
    assert outline.geom_type == "Polygon"
    assert outline.contains(b.to_crs(LAMBERT93).geometry.iloc[0])
    assert outline.contains(b.to_crs(LAMBERT93).geometry.iloc[1])


def test_only_bins_at_or_above_the_threshold_are_hot() -> None:
    b = squares({"way/1": (0, 0), "way/2": (12, 0), "way/3": (30, 0)})  # a-c: 20 m
    b["gi_bin"] = [3, 1, 2]
    assert sorted(map(list, hot_zones(b, min_bin=2)["building_ids"])) == [["way/1"], ["way/3"]]
    assert len(hot_zones(b, min_bin=1)) == 1
    b["gi_bin"] = [-3, 0, -2]
    assert hot_zones(b).empty


def test_zone_of_buildings_is_aligned_on_the_buildings() -> None:
    b = with_bins(
        squares({"way/1": (0, 0), "way/2": (12, 0), "way/3": (80, 0)}), {"way/1", "way/2"}
    )
    b.index = [10, 20, 30]
    zones = assign_zone_ids(hot_zones(b), None)
    got = zone_of_buildings(b, zones)
    assert list(got.index) == [10, 20, 30]
    assert got.tolist()[:2] == ["Z1", "Z1"]
    assert pd.isna(got.iloc[2])


# --------------------------------------------------------------------------- ids
def test_zones_keep_their_ids_across_a_month_of_reports(two_refreshes) -> None:  # type: ignore[no-untyped-def]
    first, second, centres = two_refreshes
    z1 = assign_zone_ids(hot_zones(first), None)
    z2 = assign_zone_ids(hot_zones(second), z1)
    assert len(z1) >= 2, "the scenario must produce several hot zones"
    assert set(z1["status"]) == {"nouvelle"}
    assert list(z1["zone_id"]) == [f"Z{k}" for k in range(1, len(z1) + 1)]
    # The zone around each of the first three places has the same id after the refresh.
    for c in centres[:3]:
        bid = first["building_id"].iloc[c]
        before = zone_of_buildings(first.iloc[[c]], z1).iloc[0]
        after = zone_of_buildings(second.iloc[[c]], z2).iloc[0]
        if pd.notna(before):
            assert after == before, f"zone of {bid} changed id"
    # Every zone that is the only heir of exactly one previous zone kept that zone's id.
    sets1 = {z: set(ids) for z, ids in zip(z1["zone_id"], z1["building_ids"], strict=True)}
    heirs: dict[str, list[int]] = {}
    for i, ids in enumerate(z2["building_ids"]):
        for z, members in sets1.items():
            if members & set(ids):
                heirs.setdefault(z, []).append(i)
    sole = {z: rows[0] for z, rows in heirs.items() if len(rows) == 1}
    for z, i in sole.items():
        parents = [p for p, members in sets1.items() if members & set(z2["building_ids"].iloc[i])]
        if parents == [z]:
            assert z2["zone_id"].iloc[i] == z
            assert z2["status"].iloc[i] == "stable"
    # The refresh did change the zones (else the test proves nothing) ...
    changed = [z for z, i in sole.items() if set(z2["building_ids"].iloc[i]) != sets1[z]]
    assert changed, "the 13th month should have grown or shrunk at least one zone"
    # ... and the new place got a number after every previous one.
    new = z2[z2["status"] == "nouvelle"]
    assert len(new) >= 1
    top = max(int(z[1:]) for z in z1["zone_id"])
    assert all(int(z[1:]) > top for z in new["zone_id"])
    assert z2["zone_id"].is_unique


def test_run_keeps_ids_in_its_history_and_is_idempotent(two_refreshes, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first, second, _ = two_refreshes
    config = bondy_config(tmp_path)
    out = tmp_path / "processed" / "bondy"
    first.to_parquet(tmp_path / "b1.parquet")
    second.to_parquet(tmp_path / "b2.parquet")
    z1 = run_zones(config, "bondy", buildings_path=tmp_path / "b1.parquet", out_dir=out)
    # make clean: the processed folder goes, the history (beside the notes) stays.
    (out / "zones.parquet").unlink()
    z2 = run_zones(config, "bondy", buildings_path=tmp_path / "b2.parquet", out_dir=out)
    direct = assign_zone_ids(hot_zones(second), z1)
    assert list(z2["zone_id"]) == list(direct["zone_id"])
    assert list(z2["status"]) == list(direct["status"])
    again = run_zones(config, "bondy", buildings_path=tmp_path / "b2.parquet", out_dir=out)
    assert list(again["status"]) == list(z2["status"])  # a re-run does not turn splits "stable"
    written = gpd.read_parquet(out / "zones.parquet")
    assert written.crs.to_epsg() == 4326
    assert [list(v) for v in written["parent_zone_ids"]] == [list(v) for v in z2["parent_zone_ids"]]
    links = read_csv(out / "building_zones.csv")
    assert len(links) == int(written["n_buildings"].sum())


def test_missing_gi_bin_is_a_clear_error(bondy: gpd.GeoDataFrame, tmp_path: Path) -> None:
    from pipelines.errors import InputError

    bondy.to_parquet(tmp_path / "b.parquet")
    with pytest.raises(InputError, match="gi_bin"):
        run_zones(
            bondy_config(tmp_path),
            "bondy",
            buildings_path=tmp_path / "b.parquet",
            out_dir=tmp_path / "out",
        )


# --------------------------------------------------------------------------- split, merge
# 10 m squares along a line (x of the lower-left corner, metres):
#   a=way/1 0, b=way/2 12, c=way/3 28, d=way/4 40 | e=way/5 100, f=way/6 112, h=way/8 126,
#   g=way/7 140. Gaps: a-b 2, b-c 6, c-d 2, a-c 18 (> 15 m), e-f 2, f-h 4, h-g 4, f-g 18.
LAYOUT = {
    "way/1": (0, 0),
    "way/2": (12, 0),
    "way/3": (28, 0),
    "way/4": (40, 0),
    "way/5": (100, 0),
    "way/6": (112, 0),
    "way/8": (126, 0),
    "way/7": (140, 0),
}


def test_split_and_merge_keep_lineage_and_notes_follow() -> None:
    b = squares(LAYOUT)
    before = assign_zone_ids(
        hot_zones(with_bins(b, {"way/1", "way/2", "way/3", "way/4", "way/5", "way/6", "way/7"})),
        None,
    )
    # Z1 = a b c d, Z2 = e f, Z3 = g (g is 18 m from f: its own zone)
    assert [sorted(v) for v in before["building_ids"]] == [
        ["way/1", "way/2", "way/3", "way/4"],
        ["way/5", "way/6"],
        ["way/7"],
    ]
    assert list(before["zone_id"]) == ["Z1", "Z2", "Z3"]
    # Refresh: way/2 cools (way/1 is 18 m from way/3: Z1 splits into {a} and {c, d});
    # way/8 heats up between f and g: Z2 and Z3 merge.
    after = assign_zone_ids(
        hot_zones(with_bins(b, {"way/1", "way/3", "way/4", "way/5", "way/6", "way/7", "way/8"})),
        before,
        issued_ids=["Z5"],  # a zone that once existed and disappeared: its number is not reused
    )
    rows = {
        tuple(sorted(v)): r
        for v, (_, r) in zip(after["building_ids"], after.iterrows(), strict=True)
    }
    merged = rows[("way/5", "way/6", "way/7", "way/8")]
    big = rows[("way/3", "way/4")]
    small = rows[("way/1",)]
    assert (merged["zone_id"], merged["status"], list(merged["parent_zone_ids"])) == (
        "Z2",
        "fusionnée",
        ["Z2", "Z3"],
    )
    assert (big["zone_id"], big["status"], list(big["parent_zone_ids"])) == (
        "Z1",
        "scindée",
        ["Z1"],
    )
    assert (small["zone_id"], small["status"], list(small["parent_zone_ids"])) == (
        "Z6",
        "scindée",
        ["Z1"],
    )
    assert disappeared_zone_ids(after, before) == []
    assert zone_descendants(after)["Z1"] == ["Z1", "Z6"]
    assert zone_descendants(after)["Z3"] == ["Z2"]

    # Notes written on Z1 and Z3 before the refresh follow to every part / the merged zone.
    point_a = b.geometry.iloc[0].representative_point()
    notes = gpd.GeoDataFrame(
        {"note_id": ["n1", "n3"], "building_id": [None, None], "zone_id": ["Z1", "Z3"]},
        geometry=[point_a, None],
        crs=WGS84,
    )
    linked = link_annotations(notes, b, after)
    assert list(linked["zone_ids"].iloc[0]) == ["Z1", "Z6"]
    assert linked["zone_note"].iloc[0] == "zone Z1 scindée en Z1 et Z6"
    assert list(linked["building_ids"].iloc[0]) == ["way/1"]
    assert list(linked["zone_ids"].iloc[1]) == ["Z2"]
    assert linked["zone_note"].iloc[1] == "zone Z3 fusionnée dans Z2"
    # the keyed note without geometry is placed on its zone
    assert linked["geometry_source"].iloc[1] == "zone"
    assert not linked["is_orphaned"].any()

    # A third refresh: the lineage is remembered, so a note on Z1 still reaches Z6 ...
    third = assign_zone_ids(hot_zones(with_bins(b, {"way/1", "way/3", "way/4"})), after)
    assert zone_descendants(third)["Z1"] == ["Z1", "Z6"]
    assert disappeared_zone_ids(third, after) == ["Z2"]
    # ... and a note on a zone that cooled down says so.
    gone = link_annotations(notes.iloc[[1]], b, third)
    assert gone["zone_note"].iloc[0].startswith("zone Z3 disparue")
    assert gone["is_orphaned"].iloc[0]  # no geometry and no zone left to place it on
