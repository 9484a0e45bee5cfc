"""Tests for pipelines.stats.trend (Mann-Kendall, Sen, period counts, follow-up) and
pipelines.stats.emerging (space-time Gi*, emerging hotspots, before/after)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pymannkendall
import pytest
from scipy import stats

from pipelines.stats.emerging import (
    EMERGING_CATEGORIES,
    EMERGING_LABELS_FR,
    before_after,
    emerging_hotspots,
    space_time_gi,
)
from pipelines.stats.series import closing_delays, monthly_counts, open_backlog
from pipelines.stats.trend import mann_kendall, mann_kendall_matrix, sens_slope, sens_slope_matrix

DMR_CSV = (
    Path(__file__).resolve().parents[1] / "data/raw/paris10/dansmarue_paris_2023-08_2024-09.csv"
)
PMK_TREND = {"increasing": "hausse", "decreasing": "baisse", "no trend": "aucune"}


# ----------------------------------------------------------------------------- Mann-Kendall
def _integer_series(seed: int, count: int) -> list[np.ndarray]:
    """Random integer series with many ties, of various lengths, some with a drift."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        n = int(rng.integers(3, 61))
        drift = rng.choice([0.0, 0.1, -0.15])
        out.append((rng.integers(0, 6, size=n) + np.round(drift * np.arange(n))).astype(float))
    return out


def test_mann_kendall_equals_pymannkendall_with_ties() -> None:
    series = _integer_series(seed=20240917, count=300)
    n_with_ties = 0
    trends = set()
    for x in series:
        ref = pymannkendall.original_test(x, alpha=0.05)
        got = mann_kendall(x)
        n_with_ties += np.unique(x).size < x.size
        assert got.n == x.size
        assert got.s == ref.s
        assert got.var_s == pytest.approx(ref.var_s, rel=1e-12)
        assert got.z == pytest.approx(ref.z, rel=1e-12, abs=1e-15)
        assert got.p == pytest.approx(ref.p, rel=1e-9, abs=1e-15)
        assert got.trend == PMK_TREND[ref.trend]
        assert sens_slope(x) == pytest.approx(ref.slope, rel=1e-12, abs=1e-15)
        trends.add(got.trend)
    assert n_with_ties >= 0.95 * len(series)  # the ties correction was exercised
    assert trends == {"hausse", "baisse", "aucune"}


def test_variance_tie_correction_by_hand() -> None:
    # n = 6, ties: {2, 2} (t = 2) and {3, 3, 3} (t = 3)
    # Var = [6·5·17 − 2·1·9 − 3·2·11] / 18 = (510 − 18 − 66) / 18
    got = mann_kendall([1, 2, 2, 3, 3, 3])
    assert got.var_s == pytest.approx(426 / 18)
    # S: from 1: +5; from each 2: +3 (the three 3s) → +6; 3s among themselves: 0
    assert got.s == 11
    assert got.z == pytest.approx(10 / np.sqrt(426 / 18))


def test_mann_kendall_edge_cases() -> None:
    constant = mann_kendall([4, 4, 4, 4, 4])
    assert (constant.s, constant.var_s, constant.z, constant.p) == (0, 0.0, 0.0, 1.0)
    assert constant.trend == "aucune"

    short = mann_kendall([1.0, 2.0])
    assert short.n == 2
    assert np.isnan(short.z)
    assert np.isnan(short.p)
    assert short.trend == "aucune"

    with_nan = mann_kendall([1, np.nan, 2, 3, np.nan, 5, 4, 6])
    dropped = mann_kendall([1, 2, 3, 5, 4, 6])
    assert with_nan.n_missing == 2
    assert with_nan.n == 6
    assert with_nan._replace(n_missing=0) == dropped


