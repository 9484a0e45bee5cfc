"""French postal addresses: normalisation and parsing into matchable parts.

Residents, landlords and city services write the same address in many ways
("21 Rue du Faubourg Saint-Denis, 75010 PARIS", "21 r. du fbg St Denis", "21, RUE DU
FAUBOURG ST-DENIS"), and social-housing reports add a building, an entrance and a
staircase ("12 allée Marguerite Duras, bât B, esc 3") or only a residence name
("Rés. du Breuil bât C"). This module turns such text into one canonical form.

Canonical form
--------------
- ``street``: lower case, no accents, single spaces, hyphens and dots turned into spaces,
  apostrophes kept glued (``rue d'hauteville``), the street type spelled out
  (``bd`` → ``boulevard``, ``r`` → ``rue``…), ``st``/``ste`` → ``saint``/``sainte``,
  ``fg``/``fbg`` → ``faubourg``; articles kept (``rue du faubourg saint denis``).
- ``street_key``: ``street`` without articles and elisions (``de``, ``du``, ``des``,
  ``d'``, ``la``, ``le``, ``les``, ``l'``, ``au``, ``aux``, ``et``, ``a``), used for
  matching: "Rue de Rocroy" and "Rue Rocroy" share the key ``rue rocroy``. The street
  type stays in the key: "Rue Marguerite de Rochechouart" and "Boulevard Marguerite de
  Rochechouart" are two different streets of Paris 9e.
- ``suffix``: ``bis``, ``ter``, ``quater``, ``quinquies`` or a single lower-case letter
  (``12B`` → ``b``). Whether a lone ``b`` means *bis* depends on the source;
  :func:`suffix_key` treats ``b``/``t``/``q`` as ``bis``/``ter``/``quater`` for matching.
- ``building``, ``entrance``, ``staircase``: upper case labels (``B``, ``2``, ``3``).
  ``hall`` is read as an entrance: in French social housing "hall 4" and "entrée 4" name
  the same door serving one stairwell. ``cage`` (cage d'escalier) is a staircase.
- ``residence``: the name after ``résidence``/``rés.``, with the word spelled out
  (``residence du breuil``). A residence with a house number ("2 Résidence des
  Floralies") is also the ``street``: the BAN lists such residences as streets.
- ``postcode`` (5 digits) and ``city`` (lower case, no accents, arrondissement and CEDEX
  dropped: "PARIS 10E" → ``paris``). Without a postcode a city is only read from a last
  comma-separated part ("8 Cité Paradis, Paris"): "12 rue de Bondy" is a Paris street.

Apartment, floor and door numbers ("apt 34", "3e étage", "porte 12") are dropped.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

import pandas as pd

__all__ = [
    "PARSED_COLUMNS",
    "STREET_TYPES",
    "ParsedAddress",
    "fold",
    "normalise_key",
    "normalise_street",
    "parse_housenumber",
    "repair_mojibake",
    "street_key",
    "suffix_key",
]

#: Canonical street type → abbreviations and variants (already accent-free, lower case).
STREET_TYPES: dict[str, tuple[str, ...]] = {
    "rue": ("r", "ru"),
    "avenue": ("av", "ave", "avn", "aven", "avenu"),
    "boulevard": ("bd", "bld", "blvd", "bvd", "boul", "bl", "boulev"),
    "place": ("pl", "plc"),
    "allee": ("all", "al", "allees"),
    "impasse": ("imp", "impas"),
    "square": ("sq", "squ"),
    "chemin": ("chem", "ch", "che", "chmn"),
    "route": ("rte", "rt"),
    "faubourg": ("fg", "fbg", "faub"),
    "passage": ("pass", "pas", "psg"),
    "cite": ("cit",),
    "quai": ("qu", "qai"),
    "cours": ("crs",),
    "promenade": ("prom",),
    "sentier": ("sent", "sen", "sntr"),
    "sente": (),
    "villa": ("vla",),
    "voie": (),
    "esplanade": ("esp", "espl"),
    "parvis": ("prv",),
    "hameau": ("ham",),
    "lotissement": ("lot", "lotiss"),
    "cour": (),
    "carrefour": ("carr", "car"),
    "chaussee": ("chs",),
    "mail": (),
    "ruelle": ("rle",),
    "rond point": ("rpt",),
    "traverse": ("tra", "trav"),
    "domaine": ("dom",),
    "clos": (),
    "quartier": ("qua", "quart"),
    "port": (),
    "pont": (),
    "galerie": ("gal",),
    "jardin": ("jard",),
}

_TYPE_ABBREV: dict[str, str] = {}
for _full, _abbrevs in STREET_TYPES.items():
    for _a in _abbrevs:
        _TYPE_ABBREV[_a] = _full
#: Tokens that start a street (canonical or abbreviated), for finding the street part.
_TYPE_TOKENS = frozenset(_TYPE_ABBREV) | frozenset(t.split()[0] for t in STREET_TYPES)

#: Expanded anywhere in a street name (not only as its first word).
_ANYWHERE: dict[str, str] = {
    "st": "saint",
    "ste": "sainte",
    "sts": "saints",
    "stes": "saintes",
    "fg": "faubourg",
    "fbg": "faubourg",
    "gal": "general",
    "gen": "general",
    "mal": "marechal",
    "pdt": "president",
    "dr": "docteur",
    "cdt": "commandant",
    "cne": "capitaine",
    "lt": "lieutenant",
    "mgr": "monseigneur",
}

#: Articles and elisions dropped from the matching key.
STOP_WORDS = frozenset({"de", "du", "des", "d", "la", "le", "les", "l", "au", "aux", "et", "a"})

_SUFFIX_WORDS = ("quinquies", "quater", "ter", "bis")
_SUFFIX_ALIASES = {"qua": "quater", "qtr": "quater", "tr": "ter", "bs": "bis"}
_SUFFIX_KEY = {"b": "bis", "t": "ter", "q": "quater"}

_LABEL = r"(?:no|n)?\s*([a-z]\d{0,2}|\d{1,3}[a-z]?)(?![a-z0-9])"
_BUILDING_RE = re.compile(r"\b(?:batiments?|bati|bat|bt|bloc|immeuble|imm)\s*" + _LABEL)
_ENTRANCE_RE = re.compile(r"\b(?:entrees?|entr|ent|halls?)\s*" + _LABEL)
_STAIRCASE_RE = re.compile(
    r"\b(?:escaliers?|escal|esc|cages?(?:\s+d\s*'?\s*escaliers?)?)\s*" + _LABEL
)
_IGNORED_RE = re.compile(
    r"\b(?:appartement|appart|appt|apt|app|logement|lgt|porte|pte|chambre|boite|bal)\s*"
    r"(?:no|n)?\s*\d{1,4}[a-z]?(?![a-z0-9])"
    r"|\bporte\s+(?:gauche|droite|face|du\s+fond|fond)\b"
    r"|\b\d{1,2}\s*(?:e|eme|er|ere)\s+etage\b|\betage\s*\d{1,2}\b"
    r"|\brez\s+de\s+chaussee\b|\brdc\b|\bcedex(?:\s*\d{1,2})?\b"
)
_COMPLEMENT_WORDS = (
    r"batiments?|bati|bat|bt|bloc|immeuble|imm|entrees?|entr|ent|halls?|escaliers?|escal|esc"
    r"|cages?|appartement|appart|appt|apt|app|logement|porte|etage"
)
_RESIDENCE_RE = re.compile(
    r"\b(?:residences?|resid|res)\b\s*(?P<name>[^,\d]*?)\s*(?=,|$|\d|\b(?:"
    + _COMPLEMENT_WORDS
    + r")\b)"
)
# "93 140 Bondy": a postcode written with a space, not at the start of the address.
_SPACED_POSTCODE_RE = re.compile(r"(?<=.)(?<![\d-])(\d{2}) (\d{3})(?=\s*(?:[a-z,]|$))")
_POSTCODE_RE = re.compile(r"(?<![\d-])(\d{5})(?![\d-])")
_ARRONDISSEMENT_RE = re.compile(r"\s+\d{1,2}\s*(?:e|eme|er|ere)?$")
_NUMBER_RE = re.compile(r"(?:(?:numero|num|no|n)\s*)?(\d{1,5})(?!\d)")
_SUFFIX_RE = re.compile(r"\s*(quinquies|quater|qua|qtr|ter|bis|[a-z])(?![a-z0-9'])(?!\s*\d)")
_MORE_NUMBER_RE = re.compile(r"\s*(?:-|/|&|\bet\b|\ba\b|\bau\b|,)\s*(\d{1,5})(?!\d)")
_RANGE_HYPHEN_RE = re.compile(r"(\d)\s*-\s*(?=\d)")
_RANGE_SLASH_RE = re.compile(r"(\d)\s*/\s*(?=\d)")
_SEPARATOR_HYPHEN_RE = re.compile(r"\s+-+\s*|\s*-+\s+")
_WORD_HYPHEN_RE = re.compile(r"(?<!\d)-|-(?!\d)")
_APOSTROPHE_RE = re.compile(r"\s*'\s*")
_NUMBER_COMMA_RE = re.compile(
    r"^((?:no|num|numero)?\s*\d{1,5}(?:\s*(?:bis|ter|quater|[a-z]))?)\s*,\s*"
)
#: Cheap pre-check: most addresses carry no complement, so skip the complement patterns.
_COMPLEMENT_HINT_RE = re.compile(
    r"\b(?:bat|bt|bloc|imm|ent|hall|esc|cage|ap|logement|lgt|porte|pte|chambre|boite|bal"
    r"|etage|\d{1,2}\s*(?:e|eme|er|ere)\s|rez|rdc|cedex|res)"
)
_NUMBERED_RE = re.compile(r"(?:no|num|numero|n)\d")
_SPACES_RE = re.compile(r"\s+")
_NON_WORD_RE = re.compile(r"[^a-z0-9',\- ]+")


class ParsedAddress(NamedTuple):
    """One address split into matchable parts (see the module docstring for the forms).

    Attributes
    ----------
    number
        First house number, or ``None``.
    suffix
        ``bis``/``ter``/``quater``/``quinquies`` or a lower-case letter, or ``None``.
    numbers
        All house numbers written ("1-3-5 rue du Breuil" → ``(1, 3, 5)``); empty if none.
    street, street_key
        Canonical street and its matching key, or ``None`` (a residence name alone).
    residence
        Canonical residence name (``residence du breuil``), or ``None``.
    building, entrance, staircase
        Upper-case labels, or ``None``.
    postcode, city
        Five-digit postcode and canonical city, or ``None``.
    address_normalised
        ``"21 rue du faubourg saint denis, 75010 paris"``: number, suffix, street (or
        residence), postcode and city; ``None`` when nothing was recognised.
    """

    number: int | None = None
    suffix: str | None = None
    numbers: tuple[int, ...] = ()
    street: str | None = None
    street_key: str | None = None
    residence: str | None = None
    building: str | None = None
    entrance: str | None = None
    staircase: str | None = None
    postcode: str | None = None
    city: str | None = None
    address_normalised: str | None = None


PARSED_COLUMNS: list[str] = list(ParsedAddress._fields)


_FOLD_TABLE = str.maketrans(
    {"’": "'", "‘": "'", "`": "'", "´": "'", "\u00b0": "o", "º": "o", "œ": "oe", "Œ": "oe"}
    | {"æ": "ae", "Æ": "ae", "ß": "ss"}
)


_MOJIBAKE_MARKS = ("Ã", "â€", "Â")


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 text that was decoded as Windows-1252 once (``"VillÃ©giature"``).

    Real extracts carry it (the Bondy BAN file has "Route dâ€™Aulnay"). Text without the
    telltale sequences, or that does not round-trip, is returned unchanged.

    >>> repair_mojibake("Route dâ€™Aulnay")
    'Route d’Aulnay'
    """
    if not any(mark in text for mark in _MOJIBAKE_MARKS):
        return text
    try:
        return text.encode("cp1252").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def fold(text: str) -> str:
    """Lower-case ``text`` and strip accents (``"Hôtels’"`` → ``"hotels'"``, ``"N"`` → ``"no"``).

    Characters with no Latin letter inside (after Unicode decomposition) are dropped.
    """
    if not text.isascii():
        text = unicodedata.normalize("NFKD", repair_mojibake(text).translate(_FOLD_TABLE))
        text = text.encode("ascii", "ignore").decode("ascii")
    return text.lower()


