"""Building footprints from every OSM source: XML, PBF (pyosmium) and Overpass (recorded).

All offline: the PBF files are converted from the real XML extracts inside the tests, and
the Overpass answer is rebuilt from ``bondy_nord.osm`` and served by a patched
``requests.post``.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import osmium
import osmnx as ox
import pandas as pd
import pytest
import requests
import shapely

from pipelines.crs import LAMBERT93
from pipelines.errors import ConfigError, InputError
from pipelines.osm import sources as _osm_sources
from pipelines.osm.buildings import read_osm_bounds, read_osm_buildings
from pipelines.osm.sources import (
    BUILDING_COLUMNS,
    read_buildings,
    read_osm_buildings_online,
    read_osm_file,
)

ROOT = Path(__file__).resolve().parents[1]
PARIS10 = ROOT / "data/raw/paris10/paris10.osm"
BONDY = ROOT / "data/raw/bondy/bondy_nord.osm"
CASES = ROOT / "tests/data/osm/buildings_cases.osm"

#: A small part of Bondy nord (west, south, east, north), degrees.
BONDY_BBOX = (2.4820, 48.9085, 2.4860, 48.9110)

TAG_COLUMNS = [c for c in BUILDING_COLUMNS if c not in ("building_id", "geometry")]


def to_pbf(src: Path, dst: Path) -> Path:
    """Copy every node, way and relation of an OSM XML file into a PBF file (pyosmium).

    The header (with the ``<bounds>`` box) is copied too.
    """
    processor = osmium.FileProcessor(str(src))
    writer = osmium.SimpleWriter(str(dst), overwrite=True, header=processor.header)
    try:
        for obj in processor:
            writer.add(obj)
    finally:
        writer.close()
    return dst


@pytest.fixture(scope="module")
def paris_xml() -> gpd.GeoDataFrame:
    return read_osm_buildings(PARIS10)


@pytest.fixture(scope="module")
def paris_pbf(tmp_path_factory: pytest.TempPathFactory) -> gpd.GeoDataFrame:
    pbf = to_pbf(PARIS10, tmp_path_factory.mktemp("pbf") / "paris10.osm.pbf")
    return read_osm_buildings(pbf)


def test_pbf_reads_the_same_buildings_as_xml_on_paris10(paris_xml, paris_pbf):
    assert paris_pbf.crs.to_epsg() == 4326
    assert list(paris_pbf.columns) == BUILDING_COLUMNS
    assert paris_pbf["building_id"].is_unique
    assert set(paris_pbf.geometry.geom_type) <= {"Polygon", "MultiPolygon"}
    # multipolygon relations are in the extract, so osmium's assembly is exercised
    kinds = paris_pbf["building_id"].str.split("/").str[0].value_counts()
    assert kinds.get("relation", 0) > 10
    assert kinds.get("way", 0) > 100
    # osmnx and osmium assemble the same buildings
    assert list(paris_pbf["building_id"]) == list(paris_xml["building_id"])
    pd.testing.assert_frame_equal(
        pd.DataFrame(paris_pbf[TAG_COLUMNS]), pd.DataFrame(paris_xml[TAG_COLUMNS])
    )
    area_pbf = paris_pbf.geometry.to_crs(LAMBERT93).area
    area_xml = paris_xml.geometry.to_crs(LAMBERT93).area
    assert (area_xml > 0).all()
    assert ((area_pbf - area_xml).abs() / area_xml).max() < 1e-3
    # not only the same area: the same place
    sym = paris_pbf.geometry.to_crs(LAMBERT93).symmetric_difference(
        paris_xml.geometry.to_crs(LAMBERT93)
    )
    assert (sym.area / area_xml).max() < 1e-3


@pytest.mark.parametrize("kind", ["xml", "pbf"])
def test_hand_made_cases_have_known_answers(kind, tmp_path):
    path = CASES if kind == "xml" else to_pbf(CASES, tmp_path / "cases.osm.pbf")
    got = read_osm_file(path)
    # relation/300's untagged outer way/101 comes out once, as the relation; way/103 has
    # its own building tag so it is a building of its own beside relation/301; the
    # landuse way/104 and the unclosed way/105 are not footprints.
    assert list(got["building_id"]) == ["relation/300", "relation/301", "way/100", "way/103"]
    row = got.set_index("building_id")
    assert row.loc["way/100", "building_type"] == "apartments"
    assert row.loc["way/100", "levels"] == "5"
    assert row.loc["way/100", "flats"] == "40"
    assert row.loc["way/100", "addr_street"] == "Rue Roger Salengro"
    assert row.loc["relation/300", "name"] == "Résidence de la Cour"
    assert row.loc["relation/300", "operator"] == "Seine-Saint-Denis Habitat"
    assert pd.isna(row.loc["relation/301", "name"])
    area = got.set_index("building_id").geometry.to_crs(LAMBERT93).area
    # the relation is a 0.002° square with a 0.001° hole: three 0.001° squares
    assert area["relation/300"] / area["way/100"] == pytest.approx(3.0, rel=1e-3)
    assert len(row.loc["relation/300", "geometry"].interiors) == 1
    # a 0.001° x 0.001° square at 48.9° N: 111.2 km x 73.1 km per degree, about 8,150 m²
    assert area["way/100"] == pytest.approx(8150, rel=0.01)


def test_bounds_of_every_source(tmp_path):
    pbf = to_pbf(CASES, tmp_path / "cases.osm.pbf")
    assert read_osm_bounds(pbf) == read_osm_bounds(CASES) == (2.48, 48.90, 2.486, 48.902)
    # without a header box, the extent of the nodes (here way/100's four corners)
    bare = tmp_path / "bare.osm.pbf"
    writer = osmium.SimpleWriter(str(bare), overwrite=True)
    for obj in osmium.FileProcessor(str(CASES), osmium.osm.NODE):
        if obj.id <= 4:
            writer.add(obj)
    writer.close()
    assert read_osm_bounds(bare) == pytest.approx((2.48, 48.90, 2.481, 48.901))
    assert read_osm_bounds("overpass:bbox=2.47,48.90,2.49,48.91") == (2.47, 48.90, 2.49, 48.91)
    triangle = "overpass:polygon=POLYGON ((2.47 48.90, 2.49 48.90, 2.48 48.92, 2.47 48.90))"
    assert read_osm_bounds(triangle) == (2.47, 48.90, 2.49, 48.92)
    with pytest.raises(ConfigError, match="study_area_bbox"):
        read_osm_bounds("overpass:place=Bondy, France")


def test_an_outline_tagged_building_no_is_not_a_building(tmp_path):
    # OSM's « building=no » says the outline is not a building; it was read as one (its
    # type « no »), placed reports, counted dwellings and Gi* like any other.
    text = BONDY.read_text(encoding="utf-8")
    way = '<way id="84163054" '
    start = text.index(way)
    end = text.index("</way>", start)
    tag = '<tag k="building" v="yes"/>'
    assert tag in text[start:end]
    edited = text[:start] + text[start:end].replace(tag, '<tag k="building" v="no"/>') + text[end:]
    path = tmp_path / "bondy_building_no.osm"
    path.write_text(edited, encoding="utf-8")
    got, whole = read_osm_file(path), read_osm_file(BONDY)
    assert "way/84163054" in set(whole["building_id"])
    assert list(got["building_id"]) == [b for b in whole["building_id"] if b != "way/84163054"]


def test_unknown_suffix_and_missing_file_are_input_errors(tmp_path):
    other = tmp_path / "buildings.txt"
    other.write_text("id;building\n1;yes\n")
    with pytest.raises(InputError, match="format OSM inconnu"):
        read_osm_file(other)
    with pytest.raises(InputError, match="introuvable"):
        read_osm_buildings(tmp_path / "absent.osm.pbf")
    broken = tmp_path / "broken.osm.pbf"
    broken.write_bytes(b"not a pbf at all")
    with pytest.raises(InputError, match="PBF"):
        read_osm_file(broken)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("bondy.geojson", "du JSON (un GeoJSON des bâtiments ?)"),
        ("bondy.osm", "du JSON (un GeoJSON des bâtiments ?)"),
        ("bondy.gpkg", "une base SQLite (un GeoPackage ?)"),
        ("bondy_html.osm", "une page web (HTML)"),
    ],
)
def test_buildings_in_another_format_are_named_so(tmp_path, name, kind):
    # Bondy's buildings as GeoJSON or GeoPackage, or a web page saved as the extract:
    # « format OSM inconnu », or osmium's words when named .osm (« XML parsing error at
    # line 1, column 0: not well-formed (invalid token) », « Unknown top-level element:
    # html »).
    path = tmp_path / name
    if "html" in name:
        path.write_text("<!DOCTYPE html>\n<html><body>Trop de requêtes</body></html>\n")
    else:
        driver = "GPKG" if name.endswith(".gpkg") else "GeoJSON"
        read_osm_file(BONDY).head(20).to_file(path, driver=driver)
    with pytest.raises(InputError, match="pas un extrait OpenStreetMap") as caught:
        read_osm_file(path)
    assert f"ce fichier est {kind}" in str(caught.value)


# --- Overpass, with a recorded answer ------------------------------------------------


def overpass_answer(src: Path, bbox: tuple[float, float, float, float]) -> dict:
    """The Overpass JSON (``out body`` + recursed nodes) for the buildings near ``bbox``.

    Like Overpass, it returns a little more than the box (every building within 100 m of
    it, with all members and nodes): osmnx must then keep only those that intersect it.
    """
    nodes: dict[int, dict] = {}
    ways: dict[int, dict] = {}
    relations: dict[int, dict] = {}
    for obj in osmium.FileProcessor(str(src)):
        tags = {t.k: t.v for t in obj.tags}
        if isinstance(obj, osmium.osm.Node):
            nodes[obj.id] = {"type": "node", "id": obj.id, "lat": obj.lat, "lon": obj.lon}
        elif isinstance(obj, osmium.osm.Way):
            ways[obj.id] = {"type": "way", "id": obj.id, "nodes": [n.ref for n in obj.nodes]}
            ways[obj.id] |= {"tags": tags} if tags else {}
        elif isinstance(obj, osmium.osm.Relation):
            members = [{"type": m.type, "ref": m.ref, "role": m.role} for m in obj.members]
            relations[obj.id] = {"type": "relation", "id": obj.id, "members": members}
            relations[obj.id]["tags"] = tags
    for rel in relations.values():
        for m in rel["members"]:
            m["type"] = {"n": "node", "w": "way", "r": "relation"}[m["type"]]
    near = shapely.box(*bbox).buffer(0.0013)

    def way_geom(way_id: int) -> shapely.Geometry:
        return shapely.linestrings(
            [(nodes[n]["lon"], nodes[n]["lat"]) for n in ways[way_id]["nodes"]]
        )

    chosen_rel = [
        r
        for r in relations.values()
        if "building" in r["tags"]
        and any(
            m["type"] == "way" and m["ref"] in ways and way_geom(m["ref"]).intersects(near)
            for m in r["members"]
        )
    ]
    chosen_way_ids = {
        w["id"]
        for w in ways.values()
        if "building" in w.get("tags", {}) and way_geom(w["id"]).intersects(near)
    }
    chosen_way_ids |= {
        m["ref"]
        for r in chosen_rel
        for m in r["members"]
        if m["type"] == "way" and m["ref"] in ways
    }
    node_ids = {n for w in chosen_way_ids for n in ways[w]["nodes"]}
    elements = (
        [nodes[n] for n in sorted(node_ids)]
        + [ways[w] for w in sorted(chosen_way_ids)]
        + sorted(chosen_rel, key=lambda r: r["id"])
    )
    return {
        "version": 0.6,
        "generator": f"Overpass API (recorded from {src.name})",
        "osm3s": {"copyright": "The data included in this document is from www.openstreetmap.org."},
        "elements": elements,
    }


@pytest.fixture
def fake_overpass(monkeypatch: pytest.MonkeyPatch):
    """Serve the recorded answer to osmnx's POST and count the calls; no network at all."""
    body = json.dumps(overpass_answer(BONDY, BONDY_BBOX)).encode()
    calls: list[dict] = []

    def post(url, data=None, **kwargs):
        calls.append(dict(data or {}))
        assert url.endswith("/interpreter")
        assert "way['building'](poly:'48.908500 " in data["data"]
        response = requests.Response()
        response.status_code = 200
        response._content = body
        response.url = url
        return response

    def no_network(*args, **kwargs):
        raise AssertionError("the test tried to reach the network")

    monkeypatch.setattr(requests, "post", post)
    monkeypatch.setattr(requests, "get", no_network)
    monkeypatch.setattr(ox._http, "_config_dns", lambda url: None)  # DNS lookup
    monkeypatch.setattr(ox.settings, "overpass_rate_limit", False)  # GET /status
    return calls


