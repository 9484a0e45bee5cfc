"""Hotspots over time: the space-time cube, emerging-hotspot categories, before/after.

Pure functions, no I/O, following ``DOMAIN.md``:

- **Getis-Ord Gi\\*** (Ord & Getis 1995) at every time step of a location × step cube,
  binary distance-band weights with the location itself, optionally the previous steps'
  values in the neighbourhood, and Benjamini–Hochberg FDR bins per step (±1/±2/±3 at
  90/95/99 %, :func:`pipelines.stats.fdr.fdr_bins`).
- **Emerging hotspots**: DOMAIN.md's categories from each location's bins and the
  Mann-Kendall trend (:func:`pipelines.stats.trend.mann_kendall_matrix`) of its Gi\\* z
  series (see :func:`emerging_hotspots` for how the overlapping rules are resolved).
- **Before/after**: report counts and hotspot bins of two periods, per building.

Coordinates are metric (metres, e.g. Lambert-93 EPSG:2154).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import sparse
from scipy.spatial import cKDTree

from pipelines.stats.fdr import fdr_bins
from pipelines.stats.trend import (
    TREND_DOWN,
    TREND_UP,
    _as_matrix,
    _p_from_z,
    mann_kendall_matrix,
)

logger = logging.getLogger(__name__)

#: The patterns of a place whose final step is hot (with ``_cold``: cold), in the order
#: their rules are tried.
_FINAL_STEP_PATTERNS: tuple[str, ...] = (
    "new",
    "consecutive",
    "intensifying",
    "persistent",
    "diminishing",
    "sporadic",
    "oscillating",
)

#: Emerging-hotspot category codes, hot then cold, in the order of DOMAIN.md.
EMERGING_CATEGORIES: tuple[str, ...] = (
    *_FINAL_STEP_PATTERNS,
    "historical",
    *(f"{c}_cold" for c in _FINAL_STEP_PATTERNS),
    "historical_cold",
    "no_pattern",
)

#: French labels for steering committees.
EMERGING_LABELS_FR: dict[str, str] = {
    "new": "Nouveau point chaud",
    "consecutive": "Point chaud consécutif",
    "intensifying": "Point chaud en intensification",
    "persistent": "Point chaud persistant",
    "diminishing": "Point chaud en diminution",
    "sporadic": "Point chaud sporadique",
    "oscillating": "Point chaud oscillant",
    "historical": "Ancien point chaud",
    "new_cold": "Nouveau point froid",
    "consecutive_cold": "Point froid consécutif",
    "intensifying_cold": "Point froid en intensification",
    "persistent_cold": "Point froid persistant",
    "diminishing_cold": "Point froid en diminution",
    "sporadic_cold": "Point froid sporadique",
    "oscillating_cold": "Point froid oscillant",
    "historical_cold": "Ancien point froid",
    "no_pattern": "Aucune tendance",
}

#: Before/after hotspot transitions and their French labels.
HOTSPOT_CHANGE_LABELS_FR: dict[str, str] = {
    "became_hot": "Devient point chaud",
    "no_longer_hot": "N'est plus point chaud",
    "became_cold": "Devient point froid",
    "no_longer_cold": "N'est plus point froid",
    "cold_to_hot": "Passe de point froid à point chaud",
    "hot_to_cold": "Passe de point chaud à point froid",
    "still_hot": "Reste point chaud",
    "still_cold": "Reste point froid",
    "not_significant": "Non significatif aux deux dates",
}


# --------------------------------------------------------------------------------------
# Space-time Gi* and emerging hotspots
# --------------------------------------------------------------------------------------
def _band_neighbours(
    coords_m: NDArray[np.float64], band_m: float
) -> tuple[sparse.csr_array, NDArray[np.int64]]:
    """Upper triangle U (i < j, distance ≤ band) of the binary weights, W = U + Uᵀ + I,
    and each location's number of neighbours (itself excluded)."""
    tree = cKDTree(coords_m)
    pairs = tree.query_pairs(r=band_m, output_type="ndarray")
    n = coords_m.shape[0]
    rows = pairs[:, 0].astype(np.int32)
    cols = pairs[:, 1].astype(np.int32)
    del pairs
    upper = sparse.csr_array((np.ones(rows.size), (rows, cols)), shape=(n, n))
    n_neighbours = np.bincount(upper.indices, minlength=n) + np.diff(upper.indptr)
    return upper, n_neighbours.astype(np.int64)


