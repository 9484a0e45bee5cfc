// A site map zoomed to 200 % or 400 %, or on a small screen (pipelines/maps/site.py),
// after map.js: where the window is narrower than 700 px or shorter than 480 px, the period,
// the layer control and the legend leave the map's corners for a panel above it, in the
// page's flow (map.css, body.vigie-narrow), so that none covers another or the map; the
// page scrolls down to the map. Back in the corners when the window grows again.
(function () {
  "use strict";
  var map = window.vigie.map, container = map.getContainer();
  var query = window.matchMedia &&
    window.matchMedia("screen and (max-width: 700px), screen and (max-height: 480px)");
  var panel = document.createElement("div");
  panel.className = "vigie-panel";
  panel.setAttribute("role", "region");
  panel.setAttribute("aria-label", "Période, couches et légende de la carte");
  container.parentNode.insertBefore(panel, container);
  // The sources line under the map when the page flows (it is fixed at the bottom otherwise).
  var footer = document.querySelector(".vigie-footer");
  if (footer) { container.parentNode.insertBefore(footer, container.nextSibling); }
  var list = container.querySelector(".leaflet-control-layers-list");
  var moved = [".vigie-period", ".leaflet-control-layers", ".vigie-legend"].map(function (s) {
    var e = container.querySelector(s);
    return e ? {element: e, corner: e.parentNode, next: null} : null;
  }).filter(function (m) { return m; });
  function place() {
    var narrow = !!(query && query.matches);
    if (narrow === document.body.classList.contains("vigie-narrow")) { return; }
    var c = map.getCenter(), z = map.getZoom();
    document.body.classList.toggle("vigie-narrow", narrow);
    moved.forEach(function (m) {
      if (narrow) {
        m.next = m.element.nextSibling;
        panel.appendChild(m.element);
      } else {
        m.corner.insertBefore(m.element, m.next && m.next.parentNode === m.corner ? m.next : null);
      }
    });
    if (list) {  // the height Leaflet gave the layer list to fit in the map's corner
      list.style.height = "";
      list.classList.remove("leaflet-control-layers-scrollbar");
    }
    map.invalidateSize({pan: false});
    map.setView(c, z, {animate: false});
  }
  if (query) {
    if (query.addEventListener) { query.addEventListener("change", place); } else { query.addListener(place); }
  }
  place();
})();
