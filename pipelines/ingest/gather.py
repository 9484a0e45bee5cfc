"""The accepted and outside rows gathered into output columns, through the distinct
values of each column (pyarrow takes, no Python string per row)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.config import SourceConfig
from pipelines.ingest import scrub as _scrub
from pipelines.ingest.cells import _Parsed, _str_column
from pipelines.ingest.partition import _Categories
from pipelines.ingest.schema import _NOTES, _STR_COLUMNS, GATHERED_COLUMNS, OUTSIDE_COLUMNS
from pipelines.ingest.scrub_rules import ROLE_MODES
from pipelines.ingest.threads import concurrently
from pipelines.ingest.values import _dictionary_of, arrow_strings, arrow_view, flags, to_str_series
from pipelines.taxonomy import BY_CODE, CODES


def _take_strings(values: Sequence[str] | np.ndarray, codes: np.ndarray) -> pd.Series:
    """``values[codes]`` as a ``str`` Series, built by pyarrow (no Python string per row);
    a negative code gives a missing value."""
    dictionary = pa.array(list(values), pa.large_string())
    return to_str_series(dictionary.take(_indices(codes)))


def _indices(codes: np.ndarray) -> pa.Array:
    """Integer codes as pyarrow take indices, null where negative (no mask to build
    when there is none)."""
    codes = np.asarray(codes)
    missing = codes < 0
    return pa.array(codes, mask=missing) if missing.any() else pa.array(codes)


def _rows(series: pd.Series, idx: np.ndarray) -> pd.Series:
    """The rows ``idx`` of a ``str`` Series, re-indexed from 0 (no copy when ``idx`` is
    all rows). Taken by pyarrow on one contiguous array: ``Series.iloc`` on pyarrow-backed
    strings is several times slower."""
    if len(idx) == len(series) and (len(idx) == 0 or (idx[0] == 0 and (np.diff(idx) == 1).all())):
        return series.reset_index(drop=True)
    view = arrow_view(series)
    if isinstance(view, pa.ChunkedArray) and view.num_chunks > 1 and 8 * len(idx) < len(series):
        return to_str_series(_take_from_chunks(view, idx))
    return to_str_series(arrow_strings(series).take(pa.array(idx, pa.int64())))


def _take_from_chunks(column: pa.ChunkedArray, idx: np.ndarray) -> pa.Array:
    """``column.take(idx)`` for a few rows of a chunked string column, chunk by chunk:
    pyarrow's take first concatenates every chunk (a copy of the whole column)."""
    bounds = np.concatenate(([0], np.cumsum([len(chunk) for chunk in column.chunks])))
    which = np.searchsorted(bounds, idx, side="right") - 1
    by_chunk = np.argsort(which, kind="stable")
    grouped, owner = idx[by_chunk], which[by_chunk]
    cuts = np.searchsorted(owner, np.arange(column.num_chunks + 1))
    pieces = [
        column.chunk(k)
        .take(pa.array(grouped[cuts[k] : cuts[k + 1]] - bounds[k]))
        .cast(pa.large_string())
        for k in range(column.num_chunks)
        if cuts[k + 1] > cuts[k]
    ]
    joined = pa.concat_arrays(pieces) if pieces else pa.array([], pa.large_string())
    return joined.take(pa.array(np.argsort(by_chunk)))  # back in the order of idx


def _report_ids(source: SourceConfig, ids: pd.Series, idx: np.ndarray) -> pd.Series:
    """The report_ids of the rows ``idx`` (``<source>:<id>``), re-indexed from 0: the
    prefix is added to these rows only."""
    return (source.id + ":") + _rows(ids, idx)


def _dictionary_codes(values: pd.Series) -> tuple[pa.Array, np.ndarray]:
    """The distinct values of a ``str`` Series (``large_string``) and, per row, the
    index of its value among them (int64, -1 for a missing value); pandas' pyarrow
    chunks are encoded as they are (:func:`pipelines.ingest.values._dictionary_of`)."""
    dictionary, codes = _dictionary_of(arrow_view(values))
    if not pa.types.is_large_string(dictionary.type):
        dictionary = dictionary.cast(pa.large_string())
    return dictionary, codes.astype(np.int64, copy=False)


