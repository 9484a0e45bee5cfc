"""A site's stages from the stage table (:mod:`pipelines.stages`): one runner per stage
(:data:`RUNNERS`), ``vigie stage`` (one stage, what make runs), ``vigie run`` (every
stage of every site, the sites in parallel on Dask) with its task (:func:`site_task`),
and ``vigie split`` (a portfolio's inputs cut per site)."""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipelines import stages
from pipelines.config import (
    INPUT_KINDS,
    Config,
    SiteConfig,
    check_inputs,
    check_portfolio_inputs,
    load_config,
)
from pipelines.errors import ConfigError, InputError, VigieError, os_reason
from pipelines.stages import STAGE_NAMES, SitePaths, check_site_files, stage_summaries

log = logging.getLogger("pipelines")


# How to run each stage of :data:`pipelines.stages.STAGES` for one site: one function
# per stage, each importing its own stage's code when it runs (the CLI is the one module
# allowed to import inside functions). Importing every stage's code for each one cost
# about 3 s per `vigie stage` (scipy.stats, matplotlib, folium…): 36 of them in a demo,
# one per make rule; `vigie --help` and `vigie deps` load no geopandas.
Runner = Callable[[Config, SiteConfig, SitePaths], Any]


def _buildings(config: Config, site: SiteConfig, paths: SitePaths) -> None:
    from pipelines.osm import buildings

    in_portfolio = config.portfolio is not None and site.id in config.portfolio.site_ids
    buildings.run(site.osm, site.rpls, paths.buildings_osm, allow_empty=in_portfolio)


def _basemap(config: Config, site: SiteConfig, paths: SitePaths) -> None:
    from pipelines.osm import basemap

    basemap.run(site.osm, paths.processed / "basemap.parquet")


def _ingest(config: Config, site: SiteConfig, paths: SitePaths) -> None:
    from pipelines.ingest import stage as ingest

    p = paths.processed
    ingest.run(config, site.id, p, bounds=ingest.read_bounds(p / "buildings_summary.json"))


def _geocode(config: Config, site: SiteConfig, paths: SitePaths) -> None:
    from pipelines.geocode import stage as geocode

    geocode.run_site(
        config,
        site,
        reports_path=paths.ingested,
        buildings_path=paths.buildings_osm,
        dst=paths.reports,
        summary_dst=paths.geocode_summary,
        unplaced_dst=paths.unplaced,
    )


def _on_reports(
    run: Callable[..., Any], config: Config, site: SiteConfig, paths: SitePaths
) -> None:
    """An analysis stage reading the placed reports and the OSM buildings."""
    run(
        config,
        site.id,
        reports_path=paths.reports,
        buildings_path=paths.buildings_osm,
        out_dir=paths.processed,
    )


def _hotspots(config: Config, site: SiteConfig, paths: SitePaths) -> None:
    from pipelines.hotspots import stage as hotspots

    _on_reports(hotspots.run, config, site, paths)


def _zones(config: Config, site: SiteConfig, paths: SitePaths) -> None:
    from pipelines.zones import stage as zones

    zones.run(config, site.id, buildings_path=paths.buildings, out_dir=paths.processed)


def _trends(config: Config, site: SiteConfig, paths: SitePaths) -> None:
    from pipelines.trends import stage as trends

    _on_reports(trends.run, config, site, paths)


def _annotations(config: Config, site: SiteConfig, paths: SitePaths) -> None:
    from pipelines.annotations import stage as annotations

    p = paths.processed
    annotations.run(
        config,
        site.id,
        buildings_path=paths.buildings,
        zones_path=p / "zones.parquet",
        previous_notes_path=p / "annotations.parquet",
        out_dir=p,
    )


def _actions(config: Config, site: SiteConfig, paths: SitePaths) -> None:
    from pipelines import actions

    p = paths.processed
    actions.run(
        config,
        site.id,
        buildings_path=paths.buildings,
        zones_path=p / "zones.parquet",
        reports_path=paths.reports,
        annotations_path=p / "annotations.parquet",
        out_dir=p,
        folder=paths.actions,
    )


def _indicators(config: Config, site: SiteConfig, paths: SitePaths) -> None:
    from pipelines import indicators

    indicators.run(config, site.id, processed=paths.processed, notes=paths.annotations)


