"""Reading the planners' note files: GeoJSON, GeoPackage and other OGR formats, CSV and
XLSX (:mod:`pipelines.annotations.stage`); each note is validated by
:mod:`pipelines.annotations.validate`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from pipelines.annotations.model import (
    _GEOJSON_SUFFIXES,
    _OGR_SUFFIXES,
    _SHAPEFILE_SIDECARS,
    _TABLE_SUFFIXES,
    FUTURE_TOLERANCE,
    LOCAL_TZ,
    MAX_FILE_BYTES,
    MAX_FILE_NOTES,
    MAX_TEXT_CHARS,
    STATUSES,
    AnnotationRead,
    FileProblemError,
    RawNote,
    _field_name,
    empty_notes,
    scrub_note_fields,
)
from pipelines.annotations.validate import CUT_FROM, FUTURE_PROBLEM, validate_note
from pipelines.annotations.versions import _notes_frame, deduplicate_notes, one_spelling
from pipelines.crs import WGS84
from pipelines.errors import InputError
from pipelines.fr import fr_number
from pipelines.ingest import (
    CUT_MARK,
    NotATableError,
    RawFile,
    date_order,
    listed,
    parse_dates,
    parse_numbers,
    read_file,
    scrub_series,
    year_first_rows,
)

# The logger of pipelines.annotations.stage, as before the split, so that log
# filters and configurations keep matching these messages.
log = logging.getLogger("pipelines.annotations.stage")


# --------------------------------------------------------------------------- limits
def _check_size(path: Path) -> None:
    """Refuse, unread, a file above :data:`MAX_FILE_BYTES` (a shapefile with its companions),
    and anything that is not a regular file (reading a named pipe would wait forever)."""
    if not path.is_file():
        raise FileProblemError("ce n'est pas un fichier ordinaire")
    size = path.stat().st_size
    if path.suffix.lower() == ".shp":
        size += sum(
            p.stat().st_size
            for p in path.parent.glob(path.stem + ".*")
            if p.suffix.lower() in _SHAPEFILE_SIDECARS
        )
    if size > MAX_FILE_BYTES:
        raise FileProblemError(
            f"fichier trop volumineux ({_mb(size)}, limite {_mb(MAX_FILE_BYTES)}) ; "
            "découpez-le en plusieurs fichiers"
        )


def _check_count(n: int) -> None:
    if n > MAX_FILE_NOTES:
        raise FileProblemError(
            f"trop de notes dans un seul fichier ({n} ; limite {MAX_FILE_NOTES}) ; "
            "découpez-le en plusieurs fichiers"
        )


def _mb(n: int) -> str:
    return f"{n / 1e6:.0f} Mo" if n >= 1e6 else f"{n / 1e6:.1f} Mo"


def _check_xlsx_size(path: Path) -> None:
    """An XLSX is a zip: refuse it when its uncompressed content is above the limit, before
    loading it (a small zip can hold gigabytes of sheet XML)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            size = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as err:
        raise FileProblemError("classeur illisible (ce n'est pas un fichier XLSX)") from err
    if size > MAX_FILE_BYTES:
        raise FileProblemError(
            f"classeur trop volumineux une fois décompressé ({_mb(size)}, limite "
            f"{_mb(MAX_FILE_BYTES)}) ; découpez-le en plusieurs fichiers"
        )


# --------------------------------------------------------------------------- readers
def _read_geojson(path: Path, told: list[str]) -> list[RawNote]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except RecursionError as err:
        raise FileProblemError("JSON illisible (imbrication trop profonde)") from err
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
    _check_count(len(features))
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


