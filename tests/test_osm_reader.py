"""The one OSM reader: the same features from ``.osm``, ``.osm.bz2`` and ``.osm.pbf``, and
a clipped extract read without a crash, its incomplete elements counted as planted.

Every variant is made here from the shipped extracts: a ``bz2`` copy (Python's ``bz2``),
a ``pbf`` copy (pyosmium's writer) and a clipped copy cut by a bounding box the way
``osmium extract --strategy simple`` cuts (nodes inside the box; every way with a node
inside, its references unchanged; every relation with a member kept, its members
unchanged), so ways reference missing nodes and relations missing members.
"""

from __future__ import annotations

import bz2
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import osmium
import pandas as pd
import pytest
import shapely

from pipelines.errors import InputError
from pipelines.geocode.osm_addresses import read_osm_addresses
from pipelines.osm.basemap import BASEMAP_TAGS, read_osm_basemap, read_osm_basemap_report
from pipelines.osm.buildings import read_osm_bounds
from pipelines.osm.reader import (
    INCOMPLETE_KINDS,
    is_area_way,
    matches,
    read_osm_elements,
)
from pipelines.osm.sources import read_osm_file_report
from tests.conftest import RAW
from tests.test_osm_sources import to_pbf

BONDY = RAW / "bondy" / "bondy_nord.osm"
PARIS10 = RAW / "paris10" / "paris10.osm"

#: Boxes (west, south, east, north) that cut through buildings and multipolygons: the
#: Bondy one crosses its one building relation (relation/1259491), the Paris one dozens.
BONDY_CUT = (2.4800, 48.9080, 2.4843, 48.9110)
PARIS_CUT = (2.3460, 48.8780, 2.3520, 48.8805)


def to_bz2(src: Path, dst: Path) -> Path:
    """``src`` compressed with Python's ``bz2`` (not by osmium, so the reader is tested)."""
    dst.write_bytes(bz2.compress(src.read_bytes()))
    return dst


@dataclass
class Planted:
    """What the clipping broke, found from the clipped file's own contents."""

    kept_nodes: set[int] = field(default_factory=set)
    ways: dict[int, tuple[list[int], dict[str, str]]] = field(default_factory=dict)
    relations: dict[int, tuple[list[tuple[str, int, str]], dict[str, str]]] = field(
        default_factory=dict
    )

    def complete_way(self, wid: int) -> bool:
        return wid in self.ways and all(r in self.kept_nodes for r in self.ways[wid][0])

    def broken_ways(self, wanted: dict) -> list[int]:
        return [
            wid
            for wid, (_refs, tags) in self.ways.items()
            if matches(tags, wanted) and not self.complete_way(wid)
        ]

    def broken_relations(self, wanted: dict, role: str) -> list[int]:
        """Multipolygons matching ``wanted`` with a missing way member of ``role``."""
        out = []
        for rid, (members, tags) in self.relations.items():
            if tags.get("type") != "multipolygon" or not matches(tags, wanted):
                continue
            missing = {
                "inner" if r == "inner" else "outer"
                for t, ref, r in members
                if t == "w" and r in ("outer", "inner", "") and not self.complete_way(ref)
            }
            if role in missing and (role == "outer" or "outer" not in missing):
                out.append(rid)
        return out


def clip(src: Path, dst: Path, box: tuple[float, float, float, float]) -> Planted:
    """Cut ``src`` by ``box`` as osmium-tool's simple strategy does; say what broke."""
    west, south, east, north = box
    planted = Planted()
    header = osmium.io.Header()
    header.add_box(
        osmium.osm.Box(osmium.osm.Location(west, south), osmium.osm.Location(east, north))
    )
    writer = osmium.SimpleWriter(str(dst), overwrite=True, header=header)
    kept_ways: set[int] = set()
    kept_relations: set[int] = set()
    try:
        for obj in osmium.FileProcessor(str(src)):
            if isinstance(obj, osmium.osm.Node):
                if west <= obj.location.lon <= east and south <= obj.location.lat <= north:
                    planted.kept_nodes.add(obj.id)
                    writer.add(obj)
            elif isinstance(obj, osmium.osm.Way):
                refs = [n.ref for n in obj.nodes]
                if any(r in planted.kept_nodes for r in refs):
                    kept_ways.add(obj.id)
                    planted.ways[obj.id] = (refs, {t.k: t.v for t in obj.tags})
                    writer.add(obj)
            elif isinstance(obj, osmium.osm.Relation):
                members = [(m.type, m.ref, m.role) for m in obj.members]
                if any(
                    (t == "n" and ref in planted.kept_nodes)
                    or (t == "w" and ref in kept_ways)
                    or (t == "r" and ref in kept_relations)
                    for t, ref, _ in members
                ):
                    kept_relations.add(obj.id)
                    planted.relations[obj.id] = (members, {t.k: t.v for t in obj.tags})
                    writer.add(obj)
    finally:
        writer.close()
    return planted


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Path]]:
    root = tmp_path_factory.mktemp("osm_variants")
    out: dict[str, dict[str, Path]] = {}
    for name, src in (("bondy", BONDY), ("paris10", PARIS10)):
        out[name] = {
            "osm": src,
            "bz2": to_bz2(src, root / f"{name}.osm.bz2"),
            "pbf": to_pbf(src, root / f"{name}.osm.pbf"),
        }
    return out


