"""Ingestion: every source of a site in, every row accounted for.

Each row read ends in exactly one of four places, and the summary checks that they add
up (``rows_in = accepted + duplicates + rejected + outside_study_area``):

- **accepted**: written to ``ingested.parquet`` (reports and observations), with its
  category mapped onto the taxonomy, its date parsed as local time, its coordinates in
  WGS84 (or none when only an address or a building code locates it) and its free text
  scrubbed of personal data;
- **duplicates**: the same ``report_id`` was already accepted (the same monthly file
  read twice, a ticket repeated in the next month's export, an exact duplicate row);
- **rejected**: written to ``rejected.csv`` with a reason code and a French sentence
  naming the column (no date, unreadable date or coordinates, date in the future or
  before the study, nothing to locate the report, malformed line);
- **outside_study_area**: valid coordinates outside the site's bounding box, listed in
  ``outside_study_area.csv``, counted, not mapped.

Parsing is vectorised (pyarrow and pandas string kernels, ``pd.to_datetime`` with
explicit formats, category mapping on distinct labels), so a million-row export is
ingested in a few times the time pyarrow takes to read it.
"""

from __future__ import annotations

import binascii
import functools
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from geopandas.array import GeometryArray
from pandas.api.types import union_categoricals
from pyproj import CRS, Transformer

from pipelines import _scrub
from pipelines._readers import (
    CATEGORY_FALLBACK,
    FORMAT_DEFAULTS,
    FORMAT_PERSONAL,
    RawFile,
    arrow_strings,
    arrow_view,
    clean_cells,
    clean_labels,
    parse_dates,
    parse_geo_points,
    parse_numbers,
    read_file,
    to_str_series,
)
from pipelines.config import COLUMN_ROLES, DEFAULT_PARAMS, Config, SiteConfig, SourceConfig
from pipelines.crs import LAMBERT93, WGS84
from pipelines.errors import InputError
from pipelines.taxonomy import BY_CODE, CODES, UNKNOWN, map_labels, normalise_label

log = logging.getLogger(__name__)

#: Columns of ``ingested.parquet``, in order.
INGESTED_COLUMNS = (
    "report_id",
    "source",
    "source_kind",
    "source_file",
    "source_line",
    "category",
    "category_label",
    "service_code",
    "category_source_label",
    "subcategory",
    "description",
    "address",
    "building_ref",
    "reported_at",
    "status",
    "closed_at",
    "channel",
    "lon",
    "lat",
    "coord_note",
    "geometry",
)
#: Columns of ``rejected.csv``.
REJECTED_COLUMNS = ("source", "source_file", "source_line", "reason", "reason_fr", "original_row")
#: Columns of ``outside_study_area.csv``.
OUTSIDE_COLUMNS = (
    "report_id",
    "source",
    "source_kind",
    "source_file",
    "source_line",
    "category",
    "reported_at",
    "lon",
    "lat",
)

#: Row-level rejection reasons, by priority (the first that applies is reported).
ROW_REASONS = (
    "malformed_row",
    "missing_date",
    "unparseable_date",
    "date_in_future",
    "date_before_start",
    "unparseable_coordinates",
    "missing_location",
)
#: File-level problems (a line with ``source_line`` 0 in ``rejected.csv``).
FILE_REASONS = ("missing_file", "empty_file", "unreadable_file")

# Coordinate notes, as bit flags while vectorised, joined with "+" in ``coord_note``.
_NOTES = (
    (1, "decimal_comma"),
    (2, "swapped_fixed"),
    (4, "lambert93"),
    (8, "projected"),
    (16, "geo_point"),
    (32, "representative_point"),
)
_FRANCE_LAT = (41.0, 52.0)
_FRANCE_LON = (-5.5, 10.0)
_L93_X = (100_000.0, 1_300_000.0)
_L93_Y = (6_000_000.0, 7_200_000.0)
_LOCATION_ROLES = ("address", "number", "street", "postcode", "city", "building_ref")
# Every mapped role is read as text first (plus the Open311 alternative category field).
_TEXT_ROLES = (*COLUMN_ROLES, "category_alt")
# Roles read as labels (pandas ``category``: cleaned and handled per distinct value);
# the others (identifiers, dates, coordinates) are mostly distinct, kept as ``str``.
_LABEL_ROLES = frozenset(_TEXT_ROLES) - {
    "id",
    "date",
    "closed_at",
    "lat",
    "lon",
    "x",
    "y",
    "geo_point",
}
_STATE_NONE, _STATE_OK, _STATE_BAD = 0, 1, 2


@dataclass(frozen=True)
class IngestResult:
    """What :func:`ingest_site` returns.

    Attributes
    ----------
    ingested
        Accepted rows, :data:`INGESTED_COLUMNS`, EPSG:4326, geometry None where only an
        address or building code locates the row; sorted by source, date, report_id.
    rejected
        :data:`REJECTED_COLUMNS`; file-level problems have ``source_line`` 0.
    outside
        :data:`OUTSIDE_COLUMNS`: valid coordinates outside the study area.
    summary
        ``ingest_summary.json``: per source, the row partition and its breakdowns.
    """

    ingested: gpd.GeoDataFrame
    rejected: pd.DataFrame
    outside: pd.DataFrame
    summary: dict[str, Any]


def _concurrently(tasks: Mapping[str, Callable[[], Any]]) -> dict[str, Any]:
    """Run independent column computations on a few threads.

    pyarrow's compute kernels (and most of numpy) release the GIL, so columns are parsed
    side by side: pyarrow's CSV reader already uses every core, and these steps would
    otherwise use one. The results do not depend on the scheduling.
    """
    workers = min(len(tasks), os.cpu_count() or 1, 8)
    if workers < 2:
        return {key: task() for key, task in tasks.items()}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {key: pool.submit(task) for key, task in tasks.items()}
        return {key: future.result() for key, future in futures.items()}


# --------------------------------------------------------------------------- columns
def _find_column(columns: list[str], wanted: str) -> str | None:
    if wanted in columns:
        return wanted
    folded = normalise_label(wanted)
    for col in columns:
        if normalise_label(col) == folded and folded:
            return col
    return None


