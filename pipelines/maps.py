"""Meeting maps: one self-contained, offline HTML map per site, a PNG for slides, and the
index page.

A site map shows the buildings coloured by one of several *views* (number of reports, rate
per 100 dwellings, Gi* hotspots, emerging hotspots, before/after change), over an offline
basemap drawn from the site's own OSM extract (:mod:`pipelines.basemap`), with optional
layers: quartic-kernel density contours, report markers by category (clustered), field
observations, chronic buildings, the site perimeter, the hotspot zones (under the
buildings) and the planners' notes. A period selector recolours the buildings and filters
the markers month by month. Each layer is drawn when its columns or files exist, and
otherwise skipped (with a French note in the legend when a committee would miss it).

The planners annotate the map itself: the « Annoter » mode (:mod:`pipelines.annotations`,
Leaflet.draw) lets them click a building, a zone or a note, or draw a shape, and export
their notes as one GeoJSON file to drop into ``<annotations_dir>/<site>/``; the next run
shows those notes in their layer and in the fact sheets of their buildings and zones.

Python prepares every value in one JSON block (:func:`map_data`); a small inline script
(``templates/map.js``, see :class:`_App`) draws it with the pinned Leaflet and
Leaflet.markercluster files, inlined by :mod:`pipelines._assets`, so a map opens with no
network at all. Its styles are ``templates/map.css``. Every
text that came from a resident or a file is escaped (:func:`html.escape`) in Python, and
data is never compiled as a template: the page's pieces go into the folium figure through
:mod:`pipelines._html` (:class:`~pipelines._html.RawHtml`, trusted templates, a JSON block).
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

from pipelines._html import SafeMacroElement, add_html, script_json, stable_ids, template_text
from pipelines._map_data import (
    MAX_REPORT_POINTS,
    MapOptions,
    TooFewReports,
    enrich_buildings,
    map_data,
)
from pipelines._map_html import (
    ATTRIBUTIONS,
    HATCH_DEFS,
    building_fact_sheet,
    esc,
    footer_html,
    fr_period,
    header_html,
    title_html,
)
from pipelines._map_views import (
    CATEGORY_COLOURS,
    GI_COLOURS,
    PALETTE,
    ZERO_COLOUR,
    Classes,
    before_after_counts,
    count_classes,
    monthly_counts,
    naive_dates,
    rate_classes,
)
from pipelines._scrub import scrub_series
from pipelines.config import Config, SiteConfig

log = logging.getLogger(__name__)

__all__ = [
    "ATTRIBUTIONS",
    "CATEGORY_COLOURS",
    "GI_COLOURS",
    "MAX_REPORT_POINTS",
    "PALETTE",
    "ZERO_COLOUR",
    "Classes",
    "MapOptions",
    "TooFewReports",
    "before_after_counts",
    "build_site_map",
    "building_fact_sheet",
    "count_classes",
    "enrich_buildings",
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

    The script (``templates/map.js``, ``__MAP__`` standing for the Leaflet map's name)
    only draws what Python prepared, with Leaflet and Leaflet.markercluster. It is
    hand-written rather than made of Folium layers because the period selector must
    recolour the *same* building paths and refill the marker clusters from one compact
    data array (the idea of Folium's ``FastMarkerCluster``: a data array and a callback,
    not one JavaScript object per report), which Folium's per-layer code cannot share.
    The count and rate classes are recomputed for the chosen period with the same rule as
    :func:`count_classes` (round geometric class bounds between 1 and the largest value);
    the tests check that both give the same legend for the whole period.
    """

    _template = Template("{% macro script(this, kwargs) %}{{ this.js }}{% endmacro %}")

    def __init__(self, js: str) -> None:
        super().__init__()
        self.js = js


def data_json(data: Mapping[str, Any]) -> str:
    """JSON of the data block, safe inside ``<script type="application/json">``
    (:func:`pipelines._html.script_json`)."""
    return script_json(data)


def build_site_map(
    buildings: gpd.GeoDataFrame,
    reports: gpd.GeoDataFrame,
    *,
    site_name: str,
    simulated: bool,
    attributions: Sequence[str],
    basemap: gpd.GeoDataFrame | None = None,
    kde: gpd.GeoDataFrame | None = None,
    chronic: pd.DataFrame | None = None,
    perimeter: tuple[float, float, float, float] | None = None,
    options: MapOptions | None = None,
    zones: gpd.GeoDataFrame | None = None,
    annotations: gpd.GeoDataFrame | None = None,
    site_id: str | None = None,
    annotation_tags: Sequence[str] = (),
    too_few: TooFewReports | None = None,
) -> folium.Map:
    """Build the Folium map of a site (see :func:`map_data` for the inputs).

    Parameters
    ----------
    site_id, annotation_tags
        With both, the map gets the « Annoter » mode (:func:`pipelines.annotations.
        add_annotation_ui`): the site id goes into every note and the export's file
        name, the tags (``Config.annotation_tags``) are the form's choices.

    Returns
    -------
    folium.Map
        Without any web resource but the pinned scripts that :func:`render_map` inlines.
    """
    from pipelines._assets import make_map

    data = map_data(
        buildings, reports, site_name=site_name, basemap=basemap, kde=kde, chronic=chronic,
        perimeter=perimeter, options=options, zones=zones, annotations=annotations,
        too_few=too_few,
    )  # fmt: skip
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
    _ClusterAssets().add_to(m)
    # Built HTML goes in as it is (never compiled as a template: see pipelines._html).
    add_html(root.header, title_html(site_name))
    add_html(root.header, f"<style>{template_text('map.css')}</style>")
    add_html(root.html, header_html(site_name, _unescaped_period(reports), simulated=simulated))
    add_html(root.html, HATCH_DEFS)
    add_html(
        root.html, f'<script type="application/json" id="vigie-data">{data_json(data)}</script>'
    )
    add_html(root.html, footer_html(attributions))
    _App(template_text("map.js").replace("__MAP__", m.get_name())).add_to(m)
    if site_id and annotation_tags:
        from pipelines.annotations import add_annotation_ui

        add_annotation_ui(m, site_id=site_id, tags=annotation_tags)
    stable_ids(root, seed)
    return m


