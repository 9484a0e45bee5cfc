"""Meeting maps, unit tier: classes, periods, fact sheet, escaping, layers drawn or skipped,
offline basemap, static PNG and index page. Hand-made frames over the real Bondy buildings
(known answers), and the real OSM extracts for the basemap."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon

from pipelines import publish
from pipelines.annotations.link import link_annotations
from pipelines.config import Config, SiteConfig, SourceConfig
from pipelines.crs import LAMBERT93, WGS84
from pipelines.maps import site as maps
from pipelines.maps.html import building_fact_sheet, footer_html, sparkline_svg
from pipelines.maps.index import index_page, run_index, site_trend
from pipelines.maps.png import nice_scale_length, write_site_png
from pipelines.maps.views import (
    BASEMAP_STYLES,
    LAND_COLOUR,
    count_classes,
    monthly_counts,
    nice_number,
    rate_classes,
    window_text,
)
from pipelines.osm.basemap import KINDS, basemap_features, classify_features, read_osm_basemap
from pipelines.osm.buildings import read_osm_bounds, read_osm_buildings
from pipelines.publish.build import before_after_of, with_trend_results
from pipelines.publish.tables import monthly_table
from pipelines.taxonomy import CODES
from pipelines.zones.stage import assign_zone_ids, hot_zones
from tests.conftest import RAW, map_data_of, published_for, site_map_of

BONDY_OSM = RAW / "bondy" / "bondy_nord.osm"
PARIS_OSM = RAW / "paris10" / "paris10.osm"
XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_NAME = "<img src=x onerror=alert(2)>"
#: A planner's note text with markup: shown as text, never as HTML.
XSS_NOTE = "Cave <b>à fermer</b> & <script>alert(3)</script>"
NOTE_TAGS = ("priorité avant travaux", "à surveiller", "traité")


# --------------------------------------------------------------------------- hand-made site
def handmade_site() -> dict[str, object]:
    """Real Bondy footprints with a few hand-placed reports whose answers are known.

    Buildings A, B, C are the three largest footprints. Reports (2024):
    A: 3 × propreté in January (+ 1 likely duplicate), 1 × ascenseur in February and
    1 in March; B: 2 × encombrants in March whose descriptions are XSS payloads, and B's
    OSM name is one too; C: 1 walkthrough observation in February; one report far from
    any building. A is a 99 % hotspot and chronic, B a 95 % cold spot.
    """
    b = read_osm_buildings(BONDY_OSM)
    area = b.to_crs(LAMBERT93).area
    a_i, b_i, c_i = area.sort_values(ascending=False).index[:3]
    ids = {k: b.loc[i, "building_id"] for k, i in (("A", a_i), ("B", b_i), ("C", c_i))}
    pts = b.geometry.representative_point()
    at = {k: pts.loc[i] for k, i in (("A", a_i), ("B", b_i), ("C", c_i))}
    west, south, _, _ = b.total_bounds
    rows = [
        ("A", "proprete", "2024-01-05 10:00", "Hall sale", "reports", None),
        ("A", "proprete", "2024-01-05 11:00", "Hall sale (bis)", "reports", "r0"),
        ("A", "proprete", "2024-01-12 09:00", "Escalier sale", "reports", None),
        ("A", "proprete", "2024-01-20 09:00", "", "reports", None),
        ("A", "ascenseur", "2024-02-03 08:00", "Ascenseur bloqué", "reports", None),
        ("A", "ascenseur", "2024-03-15 08:00", "Ascenseur bloqué", "reports", None),
        ("B", "encombrants", "2024-03-02 14:00", XSS_SCRIPT, "reports", None),
        ("B", "encombrants", "2024-03-20 16:00", XSS_IMG, "reports", None),
        ("C", "degradation", "2024-02-10 10:00", "Porte cassée", "observations", None),
        (None, "autre", "2024-02-11 10:00", "Loin de tout", "reports", None),
    ]
    geoms = [at[k] if k else Point(west - 0.01, south - 0.01) for k, *_ in rows]
    # B's two reports a few metres apart, so that each shows as its own marker up close.
    geoms[6] = Point(at["B"].x - 0.00008, at["B"].y)
    geoms[7] = Point(at["B"].x + 0.00008, at["B"].y)
    reports = gpd.GeoDataFrame(
        {
            "report_id": [f"r{i}" for i in range(len(rows))],
            "source": ["bailleur" if r[4] == "reports" else "diagnostic" for r in rows],
            "source_kind": [r[4] for r in rows],
            "category": [r[1] for r in rows],
            "description": [r[3] for r in rows],
            "reported_at": pd.to_datetime([r[2] for r in rows]),
            "building_id": pd.Series([ids[r[0]] if r[0] else None for r in rows], dtype="string"),
            "duplicate_of": pd.Series([r[5] for r in rows], dtype="string"),
        },
        geometry=geoms,
        crs=WGS84,
    )
    counted = reports[
        reports["building_id"].notna()
        & (reports["source_kind"] == "reports")
        & reports["duplicate_of"].isna()
    ]
    table = pd.crosstab(counted["building_id"], counted["category"]).reindex(
        index=b["building_id"], columns=list(CODES), fill_value=0
    )
    out = b.copy()
    for c in CODES:
        out[f"n_{c}"] = table[c].to_numpy()
    out["n_reports"] = table.sum(axis=1).to_numpy()
    out["n_observations"] = (out["building_id"] == ids["C"]).astype(int)
    out["dwellings"] = np.nan
    out.loc[a_i, "dwellings"] = 50.0
    out.loc[c_i, "dwellings"] = 10.0
    out["dwellings_source"] = pd.Series(pd.NA, index=out.index, dtype="string")
    out.loc[[a_i, c_i], "dwellings_source"] = "rpls"
    out["reports_per_100_dwellings"] = 100 * out["n_reports"] / out["dwellings"]
    out["gi_bin"] = 0
    out.loc[a_i, "gi_bin"] = 3
    out.loc[b_i, "gi_bin"] = -2
    out["emerging_category"] = "no_pattern"
    out.loc[a_i, "emerging_category"] = "intensifying"
    out["is_chronic"] = out.index == a_i
    out["open_backlog"] = 0
    out.loc[a_i, "open_backlog"] = 2
    out["name"] = out["name"].astype(object)
    out.loc[b_i, "name"] = XSS_NAME
    chronic = pd.DataFrame(
        {
            "building_id": [ids["A"]],
            "category": ["proprete"],
            "category_label": ["Propreté des parties communes"],
            "n_reports_in_window": [3],
            "window_days": [90],
            "first_date": ["2024-01-05"],
            "last_date": ["2024-01-20"],
            "dates": ["2024-01-05, 2024-01-12, 2024-01-20"],
        }
    )
    zones = assign_zone_ids(hot_zones(out), None)  # A, the only building with gi_bin ≥ 2
    far = Point(at["A"].x + 0.004, at["A"].y + 0.004)  # a shed of way/1, gone from OSM
    notes = gpd.GeoDataFrame(
        {
            "note_id": ["n-a", "n-zone", "n-orphan", "n-deleted"],
            "site": ["essai"] * 4,
            "author": ["Mme Durand", "M. Diallo", "M. Diallo", "Mme Durand"],
            "text": [XSS_NOTE, "Rondes de nuit", "Appentis démoli", "Note supprimée"],
            "tag": ["priorité avant travaux", "à surveiller", "traité", "traité"],
            "status": ["ouvert", "en cours", "clos", "supprimé"],
            "created_at": pd.to_datetime(
                ["2024-06-03 09:00", "2024-06-04 09:00", "2024-06-05 09:00", "2024-06-06 09:00"],
                utc=True,
            ),
            "updated_at": pd.to_datetime([None] * 4, utc=True),
            "building_id": [ids["A"], None, "way/1", ids["A"]],
            "zone_id": [None, "Z1", None, None],
        },
        geometry=[at["A"], None, far, at["A"]],
        crs=WGS84,
    )
    ring = gpd.GeoSeries([at["A"]], crs=WGS84).to_crs(LAMBERT93)
    kde = gpd.GeoDataFrame(
        {
            "band": [0, 1],
            "density_min_per_ha": [1.0, 2.0],
            "density_max_per_ha": [2.0, 3.5],
            "label": ["1 à 2 signalements / ha", "2 signalements / ha et plus"],
        },
        geometry=[
            ring.buffer(120).iloc[0].difference(ring.buffer(60).iloc[0]),
            ring.buffer(60).iloc[0],
        ],
        crs=LAMBERT93,
    ).to_crs(WGS84)
    return {
        "buildings": out,
        "reports": reports,
        "chronic": chronic,
        "kde": kde,
        "ids": ids,
        "perimeter": read_osm_bounds(BONDY_OSM),
        "zones": zones,
        "notes": link_annotations(notes, out, zones),
    }


@pytest.fixture(scope="module")
def site() -> dict[str, object]:
    return handmade_site()


@pytest.fixture(scope="module")
def bondy_basemap() -> gpd.GeoDataFrame:
    return read_osm_basemap(BONDY_OSM)


# --------------------------------------------------------------------------- classes
def test_nice_numbers_are_round() -> None:
    assert nice_number(6.81) == 5.0
    assert nice_number(46.4) == 50.0
    assert nice_number(0.87) == pytest.approx(1.0)
    assert nice_number(2.64) == 3.0
    assert nice_number(0) == 0.0


def test_count_classes_known_answers() -> None:
    # Non-zero counts 1, 1, 4, 316: 3 distinct values, bounds 1, 316^(1/3) ≈ 6.8 → 5,
    # 316^(2/3) ≈ 46 → 50.
    c = count_classes(pd.Series([0, 1, 1, 4, 316]))
    assert c.bounds == (1, 5, 50)
    assert c.labels == ("1 à 4", "5 à 49", "50 et plus")
    assert c.colours == maps.PALETTE[-3:]
    assert c.colour(0) == maps.ZERO_COLOUR
    assert c.colour(4) == c.colours[0]
    assert c.colour(5) == c.colours[1]
    assert c.colour(316) == c.colours[2]
    assert count_classes(pd.Series([0, 1, 1])).labels == ("1",)
    assert count_classes(pd.Series([0, 0])).labels == ("1 et plus",)


def test_rate_classes_known_answers() -> None:
    c = rate_classes(pd.Series([0.5, 1, 2, 4, 8, None, 0]))
    assert c.bounds == (0.0, 1.0, 2.0, 3.0, 5.0)
    assert c.labels[0] == "moins de 1"
    assert c.labels[-1] == "5 et plus"
    assert rate_classes(pd.Series([0.25, 0.5])).labels == ("moins de 0,3", "0,3 et plus")


# --------------------------------------------------------------------------- time
def test_monthly_counts_skip_duplicates_observations_and_unplaced(site) -> None:  # type: ignore[no-untyped-def]
    b, r, ids = site["buildings"], site["reports"], site["ids"]
    months = pd.period_range("2024-01", "2024-03", freq="M")
    m = monthly_counts(monthly_table(r), b, months)
    assert m.index.equals(b.index)
    row = m[b["building_id"] == ids["A"]].iloc[0].tolist()
    assert row == [3, 1, 1]
    assert m[b["building_id"] == ids["B"]].iloc[0].tolist() == [0, 0, 2]
    assert m[b["building_id"] == ids["C"]].iloc[0].tolist() == [0, 0, 0]
    assert int(m.to_numpy().sum()) == int(b["n_reports"].sum()) == 7


def test_before_after_windows_are_those_of_the_trends_stage(site) -> None:  # type: ignore[no-untyped-def]
    b, r, ids = site["buildings"], site["reports"], site["ids"]
    months = pd.period_range("2024-01", "2024-03", freq="M")
    a_row, b_row = b["building_id"] == ids["A"], b["building_id"] == ids["B"]
    # The last month against the one before: March vs February.
    assert len(months) == 3  # the reports' months, from which the windows are placed
    ch, (before, after) = before_after_of(b, r, compare_months=1)  # type: ignore[misc]
    assert ch.index.equals(b.index)
    assert window_text(after.as_dict()) == "du 01/03/2024 au 31/03/2024"
    assert window_text(before.as_dict()) == "du 01/02/2024 au 29/02/2024"
    assert ch[a_row].iloc[0].tolist() == [1, 1, 0]
    assert ch[b_row].iloc[0].tolist() == [0, 2, 2]
    # Windows from the configuration: ISO dates, end included.
    ch, (before, after) = before_after_of(  # type: ignore[misc]
        b, r, before=["2024-01-01", "2024-01-31"], after=["2024-03-01", "2024-03-31"]
    )
    assert ch[a_row].iloc[0].tolist() == [3, 1, -2]
    assert int(ch["n_reports_before"].sum()) == 3
    assert int(ch["n_reports_after"].sum()) == 3


# --------------------------------------------------------------------------- fact sheet
def test_sparkline_bars_and_title() -> None:
    months = list(pd.period_range("2024-01", "2024-12", freq="M"))
    counts = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 28]
    svg = sparkline_svg(counts, months)
    bars = re.findall(r"M(\d+) 30v-(\d+)h11v\d+z", svg)
    assert len(bars) == 12
    heights = [int(h) for _, h in bars]
    assert heights[-1] == 28
    assert heights[0] == 1
    assert heights == sorted(heights)
    assert "de janv. 2024 à déc. 2024 : 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 28" in svg
    assert "max 28" in svg
    with pytest.raises(ValueError, match="valeurs"):
        sparkline_svg([1, 2], months)


def test_fact_sheet_fields_and_escaping() -> None:
    months = list(pd.period_range("2024-01", "2024-03", freq="M"))
    row = pd.Series(
        {
            "building_id": "way/1",
            "name": XSS_NAME,
            "operator": "Bailleur & Cie",
            "dwellings": 120.0,
            "dwellings_source": "rpls",
            "n_reports": 5,
            "n_ascenseur": 4,
            "n_proprete": 1,
            "reports_per_100_dwellings": 4.1666,
            "gi_bin": 3,
            "emerging_category": "intensifying",
            # as published: the statistic's French label arrives with its code
            "emerging_label_fr": "Point chaud en intensification",
            "open_backlog": 2,
            "Nom du demandeur": "Mme Fatou Doucouré",
            "telephone": "0199004772",
        }
    )
    html = building_fact_sheet(
        row, period="du 01/01/2024 au 31/03/2024", months=months, monthly=[1, 0, 4],
        chronic=["Ascenseur en panne : 3 signalements en 90 jours", XSS_SCRIPT],
    )  # fmt: skip
    assert XSS_NAME not in html
    assert XSS_SCRIPT not in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<th>Gestionnaire (OSM)</th><td>Bailleur &amp; Cie</td>" in html
    assert "120 (RPLS)" in html
    assert "4,2 pour 100 logements" in html
    assert "Point chaud, confiance 99 %" in html
    assert "Point chaud en intensification" in html
    assert "<tr><th>Non clos à ce jour</th><td>2</td></tr>" in html
    assert "<tr><td>Ascenseur en panne</td><td>4</td></tr>" in html
    assert "<svg" in html
    assert "Problèmes chroniques" in html
    # Only building facts: a personal column of the row never reaches the popup.
    assert "Doucouré" not in html
    assert "0199004772" not in html


def test_fact_sheet_title_falls_back_to_size() -> None:
    row = pd.Series({"building_id": "way/2", "dwellings": 270.0, "n_reports": 0})
    assert "<h4>Bâtiment de 270 logements</h4>" in building_fact_sheet(row)
    assert "<h4>Bâtiment sans adresse connue</h4>" in building_fact_sheet(
        pd.Series({"building_id": "way/3", "n_reports": 0})
    )


# --------------------------------------------------------------------------- data block
def test_map_data_draws_every_layer_with_its_columns(site, bondy_basemap) -> None:  # type: ignore[no-untyped-def]
    b, ids = site["buildings"], site["ids"]
    d = map_data_of(
        b, site["reports"], site_name="Essai", basemap=bondy_basemap, kde=site["kde"],
        chronic=site["chronic"], perimeter=site["perimeter"], zones=site["zones"],
        annotations=site["notes"],
    )  # fmt: skip
    assert [v["id"] for v in d["views"]] == ["count", "rate", "gi", "emerging", "change"]
    assert d["notes"] == []
    gi = next(v for v in d["views"] if v["id"] == "gi")
    by_label = {c["l"]: c["n"] for c in gi["classes"]}
    assert by_label["Point chaud, confiance 99 %"] == 1
    assert by_label["Point froid, confiance 95 %"] == 1
    assert by_label["Non significatif"] == len(b) - 2
    a = int(np.flatnonzero(b["building_id"] == ids["A"])[0])
    assert gi["classes"][gi["k"][a]]["c"] == maps.GI_COLOURS[3]
    assert d["b"]["chronic"][a] == 1
    assert sum(d["b"]["chronic"]) == 1
    assert d["b"]["n"][a] == 5
    assert d["b"]["dw"][a] == 50.0
    assert d["monthly"]["c"][d["monthly"]["i"].index(a)] == [3, 1, 1]
    assert d["months"] == ["janv. 2024", "févr. 2024", "mars 2024"]
    # Report markers: no duplicate, no observation; the far report is shown, unplaced.
    r = d["reports"]
    assert r["mode"] == "points"
    assert r["total"] == 8
    assert sum(len(c["idx"]) for c in d["categories"]) == 8
    assert r["b"].count(None) == 1
    assert d["obs"] is not None
    assert len(d["obs"]["lat"]) == 1
    assert d["kde"]["labels"] == ["1 à 2 signalements / ha", "2 signalements / ha et plus"]
    assert "quartique" in d["kde"]["caption"]
    assert len(d["basemap"]["geojson"]["features"]) == len(bondy_basemap)
    assert d["tiles"] is None
    assert "Propreté des parties communes : 3 signalements en 90 jours" in d["b"]["fiche"][a]


def test_map_data_skips_missing_layers_with_a_french_note(site) -> None:  # type: ignore[no-untyped-def]
    b = site["buildings"].drop(
        columns=[
            "gi_bin",
            "emerging_category",
            "is_chronic",
            "dwellings",
            "reports_per_100_dwellings",
        ]
    )
    d = map_data_of(b, site["reports"], site_name="Essai")
    assert [v["id"] for v in d["views"]] == ["count", "change"]
    notes = " ".join(d["notes"])
    for words in ("Points chauds (Gi*) : non calculés", "Tendances des points chauds",
                  "Taux pour 100 logements : non disponible", "Densité (noyau quartique)",
                  "Problèmes chroniques", "Fond de plan : indisponible",
                  "Zones de points chauds : non calculées"):  # fmt: skip
        assert words in notes
    assert d["kde"] is None
    assert d["chronic"] is None
    assert d["basemap"] is None
    assert d["zones"] is None
    assert d["annotations"] is None
    assert "Notes des urbanistes" not in "".join(d["b"]["fiche"])
    # Building features carry their id for the annotation mode, and no zone.
    props = [f["properties"] for f in d["buildings"]["features"]]
    assert [p["building_id"] for p in props] == b["building_id"].tolist()
    assert not any("zone_id" in p for p in props)
    # A zones file without any zone: no layer, and the legend says why.
    none = map_data_of(b, site["reports"], site_name="Essai", zones=site["zones"].iloc[:0])
    assert none["zones"] is None
    assert any("Zones de points chauds : aucune" in n for n in none["notes"])


def test_many_reports_are_aggregated_per_building_and_category(site) -> None:  # type: ignore[no-untyped-def]
    d = map_data_of(
        site["buildings"],
        site["reports"],
        site_name="Essai",
        options=maps.MapOptions(max_report_points=3),
    )
    r = d["reports"]
    assert r["mode"] == "aggregated"
    # A: propreté (3, the duplicate dropped) and ascenseur (2); B: encombrants (2); the far one.
    assert sorted(r["n"]) == [1, 2, 2, 3]
    assert sum(r["n"]) == r["total"] == 8
    assert "regroupés" in r["note"]


def test_before_after_periods_from_the_configuration(site) -> None:  # type: ignore[no-untyped-def]
    trends = {"compare_before": ["2024-01-01", "2024-01-31"],
              "compare_after": ["2024-03-01", "2024-03-31"]}  # fmt: skip
    d = map_data_of(site["buildings"], site["reports"], site_name="Essai", trends=trends)
    view = next(v for v in d["views"] if v["id"] == "change")
    assert "du 01/03/2024 au 31/03/2024" in view["caption"]
    a = int(np.flatnonzero(site["buildings"]["building_id"] == site["ids"]["A"])[0])
    assert (d["change"]["nb"][a], d["change"]["na"][a]) == (3, 1)
    assert view["classes"][view["k"][a]]["l"].startswith("−")


# --------------------------------------------------------------------------- page
@pytest.fixture(scope="module")
def rendered(site, bondy_basemap) -> str:  # type: ignore[no-untyped-def]
    m = site_map_of(
        site["buildings"], site["reports"], site_name="Essai <b>", simulated=True,
        attributions=["osm", "ban", "rpls"], basemap=bondy_basemap, kde=site["kde"],
        chronic=site["chronic"], perimeter=site["perimeter"],
    )  # fmt: skip
    return maps.render_map(m)


def test_page_is_offline_escaped_and_credited(rendered: str) -> None:
    from pipelines.maps.assets import find_network_references

    assert find_network_references(rendered) == []
    assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']https?:", rendered)
    # The payloads are nowhere raw, only escaped.
    assert XSS_SCRIPT not in rendered
    assert XSS_IMG not in rendered
    assert XSS_NAME not in rendered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered
    assert "Vigie · Essai &lt;b&gt;" in rendered
    assert "données simulées" in rendered
    for words in ("ODbL", "Base Adresse Nationale", "Licence Ouverte", "RPLS"):
        assert words in rendered
    assert "tile.openstreetmap.org" not in rendered


def test_data_block_cannot_close_its_script() -> None:
    text = maps.data_json({"t": "</script><!-- x", "u": "a</b>"})
    assert "</" not in text
    assert "<!--" not in text
    assert json.loads(text) == {"t": "</script><!-- x", "u": "a</b>"}


def test_online_tiles_only_when_asked(site) -> None:  # type: ignore[no-untyped-def]
    m = site_map_of(
        site["buildings"], site["reports"], site_name="Essai", simulated=False,
        attributions=["osm"], options=maps.MapOptions(online_tiles=True),
    )  # fmt: skip
    html = maps.render_map(m)
    assert "https://tile.openstreetmap.org/{z}/{x}/{y}.png" in html
    assert "GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2" in html


# --------------------------------------------------------------------------- basemap
def test_classify_basemap_features() -> None:
    square = Polygon([(0, 0), (0, 1), (1, 1), (1, 0)])
    line = LineString([(0, 0), (1, 1)])
    raw = gpd.GeoDataFrame(
        {
            "highway": ["primary", "footway", "bus_stop", None, None, None, "residential"],
            "railway": [None, None, None, "rail", None, None, None],
            "tunnel": [None, None, None, "yes", None, None, None],
            "leisure": [None, None, None, None, "park", None, None],
            "natural": [None, None, None, None, None, "water", None],
        },
        geometry=[line, line, Point(0, 0), line, square, square, square],
        crs=WGS84,
    )
    cls = classify_features(raw)
    assert cls.index.equals(raw.index)
    assert cls["layer"].tolist()[:2] == ["street", "street"]
    assert cls["kind"].tolist()[:2] == ["major", "path"]
    assert cls["layer"].isna().tolist() == [False, False, True, True, False, False, True]
    assert cls["kind"].iloc[4] == "green"
    assert cls["kind"].iloc[5] == "water"


def test_bondy_basemap_is_read_offline_and_clipped(bondy_basemap: gpd.GeoDataFrame) -> None:
    bm = bondy_basemap
    assert bm.crs.to_epsg() == 4326
    assert set(bm["kind"]) <= set(KINDS)
    assert set(KINDS) == set(BASEMAP_STYLES)  # every kind the stage writes has a style
    # The canal de l'Ourcq and the streets of the extract, by class.
    assert (bm["kind"] == "waterway").sum() >= 1
    assert (bm["kind"] == "water").sum() >= 1
    assert {"major", "medium", "minor", "service", "path"} <= set(bm["kind"])
    lines = bm[bm["layer"] == "street"].geom_type.isin(["LineString", "MultiLineString"])
    assert lines.all()
    west, south, east, north = read_osm_bounds(BONDY_OSM)
    x0, y0, x1, y1 = bm.total_bounds
    margin = 0.0015  # 60 m is under 0.001° here
    assert x0 >= west - margin
    assert x1 <= east + margin
    assert y0 >= south - margin
    assert y1 <= north + margin


def test_paris_basemap_leaves_underground_railways_out() -> None:
    bm = read_osm_basemap(PARIS_OSM)
    assert "rail" not in set(bm["kind"])  # the RER/metro ways of the extract are all tunnels
    assert (bm["kind"] == "green").sum() >= 3  # squares and gardens of the 10e


def test_basemap_without_any_feature_is_empty() -> None:
    raw = gpd.GeoDataFrame({"highway": ["bus_stop"]}, geometry=[Point(2.4, 48.9)], crs=WGS84)
    out = basemap_features(raw, bounds=(2.39, 48.89, 2.41, 48.91))
    assert out.empty
    assert list(out.columns) == ["layer", "kind", "name", "geometry"]


# --------------------------------------------------------------------------- PNG and index
def test_scale_bar_lengths_are_round() -> None:
    assert nice_scale_length(1000) == 200
    assert nice_scale_length(100) == 20
    assert nice_scale_length(50) == 10
    assert nice_scale_length(7000) == 2000


def test_static_png_map(site, bondy_basemap, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import matplotlib.image

    published = published_for(site["buildings"], site["reports"])
    dst = write_site_png(
        published.profile, tmp_path / "bondy.png", site_name="Essai",
        period=maps.period_text(published), simulated=True, attributions=["osm"],
        basemap=bondy_basemap,
    )  # fmt: skip
    img = matplotlib.image.imread(dst)
    assert img.shape[:2] == (1125, 1800)
    rgb = np.round(img[..., :3] * 255).astype(np.int64)
    colours = set(np.unique((rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]).tolist())

    def has(hex_colour: str) -> bool:
        return int(hex_colour[1:], 16) in colours

    # A (5 reports) and B (2) share the top class (bounds 1 and 2); the land under the
    # basemap, grey buildings without reports, the red "données simulées" badge.
    assert has(maps.PALETTE[-1])
    assert has(LAND_COLOUR)
    assert has(maps.ZERO_COLOUR)
    assert has("#b00020")


def test_site_trend_reads_the_summary() -> None:
    assert site_trend({}) is None
    assert site_trend({"trends": {"monthly": {"trend": "hausse", "p": 0.01}}}) == "up"
    assert site_trend({"trends": {"mann_kendall": {"z": -3.1, "p": 0.002}}}) == "down"
    assert site_trend({"trends": {"z": 1.0, "p": 0.3}}) == "flat"
    assert site_trend({"trends": {"monthly": {"mann_kendall": {"trend": "aucune"}}}}) == "flat"
    headline = {"trend": "hausse", "direction": "up", "trend_fr": "hausse de 3 par mois"}
    assert site_trend({"trends": {"headline": headline}}) == "up"


def test_index_page_links_documents_relative_to_maps(tmp_path: Path, site) -> None:  # type: ignore[no-untyped-def]
    processed = tmp_path / "data" / "processed"
    maps_dir = tmp_path / "maps"
    s = processed / "essai"
    (s / "charts").mkdir(parents=True)
    maps_dir.mkdir()
    b = site["buildings"]
    b.to_parquet(s / "buildings.parquet")
    site["reports"].to_parquet(s / "reports.parquet")
    (s / "quality.html").write_text("q", encoding="utf-8")
    (s / "charts" / "monthly_reports.png").write_bytes(b"png")
    (s / "run_summary.json").write_text(
        json.dumps({"trends": {"monthly": {"trend": "baisse"}}}), encoding="utf-8"
    )
    (maps_dir / "essai.png").write_bytes(b"png")
    (maps_dir / "essai").mkdir()  # the map stage's copy of the charts, under maps/
    (maps_dir / "essai" / "batiments_les_plus_signales.png").write_bytes(b"png")
    site_cfg = SiteConfig(
        id="essai", name="Essai <i>", osm=str(BONDY_OSM), simulated=True,
        sources=(SourceConfig(id="x", kind="reports", path="x.csv"),),
    )  # fmt: skip
    cfg = Config(
        path="t.toml", sites=(site_cfg,), processed_dir=str(processed), maps_dir=str(maps_dir)
    )
    publish.run(cfg, site_cfg, processed=s, dst_dir=s / "published")
    out = run_index(cfg, dst=maps_dir / "index.html")
    html = out.read_text(encoding="utf-8")
    hrefs = re.findall(r"href='([^']+)'", html)
    assert "essai.html" in hrefs
    assert "essai.png" in hrefs
    assert "../data/processed/essai/quality.html" in hrefs
    # the charts from under maps/, never from the processed folder a copy of maps/ loses
    assert "essai/batiments_les_plus_signales.png" in hrefs
    assert not any("charts/" in h for h in hrefs)
    assert not any("method_note" in h for h in hrefs)  # absent, so not linked
    assert "Essai &lt;i&gt;" in html
    assert "Essai <i>" not in html
    assert "↓" in html
    assert "données simulées" in html
    # Key figures: 7 counted reports on 2 buildings, 1 hotspot at ≥ 95 %.
    row = re.search(r"<tbody>(.*?)</tbody>", html, re.S).group(1)  # type: ignore[union-attr]
    cells = re.findall(r"<td class='n'>([^<]*)</td>", row)
    assert cells == ["7", "2", "1"]
    assert "@media print" in html


def test_index_page_without_statistics_says_so() -> None:
    html = index_page([{"name": "X", "map": "x.html", "reports": 3, "hotspots_95": None}])
    assert "non calculés" in html
    assert "non calculée" in html


def test_a_hidden_figure_of_the_index_says_why_under_the_table() -> None:
    """A total the publication rule hides reads « s » in the index's table, and the note
    under the table says what « s » is, with the site's threshold (before: Paris's
    reports read « s » and nothing on the page explained it); said per site where their
    thresholds differ, and not at all when nothing is hidden."""
    from pipelines.published import Publication

    paris = {
        "name": "Paris 10e",
        "map": "p.html",
        "reports": "s",
        "hotspots_95": 0,
        "buildings_with_reports": 80,
        "secret_fr": Publication("comite", 11).reason_fr,
    }
    bondy = {
        "name": "Bondy",
        "map": "b.html",
        "reports": 7025,
        "hotspots_95": 50,
        "buildings_with_reports": 355,
        "secret_fr": Publication("comite", 3).reason_fr,
    }
    html = index_page([bondy, paris])
    cells = re.findall(r"<td class='n'>(.*?)</td>", html)
    abbr = "<abbr title='valeur masquée (secret statistique), voir sous le tableau'>s</abbr>"
    assert abbr in cells
    assert (
        "« s » : masqué (secret statistique) : moins de 11 ménages, ou pour ne pas être "
        "déduit des totaux ; une valeur masquée n'est jamais ajoutée dans un total." in html
    )
    assert "moins de 3 ménages" not in html  # Bondy hides nothing in the table
    assert "secret statistique" not in index_page([bondy])
    both = index_page([{**bondy, "buildings_with_reports": "s"}, paris])
    assert "« s » (Bondy) : masqué (secret statistique) : moins de 3 ménages" in both
    assert "« s » (Paris 10e) : masqué (secret statistique) : moins de 11 ménages" in both


def test_an_unknown_attribution_key_is_named_in_french_escaped_and_warned(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A key of a site's ``attribution`` the package does not know (a typo, or a source
    added without its licence) is no bare key in the sources of a map, a pack or the
    index: a French sentence names it, escaped, and the log says which keys are known."""
    hostile = "<img src=x onerror=alert(1)>"
    with caplog.at_level("WARNING", logger="pipelines.maps.html"):
        footer = str(footer_html(["ban", "bailleur_x", hostile]))
    assert "Adresses : Base Adresse Nationale" in footer
    assert "Source « bailleur_x » (licence non précisée)" in footer
    assert "<img" not in footer
    assert "Source « &lt;img src=x onerror=alert(1)&gt; » (licence non précisée)" in footer
    assert "bailleur_x" in caplog.text
    assert "osm, ban, rpls, dansmarue" in caplog.text
    row = {"name": "X", "map": "x.html", "reports": 3, "hotspots_95": None,
           "attribution": ["osm", "bailleur_x"]}  # fmt: skip
    index = index_page([row])
    assert "Source « bailleur_x » (licence non précisée)" in index
    assert not re.search(r"[>\s]bailleur_x<", index)


