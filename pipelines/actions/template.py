"""The register's template: ``actions.xlsx`` and ``actions.csv`` written into a site's
register folder, never over an existing file (``vigie actions-template``,
``make actions-template``).

- The workbook's first sheet « actions » has the French headers of the register, date
  columns formatted as dates, and drop-down lists for the columns with a vocabulary
  (statut, niveau, type de comité, type d'action, responsabilité, partenaire pilote);
  its second sheet « mode d'emploi » explains each column, says which are required,
  lists the allowed values and gives an example.
- The CSV (``;``, UTF-8 with BOM, as Excel opens it) has the headers and one example
  row commented out (its first cell starts with ``#``: the reader skips such rows).
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence
from pathlib import Path

from pipelines.actions.model import (
    ACTION_TYPES,
    COMMITTEE_KINDS,
    HEADERS,
    LEVELS,
    RESPONSIBILITIES,
    STATUSES,
)
from pipelines.io import atomic_path
from pipelines.taxonomy import CODES

log = logging.getLogger(__name__)

#: The template files, in a site's register folder.
TEMPLATE_FILES = ("actions.xlsx", "actions.csv")

#: Per header: what it holds (French), whether it is required, and an example.
HELP: dict[str, tuple[str, str, str]] = {
    "identifiant": (
        "Identifiant stable de l'action, qui ne change plus d'un comité à l'autre.",
        "oui",
        "A-2025-001",
    ),
    "date_comite": ("Date du comité qui a décidé l'action (jj/mm/aaaa).", "non", "14/03/2025"),
    "type_comite": (
        "Comité technique ou comité de pilotage (CT, COPIL acceptés).",
        "non",
        "comité technique",
    ),
    "batiments": (
        "Bâtiments visés : identifiants OpenStreetMap (way/123) séparés par « ; ». La carte "
        "donne l'identifiant de chaque bâtiment.",
        "une cible au moins",
        "way/84163074;way/84163620",
    ),
    "zone": ("Zone de points chauds visée (Z1, Z2… de la carte).", "une cible au moins", "Z2"),
    "zone_dessinee": (
        "Zone dessinée : GeoJSON ou WKT en longitude/latitude (EPSG:4326).",
        "une cible au moins",
        "POLYGON((2.48 48.908, 2.485 48.908, 2.485 48.91, 2.48 48.91, 2.48 48.908))",
    ),
    "probleme": (
        "Le problème constaté (sans nom, téléphone, courriel ni numéro de logement : ils "
        "sont masqués).",
        "non",
        "Éclairage du hall B en panne depuis trois semaines",
    ),
    "categories": (
        "Catégories de signalements concernées (codes ou libellés), séparées par « ; » ; "
        "vide : toutes. Sert à mesurer l'effet de l'action.",
        "non",
        "electricite_eclairage",
    ),
    "decision": ("La décision prise.", "non", "Remplacement des luminaires du hall"),
    "niveau": ("Niveau de la mesure.", "non", "opérationnelle"),
    "type_action": ("Nature de l'action.", "non", "travaux"),
    "responsabilite": ("Qui en a la responsabilité.", "non", "bailleur"),
    "partenaire_pilote": ("L'organisation qui pilote l'action.", "non", "bailleur"),
    "echeance": ("Date d'échéance (pas avant la date du comité).", "non", "30/04/2025"),
    "statut": ("Où en est l'action.", "oui", "décidée"),
    "date_statut": (
        "Date à laquelle ce statut a été constaté (pas avant la date du comité).",
        "non",
        "14/03/2025",
    ),
    "date_realisation": (
        "Date de réalisation, pour une action « réalisée » ou « vérifiée » seulement "
        "(sinon, la date du premier statut « réalisée »).",
        "non",
        "",
    ),
    "financement": ("Ligne de financement (facultatif).", "non", "budget entretien courant"),
}


def allowed_values(partners: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The values each column with a vocabulary takes (French header → values)."""
    return {
        "type_comite": COMMITTEE_KINDS,
        "niveau": LEVELS,
        "type_action": ACTION_TYPES,
        "responsabilite": RESPONSIBILITIES,
        "partenaire_pilote": tuple(partners),
        "statut": STATUSES,
        "categories": CODES,
    }


