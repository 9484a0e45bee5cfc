"""The site's GeoPackage for QGIS (issue 19): the published layers in EPSG:4326, French
field aliases in ``gpkg_data_columns``, a QML style per layer in ``layer_styles`` and
beside the file, in the map's colours, and hidden counts still hidden.

The demo's GeoPackages (made by ``vigie run``, from the ``comite`` tables) are read with
pyogrio and sqlite3; each style's rule filters are run as SQL on the layer itself (the
filters Vigie writes are both QGIS expressions and SQLite ones), so a test sees which
features each legend entry draws. Hand-made published tables cover the layers the demo
has none of: notes of every geometry, and actions.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import xml.etree.ElementTree as ET
from contextlib import closing
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from pipelines.config import load_config
from pipelines.config.make import deps_fragment
from pipelines.config.publication import publication_settings
from pipelines.maps.gpkg import qml_name, site_layers, write_gpkg
from pipelines.maps.gpkg_fields import column_alias, gpkg_ready
from pipelines.maps.html import GI_LABELS_FR
from pipelines.maps.qml import rgba
from pipelines.maps.views import GI_COLOURS
from pipelines.published import FLAG_SUFFIX, HIDDEN_FLAG, Publication, Published, read_published
from pipelines.stages import SitePaths
from tests.conftest import ROOT

DEMO = ROOT / "config" / "demo.toml"
SITES = ("bondy", "paris10")
#: The Python of Debian's QGIS bindings (python3-qgis), where QGIS is installed.
QGIS_PYTHON = "/usr/bin/python3"


# --------------------------------------------------------------------------- helpers
def _styles(gpkg: Path) -> list[tuple[str, str, str, int]]:
    with closing(sqlite3.connect(gpkg)) as con:
        return list(
            con.execute(
                "SELECT f_table_name, styleName, styleQML, useAsDefault FROM layer_styles "
                "ORDER BY id"
            )
        )


def _aliases(gpkg: Path) -> dict[tuple[str, str], tuple[str, str, str | None]]:
    with closing(sqlite3.connect(gpkg)) as con:
        rows = con.execute(
            "SELECT table_name, column_name, name, title, description FROM gpkg_data_columns"
        )
        return {(t, c): (n, ti, d) for t, c, n, ti, d in rows}


def _rules(text: str) -> list[dict[str, str]]:
    """The rules of a QML's rule-based renderer: label, filter, fill colour."""
    root = ET.fromstring(text.split("\n", 1)[1])  # past the DOCTYPE line
    symbols = {
        s.get("name"): {o.get("name"): o.get("value") for o in s.iter("Option") if o.get("name")}
        for s in root.iter("symbol")
    }
    return [
        {
            "label": r.get("label", ""),
            "filter": r.get("filter", ""),
            "colour": symbols[r.get("symbol")].get("color")
            or symbols[r.get("symbol")].get("line_color", ""),
        }
        for r in root.iter("rule")
    ]


def _fields_named(text: str) -> set[str]:
    """Every field a QML names: in its rule filters, labels, order and aliases."""
    root = ET.fromstring(text.split("\n", 1)[1])
    names = {m for r in root.iter("rule") for m in re.findall(r'"([^"]+)"', r.get("filter", ""))}
    names |= {t.get("fieldName", "") for t in root.iter("text-style")}
    names |= {m for c in root.iter("orderByClause") for m in re.findall(r'"([^"]+)"', c.text or "")}
    names |= {a.get("field", "") for a in root.iter("alias")}
    return names - {""}


def _matches(gpkg: Path, layer: str, rules: list[dict[str, str]]) -> tuple[list[int], int]:
    """How many features of ``layer`` each rule's filter selects (run as SQLite; ELSE
    rules left out), and how many no rule selects (an ELSE rule's share). Each feature is
    selected by one rule at most, but by an overlay (the overdue actions' red outline,
    drawn over their status colour on purpose)."""

    def overlay(rule: dict[str, str]) -> bool:
        return rule["label"].startswith("En retard")

    with closing(sqlite3.connect(gpkg)) as con:
        total = con.execute(f'SELECT count(*) FROM "{layer}"').fetchone()[0]
        own = [r for r in rules if r["filter"] != "ELSE"]
        counts = [
            con.execute(f'SELECT count(*) FROM "{layer}" WHERE {r["filter"]}').fetchone()[0]
            for r in own
        ]
        exclusive = [r["filter"] for r in own if not overlay(r)]
        none = con.execute(
            f'SELECT count(*) FROM "{layer}" WHERE NOT ({" OR ".join(exclusive) or "FALSE"})'
        ).fetchone()[0]
    shown = sum(n for n, r in zip(counts, own, strict=True) if not overlay(r))
    assert shown + none == total, f"{layer}: a feature matches two rules"
    return counts, none


