"""The columns and codes of ingestion's outputs, and the roles of input columns."""

from __future__ import annotations

from pipelines.config import COLUMN_ROLES

#: Columns of the accepted rows gathered from the sources' cells, in order.
GATHERED_COLUMNS = (
    "report_id",
    "source",
    "source_kind",
    "source_file",
    "source_line",
    "category",
    "category_label",
    "service_code",
    "category_source_label",
    "subcategory",
    "description",
    "address",
    "building_ref",
    "reported_at",
    "status",
    "closed_at",
    "channel",
    "lon",
    "lat",
    "coord_note",
)

#: Columns of the accepted rows, in order: the gathered ones and ``person_related``
#: (:func:`pipelines.taxonomy.person_related`); with the site's secret, ``household_key``
#: follows (:mod:`pipelines.ingest.household`). ``ingested.parquet`` adds a point
#: ``geometry`` (WKB, EPSG:4326) made from ``lon``/``lat``, null where they are missing.
INGESTED_COLUMNS = (*GATHERED_COLUMNS, "person_related")

#: Columns of ``rejected.csv``.
REJECTED_COLUMNS = ("source", "source_file", "source_line", "reason", "reason_fr", "original_row")

#: Columns of ``outside_study_area.csv``.
OUTSIDE_COLUMNS = (
    "report_id",
    "source",
    "source_kind",
    "source_file",
    "source_line",
    "category",
    "reported_at",
    "lon",
    "lat",
)

#: Fields compared between two versions of a report (the same ``report_id`` seen again),
#: as ``ingested.parquet`` writes them (cleaned, parsed, scrubbed); equal in all of them,
#: the second is a duplicate, else an update. File, line and ``coord_note`` (how the
#: coordinates were written) are where and how, not what.
VERSION_FIELDS = (
    "category",
    "category_source_label",
    "subcategory",
    "description",
    "address",
    "building_ref",
    "reported_at",
    "status",
    "closed_at",
    "channel",
    "lon",
    "lat",
)

#: Why a version was replaced, by priority: the export's update date (role
#: ``updated_at``), else the closing date, else the order the rows were read in.
UPDATE_REASONS = ("newer_update_date", "later_closing_date", "later_in_file_order")

#: Columns of ``report_history.csv``: one row per replaced version, with the fields that
#: differ from the version kept and their old values (``old_<field>``, empty when equal).
HISTORY_COLUMNS = (
    "report_id",
    "source",
    "source_file",
    "source_line",
    "replaced_by_file",
    "replaced_by_line",
    "reason",
    "reason_fr",
    "study_area_change",
    "changed_fields",
    *(f"old_{field}" for field in (*VERSION_FIELDS, "updated_at")),
)

#: Row-level rejection reasons, by priority (the first that applies is reported).
ROW_REASONS = (
    "malformed_row",
    "unclosed_quote",
    "repeated_header",
    "unreadable_feature",
    "missing_date",
    "unparseable_date",
    "date_in_future",
    "date_before_start",
    "unparseable_coordinates",
    "missing_location",
)

#: File-level problems (a line with ``source_line`` 0 in ``rejected.csv``).
FILE_REASONS = ("missing_file", "empty_file", "unreadable_file")

# Coordinate notes, as bit flags while vectorised, joined with "+" in ``coord_note``.
_NOTES = (
    (1, "decimal_comma"),
    (2, "swapped_fixed"),
    (4, "lambert93"),
    (8, "projected"),
    (16, "geo_point"),
    (32, "representative_point"),
)
#: A pair written exactly 0;0, how many ticketing tools write « no position »: read as no
#: coordinates (the row then located by its address, or rejected without one) and noted
#: per file; a bit of the flags while parsing only, never a ``coord_note``.
_ZERO_PAIR = 64

_FRANCE_LAT = (41.0, 52.0)

_FRANCE_LON = (-5.5, 10.0)

_L93_X = (100_000.0, 1_300_000.0)

_L93_Y = (6_000_000.0, 7_200_000.0)

_LOCATION_ROLES = ("address", "number", "street", "postcode", "city", "building_ref")

# Every mapped role is read as text first (plus the Open311 alternative category field).
_TEXT_ROLES = (*COLUMN_ROLES, "category_alt")

# Roles read as labels (pandas ``category``: cleaned and handled per distinct value);
# the others (identifiers, dates, coordinates) are mostly distinct, kept as ``str``.
_LABEL_ROLES = frozenset(_TEXT_ROLES) - {
    "id",
    "date",
    "closed_at",
    "updated_at",
    "lat",
    "lon",
    "x",
    "y",
    "geo_point",
}

_STATE_NONE, _STATE_OK, _STATE_BAD = 0, 1, 2

#: The text columns of ``ingested.parquet``: all but numbers, dates and the geometry.
_STR_COLUMNS = tuple(
    c
    for c in GATHERED_COLUMNS
    if c not in ("source_line", "reported_at", "closed_at", "lon", "lat", "geometry")
)

#: An id that Excel turned into a number in scientific notation (« 2,024E+11 »: a long
#: numeric ticket number shown so, then the file saved): its digits are lost, distinct
#: tickets share it; read as an id, an export's every report was taken for a version of
#: the first (7 094 « mises à jour » of one ticket). No id, as a placeholder is.
EXCEL_NUMBER_ID = r"^[+\-]?[0-9](?:[.,][0-9]+)?[eE]\+[0-9]{1,3}$"
