"""A site map as a steering committee uses it in a meeting room, in headless Chromium
offline: with a screen reader (every control named, in French), without internet (no
link to a web site), from the keyboard. The hand-made site of tests/test_maps.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser import LOW_CONTRAST_JS, offline_page

pytestmark = pytest.mark.browser

#: The map's script has run to its end (it sets the attribute last).
READY = "() => document.documentElement.getAttribute('data-vigie-ready') === '1'"
#: Leaflet's own English texts (its tooltips and its screen reader labels).
LEAFLET_ENGLISH = (
    "Close popup",
    "Zoom in",
    "Zoom out",
    "Layers",
    "A JavaScript library for interactive maps",
)


@pytest.fixture(scope="module")
def essai(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hand-made site's map with its basemap, as `make demo` draws a site."""
    from pipelines.maps.site import render_map
    from pipelines.osm.basemap import read_osm_basemap
    from tests.conftest import site_map_of
    from tests.test_maps import BONDY_OSM, handmade_site

    site = handmade_site()
    m = site_map_of(
        site["buildings"], site["reports"], site_name="Essai", simulated=True,
        attributions=["osm", "rpls"], basemap=read_osm_basemap(BONDY_OSM), kde=site["kde"],
        chronic=site["chronic"], perimeter=site["perimeter"],
    )  # fmt: skip
    path = tmp_path_factory.mktemp("meeting") / "essai.html"
    path.write_text(render_map(m), encoding="utf-8")
    return path


def _open_first_building(page: Any) -> None:
    page.evaluate(
        "() => { let done = false; window.vigie.buildings.eachLayer(l => {"
        " if (!done) { l.openPopup(); done = true; } }); }"
    )
    page.wait_for_selector(".leaflet-popup-content .fiche", timeout=5000)


def test_the_period_lists_and_the_layer_choices_have_a_name(essai: Path, browser: Any) -> None:
    """A screen reader names each month list of the period (before: no label tied to
    either, announced « liste déroulante » and nothing else), the groups of the layer
    control (before: five radio buttons and a list of boxes without a group) and the legend
    (before: a box without a name, where Tab stops when it scrolls)."""
    with offline_page(essai, browser=browser, wait_js=READY) as live:
        page = live.page
        for name, value in (
            ("Premier mois de la période affichée", "janv. 2024"),
            ("Dernier mois de la période affichée", "mars 2024"),
        ):
            select = page.get_by_role("combobox", name=name, exact=True)
            assert select.count() == 1, name
            assert select.locator("option:checked").inner_text() == value
        assert page.get_by_role("group", name="Période affichée").count() == 1
        unnamed = page.evaluate(
            "() => [...document.querySelectorAll('select')]"
            ".filter(s => !s.labels.length && !s.getAttribute('aria-label')).map(s => s.id)"
        )
        assert unnamed == []
        views = page.get_by_role("radiogroup", name="Colorer les bâtiments selon")
        assert views.get_by_role("radio").count() == 5
        layers = page.get_by_role("group", name="Couches", exact=True)
        assert layers.get_by_role("checkbox", name="Périmètre étudié").count() == 1
        legend = page.get_by_role("region", name="Légende de la carte")
        assert legend.count() == 1
        assert "aucun signalement" in legend.inner_text()


