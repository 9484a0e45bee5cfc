"""The columns of the site's GeoPackage layers: made GeoPackage-ready, and their French
aliases (:mod:`pipelines.maps.gpkg`).

Pure functions. A published column keeps its English name (what scripts use); its French
alias is what QGIS shows. Per-category columns take the taxonomy's label; a flag column
``<column>_flag`` (« s »: hidden, :mod:`pipelines.published`) takes its column's alias.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from pipelines.io import list_cell
from pipelines.published import FLAG_SUFFIX, Publication
from pipelines.taxonomy import label_of


def _cell_text(value: Any) -> Any:
    """A list cell as ``a; b``; other values as they are."""
    if isinstance(value, list | tuple | np.ndarray):
        return "; ".join(list_cell(value)) or None
    return value


def gpkg_ready(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``frame`` as a GeoPackage can hold it: list cells joined with ``; ``, whole-number
    float counts and bins as nullable integers (NULL where hidden or missing), other
    object columns as text. Same rows, same order, EPSG:4326."""
    out = frame.copy()
    geometry = out.geometry.name
    for column in out.columns:
        if column == geometry:
            continue
        values = out[column]
        if values.dtype == object:
            joined = values.map(_cell_text)
            out[column] = joined.astype("string") if joined.map(_is_text).all() else joined
        elif (
            pd.api.types.is_float_dtype(values)
            and (column.startswith(("n_", "gi_bin")) or column == "max_gi_bin")
            and _whole(values)
        ):
            out[column] = values.astype("Int64")
    return gpd.GeoDataFrame(out, geometry=geometry, crs=frame.crs or "EPSG:4326").to_crs(4326)


def _is_text(value: Any) -> bool:
    return value is None or isinstance(value, str) or (isinstance(value, float) and np.isnan(value))


def _whole(values: pd.Series) -> bool:
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    v = v[np.isfinite(v)]
    return bool(np.all(v == np.round(v)))


# ----------------------------------------------------------------------------- aliases
#: French aliases of the published columns, by column (any layer).
ALIASES: dict[str, str] = {
    # buildings: OSM and dwellings
    "building_id": "Bâtiment (identifiant OSM)",
    "building_type": "Type de bâtiment (OSM)",
    "levels": "Étages (OSM)",
    "flats": "Logements (OSM)",
    "name": "Nom (OSM)",
    "addr_housenumber": "Numéro (OSM)",
    "addr_street": "Voie (OSM)",
    "addr_postcode": "Code postal (OSM)",
    "addr_city": "Commune (OSM)",
    "operator": "Gestionnaire (OSM)",
    "dwellings": "Logements",
    "dwellings_source": "Source du nombre de logements",
    "area_m2": "Surface (m²)",
    "building_label": "Nom du bâtiment",
    # counts and rates
    "n_reports": "Signalements",
    "n_households": "Ménages distincts",
    "n_observations": "Observations de terrain",
    "reports_per_100_dwellings": "Signalements pour 100 logements",
    "open_backlog": "Signalements en attente",
    "median_delay_h": "Délai médian de clôture (heures)",
    "n_reports_before": "Signalements avant",
    "n_reports_after": "Signalements après",
    "n_reports_change": "Évolution (après − avant)",
    "level": "Niveau de publication",
    # the monthly table (the open-data pack's CSV, pipelines.maps.exports)
    "month": "Période (mois, trimestre ou année)",
    "reason": "Raison du masquage",
    # hotspots
    "gi_bin": "Point chaud ou froid (Gi*, classe)",
    "gi_label": "Point chaud ou froid (Gi*)",
    "gi_note": "Remarque sur le calcul Gi*",
    "gi_z": "Gi* : score z",
    "gi_p": "Gi* : p-valeur",
    "gi_p_sim": "Gi* : p-valeur par permutations",
    "gi_bin_sim": "Gi* par permutations (classe)",
    "gi_z_rate": "Gi* du taux : score z",
    "gi_p_rate": "Gi* du taux : p-valeur",
    "gi_bin_rate": "Gi* du taux pour 100 logements (classe)",
    "n_neighbours": "Voisins dans le rayon (Gi*)",
    "is_island": "Sans voisin dans le rayon (Gi*)",
    "is_chronic": "Problème chronique",
    "chronic_categories": "Catégories chroniques",
    "emerging_category": "Tendance du point chaud (code)",
    "emerging_label_fr": "Tendance du point chaud",
    # zones
    "zone_id": "Zone de points chauds",
    "n_buildings": "Bâtiments points chauds",
    "building_ids": "Bâtiments",
    "status": "Statut",
    "parent_zone_ids": "Issue des zones",
    "ancestor_zone_ids": "Zones d'origine",
    "max_gi_bin": "Classe Gi* la plus forte",
    "has_enough_reports": "Assez de signalements pour conclure",
    # density
    "band": "Bande de densité (rang)",
    "density_min_per_ha": "Densité minimale (signalements par hectare)",
    "density_max_per_ha": "Densité maximale (signalements par hectare)",
    "label": "Bande de densité",
    # points
    "source_kind": "Nature (signalement ou observation)",
    "source": "Source",
    "category": "Catégorie (code)",
    "category_label": "Catégorie",
    "reported_at": "Date du signalement",
    "description": "Description",
    "person_related": "Catégorie liée aux personnes",
    # notes
    "note_id": "Note (identifiant)",
    "site": "Site",
    "author": "Auteur",
    "text": "Texte",
    "tag": "Étiquette",
    "created_at": "Créée le (UTC)",
    "updated_at": "Modifiée le (UTC)",
    "zone_ids": "Zones",
    "zone_note": "Note de zone",
    "is_orphaned": "Orpheline",
    "orphan_reason": "Raison (orpheline)",
    "orphan_flag": "Note orpheline",
    "source_file": "Fichier d'origine",
    "source_ref": "Référence dans le fichier",
    "source_format": "Format du fichier",
    # actions (published/actions.parquet)
    "action_id": "Action (identifiant)",
    "committee_date": "Date du comité",
    "committee_kind": "Comité",
    "target_label": "Cible",
    "problem": "Problème",
    "decision": "Décision",
    "action_type": "Type d'action",
    "responsibility": "Responsabilité",
    "lead_partner": "Partenaire pilote",
    "due_date": "Échéance",
    "status_date": "Date du statut",
    "completed_date": "Date de réalisation",
    "is_overdue": "En retard",
    "is_removed": "Retirée du registre",
    "updated_since_last_committee": "Mise à jour depuis le dernier comité",
    "funding": "Financement",
    "verdict": "Effet (verdict)",
    "effect_fr": "Effet de l'action",
    "effect": "Effet",  # effect_flag: « Effet : masqué (s) »
    "origin": "Origine (registre ou note « action »)",
    "is_reopened": "Rouverte",
    "status_held": "Statut en arrière non appliqué",
    "categories": "Catégories visées",
}
#: A column meaning something else in one layer.
LAYER_ALIASES: dict[str, dict[str, str]] = {
    "actions": {"level": "Niveau de l'action", "status": "Statut de l'action"},
    "notes": {"status": "Statut de la note"},
    "notes_surfaces": {"status": "Statut de la note"},
    "notes_lignes": {"status": "Statut de la note"},
    "zones": {"status": "Depuis la dernière mise à jour", "area_m2": "Surface de la zone (m²)"},
}


