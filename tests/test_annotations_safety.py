"""Planners' notes under careless and hostile input (issue 13): personal data scrubbed
from every output, notes dated in the future refused, conflicts at equal dates decided
by a stable rule with both versions kept, files above the size limits refused."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest

from pipelines.annotations import readers as _annotation_readers
from pipelines.annotations.model import MAX_AUTHOR_CHARS, MAX_TEXT_CHARS
from pipelines.annotations.stage import (
    MAX_FILE_BYTES,
    MAX_FILE_NOTES,
    read_annotations,
    versions_path_of,
)
from pipelines.annotations.stage import run as run_annotations
from pipelines.maps.notes import notes_layer_geojson as map_notes_layer
from pipelines.maps.notes import notes_table_html
from pipelines.publish.tables import notes_table
from tests.conftest import bondy_config

ROOT = Path(__file__).resolve().parents[1]
BONDY_OSM = ROOT / "data" / "raw" / "bondy" / "bondy_nord.osm"
TAGS = ("priorité avant travaux", "à surveiller", "traité")
#: A tag a careless configuration could hold: it must not reach an output as it is.
TAG_WITH_NAME = "rappeler M. Thénardier"
NOW = pd.Timestamp("2024-07-01T12:00:00Z")

#: What a planner may type in a note, and the strings that must never come out.
PHONE = "06 12 34 56 78"
EMAIL = "gardien.bondy@example.org"
FLAT = "appt 34"
NAME = "Fauchelevent"
TEXT = f"Voir Mme {NAME} ({FLAT}) : rappeler au {PHONE} ou écrire à {EMAIL}"
AUTHOR = f"M. Thénardier {PHONE}"
PLANTED = (PHONE, EMAIL, FLAT, NAME, "Thénardier")


def _note(note_id: str, text: str, building: pd.Series, **extra: Any) -> dict[str, Any]:
    """One feature as the map's « Exporter les notes » writes it."""
    p = building.geometry.representative_point()
    props = {
        "note_id": note_id,
        "site": "bondy",
        "author": "Service urbanisme",
        "text": text,
        "tag": "à surveiller",
        "status": "ouvert",
        "created_at": "2024-06-03T09:15:00.000Z",
        "building_id": building["building_id"],
    }
    props.update(extra)
    return {
        "type": "Feature",
        "properties": props,
        "geometry": {"type": "Point", "coordinates": [p.x, p.y]},
    }


