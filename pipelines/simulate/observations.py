"""Observation sources of the simulator: walkthrough GeoJSON and KoboToolbox CSV.

Private plumbing of :mod:`pipelines.simulate.stage` (whose docstring is the method note).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipelines.crs import WGS84
from pipelines.simulate.patterns import HOTSPOT_TILT, _Calendar
from pipelines.simulate.rows import DESCRIPTIONS, KOBO_COLUMNS, _flat, _Geo, _person, _pick
from pipelines.taxonomy import BY_CODE

# ------------------------------------------------------------------- observation sources
WALK_MIX: dict[str, float] = {
    "proprete": 0.20,
    "encombrants": 0.20,
    "degradation": 0.15,
    "electricite_eclairage": 0.10,
    "espaces_exterieurs": 0.15,
    "stationnement": 0.08,
    "securite_acces": 0.07,
    "occupation": 0.05,
}
KOBO_MIX: dict[str, float] = {
    "ascenseur": 0.14,
    "eau_fuite": 0.12,
    "electricite_eclairage": 0.14,
    "nuisibles": 0.08,
    "proprete": 0.16,
    "degradation": 0.14,
    "securite_acces": 0.14,
    "occupation": 0.08,
}


def _walk_date(cal: _Calendar, rng: np.random.Generator, month: int) -> pd.Timestamp:
    day = cal.bounds[month] + pd.Timedelta(days=int(rng.integers(4, 24)))
    while day.day_of_week not in (1, 3):  # walks on Tuesdays and Thursdays
        day += pd.Timedelta(days=1)
    return day.normalize()


def _route(xy: np.ndarray) -> list[int]:
    """Greedy nearest-neighbour order from the westernmost point (a walking route)."""
    left = list(range(len(xy)))
    current = min(left, key=lambda k: (xy[k][0], k))
    order = [current]
    left.remove(current)
    while left:
        current = min(left, key=lambda k: (np.hypot(*(xy[k] - xy[current])), k))
        order.append(current)
        left.remove(current)
    return order


def _walk(
    profile: pd.DataFrame,
    ids: np.ndarray,
    geo: _Geo,
    cal: _Calendar,
    rng: np.random.Generator,
    plan: dict[str, Any],
    pattern: bool,
) -> gpd.GeoDataFrame:
    """Five walks of 30 points 2–12 m outside footprints (2 through the clusters)."""
    residential = np.flatnonzero(profile["is_residential"].to_numpy())
    xy = profile[["x_m", "y_m"]].to_numpy()
    social = np.flatnonzero(profile["is_social"].to_numpy())
    months = np.linspace(2, cal.months - 3, 5).round().astype(int)
    cats = list(WALK_MIX)
    rows: list[dict[str, Any]] = []
    for w, month in enumerate(months):
        clusters = plan["clusters"]
        through_cluster = pattern and w in (0, 2) and len(clusters) > w // 2
        centre = clusters[w // 2]["centre"] if through_cluster else int(_pick_int(rng, social))
        d = np.hypot(*(xy[residential] - xy[centre]).T)
        nearby = residential[d <= 200.0]
        picks = rng.choice(nearby, size=30, replace=len(nearby) < 30)
        pts = []
        for pos in picks:
            pt = geo.near(rng, int(pos), 2.0, 12.0, own=False)
            pts.append((int(pos), pt if pt is not None else geo.inside(rng, int(pos))))
        order = _route(np.array([[p[1][0], p[1][1]] for p in pts]))
        team = [_person(rng)[0] for _ in range(3)]
        t = _walk_date(cal, rng, int(month)) + pd.Timedelta(hours=9, minutes=30)
        p = np.array([WALK_MIX[c] for c in cats])
        if through_cluster:
            p = p * np.array([2.0 if c in HOTSPOT_TILT else 1.0 for c in cats])
        p = p / p.sum()
        for k in order:
            t += pd.Timedelta(minutes=int(rng.integers(2, 7)), seconds=int(rng.integers(60)))
            cat = cats[int(rng.choice(len(cats), p=p))]
            comment = _pick(rng, DESCRIPTIONS[cat])
            if rng.random() < 0.05:
                comment += f" Signalé par une habitante ({_flat(rng)})."
            photo = f"IMG_{t.strftime('%Y%m%d_%H%M%S')}.jpg" if rng.random() < 0.7 else ""
            _, (_x, _y, lon, lat) = pts[k]
            rows.append(
                {
                    "date": t.isoformat(),
                    "theme": BY_CODE[cat].label,
                    "commentaire": comment,
                    "auteur": _pick(rng, team),
                    "photo": photo,
                    "geometry": shapely.Point(lon, lat),
                }
            )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=WGS84)


def _pick_int(rng: np.random.Generator, values: np.ndarray) -> int:
    return int(values[int(rng.integers(len(values)))])


def _kobo(
    profile: pd.DataFrame,
    ids: np.ndarray,
    geo: _Geo,
    codes: dict[int, str],
    cal: _Calendar,
    rng: np.random.Generator,
    plan: dict[str, Any],
    pattern: bool,
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Three building tours of 40 KoboToolbox submissions, GPS noise included."""
    social = np.flatnonzero(profile["is_social"].to_numpy())
    xy = profile[["x_m", "y_m"]].to_numpy()
    tall = profile["is_tall"].to_numpy()
    months = np.linspace(4, cal.months - 2, 3).round().astype(int)
    records: list[list[str]] = []
    truth: dict[str, str] = {}
    next_id = 180_000_000 + int(rng.integers(1_000_000))
    empty_geo = set(rng.choice(120, size=2, replace=False).tolist())
    n = 0
    for tour, month in enumerate(months):
        clusters = plan["clusters"]
        if pattern and tour == 1 and clusters:
            centre = clusters[-1]["centre"]
        else:
            centre = _pick_int(rng, social)
        d = np.hypot(*(xy[social] - xy[centre]).T)
        near = social[np.argsort(d, kind="stable")[:12]]
        surveyor = _person(rng)[0]
        t = _walk_date(cal, rng, int(month)) + pd.Timedelta(hours=14)
        for _ in range(40):
            pos = int(near[int(rng.integers(len(near)))])
            cats = [c for c in KOBO_MIX if c != "ascenseur" or tall[pos]]
            p = np.array([KOBO_MIX[c] for c in cats])
            cat = cats[int(rng.choice(len(cats), p=p / p.sum()))]
            t += pd.Timedelta(minutes=int(rng.integers(2, 9)), seconds=int(rng.integers(60)))
            start = t.tz_localize("Europe/Paris")
            end = start + pd.Timedelta(seconds=int(rng.integers(50, 240)))
            submitted = (end + pd.Timedelta(minutes=int(rng.integers(1, 120)))).tz_convert("UTC")
            uid = str(uuid.UUID(bytes=rng.bytes(16), version=4))
            next_id += int(rng.integers(1, 4))
            code = codes.get(pos, "")
            batiment = (
                _pick(rng, (code, f"Bât {code.split('-', 1)[1]}", code.lower())) if code else ""
            )
            x, y, lon, lat = geo.inside(rng, pos)
            precision = float(np.round(rng.uniform(4.0, 20.0), 1))
            for _ in range(10):  # GPS noise, kept inside the study area
                noisy = geo.wgs(
                    x + float(rng.normal(0, precision / 3)), y + float(rng.normal(0, precision / 3))
                )
                if geo.contains(*noisy):
                    lon, lat = noisy
                    break
            if n in empty_geo:
                geoloc = lat_text = lon_text = prec_text = ""
            else:
                geoloc = f"[{lat}, {lon}]"
                lat_text, lon_text, prec_text = f"{lat}", f"{lon}", f"{precision}"
            records.append(
                [
                    start.isoformat(timespec="milliseconds"),
                    end.isoformat(timespec="milliseconds"),
                    submitted.tz_localize(None).isoformat(timespec="seconds"),
                    uid,
                    str(next_id),
                    batiment,
                    BY_CODE[cat].label,
                    _pick(rng, DESCRIPTIONS[cat]),
                    geoloc,
                    lat_text,
                    lon_text,
                    prec_text,
                    surveyor,
                ]
            )
            truth[uid] = str(ids[pos])
            n += 1
    return pd.DataFrame(records, columns=KOBO_COLUMNS, dtype=str), truth


# -------------------------------------------------------------------------------- writers
def geojson_text(points: gpd.GeoDataFrame) -> str:
    """Serialise point observations as a GeoJSON FeatureCollection (EPSG:4326).

    Hand-written rather than through GDAL so that the bytes are stable across library
    versions (the simulator promises byte-identical files for a seed).
    """
    wgs = points.to_crs(WGS84)
    lines = []
    props = [c for c in wgs.columns if c != wgs.geometry.name]
    for row, geom in zip(wgs[props].itertuples(index=False), wgs.geometry, strict=True):
        feature = {
            "type": "Feature",
            "properties": dict(zip(props, row, strict=True)),
            "geometry": {"type": "Point", "coordinates": [round(geom.x, 6), round(geom.y, 6)]},
        }
        lines.append(json.dumps(feature, ensure_ascii=False))
    body = ",\n".join(lines)
    return (
        '{"type": "FeatureCollection", "name": "observations_diagnostic", "features": [\n'
        + body
        + "\n]}\n"
    )
