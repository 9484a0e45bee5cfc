"""The site's proposed watch level as a profile publishes it (:mod:`pipelines.publish.watch`)
and the portfolio page that reads it."""

from __future__ import annotations

import pandas as pd

from pipelines.config.publication import DEFAULT_RULES
from pipelines.indicators.analyst import with_analyst_entrances
from pipelines.indicators.compute import counted_reports, entrance_quarters, site_quarters
from pipelines.maps.portfolio import watch_of
from pipelines.publish.watch import protect_entrances, with_shown_watch

#: Q1 2024, degradation reports (building, matched address, month, household): « 1 Rue A »
#: in 3 months from 3 households (listed under comité); « 2 Rue B » in 3 months from one
#: household (« jaune » on too few: not listed); « 3 Rue C » from 3 households, raised
#: orange by the analyst (its proposal may be shown); building D in 3 months over two
#: entrances (« jaune » as a building, no entrance « jaune »).
ROWS = [
    *[("A", "1 Rue A", m, f"a{m}") for m in (1, 2, 3)],
    *[("B", "2 Rue B", m, "b") for m in (1, 2, 3)],
    *[("C", "3 Rue C", m, f"c{m}") for m in (1, 2, 3)],
    ("D", "4 Rue D", 1, "d1"),
    *[("D", "6 Rue D", m, f"d{m}") for m in (2, 3)],
]


def _tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = pd.DataFrame(ROWS, columns=["building_id", "match_label", "month", "household_key"])
    frame["reported_at"] = pd.to_datetime([f"2024-0{m}-05" for m in frame.pop("month")])
    frame["closed_at"] = pd.NaT
    frame["category"] = "degradation"
    frame["report_id"] = [f"r{i}" for i in range(len(frame))]
    frame["source_kind"] = "reports"
    reports = counted_reports(frame)
    buildings = pd.DataFrame({"building_id": list("ABCD"), "dwellings": None})
    site = site_quarters(
        reports, buildings, backlog=None, n_hotspot_buildings=None, n_emerging_categories=None,
        actions_by_status=None,
    )  # fmt: skip
    levels = pd.DataFrame(
        {"quarter": ["2024-T1"], "analyst_level": ["orange"], "entrance": ["3 Rue C"]}
    )
    entrances = with_analyst_entrances(entrance_quarters(reports, ["2024-T1"]), levels)
    return site, entrances


def test_the_committee_counts_the_buildings_of_the_entrances_it_lists() -> None:
    """The site's ``n_buildings_watch`` counted every building and was published as such:
    beside the entrance table, the count less the buildings listed told how many are
    « jaune » with no entrance shown, on too few households (B here) or over several
    entrances (D; Bondy's committee pack, 2025-T4: 31 against 24, 7 such buildings).
    It is now the buildings whose « jaune » the profile shows, and the level and the
    sentence go with it."""
    site, entrances = _tables()
    assert site["n_buildings_watch"].tolist() == [4]  # A, B, C and D, as computed
    rule = DEFAULT_RULES["comite"]
    listed = protect_entrances(entrances, rule)
    assert sorted(listed["entrance_label_fr"]) == ["1 Rue A", "3 Rue C"]
    out = with_shown_watch(site, entrances, rule)
    assert out["n_buildings_watch"].tolist() == [2]  # A and C (raised orange: still jaune)
    assert out["watch_level"].tolist() == ["jaune"]
    reason = out["watch_reason_fr"].iloc[0]
    assert reason.startswith("2 bâtiments dont une entrée a des signalements")
    assert "au moins 3 ménages distincts" in reason
    assert "n'est pas comptée" in reason
    assert out["watch_flag"].tolist() == [""]
    # Without « 1 Rue A » and « 3 Rue C » nothing the committee sees is « jaune »: « vert »,
    # with the same sentence as a site where none is (it must not tell them apart).
    few = entrances[~entrances["building_id"].isin(["A", "C"])]
    out = with_shown_watch(site, few, rule)
    assert out[["watch_level", "n_buildings_watch"]].values.tolist() == [["vert", 0]]
    assert out["watch_reason_fr"].iloc[0].startswith("aucun bâtiment dont une entrée")
    # interne: as computed
    out = with_shown_watch(site, entrances, DEFAULT_RULES["interne"])
    assert out[["watch_level", "n_buildings_watch"]].values.tolist() == [["jaune", 4]]
    assert out["watch_flag"].tolist() == [""]


