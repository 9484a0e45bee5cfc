"""The portfolio's extract cut per site, in at most three passes over it whatever the
number of sites (pyosmium, numpy).

Each site's extract keeps the ways with a node in the perimeter's bounding box widened
by a margin, the tagged nodes in that box and the relations with a kept way member (the
*kept* objects, written as they are), and is completed with everything they reference
(the *referenced* objects, written without their tags so that they do not show as
features of their own): the nodes of each kept way, a kept relation's member nodes,
ways and relations, and the nodes of those member ways. Each way of a site's file has
all its nodes: a building on the box's edge stays whole. A member relation is not
completed in turn. These are the semantics of pyosmium's ``BackReferenceWriter`` with
its defaults (``remove_tags=True``, ``relation_depth=0``), which the cut used before;
``tests/test_portfolio_cut.py`` compares the two on the real Bondy extract.

Why not ``BackReferenceWriter``: one writer per site tracks the ids it needs in an
``IdTracker``, dense bit sets whose size follows the spread of the extract's ids, not the
site's size (about 700 MB per site on the real Bondy ids), and reads the whole extract
again when it closes. Cut 4 sites per pass to bound the memory, the benchmark's 200
sites took 50 passes plus 200 back-reference passes (``vigie split``: 1,810 s, mostly
this cut). pyosmium has no cut of many extracts at once (osmium-tool's ``extract`` is
another program), so the cut is written here, in passes over the extract whose number
does not grow with the sites':

1. everything: which nodes fall in which box (numpy, a chunk of nodes at a time), which
   ways use one of them, which relations have a kept way, and what these reference;
2. the ways alone, and only when a kept relation has member ways its site does not keep:
   the nodes of those ways;
3. everything: each object goes to the file of every site that keeps or references it.

The ids are held as sorted numpy arrays of (id, site) keys, 8 bytes per object per site:
memory follows what the sites hold, not the extract's id range. No node location cache
either: a way is in a box when one of its node ids is.

An extract is normally sorted (nodes, then ways, then relations). One that is not, such
as Overpass's ``out body; >; out skel qt;`` (the ways, then their nodes), is read again
one kind at a time (three filtered passes instead of pass 1, and in pass 3): its
unsorted order wrote every site an empty extract, without a word.
"""

from __future__ import annotations

import logging
import math
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import osmium

from pipelines.config import Perimeter
from pipelines.errors import InputError

log = logging.getLogger(__name__)

#: Metres per degree of latitude.
_M_PER_DEG = 111_320.0

#: Nodes or way node references read before numpy places them (a chunk at a time).
_CHUNK = 1 << 16

#: Each site file's write buffer, bytes: pyosmium's default (4 MB) times hundreds of
#: sites open at once would be gigabytes.
_WRITE_BUFFER = 1 << 18

#: Object kinds, as pyosmium's relation members name them.
_KINDS = ("n", "w", "r")
_NWR = osmium.osm.NODE | osmium.osm.WAY | osmium.osm.RELATION

_Array = np.ndarray[Any, Any]


def widened(bbox: tuple[float, float, float, float], margin_m: float) -> tuple[float, ...]:
    """``bbox`` (west, south, east, north, degrees) widened by ``margin_m`` metres."""
    west, south, east, north = bbox
    dlat = margin_m / _M_PER_DEG
    dlon = margin_m / (_M_PER_DEG * max(math.cos(math.radians((south + north) / 2)), 0.01))
    return west - dlon, south - dlat, east + dlon, north + dlat


def cut_extract(
    src: str | Path,
    sites: Sequence[Perimeter],
    dsts: Sequence[Path],
    *,
    margin_m: float,
) -> dict[str, int]:
    """Write each site's part of ``src`` to its path in ``dsts`` (its format from its
    name, as pyosmium reads it), in at most three passes over ``src``.

    Returns the number of ways kept per site (those with a node in its box).

    Raises
    ------
    InputError
        ``src`` cannot be read by osmium.
    """
    if not sites:
        return {}
    boxes = np.array([widened(p.bbox, margin_m) for p in sites], dtype=float)
    in_order = True
    try:
        try:
            found = _find(osmium.FileProcessor(str(src)), boxes)
        except _UnsortedError:
            in_order = False
            log.warning(
                "%s : extrait non trié (des nœuds après les chemins, ou des chemins après "
                "les relations, comme l'écrit Overpass avec « out body; >; out skel qt; ») : "
                "relu un type d'objet à la fois (plus lent ; « osmium sort » le trie).",
                src,
            )
            found = _find(_by_kind(str(src)), boxes)
        extra = _Keys.difference(found.referenced["w"], found.kept["w"])
        if len(extra.keys):
            _add_nodes_of_ways(str(src), extra, found.referenced["n"])
    except (RuntimeError, ValueError) as err:  # osmium's reader errors
        raise InputError(src, f"lecture OSM impossible ({err})") from err
    # The extract was read whole once already: the last pass cannot fail on it.
    _write_sites(str(src), found, dsts, in_order=in_order, boxes=boxes)
    kept_ways = np.bincount(found.kept["w"].sites(), minlength=len(sites))
    return {p.id: int(n) for p, n in zip(sites, kept_ways, strict=True)}


