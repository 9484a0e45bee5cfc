"""The renderers obey the publication flags (#16): a published count ``n_…`` whose
companion ``n_…_flag`` is « s » is hidden (secret statistique).

A real published folder of the demo (Bondy) has some of its cells flagged by hand, as the
publication step does under the ``comite`` profile; the map's data block and fact sheets,
the page in headless Chromium, the PNG and the charts with their CSV are then checked to
show « < 3 » (« s » in tables), never a zero or a blank, and never to add a hidden count
into a total they show. The same folder unflagged keeps the renderers' old path.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from pipelines import publish
from pipelines.config import load_config
from pipelines.io import read_csv, read_geoparquet, write_geoparquet
from pipelines.maps import plots
from pipelines.maps.charts import site_charts
from pipelines.maps.data import map_data
from pipelines.maps.plots import MIN_TITLE_SIZE
from pipelines.maps.png import site_figure
from pipelines.maps.site import build_site_map, render_map
from pipelines.osm.buildings import read_osm_buildings
from pipelines.published import Publication, Published, read_published
from pipelines.taxonomy import CODES
from tests.conftest import ROOT

REASON = "masqué (secret statistique) : moins de 3 ménages, ou pour ne pas être déduit des totaux"


def _flag(frame: pd.DataFrame, column: str, mask: np.ndarray) -> None:
    """Hide ``frame[column]`` where ``mask``: null value, companion flag « s »."""
    frame[column] = frame[column].astype("Int64").mask(mask)
    flags = pd.Series(None, index=frame.index, dtype="string").mask(mask, "s")
    frame[column + "_flag"] = flags


@pytest.fixture(scope="module")
def flagged(demo_run: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Bondy's published folder with, hidden by hand: the counts of three buildings with
    1 or 2 reports (total, per category and per month), one cell of the category series
    and one of the top buildings' series; ``site.json`` under the ``comite`` profile."""
    # the exact tables (profile « interne »): published/ holds the comité's, already hidden
    config = load_config(demo_run.config)
    src = tmp_path_factory.mktemp("interne") / "published"
    publish.run(
        config, config.site("bondy"), processed=demo_run.site("bondy"), dst_dir=src,
        profile="interne",
    )  # fmt: skip
    d = shutil.copytree(src, tmp_path_factory.mktemp("flagged") / "published")
    profile = read_geoparquet(d / "building_profile.parquet")
    small = profile.index[profile["n_reports"].between(1, 2)][:3]
    assert len(small) == 3
    ids = profile.loc[small, "building_id"].astype(str).tolist()
    rows = profile.index.isin(small)
    hidden_cats = [c for c in CODES if (profile.loc[small, f"n_{c}"] > 0).any()]
    for c in hidden_cats:
        _flag(profile, f"n_{c}", rows & (profile[f"n_{c}"] > 0).to_numpy())
    _flag(profile, "n_reports", rows)
    write_geoparquet(profile, d / "building_profile.parquet")

    monthly = pd.read_parquet(d / "monthly.parquet")
    _flag(monthly, "n_reports", monthly["building_id"].isin(ids).to_numpy())
    monthly.to_parquet(d / "monthly.parquet")

    cats = pd.read_parquet(d / "category_series.parquet")
    cell = cats.index[cats["n_reports"].between(1, 2)][0]
    _flag(cats, "n_reports", cats.index == cell)
    cats.to_parquet(d / "category_series.parquet")

    top = pd.read_parquet(d / "top_buildings.parquet")
    top_cell = top.index[top["n_reports"].between(1, 2)][0]
    _flag(top, "n_reports", top.index == top_cell)
    top.to_parquet(d / "top_buildings.parquet")

    site = json.loads((d / "site.json").read_text("utf-8"))
    site["publication"] = {"profile": "comite", "threshold": 3}
    (d / "site.json").write_text(json.dumps(site), "utf-8")
    return {
        "dir": d,
        "published": read_published(d),
        "plain": read_published(src),
        "rows": [int(i) for i in small],
        "ids": ids,
        "category_cell": cats.loc[cell],
        "top_cell": top.loc[top_cell],
    }


def test_publication_profile_is_read_from_site_json(flagged: dict[str, Any]) -> None:
    pub = Publication.of(flagged["published"].site)
    assert (pub.profile, pub.threshold) == ("comite", 3)
    assert pub.marker_fr == "< 3"
    assert pub.reason_fr == REASON
    assert Publication.of({}).profile == "interne"


