"""Delimited text files: pyarrow's parser with exact line numbers (ragged files, whose
rows are not all as wide as the header: :mod:`pipelines.ingest.ragged`; the encoding:
:mod:`pipelines.ingest.encoding`; the header's separator and the rows above it:
:mod:`pipelines.ingest.csvheader`)."""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from pipelines.ingest.csvheader import (
    below_titles,
    header_separator,
    headers_again,
    moves_a_column,
    renamed_notes,
    two_row_header,
    under_their_headers,
)
from pipelines.ingest.encoding import (
    control_lines,
    decode,
    each_line_in_its_encoding,
    encoding_mismatches,
    other_encoding,
    utf8_bytes,
)
from pipelines.ingest.ragged import (
    drop_blank_columns,
    drop_blank_rows,
    parse_options,
    read_by_width,
    read_exact,
    stray_quotes,
    well_quoted,
)
from pipelines.ingest.rawfile import MalformedRows, RawFile
from pipelines.ingest.xlsxheader import split_title_notes

log = logging.getLogger(__name__)


_NOT_SPACE = re.compile(rb"[^ \t\n\v\f\r]")


#: Excel's separator line: « sep=; » alone on a file's first line, which Excel writes
#: (and reads) before the header of a CSV whose separator is not the locale's.
_SEP_LINE = re.compile(rb"sep=([\t!-~])[ \t]*(?=\n|$)", re.IGNORECASE)


def without_sep_line(buf: bytes) -> tuple[bytes, str | None]:
    """``buf`` (UTF-8, ``\n`` line ends, no BOM) with Excel's « sep=X » first line made
    blank, and X; ``buf`` and ``None`` without one. The line was read as the header (a
    table of one column « sep=; », the file refused); blank, it keeps the lines'
    numbers, and every reader skips it as it skips a blank line before the header."""
    found = _SEP_LINE.match(buf)
    if found is None:
        return buf, None
    return buf[found.end() :], found.group(1).decode("ascii")


def without_eof_mark(buf: bytes) -> bytes:
    """``buf`` (``\\n`` line ends) without the Ctrl-Z (0x1A) that DOS programs write at
    the end of a text file, alone after its last line: else it was read as one more
    row, of one field, and rejected as malformed."""
    end = buf.rstrip(b"\n")
    return end[:-1] if end.endswith(b"\x1a") else buf


def first_line(buf: bytes) -> tuple[int, int, int]:
    """Where the first non-blank line of ``buf`` starts and ends, and its 1-based
    number (the end of ``buf`` when every line is blank)."""
    start, line_no = 0, 1
    while True:
        end = buf.find(b"\n", start)
        end = len(buf) if end < 0 else end
        if buf[start:end].strip() or end == len(buf):
            return start, end, line_no
        start, line_no = end + 1, line_no + 1


def _one_line(name: str) -> str:
    """A header name over several lines (« Date de⏎création », a quoted CSV cell or a
    workbook's cell with a line break) on one, each break and the spaces around it one
    space: as every message names it, and as a configured name matches it."""
    parts = name.splitlines()
    return " ".join(p.strip() for p in parts if p.strip()) if len(parts) > 1 else name


def _clean_names(names: list[str]) -> tuple[list[str], list[int]]:
    """Strip header names, put them on one line, name blank ones, make them unique;
    return the positions of the blank ones (candidates for a trailing separator)."""
    out: list[str] = []
    blank: list[int] = []
    seen: set[str] = set()
    for i, raw_name in enumerate(names):
        name = _one_line(raw_name.replace("\ufeff", "")).strip()
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


def _trailing_blanks(blank: list[int], n: int) -> int:
    """How many of a header's ``n`` names, at its end, are blank (``blank``: their
    positions, :func:`_clean_names`)."""
    k = 0
    while k < len(blank) and blank[len(blank) - 1 - k] == n - 1 - k:
        k += 1
    return k


