"""Planners' notes: every file read, each problem named, nothing lost across refreshes."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from pipelines.annotations.link import link_annotations
from pipelines.annotations.stage import DELETED_STATUS, parse_note_time, read_annotations
from pipelines.annotations.stage import run as run_annotations
from pipelines.crs import LAMBERT93, WGS84
from pipelines.maps.notes import annotation_ui_html, notes_layer_geojson, notes_table_html
from pipelines.publish.tables import notes_table
from tests.conftest import bondy_config

ROOT = Path(__file__).resolve().parents[1]
BONDY_OSM = ROOT / "data" / "raw" / "bondy" / "bondy_nord.osm"
TAGS = ["priorité avant travaux", "à surveiller", "traité"]


def _point(building: pd.Series) -> dict[str, Any]:
    p = building.geometry.representative_point()
    return {"type": "Point", "coordinates": [p.x, p.y]}


def _export(features: list[dict[str, Any]]) -> dict[str, Any]:
    """A file as the map's « Exporter les notes » writes it."""
    return {
        "type": "FeatureCollection",
        "name": "annotations_bondy",
        "vigie": {"format": "vigie-annotations", "version": 1},
        "features": features,
    }


def _map_note(note_id: str, text: str, building: pd.Series, **extra: Any) -> dict[str, Any]:
    props = {
        "note_id": note_id,
        "site": "bondy",
        "author": "Mme Durand",
        "text": text,
        "tag": "priorité avant travaux",
        "status": "ouvert",
        "created_at": "2024-06-03T09:15:00.000Z",
        "building_id": building["building_id"],
    }
    props.update(extra)
    return {"type": "Feature", "properties": props, "geometry": _point(building)}


