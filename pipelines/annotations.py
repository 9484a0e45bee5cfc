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
  ``updated_at`` (else ``created_at``) wins; at equal dates the most recently modified
  file wins, and the folder wins over the archive. Each case is reported.
* **Memory** (decided here, documented in the summary): the folder is the source of the
  notes' *content*, but a note once imported is never lost. Every note ever read is
  kept, at its newest version, in ``annotations_archive.parquet`` — by default in
  ``<annotations_dir>/.archive/<site>/``, out of reach of ``make clean`` — and stays on
  the map when its file is removed from the folder. The only way to take a note off the
  map is to give it the status ``supprimé`` (in the map's form, or in a file with the
  same ``note_id`` and a newer ``updated_at``): it then leaves ``annotations.parquet``
  but stays in the archive, so that re-dropping an old export does not bring it back.
* **Linking** (:func:`link_annotations`): each note is linked to the buildings it
  touches (a point inside a building, or the nearest within 10 m; a line or polygon
  that intersects) and to the hotspot zones it touches or was written on. A note on a
  zone follows that zone through splits and merges (``ancestor_zone_ids`` of
  :mod:`pipelines.zones`), and says so ("zone Z3 scindée en Z3 et Z9"). A note whose
  building is no longer in OSM is kept where it was drawn, with ``is_orphaned``.

Dates are stored as UTC timestamps; a date written without offset is read as Paris time.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipelines._annotation_html import (
    GONE_BUILDING_FLAG,
    LEAFLET_DRAW_CSS,
    LEAFLET_DRAW_JS,
    NOTE_COLOURS,
    ORPHAN_COLOUR,
    add_annotation_ui,
    add_notes_layer,
    annotation_ui_html,
    note_popup_html,
    note_properties,
    notes_csv_frame,
    notes_geojson,
    notes_layer_geojson,
    notes_table_html,
    orphan_flag,
)
from pipelines._annotation_model import (
    ALIASES,
    DEFAULT_STATUS,
    DELETED_STATUS,
    LINK_COLUMNS,
    LOCAL_TZ,
    NEAR_BUILDING_M,
    NOTE_COLUMNS,
    NOTE_FIELDS,
    NOTE_NAMESPACE,
    SOURCE_COLUMNS,
    STATUSES,
    AnnotationRead,
    FileProblemError,
    RawNote,
    empty_notes,
    parse_note_time,
)
from pipelines._annotation_readers import derived_note_id, read_annotations, validate_note
from pipelines._annotation_versions import _as_notes, deduplicate_notes, merge_with_archive
from pipelines.config import Config
from pipelines.crs import WGS84, metric_crs_of
from pipelines.io import list_cell

__all__ = [
    "ALIASES",
    "DEFAULT_STATUS",
    "DELETED_STATUS",
    "GONE_BUILDING_FLAG",
    "LEAFLET_DRAW_CSS",
    "LEAFLET_DRAW_JS",
    "LINK_COLUMNS",
    "LOCAL_TZ",
    "NEAR_BUILDING_M",
    "NOTE_COLOURS",
    "NOTE_COLUMNS",
    "NOTE_FIELDS",
    "NOTE_NAMESPACE",
    "ORPHAN_COLOUR",
    "SOURCE_COLUMNS",
    "STATUSES",
    "AnnotationRead",
    "FileProblemError",
    "RawNote",
    "add_annotation_ui",
    "add_notes_layer",
    "annotation_ui_html",
    "archive_path_of",
    "deduplicate_notes",
    "derived_note_id",
    "empty_notes",
    "link_annotations",
    "merge_with_archive",
    "note_popup_html",
    "note_properties",
    "notes_csv_frame",
    "notes_geojson",
    "notes_layer_geojson",
    "notes_table_html",
    "orphan_flag",
    "parse_note_time",
    "read_annotations",
    "run",
    "validate_note",
    "zone_note_text",
]

log = logging.getLogger(__name__)

