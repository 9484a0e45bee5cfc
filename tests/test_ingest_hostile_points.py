"""The point column of the real DansMaRue export of Paris, rewritten as a French
spreadsheet or a GIS tool writes it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tests.test_dates_evidence import _ingest, _site_with, _slice


def test_points_written_with_decimal_commas_or_as_wkt_are_read(tmp_path: Path) -> None:
    # « 48,8812 ; 2,3344 » (a French spreadsheet's decimal commas), « 48,8812, 2,3344 »,
    # « 48,8812 2,3344 », « (48,8812, 2,3344) » and « POINT (2.3344 48.8812) ». Before,
    # every such row was rejected « Coordonnées illisibles » : a whole export written so
    # lost all its reports.
    raw = _slice(60)
    before, before_summary = _ingest(_site_with(tmp_path / "as_is", raw["datedecl"], frame=raw))
    points = raw["geo_point_2d"].str.extract(r"'lon':\s*([-\d.]+),\s*'lat':\s*([-\d.]+)")
    lon, lat = points[0].str.replace(".", ","), points[1].str.replace(".", ",")
    forms = [
        lat + " ; " + lon,
        lat + ", " + lon,
        lat + " " + lon,
        "(" + lat + ", " + lon + ")",
        "POINT (" + points[0] + " " + points[1] + ")",
    ]
    written = raw.copy()
    written["geo_point_2d"] = [forms[k % len(forms)][k] for k in range(len(raw))]
    got, summary = _ingest(_site_with(tmp_path / "fr", written["datedecl"], frame=written))
    assert "unparseable_coordinates" not in summary["rejected"]
    for key in ("rows_in", "accepted", "outside_study_area", "duplicates"):
        assert summary[key] == before_summary[key], key
    pd.testing.assert_frame_equal(
        got.set_index("report_id")[["lat", "lon"]].sort_index(),
        before.set_index("report_id")[["lat", "lon"]].sort_index(),
    )
