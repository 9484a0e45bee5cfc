"""Vocabulary, columns and value helpers of the planners' notes
(:mod:`pipelines.annotations.stage`)."""

from __future__ import annotations

import functools
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry.base import BaseGeometry

from pipelines.crs import WGS84
from pipelines.fr import fold
from pipelines.ingest import CONTROL_CHARS as INGEST_CONTROL_CHARS
from pipelines.ingest import MAX_CELL_CHARS, parse_dates, scrub_series

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
#: A note file larger than this (bytes on disk; for an XLSX, its uncompressed content)
#: is refused unread, with a message naming it: the planners' files hold hundreds of
#: notes, a 200,000-note map export weighs about 70 MB.
MAX_FILE_BYTES = 100_000_000
#: A note file with more features or rows than this is refused, with a message naming it.
MAX_FILE_NOTES = 200_000
#: A note dated later than the run's time plus this is refused: a clock set to 2099 would
#: otherwise make that version win over every later real edit.
FUTURE_TOLERANCE = pd.Timedelta(days=1)
#: The longest text a note keeps, in characters: a longer one (a mail pasted into a
#: spreadsheet's cell) is cut as a report's cell is (:func:`pipelines.ingest.cut_text`,
#: the same limit), the note imported and the cut told; the map's form stops at 2,000.
MAX_TEXT_CHARS = MAX_CELL_CHARS
#: The longest author a note may have: a longer one is refused with its reason (the map's
#: form stops at 80; two hundred characters are no name, a column taken for another).
MAX_AUTHOR_CHARS = 200
#: Control characters a note's text, author or tag loses: those an export's text cells
#: lose (:data:`pipelines.ingest.CONTROL_CHARS`, all of C0 but tab, line feed and
#: carriage return, and DEL), a carriage return having become a line feed first.
CONTROL_CHARS = re.compile(INGEST_CONTROL_CHARS)
#: Free-text fields of a note scrubbed of personal data before anything is written.
SCRUBBED_FIELDS: tuple[str, ...] = ("text", "author", "tag")

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
#: Columns of the version store (``annotations_versions.parquet``) besides NOTE_COLUMNS.
VERSION_COLUMNS = ["version_hash", "imported_at"]
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
# An object JOSM saved before its upload has a negative id (way/-12).
_BUILDING_ID = re.compile(r"^(way|relation|node)/-?\d+$")
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
    #: A row of a CSV or a sheet: its fields are named « colonne » in the messages.
    is_row: bool = False


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
    n_future
        Notes rejected because they are dated after the run's time plus
        :data:`FUTURE_TOLERANCE` (also counted in ``n_rejected``).
    versions
        Every valid note as read, before deduplication (what the version store keeps).
    scrubbed
        What :func:`scrub_note_fields` replaced in the valid notes.
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
    n_future: int = 0
    told: list[str] = field(default_factory=list)
    versions: gpd.GeoDataFrame | None = None
    scrubbed: dict[str, Any] = field(default_factory=dict)

    @property
    def messages(self) -> list[str]:
        """Rejections first, then duplicates, then what the reading of a file tells
        (``told``: dates read month first)."""
        return [*self.rejected, *self.duplicates, *self.told]


# --------------------------------------------------------------------------- values
_fold = functools.lru_cache(maxsize=4096)(fold)


@functools.lru_cache(maxsize=4096)
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


def plain_text(value: str) -> str:
    """``value`` without control characters (:data:`CONTROL_CHARS`), its carriage
    returns made line feeds, stripped."""
    return CONTROL_CHARS.sub("", value.replace("\r\n", "\n").replace("\r", "\n")).strip()


def empty_notes() -> gpd.GeoDataFrame:
    """A notes frame with no row and the columns of :data:`NOTE_COLUMNS`."""
    frame = pd.DataFrame({c: pd.Series(dtype="object") for c in NOTE_COLUMNS if c != "geometry"})
    for c in ("created_at", "updated_at"):
        frame[c] = pd.Series(dtype="datetime64[us, UTC]")
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=WGS84), crs=WGS84)


