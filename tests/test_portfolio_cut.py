"""The portfolio's extract cut (pipelines/portfolio/cut.py) against pyosmium's
``BackReferenceWriter``, the cut it replaces, on the real Bondy extract.

The reference below is the former cut, one site at a time (each writer's id tracker
costs hundreds of MB on the real ids): the ways with a node in the widened box, the
tagged nodes in it and the relations with a kept way go to a ``BackReferenceWriter``,
which completes them with what they reference when it closes. The sites are the demo
portfolio's residences (``config/demo_portfolio.toml``) and boxes chosen here: one across
the extract's eastern edge, two overlapping, one far from the extract.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import osmium
import pytest

from pipelines.config import Perimeter, load_config
from pipelines.errors import InputError
from pipelines.osm.buildings import read_osm_bounds
from pipelines.portfolio.cut import _Keys, _Targets, cut_extract, widened
from tests.conftest import ROOT

DEMO = load_config(ROOT / "config" / "demo_portfolio.toml").portfolio
assert DEMO is not None
SRC = Path(DEMO.osm)
MARGIN_M = DEMO.osm_margin_m
WEST, SOUTH, EAST, NORTH = read_osm_bounds(SRC)

CHOSEN = (
    # Across the eastern edge: half of it outside the extract.
    Perimeter("bord-est", "Bord est", 1, (EAST - 0.002, 48.9090, EAST + 0.002, 48.9110)),
    # Two boxes sharing a corner area.
    Perimeter("chevauche-a", "Chevauchement A", 2, (2.4820, 48.9080, 2.4860, 48.9100)),
    Perimeter("chevauche-b", "Chevauchement B", 3, (2.4840, 48.9090, 2.4880, 48.9110)),
    # Nothing there: 10 km south-west of the extract.
    Perimeter("vide", "Vide", 4, (2.40, 48.84, 2.401, 48.841)),
)
SITES = (*DEMO.sites, *CHOSEN)


def reference_cut(src: Path, site: Perimeter, dst: Path, *, margin_m: float) -> None:
    """The former cut of one site: pyosmium's ``BackReferenceWriter``."""
    w, s, e, n = widened(site.bbox, margin_m)

    def inside(loc: Any) -> bool:
        return bool(loc.valid() and w <= loc.lon <= e and s <= loc.lat <= n)

    kept_ways: set[int] = set()
    with osmium.BackReferenceWriter(str(dst), ref_src=str(src), overwrite=True) as writer:
        for obj in osmium.FileProcessor(str(src)).with_locations():
            if isinstance(obj, osmium.osm.Node):
                if len(obj.tags) and inside(obj.location):
                    writer.add_node(obj)
            elif isinstance(obj, osmium.osm.Way):
                if any(inside(nd.location) for nd in obj.nodes):
                    writer.add_way(obj)
                    kept_ways.add(obj.id)
            elif isinstance(obj, osmium.osm.Relation) and any(
                m.type == "w" and m.ref in kept_ways for m in obj.members
            ):
                writer.add_relation(obj)


def contents(path: Path) -> dict[str, dict[int, tuple[Any, ...]]]:
    """A file's objects per kind: id -> tags and location, node list or members."""
    out: dict[str, dict[int, tuple[Any, ...]]] = {"n": {}, "w": {}, "r": {}}
    for obj in osmium.FileProcessor(str(path)):
        tags = dict(obj.tags)
        if isinstance(obj, osmium.osm.Node):
            out["n"][obj.id] = (tags, obj.location.x, obj.location.y)
        elif isinstance(obj, osmium.osm.Way):
            out["w"][obj.id] = (tags, [nd.ref for nd in obj.nodes])
        elif isinstance(obj, osmium.osm.Relation):
            out["r"][obj.id] = (tags, [(m.type, m.ref, m.role) for m in obj.members])
    return out


