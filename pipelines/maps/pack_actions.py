"""The committee pack's actions (:func:`action_table`, :func:`action_counts`): the
published action table grouped as a committee reads it (late, new, under way, done,
verified, others: :func:`action_group`), with their effect as published.
:mod:`pipelines.maps.pack` lays them out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import pandas as pd
from markupsafe import Markup

from pipelines.fr import fr_number
from pipelines.maps.actions import (
    action_facts,
    as_date,
    date_fr,
    is_true,
    live,
    status_colour,
    status_order,
)
from pipelines.maps.html import esc, present
from pipelines.published import DROPPED_STATUSES

#: The groups of the action table, in the pack's order: (key, French title). Each action
#: is in the first group it belongs to.
GROUPS = (
    ("late", "En retard"),
    ("new", "Nouvelles : décidées au dernier comité"),
    ("open", "En cours ou à venir"),
    ("done", "Réalisées"),
    ("verified", "Vérifiées"),
    ("other", "Refusées, abandonnées ou retirées du registre"),
)


def action_group(row: Mapping[str, Any] | pd.Series, *, last_committee: object) -> str:
    """The key of the group of :data:`GROUPS` an action belongs to."""
    status = str(row.get("status")) if present(row.get("status")) else ""
    if is_true(row.get("is_removed")) or status in DROPPED_STATUSES:
        return "other"
    if is_true(row.get("is_overdue")):
        return "late"
    committee, last = as_date(row.get("committee_date")), as_date(last_committee)
    if committee is not None and last is not None and committee == last:
        return "new"
    if status == "réalisée":
        return "done"
    if status == "vérifiée":
        return "verified"
    return "open"


def action_table(
    actions: gpd.GeoDataFrame | None, *, last_committee: object
) -> list[dict[str, Any]]:
    """The pack's action table: one block per non-empty group of :data:`GROUPS`, its
    actions by due date; each action's cells are escaped HTML (:class:`Markup`)."""
    if actions is None or actions.empty:
        return []
    groups: dict[str, list[tuple[Any, dict[str, Any]]]] = {key: [] for key, _ in GROUPS}
    for _, row in actions.iterrows():
        facts = dict(action_facts(row))
        decision = esc(row.get("decision")) if present(row.get("decision")) else ""
        problem = esc(row.get("problem")) if present(row.get("problem")) else ""
        due = as_date(row.get("due_date"))
        groups[action_group(row, last_committee=last_committee)].append(
            (
                due if due is not None else pd.Timestamp.max,
                {
                    "id": str(row.get("action_id") or ""),
                    "target": str(row.get("target_label") or ""),
                    "decision": Markup(decision),
                    "problem": Markup(problem),
                    "partner": Markup(facts.get("Partenaire pilote", "")),
                    "committee": Markup(facts.get("Décidée en", "")),
                    "due": date_fr(row.get("due_date")) or "non fixée",
                    "status": Markup(facts.get("Statut", "")),
                    "kind": Markup(facts.get("Niveau, type", "")),
                    "effect": str(row.get("effect_fr")) if present(row.get("effect_fr")) else "",
                    "removed": is_true(row.get("is_removed")),
                },
            )
        )
    return [
        {"key": key, "title": title, "rows": [r for _, r in sorted(groups[key], key=_first)]}
        for key, title in GROUPS
        if groups[key]
    ]


def _first(item: tuple[Any, Any]) -> Any:
    return item[0]


def action_counts(
    facts: Mapping[str, Any], actions: gpd.GeoDataFrame | None
) -> dict[str, Any] | None:
    """The site's action figures (``site.json``'s ``actions``; counted from the table when
    the object is absent): total, by status (with colours), late, share updated."""
    block = facts.get("actions")
    if not isinstance(block, Mapping):
        if actions is None or actions.empty:
            return None
        rows = live(actions)
        statuses: dict[str, int] = (
            {str(k): int(v) for k, v in rows["status"].astype("string").value_counts().items()}
            if "status" in rows
            else {}
        )
        block = {
            "n_actions": len(rows),
            "by_status": statuses,
            "n_overdue": int(sum(is_true(v) for v in rows.get("is_overdue", []))),
        }
    by_status = dict(block.get("by_status") or {})
    order = status_order(by_status)
    share = block.get("share_updated_since_last_committee")
    return {
        "n": fr_number(int(block.get("n_actions", 0) or 0)),
        "by_status": [
            {"status": s, "n": fr_number(int(by_status[s])), "colour": status_colour(s)}
            for s in order
        ],
        "late": fr_number(int(block.get("n_overdue", 0) or 0)),
        "share_updated": (
            f"{fr_number(100 * float(share))} %" if isinstance(share, int | float) else None
        ),
        "last_committee": date_fr(block.get("last_committee_date")),
    }
