"""A portfolio of sites declared by a perimeter layer (``[portfolio]``): the layer
checked (``perimeters``), the extract cut per site (``cut``), each shared export's rows
given to one site at most (``assign``, points placed by dask-geopandas beyond a
partition's worth), ``vigie split`` (``stage``, the exports read part by part and
written by ``sinks``), which writes what each site's stages then read as their own
inputs, the notes of the exports' reading per site (``notes``, which each site's
ingestion adds to its summary), and the sites run as
parallel tasks on Dask (``parallel``).
"""

from __future__ import annotations

from pipelines.portfolio.assign import OUTSIDE_REASONS, assign_rows, owners_of_points
from pipelines.portfolio.perimeters import find_overlaps, read_perimeters, repair
from pipelines.portfolio.stage import run

__all__ = [
    "OUTSIDE_REASONS",
    "assign_rows",
    "find_overlaps",
    "owners_of_points",
    "read_perimeters",
    "repair",
    "run",
]
