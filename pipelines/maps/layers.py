"""The overlay layers of a site map as compact, escaped data: report markers (one array
per field, not one object per report), field observations, density contours, the
offline basemap, the hotspot zones and the planners' notes, and the GeoJSON of any
geometry (coordinates rounded).

Pure functions used by :func:`pipelines.maps.data.map_data`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipelines.crs import WGS84
from pipelines.fr import fr_number, plural
from pipelines.io import list_cell
from pipelines.maps.html import esc, is_hidden, notes_section_html, present
from pipelines.maps.notes import NOTE_COLOURS, ORPHAN_COLOUR, notes_layer_geojson
from pipelines.maps.views import (
    BASEMAP_LEGEND,
    BASEMAP_STYLES,
    CATEGORY_COLOURS,
    KDE_COLOURS,
    LAND_COLOUR,
)
from pipelines.reports import naive_dates
from pipelines.taxonomy import BY_CODE, CODES

#: Longest description shown in a report popup, in characters.
MAX_DESCRIPTION = 160


# ----------------------------------------------------------------------------- geometry
def round_geometries(geoms: gpd.GeoSeries, decimals: int, tolerance: float = 0.0) -> np.ndarray:
    arr = geoms.to_numpy()
    if tolerance > 0:
        arr = shapely.simplify(arr, tolerance, preserve_topology=True)
    return shapely.transform(arr, lambda c: np.round(c, decimals))


def features(geoms: np.ndarray, props: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": p, "geometry": shapely.geometry.mapping(g)}
            for g, p in zip(geoms, props, strict=True)
            if g is not None and not g.is_empty
        ],
    }


def reports_block(
    reports: gpd.GeoDataFrame,
    building_pos: Mapping[str, int],
    *,
    months: pd.PeriodIndex,
    day0: pd.Timestamp,
    max_points: int,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Compact arrays of the report markers, and the categories they use."""
    pts = reports[reports.geometry.notna() & ~reports.geometry.is_empty]
    if "duplicate_of" in pts:
        pts = pts[pts["duplicate_of"].isna()]
    pts = pts.to_crs(WGS84)
    cats = [c for c in CODES if (pts["category"] == c).any()]
    cat_pos = {c: i for i, c in enumerate(cats)}
    categories: list[dict[str, Any]] = [
        {
            "label": esc(BY_CODE[c].label),
            "colour": CATEGORY_COLOURS[c],
            "name": (
                f"<span class='vigie-layers-dot' style='background:{CATEGORY_COLOURS[c]}'></span>"
                f"{esc(BY_CODE[c].label)} ({fr_number(int((pts['category'] == c).sum()))})"
            ),
            "idx": [],
        }
        for c in cats
    ]
    b = [building_pos.get(str(x)) if present(x) else None for x in pts["building_id"]]
    lat = np.round(pts.geometry.y.to_numpy(), 6)
    lon = np.round(pts.geometry.x.to_numpy(), 6)
    c = [cat_pos[x] for x in pts["category"]]
    if len(pts) > max_points:
        frame = pd.DataFrame(
            {"lat": lat, "lon": lon, "c": c, "b": [-1 if x is None else x for x in b]}
        )
        # Points without a building are grouped on a ~10 m grid instead.
        frame["key"] = np.where(
            frame["b"] >= 0,
            frame["b"].astype(str),
            (frame["lat"] * 1e4).round().astype(int).astype(str)
            + ":"
            + (frame["lon"] * 1e4).round().astype(int).astype(str),
        )
        agg = frame.groupby(["key", "c"], sort=True).agg(
            lat=("lat", "mean"), lon=("lon", "mean"), b=("b", "first"), n=("lat", "size")
        )
        agg = agg.reset_index()
        block: dict[str, Any] = {
            "mode": "aggregated",
            "lat": np.round(agg["lat"], 6).tolist(),
            "lon": np.round(agg["lon"], 6).tolist(),
            "c": agg["c"].astype(int).tolist(),
            "b": [None if x < 0 else int(x) for x in agg["b"]],
            "n": agg["n"].astype(int).tolist(),
            "total": len(pts),
            "note": esc(
                f"{fr_number(len(pts))} signalements : au-delà de "
                f"{fr_number(max_points)}, les points sont regroupés par bâtiment et "
                "catégorie (le cercle donne le nombre). Le choix de période ne filtre "
                "pas ces points regroupés."
            ),
        }
        for i, k in enumerate(block["c"]):
            categories[k]["idx"].append(i)
        return block, categories
    dates = naive_dates(pts["reported_at"])
    month0 = months[0] if len(months) else None
    m = [(d.to_period("M") - month0).n if month0 is not None and pd.notna(d) else -1 for d in dates]
    d = [int((x.normalize() - day0).days) if pd.notna(x) else 0 for x in dates]
    desc = pts["description"] if "description" in pts else pd.Series("", index=pts.index)
    t = [short_text(x) for x in desc]
    for i, k in enumerate(c):
        categories[k]["idx"].append(i)
    block = {
        "mode": "points",
        "lat": lat.tolist(),
        "lon": lon.tolist(),
        "c": c,
        "m": m,
        "d": d,
        "b": b,
        "t": t,
        "total": len(pts),
    }
    return block, categories


