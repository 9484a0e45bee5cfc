"""Ingestion: every source of a site in, every row accounted for.

Each row read ends in exactly one of five places, and the summary checks that they add
up (``rows_in = accepted + updated + duplicates + rejected + outside_study_area``):

- **accepted**: written to ``ingested.parquet`` (reports and observations), with its
  category mapped onto the taxonomy, its date parsed as local time, its coordinates in
  WGS84 (or none when only an address or a building code locates it) and its free text
  scrubbed of personal data;
- **updated**: an earlier version of a report read again with a different content (the
  ticket open in January's export, closed in February's): the latest version is kept
  (by the export's update date, else its closing date, else reading order), the earlier
  ones are listed in ``report_history.csv`` with what changed (rules in
  :mod:`pipelines.ingest.versions`);
- **duplicates**: the same ``report_id`` with the same content was already read (the
  same monthly file read twice, an unchanged ticket repeated in the next month's
  export, an exact duplicate row);
- **rejected**: written to ``rejected.csv`` with a reason code and a French sentence
  naming the column (no date, unreadable date or coordinates, date in the future or
  before the study, nothing to locate the report, malformed line);
- **outside_study_area**: valid coordinates outside the site's bounding box, listed in
  ``outside_study_area.csv``, counted, not mapped (for a report read several times, the
  kept version's coordinates decide).

Parsing is vectorised (pyarrow kernels; labels and text handled per distinct value), so
a million-row export is ingested in a few times the time pyarrow takes to read it.

This module assembles the site's result from its sources (each ingested by
:mod:`pipelines.ingest.source`) and writes it; the work is in modules of one step each:
``readers`` with ``csvfile``, ``xlsx`` and ``jsonfile`` (files to string columns),
``values`` (cell cleaning and value parsers), ``cells`` (roles, coordinates, dates),
``partition`` (where each row goes, ids, categories), ``versions`` (copies and updates
of a report, ``report_history.csv``), ``gather`` (output columns), ``rejects``
(``rejected.csv``), ``household`` (household keys); ``schema`` holds the columns.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from pandas.api.types import union_categoricals

from pipelines.config import Config, SiteConfig
from pipelines.errors import ConfigError
from pipelines.ingest import scrub as _scrub
from pipelines.ingest.cells import (
    resolve_columns,
)
from pipelines.ingest.filenotes import with_split_notes
from pipelines.ingest.gather import (
    _take_strings,
    _typed,
)
from pipelines.ingest.household import HOUSEHOLD_COLUMN, household_key_codes
from pipelines.ingest.schema import (
    FILE_REASONS,
    HISTORY_COLUMNS,
    INGESTED_COLUMNS,
    OUTSIDE_COLUMNS,
    REJECTED_COLUMNS,
    ROW_REASONS,
)
from pipelines.ingest.secret import load_secret, secret_path
from pipelines.ingest.source import file_size, ingest_source
from pipelines.ingest.versions import (
    empty_history,
)
from pipelines.io import read_json, write_csv, write_json, write_points_geoparquet
from pipelines.progress import Progress
from pipelines.reports import PARTITION, PARTITION_TEXT, check_partition
from pipelines.taxonomy import person_related_flags

log = logging.getLogger(__name__)

__all__ = [
    "FILE_REASONS",
    "HISTORY_COLUMNS",
    "INGESTED_COLUMNS",
    "OUTSIDE_COLUMNS",
    "REJECTED_COLUMNS",
    "ROW_REASONS",
    "IngestResult",
    "ingest_site",
    "resolve_columns",
    "run",
]


@dataclass(frozen=True)
class IngestResult:
    """What :func:`ingest_site` returns.

    Attributes
    ----------
    ingested
        Accepted rows, :data:`INGESTED_COLUMNS`, ``lon``/``lat`` in EPSG:4326 (NaN where
        only an address or building code locates the row); sorted by source, date,
        report_id. No shapely geometry: :func:`run` writes the points to
        ``ingested.parquet`` from the coordinates (:func:`pipelines.io.point_wkb`).
    rejected
        :data:`REJECTED_COLUMNS`; file-level problems have ``source_line`` 0.
    outside
        :data:`OUTSIDE_COLUMNS`: valid coordinates outside the study area.
    summary
        ``ingest_summary.json``: per source, the row partition and its breakdowns.
    history
        :data:`HISTORY_COLUMNS`: the replaced versions of reports read several times
        with different contents (``report_history.csv``).
    """

    ingested: pd.DataFrame
    rejected: pd.DataFrame
    outside: pd.DataFrame
    summary: dict[str, Any]
    history: pd.DataFrame = field(default_factory=empty_history)


# --------------------------------------------------------------------------- site
def ingest_site(
    site: SiteConfig,
    *,
    study_area_bbox: tuple[float, float, float, float],
    today: date,
    secret: bytes | None = None,
) -> IngestResult:
    """Ingest every source of a site.

    Parameters
    ----------
    site
        The site; its ``params["ingest"]["start_date"]`` bounds dates from below.
    study_area_bbox
        (west, south, east, north) in degrees (EPSG:4326); rows with valid coordinates
        outside go to :attr:`IngestResult.outside`.
    today
        Dates after this day are rejected as ``date_in_future``.
    secret
        The site's secret (:func:`pipelines.ingest.secret.load_secret`): the accepted
        rows then carry their ``household_key``. Without it (unit tests of the reading)
        they carry no key at all, never one computed without the secret.

    Returns
    -------
    IngestResult
        Reads the source files and nothing else; no file is written. The accepted rows
        carry ``person_related`` (:func:`pipelines.taxonomy.person_related`).

    Raises
    ------
    InputError
        A file cannot be parsed at all, or lacks a configured column.
    """
    start = pd.Timestamp(site.settings.ingest.start_date)
    size = sum(file_size(f) for s in site.sources for f in s.files())
    with Progress(f"Lecture des exports ({site.id})", size, unit="o") as progress:
        outs = {
            # Without the secret no key is made: the household columns are not read.
            s.id: ingest_source(
                s,
                bbox=study_area_bbox,
                today=today,
                start=start,
                progress=progress,
                households=secret is not None,
            )
            for s in site.sources
        }
    order = sorted(outs)
    accepted = [outs[s].accepted for s in order]
    frame = accepted[0] if len(accepted) == 1 else pd.concat(accepted, ignore_index=True)
    ingested = _typed(frame)
    ingested["person_related"] = person_related_flags(
        ingested["category"], _scrub.names_dwelling(ingested["description"]), site.category_classes
    )
    if secret is not None:
        identities = union_categoricals([outs[s].identities for s in order])
        codes, keys = household_key_codes(
            identities, ingested["source"], ingested["report_id"], secret
        )
        ingested[HOUSEHOLD_COLUMN] = _take_strings(keys, codes).array
    rejected = pd.concat([outs[s].rejected for s in order], ignore_index=True)
    rejected = (
        rejected.astype({"source_line": "int64"})
        if len(rejected)
        else pd.DataFrame(columns=list(REJECTED_COLUMNS))
    )
    outside = pd.concat([outs[s].outside for s in order], ignore_index=True)
    outside = (
        outside[list(OUTSIDE_COLUMNS)]
        if len(outside)
        else pd.DataFrame(columns=list(OUTSIDE_COLUMNS))
    )
    histories = [outs[s].history for s in order if len(outs[s].history)]
    history = pd.concat(histories, ignore_index=True) if histories else empty_history()
    sources = {s: outs[s].summary for s in order}
    totals = {
        key: sum(
            int(v[key]) if not isinstance(v[key], dict) else sum(v[key].values())
            for v in sources.values()
        )
        for key in ("rows_in", *PARTITION)
    }
    summary = {
        "site": site.id,
        "study_area_bbox": [float(v) for v in study_area_bbox],
        "start_date": start.date().isoformat(),
        "partition": PARTITION_TEXT,
        "sources": sources,
        "totals": totals,
        # Undeclared columns whose header looks personal, treated as declared ones.
        "personal_columns_detected": {
            sid: v["personal_columns_detected"]
            for sid, v in sources.items()
            if v["personal_columns_detected"]
        },
    }
    return IngestResult(ingested, rejected, outside, summary, history)


def study_area(
    site: SiteConfig, bounds: Sequence[float] | None, *, config_path: str = "", key: str = ""
) -> tuple[float, float, float, float]:
    """The study area of a site: its ``study_area_bbox``, else ``bounds``, those of its
    OSM extract as the OSM stage wrote them in ``buildings_summary.json``.

    When both are known they must intersect: a box that misses the extract (latitude and
    longitude swapped, another town's box) would send every report outside the study
    area without a word.

    Raises
    ------
    ConfigError
        No study area is known, or ``study_area_bbox`` (named as ``key`` of the
        configuration ``config_path``) does not meet the extract's bounds.
    """
    if site.study_area_bbox:
        if bounds:
            w, s, e, n = site.study_area_bbox
            ow, os_, oe, on = (float(v) for v in bounds)
            if w > oe or e < ow or s > on or n < os_:
                raise ConfigError(
                    config_path or str(site.osm),
                    f"la zone d'étude [{w}, {s}, {e}, {n}] ne recoupe pas l'emprise de "
                    f"l'extrait OSM [{ow}, {os_}, {oe}, {on}] (ouest, sud, est, nord, en "
                    "degrés) : vérifiez l'ordre des valeurs (longitude avant latitude) et que "
                    "l'extrait couvre le site.",
                    key=key or "study_area_bbox",
                )
        return site.study_area_bbox
    if not bounds:
        raise ConfigError(
            str(site.osm),
            "zone d'étude inconnue : renseignez study_area_bbox pour ce site, ou donnez "
            "l'emprise de l'extrait OSM (buildings_summary.json de l'étape OSM, option "
            "--bounds ; un lieu Overpass n'en a pas hors ligne).",
            key="osm",
        )
    west, south, east, north = (float(v) for v in bounds)
    return west, south, east, north


def read_bounds(buildings_summary: Path) -> list[float] | None:
    """The OSM extract's bounds from the OSM stage's ``buildings_summary.json``; None
    when the extract holds no building (a portfolio's perimeter with none: its bounds
    are those of whatever else the cut kept, and the site's perimeter is the study
    area)."""
    summary = read_json(buildings_summary)
    bounds = summary.get("bounds")
    if summary.get("buildings") == 0:
        return None
    return list(bounds) if bounds else None


def run(
    config: Config, site_id: str, out_dir: Path, *, bounds: Sequence[float] | None = None
) -> IngestResult:
    """Ingest a site's sources and write ``ingested.parquet``, ``rejected.csv``,
    ``outside_study_area.csv``, ``report_history.csv`` and ``ingest_summary.json`` into
    ``out_dir``.

    The study area is the site's ``study_area_bbox``, else the bounds of its OSM extract
    ``bounds`` (:func:`read_bounds` of the OSM stage's ``buildings_summary.json``:
    ingestion never reads the OSM file itself); ``today`` is ``params.ingest.today`` when set
    (reproducible runs), else the day of the run. The site's secret
    (``<secrets_dir>/<site>.key``) keys the households of the reports.

    Raises
    ------
    ConfigError
        The site's secret is missing or invalid: the message says how to create it.
    """

    site = config.site(site_id)
    index = [s.id for s in config.sites].index(site_id)
    bbox = study_area(site, bounds, config_path=config.path, key=f"sites[{index}].study_area_bbox")
    today = site.settings.ingest.today or date.today()
    secret = load_secret(
        secret_path(config.secrets_dir, site_id), config_path=config.path, site_id=site_id
    )
    result = ingest_site(site, study_area_bbox=bbox, today=today, secret=secret)
    portfolio = config.portfolio
    if portfolio is not None and site_id in portfolio.site_ids and portfolio.summary.is_file():
        # the site read the split's UTF-8 files: the notes of the exports' reading (a
        # DOS file, lines in another encoding) are the split's
        noted = with_split_notes(result.summary, read_json(portfolio.summary), site_id)
        result = replace(result, summary=noted)
    write_result(result, site_id, out_dir)
    return result


def write_result(result: IngestResult, site_id: str, out_dir: Path) -> None:
    """Check the row partition of ``result``, log it, and write the files of :func:`run`
    into ``out_dir``."""

    bad = check_partition(result.summary["sources"])
    if bad:
        raise AssertionError(f"partition des lignes incohérente pour {bad}")
    for sid, s in result.summary["sources"].items():
        log.info(
            "%s/%s : %d lignes, %d acceptées, %d mises à jour, %d doublons, %d rejetées, "
            "%d hors zone",
            site_id,
            sid,
            s["rows_in"],
            s["accepted"],
            s["updated"],
            s["duplicates"],
            sum(s["rejected"].values()),
            s["outside_study_area"],
        )
    sources = result.summary["sources"].values()
    rows_in = sum(s["rows_in"] for s in sources)
    if rows_in and not sum(s["accepted"] + s["updated"] for s in sources):
        # Every file read, nothing kept: the run goes on (the partition is written for the
        # analyst to open), but an empty map must not look like a quiet site.
        log.warning(
            "%s : aucune des %d lignes lues n'a été retenue (voir rejected.csv et "
            "outside_study_area.csv dans %s) : les cartes seront vides.",
            site_id,
            rows_in,
            out_dir,
        )
    out_dir = Path(out_dir)
    write_points_geoparquet(result.ingested, out_dir / "ingested.parquet")
    write_csv(result.rejected, out_dir / "rejected.csv")
    write_csv(result.outside, out_dir / "outside_study_area.csv")
    write_csv(result.history, out_dir / "report_history.csv")
    write_json(result.summary, out_dir / "ingest_summary.json")
