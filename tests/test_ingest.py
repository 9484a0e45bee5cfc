"""Ingestion: real DansMaRue, the simulator's exports and hand-made nasty files.

Every test checks the partition ``rows_in = accepted + updated + duplicates + rejected +
outside_study_area`` besides its own point; the known answers come from the files
themselves (read independently here) or from the way the fixtures were written.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import shutil
import zipfile
from datetime import date, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer

from pipelines.config import DEFAULT_PARAMS, SiteConfig, SourceConfig, load_config
from pipelines.errors import InputError
from pipelines.geocode import link_likely_duplicates
from pipelines.ingest import stage as ingest
from pipelines.ingest.cells import _parse_source
from pipelines.ingest.csvfile import read_csv
from pipelines.ingest.dates import parse_dates
from pipelines.ingest.ragged import read_exact
from pipelines.ingest.readers import read_file
from pipelines.io import read_geoparquet, write_points_geoparquet
from pipelines.osm.buildings import read_osm_bounds
from pipelines.taxonomy import BY_SERVICE_CODE, CODES, map_labels
from tests.conftest import RAW, ROOT, make_secret

DATA = ROOT / "tests" / "data" / "ingest"
BONDY_BBOX = (2.4779, 48.90676, 2.49111, 48.91278)
TODAY = date(2025, 6, 1)
PHONE = re.compile(r"(?<![\w-])(?:\+33|0)\s*(?:\(0\)\s*)?[1-9](?:[\s.-]?\d{2}){4}(?![\w-])")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def _site(*sources: SourceConfig, start_date: str = "2015-01-01") -> SiteConfig:
    params = {**DEFAULT_PARAMS, "ingest": {**DEFAULT_PARAMS["ingest"], "start_date": start_date}}
    return SiteConfig(id="test", name="test", osm="", sources=sources, params=params)


def _source(path: str | Path, **kw: object) -> SourceConfig:
    return SourceConfig(
        id=str(kw.pop("id", "src")), kind=str(kw.pop("kind", "reports")), path=str(path), **kw
    )  # type: ignore[arg-type]


def _ingest(*sources: SourceConfig, bbox=BONDY_BBOX, **kw: object) -> ingest.IngestResult:
    result = ingest.ingest_site(_site(*sources, **kw), study_area_bbox=bbox, today=TODAY)  # type: ignore[arg-type]
    for s in result.summary["sources"].values():
        assert s["rows_in"] == (
            s["accepted"]
            + s["updated"]
            + s["duplicates"]
            + sum(s["rejected"].values())
            + s["outside_study_area"]
        )
    return result


def _by_id(result: ingest.IngestResult) -> pd.DataFrame:
    return result.ingested.set_index("report_id")


# --------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def paris10() -> ingest.IngestResult:
    site = load_config(ROOT / "config" / "demo.toml").site("paris10")
    bbox = read_osm_bounds(RAW / "paris10" / "paris10.osm")
    return ingest.ingest_site(site, study_area_bbox=bbox, today=date(2025, 1, 1))


def test_dansmarue_every_row_accounted_for(paris10: ingest.IngestResult) -> None:
    raw = pd.read_csv(RAW / "paris10" / "dansmarue_paris_2023-08_2024-09.csv", dtype=str)
    pts = raw["geo_point_2d"].str.extract(r"'lon':\s*([-\d.]+),\s*'lat':\s*([-\d.]+)").astype(float)
    west, south, east, north = read_osm_bounds(RAW / "paris10" / "paris10.osm")
    inside = pts[0].between(west, east) & pts[1].between(south, north)
    s = paris10.summary["sources"]["dansmarue"]
    assert s["rows_in"] == len(raw) == 10_000
    assert s["outside_study_area"] == int((~inside).sum()) == len(paris10.outside)
    assert s["rejected"] == {}
    assert s["duplicates"] == 0
    assert s["accepted"] == int(inside.sum()) == len(paris10.ingested)
    assert 90 <= s["accepted"] <= 130  # "about 109 inside"
    # geo_point_2d parsed: the accepted points are the file's points.
    expected = pts[inside].set_axis(["lon", "lat"], axis=1)
    expected.index = "dansmarue:" + raw.loc[inside, "id_dmr"]
    got = _by_id(paris10).loc[expected.index, ["lon", "lat"]]
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-12)
    assert s["coordinates"]["geo_point"] == len(raw)
    assert (paris10.ingested["coord_note"] == "geo_point").all()


def test_dansmarue_categories_and_lines(paris10: ingest.IngestResult) -> None:
    config = load_config(ROOT / "config" / "demo.toml").site("paris10").sources[0]
    raw = pd.read_csv(RAW / "paris10" / "dansmarue_paris_2023-08_2024-09.csv", dtype=str)
    s = paris10.summary["sources"]["dansmarue"]
    assert s["unknown_labels"] == {}
    assert set(s["by_category"]) <= set(CODES)
    codes, unknown = map_labels(raw["type"], config.categories)
    assert unknown == []
    inside_ids = set(paris10.ingested["report_id"].str.removeprefix("dansmarue:"))
    mapped = pd.Series(codes, index=raw["id_dmr"])[raw["id_dmr"].isin(inside_ids).to_numpy()]
    assert s["by_category"] == {k: int(v) for k, v in mapped.value_counts().sort_index().items()}
    # source_line is the file's line (header = 1) and that line holds the report's id.
    lines = (
        (RAW / "paris10" / "dansmarue_paris_2023-08_2024-09.csv").read_text("utf-8").splitlines()
    )
    for rid, line in zip(
        paris10.ingested["report_id"], paris10.ingested["source_line"], strict=True
    ):
        assert rid.removeprefix("dansmarue:") in lines[line - 1]
    assert paris10.ingested["reported_at"].between("2023-08-14", "2024-09-13").all()


def spaced_numbers(text: str, *, max_digits: int) -> set[str]:
    """Every number written in ``text`` with any spacing: the digits of each run of
    digit groups joined by spaces, dots, slashes or hyphens ("06 12.34-56 78"), taken
    whole groups at a time, as a regex ``(?<!\\d)0[\\s./-]*6…(?!\\d)`` would match them, up
    to ``max_digits`` digits. One pass over the text instead of one search per number."""
    found: set[str] = set()
    for run in re.finditer(r"\d+(?:[\s./-]+\d+)*", text):
        groups = re.findall(r"\d+", run.group())
        for i in range(len(groups)):
            digits = ""
            for group in groups[i:]:
                digits += group
                if len(digits) > max_digits:
                    break
                found.add(digits)
    return found


def test_spaced_numbers_matches_whole_groups_only() -> None:
    text = "tél 06 12.34-56 78, réf 2061234567 8; 1234567890123"
    found = spaced_numbers(text, max_digits=10)
    assert "0612345678" in found  # spaced
    assert "2061234567" in found  # a group on its own
    assert "0612345678" in spaced_numbers("x0612345678y", max_digits=10)
    assert "6123456782" not in found  # not starting at a group's start
    assert "1234567890" not in found  # inside a longer group


@pytest.mark.slow  # ingests the whole simulated site: end to end
def test_simulated_exports(simulated_bondy: Path, tmp_path: Path) -> None:
    config_text = (ROOT / "config" / "demo.toml").read_text(encoding="utf-8")
    config_text = re.sub(
        r'"data/raw/bondy/((?:signalements|observations)[^"]*)"',
        rf'"{simulated_bondy}/\1"',
        config_text,
    )
    config_text = config_text.replace(
        "[project]\n", f'[project]\nsecrets_dir = "{tmp_path / "secrets"}"\n', 1
    )
    make_secret(tmp_path / "secrets", "bondy")
    (tmp_path / "demo.toml").write_text(config_text, encoding="utf-8")
    config = load_config(tmp_path / "demo.toml")
    result = ingest.run(
        config, "bondy", tmp_path / "out", bounds=read_osm_bounds(config.site("bondy").osm)
    )
    truth = json.loads((simulated_bondy / "simulation_truth.json").read_text(encoding="utf-8"))
    raw = pd.read_csv(
        simulated_bondy / "signalements_bailleur.csv", sep=";", encoding="cp1252", dtype=str
    )
    s = result.summary["sources"]["bailleur"]
    assert s["rows_in"] == len(raw)

    # The planted bad rows get the expected reasons.
    rejected = result.rejected[result.rejected["source"] == "bailleur"]
    tickets = rejected["original_row"].map(lambda r: json.loads(r)["N° ticket"])
    got = dict(zip(tickets, rejected["reason"], strict=True))
    expected_reason = {"missing_date": "missing_date", "bad_coordinates": "unparseable_coordinates"}
    for ticket, kind in truth["bad_rows"].items():
        if kind in expected_reason:
            assert got.get(ticket) == expected_reason[kind], ticket
    assert s["rejected"] == {
        v: sum(1 for k in truth["bad_rows"].values() if expected_reason.get(k) == v)
        for v in ("missing_date", "unparseable_coordinates")
    }
    outside = set(result.outside["report_id"])
    for ticket, kind in truth["bad_rows"].items():
        if kind == "outside_study_area":
            assert f"bailleur:{ticket}" in outside
    exact = sum(1 for k in truth["bad_rows"].values() if k == "exact_duplicate")
    assert s["duplicates"] == exact == len(raw) - raw["N° ticket"].nunique()
    accepted = set(result.ingested["report_id"])
    for ticket, kind in truth["bad_rows"].items():
        if kind == "likely_duplicate":  # kept by ingestion; the geocoding stage links them
            assert f"bailleur:{ticket}" in accepted | outside
    assert s["unknown_labels"]
    assert set(s["unknown_labels"]) <= set(truth["unknown_labels"])

    # Personal data: the personal columns' values appear nowhere, nor phones or e-mails.
    ingested = pd.read_parquet(tmp_path / "out" / "ingested.parquet")
    texts = ingested.select_dtypes(exclude=["number", "datetime"]).drop(columns="geometry")
    blob = "\n".join(
        [
            texts.to_csv(),
            (tmp_path / "out" / "rejected.csv").read_text(encoding="utf-8-sig"),
            (tmp_path / "out" / "ingest_summary.json").read_text(encoding="utf-8"),
        ]
    )
    for column in ("Nom du demandeur", "Téléphone", "Logement"):
        assert column not in ingested.columns
        assert f'"{column}":' not in blob  # not a key of any original_row
    names = {n for n in raw["Nom du demandeur"].dropna() if len(n) > 6}
    assert names
    assert not [n for n in names if n in blob]
    assert not PHONE.search(blob), PHONE.search(blob)
    assert not EMAIL.search(blob)
    # Each planted phone number, looked for as itself in any spacing ("06 12 34 56 78",
    # "0612345678", "06.12.34.56.78"), never across unrelated digits of the blob.
    phones = {re.sub(r"\D", "", p) for p in raw["Téléphone"].dropna()}
    planted = {p for p in phones if len(p) >= 10}
    assert planted
    assert not planted & spaced_numbers(blob, max_digits=max(map(len, planted)))
    assert result.summary["sources"]["bailleur"]["scrubbed"]["phones"] > 0
    for sid, personal in (("diagnostic", "auteur"), ("kobo", "nom_enqueteur")):
        rows = result.rejected[result.rejected["source"] == sid]["original_row"]
        assert all(personal not in json.loads(r) for r in rows if r)
    # Kobo: submission times are UTC, reported in Paris time.
    kobo = pd.read_csv(simulated_bondy / "observations_kobo.csv", dtype=str)
    first = kobo.iloc[0]
    row = result.ingested.set_index("report_id").loc[f"kobo:{first['_uuid']}"]
    utc = pd.Timestamp(first["_submission_time"]).tz_localize("UTC")
    assert row["reported_at"] == utc.tz_convert("Europe/Paris").tz_localize(None)


def test_simulated_likely_duplicates_found_by_distance(
    simulated_bondy: Path, tmp_path: Path
) -> None:
    """The simulator plants a neighbour's report of the same problem within 36 h and 20 m,
    and removes accidental pairs: by distance alone (no building yet), the links are
    exactly the planted pairs whose two reports carry coordinates."""
    site = load_config(ROOT / "config" / "demo.toml").site("bondy")
    source = next(s for s in site.sources if s.id == "bailleur")
    source = dataclasses.replace(source, path=str(simulated_bondy / "signalements_bailleur.csv"))
    result = ingest.ingest_site(
        _site(source),
        study_area_bbox=read_osm_bounds(RAW / "bondy" / "bondy_nord.osm"),
        today=date(2030, 1, 1),
    )
    # Through ingested.parquet, as the geocoding stage reads it (points from lon/lat).
    write_points_geoparquet(result.ingested, tmp_path / "ingested.parquet")
    reports = read_geoparquet(tmp_path / "ingested.parquet")
    linked = link_likely_duplicates(reports, distance_m=30.0, window_h=48.0)
    got = {
        a.removeprefix("bailleur:"): b.removeprefix("bailleur:")
        for a, b in zip(reports["report_id"], linked, strict=True)
        if not pd.isna(b)
    }
    truth = json.loads((simulated_bondy / "simulation_truth.json").read_text(encoding="utf-8"))
    placed = set(reports.loc[reports.geometry.notna(), "report_id"].str.removeprefix("bailleur:"))
    expected = {a: b for a, b in truth["duplicate_of"].items() if a in placed and b in placed}
    assert len(expected) >= 10
    assert got == expected


# --------------------------------------------------------------------------- nasty files
def test_bom_mixed_line_endings_trailing_separators() -> None:
    src = _source(
        DATA / "bom_mixed_endings.csv",
        personal_columns=("Nom du demandeur",),
        columns={
            "id": "N° ticket",
            "date": "Date de création",
            "category": "Catégorie",
            "description": "Description",
            "address": "Adresse",
            "lat": "Latitude",
            "lon": "Longitude",
        },
    )
    result = _ingest(src)
    s = result.summary["sources"]["src"]
    assert s["file_details"][0]["encoding"] == "utf-8-sig"
    assert s["rows_in"] == 4
    assert s["accepted"] == 4
    rows = _by_id(result)
    assert rows.loc["src:T1", "source_line"] == 2
    assert rows.loc["src:T2", "source_line"] == 3  # its description spans lines 3 and 4
    assert rows.loc["src:T3", "source_line"] == 6  # after a blank line
    assert rows.loc["src:T4", "source_line"] == 7
    assert rows.loc["src:T2", "description"] == "Fuite au plafond\nde la cuisine"
    assert rows.loc["src:T1", "reported_at"] == pd.Timestamp("2024-04-03 08:15")
    assert rows.loc["src:T3", "reported_at"] == pd.Timestamp("2024-04-05")
    assert rows.loc["src:T4", "reported_at"] == pd.Timestamp("2024-04-06 10:00")
    assert rows.loc["src:T1", "lat"] == pytest.approx(48.91)
    assert rows.loc["src:T1", "coord_note"] == "decimal_comma"
    assert rows.loc["src:T4", "coord_note"] == ""
    assert pd.isna(rows.loc["src:T2", "lon"])
    assert rows.loc["src:T2", "address"] == "3 rue Lucie Aubrac"
    assert rows.loc["src:T2", "category"] == "eau_fuite"


def test_fast_and_exact_csv_readers_agree() -> None:
    raw = read_csv(DATA / "bom_mixed_endings.csv")
    text = (DATA / "bom_mixed_endings.csv").read_bytes()[3:].decode("utf-8")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    names = [*raw.columns, "colonne_9"]
    table, lines, malformed = read_exact(text, names, ";")
    assert not malformed
    assert table.drop_columns(["colonne_9"]).equals(raw.table)
    np.testing.assert_array_equal(lines, raw.lines)


def test_empty_header_only_and_missing_files(caplog: pytest.LogCaptureFixture) -> None:
    cols = {"id": "N° ticket", "date": "Date de création", "address": "Adresse"}
    caplog.set_level(logging.WARNING, logger="pipelines.ingest.stage")
    result = _ingest(
        _source(DATA / "empty.csv", id="vide", columns=cols),
        _source(DATA / "header_only.csv", id="entete", columns=cols),
        _source(DATA / "nothing_*.csv", id="glob", columns=cols),
        _source(DATA / "absent.csv", id="absent", columns=cols),
    )
    by_source = result.rejected.set_index("source")
    for sid, reason in (
        ("vide", "empty_file"),
        ("entete", "empty_file"),
        ("glob", "missing_file"),
        ("absent", "missing_file"),
    ):
        s = result.summary["sources"][sid]
        assert s["rows_in"] == 0
        assert s["file_issues"][0]["reason"] == reason
        assert by_source.loc[sid, "source_line"] == 0
        assert by_source.loc[sid, "reason"] == reason
    assert "en-tête" in by_source.loc["entete", "reason_fr"]
    # The run goes on without these files: the log says so, each named with its source.
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for sid, path in (("vide", "empty.csv"), ("entete", "header_only.csv"), ("absent", "absent")):
        assert any(f"source {sid}, " in m and path in m for m in warned), warned
    assert by_source.loc["glob", "source_file"] == str(DATA / "nothing_*.csv")
    assert len(result.ingested) == 0
    assert list(result.ingested.columns) == list(ingest.INGESTED_COLUMNS)


def test_missing_mapped_columns_are_named() -> None:
    src = _source(
        DATA / "missing_columns.csv",
        columns={
            "id": "N° ticket",
            "date": "Date de création",
            "category": "categorie",
            "address": "adresse",
        },
    )
    with pytest.raises(InputError) as err:
        _ingest(src)
    message = str(err.value)
    assert "missing_columns.csv" in message
    assert "« N° ticket »" in message
    assert "« Date de création »" in message
    assert "Colonnes disponibles : « ticket », « date », « categorie », « adresse »" in message


def test_missing_columns_of_a_workbook_name_its_other_sheets(tmp_path: Path) -> None:
    # The first sheet holds a table, not the export: the message listed its columns only,
    # and nothing said that the workbook had the export on another sheet.
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.title = "Synthèse"
    book.active.append(["catégorie", "nombre"])
    book.active.append(["ascenseur", 12])
    data = book.create_sheet("Export")
    data.append(["N° ticket", "Date de création", "adresse"])
    data.append(["T-1", "01/03/2024", "3 rue Lucie Aubrac"])
    book.save(tmp_path / "classeur.xlsx")
    columns = {"id": "N° ticket", "date": "Date de création", "address": "adresse"}
    with pytest.raises(InputError) as err:
        _ingest(_source(tmp_path / "classeur.xlsx", format="xlsx", columns=columns))
    message = str(err.value)
    assert "feuille lue : « Synthèse » ; le classeur a aussi « Export »" in message
    assert "clé sheet" in message
    result = _ingest(
        _source(tmp_path / "classeur.xlsx", format="xlsx", columns=columns, sheet="Export")
    )
    assert result.summary["totals"]["rows_in"] == 1


@pytest.mark.parametrize("state", ["hidden", "veryHidden"])
def test_a_workbook_whose_first_sheet_is_hidden_is_read_from_its_first_visible_one(
    tmp_path: Path, state: str
) -> None:
    # A macro's scratch sheet, or last month's export kept hidden, moved first: read
    # without a word instead of the export the analyst sees in the workbook.
    openpyxl = pytest.importorskip("openpyxl")
    export = pd.read_csv(
        RAW / "bondy" / "signalements_bailleur.csv",
        sep=";",
        encoding="cp1252",
        dtype=str,
        keep_default_na=False,
        nrows=12,
    )
    table = export[
        ["N° ticket", "Date de création", "Catégorie", "Adresse", "Latitude", "Longitude"]
    ]
    book = openpyxl.Workbook()
    scratch = book.active
    scratch.title = "Ancien export"
    scratch.sheet_state = state
    scratch.append(list(table.columns))
    for row in table.iloc[:4].itertuples(index=False):
        scratch.append(list(row))
    visible = book.create_sheet("Signalements")
    visible.append(list(table.columns))
    for row in table.iloc[4:].itertuples(index=False):
        visible.append(list(row))
    path = tmp_path / "classeur.xlsx"
    book.save(path)
    names = list(table.columns)
    columns = {
        "id": names[0],
        "date": names[1],
        "category": names[2],
        "address": names[3],
        "lat": names[4],
        "lon": names[5],
    }
    result = _ingest(_source(path, format="xlsx", columns=columns, decimal=","))
    s = result.summary["sources"]["src"]
    assert s["rows_in"] == 8
    got = set(result.ingested["report_id"]) | set(result.outside["report_id"])
    got |= {f"src:{json.loads(r)[names[0]]}" for r in result.rejected["original_row"] if r}
    assert got == {f"src:{t}" for t in table.iloc[4:, 0]}
    (note,) = [i for i in s["file_issues"] if i["reason"] == "hidden_sheets"]
    assert note["file"] == str(path)
    assert note["detail"] == (
        "la feuille « Ancien export », masquée, précède la première feuille visible du "
        "classeur, « Signalements », qui est celle lue. Si l'export est dans une feuille "
        'masquée, indiquez-la dans la source (sheet = "Ancien export").'
    )
    # Named, the hidden sheet is read, without a note.
    named = _ingest(
        _source(path, format="xlsx", columns=columns, decimal=",", sheet="Ancien export")
    )
    s = named.summary["sources"]["src"]
    assert s["rows_in"] == 4
    assert not [i for i in s["file_issues"] if i["reason"] == "hidden_sheets"]


def test_a_workbook_whose_export_is_not_on_its_first_sheet_is_one_error(
    tmp_path: Path,
) -> None:
    # A « Lisez-moi » sheet before the export: its one line was taken for a header
    # without data, the source counted as an empty file (« seulement la ligne
    # d'en-tête »), exit 0 and an empty map; the export's sheet never read.
    openpyxl = pytest.importorskip("openpyxl")
    columns = {"id": "N° ticket", "date": "Date de création", "address": "adresse"}
    for first in (["Export du 02/12/2026 : voir la feuille suivante."], None):
        book = openpyxl.Workbook()
        book.active.title = "Lisez-moi"
        if first:
            book.active.append(first)
        data = book.create_sheet("Signalements")
        data.append(list(columns.values()))
        data.append(["T-1", "01/03/2024", "3 rue Lucie Aubrac"])
        book.save(tmp_path / "classeur.xlsx")
        with pytest.raises(InputError) as err:
            _ingest(_source(tmp_path / "classeur.xlsx", format="xlsx", columns=columns))
        message = str(err.value)
        assert "« Lisez-moi »" in message
        assert "« Signalements »" in message
        assert "sheet" in message
    # The first sheet has the export's columns and no row: an empty export, as before.
    book = openpyxl.Workbook()
    book.active.append(list(columns.values()))
    chart = book.create_sheet("Graphique")
    chart.append(["catégorie", "nombre"])
    chart.append(["ascenseur", 12])
    book.save(tmp_path / "vide.xlsx")
    result = _ingest(_source(tmp_path / "vide.xlsx", format="xlsx", columns=columns))
    assert result.summary["totals"]["rows_in"] == 0
    (issue,) = result.summary["sources"]["src"]["file_issues"]
    assert issue["reason"] == "empty_file"
    # The export's rows on the second sheet, the first holding its header alone: the
    # message said « seulement la ligne d'en-tête », not a word of the sheet with rows.
    (detail,) = result.rejected.loc[result.rejected["reason"] == "empty_file", "reason_fr"]
    assert detail == (
        "Fichier sans données : seulement la ligne d'en-tête. Feuille lue : « Sheet » ; "
        "la feuille « Graphique » a des lignes : si l'export y est, indiquez-la dans la "
        'source (sheet = "Graphique").'
    )


def test_a_mapped_column_named_twice_is_noted_and_a_personal_one_stays_personal(
    tmp_path: Path,
) -> None:
    # Two « Description » columns (the ticket's and the closing comment's, an export
    # merged by hand), two « Réf. foyer » columns declared personal: the second of each
    # was renamed « ….1 » silently, its text left out without a word, and the second
    # personal one copied into rejected.csv as any other column.
    header = (
        "N° ticket;Date de création;Description;Description;Réf. foyer;Réf. foyer;"
        "Latitude;Longitude"
    )
    rows = [
        "T-1;01/03/2024;fuite;réparée;F-12;F-13;48,9100;2,4840",
        "T-2;31/02/2024;panne;relancée;F-14;F-15;48,9100;2,4840",  # no such date: rejected
    ]
    path = tmp_path / "export.csv"
    path.write_text("\r\n".join([header, *rows]) + "\r\n", encoding="utf-8")
    columns = {
        "id": "N° ticket",
        "date": "Date de création",
        "description": "Description",
        "lat": "Latitude",
        "lon": "Longitude",
    }
    result = _ingest(_source(path, columns=columns, personal_columns=["Réf. foyer"]))
    s = result.summary["sources"]["src"]
    (issue,) = [i for i in s["file_issues"] if i["reason"] == "duplicate_column"]
    assert "« Description »" in issue["detail"]
    assert "2 fois" in issue["detail"]
    assert result.ingested["description"].tolist() == ["fuite"]
    assert s["accepted"] == 1
    original = result.rejected["original_row"].iloc[0]
    assert "F-14" not in original
    assert "F-15" not in original
    assert "relancée" in original


def test_excel_serial_and_iso_dates() -> None:
    src = _source(
        DATA / "excel_serial_dates.csv",
        columns={"id": "id", "date": "date", "category": "categorie", "address": "adresse"},
    )
    result = _ingest(src)
    rows = _by_id(result)["reported_at"]
    assert rows["src:E1"] == pd.Timestamp("2024-04-01 00:00")
    assert rows["src:E2"] == pd.Timestamp("2024-04-01 18:00")
    assert rows["src:E3"] == pd.Timestamp("2024-07-14 12:00")  # UTC+2 in summer
    assert rows["src:E4"] == pd.Timestamp("2024-01-14 11:00")  # UTC+1 in winter
    assert rows["src:E5"] == pd.Timestamp("2024-01-14 10:00")
    assert result.rejected.set_index("source_line").loc[7, "reason"] == "unparseable_date"


def test_forced_date_format() -> None:
    src = _source(
        DATA / "excel_serial_dates.csv",
        date_format="excel",
        columns={"id": "id", "date": "date", "category": "categorie", "address": "adresse"},
    )
    result = _ingest(src)
    assert set(result.ingested["report_id"]) == {"src:E1", "src:E2"}
    assert set(result.rejected["reason"]) == {"unparseable_date"}


def test_swapped_and_lambert93_coordinates() -> None:
    src = _source(
        DATA / "coordinates.csv",
        columns={
            "id": "id",
            "date": "date",
            "category": "categorie",
            "lat": "lat",
            "lon": "lon",
        },
    )
    result = _ingest(src)
    rows = _by_id(result)
    to_wgs = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True)
    lon93, lat93 = to_wgs.transform(662250, 6867900)
    assert rows.loc["src:C2", ["lon", "lat"]].tolist() == pytest.approx([2.485, 48.91])
    assert rows.loc["src:C2", "coord_note"] == "swapped_fixed"
    for rid, note in (("src:C3", "lambert93"), ("src:C4", "swapped_fixed+lambert93")):
        assert rows.loc[rid, ["lon", "lat"]].tolist() == pytest.approx([lon93, lat93], abs=1e-9)
        assert rows.loc[rid, "coord_note"] == note
    assert result.outside["report_id"].tolist() == ["src:C6"]
    reasons = result.rejected.set_index("source_line")["reason"]
    assert reasons[6] == "unparseable_coordinates"
    assert reasons[8] == "unparseable_coordinates"
    assert "« lat » / « lon »" in result.rejected.set_index("source_line").loc[6, "reason_fr"]
    s = result.summary["sources"]["src"]
    assert s["coordinates"]["swapped_fixed"] == 2
    assert s["coordinates"]["lambert93"] == 2


def test_coordinates_0_0_are_read_as_none_and_noted(tmp_path: Path) -> None:
    # 0;0 is how a ticketing tool writes « no position »: the rows were read without
    # coordinates without a word, so the analyst saw some placed by their address and
    # others rejected « aucune localisation » with coordinates in the file.
    path = tmp_path / "zero.csv"
    path.write_text(
        "id;date;adresse;lat;lon\n"
        "A;01/03/2024;1 rue A;48,9100;2,4850\n"
        "B;02/03/2024;2 rue B;0;0\n"
        "C;03/03/2024;;0,000;0,000\n"
        "D;04/03/2024;4 rue D;;\n"
        "E;05/03/2024;5 rue E;0.0;0.0\n",
        encoding="utf-8",
    )
    columns = {"id": "id", "date": "date", "address": "adresse", "lat": "lat", "lon": "lon"}
    result = _ingest(_source(path, columns=columns, decimal=","))
    s = result.summary["sources"]["src"]
    (issue,) = [i for i in s["file_issues"] if i["reason"] == "zero_coordinates"]
    assert issue["file"] == str(path)
    assert issue["lines"] == [3, 4, 6]
    assert issue["detail"].startswith("3 ligne(s) ont pour coordonnées 0 ; 0")
    assert "(lignes 3, 4, 6)" in issue["detail"]
    assert "localisées par leur adresse" in issue["detail"]
    # Read as no coordinates: by the address when there is one, else rejected; never
    # rejected for the 0;0 alone, and the note is no rejection of its own.
    rows = _by_id(result)
    assert sorted(rows.index) == ["src:A", "src:B", "src:D", "src:E"]
    assert rows.loc[["src:B", "src:E"], "lat"].isna().all()
    assert (rows.loc[["src:B", "src:E"], "coord_note"] == "").all()
    assert result.rejected["source_line"].tolist() == [4]
    assert result.rejected["reason"].tolist() == ["missing_location"]
    assert s["coordinates"]["with_coordinates"] == 1
    assert s["coordinates"]["address_only"] == 3


def test_xy_columns_declared_in_lambert93() -> None:
    src = _source(
        DATA / "lambert_xy.csv",
        crs="EPSG:2154",
        columns={"id": "id", "date": "date", "category": "categorie", "x": "X", "y": "Y"},
    )
    result = _ingest(src)
    to_wgs = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True)
    rows = _by_id(result)
    assert rows.loc["src:L1", ["lon", "lat"]].tolist() == pytest.approx(
        list(to_wgs.transform(662250.5, 6867900.25)), abs=1e-9
    )
    assert rows.loc["src:L2", ["lon", "lat"]].tolist() == pytest.approx(
        list(to_wgs.transform(662300, 6867950)), abs=1e-9
    )
    assert set(rows["coord_note"]) == {"decimal_comma+lambert93", "lambert93"}


def test_xlsx_export(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.title = "Notes"
    sheet = book.create_sheet("Signalements")
    sheet.append(["N° ticket", "Date de création", "Catégorie", "Adresse", "Montant"])
    sheet.append([101, datetime(2024, 3, 5, 14, 30), "Fuite", "1 rue A", 12.5])
    sheet.append([102, 45383.75, "Nuisibles", "2 rue B", None])  # a date typed as a number
    sheet.append([None, None, None, None, None])  # a blank row is not data
    sheet.append([104, "07/03/2024 08:00", "Chauffage", None, None])  # no location
    book.save(tmp_path / "export.xlsx")
    src = _source(
        tmp_path / "export.xlsx",
        sheet="Signalements",
        columns={
            "id": "N° ticket",
            "date": "Date de création",
            "category": "Catégorie",
            "address": "Adresse",
        },
    )
    result = _ingest(src)
    rows = _by_id(result)
    assert rows.loc["src:101", "reported_at"] == pd.Timestamp("2024-03-05 14:30")
    assert rows.loc["src:102", "reported_at"] == pd.Timestamp("2024-04-01 18:00")
    assert rows.loc["src:102", "source_line"] == 3
    assert result.rejected["source_line"].tolist() == [5]
    assert result.rejected["reason"].tolist() == ["missing_location"]
    assert result.summary["sources"]["src"]["file_details"][0]["blank_rows_skipped"] == 1


def test_xlsx_1904_date_system(tmp_path: Path) -> None:
    # A workbook saved with the 1904 date system (old Mac Excel): serial 43921.75 is
    # 2024-04-01 18:00 there (day 0 = 1904-01-01), 1462 days later than in the 1900 one.
    openpyxl = pytest.importorskip("openpyxl")
    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    book = openpyxl.Workbook()
    book.epoch = CALENDAR_MAC_1904
    sheet = book.active
    sheet.append(["id", "date", "adresse"])
    sheet.append(["A", 43921.75, "1 rue A"])  # a date typed as a number
    sheet.append(["B", datetime(2024, 3, 5, 14, 30), "2 rue B"])  # a formatted date cell
    book.save(tmp_path / "mac.xlsx")
    src = _source(tmp_path / "mac.xlsx", columns={"id": "id", "date": "date", "address": "adresse"})
    rows = _by_id(_ingest(src))
    assert rows.loc["src:A", "reported_at"] == pd.Timestamp("2024-04-01 18:00")
    assert rows.loc["src:B", "reported_at"] == pd.Timestamp("2024-03-05 14:30")


def test_xlsx_formulas_never_computed_are_reported(tmp_path: Path) -> None:
    # A workbook written by a program and never opened in a spreadsheet: its formulas
    # have no computed value, and read as empty cells. The rows were judged on those
    # empty cells (« Date absente », an id made of a hash) without a word about why.
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["id", "date", "adresse"])
    sheet.append(["A", "01/03/2024", "1 rue A"])
    sheet.append(["B", "=DATE(2024,3,5)", "2 rue B"])  # never computed: empty
    sheet.append(['="C"&"-1"', "02/03/2024", "3 rue C"])  # never computed: empty
    sheet.append(["D", "=DATE(2024,3,6)", "4 rue D"])  # computed below: read
    path = tmp_path / "genere.xlsx"
    book.save(path)
    # As Excel would have saved row 5: the formula with its value.
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    xml = parts["xl/worksheets/sheet1.xml"]
    computed = xml.replace(b"<f>DATE(2024,3,6)</f><v />", b"<f>DATE(2024,3,6)</f><v>45357</v>")
    assert computed != xml
    parts["xl/worksheets/sheet1.xml"] = computed
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    src = _source(path, columns={"id": "id", "date": "date", "address": "adresse"})
    result = _ingest(src)
    s = result.summary["sources"]["src"]
    (issue,) = [i for i in s["file_issues"] if i["reason"] == "uncomputed_formulas"]
    assert issue["reason"] == "uncomputed_formulas"
    assert issue["lines"] == [3, 4]
    assert "formule dont la valeur n'a jamais été calculée (lignes 3, 4)" in issue["detail"]
    assert result.rejected["source_line"].tolist() == [3]  # the date read as empty
    rows = _by_id(result)
    assert rows.loc["src:D", "reported_at"] == pd.Timestamp("2024-03-06")


def test_xlsx_merged_cells_are_reported(tmp_path: Path) -> None:
    # One category typed once for three rows, merged over them: only the first row
    # has it, the two others were read without a category (« autre »), without a word.
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Export des signalements"])  # a title over the table, merged: no data
    sheet.merge_cells("A1:D1")
    sheet.append(["id", "date", "catégorie", "adresse"])
    sheet.append(["A", "01/03/2024", "Fuite", "1 rue A"])
    sheet.append(["B", "02/03/2024", None, "2 rue B"])
    sheet.append(["C", "03/03/2024", None, "3 rue C"])
    sheet.merge_cells("C3:C5")
    book.save(tmp_path / "fusion.xlsx")
    columns = {"id": "id", "date": "date", "category": "catégorie", "address": "adresse"}
    result = _ingest(_source(tmp_path / "fusion.xlsx", columns=columns))
    (issue,) = [
        i for i in result.summary["sources"]["src"]["file_issues"] if i["reason"] == "merged_cells"
    ]
    assert "1 plage(s) de cellules fusionnées (C3:C5) : seule la première" in issue["detail"]
    assert result.summary["sources"]["src"]["accepted"] == 3


def test_open311_service_requests() -> None:
    result = _ingest(_source(DATA / "open311.json", format="open311"))
    rows = _by_id(result)
    assert rows.loc["src:638344", "category"] == BY_SERVICE_CODE["VTS-ASC"].code
    assert rows.loc["src:638344", "reported_at"] == pd.Timestamp("2024-03-01 09:15")
    assert rows.loc["src:638344", "closed_at"] == pd.Timestamp("2024-03-03 17:00")
    assert rows.loc["src:638344", "description"] == "Ascenseur bloqué au 3e, contact [courriel]"
    assert rows.loc["src:638345", "category"] == "encombrants"  # via service_name
    assert rows.loc["src:638345", "reported_at"] == pd.Timestamp("2024-03-02 11:00")
    assert pd.isna(rows.loc["src:638345", "closed_at"])
    assert rows.loc["src:638346", "category"] == "autre"
    assert pd.isna(rows.loc["src:638346", "lon"])
    assert result.summary["sources"]["src"]["unknown_labels"] == {"Demande d'information": 1}


def test_tab_separated_latin1() -> None:
    src = _source(
        DATA / "tab_latin1.tsv",
        columns={
            "id": "Numéro",
            "date": "Date signalement",
            "category": "Thème",
            "description": "Commentaire",
            "building_ref": "Résidence",
        },
    )
    result = _ingest(src)
    detail = result.summary["sources"]["src"]["file_details"][0]
    assert (detail["encoding"], detail["separator"]) in {("cp1252", "\t"), ("latin-1", "\t")}
    rows = _by_id(result)
    assert rows.loc["src:1", "reported_at"] == pd.Timestamp("2024-02-12 14:30")
    assert rows.loc["src:1", "building_ref"] == "Bâtiment B"
    assert rows.loc["src:2", "category"] == "electricite_eclairage"
    assert rows.loc["src:2", "description"] == "Hall éteint, appeler le [téléphone]"


def test_geojson_walkthrough() -> None:
    src = _source(
        DATA / "walk.geojson",
        kind="observations",
        format="geojson",
        personal_columns=("auteur",),
        columns={"date": "date", "category": "theme", "description": "commentaire"},
    )
    result = _ingest(src)
    s = result.summary["sources"]["src"]
    assert s["accepted"] == 2
    assert s["rejected"] == {"missing_date": 1, "missing_location": 1}
    rows = result.ingested.sort_values("source_line")
    assert rows["source_line"].tolist() == [1, 2]
    assert rows["coord_note"].tolist() == ["", "representative_point"]
    assert rows["report_id"].str.fullmatch(r"src:h[0-9a-f]{16}").all()
    assert (rows["source_kind"] == "observations").all()
    assert all("auteur" not in json.loads(r) for r in result.rejected["original_row"])


@pytest.mark.parametrize("fmt", ["kobo", "auto"])
def test_kobo_defaults_need_little_configuration(fmt: str) -> None:
    # Declared, or recognised by its _uuid and _submission_time columns ("auto").
    src = _source(
        DATA / "kobo.csv",
        kind="observations",
        format=fmt,
        personal_columns=("nom_enqueteur",),
        columns={"category": "probleme"},
    )
    result = _ingest(src)
    rows = _by_id(result)
    first = "src:9aba14dc-6ec9-4595-bcdc-ec12322b2eb2"
    assert rows.loc[first, "reported_at"] == pd.Timestamp("2024-05-09 14:10")  # 12:10 UTC
    assert rows.loc[first, "lat"] == pytest.approx(48.910122)
    second = "src:bf2e7824-c512-4b2e-b318-dd96883615ea"
    assert rows.loc[second, "reported_at"] == pd.Timestamp("2024-01-09 14:52:28")  # winter
    assert rows.loc[second, "lon"] == pytest.approx(2.487047)  # from _geolocation
    assert rows.loc[second, "coord_note"] == "geo_point"
    assert result.summary["sources"]["src"]["rejected"] == {"missing_location": 1}
    assert result.summary["sources"]["src"]["file_details"][0]["format"] == "kobo"


@pytest.mark.parametrize("empty", ["[]", "[None, None]", "[null, null]"])
def test_a_kobo_geopoint_written_empty_is_no_point(tmp_path: Path, empty: str) -> None:
    # A geopoint left empty, as KoboToolbox writes it in _geolocation: the row was
    # refused as unparseable coordinates (« Coordonnées illisibles … : [None, None] »),
    # though like an empty cell it says only that the observer gave no point.
    text = (DATA / "kobo.csv").read_text("utf-8")
    path = tmp_path / "kobo.csv"
    path.write_text(text.replace("Hall sale,,", f'Hall sale,"{empty}",'), "utf-8")
    src = _source(path, kind="observations", format="kobo", columns={"category": "probleme"})
    result = _ingest(src)
    assert result.summary["sources"]["src"]["rejected"] == {"missing_location": 1}
    located = _source(
        path,
        kind="observations",
        format="kobo",
        columns={"category": "probleme", "building_ref": "batiment"},
    )
    assert result.summary["sources"]["src"]["accepted"] == 2
    assert _ingest(located).summary["sources"]["src"]["accepted"] == 3


def test_a_kobo_export_with_its_groups_in_the_headers_is_read_as_without(
    tmp_path: Path,
) -> None:
    # KoboToolbox's « include groups in headers » writes « groupe_obs/probleme » for the
    # question « probleme »: the demo's configuration of Bondy's real Kobo export
    # (« probleme », « batiment », personal « nom_enqueteur ») stopped on « colonnes
    # configurées absentes ». Now each configured name finds the one column ending with
    # it, and the enumerator's column stays personal (out of rejected.csv).
    source = next(
        s
        for s in load_config(ROOT / "config" / "demo.toml").site("bondy").sources
        if s.id == "kobo"
    )
    raw = pd.read_csv(RAW / "bondy" / "observations_kobo.csv", dtype=str, keep_default_na=False)
    raw.loc[0, "_submission_time"] = "pas une date"  # one row rejected, its row kept
    questions = ["batiment", "probleme", "commentaire", "nom_enqueteur"]
    flat, grouped = tmp_path / "flat.csv", tmp_path / "grouped.csv"
    raw.to_csv(flat, index=False)
    raw.rename(columns={q: f"groupe_obs/{q}" for q in questions}).to_csv(grouped, index=False)
    results = [_ingest(dataclasses.replace(source, id="src", path=str(p))) for p in (flat, grouped)]
    want, got = (r.summary["sources"]["src"] for r in results)
    assert got["rows_in"] == want["rows_in"] == len(raw)
    for key in ("accepted", "duplicates", "rejected"):
        assert got[key] == want[key], key
    assert want["rejected"]["unparseable_date"] == 1
    columns = ["report_id", "category", "building_ref", "description", "lat", "lon"]
    pd.testing.assert_frame_equal(results[1].ingested[columns], results[0].ingested[columns])
    assert results[0].ingested["category"].notna().all()
    rows = [json.loads(r) for r in results[1].rejected["original_row"] if r]
    assert rows
    assert all(not any(k.endswith("nom_enqueteur") for k in row) for row in rows)
    assert raw.loc[0, "nom_enqueteur"] not in results[1].rejected.to_csv()


def test_values_pasted_with_invisible_characters_are_read(tmp_path: Path) -> None:
    # Values pasted from a web page or Word, a zero-width space inside (« 48,\u200b91 »,
    # shown « 48,91 »): a latitude or a date refused as unreadable, values the analyst
    # sees as good ones, and an id another report's (T-2 read twice, accepted twice).
    rows = [
        ("T-1", "01/03/2024", "48,\u200b910006", "2,484266"),
        ("T-2", "\u200b01/03/2024", "\u2060 48,910006", "\ufeff2,484266\u200e"),
        ("T-2\u200b", "01/03/2024", "48,910006", "2,484266"),
    ]
    path = tmp_path / "export.csv"
    path.write_text("".join(";".join(r) + "\n" for r in [("id", "date", "lat", "lon"), *rows]))
    src = _source(path, columns={"id": "id", "date": "date", "lat": "lat", "lon": "lon"})
    result = _ingest(src)
    rows = _by_id(result)
    assert rows.index.tolist() == ["src:T-1", "src:T-2"]
    assert rows["lat"].tolist() == [48.910006, 48.910006]
    assert rows["lon"].tolist() == [2.484266, 2.484266]
    assert rows["reported_at"].tolist() == [pd.Timestamp("2024-03-01")] * 2
    assert result.summary["sources"]["src"]["duplicates"] == 1


def test_every_rejection_reason_on_its_line(tmp_path: Path) -> None:
    src = _source(
        DATA / "reasons_cp1252.csv",
        personal_columns=("Téléphone",),
        columns={
            "id": "N° ticket",
            "date": "Date de création",
            "category": "Catégorie",
            "address": "Adresse",
            "building_ref": "Bâtiment",
            "lat": "Latitude",
            "lon": "Longitude",
        },
    )
    result = _ingest(src, start_date="2015-01-01")
    reasons = result.rejected.set_index("source_line")
    assert reasons["reason"].to_dict() == {
        3: "missing_date",
        4: "unparseable_date",
        5: "date_in_future",
        6: "date_before_start",
        7: "missing_location",
        8: "unparseable_coordinates",
        9: "malformed_row",
    }
    assert "« Date de création »" in reasons.loc[3, "reason_fr"]
    assert "« 32/01/2024 10:00 »" in reasons.loc[4, "reason_fr"]
    assert "2025-06-01" in reasons.loc[5, "reason_fr"]
    assert "10 champs au lieu de 8" in reasons.loc[9, "reason_fr"]
    for original in reasons["original_row"]:
        row = json.loads(original)
        assert "Téléphone" not in row
        assert "0612345678" not in original
    assert json.loads(reasons.loc[9, "original_row"])["N° ticket"] == "R9"
    s = result.summary["sources"]["src"]
    assert (s["rows_in"], s["accepted"], s["duplicates"]) == (10, 2, 1)
    assert set(result.ingested["report_id"]) == {"src:R2", "src:R10"}
    assert _by_id(result).loc["src:R2", "source_line"] == 2  # the first copy is kept


def test_a_header_line_repeated_in_the_file_is_said_to_be_one(tmp_path: Path) -> None:
    header = "N° ticket;Date de création;Catégorie;Adresse;Téléphone"
    lines = [
        header,
        "R1;01/02/2024 10:00;Fuite;3 rue Lucie Aubrac;",
        header,  # two exports pasted together
        "R2;02/02/2024 10:00;Fuite;4 rue Lucie Aubrac;",
        " n° TICKET ;DATE DE CRÉATION;catégorie;;",  # the same, other case and spaces
        # Only its date cell says « Date de création »: a bad date, not a header.
        "R3;Date de création;Fuite;5 rue Lucie Aubrac;",
    ]
    path = tmp_path / "pasted.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    columns = {
        "id": "N° ticket",
        "date": "Date de création",
        "category": "Catégorie",
        "address": "Adresse",
    }
    result = _ingest(_source(path, personal_columns=("Téléphone",), columns=columns))
    reasons = result.rejected.set_index("source_line")
    assert reasons["reason"].to_dict() == {
        3: "repeated_header",
        5: "repeated_header",
        6: "unparseable_date",
    }
    assert "Ligne d'en-tête répétée" in reasons.loc[3, "reason_fr"]
    assert "« Date de création »" in reasons.loc[3, "reason_fr"]
    s = result.summary["sources"]["src"]
    assert s["rejected"] == {"repeated_header": 2, "unparseable_date": 1}
    assert set(result.ingested["report_id"]) == {"src:R1", "src:R2"}


def test_control_characters_leave_the_text_cells(tmp_path: Path) -> None:
    lines = [
        "N° ticket;Date de création;Catégorie;Description;Adresse",
        "R1;01/02/2024 10:00;Fuite;Fuite\x00 cave\x1b[31m rouge\x07;3 rue Lucie\x00 Aubrac",
        "R2;02/02/2024 10:00;Fuite\x7f;\x00;4 rue Lucie Aubrac",
        'R3;03/02/2024 10:00;Fuite;"Fuite\tsous\névier";5 rue Lucie Aubrac',
    ]
    path = tmp_path / "controle.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("cp1252"))
    columns = {
        "id": "N° ticket",
        "date": "Date de création",
        "category": "Catégorie",
        "description": "Description",
        "address": "Adresse",
    }
    result = _ingest(_source(path, columns=columns))
    rows = _by_id(result)
    assert rows.loc["src:R1", "description"] == "Fuite cave[31m rouge"
    assert rows.loc["src:R1", "address"] == "3 rue Lucie Aubrac"
    assert rows.loc["src:R2", "category"] == rows.loc["src:R1", "category"] == "eau_fuite"
    assert pd.isna(rows.loc["src:R2", "description"])  # empty, as a blank cell
    assert rows.loc["src:R3", "description"] == "Fuite\tsous\névier"  # tab and line feed stay
    text = result.ingested.astype(str).to_csv()
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text)


def test_control_characters_leave_id_and_date_cells(tmp_path: Path) -> None:
    # An id kept its NUL into every output; a date with one was rejected « date
    # illisible » quoting a value that looked right.
    lines = [
        "N° ticket;Date de création;Catégorie;Adresse;Clos le",
        "R\x001;01/02/2024 10:00\x00;Fuite;3 rue Lucie Aubrac;\x0705/02/2024",
        "\x1bR2;\x0102/02/2024 10:00;Fuite;4 rue Lucie Aubrac;",
        "R3\x7f;03/02/2024\x1f 10:00;Fuite;5 rue Lucie Aubrac;",
        "R4;04/02/2024 10:00;Fuite;6 rue Lucie Aubrac;",
    ]
    path = tmp_path / "controle.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    columns = {
        "id": "N° ticket",
        "date": "Date de création",
        "category": "Catégorie",
        "address": "Adresse",
        "closed_at": "Clos le",
    }
    result = _ingest(_source(path, columns=columns))
    assert result.rejected.empty, result.rejected["reason_fr"].tolist()
    rows = _by_id(result)
    assert sorted(rows.index) == ["src:R1", "src:R2", "src:R3", "src:R4"]
    assert rows.loc["src:R1", "reported_at"] == pd.Timestamp("2024-02-01 10:00")
    assert rows.loc["src:R1", "closed_at"] == pd.Timestamp("2024-02-05")
    assert rows.loc["src:R2", "reported_at"] == pd.Timestamp("2024-02-02 10:00")
    assert rows.loc["src:R3", "reported_at"] == pd.Timestamp("2024-02-03 10:00")
    text = result.ingested.astype(str).to_csv()
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text)


# --------------------------------------------------------------------------- runs
def _config(tmp_path: Path, path: str, *, id_column: bool = True) -> Path:
    columns = [
        'date = "Date de création"',
        'category = "Catégorie"',
        'address = "Adresse"',
        'description = "Description"',
    ]
    if id_column:
        columns.append('id = "N° ticket"')
    make_secret(tmp_path / "secrets", "t")
    text = "\n".join(
        [
            "[project]",
            f'secrets_dir = "{tmp_path / "secrets"}"',
            "[[sites]]",
            'id = "t"',
            'osm = "x.osm"',
            "study_area_bbox = [2.4779, 48.90676, 2.49111, 48.91278]",
            "[sites.params.ingest]",
            'today = "2025-06-01"',
            "[[sites.sources]]",
            'id = "bailleur"',
            f'path = "{path}"',
            'personal_columns = ["Téléphone"]',
            "[sites.sources.columns]",
            *columns,
            "",
        ]
    )
    cfg = tmp_path / "vigie.toml"
    cfg.write_text(text, encoding="utf-8")
    return cfg


def _month(path: Path, month: int, n: int, *, first: int = 1) -> None:
    lines = ["N° ticket;Date de création;Catégorie;Description;Adresse;Téléphone"]
    for k in range(first, first + n):
        lines.append(
            f"M{month:02d}-{k};{k:02d}/{month:02d}/2024 10:00;Fuite;"
            f"Fuite n°{k}, tél 06 11 22 33 {k % 90 + 10};"
            f"{k} rue Lucie Aubrac;06 98 76 54 {k % 90 + 10}"
        )
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))


def _outputs(folder: Path) -> dict[str, bytes]:
    names = ("ingested.parquet", "rejected.csv", "outside_study_area.csv", "ingest_summary.json")
    return {n: (folder / n).read_bytes() for n in names}


def test_idempotent_and_incremental(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    _month(raw / "signalements_2024-01.csv", 1, 20)
    _month(raw / "signalements_2024-02.csv", 2, 15)
    config = load_config(_config(tmp_path, f"{raw}/signalements_*.csv"))
    first = ingest.run(config, "t", tmp_path / "a")
    ingest.run(config, "t", tmp_path / "b")
    assert _outputs(tmp_path / "a") == _outputs(tmp_path / "b")
    assert len(first.ingested) == 35
    # Next month's file adds its rows only; the earlier rows are unchanged.
    _month(raw / "signalements_2024-03.csv", 3, 10)
    third = ingest.run(
        load_config(_config(tmp_path, f"{raw}/signalements_*.csv")), "t", tmp_path / "c"
    )
    assert len(third.ingested) == 45
    earlier = third.ingested[third.ingested["source_file"].str.contains("2024-0[12]")]
    pd.testing.assert_frame_equal(
        earlier.reset_index(drop=True), first.ingested.reset_index(drop=True)
    )
    # The same month present twice under another name: all its rows are duplicates.
    shutil.copy(raw / "signalements_2024-02.csv", raw / "signalements_2024-02_copie.csv")
    again = ingest.run(
        load_config(_config(tmp_path, f"{raw}/signalements_*.csv")), "t", tmp_path / "d"
    )
    s = again.summary["sources"]["bailleur"]
    assert (s["rows_in"], s["accepted"], s["duplicates"]) == (60, 45, 15)
    assert not (again.ingested["source_file"].str.contains("copie")).any()
    text = (tmp_path / "d" / "ingest_summary.json").read_text(encoding="utf-8")
    assert "06 98 76 54" not in text
    assert not PHONE.search(
        pd.read_parquet(tmp_path / "d" / "ingested.parquet")["description"].str.cat()
    )


def test_rows_without_id_get_stable_hash_ids(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    _month(raw / "a.csv", 4, 5)
    with (raw / "a.csv").open("ab") as fh:  # an exact duplicate of the first row
        fh.write((raw / "a.csv").read_bytes().split(b"\r\n")[1] + b"\r\n")
    config = load_config(_config(tmp_path, f"{raw}/a.csv", id_column=False))
    one = ingest.run(config, "t", tmp_path / "one")
    two = ingest.run(config, "t", tmp_path / "two")
    s = one.summary["sources"]["bailleur"]
    assert (s["rows_in"], s["accepted"], s["duplicates"]) == (6, 5, 1)
    assert one.ingested["report_id"].str.fullmatch(r"bailleur:h[0-9a-f]{16}").all()
    assert one.ingested["report_id"].is_unique
    assert one.ingested["report_id"].tolist() == two.ingested["report_id"].tolist()


def test_unknown_labels_go_to_autre_and_are_listed(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text(
        "id;date;cat;adresse\n1;01/03/2024;Réclamation charges;1 rue A\n"
        "2;01/03/2024;Squat;1 rue A\n3;01/03/2024;;1 rue A\n"
        "4;01/03/2024;Réclamation charges;1 rue A\n",
        encoding="utf-8",
    )
    src = _source(
        path,
        default_category="proprete",
        columns={"id": "id", "date": "date", "category": "cat", "address": "adresse"},
    )
    result = _ingest(src)
    rows = _by_id(result)
    assert rows["category"].to_dict() == {
        "src:1": "autre",
        "src:2": "occupation",
        "src:3": "proprete",
        "src:4": "autre",
    }
    assert result.summary["sources"]["src"]["unknown_labels"] == {"Réclamation charges": 2}
    assert rows.loc["src:1", "category_source_label"] == "Réclamation charges"


# --------------------------------------------------------------------------- duplicates
def _reports(rows: list[tuple[str, str, str, float, float, str | None]]) -> gpd.GeoDataFrame:
    frame = pd.DataFrame(
        rows, columns=["report_id", "category", "reported_at", "x", "y", "building_id"]
    )
    frame["reported_at"] = pd.to_datetime(frame["reported_at"])
    geometry = gpd.points_from_xy(frame["x"], frame["y"], crs="EPSG:2154").to_crs("EPSG:4326")
    out = gpd.GeoDataFrame(frame.drop(columns=["x", "y"]), geometry=geometry, crs="EPSG:4326")
    out.index = [f"r{i}" for i in range(len(out))][::-1]  # a non-default index
    return out


def test_link_likely_duplicates_known_pairs() -> None:
    x0, y0 = 660_000.0, 6_870_000.0
    reports = _reports(
        [
            ("a", "ascenseur", "2024-03-01 08:00", x0, y0, "way/1"),
            ("b", "ascenseur", "2024-03-02 20:00", x0 + 200, y0, "way/1"),  # same building, 36 h
            (
                "c",
                "ascenseur",
                "2024-03-04 08:00",
                x0 + 400,
                y0,
                "way/1",
            ),  # 36 h after b, 72 after a
            ("d", "eau_fuite", "2024-03-01 09:00", x0 + 5, y0, None),  # other category
            ("e", "eau_fuite", "2024-03-01 10:00", x0 + 5, y0 + 29.9, None),  # 29.9 m from d
            (
                "f",
                "eau_fuite",
                "2024-03-01 11:00",
                x0 + 5,
                y0 + 59.8,
                None,
            ),  # 29.9 m from e, 59.8 from d
            ("g", "eau_fuite", "2024-03-05 11:00", x0 + 5, y0, None),  # beyond 48 h
            (
                "h",
                "ascenseur",
                "2024-03-01 08:00",
                x0 + 900,
                y0,
                "way/2",
            ),  # same time, other building
        ]
    )
    linked = link_likely_duplicates(reports, distance_m=30.0, window_h=48.0)
    assert linked.name == "duplicate_of"
    assert linked.index.equals(reports.index)
    got = dict(zip(reports["report_id"], linked, strict=True))
    assert got["b"] == "a"
    assert got["c"] == "b"
    assert got["e"] == "d"
    assert got["f"] == "e"  # linked to the report within 30 m, not transitively to d
    for rid in ("a", "d", "g", "h"):
        assert pd.isna(got[rid])
    # Thousands of buildings over decades: the composite keys need coarser time units,
    # the links stay the same.
    filler = _reports(
        [
            (
                f"z{k}",
                "ascenseur",
                f"{1990 + k % 40}-06-01",
                x0 + 5000,
                y0 + 50 * k,
                f"way/{100 + k}",
            )
            for k in range(6000)
        ]
    )
    both = pd.concat([reports, filler])
    linked_both = link_likely_duplicates(both, distance_m=30.0, window_h=48.0)
    assert linked_both.iloc[: len(reports)].tolist() == linked.tolist()
    assert linked_both.iloc[len(reports) :].isna().all()


def test_link_likely_duplicates_matches_brute_force() -> None:
    rng = np.random.default_rng(3)
    n = 2_500
    frame = pd.DataFrame(
        {
            "report_id": [f"r{i:05d}" for i in rng.permutation(n)],
            "category": rng.choice(["ascenseur", "eau_fuite", "proprete"], n),
            "reported_at": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 60 * 24 * 60, n) // 30 * 30, unit="min"),
            "building_id": rng.choice([*[f"way/{i}" for i in range(150)], None], n),
        }
    )
    x = rng.uniform(660_000, 660_600, n)
    y = rng.uniform(6_870_000, 6_870_600, n)
    pts = gpd.points_from_xy(x, y, crs="EPSG:2154").to_crs("EPSG:4326")
    reports = gpd.GeoDataFrame(frame, geometry=pts, crs="EPSG:4326")
    linked = link_likely_duplicates(reports, distance_m=30.0, window_h=48.0)
    # O(n²) reference: the earliest (category, time, id) report matching each one.
    t = frame["reported_at"].to_numpy().astype("datetime64[s]").astype(np.int64)
    cat = frame["category"].to_numpy()
    b = frame["building_id"].to_numpy()
    ids = frame["report_id"].to_numpy()
    rank = np.empty(n, dtype=np.int64)
    rank[np.lexsort((ids, t, cat))] = np.arange(n)
    dist = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    same_b = (b[:, None] == b[None, :]) & pd.notna(b)[:, None]
    match = (
        (cat[:, None] == cat[None, :])
        & (np.abs(t[:, None] - t[None, :]) <= 48 * 3600)
        & (same_b | (dist <= 30.0))
        & (rank[None, :] < rank[:, None])
    )
    expected = [
        ids[np.flatnonzero(row)[np.argmin(rank[row])]] if row.any() else None for row in match
    ]
    got = [None if pd.isna(v) else v for v in linked]
    assert sum(v is not None for v in expected) > 100
    assert got == expected


def test_columns_stay_aligned_when_rows_are_sorted(tmp_path: Path) -> None:
    path = tmp_path / "unsorted.csv"
    rows = [f"U{k};{28 - k:02d}/02/2024 10:00;Fuite;texte U{k};{k} rue A" for k in range(1, 21)]
    path.write_text("id;date;cat;texte;adresse\n" + "\n".join(rows) + "\n", encoding="utf-8")
    src = _source(
        path,
        columns={
            "id": "id",
            "date": "date",
            "category": "cat",
            "description": "texte",
            "address": "adresse",
        },
    )
    result = _ingest(src)
    out = result.ingested
    assert out["reported_at"].is_monotonic_increasing
    assert out["report_id"].tolist() == [f"src:U{k}" for k in range(20, 0, -1)]
    for rid, text, address, line in zip(
        out["report_id"], out["description"], out["address"], out["source_line"], strict=True
    ):
        k = int(rid.removeprefix("src:U"))
        assert text == f"texte U{k}"
        assert address == f"{k} rue A"
        assert line == k + 1


def test_files_that_cannot_be_parsed_raise_input_error(tmp_path: Path) -> None:
    (tmp_path / "casse.xlsx").write_bytes(b"PK\x03\x04 ceci n'est pas un classeur")
    (tmp_path / "casse.json").write_text('[{"service_request_id": "1",', encoding="utf-8")
    (tmp_path / "dossier.csv").mkdir()
    cols = {"date": "date", "address": "adresse"}
    for name, fmt in (("casse.xlsx", "xlsx"), ("casse.json", "open311")):
        with pytest.raises(InputError, match=re.escape(name)):
            _ingest(_source(tmp_path / name, format=fmt, columns=cols))
    result = _ingest(_source(tmp_path / "dossier.csv", columns=cols))
    assert result.rejected["reason"].tolist() == ["unreadable_file"]
    assert result.summary["sources"]["src"]["rows_in"] == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("03/04/2024 08:15", "2024-04-03 08:15"),  # day first
        ("3/4/2024 8:05", "2024-04-03 08:05"),
        ("03/04/2024 08:15:30", "2024-04-03 08:15:30"),
        ("03/04/2024", "2024-04-03 00:00"),
        ("03-04-2024 14h30", "2024-04-03 14:30"),
        ("03.04.24", "2024-04-03 00:00"),
        ("29/02/2024", "2024-02-29 00:00"),
        ("2024-04-03", "2024-04-03 00:00"),
        ("2024-04-03 08:15", "2024-04-03 08:15"),
        ("2024-04-03T06:15:00Z", "2024-04-03 08:15"),  # UTC → Paris (summer)
        ("2024-01-03T08:15:00+01:00", "2024-01-03 08:15"),
        ("2024-01-03T08:15:00.250-05:00", "2024-01-03 14:15:00.250"),
        # A zone written after a space (BigQuery, PostgreSQL, Python's str of an aware
        # datetime): « 14:02:00 UTC » was read « 14:02:00TUTC », unparseable.
        ("2024-03-05 14:02:00 UTC", "2024-03-05 15:02"),
        ("2024-07-05 14:02 UTC", "2024-07-05 16:02"),  # summer
        ("2024-03-05 14:02:00 GMT", "2024-03-05 15:02"),
        ("2024-03-05 14:02:00 Z", "2024-03-05 15:02"),
        ("2024-03-05 14:02:00Z", "2024-03-05 15:02"),
        ("2024-03-05 14:02:00+00:00", "2024-03-05 15:02"),
        ("2024-03-05 14:02:00 +00:00", "2024-03-05 15:02"),
        ("2024-03-05 14:02:00 +0100", "2024-03-05 14:02"),
        ("2024/03/05 14:02:00 UTC", "2024-03-05 15:02"),
        # The same zones after a French date.
        ("05/03/2024 14:02 UTC", "2024-03-05 15:02"),
        ("05/07/2024 14:02:30 UTC", "2024-07-05 16:02:30"),
        ("05/03/2024 14h02 Z", "2024-03-05 15:02"),
        ("05/03/2024 14:02 +01:00", "2024-03-05 14:02"),
        ("05/03/2024 14:02 -05:00", "2024-03-05 20:02"),
        ("31/02/2024 14:02 UTC", None),
        # A zone without a time: the day written (a zone moves a time, a day has none;
        # moved as midnight, +02:00 would make it 4 March at 23:00 in Paris). Refused
        # « date illisible » while « 2024-03-05 14:02 UTC » was read.
        ("2024-03-05 UTC", "2024-03-05 00:00"),
        ("2024-03-05Z", "2024-03-05 00:00"),
        ("2024-03-05+02:00", "2024-03-05 00:00"),
        ("2024-03-05 -05:00", "2024-03-05 00:00"),
        ("05/03/2024 Z", "2024-03-05 00:00"),
        ("5/3/2024 GMT", "2024-03-05 00:00"),
        ("05/03/2024+01:00", "2024-03-05 00:00"),
        ("31/02/2024 UTC", None),
        ("2024-13-01 Z", None),
        # Fractions of a second after a French date, as after an ISO one: refused.
        ("05/03/2024 14:02:00.123", "2024-03-05 14:02:00.123"),
        ("05/03/2024 14:02:00,5", "2024-03-05 14:02:00.500"),
        ("05/03/24 14:02:00.000", "2024-03-05 14:02"),
        ("05/03/2024 14:02:00.250 UTC", "2024-03-05 15:02:00.250"),
        # Central European (Summer) Time by name, as a French ticketing export writes it.
        ("2024-03-05 14:02 CET", "2024-03-05 14:02"),
        ("2024-07-05 14:02:00 CEST", "2024-07-05 14:02"),
        ("2024-03-05 14:02 CEST", "2024-03-05 13:02"),  # summer time in March: moved
        ("05/03/2024 14h02 CET", "2024-03-05 14:02"),
        ("2024-03-05 CET", "2024-03-05 00:00"),
        # ISO without leading zeros (a hand-made sheet).
        ("2024-3-5", "2024-03-05 00:00"),
        ("2024-3-5 9:05", "2024-03-05 09:05"),
        ("2024/3/15 9:05:30", "2024-03-15 09:05:30"),
        ("2024-12-5T9:05:00Z", "2024-12-05 10:05"),
        ("2024-2-30", None),
        # French month names, any case, accents or not, abbreviated with a dot.
        ("5 mars 2024", "2024-03-05 00:00"),
        ("05 mars 2024 14h02", "2024-03-05 14:02"),
        ("1er mars 2024", "2024-03-01 00:00"),
        ("5 MARS 2024", "2024-03-05 00:00"),
        ("5 févr. 2024", "2024-02-05 00:00"),
        ("5 fevrier 2024", "2024-02-05 00:00"),
        ("5 AOÛT 2024", "2024-08-05 00:00"),
        ("mardi 5 mars 2024 à 14:02", "2024-03-05 14:02"),
        ("5 déc. 2024, 14:02:30", "2024-12-05 14:02:30"),
        ("5 mars 2024 14:02 UTC", "2024-03-05 15:02"),
        ("31 févr. 2024", None),
        # Excel's « jj-mmm-aa » saved as CSV.
        ("12-mars-25", "2025-03-12 00:00"),
        ("05-févr.-2024", "2024-02-05 00:00"),
        ("5 mars 24", "2024-03-05 00:00"),
        ("12-mars", None),
        ("mars-25", None),
        ("5 brumaire 2024", None),
        # A 12-hour clock with a fraction of a second.
        ("05/03/2024 2:02:00.5 PM", "2024-03-05 14:02:00.500"),
        ("05/03/2024 2:02:00,5 pm", "2024-03-05 14:02:00.500"),
        ("45385.34375", "2024-04-03 08:15"),  # Excel serial
        ("31/02/2024 10:00", None),  # no 31 February
        ("29/02/2023", None),
        ("13/13/2024", None),
        ("hier", None),
        ("99999", None),  # a serial number out of range
        ("", None),
    ],
)
def test_parse_dates_forms(text: str, expected: str | None) -> None:
    got = parse_dates(pd.Series([text, "01/01/2024 00:00"], dtype="str"))
    assert got.dtype == "datetime64[us]"
    assert got.iloc[1] == pd.Timestamp("2024-01-01")
    if expected is None:
        assert pd.isna(got.iloc[0])
    else:
        assert got.iloc[0] == pd.Timestamp(expected)


def test_a_day_without_a_time_is_never_moved_by_the_naive_zone() -> None:
    """A Kobo export's times without an offset are UTC (naive_tz), but a day alone is
    the day written, as « 2024-03-05 UTC » is: « 2024-03-05 » was read 01:00 in Paris,
    and 02:00 in summer."""
    values = pd.Series(
        ["2024-03-05", "2024-7-5", "2024-03-05 UTC", "2024-03-05 10:00", "2024-07-05T10:00:00"],
        dtype="str",
    )
    got = parse_dates(values, naive_tz="UTC")
    assert list(got) == [
        pd.Timestamp("2024-03-05 00:00"),
        pd.Timestamp("2024-07-05 00:00"),
        pd.Timestamp("2024-03-05 00:00"),
        pd.Timestamp("2024-03-05 11:00"),  # a time: UTC moved to Paris time
        pd.Timestamp("2024-07-05 12:00"),
    ]
    days = pd.Series(["2024-03-05", "2024-07-05"], dtype="str")
    forced = parse_dates(days, date_format="%Y-%m-%d", naive_tz="UTC")
    assert list(forced) == [pd.Timestamp("2024-03-05"), pd.Timestamp("2024-07-05")]
    timed = parse_dates(days + " 10:00", date_format="%Y-%m-%d %H:%M", naive_tz="UTC")
    assert list(timed) == [pd.Timestamp("2024-03-05 11:00"), pd.Timestamp("2024-07-05 12:00")]


def test_us_dates_with_a_fraction_read_month_first_named_months_as_written(
    tmp_path: Path,
) -> None:
    # « 05/03/2024 2:02:00.5 PM » was rejected « date illisible » (a 12-hour clock and a
    # fraction of a second). The file's evidence (03/13) makes its a/b dates month first;
    # a date written with its month's name is no a/b date and keeps its day.
    path = tmp_path / "us.csv"
    path.write_text(
        "id;date;adresse\n"
        "A;03/13/2024 2:02:00.5 PM;1 rue A\n"
        "B;03/05/2024 2:02:00.5 PM;2 rue B\n"
        "C;5 mars 2024;3 rue C\n"
        "D;2024-3-5 9:05 CET;4 rue D\n",
        encoding="utf-8",
    )
    result = _ingest(_source(path, columns={"id": "id", "date": "date", "address": "adresse"}))
    assert result.summary["sources"]["src"]["accepted"] == 4
    got = result.ingested.set_index("report_id")["reported_at"]
    assert got["src:A"] == pd.Timestamp("2024-03-13 14:02:00.500")
    assert got["src:B"] == pd.Timestamp("2024-03-05 14:02:00.500")
    assert got["src:C"] == pd.Timestamp("2024-03-05")
    assert got["src:D"] == pd.Timestamp("2024-03-05 09:05")


def test_dates_with_a_utc_suffix_are_read_not_rejected(tmp_path: Path) -> None:
    # An export of a database writes « 2024-03-05 14:02:00 UTC »: every row was rejected
    # « date illisible », while « +01:00 » was read.
    path = tmp_path / "utc.csv"
    path.write_text(
        "id;date;adresse\n"
        "A;2024-03-05 14:02:00 UTC;1 rue A\n"
        "B;2024-03-05 14:02:00+01:00;2 rue B\n"
        "C;2024-07-05 14:02:00 UTC;3 rue C\n"
        "D;2024-03-05 14:02:00 +00:00;4 rue D\n"
        "E;2024-03-05 14:02:00 UTC+;5 rue E\n"
        "F;05/03/2024 14:02 UTC;6 rue F\n"
        "G;2024-03-05 UTC;7 rue G\n"  # a day with a zone: the day
        "H;05/03/2024 Z;8 rue H\n",
        encoding="utf-8",
    )
    result = _ingest(_source(path, columns={"id": "id", "date": "date", "address": "adresse"}))
    s = result.summary["sources"]["src"]
    assert (s["rows_in"], s["accepted"], s["rejected"]) == (8, 7, {"unparseable_date": 1})
    got = result.ingested.set_index("report_id")["reported_at"]
    assert got["src:A"] == pd.Timestamp("2024-03-05 15:02")  # Paris, winter
    assert got["src:B"] == pd.Timestamp("2024-03-05 14:02")
    assert got["src:C"] == pd.Timestamp("2024-07-05 16:02")  # Paris, summer
    assert got["src:D"] == pd.Timestamp("2024-03-05 15:02")
    assert got["src:F"] == pd.Timestamp("2024-03-05 15:02")
    assert got["src:G"] == got["src:H"] == pd.Timestamp("2024-03-05")
    assert result.rejected["source_line"].tolist() == [6]
    assert (
        "fuseau facultatif : Z, UTC, GMT, CET, CEST ou +hh:mm"
        in result.rejected["reason_fr"].iloc[0]
    )


def test_a_quote_left_open_has_its_own_reason(tmp_path: Path) -> None:
    # Rejected « malformed_row » like a line with a separator too many: the analyst could
    # not count, nor filter in rejected.csv, the lines whose fix is to close a quote.
    path = tmp_path / "guillemet.csv"
    path.write_text(
        "id;date;adresse;texte\n"
        "A;05/03/2024;1 rue A;ok\n"
        'B;05/03/2024;2 rue B;"fuite\n'  # a quote opened, never closed
        "C;05/03/2024;3 rue C;ok\n"
        "D;05/03/2024;4 rue D;trop;de;champs\n",
        encoding="utf-8",
    )
    columns = {"id": "id", "date": "date", "address": "adresse", "description": "texte"}
    result = _ingest(_source(path, columns=columns))  # the partition adds up (_ingest)
    s = result.summary["sources"]["src"]
    assert (s["rows_in"], s["accepted"]) == (4, 2)
    assert s["rejected"] == {"unclosed_quote": 1, "malformed_row": 1}
    reasons = result.rejected.set_index("source_line")
    assert reasons["reason"].to_dict() == {3: "unclosed_quote", 5: "malformed_row"}
    assert reasons.loc[3, "reason_fr"].startswith(
        "Guillemet ouvert et jamais fermé ligne 3 de « guillemet.csv »"
    )
    assert "6 champs au lieu de 4" in reasons.loc[5, "reason_fr"]


@pytest.mark.parametrize("sep", [";", ",", "\t"])
def test_excels_sep_line_before_the_header_is_read_as_the_separator(
    tmp_path: Path, sep: str
) -> None:
    # Excel writes « sep=; » on the first line of a CSV meant for it (and reads it): it
    # was taken for the header, a table of one column, and the whole file refused.
    from pipelines.ingest.chunks import read_file_chunks

    rows = [["id", "date", "adresse"], ["A", "05/03/2024", "1 rue A"], ["B", "hier", "2 rue B"]]
    path = tmp_path / "excel.csv"
    text = f"sep={sep}\r\n" + "".join(sep.join(r) + "\r\n" for r in rows)
    path.write_bytes(text.encode("utf-8-sig"))
    result = _ingest(_source(path, columns={"id": "id", "date": "date", "address": "adresse"}))
    s = result.summary["sources"]["src"]
    assert (s["rows_in"], s["accepted"], s["rejected"]) == (2, 1, {"unparseable_date": 1})
    assert result.rejected["source_line"].tolist() == [4]  # the file's own line numbers
    (part,) = read_file_chunks(path, "auto", chunk_bytes=16)
    assert part.columns == ["id", "date", "adresse"]
    assert part.lines.tolist() == [3, 4]


def test_stray_quotes_utf16_and_legacy_geojson_crs(tmp_path: Path) -> None:
    stray = tmp_path / "stray.csv"
    stray.write_text(
        'id;date;cat;texte;adresse\nT1;01/02/2024;Fuite;Vitre 5" cassée;1 rue A\n'
        'T2;02/02/2024;Fuite;"guillemets ""doublés""";2 rue B\nT3;03/02/2024;Fuite;ok;3 rue C\n'
        '\nT4;04/02/2024;Fuite;fin" de ligne;4 rue D\n',
        encoding="utf-8",
    )
    cols = {
        "id": "id",
        "date": "date",
        "category": "cat",
        "description": "texte",
        "address": "adresse",
    }
    rows = _by_id(_ingest(_source(stray, columns=cols)))
    assert rows["source_line"].to_dict() == {"src:T1": 2, "src:T2": 3, "src:T3": 4, "src:T4": 6}
    assert rows.loc["src:T1", "description"] == 'Vitre 5" cassée'
    assert rows.loc["src:T2", "description"] == 'guillemets "doublés"'

    utf16 = tmp_path / "unicode.txt"  # Excel's "Texte Unicode": UTF-16, tab-separated
    utf16.write_bytes("id\tdate\tadresse\r\nU1\t01/02/2024\t1 rue Émile Zola\r\n".encode("utf-16"))
    result = _ingest(_source(utf16, columns={"id": "id", "date": "date", "address": "adresse"}))
    assert result.summary["sources"]["src"]["file_details"][0]["encoding"] == "utf-16"
    assert _by_id(result).loc["src:U1", "address"] == "1 rue Émile Zola"

    legacy = tmp_path / "l93.geojson"
    legacy.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2154"}},
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"date": "2024-03-01"},
                        "geometry": {"type": "Point", "coordinates": [662250.0, 6867900.0]},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    result = _ingest(_source(legacy, format="geojson", columns={"date": "date"}))
    lon, lat = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True).transform(
        662250.0, 6867900.0
    )
    assert result.ingested[["lon", "lat"]].iloc[0].tolist() == pytest.approx([lon, lat], abs=1e-9)
    assert result.ingested["coord_note"].iloc[0] == "lambert93"


