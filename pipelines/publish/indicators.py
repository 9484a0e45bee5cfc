"""Publication of the indicators per site and quarter (issue 18,
:mod:`pipelines.indicators`): the profile's rule on their counts.

Under ``comite`` a cell site × quarter × category holding a person-related report and
built from fewer than 3 distinct households is hidden: its value null, its flag « s »
(never 0 or blank), and so is every figure drawn from the same reports (rates per 100
dwellings, closing delays, backlog of that cell). The engine of
:mod:`pipelines.stats.disclosure` protects together the four tables the indicators
publish: quarter × category, quarter, and the same two over the buildings with RPLS
dwellings (the numerators of the rates), so that no hidden cell is recomputed by
difference between them.

The engine protects these four tables among themselves only. Against the site's other
published tables, :func:`consistent_with_published` then shows a figure only when it is a
sum of cells the site already publishes: a quarter × category count only when none of its
three months is hidden in ``category_series``, a quarter total only when none of its
month totals is, an RPLS part only when none of the building × month cells it sums
(``monthly``) is hidden. So the indicators add no equation an attacker could use: what
they show, ``category_series`` and ``monthly`` showed already. The indicators count every
report, the pack leaves its late ones out (:mod:`pipelines.publish.left_out`, the
ledger's own test): a cell holding one, and its quarter, are hidden, and under an exact
profile any count that is not the sum of its shown months, since the difference was the
number of reports left out of that cell. (A joint protection, the
indicators passed as ``given`` to :func:`pipelines.publish.cells.protect_tables` inside
the publish step's own call, would hide less; it is left for later.)
The trend of each quarter (Mann-Kendall and Sen's slope over 12 months) is that of the
site's monthly series as ``category_series`` publishes it, withheld where one of its
months is hidden or the series is not by month
(:func:`pipelines.publish.headline.published_quarter_trends`). The figures drawn from
more than a quarter's own reports (backlog, recurrence, lifts, watch level and
entrances: the recurrent and lift-equipped buildings are shown, not protected, where
the profile does not protect every cell) are
counted over the pack's reports, its late ones out
(:func:`pipelines.publish.left_out.pack_figures`). The hotspot buildings and the kinds
of emerging hotspots are those the published building profile shows
(:func:`with_shown_hotspots`): counted over every
building, they told how many buildings whose class the profile hides are hot. The
proposed watch level and its count of buildings are those of the entrances the profile
lists, hidden under ``public`` (:mod:`pipelines.publish.watch`). Under ``public``
(every cell protected) the lift counts (the lift-equipped buildings too), recurrence and
backlog (the site's and each category's: hidden with its cell and rounded, it still
counted reports of earlier quarters, from fewer households than the threshold) are
hidden outright (:data:`UNPROTECTED_COLUMNS`, ``other_flag``), since the engine does not
protect them, and the counts shown are rounded as the profile's other tables
(:func:`rounded`). The open-data pack's indicators are
published by ``publish_public`` beside its tables, under its profile
(:func:`run_indicators`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config import Config, SiteConfig
from pipelines.config.publication import ProfileRule
from pipelines.errors import PublicationError
from pipelines.indicators import (
    DWELLING_COLUMNS,
    LIFT,
    REPORT_COLUMNS,
    REPORT_OPTIONAL,
    emerging_categories,
    hotspot_buildings,
    site_mark,
)
from pipelines.io import (
    read_geoparquet,
    read_geoparquet_attributes,
    read_json,
    write_csv,
    write_json,
    write_parquet,
    write_text,
)
from pipelines.publish.cells import microdata, protect_tables
from pipelines.publish.consistency import consistent_with_published
from pipelines.publish.headline import published_quarter_trends
from pipelines.publish.indicator_cells import (
    CELL_COLUMNS,
    LIFT_COLUMNS,
    LIFT_DAYS,
    NOT_PUBLISHED,
    RPLS_COLUMNS,
    SITE_CELL_COLUMNS,
    UNPROTECTED_COLUMNS,
    hidden_keys,
    hide,
    hide_lift_days,
)
from pipelines.publish.ledger import read_ledger, site_ledger_path
from pipelines.publish.ledger_check import unprotected_tables
from pipelines.publish.left_out import (
    late_of,
    left_out_audit,
    left_out_cells,
    pack_figures,
    unequal_cells,
)
from pipelines.publish.stage import person_related_of
from pipelines.publish.watch import protect_entrances, with_shown_watch
from pipelines.published import FILES as PUBLISHED_FILES
from pipelines.published import INDICATOR_FILES, SITE_MARKS
from pipelines.reports import UNPLACED_COLUMNS
from pipelines.stats.disclosure import round_half_up

#: The tables the engine protects together.
TABLES: tuple[tuple[str, ...], ...] = (
    ("quarter", "category"),
    ("quarter",),
    ("quarter", "category", "rpls"),
    ("quarter", "rpls"),
)


def _optional_table(path: Path) -> pd.DataFrame | None:
    return pd.read_parquet(path) if path.exists() else None


def protect_indicators(
    site: pd.DataFrame,
    categories: pd.DataFrame,
    micro: pd.DataFrame,
    rule: ProfileRule,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The indicator tables under ``rule``.

    Parameters
    ----------
    site, categories
        ``indicators_site.parquet`` and ``indicators_category.parquet``.
    micro
        :func:`pipelines.publish.cells.microdata` of the site's reports with a column
        ``rpls`` (« oui » on a building with RPLS dwellings, else « non »).
    rule
        The profile's rule.

    Returns
    -------
    tuple
        The two tables with ``cell_flag``, ``rpls_flag`` and ``other_flag`` (« s »:
        hidden, the values null) and, on the site table, ``lift_flag``; and the
        engine's audit.
    """
    if rule.protect == "none" or micro.empty:
        no = pd.Series(False, index=categories.index)
        cats = hide(hide(categories, CELL_COLUMNS, no, "cell_flag"), RPLS_COLUMNS, no, "rpls_flag")
        cats = hide(cats, (), no, "other_flag")
        none = pd.Series(False, index=site.index)
        out = hide(site, SITE_CELL_COLUMNS, none, "cell_flag")
        out = hide(hide(out, RPLS_COLUMNS, none, "rpls_flag"), LIFT_COLUMNS, none, "lift_flag")
        out = hide(out, (LIFT_DAYS,), none, "lift_days_flag")
        return hide(out, (), none, "other_flag"), cats, {"profile": rule.name, "tables": {}}
    protected = protect_tables(micro, TABLES, rule)
    tables, audit = protected.tables, protected.audit
    by_cat = hidden_keys(tables[("quarter", "category")], ["quarter", "category"])
    by_cat_rpls = hidden_keys(
        tables[("quarter", "category", "rpls")].query("rpls == 'oui'"), ["quarter", "category"]
    )
    by_q = hidden_keys(tables[("quarter",)], ["quarter"])
    by_q_rpls = hidden_keys(tables[("quarter", "rpls")].query("rpls == 'oui'"), ["quarter"])
    key = pd.Series(
        list(
            zip(categories["quarter"].astype(str), categories["category"].astype(str), strict=True)
        ),
        index=categories.index,
    )
    cats = hide(categories, CELL_COLUMNS, key.isin(by_cat), "cell_flag")
    # A hidden cell's RPLS part goes with it (it would give the cell's lower bound).
    cats = hide(cats, RPLS_COLUMNS, key.isin(by_cat_rpls | by_cat), "rpls_flag")
    q = site["quarter"].astype(str).map(lambda v: (v,))
    out = hide(site, SITE_CELL_COLUMNS, q.isin(by_q), "cell_flag")
    # The lift figures are the quarter's lift cell: hidden with it (were it hidden only
    # to protect another cell, showing it here would undo that protection).
    lift = site["quarter"].astype(str).map(lambda v: (v, LIFT))
    out = hide(out, LIFT_COLUMNS, lift.isin(by_cat), "lift_flag")
    out = hide_lift_days(out, by_cat)
    out = hide(out, RPLS_COLUMNS, q.isin(by_q_rpls | by_q), "rpls_flag")
    unprotected = UNPROTECTED_COLUMNS if rule.protect == "all" else ()
    everything = pd.Series(rule.protect == "all", index=site.index)
    out = hide(out, unprotected, everything, "other_flag")
    every_cell = pd.Series(rule.protect == "all", index=cats.index)
    return out, hide(cats, unprotected, every_cell, "other_flag"), audit


