"""Offline maps: pinned assets inlined, nothing fetched, and the map drawn in Chromium."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import branca.colormap
import folium
import geopandas as gpd
import pytest
from browser import offline_page, open_offline, require_chromium, require_node_modules
from folium.plugins import Draw, MarkerCluster

from pipelines.crs import LAMBERT93
from pipelines.maps.assets import (
    NODE_MODULES,
    PROJECT_ROOT,
    MissingAssetsError,
    OfflineAssetError,
    configure_offline_map,
    inline_assets,
    make_map,
    resolve_cdn_url,
)
from pipelines.osm.buildings import read_osm_buildings

BONDY_OSM = PROJECT_ROOT / "data" / "raw" / "bondy" / "bondy_nord.osm"
LOCK = json.loads((PROJECT_ROOT / "package-lock.json").read_text(encoding="utf-8"))
PINNED = {
    key.removeprefix("node_modules/"): meta["version"]
    for key, meta in LOCK["packages"].items()
    if key.startswith("node_modules/")
}


class _Refs(HTMLParser):
    """URL-bearing attributes and CSS text of a page (the test's own, simple reading)."""

    def __init__(self) -> None:
        super().__init__()
        self.attrs: list[tuple[str, str, str]] = []
        self.css: list[str] = []
        self._style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.attrs.append((tag, name, value))
            if name == "style" and value:
                self.css.append(value)
        self._style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._style = False

    def handle_data(self, data: str) -> None:
        if self._style:
            self.css.append(data)


def _refs(html: str) -> _Refs:
    parser = _Refs()
    parser.feed(html)
    return parser


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


@pytest.fixture(scope="module")
def two_buildings() -> gpd.GeoDataFrame:
    """The largest building of Bondy Nord and its nearest neighbour (EPSG:4326)."""
    buildings = read_osm_buildings(BONDY_OSM)
    metric = buildings.to_crs(LAMBERT93)
    largest = metric.area.idxmax()
    distance = metric.distance(metric.geometry[largest]).drop(largest)
    return buildings.loc[[largest, distance.idxmin()]]


def _build_map(buildings: gpd.GeoDataFrame) -> folium.Map:
    west, south, east, north = buildings.total_bounds
    # zoom 18: the four circles below (14 m apart) are clustered; zoomed in they split
    m = make_map(location=[(south + north) / 2, (west + east) / 2], zoom_start=18)
    layer = folium.FeatureGroup(name="Bâtiments").add_to(m)
    folium.GeoJson(
        buildings[["building_id", "building_type", "geometry"]],
        style_function=lambda _: {"color": "#b2182b", "weight": 2, "fillOpacity": 0.5},
        tooltip=folium.GeoJsonTooltip(["building_id", "building_type"]),
        popup=folium.GeoJsonPopup(["building_id"]),
    ).add_to(layer)
    cluster = MarkerCluster(name="Signalements").add_to(m)
    centroid = buildings.to_crs(LAMBERT93).centroid.to_crs(buildings.crs).iloc[0]
    for k in range(4):
        folium.CircleMarker(
            [centroid.y + 0.00012 * k, centroid.x - 0.00006 * k], radius=6, popup=f"n° {k}"
        ).add_to(cluster)
    folium.Marker([north, west], popup=folium.Popup("Gardien")).add_to(m)
    legend = branca.colormap.LinearColormap(
        ["#fee08b", "#b2182b"], vmin=0, vmax=10, caption="Signalements pour 100 logements"
    )
    legend.add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    return m


@pytest.fixture(scope="module")
def raw_html(two_buildings: gpd.GeoDataFrame) -> str:
    return _build_map(two_buildings).get_root().render()


@pytest.fixture(scope="module")
def offline_html(raw_html: str) -> str:
    require_node_modules()
    return inline_assets(raw_html)


@pytest.fixture(scope="module")
def offline_file(offline_html: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("offline") / "carte.html"
    path.write_text(offline_html, encoding="utf-8")
    return path


# --- configure_offline_map ----------------------------------------------------------


def test_configured_map_asks_only_for_leaflet_jquery_and_used_plugins(raw_html: str) -> None:
    urls = [value for tag, _, value in _refs(raw_html).attrs if tag in ("script", "link")]
    assert len(urls) == 7  # leaflet js+css, jquery, markercluster js+2 css, d3
    for banned in ("bootstrap", "fontawesome", "awesome-markers", "glyphicons"):
        assert not any(banned in url.lower() for url in urls), banned


def test_configure_leaves_folium_defaults_for_other_maps() -> None:
    configure_offline_map(folium.Map(tiles=None))
    assert [name for name, _ in folium.Map(tiles=None).default_js] == [
        "leaflet",
        "jquery",
        "bootstrap",
        "awesome_markers",
    ]


def test_web_tiles_are_refused() -> None:
    with pytest.raises(OfflineAssetError, match="tiles=None"):
        configure_offline_map(folium.Map(tiles="OpenStreetMap"))


# --- resolve_cdn_url ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kind", "expected"),
    [
        ("https://cdn.example/npm/leaflet@1.0.0/dist/leaflet.js", "js", "leaflet/dist/leaflet.js"),
        ("//cdn.example/npm/leaflet/dist/leaflet.css", "css", "leaflet/dist/leaflet.css"),
        (
            "https://cdn.example/ajax/libs/leaflet.draw/0.4.2/leaflet.draw.css",
            "css",
            "leaflet-draw/dist/leaflet.draw.css",
        ),
        ("https://cdn.example/jquery-3.6.0.min.js", "js", "jquery/dist/jquery.min.js"),
        ("https://cdn.example/d3@3.5.5/d3.js", "js", "d3/d3.min.js"),
    ],
)
def test_cdn_url_maps_to_pinned_file_whatever_its_version(
    url: str, kind: str, expected: str
) -> None:
    assert resolve_cdn_url(url, kind=kind) == expected


def test_every_folium_url_we_rely_on_resolves_to_an_installed_file() -> None:
    require_node_modules()
    urls = [
        *(("js", u) for n, u in folium.Map.default_js if n in ("leaflet", "jquery")),
        *(("css", u) for n, u in folium.Map.default_css if n == "leaflet_css"),
        *(("js", u) for _, u in MarkerCluster.default_js),
        *(("css", u) for _, u in MarkerCluster.default_css),
        *(("js", u) for _, u in Draw.default_js),
        *(("css", u) for _, u in Draw.default_css),
    ]
    assert len(urls) == 8
    for kind, url in urls:
        assert (NODE_MODULES / resolve_cdn_url(url, kind=kind)).is_file(), url


def test_css_for_a_js_url_is_not_confused() -> None:
    with pytest.raises(OfflineAssetError):
        resolve_cdn_url("https://cdn.example/npm/leaflet@1.9.4/dist/leaflet.js", kind="css")


# --- inline_assets --------------------------------------------------------------------


def test_inlined_map_has_no_network_reference(offline_html: str) -> None:
    refs = _refs(offline_html)
    external = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)
    fetched = [v for tag, _, v in refs.attrs if tag != "a" and external.match(v)]
    assert fetched == []
    css_urls = [m[1] for css in refs.css for m in re.finditer(r"url\(\s*['\"]?([^'\")]*)", css)]
    assert css_urls  # leaflet.css has images: they must be there, embedded
    assert [u for u in css_urls if not u.startswith(("data:", "#"))] == []
    assert not re.search(r"<script[^>]*\bsrc=", offline_html)
    assert not re.search(r"<link[^>]*stylesheet", offline_html)


