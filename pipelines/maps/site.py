"""Meeting maps: one self-contained, offline HTML map per site, a PNG for slides, and the
index page.

A site map shows the buildings coloured by one of several *views* (number of reports, rate
per 100 dwellings, Gi* hotspots, emerging hotspots, before/after change), over an offline
basemap (``basemap.parquet``, drawn from the site's OSM extract), with optional
layers: quartic-kernel density contours, report markers by category (clustered), field
observations, chronic buildings, the site perimeter, the hotspot zones (under the
buildings) and the planners' notes. A period selector recolours the buildings and filters
the markers month by month. Each layer is drawn when its columns or files exist, and
otherwise skipped (with a French note in the legend when a committee would miss it).

The planners annotate the map itself: the « Annoter » mode (:mod:`pipelines.maps.notes`,
Leaflet.draw) lets them click a building, a zone or a note, or draw a shape, and export
their notes as one GeoJSON file to drop into ``<annotations_dir>/<site>/``; the next run
shows those notes in their layer and in the fact sheets of their buildings and zones.

Python prepares every value in one JSON block (:func:`map_data`); a small inline script
(``templates/map.js``, see :class:`_App`) draws it with the pinned Leaflet and
Leaflet.markercluster files, inlined by :mod:`pipelines.maps.assets`, so a map opens with no
network at all. Its styles are ``templates/map.css``. Every
text that came from a resident or a file is escaped (:func:`html.escape`) in Python, and
data is never compiled as a template: the page's pieces go into the folium figure through
:mod:`pipelines.markup` (:class:`~pipelines.markup.RawHtml`, trusted templates, a JSON block).
Element ids derive from the site id, so identical runs write identical files.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import pandas as pd
from branca.element import Figure
from folium.elements import JSCSSMixin
from folium.plugins import MarkerCluster
from folium.template import Template

from pipelines.config import Config, SiteConfig
from pipelines.fr import fr_period
from pipelines.io import read_geoparquet, write_text
from pipelines.maps import plots
from pipelines.maps.assets import inline_assets, make_map
from pipelines.maps.charts import chart_note, site_charts
from pipelines.maps.data import MapOptions, TooFewReports, map_data
from pipelines.maps.exports import write_exports
from pipelines.maps.html import (
    ATTRIBUTIONS,
    HATCH_DEFS,
    building_fact_sheet,
    esc,
    footer_html,
    header_html,
    title_html,
)
from pipelines.maps.index import run_index, run_public_index
from pipelines.maps.method_pages import write_method_pages
from pipelines.maps.notes import add_annotation_ui
from pipelines.maps.png import write_site_png
from pipelines.maps.views import (
    CATEGORY_COLOURS,
    GI_COLOURS,
    PALETTE,
    ZERO_COLOUR,
    Classes,
    count_classes,
    monthly_counts,
    rate_classes,
)
from pipelines.markup import SafeMacroElement, add_html, script_json, stable_ids, template_text
from pipelines.progress import Progress
from pipelines.published import Publication, Published, read_published
from pipelines.reports import naive_dates
from pipelines.stages import CHART_FILES_FR, PUBLIC_CHART_NAMES, PUBLIC_DIR, SitePaths

log = logging.getLogger(__name__)

__all__ = [
    "ATTRIBUTIONS",
    "CATEGORY_COLOURS",
    "GI_COLOURS",
    "PALETTE",
    "ZERO_COLOUR",
    "Classes",
    "MapOptions",
    "TooFewReports",
    "build_site_map",
    "building_fact_sheet",
    "count_classes",
    "esc",
    "map_data",
    "monthly_counts",
    "naive_dates",
    "rate_classes",
    "render_map",
    "run_index",
    "run_site",
]


# ----------------------------------------------------------------------------- page
class _ClusterAssets(JSCSSMixin):
    """Puts Leaflet.markercluster's script and styles in the page (inlined later)."""

    default_js = MarkerCluster.default_js
    default_css = MarkerCluster.default_css
    _template = Template("")


