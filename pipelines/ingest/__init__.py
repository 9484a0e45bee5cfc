"""ingest: readers, CSV, values, cells, partition, scrub.

Public names other stages may use.
"""

from pipelines.ingest.scrub import scrub_series

__all__ = ["scrub_series"]
