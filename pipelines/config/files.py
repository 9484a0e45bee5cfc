"""The files a configuration names: each input exists and is a regular file that can be
read, each output folder can be one."""

from __future__ import annotations

import os
import stat
from collections.abc import Collection
from pathlib import Path

from pipelines.config.site import Config, SiteConfig
from pipelines.errors import ConfigError, os_reason


def input_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be read as an input file (in French), or ``None``.

    Only the file's status is read (``os.stat``): a named pipe, a device or a folder is
    refused without being opened, so that a pipe cannot hang the run.
    """
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "fichier introuvable"
    except ValueError:  # a NUL character in the path
        return "chemin invalide"
    except OSError as err:
        return os_reason(err)
    if stat.S_ISDIR(mode):
        return "c'est un dossier, pas un fichier"
    if not stat.S_ISREG(mode):
        return (
            "ce n'est pas un fichier ordinaire (tube, périphérique ou socket) ; "
            "Vigie ne lit que des fichiers"
        )
    if not os.access(path, os.R_OK):
        return "lecture refusée par les droits du fichier"
    return None


def output_dir_problem(path: Path) -> str | None:
    """Why ``path`` cannot be an output folder: it, or the first of its parents that
    exists, is not a folder."""
    for p in (path, *path.parents):
        try:
            mode = os.stat(p).st_mode
        except (FileNotFoundError, NotADirectoryError):
            continue
        except ValueError:
            return "chemin invalide"
        except OSError as err:
            return os_reason(err)
        if not stat.S_ISDIR(mode):
            return f"« {p} » existe et n'est pas un dossier"
        return None
    return None


def site_inputs(site: SiteConfig, where: str) -> list[tuple[str, str, list[Path]]]:
    """Each input file of ``site`` (the OSM extract unless it comes from Overpass, the
    reference files, each source): its configuration key (``where`` is the site's own,
    ``sites[0]``), its configured path, and the files it names (a glob's matches,
    perhaps none)."""
    out: list[tuple[str, str, list[Path]]] = []
    if not site.osm.startswith("overpass:"):
        out.append((f"{where}.osm", site.osm, [Path(site.osm)]))
    for key in ("ban", "rpls", "gazetteer"):
        value = getattr(site, key)
        if value is not None:
            out.append((f"{where}.{key}", value, [Path(value)]))
    for i, source in enumerate(site.sources):
        out.append((f"{where}.sources[{i}].path", source.path, source.files()))
    return out


#: The kinds of input a stage may read (its settings in :mod:`pipelines.stages`), and
#: the ends of the configuration keys that name them.
INPUT_KINDS = {
    "osm": (".osm",),
    "rpls": (".rpls",),
    "refs": (".ban", ".gazetteer"),
    "sources": (".path",),
}


def check_inputs(
    config: Config,
    site_id: str,
    *,
    osm: bool = True,
    simulated_exports: bool = True,
    kinds: Collection[str] | None = None,
) -> None:
    """Check the input files of one site: each exists, each glob matches at least one
    file, each is a regular file that can be read (a folder, a pipe or a device is
    refused from its status, without being opened).

    Parameters
    ----------
    config, site_id
        The configuration and the site.
    osm
        Whether the OSM extract must exist (the stages that read it); when ``False`` it is
        still refused if it exists but is no regular file.
    simulated_exports
        Whether a simulated site's exports must exist; when ``False`` (before ``make``
        has run ``vigie simulate``), those missing from the folder of the site's OSM
        extract, where the simulator writes them, are no error yet.
    kinds
        Only the inputs of these kinds (keys of :data:`INPUT_KINDS`: what one stage
        reads); ``None``: all of them. A stage must not stop on an input it does not
        read and another step has not written yet: under ``make -j``, the buildings
        stage runs beside the simulator, which writes the site's gazetteer.

    Raises
    ------
    ConfigError
        Naming the configuration file, the key and the path at fault.
    """
    site = config.site(site_id)
    where = f"sites[{config.sites.index(site)}]"
    made_here = (
        os.path.abspath(Path(site.osm).parent) if site.simulated and not simulated_exports else None
    )
    # A portfolio's site reads what `vigie split` cuts for it: missing before the split.
    split_dir = (
        Path(os.path.abspath(config.portfolio.folder))
        if config.portfolio is not None and not simulated_exports
        else None
    )
    ends = None if kinds is None else tuple(e for k in kinds for e in INPUT_KINDS[k])
    for key, text, files in site_inputs(site, where):
        if ends is not None and not key.endswith(ends):
            continue
        # The simulator writes the exports and the gazetteer, never the extract, the BAN
        # or the RPLS it reads: those must exist before it runs.
        written_by_simulator = key.endswith((".path", ".gazetteer"))
        may_wait = (
            (key.endswith(".osm") and not osm)
            or (
                made_here is not None
                and written_by_simulator
                and os.path.abspath(Path(text).parent) == made_here
            )
            or (split_dir is not None and Path(os.path.abspath(text)).is_relative_to(split_dir))
        )
        _check_files(config, key, text, files, may_wait=may_wait)


def _check_files(config: Config, key: str, text: str, files: list[Path], *, may_wait: bool) -> None:
    """The files of one key: at least one, each a readable regular file; ``may_wait``:
    files that another step writes later may be missing yet."""
    if not files:
        if may_wait:
            return
        raise ConfigError(
            config.path,
            f"aucun fichier ne correspond au motif « {text} » ; vérifiez le chemin"
            f"{_relative_to_cwd(text)}.",
            key=key,
        )
    for file in files:
        problem = input_problem(file)
        if problem is None or (may_wait and problem == "fichier introuvable"):
            continue
        where = _relative_to_cwd(file) if problem == "fichier introuvable" else ""
        raise ConfigError(config.path, f"« {file} » : {problem}{where}.", key=key)


def _relative_to_cwd(path: str | Path) -> str:
    """`` (chemin relatif au dossier courant « … » …)`` for a relative path, else ``""``:
    a relative path is read from where Vigie runs, not from the configuration's folder,
    so a file of the project is « introuvable » when Vigie runs from elsewhere."""
    if Path(path).is_absolute():
        return ""
    return (
        f" (chemin relatif au dossier courant « {os.getcwd()} » : lancez Vigie depuis la "
        "racine du projet, ou donnez un chemin absolu)"
    )


def check_portfolio_inputs(config: Config, *, exports: bool = True) -> None:
    """Check the inputs of ``[portfolio]``: its extract and each export it splits.

    ``exports=False``: an export that matches no file yet is no error (the simulator
    may write it later in the same ``make``); one that exists must be a readable file.

    Raises
    ------
    ConfigError
        Naming the configuration file, the key and the path at fault.
    """
    portfolio = config.portfolio
    if portfolio is None:
        return
    inputs = [("portfolio.osm", portfolio.osm, [Path(portfolio.osm)], False)]
    inputs += [
        (f"portfolio.sources[{i}].path", ps.source.path, ps.source.files(), not exports)
        for i, ps in enumerate(portfolio.sources)
    ]
    for key, text, files, may_wait in inputs:
        _check_files(config, key, text, files, may_wait=may_wait)
