"""The portfolio example in headless Chromium (issue 18): config/demo_portfolio.toml
(Paris 10e declared site by site, Bondy Nord split into residences by the RPLS-derived
perimeter layer) run through its maps; the index is the portfolio page, its table sorts
and opens a real site and a residence, with no console error."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from browser import offline_page

from pipelines.cli import main
from pipelines.config import load_config
from tests.conftest import RAW, ROOT, make_secret

pytestmark = pytest.mark.browser

EXAMPLE = ROOT / "config" / "demo_portfolio.toml"
LAYER = RAW / "portfolio" / "residences_bondy.geojson"
#: The site declared one by one ([[sites]]), with real reports.
REAL = "paris10"


def example_config(dst: Path, simulated_bondy: Path) -> Path:
    """config/demo_portfolio.toml with its outputs in ``dst`` and Bondy's export (and
    gazetteer) the simulator's in ``simulated_bondy``."""
    text = EXAMPLE.read_text(encoding="utf-8")
    text = re.sub(
        r'^(\w+_dir) = ".*"$', lambda m: f'{m[1]} = "{dst / m[1]}"', text, flags=re.MULTILINE
    )
    for old, new in (
        ("data/raw/bondy/signalements_bailleur*.csv", "signalements_bailleur.csv"),
        ("data/raw/bondy/gazetteer.csv", "gazetteer.csv"),
    ):
        assert f'"{old}"' in text
        text = text.replace(f'"{old}"', f'"{simulated_bondy / new}"')
    cfg = dst / "demo_portfolio.toml"
    cfg.write_text(text, encoding="utf-8")
    for site in load_config(cfg, check_files=False).sites:
        make_secret(dst / "secrets_dir", site.id)
    return cfg


def residences() -> list[str]:
    """The residences' ids, read from the layer itself."""
    doc = json.loads(LAYER.read_text(encoding="utf-8"))
    return [f["properties"]["code"] for f in doc["features"]]


@pytest.fixture(scope="module")
def portfolio_index(tmp_path_factory: pytest.TempPathFactory, simulated_bondy) -> Path:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("portfolio")
    cfg = example_config(root, simulated_bondy)
    assert main(["-q", "run", "--config", str(cfg), "--through", "map", "--sequential"]) == 0
    index = root / "maps_dir" / "index.html"
    assert main(["-q", "index", "--config", str(cfg), "--out", str(index)]) == 0
    return index


def _last_reports(index: Path, site: str) -> float | None:
    """The last quarter's published count of a site, None when hidden or absent (read
    here from the published table, not from the page)."""
    path = index.parent.parent / "processed_dir" / site / "published" / "indicators_site.parquet"
    table = pd.read_parquet(path)
    if table.empty:
        return None
    last = table.iloc[-1]
    return None if last["cell_flag"] == "s" else float(last["n_reports"])


