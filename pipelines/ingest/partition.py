"""Where each parsed row goes (accepted, duplicate, rejected, outside the study area),
its report id, and its category on the taxonomy."""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.config import SourceConfig
from pipelines.ingest import scrub as _scrub
from pipelines.ingest.cells import _has_repeats, _Parsed, _str_column
from pipelines.ingest.jsonfile import NOT_AN_OBJECT
from pipelines.ingest.schema import (
    _LOCATION_ROLES,
    _STATE_BAD,
    _STATE_OK,
    EXCEL_NUMBER_ID,
    ROW_REASONS,
)
from pipelines.ingest.values import arrow_view, filled_cells, flags, to_str_series
from pipelines.taxonomy import BY_CODE, CODES, UNKNOWN, map_labels, normalise_label


def _header_key(text: object) -> str:
    """A cell or a column name as compared with the other: stripped, case folded."""
    return str(text).strip().casefold()


def _repeated_header(
    f: pd.DataFrame, candidates: np.ndarray, roles_per_file: list[dict[str, str]]
) -> np.ndarray:
    """Per row, whether it is its file's header line again (exports pasted together, an
    export tool writing its header on every page): its date cell is the name of its date
    column, and at least half of its other filled cells (one at least, when the file maps
    other columns) are the names of theirs; or, the date column renamed (« Créé le »,
    an export of another version), more than half of its filled cells, two at least.
    Only the ``candidates`` (the rows whose date is unreadable) are looked at."""
    out = np.zeros(len(f), dtype=bool)
    if "_file" not in f:
        return out
    files = f["_file"].to_numpy()
    for k in np.flatnonzero(candidates).tolist():
        roles = roles_per_file[int(files[k])] if int(files[k]) < len(roles_per_file) else {}
        if "date" not in roles:
            continue
        others = [r for r in roles if r != "date" and r in f and not roles[r].startswith("__")]
        filled = [(_header_key(f[r].iat[k]), _header_key(roles[r])) for r in others]
        same = sum(cell == name for cell, name in filled if cell)
        n_filled = sum(1 for cell, _ in filled if cell)
        if _header_key(f["date"].iat[k]) == _header_key(roles["date"]):
            out[k] = not others or (same >= 1 and 2 * same >= n_filled)
        else:
            out[k] = same >= 2 and 2 * same > n_filled
    return out


def repeated_header_rows(frame: pd.DataFrame, roles: dict[str, str]) -> np.ndarray:
    """Per row of one file's ``frame`` (its columns named as in the file, text), whether
    it is the file's header line again (:func:`_repeated_header`); ``roles``: the column
    of each role."""
    present = {r: c for r, c in roles.items() if c in frame}
    if "date" not in present:
        return np.zeros(len(frame), dtype=bool)
    f = pd.DataFrame({r: frame[c] for r, c in present.items()})
    f["_file"] = 0
    dates = f["date"].astype("str").str.strip().str.casefold()
    candidates = dates.eq(_header_key(present["date"])).to_numpy(dtype=bool)
    return _repeated_header(f, candidates, [present])


def _reason_codes(
    f: pd.DataFrame,
    reported_at: pd.Series,
    state: np.ndarray,
    *,
    today: date,
    start: pd.Timestamp,
    roles_per_file: list[dict[str, str]] | None = None,
) -> np.ndarray:
    """Per row, 1 + the index in :data:`ROW_REASONS` of the first reason that applies, or 0.

    ``roles_per_file``: each file's column of each role, to tell a repeated header line
    (none told without it)."""
    if len(f) == 0:
        return np.zeros(0, np.int8)
    date_present = filled_cells(f["date"])
    t = reported_at.to_numpy()
    parsed = ~np.isnat(t)
    tomorrow = np.datetime64(pd.Timestamp(today) + pd.Timedelta(days=1), "us")
    located = state == _STATE_OK
    for role in _LOCATION_ROLES:
        if role in f:
            located = located | filled_cells(f[role])
    malformed = f["_malformed"].to_numpy(dtype=bool)
    # A quote left open: the line read alone, malformed for its own reason.
    unclosed = malformed & f["_unclosed_quote"].to_numpy(dtype=bool)
    # A GeoJSON feature that is not an object: no cell to read, told as such (not as a
    # missing date).
    not_object = (
        (f["_geom_note"] == NOT_AN_OBJECT).to_numpy(dtype=bool)
        if "_geom_note" in f
        else np.zeros(len(f), bool)
    )
    conditions = [
        malformed & ~unclosed,
        unclosed,
        _repeated_header(f, date_present & ~parsed, roles_per_file or []),
        not_object,
        ~date_present,
        date_present & ~parsed,
        parsed & (t >= tomorrow),
        parsed & (t < np.datetime64(start, "us")),
        state == _STATE_BAD,
        ~located,
    ]
    return np.select(conditions, list(range(1, len(conditions) + 1)), default=0).astype(np.int8)


