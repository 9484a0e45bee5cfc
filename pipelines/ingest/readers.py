"""Readers for the formats residents' reports come in.

Every reader returns a :class:`RawFile`: all cells as strings (empty string for an empty
cell), the 1-based line of each row in the file (header = line 1; the feature index for
GeoJSON and JSON), and the rows that could not be split into the header's columns.

Formats: CSV (any of UTF-8, UTF-8 with BOM, UTF-16 with BOM, cp1252, latin-1; ``,`` ``;``
tab or ``|``; any line endings; in ``_csv``), KoboToolbox and ODK Central CSV, XLSX,
GeoJSON, Open311 GeoReport v2 service requests (JSON). The values are parsed later, by
``_values``.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import errno
import json
import logging
import math
import os
import re
import stat
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa

from pipelines.errors import InputError
from pipelines.ingest.csvfile import _clean_names, read_csv
from pipelines.ingest.encoding import decode
from pipelines.ingest.filekind import binary_kind, not_a_workbook, zip_not_xlsx
from pipelines.ingest.ragged import drop_blank_columns
from pipelines.ingest.rawfile import Malformed, RawFile
from pipelines.ingest.xlsxheader import (
    header_merges,
    header_under_groups,
    nameless_columns,
    two_row_header,
)

log = logging.getLogger(__name__)

__all__ = [
    "CATEGORY_FALLBACK",
    "FORMAT_DEFAULTS",
    "FORMAT_PERSONAL",
    "Malformed",
    "NotATableError",
    "RawFile",
    "detect_format",
    "read_file",
    "workbook_sheets",
]


#: Columns a format provides when the configuration does not name them (role -> column,
#: candidates in order of preference).
FORMAT_DEFAULTS: dict[str, dict[str, tuple[str, ...]]] = {
    "kobo": {
        "id": ("_uuid", "_id", "meta/instanceID"),
        "date": ("_submission_time", "end", "start"),
        "geo_point": ("_geolocation",),
    },
    # ODK Central's CSV export: KEY is the submission's uuid, SubmissionDate is UTC with
    # a "Z"; a geopoint is split into <group>-<field>-Latitude, -Longitude (found by
    # suffix, like Kobo's), or kept whole as "lat lon altitude accuracy".
    "odk": {
        "id": ("KEY", "meta-instanceID", "instanceID"),
        "date": ("SubmissionDate", "end", "start"),
    },
    "open311": {
        "id": ("service_request_id", "token"),
        "date": ("requested_datetime",),
        "category": ("service_code",),
        "subcategory": ("service_name",),
        "description": ("description",),
        "address": ("address",),
        "lat": ("lat",),
        "lon": ("long", "lon"),
        "status": ("status",),
        "closed_at": ("__closed_at",),
        "channel": ("agency_responsible",),
    },
    "geojson": {"lat": ("__lat",), "lon": ("__lon",)},
}


#: Columns a format always holds about people (who submitted, from which device): as
#: personal as the ones the configuration declares.
FORMAT_PERSONAL: dict[str, tuple[str, ...]] = {
    "kobo": ("_submitted_by", "username", "deviceid", "phonenumber", "simserial", "subscriberid"),
    "odk": ("SubmitterID", "SubmitterName", "DeviceID", "deviceid", "username", "phonenumber"),
}


#: Extra label column tried when the category column's label is unknown (Open311 names).
CATEGORY_FALLBACK: dict[str, str] = {"open311": "service_name"}


def detect_format(path: Path, declared: str) -> str:
    """The format of ``path``: the declared one, else guessed from the extension (and,
    for ``.json``, from the first bytes). KoboToolbox and ODK Central CSV exports are
    recognised after reading, by their columns."""
    if declared != "auto":
        return declared
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".ods"):  # an .ods is named as such by read_xlsx
        return "xlsx"
    if suffix == ".geojson":
        return "geojson"
    if suffix == ".json":
        with path.open("rb") as fh:
            head = fh.read(4096)
        return "geojson" if b"FeatureCollection" in head or b'"Feature"' in head else "open311"
    return "csv"


def read_file(
    path: Path,
    fmt: str,
    *,
    encoding: str | None = None,
    separator: str | None = None,
    sheet: str | None = None,
    labels: Callable[[str], bool] | None = None,
    personal: Callable[[str], bool] | None = None,
) -> RawFile:
    """Read one file of a source in the format declared (``auto``: detected).

    ``labels(name)``: which CSV columns hold labels; ``personal(name)``: which CSV
    columns hold personal data, not read when they need not be (see
    :func:`pipelines.ingest.csvfile.read_csv`).

    Raises
    ------
    OSError
        The file cannot be opened (missing, a folder, no permission).
    InputError
        The file cannot be parsed at all (invalid JSON, corrupt workbook…).
    """
    _check_regular_file(path)
    detected = detect_format(path, fmt)
    if detected in ("csv", "kobo", "odk"):
        _check_not_binary(path)
        try:
            raw = read_csv(
                path, encoding=encoding, separator=separator, labels=labels, personal=personal
            )
        except csv.Error:  # a carriage return inside a field of a binary file's first line
            raise not_csv_error(path) from None
        _check_table_like(raw)
        raw.format = delimited_format(raw.columns, detected, fmt)
        return raw
    if detected == "xlsx":
        return read_xlsx(path, sheet=sheet)
    try:
        if detected == "geojson":
            return read_geojson(path, encoding=encoding)
        if detected == "open311":
            return read_open311(path, encoding=encoding)
    except RecursionError as err:  # a value nested deep inside a feature or a request
        raise _too_deep(path) from err
    raise InputError(path, f"format « {fmt} » inconnu.")


def not_csv_error(path: Path) -> InputError:
    """A file given as CSV that Python's ``csv`` module cannot read as a table."""
    return InputError(
        path,
        "ce fichier ne ressemble pas à un fichier texte CSV (illisible comme tableau) : "
        "vérifiez le chemin et le format de la source.",
    )


