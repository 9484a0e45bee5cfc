"""The portfolio example's configuration (config/demo_portfolio.toml) and the checks
of a perimeter layer made while the configuration loads (issue 18)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from shapely.geometry import shape

from pipelines.cli import main
from pipelines.config import load_config
from pipelines.errors import ConfigError
from tests.conftest import RAW, ROOT
from tests.test_errors import one_error_line

EXAMPLE = ROOT / "config" / "demo_portfolio.toml"
RESIDENCES = RAW / "portfolio" / "residences_bondy.geojson"


def _layer() -> dict:
    return json.loads(RESIDENCES.read_text(encoding="utf-8"))


def _example_with_layer(tmp_path: Path, doc: dict) -> tuple[Path, Path]:
    """config/demo_portfolio.toml whose perimeter layer is ``doc``: the configuration
    and the layer's paths."""
    path = tmp_path / "perimetres.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        '"data/raw/portfolio/residences_bondy.geojson"', f'"{path}"'
    )
    cfg = tmp_path / "c.toml"
    cfg.write_text(text, encoding="utf-8")
    return cfg, path


def test_the_example_holds_a_site_by_hand_and_the_residences_of_the_layer() -> None:
    config = load_config(EXAMPLE, check_files=False)
    assert config.portfolio is not None
    codes = [f["properties"]["code"] for f in _layer()["features"]]
    assert [s.id for s in config.sites] == ["paris10", *codes]
    assert len(config.sites) >= config.portfolio_page_from  # the index: the portfolio page
    assert not config.site("paris10").simulated
    assert all(config.site(c).simulated for c in codes)
    # Paris is declared as in the demo: same extract and export.
    demo = load_config(ROOT / "config" / "demo.toml", check_files=False).site("paris10")
    assert config.site("paris10").osm == demo.osm
    assert config.site("paris10").sources == demo.sources


def test_the_residences_are_derived_from_rpls_and_share_nothing() -> None:
    doc = _layer()
    assert "NON OFFICIELS" in doc["description"]
    feats = doc["features"]
    polygons = [shape(f["geometry"]) for f in feats]
    assert all(p.is_valid and p.area > 0 for p in polygons)
    for i, a in enumerate(polygons):
        for b in polygons[i + 1 :]:
            assert a.intersection(b).area == pytest.approx(0, abs=1e-10)
    # Each residence lies within 30 m (the README's matching distance) of an RPLS point
    # of the programmes it names, read here from the GeoPackage, in Lambert-93.
    rpls = gpd.read_file(RAW / "bondy" / "rpls_bondy.gpkg", layer="rpls2022")
    metric = gpd.GeoSeries(polygons, crs=4326).to_crs(rpls.crs)
    for f, poly in zip(feats[:-1], metric.iloc[:-1], strict=True):
        names = f["properties"]["programmes_rpls"].split(" ; ")
        pts = rpls[rpls["Nom.du.Programme"].isin(names)].geometry
        assert pts.distance(poly).min() <= 30.0, f["properties"]["code"]
    # The last site is the rest: residences and rest cover the extract's buildings.
    whole = shapely.union_all(polygons)
    assert feats[-1]["properties"]["code"] == "bondy-nord-reste"
    assert whole.convex_hull.area == pytest.approx(whole.area, rel=1e-6)  # a box, no hole


def test_a_layer_in_metres_without_its_crs_is_one_french_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Lambert-93 coordinates written as GeoJSON without the « crs » member: read as degrees.
    layer = gpd.read_file(RESIDENCES).to_crs(2154)
    doc = json.loads(layer.to_json())
    doc.pop("crs", None)
    cfg, path = _example_with_layer(tmp_path, doc)
    with pytest.raises(ConfigError, match=r"entité n° 1 \(« noue-caillet »\) : coordonnées hors"):
        load_config(cfg, check_files=False)
    assert main(["split", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert str(path) in err
    assert "EPSG:2154" in err


def test_a_layer_absent_from_the_geopackage_names_the_layers_it_has(tmp_path: Path) -> None:
    # The shipped RPLS GeoPackage, asked for a layer it does not hold.
    rpls = RAW / "bondy" / "rpls_bondy.gpkg"
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        'perimeters = "data/raw/portfolio/residences_bondy.geojson"',
        f'perimeters = "{rpls}"\nlayer = "residences"',
    )
    cfg = tmp_path / "c.toml"
    cfg.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"portfolio\.layer.*pas de couche « residences »") as err:
        load_config(cfg, check_files=False)
    assert "rpls2022" in str(err.value)
    assert "bailleurParcelle" in str(err.value)


