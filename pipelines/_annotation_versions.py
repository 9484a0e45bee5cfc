"""Versions of the planners' notes: one row per ``note_id``, folded into the archive
(:mod:`pipelines.annotations`).
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipelines._annotation_model import (
    DELETED_STATUS,
    NOTE_COLUMNS,
    NOTE_FIELDS,
    _fr_time,
    empty_notes,
)
from pipelines.crs import WGS84


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


def _content(row: pd.Series) -> tuple[Any, ...]:
    geometry = row["geometry"]
    wkt = shapely.to_wkt(geometry, rounding_precision=6) if geometry is not None else None
    return (*(None if pd.isna(row[c]) else row[c] for c in NOTE_FIELDS), wkt)


def deduplicate_notes(notes: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Keep one row per ``note_id``: its newest version.

    Versions are ordered by ``updated_at`` (else ``created_at``), then by ``_rank``
    (higher wins: a more recent file; the archive ranks below the folder). A version
    without geometry takes the geometry of another version of the same note.

    Returns
    -------
    tuple
        The notes (one per id, first-seen order) and the French messages: identical
        copies are summed up per file, older versions and conflicts are named one by one.
    """
    if notes.empty:
        return notes.copy(), []
    messages: list[str] = []
    identical: dict[tuple[str, str], int] = {}
    keep: dict[str, int] = {}
    fill_geometry: dict[int, Any] = {}
    for note_id, group in notes.groupby("note_id", sort=False):
        if len(group) == 1:
            keep[str(note_id)] = int(group.index[0])
            continue
        order = sorted(
            group.index, key=lambda i: (_version_time(group.loc[i]), group.loc[i, "_rank"])
        )
        best = order[-1]
        keep[str(note_id)] = int(best)
        winner = group.loc[best]
        if winner["geometry"] is None:
            with_geom = [i for i in order if group.loc[i, "geometry"] is not None]
            if with_geom:
                fill_geometry[int(best)] = group.loc[with_geom[-1], "geometry"]
        for other in order[:-1]:
            loser = group.loc[other]
            if _content(loser) == _content(winner):
                if loser["_origin"] == "dossier" and winner["_origin"] == "dossier":
                    key = (str(winner["source_file"]), str(loser["source_file"]))
                    identical[key] = identical.get(key, 0) + 1
                continue
            if loser["_origin"] == "archive" or winner["_origin"] == "archive":
                messages.append(_archive_message(str(note_id), winner, loser))
                continue
            if _version_time(loser) == _version_time(winner):
                messages.append(
                    f"note {note_id} : deux versions différentes à la même date "
                    f"({_fr_time(_version_time(winner))}) "
                    f"dans {loser['source_file']} et {winner['source_file']} ; celle de "
                    f"{winner['source_file']} (fichier le plus récent) est conservée."
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
    out = notes.loc[sorted(keep.values())].copy()
    for i, geometry in fill_geometry.items():
        out.loc[i, "geometry"] = geometry
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
