"""Follow-up of reports: closing delays against targets and the backlog, for the trends
stage (private). Pure functions; :mod:`pipelines.trends.stage` re-exports them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date

import pandas as pd

from pipelines.stats import closing_delays, naive_datetimes, open_backlog
from pipelines.taxonomy import label_of

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------
# Follow-up
# --------------------------------------------------------------------------------------
def has_closure_dates(reports: pd.DataFrame) -> bool:
    """True when the reports carry at least one closure date."""
    return "closed_at" in reports and bool(reports["closed_at"].notna().any())


def extraction_date(reports: pd.DataFrame) -> pd.Timestamp:
    """The latest report or closure time: a lower bound of the date of the export."""
    times = [naive_datetimes(reports["reported_at"], "reported_at").max()]
    if "closed_at" in reports:
        times.append(naive_datetimes(reports["closed_at"], "closed_at").max())
    return max(t for t in times if pd.notna(t))


def dated_followup(
    reports: pd.DataFrame, *, targets_h: Mapping[str, float], as_of: date | None
) -> tuple[pd.DataFrame | None, pd.Timestamp | None]:
    """The follow-up of ``reports`` (:func:`followup_table`) and the date it is counted
    at: ``as_of`` (the configured date of the export), else their latest report or
    closure time (:func:`extraction_date`); ``(None, None)`` without closure dates."""
    if not has_closure_dates(reports):
        return None, None
    when = pd.Timestamp(as_of) if as_of else extraction_date(reports)
    return followup_table(reports, targets_h=targets_h, as_of=when), when


def followup_table(
    reports: pd.DataFrame,
    *,
    targets_h: Mapping[str, float],
    as_of: pd.Timestamp,
) -> pd.DataFrame:
    """Closing delays per category and per building, against the target delays.

    Parameters
    ----------
    reports
        Reports that count, with ``category``, ``building_id``, ``reported_at`` and
        ``closed_at`` (NaT while open).
    targets_h
        Target delay in hours per category code.
    as_of
        Date of the export: a report still open and younger than its target is not due.

    Returns
    -------
    pandas.DataFrame
        Rows for ``level`` "category" then "building" (``key``, ``label_fr``): ``n_reports``,
        ``n_closed``, ``n_open``, ``n_invalid_delay``, ``median_delay_h``,
        ``p90_delay_h``, ``target_h``, ``n_due`` and ``share_closed_within_target``.
    """
    parts = []
    placed = reports[reports["building_id"].notna()]
    for level, frame, by in (
        ("category", reports, "category"),
        ("building", placed, "building_id"),
    ):
        if frame.empty:
            continue
        table = closing_delays(frame, targets_h=targets_h, by=by, as_of=as_of)
        table = table.rename(columns={"n": "n_reports"})
        table.insert(2, "n_open", table["n_reports"] - table["n_closed"])
        table.index = table.index.astype(str)
        table = table.rename_axis("key").reset_index()
        table.insert(0, "level", level)
        labels = table["key"].map(lambda c: label_of(c, ""))
        table.insert(2, "label_fr", labels if level == "category" else "")
        parts.append(table)
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts, ignore_index=True)
    for col in ("median_delay_h", "p90_delay_h", "share_closed_within_target"):
        out[col] = out[col].astype(float).round(3)
    return out


def backlog_table(reports: pd.DataFrame, periods: pd.PeriodIndex, *, site_key: str) -> pd.DataFrame:
    """Reports still open at the end of each period, for the site and per category.

    Returns
    -------
    pandas.DataFrame
        ``level`` ("site"/"category"), ``key``, ``period_start`` (ISO date),
        ``period_end`` (last instant) and ``n_open``.
    """
    site = open_backlog(reports, periods)
    site.insert(0, "key", site_key)
    site.insert(0, "level", "site")
    cats = open_backlog(reports, periods, by=["category"]).rename(columns={"category": "key"})
    cats.insert(0, "level", "category")
    return pd.concat([site, cats], ignore_index=True)
