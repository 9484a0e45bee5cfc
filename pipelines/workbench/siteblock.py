"""The configuration ``vigie init`` writes: a commented TOML file, one site, its sources.

Written by hand rather than with a TOML library: the point of the file is the French
comment beside each value (why this column, how sure the label's match is), which TOML
writers do not keep; the values are strings, lists of strings and numbers, and a JSON
string (``json.dumps``) is a valid TOML basic string.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass, field
from datetime import date

from pipelines.config import COLUMN_ROLES
from pipelines.fr import fr_number
from pipelines.taxonomy import CODES
from pipelines.workbench.detect import Detected
from pipelines.workbench.headers import ROLE_LABELS
from pipelines.workbench.labels import LabelChoice

RULE = "# " + "-" * 86

SEPARATOR_NAMES = {";": "point-virgule", ",": "virgule", "\t": "tabulation", "|": "barre"}
ORDER_TEXT = {
    "day_first": "jour en premier (31/12/2024, la convention française)",
    "month_first": "mois en premier (12/31/2024, à l'américaine)",
    "ambiguous": "jour et mois toujours inférieurs ou égaux à 12 : ordre impossible à "
    "déduire, lues jour en premier (la convention française)",
}


@dataclass(frozen=True)
class SourceDraft:
    """One source as ``vigie init`` proposes it."""

    id: str
    kind: str
    path: str
    format: str
    files: tuple[str, ...]
    rows: int
    encoding: str | None
    separator: str | None
    detected: Detected
    labels: tuple[LabelChoice, ...] = ()
    unused: tuple[str, ...] = ()
    sheet: str | None = None  # the workbook's sheet read, when not its first


@dataclass(frozen=True)
class SiteDraft:
    """The site as ``vigie init`` proposes it."""

    id: str
    name: str
    osm: str
    sources: tuple[SourceDraft, ...]
    study_area_bbox: tuple[float, float, float, float] | None = None
    config_path: str = ""
    output_key: str = ""
    written_on: date = field(default_factory=date.today)


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string."""
    return json.dumps(text, ensure_ascii=False)


def _comment(text: str) -> str:
    return " ".join(text.split())


def _wrapped(text: str, width: int = 92) -> list[str]:
    """A comment over several lines of at most ``width`` characters."""
    return ["# " + line for line in textwrap.wrap(_comment(text), width - 2)]


def _value(key: str, value: str, comment: str = "") -> str:
    line = f"{key} = {toml_string(value)}"
    return f"{line}  # {_comment(comment)}" if comment else line


