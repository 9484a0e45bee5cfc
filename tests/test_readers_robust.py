"""Readers that never swallow, hang or blow up (issue 13): an unclosed quote costs its
own line only, a file mixing encodings is reported, a workbook too large for memory is
refused before it is read, JSON nested too deep and empty geometries give reasons, and
what is not a data file (a FIFO, a device, a system file) is refused without its content
being quoted."""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import shutil
import threading
import zipfile
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from pipelines.cli import main
from pipelines.config import DEFAULT_PARAMS, SiteConfig, SourceConfig, load_config
from pipelines.errors import InputError
from pipelines.ingest import notes_of_parts, read_file_chunks, reading_notes
from pipelines.ingest import stage as ingest
from pipelines.ingest.csvfile import read_csv
from pipelines.ingest.readers import read_file
from pipelines.ingest.rejects import _json_objects
from pipelines.ingest.xlsx import MAX_XLSX_ROWS, MAX_XLSX_XML_BYTES, read_xlsx
from tests.conftest import RAW, osm_bounds_file, write_demo_config

BONDY_BBOX = (2.4779, 48.90676, 2.49111, 48.91278)
TODAY = date(2030, 1, 1)  # after every simulated report
LANDLORD = "signalements_bailleur.csv"


def written_rows(simulated_bondy: Path) -> int:
    """The export's rows as the simulator counted them (its truth)."""
    truth = json.loads((simulated_bondy / "simulation_truth.json").read_text(encoding="utf-8"))
    return int(truth["row_counts"][LANDLORD])


def _landlord_source(path: Path) -> SourceConfig:
    """The landlord source of config/demo.toml, reading ``path``."""
    demo = load_config(Path(__file__).resolve().parents[1] / "config" / "demo.toml")
    return dataclasses.replace(demo.site("bondy").sources[0], path=str(path))


def _ingest(*sources: SourceConfig, secret: bytes | None = None) -> ingest.IngestResult:
    site = SiteConfig(id="test", name="test", osm="", sources=sources, params=DEFAULT_PARAMS)
    result = ingest.ingest_site(site, study_area_bbox=BONDY_BBOX, today=TODAY, secret=secret)
    for s in result.summary["sources"].values():
        assert s["rows_in"] == (
            s["accepted"] + s["duplicates"] + sum(s["rejected"].values()) + s["outside_study_area"]
        )
    return result


def _kept_ids(result: ingest.IngestResult) -> set[str]:
    return set(result.ingested["report_id"]) | set(result.outside["report_id"])


def _plant_quote(src: Path, dst: Path, line: int, column: int) -> str:
    """Copy the landlord export with a quote opened at the start of one cell of ``line``
    (1-based); return that row's ticket."""
    lines = src.read_bytes().split(b"\n")
    fields = lines[line - 1].split(b";")
    ticket = fields[0].decode("cp1252")
    fields[column] = b'"' + fields[column]
    lines[line - 1] = b";".join(fields)
    dst.write_bytes(b"\n".join(lines))
    return ticket


@pytest.fixture(scope="module")
def landlord_baseline(simulated_bondy: Path) -> ingest.IngestResult:
    return _ingest(_landlord_source(simulated_bondy / LANDLORD))


# --------------------------------------------------------------------------- quotes
@pytest.mark.parametrize(
    ("line", "column"),
    [(11, 4), (11, 14), (3000, 5), ("last", 4), ("last", 0)],
    ids=["description", "last-column", "address", "last-line", "last-line-first-cell"],
)
def test_unclosed_quote_costs_its_own_line_only(
    simulated_bondy: Path,
    landlord_baseline: ingest.IngestResult,
    tmp_path: Path,
    line: int | str,
    column: int,
) -> None:
    src = simulated_bondy / LANDLORD
    n_lines = len(src.read_bytes().rstrip(b"\n").split(b"\n"))
    at = n_lines if line == "last" else int(line)
    dst = tmp_path / LANDLORD
    ticket = _plant_quote(src, dst, at, column)
    result = _ingest(_landlord_source(dst))
    s = result.summary["sources"]["bailleur"]
    base = landlord_baseline.summary["sources"]["bailleur"]
    assert base["rows_in"] == n_lines - 1 == written_rows(simulated_bondy) > 6000
    assert s["rows_in"] == base["rows_in"]
    assert s["rejected"]["unclosed_quote"] == 1  # its own reason, not malformed_row
    # Every other row is read as before: the same rows kept, the same other rejections.
    assert f"bailleur:{ticket}" in _kept_ids(landlord_baseline)
    assert _kept_ids(result) == _kept_ids(landlord_baseline) - {f"bailleur:{ticket}"}
    assert {k: v for k, v in s["rejected"].items() if k != "unclosed_quote"} == base["rejected"]
    assert s["accepted"] + s["duplicates"] + s["outside_study_area"] == (
        base["accepted"] + base["duplicates"] + base["outside_study_area"] - 1
    )
    bad = result.rejected[result.rejected["reason"] == "unclosed_quote"].iloc[0]
    assert bad["source_line"] == at
    assert bad["source_file"] == str(dst)
    assert f"ligne {at}" in bad["reason_fr"]
    assert LANDLORD in bad["reason_fr"]
    assert "Guillemet ouvert et jamais fermé" in bad["reason_fr"]
    original = json.loads(bad["original_row"])
    assert original["N° ticket"].strip('"') == ticket
    assert not {"Nom du demandeur", "Téléphone", "Logement"} & set(original)


def test_quoted_multiline_value_stays_one_row(tmp_path: Path) -> None:
    text = (
        "id;date;description;adresse\n"
        '1;01/02/2024;"Fuite\nsous l\'évier\n(voir photo)";3 rue A\n'
        "2;02/02/2024;Panne;4 rue B\n"
        '3;03/02/2024;"Il a dit ""urgent""\net rappelé";5 rue C\n'
    )
    path = tmp_path / "multi.csv"
    path.write_text(text, encoding="utf-8")
    raw = read_csv(path)
    assert raw.table.column("description").to_pylist() == [
        "Fuite\nsous l'évier\n(voir photo)",
        "Panne",
        'Il a dit "urgent"\net rappelé',
    ]
    assert raw.lines.tolist() == [2, 5, 6]
    assert not raw.malformed
    # The same file with a quote left open further down: read line by line, the
    # well-quoted values still one row each.
    path.write_text(text + '4;04/02/2024;"Ascenseur;6 rue D\n5;05/02/2024;Tags;7 rue E\n')
    raw = read_csv(path)
    assert raw.table.column("id").to_pylist() == ["1", "2", "3", "5"]
    assert raw.lines.tolist() == [2, 5, 6, 9]
    assert [(m.line, m.unclosed_quote) for m in raw.malformed] == [(8, True)]


