"""``vigie init``: a new site's configuration from its export files and an OSM extract.

For each export: its format, encoding and separator (ingestion's readers), the column of
each role and the order of its dates (:mod:`pipelines.workbench.detect`), its category
labels onto the taxonomy (:mod:`pipelines.workbench.labels`). Then a preview: the
configuration is loaded by the configuration loader and the exports ingested with it
(ingestion's own code, nothing written), showing where every row goes and ten parsed
rows. Last, the commented TOML (:mod:`pipelines.workbench.siteblock`), never over an
existing file without ``--force``, and the site's secret when it has none.

With ``--yes`` nothing is asked: every proposal is taken, and what cannot be proposed
(no export given, no date column found…) stops the command with one French message
(exit code 2).
"""

from __future__ import annotations

import glob
import logging
import re
import tempfile
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pandas as pd

from pipelines.config import COLUMN_ROLES, Config, input_problem, load_config
from pipelines.errors import ConfigError
from pipelines.fr import fold, fr_number, plural
from pipelines.ingest import (
    IngestResult,
    RawFile,
    create_secret,
    ingest_site,
    read_file,
    secret_path,
)
from pipelines.io import write_text
from pipelines.osm import read_osm_bounds
from pipelines.taxonomy import BY_CODE, CODES
from pipelines.workbench.detect import (
    ROLE_LABELS,
    Detected,
    DetectionError,
    category_labels,
    detect_roles,
    find_column,
)
from pipelines.workbench.dialogue import Dialogue, InitError, table
from pipelines.workbench.labels import FUZZY, UNMAPPED, LabelChoice, propose_all
from pipelines.workbench.siteblock import SEPARATOR_NAMES, SiteDraft, SourceDraft, site_text

log = logging.getLogger(__name__)

#: Rows shown in the preview.
PREVIEW_ROWS = 10

_SITE_ID = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class InitOptions:
    """What the command line gave (every field may be left for a question)."""

    site: str | None = None
    name: str | None = None
    exports: tuple[str, ...] = ()
    observations: tuple[str, ...] = ()
    osm: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    out: str | None = None
    columns: tuple[str, ...] = ()  # "ROLE=NAME" (NAME empty: no column for ROLE)
    categories: tuple[str, ...] = ()  # "LABEL=code"
    crs: str | None = None
    yes: bool = False
    force: bool = False
    secret: bool = True


# --------------------------------------------------------------------------- parsing
def slug(text: str) -> str:
    """An identifier made of ``text``: folded, letters, digits and ``_``."""
    s = re.sub(r"[^a-z0-9]+", "_", fold(text)).strip("_")
    return s[:40] or "source"


def parse_assignments(items: Sequence[str], what: str) -> dict[str, str]:
    """``KEY=VALUE`` items (``--column``, ``--category``) as a dictionary.

    Raises
    ------
    InitError
        An item without ``=``.
    """
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InitError(
                f"{what} « {item} » : attendu CLÉ=VALEUR (par exemple {_EXAMPLES[what]})."
            )
        out[key.strip()] = value.strip()
    return out


_EXAMPLES = {
    "--column": '--column date="Date de création"',
    "--category": '--category "Tapage nocturne=autre"',
}


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


# --------------------------------------------------------------------------- reading
def export_files(path: str) -> list[Path]:
    """The files an export names: itself, or a glob's matches.

    Raises
    ------
    InitError
        No file, or one that cannot be read.
    """
    files = (
        sorted(Path(p) for p in glob.glob(path)) if any(c in path for c in "*?[") else [Path(path)]
    )
    if not files:
        raise InitError(f"aucun fichier ne correspond à « {path} » : vérifiez le chemin.")
    for f in files:
        problem = input_problem(f)
        if problem:
            raise InitError(f"{f} : {problem}.")
    return files


def read_export(path: str) -> list[RawFile]:
    """Every file of an export, read as ingestion reads them (format detected)."""
    raws = []
    for f in export_files(path):
        raw = read_file(f, "auto")
        if not raw.has_header or raw.n_rows == 0:
            raise InitError(f"{f} : fichier sans données (aucune ligne sous l'en-tête).")
        raws.append(raw)
    return raws


