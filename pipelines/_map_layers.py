"""The overlay layers of a site map as compact, escaped data: report markers (one array
per field, not one object per report), field observations, density contours and the
offline basemap, and the GeoJSON of any geometry (coordinates rounded).

Pure functions used by :func:`pipelines._map_data.map_data`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipelines._map_html import esc, fr_number, present
from pipelines._map_views import CATEGORY_COLOURS, KDE_COLOURS, naive_dates
from pipelines.crs import WGS84
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
    from pipelines.basemap import LAND_COLOUR, LEGEND_GROUPS, STYLES

    if basemap is None or basemap.empty:
        return None
    bm = basemap.to_crs(WGS84).reset_index(drop=True)
    geoms = round_geometries(bm.geometry, 5)
    kinds = [k for k in STYLES if (bm["kind"] == k).any()]
    swatches = []
    for label, members in LEGEND_GROUPS:
        shown = [k for k in members if k in kinds]
        if not shown:
            continue
        s = STYLES[shown[0]]
        if s["fill"]:
            style = f"background:{s['fill']};border-color:{s['color']}"
        else:
            style = f"background:{s['color']};border-color:{s.get('casing') or s['color']}"
        swatches.append(f"<span class='sw'><i style='{style}'></i>{esc(label)}</span>")
    legend = "Fond de plan : " + " ".join(swatches) if swatches else ""
    return {
        "name": "Fond de plan (OpenStreetMap, hors ligne)",
        "geojson": features(geoms, [{"k": str(x)} for x in bm["kind"]]),
        "styles": {k: STYLES[k] for k in kinds},
        "legend": legend,
        "land": LAND_COLOUR,
    }
