"""The action register: what committees decided, who owes what, by when, what became
of it and whether things got better (issue 17).

Modules: ``model`` (columns, French headers, vocabularies), ``readers`` (the register's
files), ``validate`` (values, duplicates), ``targets`` (buildings, zones, drawn areas),
``history`` (the archive and the append-only history), ``drafts`` (actions proposed
from the map's notes), ``template`` (the register's template), ``effect`` (the effect
estimates) and ``stage`` (the stage's ``run``).
"""

from __future__ import annotations

from pipelines.actions.drafts import ORIGIN_NOTE, ORIGIN_REGISTER, draft_id
from pipelines.actions.effect import METHOD_NOTE_FR as EFFECT_METHOD_FR
from pipelines.actions.model import (
    ACTION_TYPES,
    COMMITTEE_KINDS,
    HEADERS,
    LEVELS,
    RESPONSIBILITIES,
    STATUSES,
)
from pipelines.actions.stage import OUTPUT_FILES, archive_dir_of, run
from pipelines.actions.targets import drawn_outline_parts, in_drawn_area
from pipelines.published import CLOSED_STATUSES

__all__ = [
    "ACTION_TYPES",
    "CLOSED_STATUSES",
    "COMMITTEE_KINDS",
    "EFFECT_METHOD_FR",
    "HEADERS",
    "LEVELS",
    "ORIGIN_NOTE",
    "ORIGIN_REGISTER",
    "OUTPUT_FILES",
    "RESPONSIBILITIES",
    "STATUSES",
    "archive_dir_of",
    "draft_id",
    "drawn_outline_parts",
    "in_drawn_area",
    "run",
]
