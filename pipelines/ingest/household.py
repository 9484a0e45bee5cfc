"""Who reported: a pseudonymous household key per report, keyed by the site's secret
(:mod:`pipelines.ingest.secret`).

A committee table that shows "2 reports of pests" in a building must also know whether
they came from two households or from one (issue 16): ingestion derives, before the
personal columns are dropped, a **household key** per accepted report, kept in the
internal outputs (``ingested.parquet``, then ``reports.parquet``) and in no output meant
for readers (``published/``, maps, exports).

The key is an HMAC-SHA256 (Python's :mod:`hmac`, keyed by a per-site secret) of the
report's household identifier, so that nobody without the secret can test a guess (a
known phone number) against it, and so that two sites' keys cannot be joined. The
identifier is, in this order of preference:

1. the **dwelling reference** (columns whose header says logement, appartement, appt,
   porte…): accents, case, punctuation and spaces folded, the words "appartement",
   "logt", "n°"… dropped, leading zeros of numbers dropped ("Apt 045" = "appt 45" =
   "LOGT 45"). It should be the landlord's reference, unique in the site: a bare door
   number ("12") read in two buildings merges the two households, which only hides more
   (fewer households, more cells below the thresholds);
2. the **phone number** (tél., portable, mobile…): digits only, in an E.164-like form
   (``06 12 34 56 78``, ``+33 6 12 34 56 78``, ``0033 (0)6…`` → ``+33612345678``);
   fewer than 9 digits is no number;
3. the **e-mail** (courriel, mail, e-mail…): trimmed, spaces removed, lower-cased;
4. the **name** (nom, prénom, locataire, demandeur…): the name columns joined, accents,
   case and punctuation folded, civilities (M., Mme…) dropped, words sorted ("MARTIN
   Sophie" = "Mme Sophie Martin").

Reports that share a dwelling reference, a phone number or an e-mail are one household
(connected components: a household's ticket without its flat but with its phone joins
its other tickets); the key hashes the component's most preferred identifier. Names
never link reports that carry something better (two "M. Martin" are rarely one
household): a report known by its name alone shares a key with the reports known by the
same name alone. A report with no identifier at all, every report of a source without
personal columns (Paris's DansMaRue) and every walkthrough observation (its author is a
surveyor, not a household) is its own household: the key hashes ``source`` and
``report_id``, stable from one run to the next.

The secret (32 random bytes, hex) lives in ``<secrets_dir>/<site>.key`` (project key
``secrets_dir``, ``data/secrets`` by default, ignored by git), readable by its owner
only; ``vigie secret`` (``make secrets``) creates it and refuses to overwrite one.
Ingestion without it stops with a French message saying how to create it: never a hash
without a key, which anyone could recompute from a list of phone numbers.

Written here rather than taken from a library: the standard library's ``hmac`` and
``hashlib`` do the cryptography; record linkage libraries (``recordlinkage``, Splink)
score fuzzy matches for people, which is not what a deterministic, explainable key
needs.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pipelines.ingest.personal import (
    CONTACT_WORDS,
    EMAIL_WORDS,
    FLAT_WORDS,
    NAME_WORDS,
    PHONE_WORDS,
)
from pipelines.ingest.values import _dictionary_of
from pipelines.taxonomy import normalise_label

#: Name of the column that carries the key in ingestion's internal outputs.
HOUSEHOLD_COLUMN = "household_key"

#: Kinds of identifier, by preference (the digit prefixes a token, so the smallest
#: token of a household is its most preferred identifier).
KINDS = ("flat", "phone", "email", "name")
_RANK = {kind: str(i) for i, kind in enumerate(KINDS)}
_OWN = "9report"  # a report that is its own household
_SEP = "\x1f"  # between the tokens of one row (folded values never hold it)

#: Hex characters of the key written (128 bits: no collision among a site's households).
KEY_HEX = 32

_FLAT_FILLERS = frozenset(
    [
        "appartement",
        "appart",
        "apart",
        "appt",
        "app",
        "apt",
        "ap",
        "logement",
        "logt",
        "lgt",
        "lgmt",
        "log",
        "porte",
        "chambre",
        "chbre",
        "n",
        "no",
        "num",
        "numero",
        "ref",
        "reference",
    ]
)
_CIVILITIES = frozenset(
    [
        "m",
        "mr",
        "mrs",
        "ms",
        "mme",
        "mmes",
        "mlle",
        "mlles",
        "monsieur",
        "messieurs",
        "madame",
        "mesdames",
        "mademoiselle",
        "dr",
        "docteur",
        "me",
        "maitre",
    ]
)
# Words of a column about who took or handled the report, not who filed it.
_STAFF_WORDS = frozenset(
    {
        "auteur",
        "auteure",
        "enqueteur",
        "enqueteuse",
        "agent",
        "agente",
        "technicien",
        "technicienne",
        "gardien",
        "gardienne",
        "operateur",
        "operatrice",
        "submitter",
        "username",
        "saisi",
        "saisie",
        "redacteur",
        "redactrice",
    }
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")


# --------------------------------------------------------------------------- columns
def identity_kind(header: str) -> str | None:
    """Which kind of household identifier a personal column holds, from its header:
    ``flat``, ``phone``, ``email``, ``name``, ``contact`` (a phone or an e-mail, told
    by the value) or ``None`` (another person: a surveyor, an author).

    Examples
    --------
    >>> [identity_kind(h) for h in ("Logement", "Tél. portable", "E-mail du demandeur",
    ...  "Nom du demandeur", "nom_enqueteur")]
    ['flat', 'phone', 'email', 'name', None]
    """
    spaced = re.sub(r"(?<=[a-zà-ÿ])(?=[A-ZÀ-Þ])", " ", header)
    words = set(normalise_label(spaced).replace("_", " ").split())
    if words & _STAFF_WORDS:
        return None
    if words & EMAIL_WORDS or ("adresse" in words and {"electronique", "internet"} & words):
        return "email"
    if words & PHONE_WORDS:
        return "phone"
    if words & FLAT_WORDS:
        return "flat"
    if words & CONTACT_WORDS:
        return "contact"
    if words & NAME_WORDS or ("name" in words and {"first", "last", "full", "family"} & words):
        return "name"
    return None


# --------------------------------------------------------------------------- values
def normalise_flat(value: str) -> str:
    """A dwelling reference folded for comparison: accents, case, punctuation and spaces
    folded, letters and digits split into runs, the words that only say "flat" or
    "number" dropped, leading zeros dropped ("Logt NC-B 045" = "ncb045" → "ncb45"),
    two numbers kept apart ("L123-007" → "l123-7").

    >>> [normalise_flat(v) for v in ("Apt 045", "LOGT 45", "n° 45", "Bât. A – logt 3", "")]
    ['45', '45', '45', 'bata3', '']
    """
    runs = [
        r.lstrip("0") or "0" if r.isdigit() else r
        for r in re.findall(r"[a-z]+|[0-9]+", normalise_label(value))
        if r not in _FLAT_FILLERS
    ]
    # Two numbers stay apart ("123-7" is not "12-37"); letters and numbers join.
    return "".join(
        ("-" if k and r.isdigit() and runs[k - 1].isdigit() else "") + r for k, r in enumerate(runs)
    )


def normalise_phone(value: str) -> str:
    """A phone number in an E.164-like form (``+`` and digits), or ``""``.

    National French numbers (10 digits starting with 0) get +33; ``00`` becomes ``+``;
    the ``(0)`` written after +33 is dropped.

    >>> [normalise_phone(v) for v in ("06 12 34 56 78", "+33 (0)6.12.34.56.78",
    ...  "0033612345678", "12 34")]
    ['+33612345678', '+33612345678', '+33612345678', '']
    """
    text = value.strip()
    digits = re.sub(r"\D", "", text)
    if text.startswith("00") or (not text.startswith("+") and digits.startswith("00")):
        digits = digits[2:]
    elif len(digits) == 10 and digits.startswith("0"):
        digits = "33" + digits[1:]
    if digits.startswith("330") and len(digits) == 12:
        digits = "33" + digits[3:]
    return "+" + digits if 9 <= len(digits) <= 15 else ""


def normalise_email(value: str) -> str:
    """An e-mail trimmed, without spaces, lower-cased; ``""`` if it is none.

    >>> normalise_email(" Jean.Dupont @Exemple.FR ")
    'jean.dupont@exemple.fr'
    """
    text = re.sub(r"\s+", "", value).lower()
    return text if _EMAIL.match(text) else ""


def normalise_name(value: str) -> str:
    """A name folded: accents, case, punctuation, civilities dropped, words sorted.

    >>> [normalise_name(v) for v in ("MARTIN Sophie", "Mme Sophie Martin", "M.")]
    ['martin sophie', 'martin sophie', '']
    """
    words = [w for w in normalise_label(value).split() if w not in _CIVILITIES]
    return " ".join(sorted(words)) if any(len(w) > 1 for w in words) else ""


def _contact(value: str) -> tuple[str, str]:
    """A contact cell: its e-mail, else its phone number."""
    email = normalise_email(value)
    return ("email", email) if email else ("phone", normalise_phone(value))


_NORMALISE = {
    "flat": normalise_flat,
    "phone": normalise_phone,
    "email": normalise_email,
}


def _combo_tokens(cells: tuple[str, ...], kinds: list[str]) -> str:
    """The tokens of one row's identity cells (``kinds`` gives each cell's kind)."""
    tokens: set[str] = set()
    names: list[str] = []
    for value, kind in zip(cells, kinds, strict=True):
        if kind == "name":
            if value.strip():
                names.append(value)
            continue
        k, token = _contact(value) if kind == "contact" else (kind, _NORMALISE[kind](value))
        if token:
            tokens.add(f"{_RANK[k]}{k}:{token}")
    if names:
        name = normalise_name(" ".join(names))
        if name:
            tokens.add(f"{_RANK['name']}name:{name}")
    return _SEP.join(sorted(tokens))


def identity_tokens(
    columns: Mapping[str, Iterable[str] | pa.Array | pa.ChunkedArray], n: int
) -> np.ndarray:
    """Each row's household identifiers as one string of tokens (``<rank><kind>:<value>``
    joined by U+001F; ``""`` for a row with none).

    Parameters
    ----------
    columns
        Personal columns of one file, header → cells (``n`` each, ``""`` or null when
        empty; a pyarrow string column is read as it is). Columns of no kind
        (:func:`identity_kind` is None) are ignored; name columns are joined in their
        order ("Nom" then "Prénom"); each other column gives a token.
    n
        Number of rows.

    Notes
    -----
    :func:`identity_codes` then its strings spread to the rows.
    """
    codes, distinct = identity_codes(columns, n)
    return distinct[codes]


def _factorized(cells: Iterable[str] | pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """A column's per-row codes and its distinct values (null and missing as ``""``)."""
    if isinstance(cells, (pa.Array, pa.ChunkedArray)):
        dictionary, codes = _dictionary_of(pc.fill_null(cells, ""))
        return codes, [str(v) for v in dictionary.to_pylist()]
    codes, distinct = pd.factorize(pd.Series(cells, dtype="string").fillna(""))
    return codes, [str(v) for v in distinct]