def example_row() -> list[str]:
    """The example row, one value per header."""
    return [HELP[h][2] for h in HEADERS]


def template_csv(partners: Sequence[str]) -> bytes:
    """The CSV template: headers and the example row commented out (``;``, UTF-8 BOM)."""
    del partners  # the CSV has no drop-down lists; kept for a symmetric call
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(list(HEADERS))
    example = example_row()
    example[0] = f"# exemple (ligne ignorée) : {example[0]}"
    writer.writerow(example)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def write_template_xlsx(path: Path, partners: Sequence[str]) -> None:
    """Write the workbook template to ``path`` (atomically)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook()
    book.properties.creator = "Vigie (modèle du registre)"
    sheet = book.active
    assert sheet is not None  # a new workbook has its sheet
    sheet.title = "actions"
    sheet.append(list(HEADERS))
    values = allowed_values(partners)
    for k, header in enumerate(HEADERS, start=1):
        letter = get_column_letter(k)
        sheet[f"{letter}1"].font = Font(bold=True)
        sheet.column_dimensions[letter].width = max(14, len(header) + 4)
        if header.startswith("date_") or header == "echeance":
            for row in range(2, 501):
                sheet[f"{letter}{row}"].number_format = "DD/MM/YYYY"
        choices = values.get(header)
        if choices and header != "categories":
            formula = '"' + ",".join(choices) + '"'
            if len(formula) <= 255 and not any("," in c or '"' in c for c in choices):
                rule = DataValidation(type="list", formula1=formula, allow_blank=True)
                rule.error = f"Valeur hors liste ; possibles : {', '.join(choices)}"
                rule.errorStyle = "warning"
                sheet.add_data_validation(rule)
                rule.add(f"{letter}2:{letter}500")
    sheet.freeze_panes = "A2"
    guide = book.create_sheet("mode d'emploi")
    guide.append(["colonne", "contenu", "obligatoire", "valeurs possibles", "exemple"])
    for cell in guide[1]:
        cell.font = Font(bold=True)
    for header in HEADERS:
        what, required, example = HELP[header]
        allowed = ", ".join(values.get(header, ()))
        guide.append([header, what, required, allowed, example])
    guide.append([])
    guide.append(
        [
            "",
            "Une ligne par action, sur la feuille « actions ». Majuscules et accents sont "
            "acceptés (« En cours », « realisee »). Une ligne mal remplie est écartée et "
            "listée, avec chacun de ses problèmes, dans actions_rejected.csv ; les autres "
            "sont lues. Un "
            "statut ne revient jamais en arrière sans date postérieure (date_statut).",
        ]
    )
    for letter, width in zip("ABCDE", (20, 70, 18, 60, 40), strict=True):
        guide.column_dimensions[letter].width = width
    for row in guide.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    with atomic_path(path) as tmp:
        book.save(tmp)


def write_template(folder: str | Path, *, partners: Sequence[str]) -> list[tuple[Path, bool]]:
    """Write the template files into ``folder`` (created if needed), leaving any file
    already there untouched.

    Returns
    -------
    list
        Each template file and whether it was written (``False``: it existed).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out: list[tuple[Path, bool]] = []
    for name in TEMPLATE_FILES:
        path = folder / name
        if path.exists():
            log.info("%s exists: left as it is", path)
            out.append((path, False))
            continue
        if name.endswith(".xlsx"):
            write_template_xlsx(path, partners)
        else:
            data = template_csv(partners)
            with atomic_path(path) as tmp:
                tmp.write_bytes(data)
        log.info("wrote %s", path)
        out.append((path, True))
    return out
