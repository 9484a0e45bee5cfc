"""Offline basemap: streets, water, green spaces and railways from the site's OSM extract.

A meeting-room map cannot count on web tiles, so the background is drawn from the very
OSM extract the buildings come from (``.osm``, ``.osm.bz2`` or ``.osm.pbf``), read offline
by :mod:`pipelines.osm.reader`:

- ``street``: ``highway=*`` ways, classed ``major`` / ``medium`` / ``minor`` /
  ``service`` / ``path`` (:data:`STREET_CLASSES`), each drawn with its own width;
- ``water``: ``natural=water`` areas and ``waterway=*`` lines;
- ``green``: ``leisure=park|garden|playground`` and ``landuse=grass|recreation_ground``;
- ``railway``: ``railway=rail|light_rail|tram|narrow_gauge`` lines (tunnels left out).

Geometries are clipped to the extract's bounds (plus a margin), simplified in a metric
CRS and stored in EPSG:4326 as ``basemap.parquet``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from pipelines.crs import WGS84, metric_crs_of
from pipelines.io import write_geoparquet, write_json
from pipelines.osm.reader import Incomplete, OsmElements, read_osm_elements, tagged_features

log = logging.getLogger(__name__)

#: OSM tags read from the extract (an element matches with one of them, osmnx's rule).
BASEMAP_TAGS: dict[str, bool | str | list[str]] = {
    "highway": True,
    "natural": "water",
    "waterway": True,
    "leisure": ["park", "garden", "playground"],
    "landuse": ["grass", "recreation_ground"],
    "railway": True,
}

#: ``highway=*`` value → street class; values not listed (bus stops, crossings,
#: construction…) are not drawn.
STREET_CLASSES: dict[str, str] = {
    "motorway": "major",
    "trunk": "major",
    "primary": "major",
    "motorway_link": "major",
    "trunk_link": "major",
    "primary_link": "major",
    "secondary": "medium",
    "secondary_link": "medium",
    "tertiary": "medium",
    "tertiary_link": "medium",
    "residential": "minor",
    "unclassified": "minor",
    "living_street": "minor",
    "road": "minor",
    "service": "service",
    "pedestrian": "path",
    "footway": "path",
    "path": "path",
    "cycleway": "path",
    "steps": "path",
    "track": "path",
}
RAIL_VALUES = ("rail", "light_rail", "tram", "narrow_gauge")
WATERWAY_LINES = ("river", "canal", "stream", "ditch", "drain")
GREEN_LEISURE = ("park", "garden", "playground")
GREEN_LANDUSE = ("grass", "recreation_ground")

#: Drawing order, bottom to top.
LAYER_ORDER = ("green", "water", "street", "railway")

#: The kinds of basemap feature this stage writes (column ``kind``); how each is drawn is
#: the renderers' business (``BASEMAP_STYLES`` of :mod:`pipelines.maps.views`).
KINDS = ("major", "medium", "minor", "service", "path", "rail", "water", "waterway", "green")

#: French legend labels of the kinds.
KIND_LABELS_FR: dict[str, str] = {
    "major": "Voie principale",
    "medium": "Voie secondaire",
    "minor": "Rue de desserte",
    "service": "Voie de service",
    "path": "Chemin, voie piétonne",
    "rail": "Voie ferrée",
    "water": "Plan d'eau",
    "waterway": "Cours d'eau, canal",
    "green": "Espace vert, aire de jeux",
}

BASEMAP_COLUMNS = ["layer", "kind", "name", "geometry"]

#: Tags read by :func:`classify_features` and :func:`basemap_features`.
_TAG_COLUMNS = ["highway", "natural", "waterway", "leisure", "landuse", "railway", "tunnel", "name"]


def _column(raw: pd.DataFrame, tag: str) -> pd.Series:
    if tag in raw:
        return raw[tag].astype("string")
    return pd.Series(pd.NA, index=raw.index, dtype="string")


def classify_features(raw: gpd.GeoDataFrame) -> pd.DataFrame:
    """Basemap layer and kind of each OSM feature, from its tags.

    Parameters
    ----------
    raw
        ``osmnx.features_from_xml`` output (any CRS): tag columns ``highway``,
        ``natural``, ``waterway``, ``leisure``, ``landuse``, ``railway``, ``tunnel``
        when present.

    Returns
    -------
    DataFrame
        Aligned on ``raw.index``: ``layer`` and ``kind`` (missing for features that are
        not drawn: points, bus stops, platforms, tunnels…).
    """
    gtype = raw.geometry.geom_type
    is_line = gtype.isin(["LineString", "MultiLineString"]).to_numpy()
    is_area = gtype.isin(["Polygon", "MultiPolygon"]).to_numpy()
    tunnel = _column(raw, "tunnel").fillna("no").isin(["yes", "building_passage", "culvert"])
    highway = _column(raw, "highway").map(STREET_CLASSES).astype("string")
    railway = _column(raw, "railway")
    waterway = _column(raw, "waterway")
    natural = _column(raw, "natural")
    leisure = _column(raw, "leisure")
    landuse = _column(raw, "landuse")

    layer = pd.Series(pd.NA, index=raw.index, dtype="string")
    kind = pd.Series(pd.NA, index=raw.index, dtype="string")

    def put(mask: pd.Series, lay: str, kinds: pd.Series | str) -> None:
        mask = mask.fillna(False).astype(bool) & layer.isna()
        layer[mask] = lay
        kind[mask] = kinds[mask] if isinstance(kinds, pd.Series) else kinds

    # Order matters: a park crossed by a footway way is still one or the other, never both.
    put(highway.notna() & is_line & ~tunnel, "street", highway)
    put(railway.isin(RAIL_VALUES) & is_line & ~tunnel, "railway", "rail")
    put(waterway.isin(WATERWAY_LINES) & is_line & ~tunnel, "water", "waterway")
    put(((natural == "water") | (waterway == "riverbank")) & is_area, "water", "water")
    put((leisure.isin(GREEN_LEISURE) | landuse.isin(GREEN_LANDUSE)) & is_area, "green", "green")
    return pd.DataFrame({"layer": layer, "kind": kind}, index=raw.index)


def basemap_features(
    raw: gpd.GeoDataFrame,
    *,
    bounds: tuple[float, float, float, float] | None = None,
    margin_m: float = 60.0,
    tolerance_m: float = 0.8,
) -> gpd.GeoDataFrame:
    """The drawable basemap: classified, clipped and simplified features.

    Parameters
    ----------
    raw
        ``osmnx.features_from_xml`` output in EPSG:4326.
    bounds
        (west, south, east, north) in degrees, e.g. :func:`pipelines.osm.buildings.read_osm_bounds`;
        features are clipped to it grown by ``margin_m``. ``None`` keeps everything.
    margin_m
        Margin around ``bounds``, in metres.
    tolerance_m
        Douglas-Peucker tolerance of the simplification, in metres (computed in the
        metric CRS of the site, :func:`pipelines.crs.metric_crs_of`).

    Returns
    -------
    GeoDataFrame
        EPSG:4326, columns :data:`BASEMAP_COLUMNS`, sorted by :data:`LAYER_ORDER` (bottom
        to top), index reset.
    """
    empty = gpd.GeoDataFrame(
        {c: pd.Series(dtype="string") for c in BASEMAP_COLUMNS[:-1]},
        geometry=gpd.GeoSeries([], crs=WGS84),
        crs=WGS84,
    )
    if raw.empty:
        return empty
    raw = raw.to_crs(WGS84)
    cls = classify_features(raw)
    keep = cls["layer"].notna().to_numpy()
    if not keep.any():
        return empty
    frame = gpd.GeoDataFrame(
        {
            "layer": cls.loc[keep, "layer"],
            "kind": cls.loc[keep, "kind"],
            "name": _column(raw, "name")[keep],
        },
        geometry=raw.geometry[keep],
        crs=WGS84,
    )
    metric = metric_crs_of(frame)
    geoms = frame.geometry.to_crs(metric)
    if bounds is not None:
        west, south, east, north = bounds
        box = gpd.GeoSeries([shapely.box(west, south, east, north)], crs=WGS84).to_crs(metric)
        clip = box.iloc[0].buffer(margin_m, join_style="mitre")
        geoms = geoms.intersection(clip)
    geoms = geoms.simplify(tolerance_m, preserve_topology=True)
    frame = frame.set_geometry(geoms.to_crs(WGS84).to_numpy())
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    # Clipping can turn a line into points or a polygon into lines at the edge; keep the
    # geometry type that each kind is drawn with.
    lines = frame["kind"].isin(["major", "medium", "minor", "service", "path", "rail", "waterway"])
    gtype = frame.geometry.geom_type
    ok = (lines & gtype.isin(["LineString", "MultiLineString"])) | (
        ~lines & gtype.isin(["Polygon", "MultiPolygon"])
    )
    frame = frame[ok.to_numpy()]
    order = {name: i for i, name in enumerate(LAYER_ORDER)}
    frame = frame.assign(_order=frame["layer"].map(order).astype(int))
    frame = frame.sort_values("_order", kind="stable").drop(columns="_order")
    return gpd.GeoDataFrame(frame.reset_index(drop=True), geometry="geometry", crs=WGS84)


def basemap_of(elements: OsmElements, incomplete: Incomplete | None = None) -> gpd.GeoDataFrame:
    """The basemap of an extract read by :func:`pipelines.osm.reader.read_osm_elements`.

    Ways and area relations matching :data:`BASEMAP_TAGS`; a street, railway or
    waterway line cut by the extract's edge keeps its present parts, an incomplete area
    is dropped, both counted in ``incomplete``. Clipped to the extract's bounds.
    """
    incomplete = incomplete if incomplete is not None else Incomplete()
    rows = tagged_features(elements, BASEMAP_TAGS, incomplete)
    if not rows:
        return basemap_features(gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=WGS84)))
    columns = [*_TAG_COLUMNS, "geometry"]
    frame = pd.DataFrame([{c: row.get(c) for c in columns} for row in rows], columns=columns)
    raw = gpd.GeoDataFrame(frame, geometry="geometry", crs=WGS84)
    # as osmnx did: geometries made valid before they are classified
    raw["geometry"] = raw.geometry.make_valid()
    return basemap_features(raw, bounds=elements.bounds())


def read_osm_basemap_report(path: str | Path) -> tuple[gpd.GeoDataFrame, Incomplete]:
    """The basemap of an OSM file and the repairs made (one pass of the OSM reader)."""
    elements = read_osm_elements(path)
    incomplete = Incomplete()
    out = basemap_of(elements, incomplete)
    incomplete.log_to(log, elements.path, "fond de plan")
    log.info("%s: basemap of %d features", elements.path, len(out))
    return out, incomplete


def read_osm_basemap(path: str | Path) -> gpd.GeoDataFrame:
    """Read the basemap features of an OSM extract, offline, clipped to its bounds.

    Parameters
    ----------
    path
        ``.osm``, ``.osm.bz2`` or ``.osm.pbf`` file (:mod:`pipelines.osm.reader`).

    Returns
    -------
    GeoDataFrame
        See :func:`basemap_features` (EPSG:4326).
    """
    return read_osm_basemap_report(path)[0]


def run(osm_path: str | Path, dst: str | Path) -> Path:
    """Read the basemap of ``osm_path`` and write it to ``dst`` (GeoParquet, EPSG:4326).

    Also writes ``basemap_summary.json`` beside ``dst``: the number of features and the
    incomplete OSM elements repaired or dropped (``osm_incomplete``).
    """

    out, incomplete = read_osm_basemap_report(osm_path)
    dst = Path(dst)
    write_json(
        {"features": len(out), "osm_incomplete": incomplete.summary()},
        dst.parent / "basemap_summary.json",
    )
    return write_geoparquet(out, dst)
