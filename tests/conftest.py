"""Shared fixtures: the real data shipped in data/raw/, and one end-to-end run of the
pipeline CLI on the default configuration, written into a temporary folder."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock
from hypothesis import settings

# Property tests draw their examples from a seed derived from each test, not from the
# clock: the same examples on every run, so that no run fails (or passes) by chance.
settings.register_profile("vigie", derandomize=True)
settings.load_profile("vigie")

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data" / "raw"
SHARED = ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True, scope="session")
def _run_from_project_root() -> None:
    """Relative paths in config/demo.toml resolve against the project root."""
    os.chdir(ROOT)


@dataclass(frozen=True)
class DemoRun:
    """Where the end-to-end run wrote its files."""

    root: Path
    config: Path
    raw_bondy: Path
    processed: Path
    maps: Path

    def site(self, site: str) -> Path:
        return self.processed / site


def osm_bounds_file(dst_dir: Path, osm: Path | str) -> Path:
    """A ``buildings_summary.json`` holding only the extract's bounds, as the OSM stage
    writes it: what ``vigie ingest --bounds`` reads when a site has no study_area_bbox."""
    from pipelines.osm import read_osm_bounds

    path = dst_dir / "buildings_summary.json"
    path.write_text(json.dumps({"bounds": list(read_osm_bounds(osm))}), encoding="utf-8")
    return path


def write_demo_config(dst_dir: Path, raw_bondy: Path) -> Path:
    """Copy config/demo.toml into ``dst_dir``, pointing outputs and the simulated Bondy
    sources into ``dst_dir`` so a test run never touches the project's own outputs."""
    text = (ROOT / "config" / "demo.toml").read_text(encoding="utf-8")
    text = text.replace(
        'processed_dir = "data/processed"', f'processed_dir = "{dst_dir / "processed"}"'
    )
    text = text.replace('maps_dir = "maps"', f'maps_dir = "{dst_dir / "maps"}"')
    text = text.replace(
        'annotations_dir = "data/annotations"', f'annotations_dir = "{dst_dir / "annotations"}"'
    )
    text = text.replace('actions_dir = "data/actions"', f'actions_dir = "{dst_dir / "actions"}"')
    for name in ("signalements_bailleur", "observations_diagnostic", "observations_kobo"):
        text = re.sub(rf'"data/raw/bondy/({name}[^"]*)"', rf'"{raw_bondy}/\1"', text)
    text = text.replace(
        'gazetteer = "data/raw/bondy/gazetteer.csv"', f'gazetteer = "{raw_bondy}/gazetteer.csv"'
    )
    # The sites' secrets (household keys) in the test's folder, never the analyst's.
    text = text.replace("[project]\n", f'[project]\nsecrets_dir = "{dst_dir / "secrets"}"\n', 1)
    for site in ("bondy", "paris10"):
        make_secret(dst_dir / "secrets", site)
    cfg = dst_dir / "demo.toml"
    cfg.write_text(text, encoding="utf-8")
    return cfg


def make_secret(secrets_dir: Path, site: str) -> bytes:
    """A site's secret in ``secrets_dir`` (created when missing, as ``vigie secret``
    does), returned as the bytes that key its households."""
    from pipelines.ingest import secret

    path = secret.secret_path(secrets_dir, site)
    if not path.exists():
        secret.create_secret(path)
    return secret.load_secret(path, config_path="test.toml", site_id=site)


@pytest.fixture
def secret(tmp_path: Path) -> bytes:
    """A fresh site secret (what ``make secrets`` writes), for tests that ingest."""
    return make_secret(tmp_path / "secrets", "test")


def built_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]
) -> Path:
    """A folder that ``build`` fills, made once per test session.

    ``make test`` runs the suite on several processes (pytest-xdist, ``-n``), and a
    session-scoped fixture is set up once per process: without this, each worker would
    redo the demo run (minutes). So, under xdist, the folder lies beside the workers' own
    temporary folders (their common parent is this session's), and a file lock lets the
    first worker build it while the others wait, then read it (the pytest-xdist recipe,
    "Making session-scoped fixtures execute only once"). A build that failed leaves a mark,
    so the other workers fail at once instead of building it again. Without xdist, a
    plain temporary folder.
    """
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        out = tmp_path_factory.mktemp(name)
        build(out)
        return out
    shared = tmp_path_factory.getbasetemp().parent
    out, done, failed = (shared / f"{name}{end}" for end in ("", ".done", ".failed"))
    with FileLock(shared / f"{name}.lock"):
        if failed.exists():
            pytest.fail(f"{name}: its build failed in another test process (see its error)")
        if not done.exists():
            out.mkdir()
            try:
                build(out)
            except BaseException:
                failed.touch()
                raise
            done.touch()
    return out