def _unique(values: _Array) -> _Array:
    """The distinct values, sorted: ``np.unique``'s answer, by a sort. numpy 2.4's
    ``np.unique`` hashes integers, 1.8 s for the 1.7 million node keys of the
    benchmark's 200 sites where the sort takes 0.02 s (a fifth of the cut's time)."""
    out = np.sort(values)
    if len(out):
        out = out[np.concatenate(([True], out[1:] != out[:-1]))]
    return out


class _Keys:
    """A set of (object id, site) pairs of one kind, as sorted ``id * sites + site``
    keys (int64: ids up to 2**63 / sites, far above OSM's)."""

    def __init__(self, n_sites: int) -> None:
        self.n_sites = n_sites
        self._parts: list[_Array] = []
        self.keys: _Array = np.zeros(0, np.int64)

    def add(self, ids: _Array, sites: _Array | int) -> None:
        """Add the pairs (``ids[i]``, ``sites[i]``), or (``ids[i]``, ``sites``)."""
        if len(ids):
            self._parts.append(np.asarray(ids, np.int64) * self.n_sites + sites)

    def freeze(self) -> _Keys:
        """Sort the pairs added so far into :attr:`keys` (duplicates dropped)."""
        self.keys = _unique(np.concatenate([self.keys, *self._parts]))
        self._parts = []
        return self

    def sites(self) -> _Array:
        """The site of each pair."""
        return self.keys % self.n_sites

    def match(self, ids: _Array) -> tuple[_Array, _Array]:
        """Every pair whose id is in ``ids``: the index in ``ids`` and the site."""
        base = np.asarray(ids, np.int64) * self.n_sites
        lo = np.searchsorted(self.keys, base, "left")
        hi = np.searchsorted(self.keys, base + self.n_sites, "left")
        count = hi - lo
        which = np.repeat(np.arange(len(ids)), count)
        return which, self.keys[_ranges(lo, count)] % self.n_sites

    @staticmethod
    def difference(a: _Keys, b: _Keys) -> _Keys:
        """The pairs of ``a`` not in ``b``."""
        out = _Keys(a.n_sites)
        out.keys = np.setdiff1d(a.keys, b.keys, assume_unique=True)
        return out


def _ranges(starts: _Array, counts: _Array) -> _Array:
    """``starts[i], …, starts[i] + counts[i] - 1`` for each ``i``, end to end."""
    ends = np.cumsum(counts)
    return np.repeat(starts - ends + counts, counts) + np.arange(ends[-1] if len(ends) else 0)


class _WayChunks:
    """Ways read a chunk at a time, their node ids end to end; ``flush`` gets the way
    ids, the node ids and each way's node count."""

    def __init__(self, flush: Callable[[_Array, _Array, _Array], None]) -> None:
        self._flush = flush
        self._ids: list[int] = []
        self._refs: list[int] = []
        self._counts: list[int] = []

    def add(self, way: Any) -> None:
        refs = [n.ref for n in way.nodes]
        self._ids.append(way.id)
        self._refs.extend(refs)
        self._counts.append(len(refs))
        if len(self._refs) >= _CHUNK:
            self.flush()

    def flush(self) -> None:
        if self._ids:
            self._flush(
                np.array(self._ids, np.int64),
                np.array(self._refs, np.int64),
                np.array(self._counts, np.int64),
            )
        self._ids, self._refs, self._counts = [], [], []


def _nodes_of(chosen: _Array, refs: _Array, counts: _Array) -> _Array:
    """The node ids of the ways at indexes ``chosen``, end to end."""
    starts = np.cumsum(counts) - counts
    return refs[_ranges(starts[chosen], counts[chosen])]


