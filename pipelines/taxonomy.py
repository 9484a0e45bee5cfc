"""The report taxonomy of DOMAIN.md, with Open311 service codes and label mapping.

Sources map their own labels onto these codes in the configuration; the default synonyms
below cover the labels the demo sources use. An unknown label goes to ``autre`` and is
listed in the run summary: it is never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pipelines.fr import strip_accents


@dataclass(frozen=True)
class Category:
    """One category of the taxonomy.

    Attributes
    ----------
    code
        Stable machine code (``ascenseur``).
    label
        French label shown to committees.
    service_code
        Open311 GeoReport v2 ``service_code``.
    group
        Open311 ``group``: parties communes, équipements, cadre de vie, tranquillité.
    """

    code: str
    label: str
    service_code: str
    group: str


CATEGORIES: tuple[Category, ...] = (
    Category("ascenseur", "Ascenseur en panne", "VTS-ASC", "Équipements"),
    Category("eau_fuite", "Fuite / dégât des eaux", "VTS-EAU", "Équipements"),
    Category("chauffage", "Chauffage / eau chaude", "VTS-CHF", "Équipements"),
    Category("electricite_eclairage", "Électricité / éclairage", "VTS-ELE", "Équipements"),
    Category("nuisibles", "Nuisibles", "VTS-NUI", "Parties communes"),
    Category("proprete", "Propreté des parties communes", "VTS-PRO", "Parties communes"),
    Category("encombrants", "Encombrants / dépôts sauvages", "VTS-ENC", "Cadre de vie"),
    Category("degradation", "Dégradations / vandalisme", "VTS-DEG", "Parties communes"),
    Category("securite_acces", "Contrôle d'accès / sécurité", "VTS-SEC", "Tranquillité"),
    Category("occupation", "Occupation des parties communes", "VTS-OCC", "Tranquillité"),
    Category("espaces_exterieurs", "Espaces extérieurs / voirie", "VTS-EXT", "Cadre de vie"),
    Category("stationnement", "Stationnement / véhicules", "VTS-STA", "Cadre de vie"),
    Category("autre", "Autre", "VTS-AUT", "Autre"),
)

BY_CODE: dict[str, Category] = {c.code: c for c in CATEGORIES}
CODES: tuple[str, ...] = tuple(c.code for c in CATEGORIES)
BY_SERVICE_CODE: dict[str, Category] = {c.service_code: c for c in CATEGORIES}
UNKNOWN = "autre"


def normalise_label(label: object) -> str:
    """Fold a free label for comparison: lower case, no accents, single spaces."""
    if label is None:
        return ""
    text = strip_accents(str(label)).lower()
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return text.strip()


# Labels seen in landlords' ticketing tools and public services, folded with
# normalise_label. The configuration adds its own per source.
DEFAULT_SYNONYMS: dict[str, str] = {
    **{normalise_label(c.label): c.code for c in CATEGORIES},
    **{normalise_label(c.code): c.code for c in CATEGORIES},
    **{normalise_label(c.service_code): c.code for c in CATEGORIES},
    "ascenseur": "ascenseur",
    "panne ascenseur": "ascenseur",
    "degat des eaux": "eau_fuite",
    "fuite": "eau_fuite",
    "infiltration": "eau_fuite",
    "humidite": "eau_fuite",
    "chauffage": "chauffage",
    "eau chaude": "chauffage",
    "eclairage": "electricite_eclairage",
    "electricite": "electricite_eclairage",
    "eclairage public": "electricite_eclairage",
    "nuisibles": "nuisibles",
    "cafards": "nuisibles",
    "punaises de lit": "nuisibles",
    "rats": "nuisibles",
    "proprete": "proprete",
    "hygiene": "proprete",
    "encombrants": "encombrants",
    "objets abandonnes": "encombrants",
    "depots sauvages": "encombrants",
    "graffitis tags affiches et autocollants": "degradation",
    "graffitis": "degradation",
    "vandalisme": "degradation",
    "degradations": "degradation",
    "interphone": "securite_acces",
    "porte forcee": "securite_acces",
    "securite": "securite_acces",
    "squat": "occupation",
    "occupation hall": "occupation",
    "regroupements": "occupation",
    "voirie et espace public": "espaces_exterieurs",
    "mobiliers urbains": "espaces_exterieurs",
    "arbres vegetaux et animaux": "espaces_exterieurs",
    "eau": "espaces_exterieurs",
    "activites commerciales et professionnelles": "autre",
    "auto moto velo trottinette": "stationnement",
    "stationnement": "stationnement",
    "vehicule ventouse": "stationnement",
    "epave": "stationnement",
}


def map_labels(
    labels: Iterable[object],
    mapping: Mapping[str, str] | None = None,
) -> tuple[list[str], list[str]]:
    """Map source labels to taxonomy codes.

    Parameters
    ----------
    labels
        The source's category labels, one per row.
    mapping
        Source-specific labels to codes (from the configuration); folded with
        :func:`normalise_label` and tried before :data:`DEFAULT_SYNONYMS`.

    Returns
    -------
    codes, unknown
        One code per label (``autre`` when unknown), and the sorted distinct labels that
        were not recognised (empty labels excluded).
    """
    table = dict(DEFAULT_SYNONYMS)
    if mapping:
        table.update({normalise_label(k): v for k, v in mapping.items()})
    codes: list[str] = []
    unknown: set[str] = set()
    cache: dict[object, str] = {}
    for label in labels:
        if label in cache:
            codes.append(cache[label])
            continue
        folded = normalise_label(label)
        code = table.get(folded)
        if code is None:
            code = UNKNOWN
            if folded:
                unknown.add(str(label))
        cache[label] = code
        codes.append(code)
    return codes, sorted(unknown)