def column_alias(column: str, layer: str = "") -> str | None:
    """The French alias of a published column (``None``: none known).

    Per-category columns take the taxonomy's label: ``n_ascenseur`` → « Signalements :
    Ascenseur », ``gi_bin_ascenseur`` → « Gi* Ascenseur (classe) »; a flag column
    ``<column>_flag`` → « <alias> : masqué (s) ».
    """
    if column.endswith(FLAG_SUFFIX):
        base = column_alias(column[: -len(FLAG_SUFFIX)], layer)
        return f"{base} : masqué (s)" if base else None
    own = LAYER_ALIASES.get(layer, {}).get(column) or ALIASES.get(column)
    if own:
        return own
    for prefix, template in (
        ("n_households_", "Ménages distincts : {}"),
        ("n_", "Signalements : {}"),
        ("gi_bin_", "Gi* {} (classe)"),
        ("gi_z_", "Gi* {} : score z"),
        ("gi_p_", "Gi* {} : p-valeur"),
    ):
        if column.startswith(prefix) and (label := label_of(column[len(prefix) :], None)):
            return template.format(label)
    return None


def field_aliases(layer: str, columns: Sequence[str]) -> dict[str, str]:
    """The French alias of each column of ``layer`` that has one, in column order."""
    out = {}
    for column in columns:
        alias = column_alias(column, layer)
        if alias:
            out[column] = alias
    return out


def field_description(column: str, publication: Publication) -> str | None:
    """A longer French comment for a column (``gpkg_data_columns.description``)."""
    if column.endswith(FLAG_SUFFIX):
        return (
            f"« s » (secret statistique) : « {column[: -len(FLAG_SUFFIX)]} » est masqué, "
            f"vide, car venant de moins de {publication.threshold} ménages ; ni un zéro, "
            "ni une valeur inconnue."
        )
    if column == "level":
        return "Niveau auquel les effectifs sont donnés (bâtiment, zone, site)."
    return None