def identity_codes(
    columns: Mapping[str, Iterable[str] | pa.Array | pa.ChunkedArray], n: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`identity_tokens` as codes: per row, the index of its tokens' string among
    the distinct ones (object array, no two equal, ``""`` among them when a row has none).

    Each distinct combination of the identity cells is folded once, then spread back
    to its rows: an export repeats its tenants, and a row-by-row loop made ingestion of
    a million-row export with personal columns 6× slower (``bench.ingest``).
    """
    used = [(h, kind) for h in columns if (kind := identity_kind(h)) is not None]
    if not used:
        return np.zeros(n, dtype=np.int64), np.array([""], dtype=object)
    # Factorised column by column, the codes combined pairwise (re-factorised each time,
    # so they stay below n): a row's combination is one integer, folded once.
    uniques: list[list[str]] = []
    codes_per_column: list[np.ndarray] = []
    combined = np.zeros(n, dtype=np.int64)
    for header, _ in used:
        codes, distinct = _factorized(columns[header])
        uniques.append(distinct)
        codes_per_column.append(codes)
        combined, _ = pd.factorize(combined * max(len(distinct), 1) + codes)
    # The first row of each combination, in the order of the combined codes (0, 1, …):
    # factorize numbers them as they first appear, so where the running maximum grows.
    # (Not np.unique's sort: 0.13 s to 0.08 s CPU here on bench.ingest's million rows.)
    peak = np.maximum.accumulate(combined)
    first = np.flatnonzero(np.diff(peak, prepend=-1) > 0)
    kinds = [kind for _, kind in used]
    folded = [
        _combo_tokens(
            tuple(u[c[row]] for u, c in zip(uniques, codes_per_column, strict=True)), kinds
        )
        for row in first
    ]
    # Two combinations may fold alike ("Apt 12" and "APT 12"): one string each.
    same, distinct_tokens = pd.factorize(np.asarray(folded, dtype=object))
    return same[combined], np.asarray(distinct_tokens, dtype=object)


# --------------------------------------------------------------------------- keys
def _hmac(secret: bytes, texts: Iterable[str]) -> list[str]:
    return [
        hmac.new(secret, t.encode("utf-8"), hashlib.sha256).hexdigest()[:KEY_HEX] for t in texts
    ]


def _length(values: Iterable[str]) -> int:
    return (
        len(values)
        if isinstance(values, (pd.Series, np.ndarray, list, tuple))
        else len(list(values))
    )


def _rows(values: Iterable[str], rows: np.ndarray) -> list[str]:
    """``values`` at ``rows``, as Python strings."""
    if isinstance(values, pd.Series):
        return [str(v) for v in values.iloc[rows].tolist()]
    listed = values if isinstance(values, (list, tuple, np.ndarray)) else list(values)
    return [str(listed[i]) for i in rows.tolist()]


def household_keys(
    tokens: Iterable[str] | pd.Categorical,
    sources: Iterable[str],
    report_ids: Iterable[str],
    secret: bytes,
) -> np.ndarray:
    """The household key of each report (see the module docstring).

    Parameters
    ----------
    tokens
        Per report, :func:`identity_tokens`' string (``""`` when none: its own household).
    sources, report_ids
        Per report: what makes a report without identifier its own household.
    secret
        The site's secret (:func:`load_secret`); never empty.

    Returns
    -------
    numpy.ndarray
        ``KEY_HEX`` hex characters per report (object dtype).
    """
    codes, keys = household_key_codes(tokens, sources, report_ids, secret)
    return keys[codes]


def household_key_codes(
    tokens: Iterable[str] | pd.Categorical,
    sources: Iterable[str],
    report_ids: Iterable[str],
    secret: bytes,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`household_keys` as codes: per report, the index of its key among ``keys``
    (object dtype; a report alone in its household has its own, after the others'), so
    that a column of keys is built from the few distinct ones (no Python string per
    report: the key column of bench.ingest's million rows in 0.1 s instead of 0.25 s).
    """
    if not secret:
        raise ValueError("a household key needs the site's secret")
    # Through the distinct token strings (a Categorical from ingestion: its codes).
    toks = (
        tokens
        if isinstance(tokens, (pd.Series, pd.Categorical))
        else np.asarray(list(tokens), dtype=object)
    )
    row_codes, observed = pd.factorize(toks)  # missing: -1, read as ""
    texts = np.array([*(str(v) for v in observed), ""], dtype=object)
    n = len(row_codes)
    if not (_length(sources) == _length(report_ids) == n):
        raise ValueError("tokens, sources and report_ids differ in length")
    # Per report, its text's index in texts (a missing one, -1: the last, "").
    codes = np.where(row_codes < 0, len(texts) - 1, row_codes).astype(np.int64)
    alone = np.flatnonzero(texts[codes] == "")
    # Only these rows' sources and ids become Python strings (not a million of each).
    srcs, ids = _rows(sources, alone), _rows(report_ids, alone)
    own = _hmac(secret, (f"{_OWN}:{s}:{i}" for s, i in zip(srcs, ids, strict=True)))
    codes[alone] = len(texts) + np.arange(len(alone))
    key_of_text = np.empty(len(texts), dtype=object)
    # Linked once per distinct set of identifiers, then spread back to the reports.
    filled = np.flatnonzero(texts != "")
    if not len(filled):
        return codes, np.concatenate([key_of_text, np.asarray(own, dtype=object)])
    distinct = texts[filled]
    rows_tokens: list[list[str]] = []
    for t in distinct:
        parts = t.split(_SEP)
        better = [p for p in parts if not p.startswith(_RANK["name"] + "name:")]
        # A name links only the reports known by nothing better.
        rows_tokens.append(better or parts)
    vocab = {tok: j for j, tok in enumerate(sorted({t for ts in rows_tokens for t in ts}))}
    k, m = len(distinct), len(vocab)
    row_idx = np.repeat(np.arange(k), [len(ts) for ts in rows_tokens])
    col_idx = np.fromiter((vocab[t] for ts in rows_tokens for t in ts), np.int64, len(row_idx))
    graph = coo_matrix(
        (np.ones(len(row_idx), np.int8), (row_idx, k + col_idx)), shape=(k + m, k + m)
    )
    _, labels = connected_components(graph, directed=False)
    # Each component's most preferred identifier: its smallest token (vocab is sorted,
    # so the first token met in vocabulary order).
    best: dict[int, str] = {}
    for tok, j in vocab.items():
        best.setdefault(int(labels[k + j]), tok)
    comps = labels[:k]
    chosen = sorted({int(c) for c in comps})
    keyed = dict(zip(chosen, _hmac(secret, (best[c] for c in chosen)), strict=True))
    key_of_text[filled] = [keyed[int(c)] for c in comps]
    return codes, np.concatenate([key_of_text, np.asarray(own, dtype=object)])


def unkeyed_digest(text: str) -> str:
    """SHA-256 of ``text`` without a key, cut like a key: what a key must never equal
    (tests check it)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:KEY_HEX]


__all__ = [
    "HOUSEHOLD_COLUMN",
    "KEY_HEX",
    "KINDS",
    "household_key_codes",
    "household_keys",
    "identity_codes",
    "identity_kind",
    "identity_tokens",
    "normalise_email",
    "normalise_flat",
    "normalise_name",
    "normalise_phone",
]
