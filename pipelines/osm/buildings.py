"""Building footprints from OpenStreetMap, with dwellings where they are known.

Offline from an ``.osm``, ``.osm.bz2`` or ``.osm.pbf`` extract through the one OSM reader
(:mod:`pipelines.osm.reader`, pyosmium); online from Overpass when a site asks for it
(see :mod:`pipelines.osm.sources`).
Each building keeps a stable ``building_id`` in OSM's own notation (``way/123``,
``relation/456``) and the tags the later stages use.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from pyproj import Transformer

from pipelines.crs import metric_crs_of
from pipelines.errors import ConfigError, InputError
from pipelines.fr import fr_number
from pipelines.io import write_csv, write_geoparquet, write_json
from pipelines.osm.reader import read_header_box, read_osm_elements
from pipelines.osm.sources import (
    BUILDING_COLUMNS,
    KEPT_TAGS,
    OVERPASS_PREFIX,
    parse_overpass_spec,
    read_buildings,
    read_osm_file,
    read_osm_file_report,
)
from pipelines.reports import NA_SPELLINGS

log = logging.getLogger(__name__)

#: An RPLS programme point is joined to the nearest building within this distance (m).
RPLS_MAX_DISTANCE_M = 15.0
#: The RPLS column of each programme's number of dwellings.
RPLS_DWELLINGS = "appartement"

__all__ = [
    "BUILDING_COLUMNS",
    "KEPT_TAGS",
    "build_buildings",
    "dwelling_counts",
    "dwellings_per_building",
    "read_osm_bounds",
    "read_osm_buildings",
    "read_rpls",
    "unreadable_flats",
]


def read_osm_bounds(path: str | Path) -> tuple[float, float, float, float]:
    """Read the extent of a site's OSM source as (west, south, east, north), degrees.

    ``path`` is an ``.osm``/``.osm.bz2`` file (its ``<bounds>`` element), an ``.osm.pbf``
    file (its header box), or an ``overpass:bbox=…``/``overpass:polygon=…`` setting (the
    requested box). Both file kinds go through the one OSM reader
    (:mod:`pipelines.osm.reader`), which reads the header only; files without a box fall
    back to the extent of all their nodes (one full pass). An ``overpass:place=…``
    setting has no extent offline: set ``study_area_bbox`` instead.
    """
    if str(path).startswith(OVERPASS_PREFIX):
        request = parse_overpass_spec(str(path))
        if "bbox" in request:
            return request["bbox"]
        if "polygon" in request:
            west, south, east, north = request["polygon"].bounds
            return west, south, east, north
        raise ConfigError(
            str(path),
            "l'emprise d'un lieu Overpass n'est pas connue hors ligne : "
            "renseignez study_area_bbox pour ce site.",
            key="osm",
        )
    box = read_header_box(path)
    if box is not None:
        return box
    return read_osm_elements(path).bounds()


def read_osm_buildings(path: str | Path) -> gpd.GeoDataFrame:
    """Read building footprints from an OSM file, offline.

    Parameters
    ----------
    path
        ``.osm``, ``.osm.bz2`` or ``.osm.pbf`` (:mod:`pipelines.osm.reader`).

    Returns
    -------
    GeoDataFrame
        One row per building (EPSG:4326), columns :data:`BUILDING_COLUMNS`, sorted by
        ``building_id``. Only polygons and multipolygons are kept; a relation's outer way
        is a building of its own only when it carries its own ``building`` tag (it then
        is a distinct OSM object). Incomplete ways and relations of a clipped extract are
        dropped, counted and logged (:func:`build_buildings_report`).
    """
    return read_osm_file(path)


#: A count written as text, whole: digits (« 1200 »), digits grouped by threes with a
#: space, a no-break space (U+00A0), a narrow one (U+202F, what French typography and
#: LibreOffice write) or a thin one (« 1 200 »), or a whole number a program wrote as a
#: decimal (« 12.0 », « 12,0 » ; « 1.000 » could be a thousand: unreadable).
_COUNT_TEXT = r"^(?:[0-9]+|[0-9]{1,3}(?:[ \u00a0\u202f\u2009][0-9]{3})+|[0-9]+[.,]0{1,2})$"


def dwelling_counts(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Read a column of dwelling counts (RPLS ``appartement``, OSM ``building:flats``).

    A numeric column is taken as it is. Text is read whole (:data:`_COUNT_TEXT`): the
    first digits alone made « 1 200 » one dwelling (a rate 1,200 times too large), and
    « 12-14 », « 3;5 » or « 1.200 » a figure nobody wrote; those are unreadable, never
    guessed.

    Returns
    -------
    tuple of Series
        Aligned on ``values``: the counts (float, NaN where missing or unreadable), and
        whether each value is unreadable (filled, but not a count).
    """
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return values.astype(float), pd.Series(False, index=values.index)
    text = values.astype("string").str.strip()
    # « no value » as the reports' cells spell it (« NR », « ? », « #N/A »…): no count,
    # not an unreadable one.
    missing = text.isna() | text.isin(NA_SPELLINGS)
    whole = text.str.fullmatch(_COUNT_TEXT).fillna(False).astype(bool)
    digits = text.where(whole).str.replace(r"[.,]0{1,2}$", "", regex=True)
    digits = digits.str.replace(r"[ \u00a0\u202f\u2009]", "", regex=True)
    counts = pd.to_numeric(digits, errors="coerce").astype(float)
    return counts, (~missing & ~whole).astype(bool)