# --------------------------------------------------------------------------- demo
@pytest.fixture(scope="module")
def demo(demo_run: Any) -> dict[str, tuple[Path, Published]]:
    """Each demo site's GeoPackage (written by ``vigie run``) and its published tables."""
    config = load_config(demo_run.config)
    out = {}
    for site in SITES:
        paths = SitePaths.of(config, site)
        out[site] = (paths.gpkg, read_published(paths.published))
    return out


def test_the_gpkg_output_is_published_under_the_comite_profile_by_default() -> None:
    for site in load_config(DEMO).sites:
        assert site.publication.outputs["gpkg"] == "comite"
    # The GeoPackage reads published/: its profile is one of the readers'.
    stricter = publication_settings({"outputs": {"gpkg": "public"}}, None, "x.toml")
    assert stricter.readers_profile == "public"


def test_the_layers_are_the_published_tables_in_wgs84(demo: dict[str, Any]) -> None:
    for site, (gpkg, published) in demo.items():
        expected = {"batiments": published.profile}
        for name, table in (
            ("zones", published.zones),
            ("densite", published.density),
            ("points", published.points),
            ("actions", published.actions),
        ):
            if table is not None and len(table):
                expected[name] = table
        listed = {str(name): str(kind) for name, kind in pyogrio.list_layers(gpkg)}
        assert set(listed) == {*expected, "layer_styles"}, site
        assert listed["batiments"] == "Polygon"
        for name, table in expected.items():
            info = pyogrio.read_info(gpkg, layer=name)
            assert info["crs"] == "EPSG:4326", (site, name)
            assert info["features"] == len(table), (site, name)
            columns = [c for c in table.columns if c != table.geometry.name]
            if name == "points":
                columns.insert(columns.index("category") + 1, "category_label")
            assert list(info["fields"]) == columns, (site, name)
        # The demo has a register (the simulator's): its actions are a layer.
        assert ("actions" in listed) == (
            published.actions is not None and len(published.actions) > 0
        )


def test_hidden_counts_stay_hidden(demo: dict[str, Any]) -> None:
    gpkg, published = demo["bondy"]
    profile = published.profile
    read = pyogrio.read_dataframe(gpkg, layer="batiments")
    assert Publication.of(published.site).profile == "comite"
    n_hidden = 0
    for flag in [c for c in profile.columns if c.endswith(FLAG_SUFFIX)]:
        column = flag[: -len(FLAG_SUFFIX)]
        mask = (profile[flag].astype("string") == HIDDEN_FLAG).fillna(False).to_numpy()
        n_hidden += int(mask.sum())
        assert (read[flag].astype("string").to_numpy()[mask] == HIDDEN_FLAG).all(), flag
        assert read[column][mask].isna().all(), f"{column}: a hidden value came back"
    assert n_hidden > 0, "the comité profile hides some of Bondy's counts"
    # Counts are integers where shown.
    shown = read["n_reports"].dropna()
    assert (shown == np.round(shown)).all()


def test_every_column_has_a_french_alias(demo: dict[str, Any]) -> None:
    for site, (gpkg, _) in demo.items():
        aliases = _aliases(gpkg)
        for name, _kind in pyogrio.list_layers(gpkg):
            if name == "layer_styles":
                continue
            fields = pyogrio.read_info(gpkg, layer=name)["fields"]
            titles = []
            for column in fields:
                assert (name, column) in aliases, (site, name, column)
                alias, title, description = aliases[(name, column)]
                assert alias == title, (name, column)
                assert alias != column, (name, column)
                titles.append(alias)
                if column.endswith(FLAG_SUFFIX):
                    assert "« s »" in (description or ""), column
            assert len(titles) == len(set(titles)), f"{name}: two columns share an alias"
        with closing(sqlite3.connect(gpkg)) as con:
            registered = {
                r[0]
                for r in con.execute(
                    "SELECT table_name FROM gpkg_extensions WHERE extension_name = 'gpkg_schema'"
                )
            }
        assert registered == {"gpkg_data_columns", "gpkg_data_column_constraints"}
    assert aliases[("batiments", "n_ascenseur")][0] == "Signalements : Ascenseur en panne"


