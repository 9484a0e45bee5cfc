"""The published action table (``published/actions.parquet``, contract of issue 17 §3)
and the ``actions`` object of ``site.json``, under each publication profile.

The table is built from the actions stage's ``actions.parquet``: one row per action
kept (those removed from the register included, flagged), dates as ISO text, statuses
in their canonical French spelling, the effect's ``verdict`` and ``effect_fr``, and the
target's reports in the effect's windows (``n_reports_before``, ``n_reports_after``).

The publication rules (decided here, said in the method note):

- **Every profile**: the free texts (``problem``, ``decision``, ``funding``) go through
  the ingestion's scrubber again (no name, phone, e-mail or flat number), whatever the
  actions stage did.
- **comite**: for an action about a person-related category (or about every
  category), where fewer households than the profile's threshold reported on the
  target in either window, both counts are hidden (null, ``n_…_flag`` « s »), and so is
  the effect (``verdict`` null, ``effect_fr`` says why, ``effect_flag`` « s »): the
  effect's percentages and interval give the counts back. So are they where the
  target's windows cover a cell the monthly table hides (one of its buildings, months
  and categories): the target's total less the published cells would give the hidden
  ones back. What remains public: sums of cells that are all published, over whole or
  partial months (a partial month splits a published cell in two, by date; residual,
  said in the method note). An action aimed at a hotspot zone lists and outlines only
  the zone's buildings whose class is shown, as the published zones do, and its counts
  and effect are hidden when a building was left out (:func:`actions_of_shown_classes`).
- **public**: no free text at all (the committee's working notes are not open data,
  even scrubbed); no target count (a target is often one building, which the public
  profile never shows alone); the verdict only where both windows have at least the
  threshold of households, without its sentence.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from pipelines.actions import drawn_outline_parts, in_drawn_area
from pipelines.config.publication import ProfileRule
from pipelines.crs import WGS84
from pipelines.ingest import scrub_series
from pipelines.io import list_cell
from pipelines.published import (
    ACTION_DATE_COLUMNS,
    ACTION_DETAILS,
    ACTION_TEXT_COLUMNS,
    FLAG_SUFFIX,
    HIDDEN_FLAG,
    hidden,
)

#: Columns of ``published/actions.parquet``, in order (geometry last).
ACTION_COLUMNS = (
    "action_id",
    "origin",
    "committee_date",
    "committee_kind",
    "target_label",
    "building_ids",
    "zone_id",
    *ACTION_DETAILS,
    "is_overdue",
    "is_removed",
    "is_reopened",
    "status_held",
    "updated_since_last_committee",
    "funding",
    "verdict",
    "effect_fr",
    "effect_flag",
    "n_reports_before",
    "n_reports_before_flag",
    "n_reports_after",
    "n_reports_after_flag",
)
FLAGS = ("is_overdue", "is_removed", "is_reopened", "status_held", "updated_since_last_committee")
#: The follow-up figures ``site.json`` takes from ``actions_summary.json``.
FOLLOW_UP_KEYS = (
    "n_actions",
    "by_status",
    "n_overdue",
    "share_updated_since_last_committee",
    "last_committee_date",
    "n_removed",
    "n_drafts",
)
#: What ``effect_fr`` says when the effect is hidden (the threshold is filled in).
HIDDEN_EFFECT_FR = (
    "effet non publié : moins de {n} ménages ont signalé sur la cible dans l'une des "
    "périodes comparées (secret statistique)"
)
#: … and when the target's windows cover a hidden cell of the monthly table.
COVERING_EFFECT_FR = (
    "effet non publié : il redonnerait des cases masquées du tableau mensuel de la cible "
    "(secret statistique)"
)
#: … and when the target is a hotspot zone some of whose buildings are not shown.
ZONE_EFFECT_FR = (
    "effet non publié : la zone visée compte des bâtiments dont la classe de point chaud "
    "n'est pas publiée (secret statistique)"
)


def _iso(values: pd.Series) -> list[str | None]:
    dates = pd.to_datetime(values, errors="coerce")
    return [None if pd.isna(d) else d.date().isoformat() for d in dates]


def _text(values: pd.Series) -> pd.Series:
    """Text scrubbed of personal data, missing values kept missing."""
    clean = values.astype(object).where(values.notna(), None)
    if clean.empty:
        return clean
    text, _ = scrub_series(clean.astype("string"))
    return text.astype(object).where(clean.notna(), None)


def _count(values: Any, n: int) -> pd.Series:
    if values is None:
        return pd.Series([None] * n, dtype="Float64")
    return pd.to_numeric(pd.Series(values), errors="coerce").astype("Float64")


def actions_table(actions: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The action table every reader sees, exact (no profile applied yet): the columns of
    :data:`ACTION_COLUMNS`, EPSG:4326, in the stage's order.

    Parameters
    ----------
    actions
        ``actions.parquet`` of the actions stage.
    """
    a = actions.to_crs(WGS84).reset_index(drop=True) if len(actions) else actions
    n = len(a)
    out = pd.DataFrame(index=pd.RangeIndex(n))
    for c in ACTION_COLUMNS:
        out[c] = pd.Series([None] * n, dtype=object)
    for c in ("action_id", "origin", "committee_kind", "target_label", "level", "action_type",
              "responsibility", "lead_partner", "status", "verdict", "effect_fr"):  # fmt: skip
        if c in a:
            out[c] = a[c].astype(object).where(a[c].notna(), None).to_numpy()
    zone = a["zone_id"] if "zone_id" in a else pd.Series([None] * n)
    out["zone_id"] = zone.astype(object).where(zone.notna(), None).to_numpy()
    for c, source in (("building_ids", "building_ids"), ("categories", "categories")):
        values = a[source] if source in a else [()] * n
        out[c] = [";".join(list_cell(v)) for v in values]
    for c in ACTION_DATE_COLUMNS:
        out[c] = _iso(a[c]) if c in a else [None] * n
    for c in FLAGS:
        out[c] = a[c].fillna(False).astype(bool).to_numpy() if c in a else np.zeros(n, bool)
    for c in ACTION_TEXT_COLUMNS:
        out[c] = _text(a[c]).to_numpy() if c in a else [None] * n
    out["n_reports_before"] = _count(a.get("n_before"), n).to_numpy()
    out["n_reports_after"] = _count(a.get("n_after"), n).to_numpy()
    for c in ("n_reports_before", "n_reports_after", "effect"):
        out[c + FLAG_SUFFIX] = ""
    geometry = a.geometry.to_numpy() if n else []
    return gpd.GeoDataFrame(out[list(ACTION_COLUMNS)], geometry=list(geometry), crs=WGS84)


