"""The building-level tables under a publication profile
(:mod:`pipelines.publish.protect`): the building profile's counts from the engine's
tables (:func:`protect_profile`), its before/after counts as sums of the monthly table
(:func:`before_after_of_monthly`), the zones' counts (:func:`protect_zones`), and the
chronic problems drawn from enough households (:func:`protect_chronic`,
:func:`chronic_counts`, :func:`chronic_categories_of`); under a coarsening profile, no
building-level figure for a building counted at a coarser level
(:func:`without_building_detail`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from pipelines.config.publication import ProfileRule
from pipelines.crs import metric_crs_of
from pipelines.io import list_cell
from pipelines.publish.cells import BUILDING_TABLES, FLAG, NO_ZONE, flagged, zone_of_building
from pipelines.publish.levels import LEVEL_FR, derived_sums
from pipelines.published import hidden
from pipelines.taxonomy import CODES
from pipelines.trends import Window
from pipelines.zones import zone_outline


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
    hidden_b = ids.isin(b.index[(b["flag"] == FLAG).to_numpy()])
    shown_n = ids.map(b["n_reports"])
    zero = ~ids.isin(b.index)
    n = shown_n.astype("Float64").where(~zero, 0.0)
    out["n_reports"], out["n_reports_flag"] = flagged(n, hidden_b)
    if "n_households" in out:  # the engine's, rounded like the reports where they are
        h = ids.map(b["n_households"]).astype("Float64").where(~zero, 0.0)
        out["n_households"], out["n_households_flag"] = flagged(h, hidden_b)
    bc = cells[BUILDING_TABLES["building_category"]]
    bc = bc.assign(building_id=bc["building_id"].astype(str)).set_index(["building_id", "category"])
    flags, values = by_category(bc["flag"], ids), by_category(bc["n_reports"], ids)
    for code in CODES:
        col = f"n_{code}"
        if col not in out:
            continue
        flag = pd.Series(flags(code), index=out.index)
        value = pd.Series(values(code), index=out.index)
        value = value.astype("Float64").where(flag.notna(), 0.0)
        out[col], out[f"{col}_flag"] = flagged(value, flag == FLAG)
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
    for col in ("gi_bin", "gi_bin_rate", "emerging_category"):
        if col in out:
            drop = few & out[col].notna()
            out[col] = out[col].where(~drop)
            out[f"{col}_flag"] = np.where(drop, FLAG, "")
            if col == "emerging_category" and "emerging_label_fr" in out:
                out["emerging_label_fr"] = out["emerging_label_fr"].where(~drop)
            if col == "gi_bin" and "gi_label" in out:  # the class in words: hidden alike
                out["gi_label"] = out["gi_label"].where(~drop)
    # A category's own Gi* class, by the same rule on that category's reports in the
    # building: hidden where they come from 1 to threshold - 1 households (in comite,
    # only where some of them are person-related), or where the building × category
    # count is hidden. A building with no report of the category keeps its class: its
    # neighbours' reports make it, no household of its own; unless the building's own
    # class is hidden, which its categories' classes would tell (on the demo, every hot
    # building of hidden class was hot in some category).
    class_hidden = out["gi_bin_flag"] == FLAG if "gi_bin_flag" in out else False
    if rule.protect != "none":
        pairs = ["building_id", "category"]
        counted = micro if rule.protect == "all" else micro[micro["person_related"]]
        n_all = by_category(micro.groupby(pairs)["household"].nunique(), ids)
        n_protected = by_category(counted.groupby(pairs)["household"].nunique(), ids)
        for code in CODES:
            col = f"gi_bin_{code}"
            if col not in out:
                continue
            n_h = pd.Series(n_all(code), index=out.index).fillna(0)
            n_p = pd.Series(n_protected(code), index=out.index).fillna(0)
            drop = (n_h > 0) & (n_h < rule.min_households) & (n_p > 0) | class_hidden
            if f"n_{code}_flag" in out:
                drop = drop | (out[f"n_{code}_flag"] == FLAG)
            drop = drop & out[col].notna()
            out[col] = out[col].where(~drop)
            out[f"{col}_flag"] = np.where(drop, FLAG, "")
    zones = cells[BUILDING_TABLES["zone"]].set_index("zone")
    zone = ids.map(zone_of_building(micro))
    zone_shown = zone.isin(zones.index[(zones["flag"] != FLAG).to_numpy()]) & (zone != NO_ZONE)
    out["level"] = np.where(
        ~hidden_b, LEVEL_FR["building"], np.where(zone_shown, LEVEL_FR["zone"], LEVEL_FR["site"])
    )
    return out


def by_category(cells: pd.Series, ids: pd.Series) -> Callable[[str], np.ndarray]:
    """A lookup of ``cells`` (indexed by building and category) for the buildings
    ``ids``: given a category, its value per building of ``ids`` (null where it has
    none). Speed only: one table of buildings × categories, not a key per category
    and building (0.05 s less on a bench site's profile of 2,842 buildings)."""
    wide = cells.unstack(1).reindex(ids.to_numpy()) if len(cells) else pd.DataFrame()

    def of(code: str) -> np.ndarray:
        if code in wide.columns:
            return wide[code].to_numpy()
        key = pd.MultiIndex.from_arrays([ids, pd.Series(code, index=ids.index)])
        return cells.reindex(key).to_numpy()

    return of


def window_labels(when: pd.Series, windows: tuple[Window, Window] | None) -> pd.Series:
    """``before``, ``after`` or ``outside`` for each date."""
    label = pd.Series("outside", index=when.index, dtype=object)
    for name, w in zip(("before", "after"), windows or (), strict=False):
        label = label.mask((when >= w.start) & (when < w.end), name)
    return label


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
    sums of the building's monthly cells in each window
    (:func:`~pipelines.publish.levels.derived_sums`); all hidden when the monthly table is
    not by building and month or the windows are not whole months."""
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
        out[f"n_reports_{name}"], out[f"n_reports_{name}_flag"] = flagged(value, flag == FLAG)
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
    out["n_reports"], out["n_reports_flag"] = flagged(value, flag == FLAG)
    return out


#: A zone is published when at least this many of its buildings show their class.
MIN_SHOWN_ZONE_BUILDINGS = 1


def profile_of_shown_classes(profile: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The profile beside :func:`zones_of_shown_classes`: a building whose class is
    hidden is in no zone, neither by its ``zone_id`` nor by its ``level`` (« zone »
    becomes « site »; its reports still count in its zone's, hidden then, and in the
    site's). Applied after the engine and its checks, which work on the true zones."""
    class_hidden = hidden(profile, "gi_bin")
    out = profile.copy()
    if "zone_id" in out:
        out["zone_id"] = out["zone_id"].mask(class_hidden)
    if "level" in out:
        out["level"] = out["level"].mask(
            class_hidden & (out["level"] == LEVEL_FR["zone"]), LEVEL_FR["site"]
        )
    return out


def zones_of_shown_classes(
    zones: gpd.GeoDataFrame,
    profile: gpd.GeoDataFrame,
    *,
    counts_exact: bool = False,
    recounted: Collection[str] = (),
) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    """The zones as a profile publishes them: made of the buildings whose hotspot class
    the profile shows only.

    A zone is made of hot buildings, so listing a building in a zone, counting it in the
    zone's ``n_buildings`` or drawing its footprint in the zone's outline says it is hot
    as surely as its ``gi_bin``, which the profile hides for a building drawn from too
    few households (``gi_bin_flag`` « s », :func:`protect_profile`). So each zone keeps
    the buildings whose class is shown: ``building_ids``, ``n_buildings``, ``area_m2``
    and ``max_gi_bin`` are theirs and the outline is redrawn around their footprints
    alone (:func:`pipelines.zones.zone_outline`), without bridging the gaps between
    them as the zones stage does: a bridge would cover a building left out between two
    shown ones (on the demo, one of Z4's). The buildings listed are linked among
    themselves (within the zones' ``gap_m``): those a zone would list apart from its
    largest linked group had their class hidden before
    (:mod:`pipelines.publish.detached`), since a list in parts tells that buildings not
    shown link them, and which ones where a single building of hidden class can.
    A zone left with fewer than
    :data:`MIN_SHOWN_ZONE_BUILDINGS` such buildings is not published. The zone's
    ``n_reports`` (the engine's zone cell) counts the reports of every building of the
    zone: where a building of the zone is left out, it would tell, against the counts of
    the buildings shown, that a building with hidden class belongs to the zone, so it is
    hidden (``n_reports_flag`` « s »). Hiding a published count once the engine has run
    takes no equation from an attacker. With ``counts_exact`` (``public``, where those
    buildings were counted outside every zone before the engine:
    :func:`pipelines.publish.protect.outside_zones_if_class_hidden`), the zone's count
    is its listed buildings' and stays as the engine left it, except in the
    ``recounted`` zones, which lost buildings the engine counted in them (their class
    hidden after it: :mod:`pipelines.publish.detached`).

    Parameters
    ----------
    zones
        The published zones (``zone_id``, ``building_ids``, ``geometry``; the columns
        of :func:`pipelines.zones.stage.hot_zones` it has).
    profile
        The protected building profile (``building_id``, ``geometry``, ``gi_bin_flag``
        when the profile hides classes).

    Returns
    -------
    tuple
        The zones (same columns and CRS) and the counts for the audit:
        ``buildings_left_out``, ``zones_left_out``, ``zone_counts_hidden``.
    """
    counts = {"buildings_left_out": 0, "zones_left_out": 0, "zone_counts_hidden": 0}
    if zones.empty or "building_ids" not in zones:
        return zones, counts
    p = profile.assign(building_id=profile["building_id"].astype(str))
    shown = p[~hidden(p, "gi_bin").to_numpy()]
    metric = shown.to_crs(metric_crs_of(shown)).set_index("building_id")
    bins = pd.to_numeric(metric["gi_bin"], errors="coerce") if "gi_bin" in metric else None
    out = zones.copy()
    keep: list[bool] = []
    geoms = list(out.geometry.to_crs(metric.crs))
    for i, value in enumerate(out["building_ids"]):
        members = list_cell(value)
        kept = [b for b in members if b in metric.index]
        counts["buildings_left_out"] += len(members) - len(kept)
        keep.append(len(kept) >= MIN_SHOWN_ZONE_BUILDINGS)
        if len(kept) == len(members) or not keep[-1]:
            continue
        part = metric.loc[kept]
        out.at[out.index[i], "building_ids"] = kept
        geoms[i] = zone_outline(part.geometry.to_numpy(), gap_m=0.0)
        for col, v in (
            ("n_buildings", len(kept)),
            ("area_m2", round(float(part.area.sum()), 1)),
            ("max_gi_bin", int(bins.loc[kept].max()) if bins is not None else pd.NA),
        ):
            if col in out:
                out.at[out.index[i], col] = v
        if "n_reports" in out and (
            not counts_exact or str(out.at[out.index[i], "zone_id"]) in recounted
        ):
            out.at[out.index[i], "n_reports"] = pd.NA
            out.at[out.index[i], "n_reports_flag"] = FLAG
            counts["zone_counts_hidden"] += 1
    out = out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=metric.crs)).to_crs(zones.crs)
    mask = np.asarray(keep, dtype=bool)
    counts["zones_left_out"] = int((~mask).sum())
    return out[mask].reset_index(drop=True), counts


