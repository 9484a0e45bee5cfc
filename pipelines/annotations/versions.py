"""Versions of the planners' notes: one row per ``note_id``, folded into the archive
(:mod:`pipelines.annotations.stage`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipelines.annotations.model import (
    DELETED_STATUS,
    NOTE_COLUMNS,
    NOTE_FIELDS,
    _fr_time,
    empty_notes,
)
from pipelines.crs import WGS84
from pipelines.fr import plain_id


def _notes_frame(records: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    if not records:
        out = empty_notes()
        out["_rank"] = pd.Series(dtype="int64")
        out["_origin"] = pd.Series(dtype="object")
        return out
    frame = pd.DataFrame.from_records(records)
    for c in NOTE_COLUMNS:
        if c not in frame:
            frame[c] = None
    for c in ("created_at", "updated_at"):
        frame[c] = pd.to_datetime(frame[c], utc=True).astype("datetime64[us, UTC]")
    geometry = gpd.GeoSeries(list(frame["geometry"]), index=frame.index, crs=WGS84)
    out = gpd.GeoDataFrame(frame.drop(columns="geometry"), geometry=geometry, crs=WGS84)
    return out[[*NOTE_COLUMNS[:-1], *[c for c in out.columns if c not in NOTE_COLUMNS], "geometry"]]


# --------------------------------------------------------------------------- versions
def _version_time(row: pd.Series) -> pd.Timestamp:
    updated = row["updated_at"]
    return updated if pd.notna(updated) else row["created_at"]


def _times_us(values: pd.Series) -> np.ndarray:
    """UTC times as int64 microseconds (missing: the smallest int64, so: the oldest)."""
    stamps = pd.to_datetime(values, utc=True).astype("datetime64[us, UTC]")
    return np.asarray(stamps.dt.tz_convert(None).to_numpy().astype("datetime64[us]"), "int64")


def content_keys(notes: pd.DataFrame) -> pd.Series:
    """One string per note holding everything that makes a version (the fields of
    :data:`NOTE_FIELDS` and the geometry's WKT at 6 decimals), aligned on ``notes``:
    two versions with the same key are the same version."""
    missing = "\x00"
    parts: list[pd.Series] = []
    for c in NOTE_FIELDS:
        if c in ("created_at", "updated_at"):
            parts.append(pd.Series(_times_us(notes[c]), index=notes.index).astype("str"))
        else:
            col = notes[c].astype(object)
            parts.append(col.where(col.notna(), missing).astype("str"))
    geoms = np.asarray(notes.geometry.to_numpy(), dtype=object)
    wkt = shapely.to_wkt(geoms, rounding_precision=6)
    parts.append(pd.Series(wkt, index=notes.index, dtype=object).fillna(missing).astype("str"))
    key = parts[0]
    for part in parts[1:]:
        key = key + "\x1f" + part
    return key


def version_hashes(notes: pd.DataFrame) -> pd.Series:
    """SHA-256 of :func:`content_keys`: the identity of a version in the version store."""
    keys = content_keys(notes)
    return pd.Series(
        [hashlib.sha256(k.encode("utf-8")).hexdigest() for k in keys],
        index=notes.index,
        dtype=object,
    )


def one_spelling(ids: pd.Series, known: Sequence[str] = ()) -> pd.Series:
    """Each note id spelled as the note is already known: ``N-1`` typed again as ``n-1``
    is the same note, as the register's action ids are (:func:`pipelines.fr.plain_id`
    makes ids plain as they are read; case is compared here). The spelling kept is the
    archive's (``known``, first first) if the note is in it, else the first one read: a
    note keeps its id, its versions and the draft action made from it from run to run.
    """
    first: dict[str, str] = {}
    for spelling in [*known, *ids.astype(str)]:
        # An archive written before ids were made plain is compared plain too.
        first.setdefault(plain_id(spelling).casefold(), spelling)
    return ids.astype(str).map(lambda i: first[plain_id(i).casefold()])


def deduplicate_notes(notes: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Keep one row per ``note_id``: its newest version.

    Versions are ordered by ``updated_at`` (else ``created_at``), then by ``_rank``
    (higher wins). :func:`pipelines.annotations.readers.read_annotations` gives ranks in
    the order of the file names, then of the positions in each file, so that at equal
    dates the later file name, then the later position, wins — a stable rule, never the
    files' modification times; the archive ranks below the folder. A version without
    geometry takes the geometry of another version of the same note.

    Returns
    -------
    tuple
        The notes (one per id, first-seen order) and the French messages: identical
        copies are summed up per file, older versions and conflicts are named one by one.
    """
    if notes.empty:
        return notes.copy(), []
    # One sort of all versions instead of a Python sort per note (200,000 notes ran in
    # minutes that way): note, then time, then rank; the last of each note wins.
    codes, _ = pd.factorize(notes["note_id"].astype(str))
    times = _times_us(notes["updated_at"].where(notes["updated_at"].notna(), notes["created_at"]))
    ranks = notes["_rank"].to_numpy(dtype="int64")
    order = np.lexsort((ranks, times, codes))
    sorted_codes = codes[order]
    last = np.r_[sorted_codes[1:] != sorted_codes[:-1], True]
    winners_pos = order[last]  # positions of the winners, by note code
    sizes = np.bincount(codes)
    in_group = sizes[codes] > 1
    if not in_group.any():
        return notes.copy(), []
    winner_of = np.empty(len(sizes), dtype="int64")
    winner_of[sorted_codes[last]] = winners_pos
    group_rows = order[in_group[order]]  # rows of notes with several versions, sorted
    sub = notes.iloc[np.unique(group_rows)]
    keys = dict(zip(np.unique(group_rows).tolist(), content_keys(sub).tolist(), strict=True))
    origin = notes["_origin"].to_numpy(dtype=object)
    source = notes["source_file"].to_numpy(dtype=object)
    geoms = np.asarray(notes.geometry.to_numpy(), dtype=object)
    messages: list[str] = []
    identical: dict[tuple[str, str], int] = {}
    fill_geometry: dict[int, Any] = {}
    for pos in group_rows.tolist():
        best = int(winner_of[codes[pos]])
        if pos == best:
            continue
        if geoms[best] is None and geoms[pos] is not None:
            fill_geometry[best] = geoms[pos]  # rows come oldest first: the newest stays
        if keys[pos] == keys[best]:
            if origin[pos] == "dossier" and origin[best] == "dossier":
                pair = (str(source[best]), str(source[pos]))
                identical[pair] = identical.get(pair, 0) + 1
            continue
        winner, loser = notes.iloc[best], notes.iloc[pos]
        note_id = str(winner["note_id"])
        if origin[pos] == "archive" or origin[best] == "archive":
            messages.append(_archive_message(note_id, winner, loser))
        elif times[pos] == times[best]:
            messages.append(
                f"note {note_id} : deux versions différentes à la même date "
                f"({_fr_time(_version_time(winner))}) dans {loser['source_file']} "
                f"({loser['source_ref']}) et {winner['source_file']} ({winner['source_ref']}) ; "
                f"celle de {winner['source_file']} ({winner['source_ref']}) est conservée "
                "(à date égale, le fichier dont le nom vient en dernier dans l'ordre "
                "alphabétique l'emporte, puis la dernière position dans le fichier) ; "
                "l'autre version est gardée dans l'archive des versions."
            )
        else:
            messages.append(
                f"note {note_id} : version du {_fr_time(_version_time(winner))} "
                f"({winner['source_file']}) conservée ; version plus ancienne du "
                f"{_fr_time(_version_time(loser))} ({loser['source_file']}) écartée."
            )
    for (winner_file, loser_file), n in identical.items():
        if winner_file == loser_file:
            messages.append(
                f"{winner_file} : {n} note(s) en double dans le fichier, comptée(s) une fois."
            )
        else:
            messages.append(
                f"{winner_file} : {n} note(s) déjà présente(s) dans {loser_file} "
                "(même identifiant, même contenu), comptée(s) une fois."
            )
    out = notes.iloc[np.sort(winners_pos)].copy()
    for pos, geometry in fill_geometry.items():
        out.loc[notes.index[pos], "geometry"] = geometry
    return out, messages


