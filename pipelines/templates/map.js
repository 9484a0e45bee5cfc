
(function () {
"use strict";
var D = JSON.parse(document.getElementById("vigie-data").textContent);
var map = window[D.map];
var B = D.b, M = D.months.length;
var state = {view: D.views[0].id, m0: 0, m1: Math.max(0, M - 1)};
var VIEWS = {};
D.views.forEach(function (v) { VIEWS[v.id] = v; });

function pane(name, z, events) {
  var p = map.createPane(name); p.style.zIndex = z;
  if (!events) p.style.pointerEvents = "none";
  return name;
}
pane("vigie-basemap", 250, false);
pane("vigie-kde", 410, false);
pane("vigie-outline", 420, false);
// Set the view before drawing: a fitBounds after thousands of paths would redraw them all.
map.fitBounds(D.bounds, {animate: false});

function fr(x, d) {
  return x.toLocaleString("fr-FR", {minimumFractionDigits: d || 0, maximumFractionDigits: d || 0});
}
function plural(n, w) { return fr(n) + " " + w + (Math.abs(n) >= 2 ? "s" : ""); }

// ------------------------------------------------------------------ monthly counts
var MONTHLY = {};
D.monthly.i.forEach(function (i, k) { MONTHLY[i] = D.monthly.c[k]; });
// No month at all (a site without any report) is the whole period too.
function fullPeriod() { return M === 0 || (state.m0 === 0 && state.m1 === M - 1); }
// A null count is hidden (secret statistique): never a zero, never summed.
function countOf(i) {
  if (fullPeriod()) return B.n[i];
  var row = MONTHLY[i]; if (!row) return 0;
  var s = 0;
  for (var k = state.m0; k <= state.m1; k++) {
    if (row[k] === null) return null;
    s += row[k];
  }
  return s;
}
function hiddenText() { return D.hidden.marker + " signalements (" + D.hidden.reason + ")"; }

// ------------------------------------------------------------------ classes
function nice(x) {
  if (x <= 0) return 0;
  var e = Math.floor(Math.log10(x)), m = x / Math.pow(10, e), best = D.nice[0];
  D.nice.forEach(function (c) { if (Math.abs(m - c) < Math.abs(m - best)) best = c; });
  return best * Math.pow(10, e);
}
function distinctCount(a) { var n = 0; for (var i = 0; i < a.length; i++) if (i === 0 || a[i] !== a[i - 1]) n++; return n; }
function paletteFor(n) { return n < D.palette.length ? D.palette.slice(D.palette.length - n) : D.palette; }
function positive(values) {
  return values.filter(function (v) { return v !== null && v > 0; }).sort(function (a, b) { return a - b; });
}
function countClasses(values) {
  var nz = positive(values);
  if (!nz.length) return {bounds: [1], labels: ["1 et plus"], colours: D.palette.slice(-1)};
  var top = nz[nz.length - 1], k = Math.min(D.palette.length, distinctCount(nz)), set = {1: true};
  for (var j = 1; j < k; j++) {
    var b = Math.round(nice(Math.pow(top, j / k))); if (b >= 1 && b <= top) set[b] = true;
  }
  var bounds = Object.keys(set).map(Number).sort(function (a, b) { return a - b; }), labels = [];
  bounds.forEach(function (lo, i) {
    if (i + 1 < bounds.length) {
      var hi = bounds[i + 1] - 1;
      labels.push(hi === lo ? String(lo) : lo + " à " + hi);
    } else labels.push(lo < top ? lo + " et plus" : String(lo));
  });
  return {bounds: bounds, labels: labels, colours: paletteFor(bounds.length)};
}
function rateClasses(values) {
  var nz = positive(values);
  if (!nz.length) return {bounds: [0], labels: ["plus de 0"], colours: D.palette.slice(-1)};
  var low = nz[0], top = nz[nz.length - 1], k = Math.min(D.palette.length, distinctCount(nz)), set = {};
  for (var j = 1; j < k; j++) {
    var b = nice(low * Math.pow(top / low, j / k)); if (b > low && b < top) set[b] = true;
  }
  var breaks = Object.keys(set).map(Number).sort(function (a, b) { return a - b; });
  var bounds = [0].concat(breaks), labels = [];
  var d = function (x) { return fr(x, x === Math.round(x) ? 0 : 1); };
  bounds.forEach(function (lo, i) {
    if (!breaks.length) labels.push("plus de 0");
    else if (i === 0) labels.push("moins de " + d(bounds[1]));
    else if (i + 1 < bounds.length) labels.push(d(lo) + " à moins de " + d(bounds[i + 1]));
    else labels.push(d(lo) + " et plus");
  });
  return {bounds: bounds, labels: labels, colours: paletteFor(bounds.length)};
}
function classOf(cls, v) {
  var k = 0; for (var j = 0; j < cls.bounds.length; j++) if (v >= cls.bounds[j]) k = j;
  return k;
}
var CLS = {};
function recompute() {
  state.counts = B.n.map(function (_, i) { return countOf(i); });
  CLS.count = countClasses(state.counts);
  state.rates = state.counts.map(function (c, i) {
    return c !== null && B.dw[i] > 0 ? 100 * c / B.dw[i] : null;
  });
  CLS.rate = rateClasses(state.rates);
}

// ------------------------------------------------------------------ buildings
function fillOf(i) {
  var v = VIEWS[state.view];
  if (v.dynamic === "count") {
    var c = state.counts[i];
    if (c === null) return "url(#vigie-hatch)";
    return c > 0 ? CLS.count.colours[classOf(CLS.count, c)] : D.zero;
  }
  if (v.dynamic === "rate") {
    var r = state.rates[i];
    if (r === null) return "url(#vigie-hatch)";
    return r > 0 ? CLS.rate.colours[classOf(CLS.rate, r)] : D.zero;
  }
  var k = v.k[i];
  return k === null ? v.none.c : v.classes[k].c;
}
function buildingStyle(f) {
  return {fillColor: fillOf(f.properties.i), fillOpacity: 0.88, color: "#4d4d4d",
          weight: 0.7, opacity: 1};
}
function tooltipOf(i) {
  var v = VIEWS[state.view], what;
  var shown = function (n) { return n === null ? D.hidden.marker : n; };
  if (v.dynamic && state.counts[i] === null) what = hiddenText();
  else if (v.dynamic === "count") what = plural(state.counts[i], "signalement");
  else if (v.dynamic === "rate") what = state.rates[i] === null ? "taux inconnu (logements non connus)"
      : fr(state.rates[i], 1) + " signalements pour 100 logements";
  else if (v.id === "change") what = "avant " + shown(D.change.nb[i]) + " → après " + shown(D.change.na[i]);
  else what = v.k[i] === null ? v.none.l : v.classes[v.k[i]].l;
  return "<b>" + B.title[i] + "</b><br>" + what;
}
recompute();
// ------------------------------------------------------------------ hotspot zones
// Drawn in the buildings' own SVG, behind them (brought back each time the layer is
// shown again): a click on a building reaches the building, a click beside it the zone.
var zonesLayer = null;
if (D.zones) {
  zonesLayer = L.geoJSON(D.zones.geojson, {
    className: "vigie-zone",
    style: {color: D.zones.colour, weight: 2, opacity: 0.9, dashArray: "6 4",
            fillColor: D.zones.colour, fillOpacity: 0.12},
    onEachFeature: function (f, layer) {
      layer.bindPopup(f.properties.popup, {maxWidth: 380});
      layer.bindTooltip(f.properties.tip, {sticky: true});
    }
  });
  zonesLayer.on("add", function () { zonesLayer.bringToBack(); });
  zonesLayer.addTo(map);
}
var buildings = L.geoJSON(D.buildings, {
  style: buildingStyle, className: "vigie-building",
  onEachFeature: function (f, layer) {
    var i = f.properties.i;
    layer.bindPopup(function () { return B.fiche[i]; }, {maxWidth: 380});
    layer.bindTooltip(function () { return tooltipOf(i); }, {sticky: true});
    layer.on("mouseover", function () { layer.setStyle({weight: 2.5, color: "#000"}); });
    layer.on("mouseout", function () { buildings.resetStyle(layer); });
  }
});
buildings.addTo(map);
// Each outline's name for a screen reader (before: none, an outline was announced as a
// bare graphic): what its tooltip says, the building's name and what its colour shows
// now (view, period), as plain text. The tooltip's HTML is escaped in Python; it is read
// back as text through an inert <template> (nothing in it runs or loads), never shown.
var plainText = document.createElement("template");
function nameBuildings() {
  buildings.eachLayer(function (layer) {
    var e = layer.getElement && layer.getElement();
    if (!e) return;
    plainText.innerHTML = tooltipOf(layer.feature.properties.i).replace("<br>", " : ");
    var text = plainText.content.textContent;
    e.setAttribute("aria-label", (/^bâtiment/i.test(text) ? "" : "Bâtiment, ") + text);
  });
}
nameBuildings();

// Every popup (fact sheet, note, zone, action, report) fits in the map as it is now, and
// scrolls inside when longer: an 800-character note ran off a 1 024 × 600 projector's map.
map.on("popupopen", function (e) {
  var fit = Math.max(120, map.getSize().y - 90);
  if (e.popup.options.maxHeight !== fit) { e.popup.options.maxHeight = fit; e.popup.update(); }
});

// ------------------------------------------------------------------ planners' notes
// Above the buildings. Popups and tooltips are escaped in Python; the raw fields of each
// note stay in its feature for the annotation mode, which shows them as text.
var A = D.annotations, notesLayer = null;
if (A) {
  var noteStyle = function (f) {
    var p = f.properties, orphan = !!p.is_orphaned;
    var c = orphan ? A.orphan : (A.colours[p.status] || "#000000");
    var point = /Point$/.test(f.geometry.type);
    return {color: point && !orphan ? "#ffffff" : c, fillColor: c, weight: point ? 2.5 : 3,
            opacity: 1, fillOpacity: point ? 0.9 : 0.3,
            dashArray: orphan ? "2 5" : (point ? null : "8 4"),
            className: "vigie-note" + (orphan ? " vigie-note-orphan" : "")};
  };
  notesLayer = L.geoJSON(A.geojson, {
    style: noteStyle,
    pointToLayer: function (f, latlng) { return L.circleMarker(latlng, {radius: 8}); },
    onEachFeature: function (f, layer) {
      layer.bindPopup(f.properties.popup_html, {maxWidth: 340});
      layer.bindTooltip(f.properties.tooltip, {sticky: true});
    }
  }).addTo(map);
}

// ------------------------------------------------------------------ actions of the register
// Each live action's target outlined in its status colour (dashed, with an « en retard »
// badge, when late), above the buildings; off until chosen in the layer control. With a
// period chosen, only the actions whose committee or status date falls in it are drawn.
// Popups and tooltips are escaped in Python.
var AC = D.actions, actionsLayer = null;
function actionInPeriod(p) {
  if (fullPeriod()) return true;
  return (p.cm !== null && inPeriod(p.cm)) || (p.sm !== null && inPeriod(p.sm));
}
function actionsShown() {
  return AC.geojson.features.filter(function (f) { return actionInPeriod(f.properties); });
}
function fillActions() {
  actionsLayer.clearLayers();
  actionsShown().forEach(function (f) {
    var p = f.properties;
    var outline = L.geoJSON(f, {style: {color: p.c, weight: 4, opacity: 1, fillColor: p.c,
        fillOpacity: 0.18, dashArray: p.late ? "8 5" : null,
        className: "vigie-action" + (p.late ? " vigie-action-late" : "")}});
    outline.bindPopup(p.popup, {maxWidth: 380});
    outline.bindTooltip(p.tip, {sticky: true});
    actionsLayer.addLayer(outline);
    if (p.late && p.at) {
      var badge = L.marker(p.at, {keyboard: false, icon: L.divIcon({className: "vigie-late-badge",
          html: "<span>" + AC.late + "</span>", iconSize: null})});
      badge.bindPopup(p.popup, {maxWidth: 380});
      actionsLayer.addLayer(badge);
    }
  });
}
if (AC) {
  actionsLayer = L.featureGroup();
  fillActions();
}

// ------------------------------------------------------------------ basemap, outlines, KDE
var overlays = {};
if (D.basemap) {
  map.getContainer().style.background = D.basemap.land;
  var zk = function () { return Math.pow(2, map.getZoom() - 17); };
  var bmStyle = function (f) {
    var s = D.basemap.styles[f.properties.k];
    return {color: s.color, weight: Math.max(0.4, s.weight * zk()), opacity: 1,
            fill: !!s.fill, fillColor: s.fill || s.color, fillOpacity: s.fill ? 1 : 0,
            dashArray: s.dash || null, lineCap: "round", lineJoin: "round"};
  };
  var casingStyle = function (f) {
    var s = D.basemap.styles[f.properties.k];
    return {color: s.casing, weight: Math.max(1, s.weight * zk() + 2), opacity: 1, fill: false,
            lineCap: "round", lineJoin: "round"};
  };
  var common = {pane: "vigie-basemap", interactive: false, className: "vigie-basemap"};
  var casing = L.geoJSON(D.basemap.geojson, L.extend({style: casingStyle,
      filter: function (f) { return !!D.basemap.styles[f.properties.k].casing; }}, common));
  var inner = L.geoJSON(D.basemap.geojson, L.extend({style: bmStyle}, common));
  var basemap = L.layerGroup([casing, inner]).addTo(map);
  map.on("zoomend", function () { casing.setStyle(casingStyle); inner.setStyle(bmStyle); });
  overlays[D.basemap.name] = basemap;
}
if (D.perimeter) {
  overlays[D.perimeter.name] = L.rectangle(D.perimeter.bounds, {pane: "vigie-outline",
      color: "#222", weight: 2, dashArray: "8 6", fill: false, interactive: false,
      className: "vigie-perimeter"}).addTo(map);
}
if (D.chronic) {
  var chronicFeatures = D.buildings.features.filter(function (f) { return B.chronic[f.properties.i]; });
  overlays[D.chronic.name] = L.geoJSON({type: "FeatureCollection", features: chronicFeatures},
      {pane: "vigie-outline", interactive: false, className: "vigie-chronic",
       style: {color: "#111", weight: 3.5, opacity: 1, fill: false}});
}
if (notesLayer) overlays[A.name] = notesLayer;
if (actionsLayer) overlays[AC.name] = actionsLayer;
if (zonesLayer) overlays[D.zones.name] = zonesLayer;
if (D.kde) {
  overlays[D.kde.name] = L.geoJSON(D.kde.geojson, {pane: "vigie-kde", interactive: false,
      className: "vigie-kde",
      style: function (f) {
        var c = D.kde.colours[f.properties.band];
        return {color: c, weight: 1.5, opacity: 0.9, fillColor: c, fillOpacity: 0.28};
      }});
}

// ------------------------------------------------------------------ points (reports, observations)
var R = D.reports, day0 = Date.parse(D.day0 + "T00:00:00Z");
function dateOf(d) {
  var t = new Date(day0 + d * 86400000);
  var p = function (x) { return (x < 10 ? "0" : "") + x; };
  return p(t.getUTCDate()) + "/" + p(t.getUTCMonth() + 1) + "/" + t.getUTCFullYear();
}
function inPeriod(m) { return m >= state.m0 && m <= state.m1; }
function clusterIcon(colour) {
  return function (cluster) {
    var n = 0;
    cluster.getAllChildMarkers().forEach(function (mk) { n += mk.options.n || 1; });
    return L.divIcon({html: "<div style='background:" + colour + "'>" + n + "</div>",
                      className: "vigie-cluster", iconSize: [34, 34]});
  };
}
function reportPopup(i) {
  var c = D.categories[R.c[i]];
  if (R.mode === "aggregated") {
    return "<div class='vigie-popup-report'><b>" + plural(R.n[i], "signalement") + "</b> « " +
      c.label + " »<br>" + B.title[R.b[i]] + "</div>";
  }
  var where = R.b[i] === null ? "hors bâtiment" : B.title[R.b[i]];
  return "<div class='vigie-popup-report'><b>" + c.label + "</b><br>" + dateOf(R.d[i]) +
    "<br>" + where + (R.t[i] ? "<br><i>" + R.t[i] + "</i>" : "") + "</div>";
}
var catLayers = D.categories.map(function (cat, k) {
  var g = L.markerClusterGroup({iconCreateFunction: clusterIcon(cat.colour), maxClusterRadius: 45,
      showCoverageOnHover: false, chunkedLoading: true, spiderfyOnMaxZoom: true,
      disableClusteringAtZoom: 19});
  g.vigieDirty = true;
  g.on("add", function () { if (g.vigieDirty) fillCategory(k); });
  overlays[cat.name] = g;
  return g;
});
function fillCategory(k) {
  var g = catLayers[k], cat = D.categories[k], ms = [];
  for (var j = 0; j < cat.idx.length; j++) {
    var i = cat.idx[j];
    if (R.mode !== "aggregated" && !inPeriod(R.m[i])) continue;
    var n = R.mode === "aggregated" ? R.n[i] : 1;
    var mk = L.circleMarker([R.lat[i], R.lon[i]], {radius: R.mode === "aggregated" ?
        Math.min(14, 4 + 2 * Math.sqrt(n)) : 6, color: "#ffffff", weight: 1.2, fillColor: cat.colour,
        fillOpacity: 0.92, n: n, className: "vigie-report"});
    (function (ii) { mk.bindPopup(function () { return reportPopup(ii); }); })(i);
    ms.push(mk);
  }
  g.clearLayers(); g.addLayers(ms); g.vigieDirty = false;
}
var O = D.obs, obsLayer = null;
function obsPopup(i) {
  var c = O.cats[O.c[i]];
  return "<div class='vigie-popup-report'><b>Observation de terrain</b> (" + O.src[i] + ")<br>" +
    c.label + "<br>" + dateOf(O.d[i]) + (O.t[i] ? "<br><i>" + O.t[i] + "</i>" : "") + "</div>";
}
function fillObs() {
  obsLayer.clearLayers();
  var ms = [];
  for (var i = 0; i < O.lat.length; i++) {
    if (!inPeriod(O.m[i])) continue;
    var icon = L.divIcon({className: "vigie-obs", iconSize: [14, 14],
        html: "<span style='background:" + O.cats[O.c[i]].colour + "'></span>"});
    var mk = L.marker([O.lat[i], O.lon[i]], {icon: icon, keyboard: false});
    (function (ii) { mk.bindPopup(function () { return obsPopup(ii); }); })(i);
    ms.push(mk);
  }
  if (obsLayer.addLayers) obsLayer.addLayers(ms); else ms.forEach(function (mk) { obsLayer.addLayer(mk); });
}
if (O) {
  obsLayer = O.lat.length > 300 ? L.markerClusterGroup({maxClusterRadius: 30}) : L.featureGroup();
  fillObs();
  overlays[O.name] = obsLayer;
}
(D.tiles || []).forEach(function (t) {
  overlays[t.name] = L.tileLayer(t.url, {attribution: t.attribution, maxZoom: 20, maxNativeZoom: 19});
});

// ------------------------------------------------------------------ controls
var bases = {}, baseLayers = {};
D.views.forEach(function (v) { baseLayers[v.id] = L.layerGroup(); bases[v.name] = baseLayers[v.id]; });
baseLayers[state.view].addTo(map);
// The category layers are folded into one <details> of the layer control, which Leaflet
// rebuilds on every layer change: the grouping is redone after each rebuild.
var GroupedLayers = L.Control.Layers.extend({
  _update: function () {
    L.Control.Layers.prototype._update.call(this);
    if (!D.categories.length || !this._overlaysList) return;
    var self = this, box = document.createElement("details");
    box.className = "vigie-cats"; box.open = !!this._catsOpen;
    box.addEventListener("toggle", function () { self._catsOpen = box.open; });
    var summary = document.createElement("summary");
    summary.innerHTML = D.categoriesTitle;
    box.appendChild(summary);
    var labels = this._overlaysList.querySelectorAll("label");
    var first = null;
    labels.forEach(function (lab) {
      var input = lab.querySelector("input");
      var layer = input && self._getLayer(input.layerId);
      if (layer && catLayers.indexOf(layer.layer) >= 0) { if (!first) first = lab; box.appendChild(lab); }
    });
    this._overlaysList.appendChild(box);
    return this;
  }
});
var layersControl = new GroupedLayers(bases, overlays, {collapsed: false, position: "topright"});
layersControl.addTo(map);
// Named groups for a screen reader (their visible titles are drawn by map.css).
layersControl._baseLayersList.setAttribute("role", "radiogroup");
layersControl._baseLayersList.setAttribute("aria-label", "Colorer les bâtiments selon");
layersControl._overlaysList.setAttribute("role", "group");
layersControl._overlaysList.setAttribute("aria-label", "Couches");
L.control.scale({imperial: false, position: "bottomright"}).addTo(map);
// Where the drawing comes from, in French and without a link: Leaflet's own line is in
// English and links to its web site, dead in a meeting room without internet.
if (map.attributionControl) {
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution(D.credit);
}

var legendDiv;
var legend = L.control({position: "bottomleft"});
legend.onAdd = function () {
  legendDiv = L.DomUtil.create("div", "vigie-legend");
  // Named: Tab stops on it when it scrolls, and a screen reader lists it among the regions.
  legendDiv.setAttribute("role", "region");
  legendDiv.setAttribute("aria-label", "Légende de la carte");
  L.DomEvent.disableClickPropagation(legendDiv);
  L.DomEvent.disableScrollPropagation(legendDiv);
  return legendDiv;
};
legend.addTo(map);
function row(style, label, cls, n) {
  return "<div class='row'><i class='" + (cls || "") + "' style='" + style + "'></i><span>" + label +
    "</span>" + (n === undefined ? "" : "<span class='n'>" + fr(n) + "</span>") + "</div>";
}
function periodText() {
  if (fullPeriod()) return D.period;
  return "de " + D.months[state.m0] + " à " + D.months[state.m1] + " (période choisie)";
}
function viewLegend() {
  var v = VIEWS[state.view], h = "<h3>" + v.title + "</h3>";
  if (v.dynamic) {
    var cls = CLS[v.dynamic];
    if (periodText()) h += "<p>" + periodText() + "</p>";
    var any = state[v.dynamic === "count" ? "counts" : "rates"].some(function (x) { return x > 0; });
    if (any) cls.labels.forEach(function (l, k) { h += row("background:" + cls.colours[k], l); });
    h += row("background:" + D.zero, "aucun signalement");
    if (v.dynamic === "rate") h += row("", "taux inconnu (logements non connus)", "hatch");
    if (D.hidden) h += row("", D.hidden.marker + " : " + D.hidden.reason, "hatch");
  } else {
    h += "<p>Nombre de bâtiments à droite.</p>";
    v.classes.forEach(function (c) { if (c.n > 0 || v.all) h += row("background:" + c.c, c.l, "", c.n); });
    if (v.none && v.none.n > 0) h += row("background:" + v.none.c, v.none.l, "", v.none.n);
  }
  if (v.caption) h += "<p class='note'>" + v.caption + "</p>";
  return h;
}
function legendHtml() {
  var h = viewLegend(), layers = [];
  if (D.kde && map.hasLayer(overlays[D.kde.name])) {
    h += "<h4>" + D.kde.title + "</h4>";
    D.kde.labels.forEach(function (l, k) { h += row("background:" + D.kde.colours[k] + ";opacity:.75", l); });
    h += "<p class='note'>" + D.kde.caption + "</p>";
  }
  var cats = D.categories.filter(function (c, k) { return map.hasLayer(catLayers[k]); });
  if (cats.length) {
    h += "<h4>Signalements (points)</h4>";
    cats.forEach(function (c) { h += row("background:" + c.colour, c.label, "round"); });
    if (R.mode === "aggregated") h += "<p class='note'>" + R.note + "</p>";
  }
  if (O && map.hasLayer(obsLayer)) layers.push(row("background:#fff", O.label, "diamond"));
  if (notesLayer && map.hasLayer(notesLayer)) {
    A.legend.forEach(function (r) { layers.push(row(r.style, r.l, "round")); });
  }
  if (actionsLayer && map.hasLayer(actionsLayer)) {
    var shown = actionsShown(), counts = AC.legend.map(function () { return 0; });
    shown.forEach(function (f) { counts[f.properties.li] += 1; });
    h += "<h4>Actions du registre</h4>";
    AC.legend.forEach(function (r, k) {
      if (counts[k]) h += row("background:" + r.colour + ";opacity:.8", r.s, "", counts[k]);
    });
    h += row("border:2px dashed #333", AC.late + " : " + AC.lateNote);
    if (!fullPeriod()) h += "<p class='note'>" + AC.periodNote + " (" + shown.length + ")</p>";
    AC.notes.forEach(function (n) { h += "<p class='note'>" + n + "</p>"; });
  }
  if (zonesLayer && map.hasLayer(zonesLayer)) {
    layers.push(row("background:" + D.zones.fill + ";border:2px dashed " + D.zones.colour, D.zones.label));
  }
  if (D.chronic && map.hasLayer(overlays[D.chronic.name])) layers.push(row("border:0;border-top:3.5px solid #111;height:0", D.chronic.name));
  if (D.perimeter && map.hasLayer(overlays[D.perimeter.name])) layers.push(row("", D.perimeter.name, "dash"));
  if (D.basemap && D.basemap.legend && map.hasLayer(overlays[D.basemap.name])) {
    layers.push("<div class='bm'>" + D.basemap.legend + "</div>");
  }
  if (layers.length) h += "<h4>Repères</h4>" + layers.join("");
  if (D.notes.length) h += "<h4>À savoir</h4>" + D.notes.map(function (n) { return "<p class='note'>" + n + "</p>"; }).join("");
  return h;
}
function refreshLegend() { legendDiv.innerHTML = legendHtml(); }
map.on("baselayerchange", function (e) {
  for (var id in baseLayers) if (baseLayers[id] === e.layer) state.view = id;
  buildings.setStyle(buildingStyle);
  nameBuildings();
  refreshLegend();
});
map.on("overlayadd overlayremove", refreshLegend);

if (M > 1) {
  var pc = L.control({position: "topleft"});
  pc.onAdd = function () {
    var div = L.DomUtil.create("div", "vigie-period");
    L.DomEvent.disableClickPropagation(div);
    var opts = D.months.map(function (m, k) { return "<option value='" + k + "'>" + m + "</option>"; }).join("");
    // Each list has its own name (a screen reader announced « liste déroulante » alone).
    div.setAttribute("role", "group");
    div.setAttribute("aria-labelledby", "vigie-period-title");
    div.innerHTML = "<span class='title' id='vigie-period-title'>Période affichée</span>" +
      "<label for='vigie-m0'>de</label> <select id='vigie-m0' aria-label='Premier mois de la période affichée'>" +
      opts + "</select> <label for='vigie-m1'>à</label> <select id='vigie-m1' " +
      "aria-label='Dernier mois de la période affichée'>" + opts + "</select><br>" +
      "<button type='button' id='vigie-all'>Toute la période</button>";
    return div;
  };
  pc.addTo(map);
  var s0 = document.getElementById("vigie-m0"), s1 = document.getElementById("vigie-m1");
  s0.value = String(state.m0); s1.value = String(state.m1);
  var apply = function () {
    var a = Number(s0.value), b = Number(s1.value);
    if (a > b) { var t = a; a = b; b = t; s0.value = String(a); s1.value = String(b); }
    state.m0 = a; state.m1 = b;
    recompute();
    buildings.setStyle(buildingStyle);
    nameBuildings();
    catLayers.forEach(function (g, k) { g.vigieDirty = true; if (map.hasLayer(g)) fillCategory(k); });
    if (O) fillObs();
    if (actionsLayer) fillActions();
    document.getElementById("vigie-period").innerHTML = periodText();
    refreshLegend();
  };
  s0.addEventListener("change", apply); s1.addEventListener("change", apply);
  document.getElementById("vigie-all").addEventListener("click", function () {
    s0.value = "0"; s1.value = String(M - 1); apply();
  });
}
refreshLegend();
// Printed (A4 portrait or landscape), the page is laid out at the paper's size: Leaflet
// draws the map again for it around the same centre, and again for the screen after
// (before: the drawing kept the screen's size, cut on the right of a portrait page).
if (window.matchMedia) {
  var keepView = function () {
    var c = map.getCenter(), z = map.getZoom();
    map.invalidateSize({pan: false});
    map.setView(c, z, {animate: false});
  };
  var printing = window.matchMedia("print");
  if (printing.addEventListener) printing.addEventListener("change", keepView);
  else printing.addListener(keepView);
}
window.vigie = {data: D, map: map, buildings: buildings, overlays: overlays, state: state,
                zones: zonesLayer, notes: notesLayer, actions: actionsLayer,
                classes: CLS, setPeriod: function (a, b) {
                  var s0 = document.getElementById("vigie-m0"), s1 = document.getElementById("vigie-m1");
                  s0.value = String(a); s1.value = String(b); s0.dispatchEvent(new Event("change"));
                }};
document.documentElement.setAttribute("data-vigie-ready", "1");
})();