class _UnsortedError(Exception):
    """The extract has a node after a way, or a way after a relation."""


def _by_kind(src: str) -> Iterator[Any]:
    """The objects of ``src`` in the sorted order: its nodes, then its ways, then its
    relations (one filtered pass each)."""
    for kind in (osmium.osm.NODE, osmium.osm.WAY, osmium.osm.RELATION):
        yield from osmium.FileProcessor(src, kind)


def _find(objects: Iterable[Any], boxes: _Array) -> _Finder:
    """Pass 1 over ``objects``, in the sorted order (:class:`_UnsortedError` otherwise)."""
    found = _Finder(boxes)
    for obj in objects:
        found.add(obj)
    found.finish()
    return found


class _Finder:
    """Pass 1: what each site keeps (:attr:`kept`) and what its kept objects reference
    (:attr:`referenced`), per kind of object, for the ``boxes`` (sites, 4: west, south,
    east, north, degrees)."""

    def __init__(self, boxes: _Array) -> None:
        self.boxes = boxes
        n = len(boxes)
        self.kept = {k: _Keys(n) for k in _KINDS}
        self.referenced = {k: _Keys(n) for k in _KINDS}
        self._in_box = _Keys(n)  # every node in a box, tagged or not
        self._nodes: list[tuple[int, float, float, bool]] = []
        self._ways = _WayChunks(self._ways_in_boxes)
        self._stage = "n"

    def add(self, obj: Any) -> None:
        """Take the next object of the extract."""
        if isinstance(obj, osmium.osm.Node):
            if self._stage != "n":
                raise _UnsortedError
            loc = obj.location
            if loc.valid():
                self._nodes.append((obj.id, loc.lon, loc.lat, len(obj.tags) > 0))
                if len(self._nodes) >= _CHUNK:
                    self._nodes_in_boxes()
        elif isinstance(obj, osmium.osm.Way):
            if self._stage == "r":
                raise _UnsortedError
            self._to("w")
            self._ways.add(obj)
        elif isinstance(obj, osmium.osm.Relation):
            self._to("r")
            self._relation(obj)

    def finish(self) -> None:
        """After the last object: every set sorted."""
        self._to("end")
        for keys in (*self.kept.values(), *self.referenced.values()):
            keys.freeze()

    def _to(self, stage: str) -> None:
        """Close the stages before ``stage`` (nodes, then ways, then relations)."""
        if self._stage == "n" and stage != "n":
            self._nodes_in_boxes()
            self._in_box.freeze()
            self._stage = "w"
        if self._stage == "w" and stage not in ("n", "w"):
            self._ways.flush()
            self._in_box = _Keys(len(self.boxes))  # no longer needed
            self.kept["w"].freeze()
            self._stage = "r"

    def _nodes_in_boxes(self) -> None:
        if not self._nodes:
            return
        ids, lon, lat, tagged = (np.array(c) for c in zip(*self._nodes, strict=True))
        self._nodes = []
        w, s, e, n = self.boxes.T
        near = (w <= lon.max()) & (e >= lon.min()) & (s <= lat.max()) & (n >= lat.min())
        for i in np.flatnonzero(near).tolist():
            inside = (lon >= w[i]) & (lon <= e[i]) & (lat >= s[i]) & (lat <= n[i])
            self._in_box.add(ids[inside], i)
            self.kept["n"].add(ids[inside & tagged], i)

    def _ways_in_boxes(self, ids: _Array, refs: _Array, counts: _Array) -> None:
        """A chunk of ways: those with a node in a box, and their nodes, per site."""
        ref_at, site = self._in_box.match(refs)
        way_at = np.repeat(np.arange(len(ids)), counts)[ref_at]
        n = len(self.boxes)
        pairs = _unique(way_at * n + site)
        way_at, site = pairs // n, pairs % n
        self.kept["w"].add(ids[way_at], site)
        self.referenced["n"].add(_nodes_of(way_at, refs, counts), np.repeat(site, counts[way_at]))

    def _relation(self, rel: Any) -> None:
        members: dict[str, list[int]] = {k: [] for k in _KINDS}
        for m in rel.members:
            if m.type in members:
                members[m.type].append(m.ref)
        _, site = self.kept["w"].match(np.array(members["w"], np.int64))
        sites = _unique(site)
        if not len(sites):
            return
        self.kept["r"].add(np.full(len(sites), rel.id), sites)
        for kind, refs in members.items():
            self.referenced[kind].add(np.tile(refs, len(sites)), np.repeat(sites, len(refs)))