def test_site_ids_equal_but_for_case_are_refused(tmp_path: Path) -> None:
    # maps/Merisiers.html and maps/merisiers.html are one file on Windows and macOS.
    doc = _layer()
    doc["features"][0]["properties"]["code"] = "Merisiers"
    assert doc["features"][1]["properties"]["code"] == "merisiers"
    cfg, _ = _example_with_layer(tmp_path, doc)
    with pytest.raises(
        ConfigError, match=r"« Merisiers » et « merisiers » en double \(entités n° 1, 2, à la casse"
    ):
        load_config(cfg, check_files=False)


@pytest.mark.parametrize(
    ("code", "words"),
    [
        # Path traversal, separators, spaces, nothing: never a folder name.
        ("../../../tmp/x", ["invalide", "lettres, chiffres"]),
        ("a/b", ["invalide"]),
        ("..", ["invalide"]),
        ("noue caillet", ["invalide"]),
        # « é » composed or not: two folders on Linux, one on macOS (and `vigie init`
        # refuses it: one rule).
        ("résidence", ["invalide", "sans accents"]),
        ("", ["identifiant de site vide"]),
        # make gives the id to `vigie stage --site`: a leading « - » is read as an option.
        ("-noue", ["commencer par une lettre"]),
        # It names files: a 300-character id failed at the end of the split's cut.
        ("a" * 300, ["invalide", "300 caractères, au plus 64"]),
        # Windows' device names: no maps/con.html, no processed/COM1/ there.
        ("con", ["« con » invalide", "réservé par Windows"]),
        ("COM1", ["« COM1 » invalide", "réservé par Windows"]),
        # The index page, the committee pack of the site declared by hand, its folder.
        ("index", ["maps/portefeuille/index.html", "page d'accueil"]),
        ("paris10_comite", ["maps/portefeuille/paris10_comite.html", "« paris10 »"]),
        ("Paris10", ["« Paris10 » et « paris10 »", "casse"]),
    ],
)
def test_a_perimeter_id_that_is_no_safe_file_name_is_refused_naming_its_feature(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], code: str, words: list[str]
) -> None:
    doc = _layer()
    doc["features"][2]["properties"]["code"] = code
    cfg, path = _example_with_layer(tmp_path, doc)
    deps = tmp_path / "deps.mk"
    assert main(["-q", "deps", "--config", str(cfg), "--out", str(deps)]) == 2
    line = one_error_line(capsys)
    assert f"{cfg}, clé « portfolio.id_field »" in line
    assert f"« {path} », entité n° 3" in line
    for word in words:
        assert word in line, (word, line)
    assert not deps.exists()


@pytest.mark.parametrize(
    ("source_id", "words"),
    [
        # The id names processed_dir/_portfolio/sources/<id>/: « .. » would write the
        # rows of every site outside the output folders.
        ("../../../../../tmp/vigie-evasion", ["« ../../../../../tmp/vigie-evasion »", "dossier"]),
        ("a/b", ["« a/b »"]),
        ("..", ["« .. »"]),
        ("bailleur principal", ["« bailleur principal »"]),
        ("-bailleur", ["commencer par une lettre"]),
    ],
)
def test_a_shared_source_id_that_is_no_safe_folder_name_is_refused(
    tmp_path: Path, source_id: str, words: list[str]
) -> None:
    cfg, _ = _example_with_layer(tmp_path, _layer())
    text = cfg.read_text(encoding="utf-8")
    assert '\n[[portfolio.sources]]\nid = "bailleur"' in text
    cfg.write_text(
        text.replace(
            '\n[[portfolio.sources]]\nid = "bailleur"',
            f'\n[[portfolio.sources]]\nid = "{source_id}"',
        ),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"portfolio\.sources\[0\]\.id") as err:
        load_config(cfg, check_files=False)
    for word in words:
        assert word in str(err.value), (word, str(err.value))


