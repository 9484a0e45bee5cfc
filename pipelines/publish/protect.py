"""Statistical disclosure control of the published tables: a publication profile
(``interne``, ``comite``, ``public``, :mod:`pipelines.config.publication`) applied to
what :func:`pipelines.publish.build.publish_site` assembled (issue 16).

The counting is redone here from the report microdata (one row per counted report:
building, zone, category, month, household), then protected by the engine of
:mod:`pipelines.stats.disclosure` (primary, dominance and secondary suppression over
every published table and the margins between them), and written back into the
published tables with one convention every renderer obeys: for a count column
``n_…``, a hidden value is null and the companion text column ``n_…_flag`` is ``"s"``
(``""`` when shown). What is drawn from fewer households than the profile's threshold
is not shown as such either: a hot building (``gi_bin``), an emerging category, a
chronic problem (``gi_bin_flag``, ``emerging_category_flag``; chronic rows dropped).

Choices (said in the method note):

- The tables are protected jointly, as one hierarchy: site, category, zone, building
  within its zone, building × category, month, month × category, building × month,
  building × month × category; the before/after counts form a second one (window ×
  building).
- ``public`` coarsens before hiding: the monthly table is published at the finest level
  of :data:`LEVELS` where at most half of the reports sit in cells below the threshold
  (global recoding: one level per table, so that no two published cells overlap and
  cannot be subtracted), with a ``level`` column; a building below the threshold is
  counted in its zone, then in the site (``level`` of the building profile). Zones stand
  for the 50 m hexagons; a building outside every zone goes to the site.
- Report points: ``interne`` all; ``comite`` drops the points of a person-related
  category whose building × category cell is hidden (they stay counted, protected, in
  the building's figures); ``public`` none, nor density contours, nor planners' notes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config.publication import ProfileRule
from pipelines.publish.ledger import freeze, ledger_level
from pipelines.published import Published
from pipelines.reports import counted as is_counted
from pipelines.reports import naive_dates
from pipelines.stats import disclosure
from pipelines.taxonomy import CODES
from pipelines.trends import Window

#: The marker of a hidden value in a ``_flag`` column.
FLAG = "s"
#: The zone of a building outside every zone (its reports count in the site only).
NO_ZONE = "—"
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


@dataclass(frozen=True)
class Protection:
    """What :func:`apply_profile` returns: the protected tables, the audit of every
    published table, and per table the count of cells, hidden and coarsened ones."""

    published: Published
    audit: dict[str, Any]
    cells: dict[str, dict[str, Any]]


# ----------------------------------------------------------------------------- microdata
def households(reports: pd.DataFrame) -> pd.Series:
    """The household of each report: ``household_key`` (ingestion's keyed hash) when
    the column exists and is filled, else the report itself (its ``report_id`` or row)."""
    own = (
        reports["report_id"].astype(str)
        if "report_id" in reports
        else pd.Series(reports.index.astype(str), index=reports.index)
    )
    own = "r:" + own
    if "household_key" in reports:
        key = reports["household_key"].astype("string")
        return key.where(key.notna() & (key != ""), own).astype(str)
    return own


def microdata(
    reports: pd.DataFrame,
    *,
    zone_of: Mapping[str, str],
    person_related: frozenset[str] | set[str],
) -> pd.DataFrame:
    """One row per counted report on a building (:func:`pipelines.reports.counted`):
    ``building_id``, ``zone`` (:data:`NO_ZONE` outside every zone), ``category``,
    ``month`` (``YYYY-MM``), ``quarter`` (``YYYY-Tn``), ``year``, ``household``,
    ``person_related`` and ``reported_at`` (naive)."""
    counted = reports[is_counted(reports, on_building=True)]
    when = naive_dates(counted["reported_at"])
    counted, when = counted[when.notna()], when[when.notna()]
    category = counted["category"].astype(str)
    category = category.where(category.isin(CODES), "autre")
    ids = counted["building_id"].astype(str)
    period = when.dt.to_period("M")
    person = counted.get("person_related")
    is_person = category.isin(person_related)
    if person is not None:
        is_person = is_person | person.fillna(False).astype(bool)
    return pd.DataFrame(
        {
            "building_id": ids.to_numpy(),
            "zone": ids.map(lambda b: zone_of.get(b) or NO_ZONE).to_numpy(),
            "category": category.to_numpy(),
            "month": period.astype(str).to_numpy(),
            "quarter": (when.dt.year.astype(str) + "-T" + when.dt.quarter.astype(str)).to_numpy(),
            "year": when.dt.year.astype(str).to_numpy(),
            "household": households(counted).to_numpy(),
            "person_related": is_person.to_numpy(),
            "reported_at": when.to_numpy(),
        }
    )


# ----------------------------------------------------------------------------- engine
def engine_rule(rule: ProfileRule) -> disclosure.DisclosureRule:
    """The engine's rule for a profile (:class:`pipelines.stats.disclosure.DisclosureRule`):
    its threshold, dominance share and rounding; every cell sensitive when the profile
    protects all cells (``public``), else only those holding a person-related report."""
    return disclosure.DisclosureRule(
        min_households=rule.min_households,
        dominance_share=rule.dominance_share,
        all_sensitive=rule.protect == "all",
        round_base=rule.round_base,
    )


def protect_tables(
    micro: pd.DataFrame, tables: Sequence[tuple[str, ...]], rule: ProfileRule
) -> tuple[dict[tuple[str, ...], pd.DataFrame], dict[str, Any]]:
    """The engine on ``tables`` (tuples of columns of ``micro``): each table with its
    dimensions, ``n_reports``, ``n_households`` (null when hidden), ``flag`` and
    ``reason``; and the engine's audit (linear programming over every table at once)."""
    result = disclosure.protect(micro, list(tables), rule=engine_rule(rule))
    out = {tuple(d): t for d, t in result.tables.items()}
    return out, dict(result.audit)


# ----------------------------------------------------------------------------- tables
#: The tables of the building hierarchy, by name.
BUILDING_TABLES: dict[str, tuple[str, ...]] = {
    "site": (),
    "zone": ("zone",),
    "building": ("zone", "building_id"),
    "building_category": ("zone", "building_id", "category"),
}


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


def _flagged(values: pd.Series, hidden: pd.Series) -> tuple[pd.Series, pd.Series]:
    shown = ~hidden.fillna(False).astype(bool)
    out = pd.to_numeric(values, errors="coerce").astype("Float64").where(shown)
    return out.round().astype("Int64"), pd.Series(np.where(shown, "", FLAG), index=values.index)


def _count_cells(
    name: str, table: pd.DataFrame, *, level: str, coarsened: int = 0
) -> dict[str, Any]:
    hidden = int((table["flag"] == FLAG).sum()) if "flag" in table else 0
    n = len(table)
    return {
        "table": name,
        "cells": n,
        "hidden": hidden,
        "hidden_share": round(hidden / n, 4) if n else 0.0,
        "coarsened": coarsened,
        "coarsened_share": round(coarsened / n, 4) if n else 0.0,
        "level": level,
    }


def protect_profile(
    profile: pd.DataFrame,
    cells: Mapping[tuple[str, ...], pd.DataFrame],
    *,
    rule: ProfileRule,
    micro: pd.DataFrame,
) -> pd.DataFrame:
    """The building profile with its counts protected: ``n_reports`` and ``n_<category>``
    from the engine's tables, each with its ``_flag``; ``reports_per_100_dwellings``,
    ``open_backlog`` and ``median_delay_h`` null where ``n_reports`` is hidden;
    ``gi_bin`` and ``emerging_category`` null (``_flag`` "s") where the building's
    reports come from fewer households than the threshold; ``level``: where a hidden
    building's reports are counted (``bâtiment``, ``zone`` or ``site``)."""
    out = profile.copy()
    ids = out["building_id"].astype(str)
    b = cells[BUILDING_TABLES["building"]].assign(
        building_id=lambda t: t["building_id"].astype(str)
    )
    b = b.set_index("building_id")
    hidden_b = ids.map(b["flag"] == FLAG).fillna(False).astype(bool)
    shown_n = ids.map(b["n_reports"])
    zero = ~ids.isin(b.index)
    n = shown_n.astype("Float64").where(~zero, 0.0)
    out["n_reports"], out["n_reports_flag"] = _flagged(n, hidden_b)
    if "n_households" in out:  # the engine's, rounded like the reports where they are
        h = ids.map(b["n_households"]).astype("Float64").where(~zero, 0.0)
        out["n_households"], out["n_households_flag"] = _flagged(h, hidden_b)
    bc = cells[BUILDING_TABLES["building_category"]]
    bc = bc.assign(building_id=bc["building_id"].astype(str)).set_index(["building_id", "category"])
    for code in CODES:
        col = f"n_{code}"
        if col not in out:
            continue
        key = pd.MultiIndex.from_arrays([ids, pd.Series(code, index=ids.index)])
        flag = pd.Series(bc["flag"].reindex(key).to_numpy(), index=out.index)
        value = pd.Series(bc["n_reports"].reindex(key).to_numpy(), index=out.index)
        value = value.astype("Float64").where(flag.notna(), 0.0)
        out[col], out[f"{col}_flag"] = _flagged(value, flag == FLAG)
    if "n_observations" in out:
        out["n_observations_flag"] = ""
        if rule.round_base > 1:  # field staff's, not households': rounded like every count
            obs = pd.to_numeric(out["n_observations"], errors="coerce")
            out["n_observations"] = ((obs / rule.round_base).round() * rule.round_base).astype(
                "Int64"
            )
    if "reports_per_100_dwellings" in out and "dwellings" in out:
        dwellings = pd.to_numeric(out["dwellings"], errors="coerce")
        rate = out["n_reports"].astype("Float64") / dwellings * 100
        out["reports_per_100_dwellings"] = rate.where(dwellings > 0).astype("Float64")
    for col in ("open_backlog", "median_delay_h"):
        if col in out:
            out[col] = pd.to_numeric(out[col], errors="coerce").astype("Float64").where(~hidden_b)
    if rule.protect == "all":
        # Where every cell needs its households (public), a building's open reports and
        # closing delay rest on a few reports each: not published per building.
        out = out.drop(columns=[c for c in ("open_backlog", "median_delay_h") if c in out])
    # A hot building, a rising trend: not shown as such from too few households.
    per_building = micro.groupby("building_id")["household"].nunique()
    few = ids.map(per_building).fillna(0) < rule.min_households
    if rule.protect == "person_related":  # comite: only where person-related reports weigh
        p = micro[micro["person_related"]].groupby("building_id")["household"].nunique()
        few = few & (ids.map(p).fillna(0) > 0) | hidden_b
    elif rule.protect == "none":
        few = pd.Series(False, index=out.index)
    for col in ("gi_bin", "emerging_category"):
        if col in out:
            drop = few & out[col].notna()
            out[col] = out[col].where(~drop)
            out[f"{col}_flag"] = np.where(drop, FLAG, "")
            if col == "emerging_category" and "emerging_label_fr" in out:
                out["emerging_label_fr"] = out["emerging_label_fr"].where(~drop)
    zones = cells[BUILDING_TABLES["zone"]].set_index("zone")
    zone = ids.map(dict(zip(micro["building_id"], micro["zone"], strict=False)))
    zone_shown = zone.map(zones["flag"] != FLAG).fillna(False).astype(bool) & (zone != NO_ZONE)
    out["level"] = np.where(
        ~hidden_b, LEVEL_FR["building"], np.where(zone_shown, LEVEL_FR["zone"], LEVEL_FR["site"])
    )
    return out


def joint_tables(
    level: tuple[str, str], *, windows: bool
) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """The published tables, in two groups the engine protects one after the other.

    The building group: buildings (within their zone), building × category (the
    building profile) and the monthly table at ``level``; every cell there belongs to
    one building, so the engine's linear programs split building by building. The
    building × period series (the charts' top buildings) and the before/after counts are
    sums of monthly cells: they are published only where every cell they add up is
    shown (:func:`derived_sums`), which tells a reader nothing the monthly table does
    not, and costs the engine nothing (with them, its programs on Bondy did not end in
    five minutes). The site group: the site total, the
    zones (and the monthly table when ``public`` coarsens it above the building). What
    links the two groups (a zone's total and its buildings) is secured afterwards
    (:func:`secure_links`), and the whole is audited at once (:func:`final_audit`). One
    joint call would tie every building into one program: over ten minutes on Bondy.
    The charts' series (period × category, period) are sums of monthly cells, like the
    before/after (:func:`derived_sums`): with them as tables of their own, the joint
    audit found cells a reader could narrow down.

    """
    space, time = level
    local: list[tuple[str, ...]] = [("zone", "building_id"), ("zone", "building_id", "category")]
    site: list[tuple[str, ...]] = [(), ("zone",)]
    if space == "building":
        local.append(("zone", "building_id", time, "category"))
    else:
        site.append((*SPACE_DIMS[space], time, "category"))
    del windows  # the before/after is derived from the monthly table (derived_sums)
    return list(dict.fromkeys(local)), list(dict.fromkeys(site))


def secure_links(
    cells: dict[tuple[str, ...], pd.DataFrame], micro: pd.DataFrame, level: tuple[str, str]
) -> tuple[dict[tuple[str, ...], pd.DataFrame], list[dict[str, Any]]]:
    """Hide more cells where the site group's margins (:func:`joint_tables`) would give
    back a hidden cell of the building group: a zone's total minus its shown buildings,
    a period × category minus its shown building cells (:func:`secure_margin`)."""
    out = dict(cells)
    problems: list[dict[str, Any]] = []
    del level  # one link for now: a zone's total and its buildings
    links: list[tuple[tuple[str, ...], tuple[str, ...], list[str]]] = [
        (("zone", "building_id"), ("zone",), ["zone"])
    ]
    for child_dims, parent_dims, keys in links:
        child = out[child_dims].rename(columns={"flag": "n_reports_flag"}).assign(frozen=False)
        parent = out[parent_dims].rename(columns={"flag": "n_reports_flag"})
        child, parent, more = secure_margin(child, parent, keys, truth=_truth(micro, keys))
        problems += more
        for dims, frame in ((child_dims, child), (parent_dims, parent)):
            frame = frame.rename(columns={"n_reports_flag": "flag"}).drop(
                columns="frozen", errors="ignore"
            )
            frame["n_households"] = (
                frame["n_households"].astype("Int64").where(frame["flag"] != FLAG)
            )
            out[dims] = frame
    return out, problems


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
    out["n_reports"], out["n_reports_flag"] = _flagged(t["n_reports"], hidden)
    out["n_households"], out["n_households_flag"] = _flagged(t["n_households"], hidden)
    out["reason"] = t["reason"].astype(str).to_numpy()
    out["level"] = f"{LEVEL_FR[space]} × {LEVEL_FR[time]}"
    out = out.sort_values(["month", "building_id", "category"], na_position="first")
    return out.reset_index(drop=True)


def window_labels(when: pd.Series, windows: tuple[Window, Window] | None) -> pd.Series:
    """``before``, ``after`` or ``outside`` for each date."""
    label = pd.Series("outside", index=when.index, dtype=object)
    for name, w in zip(("before", "after"), windows or (), strict=False):
        label = label.mask((when >= w.start) & (when < w.end), name)
    return label


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


def window_months(windows: tuple[Window, Window] | None) -> dict[str, str] | None:
    """``YYYY-MM`` to ``before``/``after`` when both windows are whole months (their
    counts are then sums of monthly cells); ``None`` otherwise."""
    if windows is None:
        return None
    out: dict[str, str] = {}
    for name, w in zip(("before", "after"), windows, strict=True):
        if w.start.day != 1 or w.end.day != 1:
            return None
        for p in pd.period_range(w.start, w.end - pd.Timedelta(days=1), freq="M"):
            out[str(p)] = name
    return out


def before_after_of_monthly(
    profile: pd.DataFrame, monthly: pd.DataFrame, windows: tuple[Window, Window]
) -> pd.DataFrame:
    """``n_reports_before``, ``n_reports_after`` (with ``_flag``) and
    ``n_reports_change`` (null, flagged, when either is hidden), aligned on ``profile``:
    sums of the building's monthly cells in each window (:func:`derived_sums`); all
    hidden when the monthly table is not by building and month or the windows are not
    whole months."""
    ids = profile["building_id"].astype(str)
    out = pd.DataFrame(index=profile.index)
    months = window_months(windows)
    by_building = not monthly.empty and monthly["level"].iloc[0] == "bâtiment × mois"
    if months is None or not by_building:
        for name in ("before", "after", "change"):
            out[f"n_reports_{name}"] = pd.array([pd.NA] * len(ids), dtype="Int64")
            out[f"n_reports_{name}_flag"] = FLAG
        return out
    t = derived_sums(monthly, ["window", "building_id"], month_of=months)
    t = t.assign(building_id=t["building_id"].astype(str)).set_index(["window", "building_id"])
    for name in ("before", "after"):
        key = pd.MultiIndex.from_arrays([pd.Series(name, index=ids.index), ids])
        flag = pd.Series(t["n_reports_flag"].reindex(key).to_numpy(), index=profile.index)
        value = pd.Series(t["n_reports"].reindex(key).to_numpy(), index=profile.index)
        value = value.astype("Float64").where(flag.notna(), 0.0)
        out[f"n_reports_{name}"], out[f"n_reports_{name}_flag"] = _flagged(value, flag == FLAG)
    out["n_reports_change"] = (out["n_reports_after"] - out["n_reports_before"]).astype("Int64")
    either = (out["n_reports_before_flag"] == FLAG) | (out["n_reports_after_flag"] == FLAG)
    out["n_reports_change_flag"] = np.where(either, FLAG, "")
    return out


def protect_zones(
    zones: pd.DataFrame, cells: Mapping[tuple[str, ...], pd.DataFrame]
) -> pd.DataFrame:
    """The zones' ``n_reports`` from the engine's zone table, with its ``_flag``."""
    z = cells[BUILDING_TABLES["zone"]].set_index("zone")
    out = zones.copy()
    ids = out["zone_id"].astype(str)
    flag = ids.map(z["flag"])
    value = ids.map(z["n_reports"]).astype("Float64").where(flag.notna(), 0.0)
    out["n_reports"], out["n_reports_flag"] = _flagged(value, flag == FLAG)
    return out


def protect_chronic(
    chronic: pd.DataFrame, micro: pd.DataFrame, rule: ProfileRule
) -> tuple[pd.DataFrame, int]:
    """The chronic problems drawn from enough households (in their window: from
    ``first_date`` to ``last_date``); the number left out."""
    if chronic.empty or rule.protect == "none":
        return chronic, 0
    keep = []
    for _, row in chronic.iterrows():
        m = micro[
            (micro["building_id"] == str(row["building_id"]))
            & (micro["category"] == str(row["category"]))
        ]
        first = pd.to_datetime(str(row.get("first_date")), errors="coerce")
        last = pd.to_datetime(str(row.get("last_date")), errors="coerce")
        if pd.notna(first) and pd.notna(last):
            when = pd.to_datetime(m["reported_at"])
            m = m[(when >= first.normalize()) & (when < last.normalize() + pd.Timedelta(days=1))]
        person = bool(m["person_related"].any())
        applies = rule.protect == "all" or person
        n = len(m)
        top = m.groupby("household").size().max() if n else 0
        ok = not applies or (
            m["household"].nunique() >= rule.min_households
            and not (n > 1 and top >= rule.dominance_share * n)
        )
        keep.append(ok)
    mask = pd.Series(keep, index=chronic.index, dtype=bool)
    return chronic[mask].reset_index(drop=True), int((~mask).sum())


def protect_points(points: pd.DataFrame, rule: ProfileRule) -> tuple[pd.DataFrame, int]:
    """The report points a profile draws (see the module's docstring); the number
    left out."""
    if rule.points == "all":
        return points, 0
    if rule.points == "none":
        return points.iloc[0:0], len(points)
    # "observations": a resident's report is never a point (its building carries the
    # protected counts); the field staff's walkthrough observations stay.
    residents = points["source_kind"] != "observations"
    return points[~residents], int(residents.sum())


# ----------------------------------------------------------------------------- margins
def secure_margin(
    child: pd.DataFrame,
    parent: pd.DataFrame,
    keys: Sequence[str],
    *,
    truth: pd.Series,
) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]:
    """Hide more cells until no hidden cell of ``child`` or ``parent`` can be recomputed
    from the other, where each ``parent`` cell is the sum of the ``child`` cells sharing
    its ``keys`` (absent child rows are zeros).

    Used after past periods were frozen (:mod:`pipelines.publish.ledger`): a frozen
    cell keeps its published value and flag, so the engine's secondary suppression may
    no longer hold; only margins and open-period cells are hidden here (more hiding
    never makes another hidden cell recomputable).

    Parameters
    ----------
    child, parent
        Columns ``keys``, ``n_reports``, ``n_reports_flag``; ``child`` also ``frozen``
        (bool), ``parent`` ``reason`` when known.
    truth
        The exact count of each parent cell, indexed by ``keys``.

    Returns
    -------
    tuple
        Both tables with the cells hidden here flagged (``reason`` "secondary"), and the
        cells that could not be protected (a hidden parent whose children are all frozen
        and shown, and add up to it).
    """
    child, parent = child.copy(), parent.copy()
    if "reason" not in parent:
        parent["reason"] = np.where(parent["n_reports_flag"] == FLAG, "primary", "")
    if "reason" not in child:
        child["reason"] = np.where(child["n_reports_flag"] == FLAG, "primary", "")
    k = list(keys)
    ck = pd.Series(_tuples(child, k), index=child.index)
    pk = _tuples(parent, k)
    problems: list[dict[str, Any]] = []
    for _ in range(100):
        changed = False
        hidden_c = child["n_reports_flag"] == FLAG
        n_hidden = hidden_c.groupby(ck).sum()
        shown_sum = (
            child["n_reports"].astype("Float64").where(~hidden_c).fillna(0).groupby(ck).sum()
        )
        for row, key in zip(parent.index, pk, strict=True):
            hidden_p = parent.at[row, "n_reports_flag"] == FLAG
            nh = int(n_hidden.get(key, 0))
            if not hidden_p and nh == 1:
                parent.at[row, "n_reports"] = pd.NA
                parent.at[row, "n_reports_flag"] = FLAG
                parent.at[row, "reason"] = "secondary"
                changed = True
            elif hidden_p and nh == 0 and key in truth.index:
                if float(shown_sum.get(key, 0)) != float(truth[key]):
                    continue
                candidates = child[(ck == key) & ~child["frozen"].astype(bool)]
                if candidates.empty:
                    problems.append(
                        {"keys": dict(zip(k, key.split("\x1f"), strict=True)), "why": "figé"}
                    )
                    continue
                j = candidates["n_reports"].astype(float).idxmin()
                child.at[j, "n_reports"] = pd.NA
                child.at[j, "n_reports_flag"] = FLAG
                child.at[j, "reason"] = "secondary"
                changed = True
        if not changed:
            break
    unique = {tuple(sorted(p["keys"].items())): p for p in problems}
    return child, parent, list(unique.values())