def _publish(config: Config, site: SiteConfig, paths: SitePaths) -> None:
    from pipelines import publish

    publish.run(config, site, processed=paths.processed, dst_dir=paths.published)


def _publish_indicators(config: Config, site: SiteConfig, paths: SitePaths) -> None:
    from pipelines import publish

    publish.run_indicators(config, site, processed=paths.processed, dst_dir=paths.published)


def _summary(config: Config, site: SiteConfig, paths: SitePaths) -> None:
    from pipelines.publish import summary

    summary.run(config, site.id, stage_summaries(paths.processed), paths.run_summary)


def _charts(config: Config, site: SiteConfig, paths: SitePaths) -> None:
    from pipelines.maps import charts

    charts.run_charts(config, site, processed=paths.processed, dst_dir=paths.charts)


def _gpkg(config: Config, site: SiteConfig, paths: SitePaths) -> None:
    from pipelines.maps import gpkg

    gpkg.run_gpkg(config, site, processed=paths.processed, dst=paths.gpkg)


def _map(config: Config, site: SiteConfig, paths: SitePaths) -> None:
    from pipelines.maps import site as maps

    maps.run_site(config, site, processed=paths.processed, dst=paths.map)


def _comite(config: Config, site: SiteConfig, paths: SitePaths) -> None:
    from pipelines.maps import pack

    pack.run_pack(config, site, processed=paths.processed, dst=paths.pack)


def _publish_public(config: Config, site: SiteConfig, paths: SitePaths) -> None:
    from pipelines import publish

    # the tables, then the indicators under the same profile beside them (the
    # indicators must agree with the tables)
    p = paths.processed
    public, profile = p / stages.PUBLIC_DIR, site.publication.exports_profile
    for step in (publish.run, publish.run_indicators):
        step(config, site, processed=p, dst_dir=public, profile=profile)


def _public(config: Config, site: SiteConfig, paths: SitePaths) -> None:
    from pipelines.maps import site as maps

    maps.run_public(config, site, processed=paths.processed, dst_dir=paths.maps / "public")


RUNNERS: dict[str, Runner] = {
    "buildings": _buildings,
    "basemap": _basemap,
    "ingest": _ingest,
    "geocode": _geocode,
    "hotspots": _hotspots,
    "zones": _zones,
    "trends": _trends,
    "annotations": _annotations,
    "actions": _actions,
    "indicators": _indicators,
    "publish": _publish,
    "publish_indicators": _publish_indicators,
    "summary": _summary,
    "charts": _charts,
    "gpkg": _gpkg,
    "map": _map,
    "comite": _comite,
    "publish_public": _publish_public,
    "public": _public,
}


def run_stage(config: Config, site: SiteConfig, name: str, paths: SitePaths) -> None:
    """Run one stage of :data:`pipelines.stages.STAGES` for ``site``."""
    if set(RUNNERS) != set(STAGE_NAMES):  # the table and the runners name the same stages
        raise AssertionError(f"stages without a runner: {set(STAGE_NAMES) ^ set(RUNNERS)}")
    RUNNERS[name](config, site, paths)


def run_site_stages(
    config: Config, site: SiteConfig, *, through: str = "comite", progress: Any = None
) -> SitePaths:
    """Run the stages of one site in the table's order, up to and including ``through``.

    The same graph ``make`` runs file by file (both come from :mod:`pipelines.stages`);
    ``vigie run`` and the tests call it. ``progress``: a :class:`pipelines.progress.Progress`
    advanced by one step per stage run.
    """
    if through not in STAGE_NAMES:
        raise ValueError(f"unknown stage {through!r}; stages: {', '.join(STAGE_NAMES)}")
    if STAGE_NAMES.index(through) >= STAGE_NAMES.index("ingest"):
        check_inputs(config, site.id)  # every input, before the first stage runs
    paths = SitePaths.of(config, site.id)
    names = STAGE_NAMES[: STAGE_NAMES.index(through) + 1]
    for i, name in enumerate(names):
        if progress is not None:
            progress.update(0, step=f"{site.id} : {name}…")  # shown while it runs
        RUNNERS[name](config, site, paths)
        if progress is not None:
            progress.update(step=f"{site.id} : {name}")
        if name == "ingest" and len(names) > i + 1 and _without_buildings(paths):
            _stop_without_buildings(site, paths)
            if progress is not None:
                progress.update(len(names) - i - 1, step=f"{site.id} : sans bâtiment")
            break
    return paths


