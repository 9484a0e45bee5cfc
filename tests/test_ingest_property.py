"""Property: garbage never crashes ingestion, and every row is accounted for."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.config import DEFAULT_PARAMS, SiteConfig, SourceConfig
from pipelines.ingest import stage as ingest

HEADER = [
    "N° ticket",
    "Date",
    "Catégorie",
    "Description",
    "Adresse",
    "Latitude",
    "Longitude",
    "Nom",
]
COLUMNS = {
    "id": "N° ticket",
    "date": "Date",
    "category": "Catégorie",
    "description": "Description",
    "address": "Adresse",
    "lat": "Latitude",
    "lon": "Longitude",
}

cells = st.one_of(
    st.just(""),
    st.text(max_size=30),
    st.text(alphabet="0123456789/:-., ", max_size=20),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(
        [
            "01/02/2024 10:00",
            "2024-02-01T10:00:00+01:00",
            "45383",
            "31/02/2024",
            "48,91",
            "2,485",
            "NA",
            "null",
            "Fuite",
            "06 12 34 56 78",
            '"',
            ";",
            "\n",
            "\r\n",
            "\x00",
            "é\u200b",
        ]
    ),
)
rows = st.lists(st.lists(cells, min_size=len(HEADER), max_size=len(HEADER)), max_size=25)


def _site(path: Path, separator: str | None) -> SiteConfig:
    source = SourceConfig(
        id="g",
        kind="reports",
        path=str(path),
        format="csv",
        columns=COLUMNS,
        separator=separator,
        personal_columns=("Nom",),
    )
    return SiteConfig(id="t", name="t", osm="", sources=(source,), params=DEFAULT_PARAMS)


def _check(result: ingest.IngestResult) -> dict:
    s = result.summary["sources"]["g"]
    parts = (
        s["accepted"]
        + s["updated"]
        + s["duplicates"]
        + sum(s["rejected"].values())
        + s["outside_study_area"]
    )
    assert s["rows_in"] == parts
    assert len(result.history) == s["updated"]
    assert len(result.ingested) == s["accepted"]
    assert len(result.outside) == s["outside_study_area"]
    assert (result.rejected["source_line"] > 0).sum() == sum(s["rejected"].values())
    for original in result.rejected["original_row"]:
        if original:
            assert "Nom" not in json.loads(original)
    assert result.ingested["report_id"].is_unique
    return s


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=rows,
    sep=st.sampled_from([";", ",", "\t"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
)
def test_garbage_rows_are_accounted_for(rows: list[list[str]], sep: str, encoding: str) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=sep, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    data = buffer.getvalue().encode(encoding, errors="replace")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "garbage.csv"
        path.write_bytes(data)
        result = ingest.ingest_site(
            _site(path, sep),
            study_area_bbox=(2.4779, 48.90676, 2.49111, 48.91278),
            today=date(2025, 1, 1),
        )
    s = _check(result)
    # Every row written is well formed: it is counted, or skipped as blank (all cells
    # blank); a file left with no row at all is a file-level issue.
    if s["file_details"]:
        assert s["rows_in"] + s["file_details"][0]["blank_rows_skipped"] == len(rows)
    else:
        assert s["rows_in"] == 0
        assert s["file_issues"][0]["reason"] == "empty_file"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(st.text(max_size=60), max_size=15))
def test_raw_garbage_lines_never_crash(lines: list[str]) -> None:
    text = ";".join(HEADER) + "\n" + "\n".join(lines)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "garbage.csv"
        path.write_bytes(text.encode("utf-8", errors="replace"))
        result = ingest.ingest_site(
            _site(path, ";"),
            study_area_bbox=(2.4779, 48.90676, 2.49111, 48.91278),
            today=date(2025, 1, 1),
        )
    _check(result)
