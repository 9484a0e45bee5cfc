"""Which columns of a source hold people's data: the ones the configuration declares
(``personal_columns``) and the ones whose header looks personal (nom, téléphone, n° appt…).
Such columns never reach an output; ingestion names the detected ones in its summary."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from pipelines.config import SourceConfig
from pipelines.ingest.rawfile import RawFile
from pipelines.taxonomy import normalise_label


def group_leaf(column: str) -> str:
    """The last part of a KoboToolbox group path: « groupe_obs/probleme » → « probleme »
    (Kobo's « include groups in headers » export); the column itself without one."""
    return column.rsplit("/", 1)[-1]


def matches_any(column: str, wanted: Iterable[str]) -> bool:
    """Whether a file column is one of ``wanted``: the same name, or the same up to case,
    accents and punctuation (the rule by which roles find their columns), or a group
    path ending with one of them (:func:`group_leaf`)."""
    folded = normalise_label(column)
    leaf = normalise_label(group_leaf(column)) if "/" in column else ""
    return any(
        w == column
        or (folded and normalise_label(w) == folded)
        or (leaf and normalise_label(w) == leaf)
        for w in wanted
    )


def is_personal(column: str, personal: tuple[str, ...]) -> bool:
    """Whether a file column is one of the ``personal`` ones (matched as roles are), or
    a copy of one: a header written twice is read as « <nom>.1 »
    (:func:`pipelines.ingest.csvfile._clean_names`)."""
    base = re.sub(r"\.\d+$", "", column)
    return matches_any(column, personal) or (base != column and matches_any(base, personal))


# Header words of each kind of personal column (folded: lower case, no accents); the
# household key reads a column by its kind (pipelines.ingest.household.identity_kind).
FLAT_WORDS = frozenset(
    ["logement", "logt", "lgt", "appartement", "appart", "appt", "apt", "porte", "chambre"]
)
PHONE_WORDS = frozenset(
    [
        "tel",
        "tels",
        "telephone",
        "telephones",
        "tph",
        "phone",
        "phones",
        "phonenumber",
        "portable",
        "portables",
        "mobile",
        "gsm",
        "numtel",
        "whatsapp",
    ]
)
EMAIL_WORDS = frozenset(["mail", "mails", "email", "emails", "courriel", "courriels", "mel"])
CONTACT_WORDS = frozenset(["contact", "contacts", "coordonnees"])
NAME_WORDS = frozenset(
    [
        "nom",
        "noms",
        "prenom",
        "prenoms",
        "firstname",
        "lastname",
        "fullname",
        "surname",
        "givenname",
        "familyname",
        "locataire",
        "locataires",
        "demandeur",
        "demandeuse",
        "demandeurs",
        "declarant",
        "declarante",
        "signalant",
        "signalante",
        "requerant",
        "plaignant",
        "plaignante",
        "beneficiaire",
        "titulaire",
        "occupant",
        "occupante",
        "resident",
        "residente",
        "habitant",
        "habitante",
        "usager",
        "usagere",
    ]
)
# Words that only say "number" or "dwelling" in a dwelling reference.
# Words of a column header that say it holds people's data: who they are, how to reach
# them, where they live in the building.
_PERSONAL_WORDS = (
    FLAT_WORDS
    | PHONE_WORDS
    | EMAIL_WORDS
    | CONTACT_WORDS
    | NAME_WORDS
    | frozenset(
        [
            "civilite",
            "naissance",
            "fax",
            "proprietaire",
            "auteur",
            "auteure",
            "enqueteur",
            "enqueteuse",
            "submitter",
            "username",
        ]
    )
)

# Words that make the header about a thing or a place, not a person ("nom de la rue",
# "type de logement", "coordonnées GPS", "canal de contact", "nom de l'enquête").
_NEUTRAL_WORDS = frozenset(
    [
        "rue",
        "voie",
        "commune",
        "ville",
        "residence",
        "batiment",
        "bat",
        "immeuble",
        "site",
        "programme",
        "quartier",
        "categorie",
        "type",
        "typologie",
        "nb",
        "nombre",
        "surface",
        "service",
        "projet",
        "groupe",
        "lieu",
        "secteur",
        "agence",
        "bailleur",
        "organisme",
        "equipement",
        "etablissement",
        "arret",
        "station",
        "statut",
        "etat",
        "canal",
        "theme",
        "probleme",
        "societe",
        "entreprise",
        "prestataire",
        "intervenant",
        "departement",
        "region",
        "pays",
        "zone",
        "parcelle",
        "fichier",
        "photo",
        "image",
        "document",
        "piece",
        "formulaire",
        "form",
        "enquete",
        "champ",
        "gps",
        "geo",
        "geographiques",
        "geographique",
        "lambert",
        "wgs84",
        "latitude",
        "longitude",
        "lat",
        "lon",
        "x",
        "y",
        "date",
        "heure",
        "id",
        "identifiant",
        "code_postal",
    ]
)


def header_words(header: str) -> list[str]:
    """A header's words, folded: camelCase split, lower case, no accents ("NomDuDemandeur"
    → nom, du, demandeur; "e-mail" → e, mail; "N° appt" → n, appt)."""
    spaced = re.sub(r"(?<=[a-zà-ÿ])(?=[A-ZÀ-Þ])", " ", header)
    return normalise_label(spaced).split()


def looks_personal(header: str) -> bool:
    """Whether a column header looks like one of people's data (nom, prénom, tél.,
    portable, courriel, e-mail, logement, n° appt, locataire, demandeur…), up to case,
    accents and punctuation, and is not about a thing or a place ("nom de la rue",
    "type de logement", "nb logements", "canal de contact").

    Examples
    --------
    >>> [looks_personal(h) for h in ("Nom", "Téléphone", "N° appt", "Nom de la rue")]
    [True, True, True, False]
    """
    if "/" in header and looks_personal(group_leaf(header)):
        return True  # « groupe_id/nom_enqueteur », « Nom/Prénom »
    words = header_words(header)
    if "name" in words and {"first", "last", "full", "given", "family", "user"} & set(words):
        return True
    if "adresse" in words and {"electronique", "internet"} & set(words):
        return True
    return bool(_PERSONAL_WORDS & set(words)) and not (_NEUTRAL_WORDS & set(words))


def personal_columns_detected(
    raws: Iterable[RawFile], roles_per_file: Iterable[Mapping[str, str]], declared: tuple[str, ...]
) -> list[str]:
    """The files' columns that look personal (:func:`looks_personal`) but are neither
    declared in ``personal_columns`` nor mapped to a role, in file then column order.

    Such a column is treated as a declared one: never copied into ``rejected.csv`` (nor
    anywhere else: only mapped columns reach the outputs) and named in the summary. A
    mapped column keeps its role (the configuration says what it is) and its text is
    scrubbed like every text column.
    """
    found: dict[str, None] = {}
    for raw, roles in zip(raws, roles_per_file, strict=True):
        mapped = set(roles.values())
        for column in raw.columns:
            if (
                column not in mapped
                and not is_personal(column, declared)
                and looks_personal(column)
            ):
                found[column] = None
    return list(found)


def personal_columns(
    source: SourceConfig, raws: list[RawFile], roles_per_file: list[dict[str, str]]
) -> tuple[str, ...]:
    """The source's personal columns: the declared ones and the detected ones."""
    return (
        *source.personal_columns,
        *personal_columns_detected(raws, roles_per_file, source.personal_columns),
    )
