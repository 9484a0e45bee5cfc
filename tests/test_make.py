"""The Makefile: targets are files, a second `make demo` re-runs nothing, and touching one
input re-runs only what depends on it. Runs `make` in a copy of the tracked files."""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import shutil
import subprocess
import urllib.parse
from collections.abc import Iterator
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
    # The bytecode of the copy's code, as `make setup` writes it for the project's (the
    # Makefile's BYTECODE says why): else each of the copy's stages compiles it again.
    subprocess.run(
        [str(ROOT / ".venv/bin/python"), "-m", "compileall", "-q", "-j", "0", "pipelines"],
        cwd=dst, check=True, capture_output=True,
    )  # fmt: skip
    return dst


def _make(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MAKEFLAGS": ""}
    # The copy links to the project's .venv and node_modules: `-o` keeps make from
    # reinstalling them through the links when the copy's pyproject.toml, requirements or
    # package files are newer than their stamps (a fresh checkout), which would wipe them
    # under the feet of other runs.
    keep = ["-o", ".venv/.installed", "-o", "node_modules/.package-lock.json"]
    return subprocess.run(["make", *keep, *args], cwd=cwd, capture_output=True, text=True, env=env)


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

    # Touching Paris's reports re-runs Paris's stages only (the file's time is put back
    # afterwards, so that the next tests start from an up-to-date build).
    with _touched(project_copy / "data/raw/paris10/dansmarue_paris_2023-08_2024-09.csv"):
        dry = _make(project_copy, "-n", "demo").stdout
    assert "--site paris10" in dry
    assert "--site bondy" not in dry
    assert "maps/index.html" in dry


def test_a_changed_register_re_runs_the_actions_stage_and_its_readers_only(
    project_copy: Path,
) -> None:
    """Issue 17: editing a site's action register re-runs the actions stage and what
    reads its outputs (publication, run summary, charts, map, committee pack, GeoPackage,
    index, and the indicators, which count actions by status),
    never the analysis stages, nor the other site."""
    built = _make(project_copy, "demo")  # up to date after the first test
    assert built.returncode == 0, built.stderr[-3000:]
    with _touched(project_copy / "data/actions/bondy/actions.xlsx"):
        dry = _stages(_make(project_copy, "-n", "demo").stdout)
    stages = {ln.split(" stage ")[1].split()[0] for ln in dry if " stage " in ln}
    assert "actions" in stages, dry
    readers = {"publish", "summary", "charts", "map", "comite", "gpkg"}
    assert stages <= {"actions", "indicators", "publish_indicators", *readers}, dry
    assert "comite" in stages, dry  # the pack shows the register
    assert all("--site paris10" not in ln for ln in dry), dry
    assert any(" index " in ln for ln in dry), dry
    assert _stages(_make(project_copy, "-n", "demo").stdout) == []


def test_a_deleted_page_or_chart_of_the_index_is_made_again(project_copy: Path) -> None:
    """Each file the index links under maps/<site>/ (the charts, the method pages) and the
    map's PNG and the pack's PDF are prerequisites of maps/index.html: deleted, `make demo`
    runs the stage that writes it again, for that site only (before: a deleted chart of
    maps/bondy/ stayed missing, the index no longer linking it)."""
    from pipelines.stages import STAGES, site_maps_files

    built = _make(project_copy, "demo")  # up to date after the tests above
    assert built.returncode == 0, built.stderr[-3000:]
    for name in site_maps_files("bondy"):
        if name.startswith("public/"):
            continue  # the open-data pack: `make public`, not `make demo`
        path = project_copy / "maps" / name
        writer = next(
            s.name
            for s in STAGES
            if any(w.format(maps="", site="bondy").lstrip("/") == name for w in s.writes)
        )
        saved, times = path.read_bytes(), path.stat()
        path.unlink()
        try:
            dry = _stages(_make(project_copy, "-n", "demo").stdout)
        finally:  # back as it was, its time included: the build stays up to date
            path.write_bytes(saved)
            os.utime(path, ns=(times.st_atime_ns, times.st_mtime_ns))
        assert any(f" stage {writer} " in ln and "--site bondy" in ln for ln in dry), (name, dry)
        assert all("--site paris10" not in ln for ln in dry), (name, dry)
    chart = project_copy / "maps/bondy/delais_de_cloture.png"
    chart.unlink()
    assert _make(project_copy, "demo").returncode == 0
    assert chart.is_file()


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


# ---------------------------------------------------------------------------------------
# make does what the configuration says (issue 13): the configuration's folders drive the
# rules, switching CONFIG= (and back) rebuilds what it must, odd paths work or are refused.

PARIS_CSV = "data/raw/paris10/dansmarue_paris_2023-08_2024-09.csv"
#: Folders and inputs with spaces, accents, an apostrophe and parentheses.
ODD_PROCESSED = "sorties (essai)/données traitées"
ODD_MAPS = "sorties (essai)/cartes d'été"
ODD_NOTES = "notes (essai)"
ODD_SOURCE_DIR = "Exports (été) d'Élodie"


def _paris_only(copy: Path, name: str, *, project: str, source: str, osm: str) -> str:
    """A configuration holding the demo's Paris site only, written as ``name``."""
    demo = (copy / "config" / "demo.toml").read_text(encoding="utf-8")
    paris = demo[demo.index('[[sites]]\nid = "paris10"') :]
    paris = paris.replace(f'path = "{PARIS_CSV}"', f"path = {source!r}")
    paris = paris.replace('osm = "data/raw/paris10/paris10.osm"', f"osm = {osm!r}")
    (copy / "config" / name).write_text(f"[project]\n{project}\n{paris}", encoding="utf-8")
    return f"config/{name}"


def _snapshot(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


@contextlib.contextmanager
def _touched(path: Path) -> Iterator[None]:
    """``path`` made newer than everything (created if missing), then put back as it was,
    so that a dry run sees a change and the next test finds the build up to date."""
    before = path.stat() if path.exists() else None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    os.utime(path)  # now: later than every output, all built before this test's dry runs
    try:
        yield
    finally:
        if before is None:
            path.unlink()
        else:
            os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def _stages(dry: str) -> list[str]:
    """The stages a dry run would launch (not `vigie deps`, which writes make's fragment
    for a configuration seen for the first time)."""
    return [ln for ln in dry.splitlines() if "-m pipelines" in ln and " deps --config" not in ln]


@pytest.fixture(scope="module")
def odd_config(project_copy: Path) -> str:
    """The Paris site, read from a glob in a folder with spaces, accents, an apostrophe and
    parentheses, with its OSM file in another such folder, written into such folders."""
    src_dir = project_copy / ODD_SOURCE_DIR
    src_dir.mkdir()
    shutil.copy2(project_copy / PARIS_CSV, src_dir / "dans ma rue (2023-2024).csv")
    osm_dir = project_copy / "Fonds OSM (Paris 10e)"
    osm_dir.mkdir()
    shutil.copy2(project_copy / "data/raw/paris10/paris10.osm", osm_dir / "paris 10 #1.osm")
    return _paris_only(
        project_copy,
        "essai.toml",
        project=(
            f"processed_dir = {ODD_PROCESSED!r}\nmaps_dir = {ODD_MAPS!r}\n"
            f"annotations_dir = {ODD_NOTES!r}\n"
        ),
        source=f"{ODD_SOURCE_DIR}/dans ma rue (*).csv",
        osm="Fonds OSM (Paris 10e)/paris 10 #1.osm",
    )


def test_configured_folders_and_odd_paths(project_copy: Path, odd_config: str) -> None:
    default_demo = _make(project_copy, "demo")  # up to date after the first test
    assert default_demo.returncode == 0, default_demo.stderr[-3000:]
    notes_before = _snapshot(project_copy / "data/annotations")

    # The default folders are moved aside: a stage or a map reading them would fail, one
    # writing there would create them again.
    aside = {d: project_copy / f"{d}.aside" for d in ("data/processed", "maps")}
    for folder, moved in aside.items():
        (project_copy / folder).rename(moved)
    try:
        run = _make(project_copy, "demo", f"CONFIG={odd_config}")
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        assert f"Cartes prêtes : {ODD_MAPS}/index.html" in run.stdout
        assert not (project_copy / "data/processed").exists()
        assert not (project_copy / "maps").exists()
    finally:
        for folder, moved in aside.items():
            shutil.rmtree(project_copy / folder, ignore_errors=True)
            moved.rename(project_copy / folder)
    assert _snapshot(project_copy / "data/annotations") == notes_before

    # Everything landed in the configured folders.
    processed = project_copy / ODD_PROCESSED / "paris10"
    maps = project_copy / ODD_MAPS
    for name in ("ingested.parquet", "reports.parquet", "buildings.parquet", "run_summary.json"):
        assert (processed / name).is_file(), name
    assert (maps / "paris10.html").is_file()
    assert not (maps / "bondy.html").exists()
    assert (project_copy / ODD_NOTES / ".archive" / "paris10").is_dir()
    # The run read the source found by the glob, and the index links this run's documents.
    ingest = json.loads((processed / "ingest_summary.json").read_text(encoding="utf-8"))
    assert ingest["sources"]["dansmarue"]["files"] == [
        f"{ODD_SOURCE_DIR}/dans ma rue (2023-2024).csv"
    ]
    index = html.unescape(urllib.parse.unquote((maps / "index.html").read_text("utf-8")))
    # The method note under the maps folder (a maps folder copied alone keeps it), as
    # this run published it.
    assert re.search(r"href=['\"]paris10/methode\.html['\"]", index)
    assert "données traitées" not in index
    published_note = processed / "published" / "method_note.html"
    assert (maps / "paris10" / "methode.html").read_bytes() == published_note.read_bytes()

    # The paths with spaces are real prerequisites: nothing to redo, then the source
    # (found by a glob in a folder with spaces), the OSM file or a new note re-runs.
    assert _stages(_make(project_copy, "-n", "demo", f"CONFIG={odd_config}").stdout) == []
    index_goal = f"{ODD_MAPS}/index.html"
    assert _make(project_copy, "--question", f"CONFIG={odd_config}", index_goal).returncode == 0
    for changed, first_stage in (
        (project_copy / ODD_SOURCE_DIR / "dans ma rue (2023-2024).csv", " ingest "),
        (project_copy / "Fonds OSM (Paris 10e)" / "paris 10 #1.osm", " buildings "),
    ):
        with _touched(changed):
            dry = _stages(_make(project_copy, "-n", "demo", f"CONFIG={odd_config}").stdout)
            assert any(first_stage in ln for ln in dry), dry
            assert any(" map " in ln and "--site paris10" in ln for ln in dry), dry
            question = _make(project_copy, "--question", f"CONFIG={odd_config}", index_goal)
            assert question.returncode == 1
    with _touched(project_copy / ODD_NOTES / "paris10" / "note d'équipe (1).csv"):
        dry = _stages(_make(project_copy, "-n", "demo", f"CONFIG={odd_config}").stdout)
        assert any(" annotations " in ln for ln in dry), dry
        assert not any(" ingest " in ln for ln in dry), dry
    assert _stages(_make(project_copy, "-n", "demo", f"CONFIG={odd_config}").stdout) == []


def test_switching_configurations_and_back(project_copy: Path, odd_config: str) -> None:
    built = _make(project_copy, "demo", f"CONFIG={odd_config}")
    assert built.returncode == 0, built.stderr[-3000:]
    # Back to the default configuration: its own site list, nothing to redo.
    assert _stages(_make(project_copy, "-n", "demo").stdout) == []
    # A changed input of the default configuration is picked up, by it alone.
    with _touched(project_copy / "data/raw/bondy/rpls_bondy.gpkg"):
        dry = _stages(_make(project_copy, "-n", "demo").stdout)
        # make runs `vigie stage buildings … --site bondy` (the stage table's recipe).
        assert any(" buildings " in line and "--site bondy" in line for line in dry), dry
        assert not any("--site paris10" in line for line in dry), dry
        assert _stages(_make(project_copy, "-n", "demo", f"CONFIG={odd_config}").stdout) == []

    # Another configuration sharing the default folders, with one parameter changed:
    # every file of those folders is made again, then again when switching back.
    demo = (project_copy / "config" / "demo.toml").read_text(encoding="utf-8")
    assert "duplicate_window_h = 48.0" in demo
    shared = project_copy / "config" / "autre.toml"
    shared.write_text(
        demo.replace("duplicate_window_h = 48.0", "duplicate_window_h = 24.0"), encoding="utf-8"
    )
    dry = _stages(_make(project_copy, "-n", "demo", "CONFIG=config/autre.toml").stdout)
    for site in ("bondy", "paris10"):
        for stage in ("buildings", "ingest", "geocode", "hotspots", "trends", "map"):
            assert any(f" {stage} " in ln and site in ln for ln in dry), (stage, site, dry)
    assert _stages(_make(project_copy, "-n", "demo").stdout) == []  # a dry run changes nothing
    ingest = "data/processed/paris10/ingest_summary.json"
    other = _make(project_copy, "CONFIG=config/autre.toml", ingest)
    assert other.returncode == 0, other.stderr[-3000:]
    assert "--config 'config/autre.toml' --site paris10" in other.stdout
    assert _stages(_make(project_copy, "-n", "CONFIG=config/autre.toml", ingest).stdout) == []
    back = _stages(_make(project_copy, "-n", "demo").stdout)
    assert any(" ingest --config 'config/demo.toml' --site paris10" in ln for ln in back), back
    assert any(" map " in ln and "--site bondy" in ln for ln in back), back
    # The other configuration's own folders were left alone meanwhile.
    assert _stages(_make(project_copy, "-n", "demo", f"CONFIG={odd_config}").stdout) == []


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("exports: mars/dans ma rue.csv", "make ne sait pas traiter"),
        ("exports;mars.csv", "make ne sait pas traiter"),
    ],
)
def test_paths_make_cannot_carry_fail_in_french(
    project_copy: Path, source: str, message: str
) -> None:
    target = project_copy / source
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(project_copy / PARIS_CSV, target)
    config = _paris_only(
        project_copy,
        "refus.toml",
        project="processed_dir = 'sorties/refus'\nmaps_dir = 'sorties/refus-cartes'\n",
        source=source,
        osm="data/raw/paris10/paris10.osm",
    )
    run = _make(project_copy, "demo", f"CONFIG={config}")
    assert run.returncode != 0
    assert message in run.stderr
    assert "sites[0].sources[0].path" in run.stderr
    assert "Traceback" not in run.stderr
    assert "Cartes prêtes" not in run.stdout
    assert not (project_copy / "sorties" / "refus").exists()


