"""What a pack says beside its tables, and what an attacker infers from it with them:
the site's trend headline (``site.json``'s ``trends.headline``) is the test of the site's
series as the pack shows it, never of the exact monthly series beside it, and withheld
where a period of that series is hidden, and so is the indicators' trend of each
quarter; the method note does not count the chronic problems it leaves out."""

from __future__ import annotations

import re

import geopandas as gpd
import pandas as pd
import pytest

from pipelines.hotspots.chronic import chronic_pairs
from pipelines.indicators.compute import counted_reports, site_quarters
from pipelines.osm.buildings import read_osm_buildings
from pipelines.publish.build import publish_site
from pipelines.publish.headline import published_quarter_trends
from pipelines.publish.note import publication_section
from pipelines.publish.protect import apply_profile
from pipelines.stats import mann_kendall, sens_slope
from pipelines.trends.series import headline, series_tests
from tests.conftest import RAW, reports_on
from tests.profiles import COMITE, PERSON, PUBLIC


@pytest.fixture(scope="module")
def bondy() -> gpd.GeoDataFrame:
    return read_osm_buildings(RAW / "bondy" / "bondy_nord.osm").head(20)


def _exact_headline(reports: pd.DataFrame) -> dict:
    """The trends stage's headline: the exact monthly series of the site."""
    months = reports["reported_at"].dt.to_period("M")
    counts = months.value_counts().sort_index()
    counts = counts.reindex(pd.period_range(counts.index[0], counts.index[-1]), fill_value=0)
    series = pd.DataFrame(
        {
            "level": "site",
            "key": "site",
            "period_start": counts.index.start_time,
            "n_reports": counts.to_numpy(),
        }
    )
    return headline(series_tests(series), min_reports=30)


def _published(bondy: gpd.GeoDataFrame, rows: list[tuple[str, str, str, str]], rule) -> dict:
    reports = reports_on(bondy, rows)
    published = publish_site(
        bondy, reports, extra={"trends": {"headline": _exact_headline(reports)}}
    )
    protection, _ = apply_profile(published, reports, rule=rule, person_related=PERSON)
    return protection.published


def test_the_committee_headline_is_withheld_where_a_month_is_hidden(
    bondy: gpd.GeoDataFrame,
) -> None:
    """12 months of lift reports, and in June one pest report alone (person-related,
    one household): June's total is that hidden cell, « s ». The trends stage's S and
    Sen's slope of the exact series (June: 1) were published beside it, and with the
    other months shown they bound June's total (on Paris's committee pack they gave
    both hidden months back exactly). Now no figure, no direction, and a sentence."""
    ids = bondy["building_id"].astype(str).tolist()
    rows = [
        (ids[k % 5], "ascenseur", f"2025-{m:02d}-{1 + k:02d}", f"h{m}-{k}")
        for m in range(1, 13)
        if m != 6
        for k in range(3 + m)
    ]
    rows.append((ids[0], "nuisibles", "2025-06-10", "seul"))
    pub = _published(bondy, rows, COMITE)
    periods = pub.category_series.drop_duplicates("period_start")
    june = periods[periods["period_start"] == pd.Timestamp("2025-06-01")]
    assert june["n_period_reports_flag"].tolist() == ["s"]

    head = pub.site["trends"]["headline"]
    for key in ("mk_s", "mk_z", "mk_p", "sens_slope_per_period", "trend", "direction"):
        assert head[key] is None, key
    assert head.get("withheld") is True
    assert head["trend_fr"].startswith("tendance non publiée")
    assert "masquée" in head["trend_fr"]