def delimited_format(columns: list[str], detected: str, fmt: str) -> str:
    """A delimited file's format: KoboToolbox or ODK Central when declared so, or when
    ``auto`` and its ``columns`` are theirs; else plain ``csv``."""
    names = set(columns)
    kobo_columns = {"_uuid", "_submission_time"} <= names
    odk_columns = "SubmissionDate" in names and bool({"KEY", "meta-instanceID"} & names)
    if detected == "kobo" or (fmt == "auto" and kobo_columns):
        return "kobo"
    if detected == "odk" or (fmt == "auto" and odk_columns):
        return "odk"
    return "csv"


def _check_regular_file(path: Path) -> None:
    """Refuse what is not a regular file before opening it: reading a named pipe (FIFO)
    waits for a writer forever, and a device (``/dev/zero``) never ends.

    Raises
    ------
    FileNotFoundError, IsADirectoryError
        As opening it would (the caller reports them as file issues).
    InputError
        A named pipe, a device or a socket.
    """
    mode = path.stat().st_mode  # follows symbolic links, as opening would
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    if not stat.S_ISREG(mode):
        kind = (
            "un tube nommé (FIFO)"
            if stat.S_ISFIFO(mode)
            else "un périphérique"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "une socket"
            if stat.S_ISSOCK(mode)
            else "un fichier spécial"
        )
        raise InputError(
            path,
            f"ce n'est pas un fichier ordinaire mais {kind} : Vigie ne lit que des fichiers "
            "de données ; vérifiez le chemin de la source.",
        )


def _check_not_binary(path: Path) -> None:
    """Refuse a file given as delimited text whose first bytes are those of a
    compressed file, an archive or a binary document
    (:func:`~pipelines.ingest.filekind.binary_kind`); the message says what it looks
    like, never quoting its content.

    Raises
    ------
    InputError
        The file is binary or compressed.
    """
    with path.open("rb") as fh:
        head = fh.read(16)
    kind = binary_kind(head)
    if kind is not None:
        raise InputError(
            path,
            f"fichier binaire ou compressé ({kind}), pas un fichier texte CSV : "
            "décompressez-le ou exportez-le en CSV, et vérifiez le chemin et le format "
            "de la source.",
        )


#: C0 control characters other than tab: a header holding them is not text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
#: What a header is written with: letters of any script, digits, spaces, punctuation.
_HEADER_CHARACTER = re.compile(r"[\w\s.,;:|'\"()/\[\]#%&*+\-°«»’]")