def test_matrix_variant_equals_scalar() -> None:
    rng = np.random.default_rng(7)
    x = rng.integers(0, 4, size=(400, 24)).astype(float)
    x[0] = 3.0  # constant row
    x[1, :22] = np.nan  # two values left: n < 3
    x[2, [0, 5, 6, 23]] = np.nan
    x[3, 10:] = np.arange(14)  # a clear upward trend
    table = mann_kendall_matrix(x, index=pd.Index([f"way/{i}" for i in range(400)]))
    slopes = sens_slope_matrix(x)
    assert list(table.columns) == ["s", "var_s", "z", "p", "trend", "n", "n_missing"]
    assert table.index[3] == "way/3"
    for r in range(x.shape[0]):
        one = mann_kendall(x[r])
        row = table.iloc[r]
        assert (row["s"], row["n"], row["n_missing"], row["trend"]) == (
            one.s,
            one.n,
            one.n_missing,
            one.trend,
        )
        assert row["var_s"] == pytest.approx(one.var_s, rel=1e-12)
        np.testing.assert_allclose([row["z"], row["p"]], [one.z, one.p], rtol=1e-12)
        np.testing.assert_allclose(slopes.iloc[r], sens_slope(x[r]), rtol=1e-12)
    assert table.loc["way/0", "p"] == 1.0
    assert np.isnan(table.loc["way/1", "z"])
    assert table.loc["way/3", "trend"] == "hausse"


def test_sens_slope_keeps_time_positions_across_gaps() -> None:
    # y = 2t at t = 0, 1, 3, 4 (t = 2 missing): every pairwise slope is exactly 2
    assert sens_slope([0.0, 2.0, np.nan, 6.0, 8.0]) == 2.0
    assert sens_slope_matrix(np.array([[0.0, 2.0, np.nan, 6.0, 8.0]])).iloc[0] == 2.0
    assert np.isnan(sens_slope([np.nan, 1.0]))


# ----------------------------------------------------------------------- emerging hotspots
def _trend_z(kind: str, n: int) -> np.ndarray:
    """Positive z series with a significant upward, downward or no Mann-Kendall trend."""
    if kind == "up":
        return np.linspace(2.0, 6.0, n)
    if kind == "down":
        return np.linspace(6.0, 2.0, n)
    return np.where(np.arange(n) % 2 == 0, 3.0, 4.0)  # alternating: S ≈ 0


def _classify(bins: list[int], z: np.ndarray | None = None) -> pd.Series:
    b = np.asarray(bins)
    zz = np.where(b != 0, np.sign(b) * 3.0, 0.5) if z is None else z
    return emerging_hotspots(zz[np.newaxis, :], b[np.newaxis, :]).iloc[0]


HOT_CASES = {
    # name: (bins, z kind or None)
    "new": ([0, 0, 0, 0, 0, 0, 0, 0, 0, 2], None),
    "consecutive": ([0, 0, 0, 0, 0, 0, 0, 1, 2, 3], None),
    "intensifying": ([1, 1, 2, 2, 2, 3, 3, 3, 3, 3], "up"),
    "persistent": ([2, 2, 2, 2, 2, 2, 2, 2, 2, 2], "flat"),
    "diminishing": ([3, 3, 3, 3, 3, 2, 2, 2, 1, 1], "down"),
    "sporadic": ([0, 1, 0, 0, 2, 1, 0, 0, 0, 1], None),
    "oscillating": ([0, -2, 0, 0, 1, 1, 0, 0, 0, 1], None),
    "historical": ([2, 2, 2, 2, 2, 2, 2, 2, 2, 0], "flat"),
}


@pytest.mark.parametrize("sign", [1, -1], ids=["hot", "cold"])
@pytest.mark.parametrize("name", list(HOT_CASES))
def test_every_emerging_category(name: str, sign: int) -> None:
    bins, kind = HOT_CASES[name]
    b = sign * np.asarray(bins)
    z = None if kind is None else sign * _trend_z(kind, len(bins))
    if z is not None:  # keep z consistent with the bins' sign where a bin is significant
        z = np.where(b != 0, np.abs(z) * np.sign(b), 0.5 * sign)
    row = _classify(list(b), z)
    expected = name if sign == 1 else f"{name}_cold"
    assert row["emerging_category"] == expected
    assert row["emerging_label_fr"] == EMERGING_LABELS_FR[expected]
    if kind is not None:
        # The z series does carry the trend the rule needs (hot: up; cold: mirrored).
        want = {"up": "hausse", "down": "baisse", "flat": "aucune"}[kind]
        if sign == -1:
            want = {"hausse": "baisse", "baisse": "hausse", "aucune": "aucune"}[want]
        if name != "historical":
            assert row["mk_trend"] == want