def test_quote_closed_by_a_later_value_does_not_swallow_the_rows_between(
    tmp_path: Path,
) -> None:
    # The quote opened on line 2 is "closed" by the first quote of line 4, followed by
    # a letter: not RFC 4180, so lines 2 to 4 are not one value.
    path = tmp_path / "q.csv"
    path.write_text(
        'id,date,texte\n1,01/02/2024,"Fuite\n2,02/02/2024,Panne\n3,03/02/2024,"Tags" x\n',
        encoding="utf-8",
    )
    raw = read_csv(path)
    assert raw.n_rows == 3
    assert raw.table.column("id").to_pylist() == ["2", "3"]
    assert [(m.line, m.unclosed_quote) for m in raw.malformed] == [(2, True)]


def test_rows_as_wide_as_ragged_ones_are_not_trailing_separators(tmp_path: Path) -> None:
    # One comma too many in every address: a row whose last value is empty is shifted
    # as much as the others, not a row with a trailing separator.
    path = tmp_path / "r.csv"
    path.write_text(
        "id,date,adresse,tel\n1,01/02/2024,3, rue A,0600000000\n2,02/02/2024,4, rue B,\n"
        "3,03/02/2024,5 rue C,\n",
        encoding="utf-8",
    )
    raw = read_csv(path)
    assert raw.table.column("id").to_pylist() == ["3"]
    assert [(m.line, m.n_fields) for m in raw.malformed] == [(2, 5), (3, 5)]


# --------------------------------------------------------------------------- encodings
def test_file_mixing_utf8_and_cp1252_rows_is_reported(
    simulated_bondy: Path, tmp_path: Path
) -> None:
    src = (simulated_bondy / LANDLORD).read_bytes().split(b"\n")
    mixed = list(src)
    # Rows appended from a UTF-8 export to the cp1252 one.
    utf8_lines = [4, 10, 2000]
    for k in utf8_lines:
        text = mixed[k - 1].decode("cp1252")
        assert not text.isascii()
        mixed[k - 1] = text.encode("utf-8")
    path = tmp_path / LANDLORD
    path.write_bytes(b"\n".join(mixed))
    result = _ingest(_landlord_source(path))
    s = result.summary["sources"]["bailleur"]
    assert s["rows_in"] == written_rows(simulated_bondy)
    (issue,) = s["file_issues"]
    assert issue["reason"] == "mixed_encoding"
    assert issue["lines"] == utf8_lines
    assert "cp1252" in issue["detail"]
    # Not a rejection: every row is still read and counted.
    assert "mixed_encoding" not in set(result.rejected["reason"])

    # The other way round: a UTF-8 export with a few cp1252 rows.
    clean = (simulated_bondy / LANDLORD).read_bytes().decode("cp1252").split("\n")
    cp_lines = [7, 8]
    raw_lines = [
        line.encode("cp1252" if k in cp_lines else "utf-8") for k, line in enumerate(clean, 1)
    ]
    path.write_bytes(b"\n".join(raw_lines))
    result = _ingest(_landlord_source(path))
    (issue,) = result.summary["sources"]["bailleur"]["file_issues"]
    assert issue["reason"] == "mixed_encoding"
    assert issue["lines"] == cp_lines
    assert "utf-8" in issue["detail"]


@pytest.mark.parametrize(
    ("encoding", "cells", "told"),
    [
        # « CSV Macintosh » of an old Excel for Mac: « é » is 0x8E, « ç » 0x8D, a byte
        # cp1252 leaves undefined, so the file was read as latin-1, its accents turned
        # into invisible control characters (« 1 rue \x83mile Zola »), without a word.
        # Now named by its words, as when no byte is undefined.
        (
            "mac_roman",
            ("1 rue Émile Zola;cœur été", "3 rue C;ça"),
            ["ne se lisent qu'en Mac Roman", "(lignes 2, 4 ;", "lu en latin-1, est sans doute"],
        ),
        # cp850 (DOS) writes « é » 0x82, « ç » 0x87, « è » 0x8A: bytes cp1252 defines (as
        # « ‚ », « ‡ », « Š »), so the file was read as cp1252, « été » became « ‚t‚ »,
        # without a word.
        (
            "cp850",
            ("1 rue A;fuite depuis l'été", "3 rue C;ça coule, problème au 2e"),
            ["ne se lisent qu'en cp850, l'encodage des fichiers DOS", "« ‚t‚ » y est « été »"],
        ),
        # Mac Roman again, with no byte cp1252 leaves undefined (« é » 0x8E, cp1252's
        # « Ž »): read as cp1252, « dŽcidŽs », without a word.
        (
            "mac_roman",
            ("1 rue A;travaux décidés", "3 rue C;réparé à moitié"),
            ["ne se lisent qu'en Mac Roman", "(lignes 2, 4 ; « dŽcidŽs » y est « décidés »)"],
        ),
    ],
)
def test_an_export_in_another_one_byte_encoding_is_reported(
    tmp_path: Path, encoding: str, cells: tuple[str, str], told: list[str]
) -> None:
    text = (
        "id;date;adresse;texte\r\n"
        f"A;05/03/2024;{cells[0]}\r\n"
        "B;06/03/2024;2 rue B;ok\r\n"
        f"C;07/03/2024;{cells[1]}\r\n"
    )
    path = tmp_path / f"{encoding}.csv"
    path.write_bytes(text.encode(encoding))
    columns = {"id": "id", "date": "date", "address": "adresse", "description": "texte"}
    source = SourceConfig(id="src", kind="reports", path=str(path), columns=columns)
    s = _ingest(source).summary["sources"]["src"]
    assert s["accepted"] == 3  # read all the same, noted
    (note,) = [i for i in s["file_issues"] if i["reason"] == "unknown_encoding"]
    assert note["lines"] == [2, 4]
    for words in [*told, f'encoding = "{encoding}"']:
        assert words in note["detail"]
    # Its encoding given, it is read right, without the note.
    result = _ingest(dataclasses.replace(source, encoding=encoding))
    s = result.summary["sources"]["src"]
    assert not [i for i in s["file_issues"] if i["reason"] == "unknown_encoding"]
    first = result.ingested.iloc[0]
    assert f"{first['address']};{first['description']}" == cells[0]


