"""The portfolio page (issue 18): ``maps/index.html`` when the configuration has at
least ``portfolio_page_from`` sites.

A sortable, filterable table of the sites with their indicators of the last quarter
(published by :mod:`pipelines.publish.indicators`, « s » where the profile hides a
value, « — » where it could not be computed), the change since the previous quarter, a
sparkline of the reports per quarter, a map of the perimeters coloured by a chosen
indicator, and links to each site's map, committee pack and method note. Offline and
self-contained: the script and style sheet are inlined (``templates/portfolio.js``,
``portfolio.css``) and every value from data reaches the page as JSON.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from markupsafe import Markup
from shapely.geometry.base import BaseGeometry

from pipelines import __version__
from pipelines.config import Config, SiteConfig
from pipelines.io import read_geoparquet, read_json
from pipelines.maps.method_pages import INDICATORS_PAGE
from pipelines.markup import render_template, script_json, template_text
from pipelines.published import HIDDEN_FLAG, INDICATOR_FILES
from pipelines.stages import SitePaths

#: The indicators of the table: column of ``indicators_site.parquet``, French label,
#: decimals, and the flag columns hiding it (space-separated).
INDICATORS: tuple[tuple[str, str, int, str], ...] = (
    ("n_reports", "Signalements du trimestre", 0, "cell_flag"),
    ("reports_per_100_dwellings", "Signalements pour 100 logements (RPLS)", 1, "rpls_flag"),
    ("households_per_100_dwellings", "Ménages distincts pour 100 logements (RPLS)", 1, "rpls_flag"),
    ("reports_per_building", "Signalements par bâtiment", 2, "cell_flag"),
    ("lift_breakdowns_per_building_month",
     "Pannes d'ascenseur par bâtiment équipé et par mois", 2, "lift_flag other_flag"),
    ("lift_repeats_30d", "Pannes d'ascenseur répétées en moins de 30 jours", 0,
     "lift_flag other_flag"),
    ("lift_days_out_of_service", "Jours d'arrêt des ascenseurs (pannes closes)", 1,
     "lift_days_flag other_flag"),
    ("n_buildings_recurrent", "Bâtiments signalés au moins 3 des 6 derniers mois", 0, "other_flag"),
    ("backlog_open_end", "Signalements ouverts en fin de trimestre", 0, "other_flag"),
    ("n_hotspot_buildings", "Bâtiments en point chaud", 0, ""),
    ("n_emerging_categories", "Types de points chauds émergents", 0, ""),
)  # fmt: skip
#: The map's drawing box (SVG units).
MAP_WIDTH, MAP_HEIGHT = 640.0, 420.0


def _number(value: Any) -> float | None:
    if value is None or value is pd.NA:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def indicator_cells(table: pd.DataFrame) -> dict[str, Any]:
    """The last quarter's values of ``table`` (``indicators_site.parquet`` as published):
    per indicator ``v`` (null: hidden or absent), ``s`` (true: hidden, « s ») and ``d``
    (change since the previous quarter, null when either is missing)."""
    if table.empty:
        return {}
    last = table.iloc[-1]
    prev = table.iloc[-2] if len(table) > 1 else None
    cells: dict[str, Any] = {}
    for col, _label, decimals, flag in INDICATORS:
        v = _number(last.get(col))
        hidden = any(str(last.get(f, "")) == HIDDEN_FLAG for f in flag.split())
        p = _number(prev.get(col)) if prev is not None else None
        d = round(v - p, decimals) if v is not None and p is not None else None
        cells[col] = {"v": None if v is None else round(v, decimals), "s": hidden, "d": d}
    return cells


def _ring(coords: Any, project: Any) -> str:
    pts = [project(x, y) for x, y, *_ in coords]
    return "M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in pts) + "Z"


def svg_paths(shapes: dict[str, BaseGeometry]) -> dict[str, str]:
    """SVG path data (numbers and M/L/Z only) of each site's perimeter (EPSG:4326),
    in a :data:`MAP_WIDTH` × :data:`MAP_HEIGHT` box, longitudes shrunk by cos(latitude)."""
    shapes = {k: g for k, g in shapes.items() if g is not None and not g.is_empty}
    if not shapes:
        return {}
    bounds = gpd.GeoSeries(list(shapes.values())).total_bounds
    x0, y0, x1, y1 = (float(b) for b in bounds)
    k = math.cos(math.radians((y0 + y1) / 2))
    w, h = max((x1 - x0) * k, 1e-9), max(y1 - y0, 1e-9)
    scale = min((MAP_WIDTH - 20) / w, (MAP_HEIGHT - 20) / h)

    def project(x: float, y: float) -> tuple[float, float]:
        return 10 + (x - x0) * k * scale, 10 + (y1 - y) * scale

    out = {}
    for key, shape in shapes.items():
        # Half an SVG unit of detail is all the page can show: 500 detailed perimeters
        # (QPV outlines, parcels) stay a few hundred kilobytes.
        geom = shape.simplify(0.5 / scale, preserve_topology=True)
        polygons = getattr(geom, "geoms", [geom])
        parts = [
            _ring(ring.coords, project)
            for poly in polygons
            if poly.geom_type == "Polygon"
            for ring in (poly.exterior, *poly.interiors)
        ]
        out[key] = "".join(parts)
    return out


def perimeters_of(config: Config) -> dict[str, BaseGeometry]:
    """Each site's perimeter: the portfolio's layer as read and repaired, else the
    convex hull of the site's published buildings."""
    shapes: dict[str, BaseGeometry] = {}
    if config.portfolio is not None and config.portfolio.perimeter_table.exists():
        layer = read_geoparquet(config.portfolio.perimeter_table).to_crs("EPSG:4326")
        shapes.update(zip(layer["site_id"].astype(str), layer.geometry, strict=True))
    for site in config.sites:
        profile = SitePaths.of(config, site.id).building_profile
        if site.id not in shapes and profile.exists():
            shapes[site.id] = read_geoparquet(profile).to_crs("EPSG:4326").union_all().convex_hull
    return shapes


