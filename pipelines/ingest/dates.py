"""Dates of the reports from their evidence (:func:`parse_dates`): ISO and French
forms, times with ``h`` or ``:``, offsets and named zones, Excel serial numbers, and a
column's day/month order told by its own values (:func:`date_order`: a first field
above 12 proves day first, a second above 12 month first). Naive times are local
French time (:data:`pipelines.ingest.values.LOCAL_TZ`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.ingest.frmonths import with_month_numbers, without_weekday
from pipelines.ingest.values import (
    LOCAL_TZ,
    _dictionary_of,
    arrow_view,
    filled_cells,
    flags,
    parse_numbers,
    to_str_series,
)

_FR_DATE = r"[0-9]{1,2}[/.\-][0-9]{1,2}[/.\-](?:[0-9]{4}|[0-9]{2})"


_TIME = r"[0-9]{1,2}[:hH][0-9]{2}(?::[0-9]{2}(?:[.,][0-9]{1,9})?)?"


# Month, day and hour may lack their leading zero (« 2024-3-5 9:05 », a hand-made sheet).
_ISO_DAY = r"[0-9]{4}[\-/][0-9]{1,2}[\-/][0-9]{1,2}"


_ISO = _ISO_DAY + r"(?:[T ]+[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?)?"


#: Zones written by name, as offsets (CET and CEST: Central European (Summer) Time).
_NAMED_ZONES = {"UTC": "Z", "GMT": "Z", "CEST": "+02:00", "CET": "+01:00"}


_TZ = r"(?:Z|[+\-][0-9]{2}(?::?[0-9]{2})?| ?UTC| ?GMT| ?CEST| ?CET)"


_SERIAL = r"[0-9]{5}(?:[.,][0-9]+)?"


_FR_FORMATS = (
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y",
    "%d/%m/%y %H:%M",
    "%d/%m/%y %H:%M:%S",
    "%d/%m/%y",
    # Fractions of a second (« 14:02:00.123 », « 14:02:00,5 »), as ISO dates have them.
    "%d/%m/%Y %H:%M:%S.%f",
    "%d/%m/%y %H:%M:%S.%f",
    # 12-hour clocks (US exports write "12/31/2017 11:59:00 PM"; read month first, they
    # reach this list with the day first, see :func:`parse_dates`).
    "%d/%m/%Y %I:%M:%S %p",
    "%d/%m/%Y %I:%M %p",
    "%d/%m/%y %I:%M:%S %p",
    "%d/%m/%y %I:%M %p",
    "%d/%m/%Y %I:%M:%S.%f %p",
    "%d/%m/%y %I:%M:%S.%f %p",
)


#: A date written with its first two fields numeric (day and month, in some order).
_TWO_FIELDS = r"^\s*(?P<a>[0-9]{1,2})[/.\-](?P<b>[0-9]{1,2})[/.\-](?:[0-9]{4}|[0-9]{2})(?:[^0-9]|$)"


_SWAP = r"^(\s*)([0-9]{1,2})([/.\-])([0-9]{1,2})([/.\-])"


#: A date that may be written year first with a two-digit year (« 24-01-15 09:25 »,
#: « 25/11/02 »): swapping its first and third fields (:data:`_YEAR_SWAP`) writes it day
#: first. Day-first dates with a two-digit year (« 15/01/24 ») are written so too: only
#: the dates' place in time tells them apart (:func:`year_first_rows`).
_YEAR_FIRST = r"^(\s*)([0-9]{2})([/.\-])([0-9]{1,2})([/.\-])([0-9]{1,2})([^0-9]|$)"


_YEAR_SWAP = r"\1\6\3\4\5\2\7"


@dataclass(frozen=True)
class DateOrder:
    """Which field of ``a/b/yyyy`` dates is the day, as the values themselves show.

    ``order`` is ``"day_first"`` (some first field above 12), ``"month_first"`` (some
    second field above 12), ``"ambiguous"`` (every first and second field is 12 or less:
    nothing tells), ``"contradictory"`` (both kinds of evidence) or ``"none"`` (no value
    written so). ``day_rows`` and ``month_rows`` are the positions of the values that
    prove each order.
    """

    order: str
    day_rows: np.ndarray
    month_rows: np.ndarray


def date_order(*columns: pd.Series) -> DateOrder:
    """Evidence of day-first or month-first dates in one or more columns of one file.

    A first field above 12 proves day first (31/12/2017); a second field above 12 proves
    month first (12/31/2017). Positions are those of the rows (the columns are aligned).
    """
    day = np.zeros(len(columns[0]) if columns else 0, dtype=bool)
    month = day.copy()
    seen = day.copy()
    for values in columns:
        # The first 11 characters of a cleaned value hold all the pattern reads (at most
        # "dd/mm/yyyy" and the character after): the pattern runs once per distinct
        # prefix, a few thousand in a million dates.
        arr = pc.fill_null(arrow_view(values), "")
        prefixes, codes = _dictionary_of(pc.utf8_slice_codeunits(arr, 0, 11))
        if pc.any(pc.match_substring_regex(prefixes, r"^\p{L}")).as_py():
            # The figures after a day of the week (« Mon 01/15/2024 ») tell it too.
            arr = without_weekday(arr)
            prefixes, codes = _dictionary_of(pc.utf8_slice_codeunits(arr, 0, 11))
        found = pc.extract_regex(prefixes, _TWO_FIELDS)
        a = pc.cast(pc.fill_null(pc.struct_field(found, [0]), "0"), pa.int32()).to_numpy()
        b = pc.cast(pc.fill_null(pc.struct_field(found, [1]), "0"), pa.int32()).to_numpy()
        matched = flags(found.is_valid())
        day_first = ((a > 12) & (b <= 12))[codes]
        month_first = ((b > 12) & (a <= 12))[codes]
        seen |= matched[codes]
        day |= day_first
        month |= month_first
    order = (
        "contradictory"
        if day.any() and month.any()
        else "day_first"
        if day.any()
        else "month_first"
        if month.any()
        else "ambiguous"
        if seen.any()
        else "none"
    )
    return DateOrder(order, np.flatnonzero(day), np.flatnonzero(month))


_FR_CANONICAL = r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}(?: [0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?)?"


def _leading_days(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Per value, the number written before its first ``/`` when that is one or two
    digits (``"7/03/2024"`` gives 7, ``"07/03"`` 7), else -1: read once per distinct
    first three characters."""
    prefixes, codes = _dictionary_of(pc.utf8_slice_codeunits(pc.fill_null(arr, ""), 0, 3))
    found = pc.struct_field(pc.extract_regex(prefixes, r"^(?P<d>[0-9]{1,2})/"), [0])
    days = pc.cast(pc.fill_null(found, "-1"), pa.int64()).to_numpy()
    return days[codes] if len(codes) else np.zeros(0, np.int64)


