"""The run summary of a site: every stage's counts and parameters in one JSON file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipelines import __version__
from pipelines.config import Config
from pipelines.errors import InputError
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
    if "portfolio" in parts:
        parts = {**parts, "portfolio": portfolio_part(site_id, parts["portfolio"], sources)}
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


def portfolio_part(site_id: str, split: dict[str, Any], sources: dict[str, Any]) -> dict[str, Any]:
    """What the portfolio's split says of the site: the rows it gave the site per source,
    beside each shared export's rows read and rows outside every site.

    Raises
    ------
    AssertionError
        The site's ingestion did not read the rows the split gave it.
    """
    given = split["by_site"][site_id]
    for source, n in given.items():
        if sources.get(source, {}).get("rows_in") != n:
            raise AssertionError(
                f"partition du portefeuille incohérente pour {source} : {n} lignes données "
                f"au site {site_id}, {sources.get(source, {}).get('rows_in')} lues"
            )
    return {
        "rows_given_by_split": given,
        "export_rows_read": {s: c["rows_read"] for s, c in split["sources"].items()},
        "export_rows_outside_every_site": {
            s: c["outside_every_site"] for s, c in split["sources"].items()
        },
        "overlap_rule": split["overlap_rule"],
    }


def run(config: Config, site_id: str, stage_files: dict[str, Path], dst: Path) -> dict[str, Any]:
    """Read each stage's summary file (and, for a site of ``[portfolio]``, the split's)
    and write the site's ``run_summary.json``."""
    # Every site's run starts with ingestion: without its summary the folder is not a
    # site's processed folder (a wrong --processed-dir), and a run summary of nothing
    # would say the run added up.
    ingest = Path(stage_files["ingest"])
    if not ingest.is_file():
        raise InputError(
            ingest,
            f"résumé de l'ingestion introuvable pour le site « {site_id} » : ce dossier "
            "n'est pas celui d'un site traité (vérifiez --processed-dir) ou l'ingestion "
            "n'a pas encore été lancée (make ou vigie run)",
        )
    portfolio = config.portfolio
    if portfolio is not None and site_id in portfolio.site_ids:
        stage_files = {**stage_files, "portfolio": portfolio.summary}
    parts = {name: read_json(path) for name, path in stage_files.items() if Path(path).exists()}
    summary = build_summary(config, site_id, parts)
    write_json(summary, dst)
    return summary