def _add_nodes_of_ways(src: str, ways: _Keys, nodes: _Keys) -> None:
    """Pass 2: add to ``nodes`` the nodes of the ``ways``, for the same site."""

    def flush(ids: _Array, refs: _Array, counts: _Array) -> None:
        way_at, site = ways.match(ids)
        nodes.add(_nodes_of(way_at, refs, counts), np.repeat(site, counts[way_at]))

    chunks = _WayChunks(flush)
    for way in osmium.FileProcessor(src, osmium.osm.WAY):
        chunks.add(way)
    chunks.flush()
    nodes.freeze()


class _Targets:
    """Which sites get an object of one kind, and whether they keep it (as it is) or
    only reference it (without its tags).

    :meth:`of` is asked for every object of the extract, in the file's order: ids
    ascending in a sorted extract. It reads on from where the last object's sites
    ended, searching only for an object out of that order, and reads the keys through
    a ``memoryview`` (Python ints, not numpy scalars): 2.7 µs an object was 1.5 µs
    (200 sites: 2 million objects).
    """

    def __init__(self, kept: _Keys, referenced: _Keys) -> None:
        self.all = _Keys(kept.n_sites)
        self.all.keys = _unique(np.concatenate([kept.keys, referenced.keys]))
        self.is_kept = np.isin(self.all.keys, kept.keys, assume_unique=True)
        self._keys = self.all.keys.data  # a memoryview
        self._kept = self.is_kept.data
        self._at = 0  # where the last object's sites ended

    def of(self, obj_id: int) -> list[tuple[int, bool]]:
        """The sites of object ``obj_id``, each with whether it keeps it."""
        keys, at = self._keys, self._at
        first = obj_id * self.all.n_sites
        if (at > 0 and keys[at - 1] >= first) or (at < len(keys) and keys[at] < first):
            at = bisect_left(keys, first)  # not right after the last object
        out = []
        while at < len(keys) and keys[at] < first + self.all.n_sites:
            out.append((keys[at] - first, bool(self._kept[at])))
            at += 1
        self._at = at
        return out


def _write_sites(
    src: str, found: _Finder, dsts: Sequence[Path], *, in_order: bool, boxes: _Array
) -> None:
    """Pass 3: each site's objects to its file, in the extract's order (sorted by kind
    when the extract is not, ``in_order`` false). Each file is written beside its path,
    then moved there once all are done. The file of a site whose box holds no node
    gives that box (``boxes``) in its header: without a node, nothing else tells its
    extent, and the site's stages stopped on it (« aucun nœud »)."""
    targets = {k: _Targets(found.kept[k], found.referenced[k]) for k in _KINDS}
    nodes = np.bincount(found.kept["n"].sites(), minlength=len(dsts)) + np.bincount(
        found.referenced["n"].sites(), minlength=len(dsts)
    )
    parts = [dst.with_name(f".part-{dst.name}") for dst in dsts]
    pool = osmium.io.ThreadPool()  # one for the writers, not one each
    writers: list[osmium.SimpleWriter] = []
    done = False
    try:
        for part, box, n in zip(parts, boxes.tolist(), nodes, strict=True):
            part.parent.mkdir(parents=True, exist_ok=True)
            header = osmium.io.Header()
            if n == 0:
                west, south, east, north = box
                header.add_box(osmium.osm.Box(west, south, east, north))
            writers.append(
                osmium.SimpleWriter(
                    str(part), bufsz=_WRITE_BUFFER, header=header, overwrite=True, thread_pool=pool
                )
            )
        adds: dict[str, list[Callable[[Any], None]]] = {
            "n": [w.add_node for w in writers],
            "w": [w.add_way for w in writers],
            "r": [w.add_relation for w in writers],
        }
        objects: Iterator[Any] = (
            iter(osmium.FileProcessor(src, _NWR)) if in_order else _by_kind(src)
        )
        for obj in objects:
            kind = obj.type_str()
            for site, is_kept in targets[kind].of(obj.id):
                # A referenced object loses its tags (BackReferenceWriter's remove_tags).
                out = obj if is_kept or not len(obj.tags) else obj.replace(tags={})
                adds[kind][site](out)
        done = True
    finally:
        for writer in writers:
            writer.close()
        for part, dst in zip(parts, dsts, strict=True):
            if done:
                part.replace(dst)
            else:
                part.unlink(missing_ok=True)
