"""The distance band of Gi*: configured, or chosen by incremental global Moran's I (first
significant peak, else the highest significant z, else the k-nearest-neighbour rule),
as DOMAIN.md defines it. Distances in metres, in a projected CRS."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats
from scipy.spatial import cKDTree

from pipelines.errors import NotEnoughFeaturesError
from pipelines.fr import fr_number
from pipelines.stats.gistar import MIN_FEATURES, FloatArray, _as_coords, _as_values, _pairs_within

log = logging.getLogger(__name__)

#: Two-sided 5 % critical value: a Moran's I z-score must reach it to count as a peak.
Z_CRITICAL = float(stats.norm.isf(0.025))

BandMethod = Literal["incremental_peak", "incremental_max", "knn_rule", "configured"]


@dataclass(frozen=True)
class BandChoice:
    """The distance band chosen for Gi*, and why.

    Attributes
    ----------
    band_m
        The band, in metres.
    method
        ``incremental_peak`` (first significant peak of Moran's I z),
        ``incremental_max`` (no interior peak: the highest significant z),
        ``knn_rule`` (no significant clustering at any distance tested: mean distance to
        the k-th nearest neighbour, capped at one standard distance) or ``configured``.
    reason
        One French sentence for the method note.
    distances_m, moran_z
        The distances tried and the global Moran's I z-score at each (empty when
        ``configured``).
    n_features
        Features analysed.
    n_locational_outliers
        Locations whose nearest neighbour is further than mean + 3 sd of the
        nearest-neighbour distances: ignored when choosing the starting distance, they
        are likely islands in Gi*.
    k_neighbours
        k of the k-nearest-neighbour rule, when it was used.
    """

    band_m: float
    method: BandMethod
    reason: str
    distances_m: tuple[float, ...] = ()
    moran_z: tuple[float, ...] = ()
    n_features: int = 0
    n_locational_outliers: int = 0
    k_neighbours: int | None = None


def configured_band(band_m: float, *, n_features: int = 0) -> BandChoice:
    """A band fixed in the configuration (no search)."""
    if not band_m > 0:
        raise ValueError(f"band_m doit être positif (reçu {band_m}).")
    return BandChoice(
        band_m=float(band_m),
        method="configured",
        reason=f"Bande de distance fixée dans la configuration : {fr_number(band_m)} m.",
        n_features=n_features,
    )


def incremental_moran_z(
    coords_m: npt.ArrayLike, values: npt.ArrayLike, distances_m: npt.ArrayLike
) -> FloatArray:
    """Global Moran's I z-score at each distance, binary distance-band weights.

    Weights are binary and symmetric — ``w_ij = 1`` for ``i ≠ j`` with ``d_ij ≤ d``
    (coincident features included), ``w_ii = 0`` — not row-standardised: the same
    neighbourhoods as Gi*'s (minus the self-weight, which Moran's I does not use). The
    z-score uses the variance under the randomisation assumption (Cliff & Ord), as
    ``esda.Moran(...).z_rand``.

    Hand-rolled rather than calling ``esda.Moran`` once per distance because, for binary
    weights, ``S0 = Σ k_i``, ``S1 = 2 S0`` and ``S2 = 4 Σ k_i²`` (k_i the neighbour
    counts), so one pass over the pairs within the largest distance gives every
    distance at once, exactly and on all features; esda 2.9 with a libpysal ``Graph``
    also overflows an integer in the randomisation variance for n ≳ 3,000.

    Parameters
    ----------
    coords_m
        ``n × 2`` coordinates in metres.
    values
        Finite values.
    distances_m
        Increasing distances in metres.

    Returns
    -------
    ndarray
        z-scores, NaN where undefined (no pair, constant values).
    """
    coords = _as_coords(coords_m)
    n = coords.shape[0]
    x = _as_values(values, n)
    d = np.asarray(distances_m, dtype=float)
    n_d = len(d)
    if n < 4 or np.ptp(x) == 0 or n_d == 0:
        return np.full(n_d, np.nan)
    if np.any(np.diff(d) <= 0):
        raise ValueError("Les distances doivent être strictement croissantes.")
    zc = x - x.mean()
    tree = cKDTree(coords)
    counts = np.asarray(tree.query_ball_point(coords, d[-1], return_length=True), dtype=np.int64)
    cross = np.zeros(n_d)  # Σ_i Σ_j w_ij z_i z_j, per distance
    s0 = np.zeros(n_d)
    sum_k2 = np.zeros(n_d)
    for start, stop, i_local, j, dist in _pairs_within(coords, tree, float(d[-1]), counts):
        other = (i_local + start) != j
        i_local, j, dist = i_local[other], j[other], dist[other]
        step = np.searchsorted(d, dist, side="left")  # first distance ≥ this pair's
        cross += np.cumsum(np.bincount(step, weights=zc[i_local + start] * zc[j], minlength=n_d))
        rows = stop - start
        k = np.bincount(i_local * n_d + step, minlength=rows * n_d).reshape(rows, n_d)
        k = np.cumsum(k, axis=1).astype(float)
        s0 += k.sum(axis=0)
        sum_k2 += (k**2).sum(axis=0)
    nf = float(n)
    z2 = float((zc**2).sum())
    kurt = float((zc**4).sum() / nf) / (z2 / nf) ** 2
    s1 = 2.0 * s0
    s2 = 4.0 * sum_k2
    ei = -1.0 / (nf - 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        moran_i = nf / s0 * cross / z2
        a = nf * ((nf**2 - 3 * nf + 3) * s1 - nf * s2 + 3 * s0**2)
        b = kurt * ((nf**2 - nf) * s1 - 2 * nf * s2 + 6 * s0**2)
        var = (a - b) / ((nf - 1) * (nf - 2) * (nf - 3) * s0**2) - ei**2
        z = (moran_i - ei) / np.sqrt(var)
    z[(s0 == 0) | ~(var > 0)] = np.nan
    return z


def pick_band(moran_z: npt.ArrayLike, z_crit: float = Z_CRITICAL) -> tuple[int | None, BandMethod]:
    """Pick a distance from the Moran's I z-scores of increasing distances.

    A *peak* is an interior local maximum (``z_k > z_{k−1}`` and ``z_k ≥ z_{k+1}``) that
    is significant (``z_k ≥ z_crit``, 1.96 by default). Returns the index of the first
    peak (``incremental_peak``); else, if some z is significant, the index of the highest
    (``incremental_max``); else ``(None, "knn_rule")``: no clustering to measure.
    """
    z = np.asarray(moran_z, dtype=float)
    for k in range(1, len(z) - 1):
        if z[k] >= z_crit and z[k] > z[k - 1] and z[k] >= z[k + 1]:
            return k, "incremental_peak"
    if np.isfinite(z).any() and np.nanmax(z) >= z_crit:
        return int(np.nanargmax(z)), "incremental_max"
    return None, "knn_rule"


def standard_distance(coords_m: npt.ArrayLike) -> float:
    """Standard distance (m): ``√(Σ(x − x̄)²/n + Σ(y − ȳ)²/n)``."""
    coords = _as_coords(coords_m)
    return float(np.sqrt(coords.var(axis=0).sum()))


def knn_band(coords_m: npt.ArrayLike) -> tuple[float, int, bool]:
    """Mean distance to the k-th nearest neighbour, k = 5 % of n in [3, 30], capped.

    Returns ``(band_m, k, capped)``: ``capped`` is True when the mean distance exceeded
    one standard distance and the standard distance was used.
    """
    coords = _as_coords(coords_m)
    n = coords.shape[0]
    k = int(min(30, max(3, round(0.05 * n))))
    k = min(k, n - 1)
    dist, _ = cKDTree(coords).query(coords, k=k + 1)
    mean_k = float(dist[:, k].mean())
    sd = standard_distance(coords)
    return (sd, k, True) if mean_k > sd else (mean_k, k, False)


def auto_distance_band(
    coords_m: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    min_features: int = MIN_FEATURES,
    n_steps: int = 10,
    increment_m: float | None = None,
) -> BandChoice:
    """Choose the Gi* distance band from the data (DOMAIN.md, "optimized" hotspots).

    1. Fewer than ``min_features`` features: :class:`NotEnoughFeaturesError` (the stage
       then computes no Gi* and says so in French).
    2. Starting distance: the largest nearest-neighbour distance between distinct
       locations, so every feature has at least one neighbour — ignoring locational
       outliers (nearest neighbour further than mean + 3 sd), which would otherwise
       inflate the band for everybody. Increment: the mean nearest-neighbour distance.
    3. Global Moran's I z-score (binary weights, randomisation variance, see
       :func:`incremental_moran_z`) at ``n_steps`` distances, on all features.
    4. The first peak with z ≥ 1.96 (``incremental_peak``); else, if some z ≥ 1.96, the
       distance with the highest z (``incremental_max``, e.g. z still rising at the last
       distance); else — no significant clustering, hence no peak — the mean distance to
       the k-th nearest neighbour, k = 5 % of n clamped to [3, 30], capped at one
       standard distance (``knn_rule``).

    Parameters
    ----------
    coords_m
        ``n × 2`` coordinates in metres in a projected CRS.
    values
        The values Gi* will analyse (e.g. report counts per building).
    min_features
        Fewer features raise :class:`NotEnoughFeaturesError`.
    n_steps
        Number of distances tried.
    increment_m
        Step between distances; default the mean nearest-neighbour distance (as in the
        usual incremental spatial autocorrelation tools). Dense layouts (buildings a few
        metres apart) then only explore a few times the starting distance: pass a
        larger step to search wider.

    Returns
    -------
    BandChoice
    """
    coords = _as_coords(coords_m)
    n = coords.shape[0]
    x = _as_values(values, n)
    if n < min_features:
        raise NotEnoughFeaturesError(n, min_features)
    unique = np.unique(coords, axis=0)
    if len(unique) < 2:
        raise NotEnoughFeaturesError(len(unique), 2, what="emplacement(s) distinct(s)")
    nn = cKDTree(unique).query(unique, k=2)[0][:, 1]
    outlier = nn > nn.mean() + 3 * nn.std()
    start = float(nn[~outlier].max())
    step = float(nn[~outlier].mean()) if increment_m is None else float(increment_m)
    if not step > 0:
        raise ValueError(f"increment_m doit être positif (reçu {increment_m}).")
    distances = start + step * np.arange(n_steps)
    z = incremental_moran_z(coords, x, distances)
    tried = (
        f"{n_steps} distances testées de {fr_number(distances[0])} à {fr_number(distances[-1])} m"
    )
    pick, method = pick_band(z)
    k_neighbours = None
    if pick is not None:
        band = float(distances[pick])
        what = "Premier pic" if method == "incremental_peak" else "Sans pic, valeur la plus forte"
        reason = (
            f"{what} de l'autocorrélation spatiale (I de Moran global, "
            f"z = {fr_number(z[pick], 1)}) à {fr_number(band)} m ({tried})."
        )
    else:
        band, k_neighbours, capped = knn_band(coords)
        why = (
            "valeurs toutes égales"
            if np.ptp(x) == 0
            else f"aucune autocorrélation significative (z < {fr_number(Z_CRITICAL, 2)})"
        )
        cap = ", plafonnée à une distance standard" if capped else ""
        reason = (
            f"Pas de pic d'autocorrélation spatiale ({why}, {tried}) : distance moyenne au "
            f"{k_neighbours}e plus proche voisin (k = 5 % de n, borné à [3, 30]){cap}, "
            f"soit {fr_number(band)} m."
        )
    choice = BandChoice(
        band_m=band,
        method=method,
        reason=reason,
        distances_m=tuple(float(v) for v in distances),
        moran_z=tuple(float(v) for v in z),
        n_features=n,
        n_locational_outliers=int(outlier.sum()),
        k_neighbours=k_neighbours,
    )
    log.info("Distance band: %.1f m (%s)", choice.band_m, choice.method)
    return choice
