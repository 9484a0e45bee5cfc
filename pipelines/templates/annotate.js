/* Vigie — mode « Annoter » des cartes hors ligne.
 *
 * Un urbaniste clique un bâtiment (feature.properties.building_id), une zone de point
 * chaud (feature.properties.zone_id) ou une note existante (feature.properties.note_id),
 * ou dessine un point, une ligne ou un polygone (Leaflet.draw, s'il est chargé), remplit
 * un court formulaire, puis « Exporter les notes » télécharge UN fichier GeoJSON à
 * renvoyer à l'analyste. Les notes de la séance sont gardées dans le navigateur
 * (localStorage) tant qu'elles ne sont pas intégrées à la carte.
 *
 * Sécurité : tout texte saisi est affiché avec textContent, jamais innerHTML, et sans les
 * caractères invisibles qui changent le sens de lecture (U+200E, U+200F, U+202A–U+202E,
 * U+2066–U+2069 : ceux que pipelines/markup.py retire aussi), qui retourneraient la
 * suite de la ligne.
 * Entrée : vigieAnnotate({site, tags, statuses, mapVar}).
 */
(function () {
  "use strict";

  var STORE_PREFIX = "vigie-annotations:";
  var AUTHOR_KEY = "vigie-annotations-author";

  var BIDI_CONTROLS = /[\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === "className") node.className = attrs[k];
        else node.setAttribute(k, attrs[k]);
      });
    }
    if (text !== undefined && text !== null) {
      node.textContent = String(text).replace(BIDI_CONTROLS, "");
    }
    return node;
  }

  function uuid() {
    var c = window.crypto;
    if (c && typeof c.randomUUID === "function") {
      try { return c.randomUUID(); } catch (e) { /* non-secure context: fall through */ }
    }
    var b = new Uint8Array(16);
    if (c && typeof c.getRandomValues === "function") c.getRandomValues(b);
    else for (var i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); });
    return h.slice(0, 4).join("") + "-" + h.slice(4, 6).join("") + "-" + h.slice(6, 8).join("") +
      "-" + h.slice(8, 10).join("") + "-" + h.slice(10, 16).join("");
  }

  function storage() {
    try { return window.localStorage; } catch (e) { return null; }
  }

  function frTime(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) return "";
    function p(n) { return (n < 10 ? "0" : "") + n; }
    return p(d.getDate()) + "/" + p(d.getMonth() + 1) + "/" + d.getFullYear() + " " +
      p(d.getHours()) + ":" + p(d.getMinutes());
  }

  function round6(v) { return Math.round(v * 1e6) / 1e6; }

  function roundGeometry(g) {
    function walk(c) { return typeof c[0] === "number" ? c.map(round6) : c.map(walk); }
    return {type: g.type, coordinates: walk(g.coordinates)};
  }

  var KIND_LABEL = {
    Point: "Point dessiné", LineString: "Ligne dessinée", Polygon: "Polygone dessiné"
  };

  function Annotator(map, cfg) {
    this.map = map;
    this.cfg = cfg;
    this.active = false;
    this.drawing = false;
    this.target = null;
    this.notes = [];
    this.storeKey = STORE_PREFIX + cfg.site;
    this.mapNotes = {};
    this.sessionLayer = L.featureGroup().addTo(map);
    this.hasDraw = !!(L.Control && L.Control.Draw && L.Draw && L.Draw.Event);
    this._collectMapNotes();
    this._load();
    this._buildUi();
    this._hookLayers();
    this._render();
  }

  Annotator.prototype._collectMapNotes = function () {
    var self = this;
    this.map.eachLayer(function (layer) {
      var p = layer.feature && layer.feature.properties;
      if (p && p.note_id) self.mapNotes[p.note_id] = p.updated_at || p.created_at || "";
    });
  };

  /* Notes of earlier sessions, minus those the map already shows at that version. */
  Annotator.prototype._load = function () {
    var s = storage();
    if (!s) return;
    var raw = null;
    try { raw = JSON.parse(s.getItem(this.storeKey) || "[]"); } catch (e) { raw = []; }
    var self = this;
    this.notes = (Array.isArray(raw) ? raw : []).filter(function (f) {
      var p = f && f.properties;
      if (!p || !p.note_id) return false;
      var onMap = self.mapNotes[p.note_id];
      // Kept unless the map already shows this version (or a newer one) of the note.
      return onMap === undefined || Date.parse(p.updated_at || p.created_at) > Date.parse(onMap);
    });
    this._save();
  };

  Annotator.prototype._save = function () {
    var s = storage();
    if (!s) return;
    try { s.setItem(this.storeKey, JSON.stringify(this.notes)); } catch (e) { /* quota, private mode */ }
  };

  Annotator.prototype._buildUi = function () {
    var self = this;
    var Toggle = L.Control.extend({
      options: {position: "topleft"},
      onAdd: function () {
        var box = el("div", {className: "leaflet-bar vigie-annot-toggle"});
        var button = el("button", {type: "button", "aria-pressed": "false",
          title: "Ajouter des notes sur la carte"}, "Annoter");
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.on(button, "click", function () { self.setActive(!self.active); });
        box.appendChild(button);
        self.toggleButton = button;
        return box;
      }
    });
    this.map.addControl(new Toggle());

    var panel = el("aside", {className: "vigie-annot-panel", "aria-label": "Notes de la séance"});
    panel.hidden = true;
    L.DomEvent.disableClickPropagation(panel);
    L.DomEvent.disableScrollPropagation(panel);
    var head = el("h2", null, "Mode annotation");
    this.help = el("p", {className: "vigie-annot-help"});
    this.help.textContent = "Cliquez un bâtiment, une zone ou une note" +
      (this.hasDraw ? ", ou dessinez un point, une ligne ou un polygone (outils à gauche)." :
        ". (Outils de dessin indisponibles : Leaflet.draw n'est pas chargé.)");
    this.formBox = el("div", {className: "vigie-annot-form-box"});
    this.status = el("p", {className: "vigie-annot-status", role: "status"});
    var listHead = el("h3");
    this.count = el("span", null, "0");
    listHead.appendChild(document.createTextNode("Notes de la séance ("));
    listHead.appendChild(this.count);
    listHead.appendChild(document.createTextNode(")"));
    this.list = el("ol", {className: "vigie-annot-list"});
    var actions = el("div", {className: "vigie-annot-actions"});
    this.exportButton = el("button", {type: "button", className: "vigie-annot-export"},
      "Exporter les notes");
    L.DomEvent.on(this.exportButton, "click", function () { self.exportNotes(); });
    var clear = el("button", {type: "button", className: "vigie-annot-clear"}, "Vider la liste");
    L.DomEvent.on(clear, "click", function () {
      if (!self.notes.length) return;
      if (window.confirm("Retirer les " + self.notes.length + " notes de la séance ? " +
          "Exportez-les d'abord si elles ne l'ont pas été.")) {
        self.notes = [];
        self._save();
        self._render();
      }
    });
    actions.appendChild(this.exportButton);
    actions.appendChild(clear);
    [head, this.help, this.formBox, this.status, listHead, this.list, actions].forEach(
      function (n) { panel.appendChild(n); });
    // Right after the map: in a narrow window (map_reflow.js, body.vigie-narrow), the
    // panel leaves its fixed place for the page's flow, under the map (annotate.css).
    var container = this.map.getContainer();
    container.parentNode.insertBefore(panel, container.nextSibling);
    this.panel = panel;
    this.map.on("resize", function () { self._place(); });

    if (this.hasDraw) {
      var local = L.drawLocal.draw;
      local.toolbar.buttons.polyline = "Dessiner une ligne";
      local.toolbar.buttons.polygon = "Dessiner un polygone";
      local.toolbar.buttons.marker = "Placer un point";
      local.toolbar.actions.text = "Annuler";
      local.toolbar.actions.title = "Annuler le dessin";
      local.toolbar.finish.text = "Terminer";
      local.toolbar.finish.title = "Terminer le dessin";
      local.toolbar.undo.text = "Effacer le dernier point";
      local.toolbar.undo.title = "Effacer le dernier point";
      local.handlers.marker.tooltip.start = "Cliquez pour placer le point.";
      local.handlers.polyline.tooltip.start = "Cliquez pour commencer la ligne.";
      local.handlers.polyline.tooltip.cont = "Cliquez pour continuer la ligne.";
      local.handlers.polyline.tooltip.end = "Cliquez le dernier point pour terminer.";
      local.handlers.polygon.tooltip.start = "Cliquez pour commencer le polygone.";
      local.handlers.polygon.tooltip.cont = "Cliquez pour continuer le polygone.";
      local.handlers.polygon.tooltip.end = "Cliquez le premier point pour fermer le polygone.";
      this.drawControl = new L.Control.Draw({
        position: "topleft",
        draw: {
          polyline: {shapeOptions: {color: "#7b3294", weight: 4}},
          polygon: {allowIntersection: false, showArea: false,
            shapeOptions: {color: "#7b3294", weight: 3}},
          marker: true, rectangle: false, circle: false, circlemarker: false
        },
        edit: false
      });
      this.map.on(L.Draw.Event.DRAWSTART, function () { self.drawing = true; });
      this.map.on(L.Draw.Event.DRAWSTOP, function () { self.drawing = false; });
      this.map.on(L.Draw.Event.CREATED, function (e) {
        self.drawing = false;
        if (!self.active) return;
        var geometry = roundGeometry(e.layer.toGeoJSON().geometry);
        self.openForm({kind: "dessin", geometry: geometry, layer: e.layer,
          label: KIND_LABEL[geometry.type] || "Tracé"});
      });
    }
    // Fallback for popups bound after the mode was entered.
    this.map.on("popupopen", function (e) {
      if (self.active) self.map.closePopup(e.popup);
    });
  };

  /* Feature clicks: on the layers there now and on those added later (hidden overlays). */
  Annotator.prototype._hookLayers = function () {
    var self = this;
    function hook(layer) {
      var p = layer.feature && layer.feature.properties;
      if (!p || layer._vigieAnnotate) return;
      if (!(p.note_id || p.building_id || p.zone_id)) return;
      layer._vigieAnnotate = true;
      layer.on("click", function (e) { self._onFeatureClick(layer, e); });
    }
    this.map.eachLayer(hook);
    this.map.on("layeradd", function (e) { hook(e.layer); });
  };

  Annotator.prototype._onFeatureClick = function (layer, e) {
    if (!this.active || this.drawing) return;
    if (this._claimed === e.originalEvent) return; // one target per click
    this._claimed = e.originalEvent;
    var p = layer.feature.properties;
    if (p.note_id) {
      this.openForm({kind: "note", existing: p, geometry: layer.feature.geometry,
        label: "Note existante (" + (p.tag || "") + ")"});
    } else {
      var where = {type: "Point", coordinates: [round6(e.latlng.lng), round6(e.latlng.lat)]};
      if (p.building_id) {
        this.openForm({kind: "bâtiment", building_id: String(p.building_id),
          zone_id: p.zone_id ? String(p.zone_id) : null, geometry: where,
          label: "Bâtiment " + p.building_id});
      } else {
        this.openForm({kind: "zone", zone_id: String(p.zone_id), geometry: where,
          label: "Zone " + p.zone_id});
      }
    }
  };

  /* Where the panel goes over the map, covering no control: between the controls of the
   * map's left corners (zoom, period, « Annoter », drawing tools, legend) and those of its
   * right corners (layers), as wide as that room allows up to 320 px; where less than
   * 240 px are left, under the right corners' controls instead. In a narrow window the
   * page's flow places it (annotate.css), so nothing is set here. */
  Annotator.prototype._place = function () {
    var panel = this.panel, style = panel.style;
    var container = this.map.getContainer(), box = container.getBoundingClientRect();
    var legend = container.querySelector(".leaflet-bottom.leaflet-left .vigie-legend");
    style.left = style.right = style.top = style.width = style.maxHeight = "";
    if (legend) legend.style.maxHeight = "";
    if (!this.active || document.body.classList.contains("vigie-narrow")) return;
    // The drawing tools lengthen the top left column: the legend below it, in the bottom
    // left corner, scrolls within what is left (before: it hid « Placer un point » on a
    // 1 280 × 720 screen).
    var column = container.querySelectorAll(".leaflet-top.leaflet-left .leaflet-control");
    if (legend && column.length) {
      var under = column[column.length - 1].getBoundingClientRect().bottom + 10;
      var over = legend.getBoundingClientRect(), frame = over.height - legend.clientHeight;
      if (over.top < under) {
        legend.style.maxHeight = Math.max(60, over.bottom - under - frame - 14) + "px";
      }
    }
    function edges(selector) {
      return Array.prototype.map.call(container.querySelectorAll(selector), function (e) {
        return e.getBoundingClientRect();
      }).filter(function (r) { return r.width > 0 && r.height > 0; });
    }
    var left = edges(".leaflet-left .leaflet-control"), right = edges(".leaflet-right .leaflet-control");
    var from = Math.max.apply(null, [box.left].concat(left.map(function (r) { return r.right; }))) + 10;
    var to = Math.min.apply(null, [box.right].concat(right.filter(function (r) {
      return r.top < box.top + box.height / 2;  // the layers, not the scale at the bottom
    }).map(function (r) { return r.left; }))) - 10;
    var top = box.top + 10, bottom = box.bottom - 40;  // above the scale and the credits
    if (to - from >= 240) {
      style.left = from + "px";
      style.width = Math.min(320, to - from) + "px";
    } else {
      style.right = (window.innerWidth - box.right + 10) + "px";
      style.width = Math.min(320, box.right - from - 10) + "px";
      top = Math.max.apply(null, [top].concat(right.map(function (r) {
        return r.top < box.top + box.height / 2 ? r.bottom + 10 : top;
      })));
    }
    style.top = top + "px";
    style.maxHeight = Math.max(120, bottom - top) + "px";
  };

  Annotator.prototype.setActive = function (on) {
    this.active = !!on;
    this.toggleButton.setAttribute("aria-pressed", this.active ? "true" : "false");
    this.toggleButton.textContent = this.active ? "Quitter l'annotation" : "Annoter";
    this.panel.hidden = !this.active;
    this.map.getContainer().classList.toggle("vigie-annotating", this.active);
    if (this.drawControl) {
      if (this.active) this.map.addControl(this.drawControl);
      else this.map.removeControl(this.drawControl);
    }
    this._place();  // once the drawing tools are in the left corner
    if (this.active) {
      this.map.closePopup();
      this._suspendPopups();
    } else {
      this._restorePopups();
      this.closeForm();
    }
  };

  function carriesIds(layer) {
    var p = layer.feature && layer.feature.properties;
    if (p) return !!(p.note_id || p.building_id || p.zone_id);
    return typeof layer.getLayers === "function" && layer.getLayers().some(carriesIds);
  }

  /* While annotating, a click on a feature opens the form, not its popup: unbind the
   * popups of the annotatable layers (folium binds them on the GeoJSON group) and bind
   * them back when the mode is left. */
  Annotator.prototype._suspendPopups = function () {
    var suspended = this.suspended = [];
    this.map.eachLayer(function (layer) {
      if (typeof layer.getPopup !== "function" || !layer.getPopup()) return;
      if (!carriesIds(layer)) return;
      suspended.push([layer, layer.getPopup()]);
      layer.unbindPopup();
    });
  };

  Annotator.prototype._restorePopups = function () {
    (this.suspended || []).forEach(function (pair) { pair[0].bindPopup(pair[1]); });
    this.suspended = [];
  };

  Annotator.prototype.closeForm = function () {
    if (this.target && this.target.layer && !this.target.saved) {
      this.map.removeLayer(this.target.layer);
    }
    this.target = null;
    this.formBox.textContent = "";
  };

  Annotator.prototype.openForm = function (target) {
    var self = this;
    this.closeForm();
    this.target = target;
    if (target.layer) target.layer.addTo(this.map);
    var s = storage();
    var existing = target.existing || {};
    var form = el("form", {className: "vigie-annot-form", novalidate: "novalidate"});
    form.appendChild(el("h3", null, target.kind === "note" ? "Modifier la note" : "Nouvelle note"));
    form.appendChild(el("p", {className: "vigie-annot-target"}, "Sur : " + target.label));

    function field(id, label, input) {
      var wrap = el("div", {className: "vigie-annot-field"});
      var lab = el("label", {"for": id}, label);
      input.id = id;
      wrap.appendChild(lab);
      wrap.appendChild(input);
      form.appendChild(wrap);
      return input;
    }
    function select(options, value) {
      var node = el("select");
      options.forEach(function (o) {
        var opt = el("option", {value: o}, o);
        if (o === value) opt.selected = true;
        node.appendChild(opt);
      });
      return node;
    }
    var author = field("vigie-annot-author", "Auteur",
      el("input", {type: "text", maxlength: "80", autocomplete: "name"}));
    author.value = existing.author || (s && s.getItem(AUTHOR_KEY)) || "";
    var text = field("vigie-annot-text", "Texte", el("textarea", {rows: "4", maxlength: "2000"}));
    text.value = existing.text || "";
    var tag = field("vigie-annot-tag", "Étiquette", select(this.cfg.tags, existing.tag));
    var statuses = this.cfg.statuses.filter(function (x) {
      return target.kind === "note" || x !== "supprimé";
    });
    var status = field("vigie-annot-status", "Statut", select(statuses, existing.status));
    var error = el("p", {className: "vigie-annot-error", role: "alert"});
    form.appendChild(error);
    var buttons = el("div", {className: "vigie-annot-buttons"});
    var save = el("button", {type: "submit", className: "vigie-annot-save"}, "Enregistrer");
    var cancel = el("button", {type: "button", className: "vigie-annot-cancel"}, "Annuler");
    buttons.appendChild(save);
    buttons.appendChild(cancel);
    form.appendChild(buttons);
    L.DomEvent.on(cancel, "click", function () { self.closeForm(); });
    L.DomEvent.on(form, "keydown", function (e) { if (e.key === "Escape") self.closeForm(); });
    L.DomEvent.on(form, "submit", function (e) {
      L.DomEvent.preventDefault(e);
      var a = author.value.trim();
      var t = text.value.trim();
      if (!a) { error.textContent = "Indiquez votre nom (auteur)."; author.focus(); return; }
      if (!t) { error.textContent = "Écrivez le texte de la note."; text.focus(); return; }
      if (s) { try { s.setItem(AUTHOR_KEY, a); } catch (err) { /* ignore */ } }
      self.addNote(target, {author: a, text: t, tag: tag.value, status: status.value});
    });
    this.formBox.appendChild(form);
    text.focus();
  };

  Annotator.prototype.addNote = function (target, values) {
    var now = new Date().toISOString();
    var p;
    if (target.kind === "note") {
      var old = target.existing;
      p = {
        note_id: old.note_id, site: this.cfg.site, created_at: old.created_at, updated_at: now,
        building_id: old.building_id || null, zone_id: old.zone_id || null
      };
    } else {
      p = {
        note_id: uuid(), site: this.cfg.site, created_at: now, updated_at: null,
        building_id: target.building_id || null, zone_id: target.zone_id || null
      };
    }
    p.author = values.author;
    p.text = values.text;
    p.tag = values.tag;
    p.status = values.status;
    p.target = target.label;
    var feature = {type: "Feature", properties: p, geometry: target.geometry || null};
    // A second edit of the same note in this session replaces the first.
    this.notes = this.notes.filter(function (f) { return f.properties.note_id !== p.note_id; });
    this.notes.push(feature);
    target.saved = true;
    if (target.layer) this.map.removeLayer(target.layer);
    this._save();
    this.closeForm();
    this.status.textContent = "Note enregistrée (" + this.notes.length +
      " dans la séance). Pensez à les exporter.";
    this._render();
  };

  Annotator.prototype.removeNote = function (noteId) {
    this.notes = this.notes.filter(function (f) { return f.properties.note_id !== noteId; });
    this._save();
    this._render();
  };

  Annotator.prototype._render = function () {
    var self = this;
    this.count.textContent = String(this.notes.length);
    this.exportButton.disabled = this.notes.length === 0;
    this.list.textContent = "";
    this.sessionLayer.clearLayers();
    this.notes.forEach(function (f) {
      var p = f.properties;
      var item = el("li", {className: "vigie-annot-item", "data-note-id": p.note_id});
      var head = el("div", {className: "vigie-annot-item-head"});
      head.appendChild(el("b", null, p.tag));
      head.appendChild(document.createTextNode(" · " + p.status + " · " + (p.target || "")));
      item.appendChild(head);
      item.appendChild(el("div", {className: "vigie-annot-item-text"}, p.text));
      item.appendChild(el("div", {className: "vigie-annot-item-meta"},
        p.author + ", " + frTime(p.updated_at || p.created_at)));
      var remove = el("button", {type: "button", className: "vigie-annot-remove",
        title: "Retirer cette note de la séance"}, "Retirer");
      L.DomEvent.on(remove, "click", function () { self.removeNote(p.note_id); });
      item.appendChild(remove);
      self.list.appendChild(item);
      if (f.geometry) {
        var shape = L.geoJSON(f, {
          pointToLayer: function (feat, latlng) {
            return L.circleMarker(latlng, {radius: 7, color: "#7b3294", weight: 3,
              fillOpacity: 0.6, className: "vigie-annot-session"});
          },
          style: function () {
            return {color: "#7b3294", weight: 3, dashArray: "4 4", className: "vigie-annot-session"};
          }
        });
        var tip = el("span", null, p.tag + " : " + p.text);
        shape.bindTooltip(tip);
        self.sessionLayer.addLayer(shape);
      }
    });
  };

  Annotator.prototype.exportNotes = function () {
    if (!this.notes.length) {
      this.status.textContent = "Aucune note à exporter.";
      return null;
    }
    var stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
    var site = String(this.cfg.site).replace(/[^A-Za-z0-9_-]/g, "_");
    var name = "annotations_" + site + "_" + stamp + ".geojson";
    var fields = ["note_id", "site", "author", "text", "tag", "status", "created_at",
      "updated_at", "building_id", "zone_id"];
    var features = this.notes.map(function (f) {
      var props = {};
      fields.forEach(function (k) {
        var v = f.properties[k];
        if (v !== null && v !== undefined && v !== "") props[k] = v;
      });
      return {type: "Feature", properties: props, geometry: f.geometry};
    });
    var data = {
      type: "FeatureCollection",
      name: "annotations_" + site,
      vigie: {format: "vigie-annotations", version: 1, site: this.cfg.site,
        exported_at: new Date().toISOString()},
      features: features
    };
    var blob = new Blob([JSON.stringify(data, null, 1)], {type: "application/geo+json"});
    var url = URL.createObjectURL(blob);
    var a = el("a", {href: url, download: name});
    a.style.display = "none";
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(url); a.remove(); }, 1000);
    this.status.textContent = features.length + " note(s) exportée(s) dans « " + name +
      " » : envoyez ce fichier à l'analyste.";
    return name;
  };

  window.vigieAnnotate = function (cfg) {
    function start() {
      var map = window[cfg.mapVar];
      if (!window.L || !map) {
        if (window.console) console.warn("vigie: carte " + cfg.mapVar + " introuvable, annotation désactivée");
        return;
      }
      window.vigieAnnotator = new Annotator(map, cfg);
    }
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
    else start();
  };
})();