def _strptime_checked(values: pd.Series, fmt: str) -> pd.Series:
    """``pyarrow.compute.strptime`` (several times faster than ``pd.to_datetime`` on
    distinct values), minus its leniency: it rolls 31/02 over to 2 or 3 March, and
    ``%Y`` takes "24" for the year 24, so the parsed day must equal the written one and
    the year have four digits. For day-first formats (``%d`` first)."""
    arr = arrow_view(values)
    ts = pc.strptime(arr, format=fmt, unit="us", error_is_null=True)
    if isinstance(ts, pa.ChunkedArray):
        ts = ts.combine_chunks()
    micros = np.asarray(
        pc.fill_null(ts.cast(pa.int64()), np.iinfo(np.int64).min).to_numpy(), dtype=np.int64
    )
    stamps = micros.view("datetime64[us]")  # NaT where not parsed
    days = np.asarray(pc.fill_null(pc.day(ts), -2).to_numpy(), dtype=np.int64)
    keep = (days == _leading_days(arr)) & (stamps >= np.datetime64("1000-01-01", "us"))
    out = np.where(keep, stamps, np.datetime64("NaT", "us"))
    return pd.Series(out, index=values.index, dtype="datetime64[us]", copy=False)


def _fr_dates(values: pd.Series) -> pd.Series:
    """dd/mm/yyyy[ HH:MM[:SS]] (also with ``-`` or ``.``, 2-digit years, ``14h30``).

    The canonical spellings go through :func:`_strptime_checked`, one format after the
    other on what is left; the others are normalised and parsed by ``pd.to_datetime``.
    """
    out = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[us]")
    canonical = values.str.fullmatch(_FR_CANONICAL).to_numpy(dtype=bool)
    pos = np.flatnonzero(canonical)
    left = values.iloc[pos] if len(pos) < len(values) else values
    for fmt in ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y"):
        if len(pos) == 0:
            break
        parsed = _strptime_checked(left, fmt).to_numpy()
        ok = ~np.isnat(parsed)
        out[pos[ok]] = parsed[ok]
        pos, left = pos[~ok], left[~ok]
    other = values[~canonical]
    if not other.empty:
        v = other.str.replace(r"^([0-9]{1,2})[.\-]([0-9]{1,2})[.\-]", r"\1/\2/", regex=True)
        v = v.str.replace(r"([0-9])[hH]([0-9])", r"\1:\2", regex=True)
        v = v.str.replace(r"(:[0-9]{2}),([0-9]+)( ?[AaPp][Mm])?$", r"\1.\2\3", regex=True)
        v = v.str.replace(r"^([0-9/]+)[ T]+", r"\1 ", regex=True)
        pos = np.flatnonzero(~canonical)
        for fmt in _FR_FORMATS:
            if len(pos) == 0:
                break
            parsed = pd.to_datetime(v, format=fmt, errors="coerce").to_numpy()
            ok = ~np.isnat(parsed)
            out[pos[ok]] = parsed[ok].astype("datetime64[us]")
            pos, v = pos[~ok], v[~ok]
    return pd.Series(out, index=values.index, copy=False)