def _clean(text: str) -> str:
    """Fold, then keep only letters, digits, apostrophes, commas and range hyphens."""
    s = fold(text)
    s = s.replace(";", ",").replace(".", " ").replace("_", " ")
    if "/" in s or "&" in s:
        s = _RANGE_SLASH_RE.sub(r"\1-", s).replace("/", " ").replace("&", " et ")
    s = _NON_WORD_RE.sub(" ", s)
    if "-" in s:
        s = _RANGE_HYPHEN_RE.sub(r"\1-", s)  # "1 - 3" → "1-3": a range
        s = _SEPARATOR_HYPHEN_RE.sub(",", s)  # "7 rue X - hall 4": a separator
        s = _WORD_HYPHEN_RE.sub(" ", s)  # "Saint-Denis": hyphens join words
    if "'" in s:
        s = _APOSTROPHE_RE.sub("'", s)
    return _SPACES_RE.sub(" ", s).strip()


def _expand_street(words: list[str]) -> list[str]:
    """Expand the street type (first word) and the abbreviations valid anywhere."""
    if not words:
        return words
    out = list(words)
    first = out[0]
    if first in _TYPE_ABBREV:
        out[0] = _TYPE_ABBREV[first]
    elif first in ("rond", "rd") and len(out) > 1 and out[1] in ("point", "pt"):
        out[0:2] = ["rond point"]
    for i in range(1, len(out)):
        w = out[i]
        if w in _ANYWHERE:
            out[i] = _ANYWHERE[w]
    return " ".join(out).split()


