"""A CSV's header: its separator, and where it starts when rows stand above it: a row
of groups over it (a merged header copied to CSV, :func:`two_row_header`) or lines of
one cell (titles, :func:`below_titles`)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.errors import InputError
from pipelines.ingest.rawfile import RawFile
from pipelines.ingest.xlsxheader import header_under_groups, title_note

_SEPARATORS = (";", ",", "\t", "|")


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


def header_separator(header: str, separator: str | None) -> str:
    """The separator configured (``tab`` for a tabulation), else the one the header
    uses most."""
    return {"tab": "\t", "\\t": "\t"}.get(separator or "", separator) or _sniff_separator(header)


def two_row_header(
    buf: bytes, start: int, end: int, header: list[str], sep: str, line_no: int
) -> tuple[bytes, list[str]] | None:
    """A header on two rows, as a CSV copy of a workbook's merged header gives it: the
    first row names a group in the first of its columns, the others empty (« Localisation
    ;; »), the row under it names the columns under the groups and nothing else
    (:func:`pipelines.ingest.xlsxheader.header_under_groups`). Then ``buf`` with the first row
    blank and the second holding the header's names, which keeps every line's number,
    and the notes telling it; None otherwise (the second row is data)."""
    below_end = buf.find(b"\n", end + 1)
    below_end = len(buf) if below_end < 0 else below_end
    below_text = buf[end + 1 : below_end].decode("utf-8")
    if not below_text.strip() or below_text.count('"') % 2:
        return None
    below = next(csv.reader([below_text], delimiter=sep, strict=False), [])
    found = header_under_groups(header, below, line_no)
    if found is None:
        return None
    names, notes = found
    line = io.StringIO()
    csv.writer(line, delimiter=sep, lineterminator="").writerow(names)
    return buf[:start] + b"\n" + line.getvalue().encode("utf-8") + buf[below_end:], notes


#: How many lines of one cell (titles) may stand above a CSV's header (as in a workbook,
#: :data:`pipelines.ingest.xlsx.TITLE_ROWS_MAX`).
_TITLE_LINES_MAX = 10


def below_titles(
    buf: bytes, start: int, line_no: int, separator: str | None
) -> tuple[bytes, list[str]] | None:
    """A header under lines of one cell (« Export du 12/03/2024 »: no ``separator``, or
    no separator at all when none is configured): then ``buf`` with those lines blank,
    which keeps every line's number, and the note telling it; None when no line of
    several cells follows them, or the line under that one has another number of cells
    (a file of one column, refused as not a table)."""
    lines = buf[start:].split(b"\n", 2 * _TITLE_LINES_MAX + 2)
    titles = 0  # lines of one cell, blank ones between them
    for k, line in enumerate(lines[: 2 * _TITLE_LINES_MAX + 1]):
        text = line.decode("utf-8")
        if not text.strip():
            continue
        if text.count('"') % 2:
            return None
        sep = header_separator(text, separator)
        cells = next(csv.reader([text], delimiter=sep, strict=False), [])
        if len(cells) == 1:
            titles += 1
            if titles > _TITLE_LINES_MAX:
                return None
            continue
        below = lines[k + 1].decode("utf-8") if k + 1 < len(lines) else ""
        if below.strip() and len(next(csv.reader([below], delimiter=sep), [])) != len(cells):
            return None
        title = lines[0].decode("utf-8").strip()
        note = title_note(line_no, line_no + k, title)
        skipped = sum(len(x) + 1 for x in lines[:k])
        return buf[:start] + b"\n" * k + buf[start + skipped :], [note]
    return None


def _key(text: str) -> str:
    """A header cell as compared with another: its words, case folded."""
    return " ".join(text.replace("\ufeff", "").split()).casefold()


def _folded(cells: pa.Array) -> pa.Array:
    """Text cells as :func:`_key` first compares them, column-wise: without a BOM,
    trimmed, lower case."""
    return pc.utf8_lower(pc.utf8_trim_whitespace(pc.replace_substring(cells, "\ufeff", "")))


#: How many of a table's first columns are looked at for a name of its header
#: (:func:`_header_again`): a header again whose first name was renamed (« Ticket »
#: for « N° ticket ») and moved holds another name of the header in the next ones.
_LOOKED_AT = 3


def _header_again(table: pa.Table, keys: list[str]) -> list[tuple[int, list[str]]]:
    """The rows of ``table`` that are the header again (:func:`_named`), with their
    cells' keys (:func:`_key`); looked at only where one of the first columns
    (:data:`_LOOKED_AT`) holds one of the header's ``keys`` (few rows: vectorised)."""
    if not table.num_rows or not table.num_columns:
        return []
    names = pa.array([k.lower() for k in keys], pa.large_string())
    hits = np.zeros(table.num_rows, dtype=bool)
    for column in table.columns[:_LOOKED_AT]:
        if pa.types.is_dictionary(column.type):
            column = column.cast(pa.large_string())
        hits |= np.asarray(pc.fill_null(pc.is_in(_folded(column), value_set=names), False))
    out = []
    for k in np.flatnonzero(hits).tolist():
        cells = [_key(str(v)) for v in table.slice(k, 1).to_pylist()[0].values()]
        if _named(cells, keys):
            out.append((k, cells))
    return out