def test_labels_are_french_and_complete() -> None:
    assert set(EMERGING_LABELS_FR) == set(EMERGING_CATEGORIES)
    assert EMERGING_LABELS_FR["new"] == "Nouveau point chaud"
    assert EMERGING_LABELS_FR["historical_cold"] == "Ancien point froid"
    assert EMERGING_LABELS_FR["no_pattern"] == "Aucune tendance"
    assert _classify([0, 1, 0, 0, 0, 0, 0, 1, 0, 0])["emerging_category"] == "no_pattern"


def test_ninety_percent_boundaries() -> None:
    up = _trend_z("up", 10)
    flat = _trend_z("flat", 10)
    down = _trend_z("down", 10)
    # 9 of 10 hot including the last: ≥ 90 % holds (exactly 90 %)
    nine_run = [0, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    nine_gap = [1, 1, 1, 0, 1, 1, 1, 1, 1, 1]
    assert _classify(nine_run, np.where(np.array(nine_run) > 0, up, 0.5))["emerging_category"] == (
        "intensifying"
    )
    assert _classify(nine_gap, np.where(np.array(nine_gap) > 0, up, 0.5))["emerging_category"] == (
        "intensifying"
    )
    assert _classify(nine_gap, flat)["emerging_category"] == "persistent"
    assert _classify(nine_gap, down)["emerging_category"] == "diminishing"
    # Consecutive needs fewer than 90 %: a final run of 9 of 10 is not consecutive…
    assert _classify(nine_run, flat)["emerging_category"] == "persistent"
    # …a final run of 8 of 10 is.
    assert _classify([0, 0, 1, 1, 1, 1, 1, 1, 1, 1], flat)["emerging_category"] == ("consecutive")
    # Sporadic needs fewer than 90 %: 9 of 10 on and off is persistent, 8 of 10 sporadic.
    assert _classify([1, 0, 1, 1, 1, 0, 1, 1, 1, 1])["emerging_category"] == "sporadic"
    # Oscillating: 9 hot + 1 cold of 10 is 90 % hot → not oscillating; 8 hot + 1 cold is.
    assert _classify([-1, 1, 1, 1, 1, 1, 1, 1, 1, 1], flat)["emerging_category"] == ("persistent")
    assert _classify([-1, 1, 1, 1, 1, 1, 1, 0, 1, 1])["emerging_category"] == "oscillating"
    # Historical: 9 of the 10 earlier steps hot (exactly 90 %) → historical; 8 → no pattern.
    assert _classify([1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0])["emerging_category"] == "historical"
    assert _classify([1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 0])["emerging_category"] == "no_pattern"
    # 18 of 20 is exactly 90 % too.
    b20 = [1] * 20
    b20[3] = b20[11] = 0
    assert _classify(b20, _trend_z("flat", 20))["emerging_category"] == "persistent"
    row = _classify(b20, _trend_z("flat", 20))
    assert row["hot_share"] == pytest.approx(0.9)
    assert row["n_steps_hot"] == 18


def test_overlaps_resolved_as_documented() -> None:
    # Hot in ≥ 90 % of all steps but not in the final one: historical, not persistent.
    assert _classify([1] * 10 + [0], _trend_z("flat", 11))["emerging_category"] == ("historical")
    # Cold earlier, hot only in the final step: "new" (listed first) beats "oscillating".
    assert _classify([0, -1, 0, 0, 0, 0, 0, 0, 0, 1])["emerging_category"] == "new"
    # Cold earlier, then one final hot run of ≥ 2: "consecutive" (never hot before).
    assert _classify([-1, 0, 0, 0, 0, 0, 0, 0, 1, 1])["emerging_category"] == "consecutive"
    # Long hot history then cold at the end: the final step decides the family.
    assert _classify([1, 1, 1, 1, 1, 1, 1, 1, 1, -1])["emerging_category"] == "new_cold"
    # Only bins at or above min_level count.
    z = np.where(np.arange(10) == 9, 2.0, 0.5)
    two = emerging_hotspots(
        z[np.newaxis, :], np.array([[0] * 9 + [1]]), min_level=2, index=pd.Index(["b1"])
    )
    assert two.loc["b1", "emerging_category"] == "no_pattern"


def test_emerging_hotspots_vectorised_rows_match_single_rows() -> None:
    rng = np.random.default_rng(3)
    bins = rng.choice([-2, -1, 0, 0, 0, 1, 1, 2, 3], size=(300, 12))
    bins[:50] = np.abs(bins[:50])  # some never-cold rows
    z = np.where(
        bins != 0, bins * 1.2 + rng.normal(0, 0.2, bins.shape), rng.normal(0, 1, bins.shape)
    )
    table = emerging_hotspots(z, bins)
    for r in range(0, 300, 7):
        single = emerging_hotspots(z[r : r + 1], bins[r : r + 1]).iloc[0]
        assert single["emerging_category"] == table.iloc[r]["emerging_category"]
    assert table["hot_share"].between(0, 1).all()
    assert set(table["emerging_category"]) <= set(EMERGING_CATEGORIES)


# --------------------------------------------------------------------------- space-time Gi*
@pytest.mark.filterwarnings("ignore::UserWarning:libpysal.*")
def test_space_time_gi_one_step_equals_esda() -> None:
    esda = pytest.importorskip("esda")
    from libpysal.weights import DistanceBand

    rng = np.random.default_rng(11)
    n = 400
    coords = rng.uniform(0, 2000, size=(n, 2))
    values = rng.poisson(3.0, size=(n, 5)).astype(float)
    values[np.hypot(*(coords - 500).T) < 300, 2] += 6  # a real cluster at step 2
    band = 180.0
    z, p, bins = space_time_gi(values, coords, band)
    w = DistanceBand(coords, threshold=band, binary=True, silence_warnings=True)
    for step in (0, 2):
        ref = esda.G_Local(values[:, step], w, transform="B", star=True, permutations=0)
        np.testing.assert_allclose(z[:, step], ref.Zs, rtol=0, atol=1e-9)
    np.testing.assert_allclose(p, 2 * stats.norm.sf(np.abs(z)), rtol=1e-12)
    # FDR bins against scipy's Benjamini–Hochberg adjusted p-values.
    for step in range(values.shape[1]):
        adj = stats.false_discovery_control(p[:, step], method="bh")
        level = np.select([adj <= 0.01, adj <= 0.05, adj <= 0.10], [3, 2, 1], 0)
        np.testing.assert_array_equal(bins[:, step], level * np.sign(z[:, step]))
    assert (bins[:, 2] > 0).sum() > 10  # the planted cluster is found


def test_space_time_gi_time_window_is_gi_over_the_slab() -> None:
    esda = pytest.importorskip("esda")
    from libpysal.graph import Graph
    from scipy import sparse
    from scipy.spatial import distance_matrix

    rng = np.random.default_rng(5)
    n = 120
    coords = rng.uniform(0, 1000, size=(n, 2))
    values = rng.poisson(2.0, size=(n, 4)).astype(float)
    band = 150.0
    z, _, _ = space_time_gi(values, coords, band, time_window=1)
    near = (distance_matrix(coords, coords) <= band).astype(float)  # self included
    island = near.sum(axis=1) == 1
    assert island.any()  # this layout has some: their Gi* is not computed
    assert np.isnan(z[island]).all()
    for t in (1, 3):
        # Nodes (i, t−1) then (i, t); node (i, t) neighbours (j, t−1) and (j, t), j near i.
        blocks = sparse.bmat([[near, None], [near, near]]).tocsr()
        y = np.concatenate([values[:, t - 1], values[:, t]])
        ref = esda.G_Local(y, Graph.from_sparse(blocks), transform="B", star=True, permutations=0)
        np.testing.assert_allclose(z[~island, t], ref.Zs[n:][~island], rtol=0, atol=1e-9)
    # Step 0 has no previous step: plain spatial Gi*.
    z0, _, _ = space_time_gi(values[:, :1], coords, band)
    np.testing.assert_allclose(z[:, 0], z0[:, 0], atol=1e-12)


def test_space_time_gi_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="coords_m"):
        space_time_gi(np.zeros((3, 2)), np.zeros((2, 2)), 10.0)
    with pytest.raises(ValueError, match="NaN"):
        space_time_gi(np.array([[np.nan], [1.0]]), np.zeros((2, 2)), 10.0)
    # A constant step has no Gi*: NaN z, not significant.
    z, _, bins = space_time_gi(np.ones((5, 1)), np.arange(10.0).reshape(5, 2), 3.0)
    assert np.isnan(z).all()
    assert (bins == 0).all()


