"""The actions of a site's register (issue 17) as its map and its committee pack show them.

Reads the published actions table only (``published/actions.parquet``, the contract's §3,
:mod:`pipelines.published`): one row per action with its target's geometry, its status,
``is_overdue`` and the effect sentence, all decided upstream. Nothing here judges an action
late or effective; this module colours, escapes and groups what the table says.

Pure functions used by :func:`pipelines.maps.data.map_data` (the « Actions » layer, the
actions of each building's fact sheet) and :mod:`pipelines.maps.pack` (the committee pack).
Every text of the table is escaped (:func:`pipelines.maps.html.esc`) before it becomes HTML.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipelines.crs import WGS84
from pipelines.fr import fr_date, fr_number, plural
from pipelines.maps.html import as_number, esc, is_hidden, present
from pipelines.maps.layers import features, round_geometries
from pipelines.published import ACTION_STATUSES

#: Outline colour of each status (:data:`pipelines.published.ACTION_STATUSES`): Paul Tol's
#: qualitative schemes (colour-blind safe),
#: chosen away from the buildings' yellow-to-red palette; greys for dropped actions.
STATUS_COLOURS: dict[str, str] = {
    "proposée": "#88ccee",
    "décidée": "#4477aa",
    "en cours": "#aa3377",
    "réalisée": "#44aa99",
    "vérifiée": "#117733",
    "en attente partenaire": "#999933",
    "reportée": "#ddcc77",
    "refusée": "#555555",
    "abandonnée": "#999999",
}
#: A status the table may hold that is none of the above (shown as written, in black).
OTHER_COLOUR = "#000000"
#: How a late action is marked (badge on the map, in fact sheets and in the pack).
LATE_FR = "en retard"
#: How a hidden count is written in a table (secret statistique).
SECRET = "s"
#: The notes of an action's popup for the table's flags, in French.
FLAG_NOTES = {
    "is_removed": "Retirée du registre (gardée pour l'historique).",
    "is_reopened": "Rouverte après avoir été close.",
    "status_held": "Un retour en arrière du statut a été refusé : voir l'historique du registre.",
}
#: Longest decision text in a fact sheet's list of actions (the popup shows it whole).
MAX_SHEET_DECISION = 160


def status_colour(status: object) -> str:
    """The outline colour of a status (black for a status outside
    :data:`~pipelines.published.ACTION_STATUSES`)."""
    return STATUS_COLOURS.get(str(status), OTHER_COLOUR) if present(status) else OTHER_COLOUR


def status_order(statuses: Collection[str]) -> list[str]:
    """The statuses found, in the register's order (:data:`~pipelines.published.ACTION_STATUSES`),
    then any other spelling in alphabetical order (legends, counts)."""
    found = set(statuses)
    return [s for s in ACTION_STATUSES if s in found] + sorted(found - set(ACTION_STATUSES))


def split_ids(value: object) -> list[str]:
    """Building ids of a ``;``- or ``,``-joined cell (``"way/1;way/2"``), in order."""
    if not present(value):
        return []
    if isinstance(value, list | tuple | np.ndarray):
        return [str(v).strip() for v in value if present(v) and str(v).strip()]
    return [part.strip() for part in re.split(r"[;,]", str(value)) if part.strip()]


def as_date(value: object) -> pd.Timestamp | None:
    """A published date (ISO string, or a date) as a timestamp; ``None`` when missing."""
    if not present(value):
        return None
    stamp = pd.to_datetime(str(value), errors="coerce")
    return None if pd.isna(stamp) else pd.Timestamp(stamp)


def date_fr(value: object) -> str:
    """``31/12/2025``, or '' when missing (unescaped)."""
    stamp = as_date(value)
    return fr_date(stamp) if stamp is not None else ""


def is_true(value: object) -> bool:
    """A published boolean cell (``True``, ``1``, ``"true"``); missing is false."""
    if not present(value):
        return False
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "oui", "vrai")
    return bool(value)


def live(actions: pd.DataFrame | None) -> pd.DataFrame:
    """The actions still in the register (``is_removed`` false), in table order."""
    if actions is None or actions.empty:
        return pd.DataFrame() if actions is None else actions.iloc[0:0]
    removed = actions.get("is_removed")
    if removed is None:
        return actions
    return actions[[not is_true(v) for v in removed]]


# ----------------------------------------------------------------------------- HTML
def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def status_html(row: Mapping[str, Any] | pd.Series) -> str:
    """The status of an action with its colour swatch, and « en retard » when it is late
    (escaped)."""
    status = row.get("status")
    swatch = f"<i class='vigie-status' style='background:{status_colour(status)}'></i>"
    late = f" <span class='vigie-late'>{LATE_FR}</span>" if is_true(row.get("is_overdue")) else ""
    return f"{swatch}{esc(status) if present(status) else 'statut inconnu'}{late}"


def action_facts(row: Mapping[str, Any] | pd.Series) -> list[tuple[str, str]]:
    """The (label, escaped HTML value) pairs of an action, as its popup and the pack's
    table show them: status, target, problem, partner, due date, committee, level, type,
    funding, effect."""
    facts: list[tuple[str, str]] = []
    since = date_fr(row.get("status_date"))
    facts.append(("Statut", status_html(row) + (f" depuis le {since}" if since else "")))
    if present(row.get("target_label")):
        facts.append(("Cible", esc(row["target_label"])))
    if present(row.get("problem")):
        facts.append(("Problème", esc(row["problem"])))
    partner = esc(row.get("lead_partner")) if present(row.get("lead_partner")) else "non désigné"
    if present(row.get("responsibility")):
        partner += f" (responsabilité : {esc(row['responsibility'])})"
    facts.append(("Partenaire pilote", partner))
    due = date_fr(row.get("due_date"))
    facts.append(("Échéance", esc(due) if due else "non fixée"))
    committee = date_fr(row.get("committee_date"))
    if committee or present(row.get("committee_kind")):
        kind = esc(row.get("committee_kind")) if present(row.get("committee_kind")) else "comité"
        facts.append(("Décidée en", kind + (f" du {committee}" if committee else "")))
    level = [esc(row[c]) for c in ("level", "action_type") if present(row.get(c))]
    if level:
        facts.append(("Niveau, type", ", ".join(level)))
    if present(row.get("funding")):
        facts.append(("Financement", esc(row["funding"])))
    counts = [_target_count(row, c) for c in ("n_reports_before", "n_reports_after")]
    if any(c is not None for c in counts):
        before, after = (c or "—" for c in counts)
        facts.append(("Signalements sur la cible", f"avant {before} → après {after}"))
    if present(row.get("effect_fr")):
        facts.append(("Effet", esc(row["effect_fr"])))
    return facts


def _target_count(row: Mapping[str, Any] | pd.Series, column: str) -> str | None:
    """A target count of the effect's windows: « s » where hidden, ``None`` when absent."""
    if is_hidden(row, column):
        return SECRET
    value = as_number(row.get(column))
    return fr_number(value) if value is not None else None


