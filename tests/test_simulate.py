"""Tests of the Bondy Nord simulator, on the real OSM, BAN and RPLS files.

Everything asserted about the outputs is recomputed from the written files (as an
analyst would read them), not from the simulator's internal variables.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from pipelines.crs import LAMBERT93, WGS84
from pipelines.fr import strip_accents
from pipelines.osm.buildings import read_osm_bounds, read_osm_buildings, read_rpls
from pipelines.simulate import stage as sim
from pipelines.taxonomy import map_labels

RAW = Path(__file__).resolve().parents[1] / "data" / "raw" / "bondy"
OSM, BAN, RPLS = RAW / "bondy_nord.osm", RAW / "ban_adresses_bondy.csv", RAW / "rpls_bondy.gpkg"
DATE_RE = re.compile(r"^\d{2}/\d{2}/\d{4} \d{2}:\d{2}$")
COORD_RE = re.compile(r"^-?\d+,\d{6}$")

pytestmark = pytest.mark.skipif(not OSM.exists(), reason="données brutes de Bondy absentes")


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def inputs() -> dict[str, Any]:
    buildings = read_osm_buildings(OSM)
    bounds = read_osm_bounds(OSM)
    addresses = sim.addresses_in_bounds(sim.read_ban(BAN), bounds)
    return {
        "buildings": buildings,
        "addresses": addresses,
        "rpls": read_rpls(RPLS),
        "bounds": bounds,
    }


def _simulate(inputs: dict[str, Any], **kwargs: Any) -> sim.Simulation:
    return sim.simulate(
        inputs["buildings"],
        inputs["addresses"],
        rpls=inputs["rpls"],
        study_area=inputs["bounds"],
        **kwargs,
    )


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return sim.run(OSM, BAN, tmp_path_factory.mktemp("sim42"), rpls_path=RPLS, seed=42)


@pytest.fixture(scope="module")
def truth(written: dict[str, Path]) -> dict[str, Any]:
    return json.loads(written["truth"].read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def export(written: dict[str, Path]) -> pd.DataFrame:
    """The ticketing export as an analyst reads it: cp1252, ';', every cell a string."""
    return pd.read_csv(
        written["reports"], sep=";", encoding="cp1252", dtype=str, keep_default_na=False
    )


@pytest.fixture(scope="module")
def null_sim(inputs: dict[str, Any]) -> sim.Simulation:
    return _simulate(inputs, seed=42, pattern=False)


@pytest.fixture(scope="module")
def metric_buildings(inputs: dict[str, Any]) -> gpd.GeoSeries:
    b = inputs["buildings"]
    return gpd.GeoSeries(b.geometry.to_crs(LAMBERT93).to_numpy(), index=b["building_id"])


def _codes(labels: pd.Series) -> pd.Series:
    codes, _ = map_labels(labels.tolist())
    return pd.Series(codes, index=labels.index)


def _lonlat_to_metric(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    pts = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=WGS84).to_crs(LAMBERT93)
    return pts.to_numpy()


def _valid(
    export: pd.DataFrame, truth: dict[str, Any], *, keep: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Rows an ingestion would keep (plus the bad ones of the reasons in ``keep``), each
    with its true building and category code."""
    keep = (*keep, "exact_duplicate")
    bad = {t for t, r in truth["bad_rows"].items() if r not in keep}
    out = export.drop_duplicates()
    out = out[~out["N° ticket"].isin(bad)].copy()
    where = {**truth["address_buildings"], **truth["coordinate_buildings"]}
    out["building_id"] = out["N° ticket"].map(where)
    out["code"] = _codes(out["Catégorie"])
    out["created"] = pd.to_datetime(out["Date de création"], format="%d/%m/%Y %H:%M")
    return out


# ------------------------------------------------------------------------- determinism
@pytest.mark.slow  # a whole simulation run: end to end
def test_same_seed_gives_identical_bytes(written: dict[str, Path], tmp_path: Path) -> None:
    again = sim.run(OSM, BAN, tmp_path, rpls_path=RPLS, seed=42)
    for key, path in written.items():
        assert again[key].read_bytes() == path.read_bytes(), key


