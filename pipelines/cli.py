"""Command line: ``vigie <stage> …`` (also ``python -m pipelines <stage> …``).

``vigie run --config FILE`` runs every stage for every site; the stage subcommands take
explicit input and output paths so that ``make`` owns the dependency graph. A user error
(bad configuration or input file) prints one message naming the file and exits with
code 2, without a traceback; so does a failed read or write of a user's path (full disk,
read-only folder, permission denied). Each command loads (and checks) its configuration
before it imports its stage's modules, so that a mistake is reported within about a
second rather than after the stage's heavy imports.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from pipelines import __version__, stages
from pipelines.config import (
    INPUT_KINDS,
    Config,
    SiteConfig,
    check_inputs,
    check_portfolio_inputs,
    load_config,
)
from pipelines.errors import ConfigError, VigieError, os_reason
from pipelines.stages import STAGE_NAMES, SitePaths, stage_summaries

log = logging.getLogger("pipelines")


# --------------------------------------------------------------------------- stages
def cmd_simulate(args: argparse.Namespace) -> None:
    from pipelines.simulate import stage as simulate

    simulate.run(
        args.osm,
        args.ban,
        args.out_dir,
        rpls_path=args.rpls,
        seed=args.seed,
        pattern=not args.no_pattern,
        actions_dir=args.actions_dir,
    )


def cmd_buildings(args: argparse.Namespace) -> None:
    from pipelines.osm import buildings

    buildings.run(args.osm, args.rpls, args.out)


def cmd_ingest(args: argparse.Namespace) -> None:
    config = load_config(args.config)
    # Ingestion never reads the OSM file, but without study_area_bbox its study area is
    # the extract's bounds (the OSM stage's summary): the extract must exist.
    no_area = config.site(args.site).study_area_bbox is None
    check_inputs(config, args.site, osm=no_area)
    from pipelines.ingest import stage as ingest

    # The OSM stage's summary gives the study area when no study_area_bbox is set.
    bounds = ingest.read_bounds(Path(args.bounds)) if args.bounds else None
    ingest.run(config, args.site, Path(args.out_dir), bounds=bounds)


def cmd_geocode(args: argparse.Namespace) -> None:
    config = load_config(args.config)
    site = config.site(args.site)
    check_inputs(config, site.id, osm=False)
    from pipelines.geocode import stage as geocode

    geocode.run_site(
        config,
        site,
        reports_path=args.reports,
        buildings_path=args.buildings,
        dst=args.out,
        summary_dst=args.summary,
    )


def cmd_hotspots(args: argparse.Namespace) -> None:
    config = load_config(args.config)
    from pipelines.hotspots import stage as hotspots

    hotspots.run(
        config,
        args.site,
        reports_path=args.reports,
        buildings_path=args.buildings,
        out_dir=Path(args.out_dir),
    )


def cmd_trends(args: argparse.Namespace) -> None:
    config = load_config(args.config)
    from pipelines.trends import stage as trends

    trends.run(
        config,
        args.site,
        reports_path=args.reports,
        buildings_path=args.buildings,
        out_dir=Path(args.out_dir),
    )


def cmd_basemap(args: argparse.Namespace) -> None:
    from pipelines.osm import basemap

    basemap.run(args.osm, args.out)


def cmd_zones(args: argparse.Namespace) -> None:
    config = load_config(args.config)
    from pipelines.zones import stage as zones

    zones.run(config, args.site, buildings_path=args.buildings, out_dir=Path(args.out_dir))


def cmd_annotations(args: argparse.Namespace) -> None:
    config = load_config(args.config)
    from pipelines.annotations import stage as annotations

    out_dir = Path(args.out_dir)
    annotations.run(
        config,
        args.site,
        buildings_path=args.buildings,
        zones_path=args.zones,
        previous_notes_path=out_dir / "annotations.parquet",
        out_dir=out_dir,
    )


def cmd_actions_template(args: argparse.Namespace) -> None:
    """Write the action register's template into a site's folder (never over a file)."""
    config = load_config(args.config)
    stages.check_site_files(config)
    sites = [config.site(args.site)] if args.site else list(config.sites)
    from pipelines.actions import template

    for site in sites:
        folder = Path(args.out_dir) if args.out_dir else SitePaths.of(config, site.id).actions
        for path, written in template.write_template(
            folder, partners=site.settings.actions.partners
        ):
            if written:
                print(f"Modèle du registre des actions écrit : {path}")
            else:
                print(f"{path} existe déjà : laissé tel quel (rien n'est écrasé).")


def cmd_screenshots(args: argparse.Namespace) -> None:
    from pipelines.maps import screenshots

    screenshots.run(Path(args.maps_dir), Path(args.out_dir))


def cmd_summary(args: argparse.Namespace) -> None:
    config = load_config(args.config)
    from pipelines.publish import summary

    paths = SitePaths.of(config, args.site)
    processed = Path(args.processed_dir) if args.processed_dir else paths.processed
    summary.run(config, args.site, stage_summaries(processed), Path(args.out))


def cmd_publish(args: argparse.Namespace) -> None:
    config = load_config(args.config)
    from pipelines import publish

    site = config.site(args.site)
    paths = SitePaths.of(config, site.id)
    processed = Path(args.processed_dir) if args.processed_dir else paths.processed
    out_dir = Path(args.out_dir) if args.out_dir else processed / paths.published.name
    publish.run(config, site, processed=processed, dst_dir=out_dir)


def cmd_ledger_reset(args: argparse.Namespace) -> None:
    """Archive the ledger of a site and a profile (a deliberate reset)."""
    config = load_config(args.config)
    from pipelines.publish import ledger

    site = config.site(args.site)
    rule = site.publication.rule(args.profile)
    path = ledger.site_ledger_path(config, site, rule.name)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    archived = ledger.archive_ledger(path, stamp=stamp)
    if archived is None:
        print(f"Aucun registre pour le site « {site.id} », profil « {rule.name} » ({path}).")
    else:
        print(
            f"Registre du site « {site.id} », profil « {rule.name} » archivé : {archived}. "
            "La prochaine publication de ce profil ne fige aucune période."
        )


def cmd_charts(args: argparse.Namespace) -> None:
    config = load_config(args.config)
    from pipelines.maps import charts

    site = config.site(args.site)
    paths = SitePaths.of(config, site.id)
    processed = Path(args.processed_dir) if args.processed_dir else paths.processed
    out_dir = Path(args.out_dir) if args.out_dir else processed / paths.charts.name
    charts.run_charts(config, site, processed=processed, dst_dir=out_dir)


def cmd_map(args: argparse.Namespace) -> None:
    config = load_config(args.config)
    from pipelines.maps import site as maps

    site = config.site(args.site)
    processed = (
        Path(args.processed_dir) if args.processed_dir else SitePaths.of(config, site.id).processed
    )
    maps.run_site(config, site, processed=processed, dst=Path(args.out))


def cmd_index(args: argparse.Namespace) -> None:
    config = load_config(args.config)
    from pipelines.maps import site as maps

    maps.run_index(config, dst=Path(args.out))


def cmd_secret(args: argparse.Namespace) -> None:
    """Create a site's secret (never overwrites one)."""
    config = load_config(args.config)
    config.site(args.site)
    from pipelines.ingest import household

    path = household.create_secret(household.secret_path(config.secrets_dir, args.site))
    print(
        f"Secret du site « {args.site} » créé : {path} (lisible par vous seul ; à garder hors "
        "du dépôt, à sauvegarder, à ne jamais diffuser)."
    )


