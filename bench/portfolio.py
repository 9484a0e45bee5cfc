"""Portfolio benchmark (issue 18): a synthetic portfolio of ``--sites`` sites (200) made by
tiling the real Bondy Nord extract, one export of ``--reports`` reports (5 million), split
once (``vigie split``), then run on Dask with 2 workers and, on a subset, with 1.

The portfolio
    Each tile is a copy of the real ``bondy_nord.osm`` (its nodes, ways and relations
    within 150 m of the extract's box: buildings, streets and addresses keep their real
    shapes and neighbours; the far ends of the long ways that cross the box are left
    out), moved in Lambert-93 by a whole number of tile sizes, 550 m between two tiles'
    boxes (more than the split's 100 m margin: no site's cut reaches its neighbour), its
    OSM ids renumbered (:class:`_Renumber` says why), all written as one ``.osm.pbf``.
    A tile is a site: its perimeter is the extract's box moved. The RPLS programmes
    (dwellings) are tiled the same way into one GeoPackage.
The export
    Rows of the simulated Bondy export (``signalements_bailleur.csv``) whose coordinates
    are in the extract's box are drawn with a seeded RNG: category, sub-category,
    description, status, channel, flat (prefixed with the tile) and closing delay come
    from the drawn row, the point is the row's own point moved into its tile, the
    creation date is new (uniform over the export's two years), so that no two rows are
    copies; no address, building code, name or phone (the points place every row). The
    columns and the CSV dialect (``;``, decimal comma) are the real export's, read with
    the same column mapping as ``config/portfolio.toml``. Every tile gets reports; a few
    rows (0.5 %) fall in the gaps between tiles and must come out as
    ``outside_every_site``.
The run
    ``vigie split`` once (a child process: its peak memory is that of its processes,
    the extract's cut beside the rows among them, added up), then the sites'
    stages through ``--through`` (default ``publish_indicators``: each site's publication,
    its audited tables and the indicators the portfolio page is made from, as issue 18
    counts the whole portfolio; the map and the committee's PDF, per-site reports, are
    left out, as the figures say). The speed-up first: the same
    ``--subset`` of sites on a local Dask cluster of 1 worker, then of 2, each worker
    warmed before the clock starts by one untimed site of its own (a fresh worker's
    first site pays 3 to 7 s of imports: unwarmed, the 1-worker run paid it over a few
    sites and the 2-worker run over many, which once printed 2.5x on 2 cores). Then the
    whole portfolio on a fresh, unwarmed cluster of 2 workers, as an analyst's run: its
    total time counts the cluster's start. The time for 50, 100 and 200 sites is when
    the 50th, 100th and last site finished in that run. Last, the first site's stages
    are run again one after the other in this process, through its publication, each
    timed (``portfolio_stages``): where a site's time goes. From them,
    ``portfolio_publication`` estimates the whole portfolio taken through its
    publication when ``--through`` stopped short of it (``--through indicators``), and
    says ``measured`` when the run went through it (the default).

``python -m bench.portfolio --sites 8 --reports 50000 --subset 2`` is a quick run; add
``--through indicators`` to stop the sites before their publication.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import osmium
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyogrio
from pyproj import Transformer
from shapely.geometry import box

from bench._util import emit, own_peak_rss_mb, run_tree_measured
from pipelines.cli import run_stage, site_task
from pipelines.config import load_config
from pipelines.crs import LAMBERT93, WGS84
from pipelines.ingest import create_secret, secret_path
from pipelines.osm import read_osm_bounds
from pipelines.portfolio import parallel
from pipelines.stages import STAGE_NAMES, SitePaths

ROOT = Path(__file__).resolve().parents[1]
BONDY_OSM = ROOT / "data" / "raw" / "bondy" / "bondy_nord.osm"
BONDY_RPLS = ROOT / "data" / "raw" / "bondy" / "rpls_bondy.gpkg"
BONDY_EXPORT = ROOT / "data" / "raw" / "bondy" / "signalements_bailleur.csv"
PORTFOLIO_TOML = ROOT / "config" / "portfolio.toml"

#: Ways are copied when all their nodes are within this distance of the extract's box
#: (metres): a street leaving the box is kept up to there, a far one is left out.
KEEP_M = 150.0
#: Gap between two tiles' copies, metres: more than the split's margin (100 m).
GAP_M = 250.0
#: Share of the rows put in the gaps between tiles (in no site).
OUTSIDE_SHARE = 0.005
#: The export's two years (the simulated Bondy export's span), seconds since the epoch.
SPAN_S = (
    int(pd.Timestamp("2024-01-01 07:00").timestamp()),
    int(pd.Timestamp("2025-12-31 19:00").timestamp()),
)
#: Rows generated and written at a time.
CHUNK = 500_000
#: The spec's targets (issue 18).
TARGET_TOTAL_S = 15 * 60
TARGET_PEAK_MB = 8 * 1024
TARGET_SPEEDUP = 1.6


@dataclass(frozen=True)
class Grid:
    """Where the tiles are: the real extract's box (Lambert-93) and each tile's offset."""

    box_l93: tuple[float, float, float, float]
    offsets: np.ndarray  # (tiles, 2): dx, dy in metres
    pitch: tuple[float, float]  # tile width and height with the gap

    @property
    def tiles(self) -> int:
        return len(self.offsets)


def _to_l93() -> Transformer:
    return Transformer.from_crs(WGS84, LAMBERT93, always_xy=True)


def _to_wgs84() -> Transformer:
    return Transformer.from_crs(LAMBERT93, WGS84, always_xy=True)


def make_grid(tiles: int, box_l93: tuple[float, float, float, float]) -> Grid:
    """``tiles`` offsets on a near-square grid, the first tile where the real one is."""
    minx, miny, maxx, maxy = box_l93
    pitch = (maxx - minx + 2 * KEEP_M + GAP_M, maxy - miny + 2 * KEEP_M + GAP_M)
    cols = int(np.ceil(np.sqrt(tiles)))
    t = np.arange(tiles)
    offsets = np.column_stack([(t % cols) * pitch[0], (t // cols) * pitch[1]])
    return Grid(box_l93, offsets, pitch)


# --------------------------------------------------------------------------- the extract
@dataclass
class _Extract:
    node_ids: np.ndarray
    node_x: np.ndarray  # Lambert-93
    node_y: np.ndarray
    node_tags: list[dict[str, str]]
    ways: list[tuple[int, list[int], dict[str, str]]]
    relations: list[tuple[int, list[tuple[str, int, str]], dict[str, str]]]


def _read_extract(path: Path, box_l93: tuple[float, float, float, float]) -> _Extract:
    """The real extract's elements within :data:`KEEP_M` of ``box_l93``: the ways whose
    nodes all are, the tagged nodes that are, every node a kept way uses, and the
    relations with a kept member (their members as they are: a member left out is
    missing, as in any clipped extract, and the readers say so)."""
    ids, lon, lat, tags = [], [], [], []
    ways, relations = [], []
    for obj in osmium.FileProcessor(str(path)):
        t = {tag.k: tag.v for tag in obj.tags}
        if isinstance(obj, osmium.osm.Node):
            ids.append(obj.id)
            lon.append(obj.location.lon)
            lat.append(obj.location.lat)
            tags.append(t)
        elif isinstance(obj, osmium.osm.Way):
            ways.append((obj.id, [n.ref for n in obj.nodes], t))
        elif isinstance(obj, osmium.osm.Relation):
            relations.append((obj.id, [(m.type, m.ref, m.role) for m in obj.members], t))
    x, y = _to_l93().transform(np.asarray(lon), np.asarray(lat))
    minx, miny, maxx, maxy = box_l93
    near = (x >= minx - KEEP_M) & (x <= maxx + KEEP_M) & (y >= miny - KEEP_M) & (y <= maxy + KEEP_M)
    near_ids = {int(i) for i in np.asarray(ids)[near]}
    ways = [w for w in ways if all(r in near_ids for r in w[1])]
    kept_ways = {w[0] for w in ways}
    used = {r for w in ways for r in w[1]}
    keep = np.array(
        [(i in used) or (near_i and bool(t)) for i, near_i, t in zip(ids, near, tags, strict=True)]
    )
    relations = [r for r in relations if any(k == "w" and ref in kept_ways for k, ref, _ in r[1])]
    return _Extract(
        np.asarray(ids, np.int64)[keep],
        x[keep],
        y[keep],
        [t for t, k in zip(tags, keep, strict=True) if k],
        ways,
        relations,
    )


def _tile_box() -> tuple[float, float, float, float]:
    """The real extract's box (its ``<bounds>``), Lambert-93."""
    west, south, east, north = read_osm_bounds(BONDY_OSM)
    x, y = _to_l93().transform([west, east, east, west], [south, south, north, north])
    return float(min(x)), float(min(y)), float(max(x)), float(max(y))


