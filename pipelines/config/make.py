"""Write the make fragment that lists, per site, the input files of the configuration.

The configuration is the single source of truth for a site's inputs AND for the folders
the stages write to; ``make`` includes this fragment (``build/deps-<hash>.mk``, one per
configuration content) so that adding a source (or next month's file matching a glob)
re-runs exactly the stages that depend on it, and so that ``make`` and ``vigie`` always
agree on where ``processed_dir``, ``maps_dir`` and ``annotations_dir`` are.

Paths go into make in two spellings: escaped for a prerequisite list (a space becomes
``\\ ``, ``#`` becomes ``\\#``, ``$`` becomes ``$$``) and raw for the recipes, which
shell-quote them with the Makefile's ``q`` function. Characters make cannot carry in a
file name (``:``, ``;``, ``%``, ``\\``, control characters) are refused here, with a
French message naming the key, rather than leaving ``make`` to build nothing.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

from pipelines.config import Config, PortfolioConfig
from pipelines.config.layerfiles import layer_files
from pipelines.errors import ConfigError
from pipelines.io import write_text
from pipelines.stages import INDEX_READS, STAGES, Stage

#: Files written by ``vigie simulate`` into a simulated site's raw folder.
SIMULATED_FILES = (
    "signalements_bailleur.csv",
    "observations_diagnostic.geojson",
    "observations_kobo.csv",
    "simulation_truth.json",
    "gazetteer.csv",
)
#: The action register ``vigie simulate`` writes into the site's register folder.
SIMULATED_REGISTER = "actions.csv"

#: Characters make cannot hold in a target or prerequisite name, even escaped (measured
#: with GNU make 4.3 under .SECONDEXPANSION: ``:`` and ``;`` end the list, ``\\`` is
#: ambiguous with the escapes, ``%`` is the pattern character of the stage rules).
UNSAFE = ":;%\\"
GLOB_CHARS = "*?["


def _check(config: Config, path: str, key: str, *, folder: bool = False) -> str:
    """``path`` if make can carry it, else a :class:`ConfigError` naming ``key``."""
    bad = sorted(
        {ch for ch in path if ch in UNSAFE or ord(ch) < 32 or ord(ch) == 127}
        | ({ch for ch in path if ch in GLOB_CHARS + "$"} if folder else set())
    )
    if bad:
        shown = " ".join(f"« {ch} »" if ch.isprintable() else repr(ch) for ch in bad)
        raise ConfigError(
            config.path,
            f"le chemin « {path if path.isprintable() else repr(path)} » contient {shown}, "
            "que make ne sait pas traiter dans "
            "un nom de fichier : renommez le fichier ou le dossier (espaces, accents, "
            "apostrophes et parenthèses sont acceptés).",
            key=key,
        )
    if not path or path != path.strip():
        raise ConfigError(
            config.path,
            f"le chemin « {path} » est vide ou commence ou finit par une espace.",
            key=key,
        )
    return path


def _inside(path: str | Path, folder: str | Path) -> bool:
    """Whether ``path`` is ``folder`` or lies under it (both taken from the working folder)."""
    p, f = Path(path).absolute(), Path(folder).absolute()
    return p == f or f in p.parents


def _check_outputs_hold_no_input(config: Config) -> None:
    """Refuse output folders that hold an input: the stages would write among the inputs
    and ``make clean`` (which removes ``processed_dir/<site>``) would delete them."""
    for key, out in (
        ("project.processed_dir", config.processed_dir),
        ("project.maps_dir", config.maps_dir),
    ):
        for folder, what in (
            (config.annotations_dir, "le dossier des notes"),
            (config.actions_dir, "le dossier des registres d'actions"),
        ):
            if _inside(folder, out) or _inside(out, folder):
                raise ConfigError(
                    config.path,
                    f"le dossier de sortie « {out} » et {what} « {folder} » doivent être "
                    "distincts et non imbriqués.",
                    key=key,
                )
    for n, site in enumerate(config.sites):
        site_dir = Path(config.processed_dir) / site.id
        inputs = [(f"sites[{n}].{k}", getattr(site, k)) for k in ("osm", "ban", "rpls")]
        inputs += [(f"sites[{n}].sources[{i}].path", s.path) for i, s in enumerate(site.sources)]
        for key, path in inputs:
            if path and not path.startswith("overpass:") and _inside(path, site_dir):
                raise ConfigError(
                    config.path,
                    f"« {path} » est dans le dossier de sortie « {site_dir} » "
                    "(project.processed_dir) : « make clean » l'effacerait. Choisissez un "
                    "autre processed_dir.",
                    key=key,
                )


def make_name(path: str) -> str:
    """``path`` escaped for a make target or prerequisite list."""
    return raw_value(path).replace(" ", "\\ ")


def raw_value(path: str) -> str:
    """``path`` as the value of a ``:=`` assignment (``#`` and ``$`` escaped)."""
    return path.replace("$", "$$").replace("#", "\\#")


def shell_glob(pattern: str) -> str:
    """``pattern`` as a bash word: literal parts quoted, ``*``, ``?`` and ``[…]`` active.

    Bash expands ``*``, ``?`` and ``[…]`` as :func:`glob.glob` does (neither matches a
    leading dot); the Makefile's ``vigie_glob`` runs it because make's own ``$(wildcard)``
    cuts the names it returns at their spaces.
    """
    words: list[str] = []
    literal = ""
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch in "*?":
            words += [shlex.quote(literal) if literal else "", ch]
            literal = ""
        elif ch == "[" and "]" in pattern[i + 2 :]:
            end = pattern.index("]", i + 2)
            words += [shlex.quote(literal) if literal else "", pattern[i : end + 1]]
            literal = ""
            i = end
        else:
            literal += ch
        i += 1
    if literal:
        words.append(shlex.quote(literal))
    return "".join(words)


def _glob(config: Config, pattern: str, key: str, var: str) -> tuple[str, str]:
    """The definition of ``var`` (``pattern`` for bash) and the make call that lists the
    files matching it when make reads the fragment.

    The pattern goes through a variable, not into the call itself, so that a comma or an
    unbalanced parenthesis in a file name is not taken for make syntax.
    """
    for start in (i for i, ch in enumerate(pattern) if ch == "["):
        inner = pattern[start : pattern.find("]", start + 2) + 1]
        if any(ch in inner for ch in " '\"$`"):
            raise ConfigError(
                config.path,
                f"motif « {pattern} » : pas d'espace ni de guillemet entre crochets.",
                key=key,
            )
    return f"{var} := {raw_value(shell_glob(pattern))}", f"$(call vigie_glob,$({var}))"


def _quote(path: str) -> str:
    """``path`` shell-quoted for a recipe line of the fragment."""
    return raw_value(shlex.quote(path))


def _split_rule(config: Config, portfolio: PortfolioConfig) -> list[str]:
    """The rule of ``vigie split``: every file it writes (each site's extract and rows,
    the rows outside every site, the summary) from the layer, the extract, the
    gazetteer and the shared exports."""
    lines: list[str] = []
    _check(config, portfolio.perimeters, "portfolio.perimeters")
    inputs = [make_name(f) for f in layer_files(portfolio.perimeters)]  # a Shapefile's parts
    inputs.append(make_name(_check(config, portfolio.osm, "portfolio.osm", folder=True)))
    if portfolio.gazetteer:
        inputs.append(make_name(_check(config, portfolio.gazetteer, "portfolio.gazetteer")))
    for i, ps in enumerate(portfolio.sources):
        key = f"portfolio.sources[{i}].path"
        _check(config, ps.source.path, key)
        if any(ch in ps.source.path for ch in GLOB_CHARS):
            definition, call = _glob(config, ps.source.path, key, f"GLOB_portfolio_{i}")
            lines.append(definition)
            inputs.append(call)
        else:
            inputs.append(make_name(ps.source.path))
    outputs = " ".join(make_name(str(p)) for p in portfolio.outputs())
    lines += [
        f"SPLIT_OUTPUTS := {outputs}",
        f"$(SPLIT_OUTPUTS) &: {' '.join(inputs)} $$(CONFIG_STAMP) "
        "$(wildcard pipelines/portfolio/*.py) $(wildcard pipelines/osm/*.py) "
        "$(wildcard pipelines/ingest/*.py) $(COMMON) | $(VENV_STAMP)",
        "\t$(VIGIE) split --config $(CFG)",
    ]
    return lines


def deps_fragment(config: Config) -> str:
    """The text of the make fragment for ``config``.

    Raises
    ------
    ConfigError
        When a path of the configuration holds a character make cannot carry.
    """
    folders = {
        "PROCESSED": ("project.processed_dir", config.processed_dir),
        "MAPS": ("project.maps_dir", config.maps_dir),
        "ANNOTATIONS": ("project.annotations_dir", config.annotations_dir),
        "SECRETS": ("project.secrets_dir", config.secrets_dir),
        "ACTIONS": ("project.actions_dir", config.actions_dir),
    }
    lines = [f"# Generated by `vigie deps --config {raw_value(config.path)}`: do not edit."]
    for var, (key, folder) in folders.items():
        folder = _check(config, folder.rstrip("/") or "/", key, folder=True)
        lines += [f"{var} := {make_name(folder)}", f"RAW_{var} := {raw_value(folder)}"]
    _check_outputs_hold_no_input(config)
    lines.append(f"SITES := {' '.join(s.id for s in config.sites)}")
    portfolio = config.portfolio
    split_sites = set(portfolio.site_ids) if portfolio is not None else set()
    split_summary = ""
    if portfolio is not None:
        lines += _split_rule(config, portfolio)
        split_summary = make_name(str(portfolio.summary))
    secrets_dir = config.secrets_dir.rstrip("/") or "/"
    annotations_dir = config.annotations_dir.rstrip("/") or "/"
    actions_dir = config.actions_dir.rstrip("/") or "/"
    for n, site in enumerate(config.sites):
        v = site.id
        where = f"sites[{n}]"
        for key in ("osm", "ban", "rpls", "gazetteer"):
            value = getattr(site, key)
            if value is not None and not value.startswith("overpass:"):
                _check(config, value, f"{where}.{key}", folder=True)
        inputs: list[str] = []
        for i, src in enumerate(site.sources):
            key = f"{where}.sources[{i}].path"
            _check(config, src.path, key)
            if any(ch in src.path for ch in GLOB_CHARS):
                definition, call = _glob(config, src.path, key, f"GLOB_{v}_{i}")
                lines.append(definition)
                inputs.append(call)
            else:
                inputs.append(make_name(src.path))
        sim: list[str] = []
        # A portfolio's site reads what `vigie split` cuts: no simulator of its own.
        if site.simulated and site.id not in split_sites:
            raw_dir = Path(site.osm).parent
            sim = [make_name(str(raw_dir / name)) for name in SIMULATED_FILES]
            inputs = [i for i in inputs if i not in sim] + sim[:3]
        osm = "" if site.osm.startswith("overpass:") else make_name(site.osm)
        notes, notes_call = _glob(
            config, f"{annotations_dir}/{site.id}/*", "project.annotations_dir", f"GLOB_{v}_notes"
        )
        register, register_call = _glob(
            config, f"{actions_dir}/{site.id}/*", "project.actions_dir", f"GLOB_{v}_actions"
        )
        lines += [
            # An online source (``overpass:…``) is no file: make cannot date it, so the
            # buildings stage of such a site is re-run only when its config changes.
            f"OSM_{v} := {osm}",
            f"OSMSPEC_{v} := {raw_value(site.osm)}",
            f"RPLS_{v} := {make_name(site.rpls) if site.rpls else ''}",
            f"RAW_RPLS_{v} := {raw_value(site.rpls) if site.rpls else ''}",
            f"REFS_{v} := {' '.join(make_name(p) for p in (site.ban, site.gazetteer) if p)}",
            f"SOURCES_{v} := {' '.join(inputs)}",
            f"SIMULATED_{v} := {' '.join(sim)}",
            f"PORTFOLIO_{v} := {split_summary if v in split_sites else ''}",
            notes,
            f"ANNOTATIONS_{v} := {notes_call}",
            # The action register: touching it re-runs the actions stage and what reads
            # its outputs (publish, map…), never the analysis stages.
            register,
            f"ACTIONS_{v} := {register_call}",
            # The site's secret (keys of the households): made once when missing, never
            # remade (vigie secret refuses to overwrite it); ingestion depends on it.
            f"SECRET_{v} := {make_name(f'{secrets_dir}/{v}.key')}",
            f"{make_name(f'{secrets_dir}/{v}.key')}: | $(VENV_STAMP)",
            f"\t$(VIGIE) secret --config $(CFG) --site {v}",
        ]
        if site.simulated and site.id not in split_sites:
            refs = " ".join(make_name(p) for p in (site.osm, site.ban, site.rpls) if p)
            # The simulated action register goes to the site's register folder
            # (project.actions_dir, which comes with the register's stage; until then the
            # folder issue #17 names).
            register_dir = f"{getattr(config, 'actions_dir', 'data/actions').rstrip('/')}/{v}"
            register = make_name(f"{register_dir}/{SIMULATED_REGISTER}")
            lines += [
                f"{' '.join(sim)} {register} &: {refs} "
                "$(wildcard pipelines/simulate/*.py) $(COMMON) | $(VENV_STAMP)",
                f"\t$(VIGIE) simulate --osm {_quote(site.osm)} --ban {_quote(site.ban or '')} "
                + (f"--rpls {_quote(site.rpls)} " if site.rpls else "")
                + f"--out-dir {_quote(str(Path(site.osm).parent))} "
                + f"--actions-dir {_quote(register_dir)} --seed $(SEED)",
            ]
    return "\n".join(lines) + "\n" + make_rules([s.id for s in config.sites])


def write_deps(config: Config, dst: Path) -> Path:
    """Write :func:`deps_fragment` to ``dst``."""
    return write_text(deps_fragment(config), dst)


#: The make variable (written by ``vigie deps`` per site) holding each setting's files.
SETTING_VARS = {
    "osm": "OSM",
    "rpls": "RPLS",
    "refs": "REFS",
    "sources": "SOURCES",
    "annotations": "ANNOTATIONS",
    "simulated": "SIMULATED",
    "secret": "SECRET",
    "actions": "ACTIONS",
    "portfolio": "PORTFOLIO",
}


def _code_prerequisites(code: tuple[str, ...]) -> str:
    # *.py, not *: a __pycache__ folder would date the stage by its last import.
    return " ".join(
        f"$(wildcard pipelines/{folder}/*.{'*' if folder == 'templates' else 'py'})"
        for folder in code
    )


def make_rules(sites: Sequence[str] = ()) -> str:
    """The per-site make rules of :data:`STAGES` (pattern rules on the site id ``%``).

    Each rule's targets are the stage's outputs; its prerequisites are the files it
    reads, the files its settings name (per-site variables written beside these rules),
    the configuration stamp of its output folder, its code folders and the shared
    modules (``$(COMMON)``). Its recipe is ``vigie stage <name>`` with explicit folders.
    A stage whose processed output names its site (``vigie_{site}.gpkg``) gets one
    explicit rule per site of ``sites`` instead (:func:`site_rules`).
    """
    lines = ["# ---- per-site stages, from pipelines/stages.py"]
    for s in STAGES:
        in_maps = any(w.startswith("{maps}") for w in s.writes)
        if not in_maps and any("{site}" in w for w in s.writes):
            lines += [line for site in sites for line in site_rules(s, site)]
            continue
        targets = [
            w.format(maps="$(MAPS)", site="%") if w.startswith("{maps}") else f"$(PROCESSED)/%/{w}"
            for w in s.writes
        ]
        prereqs = [
            r.format(maps="$$(MAPS)", site="%")
            if r.startswith("{maps}")
            else f"$$(PROCESSED)/%/{r}"
            for r in s.reads
        ]
        prereqs += [f"$$({SETTING_VARS[k]}_$$*)" for k in s.settings]
        prereqs.append("$$(MAPS_STAMP)" if in_maps else "$$(CONFIG_STAMP)")
        prereqs += [_code_prerequisites(s.code), "$(COMMON)"]
        order_only = "$(VENV_STAMP) $(NODE_STAMP)" if in_maps else "$(VENV_STAMP)"
        if s.browser:
            order_only += " $(BROWSER_STAMP)"
        lines.append(f"{' '.join(targets)}: {' '.join(prereqs)} | {order_only}")
        lines.append(
            f"\t$(VIGIE) stage {s.name} --config $(CFG) --site $* "
            "--processed-dir $(SITE_DIR) --maps-dir $(call q,$(RAW_MAPS))"
        )
    # The index's inputs for every site (recursive, so that $(SITES) and $(MAPS) are read
    # where the index's rule expands it, in its prerequisites' second expansion).
    index = " ".join(
        r.format(maps="$(MAPS)", site="$(s)")
        if r.startswith("{maps}")
        else f"$(PROCESSED)/$(s)/{r}"
        for r in INDEX_READS
    )
    lines.append(f"INDEX_INPUTS = $(foreach s,$(SITES),{index})")
    files = [w for s in STAGES for w in s.writes if not w.startswith("{maps}") and "{" not in w]
    lines.append(f"PROCESSED_FILES := {' '.join(files)}")
    return "\n".join(lines) + "\n"


def site_rules(s: Stage, site: str) -> list[str]:
    """The make rule of stage ``s`` for one site, for a stage whose processed output names
    its site (``vigie_{site}.gpkg``: a make pattern holds one ``%`` only)."""
    targets = [f"$(PROCESSED)/{site}/{w.format(site=site)}" for w in s.writes]
    prereqs = [
        r.format(maps="$$(MAPS)", site=site)
        if r.startswith("{maps}")
        else f"$$(PROCESSED)/{site}/{r}"
        for r in s.reads
    ]
    prereqs += [f"$$({SETTING_VARS[k]}_{site})" for k in s.settings]
    prereqs += ["$$(CONFIG_STAMP)", _code_prerequisites(s.code), "$(COMMON)"]
    order_only = "$(VENV_STAMP) $(BROWSER_STAMP)" if s.browser else "$(VENV_STAMP)"
    return [
        f"{' '.join(targets)}: {' '.join(prereqs)} | {order_only}",
        f"\t$(VIGIE) stage {s.name} --config $(CFG) --site {site} "
        f"--processed-dir $(call q,$(RAW_PROCESSED)/{site}) --maps-dir $(call q,$(RAW_MAPS))",
    ]
