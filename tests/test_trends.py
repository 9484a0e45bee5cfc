"""Tests for the trends stage (pipelines.trends.stage): hand-made frames with known answers,
the simulated Bondy run (planted rising buildings, seasonal heating) and the real
DansMaRue Paris 10e reports (monthly series against an independent count of the raw CSV).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pymannkendall
import pytest
from shapely.geometry import box

from pipelines.config import DEFAULT_PARAMS, HotspotParams, TrendSettings, load_config
from pipelines.crs import LAMBERT93
from pipelines.errors import ConfigError
from pipelines.io import read_csv
from pipelines.reports import counted as is_counted
from pipelines.stats.band import auto_distance_band
from pipelines.stats.gistar import feature_points
from pipelines.trends import stage as trends

ROOT = Path(__file__).resolve().parents[1]
DMR_CSV = ROOT / "data/raw/paris10/dansmarue_paris_2023-08_2024-09.csv"
PARIS_OSM = ROOT / "data/raw/paris10/paris10.osm"
PMK_TREND = {"increasing": "hausse", "decreasing": "baisse", "no trend": "aucune"}


# ---------------------------------------------------------------------------- site runs
@dataclass(frozen=True)
class SiteRun:
    out: Path
    processed: Path
    summary: dict[str, Any]
    series: pd.DataFrame
    tests: pd.DataFrame
    emerging: gpd.GeoDataFrame
    reports: gpd.GeoDataFrame


def _run_site(demo_run: Any, site: str, out: Path) -> SiteRun:
    config = load_config(demo_run.config)
    processed = demo_run.site(site)
    summary = trends.run(
        config,
        site,
        reports_path=processed / "reports.parquet",
        buildings_path=processed / "buildings_osm.parquet",
        out_dir=out,
    )
    return SiteRun(
        out,
        processed,
        summary,
        pd.read_parquet(out / "trends.parquet"),
        pd.read_parquet(out / "trend_tests.parquet"),
        gpd.read_parquet(out / "emerging.parquet"),
        gpd.read_parquet(processed / "reports.parquet"),
    )


@pytest.fixture(scope="module")
def bondy(demo_run: Any, tmp_path_factory: pytest.TempPathFactory) -> SiteRun:
    return _run_site(demo_run, "bondy", tmp_path_factory.mktemp("trends_bondy"))


@pytest.fixture(scope="module")
def paris(demo_run: Any, tmp_path_factory: pytest.TempPathFactory) -> SiteRun:
    return _run_site(demo_run, "paris10", tmp_path_factory.mktemp("trends_paris"))


@pytest.fixture(scope="module")
def truth(demo_run: Any) -> dict[str, Any]:
    return dict(json.loads((demo_run.raw_bondy / "simulation_truth.json").read_text("utf-8")))


def _counted(reports: pd.DataFrame) -> pd.DataFrame:
    return reports[(reports["source_kind"] == "reports") & reports["duplicate_of"].isna()]


# ------------------------------------------------------------------- Bondy (simulated)
def test_every_output_file_is_written(bondy: SiteRun) -> None:
    for name in trends.OUTPUT_FILES:
        path = bondy.out / name
        assert path.exists(), name
        assert path.stat().st_size > 0, name
    assert set(bondy.series.columns) == {"level", "key", "period_start", "n_reports"}
    assert set(bondy.series["level"]) == {"site", "category", "building"}
    on_disk = json.loads((bondy.out / "trend_summary.json").read_text("utf-8"))
    assert on_disk["parameters"]["freq"] == "M"
    assert on_disk["parameters"]["targets_h"]["ascenseur"] == 48.0
    assert bondy.emerging.crs.to_epsg() == 4326


def test_series_have_every_month_with_zeros(bondy: SiteRun, truth: dict[str, Any]) -> None:
    months = pd.date_range(truth["period"]["start"], truth["period"]["end"], freq="MS")[:-1]
    per_key = bondy.series.groupby(["level", "key"])["period_start"].apply(list)
    for starts in per_key:
        assert starts == list(months)
    site = bondy.series[bondy.series["level"] == "site"]
    counted = _counted(bondy.reports)
    assert site["n_reports"].sum() == len(counted)
    cats = bondy.series[bondy.series["level"] == "category"]
    assert cats["n_reports"].sum() == len(counted)
    buildings = bondy.series[bondy.series["level"] == "building"]
    assert buildings["n_reports"].sum() == counted["building_id"].notna().sum()
    assert (bondy.series["n_reports"] == 0).any()  # empty months are rows, not gaps


def test_site_trend_matches_pymannkendall(bondy: SiteRun) -> None:
    site = bondy.series[bondy.series["level"] == "site"].sort_values("period_start")
    ref = pymannkendall.original_test(site["n_reports"].to_numpy(float))
    head = bondy.summary["headline"]
    assert head["trend"] == PMK_TREND[ref.trend]
    assert head["mk_z"] == pytest.approx(ref.z, rel=1e-9)
    assert head["mk_p"] == pytest.approx(ref.p, rel=1e-9)
    assert head["sens_slope_per_period"] == pytest.approx(ref.slope, rel=1e-9)
    assert head["direction"] == {"hausse": "up", "baisse": "down", "aucune": "flat"}[head["trend"]]
    assert head["period_fr"] == "mois"
    assert "par mois" in head["trend_fr"]


def test_band_is_the_hotspot_stages(bondy: SiteRun, demo_run: Any) -> None:
    band = bondy.summary["parameters"]["distance_band"]
    b = gpd.read_parquet(bondy.processed / "buildings_osm.parquet")
    counted = _counted(bondy.reports)
    totals = (
        counted.groupby("building_id").size().reindex(b["building_id"], fill_value=0).to_numpy()
    )
    ref = auto_distance_band(feature_points(b.to_crs(LAMBERT93)), totals)
    assert band["band_m"] == pytest.approx(ref.band_m)
    assert band["method"] == ref.method
    hotspot_summary = demo_run.site("bondy") / "hotspot_summary.json"
    if hotspot_summary.exists():  # the hotspot stage records its band too
        recorded = json.loads(hotspot_summary.read_text("utf-8")).get("band")
        if isinstance(recorded, dict) and "band_m" in recorded:
            assert band["band_m"] == pytest.approx(recorded["band_m"])


@pytest.mark.parametrize("pattern", ["intensifying", "consecutive", "new"])
def test_planted_rising_buildings_emerge_as_designed(
    bondy: SiteRun, truth: dict[str, Any], pattern: str
) -> None:
    planted = [r for r in truth["rising"] if r["pattern"] == pattern]
    assert planted, f"the simulator planted no {pattern} building"
    em = bondy.emerging.set_index("building_id")
    for r in planted:
        row = em.loc[r["building_id"]]
        assert row["gi_bin_last"] > 0, r["building_id"]  # hot in the final month
        assert row["emerging_category"] == pattern, (r["building_id"], row.to_dict())


def test_consecutive_run_and_intensifying_trend(bondy: SiteRun, truth: dict[str, Any]) -> None:
    em = bondy.emerging.set_index("building_id")
    for r in truth["rising"]:
        row = em.loc[r["building_id"]]
        if r["pattern"] == "consecutive":
            # hot exactly over the planted run, which starts at first_month
            assert row["n_steps_hot"] == truth["period"]["months"] - r["first_month"]
        if r["pattern"] == "intensifying":
            assert row["mk_trend"] == "hausse"
            assert row["mk_p"] < 0.05
            assert row["hot_share"] >= 0.9


def test_heating_peaks_in_winter_in_the_output_series(
    bondy: SiteRun, truth: dict[str, Any]
) -> None:
    heating = bondy.series[
        (bondy.series["level"] == "category") & (bondy.series["key"] == "chauffage")
    ]
    by_month = heating.groupby(heating["period_start"].dt.month)["n_reports"].mean()
    peak = truth["seasonal"]["peak_months"]
    assert set(peak) == {11, 12, 1, 2}
    assert int(by_month.idxmax()) in peak
    # The four busiest calendar months are the heating season, and winter doubles summer.
    assert set(by_month.nlargest(4).index) == set(peak)
    assert by_month.loc[peak].mean() > 2 * by_month.loc[[5, 6, 7, 8, 9]].mean()


def test_emerging_counts_in_summary(bondy: SiteRun) -> None:
    counts = bondy.summary["emerging"]["counts"]
    assert sum(counts.values()) == len(bondy.emerging)
    observed = bondy.emerging["emerging_category"].value_counts()
    for code, n in counts.items():
        assert observed.get(code, 0) == n
    labels = bondy.emerging.drop_duplicates("emerging_category")
    for code, label in zip(labels["emerging_category"], labels["emerging_label_fr"], strict=True):
        assert bondy.summary["emerging"]["labels_fr"][code] == label


def test_followup_against_an_independent_count(bondy: SiteRun) -> None:
    followup = read_csv(bondy.out / "followup.csv")
    lift = followup[(followup["level"] == "category") & (followup["key"] == "ascenseur")].iloc[0]
    r = _counted(bondy.reports)
    r = r[r["category"] == "ascenseur"]
    as_of = pd.Timestamp(bondy.summary["parameters"]["as_of"])
    delay_h = (r["closed_at"] - r["reported_at"]).dt.total_seconds() / 3600
    not_due = r["closed_at"].isna() & ((as_of - r["reported_at"]).dt.total_seconds() < 48 * 3600)
    within = (delay_h <= 48).sum()
    assert lift["n_reports"] == len(r)
    assert lift["n_open"] == r["closed_at"].isna().sum()
    assert lift["median_delay_h"] == pytest.approx(delay_h.median(), abs=1e-3)
    assert lift["share_closed_within_target"] == pytest.approx(
        within / (len(r) - not_due.sum()), abs=1e-3
    )
    assert lift["label_fr"] == "Ascenseur en panne"
    backlog = read_csv(bondy.out / "backlog.csv")
    site = backlog[backlog["level"] == "site"].sort_values("period_start")
    end = pd.Timestamp(site["period_end"].iloc[-1])
    all_counted = _counted(bondy.reports)
    still_open = all_counted["closed_at"].isna() | (all_counted["closed_at"] > end)
    assert site["n_open"].iloc[-1] == int((still_open & (all_counted["reported_at"] <= end)).sum())


def test_before_after_windows_and_counts(bondy: SiteRun) -> None:
    p = bondy.summary["parameters"]
    assert p["compare_after"] == {"start": "2025-10-01", "end": "2025-12-31"}
    assert p["compare_before"] == {"start": "2025-07-01", "end": "2025-09-30"}
    ba = gpd.read_parquet(bondy.out / "before_after.parquet")
    r = _counted(bondy.reports)
    r = r[r["building_id"].notna()]
    after = r[(r["reported_at"] >= "2025-10-01") & (r["reported_at"] < "2026-01-01")]
    before = r[(r["reported_at"] >= "2025-07-01") & (r["reported_at"] < "2025-10-01")]
    assert ba["n_reports_after"].sum() == len(after)
    assert ba["n_reports_before"].sum() == len(before)
    assert (ba["n_reports_change"] == ba["n_reports_after"] - ba["n_reports_before"]).all()
    # The consecutive buildings surged in the after window: they became hot.
    assert set(ba["hotspot_change"]) <= {
        "became_hot", "no_longer_hot", "became_cold", "no_longer_cold", "cold_to_hot",
        "hot_to_cold", "still_hot", "still_cold", "not_significant",
    }  # fmt: skip


# ------------------------------------------------------------------ Paris 10e (real)
def _raw_inside_by_month() -> pd.Series:
    """DansMaRue reports inside the OSM extract's bounds, counted per month from the raw
    CSV, without any of the pipeline's code."""
    raw = pd.read_csv(DMR_CSV, dtype=str)
    head = PARIS_OSM.read_text(encoding="utf-8")[:5000]
    bounds_tag = head.split("<bounds", 1)[1].split("/>", 1)[0]
    b = {k: float(v) for k, v in re.findall(r'(\w+)="([-\d.]+)"', bounds_tag)}
    lonlat = raw["geo_point_2d"].str.extract(r"'lon':\s*([-\d.]+),\s*'lat':\s*([-\d.]+)")
    lon, lat = lonlat[0].astype(float), lonlat[1].astype(float)
    inside = lon.between(b["minlon"], b["maxlon"]) & lat.between(b["minlat"], b["maxlat"])
    return raw.loc[inside, "datedecl"].str[:7].value_counts().sort_index()


