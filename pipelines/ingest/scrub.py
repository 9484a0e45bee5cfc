"""Remove personal data from text: phone numbers, e-mails, flat numbers and names.

Residents' reports carry, in their free text, what identifies them: "rappeler Mme Martin
au 06 12 34 56 78, appt 34". Ingestion keeps the problem and drops the person: each match
is replaced by a placeholder (``[téléphone]``, ``[courriel]``, ``[logement]``, ``[nom]``)
and counted. What locates the problem at building scale is kept on purpose: "bâtiment B",
"escalier 3", "entrée 2", "2e étage", street numbers and names ("rue du Docteur Roux",
"rue Madame"), postcodes, dates, times, decimals and coordinates.

Modes (what a column's meaning lets go):

- ``"text"`` (free text: description, sub-category, building reference, status,
  channel, planners' notes): every rule;
- ``"address"`` (addresses and their parts): phones, e-mails and flat numbers only. The
  name rules never run on an address, whose words are street names ("rue du Docteur
  Roux", "place Monsieur le Prince"), but a phone, an e-mail or "appt 34" typed into the
  address field still goes;
- ``"id"`` (the sources' report identifiers): phones, e-mails and a capitalised name
  after a civility ("DI-2024-00003 Mme Durand"; "MME-45", "DR-2024-001" stay), and
  :func:`scrub_ids` keeps distinct identifiers distinct.

The rules, and why they are written here, are in :mod:`pipelines.ingest.scrub_rules`;
this module applies them: each rule is one ``pyarrow.compute`` kernel call over all the
(distinct, suspect) values of a column, never one call per row, and the replacements
are counted by the placeholders they write.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.ingest.scrub_rules import (
    DISGUISED,
    FLOOR_NAMED,
    GROUPS,
    GROUPS_BY_MODE,
    GUARD,
    HYPHENS,
    INVISIBLE,
    MODES,
    OTHER_DIGIT_CODES,
    OTHER_DIGITS,
    PLACEHOLDERS,
    RULES_BY_MODE,
    TRIGGER_ID,
    TRIGGERS,
)
from pipelines.ingest.values import arrow_strings, arrow_view, to_str_series


def empty_counts() -> dict[str, int]:
    """Zero counts for every kind of personal data."""
    return dict.fromkeys(PLACEHOLDERS, 0)


def add_counts(total: dict[str, int], more: dict[str, int]) -> dict[str, int]:
    """Sum two count dictionaries (a new dictionary)."""
    return {k: int(total.get(k, 0)) + int(more.get(k, 0)) for k in PLACEHOLDERS}


def _placeholders(arr: pa.Array) -> np.ndarray:
    """Per value, how many placeholders of each kind it holds (columns in PLACEHOLDERS order)."""
    return np.column_stack(
        [
            np.asarray(pc.fill_null(pc.count_substring(arr, p), 0).to_numpy(zero_copy_only=False))
            for p in PLACEHOLDERS.values()
        ]
    )


def _check_mode(mode: str) -> str:
    if mode not in RULES_BY_MODE:
        raise ValueError(f"unknown scrubbing mode {mode!r}: one of {', '.join(MODES)}")
    return mode


def _flagged(arr: pa.Array, pattern: str) -> np.ndarray:
    """Positions of the values that ``pattern`` matches."""
    hit = pc.fill_null(pc.match_substring_regex(arr, pattern), False)
    return np.flatnonzero(np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool))


def _apply(part: pa.Array, mode: str) -> pa.Array:
    """Every rule of ``mode`` over ``part``: one kernel call per rule for all the values
    its group's trigger flags."""
    if pc.any(pc.fill_null(pc.match_substring(part, GUARD), False)).as_py():
        part = pc.replace_substring(part, GUARD, "")  # a typed guard cannot shield a name
    guarded = False
    for name in GROUPS_BY_MODE[mode]:
        group = GROUPS[name]
        idx = _flagged(part, group.trigger)
        if len(idx) == 0:
            continue
        sub = part.take(pa.array(idx)) if len(idx) < len(part) else part
        for rule in group.rules:
            sub = pc.replace_substring_regex(sub, rule.pattern, rule.replacement)
        guarded = guarded or any(rule.kind == "guard" for rule in group.rules)
        if len(idx) == len(part):
            part = sub
        else:
            mask = np.zeros(len(part), dtype=bool)
            mask[idx] = True
            part = pc.replace_with_mask(part, pa.array(mask), sub)
    return pc.replace_substring(part, GUARD, "") if guarded else part