def protect_chronic(
    chronic: pd.DataFrame, micro: pd.DataFrame, rule: ProfileRule
) -> tuple[pd.DataFrame, int]:
    """The chronic problems drawn from enough households (in their window: from
    ``first_date`` to ``last_date``); the number left out."""
    if chronic.empty or rule.protect == "none":
        return chronic, 0
    # Each row's reports by their building × category group, not by comparing the whole
    # microdata per row: a bench tile's 729 rows, 5.5 s of CPU -> 1.2 s (comité profile).
    groups: Mapping[Any, Any] = micro.groupby(["building_id", "category"], sort=False).indices
    when_all = pd.to_datetime(micro["reported_at"]).to_numpy()
    person_all = micro["person_related"].to_numpy()
    household_all = micro["household"].to_numpy()
    none = np.empty(0, dtype=np.intp)
    # each row's window from its first day to the end of its last, its dates read once
    # for the whole table (2,000 scalar parses were half the step on a bench site)
    first = _days(chronic.get("first_date"), len(chronic))
    last = _days(chronic.get("last_date"), len(chronic))
    windowed = (first.notna() & last.notna()).to_numpy()
    starts, ends = first.to_numpy(), (last + pd.Timedelta(days=1)).to_numpy()
    keep = []
    rows = zip(chronic["building_id"].astype(str), chronic["category"].astype(str), strict=True)
    for i, key in enumerate(rows):
        at = np.asarray(groups.get(key, none))
        if windowed[i]:
            when = when_all[at]
            at = at[(when >= starts[i]) & (when < ends[i])]
        person = bool(person_all[at].any())
        applies = rule.protect == "all" or person
        n = len(at)
        _, per_household = np.unique(household_all[at], return_counts=True)
        top = per_household.max() if n else 0
        ok = not applies or (
            len(per_household) >= rule.min_households
            and not (n > 1 and top >= rule.dominance_share * n)
        )
        keep.append(ok)
    mask = pd.Series(keep, index=chronic.index, dtype=bool)
    return chronic[mask].reset_index(drop=True), int((~mask).sum())


