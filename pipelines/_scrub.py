"""Remove personal data from free text: phone numbers, e-mails, flat numbers and names.

Residents' reports carry, in their free text, what identifies them: "rappeler Mme Martin
au 06 12 34 56 78, appt 34". Ingestion keeps the problem and drops the person: each match
is replaced by a placeholder (``[téléphone]``, ``[courriel]``, ``[logement]``, ``[nom]``)
and counted. What locates the problem at building scale is kept on purpose: "bâtiment B",
"escalier 3", "entrée 2", "2e étage", street numbers, postcodes and dates.

The rules run through ``pyarrow.compute`` (Google RE2) rather than pandas' ``.str``
methods, which silently fall back to Python's ``re`` for some patterns: one engine, the
same answer whatever the dtype of the column, and RE2's linear-time matching cannot blow
up on hostile input. RE2 has no look-around, so word boundaries are matched as a captured
neighbouring character that the replacement writes back (``\\1``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines._values import arrow_strings, to_str_series

#: Placeholder written in place of each kind of personal data.
PLACEHOLDERS: dict[str, str] = {
    "phones": "[téléphone]",
    "emails": "[courriel]",
    "flats": "[logement]",
    "names": "[nom]",
}

_SP = r"[ \t\x{00A0}\x{202F}]"  # a space, including the (narrow) no-break spaces
_NOT_WORD = r"[^\p{L}\p{N}_]"
_NAME = r"\p{Lu}[\p{L}'\x{2019}-]*"  # a capitalised word: Dupont, D'Alembert, Lefèvre-Diallo

# Words that follow a name in VTS notes and must survive ("Mme Diallo Bâtiment C").
_KEEP_AFTER_NAME = (
    "Bâtiment|Batiment|Bât|Bat|Escalier|Esc|Entrée|Entree|Hall|Cage|Tour|Porte|Appartement|"
    "Appt|Logement|Résidence|Residence|Rue|Allée|Allee|Avenue|Av|Boulevard|Bd|Place|Impasse|"
    "Parking|Cave|Étage|Etage|Rdc|RDC|Au|Le|La|Les|Du|De|Des|Et|Il|Elle|Signale|Appel"
)
_CIVILITY = (
    r"(?:M\.|MM\.|(?i:mr|mme|mmes|mlle|mlles|monsieur|madame|mademoiselle|messieurs|mesdames"
    r"|docteur|dr)\.?)"
)


@dataclass(frozen=True)
class Rule:
    """One scrubbing rule: an RE2 pattern whose matches become ``replacement``."""

    kind: str
    pattern: str
    replacement: str


RULES: tuple[Rule, ...] = (
    # E-mail addresses, including the "(at)" / " arobase " spellings.
    Rule(
        "emails",
        r"[A-Za-z0-9._%+-]+"
        + _SP
        + r"?(?:@|\((?i:at)\)|\[(?i:at)\]|"
        + _SP
        + r"(?i:arobase)"
        + _SP
        + r")"
        + _SP
        + r"?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
        PLACEHOLDERS["emails"],
    ),
    # International French numbers: +33 6 12 34 56 78, 0033612345678, +33 (0)1 23 45 67 89.
    Rule(
        "phones",
        r"(^|[^0-9+])(?:\+|00)33"
        + _SP
        + r"?(?:\(0\)"
        + _SP
        + r"?)?[1-9](?:[ .\-\x{00A0}]?[0-9]{2}){4}",
        r"\1" + PLACEHOLDERS["phones"],
    ),
    # National numbers, one separator style throughout (so "06.12.2023 14h" is a date).
    Rule(
        "phones",
        r"(^|[^0-9])0[1-9](?:[0-9]{8}|(?:"
        + _SP
        + r"[0-9]{2}){4}|(?:\.[0-9]{2}){4}|(?:-[0-9]{2}){4})",
        r"\1" + PLACEHOLDERS["phones"],
    ),
    # Flat or door numbers: "appartement 34", "appt. n° 12", "apt 5B", "porte 12", "logement 203".
    Rule(
        "flats",
        r"(^|" + _NOT_WORD + r")(?i:appartement|appart|appt|apt|app|logement|logt|lgt|porte"
        r"|chambre|studio)\.?"
        + _SP
        + r"*(?:(?i:n°|no|n\.|num|numéro|numero)\.?"
        + _SP
        + r"*)?[A-Za-z]?[0-9]+(?:(?i:bis|ter)|[A-Za-z])?",
        r"\1" + PLACEHOLDERS["flats"],
    ),
    # A civility and a name followed by a place word: drop the name, keep the place.
    Rule(
        "names",
        r"(^|"
        + _NOT_WORD
        + r")"
        + _CIVILITY
        + _SP
        + r"+"
        + _NAME
        + _SP
        + r"+("
        + _KEEP_AFTER_NAME
        + r")([^\p{L}]|$)",
        r"\1" + PLACEHOLDERS["names"] + r" \2\3",
    ),
    # A civility and one or two capitalised words: "M. Dupont", "Mme Élodie Martin".
    Rule(
        "names",
        r"(^|"
        + _NOT_WORD
        + r")"
        + _CIVILITY
        + _SP
        + r"+"
        + _NAME
        + r"(?:"
        + _SP
        + r"+"
        + _NAME
        + r")?",
        r"\1" + PLACEHOLDERS["names"],
    ),
    # "chez Dupont", "famille Diallo": keep the lead word, drop the name.
    Rule(
        "names",
        r"(^|" + _NOT_WORD + r")((?i:chez|famille))" + _SP + r"+" + _NAME,
        r"\1\2 " + PLACEHOLDERS["names"],
    ),
)

# A cheap first pass: only texts that could hold one of the above go through the rules.
_TRIGGER = (
    r"@|(?i:\(at\)|\[at\]|arobase)|[0-9]{2}[ .\-\x{00A0}]?[0-9]{2}[ .\-\x{00A0}]?[0-9]{2}"
    r"[ .\-\x{00A0}]?[0-9]{2}|(?i:app|apt|logement|logt|lgt|porte|chambre|studio)"
    r"|M\.|(?i:mr|mme|mlle|monsieur|madame|mademoiselle|messieurs|mesdames|docteur|dr|chez|famille)"
)


def empty_counts() -> dict[str, int]:
    """Zero counts for every kind of personal data."""
    return dict.fromkeys(PLACEHOLDERS, 0)


def _placeholders(arr: pa.Array) -> np.ndarray:
    """Per value, how many placeholders of each kind it holds (columns in PLACEHOLDERS order)."""
    return np.column_stack(
        [
            np.asarray(pc.fill_null(pc.count_substring(arr, p), 0).to_numpy(zero_copy_only=False))
            for p in PLACEHOLDERS.values()
        ]
    )


def _scrub_arrow(arr: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Scrub distinct values; return them and the replacements made in each, by kind."""
    counts = np.zeros((len(arr), len(PLACEHOLDERS)), dtype=np.int64)
    suspect = pc.fill_null(pc.match_substring_regex(arr, _TRIGGER), False)
    idx = np.flatnonzero(np.asarray(suspect.to_numpy(zero_copy_only=False), dtype=bool))
    if len(idx) == 0:
        return arr, counts
    part = arr.take(pa.array(idx))
    before = _placeholders(part)
    for rule in RULES:
        part = pc.replace_substring_regex(part, rule.pattern, rule.replacement)
    # Each replacement writes exactly one placeholder: count them rather than run every
    # pattern a second time.
    counts[idx] = _placeholders(part) - before
    mask = np.zeros(len(arr), dtype=bool)
    mask[idx] = True
    return pc.replace_with_mask(arr, pa.array(mask), part), counts


