"""The perimeter layer: read, repaired where invalid, overlaps listed."""

from __future__ import annotations

import logging
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from shapely import GeometryType

from pipelines.config import PortfolioConfig, nonnumeric_coordinate, quiet_open_rings
from pipelines.crs import WGS84, geodesic_area_m2, repaired_geometry
from pipelines.errors import InputError
from pipelines.portfolio.assign import owner_order

log = logging.getLogger(__name__)

#: Columns of :func:`read_perimeters`' frame.
PERIMETER_COLUMNS = ["site_id", "site_name", "feature", "repaired", "area_m2", "geometry"]
#: Perimeter problems named one by one in the error; the rest are counted.
MAX_LISTED = 5
#: What a perimeter that is no polygon is, by its geometry type.
KIND_FR = {
    GeometryType.POINT: "un point",
    GeometryType.LINESTRING: "une ligne",
    GeometryType.LINEARRING: "une ligne fermée",
    GeometryType.MULTIPOINT: "un ensemble de points",
    GeometryType.MULTILINESTRING: "un ensemble de lignes",
    GeometryType.GEOMETRYCOLLECTION: "une collection de géométries",
}
#: A geometry GEOS refuses to read, its coordinates all numbers.
REFUSED_FR = (
    "géométrie illisible : un de ses anneaux n'est pas fermé (son dernier sommet doit "
    "répéter le premier) ou a moins de 4 sommets"
)
#: Columns of :func:`find_overlaps`' frame (``overlaps.csv``).
OVERLAP_COLUMNS = ["site_a", "site_b", "feature_a", "feature_b", "overlap_m2", "rows_to"]


def repair(geometries: gpd.GeoSeries) -> tuple[gpd.GeoSeries, np.ndarray]:
    """Invalid geometries made valid, their polygonal part kept
    (:func:`pipelines.crs.repaired_geometry`: a bow-tie becomes polygons, sometimes
    with stray lines, and keeps the polygons).

    Returns the geometries and, per feature, whether it was repaired.
    """
    valid = shapely.is_valid(geometries.to_numpy())
    fixed = geometries.copy()
    if (~valid).any():
        fixed[~valid] = repaired_geometry(geometries.to_numpy()[~valid], kind="polygon")
    return fixed, ~valid


def perimeter_problems(geometries: gpd.GeoSeries, area_m2: pd.Series) -> pd.Series:
    """What makes each perimeter unusable, in French, or NA when it is a polygon with
    an area.

    Parameters
    ----------
    geometries
        The layer's geometries as read (before :func:`repair`), any CRS.
    area_m2
        Each perimeter's area once repaired, square metres, aligned on ``geometries``.

    Returns
    -------
    pandas.Series
        Aligned on ``geometries``: « géométrie vide », « c'est un point, pas un
        polygone »…, « polygone d'aire nulle… », or NA.
    """
    values = geometries.to_numpy()
    empty = shapely.is_missing(values) | shapely.is_empty(values)
    kinds = pd.Series(shapely.get_type_id(values), index=geometries.index)
    polygonal = kinds.isin([GeometryType.POLYGON, GeometryType.MULTIPOLYGON])
    out = pd.Series(pd.NA, index=geometries.index, dtype="string")
    out[~empty & ~polygonal] = [
        f"c'est {KIND_FR.get(k, 'une géométrie')}, pas un polygone"
        for k in kinds[~empty & ~polygonal]
    ]
    flat = ~empty & polygonal & (area_m2.to_numpy() <= 0)
    out[flat] = (
        "polygone d'aire nulle (ses sommets sont alignés ou confondus : même réparé, "
        "il n'entoure aucune surface)"
    )
    out[empty] = "géométrie vide (aucun sommet)"
    return out


