"""Indicators per site and quarter (issue 18) and their publication: hand-made reports
whose expected figures are counted by hand in each test's comment."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from pipelines.config import load_config
from pipelines.config.publication import DEFAULT_RULES
from pipelines.errors import ConfigError, InputError
from pipelines.indicators.analyst import (
    read_analyst_levels,
    with_analyst_entrances,
    with_analyst_levels,
)
from pipelines.indicators.compute import (
    category_quarters,
    counted_reports,
    dwellings_of,
    entrance_quarters,
    recurrence,
    site_quarters,
)
from pipelines.indicators.lifts import lift_repeats
from pipelines.indicators.quarters import quarter_months
from pipelines.maps.portfolio import portfolio_page
from pipelines.publish.cells import engine_audit, protect_tables, refined
from pipelines.publish.consistency import consistent_with_published, quarters_of_period
from pipelines.publish.indicators import (
    TABLES,
    protect_entrances,
    protect_indicators,
    rounded,
    with_shown_hotspots,
)
from pipelines.stats import disclosure
from tests.conftest import ROOT


def reports_of(rows: list[tuple[str, str, str, str | None, str]]) -> pd.DataFrame:
    """Reports (building, category, reported_at, closed_at, household) as the geocoding
    stage writes them, then :func:`counted_reports`."""
    frame = pd.DataFrame(
        rows, columns=["building_id", "category", "reported_at", "closed_at", "household_key"]
    )
    frame["reported_at"] = pd.to_datetime(frame["reported_at"])
    frame["closed_at"] = pd.to_datetime(frame["closed_at"])
    frame["report_id"] = [f"r{i}" for i in range(len(frame))]
    frame["source_kind"] = "reports"
    return counted_reports(frame)


def micro_of(r: pd.DataFrame, *, person_related: object, rpls: str) -> pd.DataFrame:
    """The microdata :func:`protect_indicators` reads, from :func:`reports_of`'s rows."""
    return pd.DataFrame(
        {
            "building_id": r["building_id"].to_numpy(),
            "category": r["category"].to_numpy(),
            "quarter": r["quarter"].to_numpy(),
            "household": r["household"].to_numpy(),
            "person_related": (
                person_related.to_numpy()  # by position, as the other columns
                if isinstance(person_related, pd.Series)
                else person_related
            ),
            "rpls": rpls,
        }
    )


def buildings_of(dwellings: dict[str, float | None]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "building_id": list(dwellings),
            "dwellings": list(dwellings.values()),
            "dwellings_source": ["rpls" if v else None for v in dwellings.values()],
        }
    )


def test_quarter_months() -> None:
    assert [str(m) for m in quarter_months("2025-T3")] == ["2025-07", "2025-08", "2025-09"]


def test_lift_repeat_is_the_same_building_within_30_days() -> None:
    r = reports_of(
        [
            ("A", "ascenseur", "2024-01-01", None, "h1"),
            ("A", "ascenseur", "2024-01-20", None, "h2"),  # 19 days after: repeat
            ("A", "ascenseur", "2024-03-15", None, "h3"),  # 55 days after: not
            ("B", "ascenseur", "2024-01-25", None, "h4"),  # another building: not
            ("A", "chauffage", "2024-01-02", None, "h5"),  # not a lift
        ]
    )
    repeats = lift_repeats(r)
    assert repeats.to_dict() == {0: False, 1: True, 2: False, 3: False}


def test_recurrence_counts_months_with_reports_among_the_last_six() -> None:
    r = reports_of(
        [
            ("A", "proprete", "2024-01-10", None, "h1"),  # before the window
            ("A", "proprete", "2024-05-03", None, "h1"),
            ("A", "proprete", "2024-05-20", None, "h2"),  # same month: counted once
            ("A", "proprete", "2024-08-01", None, "h3"),
            ("B", "proprete", "2024-03-31", None, "h4"),  # window Mar-Aug: in
        ]
    )
    assert recurrence(r, pd.Period("2024-08", freq="M")).to_dict() == {"A": 2, "B": 1}


