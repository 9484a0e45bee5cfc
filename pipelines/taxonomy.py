"""The report taxonomy of DOMAIN.md, with Open311 service codes and label mapping.

Sources map their own labels onto these codes in the configuration; the default synonyms
below cover the labels the demo sources use. An unknown label goes to ``autre`` and is
listed in the run summary: it is never dropped.

Each category has a **class** for disclosure control (issue 16): ``technique`` (the
building's equipment and common parts: a count of them points at no one, and is shown
exactly: the secondary suppression hides one of their cells only where no margin nor
person-related cell would do, :mod:`pipelines.stats.disclosure`) or ``personne`` (what
points at a household or at people: a squatted hall, pests, anything unknown), whose
cells need enough distinct households to be published. A report whose text names a
floor or a flat is person-related whatever its category (:func:`person_related`): a cell
of a technical category holding one is hidden like a person-related cell when it comes
from too few households, and the cells that would give it back (its category's total for
the building or the month) are technical too. A site may change a category's class in
its configuration (``category_classes = {code = "personne"}``, checked by
:func:`check_category_classes`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, overload

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.errors import ConfigError
from pipelines.fr import strip_accents

#: Disclosure classes of a category (see the module docstring).
TECHNIQUE = "technique"
PERSONNE = "personne"
CLASSES = (TECHNIQUE, PERSONNE)


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
    privacy_class
        :data:`TECHNIQUE` or :data:`PERSONNE` (disclosure control, issue 16).
    """

    code: str
    label: str
    service_code: str
    group: str
    privacy_class: str = PERSONNE


# Classes, from DOMAIN.md's examples. Technique: equipment and common parts, which a
# count describes without pointing at anyone (a lift stopped, hall lighting out, a leak
# or damp, heating, a dirty stairwell, dumped furniture, graffiti, a broken entry phone,
# the playground, wrecks); a leak or a heating failure *inside* a flat names its floor or
# its door, and the per-report rule makes it person-related. Personne: ``occupation``
# (squatted hall, gatherings, trafficking: the committee includes the police, and a
# small count points at residents), ``nuisibles`` (bedbugs and cockroaches live in a
# dwelling: a count of one or two names a household, with a stigma), and ``autre``
# (unknown content, neighbour nuisance lands there: safe by default).
CATEGORIES: tuple[Category, ...] = (
    Category("ascenseur", "Ascenseur en panne", "VTS-ASC", "Équipements", TECHNIQUE),
    Category("eau_fuite", "Fuite / dégât des eaux", "VTS-EAU", "Équipements", TECHNIQUE),
    Category("chauffage", "Chauffage / eau chaude", "VTS-CHF", "Équipements", TECHNIQUE),
    Category(
        "electricite_eclairage", "Électricité / éclairage", "VTS-ELE", "Équipements", TECHNIQUE
    ),
    Category("nuisibles", "Nuisibles", "VTS-NUI", "Parties communes", PERSONNE),
    Category("proprete", "Propreté des parties communes", "VTS-PRO", "Parties communes", TECHNIQUE),
    Category("encombrants", "Encombrants / dépôts sauvages", "VTS-ENC", "Cadre de vie", TECHNIQUE),
    Category("degradation", "Dégradations / vandalisme", "VTS-DEG", "Parties communes", TECHNIQUE),
    Category("securite_acces", "Contrôle d'accès / sécurité", "VTS-SEC", "Tranquillité", TECHNIQUE),
    Category("occupation", "Occupation des parties communes", "VTS-OCC", "Tranquillité", PERSONNE),
    Category(
        "espaces_exterieurs", "Espaces extérieurs / voirie", "VTS-EXT", "Cadre de vie", TECHNIQUE
    ),
    Category("stationnement", "Stationnement / véhicules", "VTS-STA", "Cadre de vie", TECHNIQUE),
    Category("autre", "Autre", "VTS-AUT", "Autre", PERSONNE),
)

BY_CODE: dict[str, Category] = {c.code: c for c in CATEGORIES}
CODES: tuple[str, ...] = tuple(c.code for c in CATEGORIES)
BY_SERVICE_CODE: dict[str, Category] = {c.service_code: c for c in CATEGORIES}
UNKNOWN = "autre"