@pytest.mark.slow  # a whole simulation run: end to end
def test_other_seed_gives_other_reports(inputs: dict[str, Any], export: pd.DataFrame) -> None:
    other = _simulate(inputs, seed=43)
    assert len(other.reports) != len(export) or not other.reports.equals(export)
    # Not just a shuffle: the dates of the first tickets differ.
    assert (
        other.reports["Date de création"].head(20).tolist()
        != export["Date de création"].head(20).tolist()
    )


@pytest.mark.slow  # a whole simulation run: end to end
def test_in_memory_reports_are_the_written_file(
    inputs: dict[str, Any], export: pd.DataFrame
) -> None:
    again = _simulate(inputs, seed=42)
    pd.testing.assert_frame_equal(
        again.reports.astype(object), export.astype(object), check_dtype=False
    )


# ---------------------------------------------------------------------------- the export
def test_export_is_cp1252_semicolon_with_the_landlord_columns(written: dict[str, Path]) -> None:
    raw = written["reports"].read_bytes()
    text = raw.decode("cp1252")  # strict: raises on any byte cp1252 cannot decode
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # accented labels are single cp1252 bytes, not UTF-8
    assert "\r\n" in text
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert rows[0] == sim.REPORT_COLUMNS
    assert {len(r) for r in rows} == {15}
    assert len(rows) - 1 == len(pd.read_csv(written["reports"], sep=";", encoding="cp1252"))


def test_export_fields_have_the_documented_formats(
    export: pd.DataFrame, truth: dict[str, Any]
) -> None:
    bad = truth["bad_rows"]
    dated = export["Date de création"] != ""
    assert export.loc[dated, "Date de création"].str.match(DATE_RE).all()
    missing = set(export.loc[~dated, "N° ticket"])
    assert missing == {t for t, r in bad.items() if r == "missing_date"}
    closed = export["Statut"] == "Clôturé"
    assert set(export["Statut"]) == {"Ouvert", "En cours", "Clôturé"}
    assert export.loc[closed, "Date de clôture"].str.match(DATE_RE).all()
    assert (export.loc[~closed, "Date de clôture"] == "").all()
    assert set(export["Canal"]) == {"Téléphone", "Accueil", "Courriel", "Application"}
    located = (export["Latitude"] != "") & ~export["N° ticket"].isin(
        [t for t, r in bad.items() if r == "bad_coordinates"]
    )
    assert export.loc[located, "Latitude"].str.match(COORD_RE).all()
    assert export.loc[located, "Longitude"].str.match(COORD_RE).all()
    codes = export["Bâtiment"][export["Bâtiment"] != ""]
    assert codes.str.match(r"^(NC-[A-Z]\d*|BL-\d+)$").all()
    assert set(codes) <= set(truth["building_codes"])


def test_closure_delays_follow_the_category(export: pd.DataFrame) -> None:
    closed = export[export["Statut"] == "Clôturé"].copy()
    closed = closed[closed["Date de création"] != ""]
    delay = (
        pd.to_datetime(closed["Date de clôture"], format="%d/%m/%Y %H:%M")
        - pd.to_datetime(closed["Date de création"], format="%d/%m/%Y %H:%M")
    ).dt.total_seconds() / 86400
    assert (delay > 0).all()
    code = _codes(closed["Catégorie"])
    lifts = delay[code == "ascenseur"]
    assert lifts.between(1, 5).mean() > 0.5  # mostly 1–5 days
    assert (lifts >= 14).mean() > 0.05  # some three weeks
    assert delay[code == "stationnement"].median() > 3 * lifts.median()


def test_personal_columns_are_there_for_ingestion_to_remove(export: pd.DataFrame) -> None:
    for column in sim.PERSONAL_COLUMNS:
        assert column in export.columns
    assert (export["Nom du demandeur"] != "").all()
    phones = export["Téléphone"][export["Téléphone"] != ""]
    assert len(phones) > 0.8 * len(export)
    digits = phones.str.replace(r"\D", "", regex=True).str.replace(r"^33", "0", regex=True)
    fiction = tuple(p.replace(" ", "") for p in sim.FICTION_PHONE_PREFIXES)
    assert digits.str.len().eq(10).all()
    assert digits.str.startswith(fiction).all()
    assert export["Logement"].str.match(r"^((Apt|Logt) \d+)?$").all()


