"""The actions of issue 17 as the renderers show them: the map's « Actions » layer, the fact
sheets, the committee pack and the index, read from a published actions table written as
the contract (§3) says (tests/actions_table.py), on real Bondy footprints; hostile texts
are shown as text, never run."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest

from pipelines.config.publication import publication_settings
from pipelines.maps import pack
from pipelines.maps.actions import (
    LATE_FR,
    STATUS_COLOURS,
    actions_section_html,
    split_ids,
    targeted_buildings,
)
from pipelines.maps.index import index_page
from pipelines.maps.pdf import count_pdf_pages
from pipelines.maps.site import render_map
from pipelines.publish.keyfigures import FALLBACK_MONTHS, key_window
from pipelines.published import ACTION_STATUSES, Published, read_published
from tests.actions_table import (
    COMMITTEES,
    EFFECT,
    HOSTILE_DECISION,
    HOSTILE_PARTNER,
    SCRIPT,
    SEVEN,
    contract_actions,
    site_actions_object,
    write_actions,
)
from tests.conftest import published_for
from tests.test_maps import handmade_site


@pytest.fixture(scope="module")
def site() -> dict[str, Any]:
    return handmade_site()


@pytest.fixture(scope="module")
def plain(site: dict[str, Any]) -> Published:
    """The hand-made site's published tables, without any register."""
    return published_for(
        site["buildings"], site["reports"], zones=site["zones"], annotations=site["notes"],
        chronic=site["chronic"],
    )  # fmt: skip


@pytest.fixture(scope="module")
def actions(plain: Published) -> gpd.GeoDataFrame:
    return contract_actions(plain.profile, plain.zones)


@pytest.fixture(scope="module")
def published(plain: Published, actions: gpd.GeoDataFrame) -> Published:
    """The same tables with the contract's actions table and ``site.json``'s object."""
    return dataclasses.replace(
        plain, actions=actions, site={**plain.site, "actions": site_actions_object(actions)}
    )


def _map_data(published: Published) -> dict[str, Any]:
    from pipelines.maps.data import map_data

    return map_data(published, site_name="Essai")


# --------------------------------------------------------------------------- the table
def test_published_folder_without_actions_reads_none(tmp_path: Path, plain: Published) -> None:
    from pipelines.publish.stage import write_published

    write_published(plain, tmp_path)
    assert read_published(tmp_path).actions is None
    actions = contract_actions(plain.profile, plain.zones)
    write_actions(tmp_path, actions)
    back = read_published(tmp_path)
    assert back.actions is not None
    assert list(back.actions["action_id"]) == list(actions["action_id"])
    assert back.site["actions"]["last_committee_date"] == COMMITTEES[-1]


def test_split_ids_reads_both_separators() -> None:
    assert split_ids("way/1; way/2,relation/3") == ["way/1", "way/2", "relation/3"]
    assert split_ids(None) == []
    assert split_ids("") == []


def test_targets_by_ids_zone_and_drawn_area(published: Published, site: dict[str, Any]) -> None:
    actions, profile = published.actions, published.profile
    assert actions is not None
    targets = dict(zip(actions["action_id"], targeted_buildings(actions, profile), strict=True))
    ids = site["ids"]
    assert targets["A-2025-001"] == [ids["A"]]
    # Zone Z1 holds A alone (the only hot building of the hand-made site).
    assert targets["A-2025-002"] == [ids["A"]]
    named = actions.set_index("action_id")["building_ids"]
    assert targets["A-2025-003"] == split_ids(named["A-2025-003"])
    assert ids["B"] in targets["A-2025-003"]
    assert len(targets["A-2025-003"]) == 3
    # The drawn area (a 20 m buffer of one building) holds that building at least.
    drawn = actions.set_index("action_id").geometry["A-2025-004"]
    inside = profile.geometry.representative_point().within(drawn)
    assert sorted(targets["A-2025-004"]) == sorted(profile.loc[inside, "building_id"])
    assert len(targets["A-2025-004"]) >= 1


# --------------------------------------------------------------------------- map layer
def test_map_without_register_draws_no_action_layer(plain: Published) -> None:
    d = _map_data(plain)
    assert d["actions"] is None
    assert not any("Actions du registre" in s for s in d["b"]["fiche"])


