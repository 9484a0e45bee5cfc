"""An offline address index (OSM + BAN) linked to building footprints, and a matcher.

The index holds one row per known house number: OSM ``addr:*`` tags on buildings, nodes
and entrances, OSM house numbers whose street comes from a ``type=associatedStreet``
relation, and Base Adresse Nationale (BAN) points. :func:`build_address_index` links
each point to the footprint that contains it, else the nearest within a tolerance.

:func:`match_addresses` then places parsed addresses (:func:`pipelines.geocode.addresses
.parse_addresses`) on buildings, in this order:

1. ``gazetteer``: an analyst-maintained table of landlord building codes ("NC-B") and
   residence names ("Rés. du Breuil bât C") → ``building_id``;
2. ``address_exact``: same street key, number and suffix;
3. ``address_interpolated``: same street, same side (parity), between two known
   numbers at most 200 m apart (or the same number with another suffix), scored lower
   the further the numbers are; never extrapolated from one known number;
4. ``address_fuzzy``: the street name matched approximately (rapidfuzz), then 2./3.;
5. ``ban``: the online BAN geocoder, only when a :class:`BanClient` is passed;
6. ``address_street``: the street is known but not the building (its number is not
   between two known ones, or the address has none): not placed on a building, counted;
7. ``unmatched``: kept, never dropped.

Street names in the index are matched on :func:`pipelines.geocode.addresses.street_key`; the
OSM ``old_name``/``alt_name`` of an associatedStreet relation and the BAN ``alias`` are
aliases ("Rue de Bellefond" is the old name of "Rue Marie-Éléonore de Bellefond"). The
postcode is not part of the key: one index covers one site, where street names are
unique.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from pipelines.crs import WGS84, metric_crs_of
from pipelines.errors import InputError
from pipelines.geocode.address_parse import parse_addresses
from pipelines.geocode.addresses import suffix_key
from pipelines.geocode.ban import BanClient, BanServiceError, read_ban
from pipelines.geocode.matching import (
    MATCH_COLUMNS,
    _gazetteer_lookup,
    _map_unique,
    _objects,
    _Result,
    link_points_to_buildings,
)
from pipelines.geocode.osm_addresses import ADDRESS_COLUMNS, SOURCE_RANK, read_osm_addresses
from pipelines.geocode.streets import _match_on_streets, _Streets
from pipelines.ingest import decode
from pipelines.io import write_geoparquet
from pipelines.osm import read_osm_buildings

# The readers, the BAN client and the matcher steps live in private modules
# (``_osm_addresses``, ``_ban``, ``_address_match``); they are re-exported here so that
# callers keep importing them from this module.
__all__ = [
    "ADDRESS_COLUMNS",
    "MATCH_COLUMNS",
    "SOURCE_RANK",
    "BanClient",
    "BanServiceError",
    "build_address_index",
    "link_points_to_buildings",
    "match_addresses",
    "match_site",
    "read_ban",
    "read_gazetteer",
    "read_osm_addresses",
    "run",
]

log = logging.getLogger(__name__)


def build_address_index(
    addresses: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    tolerance_m: float = 25.0,
) -> gpd.GeoDataFrame:
    """Link each address point to a building footprint.

    Parameters
    ----------
    addresses
        Output of :func:`read_osm_addresses` and/or :func:`read_ban` (concatenated),
        points in any CRS.
    buildings
        Footprints with ``building_id`` (:func:`pipelines.osm.buildings.read_osm_buildings`).
    tolerance_m
        Largest distance from a point to a footprint, in metres (computed in
        Lambert-93 via :mod:`pipelines.crs`).

    Returns
    -------
    GeoDataFrame
        ``addresses`` (same index, same CRS) plus ``building_id`` (NA when no footprint
        is within the tolerance: such addresses are kept, they still help interpolation)
        and ``link_distance_m`` (0 inside a footprint).
    """
    link = link_points_to_buildings(addresses.geometry, buildings, tolerance_m=tolerance_m)
    out = addresses.drop(columns=["building_id", "link_distance_m"], errors="ignore").copy()
    out["building_id"] = link["building_id"]
    out["link_distance_m"] = link["link_distance_m"]
    linked = out["building_id"].notna().sum()
    log.info("address index: %d of %d points linked to a building", linked, len(out))
    return out


# --------------------------------------------------------------------------------------
# Matching
# --------------------------------------------------------------------------------------


def match_addresses(
    parsed: pd.DataFrame,
    index: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    gazetteer: pd.DataFrame | None = None,
    fuzzy_threshold: float = 88.0,
    ban_client: BanClient | None = None,
    tolerance_m: float = 25.0,
    max_number_gap: int = 20,
    ban_min_score: float = 0.5,
) -> pd.DataFrame:
    """Place parsed addresses on building footprints.

    Parameters
    ----------
    parsed
        Output of :func:`pipelines.geocode.address_parse.parse_addresses`, optionally with a
        ``building_ref`` column (a landlord building code looked up in the gazetteer).
    index
        Output of :func:`build_address_index` (points in any CRS).
    buildings
        Footprints with ``building_id``, any CRS: interpolated and BAN points are linked
        to them (contained, else nearest within ``tolerance_m`` metres, in Lambert-93).
    gazetteer
        Analyst table with ``key`` (landlord code or residence name, matched after
        :func:`pipelines.geocode.addresses.normalise_key`) and ``building_id``.
    fuzzy_threshold
        Lowest rapidfuzz ``token_sort_ratio`` (0–100) to accept an unknown street name
        as a known one. ``token_sort_ratio`` compares the sorted words as a whole, so a
        typo or a swapped word costs a few points while a missing word costs its length;
        ``WRatio`` was rejected because its partial matching scores a short name inside
        a longer one near 100 ("rue denis" in "rue faubourg saint denis").
    ban_client
        A :class:`BanClient`; without one the online BAN geocoder is never called.
    tolerance_m
        Largest point-to-footprint distance, in metres.
    max_number_gap
        Largest difference of house numbers for interpolation (20 = ten houses).
    ban_min_score
        Lowest BAN ``result_score`` accepted (house-number results only).

    Returns
    -------
    DataFrame
        Aligned on ``parsed.index``, columns :data:`MATCH_COLUMNS`: ``building_id``
        (NA when none), ``geocode_method`` (``gazetteer``, ``address_exact``,
        ``address_interpolated``, ``address_fuzzy``, ``ban``,
        ``building_not_in_extract`` (a gazetteer code naming a building absent from
        ``buildings``, the address placing nothing), ``address_street`` or
        ``unmatched``),
        ``ban_status`` when ``ban_client`` is given (``answered``, ``failed``: the online
        lookup failed and the row kept its offline result; NA: not asked), with
        ``attrs["ban_online"]`` (service, addresses asked, from the cache, failed,
        error),
        ``geocode_score`` in [0, 1], ``geocode_distance_m`` (address point to footprint,
        metres; NaN for the gazetteer and when unlinked), ``match_lon``/``match_lat``
        (the address point, WGS84 degrees), ``match_address_id``, ``match_street``,
        ``match_label`` (what the match found, as its vetted source spells it: the
        address of an exact match « 12 Rue Lucie Aubrac » from OSM or the BAN, the BAN's
        label, the gazetteer's key « Bâtiment BL-7 »; null for an interpolated number, a
        street alone or no match: never the report's own text) and
        the parsed ``address_normalised``, ``building``, ``entrance``, ``staircase``.
        An address found in the index whose point is farther than ``tolerance_m`` from
        every footprint keeps its method and point with ``building_id`` NA.
    """
    n = len(parsed)
    result = _Result(n)
    stale = np.zeros(0, dtype=np.int64)  # rows whose code names no known building
    # (a) gazetteer
    if gazetteer is not None and len(gazetteer) and n:
        found = _gazetteer_lookup(parsed, gazetteer)
        gz = found["building_id"].pipe(_objects)
        # A code whose building is not among the footprints (clipped extract, building
        # dropped by the buildings stage, gazetteer out of date) places nothing: the
        # address is tried instead, and the row says why when that fails too.
        known = np.isin(gz.astype(object), buildings["building_id"].astype(str).to_numpy())
        stale = np.flatnonzero(pd.notna(gz) & ~known)
        gz = gz.copy()
        gz[~known] = None
        rows = np.flatnonzero(pd.notna(gz))
        result.set(
            pd.DataFrame(
                {
                    "_row": rows,
                    "score": 1.0,
                    "building_id": gz[rows],
                    "distance_m": np.nan,
                    "lon": np.nan,
                    "lat": np.nan,
                    "address_id": None,
                    "street": None,
                    "label": found["label"].pipe(_objects)[rows],
                }
            ),
            "gazetteer",
        )
    done = result.done
    if n == 0:
        return result.frame(parsed)

    metric = metric_crs_of(buildings if len(buildings) else index)
    streets = _Streets(index, metric)
    numbers = parsed["numbers"] if "numbers" in parsed else pd.Series([()] * n, index=parsed.index)
    queries = pd.DataFrame(
        {
            "_row": np.arange(n),
            "raw_key": parsed["street_key"]
            .astype(object)
            .where(parsed["street_key"].notna(), None)
            .to_numpy(),
            "numbers": [t if isinstance(t, tuple) else () for t in numbers],
            "suffix_key": [suffix_key(s) for s in parsed["suffix"].astype(object)]
            if "suffix" in parsed
            else "",
        }
    )
    queries = queries[~done]
    queries["street_key"] = _map_unique(queries["raw_key"], streets.resolve).to_numpy()

    # (b) exact and (c) interpolated; a known street whose number neither places is
    # kept aside: the BAN may still place it, else it is reported as address_street.
    res = _match_on_streets(
        queries, streets, buildings, metric, tolerance_m=tolerance_m, max_number_gap=max_number_gap
    )
    street_only = [res[res["kind"] == "street"]]
    result.set(res[res["kind"] != "street"], "address")

    # (d) fuzzy street name, then (b)/(c) on the street found
    fuzzy_q = queries[
        ~done[queries["_row"].to_numpy()]
        & queries["street_key"].isna()
        & queries["raw_key"].notna()
    ]
    if not fuzzy_q.empty and streets.choices:
        unknown = pd.unique(fuzzy_q["raw_key"])
        scores = process.cdist(
            list(unknown),
            streets.choices,
            scorer=fuzz.token_sort_ratio,
            score_cutoff=fuzzy_threshold,
            dtype=np.float32,
        )
        best = scores.argmax(axis=1)
        best_score = scores[np.arange(len(unknown)), best]
        resolved = {
            u: (streets.resolve(streets.choices[b]), float(s))
            for u, b, s in zip(unknown, best, best_score, strict=True)
            if s >= fuzzy_threshold
        }
        fq = fuzzy_q[fuzzy_q["raw_key"].isin(list(resolved))].copy()
        fq["street_key"] = [resolved[k][0] for k in fq["raw_key"]]
        fres = _match_on_streets(
            fq, streets, buildings, metric, tolerance_m=tolerance_m, max_number_gap=max_number_gap
        )
        street_only.append(fres[fres["kind"] == "street"])
        fres = fres[fres["kind"] != "street"]
        if not fres.empty:
            raw_of_row = dict(zip(fq["_row"], fq["raw_key"], strict=True))
            factor = np.array([resolved[raw_of_row[r]][1] / 100.0 for r in fres["_row"]])
            result.set(fres, "address_fuzzy", factor)
        log.info("fuzzy street names: %d of %d unknown names resolved", len(resolved), len(unknown))

    # (e) the online BAN geocoder, only when asked for; the rows it could not ask keep
    # what (a)-(d) gave them, with ``ban_status`` « failed ».
    ban_status = pd.array([pd.NA] * n, dtype="string")
    if ban_client is not None:
        has_text = (
            parsed["address_normalised"].notna().to_numpy()
            if "address_normalised" in parsed
            else np.zeros(n, dtype=bool)
        )
        rest = np.flatnonzero(~done & has_text)
        if len(rest):
            q = parsed["address_normalised"].iloc[rest].astype("string").reset_index(drop=True)
            found = ban_client.geocode(q)
            ban_status[rest] = found["ban_status"].to_numpy()
            ok = (
                found["ban_type"].eq("housenumber")
                & (found["ban_score"] >= ban_min_score)
                & found["ban_lon"].notna()
            ).to_numpy()
            if ok.any():
                f = found[ok]
                points = gpd.GeoSeries(gpd.points_from_xy(f["ban_lon"], f["ban_lat"]), crs=WGS84)
                link = link_points_to_buildings(points, buildings, tolerance_m=tolerance_m)
                result.set(
                    pd.DataFrame(
                        {
                            "_row": rest[ok],
                            "score": f["ban_score"].to_numpy(dtype=float),
                            "building_id": link["building_id"].to_numpy(),
                            "distance_m": link["link_distance_m"].to_numpy(),
                            "lon": f["ban_lon"].to_numpy(dtype=float),
                            "lat": f["ban_lat"].to_numpy(dtype=float),
                            "address_id": f["ban_id"].to_numpy(),
                            "street": f["ban_label"].to_numpy(),
                            "label": f["ban_label"].to_numpy(),
                        }
                    ),
                    "ban",
                )

    # (f) a landlord code names a building absent from the footprints, and the address
    # did not place the report either: not placed, and said so.
    if len(stale):
        missing = stale[~result.done[stale]]
        result.set(
            pd.DataFrame(
                {
                    "_row": missing,
                    "score": 0.0,
                    "building_id": None,
                    "distance_m": np.nan,
                    "lon": np.nan,
                    "lat": np.nan,
                    "address_id": None,
                    "street": None,
                }
            ),
            "building_not_in_extract",
        )

    # (g) the street is known, the building is not: not placed, and said so.
    street = pd.concat(street_only, ignore_index=True)
    result.set(street[~result.done[street["_row"].to_numpy(dtype="int64")]], "address_street")

    out = result.frame(parsed)
    if ban_client is not None:
        out["ban_status"] = pd.Series(ban_status, index=out.index)
        out.attrs["ban_online"] = {
            "service": ban_client.url,
            "asked": ban_client.sent,
            "from_cache": ban_client.cached,
            "failed": ban_client.failed,
            "error": ban_client.failure,
        }
    log.info("address matching: %s", out["geocode_method"].value_counts().to_dict())
    return out


# --------------------------------------------------------------------------------------
# I/O
# --------------------------------------------------------------------------------------


def run(
    osm_path: str | Path,
    dst: str | Path,
    *,
    ban_path: str | Path | None = None,
    tolerance_m: float = 25.0,
) -> gpd.GeoDataFrame:
    """Build the address index of a site (OSM, plus the BAN when given) and write it.

    Writes GeoParquet (EPSG:4326) with :func:`pipelines.io.write_geoparquet`.
    """

    parts = [read_osm_addresses(osm_path)]
    if ban_path is not None:
        parts.append(read_ban(ban_path))
    addresses = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=WGS84)
    index = build_address_index(addresses, read_osm_buildings(osm_path), tolerance_m=tolerance_m)
    write_geoparquet(index, dst)
    return index


def read_gazetteer(path: str | Path) -> pd.DataFrame:
    """Read the analyst gazetteer CSV (``key``, ``building_id``; ``;`` or ``,``)."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "gazetteer introuvable (colonnes attendues : key, building_id).")
    # Decoded as an export is (UTF-8, UTF-16, else cp1252: Excel's « CSV (séparateur :
    # point-virgule) »), which was refused; an empty file was a traceback (csv.Error).
    text, _ = decode(path.read_bytes())
    header = text.lstrip("\ufeff").split("\n", 1)[0]
    if not header.strip():
        raise InputError(path, "gazetteer vide (colonnes attendues : key, building_id).")
    separator = max((";", ",", "\t", "|"), key=header.count)
    try:
        table = pd.read_csv(io.StringIO(text.lstrip("\ufeff")), sep=separator, dtype=str)
    except pd.errors.ParserError as err:
        raise InputError(path, f"CSV illisible ({err})") from err
    for column in ("key", "building_id"):
        if column not in table.columns:
            raise InputError(path, "colonne manquante.", column=column)
    return table


def match_site(
    reports: pd.DataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    site: Any,
    ban_cache_dir: str | Path = "data/cache/ban",
) -> pd.DataFrame:
    """Match the ``address`` / ``building_ref`` columns of one site's reports.

    Reads the site's files (OSM extract, BAN extract and gazetteer when configured),
    builds the address index over ``buildings`` and calls :func:`match_addresses` with
    the site's ``[params.geocode]`` (``tolerance_m``, ``fuzzy_threshold``,
    ``ban_online``: the BAN online geocoder is used only when it is true, with answers
    cached in ``ban_cache_dir``).

    Parameters
    ----------
    reports
        Rows with ``address`` (free text) and/or ``building_ref`` (landlord code).
    buildings
        Footprints with ``building_id`` (any CRS).
    site
        A :class:`pipelines.config.SiteConfig`.

    Returns
    -------
    DataFrame
        Aligned on ``reports.index``, columns :data:`MATCH_COLUMNS`.
    """
    params = dict(getattr(site, "params", {}).get("geocode", {}))
    tolerance_m = float(params.get("tolerance_m", 25.0))
    osm_addresses = read_osm_addresses(site.osm)
    parts = [osm_addresses]
    if getattr(site, "ban", None):
        parts.append(read_ban(site.ban))
    addresses = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=WGS84)
    index = build_address_index(addresses, buildings, tolerance_m=tolerance_m)
    gazetteer = None
    if getattr(site, "gazetteer", None):
        if Path(site.gazetteer).exists():
            gazetteer = read_gazetteer(site.gazetteer)
        else:
            log.warning("%s: gazetteer absent, codes de bâtiment non utilisés", site.gazetteer)
    text = (
        reports["address"]
        if "address" in reports
        else pd.Series(pd.NA, index=reports.index, dtype="string")
    )
    parsed = parse_addresses(text.astype("string"))
    if "building_ref" in reports:
        parsed["building_ref"] = reports["building_ref"].astype("string")
    client = (
        BanClient(cache_dir=ban_cache_dir, timeout=float(params.get("ban_timeout_s", 60.0)))
        if params.get("ban_online")
        else None
    )
    matches = match_addresses(
        parsed,
        index,
        buildings,
        gazetteer=gazetteer,
        fuzzy_threshold=float(params.get("fuzzy_threshold", 88.0)),
        ban_client=client,
        tolerance_m=tolerance_m,
    )
    # What the OSM reader set aside while reading the addresses (incomplete relations…),
    # for the geocoding summary.
    matches.attrs["osm_incomplete"] = osm_addresses.attrs.get("osm_incomplete", {})
    return matches
