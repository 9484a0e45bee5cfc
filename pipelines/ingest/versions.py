"""Versions of a report: the same ``report_id`` read again, as a copy or as an update.

Landlords export their tickets month by month, and each export repeats the tickets of
the months before with their state of the day: January's file has ticket T1 open,
February's has it closed on 20 January. The rules:

- **Copy** (counted in ``duplicates``): the same id with the same content, that is the
  same value in every field of :data:`~pipelines.ingest.schema.VERSION_FIELDS` as
  ``ingested.parquet`` would write it (cleaned, parsed, scrubbed: two rows that differ
  only by how a date is written, or by a phone number the scrubber removes, are copies).
  The file, the line, ``coord_note`` and the export's update date are not content. The
  first copy read stands for all.
- **Update** (counted in ``updated``): the same id with a different content. The latest
  version is kept, whole; the others are *replaced*. Versions are ordered by the export's
  own update date when the source maps an ``updated_at`` column, then by closing date (a
  version without one is older than any version closed), then by the order they were
  read in (files in sorted name order, then lines; a version's place is where it was
  first read). So a closing date, once exported, is never lost to a version without it,
  unless an update date says the ticket was reopened.
- **Content dates before file order**: a version closed (or updated) later wins even when
  its file sorts first. File names are chosen by people (``export (2).csv``); the
  export's dates are the data's own.
- **No merge** of fields from different versions: the kept row is one the export wrote,
  not a mix no export ever contained. Every replaced version goes to
  ``report_history.csv`` with the fields that differ from the kept one and their old
  values (scrubbed as the accepted rows are), and the reason.
- **Study area**: the kept version decides. A report first read outside the area whose
  later version is inside is accepted, and its outside row counts as updated, not as
  outside (``study_area_change = moved_in``). A report whose later version moves outside
  the area is counted outside and listed in ``outside_study_area.csv``; its in-area row
  counts as updated (``moved_out``): the export's latest coordinates are its correction,
  and mapping the withdrawn position would show a place the landlord no longer gives.
- Rows without an id are named by a hash of their cells: they can be copies of one
  another, never versions. An id that is a placeholder (« 0 », « 00000 », « sans objet »,
  « N.C. »…, :func:`pipelines.ingest.partition.placeholder_ids`) is no id: distinct
  reports an export numbered so are never versions of one another (the file's note
  ``placeholder_ids`` lists their lines).
- Rejected rows are not versions: a later version that cannot be read (no date, bad
  coordinates…) is rejected with its reason and leaves the earlier valid version in place.

Written here rather than with a library: pandas' ``drop_duplicates`` keeps one row per
key but neither tells copies from versions nor says what changed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config import SourceConfig
from pipelines.ingest.cells import _Parsed, _str_column
from pipelines.ingest.dates import parse_dates, year_first_note, year_first_rows
from pipelines.ingest.gather import _accepted_frame
from pipelines.ingest.partition import _Categories, _hash_hex, _Partition
from pipelines.ingest.rawfile import RawFile
from pipelines.ingest.schema import HISTORY_COLUMNS, UPDATE_REASONS, VERSION_FIELDS
from pipelines.ingest.values import filled_cells

#: The fields' names in ``reason_fr``.
FIELD_LABELS_FR = {
    "category": "catégorie",
    "category_source_label": "libellé de catégorie",
    "subcategory": "sous-catégorie",
    "description": "description",
    "address": "adresse",
    "building_ref": "bâtiment",
    "reported_at": "date de création",
    "status": "statut",
    "closed_at": "date de clôture",
    "channel": "canal",
    "lon": "longitude",
    "lat": "latitude",
    "updated_at": "date de mise à jour",
}

_WHY_FR = {
    "newer_update_date": "celle-ci a une date de mise à jour plus récente",
    "later_closing_date": "celle-ci a une date de clôture plus récente",
    "later_in_file_order": "celle-ci a été lue après, à dates égales",
}

_MOVE_FR = {
    "moved_in": " Le signalement entre dans la zone d'étude avec cette version.",
    "moved_out": (
        " Le signalement sort de la zone d'étude avec cette version "
        "(listé dans outside_study_area.csv)."
    ),
}


def empty_history() -> pd.DataFrame:
    """A ``report_history.csv`` without rows."""
    return pd.DataFrame(columns=list(HISTORY_COLUMNS))


def parse_updated_at(
    p: _Parsed,
    raws: list[RawFile],
    roles_per_file: list[dict[str, str]],
    source: SourceConfig,
    *,
    window: tuple[np.datetime64, np.datetime64] | None = None,
    notes: list[dict[str, Any]] | None = None,
) -> pd.Series | None:
    """The export's update date of each row (role ``updated_at``), naive local time, NaT
    where missing or unparseable; None when no file of the source maps the role.

    Parsed file by file, as the creation and closing dates are: Excel epoch of the file,
    and its day or month first order as its own values show (``p.month_first``, decided
    over its creation, closing and update dates; ``date_format`` still forces a format).
    A column of ``nn-nn-nn`` dates that only make sense year first in ``window`` (the
    study's first day, the day after the processing) is read so, as the creation date
    is (:func:`pipelines.ingest.dates.year_first_rows`), its note added to ``notes``.
    """
    if not any("updated_at" in roles for roles in roles_per_file):
        return None
    f = p.frame
    out = pd.Series(pd.NaT, index=f.index, dtype="datetime64[us]")
    which = f["_file"].to_numpy()
    for i, raw in enumerate(raws):
        rows = which == i
        if "updated_at" not in roles_per_file[i] or not rows.any():
            continue
        values = f.loc[rows, "updated_at"]
        parsed = parse_dates(
            values,
            date_format=source.date_format,
            excel_epoch=raw.excel_epoch,
            month_first=p.month_first[i],
        )
        if window is not None and not source.date_format and not p.month_first[i]:
            found = year_first_rows(
                _str_column(values), parsed, window, excel_epoch=raw.excel_epoch
            )
            if found is not None:
                parsed = found[0]
                lines = f.loc[rows, "source_line"].to_numpy()[found[1]]
                column = roles_per_file[i]["updated_at"]
                if notes is not None:
                    notes.append(year_first_note(raw.path, column, lines))
        out[rows] = parsed.to_numpy()
    return out


def unparseable_updated_at(p: _Parsed, updated_at: pd.Series | None, kept: np.ndarray) -> int:
    """How many kept rows have an update date that could not be read."""
    if updated_at is None:
        return 0
    given = filled_cells(p.frame["updated_at"])
    return int(np.count_nonzero(kept & given & np.isnat(updated_at.to_numpy())))


def _instants(values: pd.Series | None, rows: np.ndarray) -> np.ndarray:
    """Datetimes of ``rows`` as int64 microseconds, NaT the smallest (older than any
    date); zeros without values."""
    if values is None:
        return np.zeros(len(rows), dtype=np.int64)
    return values.to_numpy().astype("datetime64[us]")[rows].view(np.int64)


def resolve_versions(
    p: _Parsed,
    part: _Partition,
    cats: _Categories,
    source: SourceConfig,
    files: list[str],
    *,
    updated_at: pd.Series | None,
) -> tuple[_Partition, pd.DataFrame]:
    """Tell copies from updates among valid rows sharing a report id (module docstring).

    Parameters
    ----------
    p, part, cats
        The parsed source, its partition (every repeat of a valid id a duplicate of the
        first) and its categories.
    files
        The source's files, in reading order (``source_file`` of the rows).
    updated_at
        :func:`parse_updated_at`, or None when the source has no update date.

    Returns
    -------
    tuple
        The partition with ``duplicate``, ``updated``, ``accepted`` and ``outside``
        redrawn, and the history (:data:`HISTORY_COLUMNS`), one row per replaced
        version, ordered by report id then reading order.
    """
    if not part.repeats:
        return part, empty_history()
    ids = part.ids
    valid = part.reason == 0
    positions = np.flatnonzero(valid)
    repeated = positions[ids.iloc[positions].duplicated(keep=False).to_numpy()]
    duplicate = part.duplicate.copy()
    duplicate[repeated] = False
    # Cheap first: the same cells in every mapped role (but the update date) make a copy.
    cells = [c for c in p.roles if c in p.frame and c != "updated_at"]
    same_cells = (
        ids.iloc[repeated].to_numpy(object)
        + "|"
        + _hash_hex(p.frame.iloc[repeated][cells]).to_numpy(object)
    )
    copy = pd.Series(same_cells).duplicated(keep="first").to_numpy()
    duplicate[repeated[copy]] = True
    rest = repeated[~copy]
    rest = rest[ids.iloc[rest].duplicated(keep=False).to_numpy()]
    if len(rest) == 0:
        return _redrawn(part, valid, duplicate, np.zeros(len(ids), bool)), empty_history()
    # Then the content as it would be written: cleaned, parsed and scrubbed.
    out, _ = _accepted_frame(p, ids, rest, cats, source, files)
    rest_ids = ids.iloc[rest].to_numpy(object)
    same_content = pd.Series(
        rest_ids + "|" + _hash_hex(out[list(VERSION_FIELDS)]).to_numpy(object)
    ).duplicated(keep="first")
    duplicate[rest[same_content.to_numpy()]] = True
    k = np.flatnonzero(~same_content.to_numpy())  # versions, as indices into `out`
    key = pd.DataFrame(
        {
            "id": rest_ids[k],
            "updated": _instants(updated_at, rest[k]),
            "closed": _instants(p.closed_at, rest[k]),
            "position": rest[k],
            "k": k,
        }
    ).sort_values(["id", "updated", "closed", "position"], kind="stable")
    winner = key.drop_duplicates("id", keep="last").set_index("id")["k"]
    key["winner"] = key["id"].map(winner).to_numpy()
    replaced = key[key["k"] != key["winner"]].sort_values(["id", "position"], kind="stable")
    updated = np.zeros(len(ids), dtype=bool)
    updated[rest[replaced["k"].to_numpy()]] = True
    history = _history(
        out,
        replaced["k"].to_numpy(),
        replaced["winner"].to_numpy(),
        rest,
        part.away,
        updated_at,
        p.closed_at,
    )
    return _redrawn(part, valid, duplicate, updated), history


def _redrawn(
    part: _Partition, valid: np.ndarray, duplicate: np.ndarray, updated: np.ndarray
) -> _Partition:
    """The partition with its copies and replaced versions set; the kept version's
    coordinates say whether the report is inside the study area."""
    kept = valid & ~duplicate & ~updated
    return dataclasses.replace(
        part,
        duplicate=duplicate,
        updated=updated,
        accepted=kept & ~part.away,
        outside=kept & part.away,
    )


def _history(
    out: pd.DataFrame,
    old: np.ndarray,
    new: np.ndarray,
    rest: np.ndarray,
    away: np.ndarray,
    updated_at: pd.Series | None,
    closed_at: pd.Series,
) -> pd.DataFrame:
    """One row per replaced version: ``old`` and ``new`` index ``out`` (the versions'
    fields as written) and ``rest`` (their rows in the source)."""
    before = out.iloc[old].reset_index(drop=True)
    after = out.iloc[new].reset_index(drop=True)
    fields = list(VERSION_FIELDS)
    if updated_at is not None:
        upd = updated_at.to_numpy()
        before["updated_at"] = upd[rest[old]]
        after["updated_at"] = upd[rest[new]]
        fields.append("updated_at")
    changed = pd.DataFrame(
        {
            f: ~((before[f] == after[f]).fillna(False) | (before[f].isna() & after[f].isna()))
            for f in fields
        }
    )
    u_old, u_new = _instants(updated_at, rest[old]), _instants(updated_at, rest[new])
    c_old, c_new = _instants(closed_at, rest[old]), _instants(closed_at, rest[new])
    reason_index = np.where(u_new > u_old, 0, np.where(c_new > c_old, 1, 2))
    a_old, a_new = away[rest[old]], away[rest[new]]
    move = np.where(a_old & ~a_new, "moved_in", np.where(~a_old & a_new, "moved_out", ""))
    names = [[f for f in fields if row[f]] for row in changed.to_dict("records")]
    reasons = [UPDATE_REASONS[i] for i in reason_index]
    history = pd.DataFrame(
        {
            "report_id": before["report_id"],
            "source": before["source"],
            "source_file": before["source_file"],
            "source_line": before["source_line"].astype("int64"),
            "replaced_by_file": after["source_file"],
            "replaced_by_line": after["source_line"].astype("int64"),
            "reason": reasons,
            "reason_fr": [
                _reason_fr(reason, file, int(line), changed_names, moved)
                for reason, file, line, changed_names, moved in zip(
                    reasons,
                    after["source_file"],
                    after["source_line"],
                    names,
                    move,
                    strict=True,
                )
            ],
            "study_area_change": move,
            "changed_fields": [";".join(n) for n in names],
        }
    )
    for f in (*VERSION_FIELDS, "updated_at"):
        column = f"old_{f}"
        if f in before:
            history[column] = before[f].where(changed[f].to_numpy())
        else:
            history[column] = pd.Series(pd.NaT, index=history.index, dtype="datetime64[us]")
    return history[list(HISTORY_COLUMNS)]


def _reason_fr(reason: str, file: str, line: int, changed: list[str], moved: str) -> str:
    """The French sentence of ``report_history.csv``: which version replaced this one,
    why, and what changed."""
    what = ", ".join(FIELD_LABELS_FR[f] for f in changed)
    return (
        f"Version remplacée par celle du fichier « {file} », ligne {line} : "
        f"{_WHY_FR[reason]}. Champs modifiés : {what}.{_MOVE_FR.get(moved, '')}"
    )