class _Renumber:
    """New OSM ids, compact: tile ``t``'s copy of an element of rank ``i`` among the
    ids of its kind (those kept and those a relation names but the copy leaves out)
    is ``t * count + i + 1``.

    Compact, not the real ids moved above each other: the split's first cut
    (``osmium.BackReferenceWriter`` per site) tracked each site's ids in an
    ``IdTracker`` whose memory grew with how scattered they are (about 350 MB per site on
    the real Bondy ids). The cut now keeps each site's ids in sorted arrays (memory per
    object kept, :mod:`pipelines.portfolio.cut`), so compact ids only keep the tiles
    apart; the ``portfolio_cut`` figure measures the cut on the real ids.
    """

    def __init__(self, ex: _Extract) -> None:
        universe: dict[str, set[int]] = {
            "n": set(ex.node_ids.tolist()),
            "w": {w[0] for w in ex.ways},
            "r": {r[0] for r in ex.relations},
        }
        for _, members, _ in ex.relations:
            for kind, ref, _ in members:
                universe[kind].add(ref)
        self.rank = {k: {old: i for i, old in enumerate(sorted(v))} for k, v in universe.items()}

    def of(self, kind: str, tile: int, old: int) -> int:
        rank = self.rank[kind]
        return tile * len(rank) + rank[old] + 1


