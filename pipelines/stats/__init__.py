"""stats: pure statistics (Gi*, FDR, distance band, density, trend, emerging categories).

Public names other stages may use.
"""

from pipelines.stats.emerging import EMERGING_CATEGORIES, EMERGING_LABELS_FR

__all__ = ["EMERGING_CATEGORIES", "EMERGING_LABELS_FR"]
