"""The monthly table of the publication profiles (:mod:`pipelines.publish.protect`): the
coarsening levels ``public`` chooses from (:data:`LEVELS`, :func:`monthly_level`), the
tables the engine protects jointly at that level (:func:`joint_tables`), the published
monthly table (:func:`monthly_of`), the site's series (:func:`series_of`), the fine
cells hidden first so that the series need not hide its own (:func:`series_slack`) and
the sums of monthly cells other tables are derived from (:func:`derived_sums`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from pipelines.config.publication import ProfileRule
from pipelines.publish.cells import FLAG, NO_ZONE, engine_rule, flagged, technical_categories
from pipelines.stats.primary import cell_table

#: Coarsening levels of the public monthly table, finest first: (space, time).
LEVELS: tuple[tuple[str, str], ...] = (
    ("building", "month"),
    ("building", "quarter"),
    ("building", "year"),
    ("zone", "quarter"),
    ("zone", "year"),
    ("site", "quarter"),
    ("site", "year"),
)

#: The French name of each level (the ``level`` column).
LEVEL_FR = {
    "building": "bâtiment",
    "zone": "zone",
    "site": "site",
    "month": "mois",
    "quarter": "trimestre",
    "year": "année",
}

#: The space dimensions of each space level.
SPACE_DIMS = {"building": ("zone", "building_id"), "zone": ("zone",), "site": ()}


def monthly_level(micro: pd.DataFrame, rule: ProfileRule) -> tuple[str, str]:
    """The level of the monthly table: building × month unless the profile coarsens,
    else the finest of :data:`LEVELS` where at most half of the reports sit in cells
    below the threshold (protected cells only)."""
    if not rule.coarsen or micro.empty:
        return LEVELS[0]
    for space, time in LEVELS:
        dims = [*SPACE_DIMS[space], time, "category"]
        g = micro.groupby(dims, dropna=False)
        n = g["household"].size()
        h = g["household"].nunique()
        person = g["person_related"].any()
        protected = person if rule.protect == "person_related" else pd.Series(True, index=n.index)
        below = protected & (h < rule.min_households)
        if n[below].sum() <= 0.5 * n.sum():
            return space, time
    return LEVELS[-1]


def level_of(text: str | None) -> tuple[str, str] | None:
    for level in LEVELS:
        if text == f"{LEVEL_FR[level[0]]} × {LEVEL_FR[level[1]]}":
            return level
    return None


def joint_tables(level: tuple[str, str]) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """The published tables, in two groups the engine protects one after the other.

    The building group: the zones, buildings (within their zone), building × category
    (the building profile) and the monthly table when by building or by zone. A zone is
    the sum of its buildings: protected apart, its total (or its zone × period ×
    category cells) minus the shown building figures gave a hidden building cell back,
    so zones and buildings are protected together; the engine's linear programs split
    zone by zone (and building by building outside every zone). The
    building × period series (the charts' top buildings) and the before/after counts are
    sums of monthly cells: they are published only where every cell they add up is
    shown (:func:`derived_sums`), which tells a reader nothing the monthly table does
    not, and costs the engine nothing (with them, its programs on Bondy did not end in
    five minutes).

    The site group: the site total, the monthly table when ``public`` coarsens it to
    the site, and the site's series (the charts' category series
    at the time of ``level``: period × category, the period's totals and the
    categories' totals, which the method note shows). It is protected *around* the
    building group, whose cells stay as they are (``given`` of
    :func:`pipelines.stats.disclosure.protect`): the engine's programs then hold what
    links the groups (a zone's total and its buildings, a period × category and the
    building cells it adds up), and hide more site cells where a link would give a
    building cell back. One joint call, reopening every building, ties them all into
    one program: over ten minutes on Bondy. The whole is audited at once
    (:func:`~pipelines.publish.margins.audited`).
    """
    space, time = level
    local: list[tuple[str, ...]] = [
        ("zone",),
        ("zone", "building_id"),
        ("zone", "building_id", "category"),
    ]
    site: list[tuple[str, ...]] = [()]
    if space in ("building", "zone"):
        local.append((*SPACE_DIMS[space], time, "category"))
    else:
        site.append((*SPACE_DIMS[space], time, "category"))
    site += [(time, "category"), (time,), ("category",)]
    return list(dict.fromkeys(local)), list(dict.fromkeys(site))


def monthly_of(
    cells: Mapping[tuple[str, ...], pd.DataFrame], level: tuple[str, str]
) -> pd.DataFrame:
    """The published monthly table at ``level`` from the engine's tables: columns
    ``building_id`` (null above the building level), ``zone_id`` (null at the site
    level or outside every zone), ``month`` (the period: ``YYYY-MM``, ``YYYY-Tn`` or
    ``YYYY``), ``category``, ``n_reports``, ``n_households`` (each with its ``_flag``),
    ``reason`` (why hidden: primary, dominance, secondary) and ``level``."""
    space, time = level
    t = cells[(*SPACE_DIMS[space], time, "category")]
    n = len(t)
    out = pd.DataFrame(
        {
            "building_id": t["building_id"].astype(str) if "building_id" in t else [None] * n,
            "zone_id": (t["zone"].where(t["zone"] != NO_ZONE) if "zone" in t else [None] * n),
            "month": t[time].astype(str),
            "category": t["category"].astype(str),
        },
        index=t.index,
    )
    hidden = t["flag"] == FLAG
    out["n_reports"], out["n_reports_flag"] = flagged(t["n_reports"], hidden)
    out["n_households"], out["n_households_flag"] = flagged(t["n_households"], hidden)
    out["reason"] = t["reason"].astype(str).to_numpy()
    out["level"] = f"{LEVEL_FR[space]} × {LEVEL_FR[time]}"
    out = out.sort_values(["month", "building_id", "category"], na_position="first")
    return out.reset_index(drop=True)


def series_of(
    cells: Mapping[tuple[str, ...], pd.DataFrame], level: tuple[str, str]
) -> pd.DataFrame:
    """The site's series at the time of ``level`` from the engine's tables: one row per
    period (``month``: ``YYYY-MM``, ``YYYY-Tn`` or ``YYYY``) and ``category``, and one
    per period with a null ``category`` (the period's total), with ``n_reports``,
    ``n_households`` (each with its ``_flag``), ``reason`` and ``level``
    (« site × mois »…). Zero cells are absent, as in every engine table."""
    time = level[1]
    by_category = cells[(time, "category")]
    total = cells[(time,)].assign(category=None)
    t = pd.concat([by_category, total], ignore_index=True)
    out = pd.DataFrame({"month": t[time].astype(str), "category": t["category"].astype(object)})
    hidden = t["flag"] == FLAG
    out["n_reports"], out["n_reports_flag"] = flagged(t["n_reports"], hidden)
    out["n_households"], out["n_households_flag"] = flagged(t["n_households"], hidden)
    out["reason"] = t["reason"].astype(str).to_numpy()
    out["level"] = f"{LEVEL_FR['site']} × {LEVEL_FR[time]}"
    out = out.sort_values(["month", "category"], na_position="first", kind="stable")
    return out.reset_index(drop=True)


def derived_sums(
    monthly: pd.DataFrame, keys: Sequence[str], *, month_of: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Sums of published monthly cells by ``keys``: ``n_reports`` where every cell of the
    group is shown, null with ``n_reports_flag`` « s » where one is hidden (a sum of
    shown cells tells nothing new; a sum over a hidden one would give it back).
    ``month_of`` maps ``month`` to another key column (``window``) first; months it
    does not map are left out."""
    m = monthly
    if month_of is not None:
        m = m.assign(window=m["month"].astype(str).map(month_of)).dropna(subset=["window"])
    hidden = (m["n_reports_flag"] == FLAG).groupby([m[k] for k in keys]).any()
    total = m["n_reports"].astype("Float64").fillna(0).groupby([m[k] for k in keys]).sum()
    out = total.rename("n_reports").to_frame()
    out["n_reports"] = out["n_reports"].where(~hidden).round().astype("Int64")
    out["n_reports_flag"] = np.where(hidden, FLAG, "")
    return out.reset_index()


def series_slack(
    micro: pd.DataFrame, table: tuple[str, ...], rule: ProfileRule, time: str
) -> pd.DataFrame:
    """The building group's fine table (``table``: space × ``time`` × category) as a
    ``given`` frame of :func:`pipelines.stats.disclosure.protect`, with the cells to hide
    beside its primary ones (flag « s », left free: ``locked`` false) so that the site's
    series, published after it, need not hide its own cells.

    The site's period × category cell is the sum of the fine cells under it: shown, it
    gives the sum of those hidden, each at least 1, so a hidden sensitive one is pinned
    within the sum less the others' count. Where that slack is under the protection
    width, the site group had to hide the period × category cell (the fine group is
    locked by then): on Bondy's committee pack, 233 of the 243 hidden cells of the
    category series. So, per period × category holding a hidden sensitive cell with too
    little slack, the fine cells of most reports (two or more, a 1 adds no slack) are
    hidden first, the fewest that give the width, when there are enough; only cells
    whose building × category (the table less its period) already has a hidden period,
    since the profile's cell would otherwise give the new one back and be hidden in turn
    (a building's only month of squats, shown from four households, stays shown). On
    Bondy's committee pack: 129 series cells hidden, the building profile 349 (413), for
    135 more of the 5 065 monthly cells."""
    engine = engine_rule(rule, technical_categories(micro))
    cells = cell_table(micro, [table], engine)
    hidden = (cells["reason"] != "").to_numpy()
    target = hidden & cells["sensitive"].to_numpy(dtype=bool)
    slack = cells["n_reports"].to_numpy(dtype=float) - 1.0
    # a cell whose other periods are all shown is left: hidden, its building ×
    # category total (the profile's cell) would give it back, and be hidden in turn
    row = [d for d in table if d != time]
    accompanied = pd.Series(hidden).groupby([cells[d] for d in row]).transform("any").to_numpy()
    extra = np.zeros(len(cells), dtype=bool)
    for at in cells.groupby([time, "category"], sort=True).indices.values():
        rows = np.asarray(at, dtype=np.int64)
        deficit = engine.width - slack[rows][hidden[rows]].sum()
        if not target[rows].any() or deficit <= 0:
            continue
        free = rows[~hidden[rows] & (slack[rows] > 0) & accompanied[rows]]
        free = free[np.argsort(-slack[free], kind="stable")]
        enough = np.cumsum(slack[free]) >= deficit
        if enough.any():
            extra[free[: int(np.argmax(enough)) + 1]] = True
    out = cells[list(table)].copy()
    out["flag"] = np.where(extra, FLAG, "")
    out["locked"] = False
    return out.reset_index(drop=True)