@pytest.fixture(scope="module")
def cuts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The new cut of every site in one call, the reference cut site by site."""
    folder = tmp_path_factory.mktemp("cut")
    new = [folder / "new" / f"{p.id}.osm" for p in SITES]
    ways = cut_extract(SRC, SITES, new, margin_m=MARGIN_M)
    (folder / "ref").mkdir()
    ref = [folder / "ref" / f"{p.id}.osm" for p in SITES]
    for site, dst in zip(SITES, ref, strict=True):
        reference_cut(SRC, site, dst, margin_m=MARGIN_M)
    return {"ways": ways, "new": new, "ref": ref}


@pytest.mark.parametrize("at", range(len(SITES)), ids=[p.id for p in SITES])
def test_each_site_gets_what_back_reference_writer_gave_it(cuts, at):
    new, ref = contents(cuts["new"][at]), contents(cuts["ref"][at])
    for kind in ("n", "w", "r"):
        assert sorted(new[kind]) == sorted(ref[kind]), kind
        assert new[kind] == ref[kind], kind
    # Same writer, same objects in the same order: the very same bytes (but the box
    # of a site with nothing, test_a_site_with_nothing_is_a_valid_empty_file).
    got = cuts["new"][at].read_bytes()
    if not any(new.values()):
        got = re.sub(rb"\n *<bounds [^>]*/>", b"", got)
    assert got == cuts["ref"][at].read_bytes()


def test_the_kept_way_counts_are_the_ways_with_a_node_in_the_box(cuts):
    """The returned counts, recounted from the source's node locations."""
    boxes = {p.id: widened(p.bbox, MARGIN_M) for p in SITES}
    where = {}
    expected = dict.fromkeys(boxes, 0)
    for obj in osmium.FileProcessor(str(SRC)):
        if isinstance(obj, osmium.osm.Node):
            where[obj.id] = (obj.location.lon, obj.location.lat)
        elif isinstance(obj, osmium.osm.Way):
            points = [where[nd.ref] for nd in obj.nodes if nd.ref in where]
            for sid, (w, s, e, n) in boxes.items():
                expected[sid] += any(w <= x <= e and s <= y <= n for x, y in points)
    assert cuts["ways"] == expected
    assert list(cuts["ways"]) == [p.id for p in SITES]


def test_the_sites_cover_what_the_comparison_must_see(cuts):
    """The comparison above means something only if the sites hold each case: ways
    completed beyond their box, member ways kept for a relation only, referenced objects
    stripped of their tags, sites that share objects, a site with nothing."""
    source = contents(SRC)
    files = {p.id: contents(f) for p, f in zip(SITES, cuts["new"], strict=True)}
    beyond, for_relation = set(), set()
    for site in SITES:
        f = files[site.id]
        w, s, e, n = widened(site.bbox, MARGIN_M)
        inside = {i for i, (_, x, y) in f["n"].items() if w <= x / 1e7 <= e and s <= y / 1e7 <= n}
        for i, (_, refs) in f["w"].items():
            assert set(refs) <= set(f["n"]), "a way without all its nodes"
            if not set(refs) & inside:
                for_relation.add((site.id, i))
            elif not set(refs) <= inside:
                beyond.add((site.id, i))
    assert any(sid == "bord-est" for sid, _ in beyond)
    assert for_relation, "no member way kept for its relation only"
    stripped = [
        (sid, k, i)
        for sid, f in files.items()
        for k in ("n", "w", "r")
        for i, (tags, *_) in f[k].items()
        if not tags and source[k][i][0]
    ]
    assert {k for _, k, _ in stripped} >= {"n", "w"}
    a, b = files["chevauche-a"], files["chevauche-b"]
    assert set(a["w"]) & set(b["w"]), "the overlapping sites share no way"
    assert set(a["w"]) ^ set(b["w"]), "the overlapping sites are the same"
    assert files["vide"] == {"n": {}, "w": {}, "r": {}}
    assert cuts["ways"]["vide"] == 0


