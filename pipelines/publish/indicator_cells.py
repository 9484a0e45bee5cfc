"""Which columns of the indicator tables are cells, and how a hidden one is written:
the figures drawn from a (quarter, category) cell's reports (:data:`CELL_COLUMNS`), from
its reports on RPLS buildings, from the quarter's lift reports, the counts the engine
does not protect (:data:`UNPROTECTED_COLUMNS`), and :func:`hide`, which blanks them and
sets their flag « s ». :mod:`pipelines.publish.indicators` and
:mod:`pipelines.publish.consistency` hide with them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.indicators import (
    LIFT,
)
from pipelines.publish.cells import FLAG

#: Figures drawn from a cell's reports, hidden with it (category table).
CELL_COLUMNS = (
    "n_reports", "n_households", "reports_per_building", "n_closed", "median_delay_h",
    "p90_delay_h", "share_past_target", "backlog_open_end",
)  # fmt: skip


#: The counts of the share past the target (:func:`pipelines.publish.indicators.rounded`),
#: never published: the engine does not protect them.
NOT_PUBLISHED = ("n_due", "n_past_target")


#: Figures drawn from the cell's reports on RPLS buildings.
RPLS_COLUMNS = (
    "n_reports_rpls", "n_households_rpls", "reports_per_100_dwellings",
    "households_per_100_dwellings",
)  # fmt: skip


#: Figures of the site table drawn from the quarter's reports.
SITE_CELL_COLUMNS = ("n_reports", "n_households", "reports_per_building")


#: Figures of the site table drawn from the quarter's lift reports.
LIFT_COLUMNS = ("lift_breakdowns", "lift_breakdowns_per_building_month", "lift_repeats_30d")


#: The lifts' days out of service: drawn from the lift reports of the quarters named in
#: ``lift_days_quarters`` (a breakdown may start before the quarter), hidden with any of
#: their lift cells (``lift_days_flag``).
LIFT_DAYS = "lift_days_out_of_service"


#: The quarters :data:`LIFT_DAYS` draws on, hidden with it: a quarter named there holds
#: a closed lift report, which the quarter's hidden lift figures do not say (Bondy's
#: open-data pack, 2024-T2: « 2024-T1;2024-T2 » beside its lift counts hidden).
LIFT_DAYS_QUARTERS = "lift_days_quarters"


#: Counts the engine does not protect (the site table's; the category table has its
#: ``backlog_open_end``, reports of earlier quarters still open): hidden in both tables,
#: ``other_flag`` « s », when every cell is sensitive. The lift-equipped buildings are
#: those with a lift report over the whole export: a count of reports' buildings too.
UNPROTECTED_COLUMNS = (
    "n_lift_buildings", "lift_breakdowns", "lift_breakdowns_per_building_month",
    "lift_repeats_30d", LIFT_DAYS, LIFT_DAYS_QUARTERS, "n_buildings_recurrent",
    "recurrence_median_months", "backlog_open_end",
)  # fmt: skip


def hidden_keys(table: pd.DataFrame, keys: list[str]) -> set[tuple[str, ...]]:
    rows = table[table["flag"] == FLAG]
    return {tuple(str(v) for v in r) for r in rows[keys].itertuples(index=False)}


def hide(
    frame: pd.DataFrame, columns: tuple[str, ...], hidden: pd.Series, flag: str
) -> pd.DataFrame:
    out = frame.copy()
    for c in columns:
        if c in out:
            # a text column (the quarters the lift days draw on) is hidden as text
            column = out[c] if c == LIFT_DAYS_QUARTERS else out[c].astype("Float64")
            out[c] = column.mask(hidden.to_numpy())
    out[flag] = np.where(hidden.to_numpy(), FLAG, "")
    return out


def hide_lift_days(site: pd.DataFrame, hidden_cells: set[tuple[str, ...]]) -> pd.DataFrame:
    """``site`` with :data:`LIFT_DAYS` and the quarters it draws on
    (:data:`LIFT_DAYS_QUARTERS`) hidden (``lift_days_flag`` « s ») where the quarter's
    lift figures are, or where any quarter it draws on has its lift cell in
    ``hidden_cells`` (quarter, category): shown, the days of a hidden cell's
    breakdowns would leak through the next quarter's figure."""
    hidden_q = {cell[0] for cell in hidden_cells if cell[1] == LIFT}
    if LIFT_DAYS_QUARTERS in site:
        drawn = site[LIFT_DAYS_QUARTERS].fillna("").astype(str).str.split(";")
    else:
        drawn = pd.Series([[] for _ in range(len(site))], index=site.index)
    hidden = drawn.map(lambda qs: bool(hidden_q & set(qs))) | (site["lift_flag"] == FLAG)
    if "lift_days_flag" in site:
        hidden = hidden | (site["lift_days_flag"] == FLAG)
    return hide(site, (LIFT_DAYS, LIFT_DAYS_QUARTERS), hidden, "lift_days_flag")