# ---------------------------------------------------------------------------- period counts
def _reports() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "building_id": ["way/1", "way/1", "way/1", "way/2", "way/2"],
            "category": ["ascenseur", "ascenseur", "nuisibles", "ascenseur", "ascenseur"],
            "reported_at": pd.to_datetime(
                ["2024-01-05", "2024-01-31 23:30", "2024-03-10", "2024-03-01", "2024-04-02"],
                format="ISO8601",
            ),
        }
    )


def test_monthly_counts_fills_empty_months_with_zeros() -> None:
    out = monthly_counts(_reports(), by=["building_id"])
    assert list(out.columns) == ["building_id", "period_start", "n_reports"]
    way1 = out[out["building_id"] == "way/1"]
    assert list(way1["period_start"]) == ["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"]
    assert list(way1["n_reports"]) == [2, 0, 1, 0]
    way2 = out[out["building_id"] == "way/2"]
    assert list(way2["n_reports"]) == [0, 0, 1, 1]
    assert out["n_reports"].dtype == np.int64

    wide = monthly_counts(_reports(), by=["building_id", "category"], form="wide")
    assert list(wide.columns) == ["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"]
    assert wide.loc[("way/1", "nuisibles")].tolist() == [0, 0, 1, 0]
    assert wide.loc[("way/2", "ascenseur")].tolist() == [0, 0, 1, 1]
    assert len(wide) == 3  # observed combinations only
    full = monthly_counts(
        _reports(), by=["building_id", "category"], form="wide", all_combinations=True
    )
    assert len(full) == 4
    assert full.loc[("way/2", "nuisibles")].sum() == 0