def parse_dates(
    values: pd.Series,
    *,
    date_format: str | None = None,
    naive_tz: str | None = None,
    excel_epoch: str = "1899-12-30",
    month_first: bool = False,
    year_first: bool = False,
) -> pd.Series:
    """Parse dates written in any of the forms exports use, as naive local time.

    Parameters
    ----------
    values
        Cleaned strings (``""`` for missing).
    date_format
        A ``strptime`` format forced by the configuration, or ``"excel"`` for serial
        numbers; ``None`` recognises, value by value: ``dd/mm/yyyy[ HH:MM[:SS]]``, ISO
        8601 with or without offset (converted to Europe/Paris), Excel serial numbers.
    naive_tz
        Time zone of timestamps written without offset (KoboToolbox writes
        ``_submission_time`` in UTC); ``None``: they are local time already. A day
        without a time (« 2024-03-05 », or a ``date_format`` without one) is the day
        written, never moved.
    excel_epoch
        Day 0 of Excel serial numbers (``RawFile.excel_epoch``).
    month_first
        ``a/b/yyyy`` dates are month first (as :func:`date_order` found them): their two
        first fields are swapped before they are read day first.
    year_first
        ``yy-mm-dd`` dates are year first (as :func:`year_first_rows` found them): their
        first and third fields are swapped before they are read day first.

    Returns
    -------
    Series
        ``datetime64[us]``, naive Europe/Paris local time; NaT where missing or
        unparseable. Day first: 03/04/2024 is 3 April.
    """
    filled = filled_cells(values)
    if not date_format:
        values = _in_day_first_order(values, month_first=month_first, year_first=year_first)
    out = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[us]")
    pos = np.flatnonzero(filled)
    if len(pos) == 0:
        return pd.Series(out, index=values.index, copy=False)
    v = values.iloc[pos] if len(pos) < len(values) else values

    def put(where: np.ndarray, parsed: pd.Series) -> None:
        out[pos[where]] = parsed.to_numpy().astype("datetime64[us]")

    if date_format == "excel":
        put(np.ones(len(pos), bool), _serial_dates(v, excel_epoch))
    elif date_format:
        # A format without a time reads days: a day is never moved by naive_tz.
        timed = re.search(r"%[HIMSXTRcfp]", date_format) is not None
        put(
            np.ones(len(pos), bool),
            _to_local(
                pd.to_datetime(v, format=date_format, errors="coerce"),
                naive_tz if timed else None,
            ),
        )
    else:
        first = _strptime_checked(v, "%d/%m/%Y %H:%M").to_numpy()
        done = ~np.isnat(first)
        out[pos[done]] = first[done]
        pos, v = pos[~done], v[~done]
        if len(pos):
            v = with_month_numbers(v)  # « 5 mars 2024 » as « 5/03/2024 »
            fr = v.str.fullmatch(_FR_DATE + r"(?:[ T]+" + _TIME + r"(?: ?[AaPp][Mm])?)?").to_numpy(
                dtype=bool
            )
            fr_tz = v.str.fullmatch(
                _FR_DATE + r"[ T]+" + _TIME + r"(?: ?[AaPp][Mm])? ?" + _TZ
            ).to_numpy(dtype=bool)
            iso = v.str.fullmatch(_ISO).to_numpy(dtype=bool)
            # A day and a zone, no time (« 2024-03-05 UTC », « 05/03/2024 Z »): the day.
            day_tz = v.str.fullmatch(f"(?:{_FR_DATE}|{_ISO_DAY}) ?{_TZ}").to_numpy(dtype=bool)
            iso_tz = v.str.fullmatch(_ISO + r" ?" + _TZ).to_numpy(dtype=bool) & ~day_tz
            serial = v.str.fullmatch(_SERIAL).to_numpy(dtype=bool)
            if fr.any():
                put(fr, _fr_dates(v[fr]))
            if fr_tz.any():
                put(fr_tz, _fr_dates_with_zone(v[fr_tz]))
            # A day alone (« 2024-03-05 ») is the day written, as with a zone: never
            # moved by naive_tz (midnight UTC would be 01:00 in Paris).
            iso_day = iso & v.str.fullmatch(_ISO_DAY).to_numpy(dtype=bool)
            for where, tz in ((iso & ~iso_day, naive_tz), (iso_day, None)):
                if where.any():
                    s = _iso_padded(v[where].str.replace(r"[T ]+", "T", regex=True))
                    put(where, _to_local(pd.to_datetime(s, format="ISO8601", errors="coerce"), tz))
            if iso_tz.any():
                # The zone first: « 14:02:00 UTC » became « 14:02:00TUTC » once every
                # space was a « T », unreadable (so was « 14:02:00 +01:00 »).
                s = _iso_padded(
                    _zone_as_offset(v[iso_tz])
                    .str.replace(r" +([+\-][0-9]{2}(?::?[0-9]{2})?|Z)$", r"\1", regex=True)
                    .str.replace(r"[T ]+", "T", regex=True)
                )
                put(
                    iso_tz,
                    _to_local(pd.to_datetime(s, format="ISO8601", utc=True, errors="coerce"), None),
                )
            if serial.any():
                put(serial, _serial_dates(v[serial], excel_epoch))
            if day_tz.any():
                # A zone moves a time; a day has none: read as the day written, as
                # without the zone (moved as midnight, « 2024-03-05+02:00 » would be
                # 4 March at 23:00 in Paris, and « 2024-03-05 UTC » 01:00).
                put(day_tz, parse_dates(v[day_tz].str.replace(f" ?{_TZ}$", "", regex=True)))
    return pd.Series(out, index=values.index, copy=False)