class NotATableError(InputError):
    """A file given as delimited text that is no table (:func:`_check_table_like`).

    ``reason`` is the message without the advice about the source's configuration (the
    path, the format and ``separator`` in ``sites.toml``), for the readers of files
    that have none: the planners' notes.
    """

    def __init__(self, path: str | Path, reason: str, advice: str) -> None:
        super().__init__(path, f"{reason} : {advice}")
        self.reason = reason


def _check_table_like(raw: RawFile) -> None:
    """Refuse a delimited file that is not a table, saying why when its first line shows
    it: a quote opened there and never closed (the rest of the file read as one name),
    text in an encoding not recognised (UTF-16 or UTF-32 without their mark, EBCDIC…),
    control characters (a binary file), no separator (one column). Such a file may be
    none of the exports meant (a wrong path: a system file, an archive…), so the message
    never quotes its content, which may be anything.

    Raises
    ------
    NotATableError
        The file is not a table.
    """
    if not raw.has_header:
        return
    names = raw.columns
    header = "".join(names)
    check = "vérifiez le chemin et le format de la source."
    if "\x00" in header and header.count("\x00") * 5 >= len(header) * 2:
        # UTF-16 text without its byte order mark: a NUL beside every ASCII letter.
        raise NotATableError(
            raw.path,
            "texte illisible, un caractère nul entre chaque lettre : le fichier est en "
            "UTF-16 ou UTF-32 sans marque d'ordre des octets (BOM) ; enregistrez-le en "
            "« CSV UTF-8 »",
            check,
        )
    if any(_CONTROL.search(name) for name in names):
        raise NotATableError(
            raw.path,
            "ce fichier ne ressemble pas à un fichier texte (caractères de contrôle dans sa "
            "première ligne)",
            check,
        )
    sep = raw.separator or ""
    if any((sep and sep in name) or not raw.table.num_rows for name in raw.names_over_lines):
        # A column name over several lines that holds the separator or left no row
        # under it: the header's quote was never closed, and the lines after it were
        # read into that name (a name written on two lines, quoted, is neither).
        raise NotATableError(
            raw.path,
            "guillemet ouvert et jamais fermé dans la ligne d'en-tête : la suite "
            "du fichier y est lue comme un seul nom de colonne ; fermez ou retirez ce "
            "guillemet",
            check,
        )
    if len(names) < 2:
        if len(_HEADER_CHARACTER.findall(header)) * 2 < len(header):
            raise NotATableError(
                raw.path,
                f"texte illisible dans l'encodage lu ({raw.encoding}) : le fichier n'est ni "
                "en UTF-8, ni en UTF-16 avec marque (BOM), ni en Windows-1252 ou Latin-1 ; "
                "enregistrez-le en « CSV UTF-8 »",
                check,
            )
        shown = {"\t": "tabulation"}.get(sep, sep)
        raise NotATableError(
            raw.path,
            f"une seule colonne lue (séparateur « {shown} ») : ce fichier ne ressemble pas à un "
            "tableau CSV (séparateurs reconnus : « ; », « , », tabulation, « | »)",
            "vérifiez le chemin de la source, son format et, s'il y a lieu, son séparateur "
            "(separator).",
        )