def parse_note_time(value: Any, *, serials_read: bool = False) -> pd.Timestamp | None:
    """Read a note's date: ISO 8601 (with or without offset), ``JJ/MM/AAAA [HH:MM]``,
    the other forms a report's date is read in (:func:`pipelines.ingest.parse_dates`:
    ``JJ-MM-AA``, ``JJ.MM.AAAA``, a zone after a day…, but not an Excel serial number),
    or a date/datetime object. Naive values are Paris time. Returns a UTC timestamp, or
    ``None`` when the value is empty.

    ``serials_read``: the value comes from a row of a table (CSV, workbook) whose Excel
    serial numbers were read before (:func:`pipelines.annotations.readers._read_table`);
    the message of a value still unread names them among the forms read.

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
            # The other forms a report's date is read in (« 05-03-2024 », « 05/03/24 »,
            # « 2024-03-05 UTC », a fraction of a second), never an Excel serial number
            # here (a table's are read before: :func:`_serial_dates` of the readers).
            read = (
                pd.NaT
                if re.fullmatch(r"\d+(?:[.,]\d+)?", text)
                else parse_dates(pd.Series([text], dtype="str")).iloc[0]
            )
            if pd.isna(read):
                forms = "AAAA-MM-JJ [hh:mm], ISO 8601, JJ/MM/AAAA [hh:mm] (ou 05-03-24, 05.03.2024)"
                forms += (
                    ", ou numéro de série Excel de 20 000 à 80 000 (date enregistrée comme nombre)"
                    if serials_read
                    else ""
                )
                raise ValueError(f"date « {text} » illisible (attendu {forms})") from err
            stamp = pd.Timestamp(read)  # Paris time
    if pd.isna(stamp):
        return None
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(LOCAL_TZ, ambiguous=False, nonexistent="shift_forward")
    return stamp.tz_convert("UTC").as_unit("us")


def _fr_time(stamp: Any) -> str:
    if stamp is None or pd.isna(stamp):
        return "sans date"
    return pd.Timestamp(stamp).tz_convert(LOCAL_TZ).strftime("%d/%m/%Y %H:%M")


# --------------------------------------------------------------------------- privacy
def scrub_note_fields(
    notes: pd.DataFrame, fields: tuple[str, ...] = SCRUBBED_FIELDS
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Replace phones, e-mails, flat numbers and names in the notes' free text (which
    loses its control characters, :func:`plain_text`, uncounted).

    All the ``fields`` of all the notes go through :func:`pipelines.ingest.scrub.scrub_series`
    in one call (its rules are compiled once per call and distinct values scrubbed
    once), never note by note.

    Parameters
    ----------
    notes
        Notes with the ``fields`` columns (text or missing).
    fields
        The columns to scrub (default :data:`SCRUBBED_FIELDS`).

    Returns
    -------
    tuple
        A copy of ``notes`` with the fields scrubbed (missing values stay ``None``), and
        the counts: replacements by kind (``phones``, ``emails``, ``flats``, ``names``),
        ``fields`` (per field, how many notes had it changed) and ``notes`` (how many
        notes had at least one field changed).
    """

    out = notes.copy()
    present = [c for c in fields if c in out]
    n = len(out)
    # Without control characters first (an archive written before they were taken out
    # of the notes read loses them here), not counted as scrubbed.
    stacked = pd.Series(
        [None if _clean(v) is None else plain_text(str(v)) for c in present for v in out[c]],
        dtype=object,
    )
    clean, kinds = scrub_series(stacked)
    values = np.asarray(clean.astype(object).where(clean.notna(), None), dtype=object)
    before = stacked.to_numpy(dtype=object)
    changed = np.zeros(n, dtype=bool)
    per_field: dict[str, int] = {}
    for k, c in enumerate(present):
        part_before, part_after = before[k * n : (k + 1) * n], values[k * n : (k + 1) * n]
        diff = np.array([a != b for a, b in zip(part_before, part_after, strict=True)], bool)
        per_field[c] = int(diff.sum())
        changed |= diff
        out[c] = pd.Series(part_after, index=out.index, dtype=object)
    counts: dict[str, Any] = {**{k: int(v) for k, v in kinds.items()}}
    counts["fields"] = per_field
    counts["notes"] = int(changed.sum())
    return out, counts