@pytest.fixture(scope="module")
def bondy_offline() -> gpd.GeoDataFrame:
    return read_osm_file(BONDY)


def test_overpass_bbox_matches_offline_reader_and_is_cached(fake_overpass, bondy_offline, tmp_path):
    cache = tmp_path / "osmnx"
    saved_cache = ox.settings.use_cache, ox.settings.cache_folder
    online = read_osm_buildings_online(bbox=BONDY_BBOX, cache_dir=cache)
    assert len(fake_overpass) == 1
    # osmnx's settings are restored after the call
    assert (ox.settings.use_cache, ox.settings.cache_folder) == saved_cache

    expected = bondy_offline[bondy_offline.intersects(shapely.box(*BONDY_BBOX))]
    expected = expected.reset_index(drop=True)
    assert len(expected) >= 20
    assert list(online.columns) == BUILDING_COLUMNS
    assert online.crs.to_epsg() == 4326
    assert list(online["building_id"]) == list(expected["building_id"])
    pd.testing.assert_frame_equal(
        pd.DataFrame(online[TAG_COLUMNS]), pd.DataFrame(expected[TAG_COLUMNS])
    )
    assert online.geometry.geom_equals_exact(expected.geometry, tolerance=1e-9).all()

    # the answer was written to the cache folder, and a second run reads it from there
    assert len(list(cache.glob("*.json"))) == 1
    again = read_osm_buildings_online(bbox=BONDY_BBOX, cache_dir=cache)
    assert len(fake_overpass) == 1
    assert list(again["building_id"]) == list(online["building_id"])


