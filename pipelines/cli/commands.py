"""The commands of one stage or tool with explicit paths (``vigie ingest``, ``vigie
publish``, ``vigie secret``…): each loads and checks its configuration, then imports its
stage's code (:mod:`pipelines.cli`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines import stages
from pipelines.config import Config, SiteConfig, check_inputs, load_config
from pipelines.stages import SitePaths, stage_summaries


def _processed(args: argparse.Namespace, paths: SitePaths) -> Path:
    """The site's processed folder: ``--processed-dir`` when given, else the
    configuration's."""
    return Path(args.processed_dir) if args.processed_dir else paths.processed


def _folders(args: argparse.Namespace, config: Config, out: str) -> tuple[SiteConfig, Path, Path]:
    """The command's site, its processed folder (:func:`_processed`) and its output
    folder: ``--out-dir`` when given, else the folder ``out`` of :class:`SitePaths`
    (``published``, ``charts``) inside the processed one."""
    site = config.site(args.site)
    paths = SitePaths.of(config, site.id)
    processed = _processed(args, paths)
    default = processed / getattr(paths, out).name
    return site, processed, Path(args.out_dir) if args.out_dir else default


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
        unplaced_dst=args.unplaced or Path(args.summary).with_name("unplaced.csv"),
    )


def _on_reports(run: Callable[..., Any], config: Config, args: argparse.Namespace) -> None:
    """An analysis stage reading the placed reports and the OSM buildings, on the
    command's paths (as :func:`pipelines.cli.sites._on_reports` on the site's)."""
    run(
        config,
        args.site,
        reports_path=args.reports,
        buildings_path=args.buildings,
        out_dir=Path(args.out_dir),
    )


def cmd_hotspots(args: argparse.Namespace) -> None:
    config = load_config(args.config)
    from pipelines.hotspots import stage as hotspots

    _on_reports(hotspots.run, config, args)


def cmd_trends(args: argparse.Namespace) -> None:
    config = load_config(args.config)
    from pipelines.trends import stage as trends

    _on_reports(trends.run, config, args)


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
    processed = _processed(args, paths)
    summary.run(config, args.site, stage_summaries(processed), Path(args.out))


def cmd_publish(args: argparse.Namespace) -> None:
    config = load_config(args.config)
    from pipelines import publish

    site, processed, out_dir = _folders(args, config, "published")
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

    site, processed, out_dir = _folders(args, config, "charts")
    charts.run_charts(config, site, processed=processed, dst_dir=out_dir)


def cmd_map(args: argparse.Namespace) -> None:
    config = load_config(args.config)
    from pipelines.maps import site as maps

    site = config.site(args.site)
    processed = _processed(args, SitePaths.of(config, site.id))
    maps.run_site(config, site, processed=processed, dst=Path(args.out))


def cmd_index(args: argparse.Namespace) -> None:
    config = load_config(args.config)
    from pipelines.maps import site as maps

    maps.run_index(config, dst=Path(args.out))


def cmd_secret(args: argparse.Namespace) -> None:
    """Create a site's secret (never overwrites one)."""
    config = load_config(args.config)
    config.site(args.site)
    from pipelines.ingest import create_secret, secret_path

    path = create_secret(secret_path(config.secrets_dir, args.site))
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