def _shown_values(values: pd.Series, names: pd.Series, limit: int = 10) -> str:
    """« name (« value ») » for the first ``limit`` rows, with « … » when there are more."""
    pairs = [f"{n} (« {v} »)" for n, v in zip(names[:limit], values[:limit], strict=True)]
    return ", ".join(pairs) + (" …" if len(values) > limit else "")


def dwellings_per_building(
    buildings: gpd.GeoDataFrame,
    rpls: gpd.GeoDataFrame | None = None,
    *,
    rpls_dwellings_column: str = RPLS_DWELLINGS,
    max_distance_m: float = RPLS_MAX_DISTANCE_M,
) -> pd.DataFrame:
    """Estimate the number of dwellings per building.

    RPLS programme points are joined to the building that contains them (or the nearest
    one within ``max_distance_m``) and their dwellings summed; OSM ``building:flats``
    fills the rest. Where neither is known the count stays missing: no rate will be
    computed for that building.

    Parameters
    ----------
    buildings
        Output of :func:`read_osm_buildings` (any CRS).
    rpls
        RPLS points with a dwellings column, any CRS.

    Returns
    -------
    DataFrame
        Aligned on ``buildings.index``: ``dwellings`` (float, NaN when unknown) and
        ``dwellings_source`` (``rpls``, ``osm_flats`` or missing).
    """
    out = pd.DataFrame(index=buildings.index)
    out["dwellings"] = np.nan
    out["dwellings_source"] = pd.Series(pd.NA, index=buildings.index, dtype="string")
    if rpls is not None and len(rpls) and rpls_dwellings_column in rpls:
        metric = metric_crs_of(buildings)
        b = buildings[["geometry"]].to_crs(metric)
        pts = rpls[[rpls_dwellings_column, "geometry"]].to_crs(metric)
        pts = pts[pts.geometry.notna() & ~pts.geometry.is_empty]
        # A text column (a CSV made GeoPackage without its types) summed as text: the
        # programmes « 12 » and « 30 » of one building gave 1230 dwellings.
        pts[rpls_dwellings_column] = dwelling_counts(pts[rpls_dwellings_column])[0]
        joined = gpd.sjoin_nearest(pts, b, how="inner", max_distance=max_distance_m)
        joined = joined[~joined.index.duplicated(keep="first")]
        sums = joined.groupby("index_right")[rpls_dwellings_column].sum(min_count=1)
        sums = pd.to_numeric(sums, errors="coerce")
        sums = sums[sums > 0]
        out.loc[sums.index, "dwellings"] = sums.astype(float)
        out.loc[sums.index, "dwellings_source"] = "rpls"
    if "flats" in buildings:
        flats = dwelling_counts(buildings["flats"])[0]
        fill = out["dwellings"].isna() & flats.notna() & (flats > 0)
        out.loc[fill, "dwellings"] = flats[fill].astype(float)
        out.loc[fill, "dwellings_source"] = "osm_flats"
    return out


