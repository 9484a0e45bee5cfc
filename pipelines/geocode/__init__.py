"""Geocoding: reports placed on OSM buildings from their coordinates or their French
addresses (OSM addresses, BAN), placeholder points set aside, likely duplicates linked.
"""

from __future__ import annotations

from pipelines.geocode.duplicates import link_likely_duplicates
from pipelines.geocode.stage import geocode_site, match_site_addresses, run_site
from pipelines.geocode.unplaced import unplaced_reports

__all__ = [
    "geocode_site",
    "link_likely_duplicates",
    "match_site_addresses",
    "run_site",
    "unplaced_reports",
]