def write_tiled_extract(dst: Path, grid: Grid) -> int:
    """Write one ``.osm.pbf`` holding a moved copy of the real extract per tile (nodes,
    then ways, then relations, as osmium's readers expect). Returns the node count."""
    ex = _read_extract(BONDY_OSM, grid.box_l93)
    ids = _Renumber(ex)
    to_wgs = _to_wgs84()
    lons, lats = [], []
    for dx, dy in grid.offsets:
        lo, la = to_wgs.transform(ex.node_x + dx, ex.node_y + dy)
        lons.append(lo)
        lats.append(la)
    west = min(float(a.min()) for a in lons) - 0.01
    east = max(float(a.max()) for a in lons) + 0.01
    south = min(float(a.min()) for a in lats) - 0.01
    north = max(float(a.max()) for a in lats) + 0.01
    header = osmium.io.Header()
    header.add_box(
        osmium.osm.Box(osmium.osm.Location(west, south), osmium.osm.Location(east, north))
    )
    writer = osmium.SimpleWriter(str(dst), overwrite=True, header=header)
    mutable = osmium.osm.mutable
    try:
        for t in range(grid.tiles):
            for i, nid in enumerate(ex.node_ids.tolist()):
                writer.add_node(
                    mutable.Node(
                        id=ids.of("n", t, nid),
                        location=osmium.osm.Location(lons[t][i], lats[t][i]),
                        tags=ex.node_tags[i],
                    )
                )
        for t in range(grid.tiles):
            for wid, refs, tags in ex.ways:
                nodes = [ids.of("n", t, r) for r in refs]
                writer.add_way(mutable.Way(id=ids.of("w", t, wid), nodes=nodes, tags=tags))
        for t in range(grid.tiles):
            for rid, members, tags in ex.relations:
                writer.add_relation(
                    mutable.Relation(
                        id=ids.of("r", t, rid),
                        members=[(k, ids.of(k, t, ref), role) for k, ref, role in members],
                        tags=tags,
                    )
                )
    finally:
        writer.close()
    return grid.tiles * len(ex.node_ids)


def write_tiled_rpls(dst: Path, grid: Grid) -> int:
    """The RPLS programme points (layer ``rpls2022``) copied into every tile."""
    rpls = gpd.read_file(BONDY_RPLS, layer="rpls2022", engine="pyogrio").to_crs(LAMBERT93)
    parts = [rpls.assign(geometry=rpls.geometry.translate(dx, dy)) for dx, dy in grid.offsets]
    tiled = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=LAMBERT93)
    pyogrio.write_dataframe(tiled, dst, layer="rpls2022", driver="GPKG")
    return len(tiled)


