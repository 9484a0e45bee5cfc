"""Which site each row of a shared export goes to: one site at most, never two.

A row is given, in this order of precedence:

1. by its **site code** (``site_column``), when the source maps one and the row fills it:
   the code's site (``site_codes``, or the code itself when it is a site id), codes and
   ids compared without case nor surrounding spaces (« BONDY-OUEST » is bondy-ouest); a
   filled code that names no site sends the row nowhere (``code_inconnu``);
2. by its **coordinates**, to the perimeter that contains them (a point on an edge
   counts as inside); where perimeters overlap, to the **smallest** of them (the most
   specific: a residence inside a priority neighbourhood), and between perimeters of
   equal area to the first in the layer's order;
3. by its **address or building code**, matched as the geocoding stage matches them
   (OSM and BAN addresses, the gazetteer), to the perimeter that contains the matched
   point, by the same rule.

A row none of these places is counted ``outside_every_site`` with its reason.
"""

from __future__ import annotations

import dask_geopandas
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipelines.config.values import WHOLE_NUMBER

#: Why a row went to no site, in the analyst's list (``outside_every_site.csv``).
OUTSIDE_REASONS = {
    "hors_perimetres": "coordonnées hors de tout périmètre",
    "adresse_hors_perimetres": "adresse ou bâtiment hors de tout périmètre",
    "code_inconnu": "code de site inconnu",
    "non_localise": "ni coordonnées valides, ni adresse ou bâtiment reconnus, ni code de site",
    "ligne_mal_formee": "ligne mal formée (nombre de champs)",
    "en_tete_repete": "ligne d'en-tête répétée (les noms des colonnes au lieu de valeurs)",
}
#: How a row was placed (the split's summary).
HOW = ("code", "coordonnees", "adresse")


def owner_order(perimeters: gpd.GeoDataFrame) -> np.ndarray:
    """Each perimeter's rank in the overlap rule: smallest area first, then layer order."""
    order = np.lexsort((perimeters["feature"].to_numpy(), perimeters["area_m2"].to_numpy()))
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    return rank


#: Points per partition of the dask-geopandas join (a part of an export, about 300,000
#: rows, makes a few, joined on the process's threads); a part with no more points is
#: placed by one geopandas query, the same join without the partitions' overhead.
POINTS_PER_PARTITION = 50_000


def owners_of_points(
    lon: np.ndarray,
    lat: np.ndarray,
    perimeters: gpd.GeoDataFrame,
    *,
    points_per_partition: int = POINTS_PER_PARTITION,
) -> np.ndarray:
    """Per point, the position in ``perimeters`` of its site, or -1 (outside all of them,
    or no valid coordinates). ``perimeters`` in EPSG:4326 with ``area_m2`` and ``feature``.

    Beyond ``points_per_partition`` points, the points are cut in partitions of that
    size, each with its extent (:meth:`dask_geopandas.GeoDataFrame.calculate_spatial_partitions`),
    and joined to the perimeters by :func:`dask_geopandas.sjoin`, which joins only the
    partitions whose extent meets the perimeters'; below, by the perimeters' spatial
    index. Both find the same (point, perimeter) pairs, then the same owner.
    """
    n = len(lon)
    owner = np.full(n, -1, np.int64)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any() or len(perimeters) == 0:
        return owner
    at = np.flatnonzero(ok)
    points = shapely.points(lon[ok], lat[ok])
    if len(points) > points_per_partition:
        hit, poly = _partitioned_pairs(points, perimeters, points_per_partition)
    else:
        hit, poly = perimeters.sindex.query(points, predicate="intersects")
    if len(hit) == 0:
        return owner
    rank = owner_order(perimeters)[poly]
    # Per point, the candidate of lowest rank.
    order = np.lexsort((rank, hit))
    first = np.ones(len(order), bool)
    first[1:] = hit[order][1:] != hit[order][:-1]
    chosen = order[first]
    owner[at[hit[chosen]]] = poly[chosen]
    return owner