def test_descriptions_carry_the_planted_personal_details(
    export: pd.DataFrame, truth: dict[str, Any]
) -> None:
    text = export.drop_duplicates("N° ticket").set_index("N° ticket")["Description"]
    phone = re.compile(r"(?:\+33 \d|0\d)(?:[ .]?\d{2}){4}")
    email = re.compile(r"[\w.]+@exemple\.fr")
    flat = re.compile(r"(?:appartement|porte|apt|appt) \d+")
    pii = truth["pii_in_description"]
    for ticket, kinds in pii.items():
        if "phone" in kinds:
            assert phone.search(text[ticket]), text[ticket]
        if "email" in kinds:
            assert email.search(text[ticket]), text[ticket]
        if "flat" in kinds:
            assert flat.search(text[ticket]), text[ticket]
    clean = text.drop(list(pii))
    assert not clean.str.contains(phone).any()
    assert not clean.str.contains(email).any()
    assert 0.1 < len(pii) / len(text) < 0.35


def test_unknown_labels_map_to_autre(export: pd.DataFrame, truth: dict[str, Any]) -> None:
    codes, unknown = map_labels(export["Catégorie"].tolist())
    assert codes.count("autre") == truth["unknown_label_rows"] > 0
    assert unknown == truth["unknown_labels"]


# --------------------------------------------------------------------------- locations
def test_location_mix_is_within_tolerance(export: pd.DataFrame, truth: dict[str, Any]) -> None:
    has_address = export["Adresse"] != ""
    has_coords = export["Latitude"] != ""
    share = {
        "address_only": (has_address & ~has_coords).mean(),
        "coordinates_only": (~has_address & has_coords).mean(),
        "both": (has_address & has_coords).mean(),
    }
    assert not (~has_address & ~has_coords).any()
    assert 0.30 <= share["address_only"] <= 0.40
    assert 0.35 <= share["coordinates_only"] <= 0.47
    assert 0.20 <= share["both"] <= 0.30
    assert truth["location_mix"] == {
        "address_only": int((has_address & ~has_coords).sum()),
        "coordinates_only": int((~has_address & has_coords).sum()),
        "both": int((has_address & has_coords).sum()),
    }


def test_coordinate_rows_fall_in_their_true_building(
    export: pd.DataFrame, truth: dict[str, Any], metric_buildings: gpd.GeoSeries
) -> None:
    rows = export.drop_duplicates("N° ticket").set_index("N° ticket")
    tickets = list(truth["coordinate_buildings"])
    lat = rows.loc[tickets, "Latitude"].str.replace(",", ".").astype(float).to_numpy()
    lon = rows.loc[tickets, "Longitude"].str.replace(",", ".").astype(float).to_numpy()
    pts = _lonlat_to_metric(lon, lat)
    true_geoms = metric_buildings.loc[[truth["coordinate_buildings"][t] for t in tickets]]
    dist = shapely.distance(true_geoms.to_numpy(), pts)
    outside = np.isin(tickets, truth["coordinates_outside"])
    assert 0.07 < outside.mean() < 0.15
    assert (dist[~outside] == 0).all()
    assert ((dist[outside] > 1.5) & (dist[outside] < 6.5)).all()
    # Outside points still have their own building as the nearest one.
    tree = shapely.STRtree(metric_buildings.to_numpy())
    nearest = tree.query_nearest(pts[outside], return_distance=False)[1]
    assert (metric_buildings.index[nearest] == true_geoms.index[outside]).all()


