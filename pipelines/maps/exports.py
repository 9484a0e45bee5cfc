"""The open-data pack's tables (``make public``): the building profile and the monthly
table as CSV, and a GeoPackage (buildings, zones), written from the published tables
only, as every renderer does (issue 16).

A hidden count is empty in the CSV and its ``…_flag`` column says « s »; the ``level``
column says at which level (building, zone, site; month, quarter, year) a count is given.

The CSV files are read by people: their headers are the French field names of the site's
GeoPackage (:data:`pipelines.maps.gpkg_fields.ALIASES`, one mapping for both, so a
column has one French name wherever it is read: ``n_reports`` → « Signalements »,
``n_ascenseur_flag`` → « Signalements : Ascenseur en panne : masqué (s) »); whole numbers
are written as integers (``6``, not ``6,0``), the Gi* class beside its French label, the
category beside its code, the reason a cell is hidden in French. The GeoPackage keeps the
published (English) column names, which scripts use.

Both are opened in spreadsheets (Excel, LibreOffice) and QGIS, so the CSV files go
through :func:`pipelines.io.write_csv` and the GeoPackage's attributes through the same
:func:`pipelines.io.neutralise_formulas`: a text cell starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return (an OSM name, a gazetteer key) gets a leading
apostrophe; counts stay numbers.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import geopandas as gpd
import pandas as pd

from pipelines.io import neutralise_formulas, write_csv
from pipelines.maps.gpkg_fields import column_alias
from pipelines.maps.html import gi_label
from pipelines.published import FLAG_SUFFIX, Published, hidden
from pipelines.taxonomy import label_of

log = logging.getLogger(__name__)

#: Building columns of the open-data tables (besides the counts and their flags).
BUILDING_COLUMNS = (
    "building_id", "building_label", "zone_id", "dwellings", "level", "gi_bin", "gi_bin_flag",
)  # fmt: skip

#: Why a cell of the monthly table is hidden (its ``reason``, written by
#: :mod:`pipelines.stats.disclosure`), in the words of the open-data CSV.
REASONS_FR = {
    "": "",
    "primary": "trop peu de ménages",
    "dominance": "signalements en série d'un même ménage",
    "secondary": "masquage secondaire (pour ne pas déduire une autre case)",
    "unpublished": "non publiée à ce niveau",
}


def building_table(published: Published) -> pd.DataFrame:
    """The building profile for the open-data pack: identity, counts with their flags,
    hotspot bin; buildings without any report left out."""
    p = published.profile
    counts = [c for c in p.columns if c.startswith("n_") and c != "n_neighbours"]
    keep = [c for c in BUILDING_COLUMNS if c in p] + counts
    out = pd.DataFrame(p[keep])
    reported = pd.to_numeric(out["n_reports"], errors="coerce").fillna(0) > 0
    if "n_reports_flag" in out:
        reported |= out["n_reports_flag"] == "s"
    return out[reported].reset_index(drop=True)


def building_csv(buildings: pd.DataFrame) -> pd.DataFrame:
    """The building table of :func:`building_table` as its CSV shows it: whole numbers as
    integers, the Gi* class's French label beside it (« Point chaud, confiance 99 % »;
    empty where the class is hidden or missing), French headers (:func:`french_headers`)."""
    out = _whole_numbers_as_integers(buildings)
    if "gi_bin" in out:
        shown = out["gi_bin"].notna() & ~hidden(out, "gi_bin")
        labels = out["gi_bin"].where(shown).map(lambda v: gi_label(v) if pd.notna(v) else "")
        out.insert(list(out.columns).index("gi_bin") + 1, "gi_label", labels.astype("str"))
    return french_headers(out)


def monthly_csv(monthly: pd.DataFrame) -> pd.DataFrame:
    """The monthly table as its CSV shows it: the category's French label beside its
    code, the reason a cell is hidden in French (:data:`REASONS_FR`), French headers."""
    out = _whole_numbers_as_integers(monthly)
    if "category" in out:
        labels = out["category"].map(label_of)
        at = list(out.columns).index("category") + 1
        out.insert(at, "category_label", labels.astype("str"))
    if "reason" in out:
        reason = out["reason"].fillna("").astype(str)
        out["reason"] = reason.map(lambda r: REASONS_FR.get(r, r))
    return french_headers(out)


def french_headers(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each column named by its French field name
    (:func:`pipelines.maps.gpkg_fields.column_alias`); a column without one keeps its
    name, with a warning (a new published column needs its alias)."""
    names = {c: column_alias(c) or c for c in frame.columns}
    unnamed = [c for c, name in names.items() if name == c]
    if unnamed:
        log.warning("colonnes sans nom français dans le CSV ouvert : %s", ", ".join(unnamed))
    return frame.rename(columns=names)


def _whole_numbers_as_integers(frame: pd.DataFrame) -> pd.DataFrame:
    """Float columns whose values are all whole (a count with missing values, a Gi*
    class, dwellings) as nullable integers: ``6``, not ``6,0``."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if column.endswith(FLAG_SUFFIX) or not pd.api.types.is_float_dtype(values):
            continue
        finite = values.dropna()
        if (finite == finite.round()).all():
            out[column] = values.astype("Int64")
    return out


def write_exports(
    published: Published, *, csv_buildings: Path, csv_monthly: Path, gpkg: Path
) -> None:
    """Write the pack's CSV files (UTF-8 with BOM, for spreadsheets) and GeoPackage."""
    buildings = building_table(published)
    write_csv(building_csv(buildings), csv_buildings)
    write_csv(monthly_csv(published.monthly), csv_monthly)
    geo = published.profile.loc[:, [*buildings.columns, "geometry"]]
    geo = gpd.GeoDataFrame(
        neutralise_formulas(geo[geo["building_id"].isin(buildings["building_id"])]),
        geometry="geometry",
        crs=published.profile.crs,
    )
    # GDAL wants the .gpkg extension: written in a temporary folder beside, then moved.
    gpkg.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=gpkg.parent, prefix=".gpkg.") as folder:
        tmp = Path(folder) / gpkg.name
        geo.to_file(tmp, layer="batiments", driver="GPKG")
        if published.zones is not None and len(published.zones):
            z = published.zones
            cols = [
                c
                for c in ("zone_id", "n_buildings", "n_reports", "n_reports_flag", "status")
                if c in z
            ]
            gpd.GeoDataFrame(
                neutralise_formulas(pd.DataFrame(z[cols])), geometry=z.geometry, crs=z.crs
            ).to_file(tmp, layer="zones", driver="GPKG")
        os.replace(tmp, gpkg)
    log.info("wrote %s (%d buildings)", gpkg, len(geo))