#: Counts rounded under a profile that rounds (``public``), each with the rates drawn
#: from it (scaled by the same factor: a rate left exact would give the exact count).
ROUNDED = {
    "n_reports": ("reports_per_building",),
    "n_households": (),
    "n_reports_rpls": ("reports_per_100_dwellings",),
    "n_households_rpls": ("households_per_100_dwellings",),
    "n_closed": (),
    "backlog_open_end": (),
}


def rounded(frame: pd.DataFrame, base: int) -> pd.DataFrame:
    """``frame`` with its shown counts rounded half up to a multiple of ``base``, as the
    engine rounds the profile's other tables, and the rates drawn from each count
    scaled with it (a rate is its count × a constant); the share of reports closed past
    their target is the rounded count past it over the rounded count due (``n_past_target``
    and ``n_due``, which :data:`NOT_PUBLISHED` leaves out)."""
    if base <= 1:
        return frame
    out = frame.copy()
    for count, rates in ROUNDED.items():
        if count not in out:
            continue
        exact = pd.to_numeric(out[count], errors="coerce").astype("Float64")
        near = (exact / base + 0.5).apply(np.floor) * base
        for rate in rates:
            if rate in out:
                factor = (near / exact).where(exact > 0, 0.0)
                out[rate] = (pd.to_numeric(out[rate], errors="coerce") * factor).round(3)
        out[count] = near.astype("Int64")
    if {"n_due", "n_past_target", "share_past_target"} <= set(out.columns):
        # a share beside rounded counts is drawn from rounded counts: exact, 0.722 beside
        # « 20 » closed pinned 13 of 18 due (Bondy's open-data pack, 2024-T3 heating)
        past, due = (
            round_half_up(pd.to_numeric(out[c], errors="coerce").astype("Float64"), base)
            for c in ("n_past_target", "n_due")
        )
        share = (past.astype("Float64") / due.astype("Float64").where(due > 0)).round(3)
        shown = pd.to_numeric(out["share_past_target"], errors="coerce").notna()
        out["share_past_target"] = share.astype(float).where(shown)
    return out


