"""Issue 8's "done when", through the real pipeline: on the demo run's Bondy map, a planner
annotates a building in headless Chromium and exports the note, the file is dropped in the
annotations folder, the refresh (the stages that read the notes, as make runs them) folds
it in, and the next map shows the note in the notes layer and in the building's fact
sheet, as text. Refreshing again with the same file does not duplicate it."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely
import shapely.ops

from pipelines.crs import LAMBERT93, WGS84
from tests.conftest import DemoRun, write_demo_config

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: The planner's text, with markup that must come back as text everywhere.
TEXT = "Fermer l'accès cave <b>markup</b> avant travaux & « hall 3 »"
AUTHOR = "Mme Durand"
#: What the next map shows of that author: the name is scrubbed when the file is read.
SHOWN_AUTHOR = "[nom]"
TAG = "priorité avant travaux"
STATUS = "en cours"
READY = (
    "() => document.documentElement.getAttribute('data-vigie-ready') === '1'"
    " && document.querySelectorAll('path.vigie-building').length > 0"
)


def _notes_readers() -> list[str]:
    """The annotations stage and every stage that reads what it writes, directly or
    not, in the table's order, up to the committee pack (what ``vigie run`` runs): what
    make re-runs when a note file arrives (tests/test_make.py checks make does)."""
    from pipelines.stages import STAGE_NAMES, STAGES, stage

    last = STAGE_NAMES.index("comite")
    changed = set(stage("annotations").writes)
    names = ["annotations"]
    for s in STAGES[STAGE_NAMES.index("annotations") + 1 : last + 1]:
        if changed & set(s.reads):
            names.append(s.name)
            changed |= set(s.writes)
    return names


def _refresh_bondy(root: Path, config: Path) -> None:
    """The analyst's refresh after a note file is dropped: Bondy's stages that read the
    notes, then the index (what ``make demo`` runs then; the stages before the notes,
    ingestion to zones, would give the same files again)."""
    from pipelines.cli import main

    names = _notes_readers()
    assert {"annotations", "publish", "map"} <= set(names), names
    assert not {"ingest", "hotspots"} & set(names), names
    for name in names:
        code = main(["-q", "stage", name, "--config", str(config), "--site", "bondy",
                     "--processed-dir", str(root / "processed" / "bondy"),
                     "--maps-dir", str(root / "maps")])  # fmt: skip
        assert code == 0, name
    index = root / "maps" / "index.html"
    assert main(["-q", "index", "--config", str(config), "--out", str(index)]) == 0


def _click_at(page: Any, lon: float, lat: float, zoom: int = 18) -> None:
    """Centre the map on a point and click there with the mouse, as a person would."""
    x, y = page.evaluate(
        """([ll, z]) => { const m = window.vigie.map; m.setView(ll, z, {animate: false});
             const p = m.latLngToContainerPoint(ll), r = m.getContainer().getBoundingClientRect();
             return [r.left + p.x, r.top + p.y]; }""",
        [[lat, lon], zoom],
    )
    page.mouse.click(x, y)


def _to_wgs84(geometry: shapely.Geometry) -> shapely.Point:
    return gpd.GeoSeries([geometry], crs=LAMBERT93).to_crs(WGS84).iloc[0]


def _data_block(html_path: Path) -> dict[str, Any]:
    html = html_path.read_text(encoding="utf-8")
    match = re.search(r'<script type="application/json" id="vigie-data">(.*?)</script>', html, re.S)
    assert match is not None
    return json.loads(match.group(1))  # type: ignore[no-any-return]


def test_note_from_the_map_comes_back_on_the_next_map(
    demo_run: DemoRun, browser: Any, tmp_path: Path
) -> None:
    from browser import offline_page

    # The demo run's folders (its secrets included), copied: the planner's notes go into
    # the copy, never into the run the other test processes read.
    shutil.copytree(demo_run.root, tmp_path, dirs_exist_ok=True)
    config = write_demo_config(tmp_path, demo_run.raw_bondy)
    processed = tmp_path / "processed" / "bondy"
    map_path = tmp_path / "maps" / "bondy.html"
    # The largest building of a hotspot zone: the one the planner clicks, well inside.
    buildings = gpd.read_parquet(processed / "buildings.parquet")
    # The zones the map draws: the published ones (made of the buildings whose class the
    # committee profile shows) built from enough reports (zones.min_reports).
    zones = gpd.read_parquet(processed / "published" / "zones.parquet")
    zones = zones[zones["has_enough_reports"]]
    assert len(zones) > 0
    in_zone = {b for ids in zones["building_ids"] for b in ids}
    metric = buildings.to_crs(LAMBERT93)
    candidates = metric[buildings["building_id"].isin(in_zone).to_numpy()]
    target = str(buildings.loc[candidates.area.idxmax(), "building_id"])
    (zone_id,) = [
        z for z, ids in zip(zones["zone_id"], zones["building_ids"], strict=True) if target in ids
    ]
    footprint = metric.set_index("building_id").geometry[target]
    spot_m = footprint.buffer(-2.0).representative_point()
    spot = _to_wgs84(spot_m)
    # Another point of the same building, 8 m or more from the note: its fact sheet.
    elsewhere_m = footprint.buffer(-2.0).difference(spot_m.buffer(8.0))
    assert not elsewhere_m.is_empty
    elsewhere = _to_wgs84(elsewhere_m.representative_point())
    # A spot of that zone beside its buildings (the zones are drawn under the buildings).
    zone_m = zones.set_index("zone_id").to_crs(LAMBERT93).geometry[zone_id]
    built = shapely.union_all(metric.geometry.to_numpy()).buffer(1.0)
    beside = zone_m.difference(built).buffer(-0.5)
    assert not beside.is_empty
    zone_spot = _to_wgs84(shapely.ops.nearest_points(beside, spot_m)[0])
    folder = tmp_path / "annotations" / "bondy"

    # 1. The planner annotates the building and exports the notes.
    with offline_page(map_path, browser=browser, wait_js=READY) as live:
        page = live.page
        assert live.count("path.vigie-zone") == len(zones)
        # Beside the buildings, a click reaches the zone: its fact sheet, then, in
        # annotation mode, the form on the zone.
        _click_at(page, zone_spot.x, zone_spot.y)
        page.wait_for_selector(".leaflet-popup-content .fiche", timeout=5000)
        assert page.inner_text(".leaflet-popup-content h4") == f"Zone {zone_id}"
        page.evaluate("() => window.vigie.map.closePopup()")
        page.wait_for_selector(".leaflet-popup", state="detached", timeout=5000)
        page.click(".vigie-annot-toggle button")
        assert page.is_visible(".vigie-annot-panel")
        _click_at(page, zone_spot.x, zone_spot.y)
        page.wait_for_selector("#vigie-annot-text", timeout=5000)
        assert page.inner_text(".vigie-annot-target") == f"Sur : Zone {zone_id}"
        page.click(".vigie-annot-cancel")
        assert page.locator("#vigie-annot-text").count() == 0
        _click_at(page, spot.x, spot.y)
        page.wait_for_selector("#vigie-annot-text", timeout=5000)
        assert page.inner_text(".vigie-annot-target") == f"Sur : Bâtiment {target}"
        assert page.locator(".leaflet-popup").count() == 0  # the form, not the fact sheet
        page.fill("#vigie-annot-author", AUTHOR)
        page.fill("#vigie-annot-text", TEXT)
        page.select_option("#vigie-annot-tag", TAG)
        page.select_option("#vigie-annot-status", STATUS)
        page.click(".vigie-annot-save")
        assert page.inner_text(".vigie-annot-item-text") == TEXT
        with page.expect_download() as info:
            page.click(".vigie-annot-export")
        download = info.value
        folder.mkdir(parents=True, exist_ok=True)
        exported = folder / download.suggested_filename
        download.save_as(exported)
        assert live.console_errors == []
        assert live.page_errors == []
        assert live.external_requests == []
    (feature,) = json.loads(exported.read_text(encoding="utf-8"))["features"]
    assert feature["properties"]["building_id"] == target
    assert feature["properties"]["zone_id"] == zone_id  # the building is in that zone
    note_id = feature["properties"]["note_id"]

    # 2. The analyst's refresh folds the file in.
    assert (
        not (processed / "annotations.parquet").exists()
        or gpd.read_parquet(processed / "annotations.parquet").empty
    )
    _refresh_bondy(tmp_path, config)
    notes = gpd.read_parquet(processed / "annotations.parquet")
    assert notes["note_id"].tolist() == [note_id]
    assert list(notes["building_ids"].iloc[0]) == [target]
    assert not notes["is_orphaned"].iloc[0]

    # 3. The next map shows it in the notes layer and in the building's fact sheet, as text.
    wait = READY + " && document.querySelectorAll('path.vigie-note').length === 1"
    with offline_page(map_path, browser=browser, wait_js=wait) as live:
        page = live.page
        layer = page.inner_text(".leaflet-control-layers")
        assert "Notes des urbanistes (1)" in layer
        assert "Zones de points chauds" in layer
        _click_at(page, spot.x, spot.y)
        page.wait_for_selector(".leaflet-popup-content .vigie-note-text", timeout=5000)
        assert page.inner_text(".leaflet-popup-content .vigie-note-text") == TEXT
        assert page.locator(".leaflet-popup-content .vigie-note-text b").count() == 0
        popup = page.inner_text(".leaflet-popup-content")
        for expected in (SHOWN_AUTHOR, TAG, STATUS, f"bâtiment {target}"):
            assert expected in popup, expected
        assert "Durand" not in popup
        page.evaluate("() => window.vigie.map.closePopup()")
        page.wait_for_selector(".leaflet-popup", state="detached", timeout=5000)
        _click_at(page, elsewhere.x, elsewhere.y)
        page.wait_for_selector(".leaflet-popup-content .fiche", timeout=5000)
        assert f"Bâtiment OSM {target}" in page.inner_text(".leaflet-popup-content .fiche")
        sheet = page.locator(".leaflet-popup-content .fiche .notes")
        assert "Notes des urbanistes (1)" in sheet.inner_text()
        assert SHOWN_AUTHOR in sheet.inner_text()
        assert "Durand" not in sheet.inner_text()
        assert page.inner_text(".fiche .vigie-fiche-note-text") == TEXT
        assert page.locator(".fiche .vigie-fiche-note-text b").count() == 0
        assert live.console_errors == []
        assert live.page_errors == []
        assert live.external_requests == []

    # 4. The same file read again: still one note, once on the map, once in the sheet.
    _refresh_bondy(tmp_path, config)
    again = gpd.read_parquet(processed / "annotations.parquet")
    assert again["note_id"].tolist() == [note_id]
    assert map_path.stat().st_size <= 5_000_000  # the demo map's size budget, Leaflet.draw in
    data = _data_block(map_path)
    on_map = [f["properties"]["note_id"] for f in data["annotations"]["geojson"]["features"]]
    assert on_map == [note_id]
    i = next(
        f["properties"]["i"]
        for f in data["buildings"]["features"]
        if f["properties"]["building_id"] == target
    )
    escaped = "Fermer l&#x27;accès cave &lt;b&gt;markup&lt;/b&gt;"
    assert data["b"]["fiche"][i].count(escaped) == 1
    assert sum(fiche.count(escaped) for fiche in data["b"]["fiche"]) == 1
    index = (tmp_path / "maps" / "index.html").read_text(encoding="utf-8")
    assert index.count(escaped) == 1
    assert TEXT not in index
