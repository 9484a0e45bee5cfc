"""Cell values: cleaning (whitespace, missing-value spellings, labels per distinct
value) and vectorised parsers for numbers and geographic points, on pyarrow string
columns: no Python loop over rows. Dates are parsed by :mod:`pipelines.ingest.dates`."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.ingest.scrub_rules import INVISIBLE
from pipelines.reports import NA_SPELLINGS

log = logging.getLogger(__name__)

#: Time zone of the sites: naive timestamps are local times there.
LOCAL_TZ = "Europe/Paris"


# --------------------------------------------------------------------------- values
def to_str_series(column: pa.ChunkedArray | pa.Array, index: pd.Index | None = None) -> pd.Series:
    """A pyarrow string column as a pandas ``str`` Series (no copy of the text)."""
    s = column.to_pandas()
    if s.dtype != "str":
        s = s.astype("str")
    if index is not None:
        s.index = index
    return s


def arrow_view(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    """A pandas string Series as pyarrow strings, without copying pandas' pyarrow
    storage (its chunks are kept: combining them would copy every string)."""
    try:
        arr = pa.array(values.array)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return arrow_strings(values)
    if not (pa.types.is_large_string(arr.type) or pa.types.is_string(arr.type)):
        return arrow_strings(values)
    return arr


def flags(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A pyarrow boolean column as a numpy array, missing values False."""
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def filled_cells(values: pd.Series) -> np.ndarray:
    """Per cell of a cleaned text column, whether it holds something (not ``""``)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return (values != "").to_numpy()
    return flags(pc.not_equal(arrow_view(values), ""))


def arrow_strings(values: pd.Series) -> pa.Array:
    """A pandas string Series as one pyarrow ``large_string`` array (nulls kept)."""
    try:
        arr = pa.array(values.array)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        arr = pa.array(values.astype(object).where(values.notna(), None), type=pa.large_string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.large_string())
    return arr


# "" is left out: replacing it by "" would copy a column for nothing.
_NA_SET = pa.array(sorted(NA_SPELLINGS - {""}), pa.large_string())
_NA_LONGEST = max(len(v.encode()) for v in _NA_SET.to_pylist())  # bytes


#: Control characters a text cell loses (NUL, escape, bell… all of C0 but tab, line feed
#: and carriage return, and DEL): invisible in the export, they would only break the
#: files and pages that show the text.
CONTROL_CHARS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"


#: Control characters between two letters or digits (« Fuite\x00urgente », a NUL where an
#: export wrote a space or a line break): a text cell reads them as one space, where
#: removing them glued the words (« Fuiteurgente »). An id or a date loses them.
_BETWEEN_WORDS = rf"([\pL\pN]){CONTROL_CHARS}+([\pL\pN])"


#: The first bytes of the UTF-8 encodings of :data:`INVISIBLE`'s characters.
_INVISIBLE_LEADS = (0xC2, 0xE2, 0xEF)


def _data_bytes_may(column: pa.ChunkedArray | pa.Array, test: Callable[[np.ndarray], bool]) -> bool:
    """Whether ``test`` holds for the data bytes of a chunk of a string column, or a
    chunk is not plain strings (then a regex alone can say). The bytes, not the regex:
    about 10 ms instead of 160 ms per million dates."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    for chunk in chunks:
        if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
            return True
        data = chunk.buffers()[2]
        if data is not None and data.size and test(np.frombuffer(data, np.uint8)):
            return True
    return False


def _may_hold_control_chars(column: pa.ChunkedArray | pa.Array) -> bool:
    """Whether a string column may hold a :data:`CONTROL_CHARS` character: a byte below
    0x20 or DEL in its data (tab and line breaks too: then the regex tells)."""
    return _data_bytes_may(column, lambda b: bool(b.min() < 0x20 or (b == 0x7F).any()))