def test_every_written_point_lies_in_the_study_area(
    written: dict[str, Path], export: pd.DataFrame, truth: dict[str, Any]
) -> None:
    west, south, east, north = read_osm_bounds(OSM)
    assert truth["study_area"] == pytest.approx([west, south, east, north])
    rows = export.drop_duplicates("N° ticket").set_index("N° ticket")
    tickets = list(truth["coordinate_buildings"])
    lat = rows.loc[tickets, "Latitude"].str.replace(",", ".").astype(float)
    lon = rows.loc[tickets, "Longitude"].str.replace(",", ".").astype(float)
    assert lat.between(south, north).all()
    assert lon.between(west, east).all()
    walk = json.loads(written["walk"].read_text(encoding="utf-8"))["features"]
    xy = np.array([f["geometry"]["coordinates"] for f in walk])
    assert ((xy[:, 0] >= west) & (xy[:, 0] <= east)).all()
    assert ((xy[:, 1] >= south) & (xy[:, 1] <= north)).all()
    kobo = pd.read_csv(written["kobo"], dtype=str, keep_default_na=False)
    kobo = kobo[kobo["_localisation_latitude"] != ""]
    assert kobo["_localisation_latitude"].astype(float).between(south, north).all()
    assert kobo["_localisation_longitude"].astype(float).between(west, east).all()


def test_address_rows_use_a_real_ban_address_of_the_true_building(
    export: pd.DataFrame,
    truth: dict[str, Any],
    inputs: dict[str, Any],
    metric_buildings: gpd.GeoSeries,
) -> None:
    ban = inputs["addresses"]
    ban_pts = _lonlat_to_metric(ban["lon"].astype(float).to_numpy(), ban["lat"].astype(float))
    streets = ban["nom_voie"].map(sim.repair_mojibake)
    rows = export.drop_duplicates("N° ticket").set_index("N° ticket")
    checked = 0
    for ticket, building_id in list(truth["address_buildings"].items())[::7]:
        typed = rows.at[ticket, "Adresse"]
        number = int(re.match(r"^(\d+)", typed).group(1))  # type: ignore[union-attr]
        near = shapely.distance(metric_buildings[building_id], ban_pts) <= 20.0
        folded = re.sub(r"[^a-z0-9]+", " ", strip_accents(typed).lower())
        matches = [
            s
            for s, n in zip(streets[near], ban["numero"][near], strict=True)
            if int(n) == number and _key_word(s) in folded
        ]
        assert matches, (ticket, typed, building_id)
        checked += 1
    assert checked > 300


def _key_word(street: str) -> str:
    """The last word of 3+ letters of a street name, folded: it survives abbreviation."""
    words = re.findall(r"[a-z]{3,}", strip_accents(street).lower())
    return words[-1]


# ------------------------------------------------------------------------- planted truth
def test_hotspot_buildings_exist_and_lie_within_the_cluster_radius(
    truth: dict[str, Any], metric_buildings: gpd.GeoSeries
) -> None:
    assert len(truth["hotspots"]) == 2
    for cluster in truth["hotspots"]:
        ids = cluster["building_ids"]
        assert 8 <= len(ids) <= 20
        assert cluster["radius_m"] <= 120.0
        assert set(ids) <= set(metric_buildings.index)
        centre = _lonlat_to_metric(
            np.array([cluster["centre"][0]]), np.array([cluster["centre"][1]])
        )
        dist = shapely.distance(metric_buildings.loc[ids].to_numpy(), centre[0])
        assert (dist <= cluster["radius_m"]).all()
    a, b = (np.array(c["centre"]) for c in truth["hotspots"])
    pa, pb = _lonlat_to_metric(np.array([a[0], b[0]]), np.array([a[1], b[1]]))
    assert pa.distance(pb) >= 400.0
    assert (
        sorted(i for c in truth["hotspots"] for i in c["building_ids"])
        == truth["hotspot_buildings"]
    )


def test_hotspot_buildings_have_clearly_elevated_counts(
    export: pd.DataFrame, truth: dict[str, Any], inputs: dict[str, Any]
) -> None:
    valid = _valid(export, truth)
    counts = valid["building_id"].value_counts()
    profile = sim.building_profile(inputs["buildings"], inputs["rpls"])
    profile.index = inputs["buildings"]["building_id"]
    peers = profile.index[profile["is_residential"] & (profile["area_m2"] >= 150)]
    hot = counts.reindex(truth["hotspot_buildings"], fill_value=0)
    others = counts.reindex(peers.difference(truth["hotspot_buildings"]), fill_value=0)
    assert hot.median() > 3 * others.median()
    assert hot.mean() > 2 * others.mean()