def test_round_geometries_keep_shapes(site) -> None:  # type: ignore[no-untyped-def]
    from pipelines.maps.layers import round_geometries

    b = site["buildings"].head(50)
    rounded = round_geometries(b.geometry, 6, tolerance=0.0000015)
    moved = shapely.hausdorff_distance(
        gpd.GeoSeries(rounded, crs=WGS84).to_crs(LAMBERT93).to_numpy(),
        b.geometry.to_crs(LAMBERT93).to_numpy(),
    )
    assert float(np.max(moved)) < 0.5  # metres


def test_trend_stage_outputs_enrich_the_fact_sheets(site) -> None:  # type: ignore[no-untyped-def]
    b, ids = site["buildings"].drop(columns=["emerging_category", "open_backlog"]), site["ids"]
    emerging = pd.DataFrame(
        {
            "building_id": [ids["A"], ids["B"]],
            "emerging_category": ["new", "no_pattern"],
            "emerging_label_fr": ["Nouveau point chaud", "Aucune tendance"],
        }
    )
    followup = pd.DataFrame(
        {
            "level": ["category", "building"],
            "key": ["ascenseur", ids["A"]],
            "n_open": [4, 2],
            "median_delay_h": [30.0, 72.0],
        }
    )
    out = with_trend_results(b, emerging=emerging, followup=followup)
    assert out.index.equals(b.index)
    a = out[out["building_id"] == ids["A"]].iloc[0]
    assert a["emerging_category"] == "new"
    assert a["open_backlog"] == 2
    assert a["median_delay_h"] == 72.0
    assert out["open_backlog"].notna().sum() == 1
    html = building_fact_sheet(a)
    assert "Nouveau point chaud" in html
    assert "<th>Délai médian de clôture</th><td>3,0 jours</td>" in html
    # Columns the frame already has are kept as they are.
    kept = with_trend_results(site["buildings"], emerging=emerging)
    assert kept["emerging_category"].equals(site["buildings"]["emerging_category"])


