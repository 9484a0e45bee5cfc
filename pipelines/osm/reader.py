"""The one reader of OSM files: ``.osm``, ``.osm.bz2`` and ``.osm.pbf`` through pyosmium.

Every stage that reads an OSM extract (buildings, basemap, addresses, bounds) calls
:func:`read_osm_elements` once: one pass of ``osmium.FileProcessor`` keeps the node
coordinates, the ways' node lists and the relations' members with their tags, and the
header box. Geometries are then built by :func:`way_geometry` and
:func:`relation_geometry`, which repair what a clipped extract breaks and count it in an
:class:`Incomplete` record that each stage puts in its summary and its log:

- a way whose nodes are not all in the file is dropped when it is an area
  (``ways_missing_nodes_dropped``); a line is cut into the runs of nodes that are present
  (``lines_cut_at_missing_nodes``), and dropped when no run has two nodes;
- a multipolygon relation with an outer member way missing (absent, or missing nodes) is
  dropped (``relations_missing_outer_dropped``); so is one with only an inner member
  missing (``relations_missing_inner_dropped``): without its hole the area would cover a
  courtyard that is not the building's, an invented surface. One whose rings do not
  close is dropped (``relations_unclosed_dropped``). The shipped ``paris10.osm`` has 7
  buildings of this last-but-one kind; osmnx dropped them too, without a word.

Two more kinds are counted: ``ways_degenerate_dropped``
(a ring of fewer than four nodes, a line of one; for buildings also a way that is not a
closed ring, or a ring with no surface, such as A-B-A) and ``relations_missing_members``
(an ``associatedStreet`` relation some of whose members are outside the extract: the
members present keep their street).

The geometry rules are those of ``osmnx.features`` (which the project used before), so
complete extracts give the same features: a closed way is a polygon when one of its tags
says so (:data:`POLYGON_FEATURES`, the overpass-turbo table osmnx uses), a relation's
outer and inner ways are merged and polygonised, inner polygons are cut out of the outer
ones that contain them. They are written here rather than taken from osmnx because
osmnx's builders are private, read XML only and raise (``EmptyPartError``) or drop
silently on incomplete elements; pyosmium's own area assembler skips incomplete
relations without saying which.

Everything is kept in Python dicts: fine for a city or a département (paris10.osm, 12,000
nodes, reads in under a second), not meant for a whole country's PBF.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
from shapely.ops import linemerge, polygonize, unary_union

from pipelines.errors import InputError
from pipelines.osm.checks import refuse_not_osm, refuse_overpass_error

log = logging.getLogger(__name__)

#: Closed ways that are areas, by tag (osmnx 2's ``_POLYGON_FEATURES``, itself the
#: overpass-turbo list): ``all`` values, a ``passlist`` of values, or all but a
#: ``blocklist``.
POLYGON_FEATURES: dict[str, tuple[str, frozenset[str]]] = {
    "aeroway": ("blocklist", frozenset({"taxiway"})),
    "amenity": ("all", frozenset()),
    "area": ("all", frozenset()),
    "area:highway": ("all", frozenset()),
    "barrier": (
        "passlist",
        frozenset({"city_wall", "ditch", "hedge", "retaining_wall", "spikes"}),
    ),
    "boundary": ("all", frozenset()),
    "building": ("all", frozenset()),
    "building:part": ("all", frozenset()),
    "craft": ("all", frozenset()),
    "golf": ("all", frozenset()),
    "highway": ("passlist", frozenset({"elevator", "escape", "rest_area", "services"})),
    "historic": ("all", frozenset()),
    "indoor": ("all", frozenset()),
    "landuse": ("all", frozenset()),
    "leisure": ("all", frozenset()),
    "man_made": ("blocklist", frozenset({"cutline", "embankment", "pipeline"})),
    "military": ("all", frozenset()),
    "natural": ("blocklist", frozenset({"arete", "cliff", "coastline", "ridge", "tree_row"})),
    "office": ("all", frozenset()),
    "place": ("all", frozenset()),
    "power": ("passlist", frozenset({"generator", "plant", "substation", "transformer"})),
    "public_transport": ("all", frozenset()),
    "railway": ("passlist", frozenset({"platform", "roundhouse", "station", "turntable"})),
    "ruins": ("all", frozenset()),
    "shop": ("all", frozenset()),
    "tourism": ("all", frozenset()),
    "waterway": ("passlist", frozenset({"boatyard", "dam", "dock", "riverbank"})),
}

#: Relation types whose geometry is an area (as in osmnx).
AREA_RELATION_TYPES = frozenset({"multipolygon", "boundary"})

#: The kinds of repair counted, in the order of the summaries.
INCOMPLETE_KINDS = (
    "ways_missing_nodes_dropped",
    "lines_cut_at_missing_nodes",
    "relations_missing_outer_dropped",
    "relations_missing_inner_dropped",
    "relations_unclosed_dropped",
    "relations_missing_members",
    "ways_degenerate_dropped",
)

#: Ids named per kind in the summary and the log.
N_EXAMPLES = 5

Member = tuple[str, int, str]


@dataclass
class Incomplete:
    """Counts (and a few ids) of the incomplete elements a stage repaired or dropped."""

    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, element: str) -> None:
        """Count ``element`` (``way/12``) under ``kind`` (one of :data:`INCOMPLETE_KINDS`)."""
        self.counts[kind] += 1
        shown = self.examples.setdefault(kind, [])
        if len(shown) < N_EXAMPLES:
            shown.append(element)

    def summary(self) -> dict[str, Any]:
        """``{kind: n, …, "examples": {kind: [ids]}}`` with every kind, zeros included."""
        out: dict[str, Any] = {kind: int(self.counts.get(kind, 0)) for kind in INCOMPLETE_KINDS}
        out["examples"] = {k: list(v) for k, v in self.examples.items()}
        return out

    def log_to(self, logger: logging.Logger, path: Path | str, what: str) -> None:
        """One warning per kind met, naming a few ids; nothing when the extract is whole."""
        for kind in INCOMPLETE_KINDS:
            if self.counts.get(kind):
                logger.warning(
                    "%s (%s): %d %s, e.g. %s",
                    path,
                    what,
                    self.counts[kind],
                    kind,
                    ", ".join(self.examples.get(kind, [])),
                )


@dataclass
class OsmElements:
    """What one pass over an OSM file keeps (ids are OSM ids, coordinates in degrees)."""

    path: Path
    #: Header box (west, south, east, north), ``None`` when the file has none.
    header_box: tuple[float, float, float, float] | None
    nodes: dict[int, tuple[float, float]]
    node_tags: dict[int, dict[str, str]]
    ways: dict[int, tuple[list[int], dict[str, str]]]
    relations: dict[int, tuple[list[Member], dict[str, str]]]

    def bounds(self) -> tuple[float, float, float, float]:
        """The header box, else the extent of the nodes (west, south, east, north)."""
        if self.header_box is not None:
            return self.header_box
        if not self.nodes:
            raise InputError(self.path, "aucun nœud : impossible de déterminer l'emprise.")
        lons = [xy[0] for xy in self.nodes.values()]
        lats = [xy[1] for xy in self.nodes.values()]
        return min(lons), min(lats), max(lons), max(lats)


def _format_of_content(path: Path) -> str | None:
    """pyosmium's format string of an OSM file from its first bytes (None when unknown
    or unreadable): XML, PBF (« OSMHeader » in its first block's header), bzip2, gzip."""
    try:
        with path.open("rb") as fh:
            head = fh.read(64)
    except OSError:
        return None
    if head.startswith(b"BZh"):
        return "osm.bz2"
    if head.startswith(b"\x1f\x8b"):
        return "osm.gz"
    if b"OSMHeader" in head[:24]:
        return "pbf"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return "osm"
    return None


def osm_file_format(path: Path) -> str:
    """pyosmium's format string of an OSM file, from its content, else its suffix (French
    error otherwise): Overpass saves its answer as « interpreter », without a suffix, and
    an XML extract renamed « .osm.pbf » was refused in osmium's words (« PBF error:
    invalid BlobHeader size »)."""
    found = _format_of_content(path)
    if found is not None:
        refuse_not_osm(path)
        return found
    refuse_not_osm(path)
    name = path.name.lower()
    if name.endswith(".pbf"):
        return "pbf"
    if name.endswith(".osm.bz2"):
        return "osm.bz2"
    if name.endswith(".osm.gz"):
        return "osm.gz"
    if name.endswith((".osm", ".xml")):
        return "osm"
    raise InputError(path, "format OSM inconnu : attendu .osm, .osm.bz2 ou .osm.pbf.")


def _open(path: str | Path) -> tuple[Path, Any]:
    import osmium

    path = Path(path)
    if not path.exists():
        raise InputError(path, "fichier OSM introuvable.")
    return path, osmium.io.File(str(path), osm_file_format(path))


def _box(header: Any) -> tuple[float, float, float, float] | None:
    box = header.box()
    if not box.valid():
        return None
    return box.bottom_left.lon, box.bottom_left.lat, box.top_right.lon, box.top_right.lat


def read_header_box(path: str | Path) -> tuple[float, float, float, float] | None:
    """The header box of an OSM file (``<bounds>`` of XML, header of PBF), elements unread."""
    import osmium

    path, osm_file = _open(path)
    try:
        reader = osmium.io.Reader(osm_file, osmium.osm.osm_entity_bits.NOTHING)
        try:
            return _box(reader.header())
        finally:
            reader.close()
    except (RuntimeError, ValueError) as err:  # osmium's reader errors
        raise InputError(path, f"lecture OSM impossible ({err})") from err


def read_osm_elements(path: str | Path) -> OsmElements:
    """Read an ``.osm``, ``.osm.bz2`` or ``.osm.pbf`` file in one pyosmium pass.

    Parameters
    ----------
    path
        The OSM file; the format comes from the suffix.

    Returns
    -------
    OsmElements
        Every node's coordinates, tagged nodes' tags, every way's node ids and tags,
        every relation's members and tags, the header box.

    Raises
    ------
    InputError
        Missing file, unknown suffix, or a file osmium cannot read (French message).
    """
    import osmium

    path, osm_file = _open(path)
    nodes: dict[int, tuple[float, float]] = {}
    node_tags: dict[int, dict[str, str]] = {}
    ways: dict[int, tuple[list[int], dict[str, str]]] = {}
    relations: dict[int, tuple[list[Member], dict[str, str]]] = {}
    try:
        processor = osmium.FileProcessor(osm_file)
        header_box = _box(processor.header)
        for obj in processor:
            if isinstance(obj, osmium.osm.Node):
                if obj.location.valid():
                    nodes[obj.id] = (obj.location.lon, obj.location.lat)
                if len(obj.tags):
                    node_tags[obj.id] = {t.k: t.v for t in obj.tags}
            elif isinstance(obj, osmium.osm.Way):
                ways[obj.id] = ([n.ref for n in obj.nodes], {t.k: t.v for t in obj.tags})
            elif isinstance(obj, osmium.osm.Relation):
                members = [(m.type, m.ref, m.role) for m in obj.members]
                relations[obj.id] = (members, {t.k: t.v for t in obj.tags})
    except (RuntimeError, ValueError, UnicodeDecodeError) as err:  # osmium's reader errors
        raise InputError(path, f"lecture OSM impossible ({err})") from err
    refuse_overpass_error(path, osm_file_format(path))
    # osmium names member types n/w/r; the stages use OSM's words.
    words = {"n": "node", "w": "way", "r": "relation"}
    relations = {
        rid: ([(words.get(t, t), ref, role) for t, ref, role in members], tags)
        for rid, (members, tags) in relations.items()
    }
    log.info("%s: %d nodes, %d ways, %d relations", path, len(nodes), len(ways), len(relations))
    return OsmElements(path, header_box, nodes, node_tags, ways, relations)


def is_area_way(refs: list[int], tags: dict[str, str]) -> bool:
    """Whether a way is an area: closed, not ``area=no``, a tag of :data:`POLYGON_FEATURES`."""
    if len(refs) < 2 or refs[0] != refs[-1] or tags.get("area") == "no":
        return False
    for key in tags.keys() & POLYGON_FEATURES.keys():
        rule, values = POLYGON_FEATURES[key]
        value = tags[key]
        if (
            rule == "all"
            or (rule == "passlist" and value in values)
            or (rule == "blocklist" and value not in values)
        ):
            return True
    return False


def _runs(refs: list[int], coords: dict[int, tuple[float, float]]) -> list[list[int]]:
    """Runs of consecutive node ids that are all present."""
    runs: list[list[int]] = [[]]
    for ref in refs:
        if ref in coords:
            runs[-1].append(ref)
        elif runs[-1]:
            runs.append([])
    return [r for r in runs if r]


def way_geometry(
    way_id: int,
    refs: list[int],
    tags: dict[str, str],
    coords: dict[int, tuple[float, float]],
    incomplete: Incomplete | None = None,
    *,
    cut_lines: bool = True,
) -> shapely.Geometry | None:
    """A way's Polygon or LineString; repaired or ``None`` (and counted) when incomplete.

    An area way with a node missing is dropped; a line is cut into its present runs
    (a MultiLineString when several) when ``cut_lines``, else dropped.
    """
    element = f"way/{way_id}"
    area = is_area_way(refs, tags)
    if all(r in coords for r in refs):
        try:
            if area:
                return shapely.Polygon([coords[r] for r in refs])
            return shapely.LineString([coords[r] for r in refs])
        except (shapely.errors.GEOSException, ValueError):  # too few points
            if incomplete is not None:
                incomplete.add("ways_degenerate_dropped", element)
            return None
    if area or not cut_lines:
        if incomplete is not None:
            incomplete.add("ways_missing_nodes_dropped", element)
        return None
    parts = [
        shapely.LineString([coords[r] for r in run]) for run in _runs(refs, coords) if len(run) >= 2
    ]
    if not parts:
        if incomplete is not None:
            incomplete.add("ways_missing_nodes_dropped", element)
        return None
    if incomplete is not None:
        incomplete.add("lines_cut_at_missing_nodes", element)
    return parts[0] if len(parts) == 1 else shapely.MultiLineString(parts)


def relation_geometry(
    relation_id: int,
    members: list[Member],
    elements: OsmElements,
    incomplete: Incomplete | None = None,
) -> shapely.Geometry | None:
    """The (multi)polygon of a multipolygon relation, repaired or ``None`` (and counted).

    Outer and inner member ways are merged and polygonised, and each outer polygon loses
    the inner ones it contains (osmnx's rule). A member way that is absent or misses
    nodes drops the relation, counted by the member's role (outer or empty: outer).
    """
    element = f"relation/{relation_id}"
    outer_lines: list[Any] = []
    inner_lines: list[Any] = []
    outer_polys: list[Any] = []
    inner_polys: list[Any] = []
    missing_outer = missing_inner = False
    for mtype, ref, role in members:
        if mtype != "way":
            continue
        way = elements.ways.get(ref)
        geom = None
        if way is not None and all(r in elements.nodes for r in way[0]):
            geom = way_geometry(ref, way[0], way[1], elements.nodes)
        if geom is None:
            if role == "inner":
                missing_inner = True
            elif role in ("outer", ""):
                missing_outer = True
            continue
        if role == "outer":
            (outer_polys if geom.geom_type == "Polygon" else outer_lines).append(geom)
        elif role == "inner":
            (inner_polys if geom.geom_type == "Polygon" else inner_lines).append(geom)
    if missing_outer or missing_inner:
        if incomplete is not None:
            kind = "outer" if missing_outer else "inner"
            incomplete.add(f"relations_missing_{kind}_dropped", element)
        return None
    for lines, polys in ((outer_lines, outer_polys), (inner_lines, inner_polys)):
        if lines:
            merged = linemerge(lines)
            parts = merged.geoms if hasattr(merged, "geoms") else [merged]
            for part in parts:
                polys.extend(polygonize(part))
    if inner_polys:
        pieces = []
        for outer in outer_polys:
            shapely.prepare(outer)
            holes = [inner for inner in inner_polys if outer.contains(inner)]
            pieces.append(outer.difference(unary_union(holes)))
        geometry = unary_union(pieces)
    else:
        geometry = unary_union(outer_polys)
    if geometry.geom_type not in ("Polygon", "MultiPolygon") or geometry.is_empty:
        if incomplete is not None:
            incomplete.add("relations_unclosed_dropped", element)
        return None
    return geometry


def matches(tags: dict[str, str], wanted: dict[str, bool | str | list[str]]) -> bool:
    """Whether ``tags`` has one of the ``wanted`` keys with an accepted value (osmnx's rule)."""
    for key, value in wanted.items():
        if key not in tags:
            continue
        if value is True or tags[key] == value or (isinstance(value, list) and tags[key] in value):
            return True
    return False


def tagged_features(
    elements: OsmElements,
    wanted: dict[str, bool | str | list[str]],
    incomplete: Incomplete,
    *,
    cut_lines: bool = True,
) -> list[dict[str, Any]]:
    """Ways and area relations whose tags match ``wanted``, with their repaired geometry.

    Rows (``element``, ``id``, tags…, ``geometry``) are ordered as osmnx orders its
    features (``relation`` before ``way``, then by id); nodes are not returned. Elements
    whose geometry cannot be built are counted in ``incomplete`` and left out.
    """
    rows: list[dict[str, Any]] = []
    for rid in sorted(elements.relations):
        members, tags = elements.relations[rid]
        if tags.get("type") not in AREA_RELATION_TYPES or not matches(tags, wanted):
            continue
        geom = relation_geometry(rid, members, elements, incomplete)
        if geom is not None:
            rows.append({**tags, "element": "relation", "id": rid, "geometry": geom})
    for wid in sorted(elements.ways):
        refs, tags = elements.ways[wid]
        if not refs or not matches(tags, wanted):
            continue
        geom = way_geometry(wid, refs, tags, elements.nodes, incomplete, cut_lines=cut_lines)
        if geom is not None and not geom.is_empty:
            rows.append({**tags, "element": "way", "id": wid, "geometry": geom})
    return rows
