"""An export's category labels onto the taxonomy: exact, then approximate, else « autre ».

1. **Exact**: the label, folded (no accents, lower case, punctuation as spaces: the
   taxonomy's ``normalise_label``), is a label, code or synonym the taxonomy knows
   (``map_labels``, the very look-up ingestion does); « Autre » and « Divers » are
   exactly ``autre``.
2. **Approximate**: the folded label against every folded synonym (:func:`similarity`,
   rapidfuzz: word order and extra words do not count, « Panne d'ascenseur » meets
   « panne ascenseur », « Fuite d'eau dans le hall » meets « fuite », and a misspelt word
   still meets its synonym); the best score at or above :data:`FUZZY_THRESHOLD` wins,
   ties going to the longest synonym (« eau chaude » before « eau »).
3. **Unmapped**: « autre », listed, for the analyst to decide.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rapidfuzz import fuzz

from pipelines.taxonomy import (
    BY_CODE,
    CODES,
    DEFAULT_SYNONYMS,
    UNKNOWN,
    map_labels,
    normalise_label,
)

#: Lowest ``token_set_ratio`` (0-100) for an approximate match.
FUZZY_THRESHOLD = 85.0

#: Labels that say « other » on purpose: exactly ``autre``, not unmapped.
OTHER_LABELS = frozenset({"autre", "autres", "divers", "other", "others", "misc"})

EXACT, FUZZY, UNMAPPED, CHOSEN = "exact", "approché", "non reconnu", "choisi"


@dataclass(frozen=True)
class LabelChoice:
    """Where one label of the export goes.

    Attributes
    ----------
    label
        The label as the export writes it.
    rows
        Its number of rows in the export(s).
    code
        The taxonomy code proposed (``autre`` when unmapped).
    how
        :data:`EXACT`, :data:`FUZZY`, :data:`UNMAPPED` or :data:`CHOSEN` (by the analyst).
    matched
        For an approximate match, the synonym it met, and its score.
    """

    label: str
    rows: int
    code: str
    how: str
    matched: str = ""
    score: float = 0.0

    def comment(self) -> str:
        """The French comment written beside the label in the TOML."""
        rows = f"{self.rows} ligne{'s' if self.rows > 1 else ''}"
        if self.how == EXACT:
            return f"identique ({rows})"
        if self.how == FUZZY:
            return f"approché : « {self.matched} », score {self.score:.0f} ({rows}) ; à vérifier"
        if self.how == CHOSEN:
            return f"choisi par vous ({rows})"
        return f"NON RECONNU : rangé dans « autre » ({rows}) ; à vérifier"


def similarity(label: str, synonym: str) -> float:
    """How close a folded label is to a folded synonym (0-100): rapidfuzz's
    ``token_set_ratio`` (word order and extra words do not count), or, for a one-word
    synonym of five letters or more, its ``ratio`` with the closest word of the label
    (a misspelt word among others: « ascenceur bloqué » meets « ascenseur »)."""
    score = fuzz.token_set_ratio(label, synonym)
    if " " not in synonym and len(synonym) >= 5:
        words = [w for w in label.split() if len(w) >= 5]
        score = max([score, *(fuzz.ratio(w, synonym) for w in words)])
    return float(score)


def propose(label: str, rows: int = 0, *, threshold: float = FUZZY_THRESHOLD) -> LabelChoice:
    """Where ``label`` goes (see the module's docstring for the order of the tries)."""
    folded = normalise_label(label)
    if folded in OTHER_LABELS or folded == normalise_label(BY_CODE[UNKNOWN].label):
        return LabelChoice(label, rows, UNKNOWN, EXACT)
    (code,), _ = map_labels([label])
    if code != UNKNOWN:
        return LabelChoice(label, rows, code, EXACT)
    if folded:
        scored = [(similarity(folded, s), s) for s in DEFAULT_SYNONYMS]
        score, best = max(scored, key=lambda hit: (hit[0], len(hit[1])))
        if score >= threshold:
            return LabelChoice(label, rows, DEFAULT_SYNONYMS[best], FUZZY, best, score)
    return LabelChoice(label, rows, UNKNOWN, UNMAPPED)


def propose_all(
    labels: Mapping[str, int], *, chosen: Mapping[str, str] | None = None
) -> list[LabelChoice]:
    """Where each label goes; ``chosen`` (label → code, from the analyst) wins.

    Raises
    ------
    ValueError
        A chosen code is not a taxonomy code (the caller names it in its message).
    """
    chosen = {normalise_label(k): v for k, v in (chosen or {}).items()}
    out = []
    for label, rows in labels.items():
        code = chosen.get(normalise_label(label))
        if code is not None:
            if code not in CODES:
                raise ValueError(code)
            out.append(LabelChoice(label, rows, code, CHOSEN))
        else:
            out.append(propose(label, rows))
    return out


def unmapped(choices: list[LabelChoice]) -> list[LabelChoice]:
    """The labels left unmapped (sent to ``autre``)."""
    return [c for c in choices if c.how == UNMAPPED]