def _in_day_first_order(values: pd.Series, *, month_first: bool, year_first: bool) -> pd.Series:
    """The values with their fields swapped into day-first order when the column is
    month first or year first, a day of the week before them dropped first (« Mon
    01/15/2024 »; read day first, :func:`with_month_numbers` drops it)."""
    if not (month_first or year_first):
        return values
    out = without_weekday(arrow_view(values))
    if month_first:
        out = pc.replace_substring_regex(out, _SWAP, r"\1\4\3\2\5")
    else:
        out = pc.replace_substring_regex(out, _YEAR_FIRST, _YEAR_SWAP)
    return to_str_series(out, values.index)


def year_first_rows(
    values: pd.Series, day_first: pd.Series, window: tuple[np.datetime64, np.datetime64], **kw: Any
) -> tuple[pd.Series, np.ndarray] | None:
    """A column's dates read year first (« 24-01-15 » : 15 January 2024), when their place
    in time shows it, and the rows that show it; ``None`` when nothing does.

    The values written ``nn-nn-nn`` (:data:`_YEAR_FIRST`) are read both ways: day first
    (``day_first``, as :func:`parse_dates` read them) and year first. When day first
    puts most of them outside ``window`` (the study's first day, the day after the
    processing: rejected as before the study or in the future) and year first puts at
    least 95 % of them inside, the column is year first; otherwise the French reading
    stands (a column of ``15/01/24`` stays 15 January 2024). ``kw`` goes to
    :func:`parse_dates` (the file's Excel epoch, naive zone).
    """
    start, end = window
    read = day_first.to_numpy()
    if not ((read < start) | (read >= end)).any():  # NaT compares False
        return None  # no date outside the window (the usual export): nothing to tell
    # « yy-mm-dd » and the character after: 9 characters, matched once per distinct prefix.
    arr = without_weekday(pc.fill_null(arrow_view(values), ""))
    prefixes, codes = _dictionary_of(pc.utf8_slice_codeunits(arr, 0, 9))
    written = flags(pc.match_substring_regex(prefixes, _YEAR_FIRST))[codes]
    n = int(np.count_nonzero(written))
    if not n:
        return None
    other = parse_dates(values[written], year_first=True, **kw).to_numpy()
    first = read[written]
    inside_day = (first >= start) & (first < end)  # NaT compares False: outside
    inside_year = (other >= start) & (other < end)
    if 2 * np.count_nonzero(inside_day) >= n or np.count_nonzero(inside_year) < 0.95 * n:
        return None
    out = read.copy()
    out[written] = other
    proof = np.flatnonzero(written)[inside_year & ~inside_day]
    return pd.Series(out, index=day_first.index, copy=False), proof