def test_rates_need_rpls_dwellings_and_are_absent_not_zero_without() -> None:
    r = reports_of(
        [
            ("A", "proprete", "2024-01-10", None, "h1"),
            ("A", "proprete", "2024-02-10", None, "h1"),
            ("B", "proprete", "2024-02-11", None, "h2"),
        ]
    )
    # 50 RPLS dwellings in A only: 2 reports and 1 household on A -> 4 and 2 per 100.
    with_rpls = category_quarters(
        r, dwellings_of(buildings_of({"A": 50, "B": None})), targets_h={}, backlog=None,
        as_of=pd.Timestamp("2024-03-01"),
    )  # fmt: skip
    row = with_rpls.iloc[0]
    assert (row["n_reports"], row["reports_per_100_dwellings"]) == (3, 4.0)
    assert row["households_per_100_dwellings"] == 2.0
    without = category_quarters(
        r, dwellings_of(buildings_of({"A": None, "B": None})), targets_h={}, backlog=None,
        as_of=pd.Timestamp("2024-03-01"),
    )  # fmt: skip
    assert without["reports_per_100_dwellings"].isna().all()
    # No closing date at all: the delays are absent, not 0.
    assert without[["median_delay_h", "share_past_target"]].isna().all().all()


def test_closing_delays_per_quarter_against_the_target() -> None:
    # Delays 10 h, 20 h and 60 h against 48 h: median 20 h, one report of three past it.
    r = reports_of(
        [
            ("A", "ascenseur", "2024-04-01 08:00", "2024-04-01 18:00", "h1"),
            ("A", "ascenseur", "2024-04-10 08:00", "2024-04-11 04:00", "h2"),
            ("B", "ascenseur", "2024-05-01 00:00", "2024-05-03 12:00", "h3"),
        ]
    )
    out = category_quarters(
        r, dwellings_of(buildings_of({"A": None})), targets_h={"ascenseur": 48.0},
        backlog=None, as_of=pd.Timestamp("2024-06-30"),
    )  # fmt: skip
    row = out.iloc[0]
    assert (row["quarter"], row["median_delay_h"]) == ("2024-T2", 20.0)
    assert row["share_past_target"] == pytest.approx(1 / 3, abs=1e-3)
    assert row["p90_delay_h"] == pytest.approx(np.percentile([10, 20, 60], 90), abs=0.1)


def _watch_site(months: list[str]) -> pd.DataFrame:
    rows = [("A", "degradation", f"{m}-05", None, f"h{i}") for i, m in enumerate(months)]
    return site_quarters(
        reports_of(rows),
        buildings_of({"A": None}),
        backlog=None,
        n_hotspot_buildings=None,
        n_emerging_categories=None,
        actions_by_status=None,
    )


def test_watch_level_is_yellow_from_three_months_of_degradation_in_six() -> None:
    three = _watch_site(["2024-01", "2024-02", "2024-03"])
    assert three["watch_level"].tolist() == ["jaune"]
    two = _watch_site(["2024-01", "2024-03"])
    assert two["watch_level"].tolist() == ["vert"]
    # Nothing from the hotspot stage nor a register: absent, never 0.
    assert two["n_hotspot_buildings"].isna().all()
    assert two["actions_by_status"].isna().all()
    assert two["reports_per_100_dwellings"].isna().all()


def test_a_person_related_cell_of_two_households_is_s_under_comite() -> None:
    rows = [
        # occupation (person-related) in 2024-T1: two households -> hidden
        ("A", "occupation", "2024-01-05", None, "h1"),
        ("A", "occupation", "2024-02-05", None, "h2"),
        # lift (technical) from one household: shown as it is
        ("A", "ascenseur", "2024-01-07", None, "h3"),
        # proprete from four households: shown
        *[("B", "proprete", f"2024-0{m}-09", None, f"h{m + 3}") for m in (1, 2, 3)],
        ("B", "proprete", "2024-03-19", None, "h9"),
    ]
    r = reports_of(rows)
    cats = category_quarters(
        r, dwellings_of(buildings_of({"A": None, "B": None})), targets_h={}, backlog=None,
        as_of=pd.Timestamp("2024-03-31"),
    )  # fmt: skip
    site = site_quarters(
        r, buildings_of({"A": None, "B": None}), backlog=None, n_hotspot_buildings=None,
        n_emerging_categories=None, actions_by_status=None,
    )  # fmt: skip
    micro = micro_of(r, person_related=(r["category"] == "occupation"), rpls="non")
    _site, out, _audit = protect_indicators(site, cats, micro, DEFAULT_RULES["comite"])
    by = out.set_index("category")
    assert by.loc["occupation", "cell_flag"] == "s"
    assert pd.isna(by.loc["occupation", "n_reports"])  # never 0
    assert by.loc["proprete", "n_reports"] == 4
    # Secondary suppression: with occupation hidden and the quarter's total (7) shown,
    # 7 - 1 - 4 would give it back; so the engine hides another cell or the total.
    total_shown = _site["cell_flag"].iloc[0] == ""
    assert not total_shown or (out["cell_flag"] == "s").sum() >= 2