def test_map_data_shows_hidden_counts_as_below_threshold(flagged: dict[str, Any]) -> None:
    published: Published = flagged["published"]
    data = map_data(published, site_name="Bondy Nord")
    assert data["hidden"] == {"marker": "&lt; 3", "reason": REASON}
    assert any(REASON in note for note in data["notes"])
    for i in flagged["rows"]:
        assert data["b"]["n"][i] is None  # hidden: null, never a zero
        sheet = data["b"]["fiche"][i]
        assert "<b>&lt; 3</b> signalements" in sheet
        for n in ("0", "1", "2"):
            assert f"<b>{n}</b>" not in sheet
        assert "<svg" not in sheet  # no sparkline through a hidden month
        # Hidden category counts are named with the marker, never summed.
        assert "<td>&lt; 3</td>" in sheet
        # Monthly cells of the period selector: null where hidden.
        k = data["monthly"]["i"].index(i)
        row = data["monthly"]["c"][k]
        assert None in row
        assert all(v is None or v == 0 for v in row)
        if None in row[-12:]:  # a hidden month in the sparkline's year: said, not drawn
            assert "Évolution mensuelle non dessinée" in sheet
    # Every other building keeps its exact count.
    others = [i for i in range(len(published.profile)) if i not in flagged["rows"]]
    exact = flagged["plain"].profile["n_reports"].astype(int).to_numpy()
    assert [data["b"]["n"][i] for i in others] == exact[others].tolist()


def test_map_data_without_flags_is_unchanged(flagged: dict[str, Any]) -> None:
    plain = map_data(flagged["plain"], site_name="Bondy Nord")
    assert plain["hidden"] is None
    assert None not in plain["b"]["n"]
    assert not any("secret statistique" in n for n in plain["notes"])
    assert not any("&lt; 3" in f for f in plain["b"]["fiche"])


def test_charts_show_hidden_bars_hatched_and_s_in_csv(
    flagged: dict[str, Any], tmp_path: Path
) -> None:
    published: Published = flagged["published"]
    made = site_charts(published, site_name="Bondy Nord")
    plain = site_charts(flagged["plain"], site_name="Bondy Nord")

    cats = made["reports_by_category"]
    _, csv = plots.save_chart(cats, tmp_path / "reports_by_category.png")
    back = read_csv(csv, dtype=str, keep_default_na=False)
    cell = flagged["category_cell"]
    row = back[back["Début de période"] == pd.Timestamp(cell["period_start"]).strftime("%Y-%m-%d")]
    assert "s" in row.iloc[0].tolist()
    assert "" not in back.to_numpy().ravel().tolist()  # never a blank
    # Totals are the published ones, not a sum over the visible cells.
    assert (
        back["Total"].astype(int).tolist()
        == plain["reports_by_category"].data["Total"].astype(int).tolist()
    )
    # The period's total is published: the hidden cell (with the grouped categories it
    # hides, when it is one of them) is the hatched block that fills its bar up to that
    # total (total minus the visible cells, as the CSV gives them).
    legend = [t.get_text() for t in cats.figure.axes[0].get_legend().get_texts()]
    assert plots.HIDDEN_REST_FR in legend
    hatched = [p for p in cats.figure.axes[0].patches if p.get_hatch()]
    assert len(hatched) == 1
    top = hatched[0].get_y() + hatched[0].get_height()
    assert top == pytest.approx(float(cell["n_period_reports"]))

    top = made["top_buildings"]
    _, csv = plots.save_chart(top, tmp_path / "top_buildings.png")
    back = read_csv(csv, dtype=str, keep_default_na=False)
    t = flagged["top_cell"]
    hidden_row = back[
        (back["Bâtiment"] == t["building_id"])
        & (back["Début de période"] == pd.Timestamp(t["period_start"]).strftime("%Y-%m-%d"))
    ]
    assert hidden_row["Signalements"].tolist() == ["s"]
    assert (back["Signalements"] == "s").sum() == 1
    texts = [x.get_text() for x in top.figure.findobj(lambda o: hasattr(o, "get_text"))]
    assert "< 3" in texts


def test_charts_without_flags_keep_their_data(flagged: dict[str, Any]) -> None:
    plain = site_charts(flagged["plain"], site_name="Bondy Nord")
    for chart in plain.values():
        assert "s" not in chart.data.astype(str).to_numpy().ravel().tolist()
        texts = [t.get_text() for t in chart.figure.findobj(lambda o: hasattr(o, "get_text"))]
        assert "< 3" not in texts


def test_closing_delays_keep_a_hidden_category_as_s() -> None:
    delays = pd.DataFrame(
        {
            "median_delay_h": [30.0, np.nan],
            "p90_delay_h": [100.0, np.nan],
            "target_h": [48.0, 72.0],
            "share_closed_within_target": [0.6, np.nan],
            "n_closed": [10, np.nan],
            "n_closed_flag": [None, "s"],
        },
        index=["ascenseur", "nuisibles"],
    )
    chart = plots.closing_delay_bars(
        delays, title="Délais", hidden=delays["n_closed_flag"] == "s", publication=Publication()
    )
    data = chart.data.set_index("Catégorie")
    assert data.loc["Nuisibles", "Signalements clos"] == "s"
    assert data.loc["Nuisibles", "Délai médian (h)"] == "s"
    assert data.loc["Nuisibles", "Objectif (h)"] == 72.0  # a parameter, never hidden
    assert data.loc["Ascenseur en panne", "Signalements clos"] == 10


