"""End to end: `vigie run` on the default configuration, into a temporary folder."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import pandas as pd
import pytest

from pipelines.io import read_csv
from pipelines.osm.buildings import read_osm_bounds
from pipelines.taxonomy import CODES
from tests.conftest import RAW, DemoRun

pytestmark = pytest.mark.slow

SITES = ("bondy", "paris10")


def _summary(run: DemoRun, site: str) -> dict:
    return json.loads((run.site(site) / "run_summary.json").read_text(encoding="utf-8"))


def _n_rejected(value: object) -> int:
    return sum(value.values()) if isinstance(value, dict) else int(value)  # type: ignore[union-attr]


@pytest.mark.parametrize("site", SITES)
def test_every_row_is_accounted_for(demo_run: DemoRun, site: str) -> None:
    summary = _summary(demo_run, site)
    reports = gpd.read_parquet(demo_run.site(site) / "reports.parquet")
    rejected = read_csv(demo_run.site(site) / "rejected.csv")
    outside = read_csv(demo_run.site(site) / "outside_study_area.csv")
    history = read_csv(demo_run.site(site) / "report_history.csv")
    assert summary["sources"], "no source in the summary"
    for sid, s in summary["sources"].items():
        n_rej = _n_rejected(s["rejected"])
        assert s["rows_in"] == (
            s["accepted"] + s["updated"] + s["duplicates"] + n_rej + s["outside_study_area"]
        )
        assert (history["source"] == sid).sum() == s["updated"]
        # The summary's figures are those of the files the analyst opens.
        assert (reports["source"] == sid).sum() == s["accepted"]
        row_level = rejected[(rejected["source"] == sid) & (rejected["source_line"] > 0)]
        assert len(row_level) == n_rej
        assert (outside["source"] == sid).sum() == s["outside_study_area"]


@pytest.mark.parametrize("site", SITES)
def test_reports_contract(demo_run: DemoRun, site: str) -> None:
    reports = gpd.read_parquet(demo_run.site(site) / "reports.parquet")
    required = {
        "report_id",
        "source",
        "category",
        "reported_at",
        "building_id",
        "geocode_method",
        "geocode_distance_m",
        "duplicate_of",
    }
    assert required <= set(reports.columns)
    assert reports.crs.to_epsg() == 4326
    assert reports["report_id"].is_unique
    assert pd.api.types.is_datetime64_any_dtype(reports["reported_at"])
    placed = reports["building_id"].notna()
    assert (reports.loc[~placed, "geocode_method"] == "unmatched").all()
    assert (reports.loc[placed, "geocode_method"] != "unmatched").all()
    near = reports["geocode_method"] == "nearest_building"
    assert (reports.loc[near, "geocode_distance_m"] <= 25.0).all()
    summary = _summary(demo_run, site)
    by_method = summary["geocode"]["by_method"]
    assert sum(by_method.values()) == len(reports)


@pytest.mark.parametrize("site", SITES)
def test_buildings_counts_add_up(demo_run: DemoRun, site: str) -> None:
    b = gpd.read_parquet(demo_run.site(site) / "buildings.parquet")
    reports = gpd.read_parquet(demo_run.site(site) / "reports.parquet")
    assert b["building_id"].is_unique
    counted = reports[
        reports["building_id"].notna()
        & (reports["source_kind"] == "reports")
        & reports["duplicate_of"].isna()
    ]
    assert b["n_reports"].sum() == len(counted)
    per_cat = b[[f"n_{code}" for code in CODES]].sum(axis=1)
    assert (per_cat == b["n_reports"]).all()


def test_paris10_outside_area_equals_independent_count(demo_run: DemoRun) -> None:
    raw = pd.read_csv(RAW / "paris10" / "dansmarue_paris_2023-08_2024-09.csv")
    pts = raw["geo_point_2d"].str.extract(r"'lon':\s*([-\d.]+),\s*'lat':\s*([-\d.]+)").astype(float)
    west, south, east, north = read_osm_bounds(RAW / "paris10" / "paris10.osm")
    inside = pts[0].between(west, east) & pts[1].between(south, north)
    s = _summary(demo_run, "paris10")["sources"]["dansmarue"]
    assert s["rows_in"] == len(raw) == 10_000
    assert s["outside_study_area"] == int((~inside).sum())
    assert s["accepted"] + s["updated"] + s["duplicates"] + _n_rejected(s["rejected"]) == int(
        inside.sum()
    )


def test_no_personal_data_in_outputs(demo_run: DemoRun) -> None:
    raw = pd.read_csv(
        demo_run.raw_bondy / "signalements_bailleur.csv", sep=";", encoding="cp1252", dtype=str
    )
    names = set(raw["Nom du demandeur"].dropna())
    phones = set(raw["Téléphone"].dropna())
    assert names
    assert phones
    texts = []
    for path in list(demo_run.processed.rglob("*")) + list(demo_run.maps.rglob("*")):
        if path.suffix in {".csv", ".json", ".html", ".md"}:
            texts.append(path.read_text(encoding="utf-8-sig"))
        elif path.suffix == ".parquet":
            frame = pd.read_parquet(path)
            text_columns = [
                c
                for c in frame.columns
                if c != "geometry"
                and not pd.api.types.is_numeric_dtype(frame[c])
                and not pd.api.types.is_datetime64_any_dtype(frame[c])
            ]
            texts.append(frame[text_columns].astype(str).to_csv())
    blob = "\n".join(texts)
    # Public place names are not personal data: a fake resident name may equal a real
    # street's (Bondy has a « Rue François Martin »). Remove OSM names before searching.
    for path in demo_run.processed.rglob("basemap.parquet"):
        for place in pd.read_parquet(path, columns=["name"])["name"].dropna().unique():
            blob = blob.replace(str(place), "")
    leaked = [n for n in names if n in blob]
    assert not leaked, f"names leaked: {leaked[:5]}"
    # A phone number, whatever its separators, as a whole token (not inside a longer number):
    # collect every digit run written with phone separators once, then compare.
    tokens = re.findall(r"(?<![\d.])\+?\d[\d .\-]{7,}\d(?![\d])", blob)
    in_outputs = {re.sub(r"\D", "", t)[-9:] for t in tokens}
    leaked_phones = [
        p
        for p in phones
        if len(re.sub(r"\D", "", p)) >= 9 and re.sub(r"\D", "", p)[-9:] in in_outputs
    ]
    assert not leaked_phones, leaked_phones[:5]
    assert not re.search(r"[\w.+-]+@[\w-]+\.[a-z]{2,}", blob)


def test_maps_and_index_written(demo_run: DemoRun) -> None:
    index = (demo_run.maps / "index.html").read_text(encoding="utf-8")
    for site in SITES:
        page = demo_run.maps / f"{site}.html"
        assert page.exists()
        assert f"{site}.html" in index
    bondy = (demo_run.maps / "bondy.html").read_text(encoding="utf-8")
    paris = (demo_run.maps / "paris10.html").read_text(encoding="utf-8")
    assert "données simulées" in bondy
    assert "données simulées" not in paris
    assert "OpenStreetMap" in bondy
    assert "ODbL" in paris
    assert "Dans ma rue" in paris


def test_likely_duplicates_among_reports_are_the_planted_ones(demo_run: DemoRun) -> None:
    truth = json.loads((demo_run.raw_bondy / "simulation_truth.json").read_text(encoding="utf-8"))
    planted = {k for k, v in truth["bad_rows"].items() if v == "likely_duplicate"}
    reports = gpd.read_parquet(demo_run.site("bondy") / "reports.parquet")
    linked = reports[(reports["source_kind"] == "reports") & reports["duplicate_of"].notna()]
    found = set(linked["report_id"].str.removeprefix("bailleur:"))
    assert planted, "the simulator plants likely duplicates"
    assert found == planted
    # A report is never linked to a walkthrough observation.
    kinds = reports.set_index("report_id")["source_kind"]
    assert (kinds.reindex(linked["duplicate_of"]).to_numpy() == "reports").all()


def test_bondy_address_only_rows_reach_their_true_building(demo_run: DemoRun) -> None:
    truth = json.loads((demo_run.raw_bondy / "simulation_truth.json").read_text(encoding="utf-8"))
    true_building = truth["address_buildings"]
    reports = gpd.read_parquet(demo_run.site("bondy") / "reports.parquet")
    ticket = reports["report_id"].str.removeprefix("bailleur:")
    rows = reports[
        (reports["source"] == "bailleur") & ticket.isin(true_building) & reports["lon"].isna()
    ]
    expected = ticket[rows.index].map(true_building)
    assert len(rows) > 1000
    hit = rows["building_id"] == expected
    assert hit.mean() >= 0.95
    # By the typed address alone (no landlord building code to look up in the gazetteer).
    no_code = rows["building_ref"].isna()
    assert no_code.sum() > 500
    assert hit[no_code].mean() >= 0.95
    assert set(rows.loc[no_code, "geocode_method"]) <= {
        "address_exact",
        "address_interpolated",
        "address_fuzzy",
        "unmatched",
    }
