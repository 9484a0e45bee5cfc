"""Likely duplicates: the same problem reported twice, close in space and time."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
from pyproj import Transformer

from pipelines.crs import metric_crs_of
from pipelines.ingest import arrow_strings


def link_likely_duplicates(
    reports: gpd.GeoDataFrame,
    *,
    distance_m: float = 30.0,
    window_h: float = 48.0,
) -> pd.Series:
    """Link each report to an earlier report of the same problem, if any.

    Two reports are likely duplicates when they have the same ``category``, were made
    within ``window_h`` hours of each other, and either share a non-null ``building_id``
    or lie within ``distance_m`` metres (measured in the site's metric CRS,
    :func:`pipelines.crs.metric_crs_of`, whatever the input CRS). A report is linked to
    the *earliest* such report before it (ties in time broken by ``report_id``); the
    link is not transitive.

    Parameters
    ----------
    reports
        ``report_id``, ``category``, ``reported_at``, geometry (any CRS; None allowed),
        optional ``building_id``.
    distance_m, window_h
        Distance in metres and time window in hours, both inclusive.

    Returns
    -------
    Series
        ``duplicate_of``, aligned on ``reports.index``: the ``report_id`` of the earlier
        report, or NA.

    Notes
    -----
    Vectorised: the building criterion is a ``searchsorted`` over reports sorted by
    (category, building, time); the distance criterion a k-d tree of (x, y, scaled time)
    per category, queried for pairs within the Chebyshev box, then filtered by the
    Euclidean distance.
    """
    from scipy.spatial import cKDTree

    n = len(reports)
    result = pd.Series(pd.NA, index=reports.index, dtype="string", name="duplicate_of")
    if n < 2:
        return result
    t_ns = (
        pd.to_datetime(reports["reported_at"]).to_numpy().astype("datetime64[ns]").astype(np.int64)
    )
    has_time = ~pd.isna(reports["reported_at"]).to_numpy()
    cat_codes, _ = pd.factorize(reports["category"].astype("str"), sort=True)
    rid = reports["report_id"].astype("str")
    rid_codes, _ = pd.factorize(rid, sort=True)
    # Rank of each report in (category, time, report_id) order: "earlier" means lower rank.
    order = np.lexsort((rid_codes, t_ns, cat_codes))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    best = np.full(n, n, dtype=np.int64)  # rank of the earliest match; n = none

    # Same building within the window.
    if "building_id" in reports:
        b = reports["building_id"]
        ok = b.notna().to_numpy() & has_time & (cat_codes >= 0)
        if ok.any():
            idx = np.flatnonzero(ok)
            b_codes, _ = pd.factorize(b.astype("str").to_numpy()[idx], sort=True)
            group = cat_codes[idx].astype(np.int64) * (int(b_codes.max()) + 1) + b_codes
            o = np.lexsort((rank[idx], t_ns[idx], group))
            g_sorted = group[o] - group.min()
            # One searchsorted over (group, time) keys: within a group, the earliest report
            # at or after t - window is the match. Times in the finest unit (ns, µs, ms,
            # s) for which the composite keys fit in 62 bits.
            for unit in (1, 1_000, 1_000_000, 1_000_000_000):
                t_sorted = (t_ns[idx][o] - t_ns[idx].min()) // unit
                window = int(window_h * 3600 * 1e9) // unit
                span = int(t_sorted.max()) + window + 1
                if (int(g_sorted.max()) + 1) * span < 2**62:
                    break
            key = g_sorted * span + t_sorted
            first = np.searchsorted(key, key - window, side="left")
            positions = np.arange(len(o))
            linked = first < positions
            target_rank = rank[idx[o[first]]]
            rows = idx[o[linked]]
            best[rows] = np.minimum(best[rows], target_rank[linked])

    # Within distance_m and the window.
    geom = reports.geometry
    has_geom = (geom.notna() & ~geom.is_empty).to_numpy() & has_time & (cat_codes >= 0)
    if has_geom.any() and reports.crs is not None:
        # The points' coordinates projected as numbers (what ``to_crs`` does, without
        # building a new geometry per point).
        pts = geom[has_geom]
        to_metric = Transformer.from_crs(reports.crs, metric_crs_of(reports), always_xy=True)
        x, y = (
            np.asarray(v, dtype=float)
            for v in to_metric.transform(pts.x.to_numpy(), pts.y.to_numpy())
        )
        idx = np.flatnonzero(has_geom)
        scale = distance_m / (window_h * 3600.0) if window_h > 0 else 0.0
        t_s = (t_ns[idx] - t_ns[idx].min()) / 1e9
        cats = cat_codes[idx]
        for c in np.unique(cats):
            sel = np.flatnonzero(cats == c)
            if len(sel) < 2:
                continue
            coords = np.column_stack((x[sel], y[sel], t_s[sel] * scale))
            pairs = cKDTree(coords).query_pairs(r=distance_m, p=np.inf, output_type="ndarray")
            if len(pairs) == 0:
                continue
            i, j = sel[pairs[:, 0]], sel[pairs[:, 1]]
            close = np.hypot(x[i] - x[j], y[i] - y[j]) <= distance_m
            close &= np.abs(t_s[i] - t_s[j]) <= window_h * 3600.0
            i, j = idx[i[close]], idx[j[close]]
            later = np.where(rank[i] > rank[j], i, j)
            earlier_rank = np.minimum(rank[i], rank[j])
            np.minimum.at(best, later, earlier_rank)

    linked = best < n
    if linked.any():
        # The earlier report's id, taken by pyarrow (no Python string per row).
        source = np.where(linked, order[np.minimum(best, n - 1)], 0)
        taken = arrow_strings(rid).take(pa.array(source, mask=~linked))
        values = taken.to_pandas(types_mapper={taken.type: pd.StringDtype("pyarrow")}.get)
        result = pd.Series(values.array, index=reports.index, name="duplicate_of")
    return result