def clean_cells(column: pa.ChunkedArray | pa.Array, index: pd.Index | None = None) -> pd.Series:
    """Strip cells, remove their control characters (:data:`CONTROL_CHARS`: an id keeps
    none, a date or a coordinate is read without them) and turn missing-value spellings
    (``NA``, ``null``, ``-``…) into ``""``."""
    arr = pc.fill_null(column, "") if column.null_count else column
    if _may_hold_control_chars(arr):
        arr = pc.replace_substring_regex(arr, CONTROL_CHARS, "")
    if _data_bytes_may(arr, lambda b: bool(np.isin(b, _INVISIBLE_LEADS).any())):
        # « \u200b01/03/2024 », « T-1\u200b » pasted from a web page: a date refused, an
        # id not the same report's.
        arr = pc.replace_substring_regex(arr, INVISIBLE, "")
    arr = pc.utf8_trim_whitespace(arr)
    # Only a short value can be one (ids, dates and coordinates are longer).
    length = pc.binary_length(arr)
    if pc.any(pc.and_(pc.greater(length, 0), pc.less_equal(length, _NA_LONGEST))).as_py():
        na = pc.is_in(arr, value_set=_NA_SET)
        if pc.any(na).as_py():
            arr = pc.if_else(na, pa.scalar("", arr.type), arr)
    return to_str_series(arr, index)


def _dictionary_of(column: pa.ChunkedArray | pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Dictionary-encode a string column: its distinct values and, per row, the index
    of its value among them (-1 for a missing value). Chunks keep their place (no
    concatenation of a large column first)."""
    encoded = pc.dictionary_encode(column)
    if isinstance(encoded, pa.ChunkedArray) and encoded.num_chunks == 0:
        return pa.array([], column.type), np.zeros(0, np.int32)
    if isinstance(encoded, pa.ChunkedArray):
        first = encoded.chunk(0).dictionary
        if any(not chunk.dictionary.equals(first) for chunk in encoded.chunks[1:]):
            encoded = encoded.unify_dictionaries()
    chunks = encoded.chunks if isinstance(encoded, pa.ChunkedArray) else [encoded]
    indices = [
        (pc.fill_null(chunk.indices, -1) if chunk.null_count else chunk.indices).to_numpy(
            zero_copy_only=False
        )
        for chunk in chunks
    ]
    return chunks[0].dictionary, np.concatenate(indices)


def clean_labels(
    column: pa.ChunkedArray | pa.Array, index: pd.Index | None = None, *, na_tokens: bool = True
) -> pd.Series:
    """:func:`clean_cells` for columns of labels and text, as a pandas ``category``
    Series whose categories are the cleaned distinct values, without control
    characters (:data:`CONTROL_CHARS`; one between two words is a space).

    Labels repeat (categories, statuses, streets, building codes, stock phrases), so
    they are cleaned once per distinct value, and later steps (blank tests, category
    mapping, scrubbing, gathering the accepted rows) work on the distinct values and
    the integer codes instead of a million strings each.

    Parameters
    ----------
    na_tokens
        Also turn missing-value spellings into ``""`` (not for free text, where "-"
        or "NA" may be what was written).
    """
    dictionary, codes = _dictionary_of(pc.fill_null(column, "") if column.null_count else column)
    if len(dictionary) and pc.any(pc.match_substring_regex(dictionary, CONTROL_CHARS)).as_py():
        for _ in range(2):  # a match takes the letter after it: « a\x00b\x00c » in two
            dictionary = pc.replace_substring_regex(dictionary, _BETWEEN_WORDS, r"\1 \2")
        dictionary = pc.replace_substring_regex(dictionary, CONTROL_CHARS, "")
    cleaned = pc.utf8_trim_whitespace(dictionary)
    if na_tokens:
        cleaned = pc.if_else(pc.is_in(cleaned, value_set=_NA_SET), "", cleaned)
    # Cleaning may make two values equal (" a" and "a"): encode once more.
    distinct, remap = _dictionary_of(cleaned)
    codes = remap[codes] if len(codes) else codes
    categories = pd.Index(to_str_series(distinct), dtype="str")
    values = pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(categories))
    return pd.Series(values, index=index)


def extract(values: pd.Series, pattern: str) -> dict[str, pd.Series]:
    """Named groups of an RE2 pattern, per value (``""`` where it does not match).

    Through ``pyarrow.compute`` rather than ``Series.str.extract``, which runs Python's
    ``re`` row by row on pandas' pyarrow-backed strings.
    """
    arr = arrow_strings(values.fillna(""))
    found = pc.extract_regex(arr, pattern)
    out = {}
    for i, field_ in enumerate(found.type):
        part = pc.fill_null(pc.struct_field(found, [i]), "")
        out[field_.name] = to_str_series(part, values.index)
    return out


_NUMBER = r"[+\-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+\-]?[0-9]{1,3})?"
#: Spaces and apostrophes between a number's digits (« 652 345,2 », « 652'345.2 »), and
#: the invisible characters a value pasted from a web page or Word carries (« 48,\u200b9 »).
_SPACES = r"[ \x{00A0}\x{202F}']|" + INVISIBLE


def parse_numbers(values: pd.Series, *, decimal: str | None = None) -> tuple[pd.Series, pd.Series]:
    """Parse decimal numbers, with a decimal comma where the value has one.

    Parameters
    ----------
    values
        Cleaned strings.
    decimal
        ``","`` or ``"."`` to force the decimal mark; ``None`` detects it per value (a
        single comma between digits is a decimal comma).

    Returns
    -------
    numbers, had_comma
        float64 (NaN where missing or not a finite number), and whether the value was
        written with a decimal comma.
    """
    arr = pc.fill_null(arrow_view(values), "")  # pandas' chunks as they are: no copy
    numbers, had_comma = _parse_numbers_arrow(arr, decimal)
    x = np.array(numbers.to_numpy(zero_copy_only=False), dtype=np.float64)
    x[~np.isfinite(x)] = np.nan
    # Fresh arrays: the Series need not copy them (pandas copies numpy input by default).
    return (
        pd.Series(x, index=values.index, copy=False),
        pd.Series(flags(had_comma) & ~np.isnan(x), index=values.index, copy=False),
    )


def _parse_numbers_arrow(
    arr: pa.Array | pa.ChunkedArray, decimal: str | None
) -> tuple[pa.Array | pa.ChunkedArray, pa.Array | pa.ChunkedArray]:
    """:func:`parse_numbers` by pyarrow's string kernels: numbers and had_comma."""
    arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)
    has_comma = pc.fill_null(pc.match_substring(arr, ","), False)
    if decimal != "." and pc.any(has_comma).as_py():
        fixed = pc.replace_substring(
            pc.replace_substring(arr, ".", "") if decimal == "," else arr, ",", "."
        )
    else:
        fixed = pc.replace_substring(arr, ",", "") if decimal == "." else arr
    try:
        # Clean columns: one cast. Otherwise (spaces, stray text) the careful way below.
        numbers = pc.cast(fixed, pa.float64())
        had_comma = has_comma if decimal != "." else pc.and_(has_comma, pa.scalar(False))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        numbers, had_comma = _parse_numbers_slowly(arr, decimal)
    return numbers, had_comma


