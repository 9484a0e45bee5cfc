"""The portfolio's indicators count the reports the site's pack counts.

The publication step leaves late reports (dated in a period its ledger froze) out of
every table; the indicators were counted over every report of ``reports.parquet``, and
the consistency guard checked flags, not values: a quarter × category count shown beside
the sum of its months in ``category_series`` gave the exact number of late reports of
that cell. Paris 10 of the demo (109 reports, published in seconds) is published once
(its months but the last frozen), a late report is added to a frozen month of a shown
cell, and the site is published again with its indicators.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from pipelines.config import load_config
from pipelines.indicators import run as run_indicators_stage
from pipelines.publish import run as run_publish
from pipelines.publish import run_indicators
from pipelines.publish.cells import microdata
from pipelines.publish.ledger import read_ledger, site_ledger_path
from pipelines.publish.left_out import late_of, left_out_cells, unequal_cells
from pipelines.publish.stage import person_related_of
from pipelines.reports import naive_dates

CELL = ("2024-T1", "degradation")


def _month_sums(published: Path) -> pd.Series:
    series = pd.read_parquet(published / "category_series.parquet")
    quarter = pd.PeriodIndex(pd.to_datetime(series["period_start"]), freq="Q")
    key = [f"{p.year}-T{p.quarter}" for p in quarter]
    return series.groupby([key, series["category"].astype(str)])["n_reports"].sum()


def _shown(published: Path) -> pd.DataFrame:
    cats = pd.read_parquet(published / "indicators_category.parquet")
    return cats.set_index(["quarter", "category"])


def test_a_late_report_is_in_no_indicator_the_portfolio_shows(
    demo_run: Any, tmp_path: Path
) -> None:
    config = load_config(demo_run.config)
    site = config.site("paris10")
    site = replace(site, publication=replace(site.publication, ledger_dir=str(tmp_path / "ledger")))
    processed = shutil.copytree(demo_run.site("paris10"), tmp_path / "paris10")
    published = tmp_path / "published"
    run_publish(config, site, processed=processed, dst_dir=published)
    run_indicators(config, site, processed=processed, dst_dir=published)
    before = _shown(published).loc[CELL]
    assert before["cell_flag"] == ""
    assert before["n_reports"] == _month_sums(published)[CELL] == 16

    # a report received since, dated in January 2024 (frozen by the first publication)
    reports = gpd.read_parquet(processed / "reports.parquet")
    when = naive_dates(reports["reported_at"]).dt.strftime("%Y-%m")
    same = reports[
        (reports["category"] == CELL[1]) & (when == "2024-01") & reports["duplicate_of"].isna()
    ]
    late = same.iloc[[0]].assign(report_id="late-1")
    pd.concat([reports, late]).to_parquet(processed / "reports.parquet")
    run_indicators_stage(config, site.id, processed=processed)
    run_publish(config, site, processed=processed, dst_dir=published)
    audit = pd.read_json(published / "publication_audit.json", typ="series")
    assert audit["late_reports_left_out"] == 1
    exact = pd.read_parquet(processed / "indicators_category.parquet")
    exact = exact.set_index(["quarter", "category"])
    assert exact.loc[CELL, "n_reports"] == 17  # what the portfolio page showed
    run_indicators(config, site, processed=processed, dst_dir=published)

    # the pack's months are as before; the indicator counted 17 beside them (17 - 16:
    # the late report); now hidden, with its quarter's total, and the reason said
    assert _month_sums(published)[CELL] == 16
    after = _shown(published).loc[CELL]
    assert after["cell_flag"] == "s"
    assert pd.isna(after["n_reports"])
    assert pd.isna(after["median_delay_h"])
    site_table = pd.read_parquet(published / "indicators_site.parquet").set_index("quarter")
    assert site_table.loc[CELL[0], "cell_flag"] == "s"
    assert pd.isna(site_table.loc[CELL[0], "n_reports"])
    ind_audit = pd.read_json(published / "indicators_audit.json", typ="series")
    assert ind_audit["audit"]["left_out"]["cells_hidden"] == 1
    assert "tardifs" in ind_audit["audit"]["left_out"]["reason_fr"]
    note = (published / "indicators_method.md").read_text(encoding="utf-8")
    assert "aucun indicateur montré ne le compte" in " ".join(note.split())
    # every other count shown is the sum of the pack's months
    sums = _month_sums(published)
    shown = _shown(published)
    shown = shown[shown["cell_flag"] == ""]
    assert len(shown) > 10
    for key, n in shown["n_reports"].items():
        assert n == sums.get(key, 0), key


def test_the_open_data_indicators_leave_late_reports_and_hidden_years_out(
    demo_run: Any, tmp_path: Path
) -> None:
    """Under ``public`` the pack publishes Paris 10 by year, rounded to 5, and hides the
    site's totals of 2023 and 2024; its indicators are by quarter, rounded. A quarter of
    a hidden year was shown all the same (2023-T4: « 20 »): the year's first day was
    read as its January, hiding the first quarter alone. And a late report dated in 2023
    (frozen, year level) is told apart on the open-data ledger: its cell is not shown."""
    config = load_config(demo_run.config)
    site = config.site("paris10")
    site = replace(site, publication=replace(site.publication, ledger_dir=str(tmp_path / "ledger")))
    processed = shutil.copytree(demo_run.site("paris10"), tmp_path / "paris10")
    published = tmp_path / "public"
    run_publish(config, site, processed=processed, dst_dir=published, profile="public")
    run_indicators(config, site, processed=processed, dst_dir=published, profile="public")
    series = pd.read_parquet(published / "category_series.parquet")
    assert (series["n_period_reports_flag"] == "s").all()
    quarters = pd.read_parquet(published / "indicators_site.parquet").set_index("quarter")
    assert quarters.loc["2023-T4", "cell_flag"] == "s"
    assert pd.isna(quarters.loc["2023-T4", "n_reports"])

    reports = gpd.read_parquet(processed / "reports.parquet")
    when = naive_dates(reports["reported_at"]).dt.strftime("%Y-%m")
    late = reports[(when == "2023-11") & reports["duplicate_of"].isna()].iloc[[0]]
    pd.concat([reports, late.assign(report_id="late-1")]).to_parquet(processed / "reports.parquet")
    run_indicators_stage(config, site.id, processed=processed)
    run_publish(config, site, processed=processed, dst_dir=published, profile="public")
    run_indicators(config, site, processed=processed, dst_dir=published, profile="public")
    micro = microdata(
        gpd.read_parquet(processed / "reports.parquet"),
        zone_of={},
        person_related=person_related_of(site),
    )
    ledger = read_ledger(site_ledger_path(config, site, "public"))
    assert left_out_cells(micro, late_of(micro, ledger)) == {
        ("2023-T4", str(late["category"].iloc[0]))
    }
    cats = _shown(published)
    assert cats.loc[("2023-T4", str(late["category"].iloc[0])), "cell_flag"] == "s"
    ind_audit = pd.read_json(published / "indicators_audit.json", typ="series")
    assert ind_audit["audit"]["left_out"]["cells_hidden"] is None  # not how many


def test_a_count_beside_other_months_is_not_shown() -> None:
    """Whatever left them out, a shown count that is not the sum of the months the pack
    shows is hidden (here 17 beside 5 + 6 + 5); one beside a hidden month is left to
    the flags' guard, a series by year is not compared."""
    series = pd.DataFrame(
        {
            "period_start": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"] * 2),
            "category": ["degradation"] * 3 + ["proprete"] * 3,
            "n_reports": [5.0, 6.0, 5.0, 1.0, None, 2.0],
            "n_reports_flag": ["", "", "", "", "s", ""],
        }
    )
    cats = pd.DataFrame(
        {
            "quarter": ["2024-T1", "2024-T1"],
            "category": ["degradation", "proprete"],
            "n_reports": [17.0, 4.0],
            "cell_flag": ["", ""],
        }
    )
    assert unequal_cells(cats, series, freq="M") == {CELL}
    assert unequal_cells(cats.assign(n_reports=[16.0, 4.0]), series, freq="M") == set()
    assert unequal_cells(cats, series, freq="Y") == set()
