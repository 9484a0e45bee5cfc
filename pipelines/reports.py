"""What counts as a report, defined once for every stage.

- :func:`counted`: the reports that every statistic counts (residents' reports, not
  walkthrough observations, not likely duplicates; placed on a building when asked);
- :func:`has_text`: the reports with a value in a text column (an address, a building
  code);
- :func:`household_of`: who filed each report, for counts of distinct households
  beside counts of reports;
- :data:`COUNTED_COLUMNS` and :data:`HOUSEHOLD_COLUMNS`: the columns those two read, and
  :data:`COUNT_COLUMNS` and :data:`COUNT_OPTIONAL`: those a count of reports by building,
  category and date reads, for the stages that read only the columns they use
  (``read_geoparquet(columns=...)``);
- :func:`naive_dates` and :func:`site_months`: report times in local French time and
  the calendar months they cover, as every table per month counts them;
- the partition of the rows read: every row of a source ends up in exactly one of
  :data:`PARTITION`, and the run summary checks that they add up;
- :data:`UNPLACED_COLUMNS`: the columns of ``unplaced.csv``, the accepted reports placed
  on no building, listed for the analyst;
- :data:`NA_TOKENS` and :data:`NA_SPELLINGS`: how an export (or an OSM tag) writes
  « no value », read as empty by every reader (the reports' cells, the dwelling counts).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

#: The columns :func:`counted` reads, each when the frame has it: a stage that reads
#: ``reports.parquet``'s columns it uses reads these as optional ones (a file without
#: ``source_kind`` or ``duplicate_of`` counts every row, as before).
COUNTED_COLUMNS = ("building_id", "source_kind", "duplicate_of")

#: The columns :func:`household_of` reads, each when the frame has it.
HOUSEHOLD_COLUMNS = ("report_id", "household_key")

#: The columns of ``reports.parquet`` a count of the reports that count (:func:`counted`)
#: and of their households (:func:`household_of`) by building, category and date reads:
#: :data:`COUNT_COLUMNS` always, :data:`COUNT_OPTIONAL` when the file has them. The
#: hotspots and actions stages read these alone; trends and the indicators a few more.
COUNT_COLUMNS = ("building_id", "category", "reported_at")
COUNT_OPTIONAL = (*COUNTED_COLUMNS, *HOUSEHOLD_COLUMNS)


def counted(reports: pd.DataFrame, *, on_building: bool = False) -> pd.Series:
    """Boolean mask, aligned on ``reports.index``, of the reports that count.

    A report counts when it is a resident's report (``source_kind == "reports"`` when
    the column exists: walkthrough observations are counted apart), not a likely
    duplicate of another one (``duplicate_of`` missing when the column exists) and, with
    ``on_building``, placed on a building (``building_id`` present).
    """
    mask = pd.Series(True, index=reports.index)
    if on_building:
        mask &= reports["building_id"].notna()
    if "source_kind" in reports:
        mask &= (reports["source_kind"] == "reports").fillna(False).astype(bool)
    if "duplicate_of" in reports:
        mask &= reports["duplicate_of"].isna()
    return mask.fillna(False).astype(bool)


def has_text(reports: pd.DataFrame, *columns: str) -> pd.Series:
    """Boolean mask, aligned on ``reports.index``, of the reports with a non-blank value
    in any of ``columns`` (an absent column holds none): those an address or a building
    code can locate."""
    mask = pd.Series(False, index=reports.index)
    for column in columns:
        if column in reports:
            mask |= reports[column].fillna("").astype(str).str.strip() != ""
    return mask


def household_of(reports: pd.DataFrame) -> pd.Series:
    """Who filed each report, aligned on ``reports.index``: its ``household_key``
    (pseudonymous, keyed by the site's secret: :mod:`pipelines.ingest.household`), or,
    where the column or a key is missing (hand-made tables, reports known by nothing
    else), the report itself: its own household, never merged with another.

    Only counts of distinct values leave the stages that read it: the key itself never
    reaches an output meant for readers.
    """
    own = (
        reports["report_id"].astype("str")
        if "report_id" in reports
        else pd.Series(reports.index.astype(str), index=reports.index)
    )
    own = "report:" + own.fillna("").astype("str")
    if "household_key" not in reports:
        return own
    key = reports["household_key"].astype("str")
    return key.where(key.notna() & (key != ""), own)


def naive_dates(values: pd.Series) -> pd.Series:
    """Datetimes without time zone (local French time kept), NaT where missing."""
    dates = pd.to_datetime(values, errors="coerce")
    if isinstance(dates.dtype, pd.DatetimeTZDtype):
        dates = dates.dt.tz_convert("Europe/Paris").dt.tz_localize(None)
    return dates


def site_months(dates: pd.Series) -> pd.PeriodIndex:
    """Every calendar month from the first to the last date (empty when none)."""
    d = naive_dates(dates).dropna()
    if d.empty:
        return pd.PeriodIndex([], freq="M")
    return pd.period_range(d.min().to_period("M"), d.max().to_period("M"), freq="M")


#: Missing-value spellings of a cell, lower case: what exports and tags write for « no
#: value » (pandas writes « <NA> », Excel « #N/A », a form « NR » or « ? »).
NA_TOKENS = ("", "na", "n/a", "nan", "null", "none", "nr", "-", "--", "#n/a", "?", "<na>")

#: :data:`NA_TOKENS` as they are compared, stripped: lower case, upper case and title
#: case (« na », « NA », « Na »), matched exactly (a vectorised set lookup, no case
#: folding of every cell).
NA_SPELLINGS = frozenset(v for t in NA_TOKENS for v in (t, t.upper(), t.title()))

#: Where every row read goes: ``rows_in`` is their sum, per source (``rejected`` is a
#: count per reason).
#: The columns of ``unplaced.csv`` (no personal cell: ingestion dropped those; ids,
#: source line, category, date and position), written by the geocoding stage
#: (:mod:`pipelines.geocode.unplaced`) and, for a portfolio's site without buildings, by
#: the publication (:func:`pipelines.publish.publish_without_buildings`).
UNPLACED_COLUMNS = (
    "report_id", "source", "source_kind", "source_file", "source_line", "category",
    "reported_at", "lon", "lat",
)  # fmt: skip

PARTITION = ("accepted", "updated", "duplicates", "rejected", "outside_study_area")

PARTITION_TEXT = "rows_in = " + " + ".join(PARTITION)


def partition_count(source: dict[str, Any], key: str) -> int:
    """One term of a source's partition; ``rejected`` summed over its reasons.

    ``updated`` is 0 when missing: a summary written before updates were told from
    duplicates counted none.
    """
    value = source.get(key, 0) if key == "updated" else source[key]
    return sum(value.values()) if isinstance(value, dict) else int(value)


def check_partition(sources: dict[str, dict[str, Any]]) -> list[str]:
    """Return the ids of the sources whose row partition does not add up."""
    return [
        sid
        for sid, s in sources.items()
        if sum(partition_count(s, key) for key in PARTITION) != s["rows_in"]
    ]
