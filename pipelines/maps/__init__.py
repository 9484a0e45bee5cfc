"""maps: the renderers (site map, index, PNG, charts), reading only the published tables.

What other folders may use: where the maps' pinned JavaScript libraries are and whether
they are installed (``assets``), and the Chromium that takes the screenshots
(``screenshots``); ``vigie doctor`` checks both.
"""

from __future__ import annotations

from pipelines.maps.assets import NODE_MODULES, MissingAssetsError, check_node_modules
from pipelines.maps.screenshots import CHROMIUM_PATH

__all__ = ["CHROMIUM_PATH", "NODE_MODULES", "MissingAssetsError", "check_node_modules"]