def _tuples(frame: pd.DataFrame, keys: Sequence[str]) -> list[str]:
    """One text per row joining its ``keys`` (a group key pandas keeps flat)."""
    if not keys:
        return [""] * len(frame)
    cols = [[("" if pd.isna(v) else str(v)) for v in frame[c]] for c in keys]
    return ["\x1f".join(t) for t in zip(*cols, strict=True)]


def margin_problems(child: pd.DataFrame, parent: pd.DataFrame, keys: Sequence[str]) -> int:
    """Hidden cells a reader can recompute: a group of ``child`` with exactly one hidden
    cell under a shown ``parent`` cell (parent minus the shown children), or a hidden
    ``parent`` cell whose children are all shown (their sum). The audit's check on the
    published files."""
    k = list(keys)
    if child.empty:
        return 0
    groups = pd.Series(_tuples(child, k), index=child.index)
    hidden = (child["n_reports_flag"] == FLAG).groupby(groups).sum()
    n_hidden = {str(key): int(n) for key, n in hidden.items()}
    flags = dict(zip(_tuples(parent, k), parent["n_reports_flag"], strict=True))
    one = sum(1 for key, n in n_hidden.items() if n == 1 and flags.get(key) not in (FLAG, None))
    none = sum(1 for key, n in n_hidden.items() if n == 0 and flags.get(key) == FLAG)
    return one + none