def test_shared_source_ids_equal_but_for_case_are_refused(tmp_path: Path) -> None:
    cfg, _ = _example_with_layer(tmp_path, _layer())
    text = cfg.read_text(encoding="utf-8")
    block = text[text.index("\n[[portfolio.sources]]") :]
    cfg.write_text(text + block.replace('id = "bailleur"', 'id = "Bailleur"', 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"portfolio\.sources.*en double \(à la casse près\)"):
        load_config(cfg, check_files=False)


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("Noue\x1b[31m-Caillet", "« Noue<U+001B>[31m-Caillet »"),
        ("Noue-Caillet\x07", "« Noue-Caillet<U+0007> »"),
        ("Noue-Caillet\nBâtiment A", "« Noue-Caillet<U+000A>Bâtiment A »"),
        ("Noue\x85Caillet", "« Noue<U+0085>Caillet »"),
        # a right-to-left override showed « Noue-Caillet » as « telliaC-euoN »
        ("\u202eNoue-Caillet", "« <U+202E>Noue-Caillet »"),
        ("Noue\u2067Caillet\u2069", "« Noue<U+2067>Caillet<U+2069> »"),
    ],
)
def test_a_perimeter_name_with_a_control_character_is_refused_naming_its_site(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, shown: str
) -> None:
    # An escape or a bell in a layer's « nom » went unseen into every map title, the
    # committee pack, the PDF's metadata and the charts. (GDAL reads a NUL byte as the
    # end of the text: the name is cut there before Vigie sees it.)
    doc = _layer()
    doc["features"][2]["properties"]["nom"] = name
    code = doc["features"][2]["properties"]["code"]
    cfg, path = _example_with_layer(tmp_path, doc)
    deps = tmp_path / "deps.mk"
    assert main(["-q", "deps", "--config", str(cfg), "--out", str(deps)]) == 2
    line = one_error_line(capsys)
    assert f"{cfg}, clé « portfolio.name_field »" in line
    assert f"« {path} », entité n° 3, champ « nom » : nom du site « {code} », {shown}" in line
    assert "caractère(s) de contrôle U+" in line
    assert "retirez-les" in line
    assert not deps.exists()


def test_a_site_name_with_a_control_character_is_refused_naming_its_site(
    tmp_path: Path,
) -> None:
    # A TOML escape (« \u001b ») in a site's name: the same unseen character in its titles.
    text = (ROOT / "config" / "demo.toml").read_text(encoding="utf-8")
    assert 'name = "Bondy Nord"' in text
    cfg = tmp_path / "c.toml"
    cfg.write_text(text.replace('name = "Bondy Nord"', 'name = "Bondy\\u001b Nord\\u0000"'))
    with pytest.raises(ConfigError) as caught:
        load_config(cfg, check_files=False)
    message = str(caught.value)
    assert "sites[0].name" in message
    assert "nom du site « bondy », « Bondy<U+001B> Nord<U+0000> »" in message
    assert "caractère(s) de contrôle U+001B, U+0000" in message


