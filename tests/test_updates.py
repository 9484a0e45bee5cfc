"""Updates: a report read again with another content replaces its earlier version.

Built on the real landlord export (``data/raw/bondy/signalements_bailleur.csv``, cp1252,
``;``): an "end of 2024" export is cut from it as the landlord would have written it on
1 January 2025 (the 2024 tickets, those closed later still open), then the whole file
plays the later, cumulative export, with a few more edits of the kind corrections bring
(a status, a description, coordinates moved into or out of the study area). The known
answers come from the file itself, read here with pandas, and from an ingestion of the
untouched file.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines import reports
from pipelines.config import SiteConfig, SourceConfig, load_config
from pipelines.ingest import scrub as _scrub
from pipelines.ingest import stage as ingest
from pipelines.ingest.schema import HISTORY_COLUMNS, UPDATE_REASONS
from pipelines.io import read_csv
from pipelines.osm.buildings import read_osm_bounds
from pipelines.publish import summary
from tests.conftest import RAW, ROOT

EXPORT = RAW / "bondy" / "signalements_bailleur.csv"
TODAY = date(2026, 6, 1)
CUT = pd.Timestamp("2025-01-01")
PERSONAL = ("Nom du demandeur", "Téléphone", "Logement")


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep=";", encoding="cp1252", dtype=str, keep_default_na=False)


def _write(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, sep=";", encoding="cp1252", index=False, lineterminator="\r\n")


def _when(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, format="%d/%m/%Y %H:%M", errors="coerce")


@pytest.fixture(scope="module")
def bondy() -> SiteConfig:
    return load_config(ROOT / "config" / "demo.toml").site("bondy")


@pytest.fixture(scope="module")
def bbox(bondy: SiteConfig) -> tuple[float, float, float, float]:
    return bondy.study_area_bbox or read_osm_bounds(bondy.osm)


def _landlord(bondy: SiteConfig, path: Path | str) -> SourceConfig:
    source = next(s for s in bondy.sources if s.id == "bailleur")
    return dataclasses.replace(source, path=str(path))


def _ingest(
    bondy: SiteConfig, bbox: tuple[float, float, float, float], source: SourceConfig
) -> ingest.IngestResult:
    site = dataclasses.replace(bondy, sources=(source,))
    result = ingest.ingest_site(site, study_area_bbox=bbox, today=TODAY)
    s = result.summary["sources"][source.id]
    assert s["rows_in"] == sum(reports.partition_count(s, k) for k in reports.PARTITION)
    assert reports.check_partition(result.summary["sources"]) == []
    assert len(result.history) == s["updated"]
    assert list(result.history.columns) == list(HISTORY_COLUMNS)
    assert len(result.ingested) == s["accepted"]
    assert len(result.outside) == s["outside_study_area"]
    return result


@pytest.fixture(scope="module")
def whole(bondy: SiteConfig, bbox: tuple[float, float, float, float]) -> ingest.IngestResult:
    """The untouched export, alone."""
    return _ingest(bondy, bbox, _landlord(bondy, EXPORT))


@dataclasses.dataclass
class Months:
    earlier: Path
    later: Path
    early: pd.DataFrame  # the earlier export as written
    late: pd.DataFrame  # the later export as written
    reopened: set[str]  # tickets open in the earlier export, closed in the later
    closed_since: list[str]  # those of them that are valid (accepted or outside)
    status_only: str  # a ticket whose status alone changes
    described: str  # a ticket whose description changes (the old one had a phone)
    moved_in: str  # outside the study area, then inside
    moved_out: str  # inside, then outside
    result: ingest.IngestResult


@pytest.fixture(scope="module")
def months(
    bondy: SiteConfig,
    bbox: tuple[float, float, float, float],
    whole: ingest.IngestResult,
    tmp_path_factory: pytest.TempPathFactory,
) -> Months:
    folder = tmp_path_factory.mktemp("months")
    raw = _read(EXPORT)
    created = _when(raw["Date de création"])
    # The export of 1 January 2025: the tickets created before, as they stood that day.
    early = raw[(created < CUT).to_numpy()].copy()
    reopened = (_when(early["Date de clôture"]) >= CUT).to_numpy()
    early.loc[reopened, "Statut"] = "En cours"
    early.loc[reopened, "Date de clôture"] = ""
    accepted = set(whole.ingested["report_id"].str.removeprefix("bailleur:"))
    outside = set(whole.outside["report_id"].str.removeprefix("bailleur:"))
    counts = raw["N° ticket"].value_counts()
    single = set(counts.index[counts == 1])
    closed_since = sorted(set(early.loc[reopened, "N° ticket"]) & (accepted | outside))
    # Other tickets of the earlier export that the later one corrects, each once in
    # the file, closed before the cut (so they are unchanged otherwise).
    untouched = early[~reopened & early["N° ticket"].isin(single)]
    inside_rows = untouched[untouched["N° ticket"].isin(accepted)]
    with_coordinates = inside_rows[inside_rows["Latitude"] != ""]
    status_only = str(inside_rows["N° ticket"].iloc[0])
    phoned = inside_rows[inside_rows["Description"].str.contains(r"\d\d \d\d \d\d \d\d")]
    described = str(phoned["N° ticket"].iloc[0])
    moved_out = str(with_coordinates["N° ticket"].iloc[1])
    moved_in = str(untouched[untouched["N° ticket"].isin(outside)]["N° ticket"].iloc[0])
    assert len({status_only, described, moved_out, moved_in}) == 4
    # The later export: the whole file, with those corrections.
    late = raw.copy()
    row = {t: late.index[late["N° ticket"] == t][0] for t in (status_only, described)}
    late.loc[row[status_only], "Statut"] = "Ouvert"
    late.loc[row[described], "Description"] = "Fuite réparée, dossier suivi par le gardien."
    mover_in = late.index[late["N° ticket"] == moved_in][0]
    mover_out = late.index[late["N° ticket"] == moved_out][0]
    an_inside = with_coordinates.iloc[0]
    far = late.loc[mover_in, ["Latitude", "Longitude"]].tolist()  # outside the area
    late.loc[mover_in, ["Latitude", "Longitude"]] = [an_inside["Latitude"], an_inside["Longitude"]]
    late.loc[mover_out, ["Latitude", "Longitude"]] = far
    earlier, later = folder / "signalements_bailleur.csv", folder / "signalements_bailleur_2.csv"
    _write(early, earlier)
    _write(late, later)
    result = _ingest(bondy, bbox, _landlord(bondy, folder / "signalements_bailleur*.csv"))
    return Months(
        earlier,
        later,
        early,
        late,
        set(early.loc[reopened, "N° ticket"]),
        closed_since,
        status_only,
        described,
        moved_in,
        moved_out,
        result,
    )


def _line(path: Path, ticket: str) -> int:
    """The first physical line (header = 1) of a ticket in a file written by
    :func:`_write` (the first copy of a ticket stands for its copies)."""
    lines = path.read_bytes().decode("cp1252").split("\r\n")
    return next(k + 1 for k, text in enumerate(lines) if text.startswith(ticket + ";"))


def test_counts_add_up(months: Months, whole: ingest.IngestResult) -> None:
    s, w = months.result.summary["sources"]["bailleur"], whole.summary["sources"]["bailleur"]
    assert len(months.closed_since) >= 50  # the real file has them: the cut is not idle
    n_updates = len(months.closed_since) + 4
    assert s["rows_in"] == len(months.early) + len(months.late)
    assert s["updated"] == n_updates
    # Same reports kept (one row each); one moved in, one moved out.
    assert s["accepted"] == w["accepted"]
    assert s["outside_study_area"] == w["outside_study_area"]
    # A rejected row of the earlier export is rejected again only if it changed.
    early_ids = set(months.early["N° ticket"])
    rejected_ids = [
        json.loads(r)["N° ticket"]
        for r in whole.rejected["original_row"]
        if r and json.loads(r).get("N° ticket") in early_ids
    ]
    changed_rejected = sum(1 for t in rejected_ids if t in months.reopened)
    assert sum(s["rejected"].values()) == sum(w["rejected"].values()) + changed_rejected
    # Everything else read in the earlier export is read again unchanged.
    assert s["duplicates"] == w["duplicates"] + len(months.early) - n_updates - changed_rejected
    assert s["updates"] == {
        "by_reason": {"later_closing_date": len(months.closed_since), "later_in_file_order": 4},
        "moved_into_study_area": 1,
        "moved_out_of_study_area": 1,
    }
    totals = months.result.summary["totals"]
    assert totals["updated"] == n_updates
    assert months.result.summary["partition"] == (
        "rows_in = accepted + updated + duplicates + rejected + outside_study_area"
    )


def test_closures_are_kept(months: Months) -> None:
    ingested = months.result.ingested.set_index("report_id")
    late = months.late.drop_duplicates("N° ticket").set_index("N° ticket")
    for ticket in months.closed_since:
        rid = f"bailleur:{ticket}"
        where = ingested if rid in ingested.index else months.result.outside.set_index("report_id")
        row = where.loc[rid]
        assert row["source_file"] == str(months.later)
        assert row["source_line"] == _line(months.later, ticket)
        if where is ingested:
            assert row["closed_at"] == _when(pd.Series([late.loc[ticket, "Date de clôture"]]))[0]
            assert row["status"] == late.loc[ticket, "Statut"] == "Clôturé"
    history = months.result.history.set_index("report_id")
    closed = history.loc[[f"bailleur:{t}" for t in months.closed_since]]
    assert (closed["reason"] == "later_closing_date").all()
    assert (closed["changed_fields"] == "status;closed_at").all()
    assert (closed["old_status"] == "En cours").all()
    assert closed["old_closed_at"].isna().all()
    assert (closed["source_file"] == str(months.earlier)).all()
    assert (closed["replaced_by_file"] == str(months.later)).all()
    for ticket in months.closed_since[:20]:
        h = history.loc[f"bailleur:{ticket}"]
        assert h["source_line"] == _line(months.earlier, ticket)
        assert h["replaced_by_line"] == _line(months.later, ticket)
        assert "date de clôture plus récente" in h["reason_fr"]
        # What the earlier version did not have is not filled in from the later one.
        assert pd.isna(h["old_description"])
        assert pd.isna(h["old_lat"])


def test_status_and_description_updates(months: Months) -> None:
    ingested = months.result.ingested.set_index("report_id")
    history = months.result.history.set_index("report_id")
    rid = f"bailleur:{months.status_only}"
    assert ingested.loc[rid, "status"] == "Ouvert"
    assert history.loc[rid, "changed_fields"] == "status"
    assert history.loc[rid, "old_status"] == "Clôturé"
    assert history.loc[rid, "reason"] == "later_in_file_order"
    rid = f"bailleur:{months.described}"
    old = months.early.set_index("N° ticket").loc[months.described, "Description"]
    assert ingested.loc[rid, "description"] == "Fuite réparée, dossier suivi par le gardien."
    assert history.loc[rid, "changed_fields"] == "description"
    # The old description is kept scrubbed, as accepted rows are: its phone is gone.
    assert history.loc[rid, "old_description"] == _scrub.scrub_text(old)
    phone = pd.Series([old]).str.extract(r"((?:\+33 |0)\d(?:[ .]?\d\d){4})")[0][0]
    assert isinstance(phone, str)
    assert phone in old
    assert phone not in history.loc[rid, "old_description"]


def test_moves_into_and_out_of_the_study_area(months: Months, bbox: tuple) -> None:
    west, south, east, north = bbox
    ingested = months.result.ingested.set_index("report_id")
    outside = months.result.outside.set_index("report_id")
    history = months.result.history.set_index("report_id")
    rid_in, rid_out = f"bailleur:{months.moved_in}", f"bailleur:{months.moved_out}"
    # Moved in: accepted at its new place; the outside row is history, not "outside".
    assert rid_in in ingested.index
    assert rid_in not in outside.index
    assert west <= ingested.loc[rid_in, "lon"] <= east
    assert south <= ingested.loc[rid_in, "lat"] <= north
    h = history.loc[rid_in]
    assert h["study_area_change"] == "moved_in"
    assert h["changed_fields"] == "lon;lat"
    assert not (west <= h["old_lon"] <= east and south <= h["old_lat"] <= north)
    assert "entre dans la zone d'étude" in h["reason_fr"]
    # Moved out: counted outside at its new place, the in-area version in the history.
    assert rid_out in outside.index
    assert rid_out not in ingested.index
    assert not (west <= outside.loc[rid_out, "lon"] <= east)
    h = history.loc[rid_out]
    assert h["study_area_change"] == "moved_out"
    assert west <= h["old_lon"] <= east
    assert south <= h["old_lat"] <= north


def test_history_holds_no_personal_data(months: Months, tmp_path: Path, bondy: SiteConfig) -> None:
    config_text = (ROOT / "config" / "demo.toml").read_text(encoding="utf-8")
    config_text = config_text.replace(
        "data/raw/bondy/signalements_bailleur*.csv", f"{months.earlier.parent}/signalements_*.csv"
    )
    (tmp_path / "demo.toml").write_text(config_text, encoding="utf-8")
    config = load_config(tmp_path / "demo.toml")
    result = ingest.run(
        config, "bondy", tmp_path / "out", bounds=read_osm_bounds(config.site("bondy").osm)
    )
    text = (tmp_path / "out" / "report_history.csv").read_text(encoding="utf-8-sig")
    written = read_csv(tmp_path / "out" / "report_history.csv")
    assert len(written) == result.summary["sources"]["bailleur"]["updated"] > 0
    assert list(written.columns) == list(HISTORY_COLUMNS)
    assert set(written["reason"]) <= set(UPDATE_REASONS)
    early = months.early
    history_ids = set(written["report_id"].str.removeprefix("bailleur:"))
    for column in PERSONAL:
        for value in early.loc[early["N° ticket"].isin(history_ids), column]:
            if len(value) >= 4:
                assert value not in text, (column, value)
    # The run summary counts the updates too, and adds up.
    run = summary.build_summary(config, "bondy", {"ingest": result.summary})
    assert run["partition"] == reports.PARTITION_TEXT
    assert run["totals"]["updated"] == len(written)


def test_content_dates_win_over_file_order(
    bondy: SiteConfig, bbox: tuple, whole: ingest.IngestResult, tmp_path: Path
) -> None:
    # The file read last holds the older state: its ticket closed earlier, or reopened.
    raw = _read(EXPORT)
    accepted = whole.ingested["report_id"].str.removeprefix("bailleur:")
    closed = raw[(raw["Statut"] == "Clôturé") & raw["N° ticket"].isin(accepted)]
    closed = closed[~closed["N° ticket"].duplicated(keep=False)].iloc[:3]
    first, second = closed.copy(), closed.copy()
    first_close = _when(closed["Date de clôture"])
    # Ticket 0 closed a day earlier in the second file; ticket 1 reopened in it; ticket
    # 2 the same in both.
    second.iloc[0, second.columns.get_loc("Date de clôture")] = (
        first_close.iloc[0] - pd.Timedelta(days=1)
    ).strftime("%d/%m/%Y %H:%M")
    second.iloc[1, second.columns.get_loc("Statut")] = "En cours"
    second.iloc[1, second.columns.get_loc("Date de clôture")] = ""
    first["Mise à jour"] = closed["Date de clôture"]
    second["Mise à jour"] = first["Mise à jour"]
    later_update = (first_close.iloc[1] + pd.Timedelta(days=30)).strftime("%d/%m/%Y %H:%M")
    second.iloc[1, second.columns.get_loc("Mise à jour")] = later_update
    _write(first, tmp_path / "export_a.csv")
    _write(second, tmp_path / "export_b.csv")
    source = _landlord(bondy, tmp_path / "export_*.csv")
    ids = closed["N° ticket"].tolist()

    # Without an update date: the closing date decides, never lost to the later file.
    result = _ingest(bondy, bbox, source)
    s = result.summary["sources"]["bailleur"]
    assert (s["rows_in"], s["accepted"], s["updated"], s["duplicates"]) == (6, 3, 2, 1)
    kept = result.ingested.set_index("report_id")
    for ticket in ids:
        assert kept.loc[f"bailleur:{ticket}", "source_file"] == str(tmp_path / "export_a.csv")
    history = result.history.set_index("report_id")
    assert history["source_file"].eq(str(tmp_path / "export_b.csv")).all()
    assert (history["reason"] == "later_closing_date").all()
    assert history.loc[f"bailleur:{ids[0]}", "old_closed_at"] == first_close.iloc[0] - pd.Timedelta(
        days=1
    )
    assert history.loc[f"bailleur:{ids[1]}", "old_status"] == "En cours"

    # With the export's update date mapped: the reopened ticket's later update wins.
    with_update = dataclasses.replace(
        source, columns={**source.columns, "updated_at": "Mise à jour"}
    )
    result = _ingest(bondy, bbox, with_update)
    s = result.summary["sources"]["bailleur"]
    assert (s["rows_in"], s["accepted"], s["updated"], s["duplicates"]) == (6, 3, 2, 1)
    assert s["updates"]["by_reason"] == {"later_closing_date": 1, "newer_update_date": 1}
    kept = result.ingested.set_index("report_id")
    reopened = kept.loc[f"bailleur:{ids[1]}"]
    assert reopened["source_file"] == str(tmp_path / "export_b.csv")
    assert reopened["status"] == "En cours"
    assert pd.isna(reopened["closed_at"])
    h = result.history.set_index("report_id").loc[f"bailleur:{ids[1]}"]
    assert h["reason"] == "newer_update_date"
    assert h["changed_fields"] == "status;closed_at;updated_at"
    assert h["old_closed_at"] == first_close.iloc[1]
    assert h["old_updated_at"] == first_close.iloc[1]
    assert kept.loc[f"bailleur:{ids[0]}", "source_file"] == str(tmp_path / "export_a.csv")
    assert s["updated_at_unparseable"] == 0


def test_identical_exports_are_duplicates_only(
    bondy: SiteConfig, bbox: tuple, whole: ingest.IngestResult, tmp_path: Path
) -> None:
    data = EXPORT.read_bytes()
    for name in ("signalements_1.csv", "signalements_2.csv"):
        (tmp_path / name).write_bytes(data)
    result = _ingest(bondy, bbox, _landlord(bondy, tmp_path / "signalements_*.csv"))
    s, w = result.summary["sources"]["bailleur"], whole.summary["sources"]["bailleur"]
    assert s["updated"] == 0
    assert len(result.history) == 0
    assert s["duplicates"] == w["duplicates"] + w["rows_in"]
    assert (s["accepted"], s["outside_study_area"]) == (w["accepted"], w["outside_study_area"])
    assert np.array_equal(
        result.ingested["report_id"].to_numpy(), whole.ingested["report_id"].to_numpy()
    )


def test_check_partition_counts_updates() -> None:
    good = {"rows_in": 10, "accepted": 5, "updated": 2, "duplicates": 1, "rejected": {"x": 1}}
    good["outside_study_area"] = 1
    assert reports.check_partition({"s": good}) == []
    assert reports.check_partition({"s": {**good, "updated": 3}}) == ["s"]
    old_format = {k: v for k, v in good.items() if k != "updated"}
    assert reports.check_partition({"s": {**old_format, "rows_in": 8}}) == []


def test_placeholder_ids_are_no_ids_and_never_versions(
    bondy: SiteConfig, bbox: tuple, whole: ingest.IngestResult, tmp_path: Path
) -> None:
    # An export writes « 0 », « sans objet »… where a ticket has no number: read as an
    # id, the distinct reports sharing it were taken for versions of the first and
    # collapsed into one, the others listed in report_history.csv only.
    raw = _read(EXPORT)
    accepted = set(whole.ingested["report_id"].str.removeprefix("bailleur:"))
    counts = raw["N° ticket"].value_counts()
    ok = raw[raw["N° ticket"].isin(accepted) & raw["N° ticket"].map(counts).eq(1)]
    placeholders = ["0", "0", "0", "00000", "00000", "sans objet", "Sans objet", "N.C.", "?"]
    rows = ok.index[: len(placeholders)]
    edited = raw.copy()
    edited.loc[rows, "N° ticket"] = placeholders
    # A real id's legitimate update still is one: the same ticket again, closed later.
    real = ok.iloc[len(placeholders)]
    later = real.copy()
    later["Statut"] = "Clôturé"
    later["Date de clôture"] = "28/12/2025 09:00"
    # And the very same row twice, placeholder and all: a duplicate, as without an id.
    twice = edited.loc[[rows[0]]]
    edited = pd.concat([edited, later.to_frame().T, twice], ignore_index=True)
    path = tmp_path / "signalements_bailleur.csv"
    _write(edited, path)
    result = _ingest(bondy, bbox, _landlord(bondy, path))
    s, w = result.summary["sources"]["bailleur"], whole.summary["sources"]["bailleur"]
    assert s["rows_in"] == w["rows_in"] + 2
    assert s["updated"] == 1
    assert result.history["report_id"].tolist() == [f"bailleur:{real['N° ticket']}"]
    assert s["duplicates"] == w["duplicates"] + 1
    assert s["accepted"] == w["accepted"]  # each placeholder row a report of its own
    ids = result.ingested["report_id"].str.removeprefix("bailleur:")
    assert not ids.isin(placeholders).any()
    lines = (rows + 2).tolist()  # header = line 1
    (note,) = [i for i in s["file_issues"] if i["reason"] == "placeholder_ids"]
    # « ? » is a missing-value spelling already: read as no id, not noted.
    assert note["lines"] == [*lines[:-1], len(edited) + 1]
    assert note["detail"].startswith("9 ligne(s) ont pour identifiant une valeur de remplissage")
    assert "« 0 », « 00000 », « sans objet », « Sans objet », « N.C. »" in note["detail"]
    assert "non comme une mise à jour" in note["detail"]