#: An id that is a placeholder, not a report's number (RE2, matched whole, any case):
#: zeros and punctuation only (« 0 », « 00000 », « - », « ? », « # »), or a word for
#: « none » (« N/A », « NC », « sans objet », « S.O. », « néant », « inconnu », « XXX »,
#: « à définir »…). Exports write one where the ticket has no number: read as an id, the
#: distinct reports sharing it were taken for versions of the first and collapsed.
_PLACEHOLDER_ID = (
    r"(?i)^(?:(?:0|[^\pL\pN])*|[^\pL\pN]*(?:x+|n[^\pL\pN]*[acdr]|s[^\pL\pN]*o"
    r"|sans[^\pL\pN]*(?:objet|num[eé]ro|identifiant|id|r[eé]f[eé]rence|ref)"
    r"|aucune?|n[eé]ant|inconnue?"
    r"|non[^\pL\pN]*(?:renseign[eé]e?|communiqu[eé]e?|attribu[eé]e?|applicable)"
    r"|vide|null|none|nan|nil|tbd|tba|[àa][^\pL\pN]*d[eé]finir)[^\pL\pN]*)$"
)


def placeholder_ids(ids: pd.Series) -> np.ndarray:
    """Per cleaned id, whether it is filled with a placeholder (:data:`_PLACEHOLDER_ID`)
    or a number Excel wrote in scientific notation (:data:`EXCEL_NUMBER_ID`) rather
    than a report's number: such a row has no id (:func:`_partition`).

    About 70 ms per million ids (one RE2 pass), the cost of never collapsing reports.
    """
    if len(ids) == 0:
        return np.zeros(0, dtype=bool)
    values = arrow_view(ids.astype("str") if isinstance(ids.dtype, pd.CategoricalDtype) else ids)
    found = flags(pc.match_substring_regex(values, f"{_PLACEHOLDER_ID}|{EXCEL_NUMBER_ID}"))
    return found & filled_cells(ids)


def unpadded_ids(ids: pd.Series, skip: np.ndarray) -> tuple[pd.Series, np.ndarray]:
    """The ids with every spelling of one number written with and without leading zeros
    (« 00012345 », « 12345 ») made the first one read, and the positions rewritten;
    ``skip``: the rows without an id (empty or a placeholder, :func:`placeholder_ids`).

    A number's leading zeros are the export's spelling, not the ticket's: one tool pads
    its numbers to eight digits, another does not, and Excel drops them when a CSV is
    opened and saved again. Read as they are, the same tickets of two such exports were
    two reports each, counted twice on the map. Only ids of digits alone are compared so
    (« A-012 » and « A-12 » stay two), and only where both spellings are read, so that an
    export padded throughout keeps its ids as written. Per million ids (CPU): about 20 ms
    when no id starts with a zero (one RE2 pass, the usual export), 0.1 s when every
    number has the same width (padded throughout), 0.5 s when half of them are written
    both ways.
    """
    if len(ids) == 0:
        return ids, np.zeros(0, np.int64)
    text = ids.astype("str") if isinstance(ids.dtype, pd.CategoricalDtype) else ids
    values = arrow_view(text)
    if not (flags(pc.match_substring_regex(values, r"^0+[1-9][0-9]*$")) & ~skip).any():
        return ids, np.zeros(0, np.int64)
    pos = np.flatnonzero(flags(pc.match_substring_regex(values, r"^[0-9]+$")) & ~skip)
    digits = values.take(pa.array(pos))
    widths = pc.min_max(pc.binary_length(digits))
    if widths["min"].as_py() == widths["max"].as_py():
        return ids, np.zeros(0, np.int64)  # one width: each number written one way
    written = to_str_series(digits, pd.RangeIndex(len(pos)))
    number = to_str_series(pc.utf8_ltrim(digits, "0"), written.index)
    first = written.groupby(number, sort=False).transform("first")
    changed = (first != written).to_numpy()
    if not changed.any():
        return ids, np.zeros(0, np.int64)
    cells = text.to_numpy(dtype=object, copy=True)
    cells[pos[changed]] = first.to_numpy(dtype=object)[changed]
    return pd.Series(cells, index=ids.index, dtype=text.dtype), pos[changed]


