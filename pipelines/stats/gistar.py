"""Getis-Ord Gi* and rates; the FDR bins are in :mod:`pipelines.stats.fdr`, the distance
band in :mod:`pipelines.stats.band`.

Pure functions over numpy arrays and (Geo)DataFrames, no file I/O; the ``hotspots`` stage
reads, calls these and writes. Every distance is in metres in a projected CRS (Lambert-93,
EPSG:2154, in metropolitan France): the frame variants refuse a geographic CRS.

Methods (DOMAIN.md, the maintainers' guidance; to be cited in each run's method note):

- **Getis-Ord Gi*** (Ord & Getis 1995), binary weights on a fixed distance band that
  includes the feature itself, two-sided normal p-values ``2·Φ(−|z|)``.
- **False discovery rate**, Benjamini–Hochberg at 10 %, 5 % and 1 %, giving the
  ±1/±2/±3 confidence bins.
- **Automatic distance band**: incremental global Moran's I (first significant peak, else
  the highest significant z, else the mean distance to the k-th nearest neighbour).

Kernel density and contours live in :mod:`pipelines.stats.density`, hexagons in
:mod:`pipelines.stats.hexgrid`.

Scale: the neighbour sums are computed from a KD-tree in chunks, so memory stays bounded
and no dense n × n matrix is ever built (100,000 features with a 150 m band make about
17 million neighbour pairs).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse, stats
from scipy.spatial import cKDTree

from pipelines.crs import require_metric
from pipelines.errors import NotEnoughFeaturesError
from pipelines.stats.fdr import fdr_bins

log = logging.getLogger(__name__)

#: DOMAIN.md: below this many features neither the automatic band nor Gi* is computed.
MIN_FEATURES = 30

#: Neighbour pairs held in memory at once when summing over the distance band.
_PAIRS_PER_CHUNK = 4_000_000

NOTE_ISLAND = "isolé : aucun voisin dans la bande de distance, Gi* non calculé"
NOTE_CONSTANT = "valeurs toutes égales : Gi* non défini (écart type nul)"
NOTE_ALL_NEIGHBOURS = "tous les objets sont voisins : Gi* non défini"

FloatArray = npt.NDArray[np.floating]


# --------------------------------------------------------------------------------------
# Input checks and neighbour plumbing
# --------------------------------------------------------------------------------------


def _as_coords(coords_m: npt.ArrayLike) -> FloatArray:
    coords = np.asarray(coords_m, dtype=float)
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise ValueError(
            f"coords_m doit être un tableau n × 2 (x, y en mètres), reçu {coords.shape}"
        )
    if not np.isfinite(coords).all():
        raise ValueError("coords_m contient des coordonnées manquantes ou infinies.")
    return coords


def _as_values(values: npt.ArrayLike, n: int) -> FloatArray:
    x = np.asarray(values, dtype=float).reshape(-1)
    if x.shape[0] != n:
        raise ValueError(f"{x.shape[0]} valeurs pour {n} objets.")
    if not np.isfinite(x).all():
        raise ValueError(
            "Les valeurs analysées contiennent des manquants : remplacez-les "
            "(0 signalement) ou retirez ces objets avant le Gi*."
        )
    return x


def _chunks_by_pairs(counts: npt.NDArray[np.int64]) -> Iterator[tuple[int, int]]:
    """Split ``range(n)`` into consecutive chunks holding at most ~_PAIRS_PER_CHUNK pairs."""
    n = len(counts)
    cum = np.cumsum(counts)
    start = 0
    while start < n:
        base = cum[start - 1] if start else 0
        stop = int(np.searchsorted(cum, base + _PAIRS_PER_CHUNK, side="right"))
        stop = min(max(stop, start + 1), n)
        yield start, stop
        start = stop


def _pairs_within(
    coords: FloatArray, tree: cKDTree, radius: float, counts: npt.NDArray[np.int64]
) -> Iterator[tuple[int, int, npt.NDArray[np.intp], npt.NDArray[np.intp], FloatArray]]:
    """Yield ``(start, stop, i_local, j, distance)`` for ordered pairs within ``radius``.

    Rows ``start:stop`` are the chunk; ``i_local`` indexes into it, ``j`` into ``coords``.

    Pairs include ``i == j`` (distance 0) and coincident points; the bound is inclusive
    (``d ≤ radius``), as in libpysal's ``DistanceBand``. ``counts`` are the per-row pair
    counts (``tree.query_ball_point(..., return_length=True)``), used to size chunks.
    """
    for start, stop in _chunks_by_pairs(counts):
        sub = cKDTree(coords[start:stop])
        arr = sub.sparse_distance_matrix(tree, radius, output_type="ndarray")
        yield start, stop, arr["i"], arr["j"], arr["v"]


def _norm_p_two_sided(z: FloatArray) -> FloatArray:
    p = np.full_like(z, np.nan)
    ok = np.isfinite(z)
    p[ok] = 2.0 * stats.norm.sf(np.abs(z[ok]))
    return p


# --------------------------------------------------------------------------------------
# Getis-Ord Gi*
# --------------------------------------------------------------------------------------


def gi_star(
    values: npt.ArrayLike,
    coords_m: npt.ArrayLike,
    band_m: float,
    *,
    permutations: int = 0,
    seed: int | None = None,
    min_features: int = MIN_FEATURES,
    index: pd.Index | None = None,
) -> pd.DataFrame:
    """Getis-Ord Gi* z-scores on a fixed distance band, with FDR confidence bins.

    Binary weights: ``w_ij = 1`` when ``d_ij ≤ band_m`` (the feature itself included,
    coincident features count as neighbours), else 0. With ``W_i = Σ_j w_ij``::

        z_i = (Σ_j w_ij x_j − x̄ W_i) / ( S √( (n W_i − W_i²) / (n − 1) ) )
        x̄ = Σx / n,   S = √( Σx²/n − x̄² )

    (for binary weights ``Σ_j w_ij² = W_i``). This equals
    ``esda.G_Local(x, w, transform="B", star=True).Zs`` (checked in the tests); it is
    computed here from KD-tree neighbour sums in chunks because building esda's weights
    object for 100,000 features and a 150 m band costs ~6 s and ~3 GB, for a 5-line
    formula. esda is used for what is worth reusing: the conditional permutations.

    Parameters
    ----------
    values
        One value per feature (e.g. a report count), finite; any sign.
    coords_m
        ``n × 2`` coordinates in metres in a projected CRS (e.g. EPSG:2154).
    band_m
        Distance band in metres, inclusive.
    permutations
        If > 0, also compute ``gi_p_sim`` by conditional permutation (esda, seeded).
    seed
        Seed for the permutations.
    min_features
        Fewer features raise :class:`NotEnoughFeaturesError` (DOMAIN.md: 30).
    index
        Index of the output; default: ``values.index`` when ``values`` is a Series, else
        a ``RangeIndex``.

    Returns
    -------
    DataFrame
        One row per feature, in input order:

        - ``gi_z``: Gi* z-score, NaN when undefined (see ``gi_note``);
        - ``gi_p``: two-sided normal p-value ``2·Φ(−|z|)`` (not esda's one-sided
          ``p_norm``), NaN with z;
        - ``gi_bin``: FDR confidence bin −3…3 from :func:`fdr_bins`, 0 when undefined;
        - ``n_neighbours``: features within the band, the feature itself excluded;
        - ``is_island``: no neighbour within the band (z and p NaN, bin 0);
        - ``gi_note``: French reason when z is NaN (island, constant values, every
          feature a neighbour), else missing;
        - ``gi_p_sim`` (only when ``permutations > 0``): two-sided conditional
          permutation pseudo p-value, ``min(1, 2·p)`` where ``p = (m + 1)/(P + 1)`` and
          ``m = min(#{G_perm ≥ G}, #{G_perm ≤ G})``, ties counted on both sides (the
          "greater" and "lesser" p-values on the same permutations, esda's ``G_Local``
          simulations, the smaller doubled to match ``gi_p``; esda's default "directed"
          one mishandles ties).
    """
    coords = _as_coords(coords_m)
    n = coords.shape[0]
    x = _as_values(values, n)
    if not band_m > 0:
        raise ValueError(f"band_m doit être positif (reçu {band_m}).")
    if n < min_features:
        raise NotEnoughFeaturesError(n, min_features)

    tree = cKDTree(coords)
    w_sum, lag = _band_sums(coords, tree, band_m, x[:, None])
    out_index = index if index is not None else getattr(values, "index", pd.RangeIndex(n))
    out = _gi_table(x, lag[:, 0], w_sum, pd.Index(out_index))
    z = out["gi_z"].to_numpy()
    if permutations > 0:
        out["gi_p_sim"] = _gi_p_sim(x, coords, tree, band_m, w_sum, permutations, seed)
        out.loc[~np.isfinite(z), "gi_p_sim"] = np.nan
    if out["is_island"].any():
        log.warning(
            "Gi*: %d isolated feature(s) without neighbour within %.0f m (z = NaN)",
            int(out["is_island"].sum()),
            band_m,
        )
    return out


def _band_sums(
    coords: FloatArray, tree: cKDTree, band_m: float, x: FloatArray
) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """``(W_i, Σ_j w_ij x_j)`` for binary band weights, ``x`` being ``n × m`` columns.

    One pass over the neighbour pairs serves every column: each chunk of pairs becomes a
    sparse 0/1 matrix multiplied by all the columns at once.
    """
    n = coords.shape[0]
    w_sum = np.asarray(tree.query_ball_point(coords, band_m, return_length=True), dtype=np.int64)
    lag = np.zeros((n, x.shape[1]))  # Σ_j w_ij x_j, the feature itself included (w_ii = 1)
    for start, stop, i_local, j, _d in _pairs_within(coords, tree, band_m, w_sum):
        w = sparse.csr_array((np.ones(len(j)), (i_local, j)), shape=(stop - start, n), dtype=float)
        lag[start:stop] = w @ x
    return w_sum, lag


def _gi_table(
    x: FloatArray, lag: FloatArray, w_sum: npt.NDArray[np.int64], index: pd.Index
) -> pd.DataFrame:
    """Gi* z, p, FDR bin, neighbours and notes of one value column from its band sums."""
    n = len(x)
    n_neighbours = w_sum - 1
    is_island = n_neighbours == 0
    constant = bool(np.ptp(x) == 0)
    w = w_sum.astype(float)
    x_bar = x.mean()
    # S = √(Σx²/n − x̄²), computed as the population standard deviation (the same
    # quantity, without the cancellation of the textbook form for large values).
    s = float(x.std())
    spread = (n * w - w**2) / (n - 1)
    z = np.full(n, np.nan)
    note = pd.array([pd.NA] * n, dtype="string")
    ok = ~is_island & (spread > 0)
    if constant:
        note[:] = NOTE_CONSTANT
    else:
        z[ok] = (lag[ok] - x_bar * w[ok]) / (s * np.sqrt(spread[ok]))
        note[spread <= 0] = NOTE_ALL_NEIGHBOURS
    note[is_island] = NOTE_ISLAND
    p = _norm_p_two_sided(z)
    return pd.DataFrame(
        {
            "gi_z": z,
            "gi_p": p,
            "gi_bin": fdr_bins(z, p),
            "n_neighbours": n_neighbours,
            "is_island": is_island,
            "gi_note": note,
        },
        index=index,
    )


def gi_star_many(
    values: pd.DataFrame,
    coords_m: npt.ArrayLike,
    band_m: float,
    *,
    min_features: int = MIN_FEATURES,
) -> dict[str, pd.DataFrame]:
    """:func:`gi_star` (without permutations) on several value columns at once.

    The neighbour pairs are found and walked once for all the columns (per-category
    counts, shuffled copies for a blank test…), which is what costs; each column's
    result equals ``gi_star(values[column], coords_m, band_m)``, FDR applied per column.

    Parameters
    ----------
    values
        One column per analysis, one row per feature, finite values.
    coords_m
        ``n × 2`` coordinates in metres in a projected CRS.
    band_m
        Distance band in metres, inclusive.

    Returns
    -------
    dict
        Column name → the frame :func:`gi_star` returns, indexed like ``values``.
    """
    coords = _as_coords(coords_m)
    n = coords.shape[0]
    if len(values) != n:
        raise ValueError(f"{len(values)} lignes de valeurs pour {n} objets.")
    x = (
        np.column_stack([_as_values(values[c].to_numpy(dtype=float), n) for c in values.columns])
        if len(values.columns)
        else np.empty((n, 0))
    )
    if not band_m > 0:
        raise ValueError(f"band_m doit être positif (reçu {band_m}).")
    if n < min_features:
        raise NotEnoughFeaturesError(n, min_features)
    w_sum, lag = _band_sums(coords, cKDTree(coords), band_m, x)
    return {
        str(c): _gi_table(x[:, k], lag[:, k], w_sum, values.index)
        for k, c in enumerate(values.columns)
    }


def _gi_p_sim(
    x: FloatArray,
    coords: FloatArray,
    tree: cKDTree,
    band_m: float,
    w_sum: npt.NDArray[np.int64],
    permutations: int,
    seed: int | None,
) -> FloatArray:
    """Two-sided conditional-permutation pseudo p-values from esda's ``G_Local``.

    esda's public ``G_Local(..., permutations=P, seed=...)`` draws the permutations once
    and keeps each feature's P simulated statistics (``rGs``); both tails are counted
    here from them. Its own ``p_sim`` is not used: that "directed" p-value counts ties
    with the larger side and then folds, so a feature whose value and neighbours are all
    0 (tied with nearly every permutation) would get the smallest p. (Calling esda's
    lower-level ``crand`` once per tail on the same weights is wrong: it zeroes the
    self-weights of the weights' cached sparse matrix in place, so the second tail
    would be drawn without the feature's own value.) Memory: the kept simulations are an
    ``n × P`` float array (8 bytes each; 0.8 GB for 100,000 features, 999 permutations).
    """
    import esda
    from libpysal.graph import Graph

    n = len(x)
    if np.ptp(x) == 0:
        return np.full(n, np.nan)
    focal, neighbour = [], []
    for start, _stop, i_local, j, _d in _pairs_within(coords, tree, band_m, w_sum):
        i = i_local + start
        keep = i != j
        focal.append(i[keep])
        neighbour.append(j[keep])
    islands = np.flatnonzero(w_sum == 1)
    # libpysal's Graph encodes an island as a zero-weight self-loop.
    f = np.concatenate([*focal, islands])
    nb = np.concatenate([*neighbour, islands])
    weight = np.concatenate([np.ones(len(f) - len(islands)), np.zeros(len(islands))])
    # Graph.from_arrays takes its ids from focal_ids.unique(): sort so they are 0..n-1.
    order = np.lexsort((nb, f))
    graph = Graph.from_arrays(f[order], nb[order], weight[order])
    if not np.array_equal(np.asarray(graph.unique_ids), np.arange(n)):
        raise RuntimeError("Gi* permutations: weights graph ids out of order")
    # Gi* and its permutation p-value are unchanged by adding a constant to every value
    # (as long as their sum stays positive); esda divides by Σx, so shift negatives away.
    y = x - x.min() if x.min() < 0 else x
    # esda warns that its default "directed" p_sim will change (not used here), and its
    # summaries of the simulations (z_sim) divide by zero for islands (not used either).
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.filterwarnings("ignore", "The alternative hypothesis", FutureWarning)
        local = esda.G_Local(
            y,
            graph,
            transform="B",
            star=True,
            permutations=permutations,
            keep_simulations=True,
            n_jobs=1,
            seed=seed,
        )
    simulated = np.asarray(local.rGs, dtype=float)  # n × P, same draws for both tails
    observed = np.asarray(local.Gs, dtype=float)[:, None]
    # Each tail counted on its own, ties included in both (conservative), the smaller
    # one doubled: m = min(#{G_perm ≥ G}, #{G_perm ≤ G}), p = min(1, 2·(m + 1)/(P + 1)).
    extreme = np.minimum((simulated >= observed).sum(axis=1), (simulated <= observed).sum(axis=1))
    return np.minimum(1.0, 2.0 * (extreme + 1.0) / (permutations + 1.0))


def feature_points(gdf: gpd.GeoDataFrame) -> FloatArray:
    """Return the ``n × 2`` metric coordinates standing for each feature.

    Points are used as they are; polygons and lines by their centroid (the usual choice
    for distance bands, as in Gi* tools; a representative point would guarantee a point
    inside an L-shaped building but shift its centre). Refuses a geographic CRS.
    """
    require_metric(gdf.crs)
    geom = gdf.geometry
    if geom.isna().any() or geom.is_empty.any():
        bad = gdf.index[geom.isna() | geom.is_empty][:5].tolist()
        raise ValueError(f"Géométries manquantes ou vides (index {bad}) : retirez-les d'abord.")
    centres = geom.centroid
    return np.column_stack([centres.x.to_numpy(), centres.y.to_numpy()])


def gi_star_frame(
    gdf: gpd.GeoDataFrame,
    value_column: str,
    band_m: float,
    *,
    permutations: int = 0,
    seed: int | None = None,
    min_features: int = MIN_FEATURES,
) -> pd.DataFrame:
    """:func:`gi_star` on a GeoDataFrame in a metric CRS, aligned on ``gdf.index``.

    Parameters
    ----------
    gdf
        Features in a projected CRS in metres (EPSG:2154 in France); a geographic CRS
        raises :class:`~pipelines.errors.CRSError`. Polygons stand by their centroid.
    value_column
        Column of finite values (e.g. ``n_reports``).
    band_m
        Distance band in metres.

    Returns
    -------
    DataFrame
        The columns of :func:`gi_star`, indexed like ``gdf``.
    """
    coords = feature_points(gdf)
    if value_column not in gdf:
        raise KeyError(f"colonne « {value_column} » absente")
    values = pd.to_numeric(gdf[value_column], errors="coerce").to_numpy(
        dtype=float, na_value=np.nan
    )
    return gi_star(
        values,
        coords,
        band_m,
        permutations=permutations,
        seed=seed,
        min_features=min_features,
        index=gdf.index,
    )


def rates_per_100_dwellings(counts: pd.Series, dwellings: pd.Series) -> pd.Series:
    """Reports per 100 dwellings: ``100 × counts / dwellings``.

    Aligned on ``counts.index`` (``dwellings`` is looked up by index); NaN where the
    number of dwellings is unknown, zero or negative — never a rate over a guess.

    Returns
    -------
    Series
        ``reports_per_100_dwellings`` (float).
    """
    d = pd.to_numeric(dwellings.reindex(counts.index), errors="coerce").astype(float)
    c = pd.to_numeric(counts, errors="coerce").astype(float)
    rate = (100.0 * c / d.where(d > 0)).astype(float)
    return rate.rename("reports_per_100_dwellings")
