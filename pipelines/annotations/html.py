"""The planners' notes as map layers, GeoJSON, CSV and HTML, and the in-map annotation
mode (:mod:`pipelines.annotations.stage`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import folium
import geopandas as gpd
import pandas as pd
import shapely

from pipelines.annotations.model import (
    DELETED_STATUS,
    NOTE_FIELDS,
    STATUSES,
    _clean,
    _fr_time,
)
from pipelines.crs import WGS84
from pipelines.io import list_cell
from pipelines.markup import SafeMacroElement, add_html, template_text

# The logger of pipelines.annotations.stage, as before the split, so that log
# filters and configurations keep matching these messages.
log = logging.getLogger("pipelines.annotations.stage")


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
    if not parts and "building_ids" in row and list_cell(row["building_ids"]):
        parts.append("bâtiment(s) " + ", ".join(list_cell(row["building_ids"])[:3]))
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


class NotesGeoJson(folium.GeoJson, SafeMacroElement):
    """folium's ``GeoJson`` for the notes: its output (which holds the notes' texts) is
    put in the page as it is, never compiled as a template (:mod:`pipelines.markup`)."""


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

    NotesGeoJson(
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
            out[c] = [", ".join(list_cell(v)) for v in frame[c]]
    for c in ("zone_note", "is_orphaned", "orphan_reason", "source_file"):
        if c in frame:
            out[c] = frame[c].to_numpy()
    out["geometry_wkt"] = [
        None if g is None or g.is_empty else shapely.to_wkt(g, rounding_precision=7)
        for g in frame.geometry
    ]
    return out


# --------------------------------------------------------------------------- map UI


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
    css = template_text("annotate.css")
    js = template_text("annotate.js")
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


#: Leaflet.draw as folium would ask for it (inlined offline by :mod:`pipelines.maps.assets`).
LEAFLET_DRAW_JS = "https://cdn.jsdelivr.net/npm/leaflet-draw@1.0.4/dist/leaflet.draw.js"
LEAFLET_DRAW_CSS = "https://cdn.jsdelivr.net/npm/leaflet-draw@1.0.4/dist/leaflet.draw.css"


def add_annotation_ui(
    m: Any, *, site_id: str, tags: Sequence[str], statuses: Sequence[str] = STATUSES
) -> None:
    """Add Leaflet.draw and the annotation mode to a folium map (one call for the map module).

    The mode's HTML holds the site id and the tags of the configuration: it goes into the
    page as it is (:func:`pipelines.markup.add_html`), never compiled as a template.
    """
    # Copy folium's class-level lists first: add_*_link appends in place.
    m.default_js = list(m.default_js)
    m.default_css = list(m.default_css)
    m.add_js_link("leaflet_draw_js", LEAFLET_DRAW_JS)
    m.add_css_link("leaflet_draw_css", LEAFLET_DRAW_CSS)
    html = annotation_ui_html(
        site_id=site_id, tags=list(tags), statuses=list(statuses), map_var=m.get_name()
    )
    add_html(m.get_root().html, html)