def test_the_sources_line_is_french_and_needs_no_network(essai: Path, browser: Any) -> None:
    """The line in the map's corner says where the buildings and the basemap come from, in
    French, without a link (before: « Leaflet », a link to leafletjs.com, dead offline,
    titled « A JavaScript library for interactive maps »); no Leaflet text in English is
    left, the popups' close button included (before: « Close popup »); the page says it
    is in French (before: no language, read in the screen reader's own)."""
    with offline_page(essai, browser=browser, wait_js=READY) as live:
        page = live.page
        assert page.evaluate("() => document.documentElement.lang") == "fr"  # was ''
        corner = page.locator(".leaflet-control-attribution")
        assert corner.inner_text() == "© les contributeurs d'OpenStreetMap"
        assert corner.locator("a").count() == 0
        _open_first_building(page)
        assert page.get_attribute(".leaflet-popup-close-button", "aria-label") == "Fermer"
        texts = page.evaluate(
            "() => [...document.querySelectorAll('[title], [aria-label]')]"
            ".flatMap(e => [e.getAttribute('title'), e.getAttribute('aria-label')])"
            ".filter(t => t)"
        )
        assert [t for t in texts if t in LEAFLET_ENGLISH] == []
        # The legend, the controls, the header and the sources read at 4.5:1 (they did).
        assert (
            page.evaluate(LOW_CONTRAST_JS, ".leaflet-control, .vigie-header, .vigie-footer") == []
        )
        assert live.console_errors == []
        assert live.external_requests == []


#: While the page prints, what the map is drawn at, the studied perimeter's box in it, and
#: whether the sources line shows whole; recorded by a listener after the map's own.
RECORD_PRINT = """() => { window.printed = [];
  matchMedia('print').addEventListener('change', e => { if (!e.matches) return;
    const m = window.vigie.map, box = m.getContainer().getBoundingClientRect(),
          p = document.querySelector('path.vigie-perimeter').getBoundingClientRect(),
          foot = document.querySelector('.vigie-footer');
    window.printed.push({size: [m.getSize().x, m.getSize().y],
      box: [Math.round(box.width), Math.round(box.height)],
      perimeter: [p.left - box.left, p.top - box.top, p.right - box.left, p.bottom - box.top],
      sourcesCut: foot.scrollWidth > foot.clientWidth || foot.scrollHeight > foot.clientHeight});
  }); }"""


def test_a_printed_map_is_drawn_for_its_page(essai: Path, browser: Any) -> None:
    """Printed on A4, portrait and landscape, the map is drawn for the paper: the studied
    perimeter whole on the page and the sources line whole (before: the drawing kept the
    screen's 1 280 px, its right part cut off a portrait page, and the sources line ended
    in « Licence Ou… »); the legend prints."""
    with offline_page(essai, browser=browser, wait_js=READY) as live:
        page = live.page
        page.evaluate(RECORD_PRINT)
        for landscape in (False, True):
            page.pdf(format="A4", landscape=landscape)
        printed = page.evaluate("() => window.printed")
        assert live.page_errors == []
    assert len(printed) == 2
    for shot in printed:
        assert shot["size"] == shot["box"], shot  # Leaflet drew for the page's size
        left, top, right, bottom = shot["perimeter"]
        width, height = shot["box"]
        assert 0 <= left < right <= width, shot
        assert 0 <= top < bottom <= height, shot
        assert not shot["sourcesCut"], shot


#: The boxes of the map's controls, in page pixels.
CONTROL_BOXES = """() => Object.fromEntries(
  ['.vigie-period', '.leaflet-control-layers', '.vigie-legend', '.leaflet-control-zoom']
    .map(s => { const r = document.querySelector(s).getBoundingClientRect();
                return [s, [r.left, r.top + scrollY, r.right, r.bottom + scrollY]]; }))"""


@pytest.mark.parametrize("viewport", [(640, 400), (320, 256)], ids=["200%", "400%"])
def test_zoomed_to_400_percent_no_control_covers_another(
    essai: Path, browser: Any, viewport: tuple[int, int]
) -> None:
    """A laptop's 1 280 px zoomed to 200 % and 400 % (WCAG reflow): the period, the layer
    control, the legend and the zoom buttons each stay whole and uncovered, nothing scrolls
    sideways, and the period's lists can be used (before: at 200 % the legend covered the
    period's lists; at 400 % the layer control and the legend covered the whole map)."""
    with offline_page(essai, browser=browser, wait_js=READY, viewport=viewport) as live:
        page = live.page
        boxes = page.evaluate(CONTROL_BOXES)
        names = list(boxes)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                (l1, t1, r1, b1), (l2, t2, r2, b2) = boxes[a], boxes[b]
                assert r1 <= l2 or r2 <= l1 or b1 <= t2 or b2 <= t1, (a, b, boxes)
        width = page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
        assert width[0] <= width[1]
        page.locator("#vigie-m1").scroll_into_view_if_needed()
        page.locator("#vigie-m1").click(trial=True, timeout=2000)  # nothing on top of it
        page.select_option("#vigie-m1", "1")
        assert "févr. 2024" in page.inner_text(".vigie-legend")
        assert live.page_errors == []


