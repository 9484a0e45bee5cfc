"""``vigie doctor``, second part (the packages being there): the maps' JavaScript files,
Chromium, Node and ESLint, then a configuration: it loads (its French error otherwise),
and for each site its OSM extract, its reference files, each source's files and the
site's secret, each missing one with what to do.

Exit codes (``vigie doctor --help``): 0, everything needed is there (an optional tool
may be missing: Chromium only takes screenshots, Node and ESLint only lint); 1,
something needed is missing; 2, the configuration cannot be read, or two of its sites
would write the same file (as every command of Vigie exits on a user error).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from pipelines.config import Config, SiteConfig, input_problem, load_config, site_inputs
from pipelines.errors import ConfigError
from pipelines.ingest import load_secret, secret_path
from pipelines.maps import CHROMIUM_PATH, NODE_MODULES, MissingAssetsError, check_node_modules
from pipelines.stages import check_site_files
from pipelines.workbench.installation import MISSING, NOTE, OK, OPTIONAL, Report

PROJECT_ROOT = NODE_MODULES.parent


def check_tools(report: Report) -> None:
    """The maps' pinned JavaScript (required), Chromium and Node/ESLint (optional)."""
    try:
        check_node_modules()
    except MissingAssetsError as err:
        report.add(MISSING, "bibliothèques JavaScript des cartes (Leaflet…) absentes", str(err))
    else:
        report.add(OK, f"bibliothèques JavaScript des cartes ({NODE_MODULES})")
    playwright = importlib.util.find_spec("playwright") is not None
    if os.access(CHROMIUM_PATH, os.X_OK) and playwright:
        report.add(OK, f"Chromium ({CHROMIUM_PATH}) et playwright : captures PNG des cartes")
    else:
        what = [] if os.access(CHROMIUM_PATH, os.X_OK) else [f"Chromium ({CHROMIUM_PATH})"]
        what += [] if playwright else ["playwright"]
        report.add(
            OPTIONAL,
            " et ".join(what) + " absent : facultatif, pour les captures PNG (make screenshots) "
            "et les tests dans le navigateur",
            "make setup (installe Chromium avec apt)",
        )
    node = shutil.which("node")
    eslint = (PROJECT_ROOT / "node_modules" / ".bin" / "eslint").exists()
    if node and eslint:
        report.add(OK, "Node.js et ESLint (make lint)")
    else:
        report.add(
            OPTIONAL,
            ("Node.js" if not node else "ESLint")
            + " absent : facultatif, pour contrôler le JavaScript des cartes (make lint)",
            "make setup",
        )


#: What each input of a site is, by its key in the site's table.
INPUT_NAMES = {
    "osm": "extrait OSM",
    "ban": "adresses BAN",
    "rpls": "logements sociaux (RPLS)",
    "gazetteer": "répertoire des bâtiments",
}


def _input_name(site: SiteConfig, key: str) -> str:
    """« extrait OSM », « source « bailleur » »… for a key of :func:`site_inputs`."""
    tail = key.split(".", 1)[1]
    if tail.startswith("sources["):
        return f"source « {site.sources[int(tail[8 : tail.index(']')])].id} »"
    return INPUT_NAMES.get(tail, tail)


def _check_files(report: Report, what: str, text: str, files: list[Path], fix: str) -> None:
    """One input's line: ✓ when its files are there and readable, else a ✗ per fault."""
    if not files:
        report.add(MISSING, f"{what} : aucun fichier ne correspond à « {text} »", fix)
        return
    problems = [(f, input_problem(f)) for f in files]
    bad = [(f, p) for f, p in problems if p]
    for f, problem in bad:
        report.add(MISSING, f"{what} : « {f} » : {problem}", fix)
    if not bad:
        shown = text if len(files) == 1 else f"{len(files)} fichiers ({text})"
        report.add(OK, f"{what} : {shown}")


def _check_path_fix(config: Config, key: str) -> str:
    return f"vérifiez le chemin ({config.path}, clé {key}) ; il part de la racine du projet"


