"""Reading a configuration file: the TOML parsed, every table and key checked, the sites
built, the output folders and input files checked."""

from __future__ import annotations

import logging
import os
import re
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

from pipelines.config.defaults import DEFAULT_PARAMS
from pipelines.config.files import (
    check_inputs,
    check_portfolio_inputs,
    input_problem,
    output_dir_problem,
)
from pipelines.config.params import check_params, check_site_params
from pipelines.config.perimeter_layer import PORTFOLIO_DIR
from pipelines.config.portfolio import PortfolioConfig, read_portfolio
from pipelines.config.publication import (
    PublicationSettings,
    ineffective_settings,
    publication_settings,
)
from pipelines.config.site import Config, SiteConfig
from pipelines.config.sources import read_source
from pipelines.config.values import (
    check_known,
    field_names,
    is_kind,
    merge_tables,
    shared_site_keys,
    shown_name,
    site_id_problem,
    site_name_problem,
    take,
    texts,
    toml_type,
)
from pipelines.errors import ConfigError, os_reason
from pipelines.taxonomy import check_category_classes

log = logging.getLogger(__name__)

#: Keys allowed in each table, from the dataclasses they fill (sources: ``SOURCE_KEYS``).
SITE_KEYS = field_names(SiteConfig)
PROJECT_KEYS = tuple(k for k in field_names(Config) if k not in ("path", "sites", "portfolio"))
TOP_KEYS = ("project", "params", "sites", "portfolio", "publication")


def _bbox(raw: dict[str, Any], path: str, where: str) -> tuple[float, float, float, float] | None:
    """``study_area_bbox``: [west, south, east, north] in degrees, west < east and
    south < north."""
    key = f"{where}.study_area_bbox"
    bbox = take(raw, "study_area_bbox", list, path, where, None)
    if bbox is None:
        return None
    if len(bbox) != 4 or not all(is_kind(v, "number") for v in bbox):
        raise ConfigError(
            path, "attendu [ouest, sud, est, nord] : quatre nombres en degrés.", key=key
        )
    west, south, east, north = (float(v) for v in bbox)
    if not (
        -180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= 90 and -90 <= north <= 90
    ):
        raise ConfigError(
            path,
            "hors des limites des degrés (longitude entre -180 et 180, latitude entre -90 et 90) ; "
            "attendu [ouest, sud, est, nord] en degrés (EPSG:4326).",
            key=key,
        )
    if not (west < east and south < north):
        raise ConfigError(
            path,
            "emprise inversée ou vide : attendu [ouest, sud, est, nord] avec ouest < est et "
            "sud < nord.",
            key=key,
        )
    return west, south, east, north


def _site(raw: Any, path: str, where: str, params: dict[str, Any]) -> SiteConfig:
    if not isinstance(raw, dict):
        raise ConfigError(path, f"attendu une table [[sites]], trouvé {toml_type(raw)}.", key=where)
    check_known(raw, SITE_KEYS, path, where)
    sid = take(raw, "id", str, path, where)
    problem = site_id_problem(sid)
    if problem is not None:
        raise ConfigError(path, f"identifiant de site « {sid} » : {problem}.", key=f"{where}.id")
    raw_sources = take(raw, "sources", list, path, where)
    if not raw_sources:
        raise ConfigError(path, "au moins une source est nécessaire.", key=f"{where}.sources")
    sources = tuple(
        read_source(s, path, f"{where}.sources[{i}]") for i, s in enumerate(raw_sources)
    )
    ids = [s.id for s in sources]
    if len(set(ids)) != len(ids):
        raise ConfigError(path, "identifiants de source en double.", key=f"{where}.sources")
    # One file read by two sources: each of its reports would be counted twice.
    readers: dict[Path, str] = {}
    for i, source in enumerate(sources):
        for f in source.files():
            other = readers.setdefault(f.resolve(), source.id)
            if other != source.id:
                raise ConfigError(
                    path,
                    f"« {f} » est déjà lu par la source « {other} » : chacun de ses "
                    "signalements serait compté deux fois ; retirez-le de l'une des deux.",
                    key=f"{where}.sources[{i}].path",
                )
    bbox = _bbox(raw, path, where)
    site_params = take(raw, "params", dict, path, where, {})
    check_params(site_params, path, f"{where}.params")
    merged = merge_tables(params, site_params)
    check_site_params(merged, site_params, path, where)
    osm = take(raw, "osm", str, path, where)
    if not osm.strip():
        raise ConfigError(path, "chemin vide.", key=f"{where}.osm")
    name = take(raw, "name", str, path, where, sid)
    problem = site_name_problem(name)
    if problem is not None:
        raise ConfigError(
            path, f"nom du site « {sid} », « {shown_name(name)} » : {problem}.", key=f"{where}.name"
        )
    return SiteConfig(
        id=sid,
        name=name,
        osm=osm,
        sources=sources,
        study_area_bbox=bbox,
        **shared_site_keys(raw, path, where),
        params=merged,
        category_classes=check_category_classes(
            raw.get("category_classes", {}), path, f"{where}.category_classes"
        ),
    )


