"""Workbooks that are no workbook: a password-protected one, an Excel 97-2003 one, a
truncated copy, a CSV renamed .xlsx, a LibreOffice .ods. Each is refused by one French
message saying what it looks like and what to do (exit 2), where they said « classeur
Excel illisible (File is not a zip file) » or « (There is no item named
'[Content_Types].xml' in the archive) », the analyst left to guess. Written in
``tmp_path`` from the real DansMaRue export."""

from __future__ import annotations

import csv
import struct
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import openpyxl
import pytest

from pipelines.errors import InputError
from pipelines.ingest.readers import read_file
from tests.conftest import RAW

DANSMARUE = RAW / "paris10" / "dansmarue_paris_2023-08_2024-09.csv"

_FREE = 0xFFFFFFFF
_END = 0xFFFFFFFE
_FAT = 0xFFFFFFFD


def _real_rows(n: int = 20) -> list[list[str]]:
    with DANSMARUE.open(encoding="utf-8", newline="") as fh:
        return [row for _, row in zip(range(n + 1), csv.reader(fh), strict=False)]


def _workbook(path: Path) -> Path:
    book = openpyxl.Workbook()
    for row in _real_rows():
        book.active.append(row)
    book.save(path)
    return path


def _entry(
    name: str, kind: int, start: int, size: int, *, child: int = _FREE, right: int = _FREE
) -> bytes:
    """One 128-byte directory entry of a compound file (MS-CFB 2.6): ``child`` and
    ``right`` (its next sibling, by name length) link the directory's tree."""
    encoded = (name + "\0").encode("utf-16-le")
    return (
        encoded.ljust(64, b"\0")
        + struct.pack("<HBB3I", len(encoded), kind, 1, _FREE, right, child)
        + bytes(16 + 4 + 16)  # class id, state bits, creation and modification times
        + struct.pack("<IQ", start, size)
    )


