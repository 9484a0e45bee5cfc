"""The produced maps, as a person sees them: headless Chromium with the network cut."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser import offline_page, open_offline, require_chromium

from tests.conftest import DemoRun

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.mark.parametrize("page", ["bondy.html", "paris10.html"])
def test_map_renders_offline_without_errors(
    demo_run: DemoRun,
    page: str,
    browser,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    shot = tmp_path / f"{page}.png"
    result = open_offline(demo_run.maps / page, screenshot=shot, browser=browser)
    assert result.external_requests == []
    assert result.console_errors == []
    assert result.page_errors == []
    # Every building is drawn as an SVG path.
    import geopandas as gpd

    n_buildings = len(
        gpd.read_parquet(demo_run.site(page.removesuffix(".html")) / "buildings.parquet")
    )
    assert result.n_paths >= n_buildings
    assert shot.exists()
    assert shot.stat().st_size > 10_000


def test_index_page_links_open(demo_run: DemoRun, browser) -> None:  # type: ignore[no-untyped-def]
    with offline_page(
        demo_run.maps / "index.html",
        wait_js="() => document.querySelectorAll('a').length > 0",
        browser=browser,
        settle=False,
    ) as live:
        hrefs = live.page.eval_on_selector_all(
            "table a", "els => els.map(e => e.getAttribute('href'))"
        )
        assert sorted(hrefs) == ["bondy.html", "paris10.html"]
        assert live.console_errors == []
        assert live.external_requests == []


#: The printable width of an A4 page with the packs' margins (210 - 2 x 12 mm), in CSS px.
A4_WIDTH_PX = round((210 - 24) / 25.4 * 96)


@pytest.mark.parametrize(
    ("page", "media", "width"),
    [
        ("index.html", "screen", 768),  # a tablet in portrait
        ("index.html", "print", A4_WIDTH_PX),
        ("bondy_comite.html", "print", A4_WIDTH_PX),
        ("index.html", "screen", 320),  # a 1 280 px laptop zoomed to 400 %
        ("bondy_comite.html", "screen", 320),
    ],
)
def test_pages_fit_a_tablet_and_an_a4_page(  # type: ignore[no-untyped-def]
    demo_run: DemoRun, browser, page: str, media: str, width: int
) -> None:
    """Nothing sticks out on the right but inside a table that scrolls in its own box
    (before: the index's table was 823 px wide on a 768 px tablet and 812 px on A4, its
    last column cut off the printed page; the pack's charts 2 px wider than the page, by
    their border; at 400 % zoom the index's and the pack's tables, 698 and 384 px wide,
    made the whole page scroll sideways)."""
    wide = _evaluated(
        demo_run,
        browser,
        page,
        width,
        media,
        """() => { const w = document.documentElement.clientWidth;
             const scrolled = e => { const t = e.closest('table');
               return t && t !== e && getComputedStyle(t).overflowX === 'auto'
                 && t.getBoundingClientRect().right <= w + 0.5; };
             return [...document.querySelectorAll('body *')]
               .filter(e => e.getBoundingClientRect().right > w + 0.5 && !scrolled(e))
               .map(e => e.tagName + ' ' + Math.round(e.getBoundingClientRect().right)); }""",
    )
    assert wide == []


def _evaluated(  # type: ignore[no-untyped-def]
    demo_run: DemoRun, browser, page: str, width: int, media: str, js: str
) -> Any:
    """``js``'s answer on the demo's ``page`` loaded offline, ``width`` px wide, for the
    ``media`` (« screen » or « print »)."""
    with offline_page(
        demo_run.maps / page,
        wait_js="() => document.readyState === 'complete'",
        browser=browser,
        settle=False,
        viewport=(width, 1000),
    ) as live:
        live.page.emulate_media(media=media)
        return live.page.evaluate(js)


#: The words of the column titles that a line break cuts in two.
CUT_WORDS = r"""() => { const cut = [];
  for (const th of document.querySelectorAll('th')) {
    const walker = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
    for (let t = walker.nextNode(); t; t = walker.nextNode()) {
      for (const m of t.data.matchAll(/\S+/g)) {
        const r = document.createRange();
        r.setStart(t, m.index);
        r.setEnd(t, m.index + m[0].length);
        if (new Set([...r.getClientRects()].map(x => Math.round(x.top))).size > 1) cut.push(m[0]);
      } } }
  return cut; }"""


@pytest.mark.parametrize("page", ["bondy_comite.html", "paris10_comite.html"])
def test_printed_column_titles_break_between_words(  # type: ignore[no-untyped-def]
    demo_run: DemoRun, browser, page: str
) -> None:
    """Printed on A4, the pack's column titles break between words (before: « Zon e »,
    « Chroniq ue », « Masqué es », « Signalemen ts »)."""
    assert _evaluated(demo_run, browser, page, A4_WIDTH_PX, "print", CUT_WORDS) == []


def test_building_popup_opens_with_counts(demo_run: DemoRun, browser) -> None:  # type: ignore[no-untyped-def]
    with offline_page(demo_run.maps / "paris10.html", browser=browser) as live:
        page = live.page
        # Click the first building drawn with reports (coloured, not grey).
        clicked = page.evaluate(
            """() => {
              const paths = [...document.querySelectorAll('path.leaflet-interactive')]
                .filter(p => p.getAttribute('fill') && p.getAttribute('fill') !== '#d9d9d9');
              if (!paths.length) return false;
              paths[0].dispatchEvent(new MouseEvent('click', {bubbles: true}));
              return true;
            }"""
        )
        assert clicked
        page.wait_for_selector(".leaflet-popup-content .fiche", timeout=5000)
        text = page.inner_text(".leaflet-popup-content")
        assert "Bâtiment" in text
        assert "signalement" in text
        assert live.console_errors == []


# --------------------------------------------------------------------------- demo maps, more
@pytest.mark.parametrize("site", ["bondy", "paris10"])
def test_demo_map_draws_basemap_and_python_classes(
    demo_run: DemoRun,
    site: str,
    browser,  # type: ignore[no-untyped-def]
) -> None:
    import geopandas as gpd

    from pipelines.maps.site import count_classes

    b = gpd.read_parquet(demo_run.site(site) / "buildings.parquet")
    with offline_page(demo_run.maps / f"{site}.html", browser=browser, wait_js=READY) as live:
        assert live.count("path.vigie-basemap") > 50  # streets of the OSM extract
        assert live.count("path.vigie-building") == len(b)
        labels = live.page.evaluate("() => window.vigie.classes.count.labels")
        # The page's classes for the whole period are those of the Python rule.
        assert labels == list(count_classes(b["n_reports"]).labels)
        legend = live.page.inner_text(".vigie-legend")
        assert labels[0] in legend
        assert "aucun signalement" in legend
        assert live.console_errors == []
        assert live.page_errors == []
        assert live.external_requests == []


def test_index_links_resolve_to_files(demo_run: DemoRun) -> None:
    from html.parser import HTMLParser

    class Links(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.found: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            for name, value in attrs:
                if name in ("href", "src") and value:
                    self.found.append(value)

    parser = Links()
    parser.feed((demo_run.maps / "index.html").read_text(encoding="utf-8"))
    assert len(parser.found) >= 4
    for href in parser.found:
        assert (demo_run.maps / href).resolve().exists(), href


# --------------------------------------------------------------------------- hand-made map
#: The map's script has run to its end (it sets the attribute last).
READY = (
    "() => document.documentElement.getAttribute('data-vigie-ready') === '1'"
    " && document.querySelectorAll('path.vigie-building').length > 0"
)


@pytest.fixture(scope="module")
def handmade(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The hand-made site of tests/test_maps.py, rendered three ways."""
    from pipelines.maps.site import MapOptions, render_map
    from pipelines.osm.basemap import read_osm_basemap
    from tests.conftest import site_map_of
    from tests.test_maps import BONDY_OSM, handmade_site

    site = handmade_site()
    out = tmp_path_factory.mktemp("handmade")
    basemap = read_osm_basemap(BONDY_OSM)
    pages = {}
    for name, options in (
        ("full", MapOptions()),
        ("aggregated", MapOptions(max_report_points=3)),
        ("online", MapOptions(online_tiles=True)),
    ):
        m = site_map_of(
            site["buildings"], site["reports"], site_name="Essai", simulated=True,
            attributions=["osm", "rpls"], basemap=basemap, kde=site["kde"],
            chronic=site["chronic"], perimeter=site["perimeter"], options=options,
        )  # fmt: skip
        path = out / f"{name}.html"
        path.write_text(render_map(m), encoding="utf-8")
        pages[name] = path
    ids = site["ids"]
    b = site["buildings"]
    pos = {k: int((b["building_id"] == v).to_numpy().nonzero()[0][0]) for k, v in ids.items()}
    rep = b.geometry.representative_point()
    latlng = {k: [rep.iloc[i].y, rep.iloc[i].x] for k, i in pos.items()}
    return {"pages": pages, "pos": pos, "latlng": latlng}


