"""Identical runs write identical maps (issue 13): folium's element ids are derived from
the site id instead of drawn at random."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from pipelines.annotations import STATUSES
from pipelines.maps import site as maps
from pipelines.maps.notes import add_annotation_ui
from pipelines.maps.png import write_site_png
from pipelines.markup import stable_ids
from tests.conftest import published_for, site_map_of
from tests.test_maps import NOTE_TAGS, handmade_site

#: folium's names: ``map_<32 hex>``, ``marker_cluster_<32 hex>``, …
NAME = re.compile(r"\b([a-z_]+)_([0-9a-f]{32})\b")


@pytest.fixture(scope="module")
def site() -> dict[str, Any]:
    return handmade_site()


def _page(site: dict[str, Any], site_id: str) -> str:
    m = site_map_of(
        site["buildings"], site["reports"], site_name="Essai", simulated=True,
        attributions=["osm", "ban"], chronic=site["chronic"], kde=site["kde"],
        zones=site["zones"], annotations=site["notes"], perimeter=site["perimeter"],
        site_id=site_id, annotation_tags=NOTE_TAGS,
    )  # fmt: skip
    return maps.render_map(m)


def test_same_map_twice_gives_the_same_bytes(site: dict[str, Any]) -> None:
    first, second = _page(site, "bondy"), _page(site, "bondy")
    assert NAME.search(first) is not None  # folium's names are there, and stable
    assert first.encode("utf-8") == second.encode("utf-8")


def test_site_id_seeds_the_element_names(site: dict[str, Any]) -> None:
    bondy, paris = _page(site, "bondy"), _page(site, "paris10")
    names_bondy = {m.group(0) for m in NAME.finditer(bondy)}
    names_paris = {m.group(0) for m in NAME.finditer(paris)}
    assert names_bondy
    assert names_bondy.isdisjoint(names_paris)
    # The same page but for its names and the site id of the annotation mode.
    paris = paris.replace('{"site": "paris10"', '{"site": "bondy"')
    assert NAME.sub(r"\1_x", bondy) == NAME.sub(r"\1_x", paris)


def test_stable_ids_keeps_the_names_already_given() -> None:
    """Called again after children are added, the ids already given do not change (the
    app script names the map before the annotation mode is added)."""
    from pipelines.maps.assets import make_map

    m = make_map(location=[48.9, 2.48], zoom_start=16)
    stable_ids(m.get_root(), "bondy")
    name = m.get_name()
    add_annotation_ui(m, site_id="bondy", tags=list(NOTE_TAGS), statuses=list(STATUSES))
    stable_ids(m.get_root(), "bondy")
    assert m.get_name() == name
    html = m.get_root().render()
    assert f'"mapVar": "{name}"' in html
    assert f'id="{name}"' in html


def test_same_png_twice_gives_the_same_bytes(site: dict[str, Any], tmp_path: Path) -> None:
    for name in ("a.png", "b.png"):
        published = published_for(site["buildings"], site["reports"])
        write_site_png(
            published.profile, tmp_path / name, site_name="Essai",
            period=maps.period_text(published), simulated=True, attributions=["osm"],
        )  # fmt: skip
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
