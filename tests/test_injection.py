"""No code runs from data (issue 13): template syntax planted in every text field that
reaches an output is shown as text, never evaluated, and never stops a stage.

branca's ``Element(text)`` and folium's ``MacroElement`` compile text as a Jinja2
template; a description ``{{ cycler.__init__.__globals__.os.mkdir(…) }}`` used to create a
folder when the map was built, and ``{#`` or ``{{ la nuit`` stopped the map stage. Here
each field gets two kinds of values:

- *runnable* ones, which a template engine would evaluate: ``{{7*7}}`` (49) and an
  ``os.mkdir`` payload that creates a marker folder, either quoted (the issue's) or
  without quotes (it survives ``html.escape``, which turns quotes into entities, so a
  page compiled as a template runs it rather than failing on ``&#x27;``);
- *breaking* ones, which a template engine cannot compile: ``{% raw %}``, ``{#``,
  ``{{ la nuit``.

The payloads avoid digit runs, e-mails and civilities, so that scrubbing personal data
leaves them as they are.
"""

from __future__ import annotations

import csv
import functools
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest

from pipelines.annotations import STATUSES
from pipelines.crs import LAMBERT93
from pipelines.maps import site as maps
from pipelines.maps.notes import add_annotation_ui
from pipelines.markup import RawHtml, SafeMacroElement, render_template
from pipelines.osm.buildings import read_osm_buildings
from tests.conftest import RAW, ROOT, make_secret, site_map_of

BONDY_OSM = RAW / "bondy" / "bondy_nord.osm"

#: A folder name that only a template engine evaluating ``lipsum.__name__`` would write.
UNQUOTED_MARKER = "generate_lorem_ipsum"
#: The folder the quoted payload would create (relative: in the test's working folder).
QUOTED_MARKER = "vigie_injection_marker"
SEVEN = "{{7*7}}"
BREAKING = "{% raw %} {# {{ la nuit"


def runnable(word: str) -> str:
    """A value a template engine would run, even after :func:`html.escape` (no quotes):
    ``word {{7*7}} {{ …os.mkdir(lipsum.__name__) }}``."""
    return f"{word} {SEVEN} {{{{ cycler.__init__.__globals__.os.mkdir(lipsum.__name__) }}}}"


def quoted(word: str, marker: Path | str = QUOTED_MARKER) -> str:
    """The issue's payload: ``word {{7*7}} {{ …os.mkdir('<marker>') }}``."""
    return f"{word} {SEVEN} {{{{ cycler.__init__.__globals__.os.mkdir('{marker}') }}}}"


def breaking(word: str) -> str:
    """A value a template engine cannot compile: ``word {% raw %} {# {{ la nuit``."""
    return f"{word} {BREAKING}"


PLANTS = (runnable, quoted, breaking)


def evaluated(word: str) -> str:
    """What ``runnable(word)`` would start with once evaluated."""
    return f"{word} 49"


def markers(*folders: Path) -> list[Path]:
    """The marker folders that exist in ``folders`` (none, unless code ran)."""
    return [
        folder / name
        for folder in folders
        for name in (UNQUOTED_MARKER, QUOTED_MARKER)
        if (folder / name).exists()
    ]


# --------------------------------------------------------------------------- unit tier
def test_render_template_escapes_values_and_never_compiles_them() -> None:
    html = render_template(
        "map_header.html", site_name=quoted("site") + " <b>", period=BREAKING,
        simulated=True, index_href="index.html",
    )  # fmt: skip
    assert f"site {SEVEN}" in html
    assert BREAKING in html
    assert "&lt;b&gt;" in html
    assert "<b>" not in html


def test_raw_html_is_never_compiled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    from branca.element import Figure

    figure = Figure()
    for plant in PLANTS:
        figure.html.add_child(RawHtml(plant("raw")))
    html = figure.render()
    for plant in PLANTS:
        assert plant("raw") in html
    assert markers(tmp_path) == []


