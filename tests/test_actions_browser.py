"""The actions of issue 17 as a person sees them, in headless Chromium with the network cut:
Bondy's map with its « Actions » layer and fact sheets, its committee pack, and the PDF.

The map and the pack are rebuilt from the end-to-end run's published tables plus an
actions table written as the contract says (tests/actions_table.py), whose hostile texts
(a script end tag, template syntax, quotes) must show as text: no dialog, no error."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from browser import offline_page

from pipelines.config import load_config
from pipelines.maps import pack
from pipelines.maps import site as maps
from pipelines.maps.pdf import count_pdf_pages
from pipelines.published import read_published
from tests.actions_table import HOSTILE_DECISION, SCRIPT, SEVEN, contract_actions, write_actions
from tests.conftest import DemoRun

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: The map's script has run to its end (it sets the attribute last).
READY = (
    "() => document.documentElement.getAttribute('data-vigie-ready') === '1'"
    " && document.querySelectorAll('path.vigie-building').length > 0"
)
LOADED = "() => document.readyState === 'complete'"


@dataclass(frozen=True)
class Built:
    """Bondy's map and pack rebuilt with the contract's actions table."""

    map: Path
    pack: Path
    actions: gpd.GeoDataFrame
    months: list[str]


@pytest.fixture(scope="module")
def bondy(demo_run: DemoRun, tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("bondy_actions")
    processed = root / "bondy"
    shutil.copytree(demo_run.site("bondy") / "published", processed / "published")
    shutil.copytree(demo_run.site("bondy") / "charts", processed / "charts")
    shutil.copy2(demo_run.site("bondy") / "basemap.parquet", processed / "basemap.parquet")
    published = read_published(processed / "published")
    actions = contract_actions(published.profile, published.zones)
    write_actions(processed / "published", actions)
    config = load_config(demo_run.config)
    site = config.site("bondy")
    page = maps.run_site(config, site, processed=processed, dst=root / "maps" / "bondy.html")
    committee = pack.run_pack(
        config, site, processed=processed, dst=root / "maps" / "bondy_comite.html"
    )
    return Built(page, committee, actions, list(published.site["months"]))


@contextmanager
def watched(path: Path, browser: Any, wait_js: str = READY) -> Iterator[Any]:
    """The page, with the dialogs it opens recorded (an ``alert`` would be one)."""
    with offline_page(path, browser=browser, wait_js=wait_js, settle=wait_js == READY) as live:
        live.dialogs = []
        live.page.on("dialog", lambda d: (live.dialogs.append(d.message), d.dismiss()))
        yield live
        assert live.dialogs == []
        assert live.console_errors == []
        assert live.page_errors == []
        assert live.external_requests == []


CLICK_CENTRE = """(el) => {
  const r = el.getBoundingClientRect();
  el.dispatchEvent(new MouseEvent('click', {bubbles: true, clientX: r.x + r.width / 2,
                                           clientY: r.y + r.height / 2}));
}"""


def test_actions_layer_toggles_and_opens_an_escaped_popup(bondy: Built, browser: Any) -> None:
    live_rows = bondy.actions[~bondy.actions["is_removed"]]
    with watched(bondy.map, browser) as live:
        page = live.page
        assert live.count("path.vigie-action") == 0  # off until chosen
        page.locator(".leaflet-control-layers label", has_text="Actions du registre").click()
        page.wait_for_selector("path.vigie-action")
        assert live.count("path.vigie-action") == len(live_rows)
        assert live.count("path.vigie-action-late") == int(live_rows["is_overdue"].sum())
        assert live.count(".vigie-late-badge") == int(live_rows["is_overdue"].sum())
        legend = page.inner_text(".vigie-legend")
        assert "Actions du registre" in legend
        for status in live_rows["status"]:
            assert status in legend
        page.locator("path.vigie-action-late").first.evaluate(CLICK_CENTRE)
        page.wait_for_selector(".leaflet-popup-content .vigie-action", timeout=5000)
        text = page.inner_text(".leaflet-popup-content")
        assert "Action A-2025-001" in text
        assert "en retard" in text
        assert SCRIPT in text  # shown as text, never run
        assert SEVEN in text
        assert HOSTILE_DECISION.split(SEVEN)[0] in text
        # Off again: no action drawn.
        page.locator(".leaflet-control-layers label", has_text="Actions du registre").click()
        assert live.count("path.vigie-action") == 0


#: Click the centre of a building's path, by its id; false when the map has no such building.
CLICK_BUILDING = """(id) => {
  let el = null;
  window.vigie.buildings.eachLayer(l => {
    if (l.feature.properties.building_id === id) el = l.getElement();
  });
  if (!el) return false;
  const r = el.getBoundingClientRect();
  el.dispatchEvent(new MouseEvent('click', {bubbles: true, clientX: r.x + r.width / 2,
                                           clientY: r.y + r.height / 2}));
  return true;
}"""


def test_building_fact_sheet_lists_its_actions(bondy: Built, browser: Any) -> None:
    target = bondy.actions.set_index("action_id").loc["A-2025-001", "building_ids"]
    with watched(bondy.map, browser) as live:
        page = live.page
        assert page.evaluate(CLICK_BUILDING, target)
        page.wait_for_selector(".leaflet-popup-content .fiche", timeout=5000)
        text = page.inner_text(".leaflet-popup-content")
        assert "Actions du registre" in text
        assert "A-2025-001" in text
        assert "en retard" in text
        assert f"syndic {SCRIPT}" in text


def test_period_selector_shows_the_actions_of_the_period(bondy: Built, browser: Any) -> None:
    live_rows = bondy.actions[~bondy.actions["is_removed"]]
    month = "2025-06"
    k = bondy.months.index(month)
    dates = live_rows[["committee_date", "status_date"]].astype("string").fillna("")
    in_month = [any(d[:7] == month for d in pair) for pair in dates.itertuples(index=False)]
    assert 0 < sum(in_month) < len(live_rows)  # the test tells something
    with watched(bondy.map, browser) as live:
        page = live.page
        page.locator(".leaflet-control-layers label", has_text="Actions du registre").click()
        page.evaluate(f"() => window.vigie.setPeriod({k}, {k})")
        assert live.count("path.vigie-action") == sum(in_month)
        assert "Période choisie" in page.inner_text(".vigie-legend")
        page.click("#vigie-all")
        assert live.count("path.vigie-action") == len(live_rows)


def test_committee_pack_renders_its_sections(bondy: Built, browser: Any) -> None:
    with watched(bondy.pack, browser, wait_js=LOADED) as live:
        page = live.page
        titles = page.eval_on_selector_all("section > h2", "els => els.map(e => e.innerText)")
        assert titles == [
            "1. Chiffres clés depuis le dernier comité",
            "2. Points chauds et tendances",
            "3. Suivi des actions",
            "4. Décisions à prendre",
            "5. Méthode et publication",
        ]
        # The charts and the map, inline, all decoded.
        sizes = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
        assert len(sizes) == 4
        assert all(w > 500 for w in sizes)
        groups = page.eval_on_selector_all(
            "table.actions tr.groupe th", "els => els.map(e => e.innerText)"
        )
        assert [g.split(" (")[0] for g in groups] == [
            "En retard", "Nouvelles : décidées au dernier comité", "Réalisées", "Vérifiées",
            "Refusées, abandonnées ou retirées du registre",
        ]  # fmt: skip
        text = page.inner_text("#actions")
        assert SCRIPT in text
        assert SEVEN in text
        assert "Publication et secret statistique" in page.inner_text("#methode")
        assert live.count("script") == 0


def test_committee_pack_pdf_has_pages(bondy: Built) -> None:
    pdf = bondy.pack.with_suffix(".pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert count_pdf_pages(pdf) >= 2


# --------------------------------------------------------------------------- the demo's register
def _demo_actions(demo_run: DemoRun) -> gpd.GeoDataFrame:
    """Bondy's published actions still in the register (the simulator's, through the
    actions stage), in table order."""
    actions = gpd.read_parquet(demo_run.site("bondy") / "published" / "actions.parquet")
    return actions[~actions["is_removed"].astype(bool)].reset_index(drop=True)


def test_demo_map_shows_the_register(demo_run: DemoRun, browser: Any) -> None:
    actions = _demo_actions(demo_run)
    drawn = actions[actions.geometry.notna() & ~actions.geometry.is_empty]
    late = drawn[drawn["is_overdue"].astype(bool)]
    assert len(drawn) >= 10  # the simulator's twenty actions, most of them live
    assert len(late) >= 1
    months = read_published(demo_run.site("bondy") / "published").site["months"]
    with watched(demo_run.maps / "bondy.html", browser) as live:
        page = live.page
        page.locator(".leaflet-control-layers label", has_text="Actions du registre").click()
        page.wait_for_selector("path.vigie-action")
        assert live.count("path.vigie-action") == len(drawn)
        assert live.count("path.vigie-action-late") == len(late)
        page.locator("path.vigie-action-late").first.evaluate(CLICK_CENTRE)
        page.wait_for_selector(".leaflet-popup-content .vigie-action", timeout=5000)
        text = page.inner_text(".leaflet-popup-content")
        assert "en retard" in text
        assert any(f"Action {a}" in text for a in late["action_id"])
        # The period of the first action's committee month: the actions decided or
        # updated in it, as the table dates them.
        month = str(drawn["committee_date"].iloc[0])[:7]
        dates = drawn[["committee_date", "status_date"]].astype("string").fillna("")
        expected = sum(any(d[:7] == month for d in p) for p in dates.itertuples(index=False))
        k = months.index(month)
        page.evaluate(f"() => window.vigie.setPeriod({k}, {k})")
        assert live.count("path.vigie-action") == expected
        page.click("#vigie-all")
        assert live.count("path.vigie-action") == len(drawn)


def test_demo_fact_sheet_lists_the_actions_of_its_building(demo_run: DemoRun, browser: Any) -> None:
    actions = _demo_actions(demo_run)
    named = actions[actions["building_ids"].fillna("").astype(str) != ""]
    first = named.iloc[0]
    building = str(first["building_ids"]).split(";")[0]
    with watched(demo_run.maps / "bondy.html", browser) as live:
        page = live.page
        assert page.evaluate(CLICK_BUILDING, building)
        page.wait_for_selector(".leaflet-popup-content .fiche", timeout=5000)
        text = page.inner_text(".leaflet-popup-content")
        assert "Actions du registre" in text
        assert str(first["action_id"]) in text


def test_demo_pack_lists_every_action(demo_run: DemoRun, browser: Any) -> None:
    actions = gpd.read_parquet(demo_run.site("bondy") / "published" / "actions.parquet")
    with watched(demo_run.maps / "bondy_comite.html", browser, wait_js=LOADED) as live:
        ids = live.page.eval_on_selector_all(
            "table.actions b.id", "els => els.map(e => e.innerText)"
        )
        assert sorted(ids) == sorted(actions["action_id"].astype(str))
        late = live.page.eval_on_selector_all(
            "tbody.groupe-late b.id", "els => els.map(e => e.innerText)"
        )
        overdue = actions[actions["is_overdue"].astype(bool) & ~actions["is_removed"].astype(bool)]
        assert sorted(late) == sorted(overdue["action_id"].astype(str))


def test_demo_builds_every_committee_pack(demo_run: DemoRun) -> None:
    index = (demo_run.maps / "index.html").read_text(encoding="utf-8")
    for site in ("bondy", "paris10"):
        html = demo_run.maps / f"{site}_comite.html"
        pdf = demo_run.maps / f"{site}_comite.pdf"
        assert html.is_file()
        assert pdf.read_bytes()[:5] == b"%PDF-"
        assert count_pdf_pages(pdf) >= 2
        assert f"href='{site}_comite.html'" in index
        assert f"href='{site}_comite.pdf'" in index
