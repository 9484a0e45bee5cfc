"""HTML from Python, one way: data is never a template.

Two dangers meet in a folium page. branca's ``Element(text)`` compiles ``text`` as a
Jinja2 template, and folium's ``MacroElement.render`` wraps the output of each of its
macros in such an ``Element``, compiling it a second time. A string built from data (a
resident's description, an OpenStreetMap building or street name, a planner's note, the
site name) that reached either would run: ``{{ cycler.__init__.__globals__.os… }}``
executes Python when the map is built, and ``{#`` or ``{{ la nuit`` stop the build with a
``TemplateSyntaxError``. :func:`html.escape` does not help: it leaves braces alone.

So every page goes through this module (pieces of HTML that Python builds, such as the
fact sheets, escape each value with :func:`escape_text` first):

- :func:`escape_text` escapes a text from the data for HTML (text or attribute) and
  takes out the invisible characters that set the direction of the text after them
  (:data:`BIDI_CONTROLS`); the templates' variables lose them too (:func:`plain_text`,
  the environment's ``finalize``). A resident's « fuite\u202e au 3e » displayed « fuite
  e3 ua » and, in a fact sheet, reversed the label text after it on the same line.

- :func:`render_template` renders a **trusted** template, a file shipped in
  ``pipelines/templates/``, with autoescaping; data goes in only as variables.
  :func:`template_text` reads a script or a style sheet shipped there, to inline it.
- :class:`RawHtml` puts HTML that Python already built (and escaped) into a folium page
  as it is: its ``render`` returns the text, no template is involved.
- :class:`SafeMacroElement` is folium's ``MacroElement`` whose macro outputs are inserted
  as :class:`RawHtml` instead of being compiled again; a folium class that receives data
  is used through a subclass that also derives from it (as the map's script element
  in :mod:`pipelines.maps.site`).
- :func:`script_json` writes a data block for ``<script type="application/json">``.
- :func:`stable_ids` replaces folium's random element ids by ids derived from a seed
  (the site id), so that two identical runs write identical bytes.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
from collections import OrderedDict
from collections.abc import Iterator
from importlib import resources
from typing import Any

from branca.element import Element, Figure, MacroElement
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from pipelines.config.values import REORDERING

__all__ = [
    "BIDI_CONTROLS",
    "RawHtml",
    "SafeMacroElement",
    "add_html",
    "escape_text",
    "plain_text",
    "render_template",
    "script_json",
    "stable_ids",
    "template_text",
]

#: Unicode's explicit directional formatting characters: the embeddings, overrides and
#: isolates that reorder the text after them (:data:`pipelines.config.values.REORDERING`,
#: refused in a site's name) and the left-to-right and right-to-left marks (U+200E,
#: U+200F). Invisible, and not closed by the end of an HTML element: an override in a
#: value reversed the rest of its line in a popup or a table.
BIDI_CONTROLS = REORDERING | {"\u200e", "\u200f"}
_WITHOUT_BIDI = dict.fromkeys(map(ord, BIDI_CONTROLS))


def plain_text(text: str) -> str:
    """``text`` without :data:`BIDI_CONTROLS`.

    Taken out rather than isolated (``<bdi>``): the same text goes into attributes
    (tooltips, titles), where no element can, and a letter of Arabic or Hebrew keeps its
    own direction without them, so that such text still reads as written.
    """
    return text.translate(_WITHOUT_BIDI)


def escape_text(text: str) -> str:
    """A text from the data (a resident's description, an OSM name, a planner's note) as
    HTML text or attribute: without :data:`BIDI_CONTROLS`, then :func:`html.escape`."""
    return html.escape(plain_text(text), quote=True)


def _plain_variable(value: Any) -> Any:
    """A template variable's value before autoescaping: a text without
    :data:`BIDI_CONTROLS`; HTML built in Python (:class:`Markup`, escaped with
    :func:`escape_text`) and other values as they are."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return plain_text(value)
    return value


