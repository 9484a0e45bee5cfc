"""Period series of reports: counts per period with empty periods as zeros
(:func:`monthly_counts`), closing delays against target delays (:func:`closing_delays`)
and the backlog of open reports at the end of each period (:func:`open_backlog`).

Pure functions, no I/O; times are pandas datetimes. The tests on these series
(Mann-Kendall, Sen's slope) live in :mod:`pipelines.stats.trend`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)


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
    # A lookup table, not a Python function called per report (for speed only: on a
    # 25,000-report site, 0.019 → 0.016 s of CPU per table).
    target = reports[category].map(dict(targets_h)).astype(float)
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
