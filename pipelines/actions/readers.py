"""Reading the register files of a site: every XLSX and CSV of ``<actions_dir>/<site>/``.

The files are read with the ingestion's readers (:func:`pipelines.ingest.read_file`:
CSV in any of its encodings and separators, UTF-8 with BOM included; XLSX with Excel
row numbers), so that a row's line is the one the analyst sees in the spreadsheet
(header = line 1) and a ragged CSV line is set aside, not shifted. Every cell stays a
string here; :mod:`pipelines.actions.validate` reads the values.

A file that cannot be read at all is one problem naming the file (the others are still
read); a row that cannot be split into the header's columns is one problem naming its
line. A row whose first cell starts with ``#`` is a comment (the CSV template's example
row): it is not a row of the register, as a blank row is not.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
import zipfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.actions.model import DATE_COLUMNS, HEADER_OF, TARGET_COLUMNS, column_of
from pipelines.errors import InputError
from pipelines.ingest import (
    CONTROL_CHARS,
    RawFile,
    cut_long_cells,
    date_order,
    listed,
    parse_dates,
    read_file,
    reading_notes,
    scrub_text,
    year_first_rows,
)

log = logging.getLogger(__name__)

#: The suffixes of register files, and the ingestion's format of each.
FORMATS = {".xlsx": "xlsx", ".xlsm": "xlsx", ".csv": "csv"}
#: Columns of a problem (one line of ``actions_rejected.csv``).
PROBLEM_COLUMNS = (
    "source_file",
    "source_line",
    "column",
    "action_id",
    "scope",
    "reason",
    "reason_fr",
)
#: What a problem sets aside: a whole file, a row, or one value of a row kept.
SCOPE_FILE, SCOPE_ROW, SCOPE_VALUE = "fichier", "ligne", "valeur"


def problem(
    file: str,
    line: int | None,
    column: str | None,
    reason: str,
    reason_fr: str,
    *,
    action_id: str | None = None,
    scope: str = SCOPE_ROW,
) -> dict[str, Any]:
    """One problem, as a row of ``actions_rejected.csv`` (``column``: the internal
    name, shown by its French header)."""
    return {
        "source_file": file,
        "source_line": line,
        "column": HEADER_OF.get(column, column) if column else None,
        "action_id": action_id,
        "scope": scope,
        "reason": reason,
        "reason_fr": reason_fr,
    }


@dataclass
class RegisterRead:
    """What :func:`read_register` found in a folder.

    Attributes
    ----------
    rows
        One row per data row of the files, every internal column of
        :data:`pipelines.actions.model.HEADERS` present (``""`` when the file has no such
        column), with ``source_file``, ``source_line``, ``excel_epoch`` and
        ``month_first`` (the file's ``a/b/yyyy`` dates are month first, as its values
        show: :func:`_month_first`) and ``year_first`` (its ``yy-mm-dd`` dates are year
        first, as their place in time shows: :func:`_year_first`).
    problems
        File problems and malformed rows (:func:`problem`).
    rows_in
        Data rows seen in the files read (malformed ones included; blank and comment
        rows not).
    files
        Per file read: name, ``sha256``, ``modified_at`` (ISO, UTC) and, for a workbook,
        ``modified_by`` (its « modifié par », scrubbed like any text).
    file_notes
        Per file read all the same with something to tell (lines in another encoding,
        an encoding not detected, formulas never computed, merged cells: the reading
        notes of the reports' files, :func:`pipelines.ingest.filenotes.reading_notes`):
        ``file``, ``reason``, ``reason_fr`` and ``lines``.
    """

    rows: pd.DataFrame
    problems: list[dict[str, Any]] = field(default_factory=list)
    rows_in: int = 0
    comment_rows: int = 0
    blank_rows: int = 0
    files: list[dict[str, Any]] = field(default_factory=list)
    failed_files: list[str] = field(default_factory=list)
    ignored_files: list[str] = field(default_factory=list)
    ignored_columns: dict[str, list[str]] = field(default_factory=dict)
    file_notes: list[dict[str, Any]] = field(default_factory=list)

    def file_failed(self, name: str, reason: str, reason_fr: str) -> None:
        """Record a file not read: listed in ``failed_files`` and as a problem of the
        whole file (:data:`SCOPE_FILE`) with its French reason."""
        self.failed_files.append(name)
        self.problems.append(problem(name, None, None, reason, reason_fr, scope=SCOPE_FILE))


def empty_rows() -> pd.DataFrame:
    """A frame of register rows with no row."""
    columns = [
        *HEADER_OF,
        "source_file",
        "source_line",
        "excel_epoch",
        "month_first",
        "year_first",
    ]
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def _is_ignored(path: Path) -> bool:
    name = path.name
    return (
        name.startswith((".", "~$"))
        or path.is_dir()
        or name.lower() in ("thumbs.db", "desktop.ini")
    )


def file_facts(path: Path) -> dict[str, Any]:
    """Who wrote ``path`` and when, as far as the file says: its SHA-256, its modification
    time (UTC) and, for a workbook, its « modifié par » property (scrubbed)."""
    data = path.read_bytes()
    stamp = pd.Timestamp(path.stat().st_mtime, unit="s", tz="UTC").floor("s")
    facts: dict[str, Any] = {
        "file": path.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "modified_at": stamp.isoformat(),
        "modified_by": None,
    }
    if FORMATS.get(path.suffix.lower()) == "xlsx":
        facts["modified_by"] = _workbook_author(path)
    return facts


def _workbook_author(path: Path) -> str | None:
    """The workbook's last author (``lastModifiedBy``, else ``creator``), scrubbed."""
    import openpyxl  # only for the document properties, not the cells

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
            book = openpyxl.load_workbook(path, read_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError):
        return None
    try:
        props = book.properties
        who = props.lastModifiedBy or props.creator
    finally:
        book.close()
    return scrub_text(str(who)) if who else None


def _without_controls(column: pa.ChunkedArray) -> list[Any]:
    """A column's cells as Python values, text without :data:`CONTROL_CHARS`."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        column = pc.replace_substring_regex(column, CONTROL_CHARS, "")
    return column.to_pylist()


def _columns(names: list[str]) -> tuple[dict[str, str], list[str], list[str]]:
    """A file's columns as the register's: header → internal column, the headers that
    are not the register's (or repeat one), and the required columns missing (French)."""
    mapping: dict[str, str] = {}
    ignored: list[str] = []
    for name in names:
        internal = column_of(name)
        if internal is None or internal in mapping.values():
            ignored.append(name)
        else:
            mapping[name] = internal
    found = set(mapping.values())
    missing = [HEADER_OF[c] for c in ("action_id", "status") if c not in found]
    if not found & set(TARGET_COLUMNS):
        missing.append(" ou ".join(HEADER_OF[c] for c in TARGET_COLUMNS) + " (la cible)")
    return mapping, ignored, missing


def _detected_encoding(raw: RawFile) -> tuple[str, str, str] | None:
    """The encoding a CSV read in another one is in, as its words tell
    (``other_encoding`` of the reading: the encoding, a word as read, the word as
    meant), when some of its lines hold such words; else None."""
    other = raw.other_encoding
    if other is None or not len(raw.foreign_encoding_lines):
        return None
    return (str(other[0]), str(other[1]), str(other[2]))


def _month_first(frame: pd.DataFrame) -> tuple[bool, dict[str, Any] | None]:
    """Whether a file's ``a/b/yyyy`` dates are month first, and its note, from the values
    (:func:`pipelines.ingest.date_order` over its four date columns: a register saved
    from a spreadsheet in English writes them all one way), as the ingestion reads an
    export's. Read day first, « 04/22/2025 » was refused but « 03/04/2025 » of the same
    file silently became 3 April."""
    found = date_order(*(frame[c].astype(str) for c in DATE_COLUMNS))
    if found.order not in ("month_first", "contradictory"):
        return False, None
    lines = frame["source_line"].to_numpy()

    def shown(rows: np.ndarray) -> str:
        return listed(lines[rows], 5)

    month_first = found.order == "month_first"
    text = (
        "dates lues mois en premier (12/31/2025 : 31 décembre), comme le montrent les "
        f"lignes {shown(found.month_rows)} : vérifiez-les, ou écrivez les dates jj/mm/aaaa."
        if month_first
        else "dates écrites dans deux ordres : jour en premier (ex. lignes "
        f"{shown(found.day_rows)}) et mois en premier (ex. lignes {shown(found.month_rows)}) ; "
        "lues jour en premier : vérifiez les dates dont jour et mois sont ≤ 12."
    )
    return month_first, {
        "reason": "dates_month_first" if month_first else "dates_contradictory",
        "reason_fr": text,
        "lines": [int(n) for n in lines[found.month_rows[:1000]]],
    }


def _year_first(
    frame: pd.DataFrame, epoch: str, window: tuple[np.datetime64, np.datetime64]
) -> tuple[bool, dict[str, Any] | None]:
    """Whether a file's ``nn-nn-nn`` dates are year first (« 24-04-09 » : 9 April 2024,
    a spreadsheet set to a short ISO date), and its note, from their place in time
    (:func:`pipelines.ingest.year_first_rows`, as the ingestion reads an export's), told
    by the committee, status and completion dates together and applied to all four (one
    register writes all its dates one way): ``window`` is the study's first day and the
    day after the processing, where those three fall; a due date may be later. Read day
    first, « 24-04-09 » was 24 April 2009: a committee of 2009 was kept without a word,
    and the rows whose dates then disagreed were refused for reasons that named dates
    nobody wrote."""
    past = [c for c in DATE_COLUMNS if c != "due_date"]
    values = pd.concat([frame[c].astype(str).str.strip() for c in past], ignore_index=True)
    day_first = parse_dates(values, excel_epoch=epoch)
    found = year_first_rows(values, day_first, window, excel_epoch=epoch)
    if found is None:
        return False, None
    rows = np.unique(found[1] % len(frame))
    lines = frame["source_line"].to_numpy()[rows]
    return True, {
        "reason": "dates_year_first",
        "reason_fr": "dates lues année en premier (24-04-09 : 9 avril 2024) : lues jour en "
        "premier, la plupart tombaient avant le début de l'étude ou après le jour du "
        f"traitement, comme le montrent les lignes {listed(lines, 5)} ; vérifiez-les, ou "
        "écrivez les dates jj/mm/aaaa.",
        "lines": [int(n) for n in lines[:1000]],
    }


def _file_rows(
    path: Path, fmt: str, window: tuple[np.datetime64, np.datetime64] | None = None
) -> tuple[pd.DataFrame, list[dict[str, Any]], int, list[str], list[dict[str, Any]]]:
    """The rows of one file as internal columns, its malformed rows as problems, its
    blank rows, its columns that are not the register's, and its reading notes;
    ``window`` (the study's first day, the day after the processing) tells year-first
    dates (:func:`_year_first`), ``None`` reads them day first.

    Raises
    ------
    InputError
        The file cannot be read, or lacks the required columns.
    """
    raw = read_file(path, fmt)
    detected = _detected_encoding(raw)
    if detected is not None:
        # A register has no encoding key, as a source has: read again in the encoding
        # its words give (a DOS or old Mac export), and say so. Read as it came, every
        # row of a register saved in cp850 was refused, « décidée » garbled.
        raw = read_file(path, fmt, encoding=detected[0])
    mapping, ignored, missing = _columns(raw.columns)
    if missing and raw.has_header and len(raw.sheets) > 1:
        # A workbook whose register is not its first sheet (the template's « mode
        # d'emploi » moved first, a hidden sheet of lists): the first sheet that has
        # the register's columns. The whole file was set aside.
        for name in raw.sheets[1:]:
            other = read_file(path, fmt, sheet=name)
            found = _columns(other.columns)
            if not found[2]:
                log.info("%s : registre lu dans la feuille « %s »", path.name, name)
                raw, (mapping, ignored, missing) = other, found
                break
    names = raw.columns
    if missing and raw.has_header:
        shown = ", ".join(names) or "aucune"
        sheets = (
            f" (feuille « {raw.sheets[0]} » ; aucune des autres feuilles, "
            f"{', '.join(f'« {n} »' for n in raw.sheets[1:])}, ne les a toutes)"
            if len(raw.sheets) > 1
            else ""
        )
        raise InputError(
            path.name,
            f"colonnes manquantes : {', '.join(missing)} ; colonnes trouvées : {shown}"
            f"{sheets}. Partez du modèle (make actions-template).",
        )
    # A cell of megabytes (a mail pasted into « probleme ») is cut, as an export's is.
    cut = cut_long_cells(raw)
    # Control characters (a NUL byte…) leave every cell, as they leave an export's.
    frame = pd.DataFrame(
        {internal: _without_controls(raw.table.column(name)) for name, internal in mapping.items()}
    )
    for c in HEADER_OF:
        if c not in frame:
            frame[c] = ""
    frame["source_file"] = path.name
    frame["source_line"] = raw.lines.astype("int64")
    frame["excel_epoch"] = raw.excel_epoch
    month_first, date_note = _month_first(frame)
    frame["month_first"] = month_first
    year_first = False
    if window is not None and not month_first and len(frame):
        year_first, year_note = _year_first(frame, raw.excel_epoch, window)
        date_note = year_note if year_first else date_note
    frame["year_first"] = year_first
    malformed = [
        problem(
            path.name,
            int(line),
            None,
            "unclosed_quote",
            "guillemet ouvert et jamais fermé : cette ligne est écartée seule, les suivantes "
            "sont lues normalement (fermez ou retirez le guillemet).",
        )
        if quote
        else problem(
            path.name,
            int(line),
            None,
            "malformed_row",
            f"ligne mal formée : {int(width)} champs au lieu de {len(names)} (séparateur ou "
            "guillemet en trop ou en moins ?).",
        )
        for line, width, quote in zip(
            raw.malformed.lines, raw.malformed.n_fields, raw.malformed.unclosed_quote, strict=True
        )
    ]
    notes = [
        {
            "file": path.name,
            "reason": reason,
            "reason_fr": detail,
            "lines": [] if lines is None else [int(n) for n in lines[:1000]],
        }
        for reason, detail, lines in [*cut, *reading_notes(raw, source_keys=False)]
    ]
    if date_note is not None:
        notes.append({"file": path.name, **date_note})
    if detected is not None:
        encoding, seen, meant = detected
        notes.insert(
            0,
            {
                "file": path.name,
                "reason": "detected_encoding",
                "reason_fr": f"fichier lu en {encoding}, l'encodage que ses mots indiquent "
                f"(« {seen} » y est « {meant} ») : vérifiez ses accents, ou "
                "réenregistrez-le en « CSV UTF-8 ».",
                "lines": [],
            },
        )
    for note in notes:
        log.warning("%s : %s", path.name, note["reason_fr"])
    return frame, malformed, int(raw.blank_rows), ignored, notes


def read_register(folder: str | Path, *, window: tuple[date, date] | None = None) -> RegisterRead:
    """Read every register file of a site's folder (in the order of their names).

    Parameters
    ----------
    folder
        ``<actions_dir>/<site>/``; a missing folder means no register (no action).
    window
        The study's first day and the day after the processing, where the dates of a
        register written ``yy-mm-dd`` fall (:func:`_year_first`); ``None``: every
        ``nn-nn-nn`` date is read day first.

    Returns
    -------
    RegisterRead
        The rows as strings, and the problems of files and malformed rows.
    """
    folder = Path(folder)
    out = RegisterRead(empty_rows())
    if not folder.is_dir():
        log.info("%s: no action register", folder)
        return out
    frames = []
    span = (
        None if window is None else (np.datetime64(window[0], "us"), np.datetime64(window[1], "us"))
    )
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if _is_ignored(path):
            out.ignored_files.append(path.name + ("/" if path.is_dir() else ""))
            continue
        fmt = FORMATS.get(path.suffix.lower())
        if fmt is None:
            out.file_failed(
                path.name,
                "unknown_format",
                "format non reconnu : le registre des actions est un classeur XLSX ou un "
                "CSV (séparateur « ; », UTF-8) ; fichier non lu.",
            )
            continue
        try:
            frame, malformed, blank, ignored, notes = _file_rows(path, fmt, span)
            facts = file_facts(path)
        except InputError as err:
            message = str(err).split(" : ", 1)[-1]
            out.file_failed(
                path.name, "unreadable_file", f"{message} — aucune action lue dans ce fichier."
            )
            continue
        except OSError as err:
            out.file_failed(
                path.name,
                "unreadable_file",
                f"lecture impossible ({err.strerror}) — aucune action lue dans ce fichier.",
            )
            continue
        first = frame["action_id"].astype(str).str.lstrip()
        comment = first.str.startswith("#").to_numpy(dtype=bool)
        out.comment_rows += int(comment.sum())
        out.blank_rows += blank
        frames.append(frame[~comment])
        out.problems.extend(malformed)
        out.rows_in += int((~comment).sum()) + len(malformed)
        out.files.append(facts)
        out.file_notes.extend(notes)
        if ignored:
            out.ignored_columns[path.name] = ignored
    if frames:
        rows = pd.concat(frames, ignore_index=True)
        text = [c for c in HEADER_OF]
        rows[text] = rows[text].astype(object).where(rows[text].notna(), "")
        rows["source_line"] = rows["source_line"].astype("int64")
        out.rows = rows
    log.info(
        "%s: %d register rows in %d files (%d problems)",
        folder,
        out.rows_in,
        len(out.files),
        len(out.problems),
    )
    return out


def problems_frame(problems: list[dict[str, Any]]) -> pd.DataFrame:
    """The problems as ``actions_rejected.csv`` writes them, in file then line order."""
    frame = pd.DataFrame(problems, columns=list(PROBLEM_COLUMNS))
    if frame.empty:
        return frame
    line = pd.to_numeric(frame["source_line"], errors="coerce")
    frame["source_line"] = line.astype("Int64")
    order = np.lexsort((line.fillna(-1).to_numpy(), frame["source_file"].astype(str).to_numpy()))
    return frame.iloc[order].reset_index(drop=True)
