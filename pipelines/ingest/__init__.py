"""Ingestion: every row of a site's exports accepted, updated, merged as a duplicate,
rejected with a reason, or set outside the study area (``ingested.parquet``,
``rejected.csv``, ``outside_study_area.csv``, ``report_history.csv``,
``ingest_summary.json``).

Modules: ``readers`` (CSV, XLSX, JSON, GeoJSON), ``csvfile``, ``encoding`` and
``rawfile`` (exact physical lines), ``values`` (dates, numbers, missing values),
``cells`` and ``schema`` (columns and their roles), ``personal`` (columns of people's
data), ``partition``, ``gather``, ``rejects``, ``versions`` (updates), ``scrub`` and
``scrub_rules`` (personal data in text), ``stage`` (the stage's ``run``).
"""

from __future__ import annotations

from pipelines.ingest.readers import (
    read_file,
)
from pipelines.ingest.scrub import (
    scrub_series,
    scrub_text,
)
from pipelines.ingest.stage import (
    IngestResult,
    ingest_site,
    resolve_columns,
    run,
)
from pipelines.ingest.values import (
    arrow_strings,
    parse_dates,
)

__all__ = [
    "IngestResult",
    "arrow_strings",
    "ingest_site",
    "parse_dates",
    "read_file",
    "resolve_columns",
    "run",
    "scrub_series",
    "scrub_text",
]
