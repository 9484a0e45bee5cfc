"""The hotspot stage: counts, rates, Gi* on buildings, categories, rates and hexagons,
kernel density, chronic buildings and the method note — on hand-made frames with known
answers, on the end-to-end run of the real Bondy and Paris data, and on Bondy simulated
with and without planted hotspots."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import esda
import geopandas as gpd
import libpysal
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy import stats

from pipelines.config import DEFAULT_PARAMS, HotspotParams
from pipelines.errors import ConfigError
from pipelines.hotspots import counts as hotspot_counts
from pipelines.hotspots import gi as hotspot_gi
from pipelines.hotspots import method_note
from pipelines.hotspots import stage as hotspots
from pipelines.hotspots.chronic import CHRONIC_COLUMNS, chronic_flags, chronic_pairs
from pipelines.io import read_csv
from pipelines.reports import counted
from pipelines.stats import gistar as hs
from pipelines.stats.band import configured_band
from pipelines.stats.fdr import fdr_bins
from tests.conftest import RAW, DemoRun, write_demo_config

L93 = "EPSG:2154"


# --------------------------------------------------------------------------------------
# Hand-made frames
# --------------------------------------------------------------------------------------


def _buildings(n: int = 3, spacing: float = 50.0) -> gpd.GeoDataFrame:
    """``n`` 10 m squares in a row, ``spacing`` metres apart, in Lambert-93."""
    x0, y0 = 652_000.0, 6_862_000.0
    return gpd.GeoDataFrame(
        {
            "building_id": [f"way/{k}" for k in range(n)],
            "dwellings": [40.0, np.nan, 10.0][:n] + [np.nan] * max(0, n - 3),
            "dwellings_source": pd.array(
                (["rpls", pd.NA, "osm_flats"] + [pd.NA] * n)[:n], dtype="string"
            ),
            "area_m2": 100.0,
        },
        geometry=[
            shapely.box(x0 + k * spacing, y0, x0 + k * spacing + 10, y0 + 10) for k in range(n)
        ],
        crs=L93,
    )


def _reports(rows: list[tuple[str | None, str, str, str, str | None]]) -> gpd.GeoDataFrame:
    """Reports from (building_id, category, date, source_kind, duplicate_of) tuples."""
    frame = pd.DataFrame(
        rows, columns=["building_id", "category", "reported_at", "source_kind", "duplicate_of"]
    )
    frame["reported_at"] = pd.to_datetime(frame["reported_at"], format="ISO8601")
    return gpd.GeoDataFrame(frame, geometry=[None] * len(frame), crs=L93)


def test_counts_per_building_leave_out_observations_duplicates_and_unplaced():
    b = _buildings()
    r = _reports(
        [
            ("way/0", "ascenseur", "2024-01-01", "reports", None),
            ("way/0", "ascenseur", "2024-01-02", "reports", "r1"),  # likely duplicate
            ("way/0", "proprete", "2024-01-03", "reports", None),
            ("way/0", "proprete", "2024-01-03", "observations", None),
            ("way/2", "eau_fuite", "2024-01-04", "reports", None),
            (None, "eau_fuite", "2024-01-05", "reports", None),  # not on a building
        ]
    )
    table = hotspot_counts.building_table(r, b)
    assert table.index.equals(b.index)
    assert table["n_reports"].tolist() == [2, 0, 1]
    assert table["n_ascenseur"].tolist() == [1, 0, 0]
    assert table["n_proprete"].tolist() == [1, 0, 0]
    assert table["n_observations"].tolist() == [1, 0, 0]
    # 2 reports / 40 dwellings; unknown dwellings: no rate, never a guessed one.
    assert table["reports_per_100_dwellings"].iloc[0] == pytest.approx(5.0)
    assert np.isnan(table["reports_per_100_dwellings"].iloc[1])
    assert table["reports_per_100_dwellings"].iloc[2] == pytest.approx(10.0)


def test_report_points_use_the_building_when_a_report_has_no_point():
    b = _buildings()
    r = _reports(
        [
            ("way/1", "proprete", "2024-01-01", "reports", None),
            (None, "encombrants", "2024-01-02", "reports", None),
            (None, "encombrants", "2024-01-02", "reports", None),
            ("way/0", "proprete", "2024-01-01", "observations", None),
        ]
    )
    r.loc[1, "geometry"] = shapely.Point(652_500.0, 6_862_500.0)  # on the street
    pts = hotspot_counts.report_points(r, b)
    assert pts.index.tolist() == [0, 1]  # the unplaced report without a point is dropped
    assert pts.geometry.iloc[0].within(b.geometry.iloc[1])
    assert (pts.geometry.iloc[1].x, pts.geometry.iloc[1].y) == (652_500.0, 6_862_500.0)


def test_chronic_pairs_inclusive_window_rules_and_dates():
    rows = [
        # way/0 lifts: 3 within 90 days (day 0, 40, 90: first and last exactly 90 apart).
        ("way/0", "ascenseur", "2024-01-01 08:00", "reports", None),
        ("way/0", "ascenseur", "2024-02-10 08:00", "reports", None),
        ("way/0", "ascenseur", "2024-03-31 08:00", "reports", None),
        ("way/0", "ascenseur", "2024-12-01 08:00", "reports", None),  # alone, later
        # way/1 lifts: 91 days apart, never 3 within 90.
        ("way/1", "ascenseur", "2024-01-01 08:00", "reports", None),
        ("way/1", "ascenseur", "2024-02-15 08:00", "reports", None),
        ("way/1", "ascenseur", "2024-04-01 08:01", "reports", None),
        # way/1 leaks: own rule, 2 within 10 days; a duplicate does not count.
        ("way/1", "eau_fuite", "2024-05-01", "reports", None),
        ("way/1", "eau_fuite", "2024-05-03", "reports", "x"),
        ("way/1", "eau_fuite", "2024-05-09", "reports", None),
        # way/2 cleanliness: the rule is switched off.
        ("way/2", "proprete", "2024-05-01", "reports", None),
        ("way/2", "proprete", "2024-05-02", "reports", None),
        ("way/2", "proprete", "2024-05-03", "reports", None),
    ]
    r = _reports(rows)
    rules = {"default": (3, 90), "eau_fuite": (2, 10), "proprete": None}
    out = chronic_pairs(r[counted(r, on_building=True)], rules)
    assert list(out.columns) == CHRONIC_COLUMNS
    assert list(zip(out["building_id"], out["category"], strict=True)) == [
        ("way/0", "ascenseur"),
        ("way/1", "eau_fuite"),
    ]
    lift = out.iloc[0]
    assert lift["n_reports_in_window"] == 3
    assert (lift["first_date"], lift["last_date"]) == ("2024-01-01", "2024-03-31")
    assert lift["n_reports_total"] == 4
    assert lift["dates"] == "2024-01-01, 2024-02-10, 2024-03-31"  # the episode only
    assert lift["category_label"] == "Ascenseur en panne"
    leak = out.iloc[1]
    assert (leak["n_reports_in_window"], leak["window_days"]) == (2, 10)
    assert leak["dates"] == "2024-05-01, 2024-05-09"
    flags = chronic_flags(out, _buildings())
    assert flags["is_chronic"].tolist() == [True, True, False]
    assert flags["chronic_categories"].iloc[1] == "eau_fuite"
    assert pd.isna(flags["chronic_categories"].iloc[2])


def test_chronic_pairs_many_reports_matches_a_loop():
    rng = np.random.default_rng(4)
    n = 3000
    r = pd.DataFrame(
        {
            "building_id": rng.choice(["a", "b", "c", "d"], n),
            "category": rng.choice(["ascenseur", "nuisibles"], n),
            "reported_at": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 3 * 365 * 24, n), unit="h"),
        }
    ).iloc[::40]  # sparse enough for some pairs not to be chronic
    rules = {"default": (4, 30)}
    out = chronic_pairs(r, rules).set_index(["building_id", "category"])
    for (bid, cat), grp in r.groupby(["building_id", "category"]):
        t = np.sort(grp["reported_at"].to_numpy())
        best = max(
            int(((t >= t[i] - np.timedelta64(30, "D")) & (t <= t[i])).sum()) for i in range(len(t))
        )
        if best >= 4:
            assert out.loc[(bid, cat), "n_reports_in_window"] == best
        else:
            assert (bid, cat) not in out.index


def test_params_defaults_round_trip_and_bad_values_name_the_key():
    defaults = DEFAULT_PARAMS["hotspots"]
    assert HotspotParams.from_dict(defaults).as_dict() == defaults
    assert HotspotParams().as_dict() == defaults  # the dataclass agrees with the config
    with pytest.raises(ConfigError, match="hex_size_m"):
        HotspotParams.from_dict({**defaults, "hex_size_m": -5}, "demo.toml")
    with pytest.raises(ConfigError, match=r"chronic\.ascenseur"):
        HotspotParams.from_dict({**defaults, "chronic": {"ascenseur": [3]}})
    with pytest.raises(ConfigError, match=r"chronic\.lifts"):
        HotspotParams.from_dict({**defaults, "chronic": {"lifts": [3, 90]}})
    with pytest.raises(ConfigError, match="inconnu"):
        HotspotParams.from_dict({**defaults, "bandwidth": 3})


def test_too_few_buildings_give_no_gi_and_a_french_note():
    b = _buildings(25, spacing=20.0)
    r = _reports([(f"way/{k}", "proprete", "2024-01-01", "reports", None) for k in range(25)])
    gi, band, info = hotspot_gi.hotspot_layer(
        hotspot_counts.building_table(r, b), "n_reports", HotspotParams()
    )
    assert band is None
    assert info["status"] == "not_enough_features"
    assert "Seulement 25 bâtiments" in info["message"]
    assert "au moins 30" in info["message"]
    assert gi["gi_z"].isna().all()
    assert (gi["gi_bin"] == 0).all()
    assert (gi["gi_label"] == "Non calculé").all()
    assert gi["gi_note"].str.startswith("Seulement 25").all()


def test_categories_below_the_minimum_are_skipped_and_others_match_gi_star():
    rng = np.random.default_rng(1)
    b = _buildings(60, spacing=15.0)
    rows = [
        (f"way/{k}", "proprete", "2024-01-01", "reports", None) for k in rng.integers(0, 60, 200)
    ] + [(f"way/{k}", "nuisibles", "2024-01-01", "reports", None) for k in range(12)]
    table = hotspot_counts.building_table(_reports(rows), b)
    band = configured_band(40.0)
    cols, info = hotspot_gi.category_hotspots(table, band, HotspotParams())
    assert info["nuisibles"]["status"] == "skipped"
    assert info["nuisibles"]["reason"].startswith("12 signalement(s)")
    assert cols["gi_z_nuisibles"].isna().all()
    assert (cols["gi_bin_nuisibles"] == 0).all()
    assert info["proprete"]["status"] == "analysed"
    direct = hs.gi_star(table["n_proprete"], hs.feature_points(table), 40.0)
    np.testing.assert_allclose(cols["gi_z_proprete"], direct["gi_z"], rtol=0, atol=1e-12)
    assert info["ascenseur"]["reason"].startswith("0 signalement(s)")


def test_method_note_escapes_and_says_why():
    summary = _hand_summary()
    page = method_note.to_html(summary, method_note.NoteContext("<script>x</script>", True))
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "Données simulées" in page
    assert "Seulement 12 bâtiments" in page  # the reason no Gi* was computed
    assert "aucun point chaud" in page
    md = method_note.to_markdown(summary, method_note.NoteContext("Site | test"))
    assert md.startswith("# Note de méthode")
    assert "Données simulées" not in md


def test_method_note_markdown_carries_no_markup_from_data():
    """Hostile run of session 23: a site's name reached the Markdown note (published
    copy too) as written, so a viewer passing HTML through ran its script, and a name
    written as a link made a link."""
    summary = _hand_summary()
    name = "<script>alert(1)</script> [clic](javascript:alert(2)) \\ & co"
    md = method_note.to_markdown(summary, method_note.NoteContext(name, True))
    title = md.splitlines()[0]
    assert "<script>" not in md
    assert re.search(r"(?<!\\)\]\(", md) is None  # no link: every « ]( » escaped
    assert title == (
        "# Note de méthode — points chauds — &lt;script&gt;alert(1)&lt;/script&gt; "
        "\\[clic\\](javascript:alert(2)) \\\\ &amp; co"
    )


def test_method_note_says_the_chronic_rules_in_french():
    """Hostile run of w9: the committee pack's parameters read « ascenseur : [3, 90] ;
    default : [3, 90] » (a code, an English key, a bare pair)."""
    page = method_note.to_html(_hand_summary(), method_note.NoteContext("Site", False))
    assert "default" not in page
    assert "[3, 90]" not in page
    assert "Ascenseur en panne : 3 signalements en 90 jours" in page
    assert "autres catégories : 3 signalements en 90 jours" in page


def _hand_summary() -> dict:
    b = _buildings(12, spacing=20.0)
    r = _reports([("way/0", "proprete", "2024-01-01", "reports", None)] * 3)
    return hotspots.analyse(r, b.to_crs("EPSG:4326"), HotspotParams()).summary


# --------------------------------------------------------------------------------------
# The end-to-end run (tests/conftest.py: real Bondy buildings, simulated reports; real
# Paris DansMaRue reports)
# --------------------------------------------------------------------------------------


def _summary(run: DemoRun, site: str) -> dict:
    return json.loads((run.site(site) / "hotspot_summary.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_gi_star_on_real_bondy_equals_esda(demo_run: DemoRun):
    b = gpd.read_parquet(demo_run.site("bondy") / "buildings.parquet").to_crs(L93)
    band = _summary(demo_run, "bondy")["band"]["band_m"]
    centres = b.geometry.centroid
    coords = np.column_stack([centres.x, centres.y])
    w = libpysal.weights.DistanceBand(coords, band, binary=True, silence_warnings=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # esda's alternative= notice
        g = esda.G_Local(
            b["n_reports"].to_numpy(float), w, transform="B", star=True, permutations=0
        )
    assert len(b) > 1000
    assert b["gi_z"].notna().all()
    np.testing.assert_allclose(b["gi_z"], g.Zs, rtol=0, atol=1e-9)
    np.testing.assert_allclose(b["gi_p"], 2 * stats.norm.sf(np.abs(g.Zs)), rtol=1e-9, atol=0)
    assert (b["gi_bin"] == fdr_bins(b["gi_z"], b["gi_p"])).all()


@pytest.mark.slow
def test_planted_hotspots_are_found(demo_run: DemoRun):
    truth = json.loads((demo_run.raw_bondy / "simulation_truth.json").read_text("utf-8"))
    b = pd.read_parquet(demo_run.site("bondy") / "buildings.parquet")
    planted = b["building_id"].isin(truth["hotspot_buildings"])
    assert planted.sum() == len(set(truth["hotspot_buildings"])) >= 10
    flagged = b["gi_bin"] >= 2
    recall = (flagged & planted).sum() / planted.sum()
    precision = (flagged & planted).sum() / flagged.sum()
    assert recall >= 0.9
    check = _summary(demo_run, "bondy")["checks"]["planted_hotspots"]
    assert check["recall"] == pytest.approx(recall)
    assert check["precision"] == pytest.approx(precision)
    note = (demo_run.site("bondy") / "method_note.html").read_text(encoding="utf-8")
    assert "rappel" in note
    assert "précision" in note


@pytest.mark.slow
def test_outputs_contract(demo_run: DemoRun):
    for site in ("bondy", "paris10"):
        d = demo_run.site(site)
        summary = _summary(demo_run, site)
        for name in hotspots.OUTPUT_FILES:
            assert (d / name).exists(), name
        for key in ("buildings", "buildings_with_reports", "reports_counted", "dwellings_known"):
            assert key in summary
        run_summary = json.loads((d / "run_summary.json").read_text(encoding="utf-8"))
        assert run_summary["hotspots"]["band"] == summary["band"]
        assert summary["parameters"]["hex_size_m"] == DEFAULT_PARAMS["hotspots"]["hex_size_m"]
        b = gpd.read_parquet(d / "buildings.parquet")
        for col in (
            "gi_z",
            "gi_p",
            "gi_bin",
            "n_neighbours",
            "gi_label",
            "gi_z_rate",
            "is_chronic",
        ):
            assert col in b, col
        for code in summary["categories"]:
            assert f"gi_z_{code}" in b
            assert f"gi_bin_{code}" in b
        kde = gpd.read_parquet(d / "kde.parquet")
        assert kde.crs.to_epsg() == 4326
        assert {"density_min_per_ha", "density_max_per_ha", "label"} <= set(kde.columns)
        assert kde["label"].str.contains("signalement").all()
        cells = gpd.read_parquet(d / "kde_grid.parquet")
        assert (cells["density_per_ha"] > 0).all()
        # Physical truth: the density integrates to the reports counted (per hectare
        # times cell area), the grid reaching one bandwidth beyond the buildings.
        cell_ha = summary["kde"]["cell_m"] ** 2 / 10_000
        assert cells["density_per_ha"].sum() * cell_ha == pytest.approx(
            summary["kde"]["n_points"], rel=0.01
        )
        hexes = gpd.read_parquet(d / "hex.parquet")
        assert hexes["hex_id"].is_unique
        assert hexes["n_reports"].sum() == summary["hex"]["reports_counted"]
        area = hexes.to_crs(L93).area
        np.testing.assert_allclose(area, hexes["hex_area_m2"], rtol=1e-6)
        chronic = read_csv(d / "chronic.csv")
        assert list(chronic.columns) == CHRONIC_COLUMNS
        assert set(chronic["building_id"]) == set(b.loc[b["is_chronic"], "building_id"])


@pytest.mark.slow
def test_bondy_rates_and_paris_categories_are_skipped_with_reasons(demo_run: DemoRun):
    bondy = _summary(demo_run, "bondy")
    b = pd.read_parquet(demo_run.site("bondy") / "buildings.parquet")
    known = int(b["dwellings"].notna().sum())
    assert bondy["rates"]["buildings_with_dwellings"] == known
    if known < hs.MIN_FEATURES:
        assert bondy["rates"]["status"] == "not_enough_features"
        assert (
            f"Seulement {known} bâtiments au nombre de logements connu" in bondy["rates"]["message"]
        )
        assert b["gi_z_rate"].isna().all()
    else:
        assert bondy["rates"]["status"] == "computed"
    paris = _summary(demo_run, "paris10")
    p = pd.read_parquet(demo_run.site("paris10") / "buildings.parquet")
    for code, reason in paris["categories_skipped"].items():
        n = int(p[f"n_{code}"].sum())
        assert n < 30
        assert reason.startswith(f"{n} signalement(s)")
        assert p[f"gi_z_{code}"].isna().all()
    assert "ascenseur" in paris["categories_skipped"]  # DansMaRue has no lift reports
    note = (demo_run.site("paris10") / "method_note.html").read_text(encoding="utf-8")
    assert "non analysée" in note
    assert "Données simulées" not in note


def test_truth_file_name_is_the_simulators():
    from pipelines.hotspots.checks import TRUTH_FILE
    from pipelines.simulate.stage import FILES

    assert FILES["truth"] == TRUTH_FILE


@pytest.mark.slow
def test_planted_chronic_pairs_are_listed(demo_run: DemoRun):
    truth = json.loads((demo_run.raw_bondy / "simulation_truth.json").read_text("utf-8"))
    chronic = read_csv(demo_run.site("bondy") / "chronic.csv")
    listed = set(zip(chronic["building_id"], chronic["category"], strict=True))
    planted = {(c["building_id"], c["category"]) for c in truth["chronic"]}
    assert planted
    assert planted <= listed


# --------------------------------------------------------------------------------------
# Null data: Bondy simulated without any planted pattern
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def null_bondy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Bondy pipeline up to the hotspot stage on ``pattern=False`` reports."""
    from pipelines.cli import run_site_stages
    from pipelines.config import load_config
    from pipelines.simulate import stage as simulate

    root = tmp_path_factory.mktemp("null")
    raw = root / "raw_bondy"
    bondy = RAW / "bondy"
    simulate.run(
        bondy / "bondy_nord.osm",
        bondy / "ban_adresses_bondy.csv",
        raw,
        rpls_path=bondy / "rpls_bondy.gpkg",
        seed=7,
        pattern=False,
    )
    config = load_config(write_demo_config(root, raw))
    paths = run_site_stages(config, config.site("bondy"), through="hotspots")
    return paths.processed


@pytest.mark.slow
def test_null_data_flags_at_most_5_percent(null_bondy: Path):
    b = pd.read_parquet(null_bondy / "buildings.parquet")
    summary = json.loads((null_bondy / "hotspot_summary.json").read_text(encoding="utf-8"))
    assert summary["gi"]["status"] == "computed"
    assert b["n_reports"].sum() > 3000
    share = (b["gi_bin"].abs() >= 2).mean()
    assert share <= 0.05
    assert "planted_hotspots" not in summary["checks"]
