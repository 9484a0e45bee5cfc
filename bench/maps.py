"""Map benchmark: size and load time of the meeting maps.

1. The demo maps: ``vigie run`` on a copy of ``config/demo.toml`` into a temporary folder
   (the simulated Bondy reports written there too), then each site map's size in MB and
   its load time in headless Chromium with the network cut (navigation start → buildings
   and basemap drawn, no animation running; median of 3 loads). Targets: ≤ 5 MB, ≤ 2 s.
2. A synthetic site with 100,000 reports over the real footprints tiled
   (:mod:`bench.city`), with every optional column present (rates, Gi* bins, emerging
   categories, chronic buildings): its size (target ≤ 10 MB; above
   ``params.maps.max_report_points`` the markers are aggregated) and load time.

Usage: ``python -m bench.maps`` (or ``python -m bench maps``).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from bench._util import emit, timed
from pipelines.config import load_config
from pipelines.config.publication import READERS
from pipelines.crs import WGS84
from pipelines.taxonomy import CODES

ROOT = Path(__file__).resolve().parents[1]
N_REPORTS = 100_000
TARGET_DEMO_MB = 5.0
TARGET_LARGE_MB = 10.0
TARGET_LOAD_S = 2.0
DESCRIPTIONS = (
    "Ascenseur bloqué au 3e étage depuis ce matin.",
    "Fuite d'eau dans la cage d'escalier, le palier est inondé.",
    "Plus de chauffage ni d'eau chaude depuis deux jours.",
    "Éclairage du hall en panne, il fait noir le soir.",
    "Cafards dans le local poubelles.",
    "Encombrants déposés devant l'entrée.",
    "Porte du hall forcée, la serrure ne ferme plus.",
    "",
)


def synthetic_site(
    n_reports: int = N_REPORTS, *, min_buildings: int = 4000, seed: int = 7
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Footprints of :func:`bench.city.synthetic_city` with ``n_reports`` reports on them.

    Returns
    -------
    tuple
        ``buildings`` (EPSG:4326, with every column a map can draw) and ``reports``
        (EPSG:4326, the columns of ``reports.parquet``), over 24 months.
    """
    from bench.city import synthetic_city

    rng = np.random.default_rng(seed)
    city = synthetic_city(min_buildings)
    b = city.buildings.reset_index(drop=True)
    n_b = len(b)
    # A few busy buildings, many quiet ones: a heavy-tailed weight per building.
    weight = rng.pareto(1.5, n_b) + 0.05
    idx = rng.choice(n_b, size=n_reports, p=weight / weight.sum())
    rep = b.geometry.representative_point()
    x = rep.x.to_numpy()[idx] + rng.normal(0, 2.0, n_reports)
    y = rep.y.to_numpy()[idx] + rng.normal(0, 2.0, n_reports)
    start = pd.Timestamp("2024-01-01")
    minutes = rng.integers(0, 24 * 30 * 24 * 60, n_reports)
    kind = np.where(rng.random(n_reports) < 0.04, "observations", "reports")
    cats = np.asarray(CODES)[rng.integers(0, len(CODES), n_reports)]
    reports = gpd.GeoDataFrame(
        {
            "report_id": [f"synth:{i}" for i in range(n_reports)],
            "source": np.where(kind == "reports", "bailleur", "diagnostic"),
            "source_kind": kind,
            "category": cats,
            "description": np.asarray(DESCRIPTIONS)[rng.integers(0, len(DESCRIPTIONS), n_reports)],
            "reported_at": start + pd.to_timedelta(minutes, unit="min"),
            "building_id": b["building_id"].to_numpy()[idx],
            "duplicate_of": pd.Series(pd.NA, index=range(n_reports), dtype="string"),
        },
        geometry=gpd.points_from_xy(x, y),
        crs=city.buildings.crs,
    ).to_crs(WGS84)
    counted = reports[reports["source_kind"] == "reports"]
    table = pd.crosstab(counted["building_id"], counted["category"]).reindex(
        index=b["building_id"], columns=list(CODES), fill_value=0
    )
    out = b.to_crs(WGS84)
    for c in CODES:
        out[f"n_{c}"] = table[c].to_numpy()
    out["n_reports"] = table.sum(axis=1).to_numpy()
    known = rng.random(n_b) < 0.4
    out["dwellings"] = np.where(known, rng.integers(4, 250, n_b), np.nan)
    out["dwellings_source"] = np.where(known, "rpls", None)
    out["reports_per_100_dwellings"] = 100 * out["n_reports"] / out["dwellings"]
    rank = out["n_reports"].rank(pct=True).to_numpy()
    out["gi_bin"] = np.select([rank > 0.97, rank > 0.94, rank > 0.9, rank < 0.05], [3, 2, 1, -1], 0)
    out["emerging_category"] = np.select(
        [rank > 0.98, rank > 0.95, rank > 0.92], ["intensifying", "persistent", "new"], "no_pattern"
    )
    out["is_chronic"] = rank > 0.985
    out["open_backlog"] = rng.integers(0, 5, n_b)
    return out, reports


