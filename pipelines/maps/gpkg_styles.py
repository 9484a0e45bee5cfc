"""The styles of the site's GeoPackage layers, in the map's colours (QML,
:mod:`pipelines.maps.qml`).

Pure functions over the published tables. The buildings get the map's views: number of
reports (the map's opening view, the layer's default style), reports per 100 dwellings,
Gi* hotspots; zones, density bands, points, notes and actions are drawn as on the map.
A hidden value (« s » in its ``…_flag`` column) has a rule of its own, hatched grey and
labelled as in the map's legend, before the classes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipelines.maps.actions import status_colour
from pipelines.maps.data import TooFewReports
from pipelines.maps.html import GI_LABELS_FR
from pipelines.maps.layers import ZONE_COLOUR
from pipelines.maps.notes import NOTE_COLOURS, ORPHAN_COLOUR
from pipelines.maps.qml import (
    HATCH,
    HIDDEN_COLOUR,
    Rule,
    Style,
    Symbol,
    both,
    categories,
    not_hidden,
    quoted,
)
from pipelines.maps.views import (
    CATEGORY_COLOURS,
    GI_COLOURS,
    KDE_COLOURS,
    MISSING_COLOUR,
    ZERO_COLOUR,
    count_classes,
    rate_classes,
)
from pipelines.published import ACTION_STATUSES, FLAG_SUFFIX, Publication, Published
from pipelines.taxonomy import BY_CODE, CODES

#: The buildings' outline, as on the map.
OUTLINE = "#4d4d4d"


def _fill(colour: str, **kw: Any) -> Symbol:
    return Symbol("fill", colour, outline=kw.pop("outline", OUTLINE), **kw)


def _hidden_rule(flag: str, publication: Publication, kind: str = "fill") -> Rule:
    symbol = (
        _fill(HIDDEN_COLOUR, style=HATCH)
        if kind == "fill"
        else Symbol("marker", HIDDEN_COLOUR, outline="#111111")
    )
    label = f"{publication.marker_fr} : {publication.reason_fr}"
    return Rule(label, f"{quoted(flag)} = 's'", symbol)


def _flag_of(frame: pd.DataFrame, column: str) -> str | None:
    flag = column + FLAG_SUFFIX
    return flag if flag in frame else None


def count_style(frame: pd.DataFrame, publication: Publication) -> Style:
    """Buildings by number of reports: the map's « Nombre de signalements » view (its
    classes for the whole period, YlOrRd, grey for none)."""
    flag = _flag_of(frame, "n_reports")
    shown = not_hidden(flag)
    values = pd.to_numeric(frame["n_reports"], errors="coerce")
    classes = count_classes(values)
    rules = [_hidden_rule(flag, publication)] if flag else []
    column = quoted("n_reports")
    for i, (lo, label, colour) in enumerate(
        zip(classes.bounds, classes.labels, classes.colours, strict=True)
    ):
        upper = f" AND {column} < {classes.bounds[i + 1]:g}" if i + 1 < len(classes.bounds) else ""
        rules.append(Rule(label, both(shown, f"{column} >= {lo:g}{upper}"), _fill(colour)))
    rules.append(
        Rule("Aucun signalement", both(shown, f"coalesce({column}, 0) = 0"), _fill(ZERO_COLOUR))
    )
    return Style("Nombre de signalements", "polygon", tuple(rules))


def rate_style(frame: pd.DataFrame, publication: Publication) -> Style:
    """Buildings by reports per 100 dwellings (the map's « taux » view); hatched where
    the number of dwellings is unknown."""
    flag = _flag_of(frame, "n_reports")
    shown = not_hidden(flag)
    column = quoted("reports_per_100_dwellings")
    classes = rate_classes(pd.to_numeric(frame["reports_per_100_dwellings"], errors="coerce"))
    rules = [_hidden_rule(flag, publication)] if flag else []
    known = f"{quoted('dwellings')} IS NOT NULL"
    rules.append(
        Rule(
            "Nombre de logements inconnu : pas de taux",
            both(shown, f"{quoted('dwellings')} IS NULL"),
            _fill("#ffffff", style=HATCH),
        )
    )
    for i, (lo, label, colour) in enumerate(
        zip(classes.bounds, classes.labels, classes.colours, strict=True)
    ):
        upper = f" AND {column} < {classes.bounds[i + 1]:g}" if i + 1 < len(classes.bounds) else ""
        rules.append(
            Rule(
                label,
                both(shown, known, f"{column} > 0 AND {column} >= {lo:g}{upper}"),
                _fill(colour),
            )
        )
    rules.append(
        Rule(
            "Aucun signalement",
            both(shown, known, f"coalesce({column}, 0) = 0"),
            _fill(ZERO_COLOUR),
        )
    )
    return Style("Signalements pour 100 logements", "polygon", tuple(rules), slug="taux")


def gi_style(frame: pd.DataFrame, publication: Publication) -> Style:
    """Buildings by Gi* bin: the map's « Points chauds et froids » view (RdBu)."""
    flag = _flag_of(frame, "gi_bin")
    shown = not_hidden(flag)
    rules = [_hidden_rule(flag, publication)] if flag else []
    order = [3, 2, 1, 0, -1, -2, -3]
    for rule in categories("gi_bin", order, GI_LABELS_FR, {b: _fill(GI_COLOURS[b]) for b in order}):
        rules.append(Rule(rule.label, both(shown, rule.filter), rule.symbol))
    rules.append(Rule("Non calculé", "ELSE", _fill(MISSING_COLOUR)))
    return Style("Points chauds et froids (Gi*)", "polygon", tuple(rules), slug="gi")


def building_styles(published: Published) -> tuple[Style, ...]:
    """The buildings' styles, the map's opening view (counts) first: then the rate when
    dwellings are known, and Gi* unless the site has too few reports to conclude."""
    p = published.profile
    publication = Publication.of(published.site)
    styles = [count_style(p, publication)]
    if "reports_per_100_dwellings" in p and p["dwellings"].notna().any():
        styles.append(rate_style(p, publication))
    if "gi_bin" in p and not TooFewReports.from_site(published.site).site:
        styles.append(gi_style(p, publication))
    return tuple(styles)


def zone_style(zones: pd.DataFrame) -> Style:
    """Hotspot zones as on the map: dashed dark red outline, light red fill; a zone built
    from too few reports (``has_enough_reports`` false) is not drawn, as on the map."""
    symbol = Symbol(
        "fill", ZONE_COLOUR, alpha=0.12, outline=ZONE_COLOUR, outline_alpha=0.9,
        width_mm=0.6, line_style="dash",
    )  # fmt: skip
    condition = (
        f"coalesce({quoted('has_enough_reports')}, TRUE)"
        if "has_enough_reports" in zones
        else "TRUE"
    )
    rule = Rule("Zone de points chauds (bâtiments chauds voisins regroupés)", condition, symbol)
    return Style("Zones de points chauds", "polygon", (rule,), label_field="zone_id")


def density_style(density: pd.DataFrame) -> Style:
    """Density bands as on the map: Purples spread over the bands, light to dark, the
    densest drawn last."""
    levels = sorted(pd.to_numeric(density["density_min_per_ha"], errors="coerce").dropna())
    n = len(levels)
    picks = np.linspace(0, len(KDE_COLOURS) - 1, n).round().astype(int) if n > 1 else [4]
    column = quoted("density_min_per_ha")
    labels = (
        dict(zip(density["density_min_per_ha"], density["label"], strict=True))
        if "label" in density
        else {}
    )
    rules = []
    for i, (level, pick) in enumerate(zip(levels, picks, strict=True)):
        colour = KDE_COLOURS[int(pick)]
        upper = f" AND {column} < {levels[i + 1]!r}" if i + 1 < n else ""
        label = labels.get(level) or f"{level:.1f} / ha et plus".replace(".", ",")
        symbol = Symbol("fill", colour, alpha=0.28, outline=colour, outline_alpha=0.9, width_mm=0.4)
        rules.append(Rule(str(label), f"{column} >= {level!r}{upper}", symbol))
    return Style(
        "Densité de signalements (par hectare)",
        "polygon",
        tuple(rules),
        order_by="density_min_per_ha",
    )


def points_style(points: pd.DataFrame) -> Style:
    """Points by category, in the map's category colours: walkthrough observations
    (``source_kind`` « observations ») as diamonds, residents' reports as circles."""
    present = set(points["category"].astype(str))
    is_observation = points["source_kind"].astype(str) == "observations"
    kind = quoted("source_kind")
    rules = []
    for shown, what, shape, condition in (
        (~is_observation, "signalement", "circle", f"coalesce({kind}, '') <> 'observations'"),
        (is_observation, "observation", "diamond", f"{kind} = 'observations'"),
    ):
        if not shown.any():
            continue
        for code in CODES:
            if code not in present:
                continue
            symbol = Symbol(
                "marker", CATEGORY_COLOURS[code], outline="#111111", width_mm=0.3, shape=shape
            )
            rules.append(
                Rule(
                    f"{BY_CODE[code].label} ({what})",
                    f"{quoted('category')} = '{code}' AND {condition}",
                    symbol,
                )
            )
    rules.append(Rule("Autre", "ELSE", Symbol("marker", MISSING_COLOUR, outline="#111111")))
    return Style("Signalements et observations", "point", tuple(rules))


def notes_style(geometry: str) -> Style:
    """Notes by status in the map's colours; orphan notes grey."""
    rules = []
    # orphan_flag: « bâtiment disparu », « sans position », or empty for a linked note.
    orphan = f"coalesce({quoted('orphan_flag')}, '') <> ''"
    for status, colour in NOTE_COLOURS.items():
        rules.append(
            Rule(
                f"Note « {status} »",
                f"NOT {orphan} AND {quoted('status')} = '{status}'",
                _note_symbol(geometry, colour),
            )
        )
    rules.append(Rule("Note orpheline", orphan, _note_symbol(geometry, ORPHAN_COLOUR, dashed=True)))
    rules.append(Rule("Autre statut", "ELSE", _note_symbol(geometry, "#000000")))
    return Style("Notes des urbanistes", geometry, tuple(rules))


def _note_symbol(geometry: str, colour: str, *, dashed: bool = False) -> Symbol:
    if geometry == "point":
        return Symbol("marker", colour, outline="#ffffff", width_mm=0.5, size_mm=3.2)
    if geometry == "line":
        return Symbol("line", colour, width_mm=0.8, line_style="dot" if dashed else "dash")
    return Symbol(
        "fill", colour, alpha=0.3, outline=colour, width_mm=0.8,
        line_style="dot" if dashed else "dash",
    )  # fmt: skip


def actions_style(actions: pd.DataFrame) -> Style:
    """Action targets by status; an overdue action outlined in red above its colour."""
    present = list(dict.fromkeys(actions["status"].dropna().astype(str))) if len(actions) else []
    rules = []
    for status in [s for s in ACTION_STATUSES if s in present]:
        colour = status_colour(status)  # the map's and the pack's colour of the status
        symbol = Symbol("fill", colour, alpha=0.35, outline=colour, width_mm=0.6)
        rules.append(Rule(f"Action « {status} »", f"{quoted('status')} = '{status}'", symbol))
    rules.append(Rule("Autre statut", "ELSE", Symbol("fill", MISSING_COLOUR, alpha=0.35)))
    if "is_overdue" in actions:
        overdue = Symbol("fill", "#ffffff", alpha=0.0, outline="#b2182b", width_mm=1.0)
        rules.append(
            Rule("En retard (échéance passée)", f"coalesce({quoted('is_overdue')}, FALSE)", overdue)
        )
    return Style(
        "Actions",
        "polygon",
        tuple(rules),
        label_field="action_id" if "action_id" in actions else None,
    )
