"""Delimited files whose rows are not all as wide as the header (ragged): read width by
width with pyarrow's parser where each line is one record (:func:`read_by_width`), else
line by line with Python's :mod:`csv` module, which tells each malformed row by its line
(:func:`read_exact`); and the blank rows and columns such files carry. The file's
reading, its header and its encoding are :mod:`pipelines.ingest.csvfile`'s.
"""

from __future__ import annotations

import csv

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from pipelines.ingest.rawfile import Malformed, MalformedRows
from pipelines.ingest.values import flags


def parse_options(sep: str, *, newlines: bool) -> pacsv.ParseOptions:
    """How every CSV of Vigie is split: RFC 4180 quotes, no escape character, blank
    lines skipped; values over several lines only where ``newlines``."""
    return pacsv.ParseOptions(
        delimiter=sep,
        quote_char='"',
        double_quote=True,
        escape_char=False,
        newlines_in_values=newlines,
        ignore_empty_lines=True,
    )


class _Lines:
    """The physical lines of a text, fed one by one to :func:`csv.reader`, from a
    position that can be moved back (see :func:`read_exact`)."""

    def __init__(self, text: str) -> None:
        # Lines end at "\n" only (the callers replaced "\r\n" and "\r"), as for
        # io.StringIO(newline=""); str.splitlines would also cut at \x0b, \x1c, U+2028…
        self.lines = text.split("\n")
        if self.lines and self.lines[-1] == "":
            self.lines.pop()
        self.lines = [line + "\n" for line in self.lines]
        if self.lines and not text.endswith("\n"):
            self.lines[-1] = self.lines[-1][:-1]
        self.pos = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.pos >= len(self.lines):
            raise StopIteration
        self.pos += 1
        return self.lines[self.pos - 1]


def well_quoted(lines: list[str], sep: str) -> bool:
    """Whether lines read as one record are one record by RFC 4180: every quoted value
    closed, and closed right before a separator or the line end."""
    try:
        return len(list(csv.reader(lines, delimiter=sep, strict=True))) == 1
    except csv.Error:
        return False


def stray_quotes(buf: bytes, start: int, sep: str) -> bool:
    """Whether a line of ``buf`` after ``start`` holds a quote that closes a quoted value
    before its end: ``"Fuite \\"urgente\\" cage B"`` (a quote escaped by a backslash,
    as MySQL and PHP write it) or ``"Fuite" urgente``. pyarrow, as Python's ``csv``
    module when not strict, reads such a value garbled without a word
    (``Fuite \\urgente\\" cage B"``, ``Fuite urgente``): :func:`read_exact` reads it as
    written.

    Such a quote stands between two characters that are neither a quote, a separator
    nor a line end (found with numpy); a line holding one is then parsed strictly (a
    quote inside a value without quotes, ``Fuite "urgente" cage``, is read as written
    by every parser: no stray quote)."""
    code = sep.encode()
    a = np.frombuffer(buf, dtype=np.uint8)[start:]
    quotes = _positions(a, 34)
    if len(code) != 1 or not len(quotes):
        return False
    inner = quotes[(quotes > 0) & (quotes < len(a) - 1)]

    def plain(x: np.ndarray) -> np.ndarray:  # neither a quote, a line end nor sep
        return (x != 34) & (x != 10) & (x != code[0])

    odd = inner[plain(a[inner - 1]) & plain(a[inner + 1])]
    seen = -1
    for q in odd.tolist():
        begin = buf.rfind(b"\n", start, start + q) + 1 or start
        if begin <= seen:
            continue
        seen = begin
        end = buf.find(b"\n", start + q)
        line = buf[begin : end if end >= 0 else len(buf)].decode("utf-8", "replace")
        try:
            list(csv.reader([line], delimiter=sep, strict=True))
        except csv.Error as err:
            if "unexpected end of data" not in str(err):  # else a value over lines
                return True
    return False


