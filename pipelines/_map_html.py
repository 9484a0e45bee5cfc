"""HTML pieces of the meeting maps: escaping, French formats, the building fact sheet, the
sparkline, the page header and footer, and the index page's style.

Every text that came from a resident or a file goes through :func:`esc`
(:func:`html.escape`) before it becomes HTML; Folium leaves that to its users.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from pipelines import __version__
from pipelines.taxonomy import BY_CODE, CODES

#: Sources and licences, by the keys of a site's ``attribution`` list.
ATTRIBUTIONS: dict[str, str] = {
    "osm": "Bâtiments et fond de plan © les contributeurs d'OpenStreetMap (ODbL 1.0)",
    "ban": "Adresses : Base Adresse Nationale (Licence Ouverte 2.0, Etalab)",
    "rpls": "Logements sociaux : RPLS (Licence Ouverte 2.0)",
    "dansmarue": "Signalements : « Dans ma rue », Ville de Paris (ODbL 1.0)",
}

MONTHS_FR = (
    "janv.", "févr.", "mars", "avr.", "mai", "juin",
    "juil.", "août", "sept.", "oct.", "nov.", "déc.",
)  # fmt: skip

#: Gi* bins (FDR) in words for a committee.
GI_LABELS_FR: dict[int, str] = {
    3: "Point chaud, confiance 99 %",
    2: "Point chaud, confiance 95 %",
    1: "Point chaud, confiance 90 %",
    0: "Non significatif",
    -1: "Point froid, confiance 90 %",
    -2: "Point froid, confiance 95 %",
    -3: "Point froid, confiance 99 %",
}


def esc(value: object) -> str:
    """Escape any value for HTML text or attribute; missing values become ''."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return html.escape(str(value), quote=True)


def present(value: object) -> bool:
    """True for a value worth showing: not missing, not an empty string."""
    if value is None or value is pd.NA:
        return False
    if isinstance(value, float | np.floating) and math.isnan(value):
        return False
    return not (isinstance(value, str) and not value.strip())