def read_rpls(
    path: str | Path,
    *,
    layer: str = "rpls2022",
    near: gpd.GeoDataFrame | None = None,
    within_m: float = RPLS_MAX_DISTANCE_M,
) -> gpd.GeoDataFrame:
    """Read the RPLS social-housing points (GeoPackage) with pyogrio.

    Parameters
    ----------
    path, layer
        The GeoPackage and its layer.
    near
        If given (any CRS), only the features that come within ``within_m`` metres of
        the box around ``near`` are read (the box is widened in ``near``'s metric CRS,
        :func:`~pipelines.crs.metric_crs_of`, then taken to the layer's CRS): the sites
        of a portfolio share one RPLS file of the whole stock, and each needs only the
        programmes near its own buildings, not the whole file read and joined again per
        site. Every feature :func:`dwellings_per_building` could join within
        ``within_m`` is kept, in the file's order.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "fichier RPLS introuvable.")
    try:
        bbox = None if near is None else _layer_box_near(path, layer, near, within_m)
        # In the file's order (a box is answered in its spatial index's order).
        read = gpd.read_file(path, layer=layer, engine="pyogrio", bbox=bbox, fid_as_index=True)
    except Exception as err:  # pyogrio raises DataSourceError / DataLayerError
        raise InputError(path, f"lecture impossible de la couche « {layer} » ({err})") from err
    if read.crs is None and len(read):
        # Its points could not be taken to the buildings' CRS (a traceback before).
        raise InputError(
            path,
            f"la couche « {layer} » ne déclare pas son système de coordonnées : "
            "déclarez-le (Lambert-93, EPSG:2154, pour le RPLS ; dans QGIS : « Définir la "
            "projection de la couche », puis enregistrer sous un nouveau GeoPackage).",
        )
    if RPLS_DWELLINGS in read.columns:
        unreadable = dwelling_counts(read[RPLS_DWELLINGS])[1]
        if unreadable.any():
            bad = read.loc[unreadable, RPLS_DWELLINGS]
            shown = _shown_values(
                bad.astype(str), pd.Series([f"entité n° {fid}" for fid in bad.index])
            )
            raise InputError(
                path,
                f"couche « {layer} », colonne « {RPLS_DWELLINGS} » : {len(bad)} valeur(s) ne "
                f"sont pas un nombre de logements lisible : {shown}. Écrivez un nombre "
                "entier (« 1200 » ou « 1 200 ») ; laissez vide un nombre inconnu.",
            )
    return read.sort_index().reset_index(drop=True)


def _layer_box_near(
    path: Path, layer: str, near: gpd.GeoDataFrame, within_m: float
) -> tuple[float, float, float, float] | None:
    """The box around ``near`` widened by ``within_m`` metres, in the CRS of ``path``'s
    ``layer``; None (read everything) when the layer has no CRS or ``near`` no feature."""
    layer_crs = pyogrio.read_info(path, layer=layer)["crs"]
    if layer_crs is None or not len(near):
        return None
    metric = metric_crs_of(near)
    minx, miny, maxx, maxy = near.geometry.to_crs(metric).total_bounds
    # One metre more than asked: the box's edges are densified when reprojected, and
    # the metre covers what is left of their curvature.
    m = within_m + 1.0
    box: tuple[float, float, float, float] = Transformer.from_crs(
        metric, layer_crs, always_xy=True
    ).transform_bounds(minx - m, miny - m, maxx + m, maxy + m, densify_pts=21)
    return box


def build_buildings_report(
    osm_path: str | Path, rpls_path: str | Path | None = None, *, allow_empty: bool = False
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Footprints with dwellings, and the stage summary (``buildings_summary.json``).

    ``osm_path`` is a site's ``osm`` setting: an OSM file (read once, by
    :func:`pipelines.osm.sources.read_osm_file_report`), or an ``overpass:…`` request
    (see :func:`pipelines.osm.sources.read_buildings`). The summary gives the number of
    buildings, the extract's bounds (west, south, east, north; for Overpass, the requested
    box, ``None`` for a place name), which ingestion takes as the study area when none is
    configured, and ``osm_incomplete``: the incomplete ways and relations dropped, by kind.

    Raises
    ------
    ConfigError
        The extract holds no building (key ``osm``), unless ``allow_empty`` (a
        portfolio's site, whose perimeter may hold none: it is kept and marked).
    """
    summary: dict[str, Any] = {}
    if str(osm_path).startswith(OVERPASS_PREFIX):
        buildings = read_buildings(osm_path)
        request = parse_overpass_spec(str(osm_path))
        box = request.get("bbox") or (request["polygon"].bounds if "polygon" in request else None)
        summary["bounds"] = list(box) if box is not None else None
        summary["osm_incomplete"] = None
    else:
        buildings, incomplete, bounds = read_osm_file_report(osm_path)
        summary["bounds"] = list(bounds)
        summary["osm_incomplete"] = incomplete.summary()
    if len(buildings) == 0 and not allow_empty:
        # Every later stage works on buildings (hexagons over them, reports matched to
        # them): an extract without any is the wrong file or the wrong area.
        raise ConfigError(
            str(osm_path),
            "cet extrait OpenStreetMap ne contient aucun bâtiment (aucun contour "
            "« building ») : vérifiez qu'il couvre bien le site et qu'il n'a pas été filtré.",
            key="osm",
        )
    _refuse_antimeridian(buildings, osm_path)
    rpls = read_rpls(rpls_path, near=buildings) if rpls_path else None
    if rpls is not None and RPLS_DWELLINGS not in rpls.columns:
        # Without it no building had its RPLS dwellings, and no rate, without a word.
        shown = ", ".join(str(c) for c in rpls.columns if c != rpls.geometry.name)
        raise InputError(
            str(rpls_path),
            f"la couche RPLS n'a pas de colonne « {RPLS_DWELLINGS} » (nombre de logements "
            f"de chaque programme) ; colonnes : {shown or 'aucune'}. Renommez ainsi la "
            "colonne du nombre de logements, ou retirez « rpls » de la configuration.",
        )
    dw = dwellings_per_building(buildings, rpls)
    out = buildings.join(dw)
    bad = unreadable_flats(out)
    if len(bad):
        # An OSM tag the analyst cannot correct in the file: the building gets no
        # count from it (no rate without the RPLS); the summary, the log and
        # buildings_flats_unreadable.csv name it.
        log.warning(
            "%s : %d bâtiment(s) ont un « building:flats » qui n'est pas un nombre de "
            "logements lisible, ignoré (aucun taux sans autre source) : %s",
            osm_path,
            len(bad),
            _shown_values(bad["flats"], bad["building_id"]),
        )
        summary["flats_unreadable"] = [
            {"building_id": b, "value": v}
            for b, v in zip(bad["building_id"], bad["flats"], strict=True)
        ]
    metric = metric_crs_of(out)
    out["area_m2"] = out.geometry.to_crs(metric).area.round(1)
    summary = {"buildings": len(out), **summary}
    return out, summary


