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
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from pipelines.config import Config
from pipelines.crs import WGS84, metric_crs_of

log = logging.getLogger(__name__)

#: Statuses a planner can give a note (the map's form offers them in this order).
STATUSES: tuple[str, ...] = ("ouvert", "en cours", "clos")
#: The status that takes a note off the map (it stays in the archive).
DELETED_STATUS = "supprimé"
DEFAULT_STATUS = "ouvert"
#: A point note is linked to the nearest building within this distance (metres).
NEAR_BUILDING_M = 10.0
#: Naive dates in the planners' files are local times of the sites.
LOCAL_TZ = "Europe/Paris"
#: Namespace of the deterministic ids of notes that come without one.
NOTE_NAMESPACE = uuid.UUID("5b0c2f0e-8f5c-4d62-9a7e-7669676965aa")

NOTE_FIELDS = [
    "note_id",
    "site",
    "author",
    "text",
    "tag",
    "status",
    "created_at",
    "updated_at",
    "building_id",
    "zone_id",
]
SOURCE_COLUMNS = ["source_file", "source_ref", "source_format"]
LINK_COLUMNS = [
    "building_ids",
    "zone_ids",
    "zone_note",
    "is_orphaned",
    "orphan_reason",
    "geometry_source",
    "in_folder",
]
NOTE_COLUMNS = [*NOTE_FIELDS, *SOURCE_COLUMNS, "geometry"]

#: Column and property names accepted for each field (compared without accents/case).
ALIASES: dict[str, str] = {
    "id": "note_id",
    "identifiant": "note_id",
    "auteur": "author",
    "auteure": "author",
    "texte": "text",
    "note": "text",
    "commentaire": "text",
    "etiquette": "tag",
    "statut": "status",
    "etat": "status",
    "date": "created_at",
    "date_creation": "created_at",
    "cree_le": "created_at",
    "date_modification": "updated_at",
    "modifie_le": "updated_at",
    "batiment": "building_id",
    "id_batiment": "building_id",
    "zone": "zone_id",
    "id_zone": "zone_id",
    "longitude": "lon",
    "lng": "lon",
    "latitude": "lat",
    "wkt": "geometry_wkt",
    "geometrie": "geometry_wkt",
}
_BUILDING_ID = re.compile(r"^(way|relation|node)/\d+$")
_ZONE_ID = re.compile(r"^Z\d+$")
_FR_DATE = re.compile(
    r"^(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>\d{4})"
    r"(?:[ T](?P<H>\d{1,2})[:h](?P<M>\d{2})(?::(?P<S>\d{2}))?)?$"
)
_GEOM_TYPES = {"Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon"}
_GEOJSON_SUFFIXES = {".geojson", ".json"}
_TABLE_SUFFIXES = {".csv", ".xlsx"}
_OGR_SUFFIXES = {".gpkg", ".shp", ".fgb", ".gml", ".kml", ".sqlite"}
#: Files that travel with a shapefile: read through their ``.shp``.
_SHAPEFILE_SIDECARS = {".dbf", ".shx", ".prj", ".cpg", ".qmd", ".qix", ".sbn", ".sbx", ".xml"}


class FileProblemError(Exception):
    """A whole annotation file cannot be read (the other files still are)."""


@dataclass
class RawNote:
    """One feature or row as read, before validation."""

    ref: str  # "entité 3", "ligne 5", "couche notes, entité 2"
    props: dict[str, Any]
    geometry: BaseGeometry | None = None
    geometry_error: str | None = None


@dataclass
class AnnotationRead:
    """What :func:`read_annotations` found in a folder.

    Attributes
    ----------
    notes
        Valid notes, one row per ``note_id`` (EPSG:4326), columns :data:`NOTE_COLUMNS`.
    rejected
        One French message per rejected note or unreadable file.
    duplicates
        Messages about notes read more than once (identical or older versions).
    files
        Files read (names), in reading order.
    failed_files
        Files that could not be read at all.
    ignored_files
        Hidden files, office lock files, shapefile companions, sub-folders.
    n_read
        Notes (features, rows) seen in the files that could be read.
    n_rejected
        Notes rejected by validation (unreadable files not counted).
    n_duplicates
        Valid notes that were another copy or version of a kept note.
    """

    notes: gpd.GeoDataFrame
    rejected: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    failed_files: list[str] = field(default_factory=list)
    ignored_files: list[str] = field(default_factory=list)
    n_read: int = 0
    n_rejected: int = 0
    n_duplicates: int = 0

    @property
    def messages(self) -> list[str]:
        """Rejections first, then duplicates."""
        return [*self.rejected, *self.duplicates]