def test_odk_central_export_is_recognised_and_needs_little_configuration() -> None:
    # Hand-made in the shape of ODK Central's CSV export (repeat groups flattened with
    # "-", the geopoint split into -Latitude/-Longitude/-Altitude/-Accuracy, KEY,
    # SubmissionDate in UTC with a "Z", SubmitterName and DeviceID).
    raw = read_file(DATA / "odk_central.csv", "auto")
    assert raw.format == "odk"
    src = _source(
        DATA / "odk_central.csv",
        kind="observations",
        columns={
            "category": "constat-probleme",
            "building_ref": "constat-batiment",
            "description": "constat-commentaire",
        },
    )
    result = _ingest(src)
    rows = _by_id(result)
    first = "src:uuid:3c1f0e52-8a43-4d57-9d7a-1b0e2f7c9a01"
    assert rows.loc[first, "reported_at"] == pd.Timestamp("2024-05-09 14:10")  # 12:10 UTC
    assert rows.loc[first, "lat"] == pytest.approx(48.910122)
    assert rows.loc[first, "lon"] == pytest.approx(2.48619)
    assert rows.loc[first, "category"] == "nuisibles"
    second = "src:uuid:8e2d4b7a-5c61-4f0e-a3b9-6d2c8f1e4b02"
    assert rows.loc[second, "reported_at"] == pd.Timestamp("2024-01-09 14:52:28")  # winter
    assert pd.isna(rows.loc[second, "lat"])
    assert rows.loc[second, "building_ref"] == "BL-9"
    assert "06 12" not in rows.loc[second, "description"]
    # The third has nothing to locate it: rejected, and the submitter's name and device
    # (columns ODK always writes) are not in the rejected row, though not declared.
    summary = result.summary["sources"]["src"]
    assert summary["rejected"] == {"missing_location": 1}
    original = json.loads(result.rejected["original_row"].iloc[0])
    assert original["constat-commentaire"] == "Hall sale"
    assert not {"SubmitterName", "SubmitterID", "DeviceID"} & set(original)
    assert "Karim" not in result.rejected.to_csv()


