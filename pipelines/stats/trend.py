"""Time-trend statistics: Mann-Kendall and Sen's slope.

Pure functions, no I/O. The methods follow ``DOMAIN.md`` exactly:

- **Mann-Kendall** (Mann 1945, Kendall 1975): S = Σ_{i<j} sgn(x_j − x_i); Var(S) with the
  tie correction; Z = (S ∓ 1)/√Var(S) (0 when S = 0); two-sided p = 2(1 − Φ(|Z|)).
- **Sen's slope** (Sen 1968): median of (x_j − x_i)/(j − i) over i < j.

The period counts, closing delays and backlog these tests read live in
:mod:`pipelines.stats.series`; the space-time cube (Gi\\* per step), the emerging-hotspot
categories and the before/after comparison of hotspot bins in
:mod:`pipelines.stats.emerging`.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr

logger = logging.getLogger(__name__)

TREND_UP = "hausse"
TREND_DOWN = "baisse"
TREND_NONE = "aucune"

_CHUNK_ELEMENTS = 4_000_000  # rows x pairs per chunk in the matrix functions (~32 MB)


# --------------------------------------------------------------------------------------
# Mann-Kendall and Sen's slope
# --------------------------------------------------------------------------------------
class MannKendall(NamedTuple):
    """Result of a Mann-Kendall trend test (two-sided)."""

    s: int
    """Kendall's S = Σ_{i<j} sgn(x_j − x_i)."""
    var_s: float
    """Var(S), tie-corrected."""
    z: float
    """Continuity-corrected normal score; NaN when n < 3."""
    p: float
    """Two-sided p-value 2(1 − Φ(|Z|)); NaN when n < 3."""
    trend: str
    """``"hausse"``, ``"baisse"`` or ``"aucune"`` at the chosen alpha."""
    n: int
    """Number of values used (NaNs dropped)."""
    n_missing: int
    """Number of NaNs dropped."""


def _z_from_s(s: NDArray[np.float64], var_s: NDArray[np.float64]) -> NDArray[np.float64]:
    """Z = (S−1)/√Var if S>0, 0 if S=0, (S+1)/√Var if S<0 (vectorised)."""
    num = s - np.sign(s)
    # Var(S) = 0 only when every value is tied, hence S = 0: Z = 0 there.
    safe_sd = np.sqrt(np.where(var_s > 0, var_s, 1.0))
    return np.where(s == 0, 0.0, num / safe_sd)


def _p_from_z(z: NDArray[np.float64]) -> NDArray[np.float64]:
    """Two-sided normal p-value. 2·Φ(−|z|) equals 2(1 − Φ(|z|)) without the cancellation."""
    return 2.0 * ndtr(-np.abs(z))


def _trend_labels(z: NDArray[np.float64], p: NDArray[np.float64], alpha: float) -> NDArray:
    significant = p < alpha  # NaN p (n < 3) compares False: no trend
    return np.where(
        significant & (z > 0), TREND_UP, np.where(significant & (z < 0), TREND_DOWN, TREND_NONE)
    )


def mann_kendall(x: ArrayLike, *, alpha: float = 0.05) -> MannKendall:
    """Mann-Kendall trend test on one series, as in DOMAIN.md.

    Parameters
    ----------
    x
        The series in time order (equally spaced steps). NaNs are dropped (and logged);
        the remaining values keep their order.
    alpha
        Two-sided significance level for ``trend``.

    Returns
    -------
    MannKendall
        ``s``, ``var_s`` (tie-corrected), ``z``, ``p`` (two-sided), ``trend`` in
        {"hausse", "baisse", "aucune"}, ``n`` and ``n_missing``. With fewer than 3 values
        the test is not defined: ``z`` and ``p`` are NaN and ``trend`` is "aucune". A
        constant series has Var(S) = 0, z = 0 and p = 1.

    Examples
    --------
    >>> mann_kendall([1, 2, 2, 3, 5]).s
    9
    """
    arr = np.asarray(x, dtype=float).ravel()
    missing = np.isnan(arr)
    n_missing = int(missing.sum())
    if n_missing:
        logger.info("Mann-Kendall : %d valeur(s) manquante(s) ignorée(s)", n_missing)
    arr = arr[~missing]
    n = arr.size
    i, j = np.triu_indices(n, k=1)
    s = int(np.sign(arr[j] - arr[i]).sum())
    _, tie_sizes = np.unique(arr, return_counts=True)
    t = tie_sizes.astype(float)
    var_s = float((n * (n - 1) * (2 * n + 5) - np.sum(t * (t - 1) * (2 * t + 5))) / 18.0)
    if n < 3:
        return MannKendall(s, var_s, float("nan"), float("nan"), TREND_NONE, n, n_missing)
    z = float(_z_from_s(np.array([float(s)]), np.array([var_s]))[0])
    p = float(_p_from_z(np.array([z]))[0])
    trend = str(_trend_labels(np.array([z]), np.array([p]), alpha)[0])
    return MannKendall(s, var_s, z, p, trend, n, n_missing)


def _as_matrix(x: ArrayLike) -> NDArray[np.float64]:
    arr = np.asarray(x, dtype=float)
    if arr.ndim == 1:
        arr = arr[np.newaxis, :]
    if arr.ndim != 2:
        raise ValueError(f"Attendu un tableau (séries × pas de temps), reçu {arr.ndim} dimensions.")
    return arr


