"""False discovery rate: the Benjamini–Hochberg confidence bins of Gi* (DOMAIN.md)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import stats

#: FDR levels and the bin each one gives (90 %, 95 %, 99 % confidence).
FDR_ALPHAS: tuple[float, ...] = (0.10, 0.05, 0.01)


def fdr_bins(
    z: npt.ArrayLike, p: npt.ArrayLike, alphas: Sequence[float] = FDR_ALPHAS
) -> npt.NDArray[np.int64]:
    """Benjamini–Hochberg confidence bins, signed by z.

    A feature is significant at level α when its BH-adjusted p-value
    (:func:`scipy.stats.false_discovery_control`, ``method="bh"``) is at most α, which is
    the step-up rule: sort the p-values ascending, find the largest k with
    ``p_(k) ≤ (k / m)·α`` and call significant every feature with ``p ≤ p_(k)``. A
    feature's bin is the number of levels at which it is significant (with the default
    α = 0.10, 0.05, 0.01: 1 = 90 %, 2 = 95 %, 3 = 99 %; BH rejections are nested, so this
    is the highest level reached), with the sign of its z; 0 when not significant.

    Missing p-values (islands, constant values) get bin 0 and are **not counted in m**:
    they are features for which no test was made, and BH's m is the number of tests.
    (Counting them would only make the correction stricter for the others.)

    Parameters
    ----------
    z, p
        z-scores and two-sided p-values, same length.
    alphas
        FDR levels, any order.

    Returns
    -------
    ndarray of int
        Bins in ``−len(alphas) … len(alphas)``.
    """
    z_arr = np.asarray(z, dtype=float).reshape(-1)
    p_arr = np.asarray(p, dtype=float).reshape(-1)
    if z_arr.shape != p_arr.shape:
        raise ValueError(f"z et p de longueurs différentes ({len(z_arr)} et {len(p_arr)}).")
    tested = np.isfinite(p_arr) & np.isfinite(z_arr)
    level = np.zeros(len(p_arr), dtype=np.int64)
    if not tested.any():
        return level
    q = stats.false_discovery_control(p_arr[tested], method="bh")
    level[tested] = (q[:, None] <= np.asarray(alphas, dtype=float)[None, :]).sum(axis=1)
    return (level * np.sign(np.where(tested, z_arr, 0.0))).astype(np.int64)