def test_files_of_one_source_with_other_labels_and_columns(tmp_path: Path) -> None:
    # Two monthly files of one source: different labels, and the second lacks the
    # "Canal" column. Label columns are held per file as categories; together they must
    # give each row its own text, and "" (missing) where a file has no such column.
    (tmp_path / "m1.csv").write_text(
        "id;date;cat;canal;adresse\nA1;01/03/2024;Fuite;Téléphone;1 rue A\n"
        "A2;02/03/2024;Ascenseur;Application;2 rue B\n",
        encoding="utf-8",
    )
    (tmp_path / "m2.csv").write_text(
        "id;date;cat;adresse\nB1;01/04/2024;Nuisibles;3 rue C\nB2;02/04/2024;Fuite;1 rue A\n",
        encoding="utf-8",
    )
    src = _source(
        tmp_path / "m*.csv",
        columns={"id": "id", "date": "date", "category": "cat", "address": "adresse"},
    )
    rows = _by_id(_ingest(src))
    assert rows.loc["src:A2", "category_source_label"] == "Ascenseur"
    assert rows.loc["src:B1", "category"] == "nuisibles"
    assert rows.loc["src:B2", "address"] == rows.loc["src:A1", "address"] == "1 rue A"
    assert rows["address"].tolist() == ["1 rue A", "2 rue B", "3 rue C", "1 rue A"]
    # A role only one file has (formats bring their own defaults): "" for the others'
    # rows, and the labels of both files in one category column.
    raws = [read_csv(tmp_path / "m1.csv"), read_csv(tmp_path / "m2.csv")]
    roles = [
        {"id": "id", "date": "date", "category": "cat", "address": "adresse", "channel": "canal"},
        {"id": "id", "date": "date", "category": "cat", "address": "adresse"},
    ]
    parsed = _parse_source(src, raws, roles)
    assert isinstance(parsed.frame["category"].dtype, pd.CategoricalDtype)
    assert parsed.frame["category"].astype("str").tolist() == [
        "Fuite",
        "Ascenseur",
        "Nuisibles",
        "Fuite",
    ]
    assert parsed.frame["channel"].astype("str").tolist() == ["Téléphone", "Application", "", ""]


