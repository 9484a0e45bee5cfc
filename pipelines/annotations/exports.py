"""The planners' notes as the annotation stage writes them (GeoJSON and CSV, both
re-importable) and the flag of an orphaned note, which publication carries to the
readers. Drawing the notes (map layer, index table, the in-map annotation mode) is the
renderers' job: :mod:`pipelines.maps.notes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from pipelines.annotations.model import (
    NOTE_FIELDS,
    _clean,
)
from pipelines.crs import WGS84
from pipelines.io import list_cell


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


def note_properties(row: pd.Series | Mapping[str, Any]) -> dict[str, Any]:
    """The JSON-ready properties of one note (raw text: escape it before showing it)."""
    props: dict[str, Any] = {c: _text(row.get(c)) for c in NOTE_FIELDS}
    props["created_at"] = _iso(row.get("created_at"))
    props["updated_at"] = _iso(row.get("updated_at"))
    for c in ("building_ids", "zone_ids"):
        if c in row:
            props[c] = list_cell(row[c])
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
    # Plain dicts rather than iterrows' Series: ten times faster on 200,000 notes.
    records = pd.DataFrame(frame.drop(columns=frame.geometry.name)).to_dict(orient="records")
    for record, g in zip(records, frame.geometry, strict=True):
        row = {str(k): v for k, v in record.items()}
        features.append(
            {
                "type": "Feature",
                "properties": note_properties(row),
                "geometry": None if g is None or g.is_empty else shapely.geometry.mapping(g),
            }
        )
    return {"type": "FeatureCollection", "features": features}


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


def notes_csv_frame(notes: gpd.GeoDataFrame) -> pd.DataFrame:
    """The notes as a flat table for the planners' spreadsheets (re-importable)."""
    frame = notes.to_crs(WGS84) if notes.crs is not None else notes
    out = pd.DataFrame({c: [_text(v) for v in frame[c]] for c in NOTE_FIELDS})
    out["created_at"] = [_iso(v) for v in frame["created_at"]]
    out["updated_at"] = [_iso(v) for v in frame["updated_at"]]
    for c in ("building_ids", "zone_ids"):
        if c in frame:
            out[c] = [", ".join(list_cell(v)) for v in frame[c]]
    for c in ("zone_note", "is_orphaned", "orphan_reason", "source_file"):
        if c in frame:
            out[c] = frame[c].to_numpy()
    out["geometry_wkt"] = [
        None if g is None or g.is_empty else shapely.to_wkt(g, rounding_precision=7)
        for g in frame.geometry
    ]
    return out
