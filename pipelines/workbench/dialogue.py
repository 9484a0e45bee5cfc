"""The questions ``vigie init`` asks, in French, on a terminal or from piped answers; with
``--yes`` it asks none and takes every proposal (or stops on what it cannot propose).

Plain ``input()``-style reading, deliberately: the answers are short texts and yes/no,
and they must also come from a pipe (tests, scripts), which prompt libraries handle
less simply.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from pipelines.errors import VigieError

YES = ("o", "oui", "y", "yes")
NO = ("n", "non", "no")


class InitError(VigieError):
    """``vigie init`` cannot go on: a file is missing, an answer is needed but ``--yes``
    was given, the output exists…"""


@dataclass
class Dialogue:
    """Where the conversation goes: ``out`` for what is shown, ``read`` for the answers
    (``None`` at the end of the input). ``interactive=False`` (``--yes``): nothing is
    asked, every question takes its default."""

    interactive: bool = True
    out: TextIO = field(default_factory=lambda: sys.stdout)
    read: Callable[[], str | None] = field(default=lambda: _read_line(sys.stdin))

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def ask(self, question: str, default: str = "", *, needed: str = "") -> str:
        """An answer to ``question`` (``default`` when left empty).

        ``needed``: the option that gives this answer without a question; without
        dialogue (``--yes``) and without a default, the command stops naming it.

        Raises
        ------
        InitError
            No answer can be had: ``--yes`` and no default, or the input ended.
        """
        if not self.interactive:
            if default or not needed:
                return default
            raise InitError(f"{question.rstrip(' :?')} : indiquez-le avec {needed}.")
        if default and question.endswith(" :"):
            shown = f"{question[:-2]} [{default}] : "
        else:
            shown = f"{question} [{default}] " if default else f"{question} "
        print(shown, end="", file=self.out, flush=True)
        answer = self.read()
        if answer is None:
            print(file=self.out)
            raise InitError(
                "fin des réponses avant la fin des questions : relancez « vigie init » et "
                "répondez à chaque question, ou donnez tout en options avec --yes."
            )
        return answer.strip() or default

    def confirm(self, question: str, default: bool = True) -> bool:
        """A yes or no (``o``/``n``); ``default`` when left empty or without dialogue."""
        if not self.interactive:
            return default
        while True:
            answer = self.ask(f"{question} {'[O/n]' if default else '[o/N]'}").lower()
            if not answer:
                return default
            if answer in YES:
                return True
            if answer in NO:
                return False
            self.say("Répondez « o » (oui) ou « n » (non).")


def _read_line(stream: TextIO) -> str | None:
    line = stream.readline()
    return None if line == "" else line.rstrip("\n")


def table(rows: list[list[str]], headers: list[str], *, width: int = 34) -> list[str]:
    """Rows as aligned text columns (cells cut at ``width`` characters with « … »)."""

    def cut(text: str) -> str:
        text = " ".join(str(text).split())
        return text if len(text) <= width else text[: width - 1] + "…"

    cells = [[cut(c) for c in r] for r in [headers, *rows]]
    sizes = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(s) for c, s in zip(r, sizes, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * s for s in sizes))
    return lines