def _applies(categories: str, rule: ProfileRule, person_related: frozenset[str]) -> bool:
    """Whether the profile protects an action's target counts: every action under
    ``protect = "all"``; under ``person_related``, an action about a person-related
    category or about every category (none given)."""
    if rule.protect == "all":
        return True
    if rule.protect == "none":
        return False
    codes = [c for c in categories.split(";") if c]
    return not codes or any(c in person_related for c in codes)


def _hides_a_cell(actions: pd.DataFrame, monthly: pd.DataFrame | None) -> np.ndarray:
    """Per action, whether its target's windows cover a hidden cell of the published
    monthly table (a building of the target, a month of the windows, one of its
    categories): publishing the target's total would then give the hidden cells back,
    less the published ones. True for every action when the monthly table is not per
    building and month (nothing to compare with)."""
    n = len(actions)
    if monthly is None or not {"building_id", "month", "category"} <= set(monthly.columns):
        return np.ones(n, bool)
    flags = monthly.get("n_reports" + FLAG_SUFFIX)
    if flags is None:
        return np.zeros(n, bool)
    hidden = monthly[(flags == HIDDEN_FLAG).to_numpy()]
    if (
        hidden["building_id"].isna().any()
        or not hidden["month"].astype(str).str.fullmatch(r"\d{4}-\d{2}").all()
    ):
        return np.ones(n, bool)
    cells: dict[str, list[tuple[str, str]]] = {}
    for b, m, c in zip(hidden["building_id"], hidden["month"], hidden["category"], strict=True):
        cells.setdefault(str(b), []).append((str(m), str(c)))
    out = np.zeros(n, bool)
    starts = pd.to_datetime(actions.get("before_start", pd.Series([None] * n)), errors="coerce")
    ends = pd.to_datetime(actions.get("after_end", pd.Series([None] * n)), errors="coerce")
    for k, (ids, codes, start, end) in enumerate(
        zip(actions["building_ids"], actions["categories"], starts, ends, strict=True)
    ):
        if pd.isna(start) or pd.isna(end):
            continue
        first, last = start.strftime("%Y-%m"), end.strftime("%Y-%m")
        wanted = set(list_cell(codes))
        out[k] = any(
            first <= m <= last and (not wanted or c in wanted)
            for b in list_cell(ids)
            for m, c in cells.get(b, ())
        )
    return out


