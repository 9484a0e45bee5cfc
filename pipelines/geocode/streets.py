"""Private: the street steps of the address matcher (:mod:`pipelines.geocode.matching`,
for :func:`pipelines.geocode.address_index.match_addresses`): the street lookup tables
(:class:`_Streets`, names folded and known under their variants), exact matches on a
street's numbers, a number interpolated between its two nearest known neighbours on the
same side (at most :data:`MAX_INTERPOLATION_SPAN_M` apart), and the street alone when no
number is known.
"""

from __future__ import annotations

from collections import defaultdict

import geopandas as gpd
import numpy as np
import pandas as pd

from pipelines.crs import WGS84
from pipelines.geocode.addresses import _ARRONDISSEMENT_RE, fold, street_key
from pipelines.geocode.matching import link_points_to_buildings
from pipelines.geocode.osm_addresses import SOURCE_RANK

#: Farthest apart (metres) two known numbers may be for a number between them to be
#: interpolated: beyond, the street bends, forks or skips a block, and the line between
#: the two points says little about where the house is.
MAX_INTERPOLATION_SPAN_M = 200.0


def _known_address_labels(index: pd.DataFrame) -> pd.Series:
    """Each index address as its source spells it (« 1ter Chemin Latéral »): the OSM tags'
    or BAN's house number and street name (``housenumber_raw``, ``street_raw``), else the
    parsed number, suffix and normalised street; null without a street."""

    def column(name: str, fallback: pd.Series) -> pd.Series:
        values = index[name].astype("string") if name in index else fallback
        return values.str.strip().where(values.str.strip() != "", fallback)

    parsed_number = index["number"].astype("string") + index["suffix_key"].astype("string")
    number = column("housenumber_raw", parsed_number)
    street = column("street_raw", index["street"].astype("string"))
    return (number.fillna("") + " " + street).str.strip().astype(object)