def _read_table(
    path: Path, told: list[str], window: tuple[np.datetime64, np.datetime64] | None = None
) -> list[RawNote]:
    """The rows of a CSV or XLSX of notes, read by the ingestion's reader
    (:func:`pipelines.ingest.read_file`): each row named by its line in the file or the
    sheet (the header is line 1), blank rows skipped, a malformed CSV row a note of its
    own that is rejected; dates month first read so, and said in ``told``
    (:func:`_month_first_dates`), and so are dates year first when ``window`` (the
    study's first day, the run's latest date, naive Paris time) shows them
    (:func:`_year_first_dates`). Read by pandas before, a CSV's blank lines and multi-line
    texts shifted every later row's line, and a sheet's blank rows became rejected
    notes."""
    xlsx = path.suffix.lower() == ".xlsx"
    if xlsx:
        _check_xlsx_size(path)
    try:
        raw = read_file(path, "xlsx" if xlsx else "csv")
    except NotATableError as err:
        # Its cause, without the advice about a source's configuration (« separator »):
        # a note file has none.
        raise FileProblemError(f"CSV illisible : {err.reason}") from err
    except InputError as err:
        what = "classeur illisible" if xlsx else "CSV illisible"
        message = str(err).split(" : ", 1)[-1].rstrip(".")
        raise FileProblemError(
            message if message.startswith(what) else f"{what} ({message})"
        ) from err
    if not raw.has_header:
        raise FileProblemError("classeur vide" if xlsx else "fichier CSV vide")
    names = [str(c) for c in raw.columns]
    _check_count(raw.table.num_rows + len(raw.malformed))
    columns = {_field_name(c): c for c in names}
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
        found = ", ".join(names) or "aucune"
        raise FileProblemError(
            f"colonnes manquantes : {', '.join(missing)} ; colonnes trouvées : {found}"
        )
    rows = raw.table.select(names).to_pylist()
    for name in {columns[key] for key in ("created_at", "updated_at") if key in columns}:
        stamps = _serial_dates(raw.table.column(name).to_pylist(), raw.excel_epoch)
        for row, stamp in zip(rows, stamps, strict=True):
            if stamp is not None:
                row[name] = stamp
    dates = [columns[k] for k in ("created_at", "updated_at") if k in columns]
    if not _month_first_dates(path, raw, dates, rows, told) and window is not None:
        _year_first_dates(path, raw, dates, rows, told, window)
    notes = [
        (int(line), RawNote(f"ligne {int(line)}", {k: v or "" for k, v in r.items()}, is_row=True))
        for line, r in zip(raw.lines, rows, strict=True)
    ]
    notes += [
        (int(line), RawNote(f"ligne {int(line)}", {}, None, problem, is_row=True))
        for line, problem in zip(raw.malformed.lines, _malformed_problems(raw), strict=True)
    ]
    return [note for _, note in sorted(notes, key=lambda pair: pair[0])]


def _malformed_problems(raw: RawFile) -> list[str]:
    """What is wrong with each malformed row of a CSV, in French: a quote opened and never
    closed, named with its column (the row is read alone, the next ones as usual: its
    fields may be as many as the columns, a separator is not the cause), or too many or
    too few fields."""
    out = []
    names = raw.columns
    for k, (width, unclosed) in enumerate(
        zip(raw.malformed.n_fields, raw.malformed.unclosed_quote, strict=True)
    ):
        if not unclosed:
            out.append(
                f"ligne mal formée ({int(width)} champs au lieu de {len(names)} : "
                "séparateur ou guillemet en trop ou en moins ?)"
            )
            continue
        fields = raw.malformed[k].fields
        # Split at every separator, the quote stays in its value; else the open quote
        # ran to the line's end, through the last field.
        quoted = [name for name, value in fields.items() if '"' in value]
        column = quoted[0] if quoted else list(fields)[-1] if fields else None
        out.append(
            "guillemet ouvert et jamais fermé"
            + (f" dans la colonne « {column} »" if column else "")
            + " : fermez-le ou retirez-le (la ligne est écartée, les suivantes sont lues)"
        )
    return out