def test_read_buildings_dispatches_on_the_setting(fake_overpass, bondy_offline, tmp_path):
    spec = "overpass:bbox=" + ",".join(str(v) for v in BONDY_BBOX)
    online = read_buildings(spec, cache_dir=tmp_path / "cache")
    assert len(fake_overpass) == 1
    assert set(online["building_id"]) < set(bondy_offline["building_id"])
    # the polygon osmnx makes of the bbox, vertex for vertex: the same query, so the
    # cache answers
    polygon = ox.utils_geo.bbox_to_poly(BONDY_BBOX).wkt
    by_polygon = read_buildings(f"overpass:polygon={polygon}", cache_dir=tmp_path / "cache")
    assert len(fake_overpass) == 1
    assert list(by_polygon["building_id"]) == list(online["building_id"])
    cases = read_buildings(CASES)
    assert len(cases) == 4


def test_overpass_with_no_building_is_an_empty_frame(monkeypatch, tmp_path):
    def post(url, data=None, **kwargs):
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps({"version": 0.6, "elements": []}).encode()
        response.url = url
        return response

    monkeypatch.setattr(requests, "post", post)
    monkeypatch.setattr(ox._http, "_config_dns", lambda url: None)
    monkeypatch.setattr(ox.settings, "overpass_rate_limit", False)
    empty = read_buildings("overpass:bbox=2.40,48.80,2.401,48.801", cache_dir=tmp_path)
    assert len(empty) == 0
    assert list(empty.columns) == BUILDING_COLUMNS
    assert empty.crs.to_epsg() == 4326