def test_repeated_ids_in_one_file(tmp_path: Path) -> None:
    # One file (ids are then checked while the dates are parsed): a repeated id is a
    # duplicate when the row is the same, an update (the later line kept) when it is
    # not; a missing id is named by a hash of the row, not taken as a repeat.
    (tmp_path / "one.csv").write_text(
        "id;date;adresse\nA;01/03/2024;1 rue A\nB;02/03/2024;2 rue B\n"
        "A;03/03/2024;3 rue C\n;04/03/2024;4 rue D\nB;02/03/2024;2 rue B\n",
        encoding="utf-8",
    )
    src = _source(tmp_path / "one.csv", columns={"id": "id", "date": "date", "address": "adresse"})
    result = _ingest(src)
    s = result.summary["sources"]["src"]
    assert (s["rows_in"], s["accepted"], s["updated"], s["duplicates"]) == (5, 3, 1, 1)
    ids = result.ingested["report_id"].tolist()
    assert ids[:2] == ["src:B", "src:A"]
    assert _by_id(result).loc["src:A", "address"] == "3 rue C"
    assert _by_id(result).loc["src:B", "source_line"] == 3  # the first copy is kept
    assert ids[2].startswith("src:h")
    (tmp_path / "one.csv").write_text(
        "id;date;adresse\nA;01/03/2024;1 rue A\nB;02/03/2024;2 rue B\n", encoding="utf-8"
    )
    assert _ingest(src).summary["sources"]["src"]["duplicates"] == 0