def _row_chunks(n_rows: int, per_row: int) -> list[slice]:
    size = max(1, _CHUNK_ELEMENTS // max(per_row, 1))
    return [slice(a, min(a + size, n_rows)) for a in range(0, n_rows, size)] or [slice(0, 0)]


def _tie_term(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Σ_g t_g(t_g−1)(2t_g+5) per row, vectorised.

    Sort each row; r = 1-based position of a value within its run of equal values. Since
    f(t) = t(t−1)(2t+5) satisfies f(t) − f(t−1) = 6t² − 6, f(t) = Σ_{r=1..t} (6r² − 6), so
    the tie term is the row sum of 6r² − 6. NaNs sort last and never equal anything: r = 1,
    contribution 0.
    """
    srt = np.sort(x, axis=1)
    n_steps = srt.shape[1]
    idx = np.broadcast_to(np.arange(n_steps), srt.shape)
    starts = np.ones(srt.shape, dtype=bool)
    starts[:, 1:] = srt[:, 1:] != srt[:, :-1]
    run_start = np.maximum.accumulate(np.where(starts, idx, 0), axis=1)
    r = (idx - run_start + 1).astype(float)
    return np.sum(6.0 * r * r - 6.0, axis=1)


def mann_kendall_matrix(
    x: ArrayLike, *, alpha: float = 0.05, index: pd.Index | None = None
) -> pd.DataFrame:
    """Mann-Kendall test on every row of a (series × steps) matrix, vectorised.

    Equivalent to :func:`mann_kendall` row by row (NaNs dropped per row), but computed
    with numpy over the O(T²) pairs: one comparison of step i against all later steps per
    i, for all rows at once, rows processed in chunks to bound memory.

    Parameters
    ----------
    x
        Array of shape (n_series, n_steps), time along axis 1.
    alpha
        Two-sided significance level for ``trend``.
    index
        Index of the result (default ``RangeIndex``), e.g. the building ids.

    Returns
    -------
    pandas.DataFrame
        Columns ``s`` (int64), ``var_s``, ``z``, ``p``, ``trend``, ``n`` (values used)
        and ``n_missing`` (NaNs dropped), one row per series.
    """
    arr = _as_matrix(x)
    n_rows, n_steps = arr.shape
    s = np.zeros(n_rows, dtype=np.int64)
    tie = np.zeros(n_rows, dtype=float)
    for rows in _row_chunks(n_rows, n_steps * 2):
        block = arr[rows]
        acc = np.zeros(block.shape[0], dtype=np.int64)
        for i in range(n_steps - 1):
            later, pivot = block[:, i + 1 :], block[:, i : i + 1]
            # Comparisons with NaN are False: pairs with a missing value count 0, which is
            # exactly S over the series with its NaNs dropped.
            acc += (later > pivot).sum(axis=1) - (later < pivot).sum(axis=1)
        s[rows] = acc
        tie[rows] = _tie_term(block)
    n = np.sum(~np.isnan(arr), axis=1)
    n_missing = n_steps - n
    nf = n.astype(float)
    var_s = (nf * (nf - 1) * (2 * nf + 5) - tie) / 18.0
    z = _z_from_s(s.astype(float), var_s)
    z = np.where(n < 3, np.nan, z)
    p = _p_from_z(z)
    return pd.DataFrame(
        {
            "s": s,
            "var_s": var_s,
            "z": z,
            "p": p,
            "trend": _trend_labels(z, p, alpha),
            "n": n.astype(np.int64),
            "n_missing": n_missing.astype(np.int64),
        },
        index=index,
    )


def sens_slope(x: ArrayLike) -> float:
    """Sen's slope: median of (x_j − x_i)/(j − i) over i < j, in units of x per step.

    NaNs are skipped pair-wise and the time positions of the remaining values are kept
    (a gap of two steps counts as two steps). NaN with fewer than two values.
    """
    arr = np.asarray(x, dtype=float).ravel()
    i, j = np.triu_indices(arr.size, k=1)
    slopes = (arr[j] - arr[i]) / (j - i)
    slopes = slopes[~np.isnan(slopes)]
    return float(np.median(slopes)) if slopes.size else float("nan")


def sens_slope_matrix(x: ArrayLike, *, index: pd.Index | None = None) -> pd.Series:
    """Sen's slope of every row of a (series × steps) matrix, vectorised.

    Returns
    -------
    pandas.Series
        Named ``sens_slope``, in units of x per step, one value per row; NaN for rows
        with fewer than two values.
    """
    arr = _as_matrix(x)
    n_rows, n_steps = arr.shape
    i, j = np.triu_indices(n_steps, k=1)
    gaps = (j - i).astype(float)
    out = np.full(n_rows, np.nan)
    valid = np.sum(~np.isnan(arr), axis=1) >= 2
    for rows in _row_chunks(n_rows, i.size):
        block = arr[rows]
        ok = valid[rows]
        if not ok.any():
            continue
        slopes = (block[ok][:, j] - block[ok][:, i]) / gaps
        res = np.nanmedian(slopes, axis=1) if np.isnan(slopes).any() else np.median(slopes, 1)
        chunk = np.full(block.shape[0], np.nan)
        chunk[ok] = res
        out[rows] = chunk
    return pd.Series(out, index=index, name="sens_slope")