# The module is split for size (STYLE.md: ~500 lines); what callers import stays here:
# values and vocabulary in _annotation_model, reading and validation in
# _annotation_readers, versions in _annotation_versions, outputs and the in-map UI in
# _annotation_html.


# --------------------------------------------------------------------------- links
def _zone_lineage(zones: pd.DataFrame) -> dict[str, list[str]]:
    from pipelines.zones import zone_descendants

    if "ancestor_zone_ids" not in zones:
        empty: list[list[str]] = [[] for _ in range(len(zones))]
        zones = zones.assign(ancestor_zone_ids=pd.Series(empty, index=zones.index, dtype=object))
    return zone_descendants(zones)


def zone_note_text(zone_id: str, descendants: Sequence[str], statuses: dict[str, str]) -> str:
    """What became of the zone a note was written on, in French."""
    if not descendants:
        return f"zone {zone_id} disparue (ses bâtiments ne sont plus des points chauds)"
    if list(descendants) == [zone_id]:
        if statuses.get(zone_id) == "fusionnée":
            return f"zone {zone_id} (agrandie par fusion)"
        return f"zone {zone_id}"
    parts = " et ".join(descendants) if len(descendants) <= 3 else ", ".join(descendants)
    if zone_id in descendants:
        return f"zone {zone_id} scindée en {parts}"
    if len(descendants) == 1:
        return f"zone {zone_id} fusionnée dans {descendants[0]}"
    return f"zone {zone_id} devenue {parts}"