def _days(values: pd.Series | None, n: int) -> pd.Series:
    """``values`` (a chronic row's first or last date, as the trends stage writes them:
    ISO dates) as days (midnight), NaT where absent or unreadable; a text in another
    form is read alone, as :func:`pandas.to_datetime` reads it."""
    if values is None:
        return pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]")
    text = values.astype(str)
    out = pd.to_datetime(text, format="ISO8601", errors="coerce")
    other = out.isna() & values.notna()
    if other.any():
        out = out.mask(other, text[other].map(lambda t: pd.to_datetime(t, errors="coerce")))
    return out.dt.normalize()


def chronic_counts(chronic: pd.DataFrame, profile: pd.DataFrame, rule: ProfileRule) -> pd.DataFrame:
    """The chronic rows' counts as the profile publishes them: ``n_reports_total`` is the
    building × category cell (null, flagged, when hidden); ``n_reports_in_window``
    rounded like every count; the report dates, and the rows on a hidden cell, left out
    outside ``interne``; the window's first and last dates too under ``public``."""
    out = chronic.copy()
    p = profile.assign(building_id=profile["building_id"].astype(str)).set_index("building_id")
    # each row's cell read by position, per category (one lookup per row was a
    # DataFrame.at and a one-value Series: 0.4 s on a bench site's 700 rows)
    row = p.index.get_indexer(pd.Index(out["building_id"].astype(str)))
    cols = ("n_" + out["category"].astype(str)).to_numpy()
    total = np.full(len(out), np.nan)
    flag = np.full(len(out), FLAG, dtype=object)
    for col in dict.fromkeys(cols):
        at = np.flatnonzero((cols == col) & (row >= 0))
        if col not in p or not len(at):
            continue
        values = pd.to_numeric(p[col], errors="coerce").astype(float).to_numpy()
        total[at] = values[row[at]]
        flag[at] = p[f"{col}_flag"].astype(str).to_numpy()[row[at]]
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
    if rule.protect == "all":
        # Nor the window's first and last report dates where every cell needs its
        # households (public): two reports' days at a named building, in a pack that
        # publishes no date finer than its periods (the map said « du 21/12/2024 au
        # 17/03/2025 » on Bondy's open-data pack).
        out = out.drop(columns=[c for c in ("first_date", "last_date") if c in out])
    out["n_reports_in_window_flag"] = ""
    return out