def _parse_numbers_slowly(arr: pa.Array, decimal: str | None) -> tuple[pa.Array, pa.Array]:
    """:func:`parse_numbers` for columns with spaces or text: value by value."""
    arr = pc.fill_null(arr, "")
    if pc.any(pc.match_substring_regex(arr, _SPACES)).as_py():
        arr = pc.replace_substring_regex(arr, _SPACES, "")  # thousands: "652 345,2"
    if decimal == ",":
        had_comma = pc.match_substring(arr, ",")
        arr = pc.replace_substring(pc.replace_substring(arr, ".", ""), ",", ".")
    elif decimal == ".":
        had_comma = pc.and_(pc.match_substring(arr, ","), pa.scalar(False))
        arr = pc.replace_substring(arr, ",", "")
    else:
        had_comma = pc.match_substring_regex(arr, r"^[+\-]?[0-9]*,[0-9]+(?:[eE][+\-]?[0-9]{1,3})?$")
        arr = pc.if_else(had_comma, pc.replace_substring(arr, ",", "."), arr)
    ok = pc.match_substring_regex(arr, "^" + _NUMBER + "$")
    return pc.cast(pc.if_else(ok, arr, pa.scalar(None, arr.type)), pa.float64()), had_comma


_PT = r"[+\-]?[0-9]+(?:\.[0-9]+)?(?:[eE][+\-]?[0-9]+)?"
_Q = r"['\"]?"
_SP = r"[ \t]*"
#: A coordinate with a decimal comma (« 48,88 »).
_FR_PT = r"[+\-]?[0-9]+,[0-9]+"
#: A WKT point's coordinates, longitude first.
_WKT_XY = f"(?P<x>{_PT})[ \\t]+(?P<y>{_PT})"


