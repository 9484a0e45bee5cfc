"""Sparse data on the map (issue #15): below the minimum number of reports for a
statistic, no hotspot colours, zones or trend arrows are drawn, and the legend says why.

The decision is the analysis stages' (``sample`` in ``hotspot_summary.json``,
``has_enough_reports`` in ``zones.parquet``, ``too_few_reports`` in the trends headline);
publish carries it into the published tables (``too_few_reports`` of ``site.json``, the
published zones' ``has_enough_reports``, the headline under ``trends``) and the map reads
it there. A sparse site is made from shipped files: 15 random rows of the Bondy
landlord export over the real Bondy Nord extract (1,420 buildings), run end to end
through the CLI.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest

from pipelines.cli import main
from tests.conftest import RAW, ROOT, DemoRun

TOO_FEW = "trop peu de signalements pour conclure"
EXPORT = RAW / "bondy" / "signalements_bailleur.csv"


@dataclass(frozen=True)
class SparseRun:
    processed: Path
    maps: Path
    config: Path


def _sparse_config(tmp: Path, export: Path) -> Path:
    """The demo's Bondy site with its landlord source only, pointing at ``export``."""
    demo = (ROOT / "config" / "demo.toml").read_text(encoding="utf-8")
    start = demo.index('[[sites]]\nid = "bondy"')
    site = demo[start : demo.index('[[sites.sources]]\nid = "diagnostic"')]
    site = site.replace("data/raw/bondy/signalements_bailleur*.csv", str(export))
    site = site.replace('name = "Bondy Nord"', 'name = "Bondy Nord, 15 signalements"')
    cfg = tmp / "sparse.toml"
    cfg.write_text(
        f'[project]\nprocessed_dir = "{tmp / "processed"}"\nmaps_dir = "{tmp / "maps"}"\n'
        f'annotations_dir = "{tmp / "annotations"}"\n\n' + site,
        encoding="utf-8",
    )
    return cfg


@pytest.fixture(scope="module")
def sparse_run(tmp_path_factory: pytest.TempPathFactory) -> SparseRun:
    """``vigie run`` on 15 random rows of the landlord export over Bondy Nord."""
    tmp = tmp_path_factory.mktemp("sparse")
    raw = pd.read_csv(EXPORT, sep=";", encoding="cp1252", dtype=str, keep_default_na=False)
    export = tmp / "signalements_bailleur.csv"
    raw.sample(15, random_state=15).to_csv(
        export, sep=";", encoding="cp1252", index=False, lineterminator="\r\n"
    )
    cfg = _sparse_config(tmp, export)
    assert main(["-q", "run", "--config", str(cfg)]) == 0
    return SparseRun(tmp / "processed" / "bondy", tmp / "maps", cfg)


def _data_block(html_path: Path) -> dict[str, Any]:
    html = html_path.read_text(encoding="utf-8")
    found = re.search(r'<script type="application/json" id="vigie-data">(.*?)</script>', html, re.S)
    assert found is not None
    return dict(json.loads(found.group(1)))