def write_perimeters(dst: Path, grid: Grid) -> list[str]:
    """One perimeter per tile (the tile's box), GeoJSON in degrees; returns the site ids."""
    minx, miny, maxx, maxy = grid.box_l93
    ids = [f"t{t:03d}" for t in range(grid.tiles)]
    frame = gpd.GeoDataFrame(
        {
            "code": ids,
            "nom": [f"Tuile {t} (copie de Bondy Nord)" for t in range(grid.tiles)],
        },
        geometry=[box(minx + dx, miny + dy, maxx + dx, maxy + dy) for dx, dy in grid.offsets],
        crs=LAMBERT93,
    ).to_crs(WGS84)
    pyogrio.write_dataframe(frame, dst, driver="GeoJSON")
    return ids


# --------------------------------------------------------------------------- the export
def _real_rows(box_l93: tuple[float, float, float, float]) -> tuple[pd.DataFrame, list[str]]:
    """The simulated Bondy export's rows whose coordinates are in the extract's box
    (Lambert-93 ``x``, ``y`` added; its rows with an address only or with coordinates
    elsewhere are not drawn), and its columns, in order."""
    if not BONDY_EXPORT.exists():
        raise SystemExit(
            f"{BONDY_EXPORT} : export simulé introuvable ; faites d'abord "
            "`make CONFIG=config/demo.toml simulate` (`make bench` le fait)."
        )
    real = pd.read_csv(BONDY_EXPORT, sep=";", encoding="cp1252", dtype=str, keep_default_na=False)
    columns = list(real.columns)
    lat = pd.to_numeric(real["Latitude"].str.replace(",", "."), errors="coerce")
    lon = pd.to_numeric(real["Longitude"].str.replace(",", "."), errors="coerce")
    real = real[lat.notna() & lon.notna()].copy()
    real["x"], real["y"] = _to_l93().transform(
        lon[real.index].to_numpy(), lat[real.index].to_numpy()
    )
    minx, miny, maxx, maxy = box_l93
    real = real[real["x"].between(minx, maxx) & real["y"].between(miny, maxy)].copy()
    created = pd.to_datetime(real["Date de création"], format="%d/%m/%Y %H:%M", errors="coerce")
    closed = pd.to_datetime(real["Date de clôture"], format="%d/%m/%Y %H:%M", errors="coerce")
    real["delay_s"] = (closed - created).dt.total_seconds()
    return real.reset_index(drop=True), columns


def _text(values: np.ndarray | pd.Series) -> pa.Array:
    return pa.array(np.asarray(values, dtype=object), pa.string())


def _degrees_text(values: np.ndarray) -> pa.Array:
    """Degrees with 6 decimals and a decimal comma, as the real export writes them."""
    text = pc.cast(pc.round(pa.array(values), 6), pa.string())
    return pc.replace_substring(text, ".", ",")


def write_export(dst: Path, grid: Grid, n_reports: int, *, seed: int = 18) -> dict[str, Any]:
    """Write the export (``;``, decimal comma, UTF-8) in chunks; returns how many rows
    went to each tile and to no site."""
    real, columns = _real_rows(grid.box_l93)
    to_wgs = _to_wgs84()
    rng = np.random.default_rng(seed)
    per_tile = np.zeros(grid.tiles, np.int64)
    outside = 0
    options = pacsv.WriteOptions(delimiter=";", quoting_style="needed")
    schema = pa.schema([(c, pa.string()) for c in columns])
    with pacsv.CSVWriter(dst, schema, write_options=options) as writer:
        for start in range(0, n_reports, CHUNK):
            n = min(CHUNK, n_reports - start)
            # The tiles in turn: each gets its share of the rows.
            tile = (np.arange(start, start + n) % grid.tiles).astype(np.int64)
            row = rng.integers(0, len(real), n)
            away = rng.random(n) < OUTSIDE_SHARE
            x = real["x"].to_numpy()[row] + grid.offsets[tile, 0]
            y = real["y"].to_numpy()[row] + grid.offsets[tile, 1]
            # The middle of the gap left of the tile: in no site, nor in any site's margin.
            x = np.where(away, grid.box_l93[0] + grid.offsets[tile, 0] - KEEP_M - GAP_M / 2, x)
            lon, lat = to_wgs.transform(x, y)
            per_tile += np.bincount(tile[~away], minlength=grid.tiles)
            outside += int(away.sum())
            created_s = rng.integers(SPAN_S[0], SPAN_S[1], n)
            delay = real["delay_s"].to_numpy()[row]
            closed_s = np.where(np.isfinite(delay), created_s + np.nan_to_num(delay), np.nan)
            stamp = pa.timestamp("s")
            created = pc.strftime(pa.array(created_s, stamp), format="%d/%m/%Y %H:%M")
            closed = pc.strftime(
                pa.array(closed_s, pa.float64(), from_pandas=True).cast(pa.int64()).cast(stamp),
                format="%d/%m/%Y %H:%M",
            )
            ids = pc.binary_join_element_wise(
                "DI-",
                pc.utf8_lpad(
                    pc.cast(pa.array(np.arange(start, start + n) + 1), pa.string()), 8, "0"
                ),
                "",
            )
            flat = real["Logement"].to_numpy()[row]
            flat = np.where(flat == "", "", "Apt T" + tile.astype(str) + "-" + flat.astype(str))
            cells = {
                "N° ticket": ids,
                "Date de création": created,
                "Latitude": _degrees_text(lat),
                "Longitude": _degrees_text(lon),
                "Date de clôture": pc.fill_null(closed, ""),
                "Adresse": _text(np.full(n, "")),
                "Bâtiment": _text(np.full(n, "")),
                "Nom du demandeur": _text(np.full(n, "")),
                "Téléphone": _text(np.full(n, "")),
                "Logement": _text(flat),
            }
            for c in columns:
                if c not in cells:
                    cells[c] = _text(real[c].to_numpy()[row])
            writer.write_table(pa.table([cells[c] for c in columns], schema=schema))
    return {"by_tile": per_tile.tolist(), "outside": outside}


