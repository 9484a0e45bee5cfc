"""OpenStreetMap: one reader for ``.osm``, ``.osm.bz2`` and ``.osm.pbf`` (``reader``), the
building footprints (``buildings``), the basemap (``basemap``) and Overpass sources
(``sources``).
"""

from __future__ import annotations

from pipelines.osm.buildings import read_osm_bounds, read_osm_buildings, read_rpls, run
from pipelines.osm.reader import Incomplete, OsmElements, read_osm_elements

__all__ = [
    "Incomplete",
    "OsmElements",
    "read_osm_bounds",
    "read_osm_buildings",
    "read_osm_elements",
    "read_rpls",
    "run",
]
