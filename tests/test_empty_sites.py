"""Sites with nothing to count (issue 18): a site with buildings but no report, a site
whose perimeter holds no OSM building. Each is kept in the portfolio table and marked,
never a crash; the engine of disclosure control takes empty tables."""

from __future__ import annotations

import ast
import csv
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.cli import main
from pipelines.io import read_csv
from pipelines.publish.cells import microdata, unpublished_zone
from pipelines.stats import disclosure
from tests.conftest import RAW, ROOT, make_secret
from tests.test_portfolio import LAYER, SITES, box, write_config, write_layer


def test_the_engine_protects_around_an_empty_given_table() -> None:
    # No report: the microdata's text columns are empty, and so is the zone table given
    # to the engine (pandas types an empty list as float: the join used to fail).
    reports = pd.DataFrame(
        {
            "building_id": pd.Series([], dtype=object),
            "category": pd.Series([], dtype=object),
            "reported_at": pd.Series([], dtype="datetime64[us]"),
            "source_kind": pd.Series([], dtype=object),
        }
    )
    micro = microdata(reports, zone_of={}, person_related=frozenset({"occupation"}))
    assert micro.empty
    tables = [(), ("zone",), ("zone", "building_id")]
    out = disclosure.protect(
        micro, tables, rule=disclosure.COMITE, given={("zone",): unpublished_zone(micro)}
    )
    assert out.audit["passed"]
    assert all(frame.empty for frame in out.tables.values())
    assert disclosure.audit(micro, out.tables, rule=disclosure.COMITE)["passed"]


def test_an_empty_table_still_joins_a_given_one_with_text_keys() -> None:
    # Two reports of one household in one zone: the given zone table, typed by its
    # rows, keeps working as before (the zone locked hidden stays hidden).
    micro = pd.DataFrame(
        {
            "zone": ["Z1", "Z1"],
            "building_id": ["way/1", "way/2"],
            "household": ["h1", "h1"],
            "person_related": [True, True],
        }
    )
    given = pd.DataFrame({"zone": ["Z1"], "flag": ["s"], "locked": [True], "reason": ["x"]})
    out = disclosure.protect(micro, [("zone",), ("zone", "building_id")], given={("zone",): given})
    zone = out.tables[("zone",)]
    assert zone["flag"].tolist() == ["s"]
    assert np.isnan(zone["n_reports"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)[0])


# --------------------------------------------------------------------------- end to end
def _portfolio_json(index: Path) -> dict:
    html = index.read_text(encoding="utf-8")
    block = re.search(
        r'<script type="application/json" id="vigie-portfolio">(.*?)</script>', html, re.S
    )
    assert block is not None
    return json.loads(block.group(1))


PARIS_BOUNDS = (2.3432, 48.87717, 2.3541, 48.88119)  # paris10.osm (shared/README.md)


@pytest.mark.slow
def test_a_site_with_buildings_and_no_report_runs_through_and_is_marked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Real DansMaRue reports of the 15th arrondissement over the real Paris 10e extract:
    # every one of them falls outside the extract, so the site counts no report.
    src = RAW / "paris10" / "dansmarue_paris_2023-08_2024-09.csv"
    with src.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = [r for r in reader if r["arrondissement"] == "15"][:120]
        fields = list(reader.fieldnames or [])
    for r in rows:  # checked here, with the csv module and the extract's bounds
        point = ast.literal_eval(r["geo_point_2d"])
        w, s, e, n = PARIS_BOUNDS
        assert not (w <= point["lon"] <= e and s <= point["lat"] <= n)
    export = tmp_path / "export.csv"
    with export.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    text = (ROOT / "config" / "demo.toml").read_text(encoding="utf-8")
    site = text[text.index('[[sites]]\nid = "paris10"') :]
    site = site.replace('"data/raw/paris10/dansmarue_paris_2023-08_2024-09.csv"', f'"{export}"')
    cfg = tmp_path / "vide.toml"
    cfg.write_text(
        "[project]\n"
        f'processed_dir = "{tmp_path / "processed"}"\nmaps_dir = "{tmp_path / "maps"}"\n'
        f'annotations_dir = "{tmp_path / "notes"}"\nactions_dir = "{tmp_path / "actions"}"\n'
        f'secrets_dir = "{tmp_path / "secrets"}"\nportfolio_page_from = 1\n\n' + site,
        encoding="utf-8",
    )
    make_secret(tmp_path / "secrets", "paris10")
    assert main(["-q", "run", "--config", str(cfg), "--sequential"]) == 0
    assert "Traceback" not in capsys.readouterr().err
    processed = tmp_path / "processed" / "paris10"
    ingest = json.loads((processed / "ingest_summary.json").read_text(encoding="utf-8"))
    assert ingest["totals"]["rows_in"] == len(rows)
    assert ingest["totals"]["outside_study_area"] == len(rows)
    assert (tmp_path / "maps" / "paris10_comite.pdf").is_file()
    summary = json.loads((processed / "published" / "indicators_summary.json").read_text("utf-8"))
    assert summary["mark"] == "no_reports"
    # the open-data pack gets the indicators too, under its own profile
    stage = ["-q", "stage", "--config", str(cfg), "--site", "paris10"]
    folders = ["--processed-dir", str(processed), "--maps-dir", str(tmp_path / "maps")]
    assert main([*stage, *folders, "publish_public"]) == 0
    public = json.loads(
        (processed / "published_public" / "indicators_summary.json").read_text("utf-8")
    )
    assert public["profile"] == "public"
    assert public["mark"] == "no_reports"
    page = _portfolio_json(tmp_path / "maps" / "index.html")
    (row,) = page["sites"]
    assert row["mark"] == "aucun signalement sur la période"
    assert row["map"] == "paris10.html"
    assert row["quarter"] is None
    assert row["cells"] == {}