def _street_text(s: str) -> str:
    """Canonical street from a cleaned string (no number): types expanded, no commas."""
    s = s.replace(",", " ")
    s = re.sub(r"(?<![a-z])-|-(?![0-9])", " ", s)
    words = _expand_street(s.split())
    # Glue elisions: "d' hauteville" / "d hauteville" stay "d'hauteville" when written so.
    return " ".join(words).replace("' ", "'")


def street_key(street: str | None) -> str | None:
    """Matching key of a canonical street: articles and elisions removed.

    Examples
    --------
    >>> street_key("rue du faubourg saint denis")
    'rue faubourg saint denis'
    >>> street_key("rue d'hauteville")
    'rue hauteville'
    """
    if street is None:
        return None
    words = [w for w in street.replace("'", " ").split() if w not in STOP_WORDS]
    return " ".join(words) or None


def normalise_street(name: object) -> tuple[str | None, str | None]:
    """Canonical street and key of a street name as OSM or the BAN spell it.

    >>> normalise_street("Rue Louise-Émilie de La Tour d'Auvergne")
    ("rue louise emilie de la tour d'auvergne", 'rue louise emilie tour auvergne')
    """
    if name is None or (isinstance(name, float) and name != name) or name is pd.NA:
        return None, None
    cleaned = _clean(str(name))
    street = _street_text(cleaned) or None
    return street, street_key(street)