def test_the_open_data_headline_is_the_test_of_the_rounded_series(
    bondy: gpd.GeoDataFrame,
) -> None:
    """Many households every month, so that no period is hidden under ``public``: the
    headline's S, z and Sen's slope are those of the series the pack publishes (its
    period totals, rounded to 5: 60, 60, 65…), not the exact ones (S 66, every pair of
    months rising, and z 4,5 on the exact series; 56 and 3,9 on the rounded one)."""
    ids = bondy["building_id"].astype(str).tolist()
    per_month = [61, 62, 64, 66, 67, 69, 71, 72, 74, 76, 77, 79]
    rows = [
        (ids[k % 4], "ascenseur", f"2025-{m:02d}-{1 + k % 28:02d}", f"h{m}-{k}")
        for m, n in enumerate(per_month, start=1)
        for k in range(n)
    ]
    pub = _published(bondy, rows, PUBLIC)
    periods = pub.category_series.drop_duplicates("period_start").sort_values("period_start")
    assert (periods["n_period_reports_flag"] == "").all()
    shown = periods["n_period_reports"].astype(float).to_numpy()
    assert (shown % 5 == 0).all()

    head = pub.site["trends"]["headline"]
    exact = _exact_headline(reports_on(bondy, rows))
    assert head["mk_s"] == mann_kendall(shown).s != exact["mk_s"]
    assert head["mk_z"] == pytest.approx(mann_kendall(shown).z) != exact["mk_z"]
    assert head["sens_slope_per_period"] == pytest.approx(sens_slope(shown))
    assert head["n_periods"] == len(shown)
    assert head["withheld"] is False


def test_the_committee_note_does_not_count_the_chronic_problems_left_out(
    bondy: gpd.GeoDataFrame,
) -> None:
    """One building has lift reports (shown), 4 pest reports in February from one
    household and one « occupation » report: both person-related cells hidden, their sum
    5 (building total 17, lifts 12), each within [1, 4], which the audit passes (width
    3). With the site's rules (pests: 4 reports in 90 days; « occupation »: no rule),
    the pests are a chronic problem, left out for want of households, and the committee
    note said « Problèmes chroniques non montrés faute de ménages : 1 »: the only hidden
    cell that can hold a chronic problem has at least 4 reports, so exactly 4, and
    « occupation » 1. The note now says they are left out, not how many."""
    ids = bondy["building_id"].astype(str).tolist()
    rows = [
        (ids[k % 6], "ascenseur", f"2025-{m:02d}-{1 + k:02d}", f"t{m}-{k}")
        for m in range(1, 7)
        for k in range(12)
    ]
    rows += [(ids[0], "nuisibles", f"2025-02-{d:02d}", "x") for d in (3, 10, 17, 24)]
    rows.append((ids[0], "occupation", "2025-02-12", "y"))
    reports = reports_on(bondy, rows)
    rules = {"default": (3, 90), "nuisibles": (4, 90), "occupation": None}
    chronic = chronic_pairs(reports, rules).astype(str)
    protection, _ = apply_profile(
        publish_site(bondy, reports, chronic=chronic), reports, rule=COMITE,
        person_related=PERSON,
    )  # fmt: skip
    profile = protection.published.profile
    row = profile[profile["building_id"].astype(str) == ids[0]].iloc[0]
    assert protection.audit["passed"]
    assert protection.audit["chronic_left_out"] == 1
    assert (row["n_nuisibles_flag"], row["n_occupation_flag"]) == ("s", "s")
    assert row["n_reports"] - row["n_ascenseur"] == 5  # two hidden cells, each 1 to 4

    note = " ".join(publication_section(protection.audit, protection.cells).paragraphs)
    assert "chroniques" in note
    assert re.search(r"chroniques[^.]*: \d", note) is None
    assert "leur nombre n'est pas donné ici" in note