def _json(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


# ----------------------------------------------------------------------------- sparse site
@pytest.mark.slow
def test_the_analysis_decides_and_writes_too_few_reports(sparse_run: SparseRun) -> None:
    summary = _json(sparse_run.processed / "hotspot_summary.json")
    sample = summary["sample"]
    assert sample["too_few_reports"] is True
    assert 0 < sample["reports_counted"] <= 15
    assert sample["min_reports"] == summary["parameters"]["category_min_reports"] == 30
    assert sample["note_fr"].startswith(TOO_FEW)
    assert summary["gi"]["status"] == "too_few_reports"
    assert summary["hex"]["gi"]["status"] == "too_few_reports"
    rates = summary["rates"]  # the older reason first: too few buildings with dwellings
    few_features = rates["buildings_with_dwellings"] < summary["min_features"]
    assert rates["status"] == ("not_enough_features" if few_features else "too_few_reports")
    assert "permutation" not in summary["checks"]  # no Gi*, no blank test of it

    buildings = gpd.read_parquet(sparse_run.processed / "buildings.parquet")
    assert len(buildings) > 1200
    assert int(buildings["n_reports"].sum()) == sample["reports_counted"]
    assert buildings["gi_z"].isna().all()
    assert (buildings["gi_bin"] == 0).all()
    assert (buildings["gi_label"] == "Non calculé").all()
    assert buildings["gi_note"].str.contains(TOO_FEW).all()
    assert len(gpd.read_parquet(sparse_run.processed / "zones.parquet")) == 0

    note = (sparse_run.processed / "method_note.html").read_text(encoding="utf-8")
    assert "Trop peu de signalements pour conclure" in note
    assert "ni zones, ni tendances des points chauds" in note

    head = _json(sparse_run.processed / "trend_summary.json")["headline"]
    assert head["too_few_reports"] is True
    assert head["direction"] is None
    assert head["trend_fr"].startswith(TOO_FEW)


@pytest.mark.slow
def test_the_sparse_map_draws_no_hotspot_zone_or_trend_and_says_why(
    sparse_run: SparseRun,
) -> None:
    data = _data_block(sparse_run.maps / "bondy.html")
    views = [v["id"] for v in data["views"]]
    assert "count" in views
    assert "gi" not in views
    assert "emerging" not in views
    assert data["zones"] is None
    assert not any("zone_id" in f["properties"] for f in data["buildings"]["features"])
    said = [n for n in data["notes"] if TOO_FEW in n]
    assert len(said) == 1
    assert said[0].startswith("Points chauds, zones et tendances des points chauds : ")
    # No other note contradicts it ("non calculés pour ce site", "aucune zone").
    assert not [n for n in data["notes"] if n.startswith(("Points chauds (Gi*)", "Zones", "Tend"))]
    # The fact sheets say it too, instead of a Gi* class.
    sheets = data["b"]["fiche"]
    assert all(f"non calculé : {TOO_FEW}" in s for s in sheets)
    assert not any("Non significatif" in s for s in sheets)

    index = (sparse_run.maps / "index.html").read_text(encoding="utf-8")
    assert "class='trend " not in index  # no ↑ ↓ → arrow
    assert index.count(TOO_FEW) == 2  # the hotspots and the trend columns


@pytest.mark.slow
def test_the_map_reads_the_decision_and_does_not_make_it(sparse_run: SparseRun) -> None:
    """The same tables without the hotspot stage's note: the map counts nothing itself,
    so it draws the Gi* view (every building « Non calculé »)."""
    from dataclasses import replace

    from pipelines.maps.data import TooFewReports, map_data
    from pipelines.published import read_published

    published = read_published(sparse_run.processed / "published")
    sample = _json(sparse_run.processed / "hotspot_summary.json")["sample"]
    carried = published.site["too_few_reports"]["site"]  # publish carried the decision,
    for key in ("too_few_reports", "min_reports"):  # with the published total, not the
        assert carried[key] == sample[key]  # exact one, in the count and the sentence
    assert carried["reports_counted"] == published.site["totals"]["reports_counted"]
    assert carried["note_fr"].startswith(TOO_FEW)
    assert str(sample["reports_counted"]) not in carried["note_fr"]
    assert TooFewReports.from_site(published.site).site == carried["note_fr"]
    said = map_data(published, site_name="x")
    site = {k: v for k, v in published.site.items() if k != "too_few_reports"}
    unsaid = map_data(replace(published, site=site), site_name="x")
    assert "gi" not in [v["id"] for v in said["views"]]
    gi = next(v for v in unsaid["views"] if v["id"] == "gi")
    assert not any(TOO_FEW in n for n in unsaid["notes"])
    assert sum(c["n"] for c in gi["classes"] if c["c"] != "#d9d9d9") == 0  # no hot, no cold


@pytest.mark.slow
def test_the_slide_png_outlines_no_hotspot_and_says_why(sparse_run: SparseRun) -> None:
    from pipelines.maps.png import site_figure

    buildings = gpd.read_parquet(sparse_run.processed / "buildings.parquet")
    note = _json(sparse_run.processed / "hotspot_summary.json")["sample"]["note_fr"]
    fig = site_figure(
        buildings, site_name="x", period="", simulated=True, attributions=["osm"],
        hotspot_note=note,
    )  # fmt: skip
    text = " ".join(t.get_text().replace("\n", " ") for t in fig.texts)
    assert TOO_FEW in text
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert not [x for x in labels if x.startswith("Point chaud")]
    assert (sparse_run.maps / "bondy.png").stat().st_size > 10_000


@pytest.mark.browser
@pytest.mark.slow
def test_the_sparse_map_opens_in_chromium_and_its_legend_says_why(
    sparse_run: SparseRun,
    browser,  # type: ignore[no-untyped-def]
) -> None:
    from browser import offline_page

    with offline_page(sparse_run.maps / "bondy.html", browser=browser) as live:
        page = live.page
        legend = page.inner_text(".vigie-legend")
        layers = page.inner_text(".leaflet-control-layers")
        assert TOO_FEW in legend
        assert "Points chauds" not in layers
        assert "Zones de points chauds" not in layers
        assert "Tendances des points chauds" not in layers
        assert live.console_errors == []
        assert live.page_errors == []
        assert live.external_requests == []


# ----------------------------------------------------------------------------- demo sites
@pytest.mark.parametrize("site", ["bondy", "paris10"])
def test_demo_sites_have_enough_reports_and_draw_their_hotspots(
    demo_run: DemoRun, site: str
) -> None:
    summary = _json(demo_run.site(site) / "hotspot_summary.json")
    assert summary["sample"]["too_few_reports"] is False
    assert summary["sample"]["note_fr"] is None
    assert summary["gi"]["status"] == "computed"
    assert _json(demo_run.site(site) / "trend_summary.json")["headline"]["too_few_reports"] is False
    data = _data_block(demo_run.maps / f"{site}.html")
    assert "gi" in [v["id"] for v in data["views"]]
    assert not [n for n in data["notes"] if n.startswith("Points chauds, zones et tendances")]
    index = (demo_run.maps / "index.html").read_text(encoding="utf-8")
    # an arrow for each demo site whose published headline is not withheld (a period of
    # its published series hidden: Paris's committee pack), its reason where it is
    heads = [
        _json(demo_run.site(s) / "published" / "site.json")["trends"]["headline"]
        for s in ("bondy", "paris10")
    ]
    assert index.count("class='trend ") == sum(not h["withheld"] for h in heads) >= 1
    for head in heads:
        if head["withheld"]:
            assert head["trend_fr"].startswith("tendance non publiée")
            assert head["trend_fr"] in index


def test_bondy_draws_its_zones_but_those_built_from_too_few_reports(demo_run: DemoRun) -> None:
    zones = gpd.read_parquet(demo_run.site("bondy") / "zones.parquet")
    zone_summary = _json(demo_run.site("bondy") / "zone_summary.json")
    minimum = zone_summary["too_few_reports"]["min_reports"]
    assert minimum == 10
    enough = zones["n_reports"] >= minimum
    assert (zones["has_enough_reports"] == enough).all()
    assert enough.sum() >= 5  # the planted hotspots make real zones
    hidden = sorted(zones.loc[~enough, "zone_id"])
    assert sorted(zone_summary["too_few_reports"]["zone_ids"]) == hidden
    # publish keeps the flag on its zones and the zones stage's words in site.json.
    published = gpd.read_parquet(demo_run.site("bondy") / "published" / "zones.parquet")
    flags = dict(zip(published["zone_id"], published["has_enough_reports"], strict=True))
    assert flags == dict(zip(zones["zone_id"], zones["has_enough_reports"], strict=True))
    facts = _json(demo_run.site("bondy") / "published" / "site.json")
    assert facts["too_few_reports"]["zones"] == zone_summary["too_few_reports"]
    assert facts["too_few_reports"]["site"]["too_few_reports"] is False

    data = _data_block(demo_run.maps / "bondy.html")
    assert "emerging" in [v["id"] for v in data["views"]]
    drawn = sorted(f["properties"]["zone_id"] for f in data["zones"]["geojson"]["features"])
    assert drawn == sorted(zones.loc[enough, "zone_id"])
    in_zone = {f["properties"].get("zone_id") for f in data["buildings"]["features"]} - {None}
    assert in_zone == set(drawn)
    said = [n for n in data["notes"] if TOO_FEW in n]
    # Gi* flags neighbourhoods: the demo has zones of report-less sheds beside hot buildings.
    assert hidden
    assert len(said) == 1
    assert said[0].startswith("Zones de points chauds : ")
    assert all(z in said[0] for z in hidden)


# ----------------------------------------------------------------------------- units
def test_zones_from_too_few_reports_are_flagged_not_dropped(
    isolated: gpd.GeoDataFrame,
) -> None:
    """Three real buildings far from any other, each its own zone: 12, 9 and 0 reports."""
    from pipelines.zones.stage import hot_zones

    b = isolated.assign(gi_bin=3, n_reports=[12, 9, 0])
    zones = hot_zones(b, min_reports=10)
    assert len(zones) == 3
    flags = dict(zip(zones["n_reports"], zones["has_enough_reports"], strict=True))
    assert flags == {12: True, 9: False, 0: False}
    assert hot_zones(b)["has_enough_reports"].all()  # default 0: every zone
    assert hot_zones(b.drop(columns="n_reports"))["has_enough_reports"].all()
    with pytest.raises(KeyError, match="n_reports"):
        hot_zones(b.drop(columns="n_reports"), min_reports=1)


def test_zone_min_reports_is_a_checked_parameter(tmp_path: Path) -> None:
    from pipelines.config import load_config
    from pipelines.errors import ConfigError

    demo = (ROOT / "config" / "demo.toml").read_text(encoding="utf-8")
    for value, ok in (("25", True), ("0", True), ("-1", False), ("2.5", False)):
        cfg = tmp_path / f"z{value}.toml"
        cfg.write_text(
            demo.replace("[params.geocode]", f"[params.zones]\nmin_reports = {value}\n\n"
                         "[params.geocode]"),
            encoding="utf-8",
        )  # fmt: skip
        if ok:
            assert load_config(cfg).site("bondy").settings.zones.min_reports == int(value)
        else:
            with pytest.raises(ConfigError, match=r"params\.zones\.min_reports"):
                load_config(cfg)


def test_trend_headline_below_the_minimum_has_no_direction() -> None:
    from pipelines.trends import stage as trends

    tests = pd.DataFrame(
        {"level": ["site"], "key": ["s"], "n_periods": [12], "n_reports": [15], "mk_s": [40],
         "mk_z": [2.5], "mk_p": [0.01], "trend": ["hausse"], "trend_fr": ["x"],
         "sens_slope_per_period": [0.3]}
    )  # fmt: skip
    few = trends.headline(tests, min_reports=30)
    assert few["direction"] is None
    assert few["trend"] is None
    assert few["too_few_reports"] is True
    assert few["trend_fr"] == f"{TOO_FEW} (15 signalements, il en faut au moins 30 pour un " + (
        "test de tendance)"
    )
    enough = trends.headline(tests, min_reports=15)
    assert enough["direction"] == "up"
    assert enough["too_few_reports"] is False

    from pipelines.maps.index import site_trend

    assert site_trend({"trends": {"headline": few}}) is None
    assert site_trend({"trends": {"headline": enough}}) == "up"