def _read_ragged(
    path: Path, buf: bytes, body_start: int, names: list[str], sep: str, *, stray: bool
) -> tuple[pa.Table, np.ndarray, MalformedRows]:
    """The rows of a CSV whose lines are not all as wide as its header (or whose quotes
    pyarrow would garble: ``stray``), by width (:func:`read_by_width`), else line by
    line (:func:`read_exact`): the table, each row's line, the malformed rows."""
    by_width = None if stray else read_by_width(buf, body_start, names, sep)
    if by_width is not None:
        log.info("%s : lignes irrégulières, lues par nombre de champs", path)
        return by_width
    log.info("%s : lecture ligne à ligne (lignes irrégulières ou guillemets)", path)
    # Strict: bytes only presumed UTF-8 (cp1252 with an ASCII header) raise here, and
    # read_csv decodes the file in its own encoding, as on the fast path.
    table, lines, rows = read_exact(buf.decode("utf-8"), names, sep)
    return table, lines, MalformedRows(rows)


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


def read_csv(
    path: Path,
    *,
    encoding: str | None = None,
    separator: str | None = None,
    labels: Callable[[str], bool] | None = None,
    personal: Callable[[str], bool] | None = None,
) -> RawFile:
    """Read a delimited text file, every cell as a string.

    ``labels(name)`` says which columns hold labels (few distinct values): pyarrow reads
    them dictionary-encoded, which spares building a string per row that the cleaning
    would encode again. Other columns, and every column of the slower paths, are
    ``large_string``.

    ``personal(name)`` says which columns hold personal data (names, phone numbers…):
    the fast path does not read them (they never leave ingestion, and converting them
    costs time and memory), unless a row is blank but for them: it is then read again
    with them, so that such a row is still a row, as on the slower paths, which read
    every column.

    The fast path hands the bytes to pyarrow's multithreaded parser; when its rows match
    the file's lines one to one (no blank line, no line break inside a quoted value),
    line numbers follow, else :func:`_records` finds where each row starts. When pyarrow
    meets a ragged row, or its rows do not line up with the records found (stray
    quotes), the file is re-read with Python's ``csv`` module, which gives exact line
    numbers, lets a trailing separator be ignored and sets other ragged rows aside as
    malformed.
    """
    data = path.read_bytes()
    buf, enc, presumed = utf8_bytes(data, encoding)
    garbled = np.zeros(0, np.int64)
    if not presumed and enc in ("cp1252", "latin-1"):
        garbled = encoding_mismatches(data, enc)
        if len(garbled):  # rows of a UTF-8 export among them: each in its encoding
            lf = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n") if b"\r" in data else data
            buf = each_line_in_its_encoding(lf, enc, garbled)
    # Detected latin-1 (bytes cp1252 leaves undefined): the lines it cannot read as text.
    foreign = control_lines(data) if enc == "latin-1" and not encoding else garbled[:0]
    other: tuple[str, str, str] | None = None
    del data
    if b"\r" in buf:
        buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    buf, named = without_sep_line(without_eof_mark(buf))
    separator = separator or named
    if not buf or buf.isspace():
        return RawFile(
            str(path), "csv", pa.table({}), np.zeros(0, np.int64), encoding=enc, has_header=False
        )
    try:
        raw = _parse_csv(path, buf, enc, separator, labels=labels, personal=personal)
    except UnicodeDecodeError:
        if not presumed:
            raise
        # Presumed UTF-8, but it was not (cp1252 or latin-1): decode, then parse again.
        text, enc = decode(buf, encoding)
        garbled = encoding_mismatches(buf, enc)
        if len(garbled):  # rows of another export among them: each in its encoding
            text = each_line_in_its_encoding(buf, enc, garbled).decode("utf-8")
        # Detected cp1252 (or latin-1: a byte cp1252 leaves undefined, as cp850's « É »
        # 0x90 or Mac Roman's « ç » 0x8D) whose words are words in cp850 or Mac Roman
        # only: the lines it garbles.
        other = other_encoding(buf) if enc in ("cp1252", "latin-1") else None
        if enc == "latin-1" or other is not None:
            foreign = control_lines(buf)
        buf = text.encode("utf-8")
        del text
        raw = _parse_csv(path, buf, enc, separator, labels=labels, personal=personal)
    if len(garbled):
        log.warning(
            "%s : %d ligne(s) ne sont pas en %s (ligne %s…)", path, len(garbled), enc, garbled[0]
        )
    raw.encoding_mismatch_lines = garbled
    raw.foreign_encoding_lines = foreign
    raw.other_encoding = other
    log_unclosed_quotes(raw)
    return raw


