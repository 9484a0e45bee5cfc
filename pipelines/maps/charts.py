"""The committee charts of a site, from its published tables: which chart shows what; the
drawing itself is :mod:`pipelines.maps.plots`.

Reads ``published/`` only (:mod:`pipelines.published`: ``category_series``,
``top_buildings``, ``closing_delays`` and ``site.json``) and writes
``processed/<site>/charts/<name>.png`` with its data beside it (``<name>.csv``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipelines.config import Config, SiteConfig
from pipelines.maps import plots, trendchart
from pipelines.published import Publication, Published, hidden, read_published
from pipelines.stages import CHART_NAMES, SitePaths


def chart_note(site: SiteConfig) -> str:
    """The charts' footnote: simulated data, or the site's sources."""
    if site.simulated:
        return "Données simulées (démonstration) — Vigie"
    return "Source : " + (", ".join(s.id for s in site.sources)) + " — Vigie"


def site_charts(
    published: Published, *, site_name: str, note: str | None = None
) -> dict[str, plots.Chart]:
    """The three charts of a site (:mod:`pipelines.maps.plots`), by file basename."""
    freq = str((published.site.get("series") or {}).get("freq", "M"))
    publication = Publication.of(published.site)
    unit = plots.PERIOD_FR.get(plots.period_freq(freq), "période")
    out: dict[str, Any] = {}

    cats = published.category_series
    if cats is not None and len(cats):
        cats = cats.assign(
            hidden=hidden(cats, "n_reports"), total_hidden=hidden(cats, "n_period_reports")
        )
        wide = cats.pivot(index="period_start", columns="category", values="n_reports")
        per_period = cats.drop_duplicates("period_start").set_index("period_start")
        out["reports_by_category"] = plots.category_bars(
            wide,
            title=f"{site_name} — signalements par {unit} et par catégorie",
            freq=freq,
            note=note,
            totals=per_period["n_period_reports"],
            hidden=cats.pivot(index="period_start", columns="category", values="hidden"),
            totals_hidden=per_period["total_hidden"],
            publication=publication,
        )
    else:
        out["reports_by_category"] = plots.empty_chart(
            f"{site_name} — signalements par {unit}", "Aucun signalement à compter.", note=note
        )

    top = published.top_buildings
    if top is not None and len(top):
        top = top.sort_values(["rank", "period_start"], kind="stable")
        top = top.assign(hidden=hidden(top, "n_reports"))
        first = top.drop_duplicates("building_id").set_index("building_id")
        series = top.pivot(index="building_id", columns="period_start", values="n_reports")
        series = series.loc[first.index]
        masked = top.pivot(index="building_id", columns="period_start", values="hidden")
        emerging = (
            {str(k): str(v) for k, v in first["emerging_label_fr"].items() if isinstance(v, str)}
            if "emerging_label_fr" in first
            else None
        )
        out["top_buildings"] = trendchart.building_trends(
            series,
            first,
            labels={str(k): str(v) for k, v in first["building_label"].items()},
            emerging=emerging,
            title=f"{site_name} — les {len(first)} bâtiments les plus signalés : tendance",
            freq=freq,
            note=note,
            hidden=masked.loc[first.index] if bool(top["hidden"].any()) else None,
            publication=publication,
        )
    else:
        out["top_buildings"] = plots.empty_chart(
            f"{site_name} — bâtiments les plus signalés",
            "Aucun signalement rattaché à un bâtiment.",
            note=note,
        )

    delays = published.closing_delays
    if delays is not None and len(delays):
        delays = delays.set_index("category")
        out["closing_delays"] = plots.closing_delay_bars(
            delays,
            title=f"{site_name} — délais de clôture par catégorie",
            note=note,
            hidden=hidden(delays, "n_closed"),
            publication=publication,
        )
    else:
        out["closing_delays"] = plots.empty_chart(
            f"{site_name} — délais de clôture",
            "Les sources de ce site ne donnent pas de date de clôture :\ndélais non calculés.",
            note=note,
        )
    return out


def run_charts(config: Config, site: SiteConfig, *, processed: Path, dst_dir: Path) -> list[Path]:
    """Write the charts of ``site`` (PNG and CSV, :data:`CHART_NAMES`) in ``dst_dir``
    from the published tables in ``processed``; return the files written."""
    published = read_published(Path(processed) / SitePaths.of(config, site.id).published.name)
    made = site_charts(published, site_name=site.name, note=chart_note(site))
    written: list[Path] = []
    for name, chart in made.items():
        written.extend(plots.save_chart(chart, Path(dst_dir) / f"{name}.png"))
    return written


__all__ = ["CHART_NAMES", "chart_note", "run_charts", "site_charts"]
