"""What every reader returns: a file as string columns, with line numbers."""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Malformed:
    """A row that could not be split into the header's columns: its number of fields
    differs from the header's (extra non-empty fields), or it opens a quote that no
    later quote closes as RFC 4180 wants (``unclosed_quote``: the line is read alone)."""

    line: int
    fields: dict[str, str]
    n_fields: int
    unclosed_quote: bool = False


class MalformedRows(Sequence[Malformed]):
    """The malformed rows of a file, in line order: a list of :class:`Malformed`, or,
    from the vectorised reader of ragged files, tables of fields by width (a file whose
    every line is ragged has a million of them: one Python object a row would be
    seconds and gigabytes). Indexing builds a :class:`Malformed`; the bulk accessors
    (``lines``, ``n_fields``, ``unclosed_quote``, :meth:`joined`, :meth:`by_width`)
    build none.
    """

    def __init__(
        self,
        rows: Sequence[Malformed] = (),
        *,
        groups: Sequence[tuple[np.ndarray, list[str], pa.Table]] = (),
    ) -> None:
        self._rows = list(rows)
        # Each group: the positions (in line order) of its rows, its field names, and
        # their fields (one large_string column per name).
        self._groups = list(groups)
        if self._groups:
            n = sum(len(pos) for pos, _, _ in self._groups)
            self._group_of = np.zeros(n, np.int64)
            self._row_of = np.zeros(n, np.int64)
            self.lines = np.zeros(n, np.int64)
            self.n_fields = np.zeros(n, np.int64)
            for g, (pos, names, _) in enumerate(self._groups):
                self._group_of[pos] = g
                self._row_of[pos] = np.arange(len(pos))
                self.n_fields[pos] = len(names)
        else:
            self.lines = np.asarray([m.line for m in self._rows], np.int64)
            self.n_fields = np.asarray([m.n_fields for m in self._rows], np.int64)
        self.unclosed_quote = np.asarray(
            [m.unclosed_quote for m in self._rows] if not self._groups else [], bool
        )
        if self._groups:
            self.unclosed_quote = np.zeros(len(self.lines), bool)

    def set_lines(self, lines: np.ndarray) -> None:
        """The line of each row (grouped rows only)."""
        self.lines = np.asarray(lines, np.int64)

    def shifted(self, offset: int) -> MalformedRows:
        """The same rows, ``offset`` lines further down (a part of a file read on its
        own: :func:`pipelines.ingest.chunks.read_file_chunks`)."""
        if not self._groups:
            return MalformedRows([replace(m, line=m.line + offset) for m in self._rows])
        out = MalformedRows(groups=self._groups)
        out.set_lines(self.lines + offset)
        return out

    def __len__(self) -> int:
        return len(self.lines)

    def __getitem__(self, k):  # type: ignore[no-untyped-def]
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        if not self._groups:
            return self._rows[k]
        k = range(len(self))[k]
        _, names, table = self._groups[int(self._group_of[k])]
        r = int(self._row_of[k])
        fields = {name: table.column(i)[r].as_py() for i, name in enumerate(names)}
        return Malformed(int(self.lines[k]), fields, len(names))

    def joined(self, sep: str) -> list[str] | pa.ChunkedArray:
        """Each row's fields joined by ``sep``, in line order (a list, or a pyarrow
        ``large_string`` array for grouped rows)."""
        if not self._groups:
            return [sep.join(m.fields.values()) for m in self._rows]
        parts = [
            pc.binary_join_element_wise(*table.columns, pa.scalar(sep, pa.large_string()))
            for _, _, table in self._groups
        ]
        if len(parts) == 1:  # rows of one width: in line order already
            return parts[0]
        where = np.concatenate([pos for pos, _, _ in self._groups])
        order = np.empty(len(where), np.int64)
        order[where] = np.arange(len(where))
        return pa.chunked_array(parts).take(pa.array(order))

    def first_fields(self) -> list[tuple[np.ndarray, pa.Array | pa.ChunkedArray]]:
        """The rows' first fields (``large_string``), by group: each with the rows'
        indices in line order (a group's column as it is: combining its chunks copies
        it, a quarter of a second on 300,000 rows)."""
        if not self._groups:
            first = [next(iter(m.fields.values()), "") for m in self._rows]
            return [(np.arange(len(first)), pa.array(first, pa.large_string()))]
        return [(pos, table.column(0).cast(pa.large_string())) for pos, _, table in self._groups]

    def by_width(self, rows: np.ndarray) -> list[tuple[np.ndarray, list[str], list[pa.Array]]]:
        """The rows ``rows`` (indices in line order) by number of fields: for each
        width, which of ``rows`` have it, the field names, and their fields as columns."""
        out: list[tuple[np.ndarray, list[str], list[pa.Array]]] = []
        widths = self.n_fields[rows]
        for width in np.unique(widths):
            sel = np.flatnonzero(widths == width)
            if not self._groups:
                chosen = [self._rows[int(rows[s])] for s in sel]
                names = list(chosen[0].fields)
                values = [list(m.fields.values()) for m in chosen]
                columns = [
                    pa.array([v[i] for v in values], pa.large_string()) for i in range(len(names))
                ]
                out.append((sel, names, columns))
                continue
            at = rows[sel]
            for g in np.unique(self._group_of[at]):
                in_g = np.flatnonzero(self._group_of[at] == g)
                _, names, table = self._groups[int(g)]
                rows_of_g = self._row_of[at[in_g]]
                every = len(rows_of_g) == table.num_rows and (np.diff(rows_of_g) == 1).all()
                taken = table if every else table.take(pa.array(rows_of_g))
                columns = [taken.column(i).combine_chunks() for i in range(taken.num_columns)]
                out.append((sel[in_g], names, columns))
        return out


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
    encoding_mismatch_lines
        int64, the lines whose bytes do not fit ``encoding`` (a file mixing UTF-8 and
        cp1252 rows): read all the same, and reported.
    foreign_encoding_lines
        int64, for a file detected as latin-1, the lines holding bytes that are no text
        in latin-1 nor cp1252 (a file in Mac Roman or cp850): read all the same, and
        reported. A file detected as cp1252 whose words are words in cp850 only: its
        lines holding bytes 0x80-0x9F.
    sheets
        A workbook's sheets, the one read first (empty for other formats).
    sheets_with_rows
        When the first of a workbook's sheets was read (none named) and has no row of
        data: the other sheets that have some.
    formula_lines
        int64, the rows of a workbook's sheet holding a formula whose value was never
        computed (a workbook written by a program, never opened in a spreadsheet): such
        a cell reads as empty, and is reported.
    merged_ranges
        A workbook's merged ranges that reach the data rows (``"C3:C5"``): only their
        first cell has a value, the others read as empty, and are reported.
    hidden_sheets
        When no sheet was named: the hidden sheets before the one read, the first
        visible (a sheet of lists or a macro's scratch sheet moved first and hidden
        was read instead of the export the analyst sees), reported.
    other_encoding
        For such a file, its encoding, and a word as read and as that encoding reads it
        (« cp850 », « ‚t‚ », « été »).
    names_over_lines
        A CSV's column names that spanned several lines in its header (a quoted
        « Date de⏎création », or a quote never closed), as read: on one line.
    merged_header
        A workbook's header with a cell merged over several columns: a sentence per such
        cell when the header was read on two rows (the row under it names the merged
        columns), or per column under it past the first, nameless, that holds values.
    title_lines
        The note of lines of one cell above the header, skipped (« Export du
        12/03/2024 »; a row of one group over every column of a workbook's header):
        :func:`pipelines.ingest.xlsxheader.title_note`.
    renamed_header
        A CSV's header found again further down with columns renamed: a sentence per
        such line (:func:`pipelines.ingest.csvheader.renamed_notes`).
    """

    path: str
    format: str
    table: pa.Table
    lines: np.ndarray
    malformed: MalformedRows = field(default_factory=MalformedRows)
    encoding: str | None = None
    separator: str | None = None
    blank_rows: int = 0
    has_header: bool = True
    crs: str | None = None
    virtual: tuple[str, ...] = ()
    excel_epoch: str = "1899-12-30"
    encoding_mismatch_lines: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    foreign_encoding_lines: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    sheets: tuple[str, ...] = ()
    sheets_with_rows: tuple[str, ...] = ()
    formula_lines: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    merged_ranges: tuple[str, ...] = ()
    hidden_sheets: tuple[str, ...] = ()
    merged_header: tuple[str, ...] = ()
    title_lines: tuple[str, ...] = ()
    renamed_header: tuple[str, ...] = ()
    other_encoding: tuple[str, str, str] | None = None
    names_over_lines: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.malformed, MalformedRows):
            self.malformed = MalformedRows(self.malformed)

    @property
    def columns(self) -> list[str]:
        """The file's own columns (derived ones excluded)."""
        return [c for c in self.table.column_names if c not in self.virtual]

    @property
    def n_rows(self) -> int:
        """Data rows read, malformed ones included (blank rows excluded)."""
        return self.table.num_rows + len(self.malformed)


def cell_text(value: Any) -> str:
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


def table_from_records(records: list[dict[str, str]], names: list[str]) -> pa.Table:
    """Records read from a workbook or a JSON file as a table of string columns
    ``names`` (an absent key is an empty cell)."""
    return pa.table(
        {n: pa.array([r.get(n, "") for r in records], pa.large_string()) for n in names}
    )
