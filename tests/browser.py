"""Headless Chromium harness for the HTML maps, with the network cut off.

A helper module for the tests (not a test file). Every request the page makes is routed:
``file:``/``data:``/``blob:``/``about:`` ones go through, anything else is aborted and
recorded in ``external_requests``, so a map that would need the network in a meeting
room fails here too.

Chromium is Debian's ``/usr/bin/chromium`` (installed by ``apt-get install chromium``);
playwright's own browser download does not work on our machines, hence
``executable_path``.

Typical use::

    from tests.browser import open_offline, require_chromium

    def test_map(tmp_path):
        require_chromium()
        result = open_offline(html_path, screenshot=tmp_path / "map.png")
        assert result.external_requests == []

For several pages in one test session, share one browser::

    with launch_browser() as browser:
        open_offline(a, browser=browser)
        open_offline(b, browser=browser)
"""

from __future__ import annotations

import functools
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM_PATH = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Ready when Leaflet has built its container and drawn at least one vector path.
DEFAULT_WAIT_JS = (
    "() => document.querySelector('.leaflet-container') !== null"
    " && document.querySelectorAll('path.leaflet-interactive').length > 0"
)
_LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")
#: A function of a CSS selector: the texts shown under it whose colour stands out from
#: their background by less than WCAG's 4.5:1 (3:1 from 24 px, or bold from 18.66 px),
#: as ``"text colour on background ratio"``. The background is the first opaque one
#: among the element and its ancestors (white at the top); a text over an image or a
#: gradient is skipped.
LOW_CONTRAST_JS = r"""(selector) => {
  const rgb = s => { const m = s.match(/rgba?\(([^)]+)\)/); if (!m) return null;
    const p = m[1].split(',').map(Number); return {c: p.slice(0, 3), a: p.length > 3 ? p[3] : 1}; };
  const lum = c => { const f = v => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const back = e => { for (; e; e = e.parentElement) { const s = getComputedStyle(e);
      if (s.backgroundImage !== 'none') return null;
      const c = rgb(s.backgroundColor); if (c && c.a > 0.5) return c.c; }
    return [255, 255, 255]; };
  const out = [], seen = new Set();
  for (const root of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let t = walker.nextNode(); t; t = walker.nextNode()) {
      const e = t.parentElement;
      if (!t.data.trim() || seen.has(e) || !e.getClientRects().length) continue;
      seen.add(e);
      const s = getComputedStyle(e), fg = rgb(s.color), bg = back(e);
      if (!fg || !bg || s.visibility === 'hidden') continue;
      const hi = Math.max(lum(fg.c), lum(bg)), lo = Math.min(lum(fg.c), lum(bg));
      const ratio = (hi + 0.05) / (lo + 0.05), px = parseFloat(s.fontSize);
      const need = px >= 24 || (parseInt(s.fontWeight) >= 700 && px >= 18.66) ? 3 : 4.5;
      if (ratio < need)
        out.push(`${t.data.trim().slice(0, 30)} ${s.color} on rgb(${bg}) ${ratio.toFixed(2)}`);
    }
  }
  return out; }"""
#: The browser opened by :func:`launch_browser`, while it is open.
_ACTIVE: list[Any] = []


@dataclass
class BrowserResult:
    """What a page did while it loaded offline.

    Attributes
    ----------
    console_errors
        Texts of console messages of type ``error`` (failed loads included).
    page_errors
        Uncaught JavaScript exceptions.
    external_requests
        URLs the page tried to fetch outside ``file:``/``data:`` (all aborted).
    n_paths
        ``path.leaflet-interactive`` elements (polygons, lines, circle markers).
    n_markers
        ``.leaflet-marker-icon`` elements (icon markers and cluster bubbles).
    load_ms
        Milliseconds from navigation start to the moment ``wait_js`` first held with no
        animation running (see ``settle`` in :func:`offline_page`).
    screenshot
        The PNG written, if one was asked for.
    """

    console_errors: list[str]
    page_errors: list[str]
    external_requests: list[str]
    n_paths: int
    n_markers: int
    load_ms: float
    screenshot: Path | None = None

    @property
    def clean(self) -> bool:
        """No error and no attempt to reach the network."""
        return not (self.console_errors or self.page_errors or self.external_requests)


@dataclass
class OfflinePage:
    """A live page with the logs collected so far (see :func:`offline_page`)."""

    page: Any  # playwright.sync_api.Page; Any so this module imports without playwright
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    load_ms: float = float("nan")

    def count(self, selector: str) -> int:
        """Number of elements matching a CSS selector."""
        return int(self.page.locator(selector).count())

    def result(self, *, screenshot: Path | None = None) -> BrowserResult:
        """Snapshot of the logs and counts, optionally writing a screenshot first."""
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(screenshot))
        return BrowserResult(
            console_errors=list(self.console_errors),
            page_errors=list(self.page_errors),
            external_requests=list(self.external_requests),
            n_paths=self.count("path.leaflet-interactive"),
            n_markers=self.count(".leaflet-marker-icon"),
            load_ms=self.load_ms,
            screenshot=screenshot,
        )


