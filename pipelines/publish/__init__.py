"""The publication step: the one door between the analysis stages and every reader.

:mod:`pipelines.publish.build` assembles, from the analysis stages' outputs, the tables
(most of them drawn by :mod:`pipelines.publish.tables`) the map, the PNG, the charts and
the index read (:mod:`pipelines.published`); its ``run``
(:mod:`pipelines.publish.stage`) writes them under ``processed/<site>/published/``.
Renderers read them with :func:`pipelines.published.read_published` (a shared module:
the contract between this step and the renderers), and import nothing from here.
:mod:`pipelines.publish.summary` writes the run summary.
"""

from pipelines.publish.build import publish_site
from pipelines.publish.indicators import publish_without_buildings, run_indicators
from pipelines.publish.stage import run, write_published

__all__ = [
    "publish_site",
    "publish_without_buildings",
    "run",
    "run_indicators",
    "write_published",
]
