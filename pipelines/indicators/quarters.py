"""Quarters as the indicators and the publication label them (``YYYY-Tn``): of a
datetime (:func:`quarter_of`), of a run of months (:func:`quarters_of`), and a quarter's
months (:func:`quarter_months`).
"""

from __future__ import annotations

import pandas as pd


def quarter_of(when: pd.Series) -> pd.Series:
    """``YYYY-Tn`` of each datetime (the publication's label of a quarter)."""
    return when.dt.year.astype(str) + "-T" + when.dt.quarter.astype(str)


def quarters_of(months: pd.PeriodIndex) -> list[str]:
    """The quarters covered by ``months``, in order."""
    return list(dict.fromkeys(f"{m.year}-T{m.quarter}" for m in months))


def quarter_months(quarter: str) -> pd.PeriodIndex:
    """The three months of a ``YYYY-Tn`` quarter."""
    year, q = quarter.split("-T")
    first = pd.Period(year=int(year), month=3 * int(q) - 2, freq="M")
    return pd.period_range(first, periods=3, freq="M")
