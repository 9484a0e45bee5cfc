"""Progress of a long step (reading a large export, geocoding, rendering): a bar on a
terminal, at most :data:`PROGRESS_LINES` log lines elsewhere (:func:`progress_mode`),
nothing under ``vigie -q``. :func:`track` wraps an iterable, :class:`Progress` counts
by hand; the messages are French.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator, Sized
from typing import Any, TextIO, TypeVar

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

T = TypeVar("T")


#: The logger of the progress lines: ``vigie -q`` (level WARNING) silences them with the
#: rest of the package's messages, and the bars with them.
progress_log = logging.getLogger("pipelines.progress")


#: How many lines a long step writes at most off a terminal (one per tenth done), besides
#: its last one.
PROGRESS_LINES = 10


def progress_mode(stream: TextIO | None = None) -> str:
    """How a long step shows its progress on ``stream`` (default: standard error).

    Returns
    -------
    str
        ``"off"`` when the package's messages are silenced (``vigie -q``, or a library
        use where logging was never configured: level WARNING); ``"bar"`` on a terminal
        (a tqdm bar, redrawn in place); ``"lines"`` otherwise (make, CI, a pipe or a
        file: plain log lines, one per tenth done).
    """
    if not progress_log.isEnabledFor(logging.INFO):
        return "off"
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    if callable(isatty) and isatty() and os.environ.get("TERM") != "dumb":
        return "bar"
    return "lines"


class Progress:
    """The progress of one long step: a bar on a terminal, log lines elsewhere, nothing
    under ``vigie -q`` (see :func:`progress_mode`). Use it as a context manager.

    Parameters
    ----------
    what
        What the step does, in French (« Lecture des exports (bondy) »).
    total
        Its number of units (files, bytes, steps, sites); ``None`` when unknown.
    unit
        The unit's French name (« étape », « o » for bytes, shown scaled).
    stream
        Where a bar is drawn (default: standard error, where the log lines go too).

    Examples
    --------
    >>> with Progress("Points chauds", total=3, unit="étape") as bar:
    ...     for step in ("comptages", "Gi*", "densité"):
    ...         bar.update(step=step)
    """

    #: Bars open now: log lines go through the outermost bar so that they do not cut it.
    _open = 0

    def __init__(
        self, what: str, total: float | None, *, unit: str = "", stream: TextIO | None = None
    ) -> None:
        self.what = what
        self.total = total
        self.unit = unit
        self.done = 0.0
        self.step: str | None = None
        self.mode = progress_mode(stream)
        self._stream = sys.stderr if stream is None else stream
        self._bar: Any = None
        self._redirect: contextlib.AbstractContextManager[None] | None = None
        self._next_line = 1
        self._start = time.perf_counter()

    def __enter__(self) -> Progress:
        if self.mode == "bar":
            # tqdm draws the bar; a library rather than our own code: it sizes the bar to
            # the terminal, estimates the time left and nests bars (vigie run's sites
            # above a stage's steps).
            scaled = self.unit == "o"
            self._bar = tqdm(
                total=self.total,
                desc=self.what,
                unit="o" if scaled else "",
                unit_scale=scaled,
                file=self._stream,
                leave=Progress._open == 0,
                dynamic_ncols=True,
                bar_format=(
                    "{desc} : {percentage:3.0f} % |{bar}| {n_fmt}/{total_fmt}"
                    + ("" if scaled else f" {self.unit}")
                    + " [{elapsed}<{remaining}{postfix}]"
                ),
            )
            if Progress._open == 0:
                self._redirect = logging_redirect_tqdm()
                self._redirect.__enter__()
            Progress._open += 1
        return self

    def update(self, n: float = 1, *, step: str | None = None) -> None:
        """``n`` more units done (0: none, only ``step`` changes); ``step``: what was just
        done or is being done, shown beside the count until the next one."""
        self.done += n
        if step is not None:
            self.step = step
        if self.mode == "bar":
            if step is not None:
                self._bar.set_postfix_str(step, refresh=False)
            if n:
                self._bar.update(n)
            else:
                self._bar.refresh()
        elif self.mode == "lines" and self.total:
            share = self.done / self.total
            if share * PROGRESS_LINES >= self._next_line and share < 1:
                self._next_line = int(share * PROGRESS_LINES) + 1
                progress_log.info("%s : %s", self.what, self._where(self.step))

    def _where(self, step: str | None) -> str:
        share = f"{100 * self.done / self.total:.0f} %" if self.total else ""
        if self.unit == "o":
            count = f" ({_units(self.done, 'o')} / {_units(self.total or 0, 'o')})"
        else:
            count = f" ({self.done:.0f}/{_units(self.total or 0, self.unit)})"
        return share + count + (f", {step}" if step else "")

    def close(self) -> None:
        """Close the bar, or write the step's last line (with its duration)."""
        if self.mode == "bar" and self._bar is not None:
            self._bar.close()
            self._bar = None
            Progress._open -= 1
            if self._redirect is not None:
                self._redirect.__exit__(None, None, None)
                self._redirect = None
        elif self.mode == "lines":
            seconds = time.perf_counter() - self._start
            done = f" ({_units(self.done, self.unit)})" if self.unit else ""
            progress_log.info(
                "%s : terminé%s en %s s", self.what, done, f"{seconds:.1f}".replace(".", ",")
            )
        self.mode = "closed" if self.mode != "off" else "off"

    def __exit__(self, *exc: object) -> None:
        self.close()


def _units(n: float, unit: str) -> str:
    """``12 étapes``, ``3,4 Mo``: a count in its unit, for a progress line."""
    if unit == "o":
        for scale, name in ((1e9, "Go"), (1e6, "Mo"), (1e3, "ko")):
            if n >= scale:
                return f"{n / scale:.1f} {name}".replace(".", ",")
        return f"{n:.0f} o"
    return f"{n:.0f} {unit}{'s' if n >= 2 and not unit.endswith('s') else ''}"


def track(
    items: Iterable[T], what: str, *, total: int | None = None, unit: str = ""
) -> Iterator[T]:
    """``items`` one by one, with a :class:`Progress` of them (``total``: ``len(items)``
    when it has one)."""
    if total is None and isinstance(items, Sized):
        total = len(items)
    with Progress(what, total, unit=unit) as bar:
        for item in items:
            yield item
            bar.update(step=str(item) if isinstance(item, str) else None)