def test_paris_monthly_series_match_the_raw_csv(paris: SiteRun) -> None:
    raw = _raw_inside_by_month()
    assert raw.sum() == 109  # shared/README: about 109 reports inside the extract
    site = paris.series[paris.series["level"] == "site"]
    got = pd.Series(site["n_reports"].to_numpy(), index=site["period_start"].dt.strftime("%Y-%m"))
    # Likely duplicates are not counted: add them back per month to compare.
    dups = paris.reports.loc[paris.reports["duplicate_of"].notna(), "reported_at"]
    got = got.add(dups.dt.strftime("%Y-%m").value_counts(), fill_value=0).astype(int)
    assert list(got.index) == list(raw.index)  # every month from Aug 2023 to Aug 2024
    assert (got == raw).all()
    assert paris.summary["parameters"]["n_periods"] == 13


def test_paris_without_closure_dates_or_enough_reports(paris: SiteRun) -> None:
    assert not paris.summary["followup"]["computed"]
    followup = read_csv(paris.out / "followup.csv")
    assert len(followup) == 0
    assert "median_delay_h" in followup.columns
    # 107 reports over 13 months: no month reaches 30, so no emerging analysis.
    assert not paris.summary["emerging"]["computed"]
    assert "Trop peu de signalements" in paris.summary["emerging"]["note_fr"]
    assert paris.summary["headline"]["trend"] in {"hausse", "baisse", "aucune"}