#: Each digit of another script, or in a circle NFKC leaves as it is (« ❶ »), as its
#: ASCII digits.
_PLAIN_DIGITS = {
    c: str(int(unicodedata.numeric(chr(c)))) for c in (*OTHER_DIGIT_CODES, *range(0x2776, 0x2794))
}


def plain_digits(part: pa.Array) -> pa.Array:
    """``part`` with the digits of other scripts (:data:`OTHER_DIGITS`: « ٠٦ », « ०६ »)
    written as ASCII digits, in the values that hold any."""
    idx = _flagged(part, OTHER_DIGITS + r"|[\x{2776}-\x{2793}]")
    if len(idx) == 0:
        return part
    sub = pa.array(
        [v.translate(_PLAIN_DIGITS) for v in part.take(pa.array(idx)).to_pylist()], part.type
    )
    mask = np.zeros(len(part), dtype=bool)
    mask[idx] = True
    return pc.replace_with_mask(part, pa.array(mask), sub)


def _undisguised(part: pa.Array) -> pa.Array:
    """``part`` with what hides text from the rules taken out or made plain: invisible
    characters removed, other spaces, hyphens, full-width forms and digits or letters
    in another style written as their plain forms (Unicode NFKC, then ``-``), digits of
    other scripts as ASCII digits (:func:`plain_digits`), in the values that hold any."""
    idx = _flagged(part, DISGUISED)
    if len(idx) == 0:
        return part
    sub = pc.replace_substring_regex(part.take(pa.array(idx)), INVISIBLE, "")
    sub = pc.replace_substring_regex(pc.utf8_normalize(sub, form="NFKC"), HYPHENS, "-")
    sub = plain_digits(sub)
    mask = np.zeros(len(part), dtype=bool)
    mask[idx] = True
    return pc.replace_with_mask(part, pa.array(mask), sub.cast(part.type))


def _scrub_arrow(arr: pa.Array, mode: str = "text") -> tuple[pa.Array, np.ndarray]:
    """Scrub distinct values; return them and the replacements made in each, by kind."""
    counts = np.zeros((len(arr), len(PLACEHOLDERS)), dtype=np.int64)
    if len(arr) == 0:
        return arr, counts
    idx = _flagged(arr, TRIGGERS[mode])
    if len(idx) == 0:
        return arr, counts
    part = _undisguised(arr.take(pa.array(idx)))
    before = _placeholders(part)
    part = _apply(part, mode)
    # Each replacement writes exactly one placeholder: count them rather than run every
    # pattern a second time.
    counts[idx] = _placeholders(part) - before
    mask = np.zeros(len(arr), dtype=bool)
    mask[idx] = True
    return pc.replace_with_mask(arr, pa.array(mask), part), counts


def scrub_codes(
    dictionary: pa.Array, codes: np.ndarray, *, mode: str = "text"
) -> tuple[pa.Array, dict[str, int]]:
    """Scrub dictionary-encoded text: the distinct values, and the rows' codes into them.

    Parameters
    ----------
    dictionary
        The distinct values (string array; nulls allowed).
    codes
        int64, per row, its index in ``dictionary`` (negative: a missing value).
    mode
        ``"text"`` (every rule), ``"address"`` (no name rules) or ``"id"`` (phones,
        e-mails and names after a civility); see the module docstring.

    Returns
    -------
    scrubbed, counts
        The scrubbed dictionary (same length and order) and the number of replacements
        of each kind over the rows (a value counts as many times as rows hold it).
    """
    (scrubbed,), (counts,) = scrub_codes_together([dictionary], [codes], modes=[mode])
    return scrubbed, counts