def _hash_hex(frame: pd.DataFrame) -> pd.Series:
    """16 hex digits of a stable 64-bit hash of each row (``pd.util.hash_pandas_object``)."""
    if len(frame) == 0:
        return pd.Series([], index=frame.index, dtype="str")
    h = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    hexed = np.frombuffer(binascii.hexlify(h.astype(">u8").tobytes()), dtype="S16")
    return to_str_series(pa.array(hexed, pa.binary(16)).cast(pa.large_string()), frame.index)


def _repeated_rows(frame: pd.DataFrame) -> np.ndarray:
    """Whether each row's cells are those of an earlier row: the cells of the columns
    that hold something joined by U+001F (as the fields of ``_raw_text`` are), the rows
    then dictionary-encoded by pyarrow (1.4 million rejected lines: about a second,
    against three to hash every column with pandas)."""
    columns = [
        arrow_view(
            frame[c].astype("str") if isinstance(frame[c].dtype, pd.CategoricalDtype) else frame[c]
        ).cast(pa.large_string())
        for c in frame
        if filled_cells(frame[c]).any()
    ]
    if not columns:
        return np.arange(len(frame)) > 0
    key = (
        columns[0]
        if len(columns) == 1
        else pc.binary_join_element_wise(*columns, pa.scalar("\x1f", pa.large_string()))
    )
    encoded = pc.dictionary_encode(key)
    chunks = encoded.chunks if isinstance(encoded, pa.ChunkedArray) else [encoded]
    codes = np.concatenate([chunk.indices.to_numpy() for chunk in chunks])
    first = np.zeros(len(frame), dtype=bool)
    first[np.unique(codes, return_index=True)[1]] = True
    return ~first


@dataclass
class _Partition:
    """Where each row goes, and its identity."""

    reason: np.ndarray  # 1 + index in ROW_REASONS, 0 when valid
    # Each row's id, or "h" and a hash of its cells when it has none: its report_id
    # without the source's prefix (added to the rows written only).
    ids: pd.Series
    duplicate: np.ndarray
    accepted: np.ndarray
    outside: np.ndarray
    rejected: np.ndarray
    # Valid coordinates outside the study area, whatever the row's fate.
    away: np.ndarray
    # Replaced by a later version of the same report (:mod:`pipelines.ingest.versions`).
    updated: np.ndarray
    # Whether a valid row's id is repeated: until the versions are told apart, every
    # repeat is a duplicate of the first.
    repeats: bool = False
    # Rows whose id is a placeholder (:func:`placeholder_ids`), read as rows without one.
    placeholder: np.ndarray | None = None
    # Rows whose id was another spelling of a number read before (« 00012345 » after
    # « 12345 », :func:`unpadded_ids`), and that spelling as written.
    unpadded: np.ndarray | None = None
    unpadded_from: pd.Series | None = None


def _partition(
    p: _Parsed,
    source: SourceConfig,
    *,
    bbox: tuple[float, float, float, float],
    today: date,
    start: pd.Timestamp,
    roles_per_file: list[dict[str, str]] | None = None,
) -> _Partition:
    """Rejected rows first, then duplicates, then rows outside the study area.

    A valid row is a duplicate when a valid row with the same ``report_id`` came before
    it (files in name order, then lines), until :func:`pipelines.ingest.versions.
    resolve_versions` tells the copies (duplicates) from the versions (updates) when
    ``repeats``; a rejected row is a duplicate when the very same row (same cells, its
    id among them) was rejected before, so that a file read twice is all duplicates.

    An id that is a placeholder (« 0 », « N/A », « sans objet »…, :func:`placeholder_ids`)
    is no id: its row is a report of its own, named by its cells as a row without an id
    is, and merged only with a row whose every cell is the same. A number written with
    and without leading zeros is one id, spelled as first read (:func:`unpadded_ids`).
    """
    f = p.frame
    n = len(f)
    native = f["id"] if "id" in f else pd.Series("", index=f.index, dtype="str")
    placeholder = placeholder_ids(native) if "id" in f else np.zeros(n, dtype=bool)
    no_id = ~filled_cells(native) | placeholder
    written = native
    native, unpadded = unpadded_ids(native, no_id)
    reason = _reason_codes(
        f, p.reported_at, p.state, today=today, start=start, roles_per_file=roles_per_file
    )
    valid = reason == 0
    cols = [r for r in p.roles if r in f] + (["_raw_text"] if "_raw_text" in f else [])
    # A valid row without an id gets one from its cells (rejected rows need none).
    need_hash = no_id & valid
    hashed = pd.Series("", index=f.index, dtype="str") if need_hash.any() else None
    if hashed is not None:
        hashed[need_hash] = _hash_hex(f.loc[need_hash, cols]) if cols else "0" * 16
    # One string operation per row when every row has its id (the usual case).
    ids_or_hash = (
        native if hashed is None or not no_id.any() else native.where(~no_id, "h" + hashed)
    )
    # Whether any valid id repeats (usually not). Known already when every row's own id
    # is filled and distinct: any subset is. The source's prefix is the same for every
    # row, so the ids without it repeat where the report_ids do.
    short = ids_or_hash if valid.all() else ids_or_hash[valid]
    repeats = (len(unpadded) > 0 or not p.ids_distinct) and _has_repeats(short)
    duplicate = np.zeros(n, dtype=bool)
    if repeats:
        duplicate[valid] = short.duplicated(keep="first").to_numpy()
    if (~valid).any():
        duplicate[~valid] = _repeated_rows(f[cols] if not valid.any() else f.loc[~valid, cols])
        # A GeoJSON feature that is not an object has no cell to compare (« "x" », 42 and
        # null would all read as the same empty row): each is rejected on its own.
        duplicate &= reason != 1 + ROW_REASONS.index("unreadable_feature")
    west, south, east, north = bbox
    inside = (p.lon >= west) & (p.lon <= east) & (p.lat >= south) & (p.lat <= north)
    away = (p.state == _STATE_OK) & ~inside
    outside = valid & ~duplicate & away
    return _Partition(
        reason=reason,
        ids=ids_or_hash,
        duplicate=duplicate,
        accepted=valid & ~duplicate & ~outside,
        outside=outside,
        rejected=~valid & ~duplicate,
        away=away,
        updated=np.zeros(n, dtype=bool),
        repeats=repeats,
        placeholder=placeholder,
        unpadded=unpadded,
        unpadded_from=written.iloc[unpadded] if len(unpadded) else None,
    )