def test_safe_macro_element_does_not_compile_its_output_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """folium's MacroElement wraps its macros' outputs in ``Element(output)``: a value
    passed as a variable was evaluated on that second pass."""
    monkeypatch.chdir(tmp_path)
    from branca.element import Figure
    from folium.template import Template

    class Echo(SafeMacroElement):
        _template = Template("{% macro html(this, kwargs) %}{{ this.text }}{% endmacro %}")

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    figure = Figure()
    for plant in PLANTS:
        figure.add_child(Echo(plant("macro")))
    html = figure.render()
    for plant in PLANTS:
        assert plant("macro") in html
    assert markers(tmp_path) == []


@pytest.fixture(scope="module")
def handmade() -> dict[str, Any]:
    from tests.test_maps import handmade_site

    return handmade_site()


def _planted_site(site: dict[str, Any], plant: Any) -> dict[str, Any]:
    """The hand-made site of test_maps with ``plant(word)`` in descriptions, an OSM name,
    an OSM street name, and the planners' notes' text, author and tag."""
    reports = site["reports"].copy()
    reports["description"] = reports["description"].astype(object)
    reports.loc[[0, 2], "description"] = plant("desc")
    buildings = site["buildings"].copy()
    ids = site["ids"]
    for column in ("name", "addr_street", "addr_housenumber"):
        buildings[column] = buildings[column].astype(object) if column in buildings else None
    buildings.loc[buildings["building_id"] == ids["A"], "name"] = plant("osmnom")
    is_c = buildings["building_id"] == ids["C"]
    buildings.loc[is_c, "name"] = None
    buildings.loc[is_c, "addr_street"] = plant("osmrue")
    notes = site["notes"].copy()
    for column, word in (("text", "notetexte"), ("author", "noteauteur"), ("tag", "notetag")):
        notes[column] = [plant(word)] * len(notes)
    return {**site, "reports": reports, "buildings": buildings, "notes": notes}


#: The fields the hand-made map shows.
MAP_WORDS = ("desc", "osmnom", "osmrue", "notetexte", "noteauteur", "notetag", "site", "source",
             "tag")  # fmt: skip


