"""The reports placed on no building, listed for the analyst (``unplaced.csv``).

Such a report is accepted (it counts in the site's totals) but shows on no map and in no
building's figures: an address the site's address sources do not know (« 16 r. L.
Aubrac », initials the OSM and BAN names do not carry), a street found without its
number, a landlord's building code absent from the OSM extract, coordinates away from
every building. Its method is in ``reports.parquet`` and the counts in
``geocode_summary.json``; this list gives each one with its reason in French, in a file
the analyst opens in a spreadsheet to correct the export (``rejected.csv`` lists the
rows ingestion refused, ``outside_study_area.csv`` those outside the site).

A portfolio's site without any OSM building stops after ingestion and lists every row
it kept in a file of the same name and columns, with its own reason
(:func:`pipelines.publish.publish_without_buildings`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.reports import UNPLACED_COLUMNS, has_text

#: Why a report is on no building, by its geocoding method.
REASONS_FR = {
    "address_street": "rue reconnue sans son numéro : placé sur aucun bâtiment",
    "building_not_in_extract": "code bâtiment du référentiel absent de l'extrait OSM",
}
NO_ADDRESS_MATCH_FR = "adresse introuvable parmi les adresses du site (OSM, BAN, référentiel)"
AWAY_FR = "coordonnées loin de tout bâtiment de l'extrait"
BOTH_FR = f"{NO_ADDRESS_MATCH_FR}, et {AWAY_FR}"
PLACEHOLDER_FR = "coordonnées d'un point par défaut, mises de côté, et aucune adresse"
NOTHING_FR = "ni coordonnées ni adresse utilisables"
BAN_FAILED_FR = (
    " ; géocodeur BAN en ligne en échec : adresse non demandée (relancer le géocodage "
    "quand le service répond)"
)


def unplaced_reports(reports: pd.DataFrame) -> pd.DataFrame:
    """The reports of ``reports.parquet`` placed on no building, each with its ``reason``.

    Parameters
    ----------
    reports
        The geocoding stage's output (``building_id`` null where placed on none,
        ``geocode_method``, ``address``, ``building_ref``, ``lon``, ``lat``).

    Returns
    -------
    pandas.DataFrame
        :data:`pipelines.reports.UNPLACED_COLUMNS`, ``address``, ``building_ref`` and
        ``geocode_method`` where ``reports`` has them, and ``reason``; in the order of
        ``reports``.
    """
    out = reports[reports["building_id"].isna()] if "building_id" in reports else reports
    columns = [
        c for c in (*UNPLACED_COLUMNS, "address", "building_ref", "geocode_method") if c in out
    ]
    kept = out.reset_index(drop=True)
    table = pd.DataFrame(kept[columns])
    addressed = has_text(kept, "address", "building_ref").to_numpy()
    has_point = (
        (kept["lon"].notna() & kept["lat"].notna()).to_numpy()
        if {"lon", "lat"} <= set(kept.columns)
        else np.zeros(len(kept), dtype=bool)
    )
    placeholder = (
        kept["is_placeholder_point"].fillna(False).astype(bool).to_numpy()
        if "is_placeholder_point" in kept
        else np.zeros(len(kept), dtype=bool)
    )
    located = has_point & ~placeholder
    by_method = table.get("geocode_method", pd.Series(None, index=table.index, dtype=object))
    named = by_method.map(REASONS_FR)
    reason = np.select(
        [named.notna().to_numpy(), addressed & located, addressed, located, placeholder],
        [named.to_numpy(), BOTH_FR, NO_ADDRESS_MATCH_FR, AWAY_FR, PLACEHOLDER_FR],
        default=NOTHING_FR,
    )
    if "ban_status" in kept:
        # The online BAN could not be asked: the reason says so, the row may be placed
        # once the service answers (geocode_summary.json names the error).
        failed = kept["ban_status"].astype("string").eq("failed").fillna(False).to_numpy()
        reason = np.where(failed, np.char.add(reason.astype(str), BAN_FAILED_FR), reason)
    table["reason"] = reason
    return table
