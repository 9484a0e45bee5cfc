"""Report ids written with and without leading zeros: two exports of the same tickets,
one padding its numbers to eight digits and one not (or saved again by Excel, which
drops the zeros), on real DansMaRue rows of Paris 10e."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pandas as pd

from pipelines.config import load_config
from pipelines.ingest import stage as ingest
from tests.conftest import RAW, ROOT

PARIS_BBOX = (2.3432, 48.87717, 2.3541, 48.88119)  # the extract's bounds (data/raw/README)


def _run(*paths: Path) -> ingest.IngestResult:
    site = load_config(ROOT / "config" / "demo.toml").site("paris10")
    pattern = str(paths[0]) if len(paths) == 1 else str(paths[0].parent / "*.csv")
    source = dataclasses.replace(site.sources[0], path=pattern)
    site = dataclasses.replace(site, sources=(source,))
    return ingest.ingest_site(site, study_area_bbox=PARIS_BBOX, today=date(2025, 1, 1))


def _exports(tmp_path: Path) -> tuple[Path, Path, pd.DataFrame]:
    """40 real rows with their ticket numbers as ids: ``a.csv`` as written, ``b.csv``
    (the next export) padded to eight digits, one ticket's subcategory changed."""
    rows = pd.read_csv(
        RAW / "paris10" / "dansmarue_paris_2023-08_2024-09.csv",
        dtype=str,
        keep_default_na=False,
        nrows=40,
    )
    rows["id_dmr"] = rows["numero"]
    assert not rows["numero"].str.startswith("0").any()
    folder = tmp_path / "exports"
    folder.mkdir()
    rows.to_csv(folder / "a.csv", index=False)
    padded = rows.assign(id_dmr=rows["numero"].str.zfill(8))
    padded.loc[3, "soustype"] = "Autre sous-type, reclassé"
    padded.to_csv(folder / "b.csv", index=False)
    return folder / "a.csv", folder / "b.csv", rows


def test_a_ticket_number_written_with_and_without_zeros_is_one_report(tmp_path: Path) -> None:
    # Read as written, « 00036305 » and « 36305 » were two reports: all 40 tickets
    # counted twice (80 reports), the changed one never an update.
    a, b, rows = _exports(tmp_path)
    result = _run(a, b)
    s = result.summary["sources"]["dansmarue"]

    assert s["rows_in"] == 80
    assert s["accepted"] + s["outside_study_area"] == 40
    assert s["updated"] == 1
    assert s["duplicates"] == 39
    assert s["rows_in"] == (
        s["accepted"] + s["updated"] + s["duplicates"] + s["outside_study_area"]
        + sum(s["rejected"].values())
    )  # fmt: skip
    kept = pd.concat([result.ingested, result.outside])
    # Spelled as first read (a.csv), the changed ticket's version from b.csv.
    assert sorted(kept["report_id"]) == sorted("dansmarue:" + rows["numero"])
    (old,) = result.history.itertuples()
    assert old.report_id == "dansmarue:" + rows.at[3, "numero"]
    assert (Path(old.source_file).name, old.source_line) == ("a.csv", 5)
    assert (Path(old.replaced_by_file).name, old.replaced_by_line) == ("b.csv", 5)
    assert old.old_subcategory == rows.at[3, "soustype"]
    (note,) = [i for i in s["file_issues"] if i["reason"] == "ids_zero_padded"]
    assert note["file"] == str(b)
    assert note["lines"] == list(range(2, 42))
    assert f"« {rows.at[0, 'numero'].zfill(8)} » lu « {rows.at[0, 'numero']} »" in note["detail"]


def test_an_export_padded_throughout_keeps_its_ids_as_written(tmp_path: Path) -> None:
    _, b, rows = _exports(tmp_path)
    result = _run(b)
    s = result.summary["sources"]["dansmarue"]

    assert s["duplicates"] == s["updated"] == 0
    kept = pd.concat([result.ingested, result.outside])
    assert sorted(kept["report_id"]) == sorted("dansmarue:" + rows["numero"].str.zfill(8))
    assert not [i for i in s["file_issues"] if i["reason"] == "ids_zero_padded"]