class _App(SafeMacroElement):
    """The inline script that draws the data block on the map (inserted as it is).

    The script (``templates/map.js``, inlined as it is: even the Leaflet map's variable name
    comes in the data block, as ``map``) only draws what Python prepared, with Leaflet and
    Leaflet.markercluster. It is hand-written rather than made of Folium layers because the
    period selector must recolour the *same* building paths and refill the marker clusters
    from one compact data array (the idea of Folium's ``FastMarkerCluster``: a data array
    and a callback, not one JavaScript object per report), which Folium's per-layer code
    cannot share. The count and rate classes are recomputed for the chosen period with the
    same rule as :func:`count_classes` (round geometric class bounds between 1 and the
    largest value); the tests check that both give the same legend for the whole period.
    """

    _template = Template("{% macro script(this, kwargs) %}{{ this.js }}{% endmacro %}")

    def __init__(self, js: str) -> None:
        super().__init__()
        self.js = js


def data_json(data: Mapping[str, Any]) -> str:
    """JSON of the data block, safe inside ``<script type="application/json">``
    (:func:`pipelines.markup.script_json`)."""
    return script_json(data)


def build_site_map(
    published: Published,
    *,
    site_name: str,
    simulated: bool,
    attributions: Sequence[str],
    basemap: gpd.GeoDataFrame | None = None,
    options: MapOptions | None = None,
    site_id: str | None = None,
) -> folium.Map:
    """Build the Folium map of a site from its published tables (see :func:`map_data`).

    Parameters
    ----------
    site_id
        With it and published ``annotation_tags``, the map gets the « Annoter » mode
        (:func:`pipelines.maps.notes.add_annotation_ui`): the site id goes into every note
        and the export's file name, the tags are the form's choices.

    Returns
    -------
    folium.Map
        Without any web resource but the pinned scripts that :func:`render_map` inlines.
    """
    data = map_data(published, site_name=site_name, basemap=basemap, options=options)
    (south, west), (north, east) = data["bounds"]
    m = make_map(
        location=[(south + north) / 2, (west + east) / 2],
        zoom_start=16,
        control_scale=False,
        prefer_canvas=False,
    )
    root = m.get_root()
    assert isinstance(root, Figure)
    # Ids from the site, not random: the map's name is fixed before the script uses it.
    seed = site_id or site_name
    stable_ids(root, seed)
    data["map"] = m.get_name()  # the global variable folium gives the Leaflet map
    _ClusterAssets().add_to(m)
    # Built HTML goes in as it is (never compiled as a template: see pipelines.markup).
    add_html(root.header, title_html(site_name))
    add_html(root.header, f"<style>{template_text('map.css')}</style>")
    add_html(root.html, header_html(site_name, period_text(published), simulated=simulated))
    add_html(root.html, HATCH_DEFS)
    add_html(
        root.html, f'<script type="application/json" id="vigie-data">{data_json(data)}</script>'
    )
    add_html(root.html, footer_html(attributions))
    _App(template_text("map.js")).add_to(m)
    _App(template_text("map_keys.js")).add_to(m)  # keyboard use, after the map is drawn
    _App(template_text("map_reflow.js")).add_to(m)  # zoomed to 200 % or 400 %
    facts = published.site
    tags = list(facts.get("annotation_tags", []))
    if site_id and tags:
        deleted = facts.get("deleted_status")
        statuses = list(facts.get("note_statuses", []))
        if deleted and deleted not in statuses:
            statuses.append(deleted)
        add_annotation_ui(m, site_id=site_id, tags=tags, statuses=statuses)
    stable_ids(root, seed)
    return m


def period_text(published: Published) -> str:
    """The study period in words (unescaped), from the published ``site.json``."""
    period = published.site.get("period") or {}
    if not period:
        return fr_period(None, None)
    return fr_period(pd.Timestamp(period["start"]), pd.Timestamp(period["end"]))


