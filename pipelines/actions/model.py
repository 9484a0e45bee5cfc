"""The vocabulary of the action register: its columns, French headers, statuses, levels,
kinds, and how a French spelling is brought to its canonical value.

The register's columns (contract of issue 17, §1): French headers in the files,
internal names in the code; the reader compares headers without case, accents,
spaces or punctuation (« Date comité » is ``date_comite``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence

from pipelines.fr import fold
from pipelines.published import ACTION_DATE_COLUMNS, ACTION_STATUSES, ACTION_TEXT_COLUMNS

#: French header → internal column, in the template's order.
HEADERS: dict[str, str] = {
    "identifiant": "action_id",
    "date_comite": "committee_date",
    "type_comite": "committee_kind",
    "batiments": "target_buildings",
    "zone": "target_zone",
    "zone_dessinee": "target_geometry",
    "probleme": "problem",
    "categories": "categories",
    "decision": "decision",
    "niveau": "level",
    "type_action": "action_type",
    "responsabilite": "responsibility",
    "partenaire_pilote": "lead_partner",
    "echeance": "due_date",
    "statut": "status",
    "date_statut": "status_date",
    "date_realisation": "completed_date",
    "financement": "funding",
}
#: Internal column → French header (messages name the column as the file does).
HEADER_OF: dict[str, str] = {v: k for k, v in HEADERS.items()}
#: Other spellings of the headers (folded, spaces and punctuation as ``_``).
HEADER_ALIASES: dict[str, str] = {
    "id": "action_id",
    "id_action": "action_id",
    "action_id": "action_id",
    "comite": "committee_date",
    "date_du_comite": "committee_date",
    "date_de_comite": "committee_date",
    "instance": "committee_kind",
    "type_de_comite": "committee_kind",
    "batiment": "target_buildings",
    "id_batiment": "target_buildings",
    "building_ids": "target_buildings",
    "id_zone": "target_zone",
    "zone_id": "target_zone",
    "zone_dessine": "target_geometry",
    "perimetre": "target_geometry",
    "wkt": "target_geometry",
    "geometrie": "target_geometry",
    "categorie": "categories",
    "type": "action_type",
    "type_d_action": "action_type",
    "responsable": "responsibility",
    "partenaire": "lead_partner",
    "pilote": "lead_partner",
    "date_echeance": "due_date",
    "etat": "status",
    "date_du_statut": "status_date",
    "date_de_realisation": "completed_date",
    "realisee_le": "completed_date",
}
#: Free-text columns, scrubbed of personal data before anything is written.
TEXT_COLUMNS: tuple[str, ...] = ACTION_TEXT_COLUMNS
#: Date columns (read with the ingestion's date reader).
DATE_COLUMNS: tuple[str, ...] = ACTION_DATE_COLUMNS
#: The columns a target can be given in (at least one is required).
TARGET_COLUMNS: tuple[str, ...] = ("target_buildings", "target_zone", "target_geometry")

#: The statuses of an action (:mod:`pipelines.published`, where the vocabulary of the
#: actions table is defined once): the main chain, then the side statuses.
STATUSES: tuple[str, ...] = ACTION_STATUSES
#: The status of a draft action made from a note of the map.
DRAFT_STATUS = "proposée"
#: How far along each status is. A change to a lower rank is a step back
#: (:mod:`pipelines.actions.history`): « en attente partenaire » and « reportée » are
#: pauses of an action under way (the rank of « en cours »), « refusée » is a decision
#: (the rank of « décidée »), « abandonnée » ends an action whatever its rank.
STATUS_RANK: dict[str, int] = {
    "proposée": 0,
    "décidée": 1,
    "refusée": 1,
    "en cours": 2,
    "en attente partenaire": 2,
    "reportée": 2,
    "réalisée": 3,
    "vérifiée": 4,
    "abandonnée": 5,
}
LEVELS: tuple[str, ...] = ("opérationnelle", "organisationnelle", "structurelle")
COMMITTEE_KINDS: tuple[str, ...] = ("comité technique", "comité de pilotage")
ACTION_TYPES: tuple[str, ...] = (
    "prestation",
    "travaux",
    "nettoyage",
    "médiation",
    "tranquillité",
    "interpellation d'un partenaire",
    "autre",
)
RESPONSIBILITIES: tuple[str, ...] = ("bailleur", "autre acteur", "partagée")

#: Other spellings (compared by :func:`vocabulary_key`) of each vocabulary's values.
SYNONYMS: dict[str, dict[str, str]] = {
    "status": {
        "propose": "proposée",
        "proposition": "proposée",
        "decide": "décidée",
        "valide": "décidée",
        "encours": "en cours",
        "demarre": "en cours",
        "realise": "réalisée",
        "termine": "réalisée",
        "verifie": "vérifiée",
        "controle": "vérifiée",
        "attente partenaire": "en attente partenaire",
        "en attente": "en attente partenaire",
        "en attente du partenaire": "en attente partenaire",
        "en attente d un partenaire": "en attente partenaire",
        "reporte": "reportée",
        "differe": "reportée",
        "refuse": "refusée",
        "rejete": "refusée",
        "abandonne": "abandonnée",
        "annule": "abandonnée",
    },
    "level": {
        "operationnel": "opérationnelle",
        "organisationnel": "organisationnelle",
        "structurel": "structurelle",
    },
    "committee_kind": {
        "ct": "comité technique",
        "technique": "comité technique",
        "comite technique": "comité technique",
        "copil": "comité de pilotage",
        "pilotage": "comité de pilotage",
        "comite pilotage": "comité de pilotage",
    },
    "action_type": {
        "travail": "travaux",
        "interpellation": "interpellation d'un partenaire",
        "interpellation partenaire": "interpellation d'un partenaire",
        "interpellation du partenaire": "interpellation d'un partenaire",
    },
    "responsibility": {
        "autre": "autre acteur",
        "autres acteurs": "autre acteur",
        "partage": "partagée",
        "les deux": "partagée",
        "bailleur et autre acteur": "partagée",
    },
}
#: The vocabulary of each column, as the messages list it.
VOCABULARIES: dict[str, tuple[str, ...]] = {
    "status": STATUSES,
    "level": LEVELS,
    "committee_kind": COMMITTEE_KINDS,
    "action_type": ACTION_TYPES,
    "responsibility": RESPONSIBILITIES,
}

# An object JOSM saved before its upload has a negative id (way/-12).
_BUILDING_ID = re.compile(r"^(way|relation|node)/-?\d+$")
_ZONE_ID = re.compile(r"^Z\d+$")


def header_key(name: str) -> str:
    """A header as compared: folded, every run of spaces or punctuation one ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", fold(name)).strip("_")


