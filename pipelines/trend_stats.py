"""Time-trend statistics: Mann-Kendall, Sen's slope, period counts, emerging hotspots.

Pure functions, no I/O. The methods follow ``DOMAIN.md`` exactly:

- **Mann-Kendall** (Mann 1945, Kendall 1975): S = Σ_{i<j} sgn(x_j − x_i); Var(S) with the
  tie correction; Z = (S ∓ 1)/√Var(S) (0 when S = 0); two-sided p = 2(1 − Φ(|Z|)).
- **Sen's slope** (Sen 1968): median of (x_j − x_i)/(j − i) over i < j.
- **Getis-Ord Gi\\*** (Ord & Getis 1995) with binary distance-band weights, self included,
  per time step, and Benjamini–Hochberg FDR bins (±1/±2/±3 at 90/95/99 %).
- **Emerging hotspots**: the categories of DOMAIN.md from each location's Gi\\* bins and the
  Mann-Kendall trend of its Gi\\* z series (see :func:`emerging_hotspots` for how the
  overlapping rules are resolved).

Coordinates are metric (metres, e.g. Lambert-93 EPSG:2154); times are pandas datetimes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import sparse
from scipy.spatial import cKDTree
from scipy.special import ndtr

from pipelines.hotspot_stats import fdr_bins

logger = logging.getLogger(__name__)

TREND_UP = "hausse"
TREND_DOWN = "baisse"
TREND_NONE = "aucune"

#: Emerging-hotspot category codes, hot then cold, in the order of DOMAIN.md.
EMERGING_CATEGORIES: tuple[str, ...] = (
    "new",
    "consecutive",
    "intensifying",
    "persistent",
    "diminishing",
    "sporadic",
    "oscillating",
    "historical",
    "new_cold",
    "consecutive_cold",
    "intensifying_cold",
    "persistent_cold",
    "diminishing_cold",
    "sporadic_cold",
    "oscillating_cold",
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


# --------------------------------------------------------------------------------------
# Period counts
# --------------------------------------------------------------------------------------
_FREQ_ALIASES = {"ME": "M", "MS": "M", "QE": "Q", "QS": "Q", "YE": "Y", "YS": "Y", "A": "Y"}


def _period_freq(freq: str) -> str:
    return _FREQ_ALIASES.get(freq.upper(), freq)


def _naive_datetimes(values: pd.Series, column: str) -> pd.Series:
    """Datetimes as naive local wall-clock times (a tz-aware column keeps its local time)."""
    if not pd.api.types.is_datetime64_any_dtype(values):
        try:
            values = pd.to_datetime(values, format="ISO8601")
        except (ValueError, TypeError) as err:
            raise ValueError(
                f"Colonne « {column} » : dates illisibles ({err}). "
                "Attendu des dates ISO 8601 ou un type datetime."
            ) from err
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_localize(None)
    return values


def _require_columns(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"Colonne(s) absente(s) : {', '.join(missing)} ; colonnes présentes : "
            f"{', '.join(map(str, frame.columns))}."
        )


def monthly_counts(
    reports: pd.DataFrame,
    *,
    by: Sequence[str],
    date_column: str = "reported_at",
    freq: str = "M",
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    form: Literal["long", "wide"] = "long",
    all_combinations: bool = False,
) -> pd.DataFrame:
    """Count reports per group and period, empty periods filled with zeros.

    Parameters
    ----------
    reports
        One row per report, with ``date_column`` (datetime64, or ISO 8601 strings) and
        the ``by`` columns. Time-zone-aware dates are counted on their local wall clock.
        Rows with no date are dropped and logged.
    by
        Grouping columns (e.g. ``["building_id", "category"]``); may be empty.
    date_column
        Column holding the report time.
    freq
        Period length: ``"M"`` (month, default), ``"W"`` (ISO week, Monday to Sunday),
        ``"Q"`` (calendar quarter), ``"D"``, ``"Y"``; ``"ME"``/``"QE"`` are accepted too.
    start, end
        First and last period (any date inside them); default: those of the earliest and
        latest report. Reports outside are dropped and logged.
    form
        ``"long"``: columns ``by + ["period_start", "n_reports"]``, one row per group and
        period. ``"wide"``: one row per group (index ``by``; ``"total"`` when ``by`` is
        empty), one column per period.
    all_combinations
        If False (default), the groups are the combinations of ``by`` values seen in the
        data; if True, the cartesian product of each column's values (all categories of
        a categorical column).

    Returns
    -------
    pandas.DataFrame
        Periods are labelled by the ISO date of their first day (``"2024-01-01"``);
        ``n_reports`` is int64 and every period between start and end is present for every
        group, zeros included.
    """
    by = list(by)
    _require_columns(reports, [date_column, *by])
    pfreq = _period_freq(freq)
    dates = _naive_datetimes(reports[date_column], date_column)
    has_date = dates.notna().to_numpy()
    if not has_date.all():
        logger.warning(
            "Comptage par période : %d signalement(s) sans date « %s » ignoré(s)",
            int((~has_date).sum()),
            date_column,
        )
    periods = dates[has_date].dt.to_period(pfreq)
    first = pd.Period(start, freq=pfreq) if start is not None else periods.min()
    last = pd.Period(end, freq=pfreq) if end is not None else periods.max()
    if isinstance(first, pd.Period) and isinstance(last, pd.Period):
        period_index = pd.period_range(first, last, freq=pfreq)
    else:  # no dated report and no explicit bounds
        period_index = pd.PeriodIndex([], freq=pfreq)
    inside = periods.isin(period_index).to_numpy()
    if not inside.all():
        logger.info(
            "Comptage par période : %d signalement(s) hors de %s – %s ignoré(s)",
            int((~inside).sum()),
            first,
            last,
        )

    labels = pd.Series(period_index.start_time.strftime("%Y-%m-%d"), dtype=object)
    data = reports.loc[has_date, by].iloc[inside].copy()
    data["period_start"] = periods.iloc[inside].dt.start_time.dt.strftime("%Y-%m-%d").to_numpy()
    data["_one"] = 1
    if by:
        if all_combinations:
            levels = [
                reports[c].cat.categories
                if isinstance(reports[c].dtype, pd.CategoricalDtype)
                else pd.unique(reports[c])
                for c in by
            ]
            groups = pd.MultiIndex.from_product(levels, names=by).to_frame(index=False)
        else:
            groups = data[by].drop_duplicates().reset_index(drop=True)
    else:
        groups = pd.DataFrame(index=[0])
    grid = groups.merge(pd.DataFrame({"period_start": labels}), how="cross")
    counted = data.groupby([*by, "period_start"], dropna=False, observed=True, sort=False)[
        "_one"
    ].sum()
    long = grid.merge(
        counted.rename("n_reports").reset_index(),
        on=[*by, "period_start"],
        how="left",
        validate="1:1",
    )
    long["n_reports"] = long["n_reports"].fillna(0).astype(np.int64)
    long = long.sort_values([*by, "period_start"], kind="stable").reset_index(drop=True)
    if form == "long":
        return long
    if form != "wide":
        raise ValueError(f"form doit valoir « long » ou « wide », pas « {form} ».")
    keys = by if by else None
    if keys is None:
        wide = long.set_index("period_start")["n_reports"].to_frame("total").T
    else:
        wide = long.set_index([*keys, "period_start"])["n_reports"].unstack(
            "period_start", fill_value=0
        )
    wide = wide.reindex(columns=list(labels), fill_value=0).astype(np.int64)
    wide.columns.name = "period_start"
    return wide


# --------------------------------------------------------------------------------------
# Space-time Gi* and emerging hotspots
# --------------------------------------------------------------------------------------
def _binary_band_weights(coords_m: NDArray[np.float64], band_m: float) -> sparse.csr_array:
    """Upper triangle U (i < j, distance ≤ band) of the binary weights; W = U + Uᵀ + I."""
    tree = cKDTree(coords_m)
    pairs = tree.query_pairs(r=band_m, output_type="ndarray")
    n = coords_m.shape[0]
    rows = pairs[:, 0].astype(np.int32)
    cols = pairs[:, 1].astype(np.int32)
    del pairs
    return sparse.csr_array((np.ones(rows.size), (rows, cols)), shape=(n, n))


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
    ``esda.G_Local(y, w, transform="B", star=True).Zs``.

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
        Arrays (n_locations × n_steps): Gi* z-score (NaN where undefined: a constant
        step, or a neighbourhood that is the whole population), two-sided p = 2·Φ(−|z|),
        and the Benjamini–Hochberg bin in −3..3 (``hotspot_stats.fdr_bins``) per step.
    """
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
    n, n_steps = x.shape

    # Why not call esda.G_Local once per step: esda stores weights as a libpysal W (Python
    # dicts), which for 100,000 locations and ~25 million links costs minutes and gigabytes,
    # re-derives the transform at each call, and cannot add time lags. Gi* with binary
    # weights only needs each neighbourhood's sum, so one sparse matrix product W·X gives
    # every step at once; the rest is per-step arithmetic on arrays.
    upper = _binary_band_weights(xy, band_m)
    neighbour_sums = upper @ x + upper.T @ x + x  # W·X with W = U + Uᵀ + I
    degree = (np.bincount(upper.indices, minlength=n) + np.diff(upper.indptr) + 1).astype(float)[
        :, np.newaxis
    ]
    del upper

    window_sum = neighbour_sums.copy()
    slab_sum = x.copy()
    for lag in range(1, time_window + 1):
        window_sum[:, lag:] += neighbour_sums[:, :-lag]
        slab_sum[:, lag:] += x[:, :-lag]
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
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(denominator > 0, numerator / denominator, np.nan)
    p = _p_from_z(z)
    # Benjamini–Hochberg separately at each step (each step is its own family of tests).
    bins = np.column_stack([fdr_bins(z[:, t], p[:, t]) for t in range(n_steps)]).astype(np.int8)
    return z, p, bins


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
    codes = [
        f"{c}{suffix}"
        for c in (
            "new",
            "consecutive",
            "intensifying",
            "persistent",
            "diminishing",
            "sporadic",
            "oscillating",
        )
    ]
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
# Follow-up: closing delays and backlog
# --------------------------------------------------------------------------------------
def closing_delays(
    reports: pd.DataFrame,
    *,
    targets_h: Mapping[str, float],
    by: str = "category",
    as_of: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Closing delays per category, against a target delay in hours.

    Parameters
    ----------
    reports
        One row per report with ``reported_at``, ``closed_at`` (datetime64; NaT when
        still open) and the ``by`` column.
    targets_h
        Target closing delay in hours per category (e.g. ``{"ascenseur": 48}``);
        categories without a target get NaN ``target_h`` and share.
    by
        Grouping column (default ``"category"``).
    as_of
        Date of the extraction. If given, reports still open and reported less than
        their target ago are not yet due: they leave the denominator of the share.
        Without it, every report counts.

    Returns
    -------
    pandas.DataFrame
        Index: the ``by`` values. Columns ``n`` (reports), ``n_closed``,
        ``n_invalid_delay`` (closed before reported: excluded from the delays, logged),
        ``median_delay_h``, ``p90_delay_h`` (linear-interpolated 90th percentile, over
        closed reports), ``target_h`` and ``share_closed_within_target`` (closed with a
        delay ≤ target, over the reports due).
    """
    _require_columns(reports, ["reported_at", "closed_at", by])
    reported = _naive_datetimes(reports["reported_at"], "reported_at")
    closed = _naive_datetimes(reports["closed_at"], "closed_at")
    delay_h = (closed - reported).dt.total_seconds() / 3600.0
    invalid = (delay_h < 0).to_numpy()
    if invalid.any():
        logger.warning(
            "Délais : %d signalement(s) clos avant d'être signalés, exclus des délais "
            "(premiers index : %s)",
            int(invalid.sum()),
            list(reports.index[invalid][:5]),
        )
    delay_h = delay_h.mask(invalid)
    target = reports[by].map(lambda c: targets_h.get(c, np.nan)).astype(float)
    is_open = closed.isna()
    if as_of is not None:
        age_h = (pd.Timestamp(as_of) - reported).dt.total_seconds() / 3600.0
        due = ~(is_open & (age_h < target))
    else:
        due = pd.Series(True, index=reports.index)
    frame = pd.DataFrame(
        {
            by: reports[by],
            "is_closed": ~is_open,
            "is_invalid": invalid,
            "delay_h": delay_h,
            "within": (delay_h <= target) & due,
            "due": due & target.notna(),
            "target_h": target,
        }
    )
    grouped = frame.groupby(by, dropna=False, observed=True, sort=True)
    out = pd.DataFrame(
        {
            "n": grouped.size().astype(np.int64),
            "n_closed": grouped["is_closed"].sum().astype(np.int64),
            "n_invalid_delay": grouped["is_invalid"].sum().astype(np.int64),
            "median_delay_h": grouped["delay_h"].median(),
            "p90_delay_h": grouped["delay_h"].quantile(0.9),
            "target_h": grouped["target_h"].first(),
        }
    )
    n_due = grouped["due"].sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        share = grouped["within"].sum() / n_due.where(n_due > 0)
    out["share_closed_within_target"] = share.where(out["target_h"].notna())
    return out


def open_backlog(
    reports: pd.DataFrame,
    periods: pd.PeriodIndex | Sequence[pd.Period],
    *,
    by: Sequence[str] = (),
) -> pd.DataFrame:
    """Number of reports still open at the end of each period.

    A report is open at instant e when ``reported_at ≤ e`` and (``closed_at`` is NaT or
    ``closed_at > e``), e being the period's last instant (``Period.end_time``).

    Parameters
    ----------
    reports
        ``reported_at``, ``closed_at`` (datetime64, NaT when open) and the ``by`` columns.
    periods
        The periods, e.g. ``pd.period_range("2024-01", "2024-12", freq="M")``.
    by
        Optional grouping columns (e.g. ``["category"]``).

    Returns
    -------
    pandas.DataFrame
        Long form: ``by`` columns, ``period_start`` (ISO date), ``period_end``
        (Timestamp) and ``n_open`` (int64); every period present for every group.
    """
    by = list(by)
    _require_columns(reports, ["reported_at", "closed_at", *by])
    period_index = pd.PeriodIndex(list(periods))
    ends = period_index.end_time
    reported = _naive_datetimes(reports["reported_at"], "reported_at").to_numpy()
    closed = _naive_datetimes(reports["closed_at"], "closed_at").to_numpy()
    end_values = ends.to_numpy().astype(reported.dtype)
    # Report × period matrix: exact for any data (even a close before the report), and
    # small (reports × a few dozen periods).
    open_at = (reported[:, np.newaxis] <= end_values) & (
        np.isnat(closed)[:, np.newaxis] | (closed[:, np.newaxis] > end_values)
    )
    starts = list(period_index.start_time.strftime("%Y-%m-%d"))
    counts = pd.DataFrame(open_at.astype(np.int64), columns=starts, index=reports.index)
    if by:
        table = counts.groupby([reports[c] for c in by], dropna=False, observed=True).sum()
    else:
        table = counts.sum().to_frame().T
    long = table.melt(ignore_index=not by, var_name="period_start", value_name="n_open")
    if by:
        long = long.reset_index()
    long["period_end"] = long["period_start"].map(dict(zip(starts, ends, strict=True)))
    long = long[[*by, "period_start", "period_end", "n_open"]]
    long["n_open"] = long["n_open"].astype(np.int64)
    return long.sort_values([*by, "period_start"], kind="stable").reset_index(drop=True)


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