def test_each_style_parses_names_existing_fields_and_draws_each_feature_once(
    demo: dict[str, Any],
) -> None:
    for site, (gpkg, _) in demo.items():
        styles = _styles(gpkg)
        layers = {name for name, _ in pyogrio.list_layers(gpkg)} - {"layer_styles"}
        assert {s[0] for s in styles} == layers
        for layer in layers:
            fields = set(pyogrio.read_info(gpkg, layer=layer)["fields"])
            own = [s for s in styles if s[0] == layer]
            assert sum(s[3] for s in own) == 1, f"{layer}: one default style"
            for _, name, text, _ in own:
                assert _fields_named(text) <= fields, (site, layer, name)
                rules = _rules(text)
                counts, _ = _matches(gpkg, layer, rules)
                assert len(counts) >= 1
        # The QML files beside the GeoPackage are the same styles.
        beside = {p.read_text(encoding="utf-8") for p in gpkg.parent.glob(f"{gpkg.stem}_*.qml")}
        assert beside == {s[2] for s in styles}
        assert qml_name(gpkg, "batiments").exists()


def test_the_buildings_are_drawn_in_the_map_s_colours(demo: dict[str, Any]) -> None:
    gpkg, published = demo["bondy"]
    styles = {name: text for layer, name, text, _ in _styles(gpkg) if layer == "batiments"}
    profile = published.profile
    # Gi*: one rule per bin in the map's RdBu colours, hidden bins on their own rule.
    gi = _rules(styles["Points chauds et froids (Gi*)"])
    by_label = {r["label"]: r for r in gi}
    for b, label in GI_LABELS_FR.items():
        assert by_label[label]["colour"] == rgba(GI_COLOURS[b]), label
    counts, _ = _matches(gpkg, "batiments", gi)
    shown = profile["gi_bin_flag"].astype("string") != HIDDEN_FLAG
    hidden_rule = next(i for i, r in enumerate(gi) if "masqué" in r["label"])
    assert counts[hidden_rule] == int((~shown).sum())
    for b, label in GI_LABELS_FR.items():
        i = next(i for i, r in enumerate(gi) if r["label"] == label)
        assert counts[i] == int(((profile["gi_bin"] == b) & shown).sum()), label
    # Counts (the map's opening view, the default): no hidden building is drawn as zero.
    count = _rules(styles["Nombre de signalements"])
    counts, none = _matches(gpkg, "batiments", count)
    assert none == 0
    zero = next(i for i, r in enumerate(count) if r["label"] == "Aucun signalement")
    n_reports = pd.to_numeric(profile["n_reports"], errors="coerce")
    hidden = profile["n_reports_flag"].astype("string") == HIDDEN_FLAG
    assert counts[zero] == int(((n_reports.fillna(0) == 0) & ~hidden).sum())
    assert counts[0] == int(hidden.sum()) > 0


def test_zones_and_density_as_on_the_map(demo: dict[str, Any]) -> None:
    gpkg, published = demo["bondy"]
    styles = {layer: text for layer, _, text, default in _styles(gpkg) if default}
    zone = _rules(styles["zones"])
    assert zone[0]["colour"] == rgba("#b2182b", 0.12)
    counts, _ = _matches(gpkg, "zones", zone)
    assert counts[0] == int(published.zones["has_enough_reports"].sum())
    density = _rules(styles["densite"])
    counts, none = _matches(gpkg, "densite", density)
    assert none == 0
    assert counts == [1] * len(published.density)


