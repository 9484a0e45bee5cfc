"""A large delimited file read part by part, each part a :class:`RawFile` with the
file's own line numbers, so that memory follows the part's size, not the file's.

The file is cut only between records: after a line end preceded by an even number of
quotes (RFC 4180 doubles a quote inside a value, which keeps the parity; the same rule
as :func:`pipelines.ingest.csvfile._records`), so a value over several lines is never
cut. Each part is parsed by the reader of whole files
(:func:`pipelines.ingest.csvfile._parse_csv`) below the file's header, and its line
numbers are moved down by the lines before it. The encoding is detected once for the
whole file, by the rule of :func:`pipelines.ingest.encoding.decode`, in a first pass
that holds one block at a time. Each part carries the lines the reader of whole files
notes in it (lines in another encoding; a cp850 or Mac Roman file, told by the file's
first bytes, :func:`pipelines.ingest.encoding.other_encoding`): :func:`notes_of_parts`
puts them together for the file's notes
(:func:`pipelines.ingest.filenotes.reading_notes`).

What the reader of whole files decides over the whole file is kept whole where it
matters: a file in UTF-16, or whose header spans several lines or has an unnamed
column (dropped when empty in every row), is read whole, in one part. A ragged row
(more or fewer fields than the header) is judged within its part: a row with trailing
empty fields is a row with a trailing separator when most lines *of its part* are as
wide and no row as wide holds something there.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa

from pipelines.ingest.csvfile import (
    _clean_names,
    _parse_csv,
    first_line,
    header_separator,
    log_unclosed_quotes,
    without_eof_mark,
    without_sep_line,
)
from pipelines.ingest.encoding import (
    _BOM8,
    _SAMPLE_BYTES,
    _UNDEFINED_CP1252,
    _canonical_encoding,
    control_lines,
    each_line_in_its_encoding,
    encoding_mismatches,
    not_utf8_encoding,
    other_encoding,
)
from pipelines.ingest.rawfile import MalformedRows, RawFile
from pipelines.ingest.readers import (
    _check_not_binary,
    _check_regular_file,
    _check_table_like,
    delimited_format,
    detect_format,
    not_csv_error,
    read_file,
)

log = logging.getLogger(__name__)

#: Bytes of a part (about 300,000 rows of a 15-column export).
CHUNK_BYTES = 64 * 2**20


def read_file_chunks(
    path: Path,
    fmt: str,
    *,
    encoding: str | None = None,
    separator: str | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> Iterator[RawFile]:
    """The file's rows part by part (a delimited file), or whole in one part (XLSX,
    JSON, GeoJSON, and the delimited files read whole: see the module).

    Every part has the columns, format, encoding and separator of the first; their
    rows, malformed rows and blank rows add up to the file's, with the same line
    numbers as :func:`pipelines.ingest.readers.read_file` gives them; so do the lines
    its encoding notes (``encoding_mismatch_lines``, ``foreign_encoding_lines``, with
    ``other_encoding``: :func:`notes_of_parts`).

    Raises
    ------
    OSError, InputError
        As :func:`pipelines.ingest.readers.read_file`.
    """
    _check_regular_file(path)
    detected = detect_format(path, fmt)
    if detected not in ("csv", "kobo", "odk"):
        yield read_file(path, fmt, encoding=encoding, separator=separator)
        return
    _check_not_binary(path)
    enc = _file_encoding(path, encoding, chunk_bytes)
    if enc.startswith(("utf-16", "utf-32")) or _header_needs_whole_file(
        path, enc, separator, chunk_bytes
    ):
        yield read_file(path, fmt, encoding=encoding, separator=separator)
        return
    # A file detected as cp1252 or latin-1 whose words are cp850's or Mac Roman's:
    # judged on its first bytes, as the reader of whole files judges it.
    other = None
    if not encoding and enc in ("cp1252", "latin-1"):
        with path.open("rb") as fh:
            other = other_encoding(fh.read(_SAMPLE_BYTES))
    header: bytes | None = None
    sep = separator
    lines_before = 0  # lines of the file before the part (header included)
    blank = b""  # blank lines before the header, kept for the first part
    for k, (start, part) in enumerate(_record_parts(path, chunk_bytes)):
        buf, garbled = _utf8(part, enc, first=k == 0)
        if header is None and (blank + buf).isspace():
            blank += buf
            continue
        before = lines_before + blank.count(b"\n")  # lines of the file before ``part``
        buf, blank = blank + buf, b""
        # The part's line 2 is the file's line lines_before + 1.
        offset = 0 if header is None else lines_before - 1
        raw = _parse_part(path, buf if header is None else header + buf, enc, sep, offset)
        if raw.malformed.unclosed_quote.any() and start + len(part) < path.stat().st_size:
            # A quote left open: the quotes' parity no longer says where records end
            # after it, the rest of the file is read with this part, line by line.
            log.info("%s : guillemet jamais fermé, la suite du fichier est lue d'un bloc", path)
            with path.open("rb") as fh:
                fh.seek(start)
                part = fh.read()
            buf, garbled = _utf8(part, enc, first=k == 0)
            raw = _parse_part(path, buf if header is None else header + buf, enc, sep, offset)
        _note_encoding(raw, part, before, enc, garbled, detected=not encoding, other=other)
        if header is None:
            _check_table_like(raw)
            sep = raw.separator
            header = _header_line(buf)
        else:
            raw.lines = raw.lines + offset
            raw.malformed = raw.malformed.shifted(offset)
        raw.format = delimited_format(raw.columns, detected, fmt)
        lines_before += buf.count(b"\n")
        log_unclosed_quotes(raw)
        yield raw
        if raw.malformed.unclosed_quote.any():
            return
    if header is None:  # an empty file, or blank lines only
        yield read_file(path, fmt, encoding=encoding, separator=separator)


def _note_encoding(
    raw: RawFile,
    part: bytes,
    before: int,
    enc: str,
    garbled: np.ndarray,
    *,
    detected: bool,
    other: tuple[str, str, str] | None,
) -> None:
    """Set on a part read the lines of the file that the reader of whole files
    (:func:`pipelines.ingest.csvfile.read_csv`) notes in it, by the same functions:
    lines its encoding garbles (``encoding_mismatch_lines``) and, in a file detected as
    latin-1 or in another encoding (``other``), lines holding bytes 0x80-0x9F
    (``foreign_encoding_lines``). ``part`` is its bytes as in the file, ``before`` the
    file's lines before it, ``garbled`` its lines not in ``enc`` (:func:`_utf8`, which
    read each in its encoding)."""
    raw.encoding_mismatch_lines = garbled + before
    if detected and (enc == "latin-1" or other is not None):
        raw.foreign_encoding_lines = control_lines(part) + before
    raw.other_encoding = other


def notes_of_parts(notes: RawFile | None, part: RawFile) -> RawFile:
    """What the parts of a file read so far leave to note
    (:func:`pipelines.ingest.filenotes.reading_notes`), ``part`` added: a file without
    rows holding every part's noted lines, for one note per file, as when it is read
    whole."""
    if notes is None:
        return replace(
            part,
            table=pa.table({}),
            lines=np.zeros(0, np.int64),
            malformed=MalformedRows(),
        )
    notes.encoding_mismatch_lines = np.concatenate(
        (notes.encoding_mismatch_lines, part.encoding_mismatch_lines)
    )
    notes.foreign_encoding_lines = np.concatenate(
        (notes.foreign_encoding_lines, part.foreign_encoding_lines)
    )
    notes.renamed_header += part.renamed_header
    return notes


def _parse_part(path: Path, buf: bytes, enc: str, sep: str | None, offset: int) -> RawFile:
    try:
        return _parse_csv(path, buf, enc, sep, offset=offset)
    except csv.Error:  # a carriage return inside a field of a binary file's header
        raise not_csv_error(path) from None


def _file_encoding(path: Path, encoding: str | None, block: int) -> str:
    """The file's encoding, given or detected over the whole file by the rule of
    :func:`pipelines.ingest.encoding.decode`, one block at a time."""
    with path.open("rb") as fh:
        head = fh.read(4)
    if encoding:
        enc = _canonical_encoding(encoding)
        if enc in ("utf-8", "utf-8-sig"):
            return "utf-8-sig" if head.startswith(_BOM8) else "utf-8"
        return enc
    if head.startswith(_BOM8):
        return "utf-8-sig"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    valid, replaced, high, letters, undefined = True, 0, 0, 0, False
    for part in _line_blocks(path, block):
        try:
            text = part.decode("utf-8")
        except UnicodeDecodeError:
            valid = False
            text = part.decode("utf-8", errors="replace")
        bad = text.count("\ufffd")
        replaced += bad
        letters += len(text) - len(text.encode("ascii", "ignore")) - bad
        high += int(np.count_nonzero(np.frombuffer(part, dtype=np.uint8) >= 0x80))
        undefined = undefined or any(b in part for b in _UNDEFINED_CP1252)
    if valid:
        return "utf-8"
    return not_utf8_encoding(high, replaced, letters, lambda: undefined)


def _line_blocks(path: Path, block: int) -> Iterator[bytes]:
    """The file's bytes in blocks of about ``block`` bytes cut after a line feed (an
    ASCII byte, which no UTF-8 sequence holds: decoding the blocks one by one decodes
    the file)."""
    carry = b""
    with path.open("rb") as fh:
        while data := fh.read(block):
            data = carry + data
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                carry = data
                continue
            carry = data[cut:]
            yield data[:cut]
    if carry:
        yield carry


def _record_parts(path: Path, block: int) -> Iterator[tuple[int, bytes]]:
    """The file's bytes in parts of about ``block`` bytes, each ending after a line feed
    preceded by an even number of quotes since the file's start (a record's end), with
    where each starts in the file; a part grows until it holds one."""
    carry, start = b"", 0
    with path.open("rb") as fh:
        while data := fh.read(block):
            data = carry + data
            cut = _last_record_end(data)
            if cut == 0:
                carry = data
                continue
            carry = data[cut:]
            yield start, data[:cut]
            start += cut
    if carry:
        yield start, carry


def _last_record_end(data: bytes) -> int:
    """Where the last record of ``data`` (which starts at a record) ends: after the
    last line feed preceded by an even number of quotes; 0 when none is."""
    if b'"' not in data:
        return data.rfind(b"\n") + 1
    a = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(a == 10)
    quotes = np.flatnonzero(a == 34)
    even = newlines[(np.searchsorted(quotes, newlines) & 1) == 0]
    return int(even[-1]) + 1 if len(even) else 0


def _utf8(part: bytes, enc: str, *, first: bool) -> tuple[bytes, np.ndarray]:
    """A part's bytes as UTF-8 with ``\\n`` line ends (as
    :func:`pipelines.ingest.csvfile.read_csv` makes the file's), each line in its
    encoding, and the part's lines not in ``enc`` (:func:`encoding_mismatches`)."""
    if b"\r" in part:
        part = part.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    garbled = np.zeros(0, np.int64)
    if enc in ("utf-8", "utf-8-sig"):
        bom = first and part.startswith(_BOM8)
        try:
            part.decode("utf-8")
        except UnicodeDecodeError:  # rows of a cp1252 export among them: in cp1252
            garbled = encoding_mismatches(part, enc)
            part = each_line_in_its_encoding(part, enc, garbled)
        if bom:
            part = part.removeprefix(_BOM8)
    else:
        garbled = encoding_mismatches(part, enc)  # rows of a UTF-8 export: in UTF-8
        if len(garbled):
            part = each_line_in_its_encoding(part, enc, garbled)
        else:
            part = part.decode(enc, errors="replace").encode("utf-8")
    # The last part's only: the others end with "\n".
    return without_eof_mark(part), garbled


