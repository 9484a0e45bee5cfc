"""The register's memory: every action ever read, at its last state, and the append-only
history of what changed, refresh after refresh.

Kept beside the planners' notes (``<annotations_dir>/.archive/<site>/``: out of reach of
``make clean``, as private as the notes): ``actions_archive.parquet`` (one row per
action ever read: its last applied state) and ``actions_history.csv`` (one row per
change: when it was recorded, which file and line said it, the file's fingerprint, its
modification time and, for a workbook, its « modifié par »; the field, its old and new
value, whether it was applied). The history is only ever appended to: the bytes already
written are never rewritten (:func:`append_history`).

Rules, decided here:

* **A status never silently goes back.** A step back (a lower rank of
  :data:`pipelines.actions.model.STATUS_RANK`: « réalisée » → « en cours ») is most
  often an old copy of the register dropped in the folder again, so it is **not
  applied**: the action keeps the status it had reached, the step back is written in
  the history (« retour en arrière refusé ») and listed in ``actions_rejected.csv``
  (scope « valeur »: the row's other values are applied). A real reopening (the repair
  did not hold) is told apart by its date: a step back whose ``date_statut`` is later
  than the date of the status reached is **applied, with a flag** (``is_reopened``,
  « réouverture » in the history, a message in the summary); the completion date it
  gave is cleared.
* **An action removed from the file is kept**, flagged ``is_removed`` (« retrait » in
  the history), as the notes are kept; written again, it comes back (« réapparition »).
  A row set aside this time (a problem) does not remove its action: it keeps its last
  accepted state; nor does a file that cannot be read this time (a header renamed, a
  workbook saved half-way) remove the actions last read from it.
* **Completion date**: ``date_realisation`` when given, else the ``date_statut`` of the
  first « réalisée » (or « vérifiée ») applied; an action « abandonnée » after it was
  « réalisée » has none (its effect is not measured), with a message in the summary.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from pipelines.actions.model import DATE_COLUMNS, HEADER_OF, STATUS_RANK
from pipelines.actions.readers import SCOPE_VALUE, problem
from pipelines.actions.targets import TARGET_RESOLUTION
from pipelines.actions.validate import ACTION_FIELDS, CONTENT_FIELDS
from pipelines.crs import WGS84
from pipelines.errors import InputError
from pipelines.io import atomic_path, list_cell, neutralise_formulas, read_geoparquet
from pipelines.published import DONE_STATUSES

#: Columns of ``actions_history.csv``.
HISTORY_COLUMNS = (
    "recorded_at",
    "action_id",
    "event",
    "field",
    "old_value",
    "new_value",
    "applied",
    "source_file",
    "source_line",
    "file_sha256",
    "file_modified_at",
    "file_modified_by",
    "note_fr",
)
#: What the archive keeps per action besides its fields and target.
STATE_COLUMNS = (
    "source_file",
    "source_line",
    "first_seen_at",
    "last_change_at",
    "is_removed",
    "is_reopened",
    "done_date",
    "refused_status",
    "refused_status_date",
)
ARCHIVE_COLUMNS = (*ACTION_FIELDS, *TARGET_RESOLUTION, *STATE_COLUMNS)
_LIST_COLUMNS = ("target_buildings", "categories", "building_ids", "zone_ids")
_DATE_COLUMNS = (*DATE_COLUMNS, "done_date")


def comparable(value: Any) -> str:
    """A value as compared between two runs and written in the history: dates ISO,
    lists ``;``-joined, geometries WKT (6 decimals), nothing as ``""``."""
    if value is None or value is pd.NaT:
        return ""
    if isinstance(value, BaseGeometry):
        return "" if value.is_empty else str(shapely.to_wkt(value, rounding_precision=6))
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, str):
        return value
    if isinstance(value, tuple | list | np.ndarray):
        return ";".join(list_cell(value))
    if isinstance(value, float) and np.isnan(value):
        return ""
    return str(value)


def _later(new: Any, old: Any) -> bool:
    return new is not None and not pd.isna(new) and (old is None or pd.isna(old) or new > old)


def _event(
    now: pd.Timestamp,
    action_id: str,
    event: str,
    *,
    field: str | None = None,
    old: Any = None,
    new: Any = None,
    applied: bool = True,
    row: Mapping[str, Any] | None = None,
    files: Mapping[str, Mapping[str, Any]] | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    file = str(row["source_file"]) if row is not None else None
    facts = (files or {}).get(file or "", {})
    return {
        "recorded_at": now.isoformat(),
        "action_id": action_id,
        "event": event,
        "field": HEADER_OF.get(field, field) if field else None,
        "old_value": comparable(old) if field else None,
        "new_value": comparable(new) if field else None,
        "applied": applied,
        "source_file": file,
        "source_line": int(row["source_line"]) if row is not None else None,
        "file_sha256": facts.get("sha256"),
        "file_modified_at": facts.get("modified_at"),
        "file_modified_by": facts.get("modified_by"),
        "note_fr": note,
    }


def _log(
    events: list[dict[str, Any]],
    now: pd.Timestamp,
    action_id: str,
    row: Mapping[str, Any],
    files: Mapping[str, Mapping[str, Any]] | None,
    event: str,
    **kw: Any,
) -> None:
    events.append(_event(now, action_id, event, row=row, files=files, **kw))


def fold_register(
    current: gpd.GeoDataFrame,
    archive: gpd.GeoDataFrame | None,
    *,
    seen_ids: set[str],
    now: pd.Timestamp,
    files: Mapping[str, Mapping[str, Any]] | None = None,
    failed_files: Collection[str] = (),
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, list[dict[str, Any]], list[str]]:
    """Fold this run's register into every action read before.

    Parameters
    ----------
    current
        This run's actions, one per id, targets resolved, free text already scrubbed
        (EPSG:4326).
    archive
        The archive of the previous runs (:data:`ARCHIVE_COLUMNS`), or ``None``.
    seen_ids
        Every id written in a row of the register this time, set aside or not: an
        action whose row was set aside keeps its last state and is not removed.
    now
        The run's time (UTC), recorded on the history's rows.
    files
        Per file name, :func:`pipelines.actions.readers.file_facts`.
    failed_files
        The register files that could not be read this time: an action last read from
        one of them keeps its last state and is not removed (its file said nothing).

    Returns
    -------
    tuple
        The new archive (every action, last applied state, :data:`ARCHIVE_COLUMNS`),
        the history rows to append (:data:`HISTORY_COLUMNS`), the problems of the
        steps back refused (scope « valeur ») and the French messages of the steps back
        applied (reopenings) and of the actions removed.
    """
    old = as_archive(archive) if archive is not None and len(archive) else None
    before = {str(r["action_id"]): r for _, r in old.iterrows()} if old is not None else {}
    events: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    messages: list[str] = []
    states: list[dict[str, Any]] = []
    for _, row in current.iterrows():
        action_id = str(row["action_id"])
        state: dict[str, Any] = {c: row[c] for c in (*ACTION_FIELDS, *TARGET_RESOLUTION)}
        state.update(
            source_file=row["source_file"],
            source_line=int(row["source_line"]),
            geometry=row.geometry,
        )
        prev = before.pop(action_id, None)

        log = functools.partial(_log, events, now, action_id, row, files)
        status = str(row["status"])
        if prev is None:
            log("création", field="status", new=status)
            state.update(
                first_seen_at=now,
                last_change_at=now,
                is_removed=False,
                is_reopened=False,
                done_date=row["status_date"] if status in DONE_STATUSES else None,
                refused_status=None,
                refused_status_date=None,
            )
            states.append(state)
            continue
        n_events = len(events)
        state.update(
            first_seen_at=prev["first_seen_at"],
            last_change_at=prev["last_change_at"],
            is_removed=False,
            is_reopened=bool(prev["is_reopened"]),
            done_date=prev["done_date"],
            refused_status=None,
            refused_status_date=None,
        )
        was = str(prev["status"])
        skip: set[str] = set()
        if status != was:
            if STATUS_RANK[status] >= STATUS_RANK[was]:
                log("statut", field="status", old=was, new=status)
                if status in DONE_STATUSES and pd.isna(prev["done_date"]):
                    state["done_date"] = row["status_date"]
                elif status not in DONE_STATUSES and not pd.isna(prev["done_date"]):
                    # « réalisée » then « abandonnée »: the completion no longer holds.
                    state["done_date"] = None
                    messages.append(
                        f"action {action_id} : « {was} » → « {status} » ; la réalisation "
                        f"du {comparable(prev['done_date'])} ne compte plus, l'effet de "
                        "l'action n'est plus mesuré."
                    )
            elif _later(row["status_date"], prev["status_date"]):
                note = (
                    f"réouverture : « {was} » → « {status} » daté du "
                    f"{comparable(row['status_date'])}, après la date du statut atteint "
                    f"({comparable(prev['status_date']) or 'sans date'})"
                )
                log("réouverture", field="status", old=was, new=status, note=note)
                messages.append(f"action {action_id} : {note} ; appliquée et signalée.")
                state["is_reopened"] = True
                if status not in DONE_STATUSES:
                    state["done_date"] = None
            else:
                skip = {"status", "status_date"}
                state["status"], state["status_date"] = was, prev["status_date"]
                state["refused_status"] = status
                state["refused_status_date"] = row["status_date"]
                dated = comparable(row["status_date"]) or "sans date"
                text = (
                    f"statut « {status} » ({dated}) en arrière de « {was} » déjà atteint "
                    f"({comparable(prev['status_date']) or 'sans date'}) : non appliqué. Une "
                    "ancienne copie du registre ? Pour rouvrir l'action, datez le nouveau "
                    "statut (date_statut) d'après celle du statut atteint."
                )
                problems.append(
                    problem(
                        str(row["source_file"]),
                        int(row["source_line"]),
                        "status",
                        "status_backwards",
                        text,
                        action_id=action_id,
                        scope=SCOPE_VALUE,
                    )
                )
                same = (status, comparable(row["status_date"])) == (
                    prev["refused_status"],
                    comparable(prev["refused_status_date"]),
                )
                if not same:  # written once, not at every refresh of the same file
                    log("retour en arrière refusé", field="status", old=was, new=status,
                        applied=False, note=text)  # fmt: skip
        for c in CONTENT_FIELDS:
            if c in skip or c == "status":
                continue
            if comparable(prev[c]) != comparable(row[c]):
                log("modification", field=c, old=prev[c], new=row[c])
        if bool(prev["is_removed"]):
            log("réapparition", note="l'action est de nouveau dans le registre")
        if any(e["applied"] for e in events[n_events:]):
            state["last_change_at"] = now
        states.append(state)
    for action_id, prev in before.items():
        state = {c: prev[c] for c in ARCHIVE_COLUMNS}
        state["geometry"] = prev.geometry
        unread = str(prev["source_file"]) in failed_files
        if unread and action_id not in seen_ids and not bool(prev["is_removed"]):
            messages.append(
                f"action {action_id} : son fichier {prev['source_file']} n'a pu être lu ; "
                "dernier état gardé, non signalée retirée."
            )
        elif action_id not in seen_ids and not bool(prev["is_removed"]):
            state["is_removed"] = True
            state["last_change_at"] = now
            note = f"absente du registre (dernière lecture : {prev['source_file']})"
            events.append(_event(now, action_id, "retrait", note=note))
            messages.append(f"action {action_id} retirée du registre : gardée, signalée retirée.")
        states.append(state)
    new_archive = _archive_frame(states)
    history = pd.DataFrame(events, columns=list(HISTORY_COLUMNS))
    return new_archive, history, problems, messages


def _archive_frame(states: Sequence[dict[str, Any]]) -> gpd.GeoDataFrame:
    """The archive's rows as a frame of :data:`ARCHIVE_COLUMNS` and a geometry."""
    frame = pd.DataFrame(list(states), columns=[*ARCHIVE_COLUMNS, "geometry"])
    geometry = gpd.GeoSeries(list(frame.pop("geometry")), crs=WGS84, index=frame.index)
    return as_archive(gpd.GeoDataFrame(frame, geometry=geometry, crs=WGS84))