_T = TypeVar("_T")
#: :func:`label_of`'s default: the code itself.
_THE_CODE: Any = object()


@overload
def label_of(code: object) -> str: ...
@overload
def label_of(code: object, default: _T) -> str | _T: ...
def label_of(code: object, default: Any = _THE_CODE) -> Any:
    """The French label of a category code, or a fallback for a code outside the taxonomy.

    Parameters
    ----------
    code
        A category code (``"ascenseur"``); anything else (an unknown code, a missing
        value) has no label.
    default
        What a code outside the taxonomy gives; by default the code itself, as text
        (``None`` or ``""`` where the caller wants nothing).

    Returns
    -------
    str or the type of ``default``
        The category's label, else ``default``.

    Examples
    --------
    >>> label_of("ascenseur")
    'Ascenseur en panne'
    >>> label_of("chaudiere")
    'chaudiere'
    >>> label_of("chaudiere", None) is None
    True
    """
    category = BY_CODE.get(code) if isinstance(code, str) else None
    if category is not None:
        return category.label
    return str(code) if default is _THE_CODE else default


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


# --------------------------------------------------------------------------- classes
def category_classes(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The class of every category code: the taxonomy's, then a site's ``overrides``
    (already checked by :func:`check_category_classes`)."""
    classes = {c.code: c.privacy_class for c in CATEGORIES}
    if overrides:
        classes.update(overrides)
    return classes


def check_category_classes(raw: Any, path: str, key: str) -> dict[str, str]:
    """A site's ``category_classes`` table, checked: category code → class.

    Raises
    ------
    ConfigError
        Not a table, an unknown category code or an unknown class: one French message
        naming the key.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(
            path,
            'attendu une table { code = "personne" | "technique" }.',
            key=key,
        )
    out: dict[str, str] = {}
    for code, value in raw.items():
        if code not in BY_CODE:
            raise ConfigError(
                path,
                f"catégorie « {code} » inconnue. Catégories : {', '.join(CODES)}.",
                key=f"{key}.{code}",
            )
        if value not in CLASSES:
            raise ConfigError(
                path,
                f"classe « {value} » inconnue : « personne » (ce qui désigne un foyer ou des "
                "personnes) ou « technique » (équipements et parties communes).",
                key=f"{key}.{code}",
            )
        out[str(code)] = str(value)
    return out


def person_related(
    category: str, names_dwelling: bool, overrides: Mapping[str, str] | None = None
) -> bool:
    """Whether one report is person-related: its category's class is ``personne``, or
    its text names a floor or a flat (``names_dwelling``), whatever its category.

    >>> person_related("ascenseur", False), person_related("ascenseur", True)
    (False, True)
    >>> person_related("nuisibles", False)
    True
    >>> person_related("ascenseur", False, {"ascenseur": "personne"})
    True
    """
    return bool(names_dwelling) or category_classes(overrides).get(category, PERSONNE) == PERSONNE


def person_related_flags(
    categories: Iterable[str],
    names_dwelling: Iterable[bool],
    overrides: Mapping[str, str] | None = None,
) -> np.ndarray:
    """:func:`person_related` of many reports (a boolean array); an unknown code counts
    as ``personne``."""
    classes = category_classes(overrides)
    # A hash look-up of each code among the few technique ones (pyarrow), rather than
    # pandas' map on a million strings: 0.14 s to 0.01 s CPU on a million reports.
    technique = [code for code, cls in classes.items() if cls != PERSONNE]
    values = pa.array(
        categories.astype("str").array if isinstance(categories, pd.Series) else list(categories),
        pa.large_string(),
    )
    personal = ~np.asarray(
        pc.is_in(values, value_set=pa.array(technique, pa.large_string())).to_numpy(
            zero_copy_only=False
        ),
        dtype=bool,
    )
    dwelling = np.asarray(
        names_dwelling if isinstance(names_dwelling, np.ndarray) else list(names_dwelling),
        dtype=bool,
    )
    return personal | dwelling
