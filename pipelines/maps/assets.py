"""Self-contained HTML maps: folium's CDN assets replaced by pinned npm files, inlined.

Steering committees open the maps in meeting rooms without any network. Folium renders
``<script src="https://…">`` and ``<link rel="stylesheet" href="https://…">`` tags for
Leaflet, its plugins and a few UI kits; this module

1. trims a :class:`folium.Map`'s default assets to what our maps use
   (:func:`configure_offline_map`, :func:`make_map`);
2. replaces every remaining external script and stylesheet with the content of the file
   pinned in ``package.json`` and installed by ``npm ci`` under ``node_modules/``, with
   the images that CSS refers to embedded as ``data:`` URIs (:func:`inline_assets`);
3. refuses to hand back HTML that still references the network
   (:func:`find_network_references`).

A CDN URL is mapped to a local file by npm package NAME and file name only: the version
in the CDN URL is ignored and the version pinned in ``package-lock.json`` wins (folium
0.20 asks for Leaflet 1.9.3 and MarkerCluster 1.1.0; the maps get 1.9.4 and 1.5.3).

Why jQuery and d3 stay: folium's ``Popup`` template builds its content with ``$(…)`` and
its "objects in front" hook uses ``$(document).ready``; branca's colormap legend is
written against d3 v3 (``d3.scale.threshold``, ``d3.svg.axis``). Bootstrap, Font-Awesome,
glyphicons and Leaflet.awesome-markers are dropped: ``folium.Icon`` (awesome markers) is
therefore not available in offline maps; use ``CircleMarker``, ``DivIcon`` or a plain
``Marker`` (its default icon is embedded too).
"""

from __future__ import annotations

import base64
import json
import logging
import mimetypes
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import folium

from pipelines.errors import VigieError

log = logging.getLogger(__name__)

#: Project root (the folder holding ``package.json``).
PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: Where ``npm ci`` installs the pinned packages.
NODE_MODULES = PROJECT_ROOT / "node_modules"

#: JavaScript files that may be inlined: (npm package name, path inside node_modules).
OFFLINE_JS: list[tuple[str, str]] = [
    ("leaflet", "leaflet/dist/leaflet.js"),
    ("jquery", "jquery/dist/jquery.min.js"),
    ("leaflet.markercluster", "leaflet.markercluster/dist/leaflet.markercluster.js"),
    ("leaflet-draw", "leaflet-draw/dist/leaflet.draw.js"),
    ("d3", "d3/d3.min.js"),
]
#: Stylesheets that may be inlined: (npm package name, path inside node_modules).
OFFLINE_CSS: list[tuple[str, str]] = [
    ("leaflet", "leaflet/dist/leaflet.css"),
    ("leaflet.markercluster", "leaflet.markercluster/dist/MarkerCluster.css"),
    ("leaflet.markercluster", "leaflet.markercluster/dist/MarkerCluster.Default.css"),
    ("leaflet-draw", "leaflet-draw/dist/leaflet.draw.css"),
]

#: Names under which CDNs publish a package, when they differ from the npm name.
PACKAGE_ALIASES: dict[str, str] = {"leaflet.draw": "leaflet-draw"}

#: Folium's own default assets (``folium.Map.default_js/css`` names) that offline maps keep.
KEPT_FOLIUM_JS = ("leaflet", "jquery")
KEPT_FOLIUM_CSS = ("leaflet_css",)

#: Maximum zoom of a map without tile layer (building level; Leaflet needs one for clusters).
DEFAULT_MAX_ZOOM = 20

#: Leaflet's default marker images, embedded so ``L.Icon.Default`` never fetches.
_LEAFLET_ICONS = {
    "iconUrl": "leaflet/dist/images/marker-icon.png",
    "iconRetinaUrl": "leaflet/dist/images/marker-icon-2x.png",
    "shadowUrl": "leaflet/dist/images/marker-shadow.png",
}

