"""The action register (issue 17) on the real Bondy buildings: every bad row set aside
with its French reason and the rows adding up, French spellings read, the round trip
through a spreadsheet (a status changed, a step back refused, a reopening flagged, a
row removed, the history only ever appended to), drafts from the map's notes, the
template, the configuration's partners, and the make graph: a new register re-runs the
actions stage and its readers only."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import openpyxl
import pandas as pd
import pytest
import shapely

from pipelines import stages
from pipelines.actions import HEADERS, STATUSES, draft_id
from pipelines.actions import run as run_actions
from pipelines.actions.history import HISTORY_COLUMNS, read_history
from pipelines.actions.readers import read_register
from pipelines.actions.template import TEMPLATE_FILES, write_template
from pipelines.annotations.stage import run as run_annotations
from pipelines.config import load_config
from pipelines.config.actions import ActionSettings
from pipelines.crs import WGS84
from pipelines.errors import ConfigError
from pipelines.ingest import scrub_series
from pipelines.io import read_csv
from tests.conftest import bondy_config

TODAY = "2025-09-01"
T1 = pd.Timestamp("2025-09-01 08:00", tz="UTC")


# --------------------------------------------------------------------------- the site
@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, bondy: gpd.GeoDataFrame) -> dict[str, Any]:
    """The real Bondy footprints as buildings.parquet, two hotspot zones made of real
    buildings (Z2 split from an older Z0), and a few reports: what the stage reads."""
    root = tmp_path_factory.mktemp("actions_site")
    processed = root / "processed" / "bondy"
    processed.mkdir(parents=True)
    buildings = bondy.reset_index(drop=True)
    buildings.to_parquet(processed / "buildings.parquet")
    ids = buildings["building_id"].astype(str).tolist()
    z1, z2 = ids[10:13], ids[20:24]
    zones = gpd.GeoDataFrame(
        {
            "zone_id": ["Z1", "Z2"],
            "building_ids": [z1, z2],
            "ancestor_zone_ids": [[], ["Z0"]],
            "status": ["stable", "scindée"],
        },
        geometry=[
            shapely.union_all(buildings.geometry.iloc[10:13].to_numpy()).convex_hull,
            shapely.union_all(buildings.geometry.iloc[20:24].to_numpy()).convex_hull,
        ],
        crs=WGS84,
    )
    zones.to_parquet(processed / "zones.parquet")
    reports = gpd.GeoDataFrame(
        {
            "report_id": [f"r{k}" for k in range(6)],
            "building_id": [ids[0], ids[0], ids[1], ids[2], ids[10], None],
            "reported_at": pd.to_datetime(
                ["2025-01-03", "2025-02-10", "2025-03-01", "2025-04-20", "2025-05-05", "2025-05-06"]
            ),
            "category": ["ascenseur", "ascenseur", "proprete", "occupation", "nuisibles", "autre"],
            "source_kind": "reports",
        },
        geometry=[None] * 6,
        crs=WGS84,
    )
    reports.to_parquet(processed / "reports.parquet")
    return {"root": root, "processed": processed, "ids": ids, "buildings": buildings}


def _config(tmp_path: Path, **actions: Any) -> Any:
    config = bondy_config(tmp_path, annotation_tags=("à surveiller", "action"))
    params: dict[str, Any] = {"ingest": {"today": TODAY}}
    if actions:
        params["actions"] = actions
    return replace(config, sites=(replace(config.sites[0], params=params),))


def _write_xlsx(path: Path, rows: list[dict[str, Any]]) -> Path:
    """A register as an analyst saves it from Excel: French headers, one row per action."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    headers = list(HEADERS)
    sheet.append(headers)
    for row in rows:
        sheet.append([row.get(h) for h in headers])
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def _write_csv(path: Path, lines: list[str]) -> Path:
    """A register saved as « CSV UTF-8 (séparateur : point-virgule) »: BOM, ``;``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\ufeff" + "\r\n".join([";".join(HEADERS), *lines]) + "\r\n").encode())
    return path


def _run(
    site: dict[str, Any],
    tmp_path: Path,
    *,
    now: pd.Timestamp = T1,
    config: Any = None,
    annotations: Path | None = None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, dict[str, Any]]:
    """Run the actions stage on ``tmp_path/register`` (archive in ``tmp_path/archive``)."""
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    processed = site["processed"]
    run_actions(
        config or _config(tmp_path),
        "bondy",
        buildings_path=processed / "buildings.parquet",
        zones_path=processed / "zones.parquet",
        reports_path=processed / "reports.parquet",
        annotations_path=annotations,
        out_dir=out,
        folder=tmp_path / "register",
        archive_dir=tmp_path / "archive",
        now=now,
    )
    actions = gpd.read_parquet(out / "actions.parquet")
    rejected = read_csv(out / "actions_rejected.csv", dtype=str)
    summary = json.loads((out / "actions_summary.json").read_text(encoding="utf-8"))
    return actions, rejected, summary


def _good(action_id: str, building: str, **more: Any) -> dict[str, Any]:
    return {
        "identifiant": action_id, "date_comite": "12/03/2025", "type_comite": "comité technique",
        "batiments": building, "probleme": "Panne répétée", "niveau": "opérationnelle",
        "type_action": "travaux", "responsabilite": "bailleur", "partenaire_pilote": "bailleur",
        "echeance": "30/06/2025", "statut": "décidée", "date_statut": "12/03/2025", **more,
    }  # fmt: skip


# --------------------------------------------------------------------------- bad input
def test_each_bad_row_is_set_aside_with_its_reason_and_the_rows_add_up(
    site: dict[str, Any], tmp_path: Path
) -> None:
    ids = site["ids"]
    rows = [
        _good("A-1", ids[0]),  # line 2: kept
        _good("A-2", ids[1], statut="terminé à moitié"),  # 3: unknown status
        _good("A-3", ids[2], niveau="stratégique"),  # 4: unknown level
        _good("A-4", ids[3], probleme="version 1"),  # 5: conflicting duplicate…
        _good("A-4", ids[3], probleme="version 2"),  # 6: …of line 5
        _good("A-5", ids[4]),  # 7: kept…
        _good("A-5", ids[4]),  # 8: …and its identical duplicate, merged
        _good("A-6", f"{ids[5]};way/1"),  # 9: way/1 is no building of Bondy
        _good("A-7", ids[6], echeance="01/01/2025"),  # 10: due before the committee
        _good("A-8", ""),  # 11: no target
        _good("A-9", ids[7], date_comite="31/02/2025"),  # 12: no such date
        _good("A-10", ids[8], partenaire_pilote="Préfecture"),  # 13: not a partner of the site
        {**_good("A-11", ""), "zone": "Z9"},  # 14: no such zone
        _good("", ids[9]),  # 15: no id
    ]
    _write_xlsx(tmp_path / "register" / "actions.xlsx", rows)
    # A second file, CSV: one good row, one ragged line, a quote left open (told as
    # such, not as « 15 champs au lieu de 15 : séparateur ? »), one good row after it.
    good = ";".join(str(_good("C-1", ids[30]).get(h, "")) for h in HEADERS)
    quoted = ";".join(str(_good("C-3", ids[31], probleme='"Fuite').get(h, "")) for h in HEADERS)
    after = ";".join(str(_good("C-4", ids[32]).get(h, "")) for h in HEADERS)
    _write_csv(tmp_path / "register" / "complement.csv", [good, "C-2;trop;peu", quoted, after])
    actions, rejected, summary = _run(site, tmp_path)

    expected = {
        ("actions.xlsx", 3): ("unknown_status", "statut"),
        ("actions.xlsx", 4): ("unknown_level", "niveau"),
        ("actions.xlsx", 5): ("conflicting_duplicate", "identifiant"),
        ("actions.xlsx", 6): ("conflicting_duplicate", "identifiant"),
        ("actions.xlsx", 9): ("unknown_building", "batiments"),
        ("actions.xlsx", 10): ("due_before_committee", "echeance"),
        ("actions.xlsx", 11): ("no_target", None),
        ("actions.xlsx", 12): ("unparseable_date", "date_comite"),
        ("actions.xlsx", 13): ("unknown_partner", "partenaire_pilote"),
        ("actions.xlsx", 14): ("unknown_zone", "zone"),
        ("actions.xlsx", 15): ("missing_id", "identifiant"),
        ("complement.csv", 3): ("malformed_row", None),
        ("complement.csv", 4): ("unclosed_quote", None),
    }
    got = {
        (r.source_file, int(r.source_line)): (r.reason, None if pd.isna(r.column) else r.column)
        for r in rejected.itertuples()
    }
    assert got == expected
    assert (rejected["scope"] == "ligne").all()
    # Each reason is French and says what is wrong with the value it quotes.
    reason = dict(zip(rejected["reason"], rejected["reason_fr"], strict=True))
    assert "« terminé à moitié »" in reason["unknown_status"]
    assert "way/1" in reason["unknown_building"]
    assert "OpenStreetMap" in reason["unknown_building"]
    assert "antérieure à la date du comité" in reason["due_before_committee"]
    assert "31/02/2025" in reason["unparseable_date"]
    assert "aucune cible" in reason["no_target"]
    assert "zone Z9" in reason["unknown_zone"]
    assert "guillemet ouvert et jamais fermé" in reason["unclosed_quote"]
    assert "champs au lieu de" in reason["malformed_row"]

    counts = summary["counts"]
    assert counts["rows_in"] == 18  # 14 rows of the workbook, 4 of the CSV
    assert counts["duplicates_merged"] == 1
    assert counts["rejected"] == len(expected)
    assert counts["kept"] == 4
    assert counts["rows_in"] == counts["kept"] + counts["duplicates_merged"] + counts["rejected"]
    assert sorted(actions["action_id"]) == ["A-1", "A-5", "C-1", "C-4"]


def test_french_spellings_and_case_are_read(site: dict[str, Any], tmp_path: Path) -> None:
    ids = site["ids"]
    spellings = [
        ("Réalisée", "réalisée"), ("realisee", "réalisée"), ("RÉALISÉ", "réalisée"),
        ("En Cours", "en cours"), ("en attente", "en attente partenaire"),
        ("Reportées", "reportée"), ("vérifié", "vérifiée"), ("PROPOSÉE", "proposée"),
    ]  # fmt: skip
    rows = [
        _good(
            f"S-{k}",
            ids[k],
            statut=written,
            date_statut="01/08/2025",
            niveau=["Opérationnel", "ORGANISATIONNELLE", "structurel"][k % 3],
            type_comite=["CT", "Copil", "comite de pilotage"][k % 3],
            partenaire_pilote=["etat", "Association de locataires", "VILLE"][k % 3],
            responsabilite=["Partagé", "autre acteur", "Bailleur"][k % 3],
            type_action=["Médiation", "tranquillite", "interpellation"][k % 3],
            categories=["Ascenseur en panne", "ascenseur;nuisibles", ""][k % 3],
        )
        for k, (written, _) in enumerate(spellings)
    ]
    _write_xlsx(tmp_path / "register" / "actions.xlsx", rows)
    actions, rejected, _ = _run(site, tmp_path)
    assert rejected.empty, rejected["reason_fr"].tolist()
    by_id = actions.set_index("action_id")
    for k, (_, canonical) in enumerate(spellings):
        a = by_id.loc[f"S-{k}"]
        assert a["status"] == canonical
        assert a["level"] == ["opérationnelle", "organisationnelle", "structurelle"][k % 3]
        assert a["committee_kind"] == [
            "comité technique", "comité de pilotage", "comité de pilotage"
        ][k % 3]  # fmt: skip
        assert a["lead_partner"] == ["État", "association de locataires", "ville"][k % 3]
        assert a["responsibility"] == ["partagée", "autre acteur", "bailleur"][k % 3]
        assert a["action_type"] == [
            "médiation", "tranquillité", "interpellation d'un partenaire"
        ][k % 3]  # fmt: skip
        assert list(a["categories"]) == [["ascenseur"], ["ascenseur", "nuisibles"], []][k % 3]
        assert set(actions["status"]) <= set(STATUSES)


# --------------------------------------------------------------------------- round trip
def _set_status(path: Path, action_id: str, status: str, date: str) -> None:
    """Change a status in the workbook, as an analyst does in Excel."""
    book = openpyxl.load_workbook(path)
    sheet = book.active
    assert sheet is not None
    headers = [c.value for c in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        if row[headers.index("identifiant")].value == action_id:
            row[headers.index("statut")].value = status
            row[headers.index("date_statut")].value = date
    book.save(path)


def _remove_row(path: Path, action_id: str) -> None:
    book = openpyxl.load_workbook(path)
    sheet = book.active
    assert sheet is not None
    for k, row in enumerate(sheet.iter_rows(min_row=2), start=2):
        if row[0].value == action_id:
            sheet.delete_rows(k)
            break
    book.save(path)


def test_a_register_file_that_cannot_be_read_removes_none_of_its_actions(
    site: dict[str, Any], tmp_path: Path
) -> None:
    # The analyst renames the « statut » header: the file is set aside whole. Its actions
    # were all flagged « retirée », and a « retrait » written for each in the history,
    # which is never rewritten, though the file said nothing about them.
    ids = site["ids"]
    register = _write_xlsx(
        tmp_path / "register" / "actions.xlsx", [_good("F-1", ids[0]), _good("F-2", ids[1])]
    )
    _run(site, tmp_path, now=T1)
    book = openpyxl.load_workbook(register)
    sheet = book.active
    assert sheet is not None
    sheet.cell(row=1, column=list(HEADERS).index("statut") + 1).value = "état d'avancement"
    book.save(register)
    actions, rejected, second = _run(site, tmp_path, now=T1 + pd.Timedelta(days=7))
    assert rejected["scope"].tolist() == ["fichier"]
    assert second["files_failed"] == ["actions.xlsx"]
    assert not actions["is_removed"].astype(bool).any()
    assert second["n_removed"] == 0
    history = read_history(tmp_path / "archive" / "actions_history.csv")
    assert "retrait" not in set(history["event"])
    assert any("n'a pu être lu" in m for m in second["messages"]["history"])


def test_a_workbook_whose_register_is_not_its_first_sheet_is_read(
    site: dict[str, Any], tmp_path: Path
) -> None:
    # The template's « mode d'emploi » moved before « actions », or a hidden sheet of
    # lists first: the first sheet was read, and the whole file set aside.
    ids = site["ids"]
    register = _write_xlsx(
        tmp_path / "register" / "actions.xlsx", [_good("S-1", ids[0]), _good("S-2", ids[1])]
    )
    book = openpyxl.load_workbook(register)
    lists = book.create_sheet("listes", 0)
    lists.append(["statut", "niveau"])
    lists.append(["décidée", "opérationnelle"])
    lists.sheet_state = "hidden"
    book.save(register)
    actions, rejected, _ = _run(site, tmp_path)
    assert rejected.empty, rejected.to_dict("records")
    assert sorted(actions["action_id"]) == ["S-1", "S-2"]
    # No sheet with the register's columns: one problem that names the sheets.
    del book["Sheet"]
    lists.sheet_state = "visible"
    book.create_sheet("notes").append(["remarque", "auteur"])
    again = tmp_path / "again"
    (again / "register").mkdir(parents=True)
    book.save(again / "register" / "actions.xlsx")
    _, rejected, _ = _run(site, again)
    (reason,) = rejected["reason_fr"]
    assert "feuille « listes »" in reason
    assert "« notes »" in reason


def test_round_trip_through_the_spreadsheet(site: dict[str, Any], tmp_path: Path) -> None:
    ids = site["ids"]
    register = _write_xlsx(
        tmp_path / "register" / "actions.xlsx",
        [
            _good("R-1", ids[0], statut="en cours", date_statut="01/04/2025",
                  probleme="Fuite signalée par Mme Diallo, 06 12 34 56 78"),
            _good("R-2", ids[1]),
            _good("R-3", ids[2], statut="réalisée", date_statut="10/05/2025"),
            {**_good("R-4", ""), "zone": "Z0"},  # an older zone id: followed to Z2
        ],
    )  # fmt: skip
    actions, _, first = _run(site, tmp_path, now=T1)
    history_file = tmp_path / "archive" / "actions_history.csv"
    after_first = history_file.read_bytes()
    assert first["counts"]["history_rows_added"] == 4
    r4 = actions.set_index("action_id").loc["R-4"]
    assert r4["zone_note"] == "zone Z0 devenue Z2"
    assert set(r4["building_ids"]) == set(ids[20:24])
    # Personal data never reaches the outputs nor the history.
    for text in (actions["problem"].dropna(), read_history(history_file)["new_value"]):
        assert "06 12 34 56 78" not in " ".join(text)
        assert "Diallo" not in " ".join(text)

    # The analyst moves R-1 forward, writes an old status on R-3 (an old copy), and
    # removes R-2 from the file.
    _set_status(register, "R-1", "Réalisée", "20/06/2025")
    _set_status(register, "R-3", "en cours", "01/04/2025")
    _remove_row(register, "R-2")
    t2 = T1 + pd.Timedelta(days=7)
    actions, rejected, second = _run(site, tmp_path, now=t2)
    by_id = actions.set_index("action_id")
    assert by_id.loc["R-1", "status"] == "réalisée"
    assert pd.Timestamp(by_id.loc["R-1", "completed_date"]) == pd.Timestamp("2025-06-20")
    # The step back is not applied, it is listed, and the history keeps it.
    assert by_id.loc["R-3", "status"] == "réalisée"
    assert bool(by_id.loc["R-3", "status_held"])
    back = rejected[rejected["reason"] == "status_backwards"]
    assert back["action_id"].tolist() == ["R-3"]
    assert back["scope"].tolist() == ["valeur"]
    assert back["column"].tolist() == ["statut"]
    assert second["counts"]["values_refused"] == 1
    assert second["counts"]["rejected"] == 0  # the row itself is kept
    # The removed action is kept, flagged.
    assert bool(by_id.loc["R-2", "is_removed"])
    assert by_id.loc["R-2", "status"] == "décidée"
    assert second["n_removed"] == 1
    assert second["n_actions"] == 3

    # The history: only appended to, both states of R-1, the refusal, the removal.
    history_bytes = history_file.read_bytes()
    assert history_bytes.startswith(after_first)
    history = read_history(history_file)
    assert list(history.columns) == list(HISTORY_COLUMNS)
    r1 = history[(history["action_id"] == "R-1") & (history["field"] == "statut")]
    assert r1[["event", "old_value", "new_value"]].values.tolist() == [
        ["création", "", "en cours"],
        ["statut", "en cours", "réalisée"],
    ]
    r3 = history[history["action_id"] == "R-3"]
    refused = r3[r3["event"] == "retour en arrière refusé"]
    assert refused[["old_value", "new_value", "applied"]].values.tolist() == [
        ["réalisée", "en cours", "False"]
    ]
    assert history[history["action_id"] == "R-2"]["event"].tolist() == ["création", "retrait"]
    assert (history["file_sha256"].str.len() == 64).sum() >= 5  # each change names its file

    # The same files again: nothing new in the history, same state.
    again, _, third = _run(site, tmp_path, now=t2 + pd.Timedelta(hours=1))
    assert third["counts"]["history_rows_added"] == 0
    assert history_file.read_bytes() == history_bytes
    assert again.set_index("action_id").loc["R-3", "status"] == "réalisée"

    # A reopening dated after the status reached is applied, and flagged.
    _set_status(register, "R-3", "en cours", "25/08/2025")
    reopened, rejected, fourth = _run(site, tmp_path, now=t2 + pd.Timedelta(days=1))
    r3 = reopened.set_index("action_id").loc["R-3"]
    assert r3["status"] == "en cours"
    assert bool(r3["is_reopened"])
    assert pd.isna(r3["completed_date"])  # the completion it had given no longer holds
    assert "status_backwards" not in set(rejected["reason"])
    assert any("réouverture" in m for m in fourth["messages"]["history"])
    history = read_history(history_file)
    last = history[(history["action_id"] == "R-3") & (history["field"] == "statut")].iloc[-1]
    assert (last["event"], last["old_value"], last["new_value"], last["applied"]) == (
        "réouverture",
        "réalisée",
        "en cours",
        "True",
    )


# --------------------------------------------------------------------------- drafts
def test_notes_tagged_action_become_drafts_that_never_override_the_register(
    site: dict[str, Any], isolated: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    processed = site["processed"]
    notes_dir = tmp_path / "annotations" / "bondy"
    notes_dir.mkdir(parents=True)
    a, b, c = (isolated.iloc[k] for k in range(3))

    def note(note_id: str, tag: str, building: pd.Series) -> dict[str, Any]:
        p = building.geometry.representative_point()
        return {
            "type": "Feature",
            "properties": {"note_id": note_id, "site": "bondy", "text": "Fermer l'accès cave",
                           "tag": tag, "status": "ouvert", "created_at": "2025-07-03T09:15:00Z",
                           "building_id": building["building_id"]},
            "geometry": {"type": "Point", "coordinates": [p.x, p.y]},
        }  # fmt: skip

    features = [note("n-1", "action", a), note("n-2", "à surveiller", b), note("n-3", "Action", c)]
    (notes_dir / "export.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8"
    )
    config = _config(tmp_path)
    out = tmp_path / "notes_out"
    out.mkdir()
    run_annotations(
        config, "bondy", buildings_path=processed / "buildings.parquet",
        zones_path=processed / "zones.parquet", previous_notes_path=None, out_dir=out,
        folder=notes_dir, archive_path=tmp_path / "notes_archive.parquet", now=T1,
    )  # fmt: skip
    # The analyst took n-3's draft into the register, under its id, and decided it.
    taken = draft_id("n-3")
    _write_xlsx(tmp_path / "register" / "actions.xlsx", [_good(taken, c["building_id"])])
    actions, _, summary = _run(
        site, tmp_path, config=config, annotations=out / "annotations.parquet"
    )
    drafts = actions[actions["origin"] == "note de la carte"]
    assert drafts["action_id"].tolist() == [draft_id("n-1")]
    assert drafts["status"].tolist() == ["proposée"]
    assert list(drafts["building_ids"].iloc[0]) == [a["building_id"]]
    assert draft_id("n-1") == draft_id("n-1") != draft_id("n-2")  # stable, per note
    row = actions.set_index("action_id").loc[taken]
    assert row["origin"] == "registre"
    assert row["status"] == "décidée"
    assert summary["counts"]["drafts"] == 1
    assert summary["counts"]["drafts_superseded"] == 1
    assert summary["n_drafts"] == 1


# --------------------------------------------------------------------------- template
def test_the_template_is_written_once_and_reads_as_an_empty_register(tmp_path: Path) -> None:
    folder = tmp_path / "actions" / "bondy"
    partners = ActionSettings.from_dict({}).partners
    first = write_template(folder, partners=partners)
    assert [(p.name, written) for p, written in first] == [(n, True) for n in TEMPLATE_FILES]
    before = {n: (folder / n).read_bytes() for n in TEMPLATE_FILES}
    (folder / "actions.csv").write_bytes(
        before["actions.csv"] + b"A-1;;;way/1;;;;;;;;;;;proposee;;;\r\n"
    )
    second = write_template(folder, partners=partners)
    assert [written for _, written in second] == [False, False]
    assert (folder / "actions.xlsx").read_bytes() == before["actions.xlsx"]
    assert (folder / "actions.csv").read_bytes().startswith(before["actions.csv"])
    assert before["actions.csv"].startswith(b"\xef\xbb\xbf" + ";".join(HEADERS).encode())
    # The workbook's guide lists the allowed values; the CSV's example row is a comment.
    book = openpyxl.load_workbook(folder / "actions.xlsx")
    assert book.sheetnames == ["actions", "mode d'emploi"]
    assert [c.value for c in book["actions"][1]] == list(HEADERS)
    guide = {r[0]: r for r in book["mode d'emploi"].iter_rows(min_row=2, values_only=True)}
    assert "en attente partenaire" in guide["statut"][3]
    assert "association de locataires" in guide["partenaire_pilote"][3]
    (folder / "actions.csv").write_bytes(before["actions.csv"])
    read = read_register(folder)
    assert read.rows_in == 0
    assert read.comment_rows == 1
    assert read.problems == []


# --------------------------------------------------------------------------- configuration
@pytest.mark.parametrize(
    ("partners", "key", "words"),
    [
        (["ville", "Ville"], "params.actions.partners[1]", "déjà dans la liste"),
        ([], "params.actions.partners", "liste non vide"),
        (["ville", 3], "params.actions.partners[1]", "organisation"),
    ],
)
def test_partners_are_checked_with_a_french_error_naming_the_key(
    tmp_path: Path, partners: list[Any], key: str, words: str
) -> None:
    demo = Path("config/demo.toml").read_text(encoding="utf-8")
    paris = demo[demo.index('[[sites]]\nid = "paris10"') :]
    toml = json.dumps(partners, ensure_ascii=False)
    cfg = tmp_path / "essai.toml"
    cfg.write_text(
        f'[project]\nprocessed_dir = "{tmp_path}/p"\nmaps_dir = "{tmp_path}/m"\n'
        f'annotations_dir = "{tmp_path}/a"\nactions_dir = "{tmp_path}/r"\n\n'
        + paris
        + f"\n[sites.params.actions]\npartners = {toml}\n",
        encoding="utf-8",
    )

    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    assert f"sites[0].{key}" in str(err.value)
    assert words in str(err.value)


def test_a_site_s_partners_are_accepted_and_others_refused(
    site: dict[str, Any], tmp_path: Path
) -> None:
    config = _config(tmp_path, partners=["bailleur", "centre social"])
    ids = site["ids"]
    _write_xlsx(
        tmp_path / "register" / "actions.xlsx",
        [
            _good("P-1", ids[0], partenaire_pilote="Centre Social"),
            _good("P-2", ids[1], partenaire_pilote="ville"),
        ],
    )
    actions, rejected, _ = _run(site, tmp_path, config=config)
    assert actions["lead_partner"].tolist() == ["centre social"]
    assert rejected["reason"].tolist() == ["unknown_partner"]
    assert "centre social" in rejected["reason_fr"].iloc[0]


# --------------------------------------------------------------------------- the make graph
def test_a_register_change_re_runs_the_actions_stage_and_its_readers_only() -> None:
    """From the stage table make's rules are generated from: the stages that depend,
    through the files they read, on the register (the ``actions`` setting)."""
    g = nx.DiGraph()
    writer = {w: s.name for s in stages.STAGES for w in s.writes}
    for s in stages.STAGES:
        for r in s.reads:
            g.add_edge(writer[r], s.name)
        for k in s.settings:
            g.add_edge(f"setting:{k}", s.name)
    reached = nx.descendants(g, "setting:actions")
    assert "actions" in reached
    assert {"publish", "summary", "map", "charts"} <= reached
    assert not reached & {"buildings", "basemap", "ingest", "geocode", "hotspots", "zones",
                          "trends", "annotations"}  # fmt: skip
    assert stages.stage("actions").settings == ("actions",)


def test_published_table_under_each_profile(site: dict[str, Any], tmp_path: Path) -> None:
    """The published table keeps every action; comite hides the counts and effect of a
    target with fewer households than its threshold (person-related categories), public
    publishes no free text and no target count."""
    from pipelines.config.publication import DEFAULT_RULES
    from pipelines.publish.actions import actions_table, protect_actions

    ids = site["ids"]
    _write_xlsx(
        tmp_path / "register" / "actions.xlsx",
        [
            _good("E-1", ids[0], categories="nuisibles", probleme="Cafards, voir M. Martin"),
            _good("E-2", ids[1], categories="ascenseur"),
            _good("E-3", ids[2], categories=""),
        ],
    )
    actions, _, _ = _run(site, tmp_path)
    # The effect's counts, as the effect estimate gives them (the households per window).
    actions = actions.assign(
        n_before=[12, 40, 2], n_after=[3, 30, 1], n_households_before=[5, 20, 2],
        n_households_after=[2, 15, 1],
        effect_fr=["baisse de 75 %", "baisse de 25 %", "trop peu de signalements"],
    )  # fmt: skip
    table = actions_table(actions)
    assert table["action_id"].tolist() == ["E-1", "E-2", "E-3"]
    assert table["problem"].iloc[0] == scrub_series(pd.Series(["Cafards, voir M. Martin"]))[0][0]
    assert table["committee_date"].tolist() == ["2025-03-12"] * 3
    person = frozenset({"nuisibles", "occupation", "autre"})
    comite, audit = protect_actions(table, actions, rule=DEFAULT_RULES["comite"],
                                    person_related=person)  # fmt: skip
    # E-1: person-related, 2 households after < 3: hidden; E-2: technical: shown;
    # E-3: every category (person-related among them), 1 household: hidden.
    assert comite["n_reports_before_flag"].tolist() == ["s", "", "s"]
    assert comite["n_reports_before"].isna().tolist() == [True, False, True]
    assert comite["effect_flag"].tolist() == ["s", "", "s"]
    assert comite["verdict"].isna().tolist() == [True, False, True]
    assert "secret statistique" in comite["effect_fr"].iloc[0]
    assert comite["effect_fr"].iloc[1] == "baisse de 25 %"
    assert audit["effects_hidden"] == 2
    # E-2 again, now about a person-related category with enough households: shown,
    # unless its windows cover a cell the monthly table hides (its total less the
    # published cells would give that cell back).
    windows = actions.assign(
        categories=[("nuisibles",)] * 3,
        before_start=pd.Timestamp("2024-07-15"),
        after_end=pd.Timestamp("2025-07-14"),
    )
    person_table = actions_table(windows)
    monthly = pd.DataFrame(
        {
            "building_id": [ids[1], ids[1], ids[5]],
            "month": ["2025-02", "2023-01", "2025-02"],
            "category": ["ascenseur", "nuisibles", "nuisibles"],
            "n_reports_flag": ["s", "s", "s"],
        }
    )
    shown, audit = protect_actions(person_table, windows, rule=DEFAULT_RULES["comite"],
                                   person_related=person, monthly=monthly)  # fmt: skip
    assert shown["effect_flag"].tolist()[1] == ""
    assert audit["effects_hidden_covering_a_hidden_cell"] == 0
    monthly.loc[0, "category"] = "nuisibles"  # a hidden nuisibles cell of E-2's building
    covered, audit = protect_actions(person_table, windows, rule=DEFAULT_RULES["comite"],
                                     person_related=person, monthly=monthly)  # fmt: skip
    assert covered["effect_flag"].tolist()[1] == "s"
    assert "cases masquées" in covered["effect_fr"].iloc[1]
    assert pd.isna(covered["n_reports_after"].iloc[1])
    assert audit["effects_hidden_covering_a_hidden_cell"] == 1
    public, audit = protect_actions(table, actions, rule=DEFAULT_RULES["public"],
                                    person_related=person)  # fmt: skip
    assert public[["problem", "decision", "funding", "effect_fr"]].isna().all().all()
    assert public["n_reports_before"].isna().all()
    assert public["n_reports_after"].isna().all()
    assert (public["n_reports_after_flag"] == "s").all()
    assert audit["free_text"] == "non publié"
    assert len(public) == len(comite) == 3


def test_a_drawn_area_nested_too_deep_is_its_row_s_problem_not_a_crash(
    site: dict[str, Any], tmp_path: Path
) -> None:
    # A cell of the « zone_dessinee » column holding arrays nested 5,000 deep (10 kB):
    # json.loads raised RecursionError, which stopped the stage with a traceback.
    ids = site["ids"]
    deep = '{"type": "Point", "coordinates": ' + "[" * 5000 + "]" * 5000 + "}"
    rows = [_good("A-1", ids[0]), {**_good("A-2", ""), "zone_dessinee": deep}]
    _write_xlsx(tmp_path / "register" / "actions.xlsx", rows)
    actions, rejected, summary = _run(site, tmp_path)
    assert sorted(actions["action_id"]) == ["A-1"]
    bad = rejected[rejected["action_id"] == "A-2"]
    assert bad["reason"].tolist() == ["bad_geometry"]
    assert bad["column"].tolist() == ["zone_dessinee"]
    assert bad["source_line"].tolist() == ["3"]  # the workbook's row (header: 1)
    assert "zone dessinée illisible" in bad["reason_fr"].iloc[0]
    counts = summary["counts"]
    assert counts["rows_in"] == counts["kept"] + counts["rejected"] == 2


def test_values_pasted_with_invisible_characters_read_as_written(
    site: dict[str, Any], tmp_path: Path
) -> None:
    # Pasted from a web page, Word or a PDF: a zero-width space, a byte-order mark, a
    # soft hyphen, a direction mark. The rejection read « statut « décidée » inconnu »,
    # for a value that looks exactly like a known one.
    ids = site["ids"]
    rows = [
        _good(
            "Z-1", ids[0], statut="décidée\u200b", niveau="\ufeffopérationnelle",
            type_action="tra\u00advaux", partenaire_pilote="bailleur\u200e",
            responsabilite="\u2066bailleur\u2069",
        ),
    ]  # fmt: skip
    _write_xlsx(tmp_path / "register" / "actions.xlsx", rows)
    actions, rejected, _ = _run(site, tmp_path)
    assert rejected.empty, rejected.to_dict("records")
    row = actions.set_index("action_id").loc["Z-1"]
    assert row["status"] == "décidée"
    assert row["level"] == "opérationnelle"
    assert row["action_type"] == "travaux"
    assert row["lead_partner"] == "bailleur"
    assert row["responsibility"] == "bailleur"


def test_control_characters_leave_the_register_s_cells(
    site: dict[str, Any], tmp_path: Path
) -> None:
    # A NUL byte or an escape in a CSV register's text was kept as it was, into the
    # published table, the map and the committee pack.
    ids = site["ids"]
    row = _good(
        "C-1", ids[0], probleme="Panne\x00 répétée", decision="Réparer\x1b[0m vite",
        statut="décidée\x00",
    )  # fmt: skip
    _write_csv(tmp_path / "register" / "actions.csv", [";".join(row.get(h) or "" for h in HEADERS)])
    actions, rejected, _ = _run(site, tmp_path)
    assert rejected.empty, rejected.to_dict("records")
    kept = actions.set_index("action_id").loc["C-1"]
    assert kept["problem"] == "Panne répétée"
    assert kept["decision"] == "Réparer[0m vite"
    assert kept["status"] == "décidée"


def test_a_drawn_area_with_a_spike_is_repaired_into_a_polygon(
    site: dict[str, Any], tmp_path: Path
) -> None:
    # A ring drawn out and back along one edge (a spike) is invalid; make_valid made it a
    # polygon plus a line, a GeometryCollection that chose the zone's buildings by
    # « intersects » and went into the GeoPackage's polygon layer as a collection.
    b = site["buildings"].to_crs("EPSG:4326")
    x, y = b.geometry.iloc[0].representative_point().coords[0]
    d = 0.0001
    ring = [(x - d, y - d), (x + d, y - d), (x + d, y + d), (x + 3 * d, y + 3 * d),
            (x + d, y + d), (x - d, y + d), (x - d, y - d)]  # fmt: skip
    spike = shapely.Polygon(ring)
    assert not spike.is_valid
    _write_xlsx(tmp_path / "register" / "actions.xlsx", [_good("A-1", "", zone_dessinee=spike.wkt)])
    actions, rejected, _ = _run(site, tmp_path)
    assert rejected.empty, rejected.to_dict("records")
    (geometry,) = actions.geometry
    assert geometry.geom_type in ("Polygon", "MultiPolygon")
    (drawn,) = actions["target_geometry"]
    assert shapely.from_wkt(drawn).geom_type == "Polygon"
    assert site["ids"][0] in list(actions["building_ids"].iloc[0])


def test_a_drawn_line_or_a_surface_with_a_marker_gives_a_polygonal_action(
    site: dict[str, Any], tmp_path: Path
) -> None:
    # A line drawn across a building, added to the footprints, and a FeatureCollection of
    # a surface and a marker, made the action's geometry a GeometryCollection.
    b = site["buildings"].to_crs("EPSG:4326")
    foot = b.geometry.iloc[0]
    west, south, east, north = foot.bounds
    mid = (south + north) / 2
    line = shapely.LineString([(west - 0.0001, mid), (east + 0.0001, mid)])
    x, y = foot.representative_point().coords[0]
    d = 0.0001
    square = shapely.box(x - d, y - d, x + d, y + d)
    collection = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(square)},
            {"type": "Feature", "properties": {}, "geometry": {"type": "Point",
             "coordinates": [x + 5 * d, y]}},
        ],
    }  # fmt: skip
    rows = [
        _good("L-1", site["ids"][1], zone_dessinee=line.wkt),
        _good("L-2", "", zone_dessinee=json.dumps(collection)),
    ]
    _write_xlsx(tmp_path / "register" / "actions.xlsx", rows)
    actions, rejected, _ = _run(site, tmp_path)
    assert rejected.empty, rejected.to_dict("records")
    by_id = actions.set_index("action_id")
    assert set(by_id.geometry.geom_type) <= {"Polygon", "MultiPolygon"}
    assert site["ids"][0] in list(by_id.loc["L-1", "building_ids"])
    assert shapely.from_wkt(by_id.loc["L-2", "target_geometry"]).geom_type == "Polygon"


def test_a_drawn_area_with_heights_is_kept_in_two_dimensions(
    site: dict[str, Any], tmp_path: Path
) -> None:
    b = site["buildings"].to_crs("EPSG:4326")
    x, y = b.geometry.iloc[0].representative_point().coords[0]
    d = 0.0001
    square = shapely.force_3d(shapely.box(x - d, y - d, x + d, y + d), 35.0)
    row = _good("H-1", "", zone_dessinee=square.wkt)
    _write_xlsx(tmp_path / "register" / "actions.xlsx", [row])
    actions, rejected, _ = _run(site, tmp_path)
    assert rejected.empty, rejected.to_dict("records")
    assert not actions.geometry.has_z.any()
    assert not shapely.from_wkt(actions["target_geometry"].iloc[0]).has_z


def test_a_drawn_area_far_from_the_site_is_its_row_s_problem(
    site: dict[str, Any], tmp_path: Path
) -> None:
    # WKT wants « longitude latitude »: an area typed « latitude longitude » (48.9 2.48)
    # lies in degrees, off the Somali coast, and was kept as an action on no building,
    # that no map showed. An area on the site without a building (a square) is kept.
    ids = site["ids"]
    b = gpd.read_parquet(site["processed"] / "buildings.parquet").to_crs("EPSG:4326")
    west, south, east, north = b.total_bounds
    swapped = (
        f"POLYGON(({south} {west}, {north} {west}, {north} {east}, {south} {east}, {south} {west}))"
    )
    lon, lat = west + (east - west) / 2, south + (north - south) / 2
    d = 0.00005  # a few metres across, in the middle of the site
    small = shapely.box(lon - d, lat - d, lon + d, lat + d).wkt
    rows = [
        _good("A-1", ids[0]),
        {**_good("A-2", ""), "zone_dessinee": swapped},
        {**_good("A-3", ""), "zone_dessinee": small},
    ]
    _write_xlsx(tmp_path / "register" / "actions.xlsx", rows)
    actions, rejected, summary = _run(site, tmp_path)
    assert sorted(actions["action_id"]) == ["A-1", "A-3"]
    bad = rejected[rejected["action_id"] == "A-2"]
    assert bad["reason"].tolist() == ["drawn_outside_site"]
    assert bad["column"].tolist() == ["zone_dessinee"]
    assert "longitude" in bad["reason_fr"].iloc[0]
    counts = summary["counts"]
    assert counts["rows_in"] == counts["kept"] + counts["rejected"] == 3


def test_a_row_with_several_problems_lists_every_one_of_them(
    site: dict[str, Any], tmp_path: Path
) -> None:
    # An unknown status, an impossible date and a building absent from OpenStreetMap in
    # one row: the rejection named the status and the date, not the building (targets
    # were only resolved for rows that passed), so the analyst fixed two problems, re-ran,
    # and only then discovered the third.
    ids = site["ids"]
    rows = [
        _good("A-1", ids[0]),
        _good("A-2", "way/1", statut="terminé à moitié", date_comite="31/02/2025"),
        {**_good("A-3", ""), "zone": "Z9", "niveau": "stratégique"},
    ]
    _write_xlsx(tmp_path / "register" / "actions.xlsx", rows)
    actions, rejected, summary = _run(site, tmp_path)
    assert sorted(actions["action_id"]) == ["A-1"]
    a2 = rejected[rejected["action_id"] == "A-2"]
    assert a2["reason"].tolist() == ["unknown_status", "unparseable_date", "unknown_building"]
    assert a2["column"].tolist() == ["statut", "date_comite", "batiments"]
    assert (a2["source_line"] == "3").all()
    assert "« terminé à moitié »" in a2["reason_fr"].iloc[0]
    assert "31/02/2025" in a2["reason_fr"].iloc[1]
    assert "way/1" in a2["reason_fr"].iloc[2]
    a3 = rejected[rejected["action_id"] == "A-3"]
    assert a3["reason"].tolist() == ["unknown_level", "unknown_zone"]
    assert a3["column"].tolist() == ["niveau", "zone"]
    counts = summary["counts"]
    assert counts["rejected"] == 2  # rows, not problems
    assert counts["rows_in"] == counts["kept"] + counts["rejected"] == 3
    assert summary["problems_by_reason"]["unknown_building"] == 1


def test_a_register_s_reading_notes_are_told(site: dict[str, Any], tmp_path: Path) -> None:
    # A register saved by a DOS tool (cp850) was read as cp1252: its rows were refused
    # « statut « d‚cid‚e » inconnu(e) », the encoding never named; a status merged over
    # two rows of a workbook left the second empty, without the word the reports' files
    # get (the ingestion's reading notes, pipelines.ingest.filenotes).
    ids = site["ids"]
    lines = [";".join(_good(f"E-{k}", ids[0]).get(h) or "" for h in HEADERS) for k in (1, 2)]
    folder = tmp_path / "register"
    folder.mkdir()
    (folder / "dos.csv").write_bytes("\r\n".join([";".join(HEADERS), *lines]).encode("cp850"))
    book = _write_xlsx(folder / "fusion.xlsx", [_good("F-1", ids[0]), _good("F-2", ids[1])])
    workbook = openpyxl.load_workbook(book)
    column = list(HEADERS).index("statut") + 1
    workbook.active.merge_cells(start_row=2, start_column=column, end_row=3, end_column=column)
    workbook.save(book)
    # Since: the register, which has no encoding key, is read again in the encoding its
    # words give, and says so; its rows are then read as written.
    read = read_register(folder)
    notes = {(n["file"], n["reason"]): n for n in read.file_notes}
    assert set(notes) == {("dos.csv", "detected_encoding"), ("fusion.xlsx", "merged_cells")}
    dos = notes["dos.csv", "detected_encoding"]
    assert dos["reason_fr"].startswith("fichier lu en cp850")
    assert "« comit‚ » y est « comité »" in dos["reason_fr"]
    statuses = set(read.rows.loc[read.rows["source_file"] == "dos.csv", "status"])
    assert statuses == {_good("E-1", ids[0])["statut"]}
    _, _, summary = _run(site, tmp_path)
    assert [n["reason"] for n in summary["file_notes"]] == ["detected_encoding", "merged_cells"]