def _fill(page, i: int) -> str:  # type: ignore[no-untyped-def]
    return page.evaluate(
        """(i) => { let f = null; window.vigie.buildings.eachLayer(l => {
             if (l.feature.properties.i === i) f = l.getElement().getAttribute('fill'); });
           return f; }""",
        i,
    )


def _layer(page, text: str) -> None:  # type: ignore[no-untyped-def]
    """Click the layer-control entry whose label contains ``text``."""
    page.locator(".leaflet-control-layers label", has_text=text).first.click()


def _click_at(page, latlng: list[float], zoom: int = 18) -> None:  # type: ignore[no-untyped-def]
    """Centre the map on a point and click there with the mouse, as a person would."""
    x, y = page.evaluate(
        """([ll, z]) => { const m = window.vigie.map; m.setView(ll, z, {animate: false});
             const p = m.latLngToContainerPoint(ll), r = m.getContainer().getBoundingClientRect();
             return [r.left + p.x, r.top + p.y]; }""",
        [latlng, zoom],
    )
    page.mouse.click(x, y)


def test_layers_toggle_in_the_layer_control(handmade, browser) -> None:  # type: ignore[no-untyped-def]
    with offline_page(handmade["pages"]["full"], browser=browser, wait_js=READY) as live:
        page = live.page
        n_basemap = live.count("path.vigie-basemap")
        assert n_basemap > 50
        _layer(page, "Fond de plan")
        assert live.count("path.vigie-basemap") == 0
        _layer(page, "Fond de plan")
        assert live.count("path.vigie-basemap") == n_basemap
        assert live.count("path.vigie-kde") == 0  # off by default
        _layer(page, "Densité")
        assert live.count("path.vigie-kde") == 2
        assert "noyau quartique" in page.inner_text(".vigie-legend")
        _layer(page, "Densité")
        assert live.count("path.vigie-kde") == 0
        assert live.count("path.vigie-perimeter") == 1
        _layer(page, "Périmètre")
        assert live.count("path.vigie-perimeter") == 0
        _layer(page, "problèmes chroniques")
        assert live.count("path.vigie-chronic") == 1
        assert live.console_errors == []
        assert live.page_errors == []