def write_config(folder: Path, export: Path, osm: Path, perimeters: Path, rpls: Path) -> Path:
    """The portfolio's TOML, its source mapped as ``config/portfolio.toml`` maps the
    simulated Bondy export."""
    shipped = tomllib.loads(PORTFOLIO_TOML.read_text(encoding="utf-8"))
    source = shipped["portfolio"]["sources"][0]
    columns = "\n".join(f'{k} = "{v}"' for k, v in source["columns"].items())
    personal = ", ".join(f'"{c}"' for c in source["personal_columns"])
    text = f"""# Portefeuille synthétique du banc d'essai (bench/portfolio.py) : ne pas diffuser.
[project]
processed_dir = "{folder / "processed"}"
maps_dir = "{folder / "maps"}"
annotations_dir = "{folder / "annotations"}"
actions_dir = "{folder / "actions"}"
secrets_dir = "{folder / "secrets"}"

[portfolio]
perimeters = "{perimeters}"
id_field = "code"
name_field = "nom"
osm = "{osm}"
rpls = "{rpls}"

[[portfolio.sources]]
id = "{source["id"]}"
kind = "reports"
path = "{export}"
format = "csv"
personal_columns = [{personal}]
[portfolio.sources.columns]
{columns}
"""
    path = folder / "portfolio.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the runs
