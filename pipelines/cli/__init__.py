"""Command line: ``vigie <stage> …`` (also ``python -m pipelines <stage> …``).

``vigie run --config FILE`` runs every stage for every site; the stage subcommands take
explicit input and output paths so that ``make`` owns the dependency graph. A user error
(bad configuration or input file) prints one message naming the file and exits with
code 2, without a traceback; so does a failed read or write of a user's path (full disk,
read-only folder, permission denied). Each command loads (and checks) its configuration
before it imports its stage's modules, so that a mistake is reported within about a
second rather than after the stage's heavy imports.

The package, one concept a module: :mod:`~pipelines.cli.commands` (a command of its own
per stage and tool, with explicit paths), :mod:`~pipelines.cli.sites` (a site's stages
from the stage table: ``vigie stage``, ``vigie run`` and its Dask tasks, ``vigie
split``), :mod:`~pipelines.cli.parser` (the arguments, their errors in French) and
:mod:`~pipelines.cli.entry` (:func:`main`, and :func:`run`, the process's end). The CLI
is the one part of the package that imports each stage inside the function that runs
it, so that ``vigie --help`` starts without loading geopandas.
"""

from __future__ import annotations

from pipelines.cli.entry import main, run
from pipelines.cli.parser import FrenchArgumentParser, argparse_error_fr, build_parser
from pipelines.cli.sites import RUNNERS, run_site_stages, run_stage, site_task

__all__ = [
    "RUNNERS",
    "FrenchArgumentParser",
    "argparse_error_fr",
    "build_parser",
    "main",
    "run",
    "run_site_stages",
    "run_stage",
    "site_task",
]
