"""Ingestion: every row of a site's exports accepted, updated, merged as a duplicate,
rejected with a reason, or set outside the study area (``ingested.parquet``,
``rejected.csv``, ``outside_study_area.csv``, ``report_history.csv``,
``ingest_summary.json``).

Modules: ``readers`` (CSV, XLSX, JSON, GeoJSON), ``csvfile``, ``encoding`` and
``rawfile`` (exact physical lines), ``chunks`` (a large CSV read part by part),
``values`` (dates, numbers, missing values), ``cells`` and ``schema`` (columns and
their roles), ``personal`` (columns of people's data), ``partition``, ``gather``,
``rejects``, ``versions`` (updates), ``scrub`` and ``scrub_rules`` (personal data in
text), ``stage`` (the stage's ``run``).

Besides the stage, the names below serve ``vigie init`` (:mod:`pipelines.workbench`),
which proposes a source's configuration with the readers and value parsers ingestion
itself uses, ``vigie doctor`` (the site's secret), and ``vigie split``
(:mod:`pipelines.portfolio`), which reads a portfolio's shared exports part by part.
"""

from __future__ import annotations

import csv

from pipelines.ingest.chunks import CHUNK_BYTES, notes_of_parts, read_file_chunks
from pipelines.ingest.dates import date_order, parse_dates, year_first_rows
from pipelines.ingest.encoding import decode
from pipelines.ingest.filenotes import listed, reading_notes
from pipelines.ingest.longcells import CUT_MARK, MAX_CELL_CHARS, cut_long_cells, cut_text
from pipelines.ingest.partition import repeated_header_rows
from pipelines.ingest.personal import header_words, looks_personal
from pipelines.ingest.rawfile import RawFile, cell_text
from pipelines.ingest.readers import (
    FORMAT_DEFAULTS,
    FORMAT_PERSONAL,
    NotATableError,
    detect_format,
    read_file,
)
from pipelines.ingest.scrub import (
    scrub_series,
    scrub_text,
)
from pipelines.ingest.secret import create_secret, load_secret, secret_path
from pipelines.ingest.stage import (
    IngestResult,
    ingest_site,
    resolve_columns,
    run,
)
from pipelines.ingest.values import (
    CONTROL_CHARS,
    arrow_strings,
    clean_cells,
    parse_geo_points,
    parse_numbers,
)
from pipelines.ingest.xlsx import workbook_sheets

# Python's ``csv`` refuses a field over 128 kB (« field larger than field limit »): a
# long text in one cell of the first row under the header (a pasted mail, a log) made
# the whole file « illisible comme tableau », and a row's reading depended on whether
# another file had raised the limit before. Raised once for every reader of the
# package (2**31 - 1: a C long on every platform).
csv.field_size_limit(2**31 - 1)

__all__ = [
    "CHUNK_BYTES",
    "CONTROL_CHARS",
    "CUT_MARK",
    "FORMAT_DEFAULTS",
    "FORMAT_PERSONAL",
    "MAX_CELL_CHARS",
    "IngestResult",
    "NotATableError",
    "RawFile",
    "arrow_strings",
    "cell_text",
    "clean_cells",
    "create_secret",
    "cut_long_cells",
    "cut_text",
    "date_order",
    "decode",
    "detect_format",
    "header_words",
    "ingest_site",
    "listed",
    "load_secret",
    "looks_personal",
    "notes_of_parts",
    "parse_dates",
    "parse_geo_points",
    "parse_numbers",
    "read_file",
    "read_file_chunks",
    "reading_notes",
    "repeated_header_rows",
    "resolve_columns",
    "run",
    "scrub_series",
    "scrub_text",
    "secret_path",
    "workbook_sheets",
    "year_first_rows",
]