def test_click_on_a_building_opens_its_fact_sheet(handmade, browser) -> None:  # type: ignore[no-untyped-def]
    with offline_page(
        handmade["pages"]["full"], browser=browser, viewport=(1600, 1000), wait_js=READY
    ) as live:
        page = live.page
        _click_at(page, handmade["latlng"]["A"])
        page.wait_for_selector(".leaflet-popup-content .fiche", timeout=5000)
        text = page.inner_text(".leaflet-popup-content")
        for expected in (
            "Logements", "50 (RPLS)", "Signalements", "10,0 pour 100 logements",
            "Point chaud, confiance 99 %", "Point chaud en intensification",
            "Non clos à ce jour", "Problèmes chroniques",
            "Propreté des parties communes : 3 signalements en 90 jours",
        ):  # fmt: skip
            assert expected in text, expected
        assert page.locator(".leaflet-popup-content .spark svg path").count() == 1
        assert "janv. 2024 à mars 2024 : 3, 1, 1" in page.inner_html(".leaflet-popup-content")
        assert live.console_errors == []
        assert live.page_errors == []


def test_payloads_in_texts_show_as_text_and_never_run(handmade, browser) -> None:  # type: ignore[no-untyped-def]
    from tests.test_maps import XSS_IMG, XSS_NAME, XSS_SCRIPT

    dialogs: list[str] = []
    with offline_page(
        handmade["pages"]["full"], browser=browser, viewport=(1600, 1000), wait_js=READY
    ) as live:
        page = live.page
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        # The building whose OSM name is a payload: tooltip and fact sheet.
        _click_at(page, handmade["latlng"]["B"], zoom=19)
        page.wait_for_selector(".leaflet-popup-content .fiche", timeout=5000)
        assert XSS_NAME in page.inner_text(".leaflet-popup-content h4")
        page.evaluate("() => { window.vigie.map.closePopup(); }")
        # The two reports whose descriptions are payloads, one marker each up close.
        page.locator(".vigie-cats summary").click()
        _layer(page, "Encombrants")
        markers = page.locator("path.vigie-report")
        assert markers.count() == 2
        shown = []
        for k in range(2):
            markers.nth(k).dispatch_event("click")
            page.wait_for_selector(".leaflet-popup-content .vigie-popup-report", timeout=5000)
            shown.append(page.inner_text(".vigie-popup-report"))
            page.evaluate("() => { window.vigie.map.closePopup(); }")
            page.wait_for_selector(".vigie-popup-report", state="detached", timeout=5000)
        assert any(XSS_SCRIPT in t for t in shown), shown
        assert any(XSS_IMG in t for t in shown)
        page.wait_for_timeout(300)
        assert dialogs == []
        assert page.evaluate("() => document.querySelectorAll('img[src=\"x\"]').length") == 0
        assert live.page_errors == []
        assert live.external_requests == []


