"""Reading TOML values: a key taken with its type, unknown keys refused with the closest
known one suggested, tables merged; every problem a :class:`ConfigError` naming the key
(never the content of a data file)."""

from __future__ import annotations

import copy
import difflib
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import fields
from datetime import date, datetime
from typing import Any

from pipelines.errors import ConfigError


# --------------------------------------------------------------------------- keys
def field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls) if f.init)


KIND_NAMES = {
    "bool": "vrai ou faux (true/false)",
    "int": "un nombre entier",
    "number": "un nombre fini",
    "str": "un texte",
    "date": "une date AAAA-MM-JJ",
    "list": "une liste [ … ]",
    "table": "une table",
}


def toml_type(value: object) -> str:
    """The TOML type of ``value``, in French, for messages (never the value of a file)."""
    if isinstance(value, bool):
        return "un booléen"
    if isinstance(value, int):
        return "un entier"
    if isinstance(value, float):
        return "un nombre décimal"
    if isinstance(value, str):
        return "un texte"
    if isinstance(value, datetime):
        return "une date et heure"
    if isinstance(value, date):
        return "une date"
    if isinstance(value, list):
        return "une liste"
    if isinstance(value, dict):
        return "une table"
    return type(value).__name__


def joined_key(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def check_known(table: Mapping[str, Any], allowed: tuple[str, ...], path: str, where: str) -> None:
    """Refuse a key not in ``allowed``, suggesting the closest one (a typo)."""
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" Vouliez-vous dire « {close[0]} » ?" if close else ""
            raise ConfigError(
                path,
                f"clé inconnue.{hint} Clés possibles : {', '.join(sorted(allowed))}.",
                key=joined_key(where, key),
            )


def merge_tables(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_tables(out[key], value)
        else:
            out[key] = value
    return out


PY_KINDS: dict[type, str] = {
    bool: "bool",
    int: "int",
    float: "number",
    str: "str",
    list: "list",
    dict: "table",
}


def is_kind(value: object, kind: str) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        )
    if kind == "str":
        return isinstance(value, str)
    if kind == "date":
        if isinstance(value, date) and not isinstance(value, datetime):
            return True
        if not isinstance(value, str):
            return False
        try:
            date.fromisoformat(value)
        except ValueError:
            return False
        return True
    if kind == "list":
        return isinstance(value, list)
    return isinstance(value, dict)


def take(
    table: dict[str, Any], key: str, kind: type, path: str, where: str, default: Any = ...
) -> Any:
    if key not in table:
        if default is ...:
            raise ConfigError(path, "clé obligatoire manquante.", key=joined_key(where, key))
        return default
    value = table[key]
    if not is_kind(value, PY_KINDS[kind]):
        raise ConfigError(
            path,
            f"attendu {KIND_NAMES[PY_KINDS[kind]]}, trouvé {toml_type(value)}.",
            key=joined_key(where, key),
        )
    return value


def texts(table: dict[str, Any], key: str, path: str, where: str) -> tuple[str, ...]:
    """A list of texts (``personal_columns``, ``attribution``, ``annotation_tags``)."""
    values = take(table, key, list, path, where, [])
    for i, value in enumerate(values):
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(
                path,
                f"attendu une liste de textes non vides, trouvé {toml_type(value)}.",
                key=f"{joined_key(where, key)}[{i}]",
            )
    return tuple(values)


#: Longest site id: it names files (``vigie_<id>_batiments_taux.qml``, ``.part-<id>.osm``)
#: whose name a file system limits to 255 bytes. A 300-character id from a perimeter
#: layer failed only at the end of the split's cut, on a hidden temporary file.
MAX_SITE_ID_CHARS = 64
#: Names Windows keeps for its devices, whatever the case and the extension: a site
#: « con » has no ``maps/con.html`` there (a folder shared with Windows, a copy).
WINDOWS_DEVICES = frozenset(
    ["con", "prn", "aux", "nul"] + [f"{p}{i}" for p in ("com", "lpt") for i in range(1, 10)]
)


#: A whole number written with a decimal point (« 12.0 »): how GDAL gives a GeoJSON's
#: number 12.0 in a field of text (a column where other features have text ids), and a
#: spreadsheet an integer of a column of reals.
WHOLE_NUMBER = re.compile(r"([0-9]+)\.0*")


def site_id_text(value: Any) -> str:
    """A site id as a layer's field or a TOML value gives it, as text: an integer as its
    digits, a whole number written as a real (12.0, or the text « 12.0 ») as the same
    digits, so that a feature's id does not depend on its neighbours' types (GDAL reads a
    GeoJSON field of numbers and texts as text, 12.0 as « 12.0 »); text trimmed; "" for
    nothing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    whole = WHOLE_NUMBER.fullmatch(text)
    return whole.group(1) if whole else text


def decimal_hint(sid: str) -> str:
    """A hint for an id that is a number with decimals (« 12.5 »), or ""."""
    if re.fullmatch(r"[+-]?[0-9]*[.,][0-9]+", sid):
        return " ; un nombre à décimales n'est pas un identifiant : donnez des entiers ou du texte"
    return ""


def site_id_problem(sid: str) -> str | None:
    """Why ``sid`` cannot be a site's id, in French, or ``None`` when it can.

    The id names the site's folders and files (``maps/<id>.html``) and make gives it to
    ``vigie stage --site``: letters, digits, ``-`` and ``_`` only, and a letter or a digit
    first, since a leading ``-`` is read as an option and a leading ``_`` is Vigie's own
    (``_portfolio``). ASCII letters only, as ``vigie init`` asks: an accented id has two
    spellings (« é » composed or not, NFC and NFD) that look alike and name two folders
    on Linux but one on macOS, and the id is never shown (the site's name is).
    """
    if not (sid.isascii() and sid.replace("_", "").replace("-", "").isalnum()):
        return "lettres, chiffres, - et _ seulement (lettres sans accents), non vide"
    if not sid[0].isalnum():
        return "doit commencer par une lettre ou un chiffre"
    if sid.casefold() in WINDOWS_DEVICES:
        return "nom réservé par Windows à un périphérique : ses fichiers n'y existeraient pas"
    if len(sid) > MAX_SITE_ID_CHARS:
        return (
            f"{len(sid)} caractères, au plus {MAX_SITE_ID_CHARS} : il nomme des fichiers, "
            "dont le nom est limité à 255 octets"
        )
    return None


#: The characters that reorder the text after them (Unicode's embeddings, overrides and
#: isolates, U+202A–U+202E and U+2066–U+2069): invisible, they make « ydnoB » of
#: « Bondy » in every title and table that shows the name.
REORDERING = frozenset(map(chr, (*range(0x202A, 0x202F), *range(0x2066, 0x206A))))


def _unseen(c: str) -> bool:
    """Whether ``c`` is a control character (Unicode's « Cc ») or reorders the text."""
    return unicodedata.category(c) == "Cc" or c in REORDERING


def site_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a site's name, in French, or ``None`` when it can.

    The name is shown: map and committee pack titles, the PDF's and the GeoPackage's
    metadata, the charts, the portfolio's table, the configuration ``vigie init``
    writes. A control character (NUL, escape, a line break… any of Unicode's « Cc »:
    C0, DEL, C1) is invisible in a layer's attribute table or a TOML escape, and breaks
    or hides what follows it there; a character that reorders the text (a right-to-left
    override…) is invisible too, and shows the name, or what follows it, reversed.
    """
    codes = list(dict.fromkeys(f"U+{ord(c):04X}" for c in name if _unseen(c)))
    if not codes:
        return None
    return (
        f"caractère(s) de contrôle {', '.join(codes)} : invisibles dans un tableur ou un "
        "SIG, ils cassent ou retournent les titres des cartes et des dossiers ; retirez-les"
    )


def shown_name(name: str) -> str:
    """``name`` with each control or reordering character written as its code
    (« <U+001B> »), for a message that names it."""
    return "".join(f"<U+{ord(c):04X}>" if _unseen(c) else c for c in name)


def shared_site_keys(table: dict[str, Any], path: str, where: str) -> dict[str, Any]:
    """The keys a ``[[sites]]`` table and ``[portfolio]`` share: the reference files
    (``ban``, ``rpls``, ``gazetteer``), ``simulated`` and ``attribution``."""
    return {
        "ban": take(table, "ban", str, path, where, None),
        "rpls": take(table, "rpls", str, path, where, None),
        "gazetteer": take(table, "gazetteer", str, path, where, None),
        "simulated": take(table, "simulated", bool, path, where, False),
        "attribution": texts(table, "attribution", path, where),
    }