# Labels that legitimately mean "autre" (not unknown): the taxonomy's own.
_AUTRE_LABELS = {
    normalise_label(UNKNOWN),
    normalise_label(BY_CODE[UNKNOWN].label),
    normalise_label(BY_CODE[UNKNOWN].service_code),
}


def _map_categories(
    labels: pd.Series, alt: pd.Series | None, source: SourceConfig
) -> tuple[np.ndarray, list[str], list[str], list[bool]]:
    """Map labels to taxonomy codes through their distinct values.

    Returns, per row, an index into the distinct (label, fallback label) pairs, and per
    pair its code, its source label and whether it was unknown (→ ``autre``, listed).
    A label the configuration maps to ``autre`` on purpose is not unknown.
    """
    key = labels if alt is None else _str_column(labels) + "\x1f" + _str_column(alt)
    codes, uniques = pd.factorize(key)
    pairs = (
        [str(u).split("\x1f") for u in uniques]
        if alt is not None
        else [[str(u), ""] for u in uniques]
    )
    prim = [p[0] for p in pairs]
    sec = [p[1] if len(p) > 1 else "" for p in pairs]
    mapped_p, _ = map_labels(prim, source.categories)
    mapped_s, _ = map_labels(sec, source.categories)
    configured_autre = {normalise_label(k) for k, v in source.categories.items() if v == UNKNOWN}
    deliberate = _AUTRE_LABELS | configured_autre
    default = source.default_category or UNKNOWN
    out_code, out_label, out_unknown = [], [], []
    for p, s, cp, cs in zip(prim, sec, mapped_p, mapped_s, strict=True):
        if p and (cp != UNKNOWN or normalise_label(p) in deliberate):
            code, unknown = cp, False
        elif s and (cs != UNKNOWN or normalise_label(s) in deliberate):
            code, unknown = cs, False
        elif p or s:
            code, unknown = UNKNOWN, True
        else:
            code, unknown = default, False
        out_code.append(code)
        out_label.append(s or p)
        out_unknown.append(unknown)
    return codes, out_code, out_label, out_unknown


@dataclass
class _Categories:
    """Taxonomy codes per row, through the distinct (label, fallback label) pairs."""

    pair: np.ndarray  # per row, index of its pair
    code: np.ndarray  # per row, index in CODES
    labels: list[str]  # per pair, the source label (scrubbed)
    unknown: np.ndarray  # per pair, unknown label (→ autre, listed)


def _categories(p: _Parsed, source: SourceConfig) -> _Categories:
    empty = pd.Series("", index=p.frame.index, dtype="str")
    pair, codes, labels, unknown = _map_categories(
        p.frame.get("category", empty), p.frame.get("category_alt"), source
    )
    code_index = np.asarray([CODES.index(c) for c in codes], dtype=np.int64)
    return _Categories(
        pair=pair,
        code=code_index[pair] if len(pair) else np.zeros(0, np.int64),
        labels=_scrub.scrub_series(pd.Series(labels, dtype="str"))[0].fillna("").tolist(),
        unknown=np.asarray(unknown, dtype=bool),
    )
