"""The pages as a committee, a tenants' association or a planner use them, in headless
Chromium offline: the portfolio page found and sorted from the keyboard and with French
names; rows written by the test itself, rendered by the page's own renderer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser import offline_page

from pipelines.maps.portfolio import render_portfolio

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
