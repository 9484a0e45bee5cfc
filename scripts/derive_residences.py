"""Derive the perimeters of Bondy Nord's social-housing residences from real data, for
the portfolio example (``config/demo_portfolio.toml``).

Each residence gathers RPLS programmes (``rpls_bondy.gpkg``, layer ``rpls2022``) named
in :data:`RESIDENCES`; its perimeter is the union of the OpenStreetMap footprints
(``bondy_nord.osm``) that its programmes' points fall on or next to (within
:data:`MATCH_M`), widened by :data:`MARGIN_M` (entrances, paths, the courtyard between
two blocks) and closed over :data:`CLOSE_M` so that an estate is one shape. Residences
are taken in the table's order; each keeps only what no earlier one holds, so that no
two perimeters overlap. A last site, the rest of the neighbourhood, is the extract's
bounds less the residences: every row of Bondy Nord's export then goes to one site.

The perimeters are **derived, not official**: neither the landlords nor the city drew
them. The output says so in its ``description``.

Usage (from the project root; writes the committed file, byte for byte the same on
each run)::

    .venv/bin/python scripts/derive_residences.py [OUT]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.osm import read_osm_buildings, read_rpls  # noqa: E402

OSM = ROOT / "data" / "raw" / "bondy" / "bondy_nord.osm"
RPLS = ROOT / "data" / "raw" / "bondy" / "rpls_bondy.gpkg"
OUT = ROOT / "data" / "raw" / "portfolio" / "residences_bondy.geojson"

#: Residence code → (name, the RPLS programme names it gathers). The programmes with
#: most dwellings inside the extract; a programme split under two names in the RPLS
#: (« 14 Juillet ANRU » and « 14 JUILLET 1 ») is one residence.
RESIDENCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "noue-caillet": ("Résidence Noue-Caillet", ("QUARTIER NOUE CAILLET",)),
    "merisiers": ("Résidence Les Merisiers", ("BONDY LES MERISIER",)),
    "quatorze-juillet": (
        "Résidence du 14-Juillet",
        ("BONDY 14 Juillet ANRU", "BONDY 14 JUILLET 1"),
    ),
    "varagnat": ("Résidence Benhamou-Varagnat", ("BENHAMOU VARAGNAT", "RES. VARAGNAT")),
}
#: The last site: the extract's bounds less the residences.
REST = ("bondy-nord-reste", "Bondy Nord – reste du quartier")
#: Lambert-93, the RPLS's own CRS: metres for the buffers.
METRIC = "EPSG:2154"
#: An RPLS point belongs to the footprint it falls on, else to the nearest within this.
MATCH_M = 30.0
#: Footprints widened by this (entrances, paths along the blocks).
MARGIN_M = 12.0
#: Gaps narrower than twice this between blocks of one residence are closed.
CLOSE_M = 20.0
#: Coordinates rounded to this many decimals of a degree (about 0.1 m).
DECIMALS = 6

DESCRIPTION = (
    "Périmètres DÉRIVÉS, NON OFFICIELS, de résidences de Bondy Nord : union des emprises "
    "OpenStreetMap des bâtiments où tombent les points RPLS 2022 de leurs programmes, "
    f"élargie de {MARGIN_M:g} m ; le dernier site est le reste de l'emprise de l'extrait. "
    "Produits par scripts/derive_residences.py pour l'exemple de portefeuille de Vigie ; "
    "ni le bailleur ni la ville ne les ont tracés. Sources : © contributeurs OpenStreetMap "
    "(ODbL 1.0) ; RPLS (Licence Ouverte), extrait publié par le SIG de Bondy."
)


def programme_buildings(
    buildings: gpd.GeoDataFrame, points: gpd.GeoDataFrame, *, match_m: float = MATCH_M
) -> pd.DataFrame:
    """The footprint of each RPLS point: the one it falls on, else the nearest within
    ``match_m`` metres (both frames in a metric CRS).

    Returns
    -------
    DataFrame
        One row per matched point: ``programme``, ``dwellings``, ``building`` (the
        footprint's position in ``buildings``).
    """
    target = gpd.GeoDataFrame(
        {"building": np.arange(len(buildings))}, geometry=buildings.geometry.to_numpy(),
        crs=buildings.crs,
    )  # fmt: skip
    joined = gpd.sjoin_nearest(
        points[["programme", "dwellings", "geometry"]], target, max_distance=match_m
    )
    # A point equidistant from two footprints: the first footprint, as the extract lists them.
    joined = joined.sort_values("building", kind="stable")
    joined = joined[~joined.index.duplicated(keep="first")]
    return pd.DataFrame(joined[["programme", "dwellings", "building"]]).sort_index()


def residence_perimeters(
    buildings: gpd.GeoDataFrame,
    matched: pd.DataFrame,
    extent: shapely.Geometry,
    residences: dict[str, tuple[str, tuple[str, ...]]] = RESIDENCES,
) -> gpd.GeoDataFrame:
    """One perimeter per residence, then the rest of ``extent``; none overlap.

    Parameters
    ----------
    buildings
        Footprints, in a metric CRS.
    matched
        Output of :func:`programme_buildings`.
    extent
        The area the sites share out (the extract's bounds), in the same CRS.

    Returns
    -------
    GeoDataFrame
        ``code``, ``nom``, ``programmes_rpls``, ``points_rpls``, ``logements_rpls``,
        ``batiments_osm``, in the table's order, the rest last.
    """
    rows: list[dict[str, Any]] = []
    taken = shapely.Polygon()
    for code, (name, programmes) in residences.items():
        mine = matched[matched["programme"].isin(programmes)]
        if mine.empty:
            continue
        footprints = buildings.geometry.to_numpy()[np.unique(mine["building"].to_numpy())]
        shape = shapely.union_all(footprints).buffer(MARGIN_M + CLOSE_M).buffer(-CLOSE_M)
        shape = shape.intersection(extent).difference(taken)
        taken = taken.union(shape)
        rows.append(
            {
                "code": code,
                "nom": name,
                "programmes_rpls": " ; ".join(programmes),
                "points_rpls": len(mine),
                "logements_rpls": int(mine["dwellings"].sum()),
                "batiments_osm": len(footprints),
                "geometry": shape,
            }
        )
    rest = extent.difference(taken)
    rows.append(
        {
            "code": REST[0],
            "nom": REST[1],
            "programmes_rpls": "",
            "points_rpls": 0,
            "logements_rpls": 0,
            "batiments_osm": 0,
            "geometry": rest,
        }
    )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=buildings.crs)


def feature_collection(perimeters: gpd.GeoDataFrame) -> dict[str, Any]:
    """The perimeters as a GeoJSON document (EPSG:4326, coordinates rounded), with
    the ``description`` that says they are derived."""
    wgs = perimeters.to_crs("EPSG:4326")
    geoms = shapely.set_precision(wgs.geometry.to_numpy(), 10.0**-DECIMALS)
    features = []
    for (_, row), geom in zip(wgs.iterrows(), geoms, strict=True):
        props = {k: row[k] for k in perimeters.columns if k != "geometry"}
        props = {k: v.item() if isinstance(v, np.generic) else v for k, v in props.items()}
        features.append(
            {"type": "Feature", "properties": props, "geometry": shapely.geometry.mapping(geom)}
        )
    return {
        "type": "FeatureCollection",
        "name": "residences_bondy",
        "description": DESCRIPTION,
        "features": features,
    }


def _rounded(value: Any) -> Any:
    """Coordinates (nested tuples of floats) as lists, rounded to :data:`DECIMALS`."""
    if isinstance(value, tuple | list):
        return [_rounded(v) for v in value]
    if isinstance(value, float):
        return round(value, DECIMALS)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else OUT
    footprints = read_osm_buildings(OSM)
    buildings = footprints.to_crs(METRIC)
    points = read_rpls(RPLS).to_crs(METRIC)
    points = points.assign(
        programme=points["Nom.du.Programme"].fillna("").astype(str).str.strip(),
        dwellings=pd.to_numeric(points["appartement"], errors="coerce").fillna(0),
    )
    # The footprints' bounds (the extract's whole buildings, some crossing its box).
    west, south, east, north = footprints.total_bounds
    extent = (
        gpd.GeoSeries([shapely.box(west, south, east, north)], crs="EPSG:4326")
        .to_crs(METRIC)
        .iloc[0]
    )
    matched = programme_buildings(buildings, points)
    doc = _rounded(feature_collection(residence_perimeters(buildings, matched, extent)))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    for f in doc["features"]:
        p = f["properties"]
        print(
            f"{p['code']}: {p['points_rpls']} points RPLS, {p['logements_rpls']} logements, "
            f"{p['batiments_osm']} bâtiments OSM"
        )
    print(f"écrit : {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
