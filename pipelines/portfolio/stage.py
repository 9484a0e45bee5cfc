"""``vigie split``: a portfolio's shared exports and extract cut per site, once.

Reads the perimeter layer (repairing invalid geometries, listing overlaps), cuts the
extract per site (:mod:`pipelines.portfolio.cut`; a large extract in a second process,
while this one splits the rows: :class:`_Cut`), reads each shared export once,
part by part (:func:`pipelines.ingest.read_file_chunks`, 64 MB at a time), and appends
each part's rows, cell for cell, to the site's own CSV (:mod:`pipelines.portfolio.assign`
says which site; :mod:`pipelines.portfolio.sinks` writes): the split holds one part of
the export at a time, whatever its size. Every row read lands in exactly one site or
in ``outside_every_site.csv``; the summary (``split_summary.json``) adds them up per
source and per site, and the run stops if they do not add up.
"""

from __future__ import annotations

import logging
import logging.handlers
import multiprocessing
import queue
import signal
import traceback
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
from pyproj import Transformer

from pipelines.config import Config, Perimeter, PortfolioConfig, PortfolioSource, SiteConfig
from pipelines.crs import WGS84
from pipelines.errors import InputError, VigieError
from pipelines.geocode import match_site_addresses
from pipelines.ingest import (
    CHUNK_BYTES,
    RawFile,
    notes_of_parts,
    parse_geo_points,
    parse_numbers,
    read_file_chunks,
    reading_notes,
    repeated_header_rows,
    resolve_columns,
)
from pipelines.io import write_csv, write_geoparquet, write_json
from pipelines.osm import read_osm_bounds, read_osm_buildings
from pipelines.portfolio.assign import OUTSIDE_REASONS, assign_rows
from pipelines.portfolio.cut import cut_extract
from pipelines.portfolio.notes import SiteNotes
from pipelines.portfolio.parallel import default_workers
from pipelines.portfolio.perimeters import (
    check_within_extract,
    find_overlaps,
    read_perimeters,
)
from pipelines.portfolio.sinks import Sinks

log = logging.getLogger(__name__)

#: Columns of ``outside_every_site.csv``: where the row is and why it went nowhere,
#: never its text or personal cells.
OUTSIDE_COLUMNS = ["source", "source_file", "source_line", "report_id", "reason", "lon", "lat"]

#: An extract from this size on (bytes, any format) is cut in a second process while
#: this one splits the rows (:class:`_Cut`). Smaller ones are cut here, first: starting
#: the second process costs about 1.2 s of CPU (Vigie imported again, 220 MB), more than
#: the cut of the benchmark's 8 sites (a 0.66 MB PBF: 1.0 s) or of the real Bondy extract
#: (2.9 MB of XML, 3 sites: 0.2 s); its 200 sites (16 MB of PBF) take 24 s.
CUT_ASIDE_MIN_BYTES = 8 << 20

#: The cut's logger: what it logs at this one's level or above reaches this process.
_CUT_LOGGER = cut_extract.__module__


def _degrees(values: pd.Series, low: float, high: float, decimal: str | None) -> np.ndarray:
    parsed, _ = parse_numbers(values, decimal=decimal)
    out = parsed.to_numpy(dtype=float, na_value=np.nan).copy()
    out[(out < low) | (out > high)] = np.nan
    return out


