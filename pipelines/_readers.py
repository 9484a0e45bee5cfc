"""Readers for the formats residents' reports come in, and parsers for their values.

Every reader returns a :class:`RawFile`: all cells as strings (empty string for an empty
cell), the 1-based line of each row in the file (header = line 1; the feature index for
GeoJSON and JSON), and the rows that could not be split into the header's columns. The
value parsers (dates, numbers, geographic points) are vectorised: no Python loop over
rows, so that a million-row export parses in about the time it takes to read it.

Formats: CSV (any of UTF-8, UTF-8 with BOM, UTF-16 with BOM, cp1252, latin-1; ``,`` ``;``
tab or ``|``; any line endings), KoboToolbox/ODK CSV, XLSX, GeoJSON, Open311 GeoReport v2
service requests (JSON).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import math
import re
import sys
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from pipelines.errors import InputError

log = logging.getLogger(__name__)

#: Time zone of the sites: naive timestamps are local times there.
LOCAL_TZ = "Europe/Paris"

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
#: Missing-value spellings (compared after stripping and lower-casing).
NA_TOKENS = ("", "na", "n/a", "nan", "null", "none", "nr", "-", "--", "#n/a", "?")

_SEPARATORS = (";", ",", "\t", "|")


@dataclass(frozen=True)
class Malformed:
    """A row whose number of fields differs from the header's (extra non-empty fields)."""

    line: int
    fields: dict[str, str]
    n_fields: int


@dataclass
class RawFile:
    """One input file as strings.

    Attributes
    ----------
    table
        One ``large_string`` column per file column, no nulls (empty cells are ``""``).
    lines
        int64, the 1-based line of each row of ``table`` in the file (header = line 1),
        or the 1-based feature index for GeoJSON and JSON.
    virtual
        Columns the reader derived (``__lon``…), not present in the file.
    excel_epoch
        Day 0 of the file's Excel serial dates: 1899-12-30, or 1904-01-01 for a
        workbook saved with the 1904 date system (old Mac Excel).
    """

    path: str
    format: str
    table: pa.Table
    lines: np.ndarray
    malformed: list[Malformed] = field(default_factory=list)
    encoding: str | None = None
    separator: str | None = None
    blank_rows: int = 0
    has_header: bool = True
    crs: str | None = None
    virtual: tuple[str, ...] = ()
    excel_epoch: str = "1899-12-30"

    @property
    def columns(self) -> list[str]:
        """The file's own columns (derived ones excluded)."""
        return [c for c in self.table.column_names if c not in self.virtual]

    @property
    def n_rows(self) -> int:
        """Data rows read, malformed ones included (blank rows excluded)."""
        return self.table.num_rows + len(self.malformed)


# --------------------------------------------------------------------------- formats
def detect_format(path: Path, declared: str) -> str:
    """The format of ``path``: the declared one, else guessed from the extension (and,
    for ``.json``, from the first bytes). KoboToolbox and ODK Central CSV exports are
    recognised after reading, by their columns."""
    if declared != "auto":
        return declared
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
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
) -> RawFile:
    """Read one file of a source in the format declared (``auto``: detected).

    Raises
    ------
    OSError
        The file cannot be opened (missing, a folder, no permission).
    InputError
        The file cannot be parsed at all (invalid JSON, corrupt workbook…).
    """
    detected = detect_format(path, fmt)
    if detected in ("csv", "kobo", "odk"):
        raw = read_csv(path, encoding=encoding, separator=separator)
        columns = set(raw.columns)
        kobo_columns = {"_uuid", "_submission_time"} <= columns
        odk_columns = "SubmissionDate" in columns and bool({"KEY", "meta-instanceID"} & columns)
        if detected == "kobo" or (fmt == "auto" and kobo_columns):
            raw.format = "kobo"
        elif detected == "odk" or (fmt == "auto" and odk_columns):
            raw.format = "odk"
        return raw
    if detected == "xlsx":
        return read_xlsx(path, sheet=sheet)
    if detected == "geojson":
        return read_geojson(path, encoding=encoding)
    if detected == "open311":
        return read_open311(path, encoding=encoding)
    raise InputError(path, f"format « {fmt} » inconnu.")


_BOM8 = b"\xef\xbb\xbf"
_NOT_SPACE = re.compile(rb"[^ \t\n\v\f\r]")
_UNDEFINED_CP1252 = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")


def _canonical_encoding(encoding: str) -> str:
    enc = encoding.strip().lower().replace("_", "-")
    return {
        "utf8": "utf-8",
        "utf-8-bom": "utf-8-sig",
        "latin1": "latin-1",
        "iso-8859-1": "latin-1",
        "windows-1252": "cp1252",
        "win-1252": "cp1252",
    }.get(enc, enc)