def _write(path: Path, features: list[dict[str, Any]], mtime: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    collection = {"type": "FeatureCollection", "features": features}
    path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def _refresh(
    tmp_path: Path, bondy: gpd.GeoDataFrame, *, tags: tuple[str, ...] = TAGS, now: Any = NOW
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    config = bondy_config(tmp_path, annotation_tags=tags)
    out = tmp_path / "processed" / "bondy"
    buildings = tmp_path / "b.parquet"
    if not buildings.exists():
        bondy.to_parquet(buildings)
    notes = run_annotations(
        config,
        "bondy",
        buildings_path=buildings,
        zones_path=None,
        previous_notes_path=out / "annotations.parquet",
        out_dir=out,
        now=now,
    )
    summary = json.loads((out / "annotation_summary.json").read_text(encoding="utf-8"))
    return notes, summary


def _archive_dir(tmp_path: Path) -> Path:
    return tmp_path / "annotations" / ".archive" / "bondy"


# --------------------------------------------------------------------------- scrubbing
def test_text_author_and_tag_carry_no_personal_data_into_any_output(
    bondy: gpd.GeoDataFrame, isolated: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    a, b, c = isolated.iloc[0], isolated.iloc[1], isolated.iloc[2]
    folder = tmp_path / "annotations" / "bondy"
    _write(
        folder / "annotations_bondy.geojson",
        [
            _note("n1", TEXT, a, author=AUTHOR),
            _note("n2", "Hall 3 : éclairage", b, tag=TAG_WITH_NAME),
            # Rejected (unknown tag and status): the message quotes them, scrubbed.
            _note("n3", "Cave", c, tag=f"urgent {PHONE}", status=f"vu avec Mme {NAME}"),
        ],
    )
    notes, summary = _refresh(tmp_path, bondy, tags=(*TAGS, TAG_WITH_NAME))

    by_id = notes.set_index("note_id")
    assert sorted(by_id.index) == ["n1", "n2"]
    assert by_id.loc["n1", "text"] == (
        "Voir [nom] ([logement]) : rappeler au [téléphone] ou écrire à [courriel]"
    )
    assert by_id.loc["n1", "author"] == "[nom] [téléphone]"
    assert by_id.loc["n2", "tag"] == "rappeler [nom]"
    assert summary["scrubbed"]["fields"] == {"text": 1, "author": 1, "tag": 1}
    assert summary["scrubbed"]["notes"] == 2
    assert summary["scrubbed"]["phones"] == 2
    assert summary["scrubbed"]["emails"] == 1
    assert summary["scrubbed"]["flats"] == 1
    assert summary["scrubbed"]["names"] == 3
    assert summary["counts"]["rejected"] == 1
    (rejected,) = summary["messages"]["rejected"]
    assert "annotations_bondy.geojson, entité 3 (note_id n3)" in rejected
    assert "étiquette « urgent [téléphone] » inconnue" in rejected
    assert "statut « vu avec [nom] » inconnu" in rejected

    out = tmp_path / "processed" / "bondy"
    archive = _archive_dir(tmp_path)
    shown = {
        "annotations.csv": (out / "annotations.csv").read_text(encoding="utf-8"),
        "annotations.geojson": (out / "annotations.geojson").read_text(encoding="utf-8"),
        "annotation_summary.json": (out / "annotation_summary.json").read_text(encoding="utf-8"),
        "annotations.parquet": _as_text(out / "annotations.parquet"),
        "archive": _as_text(archive / "annotations_archive.parquet"),
        "versions": _as_text(archive / "annotations_versions.parquet"),
        "published map layer": json.dumps(map_notes_layer(notes_table(notes)), ensure_ascii=False),
        "index": notes_table_html(notes_table(notes)),
    }
    for where, text in shown.items():
        for token in PLANTED:
            assert token not in text, f"{token!r} in {where}"
    assert "[téléphone]" in shown["annotations.csv"]
    assert "[nom]" in shown["index"]
    # The scrubbed exports are still notes the planners can drop back in the folder.
    again = read_annotations(
        _copy(out / "annotations.csv", tmp_path / "re"),
        site_id="bondy",
        tags=(*TAGS, "rappeler [nom]"),
        now=NOW,
    )
    assert again.rejected == []
    assert sorted(again.notes["note_id"]) == ["n1", "n2"]


def test_an_archive_written_before_scrubbing_is_cleaned_at_the_next_run(
    bondy: gpd.GeoDataFrame, isolated: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    """Archives of earlier versions kept the raw text: the next run scrubs them."""
    folder = tmp_path / "annotations" / "bondy"
    path = _write(folder / "juin.geojson", [_note("n1", TEXT, isolated.iloc[0])])
    _refresh(tmp_path, bondy)
    archive = _archive_dir(tmp_path) / "annotations_archive.parquet"
    old = gpd.read_parquet(archive)
    old["text"] = TEXT  # as an archive written before this change holds it
    old.to_parquet(archive)
    versions_path_of(archive).unlink()
    path.unlink()  # the note now lives in the archive only

    notes, summary = _refresh(tmp_path, bondy)

    assert notes["note_id"].tolist() == ["n1"]
    assert not notes["in_folder"].any()
    assert PHONE not in notes["text"].iloc[0]
    assert summary["scrubbed_in_archive"]["phones"] >= 1
    for name in ("annotations_archive.parquet", "annotations_versions.parquet"):
        kept = gpd.read_parquet(_archive_dir(tmp_path) / name)
        assert not kept["text"].str.contains(PHONE, regex=False).any(), name


# --------------------------------------------------------------------------- future dates
def test_a_note_dated_in_the_future_is_refused_with_its_reason(
    isolated: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    a, b, c = isolated.iloc[0], isolated.iloc[1], isolated.iloc[2]
    folder = tmp_path / "bondy"
    _write(
        folder / "a.geojson",
        [
            # A clock set to 2099: would hide every later real edit of n1.
            _note("n1", "Cave", a, status="clos", updated_at="2099-01-01T00:00:00Z"),
            _note("n2", "Hall", b, created_at="2024-07-02T11:00:00Z"),  # now + 23 h: kept
            _note("n3", "Toit", c, created_at="2024-07-02T13:00:00Z"),  # now + 25 h: refused
        ],
    )
    _write(folder / "b.geojson", [_note("n1", "Cave", a, updated_at="2024-06-30T08:00:00Z")])

    read = read_annotations(folder, site_id="bondy", tags=TAGS, now=NOW)

    assert sorted(read.notes["note_id"]) == ["n1", "n2"]
    assert read.notes.set_index("note_id").loc["n1", "status"] == "ouvert"
    assert read.n_rejected == read.n_future == 2
    assert read.n_read == 4 == len(read.notes) + read.n_rejected + read.n_duplicates
    first, second = read.rejected
    assert first.startswith("a.geojson, entité 1 (note_id n1) : note rejetée : date dans le futur")
    assert "date de modification 01/01/2099 01:00" in first
    assert "02/07/2024 14:00" in first  # the limit, Paris time
    assert second.startswith("a.geojson, entité 3 (note_id n3)")
    assert "date de création 02/07/2024 15:00" in second


# --------------------------------------------------------------------------- control, length
def test_control_characters_leave_a_note_and_a_text_too_long_is_cut(
    bondy: gpd.GeoDataFrame, isolated: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    a, b, c = isolated.iloc[0], isolated.iloc[1], isolated.iloc[2]
    folder = tmp_path / "annotations" / "bondy"
    _write(
        folder / "a.geojson",
        [
            _note("n1", "Hall\x00 sale\r\nvoir\x1b[31m gardien\x7f", a, author="Ser\x00vice"),
            _note("n2", "x" * (MAX_TEXT_CHARS + 1), b),
            _note("n3", "Toit", c, author="y" * (MAX_AUTHOR_CHARS + 1)),
            _note("n4", "\x00\x00", c),  # nothing but control characters: empty
            _note("n5", "x" * MAX_TEXT_CHARS, c),  # at the limit: kept
        ],
    )

    read = read_annotations(folder, site_id="bondy", tags=TAGS, now=NOW)

    kept = read.notes.set_index("note_id")
    assert sorted(kept.index) == ["n1", "n2", "n5"]
    assert kept.loc["n1", "text"] == "Hall sale\nvoir[31m gardien"
    assert kept.loc["n1", "author"] == "Service"
    # Over the limit, cut as a report's cell is (no space to cut at: at the limit).
    assert kept.loc["n2", "text"] == "x" * MAX_TEXT_CHARS + " […]"
    assert kept.loc["n5", "text"] == "x" * MAX_TEXT_CHARS
    assert read.n_read == 5 == len(read.notes) + read.n_rejected + read.n_duplicates
    n3, n4 = read.rejected
    assert n3.startswith("a.geojson, entité 3 (note_id n3) : note rejetée : auteur de 201")
    assert "limite de 200" in n3
    assert "texte vide" in n4
    (told,) = read.told
    assert told.startswith("a.geojson, entité 2 (note_id n2) : texte de 10\u202f001 caractères")
    assert "coupé à 10\u202f000" in told

    # An archive written before control characters were taken out loses them too.
    _write(folder / "a.geojson", [_note("n1", "Hall", a)])
    _refresh(tmp_path, bondy)
    archive = _archive_dir(tmp_path) / "annotations_archive.parquet"
    for path in (archive, tmp_path / "processed" / "bondy" / "annotations.parquet"):
        old = gpd.read_parquet(path)
        old["text"] = "Hall\x00 sale"
        old.to_parquet(path)
    versions_path_of(archive).unlink()
    (folder / "a.geojson").unlink()
    notes, _ = _refresh(tmp_path, bondy)
    assert notes["text"].tolist() == ["Hall sale"]


def test_a_future_version_in_the_archive_no_longer_hides_later_edits(
    bondy: gpd.GeoDataFrame, isolated: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    a = isolated.iloc[0]
    folder = tmp_path / "annotations" / "bondy"
    # A run on a machine whose clock said 2099 archived a version of 2099.
    _write(folder / "a.geojson", [_note("n1", "Cave", a, updated_at="2099-01-01T00:00:00Z")])
    _refresh(tmp_path, bondy, now=pd.Timestamp("2099-01-01T06:00:00Z"))
    (folder / "a.geojson").unlink()
    _write(
        folder / "b.geojson",
        [_note("n1", "Cave", a, status="clos", updated_at="2024-06-30T08:00:00Z")],
    )

    notes, summary = _refresh(tmp_path, bondy)

    assert notes["status"].tolist() == ["clos"]
    assert any(
        m.startswith("note n1 : version archivée datée du 01/01/2099 01:00")
        for m in summary["messages"]["archive"]
    )
    versions = gpd.read_parquet(_archive_dir(tmp_path) / "annotations_versions.parquet")
    assert sorted(versions["status"]) == ["clos", "ouvert"]  # the 2099 version is kept


# --------------------------------------------------------------------------- equal dates
@pytest.mark.parametrize("newer", ["a.geojson", "b.geojson"])
def test_conflicting_versions_at_the_same_date_follow_the_file_names_not_their_times(
    bondy: gpd.GeoDataFrame, isolated: gpd.GeoDataFrame, tmp_path: Path, newer: str
) -> None:
    a = isolated.iloc[0]
    folder = tmp_path / "annotations" / "bondy"
    same = "2024-06-20T08:00:00Z"
    mtimes = {"a.geojson": 1_700_000_000, "b.geojson": 1_700_000_000}
    mtimes[newer] += 3600  # either file was modified last: the result must not change
    _write(folder / "a.geojson", [_note("n1", "Cave A", a, updated_at=same)], mtimes["a.geojson"])
    _write(folder / "b.geojson", [_note("n1", "Cave B", a, updated_at=same)], mtimes["b.geojson"])

    notes, summary = _refresh(tmp_path, bondy)

    assert notes["text"].tolist() == ["Cave B"]
    (message,) = summary["messages"]["duplicates"]
    assert message.startswith("note n1 : deux versions différentes à la même date")
    assert "celle de b.geojson (entité 1 (note_id n1)) est conservée" in message
    versions = gpd.read_parquet(_archive_dir(tmp_path) / "annotations_versions.parquet")
    assert sorted(versions["text"]) == ["Cave A", "Cave B"]  # the loser is kept
    assert sorted(versions["source_file"]) == ["a.geojson", "b.geojson"]
    # The same files again: the same winner, and the version store does not grow.
    notes, summary = _refresh(tmp_path, bondy)
    assert notes["text"].tolist() == ["Cave B"]
    assert summary["counts"]["archived_versions"] == 2
    assert summary["counts"]["archived_versions_added"] == 0


def test_conflicting_versions_at_the_same_date_in_one_file_follow_their_position(
    isolated: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    a = isolated.iloc[0]
    same = "2024-06-20T08:00:00Z"
    folder = tmp_path / "bondy"
    _write(
        folder / "a.geojson",
        [_note("n1", "premier", a, updated_at=same), _note("n1", "second", a, updated_at=same)],
    )
    read = read_annotations(folder, site_id="bondy", tags=TAGS, now=NOW)
    assert read.notes["text"].tolist() == ["second"]
    assert sorted(read.versions["text"]) == ["premier", "second"]


# --------------------------------------------------------------------------- limits
def test_limits_are_generous_enough_for_a_real_site() -> None:
    assert MAX_FILE_NOTES >= 100_000
    assert MAX_FILE_BYTES >= 50_000_000


def test_a_file_above_the_size_limits_is_refused_and_named(
    isolated: gpd.GeoDataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The limits are lowered (not 100 MB of test files): the checks are what is tested."""
    a, b = isolated.iloc[0], isolated.iloc[1]
    folder = tmp_path / "bondy"
    _write(folder / "a_petit.geojson", [_note("n1", "Cave", a)])
    many = _write(folder / "b_nombreux.geojson", [_note(f"m{k}", "Hall", b) for k in range(3)])
    big = _write(folder / "c_gros.geojson", [_note("g1", "x" * 40_000, b)])
    csv = folder / "d_lignes.csv"
    csv.write_text(
        "building_id;texte;étiquette;date\n"
        + "".join(f"{b['building_id']};Note {k};à surveiller;03/06/2024\n" for k in range(3)),
        encoding="utf-8",
    )
    xlsx = folder / "e_classeur.xlsx"
    pd.DataFrame(
        {
            "building_id": [b["building_id"]],
            "texte": ["y" * 20_000],
            "étiquette": ["traité"],
            "date": ["03/06/2024"],
        }
    ).to_excel(xlsx, index=False)
    with zipfile.ZipFile(xlsx) as z:
        unzipped = sum(i.file_size for i in z.infolist())
    limit = (xlsx.stat().st_size + unzipped) // 2  # the zip fits, its content does not
    assert (folder / "a_petit.geojson").stat().st_size < limit < big.stat().st_size
    assert many.stat().st_size < limit
    assert csv.stat().st_size < limit
    monkeypatch.setattr(_annotation_readers, "MAX_FILE_BYTES", limit)
    monkeypatch.setattr(_annotation_readers, "MAX_FILE_NOTES", 2)

    read = read_annotations(folder, site_id="bondy", tags=TAGS, now=NOW)

    assert read.notes["note_id"].tolist() == ["n1"]
    assert read.files == ["a_petit.geojson"]
    assert read.failed_files == [
        "b_nombreux.geojson",
        "c_gros.geojson",
        "d_lignes.csv",
        "e_classeur.xlsx",
    ]
    messages = dict(m.split(" : ", 1) for m in read.rejected)
    assert messages["b_nombreux.geojson"].startswith(
        "trop de notes dans un seul fichier (3 ; limite 2)"
    )
    assert messages["c_gros.geojson"].startswith("fichier trop volumineux")
    assert messages["d_lignes.csv"].startswith("trop de notes dans un seul fichier (3")
    assert messages["e_classeur.xlsx"].startswith("classeur trop volumineux une fois décompressé")
    assert all(m.endswith("aucune note lue dans ce fichier.") for m in messages.values())


def test_json_nested_too_deep_is_a_file_problem(tmp_path: Path) -> None:
    folder = tmp_path / "bondy"
    folder.mkdir()
    (folder / "profond.geojson").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    read = read_annotations(folder, site_id="bondy", tags=TAGS, now=NOW)
    assert read.failed_files == ["profond.geojson"]
    assert read.rejected == [
        "profond.geojson : JSON illisible (imbrication trop profonde) — aucune note lue dans "
        "ce fichier."
    ]


def test_a_named_pipe_in_the_folder_is_refused_without_waiting(tmp_path: Path) -> None:
    folder = tmp_path / "bondy"
    folder.mkdir()
    os.mkfifo(folder / "tube.geojson")
    read = read_annotations(folder, site_id="bondy", tags=TAGS, now=NOW)
    assert read.failed_files == ["tube.geojson"]
    assert read.rejected == [
        "tube.geojson : ce n'est pas un fichier ordinaire — aucune note lue dans ce fichier."
    ]


def _as_text(path: Path) -> str:
    """Every cell of a GeoParquet file as text (all columns but the geometry)."""
    frame = gpd.read_parquet(path)
    return pd.DataFrame(frame.drop(columns="geometry")).to_csv(index=False)


def _copy(src: Path, folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / src.name).write_bytes(src.read_bytes())
    return folder


def test_configured_tags_are_scrubbed_on_the_map(demo_run: Any, tmp_path: Path) -> None:
    """The annotation form lists the configuration's tags on every map: a tag typed with
    a name and a phone number reaches no reader."""
    import dataclasses
    import shutil

    from pipelines import publish
    from pipelines.config import load_config
    from pipelines.maps import site as maps

    config = load_config(demo_run.config)
    config = dataclasses.replace(
        config, annotation_tags=(*config.annotation_tags, "voir mme Richardeau 06 12 99 99 99")
    )
    site = config.site("paris10")
    # The tags reach the map through the publication step, run with this configuration.
    processed = tmp_path / "paris10"
    publish.run(config, site, processed=demo_run.site("paris10"), dst_dir=processed / "published")
    shutil.copy(demo_run.site("paris10") / "basemap.parquet", processed / "basemap.parquet")
    out = maps.run_site(config, site, processed=processed, dst=tmp_path / "p.html")
    html = Path(out).read_text(encoding="utf-8")
    assert "Richardeau" not in html
    assert "06 12 99 99 99" not in html
    assert "voir [nom] [téléphone]" in html
    assert "priorité avant travaux" in html
