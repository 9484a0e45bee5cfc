"""The publication step on the real demo run: one building profile per building, counts
that add up to the reports counted, the trends stage's before/after as it wrote it, zone
membership as the zones stage wrote it, and no personal data in any text a reader sees."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest

from pipelines import publish
from pipelines.config import load_config
from pipelines.geocode.address_index import read_gazetteer
from pipelines.ingest import scrub_series
from pipelines.io import read_csv, read_json
from pipelines.osm.buildings import read_osm_buildings
from pipelines.publish.build import building_labels, building_profile
from pipelines.published import FILES, Published, read_published
from pipelines.reports import counted as is_counted
from tests.conftest import ROOT

SITES = ("bondy", "paris10")


@pytest.fixture(scope="module", params=SITES)
def run(
    request: pytest.FixtureRequest, demo_run: Any, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Published, Path]:
    """The demo run's processed folder, and the tables of the ``interne`` profile (exact
    counts; ``published/`` holds the ``comite`` profile, checked in
    tests/test_publication.py) with their folder: in a folder of this module, not beside
    ``published/``, since the demo run is shared by the test processes (tests/conftest.py,
    ``built_once``), which read its folders meanwhile."""
    processed = demo_run.site(request.param)
    interne = tmp_path_factory.mktemp(request.param) / "published_interne"
    config = load_config(demo_run.config)
    publish.run(
        config, config.site(request.param), processed=processed, dst_dir=interne,
        profile="interne",
    )  # fmt: skip
    return processed, read_published(interne), interne


def test_every_published_file_is_written(run: tuple[Path, Published, Path]) -> None:
    processed, _, interne = run
    for name in FILES.values():
        assert (processed / "published" / name).is_file(), name
        assert (interne / name).is_file(), name


def test_one_profile_row_per_building_in_order(run: tuple[Path, Published, Path]) -> None:
    processed, pub, _ = run
    buildings = gpd.read_parquet(processed / "buildings.parquet")
    assert len(pub.profile) == len(buildings)
    assert pub.profile["building_id"].tolist() == buildings["building_id"].astype(str).tolist()
    assert pub.profile.crs.to_epsg() == 4326
    for column in ("n_reports", "building_label", "zone_id", "n_reports_before",
                   "n_reports_after", "n_reports_change", "is_chronic"):  # fmt: skip
        assert column in pub.profile, column
    # The emerging categories when the trends stage found any, each with its French label.
    emerging = gpd.read_parquet(processed / "emerging.parquet")
    found = bool(emerging["emerging_category"].notna().any())
    assert ("emerging_category" in pub.profile) == found
    if not found:
        return
    has_code = pub.profile["emerging_category"].notna()
    assert int(has_code.sum()) == int(emerging["emerging_category"].notna().sum())
    assert pub.profile.loc[has_code, "emerging_label_fr"].notna().all()


def test_counts_add_up_to_the_reports_counted(run: tuple[Path, Published, Path]) -> None:
    processed, pub, _ = run
    reports = gpd.read_parquet(processed / "reports.parquet")
    counted = int(is_counted(reports, on_building=True).sum())
    hotspots = read_json(processed / "hotspot_summary.json")
    assert int(pub.profile["n_reports"].sum()) == counted
    assert int(pub.monthly["n_reports"].sum()) == counted
    assert pub.site["totals"]["reports_counted"] == counted
    assert hotspots.get("reports_counted", counted) == counted
    per_building = pub.monthly.groupby("building_id")["n_reports"].sum()
    profile = pub.profile.set_index("building_id")["n_reports"]
    assert per_building.equals(profile[profile > 0].sort_index().astype("int64"))
    # Markers: every placed report and observation but the likely duplicates.
    placed = reports.geometry.notna() & ~reports.geometry.is_empty
    duplicate = reports["duplicate_of"].notna() & (reports["source_kind"] == "reports")
    assert len(pub.points) == int((placed & ~duplicate).sum())


def test_before_after_is_the_trends_stage_s(run: tuple[Path, Published, Path]) -> None:
    processed, pub, _ = run
    ba = gpd.read_parquet(processed / "before_after.parquet").set_index("building_id")
    profile = pub.profile.set_index("building_id")
    for column in ("n_reports_before", "n_reports_after", "n_reports_change"):
        expected = ba[column].reindex(profile.index).fillna(0).astype("int64")
        assert profile[column].astype("int64").equals(expected), column
    trends = read_json(processed / "trend_summary.json")["parameters"]
    assert pub.site["compare"] == {
        "before": trends["compare_before"],
        "after": trends["compare_after"],
    }


def test_zone_membership_is_the_zones_stage_s(run: tuple[Path, Published, Path]) -> None:
    processed, pub, _ = run
    members = read_csv(processed / "building_zones.csv", dtype=str)
    expected = dict(zip(members["building_id"], members["zone_id"], strict=True))
    shown = pub.profile.dropna(subset=["zone_id"])
    assert dict(zip(shown["building_id"], shown["zone_id"], strict=True)) == expected
    assert pub.zones is not None
    assert set(pub.zones["zone_id"]) == set(members["zone_id"])


def _personal_data(values: pd.Series, mode: str = "text") -> list[str]:
    """Values that scrubbing would still change (phones, e-mails, flats, names)."""
    text = values.dropna().astype(str)
    scrubbed, _ = scrub_series(text, mode=mode)
    return [v for v, s in zip(text, scrubbed, strict=True) if v != s]


def test_no_personal_data_in_what_a_reader_sees(run: tuple[Path, Published, Path]) -> None:
    _, pub, _ = run
    assert _personal_data(pub.points["description"]) == []
    assert _personal_data(pub.profile["building_label"], mode="address") == []
    assert _personal_data(pd.Series(pub.site["annotation_tags"], dtype=object)) == []
    if pub.notes is not None and len(pub.notes):
        for column in ("text", "author", "tag"):
            assert _personal_data(pub.notes[column]) == [], column
        assert "supprimé" not in set(pub.notes["status"])
    # The raw sources' personal columns never reach a published table.
    columns = set(pub.profile.columns) | set(pub.points.columns)
    assert not columns & {"Nom du demandeur", "Téléphone", "Logement", "auteur"}


def test_building_labels_fall_back_in_order() -> None:
    buildings = pd.DataFrame(
        {
            "building_id": ["way/1", "way/2", "way/3", "way/4", "way/5"],
            "name": ["Résidence Les Lilas", None, None, None, None],
            "addr_housenumber": [None, "12", None, None, None],
            "addr_street": [None, "Rue Lucie Aubrac", None, None, None],
        }
    )
    # ``match_label``: what geocoding matched (gazetteer, OSM/BAN address); the reports'
    # own ``building_ref`` and ``address`` are never a label (way/5's).
    reports = pd.DataFrame(
        {
            "building_id": ["way/3", "way/3", "way/3", "way/4", "way/4", "way/1", "way/5"],
            "building_ref": ["BL-7", "BL-7", "BL-8", None, None, "BL-1", "Mme Durand"],
            "address": [None, None, None, "8 Rue Bossuet, 75010 PARIS",
                        "8 Rue Bossuet, 75010 PARIS", None, "M. Durand 2e étage"],
            "match_label": ["Bâtiment BL-7", "Bâtiment BL-7", "Bâtiment BL-8",
                            "8 Rue Bossuet", "8 Rue Bossuet", "Bâtiment BL-1", None],
        }
    )  # fmt: skip
    labels = building_labels(buildings, reports)
    assert labels == {
        "way/1": "Résidence Les Lilas",
        "way/2": "12 Rue Lucie Aubrac",
        "way/3": "Bâtiment BL-7",
        "way/4": "8 Rue Bossuet",
        "way/5": "way/5",
    }


# ----------------------------------------------------------------------------- building labels
#: What residents and agents type into an address or building-code field (the hostile
#: run's rows): a name, a floor, a flat, a phone, a spreadsheet formula.
HOSTILE_ADDRESSES = (
    "Mme Jeanne DUPONTEL 3e étage porte 34 tél 06 12 34 56 78",
    '=HYPERLINK("http://exemple.invalid/x","Voir")',
    "Famille KOUASSI au fond du couloir, 2e étage",
)


@pytest.fixture(scope="module")
def bondy_site() -> Any:
    return load_config(ROOT / "config" / "demo.toml").site("bondy")


def test_building_labels_never_come_from_residents_text(bondy_site: Any) -> None:
    """Issue 16, hostile run B1: a building's label came from the address its reports
    gave most often, names and floors included. On the real Bondy extract, BAN and
    gazetteer: reports inside three unnamed buildings give hostile text (with their
    position), one building is named by a loosely written BAN address, one by a landlord
    code the gazetteer knows, one by a code it does not know."""
    from pipelines.geocode.address_index import read_ban
    from pipelines.geocode.stage import geocode_reports, match_site_addresses
    from pipelines.osm.buildings import read_osm_buildings
    from pipelines.publish.build import label_of_buildings

    buildings = read_osm_buildings(bondy_site.osm)
    plain = buildings["name"].isna() & buildings["addr_street"].isna()
    targets = buildings[plain].head(4)["building_id"].astype(str).tolist()
    inside = buildings.set_index("building_id").loc[targets].geometry.representative_point()
    rows: list[dict[str, Any]] = []
    for bid, text in zip(targets, HOSTILE_ADDRESSES, strict=False):
        rows += [{"address": text, "building_ref": None, "geometry": inside[bid]}] * 3
    # A hostile building code on the fourth building: the gazetteer does not know it.
    rows += [{"address": None, "building_ref": "Mme DUPONTEL", "geometry": inside[targets[3]]}]
    ban = read_ban(bondy_site.ban)
    known = ban[(ban["street_key"] == "avenue villegiature") & (ban["number"] == 46)].iloc[0]
    rows += [{"address": "46 AVENUE DE LA VILLEGIATURE 93140 BONDY", "building_ref": None,
              "geometry": None}] * 2  # fmt: skip
    rows += [{"address": None, "building_ref": "BL-2", "geometry": None}]
    reports = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    reports["source_kind"] = "reports"
    matches = match_site_addresses(reports, buildings, site=bondy_site)
    geocoded = geocode_reports(reports, buildings, address_matches=matches)
    labels = label_of_buildings(buildings, geocoded)
    by_id = dict(zip(buildings["building_id"].astype(str), labels, strict=True))

    shown = " | ".join(str(v) for v in labels.dropna())
    for word in ("DUPONTEL", "KOUASSI", "étage", "HYPERLINK", "couloir", "porte"):
        assert word not in shown, word
    for bid in targets:  # named by nothing vetted: by their id (the maps: their size)
        assert pd.isna(by_id[bid]), bid
    ban_building = geocoded["building_id"].iloc[-3]
    assert by_id[ban_building] == f"{known['housenumber_raw']} {known['street_raw']}"
    gazetteer = read_gazetteer(bondy_site.gazetteer)  # as geocoding reads it
    bl2 = gazetteer.set_index("key").at["BL-2", "building_id"]
    assert geocoded["building_id"].iloc[-1] == bl2
    assert by_id[bl2] == "Bâtiment BL-2"


#: OSM tags as anyone can type them into the map (``name``, ``addr:street``,
#: ``operator``): a name and a phone, an e-mail, a flat number.
HOSTILE_TAGS = {
    "name": "M. Jean Dupont 06 12 34 56 78",
    "addr_street": "Mme Durand 0033 6 12 34 56 78",
    "operator": "gardien : jean.dupont@example.fr, appt 12",
}
STREETS = ("Avenue Henri Barbusse", "Porte de Pantin", "Rue du Docteur Roux")


def test_osm_tags_in_the_profile_are_scrubbed(bondy_site: Any) -> None:
    """Hostile run of w9: an OSM ``addr:street`` holding a name and a phone reached the
    map's fact sheet (« Adresse ») and the GeoPackage's ``batiments`` layer raw, since
    only ``building_label`` was scrubbed. On the real Bondy extract, three buildings get
    the tags above; every other building keeps its OSM names and streets unchanged: the
    extract's own (« Avenue Jean Moulin ») and three planted ones (:data:`STREETS`)."""
    buildings = read_osm_buildings(bondy_site.osm)
    buildings["n_reports"] = 0
    targets = buildings.index[:3]
    for column, text in HOSTILE_TAGS.items():
        buildings[column] = buildings[column].astype(object)
        buildings.loc[targets, column] = text
    # Real street and place names with a first name, a title or « Porte »: kept.
    streets = buildings.index[3:6]
    buildings.loc[streets, "addr_street"] = list(STREETS)
    reports = pd.DataFrame({"building_id": pd.Series(dtype=str), "match_label": []})
    profile = building_profile(buildings, reports)

    shown = " | ".join(
        profile.loc[targets, list(HOSTILE_TAGS)].astype(str).to_numpy().ravel().tolist()
    )
    for word in ("Dupont", "Durand", "06 12", "example.fr", "appt 12"):
        assert word not in shown, word
    others = ~profile.index.isin(targets)
    for column in ("name", "addr_housenumber", "addr_street", "addr_city", "operator"):
        raw = buildings.loc[others, column].astype(object).fillna("")
        assert (profile.loc[others, column].astype(object).fillna("") == raw).all(), column
    assert buildings.loc[others, "name"].notna().sum() > 20  # real names were checked


