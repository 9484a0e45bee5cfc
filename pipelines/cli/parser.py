"""The command line's arguments (:func:`build_parser`), their usage errors in French."""

from __future__ import annotations

import argparse
import re
from typing import Any, NoReturn

from pipelines import __version__
from pipelines.cli.commands import (
    cmd_actions_template,
    cmd_annotations,
    cmd_basemap,
    cmd_buildings,
    cmd_charts,
    cmd_deps,
    cmd_doctor,
    cmd_geocode,
    cmd_hotspots,
    cmd_index,
    cmd_ingest,
    cmd_init,
    cmd_ledger_reset,
    cmd_map,
    cmd_publish,
    cmd_screenshots,
    cmd_secret,
    cmd_simulate,
    cmd_summary,
    cmd_trends,
    cmd_zones,
)
from pipelines.cli.sites import cmd_run, cmd_split, cmd_stage
from pipelines.errors import VigieError
from pipelines.stages import STAGE_NAMES

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


def required(parser: argparse.ArgumentParser, *options: str) -> None:
    """Add ``options`` (``--config``, ``--site``…), each one a value the command needs."""
    for option in options:
        parser.add_argument(option, required=True)


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
    required(p, "--osm", "--ban")
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
        required(p, "--config", "--site", "--out-dir")
        p.add_argument(
            "--bounds",
            help="buildings_summary.json de l'étape OSM : son emprise sert de zone d'étude "
            "quand study_area_bbox n'est pas renseigné",
        )

    p = add("geocode", cmd_geocode, "rattache chaque signalement à un bâtiment")
    required(p, "--config", "--site", "--reports", "--buildings", "--out", "--summary")
    p.add_argument(
        "--unplaced",
        help="liste des signalements placés sur aucun bâtiment (par défaut : unplaced.csv "
        "à côté du résumé)",
    )

    p = add("hotspots", cmd_hotspots, "comptages, taux, points chauds (Gi*), densité")
    required(p, "--config", "--site", "--reports", "--buildings", "--out-dir")

    p = add("trends", cmd_trends, "séries mensuelles, Mann-Kendall, points chauds émergents")
    required(p, "--config", "--site", "--reports", "--buildings", "--out-dir")

    p = add("basemap", cmd_basemap, "fond de plan hors ligne tiré du fichier OSM")
    required(p, "--osm", "--out")

    p = add(
        "zones", cmd_zones, "zones de points chauds, identifiants stables d'un passage à l'autre"
    )
    required(p, "--config", "--site", "--buildings", "--out-dir")

    p = add(
        "annotations",
        cmd_annotations,
        "intègre les notes des urbanistes (data/annotations/<site>/)",
    )
    required(p, "--config", "--site", "--buildings", "--zones", "--out-dir")

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
    required(p, "--maps-dir", "--out-dir")

    p = add("stage", cmd_stage, "une étape du tableau des étapes pour un site (ce que make lance)")
    p.add_argument("name", choices=STAGE_NAMES, metavar="ÉTAPE", help=", ".join(STAGE_NAMES))
    required(p, "--config", "--site", "--processed-dir", "--maps-dir")

    p = add("summary", cmd_summary, "rassemble le bilan du site (run_summary.json)")
    required(p, "--config", "--site")
    p.add_argument("--processed-dir")
    p.add_argument("--out", required=True)

    p = add(
        "publish",
        cmd_publish,
        "tables publiées d'un site (published/) : ce que lisent la carte, le PNG et l'index",
    )
    required(p, "--config", "--site")
    p.add_argument("--processed-dir")
    p.add_argument("--out-dir")

    p = add(
        "ledger-reset",
        cmd_ledger_reset,
        "archive le registre des périodes publiées d'un site et d'un profil (remise à zéro "
        "délibérée : la publication suivante ne fige rien)",
    )
    required(p, "--config", "--site")
    p.add_argument("--profile", help="profil (par défaut : celui des lecteurs, comite)")

    p = add("charts", cmd_charts, "graphiques d'un site pour le comité (PNG et CSV, charts/)")
    required(p, "--config", "--site")
    p.add_argument("--processed-dir")
    p.add_argument("--out-dir")

    p = add("map", cmd_map, "carte HTML autonome (hors ligne) d'un site")
    required(p, "--config", "--site")
    p.add_argument("--processed-dir")
    p.add_argument("--out", required=True)

    p = add("index", cmd_index, "page d'accueil maps/index.html")
    required(p, "--config", "--out")

    p = add(
        "secret",
        cmd_secret,
        "crée le secret d'un site (clés de foyer des signalements) ; ne remplace jamais un secret",
    )
    required(p, "--config", "--site")

    p = add("init", cmd_init, workbench_options.INIT_HELP)
    workbench_options.init_arguments(p)

    p = add("doctor", cmd_doctor, workbench_options.DOCTOR_HELP)
    workbench_options.doctor_arguments(p)

    p = add("deps", cmd_deps, "écrit les dépendances make de la configuration")
    required(p, "--config", "--out")
    return parser
