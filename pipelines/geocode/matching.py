"""Private: the matcher steps of :mod:`pipelines.geocode.address_index`.

Linking points to footprints, the gazetteer lookup and the result table that
:func:`pipelines.geocode.address_index.match_addresses` fills step by step; the street
lookup tables and the exact and interpolated matches are in
:mod:`pipelines.geocode.streets`.
"""

from __future__ import annotations

import logging
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from pipelines.crs import metric_crs_of, to_metric
from pipelines.errors import InputError
from pipelines.geocode.addresses import normalise_key

log = logging.getLogger(__name__)


MATCH_COLUMNS = [
    "building_id",
    "geocode_method",
    "geocode_score",
    "geocode_distance_m",
    "match_lon",
    "match_lat",
    "match_address_id",
    "match_street",
    "match_label",
    "address_normalised",
    "building",
    "entrance",
    "staircase",
]


# --------------------------------------------------------------------------------------
# Linking points to buildings
# --------------------------------------------------------------------------------------


def link_points_to_buildings(
    points: gpd.GeoSeries,
    buildings: gpd.GeoDataFrame,
    *,
    tolerance_m: float = 25.0,
) -> pd.DataFrame:
    """Link points to the footprint that contains them, else the nearest within a tolerance.

    Computed in the metric CRS of the buildings (Lambert-93 in France) with one
    ``sjoin_nearest``: a point inside a footprint is at distance 0. Where footprints
    overlap (building parts), the smallest containing one wins; exact ties otherwise go
    to the smallest ``building_id``.

    Parameters
    ----------
    points
        Points in any CRS; missing or empty geometries stay unlinked.
    buildings
        Footprints with a ``building_id`` column, any CRS.
    tolerance_m
        Largest distance to a footprint, in metres.

    Returns
    -------
    DataFrame
        Aligned on ``points.index``: ``building_id`` (string, NA when unlinked) and
        ``link_distance_m`` (metres, NaN when unlinked).
    """
    building_id = np.full(len(points), None, dtype=object)
    distance = np.full(len(points), np.nan)
    valid = points.notna() & ~points.is_empty
    if not valid.any() or len(buildings) == 0:
        return _link_frame(points.index, building_id, distance)
    metric = metric_crs_of(buildings)
    blds = to_metric(buildings[["building_id", "geometry"]], metric).reset_index(drop=True)
    blds["_area"] = blds.geometry.area
    pts = gpd.GeoDataFrame(
        {"_row": np.flatnonzero(valid.to_numpy())},
        geometry=to_metric(points[valid], metric).to_numpy(),
        crs=metric,
    )
    joined = gpd.sjoin_nearest(
        pts, blds, how="inner", max_distance=tolerance_m, distance_col="link_distance_m"
    )
    joined = joined.sort_values(["_row", "link_distance_m", "_area", "building_id"])
    joined = joined.drop_duplicates("_row", keep="first")
    rows = joined["_row"].to_numpy(dtype="int64")
    building_id[rows] = joined["building_id"].astype(str).to_numpy(dtype=object)
    distance[rows] = joined["link_distance_m"].to_numpy(dtype=float)
    return _link_frame(points.index, building_id, distance)


def _link_frame(index: pd.Index, building_id: np.ndarray, distance: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "building_id": pd.Series(building_id, index=index, dtype=object).astype("string"),
            "link_distance_m": pd.Series(distance, index=index, dtype=float),
        }
    )


# --------------------------------------------------------------------------------------
# Matching
# --------------------------------------------------------------------------------------


def _objects(values: pd.Series) -> np.ndarray:
    """Values as an object array with ``None`` for missing ones."""
    obj = values.astype(object)
    return obj.where(obj.notna(), None).to_numpy()


