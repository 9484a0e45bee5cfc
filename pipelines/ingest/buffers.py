"""Fast paths that read string columns in their Arrow buffers with numpy.

Each answers a question about a string column (does a value start with whitespace?
is a value this short? are two values the same?) or parses a value written in one
exact form, from the bytes and offsets pyarrow already holds, without building a
string per row. Each is checked against the general path it spares in
tests/test_ingest_fastpaths.py: where a fast path cannot answer exactly, it says so
(None, NaT, True for "maybe") and the general path runs.

Written here rather than taken from a library: pyarrow's kernels answer these
questions too, but by building new strings or hash tables of a million rows, which is
what these functions avoid (the ingestion benchmark, ``python -m bench.ingest``).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# The bytes that can begin, and that can precede the last byte of, a character that
# ``utf8_trim_whitespace`` strips (ASCII whitespace and the Unicode spaces U+0085,
# U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000; checked
# against every code point in tests/test_ingest_fastpaths.py).
_WS_LEAD = np.zeros(256, dtype=bool)
_WS_LEAD[: 0x20 + 1] = True
_WS_LEAD[[0xC2, 0xE1, 0xE2, 0xE3]] = True
_WS_BEFORE_LAST = np.zeros(256, dtype=bool)
_WS_BEFORE_LAST[[0x80, 0x81, 0x9A, 0xC2]] = True


def chunks_of(column: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    """The chunks of a column (an array is its own single chunk)."""
    return column.chunks if isinstance(column, pa.ChunkedArray) else [column]


def string_buffers(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """The bytes of a string chunk and its ``len(chunk) + 1`` offsets into them (int64),
    read in the Arrow buffers without a copy of the text; None when it holds no byte."""
    _, offsets_buf, data_buf = chunk.buffers()
    if data_buf is None or len(chunk) == 0:
        return None
    width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    offsets = np.frombuffer(offsets_buf, dtype=width)[chunk.offset : chunk.offset + len(chunk) + 1]
    return np.frombuffer(data_buf, dtype=np.uint8), offsets.astype(np.int64, copy=False)


def may_need_trim(chunk: pa.Array) -> bool:
    """Whether some value of a string chunk may start or end with whitespace: a cheap
    over-approximation from its first and last bytes, read in the Arrow buffers."""
    buffers = string_buffers(chunk)
    if buffers is None or len(buffers[0]) == 0:
        return False
    data, offsets = buffers
    # An empty value reads a byte of a neighbour (checked in its own right anyway): at
    # worst a needless trim, and no boolean selection of the non-empty values.
    starts = offsets[:-1]
    # (Clipped only when a trailing empty value starts past the last byte.)
    first = data[starts if starts[-1] < len(data) else np.minimum(starts, len(data) - 1)]
    if _WS_LEAD[first].any():
        return True
    ends = offsets[1:] - 1
    if ends[0] < 0:  # the first value is empty and starts the buffer
        ends = np.maximum(ends, 0)
    last = data[ends]
    if (last <= 0x20).any():
        return True
    multi = last >= 0x80  # the end of a multi-byte character: look at the byte before
    return bool(multi.any() and _WS_BEFORE_LAST[data[np.maximum(ends[multi] - 1, 0)]].any())


def leading_days(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Per value, the number written before its first ``/`` when that is one or two
    digits (``"7/03/2024"`` gives 7, ``"07/03"`` 7), else -1.

    Read from the first three bytes of each value in the Arrow buffers (numpy, no new
    strings): the regular expression ``^([0-9]{1,2})/`` through ``extract_regex`` costs
    more than the date parsing it checks.
    """
    chunks = chunks_of(arr)
    out = []
    for chunk in chunks:
        buffers = string_buffers(chunk)
        if buffers is None:
            out.append(np.full(len(chunk), -1, dtype=np.int64))
            continue
        text, offsets = buffers
        starts = offsets[:-1]
        length = offsets[1:] - starts
        # Three bytes per value, 0 past its end (a trailing pad keeps the reads in bounds).
        data = np.concatenate((text, np.zeros(3, np.uint8)))
        b = [np.where(length > k, data[starts + k], 0).astype(np.int64) for k in range(3)]
        digit = [(x >= 48) & (x <= 57) for x in b]
        slash = [x == 47 for x in b]
        one = digit[0] & slash[1]
        two = digit[0] & digit[1] & slash[2]
        day = np.where(one, b[0] - 48, np.where(two, (b[0] - 48) * 10 + b[1] - 48, -1))
        out.append(day)
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


