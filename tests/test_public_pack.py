"""The open-data pack (``make public``: ``<site>_batiments.csv``, ``<site>_mensuel.csv``,
``<site>.gpkg``) written from the published tables, on real Bondy footprints with
hand-made hostile values: spreadsheet formulas (hostile run B2)."""

from __future__ import annotations

import csv
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from pipelines.config.publication import ProfileRule
from pipelines.io import FORMULA_STARTS
from pipelines.maps.exports import write_exports
from pipelines.osm.buildings import read_osm_buildings
from pipelines.publish.build import publish_site
from pipelines.publish.protect import apply_profile
from pipelines.published import Published
from pipelines.taxonomy import CATEGORIES, PERSONNE
from tests.conftest import RAW

PERSON = frozenset(c.code for c in CATEGORIES if c.privacy_class == PERSONNE)

#: OSM names a contributor (or a vandal) could give a building: each would run in a
#: spreadsheet that opens the pack.
FORMULAS = (
    '=HYPERLINK("http://exemple.invalid/x","Voir")',
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+cmd|' /C calc'!A0",
    "-cmd|' /C calc'!A0",
)


@pytest.fixture(scope="module")
def bondy() -> gpd.GeoDataFrame:
    return read_osm_buildings(RAW / "bondy" / "bondy_nord.osm")


def _hostile_site(bondy: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Four real buildings named by a formula; their lifts reported by many households,
    more before April than after (a negative before/after change)."""
    buildings = bondy.head(40).copy()
    targets = buildings["building_id"].astype(str).head(len(FORMULAS)).tolist()
    buildings.loc[buildings.index[: len(FORMULAS)], "name"] = list(FORMULAS)
    rows = []
    for k, bid in enumerate(targets):
        for month in range(1, 7):
            for d in range(5 if month <= 3 else 1):
                rows.append((bid, f"2025-{month:02d}-{1 + d:02d}", f"h{k}-{month}-{d}"))
    inside = buildings.set_index("building_id").geometry.representative_point()
    reports = gpd.GeoDataFrame(
        {
            "report_id": [f"r{i}" for i in range(len(rows))],
            "source_kind": "reports",
            "source": "bailleur",
            "building_id": [r[0] for r in rows],
            "category": "ascenseur",
            "reported_at": pd.to_datetime([r[1] for r in rows]),
            "household_key": [r[2] for r in rows],
            "description": None,
            "duplicate_of": None,
        },
        geometry=[inside[r[0]] for r in rows],
        crs="EPSG:4326",
    )
    return buildings, reports


def _pack(published: Published, folder: Path) -> tuple[list[list[str]], gpd.GeoDataFrame]:
    paths = {
        "csv_buildings": folder / "t_batiments.csv",
        "csv_monthly": folder / "t_mensuel.csv",
        "gpkg": folder / "t.gpkg",
    }
    write_exports(published, **paths)
    with paths["csv_buildings"].open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows, gpd.read_file(paths["gpkg"], layer="batiments")


def test_the_pack_runs_no_formula_and_keeps_numbers(
    bondy: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    buildings, reports = _hostile_site(bondy)
    published, _ = apply_profile(
        publish_site(buildings, reports), reports, rule=ProfileRule("interne"),
        person_related=PERSON,
    )  # fmt: skip
    rows, gpkg = _pack(published.published, tmp_path)
    header, body = rows[0], rows[1:]
    label = header.index("building_label")
    assert sorted(r[label] for r in body) == sorted("'" + f for f in FORMULAS)
    change = header.index("n_reports_change")
    assert sorted(r[change] for r in body) == ["-12"] * len(FORMULAS)  # a number, as is
    for row in body:
        for cell in row:
            assert not cell.startswith(FORMULA_STARTS) or cell.lstrip("-").isdigit(), cell
    assert sorted(gpkg["building_label"]) == sorted("'" + f for f in FORMULAS)
    assert pd.api.types.is_integer_dtype(gpkg["n_reports_change"])
    assert (gpkg["n_reports_change"] == -12).all()
    with (tmp_path / "t_mensuel.csv").open(encoding="utf-8-sig", newline="") as fh:
        monthly = list(csv.reader(fh))
    assert all(not c.startswith(FORMULA_STARTS) for r in monthly for c in r)
