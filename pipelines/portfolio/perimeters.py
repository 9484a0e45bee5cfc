"""The perimeter layer: read, repaired where invalid, overlaps listed."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from shapely import GeometryType

from pipelines.config import Perimeter, PortfolioConfig, nonnumeric_coordinate, quiet_open_rings
from pipelines.crs import WGS84, geodesic_area_m2, repaired_geometry
from pipelines.errors import InputError
from pipelines.fr import fr_number
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
#: Square metres under which a perimeter is refused: smaller than any building, it holds
#: none of the site's reports (a perimeter drawn at another scale, its vertices snapped
#: together), and the site's map was empty without a word.
MIN_PERIMETER_M2 = 1.0
#: Columns of :func:`find_overlaps`' frame (``overlaps.csv``).
OVERLAP_COLUMNS = ["site_a", "site_b", "feature_a", "feature_b", "overlap_m2", "rows_to"]


def repair(geometries: gpd.GeoSeries) -> tuple[gpd.GeoSeries, np.ndarray]:
    """Invalid geometries made valid, their polygonal part kept
    (:func:`pipelines.crs.repaired_geometry`: a bow-tie becomes polygons, sometimes
    with stray lines, and keeps the polygons), and the polygons of a collection kept.

    Returns the geometries and, per feature, whether it was repaired.
    """
    values = geometries.to_numpy()
    # A collection holding polygons (a KML MultiGeometry: the outline and its label's
    # point) is repaired too: its polygons kept.
    fix = ~shapely.is_valid(values) | polygonal_collection(values)
    fixed = geometries.copy()
    if fix.any():
        fixed[fix] = repaired_geometry(values[fix], kind="polygon")
    return fixed, fix


def polygonal_collection(values: np.ndarray) -> np.ndarray:
    """Per geometry, whether it is a collection holding a polygon."""
    out = np.zeros(len(values), bool)
    kinds = shapely.get_type_id(values)
    for i in np.flatnonzero(kinds == GeometryType.GEOMETRYCOLLECTION):
        parts = shapely.get_type_id(shapely.get_parts(values[i]))
        out[i] = bool(np.isin(parts, [GeometryType.POLYGON, GeometryType.MULTIPOLYGON]).any())
    return out


def perimeter_problems(geometries: gpd.GeoSeries, area_m2: pd.Series) -> pd.Series:
    """What makes each perimeter unusable, in French, or NA when it is a polygon of
    :data:`MIN_PERIMETER_M2` or more.

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
        polygone »…, « polygone d'aire nulle… », « polygone de moins d'un mètre
        carré… » (:data:`MIN_PERIMETER_M2`), or NA.
    """
    values = geometries.to_numpy()
    empty = shapely.is_missing(values) | shapely.is_empty(values)
    kinds = pd.Series(shapely.get_type_id(values), index=geometries.index)
    polygonal = kinds.isin([GeometryType.POLYGON, GeometryType.MULTIPOLYGON])
    polygonal |= polygonal_collection(values)  # its polygons kept (repair)
    out = pd.Series(pd.NA, index=geometries.index, dtype="string")
    out[~empty & ~polygonal] = [
        f"c'est {KIND_FR.get(k, 'une géométrie')}, pas un polygone"
        for k in kinds[~empty & ~polygonal]
    ]
    area = area_m2.to_numpy()
    tiny = ~empty & polygonal & (area > 0) & (area < MIN_PERIMETER_M2)
    out[tiny] = [
        f"polygone de moins d'un mètre carré ({_small_area(a)}), plus petit que tout "
        "bâtiment (dessiné à une autre échelle, ou ses sommets confondus)"
        for a in area[tiny]
    ]
    flat = ~empty & polygonal & (area <= 0)
    out[flat] = (
        "polygone d'aire nulle (ses sommets sont alignés ou confondus : même réparé, "
        "il n'entoure aucune surface)"
    )
    # An area in degrees but none on the ellipsoid: edges along the poles and the
    # antimeridian (a box of the whole world, -180 -90 180 90), where « alignés » misled.
    world = flat & (shapely.area(values) > 0)
    out[world] = (
        "polygone qui fait le tour de la Terre (ses bords suivent les pôles ou "
        "l'antiméridien, comme une emprise du monde entier) : il n'entoure aucune surface "
        "mesurable, et aucun site n'est si grand"
    )
    out[empty] = "géométrie vide (aucun sommet)"
    return out


def _small_area(m2: float) -> str:
    """An area under a square metre as the messages give it: « 0,42 m² », « 8 mm² »,
    « moins d'un mm² »."""
    if m2 >= 0.01:
        return f"{fr_number(m2, 2)} m²"
    return f"{fr_number(m2 * 1e6)} mm²" if m2 >= 1e-6 else "moins d'un mm²"


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
    collections = polygonal_collection(layer.geometry.to_numpy())
    for i in np.flatnonzero(repaired):
        log.warning(
            "%s, entité n° %d (« %s ») : %s",
            portfolio.perimeters,
            frame["feature"].iat[i],
            frame["site_id"].iat[i],
            "collection de géométries (MultiGeometry d'un KML) : ses polygones seuls gardés."
            if collections[i]
            else "géométrie invalide réparée (make_valid).",
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


#: Metres a perimeter may reach beyond its extract's box: a building on the box's edge
#: comes whole in the extract, and a perimeter drawn around it reaches beyond the box
#: (the demo's residences by up to 134 m); beyond this, its buildings would be missing.
BEYOND_EXTRACT_M = 1000.0
#: Metres beyond which a perimeter reaching out of its extract's box is told in a
#: warning (up to :data:`BEYOND_EXTRACT_M`, where it is refused): more than a building on
#: the box's edge explains (the demo's residences reach 134 m beyond), so buildings of
#: the site may be missing from the extract.
WARN_BEYOND_EXTRACT_M = 250.0
#: Metres per degree of latitude.
_M_PER_DEG = 111_320.0


def _km(metres: float) -> str:
    """A distance as the messages give it: « 1,4 km », « 4 512 km »."""
    km = metres / 1000
    return (f"{km:,.1f}" if km < 100 else f"{km:,.0f}").replace(",", " ").replace(".", ",") + " km"


def beyond_extract(
    sites: Sequence[Perimeter],
    extract: tuple[float, float, float, float],
    limit_m: float = BEYOND_EXTRACT_M,
) -> list[tuple[Perimeter, str]]:
    """The perimeters whose box reaches beyond the extract's ``extract`` (west, south,
    east, north, degrees) by more than ``limit_m`` on a side, each with how
    far, in French (« s'étend au-delà de l'extrait de 4 512 km à l'ouest, 3,2 km au
    nord », after « entièrement hors de l'extrait » when it does not meet it)."""
    west, south, east, north = extract
    per_lon = _M_PER_DEG * max(math.cos(math.radians((south + north) / 2)), 0.01)
    found = []
    for site in sites:
        w, s, e, n = site.bbox
        sides = {
            "à l'ouest": (west - w) * per_lon,
            "au sud": (south - s) * _M_PER_DEG,
            "à l'est": (e - east) * per_lon,
            "au nord": (n - north) * _M_PER_DEG,
        }
        if max(sides.values()) <= limit_m:
            continue
        far = ", ".join(f"{_km(m)} {side}" for side, m in sides.items() if m > 0)
        apart = w > east or e < west or s > north or n < south
        whole = "entièrement hors de l'extrait, " if apart else ""
        found.append((site, f"{whole}s'étend au-delà de l'extrait de {far}"))
    return found


def check_within_extract(
    portfolio: PortfolioConfig, extract: tuple[float, float, float, float]
) -> None:
    """Refuse the perimeters that reach beyond the extract's box ``extract`` (degrees)
    by more than :data:`BEYOND_EXTRACT_M`: their buildings beyond would be missing from
    their site, or all of them (a box of the whole world, a stray vertex at (0, 0),
    longitude and latitude swapped, a site of another town). Those reaching beyond by
    more than :data:`WARN_BEYOND_EXTRACT_M` only are kept, with a French warning naming
    each one and how far.

    Raises
    ------
    InputError
        Naming the layer, the first :data:`MAX_LISTED` such features (number, site,
        box, how far beyond on which side) and the extract's box.
    """
    found = beyond_extract(portfolio.sites, extract)
    if not found:
        near = beyond_extract(portfolio.sites, extract, WARN_BEYOND_EXTRACT_M)
        for p, far in near:
            log.warning(
                "%s : entité n° %s (site « %s », « %s ») : %s ; les bâtiments du site "
                "au-delà de l'extrait OSM « %s » manquent, s'il y en a.",
                portfolio.perimeters, p.feature, p.id, p.name, far, portfolio.osm,
            )  # fmt: skip
        return
    listed = [
        f"entité n° {p.feature} (site « {p.id} », « {p.name} », longitude "
        f"{p.bbox[0]:.4f} à {p.bbox[2]:.4f}, latitude {p.bbox[1]:.4f} à {p.bbox[3]:.4f}) : {far}"
        for p, far in found[:MAX_LISTED]
    ]
    more = f" ; et {len(found) - MAX_LISTED} autre(s)" if len(found) > MAX_LISTED else ""
    w, s, e, n = extract
    raise InputError(
        portfolio.perimeters,
        " ; ".join(listed)
        + more
        + f". L'extrait OSM « {portfolio.osm} » couvre longitude {w:.4f} à {e:.4f}, latitude "
        f"{s:.4f} à {n:.4f} : les bâtiments d'un site au-delà manqueraient. Un sommet "
        "égaré (0, 0 ?), une emprise du monde entier, longitude et latitude inversées, un "
        "site d'une autre commune ? Corrigez le périmètre, ou donnez un extrait qui le couvre.",
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
    # Each pair in the layer's order: « contains » gives (outer, inner), and an outer
    # perimeter after its inner one in the layer was dropped as (later, earlier).
    left, right = np.concatenate([left, inner_l]), np.concatenate([right, inner_r])
    first, second = np.minimum(left, right), np.maximum(left, right)
    keep = first < second
    pairs = sorted(set(zip(first[keep].tolist(), second[keep].tolist(), strict=True)))
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