def resolve_columns(raw: RawFile, source: SourceConfig) -> dict[str, str]:
    """Map each role to the file's column: the configured ones (exact name, else the
    same name up to case, accents and punctuation), then the format's defaults.

    Raises
    ------
    InputError
        A configured column is missing (the message lists the missing and the available
        columns), or no column gives the date or a location.
    """
    available = raw.columns
    roles: dict[str, str] = {}
    missing: list[str] = []
    for role, wanted in source.columns.items():
        found = _find_column(available, wanted)
        if found is None:
            missing.append(wanted)
        else:
            roles[role] = found
    if missing:
        detail = ""
        if raw.separator is not None:
            sep = {"\t": "tabulation"}.get(raw.separator, raw.separator)
            detail = f" (séparateur détecté « {sep} », encodage {raw.encoding})"
        raise InputError(
            raw.path,
            "colonnes configurées absentes : "
            + ", ".join(f"« {m} »" for m in missing)
            + ". Colonnes disponibles : "
            + ", ".join(f"« {c} »" for c in available)
            + f"{detail}. Corrigez [sites.sources.columns] de la source « {source.id} ».",
        )
    for role, candidates in FORMAT_DEFAULTS.get(raw.format, {}).items():
        if role in roles:
            continue
        for cand in candidates:
            if cand in raw.table.column_names:
                roles[role] = cand
                break
    if raw.format in ("kobo", "odk"):
        # A geopoint split into columns: Kobo's <field>_latitude, ODK Central's
        # <group>-<field>-Latitude (the first geopoint of the form).
        for role, name in (("lat", "latitude"), ("lon", "longitude")):
            if role not in roles:
                hits = [c for c in available if c.lower().endswith((f"_{name}", f"-{name}"))]
                if hits:
                    roles[role] = hits[0]
    alt = CATEGORY_FALLBACK.get(raw.format)
    if alt and alt in raw.table.column_names and roles.get("category") != alt:
        roles["category_alt"] = alt
    if "date" not in roles:
        raise InputError(
            raw.path,
            "aucune colonne de date : indiquez-la dans [sites.sources.columns] (date = …) ; "
            "colonnes disponibles : " + ", ".join(f"« {c} »" for c in available) + ".",
        )
    for a, b in (("lat", "lon"), ("x", "y")):
        if (a in roles) != (b in roles):
            raise InputError(
                raw.path, f"les rôles « {a} » et « {b} » vont ensemble : il en manque un."
            )
    has_location = any(r in roles for r in (*_LOCATION_ROLES, "lat", "x", "geo_point"))
    if not has_location:
        raise InputError(
            raw.path,
            "aucune colonne de localisation (adresse, bâtiment, coordonnées) : indiquez-en une "
            "dans [sites.sources.columns] ; colonnes disponibles : "
            + ", ".join(f"« {c} »" for c in available)
            + ".",
        )
    return roles


def _is_personal(column: str, personal: tuple[str, ...]) -> bool:
    folded = normalise_label(column)
    return any(column == p or (folded and normalise_label(p) == folded) for p in personal)