def test_chronic_pairs_repeat_within_90_days(export: pd.DataFrame, truth: dict[str, Any]) -> None:
    valid = _valid(export, truth)
    assert 4 <= len(truth["chronic"]) <= 6
    for pair in truth["chronic"]:
        dates = valid.loc[
            (valid["building_id"] == pair["building_id"]) & (valid["code"] == pair["category"]),
            "created",
        ].sort_values()
        planted = pd.to_datetime(pd.Series(pair["dates"]))
        assert planted.isin(dates).all()
        span = (planted.to_numpy()[2:] - planted.to_numpy()[:-2]) / np.timedelta64(1, "D")
        assert (span <= 90).sum() >= 3  # at least three separate windows of 3 in 90 days


def test_rising_groups_show_their_pattern_in_monthly_counts(
    export: pd.DataFrame, truth: dict[str, Any]
) -> None:
    valid = _valid(export, truth)
    month = (valid["created"].dt.year - 2024) * 12 + valid["created"].dt.month - 1
    assert 3 <= len(truth["rising"]) <= 5
    patterns = {r["pattern"] for r in truth["rising"]}
    assert patterns == {"intensifying", "new", "consecutive"}
    for r in truth["rising"]:
        series = (
            month[valid["building_id"].isin(r["group_building_ids"])]
            .value_counts()
            .reindex(range(24), fill_value=0)
            .to_numpy()
        )
        first = r["first_month"]
        if r["pattern"] == "intensifying":
            assert series[-6:].mean() > 1.5 * series[:6].mean() > 0
        else:
            assert series[first:].min() > 5 * max(series[:first].max(), 1), series
            if r["pattern"] == "new":
                assert first == 23


def test_heating_share_is_higher_in_winter(export: pd.DataFrame, null_sim: sim.Simulation) -> None:
    def share(frame: pd.DataFrame) -> tuple[float, float]:
        frame = frame[frame["Date de création"] != ""]
        month = pd.to_datetime(frame["Date de création"], format="%d/%m/%Y %H:%M").dt.month
        heating = _codes(frame["Catégorie"]) == "chauffage"
        return heating[month.isin([11, 12, 1, 2])].mean(), heating[month.isin([6, 7, 8])].mean()

    winter, summer = share(export)
    assert winter > 2 * summer
    null_winter, null_summer = share(null_sim.reports)
    assert 0.6 < null_winter / null_summer < 1.6  # no season without a pattern


def test_lifts_only_in_tall_buildings(export: pd.DataFrame, truth: dict[str, Any]) -> None:
    valid = _valid(export, truth)
    lifts = valid[valid["code"] == "ascenseur"]
    assert lifts["building_id"].isin(truth["tall_buildings"]).all()
    per_building = lifts["building_id"].value_counts()
    towers = per_building.reindex(truth["lift_towers"], fill_value=0)
    assert len(truth["lift_towers"]) >= 3
    assert towers.min() > per_building.median()


def test_bad_rows_are_what_the_truth_says(export: pd.DataFrame, truth: dict[str, Any]) -> None:
    reasons = pd.Series(truth["bad_rows"])
    rows = export.drop_duplicates().set_index("N° ticket")
    for ticket in reasons.index[reasons == "bad_coordinates"]:
        lat = rows.at[ticket, "Latitude"]
        assert pd.to_numeric(lat.replace(",", "."), errors="coerce") != pd.to_numeric(
            lat.replace(",", "."), errors="coerce"
        )  # NaN: unparseable
    for ticket in reasons.index[reasons == "outside_study_area"]:
        assert float(rows.at[ticket, "Latitude"].replace(",", ".")) < 44.0
    dup_tickets = reasons.index[reasons == "exact_duplicate"]
    assert len(dup_tickets) > 5
    repeated = export[export["N° ticket"].isin(dup_tickets)]
    assert len(repeated) == 2 * len(dup_tickets)
    assert repeated.duplicated(keep=False).all()  # the whole row, not just the ticket
    assert export["N° ticket"].duplicated().sum() == len(dup_tickets)
    valid_like = export.drop_duplicates().copy()
    valid_like["building_id"] = valid_like["N° ticket"].map(
        {**truth["address_buildings"], **truth["coordinate_buildings"]}
    )
    valid_like = valid_like.set_index("N° ticket")
    likely = reasons.index[reasons == "likely_duplicate"]
    assert len(likely) == 40
    for second in likely:
        first = truth["duplicate_of"][second]
        a, b = valid_like.loc[first], valid_like.loc[second]
        assert a["building_id"] == b["building_id"]
        assert _codes(pd.Series([a["Catégorie"], b["Catégorie"]])).nunique() == 1
        gap = pd.to_datetime(b["Date de création"], format="%d/%m/%Y %H:%M") - pd.to_datetime(
            a["Date de création"], format="%d/%m/%Y %H:%M"
        )
        assert pd.Timedelta(0) < gap < pd.Timedelta(hours=48)


