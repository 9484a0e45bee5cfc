"""The publication step of a site: read the analysis stages' outputs, write the published
tables (:mod:`pipelines.published`) that the map, the PNG, the charts and the index read."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from pipelines.actions import EFFECT_METHOD_FR
from pipelines.config import Config, SiteConfig
from pipelines.hotspots import NoteContext, Section, method_note_html, method_note_markdown
from pipelines.io import (
    read_csv,
    read_geoparquet,
    read_json,
    write_geoparquet,
    write_json,
    write_parquet,
    write_text,
)
from pipelines.publish.actions import action_cells, actions_of_shown_classes, protect_actions
from pipelines.publish.build import publish_site
from pipelines.publish.buildings import profile_of_shown_classes, zones_of_shown_classes
from pipelines.publish.cells import FLAG
from pipelines.publish.ledger import ledger_stamp, read_ledger, site_ledger_path, write_ledger
from pipelines.publish.ledger_check import check_audit, check_ledger
from pipelines.publish.note import publication_section, published_counts
from pipelines.publish.protect import Protection, apply_profile
from pipelines.published import CHART_TABLES, FILES, Published
from pipelines.taxonomy import PERSONNE, category_classes
from pipelines.trends import Window
from pipelines.zones import too_few_reports_block

log = logging.getLogger(__name__)

#: What ``site.json`` keeps of ``trend_summary.json`` (the index's trend arrow).
TREND_KEYS = ("headline", "monthly", "mann_kendall", "site", "total")


def _optional_geo(path: Path) -> gpd.GeoDataFrame | None:
    return read_geoparquet(path) if path.exists() else None


def _windows(trend_summary: dict[str, Any]) -> tuple[Window, Window] | None:
    """The before/after windows the trends stage used (end included in the file)."""
    p = trend_summary.get("parameters", {})
    if not trend_summary.get("before_after", {}).get("computed"):
        return None
    out = []
    for key in ("compare_before", "compare_after"):
        w = p.get(key)
        if not isinstance(w, dict):
            return None
        out.append(Window(pd.Timestamp(w["start"]), pd.Timestamp(w["end"]) + pd.Timedelta(days=1)))
    return out[0], out[1]


def _compare_windows(compare: dict[str, Any] | None) -> tuple[Window, Window] | None:
    """The before/after windows of ``site.json`` (``compare``, end included)."""
    if not compare:
        return None
    before, after = (
        Window(
            pd.Timestamp(compare[k]["start"]),
            pd.Timestamp(compare[k]["end"]) + pd.Timedelta(days=1),
        )
        for k in ("before", "after")
    )
    return before, after


def write_published(published: Published, dst_dir: Path) -> Path:
    """Write every file of :data:`pipelines.published.FILES` in ``dst_dir`` (the
    optional ones empty when absent, ``site.json`` saying so)."""
    dst_dir.mkdir(parents=True, exist_ok=True)
    write_geoparquet(published.profile, dst_dir / FILES["profile"])
    write_parquet(published.monthly, dst_dir / FILES["monthly"])
    write_geoparquet(published.points, dst_dir / FILES["points"])
    empty = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs="EPSG:4326"))
    for name in ("zones", "notes", "density", "actions"):
        frame = getattr(published, name)
        write_geoparquet(frame if frame is not None else empty, dst_dir / FILES[name])
    chronic = published.chronic if published.chronic is not None else pd.DataFrame()
    write_parquet(chronic, dst_dir / FILES["chronic"])
    for name in (*CHART_TABLES, "key_figures"):
        frame = getattr(published, name)
        write_parquet(frame if frame is not None else pd.DataFrame(), dst_dir / FILES[name])
    write_json(published.site, dst_dir / FILES["site"])
    return dst_dir


def run(
    config: Config,
    site: SiteConfig,
    *,
    processed: Path,
    dst_dir: Path,
    profile: str | None = None,
) -> Published:
    """Read the outputs of the analysis stages in ``processed``; write the published
    tables in ``dst_dir`` under a publication profile (:mod:`pipelines.publish.protect`).

    ``profile``: ``interne``, ``comite`` or ``public``; by default the profile of the
    readers (``[publication.outputs]``: the most protective of map, png, charts, pack and
    index). Besides the tables, writes ``publication_audit.json`` (the audit of every
    published table) and the method note with its publication section
    (``method_note.html``, ``method_note.md``), and keeps the ledger of the closed
    periods published (:mod:`pipelines.publish.ledger`; not for ``interne``). Writes
    nothing when the ledger does not match the data (checked before the engine runs) or
    when the audit fails: :class:`~pipelines.errors.PublicationError`, in French.

    Reads ``buildings.parquet`` and ``reports.parquet`` (required) and, when present,
    ``emerging.parquet``, ``followup.csv``, ``before_after.parquet`` and
    ``trend_summary.json`` (trends), ``zones.parquet`` and ``zone_summary.json`` (zones),
    ``annotations.parquet`` (notes), ``chronic.csv``, ``kde.parquet`` and
    ``hotspot_summary.json`` (hotspots), ``actions.parquet`` and ``actions_summary.json``
    (the action register), ``trends.parquet`` and ``trend_tests.parquet``
    (the charts' series, trends), ``buildings_summary.json``
    (the extent of the OSM extract, the map's perimeter when the configuration sets no
    ``study_area_bbox``).
    """
    processed = Path(processed)
    buildings = read_geoparquet(processed / "buildings.parquet")
    reports = read_geoparquet(processed / "reports.parquet")
    followup_path = processed / "followup.csv"
    chronic_path = processed / "chronic.csv"
    trend_path = processed / "trend_summary.json"
    trend_summary = read_json(trend_path) if trend_path.exists() else {}
    hotspot_path = processed / "hotspot_summary.json"
    zone_path = processed / "zone_summary.json"
    windows = _windows(trend_summary)
    before_after = _optional_geo(processed / "before_after.parquet") if windows else None
    osm_summary = processed / "buildings_summary.json"
    bounds = read_json(osm_summary).get("bounds") if osm_summary.exists() else None
    settings = site.settings
    parameters = trend_summary.get("parameters", {})
    series_path, tests_path = processed / "trends.parquet", processed / "trend_tests.parquet"
    actions = _optional_geo(processed / "actions.parquet")
    actions_path = processed / "actions_summary.json"
    published = publish_site(
        buildings,
        reports,
        emerging=_optional_geo(processed / "emerging.parquet"),
        followup=(read_csv(followup_path, dtype={"key": str}) if followup_path.exists() else None),
        before_after=before_after,
        windows=windows,
        compare_months=settings.trends.compare_months,
        compare_before=settings.trends.compare_before,
        compare_after=settings.trends.compare_after,
        zones=_optional_geo(processed / "zones.parquet"),
        notes=_optional_geo(processed / "annotations.parquet"),
        chronic=read_csv(chronic_path, dtype=str) if chronic_path.exists() else None,
        kde=_optional_geo(processed / "kde.parquet"),
        perimeter=site.study_area_bbox or bounds,
        kde_bandwidth_m=settings.hotspots.kde_bandwidth_m,
        annotation_tags=config.annotation_tags,
        hotspot_summary=read_json(hotspot_path) if hotspot_path.exists() else None,
        zone_summary=read_json(zone_path) if zone_path.exists() else None,
        series=pd.read_parquet(series_path) if series_path.exists() else None,
        tests=pd.read_parquet(tests_path) if tests_path.exists() else None,
        freq=str(parameters.get("freq", "M")),
        top_buildings=int(parameters.get("top_buildings", 6)),
        actions=actions,
        actions_summary=read_json(actions_path) if actions_path.exists() else None,
        extra={"trends": {k: trend_summary[k] for k in TREND_KEYS if k in trend_summary}},
    )
    publication = site.publication
    rule = publication.rule(profile)
    ledger_file = site_ledger_path(config, site, rule.name)
    ledger = read_ledger(ledger_file)
    drift = check_ledger(
        ledger, reports, rule=rule, person_related=person_related_of(site),
        site_id=site.id, path=ledger_file,
    )  # fmt: skip
    protection, ledger = apply_profile(
        published,
        reports,
        rule=rule,
        person_related=person_related_of(site),
        windows=_compare_windows(published.site.get("compare")),
        ledger=ledger,
        gap_m=site.settings.zones.gap_m,
        trends=settings.trends,
    )
    # Under a coarsening profile (public), the buildings whose class is hidden were
    # counted outside every zone (pipelines.publish.protect.outside_zones_if_class_hidden):
    # the zones' counts are those of the buildings they list, and stay shown.
    protection = with_zones_of_shown_classes(protection, counts_exact=rule.coarsen)
    if published.actions is not None and actions is not None:
        table, actions_audit = protect_actions(
            published.actions,
            actions,
            rule=rule,
            person_related=person_related_of(site),
            monthly=protection.published.monthly,
        )
        table, left_out = actions_of_shown_classes(
            table,
            actions,
            published.zones,
            protection.published.zones,
            protection.published.profile,
        )
        actions_audit = {**actions_audit, **left_out}
        protection = replace(
            protection,
            published=replace(protection.published, actions=table),
            audit={**protection.audit, "actions": actions_audit},
            cells={**protection.cells, "actions": action_cells(table, actions_audit)},
        )
    out = with_publication_facts(protection)
    check_audit(protection.audit, site_id=site.id, ledger_file=ledger_file, drift=drift)
    write_published(out, Path(dst_dir))
    write_json(protection.audit, Path(dst_dir) / FILES["audit"])
    note = NoteContext(site_name=site.name, simulated=site.simulated)
    hot = read_json(hotspot_path) if hotspot_path.exists() else {}
    extra = [publication_section(protection.audit, protection.cells)]
    if actions is not None and len(actions):  # a site with actions: how their effect is read
        summary = read_json(actions_path) if actions_path.exists() else {}
        extra.insert(0, effect_section(summary.get("effect") or {}, site))
    if not hot.get("gi") or rule.protect == "all":
        # No hotspot run to describe, or a profile where every cell needs its households
        # (public): the publication section alone.
        hot = {}
    elif not rule.is_exact:
        hidden = frozenset(protection.audit.get("hidden_categories", ()))
        hot = published_counts(_note_counts(hot, person_related_of(site) | hidden), out)
    write_text(method_note_html(hot, note, extra=extra), Path(dst_dir) / FILES["method_note"])
    write_text(
        method_note_markdown(hot, note, extra=extra), Path(dst_dir) / FILES["method_note_md"]
    )
    if ledger is not None:
        write_ledger(ledger, ledger_file, stamp=ledger_stamp(rule, person_related_of(site)))
    return out


def effect_section(effect: dict[str, Any], site: SiteConfig) -> Section:
    """The « Effet des actions » section of the method note: how the effect of an action
    is estimated (:data:`pipelines.actions.EFFECT_METHOD_FR`), with the windows and the
    minimum of reports the actions stage used (``actions_summary.json``'s ``effect``;
    the site's settings when it does not say)."""
    settings = site.settings.actions
    text = EFFECT_METHOD_FR.format(
        window=int(effect.get("window_months") or settings.effect_window_months),
        min_reports=int(effect.get("min_reports") or settings.effect_min_reports),
    )
    return Section("Effet des actions", (text,))


def person_related_of(site: SiteConfig) -> frozenset[str]:
    """The site's person-related categories: the taxonomy's class « personne », with the
    site's ``category_classes`` over it (the setting ingestion reads too). Reports whose
    text names a dwelling are person-related whatever their category (ingestion's
    ``person_related`` column, read by :func:`pipelines.publish.cells.microdata`)."""
    classes = category_classes(site.category_classes)
    return frozenset(code for code, cls in classes.items() if cls == PERSONNE)


def _note_counts(hot: dict[str, Any], hidden: frozenset[str]) -> dict[str, Any]:
    """The hotspot summary as the method note of a committee profile shows it: the
    site-wide count of a category in ``hidden`` is « s »: a person-related category,
    whatever its size (the hostile run recomputed a hidden Paris cell from the note's
    « Autre : 2 » and the chart's margins), and one the engine hid. The engine protects
    the categories' totals as the note shows them (the ``("category",)`` table of the
    site group, audited with the others)."""
    categories = {
        code: _hidden_category(info) if code in hidden else info
        for code, info in hot.get("categories", {}).items()
    }
    return {**hot, "categories": categories}


def _hidden_category(info: dict[str, Any]) -> dict[str, Any]:
    """A hidden category of the hotspot summary: no count, not even in the reason it was
    not analysed (« non analysée : 2 signalement(s)… » gave the hidden total back)."""
    out = {**info, "n_reports": None, "n_reports_shown": "s"}
    if "reason" in out and out.get("status") != "analysed":
        out["reason"] = "trop peu de signalements"
    return out


def with_zones_of_shown_classes(
    protection: Protection, *, counts_exact: bool = False
) -> Protection:
    """The protection with its zones made of the buildings whose class it shows
    (:func:`~pipelines.publish.buildings.zones_of_shown_classes`; ``counts_exact``: the
    zones' counts are already theirs alone, as under ``public``): the zones table, its
    cells in the audit's counts, and the audit's ``zones_shown_classes`` (buildings and
    zones left out, zone counts hidden, ``buildings_detached``); and the profile's
    ``zone_id`` and ``level`` to match
    (:func:`~pipelines.publish.buildings.profile_of_shown_classes`).

    A zone some of whose buildings had their class hidden to keep its list linked
    (the audit's ``zones_detached``, :mod:`pipelines.publish.detached`) has its count
    hidden, whatever ``counts_exact``: it counts their reports."""
    p = protection.published
    detached = protection.audit.get("zones_detached") or {}
    profile = profile_of_shown_classes(p.profile)
    if p.zones is None:
        return replace(protection, published=replace(p, profile=profile))
    zones, left_out = zones_of_shown_classes(
        p.zones, p.profile, counts_exact=counts_exact, recounted=set(detached)
    )
    left_out["buildings_detached"] = sum(len(v) for v in detached.values())
    cells = dict(protection.cells)
    if "zones" in cells:
        n = len(zones)
        hidden = int((zones["n_reports_flag"] == FLAG).sum()) if "n_reports_flag" in zones else 0
        cells["zones"] = {
            **cells["zones"],
            "cells": n,
            "hidden": hidden,
            "hidden_share": round(hidden / n, 4) if n else 0.0,
        }
    return replace(
        protection,
        published=replace(p, zones=zones, profile=profile, site=_site_of_zones(p.site, zones)),
        audit={**protection.audit, "cells": cells, "zones_shown_classes": left_out},
        cells=cells,
    )


def _site_of_zones(site: dict[str, Any], zones: pd.DataFrame) -> dict[str, Any]:
    """``site.json`` naming only the zones published in ``zones``: its
    ``too_few_reports.zones`` (the zones built from too few reports, and the legend's
    sentence naming them) keeps those of them left in the table. A zone left out because
    none of its buildings has a shown class was still named there (Bondy's open-data
    pack: « Z8, Z9 », absent from every other file of the pack), telling that it exists
    and has fewer than ``min_reports`` reports."""
    block = (site.get("too_few_reports") or {}).get("zones")
    if not block or not block.get("zone_ids"):
        return site
    published = set(zones["zone_id"].astype(str)) if "zone_id" in zones else set()
    kept = [z for z in block["zone_ids"] if str(z) in published]
    zones_block = {**block, **too_few_reports_block(kept, min_reports=block["min_reports"])}
    return {**site, "too_few_reports": {**site["too_few_reports"], "zones": zones_block}}


def with_publication_facts(protection: Protection) -> Published:
    """``site.json`` with its ``publication`` block: the profile, its thresholds, the
    cells hidden and coarsened per table and whether the audit passed."""
    p = protection.published
    rule = protection.audit.get("rule", {})
    block = {
        **rule,
        "level_monthly": protection.audit.get("level_monthly"),
        "tables": protection.cells,
        "audit_passed": bool(protection.audit.get("passed")),
        "hidden_flag": "s",
    }
    return replace(p, site={**p.site, "publication": block})
