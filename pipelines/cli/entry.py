"""The entry points: :func:`main` (arguments to exit code, a user error as one French
line) and :func:`run` (the ``vigie`` command and ``python -m pipelines``)."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from pipelines.cli.parser import build_parser
from pipelines.errors import VigieError, os_reason


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        code = args.func(args)  # None, or the exit code of a check (vigie doctor)
    except VigieError as err:
        print(f"vigie : erreur : {err}", file=sys.stderr)
        return err.exit_code
    except OSError as err:
        # A read or write of a named path that failed (permission denied, full disk…)
        # is the user's to fix: one message naming the path. An OSError without a path
        # is no I/O on a user's file and propagates as a programming error.
        if err.filename is None:
            raise
        print(f"vigie : erreur : {err.filename} : {os_reason(err)}.", file=sys.stderr)
        return VigieError.exit_code
    except KeyboardInterrupt:
        print("vigie : interrompu", file=sys.stderr)
        return 130
    return code if isinstance(code, int) else 0


def run() -> NoReturn:
    """The ``vigie`` command and ``python -m pipelines``: :func:`main`, then the process
    ends with its code at once, without the interpreter's teardown.

    At the end of a process, the C++ libraries' objects are destroyed, Arrow's thread
    pools (pyarrow) among them, and now and then one of their threads is still alive:
    ``std::terminate``, « terminate called without an active exception » on stderr, and
    the process dies with signal 6 (code -6) after its work or its French error, so make
    or a calling script sees a failure that is none (apache/arrow#34314). Seen here on a
    refused ingestion about 1 run in 25 on a loaded 2-core machine
    (``tests/test_errors.py`` failed so once), never once ended this way in 150.

    Everything the command writes is closed by then (each file and temporary folder in
    a ``with``, a Dask cluster closed by its ``ExitStack``; Vigie registers no
    ``atexit`` callback), so only the logging handlers and the standard streams are
    flushed here before :func:`os._exit`. An unexpected exception still goes up as a
    traceback, through the normal exit."""
    try:
        code = main()
    except SystemExit as exit_:  # argparse: --help (0), a bad option (2)
        code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BrokenPipeError, ValueError):  # reader gone (| head)
            stream.flush()
    os._exit(code)