def other_headers(raw: RawFile) -> dict[int, np.ndarray]:
    """The malformed rows of ``raw`` that are the header of another export, as wide as
    the rows under them (two exports pasted together, the second with other columns):
    their lines by width. Such a row holds the header's first name and half its names
    at least."""
    malformed = raw.malformed
    keys = [_key(c) for c in raw.columns]
    if not len(malformed) or not keys:
        return {}
    hits = []
    for pos, first in malformed.first_fields():
        same = pc.fill_null(pc.equal(_folded(first), keys[0].lower()), False)
        hits.append(pos[np.asarray(same, dtype=bool)])
    found: dict[int, list[int]] = {}
    for k in np.concatenate(hits).tolist():
        row = malformed[k]
        if 2 * len(set(keys) & {_key(v) for v in row.fields.values()}) >= len(keys):
            found.setdefault(row.n_fields, []).append(row.line)
    return {w: np.asarray(sorted(lines), np.int64) for w, lines in found.items()}


def _named(cells: list[str], keys: list[str]) -> bool:
    """Whether a row's ``cells`` are a header's ``keys`` again: half of them at least
    are names of the header, each once; the others, none blank, may have been renamed
    (an export of another version, « Libellé » for « Description »)."""
    named = [c for c in cells if c in keys]
    renamed = [c for c in cells if c not in keys]
    return len(set(named)) == len(named) and 2 * len(named) >= len(keys) and all(renamed)


def _places(cells: list[str], keys: list[str]) -> list[int] | None:
    """Per column of the header (``keys``), the position of the field that holds it in
    a header again (``cells``, :func:`_named`): a column renamed is where it was, or
    where the one name not found is; None when columns both renamed and moved cannot be
    told apart (two names not found, not where they were)."""
    where = [cells.index(key) if key in cells else -1 for key in keys]
    lost = [j for j, w in enumerate(where) if w < 0]
    renamed = [i for i, c in enumerate(cells) if c not in keys]
    if lost != renamed and len(lost) > 1:
        return None
    for j, i in zip(lost, renamed, strict=True):
        where[j] = i
    return where


@dataclass(frozen=True)
class HeaderAgain:
    """A row of a CSV that is its header again (:func:`headers_again`)."""

    row: int
    #: Per column of the header, the position of the field that holds it in that row
    #: and the rows under it; None when it cannot be told.
    where: list[int] | None
    #: The header's names not found in that row, and the names found in their place.
    renamed: list[tuple[str, str]]