def test_the_portfolio_page_passes_site_names_as_json_only(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = load_config(ROOT / "config" / "portfolio.toml", check_files=False)
    payload = "</script><img src=x onerror=alert(1)>"
    sites = tuple(dataclasses.replace(s, name=payload + s.name) for s in config.sites)
    config = dataclasses.replace(config, sites=sites, processed_dir=str(tmp_path))
    html = portfolio_page(config, dst_dir=tmp_path)
    assert payload not in html  # the JSON block writes </ as <\/
    assert "<img src=x" not in html.replace("<\\/script><img src=x", "")
    assert html.count("<script") == 2  # the data block and the inlined script


def test_the_analysts_levels_are_read_and_a_bad_one_names_row_and_column(tmp_path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "niveaux_veille.csv"
    good.write_text("trimestre,niveau\n2024-T1,orange\n", encoding="utf-8")
    site = _watch_site(["2024-01", "2024-02", "2024-03"])
    out = with_analyst_levels(site, read_analyst_levels(good))
    assert out[["watch_level", "analyst_level"]].values.tolist() == [["jaune", "orange"]]
    assert read_analyst_levels(tmp_path / "absent.csv") is None
    # As Excel saves it in French: a BOM and semicolons.
    excel = tmp_path / "excel.csv"
    excel.write_bytes("\ufefftrimestre;niveau\r\n2024-T1;rouge\r\n".encode())
    out = with_analyst_levels(site, read_analyst_levels(excel))
    assert out["analyst_level"].tolist() == ["rouge"]
    bad = tmp_path / "bad.csv"
    bad.write_text("trimestre,niveau\n2024-T1,orange\n2024-T2,jaune\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"ligne 3, colonne « niveau »"):
        read_analyst_levels(bad)


def test_the_portfolio_page_setting_must_be_a_positive_count(tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = (ROOT / "config" / "portfolio.toml").read_text(encoding="utf-8")
    cfg = tmp_path / "p.toml"
    cfg.write_text(text.replace("portfolio_page_from = 3", "portfolio_page_from = 0"), "utf-8")
    with pytest.raises(ConfigError, match="portfolio_page_from"):
        load_config(cfg, check_files=False)


def test_the_site_lift_figures_are_hidden_with_the_quarters_lift_cell() -> None:
    # Two lift reports naming a dwelling (person-related), from two households: the
    # quarter's lift cell is hidden, so the site's lift breakdowns must be too.
    r = reports_of(
        [
            ("A", "ascenseur", "2024-01-07", None, "h1"),
            ("A", "ascenseur", "2024-01-20", None, "h2"),
            *[("B", "proprete", f"2024-0{m}-09", None, f"h{m + 3}") for m in (1, 2, 3)],
        ]
    )
    buildings = buildings_of({"A": None, "B": None})
    site = site_quarters(
        r, buildings, backlog=None, n_hotspot_buildings=None, n_emerging_categories=None,
        actions_by_status=None,
    )  # fmt: skip
    assert site["lift_breakdowns"].tolist() == [2]  # computed before publication
    cats = category_quarters(
        r, dwellings_of(buildings), targets_h={}, backlog=None, as_of=pd.Timestamp("2024-04-01")
    )
    micro = micro_of(r, person_related=(r["category"] == "ascenseur"), rpls="non")
    out, _cats, _audit = protect_indicators(site, cats, micro, DEFAULT_RULES["comite"])
    assert out["lift_flag"].tolist() == ["s"]
    assert out[["lift_breakdowns", "lift_repeats_30d"]].isna().all().all()


def test_an_indicator_is_shown_only_as_a_sum_of_cells_the_site_already_shows() -> None:
    # Q1 2024: proprete in every month from three households each (shown everywhere),
    # ascenseur in January and March; the site's published series hides ascenseur in
    # March (as its own protection decided), and its monthly table hides building A's
    # March lift cell. Shown, the quarter's ascenseur count (Jan + hidden Mar) would give
    # March by subtraction: it is hidden, with its RPLS part and the site's lift figures.
    rows = [
        *[("A", "ascenseur", d, None, h) for d, h in (("2024-01-05", "h1"), ("2024-01-06", "h2"))],
        *[("A", "ascenseur", d, None, h) for d, h in (("2024-01-07", "h3"), ("2024-03-02", "h4"))],
        *[
            ("B", "proprete", f"2024-0{m}-1{k}", None, f"p{m}{k}")
            for m in (1, 2, 3)
            for k in (1, 2, 3)
        ],
    ]  # fmt: skip
    r = reports_of(rows)
    buildings = buildings_of({"A": 40.0, "B": 30.0})
    site = site_quarters(
        r, buildings, backlog=None, n_hotspot_buildings=None, n_emerging_categories=None,
        actions_by_status=None,
    )  # fmt: skip
    cats = category_quarters(
        r, dwellings_of(buildings), targets_h={}, backlog=None, as_of=pd.Timestamp("2024-04-01")
    )
    micro = micro_of(r, person_related=False, rpls="oui")
    site, cats, _audit = protect_indicators(site, cats, micro, DEFAULT_RULES["comite"])
    assert (cats["cell_flag"] == "").all()  # nothing person-related: all shown so far
    months = pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"])
    series = pd.DataFrame(
        {
            "period_start": [months[0], months[2], *months],
            "category": ["ascenseur", "ascenseur", "proprete", "proprete", "proprete"],
            "n_reports_flag": ["", "s", "", "", ""],
            "n_period_reports_flag": ["", "", "", "", ""],
        }
    )
    monthly = pd.DataFrame(
        {
            "building_id": ["A", "A", "B", "B", "B"],
            "month": ["2024-01", "2024-03", "2024-01", "2024-02", "2024-03"],
            "category": ["ascenseur", "ascenseur", "proprete", "proprete", "proprete"],
            "n_reports_flag": ["", "s", "", "", ""],
        }
    )
    out, shown = consistent_with_published(
        site, cats, series=series, monthly=monthly, rpls_ids={"A", "B"}
    )
    by_cat = shown.set_index("category")
    assert by_cat.at["ascenseur", "cell_flag"] == "s"
    assert pd.isna(by_cat.at["ascenseur", "n_reports"])
    assert by_cat.at["ascenseur", "rpls_flag"] == "s"
    assert by_cat.at["proprete", "n_reports"] == 9  # 3 shown months of 3
    assert by_cat.at["proprete", "rpls_flag"] == ""
    assert out["lift_flag"].tolist() == ["s"]
    # The site's quarter total: its month totals are shown, so it is; its RPLS total
    # holds the hidden lift part, so it is not.
    assert out["cell_flag"].tolist() == [""]
    assert out["n_reports"].tolist() == [13]
    assert out["rpls_flag"].tolist() == ["s"]
    # Nothing published to compare with: nothing is shown.
    out, shown = consistent_with_published(site, cats, series=None, monthly=None, rpls_ids=set())
    assert (shown["cell_flag"] == "s").all()
    assert (out["cell_flag"] == "s").all()


def lift_quarter_micro() -> pd.DataFrame:
    """Q1 2024 microdata: lifts of building A (RPLS) in January from five households,
    one lift report in March naming a dwelling (person-related, one household: its
    cells are hidden); proprete on building B (no RPLS), three households a month."""
    rows = [
        *[("A", "ascenseur", "2024-01", f"h{k}", False) for k in (1, 2, 3, 5, 6)],
        ("A", "ascenseur", "2024-03", "h4", True),
        *[("B", "proprete", f"2024-0{m}", f"p{m}{k}", False) for m in (1, 2, 3) for k in (1, 2, 3)],
    ]  # fmt: skip
    micro = pd.DataFrame(
        rows, columns=["building_id", "category", "month", "household", "person_related"]
    )
    return micro.assign(quarter="2024-T1", rpls=np.where(micro["building_id"] == "A", "oui", "non"))


#: The monthly tables of the publication step, as the engine sees them (by building).
MONTHLY_TABLES = [("building_id", "month", "category"), ("month", "category"), ("month",)]


def test_a_quarter_is_the_sum_of_its_months_in_the_engine_s_programs() -> None:
    # The engine knows no link between a month and its quarter: to its programs
    # (month, category) and (quarter, category) only share the category. Lifts hidden in
    # February and May (and proprete beside them, so that the month totals give nothing):
    # with the quarters shown, February's lifts are Q1's minus January's and March's, as a
    # reader adds them up; the engine alone passes it, refined it fails.
    counts = {"ascenseur": (5, 1, 4, 5, 6, 4), "proprete": (4, 4, 4, 4, 4, 4)}
    rows = [
        (f"2024-0{m}", f"2024-T{(m - 1) // 3 + 1}", cat, f"{cat}{m}-{k}",
         cat == "ascenseur" and m == 2)
        for cat, by_month in counts.items()
        for m, n in enumerate(by_month, start=1)
        for k in range(n)
    ]  # fmt: skip
    columns = ["month", "quarter", "category", "household", "person_related"]
    micro = pd.DataFrame(rows, columns=columns)
    by_month = micro.groupby(["month", "category"]).size().rename("n_reports").reset_index()
    hide = by_month["month"].isin(["2024-02", "2024-05"])
    by_month["flag"] = np.where(hide, "s", "")
    totals = micro.groupby("month").size().rename("n_reports").reset_index()
    totals["flag"] = np.where(totals["month"].isin(["2024-02", "2024-05"]), "s", "")
    quarters = micro.groupby(["quarter", "category"]).size().rename("n_reports").reset_index()
    published = {
        ("month", "category"): by_month,
        ("month",): totals,
        ("quarter", "category"): quarters.assign(flag=""),
    }
    assert refined(list(published))[("month", "category")] == ("month", "quarter", "category")
    assert refined(list(published))[("quarter", "category")] == ("quarter", "category")
    assert disclosure.audit(micro, published, rule=disclosure.COMITE)["passed"]  # blind
    audit = engine_audit(micro, published, disclosure.COMITE)
    assert not audit["passed"]
    by_dims = {tuple(t["dims"]): t for t in audit["tables"]}  # named as published
    assert by_dims[("month", "category")]["n_unprotected"] == 1


def test_a_hidden_month_under_too_small_a_shown_quarter_cannot_be_protected() -> None:
    # Why the indicators are not published first, their cells then locked for the
    # publication step (issue 18's « lever 2 »): their engine run sees no month. Q1's
    # lifts are 4 reports from 4 households (shown: no rule hides them), March's one of
    # them (hidden in the monthly tables). Whatever those hide, March is then 1 to 3,
    # not the 3 values wide the rule asks (on Bondy, 19 of the 104 shown quarter ×
    # category cells are such: as many reports as building × month cells, or 1 or 2
    # more). The guard that shows an indicator only as a sum of shown cells
    # (consistent_with_published) is what keeps it safe.
    micro = lift_quarter_micro()
    micro = micro[~micro["household"].isin(["h5", "h6"])].reset_index(drop=True)
    rule = DEFAULT_RULES["comite"]
    indicators = protect_tables(micro, TABLES, rule).tables
    q1 = indicators[("quarter", "category")].set_index("category")
    assert (q1.at["ascenseur", "flag"], q1.at["ascenseur", "n_reports"]) == ("", 4)
    joint = protect_tables(micro, MONTHLY_TABLES, rule, given=indicators).audit
    assert not joint["passed"]
    by_dims = {tuple(t["dims"]): t for t in joint["tables"]}
    assert by_dims[("building_id", "month", "category")]["n_unprotected"] == 1


def _site(r: pd.DataFrame, buildings: pd.DataFrame) -> pd.DataFrame:
    return site_quarters(
        r, buildings, backlog=None, n_hotspot_buildings=None, n_emerging_categories=None,
        actions_by_status=None,
    )  # fmt: skip


def test_days_out_of_service_merge_one_lifts_breakdowns_and_cut_at_the_quarter() -> None:
    # A: 10 → 20 January and 15 → 25 January overlap: one breakdown of 15 days, not 20.
    # B: 25 March → 5 April: 7 days in Q1 (25–31 March), 4 in Q2 (1–4 April); its open
    # report has no end and counts for nothing. Q1 = 15 + 7 = 22, Q2 = 4.
    r = reports_of(
        [
            ("A", "ascenseur", "2024-01-10", "2024-01-20", "h1"),
            ("A", "ascenseur", "2024-01-15", "2024-01-25", "h2"),
            ("B", "ascenseur", "2024-03-25", "2024-04-05", "h3"),
            ("B", "ascenseur", "2024-05-02", None, "h4"),
        ]
    )
    site = _site(r, buildings_of({"A": None, "B": None}))
    assert site["quarter"].tolist() == ["2024-T1", "2024-T2"]
    assert site["lift_days_out_of_service"].tolist() == [22.0, 4.0]
    # Q2's figure draws on the March breakdown, a report of Q1.
    assert site["lift_days_quarters"].tolist() == ["2024-T1", "2024-T1"]


def test_no_closing_date_no_days_out_of_service() -> None:
    r = reports_of([("A", "ascenseur", "2024-01-10", None, "h1")])
    assert _site(r, buildings_of({"A": None}))["lift_days_out_of_service"].isna().all()


def test_days_out_of_service_are_hidden_with_any_lift_cell_they_draw_on() -> None:
    # Q1: two lift reports of one building naming a dwelling, two households: the Q1
    # lift cell is hidden. Q2's days draw on the March breakdown (4 April) besides B's
    # May one (Q2's own lift cell, three households, is shown): shown, with B's days
    # known, they would tell the hidden breakdown's length.
    rows = [
        ("A", "ascenseur", "2024-01-07", "2024-01-09", "h1"),
        ("A", "ascenseur", "2024-03-28", "2024-04-04", "h2"),
        *[("B", "ascenseur", f"2024-05-0{d}", "2024-05-08", f"q{d}") for d in (1, 3, 5)],
    ]
    r = reports_of(rows)
    buildings = buildings_of({"A": None, "B": None})
    site = _site(r, buildings)
    cats = category_quarters(
        r, dwellings_of(buildings), targets_h={}, backlog=None, as_of=pd.Timestamp("2024-07-01")
    )
    micro = micro_of(r, person_related=True, rpls="non")
    out, _cats, _audit = protect_indicators(site, cats, micro, DEFAULT_RULES["comite"])
    assert out["lift_flag"].tolist() == ["s", ""]
    assert out["lift_days_flag"].tolist() == ["s", "s"]
    assert out["lift_days_out_of_service"].isna().all()


def test_under_public_small_cells_are_hidden_and_shown_counts_rounded() -> None:
    # Q1 2024, all RPLS (100 dwellings): proprete from 12 households, encombrants from 16,
    # ascenseur from 4 (below the public threshold of 11: hidden, whatever its category;
    # and one more cell, else the quarter's total gives it). Shown counts are rounded to
    # 5 (12 → 10, 16 → 15, 32 → 30) and their rates with them. The lift, recurrence and
    # backlog figures are hidden outright.
    rows = [
        *[("A", "proprete", f"2024-0{1 + k % 3}-1{k % 9}", None, f"p{k}") for k in range(12)],
        *[("A", "encombrants", f"2024-0{1 + k % 3}-2{k % 8}", None, f"e{k}") for k in range(16)],
        *[("A", "ascenseur", f"2024-02-0{k + 1}", None, f"l{k}") for k in range(4)],
    ]
    r = reports_of(rows)
    buildings = buildings_of({"A": 100.0})
    site = _site(r, buildings)
    cats = category_quarters(
        r, dwellings_of(buildings), targets_h={}, backlog=None, as_of=pd.Timestamp("2024-04-01")
    )
    rule = DEFAULT_RULES["public"]
    micro = micro_of(r, person_related=False, rpls="oui")
    out, shown, _audit = protect_indicators(site, cats, micro, rule)
    out, shown = rounded(out, rule.round_base), rounded(shown, rule.round_base)
    by_cat = shown.set_index("category")
    assert by_cat.at["ascenseur", "cell_flag"] == "s"
    assert pd.isna(by_cat.at["ascenseur", "n_reports"])
    assert (shown["cell_flag"] == "s").sum() >= 2
    expected = {"proprete": 10, "encombrants": 15}
    for cat, n in expected.items():
        if by_cat.at[cat, "cell_flag"] == "":
            assert by_cat.at[cat, "n_reports"] == n
            assert by_cat.at[cat, "reports_per_100_dwellings"] == pytest.approx(float(n))
    if out["cell_flag"].iloc[0] == "":
        assert out["n_reports"].iloc[0] == 30
    assert out["other_flag"].tolist() == ["s"]
    lifts = ["lift_breakdowns", "lift_days_out_of_service", "n_buildings_recurrent"]
    assert out[lifts].isna().all().all()


def test_under_public_the_share_past_target_comes_from_rounded_counts() -> None:
    # Q3 2024: heating reports from 18 households, all closed, 13 past the 48 h target.
    # Bondy's open-data pack showed 0,722 (13 of 18, exact) beside « 20 » closed: the
    # share pinned the counts. Now: 13 → 15 past it, 18 → 20 due: 0,75; the counts it is
    # drawn from are not published (NOT_PUBLISHED). The committee keeps 0,722.
    from pipelines.publish.indicator_cells import NOT_PUBLISHED

    rows = [
        ("A", "chauffage", f"2024-07-{1 + k:02d} 08:00",
         f"2024-07-{(4 if k < 13 else 2) + k:02d} 08:00", f"h{k}")
        for k in range(18)
    ]  # fmt: skip
    r = reports_of(rows)
    buildings = buildings_of({"A": 100.0})
    cats = category_quarters(
        r, dwellings_of(buildings), targets_h={"chauffage": 48.0}, backlog=None,
        as_of=pd.Timestamp("2024-10-01"),
    )  # fmt: skip
    assert cats["share_past_target"].iloc[0] == pytest.approx(0.722)
    micro = micro_of(r, person_related=False, rpls="oui")
    for name, expected in (("public", 0.75), ("comite", 0.722)):
        rule = DEFAULT_RULES[name]
        _out, shown, _audit = protect_indicators(_site(r, buildings), cats, micro, rule)
        shown = rounded(shown, rule.round_base)
        assert shown["cell_flag"].iloc[0] == ""
        assert shown["share_past_target"].iloc[0] == pytest.approx(expected), name
    assert set(NOT_PUBLISHED) <= set(cats.columns)


def entrance_reports(rows: list[tuple[str, str | None, str, str, str]]) -> pd.DataFrame:
    """Reports (building, matched label, category, reported_at, household) as the
    geocoding stage writes them, then :func:`counted_reports`."""
    frame = pd.DataFrame(
        rows, columns=["building_id", "match_label", "category", "reported_at", "household_key"]
    )
    frame["reported_at"] = pd.to_datetime(frame["reported_at"])
    frame["closed_at"] = pd.NaT
    frame["report_id"] = [f"r{i}" for i in range(len(frame))]
    frame["source_kind"] = "reports"
    return counted_reports(frame)


def test_an_entrance_is_yellow_from_three_months_of_degradation_in_six() -> None:
    # Building A, entrance « 7 Rue X »: degradation in January, February and March
    # (3 of the 6 months ending in March: jaune); entrance « 9 Rue X »: degradation in
    # January and March only, and proprete (not a watch category) in February: vert.
    # Building B: occupation in three months on reports that matched no address: its
    # « entrée non précisée » is jaune.
    r = entrance_reports(
        [
            *[("A", "7 Rue X", "degradation", f"2024-0{m}-05", f"h{m}") for m in (1, 2, 3)],
            *[("A", "9 Rue X", "degradation", f"2024-0{m}-05", f"k{m}") for m in (1, 3)],
            ("A", "9 Rue X", "proprete", "2024-02-05", "k2"),
            *[("B", None, "occupation", f"2024-0{m}-05", f"o{m}") for m in (1, 2, 3)],
        ]
    )
    table = entrance_quarters(r, ["2024-T1"]).set_index(["building_id", "entrance_label_fr"])
    assert table.at[("A", "7 Rue X"), "watch_level"] == "jaune"
    assert table.at[("A", "9 Rue X"), "watch_level"] == "vert"
    assert table.at[("A", "9 Rue X"), "watch_months"] == 2
    assert table.at[("B", "entrée non précisée"), "watch_level"] == "jaune"
    assert len(table) == 3


def test_a_yellow_entrance_is_published_only_from_enough_households() -> None:
    # Q1, three jaune entrances: « 1 Rue Y » from 3 households (shown under comité),
    # « 3 Rue Y » from 2 (not listed: « s » would say jaune), « 5 Rue Y » from 4
    # households but one of them makes 9 of its 12 reports (0.75 < 0.85: shown) and
    # « 7 Rue Y » where one makes 10 of 11 (dominance: not listed); the analyst set
    # « 3 Rue Y » orange: listed, as the analyst's.
    rows = [
        *[("A", "1 Rue Y", "degradation", f"2024-0{m}-05", f"a{m}") for m in (1, 2, 3)],
        *[("A", "3 Rue Y", "degradation", f"2024-0{m}-05", f"b{m % 2}") for m in (1, 2, 3)],
        *[("B", "5 Rue Y", "degradation", f"2024-0{1 + k % 3}-1{k}", "c0") for k in range(9)],
        *[("B", "5 Rue Y", "degradation", f"2024-0{m}-20", f"c{m}") for m in (1, 2, 3)],
        *[("B", "7 Rue Y", "occupation", f"2024-0{1 + k % 3}-1{k}", "d0") for k in range(10)],
        ("B", "7 Rue Y", "occupation", "2024-02-25", "d1"),
    ]
    table = entrance_quarters(entrance_reports(rows), ["2024-T1"])
    assert (table["watch_level"] == "jaune").all()
    levels = pd.DataFrame(
        {"quarter": ["2024-T1"], "analyst_level": ["orange"], "entrance": ["3 rue y"]}
    )
    table = with_analyst_entrances(table, levels)
    out = protect_entrances(table, DEFAULT_RULES["comite"]).set_index("entrance_label_fr")
    assert sorted(out.index) == ["1 Rue Y", "3 Rue Y", "5 Rue Y"]
    assert out.at["1 Rue Y", "watch_by"] == "proposition de l'outil"
    assert out.at["3 Rue Y", "watch_level"] == "orange"
    assert out.at["3 Rue Y", "watch_by"] == "analyste"
    assert not {"n_reports_watch", "n_households_watch", "watch_months"} & set(out.columns)
    # the open-data pack publishes nothing finer than the building: no entrance at all
    assert protect_entrances(table, DEFAULT_RULES["public"]).empty
    # with a threshold of 4 households, « 1 Rue Y » (3) goes too
    four = dataclasses.replace(DEFAULT_RULES["comite"], min_households=4)
    out = protect_entrances(table, four)
    assert sorted(out["entrance_label_fr"]) == ["3 Rue Y", "5 Rue Y"]


def test_the_analysts_file_may_name_an_entrance(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "niveaux_veille.csv"
    path.write_text(
        "trimestre;niveau;entree\n2024-T1;orange;\n2024-T1;rouge;7 Rue X\n2024-T1;orange;way/9\n",
        encoding="utf-8",
    )
    levels = read_analyst_levels(path)
    site = with_analyst_levels(_watch_site(["2024-01", "2024-02", "2024-03"]), levels)
    assert site["analyst_level"].tolist() == ["orange"]  # the row without entrance
    r = entrance_reports(
        [("A", "7 Rue X", "degradation", f"2024-0{m}-05", f"h{m}") for m in (1, 2, 3)]
    )
    out = with_analyst_entrances(entrance_quarters(r, ["2024-T1"]), levels)
    assert out.set_index("entrance_label_fr")["analyst_level"].to_dict() == {
        "7 Rue X": "rouge",
        "way/9": "orange",  # an entrance the table lacks: a row of its own
    }
    twice = tmp_path / "twice.csv"
    twice.write_text(
        "trimestre,niveau,entree\n2024-T1,rouge,7 Rue X\n2024-T1,orange,7 rue x\n", "utf-8"
    )
    with pytest.raises(InputError, match=r"ligne 3, colonne « trimestre »"):
        read_analyst_levels(twice)


def test_a_hidden_period_hides_every_quarter_it_covers() -> None:
    """The public profile publishes by quarter (« 2024-T1 »), the comité by month: the
    guard reads both, and a year, and refuses a label it cannot read (pandas' guess
    parsed « 2024-T1 » as a date of its own)."""
    assert quarters_of_period("2024-02") == ["2024-T1"]
    assert quarters_of_period("2024-12") == ["2024-T4"]
    assert quarters_of_period("2024-03-01") == ["2024-T1"]
    assert quarters_of_period("2024-04-01 00:00:00") == ["2024-T2"]
    assert quarters_of_period("2025-T3") == ["2025-T3"]
    assert quarters_of_period("2024") == ["2024-T1", "2024-T2", "2024-T3", "2024-T4"]
    for label in ("2024-S1", "2024-13", "2024-T5", "24-T1"):
        with pytest.raises(ValueError, match=f"illisible : « {label} »"):
            quarters_of_period(label)


def test_the_hotspot_counts_are_those_the_published_profile_shows() -> None:
    """``n_hotspot_buildings`` and ``n_emerging_categories`` were counted over every
    building and published as such: beside a profile that hides a building's class, the
    count less the buildings shown hot told how many hidden ones are hot (Bondy's
    committee pack: 84 against 64 shown; Paris 10's open-data pack, every class hidden:
    0, so none of them). They are now counted over the profile as published."""
    site = pd.DataFrame(
        {
            "quarter": ["2025-T3", "2025-T4"],
            "n_hotspot_buildings": pd.array([None, 3], dtype="Int64"),
            "n_emerging_categories": pd.array([None, 2], dtype="Int64"),
        }
    )
    profile = pd.DataFrame(
        {
            "building_id": ["way/1", "way/2", "way/3", "way/4"],
            "gi_bin": [2.0, None, 1.0, None],
            "gi_bin_flag": ["", "s", "", "s"],
            "emerging_category": ["new", None, "no_pattern", None],
            "emerging_category_flag": ["", "s", "", "s"],
        }
    )
    out = with_shown_hotspots(site, profile)
    assert out["n_hotspot_buildings"].tolist() == [pd.NA, 2]
    assert out["n_emerging_categories"].tolist() == [pd.NA, 1]
    every_class_hidden = profile.assign(
        gi_bin=None, gi_bin_flag="s", emerging_category=None, emerging_category_flag="s"
    )
    out = with_shown_hotspots(site, every_class_hidden)
    assert out["n_hotspot_buildings"].isna().all()
    assert out["n_emerging_categories"].isna().all()