def test_period_selector_recolours_and_filters(handmade, browser) -> None:  # type: ignore[no-untyped-def]
    from pipelines.maps.site import PALETTE, ZERO_COLOUR

    a, b = handmade["pos"]["A"], handmade["pos"]["B"]
    with offline_page(handmade["pages"]["full"], browser=browser, wait_js=READY) as live:
        page = live.page
        assert _fill(page, b) == PALETTE[-1]  # 2 reports over Jan–Mar
        page.locator(".vigie-cats summary").click()
        _layer(page, "Ascenseur")
        page.wait_for_timeout(200)
        # Whole period: A's two lift reports cluster into one bubble that says 2.
        assert page.locator(".vigie-cluster").inner_text() == "2"
        page.select_option("#vigie-m0", "1")
        page.select_option("#vigie-m1", "1")  # February only
        assert page.evaluate("(i) => window.vigie.state.counts[i]", a) == 1
        assert _fill(page, b) == ZERO_COLOUR  # B's reports are in March
        assert page.locator(".vigie-cluster").count() == 0
        assert page.locator("path.vigie-report").count() == 1
        assert "févr. 2024" in page.inner_text("#vigie-period")
        assert "période choisie" in page.inner_text(".vigie-legend")
        page.click("#vigie-all")
        assert page.evaluate("(i) => window.vigie.state.counts[i]", a) == 5
        assert live.console_errors == []
        assert live.page_errors == []


def test_building_views_switch_colours_and_legend(handmade, browser) -> None:  # type: ignore[no-untyped-def]
    from pipelines.maps.site import GI_COLOURS
    from pipelines.maps.views import EMERGING_COLOURS

    a, b = handmade["pos"]["A"], handmade["pos"]["B"]
    with offline_page(handmade["pages"]["full"], browser=browser, wait_js=READY) as live:
        page = live.page
        _layer(page, "Points chauds")
        assert _fill(page, a) == GI_COLOURS[3]
        assert _fill(page, b) == GI_COLOURS[-2]
        assert "Point chaud, confiance 99 %" in page.inner_text(".vigie-legend")
        _layer(page, "Tendances")
        assert _fill(page, a) == EMERGING_COLOURS["intensifying"]
        _layer(page, "pour 100 logements")
        assert _fill(page, b) == "url(#vigie-hatch)"  # dwellings unknown: no rate
        assert "taux inconnu" in page.inner_text(".vigie-legend")
        _layer(page, "avant / après")
        assert "Après" in page.inner_text(".vigie-legend")
        assert live.console_errors == []
        assert live.page_errors == []


def test_aggregated_and_online_variants_load_offline(handmade, browser) -> None:  # type: ignore[no-untyped-def]
    with offline_page(handmade["pages"]["aggregated"], browser=browser, wait_js=READY) as live:
        page = live.page
        page.locator(".vigie-cats summary").click()
        _layer(page, "Propreté")
        # One aggregated marker for A's three counted cleanliness reports.
        page.wait_for_timeout(200)
        assert page.evaluate("() => window.vigie.data.reports.n.reduce((s, x) => s + x, 0)") == 8
        _layer(page, "Propreté")
        assert live.console_errors == []
        assert live.page_errors == []
    with offline_page(handmade["pages"]["online"], browser=browser, wait_js=READY) as live:
        text = live.page.inner_text(".leaflet-control-layers")
        assert "Plan IGN (en ligne)" in text
        assert "Fond OpenStreetMap (en ligne)" in text
        assert live.external_requests == []  # off until the reader ticks them


