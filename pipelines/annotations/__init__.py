"""annotations: the planners' notes (model, readers, versions).

Public names other stages may use.
"""

from pipelines.annotations.html import GONE_BUILDING_FLAG, notes_geojson, orphan_flag
from pipelines.annotations.model import DELETED_STATUS, STATUSES

__all__ = ["DELETED_STATUS", "GONE_BUILDING_FLAG", "STATUSES", "notes_geojson", "orphan_flag"]