def as_archive(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    """An archive (read back from parquet, or just built) with its types: lists as
    tuples, dates as naive timestamps (``None`` when missing), the drawn area a shapely
    geometry, flags as booleans."""
    out = frame.copy()
    for c in ARCHIVE_COLUMNS:
        if c not in out:
            out[c] = None
    for c in _LIST_COLUMNS:
        out[c] = pd.Series([tuple(list_cell(v)) for v in out[c]], index=out.index, dtype=object)
    for c in _DATE_COLUMNS:
        stamps = pd.to_datetime(out[c], errors="coerce")
        out[c] = pd.Series(
            [None if pd.isna(s) else pd.Timestamp(s) for s in stamps], index=out.index, dtype=object
        )
    for c in ("first_seen_at", "last_change_at"):
        out[c] = pd.to_datetime(out[c], utc=True)
    for c in ("is_removed", "is_reopened"):
        out[c] = out[c].fillna(False).astype(bool)
    out["target_geometry"] = pd.Series(
        [_geometry(v) for v in out["target_geometry"]], index=out.index, dtype=object
    )
    out["source_line"] = pd.to_numeric(out["source_line"], errors="coerce").astype("Int64")
    for c in ("refused_status", "refused_status_date", "zone_id", "zone_note"):
        out[c] = out[c].astype(object).where(out[c].notna(), None)
    out["refused_status_date"] = pd.Series(
        [None if v is None else pd.Timestamp(v) for v in out["refused_status_date"]],
        index=out.index,
        dtype=object,
    )
    if not isinstance(out, gpd.GeoDataFrame):
        out = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries([None] * len(out)), crs=WGS84)
    return out[[*ARCHIVE_COLUMNS, "geometry"]]