# --------------------------------------------------------------------------- coordinates
def _classify_degrees(
    lat: np.ndarray, lon: np.ndarray, flags: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validate (lat, lon) pairs; fix swapped pairs and Lambert-93 values in them.

    Returns lat, lon (degrees, NaN where invalid), state, flags.
    """
    lat = lat.copy()
    lon = lon.copy()
    finite = np.isfinite(lat) & np.isfinite(lon)
    state = np.where(finite, _STATE_OK, _STATE_BAD).astype(np.int8)
    zero = finite & (lat == 0) & (lon == 0)  # "0;0" is how many tools write "unknown"
    state[zero] = _STATE_NONE
    ok = finite & ~zero
    swapped = (
        ok
        & (lat >= _FRANCE_LON[0])
        & (lat <= _FRANCE_LON[1])
        & (lon >= _FRANCE_LAT[0])
        & (lon <= _FRANCE_LAT[1])
    )
    lat[swapped], lon[swapped] = lon[swapped], lat[swapped]
    flags = flags | np.where(swapped, 2, 0)
    l93 = ok & (lon >= _L93_X[0]) & (lon <= _L93_X[1]) & (lat >= _L93_Y[0]) & (lat <= _L93_Y[1])
    l93_swapped = (
        ok & (lat >= _L93_X[0]) & (lat <= _L93_X[1]) & (lon >= _L93_Y[0]) & (lon <= _L93_Y[1])
    )
    if l93.any() or l93_swapped.any():
        x = np.where(l93_swapped, lat, lon)
        y = np.where(l93_swapped, lon, lat)
        sel = l93 | l93_swapped
        tlon, tlat = _transform(x[sel], y[sel], LAMBERT93)
        lon[sel], lat[sel] = tlon, tlat
        flags = flags | np.where(sel, 4, 0) | np.where(l93_swapped, 2, 0)
    bad = ok & ~((np.abs(lat) <= 90) & (np.abs(lon) <= 180))
    state[bad] = _STATE_BAD
    lat[state != _STATE_OK] = np.nan
    lon[state != _STATE_OK] = np.nan
    return lat, lon, state, flags


def _transform(x: np.ndarray, y: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Project metric coordinates of ``crs`` to WGS84 (lon, lat)."""
    if len(x) == 0:
        return x, y
    transformer = Transformer.from_crs(crs, WGS84, always_xy=True)
    lon, lat = transformer.transform(x, y, errcheck=False)
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def _coordinates(
    f: pd.DataFrame, source: SourceConfig, file_crs: str | None, note: pd.Series | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Coordinates of each row from the first of lat/lon, x/y, geo_point that it fills.

    Returns lon, lat (degrees, NaN when none), state (0 none, 1 valid, 2 unparseable or
    impossible) and note flags.
    """
    n = len(f)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    state = np.zeros(n, dtype=np.int8)
    flags = np.zeros(n, dtype=np.int64)
    todo = np.ones(n, dtype=bool)

    def take(
        mask: np.ndarray, la: np.ndarray, lo: np.ndarray, st: np.ndarray, fl: np.ndarray
    ) -> None:
        lat[mask], lon[mask], state[mask], flags[mask] = la[mask], lo[mask], st[mask], fl[mask]

    crs = file_crs or source.crs or WGS84
    geographic = CRS.from_user_input(crs).is_geographic
    for a, b in (("lat", "lon"), ("y", "x")):
        if a not in f:
            continue
        given = todo & ((f[a] != "") | (f[b] != "")).to_numpy()
        if not given.any():
            continue
        parsed = _concurrently(
            {
                role: functools.partial(parse_numbers, f[role], decimal=source.decimal)
                for role in (a, b)
            }
        )
        (ya, ca), (xb, cb) = parsed[a], parsed[b]
        fl = np.where((ca | cb).to_numpy(), 1, 0).astype(np.int64)
        if (a == "lat" and file_crs in (None, WGS84)) or geographic:
            la, lo, st, fl = _classify_degrees(ya.to_numpy(), xb.to_numpy(), fl)
        else:
            x, y = xb.to_numpy(), ya.to_numpy()
            finite = np.isfinite(x) & np.isfinite(y)
            lo, la = np.full(n, np.nan), np.full(n, np.nan)
            lo[finite], la[finite] = _transform(x[finite], y[finite], crs)
            ok = (
                finite
                & np.isfinite(lo)
                & np.isfinite(la)
                & (np.abs(la) <= 90)
                & (np.abs(lo) <= 180)
            )
            st = np.where(ok, _STATE_OK, _STATE_BAD).astype(np.int8)
            fl = fl | (4 if CRS.from_user_input(crs).to_epsg() == 2154 else 8)
            la[~ok], lo[~ok] = np.nan, np.nan
        take(given, la, lo, st, fl)
        todo &= ~given
    if "geo_point" in f:
        given = todo & (f["geo_point"] != "").to_numpy()
        if given.any():
            gla, glo = parse_geo_points(f["geo_point"])
            la, lo, st, fl = _classify_degrees(
                gla.to_numpy(), glo.to_numpy(), np.full(n, 16, np.int64)
            )
            take(given, la, lo, st, fl)
    if note is not None:
        flags |= np.where((note == "representative_point").to_numpy() & (state == _STATE_OK), 32, 0)
    return lon, lat, state, flags


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


# --------------------------------------------------------------------------- one file
def _file_frame(raw: RawFile, roles: dict[str, str], file_index: int) -> pd.DataFrame:
    """The role columns of one file, cleaned, plus the row's identity."""
    n = raw.table.num_rows
    index = pd.RangeIndex(n)

    def clean(role: str) -> pd.Series:
        column = raw.table.column(roles[role])
        if role in _LABEL_ROLES:
            # free text: "-" or "NA" may be what was written
            return clean_labels(column, index, na_tokens=role != "description")
        return clean_cells(column, index)

    data: dict[str, Any] = _concurrently(
        {role: functools.partial(clean, role) for role in _TEXT_ROLES if role in roles}
    )
    if "__geom_note" in raw.table.column_names:
        data["_geom_note"] = to_str_series(raw.table.column("__geom_note"), index)
    frame = pd.DataFrame(data, index=index)
    frame["_file"] = np.int32(file_index)
    frame["_row"] = np.arange(n, dtype=np.int64)
    frame["source_line"] = raw.lines
    frame["_malformed"] = False
    if raw.malformed:
        bad = pd.DataFrame(
            {
                "_file": np.int32(file_index),
                "_row": -1 - np.arange(len(raw.malformed), dtype=np.int64),
                "source_line": np.asarray([m.line for m in raw.malformed], dtype=np.int64),
                "_malformed": True,
                "_raw_text": pd.Series(
                    ["\x1f".join(m.fields.values()) for m in raw.malformed], dtype="str"
                ),
            }
        )
        frame = pd.concat([_as_str(frame), bad], ignore_index=True)
        for role in [*data, "_raw_text"]:
            frame[role] = frame[role].fillna("")
        frame = frame.sort_values("source_line", kind="stable", ignore_index=True)
    return frame


def _as_str(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its ``category`` columns as ``str``."""
    labels = [c for c in frame if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    return frame.astype(dict.fromkeys(labels, "str")) if labels else frame


def _str_column(values: pd.Series) -> pd.Series:
    """A text column as ``str`` (label columns are ``category``)."""
    return values.astype("str") if isinstance(values.dtype, pd.CategoricalDtype) else values


def _concat_frames(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate the files' frames; a label column stays ``category`` (the union of
    the files' values) when every file has it as one."""
    out = pd.concat([_as_str(fr) for fr in frames], ignore_index=True)
    for column in out:
        parts = [fr[column] for fr in frames]
        if all(isinstance(part.dtype, pd.CategoricalDtype) for part in parts):
            out[column] = pd.Series(union_categoricals(parts), index=out.index)
    return out


def _hash_hex(frame: pd.DataFrame) -> pd.Series:
    """16 hex digits of a stable 64-bit hash of each row (``pd.util.hash_pandas_object``)."""
    if len(frame) == 0:
        return pd.Series([], index=frame.index, dtype="str")
    h = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    hexed = np.frombuffer(binascii.hexlify(h.astype(">u8").tobytes()), dtype="S16")
    return to_str_series(pa.array(hexed, pa.binary(16)).cast(pa.large_string()), frame.index)


def _take_strings(values: Sequence[str] | np.ndarray, codes: np.ndarray) -> pd.Series:
    """``values[codes]`` as a ``str`` Series, built by pyarrow (no Python string per row);
    a negative code gives a missing value."""
    dictionary = pa.array(list(values), pa.large_string())
    codes = np.asarray(codes, dtype=np.int64)
    return to_str_series(dictionary.take(pa.array(codes, mask=codes < 0)))


def _blank_to_na(values: pd.Series) -> pd.Series:
    """Empty strings become missing values."""
    return values.mask(values == "")


def _rows(series: pd.Series, idx: np.ndarray) -> pd.Series:
    """The rows ``idx`` of a ``str`` Series, re-indexed from 0 (no copy when ``idx`` is
    all rows). Taken by pyarrow on one contiguous array: ``Series.iloc`` on pyarrow-backed
    strings is several times slower."""
    if len(idx) == len(series) and (len(idx) == 0 or (idx[0] == 0 and (np.diff(idx) == 1).all())):
        return series.reset_index(drop=True)
    return to_str_series(arrow_strings(series).take(pa.array(idx, pa.int64())))


def _dictionary_codes(values: pd.Series) -> tuple[pa.Array, np.ndarray]:
    """The distinct values of a ``str`` Series (``large_string``) and, per row, the
    index of its value among them (-1 for a missing value).

    The chunks of pandas' pyarrow storage are encoded as they are (pyarrow gives every
    chunk the same, final dictionary), which spares concatenating a large column first.
    """
    try:
        stored = pa.array(values.array)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        stored = arrow_strings(values)
    chunks = stored.chunks if isinstance(stored, pa.ChunkedArray) else [stored]
    if len(chunks) > 1:
        encoded = pc.dictionary_encode(pa.chunked_array(chunks)).chunks
        address = encoded[-1].dictionary.buffers()[1].address
        if all(ch.dictionary.buffers()[1].address == address for ch in encoded):
            codes = [pc.fill_null(ch.indices, -1).to_numpy(zero_copy_only=False) for ch in encoded]
            return (
                encoded[-1].dictionary.cast(pa.large_string()),
                np.concatenate(codes).astype(np.int64, copy=False),
            )
    one = pc.dictionary_encode(arrow_strings(values))
    codes_one = pc.fill_null(one.indices, -1).to_numpy(zero_copy_only=False)
    return one.dictionary.cast(pa.large_string()), np.asarray(codes_one, dtype=np.int64)


def _text_rows(
    values: pd.Series, idx: np.ndarray, *, scrub: bool
) -> tuple[pd.Series, dict[str, int]]:
    """The rows ``idx`` of a text column, re-indexed from 0, ``""`` as missing, scrubbed
    when asked, with the counts of what was scrubbed in those rows.

    Through the distinct values (pyarrow dictionary encoding): blanking and scrubbing
    work on the few distinct strings, the rows are gathered as integer codes, and the
    output strings are built once.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        dictionary = arrow_strings(pd.Series(values.cat.categories))
        all_codes = np.asarray(values.array.codes, dtype=np.int64)
    else:
        dictionary, all_codes = _dictionary_codes(values)
    dictionary = pc.if_else(pc.equal(dictionary, ""), pa.scalar(None, dictionary.type), dictionary)
    codes = all_codes[idx]
    counts = _scrub.empty_counts()
    if scrub:
        dictionary, counts = _scrub.scrub_codes(dictionary, codes)
    return to_str_series(dictionary.take(pa.array(codes, mask=codes < 0))), counts


# --------------------------------------------------------------------------- one source
@dataclass
class _SourceOut:
    accepted: pd.DataFrame
    rejected: pd.DataFrame
    outside: pd.DataFrame
    summary: dict[str, Any]
    accepted_rows: np.ndarray  # positions of the accepted rows among the parsed ones
    # Of the accepted rows: shapely points, None without coordinates (set by the caller).
    geometry: np.ndarray | None = None


def _file_issue(source: SourceConfig, path: str, reason: str, detail: str) -> dict[str, Any]:
    return {
        "source": source.id,
        "source_file": path,
        "source_line": 0,
        "reason": reason,
        "reason_fr": detail,
        "original_row": "",
    }


def _read_source(
    source: SourceConfig,
) -> tuple[list[RawFile], list[dict[str, str]], list[dict[str, Any]]]:
    """Read every file of a source; files that hold no row become file-level issues."""
    files = source.files()
    issues: list[dict[str, Any]] = []
    raws: list[RawFile] = []
    roles_per_file: list[dict[str, str]] = []
    if not files:
        issues.append(
            _file_issue(
                source,
                source.path,
                "missing_file",
                f"Aucun fichier ne correspond à « {source.path} » : "
                "vérifiez le chemin de la source.",
            )
        )
        return raws, roles_per_file, issues
    for path in files:
        try:
            # The declared format: "auto" lets the reader recognise Kobo and ODK exports.
            raw = read_file(
                path,
                source.format,
                encoding=source.encoding,
                separator=source.separator,
                sheet=source.sheet,
            )
        except FileNotFoundError:
            issues.append(
                _file_issue(
                    source,
                    str(path),
                    "missing_file",
                    f"Fichier introuvable : « {path} » ; vérifiez le chemin de la source.",
                )
            )
            continue
        except OSError as err:
            issues.append(
                _file_issue(
                    source,
                    str(path),
                    "unreadable_file",
                    f"Fichier illisible ({err.strerror or err}) : vérifiez qu'il s'agit d'un "
                    "fichier et que vous avez le droit de le lire.",
                )
            )
            continue
        if not raw.has_header:
            issues.append(
                _file_issue(source, str(path), "empty_file", "Fichier vide : aucune ligne.")
            )
            continue
        if raw.n_rows == 0:
            issues.append(
                _file_issue(
                    source,
                    str(path),
                    "empty_file",
                    "Fichier sans données : seulement la ligne d'en-tête."
                    if raw.format not in ("geojson", "open311")
                    else "Fichier sans données : aucune entité.",
                )
            )
            continue
        roles_per_file.append(resolve_columns(raw, source))
        raws.append(raw)
    return raws, roles_per_file, issues


def _reason_codes(
    f: pd.DataFrame, reported_at: pd.Series, state: np.ndarray, *, today: date, start: pd.Timestamp
) -> np.ndarray:
    """Per row, 1 + the index in :data:`ROW_REASONS` of the first reason that applies, or 0."""
    if len(f) == 0:
        return np.zeros(0, np.int8)
    date_present = (f["date"] != "").to_numpy()
    t = reported_at.to_numpy()
    parsed = ~np.isnat(t)
    tomorrow = np.datetime64(pd.Timestamp(today) + pd.Timedelta(days=1), "us")
    located = state == _STATE_OK
    for role in _LOCATION_ROLES:
        if role in f:
            located = located | (f[role] != "").to_numpy()
    conditions = [
        f["_malformed"].to_numpy(dtype=bool),
        ~date_present,
        date_present & ~parsed,
        parsed & (t >= tomorrow),
        parsed & (t < np.datetime64(start, "us")),
        state == _STATE_BAD,
        ~located,
    ]
    return np.select(conditions, list(range(1, len(conditions) + 1)), default=0).astype(np.int8)


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


def _original_rows(
    raws: list[RawFile], rows: pd.DataFrame, personal: tuple[str, ...]
) -> tuple[list[str], dict[str, int]]:
    """JSON of the raw rows, personal columns (declared, or known to the file's format)
    removed and text scrubbed."""
    records: list[dict[str, str]] = []
    declared = personal
    for file_index, row in zip(rows["_file"].to_numpy(), rows["_row"].to_numpy(), strict=True):
        raw = raws[int(file_index)]
        personal = (*declared, *FORMAT_PERSONAL.get(raw.format, ()))
        if row >= 0:
            rec = raw.table.slice(int(row), 1).to_pylist()[0]
            lon, lat = rec.get("__lon"), rec.get("__lat")
            rec = {
                k: v
                for k, v in rec.items()
                if k not in raw.virtual and not _is_personal(k, personal)
            }
            if lon or lat:
                rec["geometry"] = f"[{lon}, {lat}]"
        else:
            m = raw.malformed[int(-1 - row)]
            names = list(m.fields)
            # A ragged line may have shifted personal values into other columns: keep
            # only the fields before the first personal column.
            stop = len(names)
            if personal:
                stop = min(
                    (i for i, k in enumerate(raw.table.column_names) if _is_personal(k, personal)),
                    default=len(names),
                )
                stop = min(stop, len(names)) - max(0, len(raw.table.column_names) - m.n_fields)
            rec = {k: m.fields[k] for k in names[: max(stop, 0)]}
            rec["_champs"] = str(m.n_fields)
        records.append(rec)
    flat = [v for rec in records for v in rec.values()]
    scrubbed, counts = _scrub.scrub_series(pd.Series(flat, dtype="str"))
    values = iter(scrubbed.fillna("").tolist())
    out = [json.dumps({k: next(values) for k in rec}, ensure_ascii=False) for rec in records]
    return out, counts


def _reason_fr(
    code: str, row: Mapping[Any, Any], columns: dict[str, str], today: date, start: pd.Timestamp
) -> str:
    """The French sentence of ``rejected.csv``, naming the column and quoting the value."""

    def col(role: str) -> str:
        return f"« {columns.get(role, role)} »"

    value = _scrub.scrub_text(str(row.get("date", ""))[:60]) or ""
    located = [r for r in ("lat", "lon", "x", "y", "geo_point") if r in columns]
    if code == "malformed_row":
        return (
            f"Ligne mal formée : {row.get('_champs', '?')} champs au lieu de "
            f"{row.get('_ncol', '?')} "
            "(séparateur ou guillemet en trop ou en moins ?)."
        )
    if code == "missing_date":
        return f"Date absente dans la colonne {col('date')}."
    if code == "unparseable_date":
        return (
            f"Date illisible dans la colonne {col('date')} : « {value} » "
            "(attendu jj/mm/aaaa [hh:mm], ISO 8601 ou numéro de série Excel)."
        )
    if code == "date_in_future":
        return (
            f"Date postérieure au jour du traitement ({today.isoformat()}) dans la colonne "
            f"{col('date')} : « {value} »."
        )
    if code == "date_before_start":
        return (
            f"Date antérieure au début de la période étudiée ({start.date().isoformat()}) dans "
            f"la colonne {col('date')} : « {value} »."
        )
    if code == "unparseable_coordinates":
        shown = " ; ".join(str(row.get(r, ""))[:40] for r in located)
        where = " / ".join(
            col(r) if not columns[r].startswith("__") else "« geometry »" for r in located
        )
        return (
            f"Coordonnées illisibles ou impossibles dans {where} : « {_scrub.scrub_text(shown)} »."
        )
    if code == "missing_location":
        used = [
            r
            for r in ("address", "number", "street", "building_ref", *located)
            if r in columns and not columns[r].startswith("__")
        ]
        names = ", ".join(col(r) for r in used) or "de localisation"
        return (
            "Aucune localisation : ni adresse, ni bâtiment, ni coordonnées "
            f"(colonnes {names} vides)."
        )
    return code


@dataclass
class _Parsed:
    """A source's rows, all files together: cleaned cells and parsed values."""

    frame: pd.DataFrame  # role columns, _file, _row, source_line, _malformed
    reported_at: pd.Series
    closed_at: pd.Series
    lon: np.ndarray
    lat: np.ndarray
    state: np.ndarray  # _STATE_NONE / _OK / _BAD
    flags: np.ndarray  # coordinate note bits
    roles: list[str]


def _parse_source(
    source: SourceConfig,
    raws: list[RawFile],
    roles_per_file: list[dict[str, str]],
    on_coordinates: Callable[[np.ndarray, np.ndarray, np.ndarray], None] | None = None,
) -> _Parsed:
    """Clean and parse every file of a source (file by file: formats and CRS may differ).

    ``on_coordinates(lon, lat, state)`` is called with each file's coordinates as soon
    as they are parsed, before its dates."""
    roles = sorted({r for per_file in roles_per_file for r in per_file})
    frames, dates, closes, coords = [], [], [], []
    for i, (raw, per_file) in enumerate(zip(raws, roles_per_file, strict=True)):
        fr = _file_frame(raw, per_file, i)
        for role in roles:
            if role not in fr:
                fr[role] = (
                    pd.Categorical.from_codes(
                        np.zeros(len(fr), np.int8), categories=pd.Index([""], dtype="str")
                    )
                    if role in _LABEL_ROLES
                    else ""
                )
        # KoboToolbox writes _submission_time in UTC, without an offset.
        kobo_utc = raw.format == "kobo" and per_file.get("date") == "_submission_time"
        naive_tz = "UTC" if kobo_utc else None
        dates_of = functools.partial(
            parse_dates,
            date_format=source.date_format,
            naive_tz=naive_tz,
            excel_epoch=raw.excel_epoch,
        )
        lon, lat, state, flags = _coordinates(fr, source, raw.crs, fr.get("_geom_note"))
        if on_coordinates is not None:
            on_coordinates(lon, lat, state)
        done = _concurrently(
            {
                "date": functools.partial(dates_of, fr["date"]),
                "closed_at": functools.partial(dates_of, fr["closed_at"])
                if "closed_at" in fr
                else functools.partial(pd.Series, pd.NaT, index=fr.index, dtype="datetime64[us]"),
            }
        )
        dates.append(done["date"])
        closes.append(done["closed_at"])
        coords.append((lon, lat, state, flags))
        frames.append(fr)
    if not frames:
        empty = pd.DataFrame(
            {
                "date": pd.Series([], dtype="str"),
                "_file": np.zeros(0, np.int32),
                "_row": np.zeros(0, np.int64),
                "source_line": np.zeros(0, np.int64),
                "_malformed": np.zeros(0, bool),
            }
        )
        none = pd.Series([], dtype="datetime64[us]")
        return _Parsed(
            empty,
            none,
            none,
            np.zeros(0),
            np.zeros(0),
            np.zeros(0, np.int8),
            np.zeros(0, np.int64),
            roles,
        )
    one = len(frames) == 1
    return _Parsed(
        frame=frames[0] if one else _concat_frames(frames),
        reported_at=dates[0] if one else pd.concat(dates, ignore_index=True),
        closed_at=closes[0] if one else pd.concat(closes, ignore_index=True),
        lon=np.concatenate([c[0] for c in coords]),
        lat=np.concatenate([c[1] for c in coords]),
        state=np.concatenate([c[2] for c in coords]),
        flags=np.concatenate([c[3] for c in coords]),
        roles=roles,
    )


@dataclass
class _Partition:
    """Where each row goes, and its identity."""

    reason: np.ndarray  # 1 + index in ROW_REASONS, 0 when valid
    report_id: pd.Series
    duplicate: np.ndarray
    accepted: np.ndarray
    outside: np.ndarray
    rejected: np.ndarray


def _partition(
    p: _Parsed,
    source: SourceConfig,
    *,
    bbox: tuple[float, float, float, float],
    today: date,
    start: pd.Timestamp,
    on_report_ids: Callable[[pd.Series], None] | None = None,
) -> _Partition:
    """Rejected rows first, then duplicates, then rows outside the study area.

    A valid row is a duplicate when a valid row with the same ``report_id`` came before
    it (files in name order, then lines); a rejected row when the very same row (same
    id, same cells) was rejected before, so that a file read twice is all duplicates.
    ``on_report_ids(report_id)`` is called as soon as the ids are known, before the
    duplicates are looked for.
    """
    f = p.frame
    n = len(f)
    reason = _reason_codes(f, p.reported_at, p.state, today=today, start=start)
    native = f["id"] if "id" in f else pd.Series("", index=f.index, dtype="str")
    no_id = (native == "").to_numpy()
    need_hash = no_id | (reason > 0)
    hashed = pd.Series("", index=f.index, dtype="str")
    if need_hash.any():
        cols = [r for r in p.roles if r in f] + (["_raw_text"] if "_raw_text" in f else [])
        hashed[need_hash] = _hash_hex(f.loc[need_hash, cols]) if cols else "0" * 16
    # One string operation per row when every row has its id (the usual case).
    ids_or_hash = native.where(~no_id, "h" + hashed) if no_id.any() else native
    report_id = (source.id + ":") + ids_or_hash
    if on_report_ids is not None:
        on_report_ids(report_id)
    valid = reason == 0
    duplicate = np.zeros(n, dtype=bool)
    if valid.any():
        ids = report_id if valid.all() else report_id[valid]
        # pyarrow's hash-based unique is twice as fast as pandas' duplicated: check first
        # whether there is any duplicate at all (usually not), on the ids without their
        # common prefix (shorter strings to hash).
        short = ids_or_hash if valid.all() else ids_or_hash[valid]
        if len(pc.unique(arrow_view(short))) < len(ids):
            duplicate[valid] = ids.duplicated(keep="first").to_numpy()
    if (~valid).any():
        key = report_id[~valid] + "|" + hashed[~valid]
        duplicate[~valid] = key.duplicated(keep="first").to_numpy()
    west, south, east, north = bbox
    inside = (p.lon >= west) & (p.lon <= east) & (p.lat >= south) & (p.lat <= north)
    outside = valid & ~duplicate & (p.state == _STATE_OK) & ~inside
    return _Partition(
        reason=reason,
        report_id=report_id,
        duplicate=duplicate,
        accepted=valid & ~duplicate & ~outside,
        outside=outside,
        rejected=~valid & ~duplicate,
    )


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


def _accepted_frame(
    p: _Parsed,
    rid: pd.Series,
    a: np.ndarray,
    cats: _Categories,
    source: SourceConfig,
    files: list[str],
) -> tuple[pd.DataFrame, dict[str, int]]:
    """:data:`INGESTED_COLUMNS` (without geometry) for the rows ``a``, in that order;
    free text scrubbed, with the counts of what was scrubbed."""
    f = p.frame
    missing = pd.Series(np.nan, index=range(len(a)), dtype="str")
    none = _scrub.empty_counts()

    def text(role: str, scrub: bool) -> tuple[pd.Series, dict[str, int]]:
        if role == "address":
            if not any(r in f for r in ("address", "number", "street", "postcode", "city")):
                return missing, none
            return _text_rows(_compose_address(f), a, scrub=scrub)
        if role in f:
            return _text_rows(f[role], a, scrub=scrub)
        return missing, none

    scrubbed = ("subcategory", "description", "address")
    texts = _concurrently(
        {
            role: functools.partial(text, role, role in scrubbed)
            for role in (*scrubbed, "building_ref", "status", "channel")
        }
    )
    code = cats.code[a]
    zeros = np.zeros(len(a), np.int64)
    taken = _concurrently(
        {
            "report_id": functools.partial(_rows, rid, a),
            "source_file": functools.partial(_take_strings, files, f["_file"].to_numpy()[a]),
            "category": functools.partial(_take_strings, CODES, code),
            "category_label": functools.partial(
                _take_strings, [BY_CODE[c].label for c in CODES], code
            ),
            "service_code": functools.partial(
                _take_strings, [BY_CODE[c].service_code for c in CODES], code
            ),
            "category_source_label": functools.partial(_take_strings, cats.labels, cats.pair[a]),
            "coord_note": functools.partial(_note_strings, p.flags[a]),
        }
    )
    frame = pd.DataFrame(
        {
            "report_id": taken["report_id"],
            "source": _take_strings([source.id], zeros),
            "source_kind": _take_strings([source.kind], zeros),
            "source_file": taken["source_file"],
            "source_line": f["source_line"].to_numpy(np.int64)[a],
            "category": taken["category"],
            "category_label": taken["category_label"],
            "service_code": taken["service_code"],
            "category_source_label": _blank_to_na(taken["category_source_label"]),
            "subcategory": texts["subcategory"][0],
            "description": texts["description"][0],
            "address": texts["address"][0],
            "building_ref": texts["building_ref"][0],
            "reported_at": p.reported_at.to_numpy()[a],
            "status": texts["status"][0],
            "closed_at": p.closed_at.to_numpy()[a],
            "channel": texts["channel"][0],
            "lon": p.lon[a],
            "lat": p.lat[a],
            "coord_note": taken["coord_note"],
        },
        copy=False,  # fresh arrays: no copy into 2-D blocks
    )
    counts = none
    for role in scrubbed:
        counts = _scrub.add_counts(counts, texts[role][1])
    return _typed(frame), counts


def _outside_frame(
    p: _Parsed,
    rid: pd.Series,
    o: np.ndarray,
    cats: _Categories,
    source: SourceConfig,
    files: list[str],
) -> pd.DataFrame:
    """:data:`OUTSIDE_COLUMNS` for the rows ``o``, in that order."""
    zeros = np.zeros(len(o), np.int64)
    return pd.DataFrame(
        {
            "report_id": _rows(rid, o),
            "source": _take_strings([source.id], zeros),
            "source_kind": _take_strings([source.kind], zeros),
            "source_file": _take_strings(files, p.frame["_file"].to_numpy()[o]),
            "source_line": p.frame["source_line"].to_numpy(np.int64)[o],
            "category": _take_strings(CODES, cats.code[o]),
            "reported_at": p.reported_at.to_numpy()[o],
            "lon": p.lon[o],
            "lat": p.lat[o],
        }
    )


def _rejected_frame(
    p: _Parsed,
    part: _Partition,
    raws: list[RawFile],
    roles_per_file: list[dict[str, str]],
    source: SourceConfig,
    *,
    today: date,
    start: pd.Timestamp,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The rejected rows (file then line order), with their reasons and scrubbed
    original rows; and the counts of what was scrubbed in them."""
    r = np.flatnonzero(part.rejected)
    if len(r) == 0:
        return pd.DataFrame(columns=list(REJECTED_COLUMNS)), _scrub.empty_counts()
    rf = p.frame.iloc[r]
    originals, counts = _original_rows(raws, rf, source.personal_columns)
    shown = rf[[c for c in ("date", "lat", "lon", "x", "y", "geo_point") if c in rf]]
    rows = []
    for k, (record, original) in enumerate(zip(shown.to_dict("records"), originals, strict=True)):
        fi = int(rf["_file"].iloc[k])
        code = ROW_REASONS[int(part.reason[r[k]]) - 1]
        if code == "malformed_row":
            m = raws[fi].malformed[int(-1 - rf["_row"].iloc[k])]
            record = {"_champs": m.n_fields, "_ncol": len(raws[fi].columns)}
        rows.append(
            {
                "source": source.id,
                "source_file": raws[fi].path,
                "source_line": int(rf["source_line"].iloc[k]),
                "reason": code,
                "reason_fr": _reason_fr(code, record, roles_per_file[fi], today, start),
                "original_row": original,
            }
        )
    return pd.DataFrame(rows, columns=list(REJECTED_COLUMNS)), counts


def _ingest_source(
    source: SourceConfig,
    *,
    bbox: tuple[float, float, float, float],
    today: date,
    start: pd.Timestamp,
) -> _SourceOut:
    raws, roles_per_file, issues = _read_source(source)
    # Building a million shapely points holds the GIL for a third of a second: each
    # file's points are built on a thread as soon as its coordinates are parsed, on the
    # rows that can be accepted with a point (valid, in the study area), while the
    # other steps run mostly in pyarrow kernels, which release the GIL.
    west, south, east, north = bbox
    with ThreadPoolExecutor(max_workers=1) as pool:
        points: list[Future[np.ndarray]] = []

        def start_points(lon: np.ndarray, lat: np.ndarray, state: np.ndarray) -> None:
            placed = (state == _STATE_OK) & (lon >= west) & (lon <= east)
            placed &= (lat >= south) & (lat <= north)
            points.append(pool.submit(_points_at, lon, lat, np.flatnonzero(placed)))

        p = _parse_source(source, raws, roles_per_file, start_points)
        out = _source_outputs(source, raws, roles_per_file, issues, p, bbox, today, start)
        per_file = [future.result() for future in points]
    every = per_file[0] if len(per_file) == 1 else np.concatenate(per_file or [np.zeros(0, object)])
    out.geometry = every[out.accepted_rows]
    return out


def _points_at(lon: np.ndarray, lat: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Shapely points at ``rows`` (an object array as long as ``lon``, None elsewhere)."""
    geometry = np.full(len(lon), None, dtype=object)
    if len(rows):
        geometry[rows] = shapely.points(lon[rows], lat[rows])
    return geometry


def _source_outputs(
    source: SourceConfig,
    raws: list[RawFile],
    roles_per_file: list[dict[str, str]],
    issues: list[dict[str, Any]],
    p: _Parsed,
    bbox: tuple[float, float, float, float],
    today: date,
    start: pd.Timestamp,
) -> _SourceOut:
    """Partition, order and gather a parsed source (geometry left to the caller)."""
    # Every row sorted by date and id on a thread while the ids are checked for
    # duplicates (two pyarrow kernels, which release the GIL); then a stable sort on
    # where the rows go gives both outputs' order: accepted rows, then outside ones.
    with ThreadPoolExecutor(max_workers=1) as pool:
        by_time: list[Future[np.ndarray]] = []

        def start_sort(report_id: pd.Series) -> None:
            by_time.append(pool.submit(_order, p.reported_at, report_id))

        part = _partition(p, source, bbox=bbox, today=today, start=start, on_report_ids=start_sort)
        cats = _categories(p, source)
        files = [raw.path for raw in raws]
        order = by_time[0].result()
    group = np.where(part.accepted, 0, np.where(part.outside, 1, 2)).astype(np.int8)
    order = order[np.argsort(group[order], kind="stable")]
    n_acc, n_out = int(part.accepted.sum()), int(part.outside.sum())
    a, o = order[:n_acc], order[n_acc : n_acc + n_out]
    accepted, text_counts = _accepted_frame(p, part.report_id, a, cats, source, files)
    outside = _outside_frame(p, part.report_id, o, cats, source, files)
    rejected, rejected_counts = _rejected_frame(
        p, part, raws, roles_per_file, source, today=today, start=start
    )
    if issues:
        rejected = pd.concat(
            [pd.DataFrame(issues, columns=list(REJECTED_COLUMNS)), rejected], ignore_index=True
        )

    rej_counts = {
        code: int(np.count_nonzero(part.reason[part.rejected] == i + 1))
        for i, code in enumerate(ROW_REASONS)
    }
    rej_counts = {k: v for k, v in rej_counts.items() if v}
    n = len(p.frame)
    n_dup = int(part.duplicate.sum())
    if n != n_acc + n_dup + sum(rej_counts.values()) + n_out:
        raise AssertionError(f"partition des lignes incohérente pour la source {source.id}")
    kept = part.accepted | part.outside
    unknown_rows = kept & cats.unknown[cats.pair] if n else kept
    unknown_labels: dict[str, int] = {}
    for k, count in enumerate(np.bincount(cats.pair[unknown_rows], minlength=len(cats.labels))):
        if count:
            label = cats.labels[k]
            unknown_labels[label] = unknown_labels.get(label, 0) + int(count)
    f = p.frame
    closed_given = (f["closed_at"] != "").to_numpy() if "closed_at" in f else np.zeros(n, bool)
    summary = {
        "kind": source.kind,
        "format": source.format,
        "files": files,
        "file_details": [
            {
                "path": raw.path,
                "format": raw.format,
                "encoding": raw.encoding,
                "separator": raw.separator,
                "rows_in": raw.n_rows,
                "blank_rows_skipped": raw.blank_rows,
                "columns": roles_per_file[i],
            }
            for i, raw in enumerate(raws)
        ],
        "file_issues": [{"file": x["source_file"], "reason": x["reason"]} for x in issues],
        "rows_in": n,
        "accepted": n_acc,
        "duplicates": n_dup,
        "rejected": rej_counts,
        "outside_study_area": n_out,
        "by_category": {  # from the codes: value_counts on a million strings is slower
            CODES[i]: int(count)
            for i, count in sorted(
                enumerate(np.bincount(cats.code[a], minlength=len(CODES))),
                key=lambda item: CODES[item[0]],
            )
            if count
        },
        "unknown_labels": dict(sorted(unknown_labels.items())),
        "coordinates": {
            "with_coordinates": int(np.count_nonzero(p.state[kept] == _STATE_OK)),
            "address_only": int(np.count_nonzero(p.state[kept] != _STATE_OK)),
            **{name: int(np.count_nonzero(p.flags[kept] & bit)) for bit, name in _NOTES},
        },
        "scrubbed": _scrub.add_counts(text_counts, rejected_counts),
        "closed_at_unparseable": int(
            np.count_nonzero(kept & closed_given & np.isnat(p.closed_at.to_numpy()))
        ),
    }
    return _SourceOut(accepted, rejected, outside, summary, a)


#: The text columns of ``ingested.parquet``: all but numbers, dates and the geometry.
_STR_COLUMNS = tuple(
    c
    for c in INGESTED_COLUMNS
    if c not in ("source_line", "reported_at", "closed_at", "lon", "lat", "geometry")
)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """The dtypes of :data:`INGESTED_COLUMNS` (also for an empty frame)."""
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
    """Positions sorted by (reported_at, report_id), by pyarrow (fast on strings)."""
    if len(report_id) == 0:
        return np.zeros(0, dtype=np.int64)
    keys = pa.table({"t": pa.array(reported_at.to_numpy()), "r": arrow_view(report_id)})
    order = pc.sort_indices(keys, sort_keys=[("t", "ascending"), ("r", "ascending")])
    return np.asarray(order.to_numpy(), dtype=np.int64)


# --------------------------------------------------------------------------- site
def ingest_site(
    site: SiteConfig,
    *,
    study_area_bbox: tuple[float, float, float, float],
    today: date,
) -> IngestResult:
    """Ingest every source of a site.

    Parameters
    ----------
    site
        The site; its ``params["ingest"]["start_date"]`` bounds dates from below.
    study_area_bbox
        (west, south, east, north) in degrees (EPSG:4326); rows with valid coordinates
        outside go to :attr:`IngestResult.outside`.
    today
        Dates after this day are rejected as ``date_in_future``.

    Returns
    -------
    IngestResult
        Reads the source files and nothing else; no file is written.

    Raises
    ------
    InputError
        A file cannot be parsed at all, or lacks a configured column.
    """
    params = {**DEFAULT_PARAMS["ingest"], **site.params.get("ingest", {})}
    start = pd.Timestamp(params["start_date"])
    outs = {
        s.id: _ingest_source(s, bbox=study_area_bbox, today=today, start=start)
        for s in site.sources
    }
    order = sorted(outs)
    accepted = [outs[s].accepted for s in order]
    frame = accepted[0] if len(accepted) == 1 else pd.concat(accepted, ignore_index=True)
    frame = _typed(frame)
    geoms = [g for s in order if (g := outs[s].geometry) is not None]
    geometry = (
        geoms[0]
        if len(geoms) == 1
        else np.concatenate(geoms)
        if geoms
        else np.full(0, None, dtype=object)
    )
    # The points are shapely objects already: GeometryArray takes them as they are
    # (GeoSeries would check each of a million values again).
    points = gpd.GeoSeries(GeometryArray(geometry, crs=WGS84), index=frame.index)
    ingested = gpd.GeoDataFrame(frame, geometry=points, crs=WGS84)
    rejected = pd.concat([outs[s].rejected for s in order], ignore_index=True)
    rejected = (
        rejected.astype({"source_line": "int64"})
        if len(rejected)
        else pd.DataFrame(columns=list(REJECTED_COLUMNS))
    )
    outside = pd.concat([outs[s].outside for s in order], ignore_index=True)
    outside = (
        outside[list(OUTSIDE_COLUMNS)]
        if len(outside)
        else pd.DataFrame(columns=list(OUTSIDE_COLUMNS))
    )
    sources = {s: outs[s].summary for s in order}
    totals = {
        key: sum(
            int(v[key]) if not isinstance(v[key], dict) else sum(v[key].values())
            for v in sources.values()
        )
        for key in ("rows_in", "accepted", "duplicates", "rejected", "outside_study_area")
    }
    summary = {
        "site": site.id,
        "study_area_bbox": [float(v) for v in study_area_bbox],
        "start_date": start.date().isoformat(),
        "partition": "rows_in = accepted + duplicates + rejected + outside_study_area",
        "sources": sources,
        "totals": totals,
    }
    return IngestResult(ingested, rejected, outside, summary)


def run(config: Config, site_id: str, out_dir: Path) -> IngestResult:
    """Ingest a site's sources and write ``ingested.parquet``, ``rejected.csv``,
    ``outside_study_area.csv`` and ``ingest_summary.json`` into ``out_dir``.

    The study area is the site's ``study_area_bbox``, else the bounds of its OSM extract;
    ``today`` is ``params.ingest.today`` when set (reproducible runs), else the day of
    the run.
    """
    from pipelines.buildings import read_osm_bounds
    from pipelines.io import write_csv, write_geoparquet, write_json

    site = config.site(site_id)
    bbox = site.study_area_bbox or read_osm_bounds(site.osm)
    today_param = site.params.get("ingest", {}).get("today")
    today = date.fromisoformat(str(today_param)) if today_param else date.today()
    result = ingest_site(site, study_area_bbox=bbox, today=today)
    for sid, s in result.summary["sources"].items():
        if (
            s["rows_in"]
            != s["accepted"]
            + s["duplicates"]
            + sum(s["rejected"].values())
            + s["outside_study_area"]
        ):
            raise AssertionError(f"partition des lignes incohérente pour la source {sid}")
        log.info(
            "%s/%s : %d lignes, %d acceptées, %d doublons, %d rejetées, %d hors zone",
            site_id,
            sid,
            s["rows_in"],
            s["accepted"],
            s["duplicates"],
            sum(s["rejected"].values()),
            s["outside_study_area"],
        )
    out_dir = Path(out_dir)
    write_geoparquet(result.ingested, out_dir / "ingested.parquet")
    write_csv(result.rejected, out_dir / "rejected.csv")
    write_csv(result.outside, out_dir / "outside_study_area.csv")
    write_json(result.summary, out_dir / "ingest_summary.json")
    return result


# --------------------------------------------------------------------------- duplicates
def link_likely_duplicates(
    reports: gpd.GeoDataFrame,
    *,
    distance_m: float = 30.0,
    window_h: float = 48.0,
) -> pd.Series:
    """Link each report to an earlier report of the same problem, if any.

    Two reports are likely duplicates when they have the same ``category``, were made
    within ``window_h`` hours of each other, and either share a non-null ``building_id``
    or lie within ``distance_m`` metres (measured in Lambert-93, EPSG:2154, whatever the
    input CRS). A report is linked to the *earliest* such report before it (ties in time
    broken by ``report_id``); the link is not transitive.

    Parameters
    ----------
    reports
        ``report_id``, ``category``, ``reported_at``, geometry (any CRS; None allowed),
        optional ``building_id``.
    distance_m, window_h
        Distance in metres and time window in hours, both inclusive.

    Returns
    -------
    Series
        ``duplicate_of``, aligned on ``reports.index``: the ``report_id`` of the earlier
        report, or NA.

    Notes
    -----
    Vectorised: the building criterion is a ``searchsorted`` over reports sorted by
    (category, building, time); the distance criterion a k-d tree of (x, y, scaled time)
    per category, queried for pairs within the Chebyshev box, then filtered by the
    Euclidean distance.
    """
    from scipy.spatial import cKDTree

    n = len(reports)
    result = pd.Series(pd.NA, index=reports.index, dtype="string", name="duplicate_of")
    if n < 2:
        return result
    t_ns = (
        pd.to_datetime(reports["reported_at"]).to_numpy().astype("datetime64[ns]").astype(np.int64)
    )
    has_time = ~pd.isna(reports["reported_at"]).to_numpy()
    cat_codes, _ = pd.factorize(reports["category"].astype("str"), sort=True)
    rid = reports["report_id"].astype("str")
    rid_codes, _ = pd.factorize(rid, sort=True)
    # Rank of each report in (category, time, report_id) order: "earlier" means lower rank.
    order = np.lexsort((rid_codes, t_ns, cat_codes))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    best = np.full(n, n, dtype=np.int64)  # rank of the earliest match; n = none

    # Same building within the window.
    if "building_id" in reports:
        b = reports["building_id"]
        ok = b.notna().to_numpy() & has_time & (cat_codes >= 0)
        if ok.any():
            idx = np.flatnonzero(ok)
            b_codes, _ = pd.factorize(b.astype("str").to_numpy()[idx], sort=True)
            group = cat_codes[idx].astype(np.int64) * (int(b_codes.max()) + 1) + b_codes
            o = np.lexsort((rank[idx], t_ns[idx], group))
            g_sorted = group[o] - group.min()
            # One searchsorted over (group, time) keys: within a group, the earliest report
            # at or after t - window is the match. Times in the finest unit (ns, µs, ms,
            # s) for which the composite keys fit in 62 bits.
            for unit in (1, 1_000, 1_000_000, 1_000_000_000):
                t_sorted = (t_ns[idx][o] - t_ns[idx].min()) // unit
                window = int(window_h * 3600 * 1e9) // unit
                span = int(t_sorted.max()) + window + 1
                if (int(g_sorted.max()) + 1) * span < 2**62:
                    break
            key = g_sorted * span + t_sorted
            first = np.searchsorted(key, key - window, side="left")
            positions = np.arange(len(o))
            linked = first < positions
            target_rank = rank[idx[o[first]]]
            rows = idx[o[linked]]
            best[rows] = np.minimum(best[rows], target_rank[linked])

    # Within distance_m and the window.
    geom = reports.geometry
    has_geom = (geom.notna() & ~geom.is_empty).to_numpy() & has_time & (cat_codes >= 0)
    if has_geom.any() and reports.crs is not None:
        pts = geom[has_geom].to_crs(LAMBERT93)
        x, y = pts.x.to_numpy(), pts.y.to_numpy()
        idx = np.flatnonzero(has_geom)
        scale = distance_m / (window_h * 3600.0) if window_h > 0 else 0.0
        t_s = (t_ns[idx] - t_ns[idx].min()) / 1e9
        cats = cat_codes[idx]
        for c in np.unique(cats):
            sel = np.flatnonzero(cats == c)
            if len(sel) < 2:
                continue
            coords = np.column_stack((x[sel], y[sel], t_s[sel] * scale))
            pairs = cKDTree(coords).query_pairs(r=distance_m, p=np.inf, output_type="ndarray")
            if len(pairs) == 0:
                continue
            i, j = sel[pairs[:, 0]], sel[pairs[:, 1]]
            close = np.hypot(x[i] - x[j], y[i] - y[j]) <= distance_m
            close &= np.abs(t_s[i] - t_s[j]) <= window_h * 3600.0
            i, j = idx[i[close]], idx[j[close]]
            later = np.where(rank[i] > rank[j], i, j)
            earlier_rank = np.minimum(rank[i], rank[j])
            np.minimum.at(best, later, earlier_rank)

    linked = best < n
    if linked.any():
        by_rank = rid.to_numpy(dtype=object)[order]
        values = np.full(n, None, dtype=object)
        values[linked] = by_rank[best[linked]]
        result = pd.Series(values, index=reports.index, dtype="string", name="duplicate_of")
    return result