def test_png_hatches_hidden_buildings(flagged: dict[str, Any]) -> None:
    published: Published = flagged["published"]
    fig = site_figure(
        published.profile, site_name="Bondy Nord", period="2024", simulated=True,
        attributions=["osm"], publication=Publication.of(published.site),
    )  # fmt: skip
    labels = [" ".join(t.get_text().split()) for t in fig.legends[0].get_texts()]
    assert f"< 3 : {REASON}" in labels
    plain = site_figure(
        flagged["plain"].profile, site_name="Bondy Nord", period="2024", simulated=True,
        attributions=["osm"],
    )  # fmt: skip
    assert not any("secret" in t.get_text() for t in plain.legends[0].get_texts())


@pytest.mark.browser
def test_map_in_chromium_shows_below_threshold_in_fact_sheet(
    flagged: dict[str, Any],
    tmp_path: Path,
    browser,  # type: ignore[no-untyped-def]
) -> None:
    from browser import offline_page

    published: Published = flagged["published"]
    m = build_site_map(
        published, site_name="Bondy Nord", simulated=True, attributions=["osm"], site_id="bondy"
    )
    page_path = tmp_path / "bondy.html"
    page_path.write_text(render_map(m), encoding="utf-8")
    with offline_page(page_path, browser=browser) as live:
        page = live.page
        n_hatched = page.evaluate(
            """() => [...document.querySelectorAll('path.leaflet-interactive')]
                 .filter(p => p.getAttribute('fill') === 'url(#vigie-hatch)').length"""
        )
        assert n_hatched == len(flagged["rows"])
        page.evaluate(
            """() => [...document.querySelectorAll('path.leaflet-interactive')]
                 .find(p => p.getAttribute('fill') === 'url(#vigie-hatch)')
                 .dispatchEvent(new MouseEvent('click', {bubbles: true}))"""
        )
        page.wait_for_selector(".leaflet-popup-content .fiche", timeout=5000)
        text = page.inner_text(".leaflet-popup-content")
        assert "< 3 signalements" in text
        assert "secret statistique" in text
        legend = page.inner_text(".leaflet-control-container")
        assert f"< 3 : {REASON}" in legend
        assert live.console_errors == []
        assert live.page_errors == []


def test_png_legend_and_texts_stay_inside_the_image() -> None:
    """Hostile run of w9: on the slide PNG, the hatched buildings' legend line
    « < 3 : masqué : moins de 3 ménages (secret statistique) » ran past the image's right
    edge, cut at « (se ». On the real Bondy extract with a few counts hidden (and cold
    spots, for the longest legend), every legend and text of the figure is drawn inside
    the image."""
    site = load_config(ROOT / "config" / "demo.toml").site("bondy")
    buildings = read_osm_buildings(site.osm)
    rng = np.random.default_rng(0)
    buildings["n_reports"] = rng.integers(0, 40, len(buildings))
    buildings["gi_bin"] = rng.choice([-3, -2, 0, 2, 3], len(buildings))
    _flag(buildings, "n_reports", (buildings["n_reports"] < 3).to_numpy())
    fig = site_figure(
        buildings, site_name="Bondy Nord", period="du 01/01/2024 au 31/12/2025",
        simulated=True, attributions=["osm", "ban", "rpls"], publication=Publication(),
    )  # fmt: skip
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    width, height = canvas.get_width_height()
    labels = [" ".join(t.get_text().split()) for t in fig.legends[0].get_texts()]
    assert f"< 3 : {REASON}" in labels
    for artist in [*fig.legends, *fig.texts]:
        box = artist.get_window_extent(renderer)
        assert box.x0 >= 0, (artist, box)
        assert box.x1 <= width, (artist, box)
        assert box.y0 >= 0, (artist, box)
        assert box.y1 <= height, (artist, box)


def test_png_long_site_name_stays_clear_of_the_simulated_badge() -> None:
    """Hostile run of w9: a long site name ran under the « DONNÉES SIMULÉES » badge and
    off the image. The title is drawn smaller until it ends before the badge."""
    site = load_config(ROOT / "config" / "demo.toml").site("bondy")
    buildings = read_osm_buildings(site.osm)
    buildings["n_reports"] = 0
    name = "Bondy Nord – Noue-Caillet, Blanqui, Les Merisiers et Benhamou-Varagnat (bailleur)"
    fig = site_figure(
        buildings, site_name=name, period="du 01/01/2024 au 31/12/2025", simulated=True,
        attributions=["osm"],
    )  # fmt: skip
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    title = next(t for t in fig.texts if t.get_text() == f"Vigie · {name}")
    badge = next(t for t in fig.texts if t.get_text() == "DONNÉES SIMULÉES")
    end = title.get_window_extent(renderer).x1
    assert end < badge.get_bbox_patch().get_window_extent(renderer).x0
    assert title.get_fontsize() >= MIN_TITLE_SIZE  # still readable on a slide