_SCRIPT_SRC = re.compile(
    r"<script\b(?P<before>[^>]*?)\bsrc\s*=\s*(?P<q>[\"'])(?P<url>.*?)(?P=q)(?P<after>[^>]*)>"
    r"\s*</script\s*>",
    re.IGNORECASE | re.DOTALL,
)
_LINK_TAG = re.compile(r"<link\b[^>]*>", re.IGNORECASE)
_DATA_BLOCK = re.compile(
    r"<script\b[^>]*\btype\s*=\s*[\"']?application/json\b[^>]*>.*?</script\s*>",
    re.IGNORECASE | re.DOTALL,
)
_ATTR = re.compile(r"([\w:-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+))")
_CSS_URL = re.compile(r"url\(\s*(?P<q>[\"']?)(?P<url>.*?)(?P=q)\s*\)", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"@import\s+(?:url\()?\s*[\"']?(?P<url>[^\"')\s;]+)", re.IGNORECASE)
_TILE_LAYER = re.compile(r"L\.tileLayer(?:\.wms)?\(\s*[\"'](?P<url>(?:https?:)?//[^\"']+)")
_CDN_PATHS = (
    # /ajax/libs/<package>/<version>/<file>
    re.compile(r"/ajax/libs/(?P<pkg>[^/]+)/[^/]+/(?P<file>.+)$"),
    # /npm/<package>[@<version>]/<file>   (scoped packages too)
    re.compile(r"/npm/(?P<pkg>(?:@[^/@]+/)?[^/@]+)(?:@[^/]*)?/(?P<file>.+)$"),
    # /<package>@<version>/<file>
    re.compile(r"^/(?P<pkg>(?:@[^/@]+/)?[^/@]+)@[^/]+/(?P<file>.+)$"),
    # /jquery-<version>[.min].js (no file group: the file is jquery.js)
    re.compile(r"^/(?P<pkg>jquery)-\d[\w.]*?(?:\.min)?\.js$"),
)


class OfflineAssetError(VigieError, ValueError):
    """A map references a resource that cannot be served from the pinned node_modules."""


class MissingAssetsError(OfflineAssetError):
    """``node_modules/`` (or one pinned file in it) is absent: run ``npm ci``."""


def missing_assets_message(node_modules: Path = NODE_MODULES) -> str:
    """The message shown when the pinned JavaScript packages are not installed."""
    return (
        f"bibliothèques JavaScript des cartes absentes ({node_modules}) : lancez "
        "« make setup », ou « npm ci --no-audit --no-fund » à la racine du projet "
        "(versions figées dans package-lock.json)."
    )


def check_node_modules(node_modules: Path = NODE_MODULES) -> None:
    """Raise :class:`MissingAssetsError` unless every pinned file is installed."""
    wanted = [p for _, p in OFFLINE_JS + OFFLINE_CSS] + list(_LEAFLET_ICONS.values())
    if not node_modules.is_dir():
        raise MissingAssetsError(missing_assets_message(node_modules))
    missing = [p for p in wanted if not (node_modules / p).is_file()]
    if missing:
        raise MissingAssetsError(
            missing_assets_message(node_modules) + f" Fichiers manquants : {', '.join(missing)}."
        )


def configure_offline_map(m: folium.Map) -> folium.Map:
    """Keep only the default assets an offline map needs (Leaflet, its CSS, jQuery).

    Folium's class-level lists are left untouched: the trimmed lists are set on this
    instance only. A tile layer that loads from the network is refused: create the map
    with ``tiles=None`` (see :func:`make_map`) and add an offline basemap layer.

    Without a tile layer Leaflet has no maximum zoom, and MarkerCluster then throws
    "Map has no maxZoom specified"; the map's own ``maxZoom`` option is set to
    :data:`DEFAULT_MAX_ZOOM` unless one is already there.

    Parameters
    ----------
    m
        The map, modified in place.

    Returns
    -------
    folium.Map
        The same map, for chaining.
    """
    m.default_js = [pair for pair in type(m).default_js if pair[0] in KEPT_FOLIUM_JS]
    m.default_css = [pair for pair in type(m).default_css if pair[0] in KEPT_FOLIUM_CSS]
    if "max_zoom" not in m.options and "maxZoom" not in m.options:
        m.options["max_zoom"] = DEFAULT_MAX_ZOOM
    for child in m._children.values():
        if isinstance(child, folium.TileLayer) and _is_external(str(child.tiles)):
            raise OfflineAssetError(
                f"fond de carte en ligne ({child.tiles}) interdit dans une carte hors ligne : "
                "créez la carte avec tiles=None."
            )
    return m


def make_map(*, max_zoom: int = DEFAULT_MAX_ZOOM, **kwargs: Any) -> folium.Map:
    """A :class:`folium.Map` without web tiles and trimmed by :func:`configure_offline_map`.

    Parameters
    ----------
    max_zoom
        The map's maximum zoom level (folium would give it to a tile layer only).
    **kwargs
        Passed to :class:`folium.Map`; ``tiles`` defaults to ``None``.
    """
    kwargs.setdefault("tiles", None)
    m = folium.Map(**kwargs)
    m.options["max_zoom"] = max_zoom
    return configure_offline_map(m)


