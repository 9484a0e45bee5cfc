"""publish: the one door between the analysis stages and every reader.

:mod:`pipelines.publish.build` assembles, from the analysis stages' outputs, the tables
the map, the PNG and the index read (:mod:`pipelines.publish.tables`); its ``run``
(:mod:`pipelines.publish.stage`) writes them under ``processed/<site>/published/``.
Renderers read them with :func:`read_published`, and import nothing else from here.
:mod:`pipelines.publish.summary` writes the run summary.
"""

from pipelines.publish.build import publish_site
from pipelines.publish.stage import run, write_published
from pipelines.publish.tables import FILES, Published, read_published

__all__ = ["FILES", "Published", "publish_site", "read_published", "run", "write_published"]
