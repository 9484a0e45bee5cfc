"""The pages as a committee, a tenants' association or a planner use them, in headless
Chromium offline: the portfolio page found and sorted from the keyboard and with French
names; rows written by the test itself, rendered by the page's own renderer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser import LOW_CONTRAST_JS, offline_page

from pipelines.maps.portfolio import INDICATORS, render_portfolio

pytestmark = pytest.mark.browser


def site(site_id: str, name: str, n_reports: float | None = None) -> dict[str, Any]:
    """One portfolio row as :func:`pipelines.maps.portfolio.site_row` writes it, with
    only the reports of the quarter filled (null: hidden, « s »)."""
    hidden = n_reports is None
    return {
        "id": site_id,
        "name": name,
        "mark": None,
        "simulated": False,
        "quarter": "2025T4",
        "quarters": ["2025T4"],
        "cells": {"n_reports": {"v": n_reports, "s": hidden, "d": None}},
        "trend": None,
        "watch": None,
        "watch_by": None,
        "watch_rank": None,
        "watch_reason": None,
        "watch_hidden": False,
        "entrances": [],
        "spark": [n_reports],
        "map": None,
        "pack": None,
        "note": None,
        "path": None,
    }


SITES = [
    site("eclair", "Résidence Eclair", 4),
    site("ecluse", "Résidence Écluse", 9),
    site("oeuvre", "Cité de l'Œuvre", None),
]


def _order(page: Any) -> list[str]:
    return page.eval_on_selector_all(
        "#sites tbody tr", "rows => rows.map(r => r.getAttribute('data-site'))"
    )


@pytest.fixture
def portfolio(tmp_path: Path) -> Path:
    page = tmp_path / "index.html"
    page.write_text(render_portfolio(SITES), encoding="utf-8")
    return page


WAIT = "() => document.querySelectorAll('#sites tbody tr').length === 3"


def test_the_name_filter_ignores_accents_and_ligatures(portfolio: Path, browser: Any) -> None:
    """An association types « ecluse » or « oeuvre » on a laptop keyboard: the sites
    written « Écluse » and « Œuvre » are found (before: no row at all)."""
    with offline_page(portfolio, wait_js=WAIT, browser=browser, settle=False) as live:
        page = live.page
        for typed, expected in (
            ("ecluse", ["ecluse"]),
            ("ÉCLUSE", ["ecluse"]),
            ("écl", ["eclair", "ecluse"]),
            ("oeuvre", ["oeuvre"]),
            ("  Eclair ", ["eclair"]),
        ):
            page.fill("#filter-name", typed)
            assert _order(page) == expected, typed
        assert live.console_errors == []
        assert live.page_errors == []


def test_the_table_sorts_from_the_keyboard_alone(portfolio: Path, browser: Any) -> None:
    """Tab reaches the sortable headers, each visibly focused; Enter and Space sort (before:
    a header could not be focused, the table sorted only with a mouse)."""
    with offline_page(portfolio, wait_js=WAIT, browser=browser, settle=False) as live:
        page = live.page
        page.focus("#filter-watch")
        page.keyboard.press("Tab")
        focused = page.evaluate("() => document.activeElement.getAttribute('data-key')")
        assert focused == "name"
        outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none"
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.getAttribute('data-key')") == (
            "n_reports"
        )
        page.keyboard.press("Enter")
        assert _order(page) == ["eclair", "ecluse", "oeuvre"]  # hidden last
        page.keyboard.press(" ")
        assert _order(page) == ["ecluse", "eclair", "oeuvre"]
        assert page.locator("th[data-key='n_reports']").get_attribute("aria-sort") == ("descending")
        # by name, French order: « Cité » < « Résidence Eclair » < « Résidence Écluse »
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Enter")
        assert _order(page) == ["oeuvre", "eclair", "ecluse"]
        assert live.console_errors == []
        assert live.page_errors == []


def full_site(i: int) -> dict[str, Any]:
    """A site with every cell of the table filled, as wide as the real ones get: a long
    name, every indicator with its change, a watch level with entrances, 24 quarters."""
    row = site(f"s{i}", f"Résidence de l'Écluse Saint-Martin-des-Champs bâtiment {i}", 1234)
    row["cells"] = {key: {"v": 1234.56, "s": False, "d": -12.3} for key, *_ in INDICATORS}
    row["spark"] = [float(q) for q in range(24)]
    row["trend"] = "hausse significative"
    row.update(watch="jaune", watch_by="proposition de l'outil", watch_rank=1)
    row["entrances"] = [{"label": "Entrée 2 rue de la République", "level": "jaune", "by": "outil"}]
    row.update(map="s.html", pack="s_comite.html", note="s/note.html")
    return row


#: Printable width of an A4 page in landscape with the page's 10 mm margins, in CSS px.
A4_LANDSCAPE_PX = round((297 - 20) / 25.4 * 96)


@pytest.mark.parametrize(
    ("media", "width"), [("screen", 768), ("print", A4_LANDSCAPE_PX), ("screen", 320)]
)
def test_the_portfolio_fits_a_tablet_and_a_landscape_a4(
    tmp_path: Path, browser: Any, media: str, width: int
) -> None:
    """On a tablet the table scrolls in its own box, the page does not (before: the whole
    page was 1 800 px wide, filters and title scrolled away); printed, the table fits an A4
    page in landscape (before: portrait, 17 columns of which half were cut off); zoomed to
    400 % (320 px), the map's list of indicators fits too (before: 407 px wide)."""
    page_path = tmp_path / "index.html"
    page_path.write_text(render_portfolio([full_site(i) for i in range(3)]), encoding="utf-8")
    with offline_page(
        page_path, wait_js=WAIT, browser=browser, settle=False, viewport=(width, 800)
    ) as live:
        live.page.emulate_media(media=media)
        sizes = live.page.evaluate(
            """() => [document.documentElement.scrollWidth, document.documentElement.clientWidth,
                      document.querySelector('#sites').getBoundingClientRect().right]"""
        )
        assert sizes[0] <= sizes[1], sizes
        if media == "print":
            assert sizes[2] <= width, sizes