def _geometry(value: Any) -> BaseGeometry | None:
    if isinstance(value, BaseGeometry):
        return value
    if isinstance(value, str) and value:
        return shapely.from_wkt(value)
    return None


def archive_for_parquet(archive: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The archive as written: the drawn area as WKT, lists as lists."""
    out = archive.copy()
    out["target_geometry"] = [comparable(g) or None for g in out["target_geometry"]]
    for c in _LIST_COLUMNS:
        out[c] = [list(v) for v in out[c]]
    for c in (*_DATE_COLUMNS, "refused_status_date"):
        out[c] = pd.to_datetime(pd.Series(list(out[c]), index=out.index, dtype=object))
    return out


def read_archive(path: Path) -> gpd.GeoDataFrame | None:
    """The archive of a site (``None`` before the first run)."""
    if not path.exists():
        return None
    return as_archive(read_geoparquet(path))


# --------------------------------------------------------------------------- history file
def _csv_text(frame: pd.DataFrame, *, header: bool) -> bytes:
    buffer = io.StringIO()
    neutralise_formulas(frame).to_csv(buffer, index=False, header=header, lineterminator="\n")
    return buffer.getvalue().encode("utf-8")


def append_history(events: pd.DataFrame, path: Path) -> int:
    """Append ``events`` to the history file (created with its header, UTF-8 with BOM),
    keeping every byte already written: the file is rewritten atomically as its old
    bytes followed by the new rows, never re-encoded.

    Raises
    ------
    InputError
        The existing file does not start with the history's header (another file under
        that name): nothing is written.
    """
    path = Path(path)
    old = path.read_bytes() if path.exists() else b""
    head = _csv_text(pd.DataFrame(columns=list(HISTORY_COLUMNS)), header=True)
    if old and not old.removeprefix(b"\xef\xbb\xbf").startswith(head):
        raise InputError(
            path,
            "ce fichier ne commence pas par l'en-tête de l'historique des actions : il n'est "
            "pas réécrit. Déplacez-le, puis relancez.",
        )
    if events.empty and old:
        return 0
    new = _csv_text(events[list(HISTORY_COLUMNS)], header=False) if len(events) else b""
    data = old + new if old else b"\xef\xbb\xbf" + head + new
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return len(events)


def read_history(path: Path) -> pd.DataFrame:
    """The history file as a frame (empty, with its columns, when there is none)."""
    if not Path(path).exists():
        return pd.DataFrame(columns=list(HISTORY_COLUMNS))
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