def resolve_cdn_url(url: str, *, kind: str) -> str:
    """The path inside node_modules that replaces a CDN URL.

    Parameters
    ----------
    url
        An ``http(s)://`` or protocol-relative URL of a script or stylesheet.
    kind
        ``"js"`` or ``"css"``.

    Returns
    -------
    str
        A path from :data:`OFFLINE_JS` or :data:`OFFLINE_CSS`. The CDN's version is
        ignored: the package name and file name decide.

    Raises
    ------
    OfflineAssetError
        The URL is not a known file of a pinned package.
    """
    table = OFFLINE_JS if kind == "js" else OFFLINE_CSS
    path = urlsplit(url).path
    for pattern in _CDN_PATHS:
        match = pattern.search(path)
        if match is None:
            continue
        package = match["pkg"].lower()
        package = PACKAGE_ALIASES.get(package, package)
        file = match.groupdict().get("file") or f"{package}.js"
        wanted = _without_min(PurePosixPath(file).name)
        for name, local in table:
            if name == package and _without_min(PurePosixPath(local).name) == wanted:
                return local
        break
    target = "OFFLINE_JS" if kind == "js" else "OFFLINE_CSS"
    raise OfflineAssetError(
        f"ressource externe inconnue : {url}. Une carte hors ligne ne peut pas la charger. "
        f"Pour l'ajouter : épinglez le paquet npm dans package.json (npm install --save-exact "
        f"<paquet>@<version>), puis déclarez le fichier dans {target} de pipelines/maps/assets.py."
    )


def inline_assets(html: str, *, node_modules: Path = NODE_MODULES) -> str:
    """Replace external scripts and stylesheets with inline copies of the pinned files.

    Each ``<script src="http…">`` becomes an inline ``<script>`` and each
    ``<link rel="stylesheet" href="http…">`` an inline ``<style>``, with the content of the
    file of the same npm package in ``node_modules`` (the CDN's version is ignored, the
    pinned one wins). Images referenced by the CSS are embedded as ``data:`` URIs, and
    Leaflet's default marker icon is set to embedded images so that
    ``L.Icon.Default.imagePath`` detection never fetches. A file needed twice is inlined
    once.

    Parameters
    ----------
    html
        A rendered folium page (``m.get_root().render()``).
    node_modules
        Where ``npm ci`` installed ``package-lock.json``.

    Returns
    -------
    str
        The self-contained page.

    Raises
    ------
    MissingAssetsError
        ``node_modules`` is absent or incomplete.
    OfflineAssetError
        A script or stylesheet URL is not a known pinned file, or another network
        reference (image, iframe, tile layer, CSS ``url()``/``@import``) remains.
    """
    check_node_modules(node_modules)
    versions = asset_versions(node_modules)
    done: set[str] = set()

    def script(match: re.Match[str]) -> str:
        url = match["url"]
        if not _is_external(url):
            return match.group(0)
        local = resolve_cdn_url(url, kind="js")
        if local in done:
            return ""
        done.add(local)
        code = (node_modules / local).read_text(encoding="utf-8")
        out = f"<script>/* {_label(local, versions)} */\n{_escape(code, 'script')}\n</script>"
        if local == "leaflet/dist/leaflet.js":
            out += _leaflet_icon_script(node_modules)
        return out

    def link(match: re.Match[str]) -> str:
        attrs = _attrs(match.group(0))
        url = attrs.get("href", "")
        if "stylesheet" not in attrs.get("rel", "").lower().split() or not _is_external(url):
            return match.group(0)
        local = resolve_cdn_url(url, kind="css")
        if local in done:
            return ""
        done.add(local)
        css = _embed_css_urls(node_modules / local, node_modules)
        return f"<style>/* {_label(local, versions)} */\n{_escape(css, 'style')}\n</style>"

    def inline(part: str) -> str:
        # Stylesheets first: once the scripts are inlined, their code would be scanned too.
        return _SCRIPT_SRC.sub(script, _LINK_TAG.sub(link, part))

    out = _outside_data_blocks(html, inline)
    remaining = find_network_references(out)
    if remaining:
        raise OfflineAssetError(
            "la carte référence encore le réseau : "
            + ", ".join(remaining)
            + ". Retirez ces ressources ou ajoutez-les aux paquets figés "
            "(pipelines/maps/assets.py)."
        )
    log.debug("inlined %d assets (%d -> %d characters)", len(done), len(html), len(out))
    return out


def _outside_data_blocks(html: str, transform: Callable[[str], str]) -> str:
    """``html`` with ``transform`` applied to everything but its data blocks.

    A ``<script type="application/json">`` block holds data (a planner's note may read
    ``<link rel="stylesheet" href="https://…">``): it is text, never a tag to inline. Its
    end is its first ``</script``, which its JSON cannot contain
    (:func:`pipelines.markup.script_json`).
    """
    parts, start = [], 0
    for match in _DATA_BLOCK.finditer(html):
        parts += [transform(html[start : match.start()]), match.group(0)]
        start = match.end()
    parts.append(transform(html[start:]))
    return "".join(parts)