def _check_cube(
    values: ArrayLike, coords_m: ArrayLike, band_m: float, time_window: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x = np.asarray(values, dtype=float)
    xy = np.asarray(coords_m, dtype=float)
    if x.ndim != 2:
        raise ValueError("values doit être un tableau (lieux × pas de temps).")
    if xy.shape != (x.shape[0], 2):
        raise ValueError(f"coords_m doit être de forme ({x.shape[0]}, 2), reçu {xy.shape}.")
    if not np.isfinite(x).all() or not np.isfinite(xy).all():
        raise ValueError("values et coords_m ne doivent contenir ni NaN ni infini.")
    if not band_m > 0:
        raise ValueError(f"band_m doit être positif (mètres), reçu {band_m}.")
    if time_window < 0:
        raise ValueError(f"time_window doit être ≥ 0, reçu {time_window}.")
    return x, xy


def _gi_cube(
    x: NDArray[np.float64],
    upper: sparse.csr_array,
    n_neighbours: NDArray[np.int64],
    time_window: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int8]]:
    """Gi* z, p and FDR bins of every step, from the band's upper-triangle weights."""
    n, n_steps = x.shape
    # Why not call esda.G_Local once per step: esda stores weights as a libpysal W (Python
    # dicts), which for 100,000 locations and ~25 million links costs minutes and gigabytes,
    # re-derives the transform at each call, and cannot add time lags. Gi* with binary
    # weights only needs each neighbourhood's sum, so one sparse matrix product W·X gives
    # every step at once; the rest is per-step arithmetic on arrays.
    neighbour_sums = upper @ x + upper.T @ x + x  # W·X with W = U + Uᵀ + I
    degree = (n_neighbours + 1).astype(float)[:, np.newaxis]

    window_sum = neighbour_sums.copy()
    for lag in range(1, time_window + 1):
        window_sum[:, lag:] += neighbour_sums[:, :-lag]
    steps_in_window = np.minimum(np.arange(n_steps), time_window) + 1.0
    n_eff = n * steps_in_window
    mean = np.empty(n_steps)
    sd = np.empty(n_steps)
    for t in range(n_steps):
        slab = x[:, t + 1 - int(steps_in_window[t]) : t + 1]
        mean[t] = slab.mean()
        # Centred form of S = √(Σx²/n − x̄²): the same quantity, less cancellation.
        sd[t] = np.sqrt(np.mean((slab - mean[t]) ** 2))
    weight_sum = degree * steps_in_window  # Σ_j w_ij, equal to Σ_j w_ij² (binary weights)
    spread = (n_eff * weight_sum - weight_sum**2) / (n_eff - 1)
    denominator = sd * np.sqrt(np.clip(spread, 0.0, None))
    numerator = window_sum - mean * weight_sum
    # An island (no neighbour within the band) gets no Gi*, as in hotspot_stats.gi_star:
    # its "neighbourhood" would be itself, a plain standardised count, not a cluster.
    defined = (denominator > 0) & (n_neighbours > 0)[:, np.newaxis]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(defined, numerator / denominator, np.nan)
    p = _p_from_z(z)
    # Benjamini–Hochberg separately at each step (each step is its own family of tests).
    bins = np.column_stack([fdr_bins(z[:, t], p[:, t]) for t in range(n_steps)]).astype(np.int8)
    return z, p, bins


def space_time_gi(
    values: ArrayLike,
    coords_m: ArrayLike,
    band_m: float,
    *,
    time_window: int = 0,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int8]]:
    """Getis-Ord Gi* at every time step of a space-time cube, with FDR bins per step.

    Binary weights: w_ij = 1 when locations i and j are within ``band_m`` metres (self
    included). With ``time_window = k > 0`` the neighbourhood of (i, t) also holds the
    neighbours' values at steps t−k … t−1 (fewer at the start of the series), and the
    mean and standard deviation of the formula are taken over that same slab of steps
    (all locations × steps t−k … t), so Gi* keeps its meaning as a comparison of a
    neighbourhood with its population. With k = 0 this is plain Gi* per step, as
    ``esda.G_Local(y, w, transform="B", star=True).Zs``, except that a location with no
    neighbour within the band (an island) gets NaN, as in
    :func:`pipelines.stats.gistar.gi_star`.

    Parameters
    ----------
    values
        Array (n_locations × n_steps) of counts or rates; no NaN.
    coords_m
        Array (n_locations × 2) of x, y in metres, in a metric CRS (e.g. EPSG:2154).
    band_m
        Distance band in metres (inclusive).
    time_window
        Number of previous steps included in the neighbourhood (0 = space only).

    Returns
    -------
    z, p, bins
        Arrays (n_locations × n_steps): Gi* z-score (NaN where undefined: an island, a
        constant step, or a neighbourhood that is the whole population), two-sided
        p = 2·Φ(−|z|), and the Benjamini–Hochberg bin in −3..3
        (``hotspot_stats.fdr_bins``, NaNs left out of the count of tests) per step.
    """
    x, xy = _check_cube(values, coords_m, band_m, time_window)
    upper, n_neighbours = _band_neighbours(xy, band_m)
    return _gi_cube(x, upper, n_neighbours, time_window)