def test_actions_layer_colours_late_and_period(published: Published) -> None:
    d = _map_data(published)
    block = d["actions"]
    actions = published.actions
    assert actions is not None
    live = actions[~actions["is_removed"]]
    feats = block["geojson"]["features"]
    assert block["name"] == f"Actions du registre ({len(live)})"
    assert len(feats) == len(live)  # every live action has a target; the removed one is not drawn
    by_k = {f["properties"]["k"]: f["properties"] for f in feats}
    for k, (_, row) in enumerate(live.reset_index(drop=True).iterrows()):
        p = by_k[k]
        assert p["c"] == STATUS_COLOURS[row["status"]]
        assert p["late"] == int(row["is_overdue"])
        assert p["at"] is not None  # where a badge would go
        assert f"Action {row['action_id']}" in p["popup"]
        # Month indices of the period selector, from the site's first month.
        month0 = pd.Period(published.site["months"][0], "M")
        assert p["cm"] == (pd.Period(row["committee_date"], "M") - month0).n
        assert p["sm"] == (pd.Period(row["status_date"], "M") - month0).n
    late = [p for p in by_k.values() if p["late"]]
    assert len(late) == int(live["is_overdue"].sum()) == 1
    assert LATE_FR in late[0]["popup"]
    assert LATE_FR in late[0]["tip"]
    # The legend: statuses in the register's order, each with its count.
    order = [s for s in ACTION_STATUSES if (live["status"] == s).any()]
    assert [r["s"] for r in block["legend"]] == order
    assert [r["n"] for r in block["legend"]] == [int((live["status"] == s).sum()) for s in order]
    assert any("retirée" in n for n in block["notes"])


def test_hostile_action_texts_stay_text_in_the_map(published: Published) -> None:
    d = _map_data(published)
    popups = " ".join(f["properties"]["popup"] for f in d["actions"]["geojson"]["features"])
    assert SCRIPT not in popups
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in popups
    assert SEVEN in popups  # braces are not HTML: shown as they are, never evaluated
    assert "porte 49" not in popups
    assert "l&#x27;entrée &quot;B&quot;" in popups
    from pipelines.maps.site import build_site_map

    page = render_map(build_site_map(published, site_name="Essai", simulated=True,
                                     attributions=["osm"]))  # fmt: skip
    assert SCRIPT not in page
    assert "alert(1)</script>" not in page
    assert "porte 49" not in page
    block = re.search(r'<script type="application/json" id="vigie-data">(.*?)</script>', page, re.S)
    assert block is not None
    data = json.loads(block.group(1))
    # The page's data block gives the escaped popups back as they were built.
    assert [f["properties"]["popup"] for f in data["actions"]["geojson"]["features"]] == [
        f["properties"]["popup"] for f in d["actions"]["geojson"]["features"]
    ]


def test_fact_sheets_list_the_actions_of_their_building(
    published: Published, site: dict[str, Any]
) -> None:
    d = _map_data(published)
    b = published.profile
    pos = {bid: i for i, bid in enumerate(b["building_id"].astype(str))}
    sheet_a = d["b"]["fiche"][pos[site["ids"]["A"]]]
    # A: targeted by its id (A-001, late) and by its zone; B among three.
    for action_id in ("A-2025-001", "A-2025-002"):
        assert action_id in sheet_a
    assert "A-2025-003" not in sheet_a
    assert "Actions du registre (2)" in sheet_a
    assert "A-2025-003" in d["b"]["fiche"][pos[site["ids"]["B"]]]
    assert LATE_FR in sheet_a
    assert SCRIPT not in sheet_a
    assert "&lt;/script&gt;" in sheet_a
    sheets = " ".join(d["b"]["fiche"])
    assert "A-2025-005" not in sheets  # removed from the register: in no fact sheet
    # The section comes before the planners' notes.
    assert sheet_a.index("Actions du registre") < sheet_a.index("Notes des urbanistes")


def test_actions_section_known_answer() -> None:
    html = actions_section_html(
        [{"action_id": "A-1", "status": "en cours", "is_overdue": True, "decision": "x" * 300,
          "lead_partner": "ville", "due_date": "2025-05-31"}]
    )  # fmt: skip
    assert "<b>A-1</b>" in html
    assert f"background:{STATUS_COLOURS['en cours']}" in html
    assert "échéance 31/05/2025" in html
    assert "x" * 159 + "…" in html
    assert actions_section_html([]) == ""


def test_actions_section_of_a_proposed_action_without_decision() -> None:
    """Hostile run of w9: an action drafted from a map note (« PROP-… ») has no decision
    nor partner; read back from ``actions.parquet`` they are NaN, and the fact sheet
    showed « nan » under the action."""
    html = actions_section_html(
        [{"action_id": "PROP-524EFA7A", "status": "proposée", "is_overdue": False,
          "decision": float("nan"), "lead_partner": float("nan"), "due_date": None}]
    )  # fmt: skip
    assert "<b>PROP-524EFA7A</b>" in html
    assert "nan" not in html.lower()
    assert "<br>" not in html  # no empty decision line either


