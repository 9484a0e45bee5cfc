"""The reports placed on no building are listed for the analyst, each with its reason
(``unplaced.csv``, :mod:`pipelines.geocode.unplaced`): accepted and counted, but on no
map, they were only in ``reports.parquet`` and as counts in ``geocode_summary.json``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipelines.geocode import unplaced_reports
from pipelines.geocode.unplaced import (
    AWAY_FR,
    BOTH_FR,
    NO_ADDRESS_MATCH_FR,
    NOTHING_FR,
    PLACEHOLDER_FR,
    REASONS_FR,
)
from pipelines.io import read_csv, read_geoparquet
from tests.conftest import DemoRun


@pytest.mark.parametrize("site", ["bondy", "paris10"])
def test_every_report_on_no_building_is_listed_with_its_reason(
    demo_run: DemoRun, site: str
) -> None:
    processed = demo_run.site(site)
    reports = read_geoparquet(processed / "reports.parquet")
    listed = read_csv(processed / "unplaced.csv", dtype=str)
    nowhere = reports[reports["building_id"].isna()]
    assert len(nowhere) > 0  # both sites have some (Bondy's « r. L. Aubrac »…)
    assert list(listed["report_id"]) == list(nowhere["report_id"])
    assert listed["reason"].str.len().gt(0).all()
    # placed and listed add up to the reports the site counts
    assert len(listed) + reports["building_id"].notna().sum() == len(reports)
    summary = json.loads((processed / "geocode_summary.json").read_text(encoding="utf-8"))
    assert summary["unplaced_file"] == "unplaced.csv"
    # no personal column reaches it (ingestion dropped them; the list adds none)
    assert not {"household_key", "description", "name", "phone"} & set(listed.columns)
    if site == "bondy":
        aubrac = listed[listed["address"].str.contains("L. Aubrac", na=False, regex=False)]
        assert len(aubrac) > 0
        assert set(aubrac["reason"]) == {NO_ADDRESS_MATCH_FR}


def test_each_way_of_being_on_no_building_has_its_reason() -> None:
    rows = pd.DataFrame(
        {
            "report_id": [f"r{i}" for i in range(8)],
            "building_id": [None, None, None, None, None, None, None, "way/1"],
            "geocode_method": [
                "address_street",
                "building_not_in_extract",
                "unmatched",
                "unmatched",
                "unmatched",
                "unmatched",
                "unmatched",
                "point_in_building",
            ],
            "address": ["3 rue X", "", "16 r. L. Aubrac", "", "Square Y", "", "", ""],
            "building_ref": ["", "BL-9", "", "", "", "", "", ""],
            "lon": [np.nan, np.nan, np.nan, 2.4, 2.35, 2.4, np.nan, 2.4],
            "lat": [np.nan, np.nan, np.nan, 48.9, 48.88, 48.9, np.nan, 48.9],
            "is_placeholder_point": [False, False, False, False, False, True, False, False],
        }
    )
    out = unplaced_reports(rows)
    assert list(out["report_id"]) == [f"r{i}" for i in range(7)]  # the placed one left out
    assert list(out["reason"]) == [
        REASONS_FR["address_street"],
        REASONS_FR["building_not_in_extract"],
        NO_ADDRESS_MATCH_FR,
        AWAY_FR,
        BOTH_FR,
        PLACEHOLDER_FR,
        NOTHING_FR,
    ]
