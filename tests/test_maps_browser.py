"""The produced maps, as a person sees them: headless Chromium with the network cut."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import launch_browser, offline_page, open_offline, require_chromium

from tests.conftest import DemoRun

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    require_chromium()
    with launch_browser() as b:
        yield b


@pytest.mark.parametrize("page", ["bondy.html", "paris10.html"])
def test_map_renders_offline_without_errors(
    demo_run: DemoRun, page: str, browser, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    shot = tmp_path / f"{page}.png"
    result = open_offline(demo_run.maps / page, screenshot=shot, browser=browser)
    assert result.external_requests == []
    assert result.console_errors == []
    assert result.page_errors == []
    # Every building is drawn as an SVG path.
    import geopandas as gpd

    n_buildings = len(gpd.read_parquet(demo_run.site(page.removesuffix(".html")) / "buildings.parquet"))
    assert result.n_paths >= n_buildings
    assert shot.exists() and shot.stat().st_size > 10_000


def test_index_page_links_open(demo_run: DemoRun, browser) -> None:  # type: ignore[no-untyped-def]
    with offline_page(
        demo_run.maps / "index.html", wait_js="document.querySelectorAll('a').length > 0",
        browser=browser, settle=False,
    ) as live:
        hrefs = live.page.eval_on_selector_all("table a", "els => els.map(e => e.getAttribute('href'))")
        assert sorted(hrefs) == ["bondy.html", "paris10.html"]
        assert live.console_errors == [] and live.external_requests == []


def test_building_popup_opens_with_counts(demo_run: DemoRun, browser) -> None:  # type: ignore[no-untyped-def]
    with offline_page(demo_run.maps / "paris10.html", browser=browser) as live:
        page = live.page
        # Click the first building drawn with reports (coloured, not grey).
        clicked = page.evaluate(
            """() => {
              const paths = [...document.querySelectorAll('path.leaflet-interactive')]
                .filter(p => p.getAttribute('fill') && p.getAttribute('fill') !== '#d9d9d9');
              if (!paths.length) return false;
              paths[0].dispatchEvent(new MouseEvent('click', {bubbles: true}));
              return true;
            }"""
        )
        assert clicked
        page.wait_for_selector(".leaflet-popup-content .fiche", timeout=5000)
        text = page.inner_text(".leaflet-popup-content")
        assert "Bâtiment" in text and "signalement" in text
        assert live.console_errors == []