def action_title(row: Mapping[str, Any] | pd.Series) -> str:
    """``Action A-2025-003`` (unescaped)."""
    return f"Action {row.get('action_id')}" if present(row.get("action_id")) else "Action"


def action_popup(row: Mapping[str, Any] | pd.Series) -> str:
    """The popup of an action on the map: its decision, then its facts (escaped)."""
    decision = row.get("decision")
    out = [f"<div class='fiche vigie-action'><h4>{esc(action_title(row))}</h4>"]
    if present(decision):
        out.append(f"<p class='vigie-action-decision'>{esc(decision)}</p>")
    out.append(
        "<table class='faits'>"
        + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in action_facts(row))
        + "</table>"
    )
    origin = row.get("origin")
    if present(origin) and str(origin) != "registre":
        out.append(f"<p class='note'>Origine : {esc(origin)} (brouillon à valider).</p>")
    out += [f"<p class='note'>{esc(t)}</p>" for c, t in FLAG_NOTES.items() if is_true(row.get(c))]
    out.append("</div>")
    return "".join(out)


def action_tooltip(row: Mapping[str, Any] | pd.Series) -> str:
    """``Action A-1 · en cours · en retard`` (escaped)."""
    parts = [action_title(row), str(row.get("status")) if present(row.get("status")) else ""]
    if is_true(row.get("is_overdue")):
        parts.append(LATE_FR)
    return esc(" · ".join(p for p in parts if p))


def actions_section_html(rows: Sequence[Mapping[str, Any] | pd.Series]) -> str:
    """The actions targeting a building, for its fact sheet (escaped; '' without any).

    One line per action: status (with « en retard »), decision (cut to
    :data:`MAX_SHEET_DECISION` characters), lead partner and due date.
    """
    if not rows:
        return ""
    items = []
    for row in rows:
        decision = (
            _cut(str(row["decision"]), MAX_SHEET_DECISION) if present(row.get("decision")) else ""
        )
        meta = [esc(row["lead_partner"])] if present(row.get("lead_partner")) else []
        due = date_fr(row.get("due_date"))
        if due:
            meta.append(f"échéance {due}")
        items.append(
            f"<li><b>{esc(row.get('action_id'))}</b> · {status_html(row)}"
            + (f"<br>{esc(decision)}" if decision else "")
            + (f" <span class='meta'>({', '.join(meta)})</span>" if meta else "")
            + "</li>"
        )
    return (
        f"<div class='vigie-fiche-actions'><b>Actions du registre ({fr_number(len(rows))})</b>"
        f"<ul>{''.join(items)}</ul></div>"
    )