def test_a_layer_not_in_utf8_is_one_french_error_naming_its_feature(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A GeoJSON saved in Latin-1 (an old tool): GDAL reads its text as UTF-8 and
    # raised a UnicodeDecodeError, a traceback with exit code 1.
    doc = _layer()
    for n, feature in enumerate(doc["features"], start=1):
        feature["properties"]["nom"] = f"Residence {n}"
    doc["features"][1]["properties"]["nom"] = "Résidence des Érables"
    cfg, path = _example_with_layer(tmp_path, doc)
    path.write_bytes(json.dumps(doc, ensure_ascii=False).encode("latin-1"))
    code = main(["-q", "split", "--config", str(cfg)])
    line = one_error_line(capsys)
    assert code == 2
    assert f"« {path} », entité n° 2, champ « nom » : texte qui n'est pas en UTF-8" in line


def test_a_layer_without_features_says_so(tmp_path: Path) -> None:
    # An empty GeoJSON has no fields either: the error named a missing « code » field.
    cfg, _ = _example_with_layer(tmp_path, {"type": "FeatureCollection", "features": []})
    with pytest.raises(ConfigError, match=r"aucune entité \(périmètre\)"):
        load_config(cfg, check_files=False)


def test_a_geopackage_of_several_layers_must_name_its_layer(tmp_path: Path) -> None:
    # The first layer was taken: here the wrong one, its site alone, the residences
    # silently left out.
    doc = _layer()
    layers = tmp_path / "couches.gpkg"
    other = gpd.GeoDataFrame(
        {"code": ["autre"], "nom": ["Autre"]},
        geometry=[shape(doc["features"][0]["geometry"])],
        crs="EPSG:4326",
    )
    other.to_file(layers, layer="brouillon", driver="GPKG")
    gpd.read_file(RESIDENCES).to_file(layers, layer="residences", driver="GPKG")
    cfg, _ = _example_with_layer(tmp_path, doc)
    text = cfg.read_text(encoding="utf-8").replace(
        str(tmp_path / "perimetres.geojson"), str(layers)
    )
    cfg.write_text(text, encoding="utf-8")
    with pytest.raises(
        ConfigError,
        match=r"portfolio\.layer.* a 2 couches de géométries \(brouillon, residences\) : dites",
    ):
        load_config(cfg, check_files=False)
    cfg.write_text(text.replace("[portfolio]\n", '[portfolio]\nlayer = "residences"\n'), "utf-8")
    sites = load_config(cfg, check_files=False).portfolio.site_ids
    assert sites == tuple(f["properties"]["code"] for f in doc["features"])


def test_a_geopackage_of_one_layer_and_a_table_reads_the_layer(tmp_path: Path) -> None:
    # QGIS saves a layer's style in its GeoPackage as a « layer_styles » table: one
    # layer of perimeters still, no need to name it.
    layers = tmp_path / "couches.gpkg"
    pyogrio.raw.write(
        str(layers),
        geometry=None,
        field_data=[np.array(["style"], dtype=object)],
        fields=["f_table_name"],
        geometry_type=None,
        driver="GPKG",
        layer="layer_styles",
    )
    gpd.read_file(RESIDENCES).to_file(layers, layer="residences", driver="GPKG")
    cfg, _ = _example_with_layer(tmp_path, _layer())
    text = cfg.read_text(encoding="utf-8").replace(
        str(tmp_path / "perimetres.geojson"), str(layers)
    )
    cfg.write_text(text, encoding="utf-8")
    portfolio = load_config(cfg, check_files=False).portfolio
    assert portfolio is not None
    assert portfolio.layer == "residences"
    assert portfolio.site_ids == tuple(f["properties"]["code"] for f in _layer()["features"])


def test_a_layer_without_geometry_is_one_french_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A GeoPackage's attribute table (the landlord's list of residences, no outline):
    # its features had no bounds, and naming the first one read geometries it has not,
    # a TypeError traceback with exit code 1.
    table = tmp_path / "residences.gpkg"
    pyogrio.raw.write(
        str(table),
        geometry=None,
        field_data=[np.array(["a", "b"], dtype=object), np.array(["A", "B"], dtype=object)],
        fields=["code", "nom"],
        geometry_type=None,
        driver="GPKG",
        layer="liste",
    )
    cfg, _ = _example_with_layer(tmp_path, _layer())
    text = cfg.read_text(encoding="utf-8").replace(str(tmp_path / "perimetres.geojson"), str(table))
    cfg.write_text(text, encoding="utf-8")
    assert main(["-q", "split", "--config", str(cfg)]) == 2
    line = one_error_line(capsys)
    assert f"« {table} », couche « liste » : aucune géométrie" in line


