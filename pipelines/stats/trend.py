"""Time-trend statistics: Mann-Kendall, Sen's slope, period counts, closing delays.

Pure functions, no I/O. The methods follow ``DOMAIN.md`` exactly:

- **Mann-Kendall** (Mann 1945, Kendall 1975): S = Σ_{i<j} sgn(x_j − x_i); Var(S) with the
  tie correction; Z = (S ∓ 1)/√Var(S) (0 when S = 0); two-sided p = 2(1 − Φ(|Z|)).
- **Sen's slope** (Sen 1968): median of (x_j − x_i)/(j − i) over i < j.
- Period counts with empty periods as zeros; closing delays against target delays; the
  backlog of open reports at the end of each period.

The space-time cube (Gi\\* per step), the emerging-hotspot categories and the before/after
comparison of hotspot bins live in :mod:`pipelines.stats.emerging`. Times are pandas datetimes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Literal, NamedTuple

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


# --------------------------------------------------------------------------------------
# Period counts
# --------------------------------------------------------------------------------------
_FREQ_ALIASES = {"ME": "M", "MS": "M", "QE": "Q", "QS": "Q", "YE": "Y", "YS": "Y", "A": "Y"}


def period_freq(freq: str) -> str:
    """The pandas Period frequency of a period name: ``"M"``, ``"W"``, ``"Q"``, ``"D"``,
    ``"Y"`` (``"ME"``, ``"QE"`` and the like are accepted and mapped)."""
    return _FREQ_ALIASES.get(freq.upper(), freq)


def naive_datetimes(values: pd.Series, column: str) -> pd.Series:
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
    pfreq = period_freq(freq)
    dates = naive_datetimes(reports[date_column], date_column)
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
# Follow-up: closing delays and backlog
# --------------------------------------------------------------------------------------
def closing_delays(
    reports: pd.DataFrame,
    *,
    targets_h: Mapping[str, float],
    by: str = "category",
    category: str = "category",
    as_of: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Closing delays per category (or per building), against a target delay in hours.

    Parameters
    ----------
    reports
        One row per report with ``reported_at``, ``closed_at`` (datetime64; NaT when
        still open), the ``by`` column and the ``category`` column.
    targets_h
        Target closing delay in hours per category (e.g. ``{"ascenseur": 48}``);
        reports of a category without a target are not counted in the share.
    by
        Grouping column (default ``"category"``; e.g. ``"building_id"``).
    category
        Column whose values are looked up in ``targets_h``: each report is held to its
        own category's target, whatever the grouping.
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
        closed reports), ``target_h`` (the group's target when all its reports share
        one, else NaN), ``n_due`` (reports with a target that are due) and
        ``share_closed_within_target`` (closed with a delay ≤ their target, over
        ``n_due``; NaN when nothing is due).
    """
    _require_columns(reports, ["reported_at", "closed_at", by, category])
    reported = naive_datetimes(reports["reported_at"], "reported_at")
    closed = naive_datetimes(reports["closed_at"], "closed_at")
    delay_h = (closed - reported).dt.total_seconds() / 3600.0
    invalid = (delay_h < 0).to_numpy()
    if invalid.any():
        # The report ids when given (what the analyst can look up), else the row labels.
        names = reports["report_id"] if "report_id" in reports else reports.index.to_series()
        logger.warning(
            "Délais : %d signalement(s) clos avant d'être signalés, exclus des délais "
            "(premiers : %s)",
            int(invalid.sum()),
            ", ".join(str(v) for v in names[invalid][:5]),
        )
    delay_h = delay_h.mask(invalid)
    target = reports[category].map(lambda c: targets_h.get(c, np.nan)).astype(float)
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
        }
    )
    # One target per group when every report of the group has the same (a category);
    # a building mixing categories has none of its own.
    single = grouped["target_h"].nunique(dropna=False) == 1
    out["target_h"] = grouped["target_h"].first().where(single)
    n_due = grouped["due"].sum().astype(np.int64)
    out["n_due"] = n_due
    with np.errstate(divide="ignore", invalid="ignore"):
        out["share_closed_within_target"] = grouped["within"].sum() / n_due.where(n_due > 0)
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
    reported = naive_datetimes(reports["reported_at"], "reported_at").to_numpy()
    closed = naive_datetimes(reports["closed_at"], "closed_at").to_numpy()
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