# ----------------------------------------------------------------------------- targets
def targeted_buildings(actions: pd.DataFrame, profile: gpd.GeoDataFrame) -> list[list[str]]:
    """The buildings each action targets, in the order of ``actions``.

    A building is targeted when the action names it (``building_ids``) or names its zone
    (``zone_id``: the zone's members, as the building profile links them, not the other
    buildings under the zone's outline); an action naming neither targets a drawn area,
    its geometry, and the buildings whose representative point lies in it. Ids that are
    not in ``profile`` are kept (a building gone from OpenStreetMap is still the
    register's target).
    """
    ids = profile["building_id"].astype(str).to_numpy()
    zone_of = (
        profile["zone_id"].astype("string").fillna("").to_numpy()
        if "zone_id" in profile
        else np.full(len(profile), "", dtype=object)
    )
    points = profile.geometry.to_crs(WGS84).representative_point().to_numpy()
    has_geometry = isinstance(actions, gpd.GeoDataFrame) and actions.geometry.name in actions
    geoms = actions.geometry.to_crs(WGS84).to_numpy() if has_geometry else [None] * len(actions)
    out = []
    for (_, row), geom in zip(actions.iterrows(), geoms, strict=True):
        found = dict.fromkeys(split_ids(row.get("building_ids")))
        zone = row.get("zone_id")
        if present(zone):
            found.update(dict.fromkeys(ids[zone_of == str(zone)]))
        if not found and not present(zone) and geom is not None and not geom.is_empty:
            inside = shapely.contains(geom, points)
            found.update(dict.fromkeys(ids[np.asarray(inside, dtype=bool)]))
        out.append(list(found))
    return out


def actions_by_building(
    actions: pd.DataFrame | None, profile: gpd.GeoDataFrame
) -> dict[str, list[dict[str, Any]]]:
    """The live actions of each building (:func:`targeted_buildings`), as records of the
    table (unescaped), in table order."""
    rows = live(actions)
    if rows.empty:
        return {}
    out: dict[str, list[dict[str, Any]]] = {}
    targets = targeted_buildings(rows, profile)
    for (_, row), ids in zip(rows.iterrows(), targets, strict=True):
        record = {str(k): v for k, v in row.items() if k != "geometry"}
        for bid in ids:
            out.setdefault(bid, []).append(record)
    return out


# ----------------------------------------------------------------------------- map layer
def _month_index(value: object, month0: pd.Period | None) -> int | None:
    stamp = as_date(value)
    if stamp is None or month0 is None:
        return None
    return int((stamp.to_period("M") - month0).n)


def actions_block(
    actions: gpd.GeoDataFrame | None, *, months: pd.PeriodIndex
) -> dict[str, Any] | None:
    """The « Actions » layer of the map: each live action's target outlined in its
    status colour, late ones dashed with an « en retard » badge; ``None`` without any.

    Parameters
    ----------
    actions
        The published actions table (EPSG:4326 geometry of the targets), or ``None``.
    months
        The months of the map's period selector: each feature carries the index of its
        committee month (``cm``) and status month (``sm``) among them, so the page shows
        the actions whose committee or status date falls in the chosen period.

    Returns
    -------
    dict
        ``name``, ``geojson`` (features with ``k`` their row, ``li`` their status's row
        in ``legend``, ``c`` colour, ``late``,
        ``cm``, ``sm``, ``at`` [lat, lon] of the badge, ``popup``, ``tip``), ``legend``
        (status, colour, count), ``late``, ``lateNote``, ``periodNote`` and ``notes``.
    """
    rows = live(actions)
    if rows.empty:
        return None
    rows = gpd.GeoDataFrame(rows).to_crs(WGS84).reset_index(drop=True)
    column = rows["status"] if "status" in rows else pd.Series([None] * len(rows))
    statuses = [str(v) if present(v) else "statut inconnu" for v in column]
    order = status_order(statuses)
    legend = [{"s": esc(s), "colour": status_colour(s), "n": statuses.count(s)} for s in order]
    month0 = months[0] if len(months) else None
    geoms = round_geometries(rows.geometry, 6)
    props = []
    for k, (_, row) in enumerate(rows.iterrows()):
        geom = geoms[k]
        at = None
        if geom is not None and not geom.is_empty:
            point = geom.representative_point()
            at = [round(point.y, 6), round(point.x, 6)]
        props.append(
            {
                "k": k,
                "li": order.index(statuses[k]),
                "c": status_colour(row.get("status")),
                "late": int(is_true(row.get("is_overdue"))),
                "cm": _month_index(row.get("committee_date"), month0),
                "sm": _month_index(row.get("status_date"), month0),
                "at": at,
                "popup": action_popup(row),
                "tip": action_tooltip(row),
            }
        )
    drawn = [g is not None and not g.is_empty for g in geoms]
    notes = []
    if not all(drawn):
        n = len(drawn) - sum(drawn)
        notes.append(
            esc(f"{plural(n, 'action')} sans cible dessinable (bâtiment disparu ou cible vide) : "
                "voir le dossier du comité.")
        )  # fmt: skip
    n_removed = 0 if actions is None else len(actions) - len(live(actions))
    if n_removed:
        notes.append(
            esc(f"{plural(n_removed, 'action retirée', 'actions retirées')} du registre : "
                "non dessinée(s).")
        )  # fmt: skip
    return {
        "name": f"Actions du registre ({fr_number(len(rows))})",
        "geojson": features(geoms, props),
        "legend": legend,
        "late": LATE_FR,
        "lateNote": esc("échéance dépassée, action non réalisée (contour tireté, étiquette)"),
        "periodNote": esc(
            "Période choisie : actions dont la date de comité ou de statut tombe dans la période."
        ),
        "notes": notes,
    }
