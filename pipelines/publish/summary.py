"""The run summary of a site: every stage's counts and parameters in one JSON file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipelines import __version__
from pipelines.config import Config
from pipelines.io import read_json, write_json
from pipelines.reports import PARTITION_TEXT, check_partition


def build_summary(
    config: Config,
    site_id: str,
    parts: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """Assemble ``run_summary.json`` from the stage summaries.

    Parameters
    ----------
    parts
        Stage name (``ingest``, ``geocode``, ``hotspots``, ``trends``…) to that stage's
        summary dictionary.
    """
    site = config.site(site_id)
    ingest = parts.get("ingest", {})
    sources = ingest.get("sources", {})
    bad = check_partition(sources)
    if bad:
        raise AssertionError(f"partition des lignes incohérente pour {bad}")
    return {
        "site": {"id": site.id, "name": site.name, "simulated": site.simulated},
        "software": {"name": "vigie", "version": __version__},
        "config": config.path,
        "partition": PARTITION_TEXT,
        "sources": sources,
        "totals": ingest.get("totals", {}),
        **{k: v for k, v in parts.items() if k != "ingest"},
        "parameters": site.params,
    }


def run(config: Config, site_id: str, stage_files: dict[str, Path], dst: Path) -> dict[str, Any]:
    """Read each stage's summary file and write the site's ``run_summary.json``."""
    parts = {name: read_json(path) for name, path in stage_files.items() if Path(path).exists()}
    summary = build_summary(config, site_id, parts)
    write_json(summary, dst)
    return summary