def with_shown_hotspots(site: pd.DataFrame, profile: pd.DataFrame) -> pd.DataFrame:
    """The site table with its ``n_hotspot_buildings`` and ``n_emerging_categories``
    counted over the published building profile (``building_profile.parquet`` under the
    same profile), where the indicators stage gave them (the last quarter): a class the
    profile hides (``gi_bin`` and ``emerging_category`` null, flag « s ») is not counted.

    Counted over every building, as the indicators stage does, the figure less the
    buildings shown hot told how many buildings of hidden class are hot (Bondy's committee
    pack: 84 against 64 shown, 20 of its 156 hidden classes; Paris 10's open-data pack,
    which hides every class: 0, so none of them). Null when the profile shows no class.
    """
    out = site.copy()
    emerging = profile.get("emerging_category")
    shown = {
        "n_hotspot_buildings": hotspot_buildings(profile),
        "n_emerging_categories": None
        if emerging is not None and emerging.isna().all()
        else emerging_categories(profile),
    }
    for col, value in shown.items():
        if col in out:
            given = out[col].notna()
            out[col] = out[col].astype("Int64").mask(given, pd.NA if value is None else value)
    return out


def run_indicators(
    config: Config,
    site: SiteConfig,
    *,
    processed: Path,
    dst_dir: Path,
    profile: str | None = None,
) -> Path:
    """Publish the indicators of ``processed`` (stage ``indicators``) in ``dst_dir``
    under ``profile`` (default: the readers' profile, the committee's by default; the
    open-data pack passes ``public``), beside the tables the publication step wrote in
    ``dst_dir`` under the same profile, which the consistency guard reads."""
    processed, dst_dir = Path(processed), Path(dst_dir)
    rule = site.publication.rule(profile)
    # The columns microdata and the indicators' counted reports use (pack_figures).
    reports = read_geoparquet_attributes(
        processed / "reports.parquet",
        REPORT_COLUMNS,
        optional=(*REPORT_OPTIONAL, "person_related"),
    )
    buildings = read_geoparquet_attributes(
        processed / "buildings.parquet", ["building_id"], optional=DWELLING_COLUMNS
    )
    micro = microdata(reports, zone_of={}, person_related=person_related_of(site))
    rpls_ids = set()
    if "dwellings_source" in buildings:
        rpls_ids = set(
            buildings.loc[
                buildings["dwellings_source"].astype("string") == "rpls", "building_id"
            ].astype(str)
        )
    micro["rpls"] = np.where(micro["building_id"].isin(rpls_ids), "oui", "non")
    site_table = pd.read_parquet(processed / "indicators_site.parquet")
    categories = pd.read_parquet(processed / "indicators_category.parquet")
    entrances = _optional_table(processed / "indicators_entrance.parquet")
    entrances = entrances if entrances is not None else pd.DataFrame()
    # the reports the pack left out as late (a profile that protects nothing keeps no
    # ledger): the cells holding one hidden below, the figures beyond a cell without it
    ledger = read_ledger(site_ledger_path(config, site, rule.name))
    late = late_of(micro, ledger if rule.protect != "none" else None)
    site_table, categories, entrances = pack_figures(
        site_table, categories, entrances, reports=reports, buildings=buildings, late=late
    )
    out_site, out_cats, audit = protect_indicators(site_table, categories, micro, rule)
    check_indicators_audit(audit, site_id=site.id, profile=rule.name)
    if rule.protect != "none":
        published = dst_dir
        series = _optional_table(published / PUBLISHED_FILES["category_series"])
        facts = published / PUBLISHED_FILES["site"]
        freq = (read_json(facts).get("series") or {}).get("freq") if facts.exists() else None
        # the cells counting a report the pack left out (late), or whose count is not
        # the sum of the pack's exact periods: not shown
        left_out = left_out_cells(micro, late)
        if rule.round_base <= 1:
            left_out |= unequal_cells(out_cats, series, freq=str(freq))
        audit["left_out"] = left_out_audit(left_out, rule)
        out_site, out_cats = consistent_with_published(
            out_site,
            out_cats,
            series=series,
            monthly=_optional_table(published / PUBLISHED_FILES["monthly"]),
            rpls_ids=rpls_ids,
            left_out=left_out,
            freq=str(freq),
        )
        out_site = published_quarter_trends(out_site, series, freq=str(freq))
        profile_path = published / PUBLISHED_FILES["profile"]
        if profile_path.exists():
            out_site = with_shown_hotspots(out_site, read_geoparquet(profile_path))
    out_site, out_cats = rounded(out_site, rule.round_base), rounded(out_cats, rule.round_base)
    out_site = with_shown_watch(out_site, entrances, rule)
    dst_dir.mkdir(parents=True, exist_ok=True)
    write_parquet(protect_entrances(entrances, rule), dst_dir / INDICATOR_FILES["entrance"])
    write_parquet(out_site, dst_dir / INDICATOR_FILES["site"])
    out_cats = out_cats.drop(columns=list(NOT_PUBLISHED), errors="ignore")
    write_parquet(out_cats, dst_dir / INDICATOR_FILES["category"])
    write_json(
        {"profile": rule.name, "threshold": rule.min_households, "audit": audit},
        dst_dir / INDICATOR_FILES["audit"],
    )
    write_text(
        (processed / "indicators_method.md").read_text(encoding="utf-8"),
        dst_dir / INDICATOR_FILES["note"],
    )
    # The site table has a row per quarter of counted reports: empty, none counted.
    mark = site_mark(site_table, buildings)
    write_summary(dst_dir, rule, quarters=out_site["quarter"].astype(str).tolist(), mark=mark)
    return dst_dir / INDICATOR_FILES["site"]