def year_first_note(path: str, column: str, lines: np.ndarray) -> dict[str, Any]:
    """The note of a file's ``column`` read year first, naming the ``lines`` that show it
    (:func:`year_first_rows`), as the ingestion's date notes are written."""
    shown = ", ".join(str(int(n)) for n in lines[:5]) + (" …" if len(lines) > 5 else "")
    return {
        "source_file": path,
        "reason": "dates_year_first",
        "reason_fr": (
            f"Dates de « {column} » lues année en premier (24-01-15 : 15 janvier 2024) : lues "
            "jour en premier, la plupart tombaient avant le début de l'étude ou après le jour "
            f"du traitement, comme le montrent les lignes {shown} ; imposez « date_format » "
            "si ce n'est pas le cas."
        ),
        "lines": [int(n) for n in lines[:1000]],
        "note_only": True,
    }


def _zone_as_offset(values: pd.Series) -> pd.Series:
    """A zone written by name at the end (« UTC », « CET »…) as its offset
    (:data:`_NAMED_ZONES`): « 14:02 CEST » → « 14:02+02:00 »."""
    for name, offset in _NAMED_ZONES.items():
        values = values.str.replace(f" ?{name}$", offset, regex=True)
    return values


def _iso_padded(values: pd.Series) -> pd.Series:
    """``yyyy-m-d[Th:mm…]`` (slashes too) with the leading zeros ISO 8601 wants."""
    v = values.str.replace("/", "-", regex=False)
    if not v.str.contains(r"^[0-9]{4}-(?:[0-9]-|[0-9]{2}-[0-9](?:[^0-9]|$))|T[0-9]:").any():
        return v  # padded already: the usual export
    v = v.str.replace(r"^([0-9]{4})-([0-9])-", r"\1-0\2-", regex=True)
    v = v.str.replace(r"^([0-9]{4}-[0-9]{2})-([0-9])($|[^0-9])", r"\1-0\2\3", regex=True)
    return v.str.replace(r"T([0-9]):", r"T0\1:", regex=True)


def _fr_dates_with_zone(values: pd.Series) -> pd.Series:
    """``dd/mm/yyyy HH:MM[:SS]`` followed by its zone (« 05/03/2024 14:02 UTC »,
    « … +01:00 », « … CET »), as naive local time: read by :func:`_fr_dates` without
    the zone, then moved by the zone's offset to UTC and on to Paris time."""
    zone = _zone_as_offset(values.str.extract(f"({_TZ})$")[0].str.strip().fillna("Z"))
    naive = _fr_dates(values.str.replace(f" ?{_TZ}$", "", regex=True))
    parts = zone.str.extract(r"^(?P<sign>[+\-])(?P<h>[0-9]{2}):?(?P<m>[0-9]{2})?$")
    minutes = pd.to_numeric(parts["h"]).fillna(0) * 60 + pd.to_numeric(parts["m"]).fillna(0)
    minutes = minutes.where(parts["sign"] != "-", -minutes)
    utc = naive - pd.to_timedelta(minutes, unit="min")
    return _to_local(utc.dt.tz_localize("UTC"), None)


def _to_local(parsed: pd.Series, naive_tz: str | None) -> pd.Series:
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        return parsed.dt.tz_convert(LOCAL_TZ).dt.tz_localize(None).astype("datetime64[us]")
    if parsed.dtype == object:  # mixed offsets that to_datetime could not unify
        parsed = pd.to_datetime(parsed, utc=True, errors="coerce")
        return parsed.dt.tz_convert(LOCAL_TZ).dt.tz_localize(None).astype("datetime64[us]")
    if naive_tz:
        aware = parsed.dt.tz_localize(naive_tz, ambiguous="NaT", nonexistent="shift_forward")
        return aware.dt.tz_convert(LOCAL_TZ).dt.tz_localize(None).astype("datetime64[us]")
    return parsed.astype("datetime64[us]")


def _serial_dates(values: pd.Series, epoch: str = "1899-12-30") -> pd.Series:
    """Excel serial day numbers between 20,000 and 80,000 (1954 to 2119 in the 1900 date
    system), counted from ``epoch``."""
    days = parse_numbers(values, decimal=None)[0]
    days = days.where(days.between(20_000, 80_000))
    seconds = (days * 86_400).round()
    return (pd.Timestamp(epoch) + pd.to_timedelta(seconds, unit="s")).astype("datetime64[us]")
