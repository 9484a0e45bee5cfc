"""Dates from evidence: a/b/yyyy dates are read day first or month first as their own
values show (issue #15). On the real DansMaRue export of Paris, its ISO dates rewritten
as a US 311 export writes them."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipelines.cli import main
from pipelines.config import load_config
from pipelines.errors import InputError
from pipelines.ingest.stage import ingest_site
from pipelines.osm.buildings import read_osm_bounds
from tests.conftest import RAW, osm_bounds_file

ROOT = Path(__file__).resolve().parents[1]
CSV = ROOT / "data" / "raw" / "paris10" / "dansmarue_paris_2023-08_2024-09.csv"


def _site_with(
    tmp_path: Path,
    dates: pd.Series,
    *,
    frame: pd.DataFrame | None = None,
    extra_columns: dict[str, str] | None = None,
) -> Path:
    """A one-site configuration on the Paris extract whose export has ``dates`` (the
    export itself is ``frame`` when given, and ``extra_columns`` maps more roles)."""
    raw = pd.read_csv(CSV, dtype=str, keep_default_na=False) if frame is None else frame
    raw["datedecl"] = dates.to_numpy()
    tmp_path.mkdir(parents=True, exist_ok=True)
    src = tmp_path / "dansmarue_us.csv"
    raw.to_csv(src, index=False)
    demo = (ROOT / "config" / "demo.toml").read_text("utf-8")
    paris = demo[demo.index('[[sites]]\nid = "paris10"') :]
    paris = paris.replace("data/raw/paris10/dansmarue_paris_2023-08_2024-09.csv", str(src))
    paris = paris.replace("data/raw/paris10/paris10.osm", str(CSV.parent / "paris10.osm"))
    for role, column in (extra_columns or {}).items():
        paris = paris.replace('id = "id_dmr"\n', f'id = "id_dmr"\n{role} = "{column}"\n')
    cfg = tmp_path / "site.toml"
    cfg.write_text(
        f'[project]\nprocessed_dir = "{tmp_path / "out"}"\nmaps_dir = "{tmp_path / "maps"}"\n'
        f'annotations_dir = "{tmp_path / "notes"}"\n\n[params.ingest]\ntoday = "2025-01-01"\n\n'
        + paris,
        encoding="utf-8",
    )
    return cfg


def _ingest(cfg: Path) -> tuple[pd.DataFrame, dict]:
    config = load_config(cfg)
    bbox = read_osm_bounds(CSV.parent / "paris10.osm")
    result = ingest_site(config.sites[0], study_area_bbox=bbox, today=date(2025, 1, 1))
    return result.ingested, result.summary["sources"]["dansmarue"]


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, dict]:
    raw = pd.read_csv(CSV, dtype=str, keep_default_na=False)
    return _ingest(_site_with(tmp_path_factory.mktemp("iso"), raw["datedecl"]))


def test_us_dates_with_am_pm_read_month_first(tmp_path: Path, original: tuple) -> None:
    raw = pd.read_csv(CSV, dtype=str, keep_default_na=False)
    iso = pd.to_datetime(raw["datedecl"])
    us = iso.dt.strftime("%m/%d/%Y") + " 02:30:00 PM"
    ingested, summary = _ingest(_site_with(tmp_path, us))
    before, before_summary = original
    # Every row lands where it did with the ISO dates: same partition, same reports.
    for key in ("rows_in", "accepted", "outside_study_area", "duplicates", "rejected"):
        assert summary[key] == before_summary[key], key
    got = ingested.set_index("report_id")["reported_at"]
    expected = before.set_index("report_id")["reported_at"] + pd.Timedelta(hours=14, minutes=30)
    pd.testing.assert_series_equal(got.sort_index(), expected.sort_index(), check_dtype=False)
    notes = [x for x in summary["file_issues"] if x["reason"] == "dates_month_first"]
    assert len(notes) == 1
    assert "mois en premier" in notes[0]["detail"]
    # The lines named prove it: their second field is above 12.
    assert notes[0]["lines"]
    for line in notes[0]["lines"][:20]:
        assert int(us.iloc[line - 2].split("/")[1]) > 12


def test_day_first_stays_day_first_without_a_note(tmp_path: Path, original: tuple) -> None:
    raw = pd.read_csv(CSV, dtype=str, keep_default_na=False)
    fr = pd.to_datetime(raw["datedecl"]).dt.strftime("%d/%m/%Y %H:%M")
    ingested, summary = _ingest(_site_with(tmp_path, fr))
    before, _ = original
    got = ingested.set_index("report_id")["reported_at"].sort_index()
    pd.testing.assert_series_equal(
        got, before.set_index("report_id")["reported_at"].sort_index(), check_dtype=False
    )
    assert not [x for x in summary["file_issues"] if x["reason"].startswith("dates_")]


def test_ambiguous_dates_read_day_first_with_a_note(tmp_path: Path) -> None:
    """Every date of the export moved to a day ≤ 12: nothing tells the order; the French
    convention is kept and the summary says so."""
    raw = pd.read_csv(CSV, dtype=str, keep_default_na=False)
    iso = pd.to_datetime(raw["datedecl"])
    low = iso.dt.strftime("%m/%Y").radd(((iso.dt.day - 1) % 12 + 1).map("{:02d}/".format))
    ingested, summary = _ingest(_site_with(tmp_path, low))
    notes = [x for x in summary["file_issues"] if x["reason"] == "dates_ambiguous"]
    assert len(notes) == 1
    assert "jour en premier" in notes[0]["detail"]
    assert (ingested["reported_at"].dt.day <= 12).all()
    assert summary["rows_in"] == len(raw)


def test_contradictory_dates_stop_with_the_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = pd.read_csv(CSV, dtype=str, keep_default_na=False)
    mixed = pd.Series(["31/12/2023"] * len(raw))
    mixed.iloc[5] = "12/31/2023"
    cfg = _site_with(tmp_path, mixed)
    with pytest.raises(InputError, match="deux ordres") as err:
        _ingest(cfg)
    assert "lignes 7" in str(err.value)  # row 5 is line 7 (header on line 1)
    assert "« «" not in str(err.value)  # the column is quoted once
    bounds = osm_bounds_file(tmp_path, RAW / "paris10" / "paris10.osm")
    assert main(["-q", "ingest", "--config", str(cfg), "--site", "paris10",
                 "--out-dir", str(tmp_path / "out"), "--bounds", str(bounds)]) == 2  # fmt: skip
    assert "deux ordres" in capsys.readouterr().err


def _two_versions(
    tmp_path: Path,
    raw: pd.DataFrame,
    row: int,
    old: tuple[str, str],
    new: tuple[str, str],
) -> tuple[Any, dict]:
    """Ingest the export ``raw`` (an ``updated`` column mapped as the update date) with
    its ``row`` written twice, ``new`` then ``old`` (subcategory, update date): the
    latest version first in the file, so that only its update date can make it win."""
    versions = []
    for soustype, updated in (new, old):
        version = raw.iloc[[row]].copy()
        version["soustype"], version["updated"] = soustype, updated
        versions.append(version)
    raw = pd.concat([raw.drop(index=row), *versions], ignore_index=True)
    cfg = _site_with(tmp_path, raw["datedecl"], frame=raw, extra_columns={"updated_at": "updated"})
    result = ingest_site(
        load_config(cfg).sites[0],
        study_area_bbox=read_osm_bounds(CSV.parent / "paris10.osm"),
        today=date(2025, 1, 1),
    )
    return result, result.summary["sources"]["dansmarue"]


def test_update_dates_of_a_month_first_export_read_month_first(
    tmp_path: Path, original: tuple
) -> None:
    """The export's update date follows the file's order too: ticket T read twice, its
    versions updated on 01/03/2024 and 02/01/2024 (AM/PM times). Month first, the second
    (1 February) is the latest; read day first (1 March against 2 January) the first one
    would win, and file order would agree with that wrong answer."""
    before, _ = original
    raw = pd.read_csv(CSV, dtype=str, keep_default_na=False)
    iso = pd.to_datetime(raw["datedecl"])
    raw["datedecl"] = iso.dt.strftime("%m/%d/%Y") + " 09:15 AM"
    raw["updated"] = raw["datedecl"]
    ticket = str(before["report_id"].iloc[0])  # "dansmarue:<id_dmr>", in the study area
    row = int(np.flatnonzero(raw["id_dmr"].to_numpy() == ticket.split(":", 1)[1])[0])
    result, summary = _two_versions(
        tmp_path,
        raw,
        row,
        ("version du 3 janvier", "01/03/2024 10:00 AM"),
        ("version du 1er février", "02/01/2024 09:00 AM"),
    )
    kept = result.ingested.set_index("report_id").loc[ticket]
    assert kept["subcategory"] == "version du 1er février"
    history = result.history.set_index("report_id").loc[ticket]
    assert history["reason"] == "newer_update_date"
    assert history["old_subcategory"] == "version du 3 janvier"
    assert pd.Timestamp(history["old_updated_at"]) == pd.Timestamp("2024-01-03 10:00")
    assert summary["updated"] == 1
    assert summary["updated_at_unparseable"] == 0
    assert [x["reason"] for x in summary["file_issues"]].count("dates_month_first") == 1


def test_a_day_of_the_week_before_dates_in_figures_is_read(tmp_path: Path, original: tuple) -> None:
    # « lundi 16/10/2023 » (or « lun., … »): every row was rejected « date illisible »,
    # where the same dates with a month name (« lundi 16 octobre 2023 ») were read.
    raw = pd.read_csv(CSV, dtype=str, keep_default_na=False)
    iso = pd.to_datetime(raw["datedecl"])
    days = ["lundi", "mar.", "Mercredi", "jeudi", "ven.", "samedi", "DIMANCHE"]
    written = iso.dt.day_of_week.map(dict(enumerate(days))) + " " + iso.dt.strftime("%d/%m/%Y")
    ingested, summary = _ingest(_site_with(tmp_path, written))
    before, before_summary = original
    for key in ("rows_in", "accepted", "outside_study_area", "duplicates", "rejected"):
        assert summary[key] == before_summary[key], key
    pd.testing.assert_series_equal(
        ingested.set_index("report_id")["reported_at"].sort_index(),
        before.set_index("report_id")["reported_at"].sort_index(),
        check_dtype=False,
    )


def _slice(n: int = 300) -> pd.DataFrame:
    """The first ``n`` rows of the Paris export (a fast run)."""
    return pd.read_csv(CSV, dtype=str, keep_default_na=False, nrows=n)


def _partition(summary: dict) -> tuple:
    return tuple(
        summary[k] for k in ("rows_in", "accepted", "outside_study_area", "duplicates", "rejected")
    )


@pytest.mark.parametrize("written", ["%y-%m-%d 09:25", "%y/%m/%d"])
def test_year_first_two_digit_years_read_year_first(tmp_path: Path, written: str) -> None:
    # « 23-11-16 09:25 » (16 November 2023) was read day first, 23 November 2016: some
    # rows accepted on a wrong date (those with a day from 15 to 25, in the study years),
    # the others rejected as before the study or in the future, nothing said.
    raw = _slice()
    iso = pd.to_datetime(raw["datedecl"])
    before, before_summary = _ingest(_site_with(tmp_path / "iso", raw["datedecl"], frame=raw))
    ingested, summary = _ingest(
        _site_with(tmp_path / "yf", iso.dt.strftime(written), frame=raw.copy())
    )
    assert _partition(summary) == _partition(before_summary)
    got = ingested.set_index("report_id")["reported_at"].dt.normalize().sort_index()
    expected = before.set_index("report_id")["reported_at"].sort_index()
    pd.testing.assert_series_equal(got, expected, check_dtype=False)
    notes = [x for x in summary["file_issues"] if x["reason"] == "dates_year_first"]
    assert len(notes) == 1
    assert "« datedecl »" in notes[0]["detail"]
    assert "année en premier" in notes[0]["detail"]
    # The lines named are those read day first outside the study's years.
    for line in notes[0]["lines"]:
        day_first = pd.to_datetime(iso.dt.strftime("%y/%m/%d").iloc[line - 2], format="%d/%m/%y")
        assert not pd.Timestamp("2015-01-01") <= day_first <= pd.Timestamp("2025-01-01")


def test_day_first_two_digit_years_stay_day_first(tmp_path: Path) -> None:
    # « 16/11/23 » read year first would be 23 November 2016, inside the study too:
    # nothing tells the year first, the French reading stands, without a note.
    raw = _slice()
    iso = pd.to_datetime(raw["datedecl"])
    ingested, summary = _ingest(_site_with(tmp_path, iso.dt.strftime("%d/%m/%y"), frame=raw))
    assert summary["accepted"] + summary["outside_study_area"] == len(raw)
    got = ingested.set_index("report_id")["reported_at"]
    assert (got.dt.year >= 2023).all()
    assert not [x for x in summary["file_issues"] if x["reason"].startswith("dates_")]


def test_english_weekday_before_us_dates_is_read_month_first(tmp_path: Path) -> None:
    # « Mon 11/20/2023 », « Tue, 11/21/2023 3:05 PM »: every row was rejected « date
    # illisible » (only French days of the week were dropped), and the order of the
    # figures after the day was never seen.
    raw = _slice()
    iso = pd.to_datetime(raw["datedecl"])
    written = iso.dt.strftime("%a %m/%d/%Y")
    written[1::2] = iso.dt.strftime("%a, %m/%d/%Y 3:05 PM")[1::2]
    before, before_summary = _ingest(_site_with(tmp_path / "iso", raw["datedecl"], frame=raw))
    ingested, summary = _ingest(_site_with(tmp_path / "us", written, frame=raw.copy()))
    assert _partition(summary) == _partition(before_summary)
    got = ingested.set_index("report_id")["reported_at"].dt.normalize().sort_index()
    expected = before.set_index("report_id")["reported_at"].sort_index()
    pd.testing.assert_series_equal(got, expected, check_dtype=False)
    assert [x["reason"] for x in summary["file_issues"]].count("dates_month_first") == 1


def test_date_order_sees_the_figures_after_a_weekday() -> None:
    from pipelines.ingest.dates import date_order, parse_dates

    values = pd.Series(["Mon 01/15/2024", "Tue, 01/16/2024 3:05 PM", "lundi 15/01/2024"])
    assert date_order(values.iloc[:2]).order == "month_first"
    assert date_order(values.iloc[2:]).order == "day_first"
    got = parse_dates(values.iloc[:2], month_first=True)
    assert got.tolist() == [pd.Timestamp("2024-01-15"), pd.Timestamp("2024-01-16 15:05")]


def test_closing_before_the_report_is_set_aside_with_a_note(tmp_path: Path) -> None:
    # A closing date before the creation date was kept, only counted by the statistics
    # (n_invalid_delay); now the report is kept, its closing date set aside, and a note
    # names its line and both columns.
    raw = _slice()
    iso = pd.to_datetime(raw["datedecl"])
    before, _ = _ingest(_site_with(tmp_path / "iso", raw["datedecl"], frame=raw))
    ids = "dansmarue:" + raw["id_dmr"]
    a, b, c = np.flatnonzero(ids.isin(before["report_id"]).to_numpy())[:3]  # in the area
    closed = (iso + pd.Timedelta(days=2)).dt.strftime("%d/%m/%Y %H:%M")
    closed.iloc[[a, b]] = (iso.iloc[[a, b]] - pd.Timedelta(days=1)).dt.strftime("%d/%m/%Y")
    closed.iloc[c] = iso.iloc[c].strftime("%d/%m/%Y")  # the same day, no time: not before
    raw["cloture"] = closed.to_numpy()
    cfg = _site_with(
        tmp_path / "closed", raw["datedecl"], frame=raw, extra_columns={"closed_at": "cloture"}
    )
    ingested, summary = _ingest(cfg)
    counted = summary["accepted"] + summary["outside_study_area"] + summary["duplicates"]
    assert counted + summary["updated"] + sum(summary["rejected"].values()) == len(raw)
    assert summary["closed_at_before_report"] == 2
    notes = [x for x in summary["file_issues"] if x["reason"] == "closed_before_report"]
    assert len(notes) == 1
    assert notes[0]["lines"] == [a + 2, b + 2]
    assert "« cloture »" in notes[0]["detail"]
    assert "« datedecl »" in notes[0]["detail"]
    assert f"ligne {a + 2}" in notes[0]["detail"]
    kept = ingested.set_index("report_id")
    assert kept.loc[ids.iloc[[a, b]], "closed_at"].isna().all()
    assert kept.loc[ids.iloc[c], "closed_at"] == pd.Timestamp(iso.iloc[c])
    assert kept["closed_at"].notna().sum() == len(kept) - 2


def test_update_dates_with_two_digit_years_first_are_read_year_first(tmp_path: Path) -> None:
    # The export's update date written « 23-11-20 10:00 » (20 November 2023), as its
    # creation date can be. Before, only the creation date was looked at year first:
    # the update date was read day first (23 November 2020), so a ticket's version
    # updated « 23-11-20 » won over the one updated « 24-01-05 » (24 January 2005),
    # silently, and nothing said how the column was read.
    raw = _slice()
    before, _ = _ingest(_site_with(tmp_path / "iso", raw["datedecl"], frame=raw.copy()))
    raw["updated"] = pd.to_datetime(raw["datedecl"]).dt.strftime("%y-%m-%d 09:25")
    ticket = str(before["report_id"].iloc[0])
    row = int(np.flatnonzero(raw["id_dmr"].to_numpy() == ticket.split(":", 1)[1])[0])
    result, summary = _two_versions(
        tmp_path / "yf",
        raw,
        row,
        ("version de novembre", "23-11-20 10:00"),
        ("version de janvier", "24-01-05 10:00"),
    )
    assert result.ingested.set_index("report_id").loc[ticket, "subcategory"] == (
        "version de janvier"
    )
    history = result.history.set_index("report_id").loc[ticket]
    assert history["reason"] == "newer_update_date"
    assert pd.Timestamp(history["old_updated_at"]) == pd.Timestamp("2023-11-20 10:00")
    (note,) = [x for x in summary["file_issues"] if x["reason"] == "dates_year_first"]
    assert "« updated » lues année en premier" in note["detail"]
