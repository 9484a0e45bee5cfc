"""The portfolio page in headless Chromium (issue 18): the three Bondy sectors of
config/portfolio.toml run through their maps, the index is the portfolio page; its
table sorts and opens a site, with no console error."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from browser import offline_page

from pipelines.cli import main
from tests.test_portfolio import SITES, write_config

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def portfolio_index(tmp_path_factory: pytest.TempPathFactory, simulated_bondy) -> Path:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("portfolio")
    cfg = write_config(root, str(simulated_bondy / "signalements_bailleur.csv"))
    assert main(["-q", "run", "--config", str(cfg), "--through", "map", "--sequential"]) == 0
    index = root / "maps" / "index.html"
    assert main(["-q", "index", "--config", str(cfg), "--out", str(index)]) == 0
    return index


def _last_reports(index: Path, site: str) -> float | None:
    """The last quarter's published count of a site, None when hidden (read here from
    the published table, not from the page)."""
    table = pd.read_parquet(
        index.parent.parent / "processed" / site / "published" / "indicators_site.parquet"
    )
    last = table.iloc[-1]
    return None if last["cell_flag"] == "s" else float(last["n_reports"])


def test_the_table_sorts_and_opens_a_site(portfolio_index: Path, browser) -> None:  # type: ignore[no-untyped-def]
    counts = {site: _last_reports(portfolio_index, site) for site in SITES}
    shown = sorted((v, s) for s, v in counts.items() if v is not None)
    hidden = [s for s, v in counts.items() if v is None]
    with offline_page(
        portfolio_index,
        wait_js="() => document.querySelectorAll('#sites tbody tr').length === 3",
        browser=browser,
        settle=False,
    ) as live:
        page = live.page
        header = page.locator("th[data-key='n_reports']")
        header.click()
        order = page.eval_on_selector_all(
            "#sites tbody tr", "rows => rows.map(r => r.getAttribute('data-site'))"
        )
        assert order[: len(shown)] == [s for _v, s in shown]
        assert sorted(order[len(shown) :]) == sorted(hidden)  # hidden values last
        assert header.get_attribute("aria-sort") == "ascending"
        header.click()
        order = page.eval_on_selector_all(
            "#sites tbody tr", "rows => rows.map(r => r.getAttribute('data-site'))"
        )
        assert order[: len(shown)] == [s for _v, s in reversed(shown)]
        # A hidden value reads « s », never 0 or blank.
        for site in hidden:
            text = page.locator(f"tr[data-site='{site}'] td").nth(2).inner_text()
            assert text.strip() == "s"
        # One perimeter per site on the map.
        assert page.locator("#map path[data-site]").count() == 3
        first = order[0]
        with page.expect_navigation():
            page.locator(f"tr[data-site='{first}'] td a").first.click()
        assert page.url.endswith(f"/{first}.html")
        page.wait_for_selector(".leaflet-container")
        assert live.console_errors == []
        assert live.page_errors == []
        assert live.external_requests == []
