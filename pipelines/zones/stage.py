"""Hotspot zones: contiguous hot buildings grouped into zones whose ids survive refreshes.

A *zone* is a connected group of hot buildings (``gi_bin`` ≥ 2 by default, i.e. a
significant Gi* hotspot at 95 % or more after FDR): two hot buildings whose footprints
are within ``gap_m`` metres of each other (15 m by default, measured in a metric CRS,
Lambert-93 in France) belong to the same zone, and so does everything connected to them.

Urban planners write notes on zones ("zone Z3 : fermer l'accès cave"), so a zone id
must keep meaning the same place from one monthly refresh to the next:

* each new zone is matched to the previous run's zones by the buildings they share;
  the previous id goes to the new zone that shares the most buildings with it (ties:
  the higher Jaccard index, then the smaller id), so an unchanged or grown zone keeps
  its id, and a zone that split keeps its id on its largest part;
* a zone that shares buildings with no previous zone is *nouvelle* and gets the next
  number (``Z`` + one more than the highest number ever issued, so an id that once
  meant a place is never reused for another one);
* ``parent_zone_ids`` lists the previous zones a zone shares buildings with (itself
  when it is stable), ``ancestor_zone_ids`` every id of its lineage since the first
  run, so a note written on ``Z3`` two refreshes ago still finds its zone's parts;
* ``status`` is ``stable``, ``nouvelle``, ``scindée`` (its parent has several parts
  now) or ``fusionnée`` (several parents).

A zone built from fewer reports than ``min_reports`` (10 by default: Gi* flags a
neighbourhood, so a zone can be two sheds beside a hot building with no report of their
own) keeps its id and its row, with ``has_enough_reports`` false: the map does not draw
it and its legend says « trop peu de signalements pour conclure ».

The memory of issued ids lives in ``zone_history.json``, kept by default beside the
annotation archive (``<annotations_dir>/.archive/<site>/``) and not under
``data/processed/``: ``make clean`` must not reset the ids the planners' notes refer to.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pipelines.config import DEFAULT_PARAMS, Config
from pipelines.crs import WGS84, metric_crs_of, require_metric
from pipelines.errors import InputError
from pipelines.io import (
    list_cell,
    read_geoparquet,
    read_json,
    write_csv,
    write_geoparquet,
    write_json,
)

log = logging.getLogger(__name__)

#: The defaults of ``[params.zones]`` (``min_bin``, ``gap_m``, ``min_reports``), defined
#: once in the configuration.
_DEFAULTS = DEFAULT_PARAMS["zones"]
#: Margin drawn around the footprints of a zone's outline, in metres.
OUTLINE_MARGIN_M = 3.0
ZONE_STATUSES = ("stable", "nouvelle", "scindée", "fusionnée")
ZONE_COLUMNS = [
    "zone_id",
    "n_buildings",
    "building_ids",
    "area_m2",
    "status",
    "parent_zone_ids",
    "ancestor_zone_ids",
    "geometry",
]
_ZONE_ID = re.compile(r"^Z(\d+)$")


def zone_number(zone_id: str) -> int | None:
    """The number of a zone id (``"Z12"`` → 12), ``None`` for another form."""
    match = _ZONE_ID.match(str(zone_id))
    return int(match.group(1)) if match else None


def zone_sort_key(zone_id: str) -> tuple[int, str]:
    """Natural order of zone ids: Z2 before Z10."""
    number = zone_number(zone_id)
    return (number if number is not None else 10**9, str(zone_id))


def too_few_reports_block(zone_ids: Iterable[str], *, min_reports: int) -> dict[str, Any]:
    """What ``zone_summary.json`` (and ``site.json``, through publish) says of the zones
    built from fewer than ``min_reports`` reports, which no reader draws: ``min_reports``,
    ``zone_ids`` (natural order) and ``note_fr``, the legend's sentence naming them
    (``None`` when there is none). Publish calls it again with the ids of such zones it
    publishes, so that no published file names a zone it leaves out."""
    ids = sorted(zone_ids, key=zone_sort_key)
    note = (
        f"{len(ids)} zone(s) de moins de {min_reports} signalements ({', '.join(ids)}) non "
        "dessinée(s) : trop peu de signalements pour conclure."
    )
    return {"min_reports": min_reports, "zone_ids": ids, "note_fr": note if ids else None}


def component_labels(
    geometries_m: gpd.GeoSeries, *, gap_m: float = _DEFAULTS["gap_m"]
) -> np.ndarray:
    """Connected components of the graph "footprints within ``gap_m`` metres".

    Parameters
    ----------
    geometries_m
        Footprints in a metric CRS (metres).
    gap_m
        Largest footprint-to-footprint distance of two neighbours, in metres.

    Returns
    -------
    ndarray
        One integer label per geometry (positional), equal for geometries in one group.
    """
    require_metric(geometries_m.crs)
    n = len(geometries_m)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    geoms = geometries_m.to_numpy()
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="dwithin", distance=gap_m)
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    _, labels = connected_components(graph.tocsr(), directed=False)
    return labels.astype(np.int64)


def zone_outline(footprints: np.ndarray, *, gap_m: float) -> shapely.Geometry:
    """The outline of a zone: its footprints (metric CRS) merged and widened by
    :data:`OUTLINE_MARGIN_M`, bridging the gaps of up to ``gap_m`` metres between
    neighbours."""
    widened = shapely.union_all(shapely.buffer(footprints, gap_m / 2, quad_segs=4))
    return shapely.buffer(widened, OUTLINE_MARGIN_M - gap_m / 2, quad_segs=4)


def hot_zones(
    buildings: gpd.GeoDataFrame,
    *,
    bin_column: str = "gi_bin",
    min_bin: int = _DEFAULTS["min_bin"],
    gap_m: float = _DEFAULTS["gap_m"],
    min_reports: int = 0,
) -> gpd.GeoDataFrame:
    """Group the hot buildings into zones, without ids yet.

    Parameters
    ----------
    buildings
        Footprints with ``building_id`` and ``bin_column`` (any CRS; the distances are
        computed in the metric CRS of the site).
    bin_column
        The Gi* confidence bin (−3…3).
    min_bin
        A building is hot when its bin is at least this.
    gap_m
        Hot buildings whose footprints are within this distance (metres) share a zone.
    min_reports
        A zone whose buildings have fewer reports in all is flagged: too few reports to
        conclude. Above 0, ``buildings`` needs ``n_reports``.

    Returns
    -------
    GeoDataFrame
        EPSG:4326, one row per zone, largest first (ties: smallest building id):
        ``n_buildings``, ``building_ids`` (sorted list), ``area_m2`` (footprints),
        ``n_reports`` (sum, when ``buildings`` has it), ``max_gi_bin``,
        ``has_enough_reports`` (``n_reports`` ≥ ``min_reports``) and ``geometry``
        (the footprints merged and widened by a few metres, bridging the gaps between
        neighbours: a clickable outline of the zone).
    """
    if bin_column not in buildings:
        raise KeyError(f"colonne « {bin_column} » absente des bâtiments")
    if min_reports > 0 and "n_reports" not in buildings:
        raise KeyError("colonne « n_reports » absente des bâtiments")
    bins = pd.to_numeric(buildings[bin_column], errors="coerce")
    hot = buildings[bins.ge(min_bin).fillna(False).to_numpy()]
    hot = hot[hot.geometry.notna() & ~hot.geometry.is_empty]
    columns = [
        "n_buildings", "building_ids", "area_m2", "n_reports", "max_gi_bin",
        "has_enough_reports", "geometry",
    ]  # fmt: skip
    if hot.empty:
        return gpd.GeoDataFrame(columns=columns, geometry="geometry", crs=WGS84)
    metric = hot.to_crs(metric_crs_of(hot))
    labels = component_labels(metric.geometry, gap_m=gap_m)
    has_reports = "n_reports" in hot
    rows = []
    for label in np.unique(labels):
        part = metric[labels == label]
        outline = zone_outline(part.geometry.to_numpy(), gap_m=gap_m)
        rows.append(
            {
                "n_buildings": len(part),
                "building_ids": sorted(part["building_id"].astype(str)),
                "area_m2": round(float(part.area.sum()), 1),
                "n_reports": int(part["n_reports"].sum()) if has_reports else pd.NA,
                "max_gi_bin": int(pd.to_numeric(part[bin_column]).max()),
                "has_enough_reports": (
                    int(part["n_reports"].sum()) >= min_reports if has_reports else True
                ),
                "geometry": outline,
            }
        )
    zones = gpd.GeoDataFrame(rows, geometry="geometry", crs=metric.crs)
    zones["first_building"] = [ids[0] for ids in zones["building_ids"]]
    zones = zones.sort_values(["n_buildings", "first_building"], ascending=[False, True])
    zones = zones.drop(columns="first_building").reset_index(drop=True)
    if not has_reports:
        zones = zones.drop(columns="n_reports")
    return zones.to_crs(WGS84)


def assign_zone_ids(
    new_zones: gpd.GeoDataFrame,
    previous_zones: pd.DataFrame | None = None,
    *,
    issued_ids: Iterable[str] = (),
) -> gpd.GeoDataFrame:
    """Give each zone an id that survives refreshes, with its lineage and status.

    Parameters
    ----------
    new_zones
        Zones of this run (:func:`hot_zones`): ``building_ids`` per zone.
    previous_zones
        The previous run's zones with ``zone_id`` and ``building_ids``, and optionally
        ``ancestor_zone_ids``; ``None`` or empty on a first run.
    issued_ids
        Every id issued so far, including zones that have since disappeared: new
        numbers continue after the highest of these and of the previous ids.

    Returns
    -------
    GeoDataFrame
        ``new_zones`` aligned on its index, with ``zone_id``, ``status``,
        ``parent_zone_ids`` (previous zones sharing at least one building, natural
        order) and ``ancestor_zone_ids`` (the parents and all their ancestors).

    Examples
    --------
    A zone of buildings a, b, c that splits into {a, b} and {c} keeps its id on {a, b};
    {c} gets the next number, and both parts are ``scindée`` with parent ``Z1``.
    """
    out = new_zones.copy()
    new_sets = [set(list_cell(v)) for v in out["building_ids"]]
    prev = previous_zones if previous_zones is not None else pd.DataFrame()
    prev_ids = [str(z) for z in prev["zone_id"]] if len(prev) else []
    prev_sets = [set(list_cell(v)) for v in prev["building_ids"]] if len(prev) else []
    prev_ancestors = (
        [set(list_cell(v)) for v in prev["ancestor_zone_ids"]]
        if len(prev) and "ancestor_zone_ids" in prev
        else [set() for _ in prev_ids]
    )
    owner: dict[str, int] = {}
    for j, members in enumerate(prev_sets):
        for building in members:
            owner[building] = j
    shared: dict[tuple[int, int], int] = {}
    for i, members in enumerate(new_sets):
        for building in members:
            if building in owner:
                pair = (i, owner[building])
                shared[pair] = shared.get(pair, 0) + 1

    # Greedy one-to-one matching, most shared buildings first: the largest part of a
    # split, or the main contributor of a merge, keeps the previous id. (An optimal
    # assignment, e.g. scipy's linear_sum_assignment, could hand an id to a smaller
    # part to maximise a total; the planners' rule is "the biggest part keeps it".)
    def rank(pair: tuple[int, int]) -> tuple[int, float, tuple[int, str], int]:
        i, j = pair
        union = len(new_sets[i] | prev_sets[j])
        return (-shared[pair], -shared[pair] / union, zone_sort_key(prev_ids[j]), i)

    given: dict[int, str] = {}
    taken: set[int] = set()
    for i, j in sorted(shared, key=rank):
        if i not in given and j not in taken:
            given[i] = prev_ids[j]
            taken.add(j)

    numbers = [
        zone_number(z) for z in [*prev_ids, *issued_ids, *(a for s in prev_ancestors for a in s)]
    ]
    counter = max([n for n in numbers if n is not None], default=0)
    parents: list[list[int]] = [[] for _ in new_sets]
    children: dict[int, list[int]] = {}
    for i, j in shared:
        parents[i].append(j)
        children.setdefault(j, []).append(i)
    ids, statuses, parent_ids, ancestors = [], [], [], []
    for i in range(len(new_sets)):
        if i in given:
            zone_id = given[i]
        else:
            counter += 1
            zone_id = f"Z{counter}"
        ps = parents[i]
        if not ps:
            status = "nouvelle"
        elif len(ps) > 1:
            status = "fusionnée"
        elif len(children[ps[0]]) > 1:
            status = "scindée"
        else:
            status = "stable"
        names = sorted({prev_ids[j] for j in ps}, key=zone_sort_key)
        lineage = set(names).union(*(prev_ancestors[j] for j in ps)) if ps else set()
        ids.append(zone_id)
        statuses.append(status)
        parent_ids.append(names)
        ancestors.append(sorted(lineage, key=zone_sort_key))
    out["zone_id"] = ids
    out["status"] = statuses
    out["parent_zone_ids"] = parent_ids
    out["ancestor_zone_ids"] = ancestors
    rest = [c for c in out.columns if c not in ZONE_COLUMNS]
    return out[[c for c in ZONE_COLUMNS if c in out.columns] + rest]


def disappeared_zone_ids(zones: pd.DataFrame, previous_zones: pd.DataFrame | None) -> list[str]:
    """Previous zone ids that live on in no zone of this run (no building shared)."""
    if previous_zones is None or not len(previous_zones):
        return []
    alive = {z for v in zones["parent_zone_ids"] for z in list_cell(v)} if len(zones) else set()
    gone = {str(z) for z in previous_zones["zone_id"]} - alive
    return sorted(gone, key=zone_sort_key)


def zone_of_buildings(buildings: pd.DataFrame, zones: pd.DataFrame) -> pd.Series:
    """The zone of each building (``NA`` when it is in none).

    Returns
    -------
    Series
        ``zone_id`` aligned on ``buildings.index`` (string dtype).
    """
    lookup = {
        b: str(z)
        for z, ids in zip(zones["zone_id"], zones["building_ids"], strict=True)
        for b in list_cell(ids)
    }
    values = buildings["building_id"].astype(str).map(lookup)
    return pd.Series(values.to_numpy(), index=buildings.index, name="zone_id", dtype="string")


def zone_descendants(zones: pd.DataFrame) -> dict[str, list[str]]:
    """Map every id of a lineage (current or ancestor) to the current zones it became.

    ``{"Z3": ["Z3", "Z9"]}`` after Z3 split into Z3 and Z9; an id absent from the map
    has disappeared (no current zone descends from it).
    """
    out: dict[str, set[str]] = {}
    for zone_id, ancestors in zip(zones["zone_id"], zones["ancestor_zone_ids"], strict=True):
        for name in {str(zone_id), *list_cell(ancestors)}:
            out.setdefault(name, set()).add(str(zone_id))
    return {k: sorted(v, key=zone_sort_key) for k, v in out.items()}


def _same_zones(zones: pd.DataFrame, records: Sequence[dict[str, Any]]) -> bool:
    """True when this run's zones are exactly those of the history's last run."""
    current = sorted(tuple(sorted(list_cell(v))) for v in zones["building_ids"])
    before = sorted(tuple(sorted(r["building_ids"])) for r in records)
    return current == before


def history_path_of(config: Config, site_id: str) -> Path:
    """Default place of a site's ``zone_history.json`` (out of ``make clean``'s reach)."""
    return Path(config.annotations_dir) / ".archive" / site_id / "zone_history.json"


def run(
    config: Config,
    site_id: str,
    *,
    buildings_path: str | Path,
    out_dir: Path,
    previous_zones_path: str | Path | None = None,
    history_path: str | Path | None = None,
) -> gpd.GeoDataFrame:
    """Compute the zones of a site and write them with ids stable across refreshes.

    Reads ``buildings_path`` (``buildings.parquet`` with ``gi_bin``), and the previous
    zones from ``previous_zones_path`` when it exists, else from the history. Writes
    ``zones.parquet`` (EPSG:4326, :data:`ZONE_COLUMNS` plus ``n_reports``/``max_gi_bin``),
    ``building_zones.csv`` (``building_id``, ``zone_id``) and ``zone_summary.json`` in
    ``out_dir``, and updates ``zone_history.json`` (default :func:`history_path_of`).

    Running twice on the same buildings gives the same file: when the hot zones have
    not changed since the history's last run, that run's ids, statuses and parents are
    kept as they were.

    Parameters (``[params.zones]`` of the configuration): ``min_bin`` (2), ``gap_m`` (15),
    ``min_reports`` (10: a zone built from fewer reports is flagged
    ``has_enough_reports`` false, counted in the summary, and not drawn on the map).
    """

    settings = config.site(site_id).settings.zones
    params: dict[str, Any] = {**asdict(settings), "bin_column": "gi_bin"}
    # The columns hot_zones and the building-zone table use (the classes, the counts).
    buildings = read_geoparquet(
        buildings_path, ["building_id"], optional=(params["bin_column"], "n_reports")
    )
    if params["bin_column"] not in buildings:
        raise InputError(
            buildings_path,
            f"colonne « {params['bin_column']} » absente : lancez d'abord l'étape des points "
            "chauds (Gi*), qui classe chaque bâtiment.",
            column=str(params["bin_column"]),
        )
    history_file = Path(history_path) if history_path else history_path_of(config, site_id)
    history: dict[str, Any] = read_json(history_file) if history_file.exists() else {}
    records: list[dict[str, Any]] = list(history.get("zones", []))
    if previous_zones_path is not None and Path(previous_zones_path).exists():
        previous: pd.DataFrame | None = pd.read_parquet(
            previous_zones_path, columns=["zone_id", "building_ids", "ancestor_zone_ids"]
        )
    else:
        previous = pd.DataFrame(records) if records else None
    zones = hot_zones(
        buildings,
        bin_column=str(params["bin_column"]),
        min_bin=settings.min_bin,
        gap_m=settings.gap_m,
        min_reports=settings.min_reports,
    )
    issued = list(history.get("issued_zone_ids", []))
    if records and _same_zones(zones, records):
        log.info("%s: hot zones unchanged since the last run, ids and statuses kept", site_id)
        by_set = {tuple(sorted(r["building_ids"])): r for r in records}
        kept = [by_set[tuple(sorted(list_cell(v)))] for v in zones["building_ids"]]
        zones["zone_id"] = [r["zone_id"] for r in kept]
        zones["status"] = [r["status"] for r in kept]
        zones["parent_zone_ids"] = [list(r["parent_zone_ids"]) for r in kept]
        zones["ancestor_zone_ids"] = [list(r["ancestor_zone_ids"]) for r in kept]
        gone = list(history.get("last_disappeared_zone_ids", []))
    else:
        zones = assign_zone_ids(zones, previous, issued_ids=issued)
        gone = disappeared_zone_ids(zones, previous)
    zones = zones[
        [c for c in ZONE_COLUMNS if c in zones] + [c for c in zones if c not in ZONE_COLUMNS]
    ]
    write_geoparquet(zones, out_dir / "zones.parquet")
    link = pd.DataFrame({"building_id": buildings["building_id"].astype(str)})
    link["zone_id"] = zone_of_buildings(buildings, zones)
    write_csv(link[link["zone_id"].notna()], out_dir / "building_zones.csv")
    counts = zones["status"].value_counts()
    too_few = zones.loc[~zones["has_enough_reports"].astype(bool), "zone_id"].tolist()
    summary = {
        "zones": len(zones),
        "hot_buildings": int(zones["n_buildings"].sum()) if len(zones) else 0,
        "by_status": {s: int(counts.get(s, 0)) for s in ZONE_STATUSES},
        "too_few_reports": too_few_reports_block(too_few, min_reports=settings.min_reports),
        "disappeared_zone_ids": gone,
        "parameters": params,
        "history": str(history_file),
        "method": (
            f"Zones : bâtiments chauds (classe Gi* ≥ {params['min_bin']}) distants de moins de "
            f"{params['gap_m']} m, regroupés en composantes connexes ; identifiants conservés "
            "d'une mise à jour à l'autre par les bâtiments partagés. Une zone de moins de "
            f"{params['min_reports']} signalements n'est pas montrée sur la carte : trop peu "
            "de signalements pour conclure."
        ),
    }
    write_json(summary, out_dir / "zone_summary.json")
    history = {
        "site": site_id,
        "issued_zone_ids": sorted(set(issued) | set(zones["zone_id"]), key=zone_sort_key),
        "last_disappeared_zone_ids": gone,
        "zones": [
            {
                "zone_id": str(r.zone_id),
                "building_ids": list_cell(r.building_ids),
                "status": str(r.status),
                "parent_zone_ids": list_cell(r.parent_zone_ids),
                "ancestor_zone_ids": list_cell(r.ancestor_zone_ids),
            }
            for r in zones.itertuples()
        ],
    }
    write_json(history, history_file)
    log.info("%s: %d zones (%s)", site_id, len(zones), summary["by_status"])
    return zones