def _example_with_file(tmp_path: Path, layer: gpd.GeoDataFrame, name: str) -> tuple[Path, Path]:
    """config/demo_portfolio.toml whose perimeter layer is ``layer`` written to ``name``
    (its format from the suffix), with the CRS ``layer`` declares."""
    path = tmp_path / name
    driver = "KML" if name.endswith(".kml") else None  # LIBKML, guessed, writes a folder
    layer[["code", "nom", "geometry"]].to_file(path, driver=driver)  # Shapefile: 10 chars
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        '"data/raw/portfolio/residences_bondy.geojson"', f'"{path}"'
    )
    cfg = tmp_path / "c.toml"
    cfg.write_text(text, encoding="utf-8")
    return cfg, path


@pytest.mark.parametrize("name", ["p.gpkg", "p.geojson"])
@pytest.mark.parametrize(
    ("epsg", "where"),
    [
        # Lambert-93: its (2.48 m, 48.9 m) is off Gabon, outside its area of use.
        (2154, "hors de son domaine (France - onshore and offshore"),
        # Web Mercator's area is the world: its (0, 0), in the Gulf of Guinea.
        (3857, "à moins de 200 m du point (0, 0) de ce système"),
    ],
)
def test_degrees_declared_as_metres_are_one_french_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, epsg: int, where: str
) -> None:
    """A layer in degrees declaring a projected system (a GeoPackage's CRS, a GeoJSON's
    « crs » member): its perimeters were read as a few metres off Gabon, and the split
    said only « aucun chemin de l'extrait » for each site, exit 0."""
    layer = gpd.read_file(RESIDENCES).set_crs(epsg, allow_override=True)
    cfg, path = _example_with_file(tmp_path, layer, name)
    assert main(["-q", "split", "--config", str(cfg)]) == 2
    line = one_error_line(capsys)
    assert f"« {path} », entité n° 1 (« noue-caillet ») : coordonnées (x de 2.4" in line
    assert "qui ressemblent à des degrés (longitude, latitude)" in line
    assert f"alors que la couche déclare {layer.crs.name} (EPSG:{epsg})" in line
    assert where in line
    assert "EPSG:4326 pour des degrés" in line


