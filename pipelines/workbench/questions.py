"""The questions of ``vigie init`` beyond yes or no: the site, its exports, its OSM
extract, and the changes the analyst makes to the proposed roles and label codes."""

from __future__ import annotations

import glob
import textwrap
from collections.abc import Sequence
from pathlib import Path

from pipelines.config import COLUMN_ROLES, input_problem, site_id_problem
from pipelines.ingest import RawFile, detect_format, workbook_sheets
from pipelines.taxonomy import BY_CODE, CODES, normalise_label
from pipelines.workbench.detect import Detected, DetectionError, detect_roles
from pipelines.workbench.dialogue import Dialogue, InitError
from pipelines.workbench.headers import find_column
from pipelines.workbench.labels import LabelChoice, propose_all
from pipelines.workbench.show import show_labels, show_roles


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """``ouest,sud,est,nord`` in degrees.

    Raises
    ------
    InitError
        Not four numbers, or west ≥ east or south ≥ north.
    """
    try:
        w, s, e, n = (float(v) for v in text.replace(";", ",").split(","))
    except ValueError:
        raise InitError(
            f"--bbox « {text} » : attendu ouest,sud,est,nord en degrés "
            "(par exemple 2.4779,48.90676,2.4911,48.91278)."
        ) from None
    if not (
        w < e
        and s < n
        and -180 <= w <= 180
        and -180 <= e <= 180
        and -90 <= s <= 90
        and -90 <= n <= 90
    ):
        raise InitError(
            f"--bbox « {text} » : emprise vide ou hors des degrés (ouest < est, sud < nord)."
        )
    return w, s, e, n


def ask_site(d: Dialogue, site: str | None, name: str | None) -> tuple[str, str]:
    """The site's identifier (checked) and name."""
    while True:
        site = site or d.ask("Identifiant du site (lettres, chiffres, - et _) :", needed="--site")
        if site_id_problem(site) is None:  # the configuration's one rule
            break
        rule = "lettres sans accents, chiffres, - et _ seulement, une lettre ou un chiffre d'abord"
        if not d.interactive:
            raise InitError(f"--site « {site} » : {rule}.")
        d.say(rule[0].upper() + rule[1:] + ".")
        site = None
    name = name or d.ask("Nom du site (affiché sur les cartes) :", site)
    return site, name


def ask_exports(
    d: Dialogue, reports: Sequence[str], observations: Sequence[str]
) -> list[tuple[str, str]]:
    """The exports (path, kind): the ones given, or asked one by one."""
    exports = [(p, "reports") for p in reports] + [(p, "observations") for p in observations]
    if exports:
        return exports
    if not d.interactive:
        raise InitError("aucun fichier d'export : indiquez-en au moins un avec --export.")
    d.say("Fichiers d'export : un chemin par question (un motif comme exports/*.csv lit plusieurs")
    d.say("fichiers mensuels d'un même outil) ; laissez vide pour terminer.")
    while True:
        path = d.ask(f"Export n° {len(exports) + 1} :")
        if not path:
            if exports:
                return exports
            d.say("Il faut au moins un fichier d'export.")
            continue
        kind = (
            "observations"
            if d.confirm("Observations de terrain (et non signalements) ?", False)
            else "reports"
        )
        exports.append((path, kind))


def ask_sheet(d: Dialogue, first: Path) -> str | None:
    """The sheet to read when the export's (first) file is a workbook with several
    sheets that have rows, or one that is not the sheet ingestion reads unnamed (its
    first visible one): asked, listing them (visible ones first, hidden ones marked),
    the first of them proposed; ``None`` (the sheet read without ``--sheet``) when there
    is nothing to choose, or without dialogue."""
    if not d.interactive or detect_format(first, "auto") != "xlsx":
        return None
    sheets = workbook_sheets(first)
    # Unnamed, ingestion reads the first visible sheet (the first of all when every one
    # is hidden): the sheet that needs no « sheet = ».
    unnamed = next((name for name, _, hidden in sheets if not hidden), sheets[0][0])
    hidden = {name for name, _, is_hidden in sheets if is_hidden}
    with_rows = [name for name, rows, _ in sheets if rows and name not in hidden]
    with_rows += [name for name, rows, _ in sheets if rows and name in hidden]
    if not with_rows or with_rows == [unnamed]:
        return None
    first_one = "la première" + (" visible" if unnamed != sheets[0][0] else "")
    d.say(
        f"  Le classeur {first.name} a des lignes sur {len(with_rows)} feuilles :"
        if len(with_rows) > 1
        else f"  Le classeur {first.name} n'a de lignes que sur une feuille, pas {first_one} :"
    )
    for k, name in enumerate(with_rows, start=1):
        d.say(f"    {k}. {name}" + (" (masquée)" if name in hidden else ""))
    while True:
        answer = d.ask("  Feuille à lire (nom ou numéro) :", with_rows[0])
        if answer.isdigit() and 1 <= int(answer) <= len(with_rows):
            answer = with_rows[int(answer) - 1]
        if answer in with_rows:
            return None if answer == unnamed else answer
        d.say(f"  Feuille « {answer} » absente ou sans lignes : {', '.join(with_rows)}.")