def row_coordinates(
    frame: pd.DataFrame, roles: dict[str, str], source: PortfolioSource
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's lon, lat in degrees from the first of lat/lon, x/y (the source's
    ``crs``) and geo_point that it fills; NaN where it has none valid."""
    n = len(frame)
    lon, lat = np.full(n, np.nan), np.full(n, np.nan)
    decimal = source.source.decimal
    if "lat" in roles and "lon" in roles:
        lat = _degrees(frame[roles["lat"]], -90, 90, decimal)
        lon = _degrees(frame[roles["lon"]], -180, 180, decimal)
    if "x" in roles and "y" in roles:
        x, _ = parse_numbers(frame[roles["x"]], decimal=decimal)
        y, _ = parse_numbers(frame[roles["y"]], decimal=decimal)
        tr = Transformer.from_crs(source.source.crs, WGS84, always_xy=True)
        xl, yl = tr.transform(
            x.to_numpy(float, na_value=np.nan), y.to_numpy(float, na_value=np.nan)
        )
        todo = ~(np.isfinite(lon) & np.isfinite(lat))
        lon[todo], lat[todo] = np.asarray(xl)[todo], np.asarray(yl)[todo]
    if "geo_point" in roles:
        gla, glo = parse_geo_points(frame[roles["geo_point"]])
        todo = ~(np.isfinite(lon) & np.isfinite(lat))
        lat[todo] = gla.to_numpy(float, na_value=np.nan)[todo]
        lon[todo] = glo.to_numpy(float, na_value=np.nan)[todo]
    bad = ~(np.isfinite(lon) & np.isfinite(lat))
    lon[bad], lat[bad] = np.nan, np.nan
    return lon, lat


class AddressPoints:
    """Where rows' addresses or building codes are matched, as the geocoding stage
    matches them (OSM and BAN addresses, gazetteer), each distinct address and code
    matched once for the whole export: the parts of an export repeat the same
    residences' addresses, and a match depends on the row's own address and code only.

    ``matcher`` (a site whose extract is the portfolio's, with its BAN, gazetteer and
    geocoding parameters) is that of :func:`pipelines.geocode.match_site_addresses`; its
    buildings are those of the extract ``osm``, read when a first row is to be matched
    (:attr:`buildings`).
    """

    def __init__(self, osm: str | Path, matcher: SiteConfig) -> None:
        self.osm = osm
        self.matcher = matcher
        self.known: dict[tuple[str, ...], tuple[float, float]] = {}
        self._buildings: gpd.GeoDataFrame | None = None
        self._inside: pd.DataFrame | None = None

    @property
    def buildings(self) -> gpd.GeoDataFrame:
        """The extract's buildings, read once, when first needed: an export whose rows
        all have coordinates or a site code never needs them (the benchmark's 8 sites
        and 200,000 rows: the split took 4.2 s of CPU, 3.0 s without reading them)."""
        if self._buildings is None:
            self._buildings = read_osm_buildings(self.osm)
        return self._buildings

    def building_points(self) -> pd.DataFrame:
        """A point inside each footprint (lon, lat in degrees), by ``building_id``: where a
        row matched by its building code (the gazetteer gives a building, no point) is."""
        if self._inside is None:
            inside = gpd.GeoSeries(
                self.buildings.geometry.representative_point(), crs=self.buildings.crs
            ).to_crs(WGS84)
            self._inside = pd.DataFrame(
                {"lon": inside.x.to_numpy(), "lat": inside.y.to_numpy()},
                index=self.buildings["building_id"].astype(str).to_numpy(),
            )
            self._inside = self._inside[~self._inside.index.duplicated()]
        return self._inside

    def points(
        self, frame: pd.DataFrame, roles: dict[str, str], todo: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Where the address or building code of the rows ``todo`` was matched: lon,
        lat, NaN for the rows not matched (or not in ``todo``)."""
        n = len(frame)
        lon, lat = np.full(n, np.nan), np.full(n, np.nan)
        columns = {r: roles[r] for r in ("address", "building_ref") if r in roles}
        if not columns or not todo.any():
            return lon, lat
        rows = frame.loc[todo, list(columns.values())].set_axis(list(columns), axis=1)
        keys = list(zip(*(rows[c].astype(str) for c in columns), strict=True))
        new = list(dict.fromkeys(k for k in keys if k not in self.known))
        if new:
            distinct = pd.DataFrame(new, columns=list(columns))
            found_lon, found_lat = np.full(len(new), np.nan), np.full(len(new), np.nan)
            matches = match_site_addresses(distinct, self.buildings, site=self.matcher)
            if matches is not None:
                at = distinct.index.get_indexer(matches.index)
                m_lon = pd.to_numeric(matches["match_lon"], errors="coerce").to_numpy(
                    float, copy=True
                )
                m_lat = pd.to_numeric(matches["match_lat"], errors="coerce").to_numpy(
                    float, copy=True
                )
                # A building code matched through the gazetteer gives the building, not a
                # point: the row is where its building is.
                ids = matches["building_id"].astype("string")
                by_building = ~np.isfinite(m_lon) & ids.notna().to_numpy()
                if by_building.any():
                    inside = self.building_points().reindex(ids[by_building].astype(str))
                    m_lon[by_building] = inside["lon"].to_numpy(float)
                    m_lat[by_building] = inside["lat"].to_numpy(float)
                found_lon[at], found_lat[at] = m_lon, m_lat
            self.known.update(zip(new, zip(found_lon, found_lat, strict=True), strict=True))
        where = np.flatnonzero(todo)
        points = np.array([self.known[k] for k in keys], dtype=float).reshape(-1, 2)
        lon[where], lat[where] = points[:, 0], points[:, 1]
        return lon, lat


