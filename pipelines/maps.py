"""Meeting maps: one self-contained, offline Folium map per site, and the index page.

Every text that came from a resident or a file is escaped with :func:`html.escape` before
it is put into HTML; Folium leaves that to its users. All JavaScript and CSS are inlined
from pinned packages (:mod:`pipelines._assets`), so a map opens with no network.
"""

from __future__ import annotations

import html
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import Element
from folium.plugins import FastMarkerCluster

from pipelines import __version__
from pipelines.config import Config, SiteConfig
from pipelines.crs import WGS84
from pipelines.paths import SitePaths
from pipelines.taxonomy import BY_CODE, CODES

log = logging.getLogger(__name__)

#: ColorBrewer YlOrRd (5 classes): sequential and colour-blind safe; grey for zero.
PALETTE = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
ZERO_COLOUR = "#d9d9d9"

#: Marker colours per category: Okabe-Ito and Tol's qualitative palettes (colour-blind safe).
CATEGORY_COLOURS: dict[str, str] = {
    "ascenseur": "#0072B2",
    "eau_fuite": "#56B4E9",
    "chauffage": "#D55E00",
    "electricite_eclairage": "#F0E442",
    "nuisibles": "#8C510A",
    "proprete": "#009E73",
    "encombrants": "#CC79A7",
    "degradation": "#E69F00",
    "securite_acces": "#332288",
    "occupation": "#AA4499",
    "espaces_exterieurs": "#44AA99",
    "stationnement": "#888888",
    "autre": "#000000",
}

ATTRIBUTIONS: dict[str, str] = {
    "osm": "Bâtiments et fond de plan © les contributeurs d'OpenStreetMap (ODbL 1.0)",
    "ban": "Adresses : Base Adresse Nationale (Licence Ouverte 2.0, Etalab)",
    "rpls": "Logements sociaux : RPLS (Licence Ouverte)",
    "dansmarue": "Signalements : « Dans ma rue », Ville de Paris (ODbL)",
}


def esc(value: object) -> str:
    """Escape any value for HTML text or attribute; missing values become ''."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    return html.escape(str(value), quote=True)


@dataclass(frozen=True)
class Classes:
    """Class bounds for a choropleth of counts."""

    bounds: tuple[int, ...]  # lower bounds of each class, first is 1
    labels: tuple[str, ...]
    colours: tuple[str, ...]

    def colour(self, value: float) -> str:
        """Colour of a count (grey for zero or missing)."""
        if not value or np.isnan(value):
            return ZERO_COLOUR
        idx = int(np.searchsorted(np.asarray(self.bounds), value, side="right")) - 1
        return self.colours[max(0, min(idx, len(self.colours) - 1))]


def count_classes(values: pd.Series, *, n_classes: int = 5) -> Classes:
    """Class bounds from the quantiles of the non-zero counts, rounded to integers.

    Returns at most ``n_classes`` classes with distinct integer lower bounds; labels in
    French ("1 à 2", "3 à 5", "21 et plus").
    """
    v = pd.to_numeric(values, errors="coerce").fillna(0)
    nonzero = np.sort(v[v > 0].to_numpy())
    if len(nonzero) == 0:
        return Classes((1,), ("1 et plus",), PALETTE[-1:])
    qs = np.quantile(nonzero, np.linspace(0, 1, n_classes + 1)[:-1])
    bounds = sorted({max(1, int(np.floor(q))) for q in qs} | {1})
    top = int(nonzero.max())
    labels = []
    for i, lo in enumerate(bounds):
        hi = bounds[i + 1] - 1 if i + 1 < len(bounds) else None
        if hi is None:
            labels.append(f"{lo} et plus" if lo < top else f"{lo}")
        elif hi == lo:
            labels.append(f"{lo}")
        else:
            labels.append(f"{lo} à {hi}")
    colours = PALETTE[-len(bounds):] if len(bounds) < len(PALETTE) else PALETTE
    return Classes(tuple(bounds), tuple(labels), tuple(colours))


def building_fact_sheet(row: pd.Series) -> str:
    """The popup of a building: escaped HTML, never personal data."""
    parts = [f"<div class='fiche'><h4>Bâtiment {esc(row.get('building_id'))}</h4>"]
    name = row.get("name")
    if isinstance(name, str) and name:
        parts.append(f"<p><b>{esc(name)}</b></p>")
    addr = " ".join(
        str(row.get(c)) for c in ("addr_housenumber", "addr_street") if isinstance(row.get(c), str)
    )
    if addr:
        parts.append(f"<p>{esc(addr)}</p>")
    dwellings = row.get("dwellings")
    if dwellings is not None and not pd.isna(dwellings):
        src = "RPLS" if row.get("dwellings_source") == "rpls" else "OSM"
        parts.append(f"<p>Logements : {int(dwellings)} (source {src})</p>")
    parts.append(f"<p><b>{int(row.get('n_reports', 0))}</b> signalement(s)</p>")
    lines = [
        f"<tr><td>{esc(BY_CODE[c].label)}</td><td>{int(row.get(f'n_{c}', 0))}</td></tr>"
        for c in CODES
        if int(row.get(f"n_{c}", 0) or 0) > 0
    ]
    if lines:
        parts.append("<table>" + "".join(lines) + "</table>")
    rate = row.get("reports_per_100_dwellings")
    if rate is not None and not pd.isna(rate):
        parts.append(f"<p>{rate:.1f} signalements pour 100 logements</p>")
    parts.append("</div>")
    return "".join(parts)


def _header_footer(site_name: str, period: str, simulated: bool, attributions: list[str]) -> str:
    badge = (
        "<span class='vigie-badge' title='Signalements produits par un simulateur documenté'>"
        "données simulées</span>"
        if simulated
        else ""
    )
    sources = " · ".join(esc(ATTRIBUTIONS.get(a, a)) for a in attributions)
    return f"""