def _month_first_dates(
    path: Path, raw: RawFile, names: list[str], rows: list[dict[str, Any]], told: list[str]
) -> bool:
    """Read a table's ``a/b/yyyy`` dates month first when its values show it
    (:func:`pipelines.ingest.date_order`, as the ingestion reads an export's), in place
    in ``rows``, and say so in ``told``; whether they were. Read one by one, day first,
    « 06/30/2024 » was refused but « 03/04/2024 » of the same file silently became
    3 April."""
    if not names:
        return False
    cells = {n: pd.Series(raw.table.column(n).to_pylist(), dtype=object) for n in names}
    found = date_order(*(c.fillna("").astype(str) for c in cells.values()))
    if found.order != "month_first":
        return False
    for name, values in cells.items():
        parsed = parse_dates(values.fillna("").astype(str).str.strip(), month_first=True)
        for row, stamp in zip(rows, parsed, strict=True):
            if isinstance(row[name], str) and not pd.isna(stamp):
                row[name] = pd.Timestamp(stamp)
    told.append(
        f"{path.name} : dates lues mois en premier (12/31/2024 : 31 décembre), comme le "
        f"montrent les lignes {listed(raw.lines[found.month_rows], 5)} : "
        "vérifiez-les, ou écrivez les dates JJ/MM/AAAA."
    )
    return True


def _year_first_dates(
    path: Path,
    raw: RawFile,
    names: list[str],
    rows: list[dict[str, Any]],
    told: list[str],
    window: tuple[np.datetime64, np.datetime64],
) -> None:
    """Read a table's ``nn-nn-nn`` dates year first (« 24-11-19 » : 19 November 2024, a
    spreadsheet set to short ISO dates) when their place in time shows it
    (:func:`pipelines.ingest.year_first_rows` over its date columns together, as the
    ingestion reads an export's), in place in ``rows``, and say so in ``told``. Read day
    first, « 24-11-19 » became 24 November 2019 without a word, and the note lost to
    any older version of it."""
    if not names:
        return
    cells = [
        pd.Series(raw.table.column(n).to_pylist(), dtype=object).fillna("").astype(str).str.strip()
        for n in names
    ]
    values = pd.concat(cells, ignore_index=True)
    found = year_first_rows(
        values,
        parse_dates(values, excel_epoch=raw.excel_epoch),
        window,
        excel_epoch=raw.excel_epoch,
    )
    if found is None:
        return
    n = len(rows)
    for k, name in enumerate(names):
        parsed = found[0].iloc[k * n : (k + 1) * n]
        for row, stamp in zip(rows, parsed, strict=True):
            if isinstance(row[name], str) and not pd.isna(stamp):
                row[name] = pd.Timestamp(stamp)
    lines = raw.lines[np.unique(found[1] % n)]
    told.append(
        f"{path.name} : dates lues année en premier (24-11-19 : 19 novembre 2024) : lues "
        "jour en premier, la plupart tombaient avant le début de l'étude ou après la date "
        f"du passage, comme le montrent les lignes {listed(lines, 5)} : vérifiez-les, ou "
        "écrivez les dates JJ/MM/AAAA."
    )


def _serial_dates(cells: list[str | None], epoch: str) -> list[pd.Timestamp | None]:
    """Per cell of a date column, the date its Excel serial number stands for (a date cell
    typed as a number: 45352 is 1 March 2024, 45352.5 its noon), read as the ingestion
    reads it (:func:`pipelines.ingest.parse_dates`, from the workbook's own day 0
    ``epoch``), naive Paris time; ``None`` for every other value, left to
    :func:`parse_note_time` (which names what it cannot read)."""
    values = pd.Series(cells, dtype=object).fillna("").astype(str).str.strip()
    is_number = parse_numbers(values)[0].notna()
    if not is_number.any():
        return [None] * len(values)
    parsed = parse_dates(values.where(is_number, ""), excel_epoch=epoch)
    return [None if pd.isna(stamp) else pd.Timestamp(stamp) for stamp in parsed]


def _read_ogr(path: Path, told: list[str]) -> list[RawNote]:
    import pyogrio

    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
    except Exception as err:  # pyogrio raises DataSourceError and GDAL errors of several types
        raise FileProblemError(f"fichier SIG illisible ({type(err).__name__} : {err})") from err
    try:
        _check_count(sum(int(pyogrio.read_info(path, layer=layer)["features"]) for layer in layers))
    except FileProblemError:
        raise
    except Exception as err:  # as above: GDAL errors of several types
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