def _as_written(line: str, sep: str, *, unclosed: bool) -> list[str] | None:
    """The fields of a line whose quotes are not RFC 4180's (:func:`stray_quotes`), as
    written: its quotes escaped by a backslash read as quotes where that makes it one
    well-quoted record (``"Fuite \\"urgente\\" cage B"``: « Fuite "urgente" cage B »),
    else split at every separator, the quotes kept as characters (``"Fuite" urgente``)
    but those around a well-quoted value (``"3, rue A"``: « 3, rue A »); None for a
    quote left open (``unclosed``) that backslashes do not explain."""
    if '\\"' in line:
        try:
            rows = list(csv.reader([line.replace('\\"', '""')], delimiter=sep, strict=True))
        except csv.Error:
            rows = []
        if len(rows) == 1:
            return rows[0]
    if unclosed:
        return None
    return [
        f[1:-1].replace('""', '"')
        if len(f) > 1 and f[0] == f[-1] == '"' and '"' not in f[1:-1].replace('""', "")
        else f
        for f in line.split(sep)
    ]


def read_by_width(
    buf: bytes, body_start: int, names: list[str], sep: str
) -> tuple[pa.Table, np.ndarray, MalformedRows] | None:
    """Read a file with ragged rows by pyarrow, the lines grouped by their number of
    fields; None when the file needs :func:`read_exact` (a line with an odd number of
    quotes: a value over several lines or a quote left open; a line of one field).

    The fields of a line are counted with numpy: its separators, less those between
    the two quotes of a pair (RFC 4180 doubles a quote inside a value, which keeps the
    pairs). pyarrow then parses each group of lines as wide as one another,
    and checks the count: a group it cannot parse sends the file to the slower path.
    As in :func:`read_exact`, the rows as wide as the header are rows, rows wider by
    empty fields only are rows with trailing separators where most lines are as wide or
    in a block of such rows (:func:`in_blocks`; unless rows as wide hold something
    there: then all are shifted, malformed), and the others are malformed.
    This spares Python's ``csv`` module, and one Python object per row, on a file whose
    every line is ragged (a comma too many in every address: a million malformed rows).
    """
    if len(sep.encode()) != 1:
        return None
    a = np.frombuffer(buf, dtype=np.uint8)[body_start:]
    body = memoryview(buf)[body_start:]
    ncol = len(names)
    nl = _positions(a, 10)
    ends = nl if (len(a) and a[-1] == 10) else np.append(nl, len(a))
    starts = np.concatenate(([0], nl + 1))[: len(ends)]
    n = len(ends)
    quotes = _positions(a, 34)
    quotes_per_line = np.diff(np.searchsorted(quotes, ends), prepend=0)
    if (quotes_per_line & 1).any():
        return None
    empty_line = (ends - starts) == 0
    nonempty = np.flatnonzero(~empty_line)
    parsed: dict[int, pa.Table] = {}  # by width, tables of every non-empty line
    width = None
    if len(nonempty):
        # Every line as wide as the first (a comma too many on every line, the usual
        # ragged file): one parse says so, without counting separators (a fifth less
        # time to read such a file). At the header's width, pyarrow has just failed.
        first = bytes(body[starts[nonempty[0]] : ends[nonempty[0]]]).decode("utf-8", "replace")
        w0 = len(next(csv.reader([first], delimiter=sep)))
        table = _parse_width(body, w0, sep) if w0 not in (1, ncol) else None
        if table is not None and table.num_rows == len(nonempty):
            width, parsed[w0] = np.full(n, w0), table
    if width is None:
        seps = _positions(a, sep.encode()[0])
        width = np.diff(np.searchsorted(seps, ends), prepend=0) + 1
        if len(quotes):
            # Less the separators inside quotes: between the quotes of each pair (within
            # a line, as each line has an even number of them).
            inside = np.searchsorted(seps, quotes[1::2]) - np.searchsorted(seps, quotes[::2])
            line_of_pair = np.repeat(np.arange(n), quotes_per_line // 2)
            width -= np.bincount(line_of_pair, weights=inside, minlength=n).astype(np.int64)
    if ((width == 1) & ~empty_line).any() and ncol > 1:
        return None  # blank or one-field lines: the exact path judges them
    usual = _usual_width(np.bincount(width[~empty_line]))
    first_line = buf[:body_start].count(b"\n") + 1
    good_tables: list[pa.Table] = []
    good_lines: list[np.ndarray] = []
    bad: list[tuple[np.ndarray, list[str], pa.Table]] = []
    for w in np.unique(width[~empty_line]).tolist():
        sel = np.flatnonzero((width == w) & ~empty_line)
        if w in parsed:
            table = parsed[w]
        else:
            whole = len(sel) == len(nonempty)
            chunk = body if whole else b"\n".join(body[starts[i] : ends[i]] for i in sel.tolist())
            found = _parse_width(chunk, w, sep)
            if found is None or found.num_rows != len(sel):
                return None
            table = found
        lines = first_line + sel.astype(np.int64)
        if w != ncol:
            # A row blank but for its separators (« ;;;; ») is a blank row whatever
            # its width, not a malformed one.
            blank = np.zeros(table.num_rows, bool)
            blank[_blank_rows(table)] = True
            if blank.any():
                good_tables.append(_blank_table(names, int(blank.sum())))
                good_lines.append(lines[blank])
                table, lines = table.filter(pa.array(~blank)), lines[~blank]
                sel = sel[~blank]
        if w > ncol:
            extra = [pc.utf8_trim_whitespace(table.column(i)) for i in range(ncol, w)]
            filled = any(
                bool(pc.any(pc.not_equal(pc.utf8_length(col), 0)).as_py()) for col in extra
            )
            # Empty trailing fields are a trailing separator on every line, or in a block
            # of lines (in_blocks); on a line here and there, as likely a separator inside
            # an unquoted value of a row whose last value is empty: malformed, which value
            # holds it is not guessed.
            if not filled:
                trim = (
                    np.ones(len(sel), bool)
                    if w == usual
                    else in_blocks(np.searchsorted(nonempty, sel), np.full(len(sel), w))
                )
                if trim.any():
                    kept = table.filter(pa.array(trim)).select(list(range(ncol)))
                    good_tables.append(kept.rename_columns(names))
                    good_lines.append(lines[trim])
                    table, lines = table.filter(pa.array(~trim)), lines[~trim]
        if w == ncol:
            good_tables.append(table.rename_columns(names))
            good_lines.append(lines)
        elif table.num_rows:
            wide = [names[i] if i < ncol else f"champ_{i + 1}" for i in range(w)]
            bad.append((lines, wide, table))
    if good_tables:
        table = pa.concat_tables(good_tables)
        lines = np.concatenate(good_lines)
        order = np.argsort(lines, kind="stable")
        table, lines = table.take(pa.array(order)), lines[order]
    else:
        table = pa.table({name: pa.array([], pa.large_string()) for name in names})
        lines = np.zeros(0, np.int64)
    malformed = MalformedRows()
    if bad:
        all_lines = np.concatenate([g[0] for g in bad])
        rank = np.empty(len(all_lines), np.int64)
        rank[np.argsort(all_lines, kind="stable")] = np.arange(len(all_lines))
        groups, start = [], 0
        for g_lines, wide, g_table in bad:
            groups.append((rank[start : start + len(g_lines)], wide, g_table))
            start += len(g_lines)
        malformed = MalformedRows(groups=groups)
        malformed.set_lines(np.sort(all_lines, kind="stable"))
    return table, lines, malformed


def _positions(a: np.ndarray, byte: int) -> np.ndarray:
    """Where ``byte`` occurs in ``a``, found 1 MB at a time (a file-sized temporary
    array costs more than the search)."""
    step = 1 << 20
    found = [np.flatnonzero(a[i : i + step] == byte) + i for i in range(0, len(a), step)]
    return np.concatenate(found) if found else np.zeros(0, np.int64)


def _parse_width(chunk: bytes | memoryview, width: int, sep: str) -> pa.Table | None:
    """Lines of ``width`` fields parsed by pyarrow (string columns), or None when one
    is not that wide."""
    positional = [f"c{i}" for i in range(width)]
    try:
        return pacsv.read_csv(
            pa.py_buffer(chunk),
            read_options=pacsv.ReadOptions(column_names=positional, block_size=1 << 22),
            parse_options=parse_options(sep, newlines=False),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(positional, pa.large_string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:
        return None


def _open_at_end(lines: list[str], sep: str) -> bool:
    """Whether the text ends inside a quoted value."""
    try:
        list(csv.reader(lines, delimiter=sep, strict=True))
    except csv.Error as err:
        return "unexpected end of data" in str(err)
    return False


def read_exact(
    text: str, names: list[str], sep: str
) -> tuple[pa.Table, np.ndarray, list[Malformed]]:
    """Read CSV text with Python's ``csv`` module: exact line numbers, a trailing
    separator ignored, other ragged rows set aside as malformed.

    A quoted value may hold line breaks, and then one row spans several lines. But a
    quote opened by mistake and never closed (``"Fuite`` in a description) would make
    every line after it one value, and the whole rest of the file one malformed row. So
    a row over several lines is kept only when its quotes are well formed (RFC 4180);
    otherwise its first line alone is a malformed row (unclosed quote) and the reading
    starts again at the next line: every physical line is still a row accounted for.
    """
    ncol = len(names)
    columns: list[list[str]] = [[] for _ in range(ncol)]
    lines: list[int] = []
    malformed: list[Malformed] = []
    # An unterminated quote may make the rest of the file one field before it is split
    # again line by line: Python's csv field limit is raised by :mod:`pipelines.ingest`.
    feed = _Lines(text)
    reader = csv.reader(feed, delimiter=sep, strict=False)
    seen_header = False
    # Rows read without trailing separators, and their place among the non-blank lines.
    trimmed: list[tuple[int, int, list[str]]] = []
    places: list[int] = []
    place = -1
    widths: dict[int, int] = {}  # how many lines have each number of fields
    while True:
        first = feed.pos
        try:
            fields = next(reader)
        except StopIteration:
            break
        line = first + 1
        # The last row may open a quote that the end of the file closes.
        unclosed = (
            feed.pos == len(feed.lines)
            and '"' in feed.lines[first]
            and _open_at_end(feed.lines[first:], sep)
        )
        if feed.pos - first > 1 and not well_quoted(feed.lines[first : feed.pos], sep):
            unclosed = True
            feed.pos = first + 1  # read again from the next line
            reader = csv.reader(feed, delimiter=sep, strict=False)
        if '"' in feed.lines[first] and (
            unclosed or not well_quoted(feed.lines[first : feed.pos], sep)
        ):
            # A quote closed before its value's end: the fields as written.
            written = _as_written(feed.lines[first].rstrip("\n"), sep, unclosed=unclosed)
            fields, unclosed = (fields, unclosed) if written is None else (written, False)
        if unclosed:
            # The first line alone. Split at every separator, the quote kept as a
            # character, it usually gives the header's columns (then each value is under
            # its column's name, and personal columns can be left out of rejected.csv);
            # else the open quote runs to the line end.
            alone = feed.lines[first].rstrip("\n")
            fields = alone.split(sep)
            if len(fields) != ncol:
                fields = next(csv.reader([alone], delimiter=sep))
        if not fields or (len(fields) == 1 and not fields[0].strip() and ncol > 1):
            continue  # a blank line
        if not seen_header:
            seen_header = True
            continue
        place += 1
        n = len(fields)
        if n != ncol and not unclosed and not any(f.strip() for f in fields):
            fields, n = [""] * ncol, ncol  # blank but for its separators: a blank row
        else:
            widths[n] = widths.get(n, 0) + 1
        if n > ncol and all(not f.strip() for f in fields[ncol:]):
            trimmed.append((len(lines), line, fields))
            places.append(place)
            fields, n = fields[:ncol], ncol  # trailing separators
        if n != ncol or unclosed:
            mapped = {names[i] if i < ncol else f"champ_{i + 1}": v for i, v in enumerate(fields)}
            malformed.append(Malformed(line, mapped, n, unclosed_quote=unclosed))
            continue
        for i in range(ncol):
            columns[i].append(fields[i])
        lines.append(line)
    table = pa.table(
        {name: pa.array(col, pa.large_string()) for name, col in zip(names, columns, strict=True)}
    )
    line_numbers = np.asarray(lines, dtype=np.int64)
    # Empty trailing fields are a trailing separator when most lines end so, unless rows
    # as wide hold something there: then a separator too many inside the row shifted its
    # values (an unquoted "12, rue …"), and the row whose last value happens to be empty
    # is shifted too. A row wider than most by empty fields is as likely such a row (a
    # "Fuite; urgent" over an empty last value): malformed, which value holds the
    # separator is not guessed. Within a block of such rows, one after the other (an
    # export by another tool pasted under the first), they are a trailing separator too.
    ragged = {m.n_fields for m in malformed if not m.unclosed_quote}
    usual = _usual_width(np.bincount(list(widths), weights=list(widths.values())))
    block = in_blocks(np.asarray(places, np.int64), [len(f) for _, _, f in trimmed])
    shifted = [
        (pos, line, fields)
        for (pos, line, fields), in_block in zip(trimmed, block, strict=True)
        if len(fields) in ragged or (len(fields) != usual and not in_block)
    ]
    if shifted:
        keep = np.ones(len(line_numbers), dtype=bool)
        keep[[pos for pos, _, _ in shifted]] = False
        table, line_numbers = table.filter(pa.array(keep)), line_numbers[keep]
        for _, line, fields in shifted:
            mapped = {names[i] if i < ncol else f"champ_{i + 1}": v for i, v in enumerate(fields)}
            malformed.append(Malformed(line, mapped, len(fields)))
        malformed.sort(key=lambda m: m.line)
    return table, line_numbers, malformed


#: How many rows, one after the other, each wider than the header by empty fields only,
#: make a block read with trailing separators (:func:`in_blocks`).
BLOCK_ROWS = 3


def in_blocks(places: np.ndarray, widths: np.ndarray | list[int]) -> np.ndarray:
    """Per row wider than the header by empty fields only (``places``: its rank among
    the file's non-blank lines, increasing; ``widths``: its number of fields), whether
    it is in a block of :data:`BLOCK_ROWS` such rows at least, as wide, one after the
    other: rows another tool exported with a trailing separator, pasted into the file.
    A row alone so wide, among rows as wide as the header, more likely holds a
    separator in an unquoted value over an empty last value."""
    widths = np.asarray(widths, np.int64)
    if not len(places):
        return np.zeros(0, bool)
    breaks = np.flatnonzero((np.diff(places) != 1) | (np.diff(widths) != 0)) + 1
    runs = np.diff(np.concatenate(([0], breaks, [len(places)])))
    return np.repeat(runs >= BLOCK_ROWS, runs)


def _blank_table(names: list[str], n: int) -> pa.Table:
    """``n`` rows of empty strings under ``names``."""
    empty = pa.repeat(pa.scalar("", pa.large_string()), n)
    return pa.table(dict.fromkeys(names, empty))


def _usual_width(counts: np.ndarray) -> int:
    """The number of fields more lines have than any other (``counts[w]`` lines have
    ``w``), or -1 when two numbers are as frequent."""
    if not len(counts):
        return -1
    top = int(np.argmax(counts))
    return top if int((counts == counts[top]).sum()) == 1 else -1


def _blank_rows(table: pa.Table) -> np.ndarray:
    """The positions of the rows whose cells are all blank.

    Column by column on the remaining candidates only: usually the first column already
    rules every row out.
    """
    if table.num_columns == 0 or table.num_rows == 0:
        return np.zeros(0, np.int64)
    candidates: np.ndarray | None = None
    for col in table.columns:
        sub = col if candidates is None else col.take(pa.array(candidates))
        if pa.types.is_dictionary(sub.type):
            sub = sub.cast(pa.large_string())
        hits = np.flatnonzero(flags(pc.equal(pc.utf8_trim_whitespace(sub), "")))
        candidates = hits if candidates is None else candidates[hits]
        if len(candidates) == 0:
            break
    assert candidates is not None
    return candidates


def drop_blank_rows(table: pa.Table, lines: np.ndarray) -> tuple[pa.Table, np.ndarray, int]:
    """Rows whose cells are all blank (``;;;;`` at the end of Excel exports) are not data."""
    candidates = _blank_rows(table)
    if len(candidates) == 0:
        return table, lines, 0
    keep = np.setdiff1d(np.arange(table.num_rows), candidates)
    return table.take(pa.array(keep)), lines[keep], len(candidates)


def drop_blank_columns(table: pa.Table, candidates: list[str]) -> pa.Table:
    """Drop unnamed columns that hold nothing (a trailing separator on every line)."""
    drop = []
    for name in candidates:
        if name not in table.column_names:
            continue
        col = table.column(name)
        if (
            table.num_rows == 0
            or int(pc.max(pc.utf8_length(pc.utf8_trim_whitespace(col))).as_py() or 0) == 0
        ):
            drop.append(name)
    return table.drop_columns(drop) if drop else table