# ----------------------------------------------------------------------------- profile
def _long_profile(profile: pd.DataFrame, codes: Sequence[str]) -> pd.DataFrame:
    """The building × category cells of the profile as rows (zeros left out)."""
    parts = []
    for code in codes:
        col = f"n_{code}"
        if col not in profile:
            continue
        part = pd.DataFrame(
            {
                "building_id": profile["building_id"].astype(str),
                "category": code,
                "n_reports": profile[col],
                "n_reports_flag": profile[f"{col}_flag"],
                "row": profile.index,
            }
        )
        parts.append(part[(part["n_reports_flag"] == FLAG) | (part["n_reports"].fillna(0) > 0)])
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _truth(micro: pd.DataFrame, keys: Sequence[str]) -> pd.Series:
    n = micro.groupby(list(keys)).size()
    frame = n.reset_index()
    return pd.Series(n.to_numpy(), index=_tuples(frame, keys))


def _secure_frozen(
    monthly: pd.DataFrame, profile: pd.DataFrame, micro: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]:
    """After freezing: hide what the frozen months and the building figures would let a
    reader recompute (:func:`secure_margin`), building × category then building."""
    long = _long_profile(profile, CODES)
    monthly, long, problems = secure_margin(
        monthly, long, ["building_id", "category"], truth=_truth(micro, ["building_id", "category"])
    )
    profile = profile.copy()
    for code in CODES:
        col = f"n_{code}"
        rows = long[long["category"] == code]
        if col in profile and len(rows):
            profile.loc[rows["row"], col] = rows["n_reports"].to_numpy()
            profile.loc[rows["row"], f"{col}_flag"] = rows["n_reports_flag"].to_numpy()
    parent = pd.DataFrame(
        {
            "building_id": profile["building_id"].astype(str),
            "n_reports": profile["n_reports"],
            "n_reports_flag": profile["n_reports_flag"],
        }
    )
    long = long.assign(frozen=False)
    for child in (monthly, long):
        child2, parent, more = secure_margin(
            child, parent, ["building_id"], truth=_truth(micro, ["building_id"])
        )
        if child is monthly:
            monthly = child2
        problems += more
    profile["n_reports"] = parent["n_reports"].to_numpy()
    profile["n_reports_flag"] = parent["n_reports_flag"].to_numpy()
    return monthly, profile, problems