def _strings(values: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join(toml_string(v) for v in values) + "]"


def source_lines(s: SourceDraft) -> list[str]:
    """The ``[[sites.sources]]`` block of one source, with its comments."""
    d = s.detected
    kind = "signalements" if s.kind == "reports" else "observations de terrain"
    files = s.files[0] if len(s.files) == 1 else f"{len(s.files)} fichiers ({s.path})"
    facts = [s.format]
    if s.encoding:
        facts.append(f"encodage {s.encoding}")
    if s.separator:
        facts.append(f"séparateur « {SEPARATOR_NAMES.get(s.separator, s.separator)} »")
    facts.append(f"{fr_number(s.rows)} ligne{'s' if s.rows > 1 else ''}")
    out = [RULE, f"# Source « {s.id} » : {kind}."]
    out += _wrapped(f"{files} : " + ", ".join(facts) + ".")
    if s.encoding and s.format in ("csv", "kobo", "odk"):
        out += _wrapped(
            "L'encodage est reconnu à chaque lecture ; pour l'imposer : "
            f"encoding = {toml_string(s.encoding)}."
        )
    if d.dates.order in ORDER_TEXT:
        proof = ", ".join(str(n) for n in d.dates.lines)
        shown = f", comme le montrent les lignes {proof}" if proof else ""
        out += _wrapped(f"Dates : {ORDER_TEXT[d.dates.order]}{shown}.")
    if d.decimal_comma:
        out.append("# Coordonnées écrites avec une virgule décimale : lues telles quelles.")
    for note in d.notes:
        out += _wrapped(note)
    out += [
        "[[sites.sources]]",
        _value("id", s.id),
        _value("kind", s.kind, "reports : signalements ; observations : relevés de terrain"),
        _value("path", s.path),
        _value("format", s.format),
    ]
    if s.sheet is not None:
        out.append(_value("sheet", s.sheet, "feuille du classeur à lire (pas la première visible)"))
    if s.separator and s.format in ("csv", "kobo", "odk"):
        out.append(_value("separator", "tab" if s.separator == "\t" else s.separator))
    if d.dates.date_format:
        out.append(
            _value(
                "date_format",
                d.dates.date_format,
                "mois en premier : ce format lit toutes les dates du fichier",
            )
        )
    if d.crs:
        out.append(_value("crs", d.crs, "système des colonnes X/Y"))
    if d.personal:
        out.append("# Colonnes de données personnelles : jamais recopiées dans une sortie.")
        out.append(f"personal_columns = {_strings(d.personal)}")
    out += ["", "# La colonne de l'export pour chaque rôle."]
    if d.automatic:
        auto = ", ".join(f"{r} = « {c} »" for r, c in d.automatic.items())
        out += _wrapped(f"Lues d'office (format {s.format}) : {auto}.")
    if s.unused:
        out += _wrapped("Colonnes non utilisées : " + ", ".join(s.unused) + ".")
    out.append("[sites.sources.columns]")
    for role in COLUMN_ROLES:
        if role in d.roles:
            g = d.roles[role]
            out.append(_value(role, g.column, f"{ROLE_LABELS[role]} : {g.why}"))
    if "category" in d.all_roles():
        out.append("")
        out += _wrapped(
            "Étiquettes de catégorie de l'export → codes de Vigie (« autre » : rien ne se perd, "
            "mais rien n'est classé). Codes : " + ", ".join(CODES) + "."
        )
        out.append("[sites.sources.categories]")
        out += [
            f"{toml_string(c.label)} = {toml_string(c.code)}  # {_comment(c.comment())}"
            for c in s.labels
        ]
    else:
        out.append("# Aucune colonne de catégorie : chaque signalement est classé « autre ».")
    return out


def site_text(site: SiteDraft) -> str:
    """The whole configuration file."""
    run = f"make demo CONFIG={site.config_path}" if site.config_path else "make demo CONFIG=…"
    lines = [
        f"# Configuration Vigie du site « {_comment(site.name)} », proposée par « vigie init » le "
        f"{site.written_on:%d/%m/%Y}.",
        "# Relisez les lignes marquées « à vérifier », puis lancez :",
        f"#   {run}",
        f"#   (ou : vigie run --config {site.config_path or '…'})",
        "# Les chemins relatifs partent de la racine du projet (là où l'on lance make).",
        "",
        "[project]",
        "# Dossiers de sortie propres à cette configuration : passer de l'une à l'autre",
        "# (config/demo.toml…) ne refait ni n'efface les sorties de l'autre.",
        _value("processed_dir", f"data/processed/{site.output_key or site.id}"),
        _value("maps_dir", f"maps/{site.output_key or site.id}"),
        "",
        "[[sites]]",
        _value("id", site.id),
        _value("name", site.name),
        "# Extrait OpenStreetMap : les bâtiments et le fond de plan.",
        _value("osm", site.osm),
    ]
    if site.study_area_bbox:
        box = ", ".join(repr(float(v)) for v in site.study_area_bbox)
        lines.append(f"study_area_bbox = [{box}]  # ouest, sud, est, nord (degrés)")
    else:
        lines.append("# Zone d'étude : l'emprise de l'extrait OSM.")
    lines.append('attribution = ["osm"]')
    for source in site.sources:
        lines += ["", *source_lines(source)]
    return "\n".join(lines) + "\n"
