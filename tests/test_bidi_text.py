"""Characters that reorder text inside data text cannot reorder what a page shows.

Unicode's embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) and the
direction marks (U+200E, U+200F) are invisible, and an HTML element's end does not close
them: a planner's name ending in U+202E showed the fact sheet's « , le 03/06/2024 » after
it as « 4202/60/30 el , ». The scrubber took them out of the texts it scrubs (residents'
descriptions, building labels: ``INVISIBLE`` of :mod:`pipelines.ingest.scrub_rules`), not
out of the others. Every text of the data is now escaped without them
(:func:`pipelines.markup.escape_text`, the templates' variables too), whatever scrubbed
it before; a site's name holding one is refused (:mod:`pipelines.config.values`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from pipelines.annotations.stage import link_annotations
from pipelines.maps.html import esc, notes_section_html
from pipelines.maps.layers import short_text
from pipelines.maps.site import render_map
from pipelines.markup import BIDI_CONTROLS, render_template
from pipelines.taxonomy import CODES
from tests.conftest import reports_on, site_map_of

RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE
DESCRIPTION = f"Fuite{RLO} au plafond"
AUTHOR = f"Mme Durand{RLO}"
#: Text of right-to-left scripts, kept as written (the browser orders its letters).
RTL_TEXTS = ("حي النور، بناية 3", "רחוב הרצל 12")


def test_escaped_data_text_holds_no_character_that_reorders() -> None:
    for char in BIDI_CONTROLS:
        assert esc(f"a{char}<b>") == "a&lt;b&gt;", f"U+{ord(char):04X}"
    assert short_text(DESCRIPTION) == "Fuite au plafond"
    for text in RTL_TEXTS:
        assert esc(text) == text
    note = {"author": AUTHOR, "text": DESCRIPTION, "tag": "à surveiller", "status": "ouvert"}
    sheet = notes_section_html([note])
    assert "— Mme Durand" in sheet
    assert not set(sheet) & BIDI_CONTROLS
    # a template's variables (a period, a planner's text): the same
    header = render_template(
        "map_header.html", site_name="Essai", period=DESCRIPTION, simulated=False,
        index_href="index.html",
    )  # fmt: skip
    assert "Fuite au plafond" in header
    assert not set(header) & BIDI_CONTROLS


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-building map: a report whose description holds U+202E, a building whose
    OSM name does, and a planner's note whose author does."""
    buildings = gpd.GeoDataFrame(
        {"building_id": ["way/1", "way/2"], "name": [f"Les Tilleuls{RLO} nord", None]},
        geometry=[box(2.480, 48.908, 2.4805, 48.9083), box(2.482, 48.908, 2.4825, 48.9083)],
        crs="EPSG:4326",
    )
    for code in CODES:
        buildings[f"n_{code}"] = [int(code == "eau_fuite"), int(code == "proprete")]
    buildings["n_reports"] = 1
    rows = [
        ("way/1", "eau_fuite", "2024-03-02 14:00", "h1"),
        ("way/2", "proprete", "2024-03-05 10:00", "h2"),
    ]
    reports = reports_on(buildings, rows, description=[DESCRIPTION, "Hall sale"])
    notes = gpd.GeoDataFrame(
        {
            "note_id": ["n1"],
            "site": ["essai"],
            "author": [AUTHOR],
            "text": ["Voir la cave"],
            "tag": ["à surveiller"],
            "status": ["ouvert"],
            "created_at": pd.to_datetime(["2024-06-03 09:00"], utc=True),
            "updated_at": pd.to_datetime([None], utc=True),
            "building_id": ["way/1"],
            "zone_id": [None],
        },
        geometry=[None],
        crs="EPSG:4326",
    )
    m = site_map_of(
        buildings, reports, site_name="Essai", simulated=True, attributions=["osm"],
        annotations=link_annotations(notes, buildings),
    )  # fmt: skip
    path = tmp_path_factory.mktemp("bidi") / "essai.html"
    path.write_text(render_map(m), encoding="utf-8")
    return path


def _texts(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Every text of a JSON value, with its path (keys and list positions)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _texts(item, (*path, i))
    elif isinstance(value, str):
        yield path, value


def test_the_page_shows_no_character_that_reorders(page: Path) -> None:
    """Not one in what the page shows; in its data block, only the raw fields of a
    planner's note, which the annotation mode puts back in its form as typed (an input's
    value is its own paragraph) and shows as text without them (``annotate.js``)."""
    html = page.read_text(encoding="utf-8")
    block = re.search(r'<script type="application/json" id="vigie-data">(.*?)</script>', html)
    assert block is not None
    shown = html.replace(block.group(0), "")
    assert not set(shown) & BIDI_CONTROLS
    holding = [
        path for path, text in _texts(json.loads(block.group(1))) if set(text) & BIDI_CONTROLS
    ]
    assert holding, "the note's author, as typed"
    for path in holding:
        assert path[:2] == ("annotations", "geojson"), path
        assert path[-1] == "author", path
    assert "Fuite au plafond" in html


#: The lines of an element as shown: its characters sorted by their place on screen
#: (top, then left), one string per line. Text shown reversed reads reversed here.
SHOWN_LINES = """(selector) => {
  const root = document.querySelector(selector), lines = new Map();
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    for (let i = 0; i < n.data.length; i++) {
      const range = document.createRange();
      range.setStart(n, i); range.setEnd(n, i + 1);
      const box = range.getBoundingClientRect();
      if (box.width === 0) continue;
      const top = Math.round(box.top);
      if (!lines.has(top)) lines.set(top, []);
      lines.get(top).push([box.left, n.data[i]]);
    }
  }
  return [...lines.keys()].sort((a, b) => a - b).map(top =>
    lines.get(top).sort((a, b) => a[0] - b[0]).map(c => c[1]).join(""));
}"""

READY = (
    "() => document.documentElement.getAttribute('data-vigie-ready') === '1'"
    " && document.querySelectorAll('path.vigie-building').length > 0"
)


@pytest.mark.browser
def test_no_data_text_reverses_what_the_popups_show(page: Path, browser: Any) -> None:
    from browser import offline_page

    with offline_page(page, browser=browser, viewport=(1400, 900), wait_js=READY) as live:
        p = live.page
        # the report's popup: its description reads as written
        p.locator(".vigie-cats summary").click()
        p.locator(".leaflet-control-layers label", has_text="Fuite").first.click()
        p.locator("path.vigie-report").first.dispatch_event("click")
        p.wait_for_selector(".leaflet-popup-content .vigie-popup-report", timeout=5000)
        assert "Fuite au plafond" in p.evaluate(SHOWN_LINES, ".vigie-popup-report")
        p.evaluate("() => window.vigie.map.closePopup()")
        # the building's fact sheet: its name, and the label text after the note's author
        p.evaluate(
            """() => window.vigie.buildings.eachLayer(l => {
                 if (l.feature.properties.i === 0) l.fire('click', {latlng: l.getCenter()}); })"""
        )
        p.wait_for_selector(".leaflet-popup-content .fiche", timeout=5000)
        shown = " ".join(p.evaluate(SHOWN_LINES, ".leaflet-popup-content .fiche"))
        assert "Les Tilleuls nord" in shown
        assert "— Mme Durand, le 03/06/2024" in shown, shown
        assert live.page_errors == []