class _Streets:
    """The index prepared for matching: lookup tables keyed on street keys.

    ``exact`` has one row per (street_key, number, suffix_key): where several index
    points share an address, a linked one wins, then :data:`SOURCE_RANK`, then the
    shortest link. ``by_number`` has one row per (street_key, number), a point without
    suffix preferred, with metric ``x``/``y`` for interpolation.
    """

    def __init__(self, index: gpd.GeoDataFrame, metric: str) -> None:
        idx = index[index["street_key"].notna() & index["number"].notna()].copy()
        pts = idx.geometry.to_crs(metric)
        idx["x"] = pts.x.to_numpy()
        idx["y"] = pts.y.to_numpy()
        lonlat = idx.geometry.to_crs(WGS84)
        idx["lon"] = lonlat.x.to_numpy()
        idx["lat"] = lonlat.y.to_numpy()
        idx["street_key"] = idx["street_key"].astype(object)
        idx["number"] = idx["number"].astype("int64")
        idx["suffix_key"] = idx["suffix_key"].fillna("").astype(object)
        idx["_unlinked"] = idx["building_id"].isna() if "building_id" in idx else True
        idx["_rank"] = idx["source"].map(SOURCE_RANK).fillna(len(SOURCE_RANK))
        if "is_entrance" in idx:
            # An entrance whose street comes from a relation is still an entrance.
            entrance = idx["is_entrance"].fillna(False).astype(bool)
            idx.loc[entrance, "_rank"] = SOURCE_RANK["osm_entrance"]
        dist = idx.get("link_distance_m", np.nan)
        idx["_dist"] = pd.Series(dist, index=idx.index, dtype=float).fillna(np.inf)
        if "building_id" not in idx:
            idx["building_id"] = pd.Series(pd.NA, index=idx.index, dtype="string")
        idx["label"] = _known_address_labels(idx)
        idx = idx.sort_values(["_unlinked", "_rank", "_dist", "address_id"])
        keep = [
            "street_key",
            "number",
            "suffix_key",
            "building_id",
            "link_distance_m" if "link_distance_m" in idx else "_dist",
            "x",
            "y",
            "lon",
            "lat",
            "address_id",
            "street",
            "label",
        ]
        table = pd.DataFrame(idx[keep]).rename(columns={"_dist": "link_distance_m"})
        self.exact = table.drop_duplicates(["street_key", "number", "suffix_key"])
        by_number = table.assign(_has_suffix=table["suffix_key"] != "")
        by_number = by_number.sort_values("_has_suffix", kind="stable")
        by_number = by_number.drop_duplicates(["street_key", "number"]).drop(columns="_has_suffix")
        by_number["parity"] = by_number["number"] % 2
        self.by_number = by_number.sort_values("number", kind="stable").reset_index(drop=True)
        #: One spelling of each street's name, for the reports placed on the street only.
        self.name = table.drop_duplicates("street_key").set_index("street_key")["street"]
        self.keys = frozenset(table["street_key"])
        aliases: dict[str, set[str]] = defaultdict(set)
        alt = index.loc[index["street_alt_keys"].notna(), ["street_key", "street_alt_keys"]]
        for key, alts in zip(alt["street_key"], alt["street_alt_keys"], strict=True):
            for a in str(alts).split("|"):
                if a and a not in self.keys:
                    aliases[a].add(str(key))
        # An alias shared by two streets is ambiguous: dropped.
        self.alias = {a: next(iter(ks)) for a, ks in aliases.items() if len(ks) == 1}
        self.choices = sorted(self.keys) + sorted(self.alias)
        #: The cities of the index (« bondy », « paris »), as the end of a street key.
        cities = index["city"].dropna().unique() if "city" in index else ()
        self.city_tails = sorted(
            {" " + k for c in cities if (k := street_key(_without_arrondissement(fold(str(c)))))},
            key=len,
            reverse=True,
        )

    def resolve(self, key: object) -> str | None:
        """The known street ``key`` names (itself, or the street it is an alias of);
        else, when it ends with a city of the index written without comma nor postcode
        (« 12 avenue Clara Grandet Bondy », « 8 rue de Paradis Paris 10e »), the street
        named before the city. None when unknown."""
        if not isinstance(key, str):
            return None
        found = key if key in self.keys else self.alias.get(key)
        if found is None:
            stem = _without_arrondissement(key)
            for tail in self.city_tails:
                if stem.endswith(tail) and (found := self.resolve(stem[: -len(tail)])):
                    break
        return found


def _without_arrondissement(text: str) -> str:
    """``text`` without a trailing arrondissement (« paris 10e », « paris 9eme
    arrondissement » → « paris »)."""
    return _ARRONDISSEMENT_RE.sub("", text.removesuffix(" arrondissement")).strip()