def _refuse_antimeridian(buildings: gpd.GeoDataFrame, osm_path: str | Path) -> None:
    """Refuse an extract crossing the 180th meridian: drawn in longitudes from -180 to
    180, its buildings spread over more than half the globe (a footprint astride it goes
    round the world), and so do the metric projection chosen for the site and the grids
    over its buildings (a run on such a copy of Bondy's extract filled the machine's
    24 GB and was killed).

    Raises
    ------
    InputError
        The buildings span more than 180° of longitude; the westernmost and the
        easternmost are named.
    """
    if not len(buildings):
        return
    bounds = buildings.geometry.bounds
    west, east = bounds["minx"].to_numpy(), bounds["maxx"].to_numpy()
    if east.max() - west.min() <= 180.0:
        return
    ids = buildings["building_id"]
    astride = ids[(east - west) > 180.0]
    where = (
        f"des bâtiments à cheval sur lui y feraient le tour du globe ({len(astride)}, "
        f"par exemple {astride.iloc[0]})"
        if len(astride)
        else f"ses bâtiments vont de la longitude {fr_number(west.min(), 4)}° "
        f"({ids.iloc[int(np.argmin(west))]}) à {fr_number(east.max(), 4)}° "
        f"({ids.iloc[int(np.argmax(east))]})"
    )
    raise InputError(
        str(osm_path),
        f"l'extrait traverse le 180e méridien : {where}. Vigie ne traite pas un tel "
        "extrait : découpez-le de part et d'autre du méridien, en deux sites.",
    )


