"""Draft actions from the map's « Annoter » mode: a planner's note tagged « action »
becomes a proposed action, kept apart from the analyst's register.

A draft has the status « proposée », the note's text as its problem, the note's date as
its status date, and the note's target: its building, its zone, or the area drawn on
the map (a drawn point or line: the buildings it touches). Its id is derived from the
note's id (``PROP-`` and 8 hexadecimal digits of its SHA-1), so it is the same at every
refresh; the analyst who takes it into the register keeps that id, and the register's
row then wins: a draft never overrides a row of the register.
"""

from __future__ import annotations

import hashlib

import pandas as pd

from pipelines.actions.model import DRAFT_STATUS
from pipelines.actions.validate import ACTION_FIELDS, records_frame
from pipelines.fr import fold
from pipelines.io import list_cell
from pipelines.reports import naive_dates

#: The word of a note's tag that makes it a draft action.
ACTION_TAG = "action"
#: ``origin`` of an action: a row of the register, or a draft from a note of the map.
ORIGIN_REGISTER = "registre"
ORIGIN_NOTE = "note de la carte"


def draft_id(note_id: str) -> str:
    """The id of the draft action of a note: stable, short, distinct from the
    register's ids (``PROP-1A2B3C4D``)."""
    return "PROP-" + hashlib.sha1(str(note_id).encode("utf-8")).hexdigest()[:8].upper()


def is_action_tag(tag: object) -> bool:
    """Whether a note's tag makes it a draft action (« action », « Action à proposer »)."""
    return isinstance(tag, str) and ACTION_TAG in fold(tag).replace("'", " ").split()


def draft_actions(notes: pd.DataFrame | None) -> pd.DataFrame:
    """The draft actions of the notes tagged « action ».

    Parameters
    ----------
    notes
        ``annotations.parquet`` (EPSG:4326): ``note_id``, ``tag``, ``text``,
        ``created_at``, ``building_id``, ``zone_id``, ``building_ids``,
        ``geometry_source``, ``source_file``, geometry; ``None`` when the notes stage
        has not run.

    Returns
    -------
    DataFrame
        One row per note tagged « action » that can be placed: the fields of
        :data:`pipelines.actions.validate.ACTION_FIELDS` (status « proposée »),
        ``note_id``, ``source_file`` (the note's file) and ``source_line`` (0), in the
        notes' order.
    """
    columns = [*ACTION_FIELDS, "note_id", "source_file", "source_line"]
    if notes is None or notes.empty or "tag" not in notes:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    tagged = notes[[is_action_tag(t) for t in notes["tag"]]]
    records = []
    created = naive_dates(tagged["created_at"]).dt.normalize()
    for (_, note), day in zip(tagged.iterrows(), created, strict=True):
        buildings: list[str] = []
        if isinstance(note.get("building_id"), str):
            buildings.append(note["building_id"])
        drawn = None
        geometry = note.geometry
        if note.get("geometry_source") == "dessin" and geometry is not None:
            if geometry.geom_type in ("Polygon", "MultiPolygon"):
                drawn = geometry
            else:
                buildings += list_cell(note.get("building_ids"))
        zone = note.get("zone_id") if isinstance(note.get("zone_id"), str) else None
        if not buildings and drawn is None and zone is None:
            continue  # a note that cannot be placed (an orphan): no target, no draft
        text = note.get("text")
        records.append(
            {
                "action_id": draft_id(str(note["note_id"])),
                "committee_date": None,
                "committee_kind": None,
                "target_buildings": tuple(dict.fromkeys(buildings)),
                "target_zone": zone,
                "target_geometry": drawn,
                "problem": text if isinstance(text, str) else None,
                "categories": (),
                "decision": None,
                "level": None,
                "action_type": None,
                "responsibility": None,
                "lead_partner": None,
                "due_date": None,
                "status": DRAFT_STATUS,
                "status_date": None if pd.isna(day) else pd.Timestamp(day),
                "completed_date": None,
                "funding": None,
                "note_id": str(note["note_id"]),
                "source_file": str(note.get("source_file") or "notes de la carte"),
                "source_line": 0,
            }
        )
    return records_frame(records, columns)