def link_annotations(
    notes: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame | None = None,
    *,
    near_m: float = NEAR_BUILDING_M,
) -> gpd.GeoDataFrame:
    """Link each note to the buildings and hotspot zones it touches.

    Parameters
    ----------
    notes
        Notes (EPSG:4326 or any CRS) with :data:`NOTE_FIELDS` and a geometry that may be
        missing (a CSV row keyed by building or zone).
    buildings
        Current OSM footprints with ``building_id`` (any CRS).
    zones
        Current zones of :mod:`pipelines.zones` (``zone_id``, ``building_ids``,
        ``ancestor_zone_ids``, ``status``), or ``None``.
    near_m
        A point outside every building is linked to the nearest one within this many
        metres (computed in the site's metric CRS).

    Returns
    -------
    GeoDataFrame
        ``notes`` aligned on its index, EPSG:4326, with a geometry for every note that can
        be placed (a keyed note gets its building's or zone's representative point) and
        :data:`LINK_COLUMNS` (but ``in_folder``, kept when present): ``building_ids`` and
        ``zone_ids`` (lists), ``zone_note`` (French, what became of the zone the note was
        written on), ``is_orphaned`` and ``orphan_reason`` (its building left OSM, or it
        cannot be placed), ``geometry_source`` (``dessin``, ``bâtiment``, ``zone``).
    """
    out = notes.to_crs(WGS84) if notes.crs is not None else notes.set_crs(WGS84)
    out = out.copy()
    metric = metric_crs_of(buildings)
    b = buildings[["building_id", "geometry"]].to_crs(metric).reset_index(drop=True)
    b["building_id"] = b["building_id"].astype(str)
    b_index = {bid: i for i, bid in enumerate(b["building_id"])}
    z = None
    lineage: dict[str, list[str]] = {}
    zone_status: dict[str, str] = {}
    zone_members: dict[str, set[str]] = {}
    if zones is not None and len(zones):
        z = zones.to_crs(metric).reset_index(drop=True)
        z["zone_id"] = z["zone_id"].astype(str)
        lineage = _zone_lineage(z)
        zone_status = dict(
            zip(
                z["zone_id"], z.get("status", pd.Series("", index=z.index)).astype(str), strict=True
            )
        )
        zone_members = (
            {
                zid: set(list_cell(ids))
                for zid, ids in zip(z["zone_id"], z["building_ids"], strict=True)
            }
            if "building_ids" in z
            else {}
        )
    z_index = {zid: i for i, zid in enumerate(z["zone_id"])} if z is not None else {}

    geoms = list(out.geometry.to_crs(metric))
    sources: list[str | None] = []
    for k, (g, bid, zid) in enumerate(zip(geoms, out["building_id"], out["zone_id"], strict=True)):
        if g is not None and not g.is_empty:
            sources.append("dessin")
            continue
        geoms[k] = None
        if isinstance(bid, str) and bid in b_index:
            geoms[k] = b.geometry.iloc[b_index[bid]].representative_point()
            sources.append("bâtiment")
        elif isinstance(zid, str) and lineage.get(zid) and z is not None:
            geoms[k] = z.geometry.iloc[z_index[lineage[zid][0]]].representative_point()
            sources.append("zone")
        else:
            sources.append(None)
    placed = gpd.GeoSeries(geoms, crs=metric)

    tree = shapely.STRtree(b.geometry.to_numpy())
    building_ids: list[list[str]] = []
    for g, bid in zip(placed, out["building_id"], strict=True):
        found: list[str] = []
        if isinstance(bid, str) and bid in b_index:
            found.append(bid)
        if g is not None:
            hits = tree.query(g, predicate="intersects")
            if len(hits) == 0 and g.geom_type in ("Point", "MultiPoint"):
                near, dist = tree.query_nearest(
                    g, max_distance=near_m, return_distance=True, all_matches=False
                )
                hits = near[:1] if len(dist) else hits
            found += [b["building_id"].iloc[i] for i in sorted(hits)]
        building_ids.append(list(dict.fromkeys(found)))

    zone_ids: list[list[str]] = []
    zone_notes: list[str | None] = []
    for g, zid, bids in zip(placed, out["zone_id"], building_ids, strict=True):
        found = []
        note_text = None
        if isinstance(zid, str):
            descendants = lineage.get(zid, [])
            found += descendants
            note_text = zone_note_text(zid, descendants, zone_status)
        if z is not None and g is not None:
            found += [z["zone_id"].iloc[i] for i in z.sindex.query(g, predicate="intersects")]
        found += [zone for zone, members in zone_members.items() if members & set(bids)]
        zone_ids.append(sorted(dict.fromkeys(found), key=_zone_key))
        zone_notes.append(note_text)

    orphaned, reasons = [], []
    for g, bid, zid in zip(placed, out["building_id"], out["zone_id"], strict=True):
        reason = None
        if isinstance(bid, str) and bid not in b_index:
            reason = f"bâtiment {bid} absent des bâtiments OSM actuels"
            if g is None:
                reason += " ; note sans position"
            else:
                reason += " ; note affichée là où elle a été dessinée"
        elif g is None:
            reason = "note sans position" + (
                f" : zone {zid} inconnue ou disparue" if isinstance(zid, str) else ""
            )
        orphaned.append(reason is not None)
        reasons.append(reason)

    out["geometry"] = placed.to_crs(WGS84).to_numpy()
    out["building_ids"] = pd.Series(building_ids, index=out.index, dtype=object)
    out["zone_ids"] = pd.Series(zone_ids, index=out.index, dtype=object)
    out["zone_note"] = pd.array(zone_notes, dtype="string")
    out["is_orphaned"] = np.array(orphaned, dtype=bool)
    out["orphan_reason"] = pd.array(reasons, dtype="string")
    out["geometry_source"] = pd.array(sources, dtype="string")
    return gpd.GeoDataFrame(out, geometry="geometry", crs=WGS84)


def _zone_key(zone_id: str) -> tuple[int, str]:
    from pipelines.zones import zone_sort_key

    return zone_sort_key(zone_id)


# --------------------------------------------------------------------------- run
def archive_path_of(config: Config, site_id: str) -> Path:
    """Default place of a site's note archive (out of ``make clean``'s reach)."""
    return Path(config.annotations_dir) / ".archive" / site_id / "annotations_archive.parquet"