def _cell_text(value: Any) -> str:
    """One spreadsheet or JSON value as the string a CSV export would hold."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _table_from_records(records: list[dict[str, str]], names: list[str]) -> pa.Table:
    return pa.table(
        {n: pa.array([r.get(n, "") for r in records], pa.large_string()) for n in names}
    )


#: Largest XML a workbook part may hold once decompressed (the sheet read, the shared
#: strings…): 256 MiB, about 600,000 rows of a 15-column export. An XLSX is a zip
#: archive, and 23 MB of it can hold half a gigabyte of XML (a "zip bomb") that would
#: exhaust the memory; above the limit, the file is refused before it is read (export
#: the sheet as CSV instead: CSV has no such limit).
MAX_XLSX_XML_BYTES = 256 * 2**20

#: Most rows a sheet may have: Excel's own limit (1,048,576), checked on the sheet's
#: declared dimension before reading, then on every row read.
MAX_XLSX_ROWS = 1_048_576


def _too_large(path: Path, what: str) -> InputError:
    return InputError(
        path,
        f"classeur trop volumineux : {what}. Exportez la feuille en CSV, qui n'a pas cette limite.",
    )


def _count(n: int) -> str:
    return f"{n:,}".replace(",", "\u202f")


def _size(n_bytes: int) -> str:
    if n_bytes >= 2**20:
        return f"{_count(round(n_bytes / 2**20))} Mo"
    return f"{max(1, round(n_bytes / 1024))} ko"


#: What opens a document type declaration: an Office Open XML part never has one
#: (ECMA-376, part 2), and one is how entities are declared ("billion laughs" expansion,
#: external entities such as ``SYSTEM "file:///etc/passwd"``).
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)

#: Bytes of each XML part searched for a DTD: it must come before the root element, in
#: the first lines (an XML declaration, perhaps comments).
_DTD_HEAD_BYTES = 64 * 1024


def _unreadable_part(path: Path, part: str, why: str) -> InputError:
    """``classeur illisible``, naming the part, never quoting it (it may be anything)."""
    return InputError(
        path,
        f"classeur illisible : la partie « {part} » {why}. Réenregistrez le classeur "
        "depuis le tableur, ou exportez la feuille en CSV.",
    )


def _xml_parts(archive: zipfile.ZipFile) -> list[str]:
    return [n for n in archive.namelist() if n.lower().endswith((".xml", ".rels", ".vml"))]


def _broken_part(path: Path) -> tuple[str, str] | None:
    """The first XML part of the workbook that does not parse, and where (``ligne l,
    colonne c``): looked for once reading has failed, to name it."""
    from xml.etree.ElementTree import ParseError, XMLPullParser

    with zipfile.ZipFile(path) as archive:
        for name in _xml_parts(archive):
            parser: XMLPullParser[Any] = XMLPullParser()
            try:
                with archive.open(name) as fh:
                    while chunk := fh.read(2**20):
                        parser.feed(chunk)
                        for _ in parser.read_events():
                            pass
                parser.close()
            except ParseError as err:
                line, column = err.position
                return name, f"ligne {line}, colonne {column}"
            except (zipfile.BadZipFile, OSError, EOFError, ValueError):
                return name, ""
    return None


def _check_xlsx_parts(path: Path, *, max_xml_bytes: int) -> None:
    """Check the decompressed size of every part of the workbook before opening it:
    openpyxl reads the shared strings and styles whole, and scans every sheet for its
    dimension when the workbook opens, even in read-only mode. Refuse a part declaring a
    DTD (entities) before any is parsed."""
    try:
        with zipfile.ZipFile(path) as archive:
            problem = zip_not_xlsx(archive)
            if problem is not None:
                raise InputError(path, problem)
            sizes = {info.filename: info.file_size for info in archive.infolist()}
            for name in _xml_parts(archive):
                with archive.open(name) as fh:
                    head = fh.read(_DTD_HEAD_BYTES)
                if _DTD.search(head):
                    raise _unreadable_part(
                        path,
                        name,
                        "déclare une DTD (des entités XML), ce qu'un classeur Excel ne fait "
                        "jamais : elle n'est pas lue",
                    )
    except zipfile.BadZipFile as err:
        raise InputError(path, not_a_workbook(path)) from err
    except (OSError, EOFError) as err:
        if isinstance(err, (FileNotFoundError, IsADirectoryError, PermissionError)):
            raise
        raise InputError(path, f"classeur Excel illisible ({err}).") from err
    for name, size in sizes.items():
        if size > max_xml_bytes:
            what = f"la feuille « {name} »" if name.startswith("xl/worksheets/") else f"« {name} »"
            raise _too_large(
                path,
                f"{what} fait {_size(size)} de XML une fois décompressée "
                f"(limite {_size(max_xml_bytes)})",
            )


def read_xlsx(
    path: Path,
    *,
    sheet: str | None = None,
    max_xml_bytes: int = MAX_XLSX_XML_BYTES,
    max_rows: int = MAX_XLSX_ROWS,
) -> RawFile:
    """Read the first visible sheet (or ``sheet``) of a workbook (the hidden ones before
    it are named in ``hidden_sheets``); the first non-empty row is the header and
    ``lines`` are Excel row numbers. Cells formatted as dates come as ISO strings;
    dates stored as plain numbers stay Excel serial numbers (parsed later, from the
    workbook's own day 0: 1900 or 1904 date system).

    The sheet is streamed (openpyxl's read-only mode), after checking the size of its
    XML once decompressed (``max_xml_bytes``) and its declared number of rows
    (``max_rows``); the rows are counted again while they are read.

    Raises
    ------
    InputError
        The workbook is corrupt, the sheet absent, or the sheet over the limits.
    """
    _check_xlsx_parts(path, max_xml_bytes=max_xml_bytes)
    # Opened here, so that it is closed whatever openpyxl fails on (it leaves its
    # archive open when a part does not parse).
    with _xml_errors(path), path.open("rb") as fh:
        return _read_sheet(path, fh, sheet=sheet, max_rows=max_rows)


def workbook_sheets(
    path: Path, *, max_xml_bytes: int = MAX_XLSX_XML_BYTES
) -> list[tuple[str, bool, bool]]:
    """The sheets of a workbook, in its order, each with whether it has a row of data
    under its header (a title above it set aside) and whether it is hidden (« hidden »,
    « veryHidden »: without a named sheet, ingestion reads the first visible one): what
    ``vigie init`` offers to read.

    Raises
    ------
    InputError
        The workbook is corrupt (as :func:`read_xlsx` says it).
    """
    _check_xlsx_parts(path, max_xml_bytes=max_xml_bytes)
    with _xml_errors(path), path.open("rb") as fh:
        book = _load_book(path, fh)
        try:
            return [
                (ws.title, _sheet_has_data(ws), ws.sheet_state != "visible")
                for ws in book.worksheets
            ]
        finally:
            book.close()


@contextlib.contextmanager
def _xml_errors(path: Path) -> Iterator[None]:
    """A part of the workbook that is not XML, as the :class:`InputError` naming it."""
    from xml.etree.ElementTree import ParseError

    try:
        yield
    except ParseError:
        broken = _broken_part(path)
        if broken is None:
            raise _unreadable_part(path, "XML", "n'est pas du XML valide") from None
        name, where = broken
        raise _unreadable_part(
            path, name, "n'est pas du XML valide" + (f" ({where})" if where else "")
        ) from None


def _load_book(path: Path, fh: BinaryIO) -> Any:
    """The workbook ``fh`` (``path``) opened by openpyxl, read-only, computed values.

    Raises
    ------
    InputError
        The workbook is corrupt.
    """
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        with warnings.catch_warnings():
            # openpyxl warns about styles and data validation it does not keep: noise here.
            warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
            return openpyxl.load_workbook(fh, read_only=True, data_only=True)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except (
        InvalidFileException,
        zipfile.BadZipFile,
        KeyError,
        ValueError,
        OSError,
        EOFError,
    ) as err:
        raise InputError(path, f"classeur Excel illisible ({err}).") from err


# A cell holding a formula and no computed value: ``<c r="B11"><f>…</f></c>``, or with
# an empty ``<v/>`` (openpyxl's own writing), or a shared formula ``<f … />``.
_UNCOMPUTED_FORMULA = re.compile(
    rb'<c\b[^>]*\br="[A-Z]+([0-9]+)"[^>]*>\s*<f\b(?:[^>]*/>|[^>]*>[^<]*</f>)'
    rb"\s*(?:<v\s*/>|<v>\s*</v>)?\s*</c>"
)


_MERGED = re.compile(rb'<mergeCell\b[^>]*\bref="([A-Z]+[0-9]+):([A-Z]+[0-9]+)"')


def _sheet_xml_facts(fh: BinaryIO, part: str | None) -> tuple[np.ndarray, list[tuple[str, int]]]:
    """What openpyxl's reading hides in the sheet ``part`` of the workbook ``fh``: the
    rows holding a formula without its computed value, in order, and the merged ranges
    (``"C3:C5"`` and their last row). None when ``part`` is unknown. The part is scanned
    in pieces that overlap, never held whole."""
    if not part:
        return np.zeros(0, np.int64), []
    rows: set[int] = set()
    merged: dict[str, int] = {}
    fh.seek(0)
    with zipfile.ZipFile(fh) as archive, archive.open(part.lstrip("/")) as xml:
        tail = b""
        while True:
            piece = xml.read(8 * 2**20)
            data = tail + piece
            if b"<f" in data:
                rows.update(int(m.group(1)) for m in _UNCOMPUTED_FORMULA.finditer(data))
            if b"<mergeCell" in data:
                for m in _MERGED.finditer(data):
                    first, last = m.group(1).decode(), m.group(2).decode()
                    merged[f"{first}:{last}"] = int(re.sub(r"^[A-Z]+", "", last))
            if not piece:
                break
            tail = data[-65536:]
    return np.asarray(sorted(rows), np.int64), list(merged.items())


def _read_sheet(path: Path, fh: BinaryIO, *, sheet: str | None, max_rows: int) -> RawFile:
    """:func:`read_xlsx` once the parts are checked, from ``fh``, ``path`` opened."""
    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    book = _load_book(path, fh)
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise InputError(
                path, f"feuille « {sheet} » absente ; feuilles : {', '.join(book.sheetnames)}."
            )
        # Not named: the first visible sheet (a hidden one is not the export the analyst
        # sees in the workbook), the first of all when every one is hidden.
        visible = [w for w in book.worksheets if w.sheet_state == "visible"]
        ws = book[sheet] if sheet is not None else (visible or book.worksheets)[0]
        hidden = (
            tuple(w.title for w in book.worksheets[: book.worksheets.index(ws)])
            if sheet is None
            else ()
        )
        sheets = (ws.title, *(t for t in book.sheetnames if t != ws.title))
        declared = ws.max_row
        if declared is not None and declared > max_rows:
            raise _too_large(
                path,
                f"la feuille « {ws.title} » déclare {_count(declared)} lignes "
                f"(limite {_count(max_rows)})",
            )
        # The declared dimension may be wrong (too small: rows past it would be left
        # out): read every row there is, counting them.
        ws.reset_dimensions()
        epoch = "1904-01-01" if book.epoch == CALENDAR_MAC_1904 else "1899-12-30"
        header: list[str] | None = None
        header_line = 0
        blank_after: list[int] = []  # numbers of the blank rows under the first row
        records: list[list[str]] = []
        lines: list[int] = []
        blank = 0
        width = 0
        # Rows come as wide as they are written; they are padded to the widest below, and
        # cells under a blank header cell land in a "colonne_<k>" column.
        for row_number, row in enumerate(ws.iter_rows(min_row=1, values_only=True), start=1):
            if row_number > max_rows:
                raise _too_large(
                    path, f"la feuille « {ws.title} » a plus de {_count(max_rows)} lignes"
                )
            cells = [_cell_text(v) for v in row]
            if not any(c.strip() for c in cells):
                if header is not None:
                    blank += 1
                    blank_after.append(row_number)
                continue
            width = max(width, len(cells))
            if header is None:
                header, header_line = cells, row_number
                continue
            records.append(cells)
            lines.append(row_number)
        # The first sheet of several without a row of data (a « Lisez-moi » before the
        # export): the sheets that have rows, for ingestion to name (visible ones first).
        hidden_ones = [w for w in book.worksheets if w not in visible and w is not ws]
        others = [w for w in visible if w is not ws] + hidden_ones
        with_rows = (
            tuple(w.title for w in others if _sheet_has_data(w))
            if sheet is None and len(book.sheetnames) > 1 and not _has_data(header, records)
            else ()
        )
        part = getattr(ws, "_worksheet_path", None)  # openpyxl's path of the sheet's XML
    finally:
        book.close()
    formula_lines, merged = _sheet_xml_facts(fh, part)
    if header is None:
        return RawFile(
            str(path),
            "xlsx",
            pa.table({}),
            np.zeros(0, np.int64),
            has_header=False,
            sheets=sheets,
            sheets_with_rows=with_rows,
            hidden_sheets=hidden,
        )
    k = _header_below_title(header, records)
    if k is not None:
        # A title over the table (« Export des demandes du … »): the header is the first
        # row of several cells; the rows above it are no data, and said in the log.
        log.warning(
            "%s : en-tête lu ligne %d, sous %d ligne(s) de titre (ignorées, sans données)",
            path,
            lines[k],
            k + 1,
        )
        header, header_line = records[k], lines[k]
        records, lines = records[k + 1 :], lines[k + 1 :]
        blank -= sum(1 for n in blank_after if n < header_line)
        width = max([len(header), *(len(r) for r in records)])
    # A cell merged over several columns of the header (« Localisation » over C1:D1).
    merges = header_merges((ref for ref, _ in merged), header, header_line)
    two_rows = None
    if records and lines[0] == header_line + 1:
        # Groups merged, or unmerged (their names in their first column, as in a CSV).
        two_rows = (
            two_row_header(merges, header, records[0])
            if merges
            else header_under_groups(header, records[0], header_line)
        )
    header_notes: list[str] = []
    if two_rows is not None:  # the row under it names the merged columns: header too
        header, header_notes = two_rows
        header_line, records, lines = lines[0], records[1:], lines[1:]
        merges = []
    names, blank_names = _clean_names(header + [""] * (width - len(header)))
    padded = [cells + [""] * (width - len(cells)) for cells in records]
    columns = [[cells[i] for cells in padded] for i in range(width)]
    table = pa.table(
        {n: pa.array(c, pa.large_string()) for n, c in zip(names, columns, strict=True)}
    )
    table = drop_blank_columns(table, [names[i] for i in blank_names])
    # Its other columns, nameless, told when they hold values (empty ones are dropped).
    nameless = nameless_columns(merges, names)
    header_notes += [note for name, note in nameless.items() if name in table.column_names]
    return RawFile(
        str(path),
        "xlsx",
        table,
        np.asarray(lines, np.int64),
        blank_rows=int(blank),
        excel_epoch=epoch,
        sheets=sheets,
        sheets_with_rows=with_rows,
        formula_lines=formula_lines[formula_lines > header_line],
        merged_ranges=tuple(ref for ref, last in merged if last > header_line),
        hidden_sheets=hidden,
        merged_header=tuple(header_notes),
    )


def _has_data(header: list[str] | None, records: list[list[str]]) -> bool:
    """Whether a sheet read as ``header`` and ``records`` (its non-empty rows under the
    first one) has a row of data under its header, a title above it set aside."""
    if header is None:
        return False
    k = _header_below_title(header, records)
    return len(records) > (0 if k is None else k + 1)


def _sheet_has_data(ws: Any) -> bool:
    """Whether a worksheet has a row of data under its header (streamed; stops at the
    first one, or after :data:`TITLE_ROWS_MAX` rows past the header's candidates)."""
    header: list[str] | None = None
    records: list[list[str]] = []
    for row in ws.iter_rows(values_only=True):
        cells = [_cell_text(v) for v in row]
        if not any(c.strip() for c in cells):
            continue
        if header is None:
            header = cells
            continue
        records.append(cells)
        if _has_data(header, records) or len(records) > TITLE_ROWS_MAX + 1:
            return _has_data(header, records)
    return _has_data(header, records)


#: How far below a title row the header of an XLSX export is looked for.
TITLE_ROWS_MAX = 10


def _header_below_title(header: list[str], records: list[list[str]]) -> int | None:
    """Where the header is among ``records`` (the non-empty rows under the first one,
    ``header``) when the sheet opens with a title: the first non-empty row holds a single
    cell and one of the next few holds several; that one is the header, and the
    single-cell rows before it are titles. None when the first row is the header (a
    one-column sheet keeps it)."""

    def filled(cells: list[str]) -> int:
        return sum(1 for c in cells if c.strip())

    if filled(header) != 1:
        return None
    for k, cells in enumerate(records[:TITLE_ROWS_MAX]):
        n = filled(cells)
        if n >= 2:
            return k
        if n != 1:
            break
    return None


def _load_json(path: Path, encoding: str | None) -> Any:
    text, _ = decode(path.read_bytes(), encoding)
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(
            path, f"JSON invalide ({err.msg}, colonne {err.colno})", row=err.lineno
        ) from err
    except RecursionError as err:
        raise _too_deep(path) from err


def _too_deep(path: Path) -> InputError:
    return InputError(
        path,
        "JSON imbriqué trop profondément (des milliers de listes ou d'objets les uns dans "
        "les autres) : ce n'est pas un export de signalements ; vérifiez le fichier.",
    )


def _crs_of_geojson(doc: dict[str, Any]) -> str | None:
    name = (
        (doc.get("crs") or {}).get("properties", {}).get("name")
        if isinstance(doc.get("crs"), dict)
        else None
    )
    if not isinstance(name, str):
        return None
    code = name.rsplit(":", 1)[-1]
    if code.upper() in ("CRS84", "4326"):
        return "EPSG:4326"
    return f"EPSG:{code}" if code.isdigit() else None


def read_geojson(path: Path, *, encoding: str | None = None) -> RawFile:
    """Read GeoJSON features: properties become columns; a point's coordinates become
    the derived columns ``__lon``/``__lat`` (other geometries: a point inside them,
    noted in ``__geom_note``)."""
    import shapely.errors
    import shapely.geometry

    doc = _load_json(path, encoding)
    if doc is None:
        return RawFile(str(path), "geojson", pa.table({}), np.zeros(0, np.int64), has_header=False)
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        features = [doc]
    elif isinstance(doc, dict) and isinstance(doc.get("features"), list):
        features = doc["features"]
    else:
        raise InputError(path, "GeoJSON attendu : une FeatureCollection (ou une Feature).")
    names: list[str] = []
    seen: set[str] = set()
    records: list[dict[str, str]] = []
    for feature in features:
        props = feature.get("properties") if isinstance(feature, dict) else None
        props = props if isinstance(props, dict) else {}
        record = {str(k): _cell_text(v) for k, v in props.items()}
        for k in record:
            if k not in seen:
                seen.add(k)
                names.append(k)
        geom = feature.get("geometry") if isinstance(feature, dict) else None
        lon = lat = note = ""
        if isinstance(geom, dict) and geom.get("type") == "Point":
            coords = geom.get("coordinates") or []
            if isinstance(coords, list) and len(coords) >= 2:
                lon, lat = _cell_text(coords[0]), _cell_text(coords[1])
        elif isinstance(geom, dict) and geom.get("type"):
            try:
                shape = shapely.geometry.shape(geom)
                if not shape.is_empty:  # an empty geometry locates nothing: no point
                    point = shape.representative_point()
                    lon, lat, note = repr(point.x), repr(point.y), "representative_point"
            except (
                ValueError,
                TypeError,
                AttributeError,
                IndexError,
                KeyError,
                RecursionError,
                shapely.errors.ShapelyError,
            ):
                lon = lat = "?"
        record.update({"__lon": lon, "__lat": lat, "__geom_note": note})
        records.append(record)
    virtual = ("__lon", "__lat", "__geom_note")
    table = _table_from_records(records, [n for n in names if n not in virtual] + list(virtual))
    lines = np.arange(1, len(records) + 1, dtype=np.int64)
    return RawFile(
        str(path),
        "geojson",
        table,
        lines,
        crs=_crs_of_geojson(doc),
        virtual=virtual,
    )


def read_open311(path: Path, *, encoding: str | None = None) -> RawFile:
    """Read Open311 GeoReport v2 service requests (a JSON list, or an object holding it
    under ``service_requests``/``requests``). ``__closed_at`` is ``updated_datetime``
    for closed requests."""
    doc = _load_json(path, encoding)
    if doc is None:
        return RawFile(str(path), "open311", pa.table({}), np.zeros(0, np.int64), has_header=False)
    if isinstance(doc, dict):
        doc = doc.get("service_requests", doc.get("requests"))
    if not isinstance(doc, list) or not all(isinstance(r, dict) for r in doc):
        raise InputError(path, "Open311 attendu : une liste JSON de demandes (service requests).")
    names: list[str] = []
    seen: set[str] = set()
    records: list[dict[str, str]] = []
    for item in doc:
        record = {str(k): _cell_text(v) for k, v in item.items()}
        for k in record:
            if k not in seen:
                seen.add(k)
                names.append(k)
        closed = record.get("status", "").strip().lower() == "closed"
        record["__closed_at"] = record.get("updated_datetime", "") if closed else ""
        records.append(record)
    virtual = ("__closed_at",)
    table = _table_from_records(records, [*names, *virtual])
    lines = np.arange(1, len(records) + 1, dtype=np.int64)
    return RawFile(str(path), "open311", table, lines, virtual=virtual)
