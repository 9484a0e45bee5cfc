// Ready when the map's script has drawn the map (see map.js) and nothing animates:
// the screenshot waits for this (pipelines/maps/screenshots.py, Playwright's wait_for_function).
// ES5 like the map's scripts (ESLint): a function expression, which Playwright calls.
(function () {
  return document.documentElement.getAttribute('data-vigie-ready') === '1' &&
    document.getAnimations().length === 0;
})