def scrub_codes(dictionary: pa.Array, codes: np.ndarray) -> tuple[pa.Array, dict[str, int]]:
    """Scrub dictionary-encoded text: the distinct values, and the rows' codes into them.

    Parameters
    ----------
    dictionary
        The distinct values (string array; nulls allowed).
    codes
        int64, per row, its index in ``dictionary`` (negative: a missing value).

    Returns
    -------
    scrubbed, counts
        The scrubbed dictionary (same length and order) and the number of replacements
        of each kind over the rows (a value counts as many times as rows hold it).
    """
    (scrubbed,), (counts,) = scrub_codes_together([dictionary], [codes])
    return scrubbed, counts


def scrub_codes_together(
    dictionaries: list[pa.Array], codes: list[np.ndarray]
) -> tuple[list[pa.Array], list[dict[str, int]]]:
    """:func:`scrub_codes` of several columns, their distinct values scrubbed in one
    pass: pyarrow compiles each rule's regular expression at every call (a few
    milliseconds for the rules with Unicode classes), once here for all the columns."""
    if not dictionaries:
        return [], []
    large = [
        d.cast(pa.large_string()) if not pa.types.is_large_string(d.type) else d
        for d in dictionaries
    ]
    scrubbed, per_value = _scrub_arrow(pa.concat_arrays(large) if len(large) > 1 else large[0])
    out_dicts: list[pa.Array] = []
    out_counts: list[dict[str, int]] = []
    start = 0
    for dictionary, rows in zip(dictionaries, codes, strict=True):
        end = start + len(dictionary)
        part = scrubbed.slice(start, len(dictionary)) if len(dictionaries) > 1 else scrubbed
        made = per_value[start:end]
        totals = np.zeros(len(PLACEHOLDERS), np.int64)
        if made.any():  # weigh each value by the rows that hold it
            weights = np.bincount(rows[rows >= 0], minlength=len(dictionary))
            totals = (made * weights[:, None]).sum(axis=0)
        out_dicts.append(part)
        out_counts.append({kind: int(n) for kind, n in zip(PLACEHOLDERS, totals, strict=True)})
        start = end
    return out_dicts, out_counts


def scrub_series(values: pd.Series) -> tuple[pd.Series, dict[str, int]]:
    """Replace personal data in a column of free text by placeholders.

    Distinct values are scrubbed once (free text repeats more than one would think:
    "Ascenseur en panne."), and only those a cheap first pattern flags go through the
    rules.

    Parameters
    ----------
    values
        Free text, any string dtype; missing values stay missing.

    Returns
    -------
    scrubbed, counts
        The scrubbed text (dtype ``str``, aligned on ``values.index``) and the number of
        replacements of each kind (``phones``, ``emails``, ``flats``, ``names``) over
        all rows.
    """
    if len(values) == 0:
        return pd.Series([], index=values.index, dtype="str"), empty_counts()
    codes, uniques = pd.factorize(values)
    uniq = arrow_strings(pd.Series(uniques, dtype="str"))
    scrubbed, counts = scrub_codes(uniq, codes)
    taken = scrubbed.take(pa.array(codes, mask=codes < 0))
    return to_str_series(taken, values.index), counts


def scrub_text(text: str | None) -> str | None:
    """Scrub one string (see :func:`scrub_series`)."""
    if text is None:
        return None
    return str(scrub_series(pd.Series([text], dtype="str"))[0].iloc[0])


def add_counts(total: dict[str, int], more: dict[str, int]) -> dict[str, int]:
    """Sum two count dictionaries (a new dictionary)."""
    return {k: int(total.get(k, 0)) + int(more.get(k, 0)) for k in PLACEHOLDERS}