def published_problems(
    monthly: pd.DataFrame,
    profile: pd.DataFrame,
    zones: pd.DataFrame | None,
    level: tuple[str, str],
) -> dict[str, int]:
    """The audit's check on the tables as published: per relation between them, the
    hidden cells a reader could recompute from a shown margin (0 everywhere to pass)."""
    long = _long_profile(profile, CODES)
    flat = pd.DataFrame(
        {
            "building_id": profile["building_id"].astype(str),
            "zone_id": profile.get("zone_id"),
            "n_reports": profile["n_reports"],
            "n_reports_flag": profile["n_reports_flag"],
        }
    )
    out = {"building_category→building": margin_problems(long, flat, ["building_id"])}
    if level[0] == "building" and not monthly.empty:
        out["monthly→building_category"] = margin_problems(
            monthly, long, ["building_id", "category"]
        )
        out["monthly→building"] = margin_problems(monthly, flat, ["building_id"])
    if zones is not None and len(zones) and "n_reports_flag" in zones:
        z = zones.assign(zone_id=zones["zone_id"].astype(str))
        out["building→zone"] = margin_problems(flat[flat["zone_id"].notna()], z, ["zone_id"])
    return out


def _level_of(text: str | None) -> tuple[str, str] | None:
    for level in LEVELS:
        if text == f"{LEVEL_FR[level[0]]} × {LEVEL_FR[level[1]]}":
            return level
    return None