def test_monthly_counts_other_frequencies_and_bounds() -> None:
    quarters = monthly_counts(_reports(), by=[], freq="Q", end="2024-12-31")
    assert list(quarters["period_start"]) == [
        "2024-01-01",
        "2024-04-01",
        "2024-07-01",
        "2024-10-01",
    ]
    assert list(quarters["n_reports"]) == [4, 1, 0, 0]
    weeks = monthly_counts(_reports(), by=[], freq="W", start="2024-02-26", end="2024-03-12")
    # ISO weeks start on Monday: 26 Feb, 4 Mar, 11 Mar; 1 Mar and 10 Mar fall in the first two.
    assert list(weeks["period_start"]) == ["2024-02-26", "2024-03-04", "2024-03-11"]
    assert list(weeks["n_reports"]) == [1, 1, 0]
    total = monthly_counts(_reports(), by=[], form="wide")
    assert total.loc["total"].tolist() == [2, 0, 2, 1]
    # Time-zone-aware dates are counted on their local wall clock.
    tz = _reports().assign(reported_at=lambda d: d["reported_at"].dt.tz_localize("Europe/Paris"))
    assert monthly_counts(tz, by=[])["n_reports"].tolist() == [2, 0, 2, 1]


def test_monthly_counts_on_real_dansmarue_reports() -> None:
    dmr = pd.read_csv(DMR_CSV, usecols=["arrondissement", "datedecl", "mois_annee_decla"])
    out = monthly_counts(dmr, by=["arrondissement"], date_column="datedecl")
    n_months = 14  # 2023-08 … 2024-09
    assert out.groupby("arrondissement").size().eq(n_months).all()
    assert out["n_reports"].sum() == len(dmr)
    # Independent count from the file's own month column.
    ref = dmr.groupby(["arrondissement", "mois_annee_decla"]).size()
    got = out.assign(month=out["period_start"].str[:7]).set_index(["arrondissement", "month"])
    got = got["n_reports"]
    assert (got.loc[ref.index] == ref.to_numpy()).all()
    assert got.sum() == ref.sum()  # the rest are zeros