def test_the_map_opens_a_site_from_the_keyboard(tmp_path: Path, browser: Any) -> None:
    """Tab goes from the map's colour list to each site's shape, visibly focused and named,
    and Enter opens the site's map, as the table's links do (before: the shapes opened a
    site on a mouse click only; Tab went past the map)."""
    rows = [dict(s, path=f"M{10 + 100 * i},10L{90 + 100 * i},10L{50 + 100 * i},90Z") for i, s in
            enumerate(SITES)]  # fmt: skip
    rows[1]["map"] = "ecluse.html"
    (tmp_path / "ecluse.html").write_text("<!DOCTYPE html><title>Écluse</title>", encoding="utf-8")
    page_path = tmp_path / "index.html"
    page_path.write_text(render_portfolio(rows), encoding="utf-8")
    with offline_page(page_path, wait_js=WAIT, browser=browser, settle=False) as live:
        page = live.page
        page.focus("#map-indicator")
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => { const e = document.activeElement, p = e.querySelector('path');
                 return [e.tagName, p && p.getAttribute('data-site'), e.getAttribute('aria-label'),
                         p && getComputedStyle(p).stroke]; }"""
        )
        assert focused[:3] == ["a", "ecluse", "Résidence Écluse : 9,00 (ouvrir la carte du site)"]
        assert focused[3] != page.evaluate(  # the focused shape stands out from the others
            "() => getComputedStyle(document.querySelector('#map path')).stroke"
        )
        page.keyboard.press("Enter")
        page.wait_for_url("**/ecluse.html", timeout=5000)
        assert live.console_errors == []
        assert live.page_errors == []


def test_every_text_of_the_portfolio_is_readable(tmp_path: Path, browser: Any) -> None:
    """Every text stands out from its background by WCAG's 4.5:1 (before: the « — » of a
    value that cannot be computed was #999 on white, 2.8:1, hard to tell from an empty cell
    on a meeting room's projector)."""
    page_path = tmp_path / "index.html"
    page_path.write_text(render_portfolio([full_site(0), *SITES]), encoding="utf-8")
    wait = "() => document.querySelectorAll('#sites tbody tr').length === 4"
    with offline_page(page_path, wait_js=wait, browser=browser, settle=False) as live:
        assert live.page.evaluate(LOW_CONTRAST_JS, "body") == []


def test_quarters_read_the_french_way(tmp_path: Path, browser: Any) -> None:
    """The table and the sparkline's title write « T4 2024 », as French usage does; the
    table's value stays in ``data-quarter`` (before: « 2024-T4 » everywhere)."""
    row = dict(SITES[0], quarter="2024-T4", quarters=["2024-T3", "2024-T4"], spark=[3.0, 4.0])
    page_path = tmp_path / "index.html"
    page_path.write_text(render_portfolio([row]), encoding="utf-8")
    wait = "() => document.querySelectorAll('#sites tbody tr').length === 1"
    with offline_page(page_path, wait_js=wait, browser=browser, settle=False) as live:
        page = live.page
        cell = page.locator("#sites tbody td:nth-child(2)")  # Trimestre
        assert (cell.inner_text(), cell.get_attribute("data-quarter")) == ("T4 2024", "2024-T4")
        title = page.text_content("#sites svg.sparkline title")
        assert title == "Signalements par trimestre : T3 2024 : 3 ; T4 2024 : 4"
        assert "2024-T" not in page.inner_text("body")