def emerging_hotspot_table(
    cube: pd.DataFrame,
    coords_m: ArrayLike,
    band_m: float,
    *,
    time_window: int = 0,
    mk_alpha: float = 0.05,
    min_level: int = 1,
    steps_tested: ArrayLike | None = None,
) -> pd.DataFrame:
    """Space-time Gi* and emerging-hotspot category of every location of a cube.

    Parameters
    ----------
    cube
        One row per location (e.g. indexed by ``building_id``), one column per time step
        in time order, report counts (zeros included, no NaN).
    coords_m
        Array (n_locations × 2) of x, y in metres in a metric CRS (EPSG:2154), in the
        order of ``cube``'s rows.
    band_m
        Distance band in metres.
    time_window, mk_alpha, min_level
        See :func:`space_time_gi` and :func:`emerging_hotspots`.
    steps_tested
        Booleans, one per step (default: all True). An untested step (e.g. one with too
        few reports for the normal approximation of Gi*) gets NaN z and bin 0: it is
        neither hot nor cold, and is left out of the Mann-Kendall test.

    Returns
    -------
    pandas.DataFrame
        Aligned on ``cube.index``: the columns of :func:`emerging_hotspots`, plus
        ``n_neighbours`` (locations within the band, itself excluded), ``is_island``,
        ``gi_z_last`` and ``gi_bin_last`` (Gi* z and FDR bin of the final step).
    """
    x, xy = _check_cube(cube.to_numpy(dtype=float), coords_m, band_m, time_window)
    upper, n_neighbours = _band_neighbours(xy, band_m)
    z, _, bins = _gi_cube(x, upper, n_neighbours, time_window)
    del upper
    if steps_tested is not None:
        tested = np.asarray(steps_tested, dtype=bool)
        if tested.shape != (x.shape[1],):
            raise ValueError(f"steps_tested : {x.shape[1]} booléens attendus, reçu {tested.shape}.")
        z[:, ~tested] = np.nan
        bins[:, ~tested] = 0
    out = emerging_hotspots(z, bins, mk_alpha=mk_alpha, min_level=min_level, index=cube.index)
    out["n_neighbours"] = n_neighbours
    out["is_island"] = n_neighbours == 0
    out["gi_z_last"] = z[:, -1]
    out["gi_bin_last"] = bins[:, -1].astype(np.int64)
    if out["is_island"].any():
        logger.warning(
            "Cube espace-temps : %d lieu(x) sans voisin à %.0f m (Gi* non calculé)",
            int(out["is_island"].sum()),
            band_m,
        )
    return out


