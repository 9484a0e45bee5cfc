"""Tests of the hotspot statistics against the DOMAIN.md formulas, hand-worked answers and
the reference implementations (esda), on the real Bondy buildings and hand-made layouts."""

from __future__ import annotations

import math
import warnings

import esda
import geopandas as gpd
import libpysal
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pipelines.errors import CRSError, NotEnoughFeaturesError, VigieError
from pipelines.osm.buildings import read_osm_buildings
from pipelines.stats import gistar as hs
from pipelines.stats.band import (
    auto_distance_band,
    configured_band,
    incremental_moran_z,
    knn_band,
    pick_band,
)
from pipelines.stats.fdr import fdr_bins

BONDY_OSM = "data/raw/bondy/bondy_nord.osm"


# --------------------------------------------------------------------------------------
# Independent implementations and fixtures
# --------------------------------------------------------------------------------------


def gi_star_dense(x: np.ndarray, coords: np.ndarray, band: float) -> np.ndarray:
    """DOMAIN.md's Gi*, written out literally with a dense n × n weight matrix."""
    d = np.sqrt(((coords[:, None, :] - coords[None, :, :]) ** 2).sum(axis=-1))
    w = (d <= band).astype(float)  # binary, the feature itself included (d_ii = 0)
    n = len(x)
    x_bar = x.sum() / n
    s = np.sqrt((x**2).sum() / n - x_bar**2)
    sum_w = w.sum(axis=1)
    sum_w2 = (w**2).sum(axis=1)
    return (w @ x - x_bar * sum_w) / (s * np.sqrt((n * sum_w2 - sum_w**2) / (n - 1)))


def esda_moran_z(coords: np.ndarray, x: np.ndarray, distance: float) -> float:
    w = libpysal.weights.DistanceBand(coords, distance, binary=True, silence_warnings=True)
    return float(esda.Moran(x, w, transformation="b", permutations=0).z_rand)


@pytest.fixture(scope="module")
def bondy() -> gpd.GeoDataFrame:
    buildings = read_osm_buildings(BONDY_OSM).to_crs("EPSG:2154")
    return buildings.set_index("building_id")


@pytest.fixture(scope="module")
def bondy_xy(bondy: gpd.GeoDataFrame) -> np.ndarray:
    return hs.feature_points(bondy)


