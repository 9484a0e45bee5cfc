"""Planners' notes on the maps: read, validate, deduplicate, link, and never lose them.

Before renewal works, urban planners write what must be handled first on the HTML map
they were sent ("fermer l'accès cave avant travaux"), or in QGIS, or in a spreadsheet.
Their files are dropped in ``<annotations_dir>/<site>/`` (``data/annotations/bondy/``);
every refresh folds them in:

* **Reading** (:func:`read_annotations`): every file of the folder — the in-map exports
  (GeoJSON ``annotations_<site>_<horodatage>.geojson``), GeoJSON or GeoPackage drawn in
  QGIS (read with pyogrio), CSV or XLSX keyed by ``building_id`` or ``zone_id``. French
  column names are accepted (``auteur``, ``texte``, ``étiquette``, ``statut``, ``date``,
  ``bâtiment``, ``zone``). Each note is validated; a rejected note gives one French
  message naming the file and the feature or line, an unreadable file one message for
  the file, and the other files are still read. Nothing is dropped silently.
* **Identity**: ``note_id`` is the browser's UUID; a row without one gets a
  deterministic UUID (version 5) from its site, author, text, creation date, building,
  zone and geometry — so re-reading the same CSV gives the same ids. The status and the
  tag are left out of that hash so that changing them in the spreadsheet updates the
  note instead of creating a new one; to edit the *text* of a note keep its
  ``note_id`` column (the CSV written by :func:`run` has it).
* **Versions**: the same ``note_id`` read twice is one note. The version with the newest
  ``updated_at`` (else ``created_at``) wins; at equal dates the file whose name sorts
  last wins, then the later position in the file (never the files' modification
  times), and the folder wins over the archive. Each case is reported. Every distinct
  version ever imported, winner or loser, is kept once in
  ``annotations_versions.parquet`` beside the archive (identified by a hash of its
  content, so that re-reading the same files adds nothing).
* **Dates**: a note dated after the run's time plus :data:`FUTURE_TOLERANCE` is
  rejected with its reason (a clock set to 2099 would hide every later real edit); an
  archived version of that kind is set aside, with a message, and stays in the version
  store.
* **Personal data**: the text, author and tag of every note are scrubbed
  (:func:`pipelines.ingest.scrub.scrub_series`, one call over all notes) before anything is
  written — outputs, map, index *and archive*: the archive lives on the analyst's
  machine but forever, so it keeps the scrubbed text only; the planners' files in the
  folder are the one place the raw text stays. Rejection messages quoting a value are
  scrubbed too; the summary counts the replacements.
* **Limits**: a file above :data:`MAX_FILE_BYTES` (an XLSX: its uncompressed content) or
  :data:`MAX_FILE_NOTES` notes is refused unread with a message naming it, like any
  unreadable file: the other files are still read.
* **Memory** (decided here, documented in the summary): the folder is the source of the
  notes' *content*, but a note once imported is never lost. Every note ever read is
  kept, at its newest version, in ``annotations_archive.parquet`` — by default in
  ``<annotations_dir>/.archive/<site>/``, out of reach of ``make clean`` — and stays on
  the map when its file is removed from the folder. The only way to take a note off the
  map is to give it the status ``supprimé`` (in the map's form, or in a file with the
  same ``note_id`` and a newer ``updated_at``): it then leaves ``annotations.parquet``
  but stays in the archive, so that re-dropping an old export does not bring it back.
* **Linking** (:func:`~pipelines.annotations.link.link_annotations`): each note is
  linked to the buildings it touches (a point inside a building, or the nearest within
  10 m; a line or polygon that intersects) and to the hotspot zones it touches or was
  written on. A note on a zone follows that zone through splits and merges
  (``ancestor_zone_ids`` of :mod:`pipelines.zones.stage`), and says so ("zone Z3 scindée
  en Z3 et Z9"). A note whose building is no longer in OSM is kept where it was drawn,
  with ``is_orphaned``.

Dates are stored as UTC timestamps; a date written without offset is read as Paris time.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from pipelines.annotations.exports import (
    GONE_BUILDING_FLAG,
    note_properties,
    notes_csv_frame,
    notes_geojson,
    orphan_flag,
)
from pipelines.annotations.link import link_annotations, zone_note_text
from pipelines.annotations.model import (
    ALIASES,
    DEFAULT_STATUS,
    DELETED_STATUS,
    FUTURE_TOLERANCE,
    LINK_COLUMNS,
    LOCAL_TZ,
    MAX_FILE_BYTES,
    MAX_FILE_NOTES,
    NEAR_BUILDING_M,
    NOTE_COLUMNS,
    NOTE_FIELDS,
    NOTE_NAMESPACE,
    SCRUBBED_FIELDS,
    SOURCE_COLUMNS,
    STATUSES,
    VERSION_COLUMNS,
    AnnotationRead,
    FileProblemError,
    RawNote,
    _fr_time,
    empty_notes,
    parse_note_time,
    scrub_note_fields,
)
from pipelines.annotations.readers import read_annotations
from pipelines.annotations.validate import derived_note_id, validate_note
from pipelines.annotations.versions import (
    _as_notes,
    add_to_version_store,
    deduplicate_notes,
    merge_with_archive,
    one_spelling,
    version_hashes,
)
from pipelines.config import Config
from pipelines.crs import WGS84
from pipelines.io import (
    read_geoparquet,
    write_csv,
    write_geoparquet,
    write_json,
    write_text,
)
from pipelines.stages import SitePaths

__all__ = [
    "ALIASES",
    "DEFAULT_STATUS",
    "DELETED_STATUS",
    "FUTURE_TOLERANCE",
    "GONE_BUILDING_FLAG",
    "LINK_COLUMNS",
    "LOCAL_TZ",
    "MAX_FILE_BYTES",
    "MAX_FILE_NOTES",
    "NEAR_BUILDING_M",
    "NOTE_COLUMNS",
    "NOTE_FIELDS",
    "NOTE_NAMESPACE",
    "SCRUBBED_FIELDS",
    "SOURCE_COLUMNS",
    "STATUSES",
    "VERSION_COLUMNS",
    "AnnotationRead",
    "FileProblemError",
    "RawNote",
    "add_to_version_store",
    "archive_path_of",
    "deduplicate_notes",
    "derived_note_id",
    "empty_notes",
    "link_annotations",
    "merge_with_archive",
    "note_properties",
    "notes_csv_frame",
    "notes_geojson",
    "orphan_flag",
    "parse_note_time",
    "read_annotations",
    "run",
    "scrub_note_fields",
    "validate_note",
    "version_hashes",
    "versions_path_of",
    "zone_note_text",
]

log = logging.getLogger(__name__)

# The module is split for size (STYLE.md: ~500 lines); what callers import stays here:
# values and vocabulary in _annotation_model, reading and validation in
# _annotation_readers, versions in _annotation_versions, outputs and the in-map UI in
# _annotation_html.


# --------------------------------------------------------------------------- run
def archive_path_of(config: Config, site_id: str) -> Path:
    """Default place of a site's note archive (out of ``make clean``'s reach)."""
    return Path(config.annotations_dir) / ".archive" / site_id / "annotations_archive.parquet"


def versions_path_of(archive_file: Path) -> Path:
    """The version store beside an archive (every distinct version ever imported)."""
    return archive_file.with_name("annotations_versions.parquet")


def _read_previous(
    paths: Iterable[Path], *, latest: pd.Timestamp
) -> tuple[gpd.GeoDataFrame | None, gpd.GeoDataFrame | None, dict[str, Any], list[str]]:
    """The notes of earlier runs (archive, previous ``annotations.parquet``).

    Returns
    -------
    tuple
        The notes to fold in (newest version of each, scrubbed again with today's rules:
        an archive written before notes were scrubbed is cleaned at its next run; one
        note under ids differing in case only is one note), every row read (for the
        version store), the scrubbing counts, and messages about the ids so joined and
        archived versions dated after ``latest``, set aside (kept in the version store).
    """

    frames = []
    for path in paths:
        if path.exists():
            frame = read_geoparquet(path)
            if len(frame):
                frames.append(_as_notes(frame))
    if not frames:
        return None, None, scrub_note_fields(empty_notes())[1], []
    combined = pd.concat(frames, ignore_index=True)
    # An archive written before ids were compared regardless of case may hold one note
    # as « N-1 » and « n-1 »: one note, spelled as first read.
    spelled = one_spelling(combined["note_id"])
    twins = combined["note_id"].astype(str) != spelled
    folded = [
        f"notes {', '.join(sorted(set(combined.loc[spelled == i, 'note_id'].astype(str))))} "
        f"de l'archive : une même note (identifiants écrits autrement), réunie sous « {i} »."
        for i in spelled[twins].drop_duplicates()
    ]
    combined["note_id"] = spelled
    combined, counts = scrub_note_fields(combined)
    combined = gpd.GeoDataFrame(combined, geometry="geometry", crs=WGS84)
    times = combined["updated_at"].where(combined["updated_at"].notna(), combined["created_at"])
    future = (times > latest).to_numpy()
    messages = folded + [
        f"note {note_id} : version archivée datée du {_fr_time(t)}, après la date du passage "
        "plus un jour ; elle est écartée (gardée dans l'archive des versions)."
        for note_id, t in zip(
            combined.loc[future, "note_id"].drop_duplicates(),
            times[future].groupby(combined.loc[future, "note_id"], sort=False).max(),
            strict=True,
        )
    ]
    usable = combined[~future].reset_index(drop=True)
    usable["_origin"] = "archive"
    usable["_rank"] = np.arange(len(usable))
    kept, _ = deduplicate_notes(usable)
    return kept.drop(columns=["_origin", "_rank"]), combined, counts, messages


def _geojson_lines(collection: dict[str, Any]) -> str:
    """A FeatureCollection as JSON text, one feature per line."""
    features = collection.get("features", [])
    head = json.dumps({k: v for k, v in collection.items() if k != "features"}, ensure_ascii=False)
    lines = ",\n".join(json.dumps(f, ensure_ascii=False) for f in features)
    return head[:-1] + (", " if len(head) > 2 else "") + '"features": [\n' + lines + "\n]}\n"


def run(
    config: Config,
    site_id: str,
    *,
    buildings_path: str | Path,
    zones_path: str | Path | None,
    previous_notes_path: str | Path | None,
    out_dir: Path,
    folder: str | Path | None = None,
    archive_path: str | Path | None = None,
    now: pd.Timestamp | None = None,
) -> gpd.GeoDataFrame:
    """Fold the planners' notes of a site into this run.

    Reads every file of ``folder`` (default ``<annotations_dir>/<site>/``), the archive
    (default :func:`archive_path_of`) and ``previous_notes_path`` (the previous run's
    ``annotations.parquet``, if it exists); links the notes to ``buildings_path``
    (``buildings.parquet``) and ``zones_path`` (``zones.parquet``, optional). Writes in
    ``out_dir``: ``annotations.parquet`` (every note but the deleted ones, EPSG:4326),
    ``annotations.geojson`` and ``annotations.csv`` (the same, for the planners' own
    files: both can be dropped back in the folder), ``annotation_summary.json`` (counts
    and every message); rewrites the archive (every note ever imported, newest version)
    and adds the new versions to the version store (:func:`versions_path_of`).

    The notes' text, author and tag are scrubbed of phones, e-mails, flat numbers and
    names (:func:`pipelines.ingest.scrub.scrub_series`) before anything is written, the
    archive included: the planners' own files in the folder are the only place the
    raw text stays. A note dated after ``now`` (default: the clock) plus
    :data:`FUTURE_TOLERANCE` is rejected.

    Returns
    -------
    GeoDataFrame
        The notes written to ``annotations.parquet``.
    """

    folder = Path(folder) if folder else SitePaths.of(config, site_id).annotations
    archive_file = Path(archive_path) if archive_path else archive_path_of(config, site_id)
    versions_file = versions_path_of(archive_file)
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    latest = now + FUTURE_TOLERANCE
    buildings = read_geoparquet(buildings_path, ["building_id"])  # what the links use
    zones = read_geoparquet(zones_path) if zones_path and Path(zones_path).exists() else None
    read = read_annotations(
        folder,
        site_id=site_id,
        tags=list(config.annotation_tags),
        now=now,
        start=config.site(site_id).settings.ingest.start_date,
    )
    previous_paths = [archive_file] + ([Path(previous_notes_path)] if previous_notes_path else [])
    previous, previous_rows, archive_scrubbed, archive_read = _read_previous(
        previous_paths, latest=latest
    )
    # A note of the archive typed again in another case is the same note.
    known = [] if previous is None else previous["note_id"].astype(str).tolist()
    read.notes["note_id"] = one_spelling(read.notes["note_id"], known)
    if read.versions is not None:
        read.versions["note_id"] = one_spelling(read.versions["note_id"], known)
    merged, archive_messages = merge_with_archive(read.notes, previous)
    linked = link_annotations(merged, buildings, zones)
    deleted = linked["status"].astype("string") == DELETED_STATUS
    live = linked[~deleted.to_numpy()].reset_index(drop=True)
    orphan_messages = [
        f"note {r.note_id} ({r.source_file}) orpheline : {r.orphan_reason}."
        for r in live[live["is_orphaned"]].itertuples()
    ]
    store = read_geoparquet(versions_file) if versions_file.exists() else None
    store, n_new_versions = add_to_version_store(
        store, [previous_rows, read.versions], imported_at=now
    )
    if n_new_versions or not versions_file.exists():
        write_geoparquet(store, versions_file)
    write_geoparquet(linked, archive_file)
    write_geoparquet(live, out_dir / "annotations.parquet")
    write_text(
        # No indent: json's C encoder (the indenting one is pure Python, minutes on
        # 200,000 notes); one feature per line keeps the file readable in a diff.
        _geojson_lines(notes_geojson(live)),
        out_dir / "annotations.geojson",
    )
    write_csv(notes_csv_frame(live), out_dir / "annotations.csv")
    counts = {
        "read": read.n_read,
        "rejected": read.n_rejected,
        "rejected_future_date": read.n_future,
        "duplicates": read.n_duplicates,
        "kept": len(live),
        "deleted": int(deleted.sum()),
        "from_archive_only": int((~linked["in_folder"]).sum()),
        "orphaned": int(live["is_orphaned"].sum()),
        "files_failed": len(read.failed_files),
        "archived_versions": len(store),
        "archived_versions_added": n_new_versions,
    }
    summary = {
        "folder": str(folder),
        "archive": str(archive_file),
        "archive_versions": str(versions_file),
        "run_time": now.isoformat(),
        "latest_note_time": latest.isoformat(),
        "files_read": read.files,
        "files_failed": read.failed_files,
        "files_ignored": read.ignored_files,
        "counts": counts,
        "scrubbed": read.scrubbed,
        "scrubbed_in_archive": archive_scrubbed,
        "limits": {"max_file_bytes": MAX_FILE_BYTES, "max_file_notes": MAX_FILE_NOTES},
        "messages": {
            "rejected": read.rejected,
            "duplicates": read.duplicates,
            "files": read.told,
            "archive": archive_read + archive_messages,
            "orphaned": orphan_messages,
        },
        "rules": (
            "Le dossier des notes fait foi pour leur contenu ; une note déjà importée n'est "
            "jamais perdue : elle reste dans l'archive et sur la carte même si son fichier "
            f"est retiré. Seul le statut « {DELETED_STATUS} » la retire de la carte. "
            "Deux versions d'une note à la même date : le fichier dont le nom vient en "
            "dernier dans l'ordre alphabétique l'emporte, puis la dernière position dans le "
            "fichier ; chaque version importée est gardée dans l'archive des versions. "
            "Une note datée de plus d'un jour après le passage est rejetée. Le texte, "
            "l'auteur et l'étiquette des notes sont nettoyés des données personnelles "
            "(téléphones, courriels, logements, noms) avant toute écriture, archive comprise."
        ),
    }
    write_json(summary, out_dir / "annotation_summary.json")
    log.info(
        "%s: %d notes kept (%d orphaned, %d deleted)",
        site_id,
        len(live),
        counts["orphaned"],
        counts["deleted"],
    )
    return live