@pytest.mark.parametrize("plant", PLANTS)
def test_site_map_never_compiles_data(
    handmade: dict[str, Any], plant: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One kind of payload at a time: with unquoted runnable payloads only, a page
    compiled as a template would create the marker (not stop at a syntax error first)."""
    monkeypatch.chdir(tmp_path)
    site = _planted_site(handmade, plant)
    m = site_map_of(
        site["buildings"], site["reports"], site_name=plant("site"), simulated=True,
        attributions=["osm", plant("source")], chronic=site["chronic"], zones=site["zones"],
        annotations=site["notes"], site_id="bondy", annotation_tags=[plant("tag")],
    )  # fmt: skip
    html = maps.render_map(m)
    assert markers(tmp_path) == []
    for word in MAP_WORDS:
        assert plant(word) in html or f"{word} {SEVEN}" in html, word
        assert evaluated(word) not in html, word
    if plant is breaking:
        for word in MAP_WORDS:
            assert breaking(word) in html, word


@pytest.mark.parametrize("plant", PLANTS)
def test_annotation_mode_never_compiles_data(
    plant: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The annotation mode (the configuration's tags) added to a bare map. The notes
    layer (the planners' text, author and tag) is the site map's, written in its data
    block: test_site_map_never_compiles_data checks it with the same words."""
    monkeypatch.chdir(tmp_path)
    from pipelines.maps.assets import make_map

    m = make_map(location=[48.9, 2.48], zoom_start=16)
    add_annotation_ui(m, site_id="bondy", tags=[plant("tag")], statuses=list(STATUSES))
    html = m.get_root().render()
    assert markers(tmp_path) == []
    for word in ("tag",):
        assert f"{word} {SEVEN}" in html if plant is not breaking else plant(word) in html, word
        assert evaluated(word) not in html, word


def test_data_block_text_is_never_read_as_tags(handmade: dict[str, Any]) -> None:
    """A planner's note (kept raw in the data block, shown with textContent) that reads
    like a stylesheet link, a script or a tile layer is neither inlined nor refused."""
    site = _planted_site(handmade, breaking)
    text = (
        "<link rel='stylesheet' href='https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/"
        "leaflet.css'> L.tileLayer('https://tuiles.example/{z}/{x}/{y}.png') "
        "<script src='https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js'></script>"
    )
    notes = site["notes"]
    notes.iloc[0, notes.columns.get_loc("text")] = text
    m = site_map_of(
        site["buildings"], site["reports"], site_name="Essai", simulated=False,
        attributions=["osm"], zones=site["zones"], annotations=notes,
    )  # fmt: skip
    html = maps.render_map(m)
    block = re.search(r'<script type="application/json" id="vigie-data">(.*?)</script>', html, re.S)
    assert block is not None
    data = json.loads(block.group(1))
    texts = [f["properties"]["text"] for f in data["annotations"]["geojson"]["features"]]
    assert text in texts


# --------------------------------------------------------------------------- end to end
@dataclass(frozen=True)
class PlantedRun:
    """Where the planted run wrote, and from where it ran."""

    root: Path
    cwd: Path
    absolute_marker: Path
    processed: Path
    maps: Path


def _osm_targets() -> tuple[gpd.GeoDataFrame, list[str]]:
    """The twelve largest buildings of the Bondy extract without an OSM name or street."""
    b = read_osm_buildings(BONDY_OSM)
    plain = pd.Series(True, index=b.index)
    for column in ("name", "addr_street", "addr_housenumber"):
        if column in b:
            plain &= b[column].isna()
    area = b[plain].to_crs(LAMBERT93).area.sort_values(ascending=False, kind="stable")
    return b, [str(b.loc[i, "building_id"]) for i in area.index[:12]]


#: How each of the twelve buildings would be named on the map: three by their OSM name,
#: three by their OSM street, three by the landlord's code (the gazetteer's key), three by
#: the address the reports give (no known address: since the hostile run's B1, a
#: resident's text never names a building, they are named by their size); one of each
#: with each kind of payload.
NAMED_BY = ("osmnom",) * 3 + ("osmrue",) * 3 + ("batref",) * 3 + ("adr",) * 3


def _plant_osm(dst: Path, ids: list[str], plants: tuple[Any, ...]) -> None:
    """A copy of the Bondy extract with payloads in three names and three streets."""
    tree = ET.parse(BONDY_OSM)
    planted = {}
    for i, (bid, word) in enumerate(zip(ids, NAMED_BY, strict=True)):
        if word in ("osmnom", "osmrue"):
            planted[bid] = ("name" if word == "osmnom" else "addr:street", plants[i % 3](word))
    for way in tree.getroot().iter("way"):
        key = f"way/{way.get('id')}"
        if key in planted:
            tag, value = planted[key]
            ET.SubElement(way, "tag", {"k": tag, "v": value})
    tree.write(dst, encoding="utf-8", xml_declaration=True)


HEADER = [
    "N° ticket", "Date de création", "Catégorie", "Sous-catégorie", "Description", "Adresse",
    "Bâtiment", "Latitude", "Longitude", "Statut", "Date de clôture", "Canal",
    "Nom du demandeur", "Téléphone", "Logement",
]  # fmt: skip


def _reports_rows(
    points: gpd.GeoSeries, ids: list[str], plants: tuple[Any, ...]
) -> list[list[str]]:
    """Three to five reports a building over the first months of 2024; descriptions,
    sub-categories and every fourth category label planted, in turn with each payload."""
    rows = []
    n = 0
    for k, (bid, word) in enumerate(zip(ids, NAMED_BY, strict=True)):
        by_ref = plants[k % 3]("batref") if word == "batref" else ""
        address = plants[k % 3]("adr") if word == "adr" else ""
        at = points.loc[bid]
        for month in range(1, 4 + k % 3):
            n += 1
            plant = plants[n % 3]
            rows.append([
                f"DI-INJ-{n:05d}",
                f"{1 + k:02d}/{month:02d}/2024 10:{n % 60:02d}",
                plant("categ") if n % 4 == 0 else "Ascenseur",
                plant("souscat"),
                plant("desc"),
                address,
                by_ref,
                "" if by_ref else f"{at.y:.6f}".replace(".", ","),
                "" if by_ref else f"{at.x:.6f}".replace(".", ","),
                "En cours", "", "Téléphone", "", "", "",
            ])  # fmt: skip
    return rows


def _note(
    note_id: str, building: str, point: Any, text: str, author: str, tag: str
) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {
            "note_id": note_id,
            "site": "bondy",
            "author": author,
            "text": text,
            "tag": tag,
            "status": "ouvert",
            "created_at": "2024-06-03T09:15:00.000Z",
            "building_id": building,
        },
        "geometry": {"type": "Point", "coordinates": [point.x, point.y]},
    }