def test_qgis_opens_each_layer_styled(demo: dict[str, Any]) -> None:
    """QGIS itself (where Debian's python3-qgis is installed) opens every layer with its
    default style from ``layer_styles``, the French aliases, and selects with each rule's
    filter the features SQLite selects."""
    has_qgis = shutil.which(QGIS_PYTHON) and (
        subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True).returncode == 0
    )
    if not has_qgis:
        pytest.skip("QGIS absent (apt-get install python3-qgis to run this check)")
    for site, (gpkg, _) in demo.items():
        layers = [str(n) for n, _ in pyogrio.list_layers(gpkg) if n != "layer_styles"]
        done = subprocess.run(
            [QGIS_PYTHON, str(ROOT / "tests" / "qgis_check.py"), str(gpkg), *layers],
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
        seen = json.loads(done.stdout)
        defaults = {layer: text for layer, _, text, default in _styles(gpkg) if default}
        aliases = _aliases(gpkg)
        for layer in layers:
            info = seen[layer]
            assert info["valid"], (site, layer)
            assert info["crs"] == "EPSG:4326"
            assert info["renderer"] == "QgsRuleBasedRenderer", (site, layer)
            expected = _rules(defaults[layer])
            assert [r["label"] for r in info["rules"]] == [r["label"] for r in expected]
            assert all(not r["errors"] for r in info["rules"]), (site, layer)
            for r, e in zip(info["rules"], expected, strict=True):
                red, green, blue = (int(v) for v in e["colour"].split(",")[:3])
                assert r["colour"] == f"#{red:02x}{green:02x}{blue:02x}", (layer, r["label"])
            counts, _ = _matches(gpkg, layer, expected)
            assert [r["selected"] for r in info["rules"] if r["filter"] != "ELSE"] == counts
            assert info["aliases"] == {c: aliases[(layer, c)][0] for c in info["aliases"]}


def test_the_make_fragment_has_one_gpkg_rule_per_site() -> None:
    text = deps_fragment(load_config(DEMO))
    for site in SITES:
        (rule,) = [
            line for line in text.splitlines() if line.startswith(f"$(PROCESSED)/{site}/vigie_")
        ]
        targets, _, prereqs = rule.partition(": ")
        assert targets == f"$(PROCESSED)/{site}/vigie_{site}.gpkg"
        assert f"$$(PROCESSED)/{site}/published/site.json" in prereqs.split()
        assert "pipelines/maps/" in prereqs
        assert f"stage gpkg --config $(CFG) --site {site} " in text
    assert "vigie_" not in text.split("PROCESSED_FILES := ")[1]


# --------------------------------------------------------------------------- hand-made
def _square(x: float, y: float, d: float = 0.0002) -> shapely.Polygon:
    return shapely.box(x, y, x + d, y + d)


@pytest.fixture
def handmade() -> tuple[Published, gpd.GeoDataFrame]:
    """Three buildings (one hidden count), notes of every kind of geometry (and one without
    a position), and two actions, one overdue: as the publication step writes them."""
    crs = "EPSG:4326"
    profile = gpd.GeoDataFrame(
        {
            "building_id": ["way/1", "way/2", "way/3"],
            "dwellings": [10.0, None, 40.0],
            "n_reports": pd.array([4, None, 0], dtype="Int64"),
            "n_reports_flag": ["", "s", ""],
            "reports_per_100_dwellings": [40.0, None, 0.0],
            "gi_bin": [3.0, np.nan, 0.0],
            "gi_bin_flag": ["", "s", ""],
        },
        geometry=[_square(2.48, 48.91), _square(2.481, 48.91), _square(2.482, 48.91)],
        crs=crs,
    )
    notes = gpd.GeoDataFrame(
        {
            "note_id": ["n1", "n2", "n3", "n4"],
            "text": ["point", "surface", "ligne", "sans position"],
            "status": ["ouvert", "clos", "en cours", "ouvert"],
            "building_ids": [["way/1"], ["way/1", "way/2"], [], []],
            "orphan_flag": [None, None, None, "sans position"],
        },
        geometry=[
            shapely.Point(2.4801, 48.9101),
            shapely.MultiPolygon([_square(2.48, 48.91), _square(2.481, 48.91)]),
            shapely.LineString([(2.48, 48.91), (2.482, 48.911)]),
            None,
        ],
        crs=crs,
    )
    published = Published(
        profile=profile,
        monthly=pd.DataFrame(),
        points=gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=crs)),
        site={"publication": {"profile": "comite", "threshold": 3}},
        notes=notes,
    )
    actions = gpd.GeoDataFrame(
        {
            "action_id": ["A-1", "A-2"],
            "status": ["en cours", "réalisée"],
            "building_ids": ["way/1", "way/2;way/3"],
            "due_date": ["2024-01-31", None],
            "is_overdue": [True, False],
            "decision": ["Changer la porte", "Nettoyage"],
        },
        geometry=[_square(2.48, 48.91), _square(2.481, 48.91)],
        crs=crs,
    )
    return published, actions