def test_screenshots_of_maps_and_index(handmade, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    import matplotlib.image

    from pipelines.maps.screenshots import ScreenshotError, run

    require_chromium()
    maps_dir = tmp_path / "maps"
    maps_dir.mkdir()
    shutil.copy(handmade["pages"]["full"], maps_dir / "essai.html")
    (maps_dir / "index.html").write_text(
        "<!DOCTYPE html><html lang='fr'><body><h1>Vigie</h1><a href='essai.html'>Essai</a>"
        "</body></html>",
        encoding="utf-8",
    )
    # A committee pack beside the map (`make demo` writes one per site) is no map to wait for.
    (maps_dir / "essai_comite.html").write_text(
        "<!DOCTYPE html><html lang='fr'><body><h1>Dossier de comité</h1></body></html>",
        encoding="utf-8",
    )
    written = run(maps_dir, tmp_path / "screenshots", viewport=(1200, 800), browser=browser)
    assert [p.name for p in written] == ["essai.png", "index.png"]
    assert matplotlib.image.imread(written[0]).shape[:2] == (800, 1200)
    # A page that reaches for the network is refused, not captured.
    (maps_dir / "index.html").write_text(
        "<html><body><img src='https://example.org/x.png'></body></html>", encoding="utf-8"
    )
    with pytest.raises(ScreenshotError, match="réseau"):
        run(maps_dir, tmp_path / "again", viewport=(1200, 800), browser=browser)


def _focused(page) -> str:  # type: ignore[no-untyped-def]
    return page.evaluate(
        "() => { const e = document.activeElement;"
        " return e.tagName + ' ' + (e.getAttribute('class') || ''); }"
    )


def test_the_map_is_usable_from_the_keyboard(handmade, browser) -> None:  # type: ignore[no-untyped-def]
    """Without a mouse: the zoom buttons come right after the map in the Tab order (before:
    after every building and zone outline), in French; Enter on a focused building opens
    its fact sheet, Escape closes it and gives the focus back to the building (before:
    Enter did nothing and Escape left the popup open)."""
    with offline_page(handmade["pages"]["full"], browser=browser, wait_js=READY) as live:
        page = live.page
        page.keyboard.press("Tab")  # the header's link
        page.keyboard.press("Tab")  # the map itself
        assert _focused(page).startswith("DIV folium-map")
        page.keyboard.press("Tab")
        assert "leaflet-control-zoom-in" in _focused(page)
        assert page.get_attribute(".leaflet-control-zoom-in", "title") == "Zoom avant"
        building = page.locator("path.vigie-building").first
        building.focus()
        page.keyboard.press("Enter")
        page.wait_for_selector(".leaflet-popup-content .fiche", timeout=5000)
        assert "leaflet-popup-content" in _focused(page)
        page.keyboard.press("Escape")
        page.wait_for_selector(".leaflet-popup", state="detached", timeout=2000)  # faded out
        assert _focused(page).startswith("path vigie-building")
        # A popup opened with the mouse closes with Escape too.
        _click_at(page, handmade["latlng"]["A"])
        page.wait_for_selector(".leaflet-popup-content .fiche", timeout=5000)
        page.keyboard.press("Escape")
        page.wait_for_selector(".leaflet-popup", state="detached", timeout=2000)  # faded out
        assert live.console_errors == []
        assert live.page_errors == []


def test_a_long_resident_text_stays_inside_its_popup(tmp_path: Path, browser) -> None:  # type: ignore[no-untyped-def]
    """A resident pastes a link, 200 characters without a space: the report's popup wraps
    it (before: the text ran out of the popup, over the map)."""
    from pipelines.maps.site import render_map
    from tests.conftest import site_map_of
    from tests.test_maps import handmade_site

    site = handmade_site()
    reports = site["reports"]
    link = "https://signalement.example/?photo=" + "0123456789abcdef" * 8  # no hyphen
    reports.loc[reports["description"] == "Loin de tout", "description"] = link
    m = site_map_of(
        site["buildings"], reports, site_name="Essai", simulated=True, attributions=["osm"]
    )
    page_path = tmp_path / "long.html"
    page_path.write_text(render_map(m), encoding="utf-8")
    with offline_page(page_path, browser=browser, wait_js=READY) as live:
        page = live.page
        page.locator(".vigie-cats summary").click()
        _layer(page, "Autre")
        page.locator("path.vigie-report").first.dispatch_event("click")
        page.wait_for_selector(".vigie-popup-report", timeout=5000)
        assert link[:60] in page.inner_text(".vigie-popup-report")  # shortened, not dropped
        out = page.evaluate(
            """() => { const box = document.querySelector('.leaflet-popup-content-wrapper')
                         .getBoundingClientRect();
                 return [...document.querySelectorAll('.vigie-popup-report *')]
                   .filter(e => e.getBoundingClientRect().right > box.right + 0.5).length; }"""
        )
        assert out == 0
        assert live.page_errors == []