def _simulate_bondy(out: Path) -> None:
    from pipelines.simulate import stage as simulate

    simulate.run(
        RAW / "bondy" / "bondy_nord.osm",
        RAW / "bondy" / "ban_adresses_bondy.csv",
        out,
        rpls_path=RAW / "bondy" / "rpls_bondy.gpkg",
        seed=42,
    )


@pytest.fixture(scope="session")
def simulated_bondy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulator's exports for Bondy (seed 42), written into a temporary folder
    (once per session, shared by the test processes: :func:`built_once`)."""
    return built_once(tmp_path_factory, "raw_bondy", _simulate_bondy)


#: The modules that take longest (minutes each: `make demo` in a copy of the project, the
#: demo run, `vigie init` then `make demo`, the notes' round trip in Chromium, ...), in the
#: order they go out to the test processes under pytest-xdist (`make test`): the longest
#: first, so that none starts last while the other processes have nothing left to do;
#: the second one builds the demo run that many modules share while the first, which
#: needs it not, runs the portfolio's two runs (the order of a `--durations=0` run). A
#: name here only orders; a module not named follows, in the usual order.
LONGEST_FIRST = (
    "test_portfolio.py",
    "test_publication.py",
    "test_portfolio_browser.py",
    "test_make.py",
    "test_roundtrip_browser.py",
    "test_simulate.py",
    "test_simulate_actions.py",
    "test_readers_robust.py",
    "test_workbench_init.py",
    "test_sparse.py",
    "test_injection.py",
    "test_progress.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses the end-to-end run is end to end: marked ``slow``, so that
    ``make test-fast`` (``-m "not browser and not slow"``) keeps to the unit tier.
    Under pytest-xdist, the modules of :data:`LONGEST_FIRST` come first (each module's
    tests keep their order; the Makefile's ``--dist loadscope`` sends a module whole)."""
    for item in items:
        if "demo_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
    if os.environ.get("PYTEST_XDIST_WORKER") is not None:
        rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
        items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # a stable sort


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory, simulated_bondy: Path) -> DemoRun:
    """Run ``vigie run --config`` end to end, once per test session (shared by the test
    processes: :func:`built_once`). A test that adds files to its processed or maps
    folders works on a copy: the processes read these folders concurrently."""
    from pipelines.cli import main

    def run(root: Path) -> None:
        cfg = write_demo_config(root, simulated_bondy)
        # The simulator's action register, in Bondy's register folder (as `make demo`
        # has it).
        register = root / "actions" / "bondy"
        register.mkdir(parents=True)
        shutil.copy2(simulated_bondy / "actions.csv", register / "actions.csv")
        code = main(["-q", "run", "--config", str(cfg)])
        assert code == 0, "vigie run failed"

    root = built_once(tmp_path_factory, "demo", run)
    cfg = root / "demo.toml"  # where write_demo_config wrote it
    return DemoRun(root, cfg, simulated_bondy, root / "processed", root / "maps")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole session (Playwright's sync API allows one
    instance at a time); skipped on a developer's machine without it, a failure in CI."""
    from browser import launch_browser, require_chromium, require_node_modules

    require_chromium()
    require_node_modules()
    with launch_browser() as shared:
        yield shared


def bondy_config(tmp_path: Path, *, annotation_tags: tuple[str, ...] | None = None) -> Any:
    """A one-site configuration on the real Bondy extract, writing into ``tmp_path``
    (for stages that need a Config but no real source)."""
    from pipelines.config import Config, SiteConfig, SourceConfig

    site = SiteConfig(
        id="bondy",
        name="Bondy Nord",
        osm=str(RAW / "bondy" / "bondy_nord.osm"),
        sources=(SourceConfig(id="s", kind="reports", path="x.csv"),),
    )
    extra = {} if annotation_tags is None else {"annotation_tags": annotation_tags}
    return Config(
        path="test.toml",
        sites=(site,),
        processed_dir=str(tmp_path / "processed"),
        maps_dir=str(tmp_path / "maps"),
        annotations_dir=str(tmp_path / "annotations"),
        actions_dir=str(tmp_path / "actions"),
        **extra,
    )