def test_chronic_problems_kept_by_their_own_window_and_households() -> None:
    """``protect_chronic`` judges each row on its own building × category reports in
    its window (hand-made microdata, answers worked by hand): enough households passes,
    too few or one dominant household is left out, a report of the same building in
    another category or outside the window does not count, a row without reports is
    kept (none is person-related: the rule does not apply), and unreadable dates take
    the whole cell."""
    from pipelines.config.publication import ProfileRule
    from pipelines.publish.buildings import protect_chronic

    def reports(building: str, category: str, days: list[str], households: list[str]) -> list:
        return [
            {"building_id": building, "category": category, "reported_at": pd.Timestamp(d),
             "household": h, "person_related": True}
            for d, h in zip(days, households, strict=True)
        ]  # fmt: skip

    micro = pd.DataFrame(
        reports("way/1", "humidite", ["2025-01-02", "2025-01-05", "2025-01-09"], ["a", "b", "c"])
        + reports("way/1", "chauffage", ["2025-01-03", "2025-01-04"], ["d", "e"])
        + reports("way/2", "humidite", ["2025-01-02", "2025-02-20", "2025-01-04"], ["a", "b", "c"])
        + reports("way/3", "humidite", ["2025-01-02"] * 6 + ["2025-01-03"], ["a"] * 6 + ["b"])
        + reports("way/4", "humidite", ["2025-03-01", "2025-03-02", "2025-03-03"], ["a", "b", "c"])
    )
    chronic = pd.DataFrame(
        {
            "building_id": ["way/1", "way/2", "way/3", "way/5", "way/4"],
            "category": ["humidite"] * 5,
            "first_date": ["2025-01-01", "2025-01-01", "2025-01-01", "2025-01-01", "?"],
            "last_date": ["2025-01-09", "2025-01-31", "2025-01-31", "2025-01-31", "?"],
        }
    )
    rule = ProfileRule("comite", min_households=3, dominance_share=0.85, protect="person_related")
    kept, n_out = protect_chronic(chronic, micro, rule)
    # way/1: a, b, c (the 9th counted: the window ends with its last day); way/2: b is
    # after the window; way/3: « a » makes 6 of 7 reports; way/5: no report.
    assert kept["building_id"].tolist() == ["way/1", "way/5", "way/4"]
    assert n_out == 2