def find_network_references(html: str) -> list[str]:
    """URLs a browser would fetch from the network when opening ``html``.

    Looks at ``src``/``href``/``srcset``/``poster``/``data`` attributes (links ``<a href>``
    excepted: they are only followed on a click), CSS ``url()`` and ``@import`` in
    ``<style>`` blocks and ``style`` attributes, and folium tile layers in scripts. Other
    URLs inside scripts (namespaces, attribution links) are not requests and are ignored;
    the headless browser test catches what a static look cannot.
    """
    parser = _ReferenceFinder()
    parser.feed(html)
    parser.close()
    return list(dict.fromkeys(parser.found))


def asset_versions(node_modules: Path = NODE_MODULES) -> dict[str, str]:
    """Installed version of each pinned package, e.g. ``{"leaflet": "1.9.4", …}``."""
    names = dict.fromkeys(name for name, _ in OFFLINE_JS + OFFLINE_CSS)
    versions = {}
    for name in names:
        meta = node_modules / name / "package.json"
        if meta.is_file():
            versions[name] = json.loads(meta.read_text(encoding="utf-8"))["version"]
    return versions


def _is_external(url: str) -> bool:
    return bool(re.match(r"^\s*(?:https?:)?//", url, re.IGNORECASE))


def _without_min(name: str) -> str:
    return re.sub(r"\.min(?=\.\w+$)", "", name)


def _label(local: str, versions: dict[str, str]) -> str:
    package = local.split("/")[0]
    return f"{package}@{versions.get(package, '?')} {local}"


def _escape(text: str, tag: str) -> str:
    """Keep an inlined file from closing its own ``<script>``/``<style>`` element early."""
    return re.sub(rf"</({tag})", r"<\\/\1", text, flags=re.IGNORECASE)


def _attrs(tag: str) -> dict[str, str]:
    return {m[1].lower(): m[2] or m[3] or m[4] or "" for m in _ATTR.finditer(tag)}


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _embed_css_urls(css_path: Path, node_modules: Path) -> str:
    """The stylesheet with each relative ``url(…)`` replaced by a ``data:`` URI."""
    root = node_modules.resolve()

    def embed(match: re.Match[str]) -> str:
        url = match["url"]
        if url.startswith(("data:", "#")):
            return match.group(0)
        if _is_external(url) or re.match(r"^[a-z][\w+.-]*:", url, re.IGNORECASE):
            raise OfflineAssetError(f"{css_path} : URL externe {url} dans la feuille de style.")
        target = (css_path.parent / url.split("?")[0].split("#")[0]).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            raise MissingAssetsError(
                f"{css_path} : image {url} introuvable. " + missing_assets_message(node_modules)
            )
        return f'url("{_data_uri(target)}")'

    return _CSS_URL.sub(embed, css_path.read_text(encoding="utf-8"))


def _leaflet_icon_script(node_modules: Path) -> str:
    options = {key: _data_uri(node_modules / path) for key, path in _LEAFLET_ICONS.items()}
    # An empty imagePath string stops Leaflet's CSS-based path detection, which would
    # otherwise build "marker-icon.png" URLs relative to the page.
    return (
        "\n<script>/* vigie: embedded default marker icon */\n"
        'L.Icon.Default.imagePath = "";\n'
        f"L.Icon.Default.mergeOptions({json.dumps(options)});\n</script>"
    )


#: ``<script type=…>`` values that browsers run (the empty string: no ``type``).
_SCRIPT_TYPES = frozenset({"", "text/javascript", "application/javascript", "module"})


class _ReferenceFinder(HTMLParser):
    _URL_ATTRS = frozenset({"src", "href", "srcset", "poster", "data", "background"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name in self._URL_ATTRS and tag != "a":
                for part in value.split(","):
                    url = part.strip().split(" ")[0]
                    if _is_external(url):
                        self.found.append(url)
            elif name == "style":
                self._css(value)
        self._in = tag if tag in ("style", "script") else None
        kind = dict(attrs).get("type") or ""
        if tag == "script" and kind.strip().lower() not in _SCRIPT_TYPES:
            # A data block (``application/json``) is never run: a URL in its text (a
            # planner's note, say) is not a request.
            self._in = None

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "style":
            self._css(data)
        elif self._in == "script":
            self.found.extend(m["url"] for m in _TILE_LAYER.finditer(data))

    def _css(self, css: str) -> None:
        for pattern in (_CSS_URL, _CSS_IMPORT):
            self.found.extend(m["url"] for m in pattern.finditer(css) if _is_external(m["url"]))
