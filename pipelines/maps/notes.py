"""The planners' notes as a reader sees them: the map's notes layer, the index page's
table, and the in-map annotation mode (« Annoter », Leaflet.draw).

Reads the published notes (``published/notes.parquet``, :mod:`pipelines.published`):
one row per live note, its fields as the annotation mode reads them (dates ISO, UTC),
``orphan_flag`` set by the publication step. Everything here escapes what it shows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import shapely

from pipelines.io import list_cell
from pipelines.markup import add_html, escape_text, template_text

#: Colours of the notes by status (Okabe-Ito, colour-blind safe); grey for orphans.
NOTE_COLOURS = {"ouvert": "#D55E00", "en cours": "#E69F00", "clos": "#009E73"}
ORPHAN_COLOUR = "#666666"
#: Leaflet.draw as folium would ask for it (inlined offline by :mod:`pipelines.maps.assets`).
LEAFLET_DRAW_JS = "https://cdn.jsdelivr.net/npm/leaflet-draw@1.0.4/dist/leaflet.draw.js"
LEAFLET_DRAW_CSS = "https://cdn.jsdelivr.net/npm/leaflet-draw@1.0.4/dist/leaflet.draw.css"
#: Notes' dates are shown in the sites' local time.
LOCAL_TZ = "Europe/Paris"
_LISTS = ("building_ids", "zone_ids")


def _text(value: Any) -> str | None:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    text = str(value).strip()
    return text or None


def _esc(value: Any) -> str:
    text = _text(value)
    return "" if text is None else escape_text(text)


def _fr_time(stamp: Any) -> str:
    if _text(stamp) is None:
        return "sans date"
    return pd.Timestamp(stamp).tz_convert(LOCAL_TZ).strftime("%d/%m/%Y %H:%M")


def note_record(row: pd.Series) -> dict[str, Any]:
    """The JSON-ready fields of one published note (raw text: escape it before showing)."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key == "geometry":
            continue
        if key in _LISTS:
            out[str(key)] = list_cell(value)
        elif key == "is_orphaned":
            out[str(key)] = bool(value) if _text(value) is not None else False
        else:
            out[str(key)] = _text(value)
    return out


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
            if _text(row.get("updated_at")) is not None
            else ""
        )
        + "</i></p>",
    ]
    if bool(row.get("is_orphaned", False)):
        lines.append(
            f"<p class='vigie-note-orphan'><b>« {_esc(row.get('orphan_flag'))} »</b> — "
            f"Note orpheline : {_esc(row.get('orphan_reason'))}</p>"
        )
    lines.append("</div>")
    return "".join(lines)


def notes_layer_geojson(notes: pd.DataFrame) -> dict[str, Any]:
    """The published notes as a GeoJSON FeatureCollection for the map's notes layer.

    Every feature carries the raw fields of the note (``note_id``, ``text``, …, read by
    the annotation mode with ``textContent``, never as HTML) plus ``popup_html`` and
    ``tooltip``, escaped. Notes without a position are left out (they are listed in the
    index page table).
    """
    frame = notes[notes.geometry.notna() & ~notes.geometry.is_empty]
    features = []
    for _, row in frame.iterrows():
        props = note_record(row)
        text = props.get("text") or ""
        short = text if len(text) <= 80 else text[:77] + "…"
        props["popup_html"] = note_popup_html(row)
        flag = props.get("orphan_flag")
        prefix = f"{flag.capitalize()} · " if flag else ""
        props["tooltip"] = _esc(f"{prefix}Note ({row.get('tag')}) : {short}")
        features.append(
            {
                "type": "Feature",
                "properties": props,
                "geometry": shapely.geometry.mapping(row.geometry),
            }
        )
    return {"type": "FeatureCollection", "features": features}


def notes_table_html(notes: pd.DataFrame) -> str:
    """An escaped HTML table of the published notes for the index page (newest first);
    orphaned notes are marked."""
    if len(notes) == 0:
        return "<p class='vigie-notes-empty'>Aucune note des urbanistes.</p>"
    created = pd.to_datetime(notes["created_at"], utc=True, errors="coerce")
    live = notes.assign(_created=created).sort_values("_created", ascending=False)
    rows = []
    for _, row in live.iterrows():
        flag = _text(row.get("orphan_flag"))
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


# --------------------------------------------------------------------------- map UI
def annotation_ui_html(*, site_id: str, tags: list[str], statuses: list[str], map_var: str) -> str:
    """The in-map annotation mode: ``<style>…</style><script>…</script>`` to add to a map.

    Parameters
    ----------
    site_id
        Written in every note and in the export's file name.
    tags, statuses
        The choices of the form (the published ``annotation_tags``; the note statuses,
        the deleted one included).
    map_var
        The JavaScript name of the Leaflet map (``folium.Map.get_name()``).

    The script needs Leaflet; with Leaflet.draw (``L.Control.Draw``) loaded the planner
    can also draw points, lines and polygons, without it the mode still annotates
    buildings and zones. Everything a user typed is shown with ``textContent``.
    """
    css = template_text("annotate.css")
    js = template_text("annotate.js")
    config = {"site": site_id, "tags": list(tags), "statuses": list(statuses), "mapVar": map_var}
    # json.dumps does not escape "</script>" or "<!--": do it so a tag cannot end the block.
    payload = json.dumps(config, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
    return (
        f"<style>\n{css}\n</style>\n"
        f"<script>\n{js}\n</script>\n"
        f"<script>vigieAnnotate({payload});</script>\n"
    )


def add_annotation_ui(
    m: Any, *, site_id: str, tags: Sequence[str], statuses: Sequence[str]
) -> None:
    """Add Leaflet.draw and the annotation mode to a folium map.

    The mode's HTML holds the site id and the tags of the configuration: it goes into the
    page as it is (:func:`pipelines.markup.add_html`), never compiled as a template.
    """
    # Copy folium's class-level lists first: add_*_link appends in place.
    m.default_js = list(m.default_js)
    m.default_css = list(m.default_css)
    m.add_js_link("leaflet_draw_js", LEAFLET_DRAW_JS)
    m.add_css_link("leaflet_draw_css", LEAFLET_DRAW_CSS)
    html_ = annotation_ui_html(
        site_id=site_id, tags=list(tags), statuses=list(statuses), map_var=m.get_name()
    )
    add_html(m.get_root().html, html_)