def test_building_titles_follow_the_chart_labels(site) -> None:  # type: ignore[no-untyped-def]
    from pipelines.maps.data import building_titles

    b, r, ids = site["buildings"], site["reports"].copy(), site["ids"]
    # What geocoding matched (a known address), not the text the reports give.
    r["address"] = None
    r.loc[r["building_id"] == ids["A"], "address"] = "12 rue de l exemple, 93140 Bondy"
    r["match_label"] = None
    r.loc[r["building_id"] == ids["A"], "match_label"] = "12 Rue de l'Exemple"
    titles = building_titles(published_for(b, r).profile)
    a = int(np.flatnonzero(b["building_id"] == ids["A"])[0])
    c = int(np.flatnonzero(b["building_id"] == ids["C"])[0])
    assert titles[a] == "Palais des Sports"  # the OSM name comes first, as in the charts
    assert titles[c] == "Bâtiment de 10 logements"  # known by its id only: its size
    no_name = b.assign(name=None)
    assert building_titles(published_for(no_name, r).profile)[a] == "12 Rue de l'Exemple"


# --------------------------------------------------------------------------- zones and notes
def test_zones_and_notes_layers_and_fact_sheets(site) -> None:  # type: ignore[no-untyped-def]
    b, ids = site["buildings"], site["ids"]
    d = map_data_of(
        b, site["reports"], site_name="Essai", zones=site["zones"], annotations=site["notes"]
    )
    a = int(np.flatnonzero(b["building_id"] == ids["A"])[0])
    b_pos = int(np.flatnonzero(b["building_id"] == ids["B"])[0])
    props = {f["properties"]["i"]: f["properties"] for f in d["buildings"]["features"]}
    # A is the only hot building: in zone Z1, which its feature carries; B is in none.
    assert props[a] == {"i": a, "building_id": ids["A"], "zone_id": "Z1"}
    assert props[b_pos] == {"i": b_pos, "building_id": ids["B"]}
    assert sum("zone_id" in p for p in props.values()) == 1
    (zone,) = d["zones"]["geojson"]["features"]
    assert zone["properties"]["zone_id"] == "Z1"
    assert d["zones"]["name"] == "Zones de points chauds (1)"
    assert "<h4>Zone Z1</h4>" in zone["properties"]["popup"]
    assert "Rondes de nuit" in zone["properties"]["popup"]
    # The notes layer: every note but the deleted one, raw fields for the annotation mode,
    # popups and tooltips escaped.
    notes = {
        f["properties"]["note_id"]: f["properties"] for f in d["annotations"]["geojson"]["features"]
    }
    assert sorted(notes) == ["n-a", "n-orphan", "n-zone"]
    assert d["annotations"]["name"] == "Notes des urbanistes (3)"
    assert notes["n-a"]["text"] == XSS_NOTE
    assert XSS_NOTE not in notes["n-a"]["popup_html"]
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in notes["n-a"]["popup_html"]
    assert "Mme Durand" in notes["n-a"]["popup_html"]
    assert "<script" not in notes["n-a"]["tooltip"]
    # The note whose building left OSM stays where it was drawn, flagged.
    orphan = notes["n-orphan"]
    assert orphan["is_orphaned"] is True
    assert orphan["orphan_flag"] == "bâtiment disparu"
    assert orphan["tooltip"].startswith("Bâtiment disparu · ")
    assert "« bâtiment disparu »" in orphan["popup_html"]
    assert d["annotations"]["n_orphans"] == 1
    legend = [r["l"] for r in d["annotations"]["legend"]]
    assert legend == [
        "Note « ouvert »", "Note « en cours »", "Note orpheline, « bâtiment disparu » (1)",
    ]  # fmt: skip
    # A's fact sheet lists its note once, escaped; no other sheet has it; deleted: nowhere.
    escaped = "Cave &lt;b&gt;à fermer&lt;/b&gt; &amp; &lt;script&gt;alert(3)&lt;/script&gt;"
    sheets = d["b"]["fiche"]
    assert sheets[a].count(escaped) == 1
    assert sum(s.count(escaped) for s in sheets) == 1
    assert "Mme Durand" in sheets[a]
    assert "priorité avant travaux · ouvert" in sheets[a]
    assert "Notes des urbanistes" not in sheets[b_pos]
    assert "Note supprimée" not in json.dumps(d, ensure_ascii=False)