def _archive_message(note_id: str, winner: pd.Series, loser: pd.Series) -> str:
    if winner["_origin"] == "archive":
        return (
            f"note {note_id} : la version de {loser['source_file']} "
            f"({_fr_time(_version_time(loser))}) est plus ancienne que celle déjà importée "
            f"({_fr_time(_version_time(winner))}) ; la plus récente est conservée."
        )
    changes = [
        f"{label} « {loser[c]} » → « {winner[c]} »"
        for c, label in (("status", "statut"), ("tag", "étiquette"), ("text", "texte"))
        if (None if pd.isna(loser[c]) else loser[c]) != (None if pd.isna(winner[c]) else winner[c])
    ]
    what = " ; ".join(changes) if changes else "contenu modifié"
    return f"note {note_id} mise à jour par {winner['source_file']} : {what}."


def merge_with_archive(
    folder_notes: gpd.GeoDataFrame, archive: gpd.GeoDataFrame | None
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Fold the notes read now into every note imported before.

    Parameters
    ----------
    folder_notes
        :attr:`AnnotationRead.notes` (EPSG:4326).
    archive
        Notes of previous runs (``annotations_archive.parquet`` and/or the previous
        ``annotations.parquet``), any CRS; ``None`` on a first run.

    Returns
    -------
    tuple
        All notes, newest version of each, with ``in_folder`` (``False``: kept from the
        archive although its file has left the folder), and the messages.
    """
    folder = folder_notes[NOTE_COLUMNS].copy()
    folder["_origin"] = "dossier"
    folder["_rank"] = np.arange(len(folder)) + 1
    if archive is None or archive.empty:
        merged = folder
        messages: list[str] = []
    else:
        old = _as_notes(archive)
        old["_origin"] = "archive"
        old["_rank"] = 0
        combined = pd.concat([old, folder], ignore_index=True)
        merged, messages = deduplicate_notes(
            gpd.GeoDataFrame(combined, geometry="geometry", crs=WGS84)
        )
    in_folder = merged["note_id"].isin(set(folder["note_id"]))
    merged["in_folder"] = in_folder.to_numpy()
    kept = merged.loc[~in_folder, "note_id"].tolist()
    if kept:
        shown = ", ".join(kept[:10]) + (" …" if len(kept) > 10 else "")
        messages.append(
            f"{len(kept)} note(s) conservée(s) depuis l'archive alors que leur fichier n'est plus "
            f"dans le dossier : {shown}. Pour retirer une note de la carte, donnez-lui le statut "
            f"« {DELETED_STATUS} »."
        )
    out = merged.drop(columns=["_origin", "_rank"]).reset_index(drop=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=WGS84), messages


def _as_notes(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Notes of an earlier output brought back to :data:`NOTE_COLUMNS`."""
    out = frame.to_crs(WGS84) if frame.crs is not None else frame.set_crs(WGS84)
    out = out.copy()
    for c in NOTE_COLUMNS:
        if c not in out:
            out[c] = None
    for c in ("created_at", "updated_at"):
        out[c] = pd.to_datetime(out[c], utc=True).astype("datetime64[us, UTC]")
    out["geometry"] = [None if g is None or g.is_empty else g for g in out.geometry]
    out = out[NOTE_COLUMNS]
    return gpd.GeoDataFrame(out, geometry="geometry", crs=WGS84)


# --------------------------------------------------------------------------- version store
def add_to_version_store(
    store: gpd.GeoDataFrame | None,
    versions: Sequence[gpd.GeoDataFrame],
    *,
    imported_at: pd.Timestamp,
) -> tuple[gpd.GeoDataFrame, int]:
    """Add the versions not yet kept to the store of every note version ever imported.

    The store keeps each distinct version once (identified by :func:`version_hashes`),
    winner or loser, so that a version decided against (an older edit, the loser of a
    conflict at equal dates) is never lost, and re-importing the same files adds
    nothing: the store grows with the edits, not with the runs.

    Parameters
    ----------
    store
        The current store (:data:`NOTE_COLUMNS` and :data:`VERSION_COLUMNS`), or ``None``.
    versions
        Frames of notes (:data:`NOTE_COLUMNS`, any extra column ignored), in priority order.
    imported_at
        The run's time, recorded on the versions added.

    Returns
    -------
    tuple
        The store (old rows first, then the new ones in order) and how many were added.
    """
    frames = [_as_notes(v) for v in versions if v is not None and len(v)]
    old = (
        _as_notes(store).assign(
            version_hash=store["version_hash"].to_numpy(),
            imported_at=pd.to_datetime(store["imported_at"], utc=True).astype(
                "datetime64[us, UTC]"
            ),
        )
        if store is not None and len(store)
        else None
    )
    if not frames:
        new = None
    else:
        new = pd.concat(frames, ignore_index=True)
        new["version_hash"] = version_hashes(new).to_numpy()
        new = new.drop_duplicates("version_hash")
        if old is not None:
            new = new[~new["version_hash"].isin(set(old["version_hash"]))]
        new["imported_at"] = pd.Series(
            [imported_at] * len(new), index=new.index, dtype="datetime64[us, UTC]"
        )
    parts = [f for f in (old, new) if f is not None and len(f)]
    if not parts:
        empty = empty_notes()
        empty["version_hash"] = pd.Series(dtype=object)
        empty["imported_at"] = pd.Series(dtype="datetime64[us, UTC]")
        return empty, 0
    out = pd.concat(parts, ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=WGS84), 0 if new is None else len(new)
