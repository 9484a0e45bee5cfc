"""Address geocoding benchmark: 100,000 typed addresses matched on the real Bondy index.

Real BAN addresses of the Bondy Nord extract (linked to the real footprints), written as
residents type them by the simulator's :func:`pipelines.simulate.stage.format_address` (one in
five with a house number that does not exist, so interpolation and misses are exercised).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from bench.city import ROOT, City
from pipelines.geocode.address_index import build_address_index, match_addresses, read_ban
from pipelines.geocode.address_parse import parse_addresses
from pipelines.osm.buildings import read_osm_bounds, read_osm_buildings

N_ADDRESSES = 100_000


def bench_addresses(city: City | None = None) -> dict[str, Any]:
    """Parse and match ``N_ADDRESSES`` addresses; the synthetic city is not used (street
    names repeat across its tiles, so addresses are matched on the real site)."""
    res: dict[str, Any] = {}
    osm = ROOT / "data/raw/bondy/bondy_nord.osm"
    buildings = read_osm_buildings(osm)
    west, south, east, north = read_osm_bounds(osm)
    ban = read_ban(ROOT / "data/raw/bondy/ban_adresses_bondy.csv")
    ban = ban[ban.geometry.x.between(west, east) & ban.geometry.y.between(south, north)]
    index = build_address_index(ban, buildings)
    rng = np.random.default_rng(3)
    sample = index.sample(N_ADDRESSES, replace=True, random_state=3)
    numbers = sample["number"].to_numpy().copy()
    numbers[::5] = rng.integers(1, 200, size=len(numbers[::5]))
    forms = [", 93140 Bondy", "", " BONDY", ", bât B", " esc 3"]
    texts = pd.Series(
        [
            f"{n} {s}{forms[i % len(forms)]}"
            for i, (n, s) in enumerate(zip(numbers, sample["street_raw"], strict=True))
        ]
    )
    res["addresses"] = len(texts)
    res["distinct"] = int(texts.nunique())
    t0 = time.perf_counter()
    parsed = parse_addresses(texts)
    res["parse_s"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    out = match_addresses(parsed, index, buildings)
    res["match_s"] = round(time.perf_counter() - t0, 3)
    res["total_s"] = round(res["parse_s"] + res["match_s"], 3)
    res["by_method"] = out["geocode_method"].value_counts().to_dict()
    res["target"] = "100,000 addresses in under 10 s"
    res["meets_target"] = bool(res["total_s"] < 10.0)
    return res
