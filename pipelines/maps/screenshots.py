"""Screenshots of the produced maps (``make screenshots``): each site map and the index
page, opened offline in headless Chromium, saved as PNG for reports and slides.

Chromium is Debian's ``/usr/bin/chromium`` driven by playwright, as in the browser tests;
every request outside ``file:``/``data:`` is refused, so a screenshot also proves that the
page needs no network. A page that logs an error or tries the network is an error here.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pipelines.errors import VigieError
from pipelines.markup import template_text
from pipelines.stages import PACK_SUFFIX

log = logging.getLogger(__name__)

CHROMIUM_PATH = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update"]  # fmt: skip
#: Ready when the script has drawn the map (``pipelines/templates/map_ready.js``, its
#: comment lines left out: Playwright evaluates one function expression).
MAP_READY_JS = "\n".join(
    line for line in template_text("map_ready.js").splitlines() if not line.startswith("//")
).strip()
_LOCAL = ("file:", "data:", "blob:", "about:")


class ScreenshotError(VigieError, RuntimeError):
    """A page could not be captured (browser missing, page error, network request)."""


def run(
    maps_dir: str | Path,
    out_dir: str | Path,
    *,
    viewport: tuple[int, int] = (1600, 1000),
    timeout_ms: int = 30_000,
    browser: Any = None,
) -> list[Path]:
    """Capture ``maps_dir/<site>.html`` → ``out_dir/<site>.png`` and ``index.html`` →
    ``out_dir/index.png`` (full page); the committee packs (``<site>_comite.html``) are
    not maps and are left out.

    Parameters
    ----------
    maps_dir
        Where ``vigie run`` wrote the maps.
    out_dir
        Where the PNG files go (created).
    viewport
        Browser window in CSS pixels (16:10 by default, as a projector).
    timeout_ms
        Longest wait for one page to be drawn.
    browser
        A playwright ``Browser`` already running in this thread (playwright's sync API
        allows one instance per thread); by default one is launched and closed.

    Returns
    -------
    list of Path
        The PNG files written, index last.

    Raises
    ------
    ScreenshotError
        Chromium or playwright missing, or a page that errs or reaches for the network.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        raise ScreenshotError(f"playwright absent ({err}) : pip install -e '.[dev]'") from err
    if not CHROMIUM_PATH.exists():
        raise ScreenshotError(f"{CHROMIUM_PATH} absent : apt-get install chromium (make setup)")
    maps_dir, out_dir = Path(maps_dir), Path(out_dir)
    # The site maps, not the committee packs beside them (a page of text, no map to wait for).
    pages = sorted(
        p
        for p in maps_dir.glob("*.html")
        if p.name != "index.html" and not p.stem.endswith(PACK_SUFFIX)
    )
    if (maps_dir / "index.html").exists():
        pages.append(maps_dir / "index.html")
    if not pages:
        raise ScreenshotError(f"aucune carte dans {maps_dir} : lancez d'abord « make demo ».")
    out_dir.mkdir(parents=True, exist_ok=True)
    if browser is not None:
        return [
            _capture(browser, page, out_dir, viewport=viewport, timeout_ms=timeout_ms)
            for page in pages
        ]
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM_PATH), args=CHROMIUM_ARGS)
        try:
            written = [
                _capture(launched, page, out_dir, viewport=viewport, timeout_ms=timeout_ms)
                for page in pages
            ]
        finally:
            launched.close()
    return written


def _capture(
    browser: Any, page_path: Path, out_dir: Path, *, viewport: tuple[int, int], timeout_ms: int
) -> Path:
    context = browser.new_context(
        viewport={"width": viewport[0], "height": viewport[1]}, service_workers="block"
    )
    problems: list[str] = []
    try:

        def route(r: object) -> None:
            url = r.request.url  # type: ignore[attr-defined]
            if url.startswith(_LOCAL):
                r.continue_()  # type: ignore[attr-defined]
            else:
                problems.append(f"requête réseau bloquée : {url}")
                r.abort("internetdisconnected")  # type: ignore[attr-defined]

        context.route("**/*", route)
        page = context.new_page()
        page.on("pageerror", lambda exc: problems.append(f"erreur JavaScript : {exc}"))
        page.on(
            "console",
            lambda msg: problems.append(f"console : {msg.text}") if msg.type == "error" else None,
        )
        page.goto(page_path.resolve().as_uri(), wait_until="load", timeout=timeout_ms)
        is_index = page_path.name == "index.html"
        if not is_index:
            page.wait_for_function(MAP_READY_JS, timeout=timeout_ms)
        if problems:
            raise ScreenshotError(f"{page_path} : " + " ; ".join(problems))
        dst = out_dir / f"{page_path.stem}.png"
        page.screenshot(path=str(dst), full_page=is_index)
        log.info("wrote %s", dst)
        return dst
    finally:
        context.close()