_DIGITS_16 = np.array([0, 1, 3, 4, 6, 7, 8, 9, 11, 12, 14, 15])
_SEPARATORS_16 = np.array([2, 5, 10, 13])
_SEPARATOR_BYTES = np.frombuffer(b"// :", dtype=np.uint8)
_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _civil_days(
    year: np.ndarray, month: np.ndarray, day: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Days since 1970-01-01 of (year, month, day) in the proleptic Gregorian calendar
    (numpy's), by integer arithmetic; and whether the day exists (no 31/02)."""
    ok = (month >= 1) & (month <= 12) & (year >= 1000) & (day >= 1)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    length = _MONTH_DAYS[np.clip(month, 1, 12) - 1] + ((month == 2) & leap)
    ok &= day <= length
    y = (year - (month <= 2)).astype(np.int64)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * np.where(month > 2, month - 3, month + 9) + 2) // 5 + day - 1
    return era * 146_097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719_468, ok


_KEYS_PER_YEAR = 13 * 32  # month 0-12, day 0-31


def _days_since_epoch(
    year: np.ndarray, month: np.ndarray, day: np.ndarray, given: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_civil_days` of the dates ``given``: computed once for every day of the
    years they span, then looked up (a table of a few thousand days rather than a dozen
    integer divisions per row); directly when they span centuries."""
    ok = given & (month >= 1) & (month <= 12) & (day >= 1) & (day <= 31) & (year >= 1000)
    if not ok.any():
        return np.zeros(len(year), np.int64), ok
    first = int(np.where(ok, year, 9999).min())
    last = int(np.where(ok, year, 0).max())
    if last - first > 400:
        days, valid = _civil_days(year, month, day)
        return days, ok & valid
    grid = np.arange((last - first + 1) * _KEYS_PER_YEAR)
    days, valid = _civil_days(
        first + grid // _KEYS_PER_YEAR, grid % _KEYS_PER_YEAR // 32, grid % 32
    )
    key = np.where(ok, (year - first) * _KEYS_PER_YEAR + month * 32 + day, 0)
    return days[key], ok & valid[key]


def fixed_fr_minutes(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """``dd/mm/yyyy HH:MM`` written exactly so (16 characters, zero-padded), parsed from
    the bytes with numpy; NaT for anything else, or for an impossible date.

    The landlords' usual spelling, and most of a large export: at a million values this
    is several times faster than ``strptime``, which is lenient besides (it rolls
    31/02 over to March). It accepts a subset of what :func:`_strptime_checked` accepts
    with ``%d/%m/%Y %H:%M``, with the same result (tests/test_ingest_fastpaths.py).
    """
    chunks = chunks_of(arr)
    parts = []
    for chunk in chunks:
        out = np.full(len(chunk), np.datetime64("NaT"), dtype="datetime64[us]")
        buffers = string_buffers(chunk)
        if buffers is not None:
            data, offsets = buffers
            starts = offsets[:-1]
            if len(data) < 16:
                parts.append(out)
                continue
            lengths = offsets[1:] - starts
            if not chunk.null_count and (lengths == 16).all():
                # Every value 16 bytes, end to end: the buffer is the rows x 16 matrix.
                rows = np.arange(len(chunk))
                m = data[offsets[0] : offsets[-1]].reshape(-1, 16)
            else:
                rows = np.flatnonzero(lengths == 16)
                if chunk.null_count:
                    rows = rows[np.asarray(chunk.is_valid())[rows]]
                # Every 16-byte window of the buffer, without a copy; the values'
                # windows are then taken in one gather (a rows x 16 matrix of bytes).
                windows = np.lib.stride_tricks.as_strided(
                    data, shape=(len(data) - 15, 16), strides=(1, 1), writeable=False
                )
                m = windows[starts[rows]]
            ok = (m[:, _SEPARATORS_16] == _SEPARATOR_BYTES).all(axis=1)
            digits = m[:, _DIGITS_16] - np.uint8(48)  # wraps above 9 for non-digits
            ok &= (digits <= 9).all(axis=1)
            v = digits.astype(np.int32)
            day, month = v[:, 0] * 10 + v[:, 1], v[:, 2] * 10 + v[:, 3]
            year = v[:, 4] * 1000 + v[:, 5] * 100 + v[:, 6] * 10 + v[:, 7]
            hour, minute = v[:, 8] * 10 + v[:, 9], v[:, 10] * 10 + v[:, 11]
            ok &= (hour <= 23) & (minute <= 59)
            days, ok = _days_since_epoch(year, month, day, ok)
            seconds = days * 86_400 + hour * 3_600 + minute * 60
            stamp = (seconds * 1_000_000).view("datetime64[us]")
            if len(rows) == len(chunk):
                out = np.where(ok, stamp, out)
            else:
                out[rows[ok]] = stamp[ok]
        parts.append(out)
    return np.concatenate(parts) if parts else np.zeros(0, dtype="datetime64[us]")


def value_lengths(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Bytes per value of a string column (int64), -1 for a missing value."""
    parts = []
    for chunk in chunks_of(column):
        buffers = string_buffers(chunk)
        lengths = np.zeros(len(chunk), np.int64) if buffers is None else np.diff(buffers[1])
        if chunk.null_count:
            lengths[~np.asarray(chunk.is_valid())] = -1
        parts.append(lengths)
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def _lengths(chunk: pa.Array) -> np.ndarray:
    """Bytes per value of a string chunk (int64), 0 for a missing value."""
    return np.maximum(value_lengths(chunk), 0)


def bits(flags: pa.BooleanArray | pa.ChunkedArray) -> np.ndarray:
    """A pyarrow boolean column as numpy booleans, False where missing (its bitmaps
    unpacked: faster than ``to_numpy`` on a million values)."""
    if isinstance(flags, pa.ChunkedArray):
        return np.concatenate([bits(chunk) for chunk in flags.chunks] or [np.zeros(0, bool)])
    n, offset = len(flags), flags.offset

    def unpack(buffer: pa.Buffer) -> np.ndarray:
        raw = np.frombuffer(buffer, np.uint8)
        return np.unpackbits(raw, count=offset + n, bitorder="little")[offset:].view(bool)

    validity, values = flags.buffers()
    if n == 0:
        return np.zeros(0, bool)
    out = unpack(values)
    return out & unpack(validity) if validity is not None and flags.null_count else out


def nonblank(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Per value of a string column, whether it holds a byte (not missing, not ``""``)."""
    return value_lengths(column) > 0


def empty(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Per value of a string column, whether it is ``""`` (a missing value is not)."""
    return value_lengths(column) == 0


def has_short_values(column: pa.Array | pa.ChunkedArray, longest: int) -> bool:
    """Whether some value of a string column has between 1 and ``longest`` bytes."""
    lengths = value_lengths(column)
    return bool(((lengths > 0) & (lengths <= longest)).any())


_MIX = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / golden ratio, odd: a bijection mod 2**64
_LONGEST_HASHED = 64


def string_hashes(column: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    """A 64-bit hash of each value of a string column (missing values all hash alike,
    and unlike ``""``), or None when a value is longer than 64 bytes.

    Equal values have equal hashes, so distinct hashes prove the values distinct; equal
    hashes prove nothing (the caller then compares the values themselves). Each value is
    read 8 bytes at a time in the Arrow buffer (unaligned 64-bit words, masked to the
    value's length) and mixed with its length: two passes for a 10-byte ticket number,
    against a hash table of a million strings for ``pyarrow.compute.unique``.
    """
    chunks = chunks_of(column)
    all_lengths = [_lengths(chunk) for chunk in chunks]
    # The same number of rounds for every value of the column, so that equal values in
    # different chunks hash alike.
    longest = max((int(lengths.max()) for lengths in all_lengths if len(lengths)), default=0)
    if longest > _LONGEST_HASHED:
        return None
    parts = []
    for chunk, lengths in zip(chunks, all_lengths, strict=True):
        hashes = lengths.astype(np.uint64) * _MIX
        buffers = string_buffers(chunk)
        if buffers is not None and longest:
            data = np.concatenate((buffers[0], np.zeros(8, np.uint8)))
            # Every 8-byte window of the buffer as a little-endian word, without a copy.
            words = np.ndarray(shape=(len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))
            starts = np.minimum(buffers[1][:-1], len(words) - 1)
            for k in range(0, longest, 8):
                rest = np.clip(lengths - k, 0, 8).astype(np.uint64)
                # The word's first `rest` bytes: a shift by 64 is undefined, hence two.
                mask = ((np.uint64(1) << (rest * np.uint64(4))) ** 2) - np.uint64(1)
                mask[rest == 8] = np.uint64(0xFFFF_FFFF_FFFF_FFFF)
                hashes = (hashes ^ (words[np.minimum(starts + k, len(words) - 1)] & mask)) * _MIX
                hashes ^= hashes >> np.uint64(29)
        if chunk.null_count:
            hashes[~np.asarray(chunk.is_valid())] = 1  # "" hashes to 0
        parts.append(hashes)
    return np.concatenate(parts) if parts else np.zeros(0, np.uint64)


def comma_decimals(chunk: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """A string chunk with its decimal commas written as points and its empty values
    missing, ready for ``pyarrow.compute.cast`` to float64; and, per value, whether it
    had a comma.

    The same as ``replace_substring(",", ".")`` then ``""`` made null, by one copy of
    the bytes (a comma is one byte in UTF-8 and never part of another character), the
    offsets kept as they are.
    """
    n = len(chunk)
    lengths = _lengths(chunk)
    large = pa.types.is_large_string(chunk.type)
    buffers = string_buffers(chunk)
    if buffers is None:
        return pa.nulls(n, pa.large_string() if large else pa.string()), np.zeros(n, bool)
    data, offsets = buffers
    comma = data == 44
    had = np.zeros(n, bool)
    if comma.any():
        had = bits(pc.match_substring(chunk, ",")) & (lengths > 0)
        data = data.copy()
        data[comma] = 46
    valid = np.packbits(lengths > 0, bitorder="little")
    width = np.int64 if large else np.int32
    fixed = pa.Array.from_buffers(
        chunk.type,
        n,
        [pa.py_buffer(valid), pa.py_buffer(offsets.astype(width)), pa.py_buffer(data)],
    )
    return fixed, had


def contains_byte(column: pa.Array | pa.ChunkedArray, byte: int) -> bool:
    """Whether some value of a string column holds the (ASCII) byte ``byte``."""
    for chunk in chunks_of(column):
        buffers = string_buffers(chunk)
        if buffers is not None:
            data, offsets = buffers
            if (data[offsets[0] : offsets[-1]] == byte).any():
                return True
    return False