# --------------------------------------------------------------------------- values
def _fold(text: str) -> str:
    """Lower case, no accents, single spaces: how names and vocabularies are compared."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.casefold().split())


def _field_name(name: str) -> str:
    key = re.sub(r"[\s\-]+", "_", _fold(name).replace("'", "_"))
    return ALIASES.get(key, key)


def _clean(value: Any) -> Any:
    """``None`` for every form of "nothing" (NaN, NA, NaT, blank text)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def empty_notes() -> gpd.GeoDataFrame:
    """A notes frame with no row and the columns of :data:`NOTE_COLUMNS`."""
    frame = pd.DataFrame({c: pd.Series(dtype="object") for c in NOTE_COLUMNS if c != "geometry"})
    for c in ("created_at", "updated_at"):
        frame[c] = pd.Series(dtype="datetime64[us, UTC]")
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=WGS84), crs=WGS84)


def parse_note_time(value: Any) -> pd.Timestamp | None:
    """Read a note's date: ISO 8601 (with or without offset), ``JJ/MM/AAAA [HH:MM]``,
    or a date/datetime object. Naive values are Paris time. Returns a UTC timestamp, or
    ``None`` when the value is empty.

    Raises
    ------
    ValueError
        The value is not a date in one of these forms.
    """
    value = _clean(value)
    if value is None:
        return None
    if isinstance(value, pd.Timestamp | datetime | date | np.datetime64):
        stamp = pd.Timestamp(value)
    else:
        text = str(value)
        match = _FR_DATE.match(text)
        try:
            if match:
                stamp = pd.Timestamp(
                    year=int(match["y"]),
                    month=int(match["m"]),
                    day=int(match["d"]),
                    hour=int(match["H"] or 0),
                    minute=int(match["M"] or 0),
                    second=int(match["S"] or 0),
                )
            elif re.match(r"^\d{4}-\d{2}-\d{2}", text):
                stamp = pd.Timestamp(text)
            else:
                raise ValueError(text)
        except (ValueError, OverflowError) as err:
            raise ValueError(
                f"date « {text} » illisible (attendu AAAA-MM-JJ, ISO 8601 ou JJ/MM/AAAA)"
            ) from err
    if pd.isna(stamp):
        return None
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(LOCAL_TZ, ambiguous=False, nonexistent="shift_forward")
    return stamp.tz_convert("UTC").as_unit("us")


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
    if not geometry.is_valid:
        geometry = shapely.make_valid(geometry)
    return geometry, None


def validate_note(
    raw: RawNote, *, site_id: str, tags: Sequence[str], statuses: Sequence[str] = STATUSES
) -> tuple[dict[str, Any] | None, list[str]]:
    """Check one note and normalise its fields.

    Returns
    -------
    tuple
        The note (a dict of :data:`NOTE_FIELDS` and ``geometry``) and no problem, or
        ``None`` and the list of problems (French, without the file name).
    """
    props = {_field_name(k): _clean(v) for k, v in raw.props.items()}
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
    for key in ("created_at", "updated_at"):
        try:
            note[key] = parse_note_time(props.get(key))
        except ValueError as err:
            problems.append(str(err))
            note[key] = None
    if props.get("created_at") is None:
        problems.append("date de création manquante (colonne created_at ou date)")
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
    note["note_id"] = str(given) if given is not None else derived_note_id(note)
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