def _toml(value: Any) -> str:
    # JSON strings and lists are valid TOML basic strings and arrays.
    return json.dumps(value, ensure_ascii=False)


def write_planted_inputs(root: Path) -> tuple[Path, Path]:
    """Inputs with payloads in every text field; returns (configuration, absolute marker)."""
    absolute_marker = root / "marqueur_absolu"
    plants = (runnable, functools.partial(quoted, marker=absolute_marker), breaking)
    raw = root / "raw"
    raw.mkdir()
    buildings, ids = _osm_targets()
    points = buildings.set_index("building_id").geometry.representative_point()
    _plant_osm(raw / "bondy.osm", ids, plants)
    with open(raw / "signalements_bailleur.csv", "w", encoding="cp1252", newline="") as f:
        writer = csv.writer(f, delimiter=";")
        writer.writerow(HEADER)
        writer.writerows(_reports_rows(points, ids, plants))
    with open(raw / "gazetteer.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["key", "building_id"])
        for k, (bid, word) in enumerate(zip(ids, NAMED_BY, strict=True)):
            if word == "batref":
                writer.writerow([plants[k % 3]("batref"), bid])
    notes = {
        "type": "FeatureCollection",
        "name": "annotations_bondy",
        "vigie": {"format": "vigie-annotations", "version": 1},
        "features": [
            _note(f"note-{k}", ids[k], points.loc[ids[k]], plant("notetexte"),
                  plant("noteauteur"), plant("notetag"))
            for k, plant in enumerate(plants)
        ],
    }  # fmt: skip
    folder = root / "annotations" / "bondy"
    folder.mkdir(parents=True)
    (folder / "annotations_bondy.geojson").write_text(
        json.dumps(notes, ensure_ascii=False), encoding="utf-8"
    )
    tags = [plant("notetag") for plant in plants] + ["à surveiller"]
    sources = ["osm"] + [plant("source") for plant in plants]
    config = f"""
[project]
processed_dir = {_toml(str(root / "processed"))}
maps_dir = {_toml(str(root / "maps"))}
annotations_dir = {_toml(str(root / "annotations"))}
annotation_tags = {_toml(tags)}

[params.ingest]
start_date = "2015-01-01"

# The analyst's own map (interne): every field reaches the page, report points and their
# texts included (a committee map draws none), so that each is checked as text.
[publication.outputs]
map = "interne"
png = "interne"
charts = "interne"
index = "interne"
pack = "interne"
gpkg = "interne"

[[sites]]
id = "bondy"
name = {_toml(plants[1]("site"))}
osm = {_toml(str(raw / "bondy.osm"))}
gazetteer = {_toml(str(raw / "gazetteer.csv"))}
simulated = true
attribution = {_toml(sources)}

[[sites.sources]]
id = "bailleur"
kind = "reports"
path = {_toml(str(raw / "signalements_bailleur.csv"))}
format = "csv"
personal_columns = ["Nom du demandeur", "Téléphone", "Logement"]
[sites.sources.columns]
id = "N° ticket"
date = "Date de création"
category = "Catégorie"
subcategory = "Sous-catégorie"
description = "Description"
address = "Adresse"
building_ref = "Bâtiment"
lat = "Latitude"
lon = "Longitude"
status = "Statut"
closed_at = "Date de clôture"
channel = "Canal"
"""
    path = root / "injection.toml"
    path.write_text(config, encoding="utf-8")
    return path, absolute_marker


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory: pytest.TempPathFactory) -> PlantedRun:
    """``vigie run`` end to end on the planted inputs, from an empty working folder."""
    from pipelines.cli import main

    root = tmp_path_factory.mktemp("injection")
    config, absolute_marker = write_planted_inputs(root)
    cwd = root / "cwd"
    cwd.mkdir()
    make_secret(cwd / "data" / "secrets", "bondy")  # the default secrets_dir, from cwd
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        code = main(["-q", "run", "--config", str(config)])
    assert code == 0, "vigie run failed on planted template syntax"
    return PlantedRun(root, cwd, absolute_marker, root / "processed" / "bondy", root / "maps")