def _reader_of(path: Path) -> Callable[[Path, list[str]], list[RawNote]] | None:
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
    now: pd.Timestamp | None = None,
    start: date | None = None,
) -> AnnotationRead:
    """Read and validate every note file of a site's annotation folder.

    Files are read in the order of their names (then each note in its file's order),
    never of their modification times, so that two versions of a note with the same
    date are always decided the same way: the later file name wins, then the later
    position in the file (see :func:`pipelines.annotations.versions.deduplicate_notes`).

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
    now
        The run's time (UTC; default: the clock). A note dated after ``now`` plus
        :data:`FUTURE_TOLERANCE` is rejected.
    start
        The study's first day (``params.ingest.start_date``): a table's ``nn-nn-nn``
        dates that fall between it and the run's latest date only when read year first
        are read so (:func:`_year_first_dates`); ``None``: read day first.

    Returns
    -------
    AnnotationRead
        Valid notes, scrubbed of personal data and deduplicated by ``note_id``
        (EPSG:4326), every valid version as read, and the messages (scrubbed too).
    """
    folder = Path(folder)
    result = AnnotationRead(empty_notes())
    result.versions = empty_notes()
    result.scrubbed = scrub_note_fields(empty_notes())[1]
    if not folder.is_dir():
        log.info("%s: no annotation folder", folder)
        return result
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    latest = (now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")) + (
        FUTURE_TOLERANCE
    )
    window = (
        None
        if start is None
        else (
            np.datetime64(pd.Timestamp(start), "us"),
            np.datetime64(latest.tz_convert(LOCAL_TZ).tz_localize(None), "us"),
        )
    )
    paths = sorted(folder.iterdir(), key=lambda p: p.name)
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
            _check_size(path)
            raws = (
                _read_table(path, result.told, window)
                if reader is _read_table
                else reader(path, result.told)
            )
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
            note, problems = validate_note(
                raw, site_id=site_id, tags=tags, statuses=statuses, latest=latest
            )
            if note is None:
                result.rejected.append(
                    f"{path.name}, {raw.ref} : note rejetée : {' ; '.join(problems)}."
                )
                result.n_rejected += 1
                result.n_future += any(p.startswith(FUTURE_PROBLEM) for p in problems)
                continue
            read_chars = note.pop(CUT_FROM, None)
            if read_chars is not None:
                result.told.append(
                    f"{path.name}, {raw.ref} : texte de {fr_number(read_chars)} caractères "
                    f"coupé à {fr_number(MAX_TEXT_CHARS)}, suivi de « {CUT_MARK.strip()} » ; "
                    "la note est importée, son texte entier reste dans le fichier. Un "
                    "courriel ou un document collé dans la note ?"
                )
            note.update(source_file=path.name, source_ref=raw.ref, source_format=fmt)
            note["_rank"] = len(notes)
            note["_origin"] = "dossier"
            notes.append(note)
    frame, result.scrubbed = scrub_note_fields(_notes_frame(notes))
    frame = gpd.GeoDataFrame(frame, geometry="geometry", crs=WGS84)
    frame["note_id"] = one_spelling(frame["note_id"])
    kept, messages = deduplicate_notes(frame)
    result.versions = frame.drop(columns=["_rank", "_origin"])
    result.notes = kept.drop(columns=["_rank", "_origin"])
    result.duplicates = messages
    result.n_duplicates = len(frame) - len(kept)
    result.rejected = scrub_messages(result.rejected)
    log.info(
        "%s: %d notes read in %d files, %d kept, %d rejected",
        folder,
        result.n_read,
        len(result.files),
        len(result.notes),
        len(result.rejected),
    )
    return result


def scrub_messages(messages: list[str]) -> list[str]:
    """Messages that quote what a planner typed (a rejected tag, site or status), scrubbed
    of personal data in one call, like the notes themselves."""
    if not messages:
        return []

    clean, _ = scrub_series(pd.Series(messages, dtype=object))
    return [str(m) for m in clean]