def _with_empty_flags(published: Published) -> Published:
    """``interne``: every count exact, each ``n_…`` with an empty ``_flag``."""

    def flags(frame: pd.DataFrame | None) -> Any:
        if frame is None:
            return None
        out = frame.copy()
        for col in [c for c in out.columns if c.startswith("n_") and not c.endswith("_flag")]:
            out[f"{col}_flag"] = ""
        return out

    return replace(
        published,
        profile=flags(published.profile),
        monthly=flags(published.monthly),
        zones=flags(published.zones),
    )


def apply_profile(
    published: Published,
    reports: pd.DataFrame,
    *,
    rule: ProfileRule,
    person_related: frozenset[str],
    windows: tuple[Window, Window] | None = None,
    ledger: pd.DataFrame | None = None,
) -> tuple[Protection, pd.DataFrame | None]:
    """The published tables under a profile's rule, and the new ledger of frozen periods.

    Parameters
    ----------
    published
        What :func:`pipelines.publish.build.publish_site` assembled (exact counts).
    reports
        ``reports.parquet``: the microdata (``household_key`` and ``person_related``
        when ingestion wrote them; else each report is its own household and
        ``person_related`` the categories' class).
    rule, person_related
        The profile's rule and the person-related category codes (configuration).
    windows
        The before/after windows (``None``: no before/after).
    ledger
        The rows published before for closed periods (:mod:`pipelines.publish.ledger`).

    Returns
    -------
    tuple
        The :class:`Protection` and the ledger to keep (``None`` for ``interne``, which
        freezes nothing: it is never published).
    """
    if rule.is_exact and rule.points == "all":
        out = _with_empty_flags(published)
        counts = {
            "building_profile": _count_cells("building_profile", out.monthly.iloc[0:0], level="")
        }
        audit = {"profile": rule.name, "passed": True, "rule": rule.as_dict(), "tables": {}}
        return Protection(out, audit, counts), None
    profile = published.profile
    zone_of = {
        str(b): str(z)
        for b, z in zip(profile["building_id"], profile["zone_id"], strict=True)
        if pd.notna(z)
    }
    micro = microdata(reports, zone_of=zone_of, person_related=person_related)
    level = _level_of(ledger_level(ledger)) or monthly_level(micro, rule)
    local, site_tables = joint_tables(level, windows=windows is not None)
    cells_b, audit_b = protect_tables(micro, local, rule)
    cells_s, audit_s = protect_tables(micro, site_tables, rule)
    cells, link_problems = secure_links({**cells_b, **cells_s}, micro, level)
    engine_audit = {
        "passed": bool(audit_b.get("passed")) and bool(audit_s.get("passed")) and not link_problems,
        "buildings": audit_b,
        "site": audit_s,
        "links_unprotected": link_problems,
    }
    new = protect_profile(profile, cells, rule=rule, micro=micro)
    new = new.drop(columns=[c for c in new.columns if c.startswith(("gi_z", "gi_p"))])
    monthly = monthly_of(cells, level)
    monthly, new_ledger, frozen = freeze(monthly, ledger)
    frozen_problems: list[dict[str, Any]] = []
    if frozen and level[0] == "building":
        monthly, new, frozen_problems = _secure_frozen(monthly, new, micro)
    monthly = monthly.drop(columns="frozen")
    if windows is not None:
        ba = before_after_of_monthly(new, monthly, windows)
        for col in ba.columns:
            new[col] = ba[col].to_numpy()
    cells, monthly, joint = audited(micro, cells, new, monthly, level, rule)
    if joint.get("hid_monthly"):  # the ledger keeps the rows as finally published
        _, new_ledger, _ = freeze(monthly, ledger)
    zones = protect_zones(published.zones, cells) if published.zones is not None else None
    chronic, n_chronic_out = (
        protect_chronic(published.chronic, micro, rule)
        if published.chronic is not None
        else (None, 0)
    )
    if chronic is not None and not chronic.empty:
        chronic = _chronic_counts(chronic, new, rule)
    if "is_chronic" in new:
        kept = set(chronic["building_id"].astype(str)) if chronic is not None else set()
        new["is_chronic"] = new["building_id"].astype(str).isin(kept)
    points, n_points_out = protect_points(published.points, rule)
    public = rule.points == "none"
    charts = chart_tables(published, cells, monthly, level, micro, reports, rule, person_related)
    problems = published_problems(monthly, new, zones, level)
    fine = micro.groupby(["building_id", "month", "category"]).ngroups
    coarse = level != LEVELS[0]
    counts = {
        "building_profile": {
            **_count_cells("building_profile", _profile_cells(new), level="bâtiment"),
            "coarsened": int((new["level"] != LEVEL_FR["building"]).sum()),
        },
        "monthly": _count_cells(
            "monthly",
            monthly.rename(columns={"n_reports_flag": "flag"}),
            level=monthly["level"].iloc[0] if len(monthly) else "",
            coarsened=fine if coarse else 0,
        ),
        "site": _count_cells("site", cells[()], level="site"),
    }
    if zones is not None:
        counts["zones"] = _count_cells(
            "zones", zones.rename(columns={"n_reports_flag": "flag"}), level="zone"
        )
    if windows is not None:
        ba_cells = pd.DataFrame(
            {
                "n_reports": pd.concat([new["n_reports_before"], new["n_reports_after"]]),
                "flag": pd.concat([new["n_reports_before_flag"], new["n_reports_after_flag"]]),
            }
        )
        reported = pd.concat([new["building_id"].astype(str)] * 2).isin(set(micro["building_id"]))
        ba_cells = ba_cells[
            reported.to_numpy()
            & ((ba_cells["flag"] == FLAG) | (ba_cells["n_reports"].fillna(0) > 0))
        ]
        counts["before_after"] = _count_cells("before_after", ba_cells, level="bâtiment")
    for c in counts.values():
        c["coarsened_share"] = round(c["coarsened"] / c["cells"], 4) if c["cells"] else 0.0
    audit = {
        "profile": rule.name,
        "rule": rule.as_dict(),
        "person_related": sorted(person_related),
        "level_monthly": f"{LEVEL_FR[level[0]]} × {LEVEL_FR[level[1]]}",
        "engine": engine_audit,
        "joint": joint,
        "published_checks": problems,
        "cells": counts,
        "frozen_periods": sorted(frozen),
        "frozen_problems": frozen_problems,
        "chronic_left_out": n_chronic_out,
        "points_left_out": n_points_out,
        # the LP audit decides; a frozen technical cell hidden as secondary that the
        # frozen months give back is listed, not failed (it protects nothing then)
        "passed": bool(joint.get("passed"))
        and not [p for p in frozen_problems if p["keys"].get("category") in person_related],
    }
    site_total = cells[()]
    total = site_total["n_reports"].iloc[0] if len(site_total) else 0
    out = replace(
        published,
        profile=new,
        monthly=monthly,
        points=points,
        zones=zones,
        chronic=chronic,
        notes=None if public else published.notes,
        density=None if public else published.density,
        **charts,
        site={
            **published.site,
            "totals": {
                **published.site.get("totals", {}),
                "reports_counted": None if pd.isna(total) else int(total),
                "reports_counted_flag": FLAG if pd.isna(total) else "",
                "hotspots_95": int((pd.to_numeric(new["gi_bin"], errors="coerce") >= 2).sum())
                if "gi_bin" in new
                else None,
            },
        },
    )
    return Protection(out, audit, counts), new_ledger