# ------------------------------------------------------------------- hand-made frames
def _frame(rows: list[tuple[str | None, str, str]], **extra: Any) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "building_id": pd.array([r[0] for r in rows], dtype="string"),
            "category": [r[1] for r in rows],
            "reported_at": pd.to_datetime([r[2] for r in rows], format="ISO8601"),
            **extra,
        }
    )


def test_counted_reports_excludes_observations_and_duplicates() -> None:
    frame = _frame(
        [("way/1", "ascenseur", "2024-01-02")] * 4,
        source_kind=["reports", "observations", "reports", "reports"],
        duplicate_of=pd.array([None, None, "r1", None], dtype="string"),
    )
    assert is_counted(frame).tolist() == [True, False, False, True]


def test_building_cube_counts_by_hand(caplog: pytest.LogCaptureFixture) -> None:
    frame = _frame(
        [
            ("way/1", "a", "2024-01-05"),
            ("way/1", "a", "2024-01-31 23:59"),
            ("way/2", "a", "2024-03-01"),
            ("way/9", "a", "2024-02-01"),  # not in the footprint layer: dropped, logged
            (None, "a", "2024-02-01"),  # not placed
            ("way/2", "a", "2023-12-31"),  # before the first period
        ]
    )
    periods = pd.period_range("2024-01", "2024-03", freq="M")
    ids = pd.Index(["way/2", "way/1", "way/3"])
    with caplog.at_level(logging.WARNING):
        cube = trends.building_cube(frame, ids, periods)
    assert "absent" in caplog.text
    assert list(cube.index) == ["way/2", "way/1", "way/3"]
    assert cube.loc["way/1"].tolist() == [2, 0, 0]
    assert cube.loc["way/2"].tolist() == [0, 0, 1]
    assert cube.loc["way/3"].tolist() == [0, 0, 0]
    assert list(cube.columns) == list(periods.start_time)
    long = trends.building_series(cube)
    assert set(long["key"]) == {"way/1", "way/2"}  # buildings with reports only
    assert len(long) == 6


