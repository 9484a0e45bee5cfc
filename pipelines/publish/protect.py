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

- The tables are protected in two groups (:func:`~pipelines.publish.levels.joint_tables`):
  the buildings' and zones' (zone, building within its zone, building × category,
  building × month × category; a zone is a sum of buildings, so they are protected
  together), then the site's around them (site, the site's series period × category,
  period and category, which the category chart and the method note show, and the
  committee pack's key figures, window × category group and window:
  :mod:`~pipelines.publish.keyfigures`), so that no link between the groups gives a
  hidden cell back; the whole is audited at once. Before the buildings' group, the
  building cells of most reports under a period × category total that would pin a
  hidden sensitive cell are hidden first (:func:`~pipelines.publish.levels.series_slack`),
  so that the site's series need not hide its own cells. The before/after and the top
  buildings' series are sums of shown monthly cells only.
- A report arriving after its period was published (the ledger does not list it among
  the reports counted there) is counted in no protected figure
  (:func:`~pipelines.publish.ledger.late_reports`; ``late_reports_left_out``).
- ``public`` coarsens before hiding: the monthly table is published at the finest level
  of :data:`~pipelines.publish.levels.LEVELS` where at most half of the reports sit in
  cells below the threshold (global recoding: one level per table, so that no two
  published cells overlap and cannot be subtracted), with a ``level`` column; a building
  below the threshold is counted in its zone, then in the site (``level`` of the
  building profile). Zones stand for the 50 m hexagons; a building outside every zone
  goes to the site.
