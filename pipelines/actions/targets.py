"""What an action is about: its target (buildings, a hotspot zone, a drawn area)
resolved against this run's buildings and zones.

- **Buildings** (``batiments``): OSM ids of ``buildings.parquet``; an id that is not
  there (the building left OpenStreetMap, or the id was miscopied) sets the row aside
  with its reason: an action on a building that no longer exists cannot be followed.
- **Zone** (``zone``): a zone id of ``zones.parquet``, or an older id of a zone that has
  since been split or merged (its lineage, as the planners' notes follow it): the
  action is on the zones it became, and on their buildings.
- **Drawn area** (``zone_dessinee``): the buildings whose representative point lies in
  it (a line or point: the buildings it touches). An area over no building stays a
  valid target (a car park, a square): its effect cannot be measured, it says so. An
  area farther than :data:`DRAWN_MARGIN_M` from the site's buildings sets the row aside:
  most often its coordinates were written « latitude longitude ».

The published geometry is the union of the targets: the buildings' footprints, the
zones' outlines and the drawn area, in EPSG:4326.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from pipelines.actions.readers import problem
from pipelines.crs import WGS84, to_metric
from pipelines.fr import plural
from pipelines.io import list_cell
from pipelines.zones import zone_descendants, zone_sort_key

#: Columns :func:`resolve_targets` adds.
TARGET_RESOLUTION = ("building_ids", "zone_id", "zone_ids", "target_label", "zone_note")
#: A drawn area farther than this from the extent of the site's buildings (metres) is no
#: target on the site.
DRAWN_MARGIN_M = 1000.0


def site_extent(buildings: gpd.GeoDataFrame) -> BaseGeometry | None:
    """The rectangle around ``buildings`` (any CRS) widened by :data:`DRAWN_MARGIN_M`,
    measured in the site's metric CRS, returned in EPSG:4326; ``None`` without buildings."""
    if buildings.empty:
        return None
    metric = to_metric(buildings)
    area = shapely.box(*metric.total_bounds).buffer(DRAWN_MARGIN_M)
    return gpd.GeoSeries([area], crs=metric.crs).to_crs(WGS84).iloc[0]


def _far_from_site(extent: BaseGeometry) -> str:
    """Why a drawn area is set aside: it lies off the site (``extent``, EPSG:4326)."""
    centre = extent.centroid
    x, y = f"{centre.x:.4f}", f"{centre.y:.4f}"
    return (
        f"zone dessinée à plus de {DRAWN_MARGIN_M / 1000:g} km des bâtiments du site : ses "
        "coordonnées sont-elles dans l'ordre longitude, latitude ? Un WKT s'écrit "
        f"« POLYGON(({x} {y}, …)) », un GeoJSON [{x}, {y}] (longitude puis latitude, en "
        "degrés)."
    )


def in_drawn_area(
    drawn: BaseGeometry, footprint: BaseGeometry, point: BaseGeometry | None = None
) -> bool:
    """Whether a building counts in an action's drawn area: a drawn surface covering a
    point on the footprint's surface (``point``, computed when not given), a drawn line
    or point touching the footprint. The actions stage resolves targets so, and the
    publication (:func:`pipelines.publish.actions.actions_of_shown_classes`) tells by
    it which buildings a drawn area, not a zone, brought in."""
    if drawn.geom_type in ("Polygon", "MultiPolygon"):
        return bool(drawn.covers(shapely.point_on_surface(footprint) if point is None else point))
    return bool(drawn.intersects(footprint))


def drawn_outline_parts(drawn: BaseGeometry, crossed: list[BaseGeometry]) -> list[BaseGeometry]:
    """What a drawn area adds to an action's outline: the drawn surface itself, or for a
    drawn line or point the footprints it crosses (``crossed``): added to polygons, the
    line made the action's geometry a GeometryCollection. A line that crosses none is
    kept as drawn."""
    if drawn.geom_type in ("Polygon", "MultiPolygon") or not crossed:
        return [drawn]
    return list(crossed)


def target_label(n_buildings: int, zone: str | None, drawn: bool) -> str:
    """The target in French: « 3 bâtiments », « zone Z2 », « zone dessinée », or their
    combination (« zone Z2 + 1 bâtiment »)."""
    parts = []
    if zone:
        parts.append(f"zone {zone}")
    if drawn:
        parts.append("zone dessinée")
    if n_buildings or not parts:
        parts.append(plural(n_buildings, "bâtiment"))
    return " + ".join(parts)


def _lineage(zones: gpd.GeoDataFrame | None) -> dict[str, list[str]]:
    if zones is None or zones.empty:
        return {}
    if "ancestor_zone_ids" not in zones:
        empty: list[list[str]] = [[] for _ in range(len(zones))]
        zones = zones.assign(ancestor_zone_ids=pd.Series(empty, index=zones.index, dtype=object))
    return zone_descendants(zones)