def _match_on_streets(
    queries: pd.DataFrame,
    streets: _Streets,
    buildings: gpd.GeoDataFrame,
    metric: str,
    *,
    tolerance_m: float,
    max_number_gap: int,
) -> pd.DataFrame:
    """Exact, then interpolated, matches of queries whose street key is in the index.

    ``queries`` has ``_row`` (position), ``street_key`` (resolved), ``numbers`` (tuple)
    and ``suffix_key``. Returns one row per query whose street is known: ``_row``,
    ``kind`` (``exact``, ``interpolated``, or ``street`` when neither places the
    number: the street is known, the building is not), ``score``, ``building_id``,
    ``distance_m``, ``lon``, ``lat``, ``address_id``, ``street`` and ``label`` (the known
    address as its source spells it, for an exact match only: an interpolated number is
    no known address).
    """
    columns = [
        "_row",
        "kind",
        "score",
        "building_id",
        "distance_m",
        "lon",
        "lat",
        "address_id",
        "street",
        "label",
    ]
    known = queries[queries["street_key"].notna()]
    q = known[known["numbers"].str.len() > 0]
    if q.empty:
        return _street_only(known, streets, columns)
    # (b) exact: every number of "1-3-5", the suffix on the first one; first found wins.
    ex = q[["_row", "street_key", "numbers", "suffix_key"]].explode("numbers")
    ex["_pos"] = ex.groupby("_row").cumcount()
    ex["number"] = ex["numbers"].astype("int64")
    ex["suffix_key"] = ex["suffix_key"].where(ex["_pos"] == 0, "")
    ex["street_key"] = ex["street_key"].astype(object)
    ex["suffix_key"] = ex["suffix_key"].astype(object)
    hits = ex.merge(
        streets.exact,
        on=["street_key", "number", "suffix_key"],
        how="inner",
        validate="m:1",  # one index row per address after de-duplication
    )
    hits = hits.sort_values(["_row", "_pos"]).drop_duplicates("_row")
    exact = pd.DataFrame(
        {
            "_row": hits["_row"].to_numpy(),
            "kind": "exact",
            "score": 1.0,
            "building_id": hits["building_id"].astype("string").to_numpy(),
            "distance_m": hits["link_distance_m"].to_numpy(dtype=float),
            "lon": hits["lon"].to_numpy(),
            "lat": hits["lat"].to_numpy(),
            "address_id": hits["address_id"].to_numpy(),
            "street": hits["street"].to_numpy(),
            "label": hits["label"].to_numpy(),
        }
    )

    # (c) interpolation on the first number, same street, same side (parity).
    rest = q[~q["_row"].isin(exact["_row"])]
    interp = _interpolate(rest, streets, max_number_gap=max_number_gap)
    if not interp.empty:
        points = gpd.GeoSeries(gpd.points_from_xy(interp["x"], interp["y"]), crs=metric)
        link = link_points_to_buildings(points, buildings, tolerance_m=tolerance_m)
        lonlat = points.to_crs(WGS84)
        interp = pd.DataFrame(
            {
                "_row": interp["_row"].to_numpy(),
                "kind": "interpolated",
                "score": interp["score"].to_numpy(),
                "building_id": link["building_id"].to_numpy(),
                "distance_m": link["link_distance_m"].to_numpy(),
                "lon": lonlat.x.to_numpy(),
                "lat": lonlat.y.to_numpy(),
                "address_id": interp["address_id"].to_numpy(),
                "street": interp["street"].to_numpy(),
                "label": None,
            }
        )
    placed = pd.concat([exact["_row"], interp["_row"]] if not interp.empty else [exact["_row"]])
    street = _street_only(known[~known["_row"].isin(placed)], streets, columns)
    parts = [p for p in (exact, interp, street) if not p.empty]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def _street_only(queries: pd.DataFrame, streets: _Streets, columns: list[str]) -> pd.DataFrame:
    """Rows of kind ``street`` for queries whose street is known but not the building."""
    return pd.DataFrame(
        {
            "_row": queries["_row"].to_numpy(),
            "kind": "street",
            "score": 0.0,
            "building_id": pd.array([None] * len(queries), dtype="string"),
            "distance_m": np.nan,
            "lon": np.nan,
            "lat": np.nan,
            "address_id": None,
            "street": streets.name.reindex(queries["street_key"]).to_numpy(),
            "label": None,
        },
        columns=columns,
    )


def _asof(
    left: pd.DataFrame,
    right: pd.DataFrame,
    on: str,
    prefix: str,
    *,
    direction: str,
    allow_exact_matches: bool = True,
) -> pd.DataFrame:
    """Nearest known number on the same street and side: ``merge_asof`` by key and parity.

    Many-to-one by construction (each left row gets at most one right row), which is the
    cardinality a ``validate="m:1"`` merge would check.
    """
    # merge_asof needs identical key dtypes; pandas 3 infers "str" from object arrays.
    left = left.assign(street_key=left["street_key"].astype("string"))
    right = right.assign(street_key=right["street_key"].astype("string"))
    return pd.merge_asof(
        left.sort_values(on, kind="stable"),
        right.add_prefix(prefix),
        left_on=on,
        right_on=f"{prefix}number",
        left_by=["street_key", "parity"],
        right_by=[f"{prefix}street_key", f"{prefix}parity"],
        direction=direction,  # type: ignore[arg-type]
        allow_exact_matches=allow_exact_matches,
    )


