"""The data block of a site map: every value the page draws, already escaped.

:func:`map_data` turns the processed frames of a site into one JSON-ready dictionary,
read by the inline script ``pipelines/templates/map.js``. Each optional layer is built when
its columns or file exist, else a French note says why it is missing.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from pipelines._map_html import (
    as_number,
    building_fact_sheet,
    building_title,
    esc,
    fr_month,
    fr_number,
    fr_period,
    plural,
    present,
)
from pipelines._map_layers import (
    annotations_block,
    basemap_block,
    features,
    kde_block,
    live_notes,
    notes_by,
    observations_block,
    reports_block,
    round_geometries,
    zones_block,
)
from pipelines._map_views import (
    NICE_MANTISSAS,
    PALETTE,
    ZERO_COLOUR,
    View,
    change_view,
    comparison,
    emerging_view,
    gi_view,
    monthly_counts,
    naive_dates,
    site_months,
)
from pipelines.crs import WGS84
from pipelines.taxonomy import BY_CODE
from pipelines.zones import zone_of_buildings

log = logging.getLogger(__name__)

#: Above this many report points, markers are aggregated per building and category.
MAX_REPORT_POINTS = 20_000
#: Optional web tile layers (only with ``params.maps.online_tiles = true``).
ONLINE_TILES = (
    {
        "name": "Fond OpenStreetMap (en ligne)",
        "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "attribution": "© contributeurs OpenStreetMap (ODbL)",
    },
    {
        "name": "Plan IGN (en ligne)",
        "url": "https://data.geopf.fr/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
        "&LAYER=GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2&STYLE=normal&TILEMATRIXSET=PM"
        "&FORMAT=image/png&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}",
        "attribution": "© IGN – Plan IGN (Licence Ouverte 2.0)",
    },
)


def _chronic_by_building(chronic: pd.DataFrame | None) -> dict[str, list[str]]:
    """One French sentence per row of ``chronic.csv``, grouped by building (unescaped).

    Uses ``category``/``category_label``, ``n_reports_in_window``, ``window_days``,
    ``first_date`` and ``last_date`` when present.
    """
    if chronic is None or chronic.empty or "building_id" not in chronic:
        return {}
    out: dict[str, list[str]] = {}
    for _, r in chronic.iterrows():
        code = str(r.get("category", ""))
        label = r.get("category_label")
        text = str(label) if present(label) else (BY_CODE[code].label if code in BY_CODE else code)
        n, days = as_number(r.get("n_reports_in_window")), as_number(r.get("window_days"))
        if n is not None and days is not None:
            text += f" : {plural(n, 'signalement')} en {fr_number(days)} jours"
        first, last = r.get("first_date"), r.get("last_date")
        if isinstance(first, str) and isinstance(last, str):
            with contextlib.suppress(ValueError):
                text += f" ({fr_period(pd.Timestamp(first), pd.Timestamp(last))})"
        out.setdefault(str(r["building_id"]), []).append(text)
    return out


# ----------------------------------------------------------------------------- data
@dataclass(frozen=True)
class MapOptions:
    """Options of a site map (``params.maps`` in the configuration).

    Attributes
    ----------
    online_tiles
        Add OpenStreetMap and Plan IGN web tiles as optional layers (off by default: the
        map then needs the network for those layers only).
    before, after, compare_months
        The two periods of the before/after view, ``[start, end]`` ISO dates (end
        included), else the last ``compare_months`` months and as many before; read from
        ``params.trends`` (``compare_before``, ``compare_after``, ``compare_months``),
        shared with the trends stage.
    max_report_points
        Above this many report points, markers are aggregated per building and category.
    kde_bandwidth_m
        Bandwidth of the density contours, for their caption.
    """

    online_tiles: bool = False
    before: tuple[str, str] | None = None
    after: tuple[str, str] | None = None
    compare_months: int = 3
    max_report_points: int = MAX_REPORT_POINTS
    kde_bandwidth_m: float | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, Mapping[str, Any]]) -> MapOptions:
        """Read ``params["maps"]``, the comparison of ``params["trends"]`` and the KDE
        bandwidth of ``params["hotspots"]``."""
        maps = dict(params.get("maps", {}))
        trends = dict(params.get("trends", {}))
        before, after = trends.get("compare_before"), trends.get("compare_after")
        return cls(
            online_tiles=bool(maps.get("online_tiles", False)),
            before=tuple(before) if before else None,  # type: ignore[arg-type]
            after=tuple(after) if after else None,  # type: ignore[arg-type]
            compare_months=int(trends.get("compare_months") or 3),
            max_report_points=int(maps.get("max_report_points", MAX_REPORT_POINTS)),
            kde_bandwidth_m=params.get("hotspots", {}).get("kde_bandwidth_m"),
        )


#: The fact sheets' words where the hotspot stage concluded nothing (:class:`TooFewReports`).
TOO_FEW_FR = "trop peu de signalements pour conclure"


@dataclass(frozen=True)
class TooFewReports:
    """What the analysis stages found too few reports to conclude on, in their words.

    The map draws no conclusion there and its legend says why; it decides nothing itself
    (a number drawn on a map is a number an analysis stage wrote).

    Attributes
    ----------
    site
        The hotspot stage's ``sample`` note (``hotspot_summary.json``): the whole site
        has too few reports, so no hotspot colours, zones or hotspot trends are drawn.
    zones
        The zones stage's note (``zone_summary.json``) on the zones built from too few
        reports (``has_enough_reports`` false in ``zones.parquet``), which are not drawn.
    """

    site: str | None = None
    zones: str | None = None

    @classmethod
    def from_summaries(
        cls, hotspots: Mapping[str, Any] | None, zones: Mapping[str, Any] | None
    ) -> TooFewReports:
        """Read the notes of ``hotspot_summary.json`` and ``zone_summary.json`` (either
        may be missing)."""
        sample = (hotspots or {}).get("sample") or {}
        flagged = (zones or {}).get("too_few_reports") or {}
        return cls(
            site=str(sample["note_fr"]) if sample.get("too_few_reports") else None,
            zones=str(flagged["note_fr"]) if flagged.get("note_fr") else None,
        )


def building_titles(buildings: pd.DataFrame, reports: pd.DataFrame) -> list[str]:
    """The name of each building in the popups and tooltips (unescaped), in row order.

    The labels of the trend charts (:func:`pipelines.trends.building_labels`: OSM name,
    OSM address, the landlord's building code or the address most often given in the
    reports), so that a building has the same name on the map and the charts; a
    ``residence_name`` wins, and a building known by its id only is named by its size
    (:func:`pipelines._map_html.building_title`).
    """
    from pipelines.trends import building_labels

    labels = building_labels(buildings, reports)
    out = []
    for _, row in buildings.iterrows():
        bid = str(row["building_id"])
        label = labels.get(bid, bid)
        if present(row.get("residence_name")) or label == bid:
            out.append(building_title(row))
        else:
            out.append(label)
    return out


def enrich_buildings(
    buildings: gpd.GeoDataFrame,
    *,
    emerging: pd.DataFrame | None = None,
    followup: pd.DataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Add the trends stage's per-building results to ``buildings`` for the fact sheet.

    Parameters
    ----------
    buildings
        ``buildings.parquet``; columns it already has are kept as they are.
    emerging
        ``emerging.parquet``: ``building_id``, ``emerging_category``,
        ``emerging_label_fr``.
    followup
        ``followup.csv``: rows of ``level`` "building" give ``n_open`` (→
        ``open_backlog``) and ``median_delay_h`` per building (``key``).

    Returns
    -------
    GeoDataFrame
        A new frame aligned on ``buildings.index`` (joins are many-to-one on
        ``building_id``).
    """
    out = buildings.copy()
    ids = out["building_id"].astype(str)
    if emerging is not None and "emerging_category" in emerging and "emerging_category" not in out:
        e = emerging.assign(building_id=emerging["building_id"].astype(str))
        e = e.drop_duplicates("building_id").set_index("building_id")
        for column in ("emerging_category", "emerging_label_fr"):
            if column in e:
                out[column] = ids.map(e[column]).to_numpy()
        if out["emerging_category"].isna().all():
            dropped = [c for c in ("emerging_category", "emerging_label_fr") if c in out]
            out = out.drop(columns=dropped)
    if followup is not None and {"level", "key"} <= set(followup.columns):
        f = followup[followup["level"] == "building"].drop_duplicates("key")
        f = f.set_index(f["key"].astype(str))
        if "open_backlog" not in out and "n_open" in f and len(f):
            out["open_backlog"] = pd.to_numeric(ids.map(f["n_open"]), errors="coerce").to_numpy()
        if "median_delay_h" not in out and "median_delay_h" in f and len(f):
            delay = pd.to_numeric(ids.map(f["median_delay_h"]), errors="coerce")
            out["median_delay_h"] = delay.to_numpy()
    return out


