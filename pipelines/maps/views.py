"""Colours, classes, periods and building views of the meeting maps.

Pure functions over (Geo)DataFrames: the choropleth classes (:func:`count_classes`,
:func:`rate_classes`), calendar months and before/after windows of the reports, and the
*views* of the buildings (a radio button each in the map's layer control) whose classes
are fixed in Python: Gi* hotspots, emerging hotspots, before/after change.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pipelines.fr import fr_number, fr_period
from pipelines.maps.html import GI_LABELS_FR, esc, present

#: ColorBrewer YlOrRd (5 classes): sequential and colour-blind safe; grey for zero.
PALETTE = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
ZERO_COLOUR = "#d9d9d9"
#: Gi* bins, ColorBrewer RdBu (7 classes, colour-blind safe): red hot, blue cold.
GI_COLOURS: dict[int, str] = {
    3: "#b2182b", 2: "#ef8a62", 1: "#fddbc7", 0: "#d9d9d9",
    -1: "#d1e5f0", -2: "#67a9cf", -3: "#2166ac",
}  # fmt: skip
#: Before/after change, ColorBrewer PuOr (7 classes): orange more reports, purple fewer.
CHANGE_COLOURS = ("#542788", "#998ec3", "#d8daeb", "#d9d9d9", "#fee0b6", "#f1a340", "#b35806")
#: Density bands, ColorBrewer Purples (up to 7).
KDE_COLOURS = ("#dadaeb", "#bcbddc", "#9e9ac8", "#807dba", "#6a51a3", "#54278f", "#3f007d")
MISSING_COLOUR = "#e6e6e6"
#: Emerging-hotspot categories: reds for hot, blues for cold, by strength of the pattern.
EMERGING_COLOURS: dict[str, str] = {
    "intensifying": "#67001f", "persistent": "#d6604d", "consecutive": "#e08214",
    "new": "#fdb863", "sporadic": "#ffd92f", "oscillating": "#c994c7",
    "diminishing": "#f1b6da", "historical": "#a6761d",
    "intensifying_cold": "#053061", "persistent_cold": "#2166ac",
    "consecutive_cold": "#4393c3", "new_cold": "#92c5de", "sporadic_cold": "#80cdc1",
    "oscillating_cold": "#9ebcda", "diminishing_cold": "#d1e5f0",
    "historical_cold": "#8c96c6", "no_pattern": "#d9d9d9",
}  # fmt: skip

#: Marker colours per category: Okabe-Ito and Tol's qualitative palettes (colour-blind safe).
CATEGORY_COLOURS: dict[str, str] = {
    "ascenseur": "#0072B2",
    "eau_fuite": "#56B4E9",
    "chauffage": "#D55E00",
    "electricite_eclairage": "#F0E442",
    "nuisibles": "#8C510A",
    "proprete": "#009E73",
    "encombrants": "#CC79A7",
    "degradation": "#E69F00",
    "securite_acces": "#332288",
    "occupation": "#AA4499",
    "espaces_exterieurs": "#44AA99",
    "stationnement": "#888888",
    "autre": "#000000",
}

#: How each kind of feature of the offline basemap (``basemap.parquet``, column ``kind``)
#: is drawn: Leaflet path options (``weight`` in CSS pixels, about 1.2 m per pixel in
#: France), fill colour (``None`` for lines), optional casing colour (a wider line drawn
#: under the street) and dash pattern. White streets on a light land colour
#: (:data:`LAND_COLOUR`), pale water and greens: a background that stays behind the
#: coloured buildings.
BASEMAP_STYLES: dict[str, dict[str, object]] = {
    "major": {"color": "#ffffff", "weight": 9.0, "fill": None, "casing": "#bdb5a6"},
    "medium": {"color": "#ffffff", "weight": 6.5, "fill": None, "casing": "#c6bfb2"},
    "minor": {"color": "#ffffff", "weight": 4.5, "fill": None, "casing": "#cdc6b9"},
    "service": {"color": "#ffffff", "weight": 2.5, "fill": None, "casing": "#d3ccc0"},
    "path": {"color": "#b3a68f", "weight": 1.2, "fill": None, "dash": "3 3"},
    "rail": {"color": "#8c8c8c", "weight": 1.6, "fill": None, "dash": "6 4"},
    "water": {"color": "#9fc2e0", "weight": 0.6, "fill": "#c4dcf0"},
    "waterway": {"color": "#9fc2e0", "weight": 4.0, "fill": None},
    "green": {"color": "#b6d5a2", "weight": 0.6, "fill": "#d7eac9"},
}
#: Colour of the land under the basemap (the map's background).
LAND_COLOUR = "#f2efe9"
#: One legend swatch per group of basemap kinds: (French label, kinds).
BASEMAP_LEGEND: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("rues", ("major", "medium", "minor", "service")),
    ("chemins", ("path",)),
    ("voies ferrées", ("rail",)),
    ("eau", ("water", "waterway")),
    ("espaces verts", ("green",)),
)

# ----------------------------------------------------------------------------- classes
#: Mantissas of the "round" class bounds (1, 2, 3, 5, 10, 20, 30, 50, 100…).
NICE_MANTISSAS = (1.0, 2.0, 3.0, 5.0, 10.0)


def nice_number(x: float) -> float:
    """The round number (mantissa in :data:`NICE_MANTISSAS`) nearest to ``x`` > 0."""
    if x <= 0:
        return 0.0
    e = math.floor(math.log10(x))
    m = x / 10.0**e
    best = NICE_MANTISSAS[0]
    for c in NICE_MANTISSAS:  # first nearest wins, as in the page's script
        if abs(m - c) < abs(m - best):
            best = c
    return best * 10.0**e


@dataclass(frozen=True)
class Classes:
    """Classes of a choropleth: lower bounds, French labels, colours."""

    bounds: tuple[float, ...]  # lower bound of each class
    labels: tuple[str, ...]
    colours: tuple[str, ...]

    def index(self, value: float) -> int | None:
        """Class of a value (``None`` for zero or missing)."""
        if value is None or not value or np.isnan(value):
            return None
        idx = int(np.searchsorted(np.asarray(self.bounds), value, side="right")) - 1
        return max(0, min(idx, len(self.colours) - 1))

    def colour(self, value: float) -> str:
        """Colour of a value (grey for zero or missing)."""
        idx = self.index(value)
        return ZERO_COLOUR if idx is None else self.colours[idx]


def _palette(n: int) -> tuple[str, ...]:
    return PALETTE[-n:] if n < len(PALETTE) else PALETTE


def count_classes(values: pd.Series, *, n_classes: int = 5) -> Classes:
    """Round classes of counts, on a geometric progression from 1 to the largest count.

    Report counts are very skewed (many buildings with one report, a few with a
    hundred), so the lower bounds follow 1, max^(1/k), max^(2/k)… rounded to 1, 2, 3, 5
    × 10ⁿ (:func:`nice_number`), with k = min(``n_classes``, number of distinct non-zero
    counts). Labels in French ("1 à 2", "3 à 9", "100 et plus"). The map's script applies
    the same rule to the period the reader chooses.

    Examples
    --------
    >>> count_classes(pd.Series([0, 1, 1, 4, 316])).labels
    ('1 à 4', '5 à 49', '50 et plus')
    """
    v = pd.to_numeric(values, errors="coerce").fillna(0).to_numpy(dtype=float)
    nonzero = np.sort(v[v > 0])
    if len(nonzero) == 0:
        return Classes((1,), ("1 et plus",), PALETTE[-1:])
    top = float(nonzero.max())
    k = min(n_classes, len(np.unique(nonzero)))
    found = {1}
    for j in range(1, k):
        b = round(nice_number(top ** (j / k)))
        if 1 <= b <= top:
            found.add(int(b))
    bounds = sorted(found)
    labels = []
    for i, lo in enumerate(bounds):
        if i + 1 < len(bounds):
            hi = bounds[i + 1] - 1
            labels.append(f"{lo}" if hi == lo else f"{lo} à {hi}")
        else:
            labels.append(f"{lo} et plus" if lo < top else f"{lo}")
    return Classes(tuple(float(b) for b in bounds), tuple(labels), _palette(len(bounds)))


def rate_classes(values: pd.Series, *, n_classes: int = 5) -> Classes:
    """Round classes of positive rates, geometric between the smallest and largest.

    The first class is "moins de b₁", the last "bₖ et plus" (French decimal comma; the
    bounds are round, so at most one decimal). Zero and missing rates are left out (grey, hatched).
    """
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    nonzero = np.sort(v[np.isfinite(v) & (v > 0)])
    if len(nonzero) == 0:
        return Classes((0.0,), ("plus de 0",), PALETTE[-1:])
    low, top = float(nonzero[0]), float(nonzero[-1])
    k = min(n_classes, len(np.unique(nonzero)))
    breaks = sorted(
        {b for j in range(1, k) if low < (b := nice_number(low * (top / low) ** (j / k))) < top}
    )
    bounds = [0.0, *breaks]

    def d(x: float) -> str:
        return fr_number(x, 0 if x == round(x) else 1)

    labels = []
    for i, lo in enumerate(bounds):
        if not breaks:
            labels.append("plus de 0")
        elif i == 0:
            labels.append(f"moins de {d(bounds[1])}")
        elif i + 1 < len(bounds):
            labels.append(f"{d(lo)} à moins de {d(bounds[i + 1])}")
        else:
            labels.append(f"{d(lo)} et plus")
    return Classes(tuple(bounds), tuple(labels), _palette(len(bounds)))


# ----------------------------------------------------------------------------- time
def monthly_counts(
    monthly: pd.DataFrame, buildings: pd.DataFrame, months: pd.PeriodIndex
) -> pd.DataFrame:
    """Counted reports per building and calendar month, from the published monthly table.

    Parameters
    ----------
    monthly
        ``published/monthly.parquet``: ``building_id``, ``month`` (``YYYY-MM``),
        ``category``, ``n_reports``.
    buildings
        With ``building_id``.
    months
        The columns of the result (e.g. :func:`site_months`); other months are ignored.

    Returns
    -------
    DataFrame
        Aligned on ``buildings.index``, one int64 column per month, zeros included.
    """
    return by_building_month(monthly, buildings, months, monthly["n_reports"], "sum").astype(
        "int64"
    )


def by_building_month(
    monthly: pd.DataFrame,
    buildings: pd.DataFrame,
    months: pd.PeriodIndex,
    values: pd.Series,
    aggfunc: str,
) -> pd.DataFrame:
    """``values`` of the published monthly table per building (rows aligned on
    ``buildings.index``) and month (columns ``months``), aggregated by ``aggfunc``;
    zeros where the table has no row."""
    # On the month texts (``YYYY-MM``), not parsed Periods: parsing 100,000 texts one by
    # one took 0.8 s of the 100,000-report map (bench maps); the months are few.
    table = pd.crosstab(
        monthly["building_id"].astype(str).to_numpy(),
        monthly["month"].astype(str).to_numpy(),
        values=values,
        aggfunc=aggfunc,
    ).fillna(0)
    table = table.reindex(columns=[str(m) for m in months], fill_value=0)
    table.columns = months
    out = table.reindex(buildings["building_id"].astype(str).to_numpy(), fill_value=0)
    out.index = buildings.index
    return out


def window_text(window: Mapping[str, str]) -> str:
    """``du 01/07/2025 au 30/09/2025`` (a published window, ``start`` and ``end`` ISO
    dates, end included)."""
    return fr_period(pd.Timestamp(window["start"]), pd.Timestamp(window["end"]))


# ----------------------------------------------------------------------------- views
@dataclass
class View:
    """One way of colouring the buildings (a radio button of the layer control)."""

    id: str
    name: str
    title: str
    caption: str = ""
    dynamic: str | None = None  # "count" or "rate": classes computed in the page
    k: list[int | None] | None = None  # class of each building
    classes: list[dict[str, Any]] = field(default_factory=list)  # {c, l, n}
    none: dict[str, Any] | None = None
    all: bool = False  # show the classes with no building too

    def as_json(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if v is not None}
        return out


def _class_view(
    view_id: str,
    name: str,
    title: str,
    codes: pd.Series,
    order: Sequence[Any],
    labels: Mapping[Any, str],
    colours: Mapping[Any, str],
    *,
    caption: str,
    none_label: str,
    show_all: bool = False,
) -> View:
    position = {code: i for i, code in enumerate(order)}
    k: list[int | None] = [position.get(c) if present(c) else None for c in codes]
    counts = pd.Series([x for x in k if x is not None]).value_counts()
    classes = [
        {"c": colours[code], "l": esc(labels[code]), "n": int(counts.get(i, 0))}
        for i, code in enumerate(order)
    ]
    n_none = sum(x is None for x in k)
    return View(
        view_id, name, title, caption, k=k, classes=classes, all=show_all,
        none={"c": MISSING_COLOUR, "l": esc(none_label), "n": n_none},
    )  # fmt: skip


def gi_view(buildings: pd.DataFrame) -> View:
    """The seven Gi* bins, hot red to cold blue, confidence in words."""
    bins = pd.to_numeric(buildings["gi_bin"], errors="coerce")
    codes = pd.Series([int(b) if pd.notna(b) else None for b in bins], dtype=object)
    return _class_view(
        "gi",
        "Points chauds et froids (Gi*)",
        "Points chauds et points froids",
        codes,
        [3, 2, 1, 0, -1, -2, -3],
        GI_LABELS_FR,
        GI_COLOURS,
        caption=(
            "Statistique Getis-Ord Gi* du nombre de signalements : un point chaud est un "
            "bâtiment qui, avec ses voisins, reçoit nettement plus de signalements que "
            "l'ensemble du site. Confiance corrigée des tests multiples (FDR). Calculé sur "
            "toute la période."
        ),
        none_label="Non calculé",
        show_all=True,
    )


def emerging_view(buildings: pd.DataFrame, labels_fr: Sequence[Sequence[str]]) -> View:
    """Emerging-hotspot categories present on the site, in French.

    ``labels_fr`` are the (code, French label) pairs of the statistic, in its order
    (the published ``emerging_labels_fr``); a building's own ``emerging_label_fr`` wins.
    """
    codes = (
        buildings["emerging_category"]
        .astype(object)
        .where(buildings["emerging_category"].notna(), None)
    )
    order = [str(code) for code, _ in labels_fr]
    labels = {str(code): str(label) for code, label in labels_fr}
    if "emerging_label_fr" in buildings:
        for code, label in zip(codes, buildings["emerging_label_fr"], strict=True):
            if present(code) and present(label):
                labels[code] = str(label)
    known = [c for c in order if c in set(codes.dropna())]
    unknown = sorted({str(c) for c in codes.dropna()} - set(order))
    colours = {**EMERGING_COLOURS, **dict.fromkeys(unknown, MISSING_COLOUR)}
    labels.update({c: c for c in unknown})
    return _class_view(
        "emerging",
        "Tendances des points chauds",
        "Tendances des points chauds (mois par mois)",
        codes,
        known + unknown,
        labels,
        colours,
        caption=(
            "Évolution des points chauds mois après mois (Gi* par mois, puis test de "
            "tendance de Mann-Kendall) : nouveau, persistant, en intensification, en "
            "diminution…"
        ),
        none_label="Non calculé",
    )


def change_view(
    change: pd.Series,
    before: Mapping[str, str],
    after: Mapping[str, str],
    *,
    hidden_label: str | None = None,
) -> View:
    """Per-building difference between two periods, on a diverging palette.

    Magnitude classes come from :func:`count_classes` on the absolute changes (3 classes),
    mirrored: fewer reports in purple, more in orange, no change in light grey. A null
    change is hidden (secret statistique): no class, ``hidden_label`` in the legend.
    """
    shown = change.notna().to_numpy()
    delta = change.fillna(0).astype(int)
    bounds = [int(b) for b in count_classes(delta.abs(), n_classes=3).bounds]
    while len(bounds) < 3:
        bounds.append(bounds[-1] + 1)
    labels: dict[int, str] = {0: "Pas de changement"}
    for i, lo in enumerate(bounds):
        hi = bounds[i + 1] - 1 if i + 1 < len(bounds) else None
        if hi is None:
            up, down = f"+{lo} ou plus", f"−{lo} ou moins"
        elif hi == lo:
            up, down = f"+{lo}", f"−{lo}"
        else:
            up, down = f"+{lo} à +{hi}", f"−{lo} à −{hi}"
        labels[i + 1], labels[-(i + 1)] = up, down
    order = [-3, -2, -1, 0, 1, 2, 3]
    colours = dict(zip(order, CHANGE_COLOURS, strict=True))
    mag_class = np.searchsorted(np.asarray(bounds), delta.abs().to_numpy(), side="right")
    codes = pd.Series(np.where(delta.to_numpy() == 0, 0, np.sign(delta) * mag_class))
    codes = codes.astype(object).where(shown, None)
    view = _class_view(
        "change",
        "Évolution avant / après",
        "Évolution du nombre de signalements (après − avant)",
        codes.astype(object),
        [3, 2, 1, 0, -1, -2, -3],
        labels,
        colours,
        caption=(
            f"Après : {esc(window_text(after))} ; avant : {esc(window_text(before))}. "
            "Orange : plus de signalements qu'avant ; violet : moins."
        ),
        none_label=hidden_label or "",
    )
    if shown.all():
        view.none = None
    return view