def _map_unique(values: pd.Series, func: Any) -> pd.Series:
    """Apply ``func`` once per distinct value (NA stays NA)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = np.array([func(u) for u in uniques] + [None], dtype=object)
    return pd.Series(mapped[codes], index=values.index, dtype=object)


def _gazetteer_lookup(parsed: pd.DataFrame, gazetteer: pd.DataFrame) -> pd.DataFrame:
    """``building_id`` of each parsed row from the gazetteer, NA when no key matches, and
    its ``label``: the key as the analyst wrote it (« Bâtiment BL-7 » when the landlord's
    code matched), never the report's own text.

    Keys tried, first hit wins: the ``building_ref`` column (landlord code), residence +
    building, street address + building, residence, street address.
    """
    for column in ("key", "building_id"):
        if column not in gazetteer.columns:
            raise InputError(
                "gazetteer", "colonne manquante (attendu : key, building_id).", column=column
            )
    g = pd.DataFrame(
        {
            "_k": _map_unique(gazetteer["key"], normalise_key),
            "building_id": gazetteer["building_id"].astype("string"),
            "key": gazetteer["key"].astype("string").str.strip(),
        }
    ).dropna()
    conflicts = g.groupby("_k")["building_id"].nunique()
    conflicts = conflicts[conflicts > 1]
    if len(conflicts):
        raise InputError(
            "gazetteer",
            f"clé(s) associée(s) à plusieurs bâtiments : {', '.join(conflicts.index[:5])}. "
            "Gardez un seul building_id par clé.",
            column="key",
        )
    lookup = g.drop_duplicates("_k").set_index("_k")

    def text(column: str) -> pd.Series:
        if column not in parsed:
            return pd.Series(pd.NA, index=parsed.index, dtype="string")
        return parsed[column].astype("string")

    numbers = (
        parsed["numbers"]
        if "numbers" in parsed
        else pd.Series([()] * len(parsed), index=parsed.index)
    )
    number_text = pd.Series(
        ["-".join(map(str, n)) if isinstance(n, tuple) else "" for n in numbers],
        index=parsed.index,
        dtype="string",
    )
    head = number_text + " " + text("suffix").fillna("") + " " + text("street")
    bat = " batiment " + text("building")
    candidates: list[pd.Series] = [
        text("building_ref"),
        text("residence") + bat,
        head + bat,
        text("residence"),
        head,
    ]
    result = pd.Series(pd.NA, index=parsed.index, dtype="string")
    label = pd.Series(pd.NA, index=parsed.index, dtype="string")
    for i, cand in enumerate(candidates):
        todo = result.isna() & cand.notna()
        if not todo.any():
            continue
        keys = _map_unique(cand[todo], normalise_key)
        result[todo] = keys.map(lookup["building_id"]).astype("string")
        key = keys.map(lookup["key"]).astype("string")
        label[todo] = ("Bâtiment " + key) if i == 0 else key
    return pd.DataFrame({"building_id": result, "label": label.where(result.notna())})


class _Result:
    """Columns of :func:`match_addresses` filled step by step, by row position."""

    def __init__(self, n: int) -> None:
        self.done = np.zeros(n, dtype=bool)
        self.building_id = np.full(n, None, dtype=object)
        self.method = np.full(n, "unmatched", dtype=object)
        self.score = np.zeros(n)
        self.distance_m = np.full(n, np.nan)
        self.lon = np.full(n, np.nan)
        self.lat = np.full(n, np.nan)
        self.address_id = np.full(n, None, dtype=object)
        self.street = np.full(n, None, dtype=object)
        self.label = np.full(n, None, dtype=object)

    def set(self, res: pd.DataFrame, method: str, score_factor: Any = 1.0) -> None:
        """Record matches (``_row``, ``score``, ``building_id``, ``distance_m``…, and
        ``label`` when the match names a known address or code; none otherwise).

        ``method`` ``"address"`` takes ``address_exact``/``address_interpolated`` from
        the ``kind`` column.
        """
        if res.empty:
            return
        rows = res["_row"].to_numpy(dtype="int64")
        self.building_id[rows] = res["building_id"].pipe(_objects)
        score = res["score"].to_numpy(dtype=float) * score_factor
        self.score[rows] = np.clip(score, 0.0, 1.0)
        self.distance_m[rows] = res["distance_m"].to_numpy(dtype=float)
        self.lon[rows] = res["lon"].to_numpy(dtype=float)
        self.lat[rows] = res["lat"].to_numpy(dtype=float)
        self.address_id[rows] = res["address_id"].pipe(_objects)
        self.street[rows] = res["street"].pipe(_objects)
        self.label[rows] = res["label"].pipe(_objects) if "label" in res else None
        if method == "address":
            self.method[rows] = ("address_" + res["kind"].astype(str)).to_numpy(dtype=object)
        else:
            self.method[rows] = method
        self.done[rows] = True

    def frame(self, parsed: pd.DataFrame) -> pd.DataFrame:
        index = parsed.index

        def text(values: Any) -> pd.Series:
            return pd.Series(values, index=index, dtype=object).astype("string")

        out = pd.DataFrame(
            {
                "building_id": text(self.building_id),
                "geocode_method": text(self.method),
                "geocode_score": self.score,
                "geocode_distance_m": self.distance_m,
                "match_lon": self.lon,
                "match_lat": self.lat,
                "match_address_id": text(self.address_id),
                "match_street": text(self.street),
                "match_label": text(self.label),
            },
            index=index,
        )
        for column in ("address_normalised", "building", "entrance", "staircase"):
            out[column] = (
                parsed[column].astype("string")
                if column in parsed
                else pd.Series(pd.NA, index=index, dtype="string")
            )
        return out[MATCH_COLUMNS]