@pytest.fixture(scope="module")
def clipped_bondy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Planted]:
    dst = tmp_path_factory.mktemp("clipped") / "bondy_clipped.osm"
    return dst, clip(BONDY, dst, BONDY_CUT)


# --- the same features from every format ------------------------------------------------


@pytest.mark.slow  # writes and reads each site's extract in every format
@pytest.mark.parametrize("site", ["bondy", "paris10"])
def test_every_format_gives_the_same_features(variants, site) -> None:
    frames = {}
    for kind, path in variants[site].items():
        buildings, incomplete, bounds = read_osm_file_report(path)
        frames[kind] = (
            buildings,
            read_osm_basemap(path),
            read_osm_addresses(path),
            bounds,
            incomplete.summary(),
        )
    ref = frames["osm"]
    assert len(ref[0]) > 500
    assert len(ref[1]) > 100
    assert len(ref[2]) > 0
    for kind in ("bz2", "pbf"):
        got = frames[kind]
        for a, b in zip(got[:3], ref[:3], strict=True):
            assert len(a) == len(b)
            pd.testing.assert_frame_equal(
                pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry"))
            )
            assert list(a.geometry.to_wkb()) == list(b.geometry.to_wkb())
        assert got[3] == ref[3] == read_osm_bounds(variants[site][kind])
        assert got[4] == ref[4]


def test_shipped_paris_extract_already_misses_inner_members() -> None:
    """paris10.osm is itself a cut: 7 building multipolygons lack an inner way. They are
    dropped (as osmnx did) and, unlike before, counted and named."""
    _buildings, incomplete, _ = read_osm_file_report(PARIS10)
    summary = incomplete.summary()
    elements = read_osm_elements(PARIS10)
    expected = [
        rid
        for rid, (members, tags) in sorted(elements.relations.items())
        if tags.get("type") == "multipolygon"
        and "building" in tags
        and any(t == "way" and ref not in elements.ways for t, ref, _ in members)
    ]
    assert summary["relations_missing_inner_dropped"] == len(expected) == 7
    assert summary["examples"]["relations_missing_inner_dropped"] == [
        f"relation/{r}" for r in expected[:5]
    ]


def test_unreadable_files_are_input_errors(tmp_path) -> None:
    broken = tmp_path / "broken.osm.bz2"
    broken.write_bytes(b"BZh91AY&SY not really bzip2")
    with pytest.raises(InputError, match="lecture OSM impossible"):
        read_osm_basemap(broken)
    bad_xml = tmp_path / "bad.osm"
    bad_xml.write_text("<osm><node id='1' lat='48.9'", encoding="utf-8")
    with pytest.raises(InputError, match="lecture OSM impossible"):
        read_osm_addresses(bad_xml)
    other = tmp_path / "x.geojson"
    other.write_text("{}", encoding="utf-8")
    with pytest.raises(InputError, match="du JSON"):
        read_osm_elements(other)
    with pytest.raises(InputError, match="introuvable"):
        read_osm_basemap(tmp_path / "absent.osm.pbf")


def test_an_osm_file_is_read_by_its_content_whatever_its_name(tmp_path) -> None:
    # Overpass saves its answer as « interpreter » (no suffix): « format OSM inconnu ».
    # An XML extract renamed « .osm.pbf »: « lecture OSM impossible (PBF error: invalid
    # BlobHeader size …) ». A PBF named « .osm »: an XML parsing error.
    src = Path(__file__).parent / "data" / "osm" / "buildings_cases.osm"
    expected = read_osm_elements(src)
    xml_text = src.read_bytes()
    pbf = to_pbf(src, tmp_path / "cas.osm.pbf")
    for name, data in (
        ("interpreter", xml_text),
        ("renomme.osm.pbf", xml_text),
        ("renomme.osm", pbf.read_bytes()),
        ("compresse", bz2.compress(xml_text)),
    ):
        (tmp_path / name).write_bytes(data)
        read = read_osm_elements(tmp_path / name)
        assert (read.nodes, read.ways, read.relations) == (
            expected.nodes,
            expected.ways,
            expected.relations,
        ), name