def test_weekly_and_quarterly_periods() -> None:
    frame = _frame(
        [
            ("way/1", "a", "2024-01-01"),
            ("way/1", "a", "2024-01-07 23:00"),
            ("way/1", "a", "2024-01-22"),
        ]
    )
    weeks = trends.study_periods(frame["reported_at"], freq="W")
    mondays = ["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22"]
    assert [str(p.start_time.date()) for p in weeks] == mondays
    series = trends.site_and_category_series(frame, weeks, site_key="s")
    site = series[series["level"] == "site"]
    assert site["n_reports"].tolist() == [2, 0, 0, 1]  # Monday to Sunday
    quarters = trends.study_periods(frame["reported_at"], freq="Q", end="2024-08-01")
    assert len(quarters) == 3


def test_series_tests_against_pymannkendall() -> None:
    rng = np.random.default_rng(4)
    periods = pd.date_range("2023-01-01", periods=18, freq="MS")
    rows = []
    for k, drift in enumerate([0.0, 0.6, -0.5]):
        counts = rng.poisson(5, 18) + np.round(drift * np.arange(18)).clip(-5)
        for t, c in zip(periods, counts, strict=True):
            rows.append(("building", f"way/{k}", t, int(max(c, 0))))
    series = pd.DataFrame(rows, columns=["level", "key", "period_start", "n_reports"])
    out = trends.series_tests(series).set_index("key")
    for key, group in series.groupby("key"):
        ref = pymannkendall.original_test(group["n_reports"].to_numpy(float))
        assert out.loc[key, "trend"] == PMK_TREND[ref.trend]
        assert out.loc[key, "mk_z"] == pytest.approx(ref.z, rel=1e-12)
        assert out.loc[key, "sens_slope_per_period"] == pytest.approx(ref.slope)
        assert out.loc[key, "n_reports"] == group["n_reports"].sum()
    assert out.loc["way/1", "trend_fr"] == "hausse significative"


