"""Charts for steering committees (PNG for slide decks), each with its data as CSV.

Every chart function is pure: data in, a :class:`Chart` out (a matplotlib ``Figure``
drawn on the Agg canvas, never a display, and the table it shows, with French column
names, ready for a spreadsheet). :func:`save_chart` writes both, atomically, side by side:
``name.png`` and ``name.csv``.

Figures are 16:9 at 150 dpi (1920 × 1080 pixels), with fonts readable on a projected
slide; colours come from Paul Tol's "muted" qualitative scheme, designed to stay
distinguishable with the common colour-vision deficiencies, plus a grey for what is
grouped; every label is in French.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter, MaxNLocator

from pipelines.fr import fr_number
from pipelines.io import atomic_path, write_csv
from pipelines.published import HIDDEN_FLAG, Publication
from pipelines.taxonomy import label_of

log = logging.getLogger(__name__)

# Text drawn in these charts comes from data (OSM building names, site names, labels):
# it is never mathtext, or a "$\x$" in a name would abort the stage.
matplotlib.rcParams["text.parse_math"] = False

#: Paul Tol's "muted" scheme (colour-blind safe), then the grey of grouped categories.
PALETTE: tuple[str, ...] = (
    "#332288",
    "#88CCEE",
    "#44AA99",
    "#117733",
    "#999933",
    "#DDCC77",
    "#CC6677",
    "#882255",
    "#AA4499",
)
GREY = "#BBBBBB"
OTHERS_FR = "Autres catégories (regroupées)"

SIZE_IN = (12.8, 7.2)  # 16:9
DPI = 150
FONT = {"title": 20, "label": 15, "tick": 13, "legend": 13, "note": 11}
#: Smallest size (points) a title is drawn at when a long site name makes it too wide.
MIN_TITLE_SIZE = 10

MONTHS_FR = (
    "janv.", "févr.", "mars", "avr.", "mai", "juin",
    "juil.", "août", "sept.", "oct.", "nov.", "déc.",
)  # fmt: skip
PERIOD_FR = {"M": "mois", "W": "semaine", "Q": "trimestre", "D": "jour", "Y": "an"}
#: Colours of the published ``trend`` words (Mann-Kendall: "hausse", "baisse").
TREND_COLOURS = {"hausse": "#882255", "baisse": "#117733"}


def period_freq(freq: str) -> str:
    """The period letter of a published ``freq`` (``"M"``, ``"W"``, ``"Q"``…; pandas'
    ``"MS"``, ``"QS"`` and ``"W-MON"`` are read as their letter)."""
    return freq.upper()[:1]


#: How a hidden bar looks: a hatched box (never a zero), labelled « < 3 ».
HIDDEN_STYLE = {"facecolor": "white", "edgecolor": "#555555", "hatch": "///", "linewidth": 0.8}


def _hidden_marker(ax: Axes, x: float, bottom: float, height: float, text: str) -> None:
    """A hatched box at ``x`` from ``bottom`` (``height`` tall, in data units) with
    ``text`` (« < 3 ») above it: where a bar would show a hidden count."""
    ax.bar([x], [height], bottom=[bottom], width=0.8, **HIDDEN_STYLE)  # type: ignore[arg-type]
    ax.text(x, bottom + height, text, ha="center", va="bottom", fontsize=FONT["note"],
            color="#333333")  # fmt: skip


#: The legend of a hatched block that fills a bar up to its published total.
HIDDEN_REST_FR = "Catégories masquées (secret statistique), jusqu'au total publié"


def _hidden_rest(
    totals: pd.Series, totals_hidden: pd.Series | None, index: pd.Index, shown: np.ndarray
) -> np.ndarray:
    """Per period, the published total minus the visible stacked cells (``shown``): what
    the hidden cells hold together; 0 where the total is hidden or missing, or does not
    exceed the visible cells (rounded counts)."""
    total = pd.to_numeric(totals.reindex(index), errors="coerce").to_numpy(dtype=float)
    if totals_hidden is not None:
        off = totals_hidden.reindex(index).fillna(False).to_numpy(dtype=bool)
        total = np.where(off, np.nan, total)
    rest = np.nan_to_num(total - shown, nan=0.0)
    return np.where(rest > 0, rest, 0.0)


def _hidden_legend(publication: Publication) -> tuple[Any, str]:
    """The legend entry of the hidden bars: a hatched patch and why they are hidden."""
    patch = Rectangle((0, 0), 1, 1, **HIDDEN_STYLE)  # type: ignore[arg-type]
    return patch, f"« {publication.marker_fr} » : {publication.reason_fr}"


def _whole(values: Any) -> Any:
    """Counts as integers in a table (a hidden count, null, made the column float: the
    CSV would read « 4.0 »)."""
    if isinstance(values, pd.DataFrame):
        return values.apply(_whole)
    if pd.api.types.is_float_dtype(values) and bool((values.dropna() % 1 == 0).all()):
        return values.astype("Int64")
    return values


def _shown(values: pd.Series | pd.DataFrame, hidden: Any) -> Any:
    """``values`` for a table: « s » where hidden (never a blank, never a zero)."""
    values = _whole(values)
    if hidden is None or not np.asarray(hidden).any():
        return values
    return values.astype(object).mask(hidden, HIDDEN_FLAG)


@dataclass
class Chart:
    """A figure and the data it shows (French column names)."""

    figure: Figure
    data: pd.DataFrame


def save_chart(chart: Chart, dst_png: str | Path) -> tuple[Path, Path]:
    """Write ``dst_png`` and the data beside it (same basename, ``.csv``), atomically."""
    dst_png = Path(dst_png)
    with atomic_path(dst_png) as tmp:
        chart.figure.savefig(tmp, format="png", dpi=DPI)
    log.info("wrote %s", dst_png)
    dst_csv = write_csv(chart.data, dst_png.with_suffix(".csv"))
    return dst_png, dst_csv


def period_labels(starts: pd.Index | pd.Series, freq: str = "M") -> list[str]:
    """Axis labels of periods: « janv. » with the year under January and the first one
    (months), « T1\n2024 » (quarters), « 2024 » (years); for weeks, the month's name on
    the first week starting in it (« janv. », the year under January) and "" on the
    other weeks."""
    starts = pd.DatetimeIndex(pd.to_datetime(starts))
    f = period_freq(freq)
    out = []
    for i, d in enumerate(starts):
        year = f"\n{d.year}" if i == 0 or d.month == 1 else ""
        if f == "Q":
            out.append(f"T{(d.month - 1) // 3 + 1}\n{d.year}")
        elif f == "Y":
            out.append(str(d.year))
        elif f == "M" or i == 0 or d.day <= 7:
            out.append(f"{MONTHS_FR[d.month - 1]}{year}")
        else:
            out.append("")
    return out


def _figure() -> Figure:
    fig = Figure(figsize=SIZE_IN, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)  # the Agg canvas: rendering without any display
    return fig


def shrink_to_width(
    fig: Figure, text: Text, *, right_px: float | None = None, min_size: float = MIN_TITLE_SIZE
) -> None:
    """Draw ``text`` smaller, down to ``min_size`` points, so that it ends before
    ``right_px`` (figure pixels; default: 1 % from the figure's right edge).

    Titles carry the site's name, which comes from the configuration and can be long:
    drawn at full size, it ran off the image, cut mid-word. The figure is laid out first
    (constrained layout moves the axes, and with them an axes title's start).
    """
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    fig.draw_without_rendering()
    limit = 0.99 * fig.bbox.width if right_px is None else right_px
    box = text.get_window_extent(canvas.get_renderer())
    if box.x1 <= limit or box.width <= 0:
        return
    size = float(text.get_fontsize())  # set in points by the callers
    text.set_fontsize(max(min_size, math.floor(size * (limit - box.x0) / box.width)))


def _style(ax: Axes) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=FONT["tick"])
    ax.grid(axis="y", color="#DDDDDD", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fr_number(v)))


def _sparse_ticks(ax: Axes, labels: list[str], max_labels: int = 18) -> None:
    """Ticks on the labelled periods only, at most ``max_labels`` of them."""
    positions = [i for i, text in enumerate(labels) if text]
    step = max(1, int(np.ceil(len(positions) / max_labels)))
    kept = positions[::step]
    ax.set_xticks(kept, [labels[i] for i in kept])


def _footnote(fig: Figure, note: str | None) -> None:
    if note:
        fig.supxlabel(note, fontsize=FONT["note"], color="#555555", x=0.01, ha="left")


# --------------------------------------------------------------------------------------
# Stacked bars by category
# --------------------------------------------------------------------------------------
def category_bars(
    counts: pd.DataFrame,
    *,
    title: str,
    freq: str = "M",
    max_categories: int = len(PALETTE),
    note: str | None = None,
    totals: pd.Series | None = None,
    hidden: pd.DataFrame | None = None,
    totals_hidden: pd.Series | None = None,
    publication: Publication | None = None,
) -> Chart:
    """Stacked bars of reports per period, one colour per category.

    Parameters
    ----------
    counts
        One row per period (index: period start, datetime), one column per category
        code, report counts (zeros included; null where hidden).
    title
        Chart title (French).
    freq
        Period length (``"M"``, ``"W"``, ``"Q"``) for the axis labels.
    max_categories
        At most this many colours (the scheme has 9): beyond, the smallest categories
        are grouped in grey as « Autres catégories (regroupées) ».
    note
        Footnote (source, « données simulées »…).
    totals
        The published total of each period (index: period start). Without it the total
        is the sum of the cells, which needs every cell exact.
    hidden, totals_hidden, publication
        Where a count (same shape as ``counts``) or a total is hidden (secret
        statistique), and the profile saying how to show it: a hidden count is a hatched
        box labelled « < 3 » on top of its bar (never a zero), « s » in the data; a group
        holding a hidden count is hidden too.

    Returns
    -------
    Chart
        Data: « Début de période », one column per category label (largest first) and
        « Total ».
    """
    counts = counts.sort_index()
    any_hidden = hidden is not None and bool(hidden.to_numpy().any())
    if any_hidden and totals is None:
        raise ValueError("Comptes masqués : le total doit venir de la table publiée.")
    totals_by_cat = counts.sum(axis=0).sort_values(ascending=False, kind="stable")
    # A category reported only in hidden cells keeps its column (« s »): it never vanishes.
    seen = totals_by_cat > 0
    if any_hidden:
        assert hidden is not None
        seen |= hidden.reindex(columns=totals_by_cat.index, fill_value=False).any(axis=0)
    order = [c for c in totals_by_cat.index if seen[c]] or list(totals_by_cat.index)
    if len(order) > max_categories:
        kept, grouped = order[: max_categories - 1], order[max_categories - 1 :]
    else:
        kept, grouped = order, []
    table = pd.DataFrame({label_of(c): counts[c] for c in kept}, index=counts.index)
    if grouped:
        table[OTHERS_FR] = counts[grouped].sum(axis=1)
    masked = None
    if any_hidden:
        assert hidden is not None
        h = hidden.reindex(index=counts.index, columns=counts.columns, fill_value=False)
        masked = pd.DataFrame({label_of(c): h[c] for c in kept}, index=counts.index)
        if grouped:
            masked[OTHERS_FR] = h[grouped].any(axis=1)  # a sum holding a hidden cell
        table = table.mask(masked)
    colours = [*PALETTE[: len(kept)], *([GREY] if grouped else [])]

    fig = _figure()
    ax = fig.add_subplot()
    x = np.arange(len(table))
    bottom = np.zeros(len(table))
    for column, colour in zip(table.columns, colours, strict=True):
        values = table[column].to_numpy(dtype=float)
        if masked is not None:
            values = np.nan_to_num(values, nan=0.0)  # drawn apart, hatched (below)
        ax.bar(x, values, bottom=bottom, color=colour, width=0.8, label=column,
               edgecolor="white", linewidth=0.4)  # fmt: skip
        bottom += values
    handles, labels = ax.get_legend_handles_labels()
    handles, labels = list(reversed(handles)), list(reversed(labels))
    if masked is not None:
        pub = publication or Publication()
        assert totals is not None  # checked above
        # Where the period's total is published, its hidden cells are one hatched block
        # up to it: their sum is that total minus the visible cells (the CSV gives both),
        # and a 3 % box made a month of 269 reports read 76.
        rest = _hidden_rest(totals, totals_hidden, table.index, bottom)
        height = max(float(np.nanmax(bottom + rest)), 1.0) * 0.03  # rest ≥ 0
        small = False
        for xi in np.flatnonzero(masked.to_numpy().any(axis=1)):
            if rest[xi] > 0:
                ax.bar([xi], [rest[xi]], bottom=[bottom[xi]], width=0.8, **HIDDEN_STYLE)  # type: ignore[arg-type]
            else:
                _hidden_marker(ax, float(xi), float(bottom[xi]), height, pub.marker_fr)
                small = True
        patch, why = _hidden_legend(pub)
        if small:
            handles.append(patch)
            labels.append(why)
        if (rest[masked.to_numpy().any(axis=1)] > 0).any():
            handles.append(Rectangle((0, 0), 1, 1, **HIDDEN_STYLE))  # type: ignore[arg-type]
            labels.append(HIDDEN_REST_FR)
    _style(ax)
    ax.margins(y=0.06)
    _sparse_ticks(ax, period_labels(table.index, freq))
    unit = PERIOD_FR.get(period_freq(freq), "période")
    ax.set_ylabel(f"Signalements par {unit}", fontsize=FONT["label"])
    heading = ax.set_title(title, fontsize=FONT["title"], loc="left")
    ax.legend(
        handles,
        labels,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=FONT["legend"],
        frameon=False,
        title="Catégorie",
        title_fontsize=FONT["legend"],
    )
    _footnote(fig, note)
    data = _shown(table, masked).copy()
    if totals is None:
        data["Total"] = table.sum(axis=1)
    else:
        total = totals.reindex(table.index)
        data["Total"] = _shown(total, None if totals_hidden is None
                               else totals_hidden.reindex(table.index).fillna(False))  # fmt: skip
    data.insert(0, "Début de période", pd.DatetimeIndex(table.index).strftime("%Y-%m-%d"))
    shrink_to_width(fig, heading)  # once laid out, legends included
    return Chart(fig, data.reset_index(drop=True))


# --------------------------------------------------------------------------------------
# Closing delays against targets
# --------------------------------------------------------------------------------------
def closing_delay_bars(
    delays: pd.DataFrame,
    *,
    title: str,
    note: str | None = None,
    hidden: pd.Series | None = None,
    publication: Publication | None = None,
) -> Chart:
    """Median and 90th-percentile closing delay per category, with the target.

    Parameters
    ----------
    delays
        Indexed by category code: ``median_delay_h``, ``p90_delay_h``, ``target_h``
        (NaN: none), ``share_closed_within_target`` (0–1, NaN: none), ``n_closed``.
        Categories without any closed report are left out.
    title, note
        As in :func:`category_bars`.
    hidden, publication
        Where ``n_closed`` is hidden (secret statistique; aligned on ``delays``) and the
        profile: such a category keeps its row, drawn as a hatched box labelled « < 3 »,
        with « s » in the data for its count and for the delays not published.

    Returns
    -------
    Chart
        Data: « Catégorie », « Signalements clos », « Délai médian (h) »,
        « Délai 90e centile (h) », « Objectif (h) », « Part close dans l'objectif (%) ».
    """
    masked = (
        hidden.reindex(delays.index).fillna(False).astype(bool)
        if hidden is not None
        else pd.Series(False, index=delays.index)
    )
    keep = (pd.to_numeric(delays["n_closed"], errors="coerce") > 0) | masked
    d = delays[keep.to_numpy()].sort_values("median_delay_h", kind="stable")
    masked = masked[keep.to_numpy()].reindex(d.index)
    days = 24.0
    fig = _figure()
    ax = fig.add_subplot()
    y = np.arange(len(d))
    h = 0.38
    ax.barh(y + h / 2, d["median_delay_h"] / days, height=h, color="#332288", label="Médiane")
    ax.barh(y - h / 2, d["p90_delay_h"] / days, height=h, color="#88CCEE",
            label="90e centile (9 sur 10 clos plus vite)")  # fmt: skip
    has_target = d["target_h"].notna().to_numpy()
    if has_target.any():
        ax.scatter(d["target_h"][has_target] / days, y[has_target], marker="D", s=110,
                   color="#CC6677", zorder=3, label="Objectif")  # fmt: skip
    ax.set_yticks(y, [label_of(c) for c in d.index])
    ax.tick_params(labelsize=FONT["tick"])
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="x", color="#DDDDDD", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fr_number(v)))
    ax.set_xlabel("Délai de clôture (jours)", fontsize=FONT["label"])
    heading = ax.set_title(title, fontsize=FONT["title"], loc="left")
    limits = d[["p90_delay_h", "target_h"]].to_numpy(dtype=float)
    right = (float(np.nanmax(limits)) if np.isfinite(limits).any() else days) / days
    if masked.any():
        pub = publication or Publication()
        for yi in y[masked.to_numpy()]:
            ax.barh([yi], [right * 0.03], height=0.6, **HIDDEN_STYLE)  # type: ignore[arg-type]
            ax.text(right * 0.035, float(yi), pub.marker_fr, va="center", fontsize=FONT["note"])
        patch, why = _hidden_legend(pub)
        ax.legend([patch], [why], loc="lower right", fontsize=FONT["note"], frameon=False)
    for yi, (_, row) in zip(y, d.iterrows(), strict=True):
        share = row["share_closed_within_target"]
        if pd.notna(share):
            text = f"{fr_number(100 * share)} % clos en {fr_number(row['target_h'])} h au plus"
            ax.text(right * 1.02, float(yi), text, va="center", fontsize=FONT["note"])
    ax.set_xlim(0, right * 1.35)
    fig.legend(loc="outside lower center", ncols=3, fontsize=FONT["note"], frameon=False)
    _footnote(fig, note)
    data = pd.DataFrame(
        {
            "Catégorie": [label_of(c) for c in d.index],
            "Signalements clos": (
                d["n_closed"].astype(int).to_numpy()
                if not masked.any()
                else _shown(d["n_closed"], masked).to_numpy()
            ),
            "Délai médian (h)": d["median_delay_h"].round(1).to_numpy(),
            "Délai 90e centile (h)": d["p90_delay_h"].round(1).to_numpy(),
            "Objectif (h)": d["target_h"].to_numpy(),
            "Part close dans l'objectif (%)": (100 * d["share_closed_within_target"])
            .round(1)
            .to_numpy(),
        }
    )
    if masked.any():  # a delay not published beside a hidden count: « s », not a blank
        rows = masked.to_numpy()
        for column in ("Délai médian (h)", "Délai 90e centile (h)",
                       "Part close dans l'objectif (%)"):  # fmt: skip
            data[column] = (
                data[column].astype(object).mask(rows & data[column].isna().to_numpy(), HIDDEN_FLAG)
            )
    shrink_to_width(fig, heading)  # once laid out, legends included
    return Chart(fig, data)


def empty_chart(title: str, message: str, *, note: str | None = None) -> Chart:
    """A chart that says, in French, why there is nothing to draw (so that every chart
    file of a site always exists), with an empty data table."""
    fig = _figure()
    ax = fig.add_subplot()
    ax.set_axis_off()
    heading = ax.set_title(title, fontsize=FONT["title"], loc="left")
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=FONT["label"],
            color="#555555", transform=ax.transAxes)  # fmt: skip
    _footnote(fig, note)
    shrink_to_width(fig, heading)  # once laid out, legends included
    return Chart(fig, pd.DataFrame({"Message": [message.replace("\n", " ")]}))
