"""Pure statistics, importing no stage: Getis-Ord Gi*, FDR bins and the distance band
(``gistar``), kernel density (``density``), hexagon grids (``hexgrid``), Mann-Kendall
and Sen's slope (``trend``), emerging-hotspot categories (``emerging``), statistical
disclosure control of count tables (``disclosure``; its cells and primary suppression in
``primary``, its greedy steps in ``relations``, its audit in ``audit`` and ``attacker``
over the linear system of ``system``, and what a protection proved in ``proof``). The
stages import these modules or the names below; this package is a library, so its
modules are public.
"""

from __future__ import annotations

from pipelines.stats.band import BandChoice, auto_distance_band, configured_band
from pipelines.stats.emerging import (
    EMERGING_CATEGORIES,
    EMERGING_LABELS_FR,
    before_after,
    emerging_hotspot_table,
)
from pipelines.stats.fdr import fdr_bins
from pipelines.stats.gistar import MIN_FEATURES, feature_points, gi_star
from pipelines.stats.series import (
    closing_delays,
    monthly_counts,
    naive_datetimes,
    open_backlog,
    period_freq,
)
from pipelines.stats.trend import (
    TREND_DOWN,
    TREND_NONE,
    TREND_UP,
    mann_kendall,
    mann_kendall_matrix,
    sens_slope,
    sens_slope_matrix,
)

__all__ = [
    "EMERGING_CATEGORIES",
    "EMERGING_LABELS_FR",
    "MIN_FEATURES",
    "TREND_DOWN",
    "TREND_NONE",
    "TREND_UP",
    "BandChoice",
    "auto_distance_band",
    "before_after",
    "closing_delays",
    "configured_band",
    "emerging_hotspot_table",
    "fdr_bins",
    "feature_points",
    "gi_star",
    "mann_kendall",
    "mann_kendall_matrix",
    "monthly_counts",
    "naive_datetimes",
    "open_backlog",
    "period_freq",
    "sens_slope",
    "sens_slope_matrix",
]
