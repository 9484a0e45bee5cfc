"""What every reader returns: a file as string columns, with line numbers."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

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
    encoding_mismatch_lines: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def columns(self) -> list[str]:
        """The file's own columns (derived ones excluded)."""
        return [c for c in self.table.column_names if c not in self.virtual]

    @property
    def n_rows(self) -> int:
        """Data rows read, malformed ones included (blank rows excluded)."""
        return self.table.num_rows + len(self.malformed)