def test_lambert93_declared_as_degrees_is_said_to_look_like_lambert93(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The reverse: Lambert-93 metres in a GeoPackage declaring WGS 84. The error said
    « hors des degrés » and « lue en degrés », never that the layer declares WGS 84 nor
    that its coordinates are Lambert-93's."""
    layer = gpd.read_file(RESIDENCES).to_crs(2154).set_crs(4326, allow_override=True)
    cfg, path = _example_with_file(tmp_path, layer, "p.gpkg")
    assert main(["-q", "split", "--config", str(cfg)]) == 2
    line = one_error_line(capsys)
    assert f"« {path} », entité n° 1 (« noue-caillet ») : coordonnées hors des degrés" in line
    assert "elles ressemblent à des mètres en Lambert-93 (EPSG:2154)" in line
    assert "alors que la couche déclare WGS 84 (EPSG:4326), en degrés" in line


@pytest.mark.parametrize("name", ["p.shp", "p.kml"])
def test_a_shapefile_or_a_kml_layer_declares_the_sites(tmp_path: Path, name: str) -> None:
    """A Shapefile (QGIS's, in Lambert-93 with its .prj, its text in UTF-8 without .cpg)
    and a KML (Google Earth's) are read as the GeoJSON is: same sites, names and boxes.
    The Shapefile's names were read as Latin-1 (« Cité » became « CitÃ© »), and make
    did not know its .dbf (the sites' names) as an input of the split."""
    from pipelines.config.make import deps_fragment

    layer = gpd.read_file(RESIDENCES)
    layer["nom"] = [f"Cité n° {i} « Éole »" for i in range(len(layer))]
    if name.endswith(".shp"):
        layer = layer.to_crs(2154)
    cfg, path = _example_with_file(tmp_path, layer, name)
    path.with_suffix(".cpg").unlink(missing_ok=True)  # as many tools write it
    config = load_config(cfg, check_files=False)
    assert config.portfolio is not None
    sites = config.portfolio.sites
    expected = gpd.read_file(RESIDENCES)
    assert [s.id for s in sites] == expected["code"].tolist()
    assert [s.name for s in sites] == [f"Cité n° {i} « Éole »" for i in range(len(layer))]
    for site, bounds in zip(sites, expected.bounds.to_numpy(), strict=True):
        assert site.bbox == pytest.approx(tuple(bounds), abs=1e-4)  # a box reprojected
    if name.endswith(".shp"):
        rule = next(
            line for line in deps_fragment(config).splitlines() if "$(SPLIT_OUTPUTS) &:" in line
        )
        for suffix in (".shp", ".dbf", ".shx", ".prj"):
            assert str(path.with_suffix(suffix)) in rule


def test_a_latin1_shapefile_without_cpg_keeps_its_names(tmp_path: Path) -> None:
    layer = gpd.read_file(RESIDENCES)[["code", "nom", "geometry"]]
    layer["nom"] = [f"Cité « Éole » {i}" for i in range(len(layer))]
    path = tmp_path / "p.shp"
    layer.to_file(path, encoding="ISO-8859-1")
    path.with_suffix(".cpg").unlink()
    assert b"Cit\xe9" in path.with_suffix(".dbf").read_bytes()
    cfg, _ = _example_with_file(tmp_path, layer, "q.gpkg")
    cfg.write_text(cfg.read_text(encoding="utf-8").replace(str(tmp_path / "q.gpkg"), str(path)))
    config = load_config(cfg, check_files=False)
    assert config.portfolio is not None
    assert [s.name for s in config.portfolio.sites] == layer["nom"].tolist()


@pytest.mark.parametrize(
    ("remove", "words"),
    [
        (".shx", ["illisible : Shapefile incomplet : son .shx (l'index des géométries) manque"]),
        (".dbf", ["champ « code » absent", "champs : aucun (son .dbf (les champs) manque)"]),
        ("text", ["illisible : formats lus : GeoPackage (.gpkg), GeoJSON", "KML (.kml)"]),
    ],
)
def test_a_layer_in_no_format_read_or_an_incomplete_shapefile_says_what_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], remove: str, words: list[str]
) -> None:
    """A Shapefile without its .shx was « illisible : attendu un GeoJSON ou un
    GeoPackage », which it is neither and needs not be; without its .dbf, « champs : . »."""
    cfg, path = _example_with_file(tmp_path, gpd.read_file(RESIDENCES), "p.shp")
    if remove == "text":
        path.write_text("ceci n'est pas une couche", encoding="utf-8")
    else:
        path.with_suffix(remove).unlink()
    assert main(["-q", "split", "--config", str(cfg)]) == 2
    line = one_error_line(capsys)
    assert f"« {path} »" in line
    for word in words:
        assert word in line, (word, line)


def test_a_kml_multigeometry_keeps_its_polygons(tmp_path: Path) -> None:
    """Google Earth's MultiGeometry of an outline and its label's point, read by GDAL as
    a collection: refused (« c'est une collection de géométries, pas un polygone »); its
    polygons are now the perimeter, said in a warning."""
    from pipelines.portfolio import read_perimeters

    ring = "2.4785,48.9075,0 2.484,48.9075,0 2.484,48.912,0 2.4785,48.912,0 2.4785,48.9075,0"
    path = tmp_path / "p.kml"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2">'
        "<Document><Placemark><name>ouest</name><description>Ouest</description>"
        f"<MultiGeometry><Polygon><outerBoundaryIs><LinearRing><coordinates>{ring}"
        "</coordinates></LinearRing></outerBoundaryIs></Polygon><Point><coordinates>"
        "2.48,48.91,0</coordinates></Point></MultiGeometry></Placemark></Document></kml>",
        encoding="utf-8",
    )
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        '"data/raw/portfolio/residences_bondy.geojson"', f'"{path}"'
    )
    text = text.replace('id_field = "code"', 'id_field = "Name"')
    cfg = tmp_path / "c.toml"
    cfg.write_text(text.replace('name_field = "nom"', 'name_field = "description"'), "utf-8")
    config = load_config(cfg, check_files=False)
    assert config.portfolio is not None
    perimeters = read_perimeters(config.portfolio)
    assert perimeters["geometry"].iat[0].geom_type == "Polygon"
    assert perimeters["geometry"].iat[0].equals(shapely.box(2.4785, 48.9075, 2.484, 48.912))
    assert bool(perimeters["repaired"].iat[0])