#: Columns of ``buildings_flats_unreadable.csv``.
FLATS_UNREADABLE_COLUMNS = ("building_id", "flats", "reason_fr")


def unreadable_flats(buildings: pd.DataFrame) -> pd.DataFrame:
    """The buildings whose OSM ``building:flats`` is written but is no dwelling count
    (« 3;5 », « 12-14 »: :func:`dwelling_counts`), as ``buildings_flats_unreadable.csv``
    lists them: ``building_id``, ``flats`` (the value as OSM has it) and ``reason_fr``
    (what it means for the building, and how to correct it).

    ``buildings`` has ``building_id``, ``flats`` and, when the dwellings are joined
    (:func:`dwellings_per_building`), ``dwellings`` and ``dwellings_source``: a building
    counted by the RPLS is said to be so.
    """
    if "flats" not in buildings or not len(buildings):
        return pd.DataFrame(columns=list(FLATS_UNREADABLE_COLUMNS))
    bad = buildings.loc[dwelling_counts(buildings["flats"])[1]]
    rpls = (
        bad["dwellings_source"].eq("rpls").fillna(False).to_numpy(dtype=bool)
        if "dwellings_source" in bad
        else np.zeros(len(bad), bool)
    )
    values = bad["flats"].astype(str).tolist()
    reasons = [
        f"« building:flats » vaut « {v} », qui n'est pas un nombre de logements : "
        + (
            f"ignoré, le bâtiment a ses logements du RPLS ({fr_number(n)})."
            if by_rpls
            else "aucun logement compté pour ce bâtiment, donc aucun taux. Corrigez la "
            "valeur dans OpenStreetMap (un nombre entier : « 12 ») ou donnez ses "
            "logements par le RPLS."
        )
        for v, by_rpls, n in zip(
            values,
            rpls,
            bad["dwellings"] if "dwellings" in bad else [np.nan] * len(bad),
            strict=True,
        )
    ]
    return pd.DataFrame(
        {
            "building_id": bad["building_id"].astype(str).tolist(),
            "flats": values,
            "reason_fr": reasons,
        },
        columns=list(FLATS_UNREADABLE_COLUMNS),
    )


def build_buildings(osm_path: str | Path, rpls_path: str | Path | None = None) -> gpd.GeoDataFrame:
    """Footprints with dwellings: the frame written to ``buildings_osm.parquet``.

    ``osm_path`` is a site's ``osm`` setting: an OSM file, or an ``overpass:…`` request
    (see :func:`pipelines.osm.sources.read_buildings`).
    """
    return build_buildings_report(osm_path, rpls_path)[0]


def run(
    osm_path: str | Path,
    rpls_path: str | Path | None,
    dst: str | Path,
    *,
    allow_empty: bool = False,
) -> Path:
    """Write ``buildings_osm.parquet`` to ``dst``, and beside it ``buildings_summary.json``
    and ``buildings_flats_unreadable.csv`` (:func:`unreadable_flats`, header only when
    every ``building:flats`` is read)."""

    out, summary = build_buildings_report(osm_path, rpls_path, allow_empty=allow_empty)
    dst = Path(dst)
    write_json(summary, dst.parent / "buildings_summary.json")
    write_csv(unreadable_flats(out), dst.parent / "buildings_flats_unreadable.csv")
    return write_geoparquet(out, dst)