#: Trusted templates only: files of ``pipelines/templates``, autoescaped, with an error on
#: any undefined variable (a typo must not print an empty string in a committee's page).
_ENV = Environment(
    loader=PackageLoader("pipelines", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    keep_trailing_newline=False,
    finalize=_plain_variable,
)


def render_template(name: str, /, **context: Any) -> Markup:
    """Render a template shipped with the package; the values are escaped, never compiled.

    Parameters
    ----------
    name
        A file of ``pipelines/templates/`` (e.g. ``"map_header.html"``).
    **context
        The template's variables. Strings are escaped by autoescaping; a value that is
        already HTML (built and escaped by Python) is passed as :class:`markupsafe.Markup`.

    Returns
    -------
    markupsafe.Markup
        The rendered HTML.
    """
    return Markup(_ENV.get_template(name).render(**context))


@functools.cache
def template_text(name: str) -> str:
    """The text of a file shipped in ``pipelines/templates/`` (package data), as it is.

    For the scripts and style sheets inlined in the pages (``map.js``, ``map.css``,
    ``index.css``, ``annotate.js``…): trusted code, never data, never rendered.
    """
    return (resources.files("pipelines") / "templates" / name).read_text(encoding="utf-8")


def script_json(data: Any) -> str:
    """JSON of ``data`` for a ``<script type="application/json">`` element.

    ``</`` is written ``<\\/`` and ``<!--`` ``<\\u0021--``: no text in the block can close
    the script or open an HTML comment, and ``JSON.parse`` gives the same values back.
    (Writing every ``<`` as ``\\u003c``, as Django's ``json_script`` does, would make the
    demo maps 14 % larger: their fact sheets hold tens of thousands of tags.) Tools that
    read the page as text skip these blocks (:func:`pipelines.maps.assets.inline_assets`).
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("</", "<\\/").replace("<!--", "<\\u0021--")


class RawHtml(Element):
    """HTML already built and escaped by Python, put in the page as it is.

    branca's ``Element(text)`` compiles ``text`` as a template; this element has no
    template: :meth:`render` returns :attr:`html`.

    Parameters
    ----------
    html
        The HTML (a ``str`` or :class:`markupsafe.Markup`).
    """

    def __init__(self, html: str) -> None:
        super().__init__()
        self._name = "RawHtml"
        self.html = str(html)

    def render(self, **kwargs: Any) -> str:
        """The HTML as given."""
        return self.html


def add_html(part: Element, html: str, *, name: str | None = None) -> RawHtml:
    """Add built HTML to a part of a figure (``figure.header``, ``.html`` or ``.script``).

    Parameters
    ----------
    part
        ``m.get_root().header`` (inside ``<head>``), ``.html`` (in ``<body>``) or
        ``.script`` (inside the final ``<script>``).
    html
        The HTML, inserted as it is (:class:`RawHtml`).
    name
        The child's key (default: its name), as in ``Element.add_child``.
    """
    element = RawHtml(html)
    part.add_child(element, name=name)
    return element


class SafeMacroElement(MacroElement):
    """folium's ``MacroElement`` without the second compilation of its output.

    ``MacroElement.render`` renders the ``header``, ``html`` and ``script`` macros of the
    class's (trusted) template with the element as a variable, then wraps each output in
    ``Element(output)``, which compiles it as a template: data inside the output (a
    GeoJSON's properties, say) would be evaluated. This ``render`` is the same with
    :class:`RawHtml` in place of ``Element``. To use a folium class that receives data,
    derive from both: ``class NotesGeoJson(folium.GeoJson, SafeMacroElement)`` puts this
    ``render`` right above ``MacroElement`` in the method order, so folium's own
    ``render`` steps still run first.
    """

    def render(self, **kwargs: Any) -> str:
        """Add the macros' outputs to the figure's parts, as they are, then the children's
        (returns '' : the element's HTML is in the figure, as with ``MacroElement``)."""
        figure = self.get_root()
        if not isinstance(figure, Figure):
            raise TypeError(f"{type(self).__name__} : élément hors d'une figure.")
        module = self._template.module.__dict__
        for part in ("header", "html", "script"):
            macro = module.get(part)
            if macro is not None:
                getattr(figure, part).add_child(RawHtml(macro(self, kwargs)), name=self.get_name())
        for element in self._children.values():
            element.render(**kwargs)
        return ""


# --------------------------------------------------------------------------- stable ids
def _walk(element: Element, path: str) -> Iterator[tuple[str, Element]]:
    yield path, element
    if isinstance(element, Figure):
        for part in ("header", "html", "script"):
            yield from _walk(getattr(element, part), f"{path}/{part}")
    for i, child in enumerate(element._children.values()):
        yield from _walk(child, f"{path}/{i}")


def stable_ids(root: Element, seed: str) -> None:
    """Give every element of a folium tree an id derived from ``seed`` and its place.

    folium names each element (``map_<id>``, the JavaScript variables, the ``<div>``
    ids) after 32 random hexadecimal digits, so two identical runs write different
    files. Here the id of an element is the SHA-256 of ``seed`` and its path in the tree
    (the rank of each child in its parent), cut to the same 32 digits: the same map
    built twice has the same ids, two sites (two seeds) different ones. Children added
    later come after the existing ones, so calling this again after adding elements
    keeps the ids already given (a name used by a script stays valid).

    Parameters
    ----------
    root
        The tree's root (``m.get_root()``).
    seed
        What tells the pages apart: the site id.
    """
    for path, element in list(_walk(root, "")):
        element._id = hashlib.sha256(f"{seed}\x00{path}".encode()).hexdigest()[:32]
    # The children are keyed by their names (``add_child``): re-key them under the new
    # names, in the same order, so that a later ``add_child`` of the same name replaces.
    for _, element in list(_walk(root, "")):
        element._children = OrderedDict(
            (child.get_name() if _is_default_key(key, child) else key, child)
            for key, child in element._children.items()
        )


def _is_default_key(key: str, child: Element) -> bool:
    """Whether ``key`` is the child's name as ``add_child`` made it (``<name>_<32 hex>``)."""
    prefix, _, tail = key.rpartition("_")
    is_hex = len(tail) == 32 and all(c in "0123456789abcdef" for c in tail)
    return is_hex and prefix == child.get_name().rpartition("_")[0]
