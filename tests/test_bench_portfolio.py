"""The portfolio benchmark (bench/portfolio.py, issue 18) on a tiny portfolio: its BENCH
lines parse, and every row of the generated export is counted exactly once, checked here
from the files themselves (the export read back and placed in the perimeters by a plain
spatial join), not from the bench's own checks alone. Its timings are not tested."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from bench._util import run_tree_measured
from bench.portfolio import build

ROOT = Path(__file__).resolve().parents[1]
SITES = 3
REPORTS = 20_000


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict]]:
    folder = tmp_path_factory.mktemp("bench_portfolio")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.portfolio",
            "--sites",
            str(SITES),
            "--reports",
            str(REPORTS),
            "--subset",
            "1",
            "--dir",
            str(folder),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(ln[6:]) for ln in proc.stdout.splitlines() if ln.startswith("BENCH ")]
    return folder, {line["bench"]: line for line in lines}


@pytest.mark.slow
def test_bench_lines_parse_and_say_what_ran(bench_run):
    _, figures = bench_run
    assert set(figures) == {
        "portfolio_build",
        "portfolio_split",
        "portfolio_cut",
        "portfolio_one_worker",
        "portfolio_run",
        "portfolio_scaling",
        "portfolio_speedup",
        "portfolio_stages",
        "portfolio_publication",
    }
    run = figures["portfolio_run"]
    assert run["sites"] == SITES
    assert run["reports"] == REPORTS
    assert run["stages_per_site"][0] == "buildings"
    assert run["stages_per_site"][-1] == "publish_indicators"  # the publication, measured
    assert len(run["worker_peak_mb"]) == 2
    speedup = figures["portfolio_speedup"]
    assert speedup["sites"] == 1
    assert speedup["workers"] == 2
    assert speedup["one_worker_s"] > 0
    assert speedup["n_workers_s"] > 0
    assert figures["portfolio_scaling"]["done_s"].keys() == {str(SITES)}
    # The first site is timed again, stage by stage, through its publication.
    stages = figures["portfolio_stages"]["stage_s"]
    assert list(stages) == run["stages_per_site"]
    assert all(seconds > 0 for seconds in stages.values())
    publication = figures["portfolio_publication"]
    assert publication["stages_not_run"] == []
    assert publication["measured"]
    pub = stages["publish"] + stages["publish_indicators"]
    assert publication["publication_s_per_site"] == pytest.approx(pub, abs=0.01)
    assert publication["estimated_total_s"] == run["total_s"]  # nothing added: measured


@pytest.mark.slow
def test_a_run_stopped_before_the_publication_estimates_it(tmp_path: Path) -> None:
    """``--through indicators``: the publication left out, then estimated from the first
    site's stages (the run's total plus sites × its publication ÷ workers)."""
    proc = subprocess.run(
        [
            sys.executable, "-m", "bench.portfolio", "--sites", "2", "--reports", "4000",
            "--subset", "1", "--through", "indicators", "--dir", str(tmp_path),
        ],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(ln[6:]) for ln in proc.stdout.splitlines() if ln.startswith("BENCH ")]
    figures = {line["bench"]: line for line in lines}
    run = figures["portfolio_run"]
    assert run["stages_per_site"][-1] == "indicators"
    stages = figures["portfolio_stages"]["stage_s"]
    assert list(stages) == [*run["stages_per_site"], "publish", "publish_indicators"]
    publication = figures["portfolio_publication"]
    assert publication["stages_not_run"] == ["publish", "publish_indicators"]
    assert not publication["measured"]
    pub = stages["publish"] + stages["publish_indicators"]
    assert publication["estimated_total_s"] == pytest.approx(
        run["total_s"] + 2 * pub / run["workers"], abs=0.2
    )


@pytest.mark.slow
def test_every_report_is_counted_exactly_once(bench_run):
    folder, figures = bench_run
    export = pd.read_csv(folder / "export.csv", sep=";", dtype=str, keep_default_na=False)
    assert len(export) == REPORTS
    assert export["N° ticket"].is_unique
    points = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(
            export["Longitude"].str.replace(",", ".").astype(float),
            export["Latitude"].str.replace(",", ".").astype(float),
        ),
        crs=4326,
    )
    perimeters = gpd.read_file(folder / "perimetres.geojson")
    joined = gpd.sjoin(points, perimeters[["code", "geometry"]], predicate="within")
    assert joined.index.is_unique  # the tiles do not overlap
    want = joined["code"].value_counts().to_dict()
    outside = REPORTS - len(joined)
    assert set(want) == set(perimeters["code"])  # every tile has reports
    assert outside > 0  # and some rows are in no site

    processed = folder / "processed"
    split = json.loads((processed / "_portfolio" / "split_summary.json").read_text())
    assert split["rows_read"] == REPORTS
    assert split["outside_every_site"] == outside
    assert {sid: v["bailleur"] for sid, v in split["by_site"].items()} == want
    for sid, n in want.items():
        ingest = json.loads((processed / sid / "ingest_summary.json").read_text())
        assert ingest["sources"]["bailleur"]["rows_in"] == n, sid
    run = figures["portfolio_run"]
    assert run["split_matches_placement"]
    assert run["ingest_matches_split"]
    assert run["sites_checked"] == SITES


def test_a_rebuild_in_the_same_folder_keeps_the_secrets(tmp_path: Path) -> None:
    """The bench re-run with the same --dir: the sites' secrets already there are kept
    (never replaced, as `make secrets` does), not a stop on the first one."""
    build(tmp_path, 2, 1_000)
    secrets = sorted((tmp_path / "secrets").glob("*.key"))
    assert [p.stem for p in secrets] == ["t000", "t001"]
    before = [p.read_text() for p in secrets]
    build(tmp_path, 2, 1_000)
    assert [p.read_text() for p in sorted((tmp_path / "secrets").glob("*.key"))] == before


def test_a_process_tree_s_peak_adds_its_processes_up(tmp_path: Path) -> None:
    """The split's peak memory (``run_split``) counts each of its processes at its own
    peak, added: ``vigie split`` cuts a large extract in a second process beside its
    own. A parent holding 150 MB whose child holds 100 MB is about 270 MB (each Python
    has ~10 MB of its own), not the largest process alone, nor the parent's memory
    carried into its child across ``exec`` (``ru_maxrss``)."""
    child = "import time; b = b'x' * (100 << 20); time.sleep(1)"
    script = (
        "import subprocess, sys; a = b'x' * (150 << 20); "
        f"subprocess.run([sys.executable, '-c', {child!r}], check=True)"
    )
    proc, peak_mb, processes = run_tree_measured([sys.executable, "-c", script], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert processes == 2
    assert peak_mb is not None
    assert 250 <= peak_mb <= 330
