"""Trends benchmark: the emerging-hotspot analysis as :mod:`pipelines.trends.stage` runs it.

A million reports on the synthetic city (≥ 100,000 real footprints tiled from the
extracts, :mod:`bench.city`) over 24 months: the building × month cube, the distance band
(automatic, as the hotspot stage chooses it), Gi* at every month with Benjamini–Hochberg
FDR, Mann-Kendall on each building's z series and the emerging categories. Target: under
120 s; peak memory printed.

Reports are drawn with a seeded RNG: buildings in proportion to a log-normal exposure,
a few hundred buildings with a rising monthly rate,
uniform times within each month (see :func:`synthetic_reports`).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from bench._util import emit, timed
from bench.city import synthetic_city
from pipelines.config import site_settings
from pipelines.stats.emerging import emerging_hotspot_table
from pipelines.stats.gistar import feature_points
from pipelines.trends import stage as trends

N_REPORTS = 1_000_000
N_MONTHS = 24
TARGET_S = 120.0


def synthetic_reports(building_ids: pd.Index, n: int, *, seed: int = 3) -> pd.DataFrame:
    """About ``n`` reports over ``N_MONTHS`` months from January 2024 on ``building_ids``.

    Buildings are drawn in proportion to a log-normal exposure, months uniformly; 300
    buildings keep a share of their reports that rises from 1/4 to all of them over the
    months (a rising rate), so the few thousand reports they lose make ``n`` approximate.
    """
    rng = np.random.default_rng(seed)
    nb = len(building_ids)
    exposure = rng.lognormal(0.0, 1.0, nb)
    building = rng.choice(nb, size=n, p=exposure / exposure.sum())
    month = rng.integers(0, N_MONTHS, size=n)
    rising = np.isin(building, rng.choice(nb, size=300, replace=False))
    share = np.linspace(0.25, 1.0, N_MONTHS)
    keep = ~rising | (rng.random(n) < share[month])
    building, month = building[keep], month[keep]
    starts = pd.date_range("2024-01-01", periods=N_MONTHS, freq="MS").to_numpy()
    seconds = rng.integers(0, 28 * 86400, size=len(building)).astype("timedelta64[s]")
    return pd.DataFrame(
        {
            "building_id": pd.array(building_ids.to_numpy()[building], dtype="string"),
            "category": "proprete",
            "reported_at": (starts[month] + seconds).astype("datetime64[us]"),
        }
    )


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    res: dict[str, object] = {}
    with timed(res, "city_build_s"):
        city = synthetic_city(100_000)
    ids = pd.Index(city.buildings["building_id"].astype(str), name="building_id")
    res["buildings"] = len(ids)
    with timed(res, "reports_draw_s"):
        reports = synthetic_reports(ids, N_REPORTS)
    res["reports"] = len(reports)
    coords = feature_points(city.buildings)
    settings = site_settings({})
    params = settings.trends
    with timed(res, "emerging_stage_s"):
        periods = trends.study_periods(reports["reported_at"], freq=params.freq)
        cube = trends.building_cube(reports, ids, periods)
        result = trends.emerging_analysis(
            cube,
            coords,
            hotspot_params=settings.hotspots,
            time_window=params.time_window,
            alpha=params.alpha,
            min_level=params.min_level,
        )
    res["months"] = len(periods)
    if result.table is None or result.band is None:
        raise SystemExit(f"emerging analysis not computed: {result.note_fr}")
    res["band_m"] = round(result.band.band_m, 1)
    res["band_method"] = result.band.method
    # Breakdown (run again, step by step, for the figures only).
    with timed(res, "cube_s"):
        trends.building_cube(reports, ids, periods)
    with timed(res, "band_s"):
        trends.choose_band(coords, cube.sum(axis=1).to_numpy(float), settings.hotspots)
    with timed(res, "gi_fdr_mk_classify_s"):
        emerging_hotspot_table(cube, coords, result.band.band_m)
    res["neighbours_mean"] = round(float(result.table["n_neighbours"].mean()), 1)
    counts = result.table["emerging_category"].value_counts()
    res["categories"] = {str(k): int(v) for k, v in counts.items()}
    res["target"] = f"emerging stage under {TARGET_S:.0f} s"
    res["meets_target"] = bool(res["emerging_stage_s"] < TARGET_S)  # type: ignore[operator]
    emit("trends_emerging", res)


if __name__ == "__main__":
    main()