#: What a point that holds no coordinate is made of: punctuation, and the words of its
#: format (« [] », « [None, None] », « {'lon': null, 'lat': null} »).
_NO_POINT = (
    r"(?i)\b(?:none|null|nan|lat|lng|lon|long|latitude|longitude|coordinates|type|point)\b"
    r"|[\[\]{}()'\":,; \t]"
)


def filled_geo_points(values: pd.Series) -> np.ndarray:
    """Per cell of a cleaned point column, whether it holds more than an empty point:
    KoboToolbox writes a geopoint left empty « [] », « [None, None] » or « [null, null] »
    (such a row is located by its building or its address, as with an empty cell)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    rest = pc.replace_substring_regex(arrow_view(values), _NO_POINT, "")
    return flags(pc.not_equal(rest, ""))


def parse_geo_points(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse point strings into (lat, lon) in degrees.

    Recognised, value by value: DansMaRue/OpenDataSoft ``{'lon': 2.33, 'lat': 48.88}``
    (keys in any order, either quote), GeoJSON-like ``"coordinates": [lon, lat]``, and
    the latitude-first pairs of KoboToolbox (``[48.88, 2.33]``), ODK (``48.88 2.33 35
    5``) and OpenDataSoft (``48.88, 2.33``), the same written with decimal commas
    (``48,88 ; 2,33``, ``48,88, 2,33``, ``48,88 2,33``: a French spreadsheet's), and WKT
    (``POINT (2.33 48.88)``, longitude first). Regular expressions, never ``eval``.

    Returns
    -------
    lat, lon
        float64, NaN where the value is missing or not a point.
    """
    lat = pd.Series(np.nan, index=values.index)
    lon = pd.Series(np.nan, index=values.index)
    present = values != ""
    if not present.any():
        return lat, lon
    v = values[present]
    keyed_lon = extract(
        v, _Q + r"(?:lon|lng|long|longitude)" + _Q + _SP + ":" + _SP + f"(?P<v>{_PT})"
    )["v"]
    keyed_lat = extract(v, _Q + r"(?:lat|latitude)" + _Q + _SP + ":" + _SP + f"(?P<v>{_PT})")["v"]
    coords = extract(
        v,
        _Q
        + "coordinates"
        + _Q
        + _SP
        + r":"
        + _SP
        + r"\["
        + _SP
        + f"(?P<x>{_PT})"
        + _SP
        + ","
        + _SP
        + f"(?P<y>{_PT})",
    )
    pair = extract(
        v,
        r"^\[?"
        + _SP
        + f"(?P<a>{_PT})"
        + _SP
        + "[,; ]"
        + _SP
        + f"(?P<b>{_PT})"
        + r"(?:[ \t]+[+\-0-9.eE]+)*"
        + _SP
        + r"\]?$",
    )
    # A pair written the French way, decimal commas (« 48,88 ; 2,33 », « 48,88, 2,33 »,
    # « (48,88 2,33) »), separated by a semicolon, a comma and a space, or spaces; and
    # a WKT point, longitude first (« POINT (2.33 48.88) »).
    french = extract(
        v,
        r"^[\[(]?"
        + _SP
        + f"(?P<a>{_FR_PT})"
        + r"(?:[ \t]*;|,[ \t]+|[ \t]+)"
        + _SP
        + f"(?P<b>{_FR_PT})"
        + _SP
        + r"[\])]?$",
    )
    wkt = extract(v, r"(?i)^POINT" + _SP + r"(?:Z" + _SP + r")?\(" + _SP + _WKT_XY)
    lat_b = pair["a"].where(
        pair["a"] != "", french["a"].str.replace(",", ".").where(french["a"] != "", wkt["y"])
    )
    lon_b = pair["b"].where(
        pair["b"] != "", french["b"].str.replace(",", ".").where(french["b"] != "", wkt["x"])
    )
    lon_s = keyed_lon.where(keyed_lon != "", coords["x"].where(coords["x"] != "", lon_b))
    lat_s = keyed_lat.where(keyed_lat != "", coords["y"].where(coords["y"] != "", lat_b))
    lat[present] = parse_numbers(lat_s, decimal=".")[0].to_numpy()
    lon[present] = parse_numbers(lon_s, decimal=".")[0].to_numpy()
    return lat, lon