def test_pinned_versions_from_the_lockfile_are_inlined(raw_html: str, offline_html: str) -> None:
    assert "leaflet@1.9.3" in raw_html  # folium asks for 1.9.3 ...
    assert PINNED["leaflet"] == "1.9.4"
    assert "Leaflet 1.9.4" in offline_html  # ... the pinned file's own banner wins
    for package in ("leaflet", "jquery", "leaflet.markercluster", "d3"):
        assert f"/* {package}@{PINNED[package]} " in offline_html
    assert offline_html.count("/* leaflet@") == 2  # leaflet.js and leaflet.css, once each


def test_css_images_and_default_marker_are_embedded(offline_html: str) -> None:
    images = NODE_MODULES / "leaflet" / "dist" / "images"
    for name in ("layers.png", "layers-2x.png", "marker-icon.png", "marker-shadow.png"):
        assert _b64(images / name) in offline_html, name
    assert "images/layers.png" not in offline_html
    assert 'L.Icon.Default.imagePath = ""' in offline_html


def test_offline_map_stays_small(offline_html: str) -> None:
    assert len(offline_html.encode("utf-8")) < 1_500_000


@pytest.mark.parametrize(
    "snippet",
    [
        '<script src="https://cdn.example/npm/left-pad@1.3.0/index.js"></script>',
        '<link rel="stylesheet" href="https://cdn.example/npm/bootstrap@5.2.2/dist/css/b.css"/>',
        '<img src="https://tile.example/1/2/3.png">',
        '<div style="background: url(//img.example/x.png)"></div>',
        '<script>var t = L.tileLayer("https://tile.example/{z}/{x}/{y}.png", {});</script>',
    ],
)
def test_unknown_network_reference_raises_with_its_url(snippet: str) -> None:
    require_node_modules()
    url = re.search(r"((?:https?:)?//[^\"')]+)", snippet)
    assert url is not None
    with pytest.raises(OfflineAssetError, match=re.escape(url[1])):
        inline_assets(f"<html><head>{snippet}</head><body></body></html>")