def headers_again(table: pa.Table, header: list[str]) -> list[HeaderAgain]:
    """The rows of ``table`` (every column of the file, in the header's order) that are
    the header again with some of its columns moved or renamed: two exports pasted
    together, the second with its columns in another order, or of another version.
    The rows under such a row (until the next one) would otherwise be read with a
    value under another column's name. A header again in its own order, and a row of
    header names that are not each once, are none."""
    keys = [_key(h) for h in header]
    if len(set(keys)) != len(keys) or table.num_columns != len(keys):
        return []
    out = []
    for k, cells in _header_again(table, keys):
        if cells == keys:
            continue
        where = _places(cells, keys)
        shown = [str(v).strip() for v in table.slice(k, 1).to_pylist()[0].values()]
        renamed = [
            (_one(header[j]), shown[where[j]] if where else "")
            for j, key in enumerate(keys)
            if key not in cells
        ]
        out.append(HeaderAgain(k, where, renamed))
    return out


def _one(name: str) -> str:
    """A header name on one line, trimmed."""
    return " ".join(name.split())


def moves_a_column(table: pa.Table, header: list[str], kept: list[int]) -> bool:
    """Whether ``table``, the columns ``kept`` of the header only, has a row of the
    header's names where one of them is not in its column or was renamed
    (:func:`headers_again` needs every column to tell)."""
    keys = [_key(h) for h in header]
    return any(cells != [keys[i] for i in kept] for _, cells in _header_again(table, keys))


def under_their_headers(table: pa.Table, again: list[HeaderAgain]) -> pa.Table:
    """``table`` with the rows from each of ``again`` (:func:`headers_again`, each
    ``where`` known) to the next put back under their columns' names, and that row
    made the header's names, in its order (then rejected as a header repeated)."""
    if not again:
        return table
    columns = [c.cast(pa.large_string()) for c in table.columns]
    segment = np.full(table.num_rows, -1)
    for i, head in enumerate(again):
        segment[head.row :] = i
    heads = np.zeros(table.num_rows, bool)
    heads[[head.row for head in again]] = True
    out = []
    for j, (name, column) in enumerate(zip(table.column_names, columns, strict=True)):
        for i, head in enumerate(again):
            assert head.where is not None
            if head.where[j] != j:
                column = pc.if_else(pa.array(segment == i), columns[head.where[j]], column)
        out.append(pc.if_else(pa.array(heads), pa.scalar(name, pa.large_string()), column))
    return pa.table(out, names=table.column_names)


def renamed_notes(path: str, again: list[HeaderAgain], lines: np.ndarray) -> list[str]:
    """The notes telling each header found again with columns renamed (``lines``: each
    row's line in the file), in French.

    Raises
    ------
    InputError
        For a header again whose columns were both renamed and moved beyond telling
        which is which: the file is refused rather than its rows read by a guess.
    """
    notes = []
    for head in again:
        line = int(lines[head.row])
        if head.where is None:
            lost = ", ".join(f"« {old} »" for old, _ in head.renamed)
            raise InputError(
                path,
                "l'en-tête est répété avec des colonnes à la fois renommées et déplacées "
                f"({lost} n'y sont plus) : sous quelle colonne lire leurs valeurs ne se "
                "devine pas (deux exports mis bout à bout ?). Enregistrez cet export dans "
                "un fichier à part, ou redonnez à ses colonnes les noms du premier en-tête.",
                row=line,
            )
        if not head.renamed:
            continue
        moved = any(w != j for j, w in enumerate(head.where))
        named = ", ".join(f"« {new} » au lieu de « {old} »" for old, new in head.renamed)
        notes.append(
            f"Ligne {line} : l'en-tête est répété avec {named}"
            + (", et des colonnes dans un autre ordre" if moved else "")
            + " (deux exports mis bout à bout ?) ; la ligne est écartée, les suivantes "
            "sont lues sous les noms du premier en-tête"
            + (", chacune à sa place." if moved else ", dans le même ordre.")
        )
    return notes