def test_a_hidden_class_hides_the_classes_of_the_building_s_categories() -> None:
    """A building whose Gi* class is hidden (reports from fewer households than the
    threshold) kept the class of each category it has no report of (« its neighbours'
    reports make it »): the categories' classes told its own. On the demo's committee
    pack, 27 of the 156 buildings of hidden class were hot in some category, among them
    all 18 that are hot; on the open-data pack, 106 of 1,353, among them all 51 hot
    ones. Where the building's class is hidden, every category's is (hand-made
    profile and cells, the open-data rule)."""
    from pipelines.config.publication import DEFAULT_RULES
    from pipelines.publish.buildings import protect_profile
    from pipelines.publish.cells import BUILDING_TABLES, FLAG, NO_ZONE

    rule = DEFAULT_RULES["public"]
    few, many = ["h1", "h2"], [f"h{k}" for k in range(12)]
    micro = pd.DataFrame(
        {
            "building_id": ["way/1"] * len(few) + ["way/2"] * len(many),
            "zone": NO_ZONE,
            "category": "ascenseur",
            "household": few + many,
            "person_related": False,
        }
    )
    profile = pd.DataFrame(
        {
            "building_id": ["way/1", "way/2"],
            "n_reports": [2, 12],
            "n_ascenseur": [2, 12],
            "n_proprete": [0, 0],
            "gi_bin": [2.0, 2.0],
            "gi_bin_ascenseur": [2.0, 2.0],
            "gi_bin_proprete": [3.0, 3.0],
        }
    )
    cells = {
        BUILDING_TABLES["building"]: pd.DataFrame(
            {"zone": NO_ZONE, "building_id": ["way/1", "way/2"], "n_reports": [None, 10.0],
             "n_households": [None, 10.0], "flag": [FLAG, ""]}
        ),
        BUILDING_TABLES["building_category"]: pd.DataFrame(
            {"zone": NO_ZONE, "building_id": ["way/1", "way/2"], "category": "ascenseur",
             "n_reports": [None, 10.0], "flag": [FLAG, ""]}
        ),
        BUILDING_TABLES["zone"]: pd.DataFrame({"zone": [NO_ZONE], "n_reports": [15.0],
                                               "flag": [""]}),
    }  # fmt: skip
    out = protect_profile(profile, cells, rule=rule, micro=micro).set_index("building_id")
    assert out.at["way/1", "gi_bin_flag"] == FLAG
    for code in ("ascenseur", "proprete"):
        assert pd.isna(out.at["way/1", f"gi_bin_{code}"]), code
        assert out.at["way/1", f"gi_bin_{code}_flag"] == FLAG, code
    # a building whose class is shown keeps its categories' classes
    assert out.at["way/2", "gi_bin_flag"] == ""
    assert out.at["way/2", "gi_bin_proprete"] == 3.0
    assert out.at["way/2", "gi_bin_ascenseur"] == 2.0