# --------------------------------------------------------------------------- readers
def _read_geojson(path: Path) -> list[RawNote]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as err:
        raise FileProblemError("fichier non lisible en UTF-8 (un GeoJSON doit l'être)") from err
    except json.JSONDecodeError as err:
        raise FileProblemError(
            f"JSON illisible (ligne {err.lineno}, colonne {err.colno} : {err.msg}) ; "
            "le fichier est-il complet ?"
        ) from err
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        features = data.get("features")
    elif isinstance(data, dict) and data.get("type") == "Feature":
        features = [data]
    else:
        raise FileProblemError("ce n'est pas un GeoJSON de notes (attendu une FeatureCollection)")
    if not isinstance(features, list):
        raise FileProblemError("« features » doit être une liste")
    transform = _legacy_crs_transform(data.get("crs"))
    out = []
    for k, feature in enumerate(features, start=1):
        if not isinstance(feature, dict):
            out.append(RawNote(f"entité {k}", {}, None, "entité qui n'est pas un objet GeoJSON"))
            continue
        props = feature.get("properties") or {}
        if not isinstance(props, dict):
            props = {}
        ref = f"entité {k}" + (f" (note_id {props['note_id']})" if props.get("note_id") else "")
        geometry, error = None, None
        if feature.get("geometry") is not None:
            try:
                geometry = shapely.geometry.shape(feature["geometry"])
                if transform is not None:
                    geometry = transform(geometry)
            except (
                ValueError,
                TypeError,
                KeyError,
                IndexError,
                AttributeError,
                shapely.errors.GEOSException,
            ) as err:
                error = f"géométrie illisible ({str(err)[:80] or type(err).__name__})"
                geometry = None
        out.append(RawNote(ref, props, geometry, error))
    return out


def _legacy_crs_transform(crs: Any) -> Callable[[BaseGeometry], BaseGeometry] | None:
    """QGIS writes a GeoJSON in another CRS with the (pre-RFC 7946) ``crs`` member."""
    if not crs:
        return None
    from pyproj import CRS, Transformer
    from pyproj.exceptions import CRSError as ProjCRSError

    try:
        source = CRS.from_user_input(crs["properties"]["name"])
    except (KeyError, TypeError, ProjCRSError) as err:
        raise FileProblemError(f"système de coordonnées « crs » illisible ({crs})") from err
    if source.equals(CRS.from_epsg(4326), ignore_axis_order=True):
        return None
    transformer = Transformer.from_crs(source, WGS84, always_xy=True)
    return lambda g: shapely.transform(
        g, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
    )


def _read_table(path: Path) -> list[RawNote]:
    if path.suffix.lower() == ".xlsx":
        try:
            frame = pd.read_excel(path, dtype=str, keep_default_na=False)
        except (ValueError, OSError, KeyError) as err:
            raise FileProblemError(f"classeur illisible ({type(err).__name__})") from err
    else:
        frame = _read_csv(path)
    columns = {_field_name(str(c)): c for c in frame.columns}
    missing = [
        f"{fr} ({en})"
        for en, fr in (("text", "texte"), ("tag", "étiquette"), ("created_at", "date"))
        if en not in columns
    ]
    keys = {"building_id", "zone_id", "geometry_wkt"} & set(columns) or (
        {"lon", "lat"} <= set(columns) and {"lon"}
    )
    if not keys:
        missing.append("building_id, zone_id, geometry_wkt ou lon/lat (où placer la note)")
    if missing:
        found = ", ".join(str(c) for c in frame.columns) or "aucune"
        raise FileProblemError(
            f"colonnes manquantes : {', '.join(missing)} ; colonnes trouvées : {found}"
        )
    records = frame.to_dict(orient="records")
    # Line numbers as in a spreadsheet: the header is line 1.
    return [
        RawNote(f"ligne {i + 2}", {str(k): v for k, v in r.items()}) for i, r in enumerate(records)
    ]