def _header_line(buf: bytes) -> bytes:
    """The header line of a file's first part (its first non-blank line), line feed
    included."""
    start, end, _ = first_line(buf)
    return buf[start:end] + b"\n"


def _header_needs_whole_file(path: Path, enc: str, separator: str | None, block: int) -> bool:
    """Whether the file must be read whole: its header opens a quote (it spans lines),
    or has an unnamed column (dropped only when empty in the whole file) or one cell only
    (a title above the header), or Excel's « sep=; » line comes before it (a file Excel
    wrote or reads: a million rows at most, :func:`pipelines.ingest.csvfile.without_sep_line`)."""
    with path.open("rb") as fh:
        head = fh.read(block)
    cut = head.rfind(b"\n") + 1 or len(head)
    text, _ = _utf8(head[:cut], enc, first=True)
    if without_sep_line(text)[1] is not None:
        return True
    line = _header_line(text)
    if line.count(b'"') % 2:
        return True
    header_text = line[:-1].decode("utf-8")
    sep = header_separator(header_text, separator)
    names = next(csv.reader([header_text], delimiter=sep, strict=False), [])
    _, blank = _clean_names(names)
    if blank:
        log.info("%s : colonne sans nom dans l'en-tête, fichier lu en entier", path)
    # One cell: a title above the header (csvheader.below_titles), found in the whole file.
    return bool(blank) or len(names) == 1
