"""The key figures of the committee pack (issue 17): the site's reports since the last
committee and over the same number of months just before it, by category group, as a
published table of its own (``key_figures.parquet``).

Summed from the monthly series by the pack, these figures were « s » as soon as one month
of one category was hidden. Here they are cells of their own, at window level
(site × category group × window), counted from the report microdata and protected with
the site's other tables (:func:`pipelines.publish.levels.joint_tables`: the links to the
monthly series and the categories' totals are in the engine's programs, and in the
audit of every table as published): coarse enough to show most of them, hidden only
where the profile's rule requires it.

The windows are whole months (:func:`key_window`): from the month of the last committee
(``site.json``'s ``actions.last_committee_date``) to the end of the data, and as many
months just before; without a committee, the last :data:`FALLBACK_MONTHS` months.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from pipelines.publish.cells import FLAG, flagged
from pipelines.published import KEY_AFTER, KEY_BEFORE, KEY_OTHER
from pipelines.taxonomy import BY_CODE

#: Without a committee date, the key figures cover the last months.
FALLBACK_MONTHS = 3
#: The tables the engine protects with the site's: window × category group, and window.
KEY_TABLES: tuple[tuple[str, ...], ...] = (("window", "group"), ("window",))
#: Columns of ``key_figures.parquet``.
COLUMNS = (
    "window",
    "group",
    "n_reports",
    "n_reports_flag",
    "n_households",
    "n_households_flag",
    "reason",
)


@dataclass(frozen=True)
class KeyWindow:
    """The months of the key figures (``YYYY-MM``, oldest first).

    Attributes
    ----------
    after
        From the month of the last committee (included) to the last month of the data;
        empty when the committee met after the data end.
    before
        As many months just before ``after`` (fewer at the start of the data).
    committee
        The last committee's date (ISO), or ``None`` (the last months instead).
    fallback_months
        How many months ``after`` covers without a committee.
    """

    after: tuple[str, ...]
    before: tuple[str, ...]
    committee: str | None
    fallback_months: int = FALLBACK_MONTHS

    def of_months(self, months: pd.Series) -> pd.Series:
        """The window of each month: :data:`~pipelines.published.KEY_AFTER`,
        ``KEY_BEFORE`` or ``KEY_OTHER``."""
        which = {**dict.fromkeys(self.before, KEY_BEFORE), **dict.fromkeys(self.after, KEY_AFTER)}
        return months.astype(str).map(which).fillna(KEY_OTHER).astype(str)

    def as_dict(self) -> dict[str, Any]:
        """What ``site.json`` keeps (``key_window``), for the pack's labels."""
        return {
            "after": list(self.after),
            "before": list(self.before),
            "committee": self.committee,
            "fallback_months": self.fallback_months,
        }


def key_window(
    months: Sequence[str], *, last_committee: object, fallback_months: int = FALLBACK_MONTHS
) -> KeyWindow | None:
    """The key figures' months over the data's months (``YYYY-MM``; the range from the
    first to the last is taken whole, empty months included).

    ``None`` without any month. With a committee: from its month to the end of the data
    (every month when it met before the data start, none when after the data end).
    Without: the last ``fallback_months`` months.
    """
    known = sorted({str(m) for m in months if pd.notna(m)})
    if not known:
        return None
    span = [str(p) for p in pd.period_range(known[0], known[-1], freq="M")]
    stamp = pd.to_datetime(str(last_committee), errors="coerce") if last_committee else pd.NaT
    if pd.isna(stamp):
        after = span[-fallback_months:]
        committee = None
    else:
        month = str(pd.Timestamp(stamp).to_period("M"))
        after = [m for m in span if m >= month]
        committee = pd.Timestamp(stamp).date().isoformat()
    k = span.index(after[0]) if after else len(span)
    before = span[max(0, k - len(after)) : k] if after else []
    return KeyWindow(tuple(after), tuple(before), committee, fallback_months)


def last_committee_of(site: Mapping[str, Any]) -> object:
    """The last committee's date of ``site.json`` (``actions.last_committee_date``)."""
    block = site.get("actions")
    return block.get("last_committee_date") if isinstance(block, Mapping) else None


def with_windows(micro: pd.DataFrame, window: KeyWindow) -> pd.DataFrame:
    """The microdata with the dimensions of :data:`KEY_TABLES`: ``window`` (of the report's
    month) and ``group`` (its category's group, in French: parties communes…)."""
    group = micro["category"].map(lambda c: BY_CODE[c].group if c in BY_CODE else "Autre")
    return micro.assign(window=window.of_months(micro["month"]), group=group.astype(str))


def key_table(cells: Mapping[tuple[str, ...], pd.DataFrame]) -> pd.DataFrame:
    """``key_figures.parquet`` from the engine's tables (:data:`KEY_TABLES`): one row per
    window and group, and one per window with a null ``group`` (the window's total over
    the site), with ``n_reports``, ``n_households`` (each with its ``_flag``: « s »
    hidden) and ``reason``. Zero cells are absent, as in every engine table."""
    by_group = cells[KEY_TABLES[0]]
    total = cells[KEY_TABLES[1]].assign(group=None)
    t = pd.concat([by_group, total], ignore_index=True)
    out = pd.DataFrame({"window": t["window"].astype(str), "group": t["group"].astype(object)})
    hidden = t["flag"] == FLAG
    out["n_reports"], out["n_reports_flag"] = flagged(t["n_reports"], hidden)
    out["n_households"], out["n_households_flag"] = flagged(t["n_households"], hidden)
    out["reason"] = t["reason"].astype(str).to_numpy()
    out = out.sort_values(["window", "group"], na_position="first", kind="stable")
    return out.reset_index(drop=True)[list(COLUMNS)]


def exact_key_table(micro: pd.DataFrame) -> pd.DataFrame:
    """``key_figures.parquet`` with every count exact (profile ``interne``), from the
    microdata of :func:`with_windows`."""
    cells: dict[tuple[str, ...], pd.DataFrame] = {}
    for dims in KEY_TABLES:
        g = micro.groupby(list(dims), sort=True)
        frame = g.agg(
            n_reports=("household", "size"), n_households=("household", "nunique")
        ).reset_index()
        cells[dims] = frame.assign(flag="", reason="")
    return key_table(cells)


__all__ = [
    "KEY_TABLES",
    "KeyWindow",
    "exact_key_table",
    "key_table",
    "key_window",
    "with_windows",
]