def _outputs(run: PlantedRun) -> dict[str, str]:
    """Every text output of the run (HTML, CSV, JSON, GeoJSON, Markdown), by relative path."""
    out = {}
    for folder in (run.processed, run.maps):
        for path in sorted(folder.rglob("*")):
            if path.suffix in {".html", ".csv", ".json", ".geojson", ".md"}:
                out[str(path.relative_to(run.root))] = path.read_text(encoding="utf-8")
    return out


@pytest.mark.slow
def test_planted_run_ran_no_code(planted_run: PlantedRun) -> None:
    assert markers(planted_run.cwd, planted_run.root, ROOT) == []
    assert not planted_run.absolute_marker.exists()


#: Every planted field.
WORDS = ("site", "source", "osmnom", "osmrue", "batref", "adr", "desc", "souscat", "categ",
         "notetexte", "noteauteur", "notetag")  # fmt: skip
#: The fields the site map shows: the site, its sources, the buildings' names (OSM name,
#: OSM street, the gazetteer's landlord code), the residents' descriptions, the planners'
#: notes and the tags offered by the annotation mode. The address the reports give is
#: not a building's name (it matches no known address).
SHOWN_ON_MAP = ("site", "source", "osmnom", "osmrue", "batref", "desc", "notetexte",
                "noteauteur", "notetag")  # fmt: skip


@pytest.mark.slow
def test_planted_run_shows_every_field_as_text(planted_run: PlantedRun) -> None:
    outputs = _outputs(planted_run)
    site_map = outputs["maps/bondy.html"]
    index = outputs["maps/index.html"]
    everything = "\n".join(outputs.values())
    for word in WORDS:  # nothing evaluated, anywhere
        assert evaluated(word) not in everything, word
    assert f"adr {SEVEN}" not in site_map
    for word in SHOWN_ON_MAP:
        assert f"{word} {SEVEN}" in site_map, word
        if word != "site":  # one site name: the quoted payload
            assert runnable(word) in site_map, word
            assert breaking(word) in site_map, word
    # The index page: the site's name and the notes table.
    assert f"site {SEVEN}" in index
    # The committee pack: the site's name and the names of the hotspot buildings.
    committee = outputs["maps/bondy_comite.html"]
    assert f"site {SEVEN}" in committee
    assert "<script" not in committee
    for word in ("notetexte", "noteauteur", "notetag"):
        assert runnable(word) in index, word
        assert breaking(word) in index, word


@pytest.mark.slow
def test_planted_run_keeps_every_field_in_its_tables(planted_run: PlantedRun) -> None:
    """The fields no page shows (sub-category, the source's category label) are kept as
    they were given in the reports table."""
    reports = pd.read_parquet(planted_run.processed / "reports.parquet")
    for column, word in (("subcategory", "souscat"), ("category_source_label", "categ"),
                         ("description", "desc"), ("building_ref", "batref"),
                         ("address", "adr")):  # fmt: skip
        values = set(reports[column].dropna())
        assert runnable(word) in values, column
        assert breaking(word) in values, column


@pytest.mark.slow
@pytest.mark.browser
def test_planted_map_opens_without_errors(planted_run: PlantedRun, browser: Any) -> None:
    from browser import open_offline

    result = open_offline(planted_run.maps / "bondy.html", browser=browser)
    assert result.external_requests == []
    assert result.console_errors == []
    assert result.page_errors == []
    assert result.n_paths > 0
    assert markers(planted_run.cwd, planted_run.root, ROOT) == []
