"""Progress of the long steps (issue 19): a bar on a terminal, plain log lines elsewhere
(make, CI, a pipe), nothing under ``vigie -q`` (pipelines/io.py, :class:`Progress`).

Unit tier: a stream that says it is a terminal, one that does not, and the package's
logging silenced as ``-q`` silences it. End to end: the hotspot stage of the demo run,
through the CLI, with its standard error piped, under ``-q``, and in a pseudo-terminal.
"""

from __future__ import annotations

import fcntl
import io
import logging
import os
import pty
import select
import shutil
import struct
import subprocess
import sys
import termios
from pathlib import Path
from typing import Any

import pytest

from pipelines.progress import PROGRESS_LINES, Progress, progress_mode, track
from tests.conftest import ROOT


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def _records(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "pipelines.progress"]


def test_on_a_terminal_a_bar_is_drawn_and_no_line_is_logged(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TERM", raising=False)
    caplog.set_level(logging.INFO, logger="pipelines")
    screen = Terminal()
    assert progress_mode(screen) == "bar"
    with Progress("Points chauds (test)", 4, unit="étape", stream=screen) as bar:
        for step in ("lecture", "comptages", "Gi*", "écriture"):
            bar.update(step=step)
    drawn = screen.getvalue()
    assert "\r" in drawn  # redrawn in place
    assert "Points chauds (test) : 100 %" in drawn
    assert "4/4 étape" in drawn
    assert "écriture" in drawn  # the last step beside the bar
    assert _records(caplog) == []


def test_elsewhere_plain_lines_at_most_one_per_tenth(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pipelines")
    piped = io.StringIO()
    assert progress_mode(piped) == "lines"
    with Progress("Lecture des exports (test)", 50 * 2**20, unit="o", stream=piped) as bar:
        for i in range(50):
            bar.update(2**20, step=f"export_{i}.csv")
    lines = _records(caplog)
    assert piped.getvalue() == ""  # no bar drawn
    assert len(lines) == PROGRESS_LINES  # nine tenths, and the last line
    assert lines[0] == "Lecture des exports (test) : 10 % (5,2 Mo / 52,4 Mo), export_4.csv"
    assert lines[-1].startswith("Lecture des exports (test) : terminé (52,4 Mo) en ")
    # A few steps: one line each.
    caplog.clear()
    assert list(track(["bondy", "paris10"], "Sites", unit="site")) == ["bondy", "paris10"]
    assert _records(caplog)[0] == "Sites : 50 % (1/2 sites), bondy"
    assert _records(caplog)[-1].startswith("Sites : terminé (2 sites) en ")
    # What runs now, announced before it is done: the line of the next tenth names it.
    caplog.clear()
    with Progress("Vigie", 2, unit="étape", stream=piped) as bar:
        for stage in ("ingest", "map"):
            bar.update(0, step=f"bondy : {stage}…")
            bar.update()
    assert _records(caplog)[0] == "Vigie : 50 % (1/2 étapes), bondy : ingest…"


def test_quiet_silences_both(caplog: pytest.LogCaptureFixture) -> None:
    """``vigie -q`` sets the package's messages to WARNING: no bar, no line."""
    caplog.set_level(logging.WARNING, logger="pipelines")
    for stream in (Terminal(), io.StringIO()):
        assert progress_mode(stream) == "off"
        with Progress("Carte (test)", 3, unit="étape", stream=stream) as bar:
            for _ in range(3):
                bar.update()
        assert stream.getvalue() == ""
    assert _records(caplog) == []


def test_a_dumb_terminal_gets_lines(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger="pipelines")
    monkeypatch.setenv("TERM", "dumb")
    assert progress_mode(Terminal()) == "lines"


def test_log_lines_do_not_cut_the_bar(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a bar is open, the package's console messages are written above it (through
    tqdm), and the console handler is given back when it closes."""
    monkeypatch.delenv("TERM", raising=False)
    caplog.set_level(logging.INFO, logger="pipelines")
    root = logging.getLogger()
    console = logging.StreamHandler(sys.stderr)
    root.addHandler(console)
    try:
        with Progress("Géocodage (test)", 2, unit="étape", stream=Terminal()) as bar:
            assert console not in root.handlers  # replaced while the bar is open
            bar.update(2)
        assert console in root.handlers
    finally:
        root.removeHandler(console)


# --------------------------------------------------------------------------- end to end
def _hotspots(demo_run: Any, tmp_path: Path, *flags: str) -> list[str]:
    site = tmp_path / "bondy"
    site.mkdir(parents=True)
    for name in ("reports.parquet", "buildings_osm.parquet"):
        shutil.copy(demo_run.site("bondy") / name, site / name)
    return [
        sys.executable, "-m", "pipelines", *flags, "stage", "hotspots",
        "--config", str(demo_run.config), "--site", "bondy",
        "--processed-dir", str(site), "--maps-dir", str(tmp_path / "maps"),
    ]  # fmt: skip


def test_the_cli_logs_lines_when_piped_and_nothing_with_q(demo_run: Any, tmp_path: Path) -> None:
    env = {**os.environ, "TERM": "xterm"}
    piped = subprocess.run(
        _hotspots(demo_run, tmp_path / "a"), capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert piped.returncode == 0, piped.stderr
    lines = [x for x in piped.stderr.splitlines() if "pipelines.progress" in x]
    assert lines[-1].startswith("INFO pipelines.progress: Points chauds (bondy) : terminé")
    assert 2 <= len(lines) <= PROGRESS_LINES
    assert "\r" not in piped.stderr
    quiet = subprocess.run(
        _hotspots(demo_run, tmp_path / "b", "-q"), capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert quiet.returncode == 0, quiet.stderr
    assert "Points chauds" not in quiet.stderr
    assert (tmp_path / "b" / "bondy" / "buildings.parquet").exists()


def test_the_cli_draws_a_bar_on_a_terminal(demo_run: Any, tmp_path: Path) -> None:
    """The same command in a pseudo-terminal: a bar, no progress line."""
    main, child = pty.openpty()
    # a terminal of 30 rows and 120 columns (a new pseudo-terminal has none)
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "120"}
    process = subprocess.Popen(
        _hotspots(demo_run, tmp_path), stdin=subprocess.DEVNULL, stdout=child, stderr=child,
        env=env, cwd=ROOT,
    )  # fmt: skip
    os.close(child)
    screen = b""
    while True:
        ready, _, _ = select.select([main], [], [], 120)
        if not ready:
            break
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        screen += chunk
    assert process.wait(timeout=120) == 0
    os.close(main)
    text = screen.decode("utf-8", "replace")
    assert "\r" in text
    assert "Points chauds (bondy) : 100 %" in text
    assert "pipelines.progress" not in text
