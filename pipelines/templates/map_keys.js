// Keyboard use of a site map (pipelines/maps/site.py), after map.js: for a committee
// member or a planner without a mouse. Leaflet makes every outline with a tooltip
// focusable (it shows the tooltip on focus), so the controls come first in the Tab order,
// not after a thousand buildings; Enter or Space on a focused outline opens its fact
// sheet (focus inside, to scroll it), Escape closes whichever popup is open, wherever the
// focus is, and gives the focus back to the outline it came from; the zoom buttons and
// the layer control speak French.
(function () {
  "use strict";
  var map = window.vigie.map, container = map.getContainer();
  var controls = container.querySelector(".leaflet-control-container");
  if (controls) { container.insertBefore(controls, container.firstChild); }
  [[".leaflet-control-zoom-in", "Zoom avant"], [".leaflet-control-zoom-out", "Zoom arrière"],
   [".leaflet-control-layers-toggle", "Couches et couleurs"]].forEach(function (c) {
    var button = container.querySelector(c[0]);
    if (button) { button.title = c[1]; button.setAttribute("aria-label", c[1]); }
  });
  var open = null, opener = null;
  map.on("popupopen", function (e) {
    open = e.popup;
    var close = e.popup.getElement() && e.popup.getElement().querySelector(".leaflet-popup-close-button");
    if (close) { close.title = "Fermer"; close.setAttribute("aria-label", "Fermer"); }
  });
  map.on("popupclose", function (e) { if (open === e.popup) { open = null; } });
  function layerOf(element) {
    var found = null;
    map.eachLayer(function (l) {
      if (!found && l.getPopup && l.getPopup() && l.getElement && l.getElement() === element) {
        found = l;
      }
    });
    return found;
  }
  container.addEventListener("keydown", function (e) {
    if ((e.key !== "Enter" && e.key !== " ") || !(e.target instanceof SVGElement)) { return; }
    var layer = layerOf(e.target);
    if (!layer) { return; }
    e.preventDefault();
    opener = e.target;
    layer.openPopup();
    var content = open && open.getElement() && open.getElement().querySelector(".leaflet-popup-content");
    if (content) { content.tabIndex = -1; content.focus(); }
  });
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape" || !open) { return; }
    map.closePopup(open);
    if (opener && document.contains(opener)) { opener.focus(); }
    opener = null;
  });
})();