def test_cp1252_exports_are_not_taken_for_cp850_nor_mac_roman(tmp_path: Path) -> None:
    # The shipped cp1252 export (curly apostrophes, « œ »), the real Paris export in
    # cp1252, and hand-made text full of cp1252's quotes, dashes and ellipsis: no note.
    # The Paris export in cp850 is told apart (its « É » and « ü », 0x90 and 0x81 in
    # cp850, taken out: bytes cp1252 leaves undefined, read as latin-1, already noted).
    bailleur = read_csv(RAW / "bondy" / "signalements_bailleur.csv")
    assert bailleur.encoding == "cp1252"
    assert (bailleur.other_encoding, len(bailleur.foreign_encoding_lines)) == (None, 0)
    paris = (RAW / "paris10" / "dansmarue_paris_2023-08_2024-09.csv").read_text("utf-8")
    quotes = "id;texte\n1;“Fuite” à l’étage – voir etc… cœur Noël\n2;…\n3;« ça » — là\n"
    dos = paris.replace("É", "E").replace("ü", "u")
    for name, text, enc, told in [
        ("paris_cp1252.csv", paris, "cp1252", None),
        ("guillemets.csv", quotes, "cp1252", None),
        ("paris_cp850.csv", dos, "cp850", ("cp850", "fa‡ade", "façade")),
    ]:
        (tmp_path / name).write_bytes(text.encode(enc, "replace"))
        raw = read_csv(tmp_path / name)
        assert (raw.encoding, raw.other_encoding) == ("cp1252", told), name
        assert bool(len(raw.foreign_encoding_lines)) == bool(told), name


def test_a_dos_export_with_a_byte_cp1252_leaves_undefined_is_told_as_dos(
    tmp_path: Path,
) -> None:
    # The real Paris export in cp850 with its « É » (0x90) and « ü » (0x81): bytes cp1252
    # leaves undefined, so it was read as latin-1 and noted « ni en latin-1 ni en
    # cp1252 », advising encoding = "mac_roman", which reads it garbled too (« ‚ » is
    # « é » in cp850, « Ç » in Mac Roman). Its words now name cp850, as when read in
    # cp1252, and so do its parts (vigie split).
    paris = (RAW / "paris10" / "dansmarue_paris_2023-08_2024-09.csv").read_text("utf-8")
    assert "É" in paris
    path = tmp_path / "paris_cp850.csv"
    path.write_bytes(paris.encode("cp850", "replace"))
    raw = read_csv(path)
    assert (raw.encoding, raw.other_encoding) == ("latin-1", ("cp850", "fa‡ade", "façade"))
    ((reason, detail, lines),) = reading_notes(raw)
    assert reason == "unknown_encoding"
    assert 'encoding = "cp850"' in detail
    assert "lu en latin-1" in detail
    assert len(lines) == len(raw.foreign_encoding_lines) > 0
    parts = list(read_file_chunks(path, "csv", chunk_bytes=50_000))
    assert len(parts) > 1
    assert [
        (r, d, list(n)) for r, d, n in reading_notes(functools.reduce(notes_of_parts, parts, None))
    ] == [(reason, detail, list(lines))]


def test_a_short_utf8_export_with_one_cp1252_row_keeps_its_header(tmp_path: Path) -> None:
    # Twenty lines, one of them pasted from a cp1252 export: its bytes were more than a
    # fiftieth of the accented ones, so the whole file was read as cp1252, its UTF-8
    # header garbled (« Date de crÃ©ation ») and the run stopped: columns not found.
    lines = ["N° ticket;Date de création;Catégorie;Adresse"]
    lines += [f"T-{k};0{k % 9 + 1}/02/2024;Dégât des eaux;{k} rue de l'Église" for k in range(19)]
    cp_line = 6
    data = b"\n".join(
        line.encode("cp1252" if k == cp_line else "utf-8") for k, line in enumerate(lines, 1)
    )
    path = tmp_path / "court.csv"
    path.write_bytes(data + b"\n")
    raw = read_csv(path)
    assert raw.encoding == "utf-8"
    assert raw.columns == ["N° ticket", "Date de création", "Catégorie", "Adresse"]
    assert raw.encoding_mismatch_lines.tolist() == [cp_line]
    assert raw.table.column("Catégorie").cast(pa.large_string()).to_pylist()[0] == "Dégât des eaux"


def test_cp1252_export_with_an_ascii_header_and_a_ragged_line_keeps_its_accents(
    tmp_path: Path,
) -> None:
    # Real Paris rows (their header is plain ASCII) saved in cp1252, one line with a
    # field too many: the file goes to the line-by-line reader, which decoded the
    # bytes presumed UTF-8 with replacement characters (every accent lost, the
    # categories unrecognised, the encoding said to be UTF-8).
    src = RAW / "paris10" / "dansmarue_paris_2023-08_2024-09.csv"
    lines = src.read_text(encoding="utf-8").splitlines()[:41]
    header, rows = lines[0], lines[1:]
    assert header.isascii()
    assert any(not r.isascii() for r in rows)
    rows[5] += ",un champ de trop"
    path = tmp_path / "export_cp1252.csv"
    path.write_bytes(("\r\n".join([header, *rows]) + "\r\n").encode("cp1252"))
    raw = read_csv(path)
    assert raw.encoding == "cp1252"
    assert [m.line for m in raw.malformed] == [7]
    cells = [
        v
        for name in raw.table.column_names
        for v in raw.table.column(name).cast(pa.large_string()).to_pylist()
    ]
    accented = [v for v in cells if v and not v.isascii()]
    assert accented
    assert not any("\ufffd" in v for v in accented)
    # The cells are those of the UTF-8 original, line for line.
    expected = pd.read_csv(src, nrows=40, dtype=str, keep_default_na=False).drop(index=5)
    got = raw.table.to_pandas()
    for name in ("type", "soustype", "adresse"):
        assert got[name].tolist() == expected[name].tolist()


def test_single_encoding_files_have_no_issue(simulated_bondy: Path) -> None:
    raw = read_csv(simulated_bondy / LANDLORD)
    assert raw.encoding == "cp1252"
    assert len(raw.encoding_mismatch_lines) == 0