def _write(path: Path, content: str | dict[str, Any], mtime: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
    path.write_text(text, encoding="utf-8")
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


# --------------------------------------------------------------------------- reading
def test_reimporting_the_same_export_gives_no_duplicates(
    isolated: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    a, b = isolated.iloc[0], isolated.iloc[1]
    export = _export(
        [
            _map_note("0b9f…-1", "Fermer l'accès cave avant travaux", a),
            _map_note("0b9f…-2", "Reprendre l'éclairage du hall 3", b),
        ]
    )
    folder = tmp_path / "bondy"
    _write(folder / "annotations_bondy_20240603T091500Z.geojson", export, mtime=1_700_000_000)
    _write(folder / "copie de annotations_bondy.geojson", export, mtime=1_700_000_100)
    read = read_annotations(folder, site_id="bondy", tags=TAGS)
    assert read.rejected == []
    # Ids read as they look, as the register's are (pipelines.fr.plain_id: « … » is « ... »).
    assert sorted(read.notes["note_id"]) == ["0b9f...-1", "0b9f...-2"]
    assert read.n_read == 4
    assert read.n_duplicates == 2
    assert read.duplicates == [
        "copie de annotations_bondy.geojson : 2 note(s) déjà présente(s) dans "
        "annotations_bondy_20240603T091500Z.geojson (même identifiant, même contenu), "
        "comptée(s) une fois."
    ]
    assert read.notes.crs.to_epsg() == 4326
    assert str(read.notes["created_at"].dtype) == "datetime64[us, UTC]"


def test_newest_version_of_a_note_wins_and_is_reported(
    isolated: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    a = isolated.iloc[0]
    folder = tmp_path / "bondy"
    # The newer version is in the OLDER file: the date decides, not the file order.
    _write(
        folder / "a.geojson",
        _export(
            [_map_note("n1", "Cave ouverte", a, status="clos", updated_at="2024-06-20T08:00:00Z")]
        ),
        1_700_000_000,
    )
    _write(folder / "b.geojson", _export([_map_note("n1", "Cave ouverte", a)]), 1_700_000_100)
    read = read_annotations(folder, site_id="bondy", tags=TAGS)
    assert read.notes["status"].tolist() == ["clos"]
    assert len(read.duplicates) == 1
    assert "version du 20/06/2024 10:00 (a.geojson) conservée" in read.duplicates[0]
    assert "(b.geojson) écartée" in read.duplicates[0]


def test_csv_keyed_by_building_id_with_french_headers(
    bondy: gpd.GeoDataFrame, isolated: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    a, b = isolated.iloc[0]["building_id"], isolated.iloc[1]["building_id"]
    folder = tmp_path / "bondy"
    # Excel's "CSV (séparateur : point-virgule)": semicolons, cp1252, French dates.
    csv = (
        "Bâtiment;Auteur;Texte;Étiquette;Statut;Date\r\n"
        f"{a};M. Diallo;Porte du hall forcée;A surveiller;;03/06/2024 14:30\r\n"
        f"{b};M. Diallo;Fuite en cave;priorité avant travaux;en cours;2024-06-04\r\n"
    )
    folder.mkdir()
    (folder / "tour_de_quartier.csv").write_bytes(csv.encode("cp1252"))
    read = read_annotations(folder, site_id="bondy", tags=TAGS)
    assert read.rejected == []
    notes = read.notes.set_index("building_id")
    assert notes.loc[a, "tag"] == "à surveiller"  # matched without accent or case
    assert notes.loc[a, "status"] == "ouvert"  # default
    assert notes.loc[a, "created_at"] == pd.Timestamp("2024-06-03 12:30", tz="UTC")  # Paris, summer
    assert notes.loc[b, "created_at"] == pd.Timestamp("2024-06-03 22:00", tz="UTC")
    assert notes.geometry.isna().all()
    # Ids derived from the content: the same file read again gives the same ids.
    again = read_annotations(folder, site_id="bondy", tags=TAGS)
    assert sorted(again.notes["note_id"]) == sorted(read.notes["note_id"])
    assert all(re.fullmatch(r"[0-9a-f-]{36}", i) for i in read.notes["note_id"])
    # Linked: placed on their building, inside its footprint.
    linked = link_annotations(read.notes, bondy).set_index("building_id")
    for bid in (a, b):
        assert list(linked.loc[bid, "building_ids"]) == [bid]
        footprint = bondy.set_index("building_id").geometry[bid]
        assert footprint.contains(linked.geometry[bid])
        assert linked.loc[bid, "geometry_source"] == "bâtiment"


def test_a_table_s_rows_are_named_by_their_line_and_blank_rows_are_no_notes(
    isolated: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    # Read by pandas, a CSV's blank lines and a text on two lines shifted the line of every
    # later row (« ligne 3 » for line 6), and a sheet's blank rows became rejected notes.
    import openpyxl

    a = isolated.iloc[0]["building_id"]
    folder = tmp_path / "bondy"
    folder.mkdir()
    csv = (
        "building_id;texte;étiquette;date\r\n"
        f"{a};Porte forcée;à surveiller;2024-06-03\r\n"
        "\r\n"
        f'{a};"Fuite en cave,\r\nsous l\'escalier";à surveiller;2024-06-04\r\n'
        f"{a};Rats;inconnue;2024-06-05\r\n"
    )
    (folder / "tour.csv").write_bytes(csv.encode("utf-8"))
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["building_id", "texte", "étiquette", "date"])
    sheet.append([a, "Tags", "à surveiller", "2024-06-06"])
    sheet.append([])
    sheet.append([a, "Vitre", "inconnue", "2024-06-07"])
    book.save(folder / "visite.xlsx")
    read = read_annotations(folder, site_id="bondy", tags=TAGS)
    assert sorted(read.notes["text"]) == ["Fuite en cave,\nsous l'escalier", "Porte forcée", "Tags"]
    assert sorted(m.split(" : ")[0] for m in read.rejected) == [
        "tour.csv, ligne 6",
        "visite.xlsx, ligne 4",
    ]


def test_dates_stored_as_excel_serial_numbers_are_read_as_ingestion_reads_them(
    tmp_path: Path,
) -> None:
    # A date cell typed as a number (« Standard » in Excel, or a date pasted as a value)
    # holds its serial number: the notes' reader refused « 45352 » and « 45352.5 » that
    # the ingestion of reports reads, from the workbook's own day 0.
    import datetime as dt

    import openpyxl
    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    folder = tmp_path / "bondy"
    folder.mkdir()
    header = ["building_id", "texte", "étiquette", "date", "modifié le"]
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(header)
    sheet.append(["way/1", "Serial", "traité", 45352, 45352.75])
    sheet.append(["way/1", "Midi", "traité", 45352.5, None])
    sheet.append(["way/1", "Cellule date", "traité", dt.datetime(2024, 3, 1, 12, 30), None])
    sheet.append(["way/1", "Trop petit", "traité", 123, None])
    book.save(folder / "a_visite.xlsx")
    mac = openpyxl.Workbook()
    mac.epoch = CALENDAR_MAC_1904  # old Mac Excel: day 0 is 1 January 1904
    sheet = mac.active
    assert sheet is not None
    sheet.append(header)
    sheet.append(["way/1", "Mac", "traité", 45352 - 1462, None])
    mac.save(folder / "b_mac.xlsx")
    (folder / "c_export.csv").write_text(
        "building_id;texte;étiquette;date\nway/1;Virgule;traité;45352,5\n", encoding="utf-8"
    )
    read = read_annotations(folder, site_id="bondy", tags=["traité"])
    created = read.notes.set_index("text")["created_at"].dt.tz_convert("Europe/Paris")
    assert created.to_dict() == {
        "Serial": pd.Timestamp("2024-03-01 00:00", tz="Europe/Paris"),
        "Midi": pd.Timestamp("2024-03-01 12:00", tz="Europe/Paris"),
        "Cellule date": pd.Timestamp("2024-03-01 12:30", tz="Europe/Paris"),
        "Mac": pd.Timestamp("2024-03-01 00:00", tz="Europe/Paris"),
        "Virgule": pd.Timestamp("2024-03-01 12:00", tz="Europe/Paris"),
    }
    updated = read.notes.set_index("text")["updated_at"]
    assert updated["Serial"] == pd.Timestamp("2024-03-01 18:00", tz="Europe/Paris")
    # A number that is no date of these years is named with its file, line and column.
    assert read.rejected == [
        "a_visite.xlsx, ligne 5 : note rejetée : colonne « date » : date « 123 » illisible "
        "(attendu AAAA-MM-JJ [hh:mm], ISO 8601, JJ/MM/AAAA [hh:mm] (ou 05-03-24, "
        "05.03.2024), ou numéro de série Excel de 20 000 à 80 000 (date enregistrée comme "
        "nombre))."
    ]


def test_a_csv_that_cannot_be_read_is_told_its_real_cause_not_the_separator(
    tmp_path: Path,
) -> None:
    # Every CSV that could not be split was told « séparateur (separator) »: a setting of
    # the reports' sources a note file has not, and not the cause when a quote was left
    # open (in the header, or in a row: « 4 champs au lieu de 4 : séparateur ? ») or
    # the file was in UTF-16 without its mark.
    folder = tmp_path / "bondy"
    folder.mkdir()
    header = "building_id;texte;étiquette;date\n"
    files = {
        "a_guillemet.csv": (header + 'way/1;"Porte forcée;traité;2024-06-03\n'
                            "way/1;Vitre;traité;2024-06-04\n").encode(),
        "b_entete.csv": ('"building_id;texte;étiquette;date\n'
                         "way/1;Porte;traité;2024-06-03\n").encode(),
        "c_utf16.csv": (header + "way/1;Porte;traité;2024-06-03\n").encode("utf-16-le"),
        "d_espaces.csv": b"building_id texte etiquette date\nway/1 Porte traite 2024-06-03\n",
    }  # fmt: skip
    for name, data in files.items():
        (folder / name).write_bytes(data)
    read = read_annotations(folder, site_id="bondy", tags=["traité"])
    assert read.notes["text"].tolist() == ["Vitre"]  # the row after the open quote
    by_file = {m.split(" : ", 1)[0]: m.split(" : ", 1)[1] for m in read.rejected}
    assert by_file == {
        "a_guillemet.csv, ligne 2": "note rejetée : guillemet ouvert et jamais fermé dans la "
        "colonne « texte » : fermez-le ou retirez-le (la ligne est écartée, les suivantes "
        "sont lues).",
        "b_entete.csv": "CSV illisible : guillemet ouvert et jamais fermé dans la ligne "
        "d'en-tête : la suite du fichier y est lue comme un seul nom de colonne ; fermez ou "
        "retirez ce guillemet — aucune note lue dans ce fichier.",
        "c_utf16.csv": "CSV illisible : texte illisible, un caractère nul entre chaque "
        "lettre : le fichier est en UTF-16 ou UTF-32 sans marque d'ordre des octets (BOM) ; "
        "enregistrez-le en « CSV UTF-8 » — aucune note lue dans ce fichier.",
        "d_espaces.csv": "CSV illisible : une seule colonne lue (séparateur « , ») : ce "
        "fichier ne ressemble pas à un tableau CSV (séparateurs reconnus : « ; », « , », "
        "tabulation, « | ») — aucune note lue dans ce fichier.",
    }


def test_csv_in_utf16_is_read(isolated: gpd.GeoDataFrame, tmp_path: Path) -> None:
    # LibreOffice's « Unicode (UTF-16) » CSV, tab-separated as Excel's « Texte Unicode »:
    # read as cp1252, its header became « ÿþB\x00â\x00t… », every column said missing
    # and the file's notes lost, the message quoting the garbled bytes.
    a = isolated.iloc[0]["building_id"]
    folder = tmp_path / "bondy"
    folder.mkdir()
    files = (("unicode.csv", "\t", "utf-16", "Hall dégradé"), ("be.csv", ";", "utf-16-be", "Fuite"))
    for name, sep, encoding, note in files:
        text = (
            f"Bâtiment{sep}Texte{sep}Étiquette{sep}Date\r\n"
            f"{a}{sep}{note}{sep}à surveiller{sep}2024-06-04\r\n"
        )
        data = text.encode(encoding)
        if encoding == "utf-16-be":
            data = b"\xfe\xff" + data
        (folder / name).write_bytes(data)
    read = read_annotations(folder, site_id="bondy", tags=TAGS)
    assert read.rejected == []
    assert sorted(read.notes["text"]) == ["Fuite", "Hall dégradé"]
    assert set(read.notes["building_id"]) == {a}


def test_spreadsheet_keyed_by_zone_id(tmp_path: Path) -> None:
    folder = tmp_path / "bondy"
    folder.mkdir()
    pd.DataFrame(
        {
            "zone": ["Z3", "Z12"],
            "texte": ["Squat du hall", "Rats signalés"],
            "étiquette": ["à surveiller", "traité"],
            "date": ["2024-06-03", "2024-06-04"],
            "note_id": ["x-1", ""],
        }
    ).to_excel(folder / "comité.xlsx", index=False)
    read = read_annotations(folder, site_id="bondy", tags=TAGS)
    assert read.rejected == []
    assert read.notes["zone_id"].tolist() == ["Z3", "Z12"]
    assert read.notes["note_id"].iloc[0] == "x-1"  # given ids are kept, missing ones derived
    assert re.fullmatch(r"[0-9a-f-]{36}", read.notes["note_id"].iloc[1])


def test_qgis_geopackage_in_lambert93(
    isolated: gpd.GeoDataFrame, bondy: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    a = isolated.iloc[0]
    metric = gpd.GeoSeries([a.geometry], crs=WGS84).to_crs(LAMBERT93)
    drawn = metric.buffer(3.0)  # a polygon drawn around one building only
    layer = gpd.GeoDataFrame(
        {
            "texte": ["Sécuriser l'accès toiture"],
            "etiquette": ["à surveiller"],
            "auteur": ["Service urbanisme"],
            "date": [pd.Timestamp("2024-06-05 10:00")],
        },
        geometry=drawn.to_numpy(),
        crs=LAMBERT93,
    )
    folder = tmp_path / "bondy"
    folder.mkdir()
    layer.to_file(folder / "qgis_notes.gpkg", layer="notes", engine="pyogrio")
    read = read_annotations(folder, site_id="bondy", tags=TAGS)
    assert read.rejected == []
    assert len(read.notes) == 1
    note = read.notes.iloc[0]
    assert note["text"] == "Sécuriser l'accès toiture"
    assert note["created_at"] == pd.Timestamp("2024-06-05 08:00", tz="UTC")
    assert note.geometry.geom_type == "Polygon"
    # Back in degrees, around the building.
    assert note.geometry.contains(a.geometry.representative_point())
    linked = link_annotations(read.notes, bondy)
    assert list(linked["building_ids"].iloc[0]) == [a["building_id"]]


def test_malformed_files_give_one_message_each_and_the_rest_is_read(
    isolated: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    a, b = isolated.iloc[0], isolated.iloc[1]
    folder = tmp_path / "bondy"
    good = _export([_map_note("ok-1", "Reprendre l'éclairage du hall 3", a)])
    _write(folder / "bon.geojson", good)
    _write(folder / "coupé.geojson", json.dumps(good)[:-40])
    _write(folder / "colonnes.csv", "building_id,auteur,texte\nway/1,X,Y\n")
    mixed = _export(
        [
            _map_note("tag-1", "Hall", a, tag="urgent"),
            _map_note("txt-1", "   ", a),
            _map_note("date-1", "Cave", a, created_at="31/02/2024"),
            _map_note("site-1", "Cave", a, site="paris10"),
            {
                "type": "Feature",
                "properties": {
                    "note_id": "nowhere-1",
                    "text": "x",
                    "tag": "traité",
                    "created_at": "2024-06-01",
                },
                "geometry": None,
            },
            {
                "type": "Feature",
                "properties": {
                    "note_id": "lambert-1",
                    "text": "x",
                    "tag": "traité",
                    "created_at": "2024-06-01",
                },
                "geometry": {"type": "Point", "coordinates": [660000.0, 6865000.0]},
            },
            {
                "type": "Feature",
                "properties": {
                    "note_id": "broken-1",
                    "text": "x",
                    "tag": "traité",
                    "created_at": "2024-06-01",
                },
                "geometry": {"type": "Polygon", "coordinates": "n'importe quoi"},
            },
            _map_note("ok-2", "Boîtes aux lettres arrachées", b, tag="à surveiller"),
        ]
    )
    _write(folder / "mélange.geojson", mixed)
    _write(folder / "compte-rendu.docx", "pas des notes")
    _write(folder / ".DS_Store", "")
    read = read_annotations(folder, site_id="bondy", tags=TAGS)

    assert sorted(read.notes["note_id"]) == ["ok-1", "ok-2"]
    by_where = {m.split(" : ")[0]: m for m in read.rejected}
    assert len(by_where) == len(read.rejected) == 10
    assert "JSON illisible" in by_where["coupé.geojson"]
    assert "colonnes manquantes : étiquette (tag), date (created_at)" in by_where["colonnes.csv"]
    assert "format non reconnu" in by_where["compte-rendu.docx"]
    expected = {
        "entité 1 (note_id tag-1)": "étiquette « urgent » inconnue",
        "entité 2 (note_id txt-1)": "texte vide",
        "entité 3 (note_id date-1)": "date « 31/02/2024 » illisible",
        "entité 4 (note_id site-1)": "note du site « paris10 », pas de « bondy »",
        "entité 5 (note_id nowhere-1)": "ni géométrie, ni bâtiment",
        "entité 6 (note_id lambert-1)": "Lambert-93",
        "entité 7 (note_id broken-1)": "géométrie illisible",
    }
    for ref, words in expected.items():
        message = by_where[f"mélange.geojson, {ref}"]
        assert words in message, message
    # A GeoJSON field's number is never read as an Excel serial: not offered as a form.
    assert "série Excel" not in by_where["mélange.geojson, entité 3 (note_id date-1)"]
    assert set(read.failed_files) == {"coupé.geojson", "colonnes.csv", "compte-rendu.docx"}
    assert read.ignored_files == [".DS_Store"]
    assert read.n_rejected == 7


def test_dates_in_the_forms_planners_write() -> None:
    assert parse_note_time("2024-06-03T09:15:00.000Z") == pd.Timestamp("2024-06-03 09:15", tz="UTC")
    assert parse_note_time("2024-01-15 10:00") == pd.Timestamp(
        "2024-01-15 09:00", tz="UTC"
    )  # winter
    assert parse_note_time("3/6/2024 8h05") == pd.Timestamp("2024-06-03 06:05", tz="UTC")
    # The other forms a report's date is read in (the notes' reader refused them):
    # Paris time, as the reports read them.
    paris = {
        "05-03-2024": "2024-03-05 00:00",
        "05/03/24": "2024-03-05 00:00",
        "05.03.2024 14h30": "2024-03-05 14:30",
        "2024-03-05 UTC": "2024-03-05 00:00",  # a day: its zone moves no time
        "05/03/2024 14:02:00.5": "2024-03-05 14:02:00.5",
    }
    for text, expected in paris.items():
        got = parse_note_time(text)
        assert got == pd.Timestamp(expected, tz="Europe/Paris"), text
    # Never an Excel serial number outside a table (a GeoJSON field's number).
    with pytest.raises(ValueError, match="illisible"):
        parse_note_time("45352")
    assert parse_note_time("") is None
    for bad in ("hier", "2024-13-01", "32/01/2024", "31/02/24", "12/31/2024"):
        with pytest.raises(ValueError, match="illisible"):
            parse_note_time(bad)


# --------------------------------------------------------------------------- linking
def test_note_whose_building_left_osm_is_kept_as_orphan(
    isolated: gpd.GeoDataFrame, bondy: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    a = isolated.iloc[0]
    folder = tmp_path / "annotations" / "bondy"
    _write(folder / "export.geojson", _export([_map_note("n-orphan", "Démolir l'appentis", a)]))
    config = bondy_config(tmp_path, annotation_tags=tuple(TAGS))
    out = tmp_path / "processed" / "bondy"
    bondy.to_parquet(tmp_path / "b_before.parquet")
    first = run_annotations(
        config,
        "bondy",
        buildings_path=tmp_path / "b_before.parquet",
        zones_path=None,
        previous_notes_path=None,
        out_dir=out,
    )
    assert not first["is_orphaned"].any()
    # The next OSM extract no longer has the building.
    bondy[bondy["building_id"] != a["building_id"]].to_parquet(tmp_path / "b_after.parquet")
    second = run_annotations(
        config,
        "bondy",
        buildings_path=tmp_path / "b_after.parquet",
        zones_path=None,
        previous_notes_path=out / "annotations.parquet",
        out_dir=out,
    )
    assert second["note_id"].tolist() == ["n-orphan"]
    assert bool(second["is_orphaned"].iloc[0])
    assert f"bâtiment {a['building_id']} absent" in second["orphan_reason"].iloc[0]
    # shown where it was drawn
    assert second.geometry.iloc[0].equals_exact(shapely.geometry.shape(_point(a)), 1e-9)
    assert list(second["building_ids"].iloc[0]) == []
    summary = json.loads((out / "annotation_summary.json").read_text(encoding="utf-8"))
    assert summary["counts"]["orphaned"] == 1
    assert "n-orphan" in summary["messages"]["orphaned"][0]


def test_point_near_a_building_is_linked_within_ten_metres(isolated: gpd.GeoDataFrame) -> None:
    a = isolated.iloc[0]
    metric = gpd.GeoSeries([a.geometry], crs=WGS84).to_crs(LAMBERT93).iloc[0]
    # Points 6 m and 11 m east of the building's easternmost point (its neighbours are > 12 m).
    x_max = metric.bounds[2]
    y = next(c[1] for c in metric.exterior.coords if c[0] == x_max)
    points = gpd.GeoSeries(
        [shapely.Point(x_max + 6, y), shapely.Point(x_max + 11, y)], crs=LAMBERT93
    )
    notes = gpd.GeoDataFrame(
        {"note_id": ["near", "far"], "building_id": [None, None], "zone_id": [None, None]},
        geometry=points.to_crs(WGS84).to_numpy(),
        crs=WGS84,
    )
    linked = link_annotations(notes, isolated)
    assert [list(v) for v in linked["building_ids"]] == [[a["building_id"]], []]


def test_a_note_drawn_away_from_the_site_is_an_orphan_saying_why(
    isolated: gpd.GeoDataFrame,
) -> None:
    # A CSV of notes whose latitude and longitude were swapped (« 2,4862 ; 48,9101 »):
    # the note was kept as placed, at 48.9° E 2.5° N, off the map, without a word.
    p = isolated.iloc[0].geometry.representative_point()
    notes = gpd.GeoDataFrame(
        {"note_id": ["ici", "inversee", "ailleurs"], "building_id": [None] * 3},
        geometry=[p, shapely.Point(p.y, p.x), shapely.Point(-1.55, 47.22)],
        crs=WGS84,
    ).assign(zone_id=None)
    linked = link_annotations(notes, isolated).set_index("note_id")
    assert linked["is_orphaned"].tolist() == [False, True, True]
    assert pd.isna(linked.loc["ici", "orphan_reason"])
    assert linked.loc["inversee", "orphan_reason"] == (
        "note dessinée hors du site, loin de ses bâtiments : latitude et longitude "
        "inversées ? Corrigez ses coordonnées"
    )
    assert "vérifiez ses coordonnées" in linked.loc["ailleurs", "orphan_reason"]
    # Kept where it was drawn, for the analyst to find and correct.
    assert linked.loc["inversee"].geometry.equals(shapely.Point(p.y, p.x))


# --------------------------------------------------------------------------- memory
def test_notes_are_never_lost_only_deleted_on_purpose(
    isolated: gpd.GeoDataFrame, bondy: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    a, b = isolated.iloc[0], isolated.iloc[1]
    config = bondy_config(tmp_path, annotation_tags=tuple(TAGS))
    folder = tmp_path / "annotations" / "bondy"
    out = tmp_path / "processed" / "bondy"
    bondy.to_parquet(tmp_path / "b.parquet")

    def refresh() -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
        notes = run_annotations(
            config,
            "bondy",
            buildings_path=tmp_path / "b.parquet",
            zones_path=None,
            previous_notes_path=out / "annotations.parquet",
            out_dir=out,
        )
        return notes, json.loads((out / "annotation_summary.json").read_text(encoding="utf-8"))

    old_export = _export([_map_note("n1", "Cave", a), _map_note("n2", "Hall 3", b)])
    _write(folder / "juin.geojson", old_export)
    notes, _ = refresh()
    assert sorted(notes["note_id"]) == ["n1", "n2"]
    # The file leaves the folder; make clean wipes data/processed: the notes stay.
    (folder / "juin.geojson").unlink()
    for f in out.iterdir():
        f.unlink()
    notes, summary = refresh()
    assert sorted(notes["note_id"]) == ["n1", "n2"]
    assert not notes["in_folder"].any()
    assert summary["counts"]["from_archive_only"] == 2
    assert "conservée(s) depuis l'archive" in summary["messages"]["archive"][0]
    # A planner closes n2 and deletes n1 from the map (same ids, newer updated_at).
    _write(
        folder / "juillet.geojson",
        _export(
            [
                _map_note(
                    "n1", "Cave", a, status=DELETED_STATUS, updated_at="2024-07-01T08:00:00Z"
                ),
                _map_note("n2", "Hall 3", b, status="clos", updated_at="2024-07-01T08:00:00Z"),
            ]
        ),
    )
    notes, summary = refresh()
    assert notes["note_id"].tolist() == ["n2"]
    assert notes["status"].tolist() == ["clos"]
    assert summary["counts"]["deleted"] == 1
    assert any("statut « ouvert » → « clos »" in m for m in summary["messages"]["archive"])
    # Someone drops the old June export again: n1 stays deleted, n2 stays closed.
    _write(folder / "juin.geojson", old_export)
    notes, summary = refresh()
    assert notes["note_id"].tolist() == ["n2"]
    assert notes["status"].tolist() == ["clos"]
    archive = gpd.read_parquet(
        tmp_path / "annotations" / ".archive" / "bondy" / "annotations_archive.parquet"
    )
    assert sorted(zip(archive["note_id"], archive["status"], strict=True)) == [
        ("n1", DELETED_STATUS),
        ("n2", "clos"),
    ]
    # The exports written for the planners read back as the same notes.
    for name in ("annotations.geojson", "annotations.csv"):
        again = read_annotations(
            _copy_to(out / name, tmp_path / f"re_{name}"), site_id="bondy", tags=TAGS
        )
        assert again.rejected == [], again.rejected
        assert again.notes["note_id"].tolist() == ["n2"]
        assert again.notes["status"].tolist() == ["clos"]


def _copy_to(src: Path, folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / src.name).write_bytes(src.read_bytes())
    return folder


# --------------------------------------------------------------------------- display
EVIL = "<script>alert('x')</script> & <img src=x onerror=alert(1)>"


def test_everything_shown_is_escaped(isolated: gpd.GeoDataFrame) -> None:
    a = isolated.iloc[0]
    notes = gpd.GeoDataFrame(
        {
            "note_id": ["e1"],
            "site": ["bondy"],
            "author": [EVIL],
            "text": [EVIL],
            "tag": ["traité"],
            "status": ["ouvert"],
            "created_at": [pd.Timestamp("2024-06-03 09:00", tz="UTC")],
            "updated_at": [pd.NaT],
            "building_id": [a["building_id"]],
            "zone_id": [None],
        },
        geometry=[a.geometry.representative_point()],
        crs=WGS84,
    )
    # As the map and the index show them: published first (pipelines.publish).
    linked = notes_table(link_annotations(notes, isolated))
    table = notes_table_html(linked)
    assert "<script>" not in table
    assert "<img" not in table
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;img" in table
    layer = notes_layer_geojson(linked)
    props = layer["features"][0]["properties"]
    assert props["text"] == EVIL  # raw for textContent, escaped for folium's HTML
    assert "<script>" not in props["popup_html"]
    assert "<img" not in props["tooltip"]
    ui = annotation_ui_html(
        site_id="bondy", tags=["</script><b>x"], statuses=["ouvert"], map_var="map_1"
    )
    payload = ui.rsplit("<script>", 1)[1]
    assert payload.count("</script>") == 1  # only the element's own end tag


def test_a_surface_with_a_spike_is_repaired_into_a_polygon_not_a_collection(
    isolated: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    # make_valid turns a ring with a spike (out and back along one edge) into a polygon
    # plus a line, a GeometryCollection: refused on input, it was kept once repaired, and
    # written to the GeoPackage's point layer.
    a = isolated.iloc[0]
    x, y = a.geometry.representative_point().coords[0]
    d = 0.0002
    ring = [[x, y], [x + d, y], [x + d, y + d], [x + 2 * d, y + 3 * d], [x + d, y + d],
            [x, y + d], [x, y]]  # fmt: skip
    note = _map_note("n-spike", "Zone à reprendre", a)
    note["geometry"] = {"type": "Polygon", "coordinates": [ring]}
    folder = tmp_path / "bondy"
    _write(folder / "export.geojson", _export([note]))
    read = read_annotations(folder, site_id="bondy", tags=TAGS)
    assert read.rejected == []
    (geometry,) = read.notes.geometry
    assert geometry.geom_type == "Polygon"
    assert geometry.is_valid
    assert geometry.area == pytest.approx(d * d)


def test_a_building_saved_by_josm_before_its_upload_keeps_its_notes(tmp_path: Path) -> None:
    # JOSM saves a building drawn and not yet uploaded with a negative id: the buildings
    # stage kept it as « way/-102 », the map exported its notes so, and their import
    # rejected them (« attendu la forme OSM way/123 »).
    from pipelines.actions.model import is_building_id

    note = {
        "type": "Feature",
        "properties": {"note_id": "n-josm", "text": "Porte forcée", "tag": "à surveiller",
                       "created_at": "2024-06-03T09:15:00Z", "building_id": "way/-102"},
        "geometry": None,
    }  # fmt: skip
    folder = tmp_path / "bondy"
    _write(folder / "export.geojson", _export([note]))
    read = read_annotations(folder, site_id="bondy", tags=TAGS)
    assert read.rejected == []
    assert read.notes["building_id"].tolist() == ["way/-102"]
    assert is_building_id("way/-102")  # the action register's rule too
    assert not is_building_id("way/--1")


def test_a_note_with_heights_is_kept_in_two_dimensions(
    isolated: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    # A phone's GPS or a QGIS « PointZ » layer writes [lon, lat, height]: kept with its
    # height, the note made the GeoPackage's notes layer hold a Z it does not declare.
    a = isolated.iloc[0]
    note = _map_note("n-z", "Fuite en cave", a)
    note["geometry"]["coordinates"] = [*note["geometry"]["coordinates"], 42.0]
    folder = tmp_path / "bondy"
    _write(folder / "export.geojson", _export([note]))
    read = read_annotations(folder, site_id="bondy", tags=TAGS)
    assert read.rejected == []
    assert not read.notes.geometry.has_z.any()


def test_a_field_holding_a_json_array_or_object_rejects_its_note_naming_it(
    isolated: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    # A GeoJSON property may be an array or an object: kept, the note's text read
    # « ['Fuite', {'cave': 1}] » and its id « {'x': 1} », Python's spelling of them.
    a, b = isolated.iloc[0], isolated.iloc[1]
    folder = tmp_path / "bondy"
    notes = [
        _map_note("n-ok", "Fuite en cave", a),
        _map_note("n-list", ["Fuite", {"cave": 1}], b),
        {**_map_note("ignored", "Porte forcée", b), "properties": {
            **_map_note("ignored", "Porte forcée", b)["properties"], "note_id": {"x": 1},
            "author": ["Mme Durand"],
        }},
    ]  # fmt: skip
    _write(folder / "export.geojson", _export(notes))
    read = read_annotations(folder, site_id="bondy", tags=TAGS)
    assert read.notes["note_id"].tolist() == ["n-ok"]
    assert len(read.rejected) == 2
    listed, objected = read.rejected
    assert listed.startswith("export.geojson, entité 2")
    assert "champ « text » : attendu un texte, trouvé une liste" in listed
    assert objected.startswith("export.geojson, entité 3")
    assert "champ « note_id » : attendu un texte, trouvé un objet" in objected
    assert "champ « author » : attendu un texte, trouvé une liste" in objected