def log_unclosed_quotes(raw: RawFile) -> None:
    """Tell the lines of ``raw`` (numbered as in its file) that open a quote never
    closed, each read alone."""
    where = raw.malformed.lines[raw.malformed.unclosed_quote]
    if len(where):
        log.warning(
            "%s : guillemet ouvert et jamais fermé, ligne(s) %s : lue(s) seule(s)",
            raw.path,
            ", ".join(str(n) for n in where[:10]),
        )


#: The type of label columns read by pyarrow (see :func:`read_csv`).
_LABEL_TYPE = pa.dictionary(pa.int32(), pa.large_string())


def _parse_csv(
    path: Path,
    buf: bytes,
    enc: str,
    separator: str | None,
    *,
    labels: Callable[[str], bool] | None = None,
    personal: Callable[[str], bool] | None = None,
    offset: int = 0,
) -> RawFile:
    """Parse UTF-8 CSV bytes with ``\\n`` line ends (see :func:`read_csv`); ``offset``:
    the lines of the file between the header and ``buf``'s rows (a part of the file,
    :mod:`pipelines.ingest.chunks`), for a header found again to be told at its line."""
    # The header is the first non-blank line (or record, when it opens a quote).
    start, end, line_no = first_line(buf)
    records: _Records | None = None
    if buf[start:end].count(b'"') % 2:
        records = _records(buf)
        h = int(np.flatnonzero(records.starts >= start)[0])
        end, line_no = int(records.ends[h]), int(records.first_line[h])
    header_text = buf[start:end].decode("utf-8")
    sep = header_separator(header_text, separator)
    header = next(csv.reader([header_text], delimiter=sep, strict=False), [])
    two_rows = None
    if records is None and len(header) == 1:
        two_rows = below_titles(buf, start, line_no, separator)
    elif records is None:
        two_rows = two_row_header(buf, start, end, header, sep, line_no)
    if two_rows is not None:
        # A row of groups over the header (a merged header copied to CSV): read again
        # with the two rows made one, at the second's line; the first left blank.
        merged_buf, notes = two_rows
        raw = _parse_csv(path, merged_buf, enc, separator, labels=labels, personal=personal)
        raw.merged_header, raw.title_lines = split_title_notes(notes)
        return raw
    names, blank_names = _clean_names(header)
    over_lines = tuple(n for h, n in zip(header, names, strict=True) if "\n" in h)
    body_start = end + 1
    if _NOT_SPACE.search(buf, body_start) is None:
        table = pa.table({n: pa.array([], pa.large_string()) for n in names})
        return RawFile(
            str(path),
            "csv",
            table,
            np.zeros(0, np.int64),
            encoding=enc,
            separator=sep,
            names_over_lines=over_lines,
        )
    has_quotes = buf.find(b'"', body_start) >= 0
    # A quote closing a value before its end: pyarrow would garble the value.
    stray = has_quotes and stray_quotes(buf, body_start, sep)
    # pyarrow skips empty lines, and a quoted value may hold line breaks: each makes the
    # rows fewer than the lines. As many rows as lines, every line is one row.
    dictionary = [bool(labels and labels(name)) for name in names]
    skip = [bool(personal and personal(name)) for name in names]
    table = None
    if not stray:
        table = _read_fast(
            buf, body_start, names, sep, dictionary, skip, newlines_in_values=has_quotes
        )
    n_lines = buf.count(b"\n", body_start) + (0 if buf.endswith(b"\n") else 1)
    lines: np.ndarray | None = None
    if table is not None and table.num_rows == n_lines:
        # The first line under the header, which may span lines (a quoted name over two).
        below = line_no + buf.count(b"\n", start, end) + 1
        lines = np.arange(below, below + n_lines, dtype=np.int64)
    elif table is not None:
        records = records or _records(buf)
        body = np.flatnonzero((records.ends > records.starts) & (records.starts >= body_start))
        inner = int(records.inner_newlines[body].sum())
        found = (
            sum(
                int(pc.sum(pc.count_substring(col.cast(pa.large_string()), "\n")).as_py() or 0)
                for col in table.columns
            )
            if inner
            else 0
        )
        if (
            table.num_rows == len(body)
            and found == inner
            and _multiline_recordswell_quoted(buf, records, body, sep)
        ):
            lines = records.first_line[body].astype(np.int64)
    malformed = MalformedRows()
    if table is None or lines is None:
        skip = [False] * len(names)  # every column read
        table, lines, malformed = _read_ragged(path, buf, body_start, names, sep, stray=stray)
        # A separator at the end of the header only (« …;Logement; »): its last names
        # blank, most rows as wide as the names before them. Read without them; before,
        # every row was rejected one field short.
        k = _trailing_blanks(blank_names, len(names))
        short = np.count_nonzero(malformed.n_fields == len(names) - k)
        if k and 2 * short > len(lines) + len(malformed):
            names, header, blank_names = names[:-k], header[:-k], blank_names[:-k]
            table, lines, malformed = _read_ragged(path, buf, body_start, names, sep, stray=stray)
    if any(skip) and moves_a_column(table, header, [i for i, s in enumerate(skip) if not s]):
        # A header again with its columns moved: every column read to put them back.
        return _parse_csv(path, buf, enc, separator, labels=labels, offset=offset)
    again = headers_again(table, header)
    renamed = renamed_notes(str(path), again, lines + offset)
    if again:
        # Its line is told in rejected.csv (a header repeated), numbered as in the file.
        log.warning("%s : en-tête répété, colonnes déplacées ou renommées", path)
        table = under_their_headers(table, again)
    table, lines, n_blank = drop_blank_rows(table, lines)
    if n_blank and any(skip):
        # A row blank but for its personal columns is a row: read them this time.
        return _parse_csv(path, buf, enc, separator, labels=labels, offset=offset)
    table = drop_blank_columns(table, [names[i] for i in blank_names])
    return RawFile(
        str(path),
        "csv",
        table,
        lines,
        malformed,
        encoding=enc,
        separator=sep,
        blank_rows=n_blank,
        names_over_lines=over_lines,
        renamed_header=tuple(renamed),
    )


