"""``vigie doctor``, first part: Python and the Python packages, with the standard library
only (no pandas, no project module that imports one), so that a missing or broken
package is reported with what to do instead of stopping the command.

The report itself (:class:`Report`) is shared with :mod:`pipelines.workbench.doctor`,
which checks the rest once the packages are known to be there.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TextIO

#: Oldest Python Vigie runs on (pyproject.toml's ``requires-python``).
PYTHON_MIN = (3, 11)
#: The pinned versions the test suite runs on.
LOCK_FILE = Path(__file__).resolve().parents[2] / "requirements.lock"
SETUP = "lancez « make setup » à la racine du projet (ou : pip install -r requirements.lock)"

OK, MISSING, OPTIONAL, NOTE = "ok", "missing", "optional", "note"
SYMBOLS = {OK: "✓", MISSING: "✗", OPTIONAL: "–", NOTE: "·"}


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, its state, and what to do."""

    state: str
    what: str
    fix: str = ""


@dataclass
class Report:
    """The checks, by section, printed as they come; the exit code at the end: 0 when
    nothing required is missing, 1 otherwise (2, a configuration that cannot be read,
    is set by the caller)."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    checks: list[Check] = field(default_factory=list)

    def section(self, title: str) -> None:
        print(f"\n{title}", file=self.out, flush=True)

    def add(self, state: str, what: str, fix: str = "") -> None:
        check = Check(state, what, fix)
        self.checks.append(check)
        line = f"  {SYMBOLS[state]} {what}"
        if fix:
            line += f"\n      → {fix}"
        print(line, file=self.out, flush=True)

    def missing(self) -> list[Check]:
        return [c for c in self.checks if c.state == MISSING]

    def finish(self, code: int | None = None) -> int:
        """Print the summary; return the exit code."""
        n = len(self.missing())
        optional = sum(c.state == OPTIONAL for c in self.checks)
        if code == 2:
            text = "la configuration est à corriger (message ci-dessus)."
        elif n:
            text = f"{n} élément{'s' if n > 1 else ''} à corriger (✗, avec quoi faire)."
        else:
            text = "tout ce qu'il faut est là."
        if optional and code != 2:
            text += f" Facultatif absent : {optional} (–)."
        print(f"\nBilan : {text}", file=self.out, flush=True)
        return code if code is not None else (1 if n else 0)


def _version_key(text: str) -> tuple[int, ...]:
    """A version's leading numbers (``"2.2.3rc1"`` → ``(2, 2, 3)``): enough to compare
    with the lower bounds of pyproject.toml, which are all plain ``X.Y``. The standard
    library has no version parser and ``packaging`` may itself be what is missing."""
    numbers = re.match(r"[0-9]+(?:\.[0-9]+)*", text.strip())
    return tuple(int(n) for n in numbers.group(0).split(".")) if numbers else ()


_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(?:\[[^\]]*\])?\s*(?:>=\s*([0-9][^,;\s]*))?")


def requirements() -> list[tuple[str, str, bool]]:
    """Vigie's declared dependencies: (name, lowest version or ``""``, for development
    only), from the installed project's metadata.

    Raises
    ------
    metadata.PackageNotFoundError
        Vigie itself is not installed in this environment.
    """
    out = []
    for text in metadata.requires("vigie") or []:
        m = _REQUIREMENT.match(text)
        if m:
            out.append((m.group(1), m.group(2) or "", "extra ==" in text))
    return out


def locked_versions(lock: Path = LOCK_FILE) -> dict[str, str]:
    """``name==version`` pins of the lock file, by folded name (none if unreadable)."""
    try:
        text = lock.read_text(encoding="utf-8")
    except OSError:
        return {}
    pins = re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)", text, flags=re.MULTILINE)
    return {_fold(name): version for name, version in pins}


def _fold(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def check_python(report: Report) -> None:
    version = ".".join(str(v) for v in sys.version_info[:3])
    if sys.version_info[:2] >= PYTHON_MIN:
        report.add(OK, f"Python {version} ({'.'.join(map(str, PYTHON_MIN))} ou plus)")
    else:
        report.add(
            MISSING,
            f"Python {version} : Vigie demande Python {'.'.join(map(str, PYTHON_MIN))} ou plus",
            "installez Python 3.11 puis relancez « make setup » (.venv refait avec lui)",
        )


def check_packages(report: Report, *, lock: Path = LOCK_FILE) -> bool:
    """The packages Vigie needs (and the development ones, optional): installed, at
    least the version pyproject.toml asks, and the lock's version (a note otherwise).
    Returns whether every required package is there."""
    try:
        wanted = requirements()
    except metadata.PackageNotFoundError:
        report.add(MISSING, "Vigie n'est pas installé dans cet environnement Python", SETUP)
        return False
    pinned = locked_versions(lock)
    ready = True
    found = 0
    drift: list[str] = []
    for name, lowest, dev in wanted:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            if dev:
                report.add(OPTIONAL, f"{name} absent (outil de développement : tests, lint)", SETUP)
            else:
                ready = False
                report.add(MISSING, f"paquet Python {name} absent", SETUP)
            continue
        if lowest and _version_key(version) < _version_key(lowest):
            ready = ready and dev
            report.add(
                OPTIONAL if dev else MISSING,
                f"{name} {version} : il faut {lowest} ou plus",
                SETUP,
            )
            continue
        found += 1
        pin = pinned.get(_fold(name))
        if pin and pin != version:
            drift.append(f"{name} {version} (figé : {pin})")
    report.add(OK, f"{found} paquets Python présents, aux versions demandées")
    if drift:
        report.add(
            NOTE,
            "versions autres que celles de requirements.lock (celles que les tests vérifient) : "
            + ", ".join(drift),
            SETUP,
        )
    return ready


def check_installation(report: Report) -> bool:
    """Python and the packages; whether the rest can be checked (no package missing)."""
    report.section("Installation")
    check_python(report)
    return check_packages(report)


def main(report: Report) -> bool:
    """The installation part of ``vigie doctor``; whether the packages are all there."""
    print("Vigie — vérification de l'installation et de la configuration", file=report.out)
    ready = check_installation(report)
    if not ready:
        print(
            "\n  La configuration sera vérifiée une fois l'installation corrigée.", file=report.out
        )
    return ready