def _overpass_answer(dst: Path, remark: str) -> Path:
    """Bondy's extract as Overpass answers a query it stopped: the elements output
    until then (its nodes and its first ways), its remark, then ``</osm>``; saved as
    « interpreter », as the browser names it."""
    lines = (RAW / "bondy" / "bondy_nord.osm").read_text(encoding="utf-8").split("\n")
    ways = [i for i, line in enumerate(lines) if line.startswith(" <way")]
    cut = ways[len(ways) * 4 // 5]
    text = "\n".join(lines[:cut]) + f"\n<remark> {remark} </remark>\n</osm>\n"
    dst.write_text(text, encoding="utf-8")
    return dst


def test_the_answer_of_an_interrupted_overpass_query_is_refused(tmp_path) -> None:
    # Its buildings were read as the site's, a fifth of its ways and all its relations
    # missing, without a word: osmium reads past the remark.
    error = 'runtime error: Query timed out in "recurse" at line 4 after 182 seconds.'
    path = _overpass_answer(tmp_path / "interpreter", error)
    with pytest.raises(InputError, match="requête interrompue") as caught:
        read_osm_file_report(path)
    assert error in str(caught.value)
    # A remark that says no error leaves the extract as it is.
    note = _overpass_answer(
        tmp_path / "note", "runtime remark: Timeout is 180 and maxsize is 536870912."
    )
    assert len(read_osm_elements(note).ways) == note.read_text("utf-8").count("\n <way ")


@pytest.mark.parametrize("compress", ["bz2", "gz"])
def test_a_compressed_answer_of_an_interrupted_overpass_query_is_refused(
    tmp_path, compress
) -> None:
    # Saved compressed (« interpreter.osm.bz2 », « .osm.gz »), the same answer was read
    # as whole: only plain XML was searched for the remark.
    import bz2
    import gzip

    error = "runtime error: Query run out of memory using about 2048 MB of RAM."
    plain = _overpass_answer(tmp_path / "interpreter", error).read_bytes()
    path = tmp_path / f"interpreter.osm.{compress}"
    path.write_bytes(bz2.compress(plain) if compress == "bz2" else gzip.compress(plain))
    with pytest.raises(InputError, match="requête interrompue") as caught:
        read_osm_elements(path)
    assert error in str(caught.value)
    assert path.name in str(caught.value)


# --- a clipped extract ----------------------------------------------------------------


def test_clipped_extract_buildings_are_repaired_and_counted(clipped_bondy) -> None:
    path, planted = clipped_bondy
    buildings, incomplete, bounds = read_osm_file_report(path)
    summary = incomplete.summary()
    assert bounds == pytest.approx(BONDY_CUT)
    wanted = {"building": True}
    broken_ways = [w for w in planted.broken_ways(wanted) if is_area_way(*planted.ways[w])]
    missing_outer = planted.broken_relations(wanted, "outer")
    missing_inner = planted.broken_relations(wanted, "inner")
    assert len(broken_ways) > 10
    assert len(missing_outer) + len(missing_inner) >= 1
    assert summary["ways_missing_nodes_dropped"] == len(broken_ways)
    assert summary["relations_missing_outer_dropped"] == len(missing_outer)
    assert summary["relations_missing_inner_dropped"] == len(missing_inner)
    assert summary["lines_cut_at_missing_nodes"] == 0  # a building is never a line
    assert set(summary) == {*INCOMPLETE_KINDS, "examples"}
    # what is kept is whole, valid, and the very footprint of the full extract
    assert len(buildings) > 50
    assert buildings.geometry.is_valid.all()
    assert set(buildings.geometry.geom_type) <= {"Polygon", "MultiPolygon"}
    full = read_osm_file_report(BONDY)[0].set_index("building_id")
    dropped = {f"way/{w}" for w in broken_ways} | {
        f"relation/{r}" for r in missing_outer + missing_inner
    }
    assert not dropped & set(buildings["building_id"])
    kept = buildings.set_index("building_id")
    assert kept.geometry.geom_equals_exact(full.geometry.loc[kept.index], 0).all()
    # nothing silently lost: every building way or relation left in the clipped file is
    # kept or dropped and counted, never both
    in_file = {f"way/{w}" for w, (refs, tags) in planted.ways.items() if "building" in tags} | {
        f"relation/{r}"
        for r, (_m, tags) in planted.relations.items()
        if tags.get("type") == "multipolygon" and "building" in tags
    }
    assert in_file == set(kept.index) | dropped
    assert not set(kept.index) & dropped
    assert shapely.box(*BONDY_CUT).buffer(1e-9).contains(buildings.geometry).all()


def test_clipped_extract_basemap_lines_are_cut_and_areas_dropped(clipped_bondy) -> None:
    path, planted = clipped_bondy
    basemap, incomplete = read_osm_basemap_report(path)
    summary = incomplete.summary()
    broken = planted.broken_ways(BASEMAP_TAGS)
    areas = [w for w in broken if is_area_way(*planted.ways[w])]
    lines = [w for w in broken if w not in areas]
    assert len(lines) > 10

    # a line keeps its runs of two or more present nodes; one with none is dropped
    def has_run(refs: list[int]) -> bool:
        return any(
            a in planted.kept_nodes and b in planted.kept_nodes for a, b in itertools.pairwise(refs)
        )

    cut = [w for w in lines if has_run(planted.ways[w][0])]
    assert summary["lines_cut_at_missing_nodes"] == len(cut) > 10
    assert summary["ways_missing_nodes_dropped"] == len(areas) + len(lines) - len(cut)
    assert summary["relations_missing_outer_dropped"] == len(
        planted.broken_relations(BASEMAP_TAGS, "outer")
    )
    assert len(basemap) > 10
    assert set(basemap["layer"]) >= {"street"}
    assert basemap.geometry.is_valid.all()


def test_clipped_extract_addresses_read_without_a_crash(clipped_bondy, tmp_path) -> None:
    path, planted = clipped_bondy
    addresses = read_osm_addresses(path)
    counts = addresses.attrs["osm_incomplete"]
    street_relations = [
        rid
        for rid, (members, tags) in planted.relations.items()
        if tags.get("type") == "associatedStreet"
        and tags.get("name")
        and any(
            (t == "n" and ref not in planted.kept_nodes) or (t == "w" and ref not in planted.ways)
            for t, ref, _ in members
        )
    ]
    assert counts["relations_missing_members"] == len(street_relations)
    assert addresses.geometry.notna().all()
    assert addresses.geometry.is_valid.all()
    assert (addresses.geometry.geom_type == "Point").all()
    # the same extract as PBF gives the same
    pbf = to_pbf(path, tmp_path / "clipped.osm.pbf")
    again = read_osm_addresses(pbf)
    assert again.attrs["osm_incomplete"] == counts
    assert list(again["address_id"]) == list(addresses["address_id"])


def test_buildings_stage_writes_its_counts(clipped_bondy, tmp_path) -> None:
    from pipelines.osm import buildings

    path, _planted = clipped_bondy
    buildings.run(path, None, tmp_path / "buildings_osm.parquet")
    summary = json.loads((tmp_path / "buildings_summary.json").read_text(encoding="utf-8"))
    frame = gpd.read_parquet(tmp_path / "buildings_osm.parquet")
    assert summary["buildings"] == len(frame)
    assert summary["bounds"] == pytest.approx(list(BONDY_CUT))
    assert summary["osm_incomplete"]["ways_missing_nodes_dropped"] > 10


# --- the whole pipeline on each variant -------------------------------------------------


def _paris_config(root: Path, osm: Path) -> Path:
    """config/demo.toml with outputs in ``root`` and paris10's ``osm`` set to ``osm``."""
    from tests.conftest import write_demo_config

    cfg = write_demo_config(root, RAW / "bondy")
    text = cfg.read_text(encoding="utf-8")
    assert 'osm = "data/raw/paris10/paris10.osm"' in text
    cfg.write_text(text.replace('osm = "data/raw/paris10/paris10.osm"', f'osm = "{osm}"'))
    return cfg


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("variant", ["pbf", "bz2", "clipped"])
def test_whole_pipeline_on_each_variant_to_a_map(variant, tmp_path, browser) -> None:
    from browser import open_offline

    from pipelines.cli import run_site_stages
    from pipelines.config import load_config

    if variant == "pbf":
        osm = to_pbf(PARIS10, tmp_path / "paris10.osm.pbf")
    elif variant == "bz2":
        osm = to_bz2(PARIS10, tmp_path / "paris10.osm.bz2")
    else:
        osm = tmp_path / "paris10_clipped.osm"
        clip(PARIS10, osm, PARIS_CUT)
    config = load_config(_paris_config(tmp_path, osm))
    paths = run_site_stages(config, config.site("paris10"))
    summary = json.loads(paths.run_summary.read_text(encoding="utf-8"))
    s = summary["sources"]["dansmarue"]
    assert s["rows_in"] == 10_000
    assert (
        s["rows_in"]
        == s["accepted"] + s["duplicates"] + sum(s["rejected"].values()) + s["outside_study_area"]
    )
    incomplete = summary["buildings"]["osm_incomplete"]
    assert summary["basemap"]["osm_incomplete"]["relations_missing_inner_dropped"] >= 0
    if variant == "clipped":
        assert summary["buildings"]["bounds"] == pytest.approx(list(PARIS_CUT))
        assert incomplete["ways_missing_nodes_dropped"] > 10
        assert summary["basemap"]["osm_incomplete"]["lines_cut_at_missing_nodes"] > 10
    else:
        assert summary["buildings"]["buildings"] == 738
        assert incomplete["relations_missing_inner_dropped"] == 7
        assert incomplete["ways_missing_nodes_dropped"] == 0
    result = open_offline(paths.map, screenshot=tmp_path / "map.png", browser=browser)
    assert result.console_errors == []
    assert result.page_errors == []
    assert result.external_requests == []
    assert result.n_paths > 100


def test_an_unclosed_building_way_is_counted_not_silently_dropped() -> None:
    cases = Path(__file__).parent / "data" / "osm" / "buildings_cases.osm"
    buildings, incomplete, _ = read_osm_file_report(cases)
    assert "way/105" not in set(buildings["building_id"])  # three nodes, not a ring
    summary = incomplete.summary()
    assert summary["ways_degenerate_dropped"] == 1
    assert summary["examples"] == {"ways_degenerate_dropped": ["way/105"]}


def test_a_building_ring_without_surface_is_dropped_and_counted(tmp_path) -> None:
    """A closed building way A-B-A (or of aligned nodes) is a line once made valid: it is
    no footprint (it got its neighbours' Gi* with no report, and went into the
    GeoPackage's polygon layer); a bow-tie keeps its two triangles."""
    osm = tmp_path / "degenerate.osm"
    osm.write_text(
        """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="test">
<bounds minlat="48.907" minlon="2.478" maxlat="48.912" maxlon="2.490"/>
<node id="1" lat="48.908" lon="2.480" version="1"/>
<node id="2" lat="48.908" lon="2.481" version="1"/>
<node id="3" lat="48.909" lon="2.480" version="1"/>
<node id="4" lat="48.909" lon="2.481" version="1"/>
<node id="5" lat="48.910" lon="2.485" version="1"/>
<node id="6" lat="48.910" lon="2.486" version="1"/>
<node id="7" lat="48.910" lon="2.487" version="1"/>
<way id="100" version="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="1"/>
<tag k="building" v="yes"/></way>
<way id="101" version="1"><nd ref="5"/><nd ref="6"/><nd ref="5"/><tag k="building" v="yes"/></way>
<way id="102" version="1"><nd ref="5"/><nd ref="6"/><nd ref="7"/><nd ref="5"/>
<tag k="building" v="yes"/></way>
</osm>
""",
        encoding="utf-8",
    )
    buildings, incomplete, _ = read_osm_file_report(osm)
    assert list(buildings["building_id"]) == ["way/100"]
    assert set(buildings.geom_type) == {"MultiPolygon"}  # the bow-tie's two triangles
    summary = incomplete.summary()
    assert summary["ways_degenerate_dropped"] == 2
    assert summary["examples"]["ways_degenerate_dropped"] == ["way/101", "way/102"]


def test_incomplete_address_relations_reach_the_geocoding_summary(demo_run: Any) -> None:
    """The associatedStreet relations of the Bondy extract whose members are missing from
    the file (counted here from the XML itself) are counted in the geocoding summary."""
    import xml.etree.ElementTree as ET

    root = ET.parse(BONDY).getroot()
    present = {(e.tag, e.get("id")) for e in root if e.tag in ("node", "way", "relation")}
    expected = sum(
        1
        for rel in root.iter("relation")
        if any(t.get("k") == "type" and t.get("v") == "associatedStreet" for t in rel.iter("tag"))
        and any((m.get("type"), m.get("ref")) not in present for m in rel.iter("member"))
    )
    summary = json.loads((demo_run.site("bondy") / "geocode_summary.json").read_text("utf-8"))
    counted = summary["osm_addresses_incomplete"]
    assert expected > 0
    assert counted["relations_missing_members"] == expected
    assert len(counted["examples"]["relations_missing_members"]) == min(expected, 5)
