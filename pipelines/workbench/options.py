"""The arguments of ``vigie init`` and ``vigie doctor`` (registered by ``pipelines.cli``).

Standard library only: the CLI imports this module to build its parser, and ``vigie
--help`` must start without loading pandas.
"""

from __future__ import annotations

import argparse

INIT_HELP = (
    "propose la configuration d'un nouveau site à partir de ses exports et d'un extrait OSM "
    "(questions en français ; --yes pour n'en poser aucune)"
)
INIT_EPILOG = """exemples :
  vigie init
  vigie init --site monsite --export exports/tickets.csv --osm data/raw/bondy/bondy_nord.osm \\
      --out config/monsite.toml --yes
  vigie init ... --column date="Date de saisie" --category "Tapage nocturne=autre" --crs EPSG:3949
  vigie init ... --export exports/gusp.xlsx --sheet "Signalements"
"""

DOCTOR_HELP = (
    "vérifie l'installation (Python, paquets, Chromium, Node) et une configuration (fichiers "
    "OSM et sources, secrets) ; dit quoi faire pour ce qui manque"
)
DOCTOR_EPILOG = """codes de sortie :
  0  tout est prêt (un élément facultatif peut manquer)
  1  il manque quelque chose (la liste dit quoi faire)
  2  la configuration est illisible ou invalide (message de la configuration)
"""


def init_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``vigie init``."""
    p.epilog = INIT_EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--site", help="identifiant du site (lettres, chiffres, - et _)")
    p.add_argument("--name", help="nom du site affiché sur les cartes (par défaut : l'identifiant)")
    p.add_argument(
        "--export",
        action="append",
        metavar="FICHIER",
        help="export de signalements (CSV, XLSX, GeoJSON, JSON Open311, Kobo, ODK) ; un motif "
        "(exports/*.csv) lit les exports mensuels d'un même outil ; répétable",
    )
    p.add_argument(
        "--observations",
        action="append",
        metavar="FICHIER",
        help="export d'observations de terrain (diagnostic en marchant, Kobo…) ; répétable",
    )
    p.add_argument("--osm", help="extrait OpenStreetMap (.osm, .osm.pbf) ou overpass:place=…")
    p.add_argument(
        "--bbox",
        metavar="O,S,E,N",
        help="emprise en degrés : seule, les bâtiments viennent d'Overpass (en ligne) ; avec "
        "--osm, c'est la zone d'étude",
    )
    p.add_argument("--out", metavar="FICHIER", help="configuration à écrire (config/<site>.toml)")
    p.add_argument(
        "--column",
        action="append",
        metavar="RÔLE=COLONNE",
        help='impose la colonne d\'un rôle (date="Date de saisie" ; rôle= : aucune) ; répétable',
    )
    p.add_argument(
        "--category",
        action="append",
        metavar="ÉTIQUETTE=CODE",
        help='impose le code d\'une étiquette de catégorie ("Tapage nocturne=autre") ; répétable',
    )
    p.add_argument("--crs", help="système des colonnes X/Y quand ce n'est pas Lambert-93")
    p.add_argument(
        "--sheet",
        metavar="FEUILLE",
        help="feuille des exports XLSX à lire quand ce n'est pas la première visible "
        "(« Signalements ») ; "
        "sans --yes ni --sheet, demandée quand plusieurs feuilles ont des lignes",
    )
    p.add_argument("--yes", action="store_true", help="aucune question : accepte les propositions")
    p.add_argument("--force", action="store_true", help="remplace le fichier --out s'il existe")
    p.add_argument(
        "--no-secret", action="store_true", help="ne crée pas le secret du site (make le fera)"
    )


def doctor_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``vigie doctor``."""
    p.epilog = DOCTOR_EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument(
        "--config",
        default="config/demo.toml",
        help="configuration à vérifier (par défaut : config/demo.toml)",
    )