def osm_hints() -> list[str]:
    return sorted(glob.glob("data/raw/*/*.osm*"))


def ask_osm(
    d: Dialogue, osm: str | None, bbox: tuple[float, float, float, float] | None
) -> tuple[str, tuple[float, float, float, float] | None]:
    """The site's ``osm`` value and its ``study_area_bbox`` (``--bbox`` alone: Overpass
    over that box; with ``--osm``: the study area inside the extract)."""
    if bbox and not osm:
        w, s, e, n = bbox
        return f"overpass:bbox={w},{s},{e},{n}", None
    if not osm:
        hints = osm_hints()
        if d.interactive and hints:
            d.say("Extraits OSM du projet : " + ", ".join(hints))
        osm = d.ask(
            "Extrait OpenStreetMap du site (.osm, .osm.pbf, ou overpass:place=Bondy, France) :",
            needed="--osm",
        )
    if not osm.startswith("overpass:"):
        problem = input_problem(osm)
        if problem:
            raise InitError(f"extrait OSM « {osm} » : {problem}.")
    if osm.startswith("overpass:place=") and bbox is None:
        # Ingestion needs a study area; a place's outline is not known offline.
        bbox = parse_bbox(
            d.ask(
                "Zone d'étude, l'emprise d'un lieu n'étant pas connue hors ligne "
                "(ouest,sud,est,nord en degrés) :",
                needed="--bbox",
            )
        )
    return osm, bbox


def edit_roles(
    d: Dialogue, raw: RawFile, detected: Detected, forced: dict[str, str | None], crs: str | None
) -> tuple[Detected, str | None]:
    """Let the analyst change roles (``rôle=colonne``) until satisfied."""
    while d.interactive and not d.confirm("Ces colonnes conviennent-elles ?", True):
        for line in textwrap.wrap("Rôles : " + ", ".join(COLUMN_ROLES), 90, subsequent_indent="  "):
            d.say(line)
        d.say("Écrivez rôle=colonne (rôle= pour n'en mettre aucune) ; vide pour terminer.")
        while answer := d.ask("Changement :"):
            role, sep, column = answer.partition("=")
            role, column = role.strip(), column.strip()
            if not sep or role not in COLUMN_ROLES:
                d.say(f"« {answer} » : attendu rôle=colonne, avec un rôle parmi ceux listés.")
                continue
            if column and find_column(raw.columns, column) is None:
                d.say(f"Colonne « {column} » absente ; colonnes : " + ", ".join(raw.columns))
                continue
            forced[role] = column or None
        try:
            detected = detect_roles(raw, forced=forced, crs=crs)
        except DetectionError as err:
            d.say(f"! {err}")
            continue
        show_roles(d, detected, raw.columns)
    if d.interactive and any("système de coordonnées inconnu" in n for n in detected.notes):
        answer = d.ask(
            "Système de coordonnées des colonnes X/Y (par exemple EPSG:3949 ; vide : les ignorer) :"
        )
        if answer:
            crs = answer
            detected = detect_roles(raw, forced=forced, crs=crs)
            show_roles(d, detected, raw.columns)
    return detected, crs


def edit_labels(
    d: Dialogue, choices: list[LabelChoice], labels: dict[str, int], chosen: dict[str, str]
) -> list[LabelChoice]:
    """Let the analyst send labels to other codes (``étiquette=code``) until satisfied."""
    while d.interactive and not d.confirm("Cette correspondance convient-elle ?", True):
        codes = "Codes : " + ", ".join(f"{c} ({BY_CODE[c].label})" for c in CODES) + "."
        for line in textwrap.wrap(codes, 90, subsequent_indent="  "):
            d.say(line)
        d.say("Écrivez étiquette=code ; vide pour terminer.")
        while answer := d.ask("Changement :"):
            label, sep, code = answer.rpartition("=")
            label, code = label.strip(), code.strip()
            known = {normalise_label(k): k for k in labels}
            if not sep or normalise_label(label) not in known:
                d.say(f"« {label} » n'est pas une étiquette de l'export.")
                continue
            if code not in CODES:
                d.say(f"« {code} » n'est pas un code ; codes : {', '.join(CODES)}.")
                continue
            chosen[known[normalise_label(label)]] = code
        choices = propose_all(labels, chosen=chosen)
        show_labels(d, choices)
    return choices