def _read_previous(paths: Iterable[Path]) -> gpd.GeoDataFrame | None:
    frames = []
    for path in paths:
        if path.exists():
            frame = gpd.read_parquet(path)
            if len(frame):
                frames.append(_as_notes(frame))
    if not frames:
        return None
    combined = gpd.GeoDataFrame(
        pd.concat(frames, ignore_index=True), geometry="geometry", crs=WGS84
    )
    combined["_origin"] = "archive"
    combined["_rank"] = np.arange(len(combined))
    kept, _ = deduplicate_notes(combined)
    return kept.drop(columns=["_origin", "_rank"])


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
) -> gpd.GeoDataFrame:
    """Fold the planners' notes of a site into this run.

    Reads every file of ``folder`` (default ``<annotations_dir>/<site>/``), the archive
    (default :func:`archive_path_of`) and ``previous_notes_path`` (the previous run's
    ``annotations.parquet``, if it exists); links the notes to ``buildings_path``
    (``buildings.parquet``) and ``zones_path`` (``zones.parquet``, optional). Writes in
    ``out_dir``: ``annotations.parquet`` (every note but the deleted ones, EPSG:4326),
    ``annotations.geojson`` and ``annotations.csv`` (the same, for the planners' own
    files: both can be dropped back in the folder), ``annotation_summary.json`` (counts
    and every message); and rewrites the archive (every note ever imported).

    Returns
    -------
    GeoDataFrame
        The notes written to ``annotations.parquet``.
    """
    from pipelines.io import read_geoparquet, write_csv, write_geoparquet, write_json, write_text
    from pipelines.paths import SitePaths

    folder = Path(folder) if folder else SitePaths.of(config, site_id).annotations
    archive_file = Path(archive_path) if archive_path else archive_path_of(config, site_id)
    buildings = read_geoparquet(buildings_path)
    zones = read_geoparquet(zones_path) if zones_path and Path(zones_path).exists() else None
    read = read_annotations(folder, site_id=site_id, tags=list(config.annotation_tags))
    previous_paths = [archive_file] + ([Path(previous_notes_path)] if previous_notes_path else [])
    previous = _read_previous(previous_paths)
    merged, archive_messages = merge_with_archive(read.notes, previous)
    linked = link_annotations(merged, buildings, zones)
    deleted = linked["status"].astype("string") == DELETED_STATUS
    live = linked[~deleted.to_numpy()].reset_index(drop=True)
    orphan_messages = [
        f"note {r.note_id} ({r.source_file}) orpheline : {r.orphan_reason}."
        for r in live[live["is_orphaned"]].itertuples()
    ]
    write_geoparquet(linked, archive_file)
    write_geoparquet(live, out_dir / "annotations.parquet")
    write_text(
        json.dumps(notes_geojson(live), ensure_ascii=False, indent=1) + "\n",
        out_dir / "annotations.geojson",
    )
    write_csv(notes_csv_frame(live), out_dir / "annotations.csv")
    counts = {
        "read": read.n_read,
        "rejected": read.n_rejected,
        "duplicates": read.n_duplicates,
        "kept": len(live),
        "deleted": int(deleted.sum()),
        "from_archive_only": int((~linked["in_folder"]).sum()),
        "orphaned": int(live["is_orphaned"].sum()),
        "files_failed": len(read.failed_files),
    }
    summary = {
        "folder": str(folder),
        "archive": str(archive_file),
        "files_read": read.files,
        "files_failed": read.failed_files,
        "files_ignored": read.ignored_files,
        "counts": counts,
        "messages": {
            "rejected": read.rejected,
            "duplicates": read.duplicates,
            "archive": archive_messages,
            "orphaned": orphan_messages,
        },
        "rules": (
            "Le dossier des notes fait foi pour leur contenu ; une note déjà importée n'est "
            "jamais perdue : elle reste dans l'archive et sur la carte même si son fichier "
            f"est retiré. Seul le statut « {DELETED_STATUS} » la retire de la carte."
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