<style>
  .vigie-header {{position:fixed;top:0;left:0;right:0;z-index:1000;background:#fff;
    font:15px/1.3 system-ui,sans-serif;padding:6px 12px;border-bottom:1px solid #999}}
  .vigie-header h1 {{font-size:18px;margin:0;display:inline}}
  .vigie-badge {{background:#b00020;color:#fff;border-radius:4px;padding:2px 8px;
    margin-left:10px;font-weight:bold;text-transform:uppercase;font-size:13px}}
  .vigie-footer {{position:fixed;bottom:0;left:0;right:0;z-index:1000;background:#fff;
    font:12px system-ui,sans-serif;padding:4px 12px;border-top:1px solid #999}}
  .folium-map {{top:40px !important;bottom:26px !important;height:auto !important}}
  .vigie-legend {{background:#fff;padding:8px 10px;font:13px system-ui,sans-serif;
    border:1px solid #999;border-radius:4px;line-height:1.5}}
  .vigie-legend i {{display:inline-block;width:14px;height:14px;margin-right:6px;
    vertical-align:middle;border:1px solid #666}}
  .fiche table {{border-collapse:collapse}} .fiche td {{padding:1px 6px;border-bottom:1px solid #eee}}
</style>
<div class="vigie-header"><h1>Vigie · {esc(site_name)}</h1> <span>{esc(period)}</span>{badge}</div>
<div class="vigie-footer">Sources : {sources} · Vigie {esc(__version__)}</div>
"""


def _legend(classes: Classes, map_name: str) -> str:
    rows = [f"<div><i style='background:{ZERO_COLOUR}'></i>aucun</div>"]
    rows += [
        f"<div><i style='background:{c}'></i>{esc(lab)}</div>"
        for c, lab in zip(classes.colours, classes.labels, strict=True)
    ]
    body = "<b>Signalements par bâtiment</b>" + "".join(rows)
    return f"""
<script>
document.addEventListener("DOMContentLoaded", function () {{
  var legend = L.control({{position: "bottomright"}});
  legend.onAdd = function () {{
    var div = L.DomUtil.create("div", "vigie-legend");
    div.innerHTML = {json.dumps(body)};
    return div;
  }};
  legend.addTo({map_name});
}});
</script>
"""


_MARKER_CALLBACK = """
function (row) {
    var marker = L.circleMarker(new L.LatLng(row[0], row[1]),
        {radius: 6, color: row[3], weight: 1, fillColor: row[3], fillOpacity: 0.8});
    marker.bindPopup(row[2]);
    return marker;
}
"""


def report_popup(row: pd.Series) -> str:
    """Escaped popup of one report: category, date, building, scrubbed description."""
    date = row["reported_at"]
    when = date.strftime("%d/%m/%Y") if pd.notna(date) else ""
    desc = row.get("description")
    text = ""
    if isinstance(desc, str) and desc:
        text = desc if len(desc) <= 160 else desc[:157] + "…"
    return (
        f"<b>{esc(row.get('category_label'))}</b><br>{esc(when)}"
        f"<br>Bâtiment {esc(row.get('building_id'))}"
        + (f"<br><i>{esc(text)}</i>" if text else "")
    )


def build_site_map(
    buildings: gpd.GeoDataFrame,
    reports: gpd.GeoDataFrame,
    *,
    site_name: str,
    simulated: bool,
    attributions: list[str],
) -> folium.Map:
    """Build the Folium map of a site.

    Parameters
    ----------
    buildings
        ``buildings.parquet`` (EPSG:4326) with ``n_reports`` and ``n_<category>``.
    reports
        ``reports.parquet`` (EPSG:4326), geocoded.
    """
    from pipelines._assets import configure_offline_map

    b = buildings.to_crs(WGS84)
    west, south, east, north = b.total_bounds
    m = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        tiles=None,
        zoom_start=16,
        control_scale=True,
        prefer_canvas=False,
    )
    configure_offline_map(m)
    m.fit_bounds([[south, west], [north, east]])
    classes = count_classes(b["n_reports"])
    props = pd.DataFrame(
        {
            "building_id": b["building_id"].astype(str),
            "n_reports": b["n_reports"].astype(int),
            "colour": [classes.colour(v) for v in b["n_reports"]],
            "tooltip": [
                f"{esc(i)} : {int(n)} signalement(s)"
                for i, n in zip(b["building_id"], b["n_reports"], strict=True)
            ],
            "fiche": [building_fact_sheet(r) for _, r in b.iterrows()],
        }
    )
    layer = gpd.GeoDataFrame(props, geometry=b.geometry.simplify(0.000002).to_numpy(), crs=WGS84)
    folium.GeoJson(
        json.loads(layer.to_json(drop_id=True)),
        name="Bâtiments (nombre de signalements)",
        style_function=lambda f: {
            "fillColor": f["properties"]["colour"],
            "color": "#555555",
            "weight": 0.6,
            "fillOpacity": 0.85,
        },
        highlight_function=lambda f: {"weight": 2.5, "color": "#000000"},
        tooltip=folium.GeoJsonTooltip(fields=["tooltip"], labels=False),
        popup=folium.GeoJsonPopup(fields=["fiche"], labels=False, max_width=360),
    ).add_to(m)
    placed = reports[reports.geometry.notna() & ~reports.geometry.is_empty]
    placed = placed[placed["building_id"].notna()].to_crs(WGS84)
    for code in CODES:
        sub = placed[placed["category"] == code]
        if sub.empty:
            continue
        data = [
            [round(g.y, 6), round(g.x, 6), report_popup(r), CATEGORY_COLOURS[code]]
            for g, (_, r) in zip(sub.geometry, sub.iterrows(), strict=True)
        ]
        group = folium.FeatureGroup(
            name=f"Signalements : {BY_CODE[code].label} ({len(sub)})", show=False
        )
        FastMarkerCluster(data, callback=_MARKER_CALLBACK).add_to(group)
        group.add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    start = reports["reported_at"].min()
    end = reports["reported_at"].max()
    period = (
        f"du {start:%d/%m/%Y} au {end:%d/%m/%Y}" if pd.notna(start) and pd.notna(end) else ""
    )
    root = m.get_root()
    root.html.add_child(Element(_header_footer(site_name, period, simulated, attributions)))
    root.html.add_child(Element(_legend(classes, m.get_name())))
    root.header.add_child(Element(f"<title>Vigie · {esc(site_name)}</title>"))
    return m


def render_map(m: folium.Map) -> str:
    """Render a map to a self-contained HTML string (assets inlined, no network)."""
    from pipelines._assets import inline_assets

    return inline_assets(m.get_root().render())


def run(
    buildings_path: str | Path,
    reports_path: str | Path,
    dst: str | Path,
    *,
    site_name: str,
    simulated: bool,
    attributions: list[str],
) -> Path:
    """Read the processed files of a site and write its map."""
    from pipelines.io import read_geoparquet, write_text

    buildings = read_geoparquet(buildings_path)
    reports = read_geoparquet(reports_path)
    m = build_site_map(
        buildings, reports, site_name=site_name, simulated=simulated, attributions=attributions
    )
    return write_text(render_map(m), dst)


def index_page(sites: list[dict[str, Any]]) -> str:
    """The index page linking every site's map, with key figures (escaped)."""
    rows = []
    for s in sites:
        badge = " <span class='badge'>données simulées</span>" if s.get("simulated") else ""
        rows.append(
            "<tr>"
            f"<td><a href='{esc(s['map'])}'>{esc(s['name'])}</a>{badge}</td>"
            f"<td>{esc(s.get('period', ''))}</td>"
            f"<td class='n'>{int(s.get('reports', 0))}</td>"
            f"<td class='n'>{int(s.get('buildings_with_reports', 0))}</td>"
            f"<td class='n'>{int(s.get('outside_study_area', 0))}</td>"
            f"<td class='n'>{int(s.get('rejected', 0))}</td>"
            "</tr>"
        )
    sources = "<br>".join(esc(v) for v in ATTRIBUTIONS.values())
    return f"""<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>Vigie · cartes des sites</title>
<style>
body {{font:15px/1.4 system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222}}
table {{border-collapse:collapse;width:100%}} td,th {{padding:4px 8px;border-bottom:1px solid #ccc}}
th {{text-align:left}} .n {{text-align:right}}
.badge {{background:#b00020;color:#fff;border-radius:4px;padding:1px 6px;font-size:12px}}
footer {{margin-top:2em;font-size:12px;color:#555}}
@media print {{ a {{color:#000;text-decoration:none}} }}
</style></head><body>
<header><h1>Vigie · veille technique et sociale</h1></header>
<table><thead><tr><th>Site</th><th>Période</th><th class='n'>Signalements</th>
<th class='n'>Bâtiments concernés</th><th class='n'>Hors zone</th><th class='n'>Rejetés</th></tr></thead>
<tbody>{''.join(rows)}</tbody></table>
<footer>Sources et licences :<br>{sources}<br>Vigie {esc(__version__)}</footer>
</body></html>
"""


def _period(summary: dict[str, Any]) -> str:
    period = summary.get("totals", {}).get("period") or {}
    start, end = period.get("start"), period.get("end")
    if start and end:
        return f"du {pd.Timestamp(start):%d/%m/%Y} au {pd.Timestamp(end):%d/%m/%Y}"
    return ""


def run_site(config: Config, site: SiteConfig, *, processed: Path, dst: Path) -> Path:
    """Write the map of ``site`` from its processed files."""
    return run(
        processed / "buildings.parquet",
        processed / "reports.parquet",
        dst,
        site_name=site.name,
        simulated=site.simulated,
        attributions=list(site.attribution) or ["osm"],
    )


def run_index(config: Config, *, dst: Path) -> Path:
    """Write ``index.html`` linking the maps of every site, with their key figures."""
    from pipelines.io import read_json, write_text

    rows = []
    for site in config.sites:
        paths = SitePaths.of(config, site.id)
        summary = read_json(paths.run_summary)
        sources = summary.get("sources", {})
        rejected = 0
        for s in sources.values():
            r = s.get("rejected", 0)
            rejected += sum(r.values()) if isinstance(r, dict) else int(r)
        reports = read_geoparquet_columns(paths.reports, ["reported_at"])
        start, end = reports["reported_at"].min(), reports["reported_at"].max()
        rows.append(
            {
                "name": site.name,
                "map": paths.map.relative_to(dst.parent).as_posix()
                if paths.map.is_relative_to(dst.parent)
                else paths.map.name,
                "simulated": site.simulated,
                "period": f"du {start:%d/%m/%Y} au {end:%d/%m/%Y}" if pd.notna(start) else "",
                "reports": summary.get("hotspots", {}).get("reports_counted", 0),
                "buildings_with_reports": summary.get("hotspots", {}).get(
                    "buildings_with_reports", 0
                ),
                "outside_study_area": sum(
                    int(s.get("outside_study_area", 0)) for s in sources.values()
                ),
                "rejected": rejected,
            }
        )
    return write_text(index_page(rows), dst)


def read_geoparquet_columns(path: Path, columns: list[str]) -> pd.DataFrame:
    """Read a few columns of a (Geo)Parquet file without its geometry."""
    return pd.read_parquet(path, columns=columns)