def test_notes_section_known_answers() -> None:
    from pipelines.maps.html import MAX_SHEET_NOTE_TEXT, notes_section_html

    utc = pd.Timestamp("2024-06-01 08:00", tz="UTC")
    notes = [
        {"tag": "traité", "status": "clos", "author": f"A{k}", "text": f"note {k}",
         "created_at": utc + pd.Timedelta(days=k), "updated_at": pd.NaT}
        for k in range(7)
    ]  # fmt: skip
    # The oldest note, edited last: newest by its update, shown first.
    notes[0]["updated_at"] = utc + pd.Timedelta(days=30, hours=15)  # 23:00 UTC: next day in Paris
    notes[1]["text"] = "x" * 1000
    html = notes_section_html(notes)
    assert "Notes des urbanistes (7)" in html
    shown = re.findall(r"<span class='vigie-fiche-note-text'>([^<]*)</span>", html)
    assert shown[:1] == ["note 0"]
    assert shown[1:] == ["note 6", "note 5", "note 4", "note 3"]
    assert "A0, le 02/07/2024" in html
    assert "<li>et 2 autres notes</li>" in html
    long = notes_section_html([notes[1]])
    text = re.search(r"<span class='vigie-fiche-note-text'>([^<]*)</span>", long).group(1)  # type: ignore[union-attr]
    assert len(text) == MAX_SHEET_NOTE_TEXT
    assert text.endswith("…")
    assert notes_section_html([]) == ""
    missing = notes_section_html([{"text": "sans auteur", "tag": "traité", "status": "ouvert"}])
    assert "auteur inconnu" in missing