def test_a_site_name_that_shows_nothing_is_the_site_id(tmp_path: Path) -> None:
    """A name of a zero-width space (or a no-break space) only: the site was titled
    with nothing visible, where an empty name gives the site its id."""
    doc = _layer()
    doc["features"][0]["properties"]["nom"] = "\u200b"
    doc["features"][1]["properties"]["nom"] = "\u00a0\u200b "
    cfg, _ = _example_with_layer(tmp_path, doc)
    config = load_config(cfg, check_files=False)
    assert config.portfolio is not None
    first, second = config.portfolio.sites[:2]
    assert (first.name, second.name) == (first.id, second.id)


def test_sites_of_one_name_are_told_apart_by_their_ids(tmp_path: Path) -> None:
    """Two residences « Les Tilleuls » (and « Cité » written with é composed and not):
    two rows of the portfolio's table, two map titles alike. Each such name is followed
    by its site's id; a name of its own is kept."""
    doc = _layer()
    names = ["Les Tilleuls", "les tilleuls", "Cit\u00e9", "Cite\u0301", "Autre"]
    for feature, name in zip(doc["features"], names, strict=True):
        feature["properties"]["nom"] = name
    cfg, _ = _example_with_layer(tmp_path, doc)
    config = load_config(cfg, check_files=False)
    assert config.portfolio is not None
    ids = [s.id for s in config.portfolio.sites]
    assert [s.name for s in config.portfolio.sites] == [
        f"Les Tilleuls ({ids[0]})",
        f"les tilleuls ({ids[1]})",
        f"Cit\u00e9 ({ids[2]})",
        f"Cite\u0301 ({ids[3]})",
        "Autre",
    ]


@pytest.mark.parametrize(
    ("element", "words"),
    [
        ("Résidence Les Merisiers", "du texte « Résidence Les Merisiers »"),
        (42, "un nombre (42)"),
        (None, "null"),
        ([2.48, 48.91], "une liste"),
        ("geometry", "une géométrie (Polygon) sans entité autour"),
        ("untyped", 'un objet sans « "type": "Feature" »'),
    ],
)
def test_a_features_element_gdal_would_skip_is_one_french_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], element: object, words: str
) -> None:
    # The residences' second feature replaced by what GDAL skips without a word: the
    # site « merisiers » vanished from the portfolio, its 995 rows of the simulated
    # export went to outside_every_site.csv and the sites after it were numbered one
    # feature off.
    doc = _layer()
    second = doc["features"][1]
    if element == "geometry":
        element = second["geometry"]
    elif element == "untyped":
        element = {k: v for k, v in second.items() if k != "type"}
    doc["features"][1] = element
    cfg, path = _example_with_layer(tmp_path, doc)
    with pytest.raises(ConfigError, match=r"élément n° 2 de « features »") as err:
        load_config(cfg, check_files=False)
    assert words in str(err.value)
    assert main(["split", "--config", str(cfg)]) == 2
    err_text = capsys.readouterr().err
    assert "Traceback" not in err_text
    assert str(path) in err_text


