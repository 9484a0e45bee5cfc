"""Building profile, BAN address candidates and landlord codes of the simulator.

Private plumbing of :mod:`pipelines.simulate.stage` (whose docstring is the method note).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from pipelines.crs import WGS84, metric_crs_of

# ---------------------------------------------------------------------------- constants
RPLS_MATCH_M = 30.0  # an RPLS point belongs to the nearest residential footprint within this
ESTATE_M = 100.0  # a large footprint this close to an RPLS point is taken as social housing
MAX_GUESSED_DWELLINGS = 150.0  # cap of footprint-based dwelling estimates
OTHER_TENURE = 0.15  # exposure factor of residential buildings that are not social housing


# ------------------------------------------------------------------------ small helpers
def repair_mojibake(text: str) -> str:
    """Undo UTF-8 text that was decoded as cp1252 (« VillÃ©giature » → « Villégiature »).

    The BAN extract shipped with the demo is double-encoded; residents type the real
    spelling, so the simulator writes the repaired one.
    """
    if not any(marker in text for marker in ("Ã", "â€", "Â")):
        return text
    try:
        return text.encode("cp1252").decode("utf-8")
    except UnicodeError:
        return text


# ------------------------------------------------------------------------- building table
def building_profile(
    buildings: gpd.GeoDataFrame, rpls: gpd.GeoDataFrame | None = None
) -> pd.DataFrame:
    """Tenure, height, dwellings and exposure of each footprint (the simulator's model).

    Parameters
    ----------
    buildings
        Output of :func:`pipelines.osm.buildings.read_osm_buildings` (any CRS).
    rpls
        RPLS programme points with ``appartement`` and ``etage`` (any CRS), optional.

    Returns
    -------
    DataFrame
        Aligned on ``buildings.index``: ``area_m2``, ``is_residential``, ``is_social``,
        ``floors``, ``is_tall``, ``dwellings_est``, ``exposure`` (0 for non-residential),
        ``x_m``/``y_m`` (a point inside the footprint, in the metric CRS of
        :func:`pipelines.crs.metric_crs_of`).
    """
    metric = metric_crs_of(buildings)
    geom_m = buildings.geometry.to_crs(metric)
    area = geom_m.area.to_numpy()
    btype = buildings["building_type"].astype("string").fillna("")
    name = buildings["name"].astype("string").fillna("")
    residential = (
        (btype == "yes").to_numpy(dtype=bool)
        & ((name == "") | name.str.startswith("Résidence")).to_numpy(dtype=bool)
        & (area >= 30.0)
    )
    rpls_dw = np.full(len(buildings), np.nan)
    rpls_floors = np.full(len(buildings), np.nan)
    near_rpls = np.ones(len(buildings), dtype=bool)  # without RPLS, the footprint decides
    if rpls is not None and len(rpls):
        pts = rpls.to_crs(metric)
        pts = pts[pts.geometry.notna() & ~pts.geometry.is_empty]
        res_pos = np.flatnonzero(residential)
        target = gpd.GeoDataFrame({"pos": res_pos}, geometry=geom_m.to_numpy()[res_pos], crs=metric)
        joined = gpd.sjoin_nearest(pts, target, how="inner", max_distance=RPLS_MATCH_M)
        joined = joined[~joined.index.duplicated(keep="first")]
        dw = pd.to_numeric(joined["appartement"], errors="coerce").groupby(joined["pos"]).sum()
        fl = pd.to_numeric(joined["etage"], errors="coerce").groupby(joined["pos"]).max()
        rpls_dw[dw.index.to_numpy()] = dw.to_numpy()
        rpls_floors[fl.index.to_numpy()] = fl.to_numpy()
        tree = shapely.STRtree(pts.geometry.to_numpy())
        hit, _ = tree.query(geom_m.to_numpy(), predicate="dwithin", distance=ESTATE_M)
        near_rpls = np.zeros(len(buildings), dtype=bool)
        near_rpls[hit] = True
    has_rpls = ~np.isnan(rpls_floors)
    floors_guess = np.select([area >= 600, area >= 350, area >= 150], [8, 4, 3], default=2)
    floors = np.where(has_rpls, np.maximum(rpls_floors, 1), floors_guess).astype(float)
    is_social = residential & (has_rpls | ((area >= 350) & near_rpls))
    is_tall = residential & ((has_rpls & (rpls_floors >= 5)) | (area >= 600))
    guess = np.clip(area * floors / 65.0, 1.0, MAX_GUESSED_DWELLINGS)
    dwellings = np.where(has_rpls & (np.nan_to_num(rpls_dw) > 0), rpls_dw, guess)
    exposure = np.where(residential, dwellings * np.where(is_social, 1.0, OTHER_TENURE), 0.0)
    inside = shapely.point_on_surface(geom_m.to_numpy())
    return pd.DataFrame(
        {
            "area_m2": area,
            "is_residential": residential,
            "is_social": is_social,
            "floors": floors,
            "is_tall": is_tall,
            "dwellings_est": dwellings,
            "exposure": exposure,
            "x_m": shapely.get_x(inside),
            "y_m": shapely.get_y(inside),
        },
        index=buildings.index,
    )


def addresses_in_bounds(
    addresses: pd.DataFrame, bounds: tuple[float, float, float, float]
) -> pd.DataFrame:
    """Keep the BAN rows whose WGS84 ``lon``/``lat`` fall in (west, south, east, north)."""
    lon = pd.to_numeric(addresses["lon"], errors="coerce")
    lat = pd.to_numeric(addresses["lat"], errors="coerce")
    west, south, east, north = bounds
    keep = lon.between(west, east) & lat.between(south, north)
    return addresses[keep.to_numpy(dtype=bool)]


def address_candidates(
    addresses: pd.DataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    max_distance_m: float = 20.0,
    min_gap_m: float = 3.0,
) -> pd.DataFrame:
    """Attach each BAN address to the footprint it unambiguously belongs to.

    An address belongs to its nearest footprint when that one lies within
    ``max_distance_m`` and the next nearest is at least ``min_gap_m`` farther: a correct
    geocoder can then recover the building from the address alone.

    Parameters
    ----------
    addresses
        BAN rows with ``numero``, ``rep``, ``nom_voie``, ``code_postal``, ``lon``, ``lat``.
    buildings
        Footprints (any CRS); positions in the result refer to its rows.

    Returns
    -------
    DataFrame
        One row per usable address, sorted by (building, street, number): ``pos`` (row
        position in ``buildings``), ``numero`` (int), ``rep``, ``street`` (repaired
        spelling), ``postcode``, ``x_m``, ``y_m`` (metric CRS), ``lon``, ``lat``.
    """
    metric = metric_crs_of(buildings)
    geoms = buildings.geometry.to_crs(metric).to_numpy()
    lon = pd.to_numeric(addresses["lon"], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(addresses["lat"], errors="coerce").to_numpy(dtype=float)
    numero = pd.to_numeric(addresses["numero"], errors="coerce").to_numpy(dtype=float)
    ok = ~(np.isnan(lon) | np.isnan(lat) | np.isnan(numero))
    to_m = Transformer.from_crs(WGS84, metric, always_xy=True)
    x, y = to_m.transform(lon, lat)
    pts = shapely.points(x, y)
    tree = shapely.STRtree(geoms)
    pi, bi = tree.query(pts, predicate="dwithin", distance=max_distance_m + min_gap_m)
    dist = shapely.distance(pts[pi], geoms[bi])
    pairs = pd.DataFrame({"p": pi, "b": bi, "d": dist}).sort_values(["p", "d", "b"])
    first = pairs.groupby("p").nth(0).set_index("p")
    second = pairs.groupby("p").nth(1).set_index("p")["d"].reindex(first.index)
    good = (first["d"] <= max_distance_m) & (second.isna() | (second - first["d"] >= min_gap_m))
    rows = first.index[good.to_numpy(dtype=bool)].to_numpy()
    rows = rows[ok[rows]]
    rep = addresses["rep"].astype("string").fillna("").to_numpy()
    street = addresses["nom_voie"].astype("string").fillna("").to_numpy()
    postcode = addresses["code_postal"].astype("string").fillna("").to_numpy()
    out = pd.DataFrame(
        {
            "pos": first.loc[rows, "b"].to_numpy(dtype=int),
            "numero": numero[rows].astype(int),
            "rep": [str(r).strip().lower() for r in rep[rows]],
            "street": [repair_mojibake(str(s)) for s in street[rows]],
            "postcode": [str(p).split(".")[0] for p in postcode[rows]],
            "x_m": x[rows],
            "y_m": y[rows],
            "lon": lon[rows],
            "lat": lat[rows],
        }
    )
    out = out[out["street"] != ""]
    return out.sort_values(["pos", "street", "numero", "rep"]).reset_index(drop=True)


def landlord_codes(profile: pd.DataFrame) -> dict[int, str]:
    """Landlord building codes (« NC-B », « BL-12 ») for social-housing buildings.

    West of the median easting: the « NC » (Noue-Caillet) estate, lettered north to
    south; east: « BL » (Blanqui), numbered. Keys are row positions.
    """
    social = profile.reset_index(drop=True)
    social = social[social["is_social"]]
    if social.empty:
        return {}
    mid = float(social["x_m"].median())
    codes: dict[int, str] = {}
    west = social[social["x_m"] < mid].sort_values(["y_m", "x_m"], ascending=[False, True])
    for k, pos in enumerate(west.index):
        letter = chr(ord("A") + k % 26)
        codes[int(pos)] = f"NC-{letter}" + (str(k // 26 + 1) if k >= 26 else "")
    east = social[social["x_m"] >= mid].sort_values(["y_m", "x_m"], ascending=[False, True])
    for k, pos in enumerate(east.index):
        codes[int(pos)] = f"BL-{k + 1}"
    return codes