def _order(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.eval_on_selector_all(
        "#sites tbody tr", "rows => rows.map(r => r.getAttribute('data-site'))"
    )


def _open(live, site: str) -> None:  # type: ignore[no-untyped-def]
    """Follow the site's link in the table; its map opens offline."""
    page = live.page
    with page.expect_navigation():
        page.locator(f"tr[data-site='{site}'] td a").first.click()
    assert page.url.endswith(f"/{site}.html")
    page.wait_for_selector(".leaflet-container")


def test_the_table_sorts_and_opens_a_real_site_and_a_residence(
    portfolio_index: Path,
    browser,  # type: ignore[no-untyped-def]
) -> None:
    sites = [REAL, *residences()]
    counts = {site: _last_reports(portfolio_index, site) for site in sites}
    shown = sorted((v, s) for s, v in counts.items() if v is not None)
    hidden = [s for s, v in counts.items() if v is None]
    assert len(shown) >= 2  # else the sort shows nothing
    with offline_page(
        portfolio_index,
        wait_js=f"() => document.querySelectorAll('#sites tbody tr').length === {len(sites)}",
        browser=browser,
        settle=False,
    ) as live:
        page = live.page
        # Both kinds: the real site without the badge, each residence with it.
        badge = "tr[data-site='{}'] .badge"
        assert page.locator(badge.format(REAL)).count() == 0
        for site in residences():
            assert page.locator(badge.format(site)).inner_text().strip() == "données simulées"
        header = page.locator("th[data-key='n_reports']")
        header.click()
        order = _order(page)
        assert order[: len(shown)] == [s for _v, s in shown]
        assert sorted(order[len(shown) :]) == sorted(hidden)  # hidden values last
        assert header.get_attribute("aria-sort") == "ascending"
        header.click()
        assert _order(page)[: len(shown)] == [s for _v, s in reversed(shown)]
        # By name: the sites' names in French alphabetical order (accents aside).
        page.locator("th[data-key='name']").click()
        names = page.eval_on_selector_all(
            "#sites tbody tr td:first-child a", "links => links.map(a => a.textContent)"
        )
        assert names == sorted(names, key=str.casefold)
        # One perimeter per site on the map: the layer's and Paris's.
        assert page.locator("#map path[data-site]").count() == len(sites)
        _open(live, REAL)
        page.go_back()
        page.wait_for_selector("#sites tbody tr")
        _open(live, residences()[0])
        assert live.console_errors == []
        assert live.page_errors == []
        assert live.external_requests == []


def test_the_indicators_note_opens_as_a_page_inside_maps(
    portfolio_index: Path,
    browser,  # type: ignore[no-untyped-def]
) -> None:
    """« Méthode des indicateurs » opens a French HTML page beside the maps; every link of
    the portfolio page stays in its folder and exists (before: a link to
    ``../processed_dir/<site>/published/indicators_method.md``, raw Markdown, lost with a
    copy of the maps folder alone)."""
    maps = portfolio_index.parent.resolve()
    with offline_page(
        portfolio_index,
        wait_js="() => document.querySelectorAll('#sites tbody tr').length > 1",
        browser=browser,
        settle=False,
    ) as live:
        page = live.page
        links = page.eval_on_selector_all("[href]", "els => els.map(e => e.getAttribute('href'))")
        for href in links:
            assert (maps / href).resolve().is_relative_to(maps), href
            assert (maps / href).exists(), href
        note = page.locator(f"tr[data-site='{REAL}'] a", has_text="Méthode des indicateurs")
        assert note.get_attribute("href") == f"{REAL}/indicateurs.html"
        with page.expect_navigation():
            note.click()
        assert page.inner_text("h1") == "Indicateurs par site et par trimestre : méthode"
        assert live.console_errors == []
        assert live.external_requests == []


#: A site name a landlord may well write, and markup that must stay text.
MARKUP_NAME = "Les Lilas & Co <b>gras</b> « R&D »"


def test_a_site_name_with_markup_reads_as_written(
    tmp_path: Path,
    simulated_bondy: Path,
    browser,  # type: ignore[no-untyped-def]
) -> None:
    """The real three-sector layer, its first sector renamed with « & » and a tag: the
    table, the filter and the map's tooltip show the name as written (never « &amp; »,
    never a bold word), from the perimeters the split wrote; no stage needed."""
    doc = json.loads((RAW / "portfolio" / "perimetres_bondy.geojson").read_text(encoding="utf-8"))
    doc["features"][0]["properties"]["nom"] = MARKUP_NAME
    site = doc["features"][0]["properties"]["code"]
    layer = tmp_path / "périmètres.geojson"
    layer.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    text = (ROOT / "config" / "portfolio.toml").read_text(encoding="utf-8")
    text = re.sub(
        r'^(\w+_dir) = ".*"$', lambda m: f'{m[1]} = "{tmp_path / m[1]}"', text, flags=re.MULTILINE
    )
    export = simulated_bondy / "signalements_bailleur.csv"
    for old, new in (
        ("data/raw/portfolio/perimetres_bondy.geojson", str(layer)),
        ("data/raw/bondy/signalements_bailleur*.csv", str(export)),
        ("data/raw/bondy/gazetteer.csv", str(simulated_bondy / "gazetteer.csv")),
    ):
        assert f'"{old}"' in text
        text = text.replace(f'"{old}"', f'"{new}"')
    cfg = tmp_path / "portfolio.toml"
    cfg.write_text(text, encoding="utf-8")
    assert main(["-q", "split", "--config", str(cfg)]) == 0
    index = tmp_path / "index.html"
    assert main(["-q", "index", "--config", str(cfg), "--out", str(index)]) == 0
    with offline_page(
        index,
        wait_js="() => document.querySelectorAll('#sites tbody tr').length === 3",
        browser=browser,
        settle=False,
    ) as live:
        page = live.page
        name = page.locator(f"tr[data-site='{site}'] td:first-child > :first-child")
        assert name.text_content() == MARKUP_NAME
        assert page.locator("#sites tbody b").count() == 0
        tip = page.locator(f"#map path[data-site='{site}'] title").text_content()
        assert tip.startswith(f"{MARKUP_NAME} : ")
        page.fill("#filter-name", "& co <b>gras")
        assert _order(page) == [site]
        assert live.console_errors == []
        assert live.page_errors == []