def scrub_codes_together(
    dictionaries: list[pa.Array],
    codes: list[np.ndarray],
    *,
    modes: Sequence[str] | None = None,
) -> tuple[list[pa.Array], list[dict[str, int]]]:
    """:func:`scrub_codes` of several columns, the distinct values of the columns of one
    mode scrubbed in one pass: pyarrow compiles each rule's regular expression at every
    call (a few milliseconds for the rules with Unicode classes), once here for all the
    columns of a mode.

    ``modes``: one per column (default: ``"text"`` for all).
    """
    if not dictionaries:
        return [], []
    modes = [_check_mode(m) for m in (modes or ["text"] * len(dictionaries))]
    if len(modes) != len(dictionaries):
        raise ValueError("one mode per column")
    out_dicts: list[pa.Array | None] = [None] * len(dictionaries)
    out_counts: list[dict[str, int] | None] = [None] * len(dictionaries)
    for mode in dict.fromkeys(modes):
        which = [i for i, m in enumerate(modes) if m == mode]
        large = [
            dictionaries[i].cast(pa.large_string())
            if not pa.types.is_large_string(dictionaries[i].type)
            else dictionaries[i]
            for i in which
        ]
        scrubbed, per_value = _scrub_arrow(
            pa.concat_arrays(large) if len(large) > 1 else large[0], mode
        )
        start = 0
        for i in which:
            dictionary, rows = dictionaries[i], codes[i]
            end = start + len(dictionary)
            part = scrubbed.slice(start, len(dictionary)) if len(which) > 1 else scrubbed
            made = per_value[start:end]
            totals = np.zeros(len(PLACEHOLDERS), np.int64)
            if made.any():  # weigh each value by the rows that hold it
                weights = np.bincount(rows[rows >= 0], minlength=len(dictionary))
                totals = (made * weights[:, None]).sum(axis=0)
            out_dicts[i] = part
            out_counts[i] = {kind: int(n) for kind, n in zip(PLACEHOLDERS, totals, strict=True)}
            start = end
    return [d for d in out_dicts if d is not None], [c for c in out_counts if c is not None]


def scrub_series(values: pd.Series, *, mode: str = "text") -> tuple[pd.Series, dict[str, int]]:
    """Replace personal data in a column of text by placeholders.

    Distinct values are scrubbed once (free text repeats more than one would think:
    "Ascenseur en panne."), and only those a cheap first pattern flags go through the
    rules.

    Parameters
    ----------
    values
        Text, any string dtype; missing values stay missing.
    mode
        ``"text"`` (free text: every rule), ``"address"`` (no name rules: street names
        survive) or ``"id"`` (phones, e-mails and names after a civility).

    Returns
    -------
    scrubbed, counts
        The scrubbed text (dtype ``str``, aligned on ``values.index``) and the number of
        replacements of each kind (``phones``, ``emails``, ``flats``, ``names``) over
        all rows.
    """
    _check_mode(mode)
    if len(values) == 0:
        return pd.Series([], index=values.index, dtype="str"), empty_counts()
    codes, uniques = pd.factorize(values)
    uniq = arrow_strings(pd.Series(uniques, dtype="str"))
    scrubbed, counts = scrub_codes(uniq, codes, mode=mode)
    taken = scrubbed.take(pa.array(codes, mask=codes < 0))
    return to_str_series(taken, values.index), counts


def scrub_text(text: str | None, *, mode: str = "text") -> str | None:
    """Scrub one string (see :func:`scrub_series`). For many strings, call
    :func:`scrub_series` once: each call runs (and pyarrow compiles) the kernels of the
    rules that the text may need; the answers are remembered for repeated texts."""
    if text is None:
        return None
    return _scrub_one(str(text), _check_mode(mode))


