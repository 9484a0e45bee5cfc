"""The planners' note tables as a careless analyst saves them: a CSV saved from a
spreadsheet in English, its dates month first."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipelines.annotations.stage import read_annotations

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
