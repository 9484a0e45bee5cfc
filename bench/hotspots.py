"""Hotspot-stage benchmark: the whole stage (``pipelines.hotspots.stage.run``, as ``vigie
hotspots`` runs it: read, Gi* with the automatic band on the total, every category, the
blank test, hexagons, kernel density and contours, chronic buildings, writes) on a
synthetic city of at least 100,000 real footprints and 1 million reports.

Reports: 90 % placed on a building chosen with probability proportional to its footprint
area, tripled in a few hundred planted hot blocks; 7 % a few metres off their building;
3 % unplaced far away. Categories from the taxonomy, dates over two years, 3 %
walkthrough observations and 0.5 % likely duplicates. Dwellings are known for 30 % of the
buildings. Everything is drawn from one seeded generator.

The stage runs in a fresh process, so that ``stage_peak_rss_mb`` is its own (the
parent's ``peak_rss_mb`` includes building the synthetic inputs). Target: the whole
stage under 60 s. Usage: ``python -m bench hotspots``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from bench._util import emit, peak_rss_mb, timed
from bench.city import synthetic_city
from pipelines.config import DEFAULT_PARAMS, Config, SiteConfig
from pipelines.crs import LAMBERT93, WGS84
from pipelines.hotspots.stage import run
from pipelines.io import write_geoparquet
from pipelines.taxonomy import CODES

N_REPORTS = 1_000_000
TARGET_S = 60.0


def synthetic_inputs(
    buildings: gpd.GeoDataFrame, n: int, *, seed: int = 3
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """``(reports, buildings)`` in EPSG:4326, shaped like the stage's inputs."""
    rng = np.random.default_rng(seed)
    b = buildings.reset_index(drop=True)
    area = b.area.to_numpy()
    weight = area.copy()
    hot_centres = rng.choice(len(b), 300, replace=False)
    centroid = b.geometry.centroid
    cx, cy = centroid.x.to_numpy(), centroid.y.to_numpy()
    for c in hot_centres:  # hot blocks: every building within 100 m of a centre, ×3
        near = np.hypot(cx - cx[c], cy - cy[c]) <= 100.0
        weight[near] *= 3.0
    pick = rng.choice(len(b), n, p=weight / weight.sum())
    rp = b.geometry.representative_point()
    x, y = rp.x.to_numpy()[pick], rp.y.to_numpy()[pick]
    kind = rng.random(n)
    near = (kind >= 0.90) & (kind < 0.97)
    far = kind >= 0.97
    angle = rng.uniform(0, 2 * np.pi, n)
    x = np.where(near, x + 12 * np.cos(angle), x)
    y = np.where(near, y + 12 * np.sin(angle), y)
    x0, y0, _x1, y1 = b.total_bounds
    x = np.where(far, rng.uniform(x0 - 2000, x0 - 200, n), x)
    y = np.where(far, rng.uniform(y0, y1, n), y)
    building_id = pd.array(b["building_id"].to_numpy()[pick], dtype="string")
    building_id[far] = pd.NA
    start = np.datetime64("2024-01-01T00:00", "m")
    reports = gpd.GeoDataFrame(
        {
            "report_id": pd.array([f"r{k}" for k in range(n)], dtype="string"),
            "building_id": building_id,
            "category": pd.array(rng.choice(CODES, n), dtype="string"),
            "reported_at": start + rng.integers(0, 2 * 365 * 24 * 60, n).astype("timedelta64[m]"),
            "source_kind": np.where(rng.random(n) < 0.03, "observations", "reports"),
            "duplicate_of": pd.array(np.where(rng.random(n) < 0.005, "r0", None), dtype="string"),
        },
        geometry=gpd.points_from_xy(x, y),
        crs=LAMBERT93,
    )
    known = rng.random(len(b)) < 0.30
    b["dwellings"] = np.where(known, np.maximum(1, np.round(area / 60.0)), np.nan)
    b["dwellings_source"] = pd.array(np.where(known, "rpls", None), dtype="string")
    b["area_m2"] = area.round(1)
    return reports.to_crs(WGS84), b.to_crs(WGS84)


def stage(d: Path) -> dict[str, object]:
    """Run the stage on the inputs in ``d``; timings, results and this process's peak."""
    site = SiteConfig(
        id="ville",
        name="Ville synthétique",
        osm="",
        sources=(),
        params={"hotspots": DEFAULT_PARAMS["hotspots"]},
    )
    config = Config(path="bench", sites=(site,))
    parts: dict[str, float] = {}
    t0 = time.perf_counter()
    out = run(
        config,
        "ville",
        reports_path=d / "reports.parquet",
        buildings_path=d / "buildings_osm.parquet",
        out_dir=d,
        timings=parts,
    )
    total = round(time.perf_counter() - t0, 3)
    summary = json.loads((d / "hotspot_summary.json").read_text(encoding="utf-8"))
    return {
        "stage_s": total,
        "parts_s": parts,
        "dominant_part": max(parts, key=lambda k: parts[k]),
        "stage_peak_rss_mb": round(peak_rss_mb(), 1),
        "band_m": round(float(summary["band"]["band_m"]), 1),
        "band_method": summary["band"]["method"],
        "hot_95": int((out["gi_bin"] >= 2).sum()),
        "categories_analysed": sum(
            1 for v in summary["categories"].values() if v["status"] == "analysed"
        ),
        "chronic_pairs": summary["chronic"]["n_pairs"],
    }


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--stage":
        print(json.dumps(stage(Path(sys.argv[2]))), flush=True)
        return
    res: dict[str, object] = {}
    with timed(res, "inputs_s"):
        city = synthetic_city(100_000)
        reports, buildings = synthetic_inputs(city.buildings, N_REPORTS)
    res["buildings"] = len(buildings)
    res["reports"] = len(reports)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        write_geoparquet(reports, d / "reports.parquet")
        write_geoparquet(buildings, d / "buildings_osm.parquet")
        del city, reports, buildings
        # The stage in a fresh process, so that its peak memory is its own.
        proc = subprocess.run(
            [sys.executable, "-m", "bench.hotspots", "--stage", str(d)],
            capture_output=True,
            text=True,
            check=True,
        )
    res.update(json.loads(proc.stdout.strip().splitlines()[-1]))
    res["target"] = f"whole stage < {TARGET_S:.0f} s"
    res["meets_target"] = bool(res["stage_s"] < TARGET_S)  # type: ignore[operator]
    emit("hotspots", res)


if __name__ == "__main__":
    main()