def _profile_cells(profile: pd.DataFrame) -> pd.DataFrame:
    """The count cells of the profile (building totals and building × category, zeros
    left out) with their ``flag``."""
    flat = pd.DataFrame({"n_reports": profile["n_reports"], "flag": profile["n_reports_flag"]})
    long = _long_profile(profile, CODES).rename(columns={"n_reports_flag": "flag"})
    both = pd.concat([flat, long[["n_reports", "flag"]]], ignore_index=True)
    return both[(both["flag"] == FLAG) | (both["n_reports"].fillna(0) > 0)]


def _chronic_counts(
    chronic: pd.DataFrame, profile: pd.DataFrame, rule: ProfileRule
) -> pd.DataFrame:
    """The chronic rows' counts as the profile publishes them: ``n_reports_total`` is the
    building × category cell (null, flagged, when hidden); ``n_reports_in_window``
    rounded like every count; the report dates left out where counts are rounded."""
    out = chronic.copy()
    p = profile.assign(building_id=profile["building_id"].astype(str)).set_index("building_id")
    total: list[float] = []
    flag: list[str] = []
    for b, c in zip(out["building_id"].astype(str), out["category"].astype(str), strict=True):
        col = f"n_{c}"
        ok = b in p.index and col in p
        value = pd.to_numeric(pd.Series([p.at[b, col] if ok else None]), errors="coerce")
        total.append(float(value.astype(float).iloc[0]))
        flag.append(str(p.at[b, f"{col}_flag"]) if ok else FLAG)
    out["n_reports_total"] = pd.Series(total, index=out.index).round().astype("Int64")
    out["n_reports_total_flag"] = flag
    if rule.round_base > 1:
        n = pd.to_numeric(out["n_reports_in_window"], errors="coerce")
        out["n_reports_in_window"] = ((n / rule.round_base).round() * rule.round_base).astype(
            "Int64"
        )
    if not rule.is_exact:
        # The date of each report would give back the hidden months of the cell, and a
        # chronic count beside a hidden cell (« < 3 ») would bound it: neither is shown.
        out = out.drop(columns=[c for c in ("dates",) if c in out])
        out = out[out["n_reports_total_flag"] != FLAG].reset_index(drop=True)
    out["n_reports_in_window_flag"] = ""
    return out


