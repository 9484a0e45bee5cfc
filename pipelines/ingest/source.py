"""Ingestion of one source of a site (:func:`ingest_source`): its files read (format,
sheets, columns named twice, personal columns, file notes), its rows turned into
reports, and the outputs of the source (accepted rows, rejects, notes) that
:func:`pipelines.ingest.stage.ingest_site` gathers over the site's sources.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config import SourceConfig
from pipelines.errors import InputError
from pipelines.ingest import scrub as _scrub
from pipelines.ingest.cells import (
    _parse_source,
    _Parsed,
    resolve_columns,
)
from pipelines.ingest.filenotes import (
    closed_before_notes,
    listed,
    placeholder_notes,
    reading_notes,
    unpadded_notes,
)
from pipelines.ingest.gather import (
    _accepted_frame,
    _order,
    _outside_frame,
)
from pipelines.ingest.household import identity_kind
from pipelines.ingest.longcells import cut_long_cells
from pipelines.ingest.partition import _categories, _partition
from pipelines.ingest.personal import is_personal, looks_personal, personal_columns_detected
from pipelines.ingest.personal import matches_any as _matches_any
from pipelines.ingest.rawfile import RawFile
from pipelines.ingest.readers import read_file
from pipelines.ingest.rejects import _rejected_frame
from pipelines.ingest.schema import (
    _LABEL_ROLES,
    _NOTES,
    _STATE_OK,
    FILE_REASONS,
    REJECTED_COLUMNS,
    ROW_REASONS,
)
from pipelines.ingest.values import filled_cells
from pipelines.ingest.versions import (
    parse_updated_at,
    resolve_versions,
    unparseable_updated_at,
)
from pipelines.progress import Progress
from pipelines.taxonomy import CODES

# The logger of pipelines.ingest.stage, as before the split, so that log filters and
# configurations keep matching these messages.
log = logging.getLogger("pipelines.ingest.stage")


@dataclass
class _SourceOut:
    accepted: pd.DataFrame
    rejected: pd.DataFrame
    outside: pd.DataFrame
    summary: dict[str, Any]
    history: pd.DataFrame
    # Per accepted row, its household identifiers (never written: see household.py).
    identities: pd.Categorical


def _file_issue(source: SourceConfig, path: str, reason: str, detail: str) -> dict[str, Any]:
    """A whole file's problem, for ``rejected.csv``; a file that gave no row at all
    (:data:`FILE_REASONS`) is also said in the log, as the run goes on without it."""
    if reason in FILE_REASONS:
        log.warning("source %s, %s : %s", source.id, path, detail)
    return {
        "source": source.id,
        "source_file": path,
        "source_line": 0,
        "reason": reason,
        "reason_fr": detail,
        "original_row": "",
    }


def _file_note(
    source: SourceConfig, path: str, reason: str, detail: str, *, lines: np.ndarray | None = None
) -> dict[str, Any]:
    """A file's note (the file read all the same, nothing rejected for it):
    :func:`_file_issue` with its first 1,000 ``lines`` when given, ``note_only``."""
    note = _file_issue(source, path, reason, detail)
    if lines is not None:
        note["lines"] = [int(n) for n in lines[:1000]]
    return {**note, "note_only": True}


def _label_columns(source: SourceConfig, *, households: bool = True) -> Callable[[str], bool]:
    """Whether a file column is read dictionary-encoded: one the configuration maps to a
    label role (the same name, or the same up to case, accents and punctuation, as
    :func:`resolve_columns` matches them), or, when ``households`` are keyed, a personal
    column (declared or detected, mapped to no role) that identifies them, which
    :func:`pipelines.ingest.household.identity_codes` folds per distinct value."""
    wanted = [name for role, name in source.columns.items() if role in _LABEL_ROLES]
    mapped = list(source.columns.values())
    # Identity columns dictionary-encoded: identity_codes on bench.ingest's million rows
    # takes 0.085 s of CPU instead of 0.13 s.
    identities = households and source.kind == "reports"
    return lambda name: (
        _matches_any(name, wanted)
        or (
            identities
            and identity_kind(name) is not None
            and (is_personal(name, source.personal_columns) or looks_personal(name))
            and not _matches_any(name, mapped)
        )
    )


def _personal_columns(
    source: SourceConfig, *, households: bool = True
) -> Callable[[str], bool] | None:
    """Whether a file column is declared personal (and mapped to no role): the CSV fast
    path does not read it, unless it identifies the household of a report (a dwelling,
    a phone, an e-mail, a name: :mod:`pipelines.ingest.household`) and ``households``
    are keyed."""
    if not source.personal_columns:
        return None
    mapped = list(source.columns.values())
    reports = source.kind == "reports"
    return lambda name: (
        is_personal(name, source.personal_columns)
        and not _matches_any(name, mapped)
        and not (households and reports and identity_kind(name) is not None)
    )


def file_size(path: Path) -> int:
    """A file's size in bytes (0 for a missing or unreadable one: the progress of the
    reading, never an error of its own)."""
    try:
        return path.stat().st_size if path.is_file() else 0
    except OSError:
        return 0


def _read_source(
    source: SourceConfig, progress: Progress | None = None, *, households: bool = True
) -> tuple[list[RawFile], list[dict[str, str]], list[dict[str, Any]]]:
    """Read every file of a source; files that hold no row become file-level issues.
    ``progress`` advances by each file's size once it is read; ``households``: the
    columns that identify households are read (see :func:`_personal_columns`)."""
    files = source.files()
    labels = _label_columns(source, households=households)
    personal = _personal_columns(source, households=households)
    issues: list[dict[str, Any]] = []
    raws: list[RawFile] = []
    roles_per_file: list[dict[str, str]] = []
    if not files:
        issues.append(
            _file_issue(
                source,
                source.path,
                "missing_file",
                f"Aucun fichier ne correspond à « {source.path} » : "
                "vérifiez le chemin de la source.",
            )
        )
        return raws, roles_per_file, issues
    for path in files:
        try:
            # The declared format: "auto" lets the reader recognise Kobo and ODK exports.
            raw = read_file(
                path,
                source.format,
                encoding=source.encoding,
                separator=source.separator,
                sheet=source.sheet,
                labels=labels,
                personal=personal,
            )
        except FileNotFoundError:
            issues.append(
                _file_issue(
                    source,
                    str(path),
                    "missing_file",
                    f"Fichier introuvable : « {path} » ; vérifiez le chemin de la source.",
                )
            )
            continue
        except OSError as err:
            issues.append(
                _file_issue(
                    source,
                    str(path),
                    "unreadable_file",
                    f"Fichier illisible ({err.strerror or err}) : vérifiez qu'il s'agit d'un "
                    "fichier et que vous avez le droit de le lire.",
                )
            )
            continue
        finally:
            if progress is not None:
                progress.update(file_size(Path(path)), step=Path(path).name)
        if raw.sheets_with_rows:
            _check_other_sheets(raw, source)
        if not raw.has_header:
            issues.append(
                _file_issue(source, str(path), "empty_file", "Fichier vide : aucune ligne.")
            )
            continue
        if raw.n_rows == 0:
            issues.append(
                _file_issue(
                    source,
                    str(path),
                    "empty_file",
                    "Fichier sans données : seulement la ligne d'en-tête."
                    + _other_sheets_with_rows(raw)
                    if raw.format not in ("geojson", "open311")
                    else "Fichier sans données : aucune entité.",
                )
            )
            continue
        roles = resolve_columns(raw, source)
        roles_per_file.append(roles)
        raws.append(raw)
        issues.extend(_named_twice(raw, roles, source))
        for reason, detail, lines in [*cut_long_cells(raw), *reading_notes(raw)]:  # noted
            issues.append(_file_note(source, str(path), reason, detail, lines=lines))
    return raws, roles_per_file, issues


def _named_twice(raw: RawFile, roles: dict[str, str], source: SourceConfig) -> list[dict[str, Any]]:
    """A note per mapped column whose header the file holds more than once: the readers
    name the copies « <nom>.1 », « <nom>.2 »… (:func:`pipelines.ingest.csvfile._clean_names`);
    the first is read, the others are not. Noted, not rejected."""
    names = set(raw.columns)
    out = []
    for column in dict.fromkeys(roles.values()):
        copies = 0
        while f"{column}.{copies + 1}" in names:
            copies += 1
        if copies:
            out.append(
                {
                    **_file_issue(
                        source,
                        raw.path,
                        "duplicate_column",
                        f"la colonne « {column} » figure {copies + 1} fois dans l'en-tête : "
                        f"seule la première est lue, pas « {column}.1 »"
                        + (" ni les suivantes" if copies > 1 else "")
                        + ". Renommez-les, ou déclarez celle à lire.",
                    ),
                    "note_only": True,
                }
            )
    return out


def _other_sheets_with_rows(raw: RawFile) -> str:
    """For a workbook whose sheet read has a header and no row: the other sheets that
    have rows, for the analyst to name the one to read (the export may be there)."""
    others = raw.sheets_with_rows
    if not others:
        return ""
    return (
        f" Feuille lue : « {raw.sheets[0]} » ; "
        + ("la feuille " if len(others) == 1 else "les feuilles ")
        + ", ".join(f"« {t} »" for t in others)
        + (" a des lignes" if len(others) == 1 else " ont des lignes")
        + f' : si l\'export y est, indiquez-la dans la source (sheet = "{others[0]}").'
    )


def _check_other_sheets(raw: RawFile, source: SourceConfig) -> None:
    """A workbook read on its first sheet, which has no row of data while other sheets
    have some: an empty export when that sheet has the configured columns, else the
    sheet to read is not the first (a « Lisez-moi » before the data).

    Raises
    ------
    InputError
        The first sheet has no header, or not the configured columns (the message names
        the sheets and the ``sheet`` key).
    """
    if raw.has_header:
        resolve_columns(raw, source)  # names the other sheets when columns are missing
        return
    others = raw.sheets_with_rows
    raise InputError(
        raw.path,
        f"la première feuille du classeur, « {raw.sheets[0]} », est vide ; "
        + ("la feuille " if len(others) == 1 else "les feuilles ")
        + ", ".join(f"« {t} »" for t in others)
        + (" a des lignes" if len(others) == 1 else " ont des lignes")
        + f' : indiquez celle à lire dans la source (sheet = "{others[0]}").',
    )


def ingest_source(
    source: SourceConfig,
    *,
    bbox: tuple[float, float, float, float],
    today: date,
    start: pd.Timestamp,
    progress: Progress | None = None,
    households: bool = True,
) -> _SourceOut:
    raws, roles_per_file, issues = _read_source(source, progress, households=households)
    tomorrow = pd.Timestamp(today) + pd.Timedelta(days=1)
    window = (np.datetime64(start, "us"), np.datetime64(tomorrow, "us"))
    p = _parse_source(source, raws, roles_per_file, households=households, window=window)
    # How the files' dates were read, when their values had to say it: noted, not rejected.
    issues = issues + [
        {
            **_file_issue(source, n["source_file"], n["reason"], n["reason_fr"]),
            "lines": n["lines"],
            "note_only": True,
        }
        for n in p.date_notes
    ]
    # Coordinates 0;0 (a tool's « no position »): read as none, noted, not rejected.
    for raw, lines in zip(raws, p.zero_pair_lines, strict=True):
        if len(lines):
            detail = (
                f"{len(lines)} ligne(s) ont pour coordonnées 0 ; 0, la façon dont certains "
                f"outils écrivent « position inconnue » (lignes {listed(lines)}) : elles "
                "sont lues sans coordonnées, localisées par leur adresse quand elles en ont "
                "une, rejetées sinon (missing_location)."
            )
            issues.append(_file_note(source, raw.path, "zero_coordinates", detail, lines=lines))
    return _source_outputs(source, raws, roles_per_file, issues, p, bbox, today, start)


def _source_outputs(
    source: SourceConfig,
    raws: list[RawFile],
    roles_per_file: list[dict[str, str]],
    issues: list[dict[str, Any]],
    p: _Parsed,
    bbox: tuple[float, float, float, float],
    today: date,
    start: pd.Timestamp,
) -> _SourceOut:
    """Partition, order and gather a parsed source."""
    # A closing date after the day of processing is not trusted: missing, as an
    # unreadable one is (the row is kept), and counted apart.
    closed = p.closed_at.to_numpy()
    tomorrow = np.datetime64(pd.Timestamp(today) + pd.Timedelta(days=1), "us")
    closed_in_future = ~np.isnat(closed) & (closed >= tomorrow)
    # A closing date before the report's is set aside too (a day written without a time,
    # on the report's day, is not before it); the rows kept are noted one by one.
    reported = p.reported_at.to_numpy()
    closed_before = (closed < reported) & (closed != reported.astype("datetime64[D]"))
    if (closed_in_future | closed_before).any():
        p.closed_at = p.closed_at.mask(closed_in_future | closed_before)
    part = _partition(p, source, bbox=bbox, today=today, start=start, roles_per_file=roles_per_file)
    issues = issues + [
        _file_note(source, path, reason, detail, lines=lines)
        for path, reason, detail, lines in [
            *placeholder_notes(raws, p.frame, part.placeholder),
            *unpadded_notes(raws, p.frame, part.ids, part.unpadded, part.unpadded_from),
        ]
    ]
    cats = _categories(p, source)
    files = [raw.path for raw in raws]
    window = (np.datetime64(start, "us"), tomorrow)
    update_notes: list[dict[str, Any]] = []
    updated_at = parse_updated_at(
        p, raws, roles_per_file, source, window=window, notes=update_notes
    )
    issues = issues + [
        _file_note(
            source, n["source_file"], n["reason"], n["reason_fr"], lines=np.array(n["lines"])
        )
        for n in update_notes
    ]
    part, history = resolve_versions(p, part, cats, source, files, updated_at=updated_at)
    # Every row sorted by date and id; then a stable sort on where the rows go gives both
    # outputs' order: accepted rows, then outside ones.
    order = _order(p.reported_at, part.ids)
    group = np.where(part.accepted, 0, np.where(part.outside, 1, 2)).astype(np.int8)
    order = order[np.argsort(group[order], kind="stable")]
    n_acc, n_out = int(part.accepted.sum()), int(part.outside.sum())
    a, o = order[:n_acc], order[n_acc : n_acc + n_out]
    accepted, text_counts = _accepted_frame(p, part.ids, a, cats, source, files)
    outside = _outside_frame(p, part.ids, o, cats, source, files)
    rejected, rejected_counts = _rejected_frame(
        p, part, raws, roles_per_file, source, today=today, start=start
    )
    if [x for x in issues if not x.get("note_only")]:
        rejected = pd.concat(
            [
                pd.DataFrame(
                    [x for x in issues if not x.get("note_only")], columns=list(REJECTED_COLUMNS)
                ),
                rejected,
            ],
            ignore_index=True,
        )

    rej_counts = {
        code: int(np.count_nonzero(part.reason[part.rejected] == i + 1))
        for i, code in enumerate(ROW_REASONS)
    }
    rej_counts = {k: v for k, v in rej_counts.items() if v}
    n = len(p.frame)
    n_dup = int(part.duplicate.sum())
    n_upd = int(part.updated.sum())
    if n != n_acc + n_upd + n_dup + sum(rej_counts.values()) + n_out or n_upd != len(history):
        raise AssertionError(f"partition des lignes incohérente pour la source {source.id}")
    kept = part.accepted | part.outside
    n_kept = int(np.count_nonzero(kept))
    issues = issues + [
        _file_note(source, path, "closed_before_report", detail, lines=lines)
        for path, detail, lines in closed_before_notes(
            raws, roles_per_file, p.frame, kept & closed_before
        )
    ]
    with_coordinates = int(np.count_nonzero(kept & (p.state == _STATE_OK)))
    kept_flags = p.flags[kept] if n_kept < n else p.flags
    unknown_rows = kept & cats.unknown[cats.pair] if n else kept
    unknown_labels: dict[str, int] = {}
    for k, count in enumerate(np.bincount(cats.pair[unknown_rows], minlength=len(cats.labels))):
        if count:
            label = cats.labels[k]
            unknown_labels[label] = unknown_labels.get(label, 0) + int(count)
    f = p.frame
    closed_given = filled_cells(f["closed_at"]) if "closed_at" in f else np.zeros(n, bool)
    detected = personal_columns_detected(raws, roles_per_file, source.personal_columns)
    if detected:
        log.warning(
            "%s : colonnes non déclarées traitées comme personnelles (jamais recopiées) : %s",
            source.id,
            ", ".join(detected),
        )
    summary = {
        "kind": source.kind,
        "format": source.format,
        "files": files,
        "file_details": [
            {
                "path": raw.path,
                "format": raw.format,
                "encoding": raw.encoding,
                "separator": raw.separator,
                "rows_in": raw.n_rows,
                "blank_rows_skipped": raw.blank_rows,
                "columns": roles_per_file[i],
            }
            for i, raw in enumerate(raws)
        ],
        "file_issues": [
            {"file": x["source_file"], "reason": x["reason"]}
            | ({"lines": x["lines"], "detail": x["reason_fr"]} if "lines" in x else {})
            | ({"detail": x["reason_fr"]} if x.get("note_only") and "lines" not in x else {})
            for x in issues
        ],
        "rows_in": n,
        "accepted": n_acc,
        "updated": n_upd,
        "duplicates": n_dup,
        "rejected": rej_counts,
        "outside_study_area": n_out,
        "updates": {
            "by_reason": {
                code: int(count)
                for code, count in history["reason"].value_counts().sort_index().items()
            },
            "moved_into_study_area": int((history["study_area_change"] == "moved_in").sum()),
            "moved_out_of_study_area": int((history["study_area_change"] == "moved_out").sum()),
        },
        "by_category": {  # from the codes: value_counts on a million strings is slower
            CODES[i]: int(count)
            for i, count in sorted(
                enumerate(np.bincount(cats.code[a], minlength=len(CODES))),
                key=lambda item: CODES[item[0]],
            )
            if count
        },
        "unknown_labels": dict(sorted(unknown_labels.items())),
        "coordinates": {
            "with_coordinates": with_coordinates,
            "address_only": n_kept - with_coordinates,
            **{name: int(np.count_nonzero(kept_flags & bit)) for bit, name in _NOTES},
        },
        "scrubbed": _scrub.add_counts(
            _scrub.add_counts(text_counts, rejected_counts), p.id_scrubbed
        ),
        "personal_columns_detected": detected,
        "closed_at_unparseable": int(
            np.count_nonzero(
                kept
                & closed_given
                & np.isnat(p.closed_at.to_numpy())
                & ~closed_in_future
                & ~closed_before
            )
        ),
        "closed_at_in_future": int(np.count_nonzero(kept & closed_in_future)),
        "closed_at_before_report": int(np.count_nonzero(kept & closed_before)),
        "updated_at_unparseable": unparseable_updated_at(p, updated_at, kept),
    }
    identities = (
        p.frame["_identity"].iloc[a].array
        if "_identity" in p.frame
        else pd.Categorical.from_codes(
            np.zeros(len(a), np.int8), categories=pd.Index([""], dtype="str")
        )
    )
    return _SourceOut(accepted, rejected, outside, summary, history, identities)
