"""A limit on the length of a cell: a whole mail thread, a log or a file pasted into one
cell of an export (megabytes) is cut, the row still read, and the cut is noted.

Beyond :data:`MAX_CELL_CHARS` characters a cell holds nothing a committee reads (a
report's description is a few sentences; ten thousand characters are about four pages),
and carried whole it would be copied into every output: the reports' table, the map's
popups, ``rejected.csv``. The text is cut at the last space before the limit, digits
before it dropped (a phone number or an e-mail address is never cut in half, where
scrubbing would no longer know it), followed by :data:`CUT_MARK`; a note names the
file, its lines and the column.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.fr import fr_number
from pipelines.ingest.filenotes import listed
from pipelines.ingest.rawfile import RawFile

#: The most characters a cell keeps.
MAX_CELL_CHARS = 10_000
#: What follows a cut text.
CUT_MARK = " […]"
#: Digits and what separates them, dropped at the end of a text cut.
_NUMBER_CHARS = "0123456789 \t\n.+-()/"


def cut_text(text: str) -> str:
    """``text`` cut before :data:`MAX_CELL_CHARS` at its last space (at the limit when
    it has none in its last hundred characters), :data:`CUT_MARK` after it."""
    head = text[:MAX_CELL_CHARS]
    space = max(head.rfind(" "), head.rfind("\n"), head.rfind("\t"))
    if space >= MAX_CELL_CHARS - 100:
        head = head[:space]
    # Nor the first digits of a phone number cut at one of its spaces (« 06 12 34 »),
    # which the scrubbing would no longer know as one.
    kept = head.rstrip(_NUMBER_CHARS)
    if any(c.isdigit() for c in head[len(kept) :]):
        head = kept
    return head.rstrip() + CUT_MARK


def _long_rows(column: pa.ChunkedArray) -> np.ndarray:
    """The rows of a text ``column`` longer than :data:`MAX_CELL_CHARS` characters."""
    if pa.types.is_dictionary(column.type):
        if not any(
            (pc.max(pc.utf8_length(c.dictionary)).as_py() or 0) > MAX_CELL_CHARS
            for c in column.chunks
        ):
            return np.zeros(0, np.int64)
        column = column.cast(pa.large_string())
    # Bytes first (cheap, no decoding): a cell of fewer bytes has fewer characters.
    if (pc.max(pc.binary_length(column)).as_py() or 0) <= MAX_CELL_CHARS:
        return np.zeros(0, np.int64)
    lengths = pc.fill_null(pc.utf8_length(column), 0)
    return np.flatnonzero(np.asarray(lengths) > MAX_CELL_CHARS)


def cut_long_cells(raw: RawFile) -> list[tuple[str, str, np.ndarray]]:
    """Cut the cells of ``raw`` longer than :data:`MAX_CELL_CHARS` (in place), and the
    notes saying so: per column, its reason (``long_cells``), its French detail and the
    lines cut."""
    notes = []
    table = raw.table
    for j, name in enumerate(table.column_names):
        rows = _long_rows(table.column(j))
        if not len(rows):
            continue
        column = table.column(j)
        if pa.types.is_dictionary(column.type):
            column = column.cast(pa.large_string())
        column = column.combine_chunks()
        longest = max(len(column[int(k)].as_py()) for k in rows[:1000])
        mask = np.zeros(len(column), bool)
        mask[rows] = True
        cut = pa.array([cut_text(column[int(k)].as_py()) for k in rows], column.type)
        table = table.set_column(j, name, pc.replace_with_mask(column, pa.array(mask), cut))
        lines = raw.lines[rows]
        most = fr_number(MAX_CELL_CHARS)
        detail = (
            f"{len(rows)} cellule(s) de la colonne « {name} » dépassent {most} caractères "
            f"(jusqu'à {fr_number(longest)}) : lignes {listed(lines)}. Leur texte est coupé "
            f"à {most} caractères, suivi de « {CUT_MARK.strip()} » ; les lignes sont lues. "
            "Un courriel ou un fichier collé dans la cellule ? Le texte entier reste dans "
            "l'export d'origine."
        )
        notes.append(("long_cells", detail, lines))
    raw.table = table
    return notes