def short_text(value: object) -> str:
    """A resident's description, cut to :data:`MAX_DESCRIPTION` then escaped."""
    if not present(value):
        return ""
    text = " ".join(str(value).split())
    if len(text) > MAX_DESCRIPTION:
        text = text[: MAX_DESCRIPTION - 1] + "…"
    return esc(text)


def observations_block(
    obs: gpd.GeoDataFrame, *, months: pd.PeriodIndex, day0: pd.Timestamp
) -> dict[str, Any] | None:
    obs = obs[obs.geometry.notna() & ~obs.geometry.is_empty].to_crs(WGS84)
    if obs.empty:
        return None
    codes = [str(c) if str(c) in BY_CODE else "autre" for c in obs["category"]]
    used = [c for c in CODES if c in set(codes)]
    cat_index = {c: i for i, c in enumerate(used)}
    dates = naive_dates(obs["reported_at"])
    month0 = months[0] if len(months) else None
    desc = obs["description"] if "description" in obs else pd.Series("", index=obs.index)
    source = obs["source"] if "source" in obs else pd.Series("terrain", index=obs.index)
    return {
        "name": (
            "<span class='vigie-layers-dot' style='border-radius:0;transform:rotate(45deg);"
            f"background:#fff;border:2px solid #111'></span>Observations de terrain "
            f"({fr_number(len(obs))})"
        ),
        "label": f"Observations de terrain, diagnostics en marchant ({fr_number(len(obs))})",
        "lat": np.round(obs.geometry.y.to_numpy(), 6).tolist(),
        "lon": np.round(obs.geometry.x.to_numpy(), 6).tolist(),
        "cats": [{"label": esc(BY_CODE[c].label), "colour": CATEGORY_COLOURS[c]} for c in used],
        "c": [cat_index[c] for c in codes],
        "m": [
            (x.to_period("M") - month0).n if month0 is not None and pd.notna(x) else -1
            for x in dates
        ],
        "d": [int((x.normalize() - day0).days) if pd.notna(x) else 0 for x in dates],
        "t": [short_text(x) for x in desc],
        "src": [esc(x) for x in source],
    }


def kde_block(kde: gpd.GeoDataFrame | None, bandwidth_m: float | None) -> dict[str, Any] | None:
    if kde is None or kde.empty or "density_min_per_ha" not in kde:
        return None
    k = kde.to_crs(WGS84).sort_values("density_min_per_ha").reset_index(drop=True)
    n = len(k)
    # Spread the bands over the palette: light for the lowest, dark for the highest.
    picks = np.linspace(0, len(KDE_COLOURS) - 1, n).round().astype(int) if n > 1 else [4]
    colours = [KDE_COLOURS[int(i)] for i in picks]
    labels = [
        esc(x) if "label" in k and present(x) else esc(f"{fr_number(v, 1)} / ha et plus")
        for x, v in zip(
            k["label"] if "label" in k else [None] * n, k["density_min_per_ha"], strict=True
        )
    ]
    radius = f" de rayon {fr_number(bandwidth_m)} m" if bandwidth_m else ""
    geoms = round_geometries(k.geometry, 5)
    return {
        "name": "Densité de signalements (par hectare)",
        "title": "Densité de signalements",
        "geojson": features(geoms, [{"band": i} for i in range(n)]),
        "colours": colours,
        "labels": labels,
        "caption": esc(
            f"Nombre de signalements par hectare, estimé avec un noyau quartique{radius} : "
            "une statistique calculée sur les signalements, pas un effet visuel du "
            "navigateur."
        ),
    }


def basemap_block(basemap: gpd.GeoDataFrame | None) -> dict[str, Any] | None:
    if basemap is None or basemap.empty:
        return None
    bm = basemap.to_crs(WGS84).reset_index(drop=True)
    geoms = round_geometries(bm.geometry, 5)
    kinds = [k for k in BASEMAP_STYLES if (bm["kind"] == k).any()]
    swatches = []
    for label, members in BASEMAP_LEGEND:
        shown = [k for k in members if k in kinds]
        if not shown:
            continue
        s = BASEMAP_STYLES[shown[0]]
        if s["fill"]:
            style = f"background:{s['fill']};border-color:{s['color']}"
        else:
            style = f"background:{s['color']};border-color:{s.get('casing') or s['color']}"
        swatches.append(f"<span class='sw'><i style='{style}'></i>{esc(label)}</span>")
    legend = "Fond de plan : " + " ".join(swatches) if swatches else ""
    return {
        "name": "Fond de plan (OpenStreetMap, hors ligne)",
        "geojson": features(geoms, [{"k": str(x)} for x in bm["kind"]]),
        "styles": {k: BASEMAP_STYLES[k] for k in kinds},
        "legend": legend,
        "land": LAND_COLOUR,
    }