@functools.lru_cache(maxsize=4096)
def _scrub_one(text: str, mode: str) -> str:
    return str(scrub_series(pd.Series([text], dtype="str"), mode=mode)[0].iloc[0])


def scrub_ids(values: pd.Series) -> tuple[pd.Series, dict[str, int]]:
    """Identifiers with their phone numbers, e-mails and names after a civility
    replaced, distinct ones kept distinct.

    An identifier the rules change becomes its scrubbed text, ``#`` and the rank of the
    original among the changed ones (in sorted order): two identifiers that differed
    still differ, one seen twice (a duplicate, a later version of a ticket) stays the
    same, and the rank says nothing of the number. Ids are mostly distinct, so the
    cheap first pattern runs on every row and only the flagged rows are scrubbed.

    Parameters
    ----------
    values
        ``str`` Series (missing or ``""``: no id).

    Returns
    -------
    ids, counts
        The identifiers (``str``, aligned on ``values.index``) and the replacements
        made, over all rows.
    """
    if len(values) == 0:
        return values, empty_counts()
    rows = _flagged(arrow_view(values), TRIGGER_ID)
    if len(rows) == 0:
        return values, empty_counts()
    arr = arrow_strings(values)
    originals = arr.take(pa.array(rows))
    distinct = pc.unique(originals)
    scrubbed, per_value = _scrub_arrow(distinct, "id")
    changed = np.asarray(
        pc.fill_null(pc.not_equal(scrubbed, distinct), False).to_numpy(zero_copy_only=False),
        dtype=bool,
    )
    if not changed.any():
        return values, empty_counts()
    changed_idx = np.flatnonzero(changed)
    order = np.asarray(pc.sort_indices(distinct.take(pa.array(changed_idx))).to_numpy())
    rank = np.empty(len(changed_idx), dtype=np.int64)
    rank[order] = np.arange(1, len(changed_idx) + 1)
    renamed = pc.binary_join_element_wise(
        scrubbed.take(pa.array(changed_idx)),
        pa.array([f"#{r}" for r in rank.tolist()], pa.large_string()),
        pa.scalar("", pa.large_string()),
    )
    final = pc.replace_with_mask(scrubbed, pa.array(changed), renamed)
    at = np.asarray(pc.index_in(originals, value_set=distinct).to_numpy(zero_copy_only=False))
    mask = np.zeros(len(values), dtype=bool)
    mask[rows] = True
    out = pc.replace_with_mask(arr, pa.array(mask), final.take(pa.array(at)))
    made = per_value[at].sum(axis=0)
    counts = {kind: int(n) for kind, n in zip(PLACEHOLDERS, made, strict=True)}
    return to_str_series(out, values.index), counts


def names_dwelling(texts: pd.Series) -> np.ndarray:
    """Whether each (scrubbed) text names a flat (its ``[logement]`` placeholder) or a
    floor: such a report is person-related whatever its category
    (:func:`pipelines.taxonomy.person_related`). One kernel call per rule over the
    distinct values."""
    if texts.empty:
        return np.zeros(0, dtype=bool)
    encoded = pc.dictionary_encode(arrow_view(texts.astype("string")))
    chunks = encoded.chunks if isinstance(encoded, pa.ChunkedArray) else [encoded]
    out = []
    for chunk in chunks:  # each chunk has its own dictionary of distinct texts
        words = chunk.dictionary
        hit = pc.or_(
            pc.match_substring(words, PLACEHOLDERS["flats"]),
            pc.match_substring_regex(words, FLOOR_NAMED),
        )
        per_row = pc.take(hit, chunk.indices)
        out.append(np.asarray(pc.fill_null(per_row, False).to_numpy(zero_copy_only=False), bool))
    return np.concatenate(out) if out else np.zeros(len(texts), dtype=bool)
