"""Frozen past periods: what was published for a closed period stays as it was.

Two successive packs could otherwise be subtracted to reveal a hidden cell (a report
added late to a past month changes its cells and the secondary suppression around
them). The ledger keeps, per site and profile, the published rows of the monthly table
and of the site's series (the category chart's) for every closed period (all periods
but the last one of the data, which may still be filling up), with the level of the
table (``public`` coarsens; the level is frozen with the rows); its ``table`` column
says which table a row belongs to (:data:`TABLES`; a ledger without it, written
before the series was its own table, holds the monthly table only). It lives outside
``processed_dir`` (``[publication] ledger_dir``, default ``<annotations_dir>/.ledger/``,
gitignored with the planners' notes): ``make clean`` must not make Vigie forget what it
published.

Freezing the rows is not enough: a *late* report (one that reaches the export after
its period was published, dated inside it) would still change every figure that adds
up the whole time (a building's total, its category totals, a zone, the site), and
the difference between two packs, less the new period's shown cells, would give it
back, building and category. So the ledger also keeps the reports counted in each
closed period (``table`` « counted »: ``report_id`` and ``month``, the period), and a
report of a closed period it does not list is counted in no protected figure
(:func:`late_reports`): the pack says how many (``late_reports_left_out``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from pipelines.io import atomic_path

log = logging.getLogger(__name__)

#: The tables the ledger freezes, as its ``table`` column names them, and the reports
#: counted in the closed periods (``counted``).
TABLES = ("monthly", "category_series", "counted")


def ledger_path(ledger_dir: str | Path, site_id: str, profile: str) -> Path:
    """The ledger file of a site and a profile."""
    return Path(ledger_dir) / site_id / f"{profile}_monthly.parquet"


def read_ledger(path: Path) -> pd.DataFrame | None:
    """The ledger at ``path``; ``None`` when nothing was published yet."""
    return pd.read_parquet(path) if path.exists() else None


def write_ledger(ledger: pd.DataFrame, path: Path) -> None:
    """Write the ledger (atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        ledger.to_parquet(tmp, index=False)
    log.info("wrote %s (%d rows)", path, len(ledger))


def freeze(
    monthly: pd.DataFrame, ledger: pd.DataFrame | None
) -> tuple[pd.DataFrame, pd.DataFrame, set[str]]:
    """The monthly table with the periods of ``ledger`` as they were published.

    Parameters
    ----------
    monthly
        The protected monthly table (``month`` holds its period, ``level`` its level).
    ledger
        The rows published before for closed periods, or ``None``.

    Returns
    -------
    tuple
        The monthly table (a ``frozen`` column says which rows come from the ledger),
        the new ledger (old rows, plus the rows of the periods now closed: every period
        of ``monthly`` but its last), and the frozen periods.
    """
    frozen_periods: set[str] = set()
    if ledger is not None and not ledger.empty:
        frozen_periods = set(ledger["month"].astype(str))
    fresh = monthly[~monthly["month"].astype(str).isin(frozen_periods)].assign(frozen=False)
    old = (
        ledger.assign(frozen=True)
        if ledger is not None and not ledger.empty
        else fresh.iloc[0:0].assign(frozen=True)
    )
    out = pd.concat([old[fresh.columns.intersection(old.columns)], fresh], ignore_index=True)
    keys = [c for c in ("month", "building_id", "category") if c in out]
    out = out.sort_values(keys, na_position="first", kind="stable")
    out = out.reset_index(drop=True)
    periods = sorted(set(out["month"].astype(str)))
    closed = set(periods[:-1])
    new_rows = fresh[fresh["month"].astype(str).isin(closed)].drop(columns="frozen")
    base = ledger if ledger is not None else new_rows.iloc[0:0]
    new_ledger = pd.concat([base, new_rows], ignore_index=True)
    return out, new_ledger, frozen_periods


def ledger_part(ledger: pd.DataFrame | None, table: str) -> pd.DataFrame | None:
    """The rows of one of :data:`TABLES` in ``ledger`` (without the ``table`` column);
    ``None`` when it has none."""
    if ledger is None:
        return None
    kind = ledger["table"] if "table" in ledger else pd.Series(TABLES[0], index=ledger.index)
    rows = ledger[kind.fillna(TABLES[0]) == table].drop(columns="table", errors="ignore")
    return rows.reset_index(drop=True) if len(rows) else None


def joined(parts: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One ledger from the rows of each of :data:`TABLES` (``table`` column added)."""
    frames = [frame.assign(table=table) for table, frame in parts.items() if len(frame)]
    if not frames:
        return next(iter(parts.values())).assign(table=pd.Series(dtype=object))
    return pd.concat(frames, ignore_index=True)


def ledger_level(ledger: pd.DataFrame | None) -> str | None:
    """The level the ledger's monthly rows were published at (``None`` without any)."""
    rows = ledger_part(ledger, TABLES[0])
    if rows is None or "level" not in rows:
        return None
    return str(rows["level"].iloc[0])


def closed_periods(ledger: pd.DataFrame | None) -> set[str]:
    """The periods the ledger froze (monthly table and site's series)."""
    out: set[str] = set()
    for table in TABLES[:2]:
        rows = ledger_part(ledger, table)
        if rows is not None:
            out |= set(rows["month"].astype(str))
    return out


def late_reports(micro: pd.DataFrame, ledger: pd.DataFrame | None, time: str) -> pd.Series:
    """Which reports of ``micro`` are late: dated in a period the ledger froze (``time``
    is the column of ``micro`` holding that period: ``month``, ``quarter`` or ``year``)
    and not among the reports it counted there.

    A ledger written before it kept the reports counted (no « counted » rows) tells no
    late report apart: none is flagged, the next refresh will.
    """
    counted = ledger_part(ledger, TABLES[2])
    closed = closed_periods(ledger)
    if counted is None or not closed:
        return pd.Series(False, index=micro.index)
    in_closed = micro[time].astype(str).isin(closed)
    known = micro["report_id"].astype(str).isin(set(counted["report_id"].astype(str)))
    return in_closed & ~known


def counted_rows(
    micro: pd.DataFrame, ledger: pd.DataFrame | None, closed: set[str], time: str
) -> pd.DataFrame:
    """The ledger's « counted » rows: those it had, and the reports of ``micro`` (late
    ones already left out) dated in the periods ``closed`` now."""
    old = ledger_part(ledger, TABLES[2])
    new = micro.loc[micro[time].astype(str).isin(closed), ["report_id", time]]
    new = new.rename(columns={time: "month"}).astype({"report_id": str, "month": str})
    if old is None:
        return new.reset_index(drop=True)
    old = old[["report_id", "month"]].astype(str)
    both = pd.concat([old, new[~new["report_id"].isin(set(old["report_id"]))]])
    return both.reset_index(drop=True)
