"""HTML pieces of the meeting maps: escaping, French formats, the building fact sheet (with
the planners' notes), the sparkline, the page header and footer (styles in
``pipelines/templates/map.css``).

Every text that came from a resident or a file goes through :func:`esc`
(:func:`pipelines.markup.escape_text`) before it becomes HTML, or is a variable of a
trusted, autoescaped template (:func:`pipelines.markup.render_template`); Folium leaves
that to its users.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from pipelines import __version__
from pipelines.fr import fr_date, fr_month, fr_number, plural
from pipelines.markup import escape_text, render_template
from pipelines.published import FLAG_SUFFIX, HIDDEN_FLAG, Publication
from pipelines.taxonomy import BY_CODE, CODES, label_of

log = logging.getLogger(__name__)

#: The credit OpenStreetMap asks for, in French (the maps' corner line; the footer says
#: what it covers and under which licence).
OSM_CREDIT = "© les contributeurs d'OpenStreetMap"
#: Sources and licences, by the keys of a site's ``attribution`` list.
ATTRIBUTIONS: dict[str, str] = {
    "osm": f"Bâtiments et fond de plan {OSM_CREDIT} (ODbL 1.0)",
    "ban": "Adresses : Base Adresse Nationale (Licence Ouverte 2.0, Etalab)",
    "rpls": "Logements sociaux : RPLS (Licence Ouverte 2.0)",
    "dansmarue": "Signalements : « Dans ma rue », Ville de Paris (ODbL 1.0)",
}


#: The words of the fact sheets and the index where an analysis stage found too few
#: reports to conclude (the published ``too_few_reports`` of ``site.json``).
TOO_FEW_FR = "trop peu de signalements pour conclure"

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
    """Escape any value for HTML text or attribute (:func:`~pipelines.markup.escape_text`:
    without the characters that reorder the text); missing values become ''."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return escape_text(str(value))


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


def is_hidden(row: Mapping[str, Any] | pd.Series, column: str) -> bool:
    """True when ``row[column]`` is hidden: its companion ``<column>_flag`` is « s »."""
    flag = row.get(column + FLAG_SUFFIX)
    return isinstance(flag, str) and flag == HIDDEN_FLAG


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


#: Notes listed by name in a fact sheet; the others are counted.
MAX_SHEET_NOTES = 5
#: Longest note text shown in a fact sheet, in characters (the notes layer shows it whole).
MAX_SHEET_NOTE_TEXT = 400


def notes_section_html(
    notes: Sequence[Mapping[str, Any]], *, max_notes: int = MAX_SHEET_NOTES
) -> str:
    """The planners' notes of a building or zone, for its fact sheet (escaped).

    Parameters
    ----------
    notes
        One mapping per note (rows of ``annotations.parquet``): ``tag``, ``status``,
        ``author``, ``created_at``/``updated_at`` (UTC timestamps), ``text``, and the
        optional ``orphan_flag``. Shown newest first. Planners' names are shown as
        authors; residents' data never reach this table.
    max_notes
        Notes shown in full; the others are counted ("et 3 autres notes").

    Returns
    -------
    str
        ``<div class='notes'>…</div>``, or '' when there is no note.
    """
    if not notes:
        return ""

    def when(note: Mapping[str, Any]) -> pd.Timestamp:
        stamp = note.get("updated_at")
        stamp = stamp if present(stamp) and not pd.isna(stamp) else note.get("created_at")
        return pd.Timestamp(stamp) if present(stamp) and not pd.isna(stamp) else pd.Timestamp(0)

    ordered = sorted(notes, key=lambda n: when(n).value, reverse=True)
    items = []
    for note in ordered[:max_notes]:
        stamp = when(note)
        date = "" if stamp.value == 0 else fr_date(_paris(stamp))
        text = str(note.get("text") or "").strip()
        if len(text) > MAX_SHEET_NOTE_TEXT:
            text = text[: MAX_SHEET_NOTE_TEXT - 1] + "…"
        flags = (note.get("tag"), note.get("status"), note.get("orphan_flag"))
        meta = " · ".join(esc(v) for v in flags if present(v))
        who = esc(note.get("author")) if present(note.get("author")) else "auteur inconnu"
        items.append(
            f"<li><span class='meta'><b>{meta}</b> — {who}" + (f", le {date}" if date else "")
            + f"</span><br><span class='vigie-fiche-note-text'>{esc(text)}</span></li>"
        )  # fmt: skip
    rest = len(ordered) - max_notes
    more = f"<li>et {plural(rest, 'autre note', 'autres notes')}</li>" if rest > 0 else ""
    return (
        f"<div class='notes'><b>Notes des urbanistes ({fr_number(len(ordered))})</b>"
        f"<ul>{''.join(items)}{more}</ul></div>"
    )