def chronic_categories_of(profile: pd.DataFrame, chronic: pd.DataFrame | None) -> pd.Series:
    """The profile's ``chronic_categories`` as a profile publishes them, aligned on
    ``profile.index``: per building, the categories of its published chronic rows
    (``chronic`` once :func:`protect_chronic` and :func:`chronic_counts` kept them)
    whose building × category count (``n_<category>``) the profile shows; null when
    none is left, and for every building without a ``chronic`` table.

    The fact sheet lists these under « Problèmes chroniques »: a category it hides
    (« < 3 ») is not listed there either (the hostile run found 103 such cases on the
    public Bondy sheets), as a hot building drawn from too few households loses its
    ``gi_bin``.
    """
    out = pd.Series(pd.NA, index=profile.index, dtype="string", name="chronic_categories")
    if chronic is None or chronic.empty or "building_id" not in chronic:
        return out
    kept = chronic.assign(building_id=chronic["building_id"].astype(str))
    kept = kept.assign(category=kept["category"].astype(str)).drop_duplicates(
        ["building_id", "category"]
    )
    p = profile.assign(building_id=profile["building_id"].astype(str)).set_index("building_id")
    shown = [
        not (f"n_{c}_flag" in p and b in p.index and p.at[b, f"n_{c}_flag"] == FLAG)
        for b, c in zip(kept["building_id"], kept["category"], strict=True)
    ]
    kept = kept[shown]
    codes = kept.sort_values("category").groupby("building_id")["category"].agg(", ".join)
    return out.fillna(profile["building_id"].astype(str).map(codes).astype("string"))


def without_building_detail(profile: pd.DataFrame, rule: ProfileRule) -> pd.DataFrame:
    """Under a coarsening profile (``public``), a building whose reports are counted in
    its zone or the site (``level`` other than « bâtiment ») publishes no count of its
    own: every ``n_<category>``, ``n_households`` and before/after count null with its
    ``_flag`` « s »; others profiles' buildings as they are.

    Its category cells were hidden where it had reports and exact zeros elsewhere, so
    the zeros told which categories it had (hostile run A4: way/1049309605, 6 dwellings,
    level « site », 0 for 7 categories). Blanking them all, rather than leaving the
    building out of the pack, keeps the open-data tables in step with the map, which
    draws the building « < 11 », and keeps its ``level`` (where its reports are counted).
    Field staff's ``n_observations`` (rounded, not households') stay.
    """
    if not rule.coarsen or "level" not in profile:
        return profile
    out = profile.copy()
    coarse = (out["level"] != LEVEL_FR["building"]).to_numpy()
    if not coarse.any():
        return out
    columns = [f"n_{code}" for code in CODES] + [
        "n_households", "n_reports", "n_reports_before", "n_reports_after", "n_reports_change",
    ]  # fmt: skip
    for col in columns:
        if col in out:
            out[col] = pd.to_numeric(out[col], errors="coerce").astype("Int64").mask(coarse)
            flag = out[f"{col}_flag"] if f"{col}_flag" in out else pd.Series("", index=out.index)
            out[f"{col}_flag"] = np.where(coarse, FLAG, flag.fillna("").astype(str))
    return out