# --------------------------------------------------------------------------- XLSX
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Signalements" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
)
_ROW = (
    b'<row><c t="inlineStr"><is><t>01/02/2024</t></is></c>'
    b'<c t="inlineStr"><is><t>3 rue Lucie Aubrac</t></is></c></row>'
)


def _workbook(path: Path, rows: int, *, dimension: str | None = None) -> Path:
    """A workbook whose sheet holds ``rows`` identical rows under a header, written as
    a stream: its XML compresses about 150 times (a zip bomb when ``rows`` is large)."""
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        + (f'<dimension ref="{dimension}"/>' if dimension else "")
        + '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>date</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t>adresse</t></is></c></row>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(head.encode())
            block = _ROW * 10_000
            for _ in range(rows // 10_000):
                sheet.write(block)
            sheet.write(_ROW * (rows % 10_000))
            sheet.write(b"</sheetData></worksheet>")
    return path


def test_xlsx_streamed_within_limits(tmp_path: Path) -> None:
    # The declared dimension says 3 rows: every row is read all the same.
    path = _workbook(tmp_path / "ok.xlsx", 25_000, dimension="A1:B3")
    raw = read_xlsx(path)
    assert raw.columns == ["date", "adresse"]
    assert raw.n_rows == 25_000
    assert raw.lines[0] == 2
    assert raw.lines[-1] == 25_001
    assert set(raw.table.column("adresse").to_pylist()) == {"3 rue Lucie Aubrac"}


def test_xlsx_with_a_title_above_the_header(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Ticketing tools put a title and a blank row above the table. The header was taken
    # from the title, and every mapped column said absent.
    openpyxl = pytest.importorskip("openpyxl")
    src = RAW / "bondy" / "signalements_bailleur.csv"
    frame = pd.read_csv(src, sep=";", encoding="cp1252", dtype=str, keep_default_na=False)
    frame = frame.head(30)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Export des demandes — Bondy Nord, extrait du 02/12/2026"])
    sheet.append([None])
    sheet.append(list(frame.columns))
    for k, row in enumerate(frame.itertuples(index=False)):
        sheet.append(list(row))
        if k == 9:
            sheet.append([None])  # a blank row among the data: counted
    book.save(tmp_path / "titre.xlsx")
    caplog.set_level(logging.WARNING, logger="pipelines.ingest.readers")
    raw = read_xlsx(tmp_path / "titre.xlsx")
    assert raw.columns == list(frame.columns)
    got = raw.table.to_pandas()
    for name in frame.columns:
        assert got[name].tolist() == frame[name].tolist()
    # Excel row numbers: the header on row 3, the data from row 4, the blank row 14.
    assert raw.lines.tolist() == [*range(4, 14), *range(15, 35)]
    assert raw.blank_rows == 1
    assert any("en-tête lu ligne 3" in r.getMessage() for r in caplog.records)

    # A sheet of one column keeps its first row as header.
    book = openpyxl.Workbook()
    for value in ("id", "A-1", "A-2"):
        book.active.append([value])
    book.save(tmp_path / "une_colonne.xlsx")
    raw = read_xlsx(tmp_path / "une_colonne.xlsx")
    assert raw.columns == ["id"]
    assert raw.table.column("id").to_pylist() == ["A-1", "A-2"]


@pytest.mark.parametrize("kind", ["csv"])
def test_a_row_of_groups_above_the_header_is_named_with_the_header_s_line(
    tmp_path: Path, kind: str
) -> None:
    # « Signalement » over id and date, « Lieu » over the address, each group's name
    # written over each of its columns (pandas' two-level header): the groups were read
    # as the header, and the message said « aucune des 4 colonnes n'est attendue : est-ce
    # bien l'export ? … corrigez les colonnes », of a file whose header has every
    # configured name, one line down. (Groups in merged cells, or in their CSV copy, are
    # read on two rows: test_a_header_merged_over_two_columns…, test_a_csv_copy_of…)
    rows = [
        ["Signalement", "Signalement", "Lieu", "Lieu"],
        ["id", "date", "adresse", "texte"],
        ["A", "05/03/2024", "1 rue A", "ok"],
    ]
    path = tmp_path / f"groupes.{kind}"
    if kind == "xlsx":
        openpyxl = pytest.importorskip("openpyxl")
        book = openpyxl.Workbook()
        for row in rows:
            book.active.append(row)
        book.active.merge_cells("A1:B1")
        book.active.merge_cells("C1:D1")
        book.save(path)
    else:
        path.write_text("".join(";".join(c or "" for c in r) + "\n" for r in rows), "utf-8")
    source = SourceConfig(
        id="src", kind="reports", path=str(path),
        columns={"id": "id", "date": "Date", "address": "adresse"},
    )  # fmt: skip
    with pytest.raises(InputError) as caught:
        _ingest(source)
    message = str(caught.value)
    assert "groupes" in message
    assert "absentes de l'en-tête lu : « id », « Date », « adresse »" in message
    assert "Ces noms sont ceux de la ligne 2 du fichier" in message
    assert "supprimez les lignes au-dessus de l'en-tête" in message
    assert "Corrigez [sites.sources.columns]" not in message


def _merged_book(path: Path, rows: list[list[str | None]], merges: list[str]) -> Path:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    for ref in merges:
        book.active.merge_cells(ref)
    book.save(path)
    return path


def _merged_header_notes(result: ingest.IngestResult) -> list[str]:
    issues = result.summary["sources"]["src"]["file_issues"]
    return [i["detail"] for i in issues if i["reason"] == "merged_header"]


def _two_row_header_note(path: Path) -> str:
    """The one note of ingesting ``path``'s two rows of data under « id », « date »,
    « Adresse » and « texte »."""
    source = SourceConfig(
        id="src", kind="reports", path=str(path),
        columns={"id": "id", "date": "date", "address": "Adresse", "description": "texte"},
    )  # fmt: skip
    result = _ingest(source)
    assert result.summary["sources"]["src"]["rows_in"] == 2
    (note,) = _merged_header_notes(result)
    return note


def test_a_header_merged_over_two_columns_with_names_under_it_is_read_on_two_rows(
    tmp_path: Path,
) -> None:
    # « Localisation » merged over C1:D1, « Adresse » and « Code postal » under it, the
    # other names merged down (A1:A2…): row 2 was read as data and column D left
    # « colonne_4 »; the configured « adresse » was missing from the header.
    path = _merged_book(
        tmp_path / "deux_lignes.xlsx",
        [
            ["id", "date", "Localisation", None, "texte"],
            [None, None, "Adresse", "Code postal", None],
            ["A", "05/03/2024", "1 rue A", "93140", "fuite"],
            ["B", "06/03/2024", "2 rue B", "93140", "bruit"],
        ],
        ["A1:A2", "B1:B2", "C1:D1", "E1:E2"],
    )
    raw = read_xlsx(path)
    assert raw.columns == ["id", "date", "Adresse", "Code postal", "texte"]
    assert raw.lines.tolist() == [3, 4]
    assert raw.merged_ranges == ()  # A1:A2… are the header's, not merged data cells
    note = _two_row_header_note(path)
    assert note.startswith(
        "En-tête lu sur deux lignes : sous la cellule fusionnée « Localisation »"
    )
    assert "(C1:D1), les colonnes C à D" in note
    assert "« Adresse », « Code postal »" in note
    # A row of groups merged over the whole header (« Signalement » over id and date):
    # the header, one line down, was refused with « supprimez les lignes au-dessus ».
    groups = _merged_book(
        tmp_path / "groupes.xlsx",
        [["Signalement", None, "Lieu", None], ["id", "date", "adresse", "texte"], ["A"] * 4],
        ["A1:B1", "C1:D1"],
    )
    assert read_xlsx(groups).columns == ["id", "date", "adresse", "texte"]


def test_a_csv_copy_of_a_merged_header_is_read_on_two_rows(tmp_path: Path) -> None:
    # A workbook's header with « Localisation » merged over C1:D1, saved as CSV: the
    # group's name in C only, D empty, the names under it on line 2. Line 2 was read as
    # a row of data and D as « colonne_4 », and the error told to delete line 1, which
    # holds « id » and « date ».
    path = tmp_path / "deux_lignes.csv"
    path.write_bytes(
        b"id;date;Localisation;;texte\r\n;;Adresse;Code postal;\r\n"
        b"A;05/03/2024;1 rue A;93140;fuite\r\nB;06/03/2024;2 rue B;93140;bruit\r\n"
    )
    raw = read_csv(path)
    assert raw.columns == ["id", "date", "Adresse", "Code postal", "texte"]
    assert raw.lines.tolist() == [3, 4]
    note = _two_row_header_note(path)
    assert note.startswith("En-tête lu sur deux lignes : sous le regroupement « Localisation »")
    assert "(C1:D1), les colonnes C à D" in note
    # That CSV opened and saved as a workbook, its groups unmerged: read the same; it
    # was refused, telling to delete line 1.
    rows = [[c or None for c in line.split(";")] for line in path.read_text().splitlines()]
    book = _merged_book(tmp_path / "deux_lignes.xlsx", rows, [])
    assert _two_row_header_note(book) == note
    # Groups over every column, the header under them; a title over the whole header.
    path.write_text("Signalement;;Lieu;\nid;date;adresse;texte\nA;05/03/2024;1 rue A;x\n")
    raw = read_csv(path)
    assert raw.columns == ["id", "date", "adresse", "texte"]
    assert raw.lines.tolist() == [3]
    path.write_text("Export du 12/03/2024;;;\nid;date;adresse;texte\nA;05/03/2024;1 rue A;x\n")
    raw = read_csv(path)
    assert raw.columns == ["id", "date", "adresse", "texte"]
    assert raw.title_lines == (
        "En-tête lu ligne 2 : la ligne 1 (« Export du 12/03/2024 ») est un titre au-dessus "
        "de l'en-tête, sans données.",
    )
    # A row of data under a header with an empty cell is data (numbers, or a sentence,
    # under it).
    path.write_text("id;date;montant;\n;;12;5\nA;05/03/2024;3;4\n")
    assert read_csv(path).lines.tolist() == [2, 3]
    path.write_text(
        "id;date;texte;\n"
        ";;Fuite d'eau au plafond de la salle de bains depuis lundi, voisin prévenu;oui\n"
    )
    assert read_csv(path).columns == ["id", "date", "texte", "colonne_4"]


def test_a_csv_header_under_title_lines_is_read_below_them(tmp_path: Path) -> None:
    # An export opening with lines of one cell and no separator (« Export des demandes »,
    # « Période : … »): the first was read as the header, of one column, and the file
    # refused as « une seule colonne lue … ne ressemble pas à un tableau CSV ».
    path = tmp_path / "titre.csv"
    rows = "".join(f"T-{i};0{1 + i % 9}/03/2024;{i} rue A\n" for i in range(40))
    path.write_text(f"Export des demandes\nPériode : mars 2024\n\nid;date;adresse\n{rows}")
    raw = read_csv(path)
    assert raw.columns == ["id", "date", "adresse"]
    assert raw.lines.tolist() == list(range(5, 45))
    assert raw.title_lines == (
        "En-tête lu ligne 4 : les lignes 1 à 3 (« Export des demandes ») sont des titres "
        "au-dessus de l'en-tête, sans données.",
    )
    assert read_csv(path, separator=";").lines.tolist() == list(range(5, 45))  # vigie init's
    # Read part by part, the same rows (the file is read whole: its first line is no
    # header to put above each part).
    parts = list(read_file_chunks(path, "csv", chunk_bytes=256))
    assert [n for p in parts for n in p.lines.tolist()] == list(range(5, 45))
    assert parts[0].columns == ["id", "date", "adresse"]


def test_a_header_merged_over_two_data_columns_names_the_nameless_one(tmp_path: Path) -> None:
    # « Localisation » merged over C1:D1 above the street (C) and the postcode (D): D's
    # values were read under « colonne_4 » and never mapped, without a word.
    rows: list[list[str | None]] = [
        ["id", "date", "Localisation", None],
        ["A", "05/03/2024", "1 rue A", "93140"],
    ]
    path = _merged_book(tmp_path / "titre.xlsx", rows, ["C1:D1"])
    source = SourceConfig(
        id="src", kind="reports", path=str(path),
        columns={"id": "id", "date": "date", "address": "Localisation"},
    )  # fmt: skip
    (note,) = _merged_header_notes(_ingest(source))
    assert note.startswith(
        "Colonne D sans nom : elle est sous la cellule fusionnée « Localisation » (C1:D1)"
    )
    assert "ne va qu'à la colonne C" in note
    assert "« colonne_4 »" in note
    # Merged over an empty column (a wide title cell): nothing to tell.
    rows[1][3] = None
    path = _merged_book(tmp_path / "large.xlsx", rows, ["C1:D1"])
    assert _merged_header_notes(_ingest(dataclasses.replace(source, path=str(path)))) == []


def test_xlsx_whose_first_sheet_has_no_row_names_the_sheets_with_rows(tmp_path: Path) -> None:
    # A workbook opening on a « Lisez-moi » sheet: the sheets that hold rows are named,
    # for ingestion to say which to read (tests/test_ingest.py).
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.title = "Lisez-moi"
    book.active.append(["Export du 02/12/2026 : voir la feuille suivante."])
    data = book.create_sheet("Signalements")
    data.append(["id", "date"])
    data.append(["A-1", "01/03/2024"])
    book.create_sheet("Feuil3")
    book.save(tmp_path / "classeur.xlsx")
    raw = read_xlsx(tmp_path / "classeur.xlsx")
    assert raw.n_rows == 0
    assert raw.sheets == ("Lisez-moi", "Signalements", "Feuil3")
    assert raw.sheets_with_rows == ("Signalements",)
    raw = read_xlsx(tmp_path / "classeur.xlsx", sheet="Signalements")
    assert raw.table.column("id").to_pylist() == ["A-1"]
    assert raw.sheets_with_rows == ()

    # Several sheets, none with rows (Excel's Feuil1-3 of an empty export).
    book = openpyxl.Workbook()
    book.active.append(["id", "date"])
    book.create_sheet("Feuil2")
    book.save(tmp_path / "vide.xlsx")
    raw = read_xlsx(tmp_path / "vide.xlsx")
    assert raw.n_rows == 0
    assert raw.sheets_with_rows == ()


def test_xlsx_over_the_limits_refused_with_a_french_message(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "gros.xlsx", 25_000)
    size = 25_000 * len(_ROW)
    assert path.stat().st_size * 50 < size  # it is a bomb, in miniature
    with pytest.raises(InputError, match=r"gros\.xlsx.*classeur trop volumineux.*XML"):
        read_xlsx(path, max_xml_bytes=size // 2)
    with pytest.raises(InputError, match=r"gros\.xlsx.*plus de 1\u202f000 lignes"):
        read_xlsx(path, max_rows=1_000)
    declared = _workbook(tmp_path / "declare.xlsx", 10, dimension=f"A1:B{MAX_XLSX_ROWS + 1}")
    with pytest.raises(InputError, match=r"declare\.xlsx.*déclare 1\u202f048\u202f577"):
        read_xlsx(declared)


def test_xlsx_zip_bomb_at_real_size_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = MAX_XLSX_XML_BYTES // len(_ROW) + 10_000
    path = _workbook(tmp_path / "bombe.xlsx", rows)
    assert path.stat().st_size < MAX_XLSX_XML_BYTES // 100
    import openpyxl

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the workbook was opened")

    monkeypatch.setattr(openpyxl, "load_workbook", never)
    with pytest.raises(InputError, match=r"bombe\.xlsx.*classeur trop volumineux"):
        read_file(path, "auto")


_SHEET_HEAD = (
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    '<row><c t="inlineStr"><is><t>date</t></is></c>'
    '<c t="inlineStr"><is><t>description</t></is></c></row>'
)
_LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lollollollol">'
    + "".join(
        f'<!ENTITY lol{k} "{(f"&lol{k - 1};" if k > 1 else "&lol;") * 10}">' for k in range(1, 10)
    )
    + "]>"
)
_MALFORMED_SHEETS = {
    "mismatched_tag": _SHEET_HEAD + "<row><c><is><t>1</t></is><c></row></sheetData></worksheet>",
    "billion_laughs": _LAUGHS + _SHEET_HEAD + "<row><c t='inlineStr'><is><t>&lol9;</t></is></c>"
    "</row></sheetData></worksheet>",
    "external_entity": '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>' + _SHEET_HEAD
    + "<row><c t='inlineStr'><is><t>&xxe;</t></is></c></row></sheetData></worksheet>",
    # A DTD past the first 64 KiB searched for one: expat's own refusal is caught.
    "late_external_entity": "<!--" + "x" * 70_000 + '-->'
    '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>' + _SHEET_HEAD
    + "<row><c t='inlineStr'><is><t>&xxe;</t></is></c></row></sheetData></worksheet>",
}  # fmt: skip


def _workbook_with_sheet(path: Path, sheet_xml: str) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        archive.writestr("xl/worksheets/sheet1.xml", '<?xml version="1.0"?>' + sheet_xml)
    return path


@pytest.mark.parametrize("case", list(_MALFORMED_SHEETS))
def test_malformed_xlsx_xml_is_unreadable_naming_the_part(tmp_path: Path, case: str) -> None:
    path = _workbook_with_sheet(tmp_path / f"{case}.xlsx", _MALFORMED_SHEETS[case])
    with pytest.raises(InputError) as caught:
        read_file(path, "auto")
    message = str(caught.value)
    assert message.startswith(f"{path} : classeur illisible : la partie")
    assert "« xl/worksheets/sheet1.xml »" in message
    # Nothing of the sheet's content, nor of a file an entity points to, is echoed.
    for content in ("lol", "xxe", "passwd", "root:", "<"):
        assert content not in message, (content, message)
    assert caught.value.__cause__ is None  # no chained parser error to print


@pytest.mark.parametrize(
    ("compress", "kind"),
    [
        (lambda data: __import__("gzip").compress(data, mtime=0), "gzip"),
        (lambda data: __import__("bz2").compress(data), "bzip2"),
        (lambda data: __import__("lzma").compress(data), "xz"),
    ],
    ids=["gzip", "bzip2", "xz"],
)
def test_a_compressed_file_named_csv_is_refused_as_binary(
    tmp_path: Path, compress: object, kind: str
) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(compress((RAW / "bondy" / LANDLORD).read_bytes()))  # type: ignore[operator]
    with pytest.raises(InputError, match=rf"export\.csv : fichier binaire ou compressé .*{kind}"):
        read_file(path, "auto")


def test_a_zip_named_csv_is_refused_as_binary(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    with zipfile.ZipFile(path, "w") as archive:
        archive.write(RAW / "bondy" / LANDLORD, LANDLORD)
    with pytest.raises(InputError, match=r"export\.csv : fichier binaire ou compressé .*zip"):
        read_file(path, "csv")


def test_a_csv_parser_error_is_an_input_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Bytes the csv module refuses (a carriage return inside a binary first line) that
    # no signature gives away: refused as not text, not a traceback.
    import csv

    from pipelines.ingest import readers

    def refuse(*args: object, **kwargs: object) -> None:
        raise csv.Error("new-line character seen in unquoted field")

    monkeypatch.setattr(readers, "read_csv", refuse)
    path = tmp_path / "bizarre.csv"
    path.write_bytes(b"a;b\n1;2\n")
    with pytest.raises(InputError, match=r"bizarre\.csv : .*ne ressemble pas à un fichier texte"):
        read_file(path, "csv")


def test_a_quote_left_open_in_the_header_is_named_not_the_separator(tmp_path: Path) -> None:
    # A quote opened in the header and never closed read the rest of the file into one
    # column name: refused as « une seule colonne lue… son séparateur (separator) », or
    # read, every column then said missing.
    for name, text in (
        ("debut.csv", '"id;date;categorie\n1;2024-03-01;ascenseur\n'),
        ("milieu.csv", 'id;"date;categorie\n1;2024-03-01;ascenseur\n'),
    ):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        with pytest.raises(
            InputError, match=r"guillemet ouvert et jamais fermé dans la ligne d'en-tête"
        ):
            read_file(path, "csv")
    # A name written on two lines, quoted, is a name (named on one line).
    path = tmp_path / "deux_lignes.csv"
    path.write_text(
        'id;"Adresse (n°, rue)\ncomplète";date\n1;2 rue X;2024-03-01\n', encoding="utf-8"
    )
    assert read_file(path, "csv").columns == ["id", "Adresse (n°, rue) complète", "date"]


# --------------------------------------------------------------------------- JSON
def test_json_nested_too_deep_is_an_input_error(tmp_path: Path) -> None:
    deep = tmp_path / "profond.json"
    deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(InputError, match=r"profond\.json.*imbriqué trop profondément"):
        read_file(deep, "open311")
    geo = tmp_path / "profond.geojson"
    geo.write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": null, '
        '"properties": {"a": ' + "[" * 100_000 + "]" * 100_000 + "}}]}",
        encoding="utf-8",
    )
    with pytest.raises(InputError, match=r"profond\.geojson.*imbriqué"):
        read_file(geo, "auto")


def test_empty_and_null_geometries_get_a_reason(tmp_path: Path) -> None:
    features = [
        ({"type": "GeometryCollection", "geometries": []}, ""),
        ({"type": "GeometryCollection", "geometries": []}, "3 rue Lucie Aubrac"),
        (None, ""),
        ({"type": "Polygon", "coordinates": []}, ""),
        ({"type": "Point", "coordinates": []}, ""),
        ({"type": "Point", "coordinates": ["est", "nord"]}, ""),
        ({"type": "Point", "coordinates": [2.485, 48.91]}, ""),
    ]
    path = tmp_path / "vides.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": geometry,
                        "properties": {
                            "date": "01/02/2024",
                            "adresse": address,
                            "commentaire": f"observation {k}",
                        },
                    }
                    for k, (geometry, address) in enumerate(features)
                ],
            }
        ),
        encoding="utf-8",
    )
    source = SourceConfig(
        id="geo",
        kind="observations",
        path=str(path),
        format="geojson",
        columns={"date": "date", "address": "adresse", "description": "commentaire"},
    )
    result = _ingest(source)
    s = result.summary["sources"]["geo"]
    assert s["rows_in"] == 7
    reasons = dict(zip(result.rejected["source_line"], result.rejected["reason"], strict=True))
    assert reasons == {
        1: "missing_location",
        3: "missing_location",
        4: "missing_location",
        5: "missing_location",
        6: "unparseable_coordinates",
    }
    assert s["accepted"] == 2  # by its address, and the point