def test_the_open_data_pack_hides_the_proposed_level_in_every_row() -> None:
    """Under ``public`` no entrance is listed and ``n_buildings_watch`` was an exact
    count drawn from occupation reports of few households (Bondy's open-data pack: 3,
    23, 24…): the level, count and sentence are hidden (« s ») in every row, « vert »
    as well as « jaune »; the analyst's own level stays."""
    site, entrances = _tables()
    both = pd.concat([site, site.assign(quarter="2024-T2", watch_level="vert")], ignore_index=True)
    both["analyst_level"] = [None, "rouge"]
    out = with_shown_watch(both, entrances, DEFAULT_RULES["public"])
    assert out["watch_flag"].tolist() == ["s", "s"]
    assert out[["watch_level", "n_buildings_watch", "watch_reason_fr"]].isna().all().all()
    assert out["analyst_level"].fillna("").tolist() == ["", "rouge"]
    assert protect_entrances(entrances, DEFAULT_RULES["public"]).empty


def test_the_portfolio_shows_a_hidden_proposal_as_s_and_the_analysts_level() -> None:
    site, entrances = _tables()
    out = with_shown_watch(site, entrances, DEFAULT_RULES["public"])
    last = out.iloc[-1]
    assert watch_of(last) == {
        "watch": None, "watch_by": None, "watch_rank": None, "watch_reason": None,
        "watch_hidden": True,
    }  # fmt: skip
    raised = watch_of(pd.concat([last, pd.Series({"analyst_level": "orange"})]))
    assert (raised["watch"], raised["watch_by"]) == ("orange", "analyste")
    shown = watch_of(with_shown_watch(site, entrances, DEFAULT_RULES["comite"]).iloc[-1])
    assert (shown["watch"], shown["watch_by"]) == ("jaune", "proposition de l'outil")
    assert shown["watch_hidden"] is False
    assert shown["watch_reason"].startswith("2 bâtiments")


def test_an_export_ending_inside_a_quarter_ends_the_entrances_window_with_it() -> None:
    """The site's window of 6 months ends with the export's last month in a quarter the
    export ends in; the entrances' ended with the quarter, on a month without data: an
    export ending in July saw April to September, 4 months of data, and an entrance
    reported in February, March and July was « vert » where its building made the site
    « jaune »; the published count, counted over the entrances, then said 0."""
    frame = pd.DataFrame(
        {"building_id": "A", "match_label": "1 Rue A", "household_key": list("xyz")}
    )
    frame["reported_at"] = pd.to_datetime(["2024-02-05", "2024-03-05", "2024-07-05"])
    frame["closed_at"] = pd.NaT
    frame["category"] = "occupation"
    frame["report_id"] = ["r0", "r1", "r2"]
    frame["source_kind"] = "reports"
    reports = counted_reports(frame)
    site = site_quarters(
        reports, pd.DataFrame({"building_id": ["A"], "dwellings": None}), backlog=None,
        n_hotspot_buildings=None, n_emerging_categories=None, actions_by_status=None,
    )  # fmt: skip
    last = site.iloc[-1]
    assert (last["quarter"], last["n_months"], last["watch_level"]) == ("2024-T3", 1, "jaune")
    entrances = entrance_quarters(reports, site["quarter"].tolist()).set_index("quarter")
    assert entrances.at["2024-T3", "watch_level"] == "jaune"
    assert entrances.at["2024-T3", "watch_months"] == 3
    levels = with_analyst_entrances(entrances.reset_index(), None)
    out = with_shown_watch(site, levels, DEFAULT_RULES["comite"])
    assert out["n_buildings_watch"].iloc[-1] == 1
