"""Ingestion: every source of a site in, every row accounted for.

Each row read ends in exactly one of five places, and the summary checks that they add
up (``rows_in = accepted + updated + duplicates + rejected + outside_study_area``):

- **accepted**: written to ``ingested.parquet`` (reports and observations), with its
  category mapped onto the taxonomy, its date parsed as local time, its coordinates in
  WGS84 (or none when only an address or a building code locates it) and its free text
  scrubbed of personal data;
- **updated**: an earlier version of a report read again with a different content (the
  ticket open in January's export, closed in February's): the latest version is kept
  (by the export's update date, else its closing date, else reading order), the earlier
  ones are listed in ``report_history.csv`` with what changed (rules in
  :mod:`pipelines.ingest.versions`);
- **duplicates**: the same ``report_id`` with the same content was already read (the
  same monthly file read twice, an unchanged ticket repeated in the next month's
  export, an exact duplicate row);
- **rejected**: written to ``rejected.csv`` with a reason code and a French sentence
  naming the column (no date, unreadable date or coordinates, date in the future or
  before the study, nothing to locate the report, malformed line);
- **outside_study_area**: valid coordinates outside the site's bounding box, listed in
  ``outside_study_area.csv``, counted, not mapped (for a report read several times, the
  kept version's coordinates decide).

Parsing is vectorised (pyarrow kernels; labels and text handled per distinct value), so
a million-row export is ingested in a few times the time pyarrow takes to read it.

This module reads the sources and assembles the result; the work is in private modules,
one step each: ``_readers`` and ``_csv`` (files to string columns), ``_values`` (cell
cleaning and value parsers), ``_ingest_cells`` (roles, coordinates, dates),
``_ingest_partition`` (where each row goes, ids, categories), ``_ingest_versions``
(copies and updates of a report, ``report_history.csv``), ``_ingest_gather`` (output
columns), ``_ingest_rejects`` (``rejected.csv``), ``_likely_duplicates`` (used after
geocoding); ``_ingest_schema`` holds the columns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from pipelines.config import Config, SiteConfig, SourceConfig
from pipelines.errors import ConfigError, InputError
from pipelines.ingest import scrub as _scrub
from pipelines.ingest.cells import (
    _parse_source,
    _Parsed,
    resolve_columns,
)
from pipelines.ingest.filenotes import first_20, reading_notes, with_split_notes
from pipelines.ingest.gather import (
    _accepted_frame,
    _order,
    _outside_frame,
    _take_strings,
    _typed,
)
from pipelines.ingest.household import HOUSEHOLD_COLUMN, household_key_codes, identity_kind
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
    HISTORY_COLUMNS,
    INGESTED_COLUMNS,
    OUTSIDE_COLUMNS,
    REJECTED_COLUMNS,
    ROW_REASONS,
)
from pipelines.ingest.secret import load_secret, secret_path
from pipelines.ingest.values import filled_cells
from pipelines.ingest.versions import (
    empty_history,
    parse_updated_at,
    resolve_versions,
    unparseable_updated_at,
)
from pipelines.io import read_json, write_csv, write_json, write_points_geoparquet
from pipelines.progress import Progress
from pipelines.reports import PARTITION, PARTITION_TEXT, check_partition
from pipelines.taxonomy import CODES, person_related_flags

log = logging.getLogger(__name__)

__all__ = [
    "FILE_REASONS",
    "HISTORY_COLUMNS",
    "INGESTED_COLUMNS",
    "OUTSIDE_COLUMNS",
    "REJECTED_COLUMNS",
    "ROW_REASONS",
    "IngestResult",
    "ingest_site",
    "resolve_columns",
    "run",
]


@dataclass(frozen=True)
class IngestResult:
    """What :func:`ingest_site` returns.

    Attributes
    ----------
    ingested
        Accepted rows, :data:`INGESTED_COLUMNS`, ``lon``/``lat`` in EPSG:4326 (NaN where
        only an address or building code locates the row); sorted by source, date,
        report_id. No shapely geometry: :func:`run` writes the points to
        ``ingested.parquet`` from the coordinates (:func:`pipelines.io.point_wkb`).
    rejected
        :data:`REJECTED_COLUMNS`; file-level problems have ``source_line`` 0.
    outside
        :data:`OUTSIDE_COLUMNS`: valid coordinates outside the study area.
    summary
        ``ingest_summary.json``: per source, the row partition and its breakdowns.
    history
        :data:`HISTORY_COLUMNS`: the replaced versions of reports read several times
        with different contents (``report_history.csv``).
    """

    ingested: pd.DataFrame
    rejected: pd.DataFrame
    outside: pd.DataFrame
    summary: dict[str, Any]
    history: pd.DataFrame = field(default_factory=empty_history)


# --------------------------------------------------------------------------- one source
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


def _file_size(path: Path) -> int:
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
                progress.update(_file_size(Path(path)), step=Path(path).name)
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
        for reason, detail, lines in reading_notes(raw):  # read all the same: noted
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


def _ingest_source(
    source: SourceConfig,
    *,
    bbox: tuple[float, float, float, float],
    today: date,
    start: pd.Timestamp,
    progress: Progress | None = None,
    households: bool = True,
) -> _SourceOut:
    raws, roles_per_file, issues = _read_source(source, progress, households=households)
    p = _parse_source(source, raws, roles_per_file, households=households)
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
                f"outils écrivent « position inconnue » (lignes {first_20(lines)}) : elles "
                "sont lues sans coordonnées, localisées par leur adresse quand elles en ont "
                "une, rejetées sinon (missing_location)."
            )
            issues.append(_file_note(source, raw.path, "zero_coordinates", detail, lines=lines))
    return _source_outputs(source, raws, roles_per_file, issues, p, bbox, today, start)


def _placeholder_notes(
    source: SourceConfig, raws: list[RawFile], p: _Parsed, placeholder: np.ndarray | None
) -> list[dict[str, Any]]:
    """A note per file whose ids are placeholders (« 0 », « sans objet »…): their rows
    are read as rows without an id (:func:`pipelines.ingest.partition.placeholder_ids`),
    each a report of its own, not versions of the first."""
    if placeholder is None or not placeholder.any():
        return []
    f = p.frame
    notes = []
    for i, raw in enumerate(raws):
        rows = placeholder & (f["_file"].to_numpy() == i)
        if not rows.any():
            continue
        lines = f["source_line"].to_numpy()[rows]
        values = list(dict.fromkeys(f["id"].astype("str").to_numpy()[rows].tolist()))
        shown = ", ".join(f"« {v} »" for v in values[:5]) + (" …" if len(values) > 5 else "")
        detail = (
            f"{len(lines)} ligne(s) ont pour identifiant une valeur de remplissage ({shown}), "
            f"pas un numéro de signalement (lignes {first_20(lines)}) : chacune est lue "
            "comme un signalement sans identifiant, le sien, et non comme une mise à jour "
            "d'une autre ligne au même identifiant ; seules des lignes identiques en tout "
            "point sont fusionnées comme doublons. Donnez-leur leur numéro de ticket si "
            "l'outil d'export le connaît."
        )
        notes.append(_file_note(source, raw.path, "placeholder_ids", detail, lines=lines))
    return notes


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
    if closed_in_future.any():
        p.closed_at = p.closed_at.mask(closed_in_future)
    part = _partition(p, source, bbox=bbox, today=today, start=start, roles_per_file=roles_per_file)
    issues = issues + _placeholder_notes(source, raws, p, part.placeholder)
    cats = _categories(p, source)
    files = [raw.path for raw in raws]
    updated_at = parse_updated_at(p, raws, roles_per_file, source)
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
                kept & closed_given & np.isnat(p.closed_at.to_numpy()) & ~closed_in_future
            )
        ),
        "closed_at_in_future": int(np.count_nonzero(kept & closed_in_future)),
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


# --------------------------------------------------------------------------- site
def ingest_site(
    site: SiteConfig,
    *,
    study_area_bbox: tuple[float, float, float, float],
    today: date,
    secret: bytes | None = None,
) -> IngestResult:
    """Ingest every source of a site.

    Parameters
    ----------
    site
        The site; its ``params["ingest"]["start_date"]`` bounds dates from below.
    study_area_bbox
        (west, south, east, north) in degrees (EPSG:4326); rows with valid coordinates
        outside go to :attr:`IngestResult.outside`.
    today
        Dates after this day are rejected as ``date_in_future``.
    secret
        The site's secret (:func:`pipelines.ingest.secret.load_secret`): the accepted
        rows then carry their ``household_key``. Without it (unit tests of the reading)
        they carry no key at all, never one computed without the secret.

    Returns
    -------
    IngestResult
        Reads the source files and nothing else; no file is written. The accepted rows
        carry ``person_related`` (:func:`pipelines.taxonomy.person_related`).

    Raises
    ------
    InputError
        A file cannot be parsed at all, or lacks a configured column.
    """
    start = pd.Timestamp(site.settings.ingest.start_date)
    size = sum(_file_size(f) for s in site.sources for f in s.files())
    with Progress(f"Lecture des exports ({site.id})", size, unit="o") as progress:
        outs = {
            # Without the secret no key is made: the household columns are not read.
            s.id: _ingest_source(
                s,
                bbox=study_area_bbox,
                today=today,
                start=start,
                progress=progress,
                households=secret is not None,
            )
            for s in site.sources
        }
    order = sorted(outs)
    accepted = [outs[s].accepted for s in order]
    frame = accepted[0] if len(accepted) == 1 else pd.concat(accepted, ignore_index=True)
    ingested = _typed(frame)
    ingested["person_related"] = person_related_flags(
        ingested["category"], _scrub.names_dwelling(ingested["description"]), site.category_classes
    )
    if secret is not None:
        identities = union_categoricals([outs[s].identities for s in order])
        codes, keys = household_key_codes(
            identities, ingested["source"], ingested["report_id"], secret
        )
        ingested[HOUSEHOLD_COLUMN] = _take_strings(keys, codes).array
    rejected = pd.concat([outs[s].rejected for s in order], ignore_index=True)
    rejected = (
        rejected.astype({"source_line": "int64"})
        if len(rejected)
        else pd.DataFrame(columns=list(REJECTED_COLUMNS))
    )
    outside = pd.concat([outs[s].outside for s in order], ignore_index=True)
    outside = (
        outside[list(OUTSIDE_COLUMNS)]
        if len(outside)
        else pd.DataFrame(columns=list(OUTSIDE_COLUMNS))
    )
    histories = [outs[s].history for s in order if len(outs[s].history)]
    history = pd.concat(histories, ignore_index=True) if histories else empty_history()
    sources = {s: outs[s].summary for s in order}
    totals = {
        key: sum(
            int(v[key]) if not isinstance(v[key], dict) else sum(v[key].values())
            for v in sources.values()
        )
        for key in ("rows_in", *PARTITION)
    }
    summary = {
        "site": site.id,
        "study_area_bbox": [float(v) for v in study_area_bbox],
        "start_date": start.date().isoformat(),
        "partition": PARTITION_TEXT,
        "sources": sources,
        "totals": totals,
        # Undeclared columns whose header looks personal, treated as declared ones.
        "personal_columns_detected": {
            sid: v["personal_columns_detected"]
            for sid, v in sources.items()
            if v["personal_columns_detected"]
        },
    }
    return IngestResult(ingested, rejected, outside, summary, history)


def study_area(
    site: SiteConfig, bounds: Sequence[float] | None, *, config_path: str = "", key: str = ""
) -> tuple[float, float, float, float]:
    """The study area of a site: its ``study_area_bbox``, else ``bounds``, those of its
    OSM extract as the OSM stage wrote them in ``buildings_summary.json``.

    When both are known they must intersect: a box that misses the extract (latitude and
    longitude swapped, another town's box) would send every report outside the study
    area without a word.

    Raises
    ------
    ConfigError
        No study area is known, or ``study_area_bbox`` (named as ``key`` of the
        configuration ``config_path``) does not meet the extract's bounds.
    """
    if site.study_area_bbox:
        if bounds:
            w, s, e, n = site.study_area_bbox
            ow, os_, oe, on = (float(v) for v in bounds)
            if w > oe or e < ow or s > on or n < os_:
                raise ConfigError(
                    config_path or str(site.osm),
                    f"la zone d'étude [{w}, {s}, {e}, {n}] ne recoupe pas l'emprise de "
                    f"l'extrait OSM [{ow}, {os_}, {oe}, {on}] (ouest, sud, est, nord, en "
                    "degrés) : vérifiez l'ordre des valeurs (longitude avant latitude) et que "
                    "l'extrait couvre le site.",
                    key=key or "study_area_bbox",
                )
        return site.study_area_bbox
    if not bounds:
        raise ConfigError(
            str(site.osm),
            "zone d'étude inconnue : renseignez study_area_bbox pour ce site, ou donnez "
            "l'emprise de l'extrait OSM (buildings_summary.json de l'étape OSM, option "
            "--bounds ; un lieu Overpass n'en a pas hors ligne).",
            key="osm",
        )
    west, south, east, north = (float(v) for v in bounds)
    return west, south, east, north


def read_bounds(buildings_summary: Path) -> list[float] | None:
    """The OSM extract's bounds from the OSM stage's ``buildings_summary.json``; None
    when the extract holds no building (a portfolio's perimeter with none: its bounds
    are those of whatever else the cut kept, and the site's perimeter is the study
    area)."""
    summary = read_json(buildings_summary)
    bounds = summary.get("bounds")
    if summary.get("buildings") == 0:
        return None
    return list(bounds) if bounds else None


def run(
    config: Config, site_id: str, out_dir: Path, *, bounds: Sequence[float] | None = None
) -> IngestResult:
    """Ingest a site's sources and write ``ingested.parquet``, ``rejected.csv``,
    ``outside_study_area.csv``, ``report_history.csv`` and ``ingest_summary.json`` into
    ``out_dir``.

    The study area is the site's ``study_area_bbox``, else the bounds of its OSM extract
    ``bounds`` (:func:`read_bounds` of the OSM stage's ``buildings_summary.json``:
    ingestion never reads the OSM file itself); ``today`` is ``params.ingest.today`` when set
    (reproducible runs), else the day of the run. The site's secret
    (``<secrets_dir>/<site>.key``) keys the households of the reports.

    Raises
    ------
    ConfigError
        The site's secret is missing or invalid: the message says how to create it.
    """

    site = config.site(site_id)
    index = [s.id for s in config.sites].index(site_id)
    bbox = study_area(site, bounds, config_path=config.path, key=f"sites[{index}].study_area_bbox")
    today = site.settings.ingest.today or date.today()
    secret = load_secret(
        secret_path(config.secrets_dir, site_id), config_path=config.path, site_id=site_id
    )
    result = ingest_site(site, study_area_bbox=bbox, today=today, secret=secret)
    portfolio = config.portfolio
    if portfolio is not None and site_id in portfolio.site_ids and portfolio.summary.is_file():
        # the site read the split's UTF-8 files: the notes of the exports' reading (a
        # DOS file, lines in another encoding) are the split's
        noted = with_split_notes(result.summary, read_json(portfolio.summary), site_id)
        result = replace(result, summary=noted)
    write_result(result, site_id, out_dir)
    return result


def write_result(result: IngestResult, site_id: str, out_dir: Path) -> None:
    """Check the row partition of ``result``, log it, and write the files of :func:`run`
    into ``out_dir``."""

    bad = check_partition(result.summary["sources"])
    if bad:
        raise AssertionError(f"partition des lignes incohérente pour {bad}")
    for sid, s in result.summary["sources"].items():
        log.info(
            "%s/%s : %d lignes, %d acceptées, %d mises à jour, %d doublons, %d rejetées, "
            "%d hors zone",
            site_id,
            sid,
            s["rows_in"],
            s["accepted"],
            s["updated"],
            s["duplicates"],
            sum(s["rejected"].values()),
            s["outside_study_area"],
        )
    sources = result.summary["sources"].values()
    rows_in = sum(s["rows_in"] for s in sources)
    if rows_in and not sum(s["accepted"] + s["updated"] for s in sources):
        # Every file read, nothing kept: the run goes on (the partition is written for the
        # analyst to open), but an empty map must not look like a quiet site.
        log.warning(
            "%s : aucune des %d lignes lues n'a été retenue (voir rejected.csv et "
            "outside_study_area.csv dans %s) : les cartes seront vides.",
            site_id,
            rows_in,
            out_dir,
        )
    out_dir = Path(out_dir)
    write_points_geoparquet(result.ingested, out_dir / "ingested.parquet")
    write_csv(result.rejected, out_dir / "rejected.csv")
    write_csv(result.outside, out_dir / "outside_study_area.csv")
    write_csv(result.history, out_dir / "report_history.csv")
    write_json(result.summary, out_dir / "ingest_summary.json")


# --------------------------------------------------------------------------- duplicates