@pytest.mark.slow
def test_a_site_with_no_building_is_kept_marked_and_its_rows_listed(
    tmp_path: Path, simulated_bondy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The three sectors of the example, and a fourth perimeter beyond the Bondy extract
    # (no OSM building within it or its margin) that 25 rows of the real export, moved
    # there, fall in.
    with (simulated_bondy / "signalements_bailleur.csv").open(encoding="cp1252", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    moved = [
        {
            **r,
            "N° ticket": f"VIDE-{i}",
            "Latitude": "48,9205",
            "Longitude": "2,5005",
            "Bâtiment": "",
        }
        for i, r in enumerate(rows[:25])
    ]
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(simulated_bondy / "gazetteer.csv", raw / "gazetteer.csv")
    with (raw / "export.csv").open("w", encoding="cp1252", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter=";")
        writer.writeheader()
        writer.writerows(rows + moved)
    doc = json.loads(LAYER.read_text(encoding="utf-8"))
    features = [
        (f["properties"]["code"], f["properties"]["nom"], f["geometry"]) for f in doc["features"]
    ]
    features.append(("vide", "Sans bâtiment", box(2.50, 48.92, 2.501, 48.921)))
    layer = write_layer(tmp_path / "layer.geojson", features)
    cfg = write_config(tmp_path, str(raw / "export.csv"), layer=layer)
    make_secret(tmp_path / "secrets", "vide")
    assert main(["-q", "run", "--config", str(cfg), "--site", "vide", "--sequential"]) == 0
    assert "site « vide » : aucun bâtiment OSM dans le périmètre" in caplog.text
    processed = tmp_path / "processed" / "vide"
    assert json.loads((processed / "buildings_summary.json").read_text("utf-8"))["buildings"] == 0
    ingest = json.loads((processed / "ingest_summary.json").read_text(encoding="utf-8"))["totals"]
    unplaced = read_csv(processed / "unplaced.csv", dtype=str)
    rejected = read_csv(processed / "rejected.csv", dtype=str)
    outside = read_csv(processed / "outside_study_area.csv", dtype=str)
    # every row the split gave the site is in exactly one list, with a reason
    assert ingest["rows_in"] == len(moved)
    assert len(unplaced) + len(rejected) + len(outside) + ingest["duplicates"] == len(moved)
    assert set(unplaced["reason"]) <= {"aucun bâtiment OSM dans le périmètre"}
    assert set(unplaced["report_id"]) <= {f"bailleur:VIDE-{i}" for i in range(len(moved))}
    assert not (tmp_path / "maps" / "vide.html").exists()
    page = _portfolio_json(tmp_path / "maps" / "index.html")
    row = next(s for s in page["sites"] if s["id"] == "vide")
    assert row["mark"] == "aucun bâtiment OSM dans le périmètre"
    assert row["map"] is None
    assert [s["id"] for s in page["sites"]] == [*SITES, "vide"]