def resolve_targets(
    actions: pd.DataFrame,
    buildings: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame | None = None,
) -> tuple[gpd.GeoDataFrame, list[dict[str, Any]]]:
    """Resolve each action's target against the current buildings and zones.

    Parameters
    ----------
    actions
        Read actions (:func:`pipelines.actions.validate.validate_rows`, kept or set
        aside): ``action_id`` (``None`` for a row without one),
        ``target_buildings`` (tuple), ``target_zone`` (or ``None``), ``target_geometry``
        (shapely, EPSG:4326, or ``None``), ``source_file``, ``source_line``.
    buildings
        ``buildings.parquet``: ``building_id`` and footprints (any CRS).
    zones
        ``zones.parquet`` (``zone_id``, ``building_ids``, ``ancestor_zone_ids``,
        outlines), or ``None`` when the zones stage has not run.

    Returns
    -------
    tuple
        The actions whose target resolves, with ``building_ids`` (tuple, in order:
        named, then the zone's, then those of the drawn area), ``zone_id`` (as written),
        ``zone_ids`` (the current zones it became), ``target_label``, ``zone_note``
        (French, when the zone was split or merged) and the target's geometry
        (EPSG:4326); and one problem per unresolved target.
    """
    b = buildings.to_crs(WGS84)
    ids = b["building_id"].astype(str).to_numpy(dtype=object)
    index = {bid: i for i, bid in enumerate(ids)}
    footprints = b.geometry.to_numpy()
    points = shapely.point_on_surface(footprints)
    tree = shapely.STRtree(footprints)
    lineage = _lineage(zones)
    z = zones.to_crs(WGS84) if zones is not None and len(zones) else None
    zone_at = {str(zid): i for i, zid in enumerate(z["zone_id"])} if z is not None else {}
    extent = site_extent(b)
    problems: list[dict[str, Any]] = []
    keep: list[int] = []
    resolved: dict[str, list[Any]] = {c: [] for c in (*TARGET_RESOLUTION, "geometry")}
    for k, record in enumerate(actions.to_dict("records")):
        row = {str(c): v for c, v in record.items()}
        file, line = str(row["source_file"]), int(row["source_line"])
        # A row set aside for its missing id has its targets checked too (validate_rows).
        action_id = row["action_id"] if isinstance(row["action_id"], str) else None
        named = [str(b) for b in row["target_buildings"] or ()]
        missing = [bid for bid in named if bid not in index]
        found: list[dict[str, Any]] = []
        if missing:
            shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
            found.append(
                problem(
                    file,
                    line,
                    "target_buildings",
                    "unknown_building",
                    f"bâtiment(s) {shown} absent(s) des bâtiments actuels (OpenStreetMap) : "
                    "démoli, redécoupé ou identifiant mal recopié ? Corrigez la cible de "
                    "l'action (la carte donne l'identifiant de chaque bâtiment).",
                    action_id=action_id,
                )
            )
        zone = row["target_zone"] if isinstance(row["target_zone"], str) else None
        current: list[str] = []
        note = None
        if zone:
            current = lineage.get(zone, [])
            if not current:
                why = (
                    "aucune zone de points chauds n'est calculée pour ce site"
                    if z is None
                    else "inconnue ou disparue (ses bâtiments ne sont plus des points chauds)"
                )
                found.append(
                    problem(
                        file,
                        line,
                        "target_zone",
                        "unknown_zone",
                        f"zone {zone} {why} : visez ses bâtiments (colonne « batiments ») ou "
                        "dessinez la zone (« zone_dessinee »).",
                        action_id=action_id,
                    )
                )
            elif current != [zone]:
                note = f"zone {zone} devenue {' et '.join(current)}"
        drawn = row["target_geometry"] if isinstance(row["target_geometry"], BaseGeometry) else None
        if drawn is not None and extent is not None and not drawn.intersects(extent):
            found.append(
                problem(
                    file,
                    line,
                    "target_geometry",
                    "drawn_outside_site",
                    _far_from_site(extent),
                    action_id=action_id,
                )
            )
        if found:
            problems.extend(found)
            continue
        in_zone: list[str] = []
        shapes = [footprints[index[bid]] for bid in named]
        for zid in current:
            assert z is not None  # current is empty without zones
            in_zone += list_cell(z["building_ids"].iloc[zone_at[zid]])
            shapes.append(z.geometry.iloc[zone_at[zid]])
        in_drawn: list[str] = []
        if drawn is not None:
            hits = sorted(int(i) for i in tree.query(drawn, predicate="intersects"))
            in_drawn = [str(ids[i]) for i in hits if in_drawn_area(drawn, footprints[i], points[i])]
            shapes += drawn_outline_parts(drawn, [footprints[index[bid]] for bid in in_drawn])
        all_ids = tuple(dict.fromkeys([*named, *in_zone, *in_drawn]))
        keep.append(k)
        resolved["building_ids"].append(all_ids)
        resolved["zone_id"].append(zone)
        resolved["zone_ids"].append(tuple(sorted(current, key=zone_sort_key)))
        resolved["target_label"].append(target_label(len(named), zone, drawn is not None))
        resolved["zone_note"].append(note)
        resolved["geometry"].append(shapely.union_all(shapes) if shapes else None)
    out = actions.iloc[keep].reset_index(drop=True).copy()
    for c in TARGET_RESOLUTION:
        out[c] = pd.Series(resolved[c], index=out.index, dtype=object)
    geometry = gpd.GeoSeries(
        np.asarray(resolved["geometry"], dtype=object) if keep else [], crs=WGS84, index=out.index
    )
    return gpd.GeoDataFrame(out, geometry=geometry, crs=WGS84), problems