def test_comparison_windows() -> None:
    periods = pd.period_range("2024-01", "2024-12", freq="M")
    before, after = trends.comparison_windows(periods)
    assert after.as_dict() == {"start": "2024-10-01", "end": "2024-12-31"}
    assert before.as_dict() == {"start": "2024-07-01", "end": "2024-09-30"}
    before, after = trends.comparison_windows(
        periods, before=["2024-01-01", "2024-03-31"], after=["2024-06-01", "2024-06-30"]
    )
    assert (before.start, after.end) == (pd.Timestamp("2024-01-01"), pd.Timestamp("2024-07-01"))
    weeks = pd.period_range("2024-01-01", "2024-03-31", freq="W")  # months even for weeks
    _, after = trends.comparison_windows(weeks, months=1)
    assert after.end == pd.Timestamp("2024-04-01")


def test_trend_params_are_checked() -> None:
    # The trends settings are built and checked by config (TrendSettings).
    assert TrendSettings.from_dict({}).time_window == DEFAULT_PARAMS["trends"]["time_window"]
    with pytest.raises(ConfigError, match=r"params\.trends\.freq"):
        TrendSettings.from_dict({"freq": "H"}, "demo.toml")
    with pytest.raises(ConfigError, match=r"params\.trends\.targets_h\.lift"):
        TrendSettings.from_dict({"targets_h": {"lift": 48}}, "demo.toml")
    with pytest.raises(ConfigError, match=r"params\.trends\.min_level"):
        TrendSettings.from_dict({"min_level": 4})
    with pytest.raises(ConfigError, match="compare_after"):
        TrendSettings.from_dict({"compare_after": ["2024-06-30", "2024-06-01"]})
    assert TrendSettings.from_dict({"freq": "QE"}).freq == "Q"


def _grid_city(n_side: int = 20, spacing_m: float = 30.0) -> gpd.GeoDataFrame:
    """n_side² square 10 m buildings on a regular grid, EPSG:2154 (ids way/0 …)."""
    xs, ys = np.meshgrid(np.arange(n_side) * spacing_m, np.arange(n_side) * spacing_m)
    geoms = [
        box(650_000 + x, 6_860_000 + y, 650_010 + x, 6_860_010 + y)
        for x, y in zip(xs.ravel(), ys.ravel(), strict=True)
    ]
    ids = [f"way/{i}" for i in range(len(geoms))]
    return gpd.GeoDataFrame({"building_id": ids}, geometry=geoms, crs=LAMBERT93)


def _background(
    city: gpd.GeoDataFrame, n_months: int, seed: int = 0
) -> tuple[list[tuple[str, str, pd.Timestamp]], pd.DatetimeIndex]:
    """Poisson(0.5) reports per building and month: a calm city."""
    rng = np.random.default_rng(seed)
    months = pd.date_range("2024-01-01", periods=n_months, freq="MS")
    counts = rng.poisson(0.5, (len(city), n_months))
    rows = [
        (f"way/{i}", "proprete", months[m] + pd.Timedelta(days=3))
        for i, m in zip(*np.nonzero(counts), strict=True)
        for _ in range(counts[i, m])
    ]
    return rows, months


BAND_8_NEIGHBOURS = HotspotParams(distance_band_m=45.0)  # 30 m grid: the 8 surrounding buildings