- Report points: ``interne`` all; ``comite`` the walkthrough observations only, and of
  those of a person-related category (or naming a dwelling or a floor) only where their
  building × category cell meets the threshold (the others stay counted in their
  building's ``n_observations``: :mod:`~pipelines.publish.points`); ``public`` none, nor
  density contours, nor planners' notes.

This module is the entry (:func:`apply_profile`); the parts live beside it:
:mod:`~pipelines.publish.cells` (microdata, flags, the engine's call),
:mod:`~pipelines.publish.levels` (coarsening levels, joint tables, the monthly table),
:mod:`~pipelines.publish.margins` (margins secured, checked and audited),
:mod:`~pipelines.publish.buildings` (building profile, before/after, zones, chronic
problems), :mod:`~pipelines.publish.points` (report points) and
:mod:`~pipelines.publish.charts` (the charts' tables).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config import DEFAULT_PARAMS, TrendSettings
from pipelines.config.publication import ProfileRule
from pipelines.publish.buildings import (
    before_after_of_monthly,
    chronic_categories_of,
    chronic_counts,
    protect_chronic,
    protect_profile,
    protect_zones,
    without_building_detail,
)
from pipelines.publish.cells import (
    FLAG,
    NO_ZONE,
    among,
    microdata,
    protect_tables,
    unpublished_zone,
    zone_of_building,
)
from pipelines.publish.charts import chart_tables
from pipelines.publish.detached import detached_members, with_classes_hidden
from pipelines.publish.keyfigures import (
    KEY_TABLES,
    exact_key_table,
    key_table,
    key_window,
    last_committee_of,
    with_windows,
)
from pipelines.publish.ledger import (
    counted_rows,
    freeze,
    joined,
    late_reports,
    ledger_level,
    ledger_part,
)
from pipelines.publish.left_out import pack_followup, pack_reports
from pipelines.publish.levels import (
    LEVEL_FR,
    LEVELS,
    joint_tables,
    level_of,
    monthly_level,
    monthly_of,
    series_of,
    series_slack,
)
from pipelines.publish.margins import (
    audited,
    long_profile,
    published_problems,
    secure_frozen,
)
from pipelines.publish.points import cells_meeting_threshold, protect_points
from pipelines.publish.site_json import with_published_site_total, with_published_trend
from pipelines.published import Published
from pipelines.taxonomy import CODES
from pipelines.trends import Window

#: The period letter (``site.json``'s ``series.freq``) of each time level.
TIME_FREQ = {"month": "M", "quarter": "Q", "year": "Y"}


@dataclass(frozen=True)
class Protection:
    """What :func:`apply_profile` returns: the protected tables, the audit of every
    published table, and per table the count of cells, hidden and coarsened ones."""

    published: Published
    audit: dict[str, Any]
    cells: dict[str, dict[str, Any]]


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


def outside_zones_if_class_hidden(micro: pd.DataFrame, rule: ProfileRule) -> pd.DataFrame:
    """Under a profile that coarsens (``public``), the microdata with every building
    whose hotspot class the profile hides put outside every zone (:data:`NO_ZONE`).

    A hotspot zone is made of hot buildings, so counting a building in its zone's rows
    (``level`` « zone ») says it is hot; the profile hides the class of a building whose
    reports come from fewer households than its threshold (every building's, under
    ``protect = "all"``: :func:`~pipelines.publish.buildings.protect_profile`), which
    is known before the engine runs. Such a building is then counted in the site's rows,
    and the zones hold, list and outline their other buildings only
    (:func:`pipelines.publish.stage.with_zones_of_shown_classes`), their counts theirs
    exactly. Other profiles keep the zones whole (``comite`` publishes no zone rows: a
    zone's own count is hidden where it lost buildings)."""
    if not rule.coarsen or rule.protect != "all" or micro.empty:
        return micro
    households = micro.groupby("building_id")["household"].transform("nunique")
    few = (households < rule.min_households).to_numpy()
    return micro.assign(zone=np.where(few, NO_ZONE, micro["zone"].to_numpy()))


def apply_profile(
    published: Published,
    reports: pd.DataFrame,
    *,
    rule: ProfileRule,
    person_related: frozenset[str],
    windows: tuple[Window, Window] | None = None,
    ledger: pd.DataFrame | None = None,
    gap_m: float = DEFAULT_PARAMS["zones"]["gap_m"],
    trends: TrendSettings | None = None,
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
    gap_m
        The zones' link distance (``[params.zones] gap_m``): a zone's buildings shown
        apart from its largest linked group have their class hidden
        (:mod:`pipelines.publish.detached`; the audit's ``zones_detached``).
    trends
        The site's ``trends`` settings (its target delays and date of the export), with
        which the trends stage's follow-up is counted again without the late reports
        (:func:`pipelines.publish.left_out.pack_followup`); default: the defaults.

    Returns
    -------
    tuple
        The :class:`Protection` and the ledger to keep (``None`` for ``interne``, which
        freezes nothing: it is never published).
    """
    profile = published.profile
    zone_of = {
        str(b): str(z)
        for b, z in zip(profile["building_id"], profile["zone_id"], strict=True)
        if pd.notna(z)
    }
    micro = microdata(reports, zone_of=zone_of, person_related=person_related)
    window = key_window(
        micro["month"].astype(str).tolist(), last_committee=last_committee_of(published.site)
    )
    if window is not None:
        micro = with_windows(micro, window)
    key_facts = {"key_window": window.as_dict()} if window is not None else {}
    if rule.is_exact and rule.points == "all":
        out = _with_empty_flags(published)
        if window is not None:
            out = replace(out, key_figures=exact_key_table(micro), site={**out.site, **key_facts})
        counts = {
            "building_profile": _count_cells("building_profile", out.monthly.iloc[0:0], level="")
        }
        audit = {"profile": rule.name, "passed": True, "rule": rule.as_dict(), "tables": {}}
        return Protection(out, audit, counts), None
    # the coarsening level chosen on the zones the engine will count in (again below,
    # once late reports are out)
    micro = outside_zones_if_class_hidden(micro, rule)
    level = level_of(ledger_level(ledger)) or monthly_level(micro, rule)
    # a report arriving after its period was published changes no protected figure
    late = late_reports(micro, ledger, level[1])
    micro = outside_zones_if_class_hidden(micro[~late.to_numpy()].reset_index(drop=True), rule)
    # nor a figure of the follow-up (a building's open reports, the closing delays)
    reports = pack_reports(reports, late.to_numpy(dtype=bool))
    if late.any():
        p = trends or TrendSettings.from_dict({})
        published = pack_followup(published, reports, targets_h=p.targets_h, as_of=p.as_of)
        profile = published.profile
    local, site_tables = joint_tables(level)
    if window is not None:
        site_tables = [*site_tables, *KEY_TABLES]
    given: dict[tuple[str, ...], pd.DataFrame] = {("zone",): unpublished_zone(micro)}
    fine = local[-1]
    if level[1] in fine:  # the series' period × category cells add up the fine ones
        given[fine] = series_slack(micro, fine, rule, level[1])
    buildings = protect_tables(micro, local, rule, given=given)
    cells_b, audit_b = buildings.tables, buildings.audit
    note = _note_categories(micro, rule, person_related)
    site_group = protect_tables(micro, site_tables, rule, given={**cells_b, ("category",): note})
    cells, audit_s = site_group.tables, site_group.audit
    engine_audit = {
        "passed": bool(audit_b.get("passed")) and bool(audit_s.get("passed")),
        "buildings": audit_b,
        "site": audit_s,
    }
    new = protect_profile(profile, cells, rule=rule, micro=micro)
    detached = detached_members(published.zones, new, gap_m=gap_m)
    new = with_classes_hidden(new, set().union(*detached.values()))
    if "zone_id" in new:  # the zones the engine counted each building in
        counted_in = zone_of_building(micro)
        outside = new["building_id"].map(counted_in).eq(NO_ZONE).fillna(False).astype(bool)
        new["zone_id"] = new["zone_id"].mask(outside)
    new = new.drop(columns=[c for c in new.columns if c.startswith(("gi_z", "gi_p"))])
    monthly_ledger = ledger_part(ledger, "monthly")
    series_ledger = ledger_part(ledger, "category_series")
    monthly, _, frozen = freeze(monthly_of(cells, level), monthly_ledger)
    series, _, frozen_series = freeze(series_of(cells, level), series_ledger)
    frozen_problems: list[dict[str, Any]] = []
    if frozen and level[0] == "building":
        monthly, new, frozen_problems = secure_frozen(
            monthly, new, micro, cells, round_base=rule.round_base
        )
    monthly, series = monthly.drop(columns="frozen"), series.drop(columns="frozen")
    if windows is not None:
        ba = before_after_of_monthly(new, monthly, windows)
        for col in ba.columns:
            new[col] = ba[col].to_numpy()
    cells, monthly, series, joint = audited(
        micro, cells, new, monthly, series, level, rule,
        frozen=frozen, frozen_series=frozen_series, proof=site_group.proof,
    )  # fmt: skip
    # the ledger keeps the rows as finally published
    monthly_rows = freeze(monthly, monthly_ledger)[1]
    new_ledger = joined(
        {
            "monthly": monthly_rows,
            "category_series": freeze(series, series_ledger)[1],
            "counted": counted_rows(
                micro, ledger, set(monthly_rows["month"].astype(str)), level[1]
            ),
        }
    )
    # public: no category of a coarsened building, not even a zero (the cells counted
    # below are those published: such a building's total alone, :func:`_profile_cells`)
    new = without_building_detail(new, rule)
    zones = protect_zones(published.zones, cells) if published.zones is not None else None
    chronic, n_chronic_out = (
        protect_chronic(published.chronic, micro, rule)
        if published.chronic is not None
        else (None, 0)
    )
    if chronic is not None and not chronic.empty:
        chronic = chronic_counts(chronic, new, rule)
    if "chronic_categories" in new:  # what the fact sheet lists: no hidden category
        new["chronic_categories"] = chronic_categories_of(new, chronic).to_numpy()
    if "is_chronic" in new:
        kept = set(chronic["building_id"].astype(str)) if chronic is not None else set()
        new["is_chronic"] = new["building_id"].astype(str).isin(kept)
    points, n_points_out = protect_points(
        published.points,
        rule,
        person_related=person_related,
        shown_cells=cells_meeting_threshold(micro, new, rule),
    )
    public = rule.points == "none"
    charts = chart_tables(published, series, monthly, level, reports, rule, person_related)
    problems = published_problems(monthly, new, zones, level)
    # The cells as published: a coarsened building is its total alone, and the monthly
    # table's cells are coarsened when its level is (counted before coarsening, the
    # building profile's cells gave back how many (building, category) pairs of the
    # coarsened buildings had reports, and the monthly table's how many fine cells).
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
            coarsened=len(monthly) if coarse else 0,
        ),
        "site": _count_cells("site", cells[()], level="site"),
        "category_series": _count_cells(
            "category_series",
            series.rename(columns={"n_reports_flag": "flag"}),
            level=series["level"].iloc[0] if len(series) else "",
        ),
    }
    key = key_table(cells) if window is not None else None
    if key is not None:
        counts["key_figures"] = _count_cells(
            "key_figures", key.rename(columns={"n_reports_flag": "flag"}), level="site × fenêtre"
        )
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
        ids = pd.concat([new["building_id"].astype(str)] * 2)
        reported = among(ids, micro["building_id"].unique())
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
        "hidden_categories": sorted(
            cells[("category",)].loc[cells[("category",)]["flag"] == FLAG, "category"]
        ),
        "frozen_problems": frozen_problems,
        "late_reports_left_out": int(late.sum()),
        "chronic_left_out": n_chronic_out,
        "points_left_out": n_points_out,
        # per zone, its buildings whose class was hidden to keep its list linked
        "zones_detached": detached,
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
        key_figures=key,
        **charts,
        site={
            **published.site,
            **key_facts,
            "totals": {
                **published.site.get("totals", {}),
                "reports_counted": None if pd.isna(total) else int(total),
                "reports_counted_flag": FLAG if pd.isna(total) else "",
                "hotspots_95": int((pd.to_numeric(new["gi_bin"], errors="coerce") >= 2).sum())
                if "gi_bin" in new
                else None,
            },
            # the charts' tables are at the time of the monthly level (their labels)
            "series": {**published.site.get("series", {}), "freq": TIME_FREQ[level[1]]},
        },
    )
    site = with_published_trend(out.site, charts["category_series"], freq=TIME_FREQ[level[1]])
    out = replace(out, site=with_published_site_total(site))
    return Protection(out, audit, counts), new_ledger


def _note_categories(
    micro: pd.DataFrame, rule: ProfileRule, person_related: frozenset[str]
) -> pd.DataFrame:
    """The categories' totals as the method note publishes them: hidden (and kept so,
    ``locked``) for a person-related category under ``comite``, for every category
    under ``public`` (whose note shows none); the others left to the engine."""
    codes = sorted(set(micro["category"].unique()))
    hide = [rule.protect == "all" or code in person_related for code in codes]
    return pd.DataFrame(
        {"category": codes, "flag": [FLAG if h else "" for h in hide], "locked": hide}
    )


def _profile_cells(profile: pd.DataFrame) -> pd.DataFrame:
    """The count cells of the profile as published (building totals and building ×
    category, zeros left out) with their ``flag``: a building counted in its zone or
    the site (``level``, under ``public``) is its total alone, hidden; its categories
    are not published (:func:`~pipelines.publish.buildings.without_building_detail`)."""
    flat = pd.DataFrame({"n_reports": profile["n_reports"], "flag": profile["n_reports_flag"]})
    detail = profile
    if "level" in profile:
        detail = profile[(profile["level"] == LEVEL_FR["building"]).to_numpy()]
    long = long_profile(detail, CODES).rename(columns={"n_reports_flag": "flag"})
    both = pd.concat([flat, long[["n_reports", "flag"]]], ignore_index=True)
    return both[(both["flag"] == FLAG) | (both["n_reports"].fillna(0) > 0)]