# --------------------------------------------------------------------------- showing
def show_file(d: Dialogue, raws: list[RawFile]) -> None:
    first = raws[0]
    sep = SEPARATOR_NAMES.get(first.separator or "", first.separator or "")
    facts = [f"format {first.format}"]
    if first.encoding:
        facts.append(f"encodage {first.encoding}")
    if sep:
        facts.append(f"séparateur « {sep} »")
    rows = sum(r.n_rows for r in raws)
    facts.append(plural(rows, "ligne"))
    if len(raws) > 1:
        facts.append(f"{len(raws)} fichiers")
    d.say("  " + ", ".join(facts) + ".")


def show_roles(d: Dialogue, detected: Detected, columns: list[str]) -> None:
    rows = [[r, g.column, ROLE_LABELS[r], g.why] for r, g in detected.roles.items()]
    rows += [
        [r, c, ROLE_LABELS.get(r, r), "lue d'office (format)"]
        for r, c in detected.automatic.items()
    ]
    order = {r: i for i, r in enumerate(COLUMN_ROLES)}
    rows.sort(key=lambda row: order.get(row[0], 99))
    for line in table(rows, ["rôle", "colonne", "ce que c'est", "pourquoi"]):
        d.say("  " + line)
    if detected.personal:
        d.say(
            "  Données personnelles (jamais recopiées) : "
            + ", ".join(f"« {c} »" for c in detected.personal)
        )
    used = set(detected.all_roles().values()) | set(detected.personal)
    unused = [c for c in columns if c not in used]
    if unused:
        d.say("  Non utilisées : " + ", ".join(f"« {c} »" for c in unused))
    order_text = {
        "day_first": "jour en premier (31/12)",
        "month_first": "mois en premier (12/31)",
        "ambiguous": "ambiguës (jour et mois ≤ 12) : lues jour en premier",
    }.get(detected.dates.order)
    if order_text:
        proof = ", ".join(str(n) for n in detected.dates.lines)
        d.say(f"  Dates : {order_text}" + (f", d'après les lignes {proof}" if proof else "") + ".")
    if detected.dates.date_format:
        d.say(f"  Format de date proposé : {detected.dates.date_format}")
    if detected.crs:
        d.say(f"  Coordonnées X/Y : {detected.crs}.")
    for note in detected.notes:
        d.say(f"  ! {note}")


def show_labels(d: Dialogue, choices: list[LabelChoice]) -> None:
    rows = [
        [
            c.label,
            c.code,
            c.how + (f" ({c.matched}, {c.score:.0f})" if c.how == FUZZY else ""),
            fr_number(c.rows),
        ]
        for c in choices
    ]
    for line in table(rows, ["étiquette de l'export", "code Vigie", "correspondance", "lignes"]):
        d.say("  " + line)
    left = [c for c in choices if c.how == UNMAPPED]
    if left:
        d.say(
            f"  Non reconnue(s), rangée(s) dans « autre » ({len(left)}) : "
            + ", ".join(f"« {c.label} »" for c in left)
        )


# --------------------------------------------------------------------------- questions
def _ask_site(d: Dialogue, opts: InitOptions) -> tuple[str, str]:
    site = opts.site
    while True:
        site = site or d.ask("Identifiant du site (lettres, chiffres, - et _) :", needed="--site")
        if _SITE_ID.match(site):
            break
        if not d.interactive:
            raise InitError(f"--site « {site} » : lettres, chiffres, - et _ seulement.")
        d.say("Lettres (sans accents), chiffres, - et _ seulement.")
        site = None
    name = opts.name or d.ask("Nom du site (affiché sur les cartes) :", site)
    return site, name


def _ask_exports(d: Dialogue, opts: InitOptions) -> list[tuple[str, str]]:
    exports = [(p, "reports") for p in opts.exports] + [
        (p, "observations") for p in opts.observations
    ]
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


def _osm_hints() -> list[str]:
    return sorted(glob.glob("data/raw/*/*.osm*"))