def protect_actions(
    table: gpd.GeoDataFrame,
    actions: pd.DataFrame,
    *,
    rule: ProfileRule,
    person_related: frozenset[str],
    monthly: pd.DataFrame | None = None,
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """The action table under a profile's rule (see the module's docstring).

    Parameters
    ----------
    table
        :func:`actions_table`.
    actions
        ``actions.parquet``, aligned with ``table``: ``n_households_before`` and
        ``n_households_after`` (the effect's distinct households on the target),
        ``before_start``, ``after_end``, ``building_ids``, ``categories``.
    rule, person_related
        The profile's rule and the person-related categories.
    monthly
        The published monthly table under the same rule (its hidden cells, « s »).

    Returns
    -------
    tuple
        The table and its audit: ``rows``, ``effects_hidden``, ``counts_hidden``,
        ``free_text`` (« nettoyé » or « non publié »).
    """
    out = table.copy()
    n = len(out)
    audit: dict[str, Any] = {"rows": n, "effects_hidden": 0, "counts_hidden": 0}
    if rule.is_exact:
        audit["free_text"] = "nettoyé"
        return out, audit
    households = np.minimum(
        _count(actions.get("n_households_before"), n).fillna(0).to_numpy(float),
        _count(actions.get("n_households_after"), n).fillna(0).to_numpy(float),
    )
    measured = (out["n_reports_before"].notna() | out["n_reports_after"].notna()).to_numpy(bool)
    applies = np.array(
        [_applies(str(c), rule, person_related) for c in out["categories"]], dtype=bool
    )
    small = applies & measured & (households < rule.min_households)
    covering = applies & measured & ~small & _hides_a_cell(actions, monthly)
    few = small | covering
    public = rule.protect == "all"
    hide_counts = measured & (np.ones(n, bool) if public else few)
    for c in ("n_reports_before", "n_reports_after"):
        out.loc[hide_counts, c] = pd.NA
        out.loc[hide_counts, c + FLAG_SUFFIX] = HIDDEN_FLAG
    out.loc[few, "verdict"] = None
    out.loc[small, "effect_fr"] = HIDDEN_EFFECT_FR.format(n=rule.min_households)
    out.loc[covering, "effect_fr"] = COVERING_EFFECT_FR
    out.loc[few, "effect" + FLAG_SUFFIX] = HIDDEN_FLAG
    audit["effects_hidden"] = int(few.sum())
    audit["effects_hidden_covering_a_hidden_cell"] = int(covering.sum())
    audit["counts_hidden"] = int(hide_counts.sum())
    if public:
        for c in ACTION_TEXT_COLUMNS:
            out[c] = None
        out["effect_fr"] = None
        audit["free_text"] = "non publié"
    else:
        audit["free_text"] = "nettoyé"
    return out, audit


def action_cells(table: pd.DataFrame, audit: dict[str, Any]) -> dict[str, Any]:
    """The action table's line of the publication summary (``site.json``,
    method note): its target counts, how many hidden."""
    cells = int(table["n_reports_before"].notna().sum() + table["n_reports_after"].notna().sum())
    hidden = int(
        (table["n_reports_before" + FLAG_SUFFIX] == HIDDEN_FLAG).sum()
        + (table["n_reports_after" + FLAG_SUFFIX] == HIDDEN_FLAG).sum()
    )
    total = cells + hidden
    return {
        "table": "actions",
        "cells": total,
        "hidden": hidden,
        "hidden_share": round(hidden / total, 4) if total else 0.0,
        "coarsened": 0,
        "coarsened_share": 0.0,
        "level": "cible",
        "effects_hidden": audit.get("effects_hidden", 0),
    }


def actions_facts(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The ``actions`` object of ``site.json``: the follow-up figures of the actions
    stage (``actions_summary.json``, :func:`pipelines.actions.stage.follow_up`), which
    the published table's flags add up to: ``n_actions`` (not removed), ``by_status``,
    ``n_overdue``, ``share_updated_since_last_committee`` (0–1, among the register's
    actions not removed; ``None`` before any committee), ``last_committee_date`` (ISO),
    ``n_removed``, ``n_drafts`` (actions proposed from the map's notes)."""
    return {k: summary.get(k) for k in FOLLOW_UP_KEYS}


def actions_of_shown_classes(
    table: gpd.GeoDataFrame,
    actions: pd.DataFrame,
    zones: gpd.GeoDataFrame | None,
    published_zones: gpd.GeoDataFrame | None,
    profile: gpd.GeoDataFrame,
) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    """The action table with its zone targets made of the buildings whose hotspot class
    the profile shows, as the published zones are
    (:func:`pipelines.publish.buildings.zones_of_shown_classes`).

    An action aimed at a hotspot zone (« Z3 ») is resolved by the actions stage to the
    zone's buildings and outline, all of them: listed in the action's ``building_ids``
    or drawn in its outline, a building whose class the profile hides (``gi_bin_flag``
    « s ») would be told hot as surely as by its class. So such a building leaves the
    action's ``building_ids`` unless the committee also aimed at it otherwise (named
    or inside a drawn area), and the action's outline is redrawn from its named
    buildings' footprints, the zones as published and the drawn area. Its counts and
    effect are hidden (« s », :data:`ZONE_EFFECT_FR`): they count the reports of the
    buildings left out, which the published monthly cells of the buildings listed
    would tell apart, as a zone's own count (hidden likewise).

    Parameters
    ----------
    table
        The action table (:func:`actions_table`, its profile applied).
    actions
        ``actions.parquet``, aligned with ``table``: ``zone_ids``, ``target_buildings``,
        ``target_geometry``, ``building_ids``.
    zones, published_zones
        ``zones.parquet`` of the zones stage (every member) and the zones as published
        (``None`` without zones).
    profile
        The protected building profile (``building_id``, ``geometry``,
        ``gi_bin_flag``).

    Returns
    -------
    tuple
        The table and ``{"action_buildings_left_out": …, "action_zone_effects_hidden":
        …}`` for the audit.
    """
    counts = {"action_buildings_left_out": 0, "action_zone_effects_hidden": 0}
    if zones is None or zones.empty or table.empty or "zone_ids" not in actions:
        return table, counts
    class_hidden = set(profile["building_id"].astype(str)[hidden(profile, "gi_bin").to_numpy()])
    if not class_hidden:
        return table, counts
    members = {
        str(z): set(list_cell(b))
        for z, b in zip(zones["zone_id"], zones["building_ids"], strict=True)
    }
    outline = (
        {}
        if published_zones is None
        else dict(
            zip(
                published_zones["zone_id"].astype(str),
                published_zones.to_crs(WGS84).geometry,
                strict=True,
            )
        )
    )
    footprint = dict(
        zip(profile["building_id"].astype(str), profile.to_crs(WGS84).geometry, strict=True)
    )
    out = table.copy()
    geoms = list(out.geometry)
    for k in range(len(out)):
        zone_ids = [str(z) for z in list_cell(actions["zone_ids"].iloc[k])]
        in_zones = set().union(*(members.get(z, set()) for z in zone_ids)) if zone_ids else set()
        named = {str(b) for b in list_cell(actions["target_buildings"].iloc[k])}
        drawn = actions["target_geometry"].iloc[k] if "target_geometry" in actions else None
        drawn = drawn if isinstance(drawn, BaseGeometry) else None
        ids = [b for b in str(out["building_ids"].iloc[k] or "").split(";") if b]
        in_drawn = {
            b
            for b in ids
            if drawn is not None and b in footprint and in_drawn_area(drawn, footprint[b])
        }
        left = [b for b in ids if b in in_zones & class_hidden and b not in named | in_drawn]
        if not left:
            continue
        kept = [b for b in ids if b not in left]
        out.iat[k, out.columns.get_loc("building_ids")] = ";".join(kept)
        shapes = [footprint[b] for b in named if b in footprint]
        shapes += [outline[z] for z in zone_ids if z in outline]
        if drawn is not None:  # as the actions stage draws it
            shapes += drawn_outline_parts(drawn, [footprint[b] for b in ids if b in in_drawn])
        geoms[k] = shapely.union_all(shapes) if shapes else None
        measured = any(
            pd.notna(out[c].iloc[k]) or out[c + FLAG_SUFFIX].iloc[k] == HIDDEN_FLAG
            for c in ("n_reports_before", "n_reports_after")
        )
        if measured:
            for c in ("n_reports_before", "n_reports_after"):
                out.iat[k, out.columns.get_loc(c)] = pd.NA
                out.iat[k, out.columns.get_loc(c + FLAG_SUFFIX)] = HIDDEN_FLAG
            out.iat[k, out.columns.get_loc("verdict")] = None
            out.iat[k, out.columns.get_loc("effect_fr")] = ZONE_EFFECT_FR
            out.iat[k, out.columns.get_loc("effect" + FLAG_SUFFIX)] = HIDDEN_FLAG
            counts["action_zone_effects_hidden"] += 1
        counts["action_buildings_left_out"] += len(left)
    out = out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=WGS84))
    return out, counts