def _portfolio_files(report: Report, config: Config) -> None:
    """The portfolio's own inputs: its perimeter layer, its one extract, its reference
    files and each shared export (what ``vigie split`` cuts per site)."""
    portfolio = config.portfolio
    assert portfolio is not None
    inputs = [
        ("perimeters", "couche de périmètres", portfolio.perimeters),
        ("osm", "extrait OSM du portefeuille", portfolio.osm),
    ]
    inputs += [
        (key, INPUT_NAMES[key], getattr(portfolio, key))
        for key in ("ban", "rpls", "gazetteer")
        if getattr(portfolio, key) is not None
    ]
    for key, what, text in inputs:
        fix = _check_path_fix(config, f"portfolio.{key}")
        _check_files(report, what, text, [Path(text)], fix)
    for i, ps in enumerate(portfolio.sources):
        fix = (
            "données simulées : make simulate (ou make portfolio) les écrit"
            if portfolio.simulated
            else _check_path_fix(config, f"portfolio.sources[{i}].path")
        )
        what = f"export partagé « {ps.source.id} »"
        _check_files(report, what, ps.source.path, ps.source.files(), fix)


def _split_files(report: Report, config: Config, site: SiteConfig) -> None:
    """A portfolio site's inputs are its cut extract and its part of each shared export,
    which ``vigie split`` writes (the shared files were checked with the portfolio): one
    line for them. Not yet written is no fault: ``vigie run`` splits first."""
    portfolio = config.portfolio
    assert portfolio is not None
    files = [portfolio.site_osm(site.id)]
    files += [portfolio.site_source(ps.source.id, site.id) for ps in portfolio.sources]
    if all(f.exists() for f in files):
        report.add(OK, f"extrait OSM et signalements découpés par vigie split ({portfolio.folder})")
    else:
        report.add(
            NOTE,
            f"extrait OSM et signalements du site pas encore découpés ({portfolio.folder})",
            f"vigie run --config {config.path} les découpe avant de traiter les sites "
            f"(ou seul : vigie split --config {config.path})",
        )


def _site_files(report: Report, config: Config, index: int) -> None:
    site = config.sites[index]
    if config.portfolio is not None and site.id in config.portfolio.site_ids:
        _split_files(report, config, site)
        return
    for key, text, files in site_inputs(site, f"sites[{index}]"):
        simulated = site.simulated and not key.endswith((".osm", ".ban", ".rpls"))
        fix = (
            "données simulées : make simulate (ou make demo) les écrit"
            if simulated
            else _check_path_fix(config, key)
        )
        _check_files(report, _input_name(site, key), text, files, fix)
    if site.osm.startswith("overpass:"):
        report.add(
            NOTE,
            f"bâtiments téléchargés d'Overpass au premier passage (réseau) : {site.osm}",
        )


def _site_secret(report: Report, config: Config, site_id: str) -> None:
    path = secret_path(config.secrets_dir, site_id)
    how = (
        f"make secrets CONFIG={config.path} (ou : vigie secret --config {config.path} "
        f"--site {site_id}) ; une seule fois, à garder hors du dépôt"
    )
    if not path.exists():
        report.add(MISSING, f"secret du site absent : {path}", how)
        return
    try:
        load_secret(path, config_path=config.path, site_id=site_id)
    except ConfigError as err:
        report.add(MISSING, f"secret du site illisible : {err.message}")
        return
    report.add(OK, f"secret du site : {path}")


def check_config(report: Report, path: str | Path) -> int | None:
    """Load the configuration and check every site's files; 2 when it cannot be loaded
    (its French message shown), else ``None``."""
    report.section(f"Configuration {path}")
    try:
        config = load_config(path, check_files=False)
        # Two sites writing one file (« bondy » and « bondy_comite », « Bondy » and
        # « bondy »): every command that runs the sites refuses it, so does the doctor.
        check_site_files(config)
    except ConfigError as err:
        report.add(MISSING, str(err))
        return 2
    report.add(
        OK, f"lue sans erreur : {len(config.sites)} site{'s' if len(config.sites) > 1 else ''}"
    )
    if config.portfolio is not None:
        p = config.portfolio
        report.section(f"Portefeuille : {len(p.sites)} sites de « {p.perimeters} »")
        _portfolio_files(report, config)
    for i, site in enumerate(config.sites):
        report.section(f"Site « {site.id} » ({site.name})")
        _site_files(report, config, i)
        _site_secret(report, config, site.id)
    return None


def main(config_path: str | Path, report: Report) -> int:
    """The rest of ``vigie doctor``; the exit code."""
    check_tools(report)
    return report.finish(check_config(report, config_path))