# ------------------------------------------------------------------------ follow-up delays
def _followed() -> pd.DataFrame:
    t0 = pd.Timestamp("2024-03-01 08:00")
    hours = [10, 30, 50, np.nan, 4, 8, np.nan]
    return pd.DataFrame(
        {
            "building_id": ["way/1"] * 4 + ["way/2"] * 3,
            "category": ["ascenseur"] * 4 + ["nuisibles"] * 2 + ["autre"],
            "reported_at": [t0] * 7,
            "closed_at": [t0 + pd.Timedelta(hours=h) if h == h else pd.NaT for h in hours],
        }
    )


def test_closing_delays_by_hand() -> None:
    out = closing_delays(_followed(), targets_h={"ascenseur": 48, "nuisibles": 8})
    lift = out.loc["ascenseur"]
    assert (lift["n"], lift["n_closed"]) == (4, 3)
    assert lift["median_delay_h"] == 30
    assert lift["p90_delay_h"] == pytest.approx(30 + 0.8 * 20)  # linear, 0.9·(3−1) = 1.8
    assert lift["share_closed_within_target"] == pytest.approx(2 / 4)  # 10 h and 30 h
    pests = out.loc["nuisibles"]
    assert pests["median_delay_h"] == 6
    assert pests["share_closed_within_target"] == 1.0  # 4 h and 8 h: "≤ target" includes 8 h
    other = out.loc["autre"]
    assert other["n_closed"] == 0
    assert np.isnan(other["median_delay_h"])
    assert np.isnan(other["share_closed_within_target"])
    # As of 40 h after the reports, the open lift report is not yet due (target 48 h).
    as_of = closing_delays(
        _followed(), targets_h={"ascenseur": 48}, as_of=pd.Timestamp("2024-03-03 00:00")
    )
    assert as_of.loc["ascenseur", "share_closed_within_target"] == pytest.approx(2 / 3)


def test_closing_before_reporting_is_logged_by_report_id(caplog: pytest.LogCaptureFixture) -> None:
    """Hostile run of w9: a report closed before it was reported was logged by its row
    position (« premiers index : [28] »), which the analyst cannot look up."""
    frame = _followed()
    frame["report_id"] = [f"bailleur:DI-{k}" for k in range(len(frame))]
    frame.loc[2, "closed_at"] = frame.loc[2, "reported_at"] - pd.Timedelta(days=3)
    with caplog.at_level("WARNING"):
        out = closing_delays(frame, targets_h={})
    assert out.loc["ascenseur", "n_invalid_delay"] == 1
    assert "bailleur:DI-2" in caplog.text
    assert "index" not in caplog.text


