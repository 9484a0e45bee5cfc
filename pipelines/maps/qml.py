"""QGIS layer styles (QML) for the site's GeoPackage, in the map's colours.

A QML file is the XML QGIS writes with « Style → Enregistrer le style » and reads back, in
a ``.qml`` file or in a GeoPackage's ``layer_styles`` table (:mod:`pipelines.maps.gpkg`).
Every style here is a rule-based renderer (``RuleRenderer``): one rule per legend entry,
with a QGIS expression as its filter and the legend's French label, so that what QGIS
shows in its layer panel reads as the map's legend does. The colours are the map's
(:mod:`pipelines.maps.views`, :mod:`pipelines.maps.layers`, :mod:`pipelines.maps.notes`),
and the classes of counts and rates are the map's for the whole period
(:func:`~pipelines.maps.views.count_classes`, :func:`~pipelines.maps.views.rate_classes`).

A hidden value (its companion ``<column>_flag`` is « s », :mod:`pipelines.published`)
gets a rule of its own, hatched grey and labelled with the publication's marker and reason
(:attr:`pipelines.published.Publication.reason_fr`), before the classes: it is never
drawn as a zero. The other rules exclude it, so that each feature matches one rule
(QGIS draws every rule a feature matches).

Written with :mod:`xml.etree.ElementTree` rather than a QGIS library: QGIS's Python API
(PyQGIS) comes only with a QGIS installation, and a style is a small, documented XML
document. Rule keys are UUIDs derived from the layer and the rule's position, so that
identical runs write identical styles.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: The QGIS version the styles are written for (checked with QGIS 3.22; the symbol
#: options are written both ways QGIS writes them, ``<Option>`` and the older ``<prop>``).
QGIS_VERSION = "3.34.0-Prizren"
#: QGIS's geometry types, by the family of a layer.
GEOMETRY_TYPES = {"point": 0, "line": 1, "polygon": 2}
#: The hatch of a hidden value or an unknown rate (QGIS's brush style).
HATCH = "b_diagonal"
#: Grey of a hidden value (the hatch of the map's « taux inconnu »).
HIDDEN_COLOUR = "#b0b0b0"


def rgba(colour: str, alpha: float = 1.0) -> str:
    """``"#b2182b"`` → ``"178,24,43,255"`` (QGIS's colour value)."""
    c = colour.lstrip("#")
    if len(c) != 6:
        raise ValueError(f"colour {colour!r}: expected #rrggbb")
    r, g, b = (int(c[i : i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},{round(255 * alpha)}"


def quoted(column: str) -> str:
    """A column name in a QGIS expression: ``"n_reports"``."""
    return '"' + column.replace('"', '""') + '"'


def text_literal(value: str) -> str:
    """A string literal in a QGIS expression: ``'en cours'``."""
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class Symbol:
    """One QGIS symbol: a fill (polygons), a line or a marker (points).

    Attributes
    ----------
    kind
        ``"fill"``, ``"line"`` or ``"marker"``.
    colour
        Fill colour (``#rrggbb``; the line's colour for a line), with ``alpha``.
    outline
        Outline colour (fills and markers), with ``outline_alpha``; ``None``: no outline.
    width_mm
        Outline or line width, in millimetres.
    style
        Fill brush (``solid``, ``no``, ``b_diagonal``…) for a fill.
    line_style
        ``solid``, ``dash``, ``dot`` (outline of a fill, or a line).
    shape, size_mm
        A marker's shape (``circle``, ``diamond``, ``square``) and size.
    """

    kind: str
    colour: str
    alpha: float = 1.0
    outline: str | None = "#4d4d4d"
    outline_alpha: float = 1.0
    width_mm: float = 0.2
    style: str = "solid"
    line_style: str = "solid"
    shape: str = "circle"
    size_mm: float = 2.6

    def options(self) -> dict[str, str]:
        """The symbol layer's QGIS options."""
        outline = rgba(self.outline, self.outline_alpha) if self.outline else "0,0,0,0"
        if self.kind == "fill":
            return {
                "color": rgba(self.colour, self.alpha),
                "style": self.style,
                "outline_color": outline,
                "outline_style": self.line_style if self.outline else "no",
                "outline_width": f"{self.width_mm:g}",
                "outline_width_unit": "MM",
                "joinstyle": "bevel",
            }
        if self.kind == "line":
            return {
                "line_color": rgba(self.colour, self.alpha),
                "line_style": self.line_style,
                "line_width": f"{self.width_mm:g}",
                "line_width_unit": "MM",
                "capstyle": "round",
                "joinstyle": "round",
            }
        if self.kind == "marker":
            return {
                "name": self.shape,
                "color": rgba(self.colour, self.alpha),
                "outline_color": outline,
                "outline_style": "solid" if self.outline else "no",
                "outline_width": f"{self.width_mm:g}",
                "outline_width_unit": "MM",
                "size": f"{self.size_mm:g}",
                "size_unit": "MM",
            }
        raise ValueError(f"symbol kind {self.kind!r}")

    @property
    def qgis_class(self) -> str:
        return {"fill": "SimpleFill", "line": "SimpleLine", "marker": "SimpleMarker"}[self.kind]


@dataclass(frozen=True)
class Rule:
    """One legend entry: the features matching ``filter`` (a QGIS expression; ``"ELSE"``:
    those no other rule matches) drawn with ``symbol``, under ``label``."""

    label: str
    filter: str
    symbol: Symbol


@dataclass(frozen=True)
class Style:
    """A layer's style: its rules (in legend order), the field aliases, and optionally a
    label field and a drawing order.

    Attributes
    ----------
    name
        The style's name in QGIS (``layer_styles.styleName``), French.
    geometry
        ``"point"``, ``"line"`` or ``"polygon"``.
    rules
        The legend, top first.
    aliases
        Column → French alias, in the layer's column order.
    label_field
        A column drawn as a label on each feature, or ``None``.
    order_by
        A column the features are drawn in ascending order of (the denser density bands
        above the lighter ones), or ``None``.
    slug
        A short ASCII name for the style's QML file (``taux``: ``…_batiments_taux.qml``);
        empty for a layer's default style.
    """

    name: str
    geometry: str
    rules: tuple[Rule, ...]
    aliases: Mapping[str, str] = field(default_factory=dict)
    label_field: str | None = None
    order_by: str | None = None
    slug: str = ""

    def fields(self) -> list[str]:
        """Every column a filter, the label or the order names (to check they exist)."""
        names: list[str] = []
        for rule in self.rules:
            names += _columns_in(rule.filter)
        names += [c for c in (self.label_field, self.order_by) if c]
        return list(dict.fromkeys(names))


def _columns_in(expression: str) -> list[str]:
    """The ``"quoted"`` column names of a QGIS expression (as :func:`quoted` writes them)."""
    out, i = [], 0
    while (start := expression.find('"', i)) >= 0:
        end = start + 1
        while True:
            end = expression.index('"', end)
            if expression[end : end + 2] == '""':
                end += 2
                continue
            break
        out.append(expression[start + 1 : end].replace('""', '"'))
        i = end + 1
    return out


def _key(*parts: object) -> str:
    return "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, "vigie/qml/" + "/".join(map(str, parts)))) + "}"


def _option_map(parent: ET.Element, options: Mapping[str, str]) -> None:
    block = ET.SubElement(parent, "Option", type="Map")
    for name, value in options.items():
        ET.SubElement(block, "Option", type="QString", name=name, value=value)


def _symbol(parent: ET.Element, name: str, symbol: Symbol) -> None:
    el = ET.SubElement(
        parent,
        "symbol",
        type=symbol.kind,
        name=name,
        alpha="1",
        clip_to_extent="1",
        force_rhr="0",
    )
    layer = ET.SubElement(el, "layer", {"class": symbol.qgis_class}, enabled="1", locked="0")
    layer.set("pass", "0")
    options = symbol.options()
    _option_map(layer, options)
    for key, value in options.items():  # the pre-3.20 spelling, which QGIS still writes
        ET.SubElement(layer, "prop", k=key, v=value)


def qml(style: Style, *, layer: str) -> str:
    """The QML document of ``style`` (for a layer named ``layer``), as text.

    Parameters
    ----------
    style
        The rules, aliases, label and order.
    layer
        The layer's name in the GeoPackage: the rule keys derive from it.

    Returns
    -------
    str
        ``<!DOCTYPE qgis …><qgis …>…</qgis>``: a rule-based renderer, the aliases
        (``<aliases>``, index counted after the GeoPackage's ``fid``), the label settings.
    """
    root = ET.Element(
        "qgis",
        version=QGIS_VERSION,
        styleCategories="AllStyleCategories",
        labelsEnabled="1" if style.label_field else "0",
        hasScaleBasedVisibilityFlag="0",
        minScale="100000000",
        maxScale="0",
    )
    renderer = ET.SubElement(
        root,
        "renderer-v2",
        type="RuleRenderer",
        symbollevels="0",
        forceraster="0",
        enableorderby="1" if style.order_by else "0",
    )
    rules = ET.SubElement(renderer, "rules", key=_key(layer, style.name, "root"))
    symbols = ET.SubElement(renderer, "symbols")
    for i, rule in enumerate(style.rules):
        ET.SubElement(
            rules,
            "rule",
            key=_key(layer, style.name, i),
            symbol=str(i),
            label=rule.label,
            filter=rule.filter,
        )
        _symbol(symbols, str(i), rule.symbol)
    if style.order_by:
        order = ET.SubElement(renderer, "orderby")
        clause = ET.SubElement(order, "orderByClause", asc="1", nullsFirst="1")
        clause.text = quoted(style.order_by)
    if style.label_field:
        labeling = ET.SubElement(root, "labeling", type="simple")
        settings = ET.SubElement(labeling, "settings", calloutType="simple")
        text = ET.SubElement(
            settings,
            "text-style",
            fieldName=style.label_field,
            isExpression="0",
            fontSize="9",
            fontWeight="75",
            textColor=rgba("#111111"),
            namedStyle="Bold",
        )
        ET.SubElement(
            text, "text-buffer", bufferDraw="1", bufferSize="0.8", bufferColor=rgba("#ffffff")
        )
        ET.SubElement(settings, "placement", placement="1")  # over the point / centroid
    aliases = ET.SubElement(root, "aliases")
    for index, (column, alias) in enumerate(style.aliases.items(), start=1):
        ET.SubElement(aliases, "alias", field=column, index=str(index), name=alias)
    ET.SubElement(root, "layerGeometryType").text = str(GEOMETRY_TYPES[style.geometry])
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + body + "\n"


def not_hidden(flag: str | None) -> str:
    """The filter part excluding a hidden value (``flag``: its companion column)."""
    return f"coalesce({quoted(flag)}, '') <> 's'" if flag else ""


def both(*parts: str) -> str:
    """``a AND b`` of the non-empty filters."""
    kept = [p for p in parts if p]
    return " AND ".join(f"({p})" if " OR " in p else p for p in kept) if kept else "TRUE"


def categories(
    column: str,
    values: Sequence[Any],
    labels: Mapping[Any, str],
    symbols: Mapping[Any, Symbol],
) -> list[Rule]:
    """One rule per value of ``column`` (numbers as they are, texts quoted)."""
    out = []
    for v in values:
        literal = text_literal(str(v)) if isinstance(v, str) else f"{v}"
        out.append(Rule(labels[v], f"{quoted(column)} = {literal}", symbols[v]))
    return out