#: A site's name as long as an intercommunal landlord writes it.
LONG_NAME = (
    "Résidence intercommunale des Quatre-Chemins – Bondy Nord, Noisy-le-Sec et Romainville,"
    " bâtiments A à Z, ensemble rénové 2019-2024"
)


#: A planner's note of 800 characters, as a site visit's report gets written.
LONG_NOTE = (
    "Visite du 3 juin avec le gardien : la cave du bâtiment est encombrée, la porte ne ferme"
    " plus, des traces d'humidité au plafond du local vélos ; prévoir un passage de"
    " l'entreprise avant l'été. " * 5
)[:800]


@pytest.fixture(scope="module")
def odd_sites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The hand-made site under a very long name, with a planner's note of 800 characters
    on building A; and its buildings without any report."""
    import geopandas as gpd
    import pandas as pd

    from pipelines.annotations.link import link_annotations
    from pipelines.maps.site import render_map
    from tests.conftest import site_map_of
    from tests.test_maps import handmade_site

    site = handmade_site()
    buildings, reports = site["buildings"], site["reports"]
    quiet = buildings.copy()
    quiet[[c for c in quiet.columns if c.startswith("n_")]] = 0
    note = gpd.GeoDataFrame(
        {
            "note_id": ["n1"], "site": ["essai"], "author": ["M. Martin"],
            "text": [LONG_NOTE], "tag": ["à surveiller"], "status": ["ouvert"],
            "created_at": pd.to_datetime(["2024-06-03 09:00"], utc=True),
            "updated_at": pd.to_datetime([None], utc=True),
            "building_id": [site["ids"]["A"]], "zone_id": [None],
        },
        geometry=[None], crs="EPSG:4326",
    )  # fmt: skip
    out = tmp_path_factory.mktemp("odd")
    pages = {}
    for name, b, r, title, notes in (
        ("long", buildings, reports, LONG_NAME, link_annotations(note, buildings)),
        ("quiet", quiet, reports.iloc[0:0], "Sans signalement", None),
    ):
        m = site_map_of(
            b, r, site_name=title, simulated=True, attributions=["osm"], annotations=notes
        )
        pages[name] = out / f"{name}.html"
        pages[name].write_text(render_map(m), encoding="utf-8")
    return pages


def test_a_long_site_name_leaves_the_period_and_the_badge_in_view(
    odd_sites: dict[str, Path], browser: Any
) -> None:
    """A name of 120 characters on a 1 280 px screen: the name ends in « … » (whole in its
    tooltip) and the period, « données simulées » and the link to the other sites stay in
    the header (before: the header cut them all off at its right edge)."""
    with offline_page(odd_sites["long"], browser=browser, wait_js=READY) as live:
        page = live.page
        right = page.evaluate(
            """() => { const h = document.querySelector('.vigie-header').getBoundingClientRect();
                 return ['#vigie-period', '.vigie-badge', '.vigie-header a'].map(s =>
                   document.querySelector(s).getBoundingClientRect().right - h.right); }"""
        )
        assert max(right) <= 0, right
        assert page.get_attribute(".vigie-header h1", "title") == f"Vigie · {LONG_NAME}"
        assert live.page_errors == []


def test_a_site_without_reports_has_a_legend_in_french(
    odd_sites: dict[str, Path], browser: Any
) -> None:
    """No report at all: the legend says « aucun signalement » and nothing else about
    counts (before: « de undefined à undefined (période choisie) » and a class « 1 et plus »
    that no building had)."""
    with offline_page(odd_sites["quiet"], browser=browser, wait_js=READY) as live:
        legend = live.page.inner_text(".vigie-legend")
        assert "aucun signalement" in legend
        assert "undefined" not in legend
        assert "et plus" not in legend
        assert live.console_errors == []
        assert live.page_errors == []


def test_a_note_of_800_characters_fits_a_projector(
    odd_sites: dict[str, Path], browser: Any
) -> None:
    """On a 1 024 × 600 projector, the popup of an 800-character note stays inside the map
    and scrolls, its author and date in reach (before: 668 px of popup in a 534 px map,
    its end under the sources line, out of reach)."""
    with offline_page(
        odd_sites["long"], browser=browser, wait_js=READY, viewport=(1024, 600)
    ) as live:
        page = live.page
        page.evaluate("() => { window.vigie.notes.eachLayer(l => l.openPopup()); }")
        page.wait_for_selector(".leaflet-popup-content", timeout=5000)
        page.wait_for_timeout(300)  # the popup fades in and the map pans to it
        box = page.evaluate(
            """() => { const p = document.querySelector('.leaflet-popup-content-wrapper')
                   .getBoundingClientRect(), m = window.vigie.map.getContainer()
                   .getBoundingClientRect(), c = document.querySelector('.leaflet-popup-content');
                 return [p.top - m.top, m.bottom - p.bottom, c.scrollHeight > c.clientHeight]; }"""
        )
        assert box[0] >= 0, box
        assert box[1] >= 0, box
        assert box[2], "the note scrolls inside its popup"
        assert LONG_NOTE[-40:].strip() in page.inner_text(".leaflet-popup-content")
        assert live.page_errors == []


@pytest.fixture(scope="module")
def annotated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[float]]:
    """The hand-made site's map with its basemap and the « Annoter » mode, as `make demo`
    draws a site that has note tags; and a point inside its building A (latitude,
    longitude)."""
    from pipelines.maps.site import render_map
    from pipelines.osm.basemap import read_osm_basemap
    from tests.conftest import site_map_of
    from tests.test_maps import BONDY_OSM, handmade_site

    site = handmade_site()
    m = site_map_of(
        site["buildings"], site["reports"], site_name="Essai", simulated=True,
        attributions=["osm"], basemap=read_osm_basemap(BONDY_OSM), kde=site["kde"],
        chronic=site["chronic"], perimeter=site["perimeter"], site_id="essai",
        annotation_tags=("à surveiller",),
    )  # fmt: skip
    path = tmp_path_factory.mktemp("annotated") / "essai.html"
    path.write_text(render_map(m), encoding="utf-8")
    b = site["buildings"].set_index("building_id")
    inside = b.geometry[site["ids"]["A"]].representative_point()
    return path, [inside.y, inside.x]


#: The boxes of the annotation panel and of every map control shown, in page pixels.
ANNOTATION_BOXES = """() => Object.fromEntries(
  ['.vigie-annot-panel', '.vigie-period', '.leaflet-control-layers', '.vigie-legend',
   '.leaflet-control-zoom', '.vigie-annot-toggle', '.leaflet-draw']
    .map(s => { const r = document.querySelector(s).getBoundingClientRect();
                return [s, [r.left, r.top + scrollY, r.right, r.bottom + scrollY]]; }))"""


@pytest.mark.parametrize(
    "viewport", [(1280, 720), (1024, 600), (390, 844)], ids=["laptop", "projector", "phone"]
)
def test_the_annotation_panel_covers_no_control(
    annotated: tuple[Path, list[float]], browser: Any, viewport: tuple[int, int]
) -> None:
    """Open, the « Annoter » panel covers none of the map's controls, the « Période
    affichée » first (before: fixed 56 px from the left, it hid the period's lists on a
    laptop, and on a phone it stuck out of the screen over the page), nor sticks out;
    no control covers another, the drawing tools and the legend included (before: on a
    1 024 × 600 projector the legend hid « Placer un point »); on a phone the panel sits
    under the map, and a click on a building opens its form there."""
    page_path, building_a = annotated
    with offline_page(page_path, browser=browser, wait_js=READY, viewport=viewport) as live:
        page = live.page
        page.click(".vigie-annot-toggle button")
        assert page.is_visible(".vigie-annot-panel")
        boxes = page.evaluate(ANNOTATION_BOXES)
        names = list(boxes)
        for i, a in enumerate(names):  # the drawing tools and the legend included
            for b in names[i + 1 :]:
                (l1, t1, r1, b1), (l2, t2, r2, b2) = boxes[a], boxes[b]
                assert r1 <= l2 or r2 <= l1 or b1 <= t2 or b2 <= t1, (a, b, boxes)
        panel = boxes[".vigie-annot-panel"]
        assert panel[0] >= 0, panel
        assert panel[2] <= viewport[0], panel
        width = page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
        assert width[0] <= width[1]
        page.locator("#vigie-m1").scroll_into_view_if_needed()
        page.locator("#vigie-m1").click(trial=True, timeout=2000)  # nothing on top of it
        if viewport[0] < 700:
            map_box = page.evaluate(
                "() => { const r = window.vigie.map.getContainer().getBoundingClientRect();"
                " return [r.top + scrollY, r.bottom + scrollY]; }"
            )
            assert panel[1] >= map_box[1], (panel, map_box)  # under the map
        page.evaluate("() => window.vigie.map.getContainer().scrollIntoView()")
        x, y = page.evaluate(
            """(ll) => { const m = window.vigie.map; m.setView(ll, 18, {animate: false});
                 const p = m.latLngToContainerPoint(ll);
                 const r = m.getContainer().getBoundingClientRect();
                 return [r.left + p.x, r.top + p.y]; }""",
            building_a,
        )
        page.mouse.click(x, y)
        page.wait_for_selector("#vigie-annot-text", timeout=5000)
        assert page.evaluate("() => document.activeElement.id") == "vigie-annot-text"
        assert page.locator("#vigie-annot-text").is_visible()
        assert live.page_errors == []


def test_every_building_outline_has_a_name(
    annotated: tuple[Path, list[float]], browser: Any
) -> None:
    """A screen reader names each building's outline with what its tooltip says: the
    building and what its colour shows (before: no name at all), and the name follows
    the period and the view chosen."""
    with offline_page(annotated[0], browser=browser, wait_js=READY) as live:
        page = live.page
        names = page.eval_on_selector_all(
            "path.vigie-building", "els => els.map(e => e.getAttribute('aria-label'))"
        )
        assert names
        assert all(n and n.startswith("Bâtiment") for n in names), names
        assert all("signalement" in n for n in names), names
        # Plain text: the hand-made building named « <img src=x onerror=…> » reads as
        # those characters, neither as entities nor as markup (nothing ran, no image).
        assert any("<img src=x onerror=" in n for n in names), names
        assert "&lt;" not in "".join(names), names
        assert "&amp;" not in "".join(names), names
        assert page.locator("img[src=x]").count() == 0
        first = page.locator("path.vigie-building").first
        before = first.get_attribute("aria-label")
        page.evaluate("() => window.vigie.setPeriod(0, 0)")
        after = first.get_attribute("aria-label")
        counts = page.evaluate(
            "() => { const out = []; window.vigie.buildings.eachLayer(l =>"
            " out.push(l.getElement().getAttribute('aria-label'))); return out; }"
        )
        assert counts != names or before != after  # the names follow the period
        page.get_by_role("radio", name="Points chauds et froids (Gi*)").check()
        assert "signalement" not in (first.get_attribute("aria-label") or "")
        assert live.page_errors == []
