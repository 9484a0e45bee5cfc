// Whether a Vigie page is ready for a screenshot (pipelines/maps/screenshots.py): the
// script has drawn the map (map.js sets data-vigie-ready) and no animation is running.
() => document.documentElement.getAttribute("data-vigie-ready") === "1" &&
  document.getAnimations().length === 0;