# ----------------------------------------------------------------------------- zones, notes
#: Hotspot zones: ColorBrewer RdBu's darkest red (the Gi* view's 99 % hot colour).
ZONE_COLOUR = "#b2182b"


def notes_by(notes: gpd.GeoDataFrame | None, column: str) -> dict[str, list[dict[str, Any]]]:
    """The notes of each building (``column="building_ids"``) or zone (``"zone_ids"``).

    Parameters
    ----------
    notes
        The published notes (``published/notes.parquet``: live notes, linked), or
        ``None``.
    column
        A list column of ids.

    Returns
    -------
    dict
        id → list of note records (``tag``, ``status``, ``author``, ``created_at``,
        ``updated_at``, ``text``, ``orphan_flag``), unescaped.
    """
    if notes is None or notes.empty or column not in notes:
        return {}
    out: dict[str, list[dict[str, Any]]] = {}
    for _, row in notes.iterrows():
        record = {
            k: row.get(k)
            for k in ("note_id", "tag", "status", "author", "created_at", "updated_at", "text")
        }
        record["orphan_flag"] = row.get("orphan_flag") if present(row.get("orphan_flag")) else None
        for key in dict.fromkeys(list_cell(row[column])):
            out.setdefault(key, []).append(record)
    return out


def zones_block(
    zones: gpd.GeoDataFrame | None,
    notes_by_zone: Mapping[str, list[dict[str, Any]]],
    *,
    hidden_marker: str = "s",
) -> dict[str, Any] | None:
    """The hotspot zones (``zones.parquet``) as GeoJSON whose features carry ``zone_id``
    (read by the annotation mode) and an escaped popup; ``None`` when there is no zone.
    A hidden count of reports (``n_reports_flag`` « s ») reads ``hidden_marker``.

    ``zones`` is the published zones table, whose ``parent_zone_ids`` are in natural order.
    """
    if zones is None or zones.empty:
        return None
    z = zones.to_crs(WGS84).reset_index(drop=True)
    props = []
    for _, row in z.iterrows():
        zone_id = str(row["zone_id"])
        facts = [("Bâtiments points chauds", fr_number(int(row.get("n_buildings", 0) or 0)))]
        if is_hidden(row, "n_reports"):
            facts.append(("Signalements", esc(hidden_marker)))
        elif present(row.get("n_reports")):
            facts.append(("Signalements", fr_number(int(row["n_reports"]))))
        if present(row.get("status")):
            facts.append(("Depuis la dernière mise à jour", esc(row["status"])))
        parents = [p for p in list_cell(row.get("parent_zone_ids")) if p != zone_id]
        if parents:
            facts.append(("Issue de", esc(", ".join(parents))))
        notes = notes_by_zone.get(zone_id, [])
        popup = (
            f"<div class='fiche'><h4>Zone {esc(zone_id)}</h4><table class='faits'>"
            + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
            + "</table>"
            + notes_section_html(notes)
            + "</div>"
        )
        hot = plural(
            int(row.get("n_buildings", 0) or 0), "bâtiment point chaud", "bâtiments points chauds"
        )
        props.append({"zone_id": zone_id, "popup": popup, "tip": esc(f"Zone {zone_id} : {hot}")})
    return {
        "name": f"Zones de points chauds ({fr_number(len(z))})",
        "label": "Zone de points chauds (bâtiments chauds voisins regroupés)",
        "colour": ZONE_COLOUR,
        "fill": "rgba(178,24,43,.12)",
        "geojson": features(round_geometries(z.geometry, 6), props),
    }


def annotations_block(
    notes: gpd.GeoDataFrame | None, *, gone_building_flag: str
) -> dict[str, Any] | None:
    """The planners' notes layer: GeoJSON whose features carry the raw fields of each
    note (``note_id``, ``text``…, for the annotation mode, which shows them as text) and
    an escaped ``popup_html`` and ``tooltip``; ``None`` when no note has a position.

    ``gone_building_flag`` is the published flag of a note whose building left OSM.
    """
    if notes is None or notes.empty:
        return None
    data = notes_layer_geojson(notes)
    n = len(data["features"])
    if n == 0:
        return None
    shown = {
        f["properties"].get("status")
        for f in data["features"]
        if not f["properties"].get("is_orphaned")
    }
    legend = [
        {"style": f"background:{colour};border:2px solid #fff", "l": esc(f"Note « {status} »")}
        for status, colour in NOTE_COLOURS.items()
        if status in shown
    ]
    n_orphans = sum(bool(f["properties"].get("is_orphaned")) for f in data["features"])
    if n_orphans:
        legend.append(
            {
                "style": f"background:{ORPHAN_COLOUR};border:2px dotted #111",
                "l": esc(f"Note orpheline, « {gone_building_flag} » ({fr_number(n_orphans)})"),
            }
        )
    return {
        "name": f"Notes des urbanistes ({fr_number(n)})",
        "geojson": data,
        "colours": dict(NOTE_COLOURS),
        "orphan": ORPHAN_COLOUR,
        "n_orphans": n_orphans,
        "legend": legend,
    }
