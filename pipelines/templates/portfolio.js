// The portfolio page (pipelines/maps/portfolio.py): table, sort, filters, sparklines and
// the perimeters' map, from the JSON block #vigie-portfolio. Text goes in as text nodes
// (textContent), never as HTML.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("vigie-portfolio").textContent);
  var SVG = "http://www.w3.org/2000/svg";
  var PALETTE = ["#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"];
  var sortKey = null;
  var sortDir = 1;

  function fr(x, decimals) {
    return x.toLocaleString("fr-FR", {
      minimumFractionDigits: decimals,
      maximumFractionDigits: decimals,
    });
  }

  // « 2024-T1 » (the tables' value, kept in data-quarter) as French usage writes it:
  // « T1 2024 »; any other text as it is.
  function frQuarter(quarter) {
    var m = /^(\d{4})-?T([1-4])$/.exec(quarter || "");
    return m ? "T" + m[2] + " " + m[1] : quarter;
  }

  function value(site, key) {
    if (key === "watch") {
      return site.watch_rank; // by severity, not by name
    }
    if (key === "name" || key === "trend") {
      return site[key];
    }
    var c = site.cells[key];
    return c ? c.v : null;
  }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) {
      e.textContent = text;
    }
    if (cls) {
      e.className = cls;
    }
    return e;
  }

  function sparkline(values, quarters) {
    var svg = document.createElementNS(SVG, "svg");
    var w = 90;
    var h = 24;
    svg.setAttribute("width", w);
    svg.setAttribute("height", h);
    svg.setAttribute("class", "sparkline");
    var shown = values.filter(function (v) { return v !== null; });
    if (shown.length < 2) {
      return svg;
    }
    var max = Math.max.apply(null, shown);
    var min = Math.min.apply(null, shown);
    var span = max - min || 1;
    var step = values.length > 1 ? (w - 4) / (values.length - 1) : 0;
    var d = "";
    var pen = "M";
    values.forEach(function (v, i) {
      if (v === null) {
        pen = "M"; // a hidden quarter breaks the line
        return;
      }
      var x = 2 + i * step;
      var y = h - 2 - ((v - min) / span) * (h - 4);
      d += pen + x.toFixed(1) + "," + y.toFixed(1);
      pen = "L";
    });
    var path = document.createElementNS(SVG, "path");
    path.setAttribute("d", d);
    path.setAttribute("fill", "none");
    path.setAttribute("stroke", "#555");
    svg.appendChild(path);
    var title = document.createElementNS(SVG, "title");
    title.textContent = "Signalements par trimestre : " + values.map(function (v, i) {
      var n = v === null ? "s" : fr(v, 0);
      return quarters && quarters[i] ? frQuarter(quarters[i]) + " : " + n : n;
    }).join(" ; ");
    svg.appendChild(title);
    return svg;
  }

  function cell(site, ind) {
    var td = el("td", null, "n");
    var c = site.cells[ind.key];
    if (c && c.s) {
      td.appendChild(el("span", "s", "hidden-value"));
      td.title = "valeur masquée (secret statistique)";
    } else if (!c || c.v === null) {
      td.appendChild(el("span", "—", "absent"));
      td.title = "non calculable";
    } else {
      td.appendChild(document.createTextNode(fr(c.v, ind.decimals)));
      if (c.d !== null) {
        var sign = c.d > 0 ? "+" : c.d < 0 ? "−" : "±";
        td.appendChild(el("span", sign + fr(Math.abs(c.d), ind.decimals) + " vs trim. préc.", "delta"));
      }
    }
    return td;
  }

  function link(text, href) {
    var a = el("a", text);
    a.setAttribute("href", href);
    return a;
  }

  function row(site) {
    var tr = el("tr");
    tr.setAttribute("data-site", site.id);
    var name = el("td");
    name.appendChild(site.map ? link(site.name, site.map) : el("span", site.name));
    if (site.simulated) {
      name.appendChild(el("span", " données simulées", "badge"));
    }
    if (site.mark) {
      name.appendChild(el("span", site.mark, "mark")); // no report, or no building
    }
    tr.appendChild(name);
    var quarter = el("td", site.quarter ? frQuarter(site.quarter) : "—");
    if (site.quarter) {
      quarter.setAttribute("data-quarter", site.quarter);
    }
    tr.appendChild(quarter);
    data.indicators.forEach(function (ind) { tr.appendChild(cell(site, ind)); });
    tr.appendChild(el("td", site.trend || "non calculée"));
    var watch = el("td", site.watch, site.watch ? "watch-" + site.watch : "");
    if (site.watch) {
      watch.appendChild(el("span", site.watch_by, "delta"));
    } else if (site.watch_hidden) {
      watch.appendChild(el("span", "s", "hidden-value"));
      watch.title = "niveau proposé masqué (secret statistique)";
    } else {
      watch.appendChild(el("span", "—", "absent"));
    }
    if (site.watch_reason) {
      watch.title = "Proposition de l'outil : " + site.watch_reason;
    }
    if (site.entrances && site.entrances.length) {
      var n = site.entrances.length;
      watch.appendChild(el("span", n + (n > 1 ? " entrées" : " entrée") + " en veille", "delta"));
      watch.title += "\nEntrées : " + site.entrances.map(function (e) {
        return e.label + " (" + e.level + ", " + e.by + ")";
      }).join(" ; ");
    }
    tr.appendChild(watch);
    var spark = el("td");
    spark.appendChild(sparkline(site.spark, site.quarters));
    tr.appendChild(spark);
    var docs = el("td");
    if (site.pack) {
      docs.appendChild(link("Dossier du comité", site.pack));
      docs.appendChild(document.createTextNode(" · "));
    }
    if (site.note) {
      docs.appendChild(link("Méthode des indicateurs", site.note));
    }
    tr.appendChild(docs);
    return tr;
  }

  // Lower case without accents or ligatures: « ecluse » finds « Écluse », « oeuvre »
  // finds « Œuvre ».
  function folded(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
      .replace(/œ/g, "oe").replace(/æ/g, "ae");
  }

  function visible(site) {
    var q = folded(document.getElementById("filter-name").value.trim());
    var w = document.getElementById("filter-watch").value;
    return folded(site.name).indexOf(q) >= 0 && (!w || site.watch === w);
  }

  function compare(a, b) {
    var x = value(a, sortKey);
    var y = value(b, sortKey);
    if (x === null || x === undefined) { return (y === null || y === undefined) ? 0 : 1; }
    if (y === null || y === undefined) { return -1; } // absent values last, both ways
    if (typeof x === "string") { return sortDir * x.localeCompare(y, "fr"); }
    return sortDir * (x - y);
  }

  function draw() {
    var body = document.querySelector("#sites tbody");
    while (body.firstChild) { body.removeChild(body.firstChild); }
    var sites = data.sites.slice();
    if (sortKey) { sites.sort(compare); }
    sites.filter(visible).forEach(function (s) { body.appendChild(row(s)); });
    drawMap();
  }

  function drawMap() {
    var key = document.getElementById("map-indicator").value;
    var holder = document.getElementById("map");
    while (holder.firstChild) { holder.removeChild(holder.firstChild); }
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 " + data.map.width + " " + data.map.height);
    svg.setAttribute("width", data.map.width);
    svg.setAttribute("height", data.map.height);
    var values = data.sites.map(function (s) { return value(s, key); })
      .filter(function (v) { return v !== null && v !== undefined; });
    var min = Math.min.apply(null, values);
    var max = Math.max.apply(null, values);
    data.sites.filter(visible).forEach(function (site) {
      if (!site.path) { return; }
      var v = value(site, key);
      var p = document.createElementNS(SVG, "path");
      p.setAttribute("d", site.path);
      p.setAttribute("data-site", site.id);
      var colour = "#ffffff";
      if (v !== null && v !== undefined) {
        var k = max > min ? Math.floor(((v - min) / (max - min)) * (PALETTE.length - 1e-9)) : 0;
        colour = PALETTE[k];
      }
      p.setAttribute("fill", colour);
      var title = document.createElementNS(SVG, "title");
      var c = site.cells[key];
      title.textContent = site.name + " : " + (c && c.s ? "s" : v === null || v === undefined ? "—" : fr(v, 2));
      p.appendChild(title);
      if (site.map) {
        // A link, not a click handler: Tab reaches the shape and Enter opens the site's
        // map, as the table's links do (before: the mouse only).
        var a = document.createElementNS(SVG, "a");
        a.setAttribute("href", site.map);
        a.setAttribute("aria-label", title.textContent + " (ouvrir la carte du site)");
        a.appendChild(p);
        svg.appendChild(a);
      } else {
        svg.appendChild(p);
      }
    });
    holder.appendChild(svg);
    document.getElementById("map-legend").textContent = values.length
      ? "Du plus clair (" + fr(min, 2) + ") au plus foncé (" + fr(max, 2) + ") ; blanc : masqué ou non calculable."
      : "Aucune valeur à représenter.";
  }

  Array.prototype.forEach.call(document.querySelectorAll("th.sortable"), function (th) {
    // Reachable and usable from the keyboard: Tab to the header, Enter or Space sorts.
    th.tabIndex = 0;
    th.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        th.click();
      }
    });
    th.addEventListener("click", function () {
      var key = th.getAttribute("data-key");
      sortDir = sortKey === key ? -sortDir : 1;
      sortKey = key;
      Array.prototype.forEach.call(document.querySelectorAll("th.sortable"), function (o) {
        o.removeAttribute("aria-sort");
      });
      th.setAttribute("aria-sort", sortDir > 0 ? "ascending" : "descending");
      draw();
    });
  });
  document.getElementById("filter-name").addEventListener("input", draw);
  document.getElementById("filter-watch").addEventListener("change", draw);
  document.getElementById("map-indicator").addEventListener("change", drawMap);
  draw();
})();