def _ask_osm(
    d: Dialogue, opts: InitOptions
) -> tuple[str, tuple[float, float, float, float] | None]:
    """The site's ``osm`` value and its ``study_area_bbox`` (``--bbox`` alone: Overpass
    over that box; with ``--osm``: the study area inside the extract)."""
    if opts.bbox and not opts.osm:
        w, s, e, n = opts.bbox
        return f"overpass:bbox={w},{s},{e},{n}", None
    osm = opts.osm
    if not osm:
        hints = _osm_hints()
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
    return osm, opts.bbox


def _edit_roles(
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


def _edit_labels(
    d: Dialogue, choices: list[LabelChoice], labels: dict[str, int], chosen: dict[str, str]
) -> list[LabelChoice]:
    while d.interactive and not d.confirm("Cette correspondance convient-elle ?", True):
        codes = "Codes : " + ", ".join(f"{c} ({BY_CODE[c].label})" for c in CODES) + "."
        for line in textwrap.wrap(codes, 90, subsequent_indent="  "):
            d.say(line)
        d.say("Écrivez étiquette=code ; vide pour terminer.")
        while answer := d.ask("Changement :"):
            label, sep, code = answer.rpartition("=")
            label, code = label.strip(), code.strip()
            known = {fold(k): k for k in labels}
            if not sep or fold(label) not in known:
                d.say(f"« {label} » n'est pas une étiquette de l'export.")
                continue
            if code not in CODES:
                d.say(f"« {code} » n'est pas un code ; codes : {', '.join(CODES)}.")
                continue
            chosen[known[fold(label)]] = code
        choices = propose_all(labels, chosen=chosen)
        show_labels(d, choices)
    return choices


# --------------------------------------------------------------------------- preview
def check_config(text: str, out: Path) -> Config:
    """Load ``text`` with the configuration loader, as if it were ``out``.

    Raises
    ------
    ConfigError
        Naming ``out`` (not the temporary copy) and the key.
    """
    with tempfile.TemporaryDirectory(prefix="vigie-init-") as tmp:
        path = Path(tmp) / out.name
        path.write_text(text, encoding="utf-8")
        try:
            config = load_config(path)
        except ConfigError as err:
            raise ConfigError(out, err.message, key=err.key) from err
    return replace(config, path=str(out))


def preview(config: Config, site_id: str) -> IngestResult:
    """The exports ingested with ``config`` (nothing written, no household keys): over
    the study area, or the extract's bounds, or, for an Overpass place, the whole
    world (ingestion then counts nothing as outside)."""
    site = config.site(site_id)
    bbox = site.study_area_bbox
    if bbox is None:
        try:
            bbox = read_osm_bounds(site.osm)
        except ConfigError:  # an Overpass place: no bounds offline
            bbox = (-180.0, -90.0, 180.0, 90.0)
    today = site.settings.ingest.today or date.today()
    return ingest_site(site, study_area_bbox=bbox, today=today)


def preview_rows(ingested: pd.DataFrame, n: int = PREVIEW_ROWS) -> list[list[str]]:
    """The first ``n`` accepted rows (by source, then line), as text cells: line, id
    (without its source's prefix when there is one source), date, category code, the
    export's label, address, coordinates, status."""
    head = ingested.sort_values(["source", "source_line"], kind="stable").head(n)
    when = head["reported_at"].dt.strftime("%d/%m/%Y %H:%M")
    where = head["lat"].map("{:.5f}".format) + ", " + head["lon"].map("{:.5f}".format)
    cells = [
        head["source_line"].astype("str"),
        head["report_id"].str.removeprefix(head["source"].iloc[0] + ":")
        if head["source"].nunique() == 1
        else head["report_id"],
        when,
        head["category"],
        head["category_source_label"],
        head["address"],
        where.where(head["lat"].notna()),
        head["status"],
    ]
    frame = pd.concat([c.astype("object").where(c.notna(), "") for c in cells], axis=1)
    return [[str(v) for v in row] for row in frame.itertuples(index=False)]


def show_preview(d: Dialogue, result: IngestResult) -> None:
    rejected = result.rejected
    for sid, s in result.summary["sources"].items():
        n_rejected = sum(s["rejected"].values())
        d.say(
            f"  Source « {sid} » : {plural(s['rows_in'], 'ligne')} lues = "
            f"{fr_number(s['accepted'])} acceptées + {fr_number(s['updated'])} mises à jour + "
            f"{fr_number(s['duplicates'])} doublons + {fr_number(n_rejected)} rejetées + "
            f"{fr_number(s['outside_study_area'])} hors zone."
        )
        mine = rejected[(rejected["source"] == sid) & (rejected["source_line"] > 0)]
        for reason, n in s["rejected"].items():
            first = mine[mine["reason"] == reason].head(1)
            example = (
                f" ; ex. ligne {first['source_line'].iloc[0]} : {first['reason_fr'].iloc[0]}"
                if len(first)
                else ""
            )
            d.say(f"    {fr_number(n)} rejetée(s) ({reason}){example}")
        for issue in s["file_issues"]:
            d.say(f"    note : {issue.get('detail') or issue['reason']} ({issue['file']})")
        if s["unknown_labels"]:
            d.say("    étiquettes rangées dans « autre » : " + ", ".join(s["unknown_labels"]))
    if result.ingested.empty:
        d.say("  Aucune ligne acceptée : voyez les rejets ci-dessus.")
        return
    rows = preview_rows(result.ingested)
    d.say(f"  Les {len(rows)} premières lignes acceptées, telles que lues :")
    headers = ["ligne", "identifiant", "date", "catégorie", "étiquette", "adresse", "lat, lon"]
    for line in table(rows, [*headers, "statut"], width=26):
        d.say("  " + line)


# --------------------------------------------------------------------------- command
def draft_source(
    d: Dialogue,
    path: str,
    kind: str,
    sid: str,
    opts: InitOptions,
    forced: dict[str, str | None],
    chosen: dict[str, str],
) -> SourceDraft:
    """One export read, shown, discussed; its source as proposed."""
    d.say("")
    d.say(f"Export « {path} » ({'signalements' if kind == 'reports' else 'observations'}) :")
    raws = read_export(path)
    show_file(d, raws)
    raw = raws[0]
    crs = opts.crs
    try:
        detected = detect_roles(raw, forced=forced, crs=crs)
    except DetectionError as err:
        if not d.interactive:
            raise InitError(str(err)) from err
        d.say(f"! {err}")
        detected = Detected(roles={})
        forced = dict(forced)
    else:
        show_roles(d, detected, raw.columns)
    detected, crs = _edit_roles(d, raw, detected, forced, crs)
    if "date" not in detected.all_roles():
        raise InitError(f"{raw.path} : aucune colonne de dates ; indiquez-la avec --column date=….")
    for other in raws[1:]:
        missing = [c for c in detected.columns().values() if find_column(other.columns, c) is None]
        if missing:
            raise InitError(
                f"{other.path} : colonnes absentes ({', '.join(missing)}) alors que le premier "
                f"fichier de « {path} » les a : un motif doit désigner des exports d'un même outil."
            )
    choices: list[LabelChoice] = []
    category = detected.all_roles().get("category")
    if category:
        labels = category_labels(raws, category)
        try:
            choices = propose_all(labels, chosen=chosen)
        except ValueError as err:
            raise InitError(
                f"--category : « {err} » n'est pas un code ; codes : {', '.join(CODES)}."
            ) from None
        d.say(f"  Catégories ({plural(len(labels), 'étiquette')}) :")
        show_labels(d, choices)
        choices = _edit_labels(d, choices, labels, dict(chosen))
    used = set(detected.all_roles().values()) | set(detected.personal)
    return SourceDraft(
        id=sid,
        kind=kind,
        path=path,
        format=raw.format,
        files=tuple(r.path for r in raws),
        rows=sum(r.n_rows for r in raws),
        encoding=raw.encoding,
        separator=raw.separator,
        detected=detected,
        labels=tuple(choices),
        unused=tuple(c for c in raw.columns if c not in used),
    )


def run(opts: InitOptions, d: Dialogue) -> Path | None:
    """The whole conversation; the configuration written (``None``: the analyst declined).

    Raises
    ------
    InitError, ConfigError, InputError
        A user error: one French message (the CLI exits with code 2).
    """
    d.say("Vigie — nouveau site. Chaque proposition se valide par Entrée ; « n » pour la changer.")
    site, name = _ask_site(d, opts)
    out = Path(opts.out or d.ask("Fichier de configuration à écrire :", f"config/{site}.toml"))
    if out.exists() and not opts.force:
        raise InitError(
            f"{out} existe déjà : choisissez un autre fichier (--out) ou remplacez-le avec --force."
        )
    exports = _ask_exports(d, opts)
    osm, bbox = _ask_osm(d, opts)
    forced: dict[str, str | None] = {
        k: (v or None) for k, v in parse_assignments(opts.columns, "--column").items()
    }
    chosen = parse_assignments(opts.categories, "--category")
    sources: list[SourceDraft] = []
    ids: set[str] = set()
    for path, kind in exports:
        base = slug(Path(path).stem.replace("*", ""))
        sid = base
        k = 2
        while sid in ids:
            sid, k = f"{base}_{k}", k + 1
        ids.add(sid)
        sources.append(draft_source(d, path, kind, sid, opts, dict(forced), chosen))
    seen = {fold(c.label) for s in sources for c in s.labels}
    absent = [label for label in chosen if fold(label) not in seen]
    if absent:
        raise InitError(
            "--category : étiquette(s) absente(s) des exports : "
            + ", ".join(f"« {a} »" for a in absent)
            + " ; vérifiez l'orthographe (majuscules et accents comptent peu)."
        )
    draft = SiteDraft(
        id=site,
        name=name,
        osm=osm,
        sources=tuple(sources),
        study_area_bbox=bbox,
        config_path=str(out),
        output_key=slug(out.stem),
    )
    text = site_text(draft)
    config = check_config(text, out)
    d.say("")
    d.say(
        "Aperçu : les exports lus par l'ingestion de Vigie avec cette configuration "
        "(rien n'est écrit)."
    )
    show_preview(d, preview(config, site))
    d.say("")
    if not d.confirm(f"Écrire la configuration dans {out} ?", True):
        d.say("Rien n'est écrit.")
        return None
    if out.exists() and not opts.force:  # made meanwhile
        raise InitError(f"{out} existe déjà : remplacez-le avec --force.")
    write_text(text, out)
    d.say(f"Configuration écrite : {out}")
    key = secret_path(config.secrets_dir, site)
    if not key.exists():
        if opts.secret and d.confirm(
            f"Créer le secret du site (clés de foyer des signalements) dans {key} ?", True
        ):
            create_secret(key)
            d.say(
                f"Secret créé : {key} (à garder hors du dépôt, à sauvegarder, "
                "à ne jamais diffuser)."
            )
        else:
            d.say(f"Secret du site absent ({key}) : « make demo » le créera.")
    d.say("")
    d.say("Étapes suivantes :")
    d.say(f"  make demo CONFIG={out}        (toutes les étapes, jusqu'à la carte)")
    d.say(f"  ou : vigie run --config {out}")
    d.say(f"  Vérifier l'installation et les fichiers : vigie doctor --config {out}")
    return out


def options_of(args: object) -> InitOptions:
    """:class:`InitOptions` from the parsed command line."""
    get = lambda name, default=None: getattr(args, name, default)  # noqa: E731
    return InitOptions(
        site=get("site"),
        name=get("name"),
        exports=tuple(get("export") or ()),
        observations=tuple(get("observations") or ()),
        osm=get("osm"),
        bbox=parse_bbox(str(get("bbox"))) if get("bbox") else None,
        out=get("out"),
        columns=tuple(get("column") or ()),
        categories=tuple(get("category") or ()),
        crs=get("crs"),
        yes=bool(get("yes")),
        force=bool(get("force")),
        secret=not get("no_secret", False),
    )


def main(args: object) -> int:
    """``vigie init`` from parsed arguments; the exit code (0, or 2 through the CLI's
    handling of user errors)."""
    opts = options_of(args)
    run(opts, Dialogue(interactive=not opts.yes))
    return 0


__all__ = ["InitError", "InitOptions", "main", "run"]