def _without_buildings(paths: SitePaths) -> bool:
    """The buildings stage found no OSM building in the site's extract (only a
    portfolio's site may have none: :func:`pipelines.osm.buildings.run`)."""
    summary = paths.processed / "buildings_summary.json"
    return summary.exists() and _json_of(summary).get("buildings") == 0


def _json_of(path: Path) -> dict[str, Any]:
    # the json module, not pipelines.io: the CLI loads no geopandas before a command runs
    out: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return out


def _stop_without_buildings(site: SiteConfig, paths: SitePaths) -> None:
    """A portfolio's site whose perimeter holds no OSM building: nothing to place its
    reports on, so no analysis, map or pack. Its rows were partitioned by ingestion
    (``rejected.csv``, ``outside_study_area.csv``, the rest listed in ``unplaced.csv``
    with their reason); the published summary marks it for the portfolio page."""
    from pipelines import publish

    publish.publish_without_buildings(site, processed=paths.processed, dst_dir=paths.published)
    ingest = _json_of(paths.processed / "ingest_summary.json").get("totals", {})
    log.warning(
        "site « %s » : aucun bâtiment OSM dans le périmètre ; %s ligne(s) lue(s) (%s "
        "placée(s) sur aucun bâtiment, unplaced.csv ; %s rejetée(s) ; %s hors zone ; dans %s) : "
        "pas d'analyse, de carte ni de dossier, le site reste marqué dans le tableau du "
        "portefeuille.",
        site.id,
        ingest.get("rows_in", "?"),
        ingest.get("accepted", "?"),
        ingest.get("rejected", "?"),
        ingest.get("outside_study_area", "?"),
        paths.processed,
    )


def cmd_stage(args: argparse.Namespace) -> None:
    """One stage of the table for one site, with explicit folders (what make runs)."""
    config = load_config(args.config)
    site = config.site(args.site)
    stage = stages.stage(args.name)
    _check_processed_site(site.id, Path(args.processed_dir), SitePaths.of(config, site.id))
    # Only what the stage reads: make orders a stage after the steps that write its
    # inputs, not after those that write another stage's (make -j).
    kinds = set(INPUT_KINDS) & set(stage.settings)
    if kinds - {"osm"}:
        check_inputs(config, site.id, kinds=kinds)
    paths = SitePaths(
        site=site.id,
        processed=Path(args.processed_dir),
        maps=Path(args.maps_dir),
        annotations=SitePaths.of(config, site.id).annotations,
        actions=SitePaths.of(config, site.id).actions,
    )
    if _after_ingest_without_buildings(site, stage.name, paths):
        return
    run_stage(config, site, stage.name, paths)


def _check_processed_site(site_id: str, processed: Path, usual: SitePaths) -> None:
    """Refuse a processed folder that another site's ingestion wrote (its
    ``ingest_summary.json`` names that site): ``--processed-dir`` of Paris 10e given for
    Bondy, the actions stage refused each of Bondy's actions as « bâtiment absent des
    bâtiments actuels : démoli ? », and the stages before it overwrote Paris's files."""
    summary = processed / "ingest_summary.json"
    try:
        found = _json_of(summary).get("site") if summary.is_file() else None
    except (OSError, ValueError, AttributeError):
        return  # not this check's to judge: the stage that reads it says what is wrong
    if isinstance(found, str) and found != site_id:
        raise InputError(
            processed,
            f"ce dossier est celui du site « {found} » (son ingest_summary.json), pas de "
            f"« {site_id} » : rien n'y est écrit. Donnez le dossier de « {site_id} » "
            f"(--processed-dir {usual.processed}).",
        )