def _multiline_recordswell_quoted(
    buf: bytes, records: _Records, body: np.ndarray, sep: str
) -> bool:
    """Whether every record over several lines is well quoted (see
    :func:`pipelines.ingest.ragged.well_quoted`): else a quote left open may have made
    many rows one, and the file is read line by line (see
    :func:`pipelines.ingest.ragged.read_exact`)."""
    for k in body[records.inner_newlines[body] > 0]:
        text = buf[int(records.starts[k]) : int(records.ends[k])].decode("utf-8", "replace")
        if not well_quoted(text.split("\n"), sep):
            return False
    return True


def _read_fast(
    buf: bytes,
    offset: int,
    names: list[str],
    sep: str,
    dictionary: list[bool],
    skip: list[bool],
    *,
    newlines_in_values: bool,
) -> pa.Table | None:
    """Parse the rows after the header with pyarrow; None when a row is ragged.
    Columns marked in ``dictionary`` come dictionary-encoded; those marked in ``skip``
    are parsed (a ragged row is still seen) but not converted, and left out.

    Raises UnicodeDecodeError when the bytes are not valid UTF-8.
    """
    positional = [f"c{i}" for i in range(len(names))]
    kept = [name for name, skipped in zip(names, skip, strict=True) if not skipped]

    def parse(newlines: bool) -> pa.Table:
        return pacsv.read_csv(
            pa.py_buffer(buf)[offset:],
            # 4 MB blocks rather than 1 MB: as fast on small files, a fifth fewer
            # seconds and a quarter as many chunks on a million rows.
            read_options=pacsv.ReadOptions(column_names=positional, block_size=1 << 22),
            parse_options=parse_options(sep, newlines=newlines),
            convert_options=pacsv.ConvertOptions(
                column_types={
                    name: _LABEL_TYPE if coded else pa.large_string()
                    for name, coded in zip(positional, dictionary, strict=True)
                },
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                include_columns=[
                    p for p, skipped in zip(positional, skip, strict=True) if not skipped
                ],
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
            return parse(False).rename_columns(kept)
        except pa.ArrowInvalid:
            pass
    try:
        table = parse(newlines_in_values)
    except pa.ArrowInvalid as err:
        # pyarrow's own words for bytes that are not UTF-8 (a parse error quotes the
        # row, which may well say "UTF8": that is a ragged row, not an encoding).
        if "conversion error" in str(err) and "invalid UTF8" in str(err):
            raise UnicodeDecodeError("utf-8", b"", 0, 1, str(err)) from err
        return None
    return table.rename_columns(kept)