# ----------------------------------------------------------------------------- charts
def _period_start(period: pd.Series) -> pd.Series:
    """``YYYY-MM``, ``YYYY-Tn`` or ``YYYY`` as the first day of the period."""

    def first_day(text: str) -> str:
        if "-T" in text:
            year, q = text.split("-T")
            return f"{year}-{3 * int(q) - 2:02d}-01"
        return f"{text}-01" if len(text) == 7 else f"{text}-01-01"

    return pd.to_datetime(period.astype(str).map(first_day))


def final_audit(
    micro: pd.DataFrame,
    cells: Mapping[tuple[str, ...], pd.DataFrame],
    profile: pd.DataFrame,
    monthly: pd.DataFrame,
    level: tuple[str, str],
    rule: ProfileRule,
) -> dict[str, Any]:
    """The engine's audit (:func:`pipelines.stats.disclosure.audit`, linear programming
    over every table at once) of the tables as published: the flags of the building
    profile, of the monthly table (frozen periods included), of the zones and of the site
    total; a cell no table publishes counts as hidden. The sums derived from the monthly
    table (charts' series, before/after) tell nothing more and are left out."""
    space, time = level
    ids = profile["building_id"].astype(str)
    flags: dict[tuple[str, ...], dict[str, str]] = {
        ("zone", "building_id"): dict(zip(ids, profile["n_reports_flag"], strict=True)),
        ("zone", "building_id", "category"): {
            f"{b}\x1f{code}": f
            for code in CODES
            if f"n_{code}_flag" in profile
            for b, f in zip(ids, profile[f"n_{code}_flag"], strict=True)
        },
    }
    m = monthly.assign(zone=monthly["zone_id"].fillna(NO_ZONE), **{time: monthly["month"]})
    mdims = (*SPACE_DIMS[space], time, "category")
    keys = [d for d in mdims if d != "zone"] if space == "building" else list(mdims)
    flags[mdims] = dict(zip(_tuples(m, keys), m["n_reports_flag"], strict=True))
    frames: dict[tuple[str, ...], pd.DataFrame] = {}
    for dims, t in cells.items():
        if dims in flags:
            k = [d for d in dims if d != "zone"] if "building_id" in dims else list(dims)
            t = t.assign(flag=[flags[dims].get(key, FLAG) for key in _tuples(t, k)])
        frames[dims] = t
    return disclosure.audit(micro, frames, rule=engine_rule(rule))


