"""Dates written with a French month name (« 5 mars 2024 », « 1er févr. 2024 14h02 »,
« mardi 5 mars 2024 », « 12-mars-25 », Excel's date formats and hand-made sheets), rewritten
``d/mm/yyyy[ time]`` for :func:`pipelines.ingest.dates.parse_dates`' numeric reader."""

from __future__ import annotations

import unicodedata

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: Month names and their abbreviations, lower case, without accents nor dot.
MONTHS: dict[str, int] = {
    **dict.fromkeys(("janvier", "janv", "jan"), 1),
    **dict.fromkeys(("fevrier", "fevr", "fev"), 2),
    **dict.fromkeys(("mars", "mar"), 3),
    **dict.fromkeys(("avril", "avr"), 4),
    "mai": 5,
    "juin": 6,
    **dict.fromkeys(("juillet", "juil"), 7),
    "aout": 8,
    **dict.fromkeys(("septembre", "sept", "sep"), 9),
    **dict.fromkeys(("octobre", "oct"), 10),
    **dict.fromkeys(("novembre", "nov"), 11),
    **dict.fromkeys(("decembre", "dec"), 12),
}

#: A day of the week, French (« lundi », « mar. ») or English (« Monday », « Tue »: US
#: exports write « Mon 01/15/2024 »).
_WEEKDAY = (
    r"(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|(?:lun|mar|mer|jeu|ven|sam|dim)\."
    r"|monday|tuesday|wednesday|thursday|friday|saturday|sunday"
    r"|(?:mon|tues?|wed|thu(?:rs?)?|fri|sat|sun)\.?)"
)
#: Day (« 1er » too), month name, year, then what follows (a time, a zone), after a
#: space, « à », a comma or a « T »; dashes between the three too, and a two-digit year
#: (« 12-mars-25 », Excel's « jj-mmm-aa » saved as CSV). RE2 (pyarrow), any case.
_NAMED = (
    rf"(?i)^(?:{_WEEKDAY},? +)?(?:le +)?(?P<d>[0-9]{{1,2}})(?:er)?(?: +|-)"
    r"(?P<m>\p{L}{3,9})\.?(?: +|-)(?P<y>[0-9]{4}|[0-9]{2})(?P<rest>(?:,? +(?:à +)?|T)[0-9].*)?$"
)


def _month_number(name: str) -> int:
    """The month a name or abbreviation stands for (any case, accents or not), 0 if none."""
    plain = unicodedata.normalize("NFKD", name.lower()).encode("ascii", "ignore").decode()
    return MONTHS.get(plain, 0)


#: A day of the week before a date written in figures (« lundi 05/03/2024 »,
#: « mar., 05/03/2024 14h02 »): RE2, any case; the date's first figure kept in ``\1``.
_WEEKDAY_FIGURES = rf"(?i)^{_WEEKDAY},? +([0-9])"


def without_weekday(arr: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """The values written in figures after a day of the week without it (« lundi
    05/03/2024 », « Tue, 01/16/2024 3:05 PM » → « 01/16/2024 3:05 PM »), for the day and
    month order to be read from their figures; ``arr`` itself when no value starts with a
    letter."""
    if not pc.any(pc.match_substring_regex(arr, r"^\p{L}")).as_py():
        return arr
    return pc.replace_substring_regex(arr, _WEEKDAY_FIGURES, r"\1")


def with_month_numbers(values: pd.Series) -> pd.Series:
    """The values written with a French month name as ``d/mm/yyyy[ rest]``
    (« 5 févr. 2024 14h02 » → « 5/02/2024 14h02 »), and those written in figures after
    a day of the week without it (« lundi 05/03/2024 » → « 05/03/2024 »); the others,
    and a name that is no month (« 5 foo 2024 »), unchanged."""
    arr = pc.fill_null(pa.array(values.array), "")  # pandas' pyarrow storage: no copy
    named = without_weekday(arr)
    if named is not arr and not pc.all(pc.equal(named, arr)).as_py():
        arr = named
        values = pd.Series(arr.to_pylist(), index=values.index, dtype=values.dtype)
    # A digit, a space or a dash, a letter: not in ISO dates (« 2024-03-05T14:02 »).
    if not pc.any(pc.match_substring_regex(arr, r"[0-9](?:er)?(?: +|-)\p{L}")).as_py():
        return values
    found = pc.extract_regex(arr, _NAMED)
    rows = np.flatnonzero(np.asarray(found.is_valid().to_numpy(zero_copy_only=False), dtype=bool))
    if not len(rows):
        return values
    found = pc.take(found, pa.array(rows))
    part = {
        name: pd.Series(pc.fill_null(pc.struct_field(found, [i]), "").to_pylist(), dtype="str")
        for i, name in enumerate(("d", "m", "y", "rest"))
    }
    months = part["m"].map({m: _month_number(m) for m in set(part["m"])})
    known = (months > 0).to_numpy()
    rest = part["rest"].str.replace(r"^(?:,? +(?:à +)?|T)", " ", regex=True)
    text = part["d"] + "/" + months.map("{:02d}".format) + "/" + part["y"] + rest
    out = values.copy()
    out.iloc[rows[known]] = text[known].to_numpy()
    return out
