"""Coordinates of one source's rows, validated and converted to WGS84
(:func:`coordinates`): degrees told from projected metres (Lambert-93 or the source's
declared system) by their range, swapped latitude and longitude recognised, each
unreadable or impossible pair given its reason. :mod:`pipelines.ingest.cells` calls it
for every file of a source.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from pyproj import CRS, Transformer

from pipelines.config import SourceConfig
from pipelines.crs import LAMBERT93, WGS84
from pipelines.ingest.schema import (
    _FRANCE_LAT,
    _FRANCE_LON,
    _L93_X,
    _L93_Y,
    _STATE_BAD,
    _STATE_NONE,
    _STATE_OK,
    _ZERO_PAIR,
)
from pipelines.ingest.threads import concurrently
from pipelines.ingest.values import (
    filled_cells,
    filled_geo_points,
    parse_geo_points,
    parse_numbers,
)


def refactorized(codes: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes into ``values`` made codes into its distinct values."""
    same, distinct = pd.factorize(values)
    return same[codes], np.asarray(distinct, dtype=object)


def _classify_degrees(
    lat: np.ndarray, lon: np.ndarray, flags: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validate (lat, lon) pairs; fix swapped pairs and Lambert-93 values in them.

    Returns lat, lon (degrees, NaN where invalid), state, flags (a 0;0 pair: no
    coordinates, :data:`_ZERO_PAIR` in its flags).
    """
    finite = np.isfinite(lat) & np.isfinite(lon)
    ordinary = (
        (lat >= _FRANCE_LAT[0])
        & (lat <= _FRANCE_LAT[1])
        & (lon >= _FRANCE_LON[0])
        & (lon <= _FRANCE_LON[1])
    )
    if (ordinary == finite).all():
        # Every pair is degrees in France, the usual case: none is zero, swapped,
        # Lambert-93 or impossible, and the checks below would change nothing.
        state = np.where(finite, _STATE_OK, _STATE_BAD).astype(np.int8)
        if not finite.all():
            lat, lon = np.where(finite, lat, np.nan), np.where(finite, lon, np.nan)
        return lat, lon, state, flags
    lat = lat.copy()
    lon = lon.copy()
    state = np.where(finite, _STATE_OK, _STATE_BAD).astype(np.int8)
    zero = finite & (lat == 0) & (lon == 0)  # "0;0" is how many tools write "unknown"
    state[zero] = _STATE_NONE
    flags = flags | np.where(zero, _ZERO_PAIR, 0)
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


def coordinates(
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
    filled = False

    def take(
        mask: np.ndarray, la: np.ndarray, lo: np.ndarray, st: np.ndarray, fl: np.ndarray
    ) -> None:
        nonlocal lat, lon, state, flags, filled
        if filled:  # a later source of coordinates fills rows the earlier ones left
            lat[mask], lon[mask] = la[mask], lo[mask]
            state[mask], flags[mask] = st[mask], fl[mask]
        else:  # the first: whole arrays (a boolean-masked copy of four is slower)
            lat, lon = np.where(mask, la, np.nan), np.where(mask, lo, np.nan)
            state, flags = np.where(mask, st, state), np.where(mask, fl, flags)
            filled = True

    crs = file_crs or source.crs or WGS84
    geographic = CRS.from_user_input(crs).is_geographic
    for a, b in (("lat", "lon"), ("y", "x")):
        if a not in f:
            continue
        given = todo & (filled_cells(f[a]) | filled_cells(f[b]))
        if not given.any():
            continue
        parsed = concurrently(
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
        given = todo & filled_geo_points(f["geo_point"])
        if given.any():
            gla, glo = parse_geo_points(f["geo_point"])
            la, lo, st, fl = _classify_degrees(
                gla.to_numpy(), glo.to_numpy(), np.full(n, 16, np.int64)
            )
            take(given, la, lo, st, fl)
    if note is not None:
        flags |= np.where((note == "representative_point").to_numpy() & (state == _STATE_OK), 32, 0)
    return lon, lat, state, flags
