"""The Makefile: targets are files, a second `make demo` re-runs nothing, and touching one
input re-runs only what depends on it. Runs `make` in a copy of the tracked files."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def _tracked_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return [line for line in out.splitlines() if line]


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (ROOT / ".venv" / ".installed").exists() or not (ROOT / "node_modules").exists():
        pytest.skip("needs `make setup` (the .venv stamp and node_modules)")
    dst = tmp_path_factory.mktemp("clone")
    for rel in _tracked_files():
        src = ROOT / rel
        if not src.exists():
            continue
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)  # keeps mtimes, like a checkout followed by no edit
    # Reuse the installed environment: same interpreter, same pinned JS files.
    (dst / ".venv").symlink_to(ROOT / ".venv")
    (dst / "node_modules").symlink_to(ROOT / "node_modules")
    (dst / ".stamps").mkdir(exist_ok=True)
    for stamp in ("node", "browser"):
        (dst / ".stamps" / stamp).touch()
    return dst


def _make(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MAKEFLAGS": ""}
    return subprocess.run(["make", *args], cwd=cwd, capture_output=True, text=True, env=env)


def test_demo_then_nothing_then_only_what_changed(project_copy: Path) -> None:
    first = _make(project_copy, "demo")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert (project_copy / "maps" / "index.html").exists()
    for site in ("bondy", "paris10"):
        assert (project_copy / "maps" / f"{site}.html").exists()
        assert (project_copy / "data" / "processed" / site / "run_summary.json").exists()

    # A second run re-runs nothing.
    dry = _make(project_copy, "-n", "demo").stdout
    assert "-m pipelines" not in dry, dry

    # Touching Paris's reports re-runs Paris's stages only.
    os.utime(project_copy / "data/raw/paris10/dansmarue_paris_2023-08_2024-09.csv")
    dry = _make(project_copy, "-n", "demo").stdout
    assert "--site paris10" in dry
    assert "--site bondy" not in dry
    assert "maps/index.html" in dry


def test_bad_config_exits_2_with_one_message(project_copy: Path, tmp_path: Path) -> None:
    bad = tmp_path / "broken.toml"
    bad.write_text("[[sites]]\nid = 'x'\n", encoding="utf-8")
    proc = subprocess.run(
        [str(project_copy / ".venv/bin/python"), "-m", "pipelines", "run", "--config", str(bad)],
        cwd=project_copy,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "broken.toml" in proc.stderr
    assert "Traceback" not in proc.stderr