def cmd_deps(args: argparse.Namespace) -> None:
    config = load_config(args.config)
    stages.check_site_files(config)
    from pipelines.config.make import write_deps

    for site in config.sites:
        # make writes a simulated site's exports itself, after this fragment.
        check_inputs(config, site.id, simulated_exports=False)
    write_deps(config, Path(args.out))


def cmd_init(args: argparse.Namespace) -> int:
    """``vigie init`` (pipelines/workbench/init.py)."""
    from pipelines.workbench import init

    return init.main(args)


def cmd_doctor(args: argparse.Namespace) -> int:
    """``vigie doctor`` (pipelines/workbench/doctor.py): the installation is checked with
    the standard library first, so that a missing package is reported, not raised."""
    from pipelines.workbench import installation

    report = installation.Report()
    if not installation.main(report):
        return report.finish()
    from pipelines.workbench import doctor

    return doctor.main(args.config, report)


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
    ``vigie run`` and the tests call it. ``progress``: a :class:`pipelines.io.Progress`
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
    if args.workers is not None and args.workers < 1:
        raise VigieError("--workers : attendu un nombre de processus au moins égal à 1.")
    ids = [site.id for site in sites]
    what = f"Vigie ({', '.join(ids)})"
    split = config.portfolio is not None and bool(set(ids) & set(config.portfolio.site_ids))
    from pipelines.io import Progress

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
        with parallel.dask_client(args.scheduler, args.workers) as client:
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