def test_open_backlog_by_hand() -> None:
    frame = pd.DataFrame(
        {
            "category": ["a", "a", "b", "b"],
            "reported_at": pd.to_datetime(
                ["2024-01-10", "2024-01-31 23:59", "2024-02-05", "2024-03-01"], format="ISO8601"
            ),
            "closed_at": pd.to_datetime(
                ["2024-02-01 00:00", pd.NaT, "2024-02-29 23:59", "2024-03-02"], format="ISO8601"
            ),
        }
    )
    months = pd.period_range("2024-01", "2024-03", freq="M")
    total = open_backlog(frame, months)
    # End Jan: the first two are open; end Feb: only the never-closed one; end Mar: the same.
    assert total["n_open"].tolist() == [2, 1, 1]
    assert total["period_start"].tolist() == ["2024-01-01", "2024-02-01", "2024-03-01"]
    per = open_backlog(frame, months, by=["category"])
    assert per.loc[per["category"] == "b", "n_open"].tolist() == [0, 0, 0]
    assert per.loc[per["category"] == "a", "n_open"].tolist() == [2, 1, 1]


def test_before_after_by_hand() -> None:
    counts_a = pd.Series({"way/1": 4, "way/2": 0, "way/3": 5})
    counts_b = pd.Series({"way/1": 6, "way/2": 3, "way/4": 1})
    bins_a = pd.Series({"way/1": 2, "way/2": 0, "way/3": -1, "way/4": 0})
    bins_b = pd.Series({"way/1": 3, "way/2": 1, "way/3": 0, "way/4": -2})
    out = before_after(counts_a, counts_b, bins_a, bins_b)
    assert list(out.index) == ["way/1", "way/2", "way/3", "way/4"]
    assert out["n_reports_change"].tolist() == [2, 3, -5, 1]
    assert out.loc["way/1", "n_reports_change_pct"] == 50.0
    assert np.isnan(out.loc["way/2", "n_reports_change_pct"])
    assert out["hotspot_change"].tolist() == [
        "still_hot",
        "became_hot",
        "no_longer_cold",
        "became_cold",
    ]
    assert out.loc["way/1", "gi_bin_change"] == 1
    assert out.loc["way/2", "hotspot_change_fr"] == "Devient point chaud"


def test_closing_delays_per_building_hold_each_report_to_its_category_target() -> None:
    out = closing_delays(_followed(), targets_h={"ascenseur": 48, "nuisibles": 6}, by="building_id")
    # way/1: four lift reports, 10 h and 30 h within 48 h, 50 h late, one open.
    assert out.loc["way/1", "share_closed_within_target"] == pytest.approx(2 / 4)
    assert out.loc["way/1", "target_h"] == 48  # one category: its target
    # way/2: pests at 4 h (within 6 h) and 8 h (late); "autre" has no target.
    assert out.loc["way/2", "n_due"] == 2
    assert out.loc["way/2", "share_closed_within_target"] == pytest.approx(1 / 2)
    assert np.isnan(out.loc["way/2", "target_h"])  # mixed categories: no single target


def test_emerging_table_leaves_untested_steps_out() -> None:
    from pipelines.stats.emerging import emerging_hotspot_table

    rng = np.random.default_rng(8)
    n = 200
    coords = rng.uniform(0, 1500, size=(n, 2))
    cube = pd.DataFrame(rng.poisson(2.0, size=(n, 12)).astype(float))
    cube.iloc[:, 11] += np.where(np.hypot(*(coords - 700).T) < 200, 8, 0)
    tested = np.ones(12, dtype=bool)
    tested[[0, 5]] = False
    out = emerging_hotspot_table(cube, coords, 150.0, steps_tested=tested)
    full = emerging_hotspot_table(cube, coords, 150.0)
    assert (out["n_steps_hot"] <= full["n_steps_hot"]).all()
    # Untested steps count in the steps but are never hot; MK drops their NaN z.
    assert (out["n_steps"] == 12).all()
    assert out["gi_bin_last"].equals(full["gi_bin_last"])
    assert (out["emerging_category"] == "new").sum() > 0
    with pytest.raises(ValueError, match="steps_tested"):
        emerging_hotspot_table(cube, coords, 150.0, steps_tested=tested[:5])