def test_no_accidental_duplicates_beside_the_planted_ones(
    export: pd.DataFrame, truth: dict[str, Any]
) -> None:
    # Same category within 48 h on the same building, or with coordinates < 30 m apart:
    # only the planted likely duplicates may look like that.
    valid = _valid(export, truth, keep=("likely_duplicate",)).sort_values("created")
    has_xy = valid["Latitude"] != ""
    lat = valid["Latitude"].str.replace(",", ".").where(has_xy, "nan").astype(float)
    lon = valid["Longitude"].str.replace(",", ".").where(has_xy, "nan").astype(float)
    pts = _lonlat_to_metric(lon.to_numpy(), lat.to_numpy())
    valid["x"], valid["y"] = shapely.get_x(pts), shapely.get_y(pts)
    found = set()
    for _code, group in valid.groupby("code"):
        t = group["created"].to_numpy()
        for k in range(len(group)):
            later = (t > t[k]) & (t - t[k] < np.timedelta64(48, "h"))
            if not later.any():
                continue
            same = group["building_id"].to_numpy()[later] == group["building_id"].iloc[k]
            near = (
                np.hypot(
                    group["x"].to_numpy()[later] - group["x"].iloc[k],
                    group["y"].to_numpy()[later] - group["y"].iloc[k],
                )
                < 30.0
            )
            for ticket in group["N° ticket"].to_numpy()[later][same | near]:
                found.add((group["N° ticket"].iloc[k], ticket))
    planted = {(first, second) for second, first in truth["duplicate_of"].items()}
    assert found == planted


def test_truth_counts_match_the_files(written: dict[str, Path], truth: dict[str, Any]) -> None:
    counts = truth["row_counts"]
    with written["reports"].open(encoding="cp1252", newline="") as f:
        assert counts[sim.FILES["reports"]] == sum(1 for _ in csv.reader(f, delimiter=";")) - 1
    assert 6000 <= counts[sim.FILES["reports"]] <= 8000
    walk = json.loads(written["walk"].read_text(encoding="utf-8"))
    assert counts[sim.FILES["walk"]] == len(walk["features"])
    kobo = pd.read_csv(written["kobo"], dtype=str, keep_default_na=False)
    assert counts[sim.FILES["kobo"]] == len(kobo)


def test_null_simulation_has_an_empty_truth_and_the_same_volume(
    null_sim: sim.Simulation, truth: dict[str, Any]
) -> None:
    t = null_sim.truth
    assert t["pattern"] is False
    for key in ("hotspots", "hotspot_buildings", "chronic", "rising", "lift_towers"):
        assert t[key] == [], key
    assert t["seasonal"] is None
    # The same volume but for the rows of the action register's planted problems, which
    # come on top of the N reports (pipelines.simulate.actions).
    n_null = len(null_sim.reports)
    n = truth["row_counts"][sim.FILES["reports"]] - truth["actions"]["planted_rows"]
    assert null_sim.truth["actions"]["planted_rows"] == 0
    assert abs(n_null - n) / n < 0.03