# --------------------------------------------------------------------------- pack
def test_key_window_since_the_committee_and_without() -> None:
    months = [f"2025-{m:02d}" for m in (1, 2, 5, 7, 9, 12)]  # months with no report between
    w = key_window(months, last_committee="2025-10-14")
    assert w is not None
    assert w.after == ("2025-10", "2025-11", "2025-12")  # the committee's month included
    assert w.before == ("2025-07", "2025-08", "2025-09")
    assert w.committee == "2025-10-14"
    w = key_window(months, last_committee=None)
    assert w is not None
    assert w.after == ("2025-10", "2025-11", "2025-12")[-FALLBACK_MONTHS:]
    assert w.committee is None
    assert key_window(months, last_committee="2026-03-01").after == ()  # type: ignore[union-attr]
    early = key_window(months, last_committee="2024-06-01")
    assert early is not None
    assert len(early.after) == 12
    assert early.before == ()
    assert key_window([], last_committee="2025-10-14") is None
    label = pack.key_window(key_window(months, last_committee="2025-10-14").as_dict())  # type: ignore[union-attr]
    assert label is not None
    assert "depuis le comité du 14/10/2025" in label.label
    fallback = pack.key_window(key_window(months, last_committee=None).as_dict())  # type: ignore[union-attr]
    assert fallback is not None
    assert "derniers mois" in fallback.label
    assert pack.key_window(None) is None


def _key_table(hidden: frozenset[tuple[str, str | None]] = frozenset()) -> pd.DataFrame:
    """A published key-figures table: Équipements 24 before, 33 since; Parties communes
    twice that; no Tranquillité report before; ``hidden`` (window, group) cells « s »."""
    cells = [("avant", None, 72), ("avant", "Équipements", 24), ("avant", "Parties communes", 48),
             ("depuis", None, 101), ("depuis", "Équipements", 33),
             ("depuis", "Parties communes", 66), ("depuis", "Tranquillité", 2),
             ("hors", None, 500)]  # fmt: skip
    return pd.DataFrame(
        [(w, g, None if (w, g) in hidden else n, "s" if (w, g) in hidden else "")
         for w, g, n in cells],
        columns=["window", "group", "n_reports", "n_reports_flag"],
    )  # fmt: skip


def test_key_figures_show_the_published_cells_and_add_nothing() -> None:
    window = pack.key_window(
        {"after": ["2025-10", "2025-11", "2025-12"], "before": ["2025-07", "2025-08", "2025-09"],
         "committee": "2025-10-14"}
    )  # fmt: skip
    figures = pack.key_figures(_key_table(), window)
    rows = {r["label"]: r for r in figures["rows"]}
    assert rows["Équipements"] == {"label": "Équipements", "before": "24", "after": "33",
                                   "change": "+38 %"}  # fmt: skip
    assert rows["Tranquillité"]["before"] == "0"  # an absent cell is a zero
    assert rows["Tranquillité"]["change"] == "nouveau"
    assert figures["rows"][0]["label"] == "Parties communes"  # most reports since: first
    assert figures["total"] == {"before": "72", "after": "101", "change": "+40 %"}
    assert figures["before_words"] == "aux 3 mois précédents"
    hidden = pack.key_figures(_key_table(frozenset({("depuis", "Tranquillité"), ("avant", None)})),
                              window)  # fmt: skip
    rows = {r["label"]: r for r in hidden["rows"]}
    assert rows["Tranquillité"]["after"] == pack.SECRET
    assert rows["Tranquillité"]["change"] == pack.SECRET
    assert rows["Équipements"]["after"] == "33"  # the others stay shown
    # the hidden total is never made up from its groups
    assert hidden["total"] == {"before": pack.SECRET, "after": "101", "change": pack.SECRET}
    assert pack.key_figures(None, window)["rows"] == []


