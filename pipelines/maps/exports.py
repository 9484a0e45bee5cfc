"""The open-data pack's tables (``make public``): the building profile and the monthly
table as CSV, and a GeoPackage (buildings, zones), written from the published tables
only, as every renderer does (issue 16).

A hidden count is empty in the CSV and its ``…_flag`` column says « s »; the ``level``
column says at which level (building, zone, site; month, quarter, year) a count is given.

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
from pipelines.published import Published

log = logging.getLogger(__name__)

#: Building columns of the open-data tables (besides the counts and their flags).
BUILDING_COLUMNS = ("building_id", "building_label", "zone_id", "dwellings", "level", "gi_bin")


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


def write_exports(
    published: Published, *, csv_buildings: Path, csv_monthly: Path, gpkg: Path
) -> None:
    """Write the pack's CSV files (UTF-8 with BOM, for spreadsheets) and GeoPackage."""
    buildings = building_table(published)
    write_csv(buildings, csv_buildings)
    write_csv(published.monthly, csv_monthly)
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