def render_map(m: folium.Map) -> str:
    """Render a map to a self-contained HTML string (assets inlined, no network), in
    French for a screen reader (Folium writes ``<html>`` without a language)."""
    page = m.get_root().render().replace("<html>", '<html lang="fr">', 1)
    return inline_assets(page)


# ----------------------------------------------------------------------------- I/O
def run_site(
    config: Config,
    site: SiteConfig,
    *,
    processed: Path,
    dst: Path,
    published_dir: str | None = None,
) -> Path:
    """Write the HTML map of ``site`` from its published tables, and its PNG beside it.

    Reads ``published/`` (:func:`pipelines.publish.read_published`) and
    ``basemap.parquet`` (the offline basemap, :mod:`pipelines.osm`) in ``processed``;
    writes ``dst`` and ``dst`` with the suffix ``.png`` (:mod:`pipelines.maps.png`). The
    map has the « Annoter » mode with the published ``annotation_tags``; where the
    published ``too_few_reports`` says the site has too few reports, neither the map nor
    the PNG shows a hotspot (:class:`~pipelines.maps.data.TooFewReports`).
    ``published_dir``: another folder of published tables in ``processed`` (the
    open-data pack's ``published_public``).
    """
    name = published_dir or SitePaths.of(config, site.id).published.name
    with Progress(f"Carte ({site.id})", 4, unit="étape") as progress:
        published = read_published(Path(processed) / name)
        basemap = read_geoparquet(Path(processed) / "basemap.parquet")
        progress.update(step="lecture")
        attributions = list(site.attribution) or ["osm"]
        options = site.settings.maps
        m = build_site_map(
            published, site_name=site.name, simulated=site.simulated,
            attributions=attributions, options=options, site_id=site.id, basemap=basemap,
        )  # fmt: skip
        progress.update(step="carte")
        out = write_text(render_map(m), dst)
        progress.update(step="page HTML")
        write_site_png(
            published.profile, Path(dst).with_suffix(".png"), site_name=site.name,
            period=period_text(published), simulated=site.simulated,
            attributions=attributions, basemap=basemap,
            hotspot_note=TooFewReports.from_site(published.site).site,
            publication=Publication.of(published.site),
        )  # fmt: skip
        progress.update(step="image PNG")
    if published_dir is None:  # the notes and charts the index links to, beside the map
        write_method_pages(
            Path(processed) / name, Path(processed) / "charts", Path(dst).parent / site.id,
            simulated=site.simulated,
        )  # fmt: skip
    return out


def run_public(config: Config, site: SiteConfig, *, processed: Path, dst_dir: Path) -> Path:
    """The open-data pack of ``site`` in ``dst_dir`` (``make public``), from the tables
    of ``published_public/``: the map and its PNG, the building and monthly CSV, the
    GeoPackage (:mod:`pipelines.maps.exports`), the charts (:mod:`pipelines.maps.charts`,
    PNG and CSV, under their French names, :data:`pipelines.stages.CHART_FILES_FR`)
    (:data:`pipelines.stages.PUBLIC_PACK`); then the pack's ``index.html``
    (:func:`~pipelines.maps.index.run_public_index`)."""
    dst = Path(dst_dir)
    out = run_site(
        config, site, processed=processed, dst=dst / f"{site.id}.html", published_dir=PUBLIC_DIR
    )
    published = read_published(Path(processed) / PUBLIC_DIR)
    write_exports(
        published,
        csv_buildings=dst / f"{site.id}_batiments.csv",
        csv_monthly=dst / f"{site.id}_mensuel.csv",
        gpkg=dst / f"{site.id}.gpkg",
    )
    made = site_charts(published, site_name=site.name, note=chart_note(site))
    for name in PUBLIC_CHART_NAMES:
        plots.save_chart(made[name], dst / f"{site.id}_{CHART_FILES_FR[name]}.png")
    run_public_index(config, dst_dir=dst)
    return out