def test_config_path_with_a_space_fails_in_french(project_copy: Path) -> None:
    run = _make(project_copy, "demo", "CONFIG=config/mon essai.toml")
    assert run.returncode != 0
    assert "sans espace" in run.stderr
    missing = _make(project_copy, "demo", "CONFIG=config/absente.toml")
    assert missing.returncode != 0
    assert "Configuration introuvable" in missing.stderr
    assert "Cartes prêtes" not in missing.stdout + run.stdout


def test_clean_removes_stray_temporary_files(project_copy: Path, odd_config: str) -> None:
    # What a SIGKILL during pipelines.io.atomic_path leaves: `.<name>.<random>.tmp`.
    strays = [
        project_copy / "data/processed/paris10/.reports.parquet.k2j4x8.tmp",
        project_copy / "data/processed/paris10/charts/.reports_by_category.png.a1.tmp",
        project_copy / "maps/.index.html.q9z.tmp",
        project_copy / "maps/bondy.html.tmp",
        project_copy / ODD_PROCESSED / "paris10/.ingested.parquet.x1.tmp",
        project_copy / ODD_MAPS / ".paris10.html.x2.tmp",
        project_copy / "data/annotations/.archive/bondy/.zone_history.json.x3.tmp",
        project_copy / "data/raw/bondy/.signalements_bailleur.csv.x4.tmp",
    ]
    # The pages and charts a site's map stage writes in its folder under maps/, and the
    # open-data pack (make public): produced, so cleaned too.
    produced = [
        project_copy / "maps/bondy/methode.html",
        project_copy / "maps/public/index.html",
        project_copy / ODD_MAPS / "paris10/indicateurs.html",
        project_copy / ODD_MAPS / "public/paris10.html",
    ]
    kept = project_copy / "data/annotations/.archive/bondy/notes_archive_kept.parquet"
    for path in [*strays, *produced, kept]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"partial")
    for config in (odd_config, "config/demo.toml"):
        run = _make(project_copy, "clean", f"CONFIG={config}")
        assert run.returncode == 0, run.stderr
    assert [p for p in strays if p.exists()] == []
    assert [p.parent for p in produced if p.parent.exists()] == []
    assert kept.read_bytes() == b"partial"  # the notes' archive stays
    assert not (project_copy / ODD_PROCESSED / "paris10").exists()
    assert not (project_copy / ODD_MAPS / "paris10.html").exists()
    assert not (project_copy / "maps/index.html").exists()
    assert (project_copy / ODD_SOURCE_DIR / "dans ma rue (2023-2024).csv").exists()