def as_number(value: object) -> float | None:
    """A float from a cell (number or numeric text), ``None`` when missing or not a number."""
    if not present(value):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def fr_number(value: float, decimals: int = 0) -> str:
    """A number in French: decimal comma, narrow no-break space between thousands."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\u202f").replace(".", ",")


def fr_month(period: pd.Period, *, short: bool = False) -> str:
    """``janv. 2024`` (or ``janv. 24`` with ``short``)."""
    year = f"{period.year % 100:02d}" if short else str(period.year)
    return f"{MONTHS_FR[period.month - 1]} {year}"


def fr_date(ts: pd.Timestamp) -> str:
    """``31/12/2024``."""
    return f"{ts:%d/%m/%Y}"


def fr_period(start: pd.Timestamp | None, end: pd.Timestamp | None) -> str:
    """``du 01/01/2024 au 31/12/2025``, or '' when a bound is missing."""
    if start is None or end is None or pd.isna(start) or pd.isna(end):
        return ""
    return f"du {fr_date(start)} au {fr_date(end)}"


def plural(n: float, word: str, words: str | None = None) -> str:
    """``1 signalement``, ``3 signalements``, ``0 signalement`` (French: 0 and 1 singular)."""
    return f"{fr_number(n)} {word if abs(n) < 2 else (words or word + 's')}"


def gi_label(value: object) -> str:
    """A Gi* bin in words; 'Non calculé' when missing."""
    if not present(value):
        return "Non calculé"
    return GI_LABELS_FR.get(int(value), "Non calculé")  # type: ignore[call-overload]


# ----------------------------------------------------------------------------- sparkline
def sparkline_svg(
    counts: Sequence[float], months: Sequence[pd.Period], *, bar_px: int = 13, height: int = 30
) -> str:
    """A small bar chart of monthly counts, as inline SVG (no JavaScript library).

    Parameters
    ----------
    counts
        One count per month, oldest first.
    months
        The months of ``counts`` (same length).
    bar_px, height
        Width of one month and height of the drawing, in CSS pixels.

    Returns
    -------
    str
        ``<svg>`` with one ``<path>`` of bars (integer pixels, to keep a page with
        thousands of buildings small), a ``<title>`` listing the values (read by screen
        readers and shown on hover), and the first month, the maximum and the last month
        under it.
    """
    if len(counts) != len(months):
        raise ValueError(f"{len(counts)} valeurs pour {len(months)} mois.")
    if not len(counts):
        return ""
    values = [max(0, round(float(c))) for c in counts]
    top = max(values)
    width = bar_px * len(values)
    bars = []
    for i, v in enumerate(values):
        # A 1-pixel tick for a zero month, so that it reads as zero, not as missing.
        h = max(1, round(v / top * (height - 2))) if top else 1
        bars.append(f"M{i * bar_px} {height}v-{h}h{bar_px - 2}v{h}z")
    title = (
        f"Signalements par mois, de {fr_month(months[0])} à {fr_month(months[-1])} : "
        + ", ".join(str(v) for v in values)
    )
    return (
        f"<div class='spark'><svg width='{width}' height='{height}'><title>{esc(title)}</title>"
        f"<path d='{''.join(bars)}'/></svg>"
        f"<span>{esc(fr_month(months[0], short=True))}</span><span>max {top}</span>"
        f"<span>{esc(fr_month(months[-1], short=True))}</span></div>"
    )


# ----------------------------------------------------------------------------- fact sheet
def building_title(row: Mapping[str, Any] | pd.Series) -> str:
    """What a committee calls a building: its residence name, else its address, else its
    size ("Bâtiment de 270 logements"), else "Bâtiment sans adresse connue" (unescaped:
    the caller escapes)."""
    for column in ("residence_name", "name"):
        if present(row.get(column)):
            return str(row[column])
    addr = building_address(row)
    if addr:
        return addr
    if present(row.get("dwellings")) and float(row["dwellings"]) > 0:
        return f"Bâtiment de {plural(float(row['dwellings']), 'logement')}"
    return "Bâtiment sans adresse connue"


def building_address(row: Mapping[str, Any] | pd.Series) -> str:
    """Addresses of a building (``addresses`` column, else OSM ``addr:*``), unescaped."""
    if present(row.get("addresses")):
        value = row["addresses"]
        if isinstance(value, list | tuple | np.ndarray):
            return " ; ".join(str(v) for v in value if present(v))
        return str(value)
    parts = [str(row[c]) for c in ("addr_housenumber", "addr_street") if present(row.get(c))]
    return " ".join(parts)


def _delay_fr(hours: float) -> str:
    """``18 h`` under two days, else ``3,5 jours``."""
    return f"{fr_number(hours)} h" if hours < 48 else f"{fr_number(hours / 24, 1)} jours"


def building_fact_sheet(
    row: Mapping[str, Any] | pd.Series,
    *,
    period: str = "",
    months: Sequence[pd.Period] = (),
    monthly: Sequence[float] | None = None,
    chronic: Sequence[str] = (),
    max_categories: int = 6,
    title: str | None = None,
) -> str:
    """The popup of a building: what a committee needs, escaped, never personal data.

    Parameters
    ----------
    row
        One row of ``buildings.parquet``: ``building_id``, ``n_reports``,
        ``n_<category>`` and, when present, ``name``/``residence_name``, ``addresses`` or
        ``addr_*``, ``landlord``/``operator``, ``dwellings``/``dwellings_source``,
        ``reports_per_100_dwellings``, ``gi_bin``, ``emerging_category``/
        ``emerging_label_fr``, ``chronic_categories``, ``open_backlog``,
        ``n_observations``.
    period
        The period the counts cover, in words (``du 01/01/2024 au 31/12/2025``).
    months, monthly
        The months and counts of the sparkline (last 12 months, say).
    chronic
        One text per chronic problem of this building (``chronic.csv``), unescaped.
    max_categories
        Categories listed by name; the others are summed in one line.
    title
        The building's name (unescaped); default :func:`building_title`.

    Returns
    -------
    str
        ``<div class='fiche'>…</div>``.
    """
    from pipelines.emerging import EMERGING_LABELS_FR

    title = title or building_title(row)
    out = [f"<div class='fiche'><h4>{esc(title)}</h4>"]
    facts: list[tuple[str, str]] = []
    addr = building_address(row)
    if addr and addr != title:
        facts.append(("Adresse", esc(addr)))
    if present(row.get("residence_name")) and present(row.get("name")):
        facts.append(("Nom OSM", esc(row["name"])))
    if present(row.get("landlord")):
        facts.append(("Bailleur", esc(row["landlord"])))
    elif present(row.get("operator")):  # OSM operator=*: a landlord, a city, a school…
        facts.append(("Gestionnaire (OSM)", esc(row["operator"])))
    if present(row.get("dwellings")):
        source = {"rpls": "RPLS", "osm_flats": "OpenStreetMap"}.get(
            str(row.get("dwellings_source")), "source inconnue"
        )
        facts.append(("Logements", f"{fr_number(float(row['dwellings']))} ({esc(source)})"))
    else:
        facts.append(("Logements", "non connus"))
    n = int(row.get("n_reports", 0) or 0)
    words = "signalement" if n < 2 else "signalements"
    facts.append(
        ("Signalements", f"<b>{fr_number(n)}</b> {words}" + (f" {esc(period)}" if period else ""))
    )
    if present(row.get("reports_per_100_dwellings")):
        rate = float(row["reports_per_100_dwellings"])
        facts.append(("Taux", f"{fr_number(rate, 1)} pour 100 logements"))
    n_obs = as_number(row.get("n_observations"))
    if n_obs:
        facts.append(("Observations de terrain", fr_number(n_obs)))
    if "gi_bin" in row:
        facts.append(("Point chaud (Gi*)", esc(gi_label(row.get("gi_bin")))))
    code = row.get("emerging_category")
    label = row.get("emerging_label_fr")
    if present(label) or present(code):
        text = str(label) if present(label) else EMERGING_LABELS_FR.get(str(code), str(code))
        facts.append(("Tendance", esc(text)))
    backlog = as_number(row.get("open_backlog"))
    if backlog is not None:
        facts.append(("Non clos à ce jour", fr_number(backlog)))
    delay = as_number(row.get("median_delay_h"))
    if delay is not None:
        facts.append(("Délai médian de clôture", _delay_fr(delay)))
    out.append(
        "<table class='faits'>"
        + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
        + "</table>"
    )
    by_cat = [
        (BY_CODE[c].label, int(row.get(f"n_{c}", 0) or 0))
        for c in CODES
        if int(row.get(f"n_{c}", 0) or 0) > 0
    ]
    if by_cat:
        by_cat.sort(key=lambda t: -t[1])
        shown, rest = by_cat[:max_categories], by_cat[max_categories:]
        lines = [f"<tr><td>{esc(lab)}</td><td>{k}</td></tr>" for lab, k in shown]
        if rest:
            lines.append(
                f"<tr><td>{len(rest)} autres catégories</td><td>{sum(k for _, k in rest)}</td></tr>"
            )
        out.append("<table class='cats'>" + "".join(lines) + "</table>")
    if monthly is not None and len(months) and sum(monthly) > 0:
        out.append(sparkline_svg(monthly, months))
    problems = [esc(text) for text in chronic]
    if not problems and present(row.get("chronic_categories")):
        codes = [c.strip() for c in str(row["chronic_categories"]).split(",") if c.strip()]
        problems = [esc(BY_CODE[c].label if c in BY_CODE else c) for c in codes]
    if problems:
        listed = problems[:4]
        if len(problems) > 4:
            listed.append(f"et {len(problems) - 4} autre(s)")
        out.append(
            "<div class='chron'><b>Problèmes chroniques</b><ul>"
            + "".join(f"<li>{p}</li>" for p in listed)
            + "</ul></div>"
        )
    out.append(f"<p class='osm'>Bâtiment OSM {esc(row.get('building_id'))}</p></div>")
    return "".join(out)


# ----------------------------------------------------------------------------- page frame
MAP_CSS = """
.vigie-header{position:fixed;top:0;left:0;right:0;height:40px;box-sizing:border-box;z-index:1000;
 background:#fff;font:15px/1.3 system-ui,sans-serif;padding:8px 12px;border-bottom:1px solid #999;
 white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.vigie-header h1{font-size:18px;margin:0;display:inline}
.vigie-header a{margin-left:12px;font-size:13px}
.vigie-badge{background:#b00020;color:#fff;border-radius:4px;padding:2px 8px;margin-left:10px;
 font-weight:bold;text-transform:uppercase;font-size:13px}
.vigie-footer{position:fixed;bottom:0;left:0;right:0;height:26px;box-sizing:border-box;z-index:1000;
 background:#fff;font:12px system-ui,sans-serif;padding:5px 12px;border-top:1px solid #999;
 white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.folium-map{position:absolute !important;top:40px !important;bottom:26px !important;
 height:auto !important;width:100% !important;background:#f2efe9}
.vigie-legend,.vigie-period{background:#fff;padding:7px 9px;font:13px/1.4 system-ui,sans-serif;
 border:1px solid #999;border-radius:4px;max-width:270px}
.vigie-legend{max-height:46vh;overflow-y:auto}
.vigie-legend h3{font-size:14px;margin:0 0 4px}
.vigie-legend h4{font-size:13px;margin:8px 0 2px}
.vigie-legend p{margin:3px 0;color:#333;font-size:12px}
.vigie-legend .note{color:#555;font-style:italic}
.vigie-legend .row{display:flex;align-items:flex-start}
.vigie-legend .row span:first-of-type{flex:1}
.vigie-legend .row .n{color:#555;padding-left:8px;font-variant-numeric:tabular-nums}
.vigie-legend .row i{flex:none;margin-top:2px}
.vigie-legend .bm .sw{white-space:nowrap}
.vigie-legend .bm i{width:12px;height:12px;margin:0 3px 0 6px}
.vigie-legend i,.vigie-layers-dot{display:inline-block;width:14px;height:14px;margin-right:6px;
 vertical-align:middle;border:1px solid #666;box-sizing:border-box}
.vigie-legend i.line{height:0;border-width:3px 0 0 0}
.vigie-legend i.dash{height:0;border:0;border-top:2px dashed #333}
.vigie-legend i.round,.vigie-layers-dot{border-radius:50%}
.vigie-legend i.diamond{transform:rotate(45deg) scale(.8);border:2px solid #111}
.vigie-legend i.hatch{background:repeating-linear-gradient(45deg,#bbb 0 2px,#fff 2px 5px)}
.vigie-period label{font-weight:bold;display:block;margin-bottom:3px}
.vigie-period select{font-size:13px;max-width:100px}
.vigie-period button{font-size:12px;margin-top:4px}
.vigie-obs span{display:block;width:10px;height:10px;transform:rotate(45deg);border:2px solid #111;
 margin:1px}
.vigie-cluster div{border-radius:50%;color:#fff;font:bold 12px/30px system-ui,sans-serif;
 text-align:center;width:30px;height:30px;border:2px solid #fff;box-shadow:0 0 3px #333;
 text-shadow:0 0 2px #000}
.leaflet-control-layers{font:12.5px/1.25 system-ui,sans-serif;max-height:62vh;overflow-y:auto}
.leaflet-control-layers label{margin:1px 0}
.vigie-cats summary{cursor:pointer;margin:2px 0;font-weight:bold}
.vigie-cats label{padding-left:12px}
.leaflet-control-layers-base::before{content:"Colorer les bâtiments selon :";font-weight:bold}
.leaflet-control-layers-overlays::before{content:"Couches :";font-weight:bold}
.fiche{font:13px/1.4 system-ui,sans-serif;min-width:220px}
.fiche h4{margin:0 0 4px;font-size:15px}
.fiche table{border-collapse:collapse;margin:4px 0}
.fiche th{text-align:left;font-weight:normal;color:#555;padding:1px 8px 1px 0;vertical-align:top}
.fiche td{padding:1px 4px}
.fiche table.cats td{border-bottom:1px solid #eee}
.fiche table.cats td+td{text-align:right;font-weight:bold}
.fiche .osm{color:#888;font-size:11px;margin:4px 0 0}
.fiche .chron{margin:4px 0;color:#222}
.fiche .chron ul{margin:2px 0;padding-left:18px}
.spark{display:grid;grid-template-columns:auto auto auto;justify-content:space-between;
 font-size:10px;color:#666;width:156px;margin:4px 0}
.spark svg{grid-column:1/4;fill:#bd0026;background:#fafafa;border-bottom:1px solid #999}
.vigie-popup-report{font:13px/1.4 system-ui,sans-serif}
@media print{.leaflet-control-layers,.vigie-period,.leaflet-control-zoom{display:none}}
"""


def header_html(
    site_name: str, period: str, *, simulated: bool, index_href: str | None = "index.html"
) -> str:
    """The fixed header: site, period (``id='vigie-period'``, updated by the period
    selector), the "données simulées" badge when the reports are simulated."""
    badge = (
        "<span class='vigie-badge' title='Signalements produits par un simulateur documenté, "
        "sur des bâtiments et adresses réels'>données simulées</span>"
        if simulated
        else ""
    )
    back = f"<a href='{esc(index_href)}'>tous les sites</a>" if index_href else ""
    return (
        f"<div class='vigie-header'><h1>Vigie · {esc(site_name)}</h1> "
        f"<span id='vigie-period'>{esc(period)}</span>{badge}{back}</div>"
    )


def sources_text(attributions: Sequence[str]) -> str:
    """Sources and licences in one line (escaped); OpenStreetMap is always listed."""
    keys = list(dict.fromkeys(["osm", *attributions]))
    return " · ".join(esc(ATTRIBUTIONS.get(k, k)) for k in keys)


def footer_html(attributions: Sequence[str]) -> str:
    """The fixed footer: sources and licences, software version."""
    return (
        f"<div class='vigie-footer'>Sources : {sources_text(attributions)} · "
        f"Vigie {esc(__version__)}</div>"
    )


#: The SVG pattern for "rate unknown" buildings, referenced as ``url(#vigie-hatch)``.
HATCH_DEFS = (
    "<svg width='0' height='0' style='position:absolute' aria-hidden='true'><defs>"
    "<pattern id='vigie-hatch' width='6' height='6' patternUnits='userSpaceOnUse' "
    "patternTransform='rotate(45)'><rect width='6' height='6' fill='#ffffff'/>"
    "<rect width='2.2' height='6' fill='#b0b0b0'/></pattern></defs></svg>"
)


INDEX_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#222}
header,footer,main{max-width:64em;margin:0 auto;padding:0 1.5em}
header{border-bottom:2px solid #333;padding-top:1em}
header h1{margin:0 0 .2em}
header p{margin:0 0 1em;color:#444}
table{border-collapse:collapse;width:100%;margin:1em 0}
td,th{padding:6px 8px;border-bottom:1px solid #ccc;vertical-align:top}
th{text-align:left;background:#f3f3f3}
.n{text-align:right;font-variant-numeric:tabular-nums}
.trend{font-size:20px;font-weight:bold}
.up{color:#b2182b}.down{color:#2166ac}.flat{color:#555}
.badge{background:#b00020;color:#fff;border-radius:4px;padding:1px 6px;font-size:12px;
 text-transform:uppercase;font-weight:bold;white-space:nowrap}
section.site{border:1px solid #ccc;border-radius:6px;padding:.5em 1em;margin:1em 0;
 break-inside:avoid}
section.site h2{font-size:18px;margin:.3em 0}
section.site ul{margin:.3em 0 .6em;padding-left:1.2em}
img.apercu{max-width:min(100%,760px);border:1px solid #ccc}
footer{margin-top:2em;padding-bottom:2em;font-size:12px;color:#555;border-top:1px solid #ccc}
@media print{
 body{font-size:11pt}
 a{color:#000;text-decoration:none}
 a[href$='.html']::after{content:" (" attr(href) ")";font-size:9pt;color:#555}
 section.site{page-break-inside:avoid}
 .badge{border:1px solid #000;color:#000;background:#fff}
}
"""