def read_perimeters(portfolio: PortfolioConfig) -> gpd.GeoDataFrame:
    """The portfolio's perimeters in EPSG:4326, in the layer's order, repaired.

    Raises
    ------
    InputError
        A perimeter has a coordinate that is no number (NaN), is empty, no polygon (a
        point, a line), or has no area once repaired: every such feature named with
        its number, site id and name, and what is wrong
        (:func:`pipelines.config.nonnumeric_coordinate`, :func:`perimeter_problems`).
    """
    # A coordinate that is no number first, from the bytes (GEOS refuses a ring a NaN
    # leaves open), before any reprojection or repair would carry it into the areas.
    with quiet_open_rings():
        meta, _, wkb, _ = pyogrio.raw.read(
            portfolio.perimeters, layer=portfolio.layer, columns=[], read_geometry=True
        )
    with np.errstate(invalid="ignore"):  # shapely warns of the NaN it is asked to read
        shapes = shapely.from_wkb(wkb, on_invalid="ignore")
        coords, at = shapely.get_coordinates(shapes, return_index=True)
    refused = shapely.is_missing(shapes) & np.array([g is not None for g in wkb], bool)
    # Read vertex by vertex (in Python) only where GEOS refused or a coordinate is no number.
    suspect = refused.copy()
    suspect[at[~np.isfinite(coords).all(axis=1)]] = True
    unreadable = pd.Series(
        [
            (nonnumeric_coordinate(g) or (REFUSED_FR if r else None)) if s else None
            for g, s, r in zip(wkb, suspect, refused, strict=True)
        ],
        dtype="string",
    )
    if unreadable.notna().any():
        _raise_problems(portfolio, unreadable)
    layer = gpd.GeoDataFrame(geometry=shapes, crs=meta.get("crs"))
    if layer.crs is None:
        layer = layer.set_crs(WGS84)  # GeoJSON (RFC 7946) is in degrees
    layer = layer.to_crs(WGS84)
    geometries, repaired = repair(layer.geometry)
    frame = gpd.GeoDataFrame(
        {
            "site_id": list(portfolio.site_ids),
            "site_name": [p.name for p in portfolio.sites],
            "feature": [p.feature for p in portfolio.sites],
            "repaired": repaired,
        },
        geometry=geometries.to_numpy(),
        crs=WGS84,
    )
    frame["area_m2"] = geodesic_area_m2(frame.geometry.to_numpy())
    problems = perimeter_problems(layer.geometry, frame["area_m2"])
    if problems.notna().any():
        _raise_problems(portfolio, problems)
    for _, row in frame[frame["repaired"]].iterrows():
        log.warning(
            "%s, entité n° %d (« %s ») : géométrie invalide réparée (make_valid).",
            portfolio.perimeters,
            row["feature"],
            row["site_id"],
        )
    return frame[PERIMETER_COLUMNS]


def _raise_problems(portfolio: PortfolioConfig, problems: pd.Series) -> None:
    """The perimeters' problems (French, NA where none; aligned on the layer's features)
    as one error naming the layer file and the first :data:`MAX_LISTED` features.

    Raises
    ------
    InputError
        Always.
    """
    bad = np.flatnonzero(problems.notna().to_numpy())
    listed = [
        f"entité n° {p.feature} (site « {p.id} », « {p.name} ») : {problems.iloc[i]}"
        for i, p in ((int(i), portfolio.sites[int(i)]) for i in bad[:MAX_LISTED])
    ]
    more = f" ; et {len(bad) - MAX_LISTED} autre(s)" if len(bad) > MAX_LISTED else ""
    raise InputError(
        portfolio.perimeters,
        " ; ".join(listed)
        + more
        + ". Un périmètre doit être un polygone qui entoure une surface : corrigez "
        "sa géométrie dans la couche ou retirez l'entité.",
    )


def find_overlaps(perimeters: gpd.GeoDataFrame) -> pd.DataFrame:
    """Each pair of perimeters whose interiors overlap, with the overlap's area and the
    site(s) its rows go to (:func:`pipelines.portfolio.assign.owner_order`): the smaller
    of the two, unless a third perimeter, smaller still, covers the overlap or part of
    it (then that one first, ``, ``-separated)."""
    geoms = perimeters.geometry.to_numpy()  # degrees; areas on the ellipsoid
    rank = owner_order(perimeters)
    left, right = perimeters.sindex.query(geoms, predicate="overlaps")
    # contains / within: a perimeter nested in another overlaps it too.
    inner_l, inner_r = perimeters.sindex.query(geoms, predicate="contains")
    left = np.concatenate([left, inner_l])
    right = np.concatenate([right, inner_r])
    keep = left < right
    pairs = sorted(set(zip(left[keep].tolist(), right[keep].tolist(), strict=True)))
    rows = []
    for a, b in pairs:
        overlap = shapely.intersection(geoms[a], geoms[b])
        area = float(geodesic_area_m2([overlap])[0])
        if area <= 0:
            continue
        first = a if rank[a] < rank[b] else b
        rows.append(
            {
                "site_a": perimeters["site_id"].iat[a],
                "site_b": perimeters["site_id"].iat[b],
                "feature_a": int(perimeters["feature"].iat[a]),
                "feature_b": int(perimeters["feature"].iat[b]),
                "overlap_m2": round(area, 1),
                "rows_to": ", ".join(
                    perimeters["site_id"].iat[k]
                    for k in _takers(overlap, first, geoms, rank, perimeters.sindex)
                ),
            }
        )
    return pd.DataFrame(rows, columns=OVERLAP_COLUMNS)


def _takers(
    overlap: shapely.Geometry, first: int, geoms: np.ndarray, rank: np.ndarray, sindex: Any
) -> list[int]:
    """The perimeters that take the rows of ``overlap``, by the overlap rule: those
    ranked before ``first`` (the smaller of the pair) that cover part of it, then
    ``first`` if any of it is left. An area below a millionth of the overlap's is
    rounding, not a part."""
    rest, takers = overlap, []
    tiny = shapely.area(overlap) * 1e-6
    for k in sorted(sindex.query(overlap, predicate="intersects").tolist(), key=rank.__getitem__):
        if rank[k] > rank[first] or shapely.area(rest) <= tiny:
            break
        if k == first or shapely.area(shapely.intersection(rest, geoms[k])) > tiny:
            takers.append(k)
            rest = shapely.difference(rest, geoms[k])
    return takers
