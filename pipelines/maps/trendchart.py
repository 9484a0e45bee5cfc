"""The top buildings' trend chart for steering committees (:func:`building_trends`): one
small panel per building, its monthly reports, Sen's line (:func:`sen_line`) and its
Mann-Kendall verdict in French. Built on the common chart parts of
:mod:`pipelines.maps.plots` (figure, style, hidden cells,
:class:`~pipelines.maps.plots.Chart`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from pipelines.fr import fr_number
from pipelines.maps.plots import (
    FONT,
    PERIOD_FR,
    TREND_COLOURS,
    Chart,
    _figure,
    _footnote,
    _hidden_legend,
    _hidden_marker,
    _sparse_ticks,
    _style,
    period_freq,
    period_labels,
    shrink_to_width,
)
from pipelines.published import HIDDEN_FLAG, Publication


# --------------------------------------------------------------------------------------
# Small multiples of the top buildings
# --------------------------------------------------------------------------------------
def sen_line(slope: float, values: np.ndarray) -> np.ndarray:
    """Sen's line over steps 0…n−1: intercept = median(x_t − slope·t) (Conover)."""
    t = np.arange(len(values), dtype=float)
    return float(np.median(values - slope * t)) + slope * t


def building_trends(
    series: pd.DataFrame,
    tests: pd.DataFrame,
    *,
    labels: Mapping[str, str],
    title: str,
    freq: str = "M",
    emerging: Mapping[str, str] | None = None,
    note: str | None = None,
    ncols: int = 3,
    hidden: pd.DataFrame | None = None,
    publication: Publication | None = None,
) -> Chart:
    """Small multiples: one panel per building, its counts, Sen's line and verdict.

    Parameters
    ----------
    series
        One row per building (index: building id, in the order of the panels), one
        column per period start (datetime), report counts.
    tests
        Indexed by building id: ``sens_slope_per_period``, ``trend`` ("hausse",
        "baisse", "aucune"), ``trend_fr`` (the verdict in words), ``mk_p``.
    labels
        Building id → the name shown (address, residence), else the id.
    emerging
        Building id → its emerging-hotspot label (« Point chaud consécutif »), shown
        under the verdict when given.
    title, freq, note
        As in :func:`category_bars`.
    ncols
        Panels per row.
    hidden, publication
        Where a count of ``series`` is hidden (same shape; secret statistique) and the
        profile saying how to show it: a hatched box labelled « < 3 » instead of the bar,
        « s » in the data; no Sen line is drawn through a series with a hidden count
        (its intercept would need the hidden values).

    Returns
    -------
    Chart
        Data (long): « Bâtiment », « Libellé », « Début de période », « Signalements »,
        « Pente de Sen (par <période>) », « Tendance (Mann-Kendall) » and, with
        ``emerging``, « Point chaud émergent ».
    """
    unit = PERIOD_FR.get(period_freq(freq), "période")
    n = max(len(series), 1)
    nrows = int(np.ceil(n / ncols))
    fig = _figure()
    axes = fig.subplots(nrows, ncols, sharex=True, squeeze=False)
    ticks = period_labels(series.columns, freq)
    x = np.arange(series.shape[1])
    rows = []
    for k, ax in enumerate(axes.ravel()):
        if k >= len(series):
            ax.set_visible(False)
            continue
        bid = series.index[k]
        values = series.iloc[k].to_numpy(dtype=float)
        masked = (
            hidden.iloc[k].to_numpy(dtype=bool)
            if hidden is not None
            else np.zeros(len(values), dtype=bool)
        )
        test = tests.loc[bid]
        # publish/ leaves the trend test out (null) when a period of the series is hidden
        raw_slope = test["sens_slope_per_period"]
        slope = float(raw_slope) if pd.notna(raw_slope) else float("nan")
        colour = TREND_COLOURS.get(str(test["trend"]), "#555555")
        shown = np.where(masked, 0.0, values)
        ax.bar(x, shown, color="#88CCEE", width=0.8)
        top = max(float(np.nanmax(shown)) if len(shown) else 0.0, 1.0)
        ax.set_ylim(0, top * 1.6)  # room for the verdict
        for xi in np.flatnonzero(masked):
            _hidden_marker(ax, float(xi), 0.0, top * 0.08,
                           (publication or Publication()).marker_fr)  # fmt: skip
        if np.isfinite(slope) and not masked.any():
            ax.plot(x, sen_line(slope, values), color=colour, linewidth=2.5)
        _style(ax)
        _sparse_ticks(ax, ticks, max_labels=8)
        ax.tick_params(labelsize=FONT["note"])
        name = labels.get(bid, str(bid))
        ax.set_title(name if len(name) <= 34 else name[:33] + "…", fontsize=FONT["legend"],
                     loc="left")  # fmt: skip
        verdict = (
            str(test["trend_fr"]).capitalize()
            if pd.notna(test["trend_fr"])
            else "Tendance non publiée (période masquée)"
        )
        hotspot = (emerging or {}).get(bid)
        extra = f"\n{hotspot}" if hotspot else ""
        sen = f"\nSen : {fr_number(slope, 1, sign=True)} / {unit}" if np.isfinite(slope) else ""
        ax.text(
            0.02,
            0.97,
            f"{verdict}{sen}{extra}",
            transform=ax.transAxes,
            va="top",
            fontsize=FONT["note"],
            color=colour,
            bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 2},
        )
        for t, v, m in zip(series.columns, values, masked, strict=True):
            rows.append(
                {
                    **({"Point chaud émergent": hotspot or ""} if emerging is not None else {}),
                    "Bâtiment": bid,
                    "Libellé": name,
                    "Début de période": pd.Timestamp(t).strftime("%Y-%m-%d"),
                    "Signalements": HIDDEN_FLAG if m else int(v),
                    f"Pente de Sen (par {unit})": round(slope, 3),
                    "Tendance (Mann-Kendall)": test["trend_fr"],
                }
            )
    heading = fig.suptitle(title, fontsize=FONT["title"], x=0.01, ha="left")
    fig.supylabel(f"Signalements par {unit}", fontsize=FONT["label"])
    if hidden is not None and bool(hidden.to_numpy().any()):
        patch, why = _hidden_legend(publication or Publication())
        fig.legend([patch], [why], loc="outside lower right", fontsize=FONT["note"], frameon=False)
    _footnote(fig, note)
    shrink_to_width(fig, heading)  # once laid out, legends included
    return Chart(fig, pd.DataFrame(rows))