def decode(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """Decode bytes, detecting the encoding unless given.

    Detection: a BOM (UTF-8, UTF-16) wins; then strict UTF-8; then UTF-8 when the invalid
    bytes are a tiny minority (a few stray characters in a UTF-8 export: they become
    U+FFFD); then cp1252, or latin-1 when bytes undefined in cp1252 occur.

    Returns
    -------
    text, encoding
    """
    if encoding:
        enc = _canonical_encoding(encoding)
        if enc in ("utf-8", "utf-8-sig"):
            enc = "utf-8-sig" if data.startswith(_BOM8) else "utf-8"
        return data.decode(enc, errors="replace"), enc
    if data.startswith(_BOM8):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", errors="replace")
    high = int(np.count_nonzero(np.frombuffer(data, dtype=np.uint8) >= 0x80))
    if text.count("\ufffd") * 50 <= high:
        return text, "utf-8"
    if any(b in data for b in _UNDEFINED_CP1252):
        return data.decode("latin-1"), "latin-1"
    return data.decode("cp1252"), "cp1252"


def _utf8_bytes(data: bytes, encoding: str | None) -> tuple[bytes, str, bool]:
    """The file's bytes as UTF-8 without a BOM, the encoding, and whether the bytes are
    only *presumed* UTF-8 (not yet validated: pyarrow validates them while parsing,
    which spares decoding a large file twice)."""
    enc = _canonical_encoding(encoding) if encoding else None
    if data.startswith(_BOM8) and enc in (None, "utf-8", "utf-8-sig"):
        return data[3:], "utf-8-sig", True
    if enc in (None, "utf-8", "utf-8-sig") and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data, "utf-8", not data.isascii()
    text, enc = decode(data, encoding)
    return text.encode("utf-8"), enc, False


def _sniff_separator(header: str) -> str:
    outside = []
    in_quotes = False
    for ch in header:
        if ch == '"':
            in_quotes = not in_quotes
        elif not in_quotes:
            outside.append(ch)
    text = "".join(outside)
    counts = {sep: text.count(sep) for sep in _SEPARATORS}
    best = max(_SEPARATORS, key=lambda s: (counts[s], -_SEPARATORS.index(s)))
    return best if counts[best] else ","


def _clean_names(names: list[str]) -> tuple[list[str], list[int]]:
    """Strip header names, name blank ones, make them unique; return the positions of
    the blank ones (candidates for a trailing separator)."""
    out: list[str] = []
    blank: list[int] = []
    seen: set[str] = set()
    for i, raw_name in enumerate(names):
        name = raw_name.replace("\ufeff", "").strip()
        if not name:
            blank.append(i)
            name = f"colonne_{i + 1}"
        base, k = name, 0
        while name in seen:
            k += 1
            name = f"{base}.{k}"
        seen.add(name)
        out.append(name)
    return out, blank


@dataclass(frozen=True)
class _Records:
    """Where the records (rows) of a CSV buffer start and end."""

    starts: np.ndarray
    ends: np.ndarray
    first_line: np.ndarray
    inner_newlines: np.ndarray


def _records(buf: bytes) -> _Records:
    """Split CSV bytes (``\\n`` line ends) into records by the parity of the quotes
    before each newline.

    A newline preceded by an odd number of ``"`` is inside a quoted value (RFC 4180: an
    escaped quote is doubled, which keeps the parity). Vectorised with numpy, because
    Python's ``csv`` module, which counts lines exactly, is ten times slower than
    pyarrow's parser on a large file; the two are reconciled in :func:`read_csv`.
    """
    if b'"' not in buf and b"\n\n" not in buf and not buf.startswith(b"\n"):
        # No quotes and no blank line: every line is a record (the common case, without
        # scanning a large buffer twice with numpy).
        first = buf.find(b"\n")
        n_rec = buf.count(b"\n") + (0 if buf.endswith(b"\n") else 1)
        starts = np.zeros(n_rec, dtype=np.int64)
        ends = np.full(n_rec, len(buf), dtype=np.int64)
        ends[0] = first if first >= 0 else len(buf)
        if n_rec > 1:
            starts[1] = first + 1
        if buf.endswith(b"\n"):
            starts = np.append(starts, len(buf))
            ends = np.append(ends, len(buf))
        # Only the header's extent and the first data record's start are used downstream
        # besides line numbers; the other records are marked non-empty (end > start).
        first_line = np.arange(1, len(starts) + 1, dtype=np.int64)
        return _Records(starts, ends, first_line, np.zeros(len(starts), dtype=np.int64))
    a = np.frombuffer(buf, dtype=np.uint8)
    nl = np.flatnonzero(a == 10)
    quotes = np.flatnonzero(a == 34)
    if len(quotes):
        inside = (np.searchsorted(quotes, nl) & 1).astype(bool)
        term = np.flatnonzero(~inside)  # indices (in nl) of record terminators
    else:
        term = np.arange(len(nl))
    ends = np.concatenate((nl[term], [len(a)]))
    starts = np.concatenate(([0], nl[term] + 1))
    first_line = np.concatenate(([1], term + 2))
    inner = np.diff(np.concatenate(([-1], term, [len(nl)]))) - 1
    return _Records(starts, ends, first_line, inner)


def read_csv(path: Path, *, encoding: str | None = None, separator: str | None = None) -> RawFile:
    """Read a delimited text file, every cell as a string.

    The fast path hands the bytes to pyarrow's multithreaded parser; when its rows match
    the file's lines one to one (no blank line, no line break inside a quoted value),
    line numbers follow, else :func:`_records` finds where each row starts. When pyarrow
    meets a ragged row, or its rows do not line up with the records found (stray
    quotes), the file is re-read with Python's ``csv`` module, which gives exact line
    numbers, lets a trailing separator be ignored and sets other ragged rows aside as
    malformed.
    """
    data = path.read_bytes()
    buf, enc, presumed = _utf8_bytes(data, encoding)
    del data
    if b"\r" in buf:
        buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if not buf or buf.isspace():
        return RawFile(
            str(path), "csv", pa.table({}), np.zeros(0, np.int64), encoding=enc, has_header=False
        )
    try:
        return _parse_csv(path, buf, enc, separator)
    except UnicodeDecodeError:
        if not presumed:
            raise
    # Presumed UTF-8, but it was not (cp1252 or latin-1): decode, then parse again.
    text, enc = decode(buf, encoding)
    buf = text.encode("utf-8")
    del text
    return _parse_csv(path, buf, enc, separator)


def _parse_csv(path: Path, buf: bytes, enc: str, separator: str | None) -> RawFile:
    """Parse UTF-8 CSV bytes with ``\\n`` line ends (see :func:`read_csv`)."""
    # The header is the first non-blank line (or record, when it opens a quote).
    start, line_no = 0, 1
    while True:
        end = buf.find(b"\n", start)
        end = len(buf) if end < 0 else end
        if buf[start:end].strip() or end == len(buf):
            break
        start, line_no = end + 1, line_no + 1
    records: _Records | None = None
    if buf.count(b'"', start, end) % 2:
        records = _records(buf)
        h = int(np.flatnonzero(records.starts >= start)[0])
        end, line_no = int(records.ends[h]), int(records.first_line[h])
    header_text = buf[start:end].decode("utf-8")
    sep = {"tab": "\t", "\\t": "\t"}.get(separator or "", separator) or _sniff_separator(
        header_text
    )
    header = next(csv.reader([header_text], delimiter=sep, strict=False), [])
    names, blank_names = _clean_names(header)
    body_start = end + 1
    if _NOT_SPACE.search(buf, body_start) is None:
        table = pa.table({n: pa.array([], pa.large_string()) for n in names})
        return RawFile(str(path), "csv", table, np.zeros(0, np.int64), encoding=enc, separator=sep)
    has_quotes = buf.find(b'"', body_start) >= 0
    # pyarrow skips empty lines, and a quoted value may hold line breaks: each makes the
    # rows fewer than the lines. As many rows as lines, every line is one row. The lines
    # are counted while pyarrow parses (its parser releases the GIL); one bytes.count:
    # bytes.find of "\n\n" is twice as slow, numpy slower still.
    with ThreadPoolExecutor(max_workers=1) as pool:
        parsed = pool.submit(_read_fast, buf, body_start, names, sep, newlines_in_values=has_quotes)
        n_lines = buf.count(b"\n", body_start) + (0 if buf.endswith(b"\n") else 1)
        table = parsed.result()
    lines: np.ndarray | None = None
    if table is not None:
        if table.num_rows == n_lines:
            lines = np.arange(line_no + 1, line_no + 1 + n_lines, dtype=np.int64)
        else:
            records = records or _records(buf)
            body = np.flatnonzero((records.ends > records.starts) & (records.starts >= body_start))
            inner = int(records.inner_newlines[body].sum())
            found = (
                sum(
                    int(pc.sum(pc.count_substring(col, "\n")).as_py() or 0) for col in table.columns
                )
                if inner
                else 0
            )
            if table.num_rows == len(body) and found == inner:
                lines = records.first_line[body].astype(np.int64)
    malformed: list[Malformed] = []
    if table is None or lines is None:
        log.info("%s : lecture ligne à ligne (lignes irrégulières ou guillemets isolés)", path)
        table, lines, malformed = _read_exact(buf.decode("utf-8", errors="replace"), names, sep)
    table, lines, n_blank = _drop_blank_rows(table, lines)
    table = _drop_blank_columns(table, [names[i] for i in blank_names])
    return RawFile(
        str(path), "csv", table, lines, malformed, encoding=enc, separator=sep, blank_rows=n_blank
    )


def _read_fast(
    buf: bytes, offset: int, names: list[str], sep: str, *, newlines_in_values: bool
) -> pa.Table | None:
    """Parse the rows after the header with pyarrow; None when a row is ragged.

    Raises UnicodeDecodeError when the bytes are not valid UTF-8.
    """
    positional = [f"c{i}" for i in range(len(names))]

    def parse(newlines: bool) -> pa.Table:
        return pacsv.read_csv(
            pa.py_buffer(buf)[offset:],
            # 4 MB blocks rather than 1 MB: as fast on small files, a fifth fewer
            # seconds and a quarter as many chunks on a million rows.
            read_options=pacsv.ReadOptions(column_names=positional, block_size=1 << 22),
            parse_options=pacsv.ParseOptions(
                delimiter=sep,
                quote_char='"',
                double_quote=True,
                escape_char=False,
                newlines_in_values=newlines,
                ignore_empty_lines=True,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(positional, pa.large_string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )

    if newlines_in_values:
        # Quoted values may hold line breaks. pyarrow's parser reads them whatever the
        # option; the option only makes it cut the file into blocks serially, quote
        # aware (twice as slow). Cut at line ends first: when a cut falls inside a
        # quoted value, the parser cannot end its block at the cut and pyarrow raises
        # ("parser got out of sync with chunker"); then, and on any other error, the
        # file is parsed again the careful way, as before.
        try:
            return parse(False).rename_columns(names)
        except pa.ArrowInvalid:
            pass
    try:
        table = parse(newlines_in_values)
    except pa.ArrowInvalid as err:
        if "utf8" in str(err).lower() or "utf-8" in str(err).lower():
            raise UnicodeDecodeError("utf-8", b"", 0, 1, str(err)) from err
        return None
    return table.rename_columns(names)


def _read_exact(
    text: str, names: list[str], sep: str
) -> tuple[pa.Table, np.ndarray, list[Malformed]]:
    ncol = len(names)
    columns: list[list[str]] = [[] for _ in range(ncol)]
    lines: list[int] = []
    malformed: list[Malformed] = []
    # Python's csv refuses fields over 128 kB by default; an unterminated quote makes
    # the rest of the file one field, which we want to see as one malformed row.
    csv.field_size_limit(max(csv.field_size_limit(), min(len(text) + 1, sys.maxsize // 2)))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=False)
    previous_end = 0
    seen_header = False
    for fields in reader:
        line = previous_end + 1
        previous_end = reader.line_num
        if not fields or (len(fields) == 1 and not fields[0].strip() and ncol > 1):
            continue  # a blank line
        if not seen_header:
            seen_header = True
            continue
        n = len(fields)
        if n > ncol and all(not f.strip() for f in fields[ncol:]):
            fields, n = fields[:ncol], ncol  # trailing separators
        if n != ncol:
            mapped = {names[i] if i < ncol else f"champ_{i + 1}": v for i, v in enumerate(fields)}
            malformed.append(Malformed(line, mapped, n))
            continue
        for i in range(ncol):
            columns[i].append(fields[i])
        lines.append(line)
    table = pa.table(
        {name: pa.array(col, pa.large_string()) for name, col in zip(names, columns, strict=True)}
    )
    return table, np.asarray(lines, dtype=np.int64), malformed


def _drop_blank_rows(table: pa.Table, lines: np.ndarray) -> tuple[pa.Table, np.ndarray, int]:
    """Rows whose cells are all blank (``;;;;`` at the end of Excel exports) are not data.

    Column by column on the remaining candidates only: usually the first column already
    rules every row out.
    """
    if table.num_columns == 0 or table.num_rows == 0:
        return table, lines, 0
    candidates: np.ndarray | None = None
    for col in table.columns:
        sub = col if candidates is None else col.take(pa.array(candidates))
        empty = pc.equal(trim_whitespace(sub), "")
        hits = np.flatnonzero(np.asarray(empty.to_numpy(zero_copy_only=False), dtype=bool))
        candidates = hits if candidates is None else candidates[hits]
        if len(candidates) == 0:
            return table, lines, 0
    assert candidates is not None
    keep = np.setdiff1d(np.arange(table.num_rows), candidates)
    return table.take(pa.array(keep)), lines[keep], len(candidates)


def _drop_blank_columns(table: pa.Table, candidates: list[str]) -> pa.Table:
    """Drop unnamed columns that hold nothing (a trailing separator on every line)."""
    drop = []
    for name in candidates:
        col = table.column(name)
        if (
            table.num_rows == 0
            or int(pc.max(pc.utf8_length(pc.utf8_trim_whitespace(col))).as_py() or 0) == 0
        ):
            drop.append(name)
    return table.drop_columns(drop) if drop else table


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


def read_xlsx(path: Path, *, sheet: str | None = None) -> RawFile:
    """Read the first sheet (or ``sheet``) of a workbook; the first non-empty row is the
    header and ``lines`` are Excel row numbers. Cells formatted as dates come as ISO
    strings; dates stored as plain numbers stay Excel serial numbers (parsed later, from
    the workbook's own day 0: 1900 or 1904 date system)."""
    import openpyxl
    from openpyxl.utils.datetime import CALENDAR_MAC_1904
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        with warnings.catch_warnings():
            # openpyxl warns about styles and data validation it does not keep: noise here.
            warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
            book = openpyxl.load_workbook(path, read_only=False, data_only=True)
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
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise InputError(
                path, f"feuille « {sheet} » absente ; feuilles : {', '.join(book.sheetnames)}."
            )
        ws = book[sheet] if sheet is not None else book.worksheets[0]
        epoch = "1904-01-01" if book.epoch == CALENDAR_MAC_1904 else "1899-12-30"
        header: list[str] | None = None
        records: list[list[str]] = []
        lines: list[int] = []
        blank = 0
        # Every row comes as wide as the sheet, so no row is ragged; cells under a blank
        # header cell land in a "colonne_<k>" column.
        for row_number, row in enumerate(ws.iter_rows(min_row=1, values_only=True), start=1):
            cells = [_cell_text(v) for v in row]
            if not any(c.strip() for c in cells):
                blank += header is not None
                continue
            if header is None:
                header = cells
                continue
            records.append(cells)
            lines.append(row_number)
    finally:
        book.close()
    if header is None:
        return RawFile(str(path), "xlsx", pa.table({}), np.zeros(0, np.int64), has_header=False)
    names, blank_names = _clean_names(header)
    width = len(names)
    padded = [cells + [""] * (width - len(cells)) for cells in records]
    columns = [[cells[i] for cells in padded] for i in range(width)]
    table = pa.table(
        {n: pa.array(c, pa.large_string()) for n, c in zip(names, columns, strict=True)}
    )
    table = _drop_blank_columns(table, [names[i] for i in blank_names])
    return RawFile(
        str(path),
        "xlsx",
        table,
        np.asarray(lines, np.int64),
        blank_rows=int(blank),
        excel_epoch=epoch,
    )


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
                point = shapely.geometry.shape(geom).representative_point()
                lon, lat, note = repr(point.x), repr(point.y), "representative_point"
            except (ValueError, TypeError, AttributeError, IndexError, KeyError):
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


# --------------------------------------------------------------------------- values
def to_str_series(column: pa.ChunkedArray | pa.Array, index: pd.Index | None = None) -> pd.Series:
    """A pyarrow string column as a pandas ``str`` Series (no copy of the text)."""
    s = column.to_pandas()
    if s.dtype != "str":
        s = s.astype("str")
    if index is not None:
        s.index = index
    return s


def arrow_view(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    """A pandas string Series as pyarrow strings, without copying pandas' pyarrow
    storage (its chunks are kept: combining them would copy every string)."""
    try:
        arr = pa.array(values.array)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return arrow_strings(values)
    if not (pa.types.is_large_string(arr.type) or pa.types.is_string(arr.type)):
        return arrow_strings(values)
    return arr


def arrow_strings(values: pd.Series) -> pa.Array:
    """A pandas string Series as one pyarrow ``large_string`` array (nulls kept)."""
    try:
        arr = pa.array(values.array)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        arr = pa.array(values.astype(object).where(values.notna(), None), type=pa.large_string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.large_string())
    return arr


# "" is left out: replacing it by "" would copy a column for nothing.
_NA_SET = pa.array(
    sorted({v for t in NA_TOKENS for v in (t, t.upper(), t.title())} - {""}), pa.large_string()
)


# The bytes that can begin, and that can precede the last byte of, a character that
# ``utf8_trim_whitespace`` strips (ASCII whitespace and the Unicode spaces U+0085,
# U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000; checked
# against every code point in tests/test_ingest_fastpaths.py).
_WS_LEAD = np.zeros(256, dtype=bool)
_WS_LEAD[: 0x20 + 1] = True
_WS_LEAD[[0xC2, 0xE1, 0xE2, 0xE3]] = True
_WS_BEFORE_LAST = np.zeros(256, dtype=bool)
_WS_BEFORE_LAST[[0x80, 0x81, 0x9A, 0xC2]] = True


def _may_need_trim(chunk: pa.Array) -> bool:
    """Whether some value of a string chunk may start or end with whitespace: a cheap
    over-approximation from its first and last bytes, read in the Arrow buffers."""
    _, offsets_buf, data_buf = chunk.buffers()
    if data_buf is None or len(chunk) == 0:
        return False
    width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    offsets: np.ndarray = np.frombuffer(offsets_buf, dtype=width).astype(np.int64, copy=False)
    offsets = offsets[chunk.offset : chunk.offset + len(chunk) + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8)
    starts, ends = offsets[:-1], offsets[1:]
    filled = ends > starts
    starts, ends = starts[filled], ends[filled]
    if len(starts) == 0:
        return False
    if _WS_LEAD[data[starts]].any():
        return True
    last = data[ends - 1]
    if (last <= 0x20).any():
        return True
    multi = last >= 0x80  # the end of a multi-byte character: look at the byte before
    return bool(multi.any() and _WS_BEFORE_LAST[data[ends[multi] - 2]].any())


def trim_whitespace(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """``pyarrow.compute.utf8_trim_whitespace``, but the column itself when no value
    starts or ends with whitespace (the usual case), which spares copying every string
    of a large column. The check reads the first and last bytes of each value in the
    Arrow buffers (numpy, no new strings)."""
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return pc.utf8_trim_whitespace(column)
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    if any(_may_need_trim(chunk) for chunk in chunks):
        return pc.utf8_trim_whitespace(column)
    return column


def clean_cells(column: pa.ChunkedArray | pa.Array, index: pd.Index | None = None) -> pd.Series:
    """Strip cells and turn missing-value spellings (``NA``, ``null``, ``-``…) into ``""``."""
    arr = trim_whitespace(pc.fill_null(column, ""))
    na = pc.is_in(arr, value_set=_NA_SET)
    if pc.any(na).as_py():
        arr = pc.if_else(na, pa.scalar("", arr.type), arr)
    return to_str_series(arr, index)


def _dictionary_of(column: pa.ChunkedArray | pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Dictionary-encode a string column: its distinct values and, per row, the index
    of its value among them (int32). Chunks keep their place (no concatenation)."""
    encoded = pc.dictionary_encode(column)
    if isinstance(encoded, pa.Array):
        return encoded.dictionary, encoded.indices.to_numpy(zero_copy_only=False)
    if encoded.num_chunks == 0:
        return pa.array([], column.type), np.zeros(0, np.int32)
    first = encoded.chunk(0).dictionary
    if any(not chunk.dictionary.equals(first) for chunk in encoded.chunks[1:]):
        encoded = encoded.unify_dictionaries()
    indices = [chunk.indices.to_numpy(zero_copy_only=False) for chunk in encoded.chunks]
    return encoded.chunk(0).dictionary, np.concatenate(indices)


def clean_labels(
    column: pa.ChunkedArray | pa.Array, index: pd.Index | None = None, *, na_tokens: bool = True
) -> pd.Series:
    """:func:`clean_cells` for columns of labels and text, as a pandas ``category``
    Series whose categories are the cleaned distinct values.

    Labels repeat (categories, statuses, streets, building codes, stock phrases), so
    they are cleaned once per distinct value, and later steps (blank tests, category
    mapping, scrubbing, gathering the accepted rows) work on the distinct values and
    the integer codes instead of a million strings each.

    Parameters
    ----------
    na_tokens
        Also turn missing-value spellings into ``""`` (not for free text, where "-"
        or "NA" may be what was written).
    """
    dictionary, codes = _dictionary_of(pc.fill_null(column, ""))
    cleaned = trim_whitespace(dictionary)
    if na_tokens:
        cleaned = pc.if_else(pc.is_in(cleaned, value_set=_NA_SET), "", cleaned)
    # Cleaning may make two values equal (" a" and "a"): encode once more.
    distinct, remap = _dictionary_of(cleaned)
    codes = remap[codes] if len(codes) else codes
    categories = pd.Index(to_str_series(distinct), dtype="str")
    values = pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(categories))
    return pd.Series(values, index=index)


def extract(values: pd.Series, pattern: str) -> dict[str, pd.Series]:
    """Named groups of an RE2 pattern, per value (``""`` where it does not match).

    Through ``pyarrow.compute`` rather than ``Series.str.extract``, which runs Python's
    ``re`` row by row on pandas' pyarrow-backed strings.
    """
    arr = arrow_strings(values.fillna(""))
    found = pc.extract_regex(arr, pattern)
    out = {}
    for i, field_ in enumerate(found.type):
        part = pc.fill_null(pc.struct_field(found, [i]), "")
        out[field_.name] = to_str_series(part, values.index)
    return out


_FR_DATE = r"[0-9]{1,2}[/.\-][0-9]{1,2}[/.\-](?:[0-9]{4}|[0-9]{2})"
_TIME = r"[0-9]{1,2}[:hH][0-9]{2}(?::[0-9]{2})?"
_ISO = (
    r"[0-9]{4}[\-/][0-9]{2}[\-/][0-9]{2}"
    r"(?:[T ]+[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?)?"
)
_TZ = r"(?:Z|[+\-][0-9]{2}(?::?[0-9]{2})?| ?UTC| ?GMT)"
_SERIAL = r"[0-9]{5}(?:[.,][0-9]+)?"
_FR_FORMATS = (
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y",
    "%d/%m/%y %H:%M",
    "%d/%m/%y %H:%M:%S",
    "%d/%m/%y",
)


_FR_CANONICAL = r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}(?: [0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?)?"


def _leading_days(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Per value, the number written before its first ``/`` when that is one or two
    digits (``"7/03/2024"`` gives 7, ``"07/03"`` 7), else -1.

    Read from the first three bytes of each value in the Arrow buffers (numpy, no new
    strings): the regular expression ``^([0-9]{1,2})/`` through ``extract_regex`` costs
    more than the date parsing it checks.
    """
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    out = []
    for chunk in chunks:
        n = len(chunk)
        _, offsets_buf, data_buf = chunk.buffers()
        if n == 0 or data_buf is None:
            out.append(np.full(n, -1, dtype=np.int64))
            continue
        width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        offsets = np.frombuffer(offsets_buf, dtype=width)[chunk.offset : chunk.offset + n + 1]
        starts = offsets[:-1].astype(np.int64)
        length = offsets[1:].astype(np.int64) - starts
        # Three bytes per value, 0 past its end (a trailing pad keeps the reads in bounds).
        data = np.concatenate((np.frombuffer(data_buf, dtype=np.uint8), np.zeros(3, np.uint8)))
        b = [np.where(length > k, data[starts + k], 0).astype(np.int64) for k in range(3)]
        digit = [(x >= 48) & (x <= 57) for x in b]
        slash = [x == 47 for x in b]
        one = digit[0] & slash[1]
        two = digit[0] & digit[1] & slash[2]
        day = np.where(one, b[0] - 48, np.where(two, (b[0] - 48) * 10 + b[1] - 48, -1))
        out.append(day)
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def _strptime_checked(values: pd.Series, fmt: str) -> pd.Series:
    """``pyarrow.compute.strptime`` (several times faster than ``pd.to_datetime`` on
    distinct values), minus its leniency: it rolls 31/02 over to 2 or 3 March, and
    ``%Y`` takes "24" for the year 24, so the parsed day must equal the written one and
    the year have four digits. For day-first formats (``%d`` first)."""
    arr = arrow_view(values)
    ts = pc.strptime(arr, format=fmt, unit="us", error_is_null=True)
    if isinstance(ts, pa.ChunkedArray):
        ts = ts.combine_chunks()
    micros = np.asarray(
        pc.fill_null(ts.cast(pa.int64()), np.iinfo(np.int64).min).to_numpy(), dtype=np.int64
    )
    stamps = micros.view("datetime64[us]")  # NaT where not parsed
    days = np.asarray(pc.fill_null(pc.day(ts), -2).to_numpy(), dtype=np.int64)
    keep = (days == _leading_days(arr)) & (stamps >= np.datetime64("1000-01-01", "us"))
    out = np.where(keep, stamps, np.datetime64("NaT", "us"))
    return pd.Series(out, index=values.index, dtype="datetime64[us]")


def _fr_dates(values: pd.Series) -> pd.Series:
    """dd/mm/yyyy[ HH:MM[:SS]] (also with ``-`` or ``.``, 2-digit years, ``14h30``).

    The canonical spellings go through :func:`_strptime_checked`, one format after the
    other on what is left; the others are normalised and parsed by ``pd.to_datetime``.
    """
    out = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[us]")
    canonical = values.str.fullmatch(_FR_CANONICAL).to_numpy(dtype=bool)
    pos = np.flatnonzero(canonical)
    left = values.iloc[pos] if len(pos) < len(values) else values
    for fmt in ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y"):
        if len(pos) == 0:
            break
        parsed = _strptime_checked(left, fmt).to_numpy()
        ok = ~np.isnat(parsed)
        out[pos[ok]] = parsed[ok]
        pos, left = pos[~ok], left[~ok]
    other = values[~canonical]
    if not other.empty:
        v = other.str.replace(r"^([0-9]{1,2})[.\-]([0-9]{1,2})[.\-]", r"\1/\2/", regex=True)
        v = v.str.replace(r"([0-9])[hH]([0-9])", r"\1:\2", regex=True)
        v = v.str.replace(r"^([0-9/]+)[ T]+", r"\1 ", regex=True)
        pos = np.flatnonzero(~canonical)
        for fmt in _FR_FORMATS:
            if len(pos) == 0:
                break
            parsed = pd.to_datetime(v, format=fmt, errors="coerce").to_numpy()
            ok = ~np.isnat(parsed)
            out[pos[ok]] = parsed[ok].astype("datetime64[us]")
            pos, v = pos[~ok], v[~ok]
    return pd.Series(out, index=values.index)


def parse_dates(
    values: pd.Series,
    *,
    date_format: str | None = None,
    naive_tz: str | None = None,
    excel_epoch: str = "1899-12-30",
) -> pd.Series:
    """Parse dates written in any of the forms exports use, as naive local time.

    Parameters
    ----------
    values
        Cleaned strings (``""`` for missing).
    date_format
        A ``strptime`` format forced by the configuration, or ``"excel"`` for serial
        numbers; ``None`` recognises, value by value: ``dd/mm/yyyy[ HH:MM[:SS]]``, ISO
        8601 with or without offset (converted to Europe/Paris), Excel serial numbers.
    naive_tz
        Time zone of timestamps written without offset (KoboToolbox writes
        ``_submission_time`` in UTC); ``None``: they are local time already.
    excel_epoch
        Day 0 of Excel serial numbers (``RawFile.excel_epoch``).

    Returns
    -------
    Series
        ``datetime64[us]``, naive Europe/Paris local time; NaT where missing or
        unparseable. Day first: 03/04/2024 is 3 April.
    """
    out = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[us]")
    pos = np.flatnonzero((values != "").to_numpy())
    if len(pos) == 0:
        return pd.Series(out, index=values.index)
    v = values.iloc[pos] if len(pos) < len(values) else values

    def put(where: np.ndarray, parsed: pd.Series) -> None:
        out[pos[where]] = parsed.to_numpy().astype("datetime64[us]")

    if date_format == "excel":
        put(np.ones(len(pos), bool), _serial_dates(v, excel_epoch))
    elif date_format:
        put(
            np.ones(len(pos), bool),
            _to_local(pd.to_datetime(v, format=date_format, errors="coerce"), naive_tz),
        )
    else:
        # The landlords' usual spelling first, in one pass; then each form on what is left.
        first = _strptime_checked(v, "%d/%m/%Y %H:%M").to_numpy()
        done = ~np.isnat(first)
        out[pos[done]] = first[done]
        pos, v = pos[~done], v[~done]
        if len(pos):
            fr = v.str.fullmatch(_FR_DATE + r"(?:[ T]+" + _TIME + r")?").to_numpy(dtype=bool)
            iso = v.str.fullmatch(_ISO).to_numpy(dtype=bool)
            iso_tz = v.str.fullmatch(_ISO + r" ?" + _TZ).to_numpy(dtype=bool)
            serial = v.str.fullmatch(_SERIAL).to_numpy(dtype=bool)
            if fr.any():
                put(fr, _fr_dates(v[fr]))
            if iso.any():
                s = v[iso].str.replace("/", "-", regex=False).str.replace(r"[T ]+", "T", regex=True)
                put(iso, _to_local(pd.to_datetime(s, format="ISO8601", errors="coerce"), naive_tz))
            if iso_tz.any():
                s = (
                    v[iso_tz]
                    .str.replace("/", "-", regex=False)
                    .str.replace(r"[T ]+", "T", regex=True)
                )
                s = s.str.replace(r" ?(UTC|GMT)$", "Z", regex=True)
                put(
                    iso_tz,
                    _to_local(pd.to_datetime(s, format="ISO8601", utc=True, errors="coerce"), None),
                )
            if serial.any():
                put(serial, _serial_dates(v[serial], excel_epoch))
    return pd.Series(out, index=values.index)


def _to_local(parsed: pd.Series, naive_tz: str | None) -> pd.Series:
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        return parsed.dt.tz_convert(LOCAL_TZ).dt.tz_localize(None).astype("datetime64[us]")
    if parsed.dtype == object:  # mixed offsets that to_datetime could not unify
        parsed = pd.to_datetime(parsed, utc=True, errors="coerce")
        return parsed.dt.tz_convert(LOCAL_TZ).dt.tz_localize(None).astype("datetime64[us]")
    if naive_tz:
        aware = parsed.dt.tz_localize(naive_tz, ambiguous="NaT", nonexistent="shift_forward")
        return aware.dt.tz_convert(LOCAL_TZ).dt.tz_localize(None).astype("datetime64[us]")
    return parsed.astype("datetime64[us]")


def _serial_dates(values: pd.Series, epoch: str = "1899-12-30") -> pd.Series:
    """Excel serial day numbers between 20,000 and 80,000 (1954 to 2119 in the 1900 date
    system), counted from ``epoch``."""
    days = parse_numbers(values, decimal=None)[0]
    days = days.where(days.between(20_000, 80_000))
    seconds = (days * 86_400).round()
    return (pd.Timestamp(epoch) + pd.to_timedelta(seconds, unit="s")).astype("datetime64[us]")


_NUMBER = r"[+\-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+\-]?[0-9]{1,3})?"
_SPACES = r"[ \x{00A0}\x{202F}']"


def parse_numbers(values: pd.Series, *, decimal: str | None = None) -> tuple[pd.Series, pd.Series]:
    """Parse decimal numbers, with a decimal comma where the value has one.

    Parameters
    ----------
    values
        Cleaned strings.
    decimal
        ``","`` or ``"."`` to force the decimal mark; ``None`` detects it per value (a
        single comma between digits is a decimal comma).

    Returns
    -------
    numbers, had_comma
        float64 (NaN where missing or not a finite number), and whether the value was
        written with a decimal comma.
    """
    arr = arrow_strings(values.fillna(""))
    arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)
    has_comma = pc.fill_null(pc.match_substring(arr, ","), False)
    if decimal != "." and pc.any(has_comma).as_py():
        fixed = pc.replace_substring(
            pc.replace_substring(arr, ".", "") if decimal == "," else arr, ",", "."
        )
    else:
        fixed = pc.replace_substring(arr, ",", "") if decimal == "." else arr
    try:
        # Clean columns: one cast. Otherwise (spaces, stray text) the careful way below.
        numbers = pc.cast(fixed, pa.float64())
        had_comma = has_comma if decimal != "." else pc.and_(has_comma, pa.scalar(False))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        numbers, had_comma = _parse_numbers_slowly(arr, decimal)
    x = np.array(numbers.to_numpy(zero_copy_only=False), dtype=np.float64)
    x[~np.isfinite(x)] = np.nan
    comma = np.asarray(pc.fill_null(had_comma, False).to_numpy(zero_copy_only=False), dtype=bool)
    return pd.Series(x, index=values.index), pd.Series(comma & ~np.isnan(x), index=values.index)


def _parse_numbers_slowly(arr: pa.Array, decimal: str | None) -> tuple[pa.Array, pa.Array]:
    """:func:`parse_numbers` for columns with spaces or text: value by value."""
    arr = pc.fill_null(arr, "")
    if pc.any(pc.match_substring_regex(arr, _SPACES)).as_py():
        arr = pc.replace_substring_regex(arr, _SPACES, "")  # thousands: "652 345,2"
    if decimal == ",":
        had_comma = pc.match_substring(arr, ",")
        arr = pc.replace_substring(pc.replace_substring(arr, ".", ""), ",", ".")
    elif decimal == ".":
        had_comma = pc.and_(pc.match_substring(arr, ","), pa.scalar(False))
        arr = pc.replace_substring(arr, ",", "")
    else:
        had_comma = pc.match_substring_regex(arr, r"^[+\-]?[0-9]*,[0-9]+(?:[eE][+\-]?[0-9]{1,3})?$")
        arr = pc.if_else(had_comma, pc.replace_substring(arr, ",", "."), arr)
    ok = pc.match_substring_regex(arr, "^" + _NUMBER + "$")
    return pc.cast(pc.if_else(ok, arr, pa.scalar(None, arr.type)), pa.float64()), had_comma


_PT = r"[+\-]?[0-9]+(?:\.[0-9]+)?(?:[eE][+\-]?[0-9]+)?"
_Q = r"['\"]?"
_SP = r"[ \t]*"


def parse_geo_points(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse point strings into (lat, lon) in degrees.

    Recognised, value by value: DansMaRue/OpenDataSoft ``{'lon': 2.33, 'lat': 48.88}``
    (keys in any order, either quote), GeoJSON-like ``"coordinates": [lon, lat]``, and
    the latitude-first pairs of KoboToolbox (``[48.88, 2.33]``), ODK (``48.88 2.33 35
    5``) and OpenDataSoft (``48.88, 2.33``). Regular expressions, never ``eval``.

    Returns
    -------
    lat, lon
        float64, NaN where the value is missing or not a point.
    """
    lat = pd.Series(np.nan, index=values.index)
    lon = pd.Series(np.nan, index=values.index)
    present = values != ""
    if not present.any():
        return lat, lon
    v = values[present]
    keyed_lon = extract(
        v, _Q + r"(?:lon|lng|long|longitude)" + _Q + _SP + ":" + _SP + f"(?P<v>{_PT})"
    )["v"]
    keyed_lat = extract(v, _Q + r"(?:lat|latitude)" + _Q + _SP + ":" + _SP + f"(?P<v>{_PT})")["v"]
    coords = extract(
        v,
        _Q
        + "coordinates"
        + _Q
        + _SP
        + r":"
        + _SP
        + r"\["
        + _SP
        + f"(?P<x>{_PT})"
        + _SP
        + ","
        + _SP
        + f"(?P<y>{_PT})",
    )
    pair = extract(
        v,
        r"^\[?"
        + _SP
        + f"(?P<a>{_PT})"
        + _SP
        + "[,; ]"
        + _SP
        + f"(?P<b>{_PT})"
        + r"(?:[ \t]+[+\-0-9.eE]+)*"
        + _SP
        + r"\]?$",
    )
    lon_s = keyed_lon.where(keyed_lon != "", coords["x"].where(coords["x"] != "", pair["b"]))
    lat_s = keyed_lat.where(keyed_lat != "", coords["y"].where(coords["y"] != "", pair["a"]))
    lat[present] = parse_numbers(lat_s, decimal=".")[0].to_numpy()
    lon[present] = parse_numbers(lon_s, decimal=".")[0].to_numpy()
    return lat, lon
