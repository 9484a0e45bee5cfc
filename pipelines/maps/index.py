"""The index page ``maps/index.html``: every site with its key figures and documents.

Printable (one site per block, links spelled out on paper); every text from the
configuration or a file is escaped (template ``templates/index.html``, styles
``templates/index.css``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from markupsafe import Markup

from pipelines import __version__
from pipelines.config import Config, SiteConfig
from pipelines.fr import fr_number, fr_period, plural
from pipelines.io import read_json, write_text
from pipelines.maps.actions import status_colour, status_order
from pipelines.maps.html import ATTRIBUTIONS, TOO_FEW_FR, esc, source_labels
from pipelines.maps.method_pages import INDICATORS_PAGE, METHOD_PAGE
from pipelines.maps.notes import notes_table_html
from pipelines.maps.portfolio import portfolio_page
from pipelines.markup import render_template, template_text
from pipelines.published import FILES, HIDDEN_FLAG, Publication
from pipelines.stages import CHART_FILES_FR, CHART_NAMES, PUBLIC_PACK, SitePaths

#: Trend arrows: (symbol, CSS class, French words).
ARROWS: dict[str, tuple[str, str, str]] = {
    "up": ("↑", "up", "hausse significative des signalements mensuels"),
    "down": ("↓", "down", "baisse significative des signalements mensuels"),
    "flat": ("→", "flat", "pas de tendance significative"),
}
#: French titles of the charts (:mod:`pipelines.maps.charts`, ``charts/<name>.png``).
CHART_TITLES_FR: dict[str, str] = {
    "reports_by_category": "signalements par mois et par catégorie",
    "top_buildings": "tendance des bâtiments les plus signalés",
    "closing_delays": "délais de clôture par catégorie",
}
#: What each file of the open-data pack (:data:`pipelines.stages.PUBLIC_PACK`) holds.
PUBLIC_FILES_FR: dict[str, str] = {
    ".html": "carte interactive (s'ouvre sans réseau)",
    ".png": "carte (image)",
    "_batiments.csv": "signalements par bâtiment et par catégorie (CSV)",
    "_mensuel.csv": "signalements par période et par catégorie, au niveau de regroupement "
    "de la colonne « level » (CSV)",
    ".gpkg": "bâtiments et zones (GeoPackage)",
    **{
        f"_{CHART_FILES_FR[name]}.{ext}": f"graphique « {title} » ({what})"
        for name, title in {
            "reports_by_category": "signalements par période et par catégorie",
            "closing_delays": "délais de clôture par catégorie",
        }.items()
        for ext, what in (("png", "image"), ("csv", "ses données, CSV"))
    },
}
_UP = {"hausse", "increasing", "up", "increase"}
_DOWN = {"baisse", "decreasing", "down", "decrease"}
_FLAT = {"aucune", "no trend", "none", "flat", "stable"}


def site_trend(summary: dict[str, Any], *, alpha: float = 0.05) -> str | None:
    """``up``, ``down`` or ``flat`` from the monthly Mann-Kendall of the run summary.

    Reads ``summary["trends"]`` (the trends stage's ``trend_summary.json``): its
    ``headline`` (``direction`` up/down/flat, or a ``trend`` word ``hausse``/``baisse``/
    ``aucune``), else ``z`` and ``p`` at its top level or under ``monthly``,
    ``mann_kendall``, ``site`` or ``total``. ``None`` when there is no trends section, or
    when the trends stage found too few reports to conclude (``too_few_reports`` in its
    headline): no arrow is drawn then.
    """
    trends = summary.get("trends")
    if not isinstance(trends, dict):
        return None
    head = trends.get("headline")
    if isinstance(head, dict) and head.get("too_few_reports"):
        return None
    candidates: list[Any] = [
        trends.get(k) for k in ("headline", "monthly", "mann_kendall", "site", "total")
    ]
    candidates.append(trends)
    for c in candidates:
        if not isinstance(c, dict):
            continue
        if isinstance(c.get("mann_kendall"), dict):
            c = c["mann_kendall"]
        if c.get("direction") in ARROWS:
            return str(c["direction"])
        word = c.get("trend", c.get("mk_trend"))
        if isinstance(word, str):
            w = word.strip().lower()
            if w in _UP:
                return "up"
            if w in _DOWN:
                return "down"
            if w in _FLAT:
                return "flat"
        z, p = c.get("z", c.get("mk_z")), c.get("p", c.get("mk_p"))
        if isinstance(z, int | float) and isinstance(p, int | float):
            if p < alpha:
                return "up" if z > 0 else "down"
            return "flat"
    return None


def _rel(target: Path, start: Path) -> str:
    return Path(os.path.relpath(Path(target).resolve(), Path(start).resolve())).as_posix()


def _published_total(totals: dict[str, Any], summary: dict[str, Any], key: str) -> int | str:
    """A site total of ``site.json`` (« s » where it is hidden), else the run summary's."""
    if totals.get(f"{key}_flag") == "s":
        return "s"
    value = totals.get(key, summary.get(key, 0))
    return int(value) if isinstance(value, int | float) else 0


def _count_text(value: object) -> str:
    """A count of the index in French, or the « s » of a hidden one."""
    if isinstance(value, str):
        return value
    return fr_number(int(value)) if isinstance(value, int | float) else "0"


def site_entry(config: Config, site: SiteConfig, *, dst_dir: Path) -> dict[str, Any]:
    """Key figures and document links of one site, for :func:`index_page`.

    Reads the published ``site.json`` (its totals, trends and ``actions`` follow-up:
    the figures the committee pack shows) and notes, and the run summary
    (``run_summary.json``) for the rows rejected or outside the study area, and for a
    total a site published before ``site.json`` had it. Where ``site.json`` says the
    site has too few reports for a hotspot analysis (``too_few_reports``), the hotspots
    column says so instead of a count. Relative links are computed from ``dst_dir`` (the folder of
    ``index.html``).
    """
    paths = SitePaths.of(config, site.id)
    summary = read_json(paths.run_summary) if paths.run_summary.exists() else {}
    facts = read_json(paths.published_site) if paths.published_site.exists() else {}
    if facts.get("trends"):  # as published (site.json), the run summary's otherwise
        summary["trends"] = facts["trends"]
    headline = summary.get("trends", {}).get("headline", {})
    trend_fr = headline.get("trend_fr") if isinstance(headline, dict) else None
    sources = summary.get("sources", {})
    rejected = 0
    for s in sources.values():
        r = s.get("rejected", 0)
        rejected += sum(r.values()) if isinstance(r, dict) else int(r)
    span = facts.get("period") or {}
    period = fr_period(pd.Timestamp(span["start"]), pd.Timestamp(span["end"])) if span else ""
    totals = facts.get("totals", {})
    # the published totals (the key figures' and the pack's); the run summary's (the
    # analysis', unprotected) only for a site published before they were there
    hot = summary.get("hotspots", {})
    reports = _published_total(totals, hot, "reports_counted")
    with_reports = _published_total(totals, hot, "buildings_with_reports")
    hotspots_95: int | str | None = totals.get("hotspots_95")
    sample = (facts.get("too_few_reports") or {}).get("site") or {}
    if sample.get("too_few_reports"):  # the hotspot stage concluded nothing
        hotspots_95 = TOO_FEW_FR
    documents: list[tuple[str, str]] = []
    pack = paths.pack
    if pack.exists():
        documents.append(("Dossier du comité (à imprimer)", _rel(pack, dst_dir)))
    if pack.with_suffix(".pdf").exists():
        documents.append(("Dossier du comité (PDF)", _rel(pack.with_suffix(".pdf"), dst_dir)))
    png = paths.map.with_suffix(".png")
    if png.exists():
        documents.append(("Carte fixe pour diaporama (PNG)", _rel(png, dst_dir)))
    if (paths.processed / "quality.html").exists():
        documents.append(
            ("Rapport qualité des données", _rel(paths.processed / "quality.html", dst_dir))
        )
    # the pages under maps/<site>/ (pipelines.maps.method_pages, the map stage's): a
    # maps folder copied alone still opens them. Where the hotspot stage ran, the
    # method note as published (its counts from the published tables, with its
    # publication section), never the analysis' own.
    pages = paths.map.parent / site.id
    note = pages / METHOD_PAGE
    if (paths.processed / "method_note.html").exists() and note.exists():
        documents.append(("Note de méthode", _rel(note, dst_dir)))
    if (pages / INDICATORS_PAGE).exists():
        documents.append(("Méthode des indicateurs", _rel(pages / INDICATORS_PAGE, dst_dir)))
    for name in CHART_NAMES:
        chart = pages / f"{CHART_FILES_FR[name]}.png"
        if chart.exists():
            title = CHART_TITLES_FR.get(name, name.replace("_", " "))
            documents.append((f"Graphique : {title}", _rel(chart, dst_dir)))
    return {
        **notes_entry(paths.processed, dst_dir=dst_dir),
        "id": site.id,
        "name": site.name,
        "simulated": site.simulated,
        "map": _rel(paths.map, dst_dir),
        "png": _rel(png, dst_dir) if png.exists() else None,
        "period": period,
        "reports": reports,
        "buildings_with_reports": with_reports,
        "hotspots_95": hotspots_95,
        "trend": site_trend(summary),
        "trend_fr": trend_fr if isinstance(trend_fr, str) else None,
        "outside_study_area": sum(int(s.get("outside_study_area", 0)) for s in sources.values()),
        "rejected": rejected,
        "documents": documents,
        "attribution": list(dict.fromkeys(["osm", *site.attribution])),
        "actions": facts.get("actions") if isinstance(facts.get("actions"), dict) else None,
        "pack": _rel(pack, dst_dir) if pack.exists() else None,
        # why a figure of the table may read « s » (the site's publication rule)
        "secret_fr": Publication.of(facts).reason_fr,
    }


def actions_summary(block: dict[str, Any] | None) -> dict[str, Any] | None:
    """The actions of a site for the index (``site.json``'s ``actions``): total, counts by
    status in the register's order (with their colours), late count, share updated since
    the last committee, its date; ``None`` without a register."""
    if not block:
        return None
    by_status = {str(k): int(v) for k, v in (block.get("by_status") or {}).items() if int(v)}
    order = status_order(by_status)
    share = block.get("share_updated_since_last_committee")
    last = block.get("last_committee_date")
    return {
        "n": fr_number(int(block.get("n_actions", 0) or 0)),
        "by_status": [
            {"status": s, "n": fr_number(by_status[s]), "colour": status_colour(s)} for s in order
        ],
        "late": fr_number(int(block.get("n_overdue", 0) or 0)),
        "share_updated": (
            f"{fr_number(100 * float(share))} %" if isinstance(share, int | float) else None
        ),
        "last_committee": (
            f"{pd.Timestamp(last):%d/%m/%Y}" if isinstance(last, str) and last else None
        ),
    }


#: The planners' note exports linked from the index: (file, French label).
NOTE_EXPORTS = (
    ("annotations.geojson", "GeoJSON (QGIS, ou à redéposer dans le dossier des notes)"),
    ("annotations.csv", "CSV (tableur)"),
)


def notes_entry(processed: Path, *, dst_dir: Path) -> dict[str, Any]:
    """The planners' notes of a site for the index page, from the published notes.

    Returns
    -------
    dict
        ``notes_html`` (the escaped table of :func:`pipelines.maps.notes.notes_table_html`,
        ``None`` when the notes stage has not run), ``n_notes``, ``n_orphaned`` and
        ``note_exports`` ((label, relative link) of the exports that exist).
    """
    published = processed / "published"
    facts = read_json(published / FILES["site"]) if (published / FILES["site"]).exists() else {}
    if not facts.get("has", {}).get("notes"):
        return {"notes_html": None, "n_notes": 0, "n_orphaned": 0, "note_exports": []}
    notes = gpd.read_parquet(published / FILES["notes"])
    orphaned = (
        notes["is_orphaned"] if "is_orphaned" in notes else pd.Series(False, index=notes.index)
    )
    return {
        "notes_html": notes_table_html(notes),
        "n_notes": len(notes),
        "n_orphaned": int(orphaned.fillna(False).astype(bool).sum()),
        "note_exports": [
            (label, _rel(processed / name, dst_dir))
            for name, label in NOTE_EXPORTS
            if (processed / name).exists()
        ],
    }


def notes_block(s: dict[str, Any]) -> str:
    """The notes part of a site's block on the index page ('' without the notes stage)."""
    if s.get("notes_html") is None:
        return ""
    n, orphans = int(s.get("n_notes", 0)), int(s.get("n_orphaned", 0))
    if n == 0:
        return (
            "<h3>Notes des urbanistes</h3><p class='notes-n'>Aucune note pour l'instant. "
            "Sur la carte, le bouton « Annoter » permet d'en écrire et de les exporter ; "
            "le fichier exporté est à déposer dans le dossier des notes du site.</p>"
        )
    if orphans:
        counts = (
            f"{plural(n, 'note')}, dont {plural(orphans, 'note orpheline', 'notes orphelines')} "
            "(bâtiment disparu d'OpenStreetMap ou note sans position : à vérifier)"
        )
    else:
        counts = f"{plural(n, 'note')}, aucune orpheline"
    exports = " · ".join(
        f"<a href='{esc(href)}'>{esc(label)}</a>" for label, href in s.get("note_exports", [])
    )
    return (
        f"<h3>Notes des urbanistes</h3><p class='notes-n'>{esc(counts)}."
        + (f" Exports : {exports}." if exports else "")
        + "</p>"
        + str(s["notes_html"])
    )


def secret_notes(sites: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What « s » means, for the sites whose row of the index's table shows one: per
    reason (:attr:`pipelines.published.Publication.reason_fr`, which names the site's
    threshold), the names of those sites; empty when no figure of the table is hidden."""
    notes: dict[str, list[str]] = {}
    for s in sites:
        shown = (s.get("reports"), s.get("buildings_with_reports"), s.get("hotspots_95"))
        if HIDDEN_FLAG in shown:
            reason = str(s.get("secret_fr") or Publication().reason_fr)
            notes.setdefault(reason, []).append(str(s["name"]))
    return [{"reason": reason, "sites": names} for reason, names in notes.items()]


def index_page(sites: list[dict[str, Any]]) -> str:
    """The index page (escaped HTML) from :func:`site_entry` dictionaries.

    Template ``index.html`` (:func:`pipelines.markup.render_template`): every value goes
    in as a variable, escaped; only the notes part (:func:`notes_block`) is HTML built
    and escaped in Python. A figure hidden by the publication rule reads « s », and the
    note under the table says why (:func:`secret_notes`).
    """
    rows = []
    for s in sites:
        trend = s.get("trend")
        arrow = None
        if trend in ARROWS:
            symbol, css, words = ARROWS[trend]
            arrow = {"symbol": symbol, "css": css, "words": s.get("trend_fr") or words}
        hot = s.get("hotspots_95")
        if isinstance(hot, str):
            hot_text = hot
        else:
            hot_text = fr_number(hot) if isinstance(hot, int | float) else "non calculés"
        rows.append(
            {
                "id": s.get("id", ""),
                "name": s["name"],
                "map": s["map"],
                "simulated": bool(s.get("simulated")),
                "period": s.get("period", ""),
                "reports": _count_text(s.get("reports", 0)),
                "buildings_with_reports": _count_text(s.get("buildings_with_reports", 0)),
                "hotspots": hot_text,
                "trend": arrow,
                "trend_note": None if arrow else s.get("trend_fr"),
                "rejected": fr_number(int(s.get("rejected", 0))),
                "outside": fr_number(int(s.get("outside_study_area", 0))),
                "documents": list(s.get("documents", [])),
                "png": s.get("png"),
                "notes": Markup(notes_block(s)),  # escaped by notes_block
                "actions": actions_summary(s.get("actions")),
                "pack": s.get("pack"),
                "sources": source_labels(s.get("attribution", ["osm"])),
            }
        )
    return str(
        render_template(
            "index.html",
            sites=rows,
            secret=HIDDEN_FLAG,
            secret_notes=secret_notes(sites),
            css=Markup(template_text("index.css")),  # a file of the package
            br=Markup("<br>"),
            all_sources=list(ATTRIBUTIONS.values()),
            version=__version__,
        )
    )


def run_index(config: Config, *, dst: Path) -> Path:
    """Write ``index.html`` linking the maps of every site, with their key figures; from
    ``portfolio_page_from`` sites on, the portfolio page (:mod:`pipelines.maps.portfolio`)."""
    dst = Path(dst)
    if len(config.sites) >= config.portfolio_page_from:
        return write_text(portfolio_page(config, dst_dir=dst.parent), dst)
    entries = [site_entry(config, site, dst_dir=dst.parent) for site in config.sites]
    return write_text(index_page(entries), dst)


def _size_fr(n_bytes: int) -> str:
    if n_bytes < 1_000_000:
        return f"{fr_number(max(1, round(n_bytes / 1000)))} ko"
    return f"{fr_number(n_bytes / 1_000_000, 1)} Mo"


def public_index_page(config: Config, *, dst_dir: Path) -> str:
    """The open-data pack's index page (escaped HTML, template ``public_index.html``):
    its rule (the ``exports`` profile of the first site), and per site of ``config`` the
    files of :data:`pipelines.stages.PUBLIC_PACK` found in ``dst_dir``, with what each
    holds and its size."""
    sites = []
    for site in config.sites:
        files = []
        for suffix in PUBLIC_PACK:
            path = Path(dst_dir) / f"{site.id}{suffix}"
            if path.is_file():
                label = PUBLIC_FILES_FR[suffix]
                files.append(
                    {"href": path.name, "label": label, "size": _size_fr(path.stat().st_size)}
                )
        sites.append(
            {"id": site.id, "name": site.name, "simulated": site.simulated, "files": files}
        )
    publication = config.sites[0].publication
    rule = publication.rule(publication.exports_profile)
    return str(
        render_template(
            "public_index.html",
            sites=sites,
            threshold=rule.min_households,
            round_base=rule.round_base,
            css=Markup(template_text("index.css")),  # a file of the package
            version=__version__,
        )
    )


def run_public_index(config: Config, *, dst_dir: Path) -> Path:
    """Write the open-data pack's ``index.html`` in ``dst_dir`` (:func:`public_index_page`).
    Each site's run rewrites it after its own files, so the last one lists them all."""
    return write_text(public_index_page(config, dst_dir=dst_dir), Path(dst_dir) / "index.html")