def test_overpass_place_is_geocoded_then_cached(
    fake_overpass, bondy_offline, monkeypatch, tmp_path
):
    """A place name: Nominatim (recorded: the study box as the place's boundary), then
    Overpass; the second run is answered by the cache for both."""
    boundary = shapely.geometry.mapping(ox.utils_geo.bbox_to_poly(BONDY_BBOX))
    west, south, east, north = BONDY_BBOX
    nominatim = [
        {
            "place_id": 1,
            "osm_type": "relation",
            "osm_id": 1,
            "lat": str((south + north) / 2),
            "lon": str((west + east) / 2),
            "class": "boundary",
            "type": "administrative",
            "importance": 0.5,
            "display_name": "Bondy nord (enregistré), France",
            "boundingbox": [str(south), str(north), str(west), str(east)],
            "geojson": boundary,
        }
    ]
    gets: list[str] = []

    def get(url, params=None, **kwargs):
        gets.append(url)
        assert "nominatim" in url
        assert params["q"] == "Bondy nord, France"
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps(nominatim).encode()
        response.url = url
        return response

    monkeypatch.setattr(requests, "get", get)
    cache = tmp_path / "cache"
    by_place = read_buildings("overpass:place=Bondy nord, France", cache_dir=cache)
    assert (len(gets), len(fake_overpass)) == (1, 1)
    by_bbox = bondy_offline[bondy_offline.intersects(shapely.box(*BONDY_BBOX))]
    assert list(by_place["building_id"]) == list(by_bbox["building_id"])
    again = read_osm_buildings_online(place="Bondy nord, France", cache_dir=cache)
    assert (len(gets), len(fake_overpass)) == (1, 1)
    assert list(again["building_id"]) == list(by_place["building_id"])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("overpass:bbox=2.49,48.90,2.47,48.91", "O < E"),
        ("overpass:bbox=2.47,48.90,2.49", "quatre nombres"),
        ("overpass:polygon=POINT (2.48 48.90)", "Polygon"),
        ("overpass:polygon=POLYGON ((2.48", "WKT"),
        ("overpass:town=Bondy", "inconnue"),
        ("overpass:", "attendu"),
    ],
)
def test_bad_overpass_settings_are_config_errors(spec, message):
    with pytest.raises(ConfigError, match=message):
        _osm_sources.parse_overpass_spec(spec)


