"""The JSON readers: GeoJSON features (:func:`read_geojson`, their coordinates as
``lon``/``lat`` columns) and Open311 GeoReport v2 service requests
(:func:`read_open311`). Every value is read as the string a CSV export would hold
(:func:`pipelines.ingest.rawfile.cell_text`); the line of a row is its feature's index.
:mod:`pipelines.ingest.readers` dispatches.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from pipelines.errors import InputError
from pipelines.ingest.encoding import decode
from pipelines.ingest.rawfile import RawFile, cell_text, table_from_records


def _load_json(path: Path, encoding: str | None) -> Any:
    text, _ = decode(path.read_bytes(), encoding)
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(
            path, f"JSON invalide ({err.msg}, colonne {err.colno})", row=err.lineno
        ) from err
    except RecursionError as err:
        raise too_deep(path) from err


def too_deep(path: Path) -> InputError:
    return InputError(
        path,
        "JSON imbriqué trop profondément (des milliers de listes ou d'objets les uns dans "
        "les autres) : ce n'est pas un export de signalements ; vérifiez le fichier.",
    )


#: The ``__geom_note`` of a feature that is not a JSON object.
NOT_AN_OBJECT = "not_an_object"


def _crs_of_geojson(doc: dict[str, Any]) -> str | None:
    name = (
        (doc.get("crs") or {}).get("properties", {}).get("name")
        if isinstance(doc.get("crs"), dict)
        else None
    )
    if not isinstance(name, str):
        return None
    code = name.rsplit(":", 1)[-1]
    if code.upper() in ("CRS84", "4326"):
        return "EPSG:4326"
    return f"EPSG:{code}" if code.isdigit() else None


def read_geojson(path: Path, *, encoding: str | None = None) -> RawFile:
    """Read GeoJSON features: properties become columns; a point's coordinates become
    the derived columns ``__lon``/``__lat`` (other geometries: a point inside them,
    noted in ``__geom_note``). A feature that is not a JSON object (a string, a number,
    ``null``: a hand-edited file, a tool writing ``null`` for a deleted feature) is a row
    noted ``not_an_object``, rejected as ``unreadable_feature``."""
    import shapely.errors
    import shapely.geometry

    doc = _load_json(path, encoding)
    if doc is None:
        return RawFile(str(path), "geojson", pa.table({}), np.zeros(0, np.int64), has_header=False)
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        features = [doc]
    elif isinstance(doc, dict) and isinstance(doc.get("features"), list):
        features = doc["features"]
    else:
        raise InputError(path, "GeoJSON attendu : une FeatureCollection (ou une Feature).")
    names: list[str] = []
    seen: set[str] = set()
    records: list[dict[str, str]] = []
    for feature in features:
        props = feature.get("properties") if isinstance(feature, dict) else None
        props = props if isinstance(props, dict) else {}
        record = {str(k): cell_text(v) for k, v in props.items()}
        for k in record:
            if k not in seen:
                seen.add(k)
                names.append(k)
        geom = feature.get("geometry") if isinstance(feature, dict) else None
        lon = lat = note = ""
        if not isinstance(feature, dict):
            note = NOT_AN_OBJECT
        elif isinstance(geom, dict) and geom.get("type") == "Point":
            coords = geom.get("coordinates") or []
            if isinstance(coords, list) and len(coords) >= 2:
                lon, lat = cell_text(coords[0]), cell_text(coords[1])
        elif isinstance(geom, dict) and geom.get("type"):
            try:
                shape = shapely.geometry.shape(geom)
                if not shape.is_empty:  # an empty geometry locates nothing: no point
                    point = shape.representative_point()
                    lon, lat, note = repr(point.x), repr(point.y), "representative_point"
            except (
                ValueError,
                TypeError,
                AttributeError,
                IndexError,
                KeyError,
                RecursionError,
                shapely.errors.ShapelyError,
            ):
                lon = lat = "?"
        record.update({"__lon": lon, "__lat": lat, "__geom_note": note})
        records.append(record)
    virtual = ("__lon", "__lat", "__geom_note")
    table = table_from_records(records, [n for n in names if n not in virtual] + list(virtual))
    lines = np.arange(1, len(records) + 1, dtype=np.int64)
    return RawFile(
        str(path),
        "geojson",
        table,
        lines,
        crs=_crs_of_geojson(doc),
        virtual=virtual,
    )


def read_open311(path: Path, *, encoding: str | None = None) -> RawFile:
    """Read Open311 GeoReport v2 service requests (a JSON list, or an object holding it
    under ``service_requests``/``requests``). ``__closed_at`` is ``updated_datetime``
    for closed requests."""
    doc = _load_json(path, encoding)
    if doc is None:
        return RawFile(str(path), "open311", pa.table({}), np.zeros(0, np.int64), has_header=False)
    if isinstance(doc, dict):
        doc = doc.get("service_requests", doc.get("requests"))
    if not isinstance(doc, list) or not all(isinstance(r, dict) for r in doc):
        raise InputError(path, "Open311 attendu : une liste JSON de demandes (service requests).")
    names: list[str] = []
    seen: set[str] = set()
    records: list[dict[str, str]] = []
    for item in doc:
        record = {str(k): cell_text(v) for k, v in item.items()}
        for k in record:
            if k not in seen:
                seen.add(k)
                names.append(k)
        closed = record.get("status", "").strip().lower() == "closed"
        record["__closed_at"] = record.get("updated_datetime", "") if closed else ""
        records.append(record)
    virtual = ("__closed_at",)
    table = table_from_records(records, [*names, *virtual])
    lines = np.arange(1, len(records) + 1, dtype=np.int64)
    return RawFile(str(path), "open311", table, lines, virtual=virtual)
