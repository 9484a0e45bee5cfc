"""The committee pack of a site (issue 17): ``maps/<site>_comite.html``, one offline page in
French, printable to A4, and its PDF ``maps/<site>_comite.pdf`` (:mod:`pipelines.maps.pdf`).

Built from the published tables only (:mod:`pipelines.published`, the profile of the
readers, which includes the pack: :attr:`pipelines.config.PublicationSettings.readers_profile`),
the committee charts (``charts/*.png``) and the map's slide PNG:

1. key figures since the last committee, beside the months of the same length before it,
   by category group: the published table ``key_figures`` (a table of its own, protected
   and audited by the publication step) and its months (``site.json``'s ``key_window``),
   in :mod:`pipelines.maps.pack_figures`;
2. the hotspots and trends: hotspot zones and buildings, the charts;
3. the actions, grouped: late, new, under way, done, verified, others (with the effect),
   in :mod:`pipelines.maps.pack_actions`;
4. the decisions to take: hotspot zones and buildings that no action targets;
5. the method note with its publication section, as the publication step wrote it.

Nothing is added up here: every figure is a published cell, « s » where it is hidden.
Every text is a variable of the trusted template ``templates/comite.html`` (autoescaped)
or HTML built and escaped here; the styles are ``templates/comite.css`` (A4, page
breaks, page numbers).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from markupsafe import Markup

from pipelines import __version__
from pipelines.config import Config, SiteConfig
from pipelines.fr import fr_date, fr_number, fr_period, plural
from pipelines.io import write_text
from pipelines.maps.actions import (
    LATE_FR,
    as_date,
    is_true,
    live,
    targeted_buildings,
)
from pipelines.maps.data import building_titles
from pipelines.maps.html import GI_LABELS_FR, as_number, is_hidden, present, source_labels
from pipelines.maps.pack_actions import action_counts, action_table
from pipelines.maps.pack_figures import SECRET, key_figures, key_window
from pipelines.maps.pdf import print_pdf
from pipelines.markup import render_template, template_text
from pipelines.published import (
    DONE_STATUSES,
    DROPPED_STATUSES,
    FILES,
    Publication,
    Published,
    hidden,
    read_published,
)
from pipelines.stages import CHART_NAMES, SitePaths

log = logging.getLogger(__name__)

#: Hotspot buildings listed by name (the others are counted).
MAX_HOT_BUILDINGS = 20
#: French titles of the charts in the pack.
CHART_TITLES = {
    "reports_by_category": "Signalements par mois et par catégorie",
    "top_buildings": "Tendance des bâtiments les plus signalés",
    "closing_delays": "Délais de clôture par catégorie",
}


# ----------------------------------------------------------------------------- hotspots
def hot_buildings(profile: gpd.GeoDataFrame) -> pd.DataFrame:
    """The hotspot buildings (Gi* bin 2 or 3, shown), strongest first then most reported."""
    if "gi_bin" not in profile:
        return profile.iloc[0:0]
    shown = ~hidden(profile, "gi_bin")
    bins = pd.to_numeric(profile["gi_bin"], errors="coerce")
    hot = profile[shown & (bins >= 2)].copy()
    hot["_bin"] = bins[hot.index]
    reports = pd.to_numeric(hot["n_reports"], errors="coerce").mask(hidden(hot, "n_reports"))
    hot["_n"] = reports.fillna(-1)
    return hot.sort_values(["_bin", "_n"], ascending=False, kind="stable")


def _count_cell(row: Mapping[str, Any] | pd.Series, column: str) -> str:
    if is_hidden(row, column):
        return SECRET
    value = as_number(row.get(column))
    return fr_number(value) if value is not None else "—"


@dataclass
class Coverage:
    """Which hotspot zones and buildings the live actions target (refused and abandoned
    actions target nothing here), and the ids of those actions."""

    buildings: dict[str, list[str]] = field(default_factory=dict)
    zones: dict[str, list[str]] = field(default_factory=dict)


def coverage(
    actions: gpd.GeoDataFrame | None, profile: gpd.GeoDataFrame, zones: gpd.GeoDataFrame | None
) -> Coverage:
    """The actions targeting each building and zone (:func:`targeted_buildings`): a zone is
    targeted by an action naming it or one of its buildings."""
    rows = live(actions)
    if not rows.empty and "status" in rows:
        dropped = rows["status"].astype("string").isin(DROPPED_STATUSES).fillna(False)
        rows = rows[~dropped.astype(bool)]
    out = Coverage()
    if rows.empty:
        return out
    targets = targeted_buildings(rows, profile)
    for (_, row), ids in zip(rows.iterrows(), targets, strict=True):
        action_id = str(row.get("action_id"))
        for bid in ids:
            out.buildings.setdefault(bid, []).append(action_id)
        if present(row.get("zone_id")):
            out.zones.setdefault(str(row["zone_id"]), []).append(action_id)
    if zones is not None and "building_ids" in zones:
        for _, zone in zones.iterrows():
            zid = str(zone["zone_id"])
            for bid in _ids(zone["building_ids"]):
                for action_id in out.buildings.get(bid, []):
                    if action_id not in out.zones.get(zid, []):
                        out.zones.setdefault(zid, []).append(action_id)
    return out


def _ids(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    try:
        return [str(v) for v in list(value)]  # type: ignore[call-overload]
    except TypeError:
        return []


def drawn_zones(published: Published) -> gpd.GeoDataFrame | None:
    """The zones the map draws (built from enough reports), ``None`` without any."""
    zones = published.zones
    if zones is None or zones.empty:
        return None
    if "has_enough_reports" in zones:
        enough = zones["has_enough_reports"].astype("boolean").fillna(True).astype(bool)
        zones = zones[enough]
    return zones if len(zones) else None


def zone_hot_counts(profile: pd.DataFrame) -> dict[str, int]:
    """The hotspot buildings of each zone as the profile shows them
    (:func:`hot_buildings`: a building whose class is hidden is not counted), the
    number the pack gives beside its list and its key figure; the zones table's
    ``n_buildings`` counts every building of the zone."""
    hot = hot_buildings(profile)
    if "zone_id" not in hot or hot.empty:
        return {}
    return {str(k): int(v) for k, v in hot.groupby(hot["zone_id"].astype(str)).size().items()}


def hotspot_tables(published: Published, cover: Coverage) -> dict[str, Any]:
    """The zones and hotspot buildings for the pack, with the actions targeting each."""
    zones = drawn_zones(published)
    in_zone = zone_hot_counts(published.profile)
    zone_rows = []
    for _, z in zones.iterrows() if zones is not None else iter(()):
        zid = str(z["zone_id"])
        zone_rows.append(
            {
                "id": zid,
                "n_buildings": fr_number(in_zone.get(zid, 0)),
                "n_reports": _count_cell(z, "n_reports"),
                "status": str(z["status"]) if present(z.get("status")) else "",
                "actions": ", ".join(cover.zones.get(zid, [])) or "aucune",
            }
        )
    profile = published.profile
    titles = dict(zip(profile["building_id"].astype(str), building_titles(profile), strict=True))
    hot = hot_buildings(profile)
    rows = []
    for _, b in hot.head(MAX_HOT_BUILDINGS).iterrows():
        bid = str(b["building_id"])
        label = b.get("emerging_label_fr")
        rows.append(
            {
                "title": titles.get(bid, bid),
                "id": bid,
                "gi": GI_LABELS_FR.get(int(b["_bin"]), ""),
                "zone": str(b["zone_id"]) if present(b.get("zone_id")) else "",
                "n_reports": _count_cell(b, "n_reports"),
                "trend": str(label) if present(label) and not is_hidden(b, "emerging_category")
                else "",
                "chronic": "oui" if is_true(b.get("is_chronic")) else "",
                "actions": ", ".join(cover.buildings.get(bid, [])) or "aucune",
            }
        )  # fmt: skip
    return {
        "zones": zone_rows,
        "buildings": rows,
        "n_hot": len(hot),
        "more": max(0, len(hot) - MAX_HOT_BUILDINGS),
    }


def decisions_to_take(published: Published, cover: Coverage) -> list[dict[str, str]]:
    """What the committee has to decide on: the hotspot zones that no action targets, then
    the hotspot buildings outside every drawn zone that no action targets.

    A building of a drawn zone is left to its zone (listed with it, or covered by the
    zone's actions); a hotspot building with no report of its own (classed hot by its
    neighbours) is not listed.
    """
    out = []
    zones = drawn_zones(published)
    in_zone = zone_hot_counts(published.profile)
    in_zones: set[str] = set()
    for _, z in zones.iterrows() if zones is not None else iter(()):
        zid = str(z["zone_id"])
        in_zones.update(_ids(z.get("building_ids")) if "building_ids" in z else [])
        if cover.zones.get(zid):
            continue
        hot = plural(in_zone.get(zid, 0), "bâtiment point chaud",
                     "bâtiments points chauds")  # fmt: skip
        out.append(
            {
                "what": f"Zone {zid}",
                "facts": f"{hot} ; signalements : {_count_cell(z, 'n_reports')}"
                + (f" ; {z['status']}" if present(z.get("status")) else ""),
            }
        )
    profile = published.profile
    titles = dict(zip(profile["building_id"].astype(str), building_titles(profile), strict=True))
    for _, b in hot_buildings(profile).iterrows():
        bid = str(b["building_id"])
        if bid in in_zones or cover.buildings.get(bid) or b["_n"] == 0:
            continue
        out.append(
            {
                "what": titles.get(bid, bid),
                "facts": f"{GI_LABELS_FR.get(int(b['_bin']), '')} ; signalements : "
                f"{_count_cell(b, 'n_reports')} (bâtiment {bid}, hors zone dessinée)",
            }
        )
    return out


# ----------------------------------------------------------------------------- method note
class _NoteReader(HTMLParser):
    """The sections of the published method note (``method_note.html``) as plain text:
    its ``<h2>`` titles, paragraphs and tables; everything else (head, styles, title) is
    left out, and the pack's template escapes every text again."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[dict[str, Any]] = []
        self._text: list[str] | None = None
        self._table: list[list[str]] | None = None
        self._skip = 0

    def _section(self) -> dict[str, Any]:
        if not self.sections:
            self.sections.append({"title": "", "blocks": []})
        return self.sections[-1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("head", "style", "script", "title", "h1"):
            self._skip += 1
        elif tag == "table":
            self._table = []
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("h2", "p", "td", "th", "li"):
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("head", "style", "script", "title", "h1"):
            self._skip = max(0, self._skip - 1)
        elif tag == "table" and self._table is not None:
            rows = [r for r in self._table if r]
            if rows:
                self._section()["blocks"].append({"header": rows[0], "rows": rows[1:]})
            self._table = None
        elif tag in ("h2", "p", "td", "th", "li") and self._text is not None:
            text = " ".join("".join(self._text).split())
            self._text = None
            if tag == "h2":
                self.sections.append({"title": text, "blocks": []})
            elif tag in ("td", "th") and self._table:
                self._table[-1].append(text)
            elif text:
                self._section()["blocks"].append({"text": text})

    def handle_data(self, data: str) -> None:
        if not self._skip and self._text is not None:
            self._text.append(data)


def method_sections(note_html: str) -> list[dict[str, Any]]:
    """The sections of the method note: ``title`` and ``blocks`` (``{"text"}`` or
    ``{"header", "rows"}``), texts unescaped."""
    reader = _NoteReader()
    reader.feed(note_html)
    reader.close()
    return [s for s in reader.sections if s["title"] or s["blocks"]]


# ----------------------------------------------------------------------------- page
def _data_uri(png: bytes | None) -> str | None:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii") if png else None


def committee_pack_html(
    published: Published,
    *,
    site_name: str,
    simulated: bool,
    attributions: Sequence[str],
    charts: Mapping[str, bytes] | None = None,
    map_png: bytes | None = None,
    method_note: str = "",
) -> str:
    """The committee pack of a site, one self-contained HTML page (no script).

    Parameters
    ----------
    published
        The site's published tables (:func:`pipelines.published.read_published`).
    site_name, simulated, attributions
        As for the map (the « données simulées » badge, the sources).
    charts
        PNG bytes of the committee charts by name (:data:`pipelines.stages.CHART_NAMES`).
    map_png
        The map's slide PNG, or ``None``.
    method_note
        The published ``method_note.html`` (with its publication section).
    """
    facts = published.site
    block = facts.get("actions") if isinstance(facts.get("actions"), Mapping) else {}
    last_committee = (block or {}).get("last_committee_date")
    if last_committee is None and published.actions is not None:
        dates = [as_date(v) for v in published.actions.get("committee_date", [])]
        known = [d for d in dates if d is not None]
        last_committee = max(known).date().isoformat() if known else None
    window = key_window(facts.get("key_window"))
    period_of = facts.get("period") or {}
    start = pd.Timestamp(period_of["start"]) if period_of else None
    end = pd.Timestamp(period_of["end"]) if period_of else None
    publication = Publication.of(facts)
    totals = facts.get("totals") or {}
    headline = ((facts.get("trends") or {}).get("headline")) or {}
    cover = coverage(published.actions, published.profile, drawn_zones(published))
    hot95 = totals.get("hotspots_95")
    overall = [
        ("Période des données", fr_period(start, end) or "inconnue"),
        ("Signalements comptés", _count_cell(totals, "reports_counted")),
        ("Bâtiments concernés", _count_cell(totals, "buildings_with_reports")),
        (
            "Bâtiments points chauds (confiance ≥ 95 %)",
            fr_number(hot95) if isinstance(hot95, int | float) else "non calculés",
        ),
    ]
    if isinstance(headline.get("trend_fr"), str):
        overall.append(("Tendance du site", headline["trend_fr"]))
    too_few = ((facts.get("too_few_reports") or {}).get("site") or {}).get("note_fr")
    return str(
        render_template(
            "comite.html",
            css=Markup(template_text("comite.css")),  # a file of the package
            site_name=site_name,
            simulated=simulated,
            date_fr=fr_date(end) if end is not None else "",
            publication=publication,
            profile=facts.get("publication", {}).get("profile", publication.profile),
            window=window,
            figures=key_figures(published.key_figures, window),
            overall=overall,
            too_few=too_few,
            actions=action_counts(facts, published.actions),
            has_register=published.actions is not None,
            hotspots=hotspot_tables(published, cover),
            charts=[
                {"title": CHART_TITLES.get(name, name), "src": _data_uri(png)}
                for name, png in (charts or {}).items()
                if png
            ],
            map_src=_data_uri(map_png),
            groups=action_table(published.actions, last_committee=last_committee),
            decisions=decisions_to_take(published, cover),
            method=method_sections(method_note),
            late=LATE_FR,
            done_statuses=", ".join(DONE_STATUSES),
            secret=SECRET,
            sources=source_labels(attributions),
            version=__version__,
        )
    )


# ----------------------------------------------------------------------------- I/O
def run_pack(
    config: Config, site: SiteConfig, *, processed: Path, dst: Path, pdf: Path | None = None
) -> Path:
    """Write the committee pack of ``site`` (``dst``, HTML) and its PDF (``pdf``; default
    ``dst`` with the suffix ``.pdf``), from the published tables in ``processed``, the
    charts (``charts/*.png``) and the map's PNG beside ``dst`` when it exists."""
    paths = SitePaths.of(config, site.id)
    published_dir = Path(processed) / paths.published.name
    published = read_published(published_dir)
    charts_dir = Path(processed) / paths.charts.name
    charts = {
        name: (charts_dir / f"{name}.png").read_bytes()
        for name in CHART_NAMES
        if (charts_dir / f"{name}.png").exists()
    }
    map_png = Path(dst).parent / f"{site.id}.png"
    note = published_dir / FILES["method_note"]
    html = committee_pack_html(
        published, site_name=site.name, simulated=site.simulated,
        attributions=list(site.attribution) or ["osm"], charts=charts,
        map_png=map_png.read_bytes() if map_png.exists() else None,
        method_note=note.read_text(encoding="utf-8") if note.exists() else "",
    )  # fmt: skip
    out = write_text(html, dst)
    print_pdf(out, pdf or Path(dst).with_suffix(".pdf"))
    return out


__all__ = ["committee_pack_html", "key_window", "run_pack"]