# --------------------------------------------------------------------------- parser
#: argparse's error messages (Python 3.11 to 3.13), in French: pattern, French message
#: (``{0}``, ``{1}``…: the pattern's groups). A message not listed keeps its English
#: words, in parentheses after « arguments invalides ».
_ARGPARSE_MESSAGES_FR = (
    (r"the following arguments are required: (.+)", "argument(s) obligatoire(s) manquant(s) : {0}"),
    (r"unrecognized arguments: (.+)", "argument(s) en trop ou inconnu(s) : {0}"),
    (r"one of the arguments (.+) is required", "un des arguments {0} est obligatoire"),
    (r"ambiguous option: (\S+) could match (.+)", "option {0} ambiguë : elle peut être {1}"),
    (r"argument (\S+): expected one argument", "{0} attend une valeur"),
    (r"argument (\S+): expected at least one argument", "{0} attend au moins une valeur"),
    (r"argument (\S+): expected at most one argument", "{0} attend au plus une valeur"),
    (r"argument (\S+): expected (\d+) arguments?", "{0} attend {1} valeur(s)"),
    (r"argument (\S+): ignored explicit argument (.+)", "{0} ne prend pas de valeur ({1})"),
    (r"argument (\S+): not allowed with argument (\S+)", "{0} et {1} s'excluent"),
    (
        r"argument (\S+): invalid choice: (.+?) \(choose from (.+)\)",
        "{0} : {1} n'est pas un choix possible ; choix : {2}",
    ),
    (r"argument (\S+): invalid int value: (.+)", "{0} : {1} n'est pas un nombre entier"),
    (r"argument (\S+): invalid float value: (.+)", "{0} : {1} n'est pas un nombre"),
    (r"argument (\S+): invalid \S+ value: (.+)", "{0} : valeur {1} invalide"),
)


def argparse_error_fr(message: str) -> str:
    """An argparse error message in French (:data:`_ARGPARSE_MESSAGES_FR`)."""
    for pattern, french in _ARGPARSE_MESSAGES_FR:
        found = re.fullmatch(pattern, message)
        if found:
            return french.format(*found.groups())
    return f"arguments invalides ({message})"


class FrenchArgumentParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one French line, exit code 2, like
    every other user error (argparse's own are English, after its usage text); its
    subcommands' parsers are of the same class (argparse makes them so), and their
    ``-h`` says what it does in French."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("add_help", True)
        add_help = kwargs["add_help"]
        kwargs["add_help"] = False
        super().__init__(**kwargs)
        if add_help:
            self.add_argument(
                "-h", "--help", action="help", default=argparse.SUPPRESS, help="affiche cette aide"
            )

    def error(self, message: str) -> NoReturn:
        self.exit(
            VigieError.exit_code,
            f"{self.prog} : erreur : {argparse_error_fr(message)} (aide : {self.prog} --help).\n",
        )


def build_parser() -> argparse.ArgumentParser:
    # The analyst's tools register their own options (standard library only); imported
    # here, as the stages are, so that no shared module depends on a tool at import.
    from pipelines.workbench import options as workbench_options

    parser = FrenchArgumentParser(
        prog="vigie",
        description="Vigie : des signalements de la veille technique et sociale aux cartes.",
    )
    parser.add_argument(
        "--version", action="version", version=f"vigie {__version__}", help="affiche la version"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="moins de messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMANDE")

    def add(name: str, func, help_: str) -> argparse.ArgumentParser:  # type: ignore[no-untyped-def]
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func)
        return p

    p = add(
        "run",
        cmd_run,
        "toutes les étapes pour tous les sites de la configuration, les sites en parallèle (Dask)",
    )
    p.add_argument("--config", required=True)
    p.add_argument("--site", help="un seul site (par défaut : tous)")
    p.add_argument(
        "--scheduler",
        metavar="ADRESSE",
        help="ordonnanceur Dask existant (tcp://hôte:8786) ; par défaut, une grappe locale",
    )
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="processus de la grappe locale (par défaut : un par processeur)",
    )
    p.add_argument(
        "--sequential", action="store_true", help="les sites l'un après l'autre, sans Dask"
    )
    p.add_argument(
        "--through",
        choices=STAGE_NAMES[: STAGE_NAMES.index("comite") + 1],
        default="comite",
        help="dernière étape à lancer (par défaut : comite, le dossier de comité)",
    )

    p = add(
        "split",
        cmd_split,
        "portefeuille : découpe l'extrait OSM et répartit les exports partagés entre les sites",
    )
    p.add_argument("--config", required=True)

    p = add("simulate", cmd_simulate, "simule les signalements de Bondy Nord (données simulées)")
    p.add_argument("--osm", required=True)
    p.add_argument("--ban", required=True)
    p.add_argument("--rpls")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--no-pattern", action="store_true", help="données sans motif (test à blanc)")
    p.add_argument(
        "--actions-dir",
        help="dossier du registre d'actions simulé (par défaut : --out-dir)",
    )

    p = add("buildings", cmd_buildings, "emprises des bâtiments OSM et logements (RPLS)")
    p.add_argument("--osm", required=True)
    p.add_argument("--rpls")
    p.add_argument("--out", required=True)

    for name, func, help_ in (
        (
            "ingest",
            cmd_ingest,
            "lit les sources d'un site : acceptés, mises à jour, doublons, rejetés, hors zone",
        ),
    ):
        p = add(name, func, help_)
        p.add_argument("--config", required=True)
        p.add_argument("--site", required=True)
        p.add_argument("--out-dir", required=True)
        p.add_argument(
            "--bounds",
            help="buildings_summary.json de l'étape OSM : son emprise sert de zone d'étude "
            "quand study_area_bbox n'est pas renseigné",
        )

    p = add("geocode", cmd_geocode, "rattache chaque signalement à un bâtiment")
    p.add_argument("--config", required=True)
    p.add_argument("--site", required=True)
    p.add_argument("--reports", required=True)
    p.add_argument("--buildings", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--summary", required=True)

    p = add("hotspots", cmd_hotspots, "comptages, taux, points chauds (Gi*), densité")
    p.add_argument("--config", required=True)
    p.add_argument("--site", required=True)
    p.add_argument("--reports", required=True)
    p.add_argument("--buildings", required=True)
    p.add_argument("--out-dir", required=True)

    p = add("trends", cmd_trends, "séries mensuelles, Mann-Kendall, points chauds émergents")
    p.add_argument("--config", required=True)
    p.add_argument("--site", required=True)
    p.add_argument("--reports", required=True)
    p.add_argument("--buildings", required=True)
    p.add_argument("--out-dir", required=True)

    p = add("basemap", cmd_basemap, "fond de plan hors ligne tiré du fichier OSM")
    p.add_argument("--osm", required=True)
    p.add_argument("--out", required=True)

    p = add(
        "zones", cmd_zones, "zones de points chauds, identifiants stables d'un passage à l'autre"
    )
    p.add_argument("--config", required=True)
    p.add_argument("--site", required=True)
    p.add_argument("--buildings", required=True)
    p.add_argument("--out-dir", required=True)

    p = add(
        "annotations",
        cmd_annotations,
        "intègre les notes des urbanistes (data/annotations/<site>/)",
    )
    p.add_argument("--config", required=True)
    p.add_argument("--site", required=True)
    p.add_argument("--buildings", required=True)
    p.add_argument("--zones", required=True)
    p.add_argument("--out-dir", required=True)

    p = add(
        "actions-template",
        cmd_actions_template,
        "écrit le modèle du registre des actions (XLSX et CSV) dans data/actions/<site>/, "
        "sans rien écraser",
    )
    p.add_argument("--config", required=True)
    p.add_argument("--site", help="un seul site (par défaut : tous)")
    p.add_argument("--out-dir", help="dossier du registre (par défaut : celui du site)")

    p = add("screenshots", cmd_screenshots, "captures PNG des cartes et de l'index (Chromium)")
    p.add_argument("--maps-dir", required=True)
    p.add_argument("--out-dir", required=True)

    p = add("stage", cmd_stage, "une étape du tableau des étapes pour un site (ce que make lance)")
    p.add_argument("name", choices=STAGE_NAMES, metavar="ÉTAPE", help=", ".join(STAGE_NAMES))
    p.add_argument("--config", required=True)
    p.add_argument("--site", required=True)
    p.add_argument("--processed-dir", required=True)
    p.add_argument("--maps-dir", required=True)

    p = add("summary", cmd_summary, "rassemble le bilan du site (run_summary.json)")
    p.add_argument("--config", required=True)
    p.add_argument("--site", required=True)
    p.add_argument("--processed-dir")
    p.add_argument("--out", required=True)

    p = add(
        "publish",
        cmd_publish,
        "tables publiées d'un site (published/) : ce que lisent la carte, le PNG et l'index",
    )
    p.add_argument("--config", required=True)
    p.add_argument("--site", required=True)
    p.add_argument("--processed-dir")
    p.add_argument("--out-dir")

    p = add(
        "ledger-reset",
        cmd_ledger_reset,
        "archive le registre des périodes publiées d'un site et d'un profil (remise à zéro "
        "délibérée : la publication suivante ne fige rien)",
    )
    p.add_argument("--config", required=True)
    p.add_argument("--site", required=True)
    p.add_argument("--profile", help="profil (par défaut : celui des lecteurs, comite)")

    p = add("charts", cmd_charts, "graphiques d'un site pour le comité (PNG et CSV, charts/)")
    p.add_argument("--config", required=True)
    p.add_argument("--site", required=True)
    p.add_argument("--processed-dir")
    p.add_argument("--out-dir")

    p = add("map", cmd_map, "carte HTML autonome (hors ligne) d'un site")
    p.add_argument("--config", required=True)
    p.add_argument("--site", required=True)
    p.add_argument("--processed-dir")
    p.add_argument("--out", required=True)

    p = add("index", cmd_index, "page d'accueil maps/index.html")
    p.add_argument("--config", required=True)
    p.add_argument("--out", required=True)

    p = add(
        "secret",
        cmd_secret,
        "crée le secret d'un site (clés de foyer des signalements) ; ne remplace jamais un secret",
    )
    p.add_argument("--config", required=True)
    p.add_argument("--site", required=True)

    p = add("init", cmd_init, workbench_options.INIT_HELP)
    workbench_options.init_arguments(p)

    p = add("doctor", cmd_doctor, workbench_options.DOCTOR_HELP)
    workbench_options.doctor_arguments(p)

    p = add("deps", cmd_deps, "écrit les dépendances make de la configuration")
    p.add_argument("--config", required=True)
    p.add_argument("--out", required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        code = args.func(args)  # None, or the exit code of a check (vigie doctor)
    except VigieError as err:
        print(f"vigie : erreur : {err}", file=sys.stderr)
        return err.exit_code
    except OSError as err:
        # A read or write of a named path that failed (permission denied, full disk…)
        # is the user's to fix: one message naming the path. An OSError without a path
        # is no I/O on a user's file and propagates as a programming error.
        if err.filename is None:
            raise
        print(f"vigie : erreur : {err.filename} : {os_reason(err)}.", file=sys.stderr)
        return VigieError.exit_code
    except KeyboardInterrupt:
        print("vigie : interrompu", file=sys.stderr)
        return 130
    return code if isinstance(code, int) else 0


def run() -> NoReturn:
    """The ``vigie`` command and ``python -m pipelines``: :func:`main`, then the process
    ends with its code at once, without the interpreter's teardown.

    At the end of a process, the C++ libraries' objects are destroyed, Arrow's thread
    pools (pyarrow) among them, and now and then one of their threads is still alive:
    ``std::terminate``, « terminate called without an active exception » on stderr, and
    the process dies with signal 6 (code -6) after its work or its French error, so make
    or a calling script sees a failure that is none (apache/arrow#34314). Seen here on a
    refused ingestion about 1 run in 25 on a loaded 2-core machine
    (``tests/test_errors.py`` failed so once), never once ended this way in 150.

    Everything the command writes is closed by then (each file and temporary folder in
    a ``with``, a Dask cluster closed by its ``ExitStack``; Vigie registers no
    ``atexit`` callback), so only the logging handlers and the standard streams are
    flushed here before :func:`os._exit`. An unexpected exception still goes up as a
    traceback, through the normal exit."""
    try:
        code = main()
    except SystemExit as exit_:  # argparse: --help (0), a bad option (2)
        code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BrokenPipeError, ValueError):  # reader gone (| head)
            stream.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
