"""Address geocoding says what it knows: a report is put on a building only from its
own number or from two known numbers around it, and a site whose OSM extract has too
few addresses is told to add the BAN. On the real Bondy extract (7 OSM addresses) and
BAN file, with the simulator's landlord export."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from pipelines.geocode.address_index import build_address_index, match_addresses
from pipelines.geocode.address_parse import parse_addresses
from pipelines.geocode.ban import read_ban
from pipelines.geocode.osm_addresses import read_osm_addresses
from pipelines.geocode.summary import address_quality
from pipelines.osm.buildings import read_osm_buildings

# Geocodes the whole simulated export twice (OSM only, then OSM + BAN): end to end.
pytestmark = pytest.mark.slow

RAW = Path(__file__).resolve().parents[1] / "data" / "raw" / "bondy"
OSM = RAW / "bondy_nord.osm"


@pytest.fixture(scope="module")
def matched(simulated_bondy: Path) -> dict[str, pd.DataFrame]:
    """The export's typed addresses matched on an OSM-only index and on OSM + BAN."""
    raw = pd.read_csv(
        simulated_bondy / "signalements_bailleur.csv", sep=";", encoding="cp1252", dtype=str
    )
    addresses = raw["Adresse"].dropna().reset_index(drop=True)
    parsed = parse_addresses(addresses)
    buildings = read_osm_buildings(OSM)
    out = {}
    for name, parts in (
        ("osm", [read_osm_addresses(OSM)]),
        ("osm+ban", [read_osm_addresses(OSM), read_ban(RAW / "ban_adresses_bondy.csv")]),
    ):
        frame = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs="EPSG:4326")
        index = build_address_index(frame, buildings)
        result = match_addresses(parsed, index, buildings)
        out[name] = result.assign(address=addresses)
    return out


def test_thin_osm_addresses_are_reported_with_the_ban_advice(matched: dict) -> None:
    osm_only = matched["osm"]
    # Many numbers of streets OSM knows are left on their street, not guessed.
    street = osm_only[osm_only["geocode_method"] == "address_street"]
    assert len(street) > 100
    assert street["building_id"].isna().all()
    assert street["match_lon"].isna().all()
    assert street["match_street"].notna().all()
    quality = address_quality(osm_only, has_ban=False)
    assert quality["addressed"] == len(osm_only)
    assert quality["share_unplaced"] > 0.5
    assert "Base Adresse Nationale" in quality["warning"]
    assert str(quality["unplaced"]) in quality["warning"]


def test_with_the_ban_no_warning(matched: dict) -> None:
    quality = address_quality(matched["osm+ban"], has_ban=True)
    assert quality["share_unplaced"] < 0.05
    assert quality["warning"] is None


def test_no_placement_from_a_single_known_number(matched: dict) -> None:
    """Every interpolated placement lies between two known numbers of the same side:
    with the BAN, the simulator's numbers all exist, so nothing is interpolated; with
    OSM alone (7 addresses), nothing is interpolated either, where the old rule
    extrapolated from the one or two numbers OSM knows on a street."""
    for result in matched.values():
        assert (result["geocode_method"] == "address_interpolated").sum() == 0