def test_the_indicators_trend_of_a_quarter_is_that_of_the_published_months(
    bondy: gpd.GeoDataFrame,
) -> None:
    """24 months of lift reports, and in June 2024 one pest report alone: that month's
    total is hidden (« s ») in the committee's series. The indicators' trend of each
    quarter (Mann-Kendall and Sen's slope over the 12 months ending with it) was that
    of the exact series, published beside it: now a quarter whose months hold June 2024
    has none (``trend_flag`` « s »), the others that of the months as published; by
    quarter (the open-data pack's series), none at all."""
    ids = bondy["building_id"].astype(str).tolist()
    months = [f"{y}-{m:02d}" for y in (2024, 2025) for m in range(1, 13)]
    rows = [
        (ids[k % 5], "ascenseur", f"{month}-{1 + k:02d}", f"h{month}-{k}")
        for i, month in enumerate(months)
        if month != "2024-06"
        for k in range(3 + i % 7)
    ]
    rows.append((ids[0], "nuisibles", "2024-06-10", "seul"))
    pub = _published(bondy, rows, COMITE)
    reports = reports_on(bondy, rows)
    site = site_quarters(
        counted_reports(reports), bondy, backlog=None, n_hotspot_buildings=None,
        n_emerging_categories=None, actions_by_status=None,
    )  # fmt: skip
    assert site["mk_p"].notna().sum() == 7  # every quarter of 6 months or more

    out = published_quarter_trends(site, pub.category_series, freq="M").set_index("quarter")
    holding_june = ["2024-T2", "2024-T3", "2024-T4", "2025-T1"]
    assert (out.loc[holding_june, "trend_flag"] == "s").all()
    assert out.loc[holding_june, ["mk_trend", "mk_p", "sens_slope_per_month"]].isna().all().all()
    totals = pub.category_series.drop_duplicates("period_start").set_index("period_start")
    last12 = totals.loc["2024-07-01":"2025-06-01", "n_period_reports"].astype(float)
    assert len(last12) == 12
    assert out.at["2025-T2", "trend_flag"] == ""
    assert out.at["2025-T2", "mk_p"] == round(mann_kendall(last12.to_numpy()).p, 4)
    assert out.at["2025-T2", "sens_slope_per_month"] == round(sens_slope(last12.to_numpy()), 3)

    by_quarter = published_quarter_trends(site, pub.category_series, freq="Q")
    assert by_quarter["mk_p"].isna().all()
    assert (by_quarter["trend_flag"] == "s").sum() == 7


def test_a_top_building_trend_is_that_of_its_published_series(
    bondy: gpd.GeoDataFrame,
) -> None:
    """Three buildings reported by 12 to 20 households every month: the open-data pack
    keeps the monthly table by building and month, rounded to 5, and charts the three as
    its top buildings. Their trend test was the trends stage's, of the exact series
    (each month one more report: S 66, Sen's slope 1,0), beside the rounded months; it
    is now that of the series as published."""
    ids = bondy["building_id"].astype(str).tolist()[:3]
    rows = [
        (bid, "ascenseur", f"2025-{m:02d}-{1 + k % 28:02d}", f"{bid}-{m}-{k}")
        for bid in ids
        for m in range(1, 13)
        for k in range(11 + m)
    ]
    reports = reports_on(bondy, rows)
    exact = pd.DataFrame(
        {
            "level": "building",
            "key": [r[0] for r in rows],
            "period_start": pd.to_datetime([r[2][:7] + "-01" for r in rows]),
        }
    )
    series = exact.groupby(["level", "key", "period_start"]).size().rename("n_reports")
    series = series.reset_index()
    tests = series_tests(series)
    assert (tests["mk_s"] == 66).all()
    published = publish_site(bondy, reports, series=series, tests=tests, freq="M", top_buildings=3)
    protection, _ = apply_profile(published, reports, rule=PUBLIC, person_related=PERSON)
    top = protection.published.top_buildings
    assert protection.audit["level_monthly"] == "bâtiment × mois"
    assert top["building_id"].nunique() == 3
    assert (top["trend_flag"] == "").all()
    for bid, rows_of in top.groupby("building_id"):
        shown = rows_of.sort_values("period_start")["n_reports"].astype(float).to_numpy()
        assert (shown % 5 == 0).all()
        assert rows_of["mk_p"].iloc[0] == pytest.approx(mann_kendall(shown).p), bid
        assert rows_of["sens_slope_per_period"].iloc[0] == pytest.approx(sens_slope(shown))
        assert rows_of["mk_p"].iloc[0] != pytest.approx(tests["mk_p"].iloc[0])
