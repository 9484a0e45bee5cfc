"""The XLSX reader (:func:`read_xlsx`, openpyxl) and its guards: the archive's parts
checked before anything is read (a corrupt part, a DTD, XML beyond
:data:`MAX_XLSX_XML_BYTES` once decompressed: a "zip bomb"), at most
:data:`MAX_XLSX_ROWS` rows, a title above the header found (:data:`TITLE_ROWS_MAX`),
uncomputed formulas and merged cells noted, the sheet chosen or the sheets listed
(:func:`workbook_sheets`). Every cell is read as the string a CSV export would hold
(:func:`pipelines.ingest.rawfile.cell_text`). :mod:`pipelines.ingest.readers` dispatches.
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa

from pipelines.errors import InputError
from pipelines.ingest.csvfile import _clean_names
from pipelines.ingest.csvheader import headers_again, renamed_notes, under_their_headers
from pipelines.ingest.filekind import not_a_workbook, zip_not_xlsx
from pipelines.ingest.ragged import drop_blank_columns
from pipelines.ingest.rawfile import RawFile, cell_text
from pipelines.ingest.xlsxheader import (
    header_merges,
    header_under_groups,
    nameless_columns,
    split_title_notes,
    two_row_header,
)

# The logger of pipelines.ingest.readers, as before the split, so that log filters and
# configurations keep matching these messages.
log = logging.getLogger("pipelines.ingest.readers")


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
            cells = [cell_text(v) for v in row]
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
    # Two exports pasted into one sheet, the second's header in another order or with
    # columns renamed: its rows put back under their names, as a CSV's are.
    again = headers_again(table, names)
    renamed = renamed_notes(str(path), again, np.asarray(lines, np.int64))
    table = under_their_headers(table, again)
    table = drop_blank_columns(table, [names[i] for i in blank_names])
    # Its other columns, nameless, told when they hold values (empty ones are dropped).
    nameless = nameless_columns(merges, names)
    header_notes += [note for name, note in nameless.items() if name in table.column_names]
    merged_notes, title_notes = split_title_notes(header_notes)
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
        merged_header=merged_notes,
        title_lines=title_notes,
        renamed_header=tuple(renamed),
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
        cells = [cell_text(v) for v in row]
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