def check_indicators_audit(audit: Mapping[str, Any], *, site_id: str, profile: str) -> None:
    """Stop the indicators' publication when their audit failed, before anything is
    written, as the publication step does (:func:`pipelines.publish.ledger_check.check_audit`).
    An audit without ``passed`` is that of a profile that protects nothing (``interne``).

    Raises
    ------
    PublicationError
        In French: the site, the profile and the indicator tables that fail.
    """
    if audit.get("passed", True):
        return
    tables = unprotected_tables(audit.get("tables", [])) or ["voir l'audit"]
    raise PublicationError(
        f"site « {site_id} », profil « {profile} » : l'audit du secret statistique des "
        "indicateurs a échoué (des cases masquées peuvent être recalculées) sur : "
        f"{' ; '.join(tables)}. Rien n'a été publié pour les lecteurs ({INDICATOR_FILES['audit']} "
        "non plus)."
    )


def write_summary(
    dst_dir: Path, rule: ProfileRule, *, quarters: list[str], mark: str | None
) -> Path:
    """The published ``indicators_summary.json``: the profile, the quarters shown and
    the site's ``mark`` (:data:`pipelines.published.SITE_MARKS`) with its French words.
    A mark tells a count is zero, which every profile publishes as 0 already."""
    return write_json(
        {
            "profile": rule.name,
            "quarters": quarters,
            "mark": mark,
            "mark_fr": SITE_MARKS[mark] if mark else None,
        },
        Path(dst_dir) / INDICATOR_FILES["summary"],
    )


#: The reason given to each row of ``unplaced.csv`` of a site without buildings (its
#: columns are :data:`pipelines.reports.UNPLACED_COLUMNS`, as the geocoding stage's list).
UNPLACED_REASON = SITE_MARKS["no_buildings"]


def unplaced_rows(ingested: pd.DataFrame) -> pd.DataFrame:
    """The rows ingestion kept for a site with no building, each with its ``reason``:
    placed on no building, counted in no indicator."""
    columns = [c for c in UNPLACED_COLUMNS if c in ingested]
    return pd.DataFrame(ingested[columns]).assign(reason=UNPLACED_REASON)


def publish_without_buildings(site: SiteConfig, *, processed: Path, dst_dir: Path) -> Path:
    """A site whose perimeter holds no OSM building: the rows ingestion kept listed in
    ``unplaced.csv`` with their reason (beside ``rejected.csv`` and
    ``outside_study_area.csv``, so that every row read is in one list), no indicator
    table, and a published summary marked ``"no_buildings"`` (the portfolio page keeps
    the site in its table with that mark)."""
    processed = Path(processed)
    write_csv(
        unplaced_rows(read_geoparquet(processed / "ingested.parquet")), processed / "unplaced.csv"
    )
    return write_summary(dst_dir, site.publication.rule(), quarters=[], mark="no_buildings")
