"""``vigie split``: a portfolio's shared exports and extract cut per site, once.

Reads the perimeter layer (repairing invalid geometries, listing overlaps), cuts the
extract per site (:mod:`pipelines.portfolio.cut`), then reads each shared export once
and writes each site's rows, cell for cell, to the site's own CSV
(:mod:`pipelines.portfolio.assign` says which site). Every row read lands in exactly
one site or in ``outside_every_site.csv``; the summary (``split_summary.json``) adds
them up per source and per site, and the run stops if they do not add up.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from pyproj import Transformer

from pipelines.config import Config, PortfolioSource, SiteConfig
from pipelines.crs import WGS84
from pipelines.errors import InputError
from pipelines.geocode import match_site_addresses
from pipelines.ingest import RawFile, parse_geo_points, parse_numbers, read_file, resolve_columns
from pipelines.io import atomic_path, write_csv, write_geoparquet, write_json
from pipelines.osm import read_osm_buildings
from pipelines.portfolio.assign import OUTSIDE_REASONS, assign_rows
from pipelines.portfolio.cut import cut_extract
from pipelines.portfolio.perimeters import find_overlaps, read_perimeters

log = logging.getLogger(__name__)

#: Columns of ``outside_every_site.csv``: where the row is and why it went nowhere,
#: never its text or personal cells.
OUTSIDE_COLUMNS = ["source", "source_file", "source_line", "report_id", "reason", "lon", "lat"]


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


def matched_points(
    frame: pd.DataFrame,
    roles: dict[str, str],
    todo: np.ndarray,
    buildings: gpd.GeoDataFrame,
    matcher: SiteConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """Where the address or building code of the rows ``todo`` was matched, as the
    geocoding stage matches them (OSM and BAN addresses, gazetteer): lon, lat, NaN for
    the rows not matched (or not in ``todo``)."""
    n = len(frame)
    lon, lat = np.full(n, np.nan), np.full(n, np.nan)
    columns = {r: roles[r] for r in ("address", "building_ref") if r in roles}
    if not columns or not todo.any():
        return lon, lat
    rows = frame.loc[todo, list(columns.values())].set_axis(list(columns), axis=1)
    matches = match_site_addresses(rows, buildings, site=matcher)
    if matches is None:
        return lon, lat
    at = frame.index.get_indexer(matches.index)
    lon[at] = pd.to_numeric(matches["match_lon"], errors="coerce").to_numpy(float)
    lat[at] = pd.to_numeric(matches["match_lat"], errors="coerce").to_numpy(float)
    return lon, lat


def _raw_frame(raw: RawFile) -> pd.DataFrame:
    return pd.DataFrame({c: raw.table.column(c).to_pandas() for c in raw.columns})


def _read(ps: PortfolioSource, path: Path) -> RawFile:
    s = ps.source
    return read_file(path, s.format, encoding=s.encoding, separator=s.separator)


def _write_rows(table: pa.Table, dst: Path) -> None:
    """The rows as UTF-8 CSV, cell for cell (no formula guard: the site's ingestion
    reads them as the export had them)."""
    with atomic_path(dst) as tmp:
        pacsv.write_csv(table, tmp)


def split_source(
    ps: PortfolioSource,
    perimeters: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    matcher: SiteConfig,
) -> tuple[dict[str, list[pa.Table]], pd.DataFrame, dict[str, Any]]:
    """Read every file of one shared export once and place each row.

    ``buildings`` and ``matcher`` (a site whose extract is the portfolio's, with its BAN,
    gazetteer and geocoding parameters) match the rows that have neither coordinates nor
    a site code by their address or building code.

    Returns each site's rows (one table per file), the rows outside every site
    (:data:`OUTSIDE_COLUMNS`) and the source's counts.
    """
    sites = list(perimeters["site_id"])
    parts: dict[str, list[pa.Table]] = {sid: [] for sid in sites}
    outside: list[pd.DataFrame] = []
    counts: dict[str, Any] = {
        "rows_read": 0,
        "by_site": dict.fromkeys(sites, 0),
        "outside_every_site": 0,
        "outside_by_reason": dict.fromkeys(OUTSIDE_REASONS, 0),
        "placed_by": {"code": 0, "coordonnees": 0, "adresse": 0},
    }
    columns: list[str] | None = None
    for path in ps.source.files():
        raw = _read(ps, path)
        if columns is None:
            columns = raw.columns
        elif raw.columns != columns:
            raise InputError(
                path,
                "colonnes différentes de celles du premier fichier de la source "
                f"« {ps.source.id} » : tous les fichiers d'une source partagée doivent "
                "avoir les mêmes colonnes.",
            )
        frame = _raw_frame(raw)
        roles = resolve_columns(raw, ps.source)
        lon, lat = row_coordinates(frame, roles, ps)
        codes = None
        if ps.site_column is not None:
            if ps.site_column not in frame:
                raise InputError(
                    path,
                    f"colonne de code de site introuvable ; colonnes : {', '.join(raw.columns)}.",
                    column=ps.site_column,
                )
            codes = frame[ps.site_column]
        filled = (
            codes.fillna("").astype(str).str.strip().ne("").to_numpy()
            if codes is not None
            else np.zeros(len(frame), bool)
        )
        m_lon, m_lat = matched_points(frame, roles, ~filled & ~np.isfinite(lon), buildings, matcher)
        placed = assign_rows(
            perimeters,
            lon=lon,
            lat=lat,
            codes=codes,
            site_codes=ps.site_codes,
            matched_lon=m_lon,
            matched_lat=m_lat,
        )
        site = placed["site"].to_numpy()
        for i, sid in enumerate(sites):
            rows = np.flatnonzero(site == i)
            parts[sid].append(raw.table.select(raw.columns).take(pa.array(rows)))
            counts["by_site"][sid] += len(rows)
        for how, k in placed.loc[site >= 0, "how"].value_counts().items():
            counts["placed_by"][str(how)] += int(k)
        away = np.flatnonzero(site < 0)
        ids = frame[roles["id"]] if "id" in roles else pd.Series("", index=frame.index)
        outside.append(
            pd.DataFrame(
                {
                    "source": ps.source.id,
                    "source_file": str(path),
                    "source_line": raw.lines[away],
                    "report_id": ids.to_numpy()[away],
                    "reason": [OUTSIDE_REASONS[r] for r in placed["reason"].to_numpy()[away]],
                    "lon": lon[away],
                    "lat": lat[away],
                }
            )
        )
        for r, k in placed.loc[site < 0, "reason"].value_counts().items():
            counts["outside_by_reason"][str(r)] += int(k)
        malformed = raw.malformed
        if len(malformed):
            outside.append(
                pd.DataFrame(
                    {
                        "source": ps.source.id,
                        "source_file": str(path),
                        "source_line": np.asarray(malformed.lines),
                        "report_id": "",
                        "reason": OUTSIDE_REASONS["ligne_mal_formee"],
                        "lon": np.nan,
                        "lat": np.nan,
                    }
                )
            )
            counts["outside_by_reason"]["ligne_mal_formee"] += len(malformed)
        counts["rows_read"] += raw.table.num_rows + len(malformed)
    counts["outside_every_site"] = sum(counts["outside_by_reason"].values())
    if counts["rows_read"] != sum(counts["by_site"].values()) + counts["outside_every_site"]:
        raise AssertionError(f"split of {ps.source.id}: the rows do not add up: {counts}")
    frame_out = (
        pd.concat(outside, ignore_index=True) if outside else pd.DataFrame(columns=OUTSIDE_COLUMNS)
    )
    if columns is not None:  # a site without rows still gets the export's header
        empty = pa.table({c: pa.array([], pa.large_string()) for c in columns})
        for sid in sites:
            if not parts[sid]:
                parts[sid].append(empty)
    return parts, frame_out[OUTSIDE_COLUMNS], counts


def run(config: Config) -> dict[str, Any]:
    """Split the portfolio of ``config``: write every file of
    :meth:`pipelines.config.PortfolioConfig.outputs`; returns the summary."""
    portfolio = config.portfolio
    if portfolio is None:
        raise ValueError("the configuration has no [portfolio]")
    perimeters = read_perimeters(portfolio)
    overlaps = find_overlaps(perimeters)
    for _, o in overlaps.iterrows():
        log.warning(
            "%s : les périmètres « %s » et « %s » se chevauchent (%.0f m²) ; leurs "
            "signalements communs vont à « %s » (le plus petit).",
            portfolio.perimeters,
            o["site_a"],
            o["site_b"],
            o["overlap_m2"],
            o["rows_to"],
        )
    ways = cut_extract(
        portfolio.osm,
        portfolio.sites,
        [portfolio.site_osm(s) for s in portfolio.site_ids],
        margin_m=portfolio.osm_margin_m,
    )
    buildings = read_osm_buildings(portfolio.osm)
    # The addresses are matched over the whole extract, with the parameters, BAN and
    # gazetteer of the portfolio's sites (the first one's: they share them).
    matcher = replace(config.site(portfolio.site_ids[0]), osm=portfolio.osm)
    sources: dict[str, Any] = {}
    outside: list[pd.DataFrame] = []
    for ps in portfolio.sources:
        parts, away, counts = split_source(ps, perimeters, buildings, matcher)
        for sid, tables in parts.items():
            _write_rows(pa.concat_tables(tables), portfolio.site_source(ps.source.id, sid))
        outside.append(away)
        sources[ps.source.id] = counts
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
    write_csv(pd.concat(outside, ignore_index=True), portfolio.outside)
    write_json(summary, portfolio.summary)
    return summary