def normalise_key(text: object) -> str | None:
    """Normalise a free label (a gazetteer key, a landlord building code) for lookup.

    Accents, case, punctuation and articles are dropped; ``rés``/``res`` →
    ``residence``, ``bât``/``bat`` → ``batiment``, ``esc`` → ``escalier``, ``ent``/``hall``
    → ``entree``, street types spelled out.

    >>> normalise_key("Rés. du Breuil bât C")
    'residence breuil batiment c'
    >>> normalise_key("NC-B")
    'nc b'
    """
    if text is None or (isinstance(text, float) and text != text) or text is pd.NA:
        return None
    s = _clean(str(text)).replace(",", " ").replace("'", " ").replace("-", " ")
    words: list[str] = []
    for w in s.split():
        if w in ("res", "resid", "residences"):
            w = "residence"
        elif w in ("bat", "bati", "batiments", "bt"):
            w = "batiment"
        elif w in ("esc", "escal", "escaliers", "cage"):
            w = "escalier"
        elif w in ("ent", "entr", "hall", "entrees"):
            w = "entree"
        elif w in _TYPE_ABBREV and len(w) > 1:
            w = _TYPE_ABBREV[w]
        elif w in _ANYWHERE:
            w = _ANYWHERE[w]
        # Single letters stay: in a key they are building letters (« NC-A », « bât L »),
        # not the articles « à », « d' », « l' » that street matching may drop.
        if w not in STOP_WORDS or len(w) == 1:
            words.append(w)
    return " ".join(words) or None


def suffix_key(suffix: object) -> str:
    """Suffix used for matching: ``b``/``t``/``q`` read as ``bis``/``ter``/``quater``.

    Missing suffixes give ``""`` so that the key can be merged on.
    """
    if suffix is None or suffix is pd.NA or (isinstance(suffix, float) and suffix != suffix):
        return ""
    s = str(suffix).strip().lower()
    return _SUFFIX_KEY.get(s, s)


def _canonical_suffix(raw: str) -> str:
    return _SUFFIX_ALIASES.get(raw, raw)


def parse_housenumber(text: object) -> tuple[tuple[int, ...], str | None]:
    """Parse an OSM/BAN house number: ``"34 bis"`` → ``((34,), "bis")``.

    Lists and ranges (``"1-3"``, ``"2;4"``) give all their numbers; the suffix is the one
    written after the first number. Unreadable values give ``((), None)``.
    """
    if text is None or text is pd.NA or (isinstance(text, float) and text != text):
        return (), None
    s = _clean(str(text)).replace(",", "-")
    m = _NUMBER_RE.match(s)
    if not m:
        return (), None
    numbers = [int(m.group(1))]
    pos = m.end()
    suffix = None
    sm = _SUFFIX_RE.match(s, pos)
    if sm:
        suffix = _canonical_suffix(sm.group(1))
        pos = sm.end()
    while True:
        mm = _MORE_NUMBER_RE.match(s, pos)
        if not mm:
            break
        numbers.append(int(mm.group(1)))
        pos = mm.end()
        sm = _SUFFIX_RE.match(s, pos)
        if sm:
            pos = sm.end()
    return tuple(numbers), suffix