def column_of(header: str) -> str | None:
    """The internal column of a file's header (``None``: not a column of the register)."""
    key = header_key(header)
    for french, internal in HEADERS.items():
        if key == french:
            return internal
    return HEADER_ALIASES.get(key)


@functools.lru_cache(maxsize=4096)
def vocabulary_key(value: str) -> str:
    """A vocabulary value as compared: folded, punctuation as spaces, and each word's
    feminine or plural ending dropped (« Réalisées », « réalisé » and « realisee » are
    ``realise``)."""
    words = re.sub(r"[^a-z0-9]+", " ", fold(value)).split()
    out = []
    for w in words:
        if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        if len(w) > 3 and w.endswith("ee"):
            w = w[:-1]
        out.append(w)
    return " ".join(out)


def match_value(
    value: str, allowed: Sequence[str], synonyms: Mapping[str, str] | None = None
) -> str | None:
    """The canonical spelling of ``value`` in ``allowed`` (or through ``synonyms``),
    compared by :func:`vocabulary_key`; ``None`` when it is none of them."""
    key = vocabulary_key(value)
    for option in allowed:
        if vocabulary_key(option) == key:
            return option
    for other, canonical in (synonyms or {}).items():
        if vocabulary_key(other) == key:
            return canonical
    return None


def is_building_id(value: str) -> bool:
    """Whether ``value`` has the form of an OSM building id (``way/123``)."""
    return bool(_BUILDING_ID.match(value))


def is_zone_id(value: str) -> bool:
    """Whether ``value`` has the form of a hotspot zone id (``Z12``)."""
    return bool(_ZONE_ID.match(value))