def _unescaped_period(reports: pd.DataFrame) -> str:
    dates = naive_dates(reports["reported_at"])
    return fr_period(dates.min(), dates.max())


def render_map(m: folium.Map) -> str:
    """Render a map to a self-contained HTML string (assets inlined, no network)."""
    from pipelines._assets import inline_assets

    return inline_assets(m.get_root().render())


# ----------------------------------------------------------------------------- I/O
def _read_optional_geo(path: Path) -> gpd.GeoDataFrame | None:
    from pipelines.io import read_geoparquet

    return read_geoparquet(path) if path.exists() else None


def read_site_inputs(site: SiteConfig, processed: Path) -> dict[str, Any]:
    """The optional inputs of a site map that exist in ``processed`` (see :func:`map_data`).

    The basemap is read from ``basemap.parquet`` (``vigie basemap``) or, when that file
    is absent, straight from the site's OSM extract; the zones from ``zones.parquet``
    (``vigie zones``) and the notes from ``annotations.parquet`` (``vigie annotations``),
    ``None`` when absent; ``too_few``, what the hotspot and zones stages found too few
    reports to conclude on (:class:`TooFewReports`, from ``hotspot_summary.json`` and
    ``zone_summary.json`` when they exist).
    """
    from pipelines.basemap import read_osm_basemap
    from pipelines.buildings import read_osm_bounds
    from pipelines.io import read_json

    basemap = _read_optional_geo(processed / "basemap.parquet")
    if basemap is None and Path(site.osm).exists():
        log.info("%s: no basemap.parquet, reading the basemap from %s", site.id, site.osm)
        basemap = read_osm_basemap(site.osm)
    chronic_path = processed / "chronic.csv"
    chronic = pd.read_csv(chronic_path, dtype=str) if chronic_path.exists() else None
    perimeter = site.study_area_bbox or (
        read_osm_bounds(site.osm) if Path(site.osm).exists() else None
    )
    return {
        "basemap": basemap,
        "kde": _read_optional_geo(processed / "kde.parquet"),
        "chronic": chronic,
        "perimeter": perimeter,
        "zones": _read_optional_geo(processed / "zones.parquet"),
        "annotations": _read_optional_geo(processed / "annotations.parquet"),
        "too_few": TooFewReports.from_summaries(
            *(
                read_json(processed / name) if (processed / name).exists() else None
                for name in ("hotspot_summary.json", "zone_summary.json")
            )
        ),
    }


def run_site(config: Config, site: SiteConfig, *, processed: Path, dst: Path) -> Path:
    """Write the HTML map of ``site`` from its processed files, and its PNG beside it.

    Reads ``buildings.parquet`` and ``reports.parquet`` (required) and, when present,
    ``basemap.parquet``, ``kde.parquet``, ``chronic.csv`` (hotspot stage),
    ``zones.parquet`` (zones stage), ``emerging.parquet`` and ``followup.csv`` (trends
    stage), ``annotations.parquet`` (planners' notes); writes ``dst`` and ``dst`` with the
    suffix ``.png`` (:mod:`pipelines.charts_map`). The map has the « Annoter » mode with
    the configuration's ``annotation_tags``.
    """
    from pipelines import charts_map
    from pipelines.io import read_geoparquet, write_text

    buildings = read_geoparquet(processed / "buildings.parquet")
    reports = read_geoparquet(processed / "reports.parquet")
    followup_path = processed / "followup.csv"
    buildings = enrich_buildings(
        buildings,
        emerging=_read_optional_geo(processed / "emerging.parquet"),
        followup=pd.read_csv(followup_path, dtype={"key": str}) if followup_path.exists() else None,
    )
    extra = read_site_inputs(site, processed)
    attributions = list(site.attribution) or ["osm"]
    options = MapOptions.from_params(site.params)
    # The form's tags come from the configuration and are shown to every reader of the
    # map: scrubbed as the notes' own tags are.
    tags, _ = scrub_series(pd.Series(list(config.annotation_tags), dtype="str"))
    m = build_site_map(
        buildings, reports, site_name=site.name, simulated=site.simulated,
        attributions=attributions, options=options, site_id=site.id,
        annotation_tags=tuple(tags.tolist()), **extra,
    )  # fmt: skip
    out = write_text(render_map(m), dst)
    charts_map.write_site_png(
        buildings, reports, Path(dst).with_suffix(".png"), site_name=site.name,
        simulated=site.simulated, attributions=attributions, basemap=extra["basemap"],
        hotspot_note=extra["too_few"].site,
    )  # fmt: skip
    return out


def run_index(config: Config, *, dst: Path) -> Path:
    """Write ``index.html`` linking the maps of every site, with their key figures."""
    from pipelines._map_index import run_index as _run_index

    return _run_index(config, dst=dst)
