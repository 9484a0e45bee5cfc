"""Sites with nothing to count (issue 18): a site with buildings but no report, a site
whose perimeter holds no OSM building. Each is kept in the portfolio table and marked,
never a crash; the engine of disclosure control takes empty tables."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.publish.cells import microdata, unpublished_zone
from pipelines.stats import disclosure


def test_the_engine_protects_around_an_empty_given_table() -> None:
    # No report: the microdata's text columns are empty, and so is the zone table given
    # to the engine (pandas types an empty list as float: the join used to fail).
    reports = pd.DataFrame(
        {
            "building_id": pd.Series([], dtype=object),
            "category": pd.Series([], dtype=object),
            "reported_at": pd.Series([], dtype="datetime64[us]"),
            "source_kind": pd.Series([], dtype=object),
        }
    )
    micro = microdata(reports, zone_of={}, person_related=frozenset({"occupation"}))
    assert micro.empty
    tables = [(), ("zone",), ("zone", "building_id")]
    out = disclosure.protect(
        micro, tables, rule=disclosure.COMITE, given={("zone",): unpublished_zone(micro)}
    )
    assert out.audit["passed"]
    assert all(frame.empty for frame in out.tables.values())
    assert disclosure.audit(micro, out.tables, rule=disclosure.COMITE)["passed"]


def test_an_empty_table_still_joins_a_given_one_with_text_keys() -> None:
    # Two reports of one household in one zone: the given zone table, typed by its
    # rows, keeps working as before (the zone locked hidden stays hidden).
    micro = pd.DataFrame(
        {
            "zone": ["Z1", "Z1"],
            "building_id": ["way/1", "way/2"],
            "household": ["h1", "h1"],
            "person_related": [True, True],
        }
    )
    given = pd.DataFrame({"zone": ["Z1"], "flag": ["s"], "locked": [True], "reason": ["x"]})
    out = disclosure.protect(micro, [("zone",), ("zone", "building_id")], given={("zone",): given})
    zone = out.tables[("zone",)]
    assert zone["flag"].tolist() == ["s"]
    assert np.isnan(zone["n_reports"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)[0])
