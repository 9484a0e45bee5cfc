"""A static PNG map of a site for slide decks (matplotlib): buildings by number of reports,
hotspots outlined, the offline basemap under them, a French legend, a scale bar and the
sources.

Drawn in the site's metric CRS (Lambert-93 in France, :func:`pipelines.crs.metric_crs_of`)
so that the scale bar is exact.
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.text import Text

from pipelines.crs import metric_crs_of
from pipelines.io import atomic_path
from pipelines.maps.html import source_labels
from pipelines.maps.plots import shrink_to_width
from pipelines.maps.views import BASEMAP_STYLES, LAND_COLOUR, ZERO_COLOUR, count_classes
from pipelines.published import Publication, hidden

log = logging.getLogger(__name__)

# Text drawn in these charts comes from data (OSM building names, site names, labels):
# it is never mathtext, or a "$\x$" in a name would abort the stage.
matplotlib.rcParams["text.parse_math"] = False

#: Outline of hotspots (bin ≥ 2, 95 % and 99 %) and cold spots (bin ≤ −2).
HOT_EDGE = "#000000"
COLD_EDGE = "#2166ac"


#: Characters per line of the legend's labels: the legend has the right quarter of the
#: image, and « < 3 : masqué : moins de 3 ménages (secret statistique) » on one line ran
#: past the image's edge.
LEGEND_WIDTH = 34


def nice_scale_length(width_m: float) -> float:
    """A round scale-bar length near a fifth of the map width (10, 20, 25, 50, 100… m)."""
    target = max(width_m / 5.0, 1e-9)
    exp = np.floor(np.log10(target))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if step * 10**exp >= target * 0.75:
            return float(step * 10**exp)
    return float(10 ** (exp + 1))


#: Line widths of the basemap, in points per CSS pixel of
#: :data:`pipelines.maps.views.BASEMAP_STYLES`.
LINE_SCALE = 0.4


def _draw_basemap(ax: Axes, basemap: gpd.GeoDataFrame) -> None:
    for kind, style in BASEMAP_STYLES.items():
        part = basemap[basemap["kind"] == kind]
        if part.empty:
            continue
        width = float(style["weight"]) * LINE_SCALE  # type: ignore[arg-type]
        if style["fill"]:
            part.plot(ax=ax, color=style["fill"], edgecolor=style["color"], linewidth=0.3, zorder=1)
            continue
        if style.get("casing"):
            part.plot(ax=ax, color=style["casing"], linewidth=width + 1.0, zorder=1.5,
                      capstyle="round")  # fmt: skip
        part.plot(
            ax=ax,
            color=style["color"],
            linewidth=width,
            linestyle="--" if style.get("dash") else "-",
            zorder=2,
        )


def site_figure(
    buildings: gpd.GeoDataFrame,
    *,
    site_name: str,
    period: str,
    simulated: bool,
    attributions: Sequence[str],
    basemap: gpd.GeoDataFrame | None = None,
    hotspot_note: str | None = None,
    publication: Publication | None = None,
) -> Figure:
    """The slide map of a site.

    Parameters
    ----------
    buildings
        ``buildings.parquet`` (any CRS) with ``n_reports`` and, when computed, ``gi_bin``.
    site_name, period
        Title and subtitle (``period`` in words, e.g. ``du 01/01/2024 au 31/12/2025``).
    simulated
        Adds a red "DONNÉES SIMULÉES" mention.
    attributions
        Keys of :data:`pipelines.maps.html.ATTRIBUTIONS`; OpenStreetMap always listed.
    basemap
        ``basemap.parquet``, drawn under the buildings.
    hotspot_note
        Why the hotspot stage concluded nothing (too few reports: the published
        ``too_few_reports`` of ``site.json``): no hotspot is outlined and the legend says
        why.
    publication
        The profile the counts were published under: a building whose ``n_reports`` is
        hidden (``n_reports_flag`` « s ») is hatched, never drawn as zero, and the legend
        says « < 3 : masqué… ».

    Returns
    -------
    matplotlib.figure.Figure
        16:10, 1800 × 1125 pixels at 150 dpi.
    """
    crs = metric_crs_of(buildings)
    b = buildings.to_crs(crs)
    fig = Figure(figsize=(12, 7.5), dpi=150)
    ax = fig.add_axes((0.01, 0.07, 0.70, 0.83))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_facecolor(LAND_COLOUR)
    for spine in ax.spines.values():
        spine.set_edgecolor("#999999")
    ax.set_aspect("equal")
    if basemap is not None and not basemap.empty:
        _draw_basemap(ax, basemap.to_crs(crs))
    secret = hidden(b, "n_reports").to_numpy()
    counts = b["n_reports"].mask(secret)
    classes = count_classes(counts)
    colours = [classes.colour(v) for v in counts.fillna(0)]
    shown = b[~secret]
    shown.plot(ax=ax, color=[c for c, s in zip(colours, secret, strict=True) if not s],
               edgecolor="#555555", linewidth=0.25, zorder=3)  # fmt: skip
    handles: list[Patch | Line2D] = [
        Patch(facecolor=ZERO_COLOUR, edgecolor="#555555", label="aucun signalement")
    ]
    handles += [
        Patch(facecolor=c, edgecolor="#555555", label=lab)
        for c, lab in zip(classes.colours, classes.labels, strict=True)
    ]
    if secret.any():  # hidden counts: hatched, never a zero colour
        pub = publication or Publication()
        b[secret].plot(ax=ax, facecolor="white", edgecolor="#555555", hatch="////",
                       linewidth=0.25, zorder=3)  # fmt: skip
        handles.append(
            Patch(facecolor="white", edgecolor="#555555", hatch="////",
                  label=textwrap.fill(f"{pub.marker_fr} : {pub.reason_fr}", LEGEND_WIDTH))
        )  # fmt: skip
    note = ""
    if hotspot_note:
        note = f"Points chauds : {hotspot_note}."
    elif "gi_bin" in b:
        bins = pd.to_numeric(b["gi_bin"], errors="coerce")
        hot, cold = b[bins >= 2], b[bins <= -2]
        if not hot.empty:
            hot.boundary.plot(ax=ax, color=HOT_EDGE, linewidth=1.8, zorder=4)
        if not cold.empty:
            cold.boundary.plot(ax=ax, color=COLD_EDGE, linewidth=1.8, zorder=4)
        handles.append(
            Line2D([], [], color=HOT_EDGE, linewidth=2.5,
                   label=f"Point chaud à 95 % ou plus ({len(hot)})")
        )  # fmt: skip
        if not cold.empty:
            handles.append(
                Line2D([], [], color=COLD_EDGE, linewidth=2.5,
                       label=f"Point froid à 95 % ou plus ({len(cold)})")
            )  # fmt: skip
    else:
        note = "Points chauds (Gi*) : non calculés pour ce site."
    xmin, ymin, xmax, ymax = b.total_bounds
    pad = 0.03 * max(xmax - xmin, ymax - ymin)
    ax.set_xlim(xmin - pad, xmax + pad)
    ax.set_ylim(ymin - pad, ymax + pad)
    ax.set_xlabel("")
    ax.set_ylabel("")
    _scale_bar(ax, xmin - pad, ymin - pad, xmax + pad, ymax + pad)

    # parse_math=False: a name from the configuration is text, never mathtext ($…$).
    title = fig.text(0.01, 0.955, f"Vigie · {site_name}", fontsize=18, fontweight="bold",
                     va="center", parse_math=False)  # fmt: skip
    fig.text(0.01, 0.915, f"Signalements par bâtiment, {period}", fontsize=12, va="center")
    badge = None
    if simulated:
        badge = fig.text(
            0.99, 0.955, "DONNÉES SIMULÉES", fontsize=13, fontweight="bold", color="white",
            ha="right", va="center",
            bbox={"boxstyle": "round,pad=0.35", "facecolor": "#b00020", "edgecolor": "none"},
        )  # fmt: skip
    _fit_title(fig, title, badge)
    legend = fig.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(0.725, 0.88),
        title="Signalements par bâtiment",
        frameon=False,
        fontsize=10,
        title_fontsize=11,
        alignment="left",
    )
    legend.get_title().set_fontweight("bold")
    text = "Plus la couleur est foncée,\nplus le bâtiment a reçu de\nsignalements."
    text += (
        "\n\nContour épais : point chaud, un\nbâtiment qui, avec ses voisins,\nreçoit "
        "nettement plus de\nsignalements que le reste du site\n(Getis-Ord Gi*, correction FDR ;\n"
        "entre parenthèses : nombre de\nbâtiments)."
        if not note
        else "\n\n" + textwrap.fill(note, 34)
    )
    fig.text(0.725, 0.36, text, fontsize=9.5, va="top", color="#333333")
    sources = " · ".join(source_labels(attributions))
    fig.text(0.01, 0.025, f"Sources : {sources}", fontsize=7.5, color="#444444", wrap=True,
             parse_math=False)  # fmt: skip
    return fig


def _fit_title(fig: Figure, title: Text, badge: Text | None) -> None:
    """Draw ``title`` smaller (:func:`pipelines.maps.plots.shrink_to_width`) until it ends
    before ``badge`` (the « DONNÉES SIMULÉES » mention) or the image's right margin: a
    long site name ran under the badge and off the image."""
    renderer = FigureCanvasAgg(fig).get_renderer()
    limit = fig.bbox.width * 0.99
    if badge is not None:
        badge.draw(renderer)  # lays out its box
        patch = badge.get_bbox_patch()
        limit = patch.get_window_extent(renderer).x0 if patch is not None else limit
    shrink_to_width(fig, title, right_px=limit - 0.01 * fig.bbox.width)  # a gap before it


def _scale_bar(ax: Axes, xmin: float, ymin: float, xmax: float, ymax: float) -> None:
    length = nice_scale_length(xmax - xmin)
    h = (ymax - ymin) * 0.012
    x0 = xmax - (xmax - xmin) * 0.04 - length
    y0 = ymin + (ymax - ymin) * 0.04
    half = length / 2
    ax.add_patch(
        Rectangle((x0 - 0.2 * length, y0 - 1.5 * h), 1.4 * length, 6.5 * h, facecolor="white",
                  edgecolor="#999999", alpha=0.85, zorder=5)
    )  # fmt: skip
    ax.add_patch(Rectangle((x0, y0), half, h, facecolor="black", edgecolor="black", zorder=6))
    ax.add_patch(
        Rectangle((x0 + half, y0), half, h, facecolor="white", edgecolor="black", zorder=6)
    )
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(x0 + length / 2, y0 + 2.2 * h, label, ha="center", va="bottom", fontsize=10, zorder=6)
    ax.annotate(
        "N", xy=(xmax - (xmax - xmin) * 0.03, ymax - (ymax - ymin) * 0.04),
        xytext=(xmax - (xmax - xmin) * 0.03, ymax - (ymax - ymin) * 0.13),
        ha="center", va="center", fontsize=12, fontweight="bold",
        arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.5}, zorder=6,
    )  # fmt: skip


def write_site_png(
    buildings: gpd.GeoDataFrame,
    dst: str | Path,
    *,
    site_name: str,
    period: str,
    simulated: bool,
    attributions: Sequence[str],
    basemap: gpd.GeoDataFrame | None = None,
    hotspot_note: str | None = None,
    publication: Publication | None = None,
) -> Path:
    """Draw :func:`site_figure` (``buildings``: the published building profile; ``period``
    in words) and write it to ``dst`` (PNG), atomically."""
    fig = site_figure(
        buildings, site_name=site_name, period=period, simulated=simulated,
        attributions=attributions, basemap=basemap, hotspot_note=hotspot_note,
        publication=publication,
    )  # fmt: skip
    dst = Path(dst)
    with atomic_path(dst) as tmp:
        fig.savefig(tmp, format="png", facecolor="white")
    log.info("wrote %s", dst)
    return dst