@functools.cache
def chromium_unavailable_reason() -> str | None:
    """Why headless Chromium cannot be used here, or ``None`` when it can.

    Checks that playwright imports, that ``/usr/bin/chromium`` exists, and that it
    actually starts headless and renders a blank page (a separate process, not
    playwright, so the check also works while a playwright session is open; cached).
    """
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as err:
        return f"python package playwright missing ({err}): pip install -e '.[dev]'"
    if not os.access(CHROMIUM_PATH, os.X_OK):
        return f"{CHROMIUM_PATH} missing: apt-get install chromium (make setup)"
    try:
        done = subprocess.run(
            [str(CHROMIUM_PATH), *CHROMIUM_ARGS, "--dump-dom", "about:blank"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"{CHROMIUM_PATH} does not start: {err}"
    if done.returncode != 0 or "<html" not in done.stdout:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"{CHROMIUM_PATH} does not run headless (exit {done.returncode}): {last}"
    return None


def chromium_available() -> bool:
    """True when :func:`chromium_unavailable_reason` finds nothing wrong."""
    return chromium_unavailable_reason() is None


def require_chromium() -> None:
    """Skip the calling test without Chromium, or fail it when running in CI.

    In CI (environment variable ``CI`` set and not ``0``/``false``) the browser is part of
    the setup, so its absence is a failure, not a skip.
    """
    import pytest

    reason = chromium_unavailable_reason()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail(f"headless Chromium required in CI: {reason}")
    pytest.skip(f"headless Chromium unavailable: {reason}")


def require_node_modules() -> None:
    """Skip without ``npm ci`` on a developer's machine; fail in CI, where setup runs it."""
    import pytest

    from pipelines.maps.assets import MissingAssetsError, check_node_modules

    try:
        check_node_modules()
    except MissingAssetsError as err:
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail(str(err))
        pytest.skip(str(err))


@contextmanager
def launch_browser() -> Iterator[Any]:
    """A headless Chromium (playwright ``Browser``) to share between pages; closed on exit.

    Playwright's sync API allows one running instance per thread, so while this browser
    is open, :func:`offline_page` and :func:`open_offline` called without ``browser=``
    use it instead of launching another.
    """
    if _ACTIVE:
        yield _ACTIVE[-1]
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM_PATH), args=CHROMIUM_ARGS)
        _ACTIVE.append(browser)
        try:
            yield browser
        finally:
            _ACTIVE.remove(browser)
            browser.close()


@contextmanager
def offline_page(
    html_path: Path,
    *,
    wait_js: str = DEFAULT_WAIT_JS,
    timeout_ms: int = 15000,
    viewport: tuple[int, int] = (1280, 800),
    settle: bool = True,
    browser: Any = None,
) -> Iterator[OfflinePage]:
    """Open ``html_path`` offline and yield the live page once ``wait_js`` holds.

    Parameters
    ----------
    html_path
        The HTML file to open (as ``file://``).
    wait_js
        A JavaScript function expression, true when the map is ready.
    timeout_ms
        How long to wait for ``wait_js``.
    viewport
        Width and height in CSS pixels.
    settle
        Also wait until no CSS animation or transition runs
        (``document.getAnimations()`` empty): a ``fitBounds`` after the layers are added
        zooms with an animation, and MarkerCluster re-clusters at its end. Turn off for
        pages with a never-ending animation.
    browser
        A browser from :func:`launch_browser` to reuse; by default the one currently open,
        or a new one for this page.

    Raises
    ------
    TimeoutError
        ``wait_js`` never held; the message lists the errors and blocked requests seen.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with _maybe_browser(browser) as live_browser:
        context = live_browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]}, service_workers="block"
        )
        try:
            page = context.new_page()
            session = OfflinePage(page)

            def route(r: Any) -> None:
                url = r.request.url
                if url.startswith(_LOCAL_SCHEMES):
                    r.continue_()
                else:
                    session.external_requests.append(url)
                    r.abort("internetdisconnected")

            context.route("**/*", route)
            page.on(
                "console",
                lambda msg: (
                    session.console_errors.append(msg.text) if msg.type == "error" else None
                ),
            )
            page.on("pageerror", lambda exc: session.page_errors.append(str(exc)))
            # Remember when the predicate first held, in the page's own clock
            # (performance.now() counts from navigation start).
            still = "document.getAnimations().length === 0" if settle else "true"
            probe = (
                f"() => {{ const ok = ({wait_js})() && {still};"
                " if (ok && window.__vigieReadyMs === undefined)"
                " window.__vigieReadyMs = performance.now(); return ok; }"
            )
            started = time.monotonic()
            page.goto(Path(html_path).resolve().as_uri(), timeout=timeout_ms, wait_until="load")
            try:
                page.wait_for_function(probe, timeout=timeout_ms)
            except PlaywrightTimeout as err:
                raise TimeoutError(
                    f"{html_path}: map not ready after {timeout_ms} ms "
                    f"({time.monotonic() - started:.1f} s); page errors {session.page_errors}, "
                    f"console errors {session.console_errors}, "
                    f"blocked requests {session.external_requests}"
                ) from err
            session.load_ms = float(page.evaluate("() => window.__vigieReadyMs"))
            yield session
        finally:
            context.close()


def open_offline(
    html_path: Path,
    *,
    screenshot: Path | None = None,
    wait_js: str = DEFAULT_WAIT_JS,
    timeout_ms: int = 15000,
    viewport: tuple[int, int] = (1280, 800),
    settle: bool = True,
    browser: Any = None,
) -> BrowserResult:
    """Open a map offline in headless Chromium and report what happened.

    See :func:`offline_page` for the parameters; ``screenshot`` is a PNG path to write
    once the map is ready.
    """
    with offline_page(
        html_path,
        wait_js=wait_js,
        timeout_ms=timeout_ms,
        viewport=viewport,
        settle=settle,
        browser=browser,
    ) as session:
        return session.result(screenshot=screenshot)


@contextmanager
def _maybe_browser(browser: Any) -> Iterator[Any]:
    if browser is not None:
        yield browser
    else:
        with launch_browser() as fresh:
            yield fresh
