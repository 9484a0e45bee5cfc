"""A French postal address parsed into matchable parts (:func:`parse_address`, and
:func:`parse_addresses` over a column, once per distinct text): house numbers (ranges
and lists), suffix, street, building, entrance, staircase, residence, postcode and city,
in the canonical form :mod:`pipelines.geocode.addresses` defines (its docstring gives
the rules) and with its patterns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

from pipelines.geocode.addresses import (
    _ARRONDISSEMENT_RE,
    _BUILDING_RE,
    _COMPLEMENT_HINT_RE,
    _ENTRANCE_RE,
    _IGNORED_RE,
    _MORE_NUMBER_RE,
    _NUMBER_COMMA_RE,
    _NUMBER_RE,
    _NUMBERED_RE,
    _POSTCODE_RE,
    _RESIDENCE_RE,
    _SPACED_POSTCODE_RE,
    _SPACES_RE,
    _STAIRCASE_RE,
    _SUFFIX_RE,
    _TYPE_ABBREV,
    _TYPE_TOKENS,
    PARSED_COLUMNS,
    ParsedAddress,
    _canonical_suffix,
    _clean,
    _street_text,
    street_key,
)


def _take(pattern: re.Pattern[str], s: str) -> tuple[str | None, str]:
    """First captured label of ``pattern`` (upper case) and ``s`` with matches cut out."""
    found: str | None = None

    def repl(m: re.Match[str]) -> str:
        nonlocal found
        if found is None:
            found = m.group(1).upper()
        return ","

    rest = pattern.sub(repl, s)
    return found, rest


def _starts_street(segment: str) -> bool:
    first = segment.split(" ", 1)[0]
    return bool(first) and (
        first[0].isdigit() or _NUMBERED_RE.match(first) is not None or first in _TYPE_TOKENS
    )


def _split_number(segment: str) -> tuple[tuple[int, ...], str | None, str]:
    """Leading house numbers and suffix of a street segment, and the rest."""
    m = _NUMBER_RE.match(segment)
    if not m:
        return (), None, segment
    numbers = [int(m.group(1))]
    pos = m.end()
    suffix: str | None = None
    sm = _SUFFIX_RE.match(segment, pos)
    if sm:
        letter = sm.group(1)
        rest = segment[sm.end() :].strip(" ,")
        glued = sm.start(1) == pos
        # "145 r. La Fayette": a spaced lone letter that is a street-type abbreviation, not
        # followed by another street type, is the street type ("r" = rue), not a suffix.
        is_type = (
            not glued
            and len(letter) == 1
            and letter in _TYPE_ABBREV
            and rest != ""
            and rest.split(" ", 1)[0] not in _TYPE_TOKENS
        )
        if not is_type:
            suffix = _canonical_suffix(letter)
            pos = sm.end()
    while True:
        mm = _MORE_NUMBER_RE.match(segment, pos)
        if not mm:
            break
        numbers.append(int(mm.group(1)))
        pos = mm.end()
        sm = _SUFFIX_RE.match(segment, pos)
        if sm and not (len(sm.group(1)) == 1 and sm.group(1) in _TYPE_ABBREV):
            pos = sm.end()
    return tuple(numbers), suffix, segment[pos:].strip(" ,")


def _clean_city(city: str) -> str | None:
    city = city.replace(",", " ").replace("'", " ")
    city = _SPACES_RE.sub(" ", city).strip()
    city = _ARRONDISSEMENT_RE.sub("", city).strip()
    return city or None


def parse_address(text: object) -> ParsedAddress:
    """Parse one French address written by a person.

    Parameters
    ----------
    text
        Free text such as ``"12 allée Marguerite Duras, bât B, esc 3, 93140 Bondy"``.
        ``None``/NA give an empty :class:`ParsedAddress`.

    Returns
    -------
    ParsedAddress
        See the module docstring for the canonical forms.

    Examples
    --------
    >>> p = parse_address("5 av. Jean Jaurès 93140 Bondy")
    >>> (p.number, p.street, p.postcode, p.city)
    (5, 'avenue jean jaures', '93140', 'bondy')
    """
    if text is None or text is pd.NA or (isinstance(text, float) and text != text):
        return ParsedAddress()
    s = _clean(str(text))
    if not s:
        return ParsedAddress()

    postcode = city = None
    s = _SPACED_POSTCODE_RE.sub(r"\1\2", s)
    matches = list(_POSTCODE_RE.finditer(s))
    if matches and matches[-1].start() > 0:
        m = matches[-1]
        postcode = m.group(1)
        after, _, rest_after = s[m.end() :].partition(",")
        city = _clean_city(_IGNORED_RE.sub(" ", after))
        head = s[: m.start()].rstrip(" ,")
        if city is None:
            # "…, Bondy 93140": the city written just before the postcode, after a comma.
            before, sep, last = head.rpartition(",")
            last = last.strip()
            if sep and not _starts_street(last) and not any(c.isdigit() for c in last):
                city = _clean_city(last)
                head = before
        s = head + ("," + rest_after if rest_after else "")

    # "12, rue X": a comma right after the leading number belongs to the number.
    if "," in s:
        s = _NUMBER_COMMA_RE.sub(r"\1 ", s)
    building = entrance = staircase = residence = None
    if _COMPLEMENT_HINT_RE.search(s):
        s = _IGNORED_RE.sub(",", s)
        building, s = _take(_BUILDING_RE, s)
        entrance, s = _take(_ENTRANCE_RE, s)
        staircase, s = _take(_STAIRCASE_RE, s)
        rm = _RESIDENCE_RE.search(s)
        if rm:
            name = _SPACES_RE.sub(" ", rm.group("name")).strip(" ,'")
            residence = ("residence " + _street_text(name)).strip() if name else "residence"
            s = s[: rm.start()] + "," + s[rm.end() :]

    segments = [seg.strip(" ,'-") for seg in s.split(",")]
    segments = [seg for seg in segments if seg]

    street_idx = next((i for i, seg in enumerate(segments) if _starts_street(seg)), None)
    if street_idx is None and residence is None and segments:
        street_idx = 0
    if postcode is None and city is None and len(segments) >= 2:
        last = segments[-1]
        if (
            len(segments) - 1 != street_idx
            and not any(c.isdigit() for c in last)
            and not _starts_street(last)
        ):
            city = _clean_city(last)

    numbers: tuple[int, ...] = ()
    suffix = street = None
    if street_idx is not None:
        numbers, suffix, rest = _split_number(segments[street_idx])
        street = _street_text(rest) or None
    if street is None and numbers and residence is not None:
        # "2 Résidence des Floralies": a numbered residence is addressed as a street (the
        # BAN lists such residences as "voies").
        street = residence

    number = numbers[0] if numbers else None
    head = " ".join(p for p in ("-".join(map(str, numbers)) if numbers else None, suffix) if p)
    place = street or residence
    left = " ".join(p for p in (head, place) if p)
    right = " ".join(p for p in (postcode, city) if p)
    normalised = ", ".join(p for p in (left, right) if p) or None
    return ParsedAddress(
        number=number,
        suffix=suffix,
        numbers=numbers,
        street=street,
        street_key=street_key(street),
        residence=residence,
        building=building,
        entrance=entrance,
        staircase=staircase,
        postcode=postcode,
        city=city,
        address_normalised=normalised,
    )


def parse_addresses(addresses: pd.Series | Iterable[object]) -> pd.DataFrame:
    """Parse many addresses, once per distinct string.

    Parameters
    ----------
    addresses
        A Series of free-text addresses (NA allowed).

    Returns
    -------
    DataFrame
        Aligned on the input index, columns :data:`PARSED_COLUMNS`: ``number`` as
        ``Int64``, ``numbers`` as tuples, the other columns as ``string``.
    """
    series = addresses if isinstance(addresses, pd.Series) else pd.Series(list(addresses))
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    parsed = [parse_address(u) for u in uniques]
    parsed.append(ParsedAddress())  # code -1 (missing) takes the last row
    table = pd.DataFrame(parsed, columns=PARSED_COLUMNS)
    out = table.iloc[codes].reset_index(drop=True)
    out.index = series.index
    out["number"] = out["number"].astype("Int64")
    for column in PARSED_COLUMNS:
        if column not in ("number", "numbers"):
            out[column] = out[column].astype("string")
    return out