def test_pack_groups_escapes_and_lists_decisions(published: Published, plain: Published) -> None:
    html = pack.committee_pack_html(
        published, site_name="Essai <b>", simulated=True, attributions=["osm"],
        method_note="<html><head><style>p{color:red}</style></head><body><h1>Note</h1>"
        "<h2>Publication et secret statistique</h2><p>Profil &lt;script&gt; comité</p>"
        "<table><tr><th>Tableau</th><th>Cases</th></tr><tr><td>Total</td><td>1</td></tr>"
        "</table></body></html>",
    )  # fmt: skip
    for section in ("chiffres", "points-chauds", "actions", "decisions", "methode"):
        assert f'<section id="{section}"' in html, section
    assert "<script" not in html
    assert SCRIPT not in html
    assert "porte 49" not in html
    assert "Essai &lt;b&gt;" in html
    assert SEVEN in html
    assert "color:red" not in html  # the note's own styles are left out
    assert "Profil &lt;script&gt; comité" in html
    # Groups, each action once: late, new (decided at the last committee), done, verified,
    # then refused / removed.
    groups = re.findall(r'<tbody class="groupe-(\w+)">(.*?)</tbody>', html, re.S)
    found = {key: re.findall(r'<b class="id">([^<]+)</b>', body) for key, body in groups}
    assert found == {
        "late": ["A-2025-001"], "new": ["A-2025-002"], "done": ["A-2025-003"],
        "verified": ["A-2025-004"], "other": ["A-2025-005", "A-2025-006"],
    }  # fmt: skip
    assert EFFECT in html
    assert "syndic &lt;/script&gt;" in html
    assert HOSTILE_PARTNER not in html
    assert HOSTILE_DECISION not in html
    # Every hotspot (zone Z1, building A) is targeted: no decision to take.
    assert "Chaque zone et chaque bâtiment point chaud hors zone est visé" in html
    # Without the register, zone Z1 is a decision to take.
    bare = pack.committee_pack_html(plain, site_name="Essai", simulated=False, attributions=[])
    decisions = re.search(r'<section id="decisions".*?</section>', bare, re.S)
    assert decisions is not None
    assert "<td>Zone Z1</td>" in decisions.group(0)
    assert "Aucun registre d'actions publié pour ce site" in bare


def test_refused_actions_cover_nothing(published: Published) -> None:
    actions = published.actions
    assert actions is not None
    refused = actions.assign(status="refusée", is_overdue=False)
    cover = pack.coverage(refused, published.profile, published.zones)
    assert cover.buildings == {}
    assert cover.zones == {}
    cover = pack.coverage(actions, published.profile, published.zones)
    # Z1 (building A alone): named by A-002, and through A by A-001; the refused A-006
    # and the removed A-005 cover nothing.
    assert sorted(cover.zones["Z1"]) == ["A-2025-001", "A-2025-002"]
    assert not any("A-2025-005" in v or "A-2025-006" in v for v in cover.buildings.values())


def test_pack_is_a_readers_output_under_the_most_protective_rule() -> None:
    default = publication_settings({}, {}, "t.toml")
    assert "pack" in default.outputs
    assert default.readers_profile == "comite"
    public = publication_settings({"outputs": {"pack": "public"}}, {}, "t.toml")
    assert public.readers_profile == "public"
    inner = publication_settings(
        {"outputs": dict.fromkeys(("map", "png", "charts", "index"), "interne")}, {}, "t.toml"
    )
    assert inner.readers_profile == "comite"  # the pack stays a committee output


def test_count_pdf_pages_reads_page_objects() -> None:
    pdf = (
        b"%PDF-1.4\n1 0 obj\n<</Type /Catalog /Pages 2 0 R>>\nendobj\n"
        b"2 0 obj\n<</Type /Pages /Kids [3 0 R 4 0 R] /Count 2>>\nendobj\n"
        b"3 0 obj\n<</Type /Page /Parent 2 0 R>>\nendobj\n"
        b"4 0 obj\n<</Type/Page/Parent 2 0 R>>\nendobj\n%%EOF\n"
    )
    path = Path(__file__).parent / ".pages.pdf"
    try:
        path.write_bytes(pdf)
        assert count_pdf_pages(path) == 2
    finally:
        path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- index
def test_index_shows_actions_and_the_pack() -> None:
    block = {
        "n_actions": 5, "by_status": {"réalisée": 1, "en cours": 3, "statut <x>": 1},
        "n_overdue": 2, "share_updated_since_last_committee": 0.4,
        "last_committee_date": "2025-10-14",
    }  # fmt: skip
    html = index_page(
        [{"name": "Essai", "map": "essai.html", "reports": 3, "hotspots_95": 1,
          "actions": block, "pack": "essai_comite.html"},
         {"name": "Sans registre", "map": "autre.html", "reports": 1, "hotspots_95": 0}]
    )  # fmt: skip
    assert "5 (<span class='retard'>2</span>)" in html
    assert "pas de registre" in html
    # Statuses in the register's order, an unknown one last, escaped.
    assert html.index("en cours : 3") < html.index("réalisée : 1") < html.index("statut &lt;x&gt;")
    assert "en retard : 2" in html
    assert "(14/10/2025) : 40 %" in html
    assert "href='essai_comite.html'" in html
    empty = index_page(
        [{"name": "Vide", "map": "v.html", "reports": 1, "hotspots_95": 0,
          "actions": {"n_actions": 0, "by_status": {}, "n_overdue": 0}}]
    )  # fmt: skip
    assert "Aucune action au registre." in empty
    assert "0 (<span class='retard'>0</span>)" in empty