def load_seconds(html: Path, *, runs: int = 3) -> float:
    """Median load time in headless Chromium, offline (see ``tests/browser.py``)."""
    sys.path.insert(0, str(ROOT))
    from tests.browser import launch_browser, open_offline

    times = []
    with launch_browser() as browser:
        for _ in range(runs):
            result = open_offline(html, browser=browser, timeout_ms=60_000)
            if not result.clean:
                raise RuntimeError(f"{html}: errors or network requests: {result}")
            times.append(result.load_ms / 1000.0)
    return round(statistics.median(times), 3)


def demo_maps(workdir: Path, *, profile: str | None = None) -> dict[str, Path]:
    """Run the whole pipeline on the demo configuration into ``workdir``.

    With ``profile``, every reader's output (:data:`READERS`: map, PNG, charts, index,
    committee pack, GeoPackage) is published under
    that profile instead of the configuration's (``"interne"``: no disclosure control,
    the work the pipeline did before the publication step existed).
    """
    from pipelines.cli import main
    from pipelines.simulate import stage as simulate
    from tests.conftest import RAW, write_demo_config

    raw = workdir / "raw_bondy"
    simulate.run(
        RAW / "bondy" / "bondy_nord.osm",
        RAW / "bondy" / "ban_adresses_bondy.csv",
        raw,
        rpls_path=RAW / "bondy" / "rpls_bondy.gpkg",
        seed=42,
    )
    cfg = write_demo_config(workdir, raw)
    if profile is not None:
        outputs = "".join(f'{name} = "{profile}"\n' for name in READERS)
        with cfg.open("a", encoding="utf-8") as f:
            f.write(f"\n[publication.outputs]\n{outputs}")
    if main(["-q", "run", "--config", str(cfg)]) != 0:
        raise RuntimeError("vigie run failed")
    # Each site's map, by the configuration's site ids: the maps folder also holds the
    # committee packs (<site>_comite.html), pages with no map to wait for.
    return {site.id: workdir / "maps" / f"{site.id}.html" for site in load_config(cfg).sites}


def main() -> None:
    from pipelines.maps.site import MapOptions, build_site_map, render_map
    from pipelines.publish.build import publish_site

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        res: dict[str, Any] = {}
        with timed(res, "pipeline_s"):
            maps = demo_maps(work / "demo")
        # The same run with no disclosure control (every output interne): the spine's own
        # cost, comparable with the code before the publication step (issue 14); the
        # difference is what the committee profile's protection and audit cost (issue 16).
        with timed(res, "pipeline_interne_s"):
            demo_maps(work / "demo_interne", profile="interne")
        res["disclosure_control_s"] = round(res["pipeline_s"] - res["pipeline_interne_s"], 3)
        for site, html in maps.items():
            size = html.stat().st_size / 1e6
            res[f"{site}_mb"] = round(size, 2)
            res[f"{site}_load_s"] = load_seconds(html)
        res["target"] = f"each map ≤ {TARGET_DEMO_MB} MB and ≤ {TARGET_LOAD_S} s to load"
        res["ok"] = all(
            res[f"{s}_mb"] <= TARGET_DEMO_MB and res[f"{s}_load_s"] <= TARGET_LOAD_S for s in maps
        )
        emit("maps_demo", res)

        big: dict[str, Any] = {}
        with timed(big, "synthesis_s"):
            buildings, reports = synthetic_site()
        big["buildings"] = len(buildings)
        big["reports"] = len(reports)
        with timed(big, "build_s"):
            # Maps draw only published tables (the interne profile's: every point).
            m = build_site_map(
                publish_site(buildings, reports),
                site_name="Site synthétique (100 000 signalements)",
                simulated=True, attributions=["osm"], options=MapOptions(),
            )  # fmt: skip
            html_text = render_map(m)
        out = work / "synthetic.html"
        out.write_text(html_text, encoding="utf-8")
        big["mb"] = round(out.stat().st_size / 1e6, 2)
        big["load_s"] = load_seconds(out, runs=1)
        big["markers"] = "aggregated per building and category (above 20,000 points)"
        big["target"] = f"≤ {TARGET_LARGE_MB} MB"
        big["ok"] = big["mb"] <= TARGET_LARGE_MB
        emit("maps_100k_reports", big)


if __name__ == "__main__":
    main()
