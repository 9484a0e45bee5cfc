"""A workbook's header with a cell merged over several columns (« Localisation » over
C1:D1): read on two rows when the row under it names the merged columns (« Adresse »,
« Code postal »), else the columns it covers past the first, nameless, are told. A CSV
copy of such a header keeps the merged cell's text in its first column only, the others
empty: :func:`blank_runs` finds the same ranges there."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise

_REF = re.compile(r"^([A-Z]+)([0-9]+):([A-Z]+)([0-9]+)$")


def _column_index(letters: str) -> int:
    """0-based index of a column's letters (``"A"`` 0, ``"AA"`` 26)."""
    from openpyxl.utils import column_index_from_string

    return int(column_index_from_string(letters)) - 1


def column_letter(index: int) -> str:
    """A 0-based column index's letters (0 ``"A"``, 26 ``"AA"``)."""
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(index + 1))


@dataclass(frozen=True)
class HeaderMerge:
    """A range merged over several columns of the header row: its reference
    (``"C1:D1"``), its text, and its first and last columns (0-based)."""

    ref: str
    name: str
    first: int
    last: int


def header_merges(refs: Iterable[str], header: list[str], line: int) -> list[HeaderMerge]:
    """The merged ranges (``refs``) that span several columns of the header, on ``line``."""
    out = []
    for ref in refs:
        m = _REF.match(ref)
        if not m:
            continue
        first, last = _column_index(m.group(1)), _column_index(m.group(3))
        if int(m.group(2)) <= line <= int(m.group(4)) and last > first:
            name = header[first].strip() if first < len(header) else ""
            out.append(HeaderMerge(ref, name, first, last))
    return out


def blank_runs(header: list[str], line: int, width: int) -> list[HeaderMerge]:
    """The ranges a CSV header row would have had merged: each non-empty cell and the
    empty cells after it, up to ``width`` columns (``"Localisation"`` then two empty
    cells: C to E); a cell followed by a non-empty one spans one column, and is none."""
    out = []
    filled = [i for i, cell in enumerate(header) if cell.strip()] + [width]
    for first, after in pairwise(filled):
        if after - 1 > first:
            ref = f"{column_letter(first)}{line}:{column_letter(after - 1)}{line}"
            out.append(HeaderMerge(ref, header[first].strip(), first, after - 1))
    return out


def two_row_header(
    merges: list[HeaderMerge],
    header: list[str],
    below: list[str],
    *,
    cell: str = "la cellule fusionnée",
) -> tuple[list[str], list[str]] | None:
    """The header read on two rows, and its notes, when the row ``below`` it names every
    column under its merged cells and nothing else (the other cells merged down or
    empty): the names under a merged cell are those of the row below. None otherwise
    (that row is data). ``cell`` names what spans the columns in the notes."""
    covered = {i for m in merges for i in range(m.first, m.last + 1)}
    filled = {i for i, cell in enumerate(below) if cell.strip()}
    if not merges or filled != covered:
        return None
    width = max(len(header), len(below))
    names = [
        below[i].strip() if i in covered else (header[i] if i < len(header) else "")
        for i in range(width)
    ]
    notes = [
        f"En-tête lu sur deux lignes : sous {cell} « {m.name} » ({m.ref}), "
        f"les colonnes {column_letter(m.first)} à {column_letter(m.last)} portent les noms "
        "de la ligne du dessous ("
        + ", ".join(f"« {names[i]} »" for i in range(m.first, m.last + 1))
        + ")."
        for m in merges
    ]
    return names, notes


class TitleNote(str):
    """The note of title lines above a header (:func:`title_note`): a ``str`` marked so
    that the readers file it under ``title_lines`` rather than ``merged_header``, the
    notes of both coming out of the same header-reading functions
    (:func:`split_title_notes`)."""

    __slots__ = ()


def split_title_notes(notes: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``notes`` of a header read on two rows or under titles, as (those of merged
    header cells, those of title lines)."""
    titles = tuple(str(n) for n in notes if isinstance(n, TitleNote))
    return tuple(n for n in notes if not isinstance(n, TitleNote)), titles


def title_note(first: int, header_line: int, title: str) -> TitleNote:
    """The file note of a header read under titles, lines ``first`` to above it."""
    lines = f"la ligne {first}" if header_line == first + 1 else f"les lignes {first} à"
    lines += f" {header_line - 1}" if header_line > first + 1 else ""
    verb = "est un titre" if header_line == first + 1 else "sont des titres"
    return TitleNote(
        f"En-tête lu ligne {header_line} : {lines} (« {title} ») {verb} au-dessus de "
        "l'en-tête, sans données."
    )


def header_under_groups(
    header: list[str], below: list[str], line: int
) -> tuple[list[str], list[str]] | None:
    """:func:`two_row_header` without merged cells, as a CSV copy of a merged header, or
    a workbook whose groups were unmerged, gives it: each group's name in its first
    column, the others empty (:func:`blank_runs`), on ``line``. None also when a value
    under a group is a number, a date or a sentence (a row of data). A single group over
    every column is a title."""
    merges = blank_runs(header, line, max(len(header), len(below)))
    found = two_row_header(merges, header, below, cell="le regroupement")
    if found is None:
        return None
    names, notes = found
    covered = [names[i] for m in merges for i in range(m.first, m.last + 1)]
    if not all(any(ch.isalpha() for ch in name) and len(name) <= 60 for name in covered):
        return None
    if len(merges) == 1 and merges[0].first == 0 and merges[0].last == len(names) - 1:
        notes = [title_note(line, line + 1, merges[0].name)]
    return names, notes


def nameless_columns(merges: list[HeaderMerge], names: list[str]) -> dict[str, str]:
    """Per column a merged header cell covers past its first, as read (« colonne_4 »),
    the note telling that it has no name of its own."""
    out = {}
    for m in merges:
        for i in range(m.first + 1, min(m.last + 1, len(names))):
            out[names[i]] = (
                f"Colonne {column_letter(i)} sans nom : elle est sous la cellule fusionnée "
                f"« {m.name} » ({m.ref}) de l'en-tête, dont le nom ne va qu'à la colonne "
                f"{column_letter(m.first)}. Ses valeurs sont lues sous le nom « {names[i]} » "
                "et ne servent que si la configuration le déclare ; défusionnez l'en-tête "
                "et nommez chaque colonne."
            )
    return out