def audited(
    micro: pd.DataFrame,
    cells: dict[tuple[str, ...], pd.DataFrame],
    profile: pd.DataFrame,
    monthly: pd.DataFrame,
    level: tuple[str, str],
    rule: ProfileRule,
    *,
    rounds: int = 6,
) -> tuple[dict[tuple[str, ...], pd.DataFrame], pd.DataFrame, dict[str, Any]]:
    """:func:`final_audit`, and while it fails, the margins that tie the buildings
    together hidden where the narrowest unprotected cell lies: its zone's total (or the
    site's, outside every zone) and, when the monthly table is by zone (``public``), that
    zone's monthly cells of its category; at the last resort every zone's and the site's.
    Hiding more never makes another cell recomputable."""
    out = dict(cells)
    monthly = monthly.copy()
    hid_monthly = False
    result = final_audit(micro, out, profile, monthly, level, rule)
    for n in range(rounds):
        if result.get("passed"):
            break
        zones = out[("zone",)].copy()
        site = out[()].copy()
        for table in result.get("tables", []):
            worst = table.get("worst") or {}
            if not table.get("n_unprotected") or not worst:
                continue
            cell = worst.get("cell") or {}
            zone = cell.get("zone")
            if zone is not None and level[0] != "building":
                hit = monthly["zone_id"].fillna(NO_ZONE).astype(str) == str(zone)
                if "category" in cell:
                    hit &= monthly["category"] == cell["category"]
                hit &= monthly["n_reports_flag"] != FLAG
                monthly.loc[hit, "n_reports"] = pd.NA
                monthly.loc[hit, "n_households"] = pd.NA
                monthly.loc[hit, ["n_reports_flag", "n_households_flag", "reason"]] = [
                    FLAG, FLAG, "secondary",
                ]  # fmt: skip
                hid_monthly = hid_monthly or bool(hit.any())
            if zone is not None and zone != NO_ZONE and n < rounds - 1:
                hit = zones["zone"].astype(str) == str(zone)
                zones.loc[hit, ["flag", "reason"]] = [FLAG, "secondary"]
                if not hit.any() or (zones.loc[hit, "flag"] == FLAG).all():
                    site[["flag", "reason"]] = [FLAG, "secondary"]
            else:
                zones[["flag", "reason"]] = [FLAG, "secondary"]
                site[["flag", "reason"]] = [FLAG, "secondary"]
        for frame in (zones, site):
            frame["n_reports"] = frame["n_reports"].astype("Int64").where(frame["flag"] != FLAG)
            frame["n_households"] = (
                frame["n_households"].astype("Int64").where(frame["flag"] != FLAG)
            )
        out[("zone",)], out[()] = zones, site
        result = final_audit(micro, out, profile, monthly, level, rule)
    return out, monthly, {**result, "hid_monthly": hid_monthly}


def chart_tables(
    published: Published,
    cells: Mapping[tuple[str, ...], pd.DataFrame],
    monthly: pd.DataFrame,
    level: tuple[str, str],
    micro: pd.DataFrame,
    reports: pd.DataFrame,
    rule: ProfileRule,
    person_related: frozenset[str],
) -> dict[str, pd.DataFrame]:
    """The charts' tables under the profile: the category series and the top buildings'
    series from the engine's tables (period × category; building × period), counted over
    the reports placed on a building like every other table; a top building's trend test
    left out (null) when one of its periods is hidden; the closing delays of a category
    left out when its closed reports come from too few households."""
    out: dict[str, pd.DataFrame] = {}
    space, time = level
    freq = str((published.site.get("series") or {}).get("freq", "M"))
    series = derived_sums(monthly, ["month", "category"])
    totals = derived_sums(monthly, ["month"]).set_index("month")
    periods = sorted(set(monthly["month"].astype(str)))
    grid = pd.MultiIndex.from_product([periods, list(CODES)], names=["month", "category"])
    t = series.assign(month=series["month"].astype(str)).set_index(["month", "category"])
    t = t.reindex(grid)
    frame = grid.to_frame(index=False)
    tot = totals.reindex(frame["month"])
    out["category_series"] = pd.DataFrame(
        {
            "period_start": _period_start(frame["month"]).to_numpy(),
            "category": frame["category"].to_numpy(),
            "n_reports": t["n_reports"].fillna(0).astype("Int64").where(
                t["n_reports_flag"].fillna("") != FLAG).to_numpy(),
            "n_reports_flag": t["n_reports_flag"].fillna("").to_numpy(),
            "n_period_reports": tot["n_reports"].fillna(0).astype("Int64").where(
                tot["n_reports_flag"].fillna("") != FLAG).to_numpy(),
            "n_period_reports_flag": tot["n_reports_flag"].fillna("").to_numpy(),
        }
    )  # fmt: skip
    top = published.top_buildings
    if top is not None and len(top) and space == "building" and freq == "M" and time == "month":
        bt = derived_sums(monthly, ["building_id", "month"])
        bt = bt.assign(building_id=bt["building_id"].astype(str), m=bt["month"].astype(str))
        bt = bt.rename(columns={"n_reports_flag": "flag"}).set_index(["building_id", "m"])
        key = pd.MultiIndex.from_arrays(
            [
                top["building_id"].astype(str),
                pd.to_datetime(top["period_start"]).dt.strftime("%Y-%m"),
            ]
        )
        fl = pd.Series(bt["flag"].reindex(key).to_numpy(), index=top.index)
        val = pd.Series(bt["n_reports"].reindex(key).to_numpy(), index=top.index)
        val = val.astype("Float64").where(fl.notna(), 0.0)
        t2 = top.copy()
        t2["n_reports"], t2["n_reports_flag"] = _flagged(val, fl == FLAG)
        any_hidden = (t2["n_reports_flag"] == FLAG).groupby(t2["building_id"]).transform("any")
        for col in ("sens_slope_per_period", "trend", "trend_fr", "mk_p"):
            if col in t2:
                t2[col] = t2[col].astype(object).where(~any_hidden, None)
        t2["trend_flag"] = np.where(any_hidden, FLAG, "")
        out["top_buildings"] = t2
    elif top is not None:
        out["top_buildings"] = top.iloc[0:0].assign(n_reports_flag=pd.Series(dtype=object))
    delays = published.closing_delays
    if delays is not None and len(delays):
        d = delays.copy()
        closed = reports[is_counted(reports, on_building=False)]
        if "closed_at" in closed:
            closed = closed[closed["closed_at"].notna()]
        hh = closed.assign(h=households(closed)).groupby("category")["h"].nunique()
        applies = (
            d["category"].isin(person_related)
            if rule.protect == "person_related"
            else pd.Series(rule.protect == "all", index=d.index)
        )
        hide = applies & (d["category"].map(hh).fillna(0) < rule.min_households)
        n_closed = pd.to_numeric(d["n_closed"], errors="coerce").astype("Float64")
        if rule.round_base > 1:
            n_closed = (n_closed / rule.round_base).round() * rule.round_base
        d["n_closed"], d["n_closed_flag"] = _flagged(n_closed, hide)
        for col in d.columns:
            if col.endswith("_h") or col.startswith("share_"):
                d[col] = pd.to_numeric(d[col], errors="coerce").where(~hide)
        out["closing_delays"] = d
    return out