def portfolio_sites(
    portfolio: PortfolioConfig, params: dict[str, Any], publication: PublicationSettings
) -> tuple[SiteConfig, ...]:
    """The sites of a portfolio's layer: each reads the extract and the sources' rows
    that ``vigie split`` cuts for it, within its perimeter's bounds."""
    return tuple(
        SiteConfig(
            id=p.id,
            name=p.name,
            osm=str(portfolio.site_osm(p.id)),
            sources=tuple(
                # The split writes each site's rows cell for cell as UTF-8 CSV.
                replace(
                    ps.source,
                    path=str(portfolio.site_source(ps.source.id, p.id)),
                    format="csv",
                    encoding="utf-8",
                    separator=",",
                )
                for ps in portfolio.sources
            ),
            ban=portfolio.ban,
            rpls=portfolio.rpls,
            gazetteer=portfolio.gazetteer,
            simulated=portfolio.simulated,
            study_area_bbox=p.bbox,
            attribution=portfolio.attribution,
            params=params,
            publication=publication,
        )
        for p in portfolio.sites
    )


# --------------------------------------------------------------------------- load
#: What each output folder holds, in the messages that name it.
_DIR_ROLES = {
    "processed_dir": "dossier des données traitées",
    "maps_dir": "dossier des cartes",
    "annotations_dir": "dossier des notes des urbanistes",
    "secrets_dir": "dossier des secrets des sites",
    "actions_dir": "dossier des registres d'actions",
}


def _check_dirs_apart(dirs: dict[str, str], path: str) -> None:
    """Refuse output folders that are the same or one inside another: each is written
    (and cleaned by ``make clean``) on its own, so a shared folder would have one
    stage's outputs, or ``make clean``, delete another's files (maps, annotations).

    Raises
    ------
    ConfigError
        Two of the folders coincide or are nested, naming both keys.
    """
    resolved = {key: Path(os.path.abspath(value)).resolve() for key, value in dirs.items()}
    keys = list(resolved)
    for i, first in enumerate(keys):
        for second in keys[i + 1 :]:
            a, b = resolved[first], resolved[second]
            if a == b:
                how = "désignent le même dossier"
            elif a.is_relative_to(b) or b.is_relative_to(a):
                inner, outer = (first, second) if a.is_relative_to(b) else (second, first)
                how = f"sont imbriqués (project.{inner} est dans project.{outer})"
            else:
                continue
            raise ConfigError(
                path,
                f"project.{first} ({_DIR_ROLES.get(first, 'dossier')}, « {dirs[first]} ») et "
                f"project.{second} ({_DIR_ROLES.get(second, 'dossier')}, « {dirs[second]} ») "
                f"{how} : chaque dossier de sortie doit être distinct, sans quoi une étape ou "
                "« make clean » effacerait les fichiers d'un autre.",
                key=f"project.{first}, project.{second}",
            )


#: The messages of Python's TOML parser (tomllib), in French; a message not listed keeps
#: its English words, in parentheses after « erreur de syntaxe ».
_TOML_MESSAGES_FR = (
    ("Expected ']' at the end of a table", "crochet « ] » manquant à la fin de l'en-tête"),
    ("Expected ']]' at the end of an array", "« ]] » manquant à la fin de l'en-tête [[…]]"),
    ("Expected '=' after a key", "signe « = » manquant après la clé (espace dans une clé ?)"),
    ("Illegal character '\\n'", "guillemet jamais fermé avant la fin de la ligne"),
    ("Unterminated string", "guillemet jamais fermé"),
    ("Cannot overwrite a value", "clé donnée deux fois"),
    ("Cannot declare", "table déclarée deux fois"),
    (
        "Expected newline or end of document after a statement",
        "texte en trop après la valeur (une date s'écrit AAAA-MM-JJ, un texte entre guillemets)",
    ),
    ("Invalid value", "valeur illisible (un texte s'écrit entre guillemets, une date AAAA-MM-JJ)"),
)


def toml_error_fr(err: tomllib.TOMLDecodeError) -> str:
    """The message of a TOML syntax error, in French with its line and column:
    « TOML invalide ligne 2, colonne 12 : valeur illisible (…) »."""
    text = str(err)
    where = re.search(r"\(at line (\d+), column (\d+)\)$", text)
    place = f"ligne {where[1]}, colonne {where[2]}" if where else "fin du fichier"
    detail = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)$", "", text)
    why = next((fr for en, fr in _TOML_MESSAGES_FR if detail.startswith(en)), None)
    return f"TOML invalide {place} : {why or f'erreur de syntaxe ({detail})'}."


