"""What a steering committee opens offline, from a ``maps/`` folder copied alone (a USB
key in a meeting room without network): every page and file a page links to is in
that folder, and the notes open as French pages, not as raw Markdown."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from browser import offline_page

from pipelines.maps.html import header_html
from pipelines.maps.method_pages import markdown_html
from tests.conftest import DemoRun

#: Every link and resource of the page, once its scripts have run (the portfolio and
#: the maps draw theirs).
LINKS_JS = """() => Array.from(document.querySelectorAll('[href], [src]'))
    .map(e => e.getAttribute('href') || e.getAttribute('src'))"""


def _links(page: Path, browser: Any) -> list[str]:
    with offline_page(
        page, wait_js="() => document.readyState === 'complete'", browser=browser, settle=False
    ) as live:
        links = live.page.evaluate(LINKS_JS)
        assert live.external_requests == [], page
    return [str(x) for x in links if x]


@pytest.mark.browser
@pytest.mark.slow
def test_every_link_of_a_maps_folder_copied_alone_opens(
    demo_run: DemoRun, browser: Any, tmp_path: Path
) -> None:
    """The demo's ``maps/`` copied alone: each ``href``/``src`` of each page points
    inside it, to a file that exists, none to the network (no exception needed: the
    licences are credited as text, Leaflet's own link is not drawn). Before: the method
    notes and charts were links to ``../processed/<site>/…``, lost with the copy."""
    maps = shutil.copytree(demo_run.maps, tmp_path / "cle_usb" / "maps")
    pages = sorted(maps.rglob("*.html"))
    # the index, the maps, the packs, and each site's notes under maps/<site>/
    assert {p.relative_to(maps).as_posix() for p in pages} >= {
        "index.html", "bondy.html", "bondy/methode.html", "bondy/indicateurs.html",
    }  # fmt: skip
    seen = set()
    for page in pages:
        for link in _links(page, browser):
            if link.startswith(("#", "data:", "blob:")):
                continue
            assert "://" not in link, f"{page.name} : lien externe {link}"
            target = (page.parent / link.split("#")[0]).resolve()
            assert target.is_relative_to(maps.resolve()), f"{page.name} : {link} hors de maps/"
            assert target.exists(), f"{page.name} : {link} introuvable"
            seen.add(target.relative_to(maps.resolve()).as_posix())
    # the index does link to the notes and charts (they were outside maps/)
    linked = {
        "bondy/methode.html",
        "bondy/indicateurs.html",
        "bondy/batiments_les_plus_signales.png",
    }
    assert linked <= seen


@pytest.mark.browser
@pytest.mark.slow
def test_the_indicators_note_opens_as_a_french_page(demo_run: DemoRun, browser: Any) -> None:
    """The indicators' note a committee opens reads as a page: a title, lists, bold,
    no Markdown mark (before: the index linked the ``.md``, shown as « # Indicateurs… »)."""
    with offline_page(
        demo_run.maps / "bondy" / "indicateurs.html",
        wait_js="() => document.readyState === 'complete'",
        browser=browser,
        settle=False,
    ) as live:
        page = live.page
        assert page.evaluate("document.documentElement.lang") == "fr"
        assert page.inner_text("h1") == "Indicateurs par site et par trimestre : méthode"
        text = page.inner_text("body")
        assert page.locator("li").count() >= 3
        assert page.locator("strong").count() >= 3
        assert "**" not in text
        assert not any(line.startswith("#") for line in text.splitlines())


def test_the_notes_markdown_is_escaped_then_marked_up() -> None:
    """A text of the note reaches the page as text: markup escaped, then the bold and
    code marks only."""
    title, body = markdown_html(
        "# Note <i>x</i>\n\nUn <script>alert(1)</script> **gras & <b>**\n\n"
        "- point `a<b`\n  suite\n- second\n\n## Partie\n"
    )
    assert title == "Note <i>x</i>"  # plain text, escaped by the template
    assert body == (
        "<p>Un &lt;script&gt;alert(1)&lt;/script&gt; <strong>gras &amp; &lt;b&gt;</strong></p>\n"
        "<ul>\n<li>point <code>a&lt;b</code> suite</li>\n<li>second</li>\n</ul>\n"
        "<h2>Partie</h2>"
    )


@pytest.mark.browser
def test_the_map_header_reads_period_then_badge(tmp_path: Path, browser: Any) -> None:
    """Read aloud or copied, the map's header says « 31/12/2025 données simulées tous
    les sites » (before: « 31/12/2025données simuléestous les sites »)."""
    header = header_html("Bondy", "01/01/2025 – 31/12/2025", simulated=True)
    page = tmp_path / "header.html"
    page.write_text(f"<!DOCTYPE html><html lang='fr'><body>{header}</body></html>", "utf-8")
    with offline_page(page, wait_js="() => true", browser=browser, settle=False) as live:
        text = live.page.text_content(".vigie-header") or ""
    assert "31/12/2025 données simulées tous les sites" in " ".join(text.split())
    assert "2025données" not in text
    assert "simuléestous" not in text