def _read_csv(path: Path) -> pd.DataFrame:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")  # Excel's "CSV (séparateur : point-virgule)"
    first = text.splitlines()[0] if text.strip() else ""
    if not first:
        raise FileProblemError("fichier CSV vide")
    separator = max((";", ",", "\t"), key=first.count)
    import io

    try:
        return pd.read_csv(io.StringIO(text), sep=separator, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise FileProblemError(f"CSV illisible ({str(err).strip()})") from err


def _read_ogr(path: Path) -> list[RawNote]:
    import pyogrio

    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
    except Exception as err:  # pyogrio raises DataSourceError and GDAL errors of several types
        raise FileProblemError(f"fichier SIG illisible ({type(err).__name__} : {err})") from err
    out: list[RawNote] = []
    for layer in layers:
        try:
            frame = gpd.read_file(path, layer=layer, engine="pyogrio")
        except Exception as err:  # same: one broken layer must not hide the others
            raise FileProblemError(f"couche « {layer} » illisible ({err})") from err
        if isinstance(frame, gpd.GeoDataFrame) and frame.crs is not None and len(frame):
            frame = frame.to_crs(WGS84)
        prefix = f"couche « {layer} », " if len(layers) > 1 else ""
        geoms = frame.geometry if isinstance(frame, gpd.GeoDataFrame) else [None] * len(frame)
        props = pd.DataFrame(frame.drop(columns="geometry", errors="ignore")).to_dict(
            orient="records"
        )
        for k, (p, g) in enumerate(zip(props, geoms, strict=True), start=1):
            g = None if g is None or (isinstance(g, float)) else g
            out.append(RawNote(f"{prefix}entité {k}", {str(a): b for a, b in p.items()}, g))
    return out


def _reader_of(path: Path) -> Callable[[Path], list[RawNote]] | None:
    suffix = path.suffix.lower()
    if suffix in _GEOJSON_SUFFIXES:
        return _read_geojson
    if suffix in _TABLE_SUFFIXES:
        return _read_table
    if suffix in _OGR_SUFFIXES:
        return _read_ogr
    return None


def _is_ignored(path: Path) -> bool:
    name = path.name
    return (
        name.startswith((".", "~$"))
        or path.is_dir()
        or path.suffix.lower() in _SHAPEFILE_SIDECARS
        or name.lower() in ("thumbs.db", "desktop.ini")
    )


def read_annotations(
    folder: str | Path,
    *,
    site_id: str,
    tags: Sequence[str],
    statuses: Sequence[str] = STATUSES,
) -> AnnotationRead:
    """Read and validate every note file of a site's annotation folder.

    Parameters
    ----------
    folder
        ``<annotations_dir>/<site>/``; a missing folder means no notes.
    site_id
        The site; a note that names another site is rejected.
    tags
        The allowed tags (``Config.annotation_tags``), compared without case/accents.
    statuses
        The allowed statuses besides ``supprimé``.

    Returns
    -------
    AnnotationRead
        Valid notes, deduplicated by ``note_id`` (EPSG:4326), and the messages.
    """
    folder = Path(folder)
    result = AnnotationRead(empty_notes())
    if not folder.is_dir():
        log.info("%s: no annotation folder", folder)
        return result
    paths = [p for p in folder.iterdir()]
    # Oldest file first, so that at equal dates the most recent file wins.
    paths.sort(key=lambda p: (p.stat().st_mtime_ns, p.name))
    notes: list[dict[str, Any]] = []
    for path in paths:
        if _is_ignored(path):
            result.ignored_files.append(path.name + ("/" if path.is_dir() else ""))
            continue
        reader = _reader_of(path)
        if reader is None:
            result.failed_files.append(path.name)
            result.rejected.append(
                f"{path.name} : format non reconnu ; déposez des notes en GeoJSON (export de la "
                "carte ou de QGIS), GeoPackage, CSV ou XLSX."
            )
            continue
        try:
            raws = reader(path)
        except FileProblemError as err:
            result.failed_files.append(path.name)
            result.rejected.append(f"{path.name} : {err} — aucune note lue dans ce fichier.")
            continue
        except OSError as err:
            result.failed_files.append(path.name)
            result.rejected.append(f"{path.name} : lecture impossible ({err.strerror}).")
            continue
        result.files.append(path.name)
        result.n_read += len(raws)
        fmt = "geojson" if reader is _read_geojson else path.suffix.lower().lstrip(".")
        for raw in raws:
            note, problems = validate_note(raw, site_id=site_id, tags=tags, statuses=statuses)
            if note is None:
                result.rejected.append(
                    f"{path.name}, {raw.ref} : note rejetée : {' ; '.join(problems)}."
                )
                result.n_rejected += 1
                continue
            note.update(source_file=path.name, source_ref=raw.ref, source_format=fmt)
            note["_rank"] = len(notes)
            note["_origin"] = "dossier"
            notes.append(note)
    frame = _notes_frame(notes)
    kept, messages = deduplicate_notes(frame)
    result.notes = kept.drop(columns=["_rank", "_origin"])
    result.duplicates = messages
    result.n_duplicates = len(frame) - len(kept)
    log.info(
        "%s: %d notes read in %d files, %d kept, %d rejected",
        folder,
        result.n_read,
        len(result.files),
        len(result.notes),
        len(result.rejected),
    )
    return result


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


def _fr_time(stamp: Any) -> str:
    if stamp is None or pd.isna(stamp):
        return "sans date"
    return pd.Timestamp(stamp).tz_convert(LOCAL_TZ).strftime("%d/%m/%Y %H:%M")


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


# --------------------------------------------------------------------------- links
def _as_list(value: Any) -> list[str]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


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
                zid: set(_as_list(ids))
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


# --------------------------------------------------------------------------- outputs
def _iso(stamp: Any) -> str | None:
    if stamp is None or pd.isna(stamp):
        return None
    # Full precision (the browser writes milliseconds): a note read back from a map or a
    # CSV export must compare equal to the one written.
    # Milliseconds as JavaScript's toISOString writes them, so the map compares versions
    # of a note as equal strings and dates.
    stamp = pd.Timestamp(stamp).tz_convert("UTC")
    spec = "seconds" if stamp.microsecond == 0 else "milliseconds"
    if stamp.microsecond % 1000:
        spec = "microseconds"
    return stamp.tz_localize(None).isoformat(timespec=spec) + "Z"


def _text(value: Any) -> str | None:
    value = _clean(value)
    return None if value is None else str(value)


def note_properties(row: pd.Series) -> dict[str, Any]:
    """The JSON-ready properties of one note (raw text: escape it before showing it)."""
    props: dict[str, Any] = {c: _text(row.get(c)) for c in NOTE_FIELDS}
    props["created_at"] = _iso(row.get("created_at"))
    props["updated_at"] = _iso(row.get("updated_at"))
    for c in ("building_ids", "zone_ids"):
        if c in row:
            props[c] = _as_list(row[c])
    for c in ("zone_note", "orphan_reason", "source_file"):
        if c in row:
            props[c] = _text(row[c])
    if "is_orphaned" in row:
        props["is_orphaned"] = bool(row["is_orphaned"])
    return props


def notes_geojson(notes: gpd.GeoDataFrame) -> dict[str, Any]:
    """All notes as a GeoJSON FeatureCollection (EPSG:4326), re-importable as is."""
    frame = notes.to_crs(WGS84) if notes.crs is not None else notes
    features = []
    for _, row in frame.iterrows():
        g = row.geometry
        features.append(
            {
                "type": "Feature",
                "properties": note_properties(row),
                "geometry": None if g is None or g.is_empty else shapely.geometry.mapping(g),
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _esc(value: Any) -> str:
    import html

    text = _text(value)
    return "" if text is None else html.escape(text, quote=True)


def _target(row: pd.Series) -> str:
    parts = []
    if _text(row.get("building_id")):
        parts.append(f"bâtiment {row['building_id']}")
    if _text(row.get("zone_note")):
        parts.append(str(row["zone_note"]))
    elif _text(row.get("zone_id")):
        parts.append(f"zone {row['zone_id']}")
    if not parts and "building_ids" in row and _as_list(row["building_ids"]):
        parts.append("bâtiment(s) " + ", ".join(_as_list(row["building_ids"])[:3]))
    return " · ".join(parts) or "tracé libre"


def note_popup_html(row: pd.Series) -> str:
    """The escaped popup of a note on the map."""
    lines = [
        f"<div class='vigie-note-fiche'><b>{_esc(row.get('tag'))}</b> · {_esc(row.get('status'))}",
        f"<p class='vigie-note-text'>{_esc(row.get('text'))}</p>",
        f"<p>{_esc(_target(row))}</p>",
        f"<p><i>{_esc(row.get('author') or 'auteur inconnu')}, "
        f"le {_esc(_fr_time(row.get('created_at')))}"
        + (
            f" (modifiée le {_esc(_fr_time(row.get('updated_at')))})"
            if pd.notna(row.get("updated_at"))
            else ""
        )
        + "</i></p>",
    ]
    if bool(row.get("is_orphaned", False)):
        lines.append(
            f"<p class='vigie-note-orphan'><b>« {_esc(orphan_flag(row))} »</b> — "
            f"Note orpheline : {_esc(row.get('orphan_reason'))}</p>"
        )
    lines.append("</div>")
    return "".join(lines)


#: The flag of a note whose building left OSM (map, fact sheets, index table).
GONE_BUILDING_FLAG = "bâtiment disparu"


def orphan_flag(row: pd.Series) -> str:
    """Why a note is orphaned, in two words: « bâtiment disparu » (its building left OSM;
    the note stays where it was drawn) or « sans position »; '' for a linked note."""
    if not bool(row.get("is_orphaned", False)):
        return ""
    geometry = row.get("geometry")
    if _text(row.get("building_id")) and geometry is not None and not geometry.is_empty:
        return GONE_BUILDING_FLAG
    return "sans position"


def notes_layer_geojson(notes: gpd.GeoDataFrame) -> dict[str, Any]:
    """The notes as a GeoJSON FeatureCollection for the map's notes layer.

    Every feature carries the raw fields of the note (``note_id``, ``text``, …, read by
    the annotation mode with ``textContent``, never as HTML) plus ``popup_html`` and
    ``tooltip``, already escaped for folium's popup and tooltip (which insert HTML).
    Notes without a position are left out (they are listed in the index page table).
    """
    out = notes_geojson(notes[notes.geometry.notna() & ~notes.geometry.is_empty])
    frame = notes[notes.geometry.notna() & ~notes.geometry.is_empty]
    for feature, (_, row) in zip(out["features"], frame.iterrows(), strict=True):
        text = _text(row.get("text")) or ""
        short = text if len(text) <= 80 else text[:77] + "…"
        feature["properties"]["popup_html"] = note_popup_html(row)
        flag = orphan_flag(row)
        prefix = f"{flag.capitalize()} · " if flag else ""
        feature["properties"]["tooltip"] = _esc(f"{prefix}Note ({row.get('tag')}) : {short}")
        feature["properties"]["orphan_flag"] = flag or None
    return out


#: Colours of the notes by status (Okabe-Ito, colour-blind safe); grey for orphans.
NOTE_COLOURS = {"ouvert": "#D55E00", "en cours": "#E69F00", "clos": "#009E73"}
ORPHAN_COLOUR = "#666666"


def add_notes_layer(m: Any, notes: gpd.GeoDataFrame, *, show: bool = True) -> None:
    """Add the planners' notes to a folium map as one layer "Notes des urbanistes (n)".

    Parameters
    ----------
    m
        The :class:`folium.Map` (modified in place).
    notes
        ``annotations.parquet`` (linked notes, EPSG:4326); deleted notes are skipped.
    show
        Whether the layer is shown when the map opens.

    Points are circle markers, lines and polygons are drawn dashed; colour by status,
    grey and dotted for orphaned notes. Every path has the CSS class ``vigie-note``.
    """
    import folium

    live = notes[notes["status"].astype("string") != DELETED_STATUS] if len(notes) else notes
    data = notes_layer_geojson(live)
    n = len(data["features"])
    if n == 0:
        log.info("no note to draw")
        return

    def style(feature: dict[str, Any]) -> dict[str, Any]:
        p = feature["properties"]
        colour = (
            ORPHAN_COLOUR if p.get("is_orphaned") else NOTE_COLOURS.get(p.get("status"), "#000000")
        )
        return {
            "color": colour,
            "fillColor": colour,
            "weight": 3,
            "fillOpacity": 0.35,
            "dashArray": "2 6" if p.get("is_orphaned") else "8 4",
            "className": "vigie-note",
        }

    folium.GeoJson(
        data,
        name=f"Notes des urbanistes ({n})",
        show=show,
        style_function=style,
        marker=folium.CircleMarker(radius=8, weight=3, fill=True, fill_opacity=0.8),
        highlight_function=lambda _: {"weight": 5},
        tooltip=folium.GeoJsonTooltip(fields=["tooltip"], labels=False),
        popup=folium.GeoJsonPopup(fields=["popup_html"], labels=False, max_width=320),
    ).add_to(m)


def notes_table_html(notes: gpd.GeoDataFrame | pd.DataFrame) -> str:
    """An escaped HTML table of the notes for the index page (newest first).

    Deleted notes are left out; orphaned notes are marked.
    """
    if len(notes) == 0:
        return "<p class='vigie-notes-empty'>Aucune note des urbanistes.</p>"
    live = notes[notes["status"].astype("string") != DELETED_STATUS]
    live = live.sort_values("created_at", ascending=False)
    rows = []
    for _, row in live.iterrows():
        flag = orphan_flag(row)
        orphan = f" <span class='orpheline'>orpheline · {_esc(flag)}</span>" if flag else ""
        rows.append(
            "<tr>"
            f"<td>{_esc(_fr_time(row.get('created_at')))}</td>"
            f"<td>{_esc(row.get('author'))}</td>"
            f"<td>{_esc(row.get('tag'))}</td>"
            f"<td>{_esc(row.get('status'))}</td>"
            f"<td>{_esc(_target(row))}{orphan}</td>"
            f"<td>{_esc(row.get('text'))}</td>"
            "</tr>"
        )
    return (
        "<table class='vigie-notes'><thead><tr><th>Date</th><th>Auteur</th><th>Étiquette</th>"
        "<th>Statut</th><th>Bâtiment / zone</th><th>Note</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def notes_csv_frame(notes: gpd.GeoDataFrame) -> pd.DataFrame:
    """The notes as a flat table for the planners' spreadsheets (re-importable)."""
    frame = notes.to_crs(WGS84) if notes.crs is not None else notes
    out = pd.DataFrame({c: [_text(v) for v in frame[c]] for c in NOTE_FIELDS})
    out["created_at"] = [_iso(v) for v in frame["created_at"]]
    out["updated_at"] = [_iso(v) for v in frame["updated_at"]]
    for c in ("building_ids", "zone_ids"):
        if c in frame:
            out[c] = [", ".join(_as_list(v)) for v in frame[c]]
    for c in ("zone_note", "is_orphaned", "orphan_reason", "source_file"):
        if c in frame:
            out[c] = frame[c].to_numpy()
    out["geometry_wkt"] = [
        None if g is None or g.is_empty else shapely.to_wkt(g, rounding_precision=7)
        for g in frame.geometry
    ]
    return out


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


# --------------------------------------------------------------------------- map UI
_TEMPLATES = Path(__file__).resolve().parent / "templates"


def annotation_ui_html(*, site_id: str, tags: list[str], statuses: list[str], map_var: str) -> str:
    """The in-map annotation mode: ``<style>…</style><script>…</script>`` to add to a map.

    Parameters
    ----------
    site_id
        Written in every note and in the export's file name.
    tags, statuses
        The choices of the form (``Config.annotation_tags``, :data:`STATUSES`).
    map_var
        The JavaScript name of the Leaflet map (``folium.Map.get_name()``).

    The script needs Leaflet; with Leaflet.draw (``L.Control.Draw``) loaded the planner
    can also draw points, lines and polygons, without it the mode still annotates
    buildings and zones. Everything a user typed is shown with ``textContent``.
    """
    css = (_TEMPLATES / "annotate.css").read_text(encoding="utf-8")
    js = (_TEMPLATES / "annotate.js").read_text(encoding="utf-8")
    config = {
        "site": site_id,
        "tags": list(tags),
        "statuses": [*statuses, DELETED_STATUS]
        if DELETED_STATUS not in statuses
        else list(statuses),
        "mapVar": map_var,
    }
    # json.dumps does not escape "</script>" or "<!--": do it so a tag cannot end the block.
    payload = json.dumps(config, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
    return (
        f"<style>\n{css}\n</style>\n"
        f"<script>\n{js}\n</script>\n"
        f"<script>vigieAnnotate({payload});</script>\n"
    )


#: Leaflet.draw as folium would ask for it (inlined offline by :mod:`pipelines._assets`).
LEAFLET_DRAW_JS = "https://cdn.jsdelivr.net/npm/leaflet-draw@1.0.4/dist/leaflet.draw.js"
LEAFLET_DRAW_CSS = "https://cdn.jsdelivr.net/npm/leaflet-draw@1.0.4/dist/leaflet.draw.css"


def add_annotation_ui(
    m: Any, *, site_id: str, tags: Sequence[str], statuses: Sequence[str] = STATUSES
) -> None:
    """Add Leaflet.draw and the annotation mode to a folium map (one call for the map module)."""
    from branca.element import Element

    # Copy folium's class-level lists first: add_*_link appends in place.
    m.default_js = list(m.default_js)
    m.default_css = list(m.default_css)
    m.add_js_link("leaflet_draw_js", LEAFLET_DRAW_JS)
    m.add_css_link("leaflet_draw_css", LEAFLET_DRAW_CSS)
    html = annotation_ui_html(
        site_id=site_id, tags=list(tags), statuses=list(statuses), map_var=m.get_name()
    )
    m.get_root().html.add_child(Element(html))