def _compound_file(path: Path, streams: dict[str, bytes]) -> Path:
    """A version 3 compound file (what Excel writes for .xls and for a workbook saved
    with a password): header, one FAT sector, one directory sector, then each stream in
    its own 512-byte sectors (each at least the 4,096-byte cutoff below which a stream
    would go to the mini stream, which is not written)."""
    assert min(len(data) for data in streams.values()) >= 4096
    blobs = [data.ljust(-(-len(data) // 512) * 512, b"\0") for data in streams.values()]
    fat = [_FAT, _END]
    starts = []
    for blob in blobs:
        starts.append(len(fat))
        n = len(blob) // 512
        fat += [len(fat) + k + 1 for k in range(n - 1)] + [_END]
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + bytes(16)
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + bytes(6)
        + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, _END, 0, _END, 0)
        + struct.pack("<I", 0)
        + struct.pack("<108I", *[_FREE] * 108)
    )
    entries = _entry("Root Entry", 5, _END, 0, child=1)
    for k, name in enumerate(sorted(streams, key=lambda n: (len(n), n.upper()))):
        right = k + 2 if k + 1 < len(streams) else _FREE
        entries += _entry(
            name, 2, starts[list(streams).index(name)], len(streams[name]), right=right
        )
    entries = entries.ljust(512, b"\0")
    fat_sector = struct.pack(f"<{len(fat)}I", *fat).ljust(512, b"\xff")
    path.write_bytes(header + fat_sector + entries + b"".join(blobs))
    return path


def _refusal(path: Path) -> str:
    with pytest.raises(InputError) as caught:
        read_file(path, "auto")
    message = str(caught.value)
    assert message.startswith(f"{path} : ")
    assert "zip file" not in message  # the library's English words
    return message


def test_a_workbook_saved_with_a_password_is_named_so(tmp_path: Path) -> None:
    # Excel wraps the encrypted package in a compound file, beside its encryption info
    # (the package's bytes scrambled here as AES would: no zip record left in them).
    package = bytes(b ^ 0x5A for b in _workbook(tmp_path / "clair.xlsx").read_bytes())
    path = _compound_file(
        tmp_path / "export.xlsx",
        {"EncryptionInfo": bytes(range(256)) * 16, "EncryptedPackage": package},
    )
    assert "protégé par un mot de passe" in _refusal(path)


def test_an_excel_97_workbook_named_xlsx_is_named_so(tmp_path: Path) -> None:
    workbook_stream = b"\x09\x08\x10\x00\x00\x06\x05\x00" + bytes(4088)  # BIFF8 BOF record
    path = _compound_file(tmp_path / "export.xlsx", {"Workbook": workbook_stream})
    message = _refusal(path)
    assert "ancien classeur Excel 97-2003 (.xls)" in message
    assert "mot de passe" not in message


def test_a_truncated_workbook_is_named_so(tmp_path: Path) -> None:
    whole = _workbook(tmp_path / "whole.xlsx").read_bytes()
    path = tmp_path / "export.xlsx"
    path.write_bytes(whole[: len(whole) // 2])
    assert "incomplet ou abîmé" in _refusal(path)


def test_a_csv_renamed_xlsx_is_named_so(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    path.write_bytes(b"".join(DANSMARUE.read_bytes().splitlines(keepends=True)[:20]))
    assert "pas un classeur .xlsx (pas une archive zip" in _refusal(path)


def _ods(path: Path) -> Path:
    """A LibreOffice spreadsheet (OpenDocument: its ``mimetype`` stored first, a manifest,
    the table in ``content.xml``) holding the first rows of the real export."""
    ns = (
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
    )
    rows = "".join(
        "<table:table-row>"
        + "".join(
            f'<table:table-cell office:value-type="string"><text:p>{escape(v)}</text:p>'
            "</table:table-cell>"
            for v in row
        )
        + "</table:table-row>"
        for row in _real_rows()
    )
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns} '
        'office:version="1.3"><office:body><office:spreadsheet>'
        f'<table:table table:name="Export">{rows}</table:table>'
        "</office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        'manifest:version="1.3"><manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED
        )
        archive.writestr("content.xml", content)
        archive.writestr("META-INF/manifest.xml", manifest)
    return path


@pytest.mark.parametrize("name", ["export.ods", "export.xlsx"])
def test_a_libreoffice_spreadsheet_is_named_so(tmp_path: Path, name: str) -> None:
    # As an .ods with the format « auto », it was read as a CSV and refused as « une
    # archive zip ou un classeur Excel (.zip, .xlsx) »; named .xlsx, in openpyxl's words.
    message = _refusal(_ods(tmp_path / name))
    assert "classeur LibreOffice ou OpenDocument (.ods)" in message
    assert "Content_Types" not in message


def test_a_sheet_of_two_exports_whose_second_header_moved_columns_is_read_under_its_names(
    tmp_path: Path,
) -> None:
    # The real DansMaRue rows, then a second export pasted under them in the same sheet,
    # its « type » and « soustype » swapped and « adresse » renamed « lieu ». Before, the
    # workbook's rows were read by position (as a CSV's were before it learnt so): the
    # second export's subcategories as categories and the other way round, silently.
    rows = _real_rows(20)
    header, data = rows[0], rows[1:]

    def moved(row: list[str]) -> list[str]:
        row = list(row)
        row[1], row[2] = row[2], row[1]
        return row

    second = moved(header)
    second[3] = "lieu"
    book = openpyxl.Workbook()
    for row in [header, *data, second, *(moved(r) for r in data[:10])]:
        book.active.append(row)
    path = tmp_path / "deux_exports.xlsx"
    book.save(path)
    raw = read_file(path, "auto")
    types = raw.table.column("type").to_pylist()
    assert types[21:] == [r[1] for r in data[:10]]
    assert raw.table.column("adresse").to_pylist()[21:] == [r[3] for r in data[:10]]
    assert types[20] == "type"  # the header again, then rejected as such
    (note,) = raw.renamed_header
    assert note.startswith("Ligne 22 : l'en-tête est répété avec « lieu » au lieu de « adresse »")