def _after_ingest_without_buildings(site: SiteConfig, name: str, paths: SitePaths) -> bool:
    """make's path for a portfolio site whose perimeter holds no OSM building, as
    :func:`run_site_stages` stops after ingestion: each stage after it has nothing to
    work on and writes nothing, but ``publish_indicators``, whose published summary it
    is, writes the marked one and lists the rows (:func:`_stop_without_buildings`), so
    that the portfolio page keeps the site, marked. Its targets missing, make runs
    these recipes again at each call (a Python start each, about a second)."""
    if STAGE_NAMES.index(name) <= STAGE_NAMES.index("ingest") or not _without_buildings(paths):
        return False
    if name == "publish_indicators":
        _stop_without_buildings(site, paths)
    else:
        log.info(
            "site %s : aucun bâtiment OSM dans le périmètre, étape %s sans objet", site.id, name
        )
    return True


def cmd_split(args: argparse.Namespace) -> None:
    """A portfolio's extract and shared exports cut per site (pipelines/portfolio)."""
    config = load_config(args.config)
    if config.portfolio is None:
        raise ConfigError(config.path, "pas de table [portfolio] : rien à répartir.")
    # A site whose files would be another's or the index page's, refused before its
    # extract and exports are cut, as `vigie run` refuses it.
    check_site_files(config)
    check_portfolio_inputs(config)
    from pipelines import portfolio

    summary = portfolio.run(config)
    log.info(
        "%d lignes lues, %d hors de tout site (%s)",
        summary["rows_read"],
        summary["outside_every_site"],
        config.portfolio.outside,
    )


def site_task(site_id: str, config: Config, through: str) -> str | None:
    """One site's stages, as a task of a Dask worker (:mod:`pipelines.parallel`).

    Returns ``None``, or the French message of a user error: a :class:`VigieError`
    crosses processes as its text only.
    """
    if not logging.getLogger().handlers:  # a worker process: warnings only
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        run_site_stages(config, config.site(site_id), through=through)
    except VigieError as err:
        return str(err)
    except OSError as err:
        if err.filename is None:
            raise
        return f"{err.filename} : {os_reason(err)}."
    return None


def cmd_run(args: argparse.Namespace) -> None:
    """Every stage for every site of the configuration (or the one given): a portfolio
    split first, then the sites in parallel on Dask (or one after the other with
    ``--sequential``, or when there is one site only)."""
    config = load_config(args.config)
    stages.check_site_files(config)
    sites = [config.site(args.site)] if args.site else list(config.sites)
    through = args.through
    if args.sequential and (args.scheduler is not None or args.workers is not None):
        raise VigieError(  # one of them would be ignored
            "--sequential traite les sites ici, l'un après l'autre, sans Dask : il ne va "
            "ni avec --scheduler ni avec --workers ; retirez l'un ou l'autre."
        )
    if args.scheduler is not None and args.workers is not None:  # --workers was ignored
        raise VigieError(
            "--workers fixe les processus d'une grappe locale ; avec --scheduler, ce sont "
            "les workers lancés sur la grappe existante (dask worker) : retirez --workers."
        )
    if args.workers is not None:  # out of bounds: said before any work, whatever the path
        from pipelines.portfolio.parallel import local_workers

        local_workers(args.workers, len(sites))
    ids = [site.id for site in sites]
    what = f"Vigie ({', '.join(ids)})"
    split = config.portfolio is not None and bool(set(ids) & set(config.portfolio.site_ids))
    from pipelines.progress import Progress

    if args.sequential or (len(sites) == 1 and args.scheduler is None):
        if split:
            cmd_split(args)
        steps = len(sites) * (STAGE_NAMES.index(through) + 1)
        with Progress(what, steps, unit="étape") as progress:
            for site in sites:
                log.info("site %s", site.id)
                run_site_stages(config, site, through=through, progress=progress)
    else:
        from pipelines.portfolio import parallel

        # The cluster first: a scheduler that does not answer stops the run at once.
        with parallel.dask_client(args.scheduler, args.workers, tasks=len(sites)) as client:
            if split:  # read once, here; each worker then reads its sites' part only
                cmd_split(args)
            with Progress(what, len(sites), unit="site") as progress:
                parallel.run_tasks(
                    client,
                    site_task,
                    ids,
                    config,
                    through,
                    on_done=lambda sid: progress.update(step=sid),
                )
    if STAGE_NAMES.index(through) >= STAGE_NAMES.index("comite"):
        from pipelines.maps import site as maps

        maps.run_index(config, dst=Path(config.maps_dir) / "index.html")