def _paris(stamp: pd.Timestamp) -> pd.Timestamp:
    """A note's UTC time in Paris time (naive stamps are taken as UTC)."""
    stamp = stamp if stamp.tzinfo is not None else stamp.tz_localize("UTC")
    return stamp.tz_convert("Europe/Paris")


def building_fact_sheet(
    row: Mapping[str, Any] | pd.Series,
    *,
    period: str = "",
    months: Sequence[pd.Period] = (),
    monthly: Sequence[float] | None = None,
    chronic: Sequence[str] = (),
    max_categories: int = 6,
    title: str | None = None,
    notes: Sequence[Mapping[str, Any]] = (),
    hotspot_note: str | None = None,
    publication: Publication | None = None,
    hidden_months: bool = False,
    actions_html: str = "",
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
    notes
        The planners' notes linked to this building (:func:`notes_section_html`).
    hotspot_note
        Why the hotspot stage concluded nothing on this site (too few reports), shown
        instead of the building's Gi* class (unescaped).
    publication, hidden_months
        A count whose ``<column>_flag`` is « s » is hidden (secret statistique): shown as
        « < 3 » (``publication.marker_fr``), never summed with others; with
        ``hidden_months`` (a month of the sparkline is hidden) no sparkline is drawn and
        the sheet says why.
    actions_html
        The actions of the register targeting this building, already escaped
        (:func:`pipelines.maps.actions.actions_section_html`), shown after the key facts.

    Returns
    -------
    str
        ``<div class='fiche'>…</div>``.
    """
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
    pub = publication or Publication()
    marker = esc(pub.marker_fr)
    when = f" {esc(period)}" if period else ""
    if is_hidden(row, "n_reports"):
        facts.append(("Signalements", f"<b>{marker}</b> signalements{when} ({esc(pub.reason_fr)})"))
    else:
        n = int(row.get("n_reports", 0) or 0)
        words = "signalement" if n < 2 else "signalements"
        facts.append(("Signalements", f"<b>{fr_number(n)}</b> {words}{when}"))
    if is_hidden(row, "reports_per_100_dwellings"):
        facts.append(("Taux", f"{marker} (masqué)"))
    elif present(row.get("reports_per_100_dwellings")):
        rate = float(row["reports_per_100_dwellings"])
        facts.append(("Taux", f"{fr_number(rate, 1)} pour 100 logements"))
    n_obs = as_number(row.get("n_observations"))
    if n_obs:
        facts.append(("Observations de terrain", fr_number(n_obs)))
    if hotspot_note:
        facts.append(("Point chaud (Gi*)", esc(f"non calculé : {hotspot_note}")))
    elif "gi_bin" in row:
        facts.append(("Point chaud (Gi*)", esc(gi_label(row.get("gi_bin")))))
    code = row.get("emerging_category")
    label = row.get("emerging_label_fr")
    if present(label) or present(code):
        text = str(label) if present(label) else str(code)  # published: labelled
        facts.append(("Tendance", esc(text)))
    backlog = as_number(row.get("open_backlog"))
    if is_hidden(row, "open_backlog"):
        facts.append(("Non clos à ce jour", marker))
    elif backlog is not None:
        facts.append(("Non clos à ce jour", fr_number(backlog)))
    delay = as_number(row.get("median_delay_h"))
    if delay is not None:
        facts.append(("Délai médian de clôture", _delay_fr(delay)))
    out.append(
        "<table class='faits'>"
        + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
        + "</table>"
    )
    # What was decided comes right after the key facts, then the planners' notes: what
    # they asked to handle first.
    out.append(actions_html)
    out.append(notes_section_html(notes))
    secret = [BY_CODE[c].label for c in CODES if is_hidden(row, f"n_{c}")]
    if len(secret) == len(CODES):
        # No category published for this building (public: its reports are counted in
        # its zone or the site): one line, not a list suggesting one report in each.
        secret = []
        out.append(f"<p class='note'>Détail par catégorie {esc(pub.reason_fr)}.</p>")
    by_cat = [
        (BY_CODE[c].label, int(row.get(f"n_{c}", 0) or 0))
        for c in CODES
        if not is_hidden(row, f"n_{c}") and int(row.get(f"n_{c}", 0) or 0) > 0
    ]
    if by_cat or secret:
        by_cat.sort(key=lambda t: -t[1])
        shown, rest = by_cat[:max_categories], by_cat[max_categories:]
        lines = [f"<tr><td>{esc(lab)}</td><td>{k}</td></tr>" for lab, k in shown]
        if rest:
            lines.append(
                f"<tr><td>{len(rest)} autres catégories</td><td>{sum(k for _, k in rest)}</td></tr>"
            )
        # Hidden counts are named, never added into « autres catégories ».
        lines += [f"<tr><td>{esc(lab)}</td><td>{marker}</td></tr>" for lab in secret]
        out.append("<table class='cats'>" + "".join(lines) + "</table>")
        if secret:
            out.append(f"<p class='note'>{marker} : {esc(pub.reason_fr)}</p>")
    if hidden_months:
        out.append(
            f"<p class='note'>Évolution mensuelle non dessinée : un mois compte {marker} "
            f"({esc(pub.reason_fr)}).</p>"
        )
    elif monthly is not None and len(months) and sum(monthly) > 0:
        out.append(sparkline_svg(monthly, months))
    problems = [esc(text) for text in chronic]
    if not problems and present(row.get("chronic_categories")):
        codes = [c.strip() for c in str(row["chronic_categories"]).split(",") if c.strip()]
        codes = [c for c in codes if not is_hidden(row, f"n_{c}")]  # never a hidden one
        problems = [esc(label_of(c)) for c in codes]
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


def title_html(site_name: str) -> str:
    """The page's ``<title>`` (template ``map_title.html``)."""
    return render_template("map_title.html", site_name=site_name)


def header_html(
    site_name: str, period: str, *, simulated: bool, index_href: str | None = "index.html"
) -> str:
    """The fixed header: site, period (``id='vigie-period'``, updated by the period
    selector), the "données simulées" badge when the reports are simulated (template
    ``map_header.html``; every value escaped, none compiled)."""
    return render_template(
        "map_header.html",
        site_name=site_name,
        period=period,
        simulated=simulated,
        index_href=index_href,
    )


def source_labels(attributions: Sequence[str]) -> list[str]:
    """Sources and licences (unescaped: the templates escape them), OpenStreetMap always
    first. A key not in :data:`ATTRIBUTIONS` (a typo in the configuration's
    ``attribution``) is named in a French sentence saying its licence is unknown, with a
    warning, rather than shown as a bare key beside the known sources."""
    keys = list(dict.fromkeys(["osm", *attributions]))
    unknown = [k for k in keys if k not in ATTRIBUTIONS]
    if unknown:
        log.warning(
            "attribution inconnue : %s (connues : %s)",
            ", ".join(unknown), ", ".join(ATTRIBUTIONS),
        )  # fmt: skip
    return [ATTRIBUTIONS.get(k, f"Source « {k} » (licence non précisée)") for k in keys]


def footer_html(attributions: Sequence[str]) -> str:
    """The fixed footer: sources and licences, software version (template
    ``map_footer.html``)."""
    return render_template(
        "map_footer.html", sources=source_labels(attributions), version=__version__
    )


#: The SVG pattern for "rate unknown" buildings, referenced as ``url(#vigie-hatch)``.
HATCH_DEFS = (
    "<svg width='0' height='0' style='position:absolute' aria-hidden='true'><defs>"
    "<pattern id='vigie-hatch' width='6' height='6' patternUnits='userSpaceOnUse' "
    "patternTransform='rotate(45)'><rect width='6' height='6' fill='#ffffff'/>"
    "<rect width='2.2' height='6' fill='#b0b0b0'/></pattern></defs></svg>"
)