def test_an_empty_geometry_in_a_geopackage_in_metres_is_told_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The residences saved by QGIS as a GeoPackage in Lambert-93, the second one's
    # outline deleted (an empty polygon, which GDAL boxes at 0, 0): it was refused as
    # « coordonnées … qui ressemblent à des degrés », sending the analyst to the layer's
    # CRS when the feature has no vertex at all.
    layer = gpd.read_file(RESIDENCES).to_crs(2154)
    layer.loc[1, "geometry"] = shapely.Polygon()
    path = tmp_path / "residences.gpkg"
    layer.to_file(path, driver="GPKG")
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        '"data/raw/portfolio/residences_bondy.geojson"', f'"{path}"'
    )
    cfg = tmp_path / "c.toml"
    cfg.write_text(text, encoding="utf-8")
    load_config(cfg, check_files=False)  # named with the layer's other problems, below
    assert main(["split", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert str(path) in err
    assert "entité n° 2 (site « merisiers », « Résidence Les Merisiers ») : géométrie vide" in err
    assert "degrés" not in err


def test_a_polygon_whose_coordinates_are_nested_wrong_is_told_so(tmp_path: Path) -> None:
    # The second residence's ring written without the list of rings around it (one
    # level short, as a hand edit or a script writing a Polygon as a LineString does):
    # GDAL drops the geometry, which was told « périmètre sans géométrie » while the file
    # gives one.
    doc = _layer()
    geometry = doc["features"][1]["geometry"]
    assert geometry["type"] == "Polygon"
    geometry["coordinates"] = geometry["coordinates"][0]
    cfg, _ = _example_with_layer(tmp_path, doc)
    with pytest.raises(
        ConfigError, match=r"entité n° 2 \(« merisiers »\) : géométrie « Polygon »"
    ) as err:
        load_config(cfg, check_files=False)
    assert "imbriquées" in str(err.value)
    assert "sans géométrie" not in str(err.value)


def test_split_refuses_a_site_whose_files_would_be_the_index_page(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The second residence coded « index »: its map would be maps/index.html, the
    # portfolio page. `vigie run` refused it, but `vigie split` alone cut the extract and
    # the export for it first, a site that no later stage would take.
    doc = _layer()
    doc["features"][1]["properties"]["code"] = "index"
    cfg, path = _example_with_layer(tmp_path, doc)
    assert main(["split", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert str(path) in err
    assert "entité n° 2" in err
    assert "index.html" in err


@pytest.mark.parametrize("field", ["code", "nom"])
def test_a_nul_character_in_an_id_or_a_name_is_named_not_cut(tmp_path: Path, field: str) -> None:
    # « merisiers\u0000-est » (a NUL escaped in the JSON, from a script or a database
    # export): GDAL cuts a text at its NUL, and the site was « merisiers », its name
    # « Résidence Les », without a word.
    doc = _layer()
    props = doc["features"][1]["properties"]
    props[field] = {"code": "merisiers\u0000-est", "nom": "Résidence Les\u0000Merisiers"}[field]
    cfg, path = _example_with_layer(tmp_path, doc)
    with pytest.raises(
        ConfigError, match=rf"entité n° 2, champ « {field} » : caractère nul"
    ) as err:
        load_config(cfg, check_files=False)
    assert str(path) in str(err.value)
    assert "<U+0000>" in str(err.value)


def test_coordinates_beyond_any_system_are_shown_short(tmp_path: Path) -> None:
    # The second residence's longitudes multiplied by 1e300 (a unit conversion gone
    # wrong): the error quoted each as its 301 digits.
    doc = _layer()
    rings = doc["features"][1]["geometry"]["coordinates"]
    doc["features"][1]["geometry"]["coordinates"] = [
        [[x * 1e300, y] for x, y in ring] for ring in rings
    ]
    cfg, _ = _example_with_layer(tmp_path, doc)
    with pytest.raises(
        ConfigError, match=r"entité n° 2 \(« merisiers »\) : coordonnées hors"
    ) as err:
        load_config(cfg, check_files=False)
    message = str(err.value)
    assert "x de 2.485e+300 à 2.487e+300" in message
    assert not re.search(r"\d{20}", message)