def test_missing_node_modules_says_how_to_install(tmp_path: Path, raw_html: str) -> None:
    with pytest.raises(MissingAssetsError, match=r"npm ci"):
        inline_assets(raw_html, node_modules=tmp_path / "node_modules")


# --- headless Chromium ----------------------------------------------------------------


@pytest.mark.browser
def test_offline_map_draws_in_chromium_without_network(
    offline_file: Path, browser: Any, tmp_path: Path
) -> None:
    shot = tmp_path / "carte.png"
    result = open_offline(offline_file, screenshot=shot, browser=browser)
    assert result.external_requests == []
    assert result.console_errors == []
    assert result.page_errors == []
    assert result.n_paths >= 2  # the two building polygons
    assert result.n_markers >= 2  # the cluster bubble and the plain marker
    assert shot.stat().st_size > 10_000
    assert 0 < result.load_ms < 15_000


@pytest.mark.browser
def test_layers_toggle_and_widgets_work_offline(offline_file: Path, browser: Any) -> None:
    with offline_page(offline_file, browser=browser) as session:
        page = session.page
        assert session.count("svg#legend rect") > 0  # d3 drew the branca legend
        assert session.count(".marker-cluster") == 1  # the four circle markers, clustered
        icon_src = page.locator("img.leaflet-marker-icon").first.get_attribute("src")
        assert icon_src.startswith("data:image/png;base64,")
        page.locator(".leaflet-marker-icon:not(.marker-cluster)").click()
        page.wait_for_selector(".leaflet-popup-content:has-text('Gardien')", timeout=5000)
        assert session.count("path.leaflet-interactive") == 2  # the circles are clustered
        page.get_by_text("Bâtiments").click()
        assert session.count("path.leaflet-interactive") == 0
        page.locator(".marker-cluster").click()  # zooms in: the four circles appear
        page.wait_for_function(
            "() => document.querySelectorAll('path.leaflet-interactive').length === 4",
            timeout=5000,
        )
        assert session.external_requests == []
        assert session.page_errors == []
        assert session.console_errors == []


@pytest.mark.browser
def test_draw_toolbar_sprites_are_embedded(browser: Any, tmp_path: Path) -> None:
    require_node_modules()
    m = make_map(location=[48.91, 2.48], zoom_start=15)
    Draw().add_to(m)
    path = tmp_path / "draw.html"
    path.write_text(inline_assets(m.get_root().render()), encoding="utf-8")
    toolbar = "document.querySelector('.leaflet-draw-toolbar a')"
    result = open_offline(path, wait_js=f"() => {toolbar} !== null", browser=browser)
    assert result.clean, result
    with offline_page(path, wait_js=f"() => {toolbar} !== null", browser=browser) as session:
        image = session.page.evaluate(f"getComputedStyle({toolbar}).backgroundImage")
    assert "data:image/svg+xml;base64," in image


@pytest.mark.browser
def test_harness_catches_a_map_that_needs_the_network(raw_html: str, tmp_path: Path) -> None:
    require_chromium()
    path = tmp_path / "cdn.html"
    path.write_text(raw_html, encoding="utf-8")
    result = open_offline(path, wait_js="() => document.readyState === 'complete'")
    assert any("leaflet" in url for url in result.external_requests)
    assert result.page_errors  # L is not defined
    assert not result.clean