def test_closing_date_in_the_future_is_missing_and_counted(tmp_path: Path) -> None:
    # TODAY is 2025-06-01: a closing date in 2099 is not trusted (it would make a delay
    # of decades); the row is kept, its closed_at missing, as an unreadable one's is.
    path = tmp_path / "clotures.csv"
    path.write_text(
        "id;date;adresse;Latitude;Longitude;Date de clôture\n"
        "A;03/02/2025;1 rue A;48,9100;2,4850;05/02/2025\n"
        "B;03/02/2025;2 rue B;48,9100;2,4850;01/01/2099\n"
        "C;03/02/2025;3 rue C;48,9100;2,4850;pas une date\n"
        "D;03/02/2025;4 rue D;48,9100;2,4850;01/06/2025 23:00\n"
        "E;03/02/2025;5 rue E;48,9100;2,4850;02/06/2025\n",
        encoding="utf-8",
    )
    columns = {"id": "id", "date": "date", "address": "adresse", "lat": "Latitude"}
    columns |= {"lon": "Longitude", "closed_at": "Date de clôture"}
    result = _ingest(_source(path, columns=columns))
    rows = _by_id(result)
    assert rows.loc["src:A", "closed_at"] == pd.Timestamp("2025-02-05")
    assert rows.loc["src:D", "closed_at"] == pd.Timestamp("2025-06-01 23:00")  # today
    for ticket in ("B", "C", "E"):
        assert pd.isna(rows.loc[f"src:{ticket}", "closed_at"]), ticket
    s = result.summary["sources"]["src"]
    assert s["accepted"] == 5
    assert s["closed_at_in_future"] == 2
    assert s["closed_at_unparseable"] == 1


def test_a_site_where_nothing_is_kept_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The real Paris export against Bondy's study area: every row is read, none is kept.
    # The run goes on (the partition is written), but a warning says the maps will be empty.
    site = load_config(ROOT / "config" / "demo.toml").site("paris10")
    result = ingest.ingest_site(site, study_area_bbox=BONDY_BBOX, today=date(2025, 1, 1))
    (s,) = result.summary["sources"].values()
    assert s["rows_in"] > 0
    assert s["accepted"] == s["updated"] == 0
    with caplog.at_level("WARNING", logger="pipelines"):
        ingest.write_result(result, "paris10", tmp_path)
    assert "aucune des" in caplog.text
    assert "cartes seront vides" in caplog.text
    assert (tmp_path / "outside_study_area.csv").exists()
    caplog.clear()
    with caplog.at_level("WARNING", logger="pipelines"):
        bbox = read_osm_bounds(RAW / "paris10" / "paris10.osm")
        kept = ingest.ingest_site(site, study_area_bbox=bbox, today=date(2025, 1, 1))
        ingest.write_result(kept, "paris10", tmp_path)
    assert "cartes seront vides" not in caplog.text
