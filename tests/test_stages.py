"""The stage table (pipelines/stages.py) is the one graph: its inputs are written by the
stages before, its code folders cover what each stage imports, and the make fragment and
`vigie run` are both made from it. Unit tier (tests/test_make.py runs make itself)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

from pipelines import cli, stages
from pipelines.config import load_config
from pipelines.config.make import deps_fragment
from tests.conftest import ROOT
from tests.test_architecture import STAGES as STAGE_FOLDERS
from tests.test_architecture import all_modules, imports_of, stage_of

PACKAGE = ROOT / "pipelines"
DEMO = ROOT / "config" / "demo.toml"


def test_every_code_folder_exists_and_the_first_is_the_stages_own() -> None:
    for s in stages.STAGES:
        for folder in s.code:
            assert (PACKAGE / folder).is_dir(), (s.name, folder)
        assert s.code[0] in STAGE_FOLDERS, s.name


def test_every_input_is_written_by_an_earlier_stage() -> None:
    written: set[str] = set()
    for s in stages.STAGES:
        missing = set(s.reads) - written
        assert not missing, f"{s.name} reads {missing} before any stage writes it"
        written |= set(s.writes)
    outputs = [w for s in stages.STAGES for w in s.writes]
    assert len(outputs) == len(set(outputs)), "two stages write the same file"


def test_code_folders_cover_every_stage_a_stage_imports() -> None:
    """A change in a folder a stage imports (directly or not) re-runs the stage."""
    modules = all_modules()
    g = nx.DiGraph()
    for name, path in modules.items():
        for imp in imports_of(name, path, modules):
            if not imp.in_function:
                g.add_edge(stage_of(name) or "shared", stage_of(imp.target) or "shared")
    for s in stages.STAGES:
        own = s.code[0]
        reached = nx.descendants(g, own) if own in g else set()
        needed = {f for f in reached if f in STAGE_FOLDERS} - {own}
        assert needed <= set(s.code), f"{s.name}: code misses {needed - set(s.code)}"


def test_the_make_fragment_has_one_rule_per_stage() -> None:
    """One pattern rule per stage; one rule per site for a stage whose processed output
    names its site (``vigie_{site}.gpkg``: a make pattern holds one ``%``)."""
    config = load_config(DEMO)
    text = deps_fragment(config)
    for s in stages.STAGES:
        per_site = any("{site}" in w and not w.startswith("{maps}") for w in s.writes)
        sites = [site.id for site in config.sites] if per_site else ["%"]
        recipes = re.findall(rf"\t\$\(VIGIE\) stage {s.name} ", text)
        assert len(recipes) == len(sites), s.name
        for site in sites:
            marker = f"$(VIGIE) stage {s.name} " + (f"--config $(CFG) --site {site} " * per_site)
            rule = text[: text.index(marker)].rsplit("\n", 2)[-2]
            targets, _, prereqs = rule.partition(": ")
            for w in s.writes:
                expected = (
                    w.format(maps="$(MAPS)", site="%")
                    if w.startswith("{maps}")
                    else f"$(PROCESSED)/{site}/{w.format(site=site)}"
                )
                assert expected in targets.split(), (s.name, w)
            for r in s.reads:  # a file of the maps folder, or of the site's processed folder
                expected = (
                    r.format(maps="$$(MAPS)", site=site)
                    if r.startswith("{maps}")
                    else f"$$(PROCESSED)/{site}/{r}"
                )
                assert expected in prereqs.split(), (s.name, r)
            # A stage that runs Chromium waits for its installation.
            assert ("$(BROWSER_STAMP)" in rule.partition(" | ")[2].split()) == s.browser, s.name
            for folder in s.code:
                assert f"pipelines/{folder}/" in prereqs, (s.name, folder)
    processed = re.search(r"^PROCESSED_FILES := (.*)$", text, re.M)
    assert processed is not None
    assert "run_summary.json" in processed.group(1).split()


def test_vigie_run_follows_the_table() -> None:
    assert list(cli.RUNNERS) == list(stages.STAGE_NAMES)


@pytest.mark.slow  # runs one stage in a child process, as make does
def test_a_stage_loads_only_its_own_code(tmp_path: Path) -> None:
    """`vigie stage` imports the code of the stage it runs, not every stage's: make runs
    one process per stage (36 in a demo), and loading them all cost about 3 s each."""
    proc = subprocess.run(
        [
            sys.executable, "-X", "importtime", "-m", "pipelines", "-q", "stage", "buildings",
            "--config", str(DEMO), "--site", "paris10",
            "--processed-dir", str(tmp_path / "paris10"), "--maps-dir", str(tmp_path / "maps"),
        ],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "paris10" / "buildings_osm.parquet").is_file()
    loaded = {
        m.group(1)
        for m in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", proc.stderr, re.M)
    }
    assert "pipelines.osm.buildings" in loaded  # the parse is right
    # the parser's options of the analyst's tools (standard library only) are the CLI's
    own = (["pipelines", "osm"], ["pipelines", "workbench"])
    others = {
        m
        for m in loaded
        if m.startswith("pipelines.") and m.split(".")[:2] not in own and stage_of(m) is not None
    }
    assert not others, sorted(others)
    assert not {"folium", "matplotlib", "scipy.stats"} & loaded


def test_the_files_a_committee_opens_under_maps_have_french_names() -> None:
    """Every file a site writes in the maps folder (the committee's pages and charts under
    ``maps/<site>/``, the open-data pack's in ``maps/public/``) has a French name (before:
    ``public/bondy_reports_by_category.png``, ``bondy/closing_delays.png``…); the
    processed folder's charts keep the code's names."""
    english = {"reports", "by", "category", "closing", "delays", "top", "buildings"}
    files = stages.site_maps_files("bondy")
    for name in files:
        assert not set(re.split(r"[/_.]", name)) & english, name
    for expected in (
        "bondy/signalements_par_categorie.png",
        "bondy/batiments_les_plus_signales.png",
        "bondy/delais_de_cloture.png",
        "public/bondy_signalements_par_categorie.png",
        "public/bondy_signalements_par_categorie.csv",
        "public/bondy_delais_de_cloture.png",
        "public/bondy_delais_de_cloture.csv",
    ):
        assert expected in files, expected
    assert "charts/reports_by_category.png" in stages.stage("charts").writes


def test_the_index_depends_on_every_page_and_chart_it_links() -> None:
    """The index's rule (INDEX_INPUTS, from the fragment) lists, for every site, each
    file the map and committee stages write in the maps folder: the charts and pages
    under ``maps/<site>/`` (before: none of the charts, so that a deleted one was not
    made again by ``make``), the map's PNG, the pack's PDF."""
    config = load_config(DEMO)
    text = deps_fragment(config)
    found = re.search(r"^INDEX_INPUTS = \$\(foreach s,\$\(SITES\),(.*)\)$", text, re.M)
    assert found is not None
    inputs = found.group(1).split()
    for s in ("map", "comite"):
        for w in stages.stage(s).writes:
            assert w.format(maps="$(MAPS)", site="$(s)") in inputs, w
    assert "$(MAPS)/$(s)/delais_de_cloture.png" in inputs
    assert "$(PROCESSED)/$(s)/run_summary.json" in inputs
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^\$\(MAPS\)/index\.html: \$\$\(INDEX_INPUTS\) ", makefile, re.M)
