"""The planners' note tables as a careless analyst saves them: a CSV saved from a
spreadsheet in English, its dates month first, or set to short ISO dates, year first."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from pipelines.annotations.stage import read_annotations
from pipelines.errors import OutputError
from pipelines.fr import fr_number
from tests.test_annotations_safety import _archive_dir, _note, _refresh, _write

TAGS = ["priorité avant travaux", "à surveiller", "traité"]


def test_a_table_with_month_first_dates_is_read_month_first_and_told(tmp_path: Path) -> None:
    # « 06/30/2024 » was refused as illegible, and « 03/04/2024 » of the same file
    # silently became 3 April instead of 4 March.
    folder = tmp_path / "bondy"
    folder.mkdir()
    csv = (
        "Bâtiment;Auteur;Texte;Étiquette;Statut;Date\r\n"
        "way/84181230;X;Fuite en cave;à surveiller;;06/30/2024\r\n"
        "way/84190486;X;Porte du hall forcée;à surveiller;;03/04/2024 14:30\r\n"
    )
    (folder / "tour_de_quartier.csv").write_bytes(csv.encode("cp1252"))
    read = read_annotations(folder, site_id="bondy", tags=TAGS)

    assert read.rejected == []
    got = read.notes.set_index("building_id")["created_at"]
    assert got["way/84181230"] == pd.Timestamp("2024-06-30", tz="Europe/Paris")
    assert got["way/84190486"] == pd.Timestamp("2024-03-04 14:30", tz="Europe/Paris")
    (told,) = read.told
    assert told.startswith("tour_de_quartier.csv : dates lues mois en premier")
    assert "lignes 2 :" in told
    assert told in read.messages


def test_a_table_with_year_first_dates_is_read_year_first_and_told(tmp_path: Path) -> None:
    # A spreadsheet set to short ISO dates writes « 24-11-19 » for 19 November 2024.
    # Read day first, it was 24 November 2019 and « 24-12-03 » 24 December 2003, kept
    # without a word (a note has no lower bound), each losing to any older version of
    # the note. The French « 19/11/24 » of another file stays day first. Real buildings
    # of Bondy Nord.
    folder = tmp_path / "bondy"
    folder.mkdir()
    iso = (
        "Bâtiment;Texte;Étiquette;Date\r\n"
        "way/84181230;Fuite en cave;à surveiller;24-11-19\r\n"
        "way/84190486;Porte du hall forcée;à surveiller;24-12-03 14:30\r\n"
        "way/84181230;Cave asséchée;traité;25-01-08\r\n"
    )
    (folder / "tour_iso.csv").write_bytes(iso.encode("utf-8"))
    french = (
        "Bâtiment;Texte;Étiquette;Date\r\nway/84190486;Tags dans le hall;à surveiller;19/11/24\r\n"
    )
    (folder / "tour_fr.csv").write_bytes(french.encode("utf-8"))
    now = pd.Timestamp("2025-01-15 10:00", tz="UTC")
    read = read_annotations(folder, site_id="bondy", tags=TAGS, now=now, start=date(2015, 1, 1))

    assert read.rejected == []
    got = read.notes.set_index("text")["created_at"]
    paris = "Europe/Paris"
    assert got["Fuite en cave"] == pd.Timestamp("2024-11-19", tz=paris)
    assert got["Porte du hall forcée"] == pd.Timestamp("2024-12-03 14:30", tz=paris)
    assert got["Cave asséchée"] == pd.Timestamp("2025-01-08", tz=paris)
    assert got["Tags dans le hall"] == pd.Timestamp("2024-11-19", tz=paris)
    (told,) = read.told
    assert told.startswith("tour_iso.csv : dates lues année en premier")
    assert "lignes 3, 4 :" in told  # line 2 read day first was in the study too
    assert told in read.messages


def test_a_note_with_a_mail_pasted_in_its_text_is_cut_and_imported(tmp_path: Path) -> None:
    # A mail thread pasted under the planner's words in a spreadsheet's cell: over the
    # 10,000 characters a report's cell keeps, the whole note was refused, the planner's
    # words lost with it. Cut as a report's cell is: at a space, never through the phone
    # number the limit falls in (its first digits would escape the scrubbing). A real
    # building of Bondy Nord.
    folder = tmp_path / "bondy"
    folder.mkdir()
    words = "Pompe de relevage en panne, eau dans les caves du bâtiment B. "
    head = ("Courriel du syndic collé : " + words * 200)[:9_985]
    text = head + " appelez 06 12 34 56 78 merci " + words * 40  # the limit falls in « 34 »
    assert len(text) > 12_000
    table = "Bâtiment;Texte;Étiquette;Date\r\n" + f"way/84181230;{text};à surveiller;03/06/2024\r\n"
    (folder / "visite.csv").write_bytes(table.encode("utf-8"))
    read = read_annotations(folder, site_id="bondy", tags=TAGS)

    assert read.rejected == []
    (kept,) = read.notes["text"]
    assert kept.startswith("Courriel du syndic collé : Pompe de relevage")
    assert kept == head + " appelez […]"
    (told,) = read.told
    assert told.startswith(
        f"visite.csv, ligne 2 : texte de {fr_number(len(text.strip()))} caractères"
    )


def test_a_note_id_typed_in_another_case_or_pasted_is_one_note_with_its_versions(
    isolated: gpd.GeoDataFrame, bondy: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    # « N-1 », « n-1 » and « N-\u200b1 » (a zero-width space, pasted) were three notes on
    # the same building, each a draft action; retyped « n-1 » at the next run, the note
    # of the archive got a second, versionless twin. Read as the register's ids are.
    a = isolated.iloc[0]
    folder = tmp_path / "annotations" / "bondy"
    first = [
        _note("N-1", "Cave inondée", a),
        _note("n-1", "Cave inondée", a, updated_at="2024-06-04T08:00:00Z"),
        _note("N-\u200b1", "Cave inondée, pompe", a, updated_at="2024-06-05T08:00:00Z"),
    ]
    _write(folder / "juin.geojson", first)
    notes, _ = _refresh(tmp_path, bondy)
    assert notes["note_id"].tolist() == ["N-1"]
    assert notes["text"].tolist() == ["Cave inondée, pompe"]

    # The next run, the same note retyped in lower case and updated: still one note,
    # under the archive's id, with its versions.
    (folder / "juin.geojson").unlink()
    later = _note("n-1", "Cave sèche", a, status="clos", updated_at="2024-07-01T08:00:00Z")
    _write(folder / "juillet.geojson", [later])
    notes, _ = _refresh(tmp_path, bondy)
    assert notes["note_id"].tolist() == ["N-1"]
    assert notes["status"].tolist() == ["clos"]
    archive = gpd.read_parquet(_archive_dir(tmp_path) / "annotations_archive.parquet")
    assert archive["note_id"].tolist() == ["N-1"]
    versions = gpd.read_parquet(_archive_dir(tmp_path) / "annotations_versions.parquet")
    assert set(versions["note_id"]) == {"N-1"}
    assert {"Cave inondée, pompe", "Cave sèche"} <= set(versions["text"])


def test_an_old_archive_holding_one_note_in_two_cases_is_one_note(
    isolated: gpd.GeoDataFrame, bondy: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    # An archive written before ids were compared regardless of case holds « N-1 » and
    # « n-1 », two versions of one note. Before, the current run folded the folder's
    # ids but not the archive's: the note stayed two notes on the map, each a draft.
    a = isolated.iloc[0]
    folder = tmp_path / "annotations" / "bondy"
    _write(folder / "juin.geojson", [_note("N-1", "Cave inondée", a)])
    _refresh(tmp_path, bondy)
    path = _archive_dir(tmp_path) / "annotations_archive.parquet"
    archive = gpd.read_parquet(path)
    twin = archive.assign(
        note_id="n-1", text="Cave sèche", updated_at=pd.Timestamp("2024-06-10", tz="UTC")
    )
    pd.concat([archive, twin], ignore_index=True).to_parquet(path)
    (folder / "juin.geojson").unlink()
    (tmp_path / "processed" / "bondy" / "annotations.parquet").unlink()
    notes, summary = _refresh(tmp_path, bondy)
    assert notes["note_id"].tolist() == ["N-1"]
    assert notes["text"].tolist() == ["Cave sèche"]
    assert "notes N-1, n-1 de l'archive : une même note" in " ".join(summary["messages"]["archive"])
    assert gpd.read_parquet(path)["note_id"].tolist() == ["N-1"]


def test_an_output_folder_that_cannot_be_written_is_one_french_error(
    isolated: gpd.GeoDataFrame, bondy: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    # The processed folder where a file already is: every write fails as in a read-only
    # folder (root ignores chmod). One OutputError naming the file (« vigie : erreur :
    # … », exit 2), no traceback.
    _write(
        tmp_path / "annotations" / "bondy" / "juin.geojson",
        [_note("N-1", "Cave", isolated.iloc[0])],
    )
    (tmp_path / "processed").write_text("x\n", encoding="utf-8")
    with pytest.raises(OutputError) as err:
        _refresh(tmp_path, bondy)
    assert str(tmp_path / "processed" / "bondy") in str(err.value)
    assert "écriture impossible" in str(err.value)


def test_a_note_whose_text_is_a_json_boolean_or_number_keeps_its_json_spelling(
    tmp_path: Path, bondy: gpd.GeoDataFrame
) -> None:
    # A GeoJSON of notes written by a tool whose « text » field was typed (a checkbox, a
    # count): JSON true was imported as « True », Python's spelling, and 2.0 as « 2.0 ».
    # Kept as the file writes them (« true », « 2 »), as a GeoJSON report's cells are
    # read (pipelines.ingest.rawfile.cell_text); a JSON number as tag or status too.
    a, b = bondy.iloc[0], bondy.iloc[1]
    folder = tmp_path / "bondy"
    _write(
        folder / "visite.geojson",
        [
            _note("n1", True, a),  # type: ignore[arg-type]
            _note("n2", 2.0, b),  # type: ignore[arg-type]
            _note("n3", float("inf"), b),  # type: ignore[arg-type]  # Infinity: no text
            _note("n4", "Hall 3", b, tag=7),
        ],
    )
    read = read_annotations(folder, site_id="bondy", tags=[*TAGS, "7"])
    assert read.notes.set_index("note_id")["text"].to_dict() == {
        "n1": "true",
        "n2": "2",
        "n4": "Hall 3",
    }
    assert read.notes.set_index("note_id")["tag"].to_dict()["n4"] == "7"
    assert len(read.rejected) == 1
    assert "texte vide" in str(read.rejected[0])
