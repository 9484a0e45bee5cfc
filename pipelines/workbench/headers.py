"""The vocabulary of export headers: what each role is called in the exports met in the
field (landlords' ticketing tools, municipal apps such as DansMaRue, KoboToolbox and ODK
forms, Open311, English exports), as scored regular expressions on the header's words
folded as ingestion folds them (no accents, lower case, camelCase split)."""

from __future__ import annotations

import re

from pipelines.ingest import header_words
from pipelines.taxonomy import normalise_label

#: What each role is, for a reader (prompts, TOML comments).
ROLE_LABELS: dict[str, str] = {
    "id": "identifiant du signalement",
    "date": "date du signalement",
    "category": "catégorie",
    "subcategory": "sous-catégorie",
    "description": "description (texte libre)",
    "address": "adresse complète",
    "number": "numéro dans la voie",
    "street": "nom de la voie",
    "postcode": "code postal",
    "city": "commune",
    "building_ref": "code du bâtiment (bailleur)",
    "lat": "latitude (degrés)",
    "lon": "longitude (degrés)",
    "x": "coordonnée X (projetée)",
    "y": "coordonnée Y (projetée)",
    "geo_point": "point (latitude et longitude dans une seule colonne)",
    "status": "statut",
    "closed_at": "date de clôture",
    "channel": "canal (téléphone, application…)",
    "updated_at": "date de mise à jour",
}

