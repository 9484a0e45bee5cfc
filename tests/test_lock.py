"""The install is locked: ``requirements.lock`` pins every dependency, and the
environment the tests run in is exactly that set (what CI tests is what users get)."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        name, sep, version = line.partition("==")
        assert sep, f"requirements.lock : « {line} » n'est pas épinglé (==)"
        pins[_canonical(name)] = version.strip()
    return pins


def test_every_declared_dependency_is_pinned() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    locked = _locked()
    missing = [r for r in declared if _canonical(Requirement(r).name) not in locked]
    assert not missing, f"absent de requirements.lock (lancer `make lock`) : {missing}"
    # Each pin satisfies the range pyproject.toml declares.
    outside = [
        r
        for r in declared
        if locked[_canonical(Requirement(r).name)] not in Requirement(r).specifier
    ]
    assert not outside, outside


def test_environment_is_the_locked_set() -> None:
    locked = _locked()
    differs = {
        name: (version, metadata.version(name))
        for name, version in locked.items()
        if metadata.version(name) != version
    }
    assert not differs, f"versions installées ≠ requirements.lock : {differs}"