def test_a_final_month_surge_is_a_new_hotspot() -> None:
    city = _grid_city()
    rows, months = _background(city, 12)
    rows += [("way/42", "ascenseur", months[-1] + pd.Timedelta(days=5))] * 25
    reports = pd.DataFrame(rows, columns=["building_id", "category", "reported_at"])
    result = trends.analyse_trends(
        reports, city.to_crs("EPSG:4326"), hotspot_params=BAND_8_NEIGHBOURS, site_key="grid"
    )
    em = result.emerging.table
    assert em is not None
    assert em.loc["way/42", "n_neighbours"] == 8
    # The surge and its 8 neighbours (their Gi* neighbourhoods hold it) are new hot
    # spots; nothing else in the calm city is classified.
    new = set(em.index[em["emerging_category"] == "new"])
    assert "way/42" in new
    assert new <= {f"way/{42 + dx + 20 * dy}" for dx in (-1, 0, 1) for dy in (-1, 0, 1)}
    assert (em["emerging_category"].isin(["new", "no_pattern"])).all()
    assert result.summary["parameters"]["distance_band"]["method"] == "configured"
    assert result.summary["emerging"]["counts"]["new"] == len(new)
    ba = result.before_after
    assert ba is not None
    assert ba.loc["way/42", "n_reports_after"] >= 25
    assert ba.loc["way/42", "hotspot_change"] == "became_hot"
    assert result.followup is None  # no closure dates in these reports


def test_a_steady_rise_is_an_intensifying_hotspot() -> None:
    city = _grid_city()
    rows, months = _background(city, 24)
    rows += [
        ("way/357", "eau_fuite", months[m] + pd.Timedelta(days=9))
        for m in range(24)
        for _ in range(10 + 2 * m)
    ]
    reports = pd.DataFrame(rows, columns=["building_id", "category", "reported_at"])
    result = trends.analyse_trends(reports, city, hotspot_params=BAND_8_NEIGHBOURS)
    em = result.emerging.table
    assert em is not None
    row = em.loc["way/357"]
    assert row["emerging_category"] == "intensifying"
    assert row["n_steps_hot"] == 24
    assert row["mk_trend"] == "hausse"
    tests = result.tests.set_index(["level", "key"])
    assert tests.loc[("building", "way/357"), "sens_slope_per_period"] == pytest.approx(
        2.0, abs=0.3
    )


def test_emerging_analysis_refuses_short_or_sparse_cubes() -> None:
    city = _grid_city(6)
    coords = feature_points(city)
    ids = pd.Index(city["building_id"])
    short = pd.DataFrame(1, index=ids, columns=pd.date_range("2024-01-01", periods=6, freq="MS"))
    res = trends.emerging_analysis(short, coords)
    assert res.table is None
    assert "au moins 10" in str(res.note_fr)
    sparse = pd.DataFrame(0, index=ids, columns=pd.date_range("2024-01-01", periods=12, freq="MS"))
    sparse.iloc[:3] = 1  # 3 reports a month, far below 30
    res = trends.emerging_analysis(sparse, coords)
    assert res.table is None
    assert "Trop peu" in str(res.note_fr)


def test_headline_without_reports() -> None:
    tests = pd.DataFrame(
        {"level": ["site"], "key": ["s"], "n_periods": [3], "n_reports": [0], "mk_s": [0],
         "mk_z": [0.0], "mk_p": [1.0], "trend": ["aucune"], "trend_fr": ["x"],
         "sens_slope_per_period": [0.0]}
    )  # fmt: skip
    head = trends.headline(tests)
    assert head["direction"] == "flat"
    assert head["n_reports"] == 0


def test_trend_sentence_in_french() -> None:
    text = trends.trend_sentence_fr("hausse", 1.5, 0.0031)
    assert text == "hausse significative (+1,5 signalements par mois, p = 0,003)"
    assert trends.trend_sentence_fr("aucune", 0.0, 0.5, freq="W").endswith(
        "(0,0 signalement par semaine, p = 0,500)"
    )
    assert "p < 0,001" in trends.trend_sentence_fr("baisse", -2.0, 1e-6)


def test_coverage_flags_partly_covered_edge_periods() -> None:
    dates = pd.Series(pd.to_datetime(["2023-08-18", "2024-01-10", "2024-08-17"]))
    periods = pd.period_range("2023-08", "2024-08", freq="M")
    cov = trends.coverage(dates, periods)
    assert cov["first_report_at"] == "2023-08-18T00:00:00"
    assert "première période" in cov["note_fr"]
    assert "dernier signalement le 17/08/2024" in cov["note_fr"]
    full = pd.Series(pd.to_datetime(["2024-01-01 10:00", "2024-03-31 18:00"]))
    assert trends.coverage(full, pd.period_range("2024-01", "2024-03", freq="M"))["note_fr"] is None