#: Header patterns of each role (regular expressions on the folded header), with their
#: score. Written for the exports met in the field: landlords' ticketing tools,
#: municipal apps (DansMaRue), KoboToolbox and ODK forms, Open311, English exports.
ROLE_HINTS: dict[str, tuple[tuple[str, int], ...]] = {
    "id": (
        (r"^(id|identifiant|ident|uuid|key|guid)$", 9),
        (r"^(n|no|num|numero|ref|reference) (de )?(la |du )?(demande|signalement|dossier|"
         r"intervention|ticket|reclamation|requete|fiche|bon)$", 9),
        (r"\b(request|case|ticket|issue|report) (id|number|no|ref)\b", 9),
        (r"^(id|identifiant|ident)\b", 7),
        (r"\b(id|identifiant|uuid)$", 6),
        (r"\b(ticket|reference|ref)\b", 5),
        (r"^(numero|num|n|no)$", 3),
    ),
    "date": (
        (r"\b(date|dt|heure) (de |d )?(la |du )?(creation|signalement|declaration|demande|"
         r"saisie|ouverture|reception|depot|emission|constat|observation|appel)\b", 10),
        (r"\b(cree|creee|signale|recu|recue|saisi|saisie|ouvert|declare|depose|emis|constate|"
         r"observe) le\b", 10),
        (r"^(created|opened|reported|submitted|requested|received|logged)"
         r"( (at|on|date|datetime|time))?$", 9),
        (r"\b(creation|created|submission|requested) (date|datetime|time)\b", 9),
        (r"^(date|dt|jour|datetime)$", 8),
        (r"^date ?decl", 8),
        (r"\b(horodatage|timestamp|datetime)\b", 6),
        (r"\bdate\b", 4),
        (r"^date", 3),
    ),
    "closed_at": (
        (r"\b(date|dt) (de |d )?(la |du )?(cloture|fermeture|resolution|fin|solde|realisation|"
         r"traitement|intervention|reparation)\b", 11),
        (r"\b(clos|close|cloture|cloturee|ferme|fermee|resolu|resolue|solde|termine|traite|"
         r"repare) le\b", 11),
        (r"^(closed|resolved|completed|closing|close|fixed)( (at|on|date|datetime|time))?$", 10),
        (r"\b(closed|resolved|completed|closing|close) (date|datetime|time)\b", 10),
        (r"\b(cloture|fermeture|resolution)\b", 7),
    ),
    "updated_at": (
        (r"\b(mise a jour|mis a jour|maj|derniere modification|modifie le|modification)\b", 9),
        (r"\b(updated|last modified|modified|last update)( (at|on|date|datetime))?\b", 9),
    ),
    "subcategory": (
        (r"\b(sous|sub) ?(categorie|category|categ|type|theme|motif|famille|rubrique|nature)\b",
         12),
        (r"^sous", 6),
    ),
    "category": (
        (r"^(categorie|category|categ|cat)$", 11),
        (r"^(categorie|category)\b", 9),
        (r"\b(type|theme|motif|nature|probleme|problem|issue|objet|rubrique|famille|domaine|"
         r"service code|service name|dysfonctionnement|anomalie)\b", 6),
        (r"\b(categorie|category)\b", 6),
    ),
    "description": (
        (r"^(description|descriptif|commentaire|commentaires|comment|comments|observation|"
         r"observations|details?|precisions?|remarques?|message|texte|text|libelle|notes?|"
         r"resume|summary|constat)$", 9),
        (r"\b(description|descriptif|commentaire|comment|observation|details?|precision|"
         r"remarque|message|libelle|constat)", 6),
    ),
    "address": (
        (r"^(adresse|address|addr|adr|adresse complete|full address|street address)$", 10),
        (r"\b(adresse|address)\b", 8),
        (r"\b(lieu|localisation|location|emplacement|situation)\b", 5),
    ),
    "number": (
        (r"^(numero|num|n|no)( de)? (voie|rue)$|\b(house|street) (number|no)\b", 8),
    ),
    "street": (
        (r"^(rue|voie|nom de (la )?(voie|rue)|libelle (de la )?voie|street|street name)$", 8),
    ),
    "postcode": ((r"\b(code postal|cp|postcode|post code|zip|zipcode|zip code)\b", 8),),
    "city": ((r"^(ville|commune|city|localite|town|municipality)$", 8),),
    "building_ref": (
        (r"^(batiment|bat|building|immeuble|bloc|block|entree|cage|escalier|code batiment|"
         r"ref batiment|n batiment)$", 9),
        (r"\b(batiment|building|immeuble)\b", 7),
        (r"^(residence|groupe|ensemble|programme)$", 5),
    ),
    "lat": (
        (r"^(lat|latitude|lat wgs84|latitude wgs84|gps lat|latitude gps|y lat|lat y)$", 10),
        (r"\blat(itude)?\b", 8),
        (r"latitude$", 8),
    ),
    "lon": (
        (r"^(lon|lng|long|longitude|lon wgs84|longitude wgs84|gps lon|longitude gps|x lon|"
         r"lon x)$", 10),
        (r"\b(lon|lng|longitude)\b", 8),
        (r"longitude$", 8),
    ),
    "x": (
        (r"^(x|coord x|coordonnee x|coordonnees x|x l93|x lambert|lambert x|xl93|coordx|"
         r"easting|x 2154|x lambert 93|x rgf93)$", 9),
        (r"^x\b|\bx$", 6),
    ),
    "y": (
        (r"^(y|coord y|coordonnee y|coordonnees y|y l93|y lambert|lambert y|yl93|coordy|"
         r"northing|y 2154|y lambert 93|y rgf93)$", 9),
        (r"^y\b|\by$", 6),
    ),
    "geo_point": (
        (r"\b(geo point|geopoint|geolocalisation|geolocation|geoloc)\b", 9),
        (r"^(coordonnees|coordinates|coords|gps|position|point|lat lon|lat lng|latlon|"
         r"coordonnees gps|position gps|point gps)$", 8),
        (r"\b(coordonnees|coordinates|gps|position)\b", 5),
        (r"\bgeo shape\b", 3),
    ),
    "status": (
        (r"^(statut|status|etat|state|avancement|etat de la demande|statut de la demande)$", 10),
        (r"\b(statut|status|etat)\b", 7),
    ),
    "channel": (
        (r"^(canal|channel|origine|origin|source|media|moyen|mode|via|prefixe|"
         r"canal de (saisie|reception|contact|signalement))$", 8),
        (r"\b(canal|channel)\b", 7),
    ),
}  # fmt: skip

_COMPILED = {
    role: tuple((re.compile(p), score) for p, score in hints) for role, hints in ROLE_HINTS.items()
}


def fold_header(name: str) -> str:
    """A header as the hints read it: its words folded, camelCase split, one space."""
    return " ".join(header_words(name))


def header_score(role: str, name: str) -> int:
    """How strongly a header says it holds ``role`` (0: not at all)."""
    folded = fold_header(name)
    if not folded:
        return 0
    return max((score for rx, score in _COMPILED[role] if rx.search(folded)), default=0)


def find_column(columns: list[str], wanted: str) -> str | None:
    """The column named ``wanted``: the same name, or the same up to case, accents and
    punctuation (as ingestion finds a configured column)."""
    if wanted in columns:
        return wanted
    folded = normalise_label(wanted)
    return next((c for c in columns if folded and normalise_label(c) == folded), None)
