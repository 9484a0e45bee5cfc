"""Issue 8's "done when": a planner annotates the offline map in headless Chromium, exports
the notes, the pipeline folds the file in, and the next map shows the note."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import shapely.ops

from pipelines.annotations import GONE_BUILDING_FLAG
from pipelines.annotations.link import link_annotations
from pipelines.annotations.stage import STATUSES, read_annotations
from pipelines.crs import LAMBERT93, WGS84
from pipelines.maps.assets import inline_assets, make_map
from pipelines.maps.layers import annotations_block
from pipelines.maps.notes import ORPHAN_COLOUR, add_annotation_ui, notes_layer_geojson
from pipelines.osm.buildings import read_osm_buildings
from pipelines.publish.tables import notes_table
from pipelines.zones.stage import assign_zone_ids, hot_zones

pytestmark = [pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[1]
BONDY_OSM = ROOT / "data" / "raw" / "bondy" / "bondy_nord.osm"
TAGS = ["priorité avant travaux", "à surveiller", "traité"]
#: User text with markup: it must come back as text, everywhere.
TEXT = "Fermer l'accès cave <b>avant</b> travaux & reprendre l'éclairage du \"hall 3\""
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def site() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, str]:
    """Real Bondy buildings within 150 m of the largest one, hot zones around a point
    100 m from it, and the id of a large building outside every zone (the one to click)."""
    buildings = read_osm_buildings(BONDY_OSM)
    metric = buildings.to_crs(LAMBERT93)
    largest = metric.area.idxmax()
    near = metric.distance(metric.geometry[largest]) < 150
    part = buildings[near].copy()
    m = metric[near]
    hot_centre = m.geometry[largest].centroid.buffer(100).exterior.interpolate(0.5, normalized=True)
    part["gi_bin"] = np.where(m.centroid.distance(hot_centre) < 60, 3, 0)
    zones = assign_zone_ids(hot_zones(part), None)
    in_zone = {b for ids in zones["building_ids"] for b in ids}
    candidates = m[~part["building_id"].isin(in_zone).to_numpy()]
    target = part.loc[candidates.area.idxmax(), "building_id"]
    return part, zones, str(target)


def _site_map(
    buildings: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame,
    target: str,
    notes: gpd.GeoDataFrame | None = None,
) -> folium.Map:
    """A small site map as the map module builds it: zones under the buildings, every
    feature carrying its id, popups on buildings, the published notes layer
    (:func:`pipelines.maps.notes.notes_layer_geojson`, drawn as the map's script draws
    it: paths of class ``vigie-note``, the escaped popup), Leaflet.draw and the
    annotation mode."""
    centre = buildings.set_index("building_id").geometry[target].representative_point()
    m = make_map(location=[centre.y, centre.x], zoom_start=18)
    zone_layer = zones[["zone_id", "status", "geometry"]].copy()
    folium.GeoJson(
        json.loads(zone_layer.to_json(drop_id=True)),
        name="Zones de points chauds",
        style_function=lambda _: {"color": "#b2182b", "weight": 2, "fillOpacity": 0.1},
    ).add_to(m)
    layer = buildings[["building_id", "geometry"]].copy()
    layer["fiche"] = "Bâtiment " + layer["building_id"]
    folium.GeoJson(
        json.loads(layer.to_json(drop_id=True)),
        name="Bâtiments",
        style_function=lambda _: {"color": "#555555", "weight": 1, "fillOpacity": 0.6},
        popup=folium.GeoJsonPopup(fields=["fiche"], labels=False),
    ).add_to(m)
    if notes is not None:
        folium.GeoJson(
            notes_layer_geojson(notes_table(notes)),
            name="Notes des urbanistes",
            style_function=lambda _: {"color": "#D55E00", "weight": 3, "className": "vigie-note"},
            marker=folium.CircleMarker(radius=8, weight=3, fill=True, fill_opacity=0.8),
            popup=folium.GeoJsonPopup(fields=["popup_html"], labels=False, max_width=320),
        ).add_to(m)
    add_annotation_ui(m, site_id="bondy", tags=TAGS, statuses=list(STATUSES))
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def _write_map(m: folium.Map, path: Path) -> Path:
    path.write_text(inline_assets(m.get_root().render()), encoding="utf-8")
    return path


def _pixel(page: Any, map_var: str, lon: float, lat: float) -> tuple[float, float]:
    x, y = page.evaluate(
        f"""() => {{ const p = {map_var}.latLngToContainerPoint([{lat}, {lon}]);
              const r = {map_var}.getContainer().getBoundingClientRect();
              return [p.x + r.left, p.y + r.top]; }}"""
    )
    return float(x), float(y)


def _fill_and_save(page: Any, text: str, tag: str, status: str, author: str | None = None) -> None:
    page.wait_for_selector("#vigie-annot-text", timeout=5000)
    if author is not None:
        page.fill("#vigie-annot-author", author)
    page.fill("#vigie-annot-text", text)
    page.select_option("#vigie-annot-tag", tag)
    page.select_option("#vigie-annot-status", status)
    page.click(".vigie-annot-save")


def test_annotate_export_fold_in_and_see_the_note_on_the_next_map(
    site: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, str], browser: Any, tmp_path: Path
) -> None:
    from browser import offline_page

    buildings, zones, target = site
    footprint = buildings.set_index("building_id").geometry[target]
    inside = footprint.representative_point()
    first = _site_map(buildings, zones, target)
    map_var = first.get_name()
    page_path = _write_map(first, tmp_path / "bondy.html")
    # A spot of zone Z1 outside every building (zones are drawn under the buildings).
    zone_m = gpd.GeoSeries([zones.geometry.iloc[0]], crs=WGS84).to_crs(LAMBERT93).iloc[0]
    built = shapely.union_all(buildings.to_crs(LAMBERT93).geometry.to_numpy())
    free = zone_m.difference(built.buffer(1.0)).buffer(-0.8)
    target_m = gpd.GeoSeries([inside], crs=WGS84).to_crs(LAMBERT93).iloc[0]
    spot_m = shapely.ops.nearest_points(free, target_m)[0]
    zone_spot = gpd.GeoSeries([spot_m], crs=LAMBERT93).to_crs(WGS84).iloc[0]
    folder = tmp_path / "annotations" / "bondy"

    with offline_page(page_path, browser=browser) as live:
        page = live.page
        page.click(".vigie-annot-toggle button")
        assert page.is_visible(".vigie-annot-panel")
        # 1. Click the building: the form opens on it, its popup does not.
        page.mouse.click(*_pixel(page, map_var, inside.x, inside.y))
        page.wait_for_selector("#vigie-annot-text", timeout=5000)
        assert page.inner_text(".vigie-annot-target") == f"Sur : Bâtiment {target}"
        assert page.locator(".leaflet-popup").count() == 0
        page.click(".vigie-annot-save")  # empty form: refused with a message
        assert "Indiquez votre nom" in page.inner_text(".vigie-annot-error")
        _fill_and_save(page, TEXT, "priorité avant travaux", "en cours", author="Mme Durand")
        item = page.locator(".vigie-annot-item-text").first
        assert item.inner_text() == TEXT  # shown as text ...
        assert page.locator(".vigie-annot-item-text b").count() == 0  # ... never as markup
        # 2. Click a hotspot zone, beside its buildings.
        zx, zy = _pixel(page, map_var, zone_spot.x, zone_spot.y)
        assert 380 < zx < 1280, "zone spot off screen or under the panel"
        assert 0 < zy < 800, "zone spot off screen"
        page.mouse.click(zx, zy)
        page.wait_for_selector("#vigie-annot-text", timeout=5000)
        assert page.inner_text(".vigie-annot-target") == "Sur : Zone Z1"
        _fill_and_save(page, "Rondes de nuit à renforcer", "à surveiller", "ouvert")
        # 3. Draw a point with Leaflet.draw, beside the building.
        cx, cy = _pixel(page, map_var, inside.x, inside.y)
        page.click(".leaflet-draw-draw-marker")
        page.mouse.click(cx + 150, cy + 120)
        _fill_and_save(page, "Dépôt sauvage devant le local vélos", "à surveiller", "ouvert")
        # 4. Draw a polygon (three corners, then the first one again to close it).
        page.click(".leaflet-draw-draw-polygon")
        corners = [(cx + 200, cy - 150), (cx + 300, cy - 150), (cx + 300, cy - 60)]
        for x, y in [*corners, corners[0]]:
            page.mouse.click(x, y)
            page.wait_for_timeout(150)
        _fill_and_save(page, "Aire de jeux à sécuriser", "traité", "clos")
        assert page.inner_text(".vigie-annot-panel h3 span") == "4"
        # 5. The page is closed and opened again before exporting: nothing is lost.
        page.reload()
        page.wait_for_selector(".vigie-annot-toggle button")
        page.click(".vigie-annot-toggle button")
        assert page.locator(".vigie-annot-item").count() == 4
        # 6. Export: one GeoJSON file, downloaded.
        with page.expect_download() as info:
            page.click(".vigie-annot-export")
        download = info.value
        name = download.suggested_filename
        assert re.fullmatch(r"annotations_bondy_\d{8}T\d{6}Z\.geojson", name), name
        folder.mkdir(parents=True)
        download.save_as(folder / name)
        assert live.console_errors == []
        assert live.page_errors == []
        assert live.external_requests == []

    # The analyst's refresh reads the folder.
    read = read_annotations(folder, site_id="bondy", tags=TAGS)
    assert read.rejected == []
    assert read.duplicates == []
    notes = read.notes.set_index("text")
    assert sorted(notes.index) == sorted(
        [
            TEXT,
            "Dépôt sauvage devant le local vélos",
            "Aire de jeux à sécuriser",
            "Rondes de nuit à renforcer",
        ]
    )
    on_zone = notes.loc["Rondes de nuit à renforcer"]
    assert on_zone["zone_id"] == "Z1"
    assert pd.isna(on_zone["building_id"])
    clicked = notes.loc[TEXT]
    assert UUID4.fullmatch(clicked["note_id"])
    assert (clicked["building_id"], clicked["author"], clicked["tag"], clicked["status"]) == (
        target,
        "[nom]",  # the name typed as author is scrubbed when the file is folded in
        "priorité avant travaux",
        "en cours",
    )
    assert notes.loc["Dépôt sauvage devant le local vélos", "author"] == "[nom]"
    assert footprint.buffer(1e-6).contains(clicked.geometry)  # where it was clicked, inside
    assert notes.loc["Dépôt sauvage devant le local vélos"].geometry.geom_type == "Point"
    polygon = notes.loc["Aire de jeux à sécuriser"].geometry
    assert polygon.geom_type == "Polygon"
    assert len(polygon.exterior.coords) == 4
    assert notes.loc["Aire de jeux à sécuriser", "status"] == "clos"
    linked = link_annotations(read.notes, buildings, zones)
    mine = linked[linked["text"] == TEXT].iloc[0]
    assert list(mine["building_ids"]) == [target]
    assert not linked["is_orphaned"].any()
    assert "Z1" in linked[linked["text"] == "Rondes de nuit à renforcer"]["zone_ids"].iloc[0]

    # The next map shows the note in its notes layer, as text; a planner closes it there.
    second = _site_map(buildings, zones, target, notes=linked)
    second_path = _write_map(second, tmp_path / "bondy_next.html")
    note_id = str(mine["note_id"])
    wait = "() => document.querySelectorAll('path.vigie-note').length === 4"
    with offline_page(second_path, browser=browser, wait_js=wait) as live:
        page = live.page
        map_var = second.get_name()
        props = page.evaluate(
            f"""() => {{ let found = null;
                  {map_var}.eachLayer(l => {{ const p = l.feature && l.feature.properties;
                    if (p && p.note_id === {json.dumps(note_id)}) found = p; }});
                  return found; }}"""
        )
        assert props is not None
        assert props["text"] == TEXT
        assert props["status"] == "en cours"
        point = mine.geometry
        page.mouse.click(*_pixel(page, map_var, point.x, point.y))
        page.wait_for_selector(".leaflet-popup-content .vigie-note-text", timeout=5000)
        assert page.inner_text(".leaflet-popup-content .vigie-note-text") == TEXT
        assert page.locator(".leaflet-popup-content .vigie-note-text b").count() == 0
        # Annotation mode on the same note: the form is pre-filled, the new status exported.
        page.click(".leaflet-popup-close-button")
        page.wait_for_selector(".leaflet-popup", state="detached")  # it fades out
        page.click(".vigie-annot-toggle button")
        page.mouse.click(*_pixel(page, map_var, point.x, point.y))
        page.wait_for_selector("#vigie-annot-text", timeout=5000)
        assert page.input_value("#vigie-annot-text") == TEXT
        assert page.input_value("#vigie-annot-author") == "[nom]"  # the map never held it
        page.select_option("#vigie-annot-status", "clos")
        page.click(".vigie-annot-save")
        with page.expect_download() as info:
            page.click(".vigie-annot-export")
        info.value.save_as(folder / "suite.geojson")
        assert live.console_errors == []
        assert live.page_errors == []
        assert live.external_requests == []
    again = read_annotations(folder, site_id="bondy", tags=TAGS)
    assert len(again.notes) == 4
    closed = again.notes.set_index("note_id").loc[note_id]
    assert closed["status"] == "clos"
    assert closed["text"] == TEXT
    assert closed["created_at"] == clicked["created_at"]
    assert closed["updated_at"] > closed["created_at"]
    assert any("conservée" in m and note_id in m for m in again.duplicates)


def test_annotation_mode_degrades_without_leaflet_draw(
    site: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, str], browser: Any, tmp_path: Path
) -> None:
    from branca.element import Element
    from browser import offline_page

    from pipelines.maps.notes import annotation_ui_html

    buildings, _, target = site
    centre = buildings.set_index("building_id").geometry[target].representative_point()
    m = make_map(location=[centre.y, centre.x], zoom_start=18)
    folium.GeoJson(json.loads(buildings[["building_id", "geometry"]].to_json(drop_id=True))).add_to(
        m
    )
    html = annotation_ui_html(
        site_id="bondy", tags=TAGS, statuses=list(STATUSES), map_var=m.get_name()
    )
    m.get_root().html.add_child(Element(html))
    path = _write_map(m, tmp_path / "sans_dessin.html")
    with offline_page(path, browser=browser) as live:
        page = live.page
        page.click(".vigie-annot-toggle button")
        assert "Leaflet.draw n'est pas chargé" in page.inner_text(".vigie-annot-help")
        assert page.locator(".leaflet-draw").count() == 0
        page.mouse.click(*_pixel(page, m.get_name(), centre.x, centre.y))
        _fill_and_save(page, "Hall à repeindre", "traité", "ouvert", author="M. Diallo")
        assert page.locator(".vigie-annot-item").count() == 1
        assert live.console_errors == []
        assert live.page_errors == []


def test_notes_layer_marks_orphans(site: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, str]) -> None:
    """A note whose building left OSM is drawn grey, with the reason in its popup (the
    map's notes layer, :func:`pipelines.maps.layers.annotations_block`; map.js dashes it)."""
    buildings, zones, target = site
    point = buildings.set_index("building_id").geometry[target].representative_point()
    notes = gpd.GeoDataFrame(
        {
            "note_id": ["o1"],
            "site": ["bondy"],
            "author": ["A"],
            "text": ["Appentis"],
            "tag": ["traité"],
            "status": ["ouvert"],
            "created_at": pd.to_datetime(["2024-06-01"], utc=True),
            "updated_at": pd.to_datetime([None], utc=True),
            "building_id": ["way/1"],
            "zone_id": [None],
        },
        geometry=[shapely.Point(point.x, point.y)],
        crs=WGS84,
    )
    linked = link_annotations(notes, buildings, zones)
    layer = annotations_block(notes_table(linked), gone_building_flag=GONE_BUILDING_FLAG)
    assert layer is not None
    assert layer["name"] == "Notes des urbanistes (1)"
    (feature,) = layer["geojson"]["features"]
    assert "Note orpheline : bâtiment way/1 absent" in feature["properties"]["popup_html"]
    assert feature["properties"]["is_orphaned"] is True
    assert (layer["orphan"], layer["n_orphans"]) == (ORPHAN_COLOUR, 1)


def test_session_drops_notes_the_map_already_shows(
    site: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, str], browser: Any, tmp_path: Path
) -> None:
    """Notes kept in the browser between sessions leave the session list once the refreshed
    map shows them at the same (or a newer) version; newer edits stay to be exported."""
    from browser import offline_page

    buildings, zones, target = site
    point = buildings.set_index("building_id").geometry[target].representative_point()
    created = "2024-06-03T09:15:00.597Z"
    notes = gpd.GeoDataFrame(
        {
            "note_id": ["on-map", "edited"],
            "site": ["bondy", "bondy"],
            "author": ["A", "A"],
            "text": ["Déjà intégrée", "Modifiée depuis"],
            "tag": ["traité", "traité"],
            "status": ["ouvert", "ouvert"],
            "created_at": pd.to_datetime([created, created], utc=True),
            "updated_at": pd.to_datetime([None, None], utc=True),
            "building_id": [target, target],
            "zone_id": [None, None],
        },
        geometry=[point, point],
        crs=WGS84,
    )
    m = _site_map(buildings, zones, target, notes=link_annotations(notes, buildings, zones))
    path = _write_map(m, tmp_path / "bondy.html")

    def stored(note_id: str, updated_at: str | None) -> dict[str, Any]:
        props = {
            "note_id": note_id,
            "site": "bondy",
            "author": "A",
            "text": note_id,
            "tag": "traité",
            "status": "clos",
            "created_at": created,
            "updated_at": updated_at,
        }
        return {
            "type": "Feature",
            "properties": props,
            "geometry": {"type": "Point", "coordinates": [point.x, point.y]},
        }

    session = [
        stored("on-map", None),
        stored("edited", "2024-06-10T08:00:00.000Z"),
        stored("new-one", None),
    ]
    with offline_page(path, browser=browser) as live:
        page = live.page
        page.evaluate(
            "s => localStorage.setItem('vigie-annotations:bondy', s)", json.dumps(session)
        )
        page.reload()
        page.wait_for_selector(".vigie-annot-toggle button")
        page.click(".vigie-annot-toggle button")
        kept = page.eval_on_selector_all(
            ".vigie-annot-item", "els => els.map(e => e.dataset.noteId)"
        )
        assert kept == ["edited", "new-one"]
        assert live.console_errors == []
