"""French for readers, defined once: numbers, months, dates, periods, plurals, and the
accent folding used to compare labels and names.

Every figure a committee reads goes through these (legends, popups, charts, the method
note, messages), so a number looks the same everywhere: a decimal comma and a narrow
no-break space between thousands (``12 345,6``).
"""

from __future__ import annotations

import unicodedata

import pandas as pd

#: Abbreviated month names, as the French press and administrations write them.
MONTHS_FR = (
    "janv.", "févr.", "mars", "avr.", "mai", "juin",
    "juil.", "août", "sept.", "oct.", "nov.", "déc.",
)  # fmt: skip


def fr_number(value: float, decimals: int = 0, *, sign: bool = False) -> str:
    """A number in French: decimal comma, narrow no-break space between thousands; with
    ``sign``, a ``+`` before positive values (changes)."""
    text = f"{value:{'+' if sign else ''},.{decimals}f}"
    return text.replace(",", "\u202f").replace(".", ",")


def fr_month(period: pd.Period, *, short: bool = False) -> str:
    """``janv. 2024`` (or ``janv. 24`` with ``short``)."""
    year = f"{period.year % 100:02d}" if short else str(period.year)
    return f"{MONTHS_FR[period.month - 1]} {year}"


def fr_date(ts: pd.Timestamp) -> str:
    """``31/12/2024``."""
    return f"{ts:%d/%m/%Y}"


def fr_period(start: pd.Timestamp | None, end: pd.Timestamp | None) -> str:
    """``du 01/01/2024 au 31/12/2025``, or '' when a bound is missing."""
    if start is None or end is None or pd.isna(start) or pd.isna(end):
        return ""
    return f"du {fr_date(start)} au {fr_date(end)}"


def plural(n: float, word: str, words: str | None = None) -> str:
    """``1 signalement``, ``3 signalements``, ``0 signalement`` (French: 0 and 1 singular)."""
    return f"{fr_number(n)} {word if abs(n) < 2 else (words or word + 's')}"


def strip_accents(text: str) -> str:
    """``text`` without its accents (``"Hôtel"`` → ``"Hotel"``); other characters kept."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


#: Invisible characters that text pasted from a web page, Word or a PDF carries: soft
#: hyphen, zero-width space and joiners, direction marks, embeddings and isolates, word
#: joiner, byte-order mark. A value that only differs by them reads the same.
_INVISIBLE = dict.fromkeys(
    [0x00AD, *range(0x200B, 0x2010), *range(0x202A, 0x202F), 0x2060, *range(0x2066, 0x206A), 0xFEFF]
)


#: Hyphens and minus signs that look like ``-`` (non-breaking hyphen, figure dash, en
#: dash, minus…), as :func:`plain_id` writes them.
_HYPHENS = dict.fromkeys([*range(0x2010, 0x2014), 0x2212, 0xFE63, 0xFF0D], "-")


def plain_id(text: str) -> str:
    """An identifier typed or pasted (``text``) as it reads: compatibility forms made
    plain (Unicode NFKC: full-width ``Ａ`` is ``A``), hyphens and minus signs as ``-``, no
    invisible character (:data:`_INVISIBLE`), single spaces; case and accents kept
    (``"A\u20112024\u200b-001 "`` → ``"A-2024-001"``)."""
    text = unicodedata.normalize("NFKC", str(text).translate(_INVISIBLE)).translate(_HYPHENS)
    return " ".join(text.split())


def fold(text: str) -> str:
    """How names and vocabularies are compared: no accents, lower case (``casefold``),
    single spaces (``" Rez-de-Chaussée  "`` → ``"rez-de-chaussee"``), no invisible
    character (:data:`_INVISIBLE`: ``"décidée\u200b"`` → ``"decidee"``)."""
    return " ".join(strip_accents(str(text).translate(_INVISIBLE)).casefold().split())