def map_data(
    buildings: gpd.GeoDataFrame,
    reports: gpd.GeoDataFrame,
    *,
    site_name: str,
    basemap: gpd.GeoDataFrame | None = None,
    kde: gpd.GeoDataFrame | None = None,
    chronic: pd.DataFrame | None = None,
    perimeter: tuple[float, float, float, float] | None = None,
    options: MapOptions | None = None,
    zones: gpd.GeoDataFrame | None = None,
    annotations: gpd.GeoDataFrame | None = None,
    too_few: TooFewReports | None = None,
) -> dict[str, Any]:
    """Everything the page draws, as one JSON-ready dictionary (texts already escaped).

    Parameters
    ----------
    buildings
        ``buildings.parquet`` (any CRS; drawn in EPSG:4326): ``building_id``,
        ``n_reports``, ``n_<category>``, and optionally ``dwellings``,
        ``reports_per_100_dwellings``, ``gi_bin``, ``emerging_category``,
        ``emerging_label_fr``, ``is_chronic``, ``chronic_categories``, ``open_backlog``…
    reports
        ``reports.parquet`` (any CRS): ``category``, ``reported_at``, ``building_id``,
        ``source_kind``, ``duplicate_of``, ``description`` (scrubbed), ``geometry``.
    basemap
        :func:`pipelines.basemap.read_osm_basemap` output, or ``None``.
    kde
        ``kde.parquet``: contour polygons with ``density_min_per_ha`` and ``label``.
    chronic
        ``chronic.csv``: ``building_id``, ``category``, ``dates``.
    perimeter
        (west, south, east, north) of the study area, in degrees.
    options
        :class:`MapOptions`.
    zones
        ``zones.parquet`` (:mod:`pipelines.zones`): ``zone_id``, ``building_ids``,
        ``n_buildings``, ``status``, ``has_enough_reports``… The zones are drawn under
        the buildings, and each building feature carries the ``zone_id`` of its zone, for
        the annotation mode; a zone whose ``has_enough_reports`` is false is not drawn.
    annotations
        ``annotations.parquet`` (:mod:`pipelines.annotations`, linked notes): drawn as
        their own layer, and listed in the fact sheets of the buildings
        (``building_ids``) and zones (``zone_ids``) they are linked to.
    too_few
        What the analysis stages found too few reports to conclude on
        (:class:`TooFewReports`): with ``site``, no Gi* view, emerging-hotspot view or
        zone is drawn and the legend says « trop peu de signalements pour conclure ».

    Returns
    -------
    dict
        The data block read by ``pipelines/templates/map.js``. Every building feature
        carries ``i`` (its row), ``building_id`` and, when in a zone, ``zone_id``.
    """
    options = options or MapOptions()
    too_few = too_few or TooFewReports()
    b = buildings.to_crs(WGS84).reset_index(drop=True)
    if "n_reports" not in b:
        from pipelines.hotspots import reports_per_building

        b = b.join(reports_per_building(reports, b))
    legend_notes: list[str] = []
    kind = (
        reports["source_kind"]
        if "source_kind" in reports
        else pd.Series("reports", index=reports.index)
    )
    resident = reports[kind != "observations"]
    observations = reports[kind == "observations"]
    all_dates = naive_dates(reports["reported_at"])
    months = site_months(all_dates)
    start, end = all_dates.min(), all_dates.max()
    period = fr_period(start, end)
    day0 = months[0].start_time if len(months) else pd.Timestamp("2000-01-01")

    # Per-building monthly counts (period selector) and the 12-month sparkline.
    monthly = monthly_counts(resident, b, months)
    spark_months = list(months[-12:])
    chronic_map = _chronic_by_building(chronic)
    titles = building_titles(b, resident)
    planner_notes = live_notes(annotations)
    building_notes = notes_by(planner_notes, "building_ids")
    fiches = []
    for i, row in b.iterrows():
        series = monthly.loc[i].to_numpy()[-12:] if len(months) else None
        fiches.append(
            building_fact_sheet(
                row,
                title=titles[i],
                period=period,
                months=spark_months,
                monthly=series,
                chronic=chronic_map.get(str(row["building_id"]), ()),
                notes=building_notes.get(str(row["building_id"]), ()),
                # The reason in a few words (the legend gives it whole), not 1,000 copies.
                hotspot_note=TOO_FEW_FR if too_few.site else None,
            )
        )
    dwellings = (
        pd.to_numeric(b["dwellings"], errors="coerce")
        if "dwellings" in b
        else pd.Series(np.nan, index=b.index)
    )
    if "is_chronic" in b:
        is_chronic = b["is_chronic"].fillna(False).astype(bool)
    elif chronic_map:
        is_chronic = b["building_id"].astype(str).isin(chronic_map)
    else:
        is_chronic = None
    block_b: dict[str, Any] = {
        "title": [esc(t) for t in titles],
        "n": b["n_reports"].fillna(0).astype(int).tolist(),
        "dw": [float(x) if pd.notna(x) and x > 0 else None for x in dwellings],
        "fiche": fiches,
        "chronic": is_chronic.astype(int).tolist() if is_chronic is not None else None,
    }
    nz = monthly.index[monthly.sum(axis=1) > 0]
    block_monthly = {"i": [int(i) for i in nz], "c": monthly.loc[nz].to_numpy().tolist()}

    # Views.
    views = [
        View(
            "count",
            "Nombre de signalements",
            "Signalements par bâtiment",
            "Plus la couleur est foncée, plus le bâtiment a reçu de signalements "
            "(doublons probables et observations de terrain non comptés).",
            dynamic="count",
        )
    ]
    if dwellings.notna().any():
        views.append(
            View(
                "rate",
                "Signalements pour 100 logements",
                "Signalements pour 100 logements",
                "Rapporte les signalements à la taille du bâtiment. Hachuré : nombre de "
                "logements inconnu, pas de taux.",
                dynamic="rate",
            )
        )
    else:
        legend_notes.append("Taux pour 100 logements : non disponible (logements inconnus).")
    if too_few.site:
        # No hotspot view, no hotspot trend view (and no zone, below): the hotspot stage
        # concluded nothing, and the legend says why.
        legend_notes.append(
            f"Points chauds, zones et tendances des points chauds : {too_few.site}."
        )
    else:
        if "gi_bin" in b:
            views.append(gi_view(b))
        else:
            legend_notes.append("Points chauds (Gi*) : non calculés pour ce site.")
        if "emerging_category" in b:
            views.append(emerging_view(b))
        else:
            legend_notes.append("Tendances des points chauds : non calculées pour ce site.")
    change = None
    report_months = site_months(resident["reported_at"])
    if len(report_months) >= 2:
        change, before, after = comparison(
            resident, b, report_months, compare_months=options.compare_months,
            before=options.before, after=options.after,
        )  # fmt: skip
        views.append(change_view(change, before, after))
    else:
        legend_notes.append("Évolution avant / après : moins de deux mois de données.")

    # Overlays.
    block_reports, categories = reports_block(
        resident, {str(x): i for i, x in enumerate(b["building_id"])},
        months=months, day0=day0, max_points=options.max_report_points,
    )  # fmt: skip
    block_obs = (
        observations_block(observations, months=months, day0=day0) if len(observations) else None
    )
    block_kde = kde_block(kde, options.kde_bandwidth_m)
    if block_kde is None:
        legend_notes.append("Densité (noyau quartique) : non calculée pour ce site.")
    if is_chronic is None:
        legend_notes.append("Problèmes chroniques : non calculés pour ce site.")
    block_basemap = basemap_block(basemap)
    if block_basemap is None:
        legend_notes.append("Fond de plan : indisponible (extrait OSM non lu).")
    # The zones the zones stage found enough reports in (all of them, for a zones.parquet
    # written before the flag); none when the site has too few reports.
    shown = None if too_few.site else zones
    n_hidden = 0
    if shown is not None and "has_enough_reports" in shown:
        enough = shown["has_enough_reports"].astype("boolean").fillna(True).astype(bool)
        shown, n_hidden = shown[enough], int((~enough).sum())
    block_zones = zones_block(shown, notes_by(planner_notes, "zone_ids"))
    if too_few.site:
        pass  # said with the views
    elif zones is None:
        legend_notes.append("Zones de points chauds : non calculées pour ce site.")
    elif n_hidden:
        legend_notes.append(
            "Zones de points chauds : "
            + (
                too_few.zones
                or f"{plural(n_hidden, 'zone')} non dessinée(s) : trop peu de signalements "
                "pour conclure."
            )
        )
    elif block_zones is None:
        legend_notes.append(
            "Zones de points chauds : aucune (pas de bâtiment point chaud à 95 % ou plus)."
        )
    block_notes = annotations_block(planner_notes)
    zone_of = (
        zone_of_buildings(b, shown)
        if shown is not None and len(shown)
        else pd.Series(pd.NA, index=b.index, dtype="string")
    )
    props: list[dict[str, Any]] = []
    for i, (bid, zid) in enumerate(zip(b["building_id"].astype(str), zone_of, strict=True)):
        p: dict[str, Any] = {"i": i, "building_id": bid}
        if present(zid):
            p["zone_id"] = str(zid)
        props.append(p)

    geoms = round_geometries(b.geometry, 6, tolerance=0.0000015)
    west, south, east, north = perimeter if perimeter else b.total_bounds
    fit = [[float(south), float(west)], [float(north), float(east)]]
    return {
        "site": esc(site_name),
        "period": esc(period),
        "months": [esc(fr_month(m)) for m in months],
        "day0": f"{day0:%Y-%m-%d}",
        "bounds": fit,
        "perimeter": {
            "name": "Périmètre étudié",
            "bounds": [[float(south), float(west)], [float(north), float(east)]],
        },
        "palette": list(PALETTE),
        "zero": ZERO_COLOUR,
        "nice": list(NICE_MANTISSAS),
        "buildings": features(geoms, props),
        "b": block_b,
        "monthly": block_monthly,
        "views": [v.as_json() for v in views],
        "change": (
            {"nb": change["n_before"].tolist(), "na": change["n_after"].tolist()}
            if change is not None
            else None
        ),
        "categories": categories,
        "categoriesTitle": esc(
            f"Signalements (points), {fr_number(block_reports['total'])} — par catégorie"
        ),
        "reports": block_reports,
        "obs": block_obs,
        "kde": block_kde,
        "chronic": (
            {"name": "Bâtiments aux problèmes chroniques (contour épais)"}
            if is_chronic is not None and bool(is_chronic.any())
            else None
        ),
        "basemap": block_basemap,
        "zones": block_zones,
        "annotations": block_notes,
        "notes": [esc(n) for n in legend_notes],
        "tiles": [dict(t) for t in ONLINE_TILES] if options.online_tiles else None,
    }  # fmt: skip