def test_a_site_with_nothing_is_a_valid_empty_file(tmp_path):
    dst = tmp_path / "vide.osm"
    assert cut_extract(SRC, CHOSEN[-1:], [dst], margin_m=MARGIN_M) == {"vide": 0}
    assert list(osmium.FileProcessor(str(dst))) == []
    assert b"<osm" in dst.read_bytes()
    # Its box in its header: without a node, the site's stages had no extent and
    # stopped (« aucun nœud : impossible de déterminer l'emprise »), the run with them.
    assert read_osm_bounds(dst) == pytest.approx(widened(CHOSEN[-1].bbox, MARGIN_M), abs=1e-7)


def test_one_site_at_a_time_is_all_sites_at_once(tmp_path, cuts):
    """A site's file does not depend on the other sites cut with it."""
    for site, together in zip(SITES[:3], cuts["new"][:3], strict=True):
        alone = tmp_path / f"{site.id}.osm"
        cut_extract(SRC, [site], [alone], margin_m=MARGIN_M)
        assert alone.read_bytes() == together.read_bytes()


@pytest.mark.parametrize("text", [None, "pas du XML\n", '<?xml version="1.0"?>\n<osm><node'])
def test_an_unreadable_extract_is_an_input_error_naming_it(tmp_path, text):
    src = tmp_path / "extrait.osm"
    if text is not None:
        src.write_text(text, encoding="utf-8")
    dsts: Sequence[Path] = [tmp_path / "out" / f"{p.id}.osm" for p in SITES[:2]]
    with pytest.raises(InputError, match=r"extrait\.osm.*lecture OSM impossible"):
        cut_extract(src, SITES[:2], dsts, margin_m=MARGIN_M)
    assert not any(d.exists() for d in dsts)


def test_an_unsorted_extract_is_cut_as_the_sorted_one(tmp_path, cuts):
    """Overpass's ``out body; >; out skel qt;`` writes the ways, then their nodes: pass 1
    met every node after the ways, and each site got an empty extract, without a word."""
    import xml.etree.ElementTree as ET

    tree = ET.parse(SRC)
    root = tree.getroot()
    elements = list(root)
    order = {"way": 1, "node": 2, "relation": 3}
    for element in elements:
        root.remove(element)
    root.extend(sorted(elements, key=lambda e: order.get(e.tag, 0)))
    unsorted = tmp_path / "overpass.osm"
    tree.write(unsorted, encoding="utf-8", xml_declaration=True)
    assert next(e.tag for e in root if e.tag in order) == "way"
    dsts = [tmp_path / "out" / f"{p.id}.osm" for p in SITES[:3]]
    ways = cut_extract(unsorted, SITES[:3], dsts, margin_m=MARGIN_M)
    assert ways == {p.id: cuts["ways"][p.id] for p in SITES[:3]}
    assert all(n > 0 for n in ways.values())
    for dst, together in zip(dsts, cuts["new"][:3], strict=True):
        assert contents(dst) == contents(together)


def test_an_object_out_of_the_id_order_still_gets_its_sites() -> None:
    """The last pass reads each object's sites on from the previous object's (ids ascend
    in a sorted extract); an object out of that order (an extract sorted by kind only)
    gets the same sites as in order."""
    kept, referenced = _Keys(4), _Keys(4)
    kept.add(np.array([3, 3, 8, 20]), np.array([0, 2, 1, 3]))
    referenced.add(np.array([3, 5, 8, 21]), np.array([1, 0, 1, 2]))
    expected = {
        3: [(0, True), (1, False), (2, True)],
        5: [(0, False)],
        8: [(1, True)],
        20: [(3, True)],
        21: [(2, False)],
    }
    targets = _Targets(kept.freeze(), referenced.freeze())
    asked = [1, 3, 5, 8, 20, 21, 30, 8, 3, 21, 0, 5, 20, 5, 3]
    assert [targets.of(i) for i in asked] == [expected.get(i, []) for i in asked]