def _text_codes(values: pd.Series) -> tuple[pa.Array, np.ndarray]:
    """The distinct values of a text column (``large_string``, ``""`` made missing) and,
    per row, the index of its value among them (negative: missing)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        dictionary = arrow_strings(pd.Series(values.cat.categories))
        all_codes = np.asarray(values.array.codes)  # int8 to int32: gathered as they are
    else:
        dictionary, all_codes = _dictionary_codes(values)
    dictionary = pc.if_else(pc.equal(dictionary, ""), pa.scalar(None, dictionary.type), dictionary)
    return dictionary, all_codes


def _strings_of(dictionary: pa.Array, codes: np.ndarray) -> pd.Series:
    """``dictionary[codes]`` as a ``str`` Series (negative codes: missing)."""
    return to_str_series(dictionary.take(_indices(codes)))


def _text_rows(
    values: pd.Series, idx: np.ndarray, *, scrub: bool
) -> tuple[pd.Series, dict[str, int]]:
    """The rows ``idx`` of a text column, re-indexed from 0, ``""`` as missing, scrubbed
    when asked, with the counts of what was scrubbed in those rows.

    Through the distinct values (pyarrow dictionary encoding): blanking and scrubbing
    work on the few distinct strings, the rows are gathered as integer codes, and the
    output strings are built once.
    """
    dictionary, all_codes = _text_codes(values)
    codes = all_codes[idx]
    counts = _scrub.empty_counts()
    if scrub:
        dictionary, counts = _scrub.scrub_codes(dictionary, codes)
    return _strings_of(dictionary, codes), counts


def _note_strings(flags: np.ndarray) -> pd.Series:
    """``coord_note`` from the bit flags: the notes joined with "+" ("" for none)."""
    # The flags are small non-negative integers: a bincount finds the distinct ones
    # without sorting a million values (np.unique).
    flags = np.asarray(flags, dtype=np.int64)
    if len(flags) == 0:
        return _take_strings([], flags)
    uniq = np.flatnonzero(np.bincount(flags))
    position = np.zeros(int(uniq[-1]) + 1, dtype=np.int64)
    position[uniq] = np.arange(len(uniq))
    names = ["+".join(name for bit, name in _NOTES if u & bit) for u in uniq]
    return _take_strings(names, position[flags])


def _compose_address(f: pd.DataFrame) -> pd.Series:
    """The address, or one composed from number, street, postcode and city."""
    empty = pd.Series("", index=f.index, dtype="str")
    address = f.get("address", empty)
    if not any(r in f for r in ("number", "street", "postcode", "city")):
        return address
    address = _str_column(address)
    number, street, postcode, city = (
        _str_column(f.get(r, empty)) for r in ("number", "street", "postcode", "city")
    )
    left = (number + " " + street).str.strip()
    right = (postcode + " " + city).str.strip()
    composed = (left + ", " + right).str.strip(", ")
    return address.where(address != "", composed)


def _accepted_frame(
    p: _Parsed,
    ids: pd.Series,
    a: np.ndarray,
    cats: _Categories,
    source: SourceConfig,
    files: list[str],
) -> tuple[pd.DataFrame, dict[str, int]]:
    """:data:`GATHERED_COLUMNS` (without geometry) for the rows ``a``, in that order;
    free text scrubbed, with the counts of what was scrubbed."""
    f = p.frame
    missing = pd.Series(np.nan, index=range(len(a)), dtype="str")
    # Every text column reaches the maps: all are scrubbed, the address without the
    # name rules (street names: "rue du Docteur Roux"; see pipelines.ingest.scrub_rules.ROLE_MODES).
    scrubbed = ("subcategory", "description", "address", "building_ref", "status", "channel")
    # Each text column as its distinct values and the accepted rows' codes; the text
    # columns scrubbed together (one pass of the rules over all the values of a mode).
    texts: dict[str, tuple[pa.Array, np.ndarray]] = {}
    for role in scrubbed:
        if role == "address" and any(r in f for r in ("number", "street", "postcode", "city")):
            dictionary, all_codes = _text_codes(_compose_address(f))
        elif role in f:
            dictionary, all_codes = _text_codes(f[role])
        else:
            continue
        texts[role] = dictionary, all_codes[a]
    free = [role for role in scrubbed if role in texts]
    dictionaries, scrub_counts = _scrub.scrub_codes_together(
        [texts[role][0] for role in free],
        [texts[role][1] for role in free],
        modes=[ROLE_MODES.get(role, "text") for role in free],
    )
    counts = _scrub.empty_counts()
    for role, dictionary, made in zip(free, dictionaries, scrub_counts, strict=True):
        texts[role] = dictionary, texts[role][1]
        counts = _scrub.add_counts(counts, made)
    code = cats.code[a]
    # The source's label, missing where it was blank.
    blank = np.asarray([label == "" for label in cats.labels], dtype=bool)
    pair = cats.pair[a]
    label_codes = np.where(blank[pair], -1, pair) if blank.any() else pair
    # Every column in one batch of tasks (no wait between the text columns and the
    # others): each string column builds its strings once, from a few distinct values
    # and codes.
    done = concurrently(
        {
            **_row_columns(p, ids, a, code, source, files),
            **{
                role: functools.partial(_strings_of, *texts[role])
                if role in texts
                else (lambda: missing)
                for role in scrubbed
            },
            "category_label": functools.partial(
                _take_strings, [BY_CODE[c].label for c in CODES], code
            ),
            "service_code": functools.partial(
                _take_strings, [BY_CODE[c].service_code for c in CODES], code
            ),
            "category_source_label": functools.partial(_take_strings, cats.labels, label_codes),
            "closed_at": lambda: p.closed_at.to_numpy()[a],
            "coord_note": functools.partial(_note_strings, p.flags[a]),
        }
    )
    frame = pd.DataFrame(
        {column: done[column] for column in GATHERED_COLUMNS},
        copy=False,  # fresh arrays: no copy into 2-D blocks
    )
    return _typed(frame), counts


def _row_columns(
    p: _Parsed,
    ids: pd.Series,
    idx: np.ndarray,
    code: np.ndarray,
    source: SourceConfig,
    files: list[str],
) -> dict[str, Callable[[], Any]]:
    """How to make the :data:`OUTSIDE_COLUMNS` of the rows ``idx``, which accepted rows
    have too (``code``: their taxonomy codes): a task per column."""
    zeros = np.zeros(len(idx), np.int64)
    return {
        "report_id": functools.partial(_report_ids, source, ids, idx),
        "source": functools.partial(_take_strings, [source.id], zeros),
        "source_kind": functools.partial(_take_strings, [source.kind], zeros),
        "source_file": functools.partial(_take_strings, files, p.frame["_file"].to_numpy()[idx]),
        "source_line": lambda: p.frame["source_line"].to_numpy(np.int64)[idx],
        "category": functools.partial(_take_strings, CODES, code),
        "reported_at": lambda: p.reported_at.to_numpy()[idx],
        "lon": lambda: p.lon[idx],
        "lat": lambda: p.lat[idx],
    }


def _outside_frame(
    p: _Parsed,
    ids: pd.Series,
    o: np.ndarray,
    cats: _Categories,
    source: SourceConfig,
    files: list[str],
) -> pd.DataFrame:
    """:data:`OUTSIDE_COLUMNS` for the rows ``o``, in that order."""
    tasks = _row_columns(p, ids, o, cats.code[o], source, files)
    return pd.DataFrame({column: tasks[column]() for column in OUTSIDE_COLUMNS})


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """The dtypes of :data:`GATHERED_COLUMNS` (also for an empty frame)."""
    out = frame.copy(deep=False)
    for col in _STR_COLUMNS:
        if out[col].dtype != "str":
            out[col] = out[col].astype("str")
    out["source_line"] = out["source_line"].astype("int64")
    out["reported_at"] = out["reported_at"].astype("datetime64[us]")
    out["closed_at"] = out["closed_at"].astype("datetime64[us]")
    out["lon"] = out["lon"].astype("float64")
    out["lat"] = out["lat"].astype("float64")
    return out


def _order(reported_at: pd.Series, report_id: pd.Series) -> np.ndarray:
    """Positions sorted by (reported_at, report_id), stably: by pyarrow (fast on
    strings), unless the rows are in that order already but for a few ties."""
    if len(report_id) == 0:
        return np.zeros(0, dtype=np.int64)
    times, ids = reported_at.to_numpy(), arrow_view(report_id)
    presorted = _presorted_order(times, ids)
    if presorted is not None:
        return presorted
    keys = pa.table({"t": pa.array(times), "r": ids})
    order = pc.sort_indices(keys, sort_keys=[("t", "ascending"), ("r", "ascending")])
    return np.asarray(order.to_numpy(), dtype=np.int64)


def _presorted_order(
    times: np.ndarray, ids: pa.Array | pa.ChunkedArray, *, most_groups: int = 1000
) -> np.ndarray | None:
    """:func:`_order` of rows already sorted by time, as exports usually are: the
    identity, with the runs of equal times whose ids are out of order sorted by id;
    None when the times are not sorted, are missing, or too many runs need sorting.

    One comparison of each id with the next (pyarrow), instead of sorting a million
    (time, id) pairs.
    """
    if np.isnat(times).any():
        return None  # pyarrow puts missing times last
    keys = times.view(np.int64)
    step = np.diff(keys)
    if (step < 0).any():
        return None
    order = np.arange(len(times), dtype=np.int64)
    tie = np.flatnonzero(step == 0)  # rows i and i + 1 share their time
    if len(tie) == 0:
        return order
    n = len(times)
    in_order = flags(pc.less_equal(ids.slice(0, n - 1), ids.slice(1)))
    bad = tie[~in_order[tie]]
    if len(bad) == 0:
        return order
    starts = np.unique(np.searchsorted(keys, keys[bad], side="left"))
    if len(starts) > most_groups:
        return None
    ends = np.searchsorted(keys, keys[starts], side="right")
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        within = pc.sort_indices(ids.slice(start, end - start))  # stable
        order[start:end] = start + np.asarray(within.to_numpy(), dtype=np.int64)
    return order