#: The watch levels, from the least to the most worrying (the table sorts by this).
WATCH_LEVELS = ("vert", "jaune", "orange", "rouge")


def watch_of(last: pd.Series | None) -> dict[str, Any]:
    """The watch level shown for the last quarter: the analyst's (orange / rouge) when
    set, else the tool's proposal (vert / jaune), with who set it, and the tool's reason;
    ``watch_hidden`` when the profile hides the proposal (``watch_flag`` « s », the open
    data profile: no level, no reason, « s » on the page)."""
    hidden = last is not None and str(last.get("watch_flag", "")) == HIDDEN_FLAG
    reason = None if last is None or hidden else last.get("watch_reason_fr")
    out = {"watch_reason": reason if isinstance(reason, str) else None, "watch_hidden": hidden}
    analyst = None if last is None else last.get("analyst_level")
    proposed = None if last is None or hidden else last.get("watch_level")
    if isinstance(analyst, str) and analyst in WATCH_LEVELS:
        level, by = analyst, "analyste"
    elif isinstance(proposed, str) and proposed in WATCH_LEVELS:
        level, by = proposed, "proposition de l'outil"
    else:
        return {**out, "watch": None, "watch_by": None, "watch_rank": None}
    return {**out, "watch": level, "watch_by": by, "watch_rank": WATCH_LEVELS.index(level)}


def site_row(
    config: Config, site: SiteConfig, *, dst_dir: Path, path: str | None
) -> dict[str, Any]:
    """The table row of one site (JSON-able)."""
    paths = SitePaths.of(config, site.id)
    table_path = paths.published / INDICATOR_FILES["site"]
    table = pd.read_parquet(table_path) if table_path.exists() else pd.DataFrame()
    last = table.iloc[-1] if len(table) else None
    spark = []
    for _, r in table.iterrows():
        hidden = str(r.get("cell_flag", "")) == HIDDEN_FLAG
        spark.append(None if hidden else _number(r.get("n_reports")))

    def rel(target: Path) -> str | None:
        return _rel(target, dst_dir) if target.exists() else None

    entrance_path = paths.published / INDICATOR_FILES["entrance"]
    entrances = pd.read_parquet(entrance_path) if entrance_path.exists() else pd.DataFrame()
    if last is not None and len(entrances):
        entrances = entrances[entrances["quarter"].astype(str) == str(last["quarter"])]
    summary_path = paths.published / INDICATOR_FILES["summary"]
    summary = read_json(summary_path) if summary_path.exists() else {}
    return {
        "id": site.id,
        "name": site.name,
        # why the site has no indicator (no report, no building), in French, or null
        "mark": summary.get("mark_fr"),
        "simulated": bool(site.simulated),
        "quarter": None if last is None else str(last["quarter"]),
        "quarters": table["quarter"].astype(str).tolist() if len(table) else [],
        "cells": indicator_cells(table),
        "trend": None
        if last is None or pd.isna(last.get("mk_trend_fr"))
        else str(last["mk_trend_fr"]),
        **watch_of(last),
        # the entrances of the last quarter the publication lists (jaune on enough
        # households, or set by the analyst): label, level, who set it
        "entrances": [
            {
                "label": str(e["entrance_label_fr"]),
                "level": str(e["watch_level"]),
                "by": str(e["watch_by"]),
            }
            for _, e in entrances.iterrows()
        ]
        if last is not None
        else [],
        "spark": spark,
        "map": rel(paths.map),
        "pack": rel(paths.pack),
        # the indicators' note as a page under maps/ (the map stage's), not its Markdown
        "note": rel(paths.map.parent / site.id / INDICATORS_PAGE),
        "path": path,
    }


def _rel(target: Path, start: Path) -> str:
    return Path(os.path.relpath(Path(target).resolve(), Path(start).resolve())).as_posix()


def portfolio_page(config: Config, *, dst_dir: Path) -> str:
    """The portfolio page's HTML."""
    paths = svg_paths(perimeters_of(config))
    rows = [site_row(config, s, dst_dir=dst_dir, path=paths.get(s.id)) for s in config.sites]
    return render_portfolio(rows)


def render_portfolio(rows: list[dict[str, Any]]) -> str:
    """The portfolio page's HTML for the sites' rows (:func:`site_row`), as they are."""
    data = {
        "indicators": [{"key": k, "label": label, "decimals": d} for k, label, d, _ in INDICATORS],
        "sites": rows,
        "map": {"width": MAP_WIDTH, "height": MAP_HEIGHT},
    }
    return str(
        render_template(
            "portfolio.html",
            data=Markup(script_json(data)),  # JSON, escaped for a script block
            css=Markup(template_text("portfolio.css")),
            js=Markup(template_text("portfolio.js")),
            indicators=[(k, label) for k, label, _d, _f in INDICATORS],
            n_sites=len(rows),
            version=__version__,
        )
    )
