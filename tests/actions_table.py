"""A published actions table written strictly as the contract of issue 17 (§3) says, for the
renderers' tests (a helper module, not a test file).

Its texts carry hostile values (template syntax, a script end tag, quotes): the map and
the committee pack must show them as text. Built on a site's published building profile
and zones, so every target is a real building or zone of that site.

Columns (contract §3): ``action_id``, ``committee_date``, ``committee_kind``,
``target_label``, ``building_ids`` (``;``-joined), ``zone_id``, ``problem``,
``decision``, ``level``, ``action_type``, ``responsibility``, ``lead_partner``,
``due_date``, ``status``, ``status_date``, ``is_overdue``, ``is_removed``,
``updated_since_last_committee``, ``funding``, ``verdict``, ``effect_fr``, geometry
(EPSG:4326). Dates are ISO strings or null.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

#: Hostile texts: a template expression, a script end tag, quotes of every kind.
SEVEN = "{{ 7*7 }}"
SCRIPT = "</script><script>alert(1)</script>"
QUOTES = 'l\'entrée "B" « hall »'
HOSTILE_DECISION = f"Remplacer la porte {SEVEN} {SCRIPT} {QUOTES}"
HOSTILE_PARTNER = f"syndic {SCRIPT}"
HOSTILE_PROBLEM = f"Porte du hall forcée {SEVEN}"
#: The committees of the table; the last one is ``last_committee_date``.
COMMITTEES = ("2025-03-12", "2025-06-18", "2025-10-14")
EFFECT = "baisse de 40 % [IC 95 % : 10 %–60 %] contre 5 % sur le reste du site"

COLUMNS = (
    "action_id", "committee_date", "committee_kind", "target_label", "building_ids",
    "zone_id", "problem", "decision", "level", "action_type", "responsibility",
    "lead_partner", "due_date", "status", "status_date", "is_overdue", "is_removed",
    "updated_since_last_committee", "funding", "verdict", "effect_fr",
)  # fmt: skip
#: The columns every row of :func:`contract_actions` gives, in this order.
FIELDS = (
    "action_id", "committee_date", "committee_kind", "target_label", "problem", "decision",
    "level", "action_type", "responsibility", "lead_partner", "due_date", "status",
    "status_date",
)  # fmt: skip


def contract_actions(
    profile: gpd.GeoDataFrame, zones: gpd.GeoDataFrame | None = None
) -> gpd.GeoDataFrame:
    """Six actions on ``profile``'s buildings (most reported first) and its first zone.

    - ``A-2025-001``: the most reported building, « en cours », late, hostile texts;
    - ``A-2025-002``: the first zone (or three buildings without zones), « décidée »,
      new (decided at the last committee);
    - ``A-2025-003``: three buildings, « réalisée », with an effect sentence;
    - ``A-2025-004``: a drawn area around a building, « vérifiée »;
    - ``A-2025-005``: removed from the register (« abandonnée »);
    - ``A-2025-006``: « refusée ».
    """
    counts = pd.to_numeric(profile["n_reports"], errors="coerce").fillna(-1)
    order = profile.assign(_n=counts).sort_values("_n", ascending=False, kind="stable")
    ids = order["building_id"].astype(str).tolist()
    geom = dict(zip(profile["building_id"].astype(str), profile.geometry, strict=True))
    if zones is not None and len(zones):
        zone = zones.iloc[0]
        zone_id, zone_geom, zone_label = (
            str(zone["zone_id"]),
            zone.geometry,
            f"zone {zone['zone_id']}",
        )
        zone_buildings = ""
    else:
        zone_id, zone_label = None, "3 bâtiments"
        zone_buildings = ";".join(ids[4:7])
        zone_geom = shapely.union_all([geom[b] for b in ids[4:7]])
    drawn = geom[ids[8]].buffer(0.0002)

    def row(*values: str, **more: Any) -> dict[str, Any]:
        base = dict.fromkeys(COLUMNS)
        base.update(is_overdue=False, is_removed=False, updated_since_last_committee=False)
        base.update(zip(FIELDS, values, strict=True))
        base.update(more)
        return base

    rows = [
        row("A-2025-001", COMMITTEES[0], "comité technique", "1 bâtiment", HOSTILE_PROBLEM,
            HOSTILE_DECISION, "opérationnelle", "travaux", "autre acteur", HOSTILE_PARTNER,
            "2025-05-31", "en cours", "2025-04-02",
            building_ids=ids[0], is_overdue=True, verdict="non mesurable",
            effect_fr="Action non réalisée : effet non mesurable."),
        row("A-2025-002", COMMITTEES[2], "comité de pilotage", zone_label,
            "Encombrants récurrents", "Tournée de ramassage hebdomadaire", "organisationnelle",
            "nettoyage", "partagée", "ville", "2026-03-31", "décidée", COMMITTEES[2],
            building_ids=zone_buildings or None, zone_id=zone_id,
            updated_since_last_committee=True, verdict="non mesurable",
            effect_fr="Action non réalisée : effet non mesurable."),
        row("A-2025-003", COMMITTEES[0], "comité technique", "3 bâtiments",
            "Ascenseurs en panne", "Contrat de maintenance renforcé", "structurelle",
            "prestation", "bailleur", "bailleur", "2025-06-30", "réalisée", "2025-06-20",
            building_ids=";".join(ids[1:4]), funding="budget GUSP 2025", verdict="baisse",
            effect_fr=EFFECT),
        row("A-2025-004", COMMITTEES[1], "comité technique", "zone dessinée",
            "Éclairage du parvis", "Remplacer les luminaires", "opérationnelle", "travaux",
            "bailleur", "prestataire", "2025-09-30", "vérifiée", "2025-11-05",
            updated_since_last_committee=True, verdict="trop peu de signalements",
            effect_fr="Trop peu de signalements pour conclure (4 avant, 2 après)."),
        row("A-2025-005", COMMITTEES[0], "comité technique", "1 bâtiment", "Tags",
            "Nettoyage des tags", "opérationnelle", "nettoyage", "bailleur", "bailleur",
            "2025-04-30", "abandonnée", "2025-05-02",
            building_ids=ids[9], is_removed=True),
        row("A-2025-006", COMMITTEES[1], "comité de pilotage", "1 bâtiment",
            "Stationnement gênant", "Demander un arrêté municipal", "structurelle",
            "interpellation d'un partenaire", "autre acteur", "ville", "2025-12-31", "refusée",
            "2025-07-10",
            building_ids=ids[10]),
    ]  # fmt: skip
    geoms = [geom[ids[0]], zone_geom, shapely.union_all([geom[b] for b in ids[1:4]]), drawn,
             geom[ids[9]], geom[ids[10]]]  # fmt: skip
    return gpd.GeoDataFrame(
        pd.DataFrame(rows, columns=list(COLUMNS)), geometry=geoms, crs="EPSG:4326"
    )


def site_actions_object(actions: gpd.GeoDataFrame) -> dict[str, Any]:
    """``site.json``'s ``actions`` object (contract §3) of the table."""
    kept = actions[~actions["is_removed"]]
    return {
        "n_actions": len(kept),
        "by_status": {str(k): int(v) for k, v in kept["status"].value_counts().items()},
        "n_overdue": int(kept["is_overdue"].sum()),
        "share_updated_since_last_committee": float(kept["updated_since_last_committee"].mean()),
        "last_committee_date": COMMITTEES[-1],
    }


def write_actions(published_dir: Path, actions: gpd.GeoDataFrame) -> None:
    """Write ``actions.parquet`` and the ``actions`` object of ``site.json`` in a
    published folder, as the actions stage's publication does."""
    actions.to_parquet(published_dir / "actions.parquet")
    site_path = published_dir / "site.json"
    site = json.loads(site_path.read_text(encoding="utf-8"))
    site["actions"] = site_actions_object(actions)
    site.setdefault("has", {})["actions"] = True
    site_path.write_text(json.dumps(site, ensure_ascii=False, indent=1), encoding="utf-8")
