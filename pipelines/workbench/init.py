"""``vigie init``: a new site's configuration from its export files and an OSM extract.

For each export: its format, encoding and separator (ingestion's readers; for a
workbook with rows on several sheets, the sheet to read is asked), the column of
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
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from pipelines.config import Config, input_problem, load_config
from pipelines.errors import ConfigError
from pipelines.fr import fold, plural
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
from pipelines.taxonomy import CODES, normalise_label
from pipelines.workbench.detect import Detected, DetectionError, category_labels, detect_roles
from pipelines.workbench.dialogue import Dialogue, InitError
from pipelines.workbench.headers import find_column
from pipelines.workbench.labels import LabelChoice, propose_all
from pipelines.workbench.questions import (
    ask_exports,
    ask_osm,
    ask_sheet,
    ask_site,
    edit_labels,
    edit_roles,
    parse_bbox,
)
from pipelines.workbench.show import show_file, show_labels, show_preview, show_roles
from pipelines.workbench.siteblock import SiteDraft, SourceDraft, site_text


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
    sheet: str | None = None  # the sheet of the XLSX exports, when not their first
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


def read_export(path: str, *, sheet: str | None = None) -> list[RawFile]:
    """Every file of an export, read as ingestion reads them (format detected; a
    workbook's ``sheet``, else its first).

    Raises
    ------
    InitError
        A file without data: for a workbook whose first sheet has none, naming the sheets
        that have rows and ``--sheet``.
    """
    raws = []
    for f in export_files(path):
        raw = read_file(f, "auto", sheet=sheet)
        if not raw.has_header or raw.n_rows == 0:
            if raw.sheets_with_rows:
                names = ", ".join(f"« {name} »" for name in raw.sheets_with_rows)
                raise InitError(
                    f"{f} : la feuille « {raw.sheets[0]} » n'a aucune ligne de données ; le "
                    f"classeur en a sur {names} : relancez avec --sheet "
                    f'"{raw.sheets_with_rows[0]}".'
                )
            raise InitError(f"{f} : fichier sans données (aucune ligne sous l'en-tête).")
        raws.append(raw)
    return raws


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
    # Interactive, a workbook with rows on several sheets: which one is asked.
    sheet = opts.sheet or ask_sheet(d, export_files(path)[0])
    raws = read_export(path, sheet=sheet)
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
    detected, crs = edit_roles(d, raw, detected, forced, crs)
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
        choices = edit_labels(d, choices, labels, dict(chosen))
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
        sheet=sheet if raw.format == "xlsx" else None,
    )


def run(opts: InitOptions, d: Dialogue) -> Path | None:
    """The whole conversation; the configuration written (``None``: the analyst declined).

    Raises
    ------
    InitError, ConfigError, InputError
        A user error: one French message (the CLI exits with code 2).
    """
    d.say("Vigie — nouveau site. Chaque proposition se valide par Entrée ; « n » pour la changer.")
    site, name = ask_site(d, opts.site, opts.name)
    out = Path(opts.out or d.ask("Fichier de configuration à écrire :", f"config/{site}.toml"))
    if out.exists() and not opts.force:
        raise InitError(
            f"{out} existe déjà : choisissez un autre fichier (--out) ou remplacez-le avec --force."
        )
    exports = ask_exports(d, opts.exports, opts.observations)
    osm, bbox = ask_osm(d, opts.osm, opts.bbox)
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
    seen = {normalise_label(c.label) for s in sources for c in s.labels}
    absent = [label for label in chosen if normalise_label(label) not in seen]
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
            d.say(
                f"Secret du site absent ({key}) : « make demo » le créera (ou : vigie secret "
                f"--config {out} --site {site})."
            )
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
        sheet=get("sheet"),
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