# ------------------------------------------------------------------------- observations
def test_walk_observations_are_wgs84_points_with_the_expected_properties(
    written: dict[str, Path], inputs: dict[str, Any]
) -> None:
    walk = gpd.read_file(written["walk"], engine="pyogrio")
    assert walk.crs.to_epsg() == 4326
    assert 120 <= len(walk) <= 180
    assert (walk.geometry.geom_type == "Point").all()
    assert set(walk.columns) >= {"date", "theme", "commentaire", "auteur", "photo"}
    dates = pd.to_datetime(walk["date"], format="ISO8601")
    assert 3 <= dates.dt.date.nunique() <= 6
    assert (dates.dt.hour >= 9).all()
    _, unknown = map_labels(walk["theme"].tolist())
    assert not unknown
    west, south, east, north = inputs["buildings"].total_bounds
    assert walk.geometry.x.between(west, east).all()
    assert walk.geometry.y.between(south, north).all()


def test_kobo_export_has_the_kobo_columns(written: dict[str, Path], truth: dict[str, Any]) -> None:
    raw = written["kobo"].read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    kobo = pd.read_csv(io.StringIO(raw.decode("utf-8")), dtype=str, keep_default_na=False)
    assert list(kobo.columns) == sim.KOBO_COLUMNS
    assert 100 <= len(kobo) <= 140
    assert kobo["_uuid"].is_unique
    assert kobo["_id"].is_unique
    empty = kobo["_geolocation"] == ""
    assert 1 <= empty.sum() <= 3
    located = kobo[~empty]
    parsed = located["_geolocation"].str.extract(r"^\[(-?[\d.]+), (-?[\d.]+)\]$").astype(float)
    assert parsed.notna().all().all()
    assert np.allclose(parsed[0], located["_localisation_latitude"].astype(float))
    assert np.allclose(parsed[1], located["_localisation_longitude"].astype(float))
    # Local times with their offset (+01:00 in winter, +02:00 in summer), as Kobo writes.
    start = pd.to_datetime(kobo["start"], format="ISO8601", utc=True)
    end = pd.to_datetime(kobo["end"], format="ISO8601", utc=True)
    submitted = pd.to_datetime(kobo["_submission_time"], format="ISO8601", utc=True)
    assert (submitted > end).all()
    assert (end > start).all()
    assert set(kobo["_uuid"]) == set(truth["kobo_buildings"])
    _, unknown = map_labels(kobo["probleme"].tolist())
    assert not unknown


# --------------------------------------------------------------------- hand-made answers
def test_repair_mojibake_undoes_the_ban_double_encoding() -> None:
    assert sim.repair_mojibake("Avenue de la VillÃ©giature") == "Avenue de la Villégiature"
    assert sim.repair_mojibake("Route dâ€™Aulnay") == "Route d’Aulnay"
    assert sim.repair_mojibake("Allée des Roses") == "Allée des Roses"


def test_format_address_keeps_the_number_and_the_street() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        text = sim.format_address(rng, 12, "bis", "Allee Marguerite Duras", "93140", "B")
        assert re.match(r"^12 ?bis\b", text, flags=re.IGNORECASE), text
        assert "duras" in strip_accents(text).lower(), text
    plain = {sim.format_address(rng, 7, "", "Rue Fontaine", "93140") for _ in range(100)}
    assert len(plain) >= 4  # the spellings vary
    assert all(t.startswith("7 ") for t in plain)


def test_building_profile_on_a_hand_made_square() -> None:
    # A 100 m × 100 m square in Lambert-93 covers 10,000 m²: large, so social (no RPLS
    # given), tall, with dwellings capped at 150; a 10 m × 10 m hut is residential only.
    square = shapely.box(662000, 6867000, 662100, 6867100)
    hut = shapely.box(662500, 6867000, 662510, 6867010)
    frame = gpd.GeoDataFrame(
        {"building_id": ["way/1", "way/2"], "building_type": ["yes", "yes"], "name": [None, None]},
        geometry=[square, hut],
        crs=LAMBERT93,
    ).to_crs(WGS84)
    profile = sim.building_profile(frame)
    assert profile["area_m2"].round(0).tolist() == [10000.0, 100.0]
    assert profile["is_social"].tolist() == [True, False]
    assert profile["is_tall"].tolist() == [True, False]
    assert profile.loc[0, "dwellings_est"] == sim.MAX_GUESSED_DWELLINGS
    assert profile.loc[1, "exposure"] == pytest.approx(100 * 2 / 65 * sim.OTHER_TENURE)