def copy_tree(src: Path, dst: Path) -> Path:
    """Copy a folder (used by tests that alter inputs)."""
    shutil.copytree(src, dst)
    return dst


# The planners' notes tests (test_annotations, test_annotations_safety) share these.
@pytest.fixture(scope="module")
def bondy() -> Any:
    """The real Bondy footprints (a module may define its own ``bondy``)."""
    from pipelines.osm.buildings import read_osm_buildings

    return read_osm_buildings(RAW / "bondy" / "bondy_nord.osm")


@pytest.fixture(scope="module")
def isolated(bondy: Any) -> Any:
    """Three real buildings of Bondy whose nearest neighbour is more than 12 m away."""
    import shapely

    from pipelines.crs import LAMBERT93

    metric = bondy.to_crs(LAMBERT93)
    tree = shapely.STRtree(metric.geometry.to_numpy())
    pairs = tree.query(metric.geometry.to_numpy(), predicate="dwithin", distance=12.0)
    crowded = {int(i) for i, j in zip(*pairs, strict=True) if i != j}
    lonely = [i for i in range(len(bondy)) if i not in crowded and metric.area.iloc[i] > 150]
    return bondy.iloc[lonely[:3]]


# --------------------------------------------------------------------------- published tables
def published_for(  # type: ignore[no-untyped-def]
    buildings,
    reports,
    *,
    kde=None,
    chronic=None,
    perimeter=None,
    zones=None,
    annotations=None,
    trends=None,
    annotation_tags=(),
):
    """The published tables (:func:`pipelines.publish.publish_site`) of hand-made frames:
    what the renderers read, as ``vigie publish`` would write them. ``trends`` is a
    ``params.trends`` section (before/after windows)."""
    from pipelines.publish import publish_site

    trends = trends or {}
    return publish_site(
        buildings, reports, kde=kde, chronic=chronic, perimeter=perimeter, zones=zones,
        notes=annotations, compare_months=int(trends.get("compare_months") or 3),
        compare_before=trends.get("compare_before"), compare_after=trends.get("compare_after"),
        annotation_tags=annotation_tags,
    )  # fmt: skip


def reports_on(buildings, rows, **columns):  # type: ignore[no-untyped-def]
    """Hand-made residents' reports from ``rows`` of (building id, category, date,
    household), each at its building's representative point (EPSG:4326), as ingestion
    writes them (``source_kind`` « reports », source « bailleur », no text, no
    duplicate); ``columns`` add or replace columns (a list: one value per row)."""
    import geopandas as gpd
    import pandas as pd

    inside = buildings.set_index("building_id").geometry.representative_point()
    frame = {
        "report_id": [f"r{i}" for i in range(len(rows))],
        "source_kind": "reports",
        "source": "bailleur",
        "building_id": [r[0] for r in rows],
        "category": [r[1] for r in rows],
        "reported_at": pd.to_datetime([r[2] for r in rows]),
        "household_key": [r[3] for r in rows],
        "description": None,
        "duplicate_of": None,
    }
    return gpd.GeoDataFrame(
        {**frame, **columns}, geometry=[inside[r[0]] for r in rows], crs="EPSG:4326"
    )


def map_data_of(buildings, reports, *, site_name, basemap=None, options=None, **tables):  # type: ignore[no-untyped-def]
    """:func:`pipelines.maps.data.map_data` of hand-made frames, published first."""
    from pipelines.maps.data import map_data

    return map_data(
        published_for(buildings, reports, **tables), site_name=site_name, basemap=basemap,
        options=options,
    )  # fmt: skip


def site_map_of(  # type: ignore[no-untyped-def]
    buildings, reports, *, site_name, simulated, attributions, basemap=None, options=None,
    site_id=None, annotation_tags=(), **tables,
):  # fmt: skip
    """:func:`pipelines.maps.site.build_site_map` of hand-made frames, published first."""
    from pipelines.maps.site import build_site_map

    return build_site_map(
        published_for(buildings, reports, annotation_tags=annotation_tags, **tables),
        site_name=site_name, simulated=simulated, attributions=attributions, basemap=basemap,
        options=options, site_id=site_id,
    )  # fmt: skip