def test_page_has_the_annotation_mode_offline(site) -> None:  # type: ignore[no-untyped-def]
    from pipelines.maps.assets import find_network_references

    m = site_map_of(
        site["buildings"], site["reports"], site_name="Essai", simulated=True,
        attributions=["osm"], zones=site["zones"], annotations=site["notes"],
        site_id="essai", annotation_tags=NOTE_TAGS,
    )  # fmt: skip
    html = maps.render_map(m)
    assert find_network_references(html) == []
    assert "leaflet-draw/dist/leaflet.draw.js */" in html  # inlined from node_modules
    assert "leaflet-draw/dist/leaflet.draw.css */" in html
    assert 'vigieAnnotate({"site": "essai", "tags": ["priorité avant travaux"' in html
    assert "<script>alert(3)</script>" not in html
    # Without a site id or tags, no annotation mode.
    plain = maps.render_map(
        site_map_of(
            site["buildings"], site["reports"], site_name="Essai", simulated=True,
            attributions=["osm"],
        )
    )  # fmt: skip
    assert "vigieAnnotate(" not in plain
    assert "leaflet.draw.js" not in plain


def test_index_lists_the_notes_with_their_exports(tmp_path: Path, site) -> None:  # type: ignore[no-untyped-def]
    from pipelines.annotations import stage as annotations

    processed = tmp_path / "data" / "processed"
    maps_dir = tmp_path / "maps"
    s = processed / "essai"
    s.mkdir(parents=True)
    maps_dir.mkdir()
    b, ids = site["buildings"], site["ids"]
    b.to_parquet(s / "buildings.parquet")
    site["reports"].to_parquet(s / "reports.parquet")
    folder = tmp_path / "annotations" / "essai"
    folder.mkdir(parents=True)
    (folder / "notes.csv").write_text(
        "auteur;texte;étiquette;statut;date;bâtiment;lon;lat\n"
        f"Mme Durand;{XSS_NOTE};priorité avant travaux;ouvert;03/06/2024;{ids['A']};;\n"
        "M. Diallo;Appentis démoli;traité;clos;04/06/2024;way/1;2.48;48.9\n",
        encoding="utf-8",
    )
    site_cfg = SiteConfig(
        id="essai", name="Essai", osm=str(BONDY_OSM),
        sources=(SourceConfig(id="x", kind="reports", path="x.csv"),),
    )  # fmt: skip
    cfg = Config(
        path="t.toml", sites=(site_cfg,), processed_dir=str(processed), maps_dir=str(maps_dir),
        annotations_dir=str(tmp_path / "annotations"), annotation_tags=NOTE_TAGS,
    )  # fmt: skip
    annotations.run(
        cfg, "essai", buildings_path=s / "buildings.parquet", zones_path=None,
        previous_notes_path=None, out_dir=s,
    )  # fmt: skip
    publish.run(cfg, site_cfg, processed=s, dst_dir=s / "published")
    html = run_index(cfg, dst=maps_dir / "index.html").read_text(encoding="utf-8")
    hrefs = re.findall(r"href='([^']+)'", html)
    assert "../data/processed/essai/annotations.geojson" in hrefs
    assert "../data/processed/essai/annotations.csv" in hrefs
    assert "2 notes, dont 1 note orpheline" in html
    table = re.search(r"<table class='vigie-notes'>.*?</table>", html, re.S).group(0)  # type: ignore[union-attr]
    assert table.count("<tr>") == 3  # header and two notes
    assert "orpheline · bâtiment disparu" in table
    assert "Cave &lt;b&gt;à fermer&lt;/b&gt; &amp; &lt;script&gt;" in table
    assert "<script>" not in html
    assert "<a " not in table
    # Without the notes stage, the index says nothing of notes.
    for name in ("annotations.parquet", "annotations.geojson", "annotations.csv"):
        (s / name).unlink()
    publish.run(cfg, site_cfg, processed=s, dst_dir=s / "published")
    html = run_index(cfg, dst=maps_dir / "index.html").read_text(encoding="utf-8")
    assert "Notes des urbanistes" not in html


def test_the_charts_under_maps_take_their_french_names(tmp_path: Path) -> None:
    """The map stage copies each chart under ``maps/<site>/`` by its French name, and
    removes the copy a former run left under its English one (a maps folder copied for a
    committee carried both)."""
    from pipelines.maps.method_pages import write_method_pages
    from pipelines.stages import CHART_NAMES

    charts, published = tmp_path / "charts", tmp_path / "published"
    charts.mkdir()
    published.mkdir()
    for name in CHART_NAMES:
        (charts / f"{name}.png").write_bytes(name.encode())
    dst = tmp_path / "maps" / "essai"
    dst.mkdir(parents=True)
    (dst / "top_buildings.png").write_bytes(b"former run")
    write_method_pages(published, charts, dst, simulated=False)
    assert sorted(p.name for p in dst.iterdir()) == [
        "batiments_les_plus_signales.png",
        "delais_de_cloture.png",
        "indicateurs.html",
        "methode.html",
        "signalements_par_categorie.png",
    ]
    assert (dst / "delais_de_cloture.png").read_bytes() == b"closing_delays"
