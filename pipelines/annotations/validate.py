"""Validating one planner's note as read from a file (:func:`validate_note`): its
fields against the configured vocabulary, its dates (none in the future), its geometry
(from the feature or from coordinate columns, repaired or refused) and its id (given,
or derived from its content, :func:`derived_note_id`). Each problem is a French phrase
the analyst reads; :mod:`pipelines.annotations.readers` reads the files.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from pipelines.annotations.model import (
    _BUILDING_ID,
    _GEOM_TYPES,
    _ZONE_ID,
    DEFAULT_STATUS,
    DELETED_STATUS,
    MAX_AUTHOR_CHARS,
    MAX_TEXT_CHARS,
    NOTE_FIELDS,
    NOTE_NAMESPACE,
    STATUSES,
    RawNote,
    _clean,
    _field_name,
    _fold,
    _fr_time,
    parse_note_time,
    plain_text,
)
from pipelines.crs import repaired_geometry
from pipelines.fr import fr_number, plain_id
from pipelines.ingest import cell_text, cut_text

#: How a future-dated note's problem starts (counted apart in the summary).
FUTURE_PROBLEM = "date dans le futur"
#: The key of a note whose text was cut (:data:`MAX_TEXT_CHARS`): its length as read.
CUT_FROM = "_text_chars_read"


def _match_vocabulary(value: str, allowed: Sequence[str]) -> str | None:
    folded = _fold(value)
    for option in allowed:
        if _fold(option) == folded:
            return option
    return None


def derived_note_id(note: dict[str, Any]) -> str:
    """The deterministic id of a note that came without one (UUID version 5)."""
    created = note.get("created_at")
    geometry = note.get("geometry")
    parts = [
        note.get("site") or "",
        note.get("author") or "",
        note.get("text") or "",
        created.isoformat() if isinstance(created, pd.Timestamp) else "",
        note.get("building_id") or "",
        note.get("zone_id") or "",
        shapely.to_wkt(geometry, rounding_precision=6) if geometry is not None else "",
    ]
    return str(uuid.uuid5(NOTE_NAMESPACE, "\x1f".join(parts)))


def _check_geometry(geometry: BaseGeometry) -> tuple[BaseGeometry | None, str | None]:
    if geometry.is_empty:
        return None, None
    if geometry.geom_type not in _GEOM_TYPES:
        return (
            None,
            f"géométrie de type {geometry.geom_type} non prise en charge "
            "(point, ligne ou polygone)",
        )
    coords = shapely.get_coordinates(geometry)
    if not np.isfinite(coords).all():
        return None, "géométrie avec des coordonnées non numériques"
    if (np.abs(coords[:, 0]) > 180).any() or (np.abs(coords[:, 1]) > 90).any():
        return None, (
            "coordonnées hors des limites en degrés : le fichier est-il en Lambert-93 "
            "(EPSG:2154) sans l'indiquer ? Exportez-le en WGS84 (EPSG:4326)"
        )
    # Made valid, 2D (a GPS or QGIS « PointZ » export carries heights: a height made the
    # GeoPackage's layer declare a Z it does not have) and of one kind: where
    # ``make_valid`` gives a collection (a drawn surface with a spike becomes a polygon
    # and a line), its parts of the highest dimension. A collection is refused on input;
    # a note kept as one went into the GeoPackage's point layer, against its type.
    return repaired_geometry(geometry), None


def _json_text(value: Any) -> Any:
    """A boolean or a number (a GeoJSON's ``true`` or ``2.0``, a GeoPackage's typed
    field) as the text the file writes, ``true``, ``2``, as a GeoJSON report's cell is
    read (:func:`pipelines.ingest.rawfile.cell_text`; an infinite number: empty); any
    other value as it is. Kept, not refused: a text field typed as a number by the
    planner's tool still holds the planner's words, and Python's spelling (« True »,
    « 2.0 ») was the program's, not the file's."""
    if isinstance(value, np.generic) and not isinstance(value, np.datetime64):
        value = value.item()
    if isinstance(value, bool | int | float):
        return cell_text(value)
    return value


def validate_note(
    raw: RawNote,
    *,
    site_id: str,
    tags: Sequence[str],
    statuses: Sequence[str] = STATUSES,
    latest: pd.Timestamp | None = None,
) -> tuple[dict[str, Any] | None, list[str]]:
    """Check one note and normalise its fields.

    ``latest`` (UTC) is the latest date a note may carry (the run's time plus
    :data:`FUTURE_TOLERANCE`); ``None`` checks nothing. A later creation or modification
    date is a problem: used, it would win over every real edit until that date. The free
    text is kept as read (:func:`pipelines.annotations.readers.read_annotations` scrubs
    all notes at once), cut when longer than :data:`MAX_TEXT_CHARS`, its length as read
    then under :data:`CUT_FROM`.

    Returns
    -------
    tuple
        The note (a dict of :data:`NOTE_FIELDS` and ``geometry``) and no problem, or
        ``None`` and the list of problems (French, without the file name).
    """
    if raw.is_row and not raw.props and raw.geometry_error:
        # A row that could not be split into the columns: its own problem, not the
        # fields it seems to lack.
        return None, [raw.geometry_error]
    props = {_field_name(k): _clean(_json_text(v)) for k, v in raw.props.items()}
    # Control characters (a NUL byte…) go from the free text before anything is checked.
    for key in ("text", "author", "tag"):
        if isinstance(props.get(key), str):
            props[key] = plain_text(props[key]) or None
    # A GeoJSON property may be an array or an object: a field of the note holding one
    # would be kept as its Python spelling (« ['a', {'b': 1}] »), never as the planner's.
    nested = [
        f"champ « {key} » : attendu un texte, trouvé "
        + ("une liste" if isinstance(props[key], list) else "un objet")
        for key in NOTE_FIELDS
        if isinstance(props.get(key), list | dict)
    ]
    if nested:
        return None, nested
    problems: list[str] = []
    note: dict[str, Any] = {}
    site = props.get("site")
    if site is not None and _fold(str(site)) != _fold(site_id):
        problems.append(f"note du site « {site} », pas de « {site_id} »")
    note["site"] = site_id
    text = props.get("text")
    if text is None:
        problems.append("texte vide")
    note["text"] = None if text is None else str(text)
    note["author"] = None if props.get("author") is None else str(props["author"])
    if note["text"] is not None and len(note["text"]) > MAX_TEXT_CHARS:
        # Cut as a report's cell is, the length read kept for the reader to tell: refused
        # whole, the planner's note was lost for a mail pasted below it.
        note[CUT_FROM] = len(note["text"])
        note["text"] = cut_text(note["text"])
    if note["author"] is not None and len(note["author"]) > MAX_AUTHOR_CHARS:
        problems.append(
            f"auteur de {fr_number(len(note['author']))} caractères, plus que la limite "
            f"de {fr_number(MAX_AUTHOR_CHARS)} : raccourcissez-le"
        )
    tag = props.get("tag")
    if tag is None:
        problems.append(f"étiquette manquante (étiquettes : {', '.join(tags)})")
    else:
        note["tag"] = _match_vocabulary(str(tag), tags)
        if note["tag"] is None:
            problems.append(f"étiquette « {tag} » inconnue (étiquettes : {', '.join(tags)})")
    status = props.get("status")
    allowed = [*statuses, DELETED_STATUS]
    note["status"] = DEFAULT_STATUS if status is None else _match_vocabulary(str(status), allowed)
    if note["status"] is None:
        problems.append(f"statut « {status} » inconnu (statuts : {', '.join(allowed)})")
    names = {_field_name(k): str(k) for k in raw.props}
    for key in ("created_at", "updated_at"):
        try:
            note[key] = parse_note_time(props.get(key), serials_read=raw.is_row)
        except ValueError as err:
            where = "colonne" if raw.is_row else "champ"
            problems.append(f"{where} « {names.get(key, key)} » : {err}")
            note[key] = None
    if props.get("created_at") is None:
        problems.append("date de création manquante (colonne created_at ou date)")
    if latest is not None:
        for key, label in (("created_at", "création"), ("updated_at", "modification")):
            stamp = note.get(key)
            if stamp is not None and stamp > latest:
                problems.append(
                    f"{FUTURE_PROBLEM} : date de {label} {_fr_time(stamp)} postérieure à la "
                    f"date du passage plus un jour ({_fr_time(latest)}) ; corrigez la date "
                    "(horloge de l'ordinateur ?) pour que la note soit importée"
                )
    building = props.get("building_id")
    if building is not None and not _BUILDING_ID.match(str(building)):
        problems.append(
            f"identifiant de bâtiment « {building} » : attendu la forme OSM « way/123 »"
        )
    note["building_id"] = None if building is None else str(building)
    zone = props.get("zone_id")
    if zone is not None and not _ZONE_ID.match(str(zone)):
        problems.append(f"identifiant de zone « {zone} » : attendu la forme « Z12 »")
    note["zone_id"] = None if zone is None else str(zone)
    geometry, geometry_error = raw.geometry, raw.geometry_error
    if geometry is None and geometry_error is None:
        geometry, geometry_error = _geometry_from_columns(props)
    if geometry is not None:
        geometry, geometry_error = _check_geometry(geometry)
    if geometry_error:
        problems.append(geometry_error)
    elif geometry is None and note["building_id"] is None and note["zone_id"] is None:
        problems.append(
            "ni géométrie, ni bâtiment (building_id), ni zone (zone_id) : impossible de la placer"
        )
    note["geometry"] = geometry
    if problems:
        return None, problems
    given = props.get("note_id")
    # An id pasted with an invisible character or another hyphen reads as it looks.
    note["note_id"] = plain_id(given) if given is not None else derived_note_id(note)
    return note, []


def _geometry_from_columns(props: dict[str, Any]) -> tuple[BaseGeometry | None, str | None]:
    """Geometry of a table row: ``geometry_wkt`` (WGS84), or ``lon``/``lat``."""
    wkt = props.get("geometry_wkt")
    if wkt is not None:
        try:
            return shapely.from_wkt(str(wkt)), None
        except shapely.errors.GEOSException:
            return None, f"géométrie WKT illisible « {str(wkt)[:40]} »"
    lon, lat = props.get("lon"), props.get("lat")
    if lon is None and lat is None:
        return None, None
    try:
        x = float(str(lon).replace(",", "."))
        y = float(str(lat).replace(",", "."))
    except ValueError:
        return None, f"coordonnées illisibles (lon « {lon} », lat « {lat} »)"
    return shapely.Point(x, y), None