def _interpolate(
    q: pd.DataFrame,
    streets: _Streets,
    *,
    max_number_gap: int,
    max_span_m: float = MAX_INTERPOLATION_SPAN_M,
) -> pd.DataFrame:
    """Place house numbers between the known ones on the same side of the street.

    Only two kinds of placement are honest enough to put a report on a building:

    - the same number with another suffix (``12 bis`` where ``12`` is known): on it;
    - a number between two known numbers of the same parity on the same street, whose
      points are at most ``max_span_m`` metres apart and at most ``max_number_gap``
      numbers from the query: interpolated linearly between them.

    Beyond the last known number, or next to a number alone on its side, nothing says
    where the house is (measured on Bondy: 17 to 144 m off when guessed from one known
    number): such a query is not placed here, and the matcher reports its street only
    (``address_street``). Vectorised with ``merge_asof`` by street key and parity
    (:func:`_asof`). The score is a heuristic: 0.9 for the same number with another
    suffix, 0.85 between two known numbers minus 0.05 per house (two numbers) to the
    nearest of them, never below 0.3.

    Returns one row per placed query: ``_row``, metric ``x``/``y``, ``score``,
    ``address_id`` (nearest known address) and ``street``.
    """
    if q.empty:
        return pd.DataFrame()
    left = pd.DataFrame(
        {
            "_row": q["_row"].to_numpy(),
            "street_key": q["street_key"].astype("string").to_numpy(),
            "number": np.array([n[0] for n in q["numbers"]], dtype="int64"),
        }
    )
    left["parity"] = left["number"] % 2
    right = streets.by_number[["street_key", "parity", "number", "x", "y", "address_id", "street"]]

    lo = _asof(left, right, "number", "lo_", direction="backward")
    hi = _asof(left, right, "number", "hi_", direction="forward")
    both = lo.merge(
        hi[["_row"] + [str(c) for c in hi.columns if str(c).startswith("hi_")]],
        on="_row",
        validate="1:1",
    )

    def arr(column: str) -> np.ndarray:
        return both[column].to_numpy(dtype=float, na_value=np.nan)

    n, lo_n, hi_n = arr("number"), arr("lo_number"), arr("hi_number")
    lo_x, lo_y, hi_x, hi_y = arr("lo_x"), arr("lo_y"), arr("hi_x"), arr("hi_y")
    has_lo, has_hi = ~np.isnan(lo_n), ~np.isnan(hi_n)
    same_lo = has_lo & (lo_n == n)
    same_hi = ~same_lo & has_hi & (hi_n == n)
    same = same_lo | same_hi
    with np.errstate(invalid="ignore", divide="ignore"):
        span = np.hypot(hi_x - lo_x, hi_y - lo_y)
        bracket = ~same & has_lo & has_hi & (span <= max_span_m)
        frac = (n - lo_n) / (hi_n - lo_n)
        gap = np.where(bracket, np.minimum(n - lo_n, hi_n - n), np.where(same, 0.0, np.nan))
    x = np.where(same_lo, lo_x, np.where(same_hi, hi_x, lo_x + frac * (hi_x - lo_x)))
    y = np.where(same_lo, lo_y, np.where(same_hi, hi_y, lo_y + frac * (hi_y - lo_y)))
    score = np.where(same, 0.9, np.clip(0.85 - 0.05 * (gap / 2.0), 0.3, 1.0))
    near_lo = same_lo | (bracket & (n - lo_n <= hi_n - n))
    address_id = np.where(near_lo, both["lo_address_id"], both["hi_address_id"])
    street = np.where(has_lo, both["lo_street"], both["hi_street"])
    ok = (same | bracket) & (gap <= max_number_gap)
    return pd.DataFrame(
        {
            "_row": both["_row"].to_numpy()[ok],
            "x": x[ok],
            "y": y[ok],
            "score": score[ok],
            "address_id": address_id[ok],
            "street": street[ok],
        }
    )
