"""The indicators stage: reads the analysis stages' outputs of one site, writes its
indicators per quarter (:mod:`pipelines.indicators.compute`). Thin I/O only."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from pipelines.config import Config
from pipelines.indicators.analyst import (
    FILE_NAME,
    read_analyst_levels,
    with_analyst_entrances,
    with_analyst_levels,
)
from pipelines.indicators.compute import (
    DWELLING_COLUMNS,
    REPORT_COLUMNS,
    REPORT_OPTIONAL,
    actions_status_counts,
    category_quarters,
    counted_reports,
    dwellings_of,
    emerging_categories,
    entrance_quarters,
    hotspot_buildings,
    site_mark,
    site_quarters,
    targets_of,
)
from pipelines.indicators.note import METHOD_NOTE_FR
from pipelines.io import (
    read_csv,
    read_geoparquet,
    read_geoparquet_attributes,
    write_json,
    write_parquet,
    write_text,
)

log = logging.getLogger(__name__)

#: What the stage writes in the site's processed folder.
OUTPUTS = (
    "indicators_site.parquet",
    "indicators_category.parquet",
    "indicators_entrance.parquet",
    "indicators_summary.json",
    "indicators_method.md",
)


def _optional_csv(path: Path) -> pd.DataFrame | None:
    """A CSV another stage wrote for people (``;``, decimal commas), or None."""
    return read_csv(path) if path.exists() else None


def _optional_table(path: Path) -> gpd.GeoDataFrame | None:
    return read_geoparquet(path) if path.exists() else None


def run(
    config: Config, site_id: str, *, processed: Path, notes: Path | None = None
) -> dict[str, Any]:
    """Compute the indicators of ``site_id`` from ``processed`` and write them there.

    Reads ``reports.parquet`` and ``buildings.parquet`` (required), ``followup.csv``,
    ``backlog.csv`` and ``emerging.parquet`` (trends) and ``actions.parquet`` when
    present, and the analyst's levels ``veille/niveaux_veille.csv`` in the site's notes folder
    ``notes`` (:mod:`pipelines.indicators.analyst`) when it exists.
    """
    config.site(site_id)
    processed = Path(processed)
    reports = counted_reports(
        read_geoparquet_attributes(
            processed / "reports.parquet", REPORT_COLUMNS, optional=REPORT_OPTIONAL
        )
    )
    buildings = read_geoparquet_attributes(
        processed / "buildings.parquet", ["building_id"], optional=(*DWELLING_COLUMNS, "gi_bin")
    )
    followup = _optional_csv(processed / "followup.csv")
    backlog = _optional_csv(processed / "backlog.csv")
    dates = pd.concat([reports["reported_at"], reports["closed_at"]]).dropna()
    as_of = dates.max() if len(dates) else pd.Timestamp.now()
    categories = category_quarters(
        reports,
        dwellings_of(buildings),
        targets_h=targets_of(followup),
        backlog=backlog,
        as_of=as_of,
    )
    site = site_quarters(
        reports,
        buildings,
        backlog=backlog,
        n_hotspot_buildings=hotspot_buildings(buildings),
        n_emerging_categories=emerging_categories(_optional_table(processed / "emerging.parquet")),
        actions_by_status=actions_status_counts(_optional_table(processed / "actions.parquet")),
    )
    levels = read_analyst_levels(Path(notes) / FILE_NAME) if notes is not None else None
    site = with_analyst_levels(site, levels)
    entrances = with_analyst_entrances(
        entrance_quarters(reports, site["quarter"].astype(str).tolist() if len(site) else []),
        levels,
    )
    write_parquet(entrances, processed / "indicators_entrance.parquet")
    if len(categories):
        categories["n_buildings"] = site["n_buildings"].iloc[0]
        categories["reports_per_building"] = (
            categories["n_reports"] / categories["n_buildings"]
        ).round(3)
    write_parquet(categories, processed / "indicators_category.parquet")
    write_parquet(site, processed / "indicators_site.parquet")
    write_text(METHOD_NOTE_FR, processed / "indicators_method.md")
    summary = {
        "quarters": site["quarter"].tolist() if len(site) else [],
        "reports_counted": len(reports),
        "dwellings_rpls": int(dwellings_of(buildings).sum()),
        "watch_level_last": site["watch_level"].iloc[-1] if len(site) else None,
        "mark": site_mark(reports, buildings),
    }
    write_json(summary, processed / "indicators_summary.json")
    log.info("%s : indicateurs de %d trimestre(s)", site_id, len(site))
    return summary