def lattice(n_side: int = 10, spacing: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cell-centre coordinates of an n × n lattice; feature k is at (k % n, k // n)."""
    xx, yy = np.meshgrid(np.arange(n_side) * spacing, np.arange(n_side) * spacing)
    return np.column_stack([xx.ravel(), yy.ravel()]), xx.ravel(), yy.ravel()


# --------------------------------------------------------------------------------------
# Gi*
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("values", ["area", "poisson"])
def test_gi_star_equals_domain_formula_on_bondy(bondy, bondy_xy, values):
    x = (
        bondy.area.to_numpy()
        if values == "area"
        else np.random.default_rng(7).poisson(3.0, len(bondy)).astype(float)
    )
    out = hs.gi_star(x, bondy_xy, 150.0)
    expected = gi_star_dense(x, bondy_xy, 150.0)
    assert len(bondy) > 1000
    np.testing.assert_allclose(out["gi_z"].to_numpy(), expected, rtol=0, atol=1e-9)
    # ... and equals esda's Gi* with binary weights and the self-weight added.
    w = libpysal.weights.DistanceBand(bondy_xy, 150.0, binary=True, silence_warnings=True)
    ref = esda.G_Local(x, w, transform="B", star=True, permutations=0)
    np.testing.assert_allclose(out["gi_z"].to_numpy(), ref.Zs, rtol=0, atol=1e-9)
    # p is two-sided (esda's p_norm is one-sided: ours is exactly twice it).
    np.testing.assert_allclose(out["gi_p"], 2 * stats.norm.cdf(-np.abs(expected)), rtol=1e-12)
    np.testing.assert_allclose(out["gi_p"], 2 * ref.p_norm, rtol=1e-12)
    d = np.sqrt(((bondy_xy[:, None] - bondy_xy[None]) ** 2).sum(-1))
    np.testing.assert_array_equal(out["n_neighbours"], (d <= 150.0).sum(axis=1) - 1)
    assert not out["is_island"].any()
    assert out["gi_note"].isna().all()


def test_chunked_neighbour_sums_equal_dense(bondy, bondy_xy, monkeypatch):
    # Force many small chunks (as on a 100,000-building city) and compare again.
    monkeypatch.setattr(hs, "_PAIRS_PER_CHUNK", 5_000)
    x = bondy.area.to_numpy()
    out = hs.gi_star(x, bondy_xy, 150.0)
    np.testing.assert_allclose(out["gi_z"], gi_star_dense(x, bondy_xy, 150.0), atol=1e-9)
    z = incremental_moran_z(bondy_xy, x, [40.0, 90.0])
    monkeypatch.setattr(hs, "_PAIRS_PER_CHUNK", 10**9)
    np.testing.assert_allclose(z, incremental_moran_z(bondy_xy, x, [40.0, 90.0]), atol=1e-9)


def test_gi_star_band_is_inclusive():
    # Band exactly 1 m on a 1 m lattice: the 4 rook neighbours at 1 m are in.
    coords, xs, _ys = lattice()
    out = hs.gi_star(pd.Series(xs, index=np.arange(100, 200)), coords, 1.0)
    assert out.index.equals(pd.RangeIndex(100, 200))  # follows the Series' index
    assert out.loc[144, "n_neighbours"] == 4
    assert out.loc[100, "n_neighbours"] == 2  # a corner


def test_gi_star_frame_aligned_on_index_and_refuses_degrees(bondy):
    frame = bondy.assign(n_reports=np.random.default_rng(1).poisson(2.0, len(bondy)))
    frame = frame.iloc[::-1]  # an index in a different order must be followed
    out = hs.gi_star_frame(frame, "n_reports", 150.0)
    assert out.index.equals(frame.index)
    direct = hs.gi_star(frame["n_reports"], hs.feature_points(frame), 150.0)
    np.testing.assert_array_equal(out["gi_z"].to_numpy(), direct["gi_z"].to_numpy())
    with pytest.raises(CRSError, match="géographique"):
        hs.gi_star_frame(frame.to_crs("EPSG:4326"), "n_reports", 150.0)


def test_gi_star_hand_worked_lattice():
    # 10 × 10 lattice, 1 m apart; a 3 × 3 block (x, y in 3..5) is worth 10, the rest 1.
    coords, xs, ys = lattice()
    x = np.where((xs >= 3) & (xs <= 5) & (ys >= 3) & (ys <= 5), 10.0, 1.0)
    # Band 1.5 m: the 8 queen neighbours (at 1 and √2 m) plus the cell itself.
    out = hs.gi_star(x, coords, 1.5)
    n = 100
    x_bar = (9 * 10 + 91 * 1) / n  # 1.81
    s = math.sqrt((9 * 100 + 91 * 1) / n - x_bar**2)  # √(9.91 − 3.2761)
    # Centre of the block (4, 4): W = 9 cells, all worth 10.
    z_centre = (90 - 9 * x_bar) / (s * math.sqrt((n * 9 - 9**2) / (n - 1)))
    # Corner (0, 0): W = 4 (itself and 3 neighbours), all worth 1.
    z_corner = (4 - 4 * x_bar) / (s * math.sqrt((n * 4 - 4**2) / (n - 1)))
    # (2, 4), left of the block: its column x = 3 holds 3 tens, the other 6 cells ones.
    z_left = (3 * 10 + 6 * 1 - 9 * x_bar) / (s * math.sqrt((n * 9 - 81) / (n - 1)))
    assert out.loc[44, "gi_z"] == pytest.approx(z_centre, abs=1e-12)  # ≈ 9.95
    assert out.loc[0, "gi_z"] == pytest.approx(z_corner, abs=1e-12)  # ≈ −0.65
    assert out.loc[42, "gi_z"] == pytest.approx(z_left, abs=1e-12)  # ≈ 2.66
    assert out.loc[44, "n_neighbours"] == 8
    assert out.loc[0, "n_neighbours"] == 3
    assert out.loc[44, "gi_bin"] == 3
    assert out.loc[0, "gi_bin"] == 0
    # Every block cell sees at least 4 tens out of ≤ 9: all are hot spots.
    block = (xs >= 3) & (xs <= 5) & (ys >= 3) & (ys <= 5)
    assert (out.loc[block, "gi_bin"] > 0).all()


def test_gi_star_permutations_seeded_and_two_sided():
    coords, xs, ys = lattice()
    x = np.where((xs >= 3) & (xs <= 5) & (ys >= 3) & (ys <= 5), 10.0, 1.0)
    a = hs.gi_star(x, coords, 1.5, permutations=999, seed=3)
    b = hs.gi_star(x, coords, 1.5, permutations=999, seed=3)
    np.testing.assert_array_equal(a["gi_p_sim"], b["gi_p_sim"])
    # The centre's 8 neighbours are the 8 other tens: no permutation of 8 values drawn
    # from the 99 others (8 tens, 91 ones) is as extreme, so p = 2 × 1/(999 + 1).
    assert a.loc[44, "gi_p_sim"] == pytest.approx(2 / 1000)
    assert a["gi_p_sim"].between(2 / 1000, 1).all()
    assert "gi_p_sim" not in hs.gi_star(x, coords, 1.5).columns


def test_gi_star_permutation_ties_are_not_extreme():
    # 95 zeros and a block of 5 tens in a corner: a zero feature whose 8 neighbours are
    # all zero ties with most permutations (P(8 zeros drawn from 94 zeros and 5 tens) =
    # C(94,8)/C(99,8) ≈ 0.65), so it is not extreme on either side.
    coords, xs, ys = lattice()
    x = np.where((xs <= 1) & (ys <= 2) & ~((xs == 1) & (ys == 2)), 10.0, 0.0)
    assert (x == 10.0).sum() == 5
    out = hs.gi_star(x, coords, 1.5, permutations=999, seed=11)
    far = 7 * 10 + 7  # (7, 7): every neighbour is a zero
    assert out.loc[far, "gi_p_sim"] == 1.0
    p_all_zero = math.comb(94, 8) / math.comb(99, 8)
    assert p_all_zero > 0.6
    # The block's corner is as extreme as it gets on the high side.
    assert out.loc[0, "gi_p_sim"] < 0.01


def test_gi_star_permutation_tails_drawn_alike(bondy_xy):
    # Negating the counts swaps hot and cold: with the same seeded permutations, every
    # feature's simulated Gi* come in reverse order, so its two tail counts swap and
    # gi_p_sim is unchanged — only if both tails are drawn with the same statistic (the
    # feature's own value included; esda's crand, called once per tail on one weights
    # object, drops it from the second).
    rng = np.random.default_rng(8)
    counts = rng.poisson(1.5, len(bondy_xy)).astype(float)
    counts[np.hypot(*(bondy_xy - bondy_xy.mean(axis=0)).T) < 150] += 3  # a planted cluster
    hot = hs.gi_star(counts, bondy_xy, 120.0, permutations=199, seed=4)
    cold = hs.gi_star(-counts, bondy_xy, 120.0, permutations=199, seed=4)
    np.testing.assert_allclose(cold["gi_z"], -hot["gi_z"], atol=1e-9)
    np.testing.assert_array_equal(cold["gi_p_sim"], hot["gi_p_sim"])
    assert (hot["gi_p_sim"] <= 0.02).sum() > 10  # the cluster is found (min p: 2/200)


def test_gi_star_many_equals_gi_star_per_column(bondy, bondy_xy):
    rng = np.random.default_rng(3)
    values = pd.DataFrame(
        {"a": rng.poisson(2.0, len(bondy)), "b": bondy.area.to_numpy(), "c": 0.0},
        index=bondy.index,
    )
    many = hs.gi_star_many(values, bondy_xy, 120.0)
    assert list(many) == ["a", "b", "c"]
    for column in values.columns:
        one = hs.gi_star(values[column], bondy_xy, 120.0)
        pd.testing.assert_frame_equal(many[column].drop(columns="gi_z"), one.drop(columns="gi_z"))
        np.testing.assert_allclose(many[column]["gi_z"], one["gi_z"], rtol=0, atol=1e-12)
    assert many["c"]["gi_z"].isna().all()
    with pytest.raises(NotEnoughFeaturesError):
        hs.gi_star_many(values.iloc[:10], bondy_xy[:10], 120.0)


def test_gi_star_islands_are_nan_bin_zero_and_counted():
    coords, xs, _ys = lattice()
    coords = np.vstack([coords, [[500.0, 500.0], [900.0, 0.0]]])  # two far-away features
    x = np.concatenate([xs + 1.0, [50.0, 1.0]])
    out = hs.gi_star(x, coords, 1.5, permutations=99, seed=0)
    islands = out.index[out["is_island"]].tolist()
    assert islands == [100, 101]
    assert out.loc[islands, "gi_p_sim"].isna().all()
    assert out["gi_p_sim"].notna().sum() == 100
    assert out.loc[islands, "gi_z"].isna().all()
    assert out.loc[islands, "gi_p"].isna().all()
    assert (out.loc[islands, "gi_bin"] == 0).all()
    assert (out.loc[islands, "n_neighbours"] == 0).all()
    assert out.loc[islands, "gi_note"].str.contains("aucun voisin").all()
    # The others keep the formula with n = 102 (islands still count in x̄ and S).
    np.testing.assert_allclose(
        out["gi_z"].to_numpy()[:100], gi_star_dense(x, coords, 1.5)[:100], atol=1e-12
    )


def test_gi_star_constant_values_nan_with_reason_and_no_warning():
    coords, _xs, _ys = lattice()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = hs.gi_star(np.full(100, 0.1), coords, 1.5, permutations=9, seed=0)
    assert out["gi_z"].isna().all()
    assert out["gi_p_sim"].isna().all()
    assert (out["gi_bin"] == 0).all()
    assert out["gi_note"].str.contains("valeurs toutes égales").all()


def test_fewer_than_30_features_refused_in_french():
    coords, xs, _ys = lattice(5)  # 25 features
    with pytest.raises(NotEnoughFeaturesError, match="au moins 30") as err:
        hs.gi_star(xs, coords, 1.5)
    assert isinstance(err.value, VigieError)
    assert err.value.n_features == 25
    with pytest.raises(NotEnoughFeaturesError, match="Seulement 25"):
        auto_distance_band(coords, xs)


def test_null_data_on_real_buildings_rarely_flagged(bondy, bondy_xy):
    # Poisson counts with the same mean everywhere: no pattern. After FDR at most 5 %
    # (in fact nearly none) of the buildings may sit in a ±95 % bin.
    shares = []
    for seed in range(5):
        counts = np.random.default_rng(100 + seed).poisson(2.0, len(bondy)).astype(float)
        band = auto_distance_band(bondy_xy, counts).band_m
        for b in (band, 150.0):
            shares.append((hs.gi_star(counts, bondy_xy, b)["gi_bin"].abs() >= 2).mean())
    assert np.mean(shares) <= 0.05


# --------------------------------------------------------------------------------------
# FDR
# --------------------------------------------------------------------------------------


def test_fdr_bins_hand_worked_benjamini_hochberg():
    # 10 tested features (m = 10) plus 2 islands (p missing). Sorted p-values:
    #   rank k   : 1      2      3      4      5      6      7      8      9    10
    #   p_(k)    : .0009  .008   .012   .045   .048   .058   .074   .205   .5   .9
    # α = 0.10, bound k·0.01: .01 .02 .03 .04 .05 .06 .07 .08 .09 .10
    #   p ≤ bound at k = 1, 2, 3, 5, 6 (not 4: .045 > .04; not 7: .074 > .07): largest
    #   k = 6, cut-off .058 → the 6 smallest are significant — .045 too (step-up).
    # α = 0.05, bound k·0.005: .005 .010 .015 .020 .025 …
    #   k = 1, 2, 3 pass (.0009, .008, .012); .045 > .020 and later ranks fail → cut .012.
    # α = 0.01, bound k·0.001: .001 .002 …: only k = 1 (.0009 ≤ .001) → cut .0009.
    # Bins: .0009 → ±3; .008, .012 → ±2; .045, .048, .058 → ±1; others 0.
    p = np.array(
        [0.5, 0.012, np.nan, 0.0009, 0.058, 0.205, 0.045, 0.9, 0.008, 0.048, 0.074, np.nan]
    )
    z = np.array([0.6, -2.5, np.nan, 3.3, 1.9, -1.3, -2.0, 0.1, 2.65, 1.98, -1.8, np.nan])
    expected = np.array([0, -2, 0, 3, 1, 0, -1, 0, 2, 1, 0, 0])
    np.testing.assert_array_equal(fdr_bins(z, p), expected)
    # Counting the 2 islands in m (m = 12) would change the answer: at α = 0.10 the
    # bounds become k·0.10/12 and .045 (k=4, bound .0333), .048 (k=5, .0417) and .058
    # (k=6, .05) all fail. They are excluded from m, as documented.
    p_no_nan = np.where(np.isnan(p), 1.0, p)
    assert (fdr_bins(np.nan_to_num(z), p_no_nan) != expected).any()


def test_fdr_bins_nothing_tested():
    assert fdr_bins([np.nan, np.nan], [np.nan, np.nan]).tolist() == [0, 0]
    assert fdr_bins([], []).tolist() == []


# --------------------------------------------------------------------------------------
# Distance band
# --------------------------------------------------------------------------------------


def test_pick_band_first_peak_then_max_then_knn():
    # First significant interior peak (index 2), although index 5 is higher.
    assert pick_band([1.0, 2.5, 3.0, 2.8, 4.0, 6.0, 5.0]) == (2, "incremental_peak")
    # A peak below 1.96 is not a peak: the first significant one is at index 4.
    assert pick_band([0.5, 1.5, 1.0, 2.0, 3.0, 2.0]) == (4, "incremental_peak")
    # Still rising at the last distance: no peak, the highest z.
    assert pick_band([2.0, 3.0, 4.0, 5.0]) == (3, "incremental_max")
    # Nothing significant: the k-nearest-neighbour rule.
    assert pick_band([-1.0, 0.3, 1.2, 0.4]) == (None, "knn_rule")
    assert pick_band([np.nan, np.nan]) == (None, "knn_rule")


def test_incremental_moran_equals_esda_on_bondy(bondy, bondy_xy):
    x = bondy.area.to_numpy()
    distances = [40.0, 90.0, 160.0]
    z = incremental_moran_z(bondy_xy, x, distances)
    for d, zd in zip(distances, z, strict=True):
        assert zd == pytest.approx(esda_moran_z(bondy_xy, x, d), abs=1e-9)


def test_auto_band_first_peak_on_checkerboard_of_blocks():
    # 40 × 40 lattice 10 m apart, a checkerboard of 60 m blocks of 0 and 1. Every
    # nearest neighbour is at 10 m, so distances tried are 10, 20, …, 100 m. Clustering
    # is strongest at the block scale and turns negative once bands reach the opposite
    # blocks.
    coords, xs, ys = lattice(40, 10.0)
    x = ((xs // 60 + ys // 60) % 2).astype(float)
    choice = auto_distance_band(coords, x)
    np.testing.assert_allclose(choice.distances_m, np.arange(1, 11) * 10.0)
    # The first three z-scores, recomputed by esda, already show the peak at 20 m.
    ref = [esda_moran_z(coords, x, d) for d in (10.0, 20.0, 30.0)]
    np.testing.assert_allclose(choice.moran_z[:3], ref, atol=1e-9)
    assert ref[1] >= 1.96
    assert ref[1] > ref[0]
    assert ref[1] > ref[2]
    assert choice.method == "incremental_peak"
    assert choice.band_m == pytest.approx(20.0)
    assert "Premier pic" in choice.reason
    assert "20 m" in choice.reason
    assert choice.n_locational_outliers == 0
    wider = auto_distance_band(coords, x, increment_m=25.0, n_steps=4)
    np.testing.assert_allclose(wider.distances_m, [10.0, 35.0, 60.0, 85.0])


def test_auto_band_knn_rule_without_clustering():
    # Independent values on the lattice: no Moran's I z reaches 1.96 at any distance.
    coords, _xs, _ys = lattice(40, 10.0)
    x = np.random.default_rng(0).normal(size=len(coords))
    choice = auto_distance_band(coords, x)
    assert max(choice.moran_z) < 1.96
    assert choice.method == "knn_rule"
    # k = 5 % of 1,600 = 80, clamped to 30: mean distance to the 30th nearest neighbour.
    d = np.sort(np.sqrt(((coords[:, None] - coords[None]) ** 2).sum(-1)), axis=1)
    assert choice.k_neighbours == 30
    assert choice.band_m == pytest.approx(d[:, 30].mean())
    assert "30e plus proche voisin" in choice.reason


def test_knn_band_capped_at_standard_distance():
    # Unit square corners: n = 4, so k = 3 (5 % of 4 clamped to 3, at most n − 1); the
    # 3rd neighbour is the opposite corner at √2, but one standard distance is
    # √(0.25 + 0.25) ≈ 0.707: the band is capped there.
    square = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    band, k, capped = knn_band(square)
    assert (k, capped) == (3, True)
    assert band == pytest.approx(math.sqrt(0.5))


def test_configured_band():
    choice = configured_band(150)
    assert (choice.band_m, choice.method) == (150.0, "configured")
    assert "150 m" in choice.reason


# --------------------------------------------------------------------------------------
# Rates
# --------------------------------------------------------------------------------------


def test_rates_per_100_dwellings():
    counts = pd.Series([3, 4, 5, 6, 7], index=["a", "b", "c", "d", "e"])
    dwellings = pd.Series([50.0, 0.0, np.nan, 200.0], index=["a", "b", "c", "d"])
    out = hs.rates_per_100_dwellings(counts, dwellings)
    assert out.name == "reports_per_100_dwellings"
    assert out.index.equals(counts.index)
    assert out["a"] == pytest.approx(6.0)
    assert out["d"] == pytest.approx(3.0)
    assert out[["b", "c", "e"]].isna().all()  # zero, unknown, absent: no rate