def load_config(path: str | Path, *, check_files: bool = True) -> Config:
    """Read and validate a configuration file, and check the files it names.

    ``check_files=False`` leaves the input files unchecked: ``vigie doctor`` checks them
    one by one itself, to list every problem instead of stopping at the first.

    Raises
    ------
    ConfigError
        When the file is missing or not valid TOML, when a key is unknown, missing or of
        the wrong type, a value is out of range, an input file is missing or is not a
        regular file, or an output folder is a file. The message names the file and the
        key.
    """
    path = Path(path)
    problem = input_problem(path)
    if problem == "fichier introuvable":
        raise ConfigError(path, "fichier de configuration introuvable.")
    if problem is not None:
        raise ConfigError(path, f"{problem}.")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # Notepad writes a BOM
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(path, toml_error_fr(err)) from err
    except UnicodeDecodeError as err:
        raise ConfigError(path, "le fichier doit être encodé en UTF-8.") from err
    except OSError as err:
        raise ConfigError(path, f"lecture impossible : {os_reason(err)}.") from err
    spath = str(path)
    check_known(raw, TOP_KEYS, spath, "")
    raw_params = take(raw, "params", dict, spath, "", {})
    check_params(raw_params, spath, "params")
    params = merge_tables(DEFAULT_PARAMS, raw_params)
    project = take(raw, "project", dict, spath, "", {})
    check_known(project, PROJECT_KEYS, spath, "project")
    raw_sites = take(raw, "sites", list, spath, "", [])
    if not raw_sites and "portfolio" not in raw:
        raise ConfigError(spath, "au moins un site est nécessaire.", key="sites")
    sites = tuple(_site(s, spath, f"sites[{i}]", params) for i, s in enumerate(raw_sites))
    ids = [s.id for s in sites]
    if len(set(ids)) != len(ids):
        raise ConfigError(spath, "identifiants de site en double.", key="sites")
    if PORTFOLIO_DIR in ids:
        raise ConfigError(spath, f"« {PORTFOLIO_DIR} » est un nom réservé.", key="sites")
    sites = tuple(  # [publication], then each site's [sites.publication] over it
        replace(s, publication=publication_settings(
            raw.get("publication"), r.get("publication"), spath, f"sites[{i}]"))
        for i, (s, r) in enumerate(zip(sites, raw_sites, strict=True))
    )  # fmt: skip
    portfolio = None
    if "portfolio" in raw:
        processed = take(project, "processed_dir", str, spath, "project", "data/processed")
        portfolio = read_portfolio(raw["portfolio"], spath, processed)
        for p in portfolio.sites:
            if p.id in ids:
                raise ConfigError(
                    spath,
                    f"« {portfolio.perimeters} », entité n° {p.feature} : le site « {p.id} » "
                    "est aussi déclaré dans [[sites]].",
                    key="portfolio.id_field",
                )
        publication = publication_settings(raw.get("publication"), None, spath, "portfolio")
        sites += portfolio_sites(portfolio, params, publication)
    ineffective = {
        pair: None
        for i, (s, r) in enumerate(zip(sites[: len(raw_sites)], raw_sites, strict=True))
        for pair in ineffective_settings(
            s.publication, raw.get("publication"), r.get("publication"), f"sites[{i}]"
        )
    }  # a project's key once, whatever the number of sites
    for key, why in ineffective:
        log.warning("%s, clé « %s » : %s", spath, key, why)
    defaults = Config(path=spath, sites=sites)
    dirs = {
        key: take(project, key, str, spath, "project", getattr(defaults, key))
        for key in ("processed_dir", "maps_dir", "annotations_dir", "secrets_dir", "actions_dir")
    }
    for key, value in dirs.items():
        dir_problem = output_dir_problem(Path(value)) if value.strip() else "chemin vide"
        if dir_problem is not None:
            raise ConfigError(spath, f"dossier « {value} » : {dir_problem}.", key=f"project.{key}")
    _check_dirs_apart(dirs, spath)
    tags = (
        texts(project, "annotation_tags", spath, "project")
        if "annotation_tags" in project
        else defaults.annotation_tags
    )
    page_from = take(
        project, "portfolio_page_from", int, spath, "project", defaults.portfolio_page_from
    )
    if page_from < 1:
        raise ConfigError(
            spath,
            f"attendu un nombre de sites au moins égal à 1 (reçu {page_from}).",
            key="project.portfolio_page_from",
        )
    config = Config(
        path=spath,
        sites=sites,
        annotation_tags=tags,
        portfolio=portfolio,
        portfolio_page_from=page_from,
        **dirs,
    )
    for site in sites if check_files else ():
        # The extract and a simulated site's exports are required by the commands that
        # read them (see :func:`check_inputs`); here they are checked when they exist.
        check_inputs(config, site.id, osm=False, simulated_exports=False)
    if check_files:
        check_portfolio_inputs(config, exports=False)
    return config