def _frame(raw: RawFile, columns: list[str]) -> pd.DataFrame:
    """The ``columns`` of the part as strings (the others are written as they are,
    never converted)."""
    return pd.DataFrame({c: raw.table.column(c).to_pandas() for c in dict.fromkeys(columns)})


def _check_columns(ps: PortfolioSource, path: Path, raw: RawFile, first: list[str] | None) -> None:
    if first is not None and raw.columns != first:
        raise InputError(
            path,
            "colonnes différentes de celles du premier fichier de la source "
            f"« {ps.source.id} » : tous les fichiers d'une source partagée doivent "
            "avoir les mêmes colonnes.",
        )
    if ps.site_column is not None and ps.site_column not in raw.columns:
        raise InputError(
            path,
            f"colonne de code de site introuvable ; colonnes : {', '.join(raw.columns)}.",
            column=ps.site_column,
        )


def place_part(
    frame: pd.DataFrame,
    roles: dict[str, str],
    ps: PortfolioSource,
    perimeters: gpd.GeoDataFrame,
    addresses: AddressPoints,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Place each row of a part of an export (:func:`assign_rows`); returns the
    placement and each row's own lon, lat (NaN when it has none)."""
    lon, lat = row_coordinates(frame, roles, ps)
    codes = frame[ps.site_column] if ps.site_column is not None else None
    filled = (
        codes.fillna("").astype(str).str.strip().ne("").to_numpy()
        if codes is not None
        else np.zeros(len(frame), bool)
    )
    m_lon, m_lat = addresses.points(frame, roles, ~filled & ~np.isfinite(lon))
    placed = assign_rows(
        perimeters,
        lon=lon,
        lat=lat,
        codes=codes,
        site_codes=ps.site_codes,
        matched_lon=m_lon,
        matched_lat=m_lat,
    )
    return placed, lon, lat


def _outside_frame(
    ps: PortfolioSource,
    path: Path,
    lines: np.ndarray,
    ids: np.ndarray,
    reasons: list[str],
    lon: np.ndarray,
    lat: np.ndarray,
) -> pd.DataFrame:
    """Rows outside every site as ``outside_every_site.csv`` lists them."""
    return pd.DataFrame(
        {
            "source": ps.source.id,
            "source_file": str(path),
            "source_line": lines,
            "report_id": ids,
            "reason": reasons,
            "lon": lon,
            "lat": lat,
        }
    )[OUTSIDE_COLUMNS]


def _file_notes(path: Path, notes: RawFile) -> list[dict[str, Any]]:
    """The notes of an export read all the same (lines in another encoding, a cp850 or
    Mac Roman file…: :func:`pipelines.ingest.reading_notes`), as the ingestion's
    ``file_issues`` gives them, each logged: the sites' files, written in UTF-8, no
    longer show it."""
    out = []
    for reason, detail, lines in reading_notes(notes):
        log.warning("%s : %s", path, detail)
        out.append(
            {"file": str(path), "reason": reason, "detail": detail}
            | ({} if lines is None else {"lines": [int(n) for n in lines[:1000]]})
        )
    return out


def split_source(
    ps: PortfolioSource,
    perimeters: gpd.GeoDataFrame,
    addresses: AddressPoints,
    *,
    sinks: Sinks,
    outside: Path,
    site_paths: dict[str, Path],
    chunk_bytes: int = CHUNK_BYTES,
) -> dict[str, Any]:
    """Read every file of one shared export once, part by part
    (:func:`pipelines.ingest.read_file_chunks`), place each row, and append each site's
    rows to its file (``site_paths``) and the rows outside every site
    (:data:`OUTSIDE_COLUMNS`) to ``outside``, through ``sinks``.

    The rows keep the export's order in each file; a file's malformed rows follow its
    other rows outside every site, as when the file was read whole.

    Returns the source's counts.
    """
    sites = list(perimeters["site_id"])
    counts: dict[str, Any] = {
        "rows_read": 0,
        "by_site": dict.fromkeys(sites, 0),
        "outside_every_site": 0,
        "outside_by_reason": dict.fromkeys(OUTSIDE_REASONS, 0),
        "placed_by": {"code": 0, "coordonnees": 0, "adresse": 0},
        "file_notes": [],
        # per site, the notes of the files that gave it rows (pipelines.portfolio.notes)
        "site_notes": {sid: [] for sid in sites},
    }
    columns: list[str] | None = None
    s = ps.source
    for path in s.files():
        malformed: list[np.ndarray] = []
        roles: dict[str, str] | None = None
        notes: RawFile | None = None
        per_site = SiteNotes(sites)
        for raw in read_file_chunks(
            path, s.format, encoding=s.encoding, separator=s.separator, chunk_bytes=chunk_bytes
        ):
            notes = notes_of_parts(notes, raw)
            _check_columns(ps, path, raw, columns)
            if columns is None:
                columns = raw.columns
                for sid in sites:  # a site without rows still gets the export's header
                    sinks.add_rows(site_paths[sid], raw.table.select(columns).slice(0, 0))
            if roles is None:
                roles = resolve_columns(raw, s)
            used = [*roles.values(), *([ps.site_column] if ps.site_column else [])]
            frame = _frame(raw, used)
            placed, lon, lat = place_part(frame, roles, ps, perimeters, addresses)
            site = placed["site"].to_numpy()
            per_site.add_part(raw, site)
            # A header line pasted again inside the export: said so, not « non localisé ».
            header = repeated_header_rows(frame, roles) & (site < 0)
            if header.any():
                placed.loc[header, "reason"] = "en_tete_repete"
            table = raw.table.select(columns)
            # Each site's rows in the export's order: the rows sorted by site (stable).
            order = np.argsort(site, kind="stable")
            bounds = np.searchsorted(site[order], np.arange(len(sites) + 1))
            # One take of the placed rows, then a slice per site (no copy): pyarrow's take
            # on the part's many chunks goes through all of them, so a take per site cost
            # sites x the part (benchmark, 200 sites, 5 million rows: half the split).
            placed_rows = table.take(pa.array(order[bounds[0] :]))
            for i, sid in enumerate(sites):
                n_rows = int(bounds[i + 1] - bounds[i])
                if n_rows:
                    sinks.add_rows(
                        site_paths[sid], placed_rows.slice(bounds[i] - bounds[0], n_rows)
                    )
                counts["by_site"][sid] += n_rows
            for how, k in placed.loc[site >= 0, "how"].value_counts().items():
                counts["placed_by"][str(how)] += int(k)
            away = np.flatnonzero(site < 0)
            ids = (
                raw.table.column(roles["id"]).to_numpy(zero_copy_only=False)[away]
                if "id" in roles
                else np.full(len(away), "", dtype=object)
            )
            reasons = placed["reason"].to_numpy()[away]
            why = [OUTSIDE_REASONS[r] for r in reasons]
            sinks.add_frame(
                outside, _outside_frame(ps, path, raw.lines[away], ids, why, lon[away], lat[away])
            )
            for r, k in placed.loc[site < 0, "reason"].value_counts().items():
                counts["outside_by_reason"][str(r)] += int(k)
            malformed.append(np.asarray(raw.malformed.lines, np.int64))
            counts["rows_read"] += raw.table.num_rows + len(raw.malformed)
        lines = np.concatenate(malformed) if malformed else np.zeros(0, np.int64)
        if len(lines):
            nan = np.full(len(lines), np.nan)
            no_id = np.full(len(lines), "", dtype=object)
            why = [OUTSIDE_REASONS["ligne_mal_formee"]] * len(lines)
            sinks.add_frame(outside, _outside_frame(ps, path, lines, no_id, why, nan, nan))
            counts["outside_by_reason"]["ligne_mal_formee"] += len(lines)
        if notes is not None:
            counts["file_notes"].extend(_file_notes(path, notes))
            for sid, noted in per_site.notes(path, notes, site_paths).items():
                counts["site_notes"][sid].extend(noted)
    counts["outside_every_site"] = sum(counts["outside_by_reason"].values())
    if counts["rows_read"] != sum(counts["by_site"].values()) + counts["outside_every_site"]:
        raise AssertionError(f"split of {ps.source.id}: the rows do not add up: {counts}")
    return counts


def _exit_on_signal(signum: int, frame: object) -> None:
    """A signal made an exit (``finally`` blocks run), code 128 + its number."""
    raise SystemExit(128 + signum)


def _cut_in_second_process(
    out: Connection,
    src: str,
    sites: list[Perimeter],
    dsts: list[Path],
    margin_m: float,
    level: int,
) -> None:
    """:func:`cut_extract` in the second process of :class:`_Cut`. Sends through ``out``
    the ways kept per site, or the error that stopped it with its traceback (text),
    and the records it logged at ``level`` or above, which the first process logs in
    turn (a spawned process has no logging set up; the logging cookbook's « Logging to
    a single file from multiple processes » passes records so,
    :class:`logging.handlers.QueueHandler` making each picklable).

    Ctrl-C is left to the first process (it reaches both from a terminal: a second
    « KeyboardInterrupt » traceback otherwise), which ends this one with SIGTERM, made
    an exit here so that the cut's files are removed as when it is interrupted (no
    ``.part-`` file left).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    root = logging.getLogger()
    root.setLevel(level)
    root.addHandler(logging.handlers.QueueHandler(records))
    ways, error, trace = None, None, None
    try:
        ways = cut_extract(src, sites, dsts, margin_m=margin_m)
    except Exception as err:  # raised again in the first process, after the records
        error, trace = err, traceback.format_exc()
    logged = []
    while not records.empty():
        logged.append(records.get())
    with out:
        out.send((ways, error, trace, logged))


class _Cut:
    """The extract cut per site (:func:`cut_extract`), as a ``with`` block around the
    rows' split: an extract of :data:`CUT_ASIDE_MIN_BYTES` or more, with two CPUs or
    more, is cut in a second process (:attr:`aside`) while this one splits the rows
    (the two are independent: the rows need the perimeters, not the sites' extracts);
    any other is cut at once, here, as before. On one CPU the two processes would only
    take turns: no faster, 1.2 s of CPU and 450 MB more.

    This exists only for speed, on a machine with a CPU to spare. The benchmark's 200
    sites (a 16 MB PBF) cut the extract in 24 s of CPU, then split the rows, one after
    the other (5 million rows: 57.1 s of wall time, 30 s of it the rows). Side by side,
    with 1 million rows, the rows took 8.3 to 10.1 s of this process's CPU while the
    cut took 24 to 28 s of the other's (its start included): the split lasts the longer
    of the two, not their sum (32 to 34 s of CPU before). On 2 CPUs that others kept
    busy (load 3 and more) it gained nothing (36 to 40 s of wall time, 33 to 35 s before)
    and costs 1.5 s of CPU more; the second process peaks at 450 to 510 MB.

    :meth:`result` gives the ways kept per site, or raises the cut's error (the same
    :class:`~pipelines.errors.InputError`, its message and exit code, as when cut
    here), after logging what the cut logged. A block that fails otherwise waits for the
    cut and raises the cut's error if it failed (it came first when the cut ran before
    the rows), its own else; interrupted (Ctrl-C), it ends the second process at once.
    A plain :class:`multiprocessing.Process`, not a pool: a pool's worker, orphaned by
    an interrupted ``vigie`` (which ends with :func:`os._exit`), waited for its next
    task for ever.
    """

    def __init__(self, portfolio: PortfolioConfig) -> None:
        src = portfolio.osm
        args = (src, list(portfolio.sites), [portfolio.site_osm(s) for s in portfolio.site_ids])
        path = Path(src)
        self.aside = (
            default_workers() >= 2 and path.is_file() and path.stat().st_size >= CUT_ASIDE_MIN_BYTES
        )
        self._outcome: tuple[Any, ...] | None = None
        self._process: Any = None  # a spawn context's Process
        if not self.aside:
            self._outcome = (cut_extract(*args, margin_m=portfolio.osm_margin_m), None, None, [])
            return
        # spawn, not fork: this process may already run threads (Arrow's, GDAL's), which
        # a fork copies in whatever state they are.
        context = multiprocessing.get_context("spawn")
        self._results, sent = context.Pipe(duplex=False)
        level = logging.getLogger(_CUT_LOGGER).getEffectiveLevel()
        self._process = context.Process(
            target=_cut_in_second_process,
            args=(sent, *args, portfolio.osm_margin_m, level),
            name="vigie-decoupe-extrait",
        )
        self._process.start()
        sent.close()  # the second process's end: its exit is then an end of file here

    def result(self) -> dict[str, int]:
        """The ways kept per site (waits for the cut); raises its error."""
        if self._outcome is None:
            try:
                self._outcome = self._results.recv()
            except EOFError:  # ended without a word: killed (out of memory?)
                self._process.join()
                raise RuntimeError(
                    f"the extract's cut (process {self._process.pid}) ended without its "
                    f"result, exit code {self._process.exitcode}"
                ) from None
            self._process.join()
            for record in self._outcome[3]:
                logging.getLogger(record.name).handle(record)
        ways, error, trace, _ = self._outcome
        if error is not None:
            if not isinstance(error, VigieError) and trace is not None:
                error.add_note(f"In the extract's cut, in its own process:\n{trace}")
                self._outcome = (ways, error, None, [])  # noted once
            raise error
        return ways  # type: ignore[no-any-return]

    def __enter__(self) -> _Cut:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._process is None:
            return
        interrupted = kind is not None and not issubclass(kind, Exception)  # Ctrl-C
        try:
            if kind is not None and not interrupted and self._outcome is None:
                self.result()  # the cut's error, if any, before the block's
        finally:
            if self._process.is_alive():
                self._process.terminate()
            self._process.join()
            self._results.close()


def _say_sites_without_ways(portfolio: PortfolioConfig, ways: dict[str, int]) -> None:
    """Warn of each site whose box holds no way of the extract."""
    for site in portfolio.sites:
        if ways[site.id] == 0:  # kept and marked (within a kilometre of the extract)
            log.warning(
                "%s, entité n° %d (« %s ») : aucun chemin de l'extrait « %s » dans son "
                "emprise (longitude %.4f à %.4f, latitude %.4f à %.4f) ; le site restera "
                "marqué sans bâtiment. Un périmètre juste au bord de l'extrait, ou sur un "
                "terrain sans bâtiment ni voie ?",
                portfolio.perimeters,
                site.feature,
                site.id,
                portfolio.osm,
                *site.bbox[::2],
                *site.bbox[1::2],
            )


def run(config: Config, *, chunk_bytes: int = CHUNK_BYTES) -> dict[str, Any]:
    """Split the portfolio of ``config``: write every file of
    :meth:`pipelines.config.PortfolioConfig.outputs`; returns the summary.

    The shared exports are read ``chunk_bytes`` at a time (a delimited file; see
    :func:`pipelines.ingest.read_file_chunks`).
    """
    portfolio = config.portfolio
    if portfolio is None:
        raise ValueError("the configuration has no [portfolio]")
    perimeters = read_perimeters(portfolio)
    check_within_extract(portfolio, read_osm_bounds(portfolio.osm))
    overlaps = find_overlaps(perimeters)
    for _, o in overlaps.iterrows():
        log.warning(
            "%s : les périmètres « %s » et « %s » se chevauchent (%.0f m²) ; leurs "
            "signalements communs vont à « %s » (le plus petit périmètre qui les contient).",
            portfolio.perimeters,
            o["site_a"],
            o["site_b"],
            o["overlap_m2"],
            o["rows_to"],
        )
    sources: dict[str, Any] = {}
    with _Cut(portfolio) as cut:
        if not cut.aside:  # cut already, before the rows
            _say_sites_without_ways(portfolio, cut.result())
        # The addresses are matched over the whole extract, with the parameters, BAN and
        # gazetteer of the portfolio's sites (the first one's: they share them).
        addresses = AddressPoints(
            portfolio.osm, replace(config.site(portfolio.site_ids[0]), osm=portfolio.osm)
        )
        with Sinks() as sinks:
            sinks.add_frame(portfolio.outside, pd.DataFrame(columns=OUTSIDE_COLUMNS))
            for ps in portfolio.sources:
                sources[ps.source.id] = split_source(
                    ps,
                    perimeters,
                    addresses,
                    sinks=sinks,
                    outside=portfolio.outside,
                    site_paths={
                        sid: portfolio.site_source(ps.source.id, sid) for sid in portfolio.site_ids
                    },
                    chunk_bytes=chunk_bytes,
                )
            # Within the sinks' block: a cut that failed leaves no site file, as when it
            # ran before the rows.
            ways = cut.result()
            if cut.aside:
                _say_sites_without_ways(portfolio, ways)
    for sid, c in sources.items():
        if c["rows_read"] and not any(c["by_site"].values()):  # listed, but never in a site
            reasons = ", ".join(
                f"{OUTSIDE_REASONS[r]} : {k}" for r, k in c["outside_by_reason"].items() if k
            )
            log.warning(
                "source « %s » : aucune de ses %d lignes ne va à un site (%s), toutes listées "
                "dans %s. Un export d'un autre territoire que les périmètres, des "
                "coordonnées inversées, une colonne de code de site mal choisie ?",
                sid,
                c["rows_read"],
                reasons,
                portfolio.outside,
            )
    by_site = {
        sid: {src: c["by_site"][sid] for src, c in sources.items()} for sid in portfolio.site_ids
    }
    summary = {
        "perimeters": portfolio.perimeters,
        "n_sites": len(portfolio.sites),
        "repaired_features": [
            {"feature": int(r["feature"]), "site": r["site_id"]}
            for _, r in perimeters[perimeters["repaired"]].iterrows()
        ],
        "overlaps": overlaps.to_dict("records"),
        "overlap_rule": "le plus petit périmètre, puis le premier de la couche",
        "osm_ways_by_site": ways,
        "sources": sources,
        "by_site": by_site,
        "rows_read": sum(c["rows_read"] for c in sources.values()),
        "outside_every_site": sum(c["outside_every_site"] for c in sources.values()),
    }
    write_geoparquet(perimeters, portfolio.perimeter_table)
    write_csv(overlaps, portfolio.overlaps)
    write_json(summary, portfolio.summary)
    return summary