def _partitioned_pairs(
    points: np.ndarray, perimeters: gpd.GeoDataFrame, points_per_partition: int
) -> tuple[np.ndarray, np.ndarray]:
    """The (point, perimeter) positions of the points in a perimeter (edge included), by
    dask-geopandas' spatially partitioned join. Computed on the threads of the process
    that holds the points (the split's driver): sending them to a cluster's workers
    would copy every chunk over the network for a join as fast here."""
    left = gpd.GeoDataFrame({"point": np.arange(len(points))}, geometry=points, crs=perimeters.crs)
    right = gpd.GeoDataFrame(
        {"poly": np.arange(len(perimeters))},
        geometry=perimeters.geometry.to_numpy(),
        crs=perimeters.crs,
    )
    # Not sorted along a Hilbert curve first (spatial_shuffle): on the Bondy export
    # tiled to 700,000 rows the sort cost seven times the join, which a layer of a few
    # hundred perimeters, queried through its own index, does not need.
    points_dask = dask_geopandas.from_geopandas(left, chunksize=points_per_partition)
    points_dask.calculate_spatial_partitions()
    layer = dask_geopandas.from_geopandas(right, npartitions=1)
    layer.calculate_spatial_partitions()
    pairs = dask_geopandas.sjoin(points_dask, layer, predicate="intersects")
    found = pairs[["point", "poly"]].compute(scheduler="threads")
    return found["point"].to_numpy(np.int64), found["poly"].to_numpy(np.int64)


def assign_rows(
    perimeters: gpd.GeoDataFrame,
    *,
    lon: np.ndarray,
    lat: np.ndarray,
    codes: pd.Series | None = None,
    site_codes: dict[str, str] | None = None,
    matched_lon: np.ndarray | None = None,
    matched_lat: np.ndarray | None = None,
    points_per_partition: int = POINTS_PER_PARTITION,
) -> pd.DataFrame:
    """Place each row (see the module's rules).

    Parameters
    ----------
    perimeters
        :func:`pipelines.portfolio.perimeters.read_perimeters`' frame.
    lon, lat
        Each row's coordinates in degrees (NaN when it has none or they are invalid).
    codes
        Each row's site code ("" when empty), when the source maps one.
    site_codes
        Code → site id.
    matched_lon, matched_lat
        The point each row's address or building code was matched to (NaN when none).
    points_per_partition
        Beyond it, points are placed by dask-geopandas (:func:`owners_of_points`).

    Returns
    -------
    pandas.DataFrame
        ``site`` (the position in ``perimeters``, -1 for none), ``how`` (a :data:`HOW`
        word, "" for none) and ``reason`` (an :data:`OUTSIDE_REASONS` key, "" when placed).
    """
    n = len(lon)
    site = np.full(n, -1, np.int64)
    how = np.full(n, "", dtype=object)
    reason = np.full(n, "", dtype=object)
    todo = np.ones(n, bool)
    if codes is not None:
        # Codes and site ids compared folded (case, spaces around): ids are unique so
        # (config), and codes equal so map to one site (config.portfolio).
        ids = {str(sid).casefold(): i for i, sid in enumerate(perimeters["site_id"])}
        mapping: dict[str, str] = {
            str(k).strip().casefold(): v.casefold() for k, v in (site_codes or {}).items()
        }
        text = codes.fillna("").astype(str).str.strip().str.casefold()
        filled = (text != "").to_numpy()
        # « 12.0 » is the code 12 where no code nor site is « 12.0 » (site_id_text).
        known = text.isin(mapping.keys()) | text.isin(ids.keys())
        text = text.where(known, text.str.replace(WHOLE_NUMBER.pattern + "$", r"\1", regex=True))
        target = np.array([ids.get(mapping.get(c, c), -1) for c in text], np.int64)
        site[filled] = target[filled]
        how[filled & (target >= 0)] = "code"
        reason[filled & (target < 0)] = "code_inconnu"
        todo &= ~filled
    points = [(lon, lat, "coordonnees", "hors_perimetres")]
    if matched_lon is not None and matched_lat is not None:
        points.append((matched_lon, matched_lat, "adresse", "adresse_hors_perimetres"))
    for x, y, word, outside in points:  # the rows' own points first, then the matched ones
        known = todo & np.isfinite(x) & np.isfinite(y)
        owner = owners_of_points(
            np.where(known, x, np.nan), y, perimeters, points_per_partition=points_per_partition
        )
        site[known] = owner[known]
        how[known & (owner >= 0)] = word
        reason[known & (owner < 0)] = outside
        todo &= ~known
    reason[todo] = "non_localise"
    return pd.DataFrame({"site": site, "how": how.astype(str), "reason": reason.astype(str)})