def _trailing_run(flags: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Length of the run of True values ending at the last column, per row."""
    rev = flags[:, ::-1]
    first_false = np.argmin(rev, axis=1)
    return np.where(rev.all(axis=1), flags.shape[1], first_false).astype(np.int64)


def _family(
    on: NDArray[np.bool_],
    other: NDArray[np.bool_],
    trend_up: NDArray[np.bool_],
    trend_down: NDArray[np.bool_],
    suffix: str,
) -> tuple[list[NDArray[np.bool_]], list[str]]:
    """Rules for one family (hot, or cold with signs swapped) given the final step is `on`."""
    n_steps = on.shape[1]
    count = on.sum(axis=1)
    run = _trailing_run(on)
    final = on[:, -1]
    mostly = 10 * count >= 9 * n_steps  # "≥ 90 % of steps", exact in integers
    conditions = [
        final & (count == 1),
        final & (run == count) & (run >= 2) & ~mostly,
        final & mostly & trend_up,
        final & mostly & ~trend_up & ~trend_down,
        final & mostly & trend_down,
        final & ~mostly & ~other.any(axis=1),
        final & ~mostly & other.any(axis=1),
    ]
    codes = [f"{c}{suffix}" for c in _FINAL_STEP_PATTERNS]
    return conditions, codes


def emerging_hotspots(
    cube_z: ArrayLike,
    cube_bins: ArrayLike,
    *,
    mk_alpha: float = 0.05,
    min_level: int = 1,
    index: pd.Index | None = None,
) -> pd.DataFrame:
    """Classify each location of a space-time cube into an emerging-hotspot category.

    Parameters
    ----------
    cube_z
        Gi* z-scores, array (n_locations × n_steps), time along axis 1 (NaN allowed:
        dropped from that location's Mann-Kendall test).
    cube_bins
        FDR bins in −3..3, same shape (see :func:`space_time_gi`).
    mk_alpha
        Two-sided level of the Mann-Kendall test on each location's z series.
    min_level
        Smallest |bin| that counts as significant: 1 (default: the 90 % bins, DOMAIN.md's
        "significant bin"), 2 (95 %) or 3 (99 %). "Hot" is bin ≥ min_level (z > 0),
        "cold" is bin ≤ −min_level (z < 0): bins are already signed by z.
    index
        Index of the result (default ``RangeIndex``), e.g. the building ids.

    Returns
    -------
    pandas.DataFrame
        One row per location: ``emerging_category`` (codes of ``EMERGING_CATEGORIES``),
        ``emerging_label_fr``, ``n_steps``, ``n_steps_hot``, ``n_steps_cold``,
        ``hot_share``, ``cold_share``, ``mk_s``, ``mk_z``, ``mk_p``, ``mk_trend``.

    Notes
    -----
    The rules of DOMAIN.md overlap; they are resolved so that every location gets
    exactly one category, decided by its final step:

    - Final step hot → a hot category, tested in DOMAIN.md's order: New (hot only in
      the final step; wins over Oscillating when the earlier steps held a cold spot),
      Consecutive (a single run of ≥ 2 hot steps ending at the final step, never hot
      before — cold before is allowed — and < 90 % hot), then with ≥ 90 % hot:
      Intensifying (significant upward Mann-Kendall trend), Persistent (no significant
      trend), Diminishing (significant downward trend); then with < 90 % hot: Sporadic
      (hot before the final run, i.e. on and off, never cold) or Oscillating (cold at
      least once before).
    - Final step cold → the mirror cold categories; an intensifying cold spot has a
      significant *downward* z trend, a diminishing one an upward trend.
    - Final step not significant → Historical (hot in ≥ 90 % of the earlier steps),
      Historical cold (the mirror), else No pattern.

    So "Persistent", which DOMAIN.md states without "including the last", is in effect
    hot in the final step too: a location hot in ≥ 90 % of all steps but not the last
    is hot in ≥ 90 % of its earlier steps, and Historical says more (it has stopped).
    "≥ 90 %" includes 90 % exactly (9 of 10 steps), "fewer than 90 %" excludes it; shares
    are compared in integers (10·hot ≥ 9·n), never in floating point.
    """
    z = _as_matrix(cube_z)
    bins = np.asarray(cube_bins)
    if bins.ndim == 1:
        bins = bins[np.newaxis, :]
    if bins.shape != z.shape:
        raise ValueError(f"cube_bins {bins.shape} et cube_z {z.shape} n'ont pas la même forme.")
    if min_level not in (1, 2, 3):
        raise ValueError(f"min_level doit valoir 1, 2 ou 3, reçu {min_level}.")
    n_rows, n_steps = z.shape
    if n_steps == 0:
        raise ValueError("Le cube n'a aucun pas de temps.")
    hot = bins >= min_level
    cold = bins <= -min_level
    mk = mann_kendall_matrix(z, alpha=mk_alpha)
    up = (mk["trend"] == TREND_UP).to_numpy()
    down = (mk["trend"] == TREND_DOWN).to_numpy()

    hot_conditions, hot_codes = _family(hot, cold, up, down, "")
    # Cold spots mirror hot ones: a cold spot intensifies when its z goes down.
    cold_conditions, cold_codes = _family(cold, hot, down, up, "_cold")

    earlier_hot = hot[:, :-1].sum(axis=1)
    earlier_cold = cold[:, :-1].sum(axis=1)
    n_earlier = n_steps - 1
    quiet_final = ~hot[:, -1] & ~cold[:, -1]
    historical = quiet_final & (n_earlier > 0) & (10 * earlier_hot >= 9 * n_earlier)
    historical_cold = quiet_final & (n_earlier > 0) & (10 * earlier_cold >= 9 * n_earlier)

    category = np.select(
        [*hot_conditions, *cold_conditions, historical, historical_cold],
        [*hot_codes, *cold_codes, "historical", "historical_cold"],
        default="no_pattern",
    )
    labels = np.vectorize(EMERGING_LABELS_FR.__getitem__, otypes=[object])(category)
    n_hot = hot.sum(axis=1)
    n_cold = cold.sum(axis=1)
    return pd.DataFrame(
        {
            "emerging_category": category.astype(object),
            "emerging_label_fr": labels,
            "n_steps": np.full(n_rows, n_steps, dtype=np.int64),
            "n_steps_hot": n_hot.astype(np.int64),
            "n_steps_cold": n_cold.astype(np.int64),
            "hot_share": n_hot / n_steps,
            "cold_share": n_cold / n_steps,
            "mk_s": mk["s"].to_numpy(),
            "mk_z": mk["z"].to_numpy(),
            "mk_p": mk["p"].to_numpy(),
            "mk_trend": mk["trend"].to_numpy(),
        },
        index=index,
    )


# --------------------------------------------------------------------------------------
# Before / after
# --------------------------------------------------------------------------------------
def before_after(
    counts_a: pd.Series,
    counts_b: pd.Series,
    bins_a: pd.Series,
    bins_b: pd.Series,
) -> pd.DataFrame:
    """Compare two periods per building: report counts and Gi* hotspot bins.

    Parameters
    ----------
    counts_a, counts_b
        Report counts before (a) and after (b), indexed by building id.
    bins_a, bins_b
        Gi* FDR bins (−3..3) before and after, same index.

    Returns
    -------
    pandas.DataFrame
        Indexed by the union of the four indexes (a building missing from a count has 0
        reports; missing from a bin series, bin 0 = not significant). Columns
        ``n_reports_before``, ``n_reports_after``, ``n_reports_change``,
        ``n_reports_change_pct`` (NaN when there were none before), ``gi_bin_before``,
        ``gi_bin_after``, ``gi_bin_change``, ``hotspot_change`` (code) and
        ``hotspot_change_fr``.
    """
    series = {"counts_a": counts_a, "counts_b": counts_b, "bins_a": bins_a, "bins_b": bins_b}
    for name, s in series.items():
        if not s.index.is_unique:
            raise ValueError(f"{name} : l'index (identifiant de bâtiment) a des doublons.")
    index = counts_a.index
    for s in (counts_b, bins_a, bins_b):
        index = index.union(s.index, sort=False)
    before = counts_a.reindex(index).fillna(0).astype(np.int64)
    after = counts_b.reindex(index).fillna(0).astype(np.int64)
    bin_before = bins_a.reindex(index).fillna(0).astype(np.int64)
    bin_after = bins_b.reindex(index).fillna(0).astype(np.int64)
    change = after - before
    pct = (change / before.where(before > 0) * 100.0).astype(float)
    hb, ha = (bin_before > 0).to_numpy(), (bin_after > 0).to_numpy()
    cb, ca = (bin_before < 0).to_numpy(), (bin_after < 0).to_numpy()
    code = np.select(
        [hb & ha, cb & ca, cb & ha, hb & ca, ha, hb, ca, cb],
        [
            "still_hot",
            "still_cold",
            "cold_to_hot",
            "hot_to_cold",
            "became_hot",
            "no_longer_hot",
            "became_cold",
            "no_longer_cold",
        ],
        default="not_significant",
    ).astype(object)
    return pd.DataFrame(
        {
            "n_reports_before": before,
            "n_reports_after": after,
            "n_reports_change": change,
            "n_reports_change_pct": pct,
            "gi_bin_before": bin_before,
            "gi_bin_after": bin_after,
            "gi_bin_change": bin_after - bin_before,
            "hotspot_change": code,
            "hotspot_change_fr": [HOTSPOT_CHANGE_LABELS_FR[c] for c in code],
        },
        index=index,
    )