# --------------------------------------------------------------------------- not data files
def _read_in_thread(path: Path) -> BaseException | None:
    """read_file in a thread: a reader that waits on a FIFO must not hang the tests."""
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            read_file(path, "auto")
            outcome.append(None)
        except BaseException as err:
            outcome.append(err)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), f"reading {path} hangs"
    return outcome[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_fifo_and_device_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "signalements.csv"
    os.mkfifo(fifo)
    err = _read_in_thread(fifo)
    assert isinstance(err, InputError)
    assert "signalements.csv" in str(err)
    assert "tube nommé" in str(err)
    if Path("/dev/zero").exists():
        err = _read_in_thread(Path("/dev/zero"))
        assert isinstance(err, InputError)
        assert "périphérique" in str(err)


def test_files_that_are_not_tables_are_refused_without_quoting_them(tmp_path: Path) -> None:
    secret = "root:$6$Zq8sel$c4ch3:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"
    shadow = tmp_path / "shadow"
    shadow.write_text(secret, encoding="utf-8")
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00;secret;x\n" * 3)
    for path, words in ((shadow, ("root", "Zq8sel", "daemon")), (binary, ("PNG", "secret"))):
        err = _read_in_thread(path)
        assert isinstance(err, InputError), err
        message = str(err)
        assert path.name in message
        assert not [w for w in words if w in message.replace(str(path), "")]


def test_cli_exits_2_naming_the_file(
    simulated_bondy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(simulated_bondy, raw)
    (raw / "observations_diagnostic.geojson").write_text(
        '{"type": "FeatureCollection", "features": ' + "[" * 100_000 + "]" * 100_000 + "}",
        encoding="utf-8",
    )
    config = write_demo_config(tmp_path, raw)
    code = main(
        [
            "-q",
            "ingest",
            "--config",
            str(config),
            "--site",
            "bondy",
            "--out-dir",
            str(tmp_path / "out"),
            "--bounds",
            str(osm_bounds_file(tmp_path, RAW / "bondy" / "bondy_nord.osm")),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert "observations_diagnostic.geojson" in err


# --------------------------------------------------------------------------- rejects
@pytest.mark.parametrize(
    "values",
    [
        ["", "simple", 'guillemet " et \\ barre', "ligne\nsuivante\r\tfin"],
        ["\x00\x01\x1f\x7f", "é — ☃ \u2028 😀", "[nom] [téléphone]", "\b\f"],
    ],
)
def test_json_objects_match_json_dumps(values: list[str]) -> None:
    keys = ["N° ticket", 'clé "citée"', "a\\b", "x"]
    columns = [pa.array([v] * 2, pa.large_string()) for v in values]
    got = _json_objects(keys, columns, 2).to_pylist()
    want = json.dumps(dict(zip(keys, values, strict=True)), ensure_ascii=False)
    assert got == [want, want]
    assert json.loads(got[0]) == dict(zip(keys, values, strict=True))


def test_every_line_ragged_with_a_secret_is_rejected_not_a_crash(
    simulated_bondy: Path, tmp_path: Path, secret: bytes
) -> None:
    """With the site's secret (as ``vigie ingest`` runs), a file whose every line is
    malformed is read: each line rejected, no household key to make (an IndexError on the
    empty table of well-formed rows, found by the ingestion bench)."""
    lines = (simulated_bondy / LANDLORD).read_bytes().rstrip(b"\n").split(b"\n")[:300]
    path = tmp_path / LANDLORD
    path.write_bytes(b"\n".join([lines[0]] + [b"x;" + line for line in lines[1:]]) + b"\n")
    result = _ingest(_landlord_source(path), secret=secret)
    s = result.summary["sources"]["bailleur"]
    assert s["accepted"] == 0
    assert s["rejected"]["malformed_row"] == len(result.rejected) > 250
    assert "household_key" not in result.rejected.columns


@pytest.mark.slow  # the whole simulated export, every line ragged
def test_every_line_ragged_is_rejected_line_by_line(simulated_bondy: Path, tmp_path: Path) -> None:
    # The landlord export with one separator too many on every data line.
    lines = (simulated_bondy / LANDLORD).read_bytes().rstrip(b"\n").split(b"\n")
    ragged = [lines[0]] + [b"x;" + line for line in lines[1:]]
    path = tmp_path / LANDLORD
    path.write_bytes(b"\n".join(ragged) + b"\n")
    result = _ingest(_landlord_source(path))
    s = result.summary["sources"]["bailleur"]
    assert s["rows_in"] == len(lines) - 1
    # The planted exact duplicates are still duplicates; every other line a rejection.
    assert s["accepted"] == s["outside_study_area"] == 0
    assert 0 < s["duplicates"] < 100
    assert s["rejected"] == {"malformed_row": len(lines) - 1 - s["duplicates"]}
    rejected = result.rejected
    assert len(rejected) == len(lines) - 1 - s["duplicates"]
    assert rejected["source_line"].is_monotonic_increasing
    assert rejected["source_line"].iloc[0] == 2
    # One sentence, but for the line it names.
    told = "Ligne " + rejected["source_line"].astype(str) + " de « " + LANDLORD + " » mal formée"
    assert all(r.startswith(t) for r, t in zip(rejected["reason_fr"], told, strict=True))
    assert rejected["reason_fr"].str.split(" : ", n=1).str[1].nunique() == 1
    assert "16 champs au lieu de 15, 1 de trop" in rejected["reason_fr"].iloc[0]
    first = json.loads(rejected["original_row"].iloc[0])
    raw = pd.read_csv(simulated_bondy / LANDLORD, sep=";", encoding="cp1252", dtype=str)
    assert first["N° ticket"] == "x"
    assert first["Date de création"] == raw["N° ticket"].iloc[0]
    # The fields before the first personal column only (shifted by one).
    assert list(first)[-2:] == ["Canal", "_champs"]
    phones = raw["Téléphone"].dropna()
    rows = "\n".join(rejected["original_row"])
    assert not [p for p in phones if len(p) >= 10 and p in rows]
    assert np.all(rejected["source"] == "bailleur")


def test_features_that_are_not_objects_are_rejected_as_such(
    simulated_bondy: Path, tmp_path: Path
) -> None:
    # The diagnostic's real features, with a string, a number, null and a list slipped
    # among them (a hand-edited file, a tool writing « null » for a deleted feature).
    # Before, each was rejected « Date absente » : a reason that sent the analyst looking
    # for a date column when the feature itself was unreadable.
    doc = json.loads((simulated_bondy / "observations_diagnostic.geojson").read_text("utf-8"))
    real = doc["features"]
    doc["features"] = [real[0], "Feature", 42, real[1], None, [1, 2], *real[2:]]
    path = tmp_path / "observations_diagnostic.geojson"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    columns = {"date": "date", "category": "theme", "description": "commentaire"}

    def source(p: Path) -> SourceConfig:
        return SourceConfig(
            id="diag", kind="observations", path=str(p), format="geojson", columns=columns
        )

    before = _ingest(source(simulated_bondy / "observations_diagnostic.geojson"))
    result = _ingest(source(path))
    s, b = result.summary["sources"]["diag"], before.summary["sources"]["diag"]
    assert s["rows_in"] == b["rows_in"] + 4
    assert s["rejected"].get("unreadable_feature") == 4
    assert {k: v for k, v in s["rejected"].items() if k != "unreadable_feature"} == b["rejected"]
    assert s["accepted"] == b["accepted"]
    bad = result.rejected[result.rejected["reason"] == "unreadable_feature"]
    assert bad["source_line"].tolist() == [2, 3, 5, 6]
    assert bad["reason_fr"].str.contains("Entité GeoJSON illisible").all()
    assert "« 42 »" not in " ".join(bad["reason_fr"])  # the value is not quoted


def test_title_lines_above_a_csv_header_are_told_under_their_own_code(tmp_path: Path) -> None:
    # The first lines of the real DansMaRue export under a title and a blank line: the
    # note (« … est un titre au-dessus de l'en-tête ») was filed under merged_header, the
    # code of a header cell merged over several columns.
    (source,) = load_config(RAW.parents[1] / "config" / "demo.toml").site("paris10").sources
    lines = (RAW / "paris10" / "dansmarue_paris_2023-08_2024-09.csv").read_bytes().split(b"\n")
    path = tmp_path / "dansmarue_titre.csv"
    path.write_bytes(b"\n".join([b"Export DansMaRue du 01/10/2024", b"", *lines[:41]]) + b"\n")
    source = dataclasses.replace(source, id="src", path=str(path))
    issues = _ingest(source).summary["sources"]["src"]["file_issues"]
    titles = [i for i in issues if i["reason"] == "title_lines"]
    assert [i["detail"] for i in titles] == [
        "En-tête lu ligne 3 : les lignes 1 à 2 (« Export DansMaRue du 01/10/2024 ») sont des "
        "titres au-dessus de l'en-tête, sans données."
    ]
    assert not [i for i in issues if i["reason"] == "merged_header"]
    raw = read_csv(path)
    assert raw.title_lines == (titles[0]["detail"],)
    assert raw.merged_header == ()