def run_split(config_path: Path) -> dict[str, Any]:
    """``vigie split`` in a child process: its wall time, its CPU time (its processes',
    the extract's cut among them) and its peak memory (that of its processes added up:
    :func:`bench._util.run_tree_measured`)."""
    t0 = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc, peak_mb, processes = run_tree_measured(
        [sys.executable, "-m", "pipelines", "-q", "split", "--config", str(config_path)],
        cwd=ROOT,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"vigie split failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if peak_mb is None:  # no /proc: the largest process's, carried from this one
        peak_mb = max(after.ru_maxrss, before.ru_maxrss) / 1024.0
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {
        "split_s": round(time.perf_counter() - t0, 1),
        "split_cpu_s": round(cpu, 1),
        "split_peak_mb": round(peak_mb, 1),
        "split_processes": processes,
    }


def _done(done: list[float], started: float, total: int) -> None:
    """Record when a site finished; say so every 10 sites (a long run shows its pace)."""
    done.append(time.perf_counter() - started)
    if len(done) % 10 == 0 or len(done) == total:
        print(f"[portfolio] {len(done)}/{total} sites in {done[-1]:.0f} s", flush=True)


def warm_workers(client: Any, ids: Sequence[str], config: Any, through: str) -> None:
    """Run one site per worker, untimed, each pinned to its worker: a fresh worker pays
    its first site's imports (geopandas, shapely, pyogrio, the stages: 3 to 7 s here) and
    its first reads; warmed, every worker starts the timed sites as the others do.
    ``ids`` holds one distinct site per worker (two workers never write one site)."""
    client.wait_for_workers(len(ids))
    addresses = sorted(client.scheduler_info()["workers"])
    if len(addresses) != len(ids):
        raise ValueError(f"{len(ids)} warm-up sites for {len(addresses)} workers")
    futures = [
        client.submit(
            site_task,
            sid,
            config,
            through,
            key=f"vigie-warm-{sid}",
            pure=False,
            workers=[address],
            allow_other_workers=False,
        )
        for sid, address in zip(ids, addresses, strict=True)
    ]
    for sid, future in zip(ids, futures, strict=True):
        problem = future.result()
        if problem is not None:
            raise RuntimeError(f"warm-up site {sid}: {problem}")


def run_sites(
    config: Any, ids: Sequence[str], workers: int, through: str, *, warm: Sequence[str] = ()
) -> dict[str, Any]:
    """The sites' stages on a fresh local cluster of ``workers`` single-threaded worker
    processes: wall time (cluster start included), the timed sites' own time (after the
    cluster started and, with ``warm``, after :func:`warm_workers` ran those sites), when
    each site finished, and each worker's peak memory (its own, asked at the end:
    :func:`bench._util.own_peak_rss_mb`)."""
    t0 = time.perf_counter()
    done: list[float] = []
    with parallel.dask_client(None, workers, tasks=len(ids) + len(warm)) as client:
        up = time.perf_counter()
        if warm:
            warm_workers(client, warm, config, through)
        started = time.perf_counter()
        parallel.run_tasks(
            client,
            site_task,
            list(ids),
            config,
            through,
            on_done=lambda _sid: _done(done, started, len(ids)),
        )
        sites_s = time.perf_counter() - started
        peaks = client.run(own_peak_rss_mb)
    return {
        "workers": workers,
        "sites": len(ids),
        "total_s": round(time.perf_counter() - t0, 1),
        "cluster_start_s": round(up - t0, 1),
        "warm_s": round(started - up, 1),
        "sites_s": round(sites_s, 1),
        "done_s": done,
        "worker_peak_mb": [round(v, 1) for v in peaks.values()],
    }


_CUT_PROBE = """
import sys, tempfile
from pathlib import Path
from pipelines.config import load_config
from pipelines.portfolio.cut import cut_extract
from bench._util import own_peak_rss_mb
p = load_config(sys.argv[1]).portfolio
sites = p.sites[: int(sys.argv[2])]
with tempfile.TemporaryDirectory() as d:
    cut_extract(p.osm, sites, [Path(d, s.id + ".osm") for s in sites], margin_m=p.osm_margin_m)
print(own_peak_rss_mb())  # its own peak, not the driver's carried across exec
"""


def probe_cut() -> dict[str, Any]:
    """The split's cut on the real ids: ``config/portfolio.toml``'s extract cut for 1,
    then 3 sites, each in a child process; its peak memory per site kept open."""
    peaks = {}
    for n in (1, 3):
        proc = subprocess.run(
            [sys.executable, "-c", _CUT_PROBE, str(PORTFOLIO_TOML), str(n)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        peaks[n] = float(proc.stdout.split()[-1])
    return {
        "how": "config/portfolio.toml's real extract (real OSM ids) cut for 1 and 3 sites",
        "peak_mb_1_site": round(peaks[1], 1),
        "peak_mb_3_sites": round(peaks[3], 1),
        "mb_per_more_site": round((peaks[3] - peaks[1]) / 2, 1),
    }


def counted_once(config: Any, ids: Sequence[str], expected: dict[str, Any]) -> dict[str, Any]:
    """Every generated row in one place: the split's counts against where the rows were
    put, and each site's ingestion against the split."""
    portfolio = config.portfolio
    split = json.loads(Path(portfolio.summary).read_text(encoding="utf-8"))
    by_site = {sid: sum(v.values()) for sid, v in split["by_site"].items()}
    ingested = {}
    for sid in ids:
        summary = Path(config.processed_dir) / sid / "ingest_summary.json"
        if summary.exists():
            s = json.loads(summary.read_text(encoding="utf-8"))
            ingested[sid] = sum(src["rows_in"] for src in s["sources"].values())
    want = dict(zip(portfolio.site_ids, expected["by_tile"], strict=True))
    return {
        "rows_read": split["rows_read"],
        "outside_every_site": split["outside_every_site"],
        "split_matches_placement": by_site == want
        and split["outside_every_site"] == expected["outside"],
        "ingest_matches_split": all(ingested[s] == by_site[s] for s in ingested),
        "sites_checked": len(ingested),
    }


def build(folder: Path, sites: int, reports: int) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """Write the synthetic portfolio in ``folder``; returns its configuration, where the
    rows were put and the build's figures."""
    figures: dict[str, Any] = {}
    t0 = time.perf_counter()
    grid = make_grid(sites, _tile_box())
    osm = folder / "tuiles.osm.pbf"
    figures["osm_nodes"] = write_tiled_extract(osm, grid)
    rpls = folder / "rpls_tuiles.gpkg"
    figures["rpls_points"] = write_tiled_rpls(rpls, grid)
    perimeters = folder / "perimetres.geojson"
    write_perimeters(perimeters, grid)
    figures["extract_s"] = round(time.perf_counter() - t0, 1)
    t1 = time.perf_counter()
    export = folder / "export.csv"
    placed = write_export(export, grid, reports)
    figures["export_s"] = round(time.perf_counter() - t1, 1)
    figures["export_mb"] = round(export.stat().st_size / 1e6, 1)
    config_path = write_config(folder, export, osm, perimeters, rpls)
    config = load_config(str(config_path))
    # A re-run in the same --dir keeps the secrets already there, as `make secrets`
    # does: everything else is rewritten the same (seeded), so the household keys too
    # come out as in the last run; a secret is never replaced, and the bench deletes
    # nothing in a folder it was given.
    for sid in config.portfolio.site_ids:  # type: ignore[union-attr]
        secret = secret_path(config.secrets_dir, sid)
        if not secret.exists():
            create_secret(secret)
    return config_path, placed, figures


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.portfolio")
    parser.add_argument("--sites", type=int, default=200)
    parser.add_argument("--reports", type=int, default=5_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--subset",
        type=int,
        default=20,
        help="sites timed on 1 worker, then on --workers, for the speed-up",
    )
    parser.add_argument("--through", default="publish_indicators", choices=STAGE_NAMES)
    parser.add_argument("--dir", type=Path, default=None, help="keep the files here")
    args = parser.parse_args(argv)
    if not 1 <= args.workers <= args.sites:
        parser.error("--workers: between 1 and --sites (one warm-up site per worker)")
    folder_ctx = (
        tempfile.TemporaryDirectory(prefix="vigie-bench-portfolio-") if args.dir is None else None
    )
    folder = Path(folder_ctx.name) if folder_ctx is not None else args.dir
    folder.mkdir(parents=True, exist_ok=True)
    try:
        _bench(folder, args)
    finally:
        if folder_ctx is not None:
            folder_ctx.cleanup()


def _load() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def _bench(folder: Path, args: argparse.Namespace) -> None:
    stages = list(STAGE_NAMES[: STAGE_NAMES.index(args.through) + 1])
    config_path, placed, built = build(folder, args.sites, args.reports)
    emit(
        "portfolio_build",
        {"sites": args.sites, "reports": args.reports, **built, "load_avg": _load()},
    )
    split = run_split(config_path)
    emit("portfolio_split", {**split, "load_avg": _load()})
    emit("portfolio_cut", probe_cut())
    config = load_config(str(config_path))
    ids = list(config.portfolio.site_ids)  # type: ignore[union-attr]
    # The speed-up first (a run cut short still has it): the same subset on 1 worker,
    # then on --workers, each cluster warmed by one untimed site per worker (sites
    # outside the subset where there are enough, so that no timed site ran before).
    subset = ids[: min(args.subset, len(ids))]
    warm = (ids[len(subset) :] + subset)[: args.workers]
    one = run_sites(config, subset, 1, args.through, warm=warm[:1])
    emit(
        "portfolio_one_worker",
        {"sites": len(subset), "sites_s": one["sites_s"], "load_avg": _load()},
    )
    many = run_sites(config, subset, args.workers, args.through, warm=warm)
    emit(
        "portfolio_speedup",
        {
            "how": f"the same {len(subset)} sites on 1 worker, then on {args.workers}, "
            "each worker warmed by one untimed site first; cluster start and warm-up "
            "not timed; measured in this run",
            "sites": len(subset),
            "one_worker_s": one["sites_s"],
            "n_workers_s": many["sites_s"],
            "workers": args.workers,
            "speedup": round(one["sites_s"] / many["sites_s"], 2),
            "target_speedup": TARGET_SPEEDUP,
            "warm_s": {"1": one["warm_s"], str(args.workers): many["warm_s"]},
            "one_worker_peak_mb": one["worker_peak_mb"],
            "cpus": parallel.default_workers(),
            "load_avg": _load(),
        },
    )
    print(
        f"[portfolio] speed-up: {len(subset)} sites in {one['sites_s']} s on 1 worker, "
        f"{many['sites_s']} s on {args.workers}: {one['sites_s'] / many['sites_s']:.2f}x",
        flush=True,
    )
    # The whole portfolio as an analyst runs it: a fresh cluster, not warmed.
    full = run_sites(config, ids, args.workers, args.through)
    checks = counted_once(config, ids, placed)
    total = split["split_s"] + full["total_s"]
    emit(
        "portfolio_run",
        {
            "sites": len(ids),
            "reports": args.reports,
            "stages_per_site": stages,
            "workers": args.workers,
            **split,
            "sites_s": full["total_s"],
            "cluster_start_s": full["cluster_start_s"],
            "total_s": round(total, 1),
            "target_total_s": TARGET_TOTAL_S,
            "per_site_s": round(full["total_s"] / len(ids), 2),
            "worker_peak_mb": full["worker_peak_mb"],
            "driver_peak_mb": round(own_peak_rss_mb(), 1),
            "peak_mb_max": max(
                [split["split_peak_mb"], own_peak_rss_mb(), *full["worker_peak_mb"]]
            ),
            "target_peak_mb": TARGET_PEAK_MB,
            **checks,
            "load_avg": _load(),
        },
    )
    marks = {}
    for k in (50, 100, 200, len(ids)):
        if k <= len(ids):
            marks[str(k)] = round(full["done_s"][k - 1], 1)
    scale: dict[str, Any] = {
        "how": f"when the n-th site finished in the {args.workers}-worker run (cluster started)",
        "done_s": marks,
    }
    if "50" in marks and "200" in marks:
        scale["ratio_200_over_50"] = round(marks["200"] / marks["50"], 2)
        scale["linear_would_be"] = 4.0
    emit("portfolio_scaling", scale)
    timed = stage_times(config, ids[0], PUBLICATION[-1])
    emit("portfolio_stages", timed)
    emit("portfolio_publication", publication_estimate(timed, args, stages, total, len(ids)))


#: The stages that publish a site (its pack, then the indicators of the portfolio page).
PUBLICATION = ("publish", "publish_indicators")


def publication_estimate(
    timed: dict[str, Any], args: argparse.Namespace, stages: list[str], total: float, n: int
) -> dict[str, Any]:
    """The whole portfolio taken through its publication, estimated where the run
    stopped before it (``--through`` short of ``publish``): the run's measured total
    plus, per site, the publication stages' time measured on its first site, spread
    over the workers (a site's stages are one task, so they add up). Issue 18 stays
    open on this figure: the portfolio page is made from what each site publishes."""
    pub_s = round(sum(timed["stage_s"][s] for s in PUBLICATION), 2)
    missing = [s for s in PUBLICATION if s not in stages]
    extra = n * sum(timed["stage_s"][s] for s in missing) / args.workers
    return {
        "how": "measured total of the run plus, for the publication stages it did not "
        "run, sites × their time on the first site (portfolio_stages) ÷ workers: an "
        "estimate, not a run",
        "publication_s_per_site": pub_s,
        "stages_not_run": missing,
        "estimated_total_s": round(total + extra, 1),
        "target_total_s": TARGET_TOTAL_S,
        "measured": not missing,
    }


def stage_times(config: Any, site_id: str, through: str) -> dict[str, Any]:
    """Each stage of one site of the portfolio through ``through``, run again in this
    process after the timed runs, one after the other and timed: where a site's time
    goes (issue 18's budget is spent by the publication's disclosure engine,
    ``publish``). The bench always takes its first site through its publication so."""
    site = config.site(site_id)
    paths = SitePaths.of(config, site_id)
    took: dict[str, float] = {}
    for name in STAGE_NAMES[: STAGE_NAMES.index(through) + 1]:
        start = time.perf_counter()
        run_stage(config, site, name, paths)
        took[name] = round(time.perf_counter() - start, 2)
    return {
        "how": "one site's stages run again one after the other in the driver, after the "
        "timed runs (their outputs already there: each stage redoes its work)",
        "site": site_id,
        "stage_s": took,
        "load_avg": _load(),
    }


if __name__ == "__main__":
    main()