def test_notes_are_split_by_geometry_and_actions_have_their_layer(
    handmade: tuple[Published, gpd.GeoDataFrame], tmp_path: Path
) -> None:
    published, actions = handmade
    layers = site_layers(published, actions=actions)
    dst = tmp_path / "vigie_test.gpkg"
    write_gpkg(
        layers,
        dst,
        descriptions={layer.name: layer.description for layer in layers},
        publication=Publication.of(published.site),
    )
    listed = {str(n): str(k) for n, k in pyogrio.list_layers(dst)}
    assert listed == {
        "batiments": "Polygon",
        "notes": "Point",
        "notes_surfaces": "MultiPolygon",
        "notes_lignes": "LineString",
        "actions": "Polygon",
        "layer_styles": "None",
    }
    notes = pyogrio.read_dataframe(dst, layer="notes")
    assert sorted(notes["note_id"]) == ["n1", "n4"]
    assert notes.geometry.isna().sum() == 1  # the note without a position is kept
    surfaces = pyogrio.read_dataframe(dst, layer="notes_surfaces")
    assert surfaces["building_ids"].tolist() == ["way/1; way/2"]
    # the overdue action has its red outline over its status colour
    overdue = next(
        r
        for r in _rules(qml_name(dst, "actions").read_text(encoding="utf-8"))
        if "retard" in r["label"]
    )
    counts, _ = _matches(dst, "actions", [overdue])
    assert counts == [1]
    # hidden values: NULL in the GeoPackage, drawn by the hidden rule only
    read = pyogrio.read_dataframe(dst, layer="batiments")
    assert read["n_reports"].isna().tolist() == [False, True, False]
    count = _rules(qml_name(dst, "batiments").read_text(encoding="utf-8"))
    counts, none = _matches(dst, "batiments", count)
    assert none == 0
    assert counts[0] == 1
    assert "< 3" in count[0]["label"]
    # a second run with fewer layers leaves no stale style file beside the GeoPackage
    write_gpkg(layers[:1], dst, descriptions={}, publication=Publication.of(published.site))
    left = {p.name for p in tmp_path.glob("*.qml")}
    assert left == {qml_name(dst, "batiments").name} | {
        qml_name(dst, "batiments", s.slug).name for s in layers[0].styles[1:]
    }
    assert {"vigie_test_batiments_taux.qml", "vigie_test_batiments_gi.qml"} <= left


def test_gpkg_ready_joins_lists_and_keeps_hidden_counts_empty() -> None:
    frame = gpd.GeoDataFrame(
        {
            "zone_ids": [["Z1", "Z2"], []],
            "n_reports": [2.0, np.nan],
            "gi_bin": [3.0, np.nan],
            "area_m2": [12.5, 3.0],
        },
        geometry=[shapely.Point(2.48, 48.91), shapely.Point(2.49, 48.91)],
        crs="EPSG:2154",
    )
    out = gpkg_ready(frame)
    assert out.crs == "EPSG:4326"
    assert out["zone_ids"].tolist()[0] == "Z1; Z2"
    assert pd.isna(out["zone_ids"].iloc[1])
    assert str(out["n_reports"].dtype) == "Int64"
    assert pd.isna(out["n_reports"].iloc[1])
    assert str(out["gi_bin"].dtype) == "Int64"
    assert out["area_m2"].tolist() == [12.5, 3.0]


def test_aliases_of_category_and_flag_columns() -> None:
    assert column_alias("n_nuisibles") == "Signalements : Nuisibles"
    assert column_alias("n_nuisibles_flag") == "Signalements : Nuisibles : masqué (s)"
    assert column_alias("gi_bin_ascenseur") == "Gi* Ascenseur en panne (classe)"
    assert column_alias("status", "notes") != column_alias("status", "zones")
    assert column_alias("unknown_column") is None
