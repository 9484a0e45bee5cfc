"""Geocoding benchmark: 1 million points on a 100,000-building synthetic city, against a
bare geopandas baseline run in the same process; then 100,000 addresses."""

from __future__ import annotations

import geopandas as gpd
import numpy as np

from bench._util import emit, timed
from bench.city import synthetic_city, synthetic_points
from pipelines.geocode.stage import geocode_points

N_POINTS = 1_000_000


def main() -> None:
    res: dict[str, object] = {}
    with timed(res, "city_build_s"):
        city = synthetic_city(100_000)
    res["buildings"] = len(city.buildings)
    pts = synthetic_points(city, N_POINTS)
    res["points"] = len(pts)
    b = city.buildings
    with timed(res, "baseline_s"):
        frame = gpd.GeoDataFrame(geometry=pts)
        within = gpd.sjoin(frame, b, predicate="within", how="inner")
        within = within[~within.index.duplicated()]
        rest = frame.loc[frame.index.difference(within.index)]
        nearest = gpd.sjoin_nearest(rest, b, max_distance=25.0, how="inner", distance_col="d")
        nearest = nearest[~nearest.index.duplicated()]
    with timed(res, "vigie_s"):
        out = geocode_points(pts, b, tolerance_m=25.0)
    res["baseline_matched"] = int(len(within) + len(nearest))
    res["vigie_matched"] = int(out["building_id"].notna().sum())
    res["speedup_vs_baseline"] = round(res["baseline_s"] / res["vigie_s"], 2)  # type: ignore[operator]
    res["target"] = "points in at most the baseline's time"
    res["agree"] = bool(res["baseline_matched"] == res["vigie_matched"])
    res["by_method"] = out["geocode_method"].value_counts().to_dict()
    np.random.default_rng(0)
    emit("geocode_points", res)
    try:
        from bench.geocode_addresses import bench_addresses
    except ImportError:
        return
    emit("geocode_addresses", bench_addresses(city))


if __name__ == "__main__":
    main()