def test_parse_overpass_spec_reads_each_kind():
    assert _osm_sources.parse_overpass_spec("overpass:place=Bondy, France") == {
        "place": "Bondy, France"
    }
    assert _osm_sources.parse_overpass_spec("overpass:bbox=2.47, 48.90, 2.49, 48.91") == {
        "bbox": (2.47, 48.90, 2.49, 48.91)
    }
    polygon = _osm_sources.parse_overpass_spec("overpass:polygon=POLYGON ((0 0, 1 0, 1 1, 0 0))")
    assert polygon["polygon"].area == pytest.approx(0.5)


def _bondy_moved(dst: Path, lon: float, lat: float, *, drop_astride: bool = False) -> Path:
    """Bondy's extract moved whole to (``lon``, ``lat``), longitudes wrapped into
    [-180, 180]; with ``drop_astride``, without the ways whose nodes fall on both sides
    of the 180th meridian."""
    import re
    import xml.etree.ElementTree as ET

    west, south, east, north = read_osm_bounds(BONDY)
    dlon, dlat = lon - (west + east) / 2, lat - (south + north) / 2

    def moved(match: re.Match[str]) -> str:
        x = float(match.group(2)) + dlon
        x = x - 360 if x > 180 else x + 360 if x < -180 else x
        return f'{match.group(1)}="{x:.7f}"'

    text = re.sub(r'(lon|minlon|maxlon)="([-0-9.]+)"', moved, BONDY.read_text("utf-8"))
    text = re.sub(
        r'(lat|minlat|maxlat)="([-0-9.]+)"',
        lambda m: f'{m.group(1)}="{float(m.group(2)) + dlat:.7f}"',
        text,
    )
    if drop_astride:
        root = ET.fromstring(text)
        sign = {n.get("id"): float(n.get("lon", 0)) > 0 for n in root.iter("node")}
        for way in root.findall("way"):
            sides = {sign[nd.get("ref")] for nd in way.iter("nd") if nd.get("ref") in sign}
            if len(sides) > 1:
                root.remove(way)
        text = ET.tostring(root, encoding="unicode")
    dst.write_text(text, encoding="utf-8")
    return dst


@pytest.mark.parametrize("astride", [True, False], ids=["astride", "both-sides"])
def test_an_extract_across_the_180th_meridian_is_refused(tmp_path, astride):
    # Its buildings went from -180° to 180°: a site « round the world », whose grids
    # filled the machine's memory at the hotspots stage (the process was killed).
    from pipelines.osm.buildings import build_buildings_report

    path = _bondy_moved(tmp_path / "fidji.osm", 180.0, -17.0, drop_astride=not astride)
    with pytest.raises(InputError, match="traverse le 180e méridien") as caught:
        build_buildings_report(path)
    assert ("à cheval" in str(caught.value)) is astride
